"""What every read from a read model shares: who may ask, waiting for a write, position and lag, pages.

A route declares its read model and roles with one alias (``RosterRead = Annotated[ViewRead,
Depends(view_reader("roster", "coordinator", "auditor"))]``). The dependency authenticates (401),
checks the role (403) and, given ``?after=POSITION``, waits (asynchronously: no worker thread is
held) until the read model has applied the log up to there — at most ``?wait=`` seconds (default
:attr:`~api.settings.ApiSettings.read_wait`, at most :attr:`~api.settings.ApiSettings.read_wait_max`).
It never fails for want of the position: past the wait, the read answers with what it has.

Every answer says what it reflects, in its body and its headers:

- ``position`` / ``X-Tiexin-Position``: the last log position the read model had applied;
- ``lag`` / ``X-Tiexin-Lag``: the ledger's head minus that position, when answered;
- ``projection_state`` / ``X-Tiexin-Projection-State``: ``caught_up`` or ``running`` when the
  read model is live; ``stopped`` (with ``projection_reason``: the event it cannot apply and
  why), ``retrying``, ``offline``, ``not running``, ``never run`` or ``unavailable`` when it is
  not — its rows are then as of ``position`` and no later; ``ledger`` for a read of the ledger's
  own records (never behind);
- ``X-Tiexin-Behind``: only when ``?after`` was given and not reached in time, how many
  positions short of it the answer is.

Lists are pages: ``?limit=`` (1–500, default 50) and ``?cursor=`` (opaque, from the previous
page's ``next_cursor``; bound to the query's filters). Pages are keyset-paged, so rows that come
or go between two pages never make a page repeat or skip the rows that stayed.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, get_args

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Authenticated, Services, check_role, services
from api.keys import Principal
from api.problems import ApiError, BadRequest
from api.readside import ModelState, ReadSide
from api.schemas import errors

T = TypeVar("T")
Item = TypeVar("Item")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
LEDGER = "ledger"
"""The ``projection_state`` of a read of the ledger's own records."""
PAGING_PARAMS = frozenset({"limit", "cursor", "after", "wait"})
LIST_ERRORS = errors(400)
"""What a list answers besides 200: a cursor not of this query is 400."""


class ReadModelUnavailable(ApiError):
    """The read model cannot be read in this process (its module failed to load, or no read side)."""

    status, slug = 503, "read-model-unavailable"


# What every answer carries -------------------------------------------------------------------


class ReadMeta(BaseModel):
    position: Annotated[int, Field(description="the last log position the answer reflects")]
    lag: Annotated[int, Field(description="the ledger's head minus `position` when answered")]
    projection_state: Annotated[
        str,
        Field(
            description="caught_up or running: live; stopped, retrying, offline, not running, never run, "
            "unavailable: not advancing (the answer is as of `position`); ledger: read from the ledger itself"
        ),
    ]
    projection_reason: Annotated[str | None, Field(description="why the read model is not live")] = None


META_FIELDS = set(ReadMeta.model_fields)
"""What an answer says of the moment it is sent (never kept: :meth:`ViewRead.page`)."""
EXAMPLE_META = {"position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None}


def page_example(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """A page's example, made of its item's (each ``Page[Item]`` is a class of its own)."""
    [item] = get_args(cls.model_fields["items"].annotation) or [None]
    extra = (
        item.model_config.get("json_schema_extra") if isinstance(item, type) and issubclass(item, BaseModel) else None
    )
    found = extra.get("examples") if isinstance(extra, dict) else None
    items = found[:1] if isinstance(found, list) else []
    schema["examples"] = [{**EXAMPLE_META, "items": items, "next_cursor": "WyI0YjFlIixbImxpYW5zaHVpIl1d"}]


class Page(ReadMeta, Generic[Item]):
    items: list[Item]
    next_cursor: Annotated[str | None, Field(description="pass as ?cursor= for the next page; null: the last")]

    model_config = ConfigDict(json_schema_extra=page_example)


@dataclass
class ViewRead:
    """A read from one read model, by one caller (what :func:`view_reader` hands a route)."""

    services: Services
    principal: Principal
    model: str
    after: int | None
    response: Response
    fresh: bool = False
    """The caller sent ``Cache-Control: no-cache``: answer from the view, not from kept answers."""

    @property
    def side(self) -> ReadSide:
        side = self.services.reads
        if side is None:
            raise ReadModelUnavailable("the read models are not open in this process")
        return side

    @property
    def available(self) -> bool:
        return self.services.reads is not None and self.services.reads.view(self.model) is not None

    def view(self) -> Any:
        view = self.side.view(self.model)
        if view is None:
            reason = self.side.state(self.model).reason
            raise ReadModelUnavailable(f"the {self.model} read model is unavailable: {reason}")
        return view

    def position(self) -> int:
        """The view's position now (for a view whose answers do not carry one)."""
        return self.side.position(self.model)

    def meta(self, position: int) -> dict[str, Any]:
        """The answer's position, lag and state: set as headers, returned for the body."""
        state = self.side.state(self.model, position) if self.available else ModelState("unavailable", "not open here")
        lag = max(0, self.side.head() - position) if self.services.reads is not None else 0
        set_headers(self.response, position, lag, state.state, self.after)
        return {
            "position": position,
            "lag": lag,
            "projection_state": state.state,
            "projection_reason": state.reason,
        }

    async def page(self, pages: Paging, build: Callable[[], ReadMeta], *also: Hashable, keep: bool = True) -> Response:
        """The page ``build`` makes (in a worker thread), or the one kept for this query at the
        model's position (:mod:`api.answers`); ``also``: whatever else the answer depends on;
        ``keep=False``: an answer that holds more than the read model (never kept).

        Its lag and state are always of now; the route's ``response_model`` documents the body.
        """

        def serialized() -> tuple[int, bytes]:
            made = build()
            return made.position, made.__pydantic_serializer__.to_json(made, exclude=META_FIELDS)

        return await self.serialized_page(pages, serialized, *also, keep=keep)

    async def serialized_page(
        self, pages: Paging, build: Callable[[], tuple[int, bytes]], *also: Hashable, keep: bool = True
    ) -> Response:
        """:meth:`page`, for a ``build`` that serializes its answer itself: it returns the position
        its rows reflect and the JSON object of everything but the :class:`ReadMeta` fields (at
        least one field: ``{"items":[...],...}``), byte for byte what the route's ``response_model``
        would serialize. No row need become an object on the way (the roster's pages)."""
        key = (pages.scope, pages.limit, pages.cursor, self.principal.role, self.principal.volunteer_id, *also)
        reads = self.services.reads
        answers = reads.answers if reads is not None and keep and self.available else None
        kept: tuple[int, bytes] | None = None
        if answers is not None and not self.fresh:
            now = self.side.live_position(self.model)
            if now is None:
                now = await run_in_threadpool(self.side.position, self.model)
            found = answers.get(self.model, key, now)
            kept = None if found is None else (now, found)
        if kept is None:
            kept = await run_in_threadpool(build)
            if answers is not None:
                answers.put(self.model, key, *kept)
        position, body = kept
        meta = json.dumps(self.meta(position), ensure_ascii=False, separators=(",", ":"))
        headers = {k: v for k, v in self.response.headers.items() if k.startswith("x-tiexin-")}
        return Response(meta[:-1].encode() + b"," + body[1:], media_type="application/json", headers=headers)


def set_headers(response: Response, position: int, lag: int, state: str, after: int | None = None) -> None:
    response.headers["X-Tiexin-Position"] = str(position)
    response.headers["X-Tiexin-Lag"] = str(lag)
    response.headers["X-Tiexin-Projection-State"] = state
    if after is not None and position < after:
        response.headers["X-Tiexin-Behind"] = str(after - position)


def ledger_meta(services: Services, response: Response) -> dict[str, Any]:
    """A read of the ledger's own records reflects its head (the aggregate cache fast-forwards)."""
    from ledger.store import store_errors_translated

    with store_errors_translated("the event store"):
        head = services.ledger.recorder.max_notification_id() or 0
    set_headers(response, head, 0, LEDGER)
    return {"position": head, "lag": 0, "projection_state": LEDGER, "projection_reason": None}


AfterQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**62,
        description="a write's log `position`: wait (bounded) until this read reflects it; "
        "past the wait, the answer says how far short it is (X-Tiexin-Behind)",
    ),
]
WaitQuery = Annotated[
    float | None, Query(gt=0, le=10, description="the most seconds to wait for ?after (default 2, at most 10)")
]


def view_reader(model: str, *roles: str) -> Callable[..., Awaitable[ViewRead]]:
    async def dependency(
        request: Request, response: Response, principal: Authenticated, after: AfterQuery = None, wait: WaitQuery = None
    ) -> ViewRead:
        check_role(principal, roles)
        found = services(request)
        if after is not None and found.reads is not None:
            settings = found.settings
            await found.reads.wait_for(model, after, min(wait or settings.read_wait, settings.read_wait_max))
        fresh = "no-cache" in request.headers.get("cache-control", "").lower()
        return ViewRead(found, principal, model, after, response, fresh)

    return dependency


# Pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    limit: int
    cursor: str | None
    scope: str
    """A digest of the path and the filters: a cursor is good only for the query that made it."""

    def page(self, rows: Sequence[T], key: Callable[[T], tuple[Any, ...]]) -> tuple[list[T], str | None]:
        """The rows after the cursor, at most ``limit``, and the cursor after them (None: no more)."""
        ordered = sorted(rows, key=key)
        start = 0
        if self.cursor is not None:
            last = self._decode(self.cursor)
            try:
                start = bisect.bisect_right(ordered, last, key=key)
            except TypeError:
                raise BadRequest("the cursor does not belong to this list", field="query.cursor") from None
        chosen = ordered[start : start + self.limit]
        more = start + self.limit < len(ordered)
        return chosen, (self._encode(key(chosen[-1])) if more and chosen else None)

    def after_key(self) -> tuple[Any, ...] | None:
        """The last key of the previous page, for a read model that pages in its own query."""
        return None if self.cursor is None else self._decode(self.cursor)

    def window(self, rows: Sequence[T], key: Callable[[T], tuple[Any, ...]]) -> tuple[list[T], str | None]:
        """The page of rows read past :meth:`after_key` in order, ``limit + 1`` of them: the first
        ``limit``, and the cursor after them if there was one more."""
        chosen = list(rows[: self.limit])
        return chosen, (self._encode(key(chosen[-1])) if len(rows) > self.limit and chosen else None)

    def cursor_after(self, key: tuple[Any, ...]) -> str:
        """The cursor of a page whose last row has this key (what :meth:`window` gives)."""
        return self._encode(key)

    def _encode(self, key: tuple[Any, ...]) -> str:
        raw = json.dumps([self.scope, list(key)], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode(self, cursor: str) -> tuple[Any, ...]:
        try:
            scope, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, TypeError):
            raise BadRequest("the cursor is not one this API gave", field="query.cursor") from None
        if scope != self.scope or not isinstance(key, list):
            raise BadRequest("the cursor belongs to another query (other path or filters)", field="query.cursor")
        return tuple(key)


LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items a page (1–500)")]
CursorQuery = Annotated[str | None, Query(max_length=2000, description="`next_cursor` of the previous page")]


async def paging(request: Request, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None) -> Paging:
    filters = sorted((k, v) for k, v in request.query_params.multi_items() if k not in PAGING_PARAMS)
    scope = hashlib.sha256(json.dumps([request.url.path, filters]).encode()).hexdigest()[:16]
    return Paging(limit, cursor, scope)


Pages = Annotated[Paging, Depends(paging)]
