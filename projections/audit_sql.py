"""The subsidy audit's SQL, for SQLite and for PostgreSQL.

The tables are declared once (:mod:`projections.audit_tables`); each dialect turns the
declarations into its own statements — SQLite with ``?`` and text for
ids and instants, PostgreSQL with ``%s``, ``uuid``, ``timestamptz`` and ``date`` — and encodes
and decodes values. Sets of keys travel as one parameter: a JSON array read by ``json_each`` on
SQLite, an array compared with ``= ANY`` on PostgreSQL, so a page loads each kind of row with
one statement however many keys it needs.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Composed, Identifier

from projections.audit_rules import ItemState, VisitState
from projections.audit_tables import (
    ANOMALIES,
    CODE_GROUPS,
    ITEMS,
    JSON_KINDS,
    LOOKUPS,
    TABLES,
    TS,
    VISITS,
    D,
    N,
    T,
    Table,
    U,
)
from projections.storage import instant_text as encode_instant


class Dialect(ABC):
    """One store's SQL for the audit's tables; ``name(table)`` is the table's name in the store."""

    ph: str
    types: dict[str, str]
    _codecs: dict[str, tuple[list[tuple[str, Any]], list[tuple[str, Any]]]]

    @abstractmethod
    def name(self, table: Table) -> Any: ...

    @abstractmethod
    def compose(self, template: str, *tables: Table) -> Any:
        """A statement from a template whose ``{0}``, ``{1}``… are the tables' names."""

    @abstractmethod
    def in_set(self, column: str) -> str:
        """A condition: ``column`` is one of the keys passed as one parameter (see :meth:`keys`)."""

    @abstractmethod
    def keys(self, kind: str, values: Iterable[Any]) -> Any: ...

    # Statements ---------------------------------------------------------------------------

    def create(self, table: Table) -> list[Any]:
        columns = ", ".join(
            f"{n} {self.types[k]}{'' if n in table.nullable else ' NOT NULL'}" for n, k in table.columns
        )
        statements = [
            self.compose(f"CREATE TABLE IF NOT EXISTS {{0}} ({columns}, PRIMARY KEY ({', '.join(table.key)}))", table)
        ]
        for index in table.indexes:
            statements.append(self.create_index(table, index))
        return statements

    @abstractmethod
    def create_index(self, table: Table, columns: tuple[str, ...]) -> Any: ...

    def upsert(self, table: Table) -> Any:
        marks = ", ".join([self.ph] * len(table.columns))
        rest = ", ".join(f"{n} = excluded.{n}" for n in table.names if n not in table.key)
        return self.compose(
            f"INSERT INTO {{0}} ({', '.join(table.names)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {rest}",
            table,
        )

    def insert(self, table: Table) -> Any:
        marks = ", ".join([self.ph] * len(table.columns))
        return self.compose(f"INSERT INTO {{0}} ({', '.join(table.names)}) VALUES ({marks})", table)

    def write(self, cursor: Any, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        """Run an insert, upsert or update for many rows (each a tuple of its columns)."""
        cursor.executemany(statement, rows)

    def restate(self) -> Any:
        """Set (status, status_pos) of the visit with the id, per row."""
        return self.compose(f"UPDATE {{0}} SET status = {self.ph}, status_pos = {self.ph} WHERE visit_id = {self.ph}",
                            VISITS)  # fmt: skip

    def select(self, table: Table, where: str = "", *, ordered: bool = False) -> Any:
        """Its rows (where ``where``), in key order if ``ordered``."""
        statement = f"SELECT {', '.join(table.names)} FROM {{0}}"
        if where:
            statement += f" WHERE {where}"
        return self.compose(statement + (f" ORDER BY {', '.join(table.key)}" if ordered else ""), table)

    def select_in(self, table: Table, column: str) -> Any:
        return self.select(table, self.in_set(column))

    def delete_anomalies(self, codes: Sequence[str], column: str) -> Any:
        listed = ", ".join(f"'{c}'" for c in codes)
        return self.compose(f"DELETE FROM {{0}} WHERE code IN ({listed}) AND {self.in_set(column)}", ANOMALIES)

    @abstractmethod
    def neighbours(self) -> Any:
        """Unvoided visits of each (volunteer, lo, hi) window that end after lo and start before hi."""

    @abstractmethod
    def unconfirmed_visits(self) -> Any:
        """Of the visit ids passed as one array, those not confirmed: (visit_id, status, status_pos),
        status null for an id no visit has."""

    @abstractmethod
    def windows(self, windows: list[tuple[UUID, datetime, datetime]]) -> tuple[Any, ...]: ...

    # Rows -------------------------------------------------------------------------------

    encoders: dict[str, Callable[[Any], Any]]
    """How a value of a kind is stored (kinds absent are stored as they are)."""
    decoders: dict[str, Callable[[Any], Any]]

    def encode(self, kind: str, value: Any) -> Any:
        coder = self.encoders.get(kind)
        return value if coder is None or value is None else coder(value)

    def codecs(self, table: Table) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        """Per column: its encoder, and (for the row class's fields) its decoder; None-safe where nullable."""
        found = self._codecs.get(table.suffix)
        if found is None:
            found = self._codecs[table.suffix] = (
                [(n, _nullable(self.encoders.get(k), n in table.nullable)) for n, k in table.columns],
                [(n, _nullable(self.decoders.get(k), n in table.nullable)) for n, k in table.columns
                 if n not in table.derived],
            )  # fmt: skip
        return found

    def rows(self, table: Table, items: Iterable[Any]) -> list[tuple[Any, ...]]:
        encoders = self.codecs(table)[0]
        return [tuple(getattr(item, n) if f is None else f(getattr(item, n)) for n, f in encoders) for item in items]

    def make(self, table: Table, record: Any) -> Any:
        decoders = self.codecs(table)[1]
        return table.make(*[record[n] if f is None else f(record[n]) for n, f in decoders])


def _nullable(coder: Callable[[Any], Any] | None, nullable: bool) -> Callable[[Any], Any] | None:
    if coder is None or not nullable:
        return coder
    return lambda value: None if value is None else coder(value)


def _json(kind: str, value: Any) -> str:
    if kind == "uuids":
        return json.dumps([str(v) for v in value])
    if kind == "ints":
        return json.dumps([int(v) for v in value])
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _unjson(kind: str, text: str) -> Any:
    value = json.loads(text)
    if kind == "uuids":
        return tuple(UUID(v) for v in value)
    if kind == "ints":
        return tuple(int(v) for v in value)
    return value


class SQLiteDialect(Dialect):
    ph = "?"
    types = {  # noqa: RUF012
        U: "TEXT", T: "TEXT", N: "INTEGER", TS: "TEXT", D: "TEXT", "uuids": "TEXT", "ints": "TEXT", "json": "TEXT",
    }  # fmt: skip

    def __init__(self, view_name: str) -> None:
        self.view_name = view_name
        self._codecs = {}

    def name(self, table: Table) -> str:
        return f"view_{self.view_name}_{table.suffix}"

    def compose(self, template: str, *tables: Table) -> str:
        return template.format(*(self.name(t) for t in tables))

    def create_index(self, table: Table, columns: tuple[str, ...]) -> str:
        index = f"{self.name(table)}_by_{'_'.join(columns)}"
        return self.compose(f"CREATE INDEX IF NOT EXISTS {index} ON {{0}} ({', '.join(columns)})", table)

    def in_set(self, column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    def keys(self, kind: str, values: Iterable[Any]) -> str:
        return json.dumps([self.encode(kind, v) for v in values])

    encoders = {  # noqa: RUF012
        U: str, TS: encode_instant, D: date.isoformat, **{k: partial(_json, k) for k in JSON_KINDS},
    }  # fmt: skip
    decoders = {  # noqa: RUF012
        U: UUID, TS: datetime.fromisoformat, D: date.fromisoformat, **{k: partial(_unjson, k) for k in JSON_KINDS},
    }  # fmt: skip

    def neighbours(self) -> str:
        return self.compose(
            f"SELECT {', '.join('v.' + n for n in VISITS.names)} FROM json_each(?) AS w "
            "JOIN {0} AS v ON v.volunteer_id = json_extract(w.value, '$[0]') "
            "AND v.ended_at > json_extract(w.value, '$[1]') AND v.started_at < json_extract(w.value, '$[2]') "
            "WHERE v.status <> 'voided'",
            VISITS,
        )

    def unconfirmed_visits(self) -> str:
        return self.compose(
            "SELECT w.value AS visit_id, v.status AS status, v.status_pos AS status_pos FROM json_each(?) AS w "
            "LEFT JOIN {0} AS v ON v.visit_id = w.value WHERE v.status IS NULL OR v.status <> 'confirmed'",
            VISITS,
        )

    def windows(self, windows: list[tuple[UUID, datetime, datetime]]) -> tuple[Any, ...]:
        return (json.dumps([[str(v), encode_instant(lo), encode_instant(hi)] for v, lo, hi in windows]),)


class PostgresDialect(Dialect):
    ph = "%s"
    types = {  # noqa: RUF012
        U: "uuid", T: "text", N: "bigint", TS: "timestamptz", D: "date", "uuids": "text", "ints": "text",
        "json": "text",
    }  # fmt: skip

    def __init__(self, view_name: str, schema: str, check: Callable[[str], None]) -> None:
        self.view_name = view_name
        self._codecs = {}
        self.schema = schema
        self.check = check

    def table_name(self, table: Table) -> str:
        name = f"view_{self.view_name}_{table.suffix}"
        self.check(name)
        return name

    def name(self, table: Table) -> Composed:
        return SQL("{0}.{1}").format(Identifier(self.schema), Identifier(self.table_name(table)))

    def compose(self, template: str, *tables: Table) -> Composed:
        return SQL(template).format(*(self.name(t) for t in tables))

    def create_index(self, table: Table, columns: tuple[str, ...]) -> Composed:
        index = f"{self.table_name(table)}_{'_'.join(c[:8] for c in columns)}_idx"
        self.check(index)
        return SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} ({2})").format(
            Identifier(index), self.name(table), SQL(", ".join(columns))
        )

    def in_set(self, column: str) -> str:
        return f"{column} = ANY(%s)"

    # Many rows in one statement: each column travels as one array, unnested by the server.

    def arrays(self, kinds: list[str], names: list[str]) -> str:
        casts = ", ".join(f"%s::{self.types[k]}[]" for k in kinds)
        return f"unnest({casts}) AS u({', '.join(names)})"

    def insert(self, table: Table) -> Composed:
        names = ", ".join(table.names)
        source = self.arrays([k for _, k in table.columns], list(table.names))
        return self.compose(f"INSERT INTO {{0}} ({names}) SELECT {names} FROM {source}", table)

    def upsert(self, table: Table) -> Composed:
        rest = ", ".join(f"{n} = excluded.{n}" for n in table.names if n not in table.key)
        conflict = SQL(f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {rest}")
        return self.insert(table) + conflict

    def restate(self) -> Composed:
        source = self.arrays([T, N, U], ["status", "status_pos", "visit_id"])
        return self.compose(
            f"UPDATE {{0}} AS t SET status = u.status, status_pos = u.status_pos FROM {source} "
            "WHERE t.visit_id = u.visit_id",
            VISITS,
        )

    def write(self, cursor: Any, statement: Any, rows: list[tuple[Any, ...]]) -> None:
        cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])

    def keys(self, kind: str, values: Iterable[Any]) -> list[Any]:
        return [self.encode(kind, v) for v in values]

    encoders = {k: partial(_json, k) for k in JSON_KINDS}  # noqa: RUF012
    decoders = {  # noqa: RUF012
        TS: partial(datetime.astimezone, tz=UTC), **{k: partial(_unjson, k) for k in JSON_KINDS},
    }  # fmt: skip

    def neighbours(self) -> Composed:
        return self.compose(
            f"SELECT {', '.join('v.' + n for n in VISITS.names)} "
            "FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[]) AS w(volunteer_id, lo, hi) "
            "JOIN {0} AS v ON v.volunteer_id = w.volunteer_id AND v.ended_at > w.lo AND v.started_at < w.hi "
            "WHERE v.status <> 'voided'",
            VISITS,
        )

    def unconfirmed_visits(self) -> Composed:
        return self.compose(
            "SELECT w.visit_id AS visit_id, v.status AS status, v.status_pos AS status_pos "
            "FROM unnest(%s::uuid[]) AS w(visit_id) "
            "LEFT JOIN {0} AS v ON v.visit_id = w.visit_id WHERE v.status IS NULL OR v.status <> 'confirmed'",
            VISITS,
        )

    def windows(self, windows: list[tuple[UUID, datetime, datetime]]) -> tuple[Any, ...]:
        return ([w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows])


class AuditSQL:
    """The statements of one view, prepared once, and the reads and writes a page makes with them."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = d = dialect
        self.upserts = {t.suffix: d.upsert(t) for t in TABLES}
        self.inserts = {t.suffix: d.insert(t) for t in TABLES}
        self.by = {(t.suffix, c): d.select_in(t, c) for t, c in LOOKUPS}
        self.forget = {(codes, c): d.delete_anomalies(codes, c) for codes, c in CODE_GROUPS}
        self.near = d.neighbours()
        self.voided = d.select(VISITS, f"{d.in_set('visit_id')} AND status = 'voided'")
        self.unconfirmed = d.compose(
            f"SELECT {', '.join('i.' + n for n in ITEMS.names)} FROM {{0}} AS i "
            f"LEFT JOIN {{1}} AS v ON v.visit_id = i.visit_id "
            f"WHERE {d.in_set('i.claim_id')} AND (v.status IS NULL OR v.status <> 'confirmed')",
            ITEMS,
            VISITS,
        )
        self.restate = d.restate()
        self.odd = d.unconfirmed_visits()

    def create(self) -> list[Any]:
        return [s for t in TABLES for s in self.dialect.create(t)]

    def load(self, cursor: Any, table: Table, column: str, keys: Iterable[Any]) -> list[Any]:
        """The rows of ``table`` whose ``column`` is one of ``keys``."""
        return self._select(cursor, table, self.by[table.suffix, column], dict(table.columns)[column], keys)

    def load_voided(self, cursor: Any, keys: Iterable[UUID]) -> list[VisitState]:
        """Those of the visits that are voided."""
        return self._select(cursor, VISITS, self.voided, U, keys)

    def load_unconfirmed(self, cursor: Any, claims: Iterable[UUID]) -> list[ItemState]:
        """The items of the claims whose visit is not confirmed (or was never recorded)."""
        return self._select(cursor, ITEMS, self.unconfirmed, U, claims)

    def unconfirmed_statuses(self, cursor: Any, visits: Iterable[UUID]) -> dict[UUID, tuple[str | None, int | None]]:
        """Of those visits, the ones not confirmed, with their status (None: never recorded) and its position."""
        keys = sorted(visits, key=str)
        if not keys:
            return {}
        cursor.execute(self.odd, (self.dialect.keys(U, keys),))
        decode = self.dialect.decoders.get(U) or (lambda v: v)
        return {decode(r["visit_id"]): (r["status"], r["status_pos"]) for r in cursor.fetchall()}

    def _select(self, cursor: Any, table: Table, statement: Any, kind: str, keys: Iterable[Any]) -> list[Any]:
        keys = list(keys)
        if not keys:
            return []
        cursor.execute(statement, (self.dialect.keys(kind, keys),))
        return [self.dialect.make(table, r) for r in cursor.fetchall()]

    def every(self, cursor: Any, table: Table) -> list[Any]:
        cursor.execute(self.dialect.select(table, ordered=True))
        return [self.dialect.make(table, r) for r in cursor.fetchall()]

    def near_visits(self, cursor: Any, windows: list[tuple[UUID, datetime, datetime]]) -> list[VisitState]:
        if not windows:
            return []
        cursor.execute(self.near, self.dialect.windows(windows))
        return [self.dialect.make(VISITS, r) for r in cursor.fetchall()]

    def save(self, cursor: Any, table: Table, items: Iterable[Any], *, insert: bool = False) -> None:
        rows = self.dialect.rows(table, items)
        if rows:
            self.dialect.write(cursor, (self.inserts if insert else self.upserts)[table.suffix], rows)

    def save_statuses(self, cursor: Any, statuses: dict[UUID, tuple[str, int]]) -> None:
        """Set the status of visits the page did not load (see ``PageState.statuses``)."""
        encode = self.dialect.encode
        rows = [(status, pos, encode(U, v)) for v, (status, pos) in sorted(statuses.items(), key=lambda i: str(i[0]))]
        if rows:
            self.dialect.write(cursor, self.restate, rows)

    def forget_anomalies(self, cursor: Any, codes: tuple[str, ...], column: str, keys: Iterable[Any]) -> None:
        """Delete the anomalies of those codes whose ``column`` (subject or other) is one of ``keys``."""
        listed = sorted({str(k) for k in keys})
        if listed:
            cursor.execute(self.forget[codes, column], (self.dialect.keys(T, listed),))
