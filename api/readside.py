"""The read side as the API holds it: each read model's view, its runner if it runs here, and waiting.

**Where the runners are.** ``tiexin serve`` on SQLite runs every read model in-process (a
:class:`~projections.service.ProjectionService` on the API's own ledger): a write calls
:meth:`ReadSide.wake` and the runners apply it at once. On PostgreSQL that is off by default
(``tiexin projections run`` is expected beside the workers) and on with ``--projections``.

**Waiting for a write (``?after=POSITION``).** With a runner here, :meth:`ReadSide.wait_for`
awaits an :class:`asyncio.Event` that the runner's ``on_page`` hook sets (through the waiting
request's event loop) after each page it commits: no polling, and no worker thread is held while
a request waits. Every :data:`RECHECK` seconds it also reads the view's tracking row, in case
another process's runner moved the view. Without a runner here, it reads the tracking row every
:data:`POLL_INTERVAL` seconds (one indexed row; a few hundred microseconds). Either way the wait
is bounded: past it, the read answers with what it has and says how far it is behind.

**State.** A runner here reports its own state; otherwise the state its runner last saved in the
view (:func:`projections.service.describe`: a stale heartbeat reads ``not running``), read at most
once every :data:`STATUS_TTL` seconds. A read model whose module cannot be loaded is
``unavailable``; the API still serves the others and every write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from starlette.concurrency import run_in_threadpool

from api.answers import AnswerCache
from api.settings import ApiSettings
from ledger.store import store_errors_translated
from projections import registry
from projections.runner import Runner
from projections.seals import SealPolicy, load_key_file
from projections.service import ProjectionService, describe, is_sqlite

log = logging.getLogger(__name__)

READ_MODELS = ("roster", "scores", "audit", "history", "health", "desk")
"""The read models the API answers from (the service runs every registered one)."""
POLL_INTERVAL = 0.005
RECHECK = 0.05
STATUS_TTL = 1.0
HEAD_TTL = 0.1
"""How long the ledger's head, read to tell a read's lag, is taken as known (writes made here
move it at once; other processes' writes show within this)."""
LIVE = ("running", "caught_up")


@dataclass(frozen=True)
class ModelState:
    state: str
    """running · caught_up · retrying · stopped · offline · not running · never run · unavailable"""
    reason: str | None = None


def usable(names: tuple[str, ...] | list[str]) -> tuple[list[str], dict[str, str]]:
    """The read models whose module loads, and why each other one does not."""
    found, missing = [], {}
    for name in names:
        try:
            registry.load(name)
        except registry.ReadModelUnavailable as error:
            log.warning("read model %s is unavailable: %s", name, error.reason)
            missing[name] = error.reason
        else:
            found.append(name)
    return found, missing


class ReadSide:
    """The views the API reads, the in-process runners (``in_process``), and waiting on them."""

    def __init__(
        self, url: str, ledger: Application[Any], *, in_process: bool, sealing: SealPolicy | None = None
    ) -> None:
        self.url = url
        self.ledger = ledger
        self.application_name = ledger.name
        wanted, self.missing = usable(READ_MODELS)
        self.service: ProjectionService | None = None
        self.views: dict[str, Any] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self._states: dict[str, tuple[float, int, ModelState]] = {}
        self._head: tuple[float, int] = (float("-inf"), 0)
        self.answers = AnswerCache()
        if in_process:
            running, _ = usable(registry.names())
            if running:
                self.service = ProjectionService(url, running, ledger=ledger, sealing=sealing)
                for name, each in self.service.runners.items():
                    each.on_page = functools.partial(self._progressed, name)
        try:
            with store_errors_translated("the read models' store"):
                for name in wanted:
                    found = self.runner(name)
                    self.views[name] = found.view if found else registry.open_projection(name, url).paged_view
        except BaseException:
            self.close()
            raise

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.service is not None:
            self.service.start()

    def close(self) -> None:
        if self.service is not None:
            self.service.stop()
        own = {id(r.view) for r in self.service.runners.values()} if self.service else set()
        for view in self.views.values():
            if id(view) not in own:
                view.close()
        self.views.clear()

    def wake(self, position: int | None = None) -> None:
        """A write was made here (at log ``position``): have the in-process runners poll now."""
        if position is not None:
            checked, known = self._head
            self._head = (checked, max(known, position))
        if self.service is not None:
            self.service.wake()

    # What a read needs --------------------------------------------------------------------

    def runner(self, name: str) -> Runner[Any] | None:
        return self.service.runners.get(name) if self.service else None

    def view(self, name: str) -> Any | None:
        return self.views.get(name)

    def position(self, name: str) -> int:
        """The view's position (its tracking row): one indexed row."""
        with store_errors_translated("the read models' store"):
            return int(self.views[name].position(self.application_name))

    def live_position(self, name: str) -> int | None:
        """The view's position as its runner here knows it (no read); None: its runner is elsewhere."""
        runner = self.runner(name)
        return runner.position if runner is not None else None

    def head(self) -> int:
        """The ledger's last position, read at most every :data:`HEAD_TTL` seconds."""
        checked, known = self._head
        now = time.monotonic()
        if now - checked < HEAD_TTL:
            return known
        with store_errors_translated("the event store"):
            found = self.ledger.recorder.max_notification_id() or 0
        self._head = (now, max(found, self._head[1]))
        return self._head[1]

    def state(self, name: str, position: int | None = None) -> ModelState:
        """The read model's state; ``position``: the one just read from it (a view seen to move
        while its saved state said it was not live is asked again at once)."""
        if name not in self.views:
            return ModelState("unavailable", self.missing.get(name, "the read model is not open"))
        runner = self.runner(name)
        if runner is not None:
            return runner_state(runner)
        now = time.monotonic()
        cached = self._states.get(name)
        if (
            cached is None
            or now - cached[0] > STATUS_TTL
            or (position is not None and position != cached[1] and cached[2].state not in LIVE)
        ):
            cached = (now, *self._saved_state(name))
            self._states[name] = cached
        return cached[2]

    def _saved_state(self, name: str) -> tuple[int, ModelState]:
        view = self.views[name]
        with store_errors_translated("the read models' store"):
            saved = view.saved_status(self.application_name)
            position = view.position(self.application_name)
        status = describe(name, position, 0, saved, datetime.now(UTC))
        return position, ModelState(status.state, status.reason)

    # Waiting ------------------------------------------------------------------------------

    async def wait_for(self, name: str, after: int, timeout: float) -> None:
        """Return once the view has applied the log up to ``after``, it stopped, or ``timeout`` passed."""
        if name not in self.views:
            return
        runner = self.runner(name)
        if runner is None:
            await self._poll(name, after, timeout)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.setdefault(name, set()).add(waiter)
        try:
            while True:
                event.clear()
                if runner.position >= after or runner.state.status == "stopped":
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    await asyncio.wait_for(event.wait(), min(remaining, RECHECK))
                except TimeoutError:
                    if await run_in_threadpool(self.position, name) >= after:  # another process's runner
                        return
        finally:
            with self._lock:
                self._waiters[name].discard(waiter)

    async def _poll(self, name: str, after: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if (await run_in_threadpool(self.state, name)).state == "stopped":
            return
        while await run_in_threadpool(self.position, name) < after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, POLL_INTERVAL))

    def _progressed(self, name: str, position: int, target: int) -> None:
        """A runner committed a page (its thread): wake whoever waits on that read model."""
        with self._lock:
            waiters = list(self._waiters.get(name, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: its request is gone
                loop.call_soon_threadsafe(event.set)


def runner_state(runner: Runner[Any]) -> ModelState:
    state = runner.state
    status = "running" if state.status == "starting" else state.status
    if state.status == "stopped" and state.failure is not None:
        f = state.failure
        return ModelState(status, f"at position {f.position} ({f.topic}, {f.originator_id}): {f.reason}")
    return ModelState(status, state.reason if status not in LIVE else None)


def sealing_policy(settings: ApiSettings) -> SealPolicy:
    """The in-process sealer's policy: it follows the log always, and seals with the key file when there is one."""
    path = settings.seal_key_file
    return SealPolicy(
        key=(lambda: load_key_file(Path(path))) if path else None,
        every_events=settings.seal_every_events,
        every_seconds=settings.seal_every_seconds,
    )


def open_read_side(settings: ApiSettings, ledger: Application[Any]) -> ReadSide:
    """The read side of a serving process, started (see the module's docstring for where runners run)."""
    url = settings.database_url
    in_process = settings.projections if settings.projections is not None else is_sqlite(url)
    side = ReadSide(url, ledger, in_process=in_process, sealing=sealing_policy(settings))
    try:
        side.start()
    except BaseException:
        side.close()
        raise
    return side
