"""The frozen contract's samples and the ledger's event classes, found independently of any list in ``ledger/``.

A sample is one stored event exactly as the store holds it: topic, originator id and version, and the
state bytes. Samples live in ``samples/vN/<aggregate>.jsonl``, one JSON object a line, in the order of
the log they were taken from (``position``). ``vN`` is a *generation*: a complete, consistent store
written once by :mod:`tests.contract.make_samples` with the code of its day. Generations are never
edited; a change to the contract adds the next one beside them (see ``docs/event-contract.md``).

The event classes are discovered by importing every module of ``ledger`` and walking the library's
``Aggregate`` subclasses defined there, so a new aggregate or ``@event`` method is in the contract
the moment it exists, whatever any registry in ``ledger/`` says.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

import ledger
from ledger.personal import StoredKey
from ledger.settings import store_env

SAMPLES = Path(__file__).parent / "samples"
"""The generations of samples: ``samples/v1``, ``samples/v2`` …"""

GENERATION = re.compile(r"^v(\d+)$")

EventClass = type[CanMutateAggregate[Any]]


# Samples ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One stored event of a generation, as the store held it."""

    generation: int
    position: int
    topic: str
    originator_id: UUID
    originator_version: int
    state: bytes

    def stored_event(self) -> StoredEvent:
        return StoredEvent(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            topic=self.topic,
            state=self.state,
        )

    @property
    def class_version(self) -> int:
        """The event class's ``class_version`` when this was written (the library stores it in the state if > 1)."""
        version: int = json.loads(self.state).get("class_version", 1)
        return version


def record_of(position: int, topic: str, originator_id: UUID, originator_version: int, state: bytes) -> dict[str, Any]:
    """One line of a sample file: the state as its exact text if it is UTF-8, else as base64."""
    record: dict[str, Any] = {
        "position": position,
        "topic": topic,
        "originator_id": str(originator_id),
        "originator_version": originator_version,
    }
    try:
        record["state"] = state.decode("utf-8")
    except UnicodeDecodeError:
        record["state_base64"] = base64.b64encode(state).decode("ascii")
    return record


def sample_of(generation: int, record: dict[str, Any]) -> Sample:
    state = record["state"].encode("utf-8") if "state" in record else base64.b64decode(record["state_base64"])
    return Sample(
        generation=generation,
        position=record["position"],
        topic=record["topic"],
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        state=state,
    )


def generations(root: Path = SAMPLES) -> list[int]:
    """The generations stored under ``root``, oldest first."""
    found = (GENERATION.match(path.name) for path in root.iterdir() if path.is_dir())
    return sorted(int(match.group(1)) for match in found if match)


def generation_dir(generation: int, root: Path = SAMPLES) -> Path:
    return root / f"v{generation}"


def load_generation(generation: int, root: Path = SAMPLES) -> list[Sample]:
    """Every sample of a generation, in the order of the log it was taken from."""
    samples = [
        sample_of(generation, json.loads(line))
        for path in sorted(generation_dir(generation, root).glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return sorted(samples, key=lambda sample: sample.position)


KEYS_FILE = "personal_keys.json"
"""A generation's persons' keys (from generation 2, which seals personal fields), wrapped by the tests' key."""


def key_record(key: StoredKey) -> dict[str, Any]:
    return {
        "subject_id": str(key.subject_id),
        "wrapped_base64": None if key.wrapped is None else base64.b64encode(key.wrapped).decode("ascii"),
        "created_at": key.created_at,
        "forgotten_at": key.forgotten_at,
    }


def load_keys(generation: int, root: Path = SAMPLES) -> list[StoredKey]:
    """The generation's key rows (none before generation 2)."""
    path = generation_dir(generation, root) / KEYS_FILE
    if not path.exists():
        return []
    return [
        StoredKey(
            UUID(row["subject_id"]),
            None if row["wrapped_base64"] is None else base64.b64decode(row["wrapped_base64"]),
            row["created_at"],
            row["forgotten_at"],
        )
        for row in json.loads(path.read_text(encoding="utf-8"))
    ]


def load_all(root: Path = SAMPLES) -> list[Sample]:
    return [sample for generation in generations(root) for sample in load_generation(generation, root)]


# The ledger's event classes --------------------------------------------------------------


def ledger_modules() -> Iterator[str]:
    for module in pkgutil.walk_packages(ledger.__path__, prefix="ledger."):
        yield module.name


def ledger_aggregates() -> list[type[Aggregate]]:
    """Every aggregate class defined in ``ledger``, the guards too, found by walking the library's subclasses."""
    for name in ledger_modules():
        importlib.import_module(name)
    found: dict[str, type[Aggregate]] = {}
    pending: list[type[Aggregate]] = list(Aggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] == "ledger":
            found[get_topic(cls)] = cls
    return [found[topic] for topic in sorted(found)]


def recordable_events(aggregate: type[Aggregate]) -> list[EventClass]:
    """The event classes ``aggregate`` can record: its ``@event`` classes and the one creation class it records.

    Each aggregate declares a ``Created`` class only to give it a topic; its ``__init__`` is an
    ``@event("Recorded")`` (``Registered``, ``Opened`` …), so constructing it records that class and
    never ``Created`` (:func:`never_recorded` names those, for a test to keep that true).
    """
    skipped = set(never_recorded(aggregate))
    return [cls for cls in declared_events(aggregate) if cls not in skipped]


def declared_events(aggregate: type[Aggregate]) -> list[EventClass]:
    """The event classes the aggregate's own body defines (its ``Event`` base left out)."""
    return [
        value
        for name, value in vars(aggregate).items()
        if name != "Event" and isinstance(value, type) and issubclass(value, CanMutateAggregate)
    ]


def never_recorded(aggregate: type[Aggregate]) -> list[EventClass]:
    """The declared creation classes other than the one the aggregate's ``@event`` ``__init__`` records.

    Read from the decorator the library leaves on ``__init__`` (``event_cls_name``, or the class it
    was given). Without such a decorator, or if it names nothing declared, nothing is left out: every
    creation class then needs a sample, which fails safe.
    """
    init = vars(aggregate).get("__init__")
    given = getattr(init, "given_event_cls", None)
    name = getattr(given, "__name__", None) or getattr(init, "event_cls_name", None)
    creations = [cls for cls in declared_events(aggregate) if issubclass(cls, CanInitAggregate)]
    if name is None or name not in {cls.__name__ for cls in creations}:
        return []
    return [cls for cls in creations if cls.__name__ != name]


def ledger_event_classes() -> list[EventClass]:
    """Every event class any aggregate of the ledger can record, ordered by topic."""
    classes = {get_topic(cls): cls for aggregate in ledger_aggregates() for cls in recordable_events(aggregate)}
    return [classes[topic] for topic in sorted(classes)]


def class_version(cls: type) -> int:
    version: int = getattr(cls, "class_version", 1)
    return version


def missing_versions(classes: Iterable[type], samples: Iterable[Sample]) -> list[tuple[str, int]]:
    """(topic, class_version) pairs of ``classes`` that no sample was written at: every version 1…current needs one."""
    have = {(sample.topic, sample.class_version) for sample in samples}
    return [
        (get_topic(cls), version)
        for cls in classes
        for version in range(1, class_version(cls) + 1)
        if (get_topic(cls), version) not in have
    ]


def sqlite_env(path: Path) -> dict[str, str]:
    """The library's settings for a SQLite file, exactly as the ledger derives them from its URL."""
    return store_env(f"sqlite:///{path}")
