"""Volunteer meetings (志愿者座谈会): recorded by a coordinator, with the suggestions raised and their answers.

- ``POST /v1/meetings`` (coordinator): a meeting held (day, place, topic, the volunteers attending).
- ``POST /v1/meetings/{meeting_id}/suggestions`` (coordinator): a suggestion an attendee raised; it is
  numbered in the meeting (1, 2, …: the meeting's ``suggestions`` count after the write) and open.
- ``POST /v1/meetings/{meeting_id}/suggestions/{n}/answer`` (coordinator): the answer to suggestion
  ``n``, once: its text and status, ``adopted``, ``declined`` or ``noted``.
- ``GET /v1/meetings`` (coordinator, auditor; a volunteer's key: its own county's): a county's
  meetings, the latest held first, in pages; ``?open=true`` only those with a suggestion still open.
- ``GET /v1/meetings/{meeting_id}``: one meeting with its attendees and every suggestion and answer.

The reads load the meetings from the ledger, not from a read model: a county holds a few meetings
a year, so a list loads every meeting of the county (through its
:class:`~ledger.meetings.MeetingRegister`) and pages the answer; past hundreds, a read model would
replace it. Volunteers appear by id only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CoordinatorCreate, CoordinatorWrite, Read, etag, reader
from api.labels import Language
from api.problems import Forbidden
from api.reads import Page, Pages, ledger_meta
from api.schemas import (
    READ_ERRORS,
    TARGETED_WRITE_ERRORS,
    WRITE_ERRORS,
    Day,
    Text,
    WrittenOut,
    choice,
    errors,
    examples,
)
from api.service import load
from ledger.errors import NotFound
from ledger.labels import Lang, label
from ledger.meetings import ANSWERS, MAX_ATTENDEES, MAX_SUGGESTIONS, Meeting, MeetingRegister, SuggestionStatus
from ledger.meetings import register_id as meeting_register_id
from ledger.volunteers import Volunteer

router = APIRouter(prefix="/v1/meetings", tags=["meetings"])

MeetingReader = Annotated[Read, Depends(reader("coordinator", "auditor", "volunteer"))]
SuggestionNumber = Annotated[int, Path(ge=1, le=MAX_SUGGESTIONS, description="the suggestion's number in the meeting")]

A_VOLUNTEER, ANOTHER = "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11"


class MeetingIn(BaseModel):
    county: Annotated[Text | None, Field(description="the county's code; omitted: the home county")] = None
    held_on: Annotated[Day, Field(description="the day it was held (county date; not in the future)")]
    place: Annotated[Text, Field(max_length=200)]
    topic: Annotated[Text, Field(max_length=200)]
    attendees: Annotated[
        list[UUID], Field(min_length=1, max_length=MAX_ATTENDEES, description="the volunteers attending, each once")
    ]

    model_config = examples(
        {
            "held_on": "2025-06-18", "place": "县委老干部局三楼会议室", "topic": "上门服务中的困难和建议",
            "attendees": [A_VOLUNTEER, ANOTHER],
        }
    )  # fmt: skip


class SuggestionIn(BaseModel):
    text: Annotated[Text, Field(max_length=2000)]
    raised_by: Annotated[UUID, Field(description="the attendee who raised it")]

    model_config = examples({"text": "建议为偏远乡镇的志愿者提高交通补贴", "raised_by": A_VOLUNTEER})


class SuggestionAnswerIn(BaseModel):
    text: Annotated[Text, Field(max_length=2000)]
    status: Text = choice(ANSWERS, SuggestionStatus.ADOPTED)

    model_config = examples({"text": "已纳入2026年补贴政策修订", "status": SuggestionStatus.ADOPTED})


EXAMPLE_SUGGESTION = {
    "n": 1, "text": "建议为偏远乡镇的志愿者提高交通补贴", "raised_by": A_VOLUNTEER, "raised_at": "2025-06-20T02:00:00Z",
    "status": SuggestionStatus.ADOPTED, "status_label": "已采纳", "answer": "已纳入2026年补贴政策修订",
    "answered_by": "key_3f2a1b0c9d8e7f6a", "answered_at": "2025-07-01T02:00:00Z",
}  # fmt: skip


class SuggestionOut(BaseModel):
    n: Annotated[int, Field(description="its number in the meeting")]
    text: str
    raised_by: UUID
    raised_at: Annotated[dt.datetime, Field(description="when it was recorded")]
    status: str = choice(SuggestionStatus, SuggestionStatus.OPEN)
    status_label: Annotated[str, Field(description="in the language asked for (?lang=zh|en)")]
    answer: Annotated[str | None, Field(description="null: not answered yet")]
    answered_by: Annotated[str | None, Field(description="the key that answered it")]
    answered_at: dt.datetime | None

    model_config = examples(EXAMPLE_SUGGESTION)


EXAMPLE_MEETING = {
    "id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "version": 3, "county": "lianshui", "held_on": "2025-06-18",
    "place": "县委老干部局三楼会议室", "topic": "上门服务中的困难和建议", "attendees": 2, "suggestions": 1,
    "open_suggestions": 0,
}  # fmt: skip


class MeetingItem(BaseModel):
    id: UUID
    version: int
    county: str
    held_on: dt.date
    place: str
    topic: str
    attendees: Annotated[int, Field(description="how many volunteers attended")]
    suggestions: Annotated[int, Field(description="how many suggestions were raised")]
    open_suggestions: Annotated[int, Field(description="how many are not answered yet")]

    model_config = examples(EXAMPLE_MEETING)


class MeetingOut(BaseModel):
    id: UUID
    version: int
    county: str
    held_on: dt.date
    place: str
    topic: str
    attendees: Annotated[list[UUID], Field(description="the volunteers who attended")]
    suggestions: Annotated[list[SuggestionOut], Field(description="in the order raised")]
    open_suggestions: Annotated[int, Field(description="how many are not answered yet")]

    model_config = examples(
        {**EXAMPLE_MEETING, "attendees": [A_VOLUNTEER, ANOTHER], "suggestions": [EXAMPLE_SUGGESTION]}
    )


# Writes ------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def record(body: MeetingIn, write: CoordinatorCreate) -> JSONResponse:
    """Record a volunteer meeting held in a county, with the volunteers attending (coordinator)."""
    county = body.county or write.services.settings.home_county
    return write.run(
        lambda by: write.ledger.record_meeting(
            county=county,
            held_on=body.held_on,
            place=body.place,
            topic=body.topic,
            attendees=list(body.attendees),
            by=by,
        ),
        created=True,
        location="/v1/meetings/{id}",
    )


@router.post("/{meeting_id}/suggestions", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def raise_suggestion(meeting_id: UUID, body: SuggestionIn, write: CoordinatorWrite) -> JSONResponse:
    """Record a suggestion an attendee raised at the meeting (coordinator); 409 ``meeting.not_attendee`` otherwise."""
    return write.run(
        lambda by: write.ledger.raise_suggestion(
            meeting_id, text=body.text, raised_by=body.raised_by, by=by, expected_version=write.if_match
        ),
        target=meeting_id,
    )


@router.post("/{meeting_id}/suggestions/{n}/answer", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def answer(meeting_id: UUID, n: SuggestionNumber, body: SuggestionAnswerIn, write: CoordinatorWrite) -> JSONResponse:
    """Answer suggestion ``n`` of the meeting, once (coordinator); 409 ``meeting.suggestion_answered`` again."""
    return write.run(
        lambda by: write.ledger.answer_suggestion(
            meeting_id, n, text=body.text, status=body.status, by=by, expected_version=write.if_match
        ),
        target=meeting_id,
    )


# Reads -------------------------------------------------------------------------------------


def own_county(read: Read) -> str | None:
    """A volunteer's key reads the meetings of its volunteer's county; None for staff."""
    if read.principal.role != "volunteer" or read.principal.volunteer_id is None:
        return None
    volunteer: Volunteer = load(read.ledger, Volunteer, read.principal.volunteer_id, "volunteer")
    return str(volunteer.county)


def meeting_item(meeting: Meeting) -> MeetingItem:
    return MeetingItem(
        id=meeting.id, version=meeting.version, county=meeting.county, held_on=meeting.held_on, place=meeting.place,
        topic=meeting.topic, attendees=len(meeting.attendees), suggestions=len(meeting.suggestions),
        open_suggestions=len(meeting.open_suggestions),
    )  # fmt: skip


def meeting_out(meeting: Meeting, lang: Lang) -> MeetingOut:
    suggestions = [
        SuggestionOut(
            n=s.n,
            text=s.text,
            raised_by=s.raised_by,
            raised_at=s.raised_at,
            status=s.status,
            status_label=label(SuggestionStatus, s.status, lang),
            answer=s.answer,
            answered_by=s.answered_by,
            answered_at=s.answered_at,
        )
        for s in meeting.suggestions
    ]
    return MeetingOut(
        id=meeting.id, version=meeting.version, county=meeting.county, held_on=meeting.held_on, place=meeting.place,
        topic=meeting.topic, attendees=list(meeting.attendees), suggestions=suggestions,
        open_suggestions=len(meeting.open_suggestions),
    )  # fmt: skip


@router.get("/{meeting_id}", response_model=MeetingOut, responses=READ_ERRORS)
def read_meeting(meeting_id: UUID, read: MeetingReader, response: Response, lang: Language) -> MeetingOut:
    """One meeting with its attendees, suggestions and answers (coordinator, auditor; a volunteer: of its county)."""
    ledger_meta(read.services, response)
    meeting = load(read.ledger, Meeting, meeting_id, "meeting")
    county = own_county(read)
    if county is not None and county != meeting.county:
        raise Forbidden("this volunteer's key reads only the meetings of its own county")
    response.headers["ETag"] = etag(meeting.version)
    return meeting_out(meeting, lang)


@router.get("", response_model=Page[MeetingItem], responses=errors(400, 404, 409))
def list_meetings(
    read: MeetingReader,
    response: Response,
    pages: Pages,
    county: Annotated[
        Text | None, Query(max_length=40, description="a county's code (omitted: the home county, or a volunteer's)")
    ] = None,
    open: Annotated[bool | None, Query(description="true: only meetings with a suggestion not answered yet")] = None,
) -> Page[MeetingItem]:
    """A county's meetings, the latest held first (coordinator, auditor; a volunteer: of its county).

    A county with no meeting recorded (or no such county) lists none.
    """
    meta = ledger_meta(read.services, response)
    own = own_county(read)
    if own is not None and county is not None and county != own:
        raise Forbidden("this volunteer's key lists only the meetings of its own county")
    county = own or county or read.services.settings.home_county
    try:
        register = load(read.ledger, MeetingRegister, meeting_register_id(county), "meeting register")
    except NotFound:
        return Page[MeetingItem](items=[], next_cursor=None, **meta)
    meetings = [load(read.ledger, Meeting, ident, "meeting") for ident in register.meeting_ids]
    if open is not None:
        meetings = [m for m in meetings if bool(m.open_suggestions) == open]
    chosen, cursor = pages.page(meetings, lambda m: (-m.held_on.toordinal(), str(m.id)))
    return Page[MeetingItem](items=[meeting_item(m) for m in chosen], next_cursor=cursor, **meta)
