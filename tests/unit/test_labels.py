"""Every code a person meets has a Chinese and an English label; the language is negotiated."""

from __future__ import annotations

import enum
import importlib
import pkgutil

import pytest

import ledger
from api.labels import from_header
from ledger.labels import LABELS, catalogue, label
from projections.audit.rules import RULES


def ledger_enums() -> list[type[enum.StrEnum]]:
    found = []
    for module in pkgutil.iter_modules(ledger.__path__):
        loaded = importlib.import_module(f"ledger.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, enum.StrEnum) and value.__module__ == loaded.__name__:
                found.append(value)
    return found


@pytest.mark.parametrize("family", ledger_enums(), ids=lambda e: e.__name__)
def test_every_code_of_every_ledger_enum_has_a_chinese_and_an_english_label(family: type[enum.StrEnum]) -> None:
    labels = LABELS.get(family.__name__, {})
    missing = [code.value for code in family if code.value not in labels]
    assert missing == [], f"{family.__name__}: no label for {missing} in ledger/labels.py"
    for zh, en in (labels[code.value] for code in family):
        assert zh and en and zh != en and not zh.isascii()


def test_every_anomaly_rule_has_its_labels_and_the_english_one_is_the_rule_s_own_words() -> None:
    assert set(LABELS["AnomalyRule"]) == set(RULES)
    assert {code: LABELS["AnomalyRule"][code][1] for code in RULES} == RULES


def test_a_label_is_chinese_by_default_english_on_request_and_an_unknown_code_reads_as_itself() -> None:
    assert label("VisitKind", "phone_call") == "电话问候"
    assert label("VisitKind", "phone_call", "en") == "phone call"
    assert label("VisitKind", "teleportation", "en") == "teleportation"
    assert catalogue("en")["ClaimStatus"]["paid"] == "paid" and catalogue("zh")["ClaimStatus"]["paid"] == "已支付"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.4", "en"),
        ("fr-FR", None),
        ("", None),
        ("en;q=0, zh;q=0.1", "zh"),
        ("en;q=oops, zh", "zh"),
    ],
)
def test_the_language_is_taken_from_accept_language_by_weight(header: str, lang: str | None) -> None:
    assert from_header(header) == lang
