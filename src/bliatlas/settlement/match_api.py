"""Matching runs for the web planner and ``POST /api/bosetting/match``.

A *run* is one cohort (uploaded CSV or generated synthetic cohort) matched to the
municipalities in scope (a county or the whole country) within a capacity, with the
batch solver from :mod:`bliatlas.settlement.assign`, and compared with the
capacity-only greedy rule, the best-available greedy rule and random placement within
capacity. Runs are held in memory (never on disk) under a random id, in a bounded
cache (:data:`MAX_RUNS` runs and :data:`MAX_SCORE_BYTES` of score matrices); planners'
locks and forbids make a new run from an old one.

Choices made here, shown to the user on the page:

* capacity ``vedtak``: each municipality's 2024 decision (vedtak, persons) as it is;
  ``skalert``: the decisions scaled to the cohort size with a margin (for a cohort that
  is a sample of the year), rounded up;
* unaccompanied minors only within the decision for minors (ema_vedtak);
* support needs (``support_need``) only in municipalities the planner marks as able to
  serve them: all, or those with spare GP capacity (fastlege_reservekapasitet > 0) —
  the store has no direct measure of follow-up services;
* the problem is built by :func:`bliatlas.settlement.simulate.problem_from_cohort`: hard
  ties (``tie_kind = hard``) force the household to the municipality, soft ties add
  ``simulate.SOFT_TIE_BONUS`` per person there; with scaled capacity, capacities are
  raised where households with relatives would not fit (``simulate.ensure_tie_room``);
* the outcome model: the model trained by ``bli settlement train`` in
  ``$BLI_SETTLEMENT_MODEL`` when set, otherwise a model trained on a synthetic extract
  from the calibrated generator (:data:`SYNTHETIC_TRAINING_PERSONS` persons), labelled
  synthetic everywhere.
"""

from __future__ import annotations

import math
import re
import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bliatlas.errors import InputError, UserError
from bliatlas.settlement.cohort import Cohort, read_cohort
from bliatlas.settlement.features import MunicipalityTable
from bliatlas.settlement.predict import OutcomeModel

if TYPE_CHECKING:  # the solver module is imported when a run is solved
    from bliatlas.settlement import assign

router = APIRouter(prefix="/api/bosetting", tags=["bosetting"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PERSONS = 50_000
MAX_SYNTHETIC_PERSONS = 20_000
MAX_RUNS = 16
MAX_SCORE_BYTES = 600 * 1024 * 1024
RANDOM_RUNS = 10
SYNTHETIC_TRAINING_PERSONS = 20_000
SYNTHETIC_TRAINING_SEED = 2024
MIP_GAP = 1e-3
CAPACITY_MODES = {
    "vedtak": "kommunenes vedtak (personer) slik de er",
    "skalert": "vedtakene skalert til kohortens størrelse, med margin",
}
SUPPORT_MODES = {
    "alle": "alle kommuner i utvalget",
    "fastlege": "kommuner med ledig fastlegekapasitet",
}
SYNTHETIC_MODEL_NOTE = (
    "SYNTETISK modell: trent på et syntetisk treningsuttrekk fra Bli-atlas sin generator "
    "(kalibrert til publiserte tall for sysselsetting etter botid og landgruppe), ikke på "
    "ekte registerdata."
)


class UnprocessableError(UserError):
    """Valid input that cannot be matched (capacity too small, a tie outside the scope)."""

    http_status = 422


class TooLargeError(UserError):
    http_status = 413


# -- model and municipality data -------------------------------------------------------
_model_lock = threading.Lock()
_models: dict[tuple[str, float], tuple[OutcomeModel, str]] = {}


def outcome_model(munis: MunicipalityTable) -> tuple[OutcomeModel, str]:
    """The outcome model and a Norwegian line describing it (cached per process)."""
    from bliatlas import settings
    from bliatlas.store import database_path

    model_dir = settings.get().settlement_model
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
        if trained:
            model = OutcomeModel.load(trained)
            label = (f"Modell fra `bli settlement train` ({model.metadata.get('n_training', '?')} "
                     f"personer i treningsdata)")
            if model.synthetic:
                label = "SYNTETISK: " + label + ", trent på syntetiske data"
        else:
            from bliatlas.api.deps import get_store
            from bliatlas.settlement import synthetic as syn

            targets = syn.CalibrationTargets.load(get_store(), munis)
            extract, _, _ = syn.generate_extract(
                SYNTHETIC_TRAINING_PERSONS, targets, munis, seed=SYNTHETIC_TRAINING_SEED)
            model = OutcomeModel().fit(extract, munis)
            label = SYNTHETIC_MODEL_NOTE
        _models.clear()
        _models[key] = (model, label)
        return model, label


def municipalities() -> MunicipalityTable:
    from bliatlas.settlement.api import get_municipalities

    return get_municipalities()


def synthetic_cohort(persons: int, seed: int, county: str | None = None) -> Cohort:
    """A synthetic cohort from the calibrated generator, over the municipalities with a
    decision (vedtak > 0) — in ``county`` when given — so that its ties (relatives in a
    municipality) point to municipalities that can take the household."""
    from bliatlas.api.deps import get_store
    from bliatlas.settlement import synthetic as syn

    if not 1 <= persons <= MAX_SYNTHETIC_PERSONS:
        raise UserError(f"antall personer: forventet 1–{MAX_SYNTHETIC_PERSONS}, fikk {persons}")
    munis = municipalities()
    targets = syn.CalibrationTargets.load(get_store(), munis)
    if county:
        munis = munis.in_county(county.zfill(2))
    munis = munis.subset(np.nan_to_num(munis.vedtak, nan=0.0) > 0)
    return syn.generate_cohort(persons, targets, munis, seed=seed)


REFERENCE_PERSONS = 2000
REFERENCE_SEED = 1
_reference: dict[tuple[str, float], np.ndarray] = {}


def reference_outcome(munis: MunicipalityTable) -> tuple[np.ndarray, bool, str]:
    """Mean predicted outcome per municipality of ``munis`` for a synthetic reference cohort
    (:data:`REFERENCE_PERSONS` persons from the calibrated generator), with whether the
    signal is synthetic and the model's description. Used as the planner's outcome signal."""
    from bliatlas.store import database_path

    everyone = municipalities()
    model, label = outcome_model(everyone)
    path = database_path()
    key = (str(path), path.stat().st_mtime)
    with _model_lock:
        mean = _reference.get(key)
    if mean is None:
        cohort = synthetic_cohort(REFERENCE_PERSONS, REFERENCE_SEED)
        mean = model.predict_matrix(cohort, everyone).mean(axis=0)
        with _model_lock:
            _reference.clear()
            _reference[key] = mean
    pos = {c: j for j, c in enumerate(everyone.codes.tolist())}
    return mean[[pos[c] for c in munis.codes.tolist()]], True, label


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def cohort_from_upload(filename: str | None, data: bytes) -> Cohort:
    """Read an uploaded cohort CSV with the cohort reader; errors name the uploaded file.

    The bytes go to a temporary directory outside the repository, removed afterwards.
    """
    name = _SAFE_NAME.sub("_", Path(filename or "kohort.csv").name) or "kohort.csv"
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLargeError(
            f"{name}: filen er større enn {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
            f"del kohorten i flere filer (høyst {MAX_PERSONS} personer)")
    with tempfile.TemporaryDirectory(prefix="bli-kohort-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            cohort = read_cohort(path)
        except InputError as exc:
            where = str(path)
            if exc.row is not None:
                where += f", rad {exc.row}"
            if exc.column is not None:
                where += f", kolonne {exc.column!r}"
            message = str(exc).removeprefix(where + ": ")
            raise InputError(name, message, row=exc.row, column=exc.column) from None
    cohort.source = name
    if len(cohort) > MAX_PERSONS:
        raise TooLargeError(
            f"{name}: {len(cohort)} personer; høyst {MAX_PERSONS} personer per kjøring")
    return cohort


MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 256 * 1024  # the file plus the other fields and framing
FORM_FIELDS = ("kilde", "personer", "fro", "fylke", "kapasitet", "margin", "oppfolging",
               "minsteandel", "likhetsvekt")


async def read_form(request: Request) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The posted form's text fields and the uploaded cohort (file name, bytes), reading at
    most :data:`MAX_BODY_BYTES` of the request body (never more, whatever the client
    sends; nothing is written to disk beyond the parser's own temporary spool)."""
    from starlette.datastructures import UploadFile as StarletteUpload
    from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

    declared = request.headers.get("content-length", "")
    limit_text = (f"forespørselen er større enn {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                  f"del kohorten i flere filer (høyst {MAX_PERSONS} personer)")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLargeError(limit_text)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLargeError(limit_text)

    async def replay():
        yield bytes(body)

    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            form = await MultiPartParser(request.headers, replay(), max_files=1,
                                         max_fields=len(FORM_FIELDS) + 5).parse()
        elif ctype.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(request.headers, replay()).parse()
        else:
            raise UserError("forventet et skjema (multipart/form-data) med kohortfilen")
    except MultiPartException as exc:
        raise UserError(f"ugyldig skjema ({exc.message})") from None
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = None
    item = form.get("kohort")
    if isinstance(item, StarletteUpload) and item.filename:
        upload = (item.filename, await item.read())
    await form.close()
    return fields, upload


# -- a run ---------------------------------------------------------------------------------
@dataclass
class Settings:
    county: str | None = None
    capacity_mode: str = "vedtak"
    margin: float = 0.2  # for 'skalert'
    support_mode: str = "alle"
    seed: int = 1
    min_fill: float = 0.0  # share of each municipality's request (anmodning) to fill
    equity_weight: float = 0.0  # weight on the lowest group mean (max-min across groups)

    def check(self) -> None:
        if self.capacity_mode not in CAPACITY_MODES:
            raise UserError(f"kapasitet: forventet {' eller '.join(CAPACITY_MODES)}, "
                            f"fikk {self.capacity_mode!r}")
        if self.support_mode not in SUPPORT_MODES:
            raise UserError(f"oppfølging: forventet {' eller '.join(SUPPORT_MODES)}, "
                            f"fikk {self.support_mode!r}")
        if not (math.isfinite(self.margin) and 0 <= self.margin <= 5):
            raise UserError("margin: forventet en andel mellom 0 og 5 (f.eks. 0,2 for 20 %)")
        if not (math.isfinite(self.min_fill) and 0 <= self.min_fill <= 1):
            raise UserError("minsteandel: forventet en andel mellom 0 og 1 (0–100 %)")
        if not (math.isfinite(self.equity_weight) and 0 <= self.equity_weight <= 10):
            raise UserError("likhetsvekt: forventet et tall mellom 0 og 10")


@dataclass
class RuleOutcome:
    name: str
    expected: float  # sum over persons of the predicted probability
    ci: float = 0.0  # half-width of a 95 % interval (random placement)
    runs: int = 1
    failed: int = 0  # random draws that left a household without room (not counted)


@dataclass
class MatchRun:
    id: str
    cohort: Cohort
    munis: MunicipalityTable
    scores: np.ndarray  # float32 (persons, munis)
    settings: Settings
    model_label: str
    synthetic: bool
    capacity: np.ndarray
    request: np.ndarray
    minor_capacity: np.ndarray
    can_support: np.ndarray
    locks: dict[int, int] = field(default_factory=dict)
    forbids: set[tuple[int, int]] = field(default_factory=set)
    result: assign.MatchResult | None = None
    rules: list[RuleOutcome] = field(default_factory=list)
    simulated: list[Any] = field(default_factory=list)  # simulate.Simulated
    simulation_note: str = ""
    fairness: list[Any] = field(default_factory=list)  # fairness.GroupRow
    raised: list[str] = field(default_factory=list)  # capacities raised for hard ties
    household_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    @property
    def nbytes(self) -> int:
        return int(self.scores.nbytes)

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


def _capacity(munis: MunicipalityTable, cohort: Cohort, s: Settings
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capacity, EMA capacity, request) per municipality in persons. Scaled capacities
    (and the request, for the minimum share) follow ``bli settlement match --scale``."""
    from bliatlas.settlement.simulate import scaled_capacity

    dec = np.nan_to_num(munis.vedtak, nan=0.0)
    ema = np.nan_to_num(munis.ema_vedtak, nan=0.0)
    req = np.nan_to_num(munis.anmodning, nan=0.0)
    if s.capacity_mode == "vedtak":
        return dec.astype(np.int64), ema.astype(np.int64), req
    if dec.sum() <= 0:
        raise UnprocessableError("ingen kommuner i utvalget har vedtak; kan ikke skalere")
    n = len(cohort)
    cap = scaled_capacity(dec, n, s.margin)
    n_minors = max(int(cohort.unaccompanied_minor.sum()), 1)
    ema_cap = (scaled_capacity(ema, n_minors, s.margin) if ema.sum()
               else np.zeros(len(munis), dtype=np.int64))
    return cap, ema_cap, req * n / dec.sum()


def build_problem(run: MatchRun) -> assign.MatchProblem:
    """The matching engineer's problem for this run (:func:`simulate.problem_from_cohort`)
    plus the balance terms."""
    from bliatlas.settlement.simulate import problem_from_cohort

    try:
        problem = problem_from_cohort(
            run.cohort, run.munis.codes, run.scores.astype(float), run.capacity,
            run.minor_capacity, run.can_support, run.locks, run.forbids)
    except UserError as exc:  # e.g. a hard tie outside the municipalities in scope
        raise UnprocessableError(str(exc)) from None
    if run.settings.min_fill > 0:
        problem.request = run.request
        problem.min_fill = run.settings.min_fill
    problem.equity_weight = run.settings.equity_weight
    return problem


def new_run(cohort: Cohort, settings: Settings) -> MatchRun:
    """A solved run, through the matching queue (:mod:`bliatlas.jobs`: bounded concurrency,
    429 when full, a memory ceiling per run)."""
    from bliatlas import jobs

    n_munis = len(municipalities().in_county(settings.county.zfill(2))) if settings.county \
        else len(municipalities())
    return jobs.matching().run(lambda: _new_run(cohort, settings),
                               memory=jobs.matching_memory(len(cohort), n_munis))


def _new_run(cohort: Cohort, settings: Settings) -> MatchRun:
    from bliatlas.settlement.simulate import ensure_tie_room

    settings.check()
    if len(cohort) > MAX_PERSONS:
        raise TooLargeError(f"{len(cohort)} personer; høyst {MAX_PERSONS} per kjøring")
    munis = municipalities()
    if settings.county:
        munis = munis.in_county(settings.county.zfill(2))
    model, label = outcome_model(municipalities())
    scores = model.predict_matrix(cohort, munis).astype(np.float32)
    if settings.support_mode == "fastlege":
        can_support = np.nan_to_num(munis.gp_spare_capacity, nan=0.0) > 0
    else:
        can_support = np.ones(len(munis), dtype=bool)
    first = np.array([h[0] for h in cohort.households], dtype=np.int64)
    capacity, minor_capacity, request = _capacity(munis, cohort, settings)
    run = MatchRun(
        id=secrets.token_urlsafe(12),
        cohort=cohort,
        munis=munis,
        scores=scores,
        settings=settings,
        model_label=label,
        synthetic=bool(cohort.synthetic or model.synthetic),
        capacity=capacity,
        request=request,
        minor_capacity=minor_capacity,
        can_support=can_support,
        household_ids=cohort.household_id[first].astype(object),
    )
    if settings.capacity_mode == "skalert":
        # scaled shares can be smaller than a household with relatives in the municipality
        problem = build_problem(run)
        run.raised = ensure_tie_room(problem)
        run.capacity = np.asarray(problem.capacity, dtype=np.int64)
        run.minor_capacity = np.asarray(problem.minor_capacity, dtype=np.int64)
    return solve_run(run)


def derived_run(old: MatchRun, locks: dict[int, int], forbids: set[tuple[int, int]]) -> MatchRun:
    """A new run with other locks/forbids. Added restrictions are re-solved warm-started
    from the old solution (:func:`assign.resolve`); a removed one is solved afresh."""
    run = MatchRun(**{**old.__dict__, "id": secrets.token_urlsafe(12), "locks": dict(locks),
                      "forbids": set(forbids), "result": None, "rules": [], "simulated": [],
                      "fairness": []})
    only_added = set(old.locks.items()) <= set(locks.items()) and old.forbids <= forbids
    from bliatlas import jobs

    return jobs.matching().run(
        lambda: solve_run(run, previous=old.result if only_added else None),
        memory=jobs.matching_memory(len(old.cohort), len(old.munis)))


def _random_placement(problem: assign.MatchProblem, tries: int = 20):
    """Random placement within capacity, redrawn when the random order leaves a household
    without room (up to ``tries`` times)."""
    from bliatlas.settlement import assign

    def draw(rng: np.random.Generator) -> np.ndarray:
        for _ in range(tries):
            try:
                return assign.random_within_capacity(problem, rng).assignment
            except assign.InfeasibleError:
                continue
        raise assign.InfeasibleError(
            f"tilfeldig plassering fant ikke plass til alle husholdningene i {tries} forsøk")

    return draw


def solve_run(run: MatchRun, previous: assign.MatchResult | None = None) -> MatchRun:
    """Solve the run and its comparisons: greedy rules, random placement (expected values
    and simulated outcomes with intervals), fairness by group."""
    from bliatlas.settlement import assign
    from bliatlas.settlement.fairness import fairness_report, person_groups
    from bliatlas.settlement.simulate import simulate_outcomes

    problem = build_problem(run)
    try:
        if previous is not None:
            result = assign.resolve(problem, previous)
        else:
            result = assign.solve(problem, mip_gap=MIP_GAP)
    except assign.InfeasibleError as exc:
        raise UnprocessableError(str(exc)) from None
    run.result = result
    rules = [RuleOutcome("Optimert (forventet utfall)", result.expected_outcome)]
    placements = {"optimert": result.assignment}
    for name, key, rule in (
            ("Grådig: bare kapasitet (dagens praksis)", "bare kapasitet",
             assign.greedy_capacity),
            ("Grådig: beste ledige kommune", "grådig", assign.greedy_best)):
        try:
            r = rule(problem)
        except assign.InfeasibleError:  # the rule ran out of room for a household
            rules.append(RuleOutcome(name, math.nan, failed=1))
            continue
        rules.append(RuleOutcome(name, r.expected_outcome))
        placements[key] = r.assignment
    rng = np.random.default_rng(run.settings.seed)
    randoms: list[np.ndarray] = []
    values: list[float] = []
    failed = 0
    for _ in range(RANDOM_RUNS):
        try:
            r = assign.random_within_capacity(problem, rng)
        except assign.InfeasibleError:  # the random order left a household without room
            failed += 1
            continue
        randoms.append(r.assignment)
        values.append(r.expected_outcome)
    if values:
        arr = np.array(values)
        ci = 1.96 * float(arr.std(ddof=1)) / math.sqrt(len(arr)) if len(arr) > 1 else math.nan
        rules.append(RuleOutcome("Tilfeldig innenfor kapasitet", float(arr.mean()), ci,
                                 len(arr), failed))
    else:
        rules.append(RuleOutcome("Tilfeldig innenfor kapasitet", math.nan, runs=0,
                                 failed=failed))
    run.rules = rules
    reps = max(10, min(100, 200_000 // max(problem.n_households, 1)))
    try:
        run.simulated = simulate_outcomes(problem, placements, repetitions=reps,
                                          seed=run.settings.seed,
                                          random_placement=_random_placement(problem))
        run.simulation_note = f"{reps} gjentakelser"
    except assign.InfeasibleError as exc:
        run.simulated, run.simulation_note = [], f"Simulering ikke mulig: {exc}"
    fair = {"optimert": result.assignment}
    if "bare kapasitet" in placements:
        fair["bare kapasitet"] = placements["bare kapasitet"]
    if randoms:
        fair["tilfeldig"] = randoms
    run.fairness = fairness_report(problem, fair, person_groups(run.cohort))
    return run


# -- views of a solved run -------------------------------------------------------------
def municipality_totals(run: MatchRun) -> list[dict[str, Any]]:
    assert run.result is not None
    sizes = np.array([len(h) for h in run.cohort.households])
    persons = np.bincount(run.result.assignment, weights=sizes, minlength=len(run.munis))
    households = np.bincount(run.result.assignment, minlength=len(run.munis))
    hh_of = np.repeat(run.result.assignment, sizes)
    pidx = np.concatenate(run.cohort.households)
    outcome = np.bincount(hh_of, weights=run.scores[pidx, hh_of], minlength=len(run.munis))
    return [
        {"code": str(run.munis.codes[j]), "name": str(run.munis.names[j]),
         "capacity": int(run.capacity[j]), "persons": int(persons[j]),
         "households": int(households[j]),
         "mean_outcome": float(outcome[j] / persons[j]) if persons[j] else None}
        for j in range(len(run.munis))
    ]


def explanations(run: MatchRun, households: range | list[int], k: int = 3) -> list[Any]:
    """The matching engineer's explanations (:func:`explain.explain`) for ``households``:
    where each goes, the predicted outcome there and the ``k`` best alternatives, with why."""
    from bliatlas.settlement.explain import explain

    assert run.result is not None
    return explain(build_problem(run), run.result.assignment,
                   [str(x) for x in run.munis.names], top=k, households=list(households))


ASSIGNMENT_COLUMNS = ("person_id", "household_id", "kommunenummer", "kommune",
                      "forventet_utfall", "beste_alternativ", "alternativ_utfall",
                      "forklaring", "syntetisk")


def assignment_rows(run: MatchRun) -> list[list[Any]]:
    """One row per person (:data:`ASSIGNMENT_COLUMNS`): the municipality, the predicted
    outcome there, the household's best alternative (mean per person) and the explanation."""
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


# -- in-memory store -------------------------------------------------------------------
_runs: OrderedDict[str, MatchRun] = OrderedDict()
_runs_lock = threading.Lock()


def keep(run: MatchRun) -> MatchRun:
    with _runs_lock:
        _runs[run.id] = run
        while len(_runs) > MAX_RUNS or (
            len(_runs) > 1 and sum(r.nbytes for r in _runs.values()) > MAX_SCORE_BYTES
        ):
            _runs.popitem(last=False)
    return run


def get_run(run_id: str) -> MatchRun:
    from bliatlas.errors import NotFound

    with _runs_lock:
        run = _runs.get(run_id)
        if run is None:
            raise NotFound("kjøringen finnes ikke (lenger); resultater holdes bare en stund i "
                           "minnet. Last opp kohorten på nytt.")
        _runs.move_to_end(run_id)
        return run


# -- API ---------------------------------------------------------------------------------------
def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summary(run: MatchRun) -> dict[str, Any]:
    assert run.result is not None
    return {
        "id": run.id,
        "syntetisk": run.synthetic,
        "modell": run.model_label,
        "personer": len(run.cohort),
        "husholdninger": run.cohort.n_households,
        "omfang": f"fylke {run.settings.county}" if run.settings.county else "hele landet",
        "kapasitet": CAPACITY_MODES[run.settings.capacity_mode],
        "forventet_utfall": run.result.expected_outcome,
        "ovre_grense": _finite(run.result.bound),
        "gap": _finite(run.result.gap),
        "sammenligning": [{"regel": r.name, "forventet_utfall": _finite(r.expected),
                           "ki95": _finite(r.ci), "kjoringer": r.runs,
                           "forkastet": r.failed} for r in run.rules],
        "simulering": [{"regel": x.name, "snitt": x.mean, "lav": x.low, "hoy": x.high,
                        "gevinst_over_tilfeldig": x.gain_over_random}
                       for x in run.simulated],
        "rettferdighet": [{"dimensjon": g.dimension, "gruppe": g.group, "personer": g.persons,
                           "prikket": g.suppressed, "utfall": g.outcome}
                          for g in run.fairness],
        "kommuner": [t for t in municipality_totals(run) if t["persons"]],
    }


@router.post(
    "/match",
    summary="Match en kohort (CSV) til kommunene innenfor kapasiteten",
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["kohort"], "properties": {
            "kohort": {"type": "string", "format": "binary",
                       "description": "kohort-CSV (kolonner: se docs/settlement.md)"},
            "fylke": {"type": "string", "description": "fylkesnummer; tomt = hele landet"},
            "kapasitet": {"type": "string", "enum": list(CAPACITY_MODES)},
            "margin": {"type": "number", "description": "margin ved skalering (andel)"},
            "oppfolging": {"type": "string", "enum": list(SUPPORT_MODES)},
            "minsteandel": {"type": "number", "description": "andel av anmodningen (0–1)"},
            "likhetsvekt": {"type": "number", "description": "vekt for likhet (0–10)"},
        }}}}}},
)
async def match(request: Request) -> dict[str, Any]:
    fields, upload = await read_form(request)
    if upload is None:
        raise UserError("kohort: mangler kohortfilen (multipart-feltet kohort)")

    def number(name: str, default: float) -> float:
        text = fields.get(name, "").strip().replace(",", ".")
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise UserError(f"{name}: forventet et tall, fikk {text!r}") from None

    settings = Settings(fields.get("fylke") or None, fields.get("kapasitet") or "vedtak",
                        number("margin", 0.2), fields.get("oppfolging") or "alle",
                        min_fill=number("minsteandel", 0.0),
                        equity_weight=number("likhetsvekt", 0.0))

    def work() -> dict[str, Any]:
        cohort = cohort_from_upload(*upload)
        return summary(keep(new_run(cohort, settings)))

    return await run_in_threadpool(work)


@router.get("/match/{run_id}.csv", summary="Tildelingen per person som CSV")
def match_csv(run_id: str, stil: str = "maskin") -> Response:
    from bliatlas import export

    csv_style = export.style(stil)
    run = get_run(run_id)
    return export.csv_download(
        ASSIGNMENT_COLUMNS, assignment_rows(run),
        f'bli-atlas-tildeling{"-syntetisk" if run.synthetic else ""}-{run_id}.csv', csv_style)
