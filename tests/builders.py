"""Records built for tests, one way: through the ledger's commands or through the HTTP API.

The integration and e2e tiers build the same small scenarios either way: an elder, a volunteer,
the two paired, a visit (confirmed), a claim of February. Their fields are defined once here
(:func:`elder_fields`, :func:`volunteer_fields`, :func:`visit_fields`); :func:`make_pair`,
:func:`visit_at` and :func:`claim_of_february` write them with the ledger, :class:`Staff` posts
them (as JSON, :func:`visit_body`) through any HTTP client the way a county's staff would: the
in-process app of :mod:`tests.harness`, or a real client on a real server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.common import Provenance
from ledger.counties import LIANSHUI

COORDINATOR = Provenance("coordinator-1", "coordinator")
FINANCE_A = Provenance("finance-a", "finance")
FINANCE_B = Provenance("finance-b", "finance")
EVALUATOR = Provenance("evaluator-1", "evaluator")
TOWNSHIP = "高沟镇"
MASTER_KEY = bytes(range(32))
"""The tests' master key (TIEXIN_MASTER_KEY of the processes they start, too: tests/conftest.py)."""


def fixed_random(seed: bytes = b"tiexin") -> Callable[[int], bytes]:
    """Keys and nonces from a fixed stream, so that the same commands store the same bytes (never in production)."""
    counter = itertools.count()

    def random_bytes(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:size]

    return random_bytes


PAIRED_FROM = date(2026, 1, 1)


def as_volunteer(volunteer_id: UUID) -> Provenance:
    return Provenance(str(volunteer_id), "volunteer")


# The records' fields -----------------------------------------------------------------------


def elder_fields(n: int, township: str = TOWNSHIP) -> dict[str, Any]:
    """The ``n``-th test elder: a name, phone and address of its own."""
    return {
        "name": f"老人{n}", "birth_date": date(1935, 5, 1), "sex": "male", "township": township,
        "address": f"{township}幸福路{n}号", "phone": f"1380000{n:04d}",
    }  # fmt: skip


def volunteer_fields(n: int, township: str = TOWNSHIP) -> dict[str, Any]:
    """The ``n``-th test volunteer, a nurse of the county hospital."""
    return {
        "name": f"志愿者{n}", "unit": "涟水县人民医院", "profession": "nurse",
        "phone": f"1390000{n:04d}", "township": township,
    }  # fmt: skip


def visit_fields(start: datetime, minutes: int = 45) -> dict[str, Any]:
    """A plausible medical home visit starting at ``start`` (the EVV fields of ``record_visit``)."""
    return {
        "kind": "medical", "services": ["blood_pressure", "health_advice"],
        "readings": {"systolic": 135, "diastolic": 85}, "started_at": start,
        "ended_at": start + timedelta(minutes=minutes), "township": TOWNSHIP,
        "distance_band": "at_home", "travel_km": Decimal("4.5"), "gift_bag": False,
    }  # fmt: skip


def as_json(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as an HTTP body spells them: dates and times in ISO 8601, decimals as numbers."""

    def json_value(value: Any) -> Any:
        if isinstance(value, date | datetime):
            return value.isoformat()
        return float(value) if isinstance(value, Decimal) else value

    return {key: json_value(value) for key, value in fields.items()}


def visit_body(pairing_id: str, start: datetime, minutes: int = 45) -> dict[str, Any]:
    """A visit to ``POST /v1/visits``."""
    return {"pairing_id": pairing_id, **as_json(visit_fields(start, minutes))}


# Through the ledger ------------------------------------------------------------------------


@dataclass
class Pair:
    volunteer_id: UUID
    elder_id: UUID
    pairing_id: UUID


def make_pair(ledger: Ledger, n: int, township: str = TOWNSHIP) -> Pair:
    elder = ledger.register_elder(county=LIANSHUI, **elder_fields(n, township), by=COORDINATOR)
    volunteer = ledger.recruit_volunteer(county=LIANSHUI, **volunteer_fields(n, township), by=COORDINATOR)
    pairing = ledger.form_pairing(
        volunteer_id=volunteer.id, elder_id=elder.id, group=f"{township}第1组", from_date=PAIRED_FROM,
        by=COORDINATOR,
    )  # fmt: skip
    return Pair(volunteer.id, elder.id, pairing.id)


def visit_at(ledger: Ledger, pair: Pair, start: datetime, *, minutes: int = 45, confirm: bool = True) -> UUID:
    written = ledger.record_visit(
        pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id), **visit_fields(start, minutes)
    )
    if confirm:
        ledger.confirm_visit(written.id, confirmed_by="elder", method="signature", by=COORDINATOR)
    return written.id


def claim_of_february(ledger: Ledger, pair: Pair, visits: int = 2) -> UUID:
    """A submitted claim for `visits` confirmed home visits in February 2026."""
    first = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
    ids = [visit_at(ledger, pair, first + timedelta(days=3 * i)) for i in range(visits)]
    return ledger.submit_claim(
        volunteer_id=pair.volunteer_id, month="2026-02", visit_ids=ids, by=as_volunteer(pair.volunteer_id)
    ).id


def criteria(score: int = 90, **scores: int) -> dict[str, int]:
    """An evaluation's scores on the default evaluation method's criteria: ``score`` each, unless named."""
    from ledger.policies import DEFAULT_PARAMETERS, PolicyKind, evaluation_criteria

    names = [c.name for c in evaluation_criteria(DEFAULT_PARAMETERS[PolicyKind.SCORING])]
    unknown = set(scores) - set(names)
    assert not unknown, f"not criteria of the default method: {sorted(unknown)}"
    return {name: scores.get(name, score) for name in names}


def event_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


# Through the HTTP API ----------------------------------------------------------------------


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
        body = as_json(elder_fields(next(self.serial), township))
        return str(self.post("/v1/elders", body, "coordinator")["id"])

    def volunteer(self, township: str = TOWNSHIP) -> str:
        body = volunteer_fields(next(self.serial), township)
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
