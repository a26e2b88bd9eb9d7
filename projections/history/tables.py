"""The history read model's one table: a row per event of the log, keyed by entity and version."""

from __future__ import annotations

from projections.storage import Column, Kind, Table, columns, nullable

EVENTS = Table(
    "events",
    columns(
        ("entity_id", Kind.UUID), ("version", Kind.INT), Column("position", Kind.INT, unique=True),
        ("topic", Kind.TEXT), nullable("principal_id", Kind.TEXT), nullable("role", Kind.TEXT),
        ("recorded_at", Kind.INSTANT), nullable("happened_at", Kind.TEXT), nullable("reason_code", Kind.TEXT),
        nullable("reason", Kind.TEXT),
    ),
    key=("entity_id", "version"),
)  # fmt: skip
"""``happened_at`` is text: a date (``2026-02-03``) or an instant in UTC, whichever the event carries."""
TABLES = (EVENTS,)

OF_ENTITY = "SELECT * FROM {events} WHERE entity_id = ?"
RECORDED_BY = " AND recorded_at <= ?"
BY_VERSION = " ORDER BY version"
EVERY = "SELECT * FROM {events} ORDER BY position"
