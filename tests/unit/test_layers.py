"""The import rules between tiexin's packages, read from the source with ``ast`` (nothing is imported).

The layers, from the bottom: ``ledger`` (the write side), ``projections`` (the read models, which
read the ledger's log), ``api`` (HTTP over both), ``tiexin`` (the composition root: settings,
command line, demo; it wires the three). A package imports only from the layers below it:

- ``ledger`` imports nothing of ``projections``, ``api``, ``tiexin``; no web or CLI framework;
  no database driver (``psycopg``, ``sqlite3``): the library's recorders talk to the store.
  Exception: ``ledger/store.py``, the write side's persistence adapter, may import the drivers
  (it names their modules to translate their errors; today it needs no import of them).
  It never reads the wall clock, except the default clock itself (``ledger/store.py:utc_now``),
  which every command gets injected (tests and the demo pass their own).
- ``projections`` imports nothing of ``api`` or ``tiexin``, and no web or CLI framework.
- ``api`` imports nothing of ``tiexin``, and no CLI framework.
- Only ``tiexin/settings.py`` touches the environment (``os.environ``, ``os.getenv`` …); the
  other packages are handed URLs and settings as parameters. (``tests/`` and ``bench/`` are not
  checked: they set up environments for the processes they start.)

Imports inside functions and under ``TYPE_CHECKING`` count like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "projections", "api", "tiexin")

WEB = ("fastapi", "starlette", "uvicorn", "pydantic", "prometheus_client")
CLI = ("typer", "rich")
DRIVERS = ("psycopg", "psycopg_pool", "sqlite3")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "ledger": ("projections", "api", "tiexin", "bench", "tests", *WEB, *CLI, *DRIVERS),
    "projections": ("api", "tiexin", "bench", "tests", *WEB, *CLI),
    "api": ("tiexin", "bench", "tests", *CLI),
    "tiexin": ("bench", "tests"),
}
ALLOWED_IMPORTS = {("ledger/store.py", driver) for driver in DRIVERS}
"""The persistence adapter of the write side may use the database drivers."""

ENVIRONMENT = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})
ENVIRONMENT_READER = "tiexin/settings.py"

WALL_CLOCK = frozenset({("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")})
CLOCKED = ("ledger",)
ALLOWED_CLOCKS = {("ledger/store.py", "utc_now")}
"""The ledger's default clock: the one place the write side reads the time (commands get it injected)."""


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute import in the module: (line, top-level package)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def environment_uses(tree: ast.AST) -> list[int]:
    """Lines that touch the process's environment: ``os.environ``, ``os.getenv(…)``, ``from os import environ``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & ENVIRONMENT:
            lines.append(node.lineno)
    return lines


def wall_clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that read the wall clock (``datetime.now()``, ``time.time()`` …): (line, enclosing function)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in WALL_CLOCK:
                found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return found


def violations(package: str, path: str, source: str) -> list[str]:
    """What a module of ``package`` (at ``path``, relative to the repository) does against the rules."""
    tree = ast.parse(source, filename=path)
    found = [
        f"{path}:{line} imports {module}"
        for line, module in imported_modules(tree)
        if module in FORBIDDEN[package] and (path, module) not in ALLOWED_IMPORTS
    ]
    if path != ENVIRONMENT_READER:
        found += [f"{path}:{line} touches the environment" for line in environment_uses(tree)]
    if package in CLOCKED:
        found += [
            f"{path}:{line} reads the wall clock in {function or 'the module'}"
            for line, function in wall_clock_reads(tree)
            if (path, function) not in ALLOWED_CLOCKS
        ]
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_keeps_to_its_layer(package: str) -> None:
    modules = modules_of(package)
    assert modules, f"no modules found in {package}/"
    found = [
        problem
        for module in modules
        for problem in violations(package, module.relative_to(ROOT).as_posix(), module.read_text(encoding="utf-8"))
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("package", "path", "source", "expected"),
    [
        ("ledger", "ledger/x.py", "from api.app import create_app\n", "ledger/x.py:1 imports api"),
        ("ledger", "ledger/x.py", "def f():\n    import projections.runner\n", "ledger/x.py:2 imports projections"),
        ("ledger", "ledger/x.py", "from tiexin.settings import database_url\n", "ledger/x.py:1 imports tiexin"),
        ("ledger", "ledger/x.py", "import fastapi\n", "ledger/x.py:1 imports fastapi"),
        ("ledger", "ledger/x.py", "import psycopg\n", "ledger/x.py:1 imports psycopg"),
        ("ledger", "ledger/x.py", "import sqlite3\n", "ledger/x.py:1 imports sqlite3"),
        ("ledger", "ledger/x.py", "import os\nURL = os.environ['X']\n", "ledger/x.py:2 touches the environment"),
        ("ledger", "ledger/x.py", "import os\nos.getenv('X')\n", "ledger/x.py:2 touches the environment"),
        ("ledger", "ledger/x.py", "from os import environ\n", "ledger/x.py:1 touches the environment"),
        (
            "ledger",
            "ledger/x.py",
            "from datetime import datetime\ndef f():\n    return datetime.now()\n",
            "ledger/x.py:3 reads the wall clock in f",
        ),
        ("ledger", "ledger/x.py", "import time\nT = time.time()\n", "ledger/x.py:2 reads the wall clock in the module"),
        ("projections", "projections/x.py", "from api.deps import Services\n", "projections/x.py:1 imports api"),
        ("projections", "projections/x.py", "import tiexin.cli\n", "projections/x.py:1 imports tiexin"),
        ("api", "api/x.py", "from tiexin.settings import Settings\n", "api/x.py:1 imports tiexin"),
        ("api", "api/x.py", "import os\nos.environ['X'] = '1'\n", "api/x.py:2 touches the environment"),
        ("tiexin", "tiexin/cli/x.py", "import os\nos.environ.get('X')\n", "tiexin/cli/x.py:2 touches the environment"),
    ],
)
def test_a_module_breaking_a_rule_is_caught(package: str, path: str, source: str, expected: str) -> None:
    assert violations(package, path, source) == [expected]


@pytest.mark.parametrize(
    ("package", "path", "source"),
    [
        ("ledger", "ledger/x.py", "from ledger.errors import NotFound\nfrom eventsourcing.domain import Aggregate\n"),
        ("ledger", "ledger/store.py", "import psycopg\n"),
        (
            "ledger",
            "ledger/store.py",
            "from datetime import UTC, datetime\ndef utc_now():\n    return datetime.now(UTC)\n",
        ),
        ("projections", "projections/x.py", "from ledger.visits import Visit\nimport psycopg\n"),
        ("api", "api/x.py", "from projections.service import read_status\nimport fastapi\n"),
        ("tiexin", "tiexin/settings.py", "import os\nURL = os.environ.get('TIEXIN_DATABASE_URL')\n"),
        ("tiexin", "tiexin/cli/x.py", "from api.app import create_app\nfrom projections import registry\n"),
    ],
)
def test_what_the_rules_allow_passes(package: str, path: str, source: str) -> None:
    assert violations(package, path, source) == []
