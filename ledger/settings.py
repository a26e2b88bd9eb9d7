"""A database URL as the eventsourcing library's settings, and as it may be shown.

The URL is ``sqlite:///path.db`` or ``postgresql://user[:password]@host[:port]/db[?schema=name]``;
everything else the library needs is derived here. This module reads no environment: the
composition root (:mod:`tiexin.settings`) reads ``TIEXIN_DATABASE_URL`` and hands the URL in.

**Every wait on PostgreSQL is bounded**, so a store that is down, or a host that swallows packets,
is told within seconds and a store that comes back is used again within seconds:

- a request waits at most ``POSTGRES_CONNECT_TIMEOUT`` (:data:`POOL_TIMEOUT_S`) for a connection
  from the pool, then fails (503), once. The library's recorders retry a failed statement up to
  ten times (0.2 s apart) and took the pool's timeout for a failed statement, so a request that
  found no connection waited ten timeouts (about 52 s): :func:`bound_store` lets the pool's own
  ``psycopg_pool.PoolTimeout`` through, which they do not retry (a statement that failed on a
  lost connection is still retried, on another connection);
- a new connection gives up after :data:`LIBPQ_BOUNDS` ``connect_timeout`` (2 s, libpq's least);
  an established one whose server stopped answering is dropped by the kernel within seconds
  (TCP keepalives for idle ones, ``tcp_user_timeout`` for unacknowledged writes);
- the pool (psycopg_pool) retries a lost connection with exponential backoff (1, 2, 4 … s) for
  ``reconnect_timeout``, 5 minutes by default: a server back after a minute waited up to another
  minute for the next retry. :data:`RECONNECT_TIMEOUT_S` ends such a retry after 2 s; the next
  request that finds no connection starts a new attempt at once.

The library builds its pools from the settings it reads (``POSTGRES_*``) and takes neither the
connection parameters nor the reconnection window: :func:`bound_pool` sets them on a pool it made
(before it connects, where the caller can; otherwise for every connection made afterwards), and
:func:`bound_store` also keeps an application's datastore from having its pool waits retried.
Dead idle connections are dropped by the API's pool watch (:mod:`api.faults`), not by the
library's ``POSTGRES_PRE_PING``: that checks a connection on every request, and psycopg_pool, on
finding one dead, sleeps a second (then two, four…) before trying the next, so after an outage a
pool of dead connections made the first request wait out its whole timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.errors import ConfigurationError


def store_env(url: str) -> dict[str, str]:
    """The eventsourcing library's settings for a database URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return sqlite_env(url, parts.netloc, parts.path)
    if parts.scheme in ("postgresql", "postgres"):
        return postgres_env(parts.hostname, parts.port, parts.username, parts.password, parts.path, parts.query)
    raise ConfigurationError(
        f"unsupported TIEXIN_DATABASE_URL {redact(url)!r}: use sqlite:///path.db or postgresql://user@host:port/db"
    )


def sqlite_env(url: str, netloc: str, path: str) -> dict[str, str]:
    if netloc or not path or path == "/":
        raise ConfigurationError(f"a SQLite URL names a file: sqlite:///relative.db or sqlite:////abs.db, not {url!r}")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": unquote(path[1:]),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def postgres_env(
    host: str | None, port: int | None, user: str | None, password: str | None, path: str, query: str
) -> dict[str, str]:
    dbname = unquote(path.lstrip("/"))
    if not host or not dbname:
        raise ConfigurationError("a PostgreSQL URL needs a host and a database: postgresql://user@host:5432/db")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_USER": unquote(user or "postgres"),
        "POSTGRES_PASSWORD": unquote(password or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(POOL_TIMEOUT_S),  # the library's name for the pool's wait
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
    }
    schema = parse_qs(query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


POOL_TIMEOUT_S = 5
"""How long a request waits for a connection from a pool before it fails (503)."""
LIBPQ_BOUNDS: dict[str, int] = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
}
"""Connection parameters (libpq) bounding each PostgreSQL connection: give up connecting after 2 s;
drop an idle connection whose server is gone after about 9 s (keepalives), one whose sent data
goes unacknowledged after 5 s (``tcp_user_timeout``, ms). A slow query is not cut short."""
RECONNECT_TIMEOUT_S = 2.0
"""How long a pool keeps retrying a lost connection before it gives up (psycopg_pool's
``reconnect_timeout``); a request finding no connection then starts a new attempt at once."""


def _is_psycopg_pool(pool: Any) -> bool:
    """Told by duck typing: the ledger imports no database driver (``tests/unit/test_layers.py``)."""
    return isinstance(getattr(pool, "kwargs", None), dict) and hasattr(pool, "reconnect_timeout")


def bound_pool(pool: Any) -> None:
    """Bound a psycopg pool's connections and reconnections (:data:`LIBPQ_BOUNDS`,
    :data:`RECONNECT_TIMEOUT_S`); anything else (a SQLite pool, None) is left as it is."""
    if not _is_psycopg_pool(pool):
        return
    pool.kwargs.update(LIBPQ_BOUNDS)
    pool.reconnect_timeout = RECONNECT_TIMEOUT_S


def bound_store(app: Any) -> None:
    """:func:`bound_pool` on the pool of an application's (or a recorder's) PostgreSQL datastore,
    and :func:`wait_once` on the datastore."""
    recorder = getattr(app, "recorder", app)
    datastore = getattr(recorder, "datastore", None)
    pool = getattr(datastore, "pool", None)
    bound_pool(pool)
    if _is_psycopg_pool(pool):
        wait_once(datastore)


def wait_once(datastore: Any) -> None:
    """A PostgreSQL datastore whose connections let a pool timeout through as the pool raised it.

    The library's ``get_connection`` turns the pool's ``PoolTimeout`` into its own
    ``OperationalError``, which its recorders' ``@retry`` (ten attempts) takes for a failed
    statement: each attempt waited the pool's whole timeout again. The pool has waited its bound
    already; ``PoolTimeout`` (a ``psycopg.OperationalError``, not the library's) is not retried, and
    is still a store failure to whoever catches one (503, a projection's page retried). Every
    statement through the datastore (its ``transaction()`` and ``cursor()`` too) gets its
    connection here, the application's snapshots' recorder included.
    """
    if getattr(datastore, "_waits_once", False):
        return
    get_connection: Callable[[], AbstractContextManager[Any]] = datastore.get_connection

    @contextmanager
    def connection() -> Iterator[Any]:
        try:
            with get_connection() as conn:
                yield conn
        except (InterfaceError, OperationalError) as error:
            cause = error.__cause__
            if cause is not None and _is_pool_timeout(cause):
                raise cause from None
            raise

    datastore.get_connection = connection
    datastore._waits_once = True


def _is_pool_timeout(cause: BaseException) -> bool:
    """Whether the library's error wraps psycopg_pool's ``PoolTimeout``.

    Told by the class's name and module rather than by importing it: the ledger imports no
    database driver (``tests/unit/test_layers.py``), and touches the pool by duck typing only.
    """
    kind = type(cause)
    return kind.__name__ == "PoolTimeout" and kind.__module__.startswith("psycopg_pool")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
