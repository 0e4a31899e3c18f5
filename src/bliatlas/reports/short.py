"""The short report (``bli report … --short``): 2–4 A4 pages for a council.

It holds the key figures against the full report's comparisons (:func:`build._compare`),
the three to five figures that stand out most from the comparison group, what similar
places did (the knowledge entries the full report picks), the questions for the plan
(:mod:`bliatlas.reports.questions`), and a closing «Kilder og metode».

What stands out is computed, not chosen: for every indicator with a published value for
the region (shares and rates, not counts, which follow the size of the place), its place
among the comparison group — a municipality among the municipalities of its centrality
class, or among the user's comparison group (:mod:`bliatlas.indicators.peer_groups`) when
one is chosen; a county among the counties — as the percentile by mid-rank over the peers'
exact values. The indicators furthest from the middle (at most one per topic)
stand out. A suppressed, missing or interval value is never ranked and never stands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bliatlas.errors import NotFound
from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.compare import Comparison, comparisons, rank_text
from bliatlas.indicators.peer_groups import PeerGroup, group_comparison
from bliatlas.reports.build import (
    _common,
    _compare,
    _knowledge,
    _provenance,
    _stored,
    peer_group_part,
    references,
)
from bliatlas.reports.context import ReportContext
from bliatlas.reports.questions import RULES, questions_for
from bliatlas.reports.values import Num, cell_num

# Key figures, in this order, where the region has them.
KEY_INDICATORS: tuple[str, ...] = (
    "folkemengde_1_januar", "innvandrere_per_1000", "innvandrere_flukt_andel",
    "bosatte_flyktninger", "bosatte_per_1000", "vedtak_andel_av_anmodning",
    "bosatt_andel_av_vedtak", "enslige_mindreaarige", "fastlege_venteliste_per_1000",
    "tilskudd_per_innbygger", "bosatt_forste_kommune_andel",
    "hoyere_utdanning_innvandrere_andel",
)
# The comparison whose percentile decides what stands out.
STANDOUT_COMPARISON = {"kommune": "median_sentralitet", "fylke": "median_fylker"}
MIN_STANDOUTS = 3
MAX_STANDOUTS = 5
# Beyond the first three, an indicator stands out only outside the middle half of its group.
STANDOUT_MIN_DISTANCE = 25.0  # percentile points from the median (50)
MIN_GROUP_SIZE = 5  # a rank among fewer than this many says little
PRACTICES = 3


@dataclass
class Standout:
    indicator: Indicator
    year: int
    own: Num
    comparison: Comparison
    comparison_num: Num | str
    percentile: float
    higher: bool

    @property
    def distance(self) -> float:
        return abs(self.percentile - 50.0)

    @property
    def rank(self) -> str:
        return rank_text(self.comparison, self.own.level)


def _candidates(ctx: ReportContext, level: str) -> list[Indicator]:
    """Shares and rates a region of this level has (counts follow the size of the place;
    a 0/100 register flag has no meaningful median)."""
    return [ind for ind in ctx.cube.catalogue.indicators
            if ind.kind in ("ratio", "difference") and ind.aggregation != "none"
            and ind.base_level == "kommune" and ind.unit != "prosent av kommunene"]


def standouts(ctx: ReportContext, level: str, code: str, group: PeerGroup | None = None
              ) -> list[Standout]:
    """The three to five figures furthest from the middle of the comparison group (the
    user's ``group`` when given), at most one per topic (see the module docstring)."""
    prov = _provenance(ctx)
    key = STANDOUT_COMPARISON[level]
    # The latest year with any value: an indicator whose latest value is suppressed or an
    # interval is left out, not ranked on an older year.
    latest: dict[str, int] = {}
    for c in prov.region_cells(level, code):
        if c.status != "missing" and c.year > latest.get(c.indicator, -1):
            latest[c.indicator] = c.year
    found: list[Standout] = []
    for ind in _candidates(ctx, level):
        year = latest.get(ind.id)
        if year is None:
            continue
        own = cell_num(ctx.cube, prov, ind, level, code, year)
        if not own.ok or own.value is None:
            continue
        if group is not None:
            comp = group_comparison(ctx.cube, group, ind, year)
        else:
            comp = next((c for c in comparisons(ctx.cube, level, code, ind, year)
                         if c.key == key), None)
        if (comp is None or comp.value is None or comp.percentile is None or comp.n is None
                or comp.n < MIN_GROUP_SIZE or own.value == comp.value):
            continue
        text = Num(text=comp.text, source=f"median av {ind.id}: {comp.label}", region=code,
                   level=level, year=year, status="ok", imports=own.imports, value=comp.value,
                   reason=comp.label)
        found.append(Standout(ind, year, own, comp, text, float(comp.percentile),
                              own.value > comp.value))
    found.sort(key=lambda s: (-s.distance, s.indicator.id))
    chosen: list[Standout] = []
    topics: set[str] = set()
    for s in found:
        if s.indicator.topic in topics:
            continue
        if len(chosen) >= MIN_STANDOUTS and s.distance < STANDOUT_MIN_DISTANCE:
            break
        chosen.append(s)
        topics.add(s.indicator.topic)
        if len(chosen) == MAX_STANDOUTS:
            break
    return chosen


def _key_figures(ctx: ReportContext, level: str, code: str, group: PeerGroup | None = None
                 ) -> dict[str, Any] | None:
    cat = ctx.cube.catalogue
    inds = [cat.get(i) for i in KEY_INDICATORS if i in cat.ids]
    found = _compare(ctx, _provenance(ctx), code, level, inds, group)
    if found is not None and group is not None:
        # the group's column carries its own rank; the rank in the centrality class
        # stays in the full report (the short one must fit 2–4 pages)
        found["class_rank"] = False
    return found


def short_report(ctx: ReportContext, kind: str, code: str, group: PeerGroup | None = None
                 ) -> dict[str, Any]:
    """Everything the short report shows, for a municipality or a county; with ``group``
    (a municipality's comparison group), its members and median in the key figures."""
    reg = ctx.cube.region(code)
    if reg["level"] != kind:
        other = "fylke" if reg["level"] == "fylke" else "kommune"
        article = "et" if other == "fylke" else "en"
        raise NotFound(f"{code} er {article} {other}; bruk «bli report {other} {code}»")
    prov = _provenance(ctx)
    if kind == "kommune":
        county = ctx.cube.group("fylke", reg["county_code"])
        questions = questions_for(ctx.cube, prov, code)
        knowledge = _knowledge(ctx, reg["county_code"], code, questions)
        fired: list[tuple[Any, list[dict[str, str]]]] = []
        kostra = _stored(ctx).kostra.get(reg["kostra_group"])
    else:
        county = reg
        questions = []
        knowledge = _knowledge(ctx, code, None, [])
        members = sorted(m.code for m in ctx.registry.municipalities_in(code))
        by_rule: dict[str, list[dict[str, str]]] = {r.id: [] for r in RULES}
        for m in members:
            name = ctx.cube.group("kommune", m)["short_name"]
            for q in questions_for(ctx.cube, prov, m):
                by_rule[q.rule].append({"code": m, "name": name})
        fired = [(r, by_rule[r.id]) for r in RULES if r.id != "mal_i_planen" and by_rule[r.id]]
        kostra = None
    practices = knowledge["practices"][:PRACTICES]
    found = standouts(ctx, kind, code, group)
    shown = {"practices": practices, "grants": []}
    return {
        "kind": kind,
        "short": True,
        "title": (f"Kort kunnskapsgrunnlag for inkludering: {reg['short_name']}"
                  + (" kommune" if kind == "kommune" else "")),
        "region": reg,
        "county": county,
        "district": (reg["centrality"] or 0) >= 5 if kind == "kommune" else None,
        "kostra": kostra,
        "key_figures": _key_figures(ctx, kind, code, group),
        "peer_group": peer_group_part(group),
        "standouts": found,
        "practices": practices,
        "questions": questions,
        "fired": fired,
        "rules": RULES,
        **_common(ctx, kind, code),
        "references": references(shown),
    }
