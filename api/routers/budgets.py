"""Budgets (财政预算): a county's fiscal year, appropriated and adjusted by finance; its lines and balances
(from the audit read model) read by finance and auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.asof import as_of_reader
from api.deps import FinanceCreate, FinanceWrite
from api.reads import ViewRead
from api.routers.audit import BudgetOut, budget_fields
from api.schemas import (
    READ_ERRORS,
    TARGETED_WRITE_ERRORS,
    WRITE_ERRORS,
    Fen,
    SignedFen,
    Text,
    WrittenOut,
    choice,
    examples,
)
from ledger.budgets import FIRST_YEAR, LAST_YEAR, BudgetLine, budget_id
from ledger.errors import NotFound

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])

Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="the fiscal year", examples=[2026])]
County = Annotated[Text | None, Field(description="the county's code; omitted: the home county")]


class BudgetLinesIn(BaseModel):
    transport: Fen
    communication: Fen

    model_config = examples({"transport": 12_000_000, "communication": 2_160_000})


class AppropriationIn(BaseModel):
    county: County = None
    lines: BudgetLinesIn

    model_config = examples({"lines": {"transport": 12_000_000, "communication": 2_160_000}})


class AdjustmentIn(BaseModel):
    county: County = None
    line: Text = choice(BudgetLine, BudgetLine.TRANSPORT)
    delta: SignedFen
    reason: Text

    model_config = examples(
        {"line": BudgetLine.TRANSPORT, "delta": 500_000, "reason": "县财政追加预算（涟财〔2026〕12号）"}
    )


@router.post("/{year}", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def appropriate(year: Year, body: AppropriationIn, write: FinanceCreate) -> JSONResponse:
    """Appropriate a fiscal year's budget lines, once a year (finance)."""
    county = body.county or write.services.settings.home_county
    return write.run(
        lambda by: write.ledger.appropriate_budget(county=county, year=year, lines=body.lines.model_dump(), by=by),
        created=True,
    )


@router.post("/{year}/adjustments", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def adjust(year: Year, body: AdjustmentIn, write: FinanceWrite) -> JSONResponse:
    """Raise or lower one line of a year's budget, with a reason (finance)."""
    county = body.county or write.services.settings.home_county
    return write.run(
        lambda by: write.ledger.adjust_budget(
            county=county,
            year=year,
            line=body.line,
            delta=body.delta,
            reason=body.reason,
            by=by,
            expected_version=write.if_match,
        ),
        target=budget_id(county, year),
    )


BudgetRead = Annotated[ViewRead, Depends(as_of_reader("audit", "finance", "auditor"))]


@router.get("/{year}", response_model=BudgetOut, responses=READ_ERRORS)
def read(
    year: Year,
    read: BudgetRead,
    county: Annotated[Text | None, Query(description="the county's code; omitted: the home county")] = None,
) -> BudgetOut:
    """A year's budget lines: appropriated, committed, paid and available, in fen (finance, auditor); `as_of`: as
    known on that day (404 if the year was not appropriated by then)."""
    chosen = county or read.services.settings.home_county
    report = read.view().budget(chosen, year)
    if not report.lines:
        raise NotFound("budget", budget_id(chosen, year))
    return BudgetOut(**budget_fields(report), **read.meta(report.position))
