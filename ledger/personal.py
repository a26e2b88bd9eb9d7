"""Personal data in the log: which fields are personal, whose they are, and how they are kept.

The ledger holds elders' names, birth dates, addresses, phones, notes and health readings, and
free text (comments, reasons) that may name people. PIPL lets a person ask to be forgotten, yet
the log is immutable and sealed (a changed byte breaks every seal after it). So each person (a
*subject*: an elder or a volunteer) has a key of their own, and every personal field of an event
is stored encrypted under the key of the person it is about (AES-256-GCM), as a string

    pd1:<subject id, 32 hex digits>:<urlsafe base64 of nonce ‖ ciphertext>

whose additional data binds it to its event and field (it cannot be moved to another). The
person's keys are kept in ``personal_keys``, apart from the events, each wrapped (AES-GCM) under
the bureau's master key. Forgetting a person destroys their key (crypto-shredding): the events
keep every byte, so every seal and proof still holds, and their personal fields read as
:data:`FORGOTTEN` from then on, everywhere.

An event class declares its personal fields (``PERSONAL``; ``"changes.notes"`` names a key of a
dict field) and whose they are (``SUBJECT``: the field holding the person's id; unset, the
aggregate being saved says, by its ``personal_subject``). Events written before this existed
hold their personal fields in plain text; they still load as they are.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from ledger.errors import ConfigurationError, ConflictError, RuleViolation

FORGOTTEN = "[forgotten]"
"""What a forgotten person's text fields read as."""
PLACEHOLDERS: dict[str, Any] = {"readings": {}, "birth_date": None}
"""What other forgotten fields read as (by field name); any other reads as :data:`FORGOTTEN`."""
PREFIX = "pd1:"
MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
CHECK_SUBJECT = UUID(int=0)
"""The key table's check row: a known value wrapped under the master key, to tell a wrong master key."""
CHECK_VALUE = b"tiexin personal keys"
RECHECK_SECONDS = 2.0
"""How often a process asks the key table whether someone was forgotten elsewhere (one COUNT)."""


class Personal(Protocol):
    """What an event class with personal fields declares (see the module docstring)."""

    PERSONAL: ClassVar[tuple[str, ...]]
    SUBJECT: ClassVar[str | None]


def personal_fields(event_class: type) -> tuple[str, ...]:
    fields: tuple[str, ...] = getattr(event_class, "PERSONAL", ())
    return fields


def is_sealed(value: object) -> bool:
    """Whether a stored value is a personal field's ciphertext (not plain text of an older event)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def subject_in(value: object) -> UUID | None:
    """The person a sealed value belongs to (None for a plain value)."""
    if not is_sealed(value):
        return None
    return UUID(hex=str(value)[len(PREFIX) : len(PREFIX) + 32])


def placeholder(field: str) -> Any:
    return PLACEHOLDERS.get(field.rsplit(".", 1)[-1], FORGOTTEN)


# The key table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredKey:
    """A row of ``personal_keys``: the wrapped key, or None once the person is forgotten."""

    subject_id: UUID
    wrapped: bytes | None
    created_at: str
    forgotten_at: str | None


class KeyStore(Protocol):
    """Where the persons' wrapped keys are kept (:mod:`ledger.keystore` has one per store)."""

    def get(self, subject_id: UUID) -> StoredKey | None: ...

    def add(self, keys: list[StoredKey]) -> list[UUID]:
        """Insert new keys in one transaction; answer the subjects that already had a row (not inserted)."""
        ...

    def forget(self, subject_id: UUID, at: str) -> bool:
        """Destroy a person's key (keep a row saying when); False if they were already forgotten."""
        ...

    def all(self) -> list[StoredKey]:
        """Every row, the check row too, by subject id (for copies of the ledger)."""
        ...

    def count(self) -> tuple[int, int]:
        """(live keys, forgotten persons), the check row excluded."""
        ...


def load_master_key(text: str) -> bytes:
    """A master key as written in ``TIEXIN_MASTER_KEY`` or its key file: 32 bytes, base64 (or 64 hex digits)."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * MASTER_KEY_BYTES else base64.b64decode(text, validate=True)
    except ValueError:
        raise ConfigurationError("the master key must be 32 bytes in base64 (or 64 hex digits)") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ConfigurationError(f"the master key must be {MASTER_KEY_BYTES} bytes, not {len(key)}")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


class Keyring:
    """The persons' keys, unwrapped on first use and kept in memory; new keys are written before their events.

    ``random_bytes`` makes keys and nonces (``os.urandom``; the contract samples pass a fixed
    sequence so that they are written byte for byte the same). Keys made while events are
    encoded wait in this thread's ``pending`` until the event store commits them, just before
    the events (a key without events is harmless; an event without its key would be lost).
    """

    def __init__(self, master_key: bytes | None, *, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        """Without a master key the keyring is *locked*: personal fields stay sealed, and none can be written."""
        if master_key is not None and len(master_key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"the master key must be {MASTER_KEY_BYTES} bytes")
        self._master = None if master_key is None else AESGCM(master_key)
        self._random = random_bytes
        self._store: KeyStore | None = None
        self._keys: dict[UUID, AESGCM | None] = {}
        self._forgotten_seen: int | None = None
        self._checked_at = float("-inf")
        self.recheck_seconds = RECHECK_SECONDS
        self._local = threading.local()

    def attach(self, store: KeyStore, created_at: str) -> None:
        """Use this key table; refuse it (ConfigurationError) if the master key is not the one that wrapped it."""
        self._store = store
        if self._master is None:
            return
        check = store.get(CHECK_SUBJECT)
        if check is None:
            store.add([self._wrapped(CHECK_SUBJECT, CHECK_VALUE, created_at)])
            check = store.get(CHECK_SUBJECT)
        if check is None or check.wrapped is None or self._unwrap(CHECK_SUBJECT, check.wrapped) != CHECK_VALUE:
            raise ConfigurationError(
                "the master key does not open this ledger's personal keys: set TIEXIN_MASTER_KEY "
                "(or TIEXIN_MASTER_KEY_FILE) to the key this ledger was written with"
            )

    @property
    def locked(self) -> bool:
        return self._master is None

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            raise ConfigurationError("the keyring has no key table attached")
        return self._store

    # Sealing and opening one value ---------------------------------------------------------

    def seal(self, subject_id: UUID, plaintext: bytes, context: bytes, now: str) -> str:
        """The stored form of one personal value of ``subject_id``; RuleViolation if they were forgotten."""
        self._notice_forgetting_elsewhere()
        key = self._pending().get(subject_id) or self._key(subject_id)
        if key is None and subject_id in self._keys:
            raise RuleViolation(
                "person.forgotten", f"{subject_id} has been forgotten: nothing personal can be recorded about them"
            )
        if key is None:
            key = self._new_key(subject_id, now)
        nonce = self._random(NONCE_BYTES)
        sealed = nonce + key.encrypt(nonce, plaintext, context)
        return f"{PREFIX}{subject_id.hex}:{base64.urlsafe_b64encode(sealed).decode()}"

    def open(self, value: str, context: bytes) -> bytes | None:
        """The plaintext of a sealed value, or None if its person has been forgotten."""
        subject_id = subject_in(value)
        if subject_id is None:
            raise ValueError("not a sealed personal value")
        self._notice_forgetting_elsewhere()
        key = self._key(subject_id)
        if key is None:
            return None
        raw = base64.urlsafe_b64decode(value[len(PREFIX) + 33 :])
        try:
            return key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
        except InvalidTag:
            raise ValueError(f"a personal field of {subject_id} does not decrypt (altered ciphertext?)") from None

    # Forgetting ----------------------------------------------------------------------------

    def forget(self, subject_id: UUID, at: str) -> bool:
        """Destroy a person's key; False if they were already forgotten."""
        destroyed = self.store.forget(subject_id, at)
        self._keys[subject_id] = None
        return destroyed

    def is_forgotten(self, subject_id: UUID, *, fresh: bool = False) -> bool:
        """Whether a person has been forgotten (``fresh``: ask the key table, not this process's memory)."""
        if fresh:
            self._keys.pop(subject_id, None)
        return self._key(subject_id) is None and subject_id in self._keys

    def evict(self, subject_id: UUID) -> None:
        """Forget what this process remembers of a person's key (another process may have destroyed it)."""
        self._keys.pop(subject_id, None)

    def _notice_forgetting_elsewhere(self) -> None:
        """Drop the keys this process remembers if another process has forgotten someone since (checked every 2 s)."""
        now = time.monotonic()
        if now - self._checked_at < self.recheck_seconds:
            return
        self._checked_at = now
        forgotten = self.store.count()[1]
        if self._forgotten_seen is not None and forgotten != self._forgotten_seen:
            self._keys.clear()
        self._forgotten_seen = forgotten

    # Keys made while saving ----------------------------------------------------------------

    @contextmanager
    def saving(self, subjects: dict[UUID, UUID]) -> Iterator[None]:
        """While a save encodes its events: whose are the events of each aggregate (by originator id).

        Keys made meanwhile stay this thread's own until :meth:`commit_new_keys` writes them; if
        the save fails before, they were never anyone's key and are dropped.
        """
        self._local.subjects = subjects
        self._local.pending = {}
        self._local.rows = []
        try:
            yield
        finally:
            self._local.subjects = {}
            self._local.pending = {}
            self._local.rows = []

    def subject_of_originator(self, originator_id: UUID) -> UUID | None:
        subjects: dict[UUID, UUID] = getattr(self._local, "subjects", {})
        return subjects.get(originator_id)

    def commit_new_keys(self) -> None:
        """Write the keys made for this save's events (before the events); a raced key is a conflict."""
        rows: list[StoredKey] = getattr(self._local, "rows", [])
        if not rows:
            return
        raced = self.store.add(rows)
        if raced:
            raise ConflictError("another command made the same person's key first; nothing was written")
        self._keys.update(self._pending())
        self._local.pending = {}
        self._local.rows = []

    def _pending(self) -> dict[UUID, AESGCM]:
        pending: dict[UUID, AESGCM] = getattr(self._local, "pending", {})
        return pending

    # Keys ----------------------------------------------------------------------------------

    def _key(self, subject_id: UUID) -> AESGCM | None:
        """The person's key: None if they are forgotten (remembered) or have none yet (not remembered)."""
        if subject_id in self._keys:
            return self._keys[subject_id]
        stored = self.store.get(subject_id)
        if stored is None:
            return None
        key = None if stored.wrapped is None else AESGCM(self._unwrap(subject_id, stored.wrapped))
        self._keys[subject_id] = key
        return key

    def _new_key(self, subject_id: UUID, now: str) -> AESGCM:
        raw = self._random(32)
        if not hasattr(self._local, "pending"):
            self._local.pending, self._local.rows = {}, []
        key = self._local.pending[subject_id] = AESGCM(raw)
        self._local.rows.append(self._wrapped(subject_id, raw, now))
        return key

    def _wrapped(self, subject_id: UUID, raw: bytes, now: str) -> StoredKey:
        if self._master is None:
            raise ConfigurationError("no master key (TIEXIN_MASTER_KEY): personal data cannot be recorded")
        nonce = self._random(NONCE_BYTES)
        wrapped = nonce + self._master.encrypt(nonce, raw, b"tiexin-key:" + subject_id.bytes)
        return StoredKey(subject_id, wrapped, now, None)

    def _unwrap(self, subject_id: UUID, wrapped: bytes) -> bytes:
        if self._master is None:
            raise ConfigurationError("no master key (TIEXIN_MASTER_KEY): personal data cannot be read")
        try:
            return self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"tiexin-key:" + subject_id.bytes)
        except InvalidTag:
            raise ConfigurationError(
                "the master key does not open this ledger's personal keys: set TIEXIN_MASTER_KEY "
                "(or TIEXIN_MASTER_KEY_FILE) to the key this ledger was written with"
            ) from None


# The mapper ---------------------------------------------------------------------------------


class PersonalDataMapper(Mapper[UUID]):
    """The library's mapper, sealing each personal field on the way into the store and opening it on the way out."""

    def __init__(self, transcoder: Transcoder, keyring: Keyring, clock: Callable[[], datetime]) -> None:
        super().__init__(transcoder)
        self.keyring = keyring
        self.clock = clock

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = personal_fields(type(domain_event))
        if not fields:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        plain = [path for path in fields if not (_get(state, path) is _ABSENT or is_sealed(_get(state, path)))]
        if not plain:
            return super().to_stored_event(domain_event)
        subject_id = self._subject(domain_event)
        now = self.clock().isoformat()
        for path in plain:
            value = _get(state, path)
            context = _context(domain_event.originator_id, domain_event.originator_version, path)
            _set(state, path, self.keyring.seal(subject_id, self.transcoder.encode(value), context, now))
        sealed_event = object.__new__(type(domain_event))
        object.__setattr__(sealed_event, "__dict__", state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        if self.keyring.locked:
            return event  # a reader of the log without the master key sees the sealed values
        state = event.__dict__
        for path in personal_fields(type(event)):
            value = _get(state, path)
            if not is_sealed(value):
                continue
            context = _context(event.originator_id, event.originator_version, path)
            plaintext = self.keyring.open(value, context)
            _set(state, path, placeholder(path) if plaintext is None else self.transcoder.decode(plaintext))
        if getattr(type(event), "FORGETS_SUBJECT", False):
            self.keyring.evict(event.originator_id)  # another process may have destroyed the key
        return event

    def _subject(self, event: Any) -> UUID:
        field = getattr(type(event), "SUBJECT", None)
        subject = getattr(event, field) if field else self.keyring.subject_of_originator(event.originator_id)
        if not isinstance(subject, UUID):
            raise ValueError(f"{type(event).__qualname__}: no person is known for its personal fields")
        return subject


_ABSENT = object()


def _context(originator_id: UUID, version: int, path: str) -> bytes:
    return originator_id.bytes + version.to_bytes(8, "big") + path.encode()


def _get(state: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = state.get(head, _ABSENT)
    if rest:
        return value.get(rest, _ABSENT) if isinstance(value, dict) else _ABSENT
    return value


def _set(state: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        state[head] = {**state[head], rest: value}
    else:
        state[head] = value
