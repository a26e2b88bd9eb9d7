"""PostgreSQL's LISTEN/NOTIFY as a wake-up hint for the runners.

**Who sends the NOTIFY.** The library does, already: with ``POSTGRES_ENABLE_DB_FUNCTIONS`` off
(as tiexin keeps it), eventsourcing 9.5.6's ``PostgresApplicationRecorder._insert_stored_events``
runs ``NOTIFY <events table>`` (``tiexin_events``: the recorder's ``channel_name``) inside every
insert transaction, after taking the table lock. PostgreSQL delivers it when, and only if, that
transaction commits, so a notification always means new events are readable. We therefore add no
trigger to the ledger's table: a read-side process would need to own the write side's table to
create one, and it would only send the same notification twice (PostgreSQL folds them into one
per transaction anyway). The integration tests check that a ledger write wakes a listener, so an
upgrade of the library that dropped the NOTIFY would be caught.

**Channels are per database, not per schema**: ledgers in two schemas of one database share
``tiexin_events``. A notification from the other schema only wakes the runners for one cheap
``max(notification_id)``; it never applies anything that is not in their own log.

**A hint, never the only way.** The :class:`Listener` keeps one connection of its own
(autocommit, outside the pools), LISTENs and calls ``wake()`` for each notification. When the
connection drops it reconnects with a backoff and wakes the runners once it listens again (events
may have been committed while it was deaf). The runners poll anyway (``poll_interval``), so a
lost notification, a dead listener or a server that drops them costs at most one poll interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.application import Application
from psycopg.sql import SQL, Identifier

from ledger.errors import first_line
from ledger.settings import redact, store_env

log = logging.getLogger(__name__)


def channel_of(app: Application[Any]) -> str | None:
    """The channel the application's recorder notifies on each insert (None: it does not, as on SQLite)."""
    channel = getattr(app.recorder, "channel_name", None)
    return channel if isinstance(channel, str) else None


class Listener:
    """A thread that LISTENs on ``channel`` and calls ``wake()`` for each notification (module docstring)."""

    def __init__(
        self,
        url: str,
        channel: str,
        wake: Callable[[], None],
        *,
        check_every: float = 0.5,
        max_backoff: float = 5.0,
    ) -> None:
        env = store_env(url)
        if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
            raise ValueError("LISTEN/NOTIFY needs PostgreSQL")
        self.url = url
        self.channel = channel
        self.wake = wake
        self.check_every = check_every
        self.max_backoff = max_backoff
        self.connect_args: dict[str, Any] = {
            "dbname": env["POSTGRES_DBNAME"],
            "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"],
            "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"] or None,
            "connect_timeout": int(float(env["POSTGRES_CONNECT_TIMEOUT"])),
            "application_name": "tiexin-projections-listener",
        }
        self.listening = threading.Event()
        """Set while a LISTEN is in place (tests wait for it before writing)."""
        self.notifications = 0
        """How many notifications arrived (for tests and metrics)."""
        self.backend_pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{channel}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.1
            except psycopg.Error as error:
                log.warning("listener on %s: %s; reconnecting", redact(self.url), first_line(error))
            finally:
                self.listening.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def _listen(self) -> None:
        with psycopg.connect(autocommit=True, **self.connect_args) as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel)))
            self.backend_pid = conn.info.backend_pid
            self.listening.set()
            self.wake()  # whatever was committed while nobody listened
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=self.check_every, stop_after=1):
                    self.notifications += 1
                    self.wake()
