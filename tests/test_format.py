"""Norwegian number and date text (``bliatlas.format``), the one module user text takes its
numbers from."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bliatlas.format import (
    fmt_datetime,
    fmt_int,
    fmt_num,
    fmt_percent,
    fmt_share,
    fmt_signed,
    table,
)


@pytest.mark.parametrize("value,decimals,expected", [
    (12345.678, 1, "12 345,7"),
    (1234567, 0, "1 234 567"),
    (-1234.5, 1, "\u22121 234,5"),      # the minus sign, not a hyphen
    (-0.04, 1, "0,0"),                  # no "-0"
    (0.5, 0, "0"),                      # rounded half to even, as Python rounds
    (None, 1, "–"),
    (math.nan, 2, "–"),
])
def test_fmt_num(value, decimals, expected):
    assert fmt_num(value, decimals) == expected


def test_fmt_int_signed_percent_and_missing_word():
    assert fmt_int(4650.4) == "4 650"
    assert fmt_int(12000, thousands="\u202f") == "12\u202f000"
    assert fmt_signed(3) == "+3" and fmt_signed(-1.5, 1) == "\u22121,5" and fmt_signed(0) == "0"
    assert fmt_percent(12.345) == "12,3 %" and fmt_percent(None) == "–"
    assert fmt_num(None, missing="mangler") == "mangler"


def test_fmt_share_is_a_fraction_in_percent():
    # the settlement pages and CLI write shares (0–1) with this one function
    assert fmt_share(0.1234) == "12,3 %"
    assert fmt_share(0.857, 0) == "86 %"
    assert fmt_share(-0.0512, 1, unit="") == "\u22125,1"   # percentage points, minus sign
    assert fmt_share(-0.0001, 1) == "0,0 %"               # no "-0"
    assert fmt_share(None) == "–" and fmt_share(math.nan) == "–" and fmt_share(math.inf) == "–"
    assert fmt_num(math.inf) == "–"


def test_fmt_datetime():
    assert fmt_datetime(dt.datetime(2024, 5, 1, 12, 30, 59)) == "2024-05-01 12:30"
    assert fmt_datetime(dt.date(2024, 1, 1)) == "2024-01-01"
    assert fmt_datetime(None) == "–"


def test_table_right_aligns_norwegian_numbers_with_minus():
    text = table(["kode", "endring"], [["4650", fmt_signed(-12.5, 1)], ["4602", "+3,0"]])
    assert text.splitlines()[2:] == ["4650    \u221212,5", "4602     +3,0"]
