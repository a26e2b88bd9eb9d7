"""The roster read model: who serves whom, who has nobody, who carries how much, who is overdue.

Answers (each an :class:`~projections.dialect.Answer`: rows and the log position they reflect):

- :meth:`RosterView.pairings`: the active pairings (not ended), by county, township and group;
- :meth:`RosterView.unpaired`: elders present (not departed) with no active pairing to an
  *active* volunteer (``pairings`` > 0: paired only with suspended or retired volunteers);
- :meth:`RosterView.loads`: every volunteer's status and number of active pairings;
- :meth:`RosterView.elders` / :meth:`RosterView.last_contact`: each elder's last contact, the
  latest ``started_at`` of its visits not voided (amendments of ``started_at`` move it, a void
  takes the visit out);
- :meth:`RosterView.overdue`: elders present with no contact on or after ``today - days``
  (county calendar), or never; each with its active volunteers, to know whom to call.

A pairing's township is its elder's (as relocated); a group is the pairing's. No names, phones or
addresses are kept, only ids, county, township, group, dates and statuses: an elder's personal
data stays in the ledger (encrypted and forgettable, DESIGN "Personal data"), and a coordinator's
screen joins the names it may see from there. Visit details other than who and when stay there too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteCursor
from psycopg.sql import Composed

from ledger.common import COUNTY_TZ, county_date
from ledger.volunteers import ACTIVE, RETIRED, SUSPENDED
from projections import roster_sql as q
from projections.dialect import POSTGRES, SQLITE, Answer, BatchWriter, SnapshotReader
from projections.runner import PagedProjection
from projections.views import PagedView, PostgresView, SQLiteView, open_view


@dataclass(frozen=True)
class PairingRow:
    pairing_id: UUID
    elder_id: UUID
    volunteer_id: UUID
    county: str
    township: str
    group: str
    from_date: date
    volunteer_status: str
    elder_departed_on: date | None
    """Set when the elder departed and the pairing is not ended yet: a pairing to end."""


PairingKey = tuple[str, str, str, UUID, UUID]


def pairing_key(p: PairingRow) -> PairingKey:
    """Where a pairing stands in the roster: county, township, group, elder, pairing."""
    return (p.county, p.township, p.group, p.elder_id, p.pairing_id)


@dataclass(frozen=True)
class UnpairedRow:
    elder_id: UUID
    county: str
    township: str
    pairings: int
    """Active pairings, all to volunteers who are not active (0: none at all)."""
    last_contact_at: datetime | None


@dataclass(frozen=True)
class LoadRow:
    volunteer_id: UUID
    county: str
    township: str
    status: str
    active_pairings: int


@dataclass(frozen=True)
class ElderRow:
    elder_id: UUID
    county: str
    township: str
    departed_on: date | None
    departure_kind: str | None
    last_contact_at: datetime | None
    last_visit_id: UUID | None


@dataclass(frozen=True)
class OverdueRow:
    elder_id: UUID
    county: str
    township: str
    last_contact_at: datetime | None
    last_visit_id: UUID | None
    days_without_contact: int | None
    """Whole county days from the last contact to ``today`` (None: never contacted)."""
    volunteer_ids: tuple[UUID, ...]
    """The elder's active pairings' volunteers (empty: unpaired)."""


RosterAnswer = Answer
Row = TypeVar("Row")
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


# Applying events ------------------------------------------------------------------------------


class RosterWriter(BatchWriter):
    """A page's rows, and the visits whose elders' last contact the page must recompute."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.touched: set[UUID] = set()

    def flush(self) -> None:
        super().flush()
        if self.touched:
            ids = self.dialect.uids(self.touched)
            self.cursor.execute(self.statements["last_contact"], (ids,))
            self.touched.clear()


def on_registered(w: RosterWriter, e: Any) -> None:
    w.add("register", w.dialect.uid(e.originator_id), e.county, e.township)


def on_relocated(w: RosterWriter, e: Any) -> None:
    w.add("relocate", e.township, w.dialect.uid(e.originator_id))


def on_departed(w: RosterWriter, e: Any) -> None:
    w.add("depart", w.dialect.day(e.on), e.kind, w.dialect.uid(e.originator_id))


def on_recruited(w: RosterWriter, e: Any) -> None:
    w.add("recruit", w.dialect.uid(e.originator_id), e.county, e.township, ACTIVE)


def status_is(status: str) -> Callable[[RosterWriter, Any], None]:
    def on_status(w: RosterWriter, e: Any) -> None:
        w.add("status", status, w.dialect.uid(e.originator_id))

    return on_status


def on_formed(w: RosterWriter, e: Any) -> None:
    d = w.dialect
    w.add("form", d.uid(e.originator_id), d.uid(e.volunteer_id), d.uid(e.elder_id), e.group, d.day(e.from_date))


def on_ended(w: RosterWriter, e: Any) -> None:
    w.add("end", w.dialect.day(e.on), e.reason, w.dialect.uid(e.originator_id))


def on_recorded(w: RosterWriter, e: Any) -> None:
    d = w.dialect
    w.add("record", d.uid(e.originator_id), d.uid(e.elder_id), d.uid(e.volunteer_id), d.instant(e.started_at))
    w.touched.add(e.originator_id)


def on_amended(w: RosterWriter, e: Any) -> None:
    if "started_at" in e.changes:
        w.add("move", w.dialect.instant(e.changes["started_at"]), w.dialect.uid(e.originator_id))
        w.touched.add(e.originator_id)


def on_voided(w: RosterWriter, e: Any) -> None:
    w.add("void", w.dialect.uid(e.originator_id))
    w.touched.add(e.originator_id)


HANDLERS: dict[str, Callable[[RosterWriter, Any], None]] = {
    "tiexin.elder.Registered": on_registered,
    "tiexin.elder.Relocated": on_relocated,
    "tiexin.elder.Departed": on_departed,
    "tiexin.volunteer.Recruited": on_recruited,
    "tiexin.volunteer.Suspended": status_is(SUSPENDED),
    "tiexin.volunteer.Reinstated": status_is(ACTIVE),
    "tiexin.volunteer.Retired": status_is(RETIRED),
    "tiexin.pairing.Formed": on_formed,
    "tiexin.pairing.Ended": on_ended,
    "tiexin.visit.Recorded": on_recorded,
    "tiexin.visit.Amended": on_amended,
    "tiexin.visit.Voided": on_voided,
}


class RosterProjection(PagedProjection[RosterWriter]):
    """Projects the people, pairings and visits of the log into :class:`RosterView` rows."""

    name = "roster"
    topics = tuple(HANDLERS)

    def __init__(self, view: RosterView) -> None:
        super().__init__(view)
        self.roster = view

    def apply(self, writer: RosterWriter, event: Any, notification: Notification) -> None:
        HANDLERS[notification.topic](writer, event)


# Reading answers ------------------------------------------------------------------------------


def filters(alias: str, **values: Any) -> tuple[str, list[Any]]:
    """`` AND alias.column = ?`` for each value given."""
    given = {column: value for column, value in values.items() if value is not None}
    return "".join(f" AND {alias}.{column} = ?" for column in given), list(given.values())


class RosterView(SnapshotReader, PagedView[RosterWriter]):
    """What the roster answers, whichever store holds it."""

    @cached_property
    def names(self) -> dict[str, Any]:  # type: ignore[override]  # known once the view is open
        return self.dialect.names(self, q.TABLES, q.INDEXES)

    @cached_property
    def statements(self) -> dict[str, Any]:
        templates = {**q.WRITES, "last_contact": q.LAST_CONTACT}
        return {name: self.dialect.render(template, self.names) for name, template in templates.items()}

    def ddl(self) -> list[Any]:
        return [self.dialect.render(statement, self.names) for statement in q.DDL]

    def roster_writer(self, cursor: Any) -> RosterWriter:
        return RosterWriter(cursor, self.dialect, self.statements, tuple(q.WRITES), q.EXACT)

    def pairings(
        self,
        *,
        county: str | None = None,
        township: str | None = None,
        group: str | None = None,
        volunteer_id: UUID | None = None,
        elder_id: UUID | None = None,
        after: PairingKey | None = None,
        limit: int | None = None,
    ) -> Answer[PairingRow]:
        """Active pairings, by county, township, group, elder and pairing (:func:`pairing_key`);
        ``after``: only those past that key; ``limit``: at most that many (a page, read as one)."""
        extra, params = filters("e", county=county, township=township)
        more, more_params = filters("p", grp=group, volunteer_id=volunteer_id and self.dialect.uid(volunteer_id),
                                    elder_id=elder_id and self.dialect.uid(elder_id))  # fmt: skip
        statement, values = q.PAIRINGS + extra + more, [*params, *more_params]
        if after is not None:
            *text, elder, pairing = after
            statement += q.PAIRINGS_AFTER
            values += [*text, self.dialect.uid(elder), self.dialect.uid(pairing)]
        statement += q.PAIRINGS_ORDERED
        if limit is not None:
            statement += " LIMIT ?"
            values.append(limit)
        position, found = self._rows(PairingRow, statement, values)
        return Answer(position, tuple(found))

    def unpaired(self, *, county: str | None = None, township: str | None = None) -> Answer[UnpairedRow]:
        """Elders present with no active pairing to an active volunteer."""
        extra, params = filters("e", county=county, township=township)
        position, found = self._rows(UnpairedRow, q.UNPAIRED + extra, params)
        found.sort(key=lambda u: (u.county, u.township, str(u.elder_id)))
        return Answer(position, tuple(found))

    def loads(self, *, county: str | None = None, township: str | None = None) -> Answer[LoadRow]:
        """Every volunteer's active load (retired and suspended ones too, with their status)."""
        extra, params = filters("v", county=county, township=township)
        position, found = self._rows(LoadRow, q.LOADS + extra, params)
        found.sort(key=lambda v: (v.county, v.township, str(v.volunteer_id)))
        return Answer(position, tuple(found))

    def elders(self, *, county: str | None = None, township: str | None = None) -> Answer[ElderRow]:
        """Every elder (departed ones too) with the last contact."""
        extra, params = filters("e", county=county, township=township)
        position, found = self._rows(ElderRow, q.ELDERS + extra, params)
        found.sort(key=lambda e: (e.county, e.township, str(e.elder_id)))
        return Answer(position, tuple(found))

    def last_contact(self, elder_id: UUID) -> Answer[ElderRow]:
        """The elder's row with its last contact (no row: the view does not know the elder)."""
        position, found = self._rows(ElderRow, q.ELDERS + " AND e.elder_id = ?", [self.dialect.uid(elder_id)])
        return Answer(position, tuple(found))

    def overdue(
        self, days: int, today: date, *, county: str | None = None, township: str | None = None
    ) -> Answer[OverdueRow]:
        """Elders present with no contact on or after ``today - days`` (county dates), or never;
        the never contacted first, then the longest without contact."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError("days must be a whole number of days, 0 or more")
        if not isinstance(today, date) or isinstance(today, datetime):
            raise ValueError("today must be a calendar date")
        cutoff = datetime.combine(today - timedelta(days=days), time(), tzinfo=COUNTY_TZ)
        extra, params = filters("e", county=county, township=township)
        position, [rows] = self.read((q.OVERDUE + extra, [self.dialect.instant(cutoff), *params]))
        elders: dict[UUID, dict[str, Any]] = {}
        for row in rows:
            r = self.dialect.decode(row, q.KINDS)
            volunteer = r.pop("volunteer_id")
            elder = elders.setdefault(r["elder_id"], {**r, "volunteer_ids": []})
            if volunteer is not None:
                elder["volunteer_ids"].append(volunteer)
        found = [overdue_row(elder, today) for elder in elders.values()]
        found.sort(key=lambda o: (o.last_contact_at is not None, o.last_contact_at or NEVER, str(o.elder_id)))
        return Answer(position, tuple(found))

    def _rows(self, row_type: type[Row], statement: str, params: list[Any]) -> tuple[int, list[Row]]:
        position, [rows] = self.read((statement, params))
        return position, [row_type(**self.dialect.decode(r, q.KINDS)) for r in rows]


def overdue_row(elder: dict[str, Any], today: date) -> OverdueRow:
    last = elder["last_contact_at"]
    return OverdueRow(
        **{**elder, "volunteer_ids": tuple(sorted(elder["volunteer_ids"], key=str))},
        days_without_contact=None if last is None else (today - county_date(last)).days,
    )


class SQLiteRosterView(SQLiteView[RosterWriter], RosterView):
    dialect = SQLITE

    @property
    def view_tables(self) -> tuple[str, ...]:
        return tuple(self.table(t) for t in q.TABLES)

    def view_statements(self) -> list[str]:
        return self.ddl()

    def writer(self, cursor: SQLiteCursor) -> RosterWriter:
        return self.roster_writer(cursor)


class PostgresRosterView(PostgresView[RosterWriter], RosterView):
    dialect = POSTGRES

    @property
    def view_tables(self) -> tuple[str, ...]:
        return q.TABLES

    def view_statements(self) -> list[Composed]:
        return self.ddl()

    def writer(self, cursor: Any) -> RosterWriter:
        return self.roster_writer(cursor)


def open_roster_view(url: str, name: str = RosterProjection.name) -> RosterView:
    """The roster view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    view: RosterView = open_view(url, name, SQLiteRosterView, PostgresRosterView)
    return view


def open_projection(url: str) -> RosterProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return RosterProjection(open_roster_view(url))


__all__ = [
    "ElderRow",
    "LoadRow",
    "OverdueRow",
    "PairingKey",
    "PairingRow",
    "PostgresRosterView",
    "RosterAnswer",
    "RosterProjection",
    "RosterView",
    "SQLiteRosterView",
    "UnpairedRow",
    "open_projection",
    "open_roster_view",
    "pairing_key",
]
