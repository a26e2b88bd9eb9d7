"""The ledger as the API uses it: opened with the home county, one aggregate read, the log searched by key.

``If-Match`` is not handled here: a route passes it to the command as ``expected_version``, which
the ledger checks where it loads the record (:class:`ledger.errors.VersionMismatch`, answered 412).
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from api.settings import ApiSettings
from ledger.application import Ledger, Written
from ledger.bootstrap import ensure_home_county, open_ledger
from ledger.errors import NotFound
from ledger.store import store_errors_translated

A = TypeVar("A", bound=Aggregate)
SCAN_PAGE = 500


def open_api_ledger(settings: ApiSettings) -> Ledger:
    """The ledger on the settings' store and clock, with the default policies and the home county."""
    ledger = open_ledger(settings.database_url, master_key=settings.master_key, clock=settings.clock)
    try:
        ensure_home_county(ledger)
    except BaseException:
        ledger.close()
        raise
    return ledger


def load(ledger: Ledger, cls: type[A], ident: UUID, kind: str) -> A:
    """One aggregate as the store has it now (the aggregate cache fast-forwards from the store)."""
    with store_errors_translated("the event store"):
        try:
            aggregate: Aggregate = ledger.repository.get(ident)
        except AggregateNotFoundError:
            raise NotFound(kind, ident) from None
    if not isinstance(aggregate, cls):
        raise NotFound(kind, ident)
    return aggregate


def find_write(ledger: Ledger, *, since: int, principal_id: str, key: str) -> Written | None:
    """The write whose events carry this principal and idempotency key, after position ``since``.

    A command saves its main aggregate's events first, in one transaction, so the write is the
    first such event's aggregate, up to the last consecutive event of it.
    """
    mapper = ledger.mapper
    raw_filter = mapper.cipher is None and mapper.compressor is None
    needle = key.encode()
    found: Written | None = None
    with store_errors_translated("the event store"):
        start = since + 1
        while True:
            page = ledger.recorder.select_notifications(start=start, limit=SCAN_PAGE)
            for notification in page:
                mine = (not raw_filter or needle in notification.state) and _carries(
                    mapper.to_domain_event(notification), principal_id, key
                )
                if found is None and mine:
                    found = Written(
                        UUID(str(notification.originator_id)), notification.originator_version, notification.id
                    )
                elif found is not None:
                    if not mine or UUID(str(notification.originator_id)) != found.id:
                        return found
                    found = Written(found.id, notification.originator_version, notification.id)
            if len(page) < SCAN_PAGE:
                return found
            start = page[-1].id + 1


def _carries(event: Any, principal_id: str, key: str) -> bool:
    meta = getattr(event, "meta", None)
    return getattr(meta, "idempotency_key", None) == key and getattr(meta, "principal_id", None) == principal_id
