"""Volunteers: recruitment, training, suspension, reinstatement, retirement; only active ones act."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import COORDINATOR, TOWNSHIP, VISIT_MONTH, Make, Pair, as_volunteer, recorded, refused


def suspended(ledger: Ledger, volunteer: object) -> None:
    ledger.suspend_volunteer(volunteer, reason="投诉调查中", by=COORDINATOR)  # type: ignore[arg-type]


def retired(ledger: Ledger, volunteer: object) -> None:
    ledger.retire_volunteer(volunteer, reason="调离本县", by=COORDINATOR)  # type: ignore[arg-type]


STOPPED = [pytest.param(suspended, id="suspended"), pytest.param(retired, id="retired")]


# Recruitment -------------------------------------------------------------------------------


def test_recruiting_records_recruited_with_every_field(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        written = ledger.recruit_volunteer(
            county="lianshui", name="李医生", unit="县人民医院", profession="nurse",
            phone="13900000002", township=TOWNSHIP, by=COORDINATOR,
        )  # fmt: skip
    event = new.one("volunteer.Recruited")
    assert new.names == ["volunteer.Recruited"]
    assert event.originator_id == written.id
    assert (event.name, event.unit, event.profession, event.phone, event.township) == (
        "李医生", "县人民医院", "nurse", "13900000002", TOWNSHIP,
    )  # fmt: skip


def test_volunteer_with_unknown_profession_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="profession"):
        ledger.recruit_volunteer(
            county="lianshui", name="李", unit="u", profession="lawyer", phone="1", township=TOWNSHIP, by=COORDINATOR
        )


def test_volunteer_in_unknown_township_is_refused(ledger: Ledger) -> None:
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        ledger.recruit_volunteer(
            county="lianshui", name="李", unit="u", profession="doctor", phone="1", township="火星镇", by=COORDINATOR
        )


# Training ----------------------------------------------------------------------------------


def test_training_records_course_hours_and_date(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with recorded(ledger) as new:
        ledger.record_training(volunteer, course="急救培训", hours=Decimal("3.5"), on=date(2026, 2, 5), by=COORDINATOR)
    event = new.one("volunteer.TrainingCompleted")
    assert (event.course, event.hours, event.on) == ("急救培训", Decimal("3.5"), date(2026, 2, 5))
    assert ledger.repository.get(volunteer).training_hours == {2026: Decimal("3.5")}


@pytest.mark.parametrize("hours", [Decimal(24), 24, Decimal("0.5")])
def test_training_hours_up_to_a_day_are_accepted(ledger: Ledger, make: Make, hours: object) -> None:
    volunteer = make.volunteer()
    ledger.record_training(volunteer, course="c", hours=hours, on=date(2026, 2, 5), by=COORDINATOR)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "hours",
    [Decimal(0), Decimal(-1), Decimal("24.01"), 25, Decimal("Infinity"), 2.5, "3", True, None],
    ids=["zero", "negative", "over-24", "int-over-24", "infinity", "float", "text", "bool", "none"],
)
def test_training_hours_out_of_bounds_or_not_a_number_are_refused(ledger: Ledger, make: Make, hours: object) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="hours"):
        ledger.record_training(volunteer, course="c", hours=hours, on=date(2026, 2, 5), by=COORDINATOR)  # type: ignore[arg-type]


def test_training_hours_nan_is_refused_as_invalid_input(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="hours"):
        ledger.record_training(volunteer, course="c", hours=Decimal("NaN"), on=date(2026, 2, 5), by=COORDINATOR)


def test_training_dated_in_the_future_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="date"):
        ledger.record_training(volunteer, course="c", hours=Decimal(2), on=date(2026, 3, 2), by=COORDINATOR)


def test_training_without_a_course_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="course"):
        ledger.record_training(volunteer, course=" ", hours=Decimal(2), on=date(2026, 2, 5), by=COORDINATOR)


def test_retired_volunteer_cannot_record_training(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    retired(ledger, volunteer)
    with refused(ledger, RuleViolation, rule="volunteer.retired"):
        ledger.record_training(volunteer, course="c", hours=Decimal(2), on=date(2026, 2, 5), by=COORDINATOR)


def test_suspended_volunteer_can_still_record_training(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    suspended(ledger, volunteer)
    ledger.record_training(volunteer, course="c", hours=Decimal(2), on=date(2026, 2, 5), by=COORDINATOR)


def test_training_for_unknown_volunteer_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, NotFound):
        ledger.record_training(elder, course="c", hours=Decimal(2), on=date(2026, 2, 5), by=COORDINATOR)


# Suspension, reinstatement, retirement -----------------------------------------------------


def test_suspension_records_reason_and_stops_the_volunteer(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with recorded(ledger) as new:
        suspended(ledger, volunteer)
    assert new.one("volunteer.Suspended").reason == "投诉调查中"
    assert ledger.repository.get(volunteer).status == "suspended"


def test_suspension_without_reason_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="reason"):
        ledger.suspend_volunteer(volunteer, reason="", by=COORDINATOR)


@pytest.mark.parametrize("stop", STOPPED)
def test_suspending_a_volunteer_who_is_not_active_is_refused(ledger: Ledger, make: Make, stop: object) -> None:
    volunteer = make.volunteer()
    stop(ledger, volunteer)  # type: ignore[operator]
    with refused(ledger, RuleViolation, rule="volunteer.not_active"):
        suspended(ledger, volunteer)


def test_reinstating_a_suspended_volunteer_makes_them_active_again(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    suspended(ledger, volunteer)
    with recorded(ledger) as new:
        ledger.reinstate_volunteer(volunteer, reason="调查结束", by=COORDINATOR)
    assert new.one("volunteer.Reinstated").reason == "调查结束"
    assert ledger.repository.get(volunteer).status == "active"
    make.pairing(volunteer)  # can be paired again


def test_reinstating_an_active_volunteer_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, RuleViolation, rule="volunteer.not_suspended"):
        ledger.reinstate_volunteer(volunteer, reason="r", by=COORDINATOR)


def test_retired_volunteer_is_never_reinstated(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    suspended(ledger, volunteer)
    retired(ledger, volunteer)
    with refused(ledger, RuleViolation, rule="volunteer.not_suspended"):
        ledger.reinstate_volunteer(volunteer, reason="r", by=COORDINATOR)


def test_retirement_records_reason(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with recorded(ledger) as new:
        retired(ledger, volunteer)
    assert new.one("volunteer.Retired").reason == "调离本县"
    assert ledger.repository.get(volunteer).status == "retired"


def test_retiring_twice_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    retired(ledger, volunteer)
    with refused(ledger, RuleViolation, rule="volunteer.retired"):
        retired(ledger, volunteer)


# Only an active volunteer is paired, visits or claims --------------------------------------


@pytest.mark.parametrize("stop", STOPPED)
def test_volunteer_who_is_not_active_cannot_be_paired(ledger: Ledger, make: Make, stop: object) -> None:
    volunteer = make.volunteer()
    elder = make.elder()
    stop(ledger, volunteer)  # type: ignore[operator]
    with refused(ledger, RuleViolation, rule="volunteer.not_active"):
        make.pairing(volunteer, elder)


@pytest.mark.parametrize("stop", STOPPED)
def test_volunteer_who_is_not_active_cannot_record_visits(ledger: Ledger, make: Make, pair: Pair, stop: object) -> None:
    stop(ledger, pair.volunteer)  # type: ignore[operator]
    with refused(ledger, RuleViolation, rule="volunteer.not_active"):
        make.visit(pair.pairing)


@pytest.mark.parametrize("stop", STOPPED)
def test_volunteer_who_is_not_active_cannot_claim(ledger: Ledger, make: Make, pair: Pair, stop: object) -> None:
    visit = make.confirmed_visit(pair.pairing)
    stop(ledger, pair.volunteer)  # type: ignore[operator]
    with refused(ledger, RuleViolation, rule="volunteer.not_active"):
        ledger.submit_claim(
            volunteer_id=pair.volunteer, month=VISIT_MONTH, visit_ids=[visit], by=as_volunteer(pair.volunteer)
        )


def test_reinstated_volunteer_can_record_visits_again(ledger: Ledger, make: Make, pair: Pair) -> None:
    suspended(ledger, pair.volunteer)
    ledger.reinstate_volunteer(pair.volunteer, reason="ok", by=COORDINATOR)
    make.visit(pair.pairing)
