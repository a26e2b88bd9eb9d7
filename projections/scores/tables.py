"""The scores read model's tables, and the statements that write and read them.

The tables hold **inputs, not scores** (what the rows mean: :mod:`projections.scores`): who the
volunteers are, the scoring policy versions, the pairings, trainings and evaluations as they
stand, and one row per visit with its current month, status and rating. Every row keeps the log
positions it came from. Ids, dates and months are text on both stores (ISO: text order is date
order); decimal hours are text, summed exactly in Python; counts and positions are integers.
Since every column is text or an integer, both dialects keep a value as it is given: rows are
written and read without encoding.

The tables are plain (rowid) tables on SQLite, laid out as before the storage layer, so the
view's files, answers and speed are unchanged.
"""

from __future__ import annotations

from projections.storage import Index, Kind, Table, columns, nullable

VOLUNTEERS = Table(
    "volunteers",
    columns(
        ("volunteer_id", Kind.TEXT), ("county", Kind.TEXT), ("township", Kind.TEXT), ("recruited_on", Kind.TEXT),
        ("recruited_position", Kind.INT), nullable("retired_on", Kind.TEXT), nullable("retired_position", Kind.INT),
    ),
    key=("volunteer_id",),
    indexes=(Index("volunteers_ix", ("township", "county")),),
    compact=False,
)  # fmt: skip
POLICIES = Table(
    "policies",
    columns(("version", Kind.INT), ("parameters", Kind.TEXT), ("effective_from", Kind.TEXT), ("position", Kind.INT)),
    key=("version",),
    compact=False,
)
"""The scoring policy's versions; ``parameters`` is the version's JSON text (keys sorted)."""
PAIRINGS = Table(
    "pairings",
    columns(
        ("pairing_id", Kind.TEXT), ("volunteer_id", Kind.TEXT), ("elder_id", Kind.TEXT), ("from_date", Kind.TEXT),
        nullable("ended_on", Kind.TEXT), ("formed_position", Kind.INT), nullable("ended_position", Kind.INT),
    ),
    key=("pairing_id",),
    indexes=(Index("pairings_ix", ("volunteer_id",)),),
    compact=False,
)  # fmt: skip
TRAININGS = Table(
    "trainings",
    columns(
        ("position", Kind.INT), ("volunteer_id", Kind.TEXT), ("year", Kind.INT), ("on_date", Kind.TEXT),
        ("hours", Kind.TEXT),
    ),
    key=("position",),
    indexes=(Index("trainings_ix", ("year", "volunteer_id")),),
    compact=False,
)  # fmt: skip
EVALUATIONS = Table(
    "evaluations",
    columns(
        ("evaluation_id", Kind.TEXT), ("volunteer_id", Kind.TEXT), ("period", Kind.TEXT),
        ("criteria_sum", Kind.INT), ("criteria_count", Kind.INT), ("submitted_position", Kind.INT),
        nullable("withdrawn_position", Kind.INT), ("criteria", Kind.TEXT),
    ),
    key=("evaluation_id",),
    indexes=(Index("evaluations_ix", ("period", "volunteer_id")),),
    compact=False,
)  # fmt: skip
"""``criteria``: the scores by criterion as JSON text (keys sorted), so that each policy version weighs them."""
VISITS = Table(
    "visits",
    columns(
        ("visit_id", Kind.TEXT), ("volunteer_id", Kind.TEXT), ("month", Kind.TEXT), ("status", Kind.TEXT),
        nullable("bad_position", Kind.INT), nullable("rating", Kind.INT), ("first_position", Kind.INT),
        ("last_position", Kind.INT), ("events", Kind.INT), nullable("rated_position", Kind.INT),
    ),
    key=("visit_id",),
    indexes=(Index("visits_ix", ("month", "volunteer_id")),),
    compact=False,
)  # fmt: skip
"""One row per visit as scoring sees it (:class:`projections.scores.writer.VisitRow`); ``rated_position``: the
feedback whose rating it holds."""
MOVES = Table(
    "moves",
    columns(("position", Kind.INT), ("visit_id", Kind.TEXT), ("volunteer_id", Kind.TEXT), ("month", Kind.TEXT)),
    key=("position",),
    indexes=(Index("moves_ix", ("month", "volunteer_id")),),
    compact=False,
)
"""An amendment that moved a visit *out of* ``month`` (a removal from that month's inputs)."""

TABLES = (VOLUNTEERS, POLICIES, PAIRINGS, TRAININGS, EVALUATIONS, VISITS, MOVES)
"""Also the order a page's new rows are inserted in, before the updates: an update always refers
to a row inserted by an earlier event."""

REPLACED = {VISITS.suffix: tuple(c for c in VISITS.names if c not in ("visit_id", "volunteer_id"))}
"""Tables whose new row replaces the one already there (the columns it replaces); the others only insert."""

# Writing: the updates of a page, each one ``executemany`` after the inserts ---------------------

UPDATES = {
    "retired": "UPDATE {volunteers} SET retired_on = ?, retired_position = ? "
    "WHERE volunteer_id = ? AND retired_on IS NULL",
    "ended": "UPDATE {pairings} SET ended_on = ?, ended_position = ? WHERE pairing_id = ? AND ended_on IS NULL",
    "withdrawn": "UPDATE {evaluations} SET withdrawn_position = ? "
    "WHERE evaluation_id = ? AND withdrawn_position IS NULL",
}
"""Each must change one row per row of parameters: one that finds none means the view missed an event."""

LOAD_VISITS = "SELECT * FROM {visits} WHERE visit_id {any_of}"
"""A page's visits, loaded in one query to replay its visit events over them."""

# Reading: a month's inputs, all in one snapshot ---------------------------------------------------
# ``{who}`` is the condition on ``volunteer_id`` of :class:`projections.scores.view.Who`.

POLICIES_OF = "SELECT * FROM {policies} ORDER BY version"
VOLUNTEERS_OF = (
    "SELECT volunteer_id, county, township FROM {volunteers} WHERE (recruited_on <= ? OR "
    "volunteer_id IN (SELECT volunteer_id FROM {pairings} WHERE from_date <= ? AND "
    "(ended_on IS NULL OR ended_on >= ?))) AND (retired_on IS NULL OR retired_on >= ?) "
    "AND {who} ORDER BY volunteer_id"
)
"""Params: the month's last day twice, its first day twice."""
VISITS_OF = "SELECT * FROM {visits} WHERE month = ? AND {who} ORDER BY first_position"
MOVES_OF = (
    "SELECT volunteer_id, COUNT(*) AS n, MIN(position) AS lo, MAX(position) AS hi FROM {moves} "
    "WHERE month = ? AND {who} GROUP BY volunteer_id"
)
PAIRINGS_OF = (
    "SELECT volunteer_id, elder_id, ended_on, formed_position, ended_position, pairing_id FROM {pairings} "
    "WHERE from_date <= ? AND {who} ORDER BY formed_position"
)
"""Params: the month's last day."""
EVALUATIONS_OF = (
    "SELECT volunteer_id, criteria_sum, criteria_count, submitted_position, withdrawn_position, evaluation_id, "
    "criteria FROM {evaluations} WHERE period IN ({periods}) AND {who} ORDER BY submitted_position"
)
"""``{periods}``: one ``?`` per evaluation period covering the month."""
TRAININGS_OF = (
    "SELECT volunteer_id, hours, position, on_date FROM {trainings} WHERE year = ? AND on_date <= ? AND {who} "
    "ORDER BY position"
)
"""Params: the month's year, its last day."""
EVERY_ROW = "SELECT * FROM {{{table}}} ORDER BY 1"
"""A whole table (``{table}``: its suffix), by its first column."""
