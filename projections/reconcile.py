"""A budget year reconciled from the log (:mod:`ledger.reconciliation` holds the rule; this reads).

:func:`reconcile` reads the audit read model's budget first (if given: its lines and the position
it reflects), then the log's head, then scans the log's budget and claim events up to the head
(:mod:`projections.logscan`), folding them into :class:`~ledger.reconciliation.Books`; on the way
it notes the figures as they stood at the read model's position, to compare the read model with
the log at the same point. Last it loads the Budget aggregate at the version of the budget's last
event up to the head and compares what it states too.

Cost: one pass over the log's budget and claim events (about a tenth of the demo county's log,
read a page of 1,000 at a time, the store filtering by topic), and the claims' statuses held in
memory: well under a second for the demo county, linear in the claims for a province.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application

from ledger.budgets import Budget, budget_id
from ledger.errors import NotFound
from ledger.reconciliation import (
    BUDGET_FIGURES,
    EVENTS,
    Books,
    Comparison,
    LineBalance,
    Reconciliation,
    compare,
    not_compared,
    stated_by_budget,
)
from ledger.store import store_errors_translated
from projections.audit import AuditView, BudgetReport
from projections.logscan import head, scan


def reconcile(ledger: Application[Any], county: str, year: int, *, audit: AuditView | None = None) -> Reconciliation:
    """The year's budget reconciled from the log up to its head (NotFound: never appropriated)."""
    report: BudgetReport | None = None
    if audit is not None:
        with store_errors_translated("the read models' store"):
            report = audit.budget(county, year)
    with store_errors_translated("the event store"):
        until = head(ledger)
        books = Books(county, year)
        at_audit: tuple[LineBalance, ...] | None = None
        for position, event in scan(ledger, EVENTS, until=until):
            if report is not None and at_audit is None and position > report.position:
                at_audit = books.lines()
            books.apply(position, event)
        if not books.appropriated_yet or books.budget_version is None:
            raise NotFound(f"{year} budget of {county}", budget_id(county, year))
        budget: Any = ledger.repository.get(books.budget_id, version=books.budget_version)
    lines = books.lines()
    comparisons = [compare_budget(budget, until, lines)]
    if report is not None:
        comparisons.append(compare_audit(report, lines if at_audit is None else at_audit))
    return Reconciliation(county, year, until, lines, books.differences(), tuple(comparisons))


def compare_budget(budget: Any, position: int, lines: tuple[LineBalance, ...]) -> Comparison:
    if not isinstance(budget, Budget):
        return not_compared("budget", f"the record {budget.id} is not a budget")
    return compare("budget", position, lines, stated_by_budget(budget), BUDGET_FIGURES)


def compare_audit(report: BudgetReport, lines: tuple[LineBalance, ...]) -> Comparison:
    if report.position == 0:
        return not_compared("audit", "the audit read model has applied nothing yet", 0)
    stated = {
        x.line: {"budgeted": x.appropriated, "held": x.committed, "paid": x.paid, "available": x.available}
        for x in report.lines
    }
    return compare("audit", report.position, lines, stated)
