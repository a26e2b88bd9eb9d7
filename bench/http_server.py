"""The server ``bench.http`` drives: tiexin's app, plus two bare endpoints in the same process.

- ``GET /bench/bare`` does nothing but answer: its requests/s is the ceiling this process, this
  framework and this machine allow any endpoint; our reads are reported as a ratio to it.
- ``POST /bench/append`` writes one pre-encoded ``Visit.Recorded`` event (a new visit, a fresh
  id) with the library's recorder into the store the app writes, one transaction per request as
  ``POST /v1/visits``: the ceiling of a durable write here; ``POST /v1/visits`` is reported as a
  ratio to it. The event is made once, at startup, by the ledger's own domain code and mapper
  (as ``bench.append`` makes its raw events), for a pairing of its own recorded then.

Neither is in the OpenAPI schema. ``--workers N`` runs N uvicorn worker processes (each builds
its app with :func:`app_with_bare_endpoint`, from the environment, like ``tiexin serve``).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
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


def visit_template(ledger: Ledger) -> StoredEvent:
    """One new visit's ``Visit.Recorded``, encoded by the ledger's mapper (for a new pairing of its own)."""
    parties = set_up_parties(ledger)
    get = ledger.repository.get
    pairing: Pairing = get(parties.pairing_id)
    elder: Elder = get(pairing.elder_id)
    volunteer: Volunteer = get(pairing.volunteer_id)
    county: County = get(county_id(LIANSHUI))
    visit = Visit.record(
        county, pairing, elder, volunteer, visit_details(0), now=recorded_at(0), meta=parties.volunteer, id=uuid4()
    )
    (recorded,) = visit.collect_events()
    return ledger.mapper.to_stored_event(recorded)


def app_with_bare_endpoint() -> FastAPI:
    app = create_app_from_env()
    app_lifespan = app.router.lifespan_context
    templates: list[StoredEvent] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with app_lifespan(app) as state:
            services: Services = app.state.services
            templates.append(await run_in_threadpool(visit_template, services.ledger))
            yield state

    app.router.lifespan_context = lifespan

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/bench/append", include_in_schema=False)
    def append() -> dict[str, int]:
        """One transaction inserting one pre-encoded event of a new aggregate (in a worker thread)."""
        services: Services = app.state.services
        ids = services.ledger.recorder.insert_events([replace(templates[0], originator_id=uuid4())])
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
