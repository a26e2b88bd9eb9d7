"""Reports of a county by township: health gift bags handed out and trainings completed in a year, by
month, and the contacts made in a month, by kind.

All are read from the desk read model (:mod:`projections.desk`), with its position and lag like
every read; coordinators, auditors and evaluators read them, and finance the contacts too (every
staff role that lists visits); a volunteer's key is refused: they are the county's figures, not one
volunteer's.

- **Gift bags**: the county's visits that handed over a health gift bag (健康福寿袋) and are not
  voided, by the township the visit took place in and its county month; and the items those bags
  held, counted against the gift-bag policy version in force on the month's first day (bags × the
  version's count of each item), each item with its label (``?lang=zh|en``).
- **Trainings**: the courses the county's volunteers completed, by the volunteer's township and
  the course's month: how many, by how many volunteers, and their hours.
- **Contacts**: the county's visits of a county month that are not voided (a contact that happened,
  as the roster's last contact and the score count it: a disputed visit still counts), by the
  township the visit took place in and by kind, each kind with its label (``?lang=zh|en``); every
  township of the county is listed, in the county's order, with zeros where nobody was reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.labels import Language
from api.reads import ReadMeta, ViewRead, view_reader
from api.routers.desk import MONTH
from api.schemas import READ_ERRORS, Text, examples
from api.service import load
from ledger.budgets import FIRST_YEAR, LAST_YEAR
from ledger.common import county_date, first_day, month_of
from ledger.counties import County, county_id
from ledger.labels import Lang, label
from ledger.policies import GiftBagItem, Policy, PolicyKind, PolicyVersion, gift_bag_contents, policy_id
from ledger.visits import VisitKind
from projections.desk import ContactCount, GiftBagCount, TrainingDone

router = APIRouter(prefix="/v1/reports", tags=["reports"])

ReportRead = Annotated[ViewRead, Depends(view_reader("desk", "coordinator", "auditor", "evaluator"))]
ContactReportRead = Annotated[ViewRead, Depends(view_reader("desk", "coordinator", "auditor", "evaluator", "finance"))]
"""Every staff role that lists visits (``GET /v1/visits``), a volunteer's key excepted."""
CountyQuery = Annotated[Text | None, Query(description="the county's code (omitted: the home county)")]
YearQuery = Annotated[int, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="a calendar year", examples=[2026])]
EXAMPLE_META = {"position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None}


def county_of(read: ViewRead, code: str | None) -> County:
    """The county asked for (404 if there is none such), whose townships order the rows."""
    return load(read.services.ledger, County, county_id(code or read.services.settings.home_county), "county")


def township_order(county: County) -> dict[str, int]:
    return {name: i for i, name in enumerate(county.townships)}


# Gift bags ----------------------------------------------------------------------------------


class BagItemOut(BaseModel):
    item: Annotated[str, Field(description=f"one of {', '.join(GiftBagItem)}")]
    item_label: Annotated[str, Field(description="the item in the language asked for (?lang=zh|en)")]
    per_bag: Annotated[int, Field(description="how many one bag holds under the month's gift-bag version")]
    count: Annotated[int, Field(description="how many were handed out: bags × per_bag")]


class GiftBagRowOut(BaseModel):
    township: Annotated[str, Field(description="where the visits took place")]
    month: Annotated[str, Field(description="the county month, YYYY-MM")]
    bags: Annotated[int, Field(description="visits that handed over a gift bag, voided ones left out")]
    policy_version: Annotated[int, Field(description="the gift-bag version in force on the month's first day")]
    items: list[BagItemOut]


class BagItemTotalOut(BaseModel):
    item: str
    item_label: str
    count: int


class GiftBagTotalOut(BaseModel):
    bags: int
    items: Annotated[list[BagItemTotalOut], Field(description="each item handed out in the year, in all")]


class GiftBagReportOut(ReadMeta):
    county: str
    year: int
    rows: Annotated[list[GiftBagRowOut], Field(description="one per township and month with a bag handed out")]
    total: GiftBagTotalOut

    model_config = examples(
        {
            "county": "lianshui", "year": 2026,
            "rows": [{
                "township": "高沟镇", "month": "2026-02", "bags": 3, "policy_version": 1,
                "items": [
                    {"item": "handbook", "item_label": "健康手册", "per_bag": 1, "count": 3},
                    {"item": "health_book", "item_label": "健康书", "per_bag": 1, "count": 3},
                    {"item": "local_culture_book", "item_label": "地方文化书", "per_bag": 2, "count": 6},
                    {"item": "other_book", "item_label": "其他书籍", "per_bag": 1, "count": 3},
                ],
            }],
            "total": {"bags": 3, "items": [
                {"item": "handbook", "item_label": "健康手册", "count": 3},
                {"item": "health_book", "item_label": "健康书", "count": 3},
                {"item": "local_culture_book", "item_label": "地方文化书", "count": 6},
                {"item": "other_book", "item_label": "其他书籍", "count": 3},
            ]},
            **EXAMPLE_META,
        }
    )  # fmt: skip


def gift_bag_rows(
    counts: Iterable[GiftBagCount], versions: Policy, order: dict[str, int], lang: Lang
) -> tuple[list[GiftBagRowOut], GiftBagTotalOut]:
    """Each township-month's bags with the items they held under the version of the month, and the year's total."""
    rows, totals, bags = [], dict.fromkeys(map(str, GiftBagItem), 0), 0
    for c in sorted(counts, key=lambda c: (order.get(c.township, len(order)), c.township, c.month)):
        version: PolicyVersion = versions.in_force(first_day(c.month))
        items = []
        for item, per_bag in gift_bag_contents(version.parameters).items():
            items.append(
                BagItemOut(
                    item=item, item_label=label(GiftBagItem, item, lang), per_bag=per_bag, count=c.bags * per_bag
                )
            )
            totals[item] += c.bags * per_bag
        bags += c.bags
        rows.append(
            GiftBagRowOut(township=c.township, month=c.month, bags=c.bags, policy_version=version.version, items=items)
        )
    total = GiftBagTotalOut(
        bags=bags,
        items=[
            BagItemTotalOut(item=item, item_label=label(GiftBagItem, item, lang), count=count)
            for item, count in totals.items()
            if count
        ],
    )
    return rows, total


@router.get("/gift-bags", response_model=GiftBagReportOut, responses=READ_ERRORS)
def gift_bags(read: ReportRead, year: YearQuery, lang: Language, county: CountyQuery = None) -> GiftBagReportOut:
    """Health gift bags handed out in a county's year, by township and month, and the items they held
    (coordinator, auditor, evaluator)."""
    found = county_of(read, county)
    policy = load(read.services.ledger, Policy, policy_id(PolicyKind.GIFT_BAG), "policy")
    answer = read.view().gift_bags(found.code, year)
    rows, total = gift_bag_rows(answer.rows, policy, township_order(found), lang)
    return GiftBagReportOut(county=found.code, year=year, rows=rows, total=total, **read.meta(answer.position))


# Trainings ----------------------------------------------------------------------------------


class TrainingRowOut(BaseModel):
    township: Annotated[str, Field(description="the township of the volunteers who trained")]
    month: Annotated[str, Field(description="the month of the courses, YYYY-MM")]
    trainings: Annotated[int, Field(description="courses completed")]
    volunteers: Annotated[int, Field(description="volunteers who completed at least one of them")]
    hours: Annotated[Decimal, Field(description="the courses' hours, in all")]


class TrainingTotalOut(BaseModel):
    trainings: int
    volunteers: int
    hours: Decimal


class TrainingReportOut(ReadMeta):
    county: str
    year: int
    rows: Annotated[list[TrainingRowOut], Field(description="one per township and month with a course completed")]
    total: TrainingTotalOut

    model_config = examples(
        {
            "county": "lianshui", "year": 2026,
            "rows": [{"township": "高沟镇", "month": "2026-01", "trainings": 3, "volunteers": 2, "hours": "10.5"}],
            "total": {"trainings": 3, "volunteers": 2, "hours": "10.5"},
            **EXAMPLE_META,
        }
    )  # fmt: skip


def training_rows(done: Iterable[TrainingDone], order: dict[str, int]) -> tuple[list[TrainingRowOut], TrainingTotalOut]:
    """The courses by township and month (how many, by how many volunteers, hours), and the year's total."""
    groups: dict[tuple[str, str], list[TrainingDone]] = defaultdict(list)
    for t in done:
        groups[(t.township, month_of(t.on_day))].append(t)
    rows = [
        TrainingRowOut(
            township=township, month=month, trainings=len(ts), volunteers=len({t.volunteer_id for t in ts}),
            hours=sum((t.hours for t in ts), Decimal(0)),
        )
        for (township, month), ts in sorted(groups.items(), key=lambda g: (order.get(g[0][0], len(order)), g[0]))
    ]  # fmt: skip
    every = [t for ts in groups.values() for t in ts]
    who: set[UUID] = {t.volunteer_id for t in every}
    total = TrainingTotalOut(trainings=len(every), volunteers=len(who), hours=sum((t.hours for t in every), Decimal(0)))
    return rows, total


@router.get("/trainings", response_model=TrainingReportOut, responses=READ_ERRORS)
def trainings(read: ReportRead, year: YearQuery, county: CountyQuery = None) -> TrainingReportOut:
    """Trainings the county's volunteers completed in a year, by their township and month: courses,
    volunteers and hours (coordinator, auditor, evaluator)."""
    found = county_of(read, county)
    answer = read.view().trainings_of_county(found.code, year)
    rows, total = training_rows(answer.rows, township_order(found))
    return TrainingReportOut(county=found.code, year=year, rows=rows, total=total, **read.meta(answer.position))


# Contacts -----------------------------------------------------------------------------------


class KindCountOut(BaseModel):
    kind: Annotated[str, Field(description=f"one of {', '.join(VisitKind)}")]
    kind_label: Annotated[str, Field(description="the kind in the language asked for (?lang=zh|en)")]
    contacts: int


Contacts = Annotated[int, Field(description="visits not voided, of every kind")]
HomeVisits = Annotated[int, Field(description="those of them at home (every kind but phone_call)")]
ByKind = Annotated[list[KindCountOut], Field(description="by kind: every kind, zeros too")]


class ContactRowOut(BaseModel):
    township: Annotated[str, Field(description="where the visits took place")]
    contacts: Contacts
    home_visits: HomeVisits
    kinds: ByKind


class ContactTotalOut(BaseModel):
    contacts: Contacts
    home_visits: HomeVisits
    kinds: ByKind


class ContactReportOut(ReadMeta):
    county: str
    month: Annotated[str, Field(description="the county month, YYYY-MM")]
    rows: Annotated[list[ContactRowOut], Field(description="one per township of the county, in its order")]
    total: ContactTotalOut

    model_config = examples(
        {
            "county": "lianshui", "month": "2026-02",
            "rows": [{
                "township": "高沟镇", "contacts": 31, "home_visits": 19,
                "kinds": [
                    {"kind": VisitKind.MEDICAL, "kind_label": "医疗服务", "contacts": 8},
                    {"kind": VisitKind.EMOTIONAL, "kind_label": "精神慰藉", "contacts": 7},
                    {"kind": VisitKind.DAILY_LIVING, "kind_label": "生活照料", "contacts": 4},
                    {"kind": VisitKind.PHONE_CALL, "kind_label": "电话问候", "contacts": 12},
                ],
            }],
            "total": {
                "contacts": 31, "home_visits": 19,
                "kinds": [
                    {"kind": VisitKind.MEDICAL, "kind_label": "医疗服务", "contacts": 8},
                    {"kind": VisitKind.EMOTIONAL, "kind_label": "精神慰藉", "contacts": 7},
                    {"kind": VisitKind.DAILY_LIVING, "kind_label": "生活照料", "contacts": 4},
                    {"kind": VisitKind.PHONE_CALL, "kind_label": "电话问候", "contacts": 12},
                ],
            },
            **EXAMPLE_META,
        }
    )  # fmt: skip


def contact_counts(counts: dict[str, int], lang: Lang) -> ContactTotalOut:
    """Contacts (``counts`` by kind): every kind of the ledger's, then any other the view holds."""
    kinds = [*map(str, VisitKind), *sorted(set(counts) - set(VisitKind))]
    return ContactTotalOut(
        contacts=sum(counts.values()),
        home_visits=sum(n for kind, n in counts.items() if kind != VisitKind.PHONE_CALL),
        kinds=[
            KindCountOut(kind=kind, kind_label=label(VisitKind, kind, lang), contacts=counts.get(kind, 0))
            for kind in kinds
        ],
    )


def contact_rows(
    counts: Iterable[ContactCount], county: County, lang: Lang
) -> tuple[list[ContactRowOut], ContactTotalOut]:
    """Every township of the county in its order (then any other a visit names), and the month's total."""
    by_township: dict[str, dict[str, int]] = {name: {} for name in county.townships}
    total: dict[str, int] = {}
    for c in counts:
        by_township.setdefault(c.township, {})[c.kind] = c.contacts
        total[c.kind] = total.get(c.kind, 0) + c.contacts
    order = township_order(county)
    townships = sorted(by_township, key=lambda t: (order.get(t, len(order)), t))
    rows = [ContactRowOut(township=t, **dict(contact_counts(by_township[t], lang))) for t in townships]
    return rows, contact_counts(total, lang)


@router.get("/contacts", response_model=ContactReportOut, responses=READ_ERRORS)
def contacts(
    read: ContactReportRead,
    lang: Language,
    county: CountyQuery = None,
    month: Annotated[
        str | None, Query(pattern=MONTH, description="a county month, YYYY-MM (omitted: the current one)")
    ] = None,
) -> ContactReportOut:
    """Contacts made in a county's month, by township and kind: its visits not voided (coordinator, auditor,
    evaluator, finance)."""
    found = county_of(read, county)
    chosen = month or month_of(county_date(read.services.settings.clock()))
    answer = read.view().contacts(found.code, chosen)
    rows, total = contact_rows(answer.rows, found, lang)
    return ContactReportOut(county=found.code, month=chosen, rows=rows, total=total, **read.meta(answer.position))
