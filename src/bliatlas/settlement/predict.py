"""Outcome model: probability of being in work or education after N years.

A logistic regression (scikit-learn) on person features, municipality features and
all their pairwise products (person × municipality interactions), so the same person
can have a different predicted outcome in different municipalities. Because the model
is linear in those terms, the whole person × municipality matrix is computed with two
matrix products: ``logit = b0 + Xp·bp + Xm·bm + Xp W Xmᵀ``.

Saved as plain files: ``model.npz`` (arrays only, loaded with ``allow_pickle=False``)
and ``model.json`` (feature names, scaling, validation figures, provenance). Nothing
is unpickled, so a model directory from someone else cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import InputError, UserError
from bliatlas.export import write_file
from bliatlas.settlement.cohort import (
    COHORT_COLUMNS,
    COUNTRY_GROUPS,
    EDUCATION_LEVELS,
    NORWEGIAN_LEVELS,
    Cohort,
    TrainingExtract,
    _assemble,
)
from bliatlas.settlement.exclusions import check_columns, forbidden_reason
from bliatlas.settlement.features import MunicipalityTable

MODEL_FORMAT = 1
DEFAULT_YEARS = 5
AGE_BANDS: tuple[tuple[int, int], ...] = ((0, 17), (18, 24), (35, 44), (45, 54), (55, 110))
#: Person features the model may use (all derived from the cohort columns).
PERSON_FEATURES: tuple[str, ...] = (
    *(f"alder_{lo}_{hi}" for lo, hi in AGE_BANDS),
    "kvinne",
    *(f"utdanning_{e}" for e in EDUCATION_LEVELS[1:]),
    *(f"norsk_{n}" for n in NORWEGIAN_LEVELS[1:]),
    *(f"land_{c}" for c in COUNTRY_GROUPS[:-1]),
    "enslig_mindreaarig",
    "oppfolgingsbehov",
    "log_husholdning",
    "barn_i_husholdningen",
    "log_botid",
)
#: Municipality features (standardised; nan imputed by the training mean, recorded).
MUNICIPALITY_FEATURES: tuple[str, ...] = (
    "sentralitet",
    "log_folketall",
    "distrikt",
    "bofasthet_fylke",
    "fastlege_ledig",
    "bosatte_per_1000",
)


def person_design(cohort: Cohort, years: np.ndarray | int) -> np.ndarray:
    """Encode persons as the :data:`PERSON_FEATURES` matrix (float64, n × p)."""
    n = len(cohort)
    x = np.zeros((n, len(PERSON_FEATURES)))
    col = 0
    age = cohort.age.astype(np.int64)
    for lo, hi in AGE_BANDS:
        x[:, col] = (age >= lo) & (age <= hi)
        col += 1
    x[:, col] = cohort.sex == "K"
    col += 1
    for level in EDUCATION_LEVELS[1:]:
        x[:, col] = cohort.education == level
        col += 1
    for level in NORWEGIAN_LEVELS[1:]:
        x[:, col] = cohort.norwegian_level == level
        col += 1
    for group in COUNTRY_GROUPS[:-1]:
        x[:, col] = cohort.country_group == group
        col += 1
    x[:, col] = cohort.unaccompanied_minor
    col += 1
    x[:, col] = cohort.support_need
    col += 1
    size = np.ones(n)
    children = np.zeros(n)
    if cohort.households:
        rows = np.concatenate(cohort.households)
        hh = np.repeat(np.arange(len(cohort.households)),
                       [len(r) for r in cohort.households])
        size[rows] = np.bincount(hh)[hh]
        # other members under 18 (a child's own age does not count)
        minors = age[rows] < 18
        children[rows] = (np.bincount(hh, weights=minors)[hh] - minors) > 0
    x[:, col] = np.log(size)
    col += 1
    x[:, col] = children
    col += 1
    x[:, col] = np.log1p(np.broadcast_to(np.asarray(years, dtype=float), (n,)))
    col += 1
    assert col == len(PERSON_FEATURES)
    return x


def municipality_raw(munis: MunicipalityTable) -> np.ndarray:
    """The raw :data:`MUNICIPALITY_FEATURES` matrix (m × q), nan where unknown."""
    with np.errstate(all="ignore"):
        per_1000 = munis.settled_refugees_mean / munis.population * 1000.0
    return np.column_stack(
        [
            munis.centrality,
            np.log(munis.population),
            np.where(np.isnan(munis.centrality), np.nan, (munis.centrality >= 5).astype(float)),
            munis.county_retention,
            munis.gp_spare_capacity,
            per_1000,
        ]
    )


def _as_extract(data: TrainingExtract | Mapping[str, Any]) -> TrainingExtract:
    if isinstance(data, TrainingExtract):
        return data
    names = list(data.keys())
    check_columns(names, "treningsdata")
    needed = [*COHORT_COLUMNS, "kommune", "botid", "utfall"]
    missing = [c for c in needed if c not in names]
    if missing:
        raise UserError("treningsdata mangler kolonne(r) " + ", ".join(missing))
    cols = {c: np.asarray(data[c]) for c in COHORT_COLUMNS}
    for c in (
        "sex",
        "education",
        "norwegian_level",
        "country_group",
        "person_id",
        "household_id",
        "tie_municipality",
        "tie_kind",
    ):
        cols[c] = cols[c].astype(object)
    cols["age"] = cols["age"].astype(np.int16)
    cols["unaccompanied_minor"] = cols["unaccompanied_minor"].astype(bool)
    cols["support_need"] = cols["support_need"].astype(bool)
    synthetic = (
        bool(np.asarray(data["syntetisk"]).astype(bool).any()) if "syntetisk" in data else False
    )
    cohort = _assemble(cols, synthetic=synthetic, source="treningsdata")
    return TrainingExtract(
        cohort,
        np.asarray(data["kommune"]).astype(object),
        np.asarray(data["botid"]).astype(np.int16),
        np.asarray(data["utfall"]).astype(np.int8),
    )


@dataclass
class _Params:
    intercept: float
    coef: np.ndarray  # p + q + p*q
    m_mean: np.ndarray  # q, for standardising
    m_scale: np.ndarray


class OutcomeModel:
    """P(in work or education after ``years`` years | person, municipality)."""

    def __init__(self, years: int = DEFAULT_YEARS, regularisation: float = 1.0) -> None:
        self.years = int(years)
        self.regularisation = float(regularisation)
        self._params: _Params | None = None
        self.metadata: dict[str, Any] = {}

    # -- training -----------------------------------------------------------------
    def _design(self, xp: np.ndarray, xm: np.ndarray) -> np.ndarray:
        inter = (xp[:, :, None] * xm[:, None, :]).reshape(xp.shape[0], -1)
        return np.hstack([xp, xm, inter])

    def _muni_std(self, munis: MunicipalityTable) -> np.ndarray:
        assert self._params is not None
        raw = municipality_raw(munis)
        raw = np.where(np.isnan(raw), self._params.m_mean[None, :], raw)
        return (raw - self._params.m_mean) / self._params.m_scale

    def fit(
        self,
        data: TrainingExtract | Mapping[str, Any],
        munis: MunicipalityTable,
        features: tuple[str, ...] | None = None,
        target: np.ndarray | None = None,
    ) -> OutcomeModel:
        """Fit on a training extract (or a mapping of its columns).

        ``features`` lists the person features to use (default: all of
        :data:`PERSON_FEATURES`); a forbidden feature (see exclusions) raises. ``target``
        (0/1 per person, −1 = not measured) replaces the extract's ``utfall``, e.g. to fit
        the retention outcome.
        """
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        if features is not None:
            bad = [f for f in features if forbidden_reason(f) is not None]
            if bad:
                check_columns(bad, "modellens variabler")
            unknown = [f for f in features if f not in PERSON_FEATURES]
            if unknown:
                raise UserError(
                    "ukjente variabler: "
                    + ", ".join(unknown)
                    + "; tillatt er "
                    + ", ".join(PERSON_FEATURES)
                )
        ext = _as_extract(data)
        pos = {c: j for j, c in enumerate(munis.codes.tolist())}
        unknown_codes = sorted({c for c in ext.municipality.tolist() if c not in pos})
        if unknown_codes:
            raise InputError(
                ext.cohort.source or "treningsdata",
                "ukjente kommunenumre (forventet 2024-numre): " + ", ".join(unknown_codes[:5]),
                column="kommune",
            )
        y_all = ext.outcome if target is None else np.asarray(target, dtype=np.int8)
        measured = y_all >= 0
        if len(np.unique(y_all[measured])) < 2:
            raise UserError("treningsdata har bare ett utfall; trenger både 0 og 1")
        midx = np.array([pos[c] for c in ext.municipality.tolist()], dtype=np.int64)
        raw = municipality_raw(munis)
        m_mean = np.nanmean(raw[midx[measured]], axis=0)
        m_mean = np.where(np.isnan(m_mean), 0.0, m_mean)
        filled = np.where(np.isnan(raw), m_mean[None, :], raw)
        m_scale = filled[midx[measured]].std(axis=0)
        m_scale = np.where(m_scale > 0, m_scale, 1.0)
        self._params = _Params(0.0, np.zeros(0), m_mean, m_scale)
        xm = ((filled - m_mean) / m_scale)[midx]
        # household composition needs every member; the fit only measured persons
        xp = person_design(ext.cohort, ext.years)
        xp, xm, midx = xp[measured], xm[measured], midx[measured]
        mask = np.ones(len(PERSON_FEATURES), dtype=bool)
        if features is not None:
            mask = np.array([f in features for f in PERSON_FEATURES])
            xp = xp * mask[None, :]
        design = self._design(xp, xm)
        clf = LogisticRegression(C=self.regularisation, solver="newton-cholesky", max_iter=200)
        with threadpool_limits(1, "blas"):  # small dense algebra: one thread is faster
            clf.fit(design, y_all[measured])
        self._params = _Params(float(clf.intercept_[0]), clf.coef_[0].copy(), m_mean, m_scale)
        self.metadata.update(
            {
                "format": MODEL_FORMAT,
                "kind": "logistic regression with person x municipality interactions",
                "years": self.years,
                "person_features": [f for f, k in zip(PERSON_FEATURES, mask) if k],
                "municipality_features": list(MUNICIPALITY_FEATURES),
                "municipality_imputation": "mean of the training rows (municipality features)",
                "n_training": int(measured.sum()),
                "outcome_rate": float(y_all[measured].mean()),
                "synthetic": bool(ext.cohort.synthetic),
                "features_year": int(munis.year),
            }
        )
        self._feature_mask = mask
        return self

    # -- prediction ---------------------------------------------------------------
    def _split(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        if self._params is None:
            raise UserError("modellen er ikke trent")
        p, q = len(PERSON_FEATURES), len(MUNICIPALITY_FEATURES)
        c = self._params.coef
        return self._params.intercept, c[:p], c[p : p + q], c[p + q :].reshape(p, q)

    def logit_matrix(
        self, cohort: Cohort, munis: MunicipalityTable, years: int | None = None
    ) -> np.ndarray:
        b0, bp, bm, w = self._split()
        xp = person_design(cohort, self.years if years is None else years)
        xp = xp * self._feature_mask[None, :]
        xm = self._muni_std(munis)
        # z = b0 + xp·bp + xm·bm + xp·W·xm, as one product of rank q + 1 written straight
        # into the result: u = [xp·W + bm, b0 + xp·bp], v = [xm, 1]. One thread: the product
        # is memory-bound, and OpenBLAS threads spinning on a loaded machine made it several
        # times slower (5,75–8,24 s against 1,02 s on the same input).
        u = np.column_stack([xp @ w + bm[None, :], b0 + xp @ bp])
        v = np.column_stack([xm, np.ones(len(xm))])
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            return u @ v.T

    def predict_matrix(
        self, cohort: Cohort, munis: MunicipalityTable, years: int | None = None
    ) -> np.ndarray:
        """Probabilities, shape (n_persons, n_municipalities), for ``years`` (default N)."""
        z = self.logit_matrix(cohort, munis, years)
        # the logistic function in place: no full-size temporaries
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)

    def predict_pairs(
        self,
        cohort: Cohort,
        munis: MunicipalityTable,
        muni_index: np.ndarray,
        years: np.ndarray | int | None = None,
    ) -> np.ndarray:
        """Probability for person i in municipality ``muni_index[i]`` (one per person)."""
        b0, bp, bm, w = self._split()
        xp = person_design(cohort, self.years if years is None else years)
        xp = xp * self._feature_mask[None, :]
        xm = self._muni_std(munis)[muni_index]
        z = b0 + xp @ bp + xm @ bm + np.einsum("ip,pq,iq->i", xp, w, xm)
        return 1.0 / (1.0 + np.exp(-z))

    # -- files ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        if self._params is None:
            raise UserError("modellen er ikke trent")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "model.npz",
            intercept=np.array([self._params.intercept]),
            coef=self._params.coef,
            m_mean=self._params.m_mean,
            m_scale=self._params.m_scale,
            feature_mask=self._feature_mask,
        )
        meta = dict(self.metadata, regularisation=self.regularisation)
        write_file(directory / "model.json", json.dumps(meta, ensure_ascii=False, indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> OutcomeModel:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
            arrays = np.load(directory / "model.npz", allow_pickle=False)
        except FileNotFoundError as exc:
            raise InputError(
                directory,
                f"mangler {Path(exc.filename).name}; forventet en "
                "modellmappe laget av `bli settlement train`",
            ) from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise InputError(directory, f"ugyldig modellfil ({exc})") from None
        if meta.get("format") != MODEL_FORMAT:
            raise InputError(
                directory / "model.json",
                f"modellformat {meta.get('format')!r}; forventet {MODEL_FORMAT}",
            )
        p, q = len(PERSON_FEATURES), len(MUNICIPALITY_FEATURES)
        if arrays["coef"].shape != (p + q + p * q,):
            raise InputError(
                directory / "model.npz",
                "koeffisientene passer ikke med variablene i denne versjonen av bliatlas",
            )
        model = cls(years=int(meta["years"]), regularisation=float(meta.get("regularisation", 1)))
        model._params = _Params(
            float(arrays["intercept"][0]), arrays["coef"], arrays["m_mean"], arrays["m_scale"]
        )
        model._feature_mask = arrays["feature_mask"].astype(bool)
        model.metadata = meta
        return model

    @property
    def synthetic(self) -> bool:
        return bool(self.metadata.get("synthetic", False))


# -- validation -----------------------------------------------------------------------
def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Deciles of predicted probability: mean predicted vs observed share."""
    order = np.argsort(p, kind="stable")
    out = []
    for k, chunk in enumerate(np.array_split(order, bins)):
        if chunk.size == 0:
            continue
        out.append(
            {
                "desil": k + 1,
                "antall": int(chunk.size),
                "predikert": float(p[chunk].mean()),
                "observert": float(y[chunk].mean()),
            }
        )
    return out


def train_and_validate(
    data: TrainingExtract,
    munis: MunicipalityTable,
    years: int = DEFAULT_YEARS,
    seed: int = 0,
    holdout: float = 0.25,
) -> OutcomeModel:
    """Fit on the training part and store held-out validation with the model.

    Split by household (no household on both sides). Reports AUC, a decile
    calibration table and the stability of the municipality ranking: the model is
    refitted on two disjoint halves of the training part, each predicts the mean
    outcome per municipality for the held-out persons, and the two rankings are
    compared with Spearman's rank correlation. The final model is fitted on the
    training part (the held-out part stays unseen).
    """
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    cohort = data.cohort
    hh_of = cohort.household_of_person()
    is_test_hh = rng.random(cohort.n_households) < holdout
    test = is_test_hh[hh_of]
    if test.all() or not test.any():
        raise UserError("for få husholdninger til å holde av en valideringsdel")

    def part(mask: np.ndarray) -> TrainingExtract:
        rows = np.flatnonzero(mask)
        return TrainingExtract(
            cohort.subset(rows), data.municipality[rows], data.years[rows], data.outcome[rows]
        )

    train_part, test_part = part(~test), part(test)
    model = OutcomeModel(years=years).fit(train_part, munis)
    pos = {c: j for j, c in enumerate(munis.codes.tolist())}
    midx = np.array([pos[c] for c in test_part.municipality.tolist()], dtype=np.int64)
    p_test = model.predict_pairs(test_part.cohort, munis, midx, test_part.years)
    measured = test_part.outcome >= 0
    p_test = p_test[measured]
    y_test = test_part.outcome[measured].astype(float)

    half = rng.random(train_part.cohort.n_households) < 0.5
    half_p = half[train_part.cohort.household_of_person()]
    sub_a = TrainingExtract(
        train_part.cohort.subset(np.flatnonzero(half_p)),
        train_part.municipality[half_p],
        train_part.years[half_p],
        train_part.outcome[half_p],
    )
    sub_b = TrainingExtract(
        train_part.cohort.subset(np.flatnonzero(~half_p)),
        train_part.municipality[~half_p],
        train_part.years[~half_p],
        train_part.outcome[~half_p],
    )
    mean_a = (
        OutcomeModel(years=years)
        .fit(sub_a, munis)
        .predict_matrix(test_part.cohort, munis)[measured]
        .mean(axis=0)
    )
    mean_b = (
        OutcomeModel(years=years)
        .fit(sub_b, munis)
        .predict_matrix(test_part.cohort, munis)[measured]
        .mean(axis=0)
    )
    rho = float(spearmanr(mean_a, mean_b).statistic)
    model.metadata["validation"] = {
        "n_holdout": int(measured.sum()),
        "auc": _auc(y_test, p_test),
        "brier": float(np.mean((p_test - y_test) ** 2)),
        "calibration": calibration_table(y_test, p_test),
        "ranking_spearman_halves": rho,
        "seed": seed,
    }
    return model
