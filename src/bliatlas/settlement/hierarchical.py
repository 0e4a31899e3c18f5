"""A hierarchical outcome model: partial pooling across municipalities, theory-led terms.

Logistic regression for one outcome (in work or education after N years, or still living in
the county) with

* person terms, coded so that theory's direction can be imposed: education and Norwegian
  level as cumulative steps (``utd_vgs`` = at least upper secondary …) with non-negative
  effects, being 45+ and 55+ with non-positive effects, years of residence with a
  non-negative effect, support needs with a non-positive one (an active-set fit: a step
  that comes out with the wrong sign is fixed at 0 and the model refitted);
* municipality traits (centrality, size, district, county retention, GP spare capacity,
  refugees settled per 1,000), standardised on the training rows;
* the interactions that matter for placement, and only those: education × labour market
  (higher/upper-secondary × centrality, low education × district), age × centrality
  (15–24, 45+), Norwegian B-level × district, support needs × GP capacity, and the
  co-national network (refugees of the person's group settled per 1,000 inhabitants in
  the municipality);
* random intercepts per county and per municipality, shrunk towards the traits' prediction
  (partial pooling): their variances are estimated by empirical Bayes (EM on the Laplace
  approximation), so a small municipality with few training rows is ranked on its traits,
  not on its noise.

The fit is Newton's method on the penalised log-likelihood with the Hessian assembled in
blocks (dense for the fixed terms, diagonal for the random ones). Probabilities are then
calibrated (Platt: a logistic map of the logit fitted on held-out households), which also
shrinks an over-confident spread. Prediction for the whole person × municipality matrix is a
sum of outer products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bliatlas.errors import UserError
from bliatlas.settlement.cohort import COUNTRY_GROUPS, Cohort
from bliatlas.settlement.features import MunicipalityTable

#: Person terms with the sign theory demands (+1: ≥ 0, −1: ≤ 0, 0: free).
PERSON_TERMS: dict[str, int] = {
    "ung": 0,
    "alder_45": -1,
    "alder_55": -1,
    "kvinne": 0,
    "kvinne_med_barn": 0,
    "utd_grunnskole": 1,
    "utd_vgs": 1,
    "utd_hoyere": 1,
    "norsk_A1": 1,
    "norsk_A2": 1,
    "norsk_B1": 1,
    "norsk_B2": 1,
    **{f"land_{g}": 0 for g in COUNTRY_GROUPS[:-1]},
    "enslig_mindreaarig": 0,
    "oppfolgingsbehov": -1,
    "log_husholdning": 0,
    "barn_i_husholdningen": 0,
    "botid_5": 1,  # at least 5 years of residence (the published bands: 0–4, 5–9, 10+)
    "botid_10": 1,
}
MUNICIPALITY_TERMS: tuple[str, ...] = (
    "sentralitet", "log_folketall", "distrikt", "bofasthet_fylke", "fastlege_ledig",
    "bosatte_per_1000",
)
#: Person × municipality terms: (name, person term or derived, municipality term).
CROSS_TERMS: tuple[tuple[str, str, str], ...] = (
    ("hoyere_x_sentral", "utd_hoyere", "sentralitet"),
    ("vgs_x_sentral", "utd_vgs", "sentralitet"),
    ("lav_utdanning_x_distrikt", "lav_utdanning", "distrikt"),
    ("ung_x_sentral", "ung", "sentralitet"),
    ("alder45_x_sentral", "alder_45", "sentralitet"),
    ("norsk_B_x_distrikt", "norsk_B1", "distrikt"),
    ("oppfolging_x_fastlege", "oppfolgingsbehov", "fastlege_ledig"),
)
FIXED_RIDGE = 1e-3  # a tiny ridge on the fixed terms, for numerical stability only


def person_terms(cohort: Cohort, years: np.ndarray | int) -> dict[str, np.ndarray]:
    """The person terms (and ``lav_utdanning``, used in a cross term) as float arrays."""
    n = len(cohort)
    yrs = np.broadcast_to(np.asarray(years, dtype=float), (n,))
    age_now = cohort.age.astype(float) + yrs
    edu = cohort.education
    nor = cohort.norwegian_level
    size = np.empty(n)
    children = np.empty(n)
    for rows in cohort.households:
        size[rows] = len(rows)
        minors = cohort.age[rows] < 18
        children[rows] = (minors.sum() - minors) > 0
    female = cohort.sex == "K"
    t: dict[str, np.ndarray] = {
        "ung": (age_now <= 24).astype(float),
        "alder_45": (age_now >= 45).astype(float),
        "alder_55": (age_now >= 55).astype(float),
        "kvinne": female.astype(float),
        "kvinne_med_barn": (female & (children > 0)).astype(float),
        "utd_grunnskole": np.isin(edu, ("grunnskole", "videregaende", "hoyere")).astype(float),
        "utd_vgs": np.isin(edu, ("videregaende", "hoyere")).astype(float),
        "utd_hoyere": (edu == "hoyere").astype(float),
        "norsk_A1": np.isin(nor, ("A1", "A2", "B1", "B2")).astype(float),
        "norsk_A2": np.isin(nor, ("A2", "B1", "B2")).astype(float),
        "norsk_B1": np.isin(nor, ("B1", "B2")).astype(float),
        "norsk_B2": (nor == "B2").astype(float),
        "enslig_mindreaarig": cohort.unaccompanied_minor.astype(float),
        "oppfolgingsbehov": cohort.support_need.astype(float),
        "log_husholdning": np.log(size),
        "barn_i_husholdningen": children,
        "botid_5": (yrs >= 5).astype(float),
        "botid_10": (yrs >= 10).astype(float),
    }
    for g in COUNTRY_GROUPS[:-1]:
        t[f"land_{g}"] = (cohort.country_group == g).astype(float)
    t["lav_utdanning"] = 1.0 - t["utd_vgs"]
    return t


def municipality_raw(munis: MunicipalityTable) -> np.ndarray:
    """(m, 6) raw municipality traits in :data:`MUNICIPALITY_TERMS` order, nan unknown."""
    with np.errstate(all="ignore"):
        per_1000 = munis.settled_refugees_mean / munis.population * 1000.0
    return np.column_stack([
        -munis.centrality,
        np.log(munis.population),
        np.where(np.isnan(munis.centrality), np.nan, (munis.centrality >= 5).astype(float)),
        munis.county_retention,
        munis.gp_spare_capacity,
        per_1000,
    ])


def network_raw(munis: MunicipalityTable) -> np.ndarray:
    """(2, m): log(1 + refugees of the group settled per 1,000 inhabitants per year) for
    Ukrainians (row 0) and the other refugees (row 1); nan where unknown."""
    from bliatlas.settlement.synthetic import network_per_1000

    return np.vstack([np.log1p(network_per_1000(munis, "ukrainere")),
                      np.log1p(network_per_1000(munis, "ovrige"))])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


@dataclass
class _Fit:
    beta: np.ndarray  # fixed: intercept, person, municipality, cross, network
    b_muni: np.ndarray  # (M,) random intercepts, by code in ``codes``
    b_county: np.ndarray  # (K,)
    tau_muni: float
    tau_county: float


class HierarchicalModel:
    """P(outcome | person, municipality) with partial pooling (see the module docstring)."""

    kind = "hierarkisk"

    def __init__(self, years: int = 5, outcome: str = "arbeid") -> None:
        self.years = int(years)
        self.outcome = outcome
        self.metadata: dict[str, Any] = {}
        self._fit: _Fit | None = None
        self.person_names: list[str] = []
        self.active: np.ndarray = np.zeros(0, dtype=bool)
        self.m_mean = np.zeros(len(MUNICIPALITY_TERMS))
        self.m_scale = np.ones(len(MUNICIPALITY_TERMS))
        self.net_mean = np.zeros(2)
        self.net_scale = np.ones(2)
        self.codes = np.zeros(0, dtype=object)
        self.counties = np.zeros(0, dtype=object)
        self.calib = np.array([0.0, 1.0])

    # -- design ----------------------------------------------------------------------
    def _muni_std(self, munis: MunicipalityTable) -> np.ndarray:
        raw = municipality_raw(munis)
        raw = np.where(np.isnan(raw), self.m_mean[None, :], raw)
        return (raw - self.m_mean) / self.m_scale

    def _net_std(self, munis: MunicipalityTable) -> np.ndarray:
        raw = network_raw(munis)
        raw = np.where(np.isnan(raw), self.net_mean[:, None], raw)
        return (raw - self.net_mean[:, None]) / self.net_scale[:, None]

    def _names(self) -> list[str]:
        return (["konstant", *PERSON_TERMS, *MUNICIPALITY_TERMS, *(c[0] for c in CROSS_TERMS),
                 "nettverk"])

    def _rows(self, cohort: Cohort, years: np.ndarray, munis: MunicipalityTable,
              midx: np.ndarray) -> np.ndarray:
        """Fixed-effect design for person i at municipality ``midx[i]``."""
        pt = person_terms(cohort, years)
        ms = self._muni_std(munis)[midx]
        net = self._net_std(munis)
        ukr = cohort.country_group == "ukraina"
        network = np.where(ukr, net[0, midx], net[1, midx])
        cols = [np.ones(len(cohort))] + [pt[k] for k in PERSON_TERMS]
        cols += [ms[:, q] for q in range(len(MUNICIPALITY_TERMS))]
        for _, a, b in CROSS_TERMS:
            cols.append(pt[a] * ms[:, MUNICIPALITY_TERMS.index(b)])
        cols.append(network)
        return np.column_stack(cols)

    # -- fitting -----------------------------------------------------------------------
    def fit(self, cohort: Cohort, municipality: np.ndarray, years: np.ndarray, y: np.ndarray,
            munis: MunicipalityTable, measured: np.ndarray | None = None,
            calibration_share: float = 0.2, seed: int = 0) -> HierarchicalModel:
        """Fit on persons with outcome ``y`` (0/1) settled in ``municipality`` (codes) for
        ``years``; ``measured`` selects the rows with an outcome. A share of the households
        is held out for the calibration map. (Small dense algebra: BLAS runs on one thread,
        which on a shared machine is much faster than many.)"""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            return self._fit_all(cohort, municipality, years, y, munis, measured,
                                 calibration_share, seed)

    def _fit_all(self, cohort: Cohort, municipality: np.ndarray, years: np.ndarray,
                 y: np.ndarray, munis: MunicipalityTable, measured: np.ndarray | None,
                 calibration_share: float, seed: int) -> HierarchicalModel:
        measured = np.ones(len(cohort), dtype=bool) if measured is None else measured
        pos = {c: j for j, c in enumerate(munis.codes.tolist())}
        unknown = sorted({c for c in np.asarray(municipality).tolist() if c not in pos})
        if unknown:
            raise UserError("ukjente kommunenumre i treningsdata: " + ", ".join(unknown[:5]))
        midx = np.array([pos[c] for c in np.asarray(municipality).tolist()], dtype=np.int64)
        if len(np.unique(y[measured])) < 2:
            raise UserError("treningsdata har bare ett utfall; trenger både 0 og 1")
        self.codes = munis.codes.copy()
        self.counties = np.array(sorted(set(munis.county.tolist())), dtype=object)
        raw = municipality_raw(munis)[midx[measured]]
        self.m_mean = np.where(np.isnan(np.nanmean(raw, axis=0)), 0.0, np.nanmean(raw, axis=0))
        filled = np.where(np.isnan(raw), self.m_mean[None, :], raw)
        sd = filled.std(axis=0)
        self.m_scale = np.where(sd > 0, sd, 1.0)
        net = network_raw(munis)[:, midx[measured]]
        self.net_mean = np.where(np.isnan(np.nanmean(net, axis=1)), 0.0,
                                 np.nanmean(net, axis=1))
        nf = np.where(np.isnan(net), self.net_mean[:, None], net)
        nsd = nf.std(axis=1)
        self.net_scale = np.where(nsd > 0, nsd, 1.0)
        x = self._rows(cohort, np.asarray(years), munis, midx)
        county_of = {c: k for k, c in enumerate(self.counties.tolist())}
        kidx = np.array([county_of[c] for c in munis.county[midx].tolist()], dtype=np.int64)
        # hold out households for the calibration map
        rng = np.random.default_rng(seed)
        hh_of = cohort.household_of_person()
        held = (rng.random(cohort.n_households) < calibration_share)[hh_of] & measured
        train = measured & ~held
        names = self._names()
        signs = np.zeros(len(names), dtype=np.int64)
        for k, name in enumerate(names):
            signs[k] = PERSON_TERMS.get(name, 0)
        active = np.ones(len(names), dtype=bool)
        for _ in range(12):
            fit = _fit_penalised(x[train][:, active], midx[train], kidx[train],
                                 y[train].astype(float), len(munis), len(self.counties))
            beta = np.zeros(len(names))
            beta[active] = fit.beta
            wrong = active & (signs * beta < -1e-9)
            if not wrong.any():
                break
            active &= ~wrong
        fit.beta = beta
        self._fit = fit
        self.active = active
        # Platt calibration on the held-out households
        if held.sum() >= 50 and len(np.unique(y[held])) == 2:
            z = self._logit_rows(x[held], midx[held], kidx[held])
            self.calib = _platt(z, y[held].astype(float))
        n_per_muni = np.bincount(midx[train], minlength=len(munis))
        self.metadata.update({
            "kind": self.kind, "outcome": self.outcome, "years": self.years,
            "terms": {n: float(b) for n, b in zip(names, beta, strict=True)},
            "fixed_at_zero_by_sign": [n for n, a in zip(names, active, strict=True) if not a],
            "tau_municipality": fit.tau_muni, "tau_county": fit.tau_county,
            "calibration": {"a": float(self.calib[0]), "b": float(self.calib[1])},
            "n_training": int(train.sum()), "n_calibration": int(held.sum()),
            "municipalities_with_data": int((n_per_muni > 0).sum()),
            "outcome_rate": float(y[measured].mean()),
        })
        return self

    def _logit_rows(self, x: np.ndarray, midx: np.ndarray, kidx: np.ndarray) -> np.ndarray:
        f = self._fit
        assert f is not None
        return x @ f.beta + f.b_muni[midx] + f.b_county[kidx]

    # -- prediction ----------------------------------------------------------------------
    def _random_effects(self, munis: MunicipalityTable) -> np.ndarray:
        f = self._fit
        assert f is not None
        pos = {c: j for j, c in enumerate(self.codes.tolist())}
        cpos = {c: k for k, c in enumerate(self.counties.tolist())}
        out = np.zeros(len(munis))
        for j, (code, county) in enumerate(zip(munis.codes.tolist(), munis.county.tolist(),
                                               strict=True)):
            if code in pos:
                out[j] += f.b_muni[pos[code]]
            if county in cpos:
                out[j] += f.b_county[cpos[county]]
        return out

    def logit_matrix(self, cohort: Cohort, munis: MunicipalityTable,
                     years: int | None = None) -> np.ndarray:
        if self._fit is None:
            raise UserError("modellen er ikke trent")
        beta = dict(zip(self._names(), self._fit.beta, strict=True))
        yrs = self.years if years is None else years
        pt = person_terms(cohort, yrs)
        ms = self._muni_std(munis)
        net = self._net_std(munis)
        person = beta["konstant"] + sum(beta[k] * pt[k] for k in PERSON_TERMS)
        muni = ms @ np.array([beta[k] for k in MUNICIPALITY_TERMS]) + self._random_effects(munis)
        z = person[:, None] + muni[None, :]
        for name, a, b in CROSS_TERMS:
            if beta[name]:
                z += beta[name] * np.outer(pt[a], ms[:, MUNICIPALITY_TERMS.index(b)])
        ukr = cohort.country_group == "ukraina"
        z += beta["nettverk"] * np.where(ukr[:, None], net[0][None, :], net[1][None, :])
        return self.calib[0] + self.calib[1] * z

    def predict_matrix(self, cohort: Cohort, munis: MunicipalityTable,
                       years: int | None = None) -> np.ndarray:
        """Calibrated probabilities, (persons, municipalities)."""
        return _sigmoid(self.logit_matrix(cohort, munis, years))

    def predict_pairs(self, cohort: Cohort, munis: MunicipalityTable, muni_index: np.ndarray,
                      years: np.ndarray | int | None = None) -> np.ndarray:
        """Calibrated probability for person i in municipality ``muni_index[i]``."""
        yrs = self.years if years is None else years
        x = self._rows(cohort, np.broadcast_to(np.asarray(yrs), (len(cohort),)), munis,
                       np.asarray(muni_index))
        re = self._random_effects(munis)[np.asarray(muni_index)]
        assert self._fit is not None
        z = x @ self._fit.beta + re
        return _sigmoid(self.calib[0] + self.calib[1] * z)

    # -- files -----------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        f = self._fit
        if f is None:
            raise UserError("modellen er ikke trent")
        return {"beta": f.beta, "b_muni": f.b_muni, "b_county": f.b_county,
                "m_mean": self.m_mean, "m_scale": self.m_scale, "net_mean": self.net_mean,
                "net_scale": self.net_scale, "calib": self.calib,
                "tau": np.array([f.tau_muni, f.tau_county]),
                "codes": self.codes.astype(str), "counties": self.counties.astype(str),
                "active": self.active}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]
                    ) -> HierarchicalModel:
        model = cls(years=int(meta["years"]), outcome=str(meta.get("outcome", "arbeid")))
        expected = len(model._names())
        if arrays["beta"].shape != (expected,):
            raise ValueError("koeffisientene passer ikke med variablene i denne versjonen")
        tau = arrays["tau"]
        model._fit = _Fit(arrays["beta"], arrays["b_muni"], arrays["b_county"], float(tau[0]),
                          float(tau[1]))
        model.m_mean, model.m_scale = arrays["m_mean"], arrays["m_scale"]
        model.net_mean, model.net_scale = arrays["net_mean"], arrays["net_scale"]
        model.calib = arrays["calib"]
        model.codes = arrays["codes"].astype(object)
        model.counties = arrays["counties"].astype(object)
        model.active = arrays["active"].astype(bool)
        model.metadata = dict(meta)
        return model


def _platt(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(a, b) maximising the likelihood of y under sigmoid(a + b z) (Newton, 2 parameters)."""
    a, b = 0.0, 1.0
    for _ in range(50):
        p = _sigmoid(a + b * z)
        w = p * (1 - p)
        g = np.array([(y - p).sum(), ((y - p) * z).sum()])
        h = np.array([[w.sum(), (w * z).sum()], [(w * z).sum(), (w * z * z).sum()]])
        h += 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-10:
            break
    return np.array([a, b])


def _fit_penalised(x: np.ndarray, midx: np.ndarray, kidx: np.ndarray, y: np.ndarray,
                   n_munis: int, n_counties: int, em_rounds: int = 25) -> _Fit:
    """Penalised logistic regression with random intercepts per municipality and county;
    their variances by EM (Laplace approximation): τ² = mean(b² + posterior variance)."""
    f = x.shape[1]
    beta = np.zeros(f)
    mean = y.mean()
    beta[0] = math.log(max(mean, 1e-6) / max(1 - mean, 1e-6))
    bm = np.zeros(n_munis)
    bk = np.zeros(n_counties)
    tau_m, tau_k = 0.2, 0.2
    ridge = np.full(f, FIXED_RIDGE)
    ridge[0] = 0.0
    for _ in range(em_rounds):
        lam_m, lam_k = 1 / tau_m ** 2, 1 / tau_k ** 2
        for _ in range(30):
            z = x @ beta + bm[midx] + bk[kidx]
            p = _sigmoid(z)
            w = p * (1 - p)
            r = y - p
            g = np.concatenate([x.T @ r - ridge * beta,
                                np.bincount(midx, weights=r, minlength=n_munis) - lam_m * bm,
                                np.bincount(kidx, weights=r, minlength=n_counties) - lam_k * bk])
            hess = _hessian(x, w, midx, kidx, n_munis, n_counties)
            hess[np.diag_indices(f)] += ridge
            hess[np.arange(f, f + n_munis), np.arange(f, f + n_munis)] += lam_m
            kk = np.arange(f + n_munis, f + n_munis + n_counties)
            hess[kk, kk] += lam_k
            step = np.linalg.solve(hess + 1e-10 * np.eye(len(g)), g)
            beta += step[:f]
            bm += step[f:f + n_munis]
            bk += step[f + n_munis:]
            if np.abs(step).max() < 1e-7:
                break
        cov_diag = np.diag(np.linalg.inv(hess + 1e-10 * np.eye(len(g))))
        var_m = cov_diag[f:f + n_munis]
        var_k = cov_diag[f + n_munis:]
        seen_m = np.bincount(midx, minlength=n_munis) > 0
        seen_k = np.bincount(kidx, minlength=n_counties) > 0
        new_m = math.sqrt(max(np.mean(bm[seen_m] ** 2 + var_m[seen_m]), 1e-8))
        new_k = math.sqrt(max(np.mean(bk[seen_k] ** 2 + var_k[seen_k]), 1e-8))
        done = abs(new_m - tau_m) < 1e-4 and abs(new_k - tau_k) < 1e-4
        tau_m, tau_k = max(new_m, 1e-3), max(new_k, 1e-3)
        if done:
            break
    return _Fit(beta, bm, bk, tau_m, tau_k)


def _hessian(x: np.ndarray, w: np.ndarray, midx: np.ndarray, kidx: np.ndarray,
             n_munis: int, n_counties: int) -> np.ndarray:
    f = x.shape[1]
    size = f + n_munis + n_counties
    h = np.zeros((size, size))
    xw = x * w[:, None]
    h[:f, :f] = x.T @ xw
    fm = np.column_stack([np.bincount(midx, weights=xw[:, c], minlength=n_munis)
                          for c in range(f)])
    fk = np.column_stack([np.bincount(kidx, weights=xw[:, c], minlength=n_counties)
                          for c in range(f)])
    h[f:f + n_munis, :f] = fm
    h[:f, f:f + n_munis] = fm.T
    h[f + n_munis:, :f] = fk
    h[:f, f + n_munis:] = fk.T
    wm = np.bincount(midx, weights=w, minlength=n_munis)
    h[np.arange(f, f + n_munis), np.arange(f, f + n_munis)] = wm
    wk = np.bincount(kidx, weights=w, minlength=n_counties)
    kk = np.arange(f + n_munis, size)
    h[kk, kk] = wk
    mk = np.bincount(midx * n_counties + kidx, weights=w,
                     minlength=n_munis * n_counties).reshape(n_munis, n_counties)
    h[f:f + n_munis, f + n_munis:] = mk
    h[f + n_munis:, f:f + n_munis] = mk.T
    return h
