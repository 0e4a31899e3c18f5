"""Recognise a file by its content and hand it to the right parser."""

from __future__ import annotations

import json
from pathlib import Path

from bliatlas.errors import InputError
from bliatlas.sources import imdi, panel, tidy
from bliatlas.sources.geo import looks_like_geojson, parse_geojson
from bliatlas.sources.records import ParsedSource

DATA_SUFFIXES = {".csv", ".xlsx", ".json", ".geojson"}


def parse_file(path: Path, data: bytes | None = None) -> ParsedSource:
    """Parse one file; the format is decided from its bytes, not its name."""
    shown = str(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(shown, f"kan ikke lese filen ({exc.strerror})") from None
    if not data.strip():
        raise InputError(shown, "filen er tom")
    if data[:4] == b"PK\x03\x04":
        return panel.parse_panel_xlsx(data, shown)
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(shown, f"ugyldig JSON ({exc})") from None
        if looks_like_geojson(doc):
            return parse_geojson(doc, shown)
        if isinstance(doc, dict) and doc.get("class") == "dataset":
            from bliatlas.sources.jsonstat import parse_jsonstat

            return parse_jsonstat(doc, shown)
        raise InputError(shown, "JSON-filen er verken GeoJSON (FeatureCollection) eller "
                         "JSON-stat 2.0 (class: dataset)")
    if b"\x00" in data[:4096]:
        raise InputError(shown, "filen inneholder NUL-byte (UTF-16 eller binær); forventet "
                         "tekst i ISO-8859-1 eller UTF-8, eller xlsx")
    text = data[:2000].decode("iso-8859-1")
    if imdi.looks_like_imdi(text):
        return imdi.parse_imdi_csv(data, shown)
    return tidy.parse_tidy_csv(data, shown)


def expand(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to import (directories walked, sorted) and files skipped (not data)."""
    files, skipped = [], []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file():
                    (files if f.suffix.lower() in DATA_SUFFIXES else skipped).append(f)
        elif p.exists():
            files.append(p)
        else:
            raise InputError(str(p), "finnes ikke")
    return files, skipped
