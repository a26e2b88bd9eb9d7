"""The seed-1 demo county in a fresh store, fast: built once per test process, then copied.

Building the demo's year takes seconds on SQLite and a minute on PostgreSQL; many modules need the
same seed-1 demo to read from (the audit, its tools and files, certificates, the fuzzed API). The
demo is built once per test process into a SQLite file; each store then gets a copy: a SQLite store
the file itself, a PostgreSQL store the same log moved by ``tiexin migrate`` (every position and
byte intact, tested in ``tests/e2e/test_migrate.py``). ``tests/integration/test_demo.py`` still builds
the demo directly on both stores.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from ledger.settings import store_env
from tests.builders import MASTER_KEY
from tiexin.demo.generator import DemoSummary, run_demo
from tiexin.migrate import migrate

_built: dict[str, tuple[Path, DemoSummary]] = {}


def template() -> tuple[Path, DemoSummary]:
    """The demo's SQLite file of this test process, built on first use."""
    if "demo" not in _built:
        folder = Path(tempfile.mkdtemp(prefix="tiexin-demo-template-"))
        summary = run_demo(f"sqlite:///{folder}/tiexin.db", seed=1, master_key=MASTER_KEY)
        _built["demo"] = folder / "tiexin.db", summary
    return _built["demo"]


def seeded_demo(url: str) -> DemoSummary:
    """Put the seed-1 demo county into the empty store at ``url`` and answer its summary."""
    source, summary = template()
    if urlsplit(url).scheme == "sqlite":
        target = Path(store_env(url)["SQLITE_DBNAME"])
        if target.exists():
            raise FileExistsError(f"{target} exists: the demo is copied only into a new store")
        with sqlite3.connect(source) as db, sqlite3.connect(target) as copy:
            db.backup(copy)  # a consistent copy, whatever the journal mode
    else:
        migrate(f"sqlite:///{source}", url)
    return summary


def remove_templates() -> None:
    for path, _ in _built.values():
        shutil.rmtree(path.parent, ignore_errors=True)
    _built.clear()
