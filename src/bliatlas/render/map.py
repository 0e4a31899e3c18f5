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
            "lower": cell.lower if cell and cell.status == INTERVAL else None,
            "upper": cell.upper if cell and cell.status == INTERVAL else None,
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




def map_svg(data: dict[str, Any], unit: str, note: str = "") -> str:
    """The map of :func:`choropleth` as one SVG with its legend drawn in it (for the
    "Last ned figuren" links): shapes in their classes, suppressed regions hatched,
    intervals over a class break striped, missing grey, and a legend with the count per
    class. ``WIDTH`` wide, so :func:`~bliatlas.render.charts.standalone` can title it."""
    from html import escape

    from bliatlas.render.charts import FONT, INK, LINE_H, WIDTH, wrap

    _x, _y, vw, vh = (float(v) for v in str(data["viewbox"]).split())
    map_h = WIDTH * vh / vw
    hatch = f"skjermet-{data['id']}"
    out = [(f'<defs><pattern id="{hatch}" width="8" height="8" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="8" height="8" fill="#e8e8e8"/>'
            '<line x1="0" y1="0" x2="0" y2="8" stroke="#333" stroke-width="3"/></pattern>')]
    for p in data["patterns"]:
        out.append(f'<pattern id="{p["id"]}" width="10" height="10" '
                   'patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">'
                   f'<rect width="10" height="10" fill="{p["low"]}"/>'
                   f'<rect width="5" height="10" fill="{p["high"]}"/></pattern>')
    out.append("</defs>")
    out.append(f'<svg x="0" y="0" width="{WIDTH}" height="{map_h:.1f}" '
               f'viewBox="{data["viewbox"]}">')
    for s in data["shapes"]:
        fill = f"url(#{hatch})" if s["fill"] == "url(#skjermet)" else s["fill"]
        out.append(f'<path d="{s["d"]}" fill="{fill}" stroke="#fff" stroke-width="0.6" '
                   f'vector-effect="non-scaling-stroke"><title>{escape(s["label"])}</title>'
                   "</path>")
    out.append("</svg>")
    entries: list[tuple[str, str]] = [
        (c.colour, f"{c.label} ({c.count})") for c in data["legend"]]
    if data["n_uncertain"] and data["patterns"]:
        entries.append((f"url(#{data['patterns'][0]['id']})",
                        f"{UNCERTAIN_LEGEND} ({data['n_uncertain']})"))
    if data["n_suppressed"]:
        entries.append((f"url(#{hatch})", f"{SUPPRESSED_LEGEND} ({data['n_suppressed']})"))
    if data["n_missing"]:
        entries.append((MISSING_COLOUR, f"Mangler tall ({data['n_missing']})"))
    y = map_h + 8
    out.append(f'<text x="4" y="{y + FONT:.1f}" font-size="{FONT}" font-weight="bold" '
               f'fill="{INK}">{escape(f"Tegnforklaring ({unit})")}</text>')
    y += LINE_H + 4
    for fill, label in entries:
        lines = wrap(label, WIDTH - 30)
        out.append(f'<rect x="4" y="{y + 2:.1f}" width="16" height="{FONT:.0f}" '
                   f'fill="{fill}" stroke="#767676" stroke-width="0.5"/>')
        for n, line in enumerate(lines):
            out.append(f'<text x="26" y="{y + FONT + n * LINE_H:.1f}" font-size="{FONT}" '
                       f'fill="{INK}">{escape(line)}</text>')
        y += LINE_H * len(lines) + 4
    for line in wrap(note, WIDTH - 8) if note else []:
        out.append(f'<text x="4" y="{y + FONT:.1f}" font-size="{FONT}" '
                   f'fill="{INK}">{escape(line)}</text>')
        y += LINE_H
    height = int(y + 4) + 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img">' + "".join(out) + "</svg>")
