"""Norwegian alphabetical order (… z, æ, ø, å) and Sami/Kven name forms, in the library,
the API lists and the pages' HTML. The browser's own ICU order is checked against the
server's in ``test_web_browser.py``."""

from __future__ import annotations

import re

import pytest

from bliatlas.collate import sorted_nb
from bliatlas.regions.names import display_name, language_forms

COUNTIES_IN_ORDER = [
    "Agder", "Akershus", "Buskerud", "Finnmark (Finnmárku, Finmarkku)", "Innlandet",
    "Møre og Romsdal", "Nordland (Nordlánnda)", "Oslo", "Rogaland", "Telemark",
    "Troms (Romsa, Tromssa)", "Trøndelag (Trööndelage)", "Vestfold", "Vestland", "Østfold",
]
FINNMARK_IN_ORDER = [
    "Alta", "Berlevåg", "Båtsfjord", "Gamvik", "Hammerfest (Hámmerfeasta)", "Hasvik",
    "Karasjok (Kárášjohka)", "Kautokeino (Guovdageaidnu)", "Lebesby", "Loppa", "Måsøy",
    "Nesseby (Unjárga)", "Nordkapp", "Porsanger (Porsáŋgu, Porsanki)", "Sør-Varanger",
    "Tana (Deatnu)", "Vadsø", "Vardø",
]
LAST_MUNICIPALITIES = ["Øvre Eiker", "Øyer", "Øygarden", "Øystre Slidre", "Åfjord", "Ål",
                       "Ålesund", "Åmli", "Åmot", "Årdal", "Ås", "Åseral", "Åsnes"]


def test_norwegian_letters_after_z_aa_as_a_ring_case_last():
    words = ["Årdal", "Askøy", "Alver", "Øygarden", "Zeta", "Ærø", "aa", "Åmot", "Aarborte",
             "Bø", "bo", "Bo", "Bå", "Bæ", "Bö", "Bä", "Bü", "By"]
    assert sorted_nb(words) == [
        "Alver", "Askøy", "bo", "Bo", "By", "Bü", "Bæ", "Bä", "Bø", "Bö", "Bå", "Zeta",
        "Ærø", "Øygarden", "aa", "Åmot", "Aarborte", "Årdal"]


def test_sami_letters_sort_beside_their_base_letters():
    words = ["Đdd", "Dee", "Ddd", "Ŋa", "Oa", "Na", "Nz", "Ŧa", "Ta", "Ua", "Tz", "Čá", "Ca",
             "Cz", "Šl", "Sl", "Sm", "Kárášjohka", "Karasjok", "Zz", "Žz"]
    assert sorted_nb(words) == [
        "Ca", "Čá", "Cz", "Ddd", "Đdd", "Dee", "Kárášjohka", "Karasjok",
        "Na", "Nz", "Ŋa", "Oa", "Sl", "Šl", "Sm", "Ta", "Tz", "Ŧa", "Ua", "Zz", "Žz"]


def test_spaces_and_hyphens_before_letters():
    assert sorted_nb(["Nordre Land", "Nordkapp", "Nord-Aurdal", "Nord-Fron", "Nore og Uvdal"]
                     ) == ["Nord-Aurdal", "Nord-Fron", "Nordkapp", "Nordre Land", "Nore og Uvdal"]


@pytest.mark.parametrize("official,shown,languages", [
    ("Aarborte - Hattfjelldal", "Hattfjelldal (Aarborte)", ["nb", "sma"]),
    ("Guovdageaidnu - Kautokeino", "Kautokeino (Guovdageaidnu)", ["nb", "se"]),
    ("Gáivuotna - Kåfjord - Kaivuono", "Kåfjord (Gáivuotna, Kaivuono)", ["nb", "se", "fkv"]),
    ("Hábmer - Hamarøy", "Hamarøy (Hábmer)", ["nb", "smj"]),
    ("Troms - Romsa - Tromssa", "Troms (Romsa, Tromssa)", ["nb", "se", "fkv"]),
    ("Kárásjohka - Karasjok", "Karasjok (Kárásjohka)", ["nb", "se"]),  # the panel's spelling
    ("Gloppen", "Gloppen", ["nb"]),
])
def test_norwegian_form_first_with_the_sami_and_kven_forms_beside_it(official, shown,
                                                                      languages):
    assert display_name(official) == shown
    assert [lang for _, lang in language_forms(official)] == languages


def test_api_regions_sorted_by_norwegian_name(client):
    r = client.get("/api/regioner", params={"niva": "fylke", "sorter": "navn"})
    assert [x["visningsnavn"] for x in r.json()["regioner"]] == COUNTIES_IN_ORDER
    rows = client.get("/api/regioner", params={"niva": "kommune", "sorter": "navn"}
                      ).json()["regioner"]
    names = [x["visningsnavn"] for x in rows]
    assert len(names) == 357 and names[-13:] == LAST_MUNICIPALITIES
    assert names[:4] == ["Alstahaug", "Alta", "Alvdal", "Alver"]
    i = names.index("Hattfjelldal (Aarborte)")
    assert names[i - 1:i + 2] == ["Hasvik", "Hattfjelldal (Aarborte)", "Haugesund"]
    hattfjelldal = next(x for x in rows if x["kode"] == "1826")
    assert hattfjelldal["navn"] == "Aarborte - Hattfjelldal"  # the official name is kept
    assert hattfjelldal["norsk_navn"] == "Hattfjelldal"
    csv = client.get("/api/regioner", params={"niva": "fylke", "sorter": "navn",
                                               "format": "csv"}).text.splitlines()
    assert csv[0].startswith("kode,niva,navn,kortnavn,norsk_navn,visningsnavn,")
    assert [line.split(",")[0] for line in csv[1:4]] == ["42", "32", "33"]
    bad = client.get("/api/regioner", params={"sorter": "alfabetisk"})
    assert bad.status_code == 422 and "sorter" in bad.json()["error"]


def _row_names(html: str, table_id: str | None) -> list[str]:
    """Row headers linking to municipalities, in one table (or the page's only table)."""
    table = (re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.DOTALL).group(0)
             if table_id else html)
    return [re.sub(r"<[^>]+>", "", m).strip() for m in
            re.findall(r'<th scope="row"[^>]*><a href="/kommune/\d+">(.*?)</a>', table)]


def test_map_table_and_county_table_in_norwegian_order(client):
    html = client.get("/", params={"fylke": "56"}).text
    assert _row_names(html, None) == FINNMARK_IN_ORDER
    county = client.get("/fylke/56").text
    assert _row_names(county, "kommunetabell") == FINNMARK_IN_ORDER
    down = client.get("/fylke/56", params={"sort": "navn", "retning": "synkende"}).text
    assert _row_names(down, "kommunetabell") == FINNMARK_IN_ORDER[::-1]
    national = _row_names(client.get("/").text, None)
    assert national[-13:] == LAST_MUNICIPALITIES


def test_drop_downs_sorted_by_norwegian_name_with_sami_forms(client):
    html = client.get("/").text
    select = re.search(r'<select id="f-fylke".*?</select>', html, re.DOTALL).group(0)
    assert re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select) == COUNTIES_IN_ORDER
    html = client.get("/sammenlign").text
    select = re.search(r'<select id="k-ny".*?</select>', html, re.DOTALL).group(0)
    counties, municipalities = re.findall(r'<optgroup label="[^"]+">(.*?)</optgroup>', select)
    assert [re.sub(r" \(\d+\)$", "", o) for o in re.findall(
        r'<option value="\d+">([^<]+)</option>', counties)] == COUNTIES_IN_ORDER
    options = re.findall(r'<option value="\d+">([^<]+)</option>', municipalities)
    assert len(options) == 357 and options[-1] == "Åsnes (3418)"
    i = options.index("Kautokeino (Guovdageaidnu) (5612)")
    assert options[i - 1:i + 2] == ["Karmøy (1149)", "Kautokeino (Guovdageaidnu) (5612)",
                                    "Kinn (4602)"]


@pytest.mark.parametrize("typed,code", [
    ("Hattfjelldal", "1826"), ("Aarborte", "1826"), ("aarborte", "1826"),
    ("Guovdageaidnu", "5612"), ("Kautokeino (Guovdageaidnu) (5612)", "5612"),
    ("Unjárga", "5636"), ("Tromso", "5501"),
])
def test_compare_finds_a_municipality_by_any_name_form(client, typed, code):
    r = client.get("/sammenlign", params={"k": typed})
    assert r.status_code == 200
    assert re.findall(r'<th scope="col" class="n"><a href="/kommune/(\d+)">', r.text) == [code]


def test_compare_refuses_unknown_and_ambiguous_names_in_norwegian(client):
    r = client.get("/sammenlign", params={"k": "Herøy"})
    assert r.status_code == 400
    assert "flere steder heter «Herøy»: Herøy (1515, Møre og Romsdal), Herøy (1818, Nordland)" \
        in r.text
    r = client.get("/sammenlign", params={"k": "Atlantis"})
    assert r.status_code == 400 and "fant ingen kommune eller fylke med navnet «Atlantis»" \
        in r.text


def test_search_results_show_the_norwegian_name_first(client):
    html = client.get("/sok", params={"q": "Aarborte"}).text
    first = re.search(r'<h2 id="h-steder">.*?<a href="/kommune/1826">([^<]+)</a>', html, re.DOTALL)
    assert first and first.group(1) == "Hattfjelldal (Aarborte)"


def test_plan_table_in_norwegian_order(client):
    html = client.get("/bosetting", params={"fylke": "56", "total": "200"}).text
    names = _row_names(html, "plantabell")
    assert names == FINNMARK_IN_ORDER


def test_compare_counties_and_several_places_in_one_field(client):
    # counties side by side, each linked to its county page, with the county figures of the
    # indicator API (Vestland's 2024 settled refugees per 1 000 is the county cell)
    r = client.get("/sammenlign", params={"k": ["46", "Rogaland"], "i": "bosatte_per_1000"})
    assert r.status_code == 200
    assert re.findall(r'<th scope="col" class="n"><a href="/fylke/(\d+)">', r.text) == \
        ["46", "11"]
    api = client.get("/api/data/bosatte_per_1000", params={"niva": "fylke", "ar": "2024"})
    rows = {x["kode"]: x for x in api.json()["verdier"]}
    assert rows["46"]["verdi_tekst"] in r.text and rows["11"]["verdi_tekst"] in r.text
    assert "Valgte fylker" in r.text
    # several municipalities typed in one field, separated by commas
    r = client.get("/sammenlign", params={"k": "Gloppen, Stad, Stryn"})
    assert r.status_code == 200
    assert re.findall(r'<th scope="col" class="n"><a href="/kommune/(\d+)">', r.text) == \
        ["4650", "4649", "4651"]
    # one level at a time
    r = client.get("/sammenlign", params={"k": ["46", "4650"]})
    assert r.status_code == 400
    assert "sammenlign enten kommuner eller fylker, ikke begge" in r.text
