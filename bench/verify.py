"""How fast the log is verified against its seals, beside one SHA-256 over the same bytes; what sealing costs appends.

Run as ``python -m bench.verify [--scale 24] [--seed 1] [--rounds 5] [--stores postgres,sqlite]
[--visits 2000]``. In one run:

- **The demo province**, in PostgreSQL (the schema ``bench.rebuild`` builds once and keeps:
  ``--scale 24`` is about a million events), sealed (the first run seals it all, which is timed
  and printed; later runs only catch up). With ``sqlite`` among the stores, the same log is
  copied, position for position, into a throw-away SQLite file and sealed there too.
- **verify**: :func:`projections.seals.verify` over the whole log, as ``tiexin verify`` runs it:
  every event read, its leaf hashed, the tree grown and checked at every seal, the stored leaves
  compared page by page.
- **raw**: the same events read the same way (the same pages of the same query, in one snapshot),
  each event's record built (the very bytes its leaf hashes) and all of them fed to **one**
  SHA-256: the least any check of the whole log's bytes must do. ``verify / raw`` is the share of
  that limit verification keeps (goal ≥ 0.5): what the tree costs (a hash object per leaf and per
  node, about two per event) and the checks against the seals and the stored leaves.
  The two alternate, ``--rounds`` times; each side's best round counts (as ``bench.append``:
  outside load only slows a path down).
- **Appends with sealing**: visits recorded through the ledger (``bench.append``'s scenario), on
  two fresh stores of each kind, in alternating blocks; on one, after each block, the sealer
  catches up with the block's events and seals when its policy says so (every 1000 events), all
  of it timed with the block: the sealer's whole cost, counted as if it did not run beside the
  writes (it does, in its own thread). ``sealed / plain`` is the append rate kept (goal ≥ 0.9).

The last line gives both ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from bench.append import open_side, record_visits
from bench.common import median, parse_stores, per_second, temp_store
from bench.rebuild import demo_store, peak_mib
from ledger.settings import store_env
from ledger.store import LedgerBase
from projections.seals import Sealer, SealKey, SealPolicy, SealStore, open_store, verify
from projections.seals.verify import PAGE as VERIFY_PAGE
from projections.seals.verify import originator_ids

PAGE = VERIFY_PAGE
HEAD = struct.Struct(">Q16sQI")
LENGTH = struct.Struct(">I")
BLOCK = 100
BENCH_KEY = SealKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


@dataclass(frozen=True)
class Timing:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return per_second(self.events, self.seconds)


# The log: sealed, verified, and hashed raw ---------------------------------------------------------


def seal_all(store: SealStore, label: str) -> None:
    sealer = Sealer(store)
    started = time.perf_counter()
    added = sealer.catch_up()
    seal = sealer.seal(BENCH_KEY)
    seconds = time.perf_counter() - started
    rate = f" ({per_second(added, seconds):,.0f} events/s)" if added else ""
    print(f"{label:<9}sealed: {added:,} new leaves in {seconds:.1f} s{rate}; seal {seal.seq} covers {seal.tree_size:,}")


def raw(store: SealStore) -> Timing:
    """Every event's record (the very bytes its leaf hashes), read as verification reads them, into one SHA-256."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    update = digest.update
    head, length = HEAD.pack, LENGTH.pack
    count = 0
    with store.reading() as session:
        for rows in session.scan(0, PAGE):
            count += len(rows)
            if store.text_ids:
                for (p, _, v, t, s), o in zip(rows, originator_ids(rows), strict=True):
                    update(head(p, o, v, len(t)) + t + length(len(s)) + s)
            else:
                for p, o, v, t, s in rows:
                    update(head(p, o, v, len(t)) + t + length(len(s)) + s)
    return Timing(count, time.perf_counter() - started)


def verified(store: SealStore) -> Timing:
    started = time.perf_counter()
    result = verify(store, page=PAGE)
    seconds = time.perf_counter() - started
    if not result.intact:
        raise SystemExit(f"the bench's log does not verify: {result.summary}")
    return Timing(result.events_read, seconds)


def compare(store: SealStore, label: str, rounds: int) -> float:
    """Raw and verify in turn, ``rounds`` times; print each round and the best; answer best verify / best raw."""
    raws, verifies = [], []
    for number in range(1, rounds + 1):
        if number % 2:
            plain, checked = raw(store), verified(store)
        else:
            checked = verified(store)
            plain = raw(store)
        raws.append(plain)
        verifies.append(checked)
        ratio = checked.rate / plain.rate
        print(
            f"{label:<9}round {number}/{rounds}  raw {plain.rate:>10,.0f} ev/s ({plain.seconds:.2f} s)   "
            f"verify {checked.rate:>10,.0f} ev/s ({checked.seconds:.2f} s)   verify/raw {ratio:.2f}",
            flush=True,
        )
    best_raw, best_verify = max(r.rate for r in raws), max(v.rate for v in verifies)
    typical = median(v.rate / r.rate for r, v in zip(raws, verifies, strict=True))
    print(
        f"{label:<9}best       raw {best_raw:>10,.0f} ev/s   verify {best_verify:>10,.0f} ev/s   "
        f"verify/raw {best_verify / best_raw:.2f} (median of rounds {typical:.2f})"
    )
    return best_verify / best_raw


@contextmanager
def sqlite_copy(source: str) -> Iterator[str]:
    """The demo's log copied into a fresh SQLite file, every event under its own position (gaps included)."""
    with temp_store("sqlite", "verify") as url:
        env = Environment(LedgerBase.name, {**store_env(url), "CREATE_TABLE": "y"})
        factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
        factory.application_recorder()  # the library's events table, as a ledger makes it
        factory.close()
        path = url.removeprefix("sqlite:///")
        store = open_store(source, create=False)
        try:
            with store.reading() as session, closing(sqlite3.connect(path)) as target, target:
                for rows in session.scan(0, PAGE):
                    target.executemany(
                        "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(p, str(uuid.UUID(bytes=o)), v, t.decode(), s) for p, o, v, t, s in rows],
                    )
        finally:
            store.close()
        yield url


# Appends with and without sealing ---------------------------------------------------------------


def appends(kind: str, visits: int, rounds: int) -> float:
    """Visits recorded on a plain store and on a sealed one, in alternating blocks; answers best sealed / best plain."""
    with temp_store(kind, "plain") as plain_url, temp_store(kind, "sealed") as sealed_url:
        plain, sealed = open_side(plain_url, {}), open_side(sealed_url, {})
        store = open_store(sealed_url)
        sealer = Sealer(store)
        policy = SealPolicy(key=lambda: BENCH_KEY, every_events=1000, every_seconds=3600)
        try:
            record_visits(plain, plain.take(BLOCK))
            record_visits(sealed, sealed.take(BLOCK))
            sealer.run_once(policy)
            per_round = max(BLOCK, visits // rounds)
            results = []
            for number in range(1, rounds + 1):
                plain_seconds = sealed_seconds = 0.0
                for block, _ in enumerate(range(0, per_round, BLOCK)):
                    for side in ("plain", "sealed") if block % 2 == 0 else ("sealed", "plain"):
                        started = time.perf_counter()
                        if side == "plain":
                            record_visits(plain, plain.take(BLOCK))
                            plain_seconds += time.perf_counter() - started
                        else:
                            record_visits(sealed, sealed.take(BLOCK))
                            sealer.run_once(policy)
                            sealed_seconds += time.perf_counter() - started
                count = (per_round // BLOCK) * BLOCK
                result = (per_second(count, plain_seconds), per_second(count, sealed_seconds))
                results.append(result)
                print(
                    f"{kind:<9}appends {number}/{rounds}  plain {result[0]:7.0f} ev/s   sealed {result[1]:7.0f} ev/s   "
                    f"sealed/plain {result[1] / result[0]:.2f}",
                    flush=True,
                )
            best_plain, best_sealed = max(r[0] for r in results), max(r[1] for r in results)
            seals = sealer.seal(BENCH_KEY).seq
            print(
                f"{kind:<9}appends best  plain {best_plain:7.0f} ev/s   sealed {best_sealed:7.0f} ev/s   "
                f"sealed/plain {best_sealed / best_plain:.2f} ({seals} seals written)"
            )
            return best_sealed / best_plain
        finally:
            store.close()
            plain.ledger.close()
            sealed.ledger.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=24, help="demo counties (24 ≈ a million events)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default="postgres,sqlite", help="postgres and/or sqlite")
    parser.add_argument("--visits", type=int, default=2000, help="visits appended per side for the append overhead")
    args = parser.parse_args(argv)
    kinds = parse_stores(args.stores)

    url = demo_store(args.scale, args.seed)
    ratios: dict[str, float] = {}
    overheads: dict[str, float] = {}
    for kind in ("postgres", "sqlite"):
        if kind not in kinds:
            continue
        with sqlite_copy(url) if kind == "sqlite" else _same(url) as store_url:
            store = open_store(store_url)
            try:
                with store.reading() as session:
                    head = session.head()
                print(f"{kind:<9}log: {head:,} events ({args.scale} counties, seed {args.seed})", flush=True)
                seal_all(store, kind)
                ratios[kind] = compare(store, kind, args.rounds)
            finally:
                store.close()
        print(f"{kind:<9}memory: peak {peak_mib():.0f} MiB", flush=True)
        overheads[kind] = appends(kind, args.visits, args.rounds)
    print(
        "ratio verify/raw: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items())
        + " (goal ≥ 0.5); appends sealed/plain: " + ", ".join(f"{k} {v:.2f}" for k, v in overheads.items())
        + " (goal ≥ 0.9)"
    )  # fmt: skip
    return 0


@contextmanager
def _same(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    raise SystemExit(main())
