"""The roster (from its read model): active pairings, elders with nobody, elders overdue for a contact,
and those counted by township.

Ids, townships, groups, dates and statuses only: names and phones stay in the ledger (read one
elder or volunteer for them). A coordinator or an auditor reads it all; a volunteer's key reads
its own pairings and nothing else of the roster. Each list takes ``?as_of=DATE``: the roster as known
on that day (:mod:`api.asof`); the overdue list (and the townships' overdue count) then counts its
days back from that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from api.asof import AS_OF_LIST_ERRORS, AsOfPage, AsOfRead, as_of_reader, read_today
from api.problems import BadRequest
from api.reads import Pages, Paging, ViewRead
from api.schemas import Text, examples
from ledger.elders import ElderCategory
from projections.roster import OverdueRow, PairingKey, PairingRow, TownshipRow, UnpairedRow, pairing_key

router = APIRouter(prefix="/v1/roster", tags=["roster"])

RosterRead = Annotated[ViewRead, Depends(as_of_reader("roster", "coordinator", "auditor", "volunteer"))]
StaffRosterRead = Annotated[ViewRead, Depends(as_of_reader("roster", "coordinator", "auditor"))]
CountyQuery = Annotated[Text | None, Query(description="a county's code (omitted: every county)")]
TownshipQuery = Annotated[Text | None, Query(description="one township, e.g. 高沟镇")]
CategoryQuery = Annotated[
    str | None, Query(pattern=f"^({'|'.join(ElderCategory)})$", description="only elders of this category")
]
DaysQuery = Annotated[
    int, Query(ge=0, le=3660, description="no contact on or after today − days (county dates; today: `as_of`)")
]

EXAMPLE_IDS = {
    "elder_id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11",
    "county": "lianshui",
    "township": "高沟镇",
}


class PairingItem(BaseModel):
    pairing_id: UUID
    elder_id: UUID
    volunteer_id: UUID
    county: str
    township: Annotated[str, Field(description="the elder's township, as relocated")]
    group: str
    from_date: dt.date
    volunteer_status: Annotated[str, Field(description="active, suspended or retired")]
    elder_departed_on: Annotated[dt.date | None, Field(description="set: the elder left; the pairing is to end")]

    model_config = examples(
        {
            "pairing_id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", **EXAMPLE_IDS,
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "group": "高沟镇第1组",
            "from_date": "2026-01-05", "volunteer_status": "active", "elder_departed_on": None,
        }
    )  # fmt: skip


class UnpairedItem(BaseModel):
    elder_id: UUID
    county: str
    township: str
    pairings: Annotated[int, Field(description="active pairings, all to volunteers not active (0: none)")]
    last_contact_at: dt.datetime | None

    model_config = examples({**EXAMPLE_IDS, "pairings": 0, "last_contact_at": None})


class OverdueItem(BaseModel):
    elder_id: UUID
    county: str
    township: str
    last_contact_at: dt.datetime | None
    last_visit_id: UUID | None
    days_without_contact: Annotated[int | None, Field(description="county days since the last contact; null: never")]
    volunteer_ids: Annotated[list[UUID], Field(description="the elder's active volunteers, to call (empty: none)")]

    model_config = examples(
        {
            **EXAMPLE_IDS, "last_contact_at": "2026-01-20T02:00:00Z",
            "last_visit_id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "days_without_contact": 40,
            "volunteer_ids": ["5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a"],
        }
    )  # fmt: skip


class TownshipItem(BaseModel):
    county: str
    township: str
    elders: Annotated[int, Field(description="present (not departed)")]
    paired: Annotated[int, Field(description="present, with an active pairing to an active volunteer")]
    unpaired: Annotated[int, Field(description="present with none: what /v1/roster/unpaired lists of the township")]
    overdue: Annotated[
        int, Field(description="what /v1/roster/overdue lists of the township for the same `days` (and `as_of`)")
    ]

    model_config = examples(
        {"county": "lianshui", "township": "高沟镇", "elders": 18, "paired": 17, "unpaired": 1, "overdue": 2}
    )


def pairing_cursor(p: PairingRow) -> tuple[str, ...]:
    return tuple(str(part) for part in pairing_key(p))


PAIRING_FIELDS = tuple(PairingItem.model_fields)
"""The fields of an item, in the order of ``RosterView.pairings(as_values=True)``'s columns."""
PAIRING_CURSOR = tuple(PAIRING_FIELDS.index(name) for name in ("county", "township", "group", "elder_id", "pairing_id"))
"""Where :func:`pairing_key`'s parts are in a row of values."""


def pairings_json(rows: Sequence[tuple[Any, ...]], pages: Paging) -> bytes:
    """``{"items":[...],"next_cursor":...}`` of a page of ``RosterView.pairings(as_values=True)`` (``limit + 1``
    rows read past the cursor; not ``?as_of=``), as ``AsOfPage[PairingItem]`` serializes it, with no model made per row:
    pydantic-core writes ids, dates and text as the model would, from the store's values."""
    chosen, last = rows[: pages.limit], None
    if len(rows) > pages.limit and chosen:
        last = tuple(str(chosen[-1][i]) for i in PAIRING_CURSOR)
    return to_json(
        {
            "items": [dict(zip(PAIRING_FIELDS, row, strict=True)) for row in chosen],
            "next_cursor": pages.cursor_after(last) if last is not None else None,
            "as_of": None,
        }
    )


def pairing_after(pages: Paging) -> PairingKey | None:
    """The previous page's last pairing, as the roster orders them (400: not a cursor of this list)."""
    found = pages.after_key()
    if found is None:
        return None
    try:
        county, township, group, elder, pairing = (str(part) for part in found)
        return county, township, group, UUID(elder), UUID(pairing)
    except ValueError:
        raise BadRequest("the cursor does not belong to this list", field="query.cursor") from None


@router.get("", response_model=AsOfPage[PairingItem], responses=AS_OF_LIST_ERRORS)
async def pairings(
    read: RosterRead,
    pages: Pages,
    county: CountyQuery = None,
    township: TownshipQuery = None,
    category: CategoryQuery = None,
    group: Annotated[Text | None, Query(description="one service group's label")] = None,
    volunteer_id: Annotated[UUID | None, Query(description="one volunteer's pairings")] = None,
    elder_id: Annotated[UUID | None, Query(description="one elder's pairings")] = None,
) -> Response:
    """Active pairings by county, township and group (coordinator, auditor; a volunteer: its own)."""
    if read.principal.role == "volunteer":
        volunteer_id = read.principal.volunteer_id

    after = pairing_after(pages)
    if not isinstance(read, AsOfRead):

        def serialize() -> tuple[int, bytes]:
            answer = read.view().pairings(
                county=county, township=township, category=category, group=group, volunteer_id=volunteer_id,
                elder_id=elder_id,
                after=after, limit=pages.limit + 1, as_values=True,
            )  # fmt: skip
            return answer.position, pairings_json(answer.rows, pages)

        return await read.serialized_page(pages, serialize)

    def build() -> AsOfPage[PairingItem]:
        answer = read.view().pairings(
            county=county, township=township, category=category, group=group, volunteer_id=volunteer_id,
            elder_id=elder_id,
            after=after, limit=pages.limit + 1,
        )  # fmt: skip
        chosen, cursor = pages.window(answer.rows, pairing_cursor)
        items = [PairingItem.model_validate(r, from_attributes=True) for r in chosen]
        return AsOfPage[PairingItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build)


def unpaired_key(u: UnpairedRow) -> tuple[str, ...]:
    return (u.county, u.township, str(u.elder_id))


@router.get("/unpaired", response_model=AsOfPage[UnpairedItem], responses=AS_OF_LIST_ERRORS)
async def unpaired(
    read: StaffRosterRead,
    pages: Pages,
    county: CountyQuery = None,
    township: TownshipQuery = None,
    category: CategoryQuery = None,
) -> Response:
    """Elders present with no active pairing to an active volunteer (coordinator, auditor)."""

    def build() -> AsOfPage[UnpairedItem]:
        answer = read.view().unpaired(county=county, township=township, category=category)
        chosen, cursor = pages.page(answer.rows, unpaired_key)
        items = [UnpairedItem.model_validate(r, from_attributes=True) for r in chosen]
        return AsOfPage[UnpairedItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build)


def overdue_key(o: OverdueRow) -> tuple[bool, str, str]:
    """Never contacted first, then the longest without contact (as the view orders them)."""
    last = o.last_contact_at
    return (last is not None, last.isoformat(timespec="microseconds") if last else "", str(o.elder_id))


@router.get("/overdue", response_model=AsOfPage[OverdueItem], responses=AS_OF_LIST_ERRORS)
async def overdue(
    read: StaffRosterRead,
    pages: Pages,
    days: DaysQuery = 30,
    county: CountyQuery = None,
    township: TownshipQuery = None,
    category: CategoryQuery = None,
) -> Response:
    """Elders present with no contact in the last `days` days, or never; the never contacted first (coordinator,
    auditor); `as_of`: as known on that day, counting the days back from it."""
    today = read_today(read)

    def build() -> AsOfPage[OverdueItem]:
        answer = read.view().overdue(days, today, county=county, township=township, category=category)
        chosen, cursor = pages.page(answer.rows, overdue_key)
        items = [OverdueItem.model_validate(r, from_attributes=True) for r in chosen]
        return AsOfPage[OverdueItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, today)


def township_key(t: TownshipRow) -> tuple[str, str]:
    return (t.county, t.township)


@router.get("/townships", response_model=AsOfPage[TownshipItem], responses=AS_OF_LIST_ERRORS)
async def townships(
    read: StaffRosterRead,
    pages: Pages,
    days: DaysQuery = 30,
    county: CountyQuery = None,
    category: CategoryQuery = None,
) -> Response:
    """Each township's elders: present, paired, unpaired and overdue (`days` as on the overdue list), by county
    and township (coordinator, auditor); `as_of`: as known on that day, counting the days back from it.

    The counts are those of `/v1/roster/unpaired` and `/v1/roster/overdue` for the township, the same filters
    given. The roster keeps no county's list of townships: a township is listed once an elder was registered
    or relocated there (one whose elders all departed is listed with zeros); one with none never is."""
    today = read_today(read)

    def build() -> AsOfPage[TownshipItem]:
        answer = read.view().townships(days, today, county=county, category=category)
        chosen, cursor = pages.page(answer.rows, township_key)
        items = [TownshipItem.model_validate(r, from_attributes=True) for r in chosen]
        return AsOfPage[TownshipItem](items=items, next_cursor=cursor, **read.meta(answer.position))

    return await read.page(pages, build, today)
