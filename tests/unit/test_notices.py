"""Notices to volunteers: addressed at publication by township and profession; read once; refusals write nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, RuleViolation
from ledger.notices import Notice, NoticeBoard, board_id
from tests.unit.conftest import (
    COORDINATOR,
    HOME_COUNTY,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Make,
    as_volunteer,
    recorded,
    refused,
)


def listing(*ids: UUID) -> Callable[[str], Iterable[UUID]]:
    """The ``candidates`` a read model would give: these volunteer ids, whatever the county."""
    return lambda county: list(ids)


def publish(ledger: Ledger, candidates: Callable[[str], Iterable[UUID]], **audience: object) -> UUID:
    fields: dict[str, object] = {
        "title": "三月培训通知", "body": "3月15日上午9点在县人民医院培训。", "townships": [], "profession": None,
        **audience,
    }  # fmt: skip
    return ledger.publish_notice(county=HOME_COUNTY, candidates=candidates, by=COORDINATOR, **fields).id  # type: ignore[arg-type]


def notice(ledger: Ledger, notice_id: UUID) -> Notice:
    found = ledger.find(Notice, notice_id)
    assert found is not None
    return found


def test_a_notice_to_the_county_addresses_its_active_volunteers_and_enters_the_county_board(
    ledger: Ledger, make: Make
) -> None:
    a, b = make.volunteer(), make.volunteer(township=OTHER_TOWNSHIP)
    with recorded(ledger) as new:
        notice_id = publish(ledger, listing(a, b))
    assert sorted(new.names) == ["notice.Published", "notice_board.Opened", "notice_board.Posted"]
    published = new.one("notice.Published")
    assert (published.title, published.townships, published.profession) == ("三月培训通知", [], None)
    assert set(published.addressees) == {a, b}
    board = ledger.find(NoticeBoard, board_id(HOME_COUNTY))
    assert board is not None and board.notice_ids == [notice_id]
    assert notice(ledger, notice_id).not_read_by == sorted([a, b], key=str)


def test_a_notice_to_townships_and_a_profession_addresses_only_those_volunteers(ledger: Ledger, make: Make) -> None:
    doctor_here, nurse_here = make.volunteer(), make.volunteer(profession="nurse")
    doctor_there = make.volunteer(township=OTHER_TOWNSHIP)
    everyone = listing(doctor_here, nurse_here, doctor_there)
    assert set(notice(ledger, publish(ledger, everyone, townships=[TOWNSHIP])).addressees) == {doctor_here, nurse_here}
    by_profession = publish(ledger, everyone, profession="doctor")
    assert set(notice(ledger, by_profession).addressees) == {doctor_here, doctor_there}
    both = publish(ledger, everyone, townships=[OTHER_TOWNSHIP, TOWNSHIP], profession="nurse")
    assert notice(ledger, both).addressees == [nurse_here]


def test_suspended_retired_unknown_and_other_county_volunteers_are_not_addressed(ledger: Ledger, make: Make) -> None:
    active, suspended, retired = make.volunteer(), make.volunteer(), make.volunteer()
    ledger.suspend_volunteer(suspended, reason="休假", by=COORDINATOR)
    ledger.retire_volunteer(retired, reason="调离", by=COORDINATOR)
    elsewhere = make.volunteer(county=make.county(), township="王营镇")
    notice_id = publish(ledger, listing(active, suspended, retired, elsewhere, uuid4(), active))
    assert notice(ledger, notice_id).addressees == [active]


def test_a_volunteer_recruited_after_publication_is_not_addressed(ledger: Ledger, make: Make) -> None:
    first = make.volunteer()
    notice_id = publish(ledger, listing(first))
    later = make.volunteer()
    assert notice(ledger, notice_id).addressees == [first]
    with refused(ledger, RuleViolation, rule="notice.not_addressed"):
        ledger.mark_notice_read(notice_id, volunteer_id=later, by=as_volunteer(later))


def test_marking_read_records_once_and_a_second_time_writes_nothing(ledger: Ledger, make: Make) -> None:
    a, b = make.volunteer(), make.volunteer()
    notice_id = publish(ledger, listing(a, b))
    with recorded(ledger) as new:
        first = ledger.mark_notice_read(notice_id, volunteer_id=a, by=as_volunteer(a))
    assert new.names == ["notice.Read"] and new.one("notice.Read").volunteer_id == a
    assert first.position is not None
    with recorded(ledger) as again:
        second = ledger.mark_notice_read(notice_id, volunteer_id=a, by=as_volunteer(a))
    assert again.names == []
    assert (second.id, second.version) == (first.id, first.version) and second.position == first.position
    read = notice(ledger, notice_id)
    assert list(read.read_at) == [a] and read.not_read_by == [b]


@pytest.mark.parametrize(
    ("audience", "error", "what"),
    [
        ({"townships": ["月球镇"]}, RuleViolation, "county.unknown_township"),
        ({"townships": [TOWNSHIP, TOWNSHIP]}, InvalidInput, "townships"),
        ({"townships": TOWNSHIP}, InvalidInput, "townships"),
        ({"profession": "astronaut"}, InvalidInput, "profession"),
        ({"title": ""}, InvalidInput, "title"),
        ({"body": "x" * 5001}, InvalidInput, "body"),
        ({"profession": "pharmacist"}, RuleViolation, "notice.no_addressees"),
    ],
)
def test_a_malformed_or_empty_audience_is_refused_and_writes_nothing(
    ledger: Ledger, make: Make, audience: dict[str, object], error: type[Exception], what: str
) -> None:
    volunteer = make.volunteer()
    key = {"rule": what} if error is RuleViolation else {"field": what}
    with refused(ledger, error, **key):
        publish(ledger, listing(volunteer), **audience)


def test_candidates_are_not_asked_for_a_request_refused_on_its_face(ledger: Ledger) -> None:
    def never(county: str) -> list[UUID]:
        raise AssertionError("asked for candidates")

    with refused(ledger, InvalidInput, field="title"):
        publish(ledger, never, title=" ")


def test_an_unknown_county_or_notice_is_not_found(ledger: Ledger, make: Make) -> None:
    volunteer = make.volunteer()
    with refused(ledger, NotFound):
        ledger.publish_notice(
            county="atlantis", title="t", body="b", townships=[], candidates=listing(volunteer), by=COORDINATOR
        )
    with refused(ledger, NotFound):
        ledger.mark_notice_read(uuid4(), volunteer_id=volunteer, by=as_volunteer(volunteer))
