"""County recommendation (fylkets anbefaling): distribute a total across municipalities.

An integer program solved with HiGHS (through :mod:`bliatlas.settlement.highs`). For each
municipality j, ``x_j`` persons (integer), ``y_j`` = 1 if it gets anyone (only when a
minimum group size is set) and ``d_j`` the deviation from its proportional share of
IMDi's request (anmodning).

Objective (maximised), with the weights the planner sets (:data:`DEFAULT_WEIGHTS`)::

    Σ_j x_j · ( w_utfall · utfall_j + w_fastlege · fastlege_j + w_erfaring · erfaring_j )
      − w_anmodning · Σ_j d_j / (t_j + 10)

* ``t_j`` = total × anmodning_j / Σ anmodning (the request scaled to the total); the
  penalty is per person of deviation, relative to the size of the share (+10 so that
  municipalities with a tiny share are not frozen);
* ``utfall_j`` = the outcome model's mean predicted probability of work or education for
  a reference cohort in municipality j, scaled to 0–1 over the municipalities (0 when
  no model is given);
* ``fastlege_j`` = spare GP capacity (%) scaled to 0–1; unknown → 0 (no credit);
* ``erfaring_j`` = refugees settled per 1,000 inhabitants per year, 2022–2024 mean,
  scaled to 0–1 (experience and services in place); suppressed → 0.

Constraints: Σ x = total; x_j ≤ the municipality's decision (vedtak) when
``use_decision`` — and a municipality *without* a decision gets nothing unless the planner
sets a ceiling for those (``undecided_per_1000``); floor/ceiling per 1,000 inhabitants;
x_j = 0 or ≥ ``min_group``; at least ``district_priority`` × total in district
municipalities (centrality 5–6).

A total above what the municipalities have decided is not spread silently: without
``allow_excess`` the plan is refused with a message that says by how much the total is
over, and where the excess would go if the decisions were scaled up to the total (that
plan is solved to say so: every municipality gets its decision and the excess goes on top,
at most in proportion to the decisions); with ``allow_excess`` that plan is made, every row
carries its persons above the decision, and the plan carries the warning. When no solution exists,
each constraint family is dropped in turn to find the ones that bind, and the message
says which (in Norwegian).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas import export
from bliatlas.errors import UserError
from bliatlas.format import fmt_count, fmt_int, fmt_num
from bliatlas.settlement.features import GP_FULL, MunicipalityTable

DEFAULT_WEIGHTS: dict[str, float] = {
    "anmodning": 5.0,
    "utfall": 1.0,
    "fastlege": 0.3,
    "erfaring": 0.3,
}
WEIGHT_LABELS: dict[str, str] = {
    "anmodning": "følge IMDis anmodning",
    "utfall": "forventet arbeid/utdanning (modell)",
    "fastlege": "ledig fastlegekapasitet",
    "erfaring": "erfaring med bosetting",
}
DEVIATION_OFFSET = 10.0
DISTRICT_CENTRALITY = 5

#: Parameters a scenario may set (``name=key:value,key:value``).
SCENARIO_KEYS = (
    "total",
    "max_per_1000",
    "min_per_1000",
    "min_group",
    "district_priority",
    "use_decision",
    "allow_excess",
    "undecided_per_1000",
    *DEFAULT_WEIGHTS,
)
#: Per 1,000 inhabitants: a ceiling or floor above this (every inhabitant) is refused.
MAX_PER_1000 = 1000.0
#: Largest total a plan may distribute (more than every refugee settled in any year).
MAX_TOTAL = 1_000_000
#: Scenario names are column headers in the CSV and sheet titles in the xlsx export; the
#: export (:mod:`bliatlas.export`) neutralises formulas and makes titles valid and unique, so
#: a name only has to be printable and short.
MAX_SCENARIO_NAME = 60
SCENARIO_NAME = re.compile(rf"[^\x00-\x1f\x7f]{{1,{MAX_SCENARIO_NAME}}}")


@dataclass
class PlanParameters:
    total: int
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    use_decision: bool = True
    max_per_1000: float | None = None
    min_per_1000: float | None = None
    min_group: int = 0
    district_priority: float = 0.0
    name: str = "grunnlag"
    allow_excess: bool = False
    undecided_per_1000: float | None = None

    #: The settings that the CLI (argparse), the HTTP API (``PlanRequest``) and the page
    #: form all carry under these same names.
    SHARED_OPTIONS = ("total", "max_per_1000", "min_per_1000", "min_group",
                      "district_priority", "allow_excess", "undecided_per_1000")

    @classmethod
    def from_options(cls, options: object, *, weights: dict[str, float],
                     use_decision: bool) -> PlanParameters:
        """Parameters from an object carrying :attr:`SHARED_OPTIONS` as attributes (parsed
        CLI arguments, an API request), with the two settings each front end spells its
        own way given explicitly."""
        return cls(weights=weights, use_decision=use_decision,
                   **{k: getattr(options, k) for k in cls.SHARED_OPTIONS})

    def check(self) -> None:
        if not 0 <= self.total <= MAX_TOTAL:
            raise UserError(f"total må være et heltall mellom 0 og {fmt_int(MAX_TOTAL)}")
        for k, v in self.weights.items():
            if k not in DEFAULT_WEIGHTS:
                raise UserError(f"ukjent vekt {k!r}; tillatt er " + ", ".join(DEFAULT_WEIGHTS))
            if not math.isfinite(v) or v < 0:
                raise UserError(f"vekten {k} må være et tall ≥ 0, fikk {v}")
        if not 0 <= self.district_priority <= 1:
            raise UserError("distriktsprioritet må være en andel mellom 0 og 1 (f.eks. 0,2)")
        if not 0 <= self.min_group <= MAX_TOTAL:
            raise UserError("minste gruppestørrelse må være 0 eller mer")
        for name, v in (("max-per-1000", self.max_per_1000), ("min-per-1000", self.min_per_1000),
                        ("undecided-per-1000", self.undecided_per_1000)):
            if v is not None and (not math.isfinite(v) or not 0 <= v <= MAX_PER_1000):
                raise UserError(f"--{name} må være et tall mellom 0 og {MAX_PER_1000:g} "
                                f"(personer per 1 000 innbyggere), fikk {v:g}")
        if (
            self.max_per_1000 is not None
            and self.min_per_1000 is not None
            and self.min_per_1000 > self.max_per_1000
        ):
            raise UserError("--min-per-1000 kan ikke være større enn --max-per-1000")


@dataclass
class PlanRow:
    code: str
    name: str
    county: str
    persons: int
    decision: float
    request: float
    population: float
    centrality: float
    per_1000: float
    outcome: float  # nan without a model
    reason: str
    excess: int = 0  # persons above the municipality's decision (allow_excess plans)


@dataclass
class Plan:
    parameters: PlanParameters
    rows: list[PlanRow]
    objective: float
    synthetic_outcome: bool
    scope: str
    has_outcome: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def excess(self) -> int:
        return sum(r.excess for r in self.rows)

    @property
    def total(self) -> int:
        return sum(r.persons for r in self.rows)

    @property
    def district_total(self) -> int:
        return sum(r.persons for r in self.rows if r.centrality >= DISTRICT_CENTRALITY)


def _scaled(x: np.ndarray) -> np.ndarray:
    """0–1 over the municipalities; unknown → 0."""
    ok = ~np.isnan(x)
    out = np.zeros_like(x, dtype=float)
    if ok.sum() == 0:
        return out
    lo, hi = x[ok].min(), x[ok].max()
    out[ok] = (x[ok] - lo) / (hi - lo) if hi > lo else 1.0
    return out


def _fmt(v: float, decimals: int = 0) -> str:
    return fmt_num(v, decimals)


@dataclass
class _Problem:
    upper: np.ndarray
    lower: np.ndarray
    district: np.ndarray
    min_group: int
    district_need: int
    total: int


def decision_upper(munis: MunicipalityTable, p: PlanParameters) -> np.ndarray:
    """What the decisions allow per municipality: its decision (vedtak); a municipality
    without a stored decision gets the planner's ceiling for those
    (``undecided_per_1000`` × inhabitants / 1,000), else 0."""
    pop = np.nan_to_num(munis.population, nan=0.0)
    allow = (np.zeros(len(munis)) if p.undecided_per_1000 is None
             else np.floor(p.undecided_per_1000 * pop / 1000.0 + 1e-9))
    return np.where(np.isnan(munis.vedtak), allow, munis.vedtak)


def _bounds(munis: MunicipalityTable, p: PlanParameters, drop: frozenset[str],
            scale: float = 1.0) -> _Problem:
    """Bounds per municipality; ``scale`` > 1 scales the decisions up (an excess plan)."""
    m = len(munis)
    upper = np.full(m, float(p.total))
    lower = np.zeros(m)
    dec = decision_upper(munis, p)
    if p.use_decision and "vedtak" not in drop:
        # an excess plan: every municipality gets its decision, the excess goes on top,
        # at most in proportion to the decisions
        upper = np.minimum(upper, np.ceil(dec * scale - 1e-9) if scale > 1 else dec)
    pop = np.nan_to_num(munis.population, nan=0.0)
    if p.max_per_1000 is not None and "tak" not in drop:
        upper = np.minimum(upper, np.floor(p.max_per_1000 * pop / 1000.0 + 1e-9))
    if p.min_per_1000 is not None and "gulv" not in drop:
        lower = np.ceil(p.min_per_1000 * pop / 1000.0 - 1e-9)
    if scale > 1 and p.use_decision and "vedtak" not in drop:
        lower = np.maximum(lower, dec)
    district = np.nan_to_num(munis.centrality) >= DISTRICT_CENTRALITY
    need = 0 if "distrikt" in drop else math.ceil(p.district_priority * p.total - 1e-9)
    min_group = 0 if "gruppe" in drop else p.min_group
    return _Problem(upper, lower, district, min_group, need, p.total)


def _solve(
    munis: MunicipalityTable,
    p: PlanParameters,
    score: np.ndarray,
    target: np.ndarray,
    drop: frozenset[str] = frozenset(),
    scale: float = 1.0,
) -> tuple[np.ndarray, float] | None:
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    from bliatlas.settlement.highs import solve_milp

    prob = _bounds(munis, p, drop, scale)
    m = len(munis)
    if np.any(prob.lower > prob.upper):
        return None
    lam = p.weights.get("anmodning", 0.0)
    use_y = prob.min_group > 0
    n_var = 3 * m if use_y else 2 * m
    # variables: x (m), d (m), [y (m)]
    c = np.zeros(n_var)
    c[:m] = -score
    c[m : 2 * m] = lam / (target + DEVIATION_OFFSET)
    lb = np.zeros(n_var)
    ub = np.full(n_var, np.inf)
    lb[:m] = prob.lower
    ub[:m] = prob.upper
    integrality = np.zeros(n_var)
    integrality[:m] = 1
    eye = identity(m, format="csr")
    zero = csr_matrix((m, m))
    rows = []
    lo_list: list[np.ndarray] = []
    hi_list: list[np.ndarray] = []
    blocks = [eye, -eye] + ([zero] if use_y else [])
    rows.append(hstack(blocks))  # x - d <= t
    lo_list.append(np.full(m, -np.inf))
    hi_list.append(target)
    blocks = [-eye, -eye] + ([zero] if use_y else [])
    rows.append(hstack(blocks))  # -x - d <= -t
    lo_list.append(np.full(m, -np.inf))
    hi_list.append(-target)
    total_row = np.zeros(n_var)
    total_row[:m] = 1
    rows.append(csr_matrix(total_row))
    lo_list.append(np.array([prob.total]))
    hi_list.append(np.array([prob.total]))
    if prob.district_need > 0:
        dr = np.zeros(n_var)
        dr[:m] = prob.district
        rows.append(csr_matrix(dr))
        lo_list.append(np.array([prob.district_need]))
        hi_list.append(np.array([np.inf]))
    if use_y:
        ub_fin = np.minimum(prob.upper, prob.total)
        lb[2 * m :] = 0
        ub[2 * m :] = 1
        integrality[2 * m :] = 1
        # x - U y <= 0 ; x - g y >= 0 ; municipalities with a floor > 0 must have y = 1
        rows.append(hstack([eye, zero, -csr_matrix(np.diag(ub_fin))]))
        lo_list.append(np.full(m, -np.inf))
        hi_list.append(np.zeros(m))
        rows.append(hstack([eye, zero, -prob.min_group * eye]))
        lo_list.append(np.zeros(m))
        hi_list.append(np.full(m, np.inf))
    a = vstack(rows).tocsr()
    res = solve_milp(c, a, np.concatenate(lo_list), np.concatenate(hi_list), lb, ub,
                     integrality > 0, mip_gap=1e-9)
    if res.x is None or not res.optimal:
        return None
    x = np.round(res.x[:m]).astype(np.int64)
    return x, float(-res.objective)


_FAMILY_TEXT = {
    "vedtak": "kommunenes vedtak som øvre grense",
    "tak": "taket per 1 000 innbyggere",
    "gulv": "gulvet per 1 000 innbyggere",
    "gruppe": "minste gruppestørrelse",
    "distrikt": "distriktsprioriteten",
}


def _diagnose(
    munis: MunicipalityTable, p: PlanParameters, score: np.ndarray, target: np.ndarray,
    scale: float = 1.0,
) -> str:
    prob = _bounds(munis, p, frozenset(), scale)
    facts = []
    cap = float(np.sum(np.minimum(prob.upper, p.total)))
    if cap < p.total:
        facts.append(
            f"summen av øvre grenser er {_fmt(cap)} personer, mindre enn totalen {_fmt(p.total)}"
        )
    floor = float(prob.lower.sum())
    if floor > p.total:
        facts.append(
            f"summen av gulvene er {_fmt(floor)} personer, mer enn totalen {_fmt(p.total)}"
        )
    if prob.district_need:
        dcap = float(np.sum(np.minimum(prob.upper, p.total)[prob.district]))
        if dcap < prob.district_need:
            facts.append(
                f"distriktskommunene kan ta {_fmt(dcap)}, men distriktsprioriteten "
                f"krever {_fmt(prob.district_need)}"
            )
    families = [
        f
        for f in ("vedtak", "tak", "gulv", "gruppe", "distrikt")
        if (f == "vedtak" and p.use_decision)
        or (f == "tak" and p.max_per_1000)
        or (f == "gulv" and p.min_per_1000)
        or (f == "gruppe" and p.min_group)
        or (f == "distrikt" and p.district_priority)
    ]
    singles = [f for f in families if _solve(munis, p, score, target, frozenset([f]), scale)]
    text = "Planen har ingen løsning: betingelsene kan ikke oppfylles samtidig"
    if facts:
        text += " (" + "; ".join(facts) + ")"
    if singles:
        text += ". Den blir løsbar hvis du løsner " + " eller ".join(
            _FAMILY_TEXT[f] for f in singles
        )
    elif families:
        text += ". Ingen enkelt betingelse alene er årsaken; løsne flere av: " + ", ".join(
            _FAMILY_TEXT[f] for f in families
        )
    return text + "."


def _reason(
    r: PlanRow,
    share: float,
    p: PlanParameters,
    upper: float,
    at_ceiling: bool,
    gp: float,
    robek: float,
    outcome_rank: str,
    waiting: float = math.nan,
) -> str:
    parts = []
    if p.use_decision:
        if r.excess > 0:
            parts.append(f"{_fmt(r.excess)} over vedtaket"
                         + (f" på {_fmt(r.decision)}" if not math.isnan(r.decision) else
                            " (ingen vedtak registrert)"))
        elif math.isnan(r.decision):
            parts.append("ingen vedtak registrert"
                         + (", ikke tildelt (ingen grense satt for kommuner uten vedtak)"
                            if p.undecided_per_1000 is None else ""))
        elif r.persons == r.decision and r.persons > 0:
            parts.append(f"lik vedtaket på {_fmt(r.decision)}")
        elif r.decision == 0:
            parts.append("vedtaket er 0")
        else:
            parts.append(f"innenfor vedtaket på {_fmt(r.decision)}")
    if not math.isnan(r.request):
        parts.append(f"anmodet {_fmt(r.request)} (forholdsmessig andel av totalen {_fmt(share)})")
    if at_ceiling and r.persons > 0:
        parts.append(f"ved taket på {_fmt(p.max_per_1000 or 0, 1)} per 1 000 innbyggere")
    if r.persons == 0 and p.min_group and upper < p.min_group and upper > 0:
        parts.append(f"rommet ({_fmt(upper)}) er under minste gruppe på {p.min_group}")
    parts.append(_gp_text(gp, waiting, r.population))
    if outcome_rank:
        parts.append(outcome_rank)
    if not math.isnan(r.centrality):
        c = f"sentralitet {int(r.centrality)}"
        if r.centrality >= DISTRICT_CENTRALITY and p.district_priority > 0:
            c += " (distriktsprioritet)"
        parts.append(c)
    if robek == 1:
        parts.append("på ROBEK-lista")
    return f"{r.name}: {_fmt(r.persons)} personer — " + ", ".join(parts)


def _gp_text(gp: float, waiting: float, population: float) -> str:
    """The municipality's own GP figures: reservekapasitet (over 100 % = free places) and
    the waiting list, per 1 000 inhabitants."""
    if math.isnan(gp):
        return "fastlegedata mangler"
    queue = not math.isnan(waiting) and waiting > 0 and population > 0
    if gp > GP_FULL:
        # free places on the lists in sum, yet people waiting (for a given GP) is not "free"
        text = f"fastlegenes reservekapasitet {_fmt(gp)} %" + (
            " (ledige listeplasser i sum), men" if queue else " (ledige plasser)")
    else:
        text = f"fastlegenes reservekapasitet {_fmt(gp)} % (ingen ledige plasser)" + (
            "," if queue else "")
    if queue:
        text += (f" {_fmt(waiting)} på venteliste ({_fmt(1000 * waiting / population)} per "
                 "1 000 innbyggere)")
    return text


def make_plan(
    munis: MunicipalityTable,
    params: PlanParameters,
    outcome: np.ndarray | None = None,
    synthetic_outcome: bool = False,
    scope: str = "hele landet",
) -> Plan:
    """Solve the recommendation for ``munis`` (already limited to the county, if any).

    ``outcome`` is the mean predicted outcome per municipality (from the model), or None.
    """
    params.check()
    if len(munis) == 0:
        raise UserError("ingen kommuner å fordele på")
    w = {**DEFAULT_WEIGHTS, **params.weights}
    params = replace(params, weights=w)
    out = np.full(len(munis), np.nan) if outcome is None else np.asarray(outcome, dtype=float)
    with np.errstate(all="ignore"):
        experience = munis.settled_refugees_mean / munis.population * 1000.0
    score = (
        w["utfall"] * (_scaled(out) if outcome is not None else 0.0)
        + w["fastlege"] * _scaled(munis.gp_spare_capacity)
        + w["erfaring"] * _scaled(experience)
    )
    req = np.nan_to_num(munis.anmodning, nan=0.0)
    target = (
        (params.total * req / req.sum())
        if req.sum() > 0
        else np.full(len(munis), params.total / len(munis))
    )
    score = np.asarray(score, dtype=float)
    scale, warnings = 1.0, []
    decided = float(decision_upper(munis, params).sum()) if params.use_decision else math.inf
    if params.total > decided:
        if decided <= 0:
            raise UserError("ingen av kommunene i utvalget har et vedtak (eller en grense for "
                            "kommuner uten vedtak); planen kan ikke fordele noen")
        scale = params.total / decided
    solved = _solve(munis, params, score, target, scale=scale)
    if solved is None:
        text = _diagnose(munis, params, score, target, scale)
        if scale > 1:
            text = _over_decisions_text(params, decided) + " " + text
        raise UserError(text)
    x, objective = solved
    over = np.zeros(len(munis), dtype=np.int64)
    if scale > 1:
        dec = decision_upper(munis, params)
        over = np.maximum(x - dec, 0).astype(np.int64)
        text = _over_decisions_text(params, decided) + " " + _excess_places(munis, over)
        if not params.allow_excess:
            raise UserError(text + " Velg «tillat fordeling over vedtakene» (--allow-excess) "
                            "for å lage planen med overskuddet markert, eller senk totalen.")
        warnings.append(text)
    prob = _bounds(munis, params, frozenset(), scale)
    order = np.argsort(out)[::-1] if outcome is not None else None
    rank = np.empty(len(munis), dtype=np.int64)
    if order is not None:
        rank[order] = np.arange(1, len(munis) + 1)
    rows = []
    for j in range(len(munis)):
        pop = float(munis.population[j])
        row = PlanRow(
            code=str(munis.codes[j]),
            name=str(munis.names[j]),
            county=str(munis.county[j]),
            persons=int(x[j]),
            decision=float(munis.vedtak[j]),
            request=float(munis.anmodning[j]),
            population=pop,
            centrality=float(munis.centrality[j]),
            per_1000=float(x[j] / pop * 1000) if pop > 0 else float("nan"),
            outcome=float(out[j]),
            reason="",
        )
        at_ceiling = params.max_per_1000 is not None and x[j] >= math.floor(
            params.max_per_1000 * pop / 1000 + 1e-9
        )
        orank = ""
        if outcome is not None:
            orank = (
                f"forventet arbeid/utdanning {_fmt(out[j] * 100)} % (nr. {rank[j]} av {len(munis)})"
            )
        if scale > 1:
            row.excess = int(over[j])
        row.reason = _reason(
            row,
            float(target[j]),
            params,
            float(prob.upper[j]),
            at_ceiling,
            float(munis.gp_spare_capacity[j]),
            float(munis.robek[j]),
            orank,
            float(munis.gp_waiting_list[j]),
        )
        rows.append(row)
    return Plan(params, rows, objective, synthetic_outcome, scope, outcome is not None,
                warnings)


def _over_decisions_text(p: PlanParameters, decided: float) -> str:
    undecided = ("" if p.undecided_per_1000 is None else
                 f", medregnet grensen på {_fmt(p.undecided_per_1000, 1)} per 1 000 "
                 "innbyggere for kommuner uten vedtak")
    return (f"Totalen {_fmt(p.total)} er {_fmt(p.total - decided)} personer over det "
            f"kommunene har vedtatt ({_fmt(decided)} plasser{undecided}).")


def _excess_places(munis: MunicipalityTable, over: np.ndarray) -> str:
    """Where the excess goes, largest first."""
    idx = np.flatnonzero(over > 0)
    idx = idx[np.argsort(-over[idx], kind="stable")]
    shown = ", ".join(f"{munis.names[j]} +{_fmt(over[j])}" for j in idx[:8])
    more = f" og {len(idx) - 8} kommuner til" if len(idx) > 8 else ""
    return (f"Skalert opp i forhold til vedtakene (alle får sitt vedtak, overskuddet kommer i "
            f"tillegg) ville overskuddet gått til {fmt_count(len(idx), 'kommune', 'kommuner')}: {shown}{more}.")


def parse_weights(text: str | None) -> dict[str, float]:
    """``anmodning=5,utfall=1`` → dict; unknown keys and non-numbers are errors."""
    weights = dict(DEFAULT_WEIGHTS)
    if not text:
        return weights
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in DEFAULT_WEIGHTS:
            raise UserError(
                f"--weights: ugyldig del {part!r}; forventet navn=tall med navn "
                "blant " + ", ".join(DEFAULT_WEIGHTS)
            )
        try:
            weights[key] = float(value.replace(",", "."))
        except ValueError:
            raise UserError(f"--weights: {value!r} er ikke et tall (for {key})") from None
    return weights


def parse_scenario(text: str, base: PlanParameters) -> PlanParameters:
    """``navn=key:value;key:value`` → parameters (base with overrides)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UserError(
            f"--scenario {text!r}: forventet navn=nøkkel:verdi;nøkkel:verdi, "
            "f.eks. distrikt=district_priority:0.4;max_per_1000:15"
        )
    check_scenario_name(name)
    p = replace(base, name=name, weights=dict(base.weights))
    for item in filter(None, (s.strip() for s in rest.split(";"))):
        key, sep, value = item.partition(":")
        key = key.strip()
        if not sep or key not in SCENARIO_KEYS:
            raise UserError(
                f"--scenario {name}: ukjent nøkkel {key!r}; tillatt er " + ", ".join(SCENARIO_KEYS)
            )
        value = value.strip().replace(",", ".")
        try:
            if key in DEFAULT_WEIGHTS:
                p.weights[key] = float(value)
            elif key in ("total", "min_group"):
                setattr(p, key, int(value))
            elif key in ("use_decision", "allow_excess"):
                if value not in ("0", "1"):
                    raise ValueError
                setattr(p, key, value == "1")
            else:
                setattr(p, key, float(value))
        except (ValueError, OverflowError):
            raise UserError(f"--scenario {name}: ugyldig verdi {value!r} for {key}") from None
    try:
        p.check()
    except UserError as exc:
        raise UserError(f"--scenario {name}: {exc}") from None
    return p


def check_scenario_name(name: str) -> None:
    """A scenario name is a column in the CSV and a sheet title in the xlsx export."""
    if not SCENARIO_NAME.fullmatch(name):
        raise UserError(
            f"scenarionavnet {name[:40]!r}: bruk 1–{MAX_SCENARIO_NAME} tegn uten kontrolltegn")
    if name.strip().lower() in ("kommunenummer", "kommune"):
        raise UserError(f"scenarionavnet {name!r} er en kolonne i sammenligningen; velg et annet")


# -- output ----------------------------------------------------------------------------
PLAN_COLUMNS = (
    "kommunenummer",
    "kommune",
    "fylke",
    "personer",
    "vedtak",
    "anmodning",
    "folketall",
    "sentralitet",
    "per_1000",
    "forventet_utfall",
    "begrunnelse",
    "over_vedtak",
    "syntetisk_utfall",
)


def plan_records(plan: Plan) -> list[dict[str, Any]]:
    def num(v: float) -> float | None:
        return None if math.isnan(v) else v

    return [
        {
            "kommunenummer": r.code,
            "kommune": r.name,
            "fylke": r.county,
            "personer": r.persons,
            "vedtak": num(r.decision),
            "anmodning": num(r.request),
            "folketall": num(r.population),
            "sentralitet": num(r.centrality),
            "per_1000": None if math.isnan(r.per_1000) else round(r.per_1000, 2),
            "forventet_utfall": None if math.isnan(r.outcome) else round(r.outcome, 4),
            "begrunnelse": r.reason,
            "over_vedtak": r.excess,
            # 1 when the outcome signal comes from a model trained on synthetic data
            "syntetisk_utfall": int(plan.synthetic_outcome),
        }
        for r in plan.rows
    ]


def comparison(plans: list[Plan]) -> list[dict[str, Any]]:
    """Side by side: one row per municipality, one column per scenario."""
    out = []
    for j, r in enumerate(plans[0].rows):
        row: dict[str, Any] = {"kommunenummer": r.code, "kommune": r.name}
        for p in plans:
            row[p.parameters.name] = p.rows[j].persons
        out.append(row)
    return out


def parameter_lines(plan: Plan) -> list[str]:
    p = plan.parameters
    lines = [
        f"Scenario «{p.name}»: {_fmt(p.total)} personer fordelt på {plan.scope}",
        "Vekter: "
        + ", ".join(
            f"{WEIGHT_LABELS[k]} {_fmt(v, 2)}"
            + (" (ingen modell gitt, ikke brukt)" if k == "utfall" and not plan.has_outcome else "")
            for k, v in p.weights.items()
        ),
        "Vedtak som øvre grense: " + ("ja" if p.use_decision else "nei"),
    ]
    if p.max_per_1000 is not None:
        lines.append(f"Tak per 1 000 innbyggere: {_fmt(p.max_per_1000, 1)}")
    if p.min_per_1000 is not None:
        lines.append(f"Gulv per 1 000 innbyggere: {_fmt(p.min_per_1000, 1)}")
    if p.min_group:
        lines.append(f"Minste gruppe: {p.min_group} (0 eller minst {p.min_group})")
    if p.district_priority:
        lines.append(
            f"Distriktsprioritet: minst {_fmt(p.district_priority * 100)} % til "
            f"distriktskommuner (sentralitet 5–6); fikk {_fmt(plan.district_total)}"
        )
    if p.undecided_per_1000 is not None:
        lines.append(f"Kommuner uten vedtak: høyst {_fmt(p.undecided_per_1000, 1)} per 1 000 "
                     "innbyggere")
    elif p.use_decision:
        lines.append("Kommuner uten vedtak: får ingen")
    for w in plan.warnings:
        lines.append("ADVARSEL: " + w)
    if plan.synthetic_outcome:
        lines.append("SYNTETISK: forventet utfall kommer fra en modell trent på syntetiske data.")
    return lines


SOURCE_LINE = (
    "Kilde: IMDi (anmodning, vedtak, bosatte), SSB (folketall, sentralitet), "
    "Helsedirektoratet (fastlege) via Bli-atlas. Lisens: NLOD 2.0."
)


def _plan_table(plans: list[Plan]) -> tuple[list[str], list[list[Any]]]:
    """The plan (one) or the comparison of scenarios (several) as header and rows."""
    if len(plans) == 1:
        return list(PLAN_COLUMNS), list(export.dict_rows(plan_records(plans[0]), PLAN_COLUMNS))
    names = [p.parameters.name for p in plans]
    columns = ["kommunenummer", "kommune", *names]
    return columns, list(export.dict_rows(comparison(plans), columns))


def plan_csv(plans: list[Plan], csv_style: export.CsvStyle = export.MACHINE) -> bytes:
    """The plan or comparison as CSV (:mod:`bliatlas.export`; scenario names neutralised)."""
    return export.csv_bytes(*_plan_table(plans), csv_style)


def plan_xlsx(plans: list[Plan]) -> bytes:
    """The plan (or the comparison plus one sheet per scenario) and an «Om» sheet."""
    header, rows = _plan_table(plans)
    sheets = [export.Sheet("Sammenligning" if len(plans) > 1 else "Plan", header, rows)]
    if len(plans) > 1:
        sheets += [export.Sheet(p.parameters.name, PLAN_COLUMNS,
                                export.dict_rows(plan_records(p), PLAN_COLUMNS)) for p in plans]
    about = [[line] for p in plans for line in [*parameter_lines(p), None]] + [[SOURCE_LINE]]
    sheets.append(export.Sheet("Om", None, about))
    return export.xlsx_bytes(sheets)


def write_plans(plans: list[Plan], path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        export.write_file(path, plan_xlsx(plans))
    elif path.suffix.lower() == ".csv":
        export.write_file(path, plan_csv(plans))
    else:
        raise UserError(f"{path}: ukjent filtype; forventet .csv eller .xlsx")
