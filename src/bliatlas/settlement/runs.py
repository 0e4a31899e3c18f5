"""Matching runs: the service behind the web planner, ``POST /api/bosetting/match`` and
``bli settlement match``.

A run is one cohort matched to the municipalities in scope (a county or the whole country)
with the solver (:mod:`~.solvers`), compared with greedy best, capacity-only and random
placement, and evaluated honestly (:mod:`~.evaluation`: predicted beside realised, gains
only over persons an outcome is defined for). :func:`start_run` is the one place a new run
starts and :func:`derived_run` re-solves after the planner's locks, forbids and overrides;
both go through the matching queue of :mod:`bliatlas.jobs`.

What a run is made of (all shown on the result):

* capacity (:mod:`~.capacity`): by default each decision scaled to the cohort's share of the
  year, never above the decision; or the decisions as they are; or a planner's profile file
  (:mod:`~.profiles`, which can also limit upper-secondary places and large dwellings and
  say which municipalities can follow up support needs);
* rules (:mod:`~.rules`): EMA decision for unaccompanied minors, support needs where they can
  be served, hard ties that never override those silently (conflicts reported per household,
  with the planner's choices), soft ties and stated wishes as bonuses;
* balance terms: a floor (minimum share of each municipality's capacity, or of IMDi's
  request), a spread weight, an equity weight across country groups;
* the outcome models (:mod:`~.models`): the setting ``BLI_SETTLEMENT_MODEL``
  (:mod:`bliatlas.settings`; a directory from ``bli settlement train``) when set, else the synthetic default: trained on a synthetic
  extract and chosen by the back-test (:mod:`~.backtest`) — both labelled SYNTETISK.

Synthetic cohorts (made by the generator, flagged ``syntetisk``) are scored on the synthetic
world's true outcomes as well; for other cohorts only the model's prediction exists, and the
realised figure shown is the model's back-test.
"""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import TooLargeError, UnprocessableError, UserError
from bliatlas.settlement.capacity import (
    CAPACITY_MODES,
    DEFAULT_MARGIN,
    DEFAULT_MODE,
    Capacity,
    capacities,
)
from bliatlas.settlement.cohort import Cohort
from bliatlas.settlement.features import MunicipalityTable
from bliatlas.settlement.models import DEFAULT_WEIGHTS, OUTCOMES, OutcomeModels
from bliatlas.settlement.problem import MatchProblem, MatchResult
from bliatlas.settlement.profiles import Profile
from bliatlas.settlement.rules import Conflict

MAX_PERSONS = 50_000
MAX_SYNTHETIC_PERSONS = 20_000
RANDOM_RUNS = 12
SYNTHETIC_TRAINING_PERSONS = 20_000
SYNTHETIC_TRAINING_SEED = 2024
#: Persons in the next-year cohort of the back-test that chooses the synthetic default model
#: (the full-size back-test is `bli settlement backtest` and the benchmark).
DEFAULT_BACKTEST_PERSONS = 2000
MIP_GAP = 1e-3
TIME_LIMIT = 60.0
SUPPORT_MODES = {
    "alle": "alle kommuner i utvalget",
    "fastlege": "kommuner med ledig fastlegekapasitet",
}
SYNTHETIC_MODEL_NOTE = (
    "SYNTETISK modell: trent på et syntetisk treningsuttrekk fra Bli-atlas sin generator "
    "(kalibrert til publiserte tall for sysselsetting etter botid og landgruppe og bofasthet "
    "per fylke), ikke på ekte registerdata; modelltypen er valgt ved tilbaketest."
)


@dataclass
class Settings:
    county: str | None = None
    capacity_mode: str = DEFAULT_MODE
    margin: float = DEFAULT_MARGIN
    support_mode: str = "alle"
    seed: int = 1
    min_fill: float = 0.0  # share of each municipality's request (anmodning), scaled
    floor_share: float = 0.0  # share of each municipality's capacity it must get at least
    spread_weight: float = 0.0  # per person placed ahead of an even fill
    equity_weight: float = 0.0  # weight on the lowest group mean (max-min across groups)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    preference_weight: float = 1.0
    time_limit: float = TIME_LIMIT

    def check(self) -> None:
        if self.capacity_mode not in CAPACITY_MODES:
            raise UserError(f"kapasitet: forventet {' eller '.join(CAPACITY_MODES)}, "
                            f"fikk {self.capacity_mode!r}")
        if self.support_mode not in SUPPORT_MODES:
            raise UserError(f"oppfølging: forventet {' eller '.join(SUPPORT_MODES)}, "
                            f"fikk {self.support_mode!r}")
        for name, v, hi in (("margin", self.margin, 5), ("minsteandel", self.min_fill, 1),
                            ("gulv", self.floor_share, 1), ("spredning", self.spread_weight, 10),
                            ("likhetsvekt", self.equity_weight, 10),
                            ("ønskevekt", self.preference_weight, 10),
                            ("tidsgrense", self.time_limit, 3600)):
            if not (math.isfinite(v) and 0 <= v <= hi):
                raise UserError(f"{name}: forventet et tall mellom 0 og {hi}, fikk {v!r}")
        unknown = [k for k in self.weights if k not in OUTCOMES]
        if unknown:
            raise UserError("vekter: ukjent utfall " + ", ".join(unknown))
        if not any(v > 0 for v in self.weights.values()):
            raise UserError("vekter: minst ett utfall må ha vekt over 0")


# -- models, municipalities and the synthetic world ----------------------------------------------
_model_lock = threading.Lock()
_models: dict[tuple[str, float], tuple[OutcomeModels, str, Any]] = {}


def municipalities() -> MunicipalityTable:
    from bliatlas.settlement.api import get_municipalities

    return get_municipalities()


def _store() -> Any:
    from bliatlas.serving import get_store

    return get_store()


_default_lock = threading.Lock()
_default_cache: dict[tuple, tuple[OutcomeModels, Any]] = {}


def synthetic_default(munis: MunicipalityTable, targets: Any
                      ) -> tuple[OutcomeModels, Any]:
    """The synthetic default model and the world it was trained in: a synthetic extract
    (:data:`SYNTHETIC_TRAINING_PERSONS`), both model kinds fitted, the kind chosen by the
    back-test on the next synthetic year (stored in the metadata). Cached in the process
    (it depends only on the published figures and the decisions)."""
    from bliatlas.settlement import synthetic as syn
    from bliatlas.settlement.backtest import run_backtest

    key = (munis.codes.tobytes(), np.nan_to_num(munis.vedtak).tobytes(),
           tuple(sorted(targets.employment.items())), SYNTHETIC_TRAINING_PERSONS,
           SYNTHETIC_TRAINING_SEED, DEFAULT_BACKTEST_PERSONS)
    with _default_lock:
        if key in _default_cache:
            return _default_cache[key]
    world, extract, *_ = syn.generate_world(SYNTHETIC_TRAINING_PERSONS, targets, munis,
                                            seed=SYNTHETIC_TRAINING_SEED)
    report = run_backtest(targets, munis, world_and_extract=(world, extract),
                          cohort_persons=DEFAULT_BACKTEST_PERSONS, repetitions=60,
                          time_limit=10.0)
    models = report.results[report.chosen].model
    models.metadata.update({"synthetic": True, "backtest": report.as_dict()})
    with _default_lock:
        _default_cache.clear()
        _default_cache[key] = (models, world)
    return models, world


def outcome_models(munis: MunicipalityTable | None = None) -> tuple[OutcomeModels, str, Any]:
    """(models, a Norwegian line describing them, the synthetic world or None), cached per
    process and model file / database."""
    from bliatlas import settings as program_settings
    from bliatlas.store import database_path

    munis = municipalities() if munis is None else munis
    model_dir = program_settings.get().settlement_model
    trained = str(model_dir) if model_dir else None
    if trained:
        key = (trained, Path(trained, "model.json").stat().st_mtime
               if Path(trained, "model.json").exists() else 0.0)
    else:
        path = database_path()
        key = (str(path), path.stat().st_mtime)
    with _model_lock:
        if key in _models:
            return _models[key]
        from bliatlas.settlement import synthetic as syn

        targets = syn.CalibrationTargets.load(_store(), munis)
        if trained:
            models = OutcomeModels.load(trained)
            label = f"Modell fra `bli settlement train`: {models.describe()}"
            if models.synthetic:
                label = "SYNTETISK: " + label + ", trent på syntetiske data"
            world = syn.generate_world(SYNTHETIC_TRAINING_PERSONS, targets, munis,
                                       seed=SYNTHETIC_TRAINING_SEED)[0]
        else:
            models, world = synthetic_default(munis, targets)
            label = SYNTHETIC_MODEL_NOTE + " " + models.describe() + "."
        _models.clear()
        _models[key] = (models, label, world)
        return _models[key]


def synthetic_cohort(persons: int, seed: int, county: str | None = None) -> Cohort:
    """A synthetic cohort from the calibrated generator, over the municipalities with a
    decision (vedtak > 0) — in ``county`` when given — so that its ties point to
    municipalities that can take the household."""
    from bliatlas.settlement import synthetic as syn

    if not 1 <= persons <= MAX_SYNTHETIC_PERSONS:
        raise UserError(f"antall personer: forventet 1–{MAX_SYNTHETIC_PERSONS}, fikk {persons}")
    munis = municipalities()
    targets = syn.CalibrationTargets.load(_store(), munis)
    if county:
        munis = munis.in_county(county.zfill(2))
    munis = munis.subset(np.nan_to_num(munis.vedtak, nan=0.0) > 0)
    return syn.generate_cohort(persons, targets, munis, seed=seed)


REFERENCE_PERSONS = 2000
REFERENCE_SEED = 1
_reference: dict[tuple[str, float], np.ndarray] = {}


def reference_outcome(munis: MunicipalityTable) -> tuple[np.ndarray, bool, str]:
    """Mean predicted outcome (arbeid, persons 15–74) per municipality of ``munis`` for a
    synthetic reference cohort (:data:`REFERENCE_PERSONS` persons), whether the signal is
    synthetic, and the model's description. The plan page's outcome signal."""
    from bliatlas.store import database_path

    everyone = municipalities()
    models, label, _ = outcome_models(everyone)
    path = database_path()
    key = (str(path), path.stat().st_mtime)
    with _model_lock:
        mean = _reference.get(key)
    if mean is None:
        cohort = synthetic_cohort(REFERENCE_PERSONS, REFERENCE_SEED)
        mean = np.nanmean(models.predict("arbeid", cohort, everyone), axis=0)
        with _model_lock:
            _reference.clear()
            _reference[key] = mean
    pos = {c: j for j, c in enumerate(everyone.codes.tolist())}
    return mean[[pos[c] for c in munis.codes.tolist()]], True, label


# -- preparing a problem -------------------------------------------------------------------
@dataclass
class Prepared:
    problem: MatchProblem
    munis: MunicipalityTable  # in scope
    capacity: Capacity
    scores: np.ndarray  # (persons, municipalities in scope) float32
    conflicts: list[Conflict]
    raised: list[str]  # municipalities whose capacity was raised for ties (within decision)
    notes: list[str]


def prepare(cohort: Cohort, settings: Settings, munis_all: MunicipalityTable,
            models: OutcomeModels, locks: dict[int, int] | None = None,
            forbids: set[tuple[int, int]] | None = None, overrides: set[int] | None = None,
            profile: Profile | None = None, scores: np.ndarray | None = None) -> Prepared:
    """The matching problem for ``cohort`` under ``settings`` (see the module docstring)."""
    from bliatlas.settlement.capacity import overflow_penalty
    from bliatlas.settlement.rules import (
        PREFERENCE_BONUS,
        SOFT_TIE_BONUS,
        apply_tie_rules,
        cohort_problem,
        preference_bonuses,
        raised_municipalities,
    )

    settings.check()
    munis = munis_all.in_county(settings.county.zfill(2)) if settings.county else munis_all
    if scores is None:
        scores = models.score_matrix(cohort, munis, settings.weights).astype(np.float32)
    n_minors = int(cohort.unaccompanied_minor.sum())
    cap = capacities(munis.vedtak, munis.ema_vedtak, munis.anmodning, len(cohort), n_minors,
                     settings.capacity_mode, settings.margin)
    notes = list(cap.notes)
    persons_cap, minor_cap = cap.persons, cap.minors
    if profile is not None:
        if profile.capacity is not None:
            persons_cap = profile.capacity
            notes.append(f"Kapasitet fra kommuneprofilen {profile.source}.")
        if profile.minor_capacity is not None:
            minor_cap = profile.minor_capacity
        notes += profile.notes
    if profile is not None and profile.can_support is not None:
        can_support = profile.can_support
    elif settings.support_mode == "fastlege":
        can_support = munis.gp_has_spare()
    else:
        can_support = np.ones(len(munis), dtype=bool)
    codes = [str(c) for c in munis.codes]
    problem, outside = cohort_problem(cohort, codes, scores.astype(float), persons_cap,
                                      minor_cap, can_support, locks, forbids)
    if profile is not None:
        problem.resources = profile.resources(cohort)
    base = persons_cap
    if cap.share_target is not None and (profile is None or profile.capacity is None):
        problem.target = cap.share_target.astype(float)
        bonus = SOFT_TIE_BONUS + settings.preference_weight * PREFERENCE_BONUS[0]
        problem.target_weight = overflow_penalty(scores, bonus)
        base = cap.share_target
    if settings.floor_share > 0:
        problem.floor = np.floor(settings.floor_share * base + 1e-9).astype(np.int64)
    if settings.min_fill > 0:
        problem.request = cap.request
        problem.min_fill = settings.min_fill
    problem.spread_weight = settings.spread_weight
    problem.equity_weight = settings.equity_weight
    problem.preferences = preference_bonuses(cohort.household_wishes(), problem.sizes, codes,
                                             [str(c) for c in munis.county],
                                             settings.preference_weight)
    before = problem.capacity.copy()
    decision = cap.decision if profile is None or profile.capacity is None else None
    conflicts = apply_tie_rules(problem, decision, overrides or set(), outside)
    raised = raised_municipalities(before, problem.capacity, [str(x) for x in munis.names])
    if problem.target is not None:
        # households with relatives count inside the share of their municipality
        tied = np.zeros(problem.n_munis)
        for h, j in problem.hard_ties.items():
            tied[j] += problem.sizes[h]
        raised += raised_municipalities(problem.target, np.maximum(problem.target, tied),
                                        [str(x) for x in munis.names])
        problem.target = np.maximum(problem.target, tied)
    # the float32 matrix is shared with the run (no second copy); the problem holds the
    # float64 one the solvers need, released when the run is done (see solve_run)
    return Prepared(problem, munis, cap, np.asarray(scores, dtype=np.float32), conflicts, raised,
                    notes)


# -- a run ------------------------------------------------------------------------------------------
@dataclass
class RuleOutcome:
    name: str
    expected: float  # model's sum of scores over placed persons
    ci: float = 0.0  # half-width of a 95 % interval (random placement)
    runs: int = 1
    unplaced: int = 0  # households the rule found no room for (mean over draws)


@dataclass
class MatchRun:
    id: str
    cohort: Cohort
    munis: MunicipalityTable
    scores: np.ndarray  # float32 (persons, munis)
    settings: Settings
    model_label: str
    synthetic: bool
    prepared: Prepared | None = None
    profile: Profile | None = None
    locks: dict[int, int] = field(default_factory=dict)
    forbids: set[tuple[int, int]] = field(default_factory=set)
    overrides: set[int] = field(default_factory=set)
    result: MatchResult | None = None
    rules: list[RuleOutcome] = field(default_factory=list)
    evaluations: dict[str, Any] = field(default_factory=dict)  # outcome -> Evaluation
    backtest: dict[str, Any] | None = None  # the model's back-test (for non-synthetic cohorts)
    fairness: list[Any] = field(default_factory=list)
    use: list[Any] = field(default_factory=list)  # capacity.UseRow
    concentration: Any = None
    preferences: Any = None  # rules.PreferenceReport
    resources: list[dict[str, Any]] = field(default_factory=list)
    household_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    created: float = 0.0
    years: int = 5  # the outcome model's years of residence

    @property
    def nbytes(self) -> int:
        """Bytes of the (persons × municipalities) matrices the run holds (counted once
        when shared)."""
        held = {id(self.scores): self.scores}
        if self.prepared is not None:
            for m in (self.prepared.scores, self.prepared.problem.scores):
                held[id(m)] = m
        return int(sum(m.nbytes for m in held.values()))

    @property
    def capacity(self) -> np.ndarray:
        assert self.prepared is not None
        return self.prepared.problem.capacity

    @property
    def conflicts(self) -> list[Conflict]:
        return [] if self.prepared is None else self.prepared.conflicts

    def household_index(self, household_id: str) -> int:
        hits = np.flatnonzero(self.household_ids == household_id.strip())
        if hits.size == 0:
            raise UserError(f"husholdning: ukjent id {household_id!r} i denne kohorten")
        return int(hits[0])

    def muni_index(self, code: str) -> int:
        hits = np.flatnonzero(self.munis.codes == code.strip())
        if hits.size == 0:
            raise UserError(f"kommune: {code!r} er ikke blant kommunene i utvalget")
        return int(hits[0])


def start_run(cohort: Cohort, settings: Settings, profile: Profile | None = None) -> MatchRun:
    """A new run: predict, prepare, solve, compare, evaluate. The one place a run starts,
    through the matching queue (:mod:`bliatlas.jobs`: bounded concurrency, 429 when full, a
    memory ceiling per run checked before anything is allocated)."""
    from bliatlas import jobs

    settings.check()
    if len(cohort) > MAX_PERSONS:
        raise TooLargeError(f"{len(cohort)} personer; høyst {MAX_PERSONS} per kjøring")
    n_munis = (len(municipalities().in_county(settings.county.zfill(2))) if settings.county
               else len(municipalities()))
    return jobs.matching().run(lambda: _start_run(cohort, settings, profile),
                               memory=jobs.matching_memory(len(cohort), n_munis))


def _start_run(cohort: Cohort, settings: Settings, profile: Profile | None) -> MatchRun:
    import time

    everyone = municipalities()
    munis = everyone.in_county(settings.county.zfill(2)) if settings.county else everyone
    models, label, _ = outcome_models(everyone)
    try:
        scores = models.score_matrix(cohort, munis, settings.weights).astype(np.float32)
    except UserError as exc:
        raise UnprocessableError(str(exc)) from None
    first = np.array([h[0] for h in cohort.households], dtype=np.int64)
    run = MatchRun(id=secrets.token_urlsafe(12), cohort=cohort, munis=munis, scores=scores,
                   settings=settings, model_label=label,
                   synthetic=bool(cohort.synthetic or models.synthetic), profile=profile,
                   household_ids=cohort.household_id[first].astype(object),
                   created=time.monotonic())
    return solve_run(run)


def derived_run(old: MatchRun, locks: dict[int, int], forbids: set[tuple[int, int]],
                overrides: set[int] | None = None) -> MatchRun:
    """A new run with other locks/forbids/overrides. Added restrictions are re-solved
    warm-started from the old solution (:func:`~.solvers.resolve`); anything else afresh."""
    import time

    overrides = set(old.overrides if overrides is None else overrides)
    run = MatchRun(**{**old.__dict__, "id": secrets.token_urlsafe(12), "locks": dict(locks),
                      "forbids": set(forbids), "overrides": overrides, "result": None,
                      "rules": [], "evaluations": {}, "fairness": [], "use": [],
                      "prepared": None, "created": time.monotonic()})
    only_added = (set(old.locks.items()) <= set(locks.items()) and old.forbids <= forbids
                  and overrides == old.overrides)
    from bliatlas import jobs

    return jobs.matching().run(
        lambda: solve_run(run, previous=old.result if only_added else None),
        memory=jobs.matching_memory(len(old.cohort), len(old.munis)))


def solve_run(run: MatchRun, previous: MatchResult | None = None) -> MatchRun:
    """Solve the run and its comparisons: greedy rules, random placements, the honest
    evaluation per outcome, fairness by group, capacity use, wishes."""
    from bliatlas.settlement import solvers
    from bliatlas.settlement.capacity import capacity_use, concentration
    from bliatlas.settlement.evaluation import evaluate_placements
    from bliatlas.settlement.fairness import fairness_report, person_groups
    from bliatlas.settlement.heuristics import (
        greedy_best,
        greedy_capacity,
        random_within_capacity,
    )
    from bliatlas.settlement.problem import InfeasibleError, NoPlacementFound
    from bliatlas.settlement.rules import preference_report

    models, _, world = outcome_models()
    try:
        prep = prepare(run.cohort, run.settings, municipalities(), models, run.locks,
                       run.forbids, run.overrides, run.profile, run.scores)
    except InfeasibleError as exc:
        raise UnprocessableError(str(exc)) from None
    run.prepared = prep
    run.years = models.years
    problem = prep.problem
    try:
        if previous is not None:
            result = solvers.resolve(problem, previous, mip_gap=MIP_GAP,
                                     time_limit=run.settings.time_limit)
        else:
            result = solvers.solve(problem, mip_gap=MIP_GAP, time_limit=run.settings.time_limit)
    except (InfeasibleError, NoPlacementFound) as exc:
        raise UnprocessableError(str(exc)) from None
    run.result = result
    placements = {"optimert": result.assignment}
    rules = [RuleOutcome("Optimert", result.expected_outcome)]
    for name, key, rule in (("Grådig: bare kapasitet (dagens praksis)", "bare kapasitet",
                             greedy_capacity),
                            ("Grådig: beste ledige kommune", "grådig", greedy_best)):
        r = rule(problem)
        rules.append(RuleOutcome(name, r.expected_outcome, unplaced=r.unplaced))
        placements[key] = r.assignment
    rng = np.random.default_rng(run.settings.seed)
    randoms = [random_within_capacity(problem, rng) for _ in range(RANDOM_RUNS)]
    vals = np.array([r.expected_outcome for r in randoms])
    rules.append(RuleOutcome("Tilfeldig innenfor kapasitet", float(vals.mean()),
                             1.96 * float(vals.std(ddof=1)) / math.sqrt(len(vals)),
                             len(vals), round(float(np.mean([r.unplaced for r in randoms])))))
    run.rules = rules
    random_a = [r.assignment for r in randoms]
    run.evaluations = {}
    truth_ok = run.cohort.synthetic and world is not None
    arbeid = None
    for outcome in models.outcomes:
        if not run.settings.weights.get(outcome) and outcome != "arbeid":
            continue
        pred = models.predict(outcome, run.cohort, run.munis)
        if outcome == "arbeid":
            arbeid = pred
        truth = None
        if truth_ok:
            truth = (world.employment_matrix(run.cohort, run.munis.codes, models.years)
                     if outcome == "arbeid" else world.stay_matrix(run.cohort, run.munis.codes))
            if outcome == "arbeid":
                truth = np.where(np.isnan(pred), np.nan, truth)
        reps = max(50, min(200, 400_000 // max(problem.n_households, 1)))
        run.evaluations[outcome] = evaluate_placements(
            run.cohort.households, pred, placements, random_a, truth=truth, outcome=outcome,
            repetitions=reps, seed=run.settings.seed)
        del pred, truth  # (persons × municipalities) each: free before the next outcome
    run.backtest = models.metadata.get("backtest")
    if arbeid is None:
        arbeid = models.predict("arbeid", run.cohort, run.munis)
    fair = {"optimert": result.assignment, "bare kapasitet": placements["bare kapasitet"],
            "tilfeldig": random_a}
    run.fairness = fairness_report(problem, fair, person_groups(run.cohort), scores=arbeid)
    names = [str(x) for x in run.munis.names]
    run.use = capacity_use([str(c) for c in run.munis.codes], names, prep.capacity.decision,
                           problem.capacity, problem.sizes, result.assignment,
                           problem.fill_floor(), problem.target)
    with np.errstate(all="ignore"):
        mean_outcome = np.nanmean(arbeid, axis=0)
    run.concentration = concentration(run.use, mean_outcome,
                                      by_share=problem.target is not None)
    run.preferences = preference_report(run.cohort.household_wishes(),
                                        [str(c) for c in run.munis.codes],
                                        [str(c) for c in run.munis.county], result.assignment)
    run.resources = resource_use(problem, result.assignment)
    # A finished run is kept in memory for its pages (run_store); it keeps one float32
    # score matrix, not the solver's float64 copy as well (bench_jobs.py: five queued
    # national runs otherwise held ~12 bytes per person × municipality cell each).
    problem.scores = run.scores
    return run


def resource_use(problem: MatchProblem, assignment: np.ndarray) -> list[dict[str, Any]]:
    """Per side capacity: how much the cohort needs, how much the placement uses where it is
    limited, and the municipalities where it binds."""
    from bliatlas.settlement.profiles import UNLIMITED

    out = []
    a = np.asarray(assignment)
    for r in problem.all_resources():
        used = np.bincount(a[a >= 0], weights=r.use[a >= 0], minlength=problem.n_munis)
        limited = r.capacity < UNLIMITED
        binding = [problem.muni_name(int(j)) for j in np.flatnonzero(
            limited & (used >= r.capacity) & (r.capacity >= 0) & (used > 0))]
        out.append({"key": r.key, "label": r.label, "need": int(r.use.sum()),
                    "offered": int(r.capacity[limited].sum()), "binding": binding})
    return out


# -- views of a solved run ---------------------------------------------------------------------
def municipality_totals(run: MatchRun) -> list[dict[str, Any]]:
    assert run.result is not None
    return [{"code": u.code, "name": u.name, "capacity": u.capacity, "decision": u.decision,
             "persons": u.persons, "households": u.households, "floor": u.floor,
             "share": u.share_of_capacity, "status": u.status, "over": u.over}
            for u in run.use]


def explanations(run: MatchRun, households: range | list[int], k: int = 3) -> list[Any]:
    """Where each household goes, the predicted outcome there and the ``k`` best
    alternatives, with why (:func:`~.explain.explain`)."""
    from bliatlas.settlement.explain import explain

    assert run.result is not None and run.prepared is not None
    return explain(run.prepared.problem, run.result.assignment,
                   [str(x) for x in run.munis.names], top=k, households=list(households))


ASSIGNMENT_COLUMNS = ("person_id", "household_id", "kommunenummer", "kommune",
                      "forventet_utfall", "beste_alternativ", "alternativ_utfall",
                      "forklaring", "syntetisk")


def assignment_rows(run: MatchRun) -> list[list[Any]]:
    """One row per person (:data:`ASSIGNMENT_COLUMNS`): the municipality, the model's score
    there, the household's best alternative (mean per person) and the explanation (for the
    CSV download; numbers as numbers, written in the chosen style by :mod:`bliatlas.export`)."""
    assert run.result is not None
    rows: list[list[Any]] = []
    expl = explanations(run, range(run.cohort.n_households), k=1)
    flag = int(run.synthetic)
    for h, e in enumerate(expl):
        alt = e.alternatives[0] if e.alternatives else None
        j = int(run.result.assignment[h])
        for i in run.cohort.households[h]:
            rows.append([run.cohort.person_id[i], e.household, e.municipality, e.name,
                         round(float(run.scores[i, j]), 4),
                         f"{alt.municipality} {alt.name}" if alt else "",
                         round(alt.predicted, 4) if alt else None, e.text, flag])
    return rows
