"""VERP addresses: each delivery's envelope sender names it, signed for its workspace, and nothing else passes."""

from __future__ import annotations

import pytest

from outreach.bounce_address import MAC_LENGTH, BounceAddresses

KEY = b"a-key-for-tests"


def test_an_address_names_its_delivery_and_its_signature_holds_for_its_workspace_only():
    addresses = BounceAddresses(KEY, "Outreach@Brand.example")
    address = addresses.address("T1", 123456789)
    local, _, domain = address.partition("@")
    assert domain == "brand.example" and local.startswith("outreach+b") and address == address.lower()
    assert len(local) <= 64  # RFC 5321's limit for a local part
    found = addresses.delivery_in(["someone@else.example", address.upper()])  # mail systems may fold case
    assert found is not None and found[0] == 123456789
    assert addresses.valid("T1", *found) and not addresses.valid("T2", *found)


@pytest.mark.parametrize(
    "address",
    [
        "outreach@brand.example",  # the base address itself
        "outreach+b3f.aaaaaaaaaaaa@other.example",  # another domain
        "other+b3f.aaaaaaaaaaaa@brand.example",  # another mailbox
        "outreach+b3f.short@brand.example",  # not a MAC of ours
    ],
)
def test_other_addresses_are_not_taken_for_ours(address):
    assert BounceAddresses(KEY, "outreach@brand.example").delivery_in([address]) is None


def test_a_forged_or_moved_address_does_not_pass():
    addresses = BounceAddresses(KEY, "bounces+ignored@brand.example")  # a base with its own tag: the tag goes
    real = addresses.address("T1", 42)
    assert real.startswith("bounces+b16.")
    delivery, mac = addresses.delivery_in([real])
    other = addresses.delivery_in([real.replace("+b16.", "+b17.")])
    assert other is not None and not addresses.valid("T1", *other)  # the same MAC on another delivery
    assert not BounceAddresses(b"another key", "bounces@brand.example").valid("T1", delivery, mac)
    assert len(mac) == MAC_LENGTH


def test_a_base_that_is_no_address_is_refused():
    with pytest.raises(ValueError, match="not an e-mail address"):
        BounceAddresses(KEY, "bounces")
