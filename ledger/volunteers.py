"""Volunteers (贴心儿女): medical workers from the county's health units.

Rules: only an active volunteer is paired, visits or claims; a retired volunteer is never
reinstated; training hours are positive and at most a day's worth per course record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, county_date, require_choice, require_text
from ledger.counties import County
from ledger.errors import InvalidInput, RuleViolation
from ledger.personal import FORGOTTEN
from ledger.privacy import check_forget_reason, check_not_forgotten


class Profession(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    TECHNICIAN = "technician"
    OTHER = "other"


class VolunteerStatus(StrEnum):
    """Only an active volunteer is paired, visits or claims; a retired one stays retired."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


MAX_COURSE_HOURS = Decimal(24)


class Volunteer(Aggregate):
    TOPIC = "tiexin.volunteer"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.volunteer.Created"

    @classmethod
    def recruit(
        cls,
        county: County,
        *,
        name: str,
        unit: str,
        profession: str,
        phone: str,
        township: str,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Volunteer:
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            county=county.code,
            name=require_text("name", name, max_length=80),
            unit=require_text("unit", unit),
            profession=require_choice("profession", profession, Profession),
            phone=require_text("phone", phone, max_length=40),
            township=county.check_township(township),
            timestamp=now,
            meta=meta,
        )

    class Recruited(Aggregate.Created):
        TOPIC = "tiexin.volunteer.Recruited"
        PERSONAL: ClassVar[tuple[str, ...]] = ("name", "phone")
        SUBJECT: ClassVar[str | None] = "originator_id"
        county: str
        name: str
        unit: str
        profession: str
        phone: str
        township: str
        timestamp: datetime
        meta: Provenance

    @event(Recruited)
    def __init__(
        self,
        county: str,
        name: str,
        unit: str,
        profession: str,
        phone: str,
        township: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.county = county
        self.name = name
        self.unit = unit
        self.profession = profession
        self.phone = phone
        self.township = township
        self.status = VolunteerStatus.ACTIVE
        self.training_hours: dict[int, Decimal] = {}
        self.forgotten = False

    @property
    def personal_subject(self) -> UUID:
        return self.id

    def complete_training(self, *, course: str, hours: Decimal, on: date, now: datetime, meta: Provenance) -> None:
        self.check_not_retired("record training")
        if not isinstance(hours, Decimal | int) or isinstance(hours, bool):
            raise InvalidInput("hours", "must be a number of hours")
        hours = Decimal(hours)
        if not hours.is_finite() or not Decimal(0) < hours <= MAX_COURSE_HOURS:
            raise InvalidInput("hours", f"must be more than 0 and at most {MAX_COURSE_HOURS}")
        if not isinstance(on, date) or isinstance(on, datetime) or on > county_date(now):
            raise InvalidInput("date", "must be a calendar date not in the future")
        course = require_text("course", course)
        self._training_completed(course=course, hours=hours, on=on, timestamp=now, meta=meta)

    class TrainingCompleted(Aggregate.Event):
        TOPIC = "tiexin.volunteer.TrainingCompleted"
        course: str
        hours: Decimal
        on: date
        timestamp: datetime
        meta: Provenance

    @event(TrainingCompleted)
    def _training_completed(self, course: str, hours: Decimal, on: date, timestamp: datetime, meta: Provenance) -> None:
        self.training_hours[on.year] = self.training_hours.get(on.year, Decimal(0)) + hours

    def suspend(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        self.check_active("be suspended")
        self._suspended(reason=require_text("reason", reason), timestamp=now, meta=meta)

    class Suspended(Aggregate.Event):
        TOPIC = "tiexin.volunteer.Suspended"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = "originator_id"
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Suspended)
    def _suspended(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VolunteerStatus.SUSPENDED

    def reinstate(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        if self.status != VolunteerStatus.SUSPENDED:
            raise RuleViolation("volunteer.not_suspended", f"volunteer {self.id} is {self.status}, not suspended")
        self._reinstated(reason=require_text("reason", reason), timestamp=now, meta=meta)

    class Reinstated(Aggregate.Event):
        TOPIC = "tiexin.volunteer.Reinstated"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = "originator_id"
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Reinstated)
    def _reinstated(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VolunteerStatus.ACTIVE

    def retire(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        self.check_not_retired("retire")
        self._retired(reason=require_text("reason", reason), timestamp=now, meta=meta)

    class Retired(Aggregate.Event):
        TOPIC = "tiexin.volunteer.Retired"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = "originator_id"
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Retired)
    def _retired(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VolunteerStatus.RETIRED

    def forget(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        """Record that the volunteer's key was destroyed (:mod:`ledger.privacy`); once only."""
        check_not_forgotten("volunteer", self.id, self.forgotten)
        self._forgotten(reason=check_forget_reason(reason), timestamp=now, meta=meta)

    class Forgotten(Aggregate.Event):
        """The volunteer's personal data can no longer be read: their key is destroyed. Carries nothing personal."""

        TOPIC = "tiexin.volunteer.Forgotten"
        FORGETS_SUBJECT: ClassVar[bool] = True
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Forgotten)
    def _forgotten(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.forgotten = True
        self.name = self.phone = FORGOTTEN

    def check_active(self, action: str) -> None:
        """Only an active volunteer is paired, visits or claims."""
        if self.status != VolunteerStatus.ACTIVE:
            raise RuleViolation("volunteer.not_active", f"volunteer {self.id} is {self.status} and cannot {action}")

    def check_not_retired(self, action: str) -> None:
        if self.status == VolunteerStatus.RETIRED:
            raise RuleViolation("volunteer.retired", f"volunteer {self.id} is retired; cannot {action}")
