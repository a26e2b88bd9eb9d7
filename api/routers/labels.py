"""The labels of every code, in Chinese or English: public (no key), for pages, exports and integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.labels import Language
from api.schemas import ERROR_TEXT, ProblemOut, examples
from ledger.labels import catalogue

router = APIRouter(prefix="/v1/labels", tags=["labels"])


class LabelsOut(BaseModel):
    lang: str
    families: Annotated[dict[str, dict[str, str]], Field(description="family (e.g. VisitKind) → code → label")]

    model_config = examples(
        {"lang": "zh", "families": {"VisitKind": {"medical": "医疗服务", "phone_call": "电话问候"}}}
    )


@router.get("", response_model=LabelsOut, responses={422: {"model": ProblemOut, "description": ERROR_TEXT[422]}})
def labels(lang: Language) -> LabelsOut:
    """Every code a person meets (kinds, services, statuses, reason codes, grades, anomaly rules) and its label."""
    return LabelsOut(lang=lang, families=catalogue(lang))
