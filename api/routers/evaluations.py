"""Evaluations (评价): an evaluator's criteria scores for a volunteer over a month or quarter."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt

from api.deps import EvaluatorCreate, EvaluatorWrite
from api.problems import Forbidden
from api.schemas import TARGETED_WRITE_ERRORS, WRITE_ERRORS, Text, WrittenOut, examples
from api.service import load
from ledger.evaluations import Evaluation

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

Score = Annotated[StrictInt, Field(ge=0, le=100)]


class EvaluationIn(BaseModel):
    volunteer_id: UUID
    period: Annotated[Text, Field(description="a month (2026-03) or a quarter (2026-Q1)", examples=["2026-Q1"])]
    criteria: Annotated[
        dict[Text, Score], Field(min_length=1, max_length=20, description="criterion (lower_case_words) → score 0–100")
    ]
    comment: Text = ""

    model_config = examples(
        {
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "period": "2026-Q1",
            "criteria": {"attitude": 95, "professionalism": 88, "punctuality": 90},
            "comment": "服务细致，老人满意",
        }
    )


class WithdrawalIn(BaseModel):
    reason: Text

    model_config = examples({"reason": "评分录入错误，重新提交"})


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def submit(body: EvaluationIn, write: EvaluatorCreate) -> JSONResponse:
    """Submit an evaluation of a volunteer for a period; one live one per evaluator (evaluator)."""
    return write.run(
        lambda by: write.ledger.submit_evaluation(
            volunteer_id=body.volunteer_id, period=body.period, criteria=body.criteria, comment=body.comment, by=by
        ),
        created=True,
    )


@router.post("/{evaluation_id}/withdrawal", response_model=WrittenOut, responses=TARGETED_WRITE_ERRORS)
def withdraw(evaluation_id: UUID, body: WithdrawalIn, write: EvaluatorWrite) -> JSONResponse:
    """Withdraw one's own evaluation, with a reason (the evaluator who submitted it)."""
    evaluation = load(write.ledger, Evaluation, evaluation_id, "evaluation")
    if evaluation.evaluator_id != write.principal.key_id:
        raise Forbidden("an evaluation is withdrawn only by the key that submitted it")
    return write.run(
        lambda by: write.ledger.withdraw_evaluation(
            evaluation_id, reason=body.reason, by=by, expected_version=write.if_match
        ),
        target=evaluation_id,
    )
