"""argon2id hashing: the hash is argon2id with a salt, checks match only the password."""

from __future__ import annotations

from collector.accounts import hash_password, needs_rehash, verify_password


def test_hash_is_salted_argon2id_and_checks() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$v=19$") and first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not needs_rehash(first)


def test_no_account_and_broken_hashes_never_match() -> None:
    assert not verify_password(None, "not a password: the decoy for unknown login names")
    assert not verify_password("not a hash", "anything")
    assert needs_rehash("not a hash")


def test_weaker_parameters_need_a_rehash() -> None:
    weak = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpg"
    assert needs_rehash(weak)
