"""The health read model: an elder's readings over time, for the medical volunteers.

The readings are health data (see ``docs/design.md``, "Personal data"): this view holds them as
numbers so it can answer, beside ids and times and nothing else of the elder. Forgetting an elder
must also delete its rows here (or rebuild the view once the ledger's copy is unreadable).

- :mod:`~projections.health.tables`: the ``readings`` table and its statements;
- :mod:`~projections.health.handlers`: each visit event → the change to its row;
- here: the view's query and the projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from projections.health import tables
from projections.health.handlers import HANDLERS
from projections.runner import PagedProjection
from projections.storage import Answer, BatchWriter, Kind, PagedView, open_view
from projections.storage.types import Cursor


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


class HealthView(PagedView[BatchWriter]):
    """What the health read model answers, whichever store holds it."""

    tables = tables.TABLES

    def writer(self, cursor: Cursor) -> BatchWriter:
        return BatchWriter(cursor, self.dialect, tables.WRITES, tuple(tables.WRITES), tables.EXACT)

    def readings_of(self, elder_id: UUID) -> Answer[Reading]:
        """The elder's readings, by time (then visit), from its visits not voided."""
        position, [rows] = self.read((tables.OF_ELDER, [self.dialect.encode(Kind.UUID, elder_id)]))
        found = [Reading(**self.dialect.decode_row(r, tables.TABLE.kinds)) for r in rows]
        found.sort(key=lambda r: (r.taken_at, str(r.visit_id)))
        return Answer(position, tuple(found))


class HealthProjection(PagedProjection[BatchWriter]):
    """Projects visits, their amendments and voids into :class:`HealthView` rows."""

    name = "health"
    handlers = HANDLERS

    def __init__(self, view: HealthView) -> None:
        super().__init__(view)
        self.health = view

    def readings_of(self, elder_id: UUID) -> Answer[Reading]:
        return self.health.readings_of(elder_id)


def open_health_view(url: str, name: str = HealthProjection.name) -> HealthView:
    """The health view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    return open_view(url, name, HealthView)


def open_projection(url: str) -> HealthProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return HealthProjection(open_health_view(url))


__all__ = ["HealthAnswer", "HealthProjection", "HealthView", "Reading", "open_health_view", "open_projection"]
