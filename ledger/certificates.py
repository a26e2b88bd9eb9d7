"""Service-record certificates (志愿服务记录证明): a volunteer's verified service in a period, issued by the bureau.

Rules:

- a certificate covers one volunteer and one **period** of county dates, ``from`` to ``to`` (both
  included), that has passed (``to`` is today at the latest), at most :data:`MAX_PERIOD_DAYS` long;
- it certifies the volunteer's **verified service** in the period: the visits that are confirmed
  now (so neither voided nor disputed) and started on one of its days, as the total time in whole
  minutes (the sum of each visit's end minus its start, rounded down once, at the end) and the
  number of visits of each kind (every kind listed, zeros too);
- it is **issued** by the county's Veteran Cadres Bureau (县委老干部局, which runs the programme),
  at a coordinator's or an administrator's request, or the volunteer's own; never for a volunteer
  who has been forgotten (``certificate.volunteer_forgotten``), nor for a period with no verified
  service (``certificate.no_service``: there is nothing to certify); a refused request writes nothing;
- issuing is one ``Issued`` event holding the volunteer's id, the period, the minutes, the visits
  by kind, the ids of the visits counted, the log position the visits were read as of (the read
  model that found them, :class:`ServiceCandidates`), a **check code** and the SHA-256
  **digest** of the certified facts (:meth:`ServiceFacts.digest`); and the volunteer's name as
  printed, the only personal field, sealed under the volunteer's key (:mod:`ledger.personal`);
- the **check code** is 10 characters of Crockford's base32 (50 bits) drawn from randomness the
  application passes in (a new id: random in production): nobody can guess a code, and the
  certificate's id is derived from it, so a code finds its certificate with no index;
- a certificate never changes. Later corrections (a visit voided, amended or confirmed late) do
  not touch it: checking it recomputes the verified service from the visits as they are now and
  compares it with what was certified (:func:`compare`); a changed record is reported, with what
  differs, and the certificate stays genuine (it says what the record held when it was issued);
- each volunteer's certificates are listed in their :class:`CertificateRegister` (a
  deterministic id), so the certificate of a period is found without reading the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import COUNTY_TZ, Provenance, county_date, stable_id
from ledger.counties import County
from ledger.errors import InvalidInput, RuleViolation
from ledger.visits import VisitKind, VisitStatus
from ledger.volunteers import Volunteer

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: digits and letters, without I, L, O and U (never misread, never a word)."""
CODE_LENGTH = 10
"""Characters of a check code: 50 bits."""
CODE_READS_AS = {"I": "1", "L": "1", "O": "0"}
"""What a person may type for a digit (Crockford's decoding); hyphens and spaces are ignored."""
MAX_CODE_INPUT = 40
MAX_PERIOD_DAYS = 3660
"""Ten years: longer than the programme has run."""
MAX_VISITS = 5000
"""The most visits one certificate reads (ten a week for ten years); a longer record is split by period."""
ISSUER_ROLES = ("coordinator", "admin", "volunteer")
TITLE = "志愿服务记录证明"
TITLE_EN = "Certificate of volunteer service"
BUREAU = "委老干部局"
"""The issuer's name after its county's (涟水县 → 涟水县委老干部局, the county's Veteran Cadres Bureau)."""
DIGEST_PREFIX = "tiexin-certificate-v1\n"


def certificate_id(code: str) -> UUID:
    """The id of the certificate with this check code (the code decides it: no index is needed)."""
    return stable_id("certificate", code)


def register_id(volunteer_id: UUID) -> UUID:
    return stable_id("certificate-register", volunteer_id)


def issuer_of(county: County) -> str:
    return f"{county.name}{BUREAU}"


# The check code ------------------------------------------------------------------------------


def code_from(randomness: bytes) -> str:
    """A check code drawn from ``randomness`` (at least 16 bytes, from the application: the domain has none)."""
    if not isinstance(randomness, bytes) or len(randomness) < 16:
        raise ValueError("a check code needs at least 16 bytes of randomness")
    digest = hashlib.sha256(b"tiexin-certificate-code:" + randomness).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * CODE_LENGTH)
    return "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, hyphens or spaces, I/L for 1, O for 0) in its stored form; None if it is none."""
    if not isinstance(text, str) or len(text) > MAX_CODE_INPUT:
        return None
    plain = "".join(CODE_READS_AS.get(c, c) for c in text.upper() if c not in "- ")
    if len(plain) != CODE_LENGTH or any(c not in CROCKFORD for c in plain):
        return None
    return plain


def grouped(code: str) -> str:
    """A code as printed, in two groups of five (``7KQ2M-X9D4T``); either form is checked."""
    return f"{code[:5]}-{code[5:]}"


# The period and the facts --------------------------------------------------------------------


def check_period(date_from: date, date_to: date, today: date) -> None:
    for name, day in (("from", date_from), ("to", date_to)):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise InvalidInput(name, "must be a calendar date")
    if date_to < date_from:
        raise InvalidInput("to", "the period ends before it begins")
    if date_to > today:
        raise InvalidInput("to", f"a certificate covers days that have passed: {today.isoformat()} at the latest")
    if (date_to - date_from).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput("to", f"a certificate covers at most {MAX_PERIOD_DAYS} days")


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The period as instants: from the start of ``from`` to the start of the day after ``to`` (county time)."""
    start = datetime.combine(date_from, time(0), tzinfo=COUNTY_TZ)
    return start, datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=COUNTY_TZ)


def check_issuer(by: Provenance) -> None:
    if by.role not in ISSUER_ROLES:
        raise RuleViolation(
            "certificate.issuer_role", f"a certificate is issued at the request of a {' or '.join(ISSUER_ROLES)}"
        )


@dataclass(frozen=True)
class ServiceCandidates:
    """The visits that may count for a volunteer's period (found by a read model), and the log position it reflects."""

    position: int
    visit_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class ServiceRecord:
    """A visit as a certificate sees it: whose, what kind, when, and its status now."""

    visit_id: UUID
    volunteer_id: UUID
    kind: str
    started_at: datetime
    ended_at: datetime
    status: str


def kinds_counted(found: Iterable[str] = ()) -> dict[str, int]:
    """Every kind of visit at zero, in the catalogue's order (then any other kind found, by name)."""
    counts = dict.fromkeys([str(k) for k in VisitKind], 0)
    for kind in sorted(set(found) - set(counts)):
        counts[kind] = 0
    return counts


@dataclass(frozen=True)
class ServiceFacts:
    """What a certificate certifies, the part that can be computed again from the visits."""

    volunteer_id: UUID
    date_from: date
    date_to: date
    minutes: int
    visits_by_kind: dict[str, int] = field(hash=False)
    visit_ids: tuple[UUID, ...]

    @property
    def visits(self) -> int:
        return len(self.visit_ids)

    @property
    def hours(self) -> Decimal:
        """The minutes as hours, to the hundredth (rounded down: never more than was served)."""
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    def canonical(self) -> dict[str, Any]:
        return {
            "volunteer_id": str(self.volunteer_id),
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "minutes": self.minutes,
            "visits_by_kind": {k: n for k, n in self.visits_by_kind.items() if n},
            "visit_ids": sorted(str(v) for v in self.visit_ids),
        }

    def digest(self) -> str:
        """SHA-256 (hex) of the facts as canonical JSON: keys sorted, no spaces, kinds with no visit left out."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256((DIGEST_PREFIX + text).encode()).hexdigest()


def service_facts(volunteer_id: UUID, date_from: date, date_to: date, records: Iterable[ServiceRecord]) -> ServiceFacts:
    """The volunteer's verified service in the period: their confirmed visits that started on one of its days."""
    counted: dict[UUID, ServiceRecord] = {}
    for r in records:
        if (
            r.volunteer_id == volunteer_id
            and r.status == VisitStatus.CONFIRMED
            and date_from <= county_date(r.started_at) <= date_to
        ):
            counted[r.visit_id] = r
    total = sum((r.ended_at - r.started_at for r in counted.values()), timedelta(0))
    by_kind = kinds_counted(r.kind for r in counted.values())
    for r in counted.values():
        by_kind[r.kind] += 1
    return ServiceFacts(
        volunteer_id=volunteer_id,
        date_from=date_from,
        date_to=date_to,
        minutes=max(0, total // timedelta(minutes=1)),
        visits_by_kind=by_kind,
        visit_ids=tuple(sorted(counted, key=str)),
    )


@dataclass(frozen=True)
class Change:
    """One certified number that differs now: ``minutes`` or ``visits.<kind>``."""

    field: str
    at_issue: int
    now: int


@dataclass(frozen=True)
class RecordCheck:
    """The certified facts beside the same facts computed from the visits now."""

    issued: ServiceFacts
    now: ServiceFacts

    @property
    def unchanged(self) -> bool:
        return self.issued.digest() == self.now.digest()

    @property
    def changes(self) -> tuple[Change, ...]:
        found = [Change("minutes", self.issued.minutes, self.now.minutes)]
        kinds = kinds_counted([*self.issued.visits_by_kind, *self.now.visits_by_kind])
        found += [
            Change(f"visits.{k}", self.issued.visits_by_kind.get(k, 0), self.now.visits_by_kind.get(k, 0))
            for k in kinds
        ]
        return tuple(c for c in found if c.at_issue != c.now)

    @property
    def no_longer_counted(self) -> int:
        """Visits counted at issue that no longer count (voided, disputed, moved out of the period)."""
        return len(set(self.issued.visit_ids) - set(self.now.visit_ids))

    @property
    def newly_counted(self) -> int:
        """Visits that count now and did not at issue (confirmed later, moved into the period)."""
        return len(set(self.now.visit_ids) - set(self.issued.visit_ids))


def compare(issued: ServiceFacts, now: ServiceFacts) -> RecordCheck:
    return RecordCheck(issued, now)


# The aggregates ------------------------------------------------------------------------------


class Certificate(Aggregate):
    """One certificate as it was issued (see the module's docstring); it never changes."""

    TOPIC = "tiexin.certificate"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.certificate.Created"

    @classmethod
    def issue(
        cls,
        volunteer: Volunteer,
        county: County,
        facts: ServiceFacts,
        *,
        position: int,
        code: str,
        now: datetime,
        meta: Provenance,
    ) -> Certificate:
        check_issuer(meta)
        if volunteer.forgotten:
            raise RuleViolation(
                "certificate.volunteer_forgotten",
                f"volunteer {volunteer.id} has been forgotten: no certificate can bear their name",
            )
        if facts.volunteer_id != volunteer.id:
            raise ValueError("the facts are another volunteer's")
        if not facts.visit_ids:
            raise RuleViolation(
                "certificate.no_service",
                f"volunteer {volunteer.id} has no verified (confirmed) service from {facts.date_from.isoformat()} "
                f"to {facts.date_to.isoformat()}: there is nothing to certify",
            )
        if normalise_code(code) != code:
            raise ValueError(f"{code!r} is not a check code")
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=certificate_id(code),
            volunteer_id=volunteer.id,
            county=county.code,
            issuer=issuer_of(county),
            name=volunteer.name,
            date_from=facts.date_from,
            date_to=facts.date_to,
            minutes=facts.minutes,
            visits_by_kind=dict(facts.visits_by_kind),
            visit_ids=list(facts.visit_ids),
            position=position,
            code=code,
            digest=facts.digest(),
            timestamp=now,
            meta=meta,
        )

    class Issued(Aggregate.Created):
        """A certificate: whose, which period, the verified service, as of which log position, its code and digest."""

        TOPIC = "tiexin.certificate.Issued"
        PERSONAL: ClassVar[tuple[str, ...]] = ("name",)
        SUBJECT: ClassVar[str | None] = "volunteer_id"
        volunteer_id: UUID
        county: str
        issuer: str
        name: str
        date_from: date
        date_to: date
        minutes: int
        visits_by_kind: dict[str, int]
        visit_ids: list[UUID]
        position: int
        code: str
        digest: str
        timestamp: datetime
        meta: Provenance

    @event(Issued)
    def __init__(
        self,
        volunteer_id: UUID,
        county: str,
        issuer: str,
        name: str,
        date_from: date,
        date_to: date,
        minutes: int,
        visits_by_kind: dict[str, int],
        visit_ids: list[UUID],
        position: int,
        code: str,
        digest: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.volunteer_id = volunteer_id
        self.county = county
        self.issuer = issuer
        self.name = name
        self.date_from = date_from
        self.date_to = date_to
        self.minutes = minutes
        self.visits_by_kind = dict(visits_by_kind)
        self.visit_ids = list(visit_ids)
        self.position = position
        self.code = code
        self.digest = digest
        self.issued_at = timestamp
        self.issued_by = meta

    @property
    def personal_subject(self) -> UUID:
        return self.volunteer_id

    def facts(self) -> ServiceFacts:
        """The facts as certified."""
        return ServiceFacts(
            volunteer_id=self.volunteer_id,
            date_from=self.date_from,
            date_to=self.date_to,
            minutes=self.minutes,
            visits_by_kind={**kinds_counted(self.visits_by_kind), **self.visits_by_kind},
            visit_ids=tuple(sorted(self.visit_ids, key=str)),
        )

    @property
    def intact(self) -> bool:
        """Whether its digest is that of the facts it holds (a stored event altered behind the ledger's back is not)."""
        return self.facts().digest() == self.digest

    def check(self, now: ServiceFacts) -> RecordCheck:
        """The certified facts beside the same facts computed from the visits now."""
        return compare(self.facts(), now)


@dataclass(frozen=True)
class Entry:
    """A certificate in a volunteer's register."""

    certificate_id: UUID
    code: str
    date_from: date
    date_to: date
    issued_at: datetime


class CertificateRegister(Aggregate):
    """The certificates issued to one volunteer, in order (found by the volunteer's id)."""

    TOPIC = "tiexin.certificate_register"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.certificate_register.Created"

    @staticmethod
    def create_id(volunteer_id: UUID) -> UUID:
        return register_id(volunteer_id)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.certificate_register.Opened"
        volunteer_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(self, volunteer_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.volunteer_id = volunteer_id
        self.entries: list[Entry] = []

    def enter(self, certificate: Certificate, *, now: datetime, meta: Provenance) -> None:
        if certificate.volunteer_id != self.volunteer_id:
            raise ValueError("the certificate is another volunteer's")
        self._entered(
            certificate_id=certificate.id,
            code=certificate.code,
            date_from=certificate.date_from,
            date_to=certificate.date_to,
            timestamp=now,
            meta=meta,
        )

    class Entered(Aggregate.Event):
        TOPIC = "tiexin.certificate_register.Entered"
        certificate_id: UUID
        code: str
        date_from: date
        date_to: date
        timestamp: datetime
        meta: Provenance

    @event(Entered)
    def _entered(
        self, certificate_id: UUID, code: str, date_from: date, date_to: date, timestamp: datetime, meta: Provenance
    ) -> None:
        self.entries.append(Entry(certificate_id, code, date_from, date_to, timestamp))

    def latest(self, date_from: date | None = None, date_to: date | None = None) -> Entry | None:
        """The last certificate issued (of exactly that period, when given)."""
        for entry in reversed(self.entries):
            if (date_from is None or entry.date_from == date_from) and (date_to is None or entry.date_to == date_to):
                return entry
        return None
