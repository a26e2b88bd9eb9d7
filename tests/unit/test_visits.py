"""Visits: the EVV elements, time and reading bounds, the pairing and elder at the visit's time,
confirmation, dispute and feedback, and the lock/unlock rules for amendments and voids."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation, TiexinError
from tests.unit.conftest import (
    COORDINATOR,
    COORDINATOR_2,
    EVALUATOR,
    FINANCE,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    VISIT_START,
    Make,
    Pair,
    as_volunteer,
    recorded,
    refused,
)

# The February 2026 visits lock when 30 days have passed after 28 February: from 31 March on,
# county time (Asia/Shanghai, UTC+8).
LAST_OPEN_MOMENT = datetime(2026, 3, 30, 15, 59, tzinfo=UTC)  # 23:59 on 30 March in the county
FIRST_LOCKED_MOMENT = datetime(2026, 3, 30, 16, 0, tzinfo=UTC)  # 00:00 on 31 March in the county


def record(ledger: Ledger, make: Make, pairing: UUID, **overrides: Any) -> UUID:
    return ledger.record_visit(pairing_id=pairing, by=COORDINATOR, **make.visit_details(**overrides)).id


def amend_notes(ledger: Ledger, visit: UUID, notes: str = "补记：老人血压稳定") -> Any:
    return ledger.amend_visit(visit, changes={"notes": notes}, reason_code="late_detail", by=COORDINATOR)


def void(ledger: Ledger, visit: UUID) -> Any:
    return ledger.void_visit(visit, reason_code="entered_in_error", by=COORDINATOR)


def unlock(ledger: Ledger, visit: UUID, by: Any = COORDINATOR) -> Any:
    return ledger.unlock_visit(visit, reason="老人家属来电更正", by=by)


# Recording: the EVV elements ---------------------------------------------------------------


def test_recording_a_visit_records_every_evv_element(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    with recorded(ledger) as new:
        written = ledger.record_visit(
            pairing_id=pair.pairing,
            by=as_volunteer(pair.volunteer),
            **make.visit_details(travel_km=Decimal("3.2"), gift_bag=True, notes="送慰问品"),
        )
    assert new.names == ["visit.Recorded"]
    event = new.one("visit.Recorded")
    assert event.originator_id == written.id
    assert (event.pairing_id, event.volunteer_id, event.elder_id) == (pair.pairing, pair.volunteer, pair.elder)
    assert (event.kind, event.services) == ("medical", ["blood_pressure", "health_advice"])
    assert (event.started_at, event.ended_at) == (VISIT_START, VISIT_START + timedelta(hours=1))
    assert (event.township, event.distance_band) == (TOWNSHIP, "within_2km")
    assert event.readings == {"systolic": Decimal(132), "diastolic": Decimal(84), "pulse": Decimal(72)}
    assert (event.travel_km, event.gift_bag, event.notes) == (Decimal("3.2"), True, "送慰问品")
    assert event.timestamp == clock.now


@pytest.mark.parametrize(
    ("missing", "error", "code"),
    [
        ("kind", InvalidInput, "kind"),
        ("services", InvalidInput, "services"),
        ("started_at", InvalidInput, "started_at"),
        ("ended_at", InvalidInput, "ended_at"),
        ("distance_band", InvalidInput, "distance_band"),
    ],
)
def test_visit_missing_an_evv_element_is_refused(
    ledger: Ledger, make: Make, pair: Pair, missing: str, error: type[InvalidInput], code: str
) -> None:
    details = make.visit_details()
    del details[missing]
    with refused(ledger, error, field=code):
        ledger.record_visit(pairing_id=pair.pairing, by=COORDINATOR, **details)


def test_visit_missing_its_township_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    details = make.visit_details()
    del details["township"]
    with refused(ledger, TiexinError):
        ledger.record_visit(pairing_id=pair.pairing, by=COORDINATOR, **details)


def test_visit_missing_its_township_is_refused_as_invalid_input(ledger: Ledger, make: Make, pair: Pair) -> None:
    details = make.visit_details()
    del details["township"]
    with refused(ledger, InvalidInput, field="township"):
        ledger.record_visit(pairing_id=pair.pairing, by=COORDINATOR, **details)


def test_visit_without_a_pairing_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    # the pairing names who received the service and who gave it
    with refused(ledger, NotFound):
        ledger.record_visit(pairing_id=pair.elder, by=COORDINATOR, **make.visit_details())
    with refused(ledger, InvalidInput, field="id"):
        ledger.record_visit(pairing_id=None, by=COORDINATOR, **make.visit_details())  # type: ignore[arg-type]


def test_visit_in_an_unknown_township_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        record(ledger, make, pair.pairing, township="火星镇")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"kind": "massage"}, "kind"),
        ({"services": []}, "services"),
        ({"services": ["flying"]}, "services"),
        ({"services": ["chat", "chat"]}, "services"),
        ({"services": "chat"}, "services"),
        ({"distance_band": "next_door"}, "distance_band"),
        ({"started_at": datetime(2026, 2, 10, 2, 0)}, "started_at"),
        ({"ended_at": "2026-02-10T03:00:00Z"}, "ended_at"),
        ({"travel_km": Decimal(-1)}, "travel_km"),
        ({"travel_km": 501}, "travel_km"),
        ({"travel_km": "far"}, "travel_km"),
        ({"gift_bag": "yes"}, "gift_bag"),
        ({"readings": [120, 80]}, "readings"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_visit_with_a_malformed_field_is_refused(
    ledger: Ledger, make: Make, pair: Pair, overrides: dict[str, Any], code: str
) -> None:
    with refused(ledger, InvalidInput, field=code):
        record(ledger, make, pair.pairing, **overrides)


# Recording: time ---------------------------------------------------------------------------


def test_visit_ending_when_it_starts_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="ended_at"):
        record(ledger, make, pair.pairing, minutes=0)


def test_visit_ending_before_it_starts_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="ended_at"):
        record(ledger, make, pair.pairing, minutes=-30)


def test_visit_of_exactly_twelve_hours_is_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    record(ledger, make, pair.pairing, minutes=12 * 60)


def test_visit_longer_than_twelve_hours_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="ended_at"):
        record(ledger, make, pair.pairing, minutes=12 * 60 + 1)


def test_visit_ending_in_the_future_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    with refused(ledger, InvalidInput, field="ended_at"):
        record(ledger, make, pair.pairing, start=clock.now - timedelta(minutes=30), minutes=31)


def test_visit_entirely_in_the_future_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    with refused(ledger, InvalidInput, field="ended_at"):
        record(ledger, make, pair.pairing, start=clock.now + timedelta(days=1))


def test_visit_that_ended_just_now_is_accepted(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    record(ledger, make, pair.pairing, start=clock.now - timedelta(minutes=30), minutes=30)


# Recording: readings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("readings", "code"),
    [
        ({"systolic": 80, "diastolic": 90}, "readings.systolic"),
        ({"systolic": 90, "diastolic": 90}, "readings.systolic"),
        ({"systolic": 130}, "readings"),
        ({"diastolic": 80}, "readings"),
        ({"systolic": 261, "diastolic": 90}, "readings.systolic"),
        ({"systolic": 59, "diastolic": 40}, "readings.systolic"),
        ({"systolic": 180, "diastolic": 161}, "readings.diastolic"),
        ({"systolic": 120, "diastolic": 29}, "readings.diastolic"),
        ({"glucose_mmol_l": Decimal("0.9")}, "readings.glucose_mmol_l"),
        ({"glucose_mmol_l": 35.1}, "readings.glucose_mmol_l"),
        ({"glucose_mmol_l": "high"}, "readings.glucose_mmol_l"),
        ({"glucose_mmol_l": "NaN"}, "readings.glucose_mmol_l"),
        ({"pulse": 29}, "readings.pulse"),
        ({"pulse": 221}, "readings.pulse"),
        ({"pulse": True}, "readings.pulse"),
        ({"temperature": 37}, "readings"),
    ],
)
def test_physiologically_impossible_readings_are_refused(
    ledger: Ledger, make: Make, pair: Pair, readings: dict[str, Any], code: str
) -> None:
    with refused(ledger, InvalidInput, field=code):
        record(ledger, make, pair.pairing, readings=readings)


def test_readings_at_their_bounds_are_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = record(
        ledger, make, pair.pairing,
        readings={"systolic": 260, "diastolic": 160, "pulse": 220, "glucose_mmol_l": "35.0"},
    )  # fmt: skip
    record(ledger, make, pair.pairing, readings={"systolic": 60, "diastolic": 30, "pulse": 30, "glucose_mmol_l": 1})
    assert ledger.repository.get(visit).readings["glucose_mmol_l"] == Decimal("35.0")


def test_readings_on_a_phone_call_are_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="readings"):
        record(ledger, make, pair.pairing, kind="phone_call", readings={"pulse": 70})


def test_visit_without_readings_is_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    record(ledger, make, pair.pairing, kind="emotional", services=["chat"], readings={})


# Recording: phone calls and distance bands -------------------------------------------------


def test_phone_call_is_recorded_as_remote(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = record(ledger, make, pair.pairing, kind="phone_call")
    assert ledger.repository.get(visit).distance_band == "remote"


def test_phone_call_that_is_not_remote_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="distance_band"):
        record(ledger, make, pair.pairing, kind="phone_call", distance_band="at_home")


def test_home_visit_that_is_remote_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="distance_band"):
        record(ledger, make, pair.pairing, kind="daily_living", services=["cleaning"], distance_band="remote")


# Recording: the pairing was active at the visit's time -------------------------------------


def test_visit_before_the_pairing_began_is_refused(ledger: Ledger, make: Make) -> None:
    pairing = make.pairing(from_date=date(2026, 2, 11))
    with refused(ledger, RuleViolation, rule="visit.no_active_pairing"):
        record(ledger, make, pairing, start=VISIT_START.replace(day=10))


def test_visit_on_the_first_day_of_the_pairing_is_accepted(ledger: Ledger, make: Make) -> None:
    pairing = make.pairing(from_date=date(2026, 2, 10))
    record(ledger, make, pairing, start=VISIT_START.replace(day=10))


def test_visit_after_the_pairing_ended_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.end_pairing(pair.pairing, on=date(2026, 2, 12), reason="reassigned", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="visit.no_active_pairing"):
        record(ledger, make, pair.pairing, start=VISIT_START.replace(day=13))


def test_visit_on_the_last_day_of_the_pairing_is_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.end_pairing(pair.pairing, on=date(2026, 2, 12), reason="reassigned", by=COORDINATOR)
    record(ledger, make, pair.pairing, start=VISIT_START.replace(day=12))


def test_visit_pairing_check_uses_the_county_date(ledger: Ledger, make: Make) -> None:
    pairing = make.pairing(from_date=date(2026, 2, 10))
    # 2026-02-09T16:30Z is 00:30 on 10 February in the county; 15:30Z is still the 9th there
    record(ledger, make, pairing, start=datetime(2026, 2, 9, 16, 30, tzinfo=UTC))
    with refused(ledger, RuleViolation, rule="visit.no_active_pairing"):
        record(ledger, make, pairing, start=datetime(2026, 2, 9, 15, 30, tzinfo=UTC))


# Confirmation, dispute, feedback -----------------------------------------------------------


def test_confirming_a_visit_records_who_and_how(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with recorded(ledger) as new:
        ledger.confirm_visit(visit, confirmed_by="family", method="phone_callback", by=COORDINATOR)
    event = new.one("visit.Confirmed")
    assert (event.by, event.method) == ("family", "phone_callback")
    assert ledger.repository.get(visit).status == "confirmed"


def test_confirming_a_visit_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with refused(ledger, RuleViolation, rule="visit.already_confirmed"):
        ledger.confirm_visit(visit, confirmed_by="elder", method="in_person", by=COORDINATOR)


def test_confirming_a_voided_visit_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        ledger.confirm_visit(visit, confirmed_by="elder", method="signature", by=COORDINATOR)


def test_confirming_by_unknown_party_or_method_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="by"):
        ledger.confirm_visit(visit, confirmed_by="neighbour", method="signature", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="method"):
        ledger.confirm_visit(visit, confirmed_by="elder", method="telepathy", by=COORDINATOR)


def test_confirming_an_unknown_visit_is_refused(ledger: Ledger, pair: Pair) -> None:
    with refused(ledger, NotFound):
        ledger.confirm_visit(pair.pairing, confirmed_by="elder", method="signature", by=COORDINATOR)


def test_disputing_a_visit_records_the_reason_code(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with recorded(ledger) as new:
        ledger.dispute_visit(visit, reason_code="too_short", comment="只待了五分钟", by=COORDINATOR)
    event = new.one("visit.Disputed")
    assert (event.reason_code, event.comment) == ("too_short", "只待了五分钟")
    assert ledger.repository.get(visit).status == "disputed"


def test_disputing_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    ledger.dispute_visit(visit, reason_code="wrong_time", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="visit.already_disputed"):
        ledger.dispute_visit(visit, reason_code="other", by=COORDINATOR)


def test_disputing_a_voided_visit_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        ledger.dispute_visit(visit, reason_code="other", by=COORDINATOR)


def test_disputing_for_an_unknown_reason_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="reason_code"):
        ledger.dispute_visit(visit, reason_code="grumpy", by=COORDINATOR)


@pytest.mark.parametrize("rating", [1, 3, 5])
def test_feedback_from_one_to_five_is_recorded(ledger: Ledger, make: Make, pair: Pair, rating: int) -> None:
    visit = make.visit(pair.pairing)
    with recorded(ledger) as new:
        ledger.give_feedback(visit, rating=rating, comment="很好", by=COORDINATOR)
    event = new.one("visit.FeedbackGiven")
    assert (event.rating, event.comment) == (rating, "很好")


@pytest.mark.parametrize("rating", [0, 6, -1, 4.5, "5", True, None])
def test_feedback_outside_one_to_five_is_refused(ledger: Ledger, make: Make, pair: Pair, rating: Any) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="rating"):
        ledger.give_feedback(visit, rating=rating, by=COORDINATOR)


def test_feedback_is_given_once(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    ledger.give_feedback(visit, rating=4, by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="visit.feedback_given"):
        ledger.give_feedback(visit, rating=5, by=COORDINATOR)


def test_feedback_on_a_voided_visit_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        ledger.give_feedback(visit, rating=5, by=COORDINATOR)


# Amendment ---------------------------------------------------------------------------------


def test_amendment_records_only_the_fields_that_change_with_the_reason_code(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visit = make.visit(pair.pairing)
    with recorded(ledger) as new:
        ledger.amend_visit(
            visit,
            changes={
                "township": TOWNSHIP,
                "notes": "补记",
                "readings": {"systolic": 140, "diastolic": 84, "pulse": 72},
            },
            reason_code="wrong_reading",
            by=COORDINATOR,
        )
    assert new.names == ["visit.Amended"]
    event = new.one("visit.Amended")
    assert event.reason_code == "wrong_reading"
    assert event.changes == {
        "notes": "补记",
        "readings": {"systolic": Decimal(140), "diastolic": Decimal(84), "pulse": Decimal(72)},
    }
    amended = ledger.repository.get(visit)
    assert (amended.notes, amended.readings["systolic"], amended.township) == ("补记", Decimal(140), TOWNSHIP)


def test_amendment_can_move_the_visit_in_time(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    start = VISIT_START.replace(day=11)
    ledger.amend_visit(
        visit, changes={"started_at": start, "ended_at": start + timedelta(minutes=45)}, reason_code="wrong_time",
        by=COORDINATOR,
    )  # fmt: skip
    assert ledger.repository.get(visit).started_at == start


def test_amendment_that_changes_nothing_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="changes"):
        ledger.amend_visit(visit, changes={"township": TOWNSHIP}, reason_code="typo", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="changes"):
        ledger.amend_visit(visit, changes={}, reason_code="typo", by=COORDINATOR)


def test_amendment_of_a_field_that_cannot_be_amended_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    other = make.pairing()
    with refused(ledger, InvalidInput, field="changes"):
        ledger.amend_visit(visit, changes={"pairing_id": other}, reason_code="other", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="changes"):
        ledger.amend_visit(visit, changes={"status": "confirmed"}, reason_code="other", by=COORDINATOR)


def test_amendment_with_an_unknown_reason_code_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="reason_code"):
        ledger.amend_visit(visit, changes={"notes": "x"}, reason_code="felt_like_it", by=COORDINATOR)


def test_amending_ended_at_into_the_future_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing, start=clock.now - timedelta(hours=2))
    with refused(ledger, InvalidInput, field="ended_at"):
        ledger.amend_visit(
            visit, changes={"ended_at": clock.now + timedelta(minutes=5)}, reason_code="wrong_time", by=COORDINATOR
        )


def test_amending_ended_at_before_started_at_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="ended_at"):
        ledger.amend_visit(
            visit, changes={"ended_at": VISIT_START - timedelta(minutes=1)}, reason_code="wrong_time", by=COORDINATOR
        )


def test_amending_a_visit_beyond_twelve_hours_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="ended_at"):
        ledger.amend_visit(
            visit, changes={"ended_at": VISIT_START + timedelta(hours=13)}, reason_code="wrong_time", by=COORDINATOR
        )


def test_amending_a_visit_to_before_its_pairing_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    start = datetime(2025, 12, 20, 2, 0, tzinfo=UTC)
    with refused(ledger, RuleViolation, rule="visit.no_active_pairing"):
        ledger.amend_visit(
            visit, changes={"started_at": start, "ended_at": start + timedelta(hours=1)}, reason_code="wrong_time",
            by=COORDINATOR,
        )  # fmt: skip


def test_amending_readings_out_of_bounds_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="readings.systolic"):
        ledger.amend_visit(
            visit, changes={"readings": {"systolic": 70, "diastolic": 90}}, reason_code="wrong_reading", by=COORDINATOR
        )


def test_amending_a_home_visit_into_a_phone_call_needs_remote_band_and_no_readings(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="distance_band"):
        ledger.amend_visit(visit, changes={"kind": "phone_call"}, reason_code="wrong_kind", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="readings"):
        ledger.amend_visit(
            visit, changes={"kind": "phone_call", "distance_band": "remote"}, reason_code="wrong_kind", by=COORDINATOR
        )
    ledger.amend_visit(
        visit,
        changes={"kind": "phone_call", "distance_band": "remote", "readings": {}, "services": ["chat"]},
        reason_code="wrong_kind",
        by=COORDINATOR,
    )


def test_amending_a_voided_visit_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        amend_notes(ledger, visit)


# Void --------------------------------------------------------------------------------------


def test_voiding_records_the_reason_code(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with recorded(ledger) as new:
        ledger.void_visit(visit, reason_code="duplicate", by=COORDINATOR)
    assert new.one("visit.Voided").reason_code == "duplicate"
    assert ledger.repository.get(visit).status == "voided"


def test_voiding_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        void(ledger, visit)


def test_voiding_for_an_unknown_reason_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, InvalidInput, field="reason_code"):
        ledger.void_visit(visit, reason_code="meh", by=COORDINATOR)


# Lock: 30 days after the month ends ---------------------------------------------------------


@pytest.mark.parametrize("correct", [amend_notes, void], ids=["amend", "void"])
def test_visit_can_be_corrected_until_thirty_days_after_its_month(
    ledger: Ledger, make: Make, pair: Pair, clock: Any, correct: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = LAST_OPEN_MOMENT
    correct(ledger, visit)


@pytest.mark.parametrize("correct", [amend_notes, void], ids=["amend", "void"])
def test_correcting_a_visit_more_than_thirty_days_after_its_month_is_refused(
    ledger: Ledger, make: Make, pair: Pair, clock: Any, correct: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    with refused(ledger, RuleViolation, rule="visit.locked"):
        correct(ledger, visit)


def test_locked_visit_can_still_be_confirmed_disputed_and_rated(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    ledger.confirm_visit(visit, confirmed_by="coordinator", method="phone_callback", by=COORDINATOR)
    ledger.give_feedback(visit, rating=5, by=COORDINATOR)


# Lock: in an approved claim -----------------------------------------------------------------


@pytest.mark.parametrize("correct", [amend_notes, void], ids=["amend", "void"])
def test_correcting_a_visit_in_an_approved_claim_is_refused(
    ledger: Ledger, make: Make, pair: Pair, correct: Any
) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.budget()
    make.approved_claim(pair.volunteer, [visit])
    with refused(ledger, RuleViolation, rule="visit.locked"):
        correct(ledger, visit)


@pytest.mark.parametrize("correct", [amend_notes, void], ids=["amend", "void"])
def test_correcting_a_visit_in_a_paid_claim_is_refused(ledger: Ledger, make: Make, pair: Pair, correct: Any) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.budget()
    claim = make.approved_claim(pair.volunteer, [visit])
    ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 3, 1), by=FINANCE)
    with refused(ledger, RuleViolation, rule="visit.locked"):
        correct(ledger, visit)


def test_visit_in_a_claim_not_yet_approved_can_be_amended(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.claim(pair.volunteer, [visit])
    amend_notes(ledger, visit)


def test_visit_of_a_reversed_claim_is_no_longer_locked_by_it(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.budget()
    claim = make.approved_claim(pair.volunteer, [visit])
    ledger.reverse_claim(claim, reason="重复申领", by=FINANCE)
    amend_notes(ledger, visit)


# Unlock -------------------------------------------------------------------------------------


def test_coordinator_unlock_records_the_reason_and_lets_one_amendment_through(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    with recorded(ledger) as new:
        unlock(ledger, visit)
    unlocked = new.one("visit.Unlocked")
    assert unlocked.reason == "老人家属来电更正"
    assert unlocked.meta.role == "coordinator"
    with recorded(ledger) as new:
        amend_notes(ledger, visit, "第一次更正")
    assert new.names == ["visit.Amended"]
    with refused(ledger, RuleViolation, rule="visit.locked"):
        amend_notes(ledger, visit, "第二次更正")
    with refused(ledger, RuleViolation, rule="visit.locked"):
        void(ledger, visit)


def test_coordinator_unlock_lets_one_void_through(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    unlock(ledger, visit)
    with recorded(ledger) as new:
        void(ledger, visit)
    assert new.names == ["visit.Voided"]


def test_each_correction_of_a_locked_visit_needs_its_own_unlock(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    unlock(ledger, visit)
    amend_notes(ledger, visit, "第一次更正")
    unlock(ledger, visit, by=COORDINATOR_2)
    amend_notes(ledger, visit, "第二次更正")
    assert ledger.repository.get(visit).notes == "第二次更正"


def test_coordinator_unlock_lets_one_correction_of_a_visit_in_an_approved_claim_through(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.budget()
    make.approved_claim(pair.volunteer, [visit])
    unlock(ledger, visit)
    amend_notes(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.locked"):
        amend_notes(ledger, visit, "again")


@pytest.mark.parametrize(
    "by", [as_volunteer(UUID(int=7)), FINANCE, EVALUATOR], ids=["volunteer", "finance", "evaluator"]
)
def test_unlock_by_anyone_but_a_coordinator_is_refused(
    ledger: Ledger, make: Make, pair: Pair, clock: Any, by: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    with refused(ledger, RuleViolation, rule="visit.unlock_role"):
        unlock(ledger, visit, by=by)
    with refused(ledger, RuleViolation, rule="visit.locked"):
        amend_notes(ledger, visit)


def test_unlock_without_a_reason_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    with refused(ledger, InvalidInput, field="reason"):
        ledger.unlock_visit(visit, reason="  ", by=COORDINATOR)


def test_unlocking_a_visit_that_is_not_locked_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, RuleViolation, rule="visit.not_locked"):
        unlock(ledger, visit)


def test_unlocking_twice_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    unlock(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.already_unlocked"):
        unlock(ledger, visit)


def test_unlocking_a_voided_visit_is_refused(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing)
    void(ledger, visit)
    clock.now = FIRST_LOCKED_MOMENT
    with refused(ledger, RuleViolation, rule="visit.voided"):
        unlock(ledger, visit)


def test_amendment_of_an_unlocked_visit_still_rechecks_invariants(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    visit = make.visit(pair.pairing)
    clock.now = FIRST_LOCKED_MOMENT
    unlock(ledger, visit)
    with refused(ledger, InvalidInput, field="ended_at"):
        ledger.amend_visit(
            visit, changes={"ended_at": clock.now + timedelta(hours=1)}, reason_code="wrong_time", by=COORDINATOR
        )
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        ledger.amend_visit(visit, changes={"township": "火星镇"}, reason_code="wrong_place", by=COORDINATOR)
    ledger.amend_visit(visit, changes={"township": OTHER_TOWNSHIP}, reason_code="wrong_place", by=COORDINATOR)


def test_amendment_cannot_move_a_visit_into_a_closed_month(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    visit = make.visit(pair.pairing)
    clock.now = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # January closed on 2 March; February is open
    start = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
    with refused(ledger, RuleViolation, rule="visit.locked"):
        ledger.amend_visit(
            visit, changes={"started_at": start, "ended_at": start + timedelta(minutes=45)}, reason_code="wrong_time",
            by=COORDINATOR,
        )  # fmt: skip


def test_amendment_cannot_reprice_a_claim_awaiting_approval(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.claim(pair.volunteer, [visit])
    with refused(ledger, RuleViolation, rule="visit.in_pending_claim"):
        ledger.amend_visit(visit, changes={"township": OTHER_TOWNSHIP}, reason_code="wrong_place", by=COORDINATOR)
    ledger.amend_visit(visit, changes={"notes": "补记血压"}, reason_code="late_detail", by=COORDINATOR)
    assert ledger.repository.get(visit).notes == "补记血压"
