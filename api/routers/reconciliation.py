"""A budget year reconciled from the log (预算对账): appropriated + adjustments = committed + paid + available.

Auditors, finance and administrators read it. The figures are computed from the log's budget and
claim events, not from the Budget aggregate nor the audit read model (:mod:`ledger.reconciliation`,
:mod:`projections.reconcile`); both are then compared with the log, and any difference is listed
with the claims and log positions behind it. The answer reflects the log up to ``position`` (its
``projection_state`` is ``ledger``); an unbalanced year is still a 200, with ``balanced: false``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api.reads import LEDGER, ReadMeta, ViewRead, set_headers, view_reader
from api.schemas import READ_ERRORS, Text, examples
from ledger.budgets import FIRST_YEAR, LAST_YEAR, BudgetLine
from ledger.reconciliation import ClaimDifference, Comparison, LineBalance, Reconciliation
from projections.reconcile import reconcile

router = APIRouter(prefix="/v1/audit", tags=["audit"])

ReconciliationRead = Annotated[ViewRead, Depends(view_reader("audit", "auditor", "finance", "admin"))]
Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="the fiscal year", examples=[2026])]


class ReconciledLineOut(BaseModel):
    """One line, in integer fen, from the log: appropriated + adjustments = committed + paid + available."""

    line: str
    appropriated: int
    adjustments: int
    committed: Annotated[int, Field(description="of claims approved and not yet paid (the claims' events)")]
    paid: Annotated[int, Field(description="of claims paid and not reversed (the claims' events)")]
    available: Annotated[int, Field(description="appropriated + adjustments − held")]
    held: Annotated[int, Field(description="what the budget's own Committed − Released events hold")]
    difference: Annotated[int, Field(description="appropriated + adjustments − (committed + paid + available)")]
    balanced: bool


class EventRefOut(BaseModel):
    position: int
    event: Annotated[str, Field(description="Claim.Submitted, Budget.Committed …")]


class ClaimDifferenceOut(BaseModel):
    """A claim whose commitment in the budget is not what its status and amounts call for."""

    claim_id: UUID
    status: Annotated[str, Field(description="its status in the log (unknown: never submitted)")]
    line: str
    expected: Annotated[int, Field(description="its amount while approved or paid, else 0")]
    held: Annotated[int, Field(description="what the budget's events hold for it")]
    difference: int
    events: Annotated[list[EventRefOut], Field(description="its events and the budget's about it, in log order")]


class SourceDifferenceOut(BaseModel):
    line: str
    figure: Annotated[str, Field(description="budgeted, held, paid or available")]
    log: int
    stated: int


class ComparisonOut(BaseModel):
    source: Annotated[str, Field(description="budget: the Budget aggregate; audit: the audit read model")]
    position: Annotated[int | None, Field(description="the log position it was compared at")]
    compared: bool
    reason: Annotated[str | None, Field(description="why it was not compared")] = None
    differences: list[SourceDifferenceOut]


class ReconciliationOut(ReadMeta):
    county: str
    year: int
    balanced: Annotated[bool, Field(description="every line balances, no claim differs, no source disagrees")]
    lines: list[ReconciledLineOut]
    total: ReconciledLineOut
    claims: Annotated[list[ClaimDifferenceOut], Field(description="the claims behind any difference")]
    comparisons: list[ComparisonOut]
    findings: Annotated[list[str], Field(description="each difference in one line (empty when balanced)")]

    model_config = examples(
        {
            "county": "lianshui", "year": 2025, "balanced": True,
            "lines": [
                {"line": BudgetLine.TRANSPORT, "appropriated": 18000000, "adjustments": 0, "committed": 0,
                 "paid": 9798000, "available": 8202000, "held": 9798000, "difference": 0, "balanced": True},
                {"line": BudgetLine.COMMUNICATION, "appropriated": 2700000, "adjustments": 0, "committed": 0,
                 "paid": 2157000, "available": 543000, "held": 2157000, "difference": 0, "balanced": True},
            ],
            "total": {"line": "total", "appropriated": 20700000, "adjustments": 0, "committed": 0, "paid": 11955000,
                      "available": 8745000, "held": 11955000, "difference": 0, "balanced": True},
            "claims": [],
            "comparisons": [
                {"source": "budget", "position": 42578, "compared": True, "reason": None, "differences": []},
                {"source": "audit", "position": 42578, "compared": True, "reason": None, "differences": []},
            ],
            "findings": [],
            "position": 42578, "lag": 0, "projection_state": "ledger", "projection_reason": None,
        }
    )  # fmt: skip


def line_out(x: LineBalance) -> ReconciledLineOut:
    return ReconciledLineOut(
        line=x.line, appropriated=x.appropriated, adjustments=x.adjustments, committed=x.committed, paid=x.paid,
        available=x.available, held=x.held, difference=x.difference, balanced=x.balanced,
    )  # fmt: skip


def claim_out(c: ClaimDifference) -> ClaimDifferenceOut:
    return ClaimDifferenceOut(
        claim_id=c.claim_id, status=c.status, line=c.line, expected=c.expected, held=c.held, difference=c.difference,
        events=[EventRefOut(position=e.position, event=e.event) for e in c.events],
    )  # fmt: skip


def comparison_out(c: Comparison) -> ComparisonOut:
    return ComparisonOut(
        source=c.source, position=c.position, compared=c.compared, reason=c.reason,
        differences=[SourceDifferenceOut(line=d.line, figure=d.figure, log=d.log, stated=d.stated)
                     for d in c.differences],
    )  # fmt: skip


def reconciliation_fields(result: Reconciliation) -> dict[str, Any]:
    return {
        "county": result.county,
        "year": result.year,
        "balanced": result.balanced,
        "lines": [line_out(x) for x in result.lines],
        "total": line_out(result.total),
        "claims": [claim_out(c) for c in result.claims],
        "comparisons": [comparison_out(c) for c in result.comparisons],
        "findings": result.findings(),
    }


@router.get("/budget/{year}/reconciliation", response_model=ReconciliationOut, responses=READ_ERRORS)
def reconciliation(
    year: Year,
    read: ReconciliationRead,
    county: Annotated[Text | None, Query(description="the county's code (omitted: the home county)")] = None,
) -> ReconciliationOut:
    """A budget year reconciled from the log, line by line, with the claims behind any difference
    (auditor, finance, admin)."""
    chosen = county or read.services.settings.home_county
    result = reconcile(read.services.ledger, chosen, year, audit=read.view() if read.available else None)
    lag = max(0, read.side.head() - result.position) if read.services.reads is not None else 0
    set_headers(read.response, result.position, lag, LEDGER)
    meta: dict[str, Any] = {"position": result.position, "lag": lag, "projection_state": LEDGER}
    return ReconciliationOut(**reconciliation_fields(result), **meta)
