"""The desk's handlers: each event → the change to its row (see :mod:`projections.desk.tables`)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Notification

from ledger.claims import Claim, ClaimStatus
from ledger.common import county_date, month_of
from ledger.elders import Elder
from ledger.evaluations import Evaluation
from ledger.visits import Visit, VisitStatus
from ledger.volunteers import Volunteer
from projections.desk.tables import WRITES
from projections.runner import Handlers
from projections.storage import BatchWriter, Kind

AMENDED_COLUMNS = ("kind", "township", "started_at", "month", "ended_at", "gift_bag")
"""The visit's columns an amendment may change, in the order of the ``visit_amended`` statement."""


def visit_recorded(writer: BatchWriter, event: Visit.Recorded, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "visit",
        d.encode(Kind.UUID, event.originator_id), d.encode(Kind.UUID, event.pairing_id),
        d.encode(Kind.UUID, event.volunteer_id), d.encode(Kind.UUID, event.elder_id), event.township,
        month_of(county_date(event.started_at)), event.kind, VisitStatus.RECORDED,
        d.encode(Kind.INSTANT, event.started_at), d.encode(Kind.INSTANT, event.ended_at),
        d.encode(Kind.FLAG, bool(event.gift_bag)), notification.id,
    )  # fmt: skip


def visit_amended(writer: BatchWriter, event: Visit.Amended, notification: Notification) -> None:
    changes: dict[str, Any] = event.changes
    if "started_at" in changes:
        changes = {**changes, "month": month_of(county_date(changes["started_at"]))}
    if not any(column in changes for column in AMENDED_COLUMNS):
        return
    d = writer.dialect
    kinds = {"started_at": Kind.INSTANT, "ended_at": Kind.INSTANT, "gift_bag": Kind.FLAG}
    values = [
        None if changes.get(c) is None else d.encode(kinds.get(c, Kind.TEXT), changes[c]) for c in AMENDED_COLUMNS
    ]
    writer.add("visit_amended", *values, d.encode(Kind.UUID, event.originator_id))


def visit_status(status: VisitStatus) -> Any:
    def handle(writer: BatchWriter, event: Any, notification: Notification) -> None:
        writer.add("visit_status", status, writer.dialect.encode(Kind.UUID, event.originator_id))

    return handle


def claim_submitted(writer: BatchWriter, event: Claim.Submitted, notification: Notification) -> None:
    d = writer.dialect
    claim_id = d.encode(Kind.UUID, event.originator_id)
    transport = sum(int(item["transport_fen"]) for item in event.items)
    writer.add(
        "claim",
        claim_id, d.encode(Kind.UUID, event.volunteer_id), event.county, event.month, ClaimStatus.SUBMITTED,
        event.submitted_by, transport, event.communication_fen, len(event.items),
        d.encode(Kind.INSTANT, event.timestamp), notification.id, notification.id,
    )  # fmt: skip
    for item in event.items:
        writer.add("hold", claim_id, d.encode(Kind.UUID, item["visit_id"]))


def claim_status(status: ClaimStatus, *, releases: bool = False) -> Any:
    """A claim's new status; a rejected or reversed claim lets go of its visits (they may be claimed again)."""

    def handle(writer: BatchWriter, event: Any, notification: Notification) -> None:
        claim_id = writer.dialect.encode(Kind.UUID, event.originator_id)
        approver = event.by if status == ClaimStatus.APPROVED else None
        writer.add("claim_status", status, approver, notification.id, claim_id)
        if releases:
            writer.add("release", claim_id)

    return handle


def evaluation_submitted(writer: BatchWriter, event: Evaluation.Submitted, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "evaluation",
        d.encode(Kind.UUID, event.originator_id), d.encode(Kind.UUID, event.volunteer_id), event.period,
        event.evaluator_id, d.encode(Kind.JSON, dict(event.criteria)), d.encode(Kind.FLAG, False),
        d.encode(Kind.INSTANT, event.timestamp), notification.id,
    )  # fmt: skip


def evaluation_withdrawn(writer: BatchWriter, event: Evaluation.Withdrawn, notification: Notification) -> None:
    d = writer.dialect
    writer.add("withdrawn", d.encode(Kind.FLAG, True), d.encode(Kind.UUID, event.originator_id))


def training_completed(writer: BatchWriter, event: Volunteer.TrainingCompleted, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "training",
        notification.id, d.encode(Kind.UUID, event.originator_id), event.course, d.encode(Kind.NUMBER, event.hours),
        d.encode(Kind.DAY, event.on),
    )  # fmt: skip


def volunteer_recruited(writer: BatchWriter, event: Volunteer.Recruited, notification: Notification) -> None:
    d = writer.dialect
    writer.add("volunteer", d.encode(Kind.UUID, event.originator_id), event.county, event.township, notification.id)


def elder_registered(writer: BatchWriter, event: Elder.Registered, notification: Notification) -> None:
    writer.add("elder", writer.dialect.encode(Kind.UUID, event.originator_id), event.category)


def elder_recategorised(writer: BatchWriter, event: Elder.Recategorised, notification: Notification) -> None:
    """An upsert: a view not rebuilt since the category came may lack the elder's row (docs/operations.md)."""
    writer.add("recategorise", writer.dialect.encode(Kind.UUID, event.originator_id), event.category)


HANDLERS = Handlers[BatchWriter](
    {
        Visit.Recorded: visit_recorded,
        Visit.Amended: visit_amended,
        Visit.Confirmed: visit_status(VisitStatus.CONFIRMED),
        Visit.Disputed: visit_status(VisitStatus.DISPUTED),
        Visit.Voided: visit_status(VisitStatus.VOIDED),
        Claim.Submitted: claim_submitted,
        Claim.Approved: claim_status(ClaimStatus.APPROVED),
        Claim.Rejected: claim_status(ClaimStatus.REJECTED, releases=True),
        Claim.Paid: claim_status(ClaimStatus.PAID),
        Claim.Reversed: claim_status(ClaimStatus.REVERSED, releases=True),
        Evaluation.Submitted: evaluation_submitted,
        Evaluation.Withdrawn: evaluation_withdrawn,
        Volunteer.TrainingCompleted: training_completed,
        Volunteer.Recruited: volunteer_recruited,
        Elder.Registered: elder_registered,
        Elder.Recategorised: elder_recategorised,
    }
)
ORDER = tuple(WRITES)
