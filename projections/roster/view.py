"""The roster's view: its tables, the writer a page writes through, and its queries, whichever store holds it.

Each query reads the view's position and its rows in one snapshot (:meth:`PagedView.read`), so an
answer's position is exactly the log position its rows reflect. Orders are Python's where a query
sorts after reading; the pairings are ordered (and paged) by the query itself, text compared by
code point on both stores (:data:`~projections.roster.tables.PAIRING_ORDER`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeVar, overload
from uuid import UUID

from ledger.common import COUNTY_TZ
from ledger.volunteers import VolunteerStatus
from projections.roster import tables
from projections.roster.rows import (
    ElderRow,
    LoadRow,
    OverdueRow,
    PairingKey,
    PairingRow,
    TownshipRow,
    UnpairedRow,
    overdue_row,
)
from projections.roster.writer import RosterWriter
from projections.storage import Answer, Kind, PagedView
from projections.storage.types import Cursor

R = TypeVar("R")
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""Sorts before any contact: the never contacted come first."""


def filters(alias: str, **values: Any) -> tuple[str, list[Any]]:
    """`` AND alias.column = ?`` for each value given (None: not a filter)."""
    given = {column: value for column, value in values.items() if value is not None}
    return "".join(f" AND {alias}.{column} = ?" for column in given), list(given.values())


def overdue_cutoff(days: int, today: date) -> datetime:
    """The start of the county day ``today - days``: a contact before it is too old."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError("days must be a whole number of days, 0 or more")
    if not isinstance(today, date) or isinstance(today, datetime):
        raise ValueError("today must be a calendar date")
    return datetime.combine(today - timedelta(days=days), time(), tzinfo=COUNTY_TZ)


class RosterView(PagedView[RosterWriter]):
    """What the roster answers, whichever store holds it."""

    tables = tables.TABLES

    def writer(self, cursor: Cursor) -> RosterWriter:  # Any: the store's DB cursor
        return RosterWriter(cursor, self.dialect)

    @overload
    def pairings(
        self,
        *,
        county: str | None = None,
        township: str | None = None,
        category: str | None = None,
        group: str | None = None,
        volunteer_id: UUID | None = None,
        elder_id: UUID | None = None,
        after: PairingKey | None = None,
        limit: int | None = None,
        as_values: Literal[False] = False,
    ) -> Answer[PairingRow]: ...

    @overload
    def pairings(
        self,
        *,
        county: str | None = None,
        township: str | None = None,
        category: str | None = None,
        group: str | None = None,
        volunteer_id: UUID | None = None,
        elder_id: UUID | None = None,
        after: PairingKey | None = None,
        limit: int | None = None,
        as_values: Literal[True],
    ) -> Answer[tuple[Any, ...]]: ...

    def pairings(
        self,
        *,
        county: str | None = None,
        township: str | None = None,
        category: str | None = None,
        group: str | None = None,
        volunteer_id: UUID | None = None,
        elder_id: UUID | None = None,
        after: PairingKey | None = None,
        limit: int | None = None,
        as_values: bool = False,
    ) -> Answer[PairingRow] | Answer[tuple[Any, ...]]:
        """Active pairings, by county, township, group, elder and pairing (:func:`pairing_key`);
        ``after``: only those past that key; ``limit``: at most that many (a page, read as one).

        ``as_values``: each row as the store returns its values, in the order of :class:`PairingRow`'s
        fields and not decoded: ids and dates as text on SQLite (each the ``str`` of its Python value),
        as :class:`~uuid.UUID` and :class:`~datetime.date` on PostgreSQL. For an answer serialized
        straight from the rows, with no object made per row (``GET /v1/roster``)."""
        query = self._pairings_query(county, township, category, group, volunteer_id, elder_id, after, limit)
        position, [rows] = self.read(query)
        if as_values:
            values = self.dialect.values
            return Answer(position, tuple(values(r) for r in rows))
        return Answer(position, tuple(PairingRow(**self.dialect.decode_row(r, tables.KINDS)) for r in rows))

    def _pairings_query(
        self,
        county: str | None,
        township: str | None,
        category: str | None,
        group: str | None,
        volunteer_id: UUID | None,
        elder_id: UUID | None,
        after: PairingKey | None,
        limit: int | None,
    ) -> tuple[str, list[Any]]:
        uid = self._uid
        extra, params = filters("e", county=county, township=township, category=category)
        more, more_params = filters("p", grp=group, volunteer_id=uid(volunteer_id), elder_id=uid(elder_id))
        statement, values = tables.PAIRINGS_OF + extra + more, [*params, *more_params]
        if after is not None:
            *text, elder, pairing = after
            statement += tables.PAIRINGS_AFTER
            values += [*text, uid(elder), uid(pairing)]
        statement += tables.PAIRINGS_ORDERED
        if limit is not None:
            statement += " LIMIT ?"
            values.append(limit)
        return statement, values

    def unpaired(
        self, *, county: str | None = None, township: str | None = None, category: str | None = None
    ) -> Answer[UnpairedRow]:
        """Elders present with no active pairing to an active volunteer."""
        extra, params = filters("e", county=county, township=township, category=category)
        position, found = self._rows(UnpairedRow, tables.UNPAIRED + extra, [VolunteerStatus.ACTIVE, *params])
        found.sort(key=lambda u: (u.county, u.township, str(u.elder_id)))
        return Answer(position, tuple(found))

    def loads(self, *, county: str | None = None, township: str | None = None) -> Answer[LoadRow]:
        """Every volunteer's active load (retired and suspended ones too, with their status)."""
        extra, params = filters("v", county=county, township=township)
        position, found = self._rows(LoadRow, tables.LOADS + extra, params)
        found.sort(key=lambda v: (v.county, v.township, str(v.volunteer_id)))
        return Answer(position, tuple(found))

    def elders(
        self, *, county: str | None = None, township: str | None = None, category: str | None = None
    ) -> Answer[ElderRow]:
        """Every elder (departed ones too) with the last contact."""
        extra, params = filters("e", county=county, township=township, category=category)
        position, found = self._rows(ElderRow, tables.ELDERS_OF + extra, params)
        found.sort(key=lambda e: (e.county, e.township, str(e.elder_id)))
        return Answer(position, tuple(found))

    def last_contact(self, elder_id: UUID) -> Answer[ElderRow]:
        """The elder's row with its last contact (no row: the view does not know the elder)."""
        position, found = self._rows(ElderRow, tables.ELDERS_OF + " AND e.elder_id = ?", [self._uid(elder_id)])
        return Answer(position, tuple(found))

    def overdue(
        self,
        days: int,
        today: date,
        *,
        county: str | None = None,
        township: str | None = None,
        category: str | None = None,
    ) -> Answer[OverdueRow]:
        """Elders present with no contact on or after ``today - days`` (county dates), or never;
        the never contacted first, then the longest without contact."""
        cutoff = overdue_cutoff(days, today)
        extra, params = filters("e", county=county, township=township, category=category)
        since = self.dialect.encode(Kind.INSTANT, cutoff)
        position, [rows] = self.read((tables.OVERDUE + extra, [since, *params]))
        elders: dict[UUID, dict[str, Any]] = {}
        for row in rows:
            r = self.dialect.decode_row(row, tables.KINDS)
            volunteer = r.pop("volunteer_id")
            elder = elders.setdefault(r["elder_id"], {**r, "volunteer_ids": []})
            if volunteer is not None:
                elder["volunteer_ids"].append(volunteer)
        found = [overdue_row(elder, today) for elder in elders.values()]
        found.sort(key=lambda o: (o.last_contact_at is not None, o.last_contact_at or NEVER, str(o.elder_id)))
        return Answer(position, tuple(found))

    def townships(
        self,
        days: int,
        today: date,
        *,
        county: str | None = None,
        township: str | None = None,
        category: str | None = None,
    ) -> Answer[TownshipRow]:
        """Each township the roster knows an elder in (departed ones too), by county and township: its
        present elders, how many :meth:`unpaired` and :meth:`overdue` (same ``days`` and ``today``) list.

        Counted by the same conditions as those lists, in one snapshot. The roster does not keep the
        counties' townships (the log's ``County.Established``): a township no elder was ever registered
        or relocated in is not here."""
        cutoff = overdue_cutoff(days, today)
        extra, params = filters("e", county=county, township=township, category=category)
        since = self.dialect.encode(Kind.INSTANT, cutoff)
        statement = tables.TOWNSHIPS + extra + tables.BY_TOWNSHIP
        position, [rows] = self.read((statement, [VolunteerStatus.ACTIVE, since, *params]))
        found = [
            TownshipRow(
                r["county"], r["township"], int(r["elders"]), int(r["elders"]) - int(r["unpaired"]),
                int(r["unpaired"]), int(r["overdue"]),
            )
            for r in rows
        ]  # fmt: skip
        found.sort(key=lambda t: (t.county, t.township))
        return Answer(position, tuple(found))

    def _uid(self, value: UUID | None) -> Any:
        """An id as the store keeps it (None stays None: no filter)."""
        return self.dialect.encode(Kind.UUID, value)

    def _rows(self, row_type: type[R], statement: str, params: list[Any]) -> tuple[int, list[R]]:
        position, [rows] = self.read((statement, params))
        return position, [row_type(**self.dialect.decode_row(r, tables.KINDS)) for r in rows]
