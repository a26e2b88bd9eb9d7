"""Service-record certificates on the demo county, on a SQLite file and on PostgreSQL: what a demo volunteer's
certificate counts (checked against the audit view's rows, computed here independently), issuing, reading
(JSON and PDF) and checking over HTTP, who may do what, and a correction made after issue."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from uuid import UUID

import pytest
from pypdf import PdfReader

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.certificates import Certificate, ServiceCandidates, period_bounds
from ledger.common import county_date
from projections.audit import VISITS, AuditProjection, AuditView, VisitState, open_projection
from tests.builders import COORDINATOR, MASTER_KEY
from tests.conftest import START, Clock, fresh_postgres_schema
from tests.demo_store import seeded_demo
from tests.harness import Harness, harness
from tests.views import caught_up

KEYS = count(1)


@dataclass
class CertifiedDemo:
    """The seed-1 demo in a store, its audit view caught up, and its confirmed visits by volunteer."""

    url: str
    ledger: Ledger
    projection: AuditProjection
    clock: Clock
    visits: dict[UUID, list[VisitState]]
    """Each volunteer's confirmed visits, as the audit view's rows had them when the demo was built."""

    @property
    def view(self) -> AuditView:
        return self.projection.audit

    def catch_up(self) -> None:
        """Bring the audit view up to the ledger's head (the API here runs no read model: a runner each would
        rebuild every read model of the demo, which these tests do not read)."""
        caught_up(self.ledger, self.projection)

    def volunteer(self, n: int) -> UUID:
        """The ``n``-th volunteer (by id) with confirmed visits."""
        return sorted(self.visits, key=str)[n]

    def period(self, volunteer: UUID) -> tuple[date, date]:
        days = [v.day for v in self.visits[volunteer]]
        return min(days), max(days)

    def candidates(self, volunteer: UUID, date_from: date, date_to: date) -> ServiceCandidates:
        found = self.view.visits_of_volunteer(volunteer, *period_bounds(date_from, date_to))
        return ServiceCandidates(found.position, tuple(v.visit_id for v in found.visits if v.status != "voided"))


@contextmanager
def certified_demo(url: str) -> Iterator[CertifiedDemo]:
    seeded_demo(url)
    clock = Clock()
    ledger = open_ledger(url, master_key=MASTER_KEY, clock=clock)
    projection = open_projection(url)
    try:
        caught_up(ledger, projection)
        with projection.audit.reading() as cursor:
            rows: list[VisitState] = projection.audit.every(cursor, VISITS)
        visits: dict[UUID, list[VisitState]] = defaultdict(list)
        for row in rows:
            if row.status == "confirmed":
                visits[row.volunteer_id].append(row)
        clock.now = max(START, max(r.ended_at for r in rows) + timedelta(days=1))
        yield CertifiedDemo(url, ledger, projection, clock, dict(visits))
    finally:
        projection.paged_view.close()
        ledger.close()


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertifiedDemo]:
    with certified_demo(f"sqlite:///{tmp_path_factory.mktemp('certificates')}/tiexin.db") as demo:
        yield demo


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[CertifiedDemo]:
    with fresh_postgres_schema("t_cert") as url, certified_demo(url) as demo:
        yield demo


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> CertifiedDemo:
    built: CertifiedDemo = request.getfixturevalue(f"{request.param}_demo")
    return built


@pytest.fixture
def api(demo: CertifiedDemo) -> Iterator[Harness]:
    with harness(demo.url, clock=demo.clock, projections=False, keys_named=f"c{next(KEYS)}-") as made:
        yield made


def minutes_of(rows: list[VisitState]) -> int:
    return sum((r.ended_at - r.started_at for r in rows), timedelta(0)) // timedelta(minutes=1)


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# Through the ledger ------------------------------------------------------------------------


def test_a_demo_volunteer_s_certificate_counts_their_confirmed_visits_of_the_period(demo: CertifiedDemo) -> None:
    volunteer = demo.volunteer(0)
    start, end = demo.period(volunteer)
    rows = demo.visits[volunteer]
    written = demo.ledger.issue_certificate(
        volunteer, date_from=start, date_to=end, candidates=demo.candidates, by=COORDINATOR
    )
    certificate = demo.ledger.find(Certificate, written.id)
    assert certificate is not None
    assert certificate.minutes == minutes_of(rows) > 0
    assert {k: n for k, n in certificate.visits_by_kind.items() if n} == dict(Counter(r.kind for r in rows))
    assert sorted(certificate.visit_ids, key=str) == sorted((r.visit_id for r in rows), key=str)
    assert certificate.position == demo.view.position(demo.ledger.name) and certificate.intact

    a_month = [r for r in rows if r.day.month == start.month and r.day.year == start.year]
    month_end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
    one = demo.ledger.issue_certificate(
        volunteer, date_from=start.replace(day=1), date_to=month_end, candidates=demo.candidates, by=COORDINATOR
    )
    monthly = demo.ledger.find(Certificate, one.id)
    assert monthly is not None and monthly.minutes == minutes_of(a_month)
    assert all(county_date(r.started_at) == r.day for r in a_month)


# Over HTTP ---------------------------------------------------------------------------------


def test_over_http_a_certificate_is_issued_read_as_json_and_pdf_and_checked_with_no_key(
    api: Harness, demo: CertifiedDemo
) -> None:
    volunteer = demo.volunteer(1)
    start, end = demo.period(volunteer)
    period = {"from": start.isoformat(), "to": end.isoformat()}
    path = f"/v1/volunteers/{volunteer}/certificates"
    mine = api.staff.auth(api.volunteer_key(str(volunteer)))
    assert api.client.get(f"/v1/volunteers/{volunteer}/certificate", headers=mine).status_code == 404  # none yet

    demo.catch_up()
    issued = api.client.post(path, json=period, headers=mine)  # the volunteer asks for their own
    assert issued.status_code == 201, issued.text
    location = issued.headers["Location"]
    answer = api.client.get(location, headers=api.staff.auth("coordinator"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = demo.visits[volunteer]
    assert body["id"] == issued.json()["id"] and body["volunteer_id"] == str(volunteer)
    assert body["minutes"] == minutes_of(rows) and body["visits"] == len(rows)
    assert body["period"] == period and body["issuer"] == "涟水县委老干部局"
    assert body["record"]["state"] == "unchanged", body["record"]
    assert body["check_url"].endswith(f"/v1/certificates/{body['code']}")
    assert api.client.get(f"/v1/volunteers/{volunteer}/certificate", headers=mine).json()["code"] == body["code"]

    pdf = api.client.get(location, headers={**mine, "Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    hours = body["minutes"] // 60
    assert "志愿服务记录证明" in text and f"{hours} 小时" in text and f"共 {body['minutes']} 分钟" in text
    assert body["printed_code"] in text and body["name"] in text and "涟水县委老干部局" in text
    assert api.client.get(location + "&format=pdf", headers=mine).content == pdf.content  # the same bytes

    public = api.client.get(f"/v1/certificates/{body['code']}")  # no key at all
    assert public.status_code == 200, public.text
    shown = public.json()
    assert shown["genuine"] is True and shown["name"] == body["name"] and shown["hours"] == body["hours"]
    assert not {"id", "volunteer_id", "visit_ids", "county", "check_url"} & set(shown)
    assert str(volunteer) not in public.text
    assert api.client.get(f"/v1/certificates/{body['printed_code'].lower()}").status_code == 200
    altered = body["code"][:-1] + ("0" if body["code"][-1] != "0" else "1")
    refused = api.client.get(f"/v1/certificates/{altered}")
    assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["genuine"] is False


def test_only_the_bureau_s_roles_and_the_volunteer_themself_issue_and_read_certificates(
    api: Harness, demo: CertifiedDemo
) -> None:
    volunteer, other = demo.volunteer(2), demo.volunteer(3)
    start, end = demo.period(volunteer)
    period = {"from": start.isoformat(), "to": end.isoformat()}
    path = f"/v1/volunteers/{volunteer}/certificates"
    before = api.events()
    for who in ("finance", "auditor", "evaluator", api.volunteer_key(str(other))):
        response = api.client.post(path, json=period, headers=api.staff.auth(who))
        assert response.status_code == 403, (who, response.text)
        assert api.client.get(f"/v1/volunteers/{volunteer}/certificate", headers=api.staff.auth(who)).status_code == 403
    assert api.client.post(path, json=period).status_code == 401
    assert api.events() == before
    for who in ("coordinator", "admin"):
        demo.catch_up()
        assert api.client.post(path, json=period, headers=api.staff.auth(who)).status_code == 201


def test_refused_requests_over_http_are_problems_and_write_nothing(api: Harness, demo: CertifiedDemo) -> None:
    volunteer = demo.volunteer(4)
    path = f"/v1/volunteers/{volunteer}/certificates"
    coordinator = api.staff.auth("coordinator")
    demo.catch_up()
    before = api.events()
    today = county_date(demo.clock.now)
    cases = [
        ({"from": "2020-01-01", "to": "2020-12-31"}, 409, "certificate.no_service"),
        ({"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}, 422, None),
        ({"from": "2025-03-01", "to": "2025-02-01"}, 422, None),
        ({"from": "2025-03-01"}, 422, None),
    ]
    for body, status, rule in cases:
        response = api.client.post(path, json=body, headers=coordinator)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json().get("rule") == rule
    unknown = "00000000-0000-4000-8000-000000000000"
    response = api.client.post(
        f"/v1/volunteers/{unknown}/certificates", json={"from": "2025-01-01", "to": "2025-01-31"}, headers=coordinator
    )
    assert response.status_code == 404
    assert api.events() == before
    one_end = api.client.get(f"/v1/volunteers/{volunteer}/certificate?from=2025-01-01", headers=coordinator)
    assert one_end.status_code == 422
    none = api.client.get(f"/v1/volunteers/{volunteer}/certificate?from=2025-01-01&to=2025-01-31", headers=coordinator)
    assert none.status_code == 404 and "POST" in none.json()["detail"]


def test_a_visit_voided_after_issue_makes_the_public_check_say_the_record_changed(
    api: Harness, demo: CertifiedDemo
) -> None:
    volunteer = demo.volunteer(5)
    start, end = demo.period(volunteer)
    staff = api.staff
    demo.catch_up()
    staff.post(f"/v1/volunteers/{volunteer}/certificates", {"from": str(start), "to": str(end)}, "coordinator")
    body = api.client.get(f"/v1/volunteers/{volunteer}/certificate", headers=staff.auth("coordinator")).json()
    visit = demo.visits[volunteer][0]
    unlocked = api.client.post(
        f"/v1/visits/{visit.visit_id}/unlock", json={"reason": "核查"}, headers=staff.auth("coordinator")
    )
    assert unlocked.status_code in (200, 409), unlocked.text  # 409: not locked (nothing to unlock)
    staff.post(f"/v1/visits/{visit.visit_id}/void", {"reason_code": "entered_in_error"}, "coordinator")

    checked = api.client.get(f"/v1/certificates/{body['code']}?lang=en")
    assert checked.status_code == 200, checked.text
    record = checked.json()["record"]
    served = minutes_of([visit])
    assert record["state"] == "changed" and record["visits_no_longer_counted"] == 1
    assert record["minutes_now"] == body["minutes"] - served and record["visits_now"] == body["visits"] - 1
    assert {
        "field": "minutes",
        "label": "service minutes",
        "at_issue": body["minutes"],
        "now": body["minutes"] - served,
    } in record["changes"]
    assert record["summary"].startswith("the record changed since issue")
    assert checked.json()["minutes"] == body["minutes"]  # the certificate says what it said
    zh = api.client.get(f"/v1/certificates/{body['code']}").json()["record"]["summary"]
    assert zh.startswith("签发后记录已变更") and "1 次服务不再计入" in zh
