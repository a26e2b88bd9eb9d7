"""The desk's tables and the statements that write and read them, one text for both stores.

Six tables, one row per record people look for: ``visits`` (whose, where, when, what kind, its
status, whether it handed over a gift bag and the live claim that holds it), ``claims`` (whose,
which month, status, amounts, who submitted and approved), ``evaluations`` (whose, period, by whom,
criteria, withdrawn), ``trainings`` (a volunteer's courses) and ``volunteers`` (each one's county
and township, which the reports of gift bags and trainings group by), and ``elders`` (each one's
category, which visits are filtered by). Each row carries the log
position that made it, which is also the order lists are paged in (newest first): a position is
unique and the same on every store, so a cursor is one integer.

No personal data is copied here (no names, phones, readings, notes or comments): the desk can be
read by every role that may see the record, and forgetting a person changes nothing in it.

A page's rows go in the order of :data:`WRITES`. A visit's status, its amendments and its claim
are different statements on different columns; a claim ``release`` clears only the visits still
held by *that* claim, so a visit rejected from one claim and put in another within one page ends
held by the second whichever order the two statements run in.
"""

from __future__ import annotations

from projections.storage import Index, Kind, Table, columns, nullable

VISITS = Table(
    "visits",
    columns(
        ("visit_id", Kind.UUID), ("pairing_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("elder_id", Kind.UUID),
        ("township", Kind.TEXT), ("month", Kind.TEXT), ("kind", Kind.TEXT), ("status", Kind.TEXT),
        ("started_at", Kind.INSTANT), ("ended_at", Kind.INSTANT), ("gift_bag", Kind.FLAG),
        nullable("claim_id", Kind.UUID), ("position", Kind.INT),
    ),
    key=("visit_id",),
    indexes=(
        Index("visits_by_volunteer", ("volunteer_id", "position")), Index("visits_by_elder", ("elder_id", "position")),
        Index("visits_by_month", ("month", "township")), Index("visits_by_position", ("position",)),
    ),
)  # fmt: skip
"""``township``: where the visit took place, as recorded (and amended); ``month``: the county month of its start."""
CLAIMS = Table(
    "claims",
    columns(
        ("claim_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("county", Kind.TEXT), ("month", Kind.TEXT),
        ("status", Kind.TEXT), ("submitted_by", Kind.TEXT), nullable("approved_by", Kind.TEXT),
        ("transport_fen", Kind.INT), ("communication_fen", Kind.INT), ("visits", Kind.INT),
        ("submitted_at", Kind.INSTANT), ("position", Kind.INT), ("status_position", Kind.INT),
    ),
    key=("claim_id",),
    indexes=(
        Index("claims_by_volunteer", ("volunteer_id", "position")), Index("claims_by_status", ("status", "position")),
    ),
)  # fmt: skip
EVALUATIONS = Table(
    "evaluations",
    columns(
        ("evaluation_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("period", Kind.TEXT), ("evaluator_id", Kind.TEXT),
        ("criteria", Kind.JSON), ("withdrawn", Kind.FLAG), ("submitted_at", Kind.INSTANT), ("position", Kind.INT),
    ),
    key=("evaluation_id",),
    indexes=(Index("evaluations_by_volunteer", ("volunteer_id", "position")),),
)  # fmt: skip
TRAININGS = Table(
    "trainings",
    columns(
        ("position", Kind.INT), ("volunteer_id", Kind.UUID), ("course", Kind.TEXT), ("hours", Kind.NUMBER),
        ("on_day", Kind.DAY),
    ),
    key=("position",),
    indexes=(Index("trainings_by_volunteer", ("volunteer_id", "position")),),
)  # fmt: skip
VOLUNTEERS = Table(
    "volunteers",
    columns(("volunteer_id", Kind.UUID), ("county", Kind.TEXT), ("township", Kind.TEXT), ("position", Kind.INT)),
    key=("volunteer_id",),
    indexes=(Index("volunteers_by_county", ("county", "township")),),
)
"""Each volunteer's county and township (as recruited; neither ever changes): what the reports group by."""
ELDERS = Table(
    "elders",
    columns(("elder_id", Kind.UUID), ("category", Kind.TEXT)),
    key=("elder_id",),
    indexes=(Index("elders_by_category", ("category",)),),
)
"""Each elder's category (:class:`~ledger.elders.ElderCategory`): ``?category=`` on the visits."""
TABLES = (VISITS, CLAIMS, EVALUATIONS, TRAININGS, VOLUNTEERS, ELDERS)
KINDS = {name: kind for table in TABLES for name, kind in table.kinds.items()}
"""Every column's kind by name (a column shared by two tables has the same kind in both)."""

# Writing a page -------------------------------------------------------------------------------

WRITES: dict[str, str] = {
    "visit": (
        "INSERT INTO {visits} (visit_id, pairing_id, volunteer_id, elder_id, township, month, kind, status, "
        "started_at, ended_at, gift_bag, claim_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
    ),
    "claim": (
        "INSERT INTO {claims} (claim_id, volunteer_id, county, month, status, submitted_by, approved_by, "
        "transport_fen, communication_fen, visits, submitted_at, position, status_position) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)"
    ),
    "evaluation": (
        "INSERT INTO {evaluations} (evaluation_id, volunteer_id, period, evaluator_id, criteria, withdrawn, "
        "submitted_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "training": "INSERT INTO {trainings} (position, volunteer_id, course, hours, on_day) VALUES (?, ?, ?, ?, ?)",
    "volunteer": "INSERT INTO {volunteers} (volunteer_id, county, township, position) VALUES (?, ?, ?, ?)",
    "elder": "INSERT INTO {elders} (elder_id, category) VALUES (?, ?)",
    "visit_status": "UPDATE {visits} SET status = ? WHERE visit_id = ?",
    "visit_amended": (
        "UPDATE {visits} SET kind = COALESCE(?, kind), township = COALESCE(?, township), "
        "started_at = COALESCE(?, started_at), month = COALESCE(?, month), ended_at = COALESCE(?, ended_at), "
        "gift_bag = COALESCE(?, gift_bag) WHERE visit_id = ?"
    ),
    "hold": "UPDATE {visits} SET claim_id = ? WHERE visit_id = ?",
    "release": "UPDATE {visits} SET claim_id = NULL WHERE claim_id = ?",
    "claim_status": (
        "UPDATE {claims} SET status = ?, approved_by = COALESCE(?, approved_by), status_position = ? WHERE claim_id = ?"
    ),
    "withdrawn": "UPDATE {evaluations} SET withdrawn = ? WHERE evaluation_id = ?",
    "recategorise": (
        "INSERT INTO {elders} (elder_id, category) VALUES (?, ?) "
        "ON CONFLICT (elder_id) DO UPDATE SET category = excluded.category"
    ),
}
EXACT = ("visit_status", "visit_amended", "hold", "claim_status", "withdrawn")
"""Statements that must find their row: one missing means the view missed the record's first event."""

# Reading --------------------------------------------------------------------------------------

SELECT_VISITS = f"SELECT {', '.join(VISITS.names)} FROM {{visits}} WHERE 1 = 1"
SELECT_CLAIMS = f"SELECT {', '.join(CLAIMS.names)} FROM {{claims}} WHERE 1 = 1"
SELECT_EVALUATIONS = f"SELECT {', '.join(EVALUATIONS.names)} FROM {{evaluations}} WHERE 1 = 1"
SELECT_TRAININGS = f"SELECT {', '.join(TRAININGS.names)} FROM {{trainings}} WHERE volunteer_id = ?"
GIFT_BAGS = (
    "SELECT v.township AS township, v.month AS month, COUNT(*) AS bags FROM {visits} v "
    "JOIN {volunteers} p ON p.volunteer_id = v.volunteer_id "
    "WHERE p.county = ? AND v.month >= ? AND v.month <= ? AND v.gift_bag = ? AND v.status <> ? "
    "GROUP BY v.township, v.month"
)
"""Bags handed out by where and when: the county's visits of a span of months that hand one over, not voided."""
CONTACTS = (
    "SELECT v.township AS township, v.kind AS kind, COUNT(*) AS contacts FROM {visits} v "
    "JOIN {volunteers} p ON p.volunteer_id = v.volunteer_id "
    "WHERE p.county = ? AND v.month = ? AND v.status <> ? "
    "GROUP BY v.township, v.kind"
)
"""Contacts by where and what: the county's visits of a month that are not voided, by township and kind."""
TRAININGS_OF_COUNTY = (
    "SELECT p.township AS township, t.volunteer_id AS volunteer_id, t.hours AS hours, t.on_day AS on_day "
    "FROM {trainings} t JOIN {volunteers} p ON p.volunteer_id = t.volunteer_id "
    "WHERE p.county = ? AND t.on_day >= ? AND t.on_day <= ?"
)
"""The courses the county's volunteers completed in a span of days, each with the volunteer's township
(summed by the caller: hours are exact decimals, kept as text on SQLite)."""
OF_CATEGORY = " AND elder_id IN (SELECT elder_id FROM {elders} WHERE category = ?)"
"""Only the visits of elders of one category (its one parameter)."""
BEFORE = " AND position < ?"
NEWEST_FIRST = " ORDER BY position DESC LIMIT ?"
