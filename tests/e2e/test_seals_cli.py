"""``tiexin keys seal-key``, ``tiexin seal``, ``tiexin seals export|list`` and ``tiexin verify`` as an operator
and an auditor run them: real processes on a SQLite file, tampered with by ``sqlite3`` as an attacker would."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.bootstrap import ensure_home_county, open_ledger
from tests.builders import MASTER_KEY, make_pair, visit_at
from tests.integration.test_seals import FEB

URL = "sqlite:///tiexin.db"


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    """A small ledger in ``tiexin.db``: three pairs and their visits."""
    ledger = open_ledger(f"sqlite:///{tmp_path}/tiexin.db", master_key=MASTER_KEY)
    try:
        ensure_home_county(ledger)
        for n in range(3):
            pair = make_pair(ledger, n)
            visit_at(ledger, pair, FEB)
    finally:
        ledger.close()
    return tmp_path


def run(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    environ = {**os.environ, "TIEXIN_DATABASE_URL": URL, "COLUMNS": "160", **env}
    command = [sys.executable, "-m", "tiexin", *args]
    done = subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def one_line_error(stderr: str) -> str:
    [line] = stderr.strip().splitlines()
    assert line.startswith("error:")
    return line


def test_an_operator_makes_the_key_seals_and_an_auditor_verifies_offline(ledger_dir: Path) -> None:
    code, _, err = run(ledger_dir, "seal")
    assert code == 1 and "tiexin keys seal-key" in one_line_error(err)

    code, out, _ = run(ledger_dir, "keys", "seal-key")
    key = ledger_dir / "tiexin-seal.key"
    assert code == 0 and str(key) in out.replace("\n", "") and "public key fingerprint:" in out
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    (ledger_dir / "bureau.pem").write_text(out[out.index("-----BEGIN PUBLIC KEY") :])
    code, _, err = run(ledger_dir, "keys", "seal-key")
    assert code == 1 and "already a seal key" in one_line_error(err)

    code, _, err = run(ledger_dir, "verify")
    assert code == 1 and "nothing sealed yet" in one_line_error(err)

    code, out, _ = run(ledger_dir, "seal")
    [(last,)] = sqlite3.connect(ledger_dir / "tiexin.db").execute("SELECT MAX(rowid) FROM stored_events").fetchall()
    assert code == 0 and out.startswith(f"seal 1: {last:,} events up to position {last:,}")

    code, out, _ = run(ledger_dir, "verify")
    assert code == 0 and out.splitlines()[0] == f"intact up to position {last} under seal 1"

    code, out, _ = run(ledger_dir, "projections", "rebuild")  # seals are not a read model: untouched
    assert code == 0
    code, out, _ = run(ledger_dir, "seals", "list")
    assert code == 0 and f"{last:,}" in out

    code, out, _ = run(ledger_dir, "seals", "export", "kept.json")
    kept = json.loads((ledger_dir / "kept.json").read_text())
    assert code == 0 and "wrote 1 seals" in out
    assert kept["format"] == "tiexin-seals/1" and [s["seq"] for s in kept["seals"]] == [1]
    assert list(kept["public_keys"]) == [kept["seals"][0]["key_fingerprint"]]

    with sqlite3.connect(ledger_dir / "tiexin.db") as conn:  # the attacker's edit
        [(state,)] = conn.execute("SELECT state FROM stored_events WHERE rowid = 9").fetchall()
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 9", (state[:-2] + b" }",))
    conn.close()
    for args in (("verify",), ("verify", "--seals", "kept.json", "--public-key", "bureau.pem")):
        code, out, err = run(ledger_dir, *args)
        assert code == 1, (args, out, err)
        assert out.startswith("position 9: edited (seal 1 no longer matches)"), out


def test_a_corrupt_seals_file_or_key_is_one_line(ledger_dir: Path) -> None:
    run(ledger_dir, "keys", "seal-key")
    run(ledger_dir, "seal")
    (ledger_dir / "bad.json").write_text('{"format": "tiexin-seals/1", "public_keys": {}, "seals": [{"seq": 1}]}')
    (ledger_dir / "not.json").write_text("{not json")
    (ledger_dir / "bad.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    for args, expected in (
        (("verify", "--seals", "bad.json"), "bad.json is not a valid seals file: seal #1"),
        (("verify", "--seals", "not.json"), "not.json is not a seals file: not JSON"),
        (("verify", "--seals", "missing.json"), "cannot read the seals file missing.json"),
        (("verify", "--public-key", "bad.pem"), "bad.pem: not a PEM public key"),
    ):
        code, _, err = run(ledger_dir, *args)
        assert code == 1 and expected in one_line_error(err), (args, err)


def test_a_seal_under_another_key_is_refused_by_the_bureaus_key(ledger_dir: Path) -> None:
    assert run(ledger_dir, "keys", "seal-key")[0] == 0
    impostor = str(ledger_dir / "impostor.key")
    assert run(ledger_dir, "keys", "seal-key", TIEXIN_SEAL_KEY_FILE=impostor)[0] == 0
    assert run(ledger_dir, "seal", TIEXIN_SEAL_KEY_FILE=impostor)[0] == 0
    code, out, _ = run(ledger_dir, "verify")  # checked with the bureau's key file of this directory
    assert code == 1 and out.startswith("seal 1 is refused: its signature does not verify under the given public key")
