"""Notices to volunteers (通知): a coordinator publishes, a volunteer marks read, the coordinator sees who has.

- ``POST /v1/notices`` (coordinator) publishes a notice to the active volunteers of a county: all of
  them, those of the ``townships`` named, and only those of a ``profession`` if one is named. Whom it
  addresses is decided then and recorded (:mod:`ledger.notices`): the county's volunteers are listed
  by the roster read model, once it has caught up with the ledger's head as the request came in (a
  bounded wait; 503 if it does not), and each is checked against the ledger itself.
- ``POST /v1/notices/{notice_id}/read`` (the volunteer's own key, and only for itself: the key names
  the volunteer) marks it read; marking it again writes nothing and answers the same record.
- ``GET /v1/notices/{notice_id}``: a coordinator or an auditor reads it with who has read it (and
  when) and who has not, of those it addressed; a volunteer's key reads only a notice addressed to
  it, with whether it has read it.
- ``GET /v1/notices``: a county's notices, newest first, in pages (coordinator, auditor: any county,
  default the home county; a volunteer's key: only the notices addressed to it, each read or not).

The reads load the notices from the ledger, not from a read model: a county publishes a few notices
a month, so a list loads every notice of the county (through its :class:`~ledger.notices.NoticeBoard`)
and pages the answer. That is honest for hundreds of notices a county; past that, a read model
would replace it. Volunteers appear by id only: a notice holds no personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CoordinatorCreate, Read, Services, VolunteerWrite, etag, reader
from api.labels import Language
from api.problems import BadRequest, Forbidden
from api.reads import Page, Pages, ReadModelUnavailable, ledger_meta
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Text, WrittenOut, choice, errors, examples
from api.service import load
from ledger.errors import NotFound
from ledger.labels import Lang, label
from ledger.notices import Notice, NoticeBoard, board_id
from ledger.store import store_errors_translated
from ledger.volunteers import Profession, Volunteer

router = APIRouter(prefix="/v1/notices", tags=["notices"])

ROSTER = "roster"
NoticeReader = Annotated[Read, Depends(reader("coordinator", "auditor", "volunteer"))]


class NoticeIn(BaseModel):
    county: Annotated[Text | None, Field(description="the county's code; omitted: the home county")] = None
    title: Annotated[Text, Field(max_length=120)]
    body: Annotated[Text, Field(max_length=5000)]
    townships: Annotated[
        list[Text], Field(max_length=100, description="the townships addressed; empty or omitted: the whole county")
    ] = []
    profession: Annotated[
        Text | None, choice(Profession, Profession.DOCTOR, description="only volunteers of this profession; null: any")
    ] = None

    model_config = examples(
        {
            "title": "三月份慢病管理培训通知",
            "body": "3月15日上午9点在县人民医院三楼会议室培训，请高沟镇、唐集镇的志愿者准时参加。",
            "townships": ["高沟镇", "唐集镇"],
        },
        {"title": "血压计校准", "body": "请各位医生本周内到县医院校准血压计。", "profession": Profession.DOCTOR},
    )


class NoticeReaderOut(BaseModel):
    volunteer_id: UUID
    read_at: dt.datetime

    model_config = examples({"volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "read_at": "2026-03-02T01:20:00Z"})


EXAMPLE_NOTICE = {
    "id": "3d2c1b0a-9f8e-4d7c-b6a5-4f3e2d1c0b9a", "version": 2, "county": "lianshui",
    "title": "三月份慢病管理培训通知", "body": "3月15日上午9点在县人民医院三楼会议室培训。",
    "townships": ["高沟镇", "唐集镇"], "profession": None, "profession_label": None,
    "published_at": "2026-03-01T01:00:00Z", "addressed": 2, "read_count": 1, "read": None, "read_at": None,
}  # fmt: skip


class NoticeItem(BaseModel):
    id: UUID
    version: int
    county: str
    title: str
    body: str
    townships: Annotated[list[str], Field(description="the townships addressed; empty: the whole county")]
    profession: Annotated[str | None, Field(description="the profession addressed; null: any")]
    profession_label: Annotated[str | None, Field(description="in the language asked for (?lang=zh|en)")]
    published_at: dt.datetime
    addressed: Annotated[int | None, Field(description="volunteers addressed at publication (staff only)")]
    read_count: Annotated[int | None, Field(description="of those, how many have read it (staff only)")]
    read: Annotated[bool | None, Field(description="a volunteer's key: whether it has read it; staff: null")]
    read_at: Annotated[dt.datetime | None, Field(description="a volunteer's key: when it read it")]

    model_config = examples(EXAMPLE_NOTICE)


class NoticeOut(NoticeItem):
    readers: Annotated[
        list[NoticeReaderOut] | None,
        Field(description="staff: who has read it, and when, in that order; volunteer: null"),
    ]
    not_read: Annotated[
        list[UUID] | None, Field(description="staff: the volunteers addressed who have not read it; volunteer: null")
    ]

    model_config = examples(
        {
            **EXAMPLE_NOTICE,
            "readers": [{"volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "read_at": "2026-03-02T01:20:00Z"}],
            "not_read": ["0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11"],
        }
    )


# Writes ------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=WrittenOut, responses={**WRITE_ERRORS, **errors(503)})
async def publish(body: NoticeIn, write: CoordinatorCreate) -> JSONResponse:
    """Publish a notice to the county's active volunteers, or those of some townships or of a profession (coordinator).

    Refused (409 ``notice.no_addressees``) when no active volunteer is in the audience; 503 when the
    roster read model, which lists the county's volunteers, is not open or not caught up.
    """
    services = write.services
    county = body.county or services.settings.home_county
    candidates = roster_volunteers(services)
    await roster_caught_up(services)
    answer: JSONResponse = await run_in_threadpool(
        write.run,
        lambda by: write.ledger.publish_notice(
            county=county,
            title=body.title,
            body=body.body,
            townships=list(body.townships),
            profession=body.profession,
            candidates=candidates,
            by=by,
        ),
        created=True,
        location="/v1/notices/{id}",
    )
    return answer


@router.post("/{notice_id}/read", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def mark_read(notice_id: UUID, write: VolunteerWrite) -> JSONResponse:
    """Mark a notice read by the key's own volunteer (a volunteer's key only); again: nothing is written.

    409 ``notice.not_addressed`` if the notice was not addressed to this volunteer.
    """
    volunteer_id = write.principal.volunteer_id
    if volunteer_id is None:  # a volunteer's key always names its volunteer (api.keys)
        raise Forbidden("this key names no volunteer")
    return write.run(
        lambda by: write.ledger.mark_notice_read(
            notice_id, volunteer_id=volunteer_id, by=by, expected_version=write.if_match
        ),
        target=notice_id,
    )


def roster_volunteers(services: Services) -> Callable[[str], list[UUID]]:
    """The ledger's ``candidates``: every volunteer of a county the roster knows (the ledger checks each)."""
    side = services.reads
    view = side.view(ROSTER) if side is not None else None
    if view is None:
        raise ReadModelUnavailable("the roster read model, which lists a county's volunteers, is not open here")

    def candidates(county: str) -> list[UUID]:
        with store_errors_translated("the read models' store"):
            return [row.volunteer_id for row in view.loads(county=county).rows]

    return candidates


async def roster_caught_up(services: Services) -> None:
    """Wait (bounded) until the roster has applied the log up to its head as of now; 503 if it does not."""
    side = services.reads
    assert side is not None

    def head() -> int:
        with store_errors_translated("the event store"):
            return services.ledger.recorder.max_notification_id() or 0

    target = await run_in_threadpool(head)
    await side.wait_for(ROSTER, target, services.settings.read_wait_max)
    position = await run_in_threadpool(side.position, ROSTER)
    if position < target:
        raise ReadModelUnavailable(
            f"the roster read model, which lists the county's volunteers, is at log position {position}, behind "
            f"the ledger's {target}: a notice published now could miss volunteers; retry shortly",
            headers={"Retry-After": "5"},
        )


# Reads -------------------------------------------------------------------------------------


def own_volunteer(read: Read) -> UUID | None:
    """The volunteer a volunteer's key names; None for staff."""
    return read.principal.volunteer_id if read.principal.role == "volunteer" else None


def item_fields(notice: Notice, viewer: UUID | None, lang: Lang) -> dict[str, object]:
    staff = viewer is None
    return {
        "id": notice.id, "version": notice.version, "county": notice.county, "title": notice.title,
        "body": notice.body, "townships": list(notice.townships), "profession": notice.profession,
        "profession_label": label(Profession, notice.profession, lang) if notice.profession else None,
        "published_at": notice.published_at,
        "addressed": len(notice.addressees) if staff else None,
        "read_count": len(notice.read_at) if staff else None,
        "read": None if viewer is None else viewer in notice.read_at,
        "read_at": None if viewer is None else notice.read_at.get(viewer),
    }  # fmt: skip


@router.get("/{notice_id}", response_model=NoticeOut, responses=READ_ERRORS)
def read_notice(notice_id: UUID, read: NoticeReader, response: Response, lang: Language) -> NoticeOut:
    """One notice; a coordinator or an auditor sees who has read it and who has not (a volunteer: only its own)."""
    ledger_meta(read.services, response)
    notice = load(read.ledger, Notice, notice_id, "notice")
    viewer = own_volunteer(read)
    if read.principal.role == "volunteer" and (viewer is None or not notice.addresses(viewer)):
        raise Forbidden("this volunteer's key reads only the notices addressed to its volunteer")
    response.headers["ETag"] = etag(notice.version)
    readers = sorted(notice.read_at.items(), key=lambda r: (r[1], str(r[0])))
    return NoticeOut(
        **item_fields(notice, viewer, lang),  # type: ignore[arg-type]
        readers=None if viewer else [NoticeReaderOut(volunteer_id=v, read_at=at) for v, at in readers],
        not_read=None if viewer else notice.not_read_by,
    )


CountyQuery = Annotated[
    Text | None, Query(max_length=40, description="a county's code (staff; omitted: the home county)")
]


@router.get("", response_model=Page[NoticeItem], responses=errors(400, 404, 409))
def list_notices(
    read: NoticeReader,
    response: Response,
    pages: Pages,
    lang: Language,
    county: CountyQuery = None,
    unread: Annotated[bool | None, Query(description="a volunteer's key: only those it has (not) read")] = None,
) -> Page[NoticeItem]:
    """A county's notices, newest first (coordinator, auditor); a volunteer's key: those addressed to it.

    A county with no notice published (or no such county) lists none.
    """
    meta = ledger_meta(read.services, response)
    viewer = own_volunteer(read)
    if viewer is not None:
        volunteer = load(read.ledger, Volunteer, viewer, "volunteer")
        if county is not None and county != volunteer.county:
            raise Forbidden("this volunteer's key lists only the notices of its own county")
        county = volunteer.county
    elif unread is not None:
        raise BadRequest("?unread is a volunteer's filter: staff see who has read a notice in it", field="query.unread")
    county = county or read.services.settings.home_county
    try:
        board = load(read.ledger, NoticeBoard, board_id(county), "notice board")
    except NotFound:
        return Page[NoticeItem](items=[], next_cursor=None, **meta)  # nothing published there yet
    rows = []
    for seq, notice_id in enumerate(board.notice_ids):
        notice = load(read.ledger, Notice, notice_id, "notice")
        if viewer is not None and not notice.addresses(viewer):
            continue
        if unread is not None and viewer is not None and (viewer not in notice.read_at) != unread:
            continue
        rows.append((seq, notice))
    chosen, cursor = pages.page(rows, lambda row: (-row[0],))
    items = [NoticeItem(**item_fields(notice, viewer, lang)) for _, notice in chosen]  # type: ignore[arg-type]
    return Page[NoticeItem](items=items, next_cursor=cursor, **meta)
