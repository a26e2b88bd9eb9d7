"""The roster's tables and the statements that write and read them, one text for both stores.

Four tables, keyed by the ledger's ids: ``elders`` (county, township, category, departure, last contact),
``volunteers`` (county, township, status), ``pairings`` (who, group, from, ended) and
``visits`` (whose, when, voided): the state the roster needs across events, e.g. which elder a
later ``Voided`` event's visit was for.

A page's rows go in the order of :data:`WRITES`: the inserts, then the updates, then
:data:`LAST_CONTACT`, which recomputes, in one statement, the last contact of every elder whose
visits the page touched (recorded, moved by an amendment or voided) from the ``visits`` table.
Within a page the updates of one statement keep the log's order, and no two statements set the
same column, so the page ends exactly where applying its events one by one would.
"""

from __future__ import annotations

from projections.storage import Index, Kind, Table, columns, nullable

ELDERS = Table(
    "elders",
    columns(
        ("elder_id", Kind.UUID), ("county", Kind.TEXT), ("township", Kind.TEXT), ("category", Kind.TEXT),
        nullable("departed_on", Kind.DAY), nullable("departure_kind", Kind.TEXT),
        nullable("last_contact_at", Kind.INSTANT), nullable("last_visit_id", Kind.UUID),
    ),
    key=("elder_id",),
)  # fmt: skip
"""A township is the elder's as relocated; ``category`` the elder's group (:class:`~ledger.elders.ElderCategory`);
``last_contact_at`` and ``last_visit_id`` follow its visits."""
VOLUNTEERS = Table(
    "volunteers",
    columns(("volunteer_id", Kind.UUID), ("county", Kind.TEXT), ("township", Kind.TEXT), ("status", Kind.TEXT)),
    key=("volunteer_id",),
)
PAIRINGS = Table(
    "pairings",
    columns(
        ("pairing_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("elder_id", Kind.UUID), ("grp", Kind.TEXT),
        ("from_date", Kind.DAY), nullable("ended_on", Kind.DAY), nullable("end_reason", Kind.TEXT),
    ),
    key=("pairing_id",),
    indexes=(Index("pairings_by_elder", ("elder_id",)), Index("pairings_by_volunteer", ("volunteer_id",))),
)  # fmt: skip
"""``grp``: the pairing's group (``group`` is a reserved word)."""
VISITS = Table(
    "visits",
    columns(
        ("visit_id", Kind.UUID), ("elder_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("started_at", Kind.INSTANT),
        ("voided", Kind.FLAG),
    ),
    key=("visit_id",),
    indexes=(Index("visits_by_elder", ("elder_id", "started_at")),),
)  # fmt: skip
TABLES = (ELDERS, VOLUNTEERS, PAIRINGS, VISITS)

# Writing a page -------------------------------------------------------------------------------

WRITES: dict[str, str] = {
    "register": "INSERT INTO {elders} (elder_id, county, township, category) VALUES (?, ?, ?, ?)",
    "recruit": "INSERT INTO {volunteers} (volunteer_id, county, township, status) VALUES (?, ?, ?, ?)",
    "form": "INSERT INTO {pairings} (pairing_id, volunteer_id, elder_id, grp, from_date) VALUES (?, ?, ?, ?, ?)",
    "record": "INSERT INTO {visits} (visit_id, elder_id, volunteer_id, started_at, voided) VALUES (?, ?, ?, ?, FALSE)",
    "relocate": "UPDATE {elders} SET township = ? WHERE elder_id = ?",
    "recategorise": "UPDATE {elders} SET category = ? WHERE elder_id = ?",
    "depart": "UPDATE {elders} SET departed_on = ?, departure_kind = ? WHERE elder_id = ?",
    "status": "UPDATE {volunteers} SET status = ? WHERE volunteer_id = ?",
    "end": "UPDATE {pairings} SET ended_on = ?, end_reason = ? WHERE pairing_id = ?",
    "move": "UPDATE {visits} SET started_at = ? WHERE visit_id = ?",
    "void": "UPDATE {visits} SET voided = TRUE WHERE visit_id = ?",
}
"""The rows of a page, in the order they are sent (one ``executemany`` each)."""
EXACT = ("relocate", "recategorise", "depart", "status", "end", "move", "void")
"""Updates that must find their row: one missing means the view missed the event that made it."""

LAST_CONTACT = (
    "UPDATE {elders} AS e SET (last_contact_at, last_visit_id) = ("
    "SELECT v.started_at, v.visit_id FROM {visits} v WHERE v.elder_id = e.elder_id AND NOT v.voided "
    "ORDER BY v.started_at DESC, v.visit_id DESC LIMIT 1) "
    "WHERE e.elder_id IN (SELECT elder_id FROM {visits} WHERE visit_id {any_of})"
)
"""Then, once a page: the last contact of the elders of the visits it touched, from their visits.
Its one parameter is the touched visits' ids (``dialect.keys``)."""

# Reading answers ------------------------------------------------------------------------------

PAIRINGS_OF = (
    'SELECT p.pairing_id, p.elder_id, p.volunteer_id, e.county, e.township, p.grp AS "group", p.from_date, '
    "v.status AS volunteer_status, e.departed_on AS elder_departed_on "
    "FROM {pairings} p JOIN {elders} e ON e.elder_id = p.elder_id "
    "JOIN {volunteers} v ON v.volunteer_id = p.volunteer_id WHERE p.ended_on IS NULL"
)
"""The active pairings (not ended), with their elders' place and departure and their volunteers' status."""
PAIRING_ORDER = ("e.county {bytewise}", "e.township {bytewise}", "p.grp {bytewise}", "p.elder_id", "p.pairing_id")
"""The roster's order; text compared by code point on both stores (``bytewise``: PostgreSQL's "C"
collation; SQLite's default), as Python compares the cursor's text."""
PAIRINGS_AFTER = f" AND ({', '.join(PAIRING_ORDER)}) > (?, ?, ?, ?, ?)"
"""Keyset paging: only the pairings past a :func:`~projections.roster.rows.pairing_key`."""
PAIRINGS_ORDERED = f" ORDER BY {', '.join(PAIRING_ORDER)}"
PRESENT = "e.departed_on IS NULL"
"""An elder not departed (of ``{elders} e``)."""
SERVED = (
    "EXISTS (SELECT 1 FROM {pairings} p JOIN {volunteers} v ON v.volunteer_id = p.volunteer_id "
    "WHERE p.elder_id = e.elder_id AND p.ended_on IS NULL AND v.status = ?)"
)
"""The elder ``e`` has an active pairing to a volunteer of the status given (``VolunteerStatus.ACTIVE``)."""
NOT_CONTACTED_SINCE = "(e.last_contact_at IS NULL OR e.last_contact_at < ?)"
"""The elder ``e`` had no contact at or after the instant given, or never."""
UNPAIRED = (
    "SELECT e.elder_id, e.county, e.township, "
    "(SELECT COUNT(*) FROM {pairings} p WHERE p.elder_id = e.elder_id AND p.ended_on IS NULL) AS pairings, "
    f"e.last_contact_at FROM {{elders}} e WHERE {PRESENT} AND NOT {SERVED}"
)
"""Its first parameter is the status of a volunteer who serves (``VolunteerStatus.ACTIVE``)."""
LOADS = (
    "SELECT v.volunteer_id, v.county, v.township, v.status, (SELECT COUNT(*) FROM {pairings} p "
    "WHERE p.volunteer_id = v.volunteer_id AND p.ended_on IS NULL) AS active_pairings "
    "FROM {volunteers} v WHERE TRUE"
)
ELDERS_OF = (
    "SELECT e.elder_id, e.county, e.township, e.category, e.departed_on, e.departure_kind, e.last_contact_at, "
    "e.last_visit_id "
    "FROM {elders} e WHERE TRUE"
)
OVERDUE = (
    "SELECT e.elder_id, e.county, e.township, e.last_contact_at, e.last_visit_id, p.volunteer_id "
    "FROM {elders} e LEFT JOIN {pairings} p ON p.elder_id = e.elder_id AND p.ended_on IS NULL "
    f"WHERE {PRESENT} AND {NOT_CONTACTED_SINCE}"
)
"""One row per elder and active pairing (or one with no volunteer): the view groups them."""
TOWNSHIPS = (
    "SELECT e.county, e.township, "
    f"SUM(CASE WHEN {PRESENT} THEN 1 ELSE 0 END) AS elders, "
    f"SUM(CASE WHEN {PRESENT} AND NOT {SERVED} THEN 1 ELSE 0 END) AS unpaired, "
    f"SUM(CASE WHEN {PRESENT} AND {NOT_CONTACTED_SINCE} THEN 1 ELSE 0 END) AS overdue "
    "FROM {elders} e WHERE TRUE"
)
"""Per township (grouped by :data:`BY_TOWNSHIP` after the filters): its present elders, those of them
:data:`UNPAIRED` lists and those :data:`OVERDUE` lists, by the same conditions. Its parameters: the
status of a volunteer who serves, then the instant of the overdue cutoff."""
BY_TOWNSHIP = " GROUP BY e.county, e.township"

KINDS: dict[str, Kind] = {**ELDERS.kinds, **VOLUNTEERS.kinds, **PAIRINGS.kinds, "elder_departed_on": Kind.DAY}
"""How the columns the queries answer are decoded (a column means the same in every table it is in)."""
