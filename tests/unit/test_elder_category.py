"""An elder's category: given at registration (a retired cadre unless said), checked, kept; and
registrations stored before the category existed still load, as retired cadres."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.elders import Elder, ElderCategory
from ledger.errors import InvalidInput, RuleViolation, VersionMismatch
from ledger.labels import label
from tests.unit.conftest import COORDINATOR, TOWNSHIP, recorded, refused


def register(ledger: Ledger, **overrides: object) -> UUID:
    fields: dict[str, object] = {
        "county": "lianshui", "name": "王老", "birth_date": date(1935, 7, 1), "sex": "female",
        "township": TOWNSHIP, "address": "人民路 8 号", "phone": "13800000001", "by": COORDINATOR,
    }  # fmt: skip
    return ledger.register_elder(**{**fields, **overrides}).id  # type: ignore[arg-type]


def test_an_elder_registered_without_a_category_is_a_retired_cadre(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        elder_id = register(ledger)
    assert new.one("elder.Registered").category == ElderCategory.RETIRED_CADRE
    elder = ledger.find(Elder, elder_id)
    assert elder is not None and elder.category == "retired_cadre"


@pytest.mark.parametrize("category", list(ElderCategory))
def test_an_elder_is_registered_in_the_category_given(ledger: Ledger, category: ElderCategory) -> None:
    with recorded(ledger) as new:
        elder_id = register(ledger, category=category.value)
    event = new.one("elder.Registered")
    assert event.category == category.value and type(event.category) is str
    elder = ledger.find(Elder, elder_id)
    assert elder is not None and elder.category == category


@pytest.mark.parametrize("category", ["cadre", "", "RETIRED_CADRE", None, 1])
def test_an_unknown_category_is_refused_and_nothing_is_written(ledger: Ledger, category: object) -> None:
    with refused(ledger, InvalidInput, field="category"):
        register(ledger, category=category)


def test_every_category_reads_in_chinese_and_english() -> None:
    assert [label(ElderCategory, c, "zh") for c in ElderCategory] == ["离退休干部", "空巢老人", "残疾老人", "其他"]
    assert label(ElderCategory, ElderCategory.EMPTY_NESTER, "en") == "empty-nest elder"


# Registrations stored before the category existed ----------------------------------------------

OLD_ELDER = UUID("5a3c0000-0000-4000-8000-0000000000e1")
OLD_REGISTERED = {
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-05T01:35:00+00:00"},
    "originator_topic": "tiexin.elder",
    "county": "lianshui",
    "name": "王秀英",
    "birth_date": {"_type_": "date_iso", "_data_": "1938-05-01"},
    "sex": "female",
    "township": "高沟镇",
    "address": "高沟镇幸福路 3 号",
    "phone": "13800000001",
    "notes": "独居",
    "meta": {"_type_": "provenance", "_data_": {"principal_id": "coord-wang", "role": "coordinator",
                                                 "idempotency_key": None, "correlation_id": None}},
}  # fmt: skip
"""``Elder.Registered`` as stored at class version 1: no ``category``, no ``class_version``."""


def old_registration() -> StoredEvent:
    state = json.dumps(OLD_REGISTERED, ensure_ascii=False, separators=(",", ":")).encode()
    return StoredEvent(originator_id=OLD_ELDER, originator_version=1, topic="tiexin.elder.Registered", state=state)


def test_a_registration_stored_before_the_category_existed_loads_as_a_retired_cadre(ledger: Ledger) -> None:
    event = ledger.mapper.to_domain_event(old_registration())
    assert isinstance(event, Elder.Registered)
    assert (event.name, event.township, event.category) == ("王秀英", "高沟镇", ElderCategory.RETIRED_CADRE)


def test_an_elder_stored_at_version_1_replays_and_takes_new_events(ledger: Ledger) -> None:
    ledger.recorder.insert_events([old_registration()])
    elder = ledger.find(Elder, OLD_ELDER)
    assert elder is not None
    assert (elder.category, elder.township, elder.birth_date) == ("retired_cadre", "高沟镇", date(1938, 5, 1))
    ledger.relocate_elder(OLD_ELDER, township=TOWNSHIP, address="人民路 1 号", by=COORDINATOR)
    moved = ledger.find(Elder, OLD_ELDER)
    assert moved is not None and (moved.version, moved.township, moved.category) == (2, TOWNSHIP, "retired_cadre")


def test_a_registration_is_written_at_version_2_with_its_category(ledger: Ledger) -> None:
    elder_id = register(ledger, category="disabled")
    [stored] = [n for n in ledger.recorder.select_notifications(start=1, limit=10_000) if n.originator_id == elder_id]
    state = json.loads(stored.state)
    assert (state["class_version"], state["category"]) == (2, "disabled")


# Recategorisation -------------------------------------------------------------------------------


def test_an_elder_is_put_in_another_category_with_a_reason(ledger: Ledger) -> None:
    elder_id = register(ledger)
    with recorded(ledger) as new:
        written = ledger.recategorise_elder(elder_id, category="empty_nester", reason="子女迁居外地", by=COORDINATOR)
    event = new.one("elder.Recategorised")
    assert (event.category, event.reason, event.meta) == ("empty_nester", "子女迁居外地", COORDINATOR)
    assert written.version == 2
    elder = ledger.find(Elder, elder_id)
    assert elder is not None and elder.category == ElderCategory.EMPTY_NESTER


def test_recategorising_into_the_same_category_is_refused(ledger: Ledger) -> None:
    elder_id = register(ledger, category="disabled")
    with refused(ledger, RuleViolation, rule="elder.same_category"):
        ledger.recategorise_elder(elder_id, category="disabled", reason="复核", by=COORDINATOR)


@pytest.mark.parametrize(("category", "reason", "field"), [("cadre", "复核", "category"), ("other", " ", "reason")])
def test_a_recategorisation_needs_a_known_category_and_a_reason(
    ledger: Ledger, category: str, reason: str, field: str
) -> None:
    elder_id = register(ledger)
    with refused(ledger, InvalidInput, field=field):
        ledger.recategorise_elder(elder_id, category=category, reason=reason, by=COORDINATOR)


def test_a_departed_elder_is_not_recategorised(ledger: Ledger) -> None:
    elder_id = register(ledger)
    ledger.record_departure(elder_id, kind="withdrawn", on=date(2026, 2, 1), by=COORDINATOR)
    with refused(ledger, RuleViolation, rule="elder.departed"):
        ledger.recategorise_elder(elder_id, category="other", reason="复核", by=COORDINATOR)


def test_a_recategorisation_is_checked_against_the_version_decided_on(ledger: Ledger) -> None:
    elder_id = register(ledger)
    ledger.recategorise_elder(elder_id, category="other", reason="复核", by=COORDINATOR)
    with refused(ledger, VersionMismatch):
        ledger.recategorise_elder(elder_id, category="disabled", reason="复核", by=COORDINATOR, expected_version=1)
