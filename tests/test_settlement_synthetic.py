"""The synthetic generator reproduces the published aggregates it is calibrated to."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import bli_on

from bliatlas.settlement import synthetic as syn
from bliatlas.settlement.cohort import read_cohort, read_training
from bliatlas.store import open_store


@pytest.fixture(scope="module")
def setup(munis, calibration_targets):
    return munis, calibration_targets


@pytest.fixture(scope="module")
def extract(setup):
    munis, targets = setup
    return syn.generate_extract(40000, targets, munis, seed=11)


def test_targets_are_the_published_figures(setup, shared_data):
    _, targets = setup
    # read the published file independently of the importer
    path = shared_data / "telemark" / "sysselsatte_etter_botid_telemark.csv"
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        band = row[0]
        assert targets.employment[(1, band)] == pytest.approx(float(row[1].replace(",", ".")) / 100)
        assert targets.employment[(2, band)] == pytest.approx(float(row[2].replace(",", ".")) / 100)
    with open(shared_data / "telemark" / "bofasthet_fylker.csv", encoding="utf-8") as fh:
        bof = {r[0]: float(r[1]) / 100 for r in list(csv.reader(fh, delimiter=";"))[1:]}
    assert targets.retention["46"] == bof["Vestland"]
    assert targets.retention["56"] == bof["Finnmark"]
    assert len(targets.retention) == 15
    assert 0.8 < targets.ukrainian_share < 0.95
    assert 0.5 < targets.female_share < 0.6


def test_employment_by_group_and_botid_within_tolerance(setup, extract):
    munis, targets = setup
    ext, bofast, _ = extract
    rows = syn.calibration_check(ext, targets, munis, bofast)
    employment = [r for r in rows if r["mål"] == "sysselsatt"]
    assert len(employment) == 6
    for r in employment:
        # binomial standard error; group 2 cells are small (most settled are Ukrainian)
        se = np.sqrt(r["publisert"] * (1 - r["publisert"]) / r["antall"])
        assert abs(r["simulert"] - r["publisert"]) < max(4 * se, 0.01), r
        assert r["simulert"] < syn.EMPLOYMENT_CEILING


def test_expected_rates_hit_targets_exactly(setup, extract):
    """The calibrated probabilities (before drawing) equal the published rate per cell."""
    _munis, targets = setup
    ext, _, p = extract
    ssb = np.array([1 if g == "ukraina" else 2 for g in ext.cohort.country_group])
    band = syn._band(ext.years.astype(np.int64))
    for (g, b), target in targets.employment.items():
        cell = ~np.isnan(p) & (ssb == g) & (band == b)
        assert p[cell].mean() == pytest.approx(target, abs=1e-6)


def test_retention_by_county_within_tolerance(setup, extract):
    munis, targets = setup
    ext, bofast, _ = extract
    rows = [r for r in syn.calibration_check(ext, targets, munis, bofast) if r["mål"] == "bofast"]
    assert len(rows) == 15
    for r in rows:
        se = np.sqrt(r["publisert"] * (1 - r["publisert"]) / max(r["antall"], 1))
        assert abs(r["simulert"] - r["publisert"]) < max(4 * se, 0.02), r


def test_cohort_composition_matches_published_shares(setup):
    munis, targets = setup
    cohort = syn.generate_cohort(35000, targets, munis, seed=1)
    assert 35000 <= len(cohort) < 35020
    assert (cohort.sex == "K").mean() == pytest.approx(targets.female_share, abs=0.01)
    assert (cohort.age > 55).mean() == pytest.approx(targets.over55_share, abs=0.01)
    assert (cohort.country_group == "ukraina").mean() == pytest.approx(
        targets.ukrainian_share, abs=0.02
    )
    assert cohort.synthetic
    # households are whole and share their tie
    for rows in cohort.households[:2000]:
        assert len(set(cohort.tie_municipality[rows])) == 1
    ties = cohort.tie_municipality[cohort.tie_municipality != ""]
    assert set(ties) <= set(munis.codes)
    # same seed, same cohort
    again = syn.generate_cohort(35000, targets, munis, seed=1)
    assert again.age.tolist() == cohort.age.tolist()


def test_cli_generate_marks_files_synthetic(imported_db, tmp_path, capsys):
    out = tmp_path / "cohort.csv"
    assert (
        bli_on(
            imported_db,
            "settlement",
            "generate",
            "--persons",
            "500",
            "--seed",
            "3",
            "--out",
            str(out),
        )
        == 0
    )
    text = capsys.readouterr().out
    assert text.startswith("SYNTETISKE DATA")
    cohort = read_cohort(out)
    assert cohort.synthetic and len(cohort) >= 500
    with open(out, encoding="utf-8") as fh:
        assert all(r["syntetisk"] == "1" for r in csv.DictReader(fh))
    ext_out = tmp_path / "extract.csv"
    assert (
        bli_on(
            imported_db,
            "settlement",
            "generate",
            "--persons",
            "800",
            "--seed",
            "4",
            "--extract",
            "--out",
            str(ext_out),
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "publisert 57,1 %" in text  # group 1, 0–4 years
    ext = read_training(ext_out)
    assert ext.cohort.synthetic
    assert set(np.unique(ext.outcome)) <= {-1, 0, 1}
    assert set(ext.municipality) <= set(read_codes(imported_db))


def read_codes(db):
    store = open_store(db, read_only=True)
    try:
        return [r["code"] for r in store.query("SELECT code FROM region WHERE level='kommune'")]
    finally:
        store.close()
