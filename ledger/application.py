"""The ledger's application service: one method per write of the HTTP contract.

Each method gets what it needs, lets the aggregates decide, and saves every changed aggregate
in one atomic ``save``. A refused command raises a :mod:`ledger.errors` error before anything
is saved; a version clash with a racing command becomes :class:`ConflictError`; a store that
cannot be reached becomes :class:`StoreUnavailable`. Time and new ids are passed in (a clock
and an id factory), so the demo and the tests can replay a year deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ledger.audit_samples import AuditSample, Population, check_request
from ledger.budgets import Budget, budget_id, check_line
from ledger.certificates import (
    MAX_VISITS,
    Certificate,
    CertificateRegister,
    ServiceCandidates,
    ServiceFacts,
    ServiceRecord,
    check_issuer,
    code_from,
    register_id,
    service_facts,
)
from ledger.certificates import check_period as check_certificate_period
from ledger.claims import (
    MAX_ITEMS,
    Claim,
    ClaimedVisit,
    ClaimStatus,
    MonthlyAllowance,
    allowance_id,
    claimed_visit_id,
)
from ledger.common import SYSTEM, Provenance, county_date, first_day, parse_month
from ledger.counties import County, county_id
from ledger.counties import check_code as check_county_code
from ledger.elders import Elder, ElderCategory
from ledger.errors import InvalidInput, RuleViolation
from ledger.evaluations import Evaluation, EvaluationSlot, check_period, first_month, slot_id
from ledger.meetings import Meeting, MeetingRegister, check_attendees
from ledger.meetings import register_id as meeting_register_id
from ledger.notices import Candidate, Notice, NoticeBoard, board_id
from ledger.pairings import Caseload, Pairing, caseload_id
from ledger.policies import DEFAULT_EFFECTIVE_FROM, DEFAULT_PARAMETERS, EvaluationMethod, Policy, PolicyKind, policy_id
from ledger.privacy import PersonalDataRead
from ledger.store import LedgerBase, Loader, Reads, Written, command, store_errors_translated, utc_now
from ledger.subsidy import ClaimableVisit, price_claim
from ledger.visits import Visit, VisitStatus
from ledger.volunteers import Volunteer

COUNTY_SCAN_PAGE = 1000
"""How many ``County.Established`` events :meth:`Ledger.counties` reads from the log at a time."""


class Ledger(LedgerBase):
    """The write side of tiexin: one method per write of the HTTP contract.

    A command on one existing record takes ``expected_version``: the version its caller decided
    on (HTTP's ``If-Match``). It is checked where the command loads that record, so the save
    builds on exactly that version (VersionMismatch if it has moved on; a write landing in between
    still collides in the store, ConflictError).
    """

    snapshotting_intervals = {Budget: 100}  # noqa: RUF012 (the library's class setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counties: dict[str, County] = {}
        self._county_codes: set[str] = set()
        self._county_codes_read_to = 0
        self._county_codes_lock = threading.Lock()

    # Setting up ---------------------------------------------------------------------------

    @command
    def ensure_default_policies(self) -> None:
        """Adopt version 1 of each policy if the store has none yet (safe to race)."""
        for kind in PolicyKind:
            if self._find(Policy, policy_id(kind)) is None:
                policy = Policy.establish(kind, now=self._now(), meta=SYSTEM)
                policy.adopt(
                    version=1,
                    parameters=DEFAULT_PARAMETERS[kind],
                    effective_from=DEFAULT_EFFECTIVE_FROM,
                    now=self._now(),
                    meta=SYSTEM,
                )
                try:
                    self._save(policy)
                except IntegrityError:
                    continue  # another process adopted it first: same defaults

    @command
    def establish_county(self, code: str, name: str, townships: list[str], *, by: Provenance) -> Written:
        code = check_county_code(code)
        if self._find(County, county_id(code)) is not None:
            raise RuleViolation("county.exists", f"county {code!r} is already established")
        return self._save(County.establish(code, name, townships, now=self._now(), meta=by))

    def counties(self) -> list[County]:
        """Every county established, by code.

        Their codes are read from the log's ``County.Established`` events (the store filtering by
        topic), once per process and afterwards only past the position the last read reached: a
        county is never removed. Each county is then loaded once per process (:meth:`_county`).
        """
        with self._county_codes_lock, store_errors_translated("the event store"):
            head = self.recorder.max_notification_id() or 0
            topics = [get_topic(County.Established)]
            while self._county_codes_read_to < head:
                start = self._county_codes_read_to + 1
                page = self.recorder.select_notifications(start=start, limit=COUNTY_SCAN_PAGE, stop=head, topics=topics)
                established: list[County.Established] = [self.mapper.to_domain_event(n) for n in page]  # type: ignore[misc]
                self._county_codes.update(e.code for e in established)
                self._county_codes_read_to = page[-1].id if len(page) == COUNTY_SCAN_PAGE else head
            return [self._county(code) for code in sorted(self._county_codes)]

    def policy_in_force(self, kind: str, on: date) -> Any:
        return self._get(Policy, policy_id(kind), f"{kind} policy").in_force(on)

    @command
    def adopt_policy(
        self, kind: str, *, version: int, parameters: dict[str, int], effective_from: date, by: Provenance
    ) -> Written:
        policy = self._find(Policy, policy_id(kind)) or Policy.establish(kind, now=self._now(), meta=by)
        policy.adopt(version=version, parameters=parameters, effective_from=effective_from, now=self._now(), meta=by)
        return self._save(policy)

    def _county(self, code: str) -> County:
        """A county never changes once established, so each process loads it once."""
        county = self._counties.get(code)
        if county is None:
            county = self._counties[code] = self._get(County, county_id(code), "county")
        return county

    # Elders -------------------------------------------------------------------------------

    @command
    def register_elder(
        self,
        *,
        county: str,
        name: str,
        birth_date: date,
        sex: str,
        township: str,
        address: str,
        phone: str,
        notes: str = "",
        category: str = ElderCategory.RETIRED_CADRE,
        by: Provenance,
    ) -> Written:
        elder = Elder.register(
            self._county(county), name=name, birth_date=birth_date, sex=sex, township=township,
            address=address, phone=phone, notes=notes, category=category, now=self._now(), meta=by,
            id=self.new_id(),
        )  # fmt: skip
        return self._save(elder)

    @command
    def recategorise_elder(
        self, elder_id: UUID, *, category: str, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        elder = self._get(Elder, elder_id, "elder", expected_version=expected_version)
        elder.recategorise(category=category, reason=reason, now=self._now(), meta=by)
        return self._save(elder)

    @command
    def relocate_elder(
        self, elder_id: UUID, *, township: str, address: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        elder = self._get(Elder, elder_id, "elder", expected_version=expected_version)
        elder.relocate(self._county(elder.county), township=township, address=address, now=self._now(), meta=by)
        return self._save(elder)

    @command
    def record_departure(
        self, elder_id: UUID, *, kind: str, on: date, by: Provenance, expected_version: int | None = None
    ) -> Written:
        elder = self._get(Elder, elder_id, "elder", expected_version=expected_version)
        elder.depart(kind=kind, on=on, now=self._now(), meta=by)
        return self._save(elder)

    # Privacy ------------------------------------------------------------------------------

    @command
    def forget_elder(
        self, elder_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        """Destroy an elder's key, then record ``Forgotten`` (:mod:`ledger.privacy`)."""
        elder = self._get(Elder, elder_id, "elder", expected_version=expected_version)
        elder.forget(reason=reason, now=self._now(), meta=by)
        return self._forget_subject(elder)

    @command
    def forget_volunteer(
        self, volunteer_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        """Destroy a volunteer's key, then record ``Forgotten`` (:mod:`ledger.privacy`)."""
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", expected_version=expected_version)
        volunteer.forget(reason=reason, now=self._now(), meta=by)
        return self._forget_subject(volunteer)

    def _forget_subject(self, person: Elder | Volunteer) -> Written:
        """The key goes first: a crash in between leaves the person unreadable, and a retry records the event."""
        self.keyring.forget(person.id, self._now().isoformat())
        self._drop_cached_aggregates()  # the cached visits of this person hold their data in memory
        return self._save(person)

    def _drop_cached_aggregates(self) -> None:
        cache = self.repository.cache
        if isinstance(cache, LRUCache):
            with cache.lock:  # the library's clear() resets only its recency list, not the aggregates it holds
                cache.cache.clear()
                cache.clear()
                cache.full = False

    def is_forgotten(self, subject_id: UUID) -> bool:
        """Whether a person's key is destroyed (asked of the key table: another process may have forgotten them)."""
        return self.keyring.is_forgotten(subject_id, fresh=True)

    @command
    def record_personal_data_read(self, *, subject_kind: str, subject_id: UUID, reason: str, by: Provenance) -> Written:
        """Record that ``by`` read a person's personal data, and why (an auditor naming a record)."""
        read = PersonalDataRead.record(
            subject_kind=subject_kind, subject_id=subject_id, reason=reason, now=self._now(), meta=by, id=self.new_id()
        )
        return self._save(read)

    # Volunteers ---------------------------------------------------------------------------

    @command
    def recruit_volunteer(
        self, *, county: str, name: str, unit: str, profession: str, phone: str, township: str, by: Provenance
    ) -> Written:
        volunteer = Volunteer.recruit(
            self._county(county), name=name, unit=unit, profession=profession, phone=phone,
            township=township, now=self._now(), meta=by, id=self.new_id(),
        )  # fmt: skip
        return self._save(volunteer)

    @command
    def record_training(
        self,
        volunteer_id: UUID,
        *,
        course: str,
        hours: Decimal,
        on: date,
        by: Provenance,
        expected_version: int | None = None,
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", expected_version=expected_version)
        volunteer.complete_training(course=course, hours=hours, on=on, now=self._now(), meta=by)
        return self._save(volunteer)

    @command
    def suspend_volunteer(
        self, volunteer_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", expected_version=expected_version)
        volunteer.suspend(reason=reason, now=self._now(), meta=by)
        return self._save(volunteer)

    @command
    def reinstate_volunteer(
        self, volunteer_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", expected_version=expected_version)
        volunteer.reinstate(reason=reason, now=self._now(), meta=by)
        return self._save(volunteer)

    @command
    def retire_volunteer(
        self, volunteer_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", expected_version=expected_version)
        volunteer.retire(reason=reason, now=self._now(), meta=by)
        return self._save(volunteer)

    # Pairings -----------------------------------------------------------------------------

    @command
    def form_pairing(
        self, *, volunteer_id: UUID, elder_id: UUID, group: str, from_date: date, by: Provenance
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer")
        elder = self._get(Elder, elder_id, "elder")
        now = self._now()
        caseload = self._find(Caseload, caseload_id(volunteer.id)) or Caseload(
            volunteer_id=volunteer.id, timestamp=now, meta=by
        )
        cap = self.policy_in_force(PolicyKind.SCORING, county_date(now))["max_active_pairings"]
        pairing = Pairing.form(
            volunteer, elder, caseload, group=group, from_date=from_date, cap=cap, now=now, meta=by, id=self.new_id()
        )
        return self._save(pairing, caseload)

    @command
    def end_pairing(
        self, pairing_id: UUID, *, on: date, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        pairing = self._get(Pairing, pairing_id, "pairing", expected_version=expected_version)
        caseload = self._get(Caseload, caseload_id(pairing.volunteer_id), "caseload")
        pairing.end(caseload, on=on, reason=reason, now=self._now(), meta=by)
        return self._save(pairing, caseload)

    # Visits -------------------------------------------------------------------------------

    @command
    def record_visit(self, *, pairing_id: UUID, by: Provenance, **details: Any) -> Written:
        """Record a visit; ``details`` are the EVV fields of :func:`ledger.visits.normalise_details`.

        The pairing, the elder and the volunteer are only read: the visit is decided on them as
        the cache holds them, and written only if none has changed since (:meth:`_decided`).
        """
        taken: list[Any] = []  # the time and the new id, taken once even if the visit is decided twice

        def attempt(load: Loader, reads: Reads | None) -> Written:
            pairing = load(Pairing, pairing_id, "pairing")
            elder = load(Elder, pairing.elder_id, "elder")
            volunteer = load(Volunteer, pairing.volunteer_id, "volunteer")
            county = self._county(elder.county)
            if not taken:
                taken.extend((self._now(), self.new_id()))
            now, ident = taken
            visit = Visit.record(county, pairing, elder, volunteer, details, now=now, meta=by, id=ident)
            return self._save(visit, reads=reads)

        return self._decided(attempt)

    def _visit(self, visit_id: UUID, expected_version: int | None = None) -> Visit:
        return self._get(Visit, visit_id, "visit", expected_version=expected_version)

    @command
    def confirm_visit(
        self, visit_id: UUID, *, confirmed_by: str, method: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        visit.confirm(by=confirmed_by, method=method, now=self._now(), meta=by)
        return self._save(visit)

    @command
    def dispute_visit(
        self,
        visit_id: UUID,
        *,
        reason_code: str,
        comment: str = "",
        by: Provenance,
        expected_version: int | None = None,
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        visit.dispute(reason_code=reason_code, comment=comment, now=self._now(), meta=by)
        return self._save(visit)

    @command
    def give_feedback(
        self, visit_id: UUID, *, rating: int, comment: str = "", by: Provenance, expected_version: int | None = None
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        visit.give_feedback(rating=rating, comment=comment, now=self._now(), meta=by)
        return self._save(visit)

    def _holding_claim_status(self, visit_id: UUID) -> str | None:
        """The status of the live claim holding a visit, if any."""
        guard = self._find(ClaimedVisit, claimed_visit_id(visit_id))
        if guard is None or guard.claim_id is None:
            return None
        return self._get(Claim, guard.claim_id, "claim").status

    def _in_approved_claim(self, visit_id: UUID) -> bool:
        return self._holding_claim_status(visit_id) in (ClaimStatus.APPROVED, ClaimStatus.PAID)

    @command
    def confirm_visit_place(
        self, visit_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        """A coordinator confirms a visit took place where it says, not in the elder's registered township."""
        visit = self._visit(visit_id, expected_version)
        elder = self._get(Elder, visit.elder_id, "elder", read_only=True)
        visit.confirm_place(
            registered_township=elder.township_on(visit.day), reason=reason,
            in_pending_claim=self._holding_claim_status(visit.id) == ClaimStatus.SUBMITTED, now=self._now(), meta=by,
        )  # fmt: skip
        return self._save(visit)

    @command
    def unlock_visit(
        self, visit_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        in_claim = self._in_approved_claim(visit.id)
        visit.unlock(reason=reason, in_approved_claim=in_claim, now=self._now(), meta=by)
        return self._save(visit)

    @command
    def amend_visit(
        self,
        visit_id: UUID,
        *,
        changes: dict[str, Any],
        reason_code: str,
        by: Provenance,
        expected_version: int | None = None,
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        pairing = self._get(Pairing, visit.pairing_id, "pairing")
        elder = self._get(Elder, visit.elder_id, "elder")
        claim_status = self._holding_claim_status(visit.id)
        visit.amend(
            self._county(elder.county), pairing, elder, changes=changes, reason_code=reason_code,
            in_approved_claim=claim_status in (ClaimStatus.APPROVED, ClaimStatus.PAID),
            in_pending_claim=claim_status == ClaimStatus.SUBMITTED,
            now=self._now(), meta=by,
        )  # fmt: skip
        return self._save(visit)

    @command
    def void_visit(
        self, visit_id: UUID, *, reason_code: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        visit = self._visit(visit_id, expected_version)
        in_claim = self._in_approved_claim(visit.id)
        visit.void(reason_code=reason_code, in_approved_claim=in_claim, now=self._now(), meta=by)
        return self._save(visit)

    # Evaluations --------------------------------------------------------------------------

    @command
    def submit_evaluation(
        self, *, volunteer_id: UUID, period: str, criteria: dict[str, int], comment: str = "", by: Provenance
    ) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer")
        now = self._now()
        key = (volunteer.id, check_period(period), by.principal_id)
        method = EvaluationMethod.of(self.policy_in_force(PolicyKind.SCORING, first_day(first_month(period))))
        slot = self._find(EvaluationSlot, slot_id(*key)) or EvaluationSlot(
            volunteer_id=key[0], period=key[1], evaluator_id=key[2], timestamp=now, meta=by
        )
        evaluation = Evaluation.submit(
            volunteer, slot, period=period, criteria=criteria, comment=comment, now=now, meta=by, id=self.new_id(),
            method=method,
        )  # fmt: skip
        return self._save(evaluation, slot)

    @command
    def withdraw_evaluation(
        self, evaluation_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        evaluation = self._get(Evaluation, evaluation_id, "evaluation", expected_version=expected_version)
        key = slot_id(evaluation.volunteer_id, evaluation.period, evaluation.evaluator_id)
        slot = self._get(EvaluationSlot, key, "evaluation slot")
        evaluation.withdraw(slot, reason=reason, now=self._now(), meta=by)
        return self._save(evaluation, slot)

    # Certificates -------------------------------------------------------------------------

    @command
    def issue_certificate(
        self,
        volunteer_id: UUID,
        *,
        date_from: date,
        date_to: date,
        candidates: Callable[[UUID, date, date], ServiceCandidates],
        by: Provenance,
    ) -> Written:
        """Issue a service-record certificate of a period (:mod:`ledger.certificates`).

        ``candidates(volunteer, from, to)`` names the visits that may count (a read model's index of
        the volunteer's visits, with the position it reflects); it is called only once the request is
        found sound, and each visit it names is checked here, as the ledger has it now.
        """
        now = self._now()
        check_certificate_period(date_from, date_to, county_date(now))
        check_issuer(by)
        volunteer = self._get(Volunteer, volunteer_id, "volunteer", read_only=True)
        county = self._county(volunteer.county)
        found = candidates(volunteer.id, date_from, date_to)
        facts = self.service_facts(volunteer.id, date_from, date_to, found.visit_ids)
        certificate = Certificate.issue(
            volunteer, county, facts, position=found.position, code=code_from(self.new_id().bytes), now=now, meta=by
        )
        register = self._find(CertificateRegister, register_id(volunteer.id)) or CertificateRegister(
            volunteer_id=volunteer.id, timestamp=now, meta=by
        )
        register.enter(certificate, now=now, meta=by)
        return self._save(certificate, register)

    def service_facts(
        self, volunteer_id: UUID, date_from: date, date_to: date, visit_ids: tuple[UUID, ...] | list[UUID]
    ) -> ServiceFacts:
        """A volunteer's verified service in a period now, from those of ``visit_ids`` that count (as loaded now)."""
        wanted = list(dict.fromkeys(visit_ids))
        if len(wanted) > MAX_VISITS:
            raise RuleViolation(
                "certificate.too_many_visits",
                f"the period holds more than {MAX_VISITS} visits of the volunteer; certify shorter periods",
            )
        visits = [v for v in (self._find(Visit, i, read_only=True) for i in wanted) if v is not None]
        records = [ServiceRecord(v.id, v.volunteer_id, v.kind, v.started_at, v.ended_at, v.status) for v in visits]
        return service_facts(volunteer_id, date_from, date_to, records)

    # Notices and meetings ------------------------------------------------------------------

    @command
    def publish_notice(
        self,
        *,
        county: str,
        title: str,
        body: str,
        townships: list[str],
        profession: str | None = None,
        candidates: Callable[[str], Iterable[UUID]],
        by: Provenance,
    ) -> Written:
        """Publish a notice to the active volunteers of a county (:mod:`ledger.notices`).

        ``candidates(county)`` names the county's volunteers (a read model's list of them); it is
        called only once the request is found sound, and each volunteer it names is loaded and
        checked here, as the ledger has it now, to decide whom the notice addresses.
        """
        found = self._county(county)
        now = self._now()
        board = self._find(NoticeBoard, board_id(found.code)) or NoticeBoard(county=found.code, timestamp=now, meta=by)

        def named() -> Iterator[Candidate]:  # asked only when iterated: once the request is found sound
            yield from self.notice_candidates(found.code, candidates(found.code))

        notice = Notice.publish(
            found, board, title=title, body=body, townships=townships, profession=profession,
            candidates=named(), now=now, meta=by, id=self.new_id(),
        )  # fmt: skip
        return self._save(notice, board)

    def notice_candidates(self, county: str, volunteer_ids: Iterable[UUID]) -> list[Candidate]:
        """The named volunteers as :class:`~ledger.notices.Candidate` (those the ledger does not have are left out)."""
        out = []
        for ident in dict.fromkeys(volunteer_ids):
            volunteer = self._find(Volunteer, ident, read_only=True)
            if volunteer is not None and volunteer.county == county:
                out.append(
                    Candidate(volunteer.id, volunteer.county, volunteer.township, volunteer.profession,
                              volunteer.status, volunteer.forgotten)
                )  # fmt: skip
        return out

    @command
    def mark_notice_read(
        self, notice_id: UUID, *, volunteer_id: UUID, by: Provenance, expected_version: int | None = None
    ) -> Written:
        """The volunteer read the notice; read before, nothing is written and the answer is the log's head."""
        notice = self._get(Notice, notice_id, "notice", expected_version=expected_version)
        if notice.mark_read(volunteer_id, now=self._now(), meta=by):
            return self._save(notice)
        head = None if self._in_batch() else (self.recorder.max_notification_id() or 0)
        return Written(notice.id, notice.version, head)

    @command
    def record_meeting(
        self, *, county: str, held_on: date, place: str, topic: str, attendees: list[UUID], by: Provenance
    ) -> Written:
        """Record a volunteer meeting (:mod:`ledger.meetings`); every attendee a volunteer of the county."""
        found = self._county(county)
        now = self._now()
        register = self._find(MeetingRegister, meeting_register_id(found.code)) or MeetingRegister(
            county=found.code, timestamp=now, meta=by
        )
        for volunteer_id in check_attendees(attendees):
            volunteer = self._get(Volunteer, volunteer_id, "volunteer", read_only=True)
            if volunteer.county != found.code:
                raise RuleViolation(
                    "meeting.other_county", f"volunteer {volunteer.id} is of {volunteer.county}, not {found.code}"
                )
        meeting = Meeting.record(
            register, held_on=held_on, place=place, topic=topic, attendees=attendees, now=now, meta=by,
            id=self.new_id(),
        )  # fmt: skip
        return self._save(meeting, register)

    @command
    def raise_suggestion(
        self, meeting_id: UUID, *, text: str, raised_by: UUID, by: Provenance, expected_version: int | None = None
    ) -> Written:
        """Record a suggestion an attendee raised at a meeting; it is numbered in the meeting (1, 2, …)."""
        meeting = self._get(Meeting, meeting_id, "meeting", expected_version=expected_version)
        meeting.raise_suggestion(text=text, raised_by=raised_by, now=self._now(), meta=by)
        return self._save(meeting)

    @command
    def answer_suggestion(
        self,
        meeting_id: UUID,
        n: int,
        *,
        text: str,
        status: str,
        by: Provenance,
        expected_version: int | None = None,
    ) -> Written:
        """Answer a meeting's open suggestion ``n``, once: adopted, declined or noted."""
        meeting = self._get(Meeting, meeting_id, "meeting", expected_version=expected_version)
        meeting.answer(n, text=text, status=status, now=self._now(), meta=by)
        return self._save(meeting)

    # Budgets ------------------------------------------------------------------------------

    @command
    def appropriate_budget(self, *, county: str, year: int, lines: dict[str, int], by: Provenance) -> Written:
        self._county(county)
        if self._find(Budget, budget_id(county, year)) is not None:
            raise RuleViolation("budget.exists", f"the {year} budget of {county} is already appropriated; adjust it")
        return self._save(Budget.appropriate(county, year, lines, now=self._now(), meta=by))

    @command
    def adjust_budget(
        self,
        *,
        county: str,
        year: int,
        line: str,
        delta: int,
        reason: str,
        by: Provenance,
        expected_version: int | None = None,
    ) -> Written:
        budget = self._get(
            Budget, budget_id(county, year), f"{year} budget of {county}", expected_version=expected_version
        )
        budget.adjust(line=check_line(line), delta=delta, reason=reason, now=self._now(), meta=by)
        return self._save(budget)

    # Audit samples ------------------------------------------------------------------------

    @command
    def draw_audit_sample(
        self,
        *,
        county: str,
        year: int,
        size: int,
        seed: int,
        stratify_by: str | None,
        population: Callable[[str, int], Population],
        by: Provenance,
    ) -> Written:
        """Draw claims of a budget year for an audit (:mod:`ledger.audit_samples`).

        ``population(county, year)`` reads the year's approved and paid claims from the log, with
        the position it read up to; it is called only once the request is found sound.
        """
        check_request(year, size, seed, stratify_by)
        self._county(county)
        self._get(Budget, budget_id(county, year), f"{year} budget of {county}", read_only=True)
        sample = AuditSample.draw(
            county=county, year=year, size=size, seed=seed, stratify_by=stratify_by,
            population=population(county, year), now=self._now(), meta=by, id=self.new_id(),
        )  # fmt: skip
        return self._save(sample)

    # Claims -------------------------------------------------------------------------------

    @command
    def submit_claim(self, *, volunteer_id: UUID, month: str, visit_ids: list[UUID], by: Provenance) -> Written:
        volunteer = self._get(Volunteer, volunteer_id, "volunteer")
        volunteer.check_active("claim")
        now = self._now()
        check_claim_month(month, county_date(now))
        visits = [self._claimable_visit(v, volunteer.id, month) for v in check_visit_ids(visit_ids)]
        guards = [self._find(ClaimedVisit, claimed_visit_id(v.id)) for v in visits]
        for guard in guards:
            if guard is not None:
                guard.check_free()
        allowance = self._find(MonthlyAllowance, allowance_id(volunteer.id, month)) or MonthlyAllowance(
            volunteer_id=volunteer.id, month=month, timestamp=now, meta=by
        )
        policy = self.policy_in_force(PolicyKind.SUBSIDY, first_day(month))
        priced = price_claim(
            [self._claimable(v) for v in visits],
            volunteer.township,
            policy.parameters,
            transport_already_fen=allowance.transport_fen,
            communication_already_paid=allowance.communication_paid,
        )
        claim = Claim.submit(
            volunteer_id=volunteer.id, county=volunteer.county, month=month, priced=priced,
            policy_version=policy.version, now=now, meta=by, id=self.new_id(),
        )  # fmt: skip
        allowance.draw(claim.id, priced.transport_fen, priced.communication_fen, timestamp=now, meta=by)
        held = [self._hold(guard, visit.id, claim.id, now, by) for guard, visit in zip(guards, visits, strict=True)]
        return self._save(claim, allowance, *held)

    def _claimable(self, visit: Visit) -> ClaimableVisit:
        """What pricing needs of a visit, with its elder's registered township on the visit's day."""
        elder = self._get(Elder, visit.elder_id, "elder", read_only=True)
        return ClaimableVisit(
            visit_id=visit.id, is_home_visit=visit.is_home_visit, recorded_township=visit.township,
            elder_township=elder.township_on(visit.day), started_at=visit.started_at,
            place_confirmed=visit.place_confirmed,
        )  # fmt: skip

    def _claimable_visit(self, visit_id: UUID, volunteer_id: UUID, month: str) -> Visit:
        visit = self._visit(visit_id)
        if visit.volunteer_id != volunteer_id:
            raise RuleViolation("claim.other_volunteer", f"visit {visit.id} was given by another volunteer")
        if visit.month != month:
            raise RuleViolation("claim.other_month", f"visit {visit.id} belongs to {visit.month}, not {month}")
        if visit.status != VisitStatus.CONFIRMED:
            raise RuleViolation(
                "claim.visit_not_confirmed", f"visit {visit.id} is {visit.status}; only confirmed visits are claimed"
            )
        return visit

    @staticmethod
    def _hold(
        guard: ClaimedVisit | None, visit_id: UUID, claim_id: UUID, now: datetime, by: Provenance
    ) -> ClaimedVisit:
        if guard is None:
            return ClaimedVisit(visit_id=visit_id, claim_id=claim_id, timestamp=now, meta=by)
        guard.reclaim(claim_id=claim_id, timestamp=now, meta=by)
        return guard

    def _claim(self, claim_id: UUID, expected_version: int | None = None) -> Claim:
        return self._get(Claim, claim_id, "claim", expected_version=expected_version)

    @command
    def approve_claim(self, claim_id: UUID, *, by: Provenance, expected_version: int | None = None) -> Written:
        claim = self._claim(claim_id, expected_version)
        year, _ = parse_month("month", claim.month)
        budget = self._get(Budget, budget_id(claim.county, year), f"{year} budget of {claim.county}")
        now = self._now()
        claim.check_status("approve", ClaimStatus.SUBMITTED)
        claim.check_not_submitter(by, "approve")
        for visit_id in claim.visit_ids:  # still true since submission? (a visit may have been disputed)
            self._claimable_visit(visit_id, claim.volunteer_id, claim.month)
        budget.commit(claim.id, claim.amounts_by_line, now=now, meta=by)
        claim.approve(now=now, meta=by)
        return self._save(claim, budget)

    @command
    def reject_claim(
        self, claim_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        claim = self._claim(claim_id, expected_version)
        claim.reject(reason=reason, now=self._now(), meta=by)
        return self._save(claim, *self._give_back(claim, "rejected", by))

    @command
    def pay_claim(
        self, claim_id: UUID, *, reference: str, paid_on: date, by: Provenance, expected_version: int | None = None
    ) -> Written:
        claim = self._claim(claim_id, expected_version)
        claim.pay(reference=reference, paid_on=paid_on, now=self._now(), meta=by)
        return self._save(claim)

    @command
    def reverse_claim(
        self, claim_id: UUID, *, reason: str, by: Provenance, expected_version: int | None = None
    ) -> Written:
        claim = self._claim(claim_id, expected_version)
        year, _ = parse_month("month", claim.month)
        budget = self._get(Budget, budget_id(claim.county, year), f"{year} budget of {claim.county}")
        claim.reverse(reason=reason, now=self._now(), meta=by)
        budget.release(claim.id, now=self._now(), meta=by)
        return self._save(claim, budget, *self._give_back(claim, "reversed", by))

    def _give_back(self, claim: Claim, reason: str, by: Provenance) -> list[Aggregate]:
        """Free a dead claim's visits and its draw on the month's allowance."""
        now = self._now()
        allowance = self._get(MonthlyAllowance, allowance_id(claim.volunteer_id, claim.month), "allowance")
        allowance.restore(claim_id=claim.id, timestamp=now, meta=by)
        changed: list[Aggregate] = [allowance]
        for visit_id in claim.visit_ids:
            guard = self._get(ClaimedVisit, claimed_visit_id(visit_id), "claimed visit")
            guard.release(claim_id=claim.id, reason=reason, timestamp=now, meta=by)
            changed.append(guard)
        return changed


def check_claim_month(month: str, today: date) -> None:
    parse_month("month", month)
    if first_day(month) > today:
        raise InvalidInput("month", f"{month} has not begun")


def check_visit_ids(visit_ids: list[UUID]) -> list[UUID]:
    if not isinstance(visit_ids, list) or not visit_ids:
        raise InvalidInput("visit_ids", "a claim lists at least one visit")
    if len(visit_ids) > MAX_ITEMS:
        raise InvalidInput("visit_ids", f"a claim lists at most {MAX_ITEMS} visits")
    if len(set(visit_ids)) != len(visit_ids):
        raise InvalidInput("visit_ids", "a claim lists each visit once")
    return visit_ids


__all__ = ["Ledger", "Written", "store_errors_translated", "utc_now"]
