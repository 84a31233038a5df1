import pytest

from outreach.accounts import check_account
from outreach.adapters.fernet_cipher import FernetCipher
from outreach.models import MailAccount


def account(**kw):
    base = dict(
        team_id="T",
        user_id="U",
        host="smtp.example.com",
        port=587,
        security="starttls",
        username="ann",
        password="app-pass",
        from_address="ann@example.com",
    )
    return MailAccount(**{**base, **kw})


def test_a_good_account_has_no_problems():
    assert check_account(account()) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": ""}, "host"),
        ({"host": "smtp.example.com\r\nX"}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"security": "ssl"}, "security"),
        ({"username": ""}, "username"),
        ({"password": ""}, "password"),
        ({"from_address": "not an address"}, "from_address"),
    ],
)
def test_each_bad_field_is_named(changes, field):
    assert [p.field for p in check_account(account(**changes))] == [field]


def test_passwords_are_encrypted_and_come_back_only_with_the_same_key():
    cipher = FernetCipher("a-secret-key-long-enough")
    token = cipher.encrypt("app-pass")
    assert "app-pass" not in token and cipher.decrypt(token) == "app-pass"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidToken)
        FernetCipher("another-secret-key-long-enough").decrypt(token)


def test_the_password_never_shows_in_a_repr():
    assert "app-pass" not in repr(account())
