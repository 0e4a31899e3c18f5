"""`bli settlement` — plan, train, predict, generate (and match, from the matching module).

The matching commands live with the matching code: a module listed in
:data:`EXTENSION_MODULES` that exposes ``add_match_command(subparsers)`` adds its
subcommand(s) to this group.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from typing import Any

import numpy as np

from bliatlas.errors import UserError
from bliatlas.format import fmt_share

#: Modules that add subcommands to `bli settlement` via ``add_match_command(sub)``.
EXTENSION_MODULES = ("bliatlas.settlement.match_cli",)


def add_commands(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "settlement",
        help="bosettingsplanlegging: fordeling, modell, syntetiske data",
        description="Bosettingsplanlegging (bosetting av flyktninger).",
    )
    sub = group.add_subparsers(dest="settlement_command", metavar="KOMMANDO")
    sub.required = True

    p = sub.add_parser("plan", help="fordel et antall personer på kommunene (heltallsprogram)")
    p.add_argument("--county", help="fylkesnummer (2024), f.eks. 46; utelatt = hele landet")
    p.add_argument("--total", type=int, required=True, help="antall personer å fordele")
    p.add_argument(
        "--weights", help="vekter, f.eks. anmodning=5,utfall=1,fastlege=0.3,erfaring=0.3"
    )
    p.add_argument("--max-per-1000", type=float, help="tak: personer per 1 000 innbyggere")
    p.add_argument("--min-per-1000", type=float, help="gulv: personer per 1 000 innbyggere")
    p.add_argument("--min-group", type=int, default=0, help="0 eller minst dette antallet")
    p.add_argument(
        "--district-priority",
        type=float,
        default=0.0,
        help="minste andel av totalen til distriktskommuner (sentralitet 5–6)",
    )
    p.add_argument(
        "--ignore-decision", action="store_true", help="ikke bruk kommunenes vedtak som øvre grense"
    )
    p.add_argument(
        "--undecided-per-1000", type=float, metavar="TAK",
        help="kommuner uten vedtak kan få høyst TAK personer per 1 000 innbyggere (standard: 0)",
    )
    p.add_argument(
        "--allow-excess", action="store_true",
        help="en total over vedtakene fordeles likevel (vedtakene skaleres opp; overskuddet "
             "vises per kommune); uten dette avvises planen med fordelingen i meldingen",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        help="navngitt scenario: navn=nøkkel:verdi;nøkkel:verdi (kan gjentas)",
    )
    p.add_argument("--model", help="modellmappe fra `bli settlement train` (utfallssignal)")
    p.add_argument("--cohort", help="kohort (CSV) modellen regner forventet utfall for")
    p.add_argument("--year", type=int, default=2024, help="år for kommunedata")
    p.add_argument("--out", help="skriv planen til .csv eller .xlsx")
    p.set_defaults(func=_plan)

    t = sub.add_parser("train", help="tren utfallsmodellen på et treningsuttrekk (CSV)")
    t.add_argument("--data", required=True, help="treningsuttrekk (CSV)")
    t.add_argument("--out", required=True, help="modellmappe å skrive")
    t.add_argument("--years", type=int, default=5, help="utfall etter N års botid (standard 5)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--kind", choices=("auto", "hierarkisk", "logistisk"), default="auto",
                   help="modelltype; auto = begge, og den med lavest log-tap på holdt-av "
                        "husholdninger beholdes")
    t.set_defaults(func=_train)

    r = sub.add_parser("predict", help="forventet utfall for en kohort i kommunene")
    r.add_argument("--model", required=True)
    r.add_argument("--cohort", required=True)
    r.add_argument(
        "--municipality",
        action="append",
        default=[],
        help="kommunenummer (kan gjentas); utelatt = rangering av alle kommuner",
    )
    r.add_argument("--out", help="skriv sannsynlighetene per person til CSV")
    r.set_defaults(func=_predict)

    g = sub.add_parser("generate", help="lag en syntetisk kohort eller et treningsuttrekk")
    g.add_argument("--persons", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", required=True)
    g.add_argument(
        "--extract",
        action="store_true",
        help="treningsuttrekk med kommune, botid og utfall (syntetisk)",
    )
    g.set_defaults(func=_generate)

    for name in EXTENSION_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).add_match_command(sub)


def _store(args: argparse.Namespace) -> Any:
    from bliatlas.store import database_path, open_store

    path = database_path(args.database)
    if not path.exists():
        raise UserError(f"{path}: databasen finnes ikke; kjør `bli import ../shared/data` først")
    return open_store(path, read_only=True)


def _features(args: argparse.Namespace, year: int = 2024) -> Any:
    from bliatlas.settlement.features import municipality_features

    store = _store(args)
    try:
        return municipality_features(store, year=year)
    finally:
        store.close()


def _pct(v: float) -> str:
    return fmt_share(v, 1)


def _plan(args: argparse.Namespace) -> int:
    from bliatlas.settlement.plan import (
        SOURCE_LINE,
        PlanParameters,
        comparison,
        make_plan,
        parameter_lines,
        parse_scenario,
        parse_weights,
        write_plans,
    )

    munis = _features(args, args.year)
    scope = "hele landet"
    if args.county:
        munis = munis.in_county(args.county.zfill(2))
        scope = f"fylke {args.county.zfill(2)}"
    outcome = None
    synthetic = False
    if args.model:
        if not args.cohort:
            raise UserError("--model krever --cohort (personene modellen regner utfall for)")
        from bliatlas.settlement.cohort import read_cohort
        from bliatlas.settlement.models import OutcomeModels

        model = OutcomeModels.load(args.model)
        cohort = read_cohort(args.cohort)
        outcome = np.nanmean(model.predict("arbeid", cohort, munis), axis=0)
        synthetic = model.synthetic or cohort.synthetic
    elif args.cohort:
        raise UserError("--cohort brukes bare sammen med --model")
    base = PlanParameters.from_options(args, weights=parse_weights(args.weights),
                                       use_decision=not args.ignore_decision)
    params = [base] + [parse_scenario(s, base) for s in args.scenario]
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise UserError("scenarienavnene må være ulike (grunnlag er brukt av hovedvalgene)")
    plans = [make_plan(munis, p, outcome, synthetic, scope) for p in params]
    for plan in plans:
        for w in plan.warnings:
            print(f"ADVARSEL (scenario «{plan.parameters.name}»): {w}")
    if synthetic:
        print("SYNTETISK: utfallssignalet bygger på syntetiske data.")
    for plan in plans:
        for line in parameter_lines(plan):
            print(line)
        print()
    if len(plans) == 1:
        for row in plans[0].rows:
            if row.persons > 0 or args.county:
                print(row.reason)
        print(f"Sum: {plans[0].total} personer")
    else:
        header = ["kommune", *names]
        widths = [max(20, *(len(r.name) for r in plans[0].rows))] + [max(8, len(n)) for n in names]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for rec in comparison(plans):
            vals = [rec["kommune"], *(str(rec[n]) for n in names)]
            if any(rec[n] for n in names):
                print("  ".join(v.ljust(w) for v, w in zip(vals, widths)))
        print(
            "  ".join(v.ljust(w) for v, w in zip(["Sum", *(str(p.total) for p in plans)], widths))
        )
    print(SOURCE_LINE)
    if args.out:
        write_plans(plans, args.out)
        print(f"Skrev {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from bliatlas.settlement.cohort import read_training
    from bliatlas.settlement.models import train, validation_lines

    if not 1 <= args.years <= 30:
        raise UserError("--years: forventet 1–30 år")
    extract = read_training(args.data)
    munis = _features(args)
    models = train(extract, munis, kind=args.kind, years=args.years, seed=args.seed)
    models.save(args.out)
    for line in validation_lines(models):
        print(line)
    print(f"Lagret modellen i {args.out}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from bliatlas.settlement.cohort import read_cohort
    from bliatlas.settlement.models import OutcomeModels

    cohort = read_cohort(args.cohort)
    model = OutcomeModels.load(args.model)
    munis = _features(args)
    if model.synthetic or cohort.synthetic:
        print("SYNTETISK: modellen og/eller kohorten bygger på syntetiske data.")
    print(f"Sannsynlighet for å være i arbeid eller utdanning etter {model.years} år "
          "(personer 15–74 år da; andre står tomme).")
    if args.municipality:
        idx = [munis.index(c) for c in args.municipality]
        sub = munis.subset(np.array(idx))
        probs = model.predict("arbeid", cohort, sub)
        for k, j in enumerate(idx):
            print(
                f"{munis.codes[j]} {munis.names[j]}: snitt "
                f"{_pct(float(np.nanmean(probs[:, k])))} for "
                f"{int((~np.isnan(probs[:, k])).sum())} personer"
            )
        if len(cohort) <= 50:
            for i in range(len(cohort)):
                vals = ", ".join(_pct(float(v)) for v in probs[i])  # '–' outside 15–74
                print(f"  {cohort.person_id[i]} (husholdning {cohort.household_id[i]}): {vals}")
    else:
        sub = munis
        probs = model.predict("arbeid", cohort, munis)
        mean = np.nanmean(probs, axis=0)
        order = np.argsort(-mean)
        print("Kommunene med høyest forventet utfall for kohorten:")
        for rank, j in enumerate(order[:10], start=1):
            print(f"  {rank:>3}. {munis.codes[j]} {munis.names[j]}: {_pct(float(mean[j]))}")
        print("Kommunene med lavest forventet utfall:")
        for rank, j in enumerate(order[-5:], start=len(order) - 4):
            print(f"  {rank:>3}. {munis.codes[j]} {munis.names[j]}: {_pct(float(mean[j]))}")
    if args.out:
        from bliatlas import export

        flag = int(model.synthetic or cohort.synthetic)
        export.write_file(args.out, export.csv_bytes(
            ["person_id", "household_id", *sub.codes.tolist(), "syntetisk"],
            ([cohort.person_id[i], cohort.household_id[i],
              *(round(float(v), 4) for v in probs[i]), flag] for i in range(len(cohort)))))
        print(f"Skrev {args.out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.cohort import write_cohort

    if args.persons < 1:
        raise UserError("--persons må være minst 1")
    store = _store(args)
    try:
        from bliatlas.settlement.features import municipality_features

        munis = municipality_features(store)
        targets = syn.CalibrationTargets.load(store, munis)
    finally:
        store.close()
    print(syn.SYNTHETIC_NOTE)
    if args.extract:
        _, extract, bofast, bofast_fylke, _ = syn.generate_world(args.persons, targets, munis,
                                                                args.seed)
        syn.write_extract(extract, bofast, args.out, bofast_fylke)
        cohort = extract.cohort
        print("Kalibrering (publisert mot simulert):")
        for row in syn.calibration_check(extract, targets, munis, bofast):
            print(
                f"  {row['mål']:<10} {row['gruppe']:<14} {row['botid']:<7} "
                f"publisert {_pct(row['publisert'])}  simulert {_pct(row['simulert'])}  "
                f"(n={row['antall']})"
            )
    else:
        cohort = syn.generate_cohort(args.persons, targets, munis, args.seed)
        write_cohort(cohort, args.out)
    print(
        f"Skrev {len(cohort)} personer i {cohort.n_households} husholdninger til {args.out} "
        "(kolonnen syntetisk = 1)"
    )
    return 0
