"""Password hashing and rules."""

from __future__ import annotations

from argon2 import PasswordHasher

from satu.identity import passwords


def test_hash_verifies_only_the_right_password() -> None:
    hashed = passwords.hash_password("satu dua tiga empat")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "satu dua tiga empat")
    assert not passwords.verify_password(hashed, "satu dua tiga lima")
    assert not passwords.verify_password("not-a-hash", "anything")


def test_missing_hash_still_runs_a_check_and_fails() -> None:
    assert passwords.verify_password(None, "anything") is False


def test_old_parameters_need_a_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x" * 12)
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("y" * 12))


def test_production_defaults_are_owasp_baseline_argon2id() -> None:
    fields = passwords.HashSettings.model_fields
    assert fields["memory_kib"].default == 19456
    assert fields["time_cost"].default == 2
    assert fields["parallelism"].default == 1


def test_password_rules() -> None:
    assert passwords.password_problems("pendek") == [
        "The password must have at least 10 characters."
    ]
    assert "This password is too easy to guess." in passwords.password_problems("bismillah123")
    assert "This password is too easy to guess." in passwords.password_problems("aaaaaaaaaaaa")
    nik = "3273011708900001"
    assert "The password must not contain your NIK." in passwords.password_problems(
        f"x{nik}", nik=nik
    )
    assert passwords.password_problems("x" * 200)[0].startswith("The password must have at most")
    assert passwords.password_problems("kopi tubruk pagi hari") == []
