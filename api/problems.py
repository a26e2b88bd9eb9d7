"""Every error as ``application/problem+json`` (RFC 9457), and nothing that escapes as a bare 500.

Domain errors keep their meaning: ``InvalidInput`` → 422 naming the ``field``, ``NotFound`` →
404, ``RuleViolation`` → 409 naming the ``rule``, ``VersionMismatch`` (the command's
``expected_version``, from ``If-Match``) → 412 with ``current_version``, ``ConflictError`` → 409 (rule
``concurrency.conflict``), ``DamagedRecord`` → 409 (rule ``record.damaged``, naming the record, the
version and, when known, the position: see :func:`on_damaged_record`), ``StoreUnavailable`` → 503
with ``Retry-After``. The API's own errors
(401, 403, 412, the idempotency conflicts) are :class:`ApiError`. Malformed JSON is 400, a body
that parses but does not fit the schema 422, each with the fields at fault.

:class:`Guard` is the outermost middleware of our own: it limits the body's size, gives every
request a correlation id (``X-Correlation-ID``, the client's if it sent a sane one), and turns any
exception that no handler took into a problem: a driver's error as 503, an error that reveals a
damaged record (:func:`ledger.damage.damage_in`) as that record's 409, anything else as 500. It logs
such an exception by its type and where it happened, never its message, which could hold personal
data from the request.

No problem's ``detail`` quotes a request's body: the free text of a request (reasons, comments,
notes) can name people. Validation errors name the field and the rule it broke, never the value;
and where a refusal quotes the value it refused (``'walk' is not one of …``), :func:`without_values`
keeps the quote only if it reads as a code (a short ASCII token), so a name typed into the wrong
field is not sent back, nor kept by whatever logs the answers.
"""

from __future__ import annotations

import functools
import logging
import re
import traceback
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.faults import write_health
from ledger.damage import damage_in
from ledger.errors import (
    ConflictError,
    DamagedRecord,
    InvalidInput,
    NotFound,
    RuleViolation,
    StoreUnavailable,
    TiexinError,
    VersionMismatch,
)
from ledger.store import DRIVER_MODULES

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://tiexin.example/problems/"
RETRY_AFTER_S = "5"
CORRELATION_SCOPE_KEY = "api.correlation_id"
"""Where the request's correlation id travels in the ASGI scope (an extension key of this app's own)."""
SANE_HEADER = re.compile(r"^[\x21-\x7e]{1,200}$")
"""Visible ASCII, 1 to 200 characters: what an idempotency key or a correlation id may be."""


class ApiError(Exception):
    """An error the API itself decides (auth, preconditions, idempotency), with its status."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


class BadRequest(ApiError):
    """A header or parameter is malformed (``field`` names it)."""


class Unauthorized(ApiError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="tiexin"'})


class Forbidden(ApiError):
    status, slug = 403, "forbidden"


class PreconditionFailed(ApiError):
    """``If-Match`` named a version the record has moved past; nothing was written."""

    status, slug = 412, "precondition-failed"


class IdempotencyConflict(ApiError):
    """The idempotency key was used for another request, or its first request is still running."""

    status, slug = 409, "idempotency-conflict"


class PayloadTooLarge(ApiError):
    status, slug = 413, "payload-too-large"


QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"|`([^`]*)`")
CODE_LIKE = re.compile(r"[A-Za-z0-9_.:+-]{0,40}")


def without_values(text: str) -> str:
    """``text`` with every quoted value that is not a code (a short ASCII token) replaced by ``'…'``."""

    def masked(match: re.Match[str]) -> str:
        quoted = match.group(0)
        return quoted if CODE_LIKE.fullmatch(quoted[1:-1]) else f"{quoted[0]}…{quoted[-1]}"

    return QUOTED.sub(masked, text)


def problem(
    status: int, slug: str, detail: str, *, request: Request | None = None, headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:  # fmt: skip
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


# Handlers ------------------------------------------------------------------------------------


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return problem(error.status, error.slug, error.detail, request=request, headers=error.headers, **error.extensions)


async def on_invalid_input(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidInput)
    return problem(422, "invalid-input", without_values(error.reason), request=request, field=error.field)


async def on_not_found(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotFound)
    return problem(404, "not-found", error.reason, request=request, kind=error.kind, id=str(error.ident))


async def on_rule_violation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RuleViolation)
    return problem(409, "rule-violation", without_values(error.reason), request=request, rule=error.rule)


async def on_version_mismatch(request: Request, error: Exception) -> JSONResponse:
    """The record moved past the version ``If-Match`` named (the command's ``expected_version``)."""
    assert isinstance(error, VersionMismatch)
    detail = (
        f"If-Match names version {error.expected_version}, but the record is at version {error.current_version}; "
        "read it again and decide on what it says now"
    )
    failed = PreconditionFailed(detail, current_version=error.current_version)
    return await on_api_error(request, failed)


async def on_conflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConflictError)
    return problem(409, "conflict", error.reason, request=request, rule="concurrency.conflict")


async def on_damaged_record(request: Request, error: Exception) -> JSONResponse:
    """A record whose stored events no longer load: 409 naming it, never a 500 (see docs/design.md, Errors).

    Not 5xx: nothing is wrong with the server or the store as a whole, and waiting does not heal
    the record (so no ``Retry-After``); every other record is served. 409, as the record's stored
    state conflicts with any request on it until it is restored from a backup.
    """
    assert isinstance(error, DamagedRecord)
    return damaged_record_problem(error, request.method, request.url.path, request.app)


def damaged_record_problem(error: DamagedRecord, method: str, path: str, app: Any = None) -> JSONResponse:
    metrics = getattr(getattr(app, "state", None), "metrics", None)
    if metrics is not None:
        metrics.damaged.inc()
    log.error(
        "damaged record %s: %s at version %s (position %s, %s) on %s %s",
        error.record_id, error.how, error.version, error.position, error.cause or "-", method, path,
    )  # fmt: skip
    return problem(
        409, "damaged-record", error.reason, instance=path, rule="record.damaged", id=str(error.record_id),
        version=error.version, position=error.position, damage=error.how,
    )  # fmt: skip


async def on_store_unavailable(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TiexinError)
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, error.reason)
    if request.method == "POST":
        write_health(request.app).failed(error.reason)
    return problem(
        503, "store-unavailable", "the ledger's store is unavailable; nothing is known to be written — retry later",
        request=request, headers={"Retry-After": RETRY_AFTER_S},
    )  # fmt: skip


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": field_of(e.get("loc", ())), "reason": without_values(e.get("msg", "invalid")), "type": e.get("type")}
        for e in error.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(400, "malformed-json", "the body is not well-formed JSON", request=request, field="body")
    first = errors[0]["field"] if errors else "body"
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
    return problem(422, "invalid-input", detail, request=request, field=first, errors=errors)


async def on_http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if _caused_by(error, _BodyTooLarge):  # FastAPI turns any failure to read the body into a 400
        return problem(413, "payload-too-large", "the body is too large", request=request)
    slug = HTTPStatus(error.status_code).phrase.lower().replace(" ", "-")
    said = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).description
    detail = without_values(said)
    field = "body" if error.status_code == 400 else None
    headers = dict(error.headers or {})
    if error.status_code == 405 and (allowed := allowed_methods(request)):
        headers["Allow"] = ", ".join(allowed)
    return problem(error.status_code, slug, detail, request=request, headers=headers, field=field)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API serves at this path, as its schema documents them.

    The router answers 405 from the first route whose path matches and names only that route's
    methods, which is wrong where one path has a GET and a POST in two routers (``/v1/policies``).
    """
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _path_pattern(template).fullmatch(request.scope["path"]):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@functools.lru_cache(maxsize=256)
def _path_pattern(template: str) -> re.Pattern[str]:
    """``/v1/visits/{visit_id}`` → a pattern matching ``/v1/visits/<anything but a slash>``."""
    return re.compile(re.sub(r"\\{[^/]*?\\}", "[^/]+", re.escape(template)))


def field_of(loc: Any) -> str:
    """A pydantic location as a field name: ``("body", "readings", "pulse")`` → ``readings.pulse``."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(InvalidInput, on_invalid_input)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(RuleViolation, on_rule_violation)
    app.add_exception_handler(VersionMismatch, on_version_mismatch)
    app.add_exception_handler(ConflictError, on_conflict)
    app.add_exception_handler(DamagedRecord, on_damaged_record)
    app.add_exception_handler(StoreUnavailable, on_store_unavailable)
    app.add_exception_handler(TiexinError, on_store_unavailable)  # ConfigurationError: the store is unusable
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_exception)


# The guard -----------------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class Guard:
    """Body limit, correlation id, and a problem (never a traceback) for whatever no handler took."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = sane_header(scope, b"x-correlation-id") or uuid.uuid4().hex
        scope[CORRELATION_SCOPE_KEY] = correlation_id
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            if self._declared_length(scope) > self.max_body_bytes:
                raise _BodyTooLarge
            await self.app(scope, self._limited(receive), sending)
        except Exception as error:  # the last line of defence: see the module's docstring
            if started:
                raise
            response = self._problem_for(error, scope, correlation_id)
            await response(scope, receive, sending)

    def _declared_length(self, scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        return limited

    def _problem_for(self, error: Exception, scope: Scope, correlation_id: str) -> JSONResponse:
        if isinstance(error, _BodyTooLarge) or _caused_by(error, _BodyTooLarge):
            return problem(413, "payload-too-large", f"the body is larger than {self.max_body_bytes} bytes")
        if type(error).__module__.split(".")[0] in DRIVER_MODULES:
            log.warning("store driver error %s on %s %s", type(error).__name__, scope["method"], scope["path"])
            if scope["method"] == "POST" and "app" in scope:
                write_health(scope["app"]).failed(f"the store failed: {type(error).__name__}")
            detail = "the ledger's store is unavailable; nothing is known to be written — retry later"
            return problem(503, "store-unavailable", detail, headers={"Retry-After": RETRY_AFTER_S})
        damage = damage_in(error)
        if damage is not None:
            return damaged_record_problem(damage, scope["method"], scope["path"], scope.get("app"))
        frames = " <- ".join(
            f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
            for f in reversed(traceback.extract_tb(error.__traceback__)[-8:])
        )
        log.error(
            "unhandled %s on %s %s (correlation %s) at %s",
            type(error).__name__,
            scope["method"],
            scope["path"],
            correlation_id,
            frames,
        )
        detail = (
            f"an internal error occurred and was logged under correlation id {correlation_id}; "
            "nothing is known to be written"
        )
        return problem(500, "internal-error", detail, correlation_id=correlation_id)


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def sane_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text = value.decode("latin-1")
            return text if SANE_HEADER.match(text) else None
    return None
