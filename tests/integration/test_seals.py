"""Seals on both stores: the tree follows the log, seals are signed, and verification names tampering.

Tampering is done as an attacker with the database would: raw SQL on the library's events table
(``stored_events`` on SQLite, ``tiexin_events`` on PostgreSQL), never through tiexin.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application import Ledger
from ledger.errors import InvalidInput, RuleViolation
from projections.seals import (
    PublicKey,
    Sealer,
    SealKey,
    SealKeyMissing,
    consistency,
    export_seals,
    inclusion,
    load_key_file,
    merkle,
    open_store,
    seal_store,
    verify_store,
)
from projections.seals.model import parse_seals
from projections.seals.proofs import NotSealed, UnknownPosition, UnknownSeal
from projections.seals.sealer import uuid_bytes
from tests.builders import make_pair, visit_at

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def key() -> SealKey:
    return SealKey(Ed25519PrivateKey.generate())


@dataclass
class Raw:
    """SQL on the library's events table, as an attacker with the database writes it."""

    url: str

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        if self.url.startswith("sqlite"):
            with sqlite3.connect(urlsplit(self.url).path[1:]) as conn:
                yield conn.cursor()
            conn.close()
        else:
            with psycopg.connect(self.url.split("?")[0], autocommit=True) as conn, conn.cursor() as cursor:
                yield cursor

    @property
    def table(self) -> str:
        if self.url.startswith("sqlite"):
            return "stored_events"
        return f'"{parse_qs(urlsplit(self.url).query)["schema"][0]}".tiexin_events'

    @property
    def pos(self) -> str:
        return "rowid" if self.url.startswith("sqlite") else "notification_id"

    def run(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = statement.format(
            events=self.table, pos=self.pos, seal=self.seal_table("seals"), leaves=self.seal_table("seal_leaves")
        )
        if not self.url.startswith("sqlite"):
            sql = sql.replace("?", "%s")
        with self.cursor() as cursor:
            cursor.execute(sql, params)
            try:
                return list(cursor.fetchall())
            except (psycopg.ProgrammingError, sqlite3.ProgrammingError):
                return []

    def seal_table(self, name: str) -> str:
        if self.url.startswith("sqlite"):
            return name
        return f'"{parse_qs(urlsplit(self.url).query)["schema"][0]}".{name}'

    def row(self, position: int) -> tuple[Any, ...]:
        [found] = self.run(
            "SELECT originator_id, originator_version, topic, state FROM {events} WHERE {pos} = ?", (position,)
        )
        return found

    def positions(self) -> list[int]:
        return [int(p) for (p,) in self.run("SELECT {pos} FROM {events} ORDER BY {pos}")]


def build(ledger: Ledger, pairs: int = 3, visits: int = 3) -> None:
    """A few elders, volunteers, pairings and confirmed visits: a few dozen events."""
    for n in range(pairs):
        pair = make_pair(ledger, 100 + n)
        for v in range(visits):
            visit_at(ledger, pair, FEB + timedelta(days=3 * v, hours=n))


def head(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


@pytest.fixture
def sealed(stored_ledger: Ledger, store_url: str, key: SealKey) -> Ledger:
    build(stored_ledger)
    seal_store(store_url, key)
    return stored_ledger


# A clean store ---------------------------------------------------------------------------------


def test_a_sealed_log_verifies_intact_up_to_its_last_position(sealed: Ledger, store_url: str, key: SealKey) -> None:
    last = head(sealed)
    result = verify_store(store_url, public_key=key.public.pem)
    assert result.intact and result.kind is None
    assert result.summary == f"intact up to position {last} under seal 1"
    assert (result.seal, result.position, result.tree_size, result.unsealed) == (1, last, last, 0)


def test_the_seal_root_is_the_rfc_9162_root_of_the_log_as_the_library_reads_it(
    sealed: Ledger, store_url: str, key: SealKey
) -> None:
    notifications = sealed.recorder.select_notifications(start=1, limit=10_000)
    leaves = [
        merkle.leaf_hash(
            merkle.record(n.id, uuid_bytes(str(n.originator_id)), n.originator_version, n.topic.encode(), n.state)
        )
        for n in notifications
    ]
    store = open_store(store_url)
    try:
        [seal] = export_seals(store_url).seals
    finally:
        store.close()
    assert seal.root == merkle.mth(leaves).hex()
    assert seal.tree_size == len(leaves) and seal.last_position == notifications[-1].id
    assert key.public.verifies(bytes.fromhex(seal.signature), seal.message())


def test_events_after_the_last_seal_are_counted_not_judged(sealed: Ledger, store_url: str) -> None:
    before = head(sealed)
    build(sealed, pairs=1, visits=1)
    result = verify_store(store_url)
    assert result.intact and result.position == before
    assert result.unsealed == head(sealed) - before


def test_a_never_sealed_log_has_nothing_to_verify(stored_ledger: Ledger, store_url: str) -> None:
    result = verify_store(store_url)
    assert result.intact and result.seal is None
    assert result.summary.startswith("nothing sealed yet")


def test_later_seals_extend_earlier_ones_and_every_event_has_a_proof(
    sealed: Ledger, store_url: str, key: SealKey
) -> None:
    build(sealed, pairs=1, visits=2)
    seal_store(store_url, key)
    build(sealed, pairs=1, visits=1)
    seal_store(store_url, key)
    store = open_store(store_url)
    try:
        proof = consistency(store, 1, 3)
        assert merkle.verify_consistency(
            proof.first.tree_size, proof.second.tree_size, bytes.fromhex(proof.first.root),
            bytes.fromhex(proof.second.root), proof.proof,
        )  # fmt: skip
        assert consistency(store, 2, 2).proof == ()
        for position in Raw(store_url).positions():
            found = inclusion(store, position)
            assert found.seal.seq == 3 and found.record[:8] == position.to_bytes(8, "big")
            assert merkle.verify_inclusion(
                merkle.leaf_hash(found.record), found.leaf_index, found.seal.tree_size, found.path,
                bytes.fromhex(found.seal.root),
            )  # fmt: skip
        assert inclusion(store, 1, 1).seal.seq == 1
    finally:
        store.close()
    assert verify_store(store_url).summary == f"intact up to position {head(sealed)} under seal 3"


def test_proofs_refuse_what_they_cannot_prove(sealed: Ledger, store_url: str) -> None:
    last = head(sealed)
    build(sealed, pairs=1, visits=1)
    store = open_store(store_url)
    try:
        with pytest.raises(UnknownPosition):
            inclusion(store, 10**9)
        with pytest.raises(NotSealed, match="not sealed under seal 1"):
            inclusion(store, last + 1)
        with pytest.raises(UnknownSeal):
            inclusion(store, 1, 7)
        with pytest.raises(InvalidInput, match="after seal"):
            consistency(store, 2, 1)
        with pytest.raises(UnknownSeal):
            consistency(store, 1, 2)
    finally:
        store.close()


# The sealer ------------------------------------------------------------------------------------


def test_the_sealer_resumes_where_it_stopped_and_two_sealers_never_add_a_leaf_twice(
    stored_ledger: Ledger, store_url: str, key: SealKey
) -> None:
    build(stored_ledger)
    one, other = open_store(store_url), open_store(store_url)
    try:
        first = Sealer(one, page=7)
        assert first.step().appended == 7
        second = Sealer(other, page=5)  # a restart: it reads where the table ends
        assert second.step().appended == 5 and second.size == 12
        assert first.step().appended == 7 and first.size == 19  # it saw the tree had moved and reloaded
        build(stored_ledger, pairs=1, visits=1)
        sealed = second.seal(key)
        assert sealed.tree_size == head(stored_ledger) == len(Raw(store_url).positions())
        count = Raw(store_url).run("SELECT COUNT(*), COUNT(DISTINCT position) FROM {leaves}")
        assert count == [(sealed.tree_size, sealed.tree_size)]
    finally:
        one.close()
        other.close()
    assert verify_store(store_url, public_key=key.public.pem).intact


def test_the_running_sealer_seals_by_its_policy(stored_ledger: Ledger, store_url: str, key: SealKey) -> None:
    from projections.seals import SealPolicy

    build(stored_ledger, pairs=1, visits=1)
    store = open_store(store_url)
    try:
        sealer = Sealer(store)
        policy = SealPolicy(key=lambda: key, every_events=5, every_seconds=3600)
        first = sealer.run_once(policy)
        assert first is not None and first.tree_size == head(stored_ledger)
        assert sealer.run_once(policy) is None  # nothing new
        visit_at(stored_ledger, make_pair(stored_ledger, 7), FEB)
        assert sealer.run_once(policy) is not None  # five new events or more
        visit_at(stored_ledger, make_pair(stored_ledger, 8), FEB)  # a few, and too soon: none
        assert sealer.run_once(SealPolicy(key=lambda: key, every_events=1000, every_seconds=3600)) is None
        assert sealer.run_once(SealPolicy(key=lambda: key, every_events=1000, every_seconds=0.001)) is not None

        def missing() -> SealKey:
            raise SealKeyMissing("no key")

        assert sealer.run_once(SealPolicy(key=missing, every_events=1)) is None  # leaves only
        assert sealer.size == head(stored_ledger)
    finally:
        store.close()


def test_sealing_without_a_key_file_says_how_to_make_one(tmp_path: Any) -> None:
    with pytest.raises(SealKeyMissing, match="tiexin keys seal-key"):
        load_key_file(tmp_path / "tiexin-seal.key")


# Tampering -------------------------------------------------------------------------------------

Tamper = Callable[[Raw, list[int]], tuple[int, str]]
"""Alters the sealed log; answers the first bad position and the kind verification must name."""


def edit_a_byte_of_state(raw: Raw, positions: list[int]) -> tuple[int, str]:
    at = positions[len(positions) // 2]
    state = bytes(raw.row(at)[3])
    raw.run("UPDATE {events} SET state = ? WHERE {pos} = ?", (state[:5] + bytes([state[5] ^ 1]) + state[6:], at))
    return at, "edited"


def change_a_topic(raw: Raw, positions: list[int]) -> tuple[int, str]:
    at = positions[len(positions) // 3]
    raw.run("UPDATE {events} SET topic = ? WHERE {pos} = ?", ("tiexin.visit.Voided", at))
    return at, "edited"


def delete_a_row(raw: Raw, positions: list[int]) -> tuple[int, str]:
    at = positions[len(positions) // 2]
    raw.run("DELETE FROM {events} WHERE {pos} = ?", (at,))
    return at, "deleted"


def swap_two_rows(raw: Raw, positions: list[int]) -> tuple[int, str]:
    a, b = positions[10], positions[20]
    raw.run("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (10**12, a))
    raw.run("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (a, b))
    raw.run("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (b, 10**12))
    return a, "reordered"


TAMPERING = {"edit": edit_a_byte_of_state, "topic": change_a_topic, "delete": delete_a_row, "swap": swap_two_rows}


@pytest.mark.parametrize("how", TAMPERING)
def test_verification_names_the_first_tampered_position_and_how(
    how: str, sealed: Ledger, store_url: str, key: SealKey
) -> None:
    raw = Raw(store_url)
    at, kind = TAMPERING[how](raw, raw.positions())
    result = verify_store(store_url, public_key=key.public.pem)
    assert not result.intact
    assert (result.position, result.kind, result.seal) == (at, kind, 1), result.summary
    assert result.summary.startswith(f"position {at}: {kind}")


def test_a_swap_says_where_the_moved_event_was_sealed(sealed: Ledger, store_url: str) -> None:
    raw = Raw(store_url)
    positions = raw.positions()
    swap_two_rows(raw, positions)
    result = verify_store(store_url)
    assert result.detail == f"the event sealed at position {positions[20]} now stands at position {positions[10]}"


def test_a_row_inserted_where_nothing_was_sealed_is_named(stored_ledger: Ledger, store_url: str, key: SealKey) -> None:
    build(stored_ledger)
    raw = Raw(store_url)
    gap = raw.positions()[15]
    removed = raw.row(gap)
    raw.run("DELETE FROM {events} WHERE {pos} = ?", (gap,))  # before sealing: the sealed log has a gap here
    seal_store(store_url, key)
    assert verify_store(store_url).intact
    raw.run(
        "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
        (gap, *removed),
    )
    result = verify_store(store_url)
    assert (result.position, result.kind) == (gap, "inserted"), result.summary


def test_tampering_after_the_first_seal_is_laid_to_the_seal_that_no_longer_matches(
    sealed: Ledger, store_url: str, key: SealKey
) -> None:
    first = head(sealed)
    build(sealed, pairs=1, visits=2)
    seal_store(store_url, key)
    raw = Raw(store_url)
    delete_a_row(raw, [p for p in raw.positions() if p > first])
    result = verify_store(store_url)
    assert (result.seal, result.kind) == (2, "deleted") and result.position is not None and result.position > first


def test_a_forged_seal_signature_is_refused(sealed: Ledger, store_url: str, key: SealKey) -> None:
    raw = Raw(store_url)
    [(signature,)] = raw.run("SELECT signature FROM {seal} WHERE seq = 1")
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]
    raw.run("UPDATE {seal} SET signature = ? WHERE seq = 1", (forged,))
    for result in (verify_store(store_url), verify_store(store_url, public_key=key.public.pem)):
        assert not result.intact and (result.kind, result.seal) == ("forged", 1)
        assert result.summary.startswith("seal 1 is refused: its signature does not verify")


def test_a_seal_signed_again_with_another_key_is_refused_under_the_bureaus_key(
    sealed: Ledger, store_url: str, key: SealKey
) -> None:
    raw = Raw(store_url)
    edit_a_byte_of_state(raw, raw.positions())
    impostor = SealKey(Ed25519PrivateKey.generate())
    raw.run("DELETE FROM {seal}")
    seal_store(store_url, impostor)  # the attacker re-seals the altered log… but the leaves still tell
    result = verify_store(store_url, public_key=key.public.pem)
    assert (result.intact, result.kind) == (False, "forged")
    assert f"the given public key {key.public.fingerprint[:16]}" in result.summary


def test_verification_against_an_exported_seals_file_finds_tampering_the_store_hides(
    sealed: Ledger, store_url: str, key: SealKey
) -> None:
    kept = parse_seals(export_seals(store_url, key.public).as_json())
    raw = Raw(store_url)
    at, _ = edit_a_byte_of_state(raw, raw.positions())
    raw.run("DELETE FROM {seal}")
    raw.run("DELETE FROM {leaves}")
    seal_store(store_url, SealKey(Ed25519PrivateKey.generate()))  # a fresh tree and seal over the altered log
    assert verify_store(store_url).intact  # consistent with itself…
    result = verify_store(store_url, seals=kept, public_key=PublicKey.from_pem(key.public.pem))
    assert not result.intact and result.seal == 1
    assert result.kind == "altered" and result.position is not None and result.position <= at


def test_altered_stored_leaves_are_named_though_the_log_is_intact(sealed: Ledger, store_url: str) -> None:
    raw = Raw(store_url)
    at = raw.positions()[5]
    raw.run("UPDATE {leaves} SET leaf_hash = ? WHERE position = ?", (b"\x00" * 32, at))
    result = verify_store(store_url)
    assert (result.intact, result.kind, result.position) == (False, "leaves", at)
    store = open_store(store_url)
    try:
        with pytest.raises(RuleViolation, match="is not the one sealed there"):
            inclusion(store, at)
    finally:
        store.close()


def test_a_row_slipped_in_below_the_first_position_is_named(sealed: Ledger, store_url: str) -> None:
    raw = Raw(store_url)
    originator, _, topic, state = raw.row(raw.positions()[3])
    raw.run(
        "INSERT INTO {events} ({pos}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
        (-1, originator, 999, topic, state),
    )
    result = verify_store(store_url)
    assert (result.intact, result.position, result.kind) == (False, -1, "inserted"), result.summary
