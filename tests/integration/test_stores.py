"""The same behaviour on a SQLite file and on PostgreSQL: what is saved reads back the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.budgets import Budget, budget_id
from ledger.claims import Claim, ClaimStatus
from ledger.common import Provenance
from ledger.counties import LIANSHUI
from ledger.errors import ConfigurationError, InvalidInput, RuleViolation, StoreUnavailable
from ledger.visits import Visit
from tests.builders import COORDINATOR, FINANCE_A, FINANCE_B, MASTER_KEY, claim_of_february, event_count, make_pair


def test_a_claim_paid_on_one_ledger_reads_back_identically_on_a_fresh_one(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    first = open_store(store_url)
    pair = make_pair(first, 1)
    first.appropriate_budget(
        county=LIANSHUI, year=2026, lines={"transport": 500_000, "communication": 200_000}, by=FINANCE_A
    )
    claim_id = claim_of_february(first, pair)
    first.approve_claim(claim_id, by=FINANCE_A)
    first.pay_claim(claim_id, reference="国库支付-0001", paid_on=date(2026, 3, 1), by=FINANCE_B)

    second = open_store(store_url)
    claim = second.repository.get(claim_id)
    assert isinstance(claim, Claim)
    assert (claim.status, claim.total_fen, claim.communication_fen) == (ClaimStatus.PAID, 5000, 3000)
    budget = second.repository.get(budget_id(LIANSHUI, 2026))
    assert isinstance(budget, Budget)
    assert budget.committed == {"transport": 2000, "communication": 3000}
    visit = second.repository.get(claim.visit_ids[0])
    assert isinstance(visit, Visit)
    assert visit.readings == {"systolic": Decimal(135), "diastolic": Decimal(85)}
    assert visit.travel_km == Decimal("4.5")
    assert visit.started_at.tzinfo is not None


def test_every_stored_event_names_who_recorded_it_and_when(store_url: str, open_store: Callable[[str], Ledger]) -> None:
    ledger = open_store(store_url)
    by = Provenance("coordinator-7", "coordinator", idempotency_key="key-1", correlation_id="corr-1")
    elder = ledger.register_elder(
        county=LIANSHUI, name="张三", birth_date=date(1931, 2, 2), sex="female", township="唐集镇",
        address="唐集镇1号", phone="13800000000", by=by,
    )  # fmt: skip
    [event] = ledger.events.get(elder.id)
    assert event.meta == by  # type: ignore[attr-defined]
    assert event.timestamp == ledger.clock()


def test_a_refused_command_writes_nothing(store_url: str, open_store: Callable[[str], Ledger]) -> None:
    ledger = open_store(store_url)
    pair = make_pair(ledger, 2)
    before = event_count(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.form_pairing(
            volunteer_id=pair.volunteer_id, elder_id=pair.elder_id, group="g", from_date=date(2026, 2, 1),
            by=COORDINATOR,
        )  # fmt: skip
    assert refused.value.rule == "pairing.duplicate"
    with pytest.raises(InvalidInput):
        ledger.record_visit(
            pairing_id=pair.pairing_id, by=COORDINATOR, kind="medical", services=["chat"], readings={},
            started_at=datetime(2026, 2, 1, 3, tzinfo=UTC), ended_at=datetime(2026, 2, 1, 2, tzinfo=UTC),
            township="高沟镇", distance_band="at_home",
        )  # fmt: skip
    assert event_count(ledger) == before


def test_events_have_stable_topics_independent_of_module_paths(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    ledger = open_store(store_url)
    make_pair(ledger, 3)
    topics = {n.topic for n in ledger.recorder.select_notifications(start=None, limit=1000)}
    assert topics >= {"tiexin.elder.Registered", "tiexin.volunteer.Recruited", "tiexin.pairing.Formed"}
    assert all(t.startswith("tiexin.") and ":" not in t for t in topics)


def test_an_unknown_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unsupported TIEXIN_DATABASE_URL"):
        open_ledger("mysql://root@localhost/test", master_key=MASTER_KEY)


def test_an_unreachable_postgres_is_store_unavailable_with_one_line() -> None:
    with pytest.raises(StoreUnavailable) as error:
        open_ledger("postgresql://postgres@127.0.0.1:1/test", master_key=MASTER_KEY)
    assert "\n" not in error.value.reason
    assert "127.0.0.1:1" in error.value.reason


def test_a_sqlite_file_in_a_missing_folder_is_store_unavailable(tmp_path: object) -> None:
    with pytest.raises(StoreUnavailable):
        open_ledger(f"sqlite:///{tmp_path}/no/such/folder/tiexin.db", master_key=MASTER_KEY)
