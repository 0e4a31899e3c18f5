"""Comparison groups (*sammenligningsgruppe*, as Kolada's "liknande kommuner") on the real
data, through the API, the municipality page, its CSV and the report: the members and
their features are checked against the values the test reads itself from ``/api/data``,
and the group median against the median of the members' exact values."""

from __future__ import annotations

import csv
import io
import math
import statistics

import pytest

GLOPPEN = "4650"


def _values(client, indicator: str, year: int) -> dict[str, dict]:
    r = client.get(f"/api/data/{indicator}", params={"ar": year})
    assert r.status_code == 200, r.text
    return {row["kode"]: row for row in r.json()["verdier"]}


def _exact(rows: dict[str, dict]) -> dict[str, float]:
    return {c: row["verdi"] for c, row in rows.items() if row["status"] == "ok"}


@pytest.fixture(scope="module")
def features(client) -> dict[str, dict[str, float]]:
    """The three features for every municipality, from the public API: centrality class,
    log population 2024, and immigrants (latest exact year) per 1 000 inhabitants of the
    nearest year with a population figure."""
    regions = client.get("/api/regioner", params={"niva": "kommune"}).json()["regioner"]
    centrality = {r["kode"]: float(r["sentralitet"]) for r in regions}
    pops = {y: _exact(_values(client, "folkemengde_1_januar", y)) for y in (2022, 2023, 2024)}
    immigrants = {y: _exact(_values(client, "innvandrere", y)) for y in range(2017, 2026)}
    share = {}
    for code in centrality:
        years = [y for y in immigrants if code in immigrants[y]]
        if not years:
            continue
        y = max(years)
        pop_year = min((p for p in pops if code in pops[p]), key=lambda p: abs(p - y))
        share[code] = immigrants[y][code] / pops[pop_year][code] * 1000
    return {"sentralitet": centrality,
            "folketall": {c: math.log(v) for c, v in pops[2024].items()},
            "innvandrerandel": share}


def test_gloppen_default_group_is_the_ten_nearest(client, features):
    r = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}")
    assert r.status_code == 200, r.text
    body = r.json()
    members = body["medlemmer"]
    assert len(members) == 10
    assert body["definisjon"]["parametere"] == {
        "g_vekt_sentralitet": "1", "g_vekt_folketall": "1", "g_vekt_innvandrerandel": "1",
        "g_antall": "10"}
    # Gloppen's own features: centrality 5, 5 926 inhabitants 1 January 2024, and
    # 609 immigrants (2021) per 5 875 inhabitants (2022)
    pop = _values(client, "folkemengde_1_januar", 2024)[GLOPPEN]["verdi"]
    imm = _values(client, "innvandrere", 2021)[GLOPPEN]["verdi"]
    pop22 = _values(client, "folkemengde_1_januar", 2022)[GLOPPEN]["verdi"]
    assert body["egenskaper"] == {"sentralitet": 5.0, "folketall": pop,
                                  "innvandrerandel": round(imm / pop22 * 1000, 1)}
    assert pop == 5926 and imm == 609 and pop22 == 5875

    # the ten nearest by the documented distance, computed here from the public values
    scale = {k: statistics.pstdev(v.values()) for k, v in features.items()}
    own = {k: v[GLOPPEN] for k, v in features.items()}
    dist = {}
    for code in features["sentralitet"]:
        if code == GLOPPEN or any(code not in v for v in features.values()):
            continue
        dist[code] = math.sqrt(sum(((features[k][code] - own[k]) / scale[k]) ** 2
                                   for k in features))
    expected = sorted(dist, key=lambda c: (dist[c], c))[:10]
    assert [m["kode"] for m in members] == expected
    for m in members:
        assert m["avstand"] == pytest.approx(dist[m["kode"]], abs=1e-4)
        assert m["egenskaper"]["sentralitet"] == features["sentralitet"][m["kode"]]
        assert m["egenskaper"]["folketall"] == round(math.exp(features["folketall"][m["kode"]]))
        assert f"sentralitetsklasse {int(m['egenskaper']['sentralitet'])}" in m["hvorfor_lik"]
    assert [m["avstand"] for m in members] == sorted(m["avstand"] for m in members)
    # deterministic: the same request gives the same group
    assert client.get(f"/api/sammenligningsgruppe/{GLOPPEN}").json()["medlemmer"] == members


def test_filters_same_county_and_kostra(client):
    body = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                      params={"g_antall": 8, "g_samme_fylke": 1}).json()
    assert len(body["medlemmer"]) == 8
    assert all(m["kode"].startswith("46") for m in body["medlemmer"])
    # Vestland has 43 municipalities: the other 357 - 43 are left out as "annet fylke"
    assert body["utelatt"]["annet fylke"] == 357 - 43
    regions = {r["kode"]: r for r in client.get("/api/regioner").json()["regioner"]}
    body = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                      params={"g_samme_kostra": 1, "g_vekt_innvandrerandel": 0}).json()
    kostra = regions[GLOPPEN]["kostragruppe"]
    assert kostra and all(regions[m["kode"]]["kostragruppe"] == kostra
                          for m in body["medlemmer"])


def test_explicit_list_with_sami_name(client):
    r = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                   params={"g_kommuner": "5612,4602,4640,4650"})
    assert r.status_code == 200, r.text
    body = r.json()
    names = {m["kode"]: m["navn"] for m in body["medlemmer"]}
    # the municipality itself is not its own peer; Sami and Norwegian names both shown
    assert names == {"4602": "Kinn", "4640": "Sogndal",
                     "5612": "Kautokeino (Guovdageaidnu)"}
    assert body["definisjon"]["parametere"] == {"g_kommuner": "5612,4602,4640,4650"}
    assert all(m["avstand"] is None for m in body["medlemmer"])


@pytest.mark.parametrize(("params", "named"), [
    ({"g_antall": "99"}, "g_antall"),
    ({"g_vekt_folketall": "x"}, "g_vekt_folketall"),
    ({"g_vekt_sentralitet": "4"}, "g_vekt_sentralitet"),
    ({"g_samme_fylke": "ja"}, "g_samme_fylke"),
    ({"g_kommuner": "46,abc"}, "g_kommuner"),
    ({"g_kommuner": "9999"}, "g_kommuner"),
    ({"g_vekt_sentralitet": "0", "g_vekt_folketall": "0", "g_vekt_innvandrerandel": "0"},
     "g_vekt_"),
])
def test_bad_parameters_are_norwegian_400s(client, params, named):
    r = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}", params=params)
    assert r.status_code == 400, r.text
    msg = r.json()["error"]
    assert named in msg and ("forventet" in msg or "minst" in msg)


def test_unknown_municipality_is_404(client):
    r = client.get("/api/sammenligningsgruppe/9999")
    assert r.status_code == 404 and "ukjent" in r.json()["error"]


def test_group_median_is_over_exact_member_values_only(client):
    ind, year = "bosatt_andel_av_vedtak", 2024
    rows = _values(client, ind, year)
    hidden = sorted(c for c, row in rows.items() if c.startswith("46")
                    and row["status"] == "suppressed")
    exact = sorted(c for c, row in rows.items() if c.startswith("46") and c != GLOPPEN
                   and row["status"] == "ok")[:5]
    assert hidden, "Vestland has suppressed settlement shares in 2024"
    codes = exact + hidden[:1]
    r = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                   params={"g_kommuner": ",".join(codes), "indikator": ind})
    assert r.status_code == 200, r.text
    comp = r.json()["sammenligning"]
    values = [rows[c]["verdi"] for c in exact]
    assert comp["value"] == pytest.approx(statistics.median(values))
    assert comp["year"] == year and comp["n_hidden"] == 1
    assert comp["label"] == "median i sammenligningsgruppen (6 kommuner)"
    own = rows[GLOPPEN]["verdi"]
    # higher is better for this share: rank among the exact members and Gloppen itself
    assert comp["rank"] == 1 + sum(v > own for v in values) and comp["n"] == 6
    # no pooled figure over a chosen group anywhere in the answer
    assert "teller" not in r.text and "nevner" not in r.text


GROUP_QUERY = {"g_antall": "8", "g_samme_fylke": "1"}


def test_municipality_page_builds_the_group_from_the_url(client):
    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                     params={**GROUP_QUERY, "indikator": "bosatte_per_1000"}).json()
    r = client.get(f"/kommune/{GLOPPEN}", params=GROUP_QUERY)
    assert r.status_code == 200
    html = r.text
    # the form: real labels tied to the fields, the state kept (8, same county checked)
    for field, label in (("g-sentralitet", "Vekt for sentralitet"),
                         ("g-folketall", "Vekt for folketall"),
                         ("g-innvandrerandel", "Vekt for innvandrerandel"),
                         ("g-antall", "Antall kommuner (3–50)"),
                         ("g-kostra", "Samme KOSTRA-gruppe"), ("g-fylke", "Samme fylke")):
        assert f'<label for="{field}">{label}</label>' in html
    assert 'id="g-antall" name="g_antall" type="number"' in html and 'value="8"' in html
    assert 'id="g-fylke" name="g_samme_fylke" type="checkbox" value="1" checked' in html
    # members with why they are alike, the group column with the rank, the compare link
    for m in api["medlemmer"]:
        assert f'<a href="/kommune/{m["kode"]}">{m["navn"]}</a></th><td>{m["hvorfor_lik"]}' \
            in html
    assert "Median i sammenligningsgruppen (8 kommuner)</th>" in html
    comp = api["sammenligning"]
    assert f'nr. {comp["rank"]} av {comp["n"]}' in html
    compare = "/sammenlign?k=4650&amp;" + "&amp;".join(f"k={m['kode']}"
                                                      for m in api["medlemmer"])
    assert f'href="{compare}">Sammenlign med gruppen</a>' in html
    # downloads and reports keep the group
    assert 'href="/kommune/4650.csv?g_vekt_sentralitet=1&amp;g_vekt_folketall=1&amp;' \
           'g_vekt_innvandrerandel=1&amp;g_antall=8&amp;g_samme_fylke=1"' in html
    # without g_ parameters the page has no group column
    plain = client.get(f"/kommune/{GLOPPEN}").text
    assert "Median i sammenligningsgruppen" not in plain and 'id="g-antall"' in plain


def test_page_with_bad_group_parameter_is_a_norwegian_400(client):
    r = client.get(f"/kommune/{GLOPPEN}", params={"g_antall": "99"})
    assert r.status_code == 400
    assert "parameteren &#39;g_antall&#39;: forventet et heltall fra 3 til 50, fant &#39;99&#39;" in r.text
    r = client.get(f"/kommune/{GLOPPEN}.csv", params={"g_vekt_folketall": "x"})
    assert r.status_code == 400 and "g_vekt_folketall" in r.json()["error"]


def test_csv_download_has_the_members_and_the_group_median(client):
    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                     params={**GROUP_QUERY, "indikator": "bosatte_per_1000"}).json()
    r = client.get(f"/kommune/{GLOPPEN}.csv", params={**GROUP_QUERY, "stil": "maskin"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    members = [row for row in rows if row["seksjon"] == "sammenligningsgruppe"]
    assert [row["kode"] for row in members] == [m["kode"] for m in api["medlemmer"]]
    assert [row["merknad"] for row in members] == [m["hvorfor_lik"] for m in api["medlemmer"]]
    median = [row for row in rows if row["seksjon"] == "sammenligning"
              and row["indikator"] == "bosatte_per_1000"
              and row["navn"].endswith("median i sammenligningsgruppen (8 kommuner)")]
    assert len(median) == 1
    comp = api["sammenligning"]
    assert float(median[0]["verdi"]) == pytest.approx(comp["value"])
    assert median[0]["merknad"] == f"nr. {comp['rank']} av {comp['n']}"


def test_report_url_with_the_group_query(client):
    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}", params=GROUP_QUERY).json()
    r = client.get(f"/api/rapport/kommune/{GLOPPEN}.html", params=GROUP_QUERY)
    assert r.status_code == 200
    assert '<section id="sammenligningsgruppe">' in r.text
    for m in api["medlemmer"]:
        assert f'<tr><th scope="row">{m["navn"]}</th><td>{m["hvorfor_lik"]}</td>' in r.text
    short = client.get(f"/api/rapport/kommune/{GLOPPEN}.html",
                       params={**GROUP_QUERY, "kort": "1"}).text
    assert "Kommunene i gruppen: " + ", ".join(m["navn"] for m in api["medlemmer"]) + "." \
        in short
    plain = client.get(f"/api/rapport/kommune/{GLOPPEN}.html").text
    assert 'id="sammenligningsgruppe"' not in plain  # a separate cached document
    r = client.get("/api/rapport/fylke/46.html", params=GROUP_QUERY)
    assert r.status_code == 400 and "bare kommunerapporter" in r.json()["error"]
    r = client.get(f"/api/rapport/kommune/{GLOPPEN}.html", params={"g_antall": "2"})
    assert r.status_code == 400 and "g_antall" in r.json()["error"]


@pytest.mark.parametrize(("args", "words"), [
    (["kommune", GLOPPEN, "--gruppe", "g_antall=99"], "g_antall"),
    (["kommune", GLOPPEN, "--gruppe", "antall=8"], "ukjent parameter antall"),
    (["kommune", GLOPPEN, "--gruppe", "g_antall"], "--gruppe"),
    (["kommune", GLOPPEN, "--gruppe", "g_kommuner=4602,9999"], "ukjent kommunenummer 9999"),
    (["fylke", "46", "--gruppe", "g_antall=8"], "bare kommunerapporter"),
])
def test_report_cli_rejects_a_bad_group_with_exit_2(imported_db, tmp_path, capsys, args,
                                                      words):
    from conftest import bli_on

    out = tmp_path / "r.html"
    assert bli_on(imported_db, "report", *args, "--out", out) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()  # nothing partly written


def test_report_cli_html_lists_the_members(imported_db, tmp_path, client):
    from conftest import bli_on

    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}",
                     params={"g_kommuner": "5612,4602,4640"}).json()
    out = tmp_path / "gloppen.html"
    assert bli_on(imported_db, "report", "kommune", GLOPPEN, "--gruppe",
                  "g_kommuner=5612,4602,4640", "--out", out) == 0
    html = out.read_text("utf-8")
    assert "Gruppen er valgte kommuner (3)." in html
    for m in api["medlemmer"]:
        assert f'<tr><th scope="row">{m["navn"]}</th>' in html
    assert "Kautokeino (Guovdageaidnu)" in html


def _group_rank(values: list[float], own: float, lower_better: bool) -> tuple[int, int, float]:
    """Rank (ties shared), the number ranked and the mid-rank percentile, computed here."""
    sign = -1 if lower_better else 1
    rank = 1 + sum(sign * v > sign * own for v in values)
    tied = 1 + sum(v == own for v in values)
    n = len(values) + 1
    return rank, n, round(100.0 * (n - (rank + (tied - 1) / 2.0)) / (n - 1), 1)


def test_profile_api_takes_the_group(client):
    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}", params=GROUP_QUERY).json()
    codes = [m["kode"] for m in api["medlemmer"]]
    r = client.get(f"/api/profil/{GLOPPEN}", params=GROUP_QUERY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["kode"] for m in body["sammenligningsgruppe"]["medlemmer"]] == codes
    by_id = {item["id"]: item for item in body["indikatorer"]}
    item = by_id["bosatte_per_1000"]
    comp = next(c for c in item["sammenligning"] if c["nokkel"] == "median_gruppe")
    rows = _values(client, "bosatte_per_1000", item["ar"])
    values = [rows[c]["verdi"] for c in codes if rows[c]["status"] == "ok"]
    rank, n, pct = _group_rank(values, rows[GLOPPEN]["verdi"], False)
    assert comp["verdi"] == pytest.approx(statistics.median(values))
    assert (comp["rang"], comp["antall"], comp["persentil"]) == (rank, n, pct)
    assert comp["etikett"] == "median i sammenligningsgruppen (8 kommuner)"
    # the CSV has the group's row per indicator, and the plain profile none
    text = client.get(f"/api/profil/{GLOPPEN}", params={**GROUP_QUERY, "format": "csv"}).text
    line = next(row for row in csv.DictReader(io.StringIO(text))
                if row["id"] == "bosatte_per_1000"
                and row["sammenligning"] == comp["etikett"])
    assert line["rang_tekst"] == f"nr. {rank} av {n}"
    plain = client.get(f"/api/profil/{GLOPPEN}").json()
    assert "sammenligningsgruppe" not in plain
    assert all(c["nokkel"] != "median_gruppe" for it in plain["indikatorer"]
               for c in it["sammenligning"])


@pytest.mark.parametrize(("code", "params", "status", "words"), [
    ("46", {"g_antall": "8"}, 400, "46 er et fylke"),
    (GLOPPEN, {"g_antall": "99"}, 400, "g_antall"),
    (GLOPPEN, {"g_ukjent": "1"}, 400, "ukjent parameter g_ukjent"),
    ("9999", {"g_antall": "8"}, 404, "ukjent region"),
])
def test_profile_api_rejects_a_bad_group(client, code, params, status, words):
    r = client.get(f"/api/profil/{code}", params=params)
    assert r.status_code == status
    assert words in r.json()["error"]


def test_short_report_ranks_what_stands_out_within_the_group(client):
    import re

    api = client.get(f"/api/sammenligningsgruppe/{GLOPPEN}", params=GROUP_QUERY).json()
    codes = [m["kode"] for m in api["medlemmer"]]
    lower_better = {i["id"]: i["retning"] == "lower_better"
                    for i in client.get(f"/api/profil/{GLOPPEN}").json()["indikatorer"]}
    html = client.get(f"/api/rapport/kommune/{GLOPPEN}.html",
                      params={**GROUP_QUERY, "kort": "1"}).text
    part = html[html.index('<section id="skiller-seg-ut">'):]
    part = part[:part.index("</section>")]
    assert "lengst fra midten i sammenligningsgruppen (8 kommuner, se over)" in part
    items = re.findall(r'<li data-indicator="([a-z0-9_]+)">(.*?)</li>', part, re.DOTALL)
    assert 3 <= len(items) <= 5
    distances = []
    for ind, text in items:
        year = int(re.search(r" i (\d{4}), ", text).group(1))
        rows = _values(client, ind, year)
        values = [rows[c]["verdi"] for c in codes if c in rows and rows[c]["status"] == "ok"]
        rank, n, pct = _group_rank(values, rows[GLOPPEN]["verdi"], lower_better[ind])
        assert f"nr. {rank} av {n}" in text, (ind, text)
        assert "medianen i gruppen" in text and "sentralitetsklasse" not in text
        distances.append(abs(pct - 50))
    assert distances == sorted(distances, reverse=True)  # furthest from the middle first
    # without a group the same section ranks within the centrality class
    plain = client.get(f"/api/rapport/kommune/{GLOPPEN}.html", params={"kort": "1"}).text
    assert "blant kommunene i samme sentralitetsklasse" in plain
