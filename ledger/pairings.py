"""Pairings (结对): a volunteer serving an elder, from a date until ended.

Rules: volunteer and elder both active and of one county; one active pairing per
(volunteer, elder); a volunteer's active load is at most the policy's cap.

The last two rules span many pairings, so each volunteer has a :class:`Caseload` with a
deterministic id: forming or ending a pairing changes the caseload in the same atomic save,
and two racing formations for one volunteer collide on its version instead of both passing.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, county_date, require_choice, require_text, stable_id
from ledger.elders import Elder
from ledger.errors import InvalidInput, RuleViolation
from ledger.volunteers import Volunteer


class EndReason(StrEnum):
    """Why a pairing ended."""

    ELDER_DEPARTED = "elder_departed"
    VOLUNTEER_LEFT = "volunteer_left"
    REASSIGNED = "reassigned"
    ELDER_REQUEST = "elder_request"
    OTHER = "other"


def caseload_id(volunteer_id: UUID) -> UUID:
    return stable_id("caseload", volunteer_id)


class Caseload(Aggregate):
    """The active pairings of one volunteer: the consistency boundary for load and duplicates."""

    TOPIC = "tiexin.caseload"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.caseload.Created"

    @staticmethod
    def create_id(volunteer_id: UUID) -> UUID:
        return caseload_id(volunteer_id)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.caseload.Opened"
        volunteer_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(self, volunteer_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.volunteer_id = volunteer_id
        self.active: dict[str, str] = {}

    def check_can_take(self, elder_id: UUID, cap: int) -> None:
        if str(elder_id) in self.active.values():
            raise RuleViolation(
                "pairing.duplicate",
                f"volunteer {self.volunteer_id} already has an active pairing with elder {elder_id}",
            )
        if len(self.active) >= cap:
            raise RuleViolation(
                "pairing.load_cap",
                f"volunteer {self.volunteer_id} already serves {len(self.active)} elders; "
                f"the policy caps the load at {cap}",
            )

    class PairingAdded(Aggregate.Event):
        TOPIC = "tiexin.caseload.PairingAdded"
        pairing_id: UUID
        elder_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(PairingAdded)
    def add(self, pairing_id: UUID, elder_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.active[str(pairing_id)] = str(elder_id)

    class PairingRemoved(Aggregate.Event):
        TOPIC = "tiexin.caseload.PairingRemoved"
        pairing_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(PairingRemoved)
    def remove(self, pairing_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.active.pop(str(pairing_id), None)


class Pairing(Aggregate):
    TOPIC = "tiexin.pairing"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.pairing.Created"

    @classmethod
    def form(
        cls,
        volunteer: Volunteer,
        elder: Elder,
        caseload: Caseload,
        *,
        group: str,
        from_date: date,
        cap: int,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Pairing:
        check_calendar_date("from_date", from_date, county_date(now))
        volunteer.check_active("be paired")
        elder.check_not_departed("pair")
        if volunteer.county != elder.county:
            raise RuleViolation(
                "pairing.other_county",
                f"volunteer of {volunteer.county} cannot serve an elder of {elder.county}",
            )
        caseload.check_can_take(elder.id, cap)
        pairing = cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            volunteer_id=volunteer.id,
            elder_id=elder.id,
            group=require_text("group", group, max_length=80),
            from_date=from_date,
            timestamp=now,
            meta=meta,
        )
        caseload.add(pairing_id=pairing.id, elder_id=elder.id, timestamp=now, meta=meta)
        return pairing

    class Formed(Aggregate.Created):
        TOPIC = "tiexin.pairing.Formed"
        volunteer_id: UUID
        elder_id: UUID
        group: str
        from_date: date
        timestamp: datetime
        meta: Provenance

    @event(Formed)
    def __init__(
        self,
        volunteer_id: UUID,
        elder_id: UUID,
        group: str,
        from_date: date,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.volunteer_id = volunteer_id
        self.elder_id = elder_id
        self.group = group
        self.from_date = from_date
        self.ended_on: date | None = None

    def end(self, caseload: Caseload, *, on: date, reason: str, now: datetime, meta: Provenance) -> None:
        if self.ended_on is not None:
            raise RuleViolation("pairing.ended", f"pairing {self.id} already ended on {self.ended_on}")
        check_calendar_date("date", on, county_date(now))
        if on < self.from_date:
            raise InvalidInput("date", f"a pairing cannot end before it began ({self.from_date})")
        reason = require_choice("reason", reason, EndReason)
        self._ended(on=on, reason=reason, timestamp=now, meta=meta)
        caseload.remove(pairing_id=self.id, timestamp=now, meta=meta)

    class Ended(Aggregate.Event):
        TOPIC = "tiexin.pairing.Ended"
        on: date
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Ended)
    def _ended(self, on: date, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.ended_on = on

    def check_active_on(self, day: date) -> None:
        """A visit needs a pairing that was active on the visit's day."""
        if day < self.from_date or (self.ended_on is not None and day > self.ended_on):
            until = f" until {self.ended_on}" if self.ended_on else ""
            raise RuleViolation(
                "visit.no_active_pairing",
                f"pairing {self.id} was not active on {day} (active from {self.from_date}{until})",
            )


def check_calendar_date(field: str, day: date, today: date) -> None:
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InvalidInput(field, "must be a calendar date")
    if day > today:
        raise InvalidInput(field, "cannot be in the future")
