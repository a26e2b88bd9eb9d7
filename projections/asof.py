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
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
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


class AsOfFailed(TiexinError):
    """The replay met an event the read model cannot apply (as the live one would stop there)."""


def recorded_by(known_on: date | datetime) -> Callable[[Any, Notification], bool]:
    """Accepts the events recorded on or before ``known_on`` (see the module's docstring)."""
    if isinstance(known_on, datetime):
        if known_on.tzinfo is None:
            raise InvalidInput("known_on", "a date-time must be timezone-aware")
        instant = known_on
        return lambda event, _: bool(event.timestamp <= instant)
    if not isinstance(known_on, date):
        raise InvalidInput("known_on", "must be a date or a timezone-aware date-time")
    before = datetime.combine(known_on + timedelta(days=1), time(0), tzinfo=COUNTY_TZ)
    return lambda event, _: bool(event.timestamp < before)


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
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise InvalidInput("position", "must be a log position (0 or more)")
    accept = recorded_by(known_on) if known_on is not None else None
    registry.load(name)
    folder = tempfile.mkdtemp(prefix=f"tiexin-asof-{name}-")
    log = ledger or open_log(ledger_url, master_key)
    try:
        projection = registry.open_projection(name, f"sqlite:///{folder}/asof.db")
        try:
            runner = Runner(log, projection, page_size=page_size, until=position, accept=accept, save_status=False)
            with store_errors_translated(f"the store at {redact(ledger_url)}"):
                runner.run_once()
            failure = runner.state.failure
            if failure is not None:
                raise AsOfFailed(
                    f"read model {name!r} cannot apply position {failure.position} "
                    f"({failure.topic}, {failure.originator_id} v{failure.originator_version}): {failure.reason}"
                )
            yield projection
        finally:
            projection.paged_view.close()
    finally:
        if ledger is None:
            log.close()
        shutil.rmtree(folder, ignore_errors=True)
