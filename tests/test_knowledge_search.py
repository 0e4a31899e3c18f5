"""Norwegian search: folding, stemming, compounds, typos, ranking, facets, snippets,
and the same through `bli search`, `bli kunnskap vis` and /api/kunnskap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bliatlas.api.app import SOURCE_NOTE, create_app
from bliatlas.cli import main
from bliatlas.knowledge import api as knowledge_api
from bliatlas.knowledge.base import open_index
from bliatlas.knowledge.loader import load_entries
from bliatlas.knowledge.search import (
    Analyzer,
    KnowledgeIndex,
    SearchResult,
    fold,
    markdown_to_text,
)

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(load_entries(CONTENT))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store filled by `bli import` with the municipality panel (gives the region registry)."""
    path = tmp_path_factory.mktemp("kunnskap") / "atlas.duckdb"
    panel = DATA / "panel" / "kommuner_bosetting_2022-2024.xlsx"
    assert main(["--database", str(path), "import", str(panel)]) == 0
    return path


@pytest.fixture(scope="module")
def region_index(database: Path) -> KnowledgeIndex:
    return open_index(CONTENT, database, explicit_database=True)


def ids(result: SearchResult) -> list[str]:
    return [h.entry.id for h in result.hits]


# -- text analysis ---------------------------------------------------------------------
def test_fold_makes_norwegian_letters_and_their_ascii_spellings_meet() -> None:
    assert fold("Språkopplæring") == fold("spraakopplaering") == fold("sprakopplaering")
    assert fold("Bøker") == fold("boeker") == "boker"
    assert fold("Näringslivsuppropet") == fold("naeringslivsuppropet")
    assert fold("idé") == "ide"


def test_inflected_forms_share_a_term() -> None:
    an = Analyzer()
    assert an.term("innvandrer") == an.term("innvandrere") == an.term("innvandrerne")
    assert an.term("flyktning") == an.term("flyktningene")
    assert an.term("ungdom") == an.term("ungdommer")
    assert an.term("kommunene") == an.term("kommune")
    assert an.term("språkopplæringen") == an.term("spraakopplaering")


def test_markdown_is_stripped_for_snippets() -> None:
    assert markdown_to_text("## Tittel\n*Frøya* og [NAV](http://x) – **viktig**\n- punkt") == (
        "Tittel Frøya og NAV – viktig punkt")


def test_compound_query_is_split_against_the_vocabulary(index: KnowledgeIndex) -> None:
    # A compound that no entry contains splits into parts the index knows.
    groups = index.analyse_query("språkopplæringstilbud")
    assert groups[0].note == "sprakopplaering+tilbud"
    result = index.search("språkopplæringstilbud", limit=3)
    assert result.total > 0
    assert set(result.hits[0].matched_terms) >= {"sprakopplaering", "tilbud"}


def test_linking_s_is_handled_in_compounds(index: KnowledgeIndex) -> None:
    parts = index._split(fold("arbeidsinnvandrerkurs"))
    assert parts is not None and parts[0] == "arbeid"


def test_typos_are_tolerated_for_longer_words(index: KnowledgeIndex) -> None:
    assert index.analyse_query("bibliotk")[0].note == "~bibliotek"
    one = ids(index.search("folkebibliotket", limit=1))
    assert one == ["praksis-berg-folkebibliotek-inkluderingsnav"]
    # Two letters off: one missing, one swapped.
    assert index.analyse_query("arbeidsinvandrere")[0].note == "~arbeidsinnvandr"
    assert index.analyse_query("kvalifsiering")[0].note == "~kvalifisering"


def test_short_unknown_words_are_not_guessed(index: KnowledgeIndex) -> None:
    assert index.analyse_query("xqz")[0].note == "ukjent"
    assert index.search("xqzv").total == 0


# -- ranking, facets, filters, snippets -----------------------------------------------------
def test_title_match_outranks_body_only_match(index: KnowledgeIndex) -> None:
    result = index.search("mentorordning", limit=5)
    top = result.hits[0].entry
    assert "mentor" in fold(top.title)
    assert result.hits[0].score > result.hits[-1].score


def test_facets_count_the_hits_per_value(index: KnowledgeIndex) -> None:
    result = index.search("frivillighet", limit=100)
    by_type = {v.value: v.count for v in result.facets["type"]}
    expected: dict[str, int] = {}
    for h in result.hits:
        expected[h.entry.type] = expected.get(h.entry.type, 0) + 1
    assert by_type == expected
    assert sum(by_type.values()) == result.total
    labels = {v.value: v.label for v in result.facets["tema"]}
    assert labels["frivillighet"] == "Frivillighet og møteplasser"
    assert "fylke" not in result.facets and "sentralitet" not in result.facets


def test_filters_narrow_and_facets_stay_disjunctive(index: KnowledgeIndex) -> None:
    everything = index.search("innvandrere", limit=200)
    only = index.search("innvandrere", filters={"type": ["tilskudd"]}, limit=200)
    assert only.total == sum(1 for h in everything.hits if h.entry.type == "tilskudd") > 0
    assert {h.entry.type for h in only.hits} == {"tilskudd"}
    # The type facet still shows the other types' counts under the type filter.
    assert {v.value: v.count for v in only.facets["type"]} == {
        v.value: v.count for v in everything.facets["type"]}
    both = index.search("innvandrere", filters={"type": ["tilskudd"], "tema": ["frivillighet"]})
    assert all("frivillighet" in h.entry.themes for h in both.hits)
    assert both.total < only.total


def test_unknown_filter_value_is_a_user_error(index: KnowledgeIndex) -> None:
    from bliatlas.errors import UserError

    with pytest.raises(UserError, match="ukjent verdi 'jobb' for filteret 'tema'"):
        index.search("arbeid", filters={"tema": ["jobb"]})
    with pytest.raises(UserError, match="krever regionregisteret"):
        index.search("arbeid", filters={"sentralitet": ["5"]})


def test_snippet_highlights_matched_words_in_html_and_text(index: KnowledgeIndex) -> None:
    hit = index.search("fagbrev", limit=1).hits[0]
    assert "fagbrev" in (hit.entry.summary + hit.entry.body).lower()
    assert "<mark>fagbrev" in hit.snippet.html().lower()
    assert "**fagbrev" in hit.snippet.text().lower()
    assert "<mark>" not in hit.snippet.text()


def test_snippet_window_prefers_passages_with_more_query_words(index: KnowledgeIndex) -> None:
    entry = index.get("praksis-froya-fast-arbeid-norsk-og-bolig")
    doc = index.entries.index(entry)
    an = index.analyzer
    terms = {an.term("startlån"), an.term("barnehagedekning")}
    text = index.snippet(doc, terms).text().lower()
    # Both words occur within one window of the body, so the snippet shows both.
    assert "**startlån**" in text and "**barnehagedekning**" in text
    assert index.snippet(doc, {an.term("startlån")}).text().count("**startlån") >= 1


def test_cli_search_without_hits(capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BLI_DATABASE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["search", "xqzvy", "--innhold", str(CONTENT)]) == 0
    out = capsys.readouterr().out
    assert "– 0 treff" in out
    assert "Ingen treff. Prøv færre eller andre ord, eller fjern filtre." in out


def test_snippet_html_is_escaped(index: KnowledgeIndex) -> None:
    # No raw markup from content or query leaks into snippet HTML.
    html = index.search("<script> bolig", limit=3).hits[0].snippet.html()
    assert "<script>" not in html


def test_empty_query_lists_all_entries_sorted(index: KnowledgeIndex) -> None:
    result = index.search("", limit=1000)
    assert result.total == len(index.entries)
    types = [h.entry.type for h in result.hits]
    assert types == sorted(types, key=["praksis", "funn", "kunnskapsbehov", "rad", "tilskudd",
                                       "aktor", "plan", "nettverk"].index)


# -- with the region registry ------------------------------------------------------------
def test_region_facets_come_from_the_registry(region_index: KnowledgeIndex,
                                               database: Path) -> None:
    from bliatlas.store import open_store

    with open_store(database, read_only=True) as store:
        froya = store.query("SELECT county_code, centrality FROM region WHERE code = '5014'")[0]
    entry = region_index.get("praksis-froya-fast-arbeid-norsk-og-bolig")
    facet = region_index.facet_values[region_index.entries.index(entry)]
    assert facet["fylke"] == [froya["county_code"]]
    assert facet["sentralitet"] == [str(froya["centrality"])]
    result = region_index.search("", limit=1000)
    central = {v.value: v.count for v in result.facets["sentralitet"]}
    assert central[str(froya["centrality"])] >= 1
    fylker = {v.value: v.label for v in result.facets["fylke"]}
    assert fylker["50"] == "Trøndelag"


def test_centrality_filter_keeps_only_places_in_that_class(region_index: KnowledgeIndex) -> None:
    result = region_index.search("", filters={"sentralitet": ["5", "6"]}, limit=1000)
    assert result.total > 0
    for h in result.hits:
        classes = {region_index.regions[c].centrality for c in h.entry.municipality_codes}
        assert classes & {5, 6}


def test_content_place_codes_exist_in_registry(database: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", str(database), "kunnskap", "valider", "--innhold",
                 str(CONTENT)]) == 0
    assert "stedskoder kontrollert mot regionregisteret" in capsys.readouterr().out


# -- CLI ------------------------------------------------------------------------------------
def test_cli_search_prints_ranked_hits_with_snippets_and_facets(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.delenv("BLI_DATABASE", raising=False)
    monkeypatch.chdir(tmp_path)  # no default database here
    assert main(["search", "språkopplæring for arbeidsinnvandrere", "--limit", "3",
                 "--innhold", str(CONTENT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Søk: «språkopplæring for arbeidsinnvandrere» – ")
    assert "Tolket som: språkopplæring → sprakopplaering; arbeidsinnvandrere → " in out
    assert "\n 1. **" in out and "\n 3. **" in out and " 4. " not in out
    assert "**språkopplæring**" in out.lower() or "**arbeidsinnvandrere**" in out.lower()
    assert "Fasetter:\n  Type: " in out


def test_cli_search_json_and_filters(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BLI_DATABASE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["search", "arbeid", "--tema", "mentor", "--type", "praksis", "--json",
                 "--innhold", str(CONTENT)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == len(data["results"]) > 0
    assert all(r["type"] == "praksis" and "mentor" in r["themes"] for r in data["results"])
    assert "<mark>" in data["results"][0]["snippet_html"]


def test_cli_rejects_unknown_theme(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BLI_DATABASE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["search", "arbeid", "--tema", "jobb", "--innhold", str(CONTENT)]) == 2
    err = capsys.readouterr().err
    assert "bli: feil: ukjent verdi 'jobb' for filteret 'tema'; forventet ett av: arbeid" in err


def test_cli_show_prints_one_entry(capsys: pytest.CaptureFixture[str],
                                   database: Path) -> None:
    assert main(["--database", str(database), "kunnskap", "vis",
                 "praksis-froya-fast-arbeid-norsk-og-bolig", "--innhold", str(CONTENT)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "Frøya: fast arbeid, norsk på jobben og hjelp til bolig holder arbeidsinnvandrerne")
    assert "Steder: Frøya kommune (5014, sentralitet " in out
    assert "Kilder:\n  [1] Innvandring, inkludering, sysselsetting og lokal utvikling" in out
    assert "Evidens: Erfaringsbasert – " in out and "dokument 00" not in out


def test_cli_show_unknown_id(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             tmp_path: Path) -> None:
    monkeypatch.delenv("BLI_DATABASE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["kunnskap", "vis", "praksis-finnes-ikke", "--innhold", str(CONTENT)]) == 2
    assert "fant ingen kunnskapsoppføring med id 'praksis-finnes-ikke'" in capsys.readouterr().err


def test_cli_explicit_missing_database_is_an_error(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    missing = tmp_path / "nei.duckdb"
    assert main(["--database", str(missing), "search", "arbeid", "--innhold",
                 str(CONTENT)]) == 2
    assert "databasefilen finnes ikke" in capsys.readouterr().err


# -- API ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(region_index: KnowledgeIndex) -> TestClient:
    app = create_app()
    app.dependency_overrides[knowledge_api.get_index] = lambda: region_index
    return TestClient(app)


def test_api_search_returns_ranked_hits_facets_snippets(client: TestClient) -> None:
    r = client.get("/api/kunnskap/sok", params={"q": "frivilligsentral", "limit": 3})
    assert r.status_code == 200
    data = r.json()
    assert data["results"][0]["id"] == "praksis-heroy-frivilligsentral-nettverk"
    assert "<mark>" in data["results"][0]["snippet_html"]
    scores = [x["score"] for x in data["results"]]
    assert scores == sorted(scores, reverse=True)
    assert set(data["facets"]) == {"type", "tema", "malgruppe", "aktor", "fylke", "sentralitet",
                                   "evidens", "kostnad"}
    assert data["facets"]["tema"]["label"] == "Tema"
    assert SOURCE_NOTE in data["source"]


def test_api_search_filters(client: TestClient) -> None:
    r = client.get("/api/kunnskap/sok", params=[("q", "innvandrere"), ("type", "praksis"),
                                                 ("sentralitet", "6")])
    assert r.status_code == 200
    results = r.json()["results"]
    assert results and all(x["type"] == "praksis" for x in results)


def test_api_bad_parameters(client: TestClient) -> None:
    r = client.get("/api/kunnskap/sok", params={"q": "arbeid", "tema": "jobb"})
    assert r.status_code == 400
    assert "ukjent verdi 'jobb' for filteret 'tema'" in r.json()["error"]
    assert r.json()["source"] == SOURCE_NOTE
    r = client.get("/api/kunnskap/sok", params={"q": "arbeid", "limit": 0})
    assert r.status_code == 400
    assert r.json()["error"] == "parameteren 'limit': forventet et heltall fra 1 til 100, fant '0'"
    r = client.get("/api/kunnskap/sok")
    assert r.status_code == 400 and "parameteren 'q' mangler" in r.json()["error"]
    r = client.get("/api/kunnskap/sok", params={"q": "arbeid", "theme": "arbeid"})
    assert r.status_code == 400 and r.json()["error"].startswith("ukjent parameter 'theme'")
    assert client.get("/api/kunnskap", params={"limit": "mange"}).status_code == 400


def test_api_entry_detail_with_markdown_and_html(client: TestClient) -> None:
    r = client.get("/api/kunnskap/praksis-froya-fast-arbeid-norsk-og-bolig")
    assert r.status_code == 200
    data = r.json()
    assert data["body_markdown"].startswith("## Bakgrunn\n\nDa hjørnesteinsbedriften flagget ut")
    assert data["body_html"].startswith("<h2>Bakgrunn</h2>")
    # Source marks become links to the numbered sources; the markdown keeps them as written.
    assert "[1]" in data["body_markdown"] and "[1]" not in data["body_html"]
    assert '<sup class="kildemerke"><a href="#kilde-1">' in data["body_html"]
    assert data["sources"][0]["title"].startswith("Innvandring, inkludering")
    assert data["sources"][0]["year"] == 2019 and data["sources"][0]["document"] == (
        "temahefte-2019")
    assert data["evidence"]["level"] == "erfaringsbasert"
    assert data["places"][0]["name"] == "Frøya"
    assert data["themes"][0] == {"id": "arbeid", "label": "Arbeid og sysselsetting"}
    assert "source" in data


def test_api_unknown_entry_is_404(client: TestClient) -> None:
    r = client.get("/api/kunnskap/praksis-finnes-ikke")
    assert r.status_code == 404
    assert "praksis-finnes-ikke" in r.json()["error"]


def test_api_list_with_facets(client: TestClient, region_index: KnowledgeIndex) -> None:
    r = client.get("/api/kunnskap", params={"type": "tilskudd"})
    assert r.status_code == 200
    data = r.json()
    n_grants = sum(1 for e in region_index.entries if e.type == "tilskudd")
    assert data["total"] == len(data["results"]) == n_grants
    assert {v["value"]: v["count"] for v in data["facets"]["type"]["values"]}["tilskudd"] == (
        n_grants)
    assert "score" not in data["results"][0]


# -- places, nynorsk, recall, why ------------------------------------------------------------
def _about(index: KnowledgeIndex, entry, code: str) -> bool:
    region = index.regions[code]
    if region.level == "fylke":
        return code in entry.county_codes or any(
            index.regions[m].county_code == code for m in entry.municipality_codes)
    return code in entry.municipality_codes


def _registry_knows(database: Path, name: str, code: str) -> bool:
    from bliatlas.regions.registry import Registry
    from bliatlas.store import open_store

    with open_store(database, read_only=True) as store:
        return [r.code for r in Registry.from_store(store).search(name, limit=1)] == [code]


@pytest.mark.parametrize(("query", "code"), [
    ("Áltá", "5601"),        # Alta, Sami form
    ("Romsa", "55"),         # Troms, Sami form
    ("Tromssa", "55"),       # Troms, Kven form
    ("Snåase", "5041"),      # Snåsa, South Sami form
    ("Gáŋgaviika", "5626"),  # Gamvik, Sami form
])
def test_place_names_in_any_official_form_find_entries_about_the_place_first(
        region_index: KnowledgeIndex, database: Path, query: str, code: str) -> None:
    if not _registry_knows(database, query, code):
        pytest.xfail(f"regionregisteret kjenner ikke navneformen {query!r} ({code})")
    result = region_index.search(query, limit=5)
    assert result.hits, query
    top = result.hits[0]
    assert _about(region_index, top.entry, code), [h.entry.id for h in result.hits]
    # The hit says which place it is about, by name, and links the place page.
    assert "handler om" in top.why()
    assert any(p["url"] == f"/{'fylke' if len(code) == 2 else 'kommune'}/"
               f"{code if len(code) == 2 else top.entry.municipality_codes[0]}"
               for p in top.places)


def test_a_place_boosts_entries_about_it_and_its_county(region_index: KnowledgeIndex) -> None:
    plain = [h.entry.id for h in region_index.search("frivilligsentral", limit=50).hits]
    placed = region_index.search("frivilligsentral herøy", limit=50)
    assert placed.hits[0].entry.id == "praksis-heroy-frivilligsentral-nettverk"
    assert placed.total <= len(plain) + 10
    # A municipality's county counts too: Nordland entries follow those about Herøy itself.
    reasons = [h.why() for h in placed.hits[:6]]
    assert any("handler om Herøy" in r for r in reasons)


def test_a_nynorsk_query_finds_the_bokmal_entry(index: KnowledgeIndex) -> None:
    result = index.search("tilskot til etablerarkurs", limit=3)
    assert result.hits[0].entry.id == "tilskudd-etablereropplaering-innvandrere"
    assert "tilskot → nynorsk→tilskudd" in " ".join(result.interpretation)
    assert index.search("korleis busetje flyktningar i kommunane", limit=1).total > 0
    # The hit says which bokmål form the nynorsk word matched.
    assert "«tilskot» (som «tilskudd») i tittel" in result.hits[0].why()
    # A regular nynorsk verb form counts as a query word (tj → tt, bu- → bo-): the three-word
    # query needs both content words, so it finds far fewer entries than "flyktningar" alone.
    both = index.search("korleis busetje flyktningar", limit=1)
    assert "busetje → nynorsk→bosette" in " ".join(both.interpretation)
    assert 0 < both.total < index.search("flyktningar", limit=1).total / 3


def test_a_query_of_only_common_words_finds_nothing(index: KnowledgeIndex) -> None:
    for query in ("og", "hvordan", "korleis", "hva er det"):
        result = index.search(query, limit=5)
        assert result.total == 0, query
        assert result.interpretation == ["bare vanlige ord – skriv et mer bestemt ord"]
    # No words at all still lists the base.
    assert index.search("", limit=1).total == len(index.entries)


def test_multi_word_queries_do_not_return_most_of_the_base(index: KnowledgeIndex) -> None:
    n = len(index.entries)
    result = index.search("søkerkurs smaa kommuner", limit=n)
    assert result.hits[0].entry.id == "praksis-sokerkurs-for-sma-kommuner"
    assert result.total < n / 4
    for query in ("kollektivtransport for flyktninger", "mentorordning for kvinner",
                  "bibliotek som møteplass", "boligbygging gir arbeidsplasser"):
        assert index.search(query, limit=n).total <= n / 2, query
    # Very common words alone may match most of the base.
    assert index.search("innvandrere", limit=n).total > n / 2


def test_entries_matching_more_query_words_rank_first(index: KnowledgeIndex) -> None:
    result = index.search("norskkurs fagbrev verft", limit=10)
    counts = [len(h.reasons) for h in result.hits]
    assert counts[0] == max(counts)


def test_each_hit_says_which_words_matched_in_which_fields(index: KnowledgeIndex) -> None:
    hit = index.search("frivilligsentral mentor", limit=1).hits[0]
    data = hit.to_dict()
    words = {w["word"]: w["fields"] for w in data["why"]}
    assert set(words) == {"frivilligsentral", "mentor"}
    assert "tittel" in words["frivilligsentral"]
    assert data["why_text"].startswith("Treff: «frivilligsentral» i tittel")


def test_filters_on_evidence_level_and_cost(index: KnowledgeIndex) -> None:
    evaluated = index.search("", {"evidens": ["evaluert"]}, limit=100)
    assert evaluated.total >= 2
    assert {h.entry.evidence.level for h in evaluated.hits} == {"evaluert"}
    priced = index.search("", {"kostnad": ["belop_oppgitt"]}, limit=100)
    assert priced.total >= 2 and all(h.entry.amounts for h in priced.hits)
    facets = {v.value: v.count for v in index.search("", limit=1).facets["evidens"]}
    assert sum(facets.values()) == sum(1 for e in index.entries if e.type == "praksis")
    from bliatlas.errors import UserError
    with pytest.raises(UserError, match="ukjent verdi 'bevist' for filteret 'evidens'"):
        index.search("", {"evidens": ["bevist"]})


def test_named_organisations_find_their_actor_entry(index: KnowledgeIndex) -> None:
    for query, actor in (("husbanken", "aktor-husbanken"), ("Bufetat", "aktor-bufdir-bufetat"),
                         ("innovasjon norge", "aktor-innovasjon-norge")):
        assert index.search(query, limit=1).hits[0].entry.id == actor, query
