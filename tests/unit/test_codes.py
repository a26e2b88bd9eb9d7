"""The ledger's codes are StrEnums, and a stored event is the same bytes whether a command was given
an enum member or its plain text; an event read back from the store holds plain text."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.budgets import BudgetLine
from ledger.claims import LIVE, ClaimStatus
from ledger.common import require_choice
from ledger.elders import DepartureKind, ElderStatus, Sex
from ledger.errors import InvalidInput
from ledger.pairings import EndReason
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
from ledger.scoring import GRADES_ZH, Grade
from ledger.visits import (
    AmendReason,
    Confirmer,
    ConfirmMethod,
    DisputeReason,
    DistanceBand,
    Service,
    VisitKind,
    VisitStatus,
    VoidReason,
)
from ledger.volunteers import Profession, VolunteerStatus
from tests.builders import MASTER_KEY, fixed_random
from tests.conftest import START, ensure_home_county
from tests.unit.conftest import COORDINATOR, FINANCE, TOWNSHIP, VISIT_START, as_volunteer

Code = Callable[[StrEnum, str], str]

ENUMS: tuple[type[StrEnum], ...] = (
    VisitKind, Service, DistanceBand, VisitStatus, Confirmer, ConfirmMethod, DisputeReason, AmendReason,
    VoidReason, ClaimStatus, BudgetLine, Sex, DepartureKind, ElderStatus, Profession, VolunteerStatus,
    EndReason, PolicyKind, Grade,
)  # fmt: skip


def as_member(member: StrEnum, text: str) -> str:
    assert member == text
    return member


def as_text(member: StrEnum, text: str) -> str:
    assert member == text
    return text


def story(code: Code) -> list[tuple[str, bytes]]:
    """The same commands on a fresh ledger, every code given through ``code``; the stored (topic, state)s."""
    ids = itertools.count(1)
    ledger = Ledger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        master_key=MASTER_KEY,
        clock=lambda: START,
        new_id=lambda: UUID(int=next(ids)),
        random_bytes=fixed_random(),
    )
    try:
        ledger.ensure_default_policies()
        ensure_home_county(ledger)
        act(ledger, code)
        return [(n.topic, n.state) for n in ledger.recorder.select_notifications(start=1, limit=10_000)]
    finally:
        ledger.close()


def act(ledger: Ledger, code: Code) -> UUID:
    """Register, pair, visit, confirm, dispute, amend, void, budget, claim, approve, adopt, end and depart.

    Answers the claim's id."""
    elder = ledger.register_elder(
        county="lianshui", township=TOWNSHIP, name="老人", birth_date=date(1938, 5, 1), sex=code(Sex.MALE, "male"),
        address="人民路 1 号", phone="13800000000", by=COORDINATOR,
    ).id  # fmt: skip
    volunteer = ledger.recruit_volunteer(
        county="lianshui", township=TOWNSHIP, name="志愿者", unit="县人民医院",
        profession=code(Profession.DOCTOR, "doctor"), phone="13900000000", by=COORDINATOR,
    ).id  # fmt: skip
    pairing = ledger.form_pairing(
        volunteer_id=volunteer, elder_id=elder, group="第一组", from_date=date(2026, 1, 1), by=COORDINATOR
    ).id

    def visit(day: int) -> UUID:
        start = VISIT_START.replace(day=day)
        return ledger.record_visit(
            pairing_id=pairing, by=COORDINATOR, kind=code(VisitKind.MEDICAL, "medical"),
            services=[code(Service.BLOOD_PRESSURE, "blood_pressure"), code(Service.HEALTH_ADVICE, "health_advice")],
            readings={"systolic": 132, "diastolic": 84}, started_at=start, ended_at=start + timedelta(minutes=45),
            township=TOWNSHIP, distance_band=code(DistanceBand.WITHIN_2KM, "within_2km"), travel_km=Decimal("1.5"),
        ).id  # fmt: skip

    confirmed, disputed, corrected = visit(3), visit(4), visit(5)
    ledger.confirm_visit(
        confirmed, confirmed_by=code(Confirmer.ELDER, "elder"), method=code(ConfirmMethod.SIGNATURE, "signature"),
        by=COORDINATOR,
    )  # fmt: skip
    ledger.dispute_visit(disputed, reason_code=code(DisputeReason.WRONG_TIME, "wrong_time"), by=COORDINATOR)
    ledger.amend_visit(
        corrected, changes={"kind": code(VisitKind.EMOTIONAL, "emotional"), "services": [code(Service.CHAT, "chat")],
                            "readings": {}},
        reason_code=code(AmendReason.WRONG_KIND, "wrong_kind"), by=COORDINATOR,
    )  # fmt: skip
    ledger.void_visit(corrected, reason_code=code(VoidReason.DUPLICATE, "duplicate"), by=COORDINATOR)

    lines = {code(BudgetLine.TRANSPORT, "transport"): 100_000, code(BudgetLine.COMMUNICATION, "communication"): 50_000}
    ledger.appropriate_budget(county="lianshui", year=2026, lines=lines, by=FINANCE)
    ledger.adjust_budget(
        county="lianshui", year=2026, line=code(BudgetLine.TRANSPORT, "transport"), delta=1000, reason="追加",
        by=FINANCE,
    )  # fmt: skip
    claim = ledger.submit_claim(
        volunteer_id=volunteer, month="2026-02", visit_ids=[confirmed], by=as_volunteer(volunteer)
    ).id
    ledger.approve_claim(claim, by=FINANCE)

    ledger.adopt_policy(
        code(PolicyKind.SUBSIDY, "subsidy"), version=2, parameters=dict(DEFAULT_PARAMETERS[PolicyKind.SUBSIDY]),
        effective_from=date(2026, 7, 1), by=COORDINATOR,
    )  # fmt: skip
    ledger.end_pairing(
        pairing, on=date(2026, 2, 20), reason=code(EndReason.ELDER_DEPARTED, "elder_departed"), by=COORDINATOR
    )
    ledger.record_departure(elder, kind=code(DepartureKind.DECEASED, "deceased"), on=date(2026, 2, 20), by=COORDINATOR)
    return claim


def test_an_event_stored_from_an_enum_member_is_the_bytes_of_its_plain_text() -> None:
    with_members, with_text = story(as_member), story(as_text)
    assert [topic for topic, _ in with_members] == [topic for topic, _ in with_text]
    assert len(with_members) > 20
    for (topic, member_state), (_, text_state) in zip(with_members, with_text, strict=True):
        assert member_state == text_state, topic
    states = b"".join(state for _, state in with_members)
    for needle in (b'"kind":"medical"', b'"by":"elder"', b'"reason_code":"duplicate"', b'"line":"transport"'):
        assert needle in states  # the plain value, never a member's name or repr


def test_events_read_back_from_the_store_hold_plain_text(ledger: Ledger) -> None:
    codes: list[str] = []
    act(ledger, as_member)
    for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
        event = ledger.mapper.to_domain_event(notification)
        for name in ("kind", "reason_code", "reason", "by", "method", "line", "sex", "profession"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                codes.append(value)
                assert type(value) is str, (notification.topic, name)
    assert "medical" in codes and VisitKind.MEDICAL in codes  # == compares by value


def test_aggregate_statuses_compare_equal_to_their_plain_text(ledger: Ledger) -> None:
    claim = act(ledger, as_text)
    status: str = ledger.repository.get(claim).status
    assert status == "approved" and status == ClaimStatus.APPROVED and status in LIVE


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_each_code_is_its_own_lower_case_name(enum: type[StrEnum]) -> None:
    for member in enum:
        assert member.value == member.name.lower() == str(member) == f"{member}"


def test_require_choice_takes_an_enum_and_answers_plain_text() -> None:
    chosen = require_choice("kind", VisitKind.PHONE_CALL, VisitKind)
    assert chosen == "phone_call" and type(chosen) is str
    assert type(require_choice("kind", "medical", VisitKind)) is str
    with pytest.raises(InvalidInput, match="'walk' is not one of medical, emotional, daily_living, phone_call"):
        require_choice("kind", "walk", VisitKind)
    with pytest.raises(InvalidInput):
        require_choice("kind", ["medical"], VisitKind)


def test_elder_status_follows_the_departure_date() -> None:
    assert ElderStatus.of(None) == "active"
    assert ElderStatus.of(date(2026, 2, 20)) == "departed"


def test_every_grade_has_its_chinese_name() -> None:
    assert set(GRADES_ZH) == set(Grade)


def test_live_claims_are_the_ones_holding_their_visits() -> None:
    assert set(LIVE) == {ClaimStatus.SUBMITTED, ClaimStatus.APPROVED, ClaimStatus.PAID}
