"""HTTP throughput and latency of the API beside the framework's ceilings, measured in one run.

Run as ``python -m bench.http [--seconds 5] [--rounds 3] [--connections 4] [--store sqlite|postgresql]
[--workers N]``. It builds the demo county in a temporary store (a SQLite file, or a fresh schema of
the PostgreSQL at ``TIEXIN_BENCH_POSTGRES_URL``), starts ``bench.http_server`` (our app under
uvicorn, plus two bare endpoints served by the same process: the ceilings of any endpoint there) on
a loopback port, and drives, from a separate load-generator process with keep-alive connections:

- ``GET /bench/bare``     the bare endpoint, no auth, no store;
- ``GET /v1/roster``      a page of the roster read model, with a coordinator's key;
- ``POST /bench/append``  the bare durable write: one pre-encoded ``Visit.Recorded`` of a new visit
  inserted by the library's recorder, one transaction per request (:mod:`bench.http_server`);
- ``POST /v1/visits``     recording a visit, with a volunteer's key (a new visit each time);
- ``GET /v1/roster`` again with ``Cache-Control: no-cache``: the page computed from the view
  each time, as after every write that moves the roster (kept answers: :mod:`api.answers`);
- a mix of 9 ``GET /v1/roster`` to 1 ``POST /v1/visits`` on each connection, which also checks
  that reads follow writes: a GET started more than :data:`FRESH_WITHIN` seconds after a POST
  was answered must reflect a position (``X-Tiexin-Position``) at least that POST's; any other
  is counted stale, with its age (how long after that POST's answer it started).

Rounds alternate the targets so load from elsewhere on this shared machine hits them alike. It
prints requests/s and p50/p99 latency per round and overall; the last line gives each of ours
as a ratio to its ceiling (reads to the bare GET, ``POST /v1/visits`` to the bare append), the
p99s, the stale reads, each against its goal ("met" / "not met").

On SQLite the server runs one worker with the read models in its process. On PostgreSQL the read
models run in a separate ``tiexin projections run`` process, and the server runs with one worker,
then with ``--workers`` (default 2) in the same run: the writes are measured under both, and the
last line adds the ratio of ``POST /v1/visits`` with N workers to with one.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import BENCH_MASTER_KEY, temp_store
from tiexin.demo.generator import run_demo

FRESH_WITHIN = 0.1
"""A read started this long (s) after a write was answered must reflect it."""
MIX = 10
"""Of each ``MIX`` requests of the mixed load, one is a POST (the last), the others GETs."""
GOALS = {
    "post": 0.5, "post_p99": 25.0, "fresh": 0.3, "fresh_p99": 15.0, "mixed": 0.4, "workers": 1.5,
}  # fmt: skip
"""POST /v1/visits ≥ 0.5 of the bare append, its p99 < 25 ms; a roster page computed afresh ≥ 0.3 of the
bare GET, p99 < 15 ms; the mixed load ≥ 0.4 of the bare GET; N workers' POSTs ≥ 1.5× one worker's."""


@dataclass(frozen=True)
class Target:
    label: str
    method: str
    path: str
    token: str | None = None
    pairing_id: str | None = None
    no_cache: bool = False
    """Send ``Cache-Control: no-cache``: the answer is computed from the view, not a kept one."""
    mixed_path: str | None = None
    """A mixed load: ``MIX - 1`` GETs of this path, then one ``method`` of ``path`` (each connection)."""
    mixed_token: str | None = None
    """The key the mixed load's GETs are sent with."""


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    sample_failure: str = ""
    posts: int = 0
    """Visits posted (each took an index)."""
    writes: list[tuple[float, int]] = field(default_factory=list)
    """Of a mixed load: each POST's (when answered, its log position)."""
    reads: list[tuple[float, int]] = field(default_factory=list)
    """Of a mixed load: each GET's (when sent, the position its answer reflects)."""

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
        self.posts += other.posts
        self.writes.extend(other.writes)
        self.reads.extend(other.reads)
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
        read_headers = {**headers, "Authorization": f"Bearer {target.mixed_token}"} if target.mixed_token else headers
        for number in itertools.count():
            if time.perf_counter() >= deadline:
                break
            method, path = target.method, target.path
            if target.mixed_path is not None and number % MIX != MIX - 1:
                method, path = "GET", target.mixed_path
            posting = method == "POST" and target.pairing_id is not None
            body = visit_body(target.pairing_id or "", next(counter)) if posting else None
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers if method == "POST" else read_headers)
            response = conn.getresponse()
            payload = response.read()
            answered = time.perf_counter()
            mine.latencies.append(answered - started)
            mine.requests += 1
            mine.posts += posting
            mine.statuses[response.status] = mine.statuses.get(response.status, 0) + 1
            if response.status >= 400:
                mine.failures += 1
                mine.sample_failure = mine.sample_failure or payload.decode(errors="replace")[:300]
            elif target.mixed_path is not None and method == "POST":
                mine.writes.append((answered, int(json.loads(payload)["position"])))
            elif target.mixed_path is not None:
                mine.reads.append((started, int(response.getheader("X-Tiexin-Position") or 0)))
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


def staleness(writes: Sequence[tuple[float, int]], reads: Sequence[tuple[float, int]]) -> tuple[int, float]:
    """How many reads started over :data:`FRESH_WITHIN` s after a write was answered reflect a position
    before that write's, and the worst age (s from that write's answer to the read) among them."""
    ordered = sorted(writes)
    answered = [at for at, _ in ordered]
    highest, top = [], 0
    for _, position in ordered:
        top = max(top, position)
        highest.append(top)
    stale, worst = 0, 0.0
    for started, position in reads:
        known = bisect.bisect_right(answered, started - FRESH_WITHIN)
        if known and highest[known - 1] > position:
            stale += 1
            first = next(at for at, written in ordered if written > position)
            worst = max(worst, started - first)
    return stale, worst


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


def start_server(env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.http_server", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answered = 0
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                answered += 1
                if answered >= 4 * workers:  # each worker has likely started by then
                    return process
                continue
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bench server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_caught_up(port: int, token: str, timeout: float = 600.0) -> None:
    """Until the roster read model has applied the whole log (the demo's, at first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/v1/roster?limit=1", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status == 200 and response.getheader("X-Tiexin-Lag") == "0":
            return
        time.sleep(0.5)
    raise RuntimeError("the read models did not catch up with the demo's log")


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


@dataclass
class Run:
    """What every phase of one run shares: the store, its keys, the pairing, the next visit's index."""

    env: dict[str, str]
    coordinator: str
    seconds: float
    rounds: int
    connections: int
    volunteer: str = ""
    pairing: str = ""
    next_visit: int = 0


def run_phase(run: Run, workers: int, targets: Sequence[Target], label: str) -> dict[str, Result]:
    """Start the server with ``workers`` workers, drive each target in alternating rounds, stop it."""
    port = free_port()
    server = start_server(run.env, port, workers)
    try:
        if not run.pairing:
            run.volunteer, run.pairing = set_up_volunteer(run.env, port, run.coordinator)
        wait_caught_up(port, run.coordinator)
        chosen = [with_parties(t, run) for t in targets]
        totals = {t.label: Result() for t in chosen}
        with ProcessPoolExecutor(max_workers=1) as pool:
            pool.submit(load, port, Target("warm-up", "GET", "/bench/bare"), 1.0, run.connections, 0).result()
            for number in range(1, run.rounds + 1):
                for target in chosen:
                    result = pool.submit(load, port, target, run.seconds, run.connections, run.next_visit).result()
                    run.next_visit += result.posts + connections_slack(run.connections)
                    report(f"{label}round {number} {target.label}", result)
                    totals[target.label].add(result)
    finally:
        stop(server)
    for name, result in totals.items():
        report(f"{label}all {name}", result)
    return totals


COORDINATOR, VOLUNTEER = "<coordinator>", "<volunteer>"
"""Stand-ins in the target list for the keys and pairing made once the server is up."""


def with_parties(target: Target, run: Run) -> Target:
    keys = {COORDINATOR: run.coordinator, VOLUNTEER: run.volunteer}
    return replace(
        target,
        token=keys.get(target.token or "", target.token),
        pairing_id=run.pairing if target.pairing_id == VOLUNTEER else target.pairing_id,
        mixed_token=keys.get(target.mixed_token or "", target.mixed_token),
    )


BARE = Target("bare GET /bench/bare", "GET", "/bench/bare")
ROSTER = Target("GET /v1/roster", "GET", "/v1/roster?limit=50", COORDINATOR)
APPEND = Target("bare POST /bench/append", "POST", "/bench/append")
VISITS = Target("POST /v1/visits", "POST", "/v1/visits", VOLUNTEER, VOLUNTEER)
FRESH = Target("GET /v1/roster no-cache", "GET", "/v1/roster?limit=50", COORDINATOR, no_cache=True)
MIXED = Target("mixed 9 GET : 1 POST", "POST", "/v1/visits", VOLUNTEER, VOLUNTEER, mixed_path="/v1/roster?limit=50")
"""The mixed load posts with the volunteer's key and reads the roster with it too (its own pairings)."""


def goal(met: bool) -> str:
    return "met" if met else "not met"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--workers", type=int, default=None, help="server worker processes (PostgreSQL only; default 2 there)"
    )
    args = parser.parse_args(argv)
    postgres = args.store == "postgresql"
    workers = args.workers if args.workers is not None else (2 if postgres else 1)
    if workers < 1 or (workers > 1 and not postgres):
        parser.error("--workers N > 1 takes --store postgresql (SQLite runs one worker with the read models in it)")

    one: dict[str, Result] = {}
    with temp_store("postgres" if postgres else "sqlite", "http") as url:
        summary = run_demo(url, seed=1, master_key=BENCH_MASTER_KEY)
        print(f"demo store ({args.store}): {summary.total_events:,} events", flush=True)
        env = {
            **os.environ,
            "TIEXIN_DATABASE_URL": url,
            "TIEXIN_MASTER_KEY": base64.b64encode(BENCH_MASTER_KEY).decode(),
        }
        if postgres:
            env["TIEXIN_PROJECTIONS"] = "off"
        coordinator = tiexin(env, "keys", "create", "--role", "coordinator", "--name", "bench-coordinator")
        run = Run(env, coordinator, args.seconds, args.rounds, args.connections)
        projections = (
            subprocess.Popen(
                [sys.executable, "-m", "tiexin", "projections", "run"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if postgres
            else None
        )
        try:
            if postgres:
                one = run_phase(run, 1, [APPEND, VISITS], "1 worker: ")
            label = f"{workers} workers: " if postgres else ""
            totals = run_phase(run, workers, [BARE, ROSTER, APPEND, VISITS, FRESH, MIXED], label)
        finally:
            if projections is not None:
                stop(projections)
    bare, roster, append, visits, fresh, mixed = (totals[t.label] for t in (BARE, ROSTER, APPEND, VISITS, FRESH, MIXED))
    stale, worst = staleness(mixed.writes, mixed.reads)
    post_ratio = visits.per_second / append.per_second if append.per_second else 0.0
    fresh_ratio = fresh.per_second / bare.per_second
    mixed_ratio = mixed.per_second / bare.per_second
    parts = [
        f"ratio to bare GET: GET /v1/roster {roster.per_second / bare.per_second:.2f} "
        f"(p99 {roster.percentile(0.99):.1f} ms) POST /v1/visits {visits.per_second / bare.per_second:.2f}",
        f"POST /v1/visits to bare append {post_ratio:.2f} "
        f"(goal ≥ {GOALS['post']}: {goal(post_ratio >= GOALS['post'])}), "
        f"p99 {visits.percentile(0.99):.1f} ms (goal < {GOALS['post_p99']:.0f} ms: "
        f"{goal(visits.percentile(0.99) < GOALS['post_p99'])}; bare append p99 {append.percentile(0.99):.1f} ms)",
        f"GET /v1/roster afresh {fresh_ratio:.2f} (goal ≥ {GOALS['fresh']}: {goal(fresh_ratio >= GOALS['fresh'])}), "
        f"p99 {fresh.percentile(0.99):.1f} ms (goal < {GOALS['fresh_p99']:.0f} ms: "
        f"{goal(fresh.percentile(0.99) < GOALS['fresh_p99'])})",
        f"mixed 9 GET : 1 POST {mixed_ratio:.2f} (goal ≥ {GOALS['mixed']}: {goal(mixed_ratio >= GOALS['mixed'])}), "
        f"stale reads {stale} of {len(mixed.reads)}"
        + (f", worst {worst * 1000:.0f} ms after the write" if stale else "")
        + f" (goal none: {goal(stale == 0)})",
    ]
    if postgres:
        scaled = visits.per_second / one[VISITS.label].per_second if one[VISITS.label].per_second else 0.0
        bare_scaled = append.per_second / one[APPEND.label].per_second if one[APPEND.label].per_second else 0.0
        parts.append(
            f"POST /v1/visits {workers} workers / 1 worker {scaled:.2f}× (goal ≥ {GOALS['workers']}×: "
            f"{goal(scaled >= GOALS['workers'])}; bare append {bare_scaled:.2f}×)"
        )
    print(" | ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
