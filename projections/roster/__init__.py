"""The roster read model: who serves whom, who has nobody, who carries how much, who is overdue.

Answers (each an :class:`~projections.storage.Answer`: rows and the log position they reflect):

- :meth:`RosterView.pairings`: the active pairings (not ended), by county, township and group;
- :meth:`RosterView.unpaired`: elders present (not departed) with no active pairing to an
  *active* volunteer (``pairings`` > 0: paired only with suspended or retired volunteers);
- :meth:`RosterView.loads`: every volunteer's status and number of active pairings;
- :meth:`RosterView.elders` / :meth:`RosterView.last_contact`: each elder's last contact, the
  latest ``started_at`` of its visits not voided (amendments of ``started_at`` move it, a void
  takes the visit out);
- :meth:`RosterView.overdue`: elders present with no contact on or after ``today - days``
  (county calendar), or never; each with its active volunteers, to know whom to call;
- :meth:`RosterView.townships`: per township, its present elders, how many are paired and how
  many the two lists above hold (the same conditions, counted in one query).

A pairing's township is its elder's (as relocated); a group is the pairing's. No names, phones or
addresses are kept (see :mod:`~projections.roster.rows`). Visit details other than who and when
stay in the ledger too.

- :mod:`~projections.roster.tables`: the four tables and their statements;
- :mod:`~projections.roster.handlers`: each event → the change to its row;
- :mod:`~projections.roster.writer`: a page's rows, then its elders' last contacts;
- :mod:`~projections.roster.rows`: what the answers hold;
- :mod:`~projections.roster.view`: the view and its queries;
- here: the projection and how to open it.
"""

from __future__ import annotations

from projections.roster.handlers import HANDLERS
from projections.roster.rows import (
    ElderRow,
    LoadRow,
    OverdueRow,
    PairingKey,
    PairingRow,
    TownshipRow,
    UnpairedRow,
    pairing_key,
)
from projections.roster.view import RosterView
from projections.roster.writer import RosterWriter
from projections.runner import PagedProjection
from projections.storage import Answer, open_view

RosterAnswer = Answer


class RosterProjection(PagedProjection[RosterWriter]):
    """Projects the people, pairings and visits of the log into :class:`RosterView` rows."""

    name = "roster"
    handlers = HANDLERS

    def __init__(self, view: RosterView) -> None:
        super().__init__(view)
        self.roster = view


def open_roster_view(url: str, name: str = RosterProjection.name) -> RosterView:
    """The roster view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    return open_view(url, name, RosterView)


def open_projection(url: str) -> RosterProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return RosterProjection(open_roster_view(url))


__all__ = [
    "ElderRow",
    "LoadRow",
    "OverdueRow",
    "PairingKey",
    "PairingRow",
    "RosterAnswer",
    "RosterProjection",
    "RosterView",
    "RosterWriter",
    "TownshipRow",
    "UnpairedRow",
    "open_projection",
    "open_roster_view",
    "pairing_key",
]
