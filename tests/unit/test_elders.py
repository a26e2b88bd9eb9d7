"""Elders: registration, relocation, departure, and what a departure forbids afterwards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import (
    COORDINATOR,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    VISIT_START,
    Make,
    Pair,
    recorded,
    refused,
)


def elder_fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "county": "lianshui",
        "name": "王老",
        "birth_date": date(1935, 7, 1),
        "sex": "female",
        "township": TOWNSHIP,
        "address": "人民路 8 号",
        "phone": "13800000001",
        "notes": "独居",
        "by": COORDINATOR,
    }
    fields.update(overrides)
    return fields


# Registration ------------------------------------------------------------------------------


def test_registering_an_elder_records_registered_with_every_field(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        written = ledger.register_elder(**elder_fields())  # type: ignore[arg-type]
    assert new.names == ["elder.Registered"]
    event = new.one("elder.Registered")
    assert event.originator_id == written.id
    assert (event.name, event.birth_date, event.sex, event.township) == ("王老", date(1935, 7, 1), "female", TOWNSHIP)
    assert (event.address, event.phone, event.notes, event.county) == ("人民路 8 号", "13800000001", "独居", "lianshui")
    assert written.version == 1
    assert written.position == new.events[0].position


def test_elder_in_unknown_township_is_refused(ledger: Ledger) -> None:
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        ledger.register_elder(**elder_fields(township="不存在镇"))  # type: ignore[arg-type]


def test_elder_in_township_of_another_county_is_refused(ledger: Ledger, make: Make) -> None:
    make.county("huaiyin", ("王营镇",))
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        ledger.register_elder(**elder_fields(township="王营镇"))  # type: ignore[arg-type]


def test_elder_of_unknown_county_is_refused(ledger: Ledger) -> None:
    with refused(ledger, NotFound):
        ledger.register_elder(**elder_fields(county="nowhere"))  # type: ignore[arg-type]


def test_birth_date_in_the_future_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="birth_date"):
        ledger.register_elder(**elder_fields(birth_date=date(2026, 3, 2)))  # type: ignore[arg-type]


def test_birth_date_today_in_the_county_is_accepted(ledger: Ledger, clock: object) -> None:
    # 2026-03-01T01:00Z is already 1 March in Asia/Shanghai
    ledger.register_elder(**elder_fields(birth_date=date(2026, 3, 1)))  # type: ignore[arg-type]


def test_birth_date_that_is_not_a_date_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="birth_date"):
        ledger.register_elder(**elder_fields(birth_date="1935-07-01"))  # type: ignore[arg-type]
    with refused(ledger, InvalidInput, field="birth_date"):
        ledger.register_elder(**elder_fields(birth_date=datetime(1935, 7, 1, tzinfo=UTC)))  # type: ignore[arg-type]


def test_implausibly_old_birth_date_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="birth_date"):
        ledger.register_elder(**elder_fields(birth_date=date(1890, 1, 1)))  # type: ignore[arg-type]


def test_unknown_sex_and_blank_name_are_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="sex"):
        ledger.register_elder(**elder_fields(sex="x"))  # type: ignore[arg-type]
    with refused(ledger, InvalidInput, field="name"):
        ledger.register_elder(**elder_fields(name="  "))  # type: ignore[arg-type]
    with refused(ledger, InvalidInput, field="address"):
        ledger.register_elder(**elder_fields(address=""))  # type: ignore[arg-type]


# Relocation --------------------------------------------------------------------------------


def test_relocation_records_new_township_and_address(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with recorded(ledger) as new:
        ledger.relocate_elder(elder, township=OTHER_TOWNSHIP, address="高沟街 3 号", by=COORDINATOR)
    event = new.one("elder.Relocated")
    assert (event.township, event.address) == (OTHER_TOWNSHIP, "高沟街 3 号")
    assert new.names == ["elder.Relocated"]


def test_relocation_to_unknown_township_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, RuleViolation, rule="county.unknown_township"):
        ledger.relocate_elder(elder, township="不存在镇", address="x", by=COORDINATOR)


def test_relocation_of_unknown_elder_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, NotFound):
        ledger.relocate_elder(volunteer, township=TOWNSHIP, address="x", by=COORDINATOR)


def test_relocation_after_departure_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    ledger.record_departure(elder, kind="moved_away", on=date(2026, 2, 20), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        ledger.relocate_elder(elder, township=OTHER_TOWNSHIP, address="x", by=COORDINATOR)


# Departure ---------------------------------------------------------------------------------


def test_departure_records_kind_and_date(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with recorded(ledger) as new:
        ledger.record_departure(elder, kind="deceased", on=date(2026, 2, 27), by=COORDINATOR)
    event = new.one("elder.Departed")
    assert (event.kind, event.on) == ("deceased", date(2026, 2, 27))


def test_departure_twice_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    ledger.record_departure(elder, kind="withdrawn", on=date(2026, 2, 1), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        ledger.record_departure(elder, kind="deceased", on=date(2026, 2, 10), by=COORDINATOR)


def test_departure_in_the_future_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, InvalidInput, field="date"):
        ledger.record_departure(elder, kind="moved_away", on=date(2026, 3, 2), by=COORDINATOR)


def test_departure_before_birth_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder(birth_date=date(1938, 5, 1))
    with refused(ledger, InvalidInput, field="date"):
        ledger.record_departure(elder, kind="deceased", on=date(1938, 4, 30), by=COORDINATOR)


def test_departure_of_unknown_kind_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, InvalidInput, field="kind"):
        ledger.record_departure(elder, kind="vanished", on=date(2026, 2, 1), by=COORDINATOR)


def test_departure_date_that_is_not_a_date_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, InvalidInput, field="date"):
        ledger.record_departure(elder, kind="deceased", on="2026-02-01", by=COORDINATOR)  # type: ignore[arg-type]


# What a departure forbids ------------------------------------------------------------------


def test_departed_elder_cannot_be_paired(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    volunteer = make.volunteer()
    ledger.record_departure(elder, kind="withdrawn", on=date(2026, 2, 1), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        ledger.form_pairing(
            volunteer_id=volunteer, elder_id=elder, group="g", from_date=date(2026, 1, 1), by=COORDINATOR
        )


def test_visit_after_departure_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.record_departure(pair.elder, kind="deceased", on=date(2026, 2, 15), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        make.visit(pair.pairing, start=VISIT_START.replace(day=16))


def test_visit_before_departure_can_still_be_recorded_afterwards(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.record_departure(pair.elder, kind="deceased", on=date(2026, 2, 15), by=COORDINATOR)
    with recorded(ledger) as new:
        make.visit(pair.pairing, start=VISIT_START.replace(day=14))
    assert new.names == ["visit.Recorded"]


def test_visit_on_the_departure_day_is_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.record_departure(pair.elder, kind="deceased", on=date(2026, 2, 15), by=COORDINATOR)
    make.visit(pair.pairing, start=VISIT_START.replace(day=15))


def test_visit_after_departure_is_judged_by_the_county_date(ledger: Ledger, make: Make, pair: Pair) -> None:
    ledger.record_departure(pair.elder, kind="deceased", on=date(2026, 2, 15), by=COORDINATOR)
    # 2026-02-15T17:00Z is 01:00 on 16 February in Asia/Shanghai
    with refused(ledger, RuleViolation, rule="elder.departed"):
        make.visit(pair.pairing, start=datetime(2026, 2, 15, 17, 0, tzinfo=UTC))
    make.visit(pair.pairing, start=datetime(2026, 2, 15, 15, 0, tzinfo=UTC))  # 23:00 on the 15th


def test_amending_a_visit_to_after_departure_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing, start=VISIT_START.replace(day=14))
    ledger.record_departure(pair.elder, kind="deceased", on=date(2026, 2, 15), by=COORDINATOR)
    moved = VISIT_START.replace(day=20)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        ledger.amend_visit(
            visit,
            changes={"started_at": moved, "ended_at": moved + timedelta(hours=1)},
            reason_code="wrong_time",
            by=COORDINATOR,
        )
