"""The audit's rules A01–A10 as pure functions: their boundaries, and what each one ignores."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from projections.audit.rules import (
    ClaimState,
    DepartureState,
    LineState,
    PairingState,
    VisitState,
    double_claim,
    item_anomaly,
    over_commitment,
    overlap,
    self_approval,
    spoken,
    visit_anomalies,
)

START = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)  # 09:00 on 10 February in the county
VOLUNTEER = uuid4()


def visit(minutes: float = 45, *, start: datetime = START, late: timedelta = timedelta(minutes=10)) -> VisitState:
    end = start + timedelta(minutes=minutes)
    return VisitState(uuid4(), uuid4(), VOLUNTEER, uuid4(), "medical", start, end, end + late, "confirmed", 1, 1)


def pairing(v: VisitState, since: date = date(2026, 1, 1), ended: date | None = None) -> PairingState:
    return PairingState(v.pairing_id, v.volunteer_id, v.elder_id, since, ended, 2, None if ended is None else 3)


def codes(v: VisitState, p: PairingState | None = None, d: DepartureState | None = None) -> list[str]:
    return [a.code for a in visit_anomalies(v, p if p is not None else pairing(v), d)]


def claim(status: str, *, submitted_by: str = "v-1", approved_by: str | None = None) -> ClaimState:
    return ClaimState(uuid4(), uuid4(), "lianshui", "2026-02", submitted_by, status, approved_by, 2000, 3000, 1, 10, 11,
                      11 if approved_by else None, 12 if status == "paid" else None)  # fmt: skip


def test_a_normal_visit_breaks_no_rule() -> None:
    assert codes(visit()) == []


@pytest.mark.parametrize(
    ("minutes", "flagged"), [(4.99, True), (5, False), (8 * 60, False), (8 * 60 + 0.01, True), (-10, True)]
)
def test_a06_a_visit_lasts_from_five_minutes_to_eight_hours(minutes: float, flagged: bool) -> None:
    assert codes(visit(minutes)) == (["A06"] if flagged else [])


@pytest.mark.parametrize(("late", "flagged"), [(timedelta(days=30), False), (timedelta(days=30, seconds=1), True)])
def test_a10_counts_thirty_days_of_24_hours_from_the_start_to_the_recording(late: timedelta, flagged: bool) -> None:
    v = visit(60)
    v.recorded_at = v.started_at + late
    assert codes(v) == (["A10"] if flagged else [])


def test_a03_the_visit_day_in_the_county_must_fall_within_the_pairing() -> None:
    v = visit(start=datetime(2026, 2, 9, 16, 30, tzinfo=UTC))  # 00:30 on 10 February in the county
    assert codes(v, pairing(v, since=date(2026, 2, 10))) == []
    assert codes(v, pairing(v, since=date(2026, 2, 11))) == ["A03"]
    assert codes(v, pairing(v, ended=date(2026, 2, 10))) == []
    [a03] = visit_anomalies(v, pairing(v, ended=date(2026, 2, 9)), None)
    assert (a03.code, a03.ids, a03.positions) == ("A03", (v.visit_id, v.pairing_id), (1, 2, 3))
    [unknown] = visit_anomalies(v, None, None)
    assert "never formed" in unknown.description


def test_a04_a_visit_on_the_day_of_departure_is_allowed_not_after() -> None:
    v = visit()
    assert codes(v, d=DepartureState(v.elder_id, date(2026, 2, 10), "deceased", 9)) == []
    [a04] = visit_anomalies(v, pairing(v), DepartureState(v.elder_id, date(2026, 2, 9), "deceased", 9))
    assert (a04.ids, a04.positions) == ((v.visit_id,), (1, 9))


def test_a_voided_visit_breaks_no_visit_rule() -> None:
    v = replace(visit(2), status="voided")
    v.recorded_at += timedelta(days=60)
    assert codes(v, pairing(v, since=date(2026, 3, 1))) == []
    assert overlap(v, visit()) is None


def test_a05_visits_overlap_only_if_they_share_time() -> None:
    first = visit(90)
    second = visit(60, start=START + timedelta(hours=1))
    touching = visit(30, start=first.ended_at)
    a05 = overlap(second, first)
    assert a05 is not None and a05.ids == (first.visit_id, second.visit_id)
    assert (a05.subject, a05.other) == (str(first.visit_id), str(second.visit_id))
    assert "overlap by 30 minutes" in a05.description
    assert overlap(first, touching) is None
    assert overlap(first, replace(second, volunteer_id=uuid4())) is None
    assert overlap(first, first) is None


@pytest.mark.parametrize(
    ("claim_status", "visit_status", "code"),
    [
        ("submitted", "confirmed", None), ("submitted", "disputed", "A01"), ("approved", "recorded", "A01"),
        ("approved", "voided", "A01"), ("submitted", "unknown", "A01"), ("paid", "confirmed", None),
        ("paid", "voided", "A08"), ("paid", "disputed", "A08"), ("paid", "recorded", None),
        ("rejected", "disputed", None), ("reversed", "voided", None),
    ],
)  # fmt: skip
def test_a01_and_a08_depend_on_the_claim_and_the_visit_now(claim_status: str, visit_status: str, code: str) -> None:
    c, v = claim(claim_status), uuid4()
    found = item_anomaly(c, v, visit_status, 20)
    assert (found.code if found else None) == code
    if found:
        assert found.ids == (v, c.claim_id) and 20 in found.positions


def test_a02_counts_only_live_claims() -> None:
    v: UUID = uuid4()
    live = [claim("paid"), claim("submitted")]
    assert double_claim(v, [live[0], claim("rejected"), claim("reversed")]) is None
    a02 = double_claim(v, [*live, claim("rejected")])
    assert a02 is not None and a02.ids == (v, live[0].claim_id, live[1].claim_id)


def test_a07_the_approver_is_not_the_submitter() -> None:
    assert self_approval(claim("approved", approved_by="finance-a")) is None
    assert self_approval(claim("submitted")) is None
    own = claim("reversed", approved_by="v-1")
    a07 = self_approval(own)
    assert a07 is not None and a07.ids == (own.claim_id,)


def test_a09_a_line_may_be_fully_committed_not_more() -> None:
    line = LineState(uuid4(), "transport", "lianshui", 2026, 1000, 1000, 0, 7)
    assert over_commitment(line) is None and line.available == 0
    line.committed += 1
    a09 = over_commitment(line)
    assert a09 is not None and (a09.ids, a09.other, a09.positions) == ((line.budget_id,), "transport", (7,))


def test_spans_are_spoken_as_people_say_them() -> None:
    assert [spoken(timedelta(minutes=m)) for m in (1, 3, 60, 125, 540)] == [
        "1 minute", "3 minutes", "1 hour", "2 hours 5 minutes", "9 hours",
    ]  # fmt: skip
