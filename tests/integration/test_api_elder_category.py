"""An elder's category over HTTP, on a SQLite file and on PostgreSQL: given at registration (a retired
cadre unless said), read back, and ``?category=`` on the elders, the roster's lists and the visits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from ledger.common import COUNTY_TZ
from tests.builders import as_json, elder_fields
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)


@dataclass
class Elders:
    api: Harness
    cadre: str
    """A retired cadre (registered without a category), paired and visited."""
    nester: str
    """An empty-nest elder, paired and visited."""
    disabled: str
    """An elder with a disability, unpaired and never visited."""
    visits: dict[str, str]
    """Elder id → its visit."""
    position: int

    def get(self, path: str, who: str = "coordinator", expect: int = 200) -> Any:
        separator = "&" if "?" in path else "?"
        response = self.api.client.get(f"{path}{separator}after={self.position}", headers=self.api.staff.auth(who))
        assert response.status_code == expect, (path, who, response.text)
        return response.json()

    def elder_ids(self, path: str, who: str = "coordinator") -> set[str]:
        return {item["elder_id"] for item in self.get(path, who)["items"]}


def register(api: Harness, n: int, category: str | None) -> str:
    body = as_json(elder_fields(n))
    if category is not None:
        body["category"] = category
    return str(api.staff.post("/v1/elders", body, "coordinator")["id"])


def build(api: Harness) -> Elders:
    staff = api.staff
    cadre, nester = register(api, 901, None), register(api, 902, "empty_nester")
    disabled = register(api, 903, "disabled")
    volunteer = staff.volunteer()
    visits: dict[str, str] = {}
    for n, elder in enumerate((cadre, nester)):
        pairing = staff.pairing(volunteer, elder, date(2026, 1, 1))
        visits[elder] = staff.visit(pairing, volunteer, FEB + timedelta(days=n))
    return Elders(api, cadre, nester, disabled, visits, api.events())


@pytest.fixture(params=["sqlite", "postgres"])
def elders(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Elders]:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with harness(url, clock=clock, projections=True) as api:
        yield build(api)


def test_an_elder_is_read_back_with_the_category_it_was_registered_in(elders: Elders) -> None:
    assert elders.get(f"/v1/elders/{elders.cadre}")["category"] == "retired_cadre"
    assert elders.get(f"/v1/elders/{elders.nester}")["category"] == "empty_nester"
    listed = {item["id"]: item["category"] for item in elders.get("/v1/elders")["items"]}
    assert listed == {elders.cadre: "retired_cadre", elders.nester: "empty_nester", elders.disabled: "disabled"}


def test_an_unknown_category_is_refused_and_writes_nothing(elders: Elders) -> None:
    api, before = elders.api, elders.api.events()
    body = {**as_json(elder_fields(904)), "category": "cadre"}
    response = api.client.post("/v1/elders", json=body, headers=api.staff.auth("coordinator"))
    assert response.status_code == 422 and response.json()["field"] == "category"
    assert api.events() == before


def test_the_elders_are_listed_by_category(elders: Elders) -> None:
    def ids(category: str) -> set[str]:
        return {item["id"] for item in elders.get(f"/v1/elders?category={category}")["items"]}

    assert ids("retired_cadre") == {elders.cadre}
    assert ids("empty_nester") == {elders.nester}
    assert ids("disabled") == {elders.disabled}
    assert ids("other") == set()


def test_the_roster_s_lists_are_filtered_by_category(elders: Elders) -> None:
    assert elders.elder_ids("/v1/roster?category=empty_nester") == {elders.nester}
    assert elders.elder_ids("/v1/roster?category=retired_cadre") == {elders.cadre}
    assert elders.elder_ids("/v1/roster") == {elders.cadre, elders.nester}
    assert elders.elder_ids("/v1/roster/unpaired?category=disabled") == {elders.disabled}
    assert elders.elder_ids("/v1/roster/unpaired?category=empty_nester") == set()
    assert elders.elder_ids("/v1/roster/overdue?days=0&category=disabled") == {elders.disabled}
    assert elders.elder_ids("/v1/roster/overdue?days=3650&category=retired_cadre") == set()
    assert elders.elder_ids("/v1/roster/unpaired?category=disabled&as_of=2026-03-01") == {elders.disabled}


def test_the_visits_are_filtered_by_their_elder_s_category(elders: Elders) -> None:
    def visits(query: str, who: str = "coordinator") -> list[str]:
        return [item["id"] for item in elders.get(f"/v1/visits?{query}", who)["items"]]

    assert visits("category=empty_nester") == [elders.visits[elders.nester]]
    assert visits("category=retired_cadre&status=confirmed") == [elders.visits[elders.cadre]]
    assert visits("category=disabled") == []
    assert len(visits("")) == 2
    assert visits("category=empty_nester", "auditor") == [elders.visits[elders.nester]]


@pytest.mark.parametrize("path", ["/v1/elders", "/v1/roster", "/v1/roster/unpaired", "/v1/visits"])
def test_a_category_that_is_not_one_is_a_bad_query(elders: Elders, path: str) -> None:
    problem = elders.get(f"{path}?category=cadre", expect=422)
    assert "category" in problem["detail"]


def test_a_recategorised_elder_moves_between_the_filtered_lists(elders: Elders) -> None:
    api = elders.api
    body = {"category": "disabled", "reason": "残疾评定"}
    response = api.client.post(
        f"/v1/elders/{elders.nester}/category", json=body, headers=api.staff.auth("coordinator", If_Match='"1"')
    )
    assert response.status_code == 200, response.text
    elders.position = response.json()["position"]
    assert elders.get(f"/v1/elders/{elders.nester}")["category"] == "disabled"
    assert elders.elder_ids("/v1/roster?category=disabled") == {elders.nester}
    assert elders.elder_ids("/v1/roster?category=empty_nester") == set()
    visits = [item["id"] for item in elders.get("/v1/visits?category=disabled")["items"]]
    assert visits == [elders.visits[elders.nester]]
    assert {item["id"] for item in elders.get("/v1/elders?category=disabled")["items"]} == {
        elders.nester,
        elders.disabled,
    }


def test_a_recategorisation_is_refused_for_a_volunteer_for_the_same_category_and_on_a_stale_version(
    elders: Elders,
) -> None:
    api = elders.api
    path = f"/v1/elders/{elders.cadre}/category"
    volunteer = api.volunteer_key(api.staff.volunteer())
    before = api.events()
    body = {"category": "other", "reason": "复核"}
    assert api.client.post(path, json=body, headers=api.staff.auth(volunteer)).status_code == 403
    same = api.client.post(path, json={**body, "category": "retired_cadre"}, headers=api.staff.auth("coordinator"))
    assert same.status_code == 409 and same.json()["rule"] == "elder.same_category"
    stale = api.client.post(path, json=body, headers=api.staff.auth("coordinator", If_Match='"7"'))
    assert stale.status_code == 412
    assert api.events() == before
