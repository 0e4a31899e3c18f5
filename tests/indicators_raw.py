"""Readers for the raw files in ../shared/data, independent of the importer, so the
indicator tests can recompute values by hand."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def read_imdi_export(name: str) -> tuple[list[list[str]], dict[str, list[str]]]:
    """An IMDi CSV export: its header rows and its data rows by region code (``K4650``)."""
    text = (DATA / "imdi" / name).read_bytes().decode("iso-8859-1")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = [r for r in rows if r and not r[0].startswith("K")]
    data = {r[0]: r for r in rows if r and r[0].startswith("K")}
    return header, data


def imdi_cell(header: list[list[str]], row: list[str], **wanted: str) -> str:
    """The cell whose header cells are ``Dimension: value`` for every ``wanted`` pair."""
    for col in range(2, len(header[0])):
        labels = dict(h[col].split(": ", 1) for h in header if col < len(h) and ": " in h[col])
        if all(labels.get(k) == v for k, v in wanted.items()):
            return row[col]
    raise KeyError(wanted)
