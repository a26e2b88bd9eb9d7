"""The interactive docs (``/docs``): Swagger UI served from the package, with no CDN.

A county bureau's intranet may have no internet, so ``/docs`` loads nothing from outside the
server: Swagger UI's script, stylesheet and icon are the files of swagger-ui-dist
:data:`SWAGGER_UI_VERSION` kept in ``api/static/swagger-ui/`` (where, and with which hashes:
its README), answered by ``/docs/swagger-ui/{name}``. FastAPI's own ``/docs`` (CDN) and
``/redoc`` (CDN, and Google's fonts) are turned off in :func:`api.app.create_app`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ledger.errors import NotFound

SWAGGER_UI_VERSION = "5.35.0"
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
SERVED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}
"""No badge from the online validator (it would call out); a key pasted into Authorize survives a reload."""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} — API docs",
        swagger_js_url=f"{base}/docs/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
        swagger_css_url=f"{base}/docs/swagger-ui/swagger-ui.css?v={SWAGGER_UI_VERSION}",
        swagger_favicon_url=f"{base}/docs/swagger-ui/favicon-32x32.png?v={SWAGGER_UI_VERSION}",
        swagger_ui_parameters=PARAMETERS,
    )


@router.get("/docs/swagger-ui/{name}")
async def swagger_ui_asset(name: str) -> FileResponse:
    """One of Swagger UI's files, as shipped (cached for a day: its URL names the version)."""
    if name not in SERVED:
        raise NotFound("docs asset", name)
    return FileResponse(ASSETS / name, media_type=SERVED[name], headers={"Cache-Control": "public, max-age=86400"})
