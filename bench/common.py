"""Helpers shared by tiexin's benchmarks: throw-away stores, ledgers on them, timing, profiles.

Every benchmark measures two paths side by side in one run, on a fresh store per path, and
reports the ratio between them; the helpers here keep that set-up identical across benchmarks.
PostgreSQL is reached at ``TIEXIN_BENCH_POSTGRES_URL`` (default: the local ``test`` database);
each store there is a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import cProfile
import inspect
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.settings import store_env

STORES = ("sqlite", "postgres")
POSTGRES_URL_VARIABLE = "TIEXIN_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


# Stores ------------------------------------------------------------------------------------


def postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL


@contextmanager
def temp_store(kind: str, label: str) -> Iterator[str]:
    """A URL naming a new, empty store of the given kind, removed when the block ends."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"tiexin-bench-{label}-") as directory:
            yield f"sqlite:///{directory}/{label}.db"
    elif kind == "postgres":
        with temp_schema(label) as url:
            yield url
    else:
        raise ValueError(f"unknown store {kind!r}; one of {', '.join(STORES)}")


@contextmanager
def temp_schema(label: str) -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema of its own, dropped (with its tables) afterwards."""
    admin = postgres_admin_url()
    name = f"bench_{label}_{uuid.uuid4().hex[:10]}"
    schema = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    try:
        separator = "&" if "?" in admin else "?"
        yield f"{admin}{separator}schema={name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))


class Clock:
    """A service clock the benchmark moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


BENCH_MASTER_KEY = bytes(range(32))
"""The benchmarks' stores are throwaway: one fixed master key opens them all."""


def open_bench_ledger(url: str, clock: Clock, overrides: dict[str, str]) -> Ledger:
    """The ledger as the composition root opens it, plus any library settings being tried out."""
    if not overrides:
        return open_ledger(url, master_key=BENCH_MASTER_KEY, clock=clock)
    ledger = Ledger({**store_env(url), **overrides}, master_key=BENCH_MASTER_KEY, clock=clock)
    ledger.ensure_default_policies()
    return ledger


# Arguments ---------------------------------------------------------------------------------


def parse_stores(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in STORES]
    if unknown or not kinds:
        raise ValueError(f"--stores takes a comma-separated list of {', '.join(STORES)}, not {text!r}")
    return kinds


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict of library settings."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--env takes KEY=VALUE, not {pair!r}")
        env[key.strip()] = value.strip()
    return env


def describe_env(env: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none"


# Timing ------------------------------------------------------------------------------------


def seconds_of(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` items in ``parts`` chunks whose sizes differ by at most one."""
    size, extra = divmod(total, parts)
    return [size + (1 if i < extra else 0) for i in range(parts)]


# Profiles ----------------------------------------------------------------------------------


def profile(action: Callable[[], object]) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.runcall(action)
    return pstats.Stats(profiler)


@dataclass(frozen=True)
class Cost:
    """One function's share of a profile: how often it ran and its time including callees."""

    name: str
    calls: int
    seconds: float


def label_of(function: Any) -> tuple[str, int, str]:
    """The key under which cProfile files a function (decorators unwrapped)."""
    code = inspect.unwrap(function).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def cumulative_cost(stats: pstats.Stats, name: str, *functions: Any) -> Cost:
    """Calls and cumulative seconds of one or more functions (e.g. the same method of two classes)."""
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    calls, seconds = 0, 0.0
    for label in {label_of(f) for f in functions}:
        if label in table:
            _, count, _, cumulative, _ = table[label]
            calls += count
            seconds += cumulative
    return Cost(name, calls, seconds)


def top_own_costs(stats: pstats.Stats, limit: int) -> list[Cost]:
    """The functions that spend the most time in their own body (not in their callees)."""
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    return [Cost(short_label(label), row[1], row[2]) for label, row in ranked]


def short_label(label: tuple[str, int, str]) -> str:
    filename, line, name = label
    if filename == "~":
        return name
    parts = filename.replace(os.sep, "/").split("/")
    tail = "/".join(parts[-2:])
    return f"{tail}:{line} {name}"
