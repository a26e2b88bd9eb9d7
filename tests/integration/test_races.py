"""Racing commands: one wins, the other gets a conflict, nothing is lost or written twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger, Written
from ledger.bootstrap import open_ledger
from ledger.budgets import Budget, budget_id
from ledger.claims import Claim, ClaimedVisit, ClaimStatus, claimed_visit_id
from ledger.counties import LIANSHUI
from ledger.errors import ConflictError, RuleViolation
from tests.builders import (
    FINANCE_A,
    FINANCE_B,
    MASTER_KEY,
    as_volunteer,
    claim_of_february,
    event_count,
    make_pair,
    visit_at,
)
from tests.conftest import Clock


class RacingLedger(Ledger):
    """A real ledger that waits at a barrier just before saving, so two commands race.

    Both have read the same budget version by then; whichever saves second must collide.
    """

    barrier: threading.Barrier

    def _save_now(self, *aggregates: Any) -> list[Any]:
        self.barrier.wait(timeout=10)
        return super()._save_now(*aggregates)


def open_racing(url: str, clock: Clock, barrier: threading.Barrier) -> RacingLedger:
    from ledger.settings import store_env

    ledger = RacingLedger(store_env(url), master_key=MASTER_KEY, clock=clock)
    ledger.barrier = barrier
    return ledger


def run_in_threads(*jobs: Callable[[], object]) -> list[object]:
    results: list[object] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_approvals_racing_for_the_last_budget_never_overdraw_it(
    store_url: str, open_store: Callable[[str], Ledger], clock: Clock
) -> None:
    setup = open_store(store_url)
    claims = [claim_of_february(setup, make_pair(setup, n)) for n in (1, 2)]
    # Each claim is 2000 transport + 3000 communication; the communication line affords one.
    setup.appropriate_budget(
        county=LIANSHUI, year=2026, lines={"transport": 10_000, "communication": 4_000}, by=FINANCE_A
    )
    before = event_count(setup)

    barrier = threading.Barrier(2)
    racers = [open_racing(store_url, clock, barrier) for _ in claims]
    outcomes = run_in_threads(
        lambda: racers[0].approve_claim(claims[0], by=FINANCE_A),
        lambda: racers[1].approve_claim(claims[1], by=FINANCE_B),
    )
    for racer in racers:
        racer.close()

    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(losers) == 1 and isinstance(losers[0], ConflictError), outcomes
    fresh = open_store(store_url)
    statuses = sorted(fresh.repository.get(c).status for c in claims)
    assert statuses == [ClaimStatus.APPROVED, ClaimStatus.SUBMITTED]
    budget = fresh.repository.get(budget_id(LIANSHUI, 2026))
    assert isinstance(budget, Budget)
    assert budget.committed == {"transport": 2000, "communication": 3000}
    # Exactly one approval's events: Approved + two Committed. Nothing lost, nothing doubled.
    assert event_count(fresh) == before + 3

    loser = next(c for c in claims if fresh.repository.get(c).status == ClaimStatus.SUBMITTED)
    try:
        fresh.approve_claim(loser, by=FINANCE_B)
    except RuleViolation as refused:
        assert refused.rule == "budget.overdrawn"
    else:
        raise AssertionError("the retried approval should find the budget exhausted")


def test_many_approvals_in_parallel_commit_exactly_what_the_budget_allows(
    store_url: str, open_store: Callable[[str], Ledger], clock: Clock
) -> None:
    setup = open_store(store_url)
    claims = [claim_of_february(setup, make_pair(setup, n), visits=1) for n in range(1, 9)]
    # 8 claims of 1000 transport + 3000 communication; communication affords 5 of them.
    setup.appropriate_budget(
        county=LIANSHUI, year=2026, lines={"transport": 100_000, "communication": 15_000}, by=FINANCE_A
    )
    workers = [open_ledger(store_url, clock=clock, master_key=MASTER_KEY) for _ in range(4)]

    def approve_all(worker: Ledger, mine: list[Any]) -> None:
        for claim_id in mine:
            while True:
                try:
                    worker.approve_claim(claim_id, by=FINANCE_B)
                except ConflictError:
                    continue  # someone else committed first: reload and decide again
                except RuleViolation:
                    pass  # budget exhausted: the claim stays submitted
                break

    run_in_threads(*[lambda w=w, i=i: approve_all(w, claims[i::4]) for i, w in enumerate(workers)])
    for w in workers:
        w.close()

    fresh = open_store(store_url)
    approved = [c for c in claims if status_of(fresh, c) == ClaimStatus.APPROVED]
    budget = fresh.repository.get(budget_id(LIANSHUI, 2026))
    assert isinstance(budget, Budget)
    assert len(approved) == 5
    assert budget.committed == {"transport": 5000, "communication": 15_000}
    assert budget.committed["communication"] <= budget.appropriated["communication"]


def status_of(ledger: Ledger, claim_id: Any) -> str:
    claim = ledger.repository.get(claim_id)
    assert isinstance(claim, Claim)
    return claim.status


def test_two_claims_racing_for_one_visit_collide_in_the_store(
    store_url: str, open_store: Callable[[str], Ledger], clock: Clock
) -> None:
    setup = open_store(store_url)
    pair = make_pair(setup, 1)
    visit = visit_at(setup, pair, datetime(2026, 2, 9, 1, 0, tzinfo=UTC))
    before = event_count(setup)

    barrier = threading.Barrier(2)
    racers = [open_racing(store_url, clock, barrier) for _ in range(2)]
    outcomes = run_in_threads(
        *[
            lambda r=r: r.submit_claim(
                volunteer_id=pair.volunteer_id, month="2026-02", visit_ids=[visit], by=as_volunteer(pair.volunteer_id)
            )
            for r in racers
        ]
    )
    for racer in racers:
        racer.close()

    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "Written"], outcomes
    fresh = open_store(store_url)
    guard = fresh.repository.get(claimed_visit_id(visit))
    winner = next(o for o in outcomes if isinstance(o, Written))
    assert isinstance(guard, ClaimedVisit) and guard.claim_id == winner.id
    # One claim's events only: Submitted, allowance Opened + Drawn, ClaimedVisit Claimed.
    assert event_count(fresh) == before + 4
