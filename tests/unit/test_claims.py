"""Claims: which visits may be claimed, once; the amounts of the subsidy policy; maker-checker;
approval commits the budget in the same save; the claim's states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.budgets import budget_id
from ledger.claims import allowance_id, claimed_visit_id
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import (
    COORDINATOR,
    FINANCE,
    FINANCE_2,
    OTHER_TOWNSHIP,
    VISIT_MONTH,
    VISIT_START,
    Make,
    Pair,
    as_volunteer,
    recorded,
    refused,
)


def claim_of(ledger: Ledger, claim: UUID) -> Any:
    return ledger.repository.get(claim)


def transport(ledger: Ledger, claim: UUID) -> list[int]:
    return [item["transport_fen"] for item in claim_of(ledger, claim).items]


def committed(ledger: Ledger) -> dict[str, int]:
    return dict(ledger.repository.get(budget_id("lianshui", 2026)).committed)


@pytest.fixture
def far(make: Make, pair: Pair) -> Pair:
    """The same volunteer (of 涟城镇) with an elder registered in another township (高沟镇)."""
    return make.pair(volunteer=pair.volunteer, elder=make.elder(township=OTHER_TOWNSHIP))


def submit(ledger: Ledger, pair: Pair, visits: list[UUID], *, month: str = VISIT_MONTH, by: Any = None) -> Any:
    return ledger.submit_claim(
        volunteer_id=pair.volunteer, month=month, visit_ids=visits, by=by or as_volunteer(pair.volunteer)
    )


# Submission --------------------------------------------------------------------------------


def test_submission_records_items_amounts_policy_version_and_guards(ledger: Ledger, make: Make, pair: Pair) -> None:
    home = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3))
    call = make.confirmed_visit(pair.pairing, kind="phone_call", start=VISIT_START.replace(day=4))
    with recorded(ledger) as new:
        written = submit(ledger, pair, [call, home])
    assert sorted(new.names) == [
        "allowance.Drawn", "allowance.Opened", "claim.Submitted",
        "claimed_visit.Claimed", "claimed_visit.Claimed",
    ]  # fmt: skip
    submitted = new.one("claim.Submitted")
    assert submitted.originator_id == written.id
    assert (submitted.volunteer_id, submitted.county, submitted.month) == (pair.volunteer, "lianshui", VISIT_MONTH)
    assert submitted.items == [{"visit_id": home, "transport_fen": 1000}, {"visit_id": call, "transport_fen": 0}]
    assert (submitted.communication_fen, submitted.total_fen, submitted.policy_version) == (3000, 4000, 1)
    assert submitted.submitted_by == str(pair.volunteer)
    assert {e.visit_id for e in new.of("claimed_visit.Claimed")} == {home, call}
    assert all(e.claim_id == written.id for e in new.of("claimed_visit.Claimed"))
    assert claim_of(ledger, written.id).status == "submitted"


def test_recorded_only_visit_cannot_be_claimed(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.visit(pair.pairing)
    with refused(ledger, RuleViolation, rule="claim.visit_not_confirmed"):
        submit(ledger, pair, [visit])


def test_disputed_visit_cannot_be_claimed(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    ledger.dispute_visit(visit, reason_code="did_not_happen", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="claim.visit_not_confirmed"):
        submit(ledger, pair, [visit])


def test_voided_visit_cannot_be_claimed(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    ledger.void_visit(visit, reason_code="duplicate", by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="claim.visit_not_confirmed"):
        submit(ledger, pair, [visit])


def test_one_unclaimable_visit_refuses_the_whole_claim(ledger: Ledger, make: Make, pair: Pair) -> None:
    good = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3))
    bad = make.visit(pair.pairing, start=VISIT_START.replace(day=4))
    with refused(ledger, RuleViolation, rule="claim.visit_not_confirmed"):
        submit(ledger, pair, [good, bad])
    submit(ledger, pair, [good])  # the good visit was not held by the refused claim


def test_another_volunteers_visit_cannot_be_claimed(ledger: Ledger, make: Make, pair: Pair) -> None:
    other = make.pair(elder=pair.elder)
    theirs = make.confirmed_visit(other.pairing)
    with refused(ledger, RuleViolation, rule="claim.other_volunteer"):
        submit(ledger, pair, [theirs])


def test_visit_of_another_month_cannot_be_claimed(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    february = make.confirmed_visit(pair.pairing)
    with refused(ledger, RuleViolation, rule="claim.other_month"):
        submit(ledger, pair, [february], month="2026-03")
    with refused(ledger, RuleViolation, rule="claim.other_month"):
        submit(ledger, pair, [february], month="2026-01")


def test_claim_month_is_the_county_month_of_the_visit(ledger: Ledger, make: Make, pair: Pair) -> None:
    # 2026-02-28T17:00Z is 01:00 on 1 March in the county: a March visit
    visit = make.confirmed_visit(pair.pairing, start=datetime(2026, 2, 28, 17, 0, tzinfo=UTC))
    with refused(ledger, RuleViolation, rule="claim.other_month"):
        submit(ledger, pair, [visit], month="2026-02")
    submit(ledger, pair, [visit], month="2026-03")


def test_claim_for_a_month_not_yet_begun_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with refused(ledger, InvalidInput, field="month"):
        submit(ledger, pair, [visit], month="2026-04")


@pytest.mark.parametrize("month", ["2026-2", "2026-13", "Feb 2026", "", None])
def test_claim_for_a_malformed_month_is_refused(ledger: Ledger, make: Make, pair: Pair, month: Any) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with refused(ledger, InvalidInput, field="month"):
        submit(ledger, pair, [visit], month=month)


def test_claim_must_list_visits_each_once(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with refused(ledger, InvalidInput, field="visit_ids"):
        submit(ledger, pair, [])
    with refused(ledger, InvalidInput, field="visit_ids"):
        submit(ledger, pair, [visit, visit])
    with refused(ledger, InvalidInput, field="visit_ids"):
        submit(ledger, pair, visit)  # type: ignore[arg-type]


def test_claim_of_an_unknown_visit_or_volunteer_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    with refused(ledger, NotFound):
        submit(ledger, pair, [pair.elder])
    with refused(ledger, NotFound):
        ledger.submit_claim(volunteer_id=pair.elder, month=VISIT_MONTH, visit_ids=[visit], by=COORDINATOR)


# A visit is claimed at most once -----------------------------------------------------------


def test_visit_already_in_a_claim_cannot_be_claimed_again(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3))
    submit(ledger, pair, [visit])
    fresh = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=4))
    with refused(ledger, RuleViolation, rule="claim.visit_already_claimed"):
        submit(ledger, pair, [visit])
    with refused(ledger, RuleViolation, rule="claim.visit_already_claimed"):
        submit(ledger, pair, [fresh, visit])


def test_visit_in_an_approved_or_paid_claim_cannot_be_claimed_again(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    make.budget()
    claim = make.approved_claim(pair.volunteer, [visit])
    with refused(ledger, RuleViolation, rule="claim.visit_already_claimed"):
        submit(ledger, pair, [visit])
    ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 3, 1), by=FINANCE_2)
    with refused(ledger, RuleViolation, rule="claim.visit_already_claimed"):
        submit(ledger, pair, [visit])


def test_visit_of_a_rejected_claim_can_be_claimed_again(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    first = submit(ledger, pair, [visit]).id
    with recorded(ledger) as new:
        ledger.reject_claim(first, reason="缺少签字", by=FINANCE)
    assert sorted(new.names) == ["allowance.Restored", "claim.Rejected", "claimed_visit.Released"]
    rejected = new.one("claim.Rejected")
    assert (rejected.by, rejected.reason) == (FINANCE.principal_id, "缺少签字")
    second = submit(ledger, pair, [visit]).id
    assert ledger.repository.get(claimed_visit_id(visit)).claim_id == second
    with refused(ledger, RuleViolation, rule="claim.visit_already_claimed"):
        submit(ledger, pair, [visit])


# Amounts follow the subsidy policy ---------------------------------------------------------


def test_home_visit_in_the_volunteers_township_earns_ten_yuan(ledger: Ledger, make: Make, pair: Pair) -> None:
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    assert transport(ledger, claim) == [1000]


def test_home_visit_across_townships_earns_twenty_yuan(ledger: Ledger, make: Make, far: Pair) -> None:
    claim = make.claim(far.volunteer, make.visits_on_days(far.pairing, [3], township=OTHER_TOWNSHIP))
    assert transport(ledger, claim) == [2000]


def test_the_elders_township_is_compared_with_the_volunteers_own(ledger: Ledger, make: Make) -> None:
    pair = make.pair(volunteer=make.volunteer(township=OTHER_TOWNSHIP))  # elder lives in 涟城镇
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    assert transport(ledger, claim) == [2000]
    near = make.pair(volunteer=pair.volunteer, elder=make.elder(township=OTHER_TOWNSHIP))
    claim = make.claim(near.volunteer, make.visits_on_days(near.pairing, [4], township=OTHER_TOWNSHIP))
    assert transport(ledger, claim) == [1000]


def test_phone_call_earns_no_transport(ledger: Ledger, make: Make, pair: Pair) -> None:
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3, 4], kind="phone_call"))
    assert transport(ledger, claim) == [0, 0]
    assert claim_of(ledger, claim).communication_fen == 3000
    assert claim_of(ledger, claim).total_fen == 3000


def test_communication_is_paid_once_a_month_across_claims(ledger: Ledger, make: Make, pair: Pair) -> None:
    first = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    second = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [4]))
    assert claim_of(ledger, first).communication_fen == 3000
    assert claim_of(ledger, second).communication_fen == 0
    assert claim_of(ledger, second).total_fen == 1000


def test_communication_is_paid_again_in_a_new_month(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    clock.now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    march = make.confirmed_visit(pair.pairing, start=datetime(2026, 3, 5, 2, 0, tzinfo=UTC))
    claim = make.claim(pair.volunteer, [march], month="2026-03")
    assert claim_of(ledger, claim).communication_fen == 3000


def test_transport_is_capped_at_two_hundred_yuan_a_month(ledger: Ledger, make: Make, far: Pair) -> None:
    visits = make.visits_on_days(far.pairing, range(1, 12), township=OTHER_TOWNSHIP)  # 11 x 2000
    claim = make.claim(far.volunteer, visits)
    assert transport(ledger, claim) == [2000] * 10 + [0]
    assert claim_of(ledger, claim).total_fen == 20000 + 3000


def test_transport_cap_is_reached_partially_by_the_visit_that_crosses_it(
    ledger: Ledger, make: Make, pair: Pair, far: Pair
) -> None:
    visits = make.visits_on_days(far.pairing, range(1, 11), township=OTHER_TOWNSHIP)[:9]  # 18000
    visits += make.visits_on_days(pair.pairing, [20, 21, 22])  # 1000 each, same township
    claim = make.claim(pair.volunteer, visits)
    assert transport(ledger, claim) == [2000] * 9 + [1000, 1000, 0]


def test_transport_cap_counts_earlier_claims_of_the_month(ledger: Ledger, make: Make, pair: Pair, far: Pair) -> None:
    make.claim(pair.volunteer, make.visits_on_days(far.pairing, range(1, 9), township=OTHER_TOWNSHIP))  # 16000
    later = make.claim(pair.volunteer, make.visits_on_days(far.pairing, [20, 21, 22], township=OTHER_TOWNSHIP))
    assert transport(ledger, later) == [2000, 2000, 0]
    allowance = ledger.repository.get(allowance_id(pair.volunteer, VISIT_MONTH))
    assert allowance.transport_fen == 20000


def test_transport_cap_is_per_volunteer(ledger: Ledger, make: Make, far: Pair) -> None:
    make.claim(far.volunteer, make.visits_on_days(far.pairing, range(1, 11), township=OTHER_TOWNSHIP))
    other = make.pair(elder=far.elder)
    claim = make.claim(other.volunteer, make.visits_on_days(other.pairing, [3], township=OTHER_TOWNSHIP))
    assert transport(ledger, claim) == [2000]


def test_rejection_gives_back_the_months_cap_and_communication(ledger: Ledger, make: Make, far: Pair) -> None:
    visits = make.visits_on_days(far.pairing, range(1, 11), township=OTHER_TOWNSHIP)
    first = make.claim(far.volunteer, visits)
    ledger.reject_claim(first, reason="材料不全", by=FINANCE)
    second = make.claim(far.volunteer, visits)
    assert transport(ledger, second) == [2000] * 10
    assert claim_of(ledger, second).communication_fen == 3000


# Maker-checker -----------------------------------------------------------------------------


def test_submitter_cannot_approve_their_own_claim(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    visit = make.confirmed_visit(pair.pairing)
    claim = submit(ledger, pair, [visit], by=FINANCE).id
    with refused(ledger, RuleViolation, rule="claim.maker_checker"):
        ledger.approve_claim(claim, by=FINANCE)
    assert committed(ledger) == {"transport": 0, "communication": 0}


def test_volunteer_cannot_approve_the_claim_they_submitted(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="claim.maker_checker"):
        ledger.approve_claim(claim, by=as_volunteer(pair.volunteer))


def test_submitter_cannot_pay_their_own_claim(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = submit(ledger, pair, make.visits_on_days(pair.pairing, [3]), by=FINANCE).id
    ledger.approve_claim(claim, by=FINANCE_2)
    with refused(ledger, RuleViolation, rule="claim.maker_checker"):
        ledger.pay_claim(claim, reference="PAY-9", paid_on=date(2026, 3, 1), by=FINANCE)


def test_approver_may_also_pay(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    ledger.pay_claim(claim, reference="PAY-2", paid_on=date(2026, 3, 1), by=FINANCE)


# Approval commits the budget in the same save ----------------------------------------------


def test_approval_commits_the_budget_in_the_same_save(ledger: Ledger, make: Make, pair: Pair, far: Pair) -> None:
    make.budget()
    home = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3))
    away = make.confirmed_visit(far.pairing, start=VISIT_START.replace(day=4), township=OTHER_TOWNSHIP)
    claim = make.claim(pair.volunteer, [home, away])
    with recorded(ledger) as new:
        written = ledger.approve_claim(claim, by=FINANCE)
    assert sorted(new.names) == ["budget.Committed", "budget.Committed", "claim.Approved"]
    positions = [e.position for e in new.events]
    assert positions == list(range(positions[0], positions[0] + 3)), "one save: consecutive log positions"
    assert written.position in positions
    assert new.one("claim.Approved").by == FINANCE.principal_id
    lines = {e.line: (e.amount, e.claim_id) for e in new.of("budget.Committed")}
    assert lines == {"transport": (3000, claim), "communication": (3000, claim)}
    assert committed(ledger) == {"transport": 3000, "communication": 3000}
    assert claim_of(ledger, claim).status == "approved"


def test_approval_of_a_claim_with_nothing_to_pay_commits_nothing(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3], kind="phone_call"))
    nothing = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [4], kind="phone_call"))
    with recorded(ledger) as new:
        ledger.approve_claim(nothing, by=FINANCE)
    assert new.names == ["claim.Approved"]


def test_refused_approval_commits_nothing(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget(transport=500)
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="budget.overdrawn"):
        ledger.approve_claim(claim, by=FINANCE)
    assert committed(ledger) == {"transport": 0, "communication": 0}
    assert claim_of(ledger, claim).status == "submitted"


def test_reversal_releases_the_committed_budget(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3, 4]))
    with recorded(ledger) as new:
        ledger.reverse_claim(claim, reason="重复申领", by=FINANCE_2)
    assert sorted(new.names) == [
        "allowance.Restored", "budget.Released", "budget.Released", "claim.Reversed",
        "claimed_visit.Released", "claimed_visit.Released",
    ]  # fmt: skip
    assert new.one("claim.Reversed").reason == "重复申领"
    assert committed(ledger) == {"transport": 0, "communication": 0}
    assert claim_of(ledger, claim).status == "reversed"


def test_reversal_of_a_paid_claim_releases_the_committed_budget(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    ledger.pay_claim(claim, reference="PAY-3", paid_on=date(2026, 3, 1), by=FINANCE)
    ledger.reverse_claim(claim, reason="追回", by=FINANCE_2)
    assert committed(ledger) == {"transport": 0, "communication": 0}


def test_reversal_is_all_or_nothing(ledger: Ledger, make: Make, pair: Pair) -> None:
    # Whatever the outcome of a reversal, it is all or nothing: never a Reversed claim with its
    # budget still committed.
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    before = len(list(ledger.recorder.select_notifications(start=None, limit=100000)))
    try:
        ledger.reverse_claim(claim, reason="追回", by=FINANCE_2)
    except Exception:
        after = len(list(ledger.recorder.select_notifications(start=None, limit=100000)))
        assert after == before
        assert claim_of(ledger, claim).status == "approved"
        assert committed(ledger) == {"transport": 1000, "communication": 3000}
    else:
        assert claim_of(ledger, claim).status == "reversed"
        assert committed(ledger) == {"transport": 0, "communication": 0}


def test_claim_whose_visit_was_voided_after_submission_cannot_be_approved(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    make.budget()
    visit = make.confirmed_visit(pair.pairing)
    claim = make.claim(pair.volunteer, [visit])
    ledger.void_visit(visit, reason_code="not_performed", by=COORDINATOR)  # allowed: the claim is not approved
    with refused(ledger, RuleViolation):
        ledger.approve_claim(claim, by=FINANCE)


# States ------------------------------------------------------------------------------------


def test_payment_records_reference_and_date(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    clock.advance(days=3)
    with recorded(ledger) as new:
        ledger.pay_claim(claim, reference="BANK-20260304-01", paid_on=date(2026, 3, 4), by=FINANCE_2)
    paid = new.one("claim.Paid")
    assert (paid.by, paid.reference, paid.paid_on) == (FINANCE_2.principal_id, "BANK-20260304-01", date(2026, 3, 4))
    assert new.names == ["claim.Paid"]
    assert claim_of(ledger, claim).status == "paid"


def test_payment_before_approval_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="claim.not_approved"):
        ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 3, 1), by=FINANCE)


def test_paying_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 3, 1), by=FINANCE)
    with refused(ledger, RuleViolation, rule="claim.not_approved"):
        ledger.pay_claim(claim, reference="PAY-2", paid_on=date(2026, 3, 1), by=FINANCE)


def test_payment_dated_before_approval_or_in_the_future_is_refused(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, InvalidInput, field="paid_on"):
        ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 2, 28), by=FINANCE)
    with refused(ledger, InvalidInput, field="paid_on"):
        ledger.pay_claim(claim, reference="PAY-1", paid_on=date(2026, 3, 2), by=FINANCE)
    with refused(ledger, InvalidInput, field="paid_on"):
        ledger.pay_claim(claim, reference="PAY-1", paid_on="2026-03-01", by=FINANCE)  # type: ignore[arg-type]
    with refused(ledger, InvalidInput, field="payment_reference"):
        ledger.pay_claim(claim, reference="", paid_on=date(2026, 3, 1), by=FINANCE)


def test_approving_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="claim.not_submitted"):
        ledger.approve_claim(claim, by=FINANCE_2)
    assert committed(ledger) == {"transport": 1000, "communication": 3000}


def test_approving_a_rejected_claim_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    ledger.reject_claim(claim, reason="r", by=FINANCE)
    with refused(ledger, RuleViolation, rule="claim.not_submitted"):
        ledger.approve_claim(claim, by=FINANCE_2)


def test_rejecting_an_approved_claim_or_twice_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    approved = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="claim.not_submitted"):
        ledger.reject_claim(approved, reason="r", by=FINANCE_2)
    rejected = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [4]))
    ledger.reject_claim(rejected, reason="r", by=FINANCE_2)
    with refused(ledger, RuleViolation, rule="claim.not_submitted"):
        ledger.reject_claim(rejected, reason="r", by=FINANCE_2)


def test_rejection_without_a_reason_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, InvalidInput, field="reason"):
        ledger.reject_claim(claim, reason=" ", by=FINANCE)


def test_reversing_a_claim_that_was_never_approved_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="claim.not_approved_or_paid"):
        ledger.reverse_claim(claim, reason="r", by=FINANCE)
    ledger.reject_claim(claim, reason="r", by=FINANCE)
    with refused(ledger, RuleViolation, rule="claim.not_approved_or_paid"):
        ledger.reverse_claim(claim, reason="r", by=FINANCE)


def test_reversal_without_a_reason_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    claim = make.approved_claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, InvalidInput, field="reason"):
        ledger.reverse_claim(claim, reason="", by=FINANCE_2)


def test_commands_on_an_unknown_claim_are_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    make.budget()
    for command in (
        lambda: ledger.approve_claim(pair.pairing, by=FINANCE),
        lambda: ledger.reject_claim(pair.pairing, reason="r", by=FINANCE),
        lambda: ledger.pay_claim(pair.pairing, reference="p", paid_on=date(2026, 3, 1), by=FINANCE),
        lambda: ledger.reverse_claim(pair.pairing, reason="r", by=FINANCE),
    ):
        with refused(ledger, NotFound):
            command()


def test_submitted_claim_visit_times_are_priced_in_time_order(ledger: Ledger, make: Make, pair: Pair) -> None:
    late = make.confirmed_visit(pair.pairing, start=VISIT_START + timedelta(days=5))
    early = make.confirmed_visit(pair.pairing, start=VISIT_START)
    claim = make.claim(pair.volunteer, [late, early])
    assert claim_of(ledger, claim).visit_ids == [early, late]
