"""Seals: a signed Merkle tree over the ledger's log, its verification and its proofs (docs/seals.md).

- :mod:`~projections.seals.merkle`: RFC 9162 hashing, the growing tree, proofs and their checks (pure);
- :mod:`~projections.seals.tables`: the ``seal_leaves`` and ``seals`` tables, in the ledger's database;
- :mod:`~projections.seals.store`: connections to it, and the log read as stored;
- :mod:`~projections.seals.keys`: the bureau's Ed25519 seal key;
- :mod:`~projections.seals.sealer`: following the log, recording seals (on demand, or by a :class:`SealPolicy`);
- :mod:`~projections.seals.verify`: the log checked against every seal;
- :mod:`~projections.seals.proofs`: inclusion and consistency proofs;
- :mod:`~projections.seals.model`: a seal, and the seals file an auditor keeps.

Seals are **not a read model**: no rebuild resets them (a seal is a signed statement about the
log at a moment, which nothing derived could give back). The functions below open the store for
one call and close it; a process that seals or proves often keeps a :class:`SealStore`
(:func:`open_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ledger.settings import store_env
from ledger.store import utc_now
from projections.seals.keys import (
    PublicKey,
    SealKey,
    SealKeyError,
    SealKeyMissing,
    create_key_file,
    load_key_file,
    seal_message,
)
from projections.seals.model import Seal, SealsFile, SealsFileError, load_seals_file
from projections.seals.proofs import Consistency, Inclusion, all_seals, consistency, inclusion, latest_seal
from projections.seals.sealer import NothingToSeal, Sealer, SealPolicy
from projections.seals.store import SealStore, open_store
from projections.seals.verify import VerifyResult, verify


def sealable(url: str) -> bool:
    """Whether the ledger at ``url`` can hold seals (a SQLite file or PostgreSQL, not memory)."""
    env = store_env(url)
    path = env.get("SQLITE_DBNAME", "")
    return not (":memory:" in path or "mode=memory" in path)


def create_tables(url: str) -> None:
    """Make the seals' tables in the ledger's database at ``url`` (if missing)."""
    open_store(url).close()


def seal_store(url: str, key: SealKey, *, clock: Callable[[], datetime] = utc_now) -> Seal:
    """Catch the tree up with the log at ``url`` and record a seal signed with ``key``."""
    store = open_store(url)
    try:
        return Sealer(store, clock=clock).seal(key)
    finally:
        store.close()


def verify_store(
    url: str,
    *,
    seals: SealsFile | Sequence[Seal] | None = None,
    public_key: PublicKey | str | bytes | None = None,
) -> VerifyResult:
    """Verify the log at ``url`` (a SQLite file, a copy of one, or PostgreSQL) against ``seals``
    (default: those stored beside it), their signatures under ``public_key`` (PEM, or the raw key
    in hex; default: the seals file's, else the key stored with each seal). Nothing is written."""
    key = PublicKey.from_pem(public_key) if isinstance(public_key, str | bytes) else public_key
    store = open_store(url, create=False)
    try:
        return verify(store, seals=seals, public_key=key)
    finally:
        store.close()


def export_seals(url: str, public_key: PublicKey | None = None) -> SealsFile:
    """Every seal of the ledger at ``url`` with the public keys that signed them (``public_key``,
    the bureau's, for its own fingerprint; the key stored with a seal for any other)."""
    store = open_store(url)
    try:
        seals = all_seals(store)
    finally:
        store.close()
    keys: dict[str, str] = {}
    for seal in seals:
        if seal.key_fingerprint not in keys:
            mine = public_key is not None and public_key.fingerprint == seal.key_fingerprint
            key = public_key if mine and public_key else PublicKey.from_raw(bytes.fromhex(seal.public_key))
            keys[seal.key_fingerprint] = key.pem
    if public_key is not None:
        keys.setdefault(public_key.fingerprint, public_key.pem)
    return SealsFile(tuple(seals), keys)


__all__ = [
    "Consistency",
    "Inclusion",
    "NothingToSeal",
    "PublicKey",
    "Seal",
    "SealKey",
    "SealKeyError",
    "SealKeyMissing",
    "SealPolicy",
    "SealStore",
    "Sealer",
    "SealsFile",
    "SealsFileError",
    "VerifyResult",
    "all_seals",
    "consistency",
    "create_key_file",
    "create_tables",
    "export_seals",
    "inclusion",
    "latest_seal",
    "load_key_file",
    "load_seals_file",
    "open_store",
    "seal_message",
    "seal_store",
    "sealable",
    "verify",
    "verify_store",
]
