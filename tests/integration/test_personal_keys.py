"""Persons' keys on a real store (SQLite file and PostgreSQL): sealed at rest, opened only with the master key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.common import Provenance
from ledger.elders import Elder
from ledger.errors import ConfigurationError, RuleViolation
from ledger.personal import FORGOTTEN, PREFIX
from ledger.visits import Visit
from tests.builders import COORDINATOR, elder_fields, make_pair, visit_at
from tests.conftest import START

ADMIN = Provenance("admin-1", "admin")


def stored_states(ledger: Ledger) -> list[bytes]:
    return [n.state for n in ledger.recorder.select_notifications(start=1, limit=100_000)]


def test_personal_fields_are_sealed_in_the_store_and_open_through_the_ledger(stored_ledger: Ledger) -> None:
    pair = make_pair(stored_ledger, 1)
    visit_id = visit_at(stored_ledger, pair, START.replace(day=1, month=2))
    raw = b"".join(stored_states(stored_ledger))
    for value in (elder_fields(1)["name"], elder_fields(1)["address"], elder_fields(1)["phone"], "志愿者1"):
        assert value.encode() not in raw
    assert raw.count(PREFIX.encode()) >= 6
    assert stored_ledger.find(Elder, pair.elder_id).name == elder_fields(1)["name"]  # type: ignore[union-attr]
    assert stored_ledger.find(Visit, visit_id).readings == {"systolic": 135, "diastolic": 85}  # type: ignore[union-attr]


def test_a_wrong_master_key_is_refused_in_one_line_when_the_ledger_opens(stored_ledger: Ledger, store_url: str) -> None:
    make_pair(stored_ledger, 1)
    with pytest.raises(ConfigurationError, match="master key does not open this ledger"):
        open_ledger(store_url, master_key=bytes(32))


def test_without_the_master_key_the_log_reads_with_its_personal_fields_sealed(
    stored_ledger: Ledger, store_url: str
) -> None:
    pair = make_pair(stored_ledger, 1)
    reader = open_ledger(store_url, master_key=None)
    try:
        elder = reader.find(Elder, pair.elder_id)
        assert elder is not None and elder.name.startswith(PREFIX) and elder.township == elder_fields(1)["township"]
        with pytest.raises(ConfigurationError, match="no master key"):
            make_pair(reader, 2)
    finally:
        reader.close()


def test_a_person_forgotten_by_another_process_reads_forgotten_here_too(
    stored_ledger: Ledger, store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    pair = make_pair(stored_ledger, 1)
    other = open_store(store_url)
    other.keyring.recheck_seconds = 0.0  # notice at once (it checks every 2 s)
    assert other.find(Elder, pair.elder_id).name == elder_fields(1)["name"]  # type: ignore[union-attr]
    first = next(iter(other.recorder.select_notifications(start=1, limit=100_000, topics=["tiexin.elder.Registered"])))

    stored_ledger.forget_elder(pair.elder_id, reason="person_asked", by=ADMIN)

    assert other.mapper.to_domain_event(first).name == FORGOTTEN  # type: ignore[attr-defined]
    assert other.find(Elder, pair.elder_id).name == FORGOTTEN  # type: ignore[union-attr]
    with pytest.raises(RuleViolation, match="forgotten"):
        other.relocate_elder(pair.elder_id, township="涟城镇", address="新地址", by=COORDINATOR)


def test_forgetting_keeps_every_stored_byte(stored_ledger: Ledger) -> None:
    pair = make_pair(stored_ledger, 1)
    before = stored_states(stored_ledger)
    stored_ledger.forget_elder(pair.elder_id, reason="person_asked", by=ADMIN)
    after = stored_states(stored_ledger)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert b"person_asked" in after[-1] and PREFIX.encode() not in after[-1]  # the event carries nothing personal
    assert stored_ledger.keyring.store.count() == (1, 1)  # the volunteer's key lives, the elder's is gone
