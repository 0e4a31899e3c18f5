"""Cohort files: the schema, households, and clear errors for broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bliatlas.cli import main
from bliatlas.errors import InputError, UserError
from bliatlas.settlement.cohort import COHORT_COLUMNS, read_cohort, write_cohort
from bliatlas.settlement.exclusions import check_columns, forbidden_reason

CORPUS = Path(__file__).resolve().parent / "settlement_cohorts"


def test_valid_cohort_columns_and_households():
    cohort = read_cohort(CORPUS / "valid.csv")
    assert len(cohort) == 5
    assert cohort.n_households == 3
    assert [h.tolist() for h in cohort.households] == [[0, 1, 2], [3], [4]]
    assert cohort.age.tolist() == [34, 36, 7, 16, 52]
    assert cohort.unaccompanied_minor.tolist() == [False, False, False, True, False]
    assert cohort.support_need.tolist() == [False, True, False, False, False]
    assert cohort.tie_municipality.tolist() == ["4650", "4650", "4650", "", ""]
    assert cohort.household_sizes().tolist() == [3, 1, 1]
    assert cohort.household_of_person().tolist() == [0, 0, 0, 1, 2]
    assert not cohort.synthetic


def test_write_then_read_round_trip_keeps_synthetic_flag(tmp_path):
    cohort = read_cohort(CORPUS / "valid.csv")
    cohort.synthetic = True
    out = tmp_path / "c.csv"
    write_cohort(cohort, out)
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [*COHORT_COLUMNS, "syntetisk"]
    again = read_cohort(out)
    assert again.synthetic
    assert again.person_id.tolist() == cohort.person_id.tolist()
    assert again.education.tolist() == cohort.education.tolist()


# file, row, column, words the message must contain
BROKEN = [
    ("missing_column.csv", 1, None, ["mangler kolonne", "'support_need'"]),
    ("bad_code.csv", 3, "tie_municipality", ["'465'", "firesifret kommunenummer"]),
    ("bad_age.csv", 3, "age", ["'tretti'", "heltall 0–110"]),
    ("mixed_tie.csv", 3, "tie_municipality", ["husholdning 'h1'", "rad 2"]),
    ("empty.csv", None, None, ["filen er tom"]),
    ("wrong_encoding.csv", 3, None, ["UTF-8"]),
    ("duplicate_person.csv", 4, "person_id", ["'p1'", "rad 2", "unike"]),
    ("bad_country.csv", 2, "country_group", ["'syrisk'", "ukraina | syria"]),
    ("adult_minor.csv", 2, "unaccompanied_minor", ["alder 34", "under 18"]),
]


@pytest.mark.parametrize(("name", "row", "column", "words"), BROKEN)
def test_broken_cohort_files_name_file_row_column_and_expectation(name, row, column, words):
    with pytest.raises(InputError) as info:
        read_cohort(CORPUS / name)
    err = info.value
    message = str(err)
    assert name in message
    assert err.row == row
    assert err.column == column
    if row is not None:
        assert f"rad {row}" in message
    for word in words:
        assert word in message, message


def test_forbidden_column_is_refused_by_name():
    with pytest.raises(UserError) as info:
        read_cohort(CORPUS / "forbidden_column.csv")
    message = str(info.value)
    assert "'religion'" in message
    assert "aldri skal brukes" in message


def test_exclusions_catch_spelling_variants():
    assert forbidden_reason("Religion") is not None
    assert forbidden_reason("tros-samfunn") is not None
    assert forbidden_reason("fødeland") is not None
    assert forbidden_reason("country_group") is None
    assert forbidden_reason("support_need") is None
    with pytest.raises(UserError):
        check_columns(["age", "Etnisitet"], "x.csv")


def test_cli_reports_broken_cohort_with_exit_code_2(tmp_path, capsys):
    # the cohort is read (and refused) before the model and the database are opened
    code = main(
        [
            "--database",
            str(tmp_path / "none.duckdb"),
            "settlement",
            "predict",
            "--model",
            str(tmp_path / "no-model"),
            "--cohort",
            str(CORPUS / "bad_age.csv"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "bli: feil:" in err
    assert "bad_age.csv, rad 3, kolonne 'age'" in err


def test_cohort_arrays_are_numpy():
    cohort = read_cohort(CORPUS / "valid.csv")
    for name in COHORT_COLUMNS:
        assert isinstance(getattr(cohort, name), np.ndarray)
