"""Pairings (结对): a volunteer serving an elder, formed and ended by a coordinator."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CoordinatorCreate, CoordinatorWrite
from api.schemas import TARGETED_WRITE_ERRORS, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from ledger.pairings import EndReason

router = APIRouter(prefix="/v1/pairings", tags=["pairings"])


class PairingIn(BaseModel):
    volunteer_id: UUID
    elder_id: UUID
    group: Annotated[Text, Field(description="the service group's label, e.g. 高沟镇第1组")]
    from_date: Day

    model_config = examples(
        {
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "elder_id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11",
            "group": "高沟镇第1组",
            "from_date": "2026-01-05",
        }
    )


class EndPairingIn(BaseModel):
    date: Day
    reason: Text = choice(EndReason, EndReason.REASSIGNED)

    model_config = examples({"date": "2026-02-28", "reason": EndReason.REASSIGNED})


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def form(body: PairingIn, write: CoordinatorCreate) -> JSONResponse:
    """Pair an active volunteer with an elder (coordinator)."""
    return write.run(
        lambda by: write.ledger.form_pairing(
            volunteer_id=body.volunteer_id, elder_id=body.elder_id, group=body.group, from_date=body.from_date, by=by
        ),
        created=True,
    )


@router.post("/{pairing_id}/end", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def end(pairing_id: UUID, body: EndPairingIn, write: CoordinatorWrite) -> JSONResponse:
    """End a pairing from a date, with a reason (coordinator)."""
    return write.run(
        lambda by: write.ledger.end_pairing(
            pairing_id, on=body.date, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=pairing_id,
    )
