"""A day's position cut found by bisection, and the kept replays of :class:`projections.asof.AsOfViews`."""

from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest

import projections.asof
from ledger.application import Ledger
from ledger.common import COUNTY_TZ
from ledger.counties import LIANSHUI
from projections.asof import AsOfViews, ReplaysBusy, cut_known_on
from tests.builders import COORDINATOR, elder_fields
from tests.conftest import Clock

URL = "sqlite:///unused.db"  # the ledger is handed in; the URL only names it in errors


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of March 2026 in the county."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=COUNTY_TZ)


def elder(ledger: Ledger, n: int) -> int:
    """Register an elder; the log position of its event."""
    written = ledger.register_elder(county=LIANSHUI, **elder_fields(n), by=COORDINATOR)
    assert written.position is not None
    return written.position


def test_the_cut_of_a_day_is_the_last_position_recorded_by_its_end(ledger: Ledger, clock: Clock) -> None:
    clock.now = at(1, 10)
    first = elder(ledger, 1)
    clock.now = at(1, 23, 59, 59)
    last_of_day_1 = elder(ledger, 2)
    clock.now = at(2, 0, 0, 0)  # midnight in the county: the next day
    elder(ledger, 3)
    clock.now = at(4, 12)
    head = elder(ledger, 4)

    assert cut_known_on(ledger, date(2026, 2, 28)) == 0  # the home county and policies are of 1 March too
    assert cut_known_on(ledger, date(2026, 3, 1)) == last_of_day_1
    assert cut_known_on(ledger, date(2026, 3, 2)) == cut_known_on(ledger, date(2026, 3, 3)) == head - 1
    assert cut_known_on(ledger, date(2026, 3, 4)) == cut_known_on(ledger, date(2099, 1, 1)) == head
    assert cut_known_on(ledger, at(1, 10)) == first  # an instant: recorded at or before it


def test_the_cut_takes_in_an_event_of_the_day_committed_late_by_a_clock_behind(ledger: Ledger, clock: Clock) -> None:
    clock.now = at(1, 12)
    elder(ledger, 1)
    clock.now = at(2, 0, 0, 30)
    elder(ledger, 2)  # recorded on the 2nd …
    clock.now = at(1, 23, 59, 50)
    late = elder(ledger, 3)  # … then one stamped on the 1st by a clock 40 s behind: known on the 1st
    clock.now = at(2, 0, 30)
    elder(ledger, 4)
    clock.now = at(1, 23, 59, 55)
    elder(ledger, 5)  # stamped on the 1st but committed after one stamped past the skew: not looked for

    assert cut_known_on(ledger, date(2026, 3, 1)) == late


class Blocking:
    """``projections.asof.replay`` held until :attr:`go` is set."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.real = projections.asof.replay
        self.calls: list[tuple[str, int | None]] = []

    def __call__(self, url: str, name: str, **kwargs: Any) -> projections.asof.Replayed:
        self.calls.append((name, kwargs.get("position")))
        self.go.wait(10)
        return self.real(url, name, **kwargs)


def test_kept_views_are_the_least_recently_used_and_an_evicted_one_goes_once_unread(ledger: Ledger) -> None:
    for n in range(4):
        elder(ledger, n)
    views = AsOfViews(ledger, URL, keep=2)
    try:
        one = views.start("roster", 2).result(10)
        assert views.hold(one)
        views.start("roster", 3).result(10)
        views.start("roster", 2).result(10)  # used again: now the most recent
        views.start("roster", 4).result(10)
        assert views.kept() == [("roster", 2), ("roster", 4)]
        assert one.replayed.view.pairings().position == 2 and os.path.isdir(one.replayed.folder)

        views.start("roster", 5).result(10)
        views.start("scores", 5).result(10)
        assert views.kept() == [("roster", 5), ("scores", 5)]
        assert one.evicted and os.path.isdir(one.replayed.folder)  # still read: not deleted yet
        assert not views.hold(one)
        views.release(one)
        assert not os.path.exists(one.replayed.folder)
    finally:
        views.close()


def test_kept_views_are_capped_in_bytes_as_well(ledger: Ledger) -> None:
    elder(ledger, 1)
    views = AsOfViews(ledger, URL, keep=10, keep_bytes=1)
    try:
        views.start("roster", 1).result(10)
        latest = views.start("scores", 1).result(10)
        assert views.kept() == [("scores", 1)] and latest.size > 1  # the latest is kept whatever its size
    finally:
        views.close()


def test_one_replay_per_cut_and_no_more_at_once_than_allowed(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    elder(ledger, 1)
    blocking = Blocking()
    monkeypatch.setattr(projections.asof, "replay", blocking)
    views = AsOfViews(ledger, URL, replays=1)
    try:
        first = views.start("roster", 1)
        assert views.start("roster", 1) is first  # the same cut: the same replay
        with pytest.raises(ReplaysBusy) as busy:
            views.start("roster", 0)
        assert busy.value.retry_after >= 1
        assert views.progress("roster", 1) is not None
        blocking.go.set()
        kept = first.result(10)
        assert views.start("roster", 1).result(1) is kept and blocking.calls == [("roster", 1)]
        assert views.progress("roster", 1) is None
        views.start("roster", 0).result(10)  # room again
    finally:
        blocking.go.set()
        views.close()


def test_closing_deletes_every_kept_view(ledger: Ledger) -> None:
    elder(ledger, 1)
    views = AsOfViews(ledger, URL)
    kept = views.start("roster", 1).result(10)
    views.close()
    assert not os.path.exists(kept.replayed.folder) and views.kept() == []
    with pytest.raises(projections.asof.ReplayCancelled):
        views.start("roster", 1)


def test_a_replay_up_to_a_cut_sees_nothing_after_it(ledger: Ledger, clock: Clock) -> None:
    clock.now = at(1, 10)
    elder(ledger, 1)
    clock.advance(days=1)
    elder(ledger, 2)
    cut = cut_known_on(ledger, date(2026, 3, 1))
    replayed = projections.asof.replay(URL, "roster", position=cut, ledger=ledger)
    try:
        answer = replayed.view.elders()
        assert (answer.position, len(answer.rows), replayed.position) == (cut, 1, cut)
    finally:
        replayed.close()
    assert not os.path.exists(replayed.folder)
    assert timedelta(0) <= timedelta(seconds=replayed.seconds)


def test_a_later_cut_carries_on_from_the_kept_view_at_an_earlier_one(ledger: Ledger) -> None:
    for n in range(6):
        elder(ledger, n)
    head = ledger.recorder.max_notification_id() or 0
    views = AsOfViews(ledger, URL)
    try:
        earlier = views.start("roster", head - 3).result(10)
        later = views.start("roster", head).result(10)
        assert later.replayed.applied == 3  # only the events past the earlier cut
        fresh = projections.asof.replay(URL, "roster", position=head, ledger=ledger)
        try:
            assert later.replayed.view.contents() == fresh.view.contents() and fresh.applied == 6
            assert later.replayed.view.elders().position == head
        finally:
            fresh.close()
        assert earlier.replayed.view.elders().position == head - 3  # the earlier view is as it was
        assert len(earlier.replayed.view.elders().rows) == 3
    finally:
        views.close()
