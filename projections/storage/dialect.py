"""One store's SQL for a read model's tables: SQLite or PostgreSQL, behind one interface.

A dialect is bound to one view (its name, and on PostgreSQL its schema) and knows the view's
tables (:mod:`projections.storage.tables`). It gives:

- **names**: ``table(suffix)``, ``index(suffix)``, ``tracking``;
- **statements from declarations**: ``create`` (DDL), ``insert``, ``upsert``, ``select``,
  ``truncate``, and ``write`` to send many rows of an insert or upsert in one round trip
  (SQLite: ``executemany`` in process; PostgreSQL: one statement over arrays, ``unnest``);
- **statements from templates**: ``render`` turns one SQL text written with ``?`` for parameters
  and ``{suffix}`` for the view's tables and indexes into the store's statement (PostgreSQL: a
  :mod:`psycopg.sql` composition with ``%s`` and schema-qualified names). A template may also
  use ``{any_of}`` (the column is one of the keys passed as one parameter, see ``keys``),
  ``{bytewise}`` (compare text by code point, as Python does) and a kind's type, ``{uuid}``;
- **values**: ``encode``/``decode`` by :class:`~projections.storage.tables.Kind`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

from psycopg.sql import SQL, Composable, Composed, Identifier

from projections.storage.tables import JSON_KINDS, Kind, Table
from projections.storage.types import Cursor, Row, SQLValue, Statement

POSTGRES_MAX_IDENTIFIER = 63


def aware(moment: datetime) -> datetime:
    """The moment itself, refused unless it is a timezone-aware date-time."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{moment!r} is not a timezone-aware date-time")
    return moment


def instant_text(moment: datetime) -> str:
    """SQLite's text for an instant: fixed width in UTC, so text order is time order."""
    return aware(moment).astimezone(UTC).isoformat(timespec="microseconds")


def _to_json(kind: Kind, value: SQLValue) -> str:
    if kind is Kind.UUIDS:
        return json.dumps([str(v) for v in value])
    if kind is Kind.INTS:
        return json.dumps([int(v) for v in value])
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _from_json(kind: Kind, text: str) -> Statement:
    value = json.loads(text)
    if kind is Kind.UUIDS:
        return tuple(UUID(v) for v in value)
    if kind is Kind.INTS:
        return tuple(int(v) for v in value)
    return value


def _json_coders(decode: bool) -> dict[Kind, Callable[[Any], Any]]:
    coder = _from_json if decode else _to_json
    return {kind: partial(coder, kind) for kind in JSON_KINDS}


class Dialect(ABC):
    """A view's SQL on one store (see the module's docstring)."""

    placeholder: ClassVar[str]
    types: ClassVar[Mapping[Kind, str]]
    words: ClassVar[Mapping[str, str]]
    """Fragments a template may use: ``any_of``, ``bytewise``, ``without_rowid``; and ``any_uuid``,
    ``any_text``, ``any_int``: ``any_of`` for keys of a known type, which PostgreSQL receives as one
    binary array (no element quoted in Python)."""
    snapshot: ClassVar[str | None] = None
    """The statement that makes a read transaction see one snapshot (None: it already does)."""
    encoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]]
    decoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]]

    def __init__(self, view_name: str, tables: Sequence[Table]) -> None:
        self.view_name = view_name
        self.tables = {t.suffix: t for t in tables}
        self._rendered: dict[str, Any] = {}
        self._row_coders: dict[str, list[Callable[[Any], Any] | None]] = {}

    # Names --------------------------------------------------------------------------------

    def full_name(self, suffix: str) -> str:
        return f"view_{self.view_name}_{suffix}"

    @abstractmethod
    def table(self, suffix: str) -> Statement:
        """The table ``view_{view}_{suffix}`` as a statement names it."""

    @abstractmethod
    def index(self, suffix: str) -> Statement: ...

    @property
    @abstractmethod
    def tracking(self) -> Statement:
        """The library's tracking table of this view."""

    def names(self) -> dict[str, Any]:
        """What ``{name}`` stands for in a template."""
        found: dict[str, Any] = {k.value: self._fragment(v) for k, v in self.types.items()}
        found.update({k: self._fragment(v) for k, v in self.words.items()})
        for table in self.tables.values():
            found[table.suffix] = self.table(table.suffix)
            found.update({i.suffix: self.index(i.suffix) for i in table.indexes})
        found["tracking"] = self.tracking
        return found

    # Statements ---------------------------------------------------------------------------

    def render(self, template: str) -> Statement:
        """The store's statement of a template (rendered once per view and kept)."""
        found = self._rendered.get(template)
        if found is None:
            found = self._rendered[template] = self._render(template, self.names())
        return found

    @abstractmethod
    def _render(self, template: str, names: Mapping[str, Any]) -> Statement: ...

    @abstractmethod
    def _fragment(self, text: str) -> Statement: ...

    def create(self, table: Table) -> list[Any]:
        """The table's DDL and its indexes' (``IF NOT EXISTS``)."""
        parts = [
            f"{c.name} {{{c.kind.value}}}{'' if c.nullable else ' NOT NULL'}{' UNIQUE' if c.unique else ''}"
            for c in table.columns
        ]
        parts.append(f"PRIMARY KEY ({', '.join(table.key)})")
        rowid = " {without_rowid}" if table.compact else ""
        statements = [self.render(f"CREATE TABLE IF NOT EXISTS {{{table.suffix}}} ({', '.join(parts)}){rowid}")]
        statements += [
            self.render(f"CREATE INDEX IF NOT EXISTS {{{i.suffix}}} ON {{{table.suffix}}} ({', '.join(i.columns)})")
            for i in table.indexes
        ]
        return statements

    def insert(self, table: Table) -> Statement:
        """Insert rows of every column, in declared order (send them with :meth:`write`)."""
        marks = ", ".join("?" * len(table.columns))
        return self.render(f"INSERT INTO {{{table.suffix}}} ({', '.join(table.names)}) VALUES ({marks})")

    def upsert(self, table: Table, update: Iterable[str] | None = None) -> Statement:
        """Insert rows, replacing ``update`` (default: every column not in the key) of a row already there."""
        changed = [n for n in (table.names if update is None else update) if n not in table.key]
        sets = ", ".join(f"{n} = excluded.{n}" for n in changed)
        return self._on_conflict(self.insert(table), f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {sets}")

    @abstractmethod
    def _on_conflict(self, insert: Statement, clause: str) -> Statement: ...

    def select(self, table: Table, where: str = "", *, ordered: bool = False) -> Statement:
        """Every column of the rows ``where`` holds (a template condition), in key order if ``ordered``."""
        statement = f"SELECT {', '.join(table.names)} FROM {{{table.suffix}}}"
        if where:
            statement += f" WHERE {where}"
        if ordered:
            statement += f" ORDER BY {', '.join(table.key)}"
        return self.render(statement)

    def in_set(self, column: str) -> str:
        """A template condition: ``column`` is one of the keys passed as one parameter (:meth:`keys`)."""
        return f"{column} {{any_of}}"

    @abstractmethod
    def truncate(self, table: Table) -> Statement:
        """Empty the table."""

    def write(self, cursor: Cursor, statement: Statement, rows: Sequence[tuple[Any, ...]]) -> None:
        """Send the rows of an :meth:`insert` or :meth:`upsert` (each a tuple of encoded columns)."""
        cursor.executemany(statement, rows)

    def changed(self, cursor: Cursor) -> int:
        """How many rows the cursor's last statement changed."""
        count: int = cursor.rowcount
        return count

    # Values -------------------------------------------------------------------------------

    def encode(self, kind: Kind, value: SQLValue) -> SQLValue:
        """A value as this store keeps a column of that kind (None stays None)."""
        coder = self.encoders.get(kind)
        return value if value is None or coder is None else coder(value)

    def decode(self, kind: Kind, value: SQLValue) -> SQLValue:
        coder = self.decoders.get(kind)
        return value if value is None or coder is None else coder(value)

    def keys(self, kind: Kind, values: Iterable[Any]) -> Statement:
        """Many keys as the one parameter of an ``{any_of}``."""
        return [self.encode(kind, v) for v in values]

    def row(self, table: Table, values: Sequence[SQLValue]) -> tuple[SQLValue, ...]:
        """A row of the table to write, its values encoded by their columns' kinds."""
        coders = self._row_coders.get(table.suffix)
        if coders is None:  # looked up once per table: a rebuild encodes every column of every row
            coders = self._row_coders[table.suffix] = [self.encoders.get(c.kind) for c in table.columns]
        if len(values) != len(coders):
            raise ValueError(f"{table.suffix}: {len(values)} values for {len(coders)} columns")
        return tuple(v if f is None or v is None else f(v) for f, v in zip(coders, values, strict=True))

    def decode_row(self, row: Row, kinds: Mapping[str, Kind]) -> dict[str, Any]:
        """A fetched row as a dict, the columns named in ``kinds`` decoded (nulls stay None)."""
        found = dict(row)
        for column, kind in kinds.items():
            if column in found:
                found[column] = self.decode(kind, found[column])
        return found

    @staticmethod
    @abstractmethod
    def values(row: Row) -> tuple[Any, ...]:
        """A fetched row's values in column order."""


class SQLiteDialect(Dialect):
    placeholder = "?"
    types: ClassVar[Mapping[Kind, str]] = {
        Kind.UUID: "TEXT", Kind.TEXT: "TEXT", Kind.INT: "INTEGER", Kind.REAL: "REAL", Kind.NUMBER: "TEXT",
        Kind.INSTANT: "TEXT", Kind.DAY: "TEXT", Kind.FLAG: "BOOLEAN", Kind.UUIDS: "TEXT", Kind.INTS: "TEXT",
        Kind.JSON: "TEXT", Kind.BYTES: "BLOB",
    }  # fmt: skip
    words: ClassVar[Mapping[str, str]] = {
        "any_of": "IN (SELECT value FROM json_each(?))", "bytewise": "", "without_rowid": "WITHOUT ROWID",
        **dict.fromkeys(("any_uuid", "any_text", "any_int"), "IN (SELECT value FROM json_each(?))"),
    }  # fmt: skip
    encoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]] = {
        Kind.UUID: str, Kind.INSTANT: instant_text, Kind.DAY: date.isoformat, Kind.NUMBER: str,
        **_json_coders(decode=False),
    }  # fmt: skip
    decoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]] = {
        Kind.UUID: UUID, Kind.INSTANT: datetime.fromisoformat, Kind.DAY: date.fromisoformat, Kind.NUMBER: Decimal,
        Kind.FLAG: bool, **_json_coders(decode=True),
    }  # fmt: skip

    def table(self, suffix: str) -> str:
        return self.full_name(suffix)

    def index(self, suffix: str) -> str:
        return self.full_name(suffix)

    @property
    def tracking(self) -> str:
        return "tracking"

    def _render(self, template: str, names: Mapping[str, Any]) -> str:
        return template.format(**names)

    def _fragment(self, text: str) -> str:
        return text

    def _on_conflict(self, insert: Statement, clause: str) -> str:
        return f"{insert}{clause}"

    def truncate(self, table: Table) -> str:
        return f"DELETE FROM {self.table(table.suffix)}"

    def changed(self, cursor: Cursor) -> int:
        count: int = cursor.sqlite_cursor.rowcount  # the library's cursor wraps sqlite3's
        return count

    def keys(self, kind: Kind, values: Iterable[Any]) -> str:
        return json.dumps([self.encode(kind, v) for v in values])

    @staticmethod
    def values(row: Row) -> tuple[Any, ...]:
        return tuple(row)


class PostgresDialect(Dialect):
    placeholder = "%s"
    types: ClassVar[Mapping[Kind, str]] = {
        Kind.UUID: "uuid", Kind.TEXT: "text", Kind.INT: "bigint", Kind.REAL: "double precision",
        Kind.NUMBER: "numeric", Kind.INSTANT: "timestamptz", Kind.DAY: "date", Kind.FLAG: "boolean",
        Kind.UUIDS: "text", Kind.INTS: "text", Kind.JSON: "text", Kind.BYTES: "bytea",
    }  # fmt: skip
    words: ClassVar[Mapping[str, str]] = {
        "any_of": "= ANY(?)", "bytewise": 'COLLATE "C"', "without_rowid": "",
        "any_uuid": "= ANY(%b::uuid[])", "any_text": "= ANY(%b::text[])", "any_int": "= ANY(%b::bigint[])",
    }  # fmt: skip
    snapshot = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
    encoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]] = {Kind.INSTANT: aware, **_json_coders(decode=False)}
    decoders: ClassVar[Mapping[Kind, Callable[[Any], Any]]] = {
        Kind.UUID: lambda v: v if isinstance(v, UUID) else UUID(str(v)),
        Kind.INSTANT: lambda v: v.astimezone(UTC),
        Kind.NUMBER: Decimal,
        **_json_coders(decode=True),
    }

    def __init__(self, view_name: str, tables: Sequence[Table], schema: str) -> None:
        super().__init__(view_name, tables)
        self.schema = schema

    def checked(self, name: str) -> str:
        if len(name) > POSTGRES_MAX_IDENTIFIER:
            raise ValueError(f"PostgreSQL identifier {name!r} is longer than {POSTGRES_MAX_IDENTIFIER} characters")
        return name

    def qualified(self, name: str) -> Composed:
        return SQL("{0}.{1}").format(Identifier(self.schema), Identifier(self.checked(name)))

    def table(self, suffix: str) -> Composed:
        return self.qualified(self.full_name(suffix))

    def index(self, suffix: str) -> Identifier:
        return Identifier(self.checked(self.full_name(suffix)))  # an index lives in its table's schema

    @property
    def tracking(self) -> Composed:
        return self.qualified(self.full_name("tracking"))

    def _render(self, template: str, names: Mapping[str, Any]) -> Composed:
        composed: Composed = SQL(template.replace("?", "%s")).format(**names)
        return composed

    def _fragment(self, text: str) -> Composable:
        return SQL(text.replace("?", "%s"))

    def insert(self, table: Table) -> Statement:
        """One statement for many rows: each column travels as one array, unnested by the server.

        The arrays travel in binary (``%b``): psycopg's text format quotes every element of an array
        in Python, which cost a page more than the server spent inserting its rows.
        """
        names = ", ".join(table.names)
        casts = ", ".join(f"%b::{self.types[c.kind]}[]" for c in table.columns)
        return self.render(
            f"INSERT INTO {{{table.suffix}}} ({names}) SELECT {names} FROM unnest({casts}) AS u({names})"
        )

    def _on_conflict(self, insert: Statement, clause: str) -> Composed:
        composed: Composed = insert + SQL(clause)
        return composed

    def write(self, cursor: Cursor, statement: Statement, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])

    def truncate(self, table: Table) -> Composed:  # TRUNCATE leaves no dead rows behind to slow a rebuild
        composed: Composed = SQL("TRUNCATE {0}").format(self.table(table.suffix))
        return composed

    @staticmethod
    def values(row: Row) -> tuple[Any, ...]:
        return tuple(row.values())
