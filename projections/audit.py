"""The subsidy audit read model: budget lines, claim trails and the anomalies A01–A10.

What it answers (each answer carries the view's log position):

- :meth:`AuditView.budget` ``(county, year)``: each line's appropriated (Appropriated +
  Adjusted), committed (Committed − Released), paid and available (appropriated − committed).
  *Paid* is the amount of claims paid and not reversed, by line: a claim's transport total (the
  sum of its items) to the transport line, its communication amount to the communication line,
  of the budget of its county and its month's year — the same amounts its approval committed.
- :meth:`AuditView.trail` ``(claim_id)``: the claim and its events (with the budget's
  Committed/Released for it), then each item: the visit (status, kind, times) and its events,
  its pairing (volunteer, elder, from, ended) and its events, the elder's departure if any, and
  the anomalies that involve the claim or its visits — every event with its log position.
- :meth:`AuditView.anomalies` ``(code=None)``: every anomaly (see :mod:`projections.audit_rules`
  for the rules), with the ids it is about, the positions of the events it rests on and a line
  of explanation.

How it is kept (see :mod:`projections.audit_page`): the projection reads only the events the
rules need (``topics``), and each page loads the rows its events touch, folds the events into
them and re-decides every rule whose inputs changed, in the page's transaction with its tracking
row. So an anomaly appears or clears when a later event changes its inputs (a pairing ended
retroactively, a claim rejected or reversed), each event counts exactly once, and a view rebuilt
from position 0 reads the same as one kept up live. Tables: ``view_audit_{visits, pairings,
departures, claims, items, lines, trail, anomalies}`` (:mod:`projections.audit_sql`); like the
history, they copy no personal data of elders (no names, addresses, phones or readings).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteCursor
from psycopg.sql import SQL, Composed

from ledger.budgets import budget_id
from ledger.store import LedgerBase
from projections.audit_fold import TOPICS, TrailRow
from projections.audit_page import AuditWriter
from projections.audit_rules import RULES, Anomaly, ClaimState, LineState, PairingState, VisitState
from projections.audit_sql import AuditSQL, PostgresDialect, SQLiteDialect
from projections.audit_tables import ANOMALIES, CLAIMS, ITEMS, LINES, PAIRINGS, TABLES, TRAIL, VISITS
from projections.runner import PagedProjection
from projections.views import PagedView, PostgresView, SQLiteView, open_view

LINE_ORDER = ("transport", "communication")


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


class AuditView(PagedView[AuditWriter], ABC):
    """The audit's tables and what they answer, whichever store holds them."""

    application_name: str = LedgerBase.name
    """Whose log the answers' positions are positions of."""
    datastore: Any

    @property
    @abstractmethod
    def sql(self) -> AuditSQL:
        """The view's statements (built on first use: the store's names are known by then)."""

    @abstractmethod
    def position_statement(self) -> Any: ...

    def writer(self, cursor: Any) -> AuditWriter:
        self.settle(cursor)
        return AuditWriter(self.sql, cursor)

    def settle(self, cursor: Any) -> None:
        """Set up a transaction of the view before its first statement (see PostgreSQL's)."""

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only transaction, set up like a page's."""
        with self.datastore.transaction(commit=False) as cursor:
            self.settle(cursor)
            yield cursor

    def _position(self, cursor: Any) -> int:
        cursor.execute(self.position_statement(), (self.application_name,))
        row = cursor.fetchone()
        return int(row["notification_id"]) if row else 0

    # What it answers ----------------------------------------------------------------------

    def anomalies(self, code: str | None = None) -> AnomalyReport:
        """Every anomaly (of one code), by code, then the latest event it rests on."""
        if code is not None and code not in RULES:
            raise ValueError(f"no anomaly rule {code!r}; one of {', '.join(RULES)}")
        with self.reading() as cursor:
            position = self._position(cursor)
            rows = self.sql.load(cursor, ANOMALIES, "code", [code] if code else list(RULES))
        rows.sort(key=_anomaly_order)
        return AnomalyReport(position, tuple(rows))

    def budget(self, county: str, year: int) -> BudgetReport:
        """A budget year's lines: appropriated, committed, paid, available."""
        with self.reading() as cursor:
            position = self._position(cursor)
            lines = self.sql.load(cursor, LINES, "budget_id", [budget_id(county, year)])
        lines.sort(key=lambda line: (LINE_ORDER.index(line.line) if line.line in LINE_ORDER else 9, line.line))
        return BudgetReport(position, county, year, tuple(lines))

    def trail(self, claim_id: UUID) -> ClaimTrail:
        """A claim → its items → their visits → pairings → confirmations, disputes, voids."""
        load = self.sql.load
        with self.reading() as cursor:
            position = self._position(cursor)
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

    def contents(self) -> dict[str, list[Any]]:
        """Every row of every table, in key order (to compare a rebuilt view with a live one)."""
        with self.reading() as cursor:
            return {t.suffix: self.sql.every(cursor, t) for t in TABLES}


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


class SQLiteAuditView(SQLiteView[AuditWriter], AuditView):
    @cached_property
    def sql(self) -> AuditSQL:
        return AuditSQL(SQLiteDialect(self.view_name))

    @property
    def view_tables(self) -> tuple[str, ...]:
        return tuple(self.sql.dialect.name(t) for t in TABLES)

    def view_statements(self) -> list[str]:
        return self.sql.create()

    def writer(self, cursor: SQLiteCursor) -> AuditWriter:
        return AuditView.writer(self, cursor)

    def position_statement(self) -> str:
        return "SELECT notification_id FROM tracking WHERE application_name = ?"


class PostgresAuditView(PostgresView[AuditWriter], AuditView):
    @cached_property
    def sql(self) -> AuditSQL:
        return AuditSQL(PostgresDialect(self.view_name, self.datastore.schema, self.check_identifier_length))

    @property
    def view_tables(self) -> tuple[str, ...]:
        return tuple(t.suffix for t in TABLES)

    def view_statements(self) -> list[Composed]:
        return self.sql.create()

    def writer(self, cursor: Any) -> AuditWriter:
        return AuditView.writer(self, cursor)

    def settle(self, cursor: Any) -> None:
        """Look rows up by their indexes, whatever the planner's statistics say.

        A page looks up a few hundred keys at a time in tables that grow with the log. A view
        being rebuilt is a table the autovacuum has not analysed yet (or analysed when it was
        small), and the planner then prefers scanning whole tables (or hash joins over them),
        which makes a rebuild slow down as it goes. Index lookups keep a page's cost independent
        of the log's length. ``jit`` is off so that the penalty of a disabled plan never makes
        a page compile one.
        """
        cursor.execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
            "SET LOCAL jit = off"
        )

    def position_statement(self) -> Composed:
        return SQL("SELECT notification_id FROM {0} WHERE application_name = %s").format(
            self.qualified(self.tracking_table_name)
        )


class AuditProjection(PagedProjection[AuditWriter]):
    """Projects the visit, pairing, departure, claim and budget events into :class:`AuditView`."""

    name = "audit"
    topics = TOPICS

    def __init__(self, view: AuditView) -> None:
        super().__init__(view)
        self.audit = view

    def apply(self, writer: AuditWriter, event: Any, notification: Notification) -> None:
        if notification.topic in TOPICS:  # ``topics`` filters the log; any other event changes nothing here
            writer.add(notification.topic, event, notification.id)


def open_audit_view(url: str, name: str = AuditProjection.name) -> AuditView:
    """The audit view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    view: AuditView = open_view(url, name, SQLiteAuditView, PostgresAuditView)
    return view


def open_projection(url: str) -> AuditProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return AuditProjection(open_audit_view(url))


__all__ = [
    "AnomalyReport",
    "AuditProjection",
    "AuditView",
    "BudgetReport",
    "ClaimTrail",
    "ItemTrail",
    "PostgresAuditView",
    "SQLiteAuditView",
    "open_audit_view",
    "open_projection",
]
