"""Scores (管理评价) from their read model: a month's ranking by township, and one volunteer's score.

Every score names its policy version, its terms and the inputs they came from, and the log
positions of the events it rests on, so it can be redone by hand. Evaluators, coordinators and
auditors read rankings; a volunteer reads only its own score (``/v1/volunteers/{id}/score``).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from api.asof import AsOfField, as_of_reader, read_today
from api.deps import check_own
from api.reads import Page, Pages, ReadMeta, ViewRead
from api.schemas import Text, errors, examples
from ledger.common import month_of
from ledger.errors import InvalidInput, NotFound
from ledger.scoring import GRADES_ZH, Grade
from projections.scores import Ranked, VolunteerScore, ranking
from projections.scores.explain import Explanation, comparison, distribution, explanation

router = APIRouter(prefix="/v1/scores", tags=["scores"])
EXAMPLE_GRADE = {"grade": Grade.EXCELLENT, "grade_zh": GRADES_ZH[Grade.EXCELLENT]}

ScoresRead = Annotated[ViewRead, Depends(as_of_reader("scores", "evaluator", "coordinator", "auditor"))]
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


NotRatedTotal = Annotated[
    Decimal | None,
    Field(description="null when the month is not rated: grade `not_rated`, no visit and no evaluation in it"),
]


class ScoreOut(ReadMeta):
    volunteer_id: UUID
    month: str
    county: str
    township: str
    total: NotRatedTotal
    grade: Annotated[str, Field(description="excellent, good, pass, fail; or not_rated (no activity this month)")]
    grade_zh: str
    policy_version: int
    reweighted: Annotated[bool, Field(description="no evaluation: the other terms were re-weighted")]
    terms: TermsOut
    inputs: InputsOut
    explanation: list[str]
    sources: SourcesOut
    as_of: AsOfField = None

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
    rank: Annotated[
        int | None, Field(description="1 is best; ties share a rank (1, 2, 2, 4); null (listed last): not rated")
    ]
    volunteer_id: UUID
    county: str
    township: str
    total: NotRatedTotal
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
    as_of: AsOfField = None

    model_config = examples(
        {
            "items": [{"rank": 1, "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui",
                       "township": "高沟镇", "total": "91.25", **EXAMPLE_GRADE}],
            "next_cursor": None, "month": "2026-02", "township": "高沟镇", "county": None, "policy_version": 1,
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


def this_month(read: ViewRead) -> str:
    """The month of the county's today (of the ``as_of`` day, when asked as of one)."""
    return month_of(read_today(read))


def score_out(found: VolunteerScore, meta: dict[str, Any]) -> ScoreOut:
    s = found.score
    return ScoreOut(
        volunteer_id=found.volunteer_id, month=found.month, county=found.county, township=found.township,
        total=s.total if s.rated else None, grade=s.grade, grade_zh=s.grade_zh, policy_version=s.policy_version,
        reweighted=s.reweighted,
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


def rank_key(r: Ranked) -> tuple[bool, int, str]:
    return r.rank is None, r.rank or 0, str(r.entry.volunteer_id)


def ranked_item(r: Ranked) -> RankedItem:
    return RankedItem(
        rank=r.rank, volunteer_id=r.entry.volunteer_id, county=r.entry.county, township=r.entry.township,
        total=r.entry.total if r.entry.score.rated else None, grade=r.entry.grade, grade_zh=r.entry.score.grade_zh,
    )  # fmt: skip


@router.get("", response_model=RankingPage, responses=errors(400, 409))
async def scores(
    read: ScoresRead,
    pages: Pages,
    month: MonthQuery = None,
    township: Annotated[Text | None, Query(description="one township (omitted: every township)")] = None,
    county: Annotated[Text | None, Query(description="one county's code (omitted: every county)")] = None,
) -> Response:
    """A month's scores, best first, of a township's volunteers or all (evaluator, coordinator, auditor);
    `as_of`: as known on that day (the month defaults to its month)."""
    chosen_month = month or this_month(read)

    def build() -> RankingPage:
        found = ranking(read.view(), chosen_month, township, county=county)
        chosen, cursor = pages.page(found.entries, rank_key)
        return RankingPage(
            items=[ranked_item(r) for r in chosen], next_cursor=cursor, month=found.month, township=township,
            county=county, policy_version=found.policy_version, **read.meta(found.view_position),
        )  # fmt: skip

    return await read.page(pages, build, chosen_month)


# The evaluator's tools: the grades per township, a month explained, a month under other versions ----------


class TownshipGradesOut(BaseModel):
    county: str
    township: str
    volunteers: Annotated[int, Field(description="the township's volunteers with a score this month")]
    grades: Annotated[
        dict[str, int], Field(description="how many have each grade: excellent, good, pass, fail, not_rated")
    ]


class DistributionPage(Page[TownshipGradesOut]):
    month: str
    county: str | None
    policy_version: int
    volunteers: Annotated[int, Field(description="every township's volunteers (of every page): the sum of the counts")]
    grade_labels: Annotated[dict[str, str], Field(description="each grade's Chinese label")]
    as_of: AsOfField = None

    model_config = examples(
        {
            "items": [{"county": "lianshui", "township": "高沟镇", "volunteers": 12,
                       "grades": {"excellent": 2, "good": 6, "pass": 3, "fail": 0, "not_rated": 1}}],
            "next_cursor": None, "month": "2026-02", "county": "lianshui", "policy_version": 1, "volunteers": 12,
            "grade_labels": {str(g): z for g, z in GRADES_ZH.items()},
            "position": 1834, "lag": 0, "projection_state": "caught_up", "projection_reason": None,
        }
    )  # fmt: skip


@router.get("/distribution", response_model=DistributionPage, responses=errors(400, 409))
async def grade_distribution(
    read: ScoresRead,
    pages: Pages,
    month: MonthQuery = None,
    county: Annotated[Text | None, Query(description="one county's code (omitted: every county)")] = None,
) -> Response:
    """How many volunteers have each grade in a month, per township (evaluator, coordinator, auditor); a month
    with no activity counts as `not_rated`; `as_of`: as known on that day."""
    chosen_month = month or this_month(read)

    def build() -> DistributionPage:
        found = distribution(read.view(), chosen_month, county)
        chosen, cursor = pages.page(found.townships, lambda t: (t.county, t.township))
        return DistributionPage(
            items=[TownshipGradesOut(**asdict(t)) for t in chosen], next_cursor=cursor, month=found.month,
            county=county, policy_version=found.policy_version, volunteers=found.volunteers,
            grade_labels={str(g): z for g, z in GRADES_ZH.items()}, **read.meta(found.view_position),
        )  # fmt: skip

    return await read.page(pages, build, chosen_month)


volunteer_router = APIRouter(prefix="/v1/volunteers", tags=["scores"])
"""The routes about one volunteer's score (under ``/v1/volunteers/{id}/score/{month}``)."""

OwnScoreRead = Annotated[ViewRead, Depends(as_of_reader("scores", "evaluator", "coordinator", "auditor", "volunteer"))]
MonthPath = Annotated[
    str, Path(pattern=r"^20\d\d-(0[1-9]|1[0-2])$", description="a county month, YYYY-MM", examples=["2026-02"])
]


class RecordOut(BaseModel):
    """A record behind a term: the entity whose event it is and that event; the other fields are its kind's."""

    kind: Annotated[str, Field(description="visit, pairing, feedback, evaluation, training or penalty")]
    id: Annotated[str, Field(description="the visit, pairing or evaluation; a training: its volunteer")]
    position: Annotated[int | None, Field(description="the log position of the event")]
    topic: Annotated[str, Field(description="the event's type, such as tiexin.visit.FeedbackGiven")]
    status: Annotated[str | None, Field(description="a visit's standing: ok, disputed, voided")] = None
    rating: Annotated[int | None, Field(description="feedback: the rating, 1–5")] = None
    elder_id: Annotated[str | None, Field(description="a pairing's elder")] = None
    criteria: Annotated[dict[str, int] | None, Field(description="an evaluation's scores by criterion")] = None
    mean: Annotated[Decimal | None, Field(description="an evaluation's mean under this policy version")] = None
    weighted: Annotated[
        bool | None, Field(description="an evaluation weighted by the version's criteria (else: the plain mean)")
    ] = None
    on: Annotated[str | None, Field(description="a training's date")] = None
    hours: Annotated[Decimal | None, Field(description="a training's hours")] = None


class TermOut(BaseModel):
    term: Annotated[str, Field(description="service, satisfaction, evaluation, training, penalty (subtracted)")]
    value: Annotated[Decimal, Field(description="in points, as the score shows it (rounded once)")]
    exact: Annotated[str, Field(description="the exact value, a fraction (p/q): the exact terms make the total")]
    parameter: Annotated[str, Field(description="the policy parameter that weighs it")]
    weight: int
    scaled: Annotated[bool, Field(description="stretched by 100/(100 − evaluation weight): no evaluation")]
    line: Annotated[str, Field(description="its arithmetic, as the score's explanation says it")]
    records: Annotated[list[RecordOut] | None, Field(description="the records that produced it")] = None


class ScoreCriterionOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    weight: int


class PolicyRefOut(BaseModel):
    version: int
    effective_from: str
    position: Annotated[int, Field(description="the log position of its adoption")]


class ExplainedOut(BaseModel):
    policy: PolicyRefOut
    in_force: Annotated[bool, Field(description="the version in force on the month's first day")]
    total: NotRatedTotal
    terms_total: Annotated[
        Decimal, Field(description="the exact terms added, clamped to 0..100 and rounded once (also when not rated)")
    ]
    exact_total: Annotated[str, Field(description="the same before rounding, a fraction")]
    grade: str
    grade_zh: str
    scale: Annotated[str, Field(description="the re-weighting of a month with no evaluation (1: none)")]
    criteria: Annotated[list[ScoreCriterionOut], Field(description="the version's evaluation method")]
    terms: list[TermOut]
    verdict: str


EXPLAINED_EXAMPLE: dict[str, Any] = {
    "policy": {"version": 1, "effective_from": "2025-01-01", "position": 2},
    "in_force": True, "total": "82.50", "terms_total": "82.50", "exact_total": "165/2", "grade": "good",
    "grade_zh": "良好", "scale": "1",
    "criteria": [{"name": "attitude", "label_zh": "服务态度", "label_en": "Attitude", "weight": 25}],
    "terms": [
        {
            "term": "service", "value": "40.00", "exact": "40", "parameter": "weight_service", "weight": 40,
            "scaled": False, "line": "4 contacts of 4 expected → 40 × 4/4 = 40.00",
            "records": [
                {
                    "kind": "visit", "id": "5a3c0000-0000-4000-8000-000000000011", "position": 2210,
                    "topic": "tiexin.visit.Recorded", "status": "ok",
                }
            ],
        }
    ],
    "verdict": "良好 (good): 82.50 of 100",
}  # fmt: skip
"""A month explained under one policy version (the examples of the explanation and the comparison)."""
READ_EXAMPLE: dict[str, Any] = {"position": 42578, "lag": 0, "projection_state": "caught_up"}
VOLUNTEER_MONTH: dict[str, Any] = {"volunteer_id": "8f14e45f-ceea-467f-a0e6-1c2b3d4e5f60", "month": "2025-06"}


class ExplanationOut(ExplainedOut, ReadMeta):
    volunteer_id: UUID
    month: str
    county: str
    township: str
    as_of: AsOfField = None

    model_config = examples(
        {**READ_EXAMPLE, **VOLUNTEER_MONTH, **EXPLAINED_EXAMPLE, "county": "lianshui", "township": "高沟镇"}
    )


class PolicyComparisonOut(ReadMeta):
    volunteer_id: UUID
    month: str
    in_force: Annotated[int, Field(description="the version in force on the month's first day")]
    versions: Annotated[list[ExplainedOut], Field(description="the month under each version, ascending")]
    changed: Annotated[
        dict[str, list[int | None]],
        Field(description="each parameter that differs between the versions: its value in each (null: not named)"),
    ]
    as_of: AsOfField = None

    model_config = examples(
        {
            **READ_EXAMPLE, **VOLUNTEER_MONTH, "in_force": 1,
            "versions": [EXPLAINED_EXAMPLE, {**EXPLAINED_EXAMPLE, "in_force": False}],
            "changed": {"weight_service": [40, 45]},
        }
    )  # fmt: skip


def fraction(value: Fraction) -> str:
    return str(value)


def explained_out(found: Explanation, in_force: bool, *, records: bool) -> dict[str, Any]:
    s = found.entry.score
    return {
        "policy": PolicyRefOut(
            version=found.policy.version, effective_from=found.policy.effective_from, position=found.policy.position
        ),
        "in_force": in_force, "total": s.total if s.rated else None, "terms_total": s.total,
        "exact_total": fraction(found.exact_total), "grade": s.grade, "grade_zh": s.grade_zh,
        "scale": fraction(found.scale), "criteria": [ScoreCriterionOut(**asdict(c)) for c in found.criteria],
        "terms": [
            TermOut(
                term=t.name, value=t.value, exact=fraction(t.exact), parameter=t.parameter, weight=t.weight,
                scaled=t.scaled, line=t.line,
                records=[RecordOut(**asdict(r)) for r in t.records] if records else None,
            )
            for t in found.terms
        ],
        "verdict": found.verdict,
    }  # fmt: skip


@volunteer_router.get(
    "/{volunteer_id}/score/{month}/explanation", response_model=ExplanationOut, responses=errors(404, 409)
)
def score_explanation(volunteer_id: UUID, month: MonthPath, read: OwnScoreRead) -> ExplanationOut:
    """A volunteer's month explained: each term with its weight, its arithmetic and the visits, feedback,
    evaluations and trainings that produced it, by log position (evaluator, coordinator, auditor; a volunteer:
    its own); `as_of`: as known on that day."""
    check_own(read.principal, volunteer_id, "score")
    found = explanation(read.view(), volunteer_id, month)
    if found is None:
        raise NotFound("score for that month of a volunteer", volunteer_id)
    entry = found.entry
    return ExplanationOut(
        volunteer_id=entry.volunteer_id, month=entry.month, county=entry.county, township=entry.township,
        **explained_out(found, True, records=True), **read.meta(entry.view_position),
    )  # fmt: skip


VersionsQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[1-9]\d{0,8}(,[1-9]\d{0,8}){0,9}$",
        description="the policy versions to score the month under, comma-separated (such as 1,2)",
        examples=["1,2"],
    ),
]


@volunteer_router.get(
    "/{volunteer_id}/score/{month}/compare", response_model=PolicyComparisonOut, responses=errors(404, 409)
)
def score_comparison(
    volunteer_id: UUID,
    month: MonthPath,
    read: OwnScoreRead,
    policy_version: Annotated[
        int | None, Query(ge=1, le=10**9, description="a version to set beside the month's own")
    ] = None,
    versions: VersionsQuery = None,
) -> PolicyComparisonOut:
    """A volunteer's month recomputed under other scoring policy versions, side by side: each term and the grade
    under each (`policy_version=N`: the month's own version and N; `versions=1,2`: those; neither: every version
    adopted); same roles as the explanation."""
    check_own(read.principal, volunteer_id, "score")
    if policy_version is not None and versions is not None:
        raise InvalidInput("query.versions", "give policy_version or versions, not both")
    chosen = [policy_version] if policy_version is not None else None
    if versions is not None:
        chosen = [int(v) for v in versions.split(",")]
    found = comparison(read.view(), volunteer_id, month, chosen, with_in_force=policy_version is not None)
    if found is None:
        raise NotFound("score for that month of a volunteer", volunteer_id)
    return PolicyComparisonOut(
        volunteer_id=found.volunteer_id, month=found.month, in_force=found.in_force,
        versions=[
            ExplainedOut(**explained_out(v, v.policy.version == found.in_force, records=False))
            for v in found.versions
        ],
        changed={k: list(v) for k, v in found.changed.items()}, **read.meta(found.view_position),
    )  # fmt: skip
