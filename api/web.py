"""The web desk at ``/``: pages for coordinators, auditors, evaluators, finance and volunteers.

The pages are static files in ``api/static/desk/`` (an HTML shell, a few ES modules, a stylesheet):
no build step, nothing loaded from outside the server (the Content-Security-Policy says so to the
browser). They sign in with an API key the user pastes, kept in the browser's ``sessionStorage``
and sent only as ``Authorization`` to the API, so every figure on a page is what the API answers
that key. Which role sees which page is :data:`PAGES`, handed to the pages in the shell; a page
outside the key's role says so instead of asking the API (which would refuse it anyway).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from api.routers.events import LOG_READERS
from ledger.common import COUNTY_TZ
from ledger.errors import NotFound


@dataclass(frozen=True)
class Page:
    roles: tuple[str, ...]
    nav: bool = True
    """Listed in the navigation; a page reached from a link (one township, volunteer, elder, claim) is not."""


PAGES: dict[str, Page] = {
    "county": Page(("coordinator", "auditor")),
    "township": Page(("coordinator", "auditor"), nav=False),
    "volunteer": Page(("coordinator", "evaluator", "auditor", "volunteer"), nav=False),
    "elder": Page(("coordinator", "auditor", "volunteer"), nav=False),
    "budget": Page(("finance", "auditor")),
    "claim": Page(("coordinator", "finance", "auditor", "volunteer"), nav=False),
    "audit": Page(("auditor",)),
    "evaluation": Page(("evaluator", "coordinator", "auditor")),
}
"""Each page and the roles that may see it: the roles of every API read the page makes.

A volunteer's key sees its own volunteer page (and its elders and claims through it); the API
refuses it anyone else's, and the page says so.
"""

ASSETS = Path(__file__).parent / "static" / "desk"
SERVED = {
    "app.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "desk.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
"""Nothing from outside the server, no inline script, no framing (the key lives in the page)."""

router = APIRouter(include_in_schema=False)


@cache
def version() -> str:
    """A digest of the desk's files: their URLs change when they do, so a browser never mixes two releases."""
    digest = hashlib.sha256()
    for name in sorted(SERVED):
        digest.update((ASSETS / name).read_bytes())
    return digest.hexdigest()[:12]


def config() -> str:
    pages = {name: {"roles": list(page.roles), "nav": page.nav} for name, page in PAGES.items()}
    text = json.dumps({"pages": pages, "log_readers": list(LOG_READERS), "timezone": str(COUNTY_TZ)})
    return text.replace("</", "<\\/")  # inside <script>: never end the element early


@router.get("/")
async def desk() -> HTMLResponse:
    shell = (ASSETS / "index.html").read_text(encoding="utf-8")
    html = shell.replace("__CONFIG__", config()).replace("__VERSION__", version())
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/favicon.ico")
async def favicon() -> RedirectResponse:
    return RedirectResponse("/desk/favicon.svg", status_code=301)


@router.get("/desk/{name}")
async def desk_asset(name: str) -> FileResponse:
    """One of the desk's files (revalidated each time: the shell names them with :func:`version`)."""
    if name not in SERVED:
        raise NotFound("desk file", name)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(ASSETS / name, media_type=SERVED[name], headers=headers)
