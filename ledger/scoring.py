"""The volunteer score (管理评价办法), a volunteer per month: pure arithmetic, no store, no clock.

Score = service + satisfaction + evaluation + training − penalty, clamped to 0..100, with the
weights and constants of a scoring policy version (``DEFAULT_PARAMETERS["scoring"]``; the
policy aggregate checks them when a version is adopted). Every score names its policy version
and can be explained term by term (:func:`explain`), so an evaluator or a volunteer can redo it
by hand.

A month with nothing of its own to rate (no visit recorded in it, of any status, and no evaluation
covering it: :attr:`ScoreInputs.active`) is ``not_rated``, not graded: its terms would be the
satisfaction prior and the year's training alone (30.00 不合格 at the defaults), a grade for
nothing done. Its terms and total are still computed, to be shown as what they would have been.

An evaluation counts by its mean criteria score under the version's evaluation method
(:func:`evaluation_mean`): the criteria weighted as the version weighs them, or, for an evaluation
stored with other criteria than the version's (free names, before the criteria were fixed), the
plain mean of its scores, as it always counted.

Arithmetic is exact (:class:`fractions.Fraction`) and each reported figure is rounded once, to
2 places, half up. The total is the *exact* sum rounded, not the sum of the rounded terms: the
total must not depend on how the terms happen to be printed, and recomputing a past score must
give the same total to the fen. So the shown terms may add up to the total ± 0.01 or so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from ledger.errors import InvalidInput
from ledger.policies import evaluation_criteria


class Grade(StrEnum):
    """A score's grade, from the thresholds ``grade_<grade>`` of the scoring policy (``fail`` below ``pass``);
    ``not_rated`` for a month with no activity to rate (see the module's docstring)."""

    EXCELLENT = "excellent"
    GOOD = "good"
    PASS = "pass"
    FAIL = "fail"
    NOT_RATED = "not_rated"


GRADES_ZH = {
    Grade.EXCELLENT: "优秀",
    Grade.GOOD: "良好",
    Grade.PASS: "合格",
    Grade.FAIL: "不合格",
    Grade.NOT_RATED: "未评定（无服务）",
}


@dataclass(frozen=True)
class ScoreInputs:
    """What the ledger counted for one volunteer and month (ratings 1–5, evaluations 0–100)."""

    contacts_done: int
    paired_elders: int
    ratings: tuple[int, ...] = ()
    evaluation_means: tuple[Decimal, ...] = ()
    training_hours: Decimal = Decimal(0)
    bad_visits: int = 0

    def __post_init__(self) -> None:
        for name in ("contacts_done", "paired_elders", "bad_visits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(name, "must be a non-negative integer")
        if any(isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 5 for r in self.ratings):
            raise InvalidInput("ratings", "each rating must be an integer from 1 to 5")
        if any(not isinstance(m, Decimal) or not m.is_finite() or not 0 <= m <= 100 for m in self.evaluation_means):
            raise InvalidInput("evaluation_means", "each evaluation mean must be a Decimal from 0 to 100")
        hours = self.training_hours
        if not isinstance(hours, Decimal) or not hours.is_finite() or hours < 0:
            raise InvalidInput("training_hours", "must be a non-negative Decimal")

    @property
    def active(self) -> bool:
        """Whether the month has anything of its own to rate: a visit (counted, rated or penalised) or an
        evaluation. Paired elders and the year's training hours are not the month's doing."""
        return bool(self.contacts_done or self.bad_visits or self.ratings or self.evaluation_means)


@dataclass(frozen=True)
class Score:
    """A score with its terms in points (after any re-weighting); ``penalty`` is subtracted."""

    service: Decimal
    satisfaction: Decimal
    evaluation: Decimal
    training: Decimal
    penalty: Decimal
    reweighted: bool
    total: Decimal
    grade: Grade
    grade_zh: str
    policy_version: int
    inputs: ScoreInputs
    parameters: dict[str, int] = field(hash=False, repr=False)

    @property
    def rated(self) -> bool:
        """False for a month with no activity (grade ``not_rated``): ``total`` is then only what the terms add up to."""
        return self.grade != Grade.NOT_RATED


def round2(value: Fraction) -> Decimal:
    """Round an exact value to 2 places, half away from zero (ROUND_HALF_UP), without floats."""
    hundredths, rest = divmod(abs(value.numerator) * 100, value.denominator)
    if 2 * rest >= value.denominator:
        hundredths += 1
    return Decimal(-hundredths if value < 0 else hundredths).scaleb(-2)


def _service_ratio(i: ScoreInputs, p: dict[str, int]) -> Fraction:
    """Contacts done / expected, capped at 1. No paired elders means nothing was expected:
    the ratio is then 0 with no contacts (nothing to reward) and 1 with any (all that could
    be asked was done), rather than a division by zero."""
    expected = i.paired_elders * p["expected_contacts_per_elder"]
    if expected == 0:
        return Fraction(1 if i.contacts_done else 0)
    return min(Fraction(1), Fraction(i.contacts_done, expected))


def _smoothed_rating(i: ScoreInputs, p: dict[str, int]) -> Fraction:
    """Mean rating pulled towards the prior, so that one or two ratings cannot swing the term;
    with no ratings (and a prior weight of 0) it is the prior itself."""
    prior, weight = p["satisfaction_prior_rating"], p["satisfaction_prior_weight"]
    count = len(i.ratings) + weight
    return Fraction(sum(i.ratings) + prior * weight, count) if count else Fraction(prior)


def _scale(i: ScoreInputs, p: dict[str, int]) -> Fraction:
    """Without evaluations the other weights are stretched to fill 100, so a volunteer nobody
    evaluated is not capped at 80. (If evaluation weighs 100 there is nothing to stretch.)"""
    weight = p["weight_evaluation"]
    return Fraction(100, 100 - weight) if not i.evaluation_means and 0 < weight < 100 else Fraction(1)


def _exact_terms(i: ScoreInputs, p: dict[str, int]) -> tuple[Fraction, ...]:
    scale = _scale(i, p)
    means = [Fraction(m) for m in i.evaluation_means]
    evaluation = p["weight_evaluation"] * sum(means, Fraction(0)) / (100 * len(means)) if means else Fraction(0)
    training = min(Fraction(1), Fraction(i.training_hours) / p["training_hours_per_year"])
    return (
        p["weight_service"] * _service_ratio(i, p) * scale,
        p["weight_satisfaction"] * _smoothed_rating(i, p) / 5 * scale,
        evaluation,
        p["weight_training"] * training * scale,
        Fraction(i.bad_visits * p["penalty_per_bad_visit"]),
    )


TERMS = ("service", "satisfaction", "evaluation", "training", "penalty")
"""A score's terms, in the order they are computed and explained; ``penalty`` is subtracted."""
TERM_WEIGHTS = {
    "service": "weight_service",
    "satisfaction": "weight_satisfaction",
    "evaluation": "weight_evaluation",
    "training": "weight_training",
    "penalty": "penalty_per_bad_visit",
}
"""The policy parameter that weighs each term (the penalty's is points per bad visit)."""


def exact_terms(inputs: ScoreInputs, parameters: dict[str, int]) -> dict[str, Fraction]:
    """Each term's exact value (before rounding), as :func:`compute_score` adds them up."""
    return dict(zip(TERMS, _exact_terms(inputs, parameters), strict=True))


def reweighting(inputs: ScoreInputs, parameters: dict[str, int]) -> Fraction:
    """The factor the service, satisfaction and training terms are scaled by (1, or 100/(100 − evaluation weight)
    for a month with no evaluation)."""
    return _scale(inputs, parameters)


def criteria_weights(criteria: Mapping[str, int], parameters: Mapping[str, int]) -> dict[str, int] | None:
    """The weights a scoring version gives an evaluation's criteria: None when the evaluation does not score
    exactly the version's criteria (then its scores count equally: :func:`evaluation_mean`)."""
    weights = {c.name: c.weight for c in evaluation_criteria(parameters)}
    return weights if set(criteria) == set(weights) else None


def evaluation_mean(criteria: Mapping[str, int], parameters: Mapping[str, int]) -> Decimal:
    """An evaluation's mean criteria score (0–100) under a scoring version's evaluation method: weighted by the
    version's criteria when it scores exactly those, else the plain mean of its scores (see the module)."""
    if not criteria:
        raise InvalidInput("criteria", "an evaluation without criteria scores")
    weights = criteria_weights(criteria, parameters)
    if weights is not None:
        return Decimal(sum(weights[name] * score for name, score in criteria.items())) / sum(weights.values())
    return Decimal(sum(criteria.values())) / len(criteria)


def grade_of(total: Decimal, p: dict[str, int]) -> Grade:
    for grade in (Grade.EXCELLENT, Grade.GOOD, Grade.PASS):
        if total >= p[f"grade_{grade}"]:
            return grade
    return Grade.FAIL


def compute_score(inputs: ScoreInputs, parameters: dict[str, int], policy_version: int) -> Score:
    """Score one volunteer-month under an adopted scoring policy version's parameters."""
    service, satisfaction, evaluation, training, penalty = _exact_terms(inputs, parameters)
    exact = min(Fraction(100), max(Fraction(0), service + satisfaction + evaluation + training - penalty))
    total = round2(exact)
    # On the rounded total, so that the grade matches what is shown; none for a month with no activity.
    grade = grade_of(total, parameters) if inputs.active else Grade.NOT_RATED
    return Score(
        service=round2(service),
        satisfaction=round2(satisfaction),
        evaluation=round2(evaluation),
        training=round2(training),
        penalty=round2(penalty),
        reweighted=_scale(inputs, parameters) != 1,
        total=total,
        grade=grade,
        grade_zh=GRADES_ZH[grade],
        policy_version=policy_version,
        inputs=inputs,
        parameters=dict(parameters),
    )


def explain(score: Score) -> list[str]:
    """The score as lines an evaluator can check by hand, one per term, then the total."""
    i, p = score.inputs, score.parameters
    scale = f" × 100/{100 - p['weight_evaluation']}" if score.reweighted else ""
    expected = i.paired_elders * p["expected_contacts_per_elder"]
    ratio = f"min(1, {i.contacts_done}/{expected})" if expected else f"{_service_ratio(i, p)} (no paired elders)"
    prior, weight = p["satisfaction_prior_rating"], p["satisfaction_prior_weight"]
    smoothed = f"({sum(i.ratings)} + {prior}×{weight}) / ({len(i.ratings)} + {weight})"
    if i.evaluation_means:
        means = ", ".join(str(m) for m in i.evaluation_means)
        evaluation = f"evaluation {p['weight_evaluation']} × mean({means})/100 = {score.evaluation}"
    else:
        evaluation = f"evaluation: none this month = {score.evaluation}" + (
            f"; the other terms are scaled by 100/{100 - p['weight_evaluation']}" if score.reweighted else ""
        )
    if score.rated:
        verdict = f"total {score.total} (exact sum rounded once, clamped to 0..100) → {score.grade} {score.grade_zh}"
    else:
        verdict = (
            f"not rated {score.grade_zh}: no visit and no evaluation this month (the terms would total {score.total})"
        )
    return [
        f"service {p['weight_service']} × {ratio}{scale} = {score.service}",
        f"satisfaction {p['weight_satisfaction']} × {smoothed} / 5{scale} = {score.satisfaction}",
        evaluation,
        f"training {p['weight_training']} × min(1, {i.training_hours}/{p['training_hours_per_year']}){scale}"
        f" = {score.training}",
        f"penalty {p['penalty_per_bad_visit']} × {i.bad_visits} disputed or voided visit(s) = {score.penalty}"
        ", subtracted",
        f"{verdict} (policy version {score.policy_version})",
    ]
