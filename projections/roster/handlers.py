"""The roster's handlers: each event of an elder, a volunteer, a pairing or a visit → the change to its row.

A volunteer's status events set the status the ledger names for them; a visit's recording, a
move of its ``started_at`` and its void also mark it touched, so the page ends by recomputing its
elder's last contact (:class:`~projections.roster.writer.RosterWriter`).
"""

from __future__ import annotations

from eventsourcing.persistence import Notification

from ledger.elders import Elder
from ledger.pairings import Pairing
from ledger.visits import Visit
from ledger.volunteers import Volunteer, VolunteerStatus
from projections.roster.writer import RosterWriter
from projections.runner import Handlers
from projections.storage import Kind

# Elders ---------------------------------------------------------------------------------------


def registered(writer: RosterWriter, event: Elder.Registered, notification: Notification) -> None:
    d = writer.dialect
    writer.add("register", d.encode(Kind.UUID, event.originator_id), event.county, event.township, event.category)


def relocated(writer: RosterWriter, event: Elder.Relocated, notification: Notification) -> None:
    writer.add("relocate", event.township, writer.dialect.encode(Kind.UUID, event.originator_id))


def recategorised(writer: RosterWriter, event: Elder.Recategorised, notification: Notification) -> None:
    writer.add("recategorise", event.category, writer.dialect.encode(Kind.UUID, event.originator_id))


def departed(writer: RosterWriter, event: Elder.Departed, notification: Notification) -> None:
    d = writer.dialect
    writer.add("depart", d.encode(Kind.DAY, event.on), event.kind, d.encode(Kind.UUID, event.originator_id))


# Volunteers -----------------------------------------------------------------------------------


def recruited(writer: RosterWriter, event: Volunteer.Recruited, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "recruit", d.encode(Kind.UUID, event.originator_id), event.county, event.township, VolunteerStatus.ACTIVE
    )


def suspended(writer: RosterWriter, event: Volunteer.Suspended, notification: Notification) -> None:
    writer.add("status", VolunteerStatus.SUSPENDED, writer.dialect.encode(Kind.UUID, event.originator_id))


def reinstated(writer: RosterWriter, event: Volunteer.Reinstated, notification: Notification) -> None:
    writer.add("status", VolunteerStatus.ACTIVE, writer.dialect.encode(Kind.UUID, event.originator_id))


def retired(writer: RosterWriter, event: Volunteer.Retired, notification: Notification) -> None:
    writer.add("status", VolunteerStatus.RETIRED, writer.dialect.encode(Kind.UUID, event.originator_id))


# Pairings -------------------------------------------------------------------------------------


def formed(writer: RosterWriter, event: Pairing.Formed, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "form",
        d.encode(Kind.UUID, event.originator_id),
        d.encode(Kind.UUID, event.volunteer_id),
        d.encode(Kind.UUID, event.elder_id),
        event.group,
        d.encode(Kind.DAY, event.from_date),
    )


def ended(writer: RosterWriter, event: Pairing.Ended, notification: Notification) -> None:
    d = writer.dialect
    writer.add("end", d.encode(Kind.DAY, event.on), event.reason, d.encode(Kind.UUID, event.originator_id))


# Visits ---------------------------------------------------------------------------------------


def recorded(writer: RosterWriter, event: Visit.Recorded, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "record",
        d.encode(Kind.UUID, event.originator_id),
        d.encode(Kind.UUID, event.elder_id),
        d.encode(Kind.UUID, event.volunteer_id),
        d.encode(Kind.INSTANT, event.started_at),
    )
    writer.touch(event.originator_id)


def amended(writer: RosterWriter, event: Visit.Amended, notification: Notification) -> None:
    """Only a move of ``started_at`` matters to the roster; other amendments change nothing here."""
    if "started_at" in event.changes:
        moved_to = writer.dialect.encode(Kind.INSTANT, event.changes["started_at"])
        writer.add("move", moved_to, writer.dialect.encode(Kind.UUID, event.originator_id))
        writer.touch(event.originator_id)


def voided(writer: RosterWriter, event: Visit.Voided, notification: Notification) -> None:
    writer.add("void", writer.dialect.encode(Kind.UUID, event.originator_id))
    writer.touch(event.originator_id)


HANDLERS = Handlers[RosterWriter](
    {
        Elder.Registered: registered,
        Elder.Relocated: relocated,
        Elder.Recategorised: recategorised,
        Elder.Departed: departed,
        Volunteer.Recruited: recruited,
        Volunteer.Suspended: suspended,
        Volunteer.Reinstated: reinstated,
        Volunteer.Retired: retired,
        Pairing.Formed: formed,
        Pairing.Ended: ended,
        Visit.Recorded: recorded,
        Visit.Amended: amended,
        Visit.Voided: voided,
    }
)
