"""Reconciling a budget year from the log: appropriated + adjustments = committed + paid + available, per line.

On the in-memory store, with claims approved, paid, rejected and reversed through the commands,
then events forged straight into the store with the library's recorder (past every rule of the
ledger): each forgery is found, with the claim and the log position behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Snapshot

from ledger.application import Ledger
from ledger.budgets import Budget, budget_id
from ledger.claims import Claim
from ledger.errors import NotFound
from ledger.reconciliation import LineBalance, compare
from projections.reconcile import reconcile
from tests.unit.conftest import FINANCE, FINANCE_2, HOME_COUNTY, Make

YEAR = 2026


def forge(ledger: Ledger, event: Any) -> int:
    """Write one event straight into the store with the library's recorder; answer its log position."""
    [position] = ledger.recorder.insert_events([ledger.mapper.to_stored_event(event)])
    return int(position)


def amounts(ledger: Ledger, claim_id: UUID) -> dict[str, int]:
    claim: Claim = ledger.repository.get(claim_id)
    return {str(k): v for k, v in claim.amounts_by_line.items()}


@dataclass
class Year:
    approved: UUID
    paid: UUID
    rejected: UUID
    reversed: UUID
    submitted: UUID


@pytest.fixture
def year(ledger: Ledger, make: Make) -> Year:
    """A budget adjusted once and five claims: one approved, one paid, one rejected, one reversed, one submitted."""
    make.budget(year=YEAR, transport=1_000_000, communication=500_000)
    ledger.adjust_budget(county=HOME_COUNTY, year=YEAR, line="transport", delta=-20_000, reason="压减", by=FINANCE)
    claims = []
    for n in range(5):
        pair = make.pair()
        claims.append(make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3 + n, 12 + n])))
    approved, paid, rejected, reversed_, submitted = claims
    for claim in (approved, paid, reversed_):
        ledger.approve_claim(claim, by=FINANCE)
    ledger.pay_claim(paid, reference="国库-1", paid_on=make.clock.now.date(), by=FINANCE_2)
    ledger.reject_claim(rejected, reason="材料不全", by=FINANCE)
    ledger.reverse_claim(reversed_, reason="重复申领", by=FINANCE)
    return Year(approved, paid, rejected, reversed_, submitted)


def line(result: Any, name: str) -> LineBalance:
    [found] = [x for x in result.lines if x.line == name]
    return found


def test_a_year_of_claims_balances_to_the_fen_and_agrees_with_the_budget(ledger: Ledger, year: Year) -> None:
    result = reconcile(ledger, HOME_COUNTY, YEAR)
    assert result.balanced and result.claims == () and result.findings() == []
    approved, paid = amounts(ledger, year.approved), amounts(ledger, year.paid)
    transport = line(result, "transport")
    assert (transport.appropriated, transport.adjustments) == (1_000_000, -20_000)
    assert (transport.committed, transport.paid) == (approved["transport"], paid["transport"])
    assert transport.available == 1_000_000 - 20_000 - approved["transport"] - paid["transport"]
    assert transport.budgeted == transport.committed + transport.paid + transport.available
    communication = line(result, "communication")
    assert (communication.committed, communication.paid) == (approved["communication"], paid["communication"])
    budget: Budget = ledger.repository.get(budget_id(HOME_COUNTY, YEAR))
    assert transport.available == budget.available("transport")
    assert communication.available == budget.available("communication")
    [by_budget] = result.comparisons
    assert (by_budget.source, by_budget.compared, by_budget.differences) == ("budget", True, ())
    assert result.position == ledger.recorder.max_notification_id()


def test_a_forged_commitment_of_a_wrong_amount_is_found_and_named_with_its_position(
    ledger: Ledger, year: Year, clock: Any
) -> None:
    budget: Budget = ledger.repository.get(budget_id(HOME_COUNTY, YEAR))
    forged = Budget.Committed(
        originator_id=budget.id, originator_version=budget.version + 1, timestamp=clock.now,
        claim_id=year.approved, line="transport", amount=777, meta=FINANCE,
    )  # fmt: skip
    position = forge(ledger, forged)
    result = reconcile(ledger, HOME_COUNTY, YEAR)
    assert not result.balanced
    assert line(result, "transport").difference == 777 and line(result, "communication").balanced
    [difference] = result.claims
    assert (difference.claim_id, difference.status, difference.line) == (year.approved, "approved", "transport")
    assert difference.held - difference.expected == 777
    assert position in difference.positions and difference.events[-1].event == "Budget.Committed"
    assert any(
        str(year.approved) in finding and f"Budget.Committed@{position}" in finding for finding in result.findings()
    )


def test_a_forged_payment_of_a_claim_never_approved_is_found(ledger: Ledger, year: Year, clock: Any) -> None:
    claim: Claim = ledger.repository.get(year.submitted)
    forged = Claim.Paid(
        originator_id=claim.id, originator_version=claim.version + 1, timestamp=clock.now, by=FINANCE_2.principal_id,
        reference="伪造", paid_on=clock.now.date(), meta=FINANCE_2,
    )  # fmt: skip
    position = forge(ledger, forged)
    result = reconcile(ledger, HOME_COUNTY, YEAR)
    owed = amounts(ledger, year.submitted)
    assert not result.balanced
    assert line(result, "transport").difference == -owed["transport"]
    found = {(d.claim_id, d.line): d for d in result.claims}
    assert set(found) == {(year.submitted, line) for line, amount in owed.items() if amount}
    for d in found.values():
        assert (d.status, d.held, d.expected) == ("paid", 0, owed[d.line])
        assert d.events[-1].position == position and d.events[-1].event == "Claim.Paid"


def test_a_commitment_to_a_claim_the_log_never_saw_is_named_unknown(ledger: Ledger, year: Year, clock: Any) -> None:
    budget: Budget = ledger.repository.get(budget_id(HOME_COUNTY, YEAR))
    ghost = uuid4()
    budget._committed(claim_id=ghost, line="communication", amount=3_000, timestamp=clock.now, meta=FINANCE)
    ledger.save(budget)  # past the command, which commits only approved claims
    [difference] = reconcile(ledger, HOME_COUNTY, YEAR).claims
    assert (difference.claim_id, difference.status, difference.expected, difference.held) == (ghost, "unknown", 0, 3000)


def test_a_budget_aggregate_that_disagrees_with_its_events_is_named(ledger: Ledger, year: Year) -> None:
    budget: Budget = ledger.repository.get(budget_id(HOME_COUNTY, YEAR))
    budget.committed["transport"] += 500  # a snapshot that its events do not bear out
    ledger.snapshots.put([Snapshot.take(budget)])  # type: ignore[union-attr]
    result = reconcile(ledger, HOME_COUNTY, YEAR)
    assert not result.balanced and result.claims == ()
    [by_budget] = result.comparisons
    found = {(d.line, d.figure): (d.log, d.stated) for d in by_budget.differences}
    held = line(result, "transport").held
    assert found == {("transport", "held"): (held, held + 500), ("transport", "available"): (
        line(result, "transport").available, line(result, "transport").available - 500)}  # fmt: skip


def test_a_year_never_appropriated_is_not_found(ledger: Ledger, year: Year) -> None:
    with pytest.raises(NotFound, match="2031 budget of lianshui"):
        reconcile(ledger, HOME_COUNTY, 2031)
    with pytest.raises(NotFound):
        reconcile(ledger, "nowhere", YEAR)


def test_a_source_is_compared_figure_by_figure_and_a_line_it_leaves_out_states_zero() -> None:
    ours = (LineBalance("transport", 1000, 0, 100, 200, 300), LineBalance("communication", 50, 0, 0, 0, 0))
    stated = {"transport": {"budgeted": 1000, "held": 300, "paid": 200, "available": 700}}
    comparison = compare("audit", 9, ours, stated)
    assert [(d.line, d.figure, d.log, d.stated) for d in comparison.differences] == [
        ("communication", "budgeted", 50, 0), ("communication", "available", 50, 0),
    ]  # fmt: skip
    assert compare("budget", 9, ours[:1], stated, ("budgeted", "held")).differences == ()
