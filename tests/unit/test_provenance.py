"""Provenance: every stored event says who recorded it (principal and role) and when it was
recorded (the ledger's clock, not when the service happened), with the client's idempotency key
and correlation id when given."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.common import ROLES, SYSTEM, Provenance
from ledger.errors import InvalidInput, RuleViolation
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
from tests.builders import criteria
from tests.unit.conftest import (
    COORDINATOR,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    VISIT_MONTH,
    VISIT_START,
    Make,
    Pair,
    notifications,
    recorded,
    refused,
    stored_events,
)

_keys = count(1)


def principal(role: str, name: str | None = None) -> Provenance:
    """A principal whose every request carries its own idempotency key and correlation id."""
    n = next(_keys)
    return Provenance(
        principal_id=name or f"{role}-{n}", role=role, idempotency_key=f"idem-{n:04d}", correlation_id=f"corr-{n:04d}"
    )


def step(ledger: Ledger, clock: Any, by: Provenance, command: Callable[[Provenance], Any]) -> Any:
    """Run one command a minute later; every event it writes carries ``by`` and the clock's time."""
    clock.advance(minutes=1)
    with recorded(ledger) as new:
        result = command(by)
    assert new.events, "the command wrote no event"
    for stored in new.events:
        assert stored.event.meta == by, f"{stored.name} carries {stored.event.meta}, not {by}"
        assert stored.event.timestamp == clock.now, f"{stored.name} is stamped {stored.event.timestamp}"
    return result


def test_every_command_stamps_its_events_with_principal_role_keys_and_recording_time(
    ledger: Ledger, clock: Any
) -> None:
    coordinator, admin, finance, finance_2 = (principal(r) for r in ("coordinator", "admin", "finance", "finance"))
    evaluator = principal("evaluator")

    def coord(command: Callable[[Provenance], Any]) -> Any:
        return step(ledger, clock, principal("coordinator", coordinator.principal_id), command)

    step(ledger, clock, admin, lambda by: ledger.establish_county("huaiyin", "淮阴区", ["王营镇"], by=by))
    step(ledger, clock, admin, lambda by: ledger.adopt_policy(
        PolicyKind.SUBSIDY, version=2, parameters=DEFAULT_PARAMETERS[PolicyKind.SUBSIDY],
        effective_from=date(2026, 6, 1), by=by
    ))  # fmt: skip
    elder = coord(lambda by: ledger.register_elder(
        county="lianshui", name="陈老", birth_date=date(1936, 1, 1), sex="male", township=TOWNSHIP,
        address="a", phone="p", by=by,
    )).id  # fmt: skip
    coord(lambda by: ledger.relocate_elder(elder, township=OTHER_TOWNSHIP, address="b", by=by))
    volunteer = coord(lambda by: ledger.recruit_volunteer(
        county="lianshui", name="周护士", unit="u", profession="nurse", phone="p", township=TOWNSHIP, by=by
    )).id  # fmt: skip
    coord(lambda by: ledger.record_training(volunteer, course="c", hours=Decimal(4), on=date(2026, 2, 1), by=by))
    coord(lambda by: ledger.suspend_volunteer(volunteer, reason="r", by=by))
    coord(lambda by: ledger.reinstate_volunteer(volunteer, reason="r", by=by))
    pairing = coord(lambda by: ledger.form_pairing(
        volunteer_id=volunteer, elder_id=elder, group="g", from_date=date(2026, 1, 1), by=by
    )).id  # fmt: skip
    me = Provenance(principal_id=str(volunteer), role="volunteer", idempotency_key="v-1", correlation_id="c-v-1")

    def visit(day: int, by: Provenance) -> Any:
        details = Make(ledger, clock).visit_details(start=VISIT_START.replace(day=day), township=OTHER_TOWNSHIP)
        return ledger.record_visit(pairing_id=pairing, by=by, **details).id

    visits = [step(ledger, clock, me, lambda by, d=d: visit(d, by)) for d in (3, 4, 5, 6)]
    for v in visits[:3]:
        coord(lambda by, v=v: ledger.confirm_visit(v, confirmed_by="elder", method="signature", by=by))
    coord(lambda by: ledger.dispute_visit(visits[3], reason_code="wrong_time", by=by))
    coord(lambda by: ledger.give_feedback(visits[0], rating=5, by=by))
    coord(lambda by: ledger.amend_visit(visits[3], changes={"notes": "n"}, reason_code="typo", by=by))
    step(ledger, clock, evaluator, lambda by: ledger.submit_evaluation(
        volunteer_id=volunteer, period="2026-02", criteria=criteria(90), by=by
    ))  # fmt: skip
    evaluation = step(ledger, clock, principal("evaluator", "eval-other"), lambda by: ledger.submit_evaluation(
        volunteer_id=volunteer, period="2026-02", criteria=criteria(80), by=by
    )).id  # fmt: skip
    step(ledger, clock, principal("evaluator", "eval-other"), lambda by: ledger.withdraw_evaluation(
        evaluation, reason="r", by=by
    ))  # fmt: skip
    step(ledger, clock, finance, lambda by: ledger.appropriate_budget(
        county="lianshui", year=2026, lines={"transport": 100_000, "communication": 100_000}, by=by
    ))  # fmt: skip
    step(ledger, clock, finance, lambda by: ledger.adjust_budget(
        county="lianshui", year=2026, line="transport", delta=500, reason="r", by=by
    ))  # fmt: skip
    paid = step(ledger, clock, me, lambda by: ledger.submit_claim(
        volunteer_id=volunteer, month=VISIT_MONTH, visit_ids=visits[:2], by=by
    )).id  # fmt: skip
    rejected = step(ledger, clock, me, lambda by: ledger.submit_claim(
        volunteer_id=volunteer, month=VISIT_MONTH, visit_ids=[visits[2]], by=by
    )).id  # fmt: skip
    step(ledger, clock, finance, lambda by: ledger.approve_claim(paid, by=by))
    step(ledger, clock, finance_2, lambda by: ledger.pay_claim(paid, reference="R", paid_on=date(2026, 3, 1), by=by))
    step(ledger, clock, finance, lambda by: ledger.reject_claim(rejected, reason="r", by=by))
    coord(lambda by: ledger.end_pairing(pairing, on=date(2026, 2, 28), reason="other", by=by))
    coord(lambda by: ledger.record_departure(elder, kind="moved_away", on=date(2026, 2, 28), by=by))
    clock.now = datetime(2026, 4, 15, tzinfo=UTC)  # February's visits are locked now
    coord(lambda by: ledger.unlock_visit(visits[2], reason="r", by=by))
    coord(lambda by: ledger.void_visit(visits[2], reason_code="duplicate", by=by))
    coord(lambda by: ledger.retire_volunteer(volunteer, reason="r", by=by))

    everything = stored_events(ledger)
    assert len(everything) > 50
    for stored in everything:
        meta = stored.event.meta
        assert isinstance(meta, Provenance), stored.name
        assert meta.principal_id and meta.role in ROLES, stored.name


def test_visit_records_when_it_was_recorded_apart_from_when_it_happened(
    ledger: Ledger, make: Make, pair: Pair, clock: Any
) -> None:
    clock.now = datetime(2026, 3, 5, 8, 30, tzinfo=UTC)
    with recorded(ledger) as new:
        visit = make.visit(pair.pairing, start=VISIT_START)
    event = new.one("visit.Recorded")
    assert event.timestamp == datetime(2026, 3, 5, 8, 30, tzinfo=UTC)
    assert event.started_at == VISIT_START
    assert event.timestamp != event.started_at
    assert ledger.repository.get(visit).recorded_at == clock.now
    clock.advance(days=2)
    with recorded(ledger) as new:
        ledger.confirm_visit(visit, confirmed_by="family", method="phone_callback", by=COORDINATOR)
    assert new.one("visit.Confirmed").timestamp == datetime(2026, 3, 7, 8, 30, tzinfo=UTC)


def test_idempotency_key_and_correlation_id_are_stored_in_the_record(ledger: Ledger, clock: Any) -> None:
    by = Provenance(principal_id="coord-li", role="coordinator", idempotency_key="9f1c-req", correlation_id="trace-77")
    with recorded(ledger) as new:
        ledger.register_elder(
            county="lianshui", name="赵老", birth_date=date(1930, 1, 1), sex="female", township=TOWNSHIP,
            address="a", phone="p", by=by,
        )  # fmt: skip
    assert new.one("elder.Registered").meta == by
    stored = notifications(ledger, new.events[0].position)[0]
    state = json.loads(stored.state)
    assert "9f1c-req" in json.dumps(state, ensure_ascii=False)
    assert "trace-77" in json.dumps(state, ensure_ascii=False)


def test_absent_idempotency_key_and_correlation_id_are_stored_as_absent(ledger: Ledger, make: Make) -> None:
    with recorded(ledger) as new:
        make.elder(by=Provenance(principal_id="coord-li", role="coordinator"))
    meta = new.one("elder.Registered").meta
    assert (meta.idempotency_key, meta.correlation_id) == (None, None)


def test_events_the_ledger_records_on_its_own_are_by_the_system(ledger: Ledger) -> None:
    for stored in stored_events(ledger):  # the default policies and the home county
        assert stored.event.meta == SYSTEM


def test_events_of_one_save_share_the_recording_time(ledger: Ledger, make: Make, pair: Pair, clock: Any) -> None:
    clock.advance(hours=5)
    with recorded(ledger) as new:
        make.pairing(pair.volunteer)  # Formed, plus the caseload's PairingAdded (and a new elder before)
    assert {e.event.timestamp for e in new.events} == {clock.now}


def test_recording_time_follows_the_clock_not_the_wall(ledger: Ledger, make: Make, clock: Any) -> None:
    clock.now = datetime(2026, 2, 1, 3, 0, tzinfo=UTC) + timedelta(days=30)
    with recorded(ledger) as new:
        make.volunteer()
    assert new.one("volunteer.Recruited").timestamp == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("role", ["", "janitor", "Coordinator", None])
def test_provenance_with_an_unknown_role_is_refused(role: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        Provenance(principal_id="someone", role=role)
    assert info.value.field == "role"


@pytest.mark.parametrize("principal_id", ["", None])
def test_provenance_without_a_principal_is_refused(principal_id: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        Provenance(principal_id=principal_id, role="coordinator")
    assert info.value.field == "principal_id"


def test_clock_without_a_timezone_is_refused_before_anything_is_written(ledger: Ledger, clock: Any) -> None:
    clock.now = datetime(2026, 3, 1, 9, 0)
    with refused(ledger, InvalidInput, field="clock"):
        ledger.establish_county("huaiyin", "淮阴区", ["王营镇"], by=COORDINATOR)


def test_establishing_a_county_twice_is_refused(ledger: Ledger) -> None:
    with refused(ledger, RuleViolation, rule="county.exists"):
        ledger.establish_county("lianshui", "涟水县", ["涟城镇"], by=COORDINATOR)


@pytest.mark.parametrize(
    ("townships", "code"), [([], "townships"), (["a", "a"], "townships"), (["a", " "], "townships")]
)
def test_county_needs_distinct_townships(ledger: Ledger, townships: list[str], code: str) -> None:
    with refused(ledger, InvalidInput, field=code):
        ledger.establish_county("huaiyin", "淮阴区", townships, by=COORDINATOR)
