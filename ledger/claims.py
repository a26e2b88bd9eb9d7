"""Claims (补贴申领): a volunteer's monthly request for the transport and phone subsidy.

Rules:
- only confirmed, unvoided, undisputed visits of that volunteer in that month;
- a visit is in at most one live claim, ever: each claimed visit has a :class:`ClaimedVisit`
  with a deterministic id, so a second claim of it collides in the store; only a rejection or
  a reversal gives the visit back;
- amounts follow the subsidy policy in force on the first day of the month, with the monthly
  cap and the flat communication amount kept per volunteer-month by a
  :class:`MonthlyAllowance` (also a deterministic id);
- approver ≠ submitter and payer ≠ submitter (maker-checker); approval commits the budget in
  the same atomic save; a reversal releases it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.budgets import BudgetLine
from ledger.common import Provenance, county_date, require_text, stable_id
from ledger.errors import InvalidInput, RuleViolation
from ledger.subsidy import PricedClaim


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    REVERSED = "reversed"


LIVE = (ClaimStatus.SUBMITTED, ClaimStatus.APPROVED, ClaimStatus.PAID)
"""A live claim holds its visits and its month's allowance; a rejection or a reversal gives them back."""
MAX_ITEMS = 200


def claimed_visit_id(visit_id: UUID) -> UUID:
    return stable_id("claimed-visit", visit_id)


def allowance_id(volunteer_id: UUID, month: str) -> UUID:
    return stable_id("allowance", volunteer_id, month)


class ClaimedVisit(Aggregate):
    """Which live claim, if any, holds a visit."""

    TOPIC = "tiexin.claimed_visit"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.claimed_visit.Created"

    @staticmethod
    def create_id(visit_id: UUID, claim_id: UUID) -> UUID:
        return claimed_visit_id(visit_id)

    class Claimed(Aggregate.Created):
        TOPIC = "tiexin.claimed_visit.Claimed"
        visit_id: UUID
        claim_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Claimed)
    def __init__(self, visit_id: UUID, claim_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.visit_id = visit_id
        self.claim_id: UUID | None = claim_id

    def check_free(self) -> None:
        if self.claim_id is not None:
            raise RuleViolation(
                "claim.visit_already_claimed",
                f"visit {self.visit_id} is already in claim {self.claim_id}; a visit is claimed once",
            )

    class Reclaimed(Aggregate.Event):
        TOPIC = "tiexin.claimed_visit.Reclaimed"
        claim_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Reclaimed)
    def reclaim(self, claim_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.claim_id = claim_id

    class Released(Aggregate.Event):
        TOPIC = "tiexin.claimed_visit.Released"
        claim_id: UUID
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Released)
    def release(self, claim_id: UUID, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.claim_id = None


class MonthlyAllowance(Aggregate):
    """A volunteer's subsidy drawn in one month, across all of the month's live claims."""

    TOPIC = "tiexin.allowance"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.allowance.Created"

    @staticmethod
    def create_id(volunteer_id: UUID, month: str) -> UUID:
        return allowance_id(volunteer_id, month)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.allowance.Opened"
        volunteer_id: UUID
        month: str
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(self, volunteer_id: UUID, month: str, timestamp: datetime, meta: Provenance) -> None:
        self.draws: dict[str, dict[str, int]] = {}

    @property
    def transport_fen(self) -> int:
        return sum(d[BudgetLine.TRANSPORT] for d in self.draws.values())

    @property
    def communication_paid(self) -> bool:
        return any(d[BudgetLine.COMMUNICATION] for d in self.draws.values())

    class Drawn(Aggregate.Event):
        TOPIC = "tiexin.allowance.Drawn"
        claim_id: UUID
        transport: int
        communication: int
        timestamp: datetime
        meta: Provenance

    @event(Drawn)
    def draw(self, claim_id: UUID, transport: int, communication: int, timestamp: datetime, meta: Provenance) -> None:
        self.draws[str(claim_id)] = {BudgetLine.TRANSPORT: transport, BudgetLine.COMMUNICATION: communication}

    class Restored(Aggregate.Event):
        TOPIC = "tiexin.allowance.Restored"
        claim_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Restored)
    def restore(self, claim_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.draws.pop(str(claim_id), None)


class Claim(Aggregate):
    TOPIC = "tiexin.claim"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.claim.Created"

    @classmethod
    def submit(
        cls,
        *,
        volunteer_id: UUID,
        county: str,
        month: str,
        priced: PricedClaim,
        policy_version: int,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Claim:
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            volunteer_id=volunteer_id,
            county=county,
            month=month,
            items=priced.items,
            communication_fen=priced.communication_fen,
            total_fen=priced.total_fen,
            policy_version=policy_version,
            submitted_by=meta.principal_id,
            timestamp=now,
            meta=meta,
        )

    class Submitted(Aggregate.Created):
        TOPIC = "tiexin.claim.Submitted"
        volunteer_id: UUID
        county: str
        month: str
        items: list[dict[str, Any]]
        communication_fen: int
        total_fen: int
        policy_version: int
        submitted_by: str
        timestamp: datetime
        meta: Provenance

    @event(Submitted)
    def __init__(
        self,
        volunteer_id: UUID,
        county: str,
        month: str,
        items: list[dict[str, Any]],
        communication_fen: int,
        total_fen: int,
        policy_version: int,
        submitted_by: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.volunteer_id = volunteer_id
        self.county = county
        self.month = month
        self.items = items
        self.communication_fen = communication_fen
        self.total_fen = total_fen
        self.policy_version = policy_version
        self.submitted_by = submitted_by
        self.status = ClaimStatus.SUBMITTED
        self.approved_on: date | None = None

    @property
    def personal_subject(self) -> UUID:
        """Free text about it (a reason, a comment) is the volunteer's personal data."""
        return self.volunteer_id

    @property
    def visit_ids(self) -> list[UUID]:
        return [item["visit_id"] for item in self.items]

    @property
    def amounts_by_line(self) -> dict[str, int]:
        transport = sum(int(item["transport_fen"]) for item in self.items)
        return {BudgetLine.TRANSPORT: transport, BudgetLine.COMMUNICATION: self.communication_fen}

    def approve(self, *, now: datetime, meta: Provenance) -> None:
        self.check_status("approve", ClaimStatus.SUBMITTED)
        self.check_not_submitter(meta, "approve")
        self._approved(by=meta.principal_id, timestamp=now, meta=meta)

    class Approved(Aggregate.Event):
        TOPIC = "tiexin.claim.Approved"
        by: str
        timestamp: datetime
        meta: Provenance

    @event(Approved)
    def _approved(self, by: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = ClaimStatus.APPROVED
        self.approved_on = county_date(timestamp)

    def reject(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        self.check_status("reject", ClaimStatus.SUBMITTED)
        reason = require_text("reason", reason, max_length=2000)
        self._rejected(by=meta.principal_id, reason=reason, timestamp=now, meta=meta)

    class Rejected(Aggregate.Event):
        TOPIC = "tiexin.claim.Rejected"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = None  # the claim's volunteer (personal_subject)
        by: str
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Rejected)
    def _rejected(self, by: str, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = ClaimStatus.REJECTED

    def pay(self, *, reference: str, paid_on: date, now: datetime, meta: Provenance) -> None:
        self.check_status("pay", ClaimStatus.APPROVED)
        self.check_not_submitter(meta, "pay")
        reference = require_text("payment_reference", reference, max_length=80)
        if not isinstance(paid_on, date) or isinstance(paid_on, datetime):
            raise InvalidInput("paid_on", "must be a calendar date")
        if paid_on > county_date(now):
            raise InvalidInput("paid_on", "a payment cannot be recorded ahead of time")
        if self.approved_on and paid_on < self.approved_on:
            raise InvalidInput("paid_on", f"a claim is paid on or after its approval ({self.approved_on})")
        self._paid(by=meta.principal_id, reference=reference, paid_on=paid_on, timestamp=now, meta=meta)

    class Paid(Aggregate.Event):
        TOPIC = "tiexin.claim.Paid"
        by: str
        reference: str
        paid_on: date
        timestamp: datetime
        meta: Provenance

    @event(Paid)
    def _paid(self, by: str, reference: str, paid_on: date, timestamp: datetime, meta: Provenance) -> None:
        self.status = ClaimStatus.PAID

    def reverse(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        self.check_status("reverse", ClaimStatus.APPROVED, ClaimStatus.PAID)
        reason = require_text("reason", reason, max_length=2000)
        self._reversed(by=meta.principal_id, reason=reason, timestamp=now, meta=meta)

    class Reversed(Aggregate.Event):
        TOPIC = "tiexin.claim.Reversed"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = None  # the claim's volunteer (personal_subject)
        by: str
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Reversed)
    def _reversed(self, by: str, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = ClaimStatus.REVERSED

    def check_status(self, action: str, *allowed: ClaimStatus) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                f"claim.not_{'_or_'.join(allowed)}",
                f"cannot {action} claim {self.id}: it is {self.status}, not {' or '.join(allowed)}",
            )

    def check_not_submitter(self, meta: Provenance, action: str) -> None:
        if meta.principal_id == self.submitted_by:
            raise RuleViolation("claim.maker_checker", f"the submitter of claim {self.id} cannot also {action} it")
