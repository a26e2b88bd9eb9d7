"""Scores (管理评价) from their read model: a month's ranking by township, and one volunteer's score.

Every score names its policy version, its terms and the inputs they came from, and the log
positions of the events it rests on, so it can be redone by hand. Evaluators, coordinators and
auditors read rankings; a volunteer reads only its own score (``/v1/volunteers/{id}/score``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from api.reads import Page, Pages, ReadMeta, ViewRead, view_reader
from api.schemas import Text, errors, examples
from ledger.common import county_date, month_of
from ledger.scoring import GRADES_ZH, Grade
from projections.scores import Ranked, VolunteerScore, ranking

router = APIRouter(prefix="/v1/scores", tags=["scores"])
EXAMPLE_GRADE = {"grade": Grade.EXCELLENT, "grade_zh": GRADES_ZH[Grade.EXCELLENT]}

ScoresRead = Annotated[ViewRead, Depends(view_reader("scores", "evaluator", "coordinator", "auditor"))]
MonthQuery = Annotated[
    str | None,
    Query(
        pattern=r"^20\d\d-(0[1-9]|1[0-2])$",
        description="a county month, YYYY-MM, 2000-01 to 2099-12 (omitted: this month)",
        examples=["2026-02"],
    ),
]


class TermsOut(BaseModel):
    """Points of each term (after any re-weighting); ``penalty`` is subtracted."""

    service: Decimal
    satisfaction: Decimal
    evaluation: Decimal
    training: Decimal
    penalty: Decimal


class InputsOut(BaseModel):
    contacts_done: int
    paired_elders: int
    ratings: list[int]
    evaluation_means: list[Decimal]
    training_hours: Decimal
    bad_visits: int


class SourcesOut(BaseModel):
    """The log positions the score came from: replaying up to ``last`` gives the same inputs."""

    first: int | None
    last: int | None
    count: Annotated[int, Field(description="events that fed the inputs")]
    penalties: Annotated[list[int], Field(description="the event penalising each bad visit")]
    policy: Annotated[int, Field(description="the adoption of the policy version used")]


class ScoreOut(ReadMeta):
    volunteer_id: UUID
    month: str
    county: str
    township: str
    total: Decimal
    grade: str
    grade_zh: str
    policy_version: int
    reweighted: Annotated[bool, Field(description="no evaluation: the other terms were re-weighted")]
    terms: TermsOut
    inputs: InputsOut
    explanation: list[str]
    sources: SourcesOut

    model_config = examples(
        {
            "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "month": "2026-02", "county": "lianshui",
            "township": "高沟镇", "total": "91.25", **EXAMPLE_GRADE, "policy_version": 1,
            "reweighted": False,
            "terms": {"service": "40.00", "satisfaction": "25.71", "evaluation": "18.30", "training": "7.50",
                      "penalty": "0.00"},
            "inputs": {"contacts_done": 4, "paired_elders": 2, "ratings": [5, 5], "evaluation_means": ["91.5"],
                       "training_hours": "6", "bad_visits": 0},
            "explanation": ["service 40.00 = 40 × min(1, 4 / (2 × 2))"],
            "sources": {"first": 12, "last": 1830, "count": 9, "penalties": [], "policy": 2},
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


class RankedItem(BaseModel):
    rank: Annotated[int, Field(description="1 is best; ties share a rank (1, 2, 2, 4)")]
    volunteer_id: UUID
    county: str
    township: str
    total: Decimal
    grade: str
    grade_zh: str

    model_config = examples(
        {
            "rank": 1, "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui",
            "township": "高沟镇", "total": "91.25", **EXAMPLE_GRADE,
        }
    )  # fmt: skip


class RankingPage(Page[RankedItem]):
    month: str
    township: str | None
    county: str | None
    policy_version: int

    model_config = examples(
        {
            "items": [{"rank": 1, "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui",
                       "township": "高沟镇", "total": "91.25", **EXAMPLE_GRADE}],
            "next_cursor": None, "month": "2026-02", "township": "高沟镇", "county": None, "policy_version": 1,
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


def this_month(read: ViewRead) -> str:
    return month_of(county_date(read.services.settings.clock()))


def score_out(found: VolunteerScore, meta: dict[str, Any]) -> ScoreOut:
    s = found.score
    return ScoreOut(
        volunteer_id=found.volunteer_id, month=found.month, county=found.county, township=found.township,
        total=s.total, grade=s.grade, grade_zh=s.grade_zh, policy_version=s.policy_version, reweighted=s.reweighted,
        terms=TermsOut(
            service=s.service, satisfaction=s.satisfaction, evaluation=s.evaluation, training=s.training,
            penalty=s.penalty,
        ),
        inputs=InputsOut(
            contacts_done=s.inputs.contacts_done, paired_elders=s.inputs.paired_elders, ratings=list(s.inputs.ratings),
            evaluation_means=list(s.inputs.evaluation_means), training_hours=s.inputs.training_hours,
            bad_visits=s.inputs.bad_visits,
        ),
        explanation=list(found.explanation),
        sources=SourcesOut(
            first=found.sources.first, last=found.sources.last, count=found.sources.count,
            penalties=list(found.sources.penalties), policy=found.sources.policy,
        ),
        **meta,
    )  # fmt: skip


def rank_key(r: Ranked) -> tuple[int, str]:
    return r.rank, str(r.entry.volunteer_id)


@router.get("", response_model=RankingPage, responses=errors(400, 409))
async def scores(
    read: ScoresRead,
    pages: Pages,
    month: MonthQuery = None,
    township: Annotated[Text | None, Query(description="one township (omitted: every township)")] = None,
    county: Annotated[Text | None, Query(description="one county's code (omitted: every county)")] = None,
) -> Response:
    """A month's scores, best first, of a township's volunteers or all (evaluator, coordinator, auditor)."""
    chosen_month = month or this_month(read)

    def build() -> RankingPage:
        found = ranking(read.view(), chosen_month, township, county=county)
        chosen, cursor = pages.page(found.entries, rank_key)
        items = [
            RankedItem(
                rank=r.rank, volunteer_id=r.entry.volunteer_id, county=r.entry.county, township=r.entry.township,
                total=r.entry.total, grade=r.entry.grade, grade_zh=r.entry.score.grade_zh,
            )
            for r in chosen
        ]  # fmt: skip
        return RankingPage(
            items=items, next_cursor=cursor, month=found.month, township=township, county=county,
            policy_version=found.policy_version, **read.meta(found.view_position),
        )  # fmt: skip

    return await read.page(pages, build, chosen_month)
