"""``GET /v1/events``: the log after a position, paged, filtered by type and entity, redacted by role.

On a SQLite file and on PostgreSQL, through the app in-process (the stream is tested over real
HTTP in ``tests/e2e/test_api_stream.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        yield made


@pytest.fixture
def county(api: Harness) -> dict[str, str]:
    """A paired volunteer and elder, and a confirmed visit with readings, written with a correlation id."""
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    api.staff.post(f"/v1/visits/{visit_id}/feedback", {"rating": 5, "comment": "王奶奶说很好"}, "coordinator")
    api.staff.post(
        f"/v1/elders/{elder_id}/relocation",
        {"township": "涟城镇", "address": "涟城镇红日路3号"},
        "coordinator",
        X_Correlation_ID="move-42",
    )
    return {"volunteer": volunteer_id, "elder": elder_id, "pairing": pairing_id, "visit": visit_id}


def events(api: Harness, who: str = "auditor", **params: Any) -> dict[str, Any]:
    response = api.client.get("/v1/events", params=params, headers=api.staff.auth(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def everything(api: Harness, who: str = "auditor", **params: Any) -> list[dict[str, Any]]:
    """Every item, page by page, following ``next``."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = events(api, who, after=after, **params)
        items += page["items"]
        assert page["next"] >= after
        if not page["more"]:
            return items
        after = page["next"]


def test_the_log_is_read_in_order_a_page_at_a_time(api: Harness, county: dict[str, str]) -> None:
    head = api.events()
    whole = events(api, limit=1000)
    positions = [item["position"] for item in whole["items"]]
    assert positions == sorted(positions) and len(positions) == head == whole["head"] == whole["next"]
    assert not whole["more"]

    first = events(api, limit=3)
    assert [i["position"] for i in first["items"]] == positions[:3]
    assert first["next"] == positions[2] and first["more"] and first["head"] == head
    second = events(api, limit=3, after=first["next"])
    assert [i["position"] for i in second["items"]] == positions[3:6]
    assert everything(api, limit=2) == whole["items"]
    assert events(api, after=head) == {"items": [], "next": head, "head": head, "more": False}
    assert events(api)["items"] == whole["items"][:100]


def test_an_item_says_what_who_when_and_which_request(api: Harness, county: dict[str, str]) -> None:
    [recorded] = events(api, "coordinator", type="tiexin.visit.Recorded")["items"]
    assert recorded["entity_id"] == county["visit"] and recorded["version"] == 1
    assert recorded["principal"]["role"] == "volunteer" and recorded["principal"]["id"].startswith("key_")
    assert datetime.fromisoformat(recorded["recorded_at"]) == api.services.settings.clock()
    data = recorded["data"]
    assert data["pairing_id"] == county["pairing"] and data["volunteer_id"] == county["volunteer"]
    assert data["started_at"] == FEB.isoformat() and data["travel_km"] == "4.5"
    assert data["readings"] == {"systolic": "135", "diastolic": "85"} and recorded["redacted"] == []
    assert not {"originator_id", "originator_version", "timestamp", "meta"} & set(data)

    [moved] = events(api, "coordinator", type="tiexin.elder.Relocated")["items"]
    assert moved["correlation_id"] == "move-42" and moved["principal"]["role"] == "coordinator"
    assert moved["data"] == {"township": "涟城镇", "address": "涟城镇红日路3号"}


def test_filters_by_type_several_types_and_entity(api: Harness, county: dict[str, str]) -> None:
    visits = events(api, type="tiexin.visit.Recorded")["items"]
    assert [i["topic"] for i in visits] == ["tiexin.visit.Recorded"]
    both = events(api, type=["tiexin.visit.Recorded", "tiexin.visit.Confirmed"])["items"]
    assert [i["topic"] for i in both] == ["tiexin.visit.Recorded", "tiexin.visit.Confirmed"]
    assert events(api, type="tiexin.visit.Recorded,tiexin.visit.Confirmed")["items"] == both

    trail = everything(api, entity=county["visit"], limit=1)
    assert [(i["version"], i["topic"]) for i in trail] == [
        (1, "tiexin.visit.Recorded"),
        (2, "tiexin.visit.Confirmed"),
        (3, "tiexin.visit.FeedbackGiven"),
    ]
    two = events(api, entity=[county["visit"], county["elder"]], type="tiexin.elder.Relocated")["items"]
    assert [i["entity_id"] for i in two] == [county["elder"]]
    assert events(api, entity=str(uuid.uuid4()))["items"] == []


def test_a_filtered_page_moves_on_even_when_empty(api: Harness, county: dict[str, str], monkeypatch: Any) -> None:
    import api.eventlog as eventlog

    monkeypatch.setattr(eventlog, "SCAN_CHUNK", 2)
    monkeypatch.setattr(eventlog, "SCAN_BUDGET", 4)
    page = events(api, entity=county["elder"], type="tiexin.elder.Relocated")
    assert page["items"] and page["next"] == page["head"]
    scanned = events(api, entity=str(uuid.uuid4()))
    assert scanned["items"] == [] and scanned["next"] == 4 and scanned["more"]
    assert everything(api, entity=county["visit"])[-1]["topic"] == "tiexin.visit.FeedbackGiven"


def test_personal_data_only_for_the_coordinator(api: Harness, county: dict[str, str]) -> None:
    personal = {
        "tiexin.elder.Registered": ["name", "birth_date", "address", "phone", "notes"],
        "tiexin.elder.Relocated": ["address"],
        "tiexin.volunteer.Recruited": ["name", "phone"],
        "tiexin.visit.Recorded": ["readings", "notes"],
        "tiexin.visit.FeedbackGiven": ["comment"],
    }
    full = {i["position"]: i for i in everything(api, "coordinator")}
    assert all(i["redacted"] == [] for i in full.values())
    for role in ("auditor", "admin"):
        for item in everything(api, role):
            withheld = personal.get(item["topic"], [])
            assert item["redacted"] == withheld, item
            assert all(item["data"][field] is None for field in withheld)
            assert all(full[item["position"]]["data"][field] is not None for field in withheld)
            kept = {k: v for k, v in full[item["position"]]["data"].items() if k not in withheld}
            assert {k: v for k, v in item["data"].items() if k not in withheld} == kept
    recruited = events(api, "coordinator", type="tiexin.volunteer.Recruited")["items"][0]["data"]
    assert recruited["name"].startswith("志愿者") and recruited["phone"].startswith("139")


def test_an_amendment_s_readings_and_notes_are_redacted_inside_its_changes(
    api: Harness, county: dict[str, str]
) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB.replace(day=5), confirm=False)
    changes = {"readings": {"pulse": 72}, "notes": "血压偏高", "travel_km": 3}
    api.staff.post(f"/v1/visits/{visit_id}/amendment", {"changes": changes, "reason_code": "typo"}, "coordinator")
    [amended] = events(api, "auditor", type="tiexin.visit.Amended")["items"]
    assert amended["redacted"] == ["changes.readings", "changes.notes"]
    assert amended["data"]["changes"] == {"readings": None, "notes": None, "travel_km": "3"}
    [seen] = events(api, "coordinator", type="tiexin.visit.Amended")["items"]
    assert seen["data"]["changes"]["notes"] == "血压偏高"


@pytest.mark.parametrize("role", ["finance", "evaluator"])
def test_roles_that_read_only_some_records_are_refused(api: Harness, role: str) -> None:
    response = api.client.get("/v1/events", headers=api.staff.auth(role))
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM
    assert "auditor" in response.json()["detail"]


def test_a_volunteer_is_refused_and_no_key_is_401(api: Harness, county: dict[str, str]) -> None:
    volunteer = api.staff.auth(api.volunteer_key(county["volunteer"]))
    for path in ("/v1/events", "/v1/events/stream"):
        refused = api.client.get(path, headers=volunteer)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert api.client.get(path).status_code == 401


BAD_PARAMS: list[dict[str, Any]] = [
    {"after": -1},
    {"after": "x"},
    {"after": 2**63},
    {"after": 10**40},
    {"after": "1e3"},
    {"limit": 0},
    {"limit": 1001},
    {"limit": -5},
    {"limit": "many"},
    {"type": "visit.Recorded"},
    {"type": "tiexin.visit.Recorded,nothing"},
    {"type": "\x00"},
    {"type": "x" * 5000},
    {"type": ["tiexin.visit.Recorded"] * 51},
    {"entity": "not-an-id"},
    {"entity": "0" * 400},
    {"entity": [str(uuid.uuid4())] * 101},
]


@pytest.mark.parametrize("params", BAD_PARAMS)
def test_malformed_parameters_are_422_naming_them(api: Harness, params: dict[str, Any]) -> None:
    name = next(iter(params))
    for path in ("/v1/events", "/v1/events/stream") if name != "limit" else ("/v1/events",):
        response = api.client.get(path, params=params, headers=api.staff.auth("auditor"))
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert name in response.json()["field"], response.json()


def test_the_largest_position_and_limits_are_fine(api: Harness) -> None:
    assert events(api, after=2**63 - 2, limit=1000)["items"] == []
    assert events(api, limit=1)["next"] == 1


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "9" * 40, "²", "½"])
def test_a_malformed_last_event_id_is_400(api: Harness, value: str) -> None:
    response = api.client.get(
        "/v1/events/stream", headers={**api.staff.auth("auditor"), "Last-Event-ID": value.encode("latin-1")}
    )
    assert response.status_code == 400 and response.json()["field"] == "Last-Event-ID"


def test_a_store_that_fails_is_503(api: Harness, monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(api.ledger.recorder, "select_notifications", broken)
    response = api.client.get("/v1/events", headers=api.staff.auth("auditor"))
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    assert response.headers["Retry-After"]


def test_the_operation_is_documented(api: Harness) -> None:
    schema = api.client.get("/openapi.json").json()
    listed = schema["paths"]["/v1/events"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"after", "limit", "type", "entity"}
    assert PROBLEM in listed["responses"]["403"]["content"]
    streamed = schema["paths"]["/v1/events/stream"]["get"]
    assert "text/event-stream" in streamed["responses"]["200"]["content"]
    assert "Last-Event-ID" in {p["name"] for p in streamed["parameters"]}
