"""Policies: versions in sequence, exactly the known parameters, weights adding up to 100, and
every result naming the version in force."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, RuleViolation
from ledger.policies import DEFAULT_EFFECTIVE_FROM, DEFAULT_PARAMETERS, PolicyKind, policy_id
from tests.unit.conftest import ADMIN, Make, Pair, recorded, refused

SUBSIDY_V2 = {
    **DEFAULT_PARAMETERS[PolicyKind.SUBSIDY],
    "transport_same_township_fen": 1500,
    "communication_monthly_fen": 5000,
}


def adopt(ledger: Ledger, kind: str, version: int, parameters: Any, effective_from: Any = date(2026, 3, 1)) -> Any:
    return ledger.adopt_policy(kind, version=version, parameters=parameters, effective_from=effective_from, by=ADMIN)


def scoring(**changes: int) -> dict[str, int]:
    return {**DEFAULT_PARAMETERS[PolicyKind.SCORING], **changes}


# The defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [PolicyKind.SUBSIDY, PolicyKind.SCORING])
def test_version_one_holds_the_defaults_and_applies_from_the_start(ledger: Ledger, kind: str) -> None:
    policy = ledger.policy_in_force(kind, date(2026, 3, 1))
    assert (policy.version, policy.parameters, policy.effective_from) == (
        1, DEFAULT_PARAMETERS[kind], DEFAULT_EFFECTIVE_FROM,
    )  # fmt: skip


def test_default_subsidy_rates_are_those_of_the_design(ledger: Ledger) -> None:
    assert DEFAULT_PARAMETERS[PolicyKind.SUBSIDY] == {
        "transport_same_township_fen": 1000,
        "transport_cross_township_fen": 2000,
        "transport_monthly_cap_fen": 20000,
        "communication_monthly_fen": 3000,
    }


def test_ensuring_default_policies_again_writes_nothing(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        ledger.ensure_default_policies()
    assert new.names == []


# Adoption ----------------------------------------------------------------------------------


def test_adopting_a_new_version_records_version_parameters_and_effective_date(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        written = adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 4, 1))
    adopted = new.one("policy.Adopted")
    assert new.names == ["policy.Adopted"]
    assert written.id == policy_id(PolicyKind.SUBSIDY)
    assert (adopted.version, adopted.parameters, adopted.effective_from) == (2, SUBSIDY_V2, date(2026, 4, 1))
    assert (adopted.meta.principal_id, adopted.meta.role) == (ADMIN.principal_id, "admin")


def test_version_in_force_is_the_latest_effective_on_the_day(ledger: Ledger) -> None:
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 4, 1))
    assert ledger.policy_in_force(PolicyKind.SUBSIDY, date(2026, 3, 31)).version == 1
    assert ledger.policy_in_force(PolicyKind.SUBSIDY, date(2026, 4, 1)).version == 2
    assert ledger.policy_in_force(PolicyKind.SUBSIDY, date(2027, 1, 1))["transport_same_township_fen"] == 1500


@pytest.mark.parametrize("version", [1, 3, 0, -1])
def test_versions_follow_in_sequence(ledger: Ledger, version: Any) -> None:
    with refused(ledger, RuleViolation, rule="policy.version_sequence"):
        adopt(ledger, PolicyKind.SUBSIDY, version, SUBSIDY_V2)


@pytest.mark.parametrize("version", ["2", 2.0, True])
def test_a_version_that_is_not_a_whole_number_is_invalid_input(ledger: Ledger, version: Any) -> None:
    with refused(ledger, InvalidInput, field="version"):
        adopt(ledger, PolicyKind.SUBSIDY, version, SUBSIDY_V2)


def test_third_version_follows_the_second(ledger: Ledger) -> None:
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 3, 1))
    with refused(ledger, RuleViolation, rule="policy.version_sequence"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 4, 1))
    adopt(ledger, PolicyKind.SUBSIDY, 3, DEFAULT_PARAMETERS[PolicyKind.SUBSIDY], date(2026, 4, 1))


def test_new_version_cannot_take_effect_before_the_one_it_replaces(ledger: Ledger) -> None:
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 4, 1))
    with refused(ledger, RuleViolation, rule="policy.effective_order"):
        adopt(ledger, PolicyKind.SUBSIDY, 3, SUBSIDY_V2, date(2026, 3, 31))


def test_unknown_policy_kind_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="kind"):
        adopt(ledger, "bonus", 1, {"x": 1})


def test_missing_parameter_is_refused(ledger: Ledger) -> None:
    parameters = dict(SUBSIDY_V2)
    del parameters["transport_monthly_cap_fen"]
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, parameters)


def test_unknown_parameter_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, {**SUBSIDY_V2, "gift_bag_fen": 500})


@pytest.mark.parametrize("value", [-1, 10.5, "1000", True, None], ids=repr)
def test_parameter_values_are_non_negative_integers(ledger: Ledger, value: Any) -> None:
    with refused(ledger, InvalidInput, field="parameters.transport_same_township_fen"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, {**SUBSIDY_V2, "transport_same_township_fen": value})


def test_parameters_that_are_not_an_object_are_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, list(SUBSIDY_V2.items()))


@pytest.mark.parametrize(
    "weights",
    [
        {"weight_service": 41},  # 101
        {"weight_training": 9},  # 99
        {"weight_service": 0, "weight_satisfaction": 0, "weight_evaluation": 0, "weight_training": 0},
    ],
)
def test_scoring_weights_must_add_up_to_one_hundred(ledger: Ledger, weights: dict[str, int]) -> None:
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, PolicyKind.SCORING, 2, scoring(**weights))


def test_scoring_weights_may_be_redistributed(ledger: Ledger) -> None:
    adopt(ledger, PolicyKind.SCORING, 2, scoring(weight_service=50, weight_training=0))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"satisfaction_prior_rating": 0}, "parameters.satisfaction_prior_rating"),
        ({"satisfaction_prior_rating": 6}, "parameters.satisfaction_prior_rating"),
        ({"grade_pass": 80}, "parameters"),
        ({"grade_excellent": 101}, "parameters"),
        ({"max_active_pairings": 0}, "parameters.max_active_pairings"),
        ({"expected_contacts_per_elder": 0}, "parameters.expected_contacts_per_elder"),
        ({"training_hours_per_year": 0}, "parameters.training_hours_per_year"),
    ],
)
def test_implausible_scoring_parameters_are_refused(ledger: Ledger, changes: dict[str, int], code: str) -> None:
    with refused(ledger, InvalidInput, field=code):
        adopt(ledger, PolicyKind.SCORING, 2, scoring(**changes))


@pytest.mark.parametrize("effective_from", ["2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)], ids=["text", "datetime"])
def test_effective_date_that_is_not_a_calendar_date_is_refused(ledger: Ledger, effective_from: Any) -> None:
    with refused(ledger, InvalidInput, field="effective_from"):
        adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, effective_from)


# A result names the version in force -------------------------------------------------------


def test_claim_names_the_subsidy_version_in_force_for_its_month(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 3, 1))
    february = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    clock.now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    march_visit = make.confirmed_visit(pair.pairing, start=datetime(2026, 3, 5, 2, 0, tzinfo=UTC))
    march = make.claim(pair.volunteer, [march_visit], month="2026-03")
    first, second = ledger.repository.get(february), ledger.repository.get(march)
    assert (first.policy_version, first.items[0]["transport_fen"], first.communication_fen) == (1, 1000, 3000)
    assert (second.policy_version, second.items[0]["transport_fen"], second.communication_fen) == (2, 1500, 5000)


def test_claim_uses_the_version_in_force_on_the_first_day_of_its_month(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 3, 15))
    clock.now = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    late_march = make.confirmed_visit(pair.pairing, start=datetime(2026, 3, 18, 2, 0, tzinfo=UTC))
    claim = ledger.repository.get(make.claim(pair.volunteer, [late_march], month="2026-03"))
    assert (claim.policy_version, claim.items[0]["transport_fen"]) == (1, 1000)


def test_claim_submitted_after_adoption_for_an_earlier_month_keeps_the_earlier_version(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visits = make.visits_on_days(pair.pairing, [3])
    adopt(ledger, PolicyKind.SUBSIDY, 2, SUBSIDY_V2, date(2026, 3, 1))
    claim = ledger.repository.get(make.claim(pair.volunteer, visits))
    assert claim.policy_version == 1
