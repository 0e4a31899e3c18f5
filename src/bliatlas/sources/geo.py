"""Kartverket boundaries (GeoJSON, WGS84): geometry and official names per region."""

from __future__ import annotations

import json
import re

from bliatlas.errors import InputError
from bliatlas.sources.records import ParsedSource

LICENCE = "CC BY 4.0 (Kartverket)"


def looks_like_geojson(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("type") == "FeatureCollection"


def parse_geojson(doc: dict, path: str) -> ParsedSource:
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise InputError(path, "forventet en FeatureCollection med 'features'")
    name = path.rsplit("/", 1)[-1]
    rows = []
    level = None
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        if "kommunenummer" in props:
            code, official, lvl = props["kommunenummer"], props.get("kommunenavn"), "kommune"
        elif "fylkesnummer" in props:
            code, official, lvl = props["fylkesnummer"], props.get("fylkesnavn"), "fylke"
        else:
            raise InputError(path, f"feature {i}: forventet egenskapen 'kommunenummer' eller "
                             "'fylkesnummer'", column="properties")
        code = str(code).strip()
        if not re.fullmatch(r"\d{4}" if lvl == "kommune" else r"\d{2}", code):
            raise InputError(path, f"feature {i}: ugyldig regionnummer {code!r}",
                             column="properties")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon",
                                                                          "MultiPolygon"):
            raise InputError(path, f"feature {i} ({code}): forventet Polygon eller MultiPolygon",
                             column="geometry")
        level = level or lvl
        if lvl != level:
            raise InputError(path, f"feature {i}: blander kommuner og fylker i samme fil")
        rows.append({"code": code, "level": lvl,
                     "official_name": str(official or "").replace("\xa0", " ").strip(),
                     "geojson": json.dumps(geometry, separators=(",", ":"))})
    out = ParsedSource("Kartverket", f"geo_{level}", name, "geojson", LICENCE)
    out.reference["geometry"] = rows
    return out
