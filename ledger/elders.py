"""Elders (离休干部): the retired cadres the programme serves, and the other groups a wider programme may.

Rules: the township is one of the county's; born on or before today; a departed elder
(deceased, withdrawn, moved away) is never paired or visited after the departure date.

Each elder is of one :class:`ElderCategory`, given at registration (default: a retired cadre, the
programme's own group) and changed by a recategorisation (with a reason; not once departed).
Registrations stored before the category existed (``Registered`` at class version 1) load as
retired cadres: the only group the programme then served.

The registered township is kept over time (:attr:`Elder.residences`): a relocation is in force
from the county day it was recorded, and :func:`township_on` answers the township in force on a
given day (a visit's subsidy is priced from it, :mod:`ledger.subsidy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, county_date, require_choice, require_text
from ledger.counties import County
from ledger.errors import InvalidInput, RuleViolation
from ledger.personal import FORGOTTEN
from ledger.privacy import check_forget_reason, check_not_forgotten


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class DepartureKind(StrEnum):
    """Why an elder left the programme."""

    DECEASED = "deceased"
    WITHDRAWN = "withdrawn"
    MOVED_AWAY = "moved_away"


class ElderCategory(StrEnum):
    """Which group of elders someone belongs to: the programme's own, or one a wider programme adds."""

    RETIRED_CADRE = "retired_cadre"
    EMPTY_NESTER = "empty_nester"
    DISABLED = "disabled"
    OTHER = "other"


class ElderStatus(StrEnum):
    """Whether an elder is still served: it follows from the departure date (not itself recorded)."""

    ACTIVE = "active"
    DEPARTED = "departed"

    @classmethod
    def of(cls, departed_on: date | None) -> ElderStatus:
        return cls.ACTIVE if departed_on is None else cls.DEPARTED


OLDEST_PLAUSIBLE_AGE = 130


class Elder(Aggregate):
    TOPIC = "tiexin.elder"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.elder.Created"

    @classmethod
    def register(
        cls,
        county: County,
        *,
        name: str,
        birth_date: date,
        sex: str,
        township: str,
        address: str,
        phone: str,
        notes: str = "",
        category: str = ElderCategory.RETIRED_CADRE,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Elder:
        check_birth_date(birth_date, county_date(now))
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            county=county.code,
            name=require_text("name", name, max_length=80),
            birth_date=birth_date,
            sex=require_choice("sex", sex, Sex),
            township=county.check_township(township),
            address=require_text("address", address),
            phone=require_text("phone", phone, max_length=40),
            notes=require_text("notes", notes, max_length=2000, optional=True),
            category=require_choice("category", category, ElderCategory),
            timestamp=now,
            meta=meta,
        )

    class Registered(Aggregate.Created):
        TOPIC = "tiexin.elder.Registered"
        PERSONAL: ClassVar[tuple[str, ...]] = ("name", "birth_date", "address", "phone", "notes")
        SUBJECT: ClassVar[str | None] = "originator_id"
        class_version = 2
        """Version 2 adds ``category``; version 1 had none (every elder then was a retired cadre)."""
        county: str
        name: str
        birth_date: date
        sex: str
        township: str
        address: str
        phone: str
        notes: str
        category: str
        timestamp: datetime
        meta: Provenance

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Registrations stored before the category existed were all of the programme's own group."""
            state["category"] = ElderCategory.RETIRED_CADRE.value

    @event(Registered)
    def __init__(
        self,
        county: str,
        name: str,
        birth_date: date,
        sex: str,
        township: str,
        address: str,
        phone: str,
        notes: str,
        category: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.county = county
        self.category = category
        self.name = name
        self.birth_date: date | None = birth_date
        self.sex = sex
        self.township = township
        self.address = address
        self.phone = phone
        self.notes = notes
        self.departed_on: date | None = None
        self.departure_kind: str | None = None
        self.forgotten = False
        self.residences: list[tuple[date, str]] = [(county_date(timestamp), township)]
        """(in force from, township): the registration, then each relocation, in the order recorded."""

    @property
    def personal_subject(self) -> UUID:
        return self.id

    def relocate(self, county: County, *, township: str, address: str, now: datetime, meta: Provenance) -> None:
        self.check_not_departed("relocate")
        self._relocated(
            township=county.check_township(township),
            address=require_text("address", address),
            timestamp=now,
            meta=meta,
        )

    class Relocated(Aggregate.Event):
        TOPIC = "tiexin.elder.Relocated"
        PERSONAL: ClassVar[tuple[str, ...]] = ("address",)
        SUBJECT: ClassVar[str | None] = "originator_id"
        township: str
        address: str
        timestamp: datetime
        meta: Provenance

    @event(Relocated)
    def _relocated(self, township: str, address: str, timestamp: datetime, meta: Provenance) -> None:
        self.township = township
        self.address = address
        self.residences.append((county_date(timestamp), township))

    def recategorise(self, *, category: str, reason: str, now: datetime, meta: Provenance) -> None:
        """Put the elder in another category (from now on; the registration's stays in the log)."""
        self.check_not_departed("recategorise")
        chosen = require_choice("category", category, ElderCategory)
        if chosen == self.category:
            raise RuleViolation("elder.same_category", f"elder {self.id} is already of category {chosen}")
        self._recategorised(
            category=chosen, reason=require_text("reason", reason, max_length=500), timestamp=now, meta=meta
        )

    class Recategorised(Aggregate.Event):
        TOPIC = "tiexin.elder.Recategorised"
        category: str
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Recategorised)
    def _recategorised(self, category: str, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.category = category

    def township_on(self, day: date) -> str:
        """The township the elder was registered in on ``day`` (see :func:`township_on`)."""
        return township_on(self.residences, day)

    def depart(self, *, kind: str, on: date, now: datetime, meta: Provenance) -> None:
        if self.departed_on is not None:
            raise RuleViolation("elder.departed", f"elder {self.id} already departed on {self.departed_on}")
        if not isinstance(on, date) or isinstance(on, datetime):
            raise InvalidInput("date", "must be a calendar date")
        if on > county_date(now):
            raise InvalidInput("date", "a departure cannot be recorded ahead of time")
        if self.birth_date is not None and on < self.birth_date:
            raise InvalidInput("date", "a departure cannot precede the birth date")
        self._departed(kind=require_choice("kind", kind, DepartureKind), on=on, timestamp=now, meta=meta)

    class Departed(Aggregate.Event):
        TOPIC = "tiexin.elder.Departed"
        kind: str
        on: date
        timestamp: datetime
        meta: Provenance

    @event(Departed)
    def _departed(self, kind: str, on: date, timestamp: datetime, meta: Provenance) -> None:
        self.departure_kind = kind
        self.departed_on = on

    def forget(self, *, reason: str, now: datetime, meta: Provenance) -> None:
        """Record that the elder's key was destroyed (:mod:`ledger.privacy`); once only."""
        check_not_forgotten("elder", self.id, self.forgotten)
        self._forgotten(reason=check_forget_reason(reason), timestamp=now, meta=meta)

    class Forgotten(Aggregate.Event):
        """The elder's personal data can no longer be read: their key is destroyed. Carries nothing personal."""

        TOPIC = "tiexin.elder.Forgotten"
        FORGETS_SUBJECT: ClassVar[bool] = True
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Forgotten)
    def _forgotten(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.forgotten = True
        self.name = self.address = self.phone = self.notes = FORGOTTEN
        self.birth_date = None

    @property
    def status(self) -> ElderStatus:
        return ElderStatus.of(self.departed_on)

    def check_present_on(self, day: date, action: str) -> None:
        """No pairing or visit after the elder departed."""
        if self.departed_on is not None and day > self.departed_on:
            raise RuleViolation(
                "elder.departed",
                f"cannot {action} on {day}: elder {self.id} departed ({self.departure_kind}) on {self.departed_on}",
            )

    def check_not_departed(self, action: str) -> None:
        if self.departed_on is not None:
            raise RuleViolation("elder.departed", f"cannot {action}: elder {self.id} departed on {self.departed_on}")


def township_on(residences: Sequence[tuple[date, str]], day: date) -> str:
    """The township in force on ``day`` of ``(in force from, township)`` residences in the order recorded."""
    return residences[in_force_on([since for since, _ in residences], day)][1]


def in_force_on(since: Sequence[date], day: date) -> int:
    """Which residence is in force on ``day``, given the days each is in force from, in the order
    recorded: the last one in force on or before ``day``; before the first, the first (the registration)."""
    if not since:
        raise ValueError("an elder has at least the township it was registered in")
    found = 0
    for n, start in enumerate(since):
        if start <= day:
            found = n
    return found


def check_birth_date(birth_date: date, today: date) -> None:
    if not isinstance(birth_date, date) or isinstance(birth_date, datetime):
        raise InvalidInput("birth_date", "must be a calendar date")
    if birth_date > today:
        raise InvalidInput("birth_date", "cannot be in the future")
    if today.year - birth_date.year > OLDEST_PLAUSIBLE_AGE:
        raise InvalidInput("birth_date", f"implies an age over {OLDEST_PLAUSIBLE_AGE}")
