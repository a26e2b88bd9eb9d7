"""API keys: who a request comes from and in which role.

A key is ``tiexin_`` followed by 32 random bytes (``secrets.token_urlsafe``, 256 bits). Only its
SHA-256 is stored, in the ``api_keys`` table beside the ledger (:mod:`api.tables`). A plain, fast
hash is enough *because* the token is random: slow, salted hashes (bcrypt, argon2) exist to
protect low-entropy passwords from guessing, and nobody can guess through 2^256 tokens, with or
without the table. The hash is also what a request is looked up by, so authenticating is one
indexed read (cached for ``auth_cache_ttl`` seconds).

The principal of a request is the key: its id and role become the :class:`Provenance` of every
event it writes. A volunteer's key also names the volunteer, and writes only their records.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from api.tables import Duplicate, Tables
from ledger.common import ROLES, require_text
from ledger.errors import InvalidInput, NotFound, RuleViolation

API_ROLES = tuple(role for role in ROLES if role != "system")
TOKEN_PREFIX = "tiexin_"


@dataclass(frozen=True)
class Principal:
    """The holder of a valid key."""

    key_id: str
    name: str
    role: str
    volunteer_id: UUID | None = None


@dataclass(frozen=True)
class KeyInfo:
    """What ``tiexin keys list`` shows: never the key, nor its hash."""

    id: str
    name: str
    role: str
    volunteer_id: UUID | None
    created_at: str
    revoked_at: str | None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    COLUMNS = "id, name, role, volunteer_id, created_at, revoked_at"

    def __init__(self, tables: Tables, *, cache_ttl: float = 0.0) -> None:
        self.tables = tables
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def create(self, *, role: str, name: str, volunteer_id: UUID | None = None) -> tuple[str, KeyInfo]:
        """A new key: answers the token (shown once, stored nowhere) and the key's record."""
        if role not in API_ROLES:
            raise InvalidInput("role", f"{role!r} is not one of {', '.join(API_ROLES)}")
        name = require_text("name", name, max_length=80)
        if (role == "volunteer") != (volunteer_id is not None):
            raise InvalidInput("volunteer", "a volunteer's key names the volunteer (--volunteer ID); no other key does")
        token = new_token()
        info = KeyInfo(
            f"key_{secrets.token_hex(8)}",
            name,
            role,
            volunteer_id,
            datetime.now(UTC).isoformat(timespec="seconds"),
            None,
        )
        try:
            self.tables.execute(
                "INSERT INTO {api_keys} (id, name, role, volunteer_id, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (info.id, name, role, str(volunteer_id) if volunteer_id else None, token_hash(token), info.created_at),
            )
        except Duplicate:
            raise RuleViolation(
                "key.name_taken", f"a key named {name!r} exists already (names are never reused)"
            ) from None
        return token, info

    def list_keys(self) -> list[KeyInfo]:
        rows = self.tables.query(f"SELECT {self.COLUMNS} FROM {{api_keys}} ORDER BY created_at, name")
        return [self._info(row) for row in rows]

    def revoke(self, name_or_id: str) -> KeyInfo:
        rows = self.tables.query(
            f"SELECT {self.COLUMNS} FROM {{api_keys}} WHERE id = ? OR name = ?", (name_or_id, name_or_id)
        )
        if not rows:
            raise NotFound("key", name_or_id)
        info = self._info(rows[0])
        if info.revoked_at is not None:
            raise RuleViolation("key.revoked", f"key {info.name} ({info.id}) was revoked at {info.revoked_at}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.tables.execute("UPDATE {api_keys} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, info.id))
        with self._lock:
            self._cache.clear()
        return KeyInfo(info.id, info.name, info.role, info.volunteer_id, info.created_at, now)

    def recently_authenticated(self, token: str) -> Principal | None:
        """The principal of a key found valid in the last ``cache_ttl`` seconds (no read); else None."""
        return self._recent(token_hash(token))

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key, or None."""
        digest = token_hash(token)
        recent = self._recent(digest)
        if recent is not None:
            return recent
        now = time.monotonic()
        rows = self.tables.query(
            "SELECT id, name, role, volunteer_id FROM {api_keys} WHERE key_hash = ? AND revoked_at IS NULL", (digest,)
        )
        if not rows:
            return None
        key_id, name, role, volunteer = rows[0]
        principal = Principal(key_id, name, role, UUID(volunteer) if volunteer else None)
        if self.cache_ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now, principal)
        return principal

    def _recent(self, digest: str) -> Principal | None:
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self.cache_ttl:
            return cached[1]
        return None

    @staticmethod
    def _info(row: tuple[object, ...]) -> KeyInfo:
        key_id, name, role, volunteer, created, revoked = row
        return KeyInfo(
            str(key_id), str(name), str(role), UUID(str(volunteer)) if volunteer else None, str(created),
            str(revoked) if revoked else None,
        )  # fmt: skip
