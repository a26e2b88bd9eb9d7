"""The history read model: every event of one entity, in order, with who, when and why.

One row per event of the log: the entity (aggregate) id and version, the log position and stored
topic, who recorded it (``meta.principal_id``, ``meta.role``), when it was recorded (the event's
``timestamp``), when what it records happened (``started_at`` of a visit, ``on``, ``from_date``,
``paid_on``; else null) and why (``reason_code``, ``reason``). ``of(entity, as_of=T)`` answers the
history as known at time T: only events *recorded* by then.

The rows copy no other field of an event: the personal data of elders (names, addresses, phones,
readings) stays in the ledger, encrypted and forgettable, and never leaks into a view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteCursor
from psycopg.sql import SQL, Composed

from ledger.common import Provenance
from projections.runner import PagedProjection
from projections.views import PagedView, PostgresView, SQLiteView, open_view

HAPPENED_FIELDS = ("started_at", "on", "from_date", "paid_on")
"""The fields that say when what an event records happened, the first present wins."""


@dataclass(frozen=True)
class HistoryRow:
    entity_id: UUID
    version: int
    position: int
    topic: str
    principal_id: str | None
    role: str | None
    recorded_at: datetime
    happened_at: date | datetime | None
    reason_code: str | None
    reason: str | None

    @property
    def event(self) -> str:
        """The event's short name: ``Recorded`` for ``tiexin.visit.Recorded``."""
        return self.topic.replace(":", ".").rsplit(".", 1)[-1]


def row_of(event: Any, notification: Notification) -> HistoryRow:
    """The history row of one decoded event (pure: raises if the event lacks what a row needs)."""
    recorded_at = event.timestamp
    if not isinstance(recorded_at, datetime) or recorded_at.tzinfo is None:
        raise ValueError(f"the event's timestamp {recorded_at!r} is not a timezone-aware date-time")
    meta = getattr(event, "meta", None)
    if meta is not None and not isinstance(meta, Provenance):
        raise ValueError(f"the event's meta {meta!r} is not a provenance")
    happened = next(
        (v for f in HAPPENED_FIELDS if isinstance(v := getattr(event, f, None), date)), None
    )  # a datetime is a date too
    return HistoryRow(
        entity_id=event.originator_id,
        version=event.originator_version,
        position=notification.id,
        topic=notification.topic,
        principal_id=meta.principal_id if meta else None,
        role=meta.role if meta else None,
        recorded_at=recorded_at.astimezone(UTC),
        happened_at=happened,
        reason_code=_text(getattr(event, "reason_code", None)),
        reason=_text(getattr(event, "reason", None)),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def encode_happened(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return None if value is None else value.isoformat()


def decode_happened(text: str | None) -> date | datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def encode_instant(moment: datetime) -> str:
    """SQLite's text for an instant: fixed width in UTC, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class HistoryWriter:
    """Buffers a page's rows and inserts them in one ``executemany``."""

    def __init__(self, cursor: Any, statement: Any, params: Any) -> None:
        self.cursor = cursor
        self.statement = statement
        self.params = params
        self.rows: list[HistoryRow] = []

    def add(self, row: HistoryRow) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if self.rows:
            self.cursor.executemany(self.statement, [self.params(r) for r in self.rows])
            self.rows.clear()


class HistoryView(PagedView[HistoryWriter], ABC):
    """What the history answers, whichever store holds it."""

    @abstractmethod
    def of(self, entity_id: UUID, as_of: datetime | None = None) -> list[HistoryRow]:
        """Every event of the entity, by version; with ``as_of``, only those recorded by then."""

    @abstractmethod
    def rows(self) -> list[HistoryRow]:
        """The whole view, by position (to compare a rebuilt view with a live one)."""


class SQLiteHistoryView(SQLiteView[HistoryWriter], HistoryView):
    @property
    def view_tables(self) -> tuple[str, ...]:
        return (self.table("events"),)

    def view_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table('events')} ("
            "entity_id TEXT NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL UNIQUE, "
            "topic TEXT NOT NULL, principal_id TEXT, role TEXT, recorded_at TEXT NOT NULL, "
            "happened_at TEXT, reason_code TEXT, reason TEXT, "
            "PRIMARY KEY (entity_id, version)) WITHOUT ROWID"
        ]

    def writer(self, cursor: SQLiteCursor) -> HistoryWriter:
        statement = f"INSERT INTO {self.table('events')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        return HistoryWriter(cursor, statement, self._params)

    @staticmethod
    def _params(row: HistoryRow) -> tuple[Any, ...]:
        return (
            str(row.entity_id), row.version, row.position, row.topic, row.principal_id, row.role,
            encode_instant(row.recorded_at), encode_happened(row.happened_at), row.reason_code, row.reason,
        )  # fmt: skip

    def of(self, entity_id: UUID, as_of: datetime | None = None) -> list[HistoryRow]:
        statement = f"SELECT * FROM {self.table('events')} WHERE entity_id = ?"
        params: list[Any] = [str(entity_id)]
        if as_of is not None:
            statement += " AND recorded_at <= ?"
            params.append(encode_instant(_aware(as_of)))
        return self._select(statement + " ORDER BY version", params)

    def rows(self) -> list[HistoryRow]:
        return self._select(f"SELECT * FROM {self.table('events')} ORDER BY position", [])

    def _select(self, statement: str, params: list[Any]) -> list[HistoryRow]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [
                row_from(r, UUID(r["entity_id"]), datetime.fromisoformat(r["recorded_at"])) for r in cursor.fetchall()
            ]


class PostgresHistoryView(PostgresView[HistoryWriter], HistoryView):
    @property
    def view_tables(self) -> tuple[str, ...]:
        return ("events",)

    def view_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "entity_id uuid NOT NULL, version bigint NOT NULL, position bigint NOT NULL UNIQUE, "
                "topic text NOT NULL, principal_id text, role text, recorded_at timestamptz NOT NULL, "
                "happened_at text, reason_code text, reason text, "
                "PRIMARY KEY (entity_id, version))"
            ).format(self.table("events"))
        ]

    def writer(self, cursor: Any) -> HistoryWriter:
        statement = SQL("INSERT INTO {0} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)").format(self.table("events"))
        return HistoryWriter(cursor, statement, self._params)

    @staticmethod
    def _params(row: HistoryRow) -> tuple[Any, ...]:
        return (
            row.entity_id, row.version, row.position, row.topic, row.principal_id, row.role, row.recorded_at,
            encode_happened(row.happened_at), row.reason_code, row.reason,
        )  # fmt: skip

    def of(self, entity_id: UUID, as_of: datetime | None = None) -> list[HistoryRow]:
        statement = SQL("SELECT * FROM {0} WHERE entity_id = %s").format(self.table("events"))
        params: list[Any] = [entity_id]
        if as_of is not None:
            statement += SQL(" AND recorded_at <= %s")
            params.append(_aware(as_of))
        return self._select(statement + SQL(" ORDER BY version"), params)

    def rows(self) -> list[HistoryRow]:
        return self._select(SQL("SELECT * FROM {0} ORDER BY position").format(self.table("events")), [])

    def _select(self, statement: Composed, params: list[Any]) -> list[HistoryRow]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [row_from(r, r["entity_id"], r["recorded_at"].astimezone(UTC)) for r in cursor.fetchall()]


def row_from(r: Any, entity_id: UUID, recorded_at: datetime) -> HistoryRow:
    """A row read back from either store (the two differ only in how ids and instants are kept)."""
    return HistoryRow(
        entity_id=entity_id,
        version=r["version"],
        position=r["position"],
        topic=r["topic"],
        principal_id=r["principal_id"],
        role=r["role"],
        recorded_at=recorded_at,
        happened_at=decode_happened(r["happened_at"]),
        reason_code=r["reason_code"],
        reason=r["reason"],
    )


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware date-time")
    return moment


class HistoryProjection(PagedProjection[HistoryWriter]):
    """Projects every event of the log into :class:`HistoryView` rows."""

    name = "history"

    def __init__(self, view: HistoryView) -> None:
        super().__init__(view)
        self.history = view

    def apply(self, writer: HistoryWriter, event: Any, notification: Notification) -> None:
        writer.add(row_of(event, notification))

    def of(self, entity_id: UUID, as_of: datetime | None = None) -> list[HistoryRow]:
        return self.history.of(entity_id, as_of)


def open_history_view(url: str, name: str = HistoryProjection.name) -> HistoryView:
    """The history view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    view: HistoryView = open_view(url, name, SQLiteHistoryView, PostgresHistoryView)
    return view


__all__ = [
    "HistoryProjection",
    "HistoryRow",
    "HistoryView",
    "PostgresHistoryView",
    "SQLiteHistoryView",
    "open_history_view",
    "open_projection",
    "row_of",
]


def open_projection(url: str) -> HistoryProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return HistoryProjection(open_history_view(url))
