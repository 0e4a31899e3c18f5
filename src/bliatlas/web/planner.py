"""Settlement planner pages: the county plan (/bosetting) and matching (/bosetting/matching).

The plan page is a GET form (shareable URL): county or the whole country, total, weights
and constraints, up to two named scenarios next to the base plan ("grunnlag"). The
numbers come from :func:`bliatlas.settlement.plan.make_plan`, the downloads from its
CSV/xlsx export. An infeasible plan is shown on the page with status 422 and the
planner's message naming the binding constraint.

The matching page takes a cohort CSV upload (multipart) or generates a synthetic one,
runs :mod:`bliatlas.settlement.match_api` (the batch solver plus the comparison rules),
and redirects to the result page of the run (held in memory under a random id). Locks
and forbids post back and make a new run.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bliatlas import export
from bliatlas.errors import PlanInfeasible, UserError
from bliatlas.format import fmt_count, fmt_num
from bliatlas.regions.names import name_sort_key
from bliatlas.render.classify import classify
from bliatlas.render.context import get_context
from bliatlas.serving import error_headers
from bliatlas.settlement import match_api, run_store, runs
from bliatlas.settlement.capacity import CAPACITY_MODES
from bliatlas.settlement.cohort import label_nb
from bliatlas.settlement.plan import (
    DEFAULT_WEIGHTS,
    MAX_PER_1000,
    MAX_TOTAL,
    SOURCE_LINE,
    WEIGHT_LABELS,
    Plan,
    PlanParameters,
    check_scenario_name,
    make_plan,
    parameter_lines,
    plan_csv,
    plan_xlsx,
)
from bliatlas.web.templating import templates

router = APIRouter(include_in_schema=False)

Multi = Annotated[list[str] | None, Query()]
MAX_SCENARIOS = 2  # besides the base plan: three side by side
PLAN_WEIGHTS = ("anmodning", "utfall", "fastlege", "erfaring")
OUTCOME_CHOICES = {"": "Ikke brukt", "syntetisk": "SYNTETISK modell (referansekohort)"}
#: Ready-made scenarios: (name, field, value) put into the next free scenario's fields.
PRESETS: dict[str, tuple[str, str, str]] = {
    "Distriktsprioritet 30 %": ("distrikt 30 %", "distrikt", "30"),
    "Uten vedtak som grense": ("uten vedtak", "vedtak", "nei"),
    "Tak 10 per 1 000": ("tak 10", "tak", "10"),
    "Minste gruppe 10": ("gruppe 10", "gruppe", "10"),
}
PAGE_SIZE = 100
#: The settings a scenario can change (form fields ``s1_<field>``, ``s2_<field>``).
SCENARIO_FIELDS = ("navn", "total", "vedtak", "overskudd", "uten_vedtak", "gulv", "tak",
                   "gruppe", "distrikt", *(f"v_{w}" for w in PLAN_WEIGHTS))
#: Rows of the plan table per page (the national plan has 357).
PLAN_PAGE_SIZE = 50


# -- parsing -------------------------------------------------------------------------------
# Every setting is a form field with a Norwegian label and one unit, the same for the base
# plan and each scenario (a scenario's fields carry the prefix ``s1_``, ``s2_``; a blank
# scenario field keeps the base plan's value). Messages name the field by its label.
def _number(label: str, text: str | None, lo: float = 0.0,
            hi: float = math.inf) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        v = float(text.strip().replace(" ", "").replace("\u202f", "").replace(",", "."))
    except ValueError:
        raise UserError(f"{label}: skriv et tall (f.eks. 12 eller 2,5), ikke «{text[:40]}»"
                        ) from None
    if not (math.isfinite(v) and lo <= v <= hi):
        span = (f"på minst {fmt_num(lo, 0)}" if hi == math.inf else
                f"fra {fmt_num(lo, 0)} til {fmt_num(hi, 0)}")
        raise UserError(f"{label}: skriv et tall {span}, ikke «{text[:40]}»")
    return v


def _integer(label: str, text: str | None, hi: float = math.inf) -> int | None:
    v = _number(label, text, 0, hi)
    if v is None:
        return None
    if v != int(v):
        raise UserError(f"{label}: skriv et helt tall, ikke «{text[:40]}»")
    return int(v)


def _choice(label: str, text: str | None, default: bool) -> bool:
    value = (text or "").strip()
    if not value:
        return default
    if value not in ("ja", "nei"):
        raise UserError(f"{label}: velg ja eller nei, ikke «{value[:20]}»")
    return value == "ja"


def _parameters(q: dict[str, Any], prefix: str, where: str, base: PlanParameters
                ) -> PlanParameters:
    """The settings under ``prefix`` ("" for the base plan, "s1_" …), blanks from ``base``."""
    def get(key: str) -> str | None:
        return q.get(prefix + key)

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    weights = dict(base.weights)
    for key in PLAN_WEIGHTS:
        v = _number(f"{where}Vekt for {WEIGHT_LABELS[key]}", get(f"v_{key}"), 0, 1000)
        if v is not None:
            weights[key] = v
    district = _number(f"{where}Distriktsprioritet (%)", get("distrikt"), 0, 100)
    return PlanParameters(
        total=pick(_integer(f"{where}Antall personer", get("total"), MAX_TOTAL), base.total),
        weights=weights,
        use_decision=_choice(f"{where}Vedtak som øvre grense", get("vedtak"),
                             base.use_decision),
        max_per_1000=pick(_number(f"{where}Tak per 1 000 innbyggere", get("tak"), 0,
                                  MAX_PER_1000), base.max_per_1000),
        min_per_1000=pick(_number(f"{where}Gulv per 1 000 innbyggere", get("gulv"), 0,
                                  MAX_PER_1000), base.min_per_1000),
        min_group=pick(_integer(f"{where}Minste gruppe", get("gruppe"), MAX_TOTAL),
                       base.min_group),
        district_priority=base.district_priority if district is None else district / 100.0,
        allow_excess=_choice(f"{where}Tillat fordeling over vedtakene", get("overskudd"),
                             base.allow_excess),
        undecided_per_1000=pick(_number(f"{where}Tak per 1 000 for kommuner uten vedtak",
                                        get("uten_vedtak"), 0, MAX_PER_1000),
                                base.undecided_per_1000),
    )


def _scenario_given(q: dict[str, Any], k: int) -> bool:
    return any((q.get(f"s{k}_{f}") or "").strip() for f in SCENARIO_FIELDS)


def _plan_inputs(q: dict[str, Any]) -> tuple[Any, str, str | None, list[PlanParameters]]:
    """(municipalities in scope, scope text, county, parameters per scenario) from the form.

    The outcome signal (``utfall=syntetisk``) is read in :func:`plans_for`."""
    munis = runs.municipalities()
    county = (q.get("fylke") or "").strip() or None
    scope = "hele landet"
    if county:
        munis = munis.in_county(county.zfill(2))
        county = county.zfill(2)
        region = get_context().registry.counties.get(county)
        scope = f"{region.name} (fylke {county})" if region else f"fylke {county}"
    default_total = round(float(np.nansum(munis.settled)))  # settled in 2024
    base = _parameters(q, "", "", PlanParameters(total=default_total))
    base.check()
    params = [base]
    for k in range(1, MAX_SCENARIOS + 1):
        if not _scenario_given(q, k):
            continue
        where = f"Scenario {k}, "
        name = (q.get(f"s{k}_navn") or "").strip() or f"scenario {k}"
        try:
            check_scenario_name(name)
        except UserError as exc:
            raise UserError(f"Scenario {k}, navn: {exc}") from None
        p = _parameters(q, f"s{k}_", where, base)
        p.name = name
        p.check()
        params.append(p)
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise UserError("Scenarienes navn må være ulike, og «grunnlag» er navnet på "
                        "hovedvalgene")
    return munis, scope, county, params


def _query(request: Request) -> dict[str, Any]:
    qp = request.query_params
    return {k: qp.get(k) for k in qp}


def plans_for(q: dict[str, Any]) -> tuple[list[Plan], str | None, Any]:
    munis, scope, county, params = _plan_inputs(q)
    signal = (q.get("utfall") or "").strip()
    if signal not in OUTCOME_CHOICES:
        raise UserError(f"Forventet utfall (utfall): forventet tomt eller syntetisk, fikk "
                        f"{signal!r}")
    outcome, synthetic = None, False
    if signal == "syntetisk":
        outcome, synthetic, _ = runs.reference_outcome(munis)
    plans = []
    for p in params:
        try:
            plans.append(make_plan(munis, p, outcome, synthetic, scope))
        except UserError as exc:
            prefix = f"Scenario «{p.name}»: " if len(params) > 1 else ""
            raise PlanInfeasible(prefix + str(exc)) from None
    return plans, county, munis


# -- map ----------------------------------------------------------------------------------------
def count_map(codes: list[str], values: dict[str, int | None], labels: dict[str, str],
              county: str | None, map_id: str, unit_word: str = "personer") -> dict[str, Any]:
    """A choropleth of whole numbers per municipality (quantile classes) for ``_macros.svgmap``.

    ``county`` zooms to the county (same view as the county page); else all of Norway.
    """
    ctx = get_context()
    if county:
        in_county = sorted(m.code for m in ctx.registry.municipalities_in(county))
        key, fit, draw = f"fylke-{county}", in_county, in_county
    else:
        all_codes = sorted(ctx.geometry.municipalities())
        key, fit, draw = "norge-kommuner", all_codes, all_codes
    classes = classify([v for v in values.values() if v is not None], 0)
    view, paths = ctx.geometry.view(key, fit, draw)
    selected = set(codes)
    shapes = []
    for code in draw:
        if code not in paths:
            continue
        name = labels.get(code) or ctx.registry.get(code).name
        v = values.get(code)
        if code not in selected:
            shapes.append({"code": code, "d": paths[code], "fill": "#f2f2f2", "linked": False,
                           "label": name, "out": True})
            continue
        fill = (classes.classes[classes.colour_index(v)].colour
                if v is not None and classes.classes else "#a6a6a6")
        text = "ingen" if v is None else f"{v} {unit_word}"
        shapes.append({"code": code, "d": paths[code], "fill": fill, "linked": True,
                       "label": f"{name}: {text}", "href": f"/kommune/{code}", "out": False})
    return {"id": map_id, "viewbox": view.viewbox, "shapes": shapes, "legend": classes.classes}


# -- plan page ------------------------------------------------------------------------------
def _plan_context(q: dict[str, Any]) -> dict[str, Any]:
    plans, county, _ = plans_for(q)
    names = [p.parameters.name for p in plans]
    shown = q.get("kart") or names[0]
    if shown not in names:
        raise UserError(f"Kart (kart): ukjent scenario {shown!r}; finnes: {', '.join(names)}")
    mplan = plans[names.index(shown)]
    values = {r.code: r.persons for r in mplan.rows}
    labels = {r.code: r.name for r in mplan.rows}
    pmap = count_map(list(values), values, labels, county, "plankart")
    rows = []
    for j, r in enumerate(plans[0].rows):
        cells = []
        for k, p in enumerate(plans):
            v = p.rows[j].persons
            diff = v - r.persons if k else 0
            cells.append({"value": v, "diff": diff})
        rows.append({"row": r, "cells": cells, "changed": any(c["diff"] for c in cells),
                     "shown": mplan.rows[j]})
    rows.sort(key=lambda x: name_sort_key(x["row"].name))
    n_changed = sum(1 for x in rows if x["changed"])
    query = {k: v for k, v in q.items() if v not in (None, "") and k not in ("kart", "side")}
    qs = urlencode(query)
    free = [k for k in range(1, MAX_SCENARIOS + 1) if not _scenario_given(q, k)]
    preset_links = []
    for label, (name, key, value) in PRESETS.items():
        if not free or name in names:
            continue
        preset_links.append({"label": label, "href": "/bosetting?" + urlencode(
            {**query, f"s{free[0]}_navn": name, f"s{free[0]}_{key}": value})})
    pages = max(1, math.ceil(len(rows) / PLAN_PAGE_SIZE))
    side = _integer("Side", q.get("side"), 10**6) or 1
    if side > pages:
        raise UserError(f"Side: tabellen har {pages} side{'r' if pages > 1 else ''}, ikke "
                        f"{side}")
    page_links = [{"n": n, "href": "/bosetting?" + urlencode({**query, "side": n})
                   + "#plantabell", "current": n == side} for n in range(1, pages + 1)]
    first = (side - 1) * PLAN_PAGE_SIZE
    return {
        "plans": plans, "names": names, "shown": shown, "map": pmap,
        "rows": rows[first:first + PLAN_PAGE_SIZE], "n_rows": len(rows),
        "first_row": first + 1, "pages": pages, "side": side, "page_links": page_links,
        "n_changed": n_changed, "qs": qs, "presets": preset_links,
        "lines": [parameter_lines(p) for p in plans],
        "district_totals": [p.district_total for p in plans],
        "source_line": SOURCE_LINE, "error": None,
    }


def _form_context(q: dict[str, Any]) -> dict[str, Any]:
    ctx = get_context()
    counties = ctx.registry.by_name("fylke")
    county = (q.get("fylke") or "").strip()
    try:
        munis = runs.municipalities()
        if county:
            munis = munis.in_county(county.zfill(2))
        default_total: int | None = round(float(np.nansum(munis.settled)))
    except UserError:
        default_total = None  # an unknown county: the plan's message says so
    numbers = [("distrikt", "Distriktsprioritet (%)", "decimal"),
               ("tak", "Tak per 1 000 innbyggere", "decimal"),
               ("gulv", "Gulv per 1 000 innbyggere", "decimal"),
               ("uten_vedtak", "Tak per 1 000 for kommuner uten vedtak", "decimal"),
               ("gruppe", "Minste gruppe (personer)", "numeric")]
    numbers += [(f"v_{w}", "Vekt for " + WEIGHT_LABELS[w], "decimal") for w in PLAN_WEIGHTS]
    return {"pq": q, "counties": counties, "weights": PLAN_WEIGHTS, "weight_labels": WEIGHT_LABELS,
            "default_total": default_total, "scenario_numbers": numbers,
            "scenario_given": [_scenario_given(q, k) for k in range(1, MAX_SCENARIOS + 1)],
            "defaults": DEFAULT_WEIGHTS,
            "max_scenarios": MAX_SCENARIOS, "presets_all": PRESETS,
            "outcome_choices": OUTCOME_CHOICES,
            "reference_persons": runs.REFERENCE_PERSONS}


@router.get("/bosetting", response_class=HTMLResponse)
def plan_view(request: Request) -> HTMLResponse:
    q = _query(request)
    try:
        form = _form_context(q)
    except UserError as exc:
        return templates.TemplateResponse(request, "error.html", {"message": str(exc),
                                          "title": "Feil"}, status_code=exc.http_status)
    context: dict[str, Any] = {"title": "Bosetting: fordeling på kommunene", **form}
    status = 200
    try:
        context.update(_plan_context(q))
    except UserError as exc:
        context["error"] = str(exc)
        status = exc.http_status
    return templates.TemplateResponse(request, "planlegger.html", context, status_code=status)


def _plan_download(request: Request, suffix: str) -> Response:
    csv_style = export.style(request.query_params.get("stil"))
    plans, county, _ = plans_for(_query(request))  # UserError → JSON 4xx via the app
    name = f"bli-atlas-bosetting-{county or 'hele-landet'}{suffix}"
    if suffix == ".xlsx":
        return export.download(plan_xlsx(plans), export.XLSX_MEDIA_TYPE, name)
    return export.download(plan_csv(plans, csv_style), export.CSV_MEDIA_TYPE, name)


@router.get("/bosetting/plan.csv")
def plan_csv_download(request: Request) -> Response:
    return _plan_download(request, ".csv")


@router.get("/bosetting/plan.xlsx")
def plan_xlsx_download(request: Request) -> Response:
    return _plan_download(request, ".xlsx")


# -- matching pages -----------------------------------------------------------------------------
def _private(response: Response) -> Response:
    """Pages and files that carry cohort data are never cached."""
    response.headers.update(match_api.NO_STORE)
    return response


def _matching_form(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from bliatlas.settlement.capacity import DEFAULT_MARGIN
    from bliatlas.settlement.cohort import TEMPLATE
    from bliatlas.settlement.rules import PREFERENCE_BONUS, SOFT_TIE_BONUS

    ctx = get_context()
    return {
        "title": "Bosetting: matching av husholdninger",
        "counties": ctx.registry.by_name("fylke"),
        "capacity_modes": CAPACITY_MODES,
        "support_modes": runs.SUPPORT_MODES,
        "max_mb": match_api.MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_persons": runs.MAX_PERSONS,
        "max_synthetic": runs.MAX_SYNTHETIC_PERSONS,
        "template": TEMPLATE,
        "soft_bonus": SOFT_TIE_BONUS,
        "preference_bonus": PREFERENCE_BONUS,
        "f": {"fylke": "", "kapasitet": "andel", "margin": f"{DEFAULT_MARGIN * 100:g}",
              "oppfolging": "alle", "kilde": "fil", "personer": "300", "fro": "1",
              "minsteandel": "", "gulv": "", "spredning": "", "likhetsvekt": "",
              "vekt_arbeid": "1", "vekt_bofast": "0", "onskevekt": "1"},
        "error": None,
        **(extra or {}),
    }


def _literature() -> str:
    from bliatlas.settlement.simulate import LITERATURE

    return LITERATURE


@router.get("/bosetting/kohortmal.csv")
def template_csv() -> Response:
    from bliatlas.settlement.cohort import template_csv as make

    return export.download(make(), export.CSV_MEDIA_TYPE, "kohortmal.csv")


@router.get("/bosetting/kohortmal.xlsx")
def template_xlsx() -> Response:
    from bliatlas.settlement.cohort import template_xlsx as make

    return export.download(make(), export.XLSX_MEDIA_TYPE, "kohortmal.xlsx")


@router.get("/bosetting/matching", response_class=HTMLResponse)
def matching_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "planlegger_matching.html", _matching_form())


def _form_error(request: Request, exc: UserError, f: dict[str, str]) -> Response:
    return _private(templates.TemplateResponse(
        request, "planlegger_matching.html", _matching_form({"error": str(exc), "f": f}),
        status_code=exc.http_status, headers=error_headers(exc)))


@router.post("/bosetting/matching", response_class=HTMLResponse)
async def matching_run(request: Request) -> Response:
    f = dict(_matching_form()["f"])
    try:
        fields, files = await match_api.read_form(request)
    except UserError as exc:
        return _form_error(request, exc, f)
    f.update({k: v[:200] for k, v in fields.items() if k in match_api.FORM_FIELDS})

    def work() -> runs.MatchRun:
        settings = match_api.settings_from_form(f, percent=True)
        if f["kilde"] == "syntetisk":
            n = _integer("Antall personer", f["personer"])
            if n is None:
                raise UserError("Antall personer: mangler")
            cohort = runs.synthetic_cohort(n, settings.seed, settings.county)
        elif f["kilde"] == "fil":
            if "kohort" not in files:
                raise UserError("Kohortfil (kohort): velg en fil (CSV eller xlsx) å laste opp, "
                                "eller velg «lag en syntetisk kohort»")
            cohort = match_api.cohort_from_upload(*files["kohort"])
        else:
            raise UserError(f"Kilde (kilde): forventet fil eller syntetisk, fikk "
                            f"{f['kilde'][:20]!r}")
        profile = None
        if "profil" in files:
            munis = runs.municipalities()
            if settings.county:
                munis = munis.in_county(settings.county.zfill(2))
            profile = match_api.profile_from_upload(*files["profil"],
                                                    [str(c) for c in munis.codes])
        return run_store.keep(runs.start_run(cohort, settings, profile))

    try:
        run = await match_api.run_heavy(work)
    except UserError as exc:
        return _form_error(request, exc, f)
    return _private(RedirectResponse(f"/bosetting/matching/{run.id}", status_code=303))


def _gain_rows(run: runs.MatchRun) -> list[dict[str, Any]]:
    """The honest evaluation as table rows: per outcome and rule, predicted and (for
    synthetic cohorts) realised, with intervals."""
    from bliatlas.settlement.models import OUTCOMES

    out = []
    for outcome, ev in run.evaluations.items():
        label = OUTCOMES[outcome].format(years=run.years)
        for r in ev.rules:
            out.append({"outcome": outcome, "label": label, "r": r,
                        "truth": ev.synthetic_truth})
    return out


def _greedy_note(run: runs.MatchRun) -> str | None:
    """A plain sentence comparing the optimum with the rule "beste ledige kommune"."""
    opt = next((r for r in run.rules if r.name == "Optimert"), None)
    greedy = next((r for r in run.rules if r.name.startswith("Grådig: beste")), None)
    if opt is None or greedy is None:
        return None
    if greedy.unplaced == 0 and abs(opt.expected - greedy.expected) <= 1e-6 * max(
            1.0, abs(opt.expected)):
        return ("Den enkle regelen «beste ledige kommune» (hver husholdning etter tur til "
                "den kommunen modellen spår best for den, så lenge det er plass) ga her "
                "nøyaktig samme forventede resultat som optimeringen. Kapasiteten tvang altså "
                "ikke fram valg mellom husholdningene. Optimeringen gir mer enn regelen når de "
                "kommunene som passer best, har for få plasser til alle som passer best der.")
    left = (f"; regelen fant ikke plass til {fmt_count(greedy.unplaced, 'husholdning', 'husholdninger')}"
            if greedy.unplaced else "")
    return (f"Optimeringen ga en forventet målverdi på {fmt_num(opt.expected, 1)} mot "
            f"{fmt_num(greedy.expected, 1)} for regelen «beste ledige kommune» (summen av "
            f"modellens vektede sannsynligheter over de plasserte personene){left}.")


def _result_context(run: runs.MatchRun, side: int) -> dict[str, Any]:
    assert run.result is not None
    totals = runs.municipality_totals(run)
    values = {t["code"]: t["persons"] for t in totals}
    labels = {t["code"]: t["name"] for t in totals}
    tmap = count_map(list(values), values, labels, run.settings.county, "matchkart")
    n_h = run.cohort.n_households
    pages = max(1, math.ceil(n_h / PAGE_SIZE))
    if not 1 <= side <= pages:
        raise UserError(f"Side (side): forventet 1–{pages}, fikk {side}")
    start = (side - 1) * PAGE_SIZE
    shown = range(start, min(n_h, start + PAGE_SIZE))
    c = run.cohort
    conflict_of = {x.household: x for x in run.conflicts}
    rank_of = run.preferences.rank_of if run.preferences else {}
    expl = []
    for h, e in zip(shown, runs.explanations(run, shown), strict=True):
        rows_h = c.households[h]
        first = rows_h[0]
        tie = ""
        if c.tie_kind[first]:
            code = str(c.tie_municipality[first])
            hits = np.flatnonzero(run.munis.codes == code)
            place = str(run.munis.names[hits[0]]) if hits.size else f"kommune {code}"
            tie = f"{label_nb('tie_kind', str(c.tie_kind[first]))} til {place}"
        expl.append({"e": e, "country_group": label_nb("country_group",
                                                       str(c.country_group[first])),
                     "tie": tie,
                     "minor": bool(c.unaccompanied_minor[rows_h].any()),
                     "support": bool(c.support_need[rows_h].any()),
                     "locked": h in run.locks, "conflict": h in conflict_of,
                     "wish": rank_of.get(h)})
    fair_rules = list(run.fairness[0].outcome) if run.fairness else []
    locks = [{"h": h, "id": str(run.household_ids[h]), "code": str(run.munis.codes[j]),
              "name": str(run.munis.names[j]), "kind": "låst", "key": "las", "j": j}
             for h, j in run.locks.items()]
    locks += [{"h": h, "id": str(run.household_ids[h]), "code": str(run.munis.codes[j]),
               "name": str(run.munis.names[j]), "kind": "forbudt", "key": "forby", "j": j}
              for h, j in sorted(run.forbids)]
    locks += [{"h": h, "id": str(run.household_ids[h]), "code": "", "name": "",
               "kind": "regel overstyrt", "key": "overstyr", "j": -1}
              for h in sorted(run.overrides)]
    munis = sorted(({"code": str(code), "name": str(n)} for code, n in
                    zip(run.munis.codes.tolist(), run.munis.names.tolist(), strict=True)),
                   key=lambda m: name_sort_key(m["name"]))
    registry = get_context().registry.counties
    prep = run.prepared
    return {
        "title": ("SYNTETISK – " if run.synthetic else "") + "Bosetting: resultat av matchingen",
        "run": run, "res": run.result, "totals": [t for t in totals if t["capacity"] or
                                                  t["persons"]],
        "map": tmap, "expl": expl, "side": side, "pages": pages, "rules": run.rules,
        "gains": _gain_rows(run), "backtest": run.backtest, "greedy_note": _greedy_note(run),
        "fairness": run.fairness, "fair_rules": fair_rules, "locks": locks, "munis": munis,
        "capacity_text": CAPACITY_MODES.get(run.settings.capacity_mode, ""),
        "support_text": runs.SUPPORT_MODES[run.settings.support_mode],
        "literature": _literature(),
        "scope": (registry[run.settings.county].name if run.settings.county in registry
                  else "hele landet"),
        "n_persons": len(run.cohort), "conflicts": run.conflicts,
        "names": [str(x) for x in run.munis.names],
        "concentration": run.concentration, "use": run.use,
        "preferences": run.preferences, "resources": run.resources,
        "notes": prep.notes if prep else [], "raised": prep.raised if prep else [],
        "share": prep.capacity.share if prep else None,
        "error": None,
    }


@router.get("/bosetting/matching/{run_id}", response_class=HTMLResponse)
def matching_result(request: Request, run_id: str, side: str = "1") -> Response:
    try:
        run = run_store.get_run(run_id)
        page = _integer("Side", side, 10**6) or 1
        context = _result_context(run, page)
    except UserError as exc:
        return _private(templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "title": "Feil"},
            status_code=exc.http_status))
    return _private(templates.TemplateResponse(request, "planlegger_resultat.html", context))


@router.get("/bosetting/matching/{run_id}/tildeling.csv")
def matching_csv(run_id: str, stil: str = "maskin") -> Response:
    return match_api.match_csv(run_id, stil)


@router.get("/bosetting/matching/{run_id}/kapasitet.csv")
def matching_capacity_csv(run_id: str, stil: str = "maskin") -> Response:
    return match_api.match_capacity_csv(run_id, stil)


def _edit(run: runs.MatchRun, husholdning: str, kommune: str, handling: str
          ) -> tuple[dict[int, int], set[tuple[int, int]], set[int]]:
    locks, forbids, overrides = dict(run.locks), set(run.forbids), set(run.overrides)
    if handling.startswith("fjern:"):
        parts = handling.split(":")
        if len(parts) != 4 or not parts[2].lstrip("-").isdigit() \
                or not parts[3].lstrip("-").isdigit():
            raise UserError("Handling (handling): ugyldig fjerning")
        kind, h, j = parts[1], int(parts[2]), int(parts[3])
        if kind == "las":
            locks.pop(h, None)
        elif kind == "forby":
            forbids.discard((h, j))
        elif kind == "overstyr":
            overrides.discard(h)
        else:
            raise UserError("Handling (handling): ugyldig fjerning")
        return locks, forbids, overrides
    if handling.startswith("overstyr:"):
        h = run.household_index(handling.split(":", 1)[1])
        if h not in {x.household for x in run.conflicts}:
            raise UserError("Overstyr: husholdningen har ingen regelkonflikt å overstyre")
        overrides.add(h)
        return locks, forbids, overrides
    if not husholdning.strip():
        raise UserError("Husholdning (husholdning): skriv inn en husholdnings-id fra tabellen")
    h = run.household_index(husholdning)
    j = run.muni_index(kommune)
    if handling == "lås":
        locks[h] = j
        forbids.discard((h, j))
    elif handling == "forby":
        forbids.add((h, j))
        if locks.get(h) == j:
            del locks[h]
    else:
        raise UserError(f"Handling (handling): forventet lås eller forby, fikk {handling[:20]!r}")
    return locks, forbids, overrides


@router.post("/bosetting/matching/{run_id}/endre", response_class=HTMLResponse)
async def matching_lock(
    request: Request,
    run_id: str,
    husholdning: Annotated[str, Form()] = "",
    kommune: Annotated[str, Form()] = "",
    handling: Annotated[str, Form()] = "lås",
) -> Response:
    try:
        run = run_store.get_run(run_id)
    except UserError as exc:
        return _private(templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "title": "Feil"},
            status_code=exc.http_status))
    try:
        locks, forbids, overrides = _edit(run, husholdning, kommune, handling)
        new = await match_api.run_heavy(
            lambda: run_store.keep(runs.derived_run(run, locks, forbids, overrides)))
    except UserError as exc:
        context = _result_context(run, 1)
        context["error"] = str(exc)
        return _private(templates.TemplateResponse(request, "planlegger_resultat.html", context,
                                                   status_code=exc.http_status,
                                                   headers=error_headers(exc)))
    return _private(RedirectResponse(f"/bosetting/matching/{new.id}", status_code=303))
