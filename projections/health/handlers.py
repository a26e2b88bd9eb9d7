"""The health read model's handlers: each visit event → the change to its ``readings`` row.

An ``Amended`` change of ``readings`` replaces all four (the ledger's amendment carries the visit's
whole new set), one of ``started_at`` moves the row in time, and ``Voided`` deletes it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Notification

from ledger.elders import Elder
from ledger.personal import is_sealed
from ledger.visits import Visit
from projections.health.tables import READINGS
from projections.runner import Handlers
from projections.storage import BatchWriter, Kind


def recorded(writer: BatchWriter, event: Visit.Recorded, notification: Notification) -> None:
    d = writer.dialect
    writer.add(
        "record",
        d.encode(Kind.UUID, event.originator_id),
        d.encode(Kind.UUID, event.elder_id),
        d.encode(Kind.UUID, event.volunteer_id),
        d.encode(Kind.INSTANT, event.started_at),
        *values_of(writer, event.readings),
    )


def amended(writer: BatchWriter, event: Visit.Amended, notification: Notification) -> None:
    visit_id = writer.dialect.encode(Kind.UUID, event.originator_id)
    if "readings" in event.changes:
        writer.add("readings", *values_of(writer, event.changes["readings"]), visit_id)
    if "started_at" in event.changes:
        writer.add("move", writer.dialect.encode(Kind.INSTANT, event.changes["started_at"]), visit_id)


def voided(writer: BatchWriter, event: Visit.Voided, notification: Notification) -> None:
    writer.add("void", writer.dialect.encode(Kind.UUID, event.originator_id))


def elder_forgotten(writer: BatchWriter, event: Elder.Forgotten, notification: Notification) -> None:
    """A forgotten elder's readings are erased here too: the rows stay (a visit happened), their values go."""
    writer.add("forget", writer.dialect.encode(Kind.UUID, event.originator_id))


def values_of(writer: BatchWriter, readings: dict[str, Any]) -> list[Any]:
    """The four readings as the store keeps them (a missing one is null); an unknown one is refused."""
    if is_sealed(readings):
        raise ValueError("the readings are sealed: the health read model needs the master key (TIEXIN_MASTER_KEY)")
    unknown = set(readings) - set(READINGS)
    if unknown:
        raise ValueError(f"unknown readings {', '.join(sorted(unknown))}")
    return [
        writer.dialect.encode(Kind.NUMBER, None if readings.get(r) is None else Decimal(readings[r])) for r in READINGS
    ]


HANDLERS = Handlers[BatchWriter](
    {Visit.Recorded: recorded, Visit.Amended: amended, Visit.Voided: voided, Elder.Forgotten: elder_forgotten}
)
