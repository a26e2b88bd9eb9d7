"""One pass for all read models: the log is read once and each event decoded once, for every model.

A :class:`~projections.runner.Runner` alone reads the log filtered by its projection's topics and
decodes what it reads. Rebuilding six read models that way reads and decodes the log six times,
and keeping six caught up after a write costs six reads of the head and six reads of the log.
:class:`OnePass` drives several runners together instead:

- it reads the log once, from the lowest position among them, in pages (filtered by the topics
  any of them takes; unfiltered if one takes every event);
- it decodes each event of the page once (:func:`projections.runner.decode_page`);
- it hands the page to each runner (:meth:`Runner.take_page`), all at once in threads while it
  reads the next page, and each applies the events after its
  own position that its projection takes and moves **its own** tracking row to the page's end, in
  **its own** view transaction. So each read model still commits exactly once per page with its
  own tracking row, as a runner alone does: a crash before a model's commit leaves that model's rows
  and position as they were, and the next pass applies the page to it again, and to no other.

One model that stops on an event, or whose store fails, leaves the others going: the pass skips it
from then on (a stopped one until it is resumed; one retrying until the next pass). A pass reads
the head once and uses the positions the runners last committed, not their tracking rows: a write
that wakes the read side costs one read of the head, one read of the log and one commit per model.
Wake-ups are coalesced: writes made while a pass runs are all caught by the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

from eventsourcing.application import Application

from projections.runner import (
    DEFAULT_PAGE_SIZE,
    SCAN_WINDOW_PAGES,
    TRANSIENT_ERRORS,
    Decoded,
    Runner,
    decode_page,
)

log = logging.getLogger(__name__)


class OnePass:
    """Keeps several runners on one log caught up with a single read of it (see the module)."""

    def __init__(self, app: Application[Any], runners: Sequence[Runner[Any]], *, page_size: int = DEFAULT_PAGE_SIZE):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if any(runner.until is not None for runner in runners):
            raise ValueError("a one pass follows the head: as-of runners (until=) run alone")
        self.app = app
        self.runners = list(runners)
        self.page_size = page_size
        self.on_page: Callable[[int, int], None] | None = None
        """Called with (position, target) after each page is handed to every runner (a progress bar)."""
        self.applied: dict[str, int] = {runner.view.view_name: 0 for runner in self.runners}
        """Events applied to each read model so far, by its view's name."""
        self._wakeup = threading.Event()
        self._pool: futures.ThreadPoolExecutor | None = None

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def run_once(self) -> int:
        """Bring every runner that is not stopped up to the head as it is now; return events applied.

        The models apply a page at the same time, each in a thread of its own, while the next
        page is read and decoded: waiting for a view's store (its commit, its round trips)
        releases the interpreter to the others, so the store's work and ours overlap. A failure to
        read the log is raised after every runner behind says ``retrying``.
        """
        head = self.head()
        applied = 0
        behind = [runner for runner in self.runners if runner.state.status != "stopped" and runner.position < head]
        reading = self._read_page_after(behind, head) if behind else None
        while reading is not None:
            try:
                page, end = reading.result()
            except TRANSIENT_ERRORS as error:
                for runner in behind:
                    runner.report_retrying(error)
                raise
            # Where each runner will stand if it takes the page: the next page can be read now.
            still = [runner for runner in behind if max(runner.position, end) < head]
            reading = self._read_page_after(still, head, end) if still else None
            applying = [self.pool.submit(runner.take_page, end, page, head) for runner in behind]
            futures.wait(applying)
            for runner, done in zip(behind, applying, strict=True):
                taken = done.result()
                self.applied[runner.view.view_name] += taken
                applied += taken
            # A runner that failed this page (stopped, or its store is down) sits out the rest of
            # the pass, so the pass never reads the same page forever for it.
            behind = [runner for runner in still if runner.state.status not in ("stopped", "retrying")]
            if self.on_page is not None:
                self.on_page(end, head)
            if not behind and reading is not None:
                futures.wait([reading])  # read for runners that have since failed: not needed
                reading = None
        for runner in self.runners:
            runner.settle(head)
        return applied

    def _read_page_after(
        self, runners: Sequence[Runner[Any]], head: int, end: int = 0
    ) -> futures.Future[tuple[list[Decoded], int]]:
        """Read and decode, in the background, the page after the lowest position of ``runners``
        (each counted as at least ``end``, the page they are taking now)."""
        start = min(max(runner.position, end) for runner in runners)
        return self.pool.submit(self._read_page, start, head, topics_of(runners))

    def _read_page(self, start: int, head: int, topics: tuple[str, ...]) -> tuple[list[Decoded], int]:
        """The decoded events of the page after ``start``, and the position the page ends at."""
        stop = min(head, start + self.page_size * SCAN_WINDOW_PAGES)
        notifications = self.app.recorder.select_notifications(
            start=start + 1, limit=self.page_size, stop=stop, topics=topics
        )
        # A short page reached the window's end; filtered topics may leave a gap up to it.
        end = stop if len(notifications) < self.page_size else notifications[-1].id
        return decode_page(self.app.mapper, notifications), end

    @property
    def pool(self) -> futures.ThreadPoolExecutor:
        """A thread per runner, and one to read ahead (started on first use, ended by :meth:`close`)."""
        if self._pool is None:
            self._pool = futures.ThreadPoolExecutor(len(self.runners) + 1, thread_name_prefix="one-pass")
        return self._pool

    def close(self) -> None:
        """End the pass's threads (after :meth:`run_forever` returned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> OnePass:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Pass over the log every ``poll_interval`` seconds (or when woken) until ``stop`` is set.

        Between passes it only waits, waking to save each runner's heartbeat when due. An error
        that is neither the store's nor an event's (a bug) stops every runner with the reason.
        """
        backoff = poll_interval
        next_poll = time.monotonic()
        while not stop.is_set():
            if self._wakeup.is_set() or time.monotonic() >= next_poll:
                self._wakeup.clear()
                backoff = self._poll(backoff, poll_interval)
                next_poll = time.monotonic() + backoff
            for runner in self.runners:
                runner.beat()
            next_beat = min(runner.next_beat() for runner in self.runners) if self.runners else float("inf")
            self._wakeup.wait(max(0.0, min(next_poll, next_beat) - time.monotonic()))

    def _poll(self, backoff: float, poll_interval: float) -> float:
        try:
            self.run_once()
            return poll_interval
        except TRANSIENT_ERRORS as error:
            log.warning("read models: store unavailable, retrying: %s", error)
            return min(backoff * 2, max(30.0, poll_interval))
        except Exception as error:
            log.exception("read models stopped")
            for runner in self.runners:
                runner.report_stopped(error)
            return poll_interval

    def wake(self) -> None:
        """Pass over the log now (a hint: LISTEN/NOTIFY, or a writer in the same process)."""
        self._wakeup.set()

    def rebuild(self) -> int:
        """Empty every runner's view and apply the whole log again in one pass; return events applied."""
        for runner in self.runners:
            runner.forget()
        return self.run_once()


def topics_of(runners: Sequence[Runner[Any]]) -> tuple[str, ...]:
    """The topics any of the runners takes (none, read everything, if one takes every event)."""
    wanted: dict[str, None] = {}
    for runner in runners:
        if not runner.projection.topics:
            return ()
        wanted.update(dict.fromkeys(runner.projection.topics))
    return tuple(wanted)
