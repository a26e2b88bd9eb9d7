"""What an ``?as_of=`` read costs: finding a day's position cut, and replaying a read model up to it.

Run as ``python -m bench.asof [--scale 1] [--seed 1] [--url URL]``. Without ``--url`` it builds the
demo at ``--scale`` counties into a SQLite file of its own (kept in the system's temporary folder
between runs, named after scale and seed). For the last day of the log and the day halfway through
it, it measures:

- **cut**: :func:`projections.asof.cut_known_on`, the bisection over log positions by recorded
  time (median of 20 runs), beside a scan of the whole log that decodes every event to read its
  time (what finding the cut would cost without the bisection);
- **replay**: :func:`projections.asof.replay` of scores, roster and audit up to that cut, each
  into a scratch SQLite view, with the view's size on disk; then the cut 30 days later carried on
  from a copy of that view (what :class:`projections.asof.AsOfViews` does when it keeps an earlier
  view of the model); and the process's peak resident size.

The numbers go to docs/operations.md ("As-of reads: cost and caps").
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import BENCH_MASTER_KEY
from ledger.common import county_date
from projections.asof import cut_known_on, replay
from projections.service import open_log
from tiexin.demo.generator import run_demo

MODELS = ("scores", "roster", "audit")


def demo_file(scale: int, seed: int) -> str:
    path = Path(tempfile.gettempdir()) / f"tiexin-bench-asof-s{scale}-seed{seed}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        print(f"building the demo at scale {scale} into {path} …", flush=True)
        run_demo(url, seed=seed, scale=scale, master_key=BENCH_MASTER_KEY)
    return url


def size_of(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def scan_seconds(log: Any, head: int) -> float:
    started, position = time.perf_counter(), 0
    while position < head:
        page = log.recorder.select_notifications(start=position + 1, limit=5000)
        if not page:
            break
        for notification in page:
            log.mapper.to_domain_event(notification)
        position = page[-1].id
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="an existing ledger (default: the demo built at --scale)")
    args = parser.parse_args()
    url = args.url or demo_file(args.scale, args.seed)
    log = open_log(url, BENCH_MASTER_KEY)
    try:
        head = log.recorder.max_notification_id() or 0
        [last] = log.recorder.select_notifications(start=head, limit=1)
        [first] = log.recorder.select_notifications(start=1, limit=1)
        recorded: Any = (log.mapper.to_domain_event(last), log.mapper.to_domain_event(first))
        end, start = county_date(recorded[0].timestamp), county_date(recorded[1].timestamp)
        middle = start + timedelta(days=(end - start).days // 2)
        print(f"{url}: {head:,} events, recorded {start} to {end}")
        print(f"a full scan decoding every event: {scan_seconds(log, head):.2f} s")
        for day in (middle, end):
            measure(url, log, day)
    finally:
        log.close()
    print(f"peak resident size: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def measure(url: str, log: Any, day: date) -> None:
    times = []
    for _ in range(20):
        started = time.perf_counter()
        cut = cut_known_on(log, day)
        times.append(time.perf_counter() - started)
    print(f"as of {day}: cut at position {cut:,}, found in {statistics.median(times) * 1000:.1f} ms")
    month_later = cut_known_on(log, day + timedelta(days=30))
    for name in MODELS:
        replayed = replay(url, name, position=cut, ledger=log)
        try:
            size = size_of(replayed.folder)
            step = replay(url, name, position=month_later, ledger=log, base=replayed) if month_later > cut else None
        finally:
            replayed.close()
        said = f"  {name:8} replayed in {replayed.seconds:6.2f} s, {replayed.applied:,} events, {size / 1e6:.1f} MB"
        if step is not None:
            step.close()
            said += f"; 30 days on from it: {step.seconds:.2f} s, {step.applied:,} events"
        print(said)


if __name__ == "__main__":
    main()
