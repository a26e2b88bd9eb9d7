"""Pairings (结对): a volunteer serving an elder, formed and ended by a coordinator; read one (``?version=``).

A pairing holds no personal data (ids, the group's label, dates): every staff role reads one; a
volunteer's key only its own pairings.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.asof import VersionQuery, load_version
from api.deps import CoordinatorCreate, CoordinatorWrite, Read, check_own, etag, reader
from api.reads import ledger_meta
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from ledger.pairings import EndReason, Pairing

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


class PairingOut(BaseModel):
    id: UUID
    version: int
    volunteer_id: UUID
    elder_id: UUID
    group: str
    from_date: dt.date
    ended_on: Annotated[dt.date | None, Field(description="the last day of the pairing; null: not ended")]

    model_config = examples(
        {
            "id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "version": 1,
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "elder_id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11",
            "group": "高沟镇第1组", "from_date": "2026-01-05", "ended_on": None,
        }
    )  # fmt: skip


PairingReader = Annotated[Read, Depends(reader("coordinator", "auditor", "finance", "evaluator", "volunteer"))]


@router.get("/{pairing_id}", response_model=PairingOut, responses=READ_ERRORS)
def read(pairing_id: UUID, read: PairingReader, response: Response, version: VersionQuery = None) -> PairingOut:
    """One pairing as the ledger has it now, or at `version` (a volunteer's key reads only its own pairings)."""
    pairing = load_version(read.ledger, Pairing, pairing_id, "pairing", version)
    check_own(read.principal, pairing.volunteer_id, "pairing")
    response.headers["ETag"] = etag(pairing.version)
    ledger_meta(read.services, response)
    return PairingOut(
        id=pairing.id, version=pairing.version, volunteer_id=pairing.volunteer_id, elder_id=pairing.elder_id,
        group=pairing.group, from_date=pairing.from_date, ended_on=pairing.ended_on,
    )  # fmt: skip
