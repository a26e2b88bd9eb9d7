"""Store faults told fast: readiness reflects writes the store refuses, health answers while PostgreSQL is away,
and writes work again once it is back.

A full disk on both stores (:func:`tests.faults.disk_full`); PostgreSQL that swallows packets or
refuses connections through a proxy the test cuts (:class:`tests.faults.TcpProxy`). No timing is
asserted: each check is a behaviour ("answers 503 store-unavailable", "a write succeeds again");
the times it took are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

import api.routers.ops as ops
from ledger.application import Ledger
from ledger.errors import StoreUnavailable
from tests.builders import COORDINATOR
from tests.conftest import Clock
from tests.faults import disk_full, proxy_to
from tests.harness import Harness, harness

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def fresh_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every probe reads the store (the status is otherwise kept for a second)."""
    monkeypatch.setattr(ops, "STATUS_TTL", 0.0)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until ``condition`` held (failing after a generous ``timeout``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def problem_type(response: Any) -> str:
    assert response.headers["content-type"] == PROBLEM, response.text
    return str(response.json()["type"].rsplit("/", 1)[-1])


def series(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name} in:\n{text}"
    return float(found.group(1))


class Writer:
    """Relocates one elder, again and again: one small write each time."""

    def __init__(self, api: Harness) -> None:
        self.api = api
        self.elder_id = api.staff.elder()
        self.count = 0

    def __call__(self) -> Any:
        self.count += 1
        body = {"township": "高沟镇", "address": f"新地址 {self.count} 号"}
        return self.api.client.post(
            f"/v1/elders/{self.elder_id}/relocation", json=body, headers=self.api.staff.auth("coordinator")
        )


def ready(api: Harness) -> bool:
    return bool(api.client.get("/readyz").status_code == 200)


# A full disk, on both stores ---------------------------------------------------------------------


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    """The API with its read models running in-process, so that it can be ready on either store."""
    with harness(store_url, clock=clock, projections=True) as made:
        made.staff.pair(date(2026, 1, 1))
        yield made


def test_readiness_says_writes_fail_while_the_store_refuses_them_and_recovers_when_it_takes_them(
    api: Harness, store_url: str
) -> None:
    write = Writer(api)
    assert write().status_code == 200
    wait_for(lambda: ready(api))
    with disk_full(store_url, api.ledger):
        for _ in range(100):  # a SQLite file may still have room in its last pages for a few
            refused = write()
            if refused.status_code != 200:
                break
        assert refused.status_code == 503 and problem_type(refused) == "store-unavailable"
        assert "新地址" not in refused.text
        for _ in range(2):  # each probe tries a write (rolled back): it fails too
            answer = api.client.get("/readyz")
            assert answer.status_code == 503 and problem_type(answer) == "writes-failing", answer.text
            assert answer.json()["writes_failing_since"] and answer.headers["Retry-After"]
            assert "no space" not in answer.text.lower() and "disk is full" not in answer.text  # no reason off-host
        told = api.client.get("/readyz", headers=api.staff.auth("auditor")).json()
        assert "probe write failed" in told["detail"]
        metrics = api.client.get("/metrics", headers=api.staff.auth("auditor")).text
        assert series(metrics, "tiexin_store_writes_failing") == 1 and series(metrics, "tiexin_ready") == 0
        assert series(metrics, "tiexin_store_up") == 1  # reads go on
    recovered = wait_for(lambda: ready(api))  # a probe write succeeds
    assert write().status_code == 200
    metrics = api.client.get("/metrics", headers=api.staff.auth("auditor")).text
    assert series(metrics, "tiexin_store_writes_failing") == 0
    print(f"\nready again {recovered:.2f} s after the store had room")


# PostgreSQL away and back -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("away", ["blackhole", "refuse"])
def test_health_answers_while_postgresql_is_away_and_writes_recover_when_it_returns(
    postgres_url: str, clock: Clock, away: str
) -> None:
    """``blackhole``: a host that accepts and never answers; ``refuse``: nothing listens on the port."""
    with proxy_to(postgres_url) as proxy, harness(proxy.url(postgres_url), clock=clock, projections=True) as api:
        api.staff.pair(date(2026, 1, 1))
        write = Writer(api)
        assert write().status_code == 200
        wait_for(lambda: ready(api))
        loopback = TestClient(api.app, client=("127.0.0.1", 40000))  # /metrics needs no key there

        getattr(proxy, away)()
        timings = []
        for _ in range(3):
            started = time.monotonic()
            answer = api.client.get("/readyz")
            timings.append(time.monotonic() - started)
            assert answer.status_code == 503 and problem_type(answer) == "store-unavailable", answer.text
            assert answer.headers["Retry-After"]
            started = time.monotonic()
            metrics = loopback.get("/metrics")
            timings.append(time.monotonic() - started)
            assert metrics.status_code == 200
            assert series(metrics.text, "tiexin_store_up") == 0 and series(metrics.text, "tiexin_ready") == 0
        assert api.client.get("/healthz").status_code == 200
        started = time.monotonic()
        refused = write()
        refused_after = time.monotonic() - started
        assert refused.status_code == 503 and problem_type(refused) == "store-unavailable"
        assert refused.headers["Retry-After"] and "新地址" not in refused.text

        proxy.restore()
        recovered = wait_for(lambda: write().status_code == 200)
        ready_again = wait_for(lambda: ready(api))
        print(
            f"\n{away}: /readyz and /metrics answered in {min(timings):.2f}–{max(timings):.2f} s; a write was refused "
            f"after {refused_after:.2f} s; writes worked {recovered:.2f} s after PostgreSQL returned, ready "
            f"{ready_again:.2f} s later"
        )


@pytest.mark.postgres
def test_a_command_that_finds_no_connection_waits_for_the_pool_once(
    postgres_url: str, open_store: Callable[[str], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library retries a failed statement ten times; a pool that timed out is not retried
    (each retry waited the pool's whole timeout again: a write hung ten timeouts, ~52 s)."""
    ledger = open_store(postgres_url)
    assert isinstance(ledger.recorder, PostgresApplicationRecorder)
    pool = ledger.recorder.datastore.pool
    waits = []

    def no_connection(timeout: float | None = None) -> Any:
        waits.append(timeout)
        raise PoolTimeout("couldn't get a connection after 5.00 sec")

    monkeypatch.setattr(pool, "getconn", no_connection)
    with pytest.raises(StoreUnavailable, match="couldn't get a connection"):
        ledger.relocate_elder(uuid4(), township="高沟镇", address="新地址 1 号", by=COORDINATOR)
    assert len(waits) == 1
