"""Claims (补贴申领): a volunteer's monthly subsidy claim, approved, rejected, paid or reversed by finance.

Maker-checker: the key that submitted a claim never approves or pays it (the ledger refuses,
409 ``claim.maker_checker``); volunteers' keys submit, finance keys decide, so they differ anyway.

A claim is read from the ledger (its ``ETag`` is its version) with its audit trail from the audit
read model (``trail``: claim → items → visits → pairings, every event with its log position, and
the anomalies that involve it); the ``X-Tiexin-*`` headers and ``?after=`` are the trail's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.asof import VersionQuery, load_version
from api.deps import FinanceWrite, VolunteerCreate, check_own, etag
from api.reads import ViewRead, view_reader
from api.routers.audit import TrailOut, trail_out
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from ledger.claims import MAX_ITEMS, Claim, ClaimStatus

router = APIRouter(prefix="/v1/claims", tags=["claims"])


class ClaimIn(BaseModel):
    volunteer_id: Annotated[UUID | None, Field(description="omitted: the key's own volunteer")] = None
    month: Annotated[Text, Field(description="YYYY-MM", examples=["2026-02"])]
    visit_ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_ITEMS)]

    model_config = examples(
        {
            "month": "2026-02",
            "visit_ids": ["6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"],
        }
    )


class ClaimReasonIn(BaseModel):
    reason: Text

    model_config = examples({"reason": "2月12日走访未经回访确认"})


class PaymentIn(BaseModel):
    payment_reference: Text
    paid_on: Day

    model_config = examples({"payment_reference": "国库支付-2026-000123", "paid_on": "2026-03-10"})


class ClaimItemOut(BaseModel):
    visit_id: UUID
    transport_fen: int


class ClaimOut(BaseModel):
    id: UUID
    version: int
    status: str = choice(ClaimStatus)
    volunteer_id: UUID
    county: str
    month: str
    items: list[ClaimItemOut]
    communication_fen: int
    total_fen: int
    policy_version: int
    submitted_by: Annotated[str, Field(description="the key id that submitted the claim")]
    approved_on: dt.date | None
    trail: Annotated[
        TrailOut | None, Field(description="the audit trail (null: the audit has not seen the claim yet)")
    ] = None

    model_config = examples(
        {
            "id": "3e4d5c6b-7a89-4b0c-9d1e-2f3a4b5c6d7e", "version": 2, "status": ClaimStatus.APPROVED,
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui", "month": "2026-02",
            "items": [{"visit_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "transport_fen": 1000}],
            "communication_fen": 3000, "total_fen": 4000, "policy_version": 1, "submitted_by": "key_1f2e3d4c5b6a7988",
            "approved_on": "2026-03-05",
        }
    )  # fmt: skip


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def submit(body: ClaimIn, write: VolunteerCreate) -> JSONResponse:
    """Claim a month's subsidy for one's own confirmed visits (volunteer)."""
    volunteer_id = body.volunteer_id or write.principal.volunteer_id
    assert volunteer_id is not None  # a volunteer's key always names its volunteer
    check_own(write.principal, volunteer_id, "claim")
    return write.run(
        lambda by: write.ledger.submit_claim(
            volunteer_id=volunteer_id, month=body.month, visit_ids=body.visit_ids, by=by
        ),
        created=True,
        location="/v1/claims/{id}",
    )


@router.post("/{claim_id}/approval", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def approve(claim_id: UUID, write: FinanceWrite) -> JSONResponse:
    """Approve a submitted claim, committing its amounts to the year's budget; never one's own (finance)."""
    return write.run(
        lambda by: write.ledger.approve_claim(claim_id, by=by, expected_version=write.if_match), target=claim_id
    )


@router.post("/{claim_id}/rejection", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def reject(claim_id: UUID, body: ClaimReasonIn, write: FinanceWrite) -> JSONResponse:
    """Reject a submitted claim, with a reason; its visits may be claimed again (finance)."""
    return write.run(
        lambda by: write.ledger.reject_claim(claim_id, reason=body.reason, by=by, expected_version=write.if_match),
        target=claim_id,
    )


@router.post("/{claim_id}/payment", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def pay(claim_id: UUID, body: PaymentIn, write: FinanceWrite) -> JSONResponse:
    """Record the payment of an approved claim; never one's own (finance)."""
    return write.run(
        lambda by: write.ledger.pay_claim(
            claim_id, reference=body.payment_reference, paid_on=body.paid_on, by=by, expected_version=write.if_match
        ),
        target=claim_id,
    )


@router.post("/{claim_id}/reversal", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def reverse(claim_id: UUID, body: ClaimReasonIn, write: FinanceWrite) -> JSONResponse:
    """Reverse an approved or paid claim, releasing its budget and its visits (finance)."""
    return write.run(
        lambda by: write.ledger.reverse_claim(claim_id, reason=body.reason, by=by, expected_version=write.if_match),
        target=claim_id,
    )


ClaimReader = Annotated[ViewRead, Depends(view_reader("audit", "coordinator", "finance", "auditor", "volunteer"))]


@router.get("/{claim_id}", response_model=ClaimOut, responses=READ_ERRORS)
def read(claim_id: UUID, read: ClaimReader, response: Response, version: VersionQuery = None) -> ClaimOut:
    """One claim as the ledger has it now, or at `version`, with its audit trail as the audit has it now (a
    volunteer's key reads only its own claims)."""
    claim = load_version(read.services.ledger, Claim, claim_id, "claim", version)
    check_own(read.principal, claim.volunteer_id, "claim")
    response.headers["ETag"] = etag(claim.version)
    items: list[Any] = [
        ClaimItemOut(visit_id=i["visit_id"], transport_fen=int(i["transport_fen"])) for i in claim.items
    ]
    return ClaimOut(
        id=claim.id, version=claim.version, status=claim.status, volunteer_id=claim.volunteer_id,
        county=claim.county, month=claim.month, items=items, communication_fen=claim.communication_fen,
        total_fen=claim.total_fen, policy_version=claim.policy_version, submitted_by=claim.submitted_by,
        approved_on=claim.approved_on, trail=trail_of(read, claim_id),
    )  # fmt: skip


def trail_of(read: ViewRead, claim_id: UUID) -> TrailOut | None:
    if not read.available:
        read.meta(0)
        return None
    trail = read.view().trail(claim_id)
    return trail_out(trail, read.meta(trail.position))
