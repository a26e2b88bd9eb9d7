"""What a route depends on: the services, the caller's key and role, and the context of a write.

Routes declare their caller with one alias (``CoordinatorWrite``, ``VisitReader``…): the
dependency authenticates the key (401), checks the role (403), reads the write headers
(``Idempotency-Key``, ``If-Match``, ``X-Correlation-ID``; 400 when malformed) and hands the
route a :class:`Write` whose ``run`` records the principal as the events' provenance and replays
idempotent requests. ``If-Match`` is :attr:`Write.if_match`: a route on one existing record passes
it to its command as ``expected_version``, checked where the command loads the record.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import Depends, Header, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.idempotency import Answer, IdempotencyStore, Keyed, fingerprint
from api.keys import KeyStore, Principal
from api.problems import CORRELATION_SCOPE_KEY, SANE_HEADER, BadRequest, Forbidden, Unauthorized
from api.service import find_write
from api.settings import ApiSettings
from ledger.application import Ledger, Written
from ledger.common import Provenance
from ledger.store import store_errors_translated

if TYPE_CHECKING:
    from api.readside import ReadSide


@dataclass
class Services:
    """Everything the routes share, built once per process by :func:`api.app.create_app`."""

    settings: ApiSettings
    ledger: Ledger
    keys: KeyStore
    idempotency: IdempotencyStore
    reads: ReadSide | None = None
    """The read models (:func:`api.readside.open_read_side`, at startup); None until then."""

    def wake_reads(self, position: int | None = None) -> None:
        """A write succeeded here (at log ``position``): in-process read models apply it now."""
        if self.reads is not None:
            self.reads.wake(position)

    def close(self) -> None:
        if self.reads is not None:
            self.reads.close()
            self.reads = None
        self.ledger.close()
        self.keys.tables.close()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


bearer = HTTPBearer(auto_error=False, description="An API key made with `tiexin keys create`.")


def principal_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller's key (401 when missing, unknown or revoked); may read the key store."""
    if credentials is None:
        raise Unauthorized("send an API key: `Authorization: Bearer <key>` (keys are made with `tiexin keys create`)")
    principal = services(request).keys.authenticate(credentials.credentials)
    if principal is None:
        raise Unauthorized("the API key is unknown or has been revoked")
    return principal


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller's key: from the keys found valid in the last second, else read in a worker thread."""
    recent = services(request).keys.recently_authenticated(credentials.credentials) if credentials else None
    if recent is not None:
        return recent
    return await run_in_threadpool(principal_of, request, credentials)


Authenticated = Annotated[Principal, Depends(authenticate)]


def check_role(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.role not in roles:
        raise Forbidden(
            f"a {principal.role} key may not do this; it takes a key of role {' or '.join(roles)}",
            role=principal.role,
        )


def check_own(principal: Principal, volunteer_id: UUID, what: str = "record") -> None:
    """A volunteer's key reaches only that volunteer's records."""
    if principal.role == "volunteer" and principal.volunteer_id != volunteer_id:
        raise Forbidden(f"this volunteer's key reaches only their own records; the {what} is another volunteer's")


# Reads ---------------------------------------------------------------------------------------


@dataclass
class Read:
    services: Services
    principal: Principal

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger


def reader(*roles: str) -> Callable[..., Read]:
    def dependency(request: Request, principal: Authenticated) -> Read:
        check_role(principal, roles)
        return Read(services(request), principal)

    return dependency


def etag(version: int) -> str:
    return f'"{version}"'


# Writes --------------------------------------------------------------------------------------

_ETAG = re.compile(r'^\s*"(\d{1,18})"\s*$')


@dataclass
class Write:
    services: Services
    principal: Principal
    provenance: Provenance
    keyed: Keyed | None
    if_match: int | None
    """The version ``If-Match`` names: the route hands it to its command as ``expected_version``."""

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    def run(
        self,
        command: Callable[[Provenance], Written],
        *,
        created: bool = False,
        target: UUID | None = None,
        location: str | None = None,
    ) -> JSONResponse:
        """Run a command as this caller: 201 (``created``) or 200 with ``{id, version, position}``.

        ``target`` is the record the path names, the one ``If-Match`` is about (the command checks
        it, given ``expected_version=write.if_match``); ``location`` a template (``/v1/elders/{id}``)
        for the new record's address.
        """
        if self.if_match is not None and target is None:
            raise BadRequest("If-Match applies to a write on one existing record", field="If-Match")
        job = _Job(self, command, 201 if created else 200, location)
        if self.keyed is None:
            answer, replayed = job.execute(), False
        else:
            answer, replayed = self.services.idempotency.run(self.keyed, job.status, job)
        if not replayed:
            position = answer.body.get("position")
            self.services.wake_reads(position if isinstance(position, int) else None)
        headers = {**answer.headers, **({"Idempotent-Replayed": "true"} if replayed else {})}
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@dataclass
class _Job:
    write: Write
    command: Callable[[Provenance], Written]
    status: int
    location: str | None

    def execute(self) -> Answer:
        return self._answer(self.command(self.write.provenance), self.status)

    def log_position(self) -> int:
        with store_errors_translated("the event store"):
            return self.write.ledger.recorder.max_notification_id() or 0

    def recover(self, since: int, status: int) -> Answer | None:
        keyed = self.write.keyed
        assert keyed is not None
        written = find_write(self.write.ledger, since=since, principal_id=keyed.principal_id, key=keyed.key)
        return None if written is None else self._answer(written, status)

    def _answer(self, written: Written, status: int) -> Answer:
        if written.position is None:
            raise RuntimeError("a write outside a batch always has a log position")
        headers = {"ETag": etag(written.version)}
        if self.location and status == 201:
            headers["Location"] = self.location.format(id=written.id)
        return Answer(
            status, {"id": str(written.id), "version": written.version, "position": written.position}, headers
        )


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any unique text (1–200 visible ASCII characters, e.g. a UUID). Repeating a request with "
        "the same key and body returns the first answer and writes nothing; the same key with another body is 409.",
        json_schema_extra={"pattern": "^[!-~]{1,200}$"},
    ),
]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The record\'s ETag (its version, e.g. "3") as last read; 412 if it moved on. `*`: no condition.',
        json_schema_extra={"pattern": '^("[0-9]{1,18}"|\\*)$'},
    ),
]
CreateIfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="A new record has no version to match: `*` (no condition) or nothing; an entity tag is 400.",
        json_schema_extra={"pattern": "^\\*$"},
    ),
]
CorrelationHeader = Annotated[
    str | None,
    Header(alias="X-Correlation-ID", description="Recorded on the events this request writes, and echoed back."),
]


def writer(*roles: str) -> Callable[..., Awaitable[Write]]:
    """A write to an existing record, which ``If-Match`` may condition on its version."""

    async def dependency(
        request: Request,
        principal: Authenticated,
        idempotency_key: IdempotencyKeyHeader = None,
        if_match: IfMatchHeader = None,
        correlation_id: CorrelationHeader = None,
    ) -> Write:
        return await _write(request, principal, roles, idempotency_key, if_match, correlation_id)

    return dependency


def creator(*roles: str) -> Callable[..., Awaitable[Write]]:
    """A write that makes a new record: the same, documented as taking no entity tag in ``If-Match``."""

    async def dependency(
        request: Request,
        principal: Authenticated,
        idempotency_key: IdempotencyKeyHeader = None,
        if_match: CreateIfMatchHeader = None,
        correlation_id: CorrelationHeader = None,
    ) -> Write:
        return await _write(request, principal, roles, idempotency_key, if_match, correlation_id)

    return dependency


async def _write(
    request: Request,
    principal: Principal,
    roles: tuple[str, ...],
    idempotency_key: str | None,
    if_match: str | None,
    correlation_id: str | None,
) -> Write:
    check_role(principal, roles)
    keyed = None
    if idempotency_key is not None:
        if not SANE_HEADER.match(idempotency_key):
            raise BadRequest("Idempotency-Key must be 1–200 visible ASCII characters", field="Idempotency-Key")
        body = await request.body()
        keyed = Keyed(
            principal.key_id,
            idempotency_key,
            fingerprint(request.method, request.url.path, request.url.query, body),
        )
    sent_correlation = correlation_id if request.scope.get(CORRELATION_SCOPE_KEY) == correlation_id else None
    provenance = Provenance(
        principal_id=principal.key_id,
        role=principal.role,
        idempotency_key=idempotency_key,
        correlation_id=sent_correlation,
    )
    return Write(services(request), principal, provenance, keyed, parse_if_match(if_match))


def parse_if_match(value: str | None) -> int | None:
    """``"3"`` → 3; ``*`` or none → no condition; anything else is 400."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if not match:
        raise BadRequest('If-Match must be one entity tag as given in ETag, such as "3"', field="If-Match")
    return int(match.group(1))


CoordinatorWrite = Annotated[Write, Depends(writer("coordinator"))]
VolunteerWrite = Annotated[Write, Depends(writer("volunteer"))]
EvaluatorWrite = Annotated[Write, Depends(writer("evaluator"))]
FinanceWrite = Annotated[Write, Depends(writer("finance"))]
AdminWrite = Annotated[Write, Depends(writer("admin"))]
CoordinatorCreate = Annotated[Write, Depends(creator("coordinator"))]
VolunteerCreate = Annotated[Write, Depends(creator("volunteer"))]
EvaluatorCreate = Annotated[Write, Depends(creator("evaluator"))]
FinanceCreate = Annotated[Write, Depends(creator("finance"))]
AdminCreate = Annotated[Write, Depends(creator("admin"))]
