"""Region outlines as inline SVG paths, projected and quantised once per view.

The stored GeoJSON (Kartverket, WGS84 lon/lat) is projected with a spherical transverse
Mercator on 15° E (close to UTM zone 33, the projection Norwegian maps use), fitted into
a viewBox ``WIDTH`` units wide, rounded to whole units and written with relative path
commands. Points that round onto the previous point are dropped, so small municipalities
stay small in bytes. Paths are cached per view (all of Norway, one county, one locator).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_000.0
CENTRAL_MERIDIAN = math.radians(15.0)
WIDTH = 1000  # viewBox width in SVG units


def project(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spherical transverse Mercator (central meridian 15° E); metres east/north."""
    lam = np.radians(lon) - CENTRAL_MERIDIAN
    phi = np.radians(lat)
    b = np.cos(phi) * np.sin(lam)
    x = EARTH_RADIUS_M * np.arctanh(np.clip(b, -0.999999, 0.999999))
    y = EARTH_RADIUS_M * np.arctan2(np.tan(phi), np.cos(lam))
    return x, y


@dataclass(frozen=True)
class Shape:
    """One region's projected rings (metres)."""

    code: str
    level: str
    name: str
    rings: tuple[np.ndarray, ...]  # each (n, 2): x east, y north

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        xs = np.concatenate([r[:, 0] for r in self.rings])
        ys = np.concatenate([r[:, 1] for r in self.rings])
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def shape_from_geojson(code: str, level: str, name: str, geojson: str) -> Shape:
    geom = json.loads(geojson)
    if geom["type"] == "Polygon":
        polygons = [geom["coordinates"]]
    elif geom["type"] == "MultiPolygon":
        polygons = geom["coordinates"]
    else:
        raise ValueError(f"region {code}: unsupported geometry type {geom['type']!r}")
    rings = []
    for polygon in polygons:
        for ring in polygon:
            arr = np.asarray(ring, dtype=float)[:, :2]
            x, y = project(arr[:, 0], arr[:, 1])
            rings.append(np.column_stack([x, y]))
    return Shape(code=code, level=level, name=name, rings=tuple(rings))


@dataclass(frozen=True)
class View:
    """A fitted window: metres → SVG units (y flipped)."""

    x0: float
    y1: float
    scale: float
    width: int
    height: int

    @classmethod
    def fit(cls, bbox: tuple[float, float, float, float], width: int = WIDTH,
            pad: float = 0.02) -> View:
        minx, miny, maxx, maxy = bbox
        dx, dy = maxx - minx, maxy - miny
        minx, maxx = minx - dx * pad, maxx + dx * pad
        miny, maxy = miny - dy * pad, maxy + dy * pad
        scale = width / (maxx - minx)
        height = math.ceil((maxy - miny) * scale)
        return cls(x0=minx, y1=maxy, scale=scale, width=width, height=height)

    @property
    def viewbox(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def path(self, shape: Shape, min_area: float = 0.0) -> str:
        """SVG path data, whole units, relative moves; rings smaller than ``min_area`` dropped."""
        parts: list[str] = []
        px = py = 0
        for ring in shape.rings:
            q = np.empty((len(ring), 2), dtype=np.int64)
            q[:, 0] = np.rint((ring[:, 0] - self.x0) * self.scale)
            q[:, 1] = np.rint((self.y1 - ring[:, 1]) * self.scale)
            keep = np.ones(len(q), dtype=bool)
            keep[1:] = np.any(q[1:] != q[:-1], axis=1)
            q = q[keep]
            if len(q) < 3:
                continue
            if min_area:
                x, y = q[:, 0].astype(float), q[:, 1].astype(float)
                area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
                if area < min_area:
                    continue
            first = q[0]
            deltas = np.diff(q, axis=0)
            moves = " ".join(f"{dx} {dy}" for dx, dy in deltas.tolist())
            parts.append(f"m{first[0] - px} {first[1] - py}l{moves}z")
            px, py = int(first[0]), int(first[1])
        if not parts:
            # Keep a region visible even when it rounds to nothing at this scale.
            x0, y0, x1, y1 = shape.bbox
            cx = round(((x0 + x1) / 2 - self.x0) * self.scale)
            cy = round((self.y1 - (y0 + y1) / 2) * self.scale)
            return f"M{cx - 1} {cy - 1}h2v2h-2z"
        # The first "m" of a path is absolute in SVG; later ones are relative to the
        # start of the previous ring, which is where "z" leaves the pen.
        return "".join(parts)


class GeometryCache:
    """Projected shapes for all regions, and path strings per view, computed once."""

    def __init__(self, rows: list[dict]) -> None:
        self.shapes: dict[str, Shape] = {}
        for row in rows:
            shape = shape_from_geojson(row["code"], row["level"], row["official_name"],
                                       row["geojson"])
            self.shapes[row["code"]] = shape
        self._views: dict[str, tuple[View, dict[str, str]]] = {}

    @classmethod
    def from_store(cls, store) -> GeometryCache:
        return cls(store.query(
            "SELECT code, level, official_name, geojson FROM region_geometry ORDER BY code"))

    def municipalities(self) -> list[str]:
        return [c for c, s in self.shapes.items() if s.level == "kommune"]

    def counties(self) -> list[str]:
        return [c for c, s in self.shapes.items() if s.level == "fylke"]

    def bbox(self, codes: list[str]) -> tuple[float, float, float, float]:
        boxes = [self.shapes[c].bbox for c in codes if c in self.shapes]
        if not boxes:
            raise KeyError("no geometry for the requested regions")
        arr = np.array(boxes)
        return (float(arr[:, 0].min()), float(arr[:, 1].min()),
                float(arr[:, 2].max()), float(arr[:, 3].max()))

    def view(self, key: str, fit_codes: list[str], draw_codes: list[str],
             width: int = WIDTH, min_area: float = 0.0) -> tuple[View, dict[str, str]]:
        """Paths for ``draw_codes`` in a window fitted around ``fit_codes`` (cached by key)."""
        cached = self._views.get(key)
        if cached is not None:
            return cached
        view = View.fit(self.bbox(fit_codes), width=width)
        paths = {c: view.path(self.shapes[c], min_area=min_area)
                 for c in draw_codes if c in self.shapes}
        self._views[key] = (view, paths)
        return view, paths
