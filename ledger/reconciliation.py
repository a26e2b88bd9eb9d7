"""Reconciling a budget year (预算对账): appropriated + adjustments = committed + paid + available, per line.

The rule, computed from the log's events alone — never from the :class:`~ledger.budgets.Budget`
aggregate nor from a read model — by :class:`Books`, fed the budget and claim events in log order:

- **appropriated**: the line's amount in the budget's ``Appropriated`` event;
- **adjustments**: the sum of the line's ``Adjusted`` deltas;
- **committed**: the line's amounts of the year's claims (the budget's county, the claim month's
  year) that are *approved and not yet paid*, read from the claims' own events (``Submitted`` for
  the amounts — the sum of the items' transport to the transport line, the communication amount
  to its line — and ``Approved``, ``Paid``, ``Rejected``, ``Reversed`` for the status);
- **paid**: the line's amounts of the year's claims that are *paid* (and not reversed);
- **available**: appropriated + adjustments − what the budget's own ``Committed`` − ``Released``
  events hold on the line (``held``).

The two sides come from two independent streams: what the budget set aside (its events) and what
was approved and paid (the claims' events). They balance, to the fen, exactly when every claim's
commitment in the budget is its amount while it is approved or paid and nothing otherwise. Every
claim where they differ is a :class:`ClaimDifference`, listed with the events behind it (log
positions): a forged ``Committed`` of a wrong amount, a ``Paid`` never approved, a ``Released``
of nothing all show there.

The line figures are then compared (:func:`compare`) with what others state: the Budget aggregate
(loaded at the same point of the log: ``budgeted``, ``held``, ``available``) and the audit read
model (at its own position, against the log's figures at that position: ``budgeted``, ``held``,
``paid``, ``available``). Any disagreement is a :class:`SourceDifference`.

Pure: no store, no clock. Reading the log is :mod:`projections.reconcile`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.budgets import Budget, BudgetLine, budget_id
from ledger.claims import Claim, ClaimStatus

EVENTS: tuple[type[Any], ...] = (
    Budget.Appropriated,
    Budget.Adjusted,
    Budget.Committed,
    Budget.Released,
    Claim.Submitted,
    Claim.Approved,
    Claim.Rejected,
    Claim.Paid,
    Claim.Reversed,
)
"""The events a reconciliation reads (the log is filtered by their topics)."""

FIGURES = ("budgeted", "held", "paid", "available")
"""What a source can state of a line: appropriated + adjustments, Committed − Released (to claims
approved or paid), paid, and available (budgeted − held)."""
SPENDING = (ClaimStatus.APPROVED.value, ClaimStatus.PAID.value)
"""The statuses in which a claim's amounts are held by the budget."""
UNKNOWN = "unknown"
"""The status of a claim the budget names but the log never saw submitted."""


@dataclass(frozen=True)
class EventRef:
    """One event behind a figure: its log position and what it was (``Budget.Committed``)."""

    position: int
    event: str

    def __str__(self) -> str:
        return f"{self.event}@{self.position}"


@dataclass(frozen=True)
class LineBalance:
    """One line of the year, from the log: appropriated + adjustments = committed + paid + available."""

    line: str
    appropriated: int
    adjustments: int
    committed: int
    """Approved, not yet paid (from the claims' events)."""
    paid: int
    """Paid, not reversed (from the claims' events)."""
    held: int
    """What the budget's own Committed − Released events hold on the line."""

    @property
    def budgeted(self) -> int:
        return self.appropriated + self.adjustments

    @property
    def available(self) -> int:
        return self.budgeted - self.held

    @property
    def difference(self) -> int:
        """appropriated + adjustments − (committed + paid + available): 0 when the line balances."""
        return self.budgeted - (self.committed + self.paid + self.available)

    @property
    def balanced(self) -> bool:
        return self.difference == 0

    def figure(self, name: str) -> int:
        value: int = getattr(self, name)
        return value


@dataclass(frozen=True)
class ClaimDifference:
    """A claim whose commitment in the budget is not what its status and amounts call for, on one line."""

    claim_id: UUID
    status: str
    """Its status in the log (``unknown``: never submitted)."""
    line: str
    expected: int
    """What the budget should hold for it: its amount while approved or paid (of this budget's year), else 0."""
    held: int
    """What the budget's Committed − Released events hold for it."""
    events: tuple[EventRef, ...]
    """The claim's events and the budget's events about it, in log order."""

    @property
    def difference(self) -> int:
        return self.held - self.expected

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(e.position for e in self.events)


@dataclass(frozen=True)
class SourceDifference:
    """A figure a source states that is not what the log says."""

    source: str
    line: str
    figure: str
    log: int
    stated: int


@dataclass(frozen=True)
class Comparison:
    """What one source (``budget``: the aggregate; ``audit``: the read model) was compared at, and found."""

    source: str
    position: int | None
    """The log position the source reflects (None: not compared)."""
    compared: bool
    reason: str | None = None
    """Why it was not compared."""
    differences: tuple[SourceDifference, ...] = ()


@dataclass(frozen=True)
class Reconciliation:
    """A budget year reconciled from the log up to ``position``."""

    county: str
    year: int
    position: int
    lines: tuple[LineBalance, ...]
    claims: tuple[ClaimDifference, ...]
    comparisons: tuple[Comparison, ...] = ()

    @property
    def balanced(self) -> bool:
        """Every line balances, no claim differs and no source disagrees with the log."""
        return (
            all(line.balanced for line in self.lines)
            and not self.claims
            and not any(c.differences for c in self.comparisons)
        )

    @property
    def total(self) -> LineBalance:
        return LineBalance(
            "total",
            sum(x.appropriated for x in self.lines),
            sum(x.adjustments for x in self.lines),
            sum(x.committed for x in self.lines),
            sum(x.paid for x in self.lines),
            sum(x.held for x in self.lines),
        )

    def findings(self) -> list[str]:
        """Each difference in one line of text (empty when balanced)."""
        found = [
            f"{x.line}: appropriated + adjustments {x.budgeted} ≠ committed {x.committed} + paid {x.paid} "
            f"+ available {x.available} (off by {x.difference} fen)"
            for x in self.lines
            if not x.balanced
        ]
        found += [
            f"claim {c.claim_id} ({c.status}) {c.line}: the budget holds {c.held} fen, its status calls for "
            f"{c.expected} (events {', '.join(map(str, c.events))})"
            for c in self.claims
        ]
        found += [
            f"the {d.source} states {d.line} {d.figure} {d.stated} fen at position {c.position}; the log says {d.log}"
            for c in self.comparisons
            for d in c.differences
        ]
        return found


@dataclass
class _Claim:
    county: str | None = None
    year: int | None = None
    status: str = UNKNOWN
    amounts: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    events: list[EventRef] = field(default_factory=list)


class Books:
    """The year's two sides, folded from the log's budget and claim events (see the module's docstring)."""

    def __init__(self, county: str, year: int) -> None:
        self.county = county
        self.year = year
        self.budget_id = budget_id(county, year)
        self.appropriated: dict[str, int] | None = None
        """None until the budget's Appropriated event is seen."""
        self.adjustments: dict[str, int] = {}
        self.budget_version: int | None = None
        """The budget's version after the last of its events seen (to load the aggregate at the same point)."""
        self.claims: dict[UUID, _Claim] = {}

    def apply(self, position: int, event: Any) -> None:
        """Fold one event (of :data:`EVENTS`) at its log position; others are ignored."""
        if isinstance(event, Claim.Submitted | Claim.Approved | Claim.Rejected | Claim.Paid | Claim.Reversed):
            self._claim_event(position, event)
        elif (
            isinstance(event, Budget.Appropriated | Budget.Adjusted | Budget.Committed | Budget.Released)
            and event.originator_id == self.budget_id
        ):
            self._budget_event(position, event)

    def _claim_event(self, position: int, event: Any) -> None:
        claim = self.claims.setdefault(event.originator_id, _Claim())
        claim.events.append(EventRef(position, f"Claim.{type(event).__name__}"))
        if isinstance(event, Claim.Submitted):
            claim.county, claim.year = event.county, int(event.month[:4])
            claim.amounts = {
                BudgetLine.TRANSPORT.value: sum(int(item["transport_fen"]) for item in event.items),
                BudgetLine.COMMUNICATION.value: int(event.communication_fen),
            }
            claim.status = ClaimStatus.SUBMITTED.value
        elif isinstance(event, Claim.Approved):
            claim.status = ClaimStatus.APPROVED.value
        elif isinstance(event, Claim.Rejected):
            claim.status = ClaimStatus.REJECTED.value
        elif isinstance(event, Claim.Paid):
            claim.status = ClaimStatus.PAID.value
        else:
            claim.status = ClaimStatus.REVERSED.value

    def _budget_event(self, position: int, event: Any) -> None:
        self.budget_version = event.originator_version
        if isinstance(event, Budget.Appropriated):
            self.appropriated = {str(line): int(amount) for line, amount in event.lines.items()}
        elif isinstance(event, Budget.Adjusted):
            self.adjustments[event.line] = self.adjustments.get(event.line, 0) + int(event.delta)
        else:
            sign = 1 if isinstance(event, Budget.Committed) else -1
            claim = self.claims.setdefault(event.claim_id, _Claim())
            claim.held[event.line] = claim.held.get(event.line, 0) + sign * int(event.amount)
            claim.events.append(EventRef(position, f"Budget.{type(event).__name__}"))

    @property
    def appropriated_yet(self) -> bool:
        return self.appropriated is not None

    def _ours(self, claim: _Claim) -> bool:
        return claim.county == self.county and claim.year == self.year

    def expected(self, claim: _Claim, line: str) -> int:
        """What the budget should hold for a claim on a line."""
        return claim.amounts.get(line, 0) if self._ours(claim) and claim.status in SPENDING else 0

    def line_names(self) -> list[str]:
        named = {*(self.appropriated or {}), *self.adjustments}
        for claim in self.claims.values():
            named |= set(claim.held)
        ordered = [str(line) for line in BudgetLine]
        return ordered + sorted(named - set(ordered))

    def lines(self) -> tuple[LineBalance, ...]:
        """Each line's figures as the events folded so far say."""
        committed: dict[str, int] = {}
        paid: dict[str, int] = {}
        held: dict[str, int] = {}
        for claim in self.claims.values():
            for line, amount in claim.held.items():
                held[line] = held.get(line, 0) + amount
            if self._ours(claim) and claim.status in SPENDING:
                into = paid if claim.status == ClaimStatus.PAID else committed
                for line, amount in claim.amounts.items():
                    into[line] = into.get(line, 0) + amount
        appropriated = self.appropriated or {}
        return tuple(
            LineBalance(
                line,
                appropriated.get(line, 0),
                self.adjustments.get(line, 0),
                committed.get(line, 0),
                paid.get(line, 0),
                held.get(line, 0),
            )
            for line in self.line_names()
        )

    def differences(self) -> tuple[ClaimDifference, ...]:
        """Every claim, line by line, whose commitment in the budget is not what it should be (by claim id)."""
        found = []
        for claim_id in sorted(self.claims, key=str):
            claim = self.claims[claim_id]
            for line in sorted({*claim.held, *(claim.amounts if self._ours(claim) else ())}):
                expected, held = self.expected(claim, line), claim.held.get(line, 0)
                if expected != held:
                    found.append(ClaimDifference(claim_id, claim.status, line, expected, held, tuple(claim.events)))
        return tuple(found)


def compare(
    source: str,
    position: int,
    ours: Iterable[LineBalance],
    stated: Mapping[str, Mapping[str, int]],
    figures: Iterable[str] = FIGURES,
) -> Comparison:
    """The ``figures`` a source states (line → figure → fen; a line or figure left out states 0)
    against the log's at the same position."""
    by_line = {x.line: x for x in ours}
    differences = []
    for line in [*by_line, *sorted(set(stated) - set(by_line))]:
        mine, said = by_line.get(line), stated.get(line, {})
        for figure in figures:
            log_value, value = (mine.figure(figure) if mine is not None else 0), said.get(figure, 0)
            if log_value != value:
                differences.append(SourceDifference(source, line, figure, log_value, value))
    return Comparison(source, position, True, None, tuple(differences))


BUDGET_FIGURES = ("budgeted", "held", "available")
"""What the Budget aggregate states (it does not know what was paid)."""


def stated_by_budget(budget: Budget) -> dict[str, dict[str, int]]:
    """What the Budget aggregate says of each line: budgeted, held (its ``committed``), available."""
    return {
        line: {"budgeted": budget.appropriated[line], "held": budget.committed.get(line, 0),
               "available": budget.appropriated[line] - budget.committed.get(line, 0)}
        for line in budget.appropriated
    }  # fmt: skip


def not_compared(source: str, reason: str, position: int | None = None) -> Comparison:
    return Comparison(source, position, False, reason)
