"""Our projection runner: keeps a read model caught up with the ledger's log, a page at a time.

Why our own (DESIGN.md, "Facts about eventsourcing 9.5.6"): the library's ``ProjectionRunner``
follows a recorder's ``subscribe()``, which its SQLite recorder lacks, and it commits one view
transaction per event. This runner reads ``select_notifications`` in pages, on SQLite and
PostgreSQL alike, and applies each page in **one** view transaction that also moves the view's
tracking row from the position the page started at to the page's end
(:meth:`projections.views.PagedView.page`). A crash at any point before that commit leaves rows
and position as they were, so the page is applied again from the same place: every event is
applied exactly once, at the speed of a batch.

When an event cannot be applied (it does not decode, or the projection or the view refuses it)
the page is rolled back and the projection **stops**: :attr:`Runner.state` names the
event (position, topic, entity, version) and why. It is never skipped; the runner stays stopped
until :meth:`Runner.resume` (after a fix) or a new runner. If the store itself fails
(cannot be reached, locked too long), nothing was applied, the state says ``retrying`` with the
reason, and the next poll tries again from the tracked position.

Waking up: :meth:`Runner.run_forever` polls every ``poll_interval``; anything may call
:meth:`Runner.wake` to have it poll at once. PostgreSQL's LISTEN/NOTIFY will be such a
caller, a hint only: a lost notification costs at most one poll interval, never a stall.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from projections.views import PagedView, TrackingConflict, W

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
"""Failures of the store, not of an event: the page is retried, the projection is not stopped."""

Status = Literal["starting", "running", "caught_up", "retrying", "stopped"]


class PagedProjection(Projection[Any], ABC, Generic[W]):
    """A read model applied a page of events per view transaction.

    ``apply`` gets each event with its notification (position and stored topic) and writes
    through the page's writer; it must not commit. ``topics`` (empty: all) filters the log.
    """

    topics: tuple[str, ...] = ()

    def __init__(self, view: PagedView[W]) -> None:
        super().__init__(view)
        self.paged_view = view

    @abstractmethod
    def apply(self, writer: W, event: Any, notification: Notification) -> None: ...

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


class Runner(Generic[W]):
    """Feeds one projection from one application's notification log (see the module's docstring)."""

    def __init__(self, app: Application[Any], projection: PagedProjection[W], *, page_size: int = DEFAULT_PAGE_SIZE):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.app = app
        self.projection = projection
        self.view = projection.paged_view
        self.page_size = page_size
        self.name = projection.name
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._state = State("starting", self.view.position(app.name), at=_now())

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
        self._set("running", position=position)
        head = self._head()
        while position < head:
            notifications = self.app.recorder.select_notifications(
                start=position + 1, limit=self.page_size, stop=head, topics=self.projection.topics
            )
            # A short page reached the head as it was; filtered topics may leave a gap up to it.
            end = head if len(notifications) < self.page_size else notifications[-1].id
            try:
                self._apply_page(position, end, notifications)
            except TrackingConflict:
                position = self.view.position(self.app.name)  # another runner moved on: follow it
                self._set("running", position=position)
                continue
            applied += len(notifications)
            position = end
            self._set("running", position=position)
        self._set("caught_up", position=position)
        return applied

    def _apply_page(self, start: int, end: int, notifications: Sequence[Notification]) -> None:
        try:
            self._write_page(start, end, notifications, commit=True, eager=False)
        except PASS_THROUGH:
            raise
        except Exception as error:
            # The view refused the page's rows when they were flushed: find the event by writing
            # each one on its own in a transaction that is rolled back, then report it.
            self._write_page(start, end, notifications, commit=False, eager=True)
            first = notifications[0]
            raise EventFailed(
                failure_of(first, f"the view refused positions {first.id}–{end}: {_one_line(error)}")
            ) from error

    def _write_page(
        self, start: int, end: int, notifications: Sequence[Notification], *, commit: bool, eager: bool
    ) -> None:
        mapper = self.app.mapper
        with self.view.page(self.app.name, start, end, commit=commit) as writer:
            for notification in notifications:
                try:
                    self.projection.apply(writer, mapper.to_domain_event(notification), notification)
                    if eager:
                        writer.flush()
                except TRANSIENT_ERRORS:
                    raise
                except Exception as error:
                    raise EventFailed(failure_of(notification, _one_line(error))) from error

    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Catch up, then poll every ``poll_interval`` seconds (or when woken) until ``stop`` is set."""
        backoff = poll_interval
        while not stop.is_set():
            try:
                self.run_once()
                backoff = poll_interval
            except TRANSIENT_ERRORS:
                log.warning("projection %s: store unavailable, retrying: %s", self.name, self._state.reason)
                backoff = min(backoff * 2, max(30.0, poll_interval))
            self._wakeup.wait(backoff)
            self._wakeup.clear()

    def wake(self) -> None:
        """Poll now (a hint: LISTEN/NOTIFY, or a writer in the same process)."""
        self._wakeup.set()

    def stop(self, stop: threading.Event) -> None:
        stop.set()
        self.wake()

    def resume(self) -> None:
        """Try again from the tracked position after a stop (e.g. once the projection is fixed)."""
        with self._lock:
            self._set("starting", position=self.view.position(self.app.name))

    def rebuild(self) -> int:
        """Empty the view and apply the whole log again; return how many events were applied."""
        with self._lock:
            self.view.reset(self.app.name)
            self._set("starting", position=0)
        return self.run_once()

    # Helpers ------------------------------------------------------------------------------

    def _head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _set(
        self, status: Status, *, position: int | None = None, failure: Failure | None = None, reason: str | None = None
    ) -> None:
        self._state = State(status, self._state.position if position is None else position, failure, reason, at=_now())


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
