"""Counties over HTTP, on a SQLite file and on PostgreSQL: an admin establishes one with its townships,
any key reads them, a code is established once; elders and volunteers then name its townships."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.counties import LIANSHUI, LIANSHUI_TOWNSHIPS
from tests.builders import as_json, elder_fields
from tests.conftest import Clock
from tests.harness import STAFF_ROLES, Harness, harness

HUAIYIN = {"code": "huaiyin", "name": "淮阴区", "townships": ["王营镇", "西宋集镇"]}


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        yield made


def post(api: Harness, body: dict[str, Any], who: str = "admin") -> Any:
    return api.client.post("/v1/counties", json=body, headers=api.staff.auth(who))


def get(api: Harness, path: str, who: str = "coordinator", expect: int = 200) -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, who, response.text)
    return response.json()


def test_an_admin_establishes_a_county_and_every_key_reads_it(api: Harness) -> None:
    before = api.events()
    response = post(api, HUAIYIN)
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id", "version", "position"} and response.json()["version"] == 1
    assert response.headers["Location"] == "/v1/counties/huaiyin"
    assert api.events() == before + 1
    assert get(api, "/v1/counties/huaiyin") == HUAIYIN
    volunteer = api.volunteer_key(api.staff.volunteer())
    for who in (*STAFF_ROLES, volunteer):
        listed = get(api, "/v1/counties", who)
        assert [c["code"] for c in listed["items"]] == ["huaiyin", LIANSHUI], who
    lianshui = get(api, "/v1/counties")["items"][1]
    assert lianshui["townships"] == list(LIANSHUI_TOWNSHIPS) and lianshui["name"] == "涟水县"


def test_a_coordinator_may_not_establish_a_county(api: Harness) -> None:
    before = api.events()
    response = post(api, HUAIYIN, "coordinator")
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    assert api.events() == before
    get(api, "/v1/counties/huaiyin", expect=404)


def test_a_code_established_twice_is_409_and_writes_nothing(api: Harness) -> None:
    assert post(api, HUAIYIN).status_code == 201
    before = api.events()
    again = post(api, {**HUAIYIN, "name": "淮阴区（重复）", "townships": ["渔沟镇"]})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert again.json()["rule"] == "county.exists"
    home = post(api, {"code": LIANSHUI, "name": "涟水县", "townships": ["涟城镇"]})
    assert home.status_code == 409 and home.json()["rule"] == "county.exists"
    assert api.events() == before
    assert get(api, "/v1/counties/huaiyin") == HUAIYIN


@pytest.mark.parametrize(
    "body",
    [
        {**HUAIYIN, "code": "Huai Yin"},
        {**HUAIYIN, "townships": []},
        {**HUAIYIN, "townships": ["王营镇", "王营镇"]},
        {"code": "huaiyin", "name": "淮阴区"},
    ],
)
def test_a_malformed_county_is_refused_and_writes_nothing(api: Harness, body: dict[str, Any]) -> None:
    before = api.events()
    response = post(api, body)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert api.events() == before


def test_an_unknown_county_is_404(api: Harness) -> None:
    assert get(api, "/v1/counties/atlantis", expect=404)["kind"] == "county"


def test_elders_are_registered_in_the_townships_of_a_county_added_over_http(api: Harness) -> None:
    assert post(api, HUAIYIN).status_code == 201
    body = {**as_json(elder_fields(1, "王营镇")), "county": "huaiyin"}
    elder = api.staff.post("/v1/elders", body, "coordinator")["id"]
    assert get(api, f"/v1/elders/{elder}")["county"] == "huaiyin"
    wrong = api.client.post("/v1/elders", json={**body, "township": "高沟镇"}, headers=api.staff.auth("coordinator"))
    assert wrong.status_code == 409 and wrong.json()["rule"] == "county.unknown_township"


def test_the_list_is_paged_by_code(api: Harness) -> None:
    for n in range(3):
        assert post(api, {"code": f"c{n}", "name": f"{n}号县", "townships": ["一镇"]}).status_code == 201
    first = get(api, "/v1/counties?limit=2")
    assert [c["code"] for c in first["items"]] == ["c0", "c1"] and first["projection_state"] == "ledger"
    second = get(api, f"/v1/counties?limit=2&cursor={first['next_cursor']}")
    assert [c["code"] for c in second["items"]] == ["c2", LIANSHUI] and second["next_cursor"] is None
