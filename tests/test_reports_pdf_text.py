"""What a council reads: the text of the PDFs `bli report` writes, full and short.

Each PDF is rendered once for the module (through the CLI) and read back with poppler's
``pdftotext``/``pdfinfo``. The text must not show the workshop (internal ids, hashes,
attribute names, API paths, hints that only work on a screen), the short report is at
most four A4 pages, and the figures the reports are about are there.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bliatlas.cli import main
from bliatlas.knowledge.vocab import DOCUMENTS
from bliatlas.reports.context import open_report_context
from bliatlas.reports.questions import RULES

REPORTS = {  # name: bli report arguments
    "gloppen": ["kommune", "4650"],
    "gloppen-kort": ["kommune", "4650", "--short"],
    "vestland": ["fylke", "46"],
    "vestland-kort": ["fylke", "46", "--short"],
    "nesseby-kort": ["kommune", "5636", "--short"],
    # with a comparison group chosen as on the municipality page (tests/test_peer_groups.py)
    "gloppen-gruppe": ["kommune", "4650", "--gruppe", "g_antall=8&g_samme_fylke=1"],
    "gloppen-gruppe-kort": ["kommune", "4650", "--short", "--gruppe",
                            "g_antall=8&g_samme_fylke=1"],
}
MONTHS = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
          "september", "oktober", "november", "desember")


def _pdf_text(path: Path) -> tuple[str, int, list[str]]:
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.fail("poppler-utils (pdfinfo/pdftotext) is not installed; run scripts/setup.sh")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text, pages, text.split("\f")


@pytest.fixture(scope="module")
def reports(imported_db, tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("pdf")
    found = {}
    for name, args in REPORTS.items():
        pdf = out / f"{name}.pdf"
        html = out / f"{name}.html"
        assert main(["--database", str(imported_db), "report", *args, "--out", str(pdf)]) == 0
        assert main(["--database", str(imported_db), "report", *args, "--out", str(html)]) == 0
        text, pages, per_page = _pdf_text(pdf)
        found[name] = {"text": text, "pages": pages, "per_page": per_page,
                       "flat": " ".join(text.split()), "html": html.read_text("utf-8")}
    return found


@pytest.fixture(scope="module")
def ctx(imported_db):
    return open_report_context(imported_db)


def _ids(ctx) -> list[str]:
    """Every internal name a reader must not meet: rule, indicator, dataset and entry ids."""
    ids = [r.id for r in RULES if "_" in r.id]
    ids += [i.id for i in ctx.cube.catalogue.indicators if "_" in i.id]
    ids += sorted({str(imp["dataset"]) for imp in ctx.cube.imports.values()})
    ids += [e.id for e in ctx.knowledge.entries]
    return ids


@pytest.mark.parametrize("name", list(REPORTS))
def test_no_workshop_in_the_pdf_text(reports, ctx, name):
    text = reports[name]["text"]
    flat = reports[name]["flat"]
    lowered = text.lower()
    for word in ("seed", "sha256", "sha-256", "musepeker", "html-utgaven", "/api/",
                 "uten år", "bli sync", "import-id"):
        assert word not in lowered, (name, word)
    assert not re.search(r"\bdata-[a-z]", text), name
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), f"{name}: an ISO date"
    for ident in _ids(ctx):
        # a whole token: not a part of a file name such as bofasthet_fylker.csv
        pattern = rf"(?<![\w-]){re.escape(ident)}(?![\w.-])"
        assert not re.search(pattern, flat), (name, ident)


@pytest.mark.parametrize("name", list(REPORTS))
def test_pages_and_closing_sources(reports, name):
    rep = reports[name]
    if name.endswith("-kort"):
        assert 2 <= rep["pages"] <= 4, (name, rep["pages"])
    else:
        assert rep["pages"] >= 10, (name, rep["pages"])
    # No near-empty page: every page but the last carries at least ten lines of text
    # (the running footer is one of them).
    filled = [len([ln for ln in page.splitlines() if ln.strip()])
              for page in rep["per_page"][:rep["pages"]]]
    assert all(n >= 10 for n in filled[:-1]), (name, filled)
    flat = rep["flat"]
    # «Kilder og metode» closes the report, after the questions for the plan.
    assert flat.rfind("Kilder og metode") > flat.rfind("Spørsmål til planarbeidet") > 0
    assert "Kilder og metode" in flat.split("Spørsmål til planarbeidet")[-1]
    # Dated in Norwegian (today in Norway, before or after midnight passes in the test).
    now = dt.datetime.now(ZoneInfo("Europe/Oslo"))
    days = {now.date(), (now - dt.timedelta(hours=1)).date()}
    assert any(f"{d.day}. {MONTHS[d.month - 1]} {d.year}" in flat.lower() for d in days)


@pytest.mark.parametrize("name", list(REPORTS))
def test_reference_list_cites_every_document_by_title(reports, name):
    flat = reports[name]["flat"]
    body, _, closing = flat.rpartition("Litteratur")
    assert closing, name
    references = closing.split("Datakilder")[0]
    cited = [d for d in DOCUMENTS.values() if d.title in body]
    # The report's structure follows the county evaluation; it is always cited.
    assert any(d.key == "fylkeskommunene-2025" for d in cited) or (
        "Kartlegging og analyse av fylkeskommunens praksis" in references)
    for doc in cited:
        assert f"{doc.publisher} ({doc.year}). {doc.title}" in references, (name, doc.key)
    assert "Kartlegging og analyse av fylkeskommunens praksis på inkluderings- og " \
           "integreringsfeltet" in references
    assert "ideas2evidence for Distriktssenteret (2025)" in references


@pytest.mark.parametrize("name", ["gloppen", "vestland"])
def test_every_chart_is_titled(reports, name):
    rep = reports[name]
    figures = re.findall(r'<figure class="chart" id="[^"]+">\s*<figcaption><span '
                         r'class="fig-title">Figur: ([^<]+)</span>', rep["html"])
    assert len(figures) == rep["html"].count('<figure class="chart"') >= 3
    assert rep["flat"].count("Figur: ") == len(figures)
    assert rep["html"].count('<figure class="map"') == 1
    assert "Kart: Bosatte flyktninger per 1 000 innbyggere i kommunene i Vestland" in rep["flat"]


@pytest.mark.parametrize("name", list(REPORTS))
def test_names_are_not_hyphenated(reports, ctx, name):
    code = REPORTS[name][1]
    county = code if len(code) == 2 else ctx.cube.group("kommune", code)["county_code"]
    names = {ctx.cube.group("kommune", m.code)["short_name"]
             for m in ctx.registry.municipalities_in(county)}
    names |= {"KOSTRA", ctx.cube.group("fylke", county)["short_name"]}
    text = reports[name]["text"]
    for word in names:
        for part in re.findall(r"\w{4,}", word):
            for i in range(2, len(part) - 1):
                broken = f"{part[:i]}[-\u2010\u00ad]\\s*{part[i:]}"
                assert not re.search(broken, text), (name, part, i)


def test_the_figures_are_there(reports, ctx):
    gloppen, short = reports["gloppen"]["flat"], reports["gloppen-kort"]["flat"]
    # Gloppen's population 1 January 2024 (the municipality panel: 5926).
    assert "Folkemengde 1. januar 2024 5 926" in gloppen
    assert "Gloppen hadde 5 926 innbyggere 1. januar 2024" in gloppen
    assert re.search(r"Folkemengde 1\. januar 2024 5 926 4 449", short)  # own, median
    # The question the decision below the request raises, with IMDi's figures for 2024.
    for flat in (gloppen, short):
        assert "Kommunen vedtok å bosette 50 flyktninger i 2024, mot 85 som IMDi anmodet om " \
               "(58,8 prosent)" in flat
    vestland, vshort = reports["vestland"]["flat"], reports["vestland-kort"]["flat"]
    for flat in (vestland, vshort):
        assert "651 299" in flat  # Vestland's population 1 January 2024
        assert "Vestland" in flat and "Kilder og metode" in flat
    # The county's short report lists, per rule, the municipalities it fires for: here the
    # municipalities whose latest decision was below IMDi's request.
    below = []
    for m in ctx.registry.municipalities_in("46"):
        shares = [c for c in ctx.cube.cells_for("kommune", m.code)
                  if c.indicator == "vedtak_andel_av_anmodning" and c.status == "ok"]
        if shares and max(shares, key=lambda c: c.year).value < 100:
            below.append(m.code)
    assert len(below) > 20
    row = reports["vestland-kort"]["html"].split('data-rule="vedtak_under_anmodning">')[1]
    assert row.startswith(f'<th scope="row">Vedtak under anmodningen</th><td class="n">'
                          f"{len(below)}</td>")
    assert "Vedtak under" in vshort and "Bergen, Etne" in vshort


def test_short_reports_have_their_four_parts(reports):
    for name in ("gloppen-kort", "vestland-kort", "nesseby-kort"):
        flat = reports[name]["flat"]
        positions = [flat.find(h) for h in ("Nøkkeltall", "Det som skiller seg ut",
                                            "Hva andre steder har gjort",
                                            "Spørsmål til planarbeidet", "Kilder og metode")]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), name


def _standouts(html: str) -> list[tuple[str, str]]:
    part = html.split('<ol class="standouts">')[1].split("</ol>")[0]
    return re.findall(r'<li data-indicator="([^"]+)">(.*?)</li>', part, re.DOTALL)


@pytest.mark.parametrize("name,level,code,group", [
    ("gloppen-kort", "kommune", "4650", "sentralitet"),
    ("nesseby-kort", "kommune", "5636", "sentralitet"),
    ("vestland-kort", "fylke", "46", "alle"),
])
def test_what_stands_out_is_computed_from_published_figures(reports, ctx, name, level,
                                                             code, group):
    found = _standouts(reports[name]["html"])
    assert 3 <= len(found) <= 5, found
    topics = [ctx.cube.catalogue.get(ind).topic for ind, _ in found]
    assert len(set(topics)) == len(topics), "at most one per topic"
    distances = []
    for ind, item in found:
        cells = [c for c in ctx.cube.cells_for(level, code)
                 if c.indicator == ind and c.status != "missing"]
        latest = max(cells, key=lambda c: c.year)
        assert latest.status == "ok", (ind, latest.status)  # never a suppressed value
        peer = ctx.cube.rows(
            "SELECT rank, n, percentile, median FROM peers WHERE indicator = ? AND code = ? "
            "AND year = ? AND peer_group = ?", [ind, code, latest.year, group])
        assert len(peer) == 1, (ind, peer)
        p = peer[0]
        assert f"nr. {p['rank']} av {p['n']}" in item
        assert f"i {latest.year}" in item
        higher = latest.value > p["median"]
        assert ("høyere enn medianen" if higher else "lavere enn medianen") in item
        distances.append(abs(p["percentile"] - 50))
    assert distances == sorted(distances, reverse=True)
    assert distances[0] >= 25


def test_the_comparison_group_is_in_both_reports(reports, client):
    """`--gruppe` puts the group's definition, its members (as the API lists them) and the
    group median with the rank beside the other comparisons in the full and short PDF."""
    api = client.get("/api/sammenligningsgruppe/4650",
                     params={"g_antall": 8, "g_samme_fylke": 1,
                             "indikator": "bosatte_flyktninger"}).json()
    names = [m["navn"] for m in api["medlemmer"]]
    comp = api["sammenligning"]
    for name in ("gloppen-gruppe", "gloppen-gruppe-kort"):
        flat = reports[name]["flat"]
        assert "de 8 mest like kommunene etter sentralitet (vekt 1), folketall (vekt 1), " \
               "innvandrerandel (vekt 1); samme fylke" in flat, name
        assert all(n in flat for n in names), name
        html = reports[name]["html"].replace("\u00ad", "").replace("&shy;", "")
        assert '<th scope="col" class="n">Median i sammenligningsgruppen (8 kommuner)</th>' \
            in html, name
        assert "(8 kommuner)" in flat, name
        assert f"nr. {comp['rank']} av {comp['n']}" in flat, name
        assert "ikke noe samlet tall" in flat, name
    full = reports["gloppen-gruppe"]["flat"]
    for m in api["medlemmer"]:  # why each is alike, in the full report's member table
        assert " ".join(f"{m['navn']} {m['hvorfor_lik']}".split()) in full
    assert "Sammenligningsgruppe" not in reports["gloppen"]["flat"]
