"""Builders and assertions shared by the unit tests of the write side.

Test data is made with the :class:`Make` builder (fixture ``make``): each method runs the real
command of the ledger with sensible defaults and returns the new aggregate's id, so a test only
spells out what it is about. Times are placed relative to the ``clock`` fixture, which starts on
2026-03-01T01:00Z (09:00 on 1 March in the county): by default pairings start on 1 January 2026
and visits happen in February 2026, so they are in the past, not yet locked, and claimable as
the month "2026-02".

``refused(ledger, ErrorType, rule=..., field=...)`` asserts a command is refused with the right
error AND that the store holds exactly as many events afterwards as before.
``recorded(ledger)`` collects the events a block wrote, decoded, with their topics and positions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.common import Provenance

# Principals ------------------------------------------------------------------------------

COORDINATOR = Provenance(principal_id="coord-wang", role="coordinator")
COORDINATOR_2 = Provenance(principal_id="coord-zhao", role="coordinator")
FINANCE = Provenance(principal_id="fin-liu", role="finance")
FINANCE_2 = Provenance(principal_id="fin-chen", role="finance")
EVALUATOR = Provenance(principal_id="eval-sun", role="evaluator")
EVALUATOR_2 = Provenance(principal_id="eval-zhou", role="evaluator")
ADMIN = Provenance(principal_id="admin-1", role="admin")

HOME_COUNTY = "lianshui"
TOWNSHIP = "涟城镇"
OTHER_TOWNSHIP = "高沟镇"

PAIRED_FROM = date(2026, 1, 1)
VISIT_START = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)  # 10:00 on 10 February in the county
VISIT_MONTH = "2026-02"


def as_volunteer(volunteer_id: UUID) -> Provenance:
    """The volunteer's own key: their principal id is their volunteer id."""
    return Provenance(principal_id=str(volunteer_id), role="volunteer")


# Reading the store -----------------------------------------------------------------------


def notifications(ledger: Ledger, start: int | None = None) -> list[Any]:
    return list(ledger.recorder.select_notifications(start=start, limit=100000))


def event_count(ledger: Ledger) -> int:
    return len(notifications(ledger))


def last_position(ledger: Ledger) -> int:
    found = notifications(ledger)
    return found[-1].id if found else 0


@dataclass
class Stored:
    """One stored event: its log position, stable topic and the decoded domain event."""

    position: int
    topic: str
    event: Any

    @property
    def name(self) -> str:
        """The topic without the ``tiexin.`` prefix: ``elder.Registered``."""
        return self.topic.removeprefix("tiexin.")


def stored_events(ledger: Ledger, start: int | None = None) -> list[Stored]:
    return [Stored(n.id, n.topic, ledger.mapper.to_domain_event(n)) for n in notifications(ledger, start)]


@dataclass
class Recorded:
    """The events written inside a ``recorded`` block (filled when the block ends)."""

    events: list[Stored] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def one(self, name: str) -> Any:
        found = [e.event for e in self.events if e.name == name]
        assert len(found) == 1, f"expected one {name}, got {self.names}"
        return found[0]

    def of(self, name: str) -> list[Any]:
        return [e.event for e in self.events if e.name == name]


@contextmanager
def recorded(ledger: Ledger) -> Iterator[Recorded]:
    before = last_position(ledger)
    result = Recorded()
    yield result
    result.events = stored_events(ledger, before + 1)


@contextmanager
def refused(
    ledger: Ledger, error: type[Exception], *, rule: str | None = None, field: str | None = None
) -> Iterator[pytest.ExceptionInfo[Any]]:
    """The block must raise ``error`` (with that rule code or field) and write nothing."""
    before = event_count(ledger)
    with pytest.raises(error) as info:
        yield info
    if rule is not None:
        assert info.value.rule == rule, f"refused for {info.value.rule!r} ({info.value}), expected {rule!r}"
    if field is not None:
        assert info.value.field == field, f"refused on {info.value.field!r} ({info.value}), expected {field!r}"
    assert event_count(ledger) == before, "a refused command wrote events"


# Building test data ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    volunteer: UUID
    elder: UUID
    pairing: UUID


class Make:
    """Runs the ledger's real commands with sensible defaults; each returns the new id."""

    def __init__(self, ledger: Ledger, clock: Any) -> None:
        self.ledger = ledger
        self.clock = clock
        self._n = 0

    def _seq(self) -> int:
        self._n += 1
        return self._n

    def county(self, code: str = "huaiyin", townships: tuple[str, ...] = ("王营镇", "西宋集镇")) -> str:
        self.ledger.establish_county(code, f"{code} county", list(townships), by=ADMIN)
        return code

    def elder(self, *, county: str = HOME_COUNTY, township: str = TOWNSHIP, **overrides: Any) -> UUID:
        fields: dict[str, Any] = {
            "name": f"老人{self._seq()}",
            "birth_date": date(1938, 5, 1),
            "sex": "male",
            "address": "人民路 1 号",
            "phone": "13800000000",
            "by": COORDINATOR,
        }
        fields.update(overrides)
        return self.ledger.register_elder(county=county, township=township, **fields).id

    def volunteer(self, *, county: str = HOME_COUNTY, township: str = TOWNSHIP, **overrides: Any) -> UUID:
        fields: dict[str, Any] = {
            "name": f"志愿者{self._seq()}",
            "unit": "县人民医院",
            "profession": "doctor",
            "phone": "13900000000",
            "by": COORDINATOR,
        }
        fields.update(overrides)
        return self.ledger.recruit_volunteer(county=county, township=township, **fields).id

    def pairing(
        self,
        volunteer: UUID | None = None,
        elder: UUID | None = None,
        *,
        from_date: date = PAIRED_FROM,
        group: str = "第一组",
        by: Provenance = COORDINATOR,
    ) -> UUID:
        volunteer = volunteer or self.volunteer()
        elder = elder or self.elder()
        return self.ledger.form_pairing(
            volunteer_id=volunteer, elder_id=elder, group=group, from_date=from_date, by=by
        ).id

    def pair(self, *, volunteer: UUID | None = None, elder: UUID | None = None, **kwargs: Any) -> Pair:
        volunteer = volunteer or self.volunteer()
        elder = elder or self.elder()
        return Pair(volunteer, elder, self.pairing(volunteer, elder, **kwargs))

    def visit_details(
        self, *, kind: str = "medical", start: datetime = VISIT_START, minutes: int = 60, **overrides: Any
    ) -> dict[str, Any]:
        """The EVV fields of a plausible visit (a phone call gets the 'remote' band, no readings)."""
        phone = kind == "phone_call"
        details: dict[str, Any] = {
            "kind": kind,
            "services": ["chat"] if phone else ["blood_pressure", "health_advice"],
            "readings": {} if phone else {"systolic": 132, "diastolic": 84, "pulse": 72},
            "started_at": start,
            "ended_at": start + timedelta(minutes=minutes),
            "township": TOWNSHIP,
            "distance_band": "remote" if phone else "within_2km",
        }
        details.update(overrides)
        return details

    def visit(self, pairing: UUID, *, by: Provenance | None = None, **details: Any) -> UUID:
        by = by or COORDINATOR
        return self.ledger.record_visit(pairing_id=pairing, by=by, **self.visit_details(**details)).id

    def confirmed_visit(self, pairing: UUID, **details: Any) -> UUID:
        visit = self.visit(pairing, **details)
        self.ledger.confirm_visit(visit, confirmed_by="elder", method="signature", by=COORDINATOR)
        return visit

    def visits_on_days(
        self, pairing: UUID, days: range | list[int], *, confirmed: bool = True, **details: Any
    ) -> list[UUID]:
        """One visit at 10:00 county time on each given day of February 2026."""
        build = self.confirmed_visit if confirmed else self.visit
        return [build(pairing, start=VISIT_START.replace(day=d), **details) for d in days]

    def budget(
        self,
        *,
        year: int = 2026,
        transport: int = 10_000_000,
        communication: int = 5_000_000,
        county: str = HOME_COUNTY,
    ) -> Any:
        return self.ledger.appropriate_budget(
            county=county, year=year, lines={"transport": transport, "communication": communication}, by=FINANCE
        )

    def claim(
        self, volunteer: UUID, visits: list[UUID], *, month: str = VISIT_MONTH, by: Provenance | None = None
    ) -> UUID:
        return self.ledger.submit_claim(
            volunteer_id=volunteer, month=month, visit_ids=visits, by=by or as_volunteer(volunteer)
        ).id

    def approved_claim(self, volunteer: UUID, visits: list[UUID], **kwargs: Any) -> UUID:
        claim = self.claim(volunteer, visits, **kwargs)
        self.ledger.approve_claim(claim, by=FINANCE)
        return claim


@pytest.fixture
def make(ledger: Ledger, clock: Any) -> Make:
    return Make(ledger, clock)


@pytest.fixture
def pair(make: Make) -> Pair:
    """A volunteer and an elder of the home county, both in 涟城镇, paired from 2026-01-01."""
    return make.pair()
