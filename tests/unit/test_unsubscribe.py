import pytest

from outreach.unsubscribe import UnsubscribeLinks

LINKS = UnsubscribeLinks(b"k" * 32, "https://outreach.example.com/")


def test_a_token_names_the_workspace_and_the_address():
    token = LINKS.token("T1", " Ann@Example.COM ")
    assert LINKS.verify(token) == ("T1", "ann@example.com")
    assert LINKS.url("T1", "ann@example.com").startswith("https://outreach.example.com/unsubscribe?t=")


@pytest.mark.parametrize("forged", ["", ".", "abc", "abc.def", "e30.AAAA"])
def test_forged_tokens_are_refused(forged):
    assert LINKS.verify(forged) is None


def test_a_token_cannot_be_moved_to_another_address_or_key():
    token = LINKS.token("T1", "ann@example.com")
    other = LINKS.token("T1", "bob@example.com")
    assert LINKS.verify(token.split(".")[0] + "." + other.split(".")[1]) is None
    assert UnsubscribeLinks(b"x" * 32, "https://o").verify(token) is None


def test_headers_follow_rfc_8058():
    headers = dict(LINKS.headers("T1", "ann@example.com"))
    assert headers["List-Unsubscribe"].startswith("<https://") and headers["List-Unsubscribe"].endswith(">")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
