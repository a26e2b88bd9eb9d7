"""Volunteer meetings (志愿者座谈会): what was raised at them, and what the programme answered.

A coordinator records a meeting held in a county (the day, the place, the topic and the volunteers
who attended; the four meetings held before the ledger's launch are recorded after the fact, so a
meeting may be of any past day). Each suggestion raised at it is recorded with the attendee who
raised it, numbered 1, 2, … in the meeting; each is *open* until a coordinator answers it, once,
with a text and a status: ``adopted``, ``declined`` or ``noted``.

Listing the meetings of a county needs their ids: each county has a :class:`MeetingRegister`
(id from the county) that enters every meeting recorded there, saved with it in one atomic save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import EARLIEST_YEAR, Provenance, county_date, require_choice, require_text, stable_id
from ledger.errors import InvalidInput, NotFound, RuleViolation

MAX_ATTENDEES = 500
MAX_SUGGESTIONS = 200
MAX_TEXT = 2000


class SuggestionStatus(StrEnum):
    """A suggestion is open until answered; the answer says what became of it."""

    OPEN = "open"
    ADOPTED = "adopted"
    DECLINED = "declined"
    NOTED = "noted"


ANSWERS = (SuggestionStatus.ADOPTED, SuggestionStatus.DECLINED, SuggestionStatus.NOTED)
"""The statuses an answer gives (never ``open``)."""


@dataclass
class Suggestion:
    """One suggestion of a meeting, as it stands."""

    n: int
    text: str
    raised_by: UUID
    raised_at: datetime
    status: str = SuggestionStatus.OPEN
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == SuggestionStatus.OPEN


def register_id(county: str) -> UUID:
    return stable_id("meeting_register", county)


def check_held_on(held_on: date, today: date) -> date:
    if not isinstance(held_on, date) or isinstance(held_on, datetime):
        raise InvalidInput("held_on", "must be a calendar date")
    if held_on > today:
        raise InvalidInput("held_on", "a meeting is recorded once held: the date cannot be in the future")
    if held_on.year < EARLIEST_YEAR:
        raise InvalidInput("held_on", f"must fall in the years from {EARLIEST_YEAR}")
    return held_on


def check_attendees(attendees: list[UUID]) -> list[UUID]:
    """At least one volunteer, each once, at most :data:`MAX_ATTENDEES` (the ledger checks each is of the county)."""
    if not isinstance(attendees, list | tuple) or not attendees:
        raise InvalidInput("attendees", "a meeting has at least one volunteer attending")
    if len(attendees) > MAX_ATTENDEES:
        raise InvalidInput("attendees", f"a meeting lists at most {MAX_ATTENDEES} volunteers")
    if not all(isinstance(a, UUID) for a in attendees):
        raise InvalidInput("attendees", "must be volunteers' ids")
    if len(set(attendees)) != len(attendees):
        raise InvalidInput("attendees", "lists each volunteer once")
    return list(attendees)


class MeetingRegister(Aggregate):
    """The meetings recorded in one county, in the order recorded (their ids only)."""

    TOPIC = "tiexin.meeting_register"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.meeting_register.Created"

    @staticmethod
    def create_id(county: str) -> UUID:
        return register_id(county)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.meeting_register.Opened"
        county: str
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(self, county: str, timestamp: datetime, meta: Provenance) -> None:
        self.county = county
        self.meeting_ids: list[UUID] = []

    class Entered(Aggregate.Event):
        TOPIC = "tiexin.meeting_register.Entered"
        meeting_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Entered)
    def enter(self, meeting_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.meeting_ids.append(meeting_id)


class Meeting(Aggregate):
    TOPIC = "tiexin.meeting"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.meeting.Created"

    @classmethod
    def record(
        cls,
        register: MeetingRegister,
        *,
        held_on: date,
        place: str,
        topic: str,
        attendees: list[UUID],
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Meeting:
        """Record a meeting of the register's county; ``attendees`` are checked to be of it by the ledger."""
        meeting = cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            county=register.county,
            held_on=check_held_on(held_on, county_date(now)),
            place=require_text("place", place),
            topic=require_text("topic", topic),
            attendees=check_attendees(attendees),
            timestamp=now,
            meta=meta,
        )
        register.enter(meeting_id=meeting.id, timestamp=now, meta=meta)
        return meeting

    class Recorded(Aggregate.Created):
        TOPIC = "tiexin.meeting.Recorded"
        county: str
        held_on: date
        place: str
        topic: str
        attendees: list[UUID]
        timestamp: datetime
        meta: Provenance

    @event(Recorded)
    def __init__(
        self,
        county: str,
        held_on: date,
        place: str,
        topic: str,
        attendees: list[UUID],
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.county = county
        self.held_on = held_on
        self.place = place
        self.topic = topic
        self.attendees = [a if isinstance(a, UUID) else UUID(str(a)) for a in attendees]
        self.suggestions: list[Suggestion] = []

    def raise_suggestion(self, *, text: str, raised_by: UUID, now: datetime, meta: Provenance) -> int:
        """Record a suggestion an attendee raised; answers its number."""
        if raised_by not in self.attendees:
            raise RuleViolation(
                "meeting.not_attendee", f"volunteer {raised_by} did not attend meeting {self.id}; only attendees raise"
            )
        if len(self.suggestions) >= MAX_SUGGESTIONS:
            raise RuleViolation("meeting.too_many_suggestions", f"a meeting records at most {MAX_SUGGESTIONS}")
        n = len(self.suggestions) + 1
        self._raised(n=n, text=require_text("text", text, max_length=MAX_TEXT), raised_by=raised_by,
                     timestamp=now, meta=meta)  # fmt: skip
        return n

    class SuggestionRaised(Aggregate.Event):
        TOPIC = "tiexin.meeting.SuggestionRaised"
        n: int
        text: str
        raised_by: UUID
        timestamp: datetime
        meta: Provenance

    @event(SuggestionRaised)
    def _raised(self, n: int, text: str, raised_by: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.suggestions.append(Suggestion(n=n, text=text, raised_by=raised_by, raised_at=timestamp))

    def suggestion(self, n: int) -> Suggestion:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self.suggestions):
            raise NotFound("suggestion", f"{self.id}/suggestions/{n}")
        return self.suggestions[n - 1]

    def answer(self, n: int, *, text: str, status: str, now: datetime, meta: Provenance) -> None:
        """Answer an open suggestion, once."""
        suggestion = self.suggestion(n)
        if not suggestion.is_open:
            raise RuleViolation(
                "meeting.suggestion_answered", f"suggestion {n} of meeting {self.id} is already {suggestion.status}"
            )
        status = require_choice("status", status, ANSWERS)
        self._answered(n=n, text=require_text("text", text, max_length=MAX_TEXT), status=status,
                       timestamp=now, meta=meta)  # fmt: skip

    class SuggestionAnswered(Aggregate.Event):
        TOPIC = "tiexin.meeting.SuggestionAnswered"
        n: int
        text: str
        status: str
        timestamp: datetime
        meta: Provenance

    @event(SuggestionAnswered)
    def _answered(self, n: int, text: str, status: str, timestamp: datetime, meta: Provenance) -> None:
        suggestion = self.suggestions[n - 1]
        suggestion.status, suggestion.answer = status, text
        suggestion.answered_by, suggestion.answered_at = meta.principal_id, timestamp

    @property
    def open_suggestions(self) -> list[Suggestion]:
        return [s for s in self.suggestions if s.is_open]
