"""`prospects-bot import …` and `db upgrade` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from outreach.models import ProspectQuery

T1, T2 = "T1", "T2"
HEADER = "mpid,mpname,first_name,last_name,email,kind,messaging_enabled,prospect,country,website,categories\n"
GOOD = (
    "m1,Acme Media,Ann,Lee,ann@acme.example.com,partner,yes,yes,US,https://acme.example.com,deals|tech\n"
    "m2,Beta Blog,Bo,Chan,bo@beta.example.com,creator,no,yes,CN,,\n"
    "m3,Gamma,,,,partner,no,no,DE,,\n"
)


@pytest.fixture
def env(monkeypatch, database_url, db_engine):
    """Point the CLI (which reads Settings.from_env) at the test database; tables emptied afterwards."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_clean_file_imports_with_exit_code_0_and_a_second_run_changes_nothing(
    env, tmp_path, uow_factory, capsys
):
    path = write(tmp_path, "partners.csv", HEADER + GOOD)
    assert main(["import", "partners", str(path), "--team", T1, "--no-progress"]) == 0
    assert "inserted 3, updated 0, unchanged 0, rejected 0" in capsys.readouterr().out
    assert main(["import", "partners", str(path), "--team", T1]) == 0
    assert "inserted 0, updated 0, unchanged 3, rejected 0" in capsys.readouterr().out
    with uow_factory() as uow:
        assert uow.prospects.count(T1, ProspectQuery()) == 2  # m3 is not marked as prospect
        assert uow.prospects.count(T1, ProspectQuery(prospects_only=False)) == 3
        assert uow.partners.get(T1, "m1").categories == ("deals", "tech")
        assert uow.prospects.count(T2, ProspectQuery(prospects_only=False)) == 0
        assert [e.action for e in uow.audit.recent(T1)] == ["import.partners", "import.partners"]


def test_a_changed_row_is_counted_as_updated(env, tmp_path, uow_factory, capsys):
    main(["import", "partners", str(write(tmp_path, "a.csv", HEADER + GOOD)), "--team", T1])
    changed = GOOD.replace("Gamma,,,,partner,no,no", "Gamma,,,,partner,no,yes")
    assert main(["import", "partners", str(write(tmp_path, "b.csv", HEADER + changed)), "--team", T1]) == 0
    assert "inserted 0, updated 1, unchanged 2, rejected 0" in capsys.readouterr().out
    with uow_factory() as uow:
        assert uow.prospects.get(T1, "m3").marked_by == "import"


def test_rejected_rows_give_exit_code_1_and_are_listed_with_line_numbers(env, tmp_path, uow_factory, capsys):
    text = "\ufeff" + (HEADER + GOOD + "m4,Bad,,,nope@,partner,,,,,\n,NoId,,,,partner,,,,,\n").replace(
        ",", ";"
    )
    assert main(["import", "partners", str(write(tmp_path, "p.csv", text)), "--team", T1]) == 1
    out = capsys.readouterr().out
    assert "inserted 3, updated 0, unchanged 0, rejected 2" in out
    assert "line 5: bad email 'nope@'" in out
    assert "line 6: mpid is empty" in out
    with uow_factory() as uow:
        assert uow.partners.get(T1, "m2").name == "Beta Blog"


def test_an_unreadable_file_gives_exit_code_2(env, tmp_path, capsys):
    assert main(["import", "partners", str(tmp_path / "missing.csv"), "--team", T1]) == 2
    assert "missing.csv" in capsys.readouterr().err
    bad_header = write(tmp_path, "h.csv", "id,name\n1,x\n")
    assert main(["import", "partners", str(bad_header), "--team", T1]) == 2
    assert "lacks required columns: mpid, mpname, email, kind" in capsys.readouterr().err


def test_ads_import_from_json_lines(env, tmp_path, uow_factory, capsys):
    lines = [
        {"adid": "a1", "name": "Sale", "ad_type": "text-link", "landing_url": "https://b.example.com/s"},
        {
            "adid": "a2",
            "name": "Banner",
            "ad_type": "banner",
            "landing_url": "https://b.example.com",
            "creative": "https://cdn.example.com/b.png 728x90",
        },
    ]
    path = write(tmp_path, "ads.jsonl", "\n".join(json.dumps(line) for line in lines))
    assert main(["import", "ads", str(path), "--team", T1]) == 0
    assert main(["import", "ads", str(path), "--team", T1]) == 0
    assert "ads: inserted 0, updated 0, unchanged 2, rejected 0" in capsys.readouterr().out
    with uow_factory() as uow:
        banner = uow.ads.get(T1, "a2")
        assert (banner.creative, banner.width, banner.height) == ("https://cdn.example.com/b.png", 728, 90)
        assert uow.ads.get(T2, "a2") is None


def test_db_upgrade_reports_an_up_to_date_database(env, capsys):
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_bad_configuration_gives_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("SMTP_PORT", "not-a-number")
    assert main(["db", "upgrade"]) == 2
    assert "SMTP_PORT" in capsys.readouterr().err
