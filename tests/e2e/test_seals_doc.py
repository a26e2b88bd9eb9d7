"""The auditor's own check in docs/seals.md, run exactly as written against a live server's answers.

``tiexin serve`` on a free port (SQLite; PostgreSQL with two workers and ``tiexin projections run``
beside them), the seal key made with ``tiexin keys seal-key`` in the server's working directory,
records written and sealed over HTTP; then the code block of "Checking a proof yourself" is taken
from the document and executed, and its functions are given the server's answers as JSON.
"""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from tests.builders import as_json, elder_fields
from tests.e2e.test_api_year import Client, Server, server  # noqa: F401 (the fixture, both stores)

DOC = Path(__file__).resolve().parents[2] / "docs" / "seals.md"


def auditor_code() -> str:
    """The first ``python`` block after the heading "Checking a proof yourself", exactly."""
    text = DOC.read_text()
    section = text.split("## Checking a proof yourself", 1)[1]
    [block] = re.findall(r"```python\n(.*?)```", section, re.S)[:1]
    return block


def test_the_documented_check_is_plain_python_of_about_thirty_lines() -> None:
    code = auditor_code()
    imports = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            imports |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imports.add(str(node.module).split(".")[0])
    assert imports == {"base64", "hashlib", "cryptography"}
    statements = [line for line in code.splitlines() if line.strip()]
    assert 25 <= len(statements) <= 40


def test_the_documented_check_passes_against_a_live_server(server: Server) -> None:  # noqa: F811
    made = server.tiexin("keys", "seal-key")
    assert made.returncode == 0, made.stderr
    coordinator = Client(server, server.key("coordinator", "coord-doc"))
    auditor = Client(server, server.key("auditor", "audit-doc"))
    for n in range(3):
        coordinator.post("/v1/elders", as_json(elder_fields(n)), 201)
    first = auditor.post("/v1/audit/seals", None, 201).json()
    for n in range(3, 9):
        coordinator.post("/v1/elders", as_json(elder_fields(n)), 201)
    second = auditor.post("/v1/audit/seals", None, 201).json()
    pem = coordinator.get("/v1/audit/seal-key", 200).json()["public_key_pem"]

    checker: dict[str, Any] = {}
    exec(compile(auditor_code(), str(DOC), "exec"), checker)  # exactly the documented code

    for position in sorted({1, first["last_position"], second["last_position"], second["last_position"] // 2}):
        answer = auditor.get(f"/v1/audit/proof/{position}", 200).json()
        assert checker["seal_is_signed"](answer["seal"], pem)
        assert checker["check_inclusion"](answer), position
        record = bytearray(base64.b64decode(answer["record"]))
        record[-1] ^= 1
        assert not checker["check_inclusion"]({**answer, "record": base64.b64encode(record).decode()})
        assert not checker["check_inclusion"]({**answer, "position": position + 1})
    early = auditor.get(f"/v1/audit/proof/{first['last_position']}?seal={first['seq']}", 200).json()
    assert checker["check_inclusion"](early)

    answer = auditor.get(f"/v1/audit/consistency?from={first['seq']}&to={second['seq']}", 200).json()
    assert checker["seal_is_signed"](answer["from"], pem) and checker["seal_is_signed"](answer["to"], pem)
    assert checker["check_consistency"](answer)
    bent = [h[:-1] + ("0" if h[-1] != "0" else "1") for h in answer["proof"]]
    assert not checker["check_consistency"]({**answer, "proof": bent})
    same = auditor.get(f"/v1/audit/consistency?from={second['seq']}&to={second['seq']}", 200).json()
    assert checker["check_consistency"](same) and same["proof"] == []

    forged = {**second, "root": first["root"]}
    with pytest.raises(InvalidSignature):
        checker["seal_is_signed"](forged, pem)
