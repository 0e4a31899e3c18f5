"""Benchmark: the map page in headless Chromium on loopback.

Figures (JSON, one object per budget):

* ``web_map_time_to_usable`` — from navigation start to the load event with the map drawn
  (every municipality path laid out with a non-empty box), median of several loads in
  fresh browser contexts (empty cache) against a warm server. Budget 1.5 s.
* ``web_map_transfer_bytes`` — bytes transferred for the page and everything it loads,
  compressed as sent (navigation + resource ``transferSize``). Budget 1.5 MB.

The server is uvicorn in a subprocess over ``--database`` (default ``$BLI_DATABASE``);
without one, ``../shared/data`` is imported into a temporary database first.

    .venv/bin/python benchmarks/bench_web_map.py [--database PATH] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ensure_database, free_port, start_server, stop_server, wait_ready

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIME_BUDGET_S = 1.5
BYTES_BUDGET = 1_500_000

MEASURE_JS = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const paths = document.querySelectorAll('svg.map path');
  let drawn = 0;
  for (const p of paths) { const b = p.getBBox(); if (b.width > 0 || b.height > 0) drawn++; }
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {
    load_end_ms: nav.loadEventEnd,
    ready_ms: performance.now(),
    paths: paths.length, drawn: drawn,
    nav_transfer: nav.transferSize, nav_decoded: nav.decodedBodySize,
    resources: res.map(r => ({name: r.name, transfer: r.transferSize,
                              decoded: r.decodedBodySize})),
  };
}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory(prefix="bench-web-")
    db = ensure_database(args.database, Path(tmp.name))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, {"BLI_DATABASE": str(db)})
    try:
        # warm the server: the first page builds the cube and map geometry
        wait_ready(base, proc, "/", timeout=120)
        samples = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(base + "/", wait_until="load")
                samples.append(page.evaluate(MEASURE_JS))
                context.close()
            browser.close()
    finally:
        stop_server(proc)
        tmp.cleanup()

    ok_drawn = all(s["drawn"] == s["paths"] and s["paths"] >= 357 for s in samples)
    usable = [max(s["load_end_ms"], s["ready_ms"]) / 1000 for s in samples]
    last = samples[-1]
    transfer = last["nav_transfer"] + sum(r["transfer"] for r in last["resources"])
    decoded = last["nav_decoded"] + sum(r["decoded"] for r in last["resources"])
    median = statistics.median(usable)
    results = [
        {
            "benchmark": "web_map_time_to_usable",
            "figure": round(median, 3),
            "unit": "s",
            "budget": TIME_BUDGET_S,
            "pass": median <= TIME_BUDGET_S and ok_drawn,
            "runs": len(usable),
            "min": round(min(usable), 3),
            "max": round(max(usable), 3),
            "map_paths_drawn": last["drawn"],
        },
        {
            "benchmark": "web_map_transfer_bytes",
            "figure": transfer,
            "unit": "bytes",
            "budget": BYTES_BUDGET,
            "pass": 0 < transfer <= BYTES_BUDGET,
            "uncompressed_bytes": decoded,
            "requests": 1 + len(last["resources"]),
        },
    ]
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
