"""How fast the read side is rebuilt from the log: our runner beside the library's, and a raw scan.

Run as ``python -m bench.rebuild [--scale 24] [--seed 1] [--stock-events 20000]``. On a demo
province in PostgreSQL (a schema kept between runs, built once: ``--scale 24`` is about a
million events), it measures in one run:

- **all together**: every registered read model rebuilt from position 0 in one pass
  (:class:`projections.onepass.OnePass`: the log read and each event decoded once, each model
  committing a page of events per view transaction with its own tracking row), in this process;
  then the same split over two processes (``--processes 2``, the models shared out by their
  times alone), which is what a second core gives on PostgreSQL;
- **alone**: each read model rebuilt by its own :class:`projections.runner.Runner`, one after the
  other; each model's rate is log events divided by the time to rebuild it, and the rate of all
  of them in turn is printed too;
- **stock**: the library's own runner machinery (``BaseProjectionRunner``, fed by its PostgreSQL
  subscription) driving the roster view one event per transaction, over the first
  ``--stock-events`` events (at ~1k events/s a whole million would take a quarter of an hour);
- **raw**: ``select_notifications`` in pages, decoding every event, with nothing written: the
  ceiling of any projection that must look at every event. It is measured first and last, and
  the faster of the two is the ceiling (outside load on a shared machine only ever slows a run).

Memory: the process's resident size sampled as the one pass goes (it should stay flat as the log
grows) and the peak. The last line gives our rate / stock rate and our rate / raw rate: for the
same read model as the stock runner's (like for like), for our slowest model alone, for audit alone
and for all together (one pass), each ratio to raw judged against its goal.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.common import BENCH_MASTER_KEY, postgres_admin_url
from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.settings import store_env
from projections.onepass import OnePass
from projections.registry import check, names, open_projection
from projections.runner import PagedProjection, Runner
from tiexin.demo.generator import run_demo

PAGE = 1000
GOAL_ALL = 0.7
"""All read models together, as a share of the raw scan + decode rate."""
GOAL_AUDIT = 0.7
GOAL_PEAK_MIB = 150


@dataclass(frozen=True)
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def demo_store(scale: int, seed: int) -> str:
    """A schema holding the demo province, built the first time and reused afterwards."""
    schema = f"bench_rebuild_s{scale}_seed{seed}"
    admin = postgres_admin_url()
    url = f"{admin}{'&' if '?' in admin else '?'}schema={schema}"
    with psycopg.connect(admin, autocommit=True) as conn:
        built = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'tiexin_events'",
            (schema,),
        ).fetchone()
        if built:
            return url
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    print(f"building a demo of {scale} counties (seed {seed}) in schema {schema}; reused next time", flush=True)
    try:
        summary = run_demo(url, seed=seed, scale=scale, master_key=BENCH_MASTER_KEY)
    except BaseException:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        raise
    print(f"built {summary.total_events:,} events in {summary.seconds:.0f} s", flush=True)
    return url


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_scan(ledger: Ledger, head: int) -> Rate:
    """Read and decode every event of the log, writing nothing."""
    started = time.perf_counter()
    position, decoded = 0, 0
    while position < head:
        page = ledger.recorder.select_notifications(start=position + 1, limit=PAGE)
        if not page:
            break
        for notification in page:
            ledger.mapper.to_domain_event(notification)
        decoded += len(page)
        position = page[-1].id
    return Rate(decoded, time.perf_counter() - started)


def rebuild(ledger: Ledger, name: str, url: str, head: int, samples: list[tuple[int, float]]) -> Rate:
    """Reset one read model and catch it up with our runner, sampling memory as it goes."""
    projection = open_projection(name, url)
    projection.paged_view.reset(ledger.name)
    runner = Runner(ledger, projection, page_size=PAGE)
    started = time.perf_counter()
    while runner.position < head:
        if runner.run_once() == 0:
            raise RuntimeError(f"{name} stopped at {runner.position}: {runner.state}")
        samples.append((runner.position, rss_mib()))
    rate = Rate(head, time.perf_counter() - started)
    projection.paged_view.close()
    return rate


def one_pass(ledger: Ledger, chosen: Sequence[str], url: str, head: int, samples: list[tuple[int, float]]) -> Rate:
    """Reset the read models and rebuild them together in one pass, sampling memory as it goes."""
    projections = [open_projection(name, url) for name in chosen]
    runners = [Runner(ledger, projection, page_size=PAGE) for projection in projections]
    together = OnePass(ledger, runners, page_size=PAGE)
    together.on_page = lambda position, target: samples.append((position, rss_mib()))
    started = time.perf_counter()
    together.rebuild()
    rate = Rate(head, time.perf_counter() - started)
    together.close()
    stopped = [runner.name for runner in runners if runner.state.status != "caught_up"]
    for projection in projections:
        projection.paged_view.close()
    if stopped:
        raise RuntimeError(f"the one pass did not catch up {', '.join(stopped)}")
    return rate


def one_pass_in_child(url: str, chosen: Sequence[str]) -> None:
    ledger = open_ledger(url, master_key=BENCH_MASTER_KEY)
    try:
        one_pass(ledger, chosen, url, ledger.recorder.max_notification_id() or 0, [])
    finally:
        ledger.close()


def shared_out(times: dict[str, float], processes: int) -> list[list[str]]:
    """The models in ``processes`` groups of about equal time (longest first, to the least loaded)."""
    groups: list[list[str]] = [[] for _ in range(processes)]
    loads = [0.0] * processes
    for name in sorted(times, key=times.__getitem__, reverse=True):
        least = loads.index(min(loads))
        groups[least].append(name)
        loads[least] += times[name]
    return [group for group in groups if group]


def in_processes(url: str, groups: Sequence[Sequence[str]], head: int) -> Rate:
    """Each group rebuilt in one pass in a process of its own, all at once: the wall time."""
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=one_pass_in_child, args=(url, list(group))) for group in groups]
    started = time.perf_counter()
    for child in children:
        child.start()
    for child in children:
        child.join()
    if any(child.exitcode for child in children):
        raise RuntimeError("a rebuilding process failed")
    return Rate(head, time.perf_counter() - started)


class BenchLedger(Ledger):
    """The ledger as the library's runner constructs an application (``env`` only), with the bench's key."""

    def __init__(self, env: Any = None) -> None:
        super().__init__(env, master_key=BENCH_MASTER_KEY)


def stock(url: str, name: str, events: int) -> Rate:
    """The library's runner feeding one read model an event per transaction, for ``events`` events."""
    from eventsourcing.projection import BaseProjectionRunner

    projection: PagedProjection[Any] = open_projection(name, url)
    view = projection.paged_view
    view.reset(Ledger.name)
    started = time.perf_counter()
    runner: Any = BaseProjectionRunner(
        projection=projection,
        application_class=BenchLedger,
        tracking_recorder=view,
        topics=projection.topics,
        env=store_env(url),
    )
    with runner:
        while view.position(Ledger.name) < events:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        reached = view.position(Ledger.name)
    view.reset(Ledger.name)
    view.close()
    return Rate(reached, elapsed)


def judged(ratio: float, goal: float) -> str:
    return f"{ratio:.2f} (goal ≥ {goal}: {'met' if ratio >= goal else 'not met'})"


def flat_memory_report(samples: Sequence[tuple[int, float]], head: int) -> str:
    marks = []
    for quarter in (1, 2, 3, 4):
        target = head * quarter // 4
        mib = next((m for p, m in samples if p >= target), samples[-1][1])
        marks.append(f"{quarter * 25}%: {mib:.0f} MiB")
    return ", ".join(marks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=24, help="demo counties (24 ≈ a million events)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stock-events", type=int, default=20_000)
    parser.add_argument("--stock-model", default="roster")
    parser.add_argument("--processes", type=int, default=2, help="processes for the split rebuild (1: none)")
    parser.add_argument(
        "--alone", default=",".join(names()), help="the read models also rebuilt each alone (default: all)"
    )
    args = parser.parse_args(argv)

    url = demo_store(args.scale, args.seed)
    ledger = open_ledger(url, master_key=BENCH_MASTER_KEY)
    head = ledger.recorder.max_notification_id() or 0
    print(f"log: {head:,} events ({args.scale} counties, seed {args.seed})", flush=True)

    raw = raw_scan(ledger, head)
    print(f"raw scan + decode     {raw.per_second:>10,.0f} events/s  ({raw.seconds:.1f} s)", flush=True)

    samples: list[tuple[int, float]] = []
    together = one_pass(ledger, names(), url, head, samples)
    print(f"ours: all {len(names())} in one pass {together.per_second:>8,.0f} events/s  ({together.seconds:.1f} s)")
    print(f"memory during the one pass (RSS): {flat_memory_report(samples, head)}; peak {peak_mib():.0f} MiB")
    peak = peak_mib()

    alone = check([*args.alone.split(","), args.stock_model, "audit"])
    rates = {name: rebuild(ledger, name, url, head, []) for name in alone}
    for name, rate in rates.items():
        print(f"ours: {name:<15} {rate.per_second:>10,.0f} events/s  ({rate.seconds:.1f} s) alone", flush=True)
    in_turn = Rate(head, sum(rate.seconds for rate in rates.values()))
    if len(rates) == len(names()):
        print(f"ours: all {len(rates)} in turn  {in_turn.per_second:>10,.0f} events/s  ({in_turn.seconds:.1f} s)")

    split = None
    if args.processes > 1 and len(rates) == len(names()):
        groups = shared_out({name: rate.seconds for name, rate in rates.items()}, args.processes)
        split = in_processes(url, groups, head)
        shown = " | ".join(", ".join(group) for group in groups)
        figures = f"{split.per_second:>10,.0f} events/s  ({split.seconds:.1f} s: {shown})"
        print(f"ours: {len(groups)} processes      {figures}")

    limited = min(args.stock_events, head)
    stock_rate = stock(url, args.stock_model, limited)
    print(f"stock: {args.stock_model:<14} {stock_rate.per_second:>10,.0f} events/s  (first {stock_rate.events:,})")
    # The ceiling again at the end: outside load only slows a run, so the faster scan is the limit.
    again = raw_scan(ledger, head)
    print(f"raw scan + decode     {again.per_second:>10,.0f} events/s  ({again.seconds:.1f} s), again")
    raw = max(raw, again, key=lambda rate: rate.per_second)
    ledger.close()
    like = rates[args.stock_model]
    slowest_name, slowest = min(rates.items(), key=lambda item: item[1].per_second)
    turned = f", in turn {in_turn.per_second / raw.per_second:.2f}" if len(rates) == len(names()) else ""
    second = f"; {args.processes} processes {split.per_second / raw.per_second:.2f}" if split else ""
    print(
        f"ratio ours/stock: {args.stock_model} {like.per_second / stock_rate.per_second:.1f}x "
        f"(slowest alone, {slowest_name}, {slowest.per_second / stock_rate.per_second:.1f}x; "
        f"all together {together.per_second / stock_rate.per_second:.1f}x)  "
        f"ours/raw: {args.stock_model} {like.per_second / raw.per_second:.2f}, "
        f"slowest alone ({slowest_name}) {slowest.per_second / raw.per_second:.2f}, "
        f"audit alone {judged(rates['audit'].per_second / raw.per_second, GOAL_AUDIT)}, "
        f"all together {judged(together.per_second / raw.per_second, GOAL_ALL)}{second}{turned}; "
        f"peak {peak:.0f} MiB (goal < {GOAL_PEAK_MIB}: {'met' if peak < GOAL_PEAK_MIB else 'not met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
