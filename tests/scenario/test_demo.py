"""`make run` without Slack tokens plays the offline demo: it must stay true."""

import io

import pytest

from bot.demo import run_demo
from bot.settings import Settings
from outreach.adapters.clamd_local import clamd_binary
from tests.fixtures.services import unavailable

pytestmark = [pytest.mark.clamd, pytest.mark.slow]


def test_the_offline_demo_plays_the_whole_session(tmp_path):
    if clamd_binary() is None:
        unavailable("clamd is not installed")
    out = io.StringIO()
    assert run_demo(Settings(), root=tmp_path / "demo", out=out) == 0
    text = out.getvalue()
    assert "/prospects — page 1" in text and "3 picked" in text
    assert "https://app.slack.com/block-kit-builder/#" in text
    assert "the virus scanner found Outreach.Test.EICAR" in text
    assert "In-platform message delivered to partner" in text
    assert text.count("From: Ann Lee <outreach@brand.example.com>") == 3  # the emails as received
    assert "Winter Sale — 30% off outerwear: https://track.example.com/c/" in text
    assert "{firstName}" not in text.split("The e-mails as received")[1]
    assert len(list((tmp_path / "demo" / "maildir" / "new").iterdir())) == 3
