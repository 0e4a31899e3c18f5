"""Every cell the API publishes, at every level and year, against the raw files read with a
minimal parser of the test's own (``published_raw.py``: not the import code, not the
engine). Prints the number of cells compared and the mismatches (0)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from published_raw import _datasets, recompute


@pytest.fixture(scope="module")
def expected():
    return recompute()


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_every_published_cell_matches_the_raw_files(client, expected):
    catalogue = client.get("/api/indikatorer").json()["indikatorer"]
    assert {i["id"] for i in catalogue} == set(expected.catalogue), \
        "every catalogue indicator needs its raw reader in published_raw.py"
    compared = 0
    mismatches = []
    # County figures IMDi publishes itself (the education statistics' county file, used
    # where a county's borders are today's and no member is suppressed) are not recomputed
    # here; they are checked against the raw county file in test_indicators_outcomes.py
    # (Vestland 2020) and test_reform_and_comparison.py (Telemark 2015).
    cat = expected.catalogue
    own_county = {i for i, c in cat.items() if "imdi_utdanningsniva" in _datasets(c) or any(
        "imdi_utdanningsniva" in _datasets(cat[d]) for d in c.get("difference_of") or [])}
    # Rates IMDi publishes per (old) county are compared with the raw county file in
    # test_indicators_outcomes.py, not recomputed here.
    county_rates = {i for i, c in cat.items() if c.get("base_level") == "fylke"
                    and c["kind"] == "published"}
    for ind in catalogue:
        if ind["id"] in county_rates:
            continue
        want_years = sorted({k[3] for k, c in expected.cells.items()
                             if k[0] == ind["id"] and c.status in ("ok", "intervall")})
        if ind["ar"] != want_years:
            mismatches.append((ind["id"], "år", ind["ar"], want_years))
        for level in ind["nivaer"]:
            if level == "fylke" and ind["id"] in own_county:
                continue
            for year in ind["ar"]:
                body = client.get(f"/api/data/{ind['id']}",
                                  params={"niva": level, "ar": year}).json()
                got = {row["kode"]: row for row in body["verdier"]}
                want = {k[2]: c for k, c in expected.cells.items()
                        if k[0] == ind["id"] and k[1] == level and k[3] == year}
                if set(got) != set(want):
                    mismatches.append((ind["id"], level, year, "koder",
                                       sorted(set(got) ^ set(want))[:5]))
                for code in set(got) & set(want):
                    row, cell = got[code], want[code]
                    compared += 1
                    fields = [("status", row["status"], cell.status),
                              ("verdi", row["verdi"], cell.value),
                              ("nedre", row["nedre"], cell.lower),
                              ("ovre", row["ovre"], cell.upper),
                              ("teller", row["teller"], cell.numerator),
                              ("nevner", row["nevner"], cell.denominator),
                              ("skjermede", row["skjermede_kommuner"], cell.n_suppressed)]
                    for name, a, b in fields:
                        same = a == b if name == "status" else _close(a, b)
                        if not same:
                            mismatches.append((ind["id"], level, year, code, name, a, b))
    print(json.dumps({"celler_sammenlignet": compared, "avvik": len(mismatches),
                      "avvik_per_indikator": Counter(m[0] for m in mismatches)}))
    assert compared > 60_000
    assert mismatches == [], mismatches[:20]
