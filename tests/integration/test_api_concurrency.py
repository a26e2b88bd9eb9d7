"""ETag and If-Match: a write on a stale view is 412; racing writes are one 200 and one 409, nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.settings import store_env
from tests.builders import MASTER_KEY
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        yield made


def test_reads_carry_the_version_as_etag_and_writes_answer_the_next_one(api: Harness) -> None:
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    api.staff.post("/v1/budgets/2026", {"lines": {"transport": 10**6, "communication": 10**6}}, "finance")
    claim_id = api.staff.post(
        "/v1/claims", {"month": "2026-02", "visit_ids": [visit_id]}, api.volunteer_key(volunteer_id)
    )["id"]
    for path in (
        f"/v1/elders/{elder_id}",
        f"/v1/volunteers/{volunteer_id}",
        f"/v1/visits/{visit_id}",
        f"/v1/claims/{claim_id}",
    ):
        read = api.client.get(path, headers=api.staff.auth("coordinator"))
        assert read.status_code == 200 and read.headers["ETag"] == f'"{read.json()["version"]}"', path
    approved = api.client.post(f"/v1/claims/{claim_id}/approval", headers=api.staff.auth("finance", If_Match='"1"'))
    assert approved.status_code == 200 and approved.headers["ETag"] == '"2"'
    assert api.client.get(f"/v1/claims/{claim_id}", headers=api.staff.auth("finance")).headers["ETag"] == '"2"'


def test_a_write_on_a_stale_version_is_412_and_writes_nothing(api: Harness) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    seen = api.client.get(f"/v1/visits/{visit_id}", headers=api.staff.auth("coordinator")).headers["ETag"]
    assert seen == '"2"'
    feedback = {"rating": 4}
    first = api.client.post(
        f"/v1/visits/{visit_id}/feedback", json=feedback, headers=api.staff.auth("coordinator", If_Match=seen)
    )
    assert first.status_code == 200 and first.headers["ETag"] == '"3"'
    before = api.events()
    stale = api.client.post(
        f"/v1/visits/{visit_id}/dispute",
        json={"reason_code": "too_short"},
        headers=api.staff.auth("coordinator", If_Match=seen),
    )
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_version"] == 3
    assert api.events() == before
    anyway = api.client.post(
        f"/v1/visits/{visit_id}/dispute",
        json={"reason_code": "too_short"},
        headers=api.staff.auth("coordinator", If_Match="*"),
    )
    assert anyway.status_code == 200


def test_if_match_is_for_writes_on_an_existing_record(api: Harness) -> None:
    body = {"name": "李", "unit": "u", "profession": "nurse", "phone": "1", "township": "高沟镇"}
    response = api.client.post("/v1/volunteers", json=body, headers=api.staff.auth("coordinator", If_Match='"1"'))
    assert response.status_code == 400 and response.json()["field"] == "If-Match"
    budget = api.client.post(
        "/v1/budgets/2026/adjustments",
        json={"line": "transport", "delta": 1, "reason": "r"},
        headers=api.staff.auth("finance", If_Match='"1"'),
    )
    assert budget.status_code == 404


def test_the_budget_line_adjustment_honours_if_match_on_the_year(api: Harness) -> None:
    written = api.staff.post("/v1/budgets/2026", {"lines": {"transport": 100, "communication": 100}}, "finance")
    adjust = {"line": "transport", "delta": 50, "reason": "追加"}
    ok = api.client.post(
        "/v1/budgets/2026/adjustments",
        json=adjust,
        headers=api.staff.auth("finance", If_Match=f'"{written["version"]}"'),
    )
    assert ok.status_code == 200 and ok.json()["id"] == written["id"]
    stale = api.client.post(
        "/v1/budgets/2026/adjustments",
        json=adjust,
        headers=api.staff.auth("finance", If_Match=f'"{written["version"]}"'),
    )
    assert stale.status_code == 412


class RacingLedger(Ledger):
    """The app's ledger, holding each save at a barrier so two commands decide on the same version."""

    barrier: threading.Barrier

    def _save_now(self, *aggregates: Any) -> list[Any]:
        self.barrier.wait(timeout=10)
        return super()._save_now(*aggregates)


@pytest.mark.parametrize("with_if_match", [False, True])
def test_two_racing_writes_on_one_record_are_one_success_and_one_409(
    api: Harness, store_url: str, clock: Clock, with_if_match: bool
) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    racing = RacingLedger(store_env(store_url), master_key=MASTER_KEY, clock=clock)
    racing.barrier = threading.Barrier(2)
    calm, api.services.ledger = api.services.ledger, racing
    headers = api.staff.auth("coordinator", **({"If_Match": '"2"'} if with_if_match else {}))
    results: list[Any] = [None, None]

    def send(i: int, path: str, body: dict[str, Any]) -> None:
        results[i] = api.client.post(path, json=body, headers=headers)

    threads = [
        threading.Thread(target=send, args=(0, f"/v1/visits/{visit_id}/feedback", {"rating": 5})),
        threading.Thread(target=send, args=(1, f"/v1/visits/{visit_id}/dispute", {"reason_code": "wrong_time"})),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        api.services.ledger = calm
        racing.close()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    [loser] = [r for r in results if r.status_code == 409]
    assert loser.json()["rule"] == "concurrency.conflict"
    visit = api.client.get(f"/v1/visits/{visit_id}", headers=api.staff.auth("coordinator")).json()
    assert visit["version"] == 3
