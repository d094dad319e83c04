"""RFC 6962 Merkle trees: the Certificate Transparency reference vectors, then properties.

The vectors are transparency-dev/merkle's (``testonly/constants.go``: leaves, every root from
size 0 to 8, the compact ranges; ``proof/verify_test.go``: inclusion and consistency proofs),
copied as hex. The properties hold the frontier and the proofs to the recursive definition.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import merkle
from contract.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(text)
    for text in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
#: The root of the tree of LEAVES[:n], n = 0..8.
ROOTS = [
    bytes.fromhex(text)
    for text in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
#: NODES[level][i]: the perfect subtrees' roots (level 0: the leaf hashes).
NODES = [
    [
        bytes.fromhex(text)
        for text in (
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        )
    ],
    [
        bytes.fromhex(text)
        for text in (
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        )
    ],
    [
        bytes.fromhex(text)
        for text in (
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        )
    ],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
#: CompactTrees(): the frontier's hashes after n = 0..8 leaves, as (level, index) of NODES.
COMPACT = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]
#: (0-based leaf index, tree size, proof) from verify_test.go's inclusionProofs.
INCLUSION = [
    (0, 8, [NODES[0][1], NODES[1][1], NODES[2][1]]),
    (5, 8, [NODES[0][4], NODES[1][3], NODES[2][0]]),
    (2, 3, [NODES[1][0]]),
    (1, 5, [NODES[0][0], NODES[1][1], NODES[0][4]]),
]
#: (size1, size2, proof) from verify_test.go's consistencyProofs.
CONSISTENCY = [
    (1, 8, [NODES[0][1], NODES[1][1], NODES[2][1]]),
    (6, 8, [NODES[1][2], NODES[1][3], NODES[2][0]]),
    (2, 5, [NODES[1][1], NODES[0][4]]),
    (6, 7, [NODES[1][2], NODES[0][6], NODES[2][0]]),
]


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _mth(entries: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written out again, as the yardstick (not the module's recursion)."""
    n = len(entries)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_mth(entries[:k]), _mth(entries[k:]))


# -- the reference vectors -------------------------------------------------------------------


def test_the_leaf_hashes_are_the_reference_level_zero() -> None:
    assert [leaf_hash(leaf) for leaf in LEAVES] == NODES[0]


@pytest.mark.parametrize("size", range(9))
def test_the_root_of_each_prefix_is_the_reference_root(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root() == ROOTS[size]
    assert frontier.size == size


@pytest.mark.parametrize("size", range(9))
def test_the_frontier_holds_the_reference_compact_range(size: int) -> None:
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert list(frontier.hashes) == [NODES[level][i] for level, i in COMPACT[size]]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_the_inclusion_proofs_are_the_reference_ones_and_verify(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(LEAVES[:size], index) == proof
    assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_the_consistency_proofs_are_the_reference_ones_and_verify(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    assert consistency_proof(LEAVES[:size2], size1) == proof
    assert verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_a_corrupted_inclusion_claim_never_verifies(
    index: int, size: int, proof: list[bytes]
) -> None:
    """verify_test.go's corruptInclusionProof probes, each a claim the proof must not carry."""
    leaf, tree_root = leaf_hash(LEAVES[index]), ROOTS[size]
    probes = [
        (leaf, index - 1, size, proof, tree_root),
        (leaf, index + 1, size, proof, tree_root),
        (leaf, index ^ 2, size, proof, tree_root),
        (leaf, index, size * 2, proof, tree_root),
        (leaf, index, size // 2, proof, tree_root),
        (b"WrongLeaf", index, size, proof, tree_root),
        (leaf_hash(b"wrong leaf"), index, size, proof, tree_root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, [*proof, b""], tree_root),
        (leaf, index, size, [*proof, tree_root], tree_root),
        (leaf, index, size, [b"", *proof], tree_root),
        (leaf, index, size, [tree_root, *proof], tree_root),
        (leaf, index, size, proof[:-1], tree_root),
        (leaf, index, size, [proof[0], EMPTY_ROOT, *proof[1:]], tree_root),
    ]
    probes += [
        (leaf, index, size, [*proof[:i], _flip(proof[i], 3), *proof[i + 1 :]], tree_root)
        for i in range(len(proof))
    ]
    assert not [probe for probe in probes if verify_inclusion(*probe)]


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_a_corrupted_consistency_claim_never_verifies(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    """verify_test.go's corruptConsistencyProof probes."""
    root1, root2 = ROOTS[size1], ROOTS[size2]
    probes = [
        (size1 - 1, size2, root1, root2, proof),
        (size1 + 1, size2, root1, root2, proof),
        (size1 ^ 2, size2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2 // 2, root1, root2, proof),
        (size1, size2, b"WrongRoot", root2, proof),
        (size1, size2, root1, b"WrongRoot", proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, root1, root2, []),
        (size1, size2, root1, root2, [*proof, b""]),
        (size1, size2, root1, root2, [*proof, root1]),
        (size1, size2, root1, root2, [*proof, root2]),
        (size1, size2, root1, root2, [b"", *proof]),
        (size1, size2, root1, root2, [root1, *proof]),
        (size1, size2, root1, root2, [root2, *proof]),
        (size1, size2, root1, root2, [proof[0], *proof]),
        (size1, size2, root1, root2, proof[:-1]),
    ]
    probes += [
        (size1, size2, root1, root2, [*proof[:i], _flip(proof[i], 4), *proof[i + 1 :]])
        for i in range(len(proof))
    ]
    assert not [probe for probe in probes if verify_consistency(*probe)]


def test_trivial_consistency_needs_an_empty_proof_and_for_equal_sizes_equal_roots() -> None:
    some = ROOTS[3]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], some, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [some])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [some])
    assert not verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


def test_an_empty_tree_and_an_out_of_range_leaf_prove_no_inclusion() -> None:
    for index, size in ((0, 0), (1, 0), (2, 1), (-1, 3)):
        assert not verify_inclusion(NODES[0][0], index, size, [], ROOTS[1])
    with pytest.raises(ValueError, match="leaf index 8 is outside a tree of 8 leaves"):
        inclusion_proof(LEAVES, 8)
    with pytest.raises(ValueError, match=r"size 9 is outside 0\.\.8"):
        consistency_proof(LEAVES, 9)


def test_the_single_leaf_tree_is_its_leaf_hash_with_an_empty_proof() -> None:
    leaf = leaf_hash(b"data")
    assert root([b"data"]) == leaf
    assert inclusion_proof([b"data"], 0) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)


# -- the frontier's bytes ----------------------------------------------------------------------


def test_a_frontier_round_trips_through_its_bytes_and_keeps_appending() -> None:
    frontier = Frontier()
    for leaf in LEAVES[:7]:
        frontier.append(leaf)
    data = frontier.to_bytes()
    assert len(data) == 8 + 3 * 32  # 7 = 0b111: three subtrees
    again = Frontier.from_bytes(data)
    assert again == frontier
    again.append(LEAVES[7])
    assert again.root() == ROOTS[8]
    assert Frontier.from_bytes(Frontier().to_bytes()).root() == EMPTY_ROOT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * 7, "a frontier is at least 8 bytes, got 7"),
        (
            (3).to_bytes(8, "big") + b"\x00" * 32,
            "a frontier of 3 leaves holds 2 hashes \\(64 bytes after the size\\), got 32 bytes",
        ),
        (
            (0).to_bytes(8, "big") + b"\x00",
            "a frontier of 0 leaves holds 0 hashes \\(0 bytes after the size\\), got 1 bytes",
        ),
    ],
)
def test_bytes_that_are_no_frontier_are_refused_saying_why(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Frontier.from_bytes(data)


def test_a_leaf_hash_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="a leaf hash is 32 bytes, got 31"):
        Frontier().append_hash(b"\x00" * 31)


# -- properties --------------------------------------------------------------------------------

_ENTRIES = st.lists(st.binary(max_size=12), max_size=70)
# No per-example deadline (a wall-clock assertion; the machine is shared).
_UNTIMED = settings(deadline=None)


@_UNTIMED
@given(_ENTRIES)
def test_the_frontier_root_is_the_recursive_mth_at_every_size(entries: list[bytes]) -> None:
    frontier = Frontier()
    assert frontier.root() == _mth([])
    for n, entry in enumerate(entries, start=1):
        frontier.append(entry)
        assert frontier.root() == _mth(entries[:n])
        assert len(frontier.hashes) == n.bit_count()
    assert root(entries) == _mth(entries)
    assert merkle.root_of_hashes([leaf_hash(e) for e in entries]) == _mth(entries)
    assert Frontier.from_bytes(frontier.to_bytes()) == frontier


@_UNTIMED
@given(_ENTRIES.filter(bool), st.data())
def test_every_inclusion_proof_verifies_and_no_flipped_bit_does(
    entries: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    proof = inclusion_proof(entries, index)
    leaf, tree_root = leaf_hash(entries[index]), root(entries)
    assert verify_inclusion(leaf, index, len(entries), proof, tree_root)
    bit = data.draw(st.integers(0, 32 * 8 - 1), label="bit")
    assert not verify_inclusion(_flip(leaf, bit), index, len(entries), proof, tree_root)
    assert not verify_inclusion(leaf, index, len(entries), proof, _flip(tree_root, bit))
    for i in range(len(proof)):
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert not verify_inclusion(leaf, index, len(entries), bad, tree_root)
    others = [i for i in range(len(entries)) if entries[i] != entries[index]]
    for other in others[:3]:
        assert not verify_inclusion(leaf, other, len(entries), proof, tree_root)


@_UNTIMED
@given(_ENTRIES.filter(lambda e: len(e) >= 2), st.data())
def test_every_consistency_proof_verifies_and_no_flipped_bit_does(
    entries: list[bytes], data: st.DataObject
) -> None:
    size1 = data.draw(st.integers(1, len(entries) - 1), label="size1")
    proof = consistency_proof(entries, size1)
    root1, root2 = root(entries[:size1]), root(entries)
    assert verify_consistency(size1, len(entries), root1, root2, proof)
    bit = data.draw(st.integers(0, 32 * 8 - 1), label="bit")
    assert not verify_consistency(size1, len(entries), _flip(root1, bit), root2, proof)
    assert not verify_consistency(size1, len(entries), root1, _flip(root2, bit), proof)
    for i in range(len(proof)):
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        assert not verify_consistency(size1, len(entries), root1, root2, bad)


@_UNTIMED
@given(_ENTRIES.filter(lambda e: len(e) >= 2), st.data())
def test_a_changed_leaf_inside_the_old_tree_breaks_consistency(
    entries: list[bytes], data: st.DataObject
) -> None:
    """Version 2 of a day must only append: editing any of version 1's leaves is caught."""
    size1 = data.draw(st.integers(1, len(entries) - 1), label="size1")
    edited = data.draw(st.integers(0, size1 - 1), label="edited")
    changed = [*entries[:edited], entries[edited] + b"!", *entries[edited + 1 :]]
    proof = consistency_proof(changed, size1)
    assert not verify_consistency(size1, len(entries), root(entries[:size1]), root(changed), proof)
