"""HTTP throughput and latency of the API beside the framework's ceiling, measured in one run.

Run as ``python -m bench.http [--seconds 5] [--rounds 3] [--connections 4]``. It builds the demo
county in a temporary SQLite store, starts ``bench.http_server`` (our app under uvicorn, plus a
bare FastAPI endpoint served by the same process: the ceiling of any endpoint there) on a
loopback port, and drives, from a separate load-generator process with keep-alive connections:

- ``GET /bench/bare``     the bare endpoint, no auth, no store;
- ``GET /v1/roster``      a page of the roster read model, with a coordinator's key;
- ``POST /v1/visits``     recording a visit, with a volunteer's key (a new visit each time);
- ``GET /v1/roster`` again with ``Cache-Control: no-cache``: the page computed from the view
  each time, as after every write that moves the roster (kept answers: :mod:`api.answers`).

Rounds alternate the four so load from elsewhere on this shared machine hits them alike. It
prints requests/s and p50/p99 latency per round and overall; the last line gives each of ours
as a ratio to the bare endpoint's requests/s, and the GET's p99.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import BENCH_MASTER_KEY
from tiexin.demo.generator import run_demo


@dataclass(frozen=True)
class Target:
    label: str
    method: str
    path: str
    token: str | None = None
    pairing_id: str | None = None
    no_cache: bool = False
    """Send ``Cache-Control: no-cache``: the answer is computed from the view, not a kept one."""


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    sample_failure: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0

    def add(self, other: Result) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.failures += other.failures
        self.latencies.extend(other.latencies)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.sample_failure = self.sample_failure or other.sample_failure


VISIT_EPOCH = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
"""Room for about 22,000 visits, 21 minutes apart, before the end of November 2026."""


def visit_body(pairing_id: str, index: int) -> bytes:
    """A new 20-minute home visit, each later than the last, so none overlaps another."""
    start = VISIT_EPOCH + timedelta(minutes=21 * index)
    return json.dumps(
        {
            "pairing_id": pairing_id,
            "kind": "medical",
            "services": ["blood_pressure"],
            "readings": {"systolic": 130, "diastolic": 80},
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=20)).isoformat(),
            "township": "高沟镇",
            "distance_band": "at_home",
            "travel_km": 2.5,
            "gift_bag": False,
        }
    ).encode()


def load(port: int, target: Target, seconds: float, connections: int, first_index: int) -> Result:
    """Drive one target from ``connections`` keep-alive connections for ``seconds`` (a separate process)."""
    counter = itertools.count(first_index)
    lock = threading.Lock()
    total = Result()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine = Result()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        if target.no_cache:
            headers["Cache-Control"] = "no-cache"
        while time.perf_counter() < deadline:
            body = visit_body(target.pairing_id or "", next(counter)) if target.method == "POST" else None
            started = time.perf_counter()
            conn.request(target.method, target.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            mine.latencies.append(time.perf_counter() - started)
            mine.requests += 1
            mine.statuses[response.status] = mine.statuses.get(response.status, 0) + 1
            if response.status >= 400:
                mine.failures += 1
                mine.sample_failure = mine.sample_failure or payload.decode(errors="replace")[:300]
        conn.close()
        with lock:
            total.add(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total.seconds = time.perf_counter() - began
    return total


def connections_slack(connections: int) -> int:
    """Indexes a round may have taken without counting them (requests cut off at its deadline)."""
    return 10 * connections


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tiexin(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def request(port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = json.loads(response.read() or b"null")
    conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {payload}")
    return payload


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.http_server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bench server did not start")


def set_up_volunteer(env: dict[str, str], port: int, coordinator: str) -> tuple[str, str]:
    """A new volunteer paired with a new elder: (the volunteer's key, the pairing id)."""
    elder = request(
        port, "POST", "/v1/elders", coordinator,
        {"name": "压测老人", "birth_date": "1936-03-01", "sex": "male", "township": "高沟镇",
         "address": "高沟镇压测路1号", "phone": "13800000000"},
    )  # fmt: skip
    volunteer = request(
        port, "POST", "/v1/volunteers", coordinator,
        {"name": "压测志愿者", "unit": "涟水县人民医院", "profession": "nurse", "phone": "13900000000",
         "township": "高沟镇"},
    )  # fmt: skip
    pairing = request(
        port, "POST", "/v1/pairings", coordinator,
        {"volunteer_id": volunteer["id"], "elder_id": elder["id"], "group": "压测组", "from_date": "2025-12-01"},
    )  # fmt: skip
    key = tiexin(
        env, "keys", "create", "--role", "volunteer", "--name", "bench-volunteer", "--volunteer", volunteer["id"]
    )
    return key, pairing["id"]


def report(label: str, result: Result) -> None:
    failed = f"  (statuses {dict(sorted(result.statuses.items()))}: {result.sample_failure})" if result.failures else ""
    print(
        f"{label:<22} {result.per_second:>8,.0f} req/s   p50 {result.percentile(0.5):6.2f} ms   "
        f"p99 {result.percentile(0.99):6.2f} ms{failed}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tiexin-bench-http-") as directory:
        url = f"sqlite:///{Path(directory) / 'tiexin.db'}"
        summary = run_demo(url, seed=1, master_key=BENCH_MASTER_KEY)
        print(f"demo store: {summary.total_events:,} events", flush=True)
        env = {
            **os.environ,
            "TIEXIN_DATABASE_URL": url,
            "TIEXIN_MASTER_KEY": base64.b64encode(BENCH_MASTER_KEY).decode(),
        }
        coordinator = tiexin(env, "keys", "create", "--role", "coordinator", "--name", "bench-coordinator")
        port = free_port()
        server = start_server(env, port)
        try:
            volunteer, pairing = set_up_volunteer(env, port, coordinator)
            targets = [
                Target("bare GET /bench/bare", "GET", "/bench/bare"),
                Target("GET /v1/roster", "GET", "/v1/roster?limit=50", coordinator),
                Target("POST /v1/visits", "POST", "/v1/visits", volunteer, pairing),
                Target("GET /v1/roster no-cache", "GET", "/v1/roster?limit=50", coordinator, no_cache=True),
            ]
            totals = {t.label: Result() for t in targets}
            with ProcessPoolExecutor(max_workers=1) as pool:
                pool.submit(load, port, targets[0], 1.0, args.connections, 0).result()  # warm up
                next_visit = 0
                for number in range(1, args.rounds + 1):
                    for target in targets:
                        result = pool.submit(load, port, target, args.seconds, args.connections, next_visit).result()
                        if target.method == "POST":
                            next_visit += result.requests + connections_slack(args.connections)
                        report(f"round {number} {target.label}", result)
                        totals[target.label].add(result)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for label, result in totals.items():
        report(f"all {label}", result)
    bare, roster, visits, uncached = (totals[t.label] for t in targets)
    print(
        f"ratio to bare: GET /v1/roster {roster.per_second / bare.per_second:.2f} "
        f"POST /v1/visits {visits.per_second / bare.per_second:.2f} "
        f"(GET p99 {roster.percentile(0.99):.1f} ms; computed afresh: {uncached.per_second / bare.per_second:.2f}, "
        f"p99 {uncached.percentile(0.99):.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
