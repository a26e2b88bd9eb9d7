"""A budget year month by month (its burndown): each line as the ledger knew it at the end of each county month.

Computed from the audit's own rows, nothing added to them: the trail holds every budget event the
audit applied with when it was *recorded* (``Appropriated`` and ``Adjusted`` under the budget,
``Committed`` and ``Released`` under their claim, all with the budget as their entity), and every
claim's ``Paid`` and ``Reversed``; the claims table holds what a paid claim pays from each line (its
transport total from the transport line, its communication amount from that line). Each event is
a :class:`Movement` of one line at its recorded moment, folded exactly as
:class:`~projections.audit.fold.Fold` folds it into the lines: so the moves of the whole trail add
up to the lines the audit holds now.

A month's point is every movement recorded before the end of that county month (Asia/Shanghai):
"as known then", as ``?as_of=`` reads a day, not by the dates the events are about (a claim of March
approved on 2 April moves April's point). Months after the current one (``today``'s) have no point;
the current month's is the year as known now (so far), marked ``partial``. Movements recorded before
the year began (a budget appropriated in December for the next year) are in its January point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from ledger.budgets import BudgetLine
from ledger.common import COUNTY_TZ, month_of
from projections.audit.fold import COMMUNICATION, TRANSPORT, TrailRow
from projections.audit.rules import ClaimState, LineState

LINE_ORDER: tuple[str, ...] = tuple(BudgetLine)
"""How a budget's lines are listed (then any other line, by name)."""
BUDGET_EVENTS = ("Appropriated", "Adjusted", "Committed", "Released")
"""The trail's names of the budget's own events (their entity is the budget)."""


@dataclass(frozen=True)
class Movement:
    """What one event changed of one budget line, and when it was recorded."""

    position: int
    recorded_at: datetime
    line: str
    appropriated: int = 0
    committed: int = 0
    paid: int = 0


@dataclass(frozen=True)
class MonthPoint:
    """A budget year's lines as known at the end of a county month (``partial``: the current month, so far)."""

    month: str
    through: date
    """The last county day it covers: the month's last, or today for the current month."""
    partial: bool
    lines: tuple[LineState, ...]


@dataclass(frozen=True)
class Burndown:
    position: int
    """The last log position the view reflects."""
    county: str
    year: int
    lines: tuple[LineState, ...]
    """The lines now, as :meth:`~projections.audit.AuditView.budget` answers them (empty: never appropriated)."""
    points: tuple[MonthPoint, ...]
    """January to the current month (none for a year not begun; twelve for a year ended)."""


def line_order(line: str) -> tuple[int, str]:
    return (LINE_ORDER.index(line) if line in LINE_ORDER else len(LINE_ORDER), line)


def movements(budget: UUID, trail: Iterable[TrailRow], claims: Mapping[UUID, ClaimState]) -> list[Movement]:
    """The budget's movements, by position: its own events among ``trail``, and the payments and reversals of
    ``claims`` (the budget's year's claims of its county, the ones whose payments it holds)."""
    found: list[Movement] = []
    paid: set[UUID] = set()
    for row in sorted(trail, key=lambda r: r.position):
        at, d = row.recorded_at, row.detail
        if row.entity_id == budget and row.event in BUDGET_EVENTS:
            if row.event == "Appropriated":
                found += [
                    Movement(row.position, at, line, appropriated=int(n)) for line, n in sorted(d["lines"].items())
                ]
            elif row.event == "Adjusted":
                found.append(Movement(row.position, at, d["line"], appropriated=int(d["delta"])))
            else:
                sign = 1 if row.event == "Committed" else -1
                found.append(Movement(row.position, at, d["line"], committed=sign * int(d["amount"])))
            continue
        claim = claims.get(row.entity_id)
        if claim is None or row.subject_id != claim.claim_id:
            continue
        if row.event == "Paid":
            paid.add(claim.claim_id)
            sign = 1
        elif row.event == "Reversed" and claim.claim_id in paid:  # a reversal unpays only a paid claim
            paid.discard(claim.claim_id)
            sign = -1
        else:
            continue
        for line, amount in ((TRANSPORT, claim.transport_fen), (COMMUNICATION, claim.communication_fen)):
            if amount:
                found.append(Movement(row.position, at, line, paid=sign * amount))
    return found


def month_end(year: int, month: int) -> datetime:
    """The first moment after a county month."""
    following = date(year + month // 12, month % 12 + 1, 1)
    return datetime.combine(following, time(), tzinfo=COUNTY_TZ)


def lines_at(
    budget: UUID, county: str, year: int, names: Iterable[str], moves: Iterable[Movement]
) -> tuple[LineState, ...]:
    """The lines ``names`` (and any other a movement names) after ``moves``, in the budget's order."""
    lines = {name: LineState(budget, name, county, year, 0, 0, 0, 0) for name in names}
    for m in moves:
        line = lines.setdefault(m.line, LineState(budget, m.line, county, year, 0, 0, 0, 0))
        line.appropriated += m.appropriated
        line.committed += m.committed
        line.paid += m.paid
        line.position = max(line.position, m.position)
    return tuple(sorted(lines.values(), key=lambda line: line_order(line.line)))


def month_points(
    budget: UUID, county: str, year: int, names: Iterable[str], moves: list[Movement], today: date
) -> tuple[MonthPoint, ...]:
    """The year's points, January to ``today``'s month (see the module's docstring)."""
    names = tuple(names)
    points = []
    for month in range(1, 13):
        first = date(year, month, 1)
        if (year, month) > (today.year, today.month):
            break
        partial = (year, month) == (today.year, today.month)
        end = month_end(year, month)
        known = moves if partial else [m for m in moves if m.recorded_at < end]
        through = today if partial else (end - timedelta(days=1)).date()
        lines = lines_at(budget, county, year, names, known)
        points.append(MonthPoint(month_of(first), through, partial, lines))
    return tuple(points)


def balances(lines: Iterable[LineState]) -> dict[str, tuple[int, int, int]]:
    """Each line's appropriated, committed and paid, lines all zero left out: what two sets of lines are
    compared by."""
    found = {line.line: (line.appropriated, line.committed, line.paid) for line in lines}
    return {name: figures for name, figures in found.items() if any(figures)}


__all__ = [
    "BUDGET_EVENTS",
    "Burndown",
    "MonthPoint",
    "Movement",
    "balances",
    "line_order",
    "lines_at",
    "month_end",
    "month_points",
    "movements",
]
