"""How a page's rows reach the roster: a :class:`~projections.storage.BatchWriter` that also
recomputes, once a page, the last contact of the elders whose visits the page touched."""

from __future__ import annotations

from uuid import UUID

from projections.roster import tables
from projections.storage import BatchWriter, Dialect, Kind
from projections.storage.types import Cursor


class RosterWriter(BatchWriter):
    """A page's rows, and the visits whose elders' last contact the page must recompute.

    Recomputing once a page, from the ``visits`` table after its rows are written, rather than
    per event, keeps a page to one statement per kind of row whatever its visits did.
    """

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:  # Any: the store's DB cursor
        super().__init__(cursor, dialect, tables.WRITES, tuple(tables.WRITES), tables.EXACT)
        self.touched: set[UUID] = set()

    def touch(self, visit_id: UUID) -> None:
        """The visit was recorded, moved or voided in this page: its elder's last contact may change."""
        self.touched.add(visit_id)

    def flush(self) -> None:
        super().flush()
        if self.touched:
            visits = self.dialect.keys(Kind.UUID, self.touched)
            self.cursor.execute(self.dialect.render(tables.LAST_CONTACT), (visits,))
            self.touched.clear()
