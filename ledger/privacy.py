"""Privacy (PIPL): forgetting a person, and the record of who read whose personal data and why.

How personal fields are kept is :mod:`ledger.personal`; the rules are here.

- **Forgetting** an elder or a volunteer destroys their key and records a ``Forgotten`` event on
  their record that carries nothing personal (a reason code, never free text). From then on their
  personal fields read as ``[forgotten]`` everywhere; money, visits, scores and seals are untouched.
  A person is forgotten once: a second time is a rule violation.
- **Reading** personal data as an auditor needs a named record and a reason; each such read is
  itself an event (:class:`PersonalDataRead`: who, whose, why), so access can be audited too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_choice, require_text
from ledger.errors import RuleViolation


class ForgetReason(StrEnum):
    """Why a person is forgotten (a code: the event must carry nothing personal)."""

    PERSON_ASKED = "person_asked"
    """The person or their family asked (PIPL art. 47)."""
    CONSENT_WITHDRAWN = "consent_withdrawn"
    RETENTION_ENDED = "retention_ended"
    """The retention period after they left the programme has ended."""
    LEGAL_ORDER = "legal_order"


class SubjectKind(StrEnum):
    ELDER = "elder"
    VOLUNTEER = "volunteer"


def check_forget_reason(reason: str) -> str:
    return require_choice("reason", reason, ForgetReason)


def check_not_forgotten(kind: str, ident: UUID, forgotten: bool) -> None:
    if forgotten:
        raise RuleViolation("person.forgotten", f"{kind} {ident} has already been forgotten")


class PersonalDataRead(Aggregate):
    """One read of a person's personal data by a role that sees pseudonyms otherwise (an auditor)."""

    TOPIC = "tiexin.personal_data_read"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.personal_data_read.Created"

    @classmethod
    def record(
        cls, *, subject_kind: str, subject_id: UUID, reason: str, now: datetime, meta: Provenance, id: UUID
    ) -> PersonalDataRead:
        return cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            subject_kind=require_choice("subject_kind", subject_kind, SubjectKind),
            subject_id=subject_id,
            reader=meta.principal_id,
            role=meta.role,
            reason=require_text("reason", reason, max_length=500),
            timestamp=now,
            meta=meta,
            id=id,
        )

    class Read(Aggregate.Created):
        """Who (``reader``, ``role``) read whose (``subject_kind``, ``subject_id``) personal data, and why."""

        TOPIC = "tiexin.personal_data_read.Read"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = "subject_id"
        subject_kind: str
        subject_id: UUID
        reader: str
        role: str
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Read)
    def __init__(
        self,
        subject_kind: str,
        subject_id: UUID,
        reader: str,
        role: str,
        reason: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.subject_kind = subject_kind
        self.subject_id = subject_id
        self.reader = reader
        self.role = role
        self.reason = reason
        self.timestamp = timestamp
