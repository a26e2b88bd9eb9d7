"""Changing an event's shape with the library's upcasting: old stored events still load, a new sample joins them.

No event of the ledger needs a new shape yet, so this shows the mechanism on a test-local aggregate,
:class:`ExampleBudget`, that mirrors :class:`ledger.budgets.Budget`'s ``Appropriated`` and
``Adjusted`` as if ``Adjusted`` had gained a field: ``document``, the finance bureau's file number
authorising the adjustment. Its ``Adjusted`` is at ``class_version = 2`` with a static
``upcast_v1_v2`` that fills ``document`` in events stored before it existed.

The old events are the ledger's real stored samples (``samples/v1/budget.jsonl``), byte for byte,
except for their topics (and the aggregate topic inside the creation event's state), which name the
mirror: the mirror cannot take the ledger's own topics in the same process. They are decoded by the
Ledger's own mapper (its transcoder with tiexin's value types) and replayed through its repository
on a SQLite store. The event written at version 2 is stored beside them
(``samples/example/v2/budget.jsonl``), as a real change would add the next generation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.common import Provenance
from tests.builders import MASTER_KEY
from tests.contract.stored import (
    SAMPLES,
    Sample,
    load_generation,
    missing_versions,
    record_of,
    sample_of,
    sqlite_env,
)

EXAMPLE = SAMPLES / "example"
"""Where the example's own samples live: only what the mirror wrote itself (its v2 event)."""

LEDGER_TOPIC, EXAMPLE_TOPIC = "tiexin.budget", "contract_example.budget"
DOCUMENT = "涟财预〔2026〕12号"
WRITTEN_AT = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
FINANCE = Provenance("fin-liu", "finance")


class ExampleBudget(Aggregate):
    """A mirror of :class:`ledger.budgets.Budget` (creation and adjustment only) whose ``Adjusted`` is at version 2."""

    TOPIC = EXAMPLE_TOPIC

    class Created(Aggregate.Created):
        TOPIC = f"{EXAMPLE_TOPIC}.Created"

    @event("Appropriated", topic=f"{EXAMPLE_TOPIC}.Appropriated")
    def __init__(self, county: str, year: int, lines: dict[str, int], timestamp: datetime, meta: Provenance) -> None:
        self.appropriated = dict(lines)
        self.documents: list[str] = []

    class Adjusted(Aggregate.Event):
        """Version 2 adds ``document``; version 1 had ``line``, ``delta``, ``reason`` (and ``meta``)."""

        TOPIC = f"{EXAMPLE_TOPIC}.Adjusted"
        class_version = 2

        line: str
        delta: int
        reason: str
        document: str
        meta: Provenance

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Adjustments stored before the field existed name no document: an empty one, never a guess."""
            state["document"] = ""

    @event(Adjusted)
    def adjust(self, line: str, delta: int, reason: str, document: str, timestamp: datetime, meta: Provenance) -> None:
        self.appropriated[line] += delta
        self.documents.append(document)


def mirrored(sample: Sample) -> Sample:
    """A ledger sample under the mirror's topics; the state's bytes change only where they name the aggregate."""
    topic = sample.topic.replace(LEDGER_TOPIC, EXAMPLE_TOPIC, 1)
    state = sample.state.replace(
        f'"originator_topic":"{LEDGER_TOPIC}"'.encode(), f'"originator_topic":"{EXAMPLE_TOPIC}"'.encode()
    )
    return Sample(sample.generation, sample.position, topic, sample.originator_id, sample.originator_version, state)


def v1_history() -> list[Sample]:
    """The ledger's stored budget up to its first adjustment: ``Appropriated`` and ``Adjusted`` at version 1."""
    budget = [s for s in load_generation(1) if s.topic.startswith(f"{LEDGER_TOPIC}.")]
    history = [mirrored(s) for s in budget if s.originator_version <= 2]
    assert [s.topic for s in history] == [f"{EXAMPLE_TOPIC}.Appropriated", f"{EXAMPLE_TOPIC}.Adjusted"]
    return [Sample(s.generation, position, s.topic, s.originator_id, s.originator_version, s.state)
            for position, s in enumerate(history, start=1)]  # fmt: skip


def v2_samples() -> list[Sample]:
    """The stored example written at version 2 (one line: the budget's next adjustment)."""
    return load_generation(2, EXAMPLE)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(sqlite_env(tmp_path / "ledger.db"), master_key=MASTER_KEY)
    yield ledger
    ledger.close()


def stored(sample: Sample) -> StoredEvent:
    return sample.stored_event()


def test_a_version_1_event_loads_through_the_ledgers_mapper_with_the_new_field_filled(ledger: Ledger) -> None:
    adjusted = v1_history()[1]
    assert adjusted.class_version == 1 and b"document" not in adjusted.state
    loaded = ledger.mapper.to_domain_event(stored(adjusted))
    assert isinstance(loaded, ExampleBudget.Adjusted)
    assert (loaded.line, loaded.delta, loaded.reason, loaded.document) == ("transport", 250_000, "县财政追加", "")
    assert loaded.meta == Provenance("fin-chen", "finance", correlation_id="corr-0002")
    # Written again, it is at version 2: the library records the class version in the state.
    state = json.loads(ledger.mapper.to_stored_event(loaded).state)
    assert (state["class_version"], state["document"]) == (2, "")


def test_todays_code_writes_the_stored_version_2_sample(ledger: Ledger) -> None:
    """The v2 sample is what the mirror writes now, after the v1 history (kept beside it, never rewritten)."""
    ledger.recorder.insert_events([stored(s) for s in v1_history()])
    budget: ExampleBudget = ledger.repository.get(v1_history()[0].originator_id)
    budget.adjust(
        line="transport", delta=-100_000, reason="年中调减", document=DOCUMENT, timestamp=WRITTEN_AT, meta=FINANCE
    )
    [written] = [ledger.mapper.to_stored_event(e) for e in budget.collect_events()]
    position = len(v1_history()) + 1
    line = record_of(position, written.topic, budget.id, written.originator_version, written.state)
    samples = v2_samples()
    assert samples, f"store this line in {EXAMPLE}/v2/budget.jsonl: {json.dumps(line, ensure_ascii=False)}"
    assert [sample_of(2, line)] == samples


def test_old_and_new_shapes_replay_together_through_the_ledgers_repository(ledger: Ledger) -> None:
    history = [*v1_history(), *v2_samples()]
    assert [s.class_version for s in history] == [1, 1, 2]
    ledger.recorder.insert_events([stored(s) for s in history])
    budget: Aggregate = ledger.repository.get(history[0].originator_id)
    assert isinstance(budget, ExampleBudget)
    assert budget.version == 3
    assert budget.appropriated == {"transport": 5_000_000 + 250_000 - 100_000, "communication": 2_000_000}
    assert budget.documents == ["", DOCUMENT]


def test_the_version_2_sample_encodes_back_to_its_bytes(ledger: Ledger) -> None:
    [sample] = v2_samples()
    loaded = ledger.mapper.to_domain_event(stored(sample))
    assert isinstance(loaded, ExampleBudget.Adjusted)
    assert loaded.document == DOCUMENT
    assert ledger.mapper.to_stored_event(loaded) == stored(sample)


def test_raising_a_class_version_without_a_sample_at_it_is_caught() -> None:
    classes = [ExampleBudget.Appropriated, ExampleBudget.Adjusted]  # type: ignore[attr-defined]
    assert missing_versions(classes, [*v1_history(), *v2_samples()]) == []
    assert missing_versions(classes, v1_history()) == [(f"{EXAMPLE_TOPIC}.Adjusted", 2)]
    assert missing_versions(classes, [v1_history()[0], *v2_samples()]) == [(f"{EXAMPLE_TOPIC}.Adjusted", 1)]
