"""The health read model, on a SQLite file and on PostgreSQL: an elder's readings over time.

Readings appear with their visit, time and volunteer; a voided visit's readings vanish; an
amendment of the readings replaces them and one of the start moves them in time; a view kept up
a few events a page reads the same as one rebuilt from position 0. (On a whole demo county,
rebuilt against live: ``test_roster.py``, which builds the demo once for both read models.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from projections.health import HealthProjection, HealthView, open_health_view
from tests.builders import COORDINATOR, Pair, as_volunteer, event_count, make_pair, visit_at
from tests.views import caught_up as run_caught_up
from tests.views import views_on

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)

OpenView = Callable[..., HealthView]


@pytest.fixture
def open_view(store_url: str) -> Iterator[OpenView]:
    with views_on(store_url, open_health_view, "health") as opener:
        yield opener


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(store_url)


def caught_up(ledger: Ledger, view: HealthView, page_size: int = 500) -> HealthView:
    return run_caught_up(ledger, HealthProjection(view), page_size).health


def visit(ledger: Ledger, pair: Pair, start: datetime, kind: str = "medical", **readings: Any) -> UUID:
    phone = kind == "phone_call"
    written = ledger.record_visit(
        pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id), kind=kind,
        services=["health_advice"] if phone else ["blood_glucose", "pulse"], readings=readings,
        started_at=start, ended_at=start + timedelta(minutes=30), township="高沟镇",
        distance_band="remote" if phone else "at_home", travel_km=Decimal(0 if phone else 3), gift_bag=False,
    )  # fmt: skip
    return written.id


def values(view: HealthView, elder_id: UUID) -> list[tuple[Any, ...]]:
    return [(r.visit_id, r.systolic, r.diastolic, r.pulse, r.glucose_mmol_l) for r in view.readings_of(elder_id).rows]


def test_an_elders_readings_appear_in_time_order_with_visit_and_volunteer(ledger: Ledger, open_view: OpenView) -> None:
    pair, other = make_pair(ledger, 1), make_pair(ledger, 2)
    later = visit_at(ledger, pair, FEB + timedelta(days=9))  # 135/85
    earlier = visit(ledger, pair, FEB, pulse=72, glucose_mmol_l=Decimal("6.8"))
    visit(ledger, pair, FEB + timedelta(days=4), kind="phone_call")  # no readings: not listed
    visit_at(ledger, other, FEB)
    view = caught_up(ledger, open_view())

    answer = view.readings_of(pair.elder_id)
    assert answer.position == event_count(ledger)
    assert [(r.visit_id, r.volunteer_id, r.taken_at) for r in answer.rows] == [
        (earlier, pair.volunteer_id, FEB),
        (later, pair.volunteer_id, FEB + timedelta(days=9)),
    ]
    assert values(view, pair.elder_id) == [
        (earlier, None, None, Decimal(72), Decimal("6.8")),
        (later, Decimal(135), Decimal(85), None, None),
    ]
    assert len(view.readings_of(other.elder_id).rows) == 1
    assert view.readings_of(pair.volunteer_id).rows == ()  # not an elder: nothing


def test_a_voided_visits_readings_vanish(ledger: Ledger, open_view: OpenView) -> None:
    pair = make_pair(ledger, 1)
    kept = visit_at(ledger, pair, FEB)
    wrong = visit(ledger, pair, FEB + timedelta(days=1), pulse=190)
    view = caught_up(ledger, open_view())
    assert [r.visit_id for r in view.readings_of(pair.elder_id).rows] == [kept, wrong]

    ledger.void_visit(wrong, reason_code="wrong_elder", by=COORDINATOR)
    caught_up(ledger, view)
    answer = view.readings_of(pair.elder_id)
    assert ([r.visit_id for r in answer.rows], answer.position) == ([kept], event_count(ledger))


def test_an_amendment_replaces_the_readings_and_moves_them_in_time(ledger: Ledger, open_view: OpenView) -> None:
    pair = make_pair(ledger, 1)
    first = visit_at(ledger, pair, FEB)  # 135/85
    second = visit(ledger, pair, FEB + timedelta(days=3), kind="phone_call")
    view = caught_up(ledger, open_view())

    changes = {"readings": {"pulse": 64, "glucose_mmol_l": Decimal("5.2")}}
    ledger.amend_visit(first, changes=changes, reason_code="wrong_reading", by=COORDINATOR)
    caught_up(ledger, view)
    assert values(view, pair.elder_id) == [(first, None, None, Decimal(64), Decimal("5.2"))]

    # A phone call amended into a home visit with readings; the first moved after it.
    home = {"kind": "medical", "distance_band": "at_home", "readings": {"systolic": 150, "diastolic": 95}}
    ledger.amend_visit(second, changes=home, reason_code="wrong_kind", by=COORDINATOR)
    moved = FEB + timedelta(days=5)
    when = {"started_at": moved, "ended_at": moved + timedelta(minutes=45)}
    ledger.amend_visit(first, changes=when, reason_code="wrong_time", by=COORDINATOR)
    caught_up(ledger, view)
    assert [(r.visit_id, r.taken_at, r.systolic) for r in view.readings_of(pair.elder_id).rows] == [
        (second, FEB + timedelta(days=3), Decimal(150)),
        (first, moved, None),
    ]

    # Readings taken out altogether: the visit is no longer listed.
    ledger.amend_visit(second, changes={"readings": {}}, reason_code="wrong_reading", by=COORDINATOR)
    caught_up(ledger, view)
    assert [r.visit_id for r in view.readings_of(pair.elder_id).rows] == [first]


def test_a_view_rebuilt_from_position_zero_reads_the_same_as_the_one_kept_up_live(
    ledger: Ledger, open_view: OpenView
) -> None:
    live = open_view()
    pairs = [make_pair(ledger, n) for n in range(3)]
    for n, pair in enumerate(pairs):
        ids = [visit(ledger, pair, FEB + timedelta(days=d), pulse=60 + d + n) for d in range(4)]
        caught_up(ledger, live, page_size=2)
        ledger.void_visit(ids[1], reason_code="duplicate", by=COORDINATOR)
        change = {"readings": {"pulse": 99}, "started_at": FEB + timedelta(days=9, hours=n)}
        ledger.amend_visit(ids[2], changes={**change, "ended_at": change["started_at"] + timedelta(minutes=30)},
                           reason_code="wrong_reading", by=COORDINATOR)  # fmt: skip
        caught_up(ledger, live, page_size=3)

    again = caught_up(ledger, open_view("health_rebuilt"))
    one_by_one = caught_up(ledger, open_view("health_one_by_one"), page_size=1)
    assert again.contents() == one_by_one.contents() == live.contents()
    for n, pair in enumerate(pairs):
        assert again.readings_of(pair.elder_id) == live.readings_of(pair.elder_id)
        assert [r.pulse for r in live.readings_of(pair.elder_id).rows] == [60 + n, 63 + n, 99]
