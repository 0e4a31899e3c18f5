"""Recognise a file by its content and hand it to the right parser.

Before any parser runs, a file is held to the limits in :mod:`bliatlas.sources.limits`
(no NUL bytes in a text file, JSON nested at most ``MAX_JSON_DEPTH`` levels, an xlsx's
declared and actual cell area within ``MAX_XLSX_CELLS``), so a hostile file gets a clear
refusal instead of exhausting memory or the interpreter's stack.
"""

from __future__ import annotations

from pathlib import Path

from bliatlas.errors import InputError
from bliatlas.sources import imdi, panel, tidy
from bliatlas.sources.geo import looks_like_geojson, parse_geojson
from bliatlas.sources.limits import check_text_bytes, check_xlsx, load_json
from bliatlas.sources.records import ParsedSource

DATA_SUFFIXES = {".csv", ".xlsx", ".json", ".geojson"}


def parse_file(path: Path, data: bytes | None = None, *,
               sub_annual: str = "error") -> ParsedSource:
    """Parse one file; the format is decided from its bytes, not its name.

    ``sub_annual`` is passed to the JSON-stat reader (``bli import --sub-annual keep``).
    """
    shown = str(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(shown, f"kan ikke lese filen ({exc.strerror})") from None
    if not data.strip():
        raise InputError(shown, "filen er tom")
    if data[:4] == b"PK\x03\x04":
        check_xlsx(data, shown)
        return panel.parse_panel_xlsx(data, shown)
    check_text_bytes(data, shown)
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        doc = load_json(data, shown)
        if looks_like_geojson(doc):
            return parse_geojson(doc, shown)
        from bliatlas.sources.jsonstat import looks_like_jsonstat, parse_jsonstat

        if isinstance(doc, dict) and (doc.get("class") == "dataset" or looks_like_jsonstat(doc)):
            return parse_jsonstat(doc, shown, sub_annual=sub_annual,
                                  sub_annual_hint="--sub-annual keep")
        raise InputError(shown, "JSON-filen er verken GeoJSON (FeatureCollection) eller "
                         "JSON-stat (2.0: class «dataset»; 1.x: {\"dataset\": {\"dimension\": "
                         "…}})")
    text = data[:4000].decode("iso-8859-1")
    if imdi.looks_like_imdi(text) or imdi.looks_like_imdi_long(text):
        return imdi.parse_imdi(data, shown)
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
