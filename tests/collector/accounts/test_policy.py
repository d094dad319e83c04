"""The password policy: length, the common list, the login name; every problem at once."""

from __future__ import annotations

import pytest

from collector.accounts import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, password_problems


def _codes(password: str, user_id: str = "rev-nb") -> list[str]:
    return [problem.code for problem in password_problems(password, user_id)]


def test_a_long_uncommon_password_passes() -> None:
    assert _codes("correct horse battery staple") == []
    assert _codes("x" * MIN_PASSWORD_CHARS) == []
    assert _codes("审核员的长密码一二三四五六") == []


def test_too_short_says_how_long_it_is_and_must_be() -> None:
    (problem,) = password_problems("short", "rev-nb")
    assert problem.code == "too_short"
    assert (
        "got 5 characters" in problem.message
        and f"at least {MIN_PASSWORD_CHARS}" in problem.message
    )


def test_too_long() -> None:
    assert _codes("y" * (MAX_PASSWORD_CHARS + 1)) == ["too_long"]


@pytest.mark.parametrize(
    "password", ["Password1234", "QWERTYUIOP123", "woaini1314520", "1qaz2wsx3edc"]
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert "common" in _codes(password)


def test_the_login_name_is_refused() -> None:
    assert _codes("Reviewer.Ningbo", "reviewer.ningbo") == ["is_username"]


def test_every_problem_is_reported_at_once() -> None:
    assert _codes("password", "password") == ["too_short", "common", "is_username"]
