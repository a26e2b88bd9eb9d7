"""Our projection runner: keeps a read model caught up with the ledger's log, a page at a time.

Why our own (see docs/design.md, "Decisions and why"): the library's ``ProjectionRunner``
follows a recorder's ``subscribe()``, which its SQLite recorder lacks, and it commits one view
transaction per event. This runner reads ``select_notifications`` in pages, on SQLite and
PostgreSQL alike, and applies each page in **one** view transaction that also moves the view's
tracking row from the position the page started at to the page's end
(:meth:`projections.storage.PagedView.page`). A crash at any point before that commit leaves rows
and position as they were, so the page is applied again from the same place: every event is
applied exactly once, at the speed of a batch.

When an event cannot be applied (it does not decode, or the projection or the view refuses it)
the page is rolled back and the projection **stops**: :attr:`Runner.state` names the
event (position, topic, entity, version) and why. It is never skipped; the runner stays stopped
until :meth:`Runner.resume` (after a fix) or a new runner. If the store itself fails
(cannot be reached, locked too long), nothing was applied, the state says ``retrying`` with the
reason, and the next poll tries again from the tracked position.

Waking up: :meth:`Runner.run_forever` polls every ``poll_interval``; anything may call
:meth:`Runner.wake` to have it poll at once. PostgreSQL's LISTEN/NOTIFY
(:mod:`projections.notify`) is such a caller, a hint only: a lost notification costs at most one
poll interval, never a stall.

Status for other processes: besides :attr:`Runner.state` (this process), the runner saves its
state in its view (:meth:`projections.storage.PagedView.save_status`) when the status, the failure
or the reason changes — not on every page: a runner that keeps up saves nothing — and as a
heartbeat every ``heartbeat`` seconds while :meth:`Runner.run_forever` runs. A catch-up that
fits in one page goes from caught up to caught up without a write; a longer one says
``running`` after its first page. A failure to save a status is logged and never stops the
projection.

``until`` stops the runner at a log position (an as-of replay, :mod:`projections.asof`);
``accept`` skips the events it refuses (they still move the tracked position: such a view is a
throwaway one, never a live view).
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from abc import ABC
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from projections.storage import PagedView, SavedStatus, TrackingConflict, W

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
SCAN_WINDOW_PAGES = 20
"""How many pages' worth of log positions one read may scan for a projection's topics."""
DEFAULT_HEARTBEAT = 10.0
"""Seconds between a running runner's heartbeats in its status row."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
"""Failures of the store, not of an event: the page is retried, the projection is not stopped."""

Status = Literal["starting", "running", "caught_up", "retrying", "stopped", "offline"]
"""``offline``: the runner was shut down cleanly (:meth:`Runner.shutdown`)."""


Handler = Callable[[W, Any, Notification], None]
"""What a read model does with one event: row changes written through the page's writer."""


class Handlers(Generic[W]):
    """A read model's handlers, one per event class it takes, dispatched on the event's type.

    The classes are the ledger's own (``Visit.Recorded``), so the log is filtered by the topics the
    library derives from them (``get_topic``) and no topic is ever spelled out on the read side.
    """

    def __init__(self, table: Mapping[type[Any], Handler[W]]) -> None:
        self.table = dict(table)
        self.topics = tuple(get_topic(cls) for cls in self.table)

    def __call__(self, writer: W, event: Any, notification: Notification) -> None:
        self.table[type(event)](writer, event, notification)


class PagedProjection(Projection[Any], ABC, Generic[W]):
    """A read model applied a page of events per view transaction.

    ``apply`` gets each event with its notification (position and stored topic) and writes
    through the page's writer; it must not commit. A read model names its :class:`Handlers`
    (``topics`` then follows from them) or, to take every event, overrides ``apply`` and leaves
    ``topics`` empty.
    """

    handlers: Handlers[Any] | None = None
    topics: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.handlers is not None and "topics" not in cls.__dict__:
            cls.topics = cls.handlers.topics

    def __init__(self, view: PagedView[W]) -> None:
        super().__init__(view)
        self.paged_view = view

    def apply(self, writer: W, event: Any, notification: Notification) -> None:
        if self.handlers is None:
            raise NotImplementedError(f"{type(self).__name__} names no handlers and does not override apply")
        self.handlers(writer, event, notification)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """The library's per-event interface (its stock runner), for comparison benchmarks only."""
        position = tracking.notification_id
        start = self.paged_view.position(tracking.application_name)
        stored = Notification(
            id=position,
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=b"",
        )
        with self.paged_view.page(tracking.application_name, start, position) as writer:
            self.apply(writer, domain_event, stored)


@dataclass(frozen=True)
class Failure:
    """The event a projection could not apply, and why."""

    position: int
    topic: str
    originator_id: str
    originator_version: int
    reason: str


@dataclass(frozen=True)
class State:
    status: Status
    position: int
    failure: Failure | None = None
    reason: str | None = None
    """Why it is retrying (the store's error), or why it stopped."""
    at: datetime | None = None
    """When the runner last changed state or made progress."""


class EventFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


PASS_THROUGH: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, TrackingConflict, EventFailed)
"""A page's failures that are not the view refusing its rows when they are flushed."""


@dataclass(frozen=True)
class Undecodable:
    """An event the mapper could not decode: the runners that take it stop on it."""

    error: Exception


Decoded = tuple[Notification, Any]
"""A notification and its domain event (or :class:`Undecodable`), decoded once for every runner."""


def decode_page(mapper: Any, notifications: Sequence[Notification]) -> list[Decoded]:
    """Each notification with its domain event, decoded once."""
    page: list[Decoded] = []
    for notification in notifications:
        try:
            page.append((notification, mapper.to_domain_event(notification)))
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            page.append((notification, Undecodable(error)))
    return page


class Runner(Generic[W]):
    """Feeds one projection from one application's notification log (see the module's docstring)."""

    def __init__(
        self,
        app: Application[Any],
        projection: PagedProjection[W],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        until: int | None = None,
        accept: Callable[[Any, Notification], bool] | None = None,
        save_status: bool = True,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
        self.app = app
        self.projection = projection
        self.view = projection.paged_view
        self.page_size = page_size
        self.until = until
        """Apply the log up to this position and no further (None: follow the head)."""
        self.accept = accept
        """Events it returns False for are skipped (for throwaway views only: see the module)."""
        self.on_page: Callable[[int, int], None] | None = None
        """Called with (position, target) after each page is committed (a progress bar)."""
        self.heartbeat = heartbeat
        self.name = projection.name
        self._topics = frozenset(projection.topics)
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._save_status = save_status
        self._saved: tuple[Any, ...] | None = None
        self._last_saved = float("-inf")
        self._state = State("starting", self.view.position(app.name), at=_now())
        self._changed_at = self._state.at or _now()

    # What it reports ----------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def position(self) -> int:
        """The last position of the log applied to the view (as this runner last saw it)."""
        return self._state.position

    @property
    def lag(self) -> int:
        """How many positions the view is behind the log, now."""
        return max(0, self._head() - self.position)

    # Running ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Catch up with the log as it is now; return how many events were applied.

        A stopped projection applies nothing (see :meth:`resume`). A store failure is raised
        after the state says ``retrying``.
        """
        with self._lock:
            if self._state.status == "stopped":
                return 0
            try:
                return self._catch_up()
            except EventFailed as failed:
                self._set("stopped", failure=failed.failure, reason=failed.failure.reason)
                log.error("projection %s stopped at position %s: %s", self.name, failed.failure.position, failed)
                return 0
            except TRANSIENT_ERRORS as error:
                self._set("retrying", reason=_one_line(error))
                raise

    def _catch_up(self) -> int:
        applied = 0
        position = self.view.position(self.app.name)
        self._set("running", position=position, save=False)
        head = self._target()
        while position < head:
            # A filtered read scans the log up to ``stop`` for matching topics; bounding the window
            # keeps each page's scan short however long the log, so a rebuild stays linear.
            stop = min(head, position + self.page_size * SCAN_WINDOW_PAGES)
            notifications = self.app.recorder.select_notifications(
                start=position + 1, limit=self.page_size, stop=stop, topics=self.projection.topics
            )
            # A short page reached the window's end; filtered topics may leave a gap up to it.
            end = stop if len(notifications) < self.page_size else notifications[-1].id
            try:
                self._apply_page(position, end, decode_page(self.app.mapper, notifications))
            except TrackingConflict:
                position = self.view.position(self.app.name)  # another runner moved on: follow it
                self._set("running", position=position)
                continue
            applied += len(notifications)
            position = end
            # At the head the state says so before the waiters hear of the page (see _reached).
            self._reached(position, head)
            if self.on_page is not None:
                self.on_page(position, head)
        self._set("caught_up", position=position)
        return applied

    # One pass for several runners (projections.onepass) ------------------------------------

    def wants(self, topic: str) -> bool:
        """Whether this runner's projection takes events of ``topic``."""
        return not self._topics or topic in self._topics

    def take_page(self, end: int, page: Sequence[Decoded], head: int) -> int:
        """Apply the events of a page read and decoded once for several runners, up to ``end``.

        The page holds every event after the lowest position among those runners; this one
        applies those after its own position that its projection takes, and moves its tracking
        row from its position to ``end``, in one view transaction of its own. The position used
        is the one this runner last committed (no read of the tracking row): if another runner
        moved the row meanwhile, the compare-and-set refuses the page and the position is read
        again. Failures are not raised: the state says ``stopped`` (an event) or ``retrying``
        (the store), and the one pass goes on with the other runners. Returns the events applied.
        """
        with self._lock:
            position = self._state.position
            if self._state.status == "stopped" or position >= end:
                return 0
            mine = [item for item in page if item[0].id > position and self.wants(item[0].topic)]
            try:
                self._apply_page(position, end, mine)
            except TrackingConflict:
                self._set("running", position=self.view.position(self.app.name))
                return 0
            except EventFailed as failed:
                self._set("stopped", failure=failed.failure, reason=failed.failure.reason)
                log.error("projection %s stopped at position %s: %s", self.name, failed.failure.position, failed)
                return 0
            except TRANSIENT_ERRORS as error:
                self._set("retrying", reason=_one_line(error))
                log.warning("projection %s: store unavailable, retrying: %s", self.name, self._state.reason)
                return 0
            self._reached(end, head)
        if self.on_page is not None:
            self.on_page(end, head)
        return len(mine)

    def _reached(self, position: int, head: int) -> None:
        """Say where a committed page left this runner: ``caught_up`` once it is at ``head``.

        Set before ``on_page`` wakes the readers waiting on the position (``?after=``), so a
        reader let through by this page sees the state that goes with it, not ``running``.
        """
        if position >= head:
            self._set("caught_up", position=position)
        else:
            self._set("running", position=position)

    def settle(self, head: int) -> None:
        """Say ``caught_up`` if a one pass brought this runner to ``head`` (see :meth:`take_page`)."""
        with self._lock:
            if self._state.status in ("starting", "running") and self._state.position >= head:
                self._set("caught_up")

    def report_retrying(self, error: BaseException) -> None:
        """The log could not be read for this runner (a one pass's read failed)."""
        with self._lock:
            if self._state.status != "stopped":
                self._set("retrying", reason=_one_line(error))

    def report_stopped(self, error: BaseException) -> None:
        """Something other than an event or the store failed while feeding this runner (a bug)."""
        with self._lock:
            self._set("stopped", reason=_one_line(error))

    def forget(self) -> None:
        """Empty the view and forget its position (the first half of :meth:`rebuild`)."""
        with self._lock:
            self.view.reset(self.app.name)
            self._set("starting", position=0, save=False)

    def next_beat(self) -> float:
        """When (``time.monotonic()``) the next heartbeat is due."""
        return self._last_saved + self.heartbeat if self._save_status else float("inf")

    def _apply_page(self, start: int, end: int, page: Sequence[Decoded]) -> None:
        try:
            self._write_page(start, end, page, commit=True, eager=False)
        except PASS_THROUGH:
            raise
        except Exception as error:
            # The view refused the page's rows when they were flushed: find the event by writing
            # each one on its own in a transaction that is rolled back, then report it.
            self._write_page(start, end, page, commit=False, eager=True)
            first = page[0][0]
            raise EventFailed(
                failure_of(first, f"the view refused positions {first.id}–{end}: {_one_line(error)}")
            ) from error

    def _write_page(self, start: int, end: int, page: Sequence[Decoded], *, commit: bool, eager: bool) -> None:
        with self.view.page(self.app.name, start, end, commit=commit) as writer:
            for notification, event in page:
                try:
                    if isinstance(event, Undecodable):
                        raise event.error
                    if self.accept is not None and not self.accept(event, notification):
                        continue
                    self.projection.apply(writer, event, notification)
                    if eager:
                        writer.flush()
                except TRANSIENT_ERRORS:
                    raise
                except Exception as error:
                    raise EventFailed(failure_of(notification, _one_line(error))) from error

    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Catch up, then poll every ``poll_interval`` seconds (or when woken) until ``stop`` is set.

        Between polls it only waits, waking to save a heartbeat every ``heartbeat`` seconds. An
        error that is neither the store's nor an event's (a bug, a dropped table) stops the
        projection with the reason, as a bad event does; the thread lives on, saying so.
        """
        backoff = poll_interval
        next_poll = time.monotonic()
        while not stop.is_set():
            if self._wakeup.is_set() or time.monotonic() >= next_poll:
                self._wakeup.clear()
                backoff = self._poll(backoff, poll_interval)
                next_poll = time.monotonic() + backoff
            self.beat()
            self._wakeup.wait(max(0.0, min(next_poll, self.next_beat()) - time.monotonic()))

    def _poll(self, backoff: float, poll_interval: float) -> float:
        """One poll; return how long to wait before the next one."""
        try:
            self.run_once()
            return poll_interval
        except TRANSIENT_ERRORS:
            log.warning("projection %s: store unavailable, retrying: %s", self.name, self._state.reason)
            return min(backoff * 2, max(30.0, poll_interval))
        except Exception as error:
            log.exception("projection %s stopped", self.name)
            with self._lock:
                self._set("stopped", reason=_one_line(error))
            return poll_interval

    def beat(self) -> None:
        """Save the status again if a heartbeat is due (other processes see the runner is alive)."""
        if self._save_status and time.monotonic() - self._last_saved >= self.heartbeat:
            self._save(force=True)

    def wake(self) -> None:
        """Poll now (a hint: LISTEN/NOTIFY, or a writer in the same process)."""
        self._wakeup.set()

    def stop(self, stop: threading.Event) -> None:
        stop.set()
        self.wake()

    def shutdown(self) -> None:
        """Say ``offline`` in the view's status (after :meth:`run_forever` returned), unless stopped
        on a failure, which stays saved for whoever looks next."""
        with self._lock:
            if self._state.status != "stopped":
                self._set("offline")

    def resume(self) -> None:
        """Try again from the tracked position after a stop (e.g. once the projection is fixed)."""
        with self._lock:
            self._set("starting", position=self.view.position(self.app.name))

    def rebuild(self) -> int:
        """Empty the view and apply the whole log again; return how many events were applied."""
        self.forget()
        return self.run_once()

    # Helpers ------------------------------------------------------------------------------

    def _head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _target(self) -> int:
        """Where this catch-up ends: the head of the log as it is now, or ``until``."""
        head = self._head()
        return head if self.until is None else min(head, self.until)

    def _set(
        self,
        status: Status,
        *,
        position: int | None = None,
        failure: Failure | None = None,
        reason: str | None = None,
        save: bool = True,
    ) -> None:
        now = _now()
        if status != self._state.status:
            self._changed_at = now
        self._state = State(status, self._state.position if position is None else position, failure, reason, at=now)
        if save:
            self._save()

    def _save(self, *, force: bool = False) -> None:
        """Save the state in the view if it changed since last saved (or ``force``: a heartbeat)."""
        if not self._save_status:
            return
        state = self._state
        key = (state.status, state.failure, state.reason)
        if not force and key == self._saved:
            return
        failure = state.failure
        saved = SavedStatus(
            status=state.status,
            position=state.position,
            reason=state.reason,
            failure_position=failure.position if failure else None,
            failure_topic=failure.topic if failure else None,
            failure_entity=failure.originator_id if failure else None,
            failure_version=failure.originator_version if failure else None,
            changed_at=self._changed_at,
            seen_at=_now(),
            heartbeat=self.heartbeat,
            owner=owner(),
        )
        try:
            self.view.save_status(self.app.name, saved)
        except Exception as error:  # the status is a report: failing to write it never stops a projection
            log.warning("projection %s: could not save its status: %s", self.name, _one_line(error))
            self._last_saved = time.monotonic() - self.heartbeat / 2  # try again before long
            return
        self._saved = key
        self._last_saved = time.monotonic()


def owner() -> str:
    """Which process a saved status came from (``host:pid``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def failure_of(notification: Notification, reason: str) -> Failure:
    return Failure(
        position=notification.id,
        topic=notification.topic,
        originator_id=str(notification.originator_id),
        originator_version=notification.originator_version,
        reason=reason,
    )


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC)
