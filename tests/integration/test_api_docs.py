"""The API's description of itself, as a newcomer meets it: ``/docs`` with no internet, an
``/openapi.json`` a client generator takes whole, and both counted by their own path in ``/metrics``.

None of this touches the ledger's store, so one app on a SQLite file serves the module.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import subprocess
import sys
import typing
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.docs import ASSETS, SWAGGER_UI_VERSION
from tests.harness import Harness, harness

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with harness(f"sqlite:///{tmp_path_factory.mktemp('docs')}/tiexin.db") as made:
        yield made


# /docs: Swagger UI from the package ----------------------------------------------------------------


def test_docs_load_nothing_from_outside_the_server_and_every_asset_answers(api: Harness) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r"https?://|//cdn|(src|href)=[\"']//", html), html
    assets = re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", html)
    assert len(assets) == 3  # the script, the stylesheet, the icon
    for url in assets:
        assert url.startswith("/docs/swagger-ui/") and url.endswith(f"?v={SWAGGER_UI_VERSION}")
        answer = api.client.get(url)
        assert answer.status_code == 200, url
        assert answer.content == (ASSETS / url.split("/")[-1].split("?")[0]).read_bytes()
    assert "SwaggerUIBundle(" in html and "url: '/openapi.json'" in html
    assert api.client.get("/openapi.json").status_code == 200


def test_the_docs_serve_only_their_own_files(api: Harness) -> None:
    for name in ("README.md", "LICENSE", "..%2F..%2Fdocs.py", "swagger-ui.css.map"):
        answer = api.client.get(f"/docs/swagger-ui/{name}")
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json", name
    assert api.client.get("/redoc").status_code == 404  # FastAPI's ReDoc page would load from a CDN


def test_the_vendored_swagger_ui_files_are_the_pinned_release(api: Harness) -> None:
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    assert f"**{SWAGGER_UI_VERSION}**" in readme
    hashes = dict(re.findall(r"\| `([\w.-]+)` \| `([0-9a-f]{64})` \|", readme))
    assert set(hashes) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    for name, digest in hashes.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (ASSETS / "LICENSE").read_text(encoding="utf-8")


# /openapi.json: every schema named once, every operation in a generated client ----------------------


def models_in(annotation: Any, seen: set[type]) -> Iterator[type]:
    """Every pydantic model and enum a type mentions, however deep (each once)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | enum.Enum):
        if annotation in seen:
            return
        seen.add(annotation)
        yield annotation
        if issubclass(annotation, BaseModel):
            for field in annotation.model_fields.values():
                yield from models_in(field.annotation, seen)
        return
    for argument in typing.get_args(annotation):
        yield from models_in(argument, seen)


def test_no_two_schemas_of_the_api_come_from_different_models_with_one_name(api: Harness) -> None:
    seen: set[type] = set()
    for route in api.app.routes:
        if not isinstance(route, APIRoute):
            continue
        dependant = route.dependant
        params = [*dependant.body_params, *dependant.query_params, *dependant.path_params, *dependant.header_params]
        annotations = [param.field_info.annotation for param in params]
        annotations += [route.response_model, *(r.get("model") for r in route.responses.values())]
        for annotation in annotations:
            list(models_in(annotation, seen))
    by_name: dict[str, set[str]] = defaultdict(set)
    for model in seen:
        by_name[model.__name__].add(f"{model.__module__}.{model.__qualname__}")
    clashes = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert clashes == {}

    components = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert [name for name in components if "__" in name] == []  # FastAPI's way of telling two models apart
    titles = [schema.get("title", name) for name, schema in components.items()]
    assert sorted(t for t in set(titles) if titles.count(t) > 1) == []


def operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in schema["paths"].items() for method in item if method in METHODS}


def test_a_client_generated_from_the_openapi_document_has_every_operation(api: Harness, tmp_path: Path) -> None:
    schema = api.client.get("/openapi.json").json()
    (tmp_path / "openapi.json").write_text(json.dumps(schema), encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({"post_hooks": []}), encoding="utf-8")
    generated = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
            "--config", "config.json", "--output-path", "client", "--meta", "none",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "will not be generated" not in generated.stdout, generated.stdout

    found: set[tuple[str, str]] = set()
    for module in (tmp_path / "client" / "api").rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        for method, url in re.findall(r'"method": "(\w+)",\s*"url": "([^"]+)"', text):
            found.add((method, url))
    expected = operations(schema)
    assert len(expected) > 60
    assert expected - found == set()


# /metrics: the docs counted by their path ---------------------------------------------------------


def test_metrics_count_the_docs_and_the_openapi_document_by_their_path(api: Harness) -> None:
    for path in ("/docs", "/openapi.json", f"/docs/swagger-ui/swagger-ui.css?v={SWAGGER_UI_VERSION}"):
        assert api.client.get(path).status_code == 200
    text = api.client.get("/metrics", headers=api.staff.auth("auditor")).text
    counted: dict[str, float] = defaultdict(float)
    for labels, value in re.findall(r"^tiexin_http_requests_total\{(.*)\} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if (found["method"], found["status"]) == ("GET", "200"):
            counted[found["route"]] += float(value)
    assert counted["/docs"] >= 1 and counted["/openapi.json"] >= 1 and counted["/docs/swagger-ui/{name}"] >= 1
    assert "unmatched" not in counted  # (only /redoc, asked for above, is unmatched: a 404)
