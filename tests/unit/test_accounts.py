import pytest

from outreach.accounts import check_account, default_imap_host, with_imap_defaults
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


@pytest.mark.parametrize(
    ("smtp_host", "imap_host"),
    [
        ("smtp.gmail.com", "imap.gmail.com"),
        ("SMTP.qq.com", "imap.qq.com"),
        ("mail.example.com", "mail.example.com"),
    ],
)
def test_the_imap_host_defaults_from_the_smtp_host(smtp_host, imap_host):
    assert default_imap_host(smtp_host) == imap_host
    filled = with_imap_defaults(account(host=smtp_host))
    assert (filled.imap_host, filled.imap_port, filled.imap_security) == (imap_host, 993, "tls")


def test_the_imap_port_follows_its_security_and_none_means_no_mailbox():
    assert with_imap_defaults(account(imap_security="starttls")).imap_port == 143
    assert with_imap_defaults(account(imap_host="imap.x.example", imap_port=1993)).imap_port == 1993
    assert not with_imap_defaults(account(imap_host="None")).reads_mail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"imap_host": "imap.example.com\r\nX"}, "imap_host"),
        ({"imap_host": "imap.example.com", "imap_port": -1}, "imap_port"),
        ({"imap_host": "imap.example.com", "imap_security": "none"}, "imap_security"),
    ],
)
def test_each_bad_imap_field_is_named(changes, field):
    assert [p.field for p in check_account(account(**changes))] == [field]
