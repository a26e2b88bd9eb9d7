"""One pass for all read models: the log is read once and each event decoded once, for every model.

A :class:`~projections.runner.Runner` alone reads the log filtered by its projection's topics and
decodes what it reads. Rebuilding six read models that way reads and decodes the log six times,
and keeping six caught up after a write costs six reads of the head and six reads of the log.
:class:`OnePass` drives several runners together instead:

- it reads the log once, from the lowest position among them, in pages (filtered by the topics
  any of them takes; unfiltered if one takes every event);
- it decodes each event of the page once (:func:`projections.runner.decode_page`);
- it hands the page to each runner (:meth:`Runner.take_page`), which applies the events after its
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
from typing import Any

from eventsourcing.application import Application

from projections.runner import (
    DEFAULT_PAGE_SIZE,
    SCAN_WINDOW_PAGES,
    TRANSIENT_ERRORS,
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

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def run_once(self) -> int:
        """Bring every runner that is not stopped up to the head as it is now; return events applied.

        A failure to read the log is raised after every runner behind says ``retrying``.
        """
        head = self.head()
        applied = 0
        going = [runner for runner in self.runners if runner.state.status != "stopped"]
        while True:
            behind = [runner for runner in going if runner.position < head]
            if not behind:
                break
            start = min(runner.position for runner in behind)
            stop = min(head, start + self.page_size * SCAN_WINDOW_PAGES)
            try:
                notifications = self.app.recorder.select_notifications(
                    start=start + 1, limit=self.page_size, stop=stop, topics=topics_of(behind)
                )
                page = decode_page(self.app.mapper, notifications)
            except TRANSIENT_ERRORS as error:
                for runner in behind:
                    runner.report_retrying(error)
                raise
            end = stop if len(notifications) < self.page_size else notifications[-1].id
            for runner in behind:
                taken = runner.take_page(end, page, head)
                self.applied[runner.view.view_name] += taken
                applied += taken
            # A runner that failed this page (stopped, or its store is down) sits out the rest of
            # the pass, so the pass never reads the same page forever for it.
            going = [runner for runner in going if runner.state.status not in ("stopped", "retrying")]
            if self.on_page is not None:
                self.on_page(end, head)
        for runner in self.runners:
            runner.settle(head)
        return applied

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
