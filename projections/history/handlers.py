"""The history read model's one handler: any event → its row (who, when, why), nothing else of it.

The rows copy no other field of an event: the personal data of elders (names, addresses, phones,
readings) stays in the ledger and never leaks into a view. A ``reason`` is copied only when it is
not personal (a budget adjustment's); a free-text reason about a person (a suspension's, a claim's
rejection) is sealed in the ledger under that person's key (:mod:`ledger.personal`) and stays there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.common import Provenance
from ledger.personal import personal_fields
from projections.storage import instant_text

HAPPENED_FIELDS = ("started_at", "on", "from_date", "paid_on")
"""The fields that say when what an event records happened, the first present wins."""


@dataclass(frozen=True)
class HistoryRow:
    entity_id: UUID
    version: int
    position: int
    topic: str
    principal_id: str | None
    role: str | None
    recorded_at: datetime
    happened_at: date | datetime | None
    reason_code: str | None
    reason: str | None

    @property
    def event(self) -> str:
        """The event's short name: ``Recorded`` for a visit's ``Recorded`` event."""
        return self.topic.replace(":", ".").rsplit(".", 1)[-1]


def row_of(event: Any, notification: Notification) -> HistoryRow:
    """The history row of one decoded event (pure: raises if the event lacks what a row needs).

    ``event`` is any of the ledger's events: the fields read are those every event has
    (``timestamp``, ``meta``) or, by name, those some events have (:data:`HAPPENED_FIELDS`,
    ``reason_code``, ``reason``).
    """
    recorded_at = event.timestamp
    if not isinstance(recorded_at, datetime) or recorded_at.tzinfo is None:
        raise ValueError(f"the event's timestamp {recorded_at!r} is not a timezone-aware date-time")
    meta = getattr(event, "meta", None)
    if meta is not None and not isinstance(meta, Provenance):
        raise ValueError(f"the event's meta {meta!r} is not a provenance")
    happened = next(
        (v for f in HAPPENED_FIELDS if isinstance(v := getattr(event, f, None), date)), None
    )  # a datetime is a date too
    return HistoryRow(
        entity_id=event.originator_id,
        version=event.originator_version,
        position=notification.id,
        topic=notification.topic,
        principal_id=meta.principal_id if meta else None,
        role=meta.role if meta else None,
        recorded_at=recorded_at.astimezone(UTC),
        happened_at=happened,
        reason_code=_text(getattr(event, "reason_code", None)),
        reason=None if "reason" in personal_fields(type(event)) else _text(getattr(event, "reason", None)),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def encode_happened(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return instant_text(value)
    return None if value is None else value.isoformat()


def decode_happened(text: str | None) -> date | datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
