"""Why a delivery does not go is a Refusal made where it is known (the SMTP adapter, the attachments' re-check);
the retry policy decides on the refusal alone, never on the words of its reason."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest

from outreach.adapters.smtp import classify
from outreach.attachments import (
    AttachmentPolicy,
    InMemoryScanCache,
    check_attachments,
    recheck_for_send,
    send_refusal,
)
from outreach.delivery import RetryPolicy
from outreach.errors import DeliveryFailed, Refusal
from tests.attachment_samples import FakeScanner, FakeSniffer, pdf, png

AT = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
POLICY = AttachmentPolicy()


def test_a_bounce_is_a_permanent_refusal():
    with pytest.raises(ValueError, match="permanent"):
        Refusal("550 no such user", permanent=False, bounce=True)


def test_delivery_failed_carries_its_refusal_whole():
    refusal = Refusal("recipient refused: 550 no such user", permanent=True, bounce=True)
    failure = DeliveryFailed.of(refusal)
    assert failure.refusal == refusal
    assert (failure.reason, failure.permanent, failure.bounce) == (refusal.reason, True, True)


def test_a_recipient_refused_for_good_bounces_and_one_refused_for_now_is_passing():
    gone = classify(smtplib.SMTPRecipientsRefused({"p@x.example": (550, b"5.1.1 No such user")}))
    busy = classify(smtplib.SMTPRecipientsRefused({"p@x.example": (450, b"4.2.0 Mailbox busy")}))
    assert gone == Refusal(
        "recipient p@x.example refused: 550 5.1.1 No such user", permanent=True, bounce=True
    )
    assert busy == Refusal("recipient p@x.example refused: 450 4.2.0 Mailbox busy", permanent=False)


def test_a_refused_sender_is_permanent_but_no_bounce_and_a_timeout_is_passing():
    sender = classify(smtplib.SMTPSenderRefused(553, b"not allowed", "o@brand.example"), "sending")
    assert sender == Refusal("sending: sender refused: 553 not allowed", permanent=True)
    assert classify(TimeoutError()) == Refusal("timed out", permanent=False)


def stored(*files):
    return check_attachments(list(files), FakeSniffer(), FakeScanner(), POLICY, InMemoryScanCache()).accepted


def recheck(attachments, scanner):
    return recheck_for_send(attachments, FakeSniffer(), scanner, POLICY, InMemoryScanCache())


def test_attachments_that_pass_the_recheck_refuse_nothing():
    assert send_refusal(recheck(stored(("deck.pdf", pdf())), FakeScanner())) is None


def test_attachments_that_cannot_be_scanned_now_hold_the_send_back_for_later():
    refusal = send_refusal(recheck(stored(("deck.pdf", pdf())), FakeScanner(down=True)))
    assert refusal is not None and not refusal.permanent and not refusal.bounce
    assert "could not be scanned" in refusal.reason


def test_an_attachment_found_infected_refuses_the_draft_for_good_even_beside_an_unscannable_one():
    files = stored(("deck.pdf", pdf(b"Our offer")), ("logo.png", png()))
    scanner = FakeScanner()
    scanner.BAD = b"Our offer"  # the signatures learnt something since the upload was checked
    refusal = send_refusal(recheck(files, scanner))
    assert refusal is not None and refusal.permanent and not refusal.bounce
    assert refusal.reason.startswith("the draft's attachments were refused: ")


def test_a_passing_refusal_is_retried_with_doubling_delays_until_the_last_attempt():
    policy = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=30), max_delay=timedelta(seconds=45))
    passing = Refusal("451 4.7.1 Try again later", permanent=False)
    assert policy.retry_at(passing, 1, AT) == AT + timedelta(seconds=30)
    assert policy.retry_at(passing, 2, AT) == AT + timedelta(seconds=45)  # 60 s, capped
    assert policy.retry_at(passing, 3, AT) is None  # the last attempt: it fails


def test_a_permanent_refusal_is_never_retried_whatever_its_reason_says():
    policy = RetryPolicy(max_attempts=5)
    assert policy.retry_at(Refusal("the draft could be sent later", permanent=True), 1, AT) is None
    assert policy.retry_at(Refusal("the draft no longer exists", permanent=False), 1, AT) == AT + timedelta(
        seconds=30
    )
