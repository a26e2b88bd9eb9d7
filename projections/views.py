"""Where a read model keeps its rows: a view per projection, on SQLite or on PostgreSQL.

A view is the library's own tracking recorder (:class:`SQLiteTrackingRecorder`,
:class:`PostgresTrackingRecorder`) with the read model's tables beside its tracking table. Basing
views on them, rather than on recorders of our own, keeps the library's tracking schema and its
migration, ``max_tracking_id``, ``has_tracking_id`` and ``wait`` (what ``?after=POSITION`` needs),
and lets the library's stock ``ProjectionRunner`` drive the same view when a benchmark compares it.

What we add is :meth:`PagedView.page`: **one** transaction that first moves the tracking row by
compare-and-set, from exactly the position the runner started the page at to the page's last
position, then lets the projection write the page's rows, and commits both together. So:

- a crash anywhere before the commit leaves rows and tracking as they were, and the page is
  applied again from the same position: each event is applied exactly once;
- two runners on one view cannot both apply a page. The library's ``insert_tracking`` only checks
  that the new position is *higher*, so a second runner with a longer page would re-apply the
  events of the first; the compare-and-set refuses it (:class:`TrackingConflict`) with nothing
  written, and that runner re-reads the position;
- the tracking row is written *first*: on PostgreSQL its row lock serialises two runners at once
  instead of after both did the work; on SQLite the transaction takes the write lock with its first
  statement, so it never has to upgrade a read lock (which fails at once in WAL mode).

**SQLite: a file of its own per view**, next to the ledger's (``tiexin.db`` →
``tiexin.view_history.db``). SQLite has one writer per file: a view committing pages in the
ledger's file would hold the lock that every command needs, and the other way round. The
library's SQLite tracking table is one fixed ``tracking`` table keyed by application name, so two
views in one file would share a row. A view's file can also be deleted to rebuild it. Nothing is
lost by the separation: the tracking row that vouches for a view's rows lives in the same file.

**PostgreSQL: tables in the ledger's database and schema**, named ``view_{name}_…`` with the
tracking table ``view_{name}_tracking``; one database is one thing to back up and operate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any, Generic, Protocol, TypeVar
from uuid import uuid4

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from ledger.settings import store_env


class Writer(Protocol):
    """What a projection writes a page through; ``flush`` sends what it has buffered."""

    def flush(self) -> None: ...


W = TypeVar("W", bound=Writer)


class TrackingConflict(Exception):
    """The view's position is not the one this page started from: another runner moved it."""


class PagedView(TrackingRecorder, ABC, Generic[W]):
    """A view that takes a page of events in one transaction with its tracking row."""

    view_name: str

    def position(self, application_name: str) -> int:
        """The last position of ``application_name``'s log applied to this view (0: none)."""
        return self.max_tracking_id(application_name) or 0

    @abstractmethod
    def page(self, application_name: str, start: int, end: int, *, commit: bool = True) -> Any:
        """A context manager: one transaction that moves tracking from ``start`` to ``end``
        (raising :class:`TrackingConflict` when it is not at ``start``), yields a writer for
        the rows, flushes it and commits (or, with ``commit=False``, always rolls back)."""

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Empty the view and forget its position, in one transaction (to rebuild from 0)."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteView(SQLiteTrackingRecorder, PagedView[W], ABC):
    """A view in a SQLite file of its own (see the module's docstring for why)."""

    def __init__(self, datastore: SQLiteDatastore, *, name: str) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need the library's single-row tracking")
        self.view_name = name
        super().__init__(datastore)

    def table(self, suffix: str) -> str:
        return f"view_{self.view_name}_{suffix}"

    @property
    @abstractmethod
    def view_tables(self) -> tuple[str, ...]: ...

    @abstractmethod
    def view_statements(self) -> list[str]:
        """The CREATE statements of the view's own tables (IF NOT EXISTS)."""

    @abstractmethod
    def writer(self, cursor: SQLiteCursor) -> W: ...

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_statements()]

    @contextmanager
    def page(self, application_name: str, start: int, end: int, *, commit: bool = True) -> Iterator[W]:
        with self.datastore.transaction(commit=commit) as cursor:
            if start:
                cursor.execute(
                    "UPDATE tracking SET notification_id = ? WHERE application_name = ? AND notification_id = ? "
                    "RETURNING notification_id",
                    (end, application_name, start),
                )
            else:
                cursor.execute(
                    "INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
                    "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id",
                    (application_name, end),
                )
            if cursor.fetchone() is None:
                raise TrackingConflict(f"view {self.view_name!r} is no longer at position {start}")
            writer = self.writer(cursor)
            yield writer
            writer.flush()

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
            for table in self.view_tables:
                cursor.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self.datastore.close()


class PostgresView(PostgresTrackingRecorder, PagedView[W], ABC):
    """A view's tables ``view_{name}_…`` in the ledger's PostgreSQL database and schema."""

    def __init__(self, datastore: PostgresDatastore, *, name: str) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need the library's single-row tracking")
        self.view_name = name
        super().__init__(datastore, tracking_table_name=f"view_{name}_tracking")
        self.sql_create_statements.extend(self.view_statements())
        tracking = self.qualified(self.tracking_table_name)
        self._advance = SQL(
            "UPDATE {0} SET notification_id = %s WHERE application_name = %s AND notification_id = %s "
            "RETURNING notification_id"
        ).format(tracking)
        self._first = SQL(
            "INSERT INTO {0} (application_name, notification_id) VALUES (%s, %s) "
            "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id"
        ).format(tracking)
        self._forget = SQL("DELETE FROM {0} WHERE application_name = %s").format(tracking)

    def qualified(self, table: str) -> Composed:
        self.check_identifier_length(table)
        return SQL("{0}.{1}").format(Identifier(self.datastore.schema), Identifier(table))

    def table(self, suffix: str) -> Composed:
        return self.qualified(f"view_{self.view_name}_{suffix}")

    @property
    @abstractmethod
    def view_tables(self) -> tuple[str, ...]:
        """The suffixes of the view's own tables."""

    @abstractmethod
    def view_statements(self) -> list[Composed]: ...

    @abstractmethod
    def writer(self, cursor: Any) -> W: ...

    @contextmanager
    def page(self, application_name: str, start: int, end: int, *, commit: bool = True) -> Iterator[W]:
        with self.datastore.transaction(commit=commit) as cursor:
            if start:
                cursor.execute(self._advance, (end, application_name, start))
            else:
                cursor.execute(self._first, (application_name, end))
            if cursor.fetchone() is None:
                raise TrackingConflict(f"view {self.view_name!r} is no longer at position {start}")
            writer = self.writer(cursor)
            yield writer
            writer.flush()

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._forget, (application_name,))
            for suffix in self.view_tables:
                cursor.execute(SQL("DELETE FROM {0}").format(self.table(suffix)))

    def close(self) -> None:
        self.datastore.close()


def sqlite_view_path(ledger_dbname: str, name: str) -> str:
    """The file of a view beside the ledger's (in memory if the ledger is)."""
    if ":memory:" in ledger_dbname or "mode=memory" in ledger_dbname:
        return f"file:tiexin_view_{name}_{uuid4().hex}?mode=memory&cache=shared"
    path = PurePath(ledger_dbname)
    return str(path.with_name(f"{path.stem}.view_{name}{path.suffix or '.db'}"))


V = TypeVar("V")


def open_view(url: str, name: str, sqlite_class: type[V], postgres_class: type[V]) -> V:
    """Open (creating its tables) the view ``name`` for the ledger at ``url``."""
    env = store_env(url)
    view: Any
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = sqlite_view_path(env["SQLITE_DBNAME"], name)
        view = sqlite_class(SQLiteDatastore(path, lock_timeout=int(env["SQLITE_LOCK_TIMEOUT"])), name=name)  # type: ignore[call-arg]
    else:
        datastore = PostgresDatastore(
            env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"], connect_timeout=float(env["POSTGRES_CONNECT_TIMEOUT"]), pool_size=1,
            max_overflow=4, lock_timeout=int(env["POSTGRES_LOCK_TIMEOUT"]), schema=env.get("POSTGRES_SCHEMA", ""),
        )  # fmt: skip
        view = postgres_class(datastore, name=name)  # type: ignore[call-arg]
    view.create_table()
    result: V = view
    return result
