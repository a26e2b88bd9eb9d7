"""Visits (上门服务记录): one contact between a volunteer and an elder, home visit or phone call.

A visit carries the six data elements of electronic visit verification (EVV): the kind of
service, who received it, the date, where, who gave it, and the start and end time. Rules:
- the pairing was active on the visit's day, the elder had not departed, the volunteer is active;
- it ends after it starts, lasts at most 12 hours and is not in the future;
- readings (blood pressure, glucose, pulse) are physiologically possible;
- it is locked once it is in an approved claim or 30 days after its month ends; then only a
  coordinator's unlock (with a reason, itself an event) lets one amendment or void through.
Corrections are new events (Amended, Voided) with a reason code; nothing is ever rewritten.

The township a visit records is typed by the volunteer; its subsidy is priced from the elder's
registered township on the visit's day instead (:mod:`ledger.subsidy`), unless a coordinator
confirms the recorded place, with a reason (``PlaceConfirmed``: a home visit whose place differs
from the elder's township, not in a claim awaiting approval). A confirmation holds for the township
it confirmed: an amendment to another township needs a new one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import (
    Provenance,
    county_date,
    last_day,
    month_of,
    require_aware,
    require_choice,
    require_text,
)
from ledger.counties import County
from ledger.elders import Elder
from ledger.errors import InvalidInput, RuleViolation
from ledger.pairings import Pairing
from ledger.volunteers import Volunteer


class VisitKind(StrEnum):
    MEDICAL = "medical"
    EMOTIONAL = "emotional"
    DAILY_LIVING = "daily_living"
    PHONE_CALL = "phone_call"


class Service(StrEnum):
    """What was done on a visit; a visit lists one or more."""

    BLOOD_PRESSURE = "blood_pressure"
    BLOOD_GLUCOSE = "blood_glucose"
    PULSE = "pulse"
    MEDICAL_GUIDANCE = "medical_guidance"
    MEDICINE_PURCHASE = "medicine_purchase"
    HEALTH_ADVICE = "health_advice"
    FIRST_AID = "first_aid"
    CHAT = "chat"
    LISTENING = "listening"
    PSYCHOLOGICAL_SUPPORT = "psychological_support"
    CLEANING = "cleaning"
    READING_NEWSPAPER = "reading_newspaper"
    SHOPPING = "shopping"


class DistanceBand(StrEnum):
    """How far the volunteer travelled; a phone call is ``remote`` and only a phone call is."""

    AT_HOME = "at_home"
    WITHIN_500M = "within_500m"
    WITHIN_2KM = "within_2km"
    BEYOND_2KM = "beyond_2km"
    REMOTE = "remote"


class VisitStatus(StrEnum):
    RECORDED = "recorded"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    VOIDED = "voided"


class Confirmer(StrEnum):
    """Who confirmed that a visit happened."""

    ELDER = "elder"
    FAMILY = "family"
    COORDINATOR = "coordinator"


class ConfirmMethod(StrEnum):
    SIGNATURE = "signature"
    PHONE_CALLBACK = "phone_callback"
    IN_PERSON = "in_person"


class DisputeReason(StrEnum):
    DID_NOT_HAPPEN = "did_not_happen"
    WRONG_TIME = "wrong_time"
    WRONG_SERVICE = "wrong_service"
    TOO_SHORT = "too_short"
    WRONG_PERSON = "wrong_person"
    OTHER = "other"


class AmendReason(StrEnum):
    TYPO = "typo"
    WRONG_TIME = "wrong_time"
    WRONG_READING = "wrong_reading"
    WRONG_KIND = "wrong_kind"
    WRONG_PLACE = "wrong_place"
    LATE_DETAIL = "late_detail"
    OTHER = "other"


class VoidReason(StrEnum):
    DUPLICATE = "duplicate"
    NOT_PERFORMED = "not_performed"
    WRONG_ELDER = "wrong_elder"
    ENTERED_IN_ERROR = "entered_in_error"
    FRAUD_SUSPECTED = "fraud_suspected"


# Aliases, typed as the plain text they were, kept for the demo generator until it names VisitKind; no new use.
MEDICAL: str = VisitKind.MEDICAL
EMOTIONAL: str = VisitKind.EMOTIONAL
DAILY_LIVING: str = VisitKind.DAILY_LIVING
PHONE_CALL: str = VisitKind.PHONE_CALL

AMENDABLE = (
    "kind", "services", "readings", "started_at", "ended_at", "township", "distance_band",
    "travel_km", "gift_bag", "notes",
)  # fmt: skip
PRICED = ("kind", "township")
"""The fields that decide a visit's subsidy rate (its month, from started_at, decides the claim)."""
MAX_DURATION = timedelta(hours=12)
LOCK_AFTER_MONTH_END = timedelta(days=30)
READING_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    "systolic": (Decimal(60), Decimal(260)),
    "diastolic": (Decimal(30), Decimal(160)),
    "pulse": (Decimal(30), Decimal(220)),
    "glucose_mmol_l": (Decimal("1.0"), Decimal("35.0")),
}


class Visit(Aggregate):
    TOPIC = "tiexin.visit"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.visit.Created"

    @classmethod
    def record(
        cls,
        county: County,
        pairing: Pairing,
        elder: Elder,
        volunteer: Volunteer,
        details: dict[str, Any],
        *,
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Visit:
        volunteer.check_active("record a visit")
        fields = normalise_details(county, details)
        check_time_and_parties(fields, pairing, elder, now)
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            pairing_id=pairing.id,
            volunteer_id=volunteer.id,
            elder_id=elder.id,
            timestamp=now,
            meta=meta,
            **fields,
        )

    class Recorded(Aggregate.Created):
        TOPIC = "tiexin.visit.Recorded"
        PERSONAL: ClassVar[tuple[str, ...]] = ("readings", "notes")
        SUBJECT: ClassVar[str | None] = "elder_id"
        pairing_id: UUID
        volunteer_id: UUID
        elder_id: UUID
        kind: str
        services: list[str]
        readings: dict[str, Decimal]
        started_at: datetime
        ended_at: datetime
        township: str
        distance_band: str
        travel_km: Decimal
        gift_bag: bool
        notes: str
        timestamp: datetime
        meta: Provenance

    @event(Recorded)
    def __init__(
        self,
        pairing_id: UUID,
        volunteer_id: UUID,
        elder_id: UUID,
        kind: str,
        services: list[str],
        readings: dict[str, Decimal],
        started_at: datetime,
        ended_at: datetime,
        township: str,
        distance_band: str,
        travel_km: Decimal,
        gift_bag: bool,
        notes: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.pairing_id = pairing_id
        self.volunteer_id = volunteer_id
        self.elder_id = elder_id
        self.kind = kind
        self.services = services
        self.readings = readings
        self.started_at = started_at
        self.ended_at = ended_at
        self.township = township
        self.distance_band = distance_band
        self.travel_km = travel_km
        self.gift_bag = gift_bag
        self.notes = notes
        self.recorded_at = timestamp
        self.status = VisitStatus.RECORDED
        self.confirmed = False
        self.feedback_rating: int | None = None
        self.unlocked = False
        self.confirmed_place: str | None = None
        """The township a coordinator confirmed the visit took place in, if any."""

    @property
    def personal_subject(self) -> UUID:
        """A visit's personal data (readings, notes, comments) is its elder's."""
        return self.elder_id

    @property
    def day(self) -> date:
        """The county date the visit belongs to (its start)."""
        return county_date(self.started_at)

    @property
    def month(self) -> str:
        return month_of(self.day)

    @property
    def is_home_visit(self) -> bool:
        return self.kind != VisitKind.PHONE_CALL

    @property
    def place_confirmed(self) -> bool:
        """A coordinator confirmed the place the visit records now."""
        return self.confirmed_place is not None and self.confirmed_place == self.township

    # Confirmation, dispute, feedback ------------------------------------------------------

    def confirm(self, *, by: str, method: str, now: datetime, meta: Provenance) -> None:
        self.check_not_voided("confirm")
        if self.status == VisitStatus.CONFIRMED:
            raise RuleViolation("visit.already_confirmed", f"visit {self.id} is already confirmed")
        self._confirmed(
            by=require_choice("by", by, Confirmer),
            method=require_choice("method", method, ConfirmMethod),
            timestamp=now,
            meta=meta,
        )

    class Confirmed(Aggregate.Event):
        TOPIC = "tiexin.visit.Confirmed"
        by: str
        method: str
        timestamp: datetime
        meta: Provenance

    @event(Confirmed)
    def _confirmed(self, by: str, method: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VisitStatus.CONFIRMED
        self.confirmed = True

    def dispute(self, *, reason_code: str, comment: str = "", now: datetime, meta: Provenance) -> None:
        self.check_not_voided("dispute")
        if self.status == VisitStatus.DISPUTED:
            raise RuleViolation("visit.already_disputed", f"visit {self.id} is already disputed")
        self._disputed(
            reason_code=require_choice("reason_code", reason_code, DisputeReason),
            comment=require_text("comment", comment, max_length=2000, optional=True),
            timestamp=now,
            meta=meta,
        )

    class Disputed(Aggregate.Event):
        TOPIC = "tiexin.visit.Disputed"
        PERSONAL: ClassVar[tuple[str, ...]] = ("comment",)
        SUBJECT: ClassVar[str | None] = None  # the visit's elder (personal_subject)
        reason_code: str
        comment: str
        timestamp: datetime
        meta: Provenance

    @event(Disputed)
    def _disputed(self, reason_code: str, comment: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VisitStatus.DISPUTED

    def give_feedback(self, *, rating: int, comment: str = "", now: datetime, meta: Provenance) -> None:
        self.check_not_voided("take feedback")
        if self.feedback_rating is not None:
            raise RuleViolation("visit.feedback_given", f"visit {self.id} already has feedback")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput("rating", "must be a whole number from 1 to 5")
        comment = require_text("comment", comment, max_length=2000, optional=True)
        self._feedback_given(rating=rating, comment=comment, timestamp=now, meta=meta)

    class FeedbackGiven(Aggregate.Event):
        TOPIC = "tiexin.visit.FeedbackGiven"
        PERSONAL: ClassVar[tuple[str, ...]] = ("comment",)
        SUBJECT: ClassVar[str | None] = None  # the visit's elder (personal_subject)
        rating: int
        comment: str
        timestamp: datetime
        meta: Provenance

    @event(FeedbackGiven)
    def _feedback_given(self, rating: int, comment: str, timestamp: datetime, meta: Provenance) -> None:
        self.feedback_rating = rating

    # The place, confirmed by a coordinator ---------------------------------------------

    def confirm_place(
        self, *, registered_township: str, reason: str, in_pending_claim: bool, now: datetime, meta: Provenance
    ) -> None:
        """Confirm that the visit took place where it says, though the elder is registered elsewhere.

        ``registered_township``: the elder's registered township on the visit's day.
        """
        self.check_not_voided("confirm its place")
        if meta.role != "coordinator":
            raise RuleViolation("visit.place_confirmation_role", "only a coordinator can confirm a visit's place")
        if not self.is_home_visit:
            raise RuleViolation(
                "visit.place_not_priced",
                f"visit {self.id} is a phone call: its place earns nothing and needs no confirmation",
            )
        if self.township == registered_township:
            raise RuleViolation(
                "visit.place_is_registered",
                f"visit {self.id} took place in the elder's registered township on {self.day}; nothing to confirm",
            )
        if self.place_confirmed:
            raise RuleViolation("visit.place_already_confirmed", f"the place of visit {self.id} is already confirmed")
        if in_pending_claim:
            raise RuleViolation(
                "visit.in_pending_claim",
                f"visit {self.id} is in a claim awaiting approval; reject that claim before confirming its place",
            )
        reason = require_text("reason", reason, max_length=2000)
        self._place_confirmed(township=self.township, reason=reason, timestamp=now, meta=meta)

    class PlaceConfirmed(Aggregate.Event):
        TOPIC = "tiexin.visit.PlaceConfirmed"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = None  # the visit's elder (personal_subject)
        township: str
        """The place confirmed: the township the visit recorded then."""
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(PlaceConfirmed)
    def _place_confirmed(self, township: str, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.confirmed_place = township

    # Corrections: lock, unlock, amend, void ---------------------------------------------

    def is_locked(self, now: datetime, *, in_approved_claim: bool) -> bool:
        return in_approved_claim or month_closed(self.month, now)

    def check_correctable(self, now: datetime, *, in_approved_claim: bool) -> None:
        self.check_not_voided("correct")
        if self.is_locked(now, in_approved_claim=in_approved_claim) and not self.unlocked:
            why = "is in an approved claim" if in_approved_claim else "belongs to a closed month"
            raise RuleViolation(
                "visit.locked",
                f"visit {self.id} {why}; a coordinator must unlock it (with a reason) first",
            )

    def unlock(self, *, reason: str, in_approved_claim: bool, now: datetime, meta: Provenance) -> None:
        self.check_not_voided("unlock")
        if meta.role != "coordinator":
            raise RuleViolation("visit.unlock_role", "only a coordinator can unlock a visit")
        if not self.is_locked(now, in_approved_claim=in_approved_claim):
            raise RuleViolation("visit.not_locked", f"visit {self.id} is not locked")
        if self.unlocked:
            raise RuleViolation("visit.already_unlocked", f"visit {self.id} is already unlocked")
        self._unlocked(reason=require_text("reason", reason, max_length=2000), timestamp=now, meta=meta)

    class Unlocked(Aggregate.Event):
        TOPIC = "tiexin.visit.Unlocked"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = None  # the visit's elder (personal_subject)
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Unlocked)
    def _unlocked(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.unlocked = True

    def amend(
        self,
        county: County,
        pairing: Pairing,
        elder: Elder,
        *,
        changes: dict[str, Any],
        reason_code: str,
        in_approved_claim: bool,
        in_pending_claim: bool,
        now: datetime,
        meta: Provenance,
    ) -> None:
        self.check_correctable(now, in_approved_claim=in_approved_claim)
        reason_code = require_choice("reason_code", reason_code, AmendReason)
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput("changes", "name at least one field to change")
        unknown = sorted(set(changes) - set(AMENDABLE))
        if unknown:
            raise InvalidInput("changes", f"cannot amend {', '.join(unknown)}")
        merged = normalise_details(county, {**self.details(), **changes})
        check_time_and_parties(merged, pairing, elder, now)
        self.check_amendment_keeps_claims_true(merged, in_pending_claim=in_pending_claim, now=now)
        actual = {k: merged[k] for k in changes if merged[k] != getattr(self, k)}
        if not actual:
            raise InvalidInput("changes", "the amendment changes nothing")
        self._amended(changes=actual, reason_code=reason_code, timestamp=now, meta=meta)

    class Amended(Aggregate.Event):
        TOPIC = "tiexin.visit.Amended"
        PERSONAL: ClassVar[tuple[str, ...]] = ("changes.readings", "changes.notes")
        SUBJECT: ClassVar[str | None] = None  # the visit's elder (personal_subject)
        changes: dict[str, Any]
        reason_code: str
        timestamp: datetime
        meta: Provenance

    @event(Amended)
    def _amended(self, changes: dict[str, Any], reason_code: str, timestamp: datetime, meta: Provenance) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.unlocked = False

    def check_amendment_keeps_claims_true(
        self, merged: dict[str, Any], *, in_pending_claim: bool, now: datetime
    ) -> None:
        """An amendment may not move a visit into a closed month, nor reprice a claim awaiting approval."""
        new_month = month_of(county_date(merged["started_at"]))
        if new_month != self.month and month_closed(new_month, now) and not self.unlocked:
            raise RuleViolation("visit.locked", f"{new_month} is closed; a coordinator must unlock the visit first")
        priced = [name for name in PRICED if merged[name] != getattr(self, name)]
        moved = new_month != self.month
        if in_pending_claim and (priced or moved):
            raise RuleViolation(
                "visit.in_pending_claim",
                f"visit {self.id} is in a claim awaiting approval; reject that claim before changing "
                f"{', '.join(priced + (['month'] if moved else []))}",
            )

    def void(self, *, reason_code: str, in_approved_claim: bool, now: datetime, meta: Provenance) -> None:
        self.check_correctable(now, in_approved_claim=in_approved_claim)
        self._voided(reason_code=require_choice("reason_code", reason_code, VoidReason), timestamp=now, meta=meta)

    class Voided(Aggregate.Event):
        TOPIC = "tiexin.visit.Voided"
        reason_code: str
        timestamp: datetime
        meta: Provenance

    @event(Voided)
    def _voided(self, reason_code: str, timestamp: datetime, meta: Provenance) -> None:
        self.status = VisitStatus.VOIDED
        self.unlocked = False

    def check_not_voided(self, action: str) -> None:
        if self.status == VisitStatus.VOIDED:
            raise RuleViolation("visit.voided", f"visit {self.id} is voided; cannot {action}")

    def details(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in AMENDABLE}


def month_closed(month: str, now: datetime) -> bool:
    """A month closes for corrections 30 days after its last day (county time)."""
    return county_date(now) > last_day(month) + LOCK_AFTER_MONTH_END


def normalise_details(county: County, details: dict[str, Any]) -> dict[str, Any]:
    """Check the shape of every EVV field and return them in their stored form."""
    kind = require_choice("kind", details.get("kind"), VisitKind)
    band = require_choice("distance_band", details.get("distance_band"), DistanceBand)
    if (kind == VisitKind.PHONE_CALL) != (band == DistanceBand.REMOTE):
        raise InvalidInput("distance_band", "a phone call is 'remote'; a home visit is never 'remote'")
    return {
        "kind": kind,
        "services": check_services(details.get("services")),
        "readings": check_readings(kind, details.get("readings") or {}),
        "started_at": require_aware("started_at", details.get("started_at")),  # type: ignore[arg-type]
        "ended_at": require_aware("ended_at", details.get("ended_at")),  # type: ignore[arg-type]
        "township": county.check_township(require_text("township", details.get("township"), max_length=40)),
        "distance_band": band,
        "travel_km": check_travel_km(details.get("travel_km", Decimal(0))),
        "gift_bag": check_flag("gift_bag", details.get("gift_bag", False)),
        "notes": require_text("notes", details.get("notes", ""), max_length=2000, optional=True),
    }


def check_time_and_parties(fields: dict[str, Any], pairing: Pairing, elder: Elder, now: datetime) -> None:
    started, ended = fields["started_at"], fields["ended_at"]
    if ended <= started:
        raise InvalidInput("ended_at", "a visit must end after it starts")
    if ended - started > MAX_DURATION:
        raise InvalidInput("ended_at", "a visit lasts at most 12 hours")
    if ended > now:
        raise InvalidInput("ended_at", "a visit cannot be recorded before it has ended")
    day = county_date(started)
    pairing.check_active_on(day)
    elder.check_present_on(day, "record a visit")


def check_services(services: object) -> list[str]:
    if not isinstance(services, list | tuple) or not services:
        raise InvalidInput("services", "list at least one service given")
    checked = [require_choice("services", s, Service) for s in services]
    if len(set(checked)) != len(checked):
        raise InvalidInput("services", "list each service once")
    return checked


def check_readings(kind: str, readings: object) -> dict[str, Decimal]:
    if not isinstance(readings, dict):
        raise InvalidInput("readings", "must be an object of named readings")
    if readings and kind == VisitKind.PHONE_CALL:
        raise InvalidInput("readings", "readings are taken in person, not on a phone call")
    checked: dict[str, Decimal] = {}
    for name, value in readings.items():
        if name not in READING_BOUNDS:
            raise InvalidInput("readings", f"unknown reading {name!r}; one of {', '.join(READING_BOUNDS)}")
        checked[name] = check_reading(name, value)
    if ("systolic" in checked) != ("diastolic" in checked):
        raise InvalidInput("readings", "blood pressure needs both systolic and diastolic")
    if "systolic" in checked and checked["systolic"] <= checked["diastolic"]:
        raise InvalidInput("readings.systolic", "systolic pressure must exceed diastolic")
    return checked


def check_reading(name: str, value: object) -> Decimal:
    low, high = READING_BOUNDS[name]
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not low <= number <= high:
        raise InvalidInput(f"readings.{name}", f"must be a number from {low} to {high}")
    return number


def check_travel_km(value: object) -> Decimal:
    try:
        km = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        km = None
    if km is None or not km.is_finite() or not Decimal(0) <= km <= Decimal(500):
        raise InvalidInput("travel_km", "must be a number of kilometres from 0 to 500")
    return km


def check_flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, "must be true or false")
    return value
