"""Our projection runner and the history read model, on a SQLite file and on PostgreSQL.

Exactly-once (a page and its tracking row commit together), rebuild equals live, a projection
that meets an event it cannot apply stops and names it, a crash before the commit leaves nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Notification, OperationalError

from ledger.application import Ledger
from projections.history import HistoryProjection, HistoryRow, HistoryView, HistoryWriter, open_history_view, row_of
from projections.runner import Runner
from tests.builders import COORDINATOR, Pair, event_count, make_pair, visit_at
from tests.conftest import Clock
from tests.views import views_on

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)

OpenView = Callable[..., HistoryView]


@pytest.fixture
def open_view(store_url: str) -> Iterator[OpenView]:
    """Open history views on the test's store (several may share one); all closed afterwards."""
    with views_on(store_url, open_history_view, "history") as opener:
        yield opener


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(store_url)


def runner_of(ledger: Ledger, view: HistoryView, page_size: int = 500) -> Runner[HistoryWriter]:
    return Runner(ledger, HistoryProjection(view), page_size=page_size)


def some_visits(ledger: Ledger, pair: Pair, count: int, clock: Clock) -> list[Any]:
    ids = []
    for i in range(count):
        clock.advance(minutes=5)
        ids.append(visit_at(ledger, pair, FEB + timedelta(days=i)))
    return ids


def rebuilt(ledger: Ledger, open_view: OpenView, name: str = "rebuilt") -> list[HistoryRow]:
    view = open_view(name)
    runner_of(ledger, view).run_once()
    return view.rows()


# The history read model ------------------------------------------------------------------


def test_the_history_of_a_visit_says_who_when_and_why_in_order(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    clock.advance(hours=1)
    recorded_at = clock.now
    visit_id = visit_at(ledger, pair, FEB, confirm=False)
    clock.advance(hours=1)
    ledger.confirm_visit(visit_id, confirmed_by="elder", method="signature", by=COORDINATOR)
    clock.advance(hours=1)
    ledger.dispute_visit(visit_id, reason_code="wrong_time", by=COORDINATOR)
    clock.advance(hours=1)
    voided_at = clock.now
    ledger.void_visit(visit_id, reason_code="entered_in_error", by=COORDINATOR)

    view = open_view()
    runner = runner_of(ledger, view)
    assert runner.lag == event_count(ledger)
    assert runner.run_once() == event_count(ledger)
    assert (runner.state.status, runner.position, runner.lag) == ("caught_up", event_count(ledger), 0)

    rows = view.of(visit_id)
    assert [(r.version, r.event) for r in rows] == [(1, "Recorded"), (2, "Confirmed"), (3, "Disputed"), (4, "Voided")]
    assert [r.position for r in rows] == sorted(r.position for r in rows)
    recorded = rows[0]
    assert (recorded.principal_id, recorded.role) == (str(pair.volunteer_id), "volunteer")
    assert recorded.recorded_at == recorded_at
    assert recorded.happened_at == FEB
    assert recorded.topic == "tiexin.visit.Recorded"
    assert [(r.role, r.reason_code) for r in rows[1:]] == [
        ("coordinator", None),
        ("coordinator", "wrong_time"),
        ("coordinator", "entered_in_error"),
    ]
    assert rows[3].recorded_at == voided_at
    # As known before the void was recorded: the void is not there yet.
    assert [r.event for r in view.of(visit_id, as_of=voided_at - timedelta(seconds=1))] == [
        "Recorded",
        "Confirmed",
        "Disputed",
    ]
    assert view.of(visit_id, as_of=recorded_at - timedelta(seconds=1)) == []


def test_the_history_of_an_elder_dates_what_happened_apart_from_when_it_was_recorded(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 2)
    clock.advance(days=2)
    ledger.relocate_elder(pair.elder_id, township="高沟镇", address="高沟镇新村8号", by=COORDINATOR)
    clock.advance(days=1)
    ledger.record_departure(pair.elder_id, kind="deceased", on=date(2026, 3, 2), by=COORDINATOR)

    view = open_view()
    runner_of(ledger, view).run_once()
    rows = view.of(pair.elder_id)
    assert [r.event for r in rows] == ["Registered", "Relocated", "Departed"]
    assert [r.happened_at for r in rows] == [None, None, date(2026, 3, 2)]
    assert rows[2].recorded_at == clock.now
    # The pairing's history says from when it runs.
    [formed] = view.of(pair.pairing_id)
    assert (formed.event, formed.happened_at) == ("Formed", date(2026, 1, 1))
    # Personal data stays in the ledger: a row holds only who, when and why.
    assert "老人2" not in repr(rows) and "高沟镇新村8号" not in repr(rows)


# Exactly once, rebuild, lag -------------------------------------------------------------------


def test_a_view_rebuilt_from_position_zero_reads_the_same_as_the_one_kept_up_live(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    live = open_view()
    runner = runner_of(ledger, live, page_size=3)
    for n in range(3):
        pair = make_pair(ledger, n)
        runner.run_once()
        some_visits(ledger, pair, 2, clock)
        runner.run_once()
    ledger.dispute_visit(visit_at(ledger, pair, FEB + timedelta(days=9)), reason_code="too_short", by=COORDINATOR)
    runner.run_once()

    rows = live.rows()
    assert [r.position for r in rows] == list(range(1, event_count(ledger) + 1))
    assert rebuilt(ledger, open_view) == rows
    assert runner.rebuild() == event_count(ledger)
    assert live.rows() == rows


def test_running_again_after_more_commands_applies_only_the_new_events(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    view = open_view()
    runner = runner_of(ledger, view, page_size=4)
    first = runner.run_once()
    assert first == event_count(ledger)
    assert runner.run_once() == 0

    some_visits(ledger, pair, 3, clock)
    assert runner.lag == 6
    assert runner.run_once() == 6
    # A second runner on the same view (another process) starts from the tracked position.
    assert runner_of(ledger, open_view()).run_once() == 0

    positions = [r.position for r in view.rows()]
    assert positions == list(range(1, event_count(ledger) + 1))
    assert view.position(ledger.name) == event_count(ledger) == first + 6


def test_two_runners_racing_on_one_view_apply_each_event_once(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    for n in range(4):
        some_visits(ledger, make_pair(ledger, n), 3, clock)
    runners = [runner_of(ledger, open_view(), page_size=5) for _ in range(2)]
    threads = [threading.Thread(target=r.run_once) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.state.status for r in runners] == ["caught_up", "caught_up"]
    rows = runners[0].view.rows()  # type: ignore[attr-defined]
    assert [r.position for r in rows] == list(range(1, event_count(ledger) + 1))
    assert rebuilt(ledger, open_view) == rows


def test_run_forever_follows_new_events_until_stopped(ledger: Ledger, open_view: OpenView, clock: Clock) -> None:
    pair = make_pair(ledger, 1)
    runner = runner_of(ledger, open_view())
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.05))
    thread.start()
    try:
        some_visits(ledger, pair, 2, clock)
        runner.wake()
        deadline = time.monotonic() + 10
        while runner.position < event_count(ledger) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runner.position == event_count(ledger)
    finally:
        runner.stop(stop)
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_projection_of_some_topics_still_tracks_up_to_the_head(ledger: Ledger, open_view: OpenView) -> None:
    class VisitsOnly(HistoryProjection):
        topics = ("tiexin.visit.Recorded",)

    pair = make_pair(ledger, 1)
    visit_at(ledger, pair, FEB)
    runner = Runner(ledger, VisitsOnly(open_view()), page_size=2)
    assert runner.run_once() == 1
    assert (runner.position, runner.lag) == (event_count(ledger), 0)


def test_a_filtered_projection_crosses_gaps_longer_than_its_scan_window(ledger: Ledger, open_view: OpenView) -> None:
    class VisitsOnly(HistoryProjection):
        topics = ("tiexin.visit.Recorded",)

    pairs = [make_pair(ledger, n) for n in range(1, 6)]  # 25 events with no visit among them
    visit_at(ledger, pairs[0], FEB)
    runner = Runner(ledger, VisitsOnly(open_view()), page_size=1)  # scans at most 20 positions a read
    assert runner.run_once() == 1
    assert (runner.position, runner.lag) == (event_count(ledger), 0)


# Failures: stop and say which event; a crash leaves nothing ------------------------------------


class Refuses(HistoryProjection):
    """A projection that cannot apply the event at one position."""

    def __init__(self, view: HistoryView, position: int) -> None:
        super().__init__(view)
        self.bad = position

    def apply(self, writer: HistoryWriter, event: Any, notification: Notification) -> None:
        if notification.id == self.bad:
            raise ValueError("no rule for this event")
        super().apply(writer, event, notification)


def test_an_event_the_projection_cannot_apply_stops_it_and_says_which_and_why(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    view = open_view()
    runner_of(ledger, view).run_once()
    before, tracked = view.rows(), view.position(ledger.name)

    some_visits(ledger, pair, 3, clock)  # six events, in one page: the bad one is the fourth
    bad = tracked + 4
    [bad_event] = ledger.recorder.select_notifications(start=bad, limit=1)
    runner = Runner(ledger, Refuses(view, bad))
    assert runner.run_once() == 0

    state = runner.state
    assert state.status == "stopped"
    assert state.failure is not None
    assert (state.failure.position, state.failure.topic) == (bad, bad_event.topic)
    assert (state.failure.originator_id, state.failure.originator_version) == (
        str(bad_event.originator_id),
        bad_event.originator_version,
    )
    assert "no rule for this event" in state.failure.reason
    # The whole page was rolled back: the view and its position are as they were.
    assert (view.rows(), view.position(ledger.name)) == (before, tracked)
    assert (runner.position, runner.lag) == (tracked, 6)
    # A stopped projection stays stopped: it never skips the event.
    assert runner.run_once() == 0
    assert runner.state.status == "stopped"

    # Restarted with a projection that can apply it, it resumes from the tracked position.
    restarted = runner_of(ledger, open_view())
    assert restarted.run_once() == 6
    assert view.rows() == rebuilt(ledger, open_view)


def test_resume_retries_a_stopped_projection_from_its_tracked_position(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    view = open_view()
    projection = Refuses(view, event_count(ledger) + 1)
    runner = Runner(ledger, projection, page_size=2)
    runner.run_once()
    some_visits(ledger, pair, 1, clock)
    runner.run_once()
    assert runner.state.status == "stopped"

    projection.bad = -1  # fixed
    runner.resume()
    assert runner.run_once() == 2
    assert (runner.state.status, runner.lag) == ("caught_up", 0)


def test_a_row_the_view_refuses_is_traced_to_its_event_and_nothing_is_written(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    pair = make_pair(ledger, 1)
    view = open_view()
    runner = runner_of(ledger, view)
    runner.run_once()
    tracked = view.position(ledger.name)
    some_visits(ledger, pair, 2, clock)
    # Someone planted a row that takes the log position of the third new event.
    planted = HistoryRow(pair.elder_id, 99, tracked + 3, "planted", None, None, clock.now, None, None, None)
    with view.page(ledger.name, tracked, tracked) as writer:
        writer.add(planted)
    before = view.rows()

    assert runner.run_once() == 0
    assert runner.state.status == "stopped"
    assert runner.state.failure is not None
    assert runner.state.failure.position == tracked + 3
    assert (view.rows(), view.position(ledger.name)) == (before, tracked)


class Crash(BaseException):
    """The process dies (SIGKILL, power cut): nothing in the runner catches it."""


def test_a_crash_after_the_rows_are_written_but_before_the_commit_leaves_nothing(
    ledger: Ledger, open_view: OpenView, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = make_pair(ledger, 1)
    view = open_view()
    runner_of(ledger, view).run_once()
    before, tracked = view.rows(), view.position(ledger.name)
    some_visits(ledger, pair, 3, clock)

    def flush_then_crash(self: HistoryWriter) -> None:
        self.send()
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(HistoryWriter, "flush", flush_then_crash)
        with pytest.raises(Crash):
            runner_of(ledger, view).run_once()
    assert (view.rows(), view.position(ledger.name)) == (before, tracked)

    restarted = runner_of(ledger, open_view(), page_size=4)
    assert restarted.run_once() == 6
    assert view.rows() == rebuilt(ledger, open_view)


def test_a_row_says_when_something_happened_only_where_an_event_says_so() -> None:
    class Event:
        originator_id = "e"
        originator_version = 3
        timestamp = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        meta = COORDINATOR
        on = date(2026, 2, 27)
        reason = "moved in with family"

    notification = Notification(id=7, originator_id="e", originator_version=3, topic="tiexin.elder.Departed", state=b"")
    row = row_of(Event(), notification)
    assert (row.position, row.event, row.happened_at, row.reason, row.reason_code) == (
        7,
        "Departed",
        date(2026, 2, 27),
        "moved in with family",
        None,
    )
    Event.timestamp = datetime(2026, 3, 1, 9, 0)  # naive: cannot be placed in time
    with pytest.raises(ValueError, match="timezone-aware"):
        row_of(Event(), notification)


def test_a_store_that_fails_is_retried_not_a_reason_to_stop(
    ledger: Ledger, open_view: OpenView, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pair(ledger, 1)
    runner = runner_of(ledger, open_view())

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(ledger.recorder, "select_notifications", unreachable)
        with pytest.raises(OperationalError):
            runner.run_once()
    assert (runner.state.status, runner.state.reason) == ("retrying", "OperationalError: connection refused")
    assert runner.position == 0
    assert runner.run_once() == event_count(ledger)
    assert runner.state.status == "caught_up"


def test_a_sqlite_view_syncs_at_checkpoints_while_the_ledger_syncs_every_commit(
    tmp_path: Any, open_store: Callable[[str], Ledger]
) -> None:
    url = f"sqlite:///{tmp_path / 'tiexin.db'}"
    ledger = open_store(url)
    view = open_history_view(url)
    try:
        with view.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL: a view is rebuilt from the log
        with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL: the ledger is the record
    finally:
        view.close()
