"""The health read model: an elder's readings over time, for the medical volunteers.

One row per visit not voided: the visit, its elder and volunteer, when it started (``taken_at``)
and its readings (systolic and diastolic pressure, pulse, glucose in mmol/L; each may be
missing). A row is kept for every visit, with readings or not, because an amendment may add
readings to a visit that had none; :meth:`HealthView.readings_of` answers only the visits with
at least one reading. An ``Amended`` change of ``readings`` replaces all four (the ledger's
amendment carries the visit's whole new set), one of ``started_at`` moves the row in time, and
``Voided`` deletes it.

The readings are health data (DESIGN "Personal data"): this view holds them as numbers so it
can answer, beside ids and times and nothing else of the elder. Forgetting an elder must also
delete its rows here (or rebuild the view once the ledger's copy is unreadable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteCursor
from psycopg.sql import Composed

from projections.dialect import POSTGRES, SQLITE, Answer, BatchWriter, SnapshotReader
from projections.runner import PagedProjection
from projections.views import PagedView, PostgresView, SQLiteView, open_view

READINGS = ("systolic", "diastolic", "pulse", "glucose_mmol_l")

DDL = (
    "CREATE TABLE IF NOT EXISTS {readings} ("
    "visit_id {uuid} PRIMARY KEY, elder_id {uuid} NOT NULL, volunteer_id {uuid} NOT NULL, "
    "taken_at {instant} NOT NULL, systolic {number}, diastolic {number}, pulse {number}, glucose_mmol_l {number}) "
    "{without_rowid}",
    "CREATE INDEX IF NOT EXISTS {readings_by_elder} ON {readings} (elder_id, taken_at)",
)
WRITES = {
    "record": (
        "INSERT INTO {readings} (visit_id, elder_id, volunteer_id, taken_at, systolic, diastolic, pulse, "
        "glucose_mmol_l) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "readings": "UPDATE {readings} SET systolic = ?, diastolic = ?, pulse = ?, glucose_mmol_l = ? WHERE visit_id = ?",
    "move": "UPDATE {readings} SET taken_at = ? WHERE visit_id = ?",
    "void": "DELETE FROM {readings} WHERE visit_id = ?",
}
"""A page's rows, in the order they are sent: a visit is recorded before it is amended or voided,
the two kinds of amendment set different columns, and nothing is amended once voided."""
EXACT = ("readings", "move", "void")
OF_ELDER = (
    "SELECT visit_id, volunteer_id, taken_at, systolic, diastolic, pulse, glucose_mmol_l FROM {readings} "
    "WHERE elder_id = ? AND (systolic IS NOT NULL OR pulse IS NOT NULL OR glucose_mmol_l IS NOT NULL)"
)
KINDS = {
    "visit_id": "uid",
    "volunteer_id": "uid",
    "taken_at": "instant",
    **dict.fromkeys(READINGS, "number"),
}


@dataclass(frozen=True)
class Reading:
    """The readings of one visit (a missing one is None)."""

    visit_id: UUID
    volunteer_id: UUID
    taken_at: datetime
    """When the visit started (as last amended)."""
    systolic: Decimal | None
    diastolic: Decimal | None
    pulse: Decimal | None
    glucose_mmol_l: Decimal | None


HealthAnswer = Answer


class HealthProjection(PagedProjection[BatchWriter]):
    """Projects visits, their amendments and voids into :class:`HealthView` rows."""

    name = "health"
    topics = ("tiexin.visit.Recorded", "tiexin.visit.Amended", "tiexin.visit.Voided")

    def __init__(self, view: HealthView) -> None:
        super().__init__(view)
        self.health = view

    def apply(self, writer: BatchWriter, event: Any, notification: Notification) -> None:
        d, visit_id = writer.dialect, writer.dialect.uid(event.originator_id)
        if notification.topic == "tiexin.visit.Recorded":
            readings = values_of(writer, event.readings)
            writer.add(
                "record",
                visit_id,
                d.uid(event.elder_id),
                d.uid(event.volunteer_id),
                d.instant(event.started_at),
                *readings,
            )
        elif notification.topic == "tiexin.visit.Amended":
            if "readings" in event.changes:
                writer.add("readings", *values_of(writer, event.changes["readings"]), visit_id)
            if "started_at" in event.changes:
                writer.add("move", d.instant(event.changes["started_at"]), visit_id)
        elif notification.topic == "tiexin.visit.Voided":
            writer.add("void", visit_id)

    def readings_of(self, elder_id: UUID) -> Answer[Reading]:
        return self.health.readings_of(elder_id)


def values_of(writer: BatchWriter, readings: dict[str, Any]) -> list[Any]:
    unknown = set(readings) - set(READINGS)
    if unknown:
        raise ValueError(f"unknown readings {', '.join(sorted(unknown))}")
    return [writer.dialect.number(None if readings.get(r) is None else Decimal(readings[r])) for r in READINGS]


class HealthView(SnapshotReader, PagedView[BatchWriter]):
    """What the health read model answers, whichever store holds it."""

    @cached_property
    def names(self) -> dict[str, Any]:  # type: ignore[override]  # known once the view is open
        return self.dialect.names(self, ("readings",), ("readings_by_elder",))

    @cached_property
    def statements(self) -> dict[str, Any]:
        return {name: self.dialect.render(template, self.names) for name, template in WRITES.items()}

    def ddl(self) -> list[Any]:
        return [self.dialect.render(statement, self.names) for statement in DDL]

    def health_writer(self, cursor: Any) -> BatchWriter:
        return BatchWriter(cursor, self.dialect, self.statements, tuple(WRITES), EXACT)

    def readings_of(self, elder_id: UUID) -> Answer[Reading]:
        """The elder's readings, by time (then visit), from its visits not voided."""
        position, [rows] = self.read((OF_ELDER, [self.dialect.uid(elder_id)]))
        found = [Reading(**self.dialect.decode(r, KINDS)) for r in rows]
        found.sort(key=lambda r: (r.taken_at, str(r.visit_id)))
        return Answer(position, tuple(found))


class SQLiteHealthView(SQLiteView[BatchWriter], HealthView):
    dialect = SQLITE

    @property
    def view_tables(self) -> tuple[str, ...]:
        return (self.table("readings"),)

    def view_statements(self) -> list[str]:
        return self.ddl()

    def writer(self, cursor: SQLiteCursor) -> BatchWriter:
        return self.health_writer(cursor)


class PostgresHealthView(PostgresView[BatchWriter], HealthView):
    dialect = POSTGRES

    @property
    def view_tables(self) -> tuple[str, ...]:
        return ("readings",)

    def view_statements(self) -> list[Composed]:
        return self.ddl()

    def writer(self, cursor: Any) -> BatchWriter:
        return self.health_writer(cursor)


def open_health_view(url: str, name: str = HealthProjection.name) -> HealthView:
    """The health view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    view: HealthView = open_view(url, name, SQLiteHealthView, PostgresHealthView)
    return view


def open_projection(url: str) -> HealthProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return HealthProjection(open_health_view(url))


__all__ = [
    "HealthAnswer",
    "HealthProjection",
    "HealthView",
    "PostgresHealthView",
    "Reading",
    "SQLiteHealthView",
    "open_health_view",
    "open_projection",
]
