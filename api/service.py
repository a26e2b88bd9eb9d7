"""The ledger as the API uses it: ``If-Match`` inside the command, one aggregate read, the log searched by key.

``If-Match`` must hold when the command *decides*, not a moment before: a check outside the
command would let a write slip in between and the client's stale view win. So
:class:`GuardedLedger` checks the expected version where the command loads the aggregate; the
save then builds on exactly that version, and a write that lands in between makes the save
collide in the store (409) instead of succeeding on state the client never saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from api.problems import PreconditionFailed
from api.settings import ApiSettings
from ledger.application import Ledger, Written
from ledger.bootstrap import ensure_home_county
from ledger.errors import NotFound
from ledger.settings import redact, store_env
from ledger.store import store_errors_translated

A = TypeVar("A", bound=Aggregate)
_expected: ContextVar[tuple[UUID, int] | None] = ContextVar("tiexin_if_match", default=None)
SCAN_PAGE = 500


class GuardedLedger(Ledger):
    """The ledger whose commands honour an expected version of one aggregate (``If-Match``)."""

    @contextmanager
    def expecting(self, ident: UUID, version: int | None) -> Iterator[None]:
        token = _expected.set(None if version is None else (ident, version))
        try:
            yield
        finally:
            _expected.reset(token)

    def _find(self, cls: type[A], ident: UUID, *, read_only: bool = False) -> A | None:
        found = super()._find(cls, ident, read_only=read_only)
        expected = _expected.get()
        if found is not None and expected is not None and expected[0] == ident and found.version != expected[1]:
            raise PreconditionFailed(
                f"If-Match names version {expected[1]}, but the record is at version {found.version}; "
                "read it again and decide on what it says now",
                current_version=found.version,
            )
        return found


def open_api_ledger(settings: ApiSettings) -> GuardedLedger:
    """What :func:`ledger.bootstrap.open_ledger` does, with the guarded class (see the report)."""
    url = settings.database_url
    with store_errors_translated(f"the store at {redact(url)}"):
        ledger = GuardedLedger(store_env(url), clock=settings.clock)
        ledger.ensure_default_policies()
    ensure_home_county(ledger)
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
