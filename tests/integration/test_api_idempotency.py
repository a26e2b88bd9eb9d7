"""Idempotency-Key: the same request again gets the first answer and writes nothing, even across races and crashes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from api.idempotency import IdempotencyStore
from ledger.errors import StoreUnavailable
from tests.builders import visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
ELDER = {
    "name": "王德明",
    "birth_date": "1931-04-12",
    "sex": "male",
    "township": "高沟镇",
    "address": "高沟镇幸福路12号",
    "phone": "13805170000",
}


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        yield made


def post(api: Harness, path: str, body: Any, who: str, key: str, **headers: str) -> Any:
    return api.client.post(path, json=body, headers=api.staff.auth(who, Idempotency_Key=key, **headers))


def test_the_same_request_again_gets_the_first_answer_and_writes_nothing(api: Harness) -> None:
    first = post(api, "/v1/elders", ELDER, "coordinator", "reg-1")
    after_first = api.events()
    again = post(api, "/v1/elders", ELDER, "coordinator", "reg-1")
    reordered = api.client.post(
        "/v1/elders",
        content=json.dumps(dict(reversed(ELDER.items())), indent=3).encode(),
        headers={**api.staff.auth("coordinator", Idempotency_Key="reg-1"), "content-type": "application/json"},
    )
    assert first.status_code == again.status_code == reordered.status_code == 201
    assert first.json() == again.json() == reordered.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"] and again.headers["ETag"] == first.headers["ETag"]
    assert api.events() == after_first


def test_the_same_key_with_another_body_is_409_and_writes_nothing(api: Harness) -> None:
    post(api, "/v1/elders", ELDER, "coordinator", "reg-2")
    before = api.events()
    other = post(api, "/v1/elders", {**ELDER, "name": "王德亮"}, "coordinator", "reg-2")
    assert other.status_code == 409 and other.json()["rule"] == "idempotency.key_reused"
    volunteer = {"name": "李", "unit": "u", "profession": "nurse", "phone": "1", "township": "高沟镇"}
    elsewhere = post(api, "/v1/volunteers", volunteer, "coordinator", "reg-2")
    assert elsewhere.status_code == 409 and elsewhere.json()["rule"] == "idempotency.key_reused"
    assert api.events() == before


def test_keys_belong_to_their_principal(api: Harness) -> None:
    other = api.key_store.create(role="coordinator", name="coordinator-2")[0]
    first = post(api, "/v1/elders", ELDER, "coordinator", "shared-key")
    second = post(api, "/v1/elders", ELDER, other, "shared-key")
    assert first.status_code == second.status_code == 201 and first.json()["id"] != second.json()["id"]


def test_a_refused_request_leaves_the_key_free_for_the_corrected_one(api: Harness) -> None:
    wrong = post(api, "/v1/elders", {**ELDER, "township": "纽约"}, "coordinator", "reg-3")
    assert wrong.status_code == 409 and wrong.json()["rule"] == "county.unknown_township"
    right = post(api, "/v1/elders", ELDER, "coordinator", "reg-3")
    assert right.status_code == 201 and "Idempotent-Replayed" not in right.headers


def test_the_first_answer_survives_a_restart(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock) as api:
        first = post(api, "/v1/elders", ELDER, "coordinator", "reg-4")
        token = api.keys["coordinator"]
    with harness(store_url, clock=clock, keys_named="again") as api:
        api.keys["coordinator"] = token
        again = post(api, "/v1/elders", ELDER, "coordinator", "reg-4")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_answers_older_than_the_retention_are_forgotten_at_startup(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock) as api:
        first = post(api, "/v1/elders", ELDER, "coordinator", "reg-8")
        token = api.keys["coordinator"]
    with harness(store_url, clock=clock, keys_named="again", idempotency_retention=0.0) as api:
        api.keys["coordinator"] = token
        anew = post(api, "/v1/elders", ELDER, "coordinator", "reg-8")
    assert anew.status_code == 201 and anew.json()["id"] != first.json()["id"]


def slow(api: Harness, monkeypatch: Any, name: str, seconds: float) -> None:
    """Make a command of the app's ledger take ``seconds`` before it runs."""
    command = getattr(api.ledger, name)

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return command(*args, **kwargs)

    monkeypatch.setattr(api.ledger, name, slowly)


def in_threads(*jobs: Any) -> list[Any]:
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        results[i] = jobs[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for i, thread in enumerate(threads):
        thread.start()
        time.sleep(0.05 * (i == 0))  # the first is under way before the second arrives
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_identical_requests_racing_write_once_and_answer_alike(api: Harness, monkeypatch: Any) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    key = api.volunteer_key(volunteer_id)
    slow(api, monkeypatch, "record_visit", 0.4)
    before = api.events()
    body = visit_body(pairing_id, FEB)
    one, two = in_threads(
        lambda: post(api, "/v1/visits", body, key, "visit-1"), lambda: post(api, "/v1/visits", body, key, "visit-1")
    )
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    # Which one got there first is up to the scheduler on a loaded machine; exactly one is the replay.
    replayed = sorted(response.headers.get("Idempotent-Replayed", "") for response in (one, two))
    assert replayed == ["", "true"]
    assert api.events() == before + 1


def test_a_repeat_that_cannot_wait_for_the_first_is_told_it_is_in_progress(
    store_url: str, clock: Clock, monkeypatch: Any
) -> None:
    with harness(store_url, clock=clock, idempotency_wait=0.1) as api:
        slow(api, monkeypatch, "register_elder", 1.0)
        one, two = in_threads(
            lambda: post(api, "/v1/elders", ELDER, "coordinator", "reg-5"),
            lambda: post(api, "/v1/elders", ELDER, "coordinator", "reg-5"),
        )
        assert one.status_code == 201
        assert two.status_code == 409 and two.json()["rule"] == "idempotency.in_progress"
        assert two.headers["Retry-After"] == "1"
        assert post(api, "/v1/elders", ELDER, "coordinator", "reg-5").json() == one.json()


def test_a_write_whose_answer_was_lost_is_found_in_the_log(store_url: str, clock: Clock, monkeypatch: Any) -> None:
    """The process wrote the events but died before keeping the answer: the retry finds the write."""
    with harness(store_url, clock=clock, idempotency_lease=0.2, idempotency_wait=0.05) as api:

        def crash(*args: Any, **kwargs: Any) -> None:
            raise SystemError("the process died here")

        monkeypatch.setattr(IdempotencyStore, "_complete", crash)
        lost = post(api, "/v1/elders", ELDER, "coordinator", "reg-6")
        assert lost.status_code == 500
        monkeypatch.undo()
        written = api.events()

        pending = post(api, "/v1/elders", ELDER, "coordinator", "reg-6")
        assert pending.status_code == 409 and pending.json()["rule"] == "idempotency.in_progress"
        time.sleep(0.25)
        found = post(api, "/v1/elders", ELDER, "coordinator", "reg-6")
        assert found.status_code == 201 and found.headers["Idempotent-Replayed"] == "true"
        assert found.headers["Location"] == f"/v1/elders/{found.json()['id']}"
        [event] = api.ledger.events.get(UUID(found.json()["id"]))
        assert event.meta.idempotency_key == "reg-6"  # type: ignore[attr-defined]
        assert found.json()["position"] == written and api.events() == written
        assert post(api, "/v1/elders", ELDER, "coordinator", "reg-6").json() == found.json()


def test_a_write_that_never_happened_is_run_once_the_lease_is_over(
    store_url: str, clock: Clock, monkeypatch: Any
) -> None:
    """The store failed with the outcome unknown; the log shows nothing was written, so the retry writes."""
    with harness(store_url, clock=clock, idempotency_lease=0.2, idempotency_wait=0.05) as api:

        def unavailable(**kwargs: Any) -> Any:
            raise StoreUnavailable("the event store is unavailable: connection reset")

        with monkeypatch.context() as patch:
            patch.setattr(api.ledger, "register_elder", unavailable)
            assert post(api, "/v1/elders", ELDER, "coordinator", "reg-7").status_code == 503
        before = api.events()
        assert post(api, "/v1/elders", ELDER, "coordinator", "reg-7").status_code == 409
        time.sleep(0.25)
        retried = post(api, "/v1/elders", ELDER, "coordinator", "reg-7")
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
        assert api.events() == before + 1
        assert post(api, "/v1/elders", ELDER, "coordinator", "reg-7").json() == retried.json()
