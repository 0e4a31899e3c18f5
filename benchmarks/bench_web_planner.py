"""Settlement planner pages: server time for the national plan page and for a full-size upload.

Figures (JSON, one object per budget), measured in-process through the FastAPI app
(TestClient; no network), after one warm-up request that builds the indicator cube, the
map geometry and the (synthetic) outcome model:

* ``web_planner_plan_page_national`` — ``GET /bosetting`` for the whole country (357
  municipalities, minimum group 10, district priority 25 %) with two scenarios beside the
  base plan (ceiling 20 per 1,000; district priority 40 %): three integer programs, the
  map and the table, median of ``--runs``. Budget 3 s.
* ``web_planner_matching_upload`` — ``POST /bosetting/matching`` with a synthetic cohort
  CSV of ``--persons`` persons (default 50,000, the upload limit) uploaded for the whole
  country with a municipality profile giving each municipality its decision scaled to the
  cohort plus 10 % as capacity (the 2024 decisions sum to about 28,000 persons), until the
  result page has been rendered: read and validate the file in memory, predict the
  persons × 357 matrices (two outcomes), solve, run the greedy rules and random placements,
  the evaluation, fairness table, capacity use, first page of explanations. Budget 60 s.
  (Ties the rules cannot follow are reported as conflicts, not dropped.)
* ``web_planner_peak_memory`` — peak resident memory of the process. Budget 4 GiB.

    .venv/bin/python benchmarks/bench_web_planner.py [--database PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, settlement_inputs

PLAN_BUDGET_S = 3.0
MATCH_BUDGET_S = 60.0
MEMORY_BUDGET_MIB = 4096.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--database", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = ensure_database(args.database, Path(tmp))
        os.environ["BLI_DATABASE"] = str(db)
        os.environ.pop("BLI_SETTLEMENT_MODEL", None)

        import numpy as np
        from fastapi.testclient import TestClient

        from bliatlas.api.app import create_app
        from bliatlas.settlement import synthetic as syn
        from bliatlas.settlement.cohort import write_cohort

        client = TestClient(create_app())
        query = "/bosetting?" + urlencode(
            {"total": "25000", "gruppe": "10", "distrikt": "25",
             "s": ["tak=max_per_1000:20", "distrikt40=district_priority:0.4"]}, doseq=True)
        assert client.get(query).status_code == 200  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            r = client.get(query)
            times.append(time.perf_counter() - start)
            assert r.status_code == 200
        t = statistics.median(times)
        print(json.dumps({
            "benchmark": "web_planner_plan_page_national", "figure": round(t, 3), "unit": "s",
            "budget": PLAN_BUDGET_S, "pass": t < PLAN_BUDGET_S,
            "runs": [round(x, 3) for x in times], "scenarios": 3, "bytes": len(r.content),
        }))

        munis, targets = settlement_inputs(db)
        cohort = syn.generate_cohort(args.persons, targets, munis, seed=7)
        while len(cohort) > args.persons:  # the last household may overshoot the limit
            cohort = cohort.subset(np.concatenate(cohort.households[:-1]))
        path = Path(tmp) / "kohort.csv"
        write_cohort(cohort, path)
        data = path.read_bytes()
        # the forms carry a CSRF token (cookie + field); send it as a browser's form would
        form = client.get("/bosetting/matching")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, "the matching form has no CSRF field"
        client.headers["X-CSRF-Token"] = token.group(1)
        # warm the outcome model with a small run
        r = client.post("/bosetting/matching", data={"kilde": "syntetisk", "personer": "50"})
        assert r.status_code == 200, r.text[-500:]
        start = time.perf_counter()
        # 50,000 persons are more than the 2024 decisions (about 28,000): a municipality
        # profile gives each municipality its decision scaled to the cohort + 10 %
        dec = np.nan_to_num(munis.vedtak, nan=0.0)
        cap = np.ceil(dec / dec.sum() * len(cohort) * 1.1 - 1e-9).astype(int)
        profile = "kommune;kapasitet;ema_kapasitet\n" + "\n".join(
            f"{c};{k};{int(e)}" for c, k, e in zip(munis.codes, cap,
                                                   np.nan_to_num(munis.ema_vedtak) * 2,
                                                   strict=True))
        r = client.post("/bosetting/matching", data={"kilde": "fil"},
                        files={"kohort": ("kohort.csv", data, "text/csv"),
                               "profil": ("profil.csv", profile.encode(), "text/csv")})
        t = time.perf_counter() - start
        assert r.status_code == 200, re.findall(r"<p>([^<]*)</p></div>", r.text)
        print(json.dumps({
            "benchmark": "web_planner_matching_upload", "figure": round(t, 3), "unit": "s",
            "budget": MATCH_BUDGET_S, "pass": t < MATCH_BUDGET_S, "persons": len(cohort),
            "households": cohort.n_households, "upload_bytes": len(data),
            "municipalities": len(munis), "syntetisk": True,
        }))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({
            "benchmark": "web_planner_peak_memory", "figure": round(peak, 1), "unit": "MiB",
            "budget": MEMORY_BUDGET_MIB, "pass": peak < MEMORY_BUDGET_MIB,
        }))


if __name__ == "__main__":
    main()
