"""``/healthz``, ``/readyz`` and ``/metrics`` on a SQLite file and on PostgreSQL.

The read models here are history views registered under several names (as the projection
operations tests do), so readiness is tested without depending on the read models being written
beside it: the runner, the service and the status treat every read model alike.
"""

from __future__ import annotations

import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Notification, OperationalError
from fastapi.testclient import TestClient

import api.routers.ops as ops
from projections import registry
from projections.history import HistoryProjection, HistoryView, HistoryWriter, open_history_view
from projections.service import running
from projections.storage import SavedStatus
from tests.builders import MASTER_KEY
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


class Refuses(HistoryProjection):
    """A history that cannot apply the third visit's recording."""

    def apply(self, writer: HistoryWriter, event: Any, notification: Notification) -> None:
        if notification.topic == "tiexin.visit.Recorded" and getattr(event, "notes", "") == "坏":
            raise ValueError("no rule for 王奶奶's visit")
        super().apply(writer, event, notification)


def fake_read_model(name: str, factory: Callable[[str], Any]) -> str:
    module = types.ModuleType(f"tests_ops_read_model_{name}")
    module.open_projection = factory  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return module.__name__


@pytest.fixture
def read_models() -> Iterator[dict[str, str]]:
    """history and ``copy`` (a second history view); tests add more."""
    yield {
        "history": "projections.history",
        "copy": fake_read_model("copy", lambda url: HistoryProjection(open_history_view(url, "copy"))),
        "not_written": "tests_ops_no_such_module",
    }
    for name in list(sys.modules):
        if name.startswith("tests_ops_read_model_"):
            del sys.modules[name]


@pytest.fixture
def api(
    store_url: str, clock: Clock, read_models: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """The API with no read model running in-process; once started, only :func:`read_models` are registered."""
    with harness(store_url, clock=clock, projections=False) as made:
        monkeypatch.setattr(registry, "READ_MODELS", read_models)
        monkeypatch.setattr(ops, "STATUS_TTL", 0.0)
        volunteer_id, _, pairing_id = made.staff.pair(date(2026, 1, 1))
        made.staff.visit(pairing_id, volunteer_id, FEB)
        yield made


@pytest.fixture
def view(store_url: str) -> Iterator[Callable[[str], HistoryView]]:
    opened: list[HistoryView] = []

    def opener(name: str) -> HistoryView:
        opened.append(open_history_view(store_url, name))
        return opened[-1]

    yield opener
    for each in opened:
        each.close()


def ready(api: Harness, **params: Any) -> Any:
    return api.client.get("/readyz", params=params)


def not_ready(api: Harness, **params: Any) -> dict[str, Any]:
    response = ready(api, **params)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM and response.headers["Retry-After"]
    body: dict[str, Any] = response.json()
    return body


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def saved(status: str, position: int, *, age: float = 0.0, heartbeat: float = 10.0) -> SavedStatus:
    seen = datetime.now(UTC) - timedelta(seconds=age)
    return SavedStatus(status, position, None, None, None, None, None, seen, seen, heartbeat, "elsewhere:1")


def test_healthz_is_liveness_only(api: Harness, monkeypatch: Any) -> None:
    def broken(*args: Any) -> Any:
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(api.ledger.recorder, "max_notification_id", broken)
    assert api.client.get("/healthz").json() == {"status": "ok"}
    body = not_ready(api)
    assert body["type"].endswith("/store-unavailable")


def test_ready_when_every_read_model_is_caught_up(api: Harness, store_url: str) -> None:
    body = not_ready(api)
    assert body["detail"] == "not ready: history: never run; copy: never run"
    assert [(p["name"], p["state"], p["lag"]) for p in body["projections"]] == [
        ("history", "never run", api.events()),
        ("copy", "never run", api.events()),
    ]
    with running(store_url, ["history", "copy"], poll_interval=0.05, listen=False, master_key=MASTER_KEY) as service:
        service.wait_until_caught_up(20)
        wait_for(lambda: ready(api).status_code == 200)
        answer = ready(api).json()
        assert answer["status"] == "ready" and answer["head"] == api.events() and answer["max_lag"] == 1000
        assert {(p["name"], p["state"], p["lag"], p["ready"]) for p in answer["projections"]} == {
            ("history", "caught_up", 0, True),
            ("copy", "caught_up", 0, True),
        }
    offline = not_ready(api)
    assert (
        offline["detail"]
        == "not ready: history: offline: its runner was shut down; copy: offline: its runner was shut down"
    )


def test_a_stopped_read_model_is_named_with_its_event(
    api: Harness, store_url: str, read_models: dict[str, str]
) -> None:
    read_models["broken"] = fake_read_model("broken", lambda url: Refuses(open_history_view(url, "broken")))
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    body = {
        "pairing_id": pairing_id, "kind": "emotional", "services": ["chat"], "started_at": FEB.isoformat(),
        "ended_at": (FEB + timedelta(minutes=30)).isoformat(), "township": "高沟镇", "distance_band": "at_home",
        "notes": "坏",
    }  # fmt: skip
    visit = api.staff.post("/v1/visits", body, api.volunteer_key(volunteer_id))
    with running(
        store_url, ["history", "copy", "broken"], poll_interval=0.05, listen=False, master_key=MASTER_KEY
    ) as service:
        wait_for(lambda: service.runners["broken"].state.status == "stopped")
        wait_for(lambda: all(service.runners[n].lag == 0 for n in ("history", "copy")))
        wait_for(lambda: [p["name"] for p in not_ready(api)["projections"] if not p["ready"]] == ["broken"])
        problem = not_ready(api)
        where = f"position {visit['position']} (tiexin.visit.Recorded, {visit['id']} version 1)"
        assert problem["detail"] == f"not ready: broken: stopped at {where}"
        states = {p["name"]: p for p in problem["projections"]}
        assert states["history"]["ready"] and states["copy"]["ready"]
        broken = states["broken"]
        assert broken["state"] == "stopped" and broken["position"] < visit["position"]
        assert broken["failure"] == {
            "position": visit["position"], "topic": "tiexin.visit.Recorded", "entity_id": visit["id"], "version": 1
        }  # fmt: skip
        assert "王奶奶" not in ready(api).text  # no free text for a probe without a key
        told = api.client.get("/readyz", headers=api.staff.auth("auditor")).json()
        told_broken = next(p for p in told["projections"] if p["name"] == "broken")
        assert "王奶奶" in told_broken["failure"]["reason"] and "王奶奶" in told_broken["reason"]
        coordinator = api.client.get("/readyz", headers=api.staff.auth("coordinator")).text
        assert "王奶奶" not in coordinator


def test_a_stale_status_is_not_running_and_a_lag_beyond_the_limit_is_lagging(
    api: Harness, view: Callable[[str], HistoryView]
) -> None:
    head = api.events()
    view("history").save_status(api.ledger.name, saved("running", 0, age=3600))
    view("copy").save_status(api.ledger.name, saved("caught_up", 0))
    body = not_ready(api)
    assert body["detail"] == "not ready: history: not running: its runner has not reported for several heartbeats"
    assert [p["state"] for p in body["projections"]] == ["not running", "caught_up"]
    assert [p["ready"] for p in body["projections"]] == [False, True]

    view("history").save_status(api.ledger.name, saved("running", 0))
    assert ready(api).status_code == 200
    lagging = not_ready(api, max_lag=head - 1)
    assert lagging["detail"] == (
        f"not ready: history: lagging {head} events behind the log (at most {head - 1}); "
        f"copy: lagging {head} events behind the log (at most {head - 1})"
    )
    assert ready(api, max_lag=head).status_code == 200


def test_a_read_model_whose_module_fails_to_load_is_not_ready(
    api: Harness, read_models: dict[str, str], view: Callable[[str], HistoryView]
) -> None:
    for name in ("history", "copy"):
        view(name).save_status(api.ledger.name, saved("caught_up", 0))
    assert ready(api).status_code == 200
    read_models["faulty"] = fake_read_model("faulty", lambda url: 1 / 0)
    body = not_ready(api)
    assert body["detail"] == "not ready: faulty: unavailable: it cannot be loaded"


@pytest.mark.parametrize("params", [{"max_lag": -1}, {"max_lag": "x"}, {"max_lag": 10**12}])
def test_a_malformed_threshold_is_422(api: Harness, params: dict[str, Any]) -> None:
    response = ready(api, **params)
    assert response.status_code == 422 and response.json()["field"] == "query.max_lag"


# Metrics -------------------------------------------------------------------------------------


def series(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text, by name and (some of) its labels."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(4))
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


def scrape(api: Harness, who: str = "auditor") -> str:
    response = api.client.get("/metrics", headers=api.staff.auth(who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return str(response.text)


def test_metrics_take_an_auditor_or_admin_key_except_on_loopback(api: Harness) -> None:
    assert api.client.get("/metrics").status_code == 401
    refused = api.client.get("/metrics", headers=api.staff.auth("coordinator"))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    scrape(api, "admin")
    local = TestClient(api.app, client=("127.0.0.1", 40000))
    assert local.get("/metrics").status_code == 200
    assert TestClient(api.app, client=("::1", 40000)).get("/metrics").status_code == 200


def test_metrics_count_requests_by_route_template_and_writes_without_replays(
    api: Harness, view: Callable[[str], HistoryView]
) -> None:
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB.replace(day=4))
    coordinator = api.staff.auth("coordinator", Idempotency_Key="same")
    body = {"name": "李", "unit": "u", "profession": "doctor", "phone": "1", "township": "高沟镇"}
    for _ in range(3):
        assert api.client.post("/v1/volunteers", json=body, headers=coordinator).status_code == 201
    api.client.get(f"/v1/visits/{visit_id}", headers=api.staff.auth("auditor"))
    api.client.get("/v1/nothing/here", headers=api.staff.auth("auditor"))
    api.client.post("/v1/elders", json={}, headers=api.staff.auth("coordinator"))
    view("history").save_status(api.ledger.name, saved("caught_up", 0))

    text = scrape(api)
    posted = 1 + 1 + 3  # the fixture's volunteer, this test's, and one request sent three times
    assert series(text, "tiexin_http_requests_total", route="/v1/volunteers", method="POST", status="201") == posted
    assert series(text, "tiexin_writes_total", route="/v1/volunteers") == posted - 2  # not the two replays
    assert series(text, "tiexin_http_requests_total", route="/v1/visits/{visit_id}/confirmation", status="200") == 2
    assert series(text, "tiexin_http_requests_total", route="/v1/visits/{visit_id}", method="GET") == 1
    assert series(text, "tiexin_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert series(text, "tiexin_http_requests_total", route="/v1/elders", status="422") == 1
    assert f"/v1/visits/{visit_id}" not in text and elder_id not in text
    count = series(text, "tiexin_http_request_duration_seconds_count", route="/v1/volunteers", method="POST")
    assert (
        count == 5
        and series(text, "tiexin_http_request_duration_seconds_bucket", route="/v1/volunteers", le="+Inf") == 5
    )
    assert series(text, "tiexin_store_up") == 1
    assert series(text, "tiexin_log_head_position") == api.events()
    assert series(text, "tiexin_projection_position", projection="history") == 0
    assert series(text, "tiexin_projection_lag", projection="copy") == api.events()
    assert series(text, "tiexin_projection_state", projection="history", state="caught_up") == 1
    assert series(text, "tiexin_projection_state", projection="copy", state="never run") == 1
    assert series(text, "tiexin_ready") == 0
    assert series(text, "tiexin_event_streams") == 0
    assert series(scrape(api), "tiexin_http_requests_total", route="/metrics", status="200") >= 1


def test_metrics_answer_when_the_store_does_not(api: Harness, monkeypatch: Any) -> None:
    def broken(*args: Any) -> Any:
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(api.ledger.recorder, "max_notification_id", broken)
    text = scrape(api)
    assert series(text, "tiexin_store_up") == 0 and "tiexin_log_head_position" not in text
