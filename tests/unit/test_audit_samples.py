"""Audit samples: the same seed over the same claims draws the same; strata share the size fairly; a refused
draw writes nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.audit_samples import ALL, AuditSample, Candidate, Population, allocate, choose, rank, strata
from ledger.common import ID_NAMESPACE, Provenance
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import HOME_COUNTY, Make, recorded, refused

AUDITOR = Provenance("auditor-1", "auditor")
TOWNSHIPS = ("涟城镇", "高沟镇", "唐集镇")


def candidates(n: int) -> tuple[Candidate, ...]:
    """``n`` claims, spread over three townships, of totals from ¥100 up."""
    return tuple(
        Candidate(uuid5(ID_NAMESPACE, f"claim-{i}"), TOWNSHIPS[i % 3 if i % 5 else 0], 10_000 + 100 * i,
                  (uuid5(ID_NAMESPACE, f"visit-{i}"),))
        for i in range(n)
    )  # fmt: skip


def ids(chosen: list[tuple[str, Candidate]]) -> list[UUID]:
    return [c.claim_id for _, c in chosen]


# The rule ---------------------------------------------------------------------------------


def test_the_same_seed_draws_the_same_claims_whatever_order_they_come_in() -> None:
    population = candidates(60)
    first = ids(choose(population, 8, 42, None))
    assert first == ids(choose(tuple(reversed(population)), 8, 42, None))
    assert len(set(first)) == 8
    assert first != ids(choose(population, 8, 43, None))
    assert rank(42, population[0].claim_id) == rank(42, population[0].claim_id) != rank(43, population[0].claim_id)


def test_a_size_beyond_the_population_takes_all_of_it() -> None:
    population = candidates(5)
    assert sorted(ids(choose(population, 50, 1, "township")), key=str) == sorted(
        (c.claim_id for c in population), key=str
    )


def test_by_township_each_township_gives_one_then_in_proportion() -> None:
    population = candidates(60)
    assert Counter(c.township for c in population) == {"涟城镇": 28, "高沟镇": 16, "唐集镇": 16}
    chosen = choose(population, 10, 7, "township")
    # One each, then 7 over what is left (27, 15, 15): 3.32, 1.84, 1.84 → 3, 1, 1 and the two largest remainders.
    assert Counter(stratum for stratum, _ in chosen) == {"涟城镇": 4, "高沟镇": 3, "唐集镇": 3}
    assert all(c.township == stratum for stratum, c in chosen)


def test_by_amount_the_claims_are_cut_into_four_bands_of_equal_count() -> None:
    cut = strata(candidates(41), "amount")
    assert list(cut) == ["q1", "q2", "q3", "q4"]
    assert sorted(len(members) for members in cut.values()) == [10, 10, 10, 11]
    tops = [max(c.total_fen for c in members) for members in cut.values()]
    bottoms = [min(c.total_fen for c in members) for members in cut.values()]
    assert all(top < bottom for top, bottom in zip(tops, bottoms[1:], strict=False))
    assert list(strata(candidates(3), None)) == [ALL]


@given(
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(1, 40), min_size=1, max_size=8),
    st.integers(1, 200),
)
def test_the_size_is_shared_out_exactly_and_never_beyond_a_stratum(counts: dict[str, int], size: int) -> None:
    given_out = allocate(size, counts)
    total = sum(counts.values())
    assert sum(given_out.values()) == min(size, total)
    assert all(0 <= given_out[k] <= counts[k] for k in counts)
    if len(counts) <= size < total:
        assert all(n >= 1 for n in given_out.values())


# The command ------------------------------------------------------------------------------


def population_of(candidates_: tuple[Candidate, ...], calls: list[Any]) -> Any:
    def read(county: str, year: int) -> Population:
        calls.append((county, year))
        return Population(99, candidates_)

    return read


def test_a_draw_is_one_event_citing_seed_position_claims_and_visits(ledger: Ledger, make: Make) -> None:
    make.budget(year=2025)
    calls: list[Any] = []
    population = candidates(30)
    with recorded(ledger) as new:
        written = ledger.draw_audit_sample(
            county=HOME_COUNTY, year=2025, size=4, seed=42, stratify_by="amount",
            population=population_of(population, calls), by=AUDITOR,
        )  # fmt: skip
    drawn = new.one("audit_sample.Drawn")
    assert new.names == ["audit_sample.Drawn"] and calls == [(HOME_COUNTY, 2025)]
    assert (drawn.county, drawn.year, drawn.size, drawn.seed, drawn.stratify_by) == (HOME_COUNTY, 2025, 4, 42, "amount")
    assert (drawn.position, drawn.population, drawn.drawn_by) == (99, 30, "auditor-1")
    assert [c["claim_id"] for c in drawn.claims] == ids(choose(population, 4, 42, "amount"))
    sample: AuditSample = ledger.repository.get(written.id)
    by_id = {c.claim_id: c for c in population}
    assert sample.visit_ids == [v for claim_id in sample.claim_ids for v in by_id[claim_id].visit_ids]
    assert {k: v["chosen"] for k, v in sample.strata.items()} == {"q1": 1, "q2": 1, "q3": 1, "q4": 1}
    assert sum(v["population"] for v in sample.strata.values()) == 30


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"size": 0}, InvalidInput, "size"),
        ({"size": -3}, InvalidInput, "size"),
        ({"size": 501}, InvalidInput, "size"),
        ({"seed": -1}, InvalidInput, "seed"),
        ({"seed": True}, InvalidInput, "seed"),
        ({"stratify_by": "volunteer"}, InvalidInput, "stratify_by"),
        ({"year": 1999}, InvalidInput, "year"),
        ({"year": 2031}, NotFound, None),
        ({"county": "nowhere"}, NotFound, None),
    ],
)
def test_a_draw_that_cannot_be_made_is_refused_before_the_log_is_read(
    ledger: Ledger, make: Make, changes: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    make.budget(year=2025)
    calls: list[Any] = []
    request: dict[str, Any] = {"county": HOME_COUNTY, "year": 2025, "size": 3, "seed": 42, "stratify_by": None}
    with refused(ledger, error, field=field):
        ledger.draw_audit_sample(**{**request, **changes}, population=population_of(candidates(9), calls), by=AUDITOR)
    assert calls == []


def test_a_year_with_no_approved_or_paid_claims_has_nothing_to_sample(ledger: Ledger, make: Make) -> None:
    make.budget(year=2025)
    with refused(ledger, RuleViolation, rule="sample.no_claims"):
        ledger.draw_audit_sample(
            county=HOME_COUNTY, year=2025, size=3, seed=1, stratify_by=None, population=population_of((), []),
            by=AUDITOR,
        )  # fmt: skip
