"""Things every aggregate shares: who recorded an event, the county's calendar, money, ids.

Every event of tiexin carries a ``meta`` (its :class:`Provenance`) and a ``timestamp`` that is
*when it was recorded* (passed in by the application's clock, never read from the wall clock
here). When the service itself happened is a separate field of the events that need it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import EnumType
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput

COUNTY_TZ = ZoneInfo("Asia/Shanghai")
"""The county's clock: it decides which day and month a visit or claim belongs to."""

ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://tiexin.example/ids")
ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin", "system")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
"""The range of date-times the ledger accepts: far beyond the programme, short of overflow."""
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Provenance:
    """Who recorded an event, and the client's idempotency key and correlation id, if any."""

    principal_id: str
    role: str
    idempotency_key: str | None = None
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        if not self.principal_id:
            raise InvalidInput("principal_id", "a principal is required")
        if self.role not in ROLES:
            raise InvalidInput("role", f"unknown role {self.role!r}; one of {', '.join(ROLES)}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal_id": self.principal_id,
            "role": self.role,
            "idempotency_key": self.idempotency_key,
            "correlation_id": self.correlation_id,
        }


SYSTEM = Provenance(principal_id="system", role="system")
"""The principal of events the ledger records on its own (the default policies)."""


def stable_id(*parts: object) -> UUID:
    """A deterministic id: the same parts always name the same aggregate.

    Guards (a claimed visit, a volunteer's caseload, a budget year) use it, so two racing
    commands that would both create one collide in the store instead of both succeeding.
    """
    name = "/".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return UUID(bytes=hashlib.sha1(ID_NAMESPACE.bytes + name, usedforsecurity=False).digest()[:16], version=5)


def require_aware(field: str, moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(field, "must be a timezone-aware date-time")
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise InvalidInput(field, f"must fall in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def county_date(moment: datetime) -> date:
    """The county's calendar date of a moment."""
    return require_aware("moment", moment).astimezone(COUNTY_TZ).date()


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(field: str, month: str) -> tuple[int, int]:
    match = _MONTH.match(month) if isinstance(month, str) else None
    if not match:
        raise InvalidInput(field, f"{month!r} is not a month written as YYYY-MM")
    year = int(match.group(1))
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InvalidInput(field, f"must fall in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return year, int(match.group(2))


def first_day(month: str) -> date:
    year, mon = parse_month("month", month)
    return date(year, mon, 1)


def last_day(month: str) -> date:
    start = first_day(month)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def require_text(field: str, value: object, *, max_length: int = 200, optional: bool = False) -> str:
    if optional and (value is None or value == ""):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty text")
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise InvalidInput(field, "must be text without NUL or unpaired surrogate characters")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return value.strip()


def require_choice(field: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (a StrEnum or a list of codes), as the plain text stored in events.

    The answer is a plain ``str`` even when ``value`` is an enum member, so an event recorded now holds
    what an event decoded from the store holds.
    """
    allowed = _choices(choices)  # `text in SomeStrEnum` raises TypeError on Python 3.11; a tuple compares by value
    if value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


_ENUM_CHOICES: dict[type, tuple[str, ...]] = {}
"""Each enum's members as a tuple, made once per process (an enum class never changes)."""


def _choices(choices: Iterable[str]) -> tuple[str, ...]:
    if isinstance(choices, EnumType):
        allowed = _ENUM_CHOICES.get(choices)
        if allowed is None:
            allowed = _ENUM_CHOICES[choices] = tuple(choices)
        return allowed
    return tuple(choices)


def require_fen(field: str, value: object, *, allow_negative: bool = False) -> int:
    """Money is an integer number of fen (分): never a float, never a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "money must be an integer number of fen")
    if value < 0 and not allow_negative:
        raise InvalidInput(field, "money must not be negative")
    return value


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals, exactly: ``1200`` → ``"12.00"``, ``-5`` → ``"-0.05"``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
