"""Recommendations: practices from the municipality itself and from places like it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bliatlas.api.app import create_app
from bliatlas.cli import main
from bliatlas.format import fmt_int
from bliatlas.indicators.engine import Cube, build_cube
from bliatlas.knowledge import api as knowledge_api
from bliatlas.knowledge.base import open_index, place_facts_from_database
from bliatlas.knowledge.recommend import (
    INDICATOR_THEMES,
    PlaceFacts,
    practices_for_weaknesses,
    similar_place_practices,
    weaknesses,
)
from bliatlas.knowledge.search import KnowledgeIndex
from bliatlas.store import open_store

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
PANEL = REPO.parent / "shared" / "data" / "panel" / "kommuner_bosetting_2022-2024.xlsx"
GLOPPEN = "4650"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("anbefal") / "atlas.duckdb"
    assert main(["--database", str(path), "import", str(PANEL)]) == 0
    return path


@pytest.fixture(scope="module")
def index(database: Path) -> KnowledgeIndex:
    return open_index(CONTENT, database, explicit_database=True)


@pytest.fixture(scope="module")
def facts(database: Path) -> dict[str, PlaceFacts]:
    return place_facts_from_database(database, explicit=True)


@pytest.fixture(scope="module")
def cube(database: Path) -> Cube:
    with open_store(database, read_only=True) as store:
        return build_cube(store)


def _stored(database: Path, code: str) -> dict:
    with open_store(database, read_only=True) as store:
        return store.query(
            "SELECT r.short_name, r.centrality, o.value, o.year FROM region r "
            "JOIN observation o ON o.region_code = r.code AND o.measure = 'folkemengde' "
            "AND o.dims = '' AND o.status = 'ok' WHERE r.code = ? ORDER BY o.year DESC LIMIT 1",
            [code])[0]


def test_facts_are_the_stored_latest_population_and_centrality(database: Path,
                                                              facts: dict) -> None:
    row = _stored(database, GLOPPEN)
    g = facts[GLOPPEN]
    assert (g.name, g.centrality, g.population, g.population_year) == (
        row["short_name"], row["centrality"], row["value"], row["year"])
    assert len(facts) == 357


def test_own_practice_first_then_most_similar(index: KnowledgeIndex, facts: dict,
                                             database: Path) -> None:
    recs = similar_place_practices(index, facts, GLOPPEN, limit=6)
    assert recs[0].entry.id == "praksis-gloppen-helsefag-praksis-for-teori"
    assert recs[0].basis == "egen kommune"
    g = facts[GLOPPEN]
    others = [r for r in recs if r.basis == "lignende kommune"]
    assert others
    for r in others:
        p = r.place
        expected = 1 / (1 + abs(g.centrality - p.centrality)) + 1 / (
            1 + abs(math.log(g.population / p.population)))
        assert r.score == pytest.approx(expected)
        assert p.code in r.entry.municipality_codes and p.code != GLOPPEN
    assert [r.score for r in others] == sorted((r.score for r in others), reverse=True)
    # No practice left out scores higher than the last one shown.
    shown = {r.entry.id for r in recs}
    last = others[-1].score
    for e in index.entries:
        if e.type == "praksis" and e.id not in shown:
            for code in e.municipality_codes:
                if code in facts and code != GLOPPEN:
                    p = facts[code]
                    s = 1 / (1 + abs(g.centrality - p.centrality)) + 1 / (
                        1 + abs(math.log(g.population / p.population)))
                    assert s <= last + 1e-12, (e.id, s, last)


def test_reason_is_built_from_stored_values(index: KnowledgeIndex, facts: dict,
                                            database: Path) -> None:
    recs = similar_place_practices(index, facts, GLOPPEN, limit=6)
    g = _stored(database, GLOPPEN)
    own = recs[0].reason
    assert own.startswith(f"Fra Gloppen (sentralitet {g['centrality']}, "
                          f"{fmt_int(g['value'])} innbyggere {g['year']}) selv: ")
    assert "80 prosent" in own  # the practice's first reported result
    r = next(r for r in recs if r.basis == "lignende kommune")
    p = _stored(database, r.place.code)
    assert r.reason.startswith(f"{p['short_name']} (sentralitet {p['centrality']}, "
                               f"{fmt_int(p['value'])} innbyggere {p['year']}) – ")
    if p["centrality"] == g["centrality"]:
        assert f"samme sentralitetsklasse som Gloppen ({g['centrality']})" in r.reason


def test_bad_codes(index: KnowledgeIndex, facts: dict) -> None:
    from bliatlas.errors import InputError, NotFound, UserError

    with pytest.raises(NotFound, match="'9999' finnes ikke"):
        similar_place_practices(index, facts, "9999")
    with pytest.raises(InputError, match="forventet et firesifret kommunenummer, fant '46'"):
        similar_place_practices(index, facts, "46")
    with pytest.raises(UserError, match="krever databasen"):
        similar_place_practices(index, {}, GLOPPEN)


def test_cli_recommend(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", str(database), "kunnskap", "anbefal", GLOPPEN, "--limit", "3",
                 "--innhold", str(CONTENT)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Praksiser fra steder som ligner på Gloppen (sentralitet ")
    assert out[1] == (" 1. Gloppen: helsefagutdanning for flyktninger med praksis før teori "
                      "(praksis-gloppen-helsefag-praksis-for-teori)")
    similar = out[:out.index("")]
    assert sum(1 for line in similar if line[:3].strip().rstrip(".").isdigit()) == 3
    assert out[out.index("") + 1] == ("Praksiser for der kommunen ligger svakest mot kommuner i "
                                      "samme sentralitetsklasse:")
    assert main(["--database", str(database), "kunnskap", "anbefal", GLOPPEN, "--json",
                 "--innhold", str(CONTENT)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kommune"]["code"] == GLOPPEN and len(data["results"]) == 5
    assert all(x["weakness"]["percentile"] < 50 for x in data["weakest"])


VESTVAGOY = "1860"


def test_weaknesses_are_the_lowest_peer_ranks_from_the_indicator_engine(cube: Cube) -> None:
    found = weaknesses(cube, VESTVAGOY, limit=3)
    assert found
    directions = {i.id: (i.direction, i.topic) for i in cube.catalogue.indicators}
    peers = {(r["indicator"], r["year"]): r for r in cube.peers_for(VESTVAGOY)
             if r["peer_group"] == "sentralitet"}
    for w in found:
        row = peers[(w.indicator, w.year)]
        assert (w.rank, w.n, w.percentile) == (row["rank"], row["n"], row["percentile"])
        assert w.percentile < 50
        direction, topic = directions[w.indicator]
        assert direction != "neutral"
        assert w.indicator in INDICATOR_THEMES or topic in INDICATOR_THEMES
    assert [w.percentile for w in found] == sorted(w.percentile for w in found)


def test_practices_for_weaknesses_share_themes_and_cite_the_values(
        index: KnowledgeIndex, cube: Cube, facts: dict) -> None:
    recs = practices_for_weaknesses(index, cube, facts, VESTVAGOY)
    assert recs
    assert len({r.entry.id for r in recs}) == len(recs)
    for r in recs:
        assert set(r.entry.themes) & set(r.weakness.themes)
        assert r.reason.startswith(f"Vestvågøy ligger lavt på «{r.weakness.name}» "
                                   f"{r.weakness.value_text} i {r.weakness.year}, rang "
                                   f"{r.weakness.rank} av {r.weakness.n} i sentralitetsklasse "
                                   f"{facts[VESTVAGOY].centrality}")


def test_api_recommend(index: KnowledgeIndex, facts: dict, cube: Cube) -> None:
    app = create_app()
    app.dependency_overrides[knowledge_api.get_index] = lambda: index
    app.dependency_overrides[knowledge_api.get_place_facts] = lambda: facts
    app.dependency_overrides[knowledge_api.get_indicator_cube] = lambda: cube
    client = TestClient(app)
    r = client.get(f"/api/kunnskap/anbefalinger/{GLOPPEN}", params={"limit": 2})
    assert r.status_code == 200
    data = r.json()
    assert data["results"][0]["id"] == "praksis-gloppen-helsefag-praksis-for-teori"
    assert len(data["results"]) == 2 and "source" in data
    weakest = practices_for_weaknesses(index, cube, facts, GLOPPEN)
    assert [x["id"] for x in data["weakest"]] == [w.entry.id for w in weakest]
    assert client.get("/api/kunnskap/anbefalinger/9999").status_code == 404
    assert client.get("/api/kunnskap/anbefalinger/46").status_code == 400
    r = client.get(f"/api/kunnskap/anbefalinger/{GLOPPEN}?limit=0")
    assert r.status_code == 400
    assert r.json()["error"] == "parameteren 'limit': forventet et heltall fra 1 til 50, fant '0'"
