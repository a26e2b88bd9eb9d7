"""The seals' Merkle tree is RFC 9162's: known answers, the growing tree, and proofs that verify (and only those)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.seals import merkle

# Certificate Transparency's test tree (RFC 6962 reference tests): eight leaves' data, the root of
# each prefix, and some inclusion and consistency proofs (first 16 hex digits of each hash).
CT_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c6", "5f083f0a1a33ca07", "6b47aaf29ee3c2af"],
    (5, 8): ["bc1a0643b12e4d2d", "ca854ea128ed050b", "d37ee418976dd957"],
}
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c6", "5f083f0a1a33ca07", "6b47aaf29ee3c2af"],
    (6, 8): ["0ebc5d3437fbe2db", "ca854ea128ed050b", "d37ee418976dd957"],
    (2, 5): ["5f083f0a1a33ca07", "bc1a0643b12e4d2d"],
}


def leaves_of(count: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


def node(leaves: list[bytes], start: int, end: int) -> bytes:
    return merkle.mth(leaves[start:end])


def test_the_tree_of_certificate_transparency_has_its_known_roots() -> None:
    leaves = [merkle.leaf_hash(d) for d in CT_LEAVES]
    assert [merkle.mth(leaves[: n + 1]).hex() for n in range(8)] == CT_ROOTS
    assert merkle.mth([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize(("at", "expected"), CT_INCLUSION.items())
def test_inclusion_proofs_are_those_of_certificate_transparency(at: tuple[int, int], expected: list[str]) -> None:
    leaves = [merkle.leaf_hash(d) for d in CT_LEAVES]
    index, size = at
    path = [node(leaves, a, b) for a, b in merkle.path_ranges(index, size)]
    assert [p.hex()[:16] for p in path] == expected
    assert merkle.verify_inclusion(leaves[index], index, size, path, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("sizes", "expected"), CT_CONSISTENCY.items())
def test_consistency_proofs_are_those_of_certificate_transparency(sizes: tuple[int, int], expected: list[str]) -> None:
    leaves = [merkle.leaf_hash(d) for d in CT_LEAVES]
    first, second = sizes
    proof = [node(leaves, a, b) for a, b in merkle.consistency_ranges(first, second)]
    assert [p.hex()[:16] for p in proof] == expected
    assert merkle.verify_consistency(
        first, second, bytes.fromhex(CT_ROOTS[first - 1]), bytes.fromhex(CT_ROOTS[second - 1]), proof
    )


def test_the_growing_tree_has_the_root_of_the_recursive_definition_at_every_size() -> None:
    leaves = leaves_of(70)
    stack = merkle.MerkleStack()
    for n, leaf in enumerate(leaves, start=1):
        stack.push(leaf)
        assert stack.root() == merkle.mth(leaves[:n])


def test_each_leaf_completes_the_perfect_subtrees_ending_at_it_and_they_make_every_node() -> None:
    leaves = leaves_of(45)
    stack = merkle.MerkleStack()
    kept: dict[tuple[int, int], bytes] = {}
    for index, leaf in enumerate(leaves):
        for level, completed in enumerate(stack.push(leaf)):
            kept[merkle.row_of(index + 1 - (1 << level), 1 << level)] = completed
    for start, size in [(0, 32), (32, 8), (40, 4), (44, 1), (16, 16), (6, 2)]:
        assert kept[merkle.row_of(start, size)] == node(leaves, start, start + size)

    def perfect(start: int, size: int) -> bytes:
        return kept[merkle.row_of(start, size)]

    for size in range(1, 46):
        assert merkle.node_of(0, size, perfect) == merkle.mth(leaves[:size])
        for start, end in merkle.path_ranges(size // 2, size):
            assert merkle.node_of(start, end, perfect) == node(leaves, start, end)


def test_a_stack_can_start_from_its_stored_subtrees() -> None:
    leaves = leaves_of(23)
    pieces = merkle.decomposition(23)
    assert pieces == [(0, 16), (16, 4), (20, 2), (22, 1)]
    resumed = merkle.MerkleStack(23, [node(leaves, s, s + n) for s, n in pieces])
    resumed.push(leaves_of(24)[23])
    assert resumed.root() == merkle.mth(leaves_of(24))
    with pytest.raises(ValueError, match="perfect subtrees"):
        merkle.MerkleStack(23, [b"x" * 32])


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    leaves = leaves_of(33)
    for size in range(1, 34):
        root = merkle.mth(leaves[:size])
        for index in range(size):
            path = [node(leaves, a, b) for a, b in merkle.path_ranges(index, size)]
            assert merkle.verify_inclusion(leaves[index], index, size, path, root)
            assert not merkle.verify_inclusion(leaves[(index + 1) % 33], index, size, path, root)
            if path:
                bent = [path[0][:-1] + bytes([path[0][-1] ^ 1]), *path[1:]]
                assert not merkle.verify_inclusion(leaves[index], index, size, bent, root)
                assert not merkle.verify_inclusion(leaves[index], index, size, path[:-1], root)
        assert not merkle.verify_inclusion(leaves[0], size, size, [], root)


def test_every_consistency_proof_verifies_and_a_wrong_one_does_not() -> None:
    leaves = leaves_of(33)
    for second in range(1, 34):
        new = merkle.mth(leaves[:second])
        for first in range(1, second + 1):
            old = merkle.mth(leaves[:first])
            proof = [node(leaves, a, b) for a, b in merkle.consistency_ranges(first, second)]
            assert merkle.verify_consistency(first, second, old, new, proof)
            other = merkle.mth([*leaves[: first - 1], merkle.leaf_hash(b"forged")])
            assert not merkle.verify_consistency(first, second, other, new, proof)
            if proof:
                assert not merkle.verify_consistency(first, second, old, new, proof[:-1])
    with pytest.raises(ValueError):
        merkle.consistency_ranges(5, 4)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.uuids(),
    st.integers(min_value=1, max_value=2**63 - 1),
    st.text(max_size=40),
    st.binary(max_size=300),
)
def test_a_record_is_its_position_then_its_content_in_the_documented_layout(
    position: int, originator: uuid.UUID, version: int, topic: str, state: bytes
) -> None:
    record = merkle.record(position, originator.bytes, version, topic.encode(), state)
    body = merkle.content(originator.bytes, version, topic.encode(), state)
    assert record == position.to_bytes(8, "big") + body
    assert body[:16] == originator.bytes and int.from_bytes(body[16:24], "big") == version
    length = int.from_bytes(body[24:28], "big")
    assert body[28 : 28 + length] == topic.encode()
    assert int.from_bytes(body[28 + length : 32 + length], "big") == len(state) and body[32 + length :] == state
    assert merkle.leaf_hash(record) == hashlib.sha256(b"\x00" + record).digest()


def test_the_auditors_documented_check_agrees_with_the_rfc_for_every_small_tree() -> None:
    from tests.e2e.test_seals_doc import auditor_code

    checker: dict[str, Any] = {}
    exec(compile(auditor_code(), "docs/seals.md", "exec"), checker)
    records = [merkle.record(i + 1, uuid.UUID(int=i).bytes, 1, b"t", bytes([i])) for i in range(21)]
    leaves = [merkle.leaf_hash(r) for r in records]
    for size in range(1, 22):
        seal = {"tree_size": size, "root": merkle.mth(leaves[:size]).hex()}
        for index in range(size):
            path = [node(leaves, a, b).hex() for a, b in merkle.path_ranges(index, size)]
            answer = {"record": base64.b64encode(records[index]).decode(), "leaf_index": index, "position": index + 1}
            assert checker["check_inclusion"]({**answer, "path": path, "seal": seal})
            assert not checker["check_inclusion"]({**answer, "leaf_index": index + size, "path": path, "seal": seal})
            assert not checker["check_inclusion"]({**answer, "path": path[:-1], "seal": seal}) or size == 1
        for first in range(1, size + 1):
            proof = [node(leaves, a, b).hex() for a, b in merkle.consistency_ranges(first, size)]
            old = {"tree_size": first, "root": merkle.mth(leaves[:first]).hex()}
            assert checker["check_consistency"]({"from": old, "to": seal, "proof": proof})
            wrong = {**old, "root": leaves[0].hex() if first > 1 else leaves[1].hex()}
            assert not checker["check_consistency"]({"from": wrong, "to": seal, "proof": proof})
