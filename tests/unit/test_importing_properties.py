"""Properties of the CSV import: valid rows round-trip; garbage only ever becomes reported row errors."""

from __future__ import annotations

import csv
import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.errors import ImportFailed
from outreach.importing import import_partners
from outreach.models import PartnerKind
from tests.unit.test_importing import FakeStore

COLUMNS = ["mpid", "mpname", "first_name", "last_name", "email", "kind", "messaging_enabled", "country"]

# Text a spreadsheet could hold in a name: any printable character (commas, quotes, semicolons, non-ASCII),
# trimmed because the importer strips surrounding spaces. Line breaks and other control characters are
# refused in names (they would reach e-mail headers): see test_importing.py.
cell = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff")
    | st.sampled_from(",;\"'"),
    max_size=20,
).map(str.strip)
name = cell.filter(bool)
row = st.fixed_dictionaries(
    {
        "mpname": name,
        "first_name": cell,
        "last_name": cell,
        "email": st.sampled_from(["", "ann@example.com", "bob.smith+tag@mail.example.org"]),
        "kind": st.sampled_from(list(PartnerKind)),
        "messaging_enabled": st.booleans(),
        "country": st.sampled_from(["", "US", "DE", "CN"]),
    }
)


def to_csv(rows: list[dict[str, object]], delimiter: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for i, values in enumerate(rows):
        writer.writerow(
            [
                f"id-{i}",
                *(str(values[c]).lower() if c == "messaging_enabled" else values[c] for c in COLUMNS[1:]),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=15), delimiter=st.sampled_from([",", ";"]))
def test_any_set_of_valid_rows_round_trips(rows, delimiter):
    store = FakeStore()
    report = import_partners(to_csv(rows, delimiter), "T1", store, filename="p.csv")
    assert report.rejected == ()
    assert report.inserted == len(rows)
    for i, values in enumerate(rows):
        partner = store.partners.rows[("T1", f"id-{i}")]
        assert (partner.name, partner.first_name, partner.last_name) == (
            values["mpname"],
            values["first_name"],
            values["last_name"],
        )
        assert (partner.kind, partner.messaging_enabled, partner.country) == (
            values["kind"],
            values["messaging_enabled"],
            values["country"],
        )
    again = import_partners(to_csv(rows, delimiter), "T1", store, filename="p.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(rows))


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_garbage_after_a_good_header_only_ever_becomes_row_errors(body):
    store = FakeStore()
    data = ",".join(COLUMNS).encode() + b"\n" + body
    try:
        report = import_partners(data, "T1", store, filename="p.csv")
    except ImportFailed as exc:  # only "the file is not text" may escape, anything else fails the test
        assert "UTF-8" in str(exc)
        return
    lines = len(re.split(rb"\r\n|\r|\n", data))  # line numbers count CR, LF and CRLF breaks
    assert all(1 < error.line <= lines for error in report.rejected)
    assert report.inserted + len(report.rejected) <= lines
