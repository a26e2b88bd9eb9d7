"""History (from its read model): every event of one record, in order, with who, when and why.

``?as_of=`` travels in time: only the events *recorded* by then, so the answer is the record's
history as the ledger knew it on that date (a date means the end of that county day, Asia/Shanghai;
a date-time must carry its timezone). Rows hold no personal data (no names, addresses, phones or
readings): an auditor, a coordinator and finance read any record's; a volunteer's key only its own
records' (itself, its pairings, visits, claims and evaluations).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.problems import Forbidden
from api.reads import LIST_ERRORS, Page, Pages, ViewRead, view_reader
from api.schemas import EARLIEST, LATEST, examples
from ledger.common import COUNTY_TZ
from ledger.errors import InvalidInput
from ledger.events import topic_of
from ledger.store import store_errors_translated
from ledger.visits import DisputeReason, Visit
from projections.history import HistoryRow

router = APIRouter(prefix="/v1/history", tags=["history"])

HistoryRead = Annotated[ViewRead, Depends(view_reader("history", "auditor", "coordinator", "finance", "volunteer"))]


class HistoryItem(BaseModel):
    entity_id: UUID
    version: int
    position: Annotated[int, Field(description="the event's log position")]
    event: Annotated[str, Field(description="the event's short name, e.g. Recorded")]
    topic: str
    principal_id: Annotated[str | None, Field(description="the key that recorded it (null: the system)")]
    role: str | None
    recorded_at: Annotated[dt.datetime, Field(description="when the ledger recorded it")]
    happened_at: Annotated[dt.date | dt.datetime | None, Field(description="when what it records happened, if it says")]
    reason_code: str | None
    reason: str | None

    model_config = examples(
        {
            "entity_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "version": 2, "position": 1834,
            "event": "Disputed", "topic": topic_of(Visit.Disputed), "principal_id": "key_1f2e3d4c5b6a7988",
            "role": "coordinator", "recorded_at": "2026-02-12T03:00:00Z", "happened_at": None,
            "reason_code": DisputeReason.WRONG_TIME, "reason": None,
        }
    )  # fmt: skip


def parse_as_of(text: str | None) -> dt.datetime | None:
    """A county date (to its end) or an aware date-time; anything else is 422."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time(23, 59, 59, 999_999), COUNTY_TZ)
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("query.as_of", "must be a date (2026-03-31) or a date-time with its timezone") from None
    if moment.tzinfo is None:
        raise InvalidInput("query.as_of", "a date-time must carry its timezone (2026-03-31T18:00:00+08:00)")
    if not EARLIEST.date() <= moment.date() < LATEST.date():
        raise InvalidInput("query.as_of", f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


def check_own_record(read: ViewRead, entity_id: UUID) -> None:
    """A volunteer's key reaches the history of itself and of the records that name it."""
    mine = read.principal.volunteer_id
    if read.principal.role != "volunteer" or entity_id == mine:
        return
    with store_errors_translated("the event store"):
        try:
            record: object = read.services.ledger.repository.get(entity_id)
        except AggregateNotFoundError:
            record = None
    if record is None or getattr(record, "volunteer_id", None) != mine:
        raise Forbidden("this volunteer's key reads only the history of its own records")


def history_key(row: HistoryRow) -> tuple[int]:
    return (row.version,)


@router.get("/{entity_id}", response_model=Page[HistoryItem], responses=LIST_ERRORS)
def history(
    entity_id: UUID,
    read: HistoryRead,
    pages: Pages,
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="only events recorded by then: a date (end of that county day) or an aware date-time",
            examples=["2026-03-31"],
        ),
    ] = None,
) -> Page[HistoryItem]:
    """Every event of one record, by version, with who, when and why; `as_of` for the record as known then."""
    moment = parse_as_of(as_of)
    check_own_record(read, entity_id)
    view = read.view()
    position = read.position()  # read first: the rows reflect at least this position
    rows = view.of(entity_id, moment)
    chosen, cursor = pages.page(rows, history_key)
    items = [
        HistoryItem(
            entity_id=r.entity_id, version=r.version, position=r.position, event=r.event, topic=r.topic,
            principal_id=r.principal_id, role=r.role, recorded_at=r.recorded_at, happened_at=r.happened_at,
            reason_code=r.reason_code, reason=r.reason,
        )
        for r in chosen
    ]  # fmt: skip
    return Page[HistoryItem](items=items, next_cursor=cursor, **read.meta(position))
