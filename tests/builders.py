"""Small scenarios built through the service, shared by the integration and e2e tiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.application import Ledger
from ledger.common import Provenance
from ledger.counties import LIANSHUI

COORDINATOR = Provenance("coordinator-1", "coordinator")
FINANCE_A = Provenance("finance-a", "finance")
FINANCE_B = Provenance("finance-b", "finance")
EVALUATOR = Provenance("evaluator-1", "evaluator")


def as_volunteer(volunteer_id: UUID) -> Provenance:
    return Provenance(str(volunteer_id), "volunteer")


@dataclass
class Pair:
    volunteer_id: UUID
    elder_id: UUID
    pairing_id: UUID


def make_pair(ledger: Ledger, n: int, township: str = "高沟镇") -> Pair:
    elder = ledger.register_elder(
        county=LIANSHUI, name=f"老人{n}", birth_date=date(1935, 5, 1), sex="male", township=township,
        address=f"{township}幸福路{n}号", phone=f"1380000{n:04d}", by=COORDINATOR,
    )  # fmt: skip
    volunteer = ledger.recruit_volunteer(
        county=LIANSHUI, name=f"志愿者{n}", unit="涟水县人民医院", profession="nurse",
        phone=f"1390000{n:04d}", township=township, by=COORDINATOR,
    )  # fmt: skip
    pairing = ledger.form_pairing(
        volunteer_id=volunteer.id, elder_id=elder.id, group=f"{township}第1组", from_date=date(2026, 1, 1),
        by=COORDINATOR,
    )  # fmt: skip
    return Pair(volunteer.id, elder.id, pairing.id)


def visit_at(ledger: Ledger, pair: Pair, start: datetime, *, minutes: int = 45, confirm: bool = True) -> UUID:
    written = ledger.record_visit(
        pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id), kind="medical",
        services=["blood_pressure", "health_advice"], readings={"systolic": 135, "diastolic": 85},
        started_at=start, ended_at=start + timedelta(minutes=minutes), township="高沟镇",
        distance_band="at_home", travel_km=Decimal("4.5"), gift_bag=False,
    )  # fmt: skip
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


def event_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0
