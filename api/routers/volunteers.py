"""Volunteers (贴心儿女): recruit, record training, suspend, reinstate, retire; read one, list, score.

A volunteer's phone is personal: the coordinator and the volunteer themself read it. The list comes
from the roster read model (ids, township, status, load); ``?names=true`` joins each one's name,
unit and profession from the ledger, for the page's volunteers only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.asof import VersionQuery, as_of_reader, forget_if_forgotten, load_version
from api.deps import AdminWrite, CoordinatorCreate, CoordinatorWrite, Read, check_own, etag, reader
from api.personal import ReasonQuery, discloses, pseudonym
from api.reads import LIST_ERRORS, Page, Pages, ViewRead, ledger_meta, view_reader
from api.routers.scores import MonthQuery, ScoreOut, score_out, this_month
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
from ledger.privacy import ForgetReason, SubjectKind
from ledger.volunteers import MAX_COURSE_HOURS, Profession, Volunteer, VolunteerStatus
from projections.roster import LoadRow
from projections.scores import score as score_of

router = APIRouter(prefix="/v1/volunteers", tags=["volunteers"])


class VolunteerIn(BaseModel):
    county: Annotated[Text | None, Field(description="the county's code; omitted: the home county")] = None
    name: Text
    unit: Text
    profession: Text = choice(Profession, Profession.NURSE)
    phone: Text
    township: Text

    model_config = examples(
        {
            "name": "李芳",
            "unit": "涟水县人民医院",
            "profession": Profession.NURSE,
            "phone": "13905170000",
            "township": "高沟镇",
        }
    )


class TrainingIn(BaseModel):
    course: Text
    hours: Annotated[Decimal, Field(gt=0, le=MAX_COURSE_HOURS, max_digits=6, decimal_places=2)]
    date: Day

    model_config = examples({"course": "老年人慢病管理", "hours": "4.5", "date": "2026-02-14"})


class VolunteerReasonIn(BaseModel):
    reason: Text

    model_config = examples({"reason": "长期外出进修"})


class ForgetIn(BaseModel):
    reason: Text = choice(ForgetReason, ForgetReason.PERSON_ASKED)

    model_config = examples({"reason": ForgetReason.PERSON_ASKED})


class VolunteerOut(BaseModel):
    id: UUID
    version: int
    pseudonym: Annotated[str, Field(description="a stable label for the volunteer that reveals nothing of them")]
    forgotten: Annotated[bool, Field(description="the volunteer's personal data is destroyed; the record stays")]
    county: str
    name: Annotated[str | None, Field(description="withheld (null) from an auditor who gives no reason")]
    unit: str
    profession: str
    township: str
    status: str = choice(VolunteerStatus)
    training_hours: Annotated[dict[str, Decimal], Field(description="hours of training completed, by year")]
    phone: Annotated[str | None, Field(description="withheld (null) from keys that do not need it")]

    model_config = examples(
        {
            "id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "version": 3, "pseudonym": "volunteer-5a9d3c1e",
            "forgotten": False, "county": "lianshui", "name": "李芳",
            "unit": "涟水县人民医院", "profession": Profession.NURSE, "township": "高沟镇",
            "status": VolunteerStatus.ACTIVE,
            "training_hours": {"2026": "4.5"}, "phone": "13905170000",
        }
    )  # fmt: skip


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def recruit(body: VolunteerIn, write: CoordinatorCreate) -> JSONResponse:
    """Recruit a volunteer (coordinator)."""
    county = body.county or write.services.settings.home_county
    fields = body.model_dump(exclude={"county"})
    return write.run(
        lambda by: write.ledger.recruit_volunteer(county=county, by=by, **fields),
        created=True,
        location="/v1/volunteers/{id}",
    )


@router.post("/{volunteer_id}/trainings", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def record_training(volunteer_id: UUID, body: TrainingIn, write: CoordinatorWrite) -> JSONResponse:
    """Record a training course the volunteer completed (coordinator)."""
    return write.run(
        lambda by: write.ledger.record_training(
            volunteer_id, course=body.course, hours=body.hours, on=body.date, by=by, expected_version=write.if_match
        ),
        target=volunteer_id,
    )


@router.post("/{volunteer_id}/suspension", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def suspend(volunteer_id: UUID, body: VolunteerReasonIn, write: CoordinatorWrite) -> JSONResponse:
    """Suspend an active volunteer (coordinator)."""
    return write.run(
        lambda by: write.ledger.suspend_volunteer(
            volunteer_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=volunteer_id,
    )


@router.post("/{volunteer_id}/reinstatement", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def reinstate(volunteer_id: UUID, body: VolunteerReasonIn, write: CoordinatorWrite) -> JSONResponse:
    """Reinstate a suspended volunteer (coordinator)."""
    return write.run(
        lambda by: write.ledger.reinstate_volunteer(
            volunteer_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=volunteer_id,
    )


@router.post("/{volunteer_id}/retirement", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def retire(volunteer_id: UUID, body: VolunteerReasonIn, write: CoordinatorWrite) -> JSONResponse:
    """Retire a volunteer for good (coordinator)."""
    return write.run(
        lambda by: write.ledger.retire_volunteer(
            volunteer_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=volunteer_id,
    )


@router.post("/{volunteer_id}/forget", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def forget(volunteer_id: UUID, body: ForgetIn, write: AdminWrite) -> JSONResponse:
    """Forget a volunteer (admin): destroy their key; visits, claims and scores stay, their personal data goes."""
    return write.run(
        lambda by: write.ledger.forget_volunteer(
            volunteer_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=volunteer_id,
    )


VolunteerReader = Annotated[Read, Depends(reader("coordinator", "auditor", "evaluator", "finance", "volunteer"))]
PHONE_READERS = ("coordinator", "volunteer")
NAME_READERS = ("coordinator", "volunteer", "evaluator", "finance")
"""Evaluators rate and finance pays a named person; an auditor sees a pseudonym unless giving a reason."""


@router.get("/{volunteer_id}", response_model=VolunteerOut, responses=READ_ERRORS)
def read(
    volunteer_id: UUID,
    read: VolunteerReader,
    response: Response,
    reason: ReasonQuery = None,
    version: VersionQuery = None,
) -> VolunteerOut:
    """One volunteer as the ledger has it now, or at `version` (a volunteer's key reads only its own)."""
    check_own(read.principal, volunteer_id, "volunteer")
    volunteer = load_version(read.ledger, Volunteer, volunteer_id, "volunteer", version)
    if version is not None:
        forget_if_forgotten(read.ledger, volunteer, volunteer.id, "name", "phone")
    response.headers["ETag"] = etag(volunteer.version)
    ledger_meta(read.services, response)
    named = discloses(read, SubjectKind.VOLUNTEER, volunteer.id, reason, roles=NAME_READERS)
    personal = named and (read.principal.role in PHONE_READERS or reason is not None)
    return VolunteerOut(
        id=volunteer.id, version=volunteer.version, pseudonym=pseudonym(SubjectKind.VOLUNTEER, volunteer.id),
        forgotten=volunteer.forgotten, county=volunteer.county, name=volunteer.name if named else None,
        unit=volunteer.unit, profession=volunteer.profession, township=volunteer.township, status=volunteer.status,
        training_hours={str(year): hours for year, hours in volunteer.training_hours.items()},
        phone=volunteer.phone if personal else None,
    )  # fmt: skip


class VolunteerItem(BaseModel):
    id: UUID
    county: str
    township: str
    status: str = choice(VolunteerStatus)
    active_pairings: int
    name: Annotated[str | None, Field(description="with ?names=true")] = None
    unit: Annotated[str | None, Field(description="with ?names=true")] = None
    profession: Annotated[str | None, Field(description="with ?names=true")] = None

    model_config = examples(
        {
            "id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui", "township": "高沟镇",
            "status": VolunteerStatus.ACTIVE, "active_pairings": 3, "name": None, "unit": None, "profession": None,
        }
    )  # fmt: skip


VolunteerListRead = Annotated[ViewRead, Depends(view_reader("roster", "coordinator", "auditor", "evaluator"))]
ScoreRead = Annotated[ViewRead, Depends(as_of_reader("scores", "coordinator", "evaluator", "auditor", "volunteer"))]


def load_key(v: LoadRow) -> tuple[str, ...]:
    return (v.county, v.township, str(v.volunteer_id))


@router.get("", response_model=Page[VolunteerItem], responses=LIST_ERRORS)
async def list_volunteers(
    read: VolunteerListRead,
    pages: Pages,
    county: Annotated[Text | None, Query(description="one county's code")] = None,
    township: Annotated[Text | None, Query(description="one township")] = None,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(VolunteerStatus)})$")] = None,
    names: Annotated[bool, Query(description="join name, unit and profession from the ledger")] = False,
) -> Response:
    """Volunteers with their status and active load, by county and township (coordinator, auditor, evaluator)."""

    def build() -> Page[VolunteerItem]:
        answer = read.view().loads(county=county, township=township)
        rows = [r for r in answer.rows if status is None or r.status == status]
        chosen, cursor = pages.page(rows, load_key)
        items = [
            VolunteerItem(
                id=r.volunteer_id,
                county=r.county,
                township=r.township,
                status=r.status,
                active_pairings=r.active_pairings,
            )
            for r in chosen
        ]
        if names:
            for item in items:
                volunteer = load(read.services.ledger, Volunteer, item.id, "volunteer")
                item.name, item.unit, item.profession = volunteer.name, volunteer.unit, volunteer.profession
        return Page[VolunteerItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, keep=not names)  # names are the ledger's, not the view's


@router.get("/{volunteer_id}/score", response_model=ScoreOut, responses=errors(404, 409))
def score(volunteer_id: UUID, read: ScoreRead, month: MonthQuery = None) -> ScoreOut:
    """A volunteer's score for a month, term by term, with its policy version and sources (coordinator, evaluator,
    auditor; a volunteer: its own); `as_of`: as known on that day (the month defaults to its month)."""
    check_own(read.principal, volunteer_id, "score")
    found = score_of(read.view(), volunteer_id, month or this_month(read))
    if found is None:
        raise NotFound("score for that month of a volunteer", volunteer_id)
    return score_out(found, read.meta(found.view_position))
