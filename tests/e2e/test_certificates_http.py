"""A service-record certificate through real HTTP and the real CLI: `tiexin serve` on a free loopback port.

A volunteer asks for their certificate of last month with their own key, downloads it as a PDF (read
back by text extraction), and anyone checks its code with no key; a changed code is not genuine. A
visit voided afterwards makes the check say the record changed, and `tiexin certificate check` says
the same from the command line, where `tiexin certificate issue --pdf` issues another. On a SQLite
file (the read models in the server's process) and on PostgreSQL (two workers, the read models in a
`tiexin projections run` beside them).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from pypdf import PdfReader

from ledger.common import COUNTY_TZ
from tests.conftest import fresh_postgres_schema
from tests.e2e.test_api_year import Client, Server, serving


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "sqlite":
        with serving("sqlite:///tiexin.db", tmp_path) as server:
            yield server
    else:
        with fresh_postgres_schema("e2e_cert") as url, serving(url, tmp_path, workers=2, projections=True) as server:
            yield server


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def last_month() -> tuple[date, date]:
    first_of_this = datetime.now(COUNTY_TZ).date().replace(day=1)
    end = first_of_this - timedelta(days=1)
    return end.replace(day=1), end


def test_a_certificate_s_code_verifies_in_public_and_a_changed_code_does_not(running: Server) -> None:
    start, end = last_month()
    coordinator = Client(running, running.key("coordinator", "coord-wang"))
    anyone = Client(running, None)
    elder = coordinator.post(
        "/v1/elders",
        {"name": "王德明", "birth_date": "1931-04-12", "sex": "male", "township": "高沟镇",
         "address": "高沟镇幸福路12号", "phone": "13805170000"},
        201,
    ).json()  # fmt: skip
    volunteer = coordinator.post(
        "/v1/volunteers",
        {"name": "李芳", "unit": "涟水县人民医院", "profession": "nurse", "phone": "13905170000", "township": "高沟镇"},
        201,
    ).json()
    li = Client(running, running.key("volunteer", "vol-li", "--volunteer", volunteer["id"]))
    pairing = coordinator.post(
        "/v1/pairings",
        {"volunteer_id": volunteer["id"], "elder_id": elder["id"], "group": "高沟镇第1组", "from_date": str(start)},
        201,
    ).json()
    visits = []
    for day, kind, minutes in ((2, "medical", 50), (9, "phone_call", 25)):
        begin = datetime.combine(start + timedelta(days=day), datetime.min.time(), COUNTY_TZ).replace(hour=10)
        phone = kind == "phone_call"
        body = {
            "pairing_id": pairing["id"], "kind": kind, "services": ["chat"] if phone else ["blood_pressure"],
            "readings": {} if phone else {"systolic": 138, "diastolic": 86}, "started_at": begin.isoformat(),
            "ended_at": (begin + timedelta(minutes=minutes)).isoformat(), "township": "高沟镇",
            "distance_band": "remote" if phone else "at_home",
        }  # fmt: skip
        visits.append(li.post("/v1/visits", body, 201).json()["id"])
        coordinator.post(f"/v1/visits/{visits[-1]}/confirmation", {"by": "elder", "method": "signature"}, 200)

    issued = li.post(f"/v1/volunteers/{volunteer['id']}/certificates", {"from": str(start), "to": str(end)}, 201)
    location = issued.headers["Location"]
    certificate = li.get(location, 200).json()
    assert certificate["minutes"] == 75 and certificate["hours"] == "1.25" and certificate["visits"] == 2
    assert {k["kind"]: k["count"] for k in certificate["visits_by_kind"]}["phone_call"] == 1
    code = certificate["code"]

    pdf = li.http.get(location, headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text
    text = text_of(pdf.content)
    assert "志愿服务记录证明" in text and "1 小时 15 分钟" in text and "共 75 分钟" in text
    assert "李芳" in text and certificate["printed_code"] in text and f"/v1/certificates/{code}" in text

    checked = anyone.get(f"/v1/certificates/{code}", 200).json()  # no key
    assert checked["genuine"] is True and checked["name"] == "李芳" and checked["minutes"] == 75
    assert checked["record"]["state"] == "unchanged"
    assert "13905170000" not in str(checked) and volunteer["id"] not in str(checked)
    for changed in (code[:-1] + ("0" if code[-1] != "0" else "1"), code[1:] + code[0], code + "0"):
        refused = anyone.get(f"/v1/certificates/{changed}", 404)
        assert refused.json()["genuine"] is False
    assert httpx2.get(f"{running.base}/v1/certificates/{code}", timeout=30).status_code == 200

    coordinator.post(f"/v1/visits/{visits[1]}/unlock", {"reason": "核查"})  # 409 while last month is still open
    coordinator.post(f"/v1/visits/{visits[1]}/void", {"reason_code": "entered_in_error"}, 200)
    record = anyone.get(f"/v1/certificates/{code}", 200).json()["record"]
    assert record["state"] == "changed" and record["minutes_now"] == 50 and record["visits_no_longer_counted"] == 1
    assert "签发后记录已变更" in record["summary"]

    check = running.tiexin("certificate", "check", certificate["printed_code"])
    assert check.returncode == 0, check.stderr
    assert "genuine" in check.stdout and "changed since issue" in check.stdout and "minutes: 75 → 50" in check.stdout
    assert running.tiexin("certificate", "check", code[::-1]).returncode == 1

    out = running.cwd / "certificate.pdf"
    again = running.tiexin(
        "certificate", "issue", "--volunteer", volunteer["id"], "--from", str(start), "--to", str(end),
        "--pdf", str(out), "--check-url", running.base,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "50 minutes" in again.stdout
    assert "志愿服务记录证明" in text_of(out.read_bytes()) and "50 分钟" in text_of(out.read_bytes())
    latest = li.get(f"/v1/volunteers/{volunteer['id']}/certificate", 200).json()
    assert latest["code"] != code and latest["minutes"] == 50 and latest["record"]["state"] == "unchanged"
