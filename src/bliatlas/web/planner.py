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
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bliatlas import export
from bliatlas.errors import UserError
from bliatlas.settlement import match_api
from bliatlas.settlement.plan import (
    DEFAULT_WEIGHTS,
    SCENARIO_KEYS,
    SOURCE_LINE,
    WEIGHT_LABELS,
    Plan,
    PlanParameters,
    make_plan,
    parameter_lines,
    parse_scenario,
    plan_csv,
    plan_xlsx,
)
from bliatlas.web.classify import classify
from bliatlas.web.context import get_context
from bliatlas.web.pages import templates

router = APIRouter(include_in_schema=False)

Multi = Annotated[list[str] | None, Query()]
MAX_SCENARIOS = 2  # besides the base plan: three side by side
PLAN_WEIGHTS = ("anmodning", "utfall", "fastlege", "erfaring")
OUTCOME_CHOICES = {"": "Ikke brukt", "syntetisk": "SYNTETISK modell (referansekohort)"}
PRESETS: dict[str, str] = {
    "Distriktsprioritet 30 %": "distrikt30=district_priority:0.3",
    "Uten vedtak som grense": "utenvedtak=use_decision:0",
    "Tak 10 per 1 000": "tak10=max_per_1000:10",
    "Minste gruppe 10": "gruppe10=min_group:10",
}
PAGE_SIZE = 100


class PlanInfeasible(UserError):
    http_status = 422


# -- parsing -------------------------------------------------------------------------------
def _number(name: str, label: str, text: str | None, lo: float = 0.0,
            hi: float = math.inf) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        v = float(text.strip().replace(" ", "").replace(",", "."))
    except ValueError:
        raise UserError(f"{label} ({name}): forventet et tall, fikk {text!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        upper = "" if hi == math.inf else f" og høyst {hi:g}"
        raise UserError(f"{label} ({name}): forventet et tall minst {lo:g}{upper}, fikk {text!r}")
    return v


def _integer(name: str, label: str, text: str | None) -> int | None:
    v = _number(name, label, text)
    if v is None:
        return None
    if v != int(v):
        raise UserError(f"{label} ({name}): forventet et heltall, fikk {text!r}")
    return int(v)


def _plan_inputs(q: dict[str, Any]) -> tuple[Any, str, str | None, list[PlanParameters]]:
    """(municipalities in scope, scope text, county, parameters per scenario) from the form.

    The outcome signal (``utfall=syntetisk``) is read in :func:`plans_for`."""
    munis = match_api.municipalities()
    county = (q.get("fylke") or "").strip() or None
    scope = "hele landet"
    if county:
        munis = munis.in_county(county.zfill(2))
        county = county.zfill(2)
        region = get_context().registry.counties.get(county)
        scope = f"{region.name} (fylke {county})" if region else f"fylke {county}"
    default_total = round(float(np.nansum(munis.settled)))  # settled in 2024
    total = _integer("total", "Antall personer", q.get("total"))
    weights = dict(DEFAULT_WEIGHTS)
    for key in PLAN_WEIGHTS:
        v = _number(f"v_{key}", f"Vekt for {WEIGHT_LABELS[key]}", q.get(f"v_{key}"), 0, 1000)
        if v is not None:
            weights[key] = v
    vedtak = (q.get("vedtak") or "ja").strip()
    if vedtak not in ("ja", "nei"):
        raise UserError(f"Vedtak som øvre grense (vedtak): forventet ja eller nei, fikk {vedtak!r}")
    district = _number("distrikt", "Distriktsprioritet", q.get("distrikt"), 0, 100)
    base = PlanParameters(
        total=default_total if total is None else total,
        weights=weights,
        use_decision=vedtak == "ja",
        max_per_1000=_number("tak", "Tak per 1 000 innbyggere", q.get("tak")),
        min_per_1000=_number("gulv", "Gulv per 1 000 innbyggere", q.get("gulv")),
        min_group=_integer("gruppe", "Minste gruppe", q.get("gruppe")) or 0,
        district_priority=(district or 0.0) / 100.0,
    )
    base.check()
    scenarios = [s.strip() for s in q.get("s", []) if s and s.strip()]
    if len(scenarios) > MAX_SCENARIOS:
        raise UserError(f"Scenarier (s): høyst {MAX_SCENARIOS} i tillegg til grunnlaget, "
                        f"fikk {len(scenarios)}")
    params = [base] + [parse_scenario(s, base) for s in scenarios]
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise UserError("Scenarier (s): navnene må være ulike, og «grunnlag» er brukt av "
                        "hovedvalgene")
    for p in params[1:]:
        p.check()
    return munis, scope, county, params


def _query(request: Request) -> dict[str, Any]:
    qp = request.query_params
    out: dict[str, Any] = {k: qp.get(k) for k in qp if k != "s"}
    out["s"] = qp.getlist("s")
    return out


def plans_for(q: dict[str, Any]) -> tuple[list[Plan], str | None, Any]:
    munis, scope, county, params = _plan_inputs(q)
    signal = (q.get("utfall") or "").strip()
    if signal not in OUTCOME_CHOICES:
        raise UserError(f"Forventet utfall (utfall): forventet tomt eller syntetisk, fikk "
                        f"{signal!r}")
    outcome, synthetic = None, False
    if signal == "syntetisk":
        outcome, synthetic, _ = match_api.reference_outcome(munis)
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
    rows.sort(key=lambda x: x["row"].name)
    n_changed = sum(1 for x in rows if x["changed"])
    query = {k: v for k, v in q.items() if v not in (None, "", []) and k != "kart"}
    qs = urlencode(query, doseq=True)
    preset_links = []
    for label, spec in PRESETS.items():
        if spec in q.get("s", []) or len(q.get("s", [])) >= MAX_SCENARIOS:
            continue
        preset_links.append({"label": label, "href": "/bosetting?" + urlencode(
            {**query, "s": [*q.get("s", []), spec]}, doseq=True)})
    return {
        "plans": plans, "names": names, "shown": shown, "map": pmap, "rows": rows,
        "n_changed": n_changed, "qs": qs, "presets": preset_links,
        "lines": [parameter_lines(p) for p in plans],
        "district_totals": [p.district_total for p in plans],
        "source_line": SOURCE_LINE, "error": None,
    }


def _form_context(q: dict[str, Any]) -> dict[str, Any]:
    ctx = get_context()
    counties = sorted(ctx.registry.counties.values(), key=lambda c: c.name)
    return {"pq": q, "counties": counties, "weights": PLAN_WEIGHTS, "weight_labels": WEIGHT_LABELS,
            "defaults": DEFAULT_WEIGHTS, "scenario_keys": SCENARIO_KEYS,
            "max_scenarios": MAX_SCENARIOS, "presets_all": PRESETS,
            "outcome_choices": OUTCOME_CHOICES,
            "reference_persons": match_api.REFERENCE_PERSONS}


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
def _matching_form(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx = get_context()
    return {
        "title": "Bosetting: matching av husholdninger",
        "counties": sorted(ctx.registry.counties.values(), key=lambda c: c.name),
        "capacity_modes": match_api.CAPACITY_MODES,
        "support_modes": match_api.SUPPORT_MODES,
        "max_mb": match_api.MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_persons": match_api.MAX_PERSONS,
        "max_synthetic": match_api.MAX_SYNTHETIC_PERSONS,
        "columns": _cohort_columns(),
        "soft_bonus": _soft_bonus(),
        "f": {"fylke": "", "kapasitet": "vedtak", "margin": "20", "oppfolging": "alle",
              "kilde": "fil", "personer": "300", "fro": "1", "minsteandel": "",
              "likhetsvekt": ""},
        "error": None,
        **(extra or {}),
    }


def _soft_bonus() -> float:
    from bliatlas.settlement.simulate import SOFT_TIE_BONUS

    return SOFT_TIE_BONUS


def _literature() -> str:
    from bliatlas.settlement.simulate import LITERATURE

    return LITERATURE


def _cohort_columns() -> tuple[str, ...]:
    from bliatlas.settlement.cohort import COHORT_COLUMNS

    return COHORT_COLUMNS


@router.get("/bosetting/matching", response_class=HTMLResponse)
def matching_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "planlegger_matching.html", _matching_form())


@router.post("/bosetting/matching", response_class=HTMLResponse)
async def matching_run(request: Request) -> Response:
    f = dict(_matching_form()["f"])
    try:
        fields, upload = await match_api.read_form(request)
    except UserError as exc:
        return templates.TemplateResponse(
            request, "planlegger_matching.html", _matching_form({"error": str(exc)}),
            status_code=exc.http_status)
    f.update({k: v for k, v in fields.items() if k in match_api.FORM_FIELDS})

    def work() -> match_api.MatchRun:
        seed = _integer("fro", "Frø", f["fro"]) or 0
        settings = match_api.Settings(
            county=f["fylke"] or None, capacity_mode=f["kapasitet"],
            margin=(_number("margin", "Margin", f["margin"], 0, 500) or 0.0) / 100.0,
            support_mode=f["oppfolging"], seed=seed,
            min_fill=(_number("minsteandel", "Minsteandel av anmodningen", f["minsteandel"],
                              0, 100) or 0.0) / 100.0,
            equity_weight=_number("likhetsvekt", "Vekt for likhet mellom grupper",
                                  f["likhetsvekt"], 0, 10) or 0.0)
        settings.check()
        if f["kilde"] == "syntetisk":
            n = _integer("personer", "Antall personer", f["personer"])
            if n is None:
                raise UserError("Antall personer (personer): mangler")
            cohort = match_api.synthetic_cohort(n, seed, settings.county)
        elif f["kilde"] == "fil":
            if upload is None:
                raise UserError("Kohortfil (kohort): velg en CSV-fil å laste opp, eller velg "
                                "«lag en syntetisk kohort»")
            cohort = match_api.cohort_from_upload(*upload)
        else:
            raise UserError(f"Kilde (kilde): forventet fil eller syntetisk, fikk {f['kilde']!r}")
        return match_api.keep(match_api.new_run(cohort, settings))

    try:
        run = await run_in_threadpool(work)
    except UserError as exc:
        return templates.TemplateResponse(
            request, "planlegger_matching.html", _matching_form({"error": str(exc), "f": f}),
            status_code=exc.http_status)
    return RedirectResponse(f"/bosetting/matching/{run.id}", status_code=303)


def _result_context(run: match_api.MatchRun, side: int) -> dict[str, Any]:
    assert run.result is not None
    totals = match_api.municipality_totals(run)
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
    expl = []
    for h, e in zip(shown, match_api.explanations(run, shown)):
        rows_h = c.households[h]
        first = rows_h[0]
        expl.append({"e": e, "country_group": str(c.country_group[first]),
                     "tie": f"{c.tie_kind[first]} {c.tie_municipality[first]}".strip(),
                     "minor": bool(c.unaccompanied_minor[rows_h].any()),
                     "support": bool(c.support_need[rows_h].any()),
                     "locked": h in run.locks})
    fair_rules = list(run.fairness[0].outcome) if run.fairness else []
    base = run.rules[0].expected
    rules = []
    for r in run.rules:
        ok = math.isfinite(r.expected)
        rules.append({"name": r.name, "ok": ok,
                      "expected": r.expected if ok else None,
                      "per_person": r.expected / max(1, len(run.cohort)) if ok else None,
                      "ci": r.ci, "runs": r.runs, "failed": r.failed,
                      "gain": (base - r.expected) / r.expected * 100 if ok and r.expected
                      else None})
    locks = [{"h": h, "id": str(run.household_ids[h]), "code": str(run.munis.codes[j]),
              "name": str(run.munis.names[j]), "kind": "låst", "key": "las", "j": j}
             for h, j in run.locks.items()]
    locks += [{"h": h, "id": str(run.household_ids[h]), "code": str(run.munis.codes[j]),
               "name": str(run.munis.names[j]), "kind": "forbudt", "key": "forby", "j": j}
              for h, j in sorted(run.forbids)]
    munis = sorted(({"code": str(c), "name": str(n)} for c, n in
                    zip(run.munis.codes.tolist(), run.munis.names.tolist())),
                   key=lambda m: m["name"])
    return {
        "title": ("SYNTETISK – " if run.synthetic else "") + "Bosetting: resultat av matchingen",
        "run": run, "res": run.result, "totals": [t for t in totals if t["capacity"] or
                                                  t["persons"]],
        "map": tmap, "expl": expl, "side": side, "pages": pages, "rules": rules,
        "fairness": run.fairness, "fair_rules": fair_rules, "locks": locks, "munis": munis,
        "capacity_text": match_api.CAPACITY_MODES[run.settings.capacity_mode],
        "support_text": match_api.SUPPORT_MODES[run.settings.support_mode],
        "soft_bonus": _soft_bonus(),
        "simulated": run.simulated, "simulation_note": run.simulation_note,
        "literature": _literature(),
        "scope": (get_context().registry.counties[run.settings.county].name
                  if run.settings.county in get_context().registry.counties else "hele landet"),
        "n_persons": len(run.cohort),
        "error": None,
    }


@router.get("/bosetting/matching/{run_id}", response_class=HTMLResponse)
def matching_result(request: Request, run_id: str, side: str = "1") -> HTMLResponse:
    try:
        run = match_api.get_run(run_id)
        page = _integer("side", "Side", side) or 1
        context = _result_context(run, page)
    except UserError as exc:
        return templates.TemplateResponse(request, "error.html", {"message": str(exc),
                                          "title": "Feil"}, status_code=exc.http_status)
    return templates.TemplateResponse(request, "planlegger_resultat.html", context)


@router.get("/bosetting/matching/{run_id}/tildeling.csv")
def matching_csv(run_id: str) -> Response:
    return match_api.match_csv(run_id)


@router.post("/bosetting/matching/{run_id}/endre", response_class=HTMLResponse)
def matching_lock(
    request: Request,
    run_id: str,
    husholdning: Annotated[str, Form()] = "",
    kommune: Annotated[str, Form()] = "",
    handling: Annotated[str, Form()] = "lås",
) -> Response:
    try:
        run = match_api.get_run(run_id)
    except UserError as exc:
        return templates.TemplateResponse(request, "error.html", {"message": str(exc),
                                          "title": "Feil"}, status_code=exc.http_status)
    try:
        locks, forbids = dict(run.locks), set(run.forbids)
        if handling.startswith("fjern:"):
            kind, h_text, j_text = handling.split(":")[1:4]
            h, j = int(h_text), int(j_text)
            if kind == "las":
                locks.pop(h, None)
            else:
                forbids.discard((h, j))
        else:
            if not husholdning.strip():
                raise UserError("Husholdning (husholdning): skriv inn en husholdnings-id fra "
                                "tabellen")
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
                raise UserError(f"Handling (handling): forventet lås eller forby, fikk "
                                f"{handling!r}")
        new = match_api.keep(match_api.derived_run(run, locks, forbids))
    except (UserError, ValueError) as exc:
        status = exc.http_status if isinstance(exc, UserError) else 400
        message = str(exc) if isinstance(exc, UserError) else "Ugyldig handling"
        context = _result_context(run, 1)
        context["error"] = message
        return templates.TemplateResponse(request, "planlegger_resultat.html", context,
                                          status_code=status)
    return RedirectResponse(f"/bosetting/matching/{new.id}", status_code=303)
