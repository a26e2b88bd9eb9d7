"""Store faults told fast: checks bounded in time, pools rid of dead connections, and writes that fail.

**Bounded checks.** ``/readyz`` and ``/metrics`` answer within a second whatever the store does
(down, a host that swallows packets, a lock held for long). Their store work runs in a thread of
its own (:func:`start`), never the request thread pool (which a hanging store can fill); the
request waits at most :data:`HEALTH_DEADLINE` seconds for it (:func:`settled`) and otherwise
answers that the store is not answering. The thread goes on until the store's own timeouts end it
(:mod:`ledger.settings`); at most :data:`MAX_CHECKS` run at once, so a hanging store cannot pile
them up: beyond that a check answers "not answering" at once.

**Pools rid of dead connections.** On PostgreSQL, psycopg's pools keep idle connections; when the
server goes away they stay in the pool, dead, until requests take them one by one and fail.
:class:`PoolWatch` checks each pool's longest idle connection every :data:`WATCH_INTERVAL` seconds,
and all of them (psycopg_pool's ``check()``) when that one is dead: dead connections are dropped
and replaced, and an empty pool tries to connect. So when the server returns, the pool is filled
within a second or two and the next write succeeds.

**Writes that fail.** :class:`WriteHealth` remembers this process's last write (``POST``) refused
because of the store (a full disk, a read-only or locked database) and its last successful write.
While the last was a failure, readiness says so; each status read then tries a write that is rolled
back (:func:`probe_write`): when that succeeds (or a real write does), the state clears.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.errors import first_line
from ledger.store import store_errors_translated

log = logging.getLogger(__name__)

T = TypeVar("T")

HEALTH_DEADLINE = 0.5
"""The longest (s) ``/readyz`` and ``/metrics`` wait for the store before answering without it."""
MAX_CHECKS = 4
"""At most this many store checks run at once (the others answer "not answering" at once)."""
WATCH_INTERVAL = 1.0
"""How often (s) a PostgreSQL pool's longest idle connection is checked."""
WATCH_TIMEOUT = 0.2
"""How long (s) a check waits for an idle connection (none: all are in use, or none can be made)."""
PROBE_BYTES = 16_384
"""The size of the rolled-back probe write: more than a page, so it needs room in the store."""
PROBE_TOPIC = "write-probe"
"""The probe's topic; its row is never committed."""

_checks = threading.BoundedSemaphore(MAX_CHECKS)


# Bounded checks ------------------------------------------------------------------------------


class NotAnswering(Exception):
    """The store did not answer a check in time (or too many checks are still waiting for it)."""


def start(work: Callable[[], T]) -> Future[T]:
    """Run ``work`` in a daemon thread of its own; NotAnswering if :data:`MAX_CHECKS` are already running."""
    if not _checks.acquire(blocking=False):
        raise NotAnswering(f"{MAX_CHECKS} store checks are still waiting for the store")
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()  # a waiter that gives up does not cancel the work

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:
            future.set_exception(error)
        finally:
            _checks.release()

    threading.Thread(target=run, name="tiexin-store-check", daemon=True).start()
    return future


async def settled(future: Future[T], seconds: float = HEALTH_DEADLINE) -> T:
    """The work's answer, or NotAnswering after ``seconds`` (the work goes on; its answer may serve later)."""
    waiting = asyncio.wrap_future(future)
    try:
        return await asyncio.wait_for(asyncio.shield(waiting), seconds)
    except TimeoutError:
        waiting.add_done_callback(_retrieved)
        raise NotAnswering(f"the store did not answer within {seconds:g} s") from None


async def within(work: Callable[[], T], seconds: float = HEALTH_DEADLINE) -> T:
    """``work()`` in a thread of its own, or NotAnswering after ``seconds``."""
    return await settled(start(work), seconds)


class Deadline:
    """The time left of :data:`HEALTH_DEADLINE` from now, for a request's successive waits."""

    def __init__(self, seconds: float = HEALTH_DEADLINE) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # nobody awaits it any more: do not warn of an unretrieved error


# Pools rid of dead connections -----------------------------------------------------------------


def pools_of(*holders: Any) -> Iterator[ConnectionPool[Any]]:
    """The psycopg pools of these applications, recorders, views or tables (SQLite's have none)."""
    for holder in holders:
        recorder = getattr(holder, "recorder", holder)
        datastore = getattr(recorder, "datastore", recorder)
        pool = getattr(datastore, "pool", None)
        if isinstance(pool, ConnectionPool):
            yield pool


def store_pools(services: Any) -> list[ConnectionPool[Any]]:
    """The API's PostgreSQL pools: the ledger's, its tables', and those of the views it reads and runs."""
    reads = getattr(services, "reads", None)
    views = list(reads.views.values()) if reads is not None else []
    runners = getattr(getattr(reads, "service", None), "runners", {})
    views += [runner.view for runner in runners.values()]
    pools = {id(pool): pool for pool in pools_of(services.ledger, services.keys.tables, *views)}
    return list(pools.values())


class PoolWatch:
    """Checks the pools' idle connections every ``interval`` seconds, in a daemon thread, until stopped."""

    def __init__(self, pools: Callable[[], Iterable[ConnectionPool[Any]]], interval: float = WATCH_INTERVAL) -> None:
        self.pools = pools
        self.interval = interval
        self.checks = 0
        """How many rounds ran (for tests)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tiexin-pool-watch", daemon=True)

    def start(self) -> None:
        """Start watching, if there is any pool to watch (on SQLite there is none)."""
        if any(True for _ in self.pools()):
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pool in list(self.pools()):
                try:
                    tend(pool)
                except Exception as error:  # a closed pool, a server still away: the next round tries again
                    log.debug("pool check of %s: %s", pool.name, first_line(error))
            self.checks += 1


def tend(pool: ConnectionPool[Any]) -> None:
    """Check the pool's longest idle connection; if it is dead, check them all (``pool.check()``).

    One at a time while all is well, so requests never find the pool emptied by a check; all at
    once when one is found dead, since the others most likely died with it. A dead connection is
    dropped and replaced, and a pool with none starts connecting.
    """
    try:
        with pool.connection(timeout=WATCH_TIMEOUT) as conn:
            pool.check_connection(conn)
    except PoolTimeout:
        return  # every connection is in use (the store answers), or none can be made yet (it tries)
    except Exception:
        pool.check()


# Writes that fail ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteFailure:
    since: datetime
    """When writes began to fail (the first failure since the last success)."""
    at: datetime
    """The last failure (a write, or a probe write)."""
    reason: str
    """One line from the store's error (for trusted callers only: it can name hosts or files)."""


class WriteHealth:
    """This process's last write refused because of the store, unless a write succeeded since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failure: WriteFailure | None = None

    @property
    def failure(self) -> WriteFailure | None:
        return self._failure

    def failed(self, reason: str) -> None:
        now = datetime.now(UTC)
        with self._lock:
            if self._failure is None:
                log.warning("writes are failing: %s", reason)
            self._failure = WriteFailure(self._failure.since if self._failure else now, now, reason)

    def succeeded(self, how: str = "a write succeeded") -> None:
        if self._failure is None:  # the common case, without the lock
            return
        with self._lock:
            if self._failure is not None:
                log.warning("writes work again: %s", how)
            self._failure = None


def write_health(app: Any) -> WriteHealth:
    """The app's :class:`WriteHealth` (made by :func:`api.metrics.install_metrics`, or here)."""
    found: WriteHealth | None = getattr(app.state, "write_health", None)
    if found is None:
        found = app.state.write_health = WriteHealth()
    return found


def probe_write(ledger: Any) -> None:
    """Raise StoreUnavailable if the ledger's store refuses an event now: an insert of
    :data:`PROBE_BYTES` random bytes into the events table, rolled back.

    It sees what refuses a write while reads go on (a full disk or database, a read-only or locked
    database); it cannot see a SQLite disk that fills only when a commit writes its log. On
    PostgreSQL the row takes no position (its ``notification_id`` is given) and waits at most 2 s
    for a lock.
    """
    recorder = ledger.recorder
    datastore = recorder.datastore
    state = os.urandom(PROBE_BYTES)
    started = time.monotonic()
    with store_errors_translated("the event store"), datastore.transaction(commit=False) as cursor:
        if isinstance(getattr(datastore, "pool", None), ConnectionPool):
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            cursor.execute("SET LOCAL statement_timeout = '2s'")
            statement = sql.SQL(
                "INSERT INTO {0}.{1} (notification_id, originator_id, originator_version, topic, state) "
                "VALUES (-1, %s, 0, %s, %s)"
            ).format(sql.Identifier(datastore.schema), sql.Identifier(recorder.events_table_name))
            cursor.execute(statement, (uuid.uuid4(), PROBE_TOPIC, state))
        else:
            cursor.execute(
                f"INSERT INTO {recorder.events_table_name} (originator_id, originator_version, topic, state) "
                "VALUES (?, 0, ?, ?)",
                (uuid.uuid4().hex, PROBE_TOPIC, state),
            )
    log.debug("probe write rolled back after %.3f s", time.monotonic() - started)
