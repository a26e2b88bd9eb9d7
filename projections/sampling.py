"""The population of an audit sample, read from the log (:mod:`ledger.audit_samples` holds the rule).

:func:`population` scans the log up to its head for the volunteers' recruitment (their township)
and the claims' events, and answers the year's claims that are approved or paid at that position,
each with its volunteer's township, its total and its visits: what a sample is drawn from. It
reads the log itself, never a read model, so a sample does not depend on how far a read model
has got, and the position it names is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from ledger.audit_samples import SAMPLED_STATUSES, Candidate, Population
from ledger.claims import Claim, ClaimStatus
from ledger.volunteers import Volunteer
from projections.logscan import head, scan

EVENTS: tuple[type[Any], ...] = (
    Volunteer.Recruited,
    Claim.Submitted,
    Claim.Approved,
    Claim.Rejected,
    Claim.Paid,
    Claim.Reversed,
)
STATUS_OF = {
    Claim.Approved: ClaimStatus.APPROVED.value,
    Claim.Rejected: ClaimStatus.REJECTED.value,
    Claim.Paid: ClaimStatus.PAID.value,
    Claim.Reversed: ClaimStatus.REVERSED.value,
}


@dataclass
class _Claim:
    volunteer_id: UUID
    total_fen: int
    visit_ids: tuple[UUID, ...]
    status: str = ClaimStatus.SUBMITTED.value


def population(ledger: Application[Any], county: str, year: int, *, until: int | None = None) -> Population:
    """The county's claims of months of ``year`` approved or paid at the log's head (or ``until``)."""
    last = head(ledger) if until is None else until
    townships: dict[UUID, str] = {}
    claims: dict[UUID, _Claim] = {}
    prefix = f"{year:04d}-"
    for _, event in scan(ledger, EVENTS, until=last):
        if isinstance(event, Volunteer.Recruited):
            townships[event.originator_id] = event.township
        elif isinstance(event, Claim.Submitted):
            if event.county == county and event.month.startswith(prefix):
                total = sum(int(item["transport_fen"]) for item in event.items) + int(event.communication_fen)
                visits = tuple(item["visit_id"] for item in event.items)
                claims[event.originator_id] = _Claim(event.volunteer_id, total, visits)
        elif event.originator_id in claims:
            claims[event.originator_id].status = STATUS_OF[type(event)]
    candidates = tuple(
        Candidate(claim_id, townships.get(claim.volunteer_id, ""), claim.total_fen, claim.visit_ids)
        for claim_id, claim in sorted(claims.items(), key=lambda item: str(item[0]))
        if claim.status in SAMPLED_STATUSES
    )
    return Population(last, candidates)
