"""Volunteer meetings: attendees of the county, suggestions raised by attendees, each answered once;
refusals write nothing."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation
from ledger.meetings import Meeting, MeetingRegister, SuggestionStatus, register_id
from tests.unit.conftest import COORDINATOR, COORDINATOR_2, HOME_COUNTY, Make, recorded, refused

HELD_ON = date(2025, 6, 18)  # before the launch: the four first meetings are recorded after the fact


def record(ledger: Ledger, attendees: list[UUID], **overrides: object) -> UUID:
    fields: dict[str, object] = {
        "county": HOME_COUNTY, "held_on": HELD_ON, "place": "县委老干部局三楼会议室", "topic": "上门服务的难处",
        "attendees": attendees, **overrides,
    }  # fmt: skip
    return ledger.record_meeting(by=COORDINATOR, **fields).id  # type: ignore[arg-type]


def meeting(ledger: Ledger, meeting_id: UUID) -> Meeting:
    found = ledger.find(Meeting, meeting_id)
    assert found is not None
    return found


@pytest.fixture
def attendees(make: Make) -> list[UUID]:
    return [make.volunteer(), make.volunteer()]


def test_a_meeting_is_recorded_with_its_attendees_and_entered_in_the_county_register(
    ledger: Ledger, attendees: list[UUID]
) -> None:
    with recorded(ledger) as new:
        meeting_id = record(ledger, attendees)
    assert sorted(new.names) == ["meeting.Recorded", "meeting_register.Entered", "meeting_register.Opened"]
    held = new.one("meeting.Recorded")
    assert (held.county, held.held_on, held.topic, held.attendees) == (
        HOME_COUNTY,
        HELD_ON,
        "上门服务的难处",
        attendees,
    )
    register = ledger.find(MeetingRegister, register_id(HOME_COUNTY))
    assert register is not None and register.meeting_ids == [meeting_id]
    second = record(ledger, attendees[:1], held_on=date(2025, 9, 2))
    register = ledger.find(MeetingRegister, register_id(HOME_COUNTY))
    assert register is not None and register.meeting_ids == [meeting_id, second]


def test_suggestions_are_numbered_open_until_answered_and_answered_once(ledger: Ledger, attendees: list[UUID]) -> None:
    meeting_id = record(ledger, attendees)
    with recorded(ledger) as new:
        ledger.raise_suggestion(meeting_id, text="希望增加交通补贴", raised_by=attendees[0], by=COORDINATOR)
        ledger.raise_suggestion(meeting_id, text="希望统一配发血压计", raised_by=attendees[1], by=COORDINATOR)
    assert [e.n for e in new.of("meeting.SuggestionRaised")] == [1, 2]
    assert [s.n for s in meeting(ledger, meeting_id).open_suggestions] == [1, 2]
    with recorded(ledger) as answered:
        ledger.answer_suggestion(meeting_id, 2, text="已纳入下半年采购", status="adopted", by=COORDINATOR_2)
    assert answered.one("meeting.SuggestionAnswered").status == "adopted"
    found = meeting(ledger, meeting_id)
    [open_one] = found.open_suggestions
    assert open_one.n == 1 and open_one.status == SuggestionStatus.OPEN
    done = found.suggestion(2)
    assert (done.status, done.answer, done.answered_by) == ("adopted", "已纳入下半年采购", COORDINATOR_2.principal_id)
    with refused(ledger, RuleViolation, rule="meeting.suggestion_answered"):
        ledger.answer_suggestion(meeting_id, 2, text="再答一次", status="noted", by=COORDINATOR)


def test_only_an_attendee_raises_a_suggestion(ledger: Ledger, make: Make, attendees: list[UUID]) -> None:
    meeting_id = record(ledger, attendees)
    absent = make.volunteer()
    with refused(ledger, RuleViolation, rule="meeting.not_attendee"):
        ledger.raise_suggestion(meeting_id, text="建议", raised_by=absent, by=COORDINATOR)
    with refused(ledger, InvalidInput, field="text"):
        ledger.raise_suggestion(meeting_id, text="  ", raised_by=attendees[0], by=COORDINATOR)


def test_an_answer_needs_a_known_suggestion_a_text_and_a_final_status(ledger: Ledger, attendees: list[UUID]) -> None:
    meeting_id = record(ledger, attendees)
    ledger.raise_suggestion(meeting_id, text="建议", raised_by=attendees[0], by=COORDINATOR)
    with refused(ledger, NotFound):
        ledger.answer_suggestion(meeting_id, 2, text="答复", status="noted", by=COORDINATOR)
    with refused(ledger, NotFound):
        ledger.answer_suggestion(meeting_id, 0, text="答复", status="noted", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="status"):
        ledger.answer_suggestion(meeting_id, 1, text="答复", status="open", by=COORDINATOR)
    with refused(ledger, InvalidInput, field="text"):
        ledger.answer_suggestion(meeting_id, 1, text="", status="declined", by=COORDINATOR)
    with refused(ledger, NotFound):
        ledger.answer_suggestion(uuid4(), 1, text="答复", status="noted", by=COORDINATOR)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"held_on": date(2026, 3, 2)}, "held_on"),
        ({"place": ""}, "place"),
        ({"topic": "x" * 201}, "topic"),
        ({"held_on": "2025-06-18"}, "held_on"),
    ],
)
def test_a_malformed_meeting_is_refused_and_writes_nothing(
    ledger: Ledger, attendees: list[UUID], overrides: dict[str, object], field: str
) -> None:
    with refused(ledger, InvalidInput, field=field):
        record(ledger, attendees, **overrides)


def test_attendees_are_volunteers_of_the_county_each_once(ledger: Ledger, make: Make, attendees: list[UUID]) -> None:
    with refused(ledger, InvalidInput, field="attendees"):
        record(ledger, [attendees[0], attendees[0]])
    with refused(ledger, InvalidInput, field="attendees"):
        record(ledger, [])
    with refused(ledger, NotFound):
        record(ledger, [attendees[0], uuid4()])
    elsewhere = make.volunteer(county=make.county(), township="王营镇")
    with refused(ledger, RuleViolation, rule="meeting.other_county"):
        record(ledger, [attendees[0], elsewhere])
    with refused(ledger, NotFound):
        record(ledger, attendees, county="atlantis")
    assert ledger.find(MeetingRegister, register_id(HOME_COUNTY)) is None
