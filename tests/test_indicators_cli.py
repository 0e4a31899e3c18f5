"""`bli indicators list|show`, `bli profile`, the catalogue schema and number wording."""

from __future__ import annotations

import pytest

from bliatlas.cli import main
from bliatlas.errors import InputError
from bliatlas.indicators.catalogue import load_catalogue, parse_catalogue
from bliatlas.indicators.profile import sentences_for
from bliatlas.indicators.sentences import format_number
from bliatlas.store import open_store

pytest_plugins = ["conftest_indicators"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list(imported_db, capsys):
    code, out, _ = run(capsys, "--database", str(imported_db), "indicators", "list")
    assert code == 0
    assert "bosatte_per_1000" in out and "2022–2024" in out
    assert "innvandrere_flukt_andel" in out and "2006–2025" in out
    # catalogue.yaml read by hand (not through the loader under test): 67 entries under
    # `indicators:`, the first bosatte_flyktninger, the last barnehage_minoritetsspraklige_5ar
    assert "\n67 indikatorer." in out
    listed = [line.split()[0] for line in out.splitlines()[2:] if line.strip()
              and not line.startswith("67 indikatorer")]
    assert listed[0] == "bosatte_flyktninger" and listed[-1] == "barnehage_minoritetsspraklige_5ar"
    assert len(listed) == 67


def test_show_county_level(imported_db, capsys, panel):
    code, out, _ = run(capsys, "--database", str(imported_db), "indicators", "show",
                       "bosatte_flyktninger", "--level", "county", "--year", "2024")
    assert code == 0
    vestland = sum(r["innvandr"] for (c, y), r in panel.items()
                   if y == 2024 and r["Fylkenummer"] == "46")
    line = next(ln for ln in out.splitlines() if ln.startswith("46 "))
    assert "Vestland" in line and format_number(vestland) in line
    assert "Kilder:" in out


@pytest.mark.parametrize("argv,message", [
    (["indicators", "show", "nope"], "ukjent indikator 'nope'"),
    (["indicators", "show", "bosatte_per_1000", "--level", "bydel"], "ukjent nivå 'bydel'"),
    (["indicators", "show", "bosatte_per_1000", "--year", "1990"], "i 1990; år med tall: 2022–2024"),
    (["indicators", "show", "bofasthet_fylke", "--level", "kommune"], "bare på nivå fylke"),
    (["profile", "0000"], "ukjent region '0000'"),
])
def test_errors_are_norwegian_and_exit_2(imported_db, capsys, argv, message):
    code, out, err = run(capsys, "--database", str(imported_db), *argv)
    assert code == 2 and message in err and out == ""


def test_missing_database(tmp_path, capsys):
    code, _, err = run(capsys, "--database", str(tmp_path / "nei.duckdb"), "profile", "4650")
    assert code == 2 and "finnes ikke" in err


def test_profile_gloppen(imported_db, capsys, panel):
    code, out, _ = run(capsys, "--database", str(imported_db), "profile", "4650")
    assert code == 0
    raw = panel[("4650", 2024)]
    assert out.startswith("Gloppen (4650)")
    assert "Sentralitet 5 (distriktskommune)" in out
    assert (f"IMDi anmodet kommunen om å bosette {raw['innvandr_anmodet']} flyktninger i 2024, "
            f"og kommunen vedtok å bosette {raw['innvandr_vedtak']}.") in out
    assert "Lisens: NLOD 2.0" in out


def test_sentences_word_suppressed_counts_without_numbers(cube, panel):
    code = next(c for (c, y), r in panel.items() if y == 2024 and r["ema_prikket"])
    sentences = sentences_for(cube, cube.facts("kommune", code))
    ema = next(s for s in sentences if "enslige mindreårige" in s)
    assert "færre enn 5 (skjermet)" in ema
    assert not any(ch.isdigit() for ch in ema.replace("2024", "").replace("færre enn 5", ""))


def test_norwegian_number_format():
    assert format_number(1234567.891, 1) == "1 234 567,9"
    assert format_number(-0.04, 1) == "0,0"
    assert format_number(-1500) == "−1 500"
    assert format_number(7.25, 0) == "7"


def test_every_selector_matches_stored_cells(imported_db):
    """A typo in a dims value would silently give an empty indicator; catch it here. (The
    tables only `bli sync standard` brings in are checked in tests/test_sync_standard.py.)"""
    from conftest import unmatched_selectors

    with open_store(imported_db, read_only=True) as store:
        in_files = {r["dataset"] for r in store.query("SELECT DISTINCT dataset FROM import")}
        checked, missing = unmatched_selectors(store, load_catalogue(), in_files)
    assert missing == [] and checked > 100


def _one(**over):
    base = {
        "id": "test_ind", "topic": "t", "name_nb": "T", "name_en": "T", "definition": "d",
        "kind": "ratio",
        "numerator": {"dataset": "a", "measure": "b", "unit": "personer"},
        "denominator": {"dataset": "a", "measure": "c", "unit": "personer"},
        "unit": "prosent", "direction": "neutral", "sources": ["x"],
    }
    base.update(over)
    return base


@pytest.mark.parametrize("data,message", [
    ({"indicators": [_one(denominator=None)]}, "indikator 'test_ind'"),
    ({"indicators": [_one(direction="up")]}, "felt direction"),
    ({"indicators": [_one(), _one()]}, "appears twice"),
    ({"indicators": [_one(kind="published")]}, "takes no denominator"),
    ({"indicators": [_one()], "partitions": [{"id": "p", "members": ["test_ind", "x"]}]},
     "unknown indicator 'x'"),
    (["not", "a", "mapping"], "YAML-tabell"),
])
def test_catalogue_schema_rejects_bad_entries(data, message):
    with pytest.raises(InputError) as exc:
        parse_catalogue(data, "katalog.yaml")
    assert "katalog.yaml" in str(exc.value) and message in str(exc.value)
