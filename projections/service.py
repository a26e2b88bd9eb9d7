"""Running read models, and what any process can read about them.

:class:`ProjectionService` runs several read models in one process: each has its own
:class:`~projections.runner.Runner` on its own view, and one thread drives them all in one pass
over the log (:class:`~projections.onepass.OnePass`: the log read and each event decoded once, each
model committing its own page with its own tracking row); on PostgreSQL one
:class:`~projections.notify.Listener` wakes it when the ledger commits; it also polls
(``poll_interval``: short on SQLite, where nothing else wakes a runner in another process; longer on
PostgreSQL, where it is only the fallback for a lost notification). Stopping it wakes the pass,
joins the thread, says ``offline`` in each view's status (unless a runner stopped on a failure,
which stays said) and closes the views. ``tiexin projections run`` runs it
until SIGINT/SIGTERM; ``tiexin serve`` can embed it (``ledger=`` its own application, and
:meth:`ProjectionService.wake` after each write it makes).

:func:`read_status` is what ``tiexin projections status`` and ``/readyz`` show: each read model's
position (its tracking row), lag (the ledger's head minus that), and state, from the status its
runner saved in its view. A saved state whose heartbeat is older than :data:`STALE_BEATS`
heartbeats is reported ``not running``: the process died (SIGKILL, power cut) or hangs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from eventsourcing.application import Application

from ledger.application import Ledger
from ledger.errors import StoreUnavailable
from ledger.settings import bound_store, redact, store_env
from ledger.store import store_errors_translated
from projections import registry
from projections.notify import Listener, channel_of
from projections.onepass import OnePass
from projections.runner import DEFAULT_HEARTBEAT, DEFAULT_PAGE_SIZE, Failure, PagedProjection, Runner
from projections.seals import Sealer, SealPolicy, sealable
from projections.seals import open_store as open_seal_store
from projections.storage import SavedStatus

log = logging.getLogger(__name__)

SQLITE_POLL_INTERVAL = 0.2
"""SQLite has no notifications: a runner in another process than the writer learns by polling."""
POSTGRES_POLL_INTERVAL = 5.0
"""The fallback when a notification is lost; normally LISTEN/NOTIFY wakes a runner at once."""
STALE_BEATS = 3
"""A saved status not refreshed for this many heartbeats is no longer believed."""


def is_sqlite(url: str) -> bool:
    return store_env(url)["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"


def default_poll_interval(url: str) -> float:
    return SQLITE_POLL_INTERVAL if is_sqlite(url) else POSTGRES_POLL_INTERVAL


def open_log(url: str, master_key: bytes | None = None) -> Ledger:
    """The ledger for reading its log only: no default policies are adopted, nothing is written.

    Without ``master_key`` its personal fields stay sealed (:mod:`ledger.personal`): enough for
    positions and for read models that hold nothing personal, not for the health read model.

    Raises StoreUnavailable (one line) if it cannot be opened, or if a SQLite ledger's file does
    not exist (a read side never creates an empty ledger).
    """
    env = store_env(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = env["SQLITE_DBNAME"]
        if ":memory:" not in path and "mode=memory" not in path and not Path(path).exists():
            raise StoreUnavailable(f"there is no ledger at {redact(url)} (no such file)")
    with store_errors_translated(f"the store at {redact(url)}"):
        ledger = Ledger(env, master_key=master_key)
    bound_store(ledger)  # PostgreSQL: every wait bounded, reconnection prompt (ledger.settings)
    return ledger


def open_projections(url: str, names: Sequence[str]) -> dict[str, PagedProjection[Any]]:
    """The named read models on their views (all closed again if one fails to open)."""
    opened: dict[str, PagedProjection[Any]] = {}
    try:
        with store_errors_translated(f"the store at {redact(url)}"):
            for name in names:
                opened[name] = registry.open_projection(name, url)
    except BaseException:
        for projection in opened.values():
            projection.paged_view.close()
        raise
    return opened


class ProjectionService:
    """Runs read models in threads until stopped (see the module's docstring).

    ``names``: the read models to run (default: every registered one whose module exists).
    ``ledger``: an application to read the log through (default: one of its own, closed on stop).
    """

    def __init__(
        self,
        url: str,
        names: Sequence[str] | None = None,
        *,
        ledger: Application[Any] | None = None,
        poll_interval: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        listen: bool = True,
        heartbeat: float = DEFAULT_HEARTBEAT,
        master_key: bytes | None = None,
        sealing: SealPolicy | None = None,
    ) -> None:
        """``sealing``: also follow the log with the sealer (:mod:`projections.seals`), sealing by that policy.

        The sealer is not woken by writes: it polls, so the leaves of many writes go in one transaction.
        """
        self.url = url
        chosen = registry.check(names) if names else registry.available()
        if not chosen:
            raise registry.ReadModelUnavailable("no read model is available to run")
        self.poll_interval = poll_interval or default_poll_interval(self.url)
        self.ledger = ledger or open_log(self.url, master_key)
        self._owns_ledger = ledger is None
        try:
            projections = open_projections(self.url, chosen)
        except BaseException:
            self._close_ledger()
            raise
        self.runners: dict[str, Runner[Any]] = {
            name: Runner(self.ledger, projection, page_size=page_size, heartbeat=heartbeat)
            for name, projection in projections.items()
        }
        self.one_pass = OnePass(self.ledger, list(self.runners.values()), page_size=page_size)
        channel = channel_of(self.ledger) if listen else None
        self.listener = Listener(self.url, channel, self.wake) if channel else None
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self.sealing = sealing
        self.sealer: Sealer | None = None
        if sealing is not None and sealable(url):
            try:
                self.sealer = Sealer(open_seal_store(url))
            except BaseException:
                for runner in self.runners.values():
                    runner.view.close()
                self._close_ledger()
                raise

    def start(self) -> None:
        thread = threading.Thread(
            target=self.one_pass.run_forever, args=(self._stop, self.poll_interval), name="projections", daemon=True
        )
        self._threads["projections"] = thread
        thread.start()
        if self.listener is not None:
            self.listener.start()
        if self.sealer is not None and self.sealing is not None:
            thread = threading.Thread(
                target=self.sealer.run_forever, args=(self._stop, self.sealing, self.poll_interval), name="sealer",
                daemon=True,
            )  # fmt: skip
            self._threads["sealer"] = thread
            thread.start()

    def wake(self) -> None:
        """Have the read models poll now (the listener calls it; so may an in-process writer).

        Wake-ups coalesce: any number of them while a pass runs cost one more pass."""
        self.one_pass.wake()

    def caught_up(self) -> bool:
        """Whether every runner has applied the log up to its head as it is now."""
        head = self.ledger.recorder.max_notification_id() or 0
        return all(runner.position >= head for runner in self.runners.values())

    def wait_until_caught_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.caught_up():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every runner cleanly, say so in their views, and close what the service opened."""
        self._stop.set()
        self.wake()
        if self.sealer is not None:
            self.sealer.wake()
        deadline = time.monotonic() + timeout
        for name, thread in self._threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %s s", name, timeout)
        if self.listener is not None:
            self.listener.stop(max(0.1, deadline - time.monotonic()))
        running = self._threads.get("projections")
        if running is None or not running.is_alive():
            self.one_pass.close()
            for runner in self.runners.values():
                runner.shutdown()
                runner.view.close()
        sealing = self._threads.get("sealer")
        if self.sealer is not None and (sealing is None or not sealing.is_alive()):
            self.sealer.store.close()
        self._close_ledger()

    def _close_ledger(self) -> None:
        if self._owns_ledger:
            self.ledger.close()

    def __enter__(self) -> ProjectionService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_until_signalled(self, started: Callable[[], None] | None = None) -> None:
        """Run in the foreground until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly.

        ``started`` is called once the signal handlers are in place and the runners started.
        """
        stop = threading.Event()

        def signalled(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {s: signal.signal(s, signalled) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            if started is not None:
                started()
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)


# Reading the status, from any process ---------------------------------------------------------


@dataclass(frozen=True)
class ProjectionStatus:
    """What ``tiexin projections status`` shows for one read model."""

    name: str
    position: int | None
    """The last log position applied to its view (None: the read model cannot be loaded)."""
    head: int
    state: str
    """running · caught_up · retrying · stopped · offline · not running · never run · unavailable"""
    reason: str | None = None
    failure: Failure | None = None
    seen_at: datetime | None = None

    @property
    def lag(self) -> int | None:
        return None if self.position is None else max(0, self.head - self.position)


def read_status(
    url: str,
    names: Sequence[str] | None = None,
    *,
    ledger: Application[Any] | None = None,
    now: datetime | None = None,
) -> list[ProjectionStatus]:
    """Each read model's position, lag and state, as any process can read them."""
    chosen = registry.check(names) if names else registry.names()
    log_ = ledger or open_log(url)
    try:
        with store_errors_translated(f"the store at {redact(url)}"):
            head = log_.recorder.max_notification_id() or 0
            return [_status_of(url, name, log_.name, head, now or datetime.now(UTC)) for name in chosen]
    finally:
        if ledger is None:
            log_.close()


def _status_of(url: str, name: str, application_name: str, head: int, now: datetime) -> ProjectionStatus:
    try:
        projection = registry.open_projection(name, url)
    except registry.ReadModelUnavailable as error:
        return ProjectionStatus(name, None, head, "unavailable", error.reason)
    except Exception as error:  # one read model that cannot open must not hide the others' status
        log.exception("read model %s cannot be opened", name)
        return ProjectionStatus(name, None, head, "unavailable", f"cannot be opened: {type(error).__name__}: {error}")
    view = projection.paged_view
    try:
        return describe(name, view.position(application_name), head, view.saved_status(application_name), now)
    finally:
        view.close()


def describe(name: str, position: int, head: int, saved: SavedStatus | None, now: datetime) -> ProjectionStatus:
    """The state to show, from what the runner saved and how long ago."""
    if saved is None:
        state = "never run" if position == 0 else "not running"
        return ProjectionStatus(name, position, head, state, None if position == 0 else "no runner has reported")
    failure = None
    if saved.failure_position is not None:
        failure = Failure(
            saved.failure_position, saved.failure_topic or "", saved.failure_entity or "", saved.failure_version or 0,
            saved.reason or "",
        )  # fmt: skip
    by = f"{saved.owner}, {saved.seen_at:%Y-%m-%d %H:%M:%S} UTC"
    if saved.status == "stopped":
        where = f"at position {failure.position} ({failure.topic}, {failure.originator_id}): " if failure else ""
        return ProjectionStatus(name, position, head, "stopped", f"{where}{saved.reason}", failure, saved.seen_at)
    if saved.status == "offline":
        return ProjectionStatus(name, position, head, "offline", f"stopped cleanly ({by})", None, saved.seen_at)
    if now - saved.seen_at > timedelta(seconds=STALE_BEATS * saved.heartbeat):
        reason = f"no heartbeat since {by}; it said {saved.status}"
        return ProjectionStatus(name, position, head, "not running", reason, None, saved.seen_at)
    return ProjectionStatus(name, position, head, saved.status, saved.reason, None, saved.seen_at)


@contextmanager
def running(url: str, names: Sequence[str] | None = None, **options: Any) -> Iterator[ProjectionService]:
    """A started :class:`ProjectionService`, stopped on leaving."""
    service = ProjectionService(url, names, **options)
    service.start()
    try:
        yield service
    finally:
        service.stop()
