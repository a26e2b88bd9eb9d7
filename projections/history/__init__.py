"""The history read model: every event of one entity, in order, with who, when and why.

One row per event of the log: the entity (aggregate) id and version, the log position and stored
topic, who recorded it (``meta.principal_id``, ``meta.role``), when it was recorded (the event's
``timestamp``), when what it records happened (``started_at`` of a visit, ``on``, ``from_date``,
``paid_on``; else null) and why (``reason_code``, ``reason``). ``of(entity, as_of=T)`` answers the
history as known at time T: only events *recorded* by then.

- :mod:`~projections.history.tables`: the ``events`` table and its queries;
- :mod:`~projections.history.handlers`: an event → its row;
- here: the view, its writer and the projection (it takes every event, so it has no handler table).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from projections.history import tables
from projections.history.handlers import HistoryRow, decode_happened, encode_happened, row_of
from projections.runner import PagedProjection
from projections.storage import Dialect, Kind, PagedView, aware, open_view
from projections.storage.types import Cursor, Row


class HistoryWriter:
    """Buffers a page's rows and inserts them in one statement."""

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.rows: list[HistoryRow] = []

    def add(self, row: HistoryRow) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        self.send()
        self.rows.clear()

    def send(self) -> None:
        """Write the buffered rows (in the page's transaction: nothing is committed here)."""
        if self.rows:
            rows = [self.dialect.row(tables.EVENTS, params(r)) for r in self.rows]
            self.dialect.write(self.cursor, self.dialect.insert(tables.EVENTS), rows)


def params(row: HistoryRow) -> tuple[Any, ...]:
    return (
        row.entity_id, row.version, row.position, row.topic, row.principal_id, row.role, row.recorded_at,
        encode_happened(row.happened_at), row.reason_code, row.reason,
    )  # fmt: skip


class HistoryView(PagedView[HistoryWriter]):
    """What the history answers, whichever store holds it."""

    tables = tables.TABLES

    def writer(self, cursor: Cursor) -> HistoryWriter:
        return HistoryWriter(cursor, self.dialect)

    def of(self, entity_id: UUID, as_of: datetime | None = None) -> list[HistoryRow]:
        """Every event of the entity, by version; with ``as_of``, only those recorded by then."""
        statement = tables.OF_ENTITY
        values: list[Any] = [self.dialect.encode(Kind.UUID, entity_id)]
        if as_of is not None:
            statement += tables.RECORDED_BY
            values.append(self.dialect.encode(Kind.INSTANT, aware(as_of)))
        return self._select(statement + tables.BY_VERSION, values)

    def rows(self) -> list[HistoryRow]:
        """The whole view, by position (to compare a rebuilt view with a live one)."""
        return self._select(tables.EVERY, [])

    def _select(self, template: str, values: list[Any]) -> list[HistoryRow]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.dialect.render(template), values)
            return [self._row(r) for r in cursor.fetchall()]

    def _row(self, r: Row) -> HistoryRow:
        found = self.dialect.decode_row(r, tables.EVENTS.kinds)
        found["happened_at"] = decode_happened(found["happened_at"])
        return HistoryRow(**found)


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
    return open_view(url, name, HistoryView)


def open_projection(url: str) -> HistoryProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return HistoryProjection(open_history_view(url))


__all__ = [
    "HistoryProjection",
    "HistoryRow",
    "HistoryView",
    "HistoryWriter",
    "open_history_view",
    "open_projection",
    "row_of",
]
