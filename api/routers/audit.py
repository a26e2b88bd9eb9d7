"""The subsidy audit (from its read model): a budget year (and month by month), the anomalies A01–A11, and exports.

Auditors and finance read it. Every figure names the log position it reflects; every anomaly the
events it rests on and the money at stake, in fen and in yuan (per rule: docs/design.md, "Subsidy
audit"), with its rule's label in the language asked for (``?lang=zh|en``, or Accept-Language).
The audit does not trust the write side: it flags what a command should have refused as well.
The claim trails are served with the claims (``GET /v1/claims/{id}``); the models of a trail are here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.asof import AS_OF_LIST_ERRORS, AsOfField, AsOfPage, as_of_reader, read_today
from api.export import PARTS, XLSX, YearRows, as_csv, as_xlsx, attachment, year_rows
from api.labels import Language
from api.reads import Pages, ReadMeta, ViewRead, view_reader
from api.schemas import READ_ERRORS, Text, examples
from ledger.budgets import FIRST_YEAR, LAST_YEAR, BudgetLine, budget_id
from ledger.claims import ClaimStatus
from ledger.labels import Lang, label
from projections.audit import RULES, Anomaly, BudgetReport, Burndown, ClaimTrail, ItemTrail, MonthPoint, TrailRow

router = APIRouter(prefix="/v1/audit", tags=["audit"])

AuditRead = Annotated[ViewRead, Depends(view_reader("audit", "auditor", "finance"))]
AuditAsOfRead = Annotated[ViewRead, Depends(as_of_reader("audit", "auditor", "finance"))]
Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="the fiscal year", examples=[2026])]
CountyQuery = Annotated[Text | None, Query(description="the county's code (omitted: the home county)")]
CODE_PATTERN = f"^({'|'.join(RULES)})$"


# Budgets ------------------------------------------------------------------------------------


class LineOut(BaseModel):
    """One budget line, in integer fen: available = appropriated − committed."""

    line: str
    appropriated: int
    committed: int
    paid: Annotated[int, Field(description="of claims paid and not reversed")]
    available: int


class BudgetOut(ReadMeta):
    county: str
    year: int
    lines: list[LineOut]
    total: LineOut
    as_of: AsOfField = None

    model_config = examples(
        {
            "county": "lianshui", "year": 2026,
            "lines": [
                {"line": BudgetLine.TRANSPORT, "appropriated": 12000000, "committed": 41000, "paid": 30000,
                 "available": 11959000},
                {"line": BudgetLine.COMMUNICATION, "appropriated": 2160000, "committed": 9000, "paid": 6000,
                 "available": 2151000},
            ],
            "total": {"line": "total", "appropriated": 14160000, "committed": 50000, "paid": 36000,
                      "available": 14110000},
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


def budget_fields(report: BudgetReport) -> dict[str, Any]:
    lines = [
        LineOut(line=x.line, appropriated=x.appropriated, committed=x.committed, paid=x.paid, available=x.available)
        for x in report.lines
    ]
    total = LineOut(
        line="total",
        appropriated=sum(x.appropriated for x in lines),
        committed=sum(x.committed for x in lines),
        paid=sum(x.paid for x in lines),
        available=sum(x.available for x in lines),
    )
    return {"county": report.county, "year": report.year, "lines": lines, "total": total}


class AnomalyOut(BaseModel):
    code: Annotated[str, Field(description="A01–A11 (the contract's rule codes)")]
    rule: Annotated[str, Field(description="the rule, in English (the contract's words)")]
    rule_label: Annotated[str, Field(description="the rule in the language asked for (?lang=zh|en)")]
    subject: Annotated[str, Field(description="the entity the rule is checked for")]
    other: Annotated[str, Field(description="the second entity of a pair, or ''")]
    ids: list[UUID]
    positions: Annotated[list[int], Field(description="the log positions of the events it rests on")]
    position: Annotated[int, Field(description="the latest of them")]
    description: str
    amount_fen: Annotated[
        int,
        Field(
            description="the money at stake, integer fen: the transport live claims hold for the visit(s) (A01, "
            "A03–A06, A08, A10, A11; for A02 what is held a second time), the claim's total (A07), the amount "
            "committed beyond the appropriation (A09); 0 where no money rests on it"
        ),
    ]
    amount_yuan: Annotated[str, Field(description="the same in yuan, two decimals", examples=["10.00"])]

    model_config = examples(
        {
            "code": "A11", "rule": RULES["A11"], "rule_label": label("AnomalyRule", "A11"),
            "subject": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "other": "",
            "ids": ["6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11"],
            "positions": [812, 97], "position": 812,
            "description": "visit on 2026-02-10 recorded in 高沟镇, but elder 0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11 was "
            "registered in 涟城镇 that day; no coordinator confirmed the place",
            "amount_fen": 1000, "amount_yuan": "10.00",
        }
    )  # fmt: skip


def anomaly_out(a: Anomaly, lang: Lang = "zh") -> AnomalyOut:
    return AnomalyOut(
        code=a.code, rule=a.rule, rule_label=label("AnomalyRule", a.code, lang), subject=a.subject, other=a.other,
        ids=list(a.ids), positions=list(a.positions), position=a.position, description=a.description,
        amount_fen=a.amount_fen, amount_yuan=a.amount_yuan,
    )  # fmt: skip


class ClaimTally(BaseModel):
    count: int
    total_fen: int


class AuditBudgetOut(BudgetOut):
    claims: Annotated[dict[str, ClaimTally], Field(description="the year's claims by status")]
    anomaly_counts: Annotated[dict[str, int], Field(description="the year's anomalies by code")]
    over_committed: Annotated[list[AnomalyOut], Field(description="A09: lines with more committed than appropriated")]

    model_config = examples(
        {
            "county": "lianshui", "year": 2026,
            "lines": [{"line": BudgetLine.TRANSPORT, "appropriated": 12000000, "committed": 41000, "paid": 30000,
                       "available": 11959000}],
            "total": {"line": "total", "appropriated": 12000000, "committed": 41000, "paid": 30000,
                      "available": 11959000},
            "claims": {ClaimStatus.PAID: {"count": 3, "total_fen": 36000},
                       ClaimStatus.APPROVED: {"count": 1, "total_fen": 5000}},
            "anomaly_counts": {"A06": 1, "A10": 2}, "over_committed": [],
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


def tallies(rows: YearRows) -> dict[str, ClaimTally]:
    found: dict[str, ClaimTally] = {}
    for claim in rows.claims:
        tally = found.setdefault(claim.status, ClaimTally(count=0, total_fen=0))
        tally.count += 1
        tally.total_fen += claim.total_fen
    return found


@router.get("/budget/{year}", response_model=AuditBudgetOut, responses=READ_ERRORS)
def budget(year: Year, read: AuditAsOfRead, county: CountyQuery = None) -> AuditBudgetOut:
    """A budget year audited: its lines, its claims by status and its anomalies by code (auditor, finance);
    `as_of`: as known on that day."""
    chosen = county or read.services.settings.home_county
    return audit_budget(year_rows(read.view(), chosen, year), read.meta)


def audit_budget(rows: YearRows, meta: Callable[[int], dict[str, Any]]) -> AuditBudgetOut:
    """A year's rows as the audited budget (``meta``: the answer's position and state, given its position)."""
    chosen, year = rows.county, rows.year
    report = BudgetReport(rows.position, chosen, year, rows.lines)
    counts: dict[str, int] = {}
    for a in rows.anomalies:
        counts[a.code] = counts.get(a.code, 0) + 1
    a09 = [anomaly_out(a) for a in rows.anomalies if a.code == "A09" and a.subject == str(budget_id(chosen, year))]
    return AuditBudgetOut(
        **budget_fields(report), claims=tallies(rows), anomaly_counts=counts, over_committed=a09,
        **meta(rows.position),
    )  # fmt: skip


class MonthPointOut(BaseModel):
    """A budget year's lines as known at the end of a county month (by when events were recorded)."""

    month: Annotated[str, Field(description="the county month, YYYY-MM")]
    through: Annotated[dt.date, Field(description="the last county day it covers: the month's last, or today")]
    partial: Annotated[bool, Field(description="the current month: the year as known now, not at its end")]
    lines: list[LineOut]
    total: LineOut


class BurndownOut(BudgetOut):
    months: Annotated[
        list[MonthPointOut],
        Field(
            description="January to the current county month (months to come have none; a year ended has 12): "
            "each the lines as known at the end of the month, the current one as known now"
        ),
    ]

    model_config = examples(
        {
            "county": "lianshui", "year": 2026,
            "lines": [{"line": BudgetLine.TRANSPORT, "appropriated": 12000000, "committed": 41000, "paid": 30000,
                       "available": 11959000}],
            "total": {"line": "total", "appropriated": 12000000, "committed": 41000, "paid": 30000,
                      "available": 11959000},
            "months": [
                {"month": "2026-01", "through": "2026-01-31", "partial": False,
                 "lines": [{"line": BudgetLine.TRANSPORT, "appropriated": 12000000, "committed": 0, "paid": 0,
                            "available": 12000000}],
                 "total": {"line": "total", "appropriated": 12000000, "committed": 0, "paid": 0,
                           "available": 12000000}},
                {"month": "2026-02", "through": "2026-02-14", "partial": True,
                 "lines": [{"line": BudgetLine.TRANSPORT, "appropriated": 12000000, "committed": 41000,
                            "paid": 30000, "available": 11959000}],
                 "total": {"line": "total", "appropriated": 12000000, "committed": 41000, "paid": 30000,
                           "available": 11959000}},
            ],
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


def point_out(b: Burndown, p: MonthPoint) -> MonthPointOut:
    fields = budget_fields(BudgetReport(b.position, b.county, b.year, p.lines))
    return MonthPointOut(
        month=p.month, through=p.through, partial=p.partial, lines=fields["lines"], total=fields["total"]
    )


@router.get("/budget/{year}/burndown", response_model=BurndownOut, responses=READ_ERRORS)
def burndown(year: Year, read: AuditAsOfRead, county: CountyQuery = None) -> BurndownOut:
    """A budget year month by month: each line's appropriated, committed, paid and available at the end of each
    county month, as known then, and now (auditor, finance); `as_of`: as known on that day, which is then the
    current day. The current month's point is the year now, the same as `GET /v1/audit/budget/{year}`;
    months after it are left out. A year never appropriated answers no lines and zero totals."""
    chosen = county or read.services.settings.home_county
    found = read.view().burndown(chosen, year, read_today(read))
    now = budget_fields(BudgetReport(found.position, chosen, year, found.lines))
    months = [point_out(found, p) for p in found.points]
    return BurndownOut(**now, months=months, **read.meta(found.position))


def anomaly_key(a: Anomaly) -> tuple[str, int, str, str]:
    return (a.code, a.position, a.subject, a.other)


@router.get("/anomalies", response_model=AsOfPage[AnomalyOut], responses=AS_OF_LIST_ERRORS)
async def anomalies(
    read: AuditAsOfRead,
    pages: Pages,
    lang: Language,
    code: Annotated[str | None, Query(pattern=CODE_PATTERN, description="one rule code, A01–A11")] = None,
) -> Response:
    """Every anomaly, or those of one rule, by code and then the latest event it rests on (auditor, finance);
    `as_of`: as known on that day."""

    def build() -> AsOfPage[AnomalyOut]:
        report = read.view().anomalies(code)
        chosen, cursor = pages.page(report.anomalies, anomaly_key)
        items = [anomaly_out(a, lang) for a in chosen]
        return AsOfPage[AnomalyOut](items=items, next_cursor=cursor, **read.meta(report.position))

    return await read.page(pages, build, lang)


@router.get(
    "/export",
    response_class=Response,
    responses={
        **READ_ERRORS,
        200: {
            "description": "the year's claims, budget lines and anomalies (CSV: one part; XLSX: a sheet each)",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "claim_id,county,month,...\r\n"},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
def export(
    read: AuditRead,
    year: Annotated[int, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="the fiscal year", examples=[2026])],
    format: Annotated[str, Query(pattern="^(csv|xlsx)$", description="csv or xlsx")] = "csv",
    part: Annotated[str, Query(pattern=f"^({'|'.join(PARTS)})$", description="CSV only: which table")] = "claims",
    county: CountyQuery = None,
) -> Response:
    """A budget year's audit as a file: claims, budget lines and anomalies (auditor, finance)."""
    chosen = county or read.services.settings.home_county
    rows = year_rows(read.view(), chosen, year)
    read.meta(rows.position)
    name = f"tiexin-audit-{chosen}-{year}"
    if format == "xlsx":
        content, media, filename = as_xlsx(rows), XLSX, f"{name}.xlsx"
    else:
        content, media, filename = as_csv(rows, part), "text/csv; charset=utf-8", f"{name}-{part}.csv"
    headers = {k: v for k, v in read.response.headers.items() if k.startswith("x-tiexin-")}
    headers["Content-Disposition"] = attachment(filename)
    return Response(content, media_type=media, headers=headers)


# Claim trails (served by GET /v1/claims/{id}) -------------------------------------------------


class TrailEventOut(BaseModel):
    position: int
    entity_id: UUID
    event: str
    recorded_at: dt.datetime
    principal_id: Annotated[str | None, Field(description="the key that recorded it")]
    detail: dict[str, Any]


class TrailVisitOut(BaseModel):
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    kind: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime
    recorded_at: dt.datetime


class TrailPairingOut(BaseModel):
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    from_date: dt.date
    ended_on: dt.date | None


class TrailItemOut(BaseModel):
    visit_id: UUID
    transport_fen: int
    visit: Annotated[TrailVisitOut | None, Field(description="null: the log never recorded the visit")]
    events: list[TrailEventOut]
    pairing: TrailPairingOut | None
    pairing_events: list[TrailEventOut]
    elder_events: Annotated[list[TrailEventOut], Field(description="the elder's relocations and departure, if any")]


class TrailOut(ReadMeta):
    """A claim → its items → their visits → pairings, with every event's position (the audit view)."""

    status: Annotated[str, Field(description="the claim's status as the audit knows it")]
    events: Annotated[list[TrailEventOut], Field(description="the claim's, with its budget commitments")]
    items: list[TrailItemOut]
    anomalies: list[AnomalyOut]
    positions: Annotated[list[int], Field(description="every log position the trail rests on")]


def events_out(rows: tuple[TrailRow, ...]) -> list[TrailEventOut]:
    return [
        TrailEventOut(
            position=r.position, entity_id=r.entity_id, event=r.event, recorded_at=r.recorded_at,
            principal_id=r.principal_id, detail=r.detail,
        )
        for r in rows
    ]  # fmt: skip


def item_out(i: ItemTrail) -> TrailItemOut:
    return TrailItemOut(
        visit_id=i.visit_id,
        transport_fen=i.transport_fen,
        visit=TrailVisitOut.model_validate(i.visit, from_attributes=True) if i.visit else None,
        events=events_out(i.events),
        pairing=TrailPairingOut.model_validate(i.pairing, from_attributes=True) if i.pairing else None,
        pairing_events=events_out(i.pairing_events),
        elder_events=events_out(i.elder_events),
    )


def trail_out(trail: ClaimTrail, meta: dict[str, Any], lang: Lang = "zh") -> TrailOut | None:
    if trail.claim is None:
        return None
    return TrailOut(
        status=trail.claim.status, events=events_out(trail.events), items=[item_out(i) for i in trail.items],
        anomalies=[anomaly_out(a, lang) for a in trail.anomalies], positions=list(trail.positions), **meta,
    )  # fmt: skip
