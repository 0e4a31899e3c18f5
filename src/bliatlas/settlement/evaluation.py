"""Honest evaluation of placements: predicted beside realised, with intervals.

Every gain the tool states is a ratio of *rates* over the persons an outcome is defined for
(``arbeid``: aged 15–74 at measurement; ``bofast``: everyone) who were placed, against
random placement within the same capacity. Two measurements, always side by side:

* **predicted** — the outcome model's own probabilities under each placement. This is what
  the optimiser maximised, so it is optimistic by construction (it partly chases the
  model's noise); it is labelled as the model's prediction, never as a result;
* **realised** — outcomes drawn from held-out truth under each placement. Only the
  synthetic world (:class:`~.synthetic.SyntheticWorld`) has a truth for every municipality,
  so a realised gain is always SYNTETISK; for an uploaded cohort the realised figure shown is
  the model's back-test (:mod:`~.backtest`), not a measurement on that cohort.

Intervals (95 %): :data:`REPETITIONS` bootstrap repetitions; each resamples the cohort's
households with replacement (the cohort is a sample of the people who could come), draws
every person's outcome from the truth under each placement (realised only), and uses one
random placement from a pool of fresh draws (random placement varies). The interval is the
2.5–97.5 percentile of the repetitions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bliatlas.format import fmt_share

REPETITIONS = 200


@dataclass
class RuleFigures:
    """One placement rule, one outcome."""

    rule: str
    outcome: str
    persons: int  # persons the outcome is defined for, placed by this rule
    unplaced_households: int
    predicted_rate: float
    predicted_rate_ci: tuple[float, float]
    predicted_gain: float | None  # over random (None for random itself)
    predicted_gain_ci: tuple[float, float] | None
    realised_rate: float | None = None  # SYNTETISK truth; None without one
    realised_rate_ci: tuple[float, float] | None = None
    realised_gain: float | None = None
    realised_gain_ci: tuple[float, float] | None = None

    @property
    def surviving_share(self) -> float | None:
        """Realised gain / predicted gain: how much of the predicted gain survives."""
        if self.realised_gain is None or not self.predicted_gain:
            return None
        return self.realised_gain / self.predicted_gain


@dataclass
class Evaluation:
    outcome: str
    rules: list[RuleFigures]
    repetitions: int
    random_draws: int
    synthetic_truth: bool
    calibration: list[dict[str, float]] = field(default_factory=list)  # optimised placement

    def rule(self, name: str) -> RuleFigures:
        return next(r for r in self.rules if r.rule == name)


def _ci(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def evaluate_placements(
    households: Sequence[Sequence[int]],
    predicted: np.ndarray,
    placements: Mapping[str, np.ndarray],
    random_placements: Sequence[np.ndarray],
    truth: np.ndarray | None = None,
    outcome: str = "arbeid",
    repetitions: int = REPETITIONS,
    seed: int = 0,
    random_name: str = "tilfeldig innenfor kapasitet",
) -> Evaluation:
    """Predicted and (with ``truth``) realised rates and gains over random.

    ``predicted`` and ``truth`` are (persons, municipalities) probabilities with nan for
    persons outside the outcome's range; placements give a municipality per household
    (−1 = not placed: left out of the rates, counted in ``unplaced_households``)."""
    if not random_placements:
        raise ValueError("at least one random placement is needed")
    rng = np.random.default_rng(seed)
    n_h = len(households)
    hh_of = np.empty(int(sum(len(h) for h in households)), dtype=np.int64)
    for h, members in enumerate(households):
        hh_of[np.asarray(members, dtype=np.int64)] = h
    scope = ~np.isnan(predicted[:, 0])
    persons = np.arange(len(hh_of))

    def person_values(a: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        muni = np.asarray(a, dtype=np.int64)[hh_of]
        ok = scope & (muni >= 0)
        v = np.zeros(len(hh_of))
        v[ok] = matrix[persons[ok], muni[ok]]
        return v, ok

    all_rules = {random_name: None, **placements}
    pred_vals = {name: person_values(a, predicted) for name, a in placements.items()}
    true_vals = ({name: person_values(a, truth) for name, a in placements.items()}
                 if truth is not None else {})
    rand_pred = [person_values(a, predicted) for a in random_placements]
    rand_true = [person_values(a, truth) for a in random_placements] if truth is not None \
        else []
    stats: dict[str, dict[str, list[float]]] = {
        n: {"pr": [], "pg": [], "rr": [], "rg": []} for n in all_rules}
    for _ in range(repetitions):
        w_h = np.bincount(rng.integers(0, n_h, n_h), minlength=n_h).astype(float)
        w = w_h[hh_of]
        k = int(rng.integers(0, len(random_placements)))
        u = rng.random(len(hh_of))

        def rate(v: np.ndarray, ok: np.ndarray, draw: bool, w: np.ndarray = w,
                 u: np.ndarray = u) -> float:
            den = float((w * ok).sum())
            if den <= 0:
                return math.nan
            num = (w * ok * (u < v)).sum() if draw else (w * ok * v).sum()
            return float(num) / den

        r_pred = rate(*rand_pred[k], draw=False)
        stats[random_name]["pr"].append(r_pred)
        r_true = math.nan
        if truth is not None:
            r_true = rate(*rand_true[k], draw=True)
            stats[random_name]["rr"].append(r_true)
        for name in placements:
            p = rate(*pred_vals[name], draw=False)
            stats[name]["pr"].append(p)
            stats[name]["pg"].append(p / r_pred - 1)
            if truth is not None:
                t = rate(*true_vals[name], draw=True)
                stats[name]["rr"].append(t)
                stats[name]["rg"].append(t / r_true - 1)
    rules = []
    for name in all_rules:
        st = {k: np.array(v) for k, v in stats[name].items()}
        a = placements.get(name)
        if a is None:
            ok = person_values(random_placements[0], predicted)[1]
            unplaced = int(np.mean([(np.asarray(r) < 0).sum() for r in random_placements]))
        else:
            ok = pred_vals[name][1]
            unplaced = int((np.asarray(a) < 0).sum())
        rf = RuleFigures(
            name, outcome, int(ok.sum()), unplaced, float(np.nanmean(st["pr"])),
            _ci(st["pr"]),
            None if a is None else float(np.mean(st["pg"])),
            None if a is None else _ci(st["pg"]))
        if truth is not None:
            rf.realised_rate = float(np.mean(st["rr"]))
            rf.realised_rate_ci = _ci(st["rr"])
            if a is not None:
                rf.realised_gain = float(np.mean(st["rg"]))
                rf.realised_gain_ci = _ci(st["rg"])
        rules.append(rf)
    ev = Evaluation(outcome, rules, repetitions, len(random_placements), truth is not None)
    if truth is not None and placements:
        first = next(iter(placements))
        ev.calibration = placement_calibration(pred_vals[first], true_vals[first], seed)
    return ev


def placement_calibration(pred: tuple[np.ndarray, np.ndarray], true: tuple[np.ndarray,
                          np.ndarray], seed: int = 0, bins: int = 10) -> list[dict[str, float]]:
    """Deciles of the model's probability under a placement: mean predicted, mean true
    probability and the share realised in one draw of the outcomes."""
    p, ok = pred
    t, _ = true
    rng = np.random.default_rng(seed + 17)
    y = (rng.random(len(t)) < t).astype(float)
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[idx], kind="stable")]
    out = []
    for k, chunk in enumerate(np.array_split(order, bins)):
        if chunk.size:
            out.append({"desil": k + 1, "antall": int(chunk.size),
                        "predikert": float(p[chunk].mean()), "sann": float(t[chunk].mean()),
                        "realisert": float(y[chunk].mean())})
    return out


def _pct(x: float | None, decimals: int = 1) -> str:
    return fmt_share(x, decimals, unit="")


def gain_lines(ev: Evaluation) -> list[str]:
    """Norwegian lines: each rule's rate and gain over random, predicted beside realised."""
    label = {"arbeid": "i arbeid eller utdanning", "bofast": "bor fortsatt i fylket"}[ev.outcome]
    lines = []
    if ev.synthetic_truth:
        lines.append(f"SYNTETISK: {label}, andel blant plasserte personer utfallet gjelder for; "
                     "«predikert» er modellens egen forventning, «realisert» er utfall trukket "
                     "fra den syntetiske sannheten (95 % intervall, "
                     f"{ev.repetitions} gjentakelser):")
    else:
        lines.append(f"{label}: modellens predikerte andel (ikke målt; 95 % intervall, "
                     f"{ev.repetitions} gjentakelser):")
    for r in ev.rules:
        text = (f"  {r.rule}: predikert {_pct(r.predicted_rate)} % "
                f"({_pct(r.predicted_rate_ci[0])}–{_pct(r.predicted_rate_ci[1])})")
        if r.realised_rate is not None:
            text += (f", realisert {_pct(r.realised_rate)} % "
                     f"({_pct(r.realised_rate_ci[0])}–{_pct(r.realised_rate_ci[1])})")
        if r.predicted_gain is not None:
            text += (f"; gevinst over tilfeldig: predikert {_pct(r.predicted_gain)} % "
                     f"({_pct(r.predicted_gain_ci[0])} til {_pct(r.predicted_gain_ci[1])})")
            if r.realised_gain is not None:
                text += (f", realisert {_pct(r.realised_gain)} % "
                         f"({_pct(r.realised_gain_ci[0])} til {_pct(r.realised_gain_ci[1])})")
        if r.unplaced_households:
            text += f"; {r.unplaced_households} husholdninger fikk ikke plass"
        lines.append(text)
    return lines
