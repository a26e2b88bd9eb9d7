"""PostgreSQL away and back, through real HTTP: `tiexin serve` (uvicorn) on a proxy the test cuts and restores.

While the store swallows packets or refuses connections, and while requests hang on it and fill
the server's worker threads, ``/readyz`` still answers 503 ``store-unavailable`` and ``/metrics``
still answers; every write made while it is away is answered 503 within seconds (the store's
bounds, :mod:`ledger.settings`); once the store is back, a write succeeds again. No timing is
asserted beyond generous client timeouts (a hang fails the test); the times are printed (``pytest -s``).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api.routers.ops import STATUS_TTL
from tests.builders import as_json, elder_fields
from tests.conftest import fresh_postgres_schema
from tests.e2e.test_api_year import Server, serving
from tests.faults import TcpProxy, proxy_to

pytestmark = pytest.mark.postgres

PROBLEM = "application/problem+json"
HANGING_WRITES = 60
"""More than the server's request threads (40): the store's faults must not starve the probes."""
HANGING_TIMEOUT = 30.0
"""Each write while the store is away must be answered within this (s): several times the store's 5 s
bounds, for the writes queued behind the server's 40 request threads and a loaded machine."""


@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, TcpProxy]]:
    monkeypatch.setenv("TIEXIN_PROJECTIONS", "in-process")
    with fresh_postgres_schema("e2e") as url, proxy_to(url) as proxy, serving(proxy.url(url), tmp_path) as server:
        yield server, proxy


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def timed(call: Callable[[], httpx2.Response]) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def store_up(text: str) -> float:
    found = re.search(r"^tiexin_store_up (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


@pytest.mark.parametrize("away", ["blackhole", "refuse"])
def test_health_answers_and_writes_recover_through_uvicorn(proxied: tuple[Server, TcpProxy], away: str) -> None:
    server, proxy = proxied
    token = server.key("coordinator", "coordinator")
    probes = httpx2.Client(base_url=server.base, timeout=10)  # generous: the store's own timeouts are 5 s
    writes = httpx2.Client(base_url=server.base, timeout=60, headers={"Authorization": f"Bearer {token}"})
    elder = writes.post("/v1/elders", json=as_json(elder_fields(1)))
    assert elder.status_code == 201, elder.text
    count = iter(range(10**6))

    def relocate(client: httpx2.Client = writes) -> httpx2.Response:
        body = {"township": "高沟镇", "address": f"新地址 {next(count)} 号"}
        return client.post(f"/v1/elders/{elder.json()['id']}/relocation", json=body)

    wait_for(lambda: probes.get("/readyz").status_code == 200)

    getattr(proxy, away)()
    hanging: list[Any] = []  # each write's status, or the error that ended it (a timeout: a hang)
    slowest = 0.0

    def hang() -> None:
        nonlocal slowest
        headers = {"Authorization": f"Bearer {token}"}
        with httpx2.Client(base_url=server.base, timeout=HANGING_TIMEOUT, headers=headers) as own:
            try:
                answer, took = timed(lambda: relocate(own))
            except Exception as error:  # a failure to record, not to lose with the thread
                hanging.append(repr(error))
                return
            slowest = max(slowest, took)
            hanging.append(answer.status_code if answer.headers.get("content-type") == PROBLEM else answer.text)

    threads = [threading.Thread(target=hang, daemon=True) for _ in range(HANGING_WRITES)]
    for thread in threads:
        thread.start()
    # The status is read at most once a second (STATUS_TTL): the answer read before the cut may stand that long.
    noticed = wait_for(lambda: probes.get("/readyz").status_code == 503, timeout=10 * STATUS_TTL)
    timings = []
    for _ in range(5):
        answer, took = timed(lambda: probes.get("/readyz"))
        timings.append(took)
        assert answer.status_code == 503 and answer.headers["content-type"] == PROBLEM, answer.text
        assert answer.json()["type"].endswith("/store-unavailable") and answer.headers["Retry-After"]
        metrics, took = timed(lambda: probes.get("/metrics"))
        timings.append(took)
        assert metrics.status_code == 200 and store_up(metrics.text) == 0
    for thread in threads:
        thread.join(timeout=2 * HANGING_TIMEOUT)
    assert len(hanging) == HANGING_WRITES and set(hanging) == {503}, hanging  # each told, none lost

    proxy.restore()
    recovered = wait_for(lambda: relocate().status_code == 200)
    ready_again = wait_for(lambda: probes.get("/readyz").status_code == 200)
    print(
        f"\n{away} (uvicorn, {HANGING_WRITES} writes hanging): noticed after {noticed:.2f} s; "
        f"/readyz and /metrics answered in "
        f"{min(timings):.2f}–{max(timings):.2f} s; the writes hanging on it answered 503 within {slowest:.2f} s; "
        f"writes worked {recovered:.2f} s after PostgreSQL returned, "
        f"ready {ready_again:.2f} s later"
    )
    probes.close()
    writes.close()
