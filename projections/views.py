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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, Generic, Protocol, TypeVar
from uuid import uuid4

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
)
from psycopg.sql import SQL, Composed, Identifier

from ledger.settings import store_env


class Writer(Protocol):
    """What a projection writes a page through; ``flush`` sends what it has buffered."""

    def flush(self) -> None: ...


W = TypeVar("W", bound=Writer)


class TrackingConflict(Exception):
    """The view's position is not the one this page started from: another runner moved it."""


STATUS_SUFFIX = "runner_status"
"""The suffix of the table that keeps a view's runner status (reserved, like ``tracking``)."""


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


STATUS_COLUMNS = tuple(SavedStatus.__dataclass_fields__)


class PagedView(TrackingRecorder, ABC, Generic[W]):
    """A view that takes a page of events in one transaction with its tracking row."""

    view_name: str

    def position(self, application_name: str) -> int:
        """The last position of ``application_name``'s log applied to this view (0: none)."""
        return self.max_tracking_id(application_name) or 0

    @abstractmethod
    def save_status(self, application_name: str, status: SavedStatus) -> None:
        """Write the runner's status for ``application_name`` in a short transaction of its own."""

    @abstractmethod
    def saved_status(self, application_name: str) -> SavedStatus | None:
        """The runner's status as last saved (None: no runner ever saved one)."""

    @abstractmethod
    def contents(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the view's own tables, by table suffix, in a canonical order.

        To compare two views of one kind on one store (a rebuilt view with a live one); the
        tracking and status tables are not included.
        """

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
        return [*super().construct_create_table_statements(), self._status_statement(), *self.view_statements()]

    def _status_statement(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table(STATUS_SUFFIX)} (application_name TEXT PRIMARY KEY, "
            "status TEXT NOT NULL, position INTEGER NOT NULL, reason TEXT, failure_position INTEGER, "
            "failure_topic TEXT, failure_entity TEXT, failure_version INTEGER, changed_at TEXT NOT NULL, "
            "seen_at TEXT NOT NULL, heartbeat REAL NOT NULL, owner TEXT NOT NULL)"
        )

    def save_status(self, application_name: str, status: SavedStatus) -> None:
        values = [getattr(status, c) for c in STATUS_COLUMNS]
        values[STATUS_COLUMNS.index("changed_at")] = _instant_text(status.changed_at)
        values[STATUS_COLUMNS.index("seen_at")] = _instant_text(status.seen_at)
        columns = ", ".join(STATUS_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in STATUS_COLUMNS)
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self.table(STATUS_SUFFIX)} (application_name, {columns}) "
                f"VALUES (?, {', '.join('?' * len(STATUS_COLUMNS))}) "
                f"ON CONFLICT (application_name) DO UPDATE SET {updates}",
                (application_name, *values),
            )

    def saved_status(self, application_name: str) -> SavedStatus | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT {', '.join(STATUS_COLUMNS)} FROM {self.table(STATUS_SUFFIX)} WHERE application_name = ?",
                (application_name,),
            )
            row = cursor.fetchone()
        if row is None:
            return None
        found = dict(zip(STATUS_COLUMNS, tuple(row), strict=True))
        found["changed_at"] = datetime.fromisoformat(found["changed_at"])
        found["seen_at"] = datetime.fromisoformat(found["seen_at"])
        return SavedStatus(**found)

    def contents(self) -> dict[str, list[tuple[Any, ...]]]:
        found = {}
        prefix = f"view_{self.view_name}_"
        with self.datastore.transaction(commit=False) as cursor:
            for table in self.view_tables:
                cursor.execute(f"SELECT * FROM {table}")
                found[table.removeprefix(prefix)] = _canonical([tuple(r) for r in cursor.fetchall()])
        return found

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
        status = self.table(STATUS_SUFFIX)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (application_name text PRIMARY KEY, status text NOT NULL, "
                "position bigint NOT NULL, reason text, failure_position bigint, failure_topic text, "
                "failure_entity text, failure_version bigint, changed_at timestamptz NOT NULL, "
                "seen_at timestamptz NOT NULL, heartbeat double precision NOT NULL, owner text NOT NULL)"
            ).format(status)
        )
        self.sql_create_statements.extend(self.view_statements())
        columns = SQL(", ").join(Identifier(c) for c in STATUS_COLUMNS)
        self._save_status = SQL(
            "INSERT INTO {0} (application_name, {1}) VALUES (%s, {2}) ON CONFLICT (application_name) DO UPDATE SET {3}"
        ).format(
            status,
            columns,
            SQL(", ").join(SQL("%s") for _ in STATUS_COLUMNS),
            SQL(", ").join(SQL("{0} = excluded.{0}").format(Identifier(c)) for c in STATUS_COLUMNS),
        )
        self._saved_status = SQL("SELECT {0} FROM {1} WHERE application_name = %s").format(columns, status)
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
            for suffix in self.view_tables:  # TRUNCATE leaves no dead rows behind to slow the rebuild
                cursor.execute(SQL("TRUNCATE {0}").format(self.table(suffix)))

    def save_status(self, application_name: str, status: SavedStatus) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._save_status, (application_name, *(getattr(status, c) for c in STATUS_COLUMNS)))

    def saved_status(self, application_name: str) -> SavedStatus | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._saved_status, (application_name,))
            row = cursor.fetchone()
        if row is None:
            return None
        found = dict(row)
        found["changed_at"] = found["changed_at"].astimezone(UTC)
        found["seen_at"] = found["seen_at"].astimezone(UTC)
        return SavedStatus(**found)

    def contents(self) -> dict[str, list[tuple[Any, ...]]]:
        found = {}
        with self.datastore.transaction(commit=False) as cursor:
            for suffix in self.view_tables:
                cursor.execute(SQL("SELECT * FROM {0}").format(self.table(suffix)))
                found[suffix] = _canonical([tuple(r.values()) for r in cursor.fetchall()])
        return found

    def close(self) -> None:
        self.datastore.close()


def _instant_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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


V = TypeVar("V")


def open_view(url: str, name: str, sqlite_class: type[V], postgres_class: type[V]) -> V:
    """Open (creating its tables) the view ``name`` for the ledger at ``url``."""
    env = store_env(url)
    view: Any
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = sqlite_view_path(env["SQLITE_DBNAME"], name)
        view = sqlite_class(view_datastore(path, int(env["SQLITE_LOCK_TIMEOUT"])), name=name)  # type: ignore[call-arg]
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
