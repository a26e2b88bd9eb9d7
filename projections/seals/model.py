"""A seal as stored, listed, exported and checked; and the small JSON file an auditor keeps.

The seals file (``tiexin seals export FILE``)::

    {"format": "tiexin-seals/1",
     "public_keys": {"<fingerprint>": "-----BEGIN PUBLIC KEY-----\\n…"},
     "seals": [{"seq": 1, "tree_size": 42578, "last_position": 42578, "root": "<hex>",
                "sealed_at": "2026-03-01T01:00:00.000000+00:00", "signature": "<hex>",
                "key_fingerprint": "<hex>"}, …]}

``public_keys`` holds the public key of every fingerprint its seals name (normally one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ledger.errors import TiexinError
from projections.seals.keys import PublicKey, SealKeyError, seal_message

FORMAT = "tiexin-seals/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX128 = re.compile(r"^[0-9a-f]{128}$")


class SealsFileError(TiexinError):
    """A seals file that cannot be read or is not one (the message is one line)."""


@dataclass(frozen=True)
class Seal:
    """A signed seal: the tree of the first ``tree_size`` leaves had ``root`` at ``sealed_at``."""

    seq: int
    tree_size: int
    last_position: int
    root: str
    """The tree's root, hex."""
    sealed_at: str
    """The exact ISO 8601 text that was signed."""
    signature: str
    """Ed25519 over :meth:`message`, hex."""
    key_fingerprint: str
    public_key: str
    """The signing key's 32 raw bytes, hex (as stored with the seal; an auditor uses the bureau's own)."""

    def message(self) -> bytes:
        return seal_message(self.tree_size, self.root, self.sealed_at)

    def signed_by(self, key: PublicKey) -> bool:
        """Whether the signature verifies under ``key`` (a malformed signature does not)."""
        if not HEX128.match(self.signature):
            return False
        return key.verifies(bytes.fromhex(self.signature), self.message())

    def exported(self) -> dict[str, Any]:
        found = asdict(self)
        del found["public_key"]
        return found

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Seal:
        seq, size, last, root, at, signature, fingerprint, public = row
        return cls(int(seq), int(size), int(last), str(root), str(at), str(signature), str(fingerprint), str(public))


@dataclass(frozen=True)
class SealsFile:
    """Seals and the public keys that signed them, as an auditor keeps them."""

    seals: tuple[Seal, ...]
    public_keys: Mapping[str, str]
    """Fingerprint → PEM."""

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "public_keys": dict(self.public_keys),
            "seals": [s.exported() for s in self.seals],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1, ensure_ascii=False) + "\n")

    def key_of(self, fingerprint: str) -> PublicKey | None:
        pem = self.public_keys.get(fingerprint)
        return None if pem is None else PublicKey.from_pem(pem)


def load_seals_file(path: Path) -> SealsFile:
    """The seals in an exported file; SealsFileError (one line) if it cannot be read or is not one."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise SealsFileError(f"cannot read the seals file {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SealsFileError(f"{path} is not a seals file: not JSON ({error})") from None
    try:
        return parse_seals(data)
    except SealsFileError as error:
        raise SealsFileError(f"{path} is not a valid seals file: {error.reason}") from None


def parse_seals(data: Any) -> SealsFile:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SealsFileError(f'its "format" is not "{FORMAT}"')
    keys = data.get("public_keys")
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise SealsFileError('"public_keys" must map fingerprints to PEM text')
    raws: dict[str, str] = {}
    for fingerprint, pem in keys.items():
        try:
            key = PublicKey.from_pem(pem)
        except SealKeyError as error:
            raise SealsFileError(f"public key {fingerprint[:16]}…: {error.reason}") from None
        if key.fingerprint != fingerprint:
            raise SealsFileError(f"public key {fingerprint[:16]}… has fingerprint {key.fingerprint[:16]}…")
        raws[fingerprint] = key.raw.hex()
    items = data.get("seals")
    if not isinstance(items, list):
        raise SealsFileError('"seals" must be a list')
    seals = []
    for number, item in enumerate(items, start=1):
        seals.append(_seal(item, number, raws))
    seqs = [s.seq for s in seals]
    if len(set(seqs)) != len(seqs):
        raise SealsFileError("two seals have the same seq")
    return SealsFile(tuple(sorted(seals, key=lambda s: s.seq)), dict(keys))


def _seal(item: Any, number: int, raws: Mapping[str, str]) -> Seal:
    where = f"seal #{number}"
    if not isinstance(item, dict):
        raise SealsFileError(f"{where} is not an object")
    ints = {name: item.get(name) for name in ("seq", "tree_size", "last_position")}
    for name, value in ints.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SealsFileError(f"{where}: {name} must be a positive whole number")
    texts = {name: item.get(name) for name in ("root", "sealed_at", "signature", "key_fingerprint")}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise SealsFileError(f"{where}: {name} must be text")
    if not HEX64.match(texts["root"]):  # type: ignore[arg-type]
        raise SealsFileError(f"{where}: root must be 64 lower-case hex digits")
    public = raws.get(texts["key_fingerprint"])  # type: ignore[arg-type]
    if public is None:
        raise SealsFileError(f"{where}: its key {str(texts['key_fingerprint'])[:16]}… is not in public_keys")
    return Seal(
        seq=ints["seq"], tree_size=ints["tree_size"], last_position=ints["last_position"],  # type: ignore[arg-type]
        root=texts["root"], sealed_at=texts["sealed_at"], signature=texts["signature"],  # type: ignore[arg-type]
        key_fingerprint=texts["key_fingerprint"], public_key=public,  # type: ignore[arg-type]
    )  # fmt: skip
