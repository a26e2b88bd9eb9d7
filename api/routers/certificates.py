"""Service-record certificates (志愿服务记录证明): issue one, read it as JSON or PDF, and check a code in public.

- ``POST /v1/volunteers/{id}/certificates`` ``{from, to}`` issues a certificate of the period
  (coordinator, admin; a volunteer's key: its own) and answers ``{id, version, position}`` like every
  write, with ``Location`` naming the certificate to read. The volunteer's visits are found by the
  audit read model (an index of every visit by volunteer and time), once it has caught up with the
  ledger's head as the request came in (a bounded wait; 503 if it does not), and each one is checked
  against the ledger itself (:meth:`ledger.application.Ledger.issue_certificate`).
- ``GET /v1/volunteers/{id}/certificate?from=&to=`` answers the **latest certificate issued** for
  exactly that period (without ``from`` and ``to``: the latest of any period): JSON, or the printable
  PDF with ``Accept: application/pdf`` or ``?format=pdf``. A GET never issues: a period with no
  certificate yet is 404, saying to ``POST`` for one (a certificate is an act of the bureau, recorded
  as an event; a link followed, a page prefetched or a crawler must not make one).
- ``GET /v1/certificates/{code}`` needs **no key**: anyone holding a printed certificate checks it.
  It answers what the certificate certifies (period, hours, visits by kind, when and by whom it was
  issued, the name as printed) and nothing else of the person, and whether the record changed since:
  the verified service is computed again from the visits as they are now and compared with the
  certificate's digest. A code no certificate bears (mistyped, altered, made up) is 404: not genuine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.certificate_pdf import certificate_pdf, printed_name
from api.deps import Read, Services, Write, check_own, creator, reader
from api.export import attachment
from api.labels import Language
from api.problems import ApiError
from api.reads import ReadModelUnavailable
from api.schemas import ERROR_TEXT, READ_ERRORS, WRITE_ERRORS, Day, ProblemOut, WrittenOut
from ledger.application import Ledger
from ledger.certificates import (
    TITLE,
    Certificate,
    CertificateRegister,
    RecordCheck,
    ServiceCandidates,
    certificate_id,
    grouped,
    normalise_code,
    period_bounds,
    register_id,
)
from ledger.common import county_date
from ledger.errors import InvalidInput
from ledger.labels import Lang, label
from ledger.store import store_errors_translated
from ledger.visits import VisitKind, VisitStatus
from projections.audit import AuditView

router = APIRouter(tags=["certificates"])

AUDIT = "audit"
ISSUERS = ("coordinator", "admin", "volunteer")
PDF = "application/pdf"
RECORD_STATES = ("unchanged", "changed", "not_known")


class NotGenuine(ApiError):
    """No certificate bears the code: it is not genuine (or was mistyped)."""

    status, slug = 404, "certificate-not-genuine"


class NotIssued(ApiError):
    """No certificate of that volunteer and period has been issued."""

    status, slug = 404, "not-found"


# Schemas -----------------------------------------------------------------------------------


class CertificateIn(BaseModel):
    date_from: Annotated[Day, Field(alias="from", description="the period's first day (county date)")]
    date_to: Annotated[Day, Field(alias="to", description="the period's last day, included; today at the latest")]

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": "2025-01-01", "to": "2025-12-31"}]},
    )


class CertificatePeriodOut(BaseModel):
    date_from: Annotated[dt.date, Field(alias="from", description="the first day (county date)")]
    date_to: Annotated[dt.date, Field(alias="to", description="the last day, included")]

    model_config = ConfigDict(
        populate_by_name=True, json_schema_extra={"examples": [{"from": "2025-01-01", "to": "2025-12-31"}]}
    )


class CertificateKindOut(BaseModel):
    kind: str
    label: Annotated[str, Field(description="the kind in the language asked for (?lang=zh|en)")]
    count: int

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "medical", "label": "医疗服务", "count": 14}]})


class CertificateChangeOut(BaseModel):
    field: Annotated[str, Field(description="`minutes`, or `visits.<kind>`")]
    label: str
    at_issue: int
    now: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"field": "minutes", "label": "服务时长（分钟）", "at_issue": 1830, "now": 1785}]
        }
    )


class CertificateRecordOut(BaseModel):
    """The record now beside what the certificate certifies."""

    state: Annotated[
        str,
        Field(
            description="unchanged: the visits now give exactly what was certified; changed: they do not "
            "(see `changes`); not_known: the index of visits is behind the certificate, so visits added since "
            "cannot be seen",
            json_schema_extra={"enum": list(RECORD_STATES)},
        ),
    ]
    summary: Annotated[str, Field(description="in the language asked for")]
    as_of_position: Annotated[int | None, Field(description="the log position the visits were found as of")]
    minutes_now: int
    visits_now: int
    changes: list[CertificateChangeOut]
    visits_no_longer_counted: Annotated[int, Field(description="counted at issue; voided, disputed or moved since")]
    visits_newly_counted: Annotated[int, Field(description="counting now, not at issue (confirmed or moved since)")]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "state": "changed",
                    "summary": "签发后记录已变更：服务时长（分钟） 1830 → 1785；医疗服务 14 → 13；1 次服务不再计入",
                    "as_of_position": 42611, "minutes_now": 1785, "visits_now": 30,
                    "changes": [{"field": "minutes", "label": "服务时长（分钟）", "at_issue": 1830, "now": 1785}],
                    "visits_no_longer_counted": 1, "visits_newly_counted": 0,
                }
            ]
        }
    )  # fmt: skip


PUBLIC_EXAMPLE: dict[str, Any] = {
    "genuine": True, "code": "7KQ2MX9D4T", "printed_code": "7KQ2M-X9D4T", "title": TITLE, "name": "李芳",
    "name_withheld": None, "period": {"from": "2025-01-01", "to": "2025-12-31"}, "minutes": 1830, "hours": "30.50",
    "visits": 31,
    "visits_by_kind": [
        {"kind": "medical", "label": "医疗服务", "count": 14},
        {"kind": "emotional", "label": "精神慰藉", "count": 6},
        {"kind": "daily_living", "label": "生活照料", "count": 3},
        {"kind": "phone_call", "label": "电话问候", "count": 8},
    ],
    "issuer": "涟水县委老干部局", "issued_at": "2026-03-01T01:00:00Z", "issued_on": "2026-03-01",
    "digest": "5d41402abc4b2a76b9719d911017c592ae3a1ba5e6c2d1f0c9e1b8a7d6c5b4a3",
    "record": {
        "state": "unchanged", "summary": "签发后记录未变更", "as_of_position": 42611, "minutes_now": 1830,
        "visits_now": 31, "changes": [], "visits_no_longer_counted": 0, "visits_newly_counted": 0,
    },
}  # fmt: skip


class CertificateCheckOut(BaseModel):
    """What a genuine certificate certifies, for anyone holding its code: no personal data but the name printed."""

    genuine: Annotated[bool, Field(description="always true here: a code no certificate bears is 404")]
    code: str
    printed_code: Annotated[str, Field(description="the code as printed, in two groups")]
    title: str
    name: Annotated[str | None, Field(description="the volunteer's name as printed at issue")]
    name_withheld: Annotated[
        str | None, Field(description="why the name is no longer shown (the person was forgotten)")
    ]
    period: CertificatePeriodOut
    minutes: Annotated[int, Field(description="verified service time, in whole minutes")]
    hours: Annotated[str, Field(description="the same in hours, to the hundredth (rounded down)")]
    visits: int
    visits_by_kind: list[CertificateKindOut]
    issuer: str
    issued_at: dt.datetime
    issued_on: Annotated[dt.date, Field(description="the county date it was issued")]
    digest: Annotated[str, Field(description="SHA-256 of the certified facts (docs/certificates.md)")]
    record: CertificateRecordOut

    model_config = ConfigDict(json_schema_extra={"examples": [PUBLIC_EXAMPLE]})


class CertificateOut(CertificateCheckOut):
    """A certificate as its volunteer and the bureau read it: what it certifies, which visits, and where to check it."""

    id: UUID
    volunteer_id: UUID
    county: str
    position: Annotated[int, Field(description="the log position the visits were found as of when it was issued")]
    visit_ids: Annotated[list[UUID], Field(description="the visits it counts")]
    check_url: Annotated[str, Field(description="where anyone may check it, with no key")]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **PUBLIC_EXAMPLE, "id": "50693146-52fa-58f7-9cff-12bf4fcd25a8",
                    "volunteer_id": "5a9d3c1e-8e2f-4c6b-b1a7-2f3e4d5c6b7a", "county": "lianshui", "position": 42611,
                    "visit_ids": ["6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10"],
                    "check_url": "https://tiexin.example/v1/certificates/7KQ2MX9D4T",
                }
            ]
        }
    )  # fmt: skip


# Reading the record ------------------------------------------------------------------------


def audit_view(services: Services) -> AuditView:
    side = services.reads
    view = side.view(AUDIT) if side is not None else None
    if view is None:
        raise ReadModelUnavailable("the audit read model, which finds a volunteer's visits, is not open here")
    found: AuditView = view
    return found


def candidates_in(view: AuditView) -> Callable[[UUID, dt.date, dt.date], ServiceCandidates]:
    """The ledger's ``candidates``: a volunteer's unvoided visits of a period in the audit view, and its position."""

    def candidates(volunteer_id: UUID, date_from: dt.date, date_to: dt.date) -> ServiceCandidates:
        with store_errors_translated("the read models' store"):
            found = view.visits_of_volunteer(volunteer_id, *period_bounds(date_from, date_to))
        ids = tuple(v.visit_id for v in found.visits if v.status != VisitStatus.VOIDED)
        return ServiceCandidates(found.position, ids)

    return candidates


def record_check(ledger: Ledger, view: AuditView | None, certificate: Certificate) -> tuple[RecordCheck, int | None]:
    """The certificate beside its visits now: those it counted, and any the audit view finds in its period
    (with the view's position; None without a view: then visits added since are not seen)."""
    ids = list(certificate.visit_ids)
    position = None
    if view is not None:
        found = candidates_in(view)(certificate.volunteer_id, certificate.date_from, certificate.date_to)
        position, ids = found.position, [*ids, *found.visit_ids]
    with store_errors_translated("the event store"):
        now = ledger.service_facts(certificate.volunteer_id, certificate.date_from, certificate.date_to, ids)
    return certificate.check(now), position


def services_check(services: Services, certificate: Certificate) -> tuple[RecordCheck, int | None]:
    side = services.reads
    return record_check(services.ledger, side.view(AUDIT) if side is not None else None, certificate)


MINUTES_LABEL = {"zh": "服务时长（分钟）", "en": "service minutes"}


def change_label(field: str, lang: Lang) -> str:
    if field == "minutes":
        return MINUTES_LABEL[lang]
    return label(VisitKind, field.removeprefix("visits."), lang)


def record_out(check: RecordCheck, position: int | None, issued_position: int, lang: Lang) -> CertificateRecordOut:
    changes = [CertificateChangeOut(field=c.field, label=change_label(c.field, lang), at_issue=c.at_issue, now=c.now)
               for c in check.changes]  # fmt: skip
    if not check.unchanged:
        state = "changed"
    elif position is not None and position >= issued_position:
        state = "unchanged"
    else:
        state = "not_known"
    return CertificateRecordOut(
        state=state,
        summary=summary(state, changes, check, lang),
        as_of_position=position,
        minutes_now=check.now.minutes,
        visits_now=check.now.visits,
        changes=changes,
        visits_no_longer_counted=check.no_longer_counted,
        visits_newly_counted=check.newly_counted,
    )


def summary(state: str, changes: list[CertificateChangeOut], check: RecordCheck, lang: Lang) -> str:
    zh = lang == "zh"
    if state == "unchanged":
        return "签发后记录未变更" if zh else "the record is unchanged since issue"
    if state == "not_known":
        return (
            "服务记录索引尚未更新到签发时的位置，暂无法判断签发后是否新增服务"
            if zh
            else "the index of visits is behind the certificate: visits added since cannot be seen yet"
        )
    parts = [f"{c.label} {c.at_issue} → {c.now}" for c in changes]
    if check.no_longer_counted:
        n = check.no_longer_counted
        parts.append(f"{n} 次服务不再计入" if zh else f"{n} visit{'s' if n > 1 else ''} no longer counted")
    if check.newly_counted:
        n = check.newly_counted
        parts.append(f"新增计入 {n} 次服务" if zh else f"{n} visit{'s' if n > 1 else ''} newly counted")
    return ("签发后记录已变更：" + "；".join(parts)) if zh else ("the record changed since issue: " + "; ".join(parts))


def public_fields(certificate: Certificate, record: CertificateRecordOut, lang: Lang) -> dict[str, Any]:
    facts = certificate.facts()
    name = printed_name(certificate)
    return {
        "genuine": True,
        "code": certificate.code,
        "printed_code": grouped(certificate.code),
        "title": TITLE,
        "name": name,
        "name_withheld": None if name is not None else "forgotten",
        "period": CertificatePeriodOut(date_from=facts.date_from, date_to=facts.date_to),
        "minutes": facts.minutes,
        "hours": str(facts.hours),
        "visits": facts.visits,
        "visits_by_kind": [
            CertificateKindOut(kind=k, label=label(VisitKind, k, lang), count=n)
            for k, n in facts.visits_by_kind.items()
        ],
        "issuer": certificate.issuer,
        "issued_at": certificate.issued_at,
        "issued_on": county_date(certificate.issued_at),
        "digest": certificate.digest,
        "record": record,
    }


def find(services: Services, cls: type[Any], ident: UUID) -> Any:
    with store_errors_translated("the event store"):
        return services.ledger.find(cls, ident)


def check_url(request: Request, code: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/v1/certificates/{code}"


# Routes ------------------------------------------------------------------------------------

CertificateCreate = Annotated[Write, Depends(creator(*ISSUERS))]
CertificateRead = Annotated[Read, Depends(reader(*ISSUERS))]
FromQuery = Annotated[Day | None, Query(alias="from", description="the period's first day (with `to`)")]
ToQuery = Annotated[Day | None, Query(alias="to", description="the period's last day (with `from`)")]
FormatQuery = Annotated[
    str | None, Query(pattern="^(json|pdf)$", description="json or pdf (default: by the Accept header, else json)")
]


@router.post(
    "/v1/volunteers/{volunteer_id}/certificates",
    status_code=201,
    response_model=WrittenOut,
    responses=WRITE_ERRORS,
)
async def issue(volunteer_id: UUID, body: CertificateIn, write: CertificateCreate) -> JSONResponse:
    """Issue a service-record certificate of a period (coordinator, admin; a volunteer: its own)."""
    check_own(write.principal, volunteer_id, "certificate")
    services = write.services
    view = audit_view(services)
    await caught_up(services)
    location = f"/v1/volunteers/{volunteer_id}/certificate?from={body.date_from}&to={body.date_to}"
    answer: JSONResponse = await run_in_threadpool(
        write.run,
        lambda by: write.ledger.issue_certificate(
            volunteer_id, date_from=body.date_from, date_to=body.date_to, candidates=candidates_in(view), by=by
        ),
        created=True,
        location=location,
    )
    return answer


async def caught_up(services: Services) -> None:
    """Wait (bounded) until the audit view has applied the log up to its head as of now; 503 if it does not."""
    side = services.reads
    assert side is not None

    def head() -> int:
        with store_errors_translated("the event store"):
            return services.ledger.recorder.max_notification_id() or 0

    target = await run_in_threadpool(head)
    await side.wait_for(AUDIT, target, services.settings.read_wait_max)
    position = await run_in_threadpool(side.position, AUDIT)
    if position < target:
        raise ReadModelUnavailable(
            f"the audit read model, which finds a volunteer's visits, is at log position {position}, behind the "
            f"ledger's {target}: a certificate issued now could miss visits; retry shortly",
            headers={"Retry-After": "5"},
        )


@router.get(
    "/v1/volunteers/{volunteer_id}/certificate",
    response_model=CertificateOut,
    responses={
        **READ_ERRORS,
        200: {
            "description": "the certificate as JSON, or as a printable PDF (Accept: application/pdf or ?format=pdf)",
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def read_certificate(
    volunteer_id: UUID,
    read: CertificateRead,
    request: Request,
    lang: Language,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    format: FormatQuery = None,
) -> Any:
    """The latest certificate issued for a period, as JSON or PDF (coordinator, admin; a volunteer: its own)."""
    check_own(read.principal, volunteer_id, "certificate")
    if (date_from is None) != (date_to is None):
        raise InvalidInput("to", "give both `from` and `to` (a period), or neither (the latest certificate)")
    register = find(read.services, CertificateRegister, register_id(volunteer_id))
    entry = register.latest(date_from, date_to) if register is not None else None
    certificate = find(read.services, Certificate, entry.certificate_id) if entry is not None else None
    if certificate is None:
        period = f" for {date_from} to {date_to}" if date_from is not None else ""
        raise NotIssued(
            f"no certificate of volunteer {volunteer_id}{period} has been issued; "
            f"POST /v1/volunteers/{volunteer_id}/certificates issues one"
        )
    url = check_url(request, certificate.code)
    if format == "pdf" or (format is None and PDF in request.headers.get("accept", "")):
        content = certificate_pdf(certificate, url)
        headers = {"Content-Disposition": attachment(f"certificate-{certificate.code}.pdf")}
        return Response(content, media_type=PDF, headers=headers)
    check, position = services_check(read.services, certificate)
    return CertificateOut(
        **public_fields(certificate, record_out(check, position, certificate.position, lang), lang),
        id=certificate.id,
        volunteer_id=certificate.volunteer_id,
        county=certificate.county,
        position=certificate.position,
        visit_ids=sorted(certificate.visit_ids, key=str),
        check_url=url,
    )


@router.get(
    "/v1/certificates/{code}",
    response_model=CertificateCheckOut,
    responses={
        404: {"model": ProblemOut, "description": "no certificate bears this code: it is not genuine"},
        422: {"model": ProblemOut, "description": ERROR_TEXT[422]},
        503: {"model": ProblemOut, "description": ERROR_TEXT[503]},
    },
)
def check_certificate(code: str, lang: Language, request: Request) -> CertificateCheckOut:
    """Check a certificate's code (no key needed): genuine or not, what it certifies, and whether the record changed."""
    services: Services = request.app.state.services
    normal = normalise_code(code)
    certificate = find(services, Certificate, certificate_id(normal)) if normal is not None else None
    if certificate is None or not certificate.intact:
        raise NotGenuine(
            "no certificate bears this check code: it is not genuine (check the code as printed: 10 letters and "
            "digits)",
            genuine=False,
        )
    check, position = services_check(services, certificate)
    return CertificateCheckOut(
        **public_fields(certificate, record_out(check, position, certificate.position, lang), lang)
    )
