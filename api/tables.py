"""The API's own tables beside the ledger: its keys and its idempotency records.

- **SQLite**: a sibling file (``tiexin.db`` → ``tiexin.api.db``), like the read models' views.
  SQLite has one writer per file, and an idempotent POST writes here twice (reserve, complete):
  in the ledger's file those writes would queue behind, and hold up, the ledger's own commits.
  WAL with ``synchronous=FULL``, as the ledger: a reservation must survive a power cut as surely
  as the event it guards (see :mod:`api.idempotency`).
- **PostgreSQL**: tables ``api_keys`` and ``api_idempotency`` in the ledger's database and schema.

Every statement here is a single statement in autocommit, so each is atomic on its own; a driver
error becomes :class:`StoreUnavailable` (503), a unique violation :class:`Duplicate`.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

from psycopg.errors import UniqueViolation

from ledger.settings import LIBPQ_BOUNDS, RECONNECT_TIMEOUT_S, store_env
from ledger.store import store_errors_translated

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS {api_keys} (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        volunteer_id TEXT,
        key_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS {api_idempotency} (
        principal_id TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        reserved_at DOUBLE PRECISION NOT NULL,
        log_position BIGINT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT,
        headers TEXT,
        PRIMARY KEY (principal_id, idempotency_key)
    )""",
]
TABLES = ("api_keys", "api_idempotency")


class Duplicate(Exception):
    """A row with the same unique key is already there."""


class Tables(ABC):
    """Run single statements (``?`` placeholders, ``{table}`` names) on the API's tables."""

    label = "the API's key and idempotency store"
    unique_violation: type[BaseException] = Duplicate
    """The driver's error for a unique violation (each store names its own)."""

    def __init__(self) -> None:
        self.names = {table: self.qualify(table) for table in TABLES}

    def sql(self, statement: str) -> str:
        return statement.format(**self.names)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; answer how many rows it changed."""
        try:
            with self._translated(), self._cursor() as cursor:
                cursor.execute(self._dialect(self.sql(statement)), params)
                return int(cursor.rowcount)
        except self.unique_violation:
            raise Duplicate from None

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._translated(), self._cursor() as cursor:
            cursor.execute(self._dialect(self.sql(statement)), params)
            return list(cursor.fetchall())

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Storage errors become StoreUnavailable, except a unique violation (see :meth:`execute`)."""
        try:
            yield
        except self.unique_violation:
            raise
        except Exception:
            with store_errors_translated(self.label):
                raise

    @abstractmethod
    def qualify(self, table: str) -> str: ...

    @abstractmethod
    def _dialect(self, statement: str) -> str: ...

    @abstractmethod
    def _cursor(self) -> Any: ...

    @abstractmethod
    def ensure_schema(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


def open_tables(url: str) -> Tables:
    """The API's tables for the ledger's store at ``url`` (created if missing)."""
    env = store_env(url)
    tables: Tables
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        tables = SQLiteTables(sibling_path(env["SQLITE_DBNAME"]))
    else:
        tables = PostgresTables(env)
    try:
        tables.ensure_schema()
    except BaseException:
        tables.close()
        raise
    return tables


def sibling_path(ledger_dbname: str) -> str:
    """``tiexin.db`` → ``tiexin.api.db``; an in-memory ledger gets a shared in-memory database."""
    if ledger_dbname == ":memory:" or "mode=memory" in ledger_dbname:
        return f"file:tiexin-api-{uuid.uuid4().hex}?mode=memory&cache=shared"
    path = PurePath(ledger_dbname)
    return str(path.with_name(f"{path.stem}.api{path.suffix or '.db'}"))


class SQLiteTables(Tables):
    """One connection per thread (the API's thread pool), all closed together."""

    unique_violation = sqlite3.IntegrityError

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._keepalive = self._connect() if path.startswith("file:") else None

    def qualify(self, table: str) -> str:
        return table

    def _dialect(self, statement: str) -> str:
        return statement

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False, uri=self.path.startswith("file:")
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        cursor = conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def ensure_schema(self) -> None:
        for statement in SCHEMA:
            self.execute(statement)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class PostgresTables(Tables):
    """A small connection pool in autocommit; tables in the ledger's schema."""

    unique_violation = UniqueViolation

    def __init__(self, env: dict[str, str]) -> None:
        self.schema = env.get("POSTGRES_SCHEMA") or None
        super().__init__()
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(
            kwargs={
                "host": env["POSTGRES_HOST"],
                "port": int(env["POSTGRES_PORT"]),
                "dbname": env["POSTGRES_DBNAME"],
                "user": env["POSTGRES_USER"],
                "password": env["POSTGRES_PASSWORD"],
                **LIBPQ_BOUNDS,  # every wait bounded (ledger.settings)
                "autocommit": True,
            },
            min_size=1,
            max_size=int(env.get("POSTGRES_POOL_SIZE", "5")) + int(env.get("POSTGRES_MAX_OVERFLOW", "0")),
            timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name="tiexin-api",
            open=True,
        )

    def qualify(self, table: str) -> str:
        name = quote(table)
        return f"{quote(self.schema)}.{name}" if self.schema else name

    def _dialect(self, statement: str) -> str:
        return statement.replace("?", "%s")

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            yield cursor

    def ensure_schema(self) -> None:
        """Create the tables under an advisory lock, so workers starting together do not collide."""
        with self._translated(), self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(7354110)")
            for statement in SCHEMA:
                conn.execute(self.sql(statement))

    def close(self) -> None:
        self.pool.close()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
