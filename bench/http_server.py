"""The server ``bench.http`` drives: tiexin's app, plus two bare endpoints in the same process.

- ``GET /bench/bare`` does nothing but answer: its requests/s is the ceiling this process, this
  framework and this machine allow any endpoint; our reads are reported as a ratio to it.
- ``POST /bench/append`` writes one pre-encoded ``Visit.Recorded`` event (a new visit, a fresh
  id) with the library's recorder into the store the app writes, one transaction per request as
  ``POST /v1/visits``: the ceiling of a durable write here; ``POST /v1/visits`` is reported as a
  ratio to it. The events are made at startup by the ledger's own domain code and mapper (as
  ``bench.append`` makes its raw events), for a pairing of its own recorded then (:class:`Visits`).

Neither is in the OpenAPI schema. ``--workers N`` runs N uvicorn worker processes (each builds
its app with :func:`app_with_bare_endpoint`, from the environment, like ``tiexin serve``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import uvicorn
from eventsourcing.persistence import StoredEvent
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.deps import Services
from bench.append import recorded_at, set_up_parties, visit_details
from ledger.application import Ledger
from ledger.counties import LIANSHUI, County, county_id
from ledger.elders import Elder
from ledger.pairings import Pairing
from ledger.visits import Visit
from ledger.volunteers import Volunteer
from tiexin.server import create_app_from_env

FACTORY = "bench.http_server:app_with_bare_endpoint"
"""What uvicorn imports in each worker process."""
POOL_ENV = "TIEXIN_BENCH_APPEND_POOL"
POOL = 20_000
"""Events encoded at startup for ``POST /bench/append`` (``TIEXIN_BENCH_APPEND_POOL``)."""


class Visits:
    """New visits' ``Visit.Recorded`` events, each of a new visit (its own id), encoded by the ledger's mapper
    for a pairing of their own: :data:`POOL` of them at startup, more (in the request) once those are used.

    One event cannot be sent again under another id: a person's fields are encrypted bound to the
    record's id, so a copy with a fresh ``originator_id`` would not decrypt (the read models would stop).
    """

    def __init__(self, ledger: Ledger, count: int) -> None:
        parties = set_up_parties(ledger)
        get = ledger.repository.get
        self.ledger = ledger
        self.parties = parties
        self.pairing: Pairing = get(parties.pairing_id)
        self.elder: Elder = get(self.pairing.elder_id)
        self.volunteer: Volunteer = get(self.pairing.volunteer_id)
        self.county: County = get(county_id(LIANSHUI))
        self.indexes = itertools.count()
        self.lock = threading.Lock()
        self.ready: deque[StoredEvent] = deque(self.encode() for _ in range(count))

    def encode(self) -> StoredEvent:
        with self.lock:
            index = next(self.indexes)
        visit = Visit.record(
            self.county, self.pairing, self.elder, self.volunteer, visit_details(index),
            now=recorded_at(index), meta=self.parties.volunteer, id=uuid4(),
        )  # fmt: skip
        (recorded,) = visit.collect_events()
        return self.ledger.mapper.to_stored_event(recorded)

    def take(self) -> StoredEvent:
        try:
            return self.ready.popleft()
        except IndexError:
            return self.encode()


def app_with_bare_endpoint() -> FastAPI:
    app = create_app_from_env()
    app_lifespan = app.router.lifespan_context
    visits: list[Visits] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with app_lifespan(app) as state:
            services: Services = app.state.services
            count = int(os.environ.get(POOL_ENV) or POOL)
            visits.append(await run_in_threadpool(Visits, services.ledger, count))
            yield state

    app.router.lifespan_context = lifespan

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/bench/append", include_in_schema=False)
    def append() -> dict[str, int]:
        """One transaction inserting one pre-encoded event of a new aggregate (in a worker thread)."""
        services: Services = app.state.services
        ids = services.ledger.recorder.insert_events([visits[0].take()])
        return {"position": ids[-1] if ids else 0}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        FACTORY,
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
