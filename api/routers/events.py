"""The event log for API consumers: a page after a position, and a live stream (server-sent events).

Who reads it: the roles that read every kind of record — the auditor, the admin and the
coordinator — read the whole log, personal data only as :mod:`api.eventlog` says (the
coordinator). The others are refused (403) rather than given a filtered log: finance and
evaluators read only some kinds of record (neither reads elders; evaluators no claims), and a
volunteer only their own, which would mean loading the aggregate behind each event to tell whose
it is. They read through their resources (``/v1/visits``, ``/v1/claims``, ``/v1/volunteers/{id}``).

The stream resumes where it left off: each message's ``id`` is the event's log position, and a
reconnecting client sends it back as ``Last-Event-ID`` (which wins over ``?after=``). A comment
is sent every ``heartbeat`` seconds while nothing happens, and the key is checked again then (a
revoked key's stream ends). Blocking store calls run in the thread pool one short call at a
time; while waiting, a stream holds no thread: one :class:`LogWatch` per process polls the log's
head for all of them. A stream ends after ``max_seconds`` (the client reconnects with its
``Last-Event-ID``), when the client goes away, or when the store fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Authenticated, Read, services
from api.eventlog import MAX_POSITION, PERSONAL_READERS, Page, read_page
from api.eventlog import Query as LogQuery
from api.problems import RETRY_AFTER_S, ApiError, BadRequest, Forbidden
from api.schemas import errors
from ledger.errors import InvalidInput, TiexinError
from ledger.events import is_ledger_topic, topic_of
from ledger.store import store_errors_translated
from ledger.visits import Confirmer, ConfirmMethod, Visit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/events", tags=["events"])

LOG_READERS = ("auditor", "admin", "coordinator")
EXAMPLE_TOPIC = topic_of(Visit.Recorded)
STREAM_PAGE = 500
POLL_INTERVAL = 0.1
"""Seconds between two reads of the log's head while any stream waits (one reader per process)."""
RETRY_MS = 1000
MAX_STREAMS = 200
"""Open streams per process; one more is 503 (each costs a connection, never a waiting thread)."""


def log_reader(request: Request, principal: Authenticated) -> Read:
    if principal.role not in LOG_READERS:
        raise Forbidden(
            f"the log holds every kind of record, and a {principal.role} key reads only some: it takes an "
            "auditor's, admin's or coordinator's key; read records through their resources instead",
            role=principal.role,
        )
    return Read(services(request), principal)


LogReader = Annotated[Read, Depends(log_reader)]
After = Annotated[int, Query(ge=0, le=MAX_POSITION, description="Events after this log position (0: from the start).")]
Types = Annotated[
    list[str] | None,
    Query(
        alias="type",
        max_length=50,
        description=f"Only events of these stored types, e.g. `{EXAMPLE_TOPIC}`; repeat the parameter or "
        "separate with commas.",
        examples=[[EXAMPLE_TOPIC]],
    ),
]
Entities = Annotated[
    list[UUID] | None,
    Query(alias="entity", max_length=100, description="Only events of these entities (record ids); repeatable."),
]


class Principal(BaseModel):
    id: str
    role: str


class EventOut(BaseModel):
    """One stored event. ``data`` is the event's own fields; personal ones are ``null`` unless the key's role
    reads personal data, and ``redacted`` lists them."""

    position: int
    topic: str
    entity_id: str
    version: int
    recorded_at: str | None
    principal: Principal | None
    correlation_id: str | None
    data: dict[str, Any] | None
    redacted: list[str]
    error: Annotated[str | None, Field(description="present only if the stored event cannot be decoded")] = None


class EventPageOut(BaseModel):
    items: list[EventOut]
    next: Annotated[int, Field(description="pass as `after` for the next page")]
    head: Annotated[int, Field(description="the log's last position when this page was read")]
    more: Annotated[bool, Field(description="whether the log held more after `next` when read")]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "position": 1834, "topic": EXAMPLE_TOPIC,
                            "entity_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "version": 1,
                            "recorded_at": "2026-02-10T03:00:00+00:00",
                            "principal": {"id": "k_5d2c", "role": "volunteer"}, "correlation_id": "req-42",
                            "data": {"kind": "medical", "readings": None, "notes": None, "township": "高沟镇"},
                            "redacted": ["readings", "notes"],
                        }
                    ],
                    "next": 1834, "head": 1900, "more": True,
                }
            ]
        }
    )  # fmt: skip


def log_query(after: int, limit: int, types: list[str] | None, entities: list[UUID] | None) -> LogQuery:
    return LogQuery(after, limit, parse_types(types), frozenset(entities or ()))


def parse_types(values: list[str] | None) -> tuple[str, ...]:
    topics = [t.strip() for value in values or () for t in value.split(",") if t.strip()]
    unknown = [t for t in topics if not is_ledger_topic(t)]
    if unknown:
        raise InvalidInput("type", f"unknown event type {unknown[0][:100]!r}; types look like {EXAMPLE_TOPIC}")
    return tuple(dict.fromkeys(topics))


@router.get("", response_model=EventPageOut, responses=errors(400))
def list_events(
    read: LogReader,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many events (≤ 1000).")] = 100,
    types: Types = None,
    entities: Entities = None,
) -> JSONResponse:
    """The log after a position, a page at a time (auditor, admin, coordinator; personal data: coordinator)."""
    page = read_page(read.ledger, log_query(after, limit, types, entities), personal=personal(read))
    return JSONResponse({"items": page.items, "next": page.next, "head": page.head, "more": page.more})


def personal(read: Read) -> bool:
    return read.principal.role in PERSONAL_READERS


# The stream ------------------------------------------------------------------------------------

LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="The `id` of the last message received: resume after it."),
]
STREAM_DOC = """\
`text/event-stream`: for each event a message with `id` (its log position), `event` (its type) and
`data` (the event as in `GET /v1/events`); a comment (`: keep-alive`) every `heartbeat` seconds while
nothing happens. Reconnect with `Last-Event-ID` to get exactly the events after the last one received."""


STREAM_EXAMPLE_ITEM = {
    "position": 1834, "topic": topic_of(Visit.Confirmed), "entity_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10",
    "version": 2, "recorded_at": "2026-02-10T03:00:00+00:00", "principal": {"id": "k_5d2c", "role": "coordinator"},
    "correlation_id": None, "data": {"by": Confirmer.ELDER, "method": ConfirmMethod.SIGNATURE}, "redacted": [],
}  # fmt: skip


def message(item: dict[str, Any]) -> str:
    return f"id: {item['position']}\nevent: {item['topic']}\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"


STREAM_EXAMPLE = f"retry: {RETRY_MS}\n\n{message(STREAM_EXAMPLE_ITEM)}: keep-alive\n\n"


class TooManyStreams(ApiError):
    status, slug = 503, "too-many-streams"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}, "example": STREAM_EXAMPLE}},
                     "description": STREAM_DOC},
               **errors(400)},
)  # fmt: skip
async def stream(
    request: Request,
    read: LogReader,
    after: After = 0,
    types: Types = None,
    entities: Entities = None,
    heartbeat: Annotated[float, Query(ge=1, le=60, description="Seconds between keep-alive comments.")] = 15,
    max_seconds: Annotated[
        float, Query(ge=1, le=3600, description="The stream ends after this long; reconnect with Last-Event-ID.")
    ] = 300,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """Events as they are appended, as server-sent events, resumable with `Last-Event-ID` (as `GET /v1/events`)."""
    start = parse_last_event_id(last_event_id)
    query = log_query(after if start is None else start, STREAM_PAGE, types, entities)
    watch = log_watch(request.app)
    if watch.streams >= MAX_STREAMS:
        raise TooManyStreams("too many open streams; retry later", headers={"Retry-After": RETRY_AFTER_S})
    token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
    feed = Feed(read, query, token)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    messages = feed.messages(watch, heartbeat=heartbeat, lifetime=max_seconds)
    return StreamingResponse(messages, media_type="text/event-stream", headers=headers)


HEADS_DOC = (
    "The log's head position, once at the start and again each time it moves: `id` and `data.position` are "
    "the position; nothing of the events themselves. Any key: a page that shows a read model's position "
    "learns here that the model may have moved, and reads it again."
)


@router.get(
    "/heads",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"},
                                                        "example": 'id: 42\nevent: head\ndata: {"position": 42}\n\n'}},
                     "description": HEADS_DOC},
               **errors()},
)  # fmt: skip
async def heads(
    request: Request,
    principal: Authenticated,
    heartbeat: Annotated[float, Query(ge=1, le=60, description="Seconds between keep-alive comments.")] = 15,
    max_seconds: Annotated[
        float, Query(ge=1, le=3600, description="The stream ends after this long; reconnect to go on.")
    ] = 300,
) -> StreamingResponse:
    """The log's head as it moves, as server-sent events (any key; positions only, no events)."""
    watch = log_watch(request.app)
    if watch.streams >= MAX_STREAMS:
        raise TooManyStreams("too many open streams; retry later", headers={"Retry-After": RETRY_AFTER_S})
    token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
    keys = services(request).keys
    head = await anyio.to_thread.run_sync(watch.read_head)

    def still_allowed() -> bool:
        return keys.authenticate(token) is not None

    messages = head_messages(watch, head, still_allowed, heartbeat=heartbeat, lifetime=max_seconds)
    return StreamingResponse(messages, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def head_messages(
    watch: LogWatch, head: int, still_allowed: Callable[[], bool], *, heartbeat: float, lifetime: float
) -> AsyncIterator[str]:
    """One message per move of the head (moves that come together make one), keep-alives between."""
    now = time.monotonic()
    deadline, beat_due = now + lifetime, now + heartbeat
    watch.enter()
    try:
        yield f"retry: {RETRY_MS}\n\n{head_message(head)}"
        while time.monotonic() < deadline:
            if await watch.wait_past(head, min(beat_due, deadline) - time.monotonic()):
                head = watch.head
                yield head_message(head)
                continue
            if time.monotonic() >= beat_due:
                if not await anyio.to_thread.run_sync(still_allowed):
                    return
                yield ": keep-alive\n\n"
                beat_due = time.monotonic() + heartbeat
    except Exception as error:  # the response has started: end it; the client reconnects
        log.warning("a head stream ended: %s", type(error).__name__)
    finally:
        watch.leave()


def head_message(position: int) -> str:
    return f"id: {position}\nevent: head\ndata: {json.dumps({'position': position})}\n\n"


def parse_last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadRequest(
            "Last-Event-ID must be the id of a message of this stream: a log position", field="Last-Event-ID"
        )
    return int(text)


@dataclass
class Feed:
    """One client's stream: reads pages after its position, as its key may see them."""

    read: Read
    query: LogQuery
    token: str

    def page(self, after: int) -> Page:
        query = LogQuery(after, self.query.limit, self.query.topics, self.query.entities)
        return read_page(self.read.ledger, query, personal=personal(self.read))

    def still_allowed(self) -> bool:
        principal = self.read.services.keys.authenticate(self.token)
        return principal is not None and principal.role in LOG_READERS

    async def messages(self, watch: LogWatch, *, heartbeat: float, lifetime: float) -> AsyncIterator[str]:
        position = self.query.after
        now = time.monotonic()
        deadline, beat_due = now + lifetime, now + heartbeat
        watch.enter()
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while time.monotonic() < deadline:
                page = await anyio.to_thread.run_sync(self.page, position)
                if page.items:
                    yield "".join(message(item) for item in page.items)
                    beat_due = time.monotonic() + heartbeat
                position = page.next
                if page.more:
                    continue
                await watch.wait_past(position, min(beat_due, deadline) - time.monotonic())
                if time.monotonic() >= beat_due:
                    if not await anyio.to_thread.run_sync(self.still_allowed):
                        return
                    yield ": keep-alive\n\n"
                    beat_due = time.monotonic() + heartbeat
        except TiexinError as error:  # the store failed: the client resumes with Last-Event-ID
            log.warning("an event stream ended: %s", error.reason)
        except Exception as error:  # the response has started: end it, logged as the Guard would
            log.error("an event stream failed: %s", type(error).__name__)
        finally:
            watch.leave()


class LogWatch:
    """Reads the log's head every :data:`POLL_INTERVAL` while any stream waits, and wakes them when it moves."""

    def __init__(self, read_head: Callable[[], int], interval: float = POLL_INTERVAL) -> None:
        self.read_head = read_head
        self.interval = interval
        self.head = -1
        self.streams = 0
        self._moved: anyio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        self.streams += 1

    def leave(self) -> None:
        self.streams -= 1

    async def wait_past(self, position: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the head is past ``position``; whether it is."""
        with anyio.move_on_after(max(0.0, timeout)):
            while self.head <= position:
                self._ensure_polling()
                if self._moved is None:
                    self._moved = anyio.Event()
                await self._moved.wait()
        return self.head > position

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self.streams > 0:
            try:
                head = await anyio.to_thread.run_sync(self.read_head)
            except Exception as error:  # the streams find out themselves on their next read
                log.warning("the log's head cannot be read: %s", type(error).__name__)
                head = self.head
            if head != self.head:
                self.head = head
                moved, self._moved = self._moved, None
                if moved is not None:
                    moved.set()
            await anyio.sleep(self.interval)


def log_watch(app: FastAPI) -> LogWatch:
    watch: LogWatch | None = getattr(app.state, "log_watch", None)
    if watch is None:
        ledger = app.state.services.ledger

        def head() -> int:
            with store_errors_translated("the event store"):
                return int(ledger.recorder.max_notification_id() or 0)

        watch = app.state.log_watch = LogWatch(head)
    return watch
