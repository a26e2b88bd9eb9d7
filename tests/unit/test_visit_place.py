"""A price the volunteer does not choose: a visit's transport is priced from the elder's registered
township on the visit's day, not from the township typed on the visit, unless a coordinator
confirms the recorded place (``Visit.PlaceConfirmed``, with a reason)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.elders import township_on
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import (
    COORDINATOR,
    FINANCE,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Make,
    Pair,
    as_volunteer,
    recorded,
    refused,
)

THIRD_TOWNSHIP = "唐集镇"
REASON = "老人当月住在高沟镇女儿家，服务在女儿家进行，已电话核实"


def transport(ledger: Ledger, claim: UUID) -> list[int]:
    return [item["transport_fen"] for item in ledger.repository.get(claim).items]


def confirm_place(ledger: Ledger, visit: UUID, reason: str = REASON, by: Any = COORDINATOR) -> Any:
    return ledger.confirm_visit_place(visit, reason=reason, by=by)


@pytest.fixture
def far(make: Make, pair: Pair) -> Pair:
    """The volunteer of ``pair`` (of 涟城镇) with an elder registered in 高沟镇."""
    return make.pair(volunteer=pair.volunteer, elder=make.elder(township=OTHER_TOWNSHIP))


# Pricing ---------------------------------------------------------------------------------


def test_a_visit_to_an_elder_of_the_volunteers_township_recorded_as_elsewhere_earns_ten_yuan(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visits = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    assert transport(ledger, make.claim(pair.volunteer, visits)) == [1000]


def test_a_visit_to_an_elder_registered_in_another_township_earns_twenty_yuan_wherever_recorded(
    ledger: Ledger, make: Make, far: Pair
) -> None:
    there = make.visits_on_days(far.pairing, [3], township=OTHER_TOWNSHIP)
    typed_as_home = make.visits_on_days(far.pairing, [4], township=TOWNSHIP)
    assert transport(ledger, make.claim(far.volunteer, there + typed_as_home)) == [2000, 2000]


def test_a_relocated_elder_is_priced_by_the_township_in_force_on_the_visits_day(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    february = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    ledger.relocate_elder(pair.elder, township=OTHER_TOWNSHIP, address="高沟镇新村8号", by=COORDINATOR)  # 1 March
    clock.now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    march = [make.confirmed_visit(pair.pairing, start=datetime(2026, 3, 5, 2, 0, tzinfo=UTC), township=TOWNSHIP)]
    # Claimed after the move, the February visit is still priced where the elder lived then.
    assert transport(ledger, make.claim(pair.volunteer, february)) == [1000]
    assert transport(ledger, make.claim(pair.volunteer, march, month="2026-03")) == [2000]


def test_a_relocation_is_in_force_from_the_county_day_it_was_recorded() -> None:
    moves = [(date(2025, 1, 5), "甲镇"), (date(2025, 3, 1), "乙镇"), (date(2025, 3, 1), "丙镇")]
    assert township_on(moves, date(2024, 12, 31)) == "甲镇"  # before the registration: as registered
    assert township_on(moves, date(2025, 2, 28)) == "甲镇"
    assert township_on(moves, date(2025, 3, 1)) == "丙镇"  # two moves in one day: the later one
    assert township_on(moves, date(2026, 1, 1)) == "丙镇"


def test_a_coordinator_confirmed_place_is_honoured(ledger: Ledger, make: Make, pair: Pair) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    with recorded(ledger) as new:
        written = confirm_place(ledger, visit)
    placed = new.one("visit.PlaceConfirmed")
    assert (new.names, placed.township, placed.reason, placed.meta) == (
        ["visit.PlaceConfirmed"], OTHER_TOWNSHIP, REASON, COORDINATOR,
    )  # fmt: skip
    assert written.id == visit and ledger.repository.get(visit).place_confirmed
    assert transport(ledger, make.claim(pair.volunteer, [visit])) == [2000]


def test_a_confirmed_place_stops_counting_once_the_visit_is_amended_to_another_township(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    confirm_place(ledger, visit)
    ledger.amend_visit(visit, changes={"township": THIRD_TOWNSHIP}, reason_code="wrong_place", by=COORDINATOR)
    assert not ledger.repository.get(visit).place_confirmed
    assert transport(ledger, make.claim(pair.volunteer, [visit])) == [1000]


def test_a_recorded_claim_keeps_its_amounts_when_the_place_is_confirmed_or_the_elder_moves_later(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    make.budget()
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    claim = make.approved_claim(pair.volunteer, [visit])
    confirm_place(ledger, visit)  # a claim already approved: it vouches for the place, it pays nothing more
    ledger.relocate_elder(pair.elder, township=THIRD_TOWNSHIP, address="唐集镇1号", by=COORDINATOR)
    assert transport(ledger, claim) == [1000]
    assert ledger.repository.get(claim).total_fen == 4000


# Refused confirmations write nothing ---------------------------------------------------------


def test_only_a_coordinator_confirms_a_place(ledger: Ledger, make: Make, pair: Pair) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    for who in (as_volunteer(pair.volunteer), FINANCE):
        with refused(ledger, RuleViolation, rule="visit.place_confirmation_role"):
            confirm_place(ledger, visit, by=who)


def test_a_place_that_is_the_elders_registered_township_needs_no_confirmation(
    ledger: Ledger, make: Make, pair: Pair, far: Pair
) -> None:
    [home] = make.visits_on_days(pair.pairing, [3])
    [there] = make.visits_on_days(far.pairing, [4], township=OTHER_TOWNSHIP)
    for visit in (home, there):
        with refused(ledger, RuleViolation, rule="visit.place_is_registered"):
            confirm_place(ledger, visit)


def test_a_place_is_confirmed_once_with_a_reason(ledger: Ledger, make: Make, pair: Pair) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    with refused(ledger, InvalidInput, field="reason"):
        confirm_place(ledger, visit, reason="  ")
    confirm_place(ledger, visit)
    with refused(ledger, RuleViolation, rule="visit.place_already_confirmed"):
        confirm_place(ledger, visit)


def test_a_phone_calls_place_is_not_confirmed(ledger: Ledger, make: Make, pair: Pair) -> None:
    [call] = make.visits_on_days(pair.pairing, [3], kind="phone_call", township=OTHER_TOWNSHIP)
    with refused(ledger, RuleViolation, rule="visit.place_not_priced"):
        confirm_place(ledger, call)


def test_a_voided_or_unknown_visits_place_is_not_confirmed(ledger: Ledger, make: Make, pair: Pair) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    ledger.void_visit(visit, reason_code="duplicate", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="visit.voided"):
        confirm_place(ledger, visit)
    with refused(ledger, NotFound):
        confirm_place(ledger, uuid4())


def test_a_place_in_a_claim_awaiting_approval_is_confirmed_only_after_the_claim_is_rejected(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    [visit] = make.visits_on_days(pair.pairing, [3], township=OTHER_TOWNSHIP)
    pending = make.claim(pair.volunteer, [visit])
    with refused(ledger, RuleViolation, rule="visit.in_pending_claim"):
        confirm_place(ledger, visit)
    ledger.reject_claim(pending, reason="地点待核实", by=FINANCE)
    confirm_place(ledger, visit)
    assert transport(ledger, make.claim(pair.volunteer, [visit])) == [2000]


def test_a_visits_day_for_its_price_is_the_county_date_of_its_start(ledger: Ledger, make: Make, pair: Pair) -> None:
    """The elder moved on 1 March (county date); a visit starting at 23:30 UTC on 28 February is a
    1 March visit in the county, so it is priced at the new township."""
    ledger.relocate_elder(pair.elder, township=OTHER_TOWNSHIP, address="高沟镇新村8号", by=COORDINATOR)
    start = datetime(2026, 2, 28, 16, 30, tzinfo=UTC)  # 00:30 on 1 March in the county
    visit = make.confirmed_visit(pair.pairing, start=start, minutes=30, township=OTHER_TOWNSHIP)
    with refused(ledger, RuleViolation, rule="visit.place_is_registered"):
        confirm_place(ledger, visit)
