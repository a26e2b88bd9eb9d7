"""Reading the ledger's log straight, for answers that must not rest on a read model (reconciliation, samples).

:func:`scan` yields the events of some classes, decoded by the ledger's own mapper, with their log
positions, in log order, up to a position: a page of :data:`SCAN_PAGE` at a time, the store
filtering by topic. Nothing is written and no read model is involved.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.application import Application

from ledger.events import topic_of

SCAN_PAGE = 1000


def head(ledger: Application[Any]) -> int:
    """The log's last position (0: empty)."""
    return ledger.recorder.max_notification_id() or 0


def scan(ledger: Application[Any], classes: Iterable[type[Any]], *, until: int) -> Iterator[tuple[int, Any]]:
    """Every event of ``classes`` at positions 1 to ``until``, decoded, with its position."""
    topics = [topic_of(cls) for cls in classes]
    position = 0
    while position < until:
        page = ledger.recorder.select_notifications(start=position + 1, limit=SCAN_PAGE, stop=until, topics=topics)
        if not page:
            return
        for notification in page:
            yield notification.id, ledger.mapper.to_domain_event(notification)
        position = page[-1].id
