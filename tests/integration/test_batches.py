"""A batch (the demo's bulk load) is one transaction that keeps the commands' order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from ledger.application import Ledger
from ledger.errors import RuleViolation
from tests.builders import COORDINATOR, event_count, make_pair, visit_at


def test_a_batch_saves_its_events_in_the_order_of_its_commands(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    ledger = open_store(store_url)
    start = event_count(ledger)
    with ledger.batch():
        pair = make_pair(ledger, 1)
        visit = visit_at(ledger, pair, datetime(2026, 2, 2, 1, 0, tzinfo=UTC), confirm=False)
        ledger.end_pairing(pair.pairing_id, on=date(2026, 2, 20), reason="reassigned", by=COORDINATOR)
        ledger.confirm_visit(visit, confirmed_by="family", method="phone_callback", by=COORDINATOR)
        assert event_count(ledger) == start  # nothing is written until the batch ends

    topics = [n.topic for n in ledger.recorder.select_notifications(start=start + 1, limit=100)]
    assert topics == [
        "tiexin.elder.Registered",
        "tiexin.volunteer.Recruited",
        "tiexin.pairing.Formed",
        "tiexin.caseload.Opened",
        "tiexin.caseload.PairingAdded",
        "tiexin.visit.Recorded",
        "tiexin.pairing.Ended",
        "tiexin.caseload.PairingRemoved",
        "tiexin.visit.Confirmed",
    ]


def test_a_refused_command_in_a_batch_writes_nothing_of_the_batch(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    ledger = open_store(store_url)
    start = event_count(ledger)
    with pytest.raises(RuleViolation), ledger.batch():
        pair = make_pair(ledger, 1)
        ledger.form_pairing(
            volunteer_id=pair.volunteer_id,
            elder_id=pair.elder_id,
            group="g",
            from_date=date(2026, 1, 5),
            by=COORDINATOR,
        )
    assert event_count(ledger) == start
