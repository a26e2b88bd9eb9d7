"""Who sees a person's personal data over HTTP, and how an auditor asks for it.

Each record route names the roles that read its personal fields (a coordinator, the volunteer
concerned). Any other role sees the record with those fields withheld and a *pseudonym* in place
of the name: a stable label made from the record's id, enough to tell records apart in a sample.
An auditor may read a named record's personal data by giving a ``reason``: the read is then
recorded in the ledger as a ``PersonalDataRead`` event (who, whose, why) before it is answered.
A forgotten person's fields read ``[forgotten]`` for every role (:mod:`ledger.privacy`).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from api.deps import Read
from api.problems import Forbidden
from api.schemas import Text
from ledger.common import Provenance
from ledger.privacy import SubjectKind
from ledger.store import store_errors_translated

AUDITOR = "auditor"

ReasonQuery = Annotated[
    Text | None,
    Query(
        max_length=500,
        description="an auditor's reason to read this record's personal data; the read is recorded in the ledger",
    ),
]


def pseudonym(kind: SubjectKind, ident: UUID) -> str:
    """``elder-3f9a2c1b``: the same for the same record, and nothing else of the person."""
    return f"{kind}-{ident.hex[:8]}"


def discloses(read: Read, kind: SubjectKind, subject_id: UUID, reason: str | None, *, roles: tuple[str, ...]) -> bool:
    """Whether this request sees the person's personal fields; an auditor's reasoned read is recorded first."""
    role = read.principal.role
    if role in roles:
        return True
    if reason is None:
        return False
    if role != AUDITOR:
        raise Forbidden(f"a {role}'s key does not read personal data, with a reason or without", role=role)
    by = Provenance(read.principal.key_id, role)
    with store_errors_translated("the event store"):
        read.ledger.record_personal_data_read(subject_kind=kind, subject_id=subject_id, reason=reason, by=by)
    return True


async def discloses_async(
    read: Read, kind: SubjectKind, subject_id: UUID, reason: str | None, *, roles: tuple[str, ...]
) -> bool:
    return await run_in_threadpool(discloses, read, kind, subject_id, reason, roles=roles)
