"""Back-test: train on one synthetic year, place the next, score on its true outcomes.

The synthetic world (:class:`~.synthetic.SyntheticWorld`) is calibrated on a historical
extract (year 1: households settled by today's practice, in proportion to the decisions,
outcomes drawn from the truth). Each model kind is trained on that extract; the next year's
cohort (year 2, new persons) is placed with the model — the matching the tool would do,
with the default capacity and rules — and with the comparison rules (greedy best,
capacity-only, random within capacity); every placement is then scored on year 2's *true*
outcomes (:mod:`~.evaluation`): predicted beside realised, with intervals, over persons the
outcome is defined for. The share of the predicted gain that survives, the calibration of
the model's probabilities under its own placement, and the held-out log-loss on year 2
under random placement come with it. The kind with the larger realised gain of the
optimised placement (``arbeid``) is the one chosen.

Everything here is SYNTETISK: it shows how much of the method's promise survives contact
with an outcome the model did not write, in a world whose effects are assumptions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bliatlas.format import fmt_num, fmt_share
from bliatlas.settlement.evaluation import Evaluation, evaluate_placements
from bliatlas.settlement.features import MunicipalityTable

DEFAULT_KINDS = ("logistisk", "hierarkisk")
TRAIN_PERSONS = 20_000
COHORT_PERSONS = 6_000
TRAIN_SEED = 2024
COHORT_SEED = 2025
RANDOM_DRAWS = 20


@dataclass
class KindResult:
    kind: str
    evaluations: dict[str, Evaluation]
    log_loss_next_year: float  # arbeid, persons at a random placement, true outcomes drawn
    fit_seconds: float
    solve_seconds: float
    model: Any = None  # the fitted OutcomeModels

    def gain(self, rule: str = "optimert", outcome: str = "arbeid") -> float:
        return self.evaluations[outcome].rule(rule).realised_gain or 0.0


@dataclass
class BacktestReport:
    results: dict[str, KindResult]
    chosen: str
    setup: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One Norwegian sentence for the chosen kind (stored with the model)."""
        r = self.results[self.chosen].evaluations["arbeid"].rule("optimert")
        surv = r.surviving_share
        return (f"optimert plassering ga {_pct(r.realised_gain)} % realisert gevinst over "
                f"tilfeldig ({_pct(r.realised_gain_ci[0])} til {_pct(r.realised_gain_ci[1])}) "
                f"mot {_pct(r.predicted_gain)} % predikert; "
                + (f"{_pct(surv, 0)} % av gevinsten holdt" if surv is not None else "")
                + f" (modelltype {self.chosen}, neste års syntetiske kohort på "
                f"{self.setup.get('cohort_persons')} personer)")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chosen": self.chosen, "setup": self.setup,
                               "criterion": "realisert gevinst over tilfeldig (arbeid) for "
                                            "optimert plassering, neste syntetiske år",
                               "kinds": {}}
        for k, res in self.results.items():
            out["kinds"][k] = {
                "log_loss_next_year": res.log_loss_next_year,
                "fit_seconds": round(res.fit_seconds, 2),
                "solve_seconds": round(res.solve_seconds, 2),
                "outcomes": {o: {r.rule: _rule_dict(r) for r in ev.rules}
                             for o, ev in res.evaluations.items()},
                "calibration_optimised": res.evaluations["arbeid"].calibration,
            }
        out["summary"] = self.summary()
        return out


def _rule_dict(r) -> dict[str, Any]:
    return {"persons": r.persons, "unplaced_households": r.unplaced_households,
            "predicted_rate": r.predicted_rate, "realised_rate": r.realised_rate,
            "predicted_gain": r.predicted_gain, "predicted_gain_ci": r.predicted_gain_ci,
            "realised_gain": r.realised_gain, "realised_gain_ci": r.realised_gain_ci,
            "surviving_share": r.surviving_share}


def _pct(x: float | None, decimals: int = 1) -> str:
    return fmt_share(x, decimals, unit="")


def run_backtest(targets: Any, munis: MunicipalityTable, kinds: tuple[str, ...] = DEFAULT_KINDS,
                 train_persons: int = TRAIN_PERSONS, cohort_persons: int = COHORT_PERSONS,
                 years: int = 5, train_seed: int = TRAIN_SEED, cohort_seed: int = COHORT_SEED,
                 weights: dict[str, float] | None = None, repetitions: int = 200,
                 random_draws: int = RANDOM_DRAWS, time_limit: float = 60.0,
                 world_and_extract: tuple[Any, Any] | None = None) -> BacktestReport:
    """The back-test over ``kinds`` (see the module docstring). ``world_and_extract`` reuses
    a world and its extract (from :func:`~.synthetic.generate_world`)."""
    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.heuristics import (
        greedy_best,
        greedy_capacity,
        random_within_capacity,
    )
    from bliatlas.settlement.models import DEFAULT_WEIGHTS, fit_models, log_loss
    from bliatlas.settlement.runs import Settings, prepare
    from bliatlas.settlement.solvers import solve

    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if world_and_extract is None:
        world, extract, *_ = syn.generate_world(train_persons, targets, munis, seed=train_seed)
    else:
        world, extract = world_and_extract
    decided = munis.subset(np.nan_to_num(munis.vedtak, nan=0.0) > 0)
    cohort = syn.generate_cohort(cohort_persons, targets, decided, seed=cohort_seed)
    truth = {"arbeid": world.employment_matrix(cohort, munis.codes, years),
             "bofast": world.stay_matrix(cohort, munis.codes)}
    results: dict[str, KindResult] = {}
    for kind in kinds:
        t0 = time.perf_counter()
        models = fit_models(extract, munis, kind, years, seed=train_seed)
        fit_s = time.perf_counter() - t0
        settings = Settings(weights=weights)
        prep = prepare(cohort, settings, munis, models)
        problem = prep.problem
        t1 = time.perf_counter()
        opt = solve(problem, time_limit=time_limit)
        solve_s = time.perf_counter() - t1
        placements = {"optimert": opt.assignment,
                      "grådig (beste ledige)": greedy_best(problem).assignment,
                      "bare kapasitet": greedy_capacity(problem).assignment}
        rng = np.random.default_rng(cohort_seed)
        randoms = [random_within_capacity(problem, rng).assignment for _ in range(random_draws)]
        evaluations = {}
        for outcome in models.outcomes:
            pred = models.predict(outcome, cohort, prep.munis)
            scope_codes = prep.munis.codes
            cols = np.array([int(np.flatnonzero(munis.codes == c)[0]) for c in scope_codes])
            t = truth[outcome][:, cols]
            if outcome == "arbeid":
                t = np.where(np.isnan(pred), np.nan, t)
            evaluations[outcome] = evaluate_placements(
                cohort.households, pred, placements, randoms, truth=t, outcome=outcome,
                repetitions=repetitions, seed=cohort_seed)
        # held-out log-loss on next year's truth, persons at a random placement
        a = randoms[0]
        hh_of = cohort.household_of_person()
        muni = a[hh_of]
        pred = models.predict("arbeid", cohort, prep.munis)
        ok = ~np.isnan(pred[:, 0]) & (muni >= 0)
        rows = np.flatnonzero(ok)
        p_true = truth["arbeid"][rows, cols[muni[rows]]]
        y = (np.random.default_rng(cohort_seed + 1).random(len(rows)) < p_true).astype(float)
        ll = log_loss(y, pred[rows, muni[rows]])
        results[kind] = KindResult(kind, evaluations, ll, fit_s, solve_s, models)
    chosen = max(results, key=lambda k: results[k].gain())
    setup = {"train_persons": train_persons, "cohort_persons": len(cohort),
             "cohort_households": cohort.n_households, "years": years,
             "train_seed": train_seed, "cohort_seed": cohort_seed, "weights": weights,
             "repetitions": repetitions, "random_draws": random_draws, "syntetisk": True}
    return BacktestReport(results, chosen, setup)


def report_lines(report: BacktestReport) -> list[str]:
    """The back-test as Norwegian lines (SYNTETISK)."""
    from bliatlas.settlement.evaluation import gain_lines

    lines = [("SYNTETISK tilbaketest: trent på ett syntetisk år, plassert neste års kohort "
              f"({report.setup['cohort_persons']} personer), målt mot dens sanne utfall.")]
    for kind, res in report.results.items():
        mark = " (valgt)" if kind == report.chosen else ""
        lines.append(f"Modelltype {kind}{mark}: log-tap neste år "
                     f"{fmt_num(res.log_loss_next_year, 4)}; trening "
                     f"{fmt_num(res.fit_seconds, 1)} s")
        for ev in res.evaluations.values():
            lines.extend("  " + x for x in gain_lines(ev))
        opt = res.evaluations["arbeid"].rule("optimert")
        if opt.surviving_share is not None:
            lines.append(f"  Andel av predikert gevinst som holdt: {_pct(opt.surviving_share, 0)} %")
        cal = res.evaluations["arbeid"].calibration
        if cal:
            lines.append("  Kalibrering under egen plassering (desil: predikert / sann / "
                         "realisert %):")
            lines.append("    " + "; ".join(
                f"{c['desil']}: {_pct(c['predikert'], 0)}/{_pct(c['sann'], 0)}/"
                f"{_pct(c['realisert'], 0)}" for c in cal))
    lines.append(f"Valgt modelltype: {report.chosen} (størst realisert gevinst for optimert "
                 "plassering).")
    return lines
