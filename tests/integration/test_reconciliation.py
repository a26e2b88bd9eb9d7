"""A discrepancy forged into the store is found by the reconciliation, on a SQLite file and on PostgreSQL.

Each forged event is written straight into the store with the library's recorder, past every rule
of the ledger; the reconciliation names the claim and the log position behind it. The audit read
model is compared with the log at its own position, so a read model behind the head is no false alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.budgets import Budget, budget_id
from ledger.claims import Claim
from ledger.counties import LIANSHUI
from projections.audit import AuditProjection, AuditView, open_audit_view
from projections.reconcile import reconcile
from projections.runner import Runner
from tests.builders import FINANCE_A, FINANCE_B, claim_of_february, make_pair
from tests.conftest import Clock

YEAR = 2026


def forge(ledger: Ledger, event: Any) -> int:
    """Write one event straight into the store with the library's recorder; answer its log position."""
    [position] = ledger.recorder.insert_events([ledger.mapper.to_stored_event(event)])
    return int(position)


@dataclass
class Books:
    ledger: Ledger
    view: AuditView
    approved: UUID
    submitted: UUID

    def catch_up(self) -> None:
        runner = Runner(self.ledger, AuditProjection(self.view))
        runner.run_once()
        assert runner.state.status == "caught_up", runner.state


@pytest.fixture
def books(stored_ledger: Ledger, store_url: str, clock: Clock) -> Iterator[Books]:
    """A 2026 budget, one claim approved and paid, one approved, one submitted; the audit read model caught up."""
    ledger = stored_ledger
    ledger.appropriate_budget(county=LIANSHUI, year=YEAR, lines={"transport": 500_000, "communication": 90_000},
                              by=FINANCE_A)  # fmt: skip
    paid, approved, submitted = (claim_of_february(ledger, make_pair(ledger, n)) for n in (1, 2, 3))
    for claim in (paid, approved):
        ledger.approve_claim(claim, by=FINANCE_A)
    ledger.pay_claim(paid, reference="国库-1", paid_on=clock.now.date(), by=FINANCE_B)
    view = open_audit_view(store_url)
    made = Books(ledger, view, approved, submitted)
    try:
        made.catch_up()
        yield made
    finally:
        view.close()


def test_the_books_balance_and_agree_with_the_budget_and_the_audit(books: Books) -> None:
    result = reconcile(books.ledger, LIANSHUI, YEAR, audit=books.view)
    assert result.balanced and result.findings() == []
    head = books.ledger.recorder.max_notification_id()
    assert [(c.source, c.position, c.differences) for c in result.comparisons] == [
        ("budget", head, ()),
        ("audit", head, ()),
    ]
    transport = result.lines[0]
    assert transport.line == "transport" and transport.committed > 0 and transport.paid > 0
    assert transport.budgeted == transport.committed + transport.paid + transport.available


def test_a_forged_commitment_of_a_wrong_amount_is_found_with_its_position(books: Books, clock: Clock) -> None:
    budget = books.ledger.repository.get(budget_id(LIANSHUI, YEAR))
    assert isinstance(budget, Budget)
    position = forge(books.ledger, Budget.Committed(
        originator_id=budget.id, originator_version=budget.version + 1, timestamp=clock.now,
        claim_id=books.approved, line="transport", amount=1_234, meta=FINANCE_A,
    ))  # fmt: skip
    result = reconcile(books.ledger, LIANSHUI, YEAR, audit=books.view)
    assert not result.balanced and result.lines[0].difference == 1_234
    [difference] = result.claims
    assert (difference.claim_id, difference.status, difference.difference) == (books.approved, "approved", 1_234)
    assert difference.events[-1].position == position and difference.events[-1].event == "Budget.Committed"
    budget_says, audit_says = result.comparisons
    assert budget_says.differences == ()  # the aggregate folds the forged event as the log does
    assert audit_says.position == position - 1 and audit_says.differences == ()  # compared where it stands
    books.catch_up()
    again = reconcile(books.ledger, LIANSHUI, YEAR, audit=books.view)
    assert again.claims == result.claims and again.comparisons[1].position == position


def test_a_forged_payment_of_a_claim_never_approved_is_found_with_its_position(books: Books, clock: Clock) -> None:
    claim = books.ledger.repository.get(books.submitted)
    assert isinstance(claim, Claim)
    position = forge(books.ledger, Claim.Paid(
        originator_id=claim.id, originator_version=claim.version + 1, timestamp=clock.now,
        by=FINANCE_B.principal_id, reference="伪造", paid_on=clock.now.date(), meta=FINANCE_B,
    ))  # fmt: skip
    books.catch_up()
    result = reconcile(books.ledger, LIANSHUI, YEAR, audit=books.view)
    owed = {str(line): amount for line, amount in claim.amounts_by_line.items() if amount}
    assert not result.balanced
    assert {(d.claim_id, d.line, d.status, d.expected, d.held) for d in result.claims} == {
        (books.submitted, line, "paid", amount, 0) for line, amount in owed.items()
    }
    assert all(d.events[-1].position == position for d in result.claims)
    assert {x.line: x.difference for x in result.lines if x.difference} == {line: -n for line, n in owed.items()}
