"""Evaluations: exactly the criteria of the evaluation method in force; never by the volunteer themself; one live
per (volunteer, period, evaluator)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.common import Provenance
from ledger.errors import InvalidInput, NotFound, RuleViolation
from ledger.evaluations import slot_id
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
from tests.builders import criteria
from tests.unit.conftest import ADMIN, EVALUATOR, EVALUATOR_2, Make, as_volunteer, recorded, refused

CRITERIA = criteria(90, timeliness=85, record_keeping=100)


def submit(ledger: Ledger, volunteer: UUID, *, period: str = "2026-02", by: Provenance = EVALUATOR, **kw: Any) -> UUID:
    kw.setdefault("criteria", CRITERIA)
    return ledger.submit_evaluation(volunteer_id=volunteer, period=period, by=by, **kw).id


def test_submitting_records_volunteer_period_evaluator_and_scores(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with recorded(ledger) as new:
        evaluation = submit(ledger, volunteer, comment="认真负责")
    assert sorted(new.names) == ["evaluation.Submitted", "evaluation_slot.Opened", "evaluation_slot.Taken"]
    event = new.one("evaluation.Submitted")
    assert event.originator_id == evaluation
    assert (event.volunteer_id, event.period, event.evaluator_id) == (volunteer, "2026-02", EVALUATOR.principal_id)
    assert (event.criteria, event.comment) == (CRITERIA, "认真负责")
    slot = ledger.repository.get(slot_id(volunteer, "2026-02", EVALUATOR.principal_id))
    assert slot.live == str(evaluation)


@pytest.mark.parametrize("period", ["2026-03", "2026-Q1", "2025-Q4", "2026-12"])
def test_months_and_quarters_are_valid_periods(ledger: Ledger, make: Make, period: str) -> None:
    submit(ledger, make.volunteer(), period=period)


def test_evaluator_cannot_be_the_volunteer(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, RuleViolation, rule="evaluation.self"):
        submit(ledger, volunteer, by=as_volunteer(volunteer))
    with refused(ledger, RuleViolation, rule="evaluation.self"):
        submit(ledger, volunteer, by=Provenance(principal_id=str(volunteer), role="evaluator"))


def test_a_volunteer_may_evaluate_another_volunteer(ledger: Ledger, make: Make) -> None:
    peer = make.volunteer()
    submit(ledger, make.volunteer(), by=Provenance(principal_id=str(peer), role="evaluator"))


def test_second_live_evaluation_by_the_same_evaluator_for_the_same_period_is_refused(
    ledger: Ledger, make: Make
) -> None:
    volunteer = make.volunteer()
    submit(ledger, volunteer)
    with refused(ledger, RuleViolation, rule="evaluation.duplicate"):
        submit(ledger, volunteer, criteria=criteria(10))


def test_other_evaluators_and_other_periods_are_independent(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    submit(ledger, volunteer)
    submit(ledger, volunteer, by=EVALUATOR_2)
    submit(ledger, volunteer, period="2026-03")
    submit(ledger, volunteer, period="2026-Q1")
    submit(ledger, make.volunteer())


def test_evaluation_can_be_submitted_again_after_withdrawal(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    first = submit(ledger, volunteer)
    with recorded(ledger) as new:
        ledger.withdraw_evaluation(first, reason="打分有误", by=EVALUATOR)
    assert sorted(new.names) == ["evaluation.Withdrawn", "evaluation_slot.Freed"]
    assert new.one("evaluation.Withdrawn").reason == "打分有误"
    second = submit(ledger, volunteer, criteria=criteria(95))
    assert second != first
    assert ledger.repository.get(slot_id(volunteer, "2026-02", EVALUATOR.principal_id)).live == str(second)


def test_withdrawing_twice_is_refused(ledger: Ledger, make: Make) -> None:
    evaluation = submit(ledger, make.volunteer())
    ledger.withdraw_evaluation(evaluation, reason="r", by=EVALUATOR)
    with refused(ledger, RuleViolation, rule="evaluation.withdrawn"):
        ledger.withdraw_evaluation(evaluation, reason="r", by=EVALUATOR)


def test_withdrawal_without_a_reason_is_refused(ledger: Ledger, make: Make) -> None:
    evaluation = submit(ledger, make.volunteer())
    with refused(ledger, InvalidInput, field="reason"):
        ledger.withdraw_evaluation(evaluation, reason="", by=EVALUATOR)


def test_withdrawing_an_unknown_evaluation_is_refused(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, NotFound):
        ledger.withdraw_evaluation(volunteer, reason="r", by=EVALUATOR)


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-03", "2026/03", "", None, 202603])
def test_bad_period_is_refused(ledger: Ledger, make: Make, period: Any) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="period"):
        submit(ledger, volunteer, period=period)


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({**criteria(), "attitude": 101}, "criteria.attitude"),
        ({**criteria(), "attitude": -1}, "criteria.attitude"),
        ({**criteria(), "attitude": 85.5}, "criteria.attitude"),
        ({**criteria(), "attitude": "90"}, "criteria.attitude"),
        ({**criteria(), "attitude": True}, "criteria.attitude"),
        ({}, "criteria"),
        ({"Warmth!": 90}, "criteria"),
        ([90], "criteria"),
    ],
)
def test_criteria_outside_zero_to_one_hundred_or_malformed_are_refused(
    ledger: Ledger, make: Make, criteria: Any, code: str
) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field=code):
        submit(ledger, volunteer, criteria=criteria)


def test_criteria_at_their_bounds_are_accepted(ledger: Ledger, make: Make) -> None:
    submit(ledger, make.volunteer(), criteria=criteria(0, attitude=100))


# The evaluation method's criteria ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "said"),
    [
        ({**criteria(), "warmth": 90}, "unknown: warmth"),
        ({"attitude": 90}, "missing: professional_skill, timeliness, record_keeping"),
        ({"punctuality": 80, "care": 80}, "unknown: punctuality, care; missing: attitude"),
    ],
)
def test_an_evaluation_naming_an_unknown_criterion_or_missing_one_is_refused_and_writes_nothing(
    ledger: Ledger, make: Make, scores: dict[str, int], said: str
) -> None:
    volunteer = make.volunteer()
    with refused(ledger, InvalidInput, field="criteria") as info:
        submit(ledger, volunteer, criteria=scores)
    reason = str(info.value)
    assert said in reason
    assert "scoring policy version 1" in reason and "attitude 服务态度 (weight 25)" in reason


def test_the_criteria_are_those_of_the_version_in_force_on_the_periods_first_day(ledger: Ledger, make: Make) -> None:
    v2 = {
        **DEFAULT_PARAMETERS[PolicyKind.SCORING],
        "criterion_attitude": 60, "criterion_professional_skill": 40, "criterion_timeliness": 0,
        "criterion_record_keeping": 0,
    }  # fmt: skip
    ledger.adopt_policy(PolicyKind.SCORING, version=2, parameters=v2, effective_from=date(2026, 4, 1), by=ADMIN)
    volunteer = make.volunteer()
    submit(ledger, volunteer, period="2026-Q1")  # January 1: version 1, four criteria
    two = {"attitude": 90, "professional_skill": 80}
    with refused(ledger, InvalidInput, field="criteria"):
        submit(ledger, volunteer, period="2026-03", criteria=two)
    with refused(ledger, InvalidInput, field="criteria") as info:
        submit(ledger, volunteer, period="2026-Q2", criteria=criteria())  # April 1: version 2 leaves two out
    assert "unknown: timeliness, record_keeping" in str(info.value) and "version 2" in str(info.value)
    submit(ledger, volunteer, period="2026-Q2", criteria=two)


@pytest.mark.parametrize(
    ("weights", "said"),
    [
        ({"criterion_attitude": 30}, "must add up to 100, not 105"),
        ({"criterion_attitude": 0, "criterion_professional_skill": 0}, "must add up to 100, not 50"),
    ],
)
def test_a_scoring_version_whose_criteria_weights_do_not_add_up_to_100_is_refused(
    ledger: Ledger, weights: dict[str, int], said: str
) -> None:
    parameters = {**DEFAULT_PARAMETERS[PolicyKind.SCORING], **weights}
    with refused(ledger, InvalidInput, field="parameters") as info:
        ledger.adopt_policy(
            PolicyKind.SCORING, version=2, parameters=parameters, effective_from=date(2026, 4, 1), by=ADMIN
        )
    assert said in str(info.value)


def test_evaluating_an_unknown_volunteer_is_refused(ledger: Ledger, make: Make) -> None:
    elder = make.elder()
    with refused(ledger, NotFound):
        submit(ledger, elder)
