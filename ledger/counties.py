"""A county of the programme and its townships (乡镇/园区).

The township list is data, not code: each county is established once with its own list, so a
province of about a hundred counties needs no code change. Elders and volunteers name a township
of their county, and every rule that asks "is this a township of the county?" asks here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_text, stable_id
from ledger.errors import InvalidInput, RuleViolation

LIANSHUI = "lianshui"
LIANSHUI_NAME = "涟水县"
LIANSHUI_TOWNSHIPS = (
    "涟城镇", "高沟镇", "唐集镇", "保滩镇", "大东镇", "五港镇", "梁岔镇", "石湖镇", "朱码镇",
    "岔庙镇", "东胡集镇", "南集镇", "义兴镇", "成集镇", "红窑镇", "陈师镇", "前进镇", "黄营镇",
    "徐集乡", "小李集乡", "蒋庵乡", "麻垛乡", "方渡乡", "经济开发区", "城南工业园",
)  # fmt: skip
"""The 25 townships and parks of the programme's county (涟水县, docs/programme.md)."""


def county_id(code: str) -> Any:
    return stable_id("county", code)


CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
"""A county's code: 1–40 lowercase letters, digits, ``-`` and ``_`` (``lianshui``), starting with a letter or
digit; it names the county in every record and in addresses (``/v1/counties/lianshui``), so it never changes."""


def check_code(code: object) -> str:
    text = require_text("code", code, max_length=40)
    if not CODE.fullmatch(text):
        raise InvalidInput("code", f"{text!r} is not a county code: 1–40 lowercase letters, digits, - and _")
    return text


class County(Aggregate):
    TOPIC = "tiexin.county"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.county.Created"

    @staticmethod
    def create_id(code: str) -> Any:
        return county_id(code)

    @classmethod
    def establish(cls, code: str, name: str, townships: list[str], *, now: datetime, meta: Provenance) -> County:
        code = check_code(code)
        name = require_text("name", name)
        if not isinstance(townships, list | tuple):
            raise InvalidInput("townships", "must be a list of township names")
        names = [require_text("townships", t, max_length=40) for t in townships]
        if not names:
            raise InvalidInput("townships", "a county needs at least one township")
        if len(set(names)) != len(names):
            raise InvalidInput("townships", "township names must be distinct")
        return cls(code=code, name=name, townships=names, timestamp=now, meta=meta)

    class Established(Aggregate.Created):
        TOPIC = "tiexin.county.Established"
        code: str
        name: str
        townships: list[str]
        timestamp: datetime
        meta: Provenance

    @event(Established)
    def __init__(self, code: str, name: str, townships: list[str], timestamp: datetime, meta: Provenance) -> None:
        self.code = code
        self.name = name
        self.townships = list(townships)

    def check_township(self, township: str, field: str = "township") -> str:
        if township not in self.townships:
            raise RuleViolation(
                "county.unknown_township",
                f"{field} {township!r} is not a township of {self.name} ({self.code})",
            )
        return township
