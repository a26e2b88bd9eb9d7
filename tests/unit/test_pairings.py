"""Pairings: both parties active and of one county; one active pairing per pair; the load cap."""

from __future__ import annotations

from datetime import date

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation
from ledger.pairings import caseload_id
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
from tests.unit.conftest import ADMIN, COORDINATOR, Make, Pair, recorded, refused


def adopt_load_cap(ledger: Ledger, cap: int, effective_from: date) -> None:
    ledger.adopt_policy(
        PolicyKind.SCORING,
        version=2,
        parameters={**DEFAULT_PARAMETERS[PolicyKind.SCORING], "max_active_pairings": cap},
        effective_from=effective_from,
        by=ADMIN,
    )


# Forming -----------------------------------------------------------------------------------


def test_forming_a_pairing_records_formed_and_adds_it_to_the_caseload(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    with recorded(ledger) as new:
        written = ledger.form_pairing(
            volunteer_id=volunteer, elder_id=elder, group="第二组", from_date=date(2026, 2, 1), by=COORDINATOR
        )
    assert sorted(new.names) == ["caseload.Opened", "caseload.PairingAdded", "pairing.Formed"]
    formed = new.one("pairing.Formed")
    assert (formed.volunteer_id, formed.elder_id, formed.group, formed.from_date) == (
        volunteer, elder, "第二组", date(2026, 2, 1),
    )  # fmt: skip
    assert formed.originator_id == written.id
    caseload = ledger.repository.get(caseload_id(volunteer))
    assert caseload.active == {str(written.id): str(elder)}


def test_pairing_from_a_future_date_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    with refused(ledger, InvalidInput, field="from_date"):
        make.pairing(volunteer, elder, from_date=date(2026, 3, 2))


def test_pairing_with_unknown_volunteer_or_elder_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    with refused(ledger, NotFound):
        make.pairing(elder, elder)
    with refused(ledger, NotFound):
        make.pairing(volunteer, volunteer)


def test_pairing_without_a_group_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    with refused(ledger, InvalidInput, field="group"):
        make.pairing(volunteer, elder, group="")


def test_pairing_with_a_suspended_volunteer_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    ledger.suspend_volunteer(volunteer, reason="r", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="volunteer.not_active"):
        make.pairing(volunteer, elder)


def test_pairing_with_a_departed_elder_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer, elder = make.volunteer(), make.elder()
    ledger.record_departure(elder, kind="moved_away", on=date(2026, 2, 1), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        make.pairing(volunteer, elder)


def test_pairing_across_counties_is_refused(ledger: Ledger, make: Make) -> None:
    other = make.county("huaiyin", ("王营镇",))
    volunteer = make.volunteer()
    elder = make.elder(county=other, township="王营镇")
    with refused(ledger, RuleViolation, rule="pairing.other_county"):
        make.pairing(volunteer, elder)


def test_pairing_within_another_county_is_accepted(ledger: Ledger, make: Make) -> None:
    other = make.county("huaiyin", ("王营镇",))
    make.pairing(make.volunteer(county=other, township="王营镇"), make.elder(county=other, township="王营镇"))


# One active pairing per (volunteer, elder) -------------------------------------------------


def test_second_active_pairing_of_the_same_volunteer_and_elder_is_refused(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    with refused(ledger, RuleViolation, rule="pairing.duplicate"):
        make.pairing(pair.volunteer, pair.elder, group="另一组")


def test_same_volunteer_and_elder_can_be_paired_again_after_the_pairing_ended(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    ledger.end_pairing(pair.pairing, on=date(2026, 2, 1), reason="reassigned", by=COORDINATOR)
    again = make.pairing(pair.volunteer, pair.elder, from_date=date(2026, 2, 15))
    assert again != pair.pairing


def test_one_volunteer_may_serve_several_elders_and_one_elder_several_volunteers(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    make.pairing(pair.volunteer, make.elder())
    make.pairing(make.volunteer(), pair.elder)


# Load cap ----------------------------------------------------------------------------------


def test_default_load_cap_is_ten_active_pairings(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    for _ in range(10):
        make.pairing(volunteer)
    eleventh = make.elder()
    with refused(ledger, RuleViolation, rule="pairing.load_cap"):
        make.pairing(volunteer, eleventh)


def test_pairing_beyond_the_load_cap_of_the_policy_in_force_is_refused(ledger: Ledger, make: Make) -> None:
    adopt_load_cap(ledger, 2, effective_from=date(2026, 2, 1))
    volunteer = make.volunteer()
    make.pairing(volunteer)
    make.pairing(volunteer)
    third = make.elder()
    with refused(ledger, RuleViolation, rule="pairing.load_cap"):
        make.pairing(volunteer, third)


def test_load_cap_of_a_policy_not_yet_in_force_does_not_apply(ledger: Ledger, make: Make) -> None:
    adopt_load_cap(ledger, 2, effective_from=date(2026, 6, 1))
    volunteer = make.volunteer()
    for _ in range(3):
        make.pairing(volunteer)


def test_ending_a_pairing_frees_room_under_the_load_cap(ledger: Ledger, make: Make) -> None:
    adopt_load_cap(ledger, 2, effective_from=date(2026, 2, 1))
    volunteer = make.volunteer()
    first = make.pairing(volunteer)
    make.pairing(volunteer)
    ledger.end_pairing(first, on=date(2026, 2, 20), reason="elder_request", by=COORDINATOR)
    make.pairing(volunteer)


def test_load_cap_counts_only_the_volunteers_own_pairings(ledger: Ledger, make: Make) -> None:
    adopt_load_cap(ledger, 2, effective_from=date(2026, 2, 1))
    busy = make.volunteer()
    make.pairing(busy)
    make.pairing(busy)
    make.pairing(make.volunteer())


# Ending ------------------------------------------------------------------------------------


def test_ending_a_pairing_records_ended_and_removes_it_from_the_caseload(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    with recorded(ledger) as new:
        ledger.end_pairing(pair.pairing, on=date(2026, 2, 20), reason="volunteer_left", by=COORDINATOR)
    assert sorted(new.names) == ["caseload.PairingRemoved", "pairing.Ended"]
    ended = new.one("pairing.Ended")
    assert (ended.on, ended.reason) == (date(2026, 2, 20), "volunteer_left")
    assert ledger.repository.get(caseload_id(pair.volunteer)).active == {}


def test_ending_a_pairing_on_its_first_day_is_accepted(ledger: Ledger, pair: Pair) -> None:
    ledger.end_pairing(pair.pairing, on=date(2026, 1, 1), reason="other", by=COORDINATOR)


def test_ending_a_pairing_before_it_started_is_refused(ledger: Ledger, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="date"):
        ledger.end_pairing(pair.pairing, on=date(2025, 12, 31), reason="other", by=COORDINATOR)


def test_ending_a_pairing_in_the_future_is_refused(ledger: Ledger, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="date"):
        ledger.end_pairing(pair.pairing, on=date(2026, 3, 2), reason="other", by=COORDINATOR)


def test_ending_a_pairing_for_an_unknown_reason_is_refused(ledger: Ledger, pair: Pair) -> None:
    with refused(ledger, InvalidInput, field="reason"):
        ledger.end_pairing(pair.pairing, on=date(2026, 2, 1), reason="bored", by=COORDINATOR)


def test_ending_a_pairing_twice_is_refused(ledger: Ledger, pair: Pair) -> None:
    ledger.end_pairing(pair.pairing, on=date(2026, 2, 1), reason="other", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="pairing.ended"):
        ledger.end_pairing(pair.pairing, on=date(2026, 2, 2), reason="other", by=COORDINATOR)


def test_ending_an_unknown_pairing_is_refused(ledger: Ledger, pair: Pair) -> None:
    with refused(ledger, NotFound):
        ledger.end_pairing(pair.elder, on=date(2026, 2, 1), reason="other", by=COORDINATOR)
