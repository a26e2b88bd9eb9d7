"""What the roster and health read models share: one SQL text per statement, two stores.

A statement is written once, with ``?`` for its parameters and ``{name}`` for a table, an index,
a column type or a fragment; :meth:`Dialect.render` makes the store's own statement of it
(SQLite: the text with its file's table names; PostgreSQL: a :mod:`psycopg.sql` composition
with ``%s`` and schema-qualified identifiers). Values cross into a store and back through the
dialect: ids, instants (SQLite: fixed-width UTC text, so text order is time order), dates and
exact numbers.

A view writes a page through a :class:`BatchWriter`: the projection adds rows to named
statements and the writer sends each statement's rows with one ``executemany``, statement by
statement in a fixed order (inserts before the updates that may touch the rows they insert).
Reading answers: a :class:`SnapshotReader` reads the view's position and its rows in one
snapshot, so an answer's position is exactly the log position its rows reflect.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from psycopg.sql import SQL, Identifier

from ledger.store import LedgerBase

R = TypeVar("R")


@dataclass(frozen=True)
class Answer(Generic[R]):
    """Rows of a read model and the log position they reflect (0: the view has applied nothing)."""

    position: int
    rows: tuple[R, ...]


class Dialect(ABC):
    types: ClassVar[Mapping[str, str]]
    """Column types and table options for the DDL: ``{uuid}``, ``{instant}``, ``{day}``, …"""

    snapshot: ClassVar[str | None] = None
    """The statement that makes a read transaction see one snapshot (None: it already does)."""

    @abstractmethod
    def names(self, view: Any, tables: Iterable[str], indexes: Iterable[str]) -> dict[str, Any]:
        """What ``{name}`` stands for in a template: the view's tables, indexes and tracking table, types."""

    @abstractmethod
    def render(self, template: str, names: Mapping[str, Any]) -> Any: ...

    @abstractmethod
    def uid(self, value: UUID) -> Any: ...

    @abstractmethod
    def uids(self, values: Iterable[UUID]) -> Any:
        """One parameter holding many ids, for ``{any_of}``."""

    @abstractmethod
    def instant(self, value: datetime) -> Any: ...

    @abstractmethod
    def day(self, value: date | None) -> Any: ...

    @abstractmethod
    def number(self, value: Decimal | None) -> Any: ...

    @abstractmethod
    def to_uid(self, value: Any) -> UUID: ...

    @abstractmethod
    def to_instant(self, value: Any) -> datetime: ...

    @abstractmethod
    def to_day(self, value: Any) -> date: ...

    @abstractmethod
    def to_number(self, value: Any) -> Decimal: ...

    def changed(self, cursor: Any) -> int:
        """How many rows the cursor's last statement changed."""
        count: int = cursor.rowcount
        return count

    def decode(self, row: Any, kinds: Mapping[str, str]) -> dict[str, Any]:
        """A row as a dict, its columns named in ``kinds`` (``uid``, ``instant``, ``day``, ``number``)
        converted from how the store keeps them; nulls stay None."""
        convert = {"uid": self.to_uid, "instant": self.to_instant, "day": self.to_day, "number": self.to_number}
        found = dict(row)
        for column, value in found.items():
            if value is not None and column in kinds:
                found[column] = convert[kinds[column]](value)
        return found


class SQLiteDialect(Dialect):
    types: ClassVar[Mapping[str, str]] = {
        "uuid": "TEXT", "instant": "TEXT", "day": "TEXT", "flag": "BOOLEAN", "number": "TEXT",
        "without_rowid": "WITHOUT ROWID", "any_of": "IN (SELECT value FROM json_each(?))", "bytewise": "",
    }  # fmt: skip

    def names(self, view: Any, tables: Iterable[str], indexes: Iterable[str]) -> dict[str, Any]:
        return {**self.types, **{n: view.table(n) for n in (*tables, *indexes)}, "tracking": "tracking"}

    def render(self, template: str, names: Mapping[str, Any]) -> str:
        return template.format(**names)

    def changed(self, cursor: Any) -> int:
        count: int = cursor.sqlite_cursor.rowcount  # the library's cursor wraps sqlite3's
        return count

    def uid(self, value: UUID) -> str:
        return str(value)

    def uids(self, values: Iterable[UUID]) -> str:
        return json.dumps([str(v) for v in values])

    def instant(self, value: datetime) -> str:
        return aware(value).astimezone(UTC).isoformat(timespec="microseconds")

    def day(self, value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    def number(self, value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    def to_uid(self, value: Any) -> UUID:
        return UUID(value)

    def to_instant(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)

    def to_day(self, value: Any) -> date:
        return date.fromisoformat(value)

    def to_number(self, value: Any) -> Decimal:
        return Decimal(value)


class PostgresDialect(Dialect):
    types: ClassVar[Mapping[str, str]] = {
        "uuid": "uuid", "instant": "timestamptz", "day": "date", "flag": "boolean", "number": "numeric",
        "without_rowid": "", "any_of": "= ANY(%s)", "bytewise": 'COLLATE "C"',
    }  # fmt: skip
    snapshot = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"

    def names(self, view: Any, tables: Iterable[str], indexes: Iterable[str]) -> dict[str, Any]:
        return {
            **{k: SQL(v) for k, v in self.types.items()},
            **{n: view.table(n) for n in tables},
            **{n: Identifier(index_name(view, n)) for n in indexes},  # an index lives in its table's schema
            "tracking": view.qualified(view.tracking_table_name),
        }

    def render(self, template: str, names: Mapping[str, Any]) -> Any:
        return SQL(template.replace("?", "%s")).format(**names)

    def uid(self, value: UUID) -> UUID:
        return value

    def uids(self, values: Iterable[UUID]) -> list[UUID]:
        return list(values)

    def instant(self, value: datetime) -> datetime:
        return aware(value)

    def day(self, value: date | None) -> date | None:
        return value

    def number(self, value: Decimal | None) -> Decimal | None:
        return value

    def to_uid(self, value: Any) -> UUID:
        return UUID(str(value))

    def to_instant(self, value: Any) -> datetime:
        moment: datetime = value
        return moment.astimezone(UTC)

    def to_day(self, value: Any) -> date:
        day: date = value
        return day

    def to_number(self, value: Any) -> Decimal:
        return Decimal(value)


def index_name(view: Any, suffix: str) -> str:
    name = f"view_{view.view_name}_{suffix}"
    view.check_identifier_length(name)
    return name


SQLITE = SQLiteDialect()
POSTGRES = PostgresDialect()


def aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{moment!r} is not a timezone-aware date-time")
    return moment


class BatchWriter:
    """Buffers a page's rows by statement; :meth:`flush` sends them in ``order``, one ``executemany`` each.

    A statement named in ``exact`` must touch one row per row of parameters: an update of a row
    the view does not have means the view missed an event, and the page is refused, not skipped.
    """

    def __init__(
        self, cursor: Any, dialect: Dialect, statements: Mapping[str, Any], order: Sequence[str], exact: Iterable[str]
    ) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.statements = statements
        self.exact = frozenset(exact)
        self.pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in order}

    def add(self, statement: str, *params: Any) -> None:
        self.pending[statement].append(params)

    def flush(self) -> None:
        for name, rows in self.pending.items():
            if rows:
                self.cursor.executemany(self.statements[name], rows)
                if name in self.exact and (changed := self.dialect.changed(self.cursor)) != len(rows):
                    raise ValueError(f"{name}: {len(rows) - changed} of its rows are not in the view")
                rows.clear()


class SnapshotReader:
    """Reads a view's rows with the position they reflect, in one snapshot of the view.

    Mixed into a :class:`projections.views.SQLiteView` or :class:`~projections.views.PostgresView`
    (it uses their ``datastore``); ``names`` are the view's ``{name}``s (:meth:`Dialect.names`).
    """

    dialect: ClassVar[Dialect]
    application_name: ClassVar[str] = LedgerBase.name
    """Whose log the answers' positions are of."""

    datastore: Any
    names: dict[str, Any]

    def read(self, *queries: tuple[str, Sequence[Any]]) -> tuple[int, list[list[Any]]]:
        """The view's position and the rows of each ``(template, params)``, seen together."""
        position = self.dialect.render("SELECT notification_id FROM {tracking} WHERE application_name = ?", self.names)
        with self.datastore.transaction(commit=False) as cursor:
            if self.dialect.snapshot:
                cursor.execute(self.dialect.snapshot)
            cursor.execute(position, (self.application_name,))
            found = cursor.fetchone()
            results = []
            for template, params in queries:
                cursor.execute(self.dialect.render(template, self.names), tuple(params))
                results.append(list(cursor.fetchall()))
        return (found["notification_id"] if found else 0), results
