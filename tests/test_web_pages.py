"""Web atlas pages through the FastAPI app: numbers equal the API's, filters, CSV, errors.

The browser-driven flow (Chromium + axe-core) is in ``test_web_browser.py``.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from bliatlas.render import context as web_context
from bliatlas.render.classify import classify
from bliatlas.render.geo import View, project


class _Cells(HTMLParser):
    """Collects text of elements carrying data-code / data-indicator attributes and links."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str | None, str | None], str] = {}
        self.map_links: dict[str, str] = {}
        self._open: tuple[str | None, str | None] | None = None
        self._buf: list[str] = []
        self.rows: list[str] = []
        self._in_table: str | None = None
        self._row_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and ("data-code" in a or "data-indicator" in a):
            self._open = (a.get("data-code"), a.get("data-indicator"))
            self._buf = []
        if tag == "a" and "data-tip" in a:
            self.map_links[a["href"]] = a["aria-label"]
        if tag == "table":
            self._in_table = a.get("id")
        if tag == "th" and a.get("scope") == "row" and self._in_table == "kommunetabell":
            self._row_th = True
            self._buf = []

    def handle_data(self, data):
        if self._open is not None or self._row_th:
            self._buf.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells[self._open] = "".join(self._buf).strip()
            self._open = None
        if tag == "th" and self._row_th:
            self.rows.append("".join(self._buf).strip().replace(" distrikt", ""))
            self._row_th = False
        if tag == "table":
            self._in_table = None


def parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


# -- map ---------------------------------------------------------------------------------


def test_map_page_is_norwegian_with_one_link_per_municipality_and_api_numbers(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="nb">' in html
    assert "NLOD 2.0" in html and "Kartverket, CC BY 4.0" in html
    page = parse(html)
    assert len(page.map_links) == 357
    api = client.get("/api/data/bosatte_per_1000", params={"niva": "kommune", "ar": 2024}).json()
    by_code = {row["kode"]: row for row in api["verdier"]}
    for code in ("4650", "4602", "1820", "0301", "5612"):
        row = by_code[code]
        assert page.cells[(code, None)] == row["verdi_tekst"]
        label = page.map_links[f"/kommune/{code}"]
        assert label.startswith(row["navn"] + ": " + row["verdi_tekst"])
    # The national figure is the API's national value.
    nat = client.get("/api/data/bosatte_per_1000", params={"niva": "nasjonal", "ar": 2024}).json()
    assert f"Hele landet 2024: <strong>{nat['verdier'][0]['verdi_tekst']} per 1 000" in html


def test_map_suppressed_cells_are_hatched_explained_and_never_numbers(client):
    r = client.get("/", params={"i": "anmodning", "ar": "2020"})
    assert r.status_code == 200
    api = client.get("/api/data/anmodning", params={"niva": "kommune", "ar": 2020}).json()
    suppressed = [row for row in api["verdier"] if row["status"] == "suppressed"]
    assert len(suppressed) > 100
    page = parse(r.text)
    hatched = r.text.count('fill="url(#skjermet-kart)"')
    assert hatched == len(suppressed)
    assert "Skjermet: færre enn 5" in r.text
    for row in suppressed[:20]:
        assert page.cells[(row["kode"], None)] == row["verdi_tekst"]
        assert row["verdi"] is None
        label = page.map_links[f"/kommune/{row['kode']}"].split(":", 1)[1]
        assert label.strip() in ("færre enn 5 (skjermet)", "skjermet")


def test_map_filters_county_district_centrality_and_levels(client):
    r = client.get("/", params={"fylke": "46", "distrikt": "1"})
    page = parse(r.text)
    codes = {c for c, _ in page.cells}
    api_regions = client.get("/api/regioner", params={"niva": "kommune"}).json()
    rows = api_regions.get("regioner") or api_regions.get("verdier")
    expected = {row["kode"] for row in rows
                if row["kode"].startswith("46") and row["sentralitet"] in (5, 6)}
    assert codes == expected and len(expected) > 10
    # Other municipalities in the county are drawn but neither linked nor in the table.
    assert len(page.map_links) == len(expected)
    r = client.get("/", params={"sentralitet": "6"})
    assert {c for c, _ in parse(r.text).cells} == {
        row["kode"] for row in rows if row["sentralitet"] == 6}
    r = client.get("/", params={"niva": "fylke", "i": "innvandrere_per_1000"})
    page = parse(r.text)
    assert len(page.map_links) == 15
    api = client.get("/api/data/innvandrere_per_1000", params={"niva": "fylke"}).json()
    for row in api["verdier"]:
        assert page.cells[(row["kode"], None)] == row["verdi_tekst"]


def test_map_county_only_indicator_switches_level_and_wrong_year_falls_back(client):
    r = client.get("/", params={"i": "sysselsatte_gruppe1"})
    assert r.status_code == 200
    assert "finnes bare per fylke" in r.text
    r = client.get("/", params={"i": "tilskudd_per_innbygger", "ar": "2024"})
    assert r.status_code == 200
    assert "har ikke tall for 2024; kartet viser 2023" in r.text


@pytest.mark.parametrize("params,status,message", [
    ({"i": "finnes_ikke"}, 404, "ukjent indikator"),
    ({"ar": "tjue"}, 422, "forventet et årstall"),  # as /api/data (errors.InvalidParameter)
    ({"niva": "galakse"}, 422, "forventet «kommune» eller «fylke»"),
    ({"fylke": "99"}, 404, "ukjent fylkesnummer"),
    ({"sentralitet": "9"}, 422, "forventet 1–6"),
])
def test_map_bad_parameters_give_norwegian_error_pages(client, params, status, message):
    r = client.get("/", params=params)
    assert r.status_code == status
    assert message in r.text
    assert '<html lang="nb">' in r.text


# -- municipality -------------------------------------------------------------------------


def test_municipality_page_matches_profile_api(client):
    r = client.get("/kommune/4650")
    assert r.status_code == 200
    api = client.get("/api/profil/4650").json()
    page = parse(r.text)
    for item in api["indikatorer"]:
        assert page.cells[(None, item["id"])] == item["verdi_tekst"], item["id"]
    for sentence in api["setninger"]:
        assert sentence in r.text.replace("&#39;", "'")
    assert "distriktskommune" in r.text
    assert 'href="/kommune/4650.csv"' in r.text
    # Every chart has a data table; the locator map highlights the municipality.
    assert r.text.count('<svg class="chart"') >= 4
    assert r.text.count("<table") >= r.text.count('<svg class="chart"')
    assert "Gloppen markert på kartet over Vestland" in r.text


def test_municipality_funnel_and_grants_are_the_stored_values(client, imported_db):
    from bliatlas.store import open_store

    r = client.get("/kommune/4650")
    page = parse(r.text)
    store = open_store(imported_db, read_only=True)
    try:
        raw = {row["measure"]: row["value"] for row in store.query(
            "SELECT measure, value FROM observation WHERE dataset = 'kommuner_bosetting' "
            "AND region_code = '4650' AND year = 2024 AND dims = '' "
            "AND measure IN ('anmodning', 'vedtak', 'bosatt')")}
        total = store.query(
            "SELECT value FROM observation WHERE dataset = 'imdi_tilskudd' AND region_code = "
            "'4650' AND year = 2023 AND dims = 'tilskuddstype=Totalt'")[0]["value"]
    finally:
        store.close()
    assert "Bosettingstrakten 2024" in r.text
    assert page.cells[(None, "anmodning")] == f"{raw['anmodning']:.0f}"
    assert page.cells[(None, "vedtak")] == f"{raw['vedtak']:.0f}"
    assert page.cells[(None, "bosatt_etter_anmodning")] == f"{raw['bosatt']:.0f}"
    assert "Tilskudd fra IMDi etter type, 2023" in r.text
    assert f"Totalt: <strong>{total:,.0f} kr".replace(",", " ") in r.text


def test_municipality_csv_has_everything_on_the_page(client):
    r = client.get("/kommune/4650.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = rows[0]
    assert header[:6] == ["seksjon", "kode", "kommune", "indikator", "navn", "år"]
    body = [dict(zip(header, row)) for row in rows[1:] if len(row) == len(header)]
    sections = {row["seksjon"] for row in body}
    assert sections == {"indikator", "sammenligning", "bosettingstrakt", "tilskudd", "setning"}
    api = client.get("/api/profil/4650").json()
    for item in api["indikatorer"]:
        for point in item["serie"]:
            match = [row for row in body if row["seksjon"] == "indikator"
                     and row["indikator"] == item["id"] and row["år"] == str(point["ar"])]
            assert len(match) == 1
            if point["status"] == "ok":
                assert float(match[0]["verdi"].replace(",", ".")) == pytest.approx(
                    point["verdi"], rel=1e-9, abs=1e-6)
            else:
                assert match[0]["verdi"] == "" and match[0]["status"] == point["status"]
    assert text.rstrip().endswith("CC BY 4.0.")


def test_municipality_csv_keeps_suppressed_cells_empty(client):
    api = client.get("/api/data/anmodning", params={"niva": "kommune", "ar": 2020}).json()
    code = next(row["kode"] for row in api["verdier"] if row["status"] == "suppressed")
    rows = list(csv.reader(io.StringIO(client.get(f"/kommune/{code}.csv").content
                                       .decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    body = [dict(zip(header, row)) for row in rows[1:] if len(row) == len(header)]
    match = [row for row in body if row["indikator"] == "anmodning" and row["år"] == "2020"]
    assert match and match[0]["verdi"] == "" and match[0]["status"] == "suppressed"
    # what everyone knows about a suppressed count, as in the API: one of 0-4
    assert (match[0]["nedre"], match[0]["øvre"]) == ("0", "4")


def test_municipality_unknown_and_county_codes(client):
    assert client.get("/kommune/9999").status_code == 404
    r = client.get("/kommune/46")
    assert r.status_code == 404 and "/fylke/46" in r.text
    assert client.get("/kommune/9999.csv").status_code == 404


# -- county --------------------------------------------------------------------------------


def test_county_page_lists_all_municipalities_sorted_on_the_server(client):
    api_regions = client.get("/api/regioner", params={"niva": "kommune"}).json()
    rows = api_regions.get("regioner") or api_regions.get("verdier")
    members = [row for row in rows if row["kode"].startswith("18") and len(row["kode"]) == 4]
    r = client.get("/fylke/18")
    assert r.status_code == 200
    page = parse(r.text)
    assert len(page.rows) == len(members) == 41
    n_district = sum(row["sentralitet"] in (5, 6) for row in members)
    assert f"hvorav {n_district} distriktskommuner" in r.text
    api = client.get("/api/data/bosatte_per_1000", params={"niva": "kommune", "ar": 2024}).json()
    values = {row["navn"]: row["verdi"] for row in api["verdier"] if row["kode"] in
              {m["kode"] for m in members}}
    r = client.get("/fylke/18", params={"sort": "bosatte_per_1000", "retning": "synkende"})
    order = parse(r.text).rows
    with_values = [name for name in order if values.get(name) is not None]
    assert [values[n] for n in with_values] == sorted(
        (values[n] for n in with_values), reverse=True)
    assert 'aria-sort="descending"' in r.text
    county = client.get("/api/data/bosatte_per_1000", params={"niva": "fylke", "ar": 2024}).json()
    nordland = next(row for row in county["verdier"] if row["kode"] == "18")
    assert parse(r.text).cells[(None, "bosatte_per_1000")] == nordland["verdi_tekst"]
    assert client.get("/fylke/18", params={"sort": "tull"}).status_code == 400


# -- compare and search -------------------------------------------------------------------


def test_compare_three_municipalities_side_by_side(client):
    r = client.get("/sammenlign", params=[("k", "4650"), ("k", "4602"), ("k", "1820"),
                                          ("i", "bosatte_per_1000"), ("i", "ukrainere_andel")])
    assert r.status_code == 200
    page = parse(r.text)
    for ind in ("bosatte_per_1000", "ukrainere_andel"):
        api = client.get(f"/api/data/{ind}", params={"niva": "kommune"}).json()
        by_code = {row["kode"]: row["verdi_tekst"] for row in api["verdier"]}
        for code in ("4650", "4602", "1820"):
            assert page.cells[(code, ind)] == by_code[code]
    # one bar chart per indicator, and one time series per indicator with a line per place
    assert r.text.count('<svg class="chart" id="sml-') == 2
    assert r.text.count('<svg class="chart" id="utv-') == 2
    assert client.get("/sammenlign", params={"k": "0000"}).status_code == 404


@pytest.mark.parametrize("query,href", [
    ("Romsa", "/fylke/55"),
    ("Tromso", "/kommune/5501"),
    ("Guovdageaidnu", "/kommune/5612"),
    ("glopen", "/kommune/4650"),
])
def test_search_finds_places_by_sami_kven_names_and_misspellings(client, query, href):
    r = client.get("/sok", params={"q": query})
    assert r.status_code == 200
    first = re.search(r'<h2 id="h-steder">.*?<a href="([^"]+)"', r.text, re.DOTALL)
    assert first and first.group(1) == href


def test_search_finds_indicators_by_definition_words_and_knowledge(client):
    r = client.get("/sok", params={"q": "venteliste fastlege"})
    assert 'href="/?i=fastlege_venteliste_per_1000"' in r.text
    r = client.get("/sok", params={"q": "bosetting"})
    assert re.search(r'<h2 id="h-kunn">.*?href="/kunnskap/[^"]+"', r.text, re.DOTALL)
    r = client.get("/sok", params={"q": "x" * 201})
    assert r.status_code == 400


def test_knowledge_pages_list_filter_and_detail(client):
    api = client.get("/api/kunnskap", params={"type": "praksis"}).json()
    r = client.get("/kunnskap", params={"type": "praksis"})
    assert r.status_code == 200
    assert f"<h2>{api['total']} oppføringer</h2>" in r.text
    entry = api["results"][0]
    r = client.get(f"/kunnskap/{entry['id']}")
    assert r.status_code == 200 and entry["title"] in r.text.replace("&#39;", "'")
    assert client.get("/kunnskap/finnes-ikke").status_code == 404
    assert client.get("/kunnskap", params={"type": "tull"}).status_code == 400


def test_static_assets_are_local_and_pages_compress(client):
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
    assert client.get("/static/atlas.css").status_code == 200
    assert client.get("/static/atlas.js").status_code == 200


# -- building blocks ------------------------------------------------------------------------


def test_projection_and_quantised_paths():
    x, y = project(np.array([15.0, 15.0]), np.array([60.0, 70.0]))
    assert x[0] == pytest.approx(0.0, abs=1e-6)
    # 10 degrees of latitude on the sphere along the central meridian.
    assert y[1] - y[0] == pytest.approx(6_371_000 * np.radians(10), rel=1e-9)
    view = View.fit((0.0, 0.0, 1000.0, 500.0), width=100, pad=0.0)
    assert view.viewbox == "0 0 100 50"


def test_quantile_classes_cover_all_values_and_diverge_around_zero():
    values = [float(v) for v in range(1, 101)]
    c = classify(values, 0)
    assert len(c.classes) == 5 and not c.diverging
    assert sum(k.count for k in c.classes) == 100
    assert c.classes[0].lower == 1 and c.classes[-1].upper == 100
    d = classify([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], 0)
    assert d.diverging
    assert all(k.upper < 0 for k in d.classes[:3]) and all(k.lower > 0 for k in d.classes[3:])
    few = classify([0.0, 100.0, 0.0, 100.0], 0)
    assert [k.label for k in few.classes] == ["0", "100"]


def test_municipality_page_lists_the_knowledge_engines_recommendations(client, imported_db):
    from bliatlas.knowledge import recommend
    from bliatlas.store import open_store

    ctx = web_context.get_context()
    index = ctx.knowledge()
    store = open_store(imported_db, read_only=True)
    try:
        facts = recommend.read_place_facts(store)
    finally:
        store.close()
    similar = recommend.similar_place_practices(index, facts, "4650", limit=5)
    weak = recommend.practices_for_weaknesses(index, ctx.cube, facts, "4650")
    assert similar or weak
    html = client.get("/kommune/4650").text.replace("&#39;", "'").replace("&#34;", '"')
    for rec in [*similar, *weak]:
        assert f'href="/kunnskap/{rec.entry.id}"' in html
        assert rec.reason in html
    r = client.get("/kunnskap", params={"fylke": "46"})
    assert r.status_code == 200


def test_map_download_links_give_the_same_numbers_as_the_page(client):
    r = client.get("/", params={"i": "ukrainere_andel", "ar": "2023"})
    link = re.search(r'href="(/api/data/ukrainere_andel\?[^"]+format=csv)"', r.text)
    assert link
    body = client.get(link.group(1).replace("&amp;", "&")).text
    rows = list(csv.DictReader(io.StringIO(body)))
    page = parse(r.text)
    assert len(rows) == len(page.cells) == 357
    for row in rows[:50]:
        assert page.cells[(row["kode"], None)] == row["verdi_tekst"]


def test_report_downloads_are_offered_and_work(client):
    page = client.get("/kommune/4650").text
    assert 'href="/api/rapport/kommune/4650.pdf"' in page
    assert 'href="/api/rapport/fylke/46.pdf"' in client.get("/fylke/46").text
    html = client.get("/api/rapport/kommune/4650.html")
    assert html.status_code == 200 and "Gloppen" in html.text


def test_a_municipality_page_reads_its_region_once_and_hands_the_cells_down(client,
                                                                            monkeypatch):
    """Issue 16, item 4: the page fetches Hyllestad's cells once (one ``RegionFacts``) and
    the profile, the sentences and the funnel read from it; nothing asks the cube for the
    region's cells again."""
    from bliatlas.indicators.engine import Cube

    ctx = web_context.get_context()
    code = "4637"  # Hyllestad
    ctx.cube._cache.pop(("facts", "kommune", code), None)
    ctx.cube._cache.pop(("region", "kommune", code), None)
    calls: list[tuple] = []
    real_cells_for, real_cell = Cube.cells_for, Cube.cell

    def counting_cells_for(self, level, c):
        calls.append(("cells_for", level, c))
        return real_cells_for(self, level, c)

    def counting_cell(self, indicator, level, c, year):
        calls.append(("cell", level, c))
        return real_cell(self, indicator, level, c, year)

    monkeypatch.setattr(Cube, "cells_for", counting_cells_for)
    monkeypatch.setattr(Cube, "cell", counting_cell)
    html = client.get(f"/kommune/{code}").text
    assert "Hyllestad hadde" in html and "Bosettingstrakten" in html
    own = [c for c in calls if c[1:] == ("kommune", code)]
    assert own == [("cells_for", "kommune", code)]


def test_sentences_are_made_from_the_cells_they_are_given(client):
    """The sentences take a region's cells, not the engine: the same cells give the same
    sentences, and a cell taken out is not said."""
    from bliatlas.indicators.engine import RegionFacts
    from bliatlas.indicators.sentences import region_sentences

    cube = web_context.get_context().cube
    facts = cube.facts("kommune", "4650")
    said = region_sentences(facts, cube.catalogue)
    assert said[0] == "Gloppen hadde 5 926 innbyggere 1. januar 2024 (+51 siden 2022)."
    kept = tuple(c for c in facts.cells if c.indicator != "folkemengde_1_januar")
    fewer = RegionFacts(facts.level, facts.code, facts.region, kept,
                        {(c.indicator, c.year): c for c in kept})
    without = region_sentences(fewer, cube.catalogue)
    assert without == said[1:]
