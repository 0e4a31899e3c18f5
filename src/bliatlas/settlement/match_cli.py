"""`bli settlement match`, `template` and `backtest` — matching from the command line.

Added to the `bli settlement` group by :func:`add_match_command` (see
:data:`bliatlas.settlement.cli.EXTENSION_MODULES`).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import UserError
from bliatlas.format import fmt_count, fmt_num, fmt_share


def add_match_command(sub: Any) -> None:
    m = sub.add_parser(
        "match",
        help="plasser husholdningene i en kohort i kommuner (optimering)",
        description=(
            "Plasserer husholdninger (aldri delt) i kommuner innenfor kapasiteten og maksimerer "
            "samlet forventet andel i arbeid eller utdanning (personer 15–74 år), eventuelt også "
            "at husholdningen blir boende i fylket. Sammenligner med grådig regel, bare "
            "kapasitet og tilfeldig plassering; gevinster vises som modellens prediksjon og, "
            "for syntetiske kohorter, realisert mot den syntetiske sannheten."
        ),
    )
    m.add_argument("cohort", metavar="KOHORT", help="kohortfil, CSV eller xlsx (se "
                   "`bli settlement template`)")
    m.add_argument("--county", help="fylkesnummer: plasser bare i fylkets kommuner")
    m.add_argument(
        "--capacity", default="andel",
        help="'andel' (standard: vedtakene skalert til kohortens andel av året, aldri over "
             "vedtaket), 'vedtak' (vedtakene slik de er) eller en kommuneprofil (CSV/xlsx med "
             "kolonnene kommune;kapasitet og valgfritt ema_kapasitet;kan_oppfolge;vgs_plasser;"
             "store_boliger)",
    )
    m.add_argument("--margin", type=float, default=None,
                   help="margin over kohortens andel ved --capacity andel (standard 0,15)")
    m.add_argument("--scale", type=float, metavar="MARGIN",
                   help="som --capacity andel --margin MARGIN (eldre navn)")
    m.add_argument("--profile", help="kommuneprofil (CSV/xlsx) med tilbud: ema_kapasitet, "
                   "kan_oppfolge/spesialisthelse, vgs_plasser, store_boliger")
    m.add_argument("--model", help="modellmappe fra `bli settlement train`; utelatt = syntetisk")
    m.add_argument("--weights", help="vekter for utfallene, f.eks. arbeid=1,bofast=0.5")
    m.add_argument("--support", choices=("alle", "fastlege"), default="alle",
                   help="hvilke kommuner kan ta imot oppfølgingsbehov: alle, eller de med "
                        "ledig fastlegekapasitet")
    m.add_argument("--online", action="store_true",
                   help="uke for uke: husholdningene kommer i filens rekkefølge")
    m.add_argument("--weeks", type=int, default=52, help="antall uker ved --online")
    m.add_argument("--forecast", type=float, default=1.0, metavar="FAKTOR",
                   help="ved --online: planlagt årsvolum som andel av det faktiske (1 = riktig "
                        "prognose, 0,8 = 20 %% for lav); placeren ser aldri det sanne antallet")
    m.add_argument("--pace", type=float, default=None, metavar="ANDEL",
                   help="ved --online: hvor langt foran en jevn ukeplan en kommune kan komme, "
                        "som andel av årstallet (standard 0,35; 1 = ingen grense)")
    m.add_argument("--lock", action="append", default=[], metavar="HUSHOLDNING=KOMMUNE")
    m.add_argument("--forbid", action="append", default=[], metavar="HUSHOLDNING=KOMMUNE")
    m.add_argument("--override", action="append", default=[], metavar="HUSHOLDNING",
                   help="la den faste tilknytningen gå foran regelen for denne husholdningen")
    m.add_argument("--floor", type=float, default=0.0,
                   help="gulv: minste andel av kapasiteten hver kommune skal få (0–1)")
    m.add_argument("--spread", type=float, default=0.0,
                   help="spredningsvekt: trekk per person en kommune får over en jevn andel")
    m.add_argument("--min-fill", type=float, default=0.0,
                   help="minste andel av anmodningen som skal fylles i hver kommune (0–1)")
    m.add_argument("--equity", type=float, default=0.0,
                   help="vekt på laveste gruppes forventede utfall (landgruppe)")
    m.add_argument("--wish-weight", type=float, default=1.0,
                   help="vekt for husholdningenes ønsker (kolonnene onske_1–onske_3)")
    m.add_argument("--gap", type=float, default=0.001, help="tillatt avstand til grensen")
    m.add_argument("--time-limit", type=float, default=60.0,
                   help="største løsningstid i sekunder (beste løsning og gap vises)")
    m.add_argument("--simulate", type=int, default=100,
                   help="gjentakelser i evalueringen (intervaller; 0 = ingen evaluering)")
    m.add_argument("--explain", type=int, default=5,
                   help="vis forklaring for de første N husholdningene")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", help="skriv tildelingen til CSV")
    m.add_argument("--capacity-out", help="skriv kapasitetsbruken per kommune til CSV")
    m.set_defaults(func=_match)

    t = sub.add_parser("template", help="skriv kohortmalen (xlsx eller CSV) med norske kolonner")
    t.add_argument("--out", required=True, help="kohortmal.xlsx eller kohortmal.csv")
    t.set_defaults(func=_template)

    b = sub.add_parser("backtest", help="SYNTETISK tilbaketest av modelltypene: tren på ett år, "
                       "plasser neste, mål mot sanne utfall")
    b.add_argument("--train-persons", type=int, default=20_000)
    b.add_argument("--persons", type=int, default=6_000, help="neste års kohort")
    b.add_argument("--weights", help="vekter for utfallene, f.eks. arbeid=1,bofast=0.5")
    b.add_argument("--repetitions", type=int, default=200)
    b.add_argument("--out", help="skriv resultatet som JSON")
    b.set_defaults(func=_backtest)


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


def _pct(x: float) -> str:
    return fmt_share(x, 1)


def _num(x: float) -> str:
    return fmt_num(x, 1)


def _synthetic_models(args: argparse.Namespace, munis: Any) -> tuple[Any, Any]:
    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.cli import _store
    from bliatlas.settlement.runs import synthetic_default

    store = _store(args)
    try:
        targets = syn.CalibrationTargets.load(store, munis)
    finally:
        store.close()
    return synthetic_default(munis, targets)


def _match(args: argparse.Namespace) -> int:
    from bliatlas.settlement import solvers
    from bliatlas.settlement.capacity import DEFAULT_MARGIN, capacity_use, concentration
    from bliatlas.settlement.cli import _features
    from bliatlas.settlement.cohort import read_cohort
    from bliatlas.settlement.evaluation import evaluate_placements, gain_lines
    from bliatlas.settlement.explain import explain
    from bliatlas.settlement.fairness import fairness_report, person_groups, report_lines
    from bliatlas.settlement.heuristics import (
        greedy_best,
        greedy_capacity,
        random_within_capacity,
    )
    from bliatlas.settlement.models import OutcomeModels, parse_weights
    from bliatlas.settlement.profiles import read_profile
    from bliatlas.settlement.rules import preference_report
    from bliatlas.settlement.runs import Settings, prepare, resource_use
    from bliatlas.settlement.simulate import LITERATURE

    if args.gap < 0 or args.weeks < 1 or args.simulate < 0:
        raise UserError("--gap, --weeks og --simulate kan ikke være negative (uker ≥ 1)")
    if not 0 < args.forecast <= 10:
        raise UserError("--forecast: forventet en faktor over 0 og høyst 10")
    cohort = read_cohort(args.cohort)
    munis_all = _features(args)
    mode, profile_path = args.capacity, args.profile
    if mode not in ("andel", "vedtak"):
        profile_path, mode = mode, "andel"
    margin = args.scale if args.scale is not None else (
        DEFAULT_MARGIN if args.margin is None else args.margin)
    settings = Settings(county=args.county, capacity_mode=mode, margin=margin,
                        support_mode=args.support, seed=args.seed, min_fill=args.min_fill,
                        floor_share=args.floor, spread_weight=args.spread,
                        equity_weight=args.equity, weights=parse_weights(args.weights),
                        preference_weight=args.wish_weight, time_limit=args.time_limit)
    settings.check()
    munis = munis_all.in_county(args.county.zfill(2)) if args.county else munis_all
    codes = [str(c) for c in munis.codes]
    profile = read_profile(profile_path, codes) if profile_path else None
    if args.model:
        models, world = OutcomeModels.load(args.model), None
    else:
        models, world = _synthetic_models(args, munis_all)
    synthetic = bool(models.synthetic or cohort.synthetic)
    if synthetic:
        print("SYNTETISK: kohorten og/eller modellen bygger på syntetiske data; resultatene "
              "viser metoden, ikke virkelige utfall.")
    print(f"Modell: {models.describe()}.")
    first = [int(h[0]) for h in cohort.households]
    hh_index = {str(cohort.household_id[r]): k for k, r in enumerate(first)}
    muni_index = {c: j for j, c in enumerate(codes)}
    locks = dict(_pairs(args.lock, "--lock", hh_index, muni_index))
    forbids = set(_pairs(args.forbid, "--forbid", hh_index, muni_index))
    overrides = set()
    for h in args.override:
        if h not in hh_index:
            raise UserError(f"--override {h!r}: husholdningen finnes ikke i kohorten")
        overrides.add(hh_index[h])
    prep = prepare(cohort, settings, munis_all, models, locks, forbids, overrides, profile)
    problem = prep.problem
    n = len(cohort)
    print(f"Kohort: {n} personer i {cohort.n_households} husholdninger; {len(codes)} kommuner; "
          f"kapasitet {int(problem.capacity.sum())} personer ({_capacity_label(prep)}).")
    for note in prep.notes:
        print("  " + note)
    if prep.raised:
        print(f"Kapasitet hevet innenfor vedtaket for fast tilknytning (familie) i "
              f"{fmt_count(len(prep.raised), 'kommune', 'kommuner')}: " + ", ".join(prep.raised[:10])
              + (" …" if len(prep.raised) > 10 else ""))
    if prep.conflicts:
        print(f"Konflikter mellom fast tilknytning og reglene ({len(prep.conflicts)}):")
        names = [str(x) for x in munis.names]
        for c in prep.conflicts[:20]:
            print("  " + c.text(names) + (" Valg: " + "; ".join(c.choices) if c.choices and not
                                          c.overridden else ""))
        if len(prep.conflicts) > 20:
            print(f"  … og {len(prep.conflicts) - 20} til")

    if args.online:
        from bliatlas.settlement.online import DEFAULT_PACE_TOLERANCE, simulate_year

        order = np.arange(problem.n_households)
        res = simulate_year(problem, weeks=args.weeks, rng=np.random.default_rng(args.seed),
                            order=order, forecast_factor=args.forecast,
                            pace_tolerance=(DEFAULT_PACE_TOLERANCE if args.pace is None
                                            else args.pace))
        a = res.assignment
        print(f"Uke for uke ({args.weeks} uker, ankomst i filens rekkefølge), to-trinns "
              "stokastisk plassering (Ahani mfl., Operations Research 2024) med prognose for "
              f"resten av året (planlagt volum {_num(args.forecast * 100)} % av det faktiske):")
        print(f"  modellens skår: {_num(res.two_stage)} = {_pct(res.ratio_two_stage)} av beste "
              f"plassering i ettertid ({_num(res.hindsight)}); grådig regel: "
              f"{_pct(res.ratio_greedy)}"
              + (f" ({res.greedy_unplaced} husholdninger fikk ikke plass)"
                 if res.greedy_unplaced else "") + ".")
        print(f"  lengste uke: {fmt_num(res.week_seconds_max, 2)} s"
              + f"; prognosefeil midt i året: {_pct(res.forecast_error_mid)}")
        print(f"  størst forsprang på jevn ukeplan: {_pct(res.pace_deviation)} av årstallet "
              "(kommuner med minst 20 plasser)")
        if res.unplaced:
            print(f"  {res.unplaced} husholdninger fikk ikke plass da de kom.")
    else:
        result = solvers.solve(problem, mip_gap=args.gap, time_limit=args.time_limit)
        a = result.assignment
        print(f"Optimert plassering: avstand til øvre grense {_pct(result.gap)} "
              f"({result.method}, {result.stats.get('step', '')}); "
              + f"{fmt_num(result.seconds, 1)} s.")
    greedy = greedy_best(problem)
    capg = greedy_capacity(problem)
    rng = np.random.default_rng(args.seed)
    randoms = [random_within_capacity(problem, rng).assignment for _ in range(12)]
    placements = {"optimert": a, "grådig (beste ledige)": greedy.assignment,
                  "bare kapasitet": capg.assignment}
    if args.simulate:
        for outcome in models.outcomes:
            if outcome != "arbeid" and not settings.weights.get(outcome):
                continue
            pred = models.predict(outcome, cohort, munis)
            truth = None
            if cohort.synthetic and world is not None:
                truth = (world.employment_matrix(cohort, munis.codes, models.years)
                         if outcome == "arbeid" else world.stay_matrix(cohort, munis.codes))
                if outcome == "arbeid":
                    truth = np.where(np.isnan(pred), np.nan, truth)
            ev = evaluate_placements(cohort.households, pred, placements, randoms, truth=truth,
                                     outcome=outcome, repetitions=max(args.simulate, 20),
                                     seed=args.seed)
            for line in gain_lines(ev):
                print(line)
        bt = models.metadata.get("backtest")
        if bt and not cohort.synthetic:
            print("Realisert gevinst kan ikke måles for en ekte kohort. Modellens tilbaketest "
                  f"(SYNTETISK): {bt.get('summary')}.")
        print(LITERATURE)
    use = capacity_use(codes, [str(x) for x in munis.names], prep.capacity.decision,
                       problem.capacity, problem.sizes, a, problem.fill_floor(), problem.target)
    arbeid = models.predict("arbeid", cohort, munis)
    with np.errstate(all="ignore"):
        conc = concentration(use, np.nanmean(arbeid, axis=0),
                             by_share=problem.target is not None)
    print("Fordeling: " + conc.text)
    pref = preference_report(cohort.household_wishes(), codes, [str(c) for c in munis.county],
                             a)
    if pref.with_wishes:
        print("Ønsker: " + pref.text())
    for r in resource_use(problem, a):
        if r["key"] != "ema":
            print(f"{r['label'][:1].upper()}{r['label'][1:]}: kohorten trenger {r['need']}"
                  + (f"; fullt brukt i {', '.join(r['binding'][:8])}" if r["binding"] else "")
                  + ".")
    rows = fairness_report(problem, {"optimert": a, "grådig": greedy.assignment,
                                     "tilfeldig": randoms}, person_groups(cohort),
                           scores=arbeid)
    for line in report_lines(rows, synthetic):
        print(line)
    names = [str(x) for x in munis.names]
    if args.explain:
        idx = sorted(set(list(range(min(args.explain, problem.n_households))) + list(locks)))
        for e in explain(problem, a, names, households=idx):
            print("  " + e.text)
    if args.out:
        expl = explain(problem, a, names)
        _write_csv(args.out, ["household_id", "personer", "kommune", "kommunenavn",
                              "forventet_andel", "forklaring", "syntetisk"],
                   [[e.household, e.persons, e.municipality, e.name, round(e.predicted, 4),
                     e.text, int(synthetic)] for e in expl])
        print(f"Skrev {args.out} ({len(expl)} husholdninger).")
    if args.capacity_out:
        _write_csv(args.capacity_out, ["kommunenummer", "kommune", "vedtak", "kapasitet",
                                       "gulv", "personer", "husholdninger", "status",
                                       "syntetisk"],
                   [[u.code, u.name, u.decision, u.capacity, u.floor, u.persons,
                     u.households, u.status, int(synthetic)] for u in use])
        print(f"Skrev {args.capacity_out} ({len(use)} kommuner).")
    return 0


def _capacity_label(prep: Any) -> str:
    from bliatlas.settlement.capacity import CAPACITY_MODES

    cap = prep.capacity
    text = CAPACITY_MODES[cap.mode]
    if cap.mode == "andel":
        text += f"; kohorten er {_pct(cap.share)} av vedtakene, margin {_pct(cap.margin)}"
    return text


def _write_csv(path: str, header: list[str], rows: list[list[Any]]) -> None:
    """Whole or not at all, text cells neutralised (:mod:`bliatlas.export`)."""
    from bliatlas import export

    export.write_file(path, export.csv_bytes(header, rows))


def _template(args: argparse.Namespace) -> int:
    from bliatlas.settlement.cohort import template_csv, template_xlsx

    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UserError(f"{args.out}: forventet .xlsx eller .csv")
    data = template_xlsx() if out.suffix.lower() == ".xlsx" else template_csv()
    from bliatlas import export

    export.write_file(out, data)
    print(f"Skrev kohortmalen til {args.out}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    import json

    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.backtest import report_lines, run_backtest
    from bliatlas.settlement.cli import _features, _store
    from bliatlas.settlement.models import parse_weights

    if not 1000 <= args.train_persons <= 200_000 or not 100 <= args.persons <= 50_000:
        raise UserError("--train-persons: 1 000–200 000; --persons: 100–50 000")
    munis = _features(args)
    store = _store(args)
    try:
        targets = syn.CalibrationTargets.load(store, munis)
    finally:
        store.close()
    report = run_backtest(targets, munis, train_persons=args.train_persons,
                          cohort_persons=args.persons, weights=parse_weights(args.weights),
                          repetitions=args.repetitions)
    for line in report_lines(report):
        print(line)
    if args.out:
        from bliatlas import export

        export.write_file(args.out, json.dumps(report.as_dict(), ensure_ascii=False, indent=2,
                                               default=float).encode("utf-8"))
        print(f"Skrev {args.out}")
    return 0
