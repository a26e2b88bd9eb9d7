"""Visits (上门服务记录): recorded by the volunteer who gave them; confirmed, disputed, corrected by a coordinator.

Feedback (a rating of 1–5) comes from the elder or the family, who hold no keys: the coordinator
takes it on the phone callback or in person and records it, so it is a coordinator's write. A
volunteer never rates their own visit.

Health readings and notes are personal: the coordinator and the visit's own volunteer read them;
auditors, finance and evaluators read the visit without them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt

from api.asof import VersionQuery, load_version
from api.deps import CoordinatorWrite, Read, VolunteerCreate, check_own, etag, reader
from api.personal import ReasonQuery, discloses
from api.reads import ledger_meta
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Instant, Text, WrittenOut, choice, examples
from api.service import load
from ledger.pairings import Pairing
from ledger.personal import FORGOTTEN, placeholder
from ledger.privacy import SubjectKind
from ledger.visits import (
    READING_BOUNDS,
    AmendReason,
    Confirmer,
    ConfirmMethod,
    DisputeReason,
    DistanceBand,
    Service,
    Visit,
    VisitKind,
    VisitStatus,
    VoidReason,
)

router = APIRouter(prefix="/v1/visits", tags=["visits"])

ServiceCode = Annotated[Text, Field(json_schema_extra={"enum": [str(s) for s in Service]})]
ServiceList = Annotated[list[ServiceCode], Field(min_length=1, max_length=len(Service))]
Reading = Annotated[Decimal, Field(max_digits=7, decimal_places=3)]
Readings = Annotated[
    dict[Text, Reading],
    Field(max_length=len(READING_BOUNDS), description=f"named readings: {', '.join(READING_BOUNDS)}"),
]
Km = Annotated[Decimal, Field(ge=0, le=500, max_digits=7, decimal_places=3)]

EXAMPLE_VISIT = {
    "kind": VisitKind.MEDICAL, "services": [Service.BLOOD_PRESSURE, Service.HEALTH_ADVICE],
    "readings": {"systolic": 135, "diastolic": 85}, "started_at": "2026-02-10T10:00:00+08:00",
    "ended_at": "2026-02-10T10:45:00+08:00", "township": "高沟镇", "distance_band": DistanceBand.AT_HOME,
    "travel_km": "4.5", "gift_bag": False, "notes": "",
}  # fmt: skip


class VisitIn(BaseModel):
    pairing_id: UUID
    kind: Text = choice(VisitKind, VisitKind.MEDICAL)
    services: ServiceList
    readings: Readings = Field(default_factory=dict)
    started_at: Instant
    ended_at: Instant
    township: Annotated[Text, Field(description="where the service took place")]
    distance_band: Text = choice(DistanceBand, DistanceBand.AT_HOME)
    travel_km: Km = Decimal(0)
    gift_bag: StrictBool = False
    notes: Text = ""

    model_config = examples({"pairing_id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", **EXAMPLE_VISIT})


class VisitChangesIn(BaseModel):
    """Only the fields named change."""

    kind: Text | None = choice(VisitKind, default=None)
    services: ServiceList | None = None
    readings: Readings | None = None
    started_at: Instant | None = None
    ended_at: Instant | None = None
    township: Text | None = None
    distance_band: Text | None = choice(DistanceBand, default=None)
    travel_km: Km | None = None
    gift_bag: StrictBool | None = None
    notes: Text | None = None

    model_config = examples({"started_at": "2026-02-10T09:30:00+08:00", "ended_at": "2026-02-10T10:15:00+08:00"})


class ConfirmationIn(BaseModel):
    by: Text = choice(Confirmer, Confirmer.ELDER)
    method: Text = choice(ConfirmMethod, ConfirmMethod.SIGNATURE)

    model_config = examples({"by": Confirmer.ELDER, "method": ConfirmMethod.SIGNATURE})


class DisputeIn(BaseModel):
    reason_code: Text = choice(DisputeReason, DisputeReason.WRONG_TIME)
    comment: Text = ""

    model_config = examples({"reason_code": DisputeReason.WRONG_TIME, "comment": "家属说是下午来的"})


class AmendmentIn(BaseModel):
    changes: VisitChangesIn
    reason_code: Text = choice(AmendReason, AmendReason.WRONG_TIME)

    model_config = examples(
        {"changes": {"started_at": "2026-02-10T09:30:00+08:00", "ended_at": "2026-02-10T10:15:00+08:00"},
         "reason_code": AmendReason.WRONG_TIME}
    )  # fmt: skip


class VoidIn(BaseModel):
    reason_code: Text = choice(VoidReason, VoidReason.DUPLICATE)

    model_config = examples({"reason_code": VoidReason.DUPLICATE})


class UnlockIn(BaseModel):
    reason: Text

    model_config = examples({"reason": "财政复核发现时间录入错误，需更正"})


class PlaceConfirmationIn(BaseModel):
    reason: Text

    model_config = examples({"reason": "老人当月住在高沟镇女儿家，服务在女儿家进行，已电话核实"})


class FeedbackIn(BaseModel):
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    comment: Text = ""

    model_config = examples({"rating": 5, "comment": "小李很耐心"})


class VisitOut(BaseModel):
    id: UUID
    version: int
    status: str = choice(VisitStatus)
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    kind: str
    services: list[str]
    started_at: dt.datetime
    ended_at: dt.datetime
    township: str
    distance_band: str
    travel_km: Decimal
    gift_bag: bool
    recorded_at: dt.datetime
    feedback_rating: int | None
    unlocked: bool
    personal: Annotated[bool, Field(description="false: readings and notes are withheld from this key's role")]
    readings: dict[str, Decimal] | None
    notes: str | None

    model_config = examples(
        {
            "id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "version": 2, "status": VisitStatus.CONFIRMED,
            "pairing_id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "elder_id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11", **EXAMPLE_VISIT,
            "recorded_at": "2026-02-10T03:00:00Z", "feedback_rating": None, "unlocked": False, "personal": True,
        }
    )  # fmt: skip


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def record(body: VisitIn, write: VolunteerCreate) -> JSONResponse:
    """Record a visit or phone call on one of the volunteer's own pairings (volunteer)."""
    pairing = load(write.ledger, Pairing, body.pairing_id, "pairing")
    check_own(write.principal, pairing.volunteer_id, "pairing")
    details = body.model_dump(exclude={"pairing_id"})
    return write.run(
        lambda by: write.ledger.record_visit(pairing_id=body.pairing_id, by=by, **details),
        created=True,
        location="/v1/visits/{id}",
    )


@router.post("/{visit_id}/confirmation", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def confirm(visit_id: UUID, body: ConfirmationIn, write: CoordinatorWrite) -> JSONResponse:
    """Confirm that a visit happened: by the elder, the family or the coordinator (coordinator)."""
    return write.run(
        lambda by: write.ledger.confirm_visit(
            visit_id, confirmed_by=body.by, method=body.method, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


@router.post("/{visit_id}/dispute", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def dispute(visit_id: UUID, body: DisputeIn, write: CoordinatorWrite) -> JSONResponse:
    """Dispute a visit, with a reason code (coordinator)."""
    return write.run(
        lambda by: write.ledger.dispute_visit(
            visit_id, reason_code=body.reason_code, comment=body.comment, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


@router.post("/{visit_id}/amendment", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def amend(visit_id: UUID, body: AmendmentIn, write: CoordinatorWrite) -> JSONResponse:
    """Correct fields of a visit, with a reason code; a locked visit must be unlocked first (coordinator)."""
    changes = body.changes.model_dump(exclude_unset=True)
    return write.run(
        lambda by: write.ledger.amend_visit(
            visit_id, changes=changes, reason_code=body.reason_code, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


@router.post("/{visit_id}/void", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def void(visit_id: UUID, body: VoidIn, write: CoordinatorWrite) -> JSONResponse:
    """Void a visit, with a reason code; a locked visit must be unlocked first (coordinator)."""
    return write.run(
        lambda by: write.ledger.void_visit(
            visit_id, reason_code=body.reason_code, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


@router.post("/{visit_id}/unlock", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def unlock(visit_id: UUID, body: UnlockIn, write: CoordinatorWrite) -> JSONResponse:
    """Unlock a locked visit for one amendment or void, with a reason (coordinator)."""
    return write.run(
        lambda by: write.ledger.unlock_visit(visit_id, reason=body.reason, by=by, expected_version=write.if_match),
        target=visit_id,
    )


@router.post("/{visit_id}/place-confirmation", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def confirm_place(visit_id: UUID, body: PlaceConfirmationIn, write: CoordinatorWrite) -> JSONResponse:
    """Confirm that a home visit took place where it says though the elder is registered in another
    township, with a reason; a claim then prices it at that place, not the elder's township (coordinator)."""
    return write.run(
        lambda by: write.ledger.confirm_visit_place(
            visit_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


@router.post("/{visit_id}/feedback", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def feedback(visit_id: UUID, body: FeedbackIn, write: CoordinatorWrite) -> JSONResponse:
    """Record the elder's or family's rating of a visit, taken by the coordinator (coordinator)."""
    return write.run(
        lambda by: write.ledger.give_feedback(
            visit_id, rating=body.rating, comment=body.comment, by=by, expected_version=write.if_match
        ),
        target=visit_id,
    )


VisitReader = Annotated[Read, Depends(reader("coordinator", "auditor", "finance", "evaluator", "volunteer"))]
PERSONAL_READERS = ("coordinator", "volunteer")
"""The roles that read a visit's readings and notes (the elder's health data); an auditor with a reason."""


@router.get("/{visit_id}", response_model=VisitOut, responses=READ_ERRORS)
def read(
    visit_id: UUID, read: VisitReader, response: Response, reason: ReasonQuery = None, version: VersionQuery = None
) -> VisitOut:
    """One visit as the ledger has it now, or at `version` (a volunteer's key reads only its own visits)."""
    visit = load_version(read.ledger, Visit, visit_id, "visit", version)
    check_own(read.principal, visit.volunteer_id, "visit")
    response.headers["ETag"] = etag(visit.version)
    ledger_meta(read.services, response)
    personal = discloses(read, SubjectKind.ELDER, visit.elder_id, reason, roles=PERSONAL_READERS)
    if personal and read.ledger.is_forgotten(visit.elder_id):  # forgotten by another process: its cache is stale
        visit.readings, visit.notes = placeholder("readings"), FORGOTTEN
    return VisitOut(
        id=visit.id, version=visit.version, status=visit.status, pairing_id=visit.pairing_id,
        volunteer_id=visit.volunteer_id, elder_id=visit.elder_id, kind=visit.kind, services=visit.services,
        started_at=visit.started_at, ended_at=visit.ended_at, township=visit.township,
        distance_band=visit.distance_band, travel_km=visit.travel_km, gift_bag=visit.gift_bag,
        recorded_at=visit.recorded_at, feedback_rating=visit.feedback_rating, unlocked=visit.unlocked,
        personal=personal, readings=visit.readings if personal else None, notes=visit.notes if personal else None,
    )  # fmt: skip
