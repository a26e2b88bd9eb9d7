"""Service-record certificates: what a certificate counts, its code and digest, what issuing refuses, and
how a later correction shows when the certificate is checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.certificates import (
    CODE_LENGTH,
    CROCKFORD,
    MAX_PERIOD_DAYS,
    Certificate,
    CertificateRegister,
    ServiceCandidates,
    ServiceRecord,
    certificate_id,
    code_from,
    grouped,
    normalise_code,
    register_id,
    service_facts,
)
from ledger.errors import InvalidInput, NotFound, RuleViolation
from ledger.personal import FORGOTTEN, is_sealed
from tests.unit.conftest import (
    ADMIN,
    COORDINATOR,
    EVALUATOR,
    FINANCE,
    VISIT_START,
    Make,
    Pair,
    as_volunteer,
    notifications,
    recorded,
    refused,
)

FEB_1, FEB_28 = date(2026, 2, 1), date(2026, 2, 28)
VOLUNTEER = uuid4()


def record(
    minutes: int, *, kind: str = "medical", start: datetime = VISIT_START, status: str = "confirmed", **more: Any
) -> ServiceRecord:
    fields: dict[str, Any] = {
        "visit_id": uuid4(), "volunteer_id": VOLUNTEER, "kind": kind, "started_at": start,
        "ended_at": start + timedelta(minutes=minutes), "status": status, **more,
    }  # fmt: skip
    return ServiceRecord(**fields)


def offered(*visits: UUID, position: int = 77) -> Callable[[UUID, date, date], ServiceCandidates]:
    """A read model's answer: these visits may count, as of ``position``."""
    return lambda volunteer, date_from, date_to: ServiceCandidates(position, tuple(visits))


def never_asked(volunteer: UUID, date_from: date, date_to: date) -> ServiceCandidates:
    raise AssertionError("a refused request must not read the visits")


def issue(
    ledger: Ledger, volunteer: UUID, *visits: UUID, by: Any = COORDINATOR, start: date = FEB_1, end: date = FEB_28
) -> Certificate:
    written = ledger.issue_certificate(volunteer, date_from=start, date_to=end, candidates=offered(*visits), by=by)
    found = ledger.find(Certificate, written.id)
    assert found is not None
    return found


# The facts -----------------------------------------------------------------------------------


def test_hours_are_the_sum_of_confirmed_visits_rounded_down_once() -> None:
    records = [
        record(50, start=VISIT_START.replace(day=3)),
        record(45, kind="phone_call", start=VISIT_START.replace(day=4), ended_at=VISIT_START.replace(day=4) + timedelta(
            minutes=45, seconds=40)),
        record(30, kind="emotional", start=VISIT_START.replace(day=5), ended_at=VISIT_START.replace(day=5) + timedelta(
            minutes=30, seconds=30)),
    ]  # fmt: skip
    facts = service_facts(VOLUNTEER, FEB_1, FEB_28, records)
    assert facts.minutes == 126  # 50 + 45:40 + 30:30 = 126:10, not 125 (each rounded down) nor 127
    assert str(facts.hours) == "2.10"
    assert facts.visits_by_kind == {"medical": 1, "emotional": 1, "daily_living": 0, "phone_call": 1}
    assert facts.visits == 3 and sorted(facts.visit_ids, key=str) == list(facts.visit_ids)


def test_only_the_volunteer_s_confirmed_visits_that_started_in_the_period_count() -> None:
    last_evening = datetime(2026, 2, 28, 15, 30, tzinfo=UTC)  # 23:30 on 28 February in the county
    next_morning = datetime(2026, 2, 28, 16, 30, tzinfo=UTC)  # 00:30 on 1 March in the county
    kept = [record(40, start=last_evening), record(20, start=datetime(2026, 1, 31, 16, 0, tzinfo=UTC))]
    left_out = [
        record(60, status="recorded"),
        record(60, status="disputed"),
        record(60, status="voided"),
        record(60, start=next_morning),
        record(60, start=datetime(2026, 1, 31, 15, 59, tzinfo=UTC)),  # 23:59 on 31 January
        record(60, volunteer_id=uuid4()),
    ]
    facts = service_facts(VOLUNTEER, FEB_1, FEB_28, [*kept, *left_out, kept[0]])
    assert facts.visit_ids == tuple(sorted((r.visit_id for r in kept), key=str))
    assert facts.minutes == 60 and facts.visits_by_kind["medical"] == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 720), st.integers(0, 59), st.sampled_from(["medical", "phone_call"]))))
def test_minutes_and_counts_add_up_whatever_the_visits(visits: list[tuple[int, int, str]]) -> None:
    records = [
        record(m, kind=k, start=VISIT_START + timedelta(hours=13 * n), ended_at=VISIT_START + timedelta(
            hours=13 * n, minutes=m, seconds=s))
        for n, (m, s, k) in enumerate(visits[:40])
    ]  # fmt: skip
    facts = service_facts(VOLUNTEER, date(2026, 1, 1), date(2026, 12, 31), records)
    seconds = sum(m * 60 + s for m, s, _ in visits[:40])
    assert facts.minutes == seconds // 60
    assert sum(facts.visits_by_kind.values()) == facts.visits == len(records)


def test_the_digest_is_of_the_facts_alone_and_any_change_changes_it() -> None:
    records = [record(50), record(30, kind="emotional", start=VISIT_START + timedelta(days=1))]
    facts = service_facts(VOLUNTEER, FEB_1, FEB_28, records)
    same = service_facts(VOLUNTEER, FEB_1, FEB_28, list(reversed(records)))
    assert facts.digest() == same.digest() and len(facts.digest()) == 64
    others = [
        service_facts(VOLUNTEER, FEB_1, FEB_28, records[:1]),
        service_facts(VOLUNTEER, FEB_1, date(2026, 2, 27), records),
        service_facts(uuid4(), FEB_1, FEB_28, [r.__class__(**{**vars(r), "volunteer_id": uuid4()}) for r in records]),
    ]
    assert len({facts.digest(), *(o.digest() for o in others)}) == 4


# The code ------------------------------------------------------------------------------------


def test_a_check_code_is_ten_characters_of_crockford_base32_drawn_from_the_randomness_given() -> None:
    codes = {code_from(uuid4().bytes) for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CROCKFORD) for c in codes)
    assert not set("ILOU") & set("".join(codes))
    fixed = bytes(range(16))
    assert code_from(fixed) == code_from(fixed)
    with pytest.raises(ValueError, match="randomness"):
        code_from(b"short")


def test_a_code_is_read_as_a_person_types_it_and_nothing_else_reads_as_one() -> None:
    code = code_from(bytes(16))
    assert normalise_code(code) == code
    assert normalise_code(grouped(code).lower()) == code
    assert normalise_code(f" {code[:5]} - {code[5:]} ") == code
    assert normalise_code("O1IL0ABCDE") == "0111" + "0ABCDE"
    for wrong in ("", code[:-1], code + "0", code[:-1] + "U", code[:-1] + "*", "x" * 500):
        assert normalise_code(wrong) is None, wrong


# Issuing -------------------------------------------------------------------------------------


def test_issuing_records_the_certificate_and_enters_it_in_the_volunteer_s_register(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    home = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3), minutes=50)
    call = make.confirmed_visit(pair.pairing, kind="phone_call", start=VISIT_START.replace(day=4), minutes=20)
    unconfirmed = make.visit(pair.pairing, start=VISIT_START.replace(day=5))
    with recorded(ledger) as new:
        certificate = issue(ledger, pair.volunteer, home, call, unconfirmed, uuid4())
    assert new.names == ["certificate.Issued", "certificate_register.Opened", "certificate_register.Entered"]
    issued = new.one("certificate.Issued")
    assert (issued.volunteer_id, issued.date_from, issued.date_to) == (pair.volunteer, FEB_1, FEB_28)
    assert issued.minutes == 70 and issued.position == 77
    assert issued.visits_by_kind == {"medical": 1, "emotional": 0, "daily_living": 0, "phone_call": 1}
    assert sorted(issued.visit_ids, key=str) == sorted([home, call], key=str)
    assert issued.issuer == "涟水县委老干部局" and issued.meta == COORDINATOR
    assert certificate.id == certificate_id(certificate.code) and normalise_code(certificate.code) == certificate.code
    assert certificate.digest == certificate.facts().digest() and certificate.intact
    register = ledger.find(CertificateRegister, register_id(pair.volunteer))
    assert register is not None and register.latest(FEB_1, FEB_28).certificate_id == certificate.id  # type: ignore[union-attr]


def test_the_name_is_printed_as_read_at_issue_and_kept_sealed_under_the_volunteer_s_key(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visit = make.confirmed_visit(pair.pairing)
    certificate = issue(ledger, pair.volunteer, visit)
    assert certificate.name.startswith("志愿者")
    [stored] = [n for n in notifications(ledger) if n.originator_id == certificate.id]
    assert certificate.name.encode() not in stored.state
    assert is_sealed(ledger.mapper.transcoder.decode(stored.state)["name"])

    ledger.forget_volunteer(pair.volunteer, reason="person_asked", by=ADMIN)
    forgotten = ledger.find(Certificate, certificate.id)
    assert forgotten is not None and forgotten.name == FORGOTTEN
    assert forgotten.intact and forgotten.minutes == certificate.minutes  # still checkable, without the name


def test_a_volunteer_may_ask_for_their_own_and_an_administrator_may_issue(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    visit = make.confirmed_visit(pair.pairing)
    mine = issue(ledger, pair.volunteer, visit, by=as_volunteer(pair.volunteer))
    again = issue(ledger, pair.volunteer, visit, by=ADMIN)
    assert mine.code != again.code and mine.digest == again.digest  # the same facts, two certificates
    register = ledger.find(CertificateRegister, register_id(pair.volunteer))
    assert register is not None and register.latest() is not None and register.latest().code == again.code  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2026, 2, 10), date(2026, 2, 9), "to"),  # ends before it begins
        (date(2026, 2, 1), date(2026, 3, 2), "to"),  # the clock says 1 March: the 2nd has not passed
        (date(2016, 2, 1), date(2016, 2, 1) + timedelta(days=MAX_PERIOD_DAYS), "to"),  # too long
    ],
)
def test_a_period_that_is_not_sound_is_refused_before_anything_is_read(
    ledger: Ledger, pair: Pair, start: date, end: date, field: str
) -> None:
    with refused(ledger, InvalidInput, field=field):
        ledger.issue_certificate(pair.volunteer, date_from=start, date_to=end, candidates=never_asked, by=COORDINATOR)


def test_a_refused_certificate_writes_nothing(ledger: Ledger, make: Make, pair: Pair) -> None:
    visit = make.confirmed_visit(pair.pairing)
    unconfirmed = make.visit(pair.pairing, start=VISIT_START.replace(day=20))
    for role in (FINANCE, EVALUATOR):
        with refused(ledger, RuleViolation, rule="certificate.issuer_role"):
            ledger.issue_certificate(pair.volunteer, date_from=FEB_1, date_to=FEB_28, candidates=never_asked, by=role)
    with refused(ledger, NotFound):
        issue(ledger, uuid4(), visit)
    with refused(ledger, RuleViolation, rule="certificate.no_service"):
        issue(ledger, pair.volunteer, unconfirmed)  # recorded, never confirmed
    with refused(ledger, RuleViolation, rule="certificate.no_service"):
        issue(ledger, pair.volunteer, visit, start=date(2026, 1, 1), end=date(2026, 1, 31))  # not in the period
    other = make.pair()
    with refused(ledger, RuleViolation, rule="certificate.no_service"):
        issue(ledger, other.volunteer, visit)  # another volunteer's visit counts for no one else
    ledger.forget_volunteer(pair.volunteer, reason="person_asked", by=ADMIN)
    with refused(ledger, RuleViolation, rule="certificate.volunteer_forgotten"):
        issue(ledger, pair.volunteer, visit)
    assert ledger.find(CertificateRegister, register_id(pair.volunteer)) is None


# Checking after corrections ------------------------------------------------------------------


def test_a_visit_voided_after_issue_shows_as_a_changed_record_and_the_certificate_stays_as_issued(
    ledger: Ledger, make: Make, pair: Pair
) -> None:
    home = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3), minutes=50)
    other = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=6), minutes=40)
    certificate = issue(ledger, pair.volunteer, home, other)

    def now() -> Any:
        return certificate.check(ledger.service_facts(pair.volunteer, FEB_1, FEB_28, [*certificate.visit_ids]))

    assert now().unchanged and now().changes == ()
    ledger.void_visit(home, reason_code="entered_in_error", by=COORDINATOR)
    check = now()
    assert not check.unchanged
    assert [(c.field, c.at_issue, c.now) for c in check.changes] == [("minutes", 90, 40), ("visits.medical", 2, 1)]
    assert (check.no_longer_counted, check.newly_counted) == (1, 0)
    again = ledger.find(Certificate, certificate.id)
    assert again is not None and again.intact and again.minutes == 90 and again.version == 1


def test_an_amended_kind_or_a_late_confirmation_shows_in_the_check(ledger: Ledger, make: Make, pair: Pair) -> None:
    home = make.confirmed_visit(pair.pairing, start=VISIT_START.replace(day=3), minutes=50)
    late = make.visit(pair.pairing, start=VISIT_START.replace(day=7), minutes=30)
    certificate = issue(ledger, pair.volunteer, home, late)
    assert certificate.visit_ids == [home]
    ledger.amend_visit(
        home, changes={"kind": "daily_living", "services": ["cleaning"], "readings": {}}, reason_code="wrong_kind",
        by=COORDINATOR,
    )  # fmt: skip
    ledger.confirm_visit(late, confirmed_by="family", method="phone_callback", by=COORDINATOR)
    check = certificate.check(ledger.service_facts(pair.volunteer, FEB_1, FEB_28, [home, late]))
    assert {(c.field, c.at_issue, c.now) for c in check.changes} == {("minutes", 50, 80), ("visits.daily_living", 0, 1)}
    assert (check.no_longer_counted, check.newly_counted) == (0, 1)
