"""The HTTP API assembled: settings → ledger, keys, idempotency → routers.

``create_app(settings)`` builds everything; the process opens the ledger once, at startup (the
library has no async API, so the routes that call it are plain ``def`` and run in the thread
pool). The settings come from the caller: ``tiexin serve`` hands uvicorn the factory
:func:`tiexin.server.create_app_from_env`, which reads the environment in each worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import docs, web
from api.asof import open_as_of_views
from api.deps import Services
from api.idempotency import IdempotencyStore
from api.keys import KeyStore
from api.metrics import install_metrics
from api.problems import PROBLEM, Guard, install_handlers
from api.readside import open_read_side
from api.routers import (
    audit,
    budgets,
    certificates,
    claims,
    counties,
    desk,
    elders,
    evaluations,
    events,
    exports,
    health,
    history,
    labels,
    me,
    meetings,
    notices,
    ops,
    pairings,
    policies,
    readings,
    reconciliation,
    reports,
    roster,
    samples,
    scores,
    seals,
    search,
    visits,
    volunteers,
)
from api.routers.seals import open_seal_side
from api.service import open_api_ledger
from api.settings import ApiSettings
from api.tables import open_tables

ROUTERS = (
    me,
    desk,
    readings,
    labels,
    search,
    elders,
    volunteers,
    pairings,
    visits,
    evaluations,
    budgets,
    claims,
    certificates,
    policies,
    counties,
    events,
    health,
    ops,
    roster,
    scores,
    audit,
    exports,
    reconciliation,
    samples,
    seals,
    history,
    notices,
    meetings,
    reports,
)
DESCRIPTION = """\
The service-record ledger of the caring sons and daughters programme (贴心儿女).

Every write is a `POST` answering `{id, version, position}`. Authenticate with
`Authorization: Bearer <key>` (keys are made with `tiexin keys create`); send an
`Idempotency-Key` to make a `POST` safe to repeat, and `If-Match` with the `ETag` you read to
write only if the record has not moved on. Money is integer fen; date-times carry a timezone.
Errors are `application/problem+json` (RFC 9457).
"""


def open_services(settings: ApiSettings) -> Services:
    ledger = open_api_ledger(settings)
    try:
        tables = open_tables(settings.database_url)
    except BaseException:
        ledger.close()
        raise
    idempotency = IdempotencyStore(tables, wait=settings.idempotency_wait, lease=settings.idempotency_lease)
    services = Services(settings, ledger, KeyStore(tables, cache_ttl=settings.auth_cache_ttl), idempotency)
    try:
        idempotency.purge(older_than=settings.idempotency_retention)
    except BaseException:
        services.close()
        raise
    return services


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = open_services(settings)
        try:
            app.state.services.reads = open_read_side(settings, app.state.services.ledger)
            app.state.asof = open_as_of_views(app.state.services)  # ?as_of= replays (api.asof)
            app.state.seals = open_seal_side(settings)  # the seal store, and verification for /readyz
            with ops.watching(app):  # PostgreSQL pools rid of dead connections; the status views closed after
                yield
        finally:
            if getattr(app.state, "asof", None) is not None:
                app.state.asof.close()
            if getattr(app.state, "seals", None) is not None:
                app.state.seals.close()
            app.state.services.close()

    app = FastAPI(
        title="tiexin",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={},
        docs_url=None,  # /docs is api.docs: Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(scores.volunteer_router)  # /v1/volunteers/{id}/score/{month}/explanation, /compare
    app.include_router(docs.router)
    app.include_router(web.router)  # the web desk at /
    install_handlers(app)
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes)
    install_metrics(app, settings.metrics_dir)  # outermost: counts every answer as sent
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with errors documented as ``application/problem+json``."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _absent_not_null(parameter.get("schema", {}))
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if code.isdigit() and int(code) >= 400 and "application/json" in content:
                    response["content"] = {PROBLEM: content.pop("application/json")}
    for unused in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema


def _absent_not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter that may be left out is not one that may be ``null``: a query or a header holds text.

    Pydantic spells ``X | None = None`` as ``anyOf: [X, {type: null}]``; a client taking that at its
    word sends ``If-Match: null`` or ``?after=null``, which is refused.
    """
    options = schema.get("anyOf")
    if not isinstance(options, list) or {"type": "null"} not in options:
        return schema
    kept = [option for option in options if option != {"type": "null"}]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
