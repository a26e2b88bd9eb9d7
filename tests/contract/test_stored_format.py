"""The frozen contract: every event the ledger can record still loads, replays and projects as it was stored.

The samples (``samples/vN/*.jsonl``, written once by :mod:`tests.contract.make_samples`) are events
exactly as a store held them. These tests load them through the ledger's own mapper, replay them
through its repository and feed them to every read model, so a renamed field or class, a changed
value encoding or a read model that no longer takes an old event fails here, before a ledger of
public money becomes unreadable. What to do when one fails: ``docs/event-contract.md``.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, CanInitAggregate
from eventsourcing.utils import get_topic, resolve_topic

from ledger.application import Ledger
from ledger.budgets import Budget
from ledger.claims import Claim, ClaimedVisit, MonthlyAllowance
from ledger.elders import Elder
from ledger.evaluations import Evaluation, EvaluationSlot
from ledger.pairings import Caseload, Pairing
from ledger.personal import is_sealed, personal_fields
from ledger.policies import Policy
from ledger.settings import store_env
from ledger.visits import Visit
from ledger.volunteers import Volunteer
from projections import registry
from projections.runner import Runner
from tests.builders import MASTER_KEY
from tests.contract.make_samples import run_scenario
from tests.contract.stored import (
    Sample,
    class_version,
    generations,
    key_record,
    ledger_aggregates,
    ledger_event_classes,
    load_all,
    load_generation,
    load_keys,
    missing_versions,
    never_recorded,
    record_of,
    sqlite_env,
)

GENERATIONS = generations()
SAMPLES = load_all()

NOT_READ_BY_NAME: frozenset[str] = frozenset(
    {
        # Guards: they exist so that racing commands collide in the store (a visit claimed twice,
        # an allowance overdrawn, a caseload over its cap, two live evaluations); what they record
        # reaches the read models through the claim, pairing or evaluation events beside them.
        "tiexin.claimed_visit.Claimed",
        "tiexin.claimed_visit.Reclaimed",
        "tiexin.claimed_visit.Released",
        "tiexin.allowance.Opened",
        "tiexin.allowance.Drawn",
        "tiexin.allowance.Restored",
        "tiexin.caseload.Opened",
        "tiexin.caseload.PairingAdded",
        "tiexin.caseload.PairingRemoved",
        "tiexin.evaluation_slot.Opened",
        "tiexin.evaluation_slot.Taken",
        "tiexin.evaluation_slot.Freed",
        # Counties are read from the ledger itself; a policy's creation says only which kind it is
        # (its versions, in Adopted, are what the scores read model takes).
        "tiexin.county.Established",
        "tiexin.policy.Established",
        # Privacy: no read model holds a volunteer's personal data, so forgetting one changes no
        # view; who read whose data is in the ledger (and in history), not in a model of its own.
        "tiexin.volunteer.Forgotten",
        "tiexin.personal_data_read.Read",
        # Answered from the ledger itself (few per volunteer or county, loaded by id): certificates
        # and their per-volunteer register, audit samples, notices and meetings with their county's
        # index aggregates.
        "tiexin.certificate.Issued",
        "tiexin.certificate_register.Opened",
        "tiexin.certificate_register.Entered",
        "tiexin.audit_sample.Drawn",
        "tiexin.notice.Published",
        "tiexin.notice.Read",
        "tiexin.notice_board.Opened",
        "tiexin.notice_board.Posted",
        "tiexin.meeting.Recorded",
        "tiexin.meeting.SuggestionRaised",
        "tiexin.meeting.SuggestionAnswered",
        "tiexin.meeting_register.Opened",
        "tiexin.meeting_register.Entered",
    }
)
"""Topics no read model names: the history read model still records them (it takes every event)."""


@pytest.fixture(scope="module")
def mapper_ledger() -> Iterator[Ledger]:
    """A ledger in memory: only its mapper (the transcoder with tiexin's value types) is used.

    Without the master key its personal fields stay sealed both ways (:mod:`ledger.personal`), so
    the bytes can be compared; the sample stores below open them with the generation's keys.
    """
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, master_key=None)
    yield ledger
    ledger.close()


def holds_plain_personal_data(sample: Sample) -> bool:
    """A sample from before personal fields were sealed (generation 1) that has some."""
    state = json.loads(sample.state)
    fields = personal_fields(resolve_topic(sample.topic))
    return any(field.split(".")[0] in state and not is_sealed(state[field.split(".")[0]]) for field in fields)


# Every event class has a sample ------------------------------------------------------------


def test_every_event_class_the_ledger_can_record_has_a_sample() -> None:
    sampled = {sample.topic for sample in SAMPLES}
    missing = [get_topic(cls) for cls in ledger_event_classes() if get_topic(cls) not in sampled]
    assert not missing, (
        f"no stored sample of {missing}: add a step recording it to tests/contract/make_samples.py "
        "and write the next generation (docs/event-contract.md)"
    )


def test_every_class_version_of_every_event_class_has_a_sample() -> None:
    """A raised ``class_version`` comes with a sample written at it, and the older samples stay."""
    assert missing_versions(ledger_event_classes(), SAMPLES) == []


def test_no_sample_is_newer_than_its_class() -> None:
    newer = [(s.topic, s.class_version) for s in SAMPLES if s.class_version > class_version(resolve_topic(s.topic))]
    assert newer == []


def test_discovery_finds_the_aggregates_and_agrees_with_the_ledgers_own_list() -> None:
    aggregates = set(ledger_aggregates())
    assert {Visit, Claim, ClaimedVisit, MonthlyAllowance, Caseload, EvaluationSlot, Budget, Policy} <= aggregates
    try:
        events = importlib.import_module("ledger.events")
    except ModuleNotFoundError:
        return
    assert set(events.EVENT_CLASSES) == set(ledger_event_classes())
    if hasattr(events, "AGGREGATES"):
        assert set(events.AGGREGATES) == aggregates


def test_the_declared_created_classes_are_never_recorded() -> None:
    """Each aggregate records the creation class its ``@event`` ``__init__`` names, never its bare ``Created``."""
    bases = {get_topic(cls) for aggregate in ledger_aggregates() for cls in never_recorded(aggregate)}
    assert bases, "the aggregates declare Created classes for their topics"
    assert not bases & {sample.topic for sample in SAMPLES}
    for sample in SAMPLES:
        if sample.originator_version == 1:
            cls = resolve_topic(sample.topic)
            assert issubclass(cls, CanInitAggregate), sample.topic
            assert get_topic(cls) not in bases


# Every sample decodes, and encodes back to the same bytes -----------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"v{s.generation}-{s.position}-{s.topic}")
def test_a_sample_decodes_into_its_class_and_encodes_back_to_the_same_bytes(
    sample: Sample, mapper_ledger: Ledger
) -> None:
    event = mapper_ledger.mapper.to_domain_event(sample.stored_event())
    cls = resolve_topic(sample.topic)
    assert type(event) is cls
    assert (event.originator_id, event.originator_version) == (sample.originator_id, sample.originator_version)
    if sample.class_version == class_version(cls) and not holds_plain_personal_data(sample):
        assert mapper_ledger.mapper.to_stored_event(event) == sample.stored_event()
    # An older sample is upcast on the way in, so it encodes at today's version: test_upcasting shows it.
    # One with personal fields in plain text (generation 1) is written sealed today: test_personal_data shows it.


def test_the_ledger_stores_state_neither_compressed_nor_enciphered(tmp_path: Path) -> None:
    """The samples' state is plain JSON because the ledger's settings name no compressor nor cipher.

    Adding either would leave every existing store unreadable: that needs a migration, not a setting.
    """
    for url in ("sqlite:///tiexin.db", "postgresql://tiexin@db.example:5432/tiexin"):
        assert not {"COMPRESSOR_TOPIC", "CIPHER_TOPIC"} & set(store_env(url)), url
    ledger = Ledger(sqlite_env(tmp_path / "ledger.db"), master_key=MASTER_KEY)
    try:
        assert (ledger.mapper.compressor, ledger.mapper.cipher) == (None, None)
    finally:
        ledger.close()


def test_todays_code_writes_the_latest_generation_byte_for_byte(tmp_path: Path) -> None:
    """The scenario run now writes exactly the newest samples, so any change to what is stored is seen here.

    If this fails after an intended change to an event's shape: raise its ``class_version``, add the
    ``upcast_vX_vY`` and write the next generation (docs/event-contract.md); never edit a sample.
    """
    latest = load_generation(GENERATIONS[-1])
    stored = [record_of(s.position, s.topic, s.originator_id, s.originator_version, s.state) for s in latest]
    records, keys = run_scenario(tmp_path / "ledger.db")
    assert records == stored
    assert keys == [key_record(k) for k in load_keys(GENERATIONS[-1])]


# Replayed through the ledger's repository --------------------------------------------------


@dataclass
class SampleStore:
    """A fresh SQLite store holding one generation's samples, and the ledger on it."""

    generation: int
    url: str
    ledger: Ledger
    samples: list[Sample]

    def replayed(self) -> dict[type[Aggregate], list[Any]]:
        by_class: dict[type[Aggregate], list[Any]] = defaultdict(list)
        for originator_id in dict.fromkeys(s.originator_id for s in self.samples):
            aggregate: Aggregate = self.ledger.repository.get(originator_id)
            by_class[type(aggregate)].append(aggregate)
        return by_class


@pytest.fixture(scope="module", params=GENERATIONS, ids=lambda g: f"v{g}")
def sample_store(request: pytest.FixtureRequest) -> Iterator[SampleStore]:
    generation: int = request.param
    samples = load_generation(generation)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.db"
        ledger = Ledger(sqlite_env(path), master_key=MASTER_KEY)
        try:
            ledger.keyring.store.add(load_keys(generation))
            ledger.recorder.insert_events([s.stored_event() for s in samples])
            yield SampleStore(generation, f"sqlite:///{path}", ledger, samples)
        finally:
            ledger.close()


def test_the_samples_go_into_a_fresh_store_in_log_order(sample_store: SampleStore) -> None:
    log = sample_store.ledger.recorder.select_notifications(start=1, limit=100_000)
    assert [(n.id, n.topic) for n in log] == [(s.position, s.topic) for s in sample_store.samples]


def test_every_aggregate_replays_to_its_last_stored_version(sample_store: SampleStore) -> None:
    last: dict[UUID, int] = {}
    for sample in sample_store.samples:
        last[sample.originator_id] = sample.originator_version
    for originator_id, version in last.items():
        assert sample_store.ledger.repository.get(originator_id).version == version


def one(aggregates: list[Any], **where: Any) -> Any:
    found = [a for a in aggregates if all(getattr(a, k) == v for k, v in where.items())]
    assert len(found) == 1, f"expected one of {where}, found {len(found)}"
    return found[0]


def test_the_replayed_claims_budget_and_guards_agree(sample_store: SampleStore) -> None:
    replayed = sample_store.replayed()
    claims = replayed[Claim]
    assert sorted(c.status for c in claims) == ["paid", "rejected", "reversed"]
    paid, reversed_claim = one(claims, status="paid"), one(claims, status="reversed")
    assert paid.total_fen > 0 and len(paid.visit_ids) == 3

    [budget] = replayed[Budget]
    assert budget.appropriated == {"transport": 5_250_000, "communication": 2_000_000}
    assert budget.committed == paid.amounts_by_line  # the reversed claim's commitment was released
    assert set(budget.commitments) == {str(paid.id)}

    guards = {g.visit_id: g.claim_id for g in replayed[ClaimedVisit]}
    assert all(guards[visit_id] == paid.id for visit_id in paid.visit_ids)
    assert guards[reversed_claim.visit_ids[0]] is None

    draws = sorted(list(a.draws) for a in replayed[MonthlyAllowance])
    assert draws == [[], [str(paid.id)]]  # the doctor's month holds the paid claim; the nurse's was given back


def test_the_replayed_visits_people_and_policies_are_as_recorded(sample_store: SampleStore) -> None:
    replayed = sample_store.replayed()
    visits = replayed[Visit]
    assert sorted(v.status for v in visits) == ["confirmed"] * 4 + ["voided"]
    assert one(visits, feedback_rating=5).readings["glucose_mmol_l"] == Decimal("6.1")
    amended = one(visits, notes="补记:血糖偏高,已建议复查")
    assert (amended.status, amended.unlocked) == ("confirmed", False)

    assert one(replayed[Elder], departure_kind="deceased").departed_on == date(2026, 2, 28)
    assert one(replayed[Elder], departed_on=None).township == "涟城镇"  # relocated
    assert sorted(v.status for v in replayed[Volunteer]) == ["active", "retired"]
    assert one(replayed[Volunteer], status="active").training_hours == {2026: Decimal("2.5")}
    assert one(replayed[Pairing], ended_on=date(2026, 2, 28)).group == "涟城镇第2组"
    assert sorted(len(c.active) for c in replayed[Caseload]) == [0, 1]

    subsidy = one(replayed[Policy], kind="subsidy")
    assert [v["version"] for v in subsidy.versions] == [1, 2]
    assert subsidy.in_force(date(2026, 7, 1)).parameters["transport_cross_township_fen"] == 2500

    live = one(replayed[Evaluation], withdrawn=False)
    assert one(replayed[EvaluationSlot], live=str(live.id))
    assert max(live.criteria.values()) == 95  # the criterion scored higher when the evaluation was given again


# Projected into every read model -----------------------------------------------------------


def runner_on(sample_store: SampleStore, name: str) -> Runner[Any]:
    return Runner(sample_store.ledger, registry.open_projection(name, sample_store.url), save_status=False)


def test_registry_names_the_read_models() -> None:
    assert registry.names(), "no read model to project the samples into"


@pytest.mark.parametrize("name", registry.names())
def test_every_read_model_takes_the_samples_and_catches_up(sample_store: SampleStore, name: str) -> None:
    runner = runner_on(sample_store, name)
    try:
        topics = set(runner.projection.topics)
        taken = [s for s in sample_store.samples if not topics or s.topic in topics]
        assert runner.run_once() == len(taken)
        head = len(sample_store.samples)
        assert (runner.state.status, runner.state.failure, runner.position, runner.lag) == ("caught_up", None, head, 0)
    finally:
        runner.view.close()


def test_every_sampled_topic_is_named_by_a_read_model_or_listed_as_needed_by_none(sample_store: SampleStore) -> None:
    named: set[str] = set()
    for name in registry.names():
        runner = runner_on(sample_store, name)
        named |= set(runner.projection.topics)
        runner.view.close()
    sampled = {s.topic for s in sample_store.samples}
    assert sampled - named - NOT_READ_BY_NAME == set(), "a topic no read model names: list it, saying why"
    assert NOT_READ_BY_NAME & named == set(), "a listed topic is now read by name: take it off the list"
    assert {s.topic for s in SAMPLES} >= NOT_READ_BY_NAME, "a listed topic that is no event of the ledger"
