"""The health gift bag's contents are a versioned policy: known items, whole counts, at least one item."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput
from ledger.labels import label
from ledger.policies import (
    DEFAULT_EFFECTIVE_FROM,
    DEFAULT_PARAMETERS,
    GiftBagItem,
    PolicyKind,
    check_parameters,
    gift_bag_contents,
)
from tests.unit.conftest import ADMIN, recorded, refused

GIFT_BAG = PolicyKind.GIFT_BAG


def adopt(ledger: Ledger, parameters: Any, version: int = 2, effective_from: date = date(2026, 4, 1)) -> Any:
    return ledger.adopt_policy(
        GIFT_BAG, version=version, parameters=parameters, effective_from=effective_from, by=ADMIN
    )


def test_version_one_is_the_programme_s_bag_a_handbook_a_health_book_two_local_culture_books_and_another(
    ledger: Ledger,
) -> None:
    policy = ledger.policy_in_force(GIFT_BAG, date(2026, 3, 1))
    assert (policy.version, policy.effective_from) == (1, DEFAULT_EFFECTIVE_FROM)
    assert policy.parameters == DEFAULT_PARAMETERS[GIFT_BAG] == {
        "handbook": 1, "health_book": 1, "local_culture_book": 2, "other_book": 1,
    }  # fmt: skip
    assert gift_bag_contents(policy.parameters) == policy.parameters


def test_a_new_version_may_leave_items_out_and_applies_from_its_date(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        adopt(ledger, {"local_culture_book": 3, "handbook": 1, "other_book": 0})
    assert new.names == ["policy.Adopted"]
    assert ledger.policy_in_force(GIFT_BAG, date(2026, 3, 31)).version == 1
    april = ledger.policy_in_force(GIFT_BAG, date(2026, 4, 1))
    assert april.version == 2
    assert list(gift_bag_contents(april.parameters).items()) == [("handbook", 1), ("local_culture_book", 3)]


@pytest.mark.parametrize(
    "parameters",
    [{}, {"handbook": 0}, dict.fromkeys(GiftBagItem, 0)],
    ids=["no item", "one item counted 0", "every item counted 0"],
)
def test_a_bag_holds_at_least_one_item(ledger: Ledger, parameters: dict[str, int]) -> None:
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, parameters)


def test_an_item_the_bag_cannot_hold_is_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="parameters") as info:
        adopt(ledger, {"handbook": 1, "umbrella": 1})
    assert "umbrella" in str(info.value)


@pytest.mark.parametrize("value", [-1, 1.5, 2.0, "2", True, None], ids=repr)
def test_counts_are_whole_numbers_zero_or_more(ledger: Ledger, value: Any) -> None:
    with refused(ledger, InvalidInput, field="parameters.health_book"):
        adopt(ledger, {"handbook": 1, "health_book": value})


def test_parameters_that_are_not_an_object_are_refused(ledger: Ledger) -> None:
    with refused(ledger, InvalidInput, field="parameters"):
        adopt(ledger, [("handbook", 1)])


def test_the_check_is_the_same_for_a_stored_version() -> None:
    check_parameters(GIFT_BAG, {"other_book": 1}, stored=True)
    with pytest.raises(InvalidInput):
        check_parameters(GIFT_BAG, {"other_book": 0}, stored=True)


def test_every_item_reads_in_chinese_and_english() -> None:
    assert [label(GiftBagItem, i) for i in GiftBagItem] == ["健康手册", "健康书", "地方文化书", "其他书籍"]
    assert label(GiftBagItem, "local_culture_book", "en") == "local-culture book"
    assert label(PolicyKind, GIFT_BAG, "en") == "health gift bag contents"
