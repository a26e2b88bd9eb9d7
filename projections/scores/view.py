"""The scores view: its store-agnostic reads, and the store the page writer writes through.

A month is read in one snapshot (:meth:`PagedView.read`: SQLite, one transaction in WAL mode;
PostgreSQL, REPEATABLE READ), so its rows and the view position they reflect agree. What the
rows mean, and how scores are computed from them: :mod:`projections.scores`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from projections.scores import tables
from projections.scores.writer import ScoresWriter, VisitRow, visit_row
from projections.storage import Kind, PagedView, Table
from projections.storage.types import Cursor

# ``Any`` here is a DB cursor or a fetched row (either store's).


class VolunteerRow(NamedTuple):
    volunteer_id: str
    county: str
    township: str


class PolicyRow(NamedTuple):
    version: int
    parameters: str
    effective_from: str
    position: int


class PairingRow(NamedTuple):
    volunteer_id: str
    elder_id: str
    ended_on: str | None
    formed_position: int
    ended_position: int | None
    pairing_id: str = ""


class EvaluationRow(NamedTuple):
    volunteer_id: str
    criteria_sum: int
    criteria_count: int
    submitted_position: int
    withdrawn_position: int | None
    evaluation_id: str = ""
    criteria: str | None = None
    """The scores by criterion, JSON (None: only their sum and count are known)."""


class TrainingRow(NamedTuple):
    volunteer_id: str
    hours: str
    position: int
    on_date: str = ""


class MoveRow(NamedTuple):
    volunteer_id: str
    events: int
    first: int
    last: int


@dataclass(frozen=True)
class MonthRows:
    """Everything one month's scores are computed from, read in one snapshot of the view."""

    position: int
    policies: list[PolicyRow]
    volunteers: list[VolunteerRow]
    visits: list[VisitRow]
    moves: list[MoveRow]
    pairings: list[PairingRow]
    evaluations: list[EvaluationRow]
    trainings: list[TrainingRow]


@dataclass(frozen=True)
class Who:
    """Whose inputs to read: one volunteer, or those of a township and/or county, or everyone."""

    volunteer_id: str | None = None
    township: str | None = None
    county: str | None = None

    def clause(self) -> tuple[str, list[Any]]:
        """The ``{who}`` condition of a template (on its ``volunteer_id``) and its params."""
        clauses, params, among = [], [], []
        if self.volunteer_id is not None:
            clauses.append("volunteer_id = ?")
            params.append(self.volunteer_id)
        for column in ("township", "county"):
            if (value := getattr(self, column)) is not None:
                among.append(f"{column} = ?")
                params.append(value)
        if among:
            clauses.append(f"volunteer_id IN (SELECT volunteer_id FROM {{volunteers}} WHERE {' AND '.join(among)})")
        return " AND ".join(clauses) or "1 = 1", params


class ScoresView(PagedView[ScoresWriter]):
    """The scores view's tables and reads, whichever store holds them; the writer's :class:`Store`."""

    tables = tables.TABLES

    def writer(self, cursor: Cursor) -> ScoresWriter:
        return ScoresWriter(cursor, self)

    # The writer's store ------------------------------------------------------------------------

    def insert_rows(self, cursor: Cursor, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """One array statement (PostgreSQL) or ``executemany`` (SQLite); a visit's row replaces its old one."""
        update = tables.REPLACED.get(table.suffix)
        statement = self.dialect.insert(table) if update is None else self.dialect.upsert(table, update)
        self.dialect.write(cursor, statement, rows)

    def update_rows(self, cursor: Cursor, template: str, rows: list[tuple[Any, ...]]) -> int:
        cursor.executemany(self.dialect.render(template), rows)
        return self.dialect.changed(cursor)

    def load_visits(self, cursor: Cursor, visit_ids: list[str]) -> list[VisitRow]:
        cursor.execute(self.dialect.render(tables.LOAD_VISITS), (self.dialect.keys(Kind.TEXT, visit_ids),))
        return [visit_row(r) for r in cursor.fetchall()]

    # Reads -------------------------------------------------------------------------------------

    def month_rows(self, month: str, first: str, last: str, periods: Sequence[str], who: Who) -> MonthRows:
        """The inputs of ``month`` (first and last day, ISO; the evaluation periods covering it), in one snapshot."""
        where, params = who.clause()

        def of(template: str, *args: Any) -> tuple[str, list[Any]]:
            return template.replace("{who}", where), [*args, *params]

        evaluations = tables.EVALUATIONS_OF.replace("{periods}", ", ".join("?" * len(periods)))
        position, (policies, volunteers, visits, moves, pairings, evaluated, trainings) = self.read(
            (tables.POLICIES_OF, ()),
            of(tables.VOLUNTEERS_OF, last, last, first, first),
            of(tables.VISITS_OF, month),
            of(tables.MOVES_OF, month),
            of(tables.PAIRINGS_OF, last),
            of(evaluations, *periods),
            of(tables.TRAININGS_OF, int(month[:4]), last),
        )
        values = self.dialect.values
        return MonthRows(
            position=position,
            policies=[PolicyRow(*values(r)) for r in policies],
            volunteers=[VolunteerRow(*values(r)) for r in volunteers],
            visits=[visit_row(r) for r in visits],
            moves=[MoveRow(*values(r)) for r in moves],
            pairings=[PairingRow(*values(r)) for r in pairings],
            evaluations=[EvaluationRow(*values(r)) for r in evaluated],
            trainings=[TrainingRow(*values(r)) for r in trainings],
        )

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """The whole view, table by table in key order, in one snapshot (to compare a rebuilt view with a live one)."""
        _, found = self.read(*((tables.EVERY_ROW.format(table=t.suffix), ()) for t in tables.TABLES))
        return {t.suffix: [self.dialect.values(r) for r in rows] for t, rows in zip(tables.TABLES, found, strict=True)}
