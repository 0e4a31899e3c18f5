"""Outcome model: fit, validation, save/load, prediction matrix, forbidden features."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import bli_on

from bliatlas.errors import UserError
from bliatlas.settlement import synthetic as syn
from bliatlas.settlement.cohort import read_cohort
from bliatlas.settlement.predict import OutcomeModel, train_and_validate
from bliatlas.settlement.synthetic import write_extract


@pytest.fixture(scope="module")
def setup(munis, calibration_targets):
    targets = calibration_targets
    extract, bofast, _ = syn.generate_extract(16000, targets, munis, seed=5)
    model = train_and_validate(extract, munis, years=5, seed=1)
    return munis, targets, extract, bofast, model


def test_validation_figures_are_stored_and_sensible(setup):
    *_, model = setup
    v = model.metadata["validation"]
    assert 0.62 < v["auc"] < 0.9
    assert len(v["calibration"]) == 10
    gaps = [abs(r["predikert"] - r["observert"]) for r in v["calibration"]]
    assert np.mean(gaps) < 0.04
    # deciles are ordered by prediction and observed rates follow them
    pred = [r["predikert"] for r in v["calibration"]]
    obs = [r["observert"] for r in v["calibration"]]
    assert pred == sorted(pred)
    assert obs[-1] > obs[0] + 0.3
    assert v["ranking_spearman_halves"] > 0.8
    assert model.synthetic


def test_predict_matrix_shape_and_consistency(setup):
    munis, _, extract, _, model = setup
    cohort = extract.cohort.subset(np.arange(300))
    probs = model.predict_matrix(cohort, munis)
    assert probs.shape == (300, 357)
    assert ((probs > 0) & (probs < 1)).all()
    idx = np.arange(300) % 357
    pairs = model.predict_pairs(cohort, munis, idx)
    assert pairs == pytest.approx(probs[np.arange(300), idx])


def test_model_learns_the_generating_directions(setup):
    munis, _, extract, _, model = setup
    cohort = extract.cohort
    probs = model.predict_matrix(cohort, munis).mean(axis=1)
    adults = (cohort.age >= 20) & (cohort.age <= 50)
    high = adults & (cohort.education == "hoyere")
    none = adults & (cohort.education == "ingen")
    assert probs[high].mean() > probs[none].mean() + 0.05
    by_muni = model.predict_matrix(cohort.subset(np.flatnonzero(adults)), munis).mean(axis=0)
    central = munis.centrality <= 2
    remote = munis.centrality >= 5
    assert by_muni[central].mean() > by_muni[remote].mean()


def test_save_load_round_trip_plain_files(setup, tmp_path):
    munis, _, extract, _, model = setup
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.npz"]
    meta = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    assert meta["synthetic"] is True and meta["years"] == 5
    np.load(tmp_path / "m" / "model.npz", allow_pickle=False)  # arrays only
    loaded = OutcomeModel.load(tmp_path / "m")
    cohort = extract.cohort.subset(np.arange(50))
    assert loaded.predict_matrix(cohort, munis) == pytest.approx(
        model.predict_matrix(cohort, munis)
    )


def test_fit_refuses_forbidden_features(setup):
    munis, _, extract, _, _ = setup
    with pytest.raises(UserError, match="religion"):
        OutcomeModel().fit(extract, munis, features=("kvinne", "religion"))
    cols = extract.as_columns()
    cols["etnisitet"] = np.array(["x"] * len(extract.outcome), dtype=object)
    with pytest.raises(UserError, match="etnisitet"):
        OutcomeModel().fit(cols, munis)


def test_fit_on_a_subset_of_features_ignores_the_rest(setup):
    munis, _, extract, _, _ = setup
    model = OutcomeModel().fit(extract, munis, features=("kvinne", "log_botid"))
    assert model.metadata["person_features"] == ["kvinne", "log_botid"]
    cohort = extract.cohort.subset(np.arange(100))
    probs = model.predict_matrix(cohort, munis)
    # persons who differ only in education get the same prediction
    other = cohort.subset(np.arange(100))
    other.education = np.where(other.education == "hoyere", "ingen", "hoyere").astype(object)
    assert model.predict_matrix(other, munis) == pytest.approx(probs)


def test_cli_train_and_predict(setup, imported_db, tmp_path, capsys):
    _munis, _, extract, bofast, _ = setup
    data = tmp_path / "extract.csv"
    write_extract(extract, bofast, data)
    model_dir = tmp_path / "model"
    assert (
        bli_on(imported_db, "settlement", "train", "--data", str(data), "--out", str(model_dir))
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("SYNTETISK")
    assert "AUC: 0," in out
    assert "Kalibrering (desiler" in out
    assert "Spearman" in out
    cohort_file = tmp_path / "cohort.csv"
    cohort = extract.cohort.subset(extract.cohort.households[0])
    from bliatlas.settlement.cohort import write_cohort

    write_cohort(cohort, cohort_file)
    pred_out = tmp_path / "pred.csv"
    assert (
        bli_on(
            imported_db,
            "settlement",
            "predict",
            "--model",
            str(model_dir),
            "--cohort",
            str(cohort_file),
            "--municipality",
            "4650",
            "--out",
            str(pred_out),
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "4650 Gloppen: snitt" in out
    lines = pred_out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "person_id,household_id,4650,syntetisk"
    assert len(lines) == len(read_cohort(cohort_file)) + 1
    assert (
        bli_on(
            imported_db,
            "settlement",
            "predict",
            "--model",
            str(model_dir),
            "--cohort",
            str(cohort_file),
            "--municipality",
            "9999",
        )
        == 2
    )
    assert "ukjent kommunenummer '9999'" in capsys.readouterr().err


def test_plan_uses_model_outcome(setup, imported_db, tmp_path, capsys):
    _munis, _, extract, _bofast, model = setup
    model.save(tmp_path / "m")
    from bliatlas.settlement.cohort import write_cohort

    cohort_file = tmp_path / "c.csv"
    write_cohort(extract.cohort.subset(np.arange(400)), cohort_file)
    plan = ["settlement", "plan", "--county", "46", "--total", "500",
            "--model", tmp_path / "m", "--cohort", cohort_file]
    code = bli_on(imported_db, *plan)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("SYNTETISK")
    assert "forventet arbeid/utdanning" in out
    assert "(nr. 1 av 43)" in out
    csv_out = tmp_path / "plan.csv"
    assert bli_on(imported_db, *plan, "--out", csv_out) == 0
    import csv

    with open(csv_out, encoding="utf-8") as fh:
        recs = list(csv.DictReader(fh))
    assert {r["syntetisk_utfall"] for r in recs} == {"1"}
    assert all(0 < float(r["forventet_utfall"]) < 1 for r in recs)
