"""Properties of the volunteer score (ledger.scoring), under the default and random valid policies."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind, check_scoring_parameters
from ledger.scoring import GRADES_ZH, Score, ScoreInputs, compute_score, explain, round2

DEFAULTS = DEFAULT_PARAMETERS[PolicyKind.SCORING]
PROPERTY = settings(deadline=None, max_examples=300)


@st.composite
def random_parameters(draw: st.DrawFn) -> dict[str, int]:
    """Any scoring policy the policy aggregate would accept."""
    a, b, c = sorted(draw(st.lists(st.integers(0, 100), min_size=3, max_size=3)))
    low, mid, high = sorted(draw(st.lists(st.integers(0, 100), min_size=3, max_size=3)))
    parameters = {
        "expected_contacts_per_elder": draw(st.integers(1, 8)),
        "expected_home_visits_per_elder": draw(st.integers(0, 4)),
        "max_active_pairings": draw(st.integers(1, 20)),
        "weight_service": a,
        "weight_satisfaction": b - a,
        "weight_evaluation": c - b,
        "weight_training": 100 - c,
        "satisfaction_prior_rating": draw(st.integers(1, 5)),
        "satisfaction_prior_weight": draw(st.integers(0, 10)),
        "training_hours_per_year": draw(st.integers(1, 40)),
        "penalty_per_bad_visit": draw(st.integers(0, 30)),
        "grade_pass": low,
        "grade_good": mid,
        "grade_excellent": high,
    }
    check_scoring_parameters(parameters)
    return parameters


parameters_st = st.one_of(st.just(dict(DEFAULTS)), random_parameters())
evaluation_st = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
hours_st = st.decimals(min_value=0, max_value=60, places=1, allow_nan=False, allow_infinity=False)
inputs_st = st.builds(
    ScoreInputs,
    contacts_done=st.integers(0, 60),
    paired_elders=st.integers(0, 10),
    ratings=st.lists(st.integers(1, 5), max_size=20).map(tuple),
    evaluation_means=st.lists(evaluation_st, max_size=5).map(tuple),
    training_hours=hours_st,
    bad_visits=st.integers(0, 25),
)
version_st = st.integers(1, 1000)


def exact_sum(score: Score) -> Decimal:
    return score.service + score.satisfaction + score.evaluation + score.training - score.penalty


@PROPERTY
@given(inputs_st, parameters_st, version_st)
def test_total_is_always_between_0_and_100(inputs: ScoreInputs, parameters: dict[str, int], version: int) -> None:
    score = compute_score(inputs, parameters, version)
    assert Decimal(0) <= score.total <= Decimal(100)


@PROPERTY
@given(inputs_st, parameters_st, version_st)
def test_every_figure_is_a_decimal_with_two_places(
    inputs: ScoreInputs, parameters: dict[str, int], version: int
) -> None:
    score = compute_score(inputs, parameters, version)
    for figure in (score.service, score.satisfaction, score.evaluation, score.training, score.penalty, score.total):
        assert isinstance(figure, Decimal)
        assert figure.as_tuple().exponent == -2
        assert figure >= 0


@PROPERTY
@given(inputs_st, parameters_st, version_st)
def test_the_score_names_its_policy_version(inputs: ScoreInputs, parameters: dict[str, int], version: int) -> None:
    score = compute_score(inputs, parameters, version)
    assert score.policy_version == version
    assert f"policy version {version}" in explain(score)[-1]


@PROPERTY
@given(inputs_st, parameters_st)
def test_one_more_contact_below_expected_never_lowers_the_score(
    inputs: ScoreInputs, parameters: dict[str, int]
) -> None:
    expected = inputs.paired_elders * parameters["expected_contacts_per_elder"]
    assume(expected > 0)
    below = replace(inputs, contacts_done=min(inputs.contacts_done, expected - 1))  # no filtering: never flaky
    before = compute_score(below, parameters, 1)
    after = compute_score(replace(below, contacts_done=below.contacts_done + 1), parameters, 1)
    assert after.service >= before.service
    assert after.total >= before.total


@PROPERTY
@given(inputs_st, parameters_st)
def test_contacts_beyond_expected_change_nothing(inputs: ScoreInputs, parameters: dict[str, int]) -> None:
    assume(inputs.contacts_done >= inputs.paired_elders * parameters["expected_contacts_per_elder"])
    assume(inputs.contacts_done > 0)
    before = compute_score(inputs, parameters, 1)
    after = compute_score(replace(inputs, contacts_done=inputs.contacts_done + 1), parameters, 1)
    assert after.total == before.total


@PROPERTY
@given(inputs_st, parameters_st)
def test_one_more_bad_visit_costs_exactly_the_penalty_unless_clamped_at_0(
    inputs: ScoreInputs, parameters: dict[str, int]
) -> None:
    penalty = parameters["penalty_per_bad_visit"]
    before = compute_score(inputs, parameters, 1)
    after = compute_score(replace(inputs, bad_visits=inputs.bad_visits + 1), parameters, 1)
    assert after.penalty == before.penalty + penalty
    assert after.total == max(Decimal(0), before.total - penalty)
    if before.total >= penalty:
        assert before.total - after.total == penalty


@PROPERTY
@given(inputs_st, parameters_st)
def test_a_five_star_rating_never_lowers_satisfaction(inputs: ScoreInputs, parameters: dict[str, int]) -> None:
    before = compute_score(inputs, parameters, 1)
    after = compute_score(replace(inputs, ratings=(*inputs.ratings, 5)), parameters, 1)
    assert after.satisfaction >= before.satisfaction
    assert after.total >= before.total


@PROPERTY
@given(random_parameters(), st.integers(1, 10), st.integers(0, 20), st.integers(0, 5))
def test_a_perfect_volunteer_without_evaluations_scores_100(
    parameters: dict[str, int], elders: int, ratings: int, extra: int
) -> None:
    """Every term at its maximum: all contacts done, only 5-star ratings under a prior of 5 (with
    a lower prior the smoothing keeps satisfaction below its weight), a full year's training."""
    parameters = {**parameters, "satisfaction_prior_rating": 5}
    assume(parameters["weight_evaluation"] < 100)
    inputs = ScoreInputs(
        contacts_done=elders * parameters["expected_contacts_per_elder"] + extra,
        paired_elders=elders,
        ratings=(5,) * ratings,
        evaluation_means=(),
        training_hours=Decimal(parameters["training_hours_per_year"]),
        bad_visits=0,
    )
    score = compute_score(inputs, parameters, 1)
    assert score.total == Decimal("100.00")
    assert score.evaluation == 0
    assert score.reweighted is (parameters["weight_evaluation"] > 0)
    assert score.grade == "excellent"


def test_a_perfect_volunteer_scores_100_with_or_without_evaluations_at_defaults() -> None:
    parameters = {**DEFAULTS, "satisfaction_prior_rating": 5}
    perfect = ScoreInputs(contacts_done=4, paired_elders=2, ratings=(5, 5), training_hours=Decimal(8))
    without = compute_score(perfect, parameters, 1)
    with_ = compute_score(replace(perfect, evaluation_means=(Decimal(100),)), parameters, 1)
    assert (without.total, without.reweighted) == (Decimal("100.00"), True)
    assert (with_.total, with_.reweighted) == (Decimal("100.00"), False)
    terms = (without.service, without.satisfaction, without.training)
    assert terms == (Decimal(50), Decimal("37.50"), Decimal("12.50"))


@PROPERTY
@given(inputs_st, parameters_st)
def test_reweighting_happens_exactly_when_there_are_no_evaluations(
    inputs: ScoreInputs, parameters: dict[str, int]
) -> None:
    score = compute_score(inputs, parameters, 1)
    assert score.reweighted is (not inputs.evaluation_means and 0 < parameters["weight_evaluation"] < 100)
    if not inputs.evaluation_means:
        assert score.evaluation == 0


@PROPERTY
@given(inputs_st, parameters_st)
def test_the_grade_follows_the_thresholds_on_the_rounded_total(inputs: ScoreInputs, parameters: dict[str, int]) -> None:
    score = compute_score(inputs, parameters, 1)
    if not inputs.active:
        expected = "not_rated"
    elif score.total >= parameters["grade_excellent"]:
        expected = "excellent"
    elif score.total >= parameters["grade_good"]:
        expected = "good"
    elif score.total >= parameters["grade_pass"]:
        expected = "pass"
    else:
        expected = "fail"
    assert score.grade == expected
    assert score.grade_zh == GRADES_ZH[expected]


@PROPERTY
@given(inputs_st, parameters_st)
def test_total_is_the_exact_sum_rounded_once(inputs: ScoreInputs, parameters: dict[str, int]) -> None:
    """The rounded terms may differ from the total by their rounding (≤ 0.005 each, 5 terms)."""
    score = compute_score(inputs, parameters, 1)
    unclamped = exact_sum(score)
    if Decimal("0.03") <= unclamped <= Decimal("99.97"):
        assert abs(score.total - unclamped) <= Decimal("0.025")


def test_total_is_not_the_sum_of_rounded_terms() -> None:
    """1 of 3 contacts done (40 × 1/3 = 13.333…) and 1 of 3 hours (10 × 1/3 = 3.333…) with
    evaluation 0 and the prior satisfaction 24: exact total 13.333… + 24 + 3.333… = 40.666… →
    40.67, whereas the rounded terms add up to 13.33 + 24.00 + 3.33 = 40.66."""
    parameters = {**DEFAULTS, "expected_contacts_per_elder": 3, "training_hours_per_year": 3}
    inputs = ScoreInputs(1, 1, (), (Decimal(0),), Decimal(1), 0)
    score = compute_score(inputs, parameters, 1)
    assert (score.service, score.satisfaction, score.training) == (Decimal("13.33"), Decimal(24), Decimal("3.33"))
    assert score.total == Decimal("40.67")
    assert exact_sum(score) == Decimal("40.66")


def test_hand_computed_example() -> None:
    """2 paired elders × 2 = 4 contacts expected, 3 done: service 40 × 3/4 = 30.
    Ratings 5 and 4: smoothed (9 + 4×3) / (2 + 3) = 21/5 = 4.2, satisfaction 30 × 4.2/5 = 25.2.
    Evaluations 80 and 90: mean 85, evaluation 20 × 85/100 = 17 (no re-weighting).
    6 training hours: 10 × min(1, 6/8) = 7.5. One voided visit: penalty 5.
    Total 30 + 25.2 + 17 + 7.5 − 5 = 74.70: below 75, so "pass" 合格."""
    inputs = ScoreInputs(
        contacts_done=3,
        paired_elders=2,
        ratings=(5, 4),
        evaluation_means=(Decimal(80), Decimal(90)),
        training_hours=Decimal(6),
        bad_visits=1,
    )
    score = compute_score(inputs, DEFAULTS, 1)
    assert score.service == Decimal("30.00")
    assert score.satisfaction == Decimal("25.20")
    assert score.evaluation == Decimal("17.00")
    assert score.training == Decimal("7.50")
    assert score.penalty == Decimal("5.00")
    assert score.reweighted is False
    assert str(score.total) == "74.70"
    assert (score.grade, score.grade_zh) == ("pass", "合格")
    assert explain(score) == [
        "service 40 × min(1, 3/4) = 30.00",
        "satisfaction 30 × (9 + 4×3) / (2 + 3) / 5 = 25.20",
        "evaluation 20 × mean(80, 90)/100 = 17.00",
        "training 10 × min(1, 6/8) = 7.50",
        "penalty 5 × 1 disputed or voided visit(s) = 5.00, subtracted",
        "total 74.70 (exact sum rounded once, clamped to 0..100) → pass 合格 (policy version 1)",
    ]


def test_no_ratings_gives_the_prior_and_no_evaluations_reweights() -> None:
    """5 of 6 contacts, no ratings, no evaluations, 9 hours: service 40 × 5/6 × 100/80 = 41.666…,
    satisfaction 30 × 4/5 × 100/80 = 30, training 10 × 1 × 100/80 = 12.5 → 84.1666… = 84.17."""
    with_evaluation = compute_score(ScoreInputs(5, 3, (), (Decimal(50),), Decimal(9), 0), DEFAULTS, 1)
    assert with_evaluation.satisfaction == Decimal(24)
    score = compute_score(ScoreInputs(5, 3, (), (), Decimal(9), 0), DEFAULTS, 1)
    assert (score.service, score.satisfaction, score.training) == (Decimal("41.67"), Decimal(30), Decimal("12.50"))
    assert (score.total, score.grade, score.reweighted) == (Decimal("84.17"), "good", True)
    assert explain(score)[2] == "evaluation: none this month = 0.00; the other terms are scaled by 100/80"


@pytest.mark.parametrize(("contacts", "service"), [(0, Decimal(0)), (1, Decimal(40)), (7, Decimal(40))])
def test_no_paired_elders_service_is_0_without_contacts_else_full(contacts: int, service: Decimal) -> None:
    score = compute_score(ScoreInputs(contacts, 0, (), (Decimal(0),)), DEFAULTS, 1)
    assert score.service == service


def test_no_ratings_and_no_prior_weight_falls_back_to_the_prior() -> None:
    parameters = {**DEFAULTS, "satisfaction_prior_weight": 0, "satisfaction_prior_rating": 3}
    score = compute_score(ScoreInputs(0, 1, (), (Decimal(0),)), parameters, 1)
    assert score.satisfaction == Decimal(18)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 200), "0.01"),
        (Fraction(-1, 200), "-0.01"),
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(100), "100.00"),
        (Fraction(0), "0.00"),
        (Fraction(12345, 1000), "12.35"),
    ],
)
def test_round2_is_exact_half_up(value: Fraction, rounded: str) -> None:
    assert str(round2(value)) == rounded


@pytest.mark.parametrize(
    "changes",
    [
        {"contacts_done": -1},
        {"ratings": (0,)},
        {"ratings": (6,)},
        {"ratings": (True,)},
        {"evaluation_means": (Decimal(101),)},
        {"evaluation_means": (Decimal("NaN"),)},
        {"training_hours": Decimal(-1)},
        {"bad_visits": -2},
    ],
)
def test_inputs_out_of_range_are_refused(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"contacts_done": 1, "paired_elders": 1, **changes}
    with pytest.raises(InvalidInput):
        ScoreInputs(**fields)  # type: ignore[arg-type]


@PROPERTY
@given(inputs_st, parameters_st)
def test_a_month_is_not_rated_exactly_when_it_has_no_visit_and_no_evaluation(
    inputs: ScoreInputs, parameters: dict[str, int]
) -> None:
    idle = replace(inputs, contacts_done=0, ratings=(), evaluation_means=(), bad_visits=0)
    score = compute_score(idle, parameters, 1)
    assert (score.grade, score.grade_zh, score.rated) == ("not_rated", "未评定（无服务）", False)
    assert explain(score)[-1].startswith(
        f"not rated 未评定（无服务）: no visit and no evaluation this month (the terms would total {score.total})"
    )
    for active in (
        replace(idle, contacts_done=1),
        replace(idle, bad_visits=1),
        replace(idle, evaluation_means=(Decimal(0),)),
    ):
        graded = compute_score(active, parameters, 1)
        assert graded.rated and graded.grade != "not_rated"


def test_an_idle_month_at_the_defaults_is_not_rated_rather_than_30_points_and_a_fail() -> None:
    """Two elders paired, no visit, no evaluation, no training: the satisfaction prior alone gave 30.00 不合格."""
    score = compute_score(ScoreInputs(contacts_done=0, paired_elders=2), DEFAULTS, 1)
    assert (score.total, score.grade, score.grade_zh) == (Decimal("30.00"), "not_rated", "未评定（无服务）")
