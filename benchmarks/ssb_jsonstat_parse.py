"""Benchmark: parse one maximal SSB answer (800,000 cells, SSB's per-extract limit).

The document is SYNTHETIC, built here from a deterministic formula (no real figures):
a JSON-stat 2.0 cube shaped like table 11607 — 400 regions × 2 sexes × 4 country
backgrounds × 5 age groups × 1 content × 50 years = 800,000 cells, with every 97th cell
suppressed (``:``) and every 89th missing (``.``). It is serialised to JSON text first,
so the figure covers ``json.loads`` plus :func:`parse_jsonstat`, what ``bli sync ssb``
does with each answer.

Budget: 10 s and 1 GiB peak resident memory on the project's 2-core machine.
Run: ``.venv/bin/python benchmarks/ssb_jsonstat_parse.py`` — prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from bliatlas.sources.jsonstat import parse_jsonstat

BUDGET_SECONDS = 10.0
BUDGET_MIB = 1024.0


def synthetic_document() -> dict:
    regions = [f"{3000 + i:04d}" for i in range(400)]
    dims = {
        "Region": regions,
        "Kjonn": ["1", "2"],
        "Landbakgrunn": ["abc", "ddd", "eee", "zzz"],
        "Alder": ["15-19", "20-24", "25-39", "40-54", "55-74"],
        "ContentsCode": ["Sysselsatte2"],
        "Tid": [str(1975 + y) for y in range(50)],
    }
    size = [len(v) for v in dims.values()]
    n = 1
    for s in size:
        n *= s
    values: list[float | None] = []
    status: dict[str, str] = {}
    for i in range(n):
        if i % 97 == 0:
            values.append(None)
            status[str(i)] = ":"
        elif i % 89 == 0:
            values.append(None)
            status[str(i)] = "."
        else:
            values.append(round(40 + (i * 7919 % 4500) / 100, 1))
    dimension = {
        code: {
            "label": code.lower(),
            "category": {
                "index": {c: k for k, c in enumerate(cats)},
                "label": {c: f"{code} {c}" for c in cats},
            },
        }
        for code, cats in dims.items()
    }
    dimension["ContentsCode"]["category"]["unit"] = {
        "Sysselsatte2": {"base": "prosent", "decimals": 1}
    }
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "11607: SYNTETISK benchmark-kube (ikke SSB-tall)",
        "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
        "id": list(dims),
        "size": size,
        "dimension": dimension,
        "value": values,
        "status": status,
    }


def main() -> int:
    text = json.dumps(synthetic_document())
    started = time.perf_counter()
    parsed = parse_jsonstat(json.loads(text), "benchmark")
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    n = len(parsed.observations)
    ok = elapsed <= BUDGET_SECONDS and peak_mib <= BUDGET_MIB and n == 800_000
    print(json.dumps({
        "benchmark": "ssb_jsonstat_parse_800k_cells",
        "figure": round(elapsed, 2),
        "unit": "s",
        "budget": BUDGET_SECONDS,
        "peak_memory_mib": round(peak_mib, 1),
        "memory_budget_mib": BUDGET_MIB,
        "cells": n,
        "pass": ok,
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
