"""JSON-stat 2.0 parser on SSB fixtures (test data we wrote; see tests/fixtures/ssb/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bliatlas.errors import InputError
from bliatlas.sources.jsonstat import looks_like_jsonstat, parse_jsonstat
from bliatlas.sources.records import MISSING, OK, SUPPRESSED

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ssb"


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    """Our fixtures are marked as test data; only tests may parse them."""
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def find(parsed, **want):
    hits = [
        o for o in parsed.observations
        if all(
            (o.dims.get(k[4:]) if k.startswith("dim_") else getattr(o, k)) == v
            for k, v in want.items()
        )
    ]
    assert len(hits) == 1, (want, hits)
    return hits[0]


def test_11607_cells_land_in_tidy_form_with_provenance():
    parsed = parse_jsonstat(load("11607.json"), "11607.json")
    assert (parsed.publisher, parsed.dataset, parsed.format) == ("SSB", "ssb_11607", "json-stat2")
    assert parsed.licence == "CC BY 4.0"
    assert parsed.source == "11607.json"
    assert len(parsed.observations) == 4 * 1 * 2 * 2 * 1 * 2
    assert any("oppdatert hos SSB 2025-03-14" in n for n in parsed.notes)

    o = find(parsed, region_code="4650", year=2022, dim_kjonn="Kvinner",
             dim_landbakgrunn=parsed.observations[0].dims["landbakgrunn"])
    assert o.value == 80.5 and o.status == OK
    assert o.measure == "sysselsatte2" and o.unit == "prosent"
    assert o.region_name == "Gloppen"
    assert o.dims["alder"] == "15-74 år"
    assert set(o.dims) == {"alder", "kjonn", "landbakgrunn"}


def test_suppressed_colon_stays_suppressed_and_dot_is_missing():
    parsed = parse_jsonstat(load("11607.json"), "11607.json")
    by_row = {o.row: o for o in parsed.observations}
    # status {"11": ":", "14": "."} — cells 12 and 15 counted from 1
    assert by_row[12].status == SUPPRESSED and by_row[12].value is None
    assert by_row[12].region_code == "4650" and by_row[12].year == 2023
    assert ":" in by_row[12].status_note
    assert by_row[15].status == MISSING and by_row[15].value is None
    assert sum(o.status == SUPPRESSED for o in parsed.observations) == 1
    assert sum(o.status == MISSING for o in parsed.observations) == 1


def test_suppressed_cell_with_a_number_is_never_stored_as_number():
    doc = load("11607.json")
    doc["status"] = {"0": ":"}
    parsed = parse_jsonstat(doc, "x.json")
    first = parsed.observations[0]
    assert first.status == SUPPRESSED and first.value is None


def test_09817_list_index_sparse_values_and_table_from_label():
    doc = load("09817.json")
    assert "px" not in doc["extension"]
    parsed = parse_jsonstat(doc, "svar.json")
    assert parsed.dataset == "ssb_09817"
    assert len(parsed.observations) == 32
    o = find(parsed, region_code="3002", year=2023, measure="personer",
             dim_innvandrkat="Innvandrere")
    assert (o.value, o.unit, o.region_name) == (7412.0, "personer", "Moss (2020-2023)")
    share = find(parsed, region_code="3103", year=2024, measure="andelbefolkning",
                 dim_innvandrkat="Innvandrere")
    assert (share.value, share.unit) == (15.1, "prosent")
    # single-category dimension given only by label
    assert share.dims["landbakgrunn"] == "I alt"
    hidden = find(parsed, region_code="3103", year=2024, measure="personer",
                  dim_innvandrkat="Norskfødte med innvandrerforeldre")
    assert hidden.status == SUPPRESSED and hidden.value is None
    # a sparse cell with neither value nor status is missing, not zero
    statuses = {(o.region_code, o.year, o.measure, o.dims["innvandrkat"]): o.status
                for o in parsed.observations}
    assert statuses[("0104", 2023, "personer", "Innvandrere")] == MISSING
    assert sum(s == OK for s in statuses.values()) == 10


def test_13628_intervals_zero_dash_and_whole_country():
    parsed = parse_jsonstat(load("13628.json"), "13628.json")
    assert parsed.dataset == "ssb_13628"
    zero = find(parsed, region_code="4001", year=2023,
                dim_fullforingvgo="Fullført med planlagt grunnkompetanse")
    assert zero.status == OK and zero.value == 0.0
    assert zero.status_note == "null (-); periode 2017-2023"
    assert "periode" not in zero.dims
    national = find(parsed, region_code="0", year=2022,
                    dim_fullforingvgo="Fullført på normert tid")
    assert national.status_note == "periode 2016-2022"
    assert national.year == 2022 and national.value == 48.2
    assert national.region_name == "Hele landet"
    assert sum(o.status == SUPPRESSED for o in parsed.observations) == 2


def test_status_as_single_string_applies_to_every_cell():
    doc = load("13628.json")
    doc["status"] = ":"
    parsed = parse_jsonstat(doc, "x.json")
    assert {o.status for o in parsed.observations} == {SUPPRESSED}
    assert all(o.value is None for o in parsed.observations)


def test_dash_with_nonzero_value_is_refused():
    doc = load("13628.json")
    doc["status"][0] = "-"   # cell 0 carries 41.3
    with pytest.raises(InputError, match="celle 1 har statusmerket '-'"):
        parse_jsonstat(doc, "x.json")


def sub_annual_doc() -> dict:
    doc = load("11607.json")
    doc["dimension"]["Tid"]["category"] = {
        "index": {"2023K1": 0, "2023K2": 1}, "label": {"2023K1": "2023K1", "2023K2": "2023K2"}
    }
    return doc


def test_quarterly_periods_are_refused_by_default():
    with pytest.raises(InputError) as err:
        parse_jsonstat(sub_annual_doc(), "kvartal.json")
    msg = str(err.value)
    assert msg.startswith("kvartal.json")
    assert "'2023K1'" in msg and "dimension.Tid.category.index" in msg


def test_quarterly_periods_kept_on_request_as_period_dimension():
    parsed = parse_jsonstat(sub_annual_doc(), "kvartal.json", sub_annual="keep")
    assert {o.year for o in parsed.observations} == {2023}
    assert {o.dims["periode"] for o in parsed.observations} == {"2023K1", "2023K2"}
    keys = {(o.region_code, o.measure, tuple(sorted(o.dims.items()))) for o in parsed.observations}
    assert len(keys) == len(parsed.observations)   # no two cells collapse onto one key


@pytest.mark.parametrize(
    "name, field, phrase",
    [
        ("broken_size_value_mismatch.json", "value", "gir 32 celler, men 'value' har 31"),
        ("broken_category_index.json", "dimension.Kjonn.category.index", "posisjon 2"),
        ("broken_missing_dimension.json", "dimension.Landbakgrunn", "mangler i 'dimension'"),
        ("broken_value_text.json", "value", "verdi nr. 6 er '12,5'"),
    ],
)
def test_broken_fixtures_name_file_field_and_expectation(name, field, phrase):
    with pytest.raises(InputError) as err:
        parse_jsonstat(load(name), name)
    msg = str(err.value)
    assert msg.startswith(name)
    assert f"kolonne {field!r}" in msg
    assert phrase in msg


def mutated(change) -> dict:
    doc = copy.deepcopy(load("11607.json"))
    change(doc)
    return doc


@pytest.mark.parametrize(
    "change, field, phrase",
    [
        (lambda d: d.update(version="1.2"), "version", "versjon \"2.0\""),
        (lambda d: d.pop("version"), "version", "versjon \"2.0\""),
        (lambda d: d.update({"class": "collection"}), "class", "class \"dataset\""),
        (lambda d: d.update(size=[4, 1, 2, 2, 1]), "size", "'size' har 5"),
        (lambda d: d.update(size=[4, 1, 2, 2, 1, 3]), "dimension.Tid.category.index",
         "'size' sier 3 kategorier"),
        (lambda d: d.update(value={"40": 1.0}), "value", "celle 40 finnes ikke"),
        (lambda d: d.update(value=[True] * 32), "value", "forventet et tall eller null"),
        (lambda d: d.update(status=[":"] * 5), "status", "'status' har 5 merker"),
        (lambda d: d["dimension"]["Tid"]["category"].update(index=["2022", "22"]),
         "dimension.Tid.category.index", "ukjent tidskode '22'"),
        (lambda d: (d.update(id=["Område", *d["id"][1:]]),
                    d["dimension"].update({"Område": d["dimension"].pop("Region")})),
         "id", "regiondimensjon"),
        (lambda d: (d.pop("extension"), d.update(label="Sysselsatte")),
         "extension.px.tableid", "SSB-tabellnummeret"),
    ],
)
def test_structural_errors(change, field, phrase):
    with pytest.raises(InputError) as err:
        parse_jsonstat(mutated(change), "svar.json")
    msg = str(err.value)
    assert f"kolonne {field!r}" in msg, msg
    assert phrase in msg, msg


def test_looks_like_jsonstat_routes_only_datasets():
    assert looks_like_jsonstat(load("13628.json"))
    assert not looks_like_jsonstat({"type": "FeatureCollection", "features": []})
    assert not looks_like_jsonstat([1, 2])


def test_our_test_fixtures_are_refused_outside_tests(monkeypatch):
    monkeypatch.delenv("BLI_ALLOW_TEST_DATA")
    with pytest.raises(InputError) as err:
        parse_jsonstat(load("11607.json"), "11607.json")
    assert "testdata skrevet av Bli-atlas" in str(err.value)
    assert "kolonne 'extension.bliatlas.testdata'" in str(err.value)
    # a broken fixture still reports its own fault first
    with pytest.raises(InputError, match="'value' har 31 verdier"):
        parse_jsonstat(load("broken_size_value_mismatch.json"), "b.json")
    # a real answer (no marker) parses without the variable
    doc = load("13628.json")
    del doc["extension"]["bliatlas"]
    assert len(parse_jsonstat(doc, "13628.json").observations) == 24


def test_shared_category_labels_are_told_apart_by_code():
    doc = load("11607.json")
    doc["dimension"]["Kjonn"]["category"]["label"] = {"1": "Menn", "2": "Menn"}
    parsed = parse_jsonstat(doc, "x.json")
    assert {o.dims["kjonn"] for o in parsed.observations} == {"Menn (1)", "Menn (2)"}
