"""An elder's health readings over time (the health read model), for those who care for the elder.

Readings are health data: a coordinator reads them; a volunteer's key only for an elder it is
paired with now (the medical volunteer following a blood-pressure trend); an auditor only with a
``reason``, which the ledger records before the answer (:mod:`api.personal`). Other roles: 403.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import Read
from api.personal import ReasonQuery, discloses
from api.problems import Forbidden
from api.reads import Page, Pages, ViewRead, view_reader
from api.schemas import errors, examples
from ledger.privacy import SubjectKind
from projections.health import Reading

READ_LIST_ERRORS = errors(400, 404, 409)
"""A foreign cursor 400; an elder never registered 404; a forgotten elder 409."""

router = APIRouter(prefix="/v1/elders", tags=["elders"])

HealthRead = Annotated[ViewRead, Depends(view_reader("health", "coordinator", "volunteer", "auditor"))]
HEALTH_READERS = ("coordinator", "volunteer")


class ReadingItem(BaseModel):
    visit_id: UUID
    volunteer_id: UUID
    taken_at: dt.datetime
    systolic: Decimal | None
    diastolic: Decimal | None
    pulse: Decimal | None
    glucose_mmol_l: Decimal | None

    model_config = examples(
        {
            "visit_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "taken_at": "2026-02-10T02:00:00Z", "systolic": "135", "diastolic": "85", "pulse": None,
            "glucose_mmol_l": "6.1",
        }
    )  # fmt: skip


class ReadingPage(Page[ReadingItem]):
    pass


def reading_key(r: Reading) -> tuple[str, str]:
    return (r.taken_at.astimezone(dt.UTC).isoformat(), str(r.visit_id))


def check_paired(read: ViewRead, elder_id: UUID) -> None:
    """A volunteer's key reads the readings of an elder it is paired with now, and no other's."""
    if read.principal.role != "volunteer":
        return
    roster = read.side.view("roster")
    if roster is None or not roster.pairings(volunteer_id=read.principal.volunteer_id, elder_id=elder_id).rows:
        raise Forbidden("this volunteer's key reads the health of the elders it is paired with, and of no other")


@router.get("/{elder_id}/health", response_model=ReadingPage, responses=READ_LIST_ERRORS)
async def health(elder_id: UUID, read: HealthRead, pages: Pages, reason: ReasonQuery = None) -> Response:
    """The elder's readings (blood pressure, pulse, glucose) by time, oldest first, from visits not voided.

    Coordinator; a volunteer paired with the elder now; an auditor with ``?reason=`` (recorded)."""
    await run_in_threadpool(check_paired, read, elder_id)
    if not await run_in_threadpool(
        discloses, Read(read.services, read.principal), SubjectKind.ELDER, elder_id, reason, roles=HEALTH_READERS
    ):
        raise Forbidden("an auditor reads health data only with ?reason=, which the ledger records", role="auditor")

    def build() -> ReadingPage:
        answer = read.view().readings_of(elder_id)
        chosen, cursor = pages.page(answer.rows, reading_key)
        items = [ReadingItem(**{**r.__dict__}) for r in chosen]
        return ReadingPage(items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, elder_id)
