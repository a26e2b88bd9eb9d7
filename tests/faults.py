"""A store that fails on demand, for the fault tests: a TCP proxy to PostgreSQL that a test cuts and restores,
and damage done to stored rows with raw SQL.

:class:`TcpProxy` sits between the app and the real PostgreSQL on a loopback port. ``blackhole()``
drops every open connection and then accepts new ones but never answers (a host that swallows
packets: the hardest case, where every wait must be bounded); ``refuse()`` drops them and stops
listening (a server that is down: connection refused); ``restore()`` forwards again.

:func:`disk_full` makes the ledger's store refuse to grow, on either store.
"""

from __future__ import annotations

import select
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool

from ledger.settings import store_env


class TcpProxy:
    """Forwards a loopback port to ``upstream`` until cut (see the module's docstring)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stop = threading.Event()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="test-proxy", daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """``url`` (a PostgreSQL URL) through this proxy."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{self.port}" if auth else f"127.0.0.1:{self.port}"))

    def blackhole(self) -> None:
        """Drop every connection; accept new ones and never answer them."""
        with self._lock:
            self.mode = "blackhole"
        self._drop_all()

    def refuse(self) -> None:
        """Drop every connection and stop listening: connecting is refused."""
        with self._lock:
            self.mode = "refuse"
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()

    def restore(self) -> None:
        """Forward again (listening again on the same port)."""
        with self._lock:
            self.mode = "forward"
            if self._listener is None:
                self._listener = self._listen(self.port)
        self._drop_all()  # connections held in the black hole were never answered: clients gave up on them

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()
        self._thread.join(timeout=5)

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _accept(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed under us by refuse()
                continue
            with self._lock:
                mode = self.mode
                self._sockets.add(client)
            if mode == "forward":
                threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            self._drop(client)
            return
        with self._lock:
            self._sockets.add(server)
        peers = {client: server, server: client}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(list(peers), [], [], 0.2)
                for each in ready:
                    data = each.recv(65536)
                    if not data:
                        return
                    peers[each].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._drop(client)
            self._drop(server)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            every = list(self._sockets)
        for sock in every:
            self._drop(sock)


@contextmanager
def proxy_to(url: str) -> Iterator[TcpProxy]:
    """A :class:`TcpProxy` to the PostgreSQL server of ``url``, closed afterwards."""
    parts = urlsplit(url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()


# Damage done to stored rows -----------------------------------------------------------------


@contextmanager
def raw_store(url: str) -> Iterator[tuple[Any, str, str]]:
    """A raw connection to the ledger's store: (connection, events table, placeholder), committed on leaving."""
    env = store_env(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        with closing(sqlite3.connect(env["SQLITE_DBNAME"])) as conn:
            yield conn, "stored_events", "?"
            conn.commit()
    else:
        schema = env.get("POSTGRES_SCHEMA", "public")
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None, autocommit=True,
        ) as conn:  # fmt: skip
            yield conn, f"{schema}.tiexin_events", "%s"


def stored_id(url: str, ident: UUID | str) -> Any:
    """How the store holds an originator id: hex text on SQLite, a UUID on PostgreSQL."""
    uuid = UUID(str(ident))
    return uuid.hex if store_env(url)["PERSISTENCE_MODULE"] == "eventsourcing.sqlite" else uuid


def delete_event(url: str, record: UUID | str, version: int) -> None:
    """Delete one stored event of a record, as someone with access to the store's files could."""
    with raw_store(url) as (conn, table, mark):
        conn.execute(
            f"DELETE FROM {table} WHERE originator_id = {mark} AND originator_version = {mark}",
            (stored_id(url, record), version),
        )


def corrupt_event(url: str, record: UUID | str, version: int, state: bytes = b"\x7b\x00\xff") -> None:
    """Overwrite one stored event's state (by default with X'7B00FF': no longer JSON, nor UTF-8)."""
    with raw_store(url) as (conn, table, mark):
        conn.execute(
            f"UPDATE {table} SET state = {mark} WHERE originator_id = {mark} AND originator_version = {mark}",
            (state, stored_id(url, record), version),
        )


def retopic_event(url: str, record: UUID | str, version: int, topic: str) -> None:
    """Change one stored event's topic."""
    with raw_store(url) as (conn, table, mark):
        conn.execute(
            f"UPDATE {table} SET topic = {mark} WHERE originator_id = {mark} AND originator_version = {mark}",
            (topic, stored_id(url, record), version),
        )


# A full disk ----------------------------------------------------------------------------------


class _FullPool(SQLiteConnectionPool):
    """The library's SQLite pool whose connections may not grow the file past ``pages`` pages."""

    def __init__(self, *, db_name: str, lock_timeout: int | None, pages: int) -> None:
        self.pages = pages
        super().__init__(db_name=db_name, lock_timeout=lock_timeout)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute(f"PRAGMA max_page_count = {int(self.pages)}")
        return connection


@contextmanager
def disk_full(url: str, ledger: Any) -> Iterator[None]:
    """While inside, the ledger's store refuses to grow, as on a full disk.

    SQLite: the ledger's connections may not grow its file (``PRAGMA max_page_count`` at its size
    now: SQLITE_FULL, "database or disk is full"). PostgreSQL: every insert of an event fails as
    PostgreSQL does when it cannot extend a file (SQLSTATE 53100, ``disk_full``).
    """
    env = store_env(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        datastore = ledger.recorder.datastore
        before = datastore.pool
        with closing(sqlite3.connect(env["SQLITE_DBNAME"])) as conn:
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
        datastore.pool = _FullPool(db_name=before.db_name, lock_timeout=before.lock_timeout, pages=pages)
        try:
            yield
        finally:
            full, datastore.pool = datastore.pool, before
            full.close()
        return
    with raw_store(url) as (conn, table, _):
        schema = table.split(".")[0]
        conn.execute(
            f"CREATE FUNCTION {schema}.no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER no_space BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {schema}.no_space()"
        )
    try:
        yield
    finally:
        with raw_store(url) as (conn, table, _):
            conn.execute(f"DROP TRIGGER no_space ON {table}")
