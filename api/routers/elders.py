"""Elders (离休干部, and other groups in a wider programme: ElderCategory): register, relocate,
recategorise, record a departure; read one; list them.

Names, birth dates, addresses, phones and notes are personal data (PIPL): a coordinator and the
volunteers actively paired with the elder read them; an auditor reads the record with a pseudonym
instead, unless the request gives a ``reason`` (then the read is recorded: :mod:`api.personal`).
An admin may have an elder forgotten (``POST …/forget``): their key is destroyed, and their
personal fields read ``[forgotten]`` from then on.
The list comes from the roster read model, which holds no personal data (ids, township, status,
last contact); a coordinator may add ``?names=true`` to join the names of the page's elders from
the ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.asof import VersionQuery, forget_if_forgotten, load_version
from api.deps import AdminWrite, CoordinatorCreate, CoordinatorWrite, Read, etag, reader
from api.personal import ReasonQuery, discloses, pseudonym
from api.problems import Forbidden
from api.reads import LIST_ERRORS, Page, Pages, ViewRead, ledger_meta, view_reader
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from api.service import load
from ledger.elders import DepartureKind, Elder, ElderCategory, ElderStatus, Sex
from ledger.errors import NotFound
from ledger.pairings import Caseload, caseload_id
from ledger.privacy import ForgetReason, SubjectKind
from projections.roster import ElderRow

router = APIRouter(prefix="/v1/elders", tags=["elders"])


class ElderIn(BaseModel):
    county: Annotated[Text | None, Field(description="the county's code; omitted: the home county")] = None
    name: Text
    birth_date: Day
    sex: Text = choice(Sex, Sex.MALE)
    township: Text
    address: Text
    phone: Text
    notes: Text = ""
    category: Text = choice(
        ElderCategory,
        ElderCategory.RETIRED_CADRE,
        default=ElderCategory.RETIRED_CADRE.value,
        description="the elder's group; omitted: a retired cadre",
    )

    model_config = examples(
        {
            "name": "王德明", "birth_date": "1931-04-12", "sex": Sex.MALE, "township": "高沟镇",
            "address": "高沟镇幸福路12号", "phone": "13805170000", "notes": "耳背，请大声说话",
            "category": ElderCategory.RETIRED_CADRE,
        }
    )  # fmt: skip


class RelocationIn(BaseModel):
    township: Text
    address: Text

    model_config = examples({"township": "涟城镇", "address": "涟城镇安东路8号"})


class RecategorisationIn(BaseModel):
    category: Text = choice(ElderCategory, ElderCategory.EMPTY_NESTER)
    reason: Annotated[Text, Field(description="why the elder is of another category now")]

    model_config = examples({"category": ElderCategory.EMPTY_NESTER, "reason": "子女迁居外地，老人独居"})


class DepartureIn(BaseModel):
    kind: Text = choice(DepartureKind, DepartureKind.MOVED_AWAY)
    date: Day

    model_config = examples({"kind": DepartureKind.MOVED_AWAY, "date": "2026-02-20"})


class ForgetIn(BaseModel):
    reason: Text = choice(ForgetReason, ForgetReason.PERSON_ASKED)

    model_config = examples({"reason": ForgetReason.PERSON_ASKED})


class ElderOut(BaseModel):
    id: UUID
    version: int
    pseudonym: Annotated[str, Field(description="a stable label for the elder that reveals nothing of them")]
    forgotten: Annotated[bool, Field(description="the elder's personal data is destroyed; the record stays")]
    county: str
    township: str
    sex: str
    category: str = choice(ElderCategory)
    status: str = choice(ElderStatus)
    departed_on: dt.date | None
    departure_kind: str | None
    personal: Annotated[bool, Field(description="false: the personal fields are withheld from this key's role")]
    name: str | None
    birth_date: dt.date | None
    address: str | None
    phone: str | None
    notes: str | None

    model_config = examples(
        {
            "id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11", "version": 1, "pseudonym": "elder-0b0e6f0a",
            "forgotten": False, "county": "lianshui", "township": "高沟镇", "sex": Sex.MALE,
            "category": ElderCategory.RETIRED_CADRE, "status": ElderStatus.ACTIVE, "departed_on": None,
            "departure_kind": None,
            "personal": True,
            "name": "王德明", "birth_date": "1931-04-12", "address": "高沟镇幸福路12号", "phone": "13805170000",
            "notes": "",
        }
    )  # fmt: skip


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def register(body: ElderIn, write: CoordinatorCreate) -> JSONResponse:
    """Register an elder (coordinator)."""
    county = body.county or write.services.settings.home_county
    fields = body.model_dump(exclude={"county"})
    return write.run(
        lambda by: write.ledger.register_elder(county=county, by=by, **fields),
        created=True,
        location="/v1/elders/{id}",
    )


@router.post("/{elder_id}/relocation", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def relocate(elder_id: UUID, body: RelocationIn, write: CoordinatorWrite) -> JSONResponse:
    """Record that an elder moved within the county (coordinator)."""
    return write.run(
        lambda by: write.ledger.relocate_elder(
            elder_id, township=body.township, address=body.address, by=by, expected_version=write.if_match
        ),
        target=elder_id,
    )


@router.post("/{elder_id}/category", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def recategorise(elder_id: UUID, body: RecategorisationIn, write: CoordinatorWrite) -> JSONResponse:
    """Put an elder in another category, with a reason (coordinator); 409 `elder.same_category` if already of it."""
    return write.run(
        lambda by: write.ledger.recategorise_elder(
            elder_id, category=body.category, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=elder_id,
    )


@router.post("/{elder_id}/departure", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def depart(elder_id: UUID, body: DepartureIn, write: CoordinatorWrite) -> JSONResponse:
    """Record that an elder died, withdrew or moved away (coordinator)."""
    return write.run(
        lambda by: write.ledger.record_departure(
            elder_id, kind=body.kind, on=body.date, by=by, expected_version=write.if_match
        ),
        target=elder_id,
    )


@router.post("/{elder_id}/forget", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def forget(elder_id: UUID, body: ForgetIn, write: AdminWrite) -> JSONResponse:
    """Forget an elder (admin): destroy their key; visits, money and seals stay, their personal data goes."""
    return write.run(
        lambda by: write.ledger.forget_elder(elder_id, reason=body.reason, by=by, expected_version=write.if_match),
        target=elder_id,
    )


ElderReader = Annotated[Read, Depends(reader("coordinator", "auditor", "volunteer"))]
PERSONAL_READERS = ("coordinator", "volunteer")
"""The roles that read an elder's personal fields (a volunteer only while paired: :func:`_check_paired`)."""


@router.get("/{elder_id}", response_model=ElderOut, responses=READ_ERRORS)
def read(
    elder_id: UUID, read: ElderReader, response: Response, reason: ReasonQuery = None, version: VersionQuery = None
) -> ElderOut:
    """One elder as the ledger has it now, or at `version` (coordinator; a volunteer paired with them now; an
    auditor sees a pseudonym, or with a ``reason`` the personal fields, and that read is recorded)."""
    if read.principal.role == "volunteer":
        _check_paired(read, elder_id)
    elder = load_version(read.ledger, Elder, elder_id, "elder", version)
    if version is not None:
        forget_if_forgotten(read.ledger, elder, elder.id, "name", "birth_date", "address", "phone", "notes")
    response.headers["ETag"] = etag(elder.version)
    ledger_meta(read.services, response)
    personal = discloses(read, SubjectKind.ELDER, elder.id, reason, roles=PERSONAL_READERS)
    return ElderOut(
        id=elder.id, version=elder.version, pseudonym=pseudonym(SubjectKind.ELDER, elder.id),
        forgotten=elder.forgotten, county=elder.county, township=elder.township, sex=elder.sex,
        category=elder.category, status=elder.status, departed_on=elder.departed_on,
        departure_kind=elder.departure_kind, personal=personal,
        name=elder.name if personal else None, birth_date=elder.birth_date if personal else None,
        address=elder.address if personal else None, phone=elder.phone if personal else None,
        notes=elder.notes if personal else None,
    )  # fmt: skip


def _check_paired(read: Read, elder_id: UUID) -> None:
    """A volunteer reads an elder only while actively paired with them."""
    volunteer_id = read.principal.volunteer_id
    caseload = None
    if volunteer_id is not None:
        try:
            caseload = load(read.ledger, Caseload, caseload_id(volunteer_id), "caseload")
        except NotFound:
            caseload = None
    if caseload is None or str(elder_id) not in caseload.active.values():
        raise Forbidden("a volunteer's key reads only the elders the volunteer is actively paired with")


class ElderItem(BaseModel):
    id: UUID
    county: str
    township: str
    category: str = choice(ElderCategory)
    status: str = choice(ElderStatus)
    departed_on: dt.date | None
    departure_kind: str | None
    last_contact_at: Annotated[dt.datetime | None, Field(description="the latest visit not voided; null: none")]
    last_visit_id: UUID | None
    name: Annotated[str | None, Field(description="with ?names=true (coordinator)")] = None

    model_config = examples(
        {
            "id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11", "county": "lianshui", "township": "高沟镇",
            "category": ElderCategory.RETIRED_CADRE, "status": ElderStatus.ACTIVE, "departed_on": None,
            "departure_kind": None,
            "last_contact_at": "2026-02-10T02:00:00Z", "last_visit_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10",
            "name": None,
        }
    )  # fmt: skip


CategoryQuery = Annotated[
    str | None, Query(pattern=f"^({'|'.join(ElderCategory)})$", description="only elders of this category")
]
"""``?category=``: one :class:`~ledger.elders.ElderCategory` (the roster's lists and the visits take it too)."""
ElderListRead = Annotated[ViewRead, Depends(view_reader("roster", "coordinator", "auditor"))]


def elder_key(e: ElderRow) -> tuple[str, ...]:
    return (e.county, e.township, str(e.elder_id))


@router.get("", response_model=Page[ElderItem], responses=LIST_ERRORS)
async def list_elders(
    read: ElderListRead,
    pages: Pages,
    county: Annotated[Text | None, Query(description="one county's code")] = None,
    township: Annotated[Text | None, Query(description="one township")] = None,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(ElderStatus)})$")] = None,
    category: CategoryQuery = None,
    names: Annotated[bool, Query(description="join each elder's name from the ledger (coordinator)")] = False,
) -> Response:
    """Elders by county, township and category, present or departed, with their last contact (coordinator,
    auditor)."""
    if names and read.principal.role != "coordinator":
        raise Forbidden("only a coordinator's key reads elders' names", role=read.principal.role)

    def build() -> Page[ElderItem]:
        answer = read.view().elders(county=county, township=township, category=category)
        rows = [e for e in answer.rows if status is None or ElderStatus.of(e.departed_on) == status]
        chosen, cursor = pages.page(rows, elder_key)
        items = [
            ElderItem(
                id=e.elder_id, county=e.county, township=e.township, category=e.category,
                status=ElderStatus.of(e.departed_on),
                departed_on=e.departed_on, departure_kind=e.departure_kind, last_contact_at=e.last_contact_at,
                last_visit_id=e.last_visit_id,
            )
            for e in chosen
        ]  # fmt: skip
        if names:
            for item in items:
                item.name = load(read.services.ledger, Elder, item.id, "elder").name
        return Page[ElderItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, keep=not names)  # names are the ledger's, not the view's
