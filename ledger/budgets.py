"""Budgets (财政预算): one per county and fiscal year, with a transport and a communication line.

Rule: what is committed to approved claims never exceeds what is appropriated, per line.
Every approval touches the year's budget, so its stream grows all year; the application
snapshots it (see ``Ledger.snapshotting_intervals``) to keep loading it cheap.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_choice, require_fen, require_text, stable_id
from ledger.errors import InvalidInput, RuleViolation


class BudgetLine(StrEnum):
    """The lines of a year's budget: what claims are paid from."""

    TRANSPORT = "transport"
    COMMUNICATION = "communication"


# Aliases, typed as the plain text they were, kept for the demo generator until it names BudgetLine; no new use.
TRANSPORT: str = BudgetLine.TRANSPORT
COMMUNICATION: str = BudgetLine.COMMUNICATION
FIRST_YEAR, LAST_YEAR = 2000, 2100


def budget_id(county: str, year: int) -> UUID:
    return stable_id("budget", county, year)


class Budget(Aggregate):
    TOPIC = "tiexin.budget"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.budget.Created"

    @staticmethod
    def create_id(county: str, year: int) -> UUID:
        return budget_id(county, year)

    @classmethod
    def appropriate(cls, county: str, year: int, lines: dict[str, int], *, now: datetime, meta: Provenance) -> Budget:
        if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidInput("year", f"must be a fiscal year from {FIRST_YEAR} to {LAST_YEAR}")
        if not isinstance(lines, dict) or set(lines) != set(BudgetLine):
            raise InvalidInput("lines", f"appropriate exactly the lines {', '.join(BudgetLine)}")
        checked = {str(line): require_fen(f"lines.{line}", lines[line]) for line in BudgetLine}
        return cls(county=county, year=year, lines=checked, timestamp=now, meta=meta)

    class Appropriated(Aggregate.Created):
        TOPIC = "tiexin.budget.Appropriated"
        county: str
        year: int
        lines: dict[str, int]
        timestamp: datetime
        meta: Provenance

    @event(Appropriated)
    def __init__(self, county: str, year: int, lines: dict[str, int], timestamp: datetime, meta: Provenance) -> None:
        self.county = county
        self.year = year
        self.appropriated = dict(lines)
        self.committed = dict.fromkeys(map(str, BudgetLine), 0)
        self.commitments: dict[str, dict[str, int]] = {}

    def available(self, line: str) -> int:
        return self.appropriated[line] - self.committed[line]

    def adjust(self, *, line: str, delta: int, reason: str, now: datetime, meta: Provenance) -> None:
        check_line(line)
        delta = require_fen("delta", delta, allow_negative=True)
        if delta == 0:
            raise InvalidInput("delta", "an adjustment must change the line")
        if self.appropriated[line] + delta < self.committed[line]:
            raise RuleViolation(
                "budget.below_committed",
                f"the {line} line would fall to {self.appropriated[line] + delta} fen, below the "
                f"{self.committed[line]} fen already committed",
            )
        self._adjusted(
            line=line, delta=delta, reason=require_text("reason", reason, max_length=2000), timestamp=now, meta=meta
        )

    class Adjusted(Aggregate.Event):
        TOPIC = "tiexin.budget.Adjusted"
        line: str
        delta: int
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Adjusted)
    def _adjusted(self, line: str, delta: int, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.appropriated[line] += delta

    def commit(self, claim_id: UUID, amounts: dict[str, int], *, now: datetime, meta: Provenance) -> None:
        """Commit a claim's amounts to their lines, all or nothing."""
        if str(claim_id) in self.commitments:
            raise RuleViolation("budget.already_committed", f"claim {claim_id} is already committed")
        for line, amount in amounts.items():
            if amount > self.available(line):
                raise RuleViolation(
                    "budget.overdrawn",
                    f"the {self.year} {line} line has {self.available(line)} fen available; "
                    f"claim {claim_id} needs {amount}",
                )
        for line, amount in amounts.items():
            if amount:
                self._committed(claim_id=claim_id, line=line, amount=amount, timestamp=now, meta=meta)

    class Committed(Aggregate.Event):
        TOPIC = "tiexin.budget.Committed"
        claim_id: UUID
        line: str
        amount: int
        timestamp: datetime
        meta: Provenance

    @event(Committed)
    def _committed(self, claim_id: UUID, line: str, amount: int, timestamp: datetime, meta: Provenance) -> None:
        self.committed[line] += amount
        self.commitments.setdefault(str(claim_id), {})[line] = amount

    def release(self, claim_id: UUID, *, now: datetime, meta: Provenance) -> None:
        """Give back what a reversed claim had committed."""
        for line, amount in list(self.commitments.get(str(claim_id), {}).items()):
            self._released(claim_id=claim_id, line=line, amount=amount, timestamp=now, meta=meta)

    class Released(Aggregate.Event):
        TOPIC = "tiexin.budget.Released"
        claim_id: UUID
        line: str
        amount: int
        timestamp: datetime
        meta: Provenance

    @event(Released)
    def _released(self, claim_id: UUID, line: str, amount: int, timestamp: datetime, meta: Provenance) -> None:
        self.committed[line] -= amount
        claim_lines = self.commitments[str(claim_id)]
        del claim_lines[line]
        if not claim_lines:
            del self.commitments[str(claim_id)]


def check_line(line: str) -> str:
    return require_choice("line", line, BudgetLine)
