"""Numbers a county can put in its plan: the reform crosswalk (checked by continuity), old
county codes, split and included municipalities in totals, coverage notes, suppression as
intervals in every output, one way to compare, and the profile's lead figures."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict

import pytest
from published_raw import DATA, read_imdi

from bliatlas.cli import main
from bliatlas.regions.continuity import STOCK_SERIES, check_continuity, failures
from bliatlas.regions.crosswalk import Change, Crosswalk, load_changes, load_county_periods
from bliatlas.regions.registry import Registry
from bliatlas.store import open_store


@pytest.fixture(scope="module")
def registry(imported_db) -> Registry:
    with open_store(imported_db, read_only=True) as store:
        return Registry.from_store(store)


def _series(file: str, dims: dict[str, str]) -> dict:
    """A stock series straight from the raw export: (code, name) -> year -> value."""
    want = "|".join(f"{k}={dims[k]}" for k in sorted(dims))
    out: dict = defaultdict(dict)
    for r in read_imdi(file):
        if r.dims == want and r.unit == "personer" and r.status == "ok":
            out[("K" + r.code, r.name)][r.year] = r.value
    return out


IMMIGRANTS = ("innvandringsgrunn_kommuner_2006-2021.csv",
              {"innvandringsgrunn": "Alle", "kjonn": "Alle"})


def _raw_immigrants(year: int) -> dict[str, float]:
    return {code: values[year] for (code, _), values in _series(*IMMIGRANTS).items()
            if year in values}


# -- 1. the crosswalk and its continuity check ------------------------------------------------


def test_continuity_holds_for_every_merge_in_the_raw_series(registry):
    cw = Crosswalk(registry)
    checked = 0
    for stock, file in [(STOCK_SERIES[1], IMMIGRANTS[0]),
                        (STOCK_SERIES[0], "utdanningsniva_kommuner_2011-2020.csv")]:
        results = check_continuity(_series(file, dict(stock.dims)), cw, stock.tolerance,
                                   stock.label)
        assert failures(results) == [], [r.message() for r in failures(results)]
        checked += len(results)
    # every merge of the 2020 reform that both series can show, and the splits as wholes
    assert checked > 90


def test_continuity_finds_the_old_jondal_error_by_itself(registry):
    cw = Crosswalk(registry)
    cw.changes["1227"] = Change("1227", "Jondal", 2019, "Kvam", "46", "merge", "")
    cw._cache.clear()
    stock = STOCK_SERIES[0]
    failed = failures(check_continuity(
        _series("utdanningsniva_kommuner_2011-2020.csv", dict(stock.dims)), cw,
        stock.tolerance, stock.label))
    messages = [f.message() for f in failed]
    assert {f.target for f in failed} == {"4622", "4618"}, messages  # Kvam and Ullensvang
    kvam = next(m for m in messages if "(4622)" in m)
    assert "K1227 Jondal" in kvam and "i 2019" in kvam and "i 2020" in kvam


def test_jondal_and_halsa_land_where_they_went(client):
    raw = _raw_immigrants(2019)
    rows = {r["kode"]: r for r in client.get(
        "/api/data/innvandrere", params={"niva": "kommune", "ar": 2019}).json()["verdier"]}
    assert rows["4622"]["verdi"] == raw["K4622"] == 865                     # Kvam alone
    assert rows["4618"]["verdi"] == raw["K1227"] + raw["K1228"] + raw["K1231"] == 1170
    assert rows["5055"]["verdi"] == raw["K5011"] + raw["K1571"] == 395       # Hemne + Halsa
    assert "Jondal (K1227)" in rows["4618"]["arsak"]
    assert "Snillfjord" in rows["5055"]["arsak"]  # the split part it does not cover


def test_split_municipalities_count_in_county_and_national_totals(client):
    raw = _raw_immigrants(2020)
    national = client.get("/api/data/innvandrere_flukt_andel",
                          params={"niva": "nasjonal", "ar": 2020}).json()["verdier"][0]
    assert national["nevner"] == sum(v for c, v in raw.items() if not c.startswith("K99"))
    assert national["nevner"] == 790505
    assert "Ålesund (1507)" in national["arsak"]
    counties = {r["kode"]: r for r in client.get(
        "/api/data/innvandrere_flukt_andel", params={"niva": "fylke", "ar": 2020}).json()[
        "verdier"]}
    assert counties["15"]["nevner"] == 30965
    assert "bare" not in (counties["15"]["arsak"] or "")  # Ålesund and Haram are covered
    requests = client.get("/api/data/anmodning",
                          params={"niva": "nasjonal", "ar": 2016}).json()["verdier"][0]
    assert requests["verdi"] == 18517 and "Tysfjord (1850)" in requests["arsak"]


def test_haram_is_in_alesund_2022_2023_and_county_totals_are_complete(client):
    rows = {r["kode"]: r for r in client.get(
        "/api/data/bosatte_flyktninger", params={"niva": "kommune", "ar": 2022}).json()[
        "verdier"]}
    assert rows["1580"]["status"] == "missing" and rows["1580"]["verdi"] is None
    assert rows["1580"]["arsak"].startswith("Inngår i Ålesund (1508)")
    assert "Omfatter også Haram (1580)" in rows["1508"]["arsak"]
    county = client.get("/api/data/bosatte_flyktninger",
                        params={"niva": "fylke", "ar": 2022}).json()["verdier"]
    more = next(r for r in county if r["kode"] == "15")
    assert more["status"] == "ok" and not more["arsak"]
    text = client.get("/api/data/bosatte_flyktninger",
                      params={"niva": "kommune", "ar": 2022, "format": "csv"}).text
    haram = next(r for r in csv.DictReader(io.StringIO(text)) if r["kode"] == "1580")
    assert haram["arsak"].startswith("Inngår i Ålesund")


def _county_file_2015(level: str) -> dict[str, float]:
    """The county education file, raw: persons of the whole population at an education
    level in 2015, by published county code (F01 …)."""
    with open(DATA / "imdi" / "utdanningsniva_fylker_2009-2020.csv", encoding="iso-8859-1") as f:
        rows = list(csv.reader(f, delimiter=";"))
    header = [r for r in rows if r and r[0] in ("Region", "")]
    wanted = {"Bakgrunn": "Hele befolkningen", "Utdanningsnivå": level, "Kjønn": "Alle",
              "Enhet": "Personer", "År": "2015"}
    out = {}
    for r in rows:
        if r and r[0].startswith("F"):
            for col in range(2, len(r)):
                labels = dict(h[col].split(": ", 1) for h in header
                              if col < len(h) and ": " in h[col])
                if labels == wanted and r[col]:
                    out[r[0]] = float(r[col])
    return out


def test_old_county_codes_map_only_where_the_borders_are_unchanged(imported_db):
    periods = load_county_periods()
    changes = load_changes()
    with open_store(imported_db, read_only=True) as store:
        registry = Registry.from_store(store)
        cw = Crosswalk(registry)
        # every municipality that moved across a county border in 2020 marks both counties
        for change in changes.values():
            if change.last_year != 2019 or change.kind != "merge" or int(change.old_code[:2]) > 20:
                continue
            target = cw.resolve(change.old_code, change.old_name).targets[0]
            new_county = registry.municipalities[target].county_code
            # municipalities of Trøndelag kept their 16xx/17xx codes until 2020
            prefix = "50" if change.old_code[:2] in ("16", "17") else change.old_code[:2]
            old = next(p for p in periods[prefix] if p.covers(2019))
            if new_county not in old.successors:
                assert old.status == "changed", change
                receiving = [p for ps in periods.values() for p in ps
                             if p.covers(2019) and new_county in p.successors]
                assert all(p.status in ("changed", "split") for p in receiving), change
        aside = {r["source_region_code"]: r["reason"] for r in store.query(
            "SELECT DISTINCT source_region_code, reason FROM observation_unassigned "
            "WHERE dataset = 'imdi_utdanningsniva' AND year = 2015")}
        assert "Halsa" in aside["F15"] and "Hornindal" in aside["F12"] and "F08" not in aside
        stored = {(r["region_code"], r["unit"]): r for r in store.query(
            "SELECT region_code, unit, value, status FROM observation WHERE "
            "dataset = 'imdi_utdanningsniva' AND year = 2015 AND "
            "dims = 'bakgrunn=Hele befolkningen|kjonn=Alle|utdanningsniva=alle'")}
    raw = _county_file_2015("alle")
    assert stored[("40", "personer")]["value"] == raw["F08"]              # Telemark: same
    assert stored[("42", "personer")]["value"] == raw["F09"] + raw["F10"]  # Agder: both
    assert stored[("42", "prosent")]["status"] == "missing"               # never summed
    assert ("15", "personer") not in stored  # Møre og Romsdal 2015 had other borders
    assert stored[("46", "personer")]["status"] == "missing"  # F46 has no 2015 value


def test_gp_figures_carry_the_year_the_source_states(client):
    years = client.get("/api/indikatorer/fastlege_venteliste_per_1000").json()["indikator"]["ar"]
    assert years == [2022, 2023]  # the panel's 2024 rows repeat Helsedirektoratet's 2023
    profile = client.get("/api/profil/4650").json()
    gp = next(i for i in profile["indikatorer"] if i["id"] == "fastlege_reservekapasitet")
    assert gp["ar"] == 2023


# -- 2. suppression as bounds in every output --------------------------------------------------


def test_vestland_funnel_and_national_minors_are_ranges_everywhere(client):
    funnel = next(r for r in client.get(
        "/api/data/bosatt_etter_anmodning", params={"niva": "fylke", "ar": 2024}).json()[
        "verdier"] if r["kode"] == "46")
    assert funnel["status"] == "intervall" and funnel["verdi"] is None
    n = funnel["skjermede_kommuner"]
    assert n > 0 and funnel["ovre"] - funnel["nedre"] == 4 * n
    lo, hi = f"{funnel['nedre']:,.0f}".replace(",", " "), f"{funnel['ovre']:,.0f}".replace(",", " ")
    assert funnel["verdi_tekst"] == f"{lo}–{hi}"
    minors = client.get("/api/data/enslige_mindreaarige",
                        params={"niva": "nasjonal", "ar": 2024}).json()["verdier"][0]
    assert minors["status"] == "intervall" and minors["nedre"] < minors["ovre"]
    report = client.get("/api/rapport/fylke/46.html").text
    assert f">{lo}–{hi}</span>" in report
    assert "Bosatt: skjermet" not in report
    sentences = client.get("/api/profil/46").json()["setninger"]
    said = next(s for s in sentences if "Bosatt mot anmodningen" in s)
    assert re.search(rf"mellom {lo} og {hi}; {n} kommuner? er skjermet\.", said), said


def test_maps_draw_an_interval_over_a_class_break_as_uncertain(client):
    # Settled as a share of the decision 2024, per county: one county's interval (its
    # suppressed settled counts) lies across a class break.
    r = client.get("/", params={"i": "bosatt_andel_av_vedtak", "ar": "2024", "niva": "fylke"})
    assert r.status_code == 200
    assert r.text.count('fill="url(#usikker-kart-') == 1 and "Usikker klasse" in r.text
    assert "usikker klasse: intervallet går over en klassegrense" in r.text  # the region label


def test_footer_says_what_is_true_about_small_counts(client):
    html = client.get("/kommune/4650").text
    assert "publiserer selv en del tall mellom 1 og 4" in html
    assert "Tall under 5 er skjermet for å verne" not in html


# -- 3. one way to compare ---------------------------------------------------------------------


def test_one_comparison_definition_in_page_report_sentences_and_csv(client):
    profile = client.get("/api/profil/4650").json()
    names = [c["overskrift"] for c in profile["sammenligninger"]]
    assert names == ["Median, sentralitetsklasse 5", "Median, KOSTRA-gruppe 4",
                     "Vestland samlet", "Hele landet samlet"]
    labour = next(i for i in profile["indikatorer"] if i["id"] == "innvandrere_arbeid_andel")
    national = next(c for c in labour["sammenligning"] if c["nokkel"] == "nasjonal_samlet")
    assert national["etikett"] == "hele landet samlet"
    page = client.get("/kommune/4650").text
    for name in names:
        assert f'<th scope="col" class="n">{name}</th>' in page
    # (table heads carry soft hyphens where long compounds may break)
    report = client.get("/api/rapport/kommune/4650.html").text.replace("\u00ad", "")
    for name in names:
        assert f">{name}</th>" in report
    # the pooled national value is the same number in page, report and CSV
    assert f">{national['verdi_tekst']}</" in page
    assert national["verdi_tekst"] in report
    rows = list(csv.DictReader(io.StringIO(client.get("/api/profil/4650?format=csv").text)))
    csv_row = next(r for r in rows if r["id"] == "innvandrere_arbeid_andel"
                   and r["sammenligning"] == "hele landet samlet")
    assert float(csv_row["sammenligning_verdi"]) == pytest.approx(national["verdi"])
    page_csv = client.get("/kommune/4650.csv").content.decode("utf-8-sig")
    assert "Arbeidsinnvandrere blant innvandrerne: hele landet samlet" in page_csv


def test_ties_share_a_rank_and_say_so(client):
    profile = client.get("/api/profil/4650").json()
    minors = next(i for i in profile["indikatorer"] if i["id"] == "enslige_mindreaarige")
    ranked = next(c for c in minors["sammenligning"] if c["rang"] is not None)
    assert ranked["delt_med"] > 0 and "delt med" in ranked["rang_tekst"]
    assert "skjermet tall er ikke rangert" in ranked["rang_tekst"]
    # mid-rank percentile: everyone tied is in the middle, not at the top
    assert ranked["persentil"] < 100


def test_one_base_year_for_the_change_column(client):
    profile = client.get("/api/profil/4650").json()
    base = profile["endring_fra_ar"]
    changes = [i["utvikling"] for i in profile["indikatorer"] if i["utvikling"]]
    assert changes and {c["fra_ar"] for c in changes} == {base}
    chosen = client.get("/api/profil/4650", params={"fra": 2010}).json()
    assert {i["utvikling"]["fra_ar"] for i in chosen["indikatorer"] if i["utvikling"]} == {2010}
    page = client.get("/kommune/4650", params={"fra": "2010"}).text
    assert "Endring siden 2010" in page
    assert client.get("/kommune/4650", params={"fra": "tja"}).status_code == 400


def test_a_series_joined_from_two_sources_is_marked_and_gaps_stay_gaps(client):
    profile = client.get("/api/profil/4650").json()
    requests = next(i for i in profile["indikatorer"] if i["id"] == "anmodning")
    joins = [p for p in requests["serie"] if p["skjot"]]
    assert [p["ar"] for p in joins] == [2024]  # IMDi's export to 2022, the panel for 2024
    assert 2023 not in [p["ar"] for p in requests["serie"]]  # no value is made for 2023
    page = client.get("/kommune/4650").text
    assert "kilde skifter" in page and "Fra 2024:" in page


def test_the_two_counts_of_settled_say_what_each_counts(client):
    sentences = client.get("/api/profil/4650").json()["setninger"]
    settled = next(s for s in sentences if s.startswith("Gloppen bosatte 43"))
    assert "i løpet av året" in settled
    against = next(s for s in sentences if "Bosatt mot anmodningen: 45" in s)
    assert "mot årets anmodning og vedtak" in against


# -- 4. the profile leads with population -------------------------------------------------------


def test_bli_profile_starts_with_the_population(imported_db, capsys):
    assert main(["--database", str(imported_db), "profile", "4650"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Gloppen (4650)"
    assert lines[2].startswith("Folkemengde 1. januar 2024: 5 926 personer")
    assert lines[3].startswith("Innvandrere ")
    assert any(line.startswith("Norskfødte med innvandrerforeldre") for line in lines[3:8])
    assert any(line.startswith("Bosatte flyktninger 2024: 43") for line in lines[3:10])


def test_a_publishers_own_county_figure_is_used_where_no_member_is_suppressed(imported_db):
    """The education statistics are published per municipality and per county (old county
    codes): where a county's borders are today's (Telemark 08 → 40), its own figure is used;
    where they are not (Hordaland + Sogn og Fjordane ≠ Vestland), the municipalities' sum."""
    import yaml

    from bliatlas.indicators.catalogue import CATALOGUE_PATH, parse_catalogue
    from bliatlas.indicators.engine import build_cube

    data = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    dims = {"bakgrunn": "Hele befolkningen", "kjonn": "Alle",
            "utdanningsniva": "Universitet og høgskole"}
    data["indicators"].append({
        "id": "voksne_hoyere_utdanning", "topic": "utdanning",
        "name_nb": "Voksne med universitets- eller høgskoleutdanning",
        "name_en": "Adults with higher education", "definition": "Antall personer.",
        "kind": "count", "unit": "personer", "direction": "neutral", "sources": ["IMDi"],
        "numerator": {"dataset": "imdi_utdanningsniva", "measure": "befolkning",
                      "unit": "personer", "dims": dims}})
    with open_store(imported_db, read_only=True) as store:
        cube = build_cube(store, parse_catalogue(data, "catalogue.yaml + test"))
    raw = _county_file_2015("Universitet og høgskole")
    telemark = cube.cell("voksne_hoyere_utdanning", "fylke", "40", 2015)
    assert telemark.ok and telemark.value == raw["F08"]
    assert "Tallet slik kilden publiserer det for fylket" in telemark.notes
    vestland = cube.cell("voksne_hoyere_utdanning", "fylke", "46", 2015)
    municipal = [c for c in cube.slice("voksne_hoyere_utdanning", "kommune", 2015)
                 if cube.regions[("kommune", c.code)]["county_code"] == "46"]
    assert vestland.ok and vestland.value == sum(c.value for c in municipal if c.ok)
    assert not any("kilden publiserer" in n for n in vestland.notes)
