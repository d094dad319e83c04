"""What a new password must be: long enough, not a common password, not the login name.

Following NIST SP 800-63B §5.1.1.2 (memorized secrets): a minimum length, a maximum that
allows passphrases, a check against a list of commonly used passwords, no composition rules
(they make passwords harder to remember, not harder to guess) and no periodic expiry.

The list (``common_passwords.txt``, beside this module) is small on purpose: keyboard walks,
``password``/``admin``/``123456`` variants, the Chinese-pinyin favourites (``woaini1314``)
and the names of this programme. With a minimum of 12 characters the length does most of the
work; the list catches the long passwords everyone tries first. Compared case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

__all__ = ["MAX_PASSWORD_CHARS", "MIN_PASSWORD_CHARS", "PolicyProblem", "password_problems"]

#: NIST SP 800-63B asks for at least 8; 12 because reviewers' accounts open evidence of
#: subsidy decisions, and a passphrase of three words is longer still.
MIN_PASSWORD_CHARS = 12
#: Long passphrases are welcome; the bound keeps a hash's input (and a form's body) small.
MAX_PASSWORD_CHARS = 256

_LIST = Path(__file__).with_name("common_passwords.txt")

ProblemCode = Literal["too_short", "too_long", "common", "is_username"]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One way a password breaks the policy: a code (the pages translate it) and a message."""

    code: ProblemCode
    message: str


@cache
def _common() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problems(password: str, user_id: str) -> list[PolicyProblem]:
    """Every way ``password`` breaks the policy for ``user_id``; empty if it is acceptable."""
    problems: list[PolicyProblem] = []
    length = len(password)
    if length < MIN_PASSWORD_CHARS:
        problems.append(
            PolicyProblem(
                "too_short",
                f"got {length} characters, expected at least {MIN_PASSWORD_CHARS} "
                "(a few words make a long password that is easy to remember)",
            )
        )
    if length > MAX_PASSWORD_CHARS:
        problems.append(
            PolicyProblem(
                "too_long", f"got {length} characters, expected at most {MAX_PASSWORD_CHARS}"
            )
        )
    folded = password.strip().lower()
    if folded in _common():
        problems.append(
            PolicyProblem("common", "this is one of the passwords everyone tries first")
        )
    if folded == user_id.strip().lower():
        problems.append(PolicyProblem("is_username", "the password is the login name"))
    return problems
