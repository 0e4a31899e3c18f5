"""Report budgets (issue 6): one county PDF under 10 s; all 357 municipality HTML reports
under 60 s on 2 cores; (issue 12) the county's short PDF under 5 s and at most 4 pages.

* ``county_pdf``: HTML + PDF (WeasyPrint) for the county with the most municipalities
  (Vestland, 46, by default), the first PDF in the process, so WeasyPrint's font setup
  is included. The report context (cube, geometry, knowledge index) is built before the
  clock starts and reported as ``context_s``.
* ``county_short_pdf``: the same county's short report (``--short``), HTML + PDF, rendered
  after the full one in the same process (fonts and context warm).
* ``municipality_html_all``: every municipality's standalone HTML report, in a process
  pool of ``--workers`` (default 2). The figure is wall time from starting the pool to the
  last report, including each worker building its own context from the database.

Usage: ``.venv/bin/python benchmarks/bench_reports.py --database /tmp/rep.duckdb``.
Prints one JSON object per budget.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

COUNTY_PDF_BUDGET_S = 10.0
SHORT_PDF_BUDGET_S = 5.0
SHORT_PDF_MAX_PAGES = 4
ALL_HTML_BUDGET_S = 60.0

_ctx = None


def _init_worker(database: str) -> None:
    global _ctx
    from bliatlas.reports.context import open_report_context

    _ctx = open_report_context(database)


def _render_chunk(codes: list[str]) -> tuple[int, int]:
    from bliatlas.reports.render import render_html

    total = 0
    for code in codes:
        total += len(render_html(_ctx, "kommune", code).encode("utf-8"))
    return len(codes), total


def bench_county_pdf(database: str, county: str, out: Path | None
                     ) -> tuple[dict[str, object], dict[str, object]]:
    from bliatlas.reports.context import open_report_context
    from bliatlas.reports.render import pdf_document, render_html

    started = time.perf_counter()
    ctx = open_report_context(database)
    context_s = time.perf_counter() - started
    start = time.perf_counter()
    html = render_html(ctx, "fylke", county, pdf=True)
    html_s = time.perf_counter() - start
    pdf, pages = pdf_document(html)
    figure = time.perf_counter() - start
    if out is not None:
        (out / f"fylke-{county}.pdf").write_bytes(pdf)
    start = time.perf_counter()
    short_pdf, short_pages = pdf_document(render_html(ctx, "fylke", county, short=True,
                                                      pdf=True))
    short_s = time.perf_counter() - start
    if out is not None:
        (out / f"fylke-{county}-kort.pdf").write_bytes(short_pdf)
    n_members = sum(1 for (lvl, _), r in ctx.cube.regions.items()
                    if lvl == "kommune" and r["county_code"] == county)
    return {
        "benchmark": "county_pdf",
        "figure": round(figure, 2),
        "unit": "s",
        "budget": COUNTY_PDF_BUDGET_S,
        "pass": figure < COUNTY_PDF_BUDGET_S,
        "county": county,
        "municipalities_in_county": n_members,
        "html_s": round(html_s, 2),
        "pdf_bytes": len(pdf),
        "pdf_pages": pages,
        "context_s": round(context_s, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }, {
        "benchmark": "county_short_pdf",
        "figure": round(short_s, 2),
        "unit": "s",
        "budget": SHORT_PDF_BUDGET_S,
        "pass": short_s < SHORT_PDF_BUDGET_S and short_pages <= SHORT_PDF_MAX_PAGES,
        "county": county,
        "pdf_pages": short_pages,
        "max_pages": SHORT_PDF_MAX_PAGES,
        "pdf_bytes": len(short_pdf),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def bench_all_html(database: str, workers: int) -> dict[str, object]:
    from bliatlas.store import open_store

    with open_store(database, read_only=True) as store:
        codes = [r["code"] for r in store.query(
            "SELECT code FROM region WHERE level = 'kommune' ORDER BY code")]
    chunks = [codes[i::workers * 4] for i in range(workers * 4)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(database,)) as pool:
        results = list(pool.map(_render_chunk, chunks))
    figure = time.perf_counter() - start
    n = sum(r[0] for r in results)
    size = sum(r[1] for r in results)
    return {
        "benchmark": "municipality_html_all",
        "figure": round(figure, 2),
        "unit": "s",
        "budget": ALL_HTML_BUDGET_S,
        "pass": figure < ALL_HTML_BUDGET_S and n == len(codes),
        "reports": n,
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "mean_html_kb": round(size / max(n, 1) / 1024, 1),
        "per_report_ms": round(1000 * figure * workers / max(n, 1), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=os.environ.get("BLI_DATABASE"),
                        help="imported database (default: $BLI_DATABASE)")
    parser.add_argument("--county", default="46")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the county PDF here (a folder)")
    args = parser.parse_args()
    if not args.database or not Path(args.database).exists():
        parser.error("oppgi en importert database med --database (bli import ../shared/data)")
    for result in bench_county_pdf(args.database, args.county, args.out):
        print(json.dumps(result, ensure_ascii=False))
    print(json.dumps(bench_all_html(args.database, args.workers), ensure_ascii=False))


if __name__ == "__main__":
    main()
