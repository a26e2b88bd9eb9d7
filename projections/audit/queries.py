"""The subsidy audit's statements, and the reads and writes a page makes with them.

Most are templates for both stores (:meth:`projections.storage.Dialect.render`): a set of keys
travels as one parameter (``{any_of}``), so a page loads each kind of row with one statement
however many keys it needs, and a kind of row is written with one statement per page
(:meth:`~projections.storage.Dialect.write`: ``executemany`` on SQLite, one statement over
arrays on PostgreSQL). Four differ by store, because they join the view's rows *to a list of
values passed in* — PostgreSQL unnests arrays, SQLite reads a JSON array with ``json_each`` —
or set rows from such a list; each keeps its two texts side by side (:class:`PerStore`):
:data:`NEIGHBOURS`, :data:`UNCONFIRMED_VISITS`, :data:`RESTATE` and the windows' parameters
(:func:`window_params`), and :data:`SETTLE`, PostgreSQL's planner settings for a transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from ledger.visits import VisitStatus
from projections.audit.fold import TrailRow
from projections.audit.rules import ClaimState, ItemState, VisitState
from projections.audit.tables import ANOMALIES, CLAIMS, CODE_GROUPS, ITEMS, LOOKUPS, ROWS, TRAIL, VISITS, Rows
from projections.storage import Dialect, Kind, PostgresDialect
from projections.storage.types import Cursor, Row, Statement

# A cursor and the rows it fetches are the store driver's (sqlite3's or psycopg's): Any here.

VOIDED, CONFIRMED = VisitStatus.VOIDED.value, VisitStatus.CONFIRMED.value


@dataclass(frozen=True)
class PerStore:
    """One statement's text on each store, where the two truly differ."""

    sqlite: str
    postgres: str

    def of(self, dialect: Dialect) -> str:
        return self.postgres if isinstance(dialect, PostgresDialect) else self.sqlite


def _columns(prefix: str, rows: Rows) -> str:
    return ", ".join(f"{prefix}.{n}" for n in rows.names)


NEIGHBOURS = PerStore(
    sqlite=(
        f"SELECT {_columns('v', VISITS)} FROM json_each(?) AS w "
        "JOIN {visits} AS v ON v.volunteer_id = json_extract(w.value, '$[0]') "
        "AND v.ended_at > json_extract(w.value, '$[1]') AND v.started_at < json_extract(w.value, '$[2]') "
        f"WHERE v.status <> '{VOIDED}'"
    ),
    postgres=(
        f"SELECT {_columns('v', VISITS)} "
        "FROM unnest(%b::uuid[], %b::timestamptz[], %b::timestamptz[]) AS w(volunteer_id, lo, hi) "
        "JOIN {visits} AS v ON v.volunteer_id = w.volunteer_id AND v.ended_at > w.lo AND v.started_at < w.hi "
        f"WHERE v.status <> '{VOIDED}'"
    ),
)
"""Unvoided visits of each (volunteer, lo, hi) window that end after lo and start before hi."""

UNCONFIRMED_VISITS = PerStore(
    sqlite=(
        "SELECT w.value AS visit_id, v.status AS status, v.status_pos AS status_pos FROM json_each(?) AS w "
        f"LEFT JOIN {{visits}} AS v ON v.visit_id = w.value WHERE v.status IS NULL OR v.status <> '{CONFIRMED}'"
    ),
    postgres=(
        "SELECT w.visit_id AS visit_id, v.status AS status, v.status_pos AS status_pos "
        "FROM unnest(%b::uuid[]) AS w(visit_id) "
        f"LEFT JOIN {{visits}} AS v ON v.visit_id = w.visit_id WHERE v.status IS NULL OR v.status <> '{CONFIRMED}'"
    ),
)
"""Of the visit ids passed as one list, those not confirmed: (visit_id, status, status_pos), status
null for an id no visit has."""

RESTATE = PerStore(
    sqlite="UPDATE {visits} SET status = ?, status_pos = ? WHERE visit_id = ?",
    postgres=(
        "UPDATE {visits} AS t SET status = u.status, status_pos = u.status_pos "
        "FROM unnest(%b::text[], %b::bigint[], %b::uuid[]) AS u(status, status_pos, visit_id) "
        "WHERE t.visit_id = u.visit_id"
    ),
)
"""Set (status, status_pos) of the visit with the id, per row (rows sent by ``Dialect.write``)."""

SETTLE = PerStore(
    sqlite="",
    postgres=(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
        "SET LOCAL jit = off"
    ),
)
"""Run first in each of the view's transactions (none on SQLite). On PostgreSQL: look rows up by
their indexes, whatever the planner's statistics say.

A page looks up a few hundred keys at a time in tables that grow with the log. A view being
rebuilt is a table the autovacuum has not analysed yet (or analysed when it was small), and the
planner then prefers scanning whole tables (or hash joins over them), which makes a rebuild slow
down as it goes. Index lookups keep a page's cost independent of the log's length. ``jit`` is off
so that the penalty of a disabled plan never makes a page compile one.
"""

POSITION = "SELECT notification_id FROM {tracking} WHERE application_name = ?"

VOLUNTEER_VISITS = (
    f"SELECT {', '.join(VISITS.names)} FROM {{visits}} WHERE volunteer_id = ? AND ended_at > ? AND started_at < ?"
)
"""A volunteer's visits that overlap a window (by the index on volunteer and end), voided ones too."""

YEAR_CLAIMS = f"SELECT {', '.join(CLAIMS.names)} FROM {{claims}} WHERE county = ? AND month >= ? AND month <= ?"
"""A county's claims of a year's months (by the index on county and month)."""
ENTITY_TRAIL = f"SELECT {', '.join(TRAIL.names)} FROM {{trail}} WHERE entity_id = ?"
"""Every trail row of one entity's events. The trail is indexed by subject, not entity: a scan, for the rare
question a subject cannot answer (:meth:`projections.audit.AuditView.burndown`)."""

VOIDED_VISITS = f"SELECT {', '.join(VISITS.names)} FROM {{visits}} WHERE visit_id {{any_uuid}} AND status = '{VOIDED}'"
UNCONFIRMED_ITEMS = (
    f"SELECT {_columns('i', ITEMS)} FROM {{items}} AS i LEFT JOIN {{visits}} AS v ON v.visit_id = i.visit_id "
    f"WHERE i.claim_id {{any_uuid}} AND (v.status IS NULL OR v.status <> '{CONFIRMED}')"
)
"""The items of the claims whose visit is not confirmed (or was never recorded)."""


def any_of(kind: Kind) -> str:
    """The template condition that a column of ``kind`` is one of the keys passed as one parameter
    (typed, so that PostgreSQL receives them as one binary array: :class:`~projections.storage.Dialect`'s words)."""
    return {Kind.UUID: "{any_uuid}", Kind.TEXT: "{any_text}", Kind.INT: "{any_int}"}.get(kind, "{any_of}")


def select_in(rows: Rows, column: str) -> str:
    return f"SELECT {', '.join(rows.names)} FROM {{{rows.suffix}}} WHERE {column} {any_of(rows.kind(column))}"


def forget(codes: Sequence[str], column: str) -> str:
    """Delete the anomalies of those codes whose ``column`` is one of the keys."""
    listed = ", ".join(f"'{c}'" for c in codes)
    return f"DELETE FROM {{anomalies}} WHERE code IN ({listed}) AND {column} {any_of(ANOMALIES.kind(column))}"


def window_params(dialect: Dialect, windows: list[tuple[UUID, datetime, datetime]]) -> tuple[Any, ...]:
    """The parameters of :data:`NEIGHBOURS`: one JSON array of triples (SQLite), or three arrays (PostgreSQL)."""
    encode = dialect.encode
    rows = [(encode(Kind.UUID, v), encode(Kind.INSTANT, lo), encode(Kind.INSTANT, hi)) for v, lo, hi in windows]
    if isinstance(dialect, PostgresDialect):
        return tuple(list(column) for column in zip(*rows, strict=True))
    return (json.dumps(rows),)


Coder = Callable[[Any], Any] | None
Codecs = tuple[list[tuple[str, Coder]], list[tuple[str, Coder]]]


def _none_safe(coder: Coder, nullable: bool) -> Coder:
    if coder is None or not nullable:
        return coder
    return lambda value: None if value is None else coder(value)


class AuditSQL:
    """One view's statements, prepared once, and the reads and writes a page makes with them.

    Rows are encoded and decoded column by column with coders looked up once per table (a
    rebuild converts millions of values), by the columns' kinds, with the dialect's coders.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = d = dialect
        self.upserts = {r.suffix: d.upsert(r.table) for r in ROWS}
        self.inserts = {r.suffix: d.insert(r.table) for r in ROWS}
        self.by = {(r.suffix, c): d.render(select_in(r, c)) for r, c in LOOKUPS}
        self.forget = {(codes, c): d.render(forget(codes, c)) for codes, c in CODE_GROUPS}
        self.near = d.render(NEIGHBOURS.of(d))
        self.voided = d.render(VOIDED_VISITS)
        self.unconfirmed = d.render(UNCONFIRMED_ITEMS)
        self.restate = d.render(RESTATE.of(d))
        self.odd = d.render(UNCONFIRMED_VISITS.of(d))
        self.position = d.render(POSITION)
        self.of_volunteer = d.render(VOLUNTEER_VISITS)
        self.year_claims = d.render(YEAR_CLAIMS)
        self.entity_trail = d.render(ENTITY_TRAIL)
        self.settle = SETTLE.of(d)
        self._codecs = {r.suffix: self._codecs_of(r) for r in ROWS}
        self._getters = {r.suffix: self._getter_of(r) for r in ROWS}

    def _codecs_of(self, rows: Rows) -> Codecs:
        """Per column: its encoder, and (for the row class's fields) its decoder; None-safe where nullable."""
        d = self.dialect
        columns = rows.table.columns
        return (
            [(c.name, _none_safe(d.encoders.get(c.kind), c.nullable)) for c in columns],
            [(c.name, _none_safe(d.decoders.get(c.kind), c.nullable)) for c in columns if c.name in rows.given],
        )

    def _getter_of(self, rows: Rows) -> tuple[Callable[[Any], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]]:
        """The columns of a row as a tuple (one ``attrgetter``), and the coder of each column that has one."""
        encoders = self._codecs[rows.suffix][0]
        coded = [(i, f) for i, (_, f) in enumerate(encoders) if f is not None]
        return attrgetter(*(n for n, _ in encoders)), coded

    # Rows ---------------------------------------------------------------------------------

    def encoded(self, rows: Rows, items: Iterable[Any]) -> list[tuple[Any, ...]]:
        # A rebuild encodes every column of every row it writes: the columns are read with one
        # attrgetter per row, and only those with a coder are touched after that.
        getter, coded = self._getters[rows.suffix]
        if not coded:
            return [getter(item) for item in items]
        found = []
        for item in items:
            values = list(getter(item))
            for i, f in coded:
                values[i] = f(values[i])
            found.append(tuple(values))
        return found

    def make(self, rows: Rows, record: Row) -> Statement:
        decoders = self._codecs[rows.suffix][1]
        return rows.make(*[record[n] if f is None else f(record[n]) for n, f in decoders])

    # Reads --------------------------------------------------------------------------------

    def position_in(self, cursor: Cursor, application_name: str) -> int:
        """The view's position, read in the cursor's transaction."""
        cursor.execute(self.position, (application_name,))
        row = cursor.fetchone()
        return int(row["notification_id"]) if row else 0

    def load(self, cursor: Cursor, rows: Rows, column: str, keys: Iterable[Any]) -> list[Any]:
        """The rows of the table whose ``column`` is one of ``keys``."""
        return self._select(cursor, rows, self.by[rows.suffix, column], rows.kind(column), keys)

    def load_voided(self, cursor: Cursor, keys: Iterable[UUID]) -> list[VisitState]:
        """Those of the visits that are voided."""
        return self._select(cursor, VISITS, self.voided, Kind.UUID, keys)

    def load_unconfirmed(self, cursor: Cursor, claims: Iterable[UUID]) -> list[ItemState]:
        """The items of the claims whose visit is not confirmed (or was never recorded)."""
        return self._select(cursor, ITEMS, self.unconfirmed, Kind.UUID, claims)

    def unconfirmed_statuses(self, cursor: Cursor, visits: Iterable[UUID]) -> dict[UUID, tuple[str | None, int | None]]:
        """Of those visits, the ones not confirmed, with their status (None: never recorded) and its position."""
        keys = sorted(visits, key=str)
        if not keys:
            return {}
        cursor.execute(self.odd, (self.dialect.keys(Kind.UUID, keys),))
        decode = self.dialect.decode
        return {decode(Kind.UUID, r["visit_id"]): (r["status"], r["status_pos"]) for r in cursor.fetchall()}

    def _select(self, cursor: Cursor, rows: Rows, statement: Statement, kind: Kind, keys: Iterable[Any]) -> list[Any]:
        keys = list(keys)
        if not keys:
            return []
        cursor.execute(statement, (self.dialect.keys(kind, keys),))
        return [self.make(rows, r) for r in cursor.fetchall()]

    def every(self, cursor: Cursor, rows: Rows) -> list[Any]:
        """Every row of the table, in key order."""
        cursor.execute(self.dialect.select(rows.table, ordered=True))
        return [self.make(rows, r) for r in cursor.fetchall()]

    def volunteer_visits(self, cursor: Cursor, volunteer_id: UUID, start: datetime, end: datetime) -> list[VisitState]:
        """The volunteer's visits that started from ``start`` to before ``end`` (voided ones too), by start."""
        encode = self.dialect.encode
        window = (encode(Kind.UUID, volunteer_id), encode(Kind.INSTANT, start), encode(Kind.INSTANT, end))
        cursor.execute(self.of_volunteer, window)
        found = [self.make(VISITS, r) for r in cursor.fetchall()]
        return sorted((v for v in found if start <= v.started_at < end), key=lambda v: (v.started_at, str(v.visit_id)))

    def claims_of(self, cursor: Cursor, county: str, year: int) -> list[ClaimState]:
        """The county's claims of the year's months."""
        cursor.execute(self.year_claims, (county, f"{year:04d}-01", f"{year:04d}-12"))
        return [self.make(CLAIMS, r) for r in cursor.fetchall()]

    def trail_of_entity(self, cursor: Cursor, entity_id: UUID) -> list[TrailRow]:
        """The trail rows of one entity's events (a scan: see :data:`ENTITY_TRAIL`)."""
        cursor.execute(self.entity_trail, (self.dialect.encode(Kind.UUID, entity_id),))
        return [self.make(TRAIL, r) for r in cursor.fetchall()]

    def near_visits(self, cursor: Cursor, windows: list[tuple[UUID, datetime, datetime]]) -> list[VisitState]:
        if not windows:
            return []
        cursor.execute(self.near, window_params(self.dialect, windows))
        return [self.make(VISITS, r) for r in cursor.fetchall()]

    # Writes -------------------------------------------------------------------------------

    def save(self, cursor: Cursor, rows: Rows, items: Iterable[Any], *, insert: bool = False) -> None:
        encoded = self.encoded(rows, items)
        if encoded:
            self.dialect.write(cursor, (self.inserts if insert else self.upserts)[rows.suffix], encoded)

    def save_statuses(self, cursor: Cursor, statuses: dict[UUID, tuple[str, int]]) -> None:
        """Set the status of visits the page did not load (see ``PageState.statuses``)."""
        encode = self.dialect.encode
        ordered = sorted(statuses.items(), key=lambda i: str(i[0]))
        encoded = [(status, pos, encode(Kind.UUID, v)) for v, (status, pos) in ordered]
        if encoded:
            self.dialect.write(cursor, self.restate, encoded)

    def forget_anomalies(self, cursor: Cursor, codes: tuple[str, ...], column: str, keys: Iterable[Any]) -> None:
        """Delete the anomalies of those codes whose ``column`` (subject or other) is one of ``keys``."""
        listed = sorted({str(k) for k in keys})
        if listed:
            cursor.execute(self.forget[codes, column], (self.dialect.keys(ANOMALIES.kind(column), listed),))
