"""The auditor's tools on the demo county, on a SQLite file and on PostgreSQL (one build of the demo each).

The reconciliation of every budget year balances to the fen and agrees with the Budget aggregate
and the audit read model; a sample drawn with seed 42 is the same twice and on both stores, another
seed draws another, and a stratified one reaches every township.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.audit_samples import AuditSample, strata
from ledger.bootstrap import open_ledger
from ledger.budgets import Budget
from ledger.common import Provenance
from ledger.counties import LIANSHUI
from projections.audit import AuditProjection, AuditView, open_audit_view
from projections.logscan import head, scan
from projections.reconcile import reconcile
from projections.runner import Runner
from projections.sampling import population
from tests.builders import MASTER_KEY
from tests.conftest import fresh_postgres_schema
from tests.demo_store import seeded_demo

AUDITOR = Provenance("auditor-demo", "auditor")


@dataclass
class Demo:
    url: str
    ledger: Ledger
    view: AuditView

    def years(self) -> dict[int, int]:
        """Each budget year of the home county and what it appropriated in all (fen)."""
        found = {}
        for _, event in scan(self.ledger, [Budget.Appropriated], until=head(self.ledger)):
            if event.county == LIANSHUI:
                found[event.year] = sum(event.lines.values())
        return found

    def draw(self, year: int, size: int, seed: int, stratify_by: str | None = None) -> AuditSample:
        written = self.ledger.draw_audit_sample(
            county=LIANSHUI, year=year, size=size, seed=seed, stratify_by=stratify_by,
            population=lambda c, y: population(self.ledger, c, y), by=AUDITOR,
        )  # fmt: skip
        drawn = self.ledger.find(AuditSample, written.id)
        assert drawn is not None
        return drawn


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from built(f"sqlite:///{tmp_path_factory.mktemp('audit-tools')}/tiexin.db")


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[Demo]:
    with fresh_postgres_schema("t_tools") as url:
        yield from built(url)


def built(url: str) -> Iterator[Demo]:
    """The seed-1 demo (one county, the smallest), its audit read model caught up."""
    seeded_demo(url)
    ledger = open_ledger(url, master_key=MASTER_KEY)
    view = open_audit_view(url)
    try:
        runner = Runner(ledger, AuditProjection(view))
        runner.run_once()
        assert (runner.state.status, runner.lag) == ("caught_up", 0), runner.state
        yield Demo(url, ledger, view)
    finally:
        view.close()
        ledger.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> Demo:
    found: Demo = request.getfixturevalue(f"{request.param}_demo")
    return found


def sample_year(demo: Demo) -> int:
    """The demo's first budget year (the one whose claims are all approved and paid)."""
    return min(demo.years())


# Reconciliation -------------------------------------------------------------------------------


def test_every_budget_year_of_the_demo_reconciles_to_the_fen(demo: Demo) -> None:
    years = demo.years()
    assert years
    for year, appropriated in years.items():
        result = reconcile(demo.ledger, LIANSHUI, year, audit=demo.view)
        assert result.balanced, result.findings()
        assert result.claims == () and result.findings() == []
        total = result.total
        assert total.budgeted == appropriated + total.adjustments
        assert total.budgeted == total.committed + total.paid + total.available and total.difference == 0
        assert total.paid > 0
        assert [(c.source, c.compared, c.differences) for c in result.comparisons] == [
            ("budget", True, ()),
            ("audit", True, ()),
        ]
        report = demo.view.budget(LIANSHUI, year)
        for line in result.lines:
            stated = report.line(line.line)
            assert stated is not None
            assert (stated.appropriated, stated.committed, stated.paid, stated.available) == (
                line.budgeted, line.held, line.paid, line.available,
            )  # fmt: skip


# Samples --------------------------------------------------------------------------------------


def drawn(sample: AuditSample) -> tuple[Any, ...]:
    """What a sample picked (not when, nor at which position)."""
    return (sample.claim_ids, sample.visit_ids, sample.population, sample.strata)


def test_seed_42_draws_the_same_claims_and_visits_twice_and_on_sqlite_and_postgres(
    sqlite_demo: Demo, postgres_demo: Demo
) -> None:
    year = sample_year(sqlite_demo)
    first, again = sqlite_demo.draw(year, 12, 42), sqlite_demo.draw(year, 12, 42)
    assert first.id != again.id and again.position > first.position  # two draws, each recorded
    assert drawn(first) == drawn(again)
    assert len(first.claim_ids) == 12 and len(set(first.visit_ids)) == len(first.visit_ids) > 12
    on_postgres = postgres_demo.draw(year, 12, 42)
    assert drawn(on_postgres) == drawn(first)
    assert (on_postgres.seed, on_postgres.size, on_postgres.year) == (42, 12, year)


def test_another_seed_draws_another_sample(demo: Demo) -> None:
    year = sample_year(demo)
    assert set(demo.draw(year, 12, 42).claim_ids) != set(demo.draw(year, 12, 43).claim_ids)


def test_a_sample_holds_approved_or_paid_claims_of_its_year_with_their_visits(demo: Demo) -> None:
    year = sample_year(demo)
    townships = len(strata(population(demo.ledger, LIANSHUI, year).candidates, "township"))
    sample = demo.draw(year, townships + 5, 7, "township")  # one claim from each township, then five more
    assert townships > 1 and len(sample.strata) == townships
    assert all(c["chosen"] >= 1 for c in sample.strata.values())
    assert sum(c["chosen"] for c in sample.strata.values()) == len(sample.claim_ids) == townships + 5
    visits = []
    for claim in sample.claims:
        trail = demo.view.trail(claim["claim_id"])
        assert trail.claim is not None and trail.claim.status in ("approved", "paid")
        assert trail.claim.county == LIANSHUI and trail.claim.year == year
        assert [i.visit_id for i in trail.items] == claim["visit_ids"]
        assert trail.claim.total_fen == claim["total_fen"]
        visits += claim["visit_ids"]
    assert sample.visit_ids == visits
