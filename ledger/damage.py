"""Telling a damaged stored record from a bug: where in the library a load failed, and on which event.

The library loads a record (an aggregate) by decoding each of its stored events (the mapper's
``to_domain_event``) and applying them in version order (``project_aggregate`` calls each event's
``mutate``). Rows deleted, edited or spliced in behind the ledger's back make that fail, each in
its own way:

- a version deleted: the next event is not the next version (the library's
  ``OriginatorVersionError``), or, when version 1 is gone, the first event finds no record to
  apply to;
- bytes that no longer decode: ``MapperDeserialisationError``, an unknown topic, a personal field
  whose ciphertext was altered (:mod:`ledger.personal`): any error raised while decoding one
  stored event;
- an event of another type or record spliced in: its ``mutate`` or ``apply`` fails.

:func:`damage_in` reads the traceback of such an error (the frames hold the stored event being
decoded, or the event being applied and the record before it) and answers a
:class:`~ledger.errors.DamagedRecord` naming the record, the version and, for a notification read
from the log, the position. Any other error answers None. Our own errors (``TiexinError``: a
missing master key, say) and the store's (``PersistenceError``, the drivers') are never damage:
:func:`ledger.store.store_errors_translated` takes those first.
"""

from __future__ import annotations

from types import FrameType, TracebackType
from typing import Any

from eventsourcing.domain import OriginatorVersionError

from ledger.errors import DamagedRecord, TiexinError

LIBRARY_LOADS = frozenset({"get", "_reconstruct_aggregate", "project_aggregate"})
"""The library's ``Repository`` functions a record's load passes through (in ``eventsourcing/application.py``)."""


def damage_in(error: BaseException) -> DamagedRecord | None:
    """The damaged record an error raised while loading stored events reveals, or None if it is not that."""
    if isinstance(error, TiexinError):
        return None
    frames = list(_frames(error.__traceback__))
    decoding = _innermost(frames, "to_domain_event", "stored_event")
    if decoding is not None:
        stored = decoding.f_locals["stored_event"]
        return DamagedRecord(
            stored.originator_id, stored.originator_version, "undecodable",
            position=getattr(stored, "id", None), cause=type(error).__name__,
        )  # fmt: skip
    if not any(_in_library_load(frame) for frame in frames):
        return None
    applying = _innermost(frames, "project_aggregate", "domain_event")
    if applying is None:
        loading = _innermost(frames, "get", "aggregate_id")
        record = loading.f_locals["aggregate_id"] if loading is not None else "?"
        return DamagedRecord(record, None, "unappliable", cause=type(error).__name__)
    event: Any = applying.f_locals["domain_event"]
    before: Any = applying.f_locals.get("aggregate")
    if before is None and event.originator_version != 1:
        return DamagedRecord(
            event.originator_id, 1, "missing", cause=f"its first stored event is version {event.originator_version}"
        )
    if isinstance(error, OriginatorVersionError) and before is not None:
        expected = before.version + 1
        how = "missing" if event.originator_version > expected else "out-of-order"
        cause = f"the stored events go from version {before.version} to {event.originator_version}"
        return DamagedRecord(event.originator_id, expected, how, cause=cause)
    return DamagedRecord(event.originator_id, event.originator_version, "unappliable", cause=type(error).__name__)


def _frames(traceback: TracebackType | None) -> list[FrameType]:
    """The frames an error passed through, outermost first."""
    found = []
    while traceback is not None:
        found.append(traceback.tb_frame)
        traceback = traceback.tb_next
    return found


def _innermost(frames: list[FrameType], function: str, local: str) -> FrameType | None:
    """The innermost frame of a function of this name holding this local (with an id and a version if an event)."""
    for frame in reversed(frames):
        if frame.f_code.co_name != function or local not in frame.f_locals:
            continue
        value = frame.f_locals[local]
        if local == "aggregate_id" or (hasattr(value, "originator_id") and hasattr(value, "originator_version")):
            return frame
    return None


def _in_library_load(frame: FrameType) -> bool:
    path = frame.f_code.co_filename.replace("\\", "/")
    return frame.f_code.co_name in LIBRARY_LOADS and path.endswith("eventsourcing/application.py")
