"""The choropleth map: region shapes filled by class, the legend and the table behind it.

Used by the atlas pages (national and county maps) and by the reports (the county map
with the municipality highlighted). Suppressed regions are hatched, intervals that cross
a class break striped with both classes, missing ones grey; each is counted for the legend.
"""

from __future__ import annotations

from typing import Any

from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.sentences import format_cell
from bliatlas.published import INTERVAL, MISSING, SUPPRESSED
from bliatlas.render.classify import MISSING_COLOUR, classify
from bliatlas.render.context import AtlasContext
from bliatlas.render.figures import with_unit

SUPPRESSED_LEGEND = "Skjermet: færre enn 5 (eller kunne avsløre en skjermet verdi)"
UNCERTAIN_LEGEND = ("Usikker klasse: verdien er et intervall fordi skjermede kommuner inngår, "
                    "og intervallet går over en klassegrense (stripene viser de to klassene)")


def choropleth(ctx: AtlasContext, ind: Indicator, year: int, level: str, codes: list[str],
               view_key: str, fit_codes: list[str], draw_codes: list[str],
               map_id: str = "kart", linked: bool = True,
               highlight: str | None = None) -> dict[str, Any]:
    """SVG map data: shapes with fills, labels and links; legend; table rows."""
    cells = {c.code: c for c in ctx.cube.slice(ind.id, level, year)}
    shown = [cells.get(c) for c in codes]
    classes = classify([c.value for c in shown if c and c.ok], ind.decimals)
    view, paths = ctx.geometry.view(view_key, fit_codes, draw_codes)
    selected = set(codes)
    shapes = []
    counts = {"suppressed": 0, "missing": 0, "uncertain": 0}
    patterns: dict[tuple[int, int], dict[str, Any]] = {}
    for code in draw_codes:
        if code not in paths:
            continue
        region = ctx.registry.get(code)
        if code not in selected:
            shapes.append({"code": code, "d": paths[code], "fill": "#f2f2f2", "linked": False,
                           "label": region.name, "out": True})
            continue
        cell = cells.get(code)
        text = with_unit(cell, ind)
        if cell is not None and cell.ok:
            fill = classes.classes[classes.colour_index(cell.value)].colour
        elif cell is not None and cell.status == INTERVAL and classes.classes:
            lo = classes.colour_index(cell.lower)
            hi = (classes.colour_index(cell.upper) if cell.upper is not None
                  else len(classes.classes) - 1)
            if lo == hi:
                fill = classes.classes[lo].colour
            else:
                pattern = patterns.setdefault((lo, hi), {
                    "id": f"usikker-{map_id}-{lo}-{hi}",
                    "low": classes.classes[lo].colour, "high": classes.classes[hi].colour,
                    "label": f"{classes.classes[lo].label} til {classes.classes[hi].label}"})
                fill = f"url(#{pattern['id']})"
                counts["uncertain"] += 1
                text += " (usikker klasse: intervallet går over en klassegrense)"
        elif cell is not None and cell.status in (SUPPRESSED, INTERVAL):
            fill = "url(#skjermet)"
            counts["suppressed"] += 1
        else:
            fill = MISSING_COLOUR
            counts["missing"] += 1
        shapes.append({
            "code": code, "d": paths[code], "fill": fill, "linked": linked,
            "label": f"{region.name}: {text}",
            "href": f"/{'kommune' if level == 'kommune' else 'fylke'}/{code}",
            "out": False, "highlight": code == highlight,
        })
    rows = []
    for code in codes:
        region = ctx.registry.get(code)
        cell = cells.get(code)
        rows.append({
            "code": code,
            "name": region.display_name,
            "sort": region.sort_key,
            "county": (ctx.registry.counties[region.county_code].short_name
                       if region.county_code in ctx.registry.counties else ""),
            "centrality": region.centrality,
            "value": cell.value if cell and cell.ok else None,
            "text": format_cell(cell, ind),
            "numerator": cell.numerator if cell and cell.ok else None,
            "denominator": cell.denominator if cell and cell.ok else None,
            "status": cell.status if cell else MISSING,
            "note": cell.note_text() if cell else "Mangler: ingen tall for dette året",
        })
    rows.sort(key=lambda r: r["sort"])
    return {
        "id": map_id,
        "viewbox": view.viewbox,
        "shapes": shapes,
        "legend": classes.classes,
        "diverging": classes.diverging,
        "n_suppressed": counts["suppressed"],
        "n_missing": counts["missing"],
        "n_uncertain": counts["uncertain"],
        "patterns": list(patterns.values()),
        "rows": rows,
        "level": level,
    }


