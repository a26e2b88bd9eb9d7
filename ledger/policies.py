"""Versioned policies: the subsidy rates, the scoring method (管理评价办法) and the health gift bag's contents.

A policy is changed only by adopting a new version with the date it takes effect; every
result that used a policy names the version. Version 1 of each kind holds the defaults
(docs/design.md, "Default policies") and is adopted when a ledger is first opened.

**The evaluation method's criteria** (考核项目) are part of the scoring policy: an evaluator scores
a volunteer on exactly the criteria of the version in force, each weighted by it. A version's
parameters stay named integers (the ``Adopted`` event's shape, which the event contract
freezes), so a criterion is a parameter ``criterion_<name>`` holding its weight; the names are
the closed set :class:`EvaluationCriterion`, each with its Chinese and English label
(:data:`CRITERIA_LABELS`). A weight of 0 leaves a criterion out of that version's method; the
weights of those in it add up to 100. A version adopted before the criteria were part of the
policy (its parameters name none) takes every criterion, weighed equally
(:func:`evaluation_criteria`): the plain mean that scored evaluations then.

**The health gift bag** (健康福寿袋) a volunteer may hand over on a home visit is a policy too: a
gift-bag version's parameters are the bag's items (the closed set :class:`GiftBagItem`, labelled
in :mod:`ledger.labels`), each with how many one bag holds. An item a version leaves out (or counts
0) is not in its bags; a bag holds at least one item (:func:`check_gift_bag_parameters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_choice, stable_id
from ledger.errors import InvalidInput, RuleViolation


class PolicyKind(StrEnum):
    """The kinds of versioned policy: each kind is one aggregate with its own versions."""

    SUBSIDY = "subsidy"
    SCORING = "scoring"
    GIFT_BAG = "gift_bag"


class GiftBagItem(StrEnum):
    """What a health gift bag (健康福寿袋) can hold; a gift-bag version counts each item per bag."""

    HANDBOOK = "handbook"
    HEALTH_BOOK = "health_book"
    LOCAL_CULTURE_BOOK = "local_culture_book"
    OTHER_BOOK = "other_book"


class EvaluationCriterion(StrEnum):
    """The criteria an evaluator can score (a version's method uses those it weighs above 0)."""

    ATTITUDE = "attitude"
    PROFESSIONAL_SKILL = "professional_skill"
    TIMELINESS = "timeliness"
    RECORD_KEEPING = "record_keeping"


CRITERIA_LABELS: dict[str, tuple[str, str]] = {
    EvaluationCriterion.ATTITUDE: ("服务态度", "attitude"),
    EvaluationCriterion.PROFESSIONAL_SKILL: ("专业技能", "professional skill"),
    EvaluationCriterion.TIMELINESS: ("服务及时", "timeliness"),
    EvaluationCriterion.RECORD_KEEPING: ("记录规范", "record keeping"),
}
"""Each criterion's Chinese and English label (served with its name; :mod:`ledger.labels`)."""
CRITERION_PREFIX = "criterion_"
"""A scoring parameter ``criterion_<name>`` is the weight of that criterion in the evaluation method."""
CRITERION_PARAMETERS = tuple(f"{CRITERION_PREFIX}{c}" for c in EvaluationCriterion)

# Aliases, typed as the plain text they were, kept for four tests until they name PolicyKind; no new use.
SUBSIDY: str = PolicyKind.SUBSIDY
SCORING: str = PolicyKind.SCORING

DEFAULT_PARAMETERS: dict[str, dict[str, int]] = {
    PolicyKind.SUBSIDY: {
        "transport_same_township_fen": 1000,
        "transport_cross_township_fen": 2000,
        "transport_monthly_cap_fen": 20000,
        "communication_monthly_fen": 3000,
    },
    PolicyKind.SCORING: {
        "expected_contacts_per_elder": 2,
        "expected_home_visits_per_elder": 1,
        "max_active_pairings": 10,
        "weight_service": 40,
        "weight_satisfaction": 30,
        "weight_evaluation": 20,
        "weight_training": 10,
        "satisfaction_prior_rating": 4,
        "satisfaction_prior_weight": 3,
        "training_hours_per_year": 8,
        "penalty_per_bad_visit": 5,
        "grade_excellent": 90,
        "grade_good": 75,
        "grade_pass": 60,
        # The evaluation method: each criterion's weight (adding up to 100; 0 leaves it out).
        "criterion_attitude": 25,
        "criterion_professional_skill": 25,
        "criterion_timeliness": 25,
        "criterion_record_keeping": 25,
    },
    # The health gift bag's contents: each item's count in one bag (docs/programme.md).
    PolicyKind.GIFT_BAG: {
        "handbook": 1,
        "health_book": 1,
        "local_culture_book": 2,
        "other_book": 1,
    },
}
DEFAULT_EFFECTIVE_FROM = date(2000, 1, 1)
"""Version 1 applies to everything before any later version takes effect."""


def policy_id(kind: str) -> UUID:
    return stable_id("policy", kind)


@dataclass(frozen=True)
class PolicyVersion:
    kind: str
    version: int
    parameters: dict[str, int]
    effective_from: date

    def __getitem__(self, name: str) -> int:
        return self.parameters[name]


class Policy(Aggregate):
    TOPIC = "tiexin.policy"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.policy.Created"

    @staticmethod
    def create_id(kind: str) -> UUID:
        return policy_id(kind)

    class Established(Aggregate.Created):
        TOPIC = "tiexin.policy.Established"
        kind: str
        timestamp: datetime
        meta: Provenance

    @event(Established)
    def __init__(self, kind: str, timestamp: datetime, meta: Provenance) -> None:
        self.kind = kind
        self.versions: list[dict[str, Any]] = []

    @classmethod
    def establish(cls, kind: str, *, now: datetime, meta: Provenance) -> Policy:
        return cls(kind=require_choice("kind", kind, PolicyKind), timestamp=now, meta=meta)

    def adopt(
        self,
        *,
        version: int,
        parameters: dict[str, int],
        effective_from: date,
        now: datetime,
        meta: Provenance,
    ) -> None:
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInput("version", "must be a whole number")
        if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
            raise InvalidInput("effective_from", "must be a calendar date")
        expected = len(self.versions) + 1
        if version != expected:
            raise RuleViolation(
                "policy.version_sequence",
                f"the next {self.kind} policy version is {expected}, not {version}",
            )
        check_parameters(self.kind, parameters)
        if self.versions and effective_from < self.versions[-1]["effective_from"]:
            raise RuleViolation(
                "policy.effective_order",
                "a new version cannot take effect before the version it replaces",
            )
        self._adopted(
            version=version,
            parameters=dict(parameters),
            effective_from=effective_from,
            timestamp=now,
            meta=meta,
        )

    class Adopted(Aggregate.Event):
        TOPIC = "tiexin.policy.Adopted"
        version: int
        parameters: dict[str, int]
        effective_from: date
        timestamp: datetime
        meta: Provenance

    @event(Adopted)
    def _adopted(
        self,
        version: int,
        parameters: dict[str, int],
        effective_from: date,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.versions.append({"version": version, "parameters": parameters, "effective_from": effective_from})

    def in_force(self, on: date) -> PolicyVersion:
        """The latest version whose effective date is on or before ``on``."""
        chosen = None
        for v in self.versions:
            if v["effective_from"] <= on:
                chosen = v
        if chosen is None:
            raise RuleViolation("policy.none_in_force", f"no {self.kind} policy was in force on {on}")
        return PolicyVersion(self.kind, chosen["version"], chosen["parameters"], chosen["effective_from"])


def check_parameters(kind: str, parameters: dict[str, int], *, stored: bool = False) -> None:
    """Exactly the kind's parameters, each a non-negative integer, consistent with each other.

    ``stored``: the parameters of a version already adopted, as read from the log: a scoring
    version adopted before the evaluation criteria were part of the policy names none of them.
    """
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters", "must be an object of named integers")
    if kind == PolicyKind.GIFT_BAG:
        check_gift_bag_parameters(parameters)
        return
    required = set(DEFAULT_PARAMETERS[kind])
    if stored and kind == PolicyKind.SCORING and not set(CRITERION_PARAMETERS) & set(parameters):
        required -= set(CRITERION_PARAMETERS)
    missing = sorted(set(required) - set(parameters))
    unknown = sorted(set(parameters) - set(required))
    if missing or unknown:
        raise InvalidInput("parameters", f"missing {missing or 'none'}, unknown {unknown or 'none'}")
    for name, value in parameters.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"parameters.{name}", "must be a non-negative integer")
    if kind == PolicyKind.SCORING:
        check_scoring_parameters(parameters)


def check_scoring_parameters(p: dict[str, int]) -> None:
    weights = p["weight_service"] + p["weight_satisfaction"] + p["weight_evaluation"] + p["weight_training"]
    if weights != 100:
        raise InvalidInput("parameters", f"the four weights must add up to 100, not {weights}")
    if not 1 <= p["satisfaction_prior_rating"] <= 5:
        raise InvalidInput("parameters.satisfaction_prior_rating", "must be a rating from 1 to 5")
    if not p["grade_pass"] <= p["grade_good"] <= p["grade_excellent"] <= 100:
        raise InvalidInput("parameters", "grade thresholds must rise: pass ≤ good ≤ excellent ≤ 100")
    for name in ("expected_contacts_per_elder", "training_hours_per_year", "max_active_pairings"):
        if p[name] < 1:
            raise InvalidInput(f"parameters.{name}", "must be at least 1")
    criteria = [name for name in CRITERION_PARAMETERS if name in p]
    if criteria:  # none: a version adopted before the criteria were part of the policy
        if len(criteria) != len(CRITERION_PARAMETERS):
            missing = sorted(set(CRITERION_PARAMETERS) - set(criteria))
            raise InvalidInput("parameters", f"weigh every evaluation criterion (0 leaves one out): missing {missing}")
        total = sum(p[name] for name in criteria)
        if total != 100:
            raise InvalidInput("parameters", f"the evaluation criteria's weights must add up to 100, not {total}")


def check_gift_bag_parameters(p: dict[str, int]) -> None:
    """A gift bag's contents: known items (one left out counts 0), each a non-negative whole count,
    at least one item in the bag."""
    unknown = sorted(set(p) - set(GiftBagItem))
    if unknown:
        raise InvalidInput("parameters", f"unknown gift-bag items {unknown}; the items are {list(GiftBagItem)}")
    for name, value in p.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"parameters.{name}", "must be a whole count, 0 or more")
    if not any(p.values()):
        raise InvalidInput("parameters", "a gift bag holds at least one item")


def gift_bag_contents(parameters: Mapping[str, int]) -> dict[str, int]:
    """Each item one bag holds under a gift-bag version and how many (those counted above 0), in
    :class:`GiftBagItem` order."""
    return {str(item): parameters[item] for item in GiftBagItem if parameters.get(item, 0) > 0}


# The evaluation method ----------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One criterion of a version's evaluation method: its name, labels and weight."""

    name: str
    label_zh: str
    label_en: str
    weight: int


def evaluation_criteria(parameters: Mapping[str, int]) -> tuple[Criterion, ...]:
    """The criteria of a scoring version's evaluation method (weight above 0), in :class:`EvaluationCriterion`
    order; for a version that names none (adopted before they were part of the policy), every criterion,
    weighed equally (weight 1 each)."""
    named = any(name in parameters for name in CRITERION_PARAMETERS)
    found = []
    for criterion in EvaluationCriterion:
        weight = parameters.get(f"{CRITERION_PREFIX}{criterion}", 0) if named else 1
        if weight > 0:
            found.append(Criterion(criterion.value, *CRITERIA_LABELS[criterion], weight))
    return tuple(found)


@dataclass(frozen=True)
class EvaluationMethod:
    """What an evaluation must score under one scoring policy version: exactly its criteria."""

    version: int
    criteria: tuple[Criterion, ...]

    @classmethod
    def of(cls, policy: PolicyVersion) -> EvaluationMethod:
        return cls(policy.version, evaluation_criteria(policy.parameters))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)

    def describe(self) -> str:
        """The criteria as a person reads them: ``attitude 服务态度 (weight 25), …``."""
        return ", ".join(f"{c.name} {c.label_zh} (weight {c.weight})" for c in self.criteria)
