"""Audit samples (审计抽样): claims of a budget year drawn reproducibly from a seed, recorded for the audit file.

Rules:

- the **population** is the year's claims (the county's, of months of that year) that are approved
  or paid as of a log position (the head when drawn): the claims that spent money. The caller
  reads it from the log (:mod:`projections.sampling`) and hands it over with that position;
- each claim is **ranked** by SHA-256 of ``tiexin-audit-sample:{seed}:{claim id}`` and the lowest
  ranks are chosen: the same seed over the same population picks the same claims on any store,
  machine or Python version (no row order, no ``random`` state, no UUID randomness involved);
  another seed ranks them afresh;
- **stratified** (``township``: the claim's volunteer's township; ``amount``: the claims sorted by
  total, then id, cut into four bands of equal count, ``q1`` the smallest), each stratum gets one
  claim first when the size allows, the rest in proportion to what each stratum has left
  (largest remainders, ties by stratum name); unstratified, the whole population is one
  stratum, ``all``;
- a size beyond the population takes all of it; an empty population is refused
  (``sample.no_claims``), as are a size outside 1–:data:`MAX_SIZE` and a seed outside
  0–:data:`MAX_SEED` (a refused draw writes nothing);
- the draw is one ``Drawn`` event: year, county, size, seed, stratification, position, the
  population and each stratum's counts, the chosen claims (each with its stratum, total and
  visit ids) and who drew it. It never changes: a later draw is a new sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.budgets import FIRST_YEAR, LAST_YEAR
from ledger.claims import ClaimStatus
from ledger.common import Provenance, require_choice
from ledger.errors import InvalidInput, RuleViolation

MAX_SIZE = 500
"""The most claims one sample draws."""
MAX_SEED = 2**53 - 1
"""Seeds are whole numbers a JSON client can carry exactly."""
AMOUNT_BANDS = 4
ALL = "all"
"""The one stratum of an unstratified sample."""
SAMPLED_STATUSES = (ClaimStatus.APPROVED.value, ClaimStatus.PAID.value)


class Stratification(StrEnum):
    TOWNSHIP = "township"
    AMOUNT = "amount"


@dataclass(frozen=True)
class Candidate:
    """A claim that may be drawn: its volunteer's township, its total (fen) and its visits."""

    claim_id: UUID
    township: str
    total_fen: int
    visit_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Population:
    """The claims a sample is drawn from, as of a log position."""

    position: int
    candidates: tuple[Candidate, ...]


def rank(seed: int, claim_id: UUID) -> str:
    """A claim's place in the seed's order (lowest first)."""
    return hashlib.sha256(f"tiexin-audit-sample:{seed}:{claim_id}".encode()).hexdigest()


def strata(candidates: Iterable[Candidate], stratify_by: str | None) -> dict[str, list[Candidate]]:
    """The population cut into strata, each in claim-id order."""
    ordered = sorted(candidates, key=lambda c: str(c.claim_id))
    if stratify_by is None:
        return {ALL: ordered} if ordered else {}
    found: dict[str, list[Candidate]] = {}
    if stratify_by == Stratification.TOWNSHIP:
        for c in ordered:
            found.setdefault(c.township, []).append(c)
    else:
        by_amount = sorted(ordered, key=lambda c: (c.total_fen, str(c.claim_id)))
        for n, c in enumerate(by_amount):
            found.setdefault(f"q{n * AMOUNT_BANDS // len(by_amount) + 1}", []).append(c)
    return dict(sorted(found.items()))


def allocate(size: int, counts: dict[str, int]) -> dict[str, int]:
    """How many claims each stratum gives: one each first when the size allows, the rest in
    proportion to what each has left (largest remainders, ties by stratum name)."""
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    floor = 1 if size >= len(counts) else 0
    left = {k: n - floor for k, n in counts.items()}
    rest, pool = size - floor * len(counts), sum(left.values())
    given = {k: floor + (rest * n // pool if pool else 0) for k, n in left.items()}
    remainders = {k: (rest * n % pool if pool else 0) for k, n in left.items()}
    short = size - sum(given.values())
    for k in sorted(counts, key=lambda k: (-remainders[k], k))[:short]:
        given[k] += 1
    return given


def choose(
    population: Sequence[Candidate], size: int, seed: int, stratify_by: str | None
) -> list[tuple[str, Candidate]]:
    """The chosen claims with their strata, by stratum and then by rank."""
    cut = strata(population, stratify_by)
    shares = allocate(size, {k: len(v) for k, v in cut.items()})
    chosen = []
    for name, members in cut.items():
        ranked = sorted(members, key=lambda c: (rank(seed, c.claim_id), str(c.claim_id)))
        chosen += [(name, c) for c in ranked[: shares[name]]]
    return chosen


def check_request(year: int, size: int, seed: int, stratify_by: str | None) -> None:
    """Refuse a draw that cannot be made, before anything is read."""
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput("year", f"must be a fiscal year from {FIRST_YEAR} to {LAST_YEAR}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise InvalidInput("size", f"a sample draws from 1 to {MAX_SIZE} claims")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput("seed", f"must be a whole number from 0 to {MAX_SEED}")
    if stratify_by is not None:
        require_choice("stratify_by", stratify_by, Stratification)


class AuditSample(Aggregate):
    """One draw of claims for an audit, as it was made (see the module's docstring)."""

    TOPIC = "tiexin.audit_sample"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.audit_sample.Created"

    @classmethod
    def draw(
        cls,
        *,
        county: str,
        year: int,
        size: int,
        seed: int,
        stratify_by: str | None,
        population: Population,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> AuditSample:
        check_request(year, size, seed, stratify_by)
        stratification = None if stratify_by is None else str(stratify_by)
        if not population.candidates:
            raise RuleViolation(
                "sample.no_claims",
                f"the {year} budget of {county} has no approved or paid claims to sample (as of position "
                f"{population.position})",
            )
        chosen = choose(population.candidates, size, seed, stratification)
        cut = strata(population.candidates, stratification)
        counts = {
            name: {"population": len(members), "chosen": sum(1 for s, _ in chosen if s == name),
                   "min_fen": min(c.total_fen for c in members), "max_fen": max(c.total_fen for c in members)}
            for name, members in cut.items()
        }  # fmt: skip
        claims = [
            {"claim_id": c.claim_id, "stratum": name, "total_fen": c.total_fen, "visit_ids": list(c.visit_ids)}
            for name, c in chosen
        ]
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            county=county, year=year, size=size, seed=seed, stratify_by=stratification,
            position=population.position, population=len(population.candidates), strata=counts, claims=claims,
            drawn_by=meta.principal_id, timestamp=now, meta=meta, id=id,
        )  # fmt: skip

    class Drawn(Aggregate.Created):
        """Who drew which claims (and their visits) of a budget year, from which seed, over the log up to
        ``position``."""

        TOPIC = "tiexin.audit_sample.Drawn"
        county: str
        year: int
        size: int
        seed: int
        stratify_by: str | None
        position: int
        population: int
        strata: dict[str, dict[str, int]]
        claims: list[dict[str, Any]]
        drawn_by: str
        timestamp: datetime
        meta: Provenance

    @event(Drawn)
    def __init__(
        self,
        county: str,
        year: int,
        size: int,
        seed: int,
        stratify_by: str | None,
        position: int,
        population: int,
        strata: dict[str, dict[str, int]],
        claims: list[dict[str, Any]],
        drawn_by: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.county = county
        self.year = year
        self.size = size
        self.seed = seed
        self.stratify_by = stratify_by
        self.position = position
        self.population = population
        self.strata = strata
        self.claims = claims
        self.drawn_by = drawn_by
        self.drawn_at = timestamp

    @property
    def claim_ids(self) -> list[UUID]:
        return [c["claim_id"] for c in self.claims]

    @property
    def visit_ids(self) -> list[UUID]:
        return [v for c in self.claims for v in c["visit_ids"]]
