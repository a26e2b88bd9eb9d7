"""The demo county: a deterministic year of the programme, written through the ledger's commands.

``run_demo(url, seed=1, scale=1)`` builds ``scale`` counties (the first is the home county, 涟水县,
the others ``county-002`` / 示范县002 … with the same townships) into an empty store and
answers a :class:`DemoSummary`. Everything is drawn from the seed: the same seed writes the
same events, with the same ids, in the same order, on SQLite and on PostgreSQL. Time is a
clock the demo moves; the wall clock is read only to measure how long the build took and, with
``until``, so as never to record the future.

The year is written below as 2025. ``run_demo(…, until=DAY)`` (what ``tiexin demo`` asks, with
today by default) moves every date by whole months so that the twelfth month is ``DAY``'s and ends
on it (:class:`tiexin.demo.year.DemoYear`): that month's visits fall on the days before ``DAY``
(fewer of them, but one for every elder, so no elder is overdue for a contact), the previous
month's claims are submitted from its 3rd and a third of them still await approval, a budget is
appropriated for each calendar year the months touch, and nothing later than ``DAY`` (or than
the moment of the build) is recorded. ``until=None`` writes the 2025 year exactly as below.

One county's year (dates are the county's, Asia/Shanghai):

- October 2024: the county is established, 429 elders registered, 60 volunteers recruited
  (see :mod:`tiexin.demo.people`) and, at the launch ceremony on 26 October, every elder is
  paired with a volunteer of its township's team. In December the 2025 budget is appropriated,
  generously: no claim is ever refused for want of money.
- 2025: each elder gets one to three contacts a month (usually two, at least one at home) from
  its volunteer, who never has two at once. Each is recorded minutes after it ends; 93% are
  confirmed within two days, about a third of those get feedback, the rest are left
  unconfirmed or (0.5%) disputed, and so are never claimed. Volunteers take one to three
  training courses; two or three evaluators score every volunteer each quarter.
- Early each month every volunteer claims the previous month's confirmed visits; one finance
  officer approves, another pays. December's claims are paid in January 2026.

Normal data breaks none of the audit's anomaly rules (A01–A11). The first county alone gets a
fixed set of planted irregularities (see :data:`PLANTS`), one per code the write side lets
through and two for A06, listed with their ids in ``DemoSummary.irregularities``; the other
counties are clean. The A11 plant changes only the township typed on one visit that is claimed
in the normal course (priced where the elder is registered, so every amount stays as it was).
A02, A07 and A09 cannot be written: the demo tries each once at the end and
``DemoSummary.not_plantable`` gives the refusal (a refused command writes nothing).

The demo builds only into an empty store (the home county alone, bare, is fine). Asked again on
a store that holds the demo county it built before, it writes nothing and raises
:class:`DemoExists`, which says what is there (``tiexin demo`` then keeps it and makes new keys);
a store whose home county holds records the demo did not write is refused (``demo.exists``).
The demo's records are told by their author: its elders are registered by its own coordinators
(``lianshui-coordinator-N``), a principal no API key has (a key's principal is its ``key_…`` id).

Each county-month runs as one ``Ledger.batch()`` (one transaction): the demo plans a month's
visits and claims in memory when the month begins and keeps only the actions still to run.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import count
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.application import Ledger
from ledger.bootstrap import ensure_home_county, open_ledger
from ledger.budgets import COMMUNICATION, TRANSPORT
from ledger.common import COUNTY_TZ, SYSTEM, Provenance, county_date, first_day, last_day
from ledger.counties import LIANSHUI, LIANSHUI_NAME, LIANSHUI_TOWNSHIPS, county_id
from ledger.elders import Elder
from ledger.errors import InvalidInput, RuleViolation
from ledger.events import topic_of
from ledger.visits import DAILY_LIVING, EMOTIONAL, MEDICAL, PHONE_CALL
from ledger.volunteers import Volunteer
from tiexin.demo import people
from tiexin.demo.year import BASE_LAST_DAY, BASE_YEAR, DemoYear

FIRST_DAY = date(2024, 10, 8)
LAUNCH = date(2024, 10, 26)
BUDGET_DAY = date(2024, 12, 20)
RECRUITING = date(2024, 10, 21)
YEAR = BASE_YEAR
LAST_DAY = BASE_LAST_DAY
BUDGET_LINES = {TRANSPORT: 18_000_000, COMMUNICATION: 2_700_000}
"""Fen: ¥180,000 and ¥27,000, above the most the policy lets 60 volunteers claim in a year."""
PAGE = 5000
DURATIONS = {MEDICAL: (30, 90), EMOTIONAL: (30, 120), DAILY_LIVING: (45, 180), PHONE_CALL: (15, 40)}
"""Minutes: every normal contact lasts from a quarter of an hour to three hours."""
FIRST_KINDS = (MEDICAL, MEDICAL, EMOTIONAL, DAILY_LIVING)
LATER_KINDS = (PHONE_CALL, PHONE_CALL, MEDICAL, EMOTIONAL, DAILY_LIVING)
CONTACTS_A_MONTH = (1,) + (2,) * 20 + (3,) * 4
PLANTS = {
    "2025-03": "A08", "2025-04": "A06-short", "2025-05": "A05", "2025-06": "A01",
    "2025-07": "A10", "2025-08": "A04", "2025-09": "A03", "2025-10": "A06-long", "2025-11": "A11",
}  # fmt: skip
"""The month whose visits (or claims) each irregularity of the first county is planted in (of the
2025 year: a year ending on another day moves them by whole months, see :class:`DemoYear`)."""
NOT_PLANTABLE = {
    "A02": "a visit is claimed at most once: its claimed-visit guard has a deterministic id, so a "
    "second claim of it is refused (claim.visit_already_claimed)",
    "A07": "maker-checker: the submitter of a claim cannot approve (or pay) it (claim.maker_checker)",
    "A09": "an approval commits budget only if the line has it available (budget.overdrawn), and no "
    "adjustment may take a line below what is committed (budget.below_committed)",
}


@dataclass(frozen=True)
class Irregularity:
    code: str
    entity_ids: tuple[UUID, ...]
    description: str


@dataclass(frozen=True)
class DemoSummary:
    counties: int
    events_by_type: dict[str, int]
    total_events: int
    seconds: float
    irregularities: tuple[Irregularity, ...]
    not_plantable: dict[str, str]
    volunteer_id: UUID
    """The home county's first volunteer: the one the demo's volunteer key is made for."""
    months: tuple[str, str] = ("2025-01", "2025-12")
    """The first and the last of the demo's twelve months of visits."""
    until: date | None = None
    """The day the demo ends (None: the 2025 year, run on to the end of January 2026)."""

    @property
    def events_per_second(self) -> float:
        return self.total_events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ExistingDemo:
    """The demo county a store already holds, as an earlier ``tiexin demo`` built it."""

    county: str
    name: str
    counties: int
    total_events: int
    volunteer_id: UUID
    """The home county's first volunteer (the same one a new build's summary names)."""


class DemoExists(RuleViolation):
    """The store already holds the demo it would build (rule ``demo.exists``); nothing was written."""

    def __init__(self, demo: ExistingDemo) -> None:
        super().__init__(
            "demo.exists",
            f"the store already holds county {demo.county!r} ({demo.name}), built by the demo, with "
            f"{demo.total_events:,} events; the demo builds only into an empty store",
        )
        self.demo = demo


class DemoClock:
    """The ledger's clock: the demo sets it before each command."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SeededIds:
    """New ids from one seeded generator per county (the first county's is ``Random(seed)``)."""

    def __init__(self, generators: list[random.Random]) -> None:
        self.generators = generators
        self.current = 0

    def __call__(self) -> UUID:
        return UUID(int=self.generators[self.current].getrandbits(128), version=4)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of the county's day, in UTC (minutes may run past the hour)."""
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=COUNTY_TZ) + timedelta(minutes=minute)
    return moment.astimezone(UTC)


def known(ident: UUID | None) -> UUID:
    if ident is None:
        raise RuntimeError("the demo used an id before the command that makes it ran")
    return ident


@dataclass(order=True)
class Action:
    at: datetime
    seq: int
    run: Callable[[Ledger], object] = field(compare=False)


@dataclass(eq=False)
class VisitPlan:
    elder: int
    volunteer: int
    details: dict[str, Any]
    recorded: datetime
    confirm: tuple[datetime, str, str] | None = None
    feedback: tuple[datetime, int, str] | None = None
    dispute: tuple[datetime, str, str] | None = None
    planted: bool = False
    id: UUID | None = None

    @property
    def day(self) -> date:
        return county_date(self.details["started_at"])

    def plant(self) -> VisitPlan:
        """Take the visit out of the normal course: never confirmed, never claimed."""
        self.planted, self.confirm, self.feedback, self.dispute = True, None, None, None
        return self


@dataclass(eq=False)
class ClaimPlan:
    volunteer: int
    month: str
    visits: list[VisitPlan]
    submit: datetime
    approve: tuple[datetime, Provenance] | None
    pay: datetime | None
    reference: str = ""
    id: UUID | None = None


Visits = dict[int, list[VisitPlan]]
"""A month's visits, by volunteer."""


class CountyBuild:
    """One county: its people (planned at once), its months (planned as they begin), its actions."""

    def __init__(self, index: int, seed: int, year: DemoYear | None = None) -> None:
        self.year = year if year is not None else DemoYear.of(None)
        self.launch = self.year.day(LAUNCH)
        self.code = LIANSHUI if index == 0 else f"county-{index + 1:03d}"
        self.name = LIANSHUI_NAME if index == 0 else f"示范县{index + 1:03d}"
        self.prefix = "LSCZ" if index == 0 else self.code.upper().replace("-", "")
        self.townships = list(LIANSHUI_TOWNSHIPS)
        self.rng = random.Random(f"{seed}/{self.code}/plan")
        self.ids = random.Random(seed) if index == 0 else random.Random(f"{seed}/{self.code}/ids")
        self.elders = people.make_elders(self.rng, self.townships, self.launch)
        self.volunteers = people.make_volunteers(
            self.rng, self.name, self.townships, people.team_sizes(self.elders, self.townships)
        )
        self.serving = people.pair_up(self.rng, self.elders, self.volunteers)
        self.departed: set[int] = set()
        self.gifted: set[int] = set()
        self.elder_ids: list[UUID | None] = [None] * len(self.elders)
        self.volunteer_ids: list[UUID | None] = [None] * len(self.volunteers)
        self.pairing_ids: dict[tuple[int, int], UUID] = {}
        self.claims: dict[tuple[int, str], ClaimPlan] = {}
        self.bucket: dict[date, list[Action]] = defaultdict(list)
        self.seq = count()
        self.planned: set[str] = set()
        self.irregularities: list[Irregularity] = []
        self.coordinators = [Provenance(principal, "coordinator") for principal in self.coordinator_ids(self.code)]
        self.evaluators = [Provenance(f"{self.code}-evaluator-{n}", "evaluator") for n in (1, 2, 3)]
        self.approvers = [Provenance(f"{self.code}-finance-approver-{n}", "finance") for n in (1, 2)]
        self.cashier = Provenance(f"{self.code}-finance-cashier", "finance")
        self.budget_officer = Provenance(f"{self.code}-finance-budget", "finance")
        self.cast = self.choose_cast() if index == 0 else {}
        self.plants = {self.year.month(month): plant for month, plant in PLANTS.items()} if self.cast else {}
        self.voided: VisitPlan | None = None
        self.schedule_setup()

    @staticmethod
    def coordinator_ids(code: str) -> tuple[str, ...]:
        """The principals of a demo county's three coordinators (no API key has such a principal)."""
        return tuple(f"{code}-coordinator-{n}" for n in (1, 2, 3))

    def add(self, at: datetime, run: Callable[..., object], *args: Any) -> None:
        """Schedule an action at a moment (none after the demo's end: it has not happened yet)."""
        if not self.year.records(at):
            return
        self.bucket[county_date(at)].append(Action(at, next(self.seq), partial(run, *args)))

    def run_days(self, ledger: Ledger, clock: DemoClock, days: list[date], tick: Callable[[], None]) -> None:
        """Run the actions of some days, in the order of their moments, as one batch."""
        with ledger.batch():
            for day in days:
                if f"{day:%Y-%m}" in self.year.months and f"{day:%Y-%m}" not in self.planned:
                    self.plan_month(f"{day:%Y-%m}")
                for action in sorted(self.bucket.pop(day, [])):
                    clock.now = action.at
                    action.run(ledger)
                tick()

    def coordinator(self, elder: int) -> Provenance:
        return self.coordinators[self.townships.index(self.elders[elder].township) % 3]

    def as_volunteer(self, volunteer: int) -> Provenance:
        return Provenance(principal_id=str(known(self.volunteer_ids[volunteer])), role="volunteer")

    def elders_of(self, volunteer: int) -> list[int]:
        return [e for e, v in enumerate(self.serving) if v == volunteer and e not in self.departed]

    # Setting up: county, people, pairings, budget; training and evaluations -------------

    def schedule_setup(self) -> None:
        first, year = self.year.day(FIRST_DAY), self.year
        self.add(local(first, 9), self.establish)
        for i in range(len(self.elders)):
            day = first + timedelta(days=1 + i * 10 // len(self.elders))
            self.add(local(day, 9, 7 * (i % 43)), self.register, i)
        for i in range(len(self.volunteers)):
            self.add(local(year.day(RECRUITING) + timedelta(days=i // 15), 9, 15 * (i % 15)), self.recruit, i)
        for i, volunteer in enumerate(self.serving):
            self.add(local(self.launch, 10) + timedelta(seconds=30 * i), self.pair, i, volunteer, self.launch)
        budget_years = year.budget_years
        self.add(local(year.day(BUDGET_DAY), 10), self.appropriate, budget_years[0])
        for later in budget_years[1:]:  # a year across two calendar years: the next one's in its December
            self.add(local(date(later - 1, 12, BUDGET_DAY.day), 10), self.appropriate, later)
        for i in range(len(self.volunteers)):
            for course, on, hours in self.rng.sample(people.COURSES, self.rng.choice((1, 2, 2, 3))):
                self.add(local(year.day(on), 17, i), self.train, i, course, hours, year.day(on))
        self.schedule_evaluations()

    def schedule_evaluations(self) -> None:
        quality = [self.rng.randint(78, 95) for _ in self.volunteers]
        for quarter, written in enumerate((date(2025, 4, 7), date(2025, 7, 7), date(2025, 10, 9), date(2026, 1, 7))):
            start, period = self.year.day(written), self.year.quarter(written)
            for i in range(len(self.volunteers)):
                for k in range(3 if self.rng.random() < 0.1 else 2):
                    at = local(start + timedelta(days=self.rng.randint(0, 4)), 9, self.rng.randrange(480))
                    scores = people.evaluation_scores(self.rng, quality[i])
                    by, comment = self.evaluators[(quarter + i + k) % 3], self.rng.choice(people.EVALUATION_COMMENTS)
                    self.add(at, self.evaluate, i, period, scores, by, comment)

    def establish(self, ledger: Ledger) -> None:
        if self.code == LIANSHUI:
            ensure_home_county(ledger)
        else:
            ledger.establish_county(self.code, self.name, self.townships, by=SYSTEM)

    def register(self, i: int, ledger: Ledger) -> None:
        e = self.elders[i]
        self.elder_ids[i] = ledger.register_elder(
            county=self.code, name=e.name, birth_date=e.birth_date, sex=e.sex, township=e.township,
            address=e.address, phone=e.phone, notes=e.notes, by=self.coordinator(i),
        ).id  # fmt: skip

    def recruit(self, i: int, ledger: Ledger) -> None:
        v = self.volunteers[i]
        self.volunteer_ids[i] = ledger.recruit_volunteer(
            county=self.code, name=v.name, unit=v.unit, profession=v.profession, phone=v.phone,
            township=v.township, by=self.coordinators[i % 3],
        ).id  # fmt: skip

    def pair(self, elder: int, volunteer: int, on: date, ledger: Ledger) -> None:
        self.pairing_ids[elder, volunteer] = ledger.form_pairing(
            volunteer_id=known(self.volunteer_ids[volunteer]), elder_id=known(self.elder_ids[elder]),
            group=self.volunteers[volunteer].group, from_date=on, by=self.coordinator(elder),
        ).id  # fmt: skip

    def appropriate(self, year: int, ledger: Ledger) -> None:
        ledger.appropriate_budget(county=self.code, year=year, lines=dict(BUDGET_LINES), by=self.budget_officer)

    def train(self, i: int, course: str, hours: Decimal, on: date, ledger: Ledger) -> None:
        ledger.record_training(known(self.volunteer_ids[i]), course=course, hours=hours, on=on, by=self.coordinators[0])

    def evaluate(self, i: int, period: str, scores: dict[str, int], by: Provenance, text: str, ledger: Ledger) -> None:
        volunteer_id = known(self.volunteer_ids[i])
        ledger.submit_evaluation(volunteer_id=volunteer_id, period=period, criteria=scores, comment=text, by=by)

    # A month of visits and its claims -----------------------------------------------------

    def plan_month(self, month: str) -> None:
        self.planned.add(month)
        contacts: dict[int, list[tuple[int, str]]] = defaultdict(list)
        days = self.year.visit_days(month)
        for elder, volunteer in enumerate(self.serving):
            if elder not in self.departed and days:
                for n in range(self.contacts(month, days)):
                    contacts[volunteer].append((elder, self.rng.choice(LATER_KINDS if n else FIRST_KINDS)))
        visits = {v: self.schedule_volunteer(v, contacts[v], month, days) for v in sorted(contacts)}
        plant = self.plants.get(month)
        if plant in VISIT_PLANTS:
            VISIT_PLANTS[plant](self, month, visits)
        claims = [c for v in sorted(visits) if (c := self.plan_claim(v, month, visits[v])) is not None]
        if plant in CLAIM_PLANTS:
            CLAIM_PLANTS[plant](self, month)
        for plans in visits.values():
            for plan in plans:
                self.schedule_visit(plan)
        for n, claim in enumerate(claims, start=1):
            claim.reference = f"{self.prefix}-{claim.month.replace('-', '')}-{n:03d}"
            self.schedule_claim(claim)

    def contacts(self, month: str, days: range) -> int:
        """How many contacts an elder gets in a month: one to three, fewer (but one) on a month's first days."""
        drawn = self.rng.choice(CONTACTS_A_MONTH)
        if not self.year.short_month(month):
            return drawn
        return max(1, round(drawn * len(days) / last_day(month).day))

    def schedule_volunteer(
        self, volunteer: int, contacts: list[tuple[int, str]], month: str, open_days: range
    ) -> list[VisitPlan]:
        """Spread a volunteer's contacts over distinct days (back to back, should the month be full)."""
        self.rng.shuffle(contacts)
        days = self.rng.sample(open_days, min(len(contacts), len(open_days)))
        days += [self.rng.randint(open_days.start, open_days.stop - 1) for _ in contacts[len(days) :]]
        by_day: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for contact, day in zip(contacts, days, strict=True):
            by_day[day].append(contact)
        plans = []
        for day in sorted(by_day):
            moment = local(first_day(month).replace(day=day), 8, 30 + self.rng.randrange(150))
            for elder, kind in by_day[day]:
                plan = self.visit(elder, volunteer, kind, moment, self.rng.randint(*DURATIONS[kind]))
                self.decide_fate(plan)
                plans.append(plan)
                moment = plan.details["ended_at"] + timedelta(minutes=self.rng.randint(30, 90))
        return plans

    def visit(self, elder: int, volunteer: int, kind: str, start: datetime, minutes: int) -> VisitPlan:
        rng, township, home = self.rng, self.elders[elder].township, kind != PHONE_CALL
        gift = home and elder not in self.gifted and rng.random() < 0.6
        if home:
            self.gifted.add(elder)
        services = people.services(rng, kind)
        far = township != self.volunteers[volunteer].township
        end = start + timedelta(minutes=minutes)
        details = {
            "kind": kind, "services": services, "readings": people.readings(rng, services), "started_at": start,
            "ended_at": end, "township": township, "distance_band": "at_home" if home else "remote",
            "travel_km": people.travel_km(rng, far) if home else Decimal(0), "gift_bag": gift,
            "notes": people.GIFT_NOTE if gift else rng.choice(people.VISIT_NOTES),
        }  # fmt: skip
        return VisitPlan(elder, volunteer, details, end + timedelta(minutes=rng.randint(5, 30 if home else 15)))

    def decide_fate(self, plan: VisitPlan) -> None:
        """Confirmed within two days (93%), else left unconfirmed or disputed; feedback on some."""
        rng, roll = self.rng, self.rng.random()
        if roll < 0.005:
            at = local(plan.day + timedelta(days=rng.randint(1, 3)), 10, rng.randrange(420))
            plan.dispute = (at, rng.choice(people.DISPUTES), people.DISPUTE_COMMENT)
        if roll < 0.07:
            return
        lag = rng.choice((0, 1, 1, 2))
        later = local(plan.day + timedelta(days=lag), 9, rng.randrange(540))
        at = plan.recorded + timedelta(minutes=3) if lag == 0 else later
        phone = plan.details["kind"] == PHONE_CALL
        plan.confirm = (at, *rng.choice(people.PHONE_CONFIRMATIONS if phone else people.HOME_CONFIRMATIONS))
        if rng.random() < 0.35:
            plan.feedback = (at + timedelta(minutes=2), rng.choice(people.RATINGS), rng.choice(people.FEEDBACK))

    def plan_claim(self, volunteer: int, month: str, plans: list[VisitPlan]) -> ClaimPlan | None:
        """Submitted on the 3rd–6th of the next month, approved on the 7th–9th, paid on the 10th–14th."""
        rng, following = self.rng, last_day(month) + timedelta(days=1)
        submit = local(following + timedelta(days=rng.randint(2, 5)), 9, rng.randrange(600))
        items = [p for p in plans if p.confirm and not p.dispute and not p.planted and p.confirm[0] < submit]
        if not items:
            return None
        approve = local(following + timedelta(days=rng.randint(6, 8)), 9, rng.randrange(480))
        pay = local(following + timedelta(days=rng.randint(9, 13)), 10, rng.randrange(360))
        claim = ClaimPlan(volunteer, month, items, submit, (approve, rng.choice(self.approvers)), pay)
        if self.year.awaits_approval(month) and volunteer % 3 == 0:  # a third of them, when the demo ends
            claim.approve, claim.pay = None, None
        if self.cast:  # the planted irregularities look claims up; other counties keep none
            self.claims[volunteer, month] = claim
        return claim

    def schedule_visit(self, plan: VisitPlan) -> None:
        self.add(plan.recorded, self.record, plan)
        for step, run in (
            (plan.confirm, self.confirm),
            (plan.feedback, self.give_feedback),
            (plan.dispute, self.dispute),
        ):
            if step is not None:
                self.add(step[0], run, plan, *step[1:])

    def schedule_claim(self, claim: ClaimPlan) -> None:
        self.add(claim.submit, self.submit, claim)
        if claim.approve is not None:
            self.add(claim.approve[0], self.approve, claim, claim.approve[1])
        if claim.pay is not None:
            self.add(claim.pay, self.pay, claim, county_date(claim.pay))

    def record(self, plan: VisitPlan, ledger: Ledger) -> None:
        pairing = self.pairing_ids[plan.elder, plan.volunteer]
        plan.id = ledger.record_visit(pairing_id=pairing, by=self.as_volunteer(plan.volunteer), **plan.details).id

    def confirm(self, plan: VisitPlan, confirmer: str, method: str, ledger: Ledger) -> None:
        ledger.confirm_visit(known(plan.id), confirmed_by=confirmer, method=method, by=self.coordinator(plan.elder))

    def give_feedback(self, plan: VisitPlan, rating: int, comment: str, ledger: Ledger) -> None:
        ledger.give_feedback(known(plan.id), rating=rating, comment=comment, by=self.coordinator(plan.elder))

    def dispute(self, plan: VisitPlan, reason: str, comment: str, ledger: Ledger) -> None:
        ledger.dispute_visit(known(plan.id), reason_code=reason, comment=comment, by=self.coordinator(plan.elder))

    def submit(self, claim: ClaimPlan, ledger: Ledger) -> None:
        claim.id = ledger.submit_claim(
            volunteer_id=known(self.volunteer_ids[claim.volunteer]), month=claim.month,
            visit_ids=[known(p.id) for p in claim.visits], by=self.as_volunteer(claim.volunteer),
        ).id  # fmt: skip

    def approve(self, claim: ClaimPlan, by: Provenance, ledger: Ledger) -> None:
        ledger.approve_claim(known(claim.id), by=by)

    def pay(self, claim: ClaimPlan, paid_on: date, ledger: Ledger) -> None:
        ledger.pay_claim(known(claim.id), reference=claim.reference, paid_on=paid_on, by=self.cashier)

    # Planted irregularities (first county only) -------------------------------------------

    def choose_cast(self) -> dict[str, int]:
        """A different volunteer for each planted irregularity."""
        roles = ("A01", "A03", "A04", "A05", "A06-short", "A06-long", "A08", "A10")
        return dict(zip(roles, self.rng.sample(range(len(self.volunteers)), len(roles)), strict=True))

    def note(self, at: datetime, code: str, ids: Callable[[], tuple[UUID | None, ...]], description: str) -> None:
        """List the irregularity once the commands that make it (and its ids) have run."""

        def noted(ledger: Ledger) -> None:
            self.irregularities.append(Irregularity(code, tuple(known(i) for i in ids()), description))

        self.add(at, noted)

    def free_day(self, volunteer: int, month: str, visits: Visits) -> date:
        """A day of the month on which the volunteer has no other visit."""
        busy = {p.day for p in visits[volunteer]}
        days = [first_day(month) + timedelta(days=d) for d in range(last_day(month).day)]
        return self.rng.choice([d for d in days if d not in busy])

    def extra_visit(
        self, visits: Visits, volunteer: int, elder: int, kind: str, start: datetime, minutes: int
    ) -> VisitPlan:
        plan = self.visit(elder, volunteer, kind, start, minutes).plant()
        visits[volunteer].append(plan)
        return plan

    def last_contact(self, role: str, visits: Visits, latest_day: int) -> VisitPlan:
        """An elder's last contact of the month, on a day after all its others and by ``latest_day``."""
        volunteer = self.cast[role]
        for elder in self.elders_of(volunteer):
            mine = sorted((p for p in visits[volunteer] if p.elder == elder), key=lambda p: p.details["started_at"])
            if mine and mine[-1].day.day <= latest_day and all(p.day < mine[-1].day for p in mine[:-1]):
                return mine[-1].plant()
        raise RuntimeError(f"no elder of volunteer {volunteer} fits the planted {role}")

    def plant_overlap(self, month: str, visits: Visits) -> None:
        volunteer = self.cast["A05"]
        day, (one, two) = self.free_day(volunteer, month, visits), self.elders_of(volunteer)[:2]
        first = self.extra_visit(visits, volunteer, one, MEDICAL, local(day, 9), 90)
        second = self.extra_visit(visits, volunteer, two, EMOTIONAL, local(day, 10), 60)
        text = f"two home visits by one volunteer to two elders on {day} overlap by 30 minutes"
        self.note(second.recorded + timedelta(minutes=1), "A05", lambda: (first.id, second.id), text)

    def plant_duration(self, month: str, visits: Visits, role: str, minutes: int) -> None:
        volunteer = self.cast[role]
        day, elder = self.free_day(volunteer, month, visits), self.elders_of(volunteer)[0]
        kind, hour = (EMOTIONAL, 15) if minutes < 60 else (DAILY_LIVING, 8)
        plan = self.extra_visit(visits, volunteer, elder, kind, local(day, hour), minutes)
        lasted = f"{minutes} minutes" if minutes < 60 else f"{minutes // 60} hours"
        text = f"home visit on {day} recorded as lasting {lasted}"
        self.note(plan.recorded + timedelta(minutes=1), "A06", lambda: (plan.id,), text)

    def plant_late_record(self, month: str, visits: Visits) -> None:
        volunteer = self.cast["A10"]
        day, elder = self.free_day(volunteer, month, visits), self.elders_of(volunteer)[0]
        plan = self.extra_visit(visits, volunteer, elder, MEDICAL, local(day, 9), 60)
        plan.recorded = local(day + timedelta(days=41), 10)
        text = f"visit of {day} recorded 41 days after it happened"
        self.note(plan.recorded + timedelta(minutes=1), "A10", lambda: (plan.id,), text)

    def plant_after_departure(self, month: str, visits: Visits) -> None:
        plan = self.last_contact("A04", visits, latest_day=31)
        elder, pairing, by = plan.elder, (plan.elder, plan.volunteer), self.coordinator(plan.elder)
        died, told = plan.day - timedelta(days=1), plan.day + timedelta(days=2)
        self.departed.add(elder)
        self.add(local(told, 10), lambda ledger: ledger.record_departure(
            known(self.elder_ids[elder]), kind="deceased", on=died, by=by))  # fmt: skip
        self.add(local(told, 10, 5), lambda ledger: ledger.end_pairing(
            self.pairing_ids[pairing], on=told, reason="elder_departed", by=by))  # fmt: skip
        text = f"home visit on {plan.day} to an elder who had died on {died} (recorded on {told})"
        self.note(local(told, 10, 6), "A04", lambda: (plan.id,), text)

    def plant_no_pairing(self, month: str, visits: Visits) -> None:
        plan = self.last_contact("A03", visits, latest_day=last_day(month).day - 3)
        elder, old, by = plan.elder, (plan.elder, plan.volunteer), self.coordinator(plan.elder)
        ended, told, receiver = plan.day - timedelta(days=1), plan.day + timedelta(days=1), self.receiver(elder)
        self.serving[elder] = receiver
        self.add(local(told, 10), lambda ledger: ledger.end_pairing(
            self.pairing_ids[old], on=ended, reason="reassigned", by=by))  # fmt: skip
        self.add(local(told, 10, 5), self.pair, elder, receiver, told)
        text = f"visit on {plan.day} under a pairing that was later ended as of {ended} (elder reassigned)"
        self.note(local(told, 10, 6), "A03", lambda: (plan.id, self.pairing_ids[old]), text)

    def receiver(self, elder: int) -> int:
        """Who takes over an elder: the least loaded volunteer outside the cast, of its township's team if any."""
        loads = Counter(v for e, v in enumerate(self.serving) if e not in self.departed)
        township, cast = self.elders[elder].township, set(self.cast.values())
        free = [v for v in range(len(self.volunteers)) if v not in cast and loads[v] < people.SOFT_CAP]
        return min(free, key=lambda v: (self.volunteers[v].serves != township, loads[v], v))

    def plant_unconfirmed_claim(self, month: str) -> None:
        claim = self.claims[self.cast["A01"], month]
        claim.approve, claim.pay = None, None
        plan = next(p for p in claim.visits if p.details["kind"] != PHONE_CALL)
        at = claim.submit + timedelta(days=1)
        plan.dispute = (at, "did_not_happen", "家属来电称当天无人上门，申领暂缓审批")
        text = f"visit of {plan.day}, claimed, then disputed by the family; the claim still awaits approval"
        self.note(at + timedelta(minutes=1), "A01", lambda: (plan.id, claim.id), text)

    def plant_voided_after_payment(self, month: str) -> None:
        claim = self.claims[self.cast["A08"], month]
        plan = self.voided = next(p for p in claim.visits if p.details["kind"] != PHONE_CALL)
        at, by = local(self.year.day(date(YEAR, 5, 20)), 10, 30), self.coordinator(plan.elder)
        reason = "家属反映该次上门未实际进行，经核实属误录，解锁后作废"
        self.add(at, lambda ledger: ledger.unlock_visit(known(plan.id), reason=reason, by=by))
        self.add(at + timedelta(minutes=5), lambda ledger: ledger.void_visit(
            known(plan.id), reason_code="not_performed", by=by))  # fmt: skip
        text = f"visit of {plan.day} voided after its claim was paid; the claim was not reversed"
        self.note(at + timedelta(minutes=6), "A08", lambda: (plan.id, claim.id), text)

    def plant_misplaced(self, month: str) -> None:
        """A11: a home visit to an elder of the volunteer's own township, typed as in another one.

        The first such visit (by volunteer, outside the cast) of a claim to be paid; it is confirmed and
        claimed in the normal course, and priced where the elder is registered: ¥10, not the ¥20 the
        typed township would have paid. Draws nothing from the seed, so the rest of the year is unchanged.
        """
        cast = set(self.cast.values())
        for (volunteer, claimed), claim in sorted(self.claims.items(), key=lambda c: c[0]):
            home = self.volunteers[volunteer].township
            if claimed != month or volunteer in cast or claim.pay is None:
                continue
            found = [
                p for p in claim.visits if p.details["kind"] != PHONE_CALL and self.elders[p.elder].township == home
            ]
            if found:
                self.misplace(found[0], home)
                return
        raise RuntimeError(f"no visit of {month} fits the planted A11")

    def misplace(self, plan: VisitPlan, home: str) -> None:
        typed = next(t for t in self.townships if t != home)
        plan.details["township"] = typed
        text = (
            f"home visit of {plan.day} to an elder of the volunteer's own township ({home}), recorded as in "
            f"{typed}; claimed at the same-township rate, where the elder is registered"
        )
        self.note(plan.recorded + timedelta(minutes=1), "A11", lambda: (plan.id, self.elder_ids[plan.elder]), text)

    def try_refused(self, ledger: Ledger) -> dict[str, str]:
        """Try A02, A07 and A09 once each: each must be refused (and so write nothing)."""
        paid = self.claims[self.cast["A08"], self.year.month("2025-03")]
        pending = self.claims[self.cast["A01"], self.year.month("2025-06")]
        attempts: dict[str, Callable[[], object]] = {
            "A02": lambda: ledger.submit_claim(
                volunteer_id=known(self.volunteer_ids[paid.volunteer]), month=paid.month,
                visit_ids=[known(next(p for p in paid.visits if p is not self.voided).id)],
                by=self.as_volunteer(paid.volunteer)),
            "A07": lambda: ledger.approve_claim(known(pending.id), by=self.as_volunteer(pending.volunteer)),
            "A09": lambda: ledger.adjust_budget(
                county=self.code, year=self.year.budget_years[0], line=TRANSPORT, delta=-BUDGET_LINES[TRANSPORT],
                reason="take the line below what is committed", by=self.budget_officer),
        }  # fmt: skip
        reasons = {}
        for code, attempt in attempts.items():
            try:
                attempt()
            except RuleViolation as refusal:
                reasons[code] = f"{NOT_PLANTABLE[code]}; tried once, refused ({refusal.rule}): {refusal.reason}"
            else:
                raise RuntimeError(f"the ledger accepted a {code} irregularity it should refuse")
        return reasons


VISIT_PLANTS: dict[str, Callable[[CountyBuild, str, Visits], None]] = {
    "A03": CountyBuild.plant_no_pairing,
    "A04": CountyBuild.plant_after_departure,
    "A05": CountyBuild.plant_overlap,
    "A06-short": lambda build, month, visits: build.plant_duration(month, visits, "A06-short", 3),
    "A06-long": lambda build, month, visits: build.plant_duration(month, visits, "A06-long", 9 * 60),
    "A10": CountyBuild.plant_late_record,
}
CLAIM_PLANTS: dict[str, Callable[[CountyBuild, str], None]] = {
    "A01": CountyBuild.plant_unconfirmed_claim,
    "A08": CountyBuild.plant_voided_after_payment,
    "A11": CountyBuild.plant_misplaced,
}


# The build --------------------------------------------------------------------------------


def run_demo(
    url: str,
    *,
    seed: int = 1,
    scale: int = 1,
    master_key: bytes,
    progress: Callable[[int, int], None] | None = None,
    until: date | None = None,
) -> DemoSummary:
    """Build ``scale`` counties into the store at ``url``.

    ``until``: the demo's twelve months end on that day (its month is the last; see :class:`DemoYear`),
    and nothing is recorded after it, nor after the moment of the build; None: the year 2025 (to the end
    of January 2026, when December's claims are paid), the same events for the same seed as ever.
    Raises InvalidInput (``until``) for a day after today (the county's) or before 2001.

    ``progress(done, total)`` is called after each simulated county-day (total = days × counties).
    ``seconds`` is the time to build, without the final count of the store's events.
    Raises RuleViolation (``demo.exists``), writing nothing, if the store already holds a demo county:
    :class:`DemoExists` if it is the demo's own work.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise InvalidInput("scale", "build at least one county")
    year = DemoYear.of(until)
    started = time.perf_counter()
    builds = [CountyBuild(i, seed, year) for i in range(scale)]
    clock, ids = DemoClock(local(year.day(FIRST_DAY), 8)), SeededIds([b.ids for b in builds])
    # The demo's people are fictional: their keys and nonces come from the seed, so that a seed
    # writes the same log byte for byte on either store. Real records get the OS's randomness.
    randomness = random.Random(f"tiexin-demo-keys-{seed}-{scale}")
    ledger = open_ledger(url, master_key=master_key, clock=clock, new_id=ids, random_bytes=randomness.randbytes)
    try:
        check_fresh(ledger, [b.code for b in builds])
        build_all(ledger, clock, ids, builds, progress)
        end = local(year.last_day, 16)
        clock.now = end if year.limit is None else min(end, year.limit)
        not_plantable = builds[0].try_refused(ledger)
        seconds = time.perf_counter() - started
        counts = count_events(ledger)
    finally:
        ledger.close()
    return DemoSummary(
        counties=scale,
        events_by_type=counts,
        total_events=sum(counts.values()),
        seconds=seconds,
        irregularities=tuple(sorted(builds[0].irregularities, key=lambda i: i.code)),
        not_plantable=not_plantable,
        volunteer_id=known(builds[0].volunteer_ids[0]),
        months=(year.months[0], year.months[-1]),
        until=year.until,
    )


def build_all(
    ledger: Ledger,
    clock: DemoClock,
    ids: SeededIds,
    builds: list[CountyBuild],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Month by month, county by county: each county-month is one transaction."""
    months: dict[tuple[int, int], list[date]] = defaultdict(list)
    first, last = builds[0].year.day(FIRST_DAY), builds[0].year.last_day
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        months[day.year, day.month].append(day)
    total, done = sum(map(len, months.values())) * len(builds), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for days in months.values():
        for n, build in enumerate(builds):
            ids.current = n
            build.run_days(ledger, clock, days, tick)
    for build in builds:
        if build.bucket:
            raise RuntimeError(f"the demo planned actions after {last}: {sorted(build.bucket)[:3]}")


def check_fresh(ledger: Ledger, codes: list[str]) -> None:
    """Refuse a store that already holds a demo county (the home county alone, bare, is fine):
    :class:`DemoExists` if the demo built what is there."""
    for code in codes:
        if county_id(code) not in ledger.repository:
            continue
        people_there = ledger.recorder.select_notifications(
            start=None, limit=1, topics=[topic_of(Elder.Registered), topic_of(Volunteer.Recruited)]
        )
        if code != LIANSHUI or people_there:
            built = built_demo(ledger)
            if built is not None:
                raise DemoExists(built)
            raise RuleViolation(
                "demo.exists",
                f"the store already holds county {code!r} and its records; the demo builds only into an "
                "empty store (use a new database file or schema)",
            )


def built_demo(ledger: Ledger) -> ExistingDemo | None:
    """The demo county in the store, if the demo built it: its first elder was registered by one of
    the demo's coordinators. None for a store whose first elder came from anyone else, or that has none."""
    first_elder, first_volunteer = first_of(ledger, Elder.Registered), first_of(ledger, Volunteer.Recruited)
    if first_elder is None or first_volunteer is None:
        return None
    registered = ledger.mapper.to_domain_event(first_elder)
    if not isinstance(registered, Elder.Registered) or registered.county != LIANSHUI:
        return None
    if registered.meta.principal_id not in CountyBuild.coordinator_ids(LIANSHUI):
        return None
    counties = 1
    while county_id(f"county-{counties + 1:03d}") in ledger.repository:
        counties += 1
    return ExistingDemo(
        county=LIANSHUI,
        name=LIANSHUI_NAME,
        counties=counties,
        total_events=ledger.recorder.max_notification_id() or 0,
        volunteer_id=UUID(str(first_volunteer.originator_id)),
    )


def first_of(ledger: Ledger, event_class: type) -> Notification | None:
    found = ledger.recorder.select_notifications(start=None, limit=1, topics=[topic_of(event_class)])
    return found[0] if found else None


def count_events(ledger: Ledger) -> dict[str, int]:
    """Every stored event, by topic, read back page by page from the store."""
    counts: Counter[str] = Counter()
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=PAGE):
        counts.update(n.topic for n in page)
        start = page[-1].id + 1
    return dict(sorted(counts.items()))
