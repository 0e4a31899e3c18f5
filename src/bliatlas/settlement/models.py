"""Outcome models for matching: several outcomes, weighted by the planner, one file format.

Two outcomes (:data:`OUTCOMES`): ``arbeid`` — in work or education after N years, defined
for persons aged 15–74 at measurement (the employment statistics' range; everyone else
counts 0 in the objective and is left out of every rate and gain) — and ``bofast`` — the
household still lives in the county. The planner weights them (:data:`DEFAULT_WEIGHTS`);
a person's score in a municipality is Σ weight × probability.

Two model kinds (:data:`MODEL_KINDS`): ``logistisk`` (:class:`~.predict.OutcomeModel`, the
earlier model: all person × municipality products) and ``hierarkisk``
(:class:`~.hierarchical.HierarchicalModel`: partial pooling, theory-led terms, monotone
steps, calibrated). :func:`train` fits the kind asked for, or with ``kind='auto'`` both,
and keeps the one with the better held-out log-likelihood on households it did not see;
the synthetic default model (:func:`synthetic_default`) is chosen by the back-test instead
(:mod:`~.backtest`: realised gain on the next synthetic year's true outcomes).

Saved as ``model.json`` (format 2: kind, outcomes, validation, back-test, provenance) and
``model.npz`` (arrays only, loaded with ``allow_pickle=False``); format 1 (a logistic
``arbeid`` model from earlier versions) still loads.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import InputError, UserError
from bliatlas.export import write_file
from bliatlas.format import fmt_int, fmt_num, fmt_share
from bliatlas.settlement.cohort import Cohort, TrainingExtract
from bliatlas.settlement.features import MunicipalityTable
from bliatlas.settlement.hierarchical import HierarchicalModel
from bliatlas.settlement.predict import DEFAULT_YEARS, OutcomeModel, _Params

FORMAT = 2
OUTCOMES: dict[str, str] = {
    "arbeid": "i arbeid eller utdanning etter {years} år (personer 15–74 år)",
    "bofast": "bor fortsatt i fylket",
}
DEFAULT_WEIGHTS: dict[str, float] = {"arbeid": 1.0, "bofast": 0.0}
MODEL_KINDS: dict[str, str] = {
    "logistisk": "logistisk regresjon med alle person × kommune-produkter",
    "hierarkisk": "hierarkisk modell: delvis sammenslåing mellom kommuner, teoristyrte ledd, "
                  "monotone trinn, kalibrert",
}
OUTCOME_AGE = (15, 74)


def outcome_scope(cohort: Cohort, years: int) -> np.ndarray:
    """Persons aged 15–74 at measurement (age + years): the ``arbeid`` outcome's range."""
    age_now = cohort.age.astype(np.int64) + int(years)
    return (age_now >= OUTCOME_AGE[0]) & (age_now <= OUTCOME_AGE[1])


def parse_weights(text: str | None) -> dict[str, float]:
    """``arbeid=1,bofast=0.5`` → weights (unknown names and negative numbers refused)."""
    weights = dict(DEFAULT_WEIGHTS)
    if not text:
        return weights
    # pairs separated by ',' or ';' (a decimal comma belongs to the number before it)
    parts = re.split(r"[,;]\s*(?=[^\d\s=,;][^=,;]*=)", text.strip())
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in OUTCOMES:
            raise UserError(f"vekter: ugyldig del {part!r}; forventet navn=tall med navn blant "
                            + ", ".join(OUTCOMES))
        try:
            v = float(value.strip().replace(",", "."))
        except ValueError:
            raise UserError(f"vekter: {value!r} er ikke et tall (for {key})") from None
        if not math.isfinite(v) or not 0 <= v <= 100:
            raise UserError(f"vekter: {key} må være mellom 0 og 100, fikk {value!r}")
        weights[key] = v
    if not any(weights.values()):
        raise UserError("vekter: minst ett utfall må ha vekt over 0")
    return weights


class OutcomeModels:
    """One model per outcome, all of one kind, and the metadata that describes them."""

    def __init__(self, models: dict[str, Any], kind: str, years: int = DEFAULT_YEARS,
                 metadata: dict[str, Any] | None = None) -> None:
        if "arbeid" not in models:
            raise UserError("modellen mangler utfallet arbeid")
        self.models = models
        self.kind = kind
        self.years = int(years)
        self.metadata: dict[str, Any] = dict(metadata or {})

    @property
    def synthetic(self) -> bool:
        return bool(self.metadata.get("synthetic", False))

    @property
    def outcomes(self) -> list[str]:
        return list(self.models)

    def predict(self, outcome: str, cohort: Cohort, munis: MunicipalityTable) -> np.ndarray:
        """(persons, municipalities) probabilities; ``arbeid`` is nan outside 15–74."""
        if outcome not in self.models:
            raise UserError(f"modellen har ikke utfallet {outcome!r}; den har "
                            + ", ".join(self.models))
        p = self.models[outcome].predict_matrix(cohort, munis, self.years)
        if outcome == "arbeid":
            p = np.where(outcome_scope(cohort, self.years)[:, None], p, np.nan)
        return p

    def score_matrix(self, cohort: Cohort, munis: MunicipalityTable,
                     weights: dict[str, float] | None = None) -> np.ndarray:
        """Σ weight × probability per person and municipality (persons outside an
        outcome's range add 0 for it)."""
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        missing = [k for k, v in weights.items() if v and k not in self.models]
        if missing:
            raise UserError("modellen har ikke utfallet " + ", ".join(missing)
                            + " (treningsdata uten kolonnen bofast_fylke)")
        total = np.zeros((len(cohort), len(munis)))
        for k, w in weights.items():
            if w:
                total += w * np.nan_to_num(self.predict(k, cohort, munis), nan=0.0)
        return total

    def describe(self) -> str:
        """A Norwegian line: kind, outcomes, training size, synthetic or not."""
        n = self.metadata.get("n_training")
        text = (f"{MODEL_KINDS.get(self.kind, self.kind)[:1].upper()}"
                f"{MODEL_KINDS.get(self.kind, self.kind)[1:]}; utfall: "
                + ", ".join(OUTCOMES[k].format(years=self.years) for k in self.models))
        if n:
            text += f"; {fmt_int(n)} personer i treningsdata"
        return text

    # -- files --------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        outcomes: dict[str, Any] = {}
        for name, model in self.models.items():
            for key, arr in _arrays(model).items():
                arrays[f"{name}__{key}"] = arr
            outcomes[name] = dict(model.metadata)
        np.savez(directory / "model.npz", **arrays)
        meta = {**self.metadata, "format": FORMAT, "kind": self.kind, "years": self.years,
                "outcomes": outcomes}
        write_file(directory / "model.json",
                   json.dumps(meta, ensure_ascii=False, indent=2, default=_json))

    @classmethod
    def load(cls, directory: str | Path) -> OutcomeModels:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(directory, "mangler model.json; forventet en modellmappe laget av "
                             "`bli settlement train`") from None
        except (ValueError, json.JSONDecodeError) as exc:
            raise InputError(directory / "model.json", f"ugyldig modellfil ({exc})") from None
        if meta.get("format") == 1:
            model = OutcomeModel.load(directory)
            return cls({"arbeid": model}, "logistisk", model.years, dict(model.metadata))
        if meta.get("format") != FORMAT:
            raise InputError(directory / "model.json",
                             f"modellformat {meta.get('format')!r}; forventet {FORMAT}")
        try:
            npz = np.load(directory / "model.npz", allow_pickle=False)
            raw = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            raise InputError(directory, "mangler model.npz") from None
        except ValueError as exc:
            raise InputError(directory / "model.npz", f"ugyldig modellfil ({exc})") from None
        models = {}
        for name, om in meta.get("outcomes", {}).items():
            if name not in OUTCOMES:
                raise InputError(directory / "model.json", f"ukjent utfall {name!r}")
            arrays = {k.split("__", 1)[1]: v for k, v in raw.items()
                      if k.startswith(name + "__")}
            try:
                models[name] = _from_arrays(meta["kind"], arrays, om)
            except (KeyError, ValueError) as exc:
                raise InputError(directory / "model.npz",
                                 f"koeffisientene for {name} passer ikke med denne versjonen "
                                 f"av bliatlas ({exc})") from None
        rest = {k: v for k, v in meta.items() if k not in ("format", "kind", "years",
                                                           "outcomes")}
        return cls(models, meta["kind"], int(meta["years"]), rest)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value))


def _arrays(model: Any) -> dict[str, np.ndarray]:
    if isinstance(model, HierarchicalModel):
        return model.arrays()
    p = model._params
    if p is None:
        raise UserError("modellen er ikke trent")
    return {"intercept": np.array([p.intercept]), "coef": p.coef, "m_mean": p.m_mean,
            "m_scale": p.m_scale, "feature_mask": model._feature_mask}


def _from_arrays(kind: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    if kind == "hierarkisk":
        return HierarchicalModel.from_arrays(arrays, meta)
    if kind == "logistisk":
        from bliatlas.settlement.predict import MUNICIPALITY_FEATURES, PERSON_FEATURES

        p, q = len(PERSON_FEATURES), len(MUNICIPALITY_FEATURES)
        if arrays["coef"].shape != (p + q + p * q,):
            raise ValueError("feil antall koeffisienter")
        model = OutcomeModel(years=int(meta.get("years", DEFAULT_YEARS)))
        model._params = _Params(float(arrays["intercept"][0]), arrays["coef"],
                                arrays["m_mean"], arrays["m_scale"])
        model._feature_mask = arrays["feature_mask"].astype(bool)
        model.metadata = dict(meta)
        return model
    raise ValueError(f"ukjent modelltype {kind!r}")


# -- fitting ---------------------------------------------------------------------------------
def fit_outcome(kind: str, extract: TrainingExtract, munis: MunicipalityTable, outcome: str,
                years: int = DEFAULT_YEARS, seed: int = 0) -> Any:
    """One model of ``kind`` for ``outcome`` on ``extract``."""
    if kind not in MODEL_KINDS:
        raise UserError(f"modelltype: forventet {' eller '.join(MODEL_KINDS)}, fikk {kind!r}")
    if outcome == "arbeid":
        y = extract.outcome
    else:
        if extract.stay_county is None:
            raise UserError("treningsdata mangler kolonnen bofast_fylke (bor fortsatt i fylket)")
        y = extract.stay_county
    if kind == "logistisk":
        model = OutcomeModel(years=years).fit(extract, munis, target=y)
    else:
        model = HierarchicalModel(years=years, outcome=outcome).fit(
            extract.cohort, extract.municipality, extract.years, y.astype(float), munis,
            measured=y >= 0, seed=seed)
    model.metadata["outcome"] = outcome
    return model


def fit_models(extract: TrainingExtract, munis: MunicipalityTable, kind: str,
               years: int = DEFAULT_YEARS, seed: int = 0) -> OutcomeModels:
    """Models of ``kind`` for ``arbeid`` and, when the extract has ``bofast_fylke``, for
    ``bofast``."""
    models = {"arbeid": fit_outcome(kind, extract, munis, "arbeid", years, seed)}
    if extract.stay_county is not None:
        models["bofast"] = fit_outcome(kind, extract, munis, "bofast", years, seed)
    meta = {"synthetic": bool(extract.cohort.synthetic), "features_year": int(munis.year),
            "n_training": int((extract.outcome >= 0).sum())}
    return OutcomeModels(models, kind, years, meta)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def held_out_figures(model: Any, extract: TrainingExtract, munis: MunicipalityTable,
                     y: np.ndarray) -> dict[str, Any]:
    """AUC, Brier score, log-loss and a decile calibration table on held-out persons in the
    municipalities they were settled in."""
    from bliatlas.settlement.predict import _auc, calibration_table

    pos = {c: j for j, c in enumerate(munis.codes.tolist())}
    midx = np.array([pos[c] for c in extract.municipality.tolist()], dtype=np.int64)
    p = model.predict_pairs(extract.cohort, munis, midx, extract.years)
    measured = y >= 0
    p, yy = p[measured], y[measured].astype(float)
    return {"n_holdout": int(measured.sum()), "auc": _auc(yy, p),
            "brier": float(np.mean((p - yy) ** 2)), "log_loss": log_loss(yy, p),
            "calibration": calibration_table(yy, p)}


def train(extract: TrainingExtract, munis: MunicipalityTable, kind: str = "auto",
          years: int = DEFAULT_YEARS, seed: int = 0, holdout: float = 0.25) -> OutcomeModels:
    """Hold out ``holdout`` of the households; fit ``kind`` (or, with ``auto``, every kind)
    on the rest; store the held-out figures per outcome and kind; with ``auto`` keep the
    kind with the lower held-out log-loss for ``arbeid`` (out of sample — never by the fit
    to the training rows). The models returned are the ones fitted on the training part."""
    rng = np.random.default_rng(seed)
    hh_of = extract.cohort.household_of_person()
    test = (rng.random(extract.cohort.n_households) < holdout)[hh_of]
    if test.all() or not test.any():
        raise UserError("for få husholdninger til å holde av en valideringsdel")
    train_part = extract.subset(np.flatnonzero(~test))
    test_part = extract.subset(np.flatnonzero(test))
    kinds = list(MODEL_KINDS) if kind == "auto" else [kind]
    fitted: dict[str, OutcomeModels] = {}
    figures: dict[str, dict[str, Any]] = {}
    for k in kinds:
        bundle = fit_models(train_part, munis, k, years, seed)
        fitted[k] = bundle
        figures[k] = {}
        for outcome, model in bundle.models.items():
            y = test_part.outcome if outcome == "arbeid" else test_part.stay_county
            figures[k][outcome] = held_out_figures(model, test_part, munis, y)
    chosen = min(kinds, key=lambda k: figures[k]["arbeid"]["log_loss"])
    out = fitted[chosen]
    out.metadata["validation"] = figures[chosen]
    out.metadata["comparison"] = {
        "criterion": "log-tap på holdt-av husholdninger (utfallet arbeid)",
        "log_loss": {k: figures[k]["arbeid"]["log_loss"] for k in kinds},
        "auc": {k: figures[k]["arbeid"]["auc"] for k in kinds}, "chosen": chosen}
    out.metadata["seed"] = seed
    return out


def validation_lines(models: OutcomeModels) -> list[str]:
    """The stored validation and comparison as Norwegian text lines."""
    lines = []
    if models.synthetic:
        lines.append("SYNTETISK: modellen er trent på syntetiske data, ikke registerdata.")
    lines.append(f"Modell: {models.describe()}.")
    comp = models.metadata.get("comparison")
    if comp:
        parts = ", ".join(f"{k} {fmt_num(v, 4)}" for k, v in comp["log_loss"].items())
        lines.append(f"Valgt: {comp['chosen']} etter {comp['criterion']} ({parts}).")
    for outcome, v in (models.metadata.get("validation") or {}).items():
        lines.append(f"Validering, {OUTCOMES[outcome].format(years=models.years)}, på "
                     f"{v['n_holdout']} holdt-av personer:")
        lines.append(f"  AUC: {fmt_num(v['auc'], 3)}")
        lines.append(f"  Brier-skår: {fmt_num(v['brier'], 4)}")
        lines.append(f"  Log-tap: {fmt_num(v['log_loss'], 4)}")
        lines.append("  Kalibrering (desiler av predikert sannsynlighet):")
        lines.append("    desil  antall  predikert  observert")
        for row in v["calibration"]:
            lines.append(
                f"    {row['desil']:>5}  {row['antall']:>6}  "
                f"{fmt_share(row['predikert']):>10}  {fmt_share(row['observert']):>10}")
    bt = models.metadata.get("backtest")
    if bt:
        lines.append("Tilbaketest (SYNTETISK): " + bt.get("summary", ""))
    return lines
