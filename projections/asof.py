"""A read model as of the past: replayed into a throwaway view, never touching the live one.

``with replay_as_of(ledger_url, "scores", known_on=date(2026, 3, 31)) as scores: ...`` opens the
read model on a new SQLite file in a temporary folder (its module's ``open_projection`` with a
scratch URL: see :mod:`projections.registry`), applies the ledger's log to it with a
:class:`~projections.runner.Runner` that saves no status, yields the projection (ask it what you
would ask the live one), then closes the view and deletes the folder. The live views, their
tracking rows and their status are never read or written.

- ``position=N``: the log up to and including position N (the runner's ``until``).
- ``known_on=D``: only the events **recorded** (their ``timestamp``) on or before D — a date is
  the county's calendar day (Asia/Shanghai, to its end), an aware date-time an instant. The whole
  log is read and filtered event by event rather than stopping at the first event recorded after
  D: recording times follow log order for one process's clock, but two processes (or a clock
  corrected backwards) can commit an earlier-stamped event after a later-stamped one, and it was
  still known on D.
- both: the events up to N that were recorded by D. Neither: the whole log (a clean rebuild).

The replay runs at batch speed (big pages) and raises :class:`AsOfFailed` if an event cannot be
applied, as a live projection would stop there.

**As of a day, cheaply** (what the API's ``?as_of=`` and ``tiexin asof`` do): :func:`cut_known_on`
finds the **position cut** of a day — the last log position recorded by the end of it — by
bisecting the log over its positions (the store's primary key), reading about log₂(head) single
events rather than scanning the log; :func:`replay` then replays the log's prefix up to that cut,
which is exactly what the live read model had applied when that event was recorded. Recording
times follow log order within one process's clock; the cut also takes in events recorded by the
end of the day that were committed after a later-stamped one, within :data:`SKEW` after it.
:class:`AsOfViews` keeps the last few replayed views (keyed by read model and cut: the log is
append-only, so a prefix never changes) and runs at most a few replays at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import time as clock
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from ledger.common import COUNTY_TZ
from ledger.errors import InvalidInput, TiexinError
from ledger.settings import redact
from ledger.store import store_errors_translated
from projections import registry
from projections.runner import PagedProjection, Runner
from projections.service import open_log

REPLAY_PAGE_SIZE = 5000
SKEW = timedelta(minutes=5)
"""How far past the first event recorded after a day the cut still looks for one recorded by then
(committed late by a process whose clock was behind)."""
SKEW_SCAN_LIMIT = 2000
"""At most this many events are read past the bisected cut to look for such late commits."""
KEEP_VIEWS = 6
"""Replayed views kept by :class:`AsOfViews` (the least recently used is deleted first)."""
KEEP_BYTES = 1 << 30
"""Their files' total size kept by :class:`AsOfViews` at most (the latest view is kept whatever its size)."""
CONCURRENT_REPLAYS = 2
"""Replays :class:`AsOfViews` runs at once; one more is refused (:class:`ReplaysBusy`)."""


class AsOfFailed(TiexinError):
    """The replay met an event the read model cannot apply (as the live one would stop there)."""


class ReplayCancelled(TiexinError):
    """The replay was abandoned (its :class:`AsOfViews` was closed)."""


class ReplaysBusy(TiexinError):
    """As many replays as allowed are running: the caller should try again later."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def end_of(known_on: date | datetime) -> datetime:
    """The instant before which an event was recorded on or before ``known_on`` (a county day: its end)."""
    if isinstance(known_on, datetime):
        if known_on.tzinfo is None:
            raise InvalidInput("known_on", "a date-time must be timezone-aware")
        return known_on + timedelta(microseconds=1)
    if not isinstance(known_on, date):
        raise InvalidInput("known_on", "must be a date or a timezone-aware date-time")
    return datetime.combine(known_on + timedelta(days=1), time(0), tzinfo=COUNTY_TZ)


def recorded_by(known_on: date | datetime) -> Callable[[Any, Notification], bool]:
    """Accepts the events recorded on or before ``known_on`` (see the module's docstring)."""
    before = end_of(known_on)
    return lambda event, _: bool(event.timestamp < before)


# The position cut of a day ----------------------------------------------------------------------


def cut_known_on(ledger: Application[Any], known_on: date | datetime, *, head: int | None = None) -> int:
    """The last log position recorded on or before ``known_on`` (0: none), found by bisection.

    About log₂(head) reads of one event each, by position (the store's primary key), plus at most
    :data:`SKEW_SCAN_LIMIT` events past the bisected cut, those recorded within :data:`SKEW` of
    the day's end, for one recorded by then but committed after a later-stamped one.
    """
    before = end_of(known_on)
    recorder = ledger.recorder
    with store_errors_translated("the event store"):
        top = (recorder.max_notification_id() or 0) if head is None else head
        low, high = 0, top  # the cut is in [low, high]; low is 0 or a position recorded before the end
        while low < high:
            middle = (low + high + 1) // 2
            found = recorder.select_notifications(start=middle, limit=1, stop=high)
            if found and _recorded_at(ledger, found[0]) < before:
                low = found[0].id
            else:  # recorded at or after the end, or a gap in the positions up to high
                high = middle - 1
        return _late_commits(ledger, low, top, before)


def _late_commits(ledger: Application[Any], cut: int, head: int, before: datetime) -> int:
    """The cut moved to the last event recorded before ``before`` within :data:`SKEW` past it."""
    horizon = before + SKEW
    position, read = cut, 0
    while position < head and read < SKEW_SCAN_LIMIT:
        page = ledger.recorder.select_notifications(start=position + 1, limit=100, stop=head)
        if not page:
            break
        for notification in page:
            read += 1
            stamp = _recorded_at(ledger, notification)
            if stamp >= horizon:
                return cut
            if stamp < before:
                cut = notification.id
        position = page[-1].id
    return cut


def _recorded_at(ledger: Application[Any], notification: Notification) -> datetime:
    event: Any = ledger.mapper.to_domain_event(notification)
    stamp: datetime = event.timestamp
    return stamp


# Replaying ------------------------------------------------------------------------------------


@dataclass
class Replayed:
    """A read model replayed into a throwaway view: ask :attr:`view` what you would ask the live one."""

    name: str
    projection: PagedProjection[Any]
    position: int
    """The last log position the replay covered (the ``position`` of its answers)."""
    folder: str
    seconds: float = 0.0
    """How long the replay took."""
    applied: int = 0
    """How many events it applied."""

    @property
    def view(self) -> Any:
        return self.projection.paged_view

    def size(self) -> int:
        """The bytes its files take on disk."""
        total = 0
        for folder, _, files in os.walk(self.folder):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(folder, name))
        return total

    def close(self) -> None:
        try:
            self.projection.paged_view.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def replay(
    ledger_url: str,
    name: str,
    *,
    position: int | None = None,
    known_on: date | datetime | None = None,
    ledger: Application[Any] | None = None,
    page_size: int = REPLAY_PAGE_SIZE,
    master_key: bytes | None = None,
    on_page: Callable[[int, int], None] | None = None,
    base: Replayed | None = None,
) -> Replayed:
    """The read model ``name`` replayed as of ``position`` and/or ``known_on`` (see the module's
    docstring); the caller closes it. ``on_page(position, target)`` is called after each page (it
    may raise to abandon the replay). ``base``: a replay of the same read model up to an earlier
    position (and no ``known_on``), copied and carried on from there instead of from position 0."""
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise InvalidInput("position", "must be a log position (0 or more)")
    if base is not None and (base.name != name or known_on is not None or position is None or base.position > position):
        raise InvalidInput("base", "must be a replay of the same read model up to an earlier position")
    accept = recorded_by(known_on) if known_on is not None else None
    registry.load(name)
    started = clock.perf_counter()
    folder = tempfile.mkdtemp(prefix=f"tiexin-asof-{name}-")
    log = ledger or open_log(ledger_url, master_key)
    projection: PagedProjection[Any] | None = None
    try:
        if base is not None:
            copy_views(base.folder, folder)
        projection = registry.open_projection(name, f"sqlite:///{folder}/asof.db")
        runner = Runner(log, projection, page_size=page_size, until=position, accept=accept, save_status=False)
        runner.on_page = on_page
        with store_errors_translated(f"the store at {redact(ledger_url)}"):
            applied = runner.run_once()
        failure = runner.state.failure
        if failure is not None:
            raise AsOfFailed(
                f"read model {name!r} cannot apply position {failure.position} "
                f"({failure.topic}, {failure.originator_id} v{failure.originator_version}): {failure.reason}"
            )
        seconds = clock.perf_counter() - started
        return Replayed(name, projection, runner.position, folder, seconds, applied)
    except BaseException:
        if projection is not None:
            projection.paged_view.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if ledger is None:
            log.close()


def copy_views(source: str, target: str) -> None:
    """Copy the SQLite files of a replayed view, each a consistent snapshot (SQLite's online backup)."""
    for found in sorted(Path(source).glob("*.db")):
        reading = sqlite3.connect(f"file:{found}?mode=ro", uri=True)
        try:
            writing = sqlite3.connect(Path(target) / found.name)
            try:
                reading.backup(writing)
            finally:
                writing.close()
        finally:
            reading.close()


@contextmanager
def replay_as_of(
    ledger_url: str,
    name: str,
    *,
    position: int | None = None,
    known_on: date | datetime | None = None,
    ledger: Application[Any] | None = None,
    page_size: int = REPLAY_PAGE_SIZE,
    master_key: bytes | None = None,
) -> Iterator[PagedProjection[Any]]:
    """The read model ``name`` as of ``position`` and/or ``known_on``, in a throwaway view."""
    replayed = replay(
        ledger_url, name, position=position, known_on=known_on, ledger=ledger, page_size=page_size,
        master_key=master_key,
    )  # fmt: skip
    try:
        yield replayed.projection
    finally:
        replayed.close()


# Kept replays ---------------------------------------------------------------------------------


@dataclass
class Kept:
    """A replayed view kept by :class:`AsOfViews`; read it only between :meth:`AsOfViews.hold` and
    :meth:`AsOfViews.release` (an evicted view is deleted once nobody reads it)."""

    key: tuple[str, int]
    replayed: Replayed
    size: int = 0
    """Its files' bytes on disk."""
    readers: int = 0
    evicted: bool = False


@dataclass
class Progress:
    """How far a running replay has come."""

    started: float = field(default_factory=clock.monotonic)
    first: int = 0
    """Where it started (a kept view's position, or 0)."""
    position: int = 0
    target: int = 0

    def eta(self) -> int:
        """Seconds until it is likely done (at least 1)."""
        elapsed = clock.monotonic() - self.started
        done = self.position - self.first
        if done <= 0 or self.target <= self.position:
            return max(1, round(elapsed) or 1)
        return max(1, round(elapsed * (self.target - self.position) / done))


class AsOfViews:
    """Replayed read models for as-of reads: the last :data:`KEEP_VIEWS` kept (:data:`KEEP_BYTES` at most), and
    :data:`CONCURRENT_REPLAYS` replays at once.

    :meth:`start` gives a future of the view of a read model at a position cut: done at once when
    it is kept; the running replay's when one is under way for the same cut (two requests never
    replay the same thing twice); a new replay on this object's own threads otherwise, unless
    as many are running as allowed (:class:`ReplaysBusy`, with the seconds to wait). A new replay
    starts from a copy of the kept view of the same read model at the latest earlier cut, if any,
    and applies only the events since (stepping forward through the months costs each step's
    events, not the log's). A caller that stops waiting leaves the replay running: it is kept when
    done, for the caller's retry.
    """

    def __init__(
        self,
        ledger: Application[Any],
        url: str,
        *,
        keep: int = KEEP_VIEWS,
        keep_bytes: int = KEEP_BYTES,
        replays: int = CONCURRENT_REPLAYS,
        page_size: int = REPLAY_PAGE_SIZE,
    ) -> None:
        if keep < 1 or replays < 1:
            raise ValueError("keep and replays must be at least 1")
        self.ledger = ledger
        self.url = url
        self.keep = keep
        self.keep_bytes = keep_bytes
        self.replays = replays
        self.page_size = page_size
        self._kept: OrderedDict[tuple[str, int], Kept] = OrderedDict()
        self._running: dict[tuple[str, int], tuple[Future[Kept], Progress]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=replays, thread_name_prefix="tiexin-asof")

    def start(self, name: str, position: int) -> Future[Kept]:
        """The view of ``name`` replayed up to ``position``: kept, being replayed, or replayed now."""
        key = (name, position)
        with self._lock:
            if self._closed:
                raise ReplayCancelled("the as-of views are closed")
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                done: Future[Kept] = Future()
                done.set_result(kept)
                return done
            running = self._running.get(key)
            if running is not None:
                return running[0]
            if len(self._running) >= self.replays:
                wait = min(progress.eta() for _, progress in self._running.values())
                raise ReplaysBusy(
                    f"{len(self._running)} as-of replays are running, as many as this server runs at once; "
                    f"retry in about {wait} s",
                    retry_after=wait,
                )
            progress = Progress()
            future = self._pool.submit(self._replay, key, progress)
            self._running[key] = (future, progress)
            return future

    def progress(self, name: str, position: int) -> Progress | None:
        """How far the replay of ``name`` up to ``position`` has come (None: it is not running)."""
        with self._lock:
            running = self._running.get((name, position))
        return running[1] if running else None

    def hold(self, kept: Kept) -> bool:
        """Start reading a kept view (False: it was evicted meanwhile; ask :meth:`start` again)."""
        with self._lock:
            if kept.evicted or self._closed:
                return False
            kept.readers += 1
            return True

    def release(self, kept: Kept) -> None:
        """Done reading it: an evicted view nobody reads any more is deleted."""
        with self._lock:
            kept.readers -= 1
            close = kept.evicted and kept.readers == 0
        if close:
            kept.replayed.close()

    def kept(self) -> list[tuple[str, int]]:
        """The kept views' keys, least recently used first."""
        with self._lock:
            return list(self._kept)

    def close(self) -> None:
        """Abandon running replays (at their next page), delete every view nobody reads."""
        with self._lock:
            self._closed = True
            kept = list(self._kept.values())
            self._kept.clear()
            for each in kept:
                each.evicted = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        for each in kept:
            if each.readers == 0:
                each.replayed.close()

    def _base(self, name: str, position: int) -> Kept | None:
        """The kept view of ``name`` at the latest cut up to ``position``, held (None: none kept)."""
        with self._lock:
            earlier = [k for k in self._kept.values() if k.key[0] == name and k.key[1] <= position]
            if not earlier:
                return None
            base = max(earlier, key=lambda k: k.key[1])
            base.readers += 1
            return base

    def _replay(self, key: tuple[str, int], progress: Progress) -> Kept:
        name, position = key

        def on_page(at: int, target: int) -> None:
            progress.position, progress.target = at, target
            if self._closed:
                raise ReplayCancelled("the as-of views were closed during the replay")

        base = self._base(name, position)
        if base is not None:
            progress.first = progress.position = base.replayed.position
        try:
            replayed = replay(
                self.url, name, position=position, ledger=self.ledger, page_size=self.page_size, on_page=on_page,
                base=base.replayed if base is not None else None,
            )  # fmt: skip
        except BaseException:
            with self._lock:
                self._running.pop(key, None)
            raise
        finally:
            if base is not None:
                self.release(base)
        kept = Kept(key, replayed, replayed.size())
        evicted: list[Kept] = []
        with self._lock:
            self._running.pop(key, None)
            if self._closed:
                evicted.append(kept)
                kept.evicted = True
            else:
                self._kept[key] = kept
                while len(self._kept) > 1 and (
                    len(self._kept) > self.keep or sum(k.size for k in self._kept.values()) > self.keep_bytes
                ):
                    _, oldest = self._kept.popitem(last=False)
                    oldest.evicted = True
                    if oldest.readers == 0:
                        evicted.append(oldest)
        for each in evicted:
            each.replayed.close()
        if kept.evicted:
            raise ReplayCancelled("the as-of views were closed during the replay")
        return kept
