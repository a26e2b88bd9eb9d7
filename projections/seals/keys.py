"""The bureau's seal key: Ed25519 (``cryptography``), its file, its public half and fingerprint.

The private key is a PEM file (PKCS#8, unencrypted, mode 0600) at a path the composition root
decides (``TIEXIN_SEAL_KEY_FILE``, default ``tiexin-seal.key``); :func:`create_key_file` makes one
and never overwrites. The public key is given as PEM (SubjectPublicKeyInfo) and as its 32 raw
bytes in hex; its **fingerprint** is the SHA-256 of those 32 bytes, in hex.

A seal's signed message (UTF-8): ``tiexin-seal/1 {tree_size} {root_hex} {sealed_at}``
(:func:`seal_message`), ``sealed_at`` the exact ISO 8601 text stored with the seal.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import ConfigurationError, RuleViolation

MAKE_ONE = "make one with: tiexin keys seal-key"


class SealKeyMissing(RuleViolation):
    """There is no seal key to sign with (the message says where it was looked for and how to make one)."""

    def __init__(self, reason: str) -> None:
        super().__init__("seal.no_key", reason)


class SealKeyError(RuleViolation):
    """A key file or public key that cannot be read as an Ed25519 key."""

    def __init__(self, reason: str) -> None:
        super().__init__("seal.bad_key", reason)


def seal_message(tree_size: int, root_hex: str, sealed_at: str) -> bytes:
    return f"tiexin-seal/1 {tree_size} {root_hex} {sealed_at}".encode()


def fingerprint(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """A seal key's public half."""

    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicKey:
        try:
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise SealKeyError("a public key must be 32 bytes of Ed25519") from None

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PublicKey:
        """A PEM public key (or the raw key in hex): SealKeyError if it is neither."""
        text = pem.decode(errors="replace") if isinstance(pem, bytes) else pem
        text = text.strip()
        if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
            return cls.from_raw(bytes.fromhex(text))
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError):
            raise SealKeyError("not a PEM public key (-----BEGIN PUBLIC KEY-----) nor 64 hex digits") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SealKeyError(f"the public key is {type(key).__name__.removeprefix('_')}, not Ed25519")
        return cls(key)


@dataclass(frozen=True)
class SealKey:
    """The bureau's private seal key."""

    key: Ed25519PrivateKey
    path: Path | None = None

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def load_key_file(path: Path) -> SealKey:
    """The private key in ``path``: SealKeyMissing if there is none, SealKeyError if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SealKeyMissing(f"there is no seal key at {path.resolve()}: {MAKE_ONE}") from None
    except OSError as error:
        raise SealKeyError(f"cannot read the seal key {path}: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SealKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealKeyError(f"{path} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 key")
    return SealKey(key, path)


def create_key_file(path: Path) -> SealKey:
    """Make a new Ed25519 key in ``path`` (mode 0600); ConfigurationError if the file exists or cannot be made."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigurationError(
            f"there is already a seal key at {path.resolve()}: it is never overwritten (seals signed with it "
            "would no longer be checkable against the bureau's key); move it away first if you mean to replace it"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"cannot create the seal key {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return SealKey(key, path)
