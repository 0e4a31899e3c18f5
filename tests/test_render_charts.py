"""Charts people can read (issue 12, item 2), through the pages and the functions they draw
with, on the real data: nice tick numbers on every municipality's charts, suppressed and
missing values named in the legend, distinct bar labels, map classes that do not overlap,
and every chart downloadable as SVG and CSV with suppressed values kept suppressed.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from itertools import pairwise

import pytest

from bliatlas.indicators.profile import build_profile
from bliatlas.render import context as render_context
from bliatlas.render.charts import nice_axis
from bliatlas.web import views

SVG = "{http://www.w3.org/2000/svg}"


def parse_nb(text: str) -> Decimal:
    """A Norwegian number as written on a chart: '1 000', '0,5', '−2'."""
    return Decimal(text.replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
                   .replace(",", "."))


def assert_nice(labels: list[str], where: str) -> None:
    """Ticks are evenly spaced by 1, 2 or 5 × 10^k, each a whole multiple of the step,
    written with exactly the decimals the step needs."""
    assert len(labels) >= 2, f"{where}: {labels}"
    values = [parse_nb(t) for t in labels]
    step = values[1] - values[0]
    assert step > 0, f"{where}: {labels}"
    assert all(b - a == step for a, b in pairwise(values)), f"{where}: {labels}"
    mantissa, exponent = step.normalize().as_tuple().digits, step.normalize().as_tuple().exponent
    assert len(mantissa) == 1 and mantissa[0] in (1, 2, 5), f"{where}: step {step} {labels}"
    assert all((v / step) == (v / step).to_integral_value() for v in values), f"{where}: {labels}"
    decimals = max(0, -exponent)
    for t in labels:
        written = len(t.split(",")[1]) if "," in t else 0
        assert written == decimals, f"{where}: {t!r} in {labels} (step {step})"


def tick_labels(svg: str) -> list[str]:
    root = ET.fromstring(str(svg))
    return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]


def test_nice_axis_steps_by_hand():
    # 1,423 / 4 intervals = 0,356 → the next nice step is 0,5 (√10 ≤ 3,56 < √50)
    assert nice_axis(0, 1.423).labels() == ["0,0", "0,5", "1,0", "1,5"]
    # 712 / 4 = 178 → 200; the axis ends on a whole step above 712
    assert nice_axis(0, 712).labels() == ["0", "200", "400", "600", "800"]
    # a negative minimum extends down to a whole step too
    assert nice_axis(-3.2, 5.1).labels() == ["−4", "−2", "0", "2", "4", "6"]
    assert nice_axis(0, 23456).labels()[-1] == "25 000"


def test_every_tick_on_every_municipality_chart_is_a_nice_number(client):
    """All 357 municipalities: the time-series charts the page draws
    (``views.series_charts``, the function ``/kommune/{code}`` uses) have nice ticks that
    cover the plotted values, and the axis ends less than two steps above the largest."""
    client.get("/")
    ctx = render_context.get_context()
    codes = sorted(ctx.registry.municipalities)
    assert len(codes) == 357
    n_charts = 0
    for code in codes:
        region = ctx.registry.get(code)
        profile = build_profile(ctx.cube, code)
        items = {it["id"]: it for it in profile["indikatorer"]}
        for chart in views.series_charts(ctx, region, items):
            labels = tick_labels(chart["svg"])
            where = f"{code} {chart['indicator'].id}"
            assert_nice(labels, where)
            ticks = [parse_nb(t) for t in labels]
            shown = [Decimal(repr(v)) for row in chart["data"] for v in row[1:4]
                     if v is not None]
            assert ticks[0] <= min([Decimal(0), *shown]), where
            assert max(shown) <= ticks[-1], where
            # d3's nice() may widen the step once (−6,5…4,9: step 2 gives −8…6, whose
            # own step is 5: −10…10), so the axis ends less than two steps above the top
            if max(shown) > 0:
                assert ticks[-1] < max(shown) + 2 * (ticks[1] - ticks[0]), where
            assert 3 <= len(ticks) <= 11, where
            n_charts += 1
    assert n_charts > 357 * 5
    # The page shows those charts: Oslo's settled refugees per 1 000 (issue 12's example).
    page = client.get("/kommune/0301").text
    svg = re.search(r'<svg class="chart" id="serie-2".*?</svg>', page, re.DOTALL).group(0)
    assert "Bosatte flyktninger per 1 000" in svg
    assert_nice(tick_labels(svg), "Oslo on the page")


def bar_groups(svg: str) -> list[tuple[str, str]]:
    """(label as drawn, full <title>) of each bar of a bar chart."""
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "bar":
            drawn = " ".join(t.text for t in g.iter(f"{SVG}text") if t.get("class") == "label")
            out.append((drawn, g.find(f"{SVG}title").text))
    return out


def legend_texts(svg: str) -> str:
    root = ET.fromstring(svg)
    return " ".join(t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend-key"
                    for t in g.iter(f"{SVG}text"))


def test_nesseby_grants_chart_names_suppressed_values_and_keeps_its_size(client, imported_db):
    from bliatlas.store import open_store

    store = open_store(imported_db, read_only=True)
    try:
        rows = store.query(
            "SELECT dims, status FROM observation WHERE dataset = 'imdi_tilskudd' "
            "AND measure = 'tilskudd' AND region_code = '5636' AND year = (SELECT max(year) "
            "FROM observation WHERE dataset = 'imdi_tilskudd' AND region_code = '5636' "
            "AND status <> 'missing') AND status <> 'missing' AND dims <> 'tilskuddstype=Totalt'")
    finally:
        store.close()
    suppressed = {r["dims"].split("=", 1)[1] for r in rows if r["status"] == "suppressed"}
    assert suppressed, "Nesseby has suppressed grant types in the data"
    page = client.get("/kommune/5636").text
    svg = re.search(r'<svg class="chart" id="tilskudd".*?</svg>', page, re.DOTALL).group(0)
    root = ET.fromstring(svg)
    assert root.get("viewBox").split()[2] == "400"  # the chart's full width, not a thumbnail
    bars = bar_groups(svg)
    assert len(bars) == len(rows)
    for drawn, title in bars:
        kind = title.rsplit(": ", 1)[0]
        if kind in suppressed:
            assert title.endswith(": skjermet"), title
    assert "Skjermet: færre enn 5" in legend_texts(svg)
    # labels as drawn are distinct whenever the full names are
    drawn = [d for d, _ in bars]
    assert len(set(drawn)) == len({t for _, t in bars}) == len(bars)
    # the downloaded numbers keep the suppression: no value, status and text say so
    text = client.get("/kommune/5636/figur/tilskudd.csv").content.decode("utf-8-sig")
    reader = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert reader[0][:3] == ["figur", "rad", "verdi"]
    by_type = {r[1]: r for r in reader[1:] if len(r) > 5}
    for kind in suppressed:
        assert by_type[kind][2] == "" and by_type[kind][5] == "suppressed"
        assert by_type[kind][6] == "skjermet"


def test_long_grant_labels_are_distinct_on_every_municipality_page(client):
    """Two grant types share their first 34 characters ("Tilskudd til opplæring i norsk
    og…"); drawn labels must still differ, with the full name in the bar's title."""
    ctx = render_context.get_context()
    clashes = []
    checked = 0
    for code in sorted(ctx.registry.municipalities):
        g = views.grants(ctx, code)
        if g is None or g["svg"] is None:
            continue
        bars = bar_groups(str(g["svg"]))
        titles = [t.rsplit(": ", 1)[0] for _, t in bars]
        assert titles == [i["type"] for i in g["items"]]
        drawn = [d for d, _ in bars]
        if len(set(drawn)) != len(set(titles)):
            clashes.append(code)
        checked += 1
    assert checked > 300 and clashes == []


def test_series_legend_names_suppressed_points(client):
    """A series with a suppressed year draws a ring and says what the ring means."""
    ctx = render_context.get_context()
    for code in sorted(ctx.registry.municipalities):
        profile = build_profile(ctx.cube, code)
        items = {it["id"]: it for it in profile["indikatorer"]}
        for chart in views.series_charts(ctx, ctx.registry.get(code), items):
            statuses = {row[4] for row in chart["data"]}
            legend = legend_texts(str(chart["svg"]))
            assert ("suppressed" in statuses) == ("skjermet" in legend), (code, chart["id"])
            if "suppressed" in statuses:
                return
    pytest.fail("no municipality chart with a suppressed year in the data")


@pytest.mark.parametrize("query", [
    {}, {"i": "tilskudd_per_innbygger", "ar": "2024"}, {"niva": "fylke", "i": "bosatte_per_1000"},
    {"i": "innvandrere_flukt_andel"},
])
def test_map_legend_classes_do_not_overlap_at_the_breaks(client, query):
    page = client.get("/", params=query).text
    legend = re.search(r'<div class="legend">.*?</div>', page, re.DOTALL).group(0)
    labels = re.findall(r"</svg>([^<(]+?) <span class=\"count\">", legend)
    bounds = []
    for label in labels:
        if label.startswith(("Skjermet", "Usikker", "Mangler")):
            continue
        parts = label.strip().split("–")
        lo, hi = parse_nb(parts[0]), parse_nb(parts[-1])
        assert lo <= hi, label
        bounds.append((lo, hi))
    assert len(bounds) >= 2, labels
    for (lo1, hi1), (lo2, hi2) in pairwise(bounds):
        assert hi1 < lo2, f"{labels}: {hi1} and {lo2} overlap"


def test_every_chart_downloads_as_titled_svg_and_csv(client):
    page = client.get("/kommune/4650").text
    links = re.findall(r'href="(/kommune/4650/figur/[^"]+\.svg)"', page)
    charts = re.findall(r'<svg class="chart" id="([^"]+)"', page)
    assert sorted(link.rsplit("/", 1)[1][:-4] for link in links) == sorted(charts)
    for link in links:
        r = client.get(link)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(r.content)
        visible = [t.text for t in root if t.tag == f"{SVG}text"]
        assert visible and "Gloppen" in " ".join(visible), link  # the title is written
        assert "Kilde:" in " ".join(visible)
        assert root.find(f"{SVG}g/{SVG}svg") is not None
        c = client.get(link[:-4] + ".csv")
        assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    assert client.get("/kommune/4650/figur/ukjent.svg").status_code == 404
    assert client.get("/kommune/4650/figur/trakt.gif").status_code == 422
    assert client.get("/kommune/46/figur/trakt.svg").status_code == 404


def test_compare_page_has_one_time_series_with_a_line_per_place(client):
    page = client.get("/sammenlign", params={"k": ["4650", "4602", "1826"],
                                             "i": ["bosatte_per_1000"]}).text
    svg = re.search(r'<svg class="chart" id="utv-0".*?</svg>', page, re.DOTALL).group(0)
    root = ET.fromstring(svg)
    assert len([p for p in root.iter(f"{SVG}polyline")]) >= 3
    assert ["Gloppen", "Kinn", "Hattfjelldal"] == [
        t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend-key"
        for t in g.iter(f"{SVG}text")][:3]
    assert_nice(tick_labels(svg), "compare")
    link = re.search(r'href="(/sammenlign/figur/utv-0\.csv[^"]*)"', page).group(1)
    text = client.get(link.replace("&amp;", "&")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    places = {r[1].rsplit(" ", 1)[0] for r in rows[1:] if len(r) > 5}
    assert places == {"Gloppen", "Kinn", "Hattfjelldal"}


def test_the_map_downloads_as_svg_with_its_legend_and_the_numbers_behind_it(client):
    """/kart offers its map as SVG (legend drawn in, suppressed regions hatched and
    counted) and its numbers as CSV, for the same filters; the numbers are the API's."""
    page = client.get("/kart", params={"i": "enslige_mindreaarige", "niva": "kommune",
                                       "fylke": "56"}).text
    svg_link = re.search(r'href="(/kart/figur/kart\.svg\?[^"]+)"', page).group(1)
    svg_link = svg_link.replace("&amp;", "&")
    assert "fylke=56" in svg_link and "i=enslige_mindreaarige" in svg_link
    r = client.get(svg_link)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Enslige mindreårige flyktninger bosatt" in text and "Finnmark" in text
    assert "Tegnforklaring (personer)" in text and "Kilde:" in text
    api = client.get("/api/data/enslige_mindreaarige",
                     params={"niva": "kommune", "ar": "2024", "format": "csv"}).text
    api_rows = [r for r in csv.DictReader(io.StringIO(api)) if r["kode"].startswith("56")]
    suppressed = [r for r in api_rows if r["status"] == "suppressed"]
    assert suppressed  # Karasjok / Kárášjohka's count is suppressed by IMDi
    assert f"skjermet verdi) ({len(suppressed)})" in text  # the legend counts them
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == len(api_rows)
    hatched = [p for p in paths if p.get("fill", "").startswith("url(#skjermet-")]
    assert len(hatched) == len(suppressed)
    body = client.get(svg_link.replace("kart.svg", "kart.csv") + "&stil=maskin").text
    rows = [r for r in csv.DictReader(io.StringIO(body)) if not r["figur"].startswith("#")]
    assert len(rows) == len(api_rows)
    assert sorted((r["status"], r["verdi"]) for r in rows) == sorted(
        (a["status"], "" if a["status"] == "suppressed" else a["verdi"]) for a in api_rows)
    by_name = {r["rad"]: r for r in rows}
    assert by_name["Karasjok (Kárášjohka)"]["verdi"] == ""
    assert by_name["Karasjok (Kárášjohka)"]["status"] == "suppressed"
    county = client.get("/fylke/56", params={"i": "enslige_mindreaarige"}).text
    link = re.search(r'href="(/kart/figur/kart\.svg\?[^"]+)"', county).group(1)
    assert client.get(link.replace("&amp;", "&")).content == r.content  # the county's map
    assert client.get("/kart/figur/kart.svg", params={"ar": "tjue"}).status_code == 422
    assert client.get("/kart/figur/ukjent.svg").status_code == 404


def test_titles_never_break_a_number_between_its_digit_groups(client):
    """"per 1 000 innbyggere" wraps as a whole: no line of a downloaded chart's title ends
    in "per 1" with "000" starting the next."""
    r = client.get("/kart/figur/kart.svg", params={"i": "bosatte_per_1000", "ar": "2024",
                                                   "niva": "kommune", "fylke": "46"})
    lines = [t.text or "" for t in ET.fromstring(r.content).iter(f"{SVG}text")]
    assert any("1\u00a0000 innbyggere" in line for line in lines)
    for a, b in pairwise(lines):
        assert not (re.search(r"\d$", a) and re.match(r"\d{3}\b", b)), (a, b)
