"""The lists people work from: visits, claims, evaluations, trainings (the desk read model), and an elder's health.

Each list is a page of the desk read model (:mod:`projections.desk`), newest first, filtered in
the store, with the position and lag of every read. A volunteer's key lists only its own records:
its lists are narrowed to it, and naming another volunteer is 403. A list copies no personal data:
names, readings and notes stay on the records' own routes, under their rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from api.deps import check_own
from api.labels import Language
from api.problems import BadRequest, Forbidden
from api.reads import LIST_ERRORS, Page, Pages, Paging, ViewRead, view_reader
from api.schemas import Text, choice, examples
from ledger.claims import ClaimStatus
from ledger.elders import ElderCategory
from ledger.labels import Lang, label
from ledger.visits import VisitKind, VisitStatus
from projections.desk import ClaimRow, DeskView, EvaluationRow, TrainingRow, VisitRow

router = APIRouter(tags=["lists"])

R = TypeVar("R")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
MonthQuery = Annotated[str | None, Query(pattern=MONTH, description="a county month, YYYY-MM")]
VolunteerQuery = Annotated[UUID | None, Query(description="one volunteer (a volunteer's key: only its own)")]

VisitListRead = Annotated[
    ViewRead, Depends(view_reader("desk", "coordinator", "auditor", "finance", "evaluator", "volunteer"))
]
ClaimListRead = Annotated[ViewRead, Depends(view_reader("desk", "coordinator", "finance", "auditor", "volunteer"))]
EvaluationListRead = Annotated[
    ViewRead, Depends(view_reader("desk", "evaluator", "coordinator", "auditor", "volunteer"))
]
TrainingListRead = Annotated[ViewRead, Depends(view_reader("desk", "coordinator", "evaluator", "auditor", "volunteer"))]


def whose(read: ViewRead, volunteer_id: UUID | None) -> UUID | None:
    """The volunteer a list is narrowed to: a volunteer's key is narrowed to itself, whatever it asks."""
    if read.principal.role != "volunteer":
        return volunteer_id
    if volunteer_id is not None:
        check_own(read.principal, volunteer_id, "list")
    return read.principal.volunteer_id


def by_position(row: Any) -> tuple[int]:
    return (row.position,)


def before(pages: Paging) -> int | None:
    """The position the previous page ended at (lists are newest first)."""
    key = pages.after_key()
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool):
        raise BadRequest("the cursor does not belong to this list", field="query.cursor")
    return int(key[0])


async def listed(
    read: ViewRead,
    pages: Paging,
    query: Callable[..., Any],
    item: Callable[[R, Lang], BaseModel],
    page_class: type[Page[Any]],
    lang: Lang,
    **filters: Any,
) -> Response:
    """A page of ``query`` (a desk view method) with ``filters``, its rows made into items with labels in ``lang``."""

    def build() -> Page[Any]:
        answer = query(read.view(), before=before(pages), limit=pages.limit + 1, **filters)
        chosen, cursor = pages.window(answer.rows, by_position)
        return page_class(items=[item(r, lang) for r in chosen], next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, lang)


# Visits ---------------------------------------------------------------------------------------


class VisitItem(BaseModel):
    id: UUID
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    township: Annotated[str, Field(description="where the visit took place, as recorded")]
    month: str
    kind: str = choice(VisitKind)
    kind_label: Annotated[str, Field(description="the kind in the language asked for (?lang=zh|en)")]
    status: str = choice(VisitStatus)
    status_label: str
    started_at: dt.datetime
    ended_at: dt.datetime
    gift_bag: bool
    claim_id: Annotated[UUID | None, Field(description="the live claim that holds it; null: free to claim")]
    position: Annotated[int, Field(description="the log position that recorded it")]

    model_config = examples(
        {
            "id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "pairing_id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "elder_id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11",
            "township": "高沟镇", "month": "2026-02", "kind": VisitKind.MEDICAL, "kind_label": "医疗服务",
            "status": VisitStatus.CONFIRMED, "status_label": "已确认",
            "started_at": "2026-02-10T02:00:00Z", "ended_at": "2026-02-10T02:45:00Z", "gift_bag": False,
            "claim_id": None, "position": 1834,
        }
    )  # fmt: skip


class VisitPage(Page[VisitItem]):
    pass


def visit_item(r: VisitRow, lang: Lang) -> VisitItem:
    return VisitItem(
        id=r.visit_id, pairing_id=r.pairing_id, volunteer_id=r.volunteer_id, elder_id=r.elder_id,
        township=r.township, month=r.month, kind=r.kind, kind_label=label(VisitKind, r.kind, lang),
        status=r.status, status_label=label(VisitStatus, r.status, lang), started_at=r.started_at,
        ended_at=r.ended_at, gift_bag=r.gift_bag, claim_id=r.claim_id, position=r.position,
    )  # fmt: skip


@router.get("/v1/visits", response_model=VisitPage, responses=LIST_ERRORS)
async def list_visits(
    read: VisitListRead,
    pages: Pages,
    lang: Language,
    volunteer: VolunteerQuery = None,
    elder: Annotated[UUID | None, Query(description="one elder")] = None,
    township: Annotated[Text | None, Query(description="where the visits took place")] = None,
    month: MonthQuery = None,
    kind: Annotated[str | None, Query(pattern=f"^({'|'.join(VisitKind)})$")] = None,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(VisitStatus)})$")] = None,
    claimed: Annotated[bool | None, Query(description="held by a live claim (true) or free to claim (false)")] = None,
    category: Annotated[
        str | None,
        Query(pattern=f"^({'|'.join(ElderCategory)})$", description="only visits to elders of this category"),
    ] = None,
) -> Response:
    """Visits, newest first (every role that reads visits; a volunteer's key: its own).

    A volunteer finds the visits to put in a claim with ``?status=confirmed&claimed=false&month=…``."""
    return await listed(
        read, pages, DeskView.visits, visit_item, VisitPage, lang,
        volunteer_id=whose(read, volunteer), elder_id=elder, township=township, month=month, kind=kind,
        status=status, claimed=claimed, category=category,
    )  # fmt: skip


# Claims ---------------------------------------------------------------------------------------


class ClaimItem(BaseModel):
    id: UUID
    volunteer_id: UUID
    county: str
    month: str
    status: str = choice(ClaimStatus)
    status_label: Annotated[str, Field(description="the status in the language asked for (?lang=zh|en)")]
    submitted_by: Annotated[str, Field(description="the key id that submitted it")]
    approved_by: str | None
    transport_fen: int
    communication_fen: int
    total_fen: int
    visits: Annotated[int, Field(description="how many visits it claims")]
    submitted_at: dt.datetime
    position: Annotated[int, Field(description="the log position that submitted it")]

    model_config = examples(
        {
            "id": "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b", "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "county": "lianshui", "month": "2026-02", "status": ClaimStatus.SUBMITTED, "status_label": "待审批",
            "submitted_by": "k-7f3a",
            "approved_by": None, "transport_fen": 8000, "communication_fen": 3000, "total_fen": 11000, "visits": 8,
            "submitted_at": "2026-03-02T01:00:00Z", "position": 2210,
        }
    )  # fmt: skip


class ClaimPage(Page[ClaimItem]):
    pass


def claim_item(r: ClaimRow, lang: Lang) -> ClaimItem:
    return ClaimItem(
        id=r.claim_id, volunteer_id=r.volunteer_id, county=r.county, month=r.month, status=r.status,
        status_label=label(ClaimStatus, r.status, lang),
        submitted_by=r.submitted_by, approved_by=r.approved_by, transport_fen=r.transport_fen,
        communication_fen=r.communication_fen, total_fen=r.transport_fen + r.communication_fen, visits=r.visits,
        submitted_at=r.submitted_at, position=r.position,
    )  # fmt: skip


@router.get("/v1/claims", response_model=ClaimPage, responses=LIST_ERRORS)
async def list_claims(
    read: ClaimListRead,
    pages: Pages,
    lang: Language,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(ClaimStatus)})$")] = None,
    volunteer: VolunteerQuery = None,
    month: MonthQuery = None,
    county: Annotated[Text | None, Query(description="one county's code")] = None,
    awaiting_me: Annotated[
        bool, Query(description="finance: the submitted claims this key may approve (not its own submissions)")
    ] = False,
) -> Response:
    """Claims, newest first (coordinator, finance, auditor; a volunteer's key: its own)."""
    if awaiting_me and read.principal.role != "finance":
        raise Forbidden("only a finance officer's key approves claims", role=read.principal.role)
    if awaiting_me and status not in (None, ClaimStatus.SUBMITTED):
        raise BadRequest("claims awaiting approval are submitted ones: drop ?status or make it submitted")
    return await listed(
        read, pages, DeskView.claims, claim_item, ClaimPage, lang,
        volunteer_id=whose(read, volunteer), month=month, county=county,
        status=ClaimStatus.SUBMITTED if awaiting_me else status,
        not_submitted_by=read.principal.key_id if awaiting_me else None,
    )  # fmt: skip


# Evaluations ----------------------------------------------------------------------------------


class EvaluationItem(BaseModel):
    id: UUID
    volunteer_id: UUID
    period: str
    evaluator_id: Annotated[str, Field(description="the key id of the evaluator")]
    criteria: dict[str, int]
    withdrawn: bool
    submitted_at: dt.datetime
    position: int

    model_config = examples(
        {
            "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "period": "2026-02", "evaluator_id": "k-eval", "criteria": {"attitude": 5, "skill": 4},
            "withdrawn": False, "submitted_at": "2026-03-03T02:00:00Z", "position": 2301,
        }
    )  # fmt: skip


class EvaluationPage(Page[EvaluationItem]):
    pass


def evaluation_item(r: EvaluationRow, lang: Lang) -> EvaluationItem:
    return EvaluationItem(
        id=r.evaluation_id, volunteer_id=r.volunteer_id, period=r.period, evaluator_id=r.evaluator_id,
        criteria=r.criteria, withdrawn=r.withdrawn, submitted_at=r.submitted_at, position=r.position,
    )  # fmt: skip


@router.get("/v1/evaluations", response_model=EvaluationPage, responses=LIST_ERRORS)
async def list_evaluations(
    read: EvaluationListRead,
    pages: Pages,
    lang: Language,
    volunteer: VolunteerQuery = None,
    period: Annotated[
        str | None, Query(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$", description="a month YYYY-MM or a year YYYY")
    ] = None,
    evaluator: Annotated[Text | None, Query(description="the key id of one evaluator")] = None,
    withdrawn: Annotated[bool | None, Query(description="withdrawn ones (true) or standing ones (false)")] = None,
) -> Response:
    """Evaluations, newest first (evaluator, coordinator, auditor; a volunteer's key: its own)."""
    return await listed(
        read, pages, DeskView.evaluations, evaluation_item,
        EvaluationPage, lang, volunteer_id=whose(read, volunteer), period=period, evaluator_id=evaluator,
        withdrawn=withdrawn,
    )  # fmt: skip


# Trainings ------------------------------------------------------------------------------------


class TrainingItem(BaseModel):
    course: str
    hours: Decimal
    on: dt.date
    position: int

    model_config = examples({"course": "老年慢病基础护理", "hours": "4", "on": "2026-01-15", "position": 812})


class TrainingPage(Page[TrainingItem]):
    pass


def training_item(r: TrainingRow, lang: Lang) -> TrainingItem:
    return TrainingItem(course=r.course, hours=r.hours, on=r.on_day, position=r.position)


@router.get("/v1/volunteers/{volunteer_id}/trainings", response_model=TrainingPage, responses=LIST_ERRORS)
async def list_trainings(volunteer_id: UUID, read: TrainingListRead, pages: Pages, lang: Language) -> Response:
    """A volunteer's completed trainings, newest first (coordinator, evaluator, auditor; a volunteer: its own)."""
    check_own(read.principal, volunteer_id, "training record")

    return await listed(read, pages, DeskView.trainings, training_item, TrainingPage, lang, volunteer_id=volunteer_id)
