"""Recording a visit on cached aggregates: never on a stale copy, across processes (ledgers) sharing one store.

``record_visit`` decides on the pairing, the elder and the volunteer as its process's cache holds
them and writes only if none has changed in the store since, checked in the insert's transaction
(:meth:`ledger.store.LedgerBase._decided`). Each ledger here stands for a process (a uvicorn
worker) with a cache of its own; the other one changes what the first has cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.bootstrap import ensure_home_county, open_ledger
from ledger.errors import RuleViolation
from ledger.settings import store_env
from ledger.store import READ_VERSIONS, StaleRead, Written
from ledger.visits import Visit
from ledger.volunteers import Volunteer
from tests.builders import COORDINATOR, MASTER_KEY, Pair, as_volunteer, event_count, make_pair, visit_fields
from tests.conftest import Clock

MARCH = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def record(ledger: Ledger, pair: Pair, day: int) -> Written:
    start = MARCH.replace(day=day)
    return ledger.record_visit(pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id), **visit_fields(start))


@pytest.fixture
def two(store_url: str, open_store: Callable[[str], Ledger], clock: Clock) -> tuple[Ledger, Ledger, Pair]:
    """Two processes' ledgers on one store, and a pair whose records the first has cached."""
    clock.now = datetime(2026, 3, 20, tzinfo=UTC)
    first, other = open_store(store_url), open_store(store_url)
    pair = make_pair(other, 1)
    record(first, pair, 2)  # loads (and caches) the pairing, the elder and the volunteer
    return first, other, pair


def test_a_volunteer_suspended_elsewhere_is_refused_though_cached_active(two: tuple[Ledger, Ledger, Pair]) -> None:
    first, other, pair = two
    other.suspend_volunteer(pair.volunteer_id, reason="review", by=COORDINATOR)
    before = event_count(first)
    with pytest.raises(RuleViolation) as refused:
        record(first, pair, 3)
    assert refused.value.rule == "volunteer.not_active"
    assert event_count(first) == before


def test_a_volunteer_reinstated_elsewhere_is_accepted_though_cached_suspended(two: tuple[Ledger, Ledger, Pair]) -> None:
    first, other, pair = two
    other.suspend_volunteer(pair.volunteer_id, reason="review", by=COORDINATOR)
    with pytest.raises(RuleViolation):
        record(first, pair, 3)  # the first process now caches the volunteer suspended
    other.reinstate_volunteer(pair.volunteer_id, reason="cleared", by=COORDINATOR)
    written = record(first, pair, 4)
    assert first.find(Visit, written.id) is not None


def test_a_pairing_ended_and_an_elder_departed_elsewhere_are_refused(two: tuple[Ledger, Ledger, Pair]) -> None:
    first, other, pair = two
    other.end_pairing(pair.pairing_id, on=date(2026, 3, 2), reason="reassigned", by=COORDINATOR)
    with pytest.raises(RuleViolation) as refused:
        record(first, pair, 3)
    assert refused.value.rule == "visit.no_active_pairing"
    second = make_pair(other, 2)
    record(first, second, 3)
    other.record_departure(second.elder_id, kind="moved_away", on=date(2026, 3, 3), by=COORDINATOR)
    before = event_count(first)
    with pytest.raises(RuleViolation) as departed:
        record(first, second, 5)
    assert departed.value.rule == "elder.departed"
    assert event_count(first) == before


class LateWriter(Ledger):
    """A ledger whose record_visit, once decided, lets another process change the volunteer just before saving."""

    meanwhile: Callable[[], object] | None = None

    def _save(self, *args: Any, **kwargs: Any) -> Written:
        act, self.meanwhile = self.meanwhile, None
        if act is not None:
            act()
        return super()._save(*args, **kwargs)


def test_a_change_landing_between_decision_and_insert_is_caught(
    store_url: str, open_store: Callable[[str], Ledger], clock: Clock
) -> None:
    """Stronger than loading fresh before deciding: a write in between is caught under the store's write lock."""
    clock.now = datetime(2026, 3, 20, tzinfo=UTC)
    other = open_store(store_url)
    pair = make_pair(other, 1)
    late = LateWriter(store_env(store_url), master_key=MASTER_KEY, clock=clock)
    try:
        record(late, pair, 2)
        late.meanwhile = lambda: other.suspend_volunteer(pair.volunteer_id, reason="review", by=COORDINATOR)
        before = event_count(other)
        with pytest.raises(RuleViolation):
            record(late, pair, 3)  # decided on the cached (active) volunteer; the insert finds it moved on
        assert event_count(other) == before + 1  # the suspension only
    finally:
        late.close()


def test_a_visit_decided_twice_takes_one_id_and_one_time(store_url: str, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 20, tzinfo=UTC)
    ids: list[UUID] = []

    def new_id() -> UUID:
        ids.append(uuid4())
        return ids[-1]

    first = open_ledger(store_url, clock=clock, master_key=MASTER_KEY, new_id=new_id)
    other = open_ledger(store_url, clock=clock, master_key=MASTER_KEY)
    try:
        ensure_home_county(other)
        pair = make_pair(other, 1)
        record(first, pair, 2)
        other.record_training(pair.volunteer_id, course="first aid", hours=2, on=date(2026, 3, 3), by=COORDINATOR)
        taken = len(ids)
        written = record(first, pair, 3)  # the cached volunteer is stale: decided again, on the same id
        assert len(ids) == taken + 1 and written.id == ids[-1]
        visit = first.find(Visit, written.id)
        assert visit is not None and visit.version == 1
    finally:
        first.close()
        other.close()


@pytest.fixture
def counted_inserts(
    store_url: str, open_store: Callable[[str], Ledger], clock: Clock
) -> Iterator[tuple[Ledger, list[dict[str, Any]]]]:
    clock.now = datetime(2026, 3, 20, tzinfo=UTC)
    ledger = open_store(store_url)
    calls: list[dict[str, Any]] = []
    insert = ledger.recorder.insert_events

    def counting(events: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return insert(events, **kwargs)

    ledger.recorder.insert_events = counting  # type: ignore[method-assign]
    yield ledger, calls


def test_the_process_own_changes_keep_its_cache_current(counted_inserts: tuple[Ledger, list[dict[str, Any]]]) -> None:
    """After this process suspends and reinstates a volunteer, a visit is decided once, checked, not twice."""
    ledger, calls = counted_inserts
    pair = make_pair(ledger, 1)
    record(ledger, pair, 2)
    ledger.suspend_volunteer(pair.volunteer_id, reason="review", by=COORDINATOR)
    ledger.reinstate_volunteer(pair.volunteer_id, reason="cleared", by=COORDINATOR)
    calls.clear()
    record(ledger, pair, 3)
    assert len(calls) == 1 and calls[0].get(READ_VERSIONS)


def test_the_recorder_writes_nothing_when_a_read_aggregate_moved_on(two: tuple[Ledger, Ledger, Pair]) -> None:
    _, other, pair = two
    volunteer = other.find(Volunteer, pair.volunteer_id)
    assert volunteer is not None
    written = record(other, pair, 3)
    stored = other.recorder.select_events(written.id)
    # The same event again under a new id, read set naming the volunteer's current version: written.
    fresh = [stored[0].__class__(uuid4(), 1, stored[0].topic, stored[0].state)]
    assert other.recorder.insert_events(fresh, **{READ_VERSIONS: {volunteer.id: volunteer.version}})
    before = event_count(other)
    stale = [stored[0].__class__(uuid4(), 1, stored[0].topic, stored[0].state)]
    with pytest.raises(StaleRead):
        other.recorder.insert_events(stale, **{READ_VERSIONS: {volunteer.id: volunteer.version - 1}})
    assert event_count(other) == before
