"""Driving the API from tests and benchmarks: a key per role, and records built over HTTP.

:class:`Harness` runs the app in-process (FastAPI's ``TestClient``, which needs the test extra's
``httpx2``) on a store; :class:`Staff` builds a county's records through any HTTP client the way
its staff would (the e2e tests hand it a real client on a real server).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from api.app import create_app
from api.deps import Services
from api.keys import KeyStore
from api.settings import ApiSettings
from ledger.application import Ledger

STAFF_ROLES = ("coordinator", "finance", "evaluator", "auditor", "admin")
TOWNSHIP = "高沟镇"


@dataclasses.dataclass
class Staff:
    """Builds records through the API; ``keys`` maps a role (or any name) to its key."""

    client: Any
    keys: dict[str, str]
    volunteer_key: Callable[[str], str]
    serial: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        token = self.keys.get(who, who)
        return {"Authorization": f"Bearer {token}", **{k.replace("_", "-"): v for k, v in headers.items()}}

    def post(self, path: str, body: dict[str, Any] | None, who: str, **headers: str) -> dict[str, Any]:
        """POST as ``who`` and insist on success; answers the body."""
        response = self.client.post(path, json=body, headers=self.auth(who, **headers))
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    def elder(self, township: str = TOWNSHIP) -> str:
        n = next(self.serial)
        body = {
            "name": f"老人{n}", "birth_date": "1932-05-01", "sex": "female", "township": township,
            "address": f"{township}幸福路{n}号", "phone": f"1380000{n:04d}",
        }  # fmt: skip
        return str(self.post("/v1/elders", body, "coordinator")["id"])

    def volunteer(self, township: str = TOWNSHIP) -> str:
        n = next(self.serial)
        body = {
            "name": f"志愿者{n}", "unit": "涟水县人民医院", "profession": "nurse",
            "phone": f"1390000{n:04d}", "township": township,
        }  # fmt: skip
        return str(self.post("/v1/volunteers", body, "coordinator")["id"])

    def pairing(self, volunteer_id: str, elder_id: str, from_date: date) -> str:
        body = {
            "volunteer_id": volunteer_id,
            "elder_id": elder_id,
            "group": "第1组",
            "from_date": from_date.isoformat(),
        }
        return str(self.post("/v1/pairings", body, "coordinator")["id"])

    def pair(self, from_date: date) -> tuple[str, str, str]:
        """A new volunteer and elder, paired: (volunteer id, elder id, pairing id)."""
        volunteer_id, elder_id = self.volunteer(), self.elder()
        return volunteer_id, elder_id, self.pairing(volunteer_id, elder_id, from_date)

    def visit(self, pairing_id: str, volunteer_id: str, start: datetime, *, confirm: bool = True) -> str:
        body = visit_body(pairing_id, start)
        visit_id = str(self.post("/v1/visits", body, self.volunteer_key(volunteer_id))["id"])
        if confirm:
            self.post(f"/v1/visits/{visit_id}/confirmation", {"by": "elder", "method": "signature"}, "coordinator")
        return visit_id


def visit_body(pairing_id: str, start: datetime, minutes: int = 45) -> dict[str, Any]:
    return {
        "pairing_id": pairing_id, "kind": "medical", "services": ["blood_pressure", "health_advice"],
        "readings": {"systolic": 135, "diastolic": 85}, "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(), "township": TOWNSHIP,
        "distance_band": "at_home", "travel_km": 4.5, "gift_bag": False,
    }  # fmt: skip


@dataclasses.dataclass
class Harness:
    """The app in-process on a store, with a key for each staff role (and a second finance key)."""

    app: FastAPI
    client: Any
    services: Services
    keys: dict[str, str]
    staff: Staff

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    @property
    def key_store(self) -> KeyStore:
        return self.services.keys

    def volunteer_key(self, volunteer_id: str) -> str:
        name = f"volunteer-{volunteer_id}"
        if name not in self.keys:
            self.keys[name] = self.key_store.create(role="volunteer", name=name, volunteer_id=UUID(volunteer_id))[0]
        return self.keys[name]

    def events(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0


@contextmanager
def harness(url: str, *, keys_named: str = "", **settings: Any) -> Iterator[Harness]:
    """The API on ``url`` (settings as :class:`ApiSettings`), keys made, closed afterwards.

    Keys are named after their roles (``finance``, ``finance-2``), prefixed by ``keys_named``:
    a second harness on the same store needs other names.
    """
    from fastapi.testclient import TestClient

    app = create_app(ApiSettings(database_url=url, **{"auth_cache_ttl": 0.0, **settings}))
    with TestClient(app, raise_server_exceptions=False) as client:
        services: Services = app.state.services
        keys = {role: services.keys.create(role=role, name=keys_named + role)[0] for role in STAFF_ROLES}
        keys["finance-2"] = services.keys.create(role="finance", name=keys_named + "finance-2")[0]
        made = Harness(app, client, services, keys, Staff(client, keys, lambda v: ""))
        made.staff.volunteer_key = made.volunteer_key
        yield made
