"""Evaluations (评价): an evaluator's criteria scores for a volunteer over a month or quarter; read one (``?version=``).

Read by evaluators, coordinators and auditors, and by the volunteer evaluated; the comment, the
volunteer's personal data, stays in its event and is not served.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt

from api.asof import VersionQuery, load_version
from api.deps import EvaluatorCreate, EvaluatorWrite, Read, check_own, etag, reader
from api.problems import Forbidden
from api.reads import ledger_meta
from api.schemas import READ_ERRORS, TARGETED_WRITE_ERRORS, WRITE_ERRORS, Text, WrittenOut, examples
from api.service import load
from ledger.common import county_date, first_day, month_of
from ledger.evaluations import Evaluation, first_month
from ledger.policies import DEFAULT_PARAMETERS, EvaluationMethod, PolicyKind, evaluation_criteria

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

Score = Annotated[StrictInt, Field(ge=0, le=100)]


class EvaluationIn(BaseModel):
    volunteer_id: UUID
    period: Annotated[Text, Field(description="a month (2026-03) or a quarter (2026-Q1)", examples=["2026-Q1"])]
    criteria: Annotated[
        dict[Text, Score],
        Field(
            min_length=1,
            max_length=20,
            description="criterion → score 0–100: exactly the criteria of the evaluation method in force on the "
            "period's first day (GET /v1/evaluations/criteria); an unknown or missing one is refused (422)",
        ),
    ]
    comment: Text = ""

    model_config = examples(
        {
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a",
            "period": "2026-Q1",
            "criteria": {"attitude": 95, "professional_skill": 88, "timeliness": 90, "record_keeping": 92},
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


class CriterionOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    weight: Annotated[int, Field(description="its weight in the evaluation's mean (the weights add up to 100)")]


class MethodOut(BaseModel):
    period: str
    policy_version: Annotated[int, Field(description="the scoring policy version in force on the period's first day")]
    criteria: Annotated[list[CriterionOut], Field(description="what an evaluation of the period must score, exactly")]

    model_config = examples(
        {
            "period": "2026-Q1", "policy_version": 1,
            "criteria": [{"name": c.name, "label_zh": c.label_zh, "label_en": c.label_en, "weight": c.weight}
                         for c in evaluation_criteria(DEFAULT_PARAMETERS[PolicyKind.SCORING])],
        }
    )  # fmt: skip


MethodReader = Annotated[Read, Depends(reader("evaluator", "coordinator", "auditor", "volunteer", "admin", "finance"))]


@router.get("/criteria", response_model=MethodOut, responses=READ_ERRORS)
def criteria(
    read: MethodReader,
    response: Response,
    period: Annotated[
        Text | None, Query(description="a month or a quarter (omitted: this month)", examples=["2026-Q1"])
    ] = None,
) -> MethodOut:
    """The evaluation method of a period: the criteria an evaluation must score, with their labels and weights,
    from the scoring policy version in force on the period's first day (any key: the rules are public)."""
    chosen = period or month_of(county_date(read.services.settings.clock()))
    policy = read.ledger.policy_in_force(PolicyKind.SCORING, first_day(first_month(chosen)))
    method = EvaluationMethod.of(policy)
    ledger_meta(read.services, response)
    return MethodOut(
        period=chosen, policy_version=method.version, criteria=[CriterionOut(**asdict(c)) for c in method.criteria]
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


class EvaluationOut(BaseModel):
    id: UUID
    version: int
    volunteer_id: UUID
    period: str
    evaluator_id: Annotated[str, Field(description="the key id of the evaluator who submitted it")]
    criteria: dict[str, int]
    mean: Annotated[Decimal, Field(description="the mean of the criteria scores")]
    withdrawn: bool

    model_config = examples(
        {
            "id": "2b3c4d5e-6f70-4812-93a4-b5c6d7e8f901", "version": 1,
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "period": "2026-Q1",
            "evaluator_id": "key_1f2e3d4c5b6a7988", "criteria": {"attitude": 95, "professionalism": 88},
            "mean": "91.5", "withdrawn": False,
        }
    )  # fmt: skip


EvaluationReader = Annotated[Read, Depends(reader("evaluator", "coordinator", "auditor", "volunteer"))]


@router.get("/{evaluation_id}", response_model=EvaluationOut, responses=READ_ERRORS)
def read(
    evaluation_id: UUID, read: EvaluationReader, response: Response, version: VersionQuery = None
) -> EvaluationOut:
    """One evaluation as the ledger has it now, or at `version` (a volunteer's key reads only its own)."""
    evaluation = load_version(read.ledger, Evaluation, evaluation_id, "evaluation", version)
    check_own(read.principal, evaluation.volunteer_id, "evaluation")
    response.headers["ETag"] = etag(evaluation.version)
    ledger_meta(read.services, response)
    return EvaluationOut(
        id=evaluation.id, version=evaluation.version, volunteer_id=evaluation.volunteer_id, period=evaluation.period,
        evaluator_id=evaluation.evaluator_id, criteria=dict(evaluation.criteria), mean=evaluation.mean,
        withdrawn=evaluation.withdrawn,
    )  # fmt: skip
