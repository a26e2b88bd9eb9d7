"""Where the seals are kept and the log is read from: the ledger's own database, on SQLite or PostgreSQL.

:class:`SealStore` opens connections of its own to the ledger's database (the SQLite file itself,
or the PostgreSQL database and schema) and gives two kinds of transaction:

- :meth:`SealStore.reading`: one consistent snapshot (SQLite: a read transaction in WAL mode;
  PostgreSQL: ``REPEATABLE READ``), so that a verification or a proof sees the events, the
  leaves and the seals of one moment even while the ledger and the sealer write;
- :meth:`SealStore.writing`: the sealer's writes, one writer at a time across processes (SQLite:
  ``BEGIN IMMEDIATE`` takes the file's write lock first, so it never has to upgrade a read lock;
  PostgreSQL: a transaction-scoped advisory lock). The ledger's file keeps ``synchronous=FULL``:
  a seal must survive a power cut as surely as the events it covers.

The log is read with SQL of our own on the library's events table (the same rows its
``select_notifications`` reads: position, originator id, version, topic and state exactly as
stored), giving plain tuples: verification reads a million rows and makes no object per row it
need not. On SQLite the topic and state are read ``CAST … AS BLOB`` (a value written by hand as
text is read as its UTF-8 bytes) and the originator id is the text the library wrote; on
PostgreSQL the id comes as its 16 bytes (``uuid_send``) and the topic as UTF-8 bytes.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.sql import SQL, Composed, Identifier

from ledger.errors import ConfigurationError, StoreUnavailable
from ledger.settings import redact, store_env
from ledger.store import LedgerBase, store_errors_translated
from projections.seals import tables
from projections.storage import Dialect, Table

SQLITE_EVENTS = "stored_events"
"""The library's events table on SQLite (its ``SQLiteApplicationRecorder``'s default)."""
POSTGRES_EVENTS = f"{LedgerBase.name.lower()}_events"
"""The library's events table on PostgreSQL: the application's name, lower case, then ``_events``."""
ADVISORY_LOCK = 7354111
"""PostgreSQL's advisory lock of the sealer (api/tables.py uses 7354110 for its schema)."""

EventRow = tuple[int, Any, int, bytes, bytes]
"""position, originator id (16 bytes; on SQLite the stored text), version, topic (UTF-8), state."""


class Session:
    """One transaction on the seal store: run the seals' statements (templates) and read the log."""

    def __init__(self, store: SealStore, connection: Any) -> None:
        self.store = store
        self.connection = connection
        self.cursor = connection.cursor()
        self.dialect = store.dialect

    def rows(self, template: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(self.dialect.render(template), tuple(params))
        return [tuple(r) for r in self.cursor.fetchall()]

    def one(self, template: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.cursor.execute(self.dialect.render(template), tuple(params))
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    def scalar(self, template: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(template, params)
        return None if row is None else row[0]

    def write(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.dialect.write(self.cursor, self.dialect.insert(table), rows)

    def events(self, after: int, limit: int) -> list[EventRow]:
        """Up to ``limit`` events after position ``after``, in log order, as stored."""
        return self.store.read_events(self, after, limit)

    def head(self) -> int:
        """The log's last position (0: empty)."""
        return self.store.log_head(self)

    def scan(self, after: int, page: int) -> Generator[list[EventRow], None, None]:
        """Every event after position ``after``, a page at a time (on PostgreSQL the next page is
        asked for before this one is handed over, so the server reads it while this one is hashed)."""
        return self.store.scan(self, after, page)

    def tree_later(self, start: int, end: int) -> Callable[[], tuple[bytes, bytes]]:
        """Ask for the stored leaves ``[start, end)`` (:meth:`SealStore.stored_tree`) now; the answer when called."""
        return self.store.tree_later(self, start, end)

    def count_after(self, position: int) -> int:
        """How many events the log holds after ``position``."""
        return self.store.count_after(self, position)

    def lowest(self) -> int | None:
        """The log's first position (None: empty). Below 1 only by a hand's insertion: the library counts from 1."""
        return self.store.log_start(self)

    def event_at(self, position: int) -> EventRow | None:
        rows = self.store.read_events(self, position - 1, 1)
        return rows[0] if rows and rows[0][0] == position else None


class SealStore(ABC):
    """The seals' tables and the library's events table, in the ledger's database."""

    dialect: Dialect
    text_ids: bool
    """Whether the log's originator ids come as text (SQLite) rather than 16 bytes (PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.label = f"the store at {redact(url)}"

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction seeing one snapshot of the log, the leaves and the seals."""
        with store_errors_translated(self.label), self._reading() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, the only one of any sealer at a time; committed if the block succeeds."""
        with store_errors_translated(self.label), self._writing() as session:
            yield session

    def has_tables(self) -> bool:
        with self.reading() as session:
            return all(self._exists(session, name) for name in tables.NAMES)

    def create_tables(self) -> None:
        with self.writing() as session:
            for table in tables.TABLES:
                for statement in self.dialect.create(table):
                    session.cursor.execute(statement)

    @abstractmethod
    def _exists(self, session: Session, table: str) -> bool: ...

    @abstractmethod
    def _reading(self) -> Any: ...

    @abstractmethod
    def _writing(self) -> Any: ...

    @abstractmethod
    def read_events(self, session: Session, after: int, limit: int) -> list[EventRow]: ...

    @abstractmethod
    def log_head(self, session: Session) -> int: ...

    @abstractmethod
    def count_after(self, session: Session, position: int) -> int: ...

    @abstractmethod
    def log_start(self, session: Session) -> int | None: ...

    def scan(self, session: Session, after: int, page: int) -> Generator[list[EventRow], None, None]:
        while rows := self.read_events(session, after, page):
            yield rows
            after = rows[-1][0]

    def tree_later(self, session: Session, start: int, end: int) -> Callable[[], tuple[bytes, bytes]]:
        return lambda: self.stored_tree(session, start, end)

    @abstractmethod
    def stored_tree(self, session: Session, start: int, end: int) -> tuple[bytes, bytes]:
        """The leaf hashes of the leaves ``[start, end)`` in order, as one byte string, and their subtrees."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteSealStore(SealStore):
    """The ledger's SQLite file; a connection per thread, all closed together."""

    text_ids = True

    def __init__(self, url: str, path: str, lock_timeout: float) -> None:
        super().__init__(url)
        self.path = path
        self.lock_timeout = lock_timeout
        self.dialect = tables.dialects(None)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._events = (
            "SELECT rowid, originator_id, originator_version, COALESCE(CAST(topic AS BLOB), X''), "
            f"COALESCE(CAST(state AS BLOB), X'') FROM \"{SQLITE_EVENTS}\" WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield Session(self, conn)
        finally:
            conn.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Session(self, conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _exists(self, session: Session, table: str) -> bool:
        session.cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return session.cursor.fetchone() is not None

    def read_events(self, session: Session, after: int, limit: int) -> list[EventRow]:
        session.cursor.execute(self._events, (after, limit))
        rows: list[EventRow] = session.cursor.fetchall()
        return rows

    def log_head(self, session: Session) -> int:
        session.cursor.execute(f'SELECT MAX(rowid) FROM "{SQLITE_EVENTS}"')
        row = session.cursor.fetchone()
        return int(row[0] or 0)

    def count_after(self, session: Session, position: int) -> int:
        session.cursor.execute(f'SELECT COUNT(*) FROM "{SQLITE_EVENTS}" WHERE rowid > ?', (position,))
        return int(session.cursor.fetchone()[0])

    def log_start(self, session: Session) -> int | None:
        session.cursor.execute(f'SELECT MIN(rowid) FROM "{SQLITE_EVENTS}"')
        found = session.cursor.fetchone()[0]
        return None if found is None else int(found)

    def stored_tree(self, session: Session, start: int, end: int) -> tuple[bytes, bytes]:
        session.cursor.execute(
            "SELECT leaf_hash, subtrees FROM seal_leaves WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
            (start, end),
        )
        rows = session.cursor.fetchall()
        return b"".join(row[0] for row in rows), b"".join(row[1] for row in rows)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class PostgresSealStore(SealStore):
    """The ledger's PostgreSQL database and schema, through a small pool of connections."""

    text_ids = False

    def __init__(self, url: str, env: dict[str, str]) -> None:
        super().__init__(url)
        from psycopg_pool import ConnectionPool

        self.schema = env.get("POSTGRES_SCHEMA") or "public"
        self.dialect = tables.dialects(self.schema)
        events = SQL("{}.{}").format(Identifier(self.schema), Identifier(POSTGRES_EVENTS))
        self._events: Composed = SQL(
            "SELECT notification_id, uuid_send(originator_id), originator_version, "
            "COALESCE(convert_to(topic, 'UTF8'), ''::bytea), COALESCE(state, ''::bytea) "
            "FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(events)
        self._head: Composed = SQL("SELECT MAX(notification_id) FROM {}").format(events)
        self._count: Composed = SQL("SELECT COUNT(*) FROM {} WHERE notification_id > %s").format(events)
        self._start: Composed = SQL("SELECT MIN(notification_id) FROM {}").format(events)
        self._tree: Composed = SQL(
            "SELECT string_agg(leaf_hash, ''::bytea ORDER BY leaf_index), "
            "string_agg(subtrees, ''::bytea ORDER BY leaf_index) FROM {} WHERE leaf_index >= %s AND leaf_index < %s"
        ).format(SQL("{}.{}").format(Identifier(self.schema), Identifier(tables.LEAVES.suffix)))
        self.pool = ConnectionPool(
            kwargs={
                "host": env["POSTGRES_HOST"], "port": int(env["POSTGRES_PORT"]), "dbname": env["POSTGRES_DBNAME"],
                "user": env["POSTGRES_USER"], "password": env["POSTGRES_PASSWORD"],
                "connect_timeout": int(env["POSTGRES_CONNECT_TIMEOUT"]),
            },
            min_size=0, max_size=4, timeout=float(env["POSTGRES_CONNECT_TIMEOUT"]), name="tiexin-seals", open=True,
        )  # fmt: skip

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self.pool.connection() as conn, conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Session(self, conn)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
            yield Session(self, conn)

    def _exists(self, session: Session, table: str) -> bool:
        session.cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}"."{table}"',))
        row = session.cursor.fetchone()
        return bool(row and row[0])

    def read_events(self, session: Session, after: int, limit: int) -> list[EventRow]:
        with session.connection.cursor(binary=True) as cursor:
            cursor.execute(self._events, (after, limit))
            rows: list[EventRow] = cursor.fetchall()
        return rows

    def log_head(self, session: Session) -> int:
        session.cursor.execute(self._head)
        row = session.cursor.fetchone()
        return int(row[0] or 0)

    def count_after(self, session: Session, position: int) -> int:
        session.cursor.execute(self._count, (position,))
        return int(session.cursor.fetchone()[0])

    def log_start(self, session: Session) -> int | None:
        session.cursor.execute(self._start)
        found = session.cursor.fetchone()[0]
        return None if found is None else int(found)

    def scan(self, session: Session, after: int, page: int) -> Generator[list[EventRow], None, None]:
        """Pipelined: each page's query is sent before the previous page is handed over."""
        conn = session.connection
        with conn.pipeline():
            cursor = conn.cursor(binary=True)
            cursor.execute(self._events, (after, page))
            while True:
                rows: list[EventRow] = cursor.fetchall()
                if not rows:
                    return
                cursor = conn.cursor(binary=True)
                cursor.execute(self._events, (rows[-1][0], page))
                yield rows

    def tree_later(self, session: Session, start: int, end: int) -> Callable[[], tuple[bytes, bytes]]:
        cursor = session.connection.cursor(binary=True)
        cursor.execute(self._tree, (start, end))
        return lambda: _joined(cursor.fetchone())

    def stored_tree(self, session: Session, start: int, end: int) -> tuple[bytes, bytes]:
        """Joined by the server (two values per page: the client only compares them)."""
        with session.connection.cursor(binary=True) as cursor:
            cursor.execute(self._tree, (start, end))
            return _joined(cursor.fetchone())

    def close(self) -> None:
        self.pool.close()


def _joined(row: Any) -> tuple[bytes, bytes]:
    if not row:
        return b"", b""
    return bytes(row[0] or b""), bytes(row[1] or b"")


def open_store(url: str, *, create: bool = True) -> SealStore:
    """The seal store of the ledger at ``url`` (its tables made if ``create``).

    A SQLite ledger must exist (a seal store never creates an empty ledger); an in-memory one
    cannot be sealed.
    """
    env = store_env(url)
    store: SealStore
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = env["SQLITE_DBNAME"]
        if ":memory:" in path or "mode=memory" in path:
            raise ConfigurationError("a ledger in memory cannot be sealed: use a SQLite file or PostgreSQL")
        if not Path(path).is_file():
            raise StoreUnavailable(f"there is no ledger at {redact(url)} (no such file)")
        store = SQLiteSealStore(url, path, float(env["SQLITE_LOCK_TIMEOUT"]))
    else:
        with store_errors_translated(f"the store at {redact(url)}"):
            store = PostgresSealStore(url, env)
    try:
        if create:
            store.create_tables()
    except BaseException:
        store.close()
        raise
    return store
