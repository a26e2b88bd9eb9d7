"""The log as API consumers read it: a page of events after a position, decoded, redacted for the caller.

Each item is one stored event: its log position, stored topic (``topic_of(Visit.Recorded)``), entity
(aggregate) id and version, when it was recorded, who recorded it (the principal's key id and
role) and the client's correlation id, and the event's own fields as ``data``.

**Personal data** (PIPL): an elder's name, birth date, address, phone and notes, a volunteer's
phone, health readings, and the free-text comments taken from elders and families are shown only
to the roles in :data:`PERSONAL_READERS`; for every other role they are ``null`` and their paths
are listed in ``redacted``. The rule is by field name, in nested objects too (``changes.readings``
of an amendment), and it fails closed: an event type added later with such a field is redacted
without anyone remembering to list it. :data:`NOT_PERSONAL` names the few fields that only look
personal (a county's name). The fields an event class declares personal (``PERSONAL``, sealed in
the store under the person's key: :mod:`ledger.personal`), such as a suspension's reason, are
redacted too. A forgotten person's fields read ``[forgotten]`` for every role.

**Paging.** ``next`` is the position to pass as ``after`` for the following page: the last item's
position, or, when a filter matched nothing further, the last position read (so a filtered page
can be empty and still move on). Topics are filtered by the store; entities are filtered here,
reading at most :data:`SCAN_BUDGET` events a request (one record's whole trail is cheaper from
``/v1/history/{id}``, which is indexed by entity).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.utils import TopicError, resolve_topic

from ledger.common import Provenance
from ledger.counties import County
from ledger.events import topic_of
from ledger.personal import personal_fields
from ledger.store import store_errors_translated

log = logging.getLogger(__name__)

PERSONAL_READERS = ("coordinator",)
"""The roles that read personal data in the log: as the elders and visits routes decide, the
coordinator does; an auditor, finance, an evaluator and an admin read the log without it."""
PERSONAL_KEYS = frozenset({"name", "birth_date", "address", "phone", "notes", "readings", "comment"})
NOT_PERSONAL: dict[str, frozenset[str]] = {
    topic_of(County.Established): frozenset({"name"}),
}
ENVELOPE = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp", "meta"})
"""Fields of a stored event that the item shows outside ``data`` (or not at all)."""

SCAN_CHUNK = 1000
SCAN_BUDGET = 20_000
"""At most this many events are read for one request when filtering by entity."""
MAX_POSITION = 2**63 - 2
"""The largest ``after`` a store's integer column can compare with."""


@dataclass(frozen=True)
class Query:
    after: int
    limit: int
    topics: tuple[str, ...] = ()
    entities: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: int
    """The position to pass as ``after`` for the following page."""
    head: int
    """The log's last position when the page was read."""

    @property
    def more(self) -> bool:
        return self.next < self.head


def read_page(app: Application[Any], query: Query, *, personal: bool) -> Page:
    """The events after ``query.after`` that match it, at most ``query.limit`` (see the module)."""
    with store_errors_translated("the event store"):
        recorder = app.recorder
        head = recorder.max_notification_id() or 0
        items: list[dict[str, Any]] = []
        position, scanned = query.after, 0
        chunk = SCAN_CHUNK if query.entities else query.limit
        entities = {str(entity) for entity in query.entities}  # SQLite gives the id as text, PostgreSQL as a UUID
        while position < head and len(items) < query.limit and scanned < SCAN_BUDGET:
            found = recorder.select_notifications(position + 1, chunk, head, list(query.topics))
            scanned += len(found)
            for notification in found:
                position = notification.id
                if entities and str(notification.originator_id) not in entities:
                    continue
                items.append(item_of(app, notification, personal=personal))
                if len(items) == query.limit:
                    break
            if len(found) < chunk and len(items) < query.limit:
                position = head  # nothing else up to the head matches
        return Page(items, position, head)


def item_of(app: Application[Any], notification: Notification, *, personal: bool) -> dict[str, Any]:
    """One stored event as the API shows it to a caller who may (``personal``) or may not read personal data."""
    item: dict[str, Any] = {
        "position": notification.id,
        "topic": notification.topic,
        "entity_id": str(notification.originator_id),
        "version": notification.originator_version,
    }
    try:
        event = app.mapper.to_domain_event(notification)
    except Exception as error:  # one undecodable event must not hide the rest of the log
        log.warning("the event at position %s cannot be decoded: %s", notification.id, type(error).__name__)
        return {
            **item, "recorded_at": None, "principal": None, "correlation_id": None, "data": None, "redacted": [],
            "error": f"the stored event cannot be decoded ({type(error).__name__})",
        }  # fmt: skip
    meta = getattr(event, "meta", None)
    data = {key: plain(value) for key, value in vars(event).items() if key not in ENVELOPE}
    redacted = [] if personal else redact(notification.topic, data)
    return {
        **item,
        "recorded_at": plain(getattr(event, "timestamp", None)),
        "principal": {"id": meta.principal_id, "role": meta.role} if isinstance(meta, Provenance) else None,
        "correlation_id": meta.correlation_id if isinstance(meta, Provenance) else None,
        "data": data,
        "redacted": redacted,
    }


def redact(topic: str, data: dict[str, Any]) -> list[str]:
    """Set the personal fields of ``data`` (nested too) to ``None``; answer their paths."""
    found = _redact(data, "", NOT_PERSONAL.get(topic, frozenset()))
    for path in _declared_personal(topic):
        head, _, rest = path.partition(".")
        holder = data.get(head) if rest else data
        key = rest or head
        if isinstance(holder, dict) and key in holder and path not in found:
            holder[key] = None
            found.append(path)
    return found


def _declared_personal(topic: str) -> tuple[str, ...]:
    try:
        return personal_fields(resolve_topic(topic))
    except TopicError:
        return ()


def _redact(data: dict[str, Any], prefix: str, allowed: Collection[str]) -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        path = prefix + key
        if key in PERSONAL_KEYS and path not in allowed:
            data[key] = None
            found.append(path)
        elif isinstance(value, dict):
            found += _redact(value, path + ".", allowed)
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, dict):
                    found += [p for p in _redact(element, path + "[].", allowed) if p not in found]
    return found


def plain(value: Any) -> Any:
    """A stored value as JSON: ids, instants, dates and decimals as text (a decimal keeps its digits)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)
