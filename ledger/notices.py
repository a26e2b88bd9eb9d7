"""Notices to volunteers (通知): the programme's platform for information exchange, one way.

A coordinator publishes a notice (a title and a body) to the active volunteers of a county: all of
them, those of one or more townships, and optionally only those of one profession (the volunteer's
specialty, :class:`ledger.volunteers.Profession`). Who it addresses is decided **at publication** and
recorded in ``Published``: a volunteer recruited later, or moved to the township later, is not
addressed by it. A volunteer marks a notice read once (``Read``); marking it again records nothing.
So the coordinator sees, of those it addressed, who has read it and who has not.

Listing the notices of a county needs their ids: each county has a :class:`NoticeBoard` (id from the
county) that enters every notice published there, saved with the notice in one atomic save.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_choice, require_text, stable_id
from ledger.counties import County
from ledger.errors import InvalidInput, RuleViolation
from ledger.volunteers import Profession, VolunteerStatus

MAX_TITLE = 120
MAX_BODY = 5000
MAX_ADDRESSEES = 20_000
"""More than any county's volunteers (Lianshui has about 60): a notice's ``Published`` stays small."""


@dataclass(frozen=True)
class Candidate:
    """What choosing a notice's addressees needs of a volunteer (as the ledger has them now)."""

    volunteer_id: UUID
    county: str
    township: str
    profession: str
    status: str
    forgotten: bool = False


def check_audience(county: County, townships: Iterable[str], profession: str | None) -> tuple[list[str], str | None]:
    """The townships (each of the county, each once; none: the whole county) and the profession (None: any)."""
    if isinstance(townships, str) or not isinstance(townships, list | tuple):
        raise InvalidInput("townships", "must be a list of township names (empty: the whole county)")
    chosen = [county.check_township(t, "townships") for t in townships]
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("townships", "names each township once")
    if profession is not None:
        profession = require_choice("profession", profession, Profession)
    return chosen, profession


def addressees(
    candidates: Iterable[Candidate], *, county: str, townships: list[str], profession: str | None
) -> list[UUID]:
    """The active volunteers of the county in the townships (any, if none) of the profession (any, if None).

    A suspended or retired volunteer is not serving and is not addressed; nor is a forgotten one.
    In the order of their ids, each once.
    """
    found = {
        c.volunteer_id
        for c in candidates
        if c.county == county
        and c.status == VolunteerStatus.ACTIVE
        and not c.forgotten
        and (not townships or c.township in townships)
        and (profession is None or c.profession == profession)
    }
    return sorted(found, key=str)


def board_id(county: str) -> UUID:
    return stable_id("notice_board", county)


class NoticeBoard(Aggregate):
    """The notices published in one county, in the order published (their ids only)."""

    TOPIC = "tiexin.notice_board"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.notice_board.Created"

    @staticmethod
    def create_id(county: str) -> UUID:
        return board_id(county)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.notice_board.Opened"
        county: str
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(self, county: str, timestamp: datetime, meta: Provenance) -> None:
        self.county = county
        self.notice_ids: list[UUID] = []

    class Posted(Aggregate.Event):
        TOPIC = "tiexin.notice_board.Posted"
        notice_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Posted)
    def post(self, notice_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.notice_ids.append(notice_id)


class Notice(Aggregate):
    TOPIC = "tiexin.notice"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.notice.Created"

    @classmethod
    def publish(
        cls,
        county: County,
        board: NoticeBoard,
        *,
        title: str,
        body: str,
        townships: list[str],
        profession: str | None,
        candidates: Iterable[Candidate],
        now: datetime,
        meta: Provenance,
        id: UUID,
    ) -> Notice:
        """Publish to the volunteers the audience names now; refused if it names none (``notice.no_addressees``)."""
        title = require_text("title", title, max_length=MAX_TITLE)
        body = require_text("body", body, max_length=MAX_BODY)
        townships, profession = check_audience(county, townships, profession)
        if board.county != county.code:
            raise ValueError("the board of another county")  # a programming error, never a request's
        chosen = addressees(candidates, county=county.code, townships=townships, profession=profession)
        if not chosen:
            raise RuleViolation(
                "notice.no_addressees", "no active volunteer of the county is in the audience: nobody would read it"
            )
        if len(chosen) > MAX_ADDRESSEES:
            raise InvalidInput("townships", f"a notice addresses at most {MAX_ADDRESSEES} volunteers")
        notice = cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            county=county.code,
            title=title,
            body=body,
            townships=townships,
            profession=profession,
            addressees=chosen,
            timestamp=now,
            meta=meta,
        )
        board.post(notice_id=notice.id, timestamp=now, meta=meta)
        return notice

    class Published(Aggregate.Created):
        TOPIC = "tiexin.notice.Published"
        county: str
        title: str
        body: str
        townships: list[str]
        profession: str | None
        addressees: list[UUID]
        timestamp: datetime
        meta: Provenance

    @event(Published)
    def __init__(
        self,
        county: str,
        title: str,
        body: str,
        townships: list[str],
        profession: str | None,
        addressees: list[UUID],
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.county = county
        self.title = title
        self.body = body
        self.townships = list(townships)
        self.profession = profession
        self.addressees = [a if isinstance(a, UUID) else UUID(str(a)) for a in addressees]
        self.published_at = timestamp
        self.published_by = meta.principal_id
        self.read_at: dict[UUID, datetime] = {}

    def addresses(self, volunteer_id: UUID) -> bool:
        return volunteer_id in self.addressees

    def mark_read(self, volunteer_id: UUID, *, now: datetime, meta: Provenance) -> bool:
        """Record that the volunteer read it; False (nothing recorded) if they had already."""
        if not self.addresses(volunteer_id):
            raise RuleViolation(
                "notice.not_addressed", f"notice {self.id} is not addressed to volunteer {volunteer_id}"
            )
        if volunteer_id in self.read_at:
            return False
        self._read(volunteer_id=volunteer_id, timestamp=now, meta=meta)
        return True

    class Read(Aggregate.Event):
        TOPIC = "tiexin.notice.Read"
        volunteer_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Read)
    def _read(self, volunteer_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.read_at[volunteer_id] = timestamp

    @property
    def not_read_by(self) -> list[UUID]:
        """The addressees who have not read it, in the order addressed."""
        return [a for a in self.addressees if a not in self.read_at]
