"""Write a generation of the frozen contract's samples: run by hand, once per generation, never again.

    python -m tests.contract.make_samples --generation 2

It drives one realistic scenario through the ledger's real commands (:class:`ledger.application.Ledger`
on a fresh SQLite file, with a fixed clock and fixed ids), so the samples form consistent aggregate
histories with real provenance, then writes every stored event, exactly as the store holds it, to
``tests/contract/samples/vN/<aggregate>.jsonl``. It refuses to write into a generation that already
has a file: samples are never rewritten, a change to the contract adds a generation beside the old
ones (the procedure is in ``docs/event-contract.md``). To cover a new event class, add a step to
:func:`scenario` that records it, then write the next generation.

The output is stable: the same code writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.audit_samples import Candidate, Population
from ledger.certificates import ServiceCandidates
from ledger.common import SYSTEM, Provenance
from ledger.counties import LIANSHUI, LIANSHUI_NAME, LIANSHUI_TOWNSHIPS
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind, evaluation_criteria
from tests.builders import MASTER_KEY, fixed_random
from tests.contract.stored import (
    KEYS_FILE,
    SAMPLES,
    generation_dir,
    key_record,
    ledger_event_classes,
    record_of,
    sqlite_env,
)

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
"""09:00 on 2 March 2026 in the county: February's visits are in the past and claimable."""

ADMIN = Provenance("admin-1", "admin")
COORDINATOR = Provenance("coord-wang", "coordinator", idempotency_key="idem-0001", correlation_id="corr-0001")
FINANCE_A = Provenance("fin-liu", "finance")
FINANCE_B = Provenance("fin-chen", "finance", correlation_id="corr-0002")
EVALUATOR = Provenance("eval-sun", "evaluator")
AUDITOR = Provenance("audit-zhou", "auditor")
TOWNSHIP, OTHER_TOWNSHIP = "涟城镇", "高沟镇"


class Clock:
    """The ledger's clock: still until the scenario moves it on."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=7)


class Ids:
    """Readable, fixed ids: ``5a3c0000-0000-4000-8000-00000000000n`` for the n-th new aggregate."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> UUID:
        self.n += 1
        return UUID(f"5a3c0000-0000-4000-8000-{self.n:012x}")


def as_volunteer(volunteer_id: UUID) -> Provenance:
    return Provenance(str(volunteer_id), "volunteer", idempotency_key=f"claim-{volunteer_id.hex[-4:]}")


def feb(day: int, hour: int = 2) -> datetime:
    """``hour`` o'clock UTC on a day of February 2026 (10:00 in the county by default)."""
    return datetime(2026, 2, day, hour, 0, tzinfo=UTC)


def home_visit(day: int, **overrides: Any) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kind": "medical",
        "services": ["blood_pressure", "health_advice"],
        "readings": {"systolic": 132, "diastolic": 84, "pulse": 72, "glucose_mmol_l": Decimal("6.1")},
        "started_at": feb(day),
        "ended_at": feb(day) + timedelta(minutes=50),
        "township": TOWNSHIP,
        "distance_band": "within_2km",
        "travel_km": Decimal("1.8"),
        "gift_bag": True,
        "notes": "血压平稳",
    }
    details.update(overrides)
    return details


def phone_call(day: int) -> dict[str, Any]:
    return home_visit(
        day, kind="phone_call", services=["chat", "listening"], readings={}, distance_band="remote",
        travel_km=Decimal(0), gift_bag=False, notes="",
    )  # fmt: skip


def scenario(ledger: Ledger, tick: Callable[[], None]) -> None:
    """A county's month, touching every event class the ledger can record."""
    ledger.ensure_default_policies()  # policy Established + Adopted, by the system
    tick()
    ledger.establish_county(LIANSHUI, LIANSHUI_NAME, list(LIANSHUI_TOWNSHIPS), by=SYSTEM)
    tick()
    raised = {**DEFAULT_PARAMETERS[PolicyKind.SUBSIDY], "transport_cross_township_fen": 2500}
    ledger.adopt_policy("subsidy", version=2, parameters=raised, effective_from=date(2026, 7, 1), by=ADMIN)
    tick()
    ledger.appropriate_budget(
        county=LIANSHUI, year=2026, lines={"transport": 5_000_000, "communication": 2_000_000}, by=FINANCE_A
    )
    tick()
    ledger.adjust_budget(county=LIANSHUI, year=2026, line="transport", delta=250_000, reason="县财政追加", by=FINANCE_B)
    tick()

    elder = ledger.register_elder(
        county=LIANSHUI, name="王秀英", birth_date=date(1938, 5, 1), sex="female", township=OTHER_TOWNSHIP,
        address="高沟镇幸福路 3 号", phone="13800000001", notes="独居", by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    ledger.relocate_elder(elder, township=TOWNSHIP, address="涟城镇人民路 8 号", by=COORDINATOR)
    tick()
    other_elder = ledger.register_elder(
        county=LIANSHUI, name="李德福", birth_date=date(1931, 11, 20), sex="male", township=TOWNSHIP,
        address="涟城镇东门街 12 号", phone="13800000002", by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    doctor = ledger.recruit_volunteer(
        county=LIANSHUI, name="张医生", unit="涟水县人民医院", profession="doctor", phone="13900000001",
        township=TOWNSHIP, by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    ledger.record_training(doctor, course="老年急救", hours=Decimal("2.5"), on=date(2026, 1, 15), by=COORDINATOR)
    tick()
    nurse = ledger.recruit_volunteer(
        county=LIANSHUI, name="陈护士", unit="涟城镇卫生院", profession="nurse", phone="13900000002",
        township=TOWNSHIP, by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    ledger.suspend_volunteer(nurse, reason="休产假", by=COORDINATOR)
    tick()
    ledger.reinstate_volunteer(nurse, reason="返岗", by=COORDINATOR)
    tick()

    first = ledger.form_pairing(
        volunteer_id=doctor, elder_id=elder, group="涟城镇第1组", from_date=date(2026, 1, 1), by=COORDINATOR
    ).id
    tick()
    second = ledger.form_pairing(
        volunteer_id=nurse, elder_id=other_elder, group="涟城镇第2组", from_date=date(2026, 1, 1), by=COORDINATOR
    ).id
    tick()

    def visit(pairing: UUID, details: dict[str, Any], by: Provenance) -> UUID:
        written = ledger.record_visit(pairing_id=pairing, by=by, **details).id
        tick()
        return written

    doctor_key, nurse_key = as_volunteer(doctor), as_volunteer(nurse)
    checkup = visit(first, home_visit(3), doctor_key)
    call = visit(first, phone_call(5), doctor_key)
    later = visit(first, home_visit(10), doctor_key)
    mistaken = visit(first, home_visit(12), doctor_key)
    nurse_visit = visit(second, home_visit(6, notes="", gift_bag=False), nurse_key)
    for confirmed in (checkup, call, later, nurse_visit):
        ledger.confirm_visit(confirmed, confirmed_by="elder", method="signature", by=COORDINATOR)
        tick()
    ledger.give_feedback(checkup, rating=5, comment="很耐心", by=COORDINATOR)
    tick()
    # The elder was registered in the other township until March: the coordinator confirms the place typed.
    ledger.confirm_visit_place(checkup, reason="老人当日住在涟城镇女儿家", by=COORDINATOR)
    tick()
    ledger.dispute_visit(mistaken, reason_code="did_not_happen", comment="老人说当天没人来", by=COORDINATOR)
    tick()
    ledger.void_visit(mistaken, reason_code="entered_in_error", by=COORDINATOR)
    tick()
    ledger.amend_visit(later, changes={"notes": "补记:血糖偏高"}, reason_code="late_detail", by=COORDINATOR)
    tick()

    # A claim rejected, then the visits claimed again, approved and paid.
    rejected = ledger.submit_claim(volunteer_id=doctor, month="2026-02", visit_ids=[checkup, call], by=doctor_key).id
    tick()
    ledger.reject_claim(rejected, reason="缺少电话回访记录", by=FINANCE_A)
    tick()
    paid = ledger.submit_claim(volunteer_id=doctor, month="2026-02", visit_ids=[checkup, call, later], by=doctor_key).id
    tick()
    ledger.approve_claim(paid, by=FINANCE_A)
    tick()
    ledger.pay_claim(paid, reference="LS-2026-0001", paid_on=date(2026, 3, 2), by=FINANCE_B)
    tick()
    ledger.unlock_visit(later, reason="补录随访备注", by=COORDINATOR)
    tick()
    ledger.amend_visit(later, changes={"notes": "补记:血糖偏高,已建议复查"}, reason_code="typo", by=COORDINATOR)
    tick()

    # A claim approved, then reversed: the budget is given back.
    reversed_claim = ledger.submit_claim(volunteer_id=nurse, month="2026-02", visit_ids=[nurse_visit], by=nurse_key).id
    tick()
    ledger.approve_claim(reversed_claim, by=FINANCE_A)
    tick()
    ledger.reverse_claim(reversed_claim, reason="重复申报", by=FINANCE_B)
    tick()

    # A certificate of the doctor's February, and an auditor's seeded sample of the year's claims.
    february = ServiceCandidates(position=40, visit_ids=(checkup, call, later))
    ledger.issue_certificate(
        doctor, date_from=date(2026, 2, 1), date_to=date(2026, 2, 28), candidates=lambda *_: february, by=COORDINATOR
    )
    tick()
    claims = Population(position=42, candidates=(Candidate(paid, TOWNSHIP, 4000, (checkup, call, later)),))
    ledger.draw_audit_sample(
        county=LIANSHUI, year=2026, size=1, seed=42, stratify_by="township", population=lambda *_: claims, by=AUDITOR
    )
    tick()

    # Evaluations (the criteria of the policy's evaluation method): one withdrawn, then given again.
    names = [c.name for c in evaluation_criteria(DEFAULT_PARAMETERS[PolicyKind.SCORING])]
    criteria = {name: 80 + 3 * n for n, name in enumerate(names)}
    withdrawn = ledger.submit_evaluation(volunteer_id=doctor, period="2026-02", criteria=criteria, by=EVALUATOR).id
    tick()
    ledger.withdraw_evaluation(withdrawn, reason="评错了对象", by=EVALUATOR)
    tick()
    ledger.submit_evaluation(
        volunteer_id=doctor, period="2026-02", criteria={**criteria, names[0]: 95}, comment="认真负责", by=EVALUATOR
    )
    tick()

    # The programme's own items: a notice to the township's volunteers, read by one; a volunteers'
    # meeting with a suggestion raised and answered; an elder's category changed.
    notice = ledger.publish_notice(
        county=LIANSHUI, title="三月培训通知", body="3月15日在县人民医院举办老年急救培训", townships=[TOWNSHIP],
        candidates=lambda _: [doctor, nurse], by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    ledger.mark_notice_read(notice, volunteer_id=doctor, by=doctor_key)
    tick()
    meeting = ledger.record_meeting(
        county=LIANSHUI, held_on=date(2026, 2, 26), place="县卫健委会议室", topic="志愿服务座谈会",
        attendees=[doctor, nurse], by=COORDINATOR,
    ).id  # fmt: skip
    tick()
    ledger.raise_suggestion(meeting, text="偏远乡镇的交通补贴应提高", raised_by=nurse, by=COORDINATOR)
    tick()
    ledger.answer_suggestion(meeting, 1, text="已报县财政，7月起跨乡镇补贴提至25元", status="adopted", by=COORDINATOR)
    tick()
    ledger.recategorise_elder(elder, category="empty_nester", reason="子女均在外地", by=COORDINATOR)
    tick()

    # Leaving: a pairing ends, the elder departs, the nurse retires.
    ledger.end_pairing(second, on=date(2026, 2, 28), reason="elder_departed", by=COORDINATOR)
    tick()
    ledger.record_departure(other_elder, kind="deceased", on=date(2026, 2, 28), by=COORDINATOR)
    tick()
    ledger.retire_volunteer(nurse, reason="调离本县", by=COORDINATOR)
    tick()

    # Privacy: an auditor reads the doctor's record, giving a reason; the departed elder and the
    # retired nurse are forgotten (their keys destroyed, their personal fields unreadable).
    ledger.record_personal_data_read(
        subject_kind="volunteer", subject_id=doctor, reason="核对2026年2月补贴申领", by=AUDITOR
    )
    tick()
    ledger.forget_elder(other_elder, reason="retention_ended", by=ADMIN)
    tick()
    ledger.forget_volunteer(nurse, reason="person_asked", by=ADMIN)
    tick()


def stored_records(path: Path) -> list[dict[str, Any]]:
    """Run the scenario on a fresh SQLite file and answer its log, exactly as stored."""
    return run_scenario(path)[0]


def run_scenario(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The scenario's log and its persons' keys (``personal_keys``), exactly as stored.

    The keys and nonces come from a fixed stream (:func:`tests.builders.fixed_random`) and are
    wrapped under the tests' master key, so the same code writes the same bytes.
    """
    clock, ids = Clock(), Ids()
    ledger = Ledger(sqlite_env(path), master_key=MASTER_KEY, clock=clock, new_id=ids, random_bytes=fixed_random())
    try:
        scenario(ledger, clock.tick)
        log = ledger.recorder.select_notifications(start=1, limit=1_000_000)
        records = [record_of(n.id, n.topic, UUID(str(n.originator_id)), n.originator_version, n.state) for n in log]
        return records, [key_record(key) for key in ledger.keyring.store.all()]
    finally:
        ledger.close()


def file_name(topic: str) -> str:
    """``tiexin.claimed_visit.Claimed`` → ``claimed_visit.jsonl``: one file per aggregate."""
    return f"{topic.split('.')[1]}.jsonl"


def refuse_existing(generation: int, root: Path = SAMPLES) -> Path:
    """The generation's directory, if it holds no sample yet: samples are never rewritten."""
    target = generation_dir(generation, root)
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} already holds samples; they are never rewritten. Write the next generation.")
    return target


def write_generation(target: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Write one file per aggregate; ``open(..., "x")`` refuses any file that exists."""
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_file[file_name(record["topic"])].append(record)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, lines in sorted(by_file.items()):
        path = target / name
        with path.open("x", encoding="utf-8") as out:
            out.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        written.append(path)
    return written


def uncovered(records: list[dict[str, Any]]) -> list[str]:
    """The event classes the scenario did not record (the scenario must cover them all)."""
    seen = {record["topic"] for record in records}
    return [get_topic(cls) for cls in ledger_event_classes() if get_topic(cls) not in seen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--generation", type=int, required=True, help="the generation to write: samples/vN")
    args = parser.parse_args(argv)
    target = refuse_existing(args.generation)
    with tempfile.TemporaryDirectory() as scratch:
        records, keys = run_scenario(Path(scratch) / "ledger.db")
    missing = uncovered(records)
    if missing:
        print(f"the scenario records no {', '.join(missing)}: add steps to scenario() first", file=sys.stderr)
        return 1
    for path in write_generation(target, records):
        print(path)
    with (target / KEYS_FILE).open("x", encoding="utf-8") as out:
        json.dump(keys, out, ensure_ascii=False, indent=1)
    print(target / KEYS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
