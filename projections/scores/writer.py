"""The writer of a page of the scores view: a page's facts, buffered, then written in a few statements.

:class:`ScoresWriter` buffers the facts the handlers derive from a page's events
(:mod:`projections.scores.handlers`) and writes them at :meth:`ScoresWriter.flush`: it loads the
page's visits in one query, replays the visit facts in log order in memory, then inserts the new
rows (one array statement or ``executemany`` a table) and applies the updates (one
``executemany`` each). An update that finds no row, or a visit event for a visit the view never
saw recorded, is an error: the view refuses the page rather than drift from the log, and the
runner names the event. What it writes through is a :class:`Store` (the view), so the replay can
be tested without one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ledger.visits import VisitStatus
from projections.scores import tables
from projections.storage import Table
from projections.storage.types import Cursor, Row


class Standing(StrEnum):
    """A visit's status for scoring: counted; counted and penalised; not counted and penalised."""

    OK = "ok"
    DISPUTED = VisitStatus.DISPUTED.value
    VOIDED = VisitStatus.VOIDED.value


OK, DISPUTED, VOIDED = Standing.OK, Standing.DISPUTED, Standing.VOIDED


class Fact(StrEnum):
    """What a visit event tells the scores view (:meth:`ScoresWriter.visit`)."""

    RECORDED = VisitStatus.RECORDED.value
    CONFIRMED = VisitStatus.CONFIRMED.value
    DISPUTED = VisitStatus.DISPUTED.value
    VOIDED = VisitStatus.VOIDED.value
    RATED = "rated"
    MOVED = "moved"


@dataclass
class VisitRow:
    """A visit as scoring sees it; ``events`` counts the events that shaped these fields."""

    visit_id: str
    volunteer_id: str
    month: str
    status: str
    bad_position: int | None
    rating: int | None
    first_position: int
    last_position: int
    events: int
    rated_position: int | None = None

    def touched(self, position: int) -> None:
        self.last_position = position
        self.events += 1

    def params(self) -> tuple[Any, ...]:
        """The row in the columns' order of :data:`projections.scores.tables.VISITS`."""
        return (
            self.visit_id, self.volunteer_id, self.month, str(self.status), self.bad_position, self.rating,
            self.first_position, self.last_position, self.events, self.rated_position,
        )  # fmt: skip


def visit_row(r: Row) -> VisitRow:
    """A fetched row of the visits table (a DB row: ``Any``) as a :class:`VisitRow`."""
    return VisitRow(
        r["visit_id"], r["volunteer_id"], r["month"], r["status"], r["bad_position"], r["rating"],
        r["first_position"], r["last_position"], r["events"], r["rated_position"],
    )  # fmt: skip


class Store(Protocol):
    """What the writer needs of its view's store (:class:`projections.scores.view.ScoresView`).

    ``cursor`` is the page transaction's DB cursor (``Any``: the library's, of either store).
    """

    def insert_rows(self, cursor: Cursor, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """Insert whole rows (every column, in declared order) into ``table``, in one round trip."""

    def update_rows(self, cursor: Cursor, template: str, rows: list[tuple[Any, ...]]) -> int:
        """Run an update once per row; return how many rows it changed in all."""

    def load_visits(self, cursor: Cursor, visit_ids: list[str]) -> list[VisitRow]: ...


class ScoresWriter:
    """Buffers one page's facts and writes them at :meth:`flush` (see the module's docstring)."""

    def __init__(self, cursor: Cursor, store: Store) -> None:
        self.cursor = cursor
        self.store = store
        self.inserts: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.updates: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.visit_facts: list[tuple[str, str, int, Any]] = []

    # What the handlers say (a new row is whole: columns not known yet are null) -----------------

    def recruited(self, volunteer_id: str, county: str, township: str, on: str, position: int) -> None:
        self.inserts["volunteers"].append((volunteer_id, county, township, on, position, None, None))

    def retired(self, volunteer_id: str, on: str, position: int) -> None:
        self.updates["retired"].append((on, position, volunteer_id))

    def adopted(self, version: int, parameters: str, effective_from: str, position: int) -> None:
        self.inserts["policies"].append((version, parameters, effective_from, position))

    def formed(self, pairing_id: str, volunteer_id: str, elder_id: str, from_date: str, position: int) -> None:
        self.inserts["pairings"].append((pairing_id, volunteer_id, elder_id, from_date, None, position, None))

    def ended(self, pairing_id: str, on: str, position: int) -> None:
        self.updates["ended"].append((on, position, pairing_id))

    def trained(self, volunteer_id: str, year: int, on: str, hours: str, position: int) -> None:
        self.inserts["trainings"].append((position, volunteer_id, year, on, hours))

    def submitted(
        self, evaluation_id: str, volunteer_id: str, period: str, criteria: dict[str, int], position: int
    ) -> None:
        """``criteria``: the scores by criterion (kept whole, and their sum and count)."""
        total, count, text = sum(criteria.values()), len(criteria), json.dumps(criteria, sort_keys=True)
        self.inserts["evaluations"].append((evaluation_id, volunteer_id, period, total, count, position, None, text))

    def withdrawn(self, evaluation_id: str, position: int) -> None:
        self.updates["withdrawn"].append((position, evaluation_id))

    def visit(self, what: str, visit_id: str, position: int, value: Any = None) -> None:
        """A :class:`Fact`: ``recorded`` (value: volunteer id, month), ``confirmed``, ``disputed``,
        ``voided``, ``rated`` (value: rating), ``moved`` (value: the month of its new start)."""
        self.visit_facts.append((what, visit_id, position, value))

    # Writing ------------------------------------------------------------------------------

    def flush(self) -> None:
        if self.visit_facts:
            self._replay_visits()
        for table in tables.TABLES:
            if rows := self.inserts.pop(table.suffix, None):
                self.store.insert_rows(self.cursor, table, rows)
        for name, statement in tables.UPDATES.items():
            if rows := self.updates.pop(name, None):
                changed = self.store.update_rows(self.cursor, statement, rows)
                if changed != len(rows):
                    raise ValueError(f"{name}: {len(rows) - changed} of {len(rows)} found no row to update")

    def _replay_visits(self) -> None:
        facts, self.visit_facts = self.visit_facts, []
        rows = {row.visit_id: row for row in self.store.load_visits(self.cursor, sorted({f[1] for f in facts}))}
        dirty: dict[str, VisitRow] = {}
        for what, visit_id, position, value in facts:
            row = rows.get(visit_id)
            if what == Fact.RECORDED:
                if row is not None:
                    raise ValueError(f"visit {visit_id} was already recorded at position {row.first_position}")
                volunteer_id, month = value
                row = rows[visit_id] = VisitRow(visit_id, volunteer_id, month, OK, None, None, position, position, 1)
            elif row is None:
                raise ValueError(f"visit {visit_id} was never recorded in this view")
            elif what == Fact.CONFIRMED:
                if row.status != DISPUTED:
                    continue  # a confirmation changes the score only when it settles a dispute
                row.status, row.bad_position = OK, None
                row.touched(position)
            elif what in (Fact.DISPUTED, Fact.VOIDED):
                row.status, row.bad_position = Standing(what), position
                row.touched(position)
            elif what == Fact.RATED:
                row.rating, row.rated_position = value, position
                row.touched(position)
            elif what == Fact.MOVED:
                if value != row.month:
                    self.inserts["moves"].append((position, visit_id, row.volunteer_id, row.month))
                    row.month = value
                row.touched(position)
            else:
                raise ValueError(f"unknown visit fact {what!r}")
            dirty[visit_id] = row
        self.inserts["visits"].extend(row.params() for row in dirty.values())
