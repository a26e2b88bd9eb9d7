"""The HTTP API in-process for tests: the app on a store, a key per staff role, and :class:`Staff`.

:class:`Harness` runs the app with FastAPI's ``TestClient`` (which needs the test extra's
``httpx2``); its ``staff`` builds records through it (:class:`tests.builders.Staff`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from api.app import create_app
from api.deps import Services
from api.keys import KeyStore
from api.settings import ApiSettings
from ledger.application import Ledger
from tests.builders import MASTER_KEY, Staff

STAFF_ROLES = ("coordinator", "finance", "evaluator", "auditor", "admin")


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

    app = create_app(ApiSettings(database_url=url, master_key=MASTER_KEY, **{"auth_cache_ttl": 0.0, **settings}))
    with TestClient(app, raise_server_exceptions=False) as client:
        services: Services = app.state.services
        keys = {role: services.keys.create(role=role, name=keys_named + role)[0] for role in STAFF_ROLES}
        keys["finance-2"] = services.keys.create(role="finance", name=keys_named + "finance-2")[0]
        made = Harness(app, client, services, keys, Staff(client, keys, lambda v: ""))
        made.staff.volunteer_key = made.volunteer_key
        yield made
