"""Kartverket boundaries (GeoJSON, WGS84): geometry and official names per region.

Every geometry is checked before it can replace the map: a Polygon or MultiPolygon whose
rings are closed (first position equals the last), have at least four positions, and
whose positions are pairs (or triples) of finite numbers with longitude in −180…180 and
latitude in −90…90. Whether the file covers every region of its level is checked at
import against the registry (``ingest.check_geometry``).
"""

from __future__ import annotations

import json
import math
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
        problem = geometry_problem(geometry)
        if problem:
            raise InputError(path, f"feature {i} ({code}): {problem}", column="geometry")
        level = level or lvl
        if lvl != level:
            raise InputError(path, f"feature {i}: blander kommuner og fylker i samme fil")
        rows.append({"code": code, "level": lvl,
                     "official_name": str(official or "").replace("\xa0", " ").strip(),
                     "geojson": json.dumps(geometry, separators=(",", ":"))})
    out = ParsedSource("Kartverket", f"geo_{level}", name, "geojson", LICENCE)
    out.reference["geometry"] = rows
    return out


def _position_problem(pos: object) -> str | None:
    if not isinstance(pos, list) or len(pos) not in (2, 3):
        return f"posisjonen {str(pos)[:40]} er ikke [lengdegrad, breddegrad]"
    for x in pos:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            return f"posisjonen {str(pos)[:40]} har en verdi som ikke er et endelig tall"
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"posisjonen [{lon}, {lat}] ligger utenfor WGS84 (−180…180, −90…90)"
    return None


def _ring_problem(ring: object, where: str) -> str | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return f"{where}: en ring må ha minst fire posisjoner"
    for pos in ring:
        problem = _position_problem(pos)
        if problem:
            return f"{where}: {problem}"
    if ring[0][:2] != ring[-1][:2]:
        return f"{where}: ringen er ikke lukket (første og siste posisjon er ulike)"
    return None


def geometry_problem(geometry: dict) -> str | None:
    """Why a Polygon/MultiPolygon is not valid GeoJSON for a boundary, or None."""
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry.get("type") == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return "forventet koordinater (en liste med ringer)"
    for p_i, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or not polygon:
            return f"polygon {p_i}: forventet minst én ring"
        for r_i, ring in enumerate(polygon):
            problem = _ring_problem(ring, f"polygon {p_i}, ring {r_i}")
            if problem:
                return problem
    return None
