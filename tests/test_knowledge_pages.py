"""The knowledge base as users meet it in the atlas: entry pages with sources by title and
an evidence table, actor pages linking practices and schemes, search that names places,
the municipality page's list of needs and practices its figures point to, and one index
shared by the pages and the API."""

from __future__ import annotations

import asyncio
import re

import pytest

from bliatlas.knowledge import api as knowledge_api
from bliatlas.knowledge.pointers import municipality_pointers
from bliatlas.render import context as web_context

FROYA = "5014"


def _text(html: str) -> str:
    return html.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


def test_practice_page_shows_evidence_table_and_sources_by_title(client) -> None:
    r = client.get("/kunnskap/praksis-haram-sprakkurs-og-fagbrev")
    assert r.status_code == 200
    html = _text(r.text)
    for label in ("Evidensnivå", "Hva kilden sier", "Størrelse", "Samarbeidspartnere",
                  "Hva det krever", "Kostnad", "Finansiering", "Kontakt", "Nettadresse",
                  "Status"):
        assert f'<th scope="row">{label}</th>' in html, label
    assert "<strong>Erfaringsbasert</strong>" in html
    assert "200.000 kroner" in html
    # Sources by title, publisher and year, each mark a link to its numbered source.
    assert ('<li id="kilde-1">Innvandring, inkludering, sysselsetting og lokal utvikling. '
            'Temahefte, revidert utgave (Distriktssenteret og IMDi, 2019)') in html
    assert 'href="#kilde-1"' in html and "[1]" not in html
    assert "<span class=\"vurdering\">(Bli-atlas' vurdering)</span>" in html
    assert not re.search(r"dokument 00\d|seed|00[0-4]_[0-9a-f]", re.sub(r"<[^>]+>", " ", html))


def test_practice_page_links_the_web_address_the_source_gives(client) -> None:
    html = client.get("/kunnskap/praksis-berg-folkebibliotek-inkluderingsnav").text
    assert '<a href="https://vimeo.com/distriktssenteret/berg">' in html


def test_grant_scheme_page_says_what_the_source_gives_and_what_it_does_not(client) -> None:
    html = _text(client.get("/kunnskap/tilskudd-agder-frivillighet-inkludering").text)
    for label in ("Forvaltes av", "Hvem kan søke", "Beløp", "Frist eller syklus", "Lenke"):
        assert f'<th scope="row">{label}</th>' in html, label
    assert "Totalt 22 millioner for perioden 2024–2027." in html
    assert "<td>ikke oppgitt i kilden</td>" in html


def test_actor_page_links_the_practices_and_schemes_where_it_appears(client) -> None:
    data = client.get("/api/kunnskap/aktor-husbanken").json()
    linked = [x["id"] for x in data["appears_in"]]
    assert "praksis-tranoy-boligbygging-entreprenor" in linked
    kinds = [x["type"] for x in data["appears_in"]]
    assert kinds == sorted(kinds, key=lambda t: {"praksis": 0, "tilskudd": 1}.get(t, 2))
    html = client.get("/kunnskap/aktor-husbanken").text
    assert "Nevnt i praksiser, ordninger og andre oppføringer" in html
    assert 'href="/kunnskap/praksis-tranoy-boligbygging-entreprenor"' in html
    for actor in ("aktor-bufdir-bufetat", "aktor-innovasjon-norge", "aktor-kdd",
                  "aktor-karrieresentre", "aktor-opplaeringskontor"):
        assert client.get(f"/api/kunnskap/{actor}").json()["appears_in"], actor


def test_knowledge_need_page_names_its_indicators(client) -> None:
    html = _text(client.get("/kunnskap/kunnskapsbehov-arbeidsinnvandrere-som-buffer").text)
    assert 'href="/?i=arbeidsinnvandrere_per_1000"' in html
    assert "Arbeidsinnvandrere per 1 000 innbyggere" in html
    html = _text(client.get("/kunnskap/kunnskapsbehov-eldre-innvandrere").text)
    assert "Atlaset har ikke tall for innvandrere etter alder ennå." in html


def test_search_page_shows_why_a_hit_matched_and_places_by_name(client) -> None:
    html = _text(client.get("/kunnskap", params={"q": "kultursenter alta"}).text)
    first = html[html.index('<ul class="entries">'):]
    assert first.index("praksis-alta-sisa-flerkulturell-moteplass") < first.index("</li>")
    assert 'Sted: <a href="/kommune/5601">Alta</a>' in first
    assert "Treff: «kultursenter» i tittel" in first
    r = client.get("/api/kunnskap/sok", params={"q": "Tromssa"}).json()
    assert r["results"] and all("Troms" in x["why_text"] for x in r["results"][:3])


def test_a_query_of_only_common_words_says_so_instead_of_listing_everything(client) -> None:
    html = _text(client.get("/kunnskap", params={"q": "og"}).text)
    assert "<h2>0 oppføringer</h2>" in html
    assert "Slik ble søket lest: bare vanlige ord – skriv et mer bestemt ord." in html
    html = _text(client.get("/sok", params={"q": "og"}).text)
    assert "passer med «og» (bare vanlige ord – skriv et mer bestemt ord)." in html


def test_api_filters_on_evidence_level_and_cost(client) -> None:
    r = client.get("/api/kunnskap", params={"evidens": "evaluert"}).json()
    assert r["total"] >= 2
    assert {x["type"] for x in r["results"]} == {"praksis"}
    assert client.get("/api/kunnskap", params={"kostnad": "dyrt"}).status_code == 400


def test_municipality_page_lists_needs_and_practices_its_figures_point_to(client) -> None:
    ctx = web_context.get_context()
    from bliatlas.indicators.profile import build_profile

    profile = {i["id"]: i for i in build_profile(ctx.cube, FROYA)["indikatorer"]}
    pointers = municipality_pointers(ctx.knowledge(), ctx.cube, ctx.place_facts(), FROYA)
    needs = [p for p in pointers if p.kind == "kunnskapsbehov"]
    assert needs and any(p.kind == "praksis" for p in pointers)
    for p in needs:
        item = profile[p.indicator]
        link = next(i for i in p.entry.indicators if i.id == p.indicator)
        peer = item["jevnforing"]["alle"]
        # The figure is the profile's, and it lies in the quarter the need names.
        assert p.value_text == item["verdi_tekst"] and item["status"] == "ok"
        top = peer["rang"] <= peer["antall"] / 4
        bottom = peer["rang"] > peer["antall"] * 3 / 4
        lower_better = item["retning"] == "lower_better"
        high = bottom if lower_better else top
        low = top if lower_better else bottom
        assert high if link.when == "hoy" else low, (p.entry.id, p.indicator)
    # Frøya's labour immigrants are among the highest shares in the country.
    assert "kunnskapsbehov-arbeidsinnvandrere-i-distriktsarbeidsmarkedet" in [
        p.entry.id for p in needs]
    html = _text(client.get(f"/kommune/{FROYA}").text)
    block = html[html.index('id="h-tallene-peker"'):]
    block = block[:block.index("</ul>")]
    for p in pointers:
        assert f'href="/kunnskap/{p.entry.id}"' in block
        assert p.reason in block


def test_pages_and_api_share_one_knowledge_index(client) -> None:
    assert client.get("/api/kunnskap/sok", params={"q": "bolig"}).status_code == 200
    assert client.get("/kunnskap", params={"q": "bolig"}).status_code == 200
    api_index = asyncio.run(knowledge_api.get_index())
    assert api_index is web_context.get_context().knowledge()


@pytest.mark.parametrize("path", ["/kunnskap/praksis-froya-fast-arbeid-norsk-og-bolig",
                                  "/api/kunnskap/praksis-froya-fast-arbeid-norsk-og-bolig"])
def test_no_page_shows_source_file_numbers(client, path: str) -> None:
    body = client.get(path).text
    assert '"document": "001"' not in body and "dokument 001" not in body


def test_the_knowledge_index_is_built_once_per_process(client, monkeypatch) -> None:
    """Issue 16: the API, the knowledge pages and the municipality page's recommendations
    share one index; after a reset it is built exactly once more."""
    from bliatlas.knowledge import base

    built: list[object] = []
    real_open = base.open_index

    def counting_open(*args, **kwargs):
        index = real_open(*args, **kwargs)
        built.append(index)
        return index

    monkeypatch.setattr(base, "open_index", counting_open)
    web_context.reset_context()
    assert client.get("/api/kunnskap/sok", params={"q": "språkpraksis"}).status_code == 200
    assert client.get("/kunnskap", params={"q": "bolig"}).status_code == 200
    assert client.get("/kommune/4650").status_code == 200
    assert client.get("/api/kunnskap/aktor-husbanken").status_code == 200
    assert len(built) == 1
    assert web_context.get_context().knowledge() is built[0] is base.shared_index()
