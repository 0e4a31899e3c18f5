"""Outcome model: fit, validation, save/load, prediction matrix, forbidden features."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from conftest import bli_on
from settlement_checker import independent_check  # noqa: F401  (autouse fixture)

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
    # The held-out AUC of every outcome is printed and well above chance: a model trained
    # on shuffled labels prints about 0,5 (see the test below).
    aucs = [float(a.replace(",", ".")) for a in re.findall(r"AUC: (\d,\d+)", out)]
    assert aucs and all(0.62 < a < 0.95 for a in aucs), aucs
    assert "Kalibrering (desiler" in out
    assert "Valgt: " in out and "log-tap på holdt-av husholdninger" in out
    cohort_file = tmp_path / "cohort.csv"
    cohort = extract.cohort.subset(extract.cohort.households[0])
    from bliatlas.settlement.cohort import write_cohort

    write_cohort(cohort, cohort_file)
    pred_out = tmp_path / "pred.csv"

    def predict(municipality: str, *extra: str) -> int:
        return bli_on(imported_db, "settlement", "predict", "--model", str(model_dir),
                      "--cohort", str(cohort_file), "--municipality", municipality, *extra)

    assert predict("4650", "--out", str(pred_out)) == 0
    out = capsys.readouterr().out
    assert "4650 Gloppen: snitt" in out
    lines = pred_out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "person_id,household_id,4650,syntetisk"
    assert len(lines) == len(read_cohort(cohort_file)) + 1
    assert predict("9999") == 2
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


# -- the hierarchical model, the model bundle and the back-test --------------------------------
@pytest.fixture(scope="module")
def world_setup(munis, calibration_targets):
    world, extract, _stay, stay_county, _ = syn.generate_world(16000, calibration_targets, munis,
                                                              seed=7)
    return world, extract, stay_county


def test_hierarchical_model_respects_theory_and_recovers_the_truth_better(world_setup, munis,
                                                                          calibration_targets):
    from bliatlas.settlement.hierarchical import PERSON_TERMS, HierarchicalModel

    world, extract, _ = world_setup
    hier = HierarchicalModel().fit(extract.cohort, extract.municipality, extract.years,
                                   extract.outcome.astype(float), munis,
                                   measured=extract.outcome >= 0)
    terms = hier.metadata["terms"]
    for name, sign in PERSON_TERMS.items():
        assert sign * terms[name] >= -1e-12, (name, terms[name])  # monotone where demanded
    assert 0 < hier.metadata["tau_municipality"] < 1
    # partial pooling: municipalities with few training rows are pulled in hard
    counts = np.bincount([munis.index(c) for c in extract.municipality], minlength=len(munis))
    few = (counts > 0) & (counts < 10)
    many = counts > 300
    b = hier._fit.b_muni
    assert np.abs(b[few]).mean() < np.abs(b[many]).mean()
    logistic = OutcomeModel().fit(extract, munis)
    cohort = syn.generate_cohort(3000, calibration_targets, munis, seed=99)
    truth = world.employment_matrix(cohort, munis.codes, 5)
    scope = ~np.isnan(truth[:, 0])

    def within_person(pred: np.ndarray) -> float:
        dp = pred[scope] - pred[scope].mean(axis=1, keepdims=True)
        dt = truth[scope] - truth[scope].mean(axis=1, keepdims=True)
        return float(np.corrcoef(dp.ravel(), dt.ravel())[0, 1])

    r_hier = within_person(hier.predict_matrix(cohort, munis))
    r_log = within_person(logistic.predict_matrix(cohort, munis))
    assert r_hier > 0.9 and r_hier > r_log + 0.05, (r_hier, r_log)


def test_model_bundle_round_trip_and_weights(world_setup, munis, tmp_path):
    from bliatlas.settlement.models import OutcomeModels, fit_models, parse_weights

    _, extract, _ = world_setup
    bundle = fit_models(extract, munis, "hierarkisk")
    assert bundle.outcomes == ["arbeid", "bofast"]
    bundle.save(tmp_path / "m")
    again = OutcomeModels.load(tmp_path / "m")
    cohort = extract.cohort.subset(np.arange(60))
    for outcome in ("arbeid", "bofast"):
        np.testing.assert_allclose(again.predict(outcome, cohort, munis),
                                   bundle.predict(outcome, cohort, munis), equal_nan=True)
    arbeid = bundle.predict("arbeid", cohort, munis)
    ages = cohort.age.astype(int) + 5
    assert np.isnan(arbeid[(ages < 15) | (ages > 74)]).all()  # outside 15–74: no outcome
    score = bundle.score_matrix(cohort, munis, {"arbeid": 1.0, "bofast": 0.5})
    expected = np.nan_to_num(arbeid) + 0.5 * bundle.predict("bofast", cohort, munis)
    np.testing.assert_allclose(score, expected)
    assert parse_weights("arbeid=1,bofast=0,5") == {"arbeid": 1.0, "bofast": 0.5}
    for bad in ("arbeid=-1", "religion=1", "arbeid=0,bofast=0"):
        with pytest.raises(UserError):
            parse_weights(bad)


def test_backtest_chooses_by_realised_gain_and_shows_how_much_survives(munis,
                                                                        calibration_targets):
    from bliatlas.settlement.backtest import report_lines, run_backtest

    report = run_backtest(calibration_targets, munis, train_persons=12000, cohort_persons=1500,
                          repetitions=80, time_limit=20)
    res = {k: r.evaluations["arbeid"].rule("optimert") for k, r in report.results.items()}
    assert report.chosen == max(res, key=lambda k: res[k].realised_gain)
    for r in res.values():
        assert r.realised_gain is not None and r.predicted_gain is not None
        assert r.realised_gain_ci[0] <= r.realised_gain <= r.realised_gain_ci[1]
    # the earlier model promises more than it delivers; the chosen one keeps more of it
    assert res["logistisk"].predicted_gain > res["logistisk"].realised_gain
    assert res[report.chosen].surviving_share >= res["logistisk"].surviving_share - 1e-9
    capacity_only = report.results[report.chosen].evaluations["arbeid"].rule("bare kapasitet")
    assert abs(capacity_only.realised_gain) < res[report.chosen].realised_gain
    lines = report_lines(report)
    assert lines[0].startswith("SYNTETISK") and "Valgt modelltype" in lines[-1]


def test_shuffled_labels_validate_at_chance(setup):
    """The validation figures are measured, not assumed: the same extract with its outcomes
    shuffled among the measured persons validates at AUC about 0,5 and fails the bar the
    real model passes."""
    munis, _, extract, _, model = setup
    rng = np.random.default_rng(11)
    outcome = extract.outcome.copy()
    measured = np.flatnonzero(outcome >= 0)
    outcome[measured] = rng.permutation(outcome[measured])
    shuffled = train_and_validate(replace(extract, outcome=outcome), munis, years=5, seed=1)
    auc = shuffled.metadata["validation"]["auc"]
    assert 0.45 < auc < 0.56
    assert model.metadata["validation"]["auc"] > auc + 0.08
