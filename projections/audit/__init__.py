"""The subsidy audit read model: budget lines, claim trails and the anomalies A01–A11.

What it answers (each answer carries the view's log position):

- :meth:`AuditView.budget` ``(county, year)``: each line's appropriated (Appropriated +
  Adjusted), committed (Committed − Released), paid and available (appropriated − committed).
  *Paid* is the amount of claims paid and not reversed, by line: a claim's transport total (the
  sum of its items) to the transport line, its communication amount to the communication line,
  of the budget of its county and its month's year — the same amounts its approval committed.
- :meth:`AuditView.trail` ``(claim_id)``: the claim and its events (with the budget's
  Committed/Released for it), then each item: the visit (status, kind, times) and its events,
  its pairing (volunteer, elder, from, ended) and its events, the elder's relocations and
  departure if any, and the anomalies that involve the claim or its visits — every event with its
  log position.
- :meth:`AuditView.burndown` ``(county, year, today)``: the year's lines as known at the end of
  each county month, January to the current one (:mod:`projections.audit.burndown`), and now.
- :meth:`AuditView.anomalies` ``(code=None)``: every anomaly (see :mod:`projections.audit.rules`
  for the rules), with the ids it is about, the positions of the events it rests on, a line
  of explanation and the money at stake (``amount_fen``, and ``amount_yuan``).

How it is kept (see :mod:`projections.audit.page`): the projection reads only the events the
rules need (its handlers name the ledger's event classes; ``topics`` follows from them), and each
page loads the rows its events touch, folds the events into them and re-decides every rule whose
inputs changed, in the page's transaction with its tracking row. So an anomaly appears or clears
when a later event changes its inputs (a pairing ended retroactively, a claim rejected or
reversed), each event counts exactly once, and a view rebuilt from position 0 reads the same as
one kept up live. Tables: ``view_audit_{visits, pairings, departures, residences, claims, items,
lines, trail, anomalies}`` (:mod:`projections.audit.tables`); like the history, they copy no
personal data of elders (no names, addresses, phones or readings; of a registration or a
relocation, only the township).

- :mod:`~projections.audit.burndown`: a budget year month by month, from the trail and the claims, pure;
- :mod:`~projections.audit.rules`: the rules A01–A11 and their money at stake, pure, and the rows they read;
- :mod:`~projections.audit.fold`: each event class → the change to a page's rows and a trail row;
- :mod:`~projections.audit.page`: a page: load, fold, decide, write; the projection's handlers;
- :mod:`~projections.audit.tables`: the tables and the row class of each;
- :mod:`~projections.audit.queries`: the statements (both stores' texts where they differ);
- here: the view, its answers and the projection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from ledger.budgets import budget_id
from projections.audit.burndown import Burndown, MonthPoint, balances, line_order, lines_at, month_points, movements
from projections.audit.fold import FOLDS, PageState, TrailRow
from projections.audit.page import HANDLERS, AuditWriter
from projections.audit.queries import AuditSQL
from projections.audit.rules import (
    RULES,
    Anomaly,
    ClaimState,
    DepartureState,
    ItemState,
    LineState,
    PairingState,
    ResidenceState,
    VisitState,
)
from projections.audit.tables import (
    ANOMALIES,
    CLAIMS,
    DEPARTURES,
    ITEMS,
    LINES,
    PAIRINGS,
    RESIDENCES,
    ROWS,
    TABLES,
    TRAIL,
    VISITS,
    Rows,
)
from projections.runner import PagedProjection
from projections.storage import Kind, PagedView, open_view
from projections.storage.types import Cursor

# A cursor is the store driver's (sqlite3's or psycopg's): Any here.


@dataclass(frozen=True)
class AnomalyReport:
    position: int
    """The last log position the view reflects."""
    anomalies: tuple[Anomaly, ...]

    def codes(self) -> dict[str, int]:
        """How many anomalies of each code."""
        counts: dict[str, int] = {}
        for a in self.anomalies:
            counts[a.code] = counts.get(a.code, 0) + 1
        return counts


@dataclass(frozen=True)
class BudgetReport:
    position: int
    county: str
    year: int
    lines: tuple[LineState, ...]
    """Transport, then communication (then any other line, by name); empty if never appropriated."""

    def line(self, name: str) -> LineState | None:
        return next((line for line in self.lines if line.line == name), None)


@dataclass(frozen=True)
class VolunteerVisits:
    position: int
    """The last log position the view reflects."""
    visits: tuple[VisitState, ...]
    """By start; voided ones too."""


@dataclass(frozen=True)
class ItemTrail:
    """One visit of a claim, traced to its pairing and its elder's departure."""

    visit_id: UUID
    transport_fen: int
    visit: VisitState | None
    """None if the log never recorded the visit the claim names."""
    events: tuple[TrailRow, ...]
    pairing: PairingState | None
    pairing_events: tuple[TrailRow, ...]
    elder_events: tuple[TrailRow, ...]
    """The elder's relocations and departure."""


@dataclass(frozen=True)
class ClaimTrail:
    position: int
    claim: ClaimState | None
    """None if the view knows no such claim (yet)."""
    events: tuple[TrailRow, ...]
    items: tuple[ItemTrail, ...]
    anomalies: tuple[Anomaly, ...]

    @property
    def positions(self) -> tuple[int, ...]:
        """Every log position the trail rests on, in order."""
        rows = [*self.events, *(r for i in self.items for r in (*i.events, *i.pairing_events, *i.elder_events))]
        return tuple(sorted({r.position for r in rows}))


class AuditView(PagedView[AuditWriter]):
    """The audit's tables and what they answer, whichever store holds them."""

    tables = TABLES

    @cached_property
    def sql(self) -> AuditSQL:
        """The view's statements (prepared on first use, for its dialect)."""
        return AuditSQL(self.dialect)

    def writer(self, cursor: Cursor) -> AuditWriter:
        self.settle(cursor)
        return AuditWriter(self.sql, cursor)

    def settle(self, cursor: Cursor) -> None:
        """Set up a transaction of the view before its first statement (:data:`projections.audit.queries.SETTLE`)."""
        if self.sql.settle:
            cursor.execute(self.sql.settle)

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only transaction that sees one snapshot, set up like a page's."""
        with self.datastore.transaction(commit=False) as cursor:
            if self.dialect.snapshot:
                cursor.execute(self.dialect.snapshot)
            self.settle(cursor)
            yield cursor

    def position_in(self, cursor: Cursor) -> int:
        """The view's position, in the transaction of ``cursor`` (see :meth:`reading`)."""
        return self.sql.position_in(cursor, self.application_name)

    def load(self, cursor: Cursor, rows: Rows, column: str, keys: Any) -> list[Any]:
        """The rows of a table whose ``column`` is one of ``keys`` (in a :meth:`reading`)."""
        return self.sql.load(cursor, rows, column, keys)

    def every(self, cursor: Cursor, rows: Rows) -> list[Any]:
        """Every row of a table, in key order (in a :meth:`reading`)."""
        return self.sql.every(cursor, rows)

    # What it answers ----------------------------------------------------------------------

    def anomalies(self, code: str | None = None) -> AnomalyReport:
        """Every anomaly (of one code), by code, then the latest event it rests on."""
        if code is not None and code not in RULES:
            raise ValueError(f"no anomaly rule {code!r}; one of {', '.join(RULES)}")
        with self.reading() as cursor:
            position = self.position_in(cursor)
            rows = self.load(cursor, ANOMALIES, "code", [code] if code else list(RULES))
        rows.sort(key=_anomaly_order)
        return AnomalyReport(position, tuple(rows))

    def budget(self, county: str, year: int) -> BudgetReport:
        """A budget year's lines: appropriated, committed, paid, available."""
        with self.reading() as cursor:
            position = self.position_in(cursor)
            lines = self.load(cursor, LINES, "budget_id", [budget_id(county, year)])
        lines.sort(key=lambda line: line_order(line.line))
        return BudgetReport(position, county, year, tuple(lines))

    def burndown(self, county: str, year: int, today: date) -> Burndown:
        """A budget year month by month, January to ``today``'s month, and its lines now (what :meth:`budget`
        answers), from one snapshot.

        The movements are read from the trail of the budget and of the county's claims of the year (the
        ledger commits a claim to the budget of its county and its month's year). Should they not add up to
        the lines now (a commitment the audit holds for a claim not of that year: the audit does not
        trust the write side), the budget's whole trail is read instead, by a scan."""
        budget = budget_id(county, year)
        with self.reading() as cursor:
            position = self.position_in(cursor)
            lines = sorted(self.load(cursor, LINES, "budget_id", [budget]), key=lambda line: line_order(line.line))
            claims = {c.claim_id: c for c in self.sql.claims_of(cursor, county, year)}
            trail = self.load(cursor, TRAIL, "subject_id", [budget, *claims])
            moves = movements(budget, trail, claims)
            if balances(lines_at(budget, county, year, (), moves)) != balances(lines):
                payments = [r for r in trail if r.entity_id != budget]
                moves = movements(budget, [*self.sql.trail_of_entity(cursor, budget), *payments], claims)
        names = [line.line for line in lines]
        points = month_points(budget, county, year, names, moves, today)
        return Burndown(position, county, year, tuple(lines), points)

    def trail(self, claim_id: UUID) -> ClaimTrail:
        """A claim → its items → their visits → pairings → confirmations, disputes, voids."""
        load = self.load
        with self.reading() as cursor:
            position = self.position_in(cursor)
            claims = load(cursor, CLAIMS, "claim_id", [claim_id])
            items = sorted(load(cursor, ITEMS, "claim_id", [claim_id]), key=lambda i: i.seq)
            visit_ids = [i.visit_id for i in items]
            visits = {v.visit_id: v for v in load(cursor, VISITS, "visit_id", visit_ids)}
            pairings = {p.pairing_id: p for p in load(cursor, PAIRINGS, "pairing_id", _ids(visits, "pairing_id"))}
            elders = _ids(visits, "elder_id")
            subjects = [claim_id, *visit_ids, *pairings, *elders]
            events: dict[UUID, list[TrailRow]] = {}
            for row in sorted(load(cursor, TRAIL, "subject_id", subjects), key=lambda r: r.position):
                events.setdefault(row.subject_id, []).append(row)
            keys = [str(k) for k in (claim_id, *visit_ids)]
            involved = load(cursor, ANOMALIES, "subject", keys) + load(cursor, ANOMALIES, "other", keys)
        anomalies = sorted({(a.code, a.subject, a.other): a for a in involved}.values(), key=_anomaly_order)
        return ClaimTrail(
            position,
            claims[0] if claims else None,
            tuple(events.get(claim_id, ())),
            tuple(_item_trail(i, visits, pairings, events) for i in items),
            tuple(anomalies),
        )

    # Pages, for exports in bounded memory (in a :meth:`reading`) ---------------------------

    def claims_of_year(
        self, cursor: Cursor, year: int, county: str | None, after: tuple[str, str, UUID] | None, limit: int
    ) -> list[ClaimState]:
        """Up to ``limit`` of a year's claims (of ``county``, or of every county), by county, month and
        id, after the key ``after`` (None: from the first): a province's are read a page at a time."""
        where, params = _year_claims(year, county)
        start = after or ("", "", UUID(int=0))
        where += " AND (county, month, claim_id) > (?, ?, ?)"
        params += [start[0], start[1], self.dialect.encode(Kind.UUID, start[2]), limit]
        statement = f"SELECT {', '.join(CLAIMS.names)} FROM {{claims}} WHERE {where} "
        cursor.execute(self.dialect.render(statement + "ORDER BY county, month, claim_id LIMIT ?"), params)
        return [self.sql.make(CLAIMS, r) for r in cursor.fetchall()]

    def count_claims_of_year(self, cursor: Cursor, year: int, county: str | None) -> int:
        where, params = _year_claims(year, county)
        cursor.execute(self.dialect.render(f"SELECT COUNT(*) AS n FROM {{claims}} WHERE {where}"), params)
        return int(cursor.fetchone()["n"])

    def anomalies_after(self, cursor: Cursor, after: tuple[str, str, str] | None, limit: int) -> list[Anomaly]:
        """Up to ``limit`` anomalies in key order (code, subject, other) after ``after`` (None: from the first)."""
        statement = (
            f"SELECT {', '.join(ANOMALIES.names)} FROM {{anomalies}} WHERE (code, subject, other) > (?, ?, ?) "
            "ORDER BY code, subject, other LIMIT ?"
        )
        cursor.execute(self.dialect.render(statement), [*(after or ("", "", "")), limit])
        return [self.sql.make(ANOMALIES, r) for r in cursor.fetchall()]

    def count_anomalies(self, cursor: Cursor) -> int:
        cursor.execute(self.dialect.render("SELECT COUNT(*) AS n FROM {anomalies}"))
        return int(cursor.fetchone()["n"])

    def visits_of_volunteer(self, volunteer_id: UUID, start: datetime, end: datetime) -> VolunteerVisits:
        """A volunteer's visits that started from ``start`` to before ``end`` (voided ones too), by start."""
        with self.reading() as cursor:
            position = self.position_in(cursor)
            visits = self.sql.volunteer_visits(cursor, volunteer_id, start, end)
        return VolunteerVisits(position, tuple(visits))

    def contents(self) -> dict[str, list[Any]]:
        """Every row of every table, in key order (to compare a rebuilt view with a live one)."""
        with self.reading() as cursor:
            return {r.suffix: self.every(cursor, r) for r in ROWS}


def _year_claims(year: int, county: str | None) -> tuple[str, list[Any]]:
    """The condition (and its parameters) of a year's claims, of one county or of all."""
    where, params = "month >= ? AND month <= ?", [f"{year:04d}-01", f"{year:04d}-12"]
    if county is not None:
        where, params = "county = ? AND " + where, [county, *params]
    return where, params


def _ids(visits: dict[UUID, VisitState], name: str) -> list[UUID]:
    return sorted({getattr(v, name) for v in visits.values()}, key=str)


def _anomaly_order(a: Anomaly) -> tuple[Any, ...]:
    return (a.code, a.position, a.subject, a.other)


def _item_trail(
    item: Any, visits: dict[UUID, VisitState], pairings: dict[UUID, PairingState], events: Any
) -> ItemTrail:
    visit = visits.get(item.visit_id)
    pairing = pairings.get(visit.pairing_id) if visit else None
    return ItemTrail(
        item.visit_id,
        item.transport_fen,
        visit,
        tuple(events.get(item.visit_id, ())),
        pairing,
        tuple(events.get(pairing.pairing_id, ())) if pairing else (),
        tuple(events.get(visit.elder_id, ())) if visit else (),
    )


class AuditProjection(PagedProjection[AuditWriter]):
    """Projects the visit, pairing, elder (registration, relocation, departure), claim and budget events
    into :class:`AuditView`."""

    name = "audit"
    handlers = HANDLERS

    def __init__(self, view: AuditView) -> None:
        super().__init__(view)
        self.audit = view


def open_audit_view(url: str, name: str = AuditProjection.name) -> AuditView:
    """The audit view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    return open_view(url, name, AuditView)


def open_projection(url: str) -> AuditProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return AuditProjection(open_audit_view(url))


__all__ = [
    "ANOMALIES",
    "CLAIMS",
    "DEPARTURES",
    "FOLDS",
    "HANDLERS",
    "ITEMS",
    "LINES",
    "PAIRINGS",
    "RESIDENCES",
    "RULES",
    "TABLES",
    "TRAIL",
    "VISITS",
    "Anomaly",
    "AnomalyReport",
    "AuditProjection",
    "AuditView",
    "AuditWriter",
    "BudgetReport",
    "Burndown",
    "ClaimState",
    "ClaimTrail",
    "DepartureState",
    "ItemState",
    "ItemTrail",
    "LineState",
    "MonthPoint",
    "PageState",
    "PairingState",
    "ResidenceState",
    "Rows",
    "TrailRow",
    "VisitState",
    "VolunteerVisits",
    "open_audit_view",
    "open_projection",
]
