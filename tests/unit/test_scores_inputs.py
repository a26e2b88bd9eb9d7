"""The scores read model without a store: how a page's visit facts replay, how rows become inputs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledger.errors import RuleViolation
from ledger.policies import DEFAULT_PARAMETERS, SCORING
from ledger.scoring import ScoreInputs
from projections.scores import (
    DISPUTED,
    OK,
    VOIDED,
    EvaluationRow,
    MonthRows,
    MoveRow,
    PairingRow,
    PolicyRow,
    ScoresWriter,
    TrainingRow,
    VisitRow,
    VolunteerRow,
    policy_for,
    scores_of,
)
from projections.storage import Table

VOLUNTEER = "5b0f7d4e-8d61-4c8e-9a55-3f1f6f0c2a11"
V1 = PolicyRow(1, json.dumps(DEFAULT_PARAMETERS[SCORING]), "2000-01-01", 3)


class FakeStore:
    """Keeps what the writer writes in memory; ``visits`` are the rows already in the view."""

    def __init__(self, *visits: VisitRow) -> None:
        self.visits = {v.visit_id: v for v in visits}
        self.inserted: dict[str, list[tuple[Any, ...]]] = {}
        self.updated: dict[str, list[tuple[Any, ...]]] = {}
        self.loads: list[list[str]] = []

    def insert_rows(self, cursor: Any, table: Table, rows: list[tuple[Any, ...]]) -> None:
        self.inserted.setdefault(table.suffix, []).extend(rows)

    def update_rows(self, cursor: Any, template: str, rows: list[tuple[Any, ...]]) -> int:
        self.updated.setdefault(template, []).extend(rows)
        return len(rows)

    def load_visits(self, cursor: Any, visit_ids: list[str]) -> list[VisitRow]:
        self.loads.append(visit_ids)
        return [self.visits[i] for i in visit_ids if i in self.visits]


def written_visits(store: FakeStore) -> dict[str, VisitRow]:
    return {row[0]: VisitRow(*row) for row in store.inserted.get("visits", [])}


def test_a_page_of_visit_facts_replays_in_log_order_over_one_load() -> None:
    known = VisitRow("old", "v1", "2026-02", OK, None, None, 10, 12, 2)
    store = FakeStore(known)
    writer = ScoresWriter(None, store)
    writer.visit("recorded", "new", 20, ("v1", "2026-02"))
    writer.visit("disputed", "new", 21)
    writer.visit("confirmed", "new", 22)  # settles the dispute
    writer.visit("confirmed", "old", 23)  # changes nothing: not disputed
    writer.visit("rated", "old", 24, 5)
    writer.visit("moved", "old", 25, "2026-03")
    writer.visit("voided", "old", 26)
    writer.flush()

    assert store.loads == [["new", "old"]]
    rows = written_visits(store)
    assert rows["new"] == VisitRow("new", "v1", "2026-02", OK, None, None, 20, 22, 3)
    assert rows["old"] == VisitRow("old", "v1", "2026-03", VOIDED, 26, 5, 10, 26, 5, rated_position=24)
    assert store.inserted["moves"] == [(25, "old", "v1", "2026-02")]  # out of February
    writer.flush()  # nothing left to write
    assert len(store.loads) == 1


def test_a_visit_the_view_never_saw_recorded_or_recorded_twice_is_refused() -> None:
    writer = ScoresWriter(None, FakeStore(VisitRow("old", "v1", "2026-02", DISPUTED, 11, None, 10, 11, 2)))
    writer.visit("rated", "ghost", 30, 4)
    with pytest.raises(ValueError, match="never recorded"):
        writer.flush()
    writer.visit("recorded", "old", 31, ("v1", "2026-02"))
    with pytest.raises(ValueError, match="already recorded at position 10"):
        writer.flush()


def test_an_update_that_finds_no_row_is_refused() -> None:
    class Missing(FakeStore):
        def update_rows(self, cursor: Any, template: str, rows: list[tuple[Any, ...]]) -> int:
            return 0

    writer = ScoresWriter(None, Missing())
    writer.withdrawn("e1", 40)
    with pytest.raises(ValueError, match="withdrawn: 1 of 1 found no row"):
        writer.flush()


def month_rows(**rows: Any) -> MonthRows:
    base: dict[str, Any] = {
        "position": 99, "policies": [V1], "volunteers": [VolunteerRow(VOLUNTEER, "c", "t")], "visits": [],
        "moves": [], "pairings": [], "evaluations": [], "trainings": [],
    }  # fmt: skip
    return MonthRows(**(base | rows))


def test_rows_become_the_inputs_and_the_sources_of_a_score() -> None:
    rows = month_rows(
        visits=[
            VisitRow("a", VOLUNTEER, "2026-02", OK, None, 4, 50, 52, 2),
            VisitRow("b", VOLUNTEER, "2026-02", DISPUTED, 61, 2, 60, 61, 2),  # a contact, rated, penalised
            VisitRow("c", VOLUNTEER, "2026-02", VOIDED, 71, 1, 70, 72, 3),  # not a contact, rating dropped
        ],
        moves=[MoveRow(VOLUNTEER, 1, 80, 80)],
        pairings=[
            PairingRow(VOLUNTEER, "e1", None, 5, None),
            PairingRow(VOLUNTEER, "e1", "2026-02-28", 6, 40),  # the same elder again: one elder
            PairingRow(VOLUNTEER, "e2", "2026-02-01", 7, 41),  # ended on the first day: still paired
            PairingRow(VOLUNTEER, "e3", "2026-01-31", 8, 42),  # ended before: taken away, not paired
        ],
        evaluations=[EvaluationRow(VOLUNTEER, 170, 2, 30, None), EvaluationRow(VOLUNTEER, 100, 1, 31, 90)],
        trainings=[TrainingRow(VOLUNTEER, "1.5", 20), TrainingRow(VOLUNTEER, "2", 21)],
    )
    [score] = scores_of(rows, "2026-02")
    assert score.score.inputs == ScoreInputs(2, 2, (4, 2), (Decimal(85),), Decimal("3.5"), 2)
    assert score.sources.penalties == (61, 71)
    assert (score.sources.first, score.sources.last, score.sources.policy) == (5, 90, 3)
    # 7 visit events, 1 move, 3 + 2 pairing events, 1 + 2 evaluation events, 2 trainings
    assert score.sources.count == 7 + 1 + 5 + 3 + 2
    assert score.view_position == 99


def test_a_volunteer_with_nothing_in_the_month_still_has_a_score() -> None:
    [score] = scores_of(month_rows(), "2026-02")
    assert score.score.inputs == ScoreInputs(0, 0)
    assert (score.sources.first, score.sources.last, score.sources.count) == (None, None, 0)
    assert str(score.total) == "30.00"  # the prior satisfaction alone, re-weighted: 30 × 4/5 × 100/80


def test_the_policy_of_a_month_is_the_one_in_force_on_its_first_day() -> None:
    v2 = PolicyRow(2, V1.parameters, "2026-03-01", 77)
    v3 = PolicyRow(3, V1.parameters, "2026-03-15", 88)
    assert policy_for("2026-02", [v3, V1, v2]) == V1
    assert policy_for("2026-03", [V1, v2, v3]) == v2  # v3 starts mid-month: April is its first
    assert policy_for("2026-04", [V1, v2, v3]) == v3
    with pytest.raises(RuleViolation, match="no scoring policy was in force on 1999-12-01"):
        policy_for("1999-12", [V1])
