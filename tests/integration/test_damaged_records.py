"""A record whose stored events were deleted or altered behind the ledger's back answers a clear 409, never a 500.

Tried as an attacker with access to the store's files would: rows deleted or overwritten with raw
SQL, on a SQLite file and on PostgreSQL. Each damage is read through a freshly started API (as
after a restart: nothing of the record is cached in memory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import DamagedRecord
from projections.history import HistoryProjection, open_history_view
from projections.runner import Runner
from tests.builders import COORDINATOR, make_pair, visit_at
from tests.conftest import Clock
from tests.faults import corrupt_event, delete_event, retopic_event
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"
FEEDBACK = {"rating": 4, "comment": "王奶奶说很好"}


@pytest.fixture
def reopen(store_url: str, clock: Clock) -> Iterator[Callable[[str], AbstractContextManager[Harness]]]:
    """The API started afresh on the test's store (keys named apart from the first one's)."""

    def opened(prefix: str) -> AbstractContextManager[Harness]:
        return harness(store_url, clock=clock, keys_named=prefix)

    yield opened


@pytest.fixture
def visit(store_url: str, clock: Clock) -> dict[str, str]:
    """A visit at version 3 (recorded, confirmed, rated), with its volunteer, elder and pairing."""
    with harness(store_url, clock=clock, keys_named="first-") as api:
        volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
        visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
        api.staff.post(f"/v1/visits/{visit_id}/feedback", FEEDBACK, "coordinator")
        key = api.volunteer_key(volunteer_id)
    return {"visit": visit_id, "volunteer": volunteer_id, "elder": elder_id, "pairing": pairing_id, "key": key}


def get(api: Harness, path: str, who: str = "coordinator") -> Any:
    return api.client.get(path, headers=api.staff.auth(who))


def post(api: Harness, path: str, body: dict[str, Any], who: str = "coordinator") -> Any:
    return api.client.post(path, json=body, headers=api.staff.auth(who))


def damaged(response: Any, record: str) -> dict[str, Any]:
    """The answer is the damaged-record problem naming ``record``."""
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/damaged-record") and body["rule"] == "record.damaged"
    assert body["id"] == record and record in body["detail"]
    assert "Retry-After" not in response.headers  # waiting does not heal it
    return body


def test_a_visit_missing_its_middle_event_is_answered_as_damaged_at_that_version(
    store_url: str, visit: dict[str, str], reopen: Callable[[str], AbstractContextManager[Harness]]
) -> None:
    delete_event(store_url, visit["visit"], 2)
    with reopen("second-") as api:
        read = damaged(get(api, f"/v1/visits/{visit['visit']}"), visit["visit"])
        assert (read["version"], read["damage"]) == (2, "missing")
        assert "version 2 is missing" in read["detail"] and "from version 1 to 3" in read["detail"]
        rated = api.client.post(
            f"/v1/visits/{visit['visit']}/feedback", json=FEEDBACK, headers=api.staff.auth("coordinator")
        )
        assert damaged(rated, visit["visit"])["version"] == 2
        assert get(api, f"/v1/visits/{visit['visit']}").status_code == 409
        assert "王奶奶" not in rated.text


def test_a_stored_state_that_no_longer_decodes_is_answered_as_damaged(
    store_url: str, visit: dict[str, str], reopen: Callable[[str], AbstractContextManager[Harness]]
) -> None:
    corrupt_event(store_url, visit["visit"], 1)  # X'7B00FF'
    with reopen("second-") as api:
        for response in (
            get(api, f"/v1/visits/{visit['visit']}"),
            get(api, f"/v1/visits/{visit['visit']}?reason=audit", "auditor"),
            post(api, f"/v1/visits/{visit['visit']}/feedback", FEEDBACK),
            api.client.post(
                f"/v1/visits/{visit['visit']}/dispute", json={"reason_code": "did_not_happen", "comment": "张三说没来"},
                headers=api.staff.auth("coordinator"),
            ),
        ):  # fmt: skip
            body = damaged(response, visit["visit"])
            assert (body["version"], body["damage"]) == (1, "undecodable")
            assert "张三" not in response.text and "王奶奶" not in response.text
        metrics = get(api, "/metrics", "auditor").text
        assert "tiexin_damaged_record_answers_total 4.0" in metrics


def test_a_record_missing_its_first_event_or_with_an_unknown_topic_is_damaged(
    store_url: str, visit: dict[str, str], reopen: Callable[[str], AbstractContextManager[Harness]]
) -> None:
    delete_event(store_url, visit["visit"], 1)
    retopic_event(store_url, visit["elder"], 1, "tiexin.elder.NoSuchEvent")
    with reopen("second-") as api:
        headless = damaged(get(api, f"/v1/visits/{visit['visit']}"), visit["visit"])
        assert (headless["version"], headless["damage"]) == (1, "missing")
        elder = damaged(get(api, f"/v1/elders/{visit['elder']}"), visit["elder"])
        assert (elder["version"], elder["damage"]) == (1, "undecodable")
        # a command that loads the damaged record answers the same
        relocated = api.client.post(
            f"/v1/elders/{visit['elder']}/relocation", json={"township": "高沟镇", "address": "新地址 8 号"},
            headers=api.staff.auth("coordinator"),
        )  # fmt: skip
        assert damaged(relocated, visit["elder"])["damage"] == "undecodable"
        assert "新地址" not in relocated.text


def test_the_log_shows_a_damaged_event_in_its_place_and_goes_on(
    store_url: str, visit: dict[str, str], reopen: Callable[[str], AbstractContextManager[Harness]]
) -> None:
    corrupt_event(store_url, visit["visit"], 2)
    with reopen("second-") as api:
        page = api.client.get(f"/v1/events?limit=1000&entity={visit['visit']}", headers=api.staff.auth("auditor"))
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert [item["version"] for item in items] == [1, 2, 3]
        assert "cannot be decoded" in items[1]["error"] and items[1]["data"] is None
        assert items[2]["data"] is not None
        history = api.client.get(f"/v1/history/{visit['visit']}", headers=api.staff.auth("coordinator"))
        assert history.status_code == 200  # the history read model took the events when they were sound


def test_no_route_answers_500_over_damaged_records(
    store_url: str, visit: dict[str, str], reopen: Callable[[str], AbstractContextManager[Harness]]
) -> None:
    """Every GET of the contract, with the damaged records' ids in its path, by staff and the volunteer: never a 500."""
    delete_event(store_url, visit["visit"], 2)
    corrupt_event(store_url, visit["elder"], 1)
    corrupt_event(store_url, visit["volunteer"], 1)
    corrupt_event(store_url, visit["pairing"], 1)
    ids = {"year": "2026", "visit_id": visit["visit"], "elder_id": visit["elder"], "volunteer_id": visit["volunteer"],
           "pairing_id": visit["pairing"], "entity_id": visit["visit"], "claim_id": visit["visit"]}  # fmt: skip
    with reopen("second-") as api:
        paths = [path for path, ops in api.client.get("/openapi.json").json()["paths"].items() if "get" in ops]
        answered: dict[int, int] = {}
        for template in paths:
            if template.endswith(("/stream", "/heads")):  # open-ended streams: their own tests
                continue
            path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), visit["visit"]), template)
            for role in ("coordinator", "auditor", "finance", visit["key"]):
                response = api.client.get(path + "?names=true&month=2026-02", headers=api.staff.auth(role))
                assert response.status_code != 500, (path, role, response.text)
                if response.status_code >= 400:
                    assert response.headers["content-type"] == PROBLEM, (path, response.text)
                answered[response.status_code] = answered.get(response.status_code, 0) + 1
        assert answered.get(409), answered  # the damaged records were reached


def test_the_ledger_raises_damaged_record_and_a_read_model_stops_at_the_bad_event(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    ledger = open_store(store_url)
    pair = make_pair(ledger, 1)
    visit_id = visit_at(ledger, pair, FEB)
    corrupt_event(store_url, visit_id, 1)
    fresh = open_store(store_url)
    with pytest.raises(DamagedRecord) as raised:
        fresh.give_feedback(visit_id, rating=5, by=COORDINATOR)
    assert (raised.value.record_id, raised.value.version, raised.value.how) == (visit_id, 1, "undecodable")

    view = open_history_view(store_url, "damaged")
    try:
        runner = Runner(fresh, HistoryProjection(view))
        runner.run_once()
        state = runner.state
        assert state.status == "stopped" and state.failure is not None
        assert (state.failure.originator_id, state.failure.originator_version) == (str(visit_id), 1)
        assert "deserialise" in state.failure.reason
    finally:
        view.close()
