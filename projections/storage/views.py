"""Where a read model keeps its rows: a view per projection, on SQLite or on PostgreSQL.

A view is the library's own tracking recorder (:class:`SQLiteTrackingRecorder`,
:class:`PostgresTrackingRecorder`) with the read model's tables beside its tracking table. Basing
views on them, rather than on recorders of our own, keeps the library's tracking schema and its
migration, ``max_tracking_id``, ``has_tracking_id`` and ``wait`` (what ``?after=POSITION`` needs),
and lets the library's stock ``ProjectionRunner`` drive the same view when a benchmark compares it.

A read model writes **one** view class, store-agnostic: a subclass of :class:`PagedView` that
declares its ``tables`` (:mod:`projections.storage.tables`), makes the writer a page writes through
and answers its queries through ``self.dialect`` and :meth:`PagedView.read`. :func:`open_view`
pairs it with the store's base (:class:`SQLiteView` or :class:`PostgresView`), which creates the
tables, moves the tracking row and keeps the runner's status.

What we add to the library's recorders is :meth:`PagedView.page`: **one** transaction that first
moves the tracking row by compare-and-set, from exactly the position the runner started the page at
to the page's last position, then lets the projection write the page's rows, and commits both
together. So:

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

**Runner status, beside the tracking table** (``view_{name}_runner_status``, one row per
application): what the runner feeding the view last said — running, caught up, retrying (why),
stopped (at which event, why), offline — with when it changed and a heartbeat, so another process
(``tiexin projections status``, ``/readyz``) can tell a live projection from a stale one. The
runner writes it in short transactions of its own, only when its state changes or a heartbeat is
due; the view's position is never taken from it (the tracking row is the truth). The suffixes
``tracking`` and ``runner_status`` are reserved: a read model names its own tables otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from pathlib import PurePath
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast
from uuid import uuid4

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore, SQLiteTrackingRecorder

from ledger.settings import bound_pool, store_env
from ledger.store import LedgerBase
from projections.storage.dialect import Dialect, PostgresDialect, SQLiteDialect
from projections.storage.tables import Kind, Table, columns, nullable
from projections.storage.types import Cursor


class Writer(Protocol):
    """What a projection writes a page through; ``flush`` sends what it has buffered."""

    def flush(self) -> None: ...


W = TypeVar("W", bound=Writer)


class TrackingConflict(Exception):
    """The view's position is not the one this page started from: another runner moved it."""


@dataclass(frozen=True)
class SavedStatus:
    """A runner's status as it saved it in its view, for other processes to read."""

    status: str
    position: int
    """The view's position when the status was written (the tracking row is the truth)."""
    reason: str | None
    failure_position: int | None
    failure_topic: str | None
    failure_entity: str | None
    failure_version: int | None
    changed_at: datetime
    """When the runner entered this status."""
    seen_at: datetime
    """The runner's last heartbeat (or change)."""
    heartbeat: float
    """Seconds between the runner's heartbeats: a row not seen for a few of them is stale."""
    owner: str
    """Which process wrote it (``host:pid``)."""


STATUS = Table(
    "runner_status",
    columns(
        ("application_name", Kind.TEXT), ("status", Kind.TEXT), ("position", Kind.INT), nullable("reason", Kind.TEXT),
        nullable("failure_position", Kind.INT), nullable("failure_topic", Kind.TEXT),
        nullable("failure_entity", Kind.TEXT), nullable("failure_version", Kind.INT), ("changed_at", Kind.INSTANT),
        ("seen_at", Kind.INSTANT), ("heartbeat", Kind.REAL), ("owner", Kind.TEXT),
    ),
    key=("application_name",),
    compact=False,
)  # fmt: skip
"""The runner's status, one row per application (the suffix is reserved, like ``tracking``)."""
STATUS_COLUMNS = tuple(f.name for f in fields(SavedStatus))

ADVANCE = (
    "UPDATE {tracking} SET notification_id = ? WHERE application_name = ? AND notification_id = ? "
    "RETURNING notification_id"
)
FIRST = (
    "INSERT INTO {tracking} (application_name, notification_id) VALUES (?, ?) "
    "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id"
)
FORGET = "DELETE FROM {tracking} WHERE application_name = ?"
POSITION = "SELECT notification_id FROM {tracking} WHERE application_name = ?"


class PagedView(TrackingRecorder, ABC, Generic[W]):
    """A read model's view: its tables, and a page of events in one transaction with its tracking row.

    A read model subclasses this once, declaring ``tables`` and defining :meth:`writer` and its
    queries; :func:`open_view` gives it its store.
    """

    tables: ClassVar[tuple[Table, ...]] = ()
    """The read model's own tables (the tracking and status tables are the view's)."""
    application_name: ClassVar[str] = LedgerBase.name
    """Whose log the view follows: an answer's position is of it."""
    view_name: str
    dialect: Dialect
    datastore: Any

    @abstractmethod
    def writer(self, cursor: Cursor) -> W:
        """What a page's events write their rows through, in the page's transaction."""

    def position(self, application_name: str) -> int:
        """The last position of ``application_name``'s log applied to this view (0: none)."""
        return self.max_tracking_id(application_name) or 0

    def read(self, *queries: tuple[str, Sequence[Any]]) -> tuple[int, list[list[Any]]]:
        """The view's position and the rows of each ``(template, params)``, seen in one snapshot.

        So an answer's position is exactly the log position its rows reflect.
        """
        with self.datastore.transaction(commit=False) as cursor:
            if self.dialect.snapshot:
                cursor.execute(self.dialect.snapshot)
            cursor.execute(self.dialect.render(POSITION), (self.application_name,))
            found = cursor.fetchone()
            results = []
            for template, params in queries:
                cursor.execute(self.dialect.render(template), tuple(params))
                results.append(list(cursor.fetchall()))
        return (found["notification_id"] if found else 0), results

    @contextmanager
    def page(self, application_name: str, start: int, end: int, *, commit: bool = True) -> Iterator[W]:
        """One transaction that moves tracking from ``start`` to ``end`` (raising :class:`TrackingConflict`
        when it is not at ``start``), yields a writer for the rows, flushes it and commits (or, with
        ``commit=False``, always rolls back)."""
        with self.datastore.transaction(commit=commit) as cursor:
            if start:
                cursor.execute(self.dialect.render(ADVANCE), (end, application_name, start))
            else:
                cursor.execute(self.dialect.render(FIRST), (application_name, end))
            if cursor.fetchone() is None:
                raise TrackingConflict(f"view {self.view_name!r} is no longer at position {start}")
            writer = self.writer(cursor)
            yield writer
            writer.flush()

    def reset(self, application_name: str) -> None:
        """Empty the view and forget its position, in one transaction (to rebuild from 0)."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.dialect.render(FORGET), (application_name,))
            for table in self.tables:
                cursor.execute(self.dialect.truncate(table))

    def save_status(self, application_name: str, status: SavedStatus) -> None:
        """Write the runner's status for ``application_name`` in a short transaction of its own."""
        row = self.dialect.row(STATUS, (application_name, *(getattr(status, c) for c in STATUS_COLUMNS)))
        with self.datastore.transaction(commit=True) as cursor:
            self.dialect.write(cursor, self.dialect.upsert(STATUS), [row])

    def saved_status(self, application_name: str) -> SavedStatus | None:
        """The runner's status as last saved (None: no runner ever saved one)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.dialect.select(STATUS, "application_name = ?"), (application_name,))
            row = cursor.fetchone()
        if row is None:
            return None
        found = self.dialect.decode_row(row, STATUS.kinds)
        del found["application_name"]
        return SavedStatus(**found)

    def contents(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the view's own tables, by table suffix, in a canonical order.

        To compare two views of one kind on one store (a rebuilt view with a live one); the
        tracking and status tables are not included.
        """
        found = {}
        with self.datastore.transaction(commit=False) as cursor:
            for table in self.tables:
                cursor.execute(self.dialect.render(f"SELECT * FROM {{{table.suffix}}}"))
                found[table.suffix] = _canonical([self.dialect.values(r) for r in cursor.fetchall()])
        return found

    def create_statements(self) -> list[Any]:
        """The DDL of the status table and the read model's tables."""
        return [s for table in (STATUS, *self.tables) for s in self.dialect.create(table)]

    def close(self) -> None:
        self.datastore.close()


class SQLiteView(SQLiteTrackingRecorder, PagedView[W], ABC):
    """A view in a SQLite file of its own (see the module's docstring for why)."""

    def __init__(self, datastore: SQLiteDatastore, *, name: str) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need the library's single-row tracking")
        self.view_name = name
        self.dialect = SQLiteDialect(name, (STATUS, *self.tables))
        super().__init__(datastore)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.create_statements()]


class PostgresView(PostgresTrackingRecorder, PagedView[W], ABC):
    """A view's tables ``view_{name}_…`` in the ledger's PostgreSQL database and schema."""

    def __init__(self, datastore: PostgresDatastore, *, name: str) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need the library's single-row tracking")
        self.view_name = name
        self.dialect = PostgresDialect(name, (STATUS, *self.tables), datastore.schema)
        super().__init__(datastore, tracking_table_name=self.dialect.full_name("tracking"))
        self.sql_create_statements.extend(self.create_statements())


def _canonical(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in an order that does not depend on how the store returned them."""
    return sorted(rows, key=lambda row: [(value is None, type(value).__name__, str(value)) for value in row])


def sqlite_view_path(ledger_dbname: str, name: str) -> str:
    """The file of a view beside the ledger's (in memory if the ledger is)."""
    if ":memory:" in ledger_dbname or "mode=memory" in ledger_dbname:
        return f"file:tiexin_view_{name}_{uuid4().hex}?mode=memory&cache=shared"
    path = PurePath(ledger_dbname)
    return str(path.with_name(f"{path.stem}.view_{name}{path.suffix or '.db'}"))


class ViewConnectionPool(SQLiteConnectionPool):
    """Connections to a view's file that sync its write-ahead log at checkpoints, not at each commit.

    A view is derived from the ledger and its tracking row commits with its rows, so with
    ``synchronous=NORMAL`` (in WAL mode) a crash of the process loses nothing, and a power cut can
    only lose the last pages *and* their tracking row together: the runner applies them again from
    the log, exactly once. The ledger's own file keeps the library's full sync on every commit.
    """

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA synchronous=NORMAL")
        return connection


def view_datastore(path: str, lock_timeout: int) -> SQLiteDatastore:
    datastore = SQLiteDatastore(path, lock_timeout=lock_timeout)
    datastore.pool = ViewConnectionPool(db_name=path, lock_timeout=lock_timeout)
    return datastore


V = TypeVar("V", bound=PagedView[Any])


@cache
def on_store(view_class: type[PagedView[Any]], base: type[PagedView[Any]]) -> type[PagedView[Any]]:
    """The read model's view class on one store: ``SQLiteRosterView`` is ``RosterView`` on ``SQLiteView``."""
    prefix = "SQLite" if base is SQLiteView else "Postgres"
    return type(f"{prefix}{view_class.__name__}", (base, view_class), {"__module__": view_class.__module__})


def open_view(url: str, name: str, view_class: Callable[..., V]) -> V:
    """Open (creating its tables) the view ``name`` of class ``view_class`` for the ledger at ``url``."""
    env = store_env(url)
    view: Any
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = sqlite_view_path(env["SQLITE_DBNAME"], name)
        view = on_store(cast(type[PagedView[Any]], view_class), SQLiteView)(
            view_datastore(path, int(env["SQLITE_LOCK_TIMEOUT"])), name=name
        )  # type: ignore[call-arg]
    else:
        datastore = PostgresDatastore(
            env["POSTGRES_DBNAME"], env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"], connect_timeout=float(env["POSTGRES_CONNECT_TIMEOUT"]), pool_size=1,
            max_overflow=4, lock_timeout=int(env["POSTGRES_LOCK_TIMEOUT"]), schema=env.get("POSTGRES_SCHEMA", ""),
        )  # fmt: skip
        bound_pool(datastore.pool)  # every wait bounded, reconnection prompt (ledger.settings)
        view = on_store(cast(type[PagedView[Any]], view_class), PostgresView)(datastore, name=name)  # type: ignore[call-arg]
    view.create_table()
    return cast(V, view)


def is_postgres(view: PagedView[Any]) -> bool:
    return isinstance(view.dialect, PostgresDialect)
