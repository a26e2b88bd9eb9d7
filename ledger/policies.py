"""Versioned policies: the subsidy rates and the scoring method (管理评价办法).

A policy is changed only by adopting a new version with the date it takes effect; every
result that used a policy names the version. Version 1 of each kind holds the defaults
(docs/design.md, "Default policies") and is adopted when a ledger is first opened.
"""

from __future__ import annotations

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


def check_parameters(kind: str, parameters: dict[str, int]) -> None:
    required = DEFAULT_PARAMETERS[kind]
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters", "must be an object of named integers")
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
