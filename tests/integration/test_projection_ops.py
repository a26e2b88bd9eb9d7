"""Operating the read models: status other processes can read, the service, wake-ups, the past.

On a SQLite file and on PostgreSQL. The read models run here are history and a second history
view registered under another name (``copy``), so the tests do not depend on the read models
being written beside them; the runner, the service and the status treat every read model alike.
"""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Notification, OperationalError

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.errors import InvalidInput
from projections import registry
from projections.asof import AsOfFailed, replay_as_of
from projections.history import HistoryProjection, HistoryView, HistoryWriter, open_history_view
from projections.runner import Runner
from projections.service import ProjectionService, describe, read_status, running
from projections.storage import SavedStatus
from tests.builders import MASTER_KEY, Pair, event_count, make_pair, visit_at
from tests.conftest import Clock
from tests.views import views_on

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)


class Refuses(HistoryProjection):
    """A history that cannot apply the event at one position."""

    bad = -1

    def apply(self, writer: HistoryWriter, event: Any, notification: Notification) -> None:
        if notification.id == self.bad:
            raise ValueError("no rule for this event")
        super().apply(writer, event, notification)


def fake_read_model(name: str, factory: Callable[[str], Any]) -> types.ModuleType:
    module = types.ModuleType(f"tests_read_model_{name}")
    module.open_projection = factory  # type: ignore[attr-defined]
    return module


@pytest.fixture(autouse=True)
def read_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only history and ``copy`` (a second history view), whatever else is being written."""
    copy = fake_read_model("copy", lambda url: HistoryProjection(open_history_view(url, "copy")))
    broken = fake_read_model("broken", lambda url: Refuses(open_history_view(url, "broken")))
    monkeypatch.setitem(sys.modules, copy.__name__, copy)
    monkeypatch.setitem(sys.modules, broken.__name__, broken)
    models = {"history": "projections.history", "copy": copy.__name__, "broken": broken.__name__}
    monkeypatch.setattr(registry, "READ_MODELS", models)


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(store_url)


@pytest.fixture
def views(store_url: str) -> Iterator[Callable[..., HistoryView]]:
    with views_on(store_url, open_history_view, "history") as opener:
        yield opener


def some_visits(ledger: Ledger, pair: Pair, count: int, clock: Clock) -> None:
    for i in range(count):
        clock.advance(minutes=5)
        visit_at(ledger, pair, FEB + timedelta(days=i))


def status_of(url: str, name: str = "history") -> Any:
    [found] = read_status(url, [name])
    return found


# Status that other processes can read -------------------------------------------------------


def test_the_status_says_position_lag_and_state_to_any_process(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    assert (status_of(store_url).state, status_of(store_url).lag) == ("never run", event_count(ledger))

    runner = Runner(ledger, HistoryProjection(views()), page_size=2)
    seen_while_running: list[Any] = []
    runner.on_page = lambda position, head: seen_while_running.append(status_of(store_url))
    runner.run_once()
    head = event_count(ledger)
    status = status_of(store_url)
    assert (status.state, status.position, status.lag, status.reason) == ("caught_up", head, 0, None)
    # A catch-up of several pages says so after its first page (the status is read afresh each time).
    assert seen_while_running[0].state == "running"
    assert seen_while_running[0].position == 2

    some_visits(ledger, pair, 3, clock)
    status = status_of(store_url)
    assert (status.state, status.position, status.lag) == ("caught_up", head, 6)


def test_keeping_up_writes_no_status_only_changes_do(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = make_pair(ledger, 1)
    view = views()
    runner = Runner(ledger, HistoryProjection(view))
    saved: list[str] = []
    original = type(view).save_status

    def counting(self: Any, application_name: str, status: SavedStatus) -> None:
        saved.append(status.status)
        original(self, application_name, status)

    monkeypatch.setattr(type(view), "save_status", counting)
    runner.run_once()
    for _ in range(3):
        some_visits(ledger, pair, 1, clock)
        runner.run_once()
    assert saved == ["caught_up"]
    assert status_of(store_url).position == event_count(ledger)


def test_a_stopped_projection_tells_other_processes_which_event_and_why(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    projection = Refuses(views())
    runner = Runner(ledger, projection)
    runner.run_once()
    tracked = event_count(ledger)
    some_visits(ledger, pair, 2, clock)  # four events in one page: the third cannot be applied
    projection.bad = event_count(ledger) - 1
    [bad] = ledger.recorder.select_notifications(start=projection.bad, limit=1)
    runner.run_once()

    status = status_of(store_url)
    assert status.state == "stopped"
    assert status.failure is not None
    assert (status.failure.position, status.failure.topic, status.failure.originator_id) == (
        bad.id,
        bad.topic,
        str(bad.originator_id),
    )
    assert status.failure.originator_version == bad.originator_version
    assert f"at position {bad.id} ({bad.topic}, {bad.originator_id})" in (status.reason or "")
    assert "no rule for this event" in (status.reason or "")
    assert (status.position, status.lag) == (tracked, 4)  # the page was rolled back


def test_a_store_that_fails_is_said_to_be_retrying_with_the_reason(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pair(ledger, 1)
    runner = Runner(ledger, HistoryProjection(views()))

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(ledger.recorder, "select_notifications", unreachable)
        with pytest.raises(OperationalError):
            runner.run_once()
        status = status_of(store_url)
        assert (status.state, status.reason) == ("retrying", "OperationalError: connection refused")
    runner.run_once()
    assert status_of(store_url).state == "caught_up"


def test_a_status_whose_heartbeat_stopped_is_not_believed() -> None:
    seen = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    saved = SavedStatus("caught_up", 9, None, None, None, None, None, seen, seen, 10.0, "host:1")
    assert describe("history", 9, 12, saved, seen + timedelta(seconds=29)).state == "caught_up"
    late = describe("history", 9, 12, saved, seen + timedelta(seconds=31))
    assert (late.state, late.lag) == ("not running", 3)
    assert "no heartbeat since host:1" in (late.reason or "") and "caught_up" in (late.reason or "")
    # A failure stays said, however old: it is not stale, it is waiting for someone.
    stopped = SavedStatus("stopped", 9, "boom", 10, "t", "e", 2, seen, seen, 10.0, "host:1")
    assert describe("history", 9, 12, stopped, seen + timedelta(days=1)).state == "stopped"


def test_the_status_names_read_models_that_cannot_be_loaded(store_url: str, ledger: Ledger) -> None:
    registry.READ_MODELS["later"] = "projections.not_written_yet"
    by_name = {s.name: s for s in read_status(store_url)}
    assert by_name["later"].state == "unavailable"
    assert "projections.not_written_yet" in (by_name["later"].reason or "")
    assert by_name["history"].state == "never run"
    with pytest.raises(registry.UnknownReadModel, match="no read model named 'nope'"):
        read_status(store_url, ["nope"])


# The service -----------------------------------------------------------------------------------


def test_the_service_runs_several_read_models_and_stops_cleanly(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    with running(store_url, ["history", "copy"], poll_interval=0.05, master_key=MASTER_KEY) as service:
        assert sorted(service.runners) == ["copy", "history"]
        some_visits(ledger, pair, 3, clock)
        service.wake()
        assert service.wait_until_caught_up(10)
        assert {s.state for s in read_status(store_url, ["history", "copy"])} == {"caught_up"}
        threads = list(service._threads.values())
    assert not any(thread.is_alive() for thread in threads)
    assert views("history").rows() == views("copy").rows()
    assert len(views("copy").rows()) == event_count(ledger)
    assert {(s.state, s.lag) for s in read_status(store_url, ["history", "copy"])} == {("offline", 0)}


def test_one_read_model_that_stops_leaves_the_others_running(
    store_url: str, ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = make_pair(ledger, 1)
    monkeypatch.setattr(Refuses, "bad", event_count(ledger) + 2)
    with running(store_url, ["history", "broken"], poll_interval=0.05, master_key=MASTER_KEY) as service:
        some_visits(ledger, pair, 2, clock)
        service.wake()
        deadline = time.monotonic() + 10
        history, broken = service.runners["history"], service.runners["broken"]
        while (broken.state.status != "stopped" or history.lag) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broken.state.status == "stopped"
        assert broken.state.failure is not None and broken.state.failure.position == Refuses.bad
        assert broken.position < Refuses.bad
        assert history.position == event_count(ledger)
    states = {s.name: s for s in read_status(store_url, ["history", "broken"])}
    assert states["broken"].state == "stopped"  # stopping the service does not hide the failure
    assert states["broken"].failure is not None and states["broken"].failure.position == Refuses.bad
    assert (states["history"].state, states["history"].lag) == ("offline", 0)


def test_the_service_refuses_names_it_does_not_know(store_url: str, ledger: Ledger) -> None:
    with pytest.raises(registry.UnknownReadModel, match="no read model named 'nope'"):
        ProjectionService(store_url, ["history", "nope"])


def test_a_lost_notification_costs_at_most_a_poll_interval(
    store_url: str, ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = make_pair(ledger, 1)
    # No NOTIFY reaches the listener (on SQLite there is none anyway): only polling can catch up.
    monkeypatch.setattr(ledger.recorder, "_notify_channel", lambda cursor: None, raising=False)
    with running(store_url, ["history"], poll_interval=0.5, master_key=MASTER_KEY) as service:
        assert service.wait_until_caught_up(10)
        if service.listener is not None:
            assert service.listener.listening.wait(10)
        some_visits(ledger, pair, 1, clock)
        assert service.wait_until_caught_up(10)


# LISTEN/NOTIFY (PostgreSQL) ----------------------------------------------------------------------


@pytest.fixture
def pg_ledger(postgres_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(postgres_url)


@pytest.mark.postgres
def test_a_ledger_write_wakes_the_runners_long_before_the_poll_interval(
    postgres_url: str, pg_ledger: Ledger, clock: Clock
) -> None:
    pair = make_pair(pg_ledger, 1)
    with running(postgres_url, ["history", "copy"], poll_interval=30) as service:
        assert service.listener is not None
        assert service.listener.listening.wait(10)
        assert service.wait_until_caught_up(10)
        before = service.listener.notifications
        some_visits(pg_ledger, pair, 1, clock)
        assert service.wait_until_caught_up(10)  # the next poll would be ~30 s away
        assert service.listener.notifications > before


@pytest.mark.postgres
def test_the_listener_reconnects_when_its_connection_is_lost(
    postgres_url: str, pg_ledger: Ledger, clock: Clock
) -> None:
    pair = make_pair(pg_ledger, 1)
    with running(postgres_url, ["history"], poll_interval=30) as service:
        listener = service.listener
        assert listener is not None and listener.listening.wait(10)
        assert service.wait_until_caught_up(10)
        killed = listener.backend_pid
        with psycopg.connect(os.environ["TIEXIN_TEST_POSTGRES_URL"], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        deadline = time.monotonic() + 10
        while (listener.backend_pid == killed or not listener.listening.is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert listener.backend_pid != killed and listener.listening.is_set()
        some_visits(pg_ledger, pair, 1, clock)
        assert service.wait_until_caught_up(10)


# Until, and as of the past -------------------------------------------------------------------------


def test_a_runner_told_to_stop_at_a_position_goes_no_further(
    ledger: Ledger, views: Callable[..., HistoryView], clock: Clock
) -> None:
    some_visits(ledger, make_pair(ledger, 1), 3, clock)
    until = event_count(ledger) - 4
    runner = Runner(ledger, HistoryProjection(views()), page_size=3, until=until)
    assert runner.run_once() == until
    assert (runner.state.status, runner.position, runner.lag) == ("caught_up", until, 4)
    assert runner.run_once() == 0
    assert [r.position for r in views().rows()] == list(range(1, until + 1))


def test_as_of_a_position_replays_into_a_throwaway_view_and_leaves_the_live_one_alone(
    store_url: str, ledger: Ledger, views: Callable[..., HistoryView], clock: Clock
) -> None:
    some_visits(ledger, make_pair(ledger, 1), 3, clock)
    live = views()
    Runner(ledger, HistoryProjection(live)).run_once()
    before = (live.contents(), live.position(ledger.name), live.saved_status(ledger.name))
    cut = event_count(ledger) - 3
    some_visits(ledger, make_pair(ledger, 2), 1, clock)  # the live view lags: the replay must not move it

    with replay_as_of(store_url, "history", position=cut) as projection:
        assert isinstance(projection, HistoryProjection)
        replayed = projection.history.rows()
        assert projection.paged_view.position(ledger.name) == cut
        folder = os.path.dirname(projection.paged_view.datastore.pool.db_name)  # type: ignore[attr-defined]
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)
    assert replayed == live.rows()[:cut]
    assert (live.contents(), live.position(ledger.name), live.saved_status(ledger.name)) == before

    with replay_as_of(store_url, "history") as projection:  # neither: a clean rebuild to the head
        assert len(projection.history.rows()) == event_count(ledger)  # type: ignore[attr-defined]


def test_as_known_on_a_date_uses_when_events_were_recorded_not_where_they_are_in_the_log(
    store_url: str, ledger: Ledger, clock: Clock
) -> None:
    # The county's day runs on Asia/Shanghai time: 17:00 UTC on 2 March is 01:00 on 3 March there.
    first = make_pair(ledger, 1)  # recorded on 1 March (09:00 in the county)
    clock.now = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)  # 23:59 on 2 March, county time
    on_the_2nd = visit_at(ledger, first, FEB)
    clock.now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 on 3 March, county time
    on_the_3rd = visit_at(ledger, first, FEB + timedelta(days=1))
    # Another process, its clock behind, commits an event stamped 1 March after those of 3 March.
    behind = open_ledger(store_url, master_key=MASTER_KEY, clock=Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)))
    try:
        late = make_pair(behind, 2)
    finally:
        behind.close()

    def entities(known_on: date | datetime, position: int | None = None) -> set[Any]:
        with replay_as_of(store_url, "history", known_on=known_on, position=position) as projection:
            return {row.entity_id for row in projection.history.rows()}  # type: ignore[attr-defined]

    on_1st = entities(date(2026, 3, 1))
    assert {first.elder_id, late.elder_id, late.pairing_id} <= on_1st
    assert on_the_2nd not in on_1st
    assert on_the_2nd in entities(date(2026, 3, 2))
    assert on_the_3rd not in entities(date(2026, 3, 2))
    assert on_the_3rd in entities(date(2026, 3, 3))
    # An instant is an instant; with a position, both limits hold.
    assert on_the_2nd in entities(datetime(2026, 3, 2, 15, 59, tzinfo=UTC))
    assert on_the_2nd not in entities(datetime(2026, 3, 2, 15, 58, tzinfo=UTC))
    [late_registered] = [
        n.id for n in ledger.recorder.select_notifications(start=1, limit=10_000) if n.originator_id == late.elder_id
    ]
    assert late.elder_id not in entities(date(2026, 3, 1), position=late_registered - 1)
    with pytest.raises(InvalidInput, match="known_on"):
        entities(datetime(2026, 3, 1, 12, 0))


def test_a_replay_that_meets_an_event_it_cannot_apply_says_so(
    store_url: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pair(ledger, 1)
    monkeypatch.setattr(Refuses, "bad", 2)
    with pytest.raises(AsOfFailed, match=r"cannot apply position 2 .*no rule for this event"):  # noqa: SIM117
        with replay_as_of(store_url, "broken"):
            pass
    with pytest.raises(registry.UnknownReadModel), replay_as_of(store_url, "nope"):
        pass
    with pytest.raises(InvalidInput, match="position"), replay_as_of(store_url, "history", position=-1):
        pass
