"""Audit samples (审计抽样): claims of a budget year drawn reproducibly from a seed, with each visit's evidence.

An auditor draws a sample (``POST``): the year's approved and paid claims, as the log holds them
at its head, ranked by the seed (:mod:`ledger.audit_samples`); the same seed over the same log
picks the same claims on any store. The draw is recorded as an event (its ``id`` and ``position``
are what the audit file cites). Auditors and finance read it back with the evidence of each visit
from the audit read model — kind, times, status, confirmation, the amount claimed for it, the
log positions — and export it as CSV or XLSX.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictInt
from starlette.concurrency import run_in_threadpool

from api.deps import Write, creator
from api.export import XLSX, attachment, inert, text_cell
from api.reads import ReadMeta, ViewRead, view_reader
from api.schemas import READ_ERRORS, WRITE_ERRORS, Text, WrittenOut, choice, examples
from api.service import load
from ledger.audit_samples import MAX_SEED, MAX_SIZE, AuditSample, Stratification
from ledger.budgets import FIRST_YEAR, LAST_YEAR
from ledger.claims import ClaimStatus
from ledger.common import COUNTY_TZ
from ledger.labels import label
from ledger.visits import VisitKind, VisitStatus
from projections.audit import AuditView, ClaimTrail, ItemTrail
from projections.sampling import population

router = APIRouter(prefix="/v1/audit/samples", tags=["audit"])

AuditorCreate = Annotated[Write, Depends(creator("auditor"))]
SampleRead = Annotated[ViewRead, Depends(view_reader("audit", "auditor", "finance"))]


class SampleIn(BaseModel):
    year: Annotated[StrictInt, Field(ge=FIRST_YEAR, le=LAST_YEAR, description="the budget year")]
    size: Annotated[StrictInt, Field(ge=1, le=MAX_SIZE, description="how many claims to draw")]
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED, description="the same seed over the same log draws the same")]
    stratify_by: Annotated[
        Text | None,
        choice(Stratification, description="township (the volunteer's) or amount (quartiles of the total); null: none"),
    ] = None
    county: Annotated[Text | None, Field(description="the county's code; omitted: the home county")] = None

    model_config = examples({"year": 2025, "size": 20, "seed": 42, "stratify_by": "township"})


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def draw(body: SampleIn, write: AuditorCreate) -> JSONResponse:
    """Draw claims of a budget year for an audit, reproducibly from a seed, and record the draw (auditor)."""
    county = body.county or write.services.settings.home_county
    ledger = write.ledger
    return write.run(
        lambda by: ledger.draw_audit_sample(
            county=county,
            year=body.year,
            size=body.size,
            seed=body.seed,
            stratify_by=body.stratify_by,
            population=lambda c, y: population(ledger, c, y),
            by=by,
        ),
        created=True,
        location="/v1/audit/samples/{id}",
    )


# Reading a sample back, with its evidence ----------------------------------------------------


class ConfirmationOut(BaseModel):
    by: Annotated[str, Field(description="who confirmed it: elder, family, coordinator …")]
    method: str
    position: int
    recorded_at: dt.datetime


class SampleVisitOut(BaseModel):
    visit_id: UUID
    transport_fen: Annotated[int, Field(description="what the claim asks for this visit")]
    kind: str | None
    kind_label: str | None
    status: Annotated[str | None, Field(description="now; null: the audit read model does not know the visit")]
    status_label: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    recorded_at: dt.datetime | None
    confirmation: ConfirmationOut | None
    positions: Annotated[list[int], Field(description="the log positions of the visit's events")]


class SampleClaimOut(BaseModel):
    claim_id: UUID
    stratum: str
    total_fen: Annotated[int, Field(description="as drawn")]
    status: Annotated[str | None, Field(description="now; null: the audit read model does not know the claim yet")]
    status_label: str | None
    month: str | None
    volunteer_id: UUID | None
    transport_fen: int | None
    communication_fen: int | None
    positions: Annotated[list[int], Field(description="the log positions of the claim's events")]
    anomalies: Annotated[list[str], Field(description="codes of the anomalies involving the claim or its visits")]
    visits: list[SampleVisitOut]


class StratumOut(BaseModel):
    population: int
    chosen: int
    min_fen: int
    max_fen: int


class SampleOut(ReadMeta):
    id: UUID
    county: str
    year: int
    size: Annotated[int, Field(description="as asked; fewer are drawn from a smaller population")]
    seed: int
    stratify_by: str | None
    drawn_position: Annotated[int, Field(description="the log position the population was read at")]
    drawn_by: str
    drawn_at: dt.datetime
    population: Annotated[int, Field(description="approved and paid claims of the year at drawn_position")]
    strata: dict[str, StratumOut]
    claims: list[SampleClaimOut]

    model_config = examples(
        {
            "position": 42600, "lag": 0, "projection_state": "caught_up",
            "id": "5a3c0000-0000-4000-8000-000000000010", "county": "lianshui", "year": 2025, "size": 1, "seed": 42,
            "stratify_by": "township", "drawn_position": 42578, "drawn_by": "key_4f2a",
            "drawn_at": "2026-03-02T05:40:00Z",
            "population": 712, "strata": {"高沟镇": {"population": 30, "chosen": 1, "min_fen": 1000, "max_fen": 9000}},
            "claims": [
                {
                    "claim_id": "9b2e0000-0000-4000-8000-000000000001", "stratum": "高沟镇", "total_fen": 4000,
                    "status": "paid", "status_label": "已支付", "month": "2025-06",
                    "volunteer_id": "8f14e45f-ceea-467f-a0e6-1c2b3d4e5f60", "transport_fen": 3000,
                    "communication_fen": 1000, "positions": [21010, 21400, 21620], "anomalies": [], "visits": [],
                }
            ],
        }
    )  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """A sample and, per claim, its trail in the audit read model (read at ``position``)."""

    sample: AuditSample
    trails: list[tuple[dict[str, Any], ClaimTrail]]
    position: int


def gather(view: AuditView, sample: AuditSample) -> Evidence:
    trails = [(drawn, view.trail(drawn["claim_id"])) for drawn in sample.claims]
    return Evidence(sample, trails, min(t.position for _, t in trails))  # a sample draws at least one claim


def confirmation_of(item: ItemTrail) -> ConfirmationOut | None:
    found = [e for e in item.events if e.event == "Confirmed"]
    if not found:
        return None
    last = found[-1]
    return ConfirmationOut(
        by=str(last.detail.get("confirmed_by", "")), method=str(last.detail.get("method", "")),
        position=last.position, recorded_at=last.recorded_at,
    )  # fmt: skip


def visit_out(item: ItemTrail) -> SampleVisitOut:
    v = item.visit
    return SampleVisitOut(
        visit_id=item.visit_id, transport_fen=item.transport_fen,
        kind=v.kind if v else None, kind_label=label(VisitKind, v.kind) if v else None,
        status=v.status if v else None, status_label=label(VisitStatus, v.status) if v else None,
        started_at=v.started_at if v else None, ended_at=v.ended_at if v else None,
        recorded_at=v.recorded_at if v else None, confirmation=confirmation_of(item),
        positions=[e.position for e in item.events],
    )  # fmt: skip


def claim_out(drawn: dict[str, Any], trail: ClaimTrail) -> SampleClaimOut:
    c = trail.claim
    return SampleClaimOut(
        claim_id=drawn["claim_id"], stratum=drawn["stratum"], total_fen=drawn["total_fen"],
        status=c.status if c else None, status_label=label(ClaimStatus, c.status) if c else None,
        month=c.month if c else None, volunteer_id=c.volunteer_id if c else None,
        transport_fen=c.transport_fen if c else None, communication_fen=c.communication_fen if c else None,
        positions=[e.position for e in trail.events], anomalies=sorted({a.code for a in trail.anomalies}),
        visits=[visit_out(i) for i in trail.items],
    )  # fmt: skip


def sample_fields(evidence: Evidence) -> dict[str, Any]:
    s = evidence.sample
    return {
        "id": s.id, "county": s.county, "year": s.year, "size": s.size, "seed": s.seed, "stratify_by": s.stratify_by,
        "drawn_position": s.position, "drawn_by": s.drawn_by, "drawn_at": s.drawn_at, "population": s.population,
        "strata": {k: StratumOut(**v) for k, v in s.strata.items()},
        "claims": [claim_out(drawn, trail) for drawn, trail in evidence.trails],
    }  # fmt: skip


async def evidence_of(sample_id: UUID, read: ViewRead) -> Evidence:
    """The sample, once the audit read model has reached the log position it was drawn at (bounded wait)."""
    sample = await run_in_threadpool(load, read.services.ledger, AuditSample, sample_id, "audit sample")
    reads = read.services.reads
    if reads is not None:
        await reads.wait_for("audit", sample.position, read.services.settings.read_wait)
    return await run_in_threadpool(gather, read.view(), sample)


@router.get("/{sample_id}", response_model=SampleOut, responses=READ_ERRORS)
async def read_sample(sample_id: UUID, read: SampleRead) -> SampleOut:
    """A sample as drawn, with the evidence of each visit from the audit read model (auditor, finance)."""
    evidence = await evidence_of(sample_id, read)
    return SampleOut(**sample_fields(evidence), **read.meta(evidence.position))


# Export ----------------------------------------------------------------------------------------

COLUMNS = (
    "sample_id", "stratum", "claim_id", "month", "volunteer_id", "claim_status", "claim_status_zh", "claim_total_fen",
    "visit_id", "kind", "kind_zh", "visit_status", "visit_status_zh", "started_at", "ended_at", "recorded_at",
    "confirmed_by", "confirmation_method", "confirmation_position", "transport_fen", "transport_yuan", "positions",
)  # fmt: skip
"""One row per visit of the sample (times in the county's time, Asia/Shanghai)."""


def local(moment: dt.datetime | None) -> str:
    return moment.astimezone(COUNTY_TZ).isoformat() if moment is not None else ""


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen >= 0 else f"-{yuan(-fen)}"


def rows_of(out: SampleOut) -> list[tuple[Any, ...]]:
    """One row per visit; a claim the audit read model does not know yet gets one row of its own."""
    rows = []
    for c in out.claims:
        claim = (
            str(out.id), c.stratum, str(c.claim_id), c.month or "", str(c.volunteer_id or ""), c.status or "",
            c.status_label or "", c.total_fen,
        )  # fmt: skip
        rows += [(*claim, *visit_cells(v)) for v in c.visits] or [claim + ("",) * (len(COLUMNS) - len(claim))]
    return rows


def visit_cells(v: SampleVisitOut) -> tuple[Any, ...]:
    confirmed = v.confirmation
    return (
        str(v.visit_id), v.kind or "", v.kind_label or "", v.status or "", v.status_label or "", local(v.started_at),
        local(v.ended_at), local(v.recorded_at), confirmed.by if confirmed else "",
        confirmed.method if confirmed else "", confirmed.position if confirmed else "", v.transport_fen,
        yuan(v.transport_fen), " ".join(map(str, v.positions)),
    )  # fmt: skip


def about(out: SampleOut) -> list[tuple[str, Any]]:
    return [
        ("sample_id", str(out.id)), ("county", out.county), ("year", out.year), ("size", out.size),
        ("seed", out.seed), ("stratify_by", out.stratify_by or ""), ("drawn_position", out.drawn_position),
        ("drawn_by", out.drawn_by), ("drawn_at", local(out.drawn_at)), ("population", out.population),
        ("claims", len(out.claims)), ("evidence_position", out.position),
        *((f"stratum {k}", f"{s.chosen} of {s.population}") for k, s in out.strata.items()),
    ]  # fmt: skip


def as_csv(out: SampleOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([inert(value) for value in row] for row in rows_of(out))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(out: SampleOut) -> bytes:
    from openpyxl import Workbook  # imported here: only an export needs it

    book = Workbook(write_only=True)
    visits = book.create_sheet("visits")
    visits.append(list(COLUMNS))
    for row in rows_of(out):
        visits.append([text_cell(visits, value) for value in row])
    sheet = book.create_sheet("sample")
    for pair in about(out):
        sheet.append([text_cell(sheet, value) for value in pair])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@router.get(
    "/{sample_id}/export",
    response_class=Response,
    responses={
        **READ_ERRORS,
        200: {
            "description": "the sample, one row per visit with its evidence (XLSX: also a sheet describing the draw)",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "sample_id,stratum,claim_id,...\r\n"},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
async def export_sample(
    sample_id: UUID,
    read: SampleRead,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$", description="csv or xlsx")] = "csv",
) -> Response:
    """A sample and the evidence of each of its visits as a file (auditor, finance)."""
    evidence = await evidence_of(sample_id, read)
    out = SampleOut(**sample_fields(evidence), **read.meta(evidence.position))
    name = f"tiexin-sample-{out.county}-{out.year}-{sample_id}"
    if format == "xlsx":
        content, media, filename = await run_in_threadpool(as_xlsx, out), XLSX, f"{name}.xlsx"
    else:
        content, media, filename = as_csv(out), "text/csv; charset=utf-8", f"{name}.csv"
    headers = {k: v for k, v in read.response.headers.items() if k.startswith("x-tiexin-")}
    headers["Content-Disposition"] = attachment(filename)
    return Response(content, media_type=media, headers=headers)
