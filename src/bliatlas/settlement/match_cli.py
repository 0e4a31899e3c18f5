"""`bli settlement match` — place a cohort's households in municipalities.

Added to the `bli settlement` group by :func:`add_match_command` (see
:data:`bliatlas.settlement.cli.EXTENSION_MODULES`).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import InputError, UserError

#: Training persons and seed for the synthetic model used when no --model is given.
SYNTHETIC_TRAINING_PERSONS = 20_000
SYNTHETIC_TRAINING_SEED = 2024


def add_match_command(sub: Any) -> None:
    m = sub.add_parser(
        "match",
        help="plasser husholdningene i en kohort i kommuner (optimering)",
        description=(
            "Plasserer husholdninger (aldri delt) i kommuner innenfor kapasiteten og maksimerer "
            "samlet forventet andel i arbeid eller utdanning. Sammenligner med grådig regel og "
            "tilfeldig plassering."
        ),
    )
    m.add_argument("cohort", metavar="KOHORT.csv", help="kohortfil (se `bli settlement generate`)")
    m.add_argument(
        "--capacity", default="vedtak",
        help="'vedtak' (kommunenes vedtak 2024 i databasen) eller en CSV med kolonnene "
             "kommune;kapasitet og valgfritt ema_kapasitet;kan_oppfolge",
    )
    m.add_argument(
        "--scale", type=float, metavar="MARGIN",
        help="skaler vedtakene til kohortens størrelse pluss denne andelen (f.eks. 0.05); "
             "kommuner med fast tilknytning (familie) får da minst plass til dem",
    )
    m.add_argument("--model", help="modellmappe fra `bli settlement train`; utelatt = syntetisk")
    m.add_argument("--support", choices=("alle", "fastlege"), default="alle",
                   help="hvilke kommuner kan ta imot oppfølgingsbehov: alle, eller de med "
                        "ledig fastlegekapasitet (ved --capacity vedtak)")
    m.add_argument("--online", action="store_true",
                   help="uke for uke: husholdningene kommer i filens rekkefølge")
    m.add_argument("--weeks", type=int, default=52, help="antall uker ved --online")
    m.add_argument("--pace", type=float, default=None, metavar="ANDEL",
                   help="ved --online: hvor langt foran en jevn ukeplan en kommune kan komme, "
                        "som andel av årstallet (standard 0,35; 1 = ingen grense)")
    m.add_argument("--lock", action="append", default=[], metavar="HUSHOLDNING=KOMMUNE")
    m.add_argument("--forbid", action="append", default=[], metavar="HUSHOLDNING=KOMMUNE")
    m.add_argument("--min-fill", type=float, default=0.0,
                   help="minste andel av anmodningen som skal fylles i hver kommune (0–1)")
    m.add_argument("--equity", type=float, default=0.0,
                   help="vekt på laveste gruppes forventede utfall (landgruppe)")
    m.add_argument("--gap", type=float, default=0.001, help="tillatt avstand til grensen")
    m.add_argument("--time-limit", type=float, default=60.0,
                   help="største løsningstid i sekunder (beste løsning og gap vises)")
    m.add_argument("--simulate", type=int, default=20,
                   help="antall simuleringer for sammenligningen (0 = ingen)")
    m.add_argument("--explain", type=int, default=5,
                   help="vis forklaring for de første N husholdningene")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", help="skriv tildelingen til CSV")
    m.set_defaults(func=_match)


_PAIR = re.compile(r"^\s*([^=]+?)\s*=\s*(\d{4})\s*$")


def _pairs(values: list[str], option: str, hh_index: dict[str, int],
           muni_index: dict[str, int]) -> list[tuple[int, int]]:
    out = []
    for v in values:
        m = _PAIR.match(v)
        if not m:
            raise UserError(f"{option} {v!r}: forventet HUSHOLDNING=KOMMUNENUMMER, f.eks. H12=4601")
        hh, code = m.group(1), m.group(2)
        if hh not in hh_index:
            raise UserError(f"{option} {v!r}: husholdning {hh!r} finnes ikke i kohorten")
        if code not in muni_index:
            raise UserError(f"{option} {v!r}: kommunenummer {code} er ikke et 2024-kommunenummer")
        out.append((hh_index[hh], muni_index[code]))
    return out


def read_capacity(path: str | Path, codes: list[str]) -> tuple[np.ndarray, np.ndarray | None,
                                                                np.ndarray | None]:
    """Capacity CSV (`;` or `,`): kommune, kapasitet[, ema_kapasitet][, kan_oppfolge].
    Municipalities not listed get 0. Errors name the row and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "filen finnes ikke") from None
    except UnicodeDecodeError:
        raise InputError(path, "ugyldig tegnkoding; forventet UTF-8") from None
    first = text.split("\n", 1)[0]
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in first else ","))
    if not rows:
        raise InputError(path, "filen er tom; forventet kolonnene kommune og kapasitet")
    header = [h.strip() for h in rows[0]]
    for need in ("kommune", "kapasitet"):
        if need not in header:
            raise InputError(path, f"mangler kolonnen {need!r}; forventet kommune;kapasitet",
                             row=1)
    known = {"kommune", "kapasitet", "ema_kapasitet", "kan_oppfolge"}
    for h in header:
        if h not in known:
            raise InputError(path, "ukjent kolonne; tillatt er " + ", ".join(sorted(known)),
                             row=1, column=h)
    pos = {c: j for j, c in enumerate(codes)}
    cap = np.zeros(len(codes), dtype=np.int64)
    ema = np.zeros(len(codes), dtype=np.int64) if "ema_kapasitet" in header else None
    support = np.zeros(len(codes), dtype=bool) if "kan_oppfolge" in header else None
    seen: set[str] = set()
    for r, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"har {len(row)} felt, forventet {len(header)}", row=r)
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        code = rec["kommune"]
        if code not in pos:
            raise InputError(path, f"ukjent kommunenummer {code!r}; forventet et 2024-nummer",
                             row=r, column="kommune")
        if code in seen:
            raise InputError(path, f"kommune {code} står flere ganger", row=r, column="kommune")
        seen.add(code)
        for col, arr in (("kapasitet", cap), ("ema_kapasitet", ema)):
            if arr is None:
                continue
            if not re.fullmatch(r"\d+", rec[col]):
                raise InputError(path, f"ugyldig verdi {rec[col]!r}; forventet et heltall ≥ 0",
                                 row=r, column=col)
            arr[pos[code]] = int(rec[col])
        if support is not None:
            if rec["kan_oppfolge"] not in ("0", "1"):
                raise InputError(path, f"ugyldig verdi {rec['kan_oppfolge']!r}; forventet 0 eller 1",
                                 row=r, column="kan_oppfolge")
            support[pos[code]] = rec["kan_oppfolge"] == "1"
    return cap, ema, support


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %".replace(".", ",")


def _num(x: float) -> str:
    return f"{x:,.1f}".replace(",", " ").replace(".", ",")


def _match(args: argparse.Namespace) -> int:
    from bliatlas.settlement import assign
    from bliatlas.settlement.cli import _features, _store
    from bliatlas.settlement.cohort import read_cohort
    from bliatlas.settlement.explain import explain
    from bliatlas.settlement.fairness import fairness_report, person_groups, report_lines
    from bliatlas.settlement.predict import OutcomeModel
    from bliatlas.settlement.simulate import (
        ensure_tie_room,
        problem_from_cohort,
        report_text,
        scaled_capacity,
        simulate_outcomes,
    )

    if not 0 <= args.min_fill <= 1:
        raise UserError("--min-fill: forventet en andel mellom 0 og 1")
    if args.gap < 0 or args.weeks < 1 or args.simulate < 0 or args.equity < 0:
        raise UserError("--gap, --weeks, --simulate og --equity kan ikke være negative (uker ≥ 1)")
    cohort = read_cohort(args.cohort)
    munis = _features(args)
    codes = [str(c) for c in munis.codes]
    if args.model:
        model = OutcomeModel.load(args.model)
    else:
        from bliatlas.settlement import synthetic as syn

        store = _store(args)
        try:
            targets = syn.CalibrationTargets.load(store, munis)
        finally:
            store.close()
        extract, _, _ = syn.generate_extract(SYNTHETIC_TRAINING_PERSONS, targets, munis,
                                             seed=SYNTHETIC_TRAINING_SEED)
        model = OutcomeModel().fit(extract, munis)
    synthetic = bool(model.synthetic or cohort.synthetic)
    if synthetic:
        print("SYNTETISK: kohorten og/eller modellen bygger på syntetiske data; resultatene "
              "viser metoden, ikke virkelige utfall.")
    scores = model.predict_matrix(cohort, munis)
    n = len(cohort)
    if args.capacity == "vedtak":
        dec = np.nan_to_num(munis.vedtak, nan=0.0)
        ema_dec = np.nan_to_num(munis.ema_vedtak, nan=0.0)
        if args.scale is not None:
            cap = scaled_capacity(dec, n, args.scale)
            n_minors = max(int(cohort.unaccompanied_minor.sum()), 1)
            ema = scaled_capacity(ema_dec, n_minors, args.scale) if ema_dec.sum() else \
                np.zeros(len(codes), dtype=np.int64)
        else:
            cap, ema = dec.astype(np.int64), ema_dec.astype(np.int64)
        if args.support == "fastlege":
            support = np.nan_to_num(munis.gp_spare_capacity, nan=0.0) > 0
        else:
            support = np.ones(len(codes), dtype=bool)
        cap_label = "kommunenes vedtak 2024" + (
            f", skalert til kohorten + {_pct(args.scale)}" if args.scale is not None else "")
    else:
        cap, ema, support = read_capacity(args.capacity, codes)
        ema = np.zeros(len(codes), dtype=np.int64) if ema is None else ema
        support = np.ones(len(codes), dtype=bool) if support is None else support
        cap_label = f"fra {args.capacity}"
    first = [int(h[0]) for h in cohort.households]
    hh_index = {str(cohort.household_id[r]): k for k, r in enumerate(first)}
    muni_index = {c: j for j, c in enumerate(codes)}
    locks = dict(_pairs(args.lock, "--lock", hh_index, muni_index))
    forbids = set(_pairs(args.forbid, "--forbid", hh_index, muni_index))
    problem = problem_from_cohort(cohort, codes, scores, cap, ema, support, locks, forbids)
    if args.capacity == "vedtak" and args.scale is not None:
        raised = ensure_tie_room(problem)
        if raised:
            print(f"Kapasitet hevet for fast tilknytning (familie) i {len(raised)} kommune(r): "
                  + ", ".join(raised[:10]) + (" …" if len(raised) > 10 else ""))
    if args.min_fill > 0:
        problem.request = np.nan_to_num(munis.anmodning, nan=0.0)
        problem.min_fill = args.min_fill
    if args.equity > 0:
        problem.equity_weight = args.equity
    print(f"Kohort: {n} personer i {cohort.n_households} husholdninger; {len(codes)} kommuner; "
          f"kapasitet {int(cap.sum())} personer ({cap_label}).")

    if args.online:
        from bliatlas.settlement.online import DEFAULT_PACE_TOLERANCE, simulate_year

        order = np.arange(problem.n_households)
        res = simulate_year(problem, weeks=args.weeks, rng=np.random.default_rng(args.seed),
                            order=order,
                            pace_tolerance=(DEFAULT_PACE_TOLERANCE if args.pace is None
                                            else args.pace))
        a = res.assignment
        print(f"Uke for uke ({args.weeks} uker, ankomst i filens rekkefølge), to-trinns "
              "stokastisk plassering (Ahani mfl., Operations Research 2024):")
        print(f"  forventet i arbeid/utdanning: {_num(res.two_stage)} personer = "
              f"{_pct(res.ratio_two_stage)} av beste plassering i ettertid "
              f"({_num(res.hindsight)}); grådig regel: {_pct(res.ratio_greedy)}"
              + (f" ({res.greedy_unplaced} husholdninger fikk ikke plass)"
                 if res.greedy_unplaced else "") + ".")
        print(f"  lengste uke: {res.week_seconds_max:.2f} s".replace(".", ","))
        print(f"  størst forsprang på jevn ukeplan: {_pct(res.pace_deviation)} av årstallet "
              "(kommuner med minst 20 plasser)")
        result_obj = res.two_stage
    else:
        result = assign.solve(problem, mip_gap=args.gap, time_limit=args.time_limit)
        a = result.assignment
        result_obj = result.objective
        print(f"Optimert plassering: forventet {_num(result.expected_outcome)} personer i arbeid "
              f"eller utdanning ({_pct(result.expected_outcome / n)}); avstand til øvre grense "
              f"{_pct(result.gap)} (grense {_num(result.bound)}); "
              + f"{result.seconds:.1f} s.".replace(".", ",", 1))
    greedy = assign.greedy_best(problem)
    capg = assign.greedy_capacity(problem)
    print(f"Grådig regel (beste ledige kommune): {_num(greedy.expected_outcome)}; "
          f"bare kapasitet: {_num(capg.expected_outcome)}.")
    if args.simulate:
        sims = simulate_outcomes(problem, {"optimert": a, "grådig": greedy.assignment,
                                           "bare kapasitet": capg.assignment},
                                 repetitions=max(args.simulate, 2), seed=args.seed)
        print(report_text(sims, n, synthetic))
    rng = np.random.default_rng(args.seed)
    randoms = [assign.random_within_capacity(problem, rng).assignment for _ in range(5)]
    rows = fairness_report(problem, {"optimert": a, "grådig": greedy.assignment,
                                     "tilfeldig": randoms}, person_groups(cohort))
    for line in report_lines(rows, synthetic):
        print(line)
    if args.explain:
        idx = sorted(set(list(range(min(args.explain, problem.n_households))) + list(locks)))
        for e in explain(problem, a, [str(x) for x in munis.names], households=idx):
            print("  " + e.text)
    if args.out:
        expl = explain(problem, a, [str(x) for x in munis.names])
        from bliatlas import export

        export.write_file(args.out, export.csv_bytes(
            ["household_id", "personer", "kommune", "kommunenavn", "forventet_andel",
             "forklaring", "syntetisk"],
            ([e.household, e.persons, e.municipality, e.name, round(e.predicted, 4), e.text,
              int(synthetic)] for e in expl)))
        print(f"Skrev {args.out} ({len(expl)} husholdninger).")
    del result_obj
    return 0
