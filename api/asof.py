"""Time travel over HTTP: ``?as_of=DATE`` on the read models' answers, ``?version=N`` on one record.

**As known on a day** (``?as_of=2026-03-31``). The answer is the read model as it stood once the
ledger had recorded everything it recorded by the end of that county day (Asia/Shanghai) — by the
events' *recorded* time, not the dates they are about. It comes from the log, with the live
model's own code: :func:`projections.asof.cut_known_on` finds the day's **position cut** (the last
position recorded by then) by bisecting the log, and the read model is replayed up to it into a
throwaway view (:class:`projections.asof.AsOfViews`: the last few kept, a few replays at once).
A route opts in by taking its reader from :func:`as_of_reader` instead of
:func:`api.reads.view_reader`; the read it gets answers ``view()`` and ``meta()`` from the replayed
view, so the route's code is the live one. The answer says ``as_of`` and the ``position`` it
reflects (the cut), ``projection_state: as_of``, and ``X-Tiexin-As-Of``.

- ``as_of`` today is the live answer (saying ``as_of``); a day after today is 422, and so is a
  malformed or impossible date.
- A replay that is not done within :data:`REPLAY_WAIT` seconds answers 503 with ``Retry-After``
  while it goes on; its view is kept, so the retry is served from it. A request that would start
  one more replay than allowed at once waits (within the same :data:`REPLAY_WAIT`) for one to
  end, then answers 503 with ``Retry-After``. A replay that meets an event the read model cannot
  apply answers 409 (as a live model would stop there).

**One record at a version** (``?version=3``): the aggregate as it was after its third event
(:func:`load_version`, the library's ``repository.get(id, version=3)``); a version past the
current one is 404. The personal-data rules are the live read's, and a person forgotten since is
forgotten in every version (:func:`forget_if_forgotten`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from fastapi import Depends, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.deps import Services
from api.problems import ApiError
from api.reads import Page, Paging, ReadMeta, ViewRead, set_headers, view_reader
from api.schemas import EARLIEST, LATEST, errors
from ledger.application import Ledger
from ledger.common import county_date
from ledger.errors import InvalidInput, NotFound
from ledger.personal import placeholder
from ledger.store import store_errors_translated
from projections.asof import AsOfFailed, AsOfViews, Kept, ReplayCancelled, ReplaysBusy, cut_known_on

A = TypeVar("A", bound=Aggregate)
Item = TypeVar("Item")

AS_OF = "as_of"
"""The ``projection_state`` of an answer replayed from the log as known on a day."""
REPLAY_WAIT = 10.0
"""Seconds a request waits for a replay before answering 503 (the replay goes on, and is kept)."""
HOLD_ATTEMPTS = 3
BUSY_POLL = 0.05
"""How often a request waiting for a free replay slot asks again (seconds)."""
AS_OF_LIST_ERRORS = errors(400, 409)
"""What a list that takes ``?as_of=`` answers besides 200: a foreign cursor 400, a replay that failed 409."""

AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=10,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="as known on this county day (YYYY-MM-DD, to its end, by when events were recorded): "
        "the read model replayed from the log up to the last position recorded by then; today: live",
        examples=["2026-03-31"],
    ),
]
AsOfField = Annotated[
    dt.date | None, Field(description="the county day the answer is as known on (?as_of=); null: a live answer")
]
VersionQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**31,
        description="the record as it was at this version (an ETag it had); past the current version: 404",
        examples=[1],
    ),
]


class AsOfPage(Page[Item], Generic[Item]):
    """A page of a list that takes ``?as_of=``."""

    as_of: AsOfField = None


class AsOfUnavailable(ApiError):
    """The replay for ``?as_of=`` is not ready (still running, or too many at once): retry after a while."""

    status, slug = 503, "as-of-unavailable"


class AsOfReplayFailed(ApiError):
    """The read model cannot apply an event of the log up to the day's cut (as a live model would stop)."""

    status, slug = 409, "as-of-replay-failed"


# The day ------------------------------------------------------------------------------------


def parse_day(text: str) -> dt.date:
    """A county date, YYYY-MM-DD, from 2000 to 2099 (anything else: 422 naming ``query.as_of``)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("query.as_of", "must be a calendar date, YYYY-MM-DD (such as 2026-03-31)") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise InvalidInput("query.as_of", f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return day


def check_not_after(day: dt.date, today: dt.date) -> None:
    if day > today:
        raise InvalidInput("query.as_of", f"is after today ({today}, the county's date): the ledger knows no future")


def read_today(read: ViewRead) -> dt.date:
    """The county's today for this read: the ``as_of`` day, or the clock's."""
    if isinstance(read, AsOfRead):
        return read.as_of
    return county_date(read.services.settings.clock())


# The read -------------------------------------------------------------------------------------


@dataclass
class AsOfRead(ViewRead):
    """A read as known on :attr:`as_of`: from the replayed view :attr:`kept` (None: today, live)."""

    as_of: dt.date = dt.date.min
    kept: Kept | None = None

    @property
    def available(self) -> bool:
        return True if self.kept is not None else super().available

    def view(self) -> Any:
        return self.kept.replayed.view if self.kept is not None else super().view()

    def position(self) -> int:
        return self.kept.replayed.position if self.kept is not None else super().position()

    def meta(self, position: int) -> dict[str, Any]:
        """The answer's position, lag (the ledger's head minus it) and state ``as_of``, and ``as_of``."""
        if self.kept is None:
            found = super().meta(position)
        else:
            head = self.services.reads.head() if self.services.reads is not None else ledger_head(self.services)
            lag = max(0, head - position)
            set_headers(self.response, position, lag, AS_OF)
            found = {"position": position, "lag": lag, "projection_state": AS_OF, "projection_reason": None}
        self.response.headers["X-Tiexin-As-Of"] = self.as_of.isoformat()
        return {**found, "as_of": self.as_of}

    async def page(self, pages: Paging, build: Callable[[], ReadMeta], *also: Hashable, keep: bool = True) -> Response:
        """The page ``build`` makes, whole (never kept: the replayed view is kept instead)."""
        made = await run_in_threadpool(build)
        body = made.__pydantic_serializer__.to_json(made)
        headers = {k: v for k, v in self.response.headers.items() if k.startswith("x-tiexin-")}
        return Response(body, media_type="application/json", headers=headers)


def ledger_head(services: Services) -> int:
    with store_errors_translated("the event store"):
        return services.ledger.recorder.max_notification_id() or 0


def as_of_views(request: Request) -> AsOfViews:
    found = getattr(request.app.state, "asof", None)
    if not isinstance(found, AsOfViews):
        raise AsOfUnavailable("as-of reads are not open in this process", headers={"Retry-After": "5"})
    return found


def open_as_of_views(services: Services) -> AsOfViews:
    """The replayed views of a serving process (closed with it)."""
    return AsOfViews(services.ledger, services.settings.database_url)


def as_of_reader(model: str, *roles: str) -> Callable[..., AsyncIterator[ViewRead]]:
    """:func:`api.reads.view_reader` that also takes ``?as_of=DATE`` (see the module's docstring)."""
    live = view_reader(model, *roles)

    async def dependency(
        request: Request,
        as_of: AsOfQuery = None,
        read: ViewRead = Depends(live),  # noqa: B008 (a closure's)
    ) -> AsyncIterator[ViewRead]:
        if as_of is None:
            yield read
            return
        day = parse_day(as_of)
        today = county_date(read.services.settings.clock())
        check_not_after(day, today)
        if day == today:
            yield AsOfRead(read.services, read.principal, model, read.after, read.response, read.fresh, as_of=day)
            return
        views = as_of_views(request)
        cut = await run_in_threadpool(cut_known_on, read.services.ledger, day)
        kept = await held(views, model, cut, day)
        try:
            yield AsOfRead(read.services, read.principal, model, None, read.response, True, as_of=day, kept=kept)
        finally:
            views.release(kept)

    return dependency


async def held(views: AsOfViews, model: str, cut: int, day: dt.date) -> Kept:
    """The replayed view of ``model`` up to ``cut``, held for reading; 503 when it is not ready within
    :data:`REPLAY_WAIT` seconds, waiting for a replay to end first if as many as allowed are running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REPLAY_WAIT
    for _ in range(HOLD_ATTEMPTS):
        future = await started(views, model, cut, deadline)
        try:
            if future.done():
                kept = future.result()
            else:
                remaining = max(BUSY_POLL, deadline - loop.time())
                waited = asyncio.wrap_future(future)
                waited.add_done_callback(_retrieved)  # a replay that fails after its request gave up logs nothing
                kept = await asyncio.wait_for(asyncio.shield(waited), remaining)
        except TimeoutError:
            progress = views.progress(model, cut)
            wait = progress.eta() if progress is not None else 1
            done = f", {progress.position:,} of {progress.target:,} positions so far" if progress else ""
            raise AsOfUnavailable(
                f"the {model} read model is being replayed up to position {cut:,} (as known on {day}){done}; "
                f"retry in about {wait} s",
                headers={"Retry-After": str(wait)},
                position=cut,
            ) from None
        except AsOfFailed as failed:
            raise AsOfReplayFailed(failed.reason, position=cut) from None
        except ReplayCancelled as cancelled:
            raise AsOfUnavailable(cancelled.reason, headers={"Retry-After": "5"}) from None
        if views.hold(kept):
            return kept
    raise AsOfUnavailable("as-of views are being replaced faster than they are read", headers={"Retry-After": "1"})


def _retrieved(future: asyncio.Future[Kept]) -> None:
    if not future.cancelled():
        future.exception()


async def started(views: AsOfViews, model: str, cut: int, deadline: float) -> Future[Kept]:
    """The replay's future; while as many replays run as allowed, wait for one to end until ``deadline`` (503)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return views.start(model, cut)
        except ReplaysBusy as busy:
            if loop.time() >= deadline:
                raise AsOfUnavailable(busy.reason, headers={"Retry-After": str(busy.retry_after)}) from None
        except ReplayCancelled as cancelled:
            raise AsOfUnavailable(cancelled.reason, headers={"Retry-After": "5"}) from None
        await asyncio.sleep(BUSY_POLL)


# One record at a version ------------------------------------------------------------------------


def load_version(ledger: Ledger, cls: type[A], ident: UUID, kind: str, version: int | None) -> A:
    """The aggregate as it is now (``version`` None) or as it was at ``version`` (404 past the current one)."""
    with store_errors_translated("the event store"):
        try:
            aggregate: Aggregate = ledger.repository.get(ident, version=version)
        except AggregateNotFoundError:
            raise NotFound(kind, ident) from None
    if not isinstance(aggregate, cls):
        raise NotFound(kind, ident)
    if version is not None and aggregate.version != version:
        missing = NotFound(kind, ident)
        missing.reason = f"the {kind} with id {ident} has no version {version}: it is at version {aggregate.version}"
        raise missing
    return aggregate


def forget_if_forgotten(ledger: Ledger, record: Any, subject_id: UUID, *fields: str) -> bool:
    """A past version of a person forgotten since: their fields read as forgotten (whatever a stale key
    cache decoded), and ``forgotten`` is set where the record has it. True when so."""
    if not ledger.is_forgotten(subject_id):
        return False
    for name in fields:
        setattr(record, name, placeholder(name))
    if hasattr(record, "forgotten"):
        record.forgotten = True
    return True


__all__ = [
    "AS_OF",
    "AS_OF_LIST_ERRORS",
    "AsOfField",
    "AsOfPage",
    "AsOfQuery",
    "AsOfRead",
    "AsOfReplayFailed",
    "AsOfUnavailable",
    "VersionQuery",
    "as_of_reader",
    "forget_if_forgotten",
    "load_version",
    "open_as_of_views",
    "read_today",
]
