"""Indicators over HTTP, named after Kolada and PxWebApi: regions, the indicator
catalogue, values by indicator × level × year, and a region profile.

JSON by default, CSV with ``?format=csv``. Every response names the source, the licence
and the imports (publisher, file, SHA-256, time) the numbers come from. The cube is
built once per process from the read-only store (``bliatlas.serving``) and cached;
profile responses are cached as encoded bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from bliatlas import export
from bliatlas import serving as deps
from bliatlas.errors import InvalidParameter, NotFound, UserError
from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import LEVELS, Cube, build_cube
from bliatlas.indicators.peer_groups import (
    PeerGroup,
    build_group,
    group_comparison,
    group_from_params,
    group_payload,
    parse_definition,
)
from bliatlas.indicators.profile import build_profile, provenance
from bliatlas.indicators.sentences import cell_dict
from bliatlas.regions.names import display_name, language_forms, name_sort_key
from bliatlas.serving import SOURCE_NOTE

router = APIRouter(prefix="/api", tags=["indikatorer"])

def get_cube() -> Cube:
    """The cube of the current database state, built once from the shared read-only store
    (``bliatlas.serving``: rebuilt beside the old one when an import replaced the file)."""
    return deps.cached("indicators.cube", lambda: build_cube(deps.get_store()))


def _responses() -> dict[tuple[str, ...], bytes]:
    """Encoded answers of the current database state."""
    return deps.cached("indicators.responses", dict)


def reset_cube() -> None:
    deps.forget("indicators.cube", "indicators.responses")


def _check_format(fmt: str) -> str:
    if fmt not in ("json", "csv"):
        raise InvalidParameter(f"ukjent format {fmt!r}: bruk format=json eller format=csv")
    return fmt


def _licences(cube: Cube, import_ids: set[int]) -> list[str]:
    return sorted({cube.imports[i]["licence"] for i in import_ids if i in cube.imports})


def _envelope(cube: Cube, import_ids: set[int], **body: Any) -> dict[str, Any]:
    return {
        **body,
        "kilde": SOURCE_NOTE,
        "lisens": _licences(cube, import_ids),
        "proveniens": provenance(cube, import_ids),
    }


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    return export.csv_bytes(columns, export.dict_rows(rows, columns), export.MACHINE)


def _respond(fmt: str, payload: dict[str, Any], rows_key: str, columns: list[str],
             extra: dict[str, Any] | None = None) -> Response:
    if fmt == "csv":
        rows = payload[rows_key]
        common = {"kilde": payload["kilde"], "lisens": "; ".join(payload["lisens"])}
        if extra:
            common.update(extra)
        body = _csv([{**r, **common} for r in rows], columns + list(common))
        return Response(body, media_type="text/csv; charset=utf-8")
    return Response(_json(payload), media_type="application/json")


def _region_row(cube: Cube, reg: dict[str, Any]) -> dict[str, Any]:
    row = {
        "kode": reg["code"],
        "niva": reg["level"],
        "navn": reg["name"],
        "kortnavn": reg["short_name"],
        "norsk_navn": language_forms(reg["name"])[0][0],
        "visningsnavn": display_name(reg["name"]),
    }
    if reg["level"] == "kommune":
        row.update(
            fylke=reg["county_code"],
            sentralitet=reg["centrality"],
            distriktskommune=bool(reg["centrality"] and reg["centrality"] >= 5),
            kostragruppe=reg["kostra_group"],
            robek=reg["robek"],
        )
    else:
        row["antall_kommuner"] = reg["n_members"]
    return row


def _registry_imports(cube: Cube) -> set[int]:
    return {i for i, imp in cube.imports.items() if imp["dataset"] == "kommuner_bosetting"}


REGION_COLUMNS = ["kode", "niva", "navn", "kortnavn", "norsk_navn", "visningsnavn", "fylke", "sentralitet",
                  "distriktskommune", "kostragruppe", "robek", "antall_kommuner"]


@router.get("/regioner", summary="Kommuner og fylker (2024-inndelingen)")
def regions(niva: str | None = Query(None, description="kommune eller fylke"),
            sorter: str = Query("kode", description="kode (fylker først) eller navn "
                                "(norsk alfabetisk rekkefølge etter det norske navnet)"),
            format: str = "json") -> Response:
    fmt = _check_format(format)
    if niva is not None and niva not in ("kommune", "fylke"):
        raise InvalidParameter(f"ukjent nivå {niva!r} for regioner: bruk kommune eller fylke")
    if sorter not in ("kode", "navn"):
        raise InvalidParameter(f"sorter: forventet «kode» eller «navn», fikk {sorter!r}")
    cube = get_cube()
    chosen = [reg for (level, _), reg in sorted(cube.regions.items())
              if level in ("kommune", "fylke") and (niva is None or level == niva)]
    if sorter == "navn":
        chosen.sort(key=lambda reg: (reg["level"], name_sort_key(reg["name"])))
    rows = [_region_row(cube, reg) for reg in chosen]
    payload = _envelope(cube, _registry_imports(cube), regioner=rows)
    return _respond(fmt, payload, "regioner", REGION_COLUMNS)


@router.get("/regioner/{code}", summary="Én kommune eller ett fylke")
def region(code: str, format: str = "json") -> Response:
    fmt = _check_format(format)
    cube = get_cube()
    reg = cube.region(code)
    payload = _envelope(cube, _registry_imports(cube), regioner=[_region_row(cube, reg)])
    if fmt == "json":
        payload = {"region": payload.pop("regioner")[0], **payload}
        return Response(_json(payload), media_type="application/json")
    return _respond(fmt, payload, "regioner", REGION_COLUMNS)


def _indicator_row(cube: Cube, ind: Indicator) -> dict[str, Any]:
    return {
        "id": ind.id,
        "tema": ind.topic,
        "navn": ind.name_nb,
        "navn_en": ind.name_en,
        "definisjon": ind.definition,
        "type": ind.kind,
        "teller": [[s.describe() for s in t.any_of] for t in ind.numerator],
        "nevner": [[s.describe() for s in t.any_of] for t in ind.denominator or []],
        "multiplikator": ind.multiplier,
        "enhet": ind.unit,
        "retning": ind.direction,
        "nivaer": list(cube.levels_for(ind)),
        "ar": cube.years.get(ind.id, []),
        "kilder": ind.sources,
        "forbehold": ind.caveats,
    }


INDICATOR_COLUMNS = ["id", "tema", "navn", "navn_en", "definisjon", "type", "enhet", "retning",
                     "nivaer", "ar", "kilder", "forbehold"]


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {k: "; ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()}


@router.get("/indikatorer", summary="Indikatorkatalogen")
def indicators(format: str = "json") -> Response:
    fmt = _check_format(format)
    cube = get_cube()
    rows = [_indicator_row(cube, ind) for ind in cube.catalogue.indicators]
    used = {i for ids in cube.indicator_imports.values() for i in ids}
    payload = _envelope(cube, used, indikatorer=rows)
    if fmt == "csv":
        payload["indikatorer"] = [_flat(r) for r in rows]
    return _respond(fmt, payload, "indikatorer", INDICATOR_COLUMNS)


@router.get("/indikatorer/{indicator_id}", summary="Én indikator med definisjon og år")
def indicator(indicator_id: str, format: str = "json") -> Response:
    fmt = _check_format(format)
    cube = get_cube()
    ind = cube.catalogue.get(indicator_id)
    row = _indicator_row(cube, ind)
    payload = _envelope(cube, set(cube.indicator_imports.get(ind.id, [])), indikatorer=[row])
    if fmt == "json":
        payload = {"indikator": payload.pop("indikatorer")[0], **payload}
        return Response(_json(payload), media_type="application/json")
    payload["indikatorer"] = [_flat(row)]
    return _respond(fmt, payload, "indikatorer", INDICATOR_COLUMNS)


DATA_COLUMNS = ["indikator", "niva", "kode", "navn", "ar", "verdi", "nedre", "ovre",
                "verdi_tekst", "enhet", "teller", "nevner", "status", "arsak", "kilde",
                "antall_kommuner", "kommuner_med_tall", "skjermede_kommuner"]


def parse_level(ind: Indicator, cube: Cube, niva: str) -> str:
    if niva not in LEVELS:
        raise InvalidParameter(f"ukjent nivå {niva!r}: bruk ett av {', '.join(LEVELS)}")
    if niva not in cube.levels_for(ind):
        raise NotFound(
            f"indikatoren {ind.id!r} finnes bare på nivå {', '.join(cube.levels_for(ind))} "
            "(publisert verdi som ikke kan summeres)"
        )
    return niva


def data_rows(cube: Cube, ind: Indicator, level: str, year: int) -> list[dict[str, Any]]:
    rows = []
    for cell in cube.slice(ind.id, level, year):
        reg = cube.regions.get((level, cell.code), {})
        rows.append(
            {
                "indikator": ind.id,
                "niva": level,
                "kode": cell.code,
                "navn": reg.get("name"),
                "ar": year,
                **cell_dict(cell, ind),
                "enhet": ind.unit,
                "teller": cell.numerator,
                "nevner": cell.denominator,
                "kilde": "; ".join(cube.source_label(s) for s in cell.sources) or None,
                "antall_kommuner": cell.n_members,
                "kommuner_med_tall": cell.n_ok,
                "skjermede_kommuner": cell.n_suppressed,
            }
        )
    return rows


@router.get("/data/{indicator_id}", summary="Verdier for én indikator på ett nivå og ett år")
def data(indicator_id: str,
         niva: str = Query("kommune", description=" | ".join(LEVELS)),
         ar: str | None = Query(None, description="år; standard er siste år med tall"),
         format: str = "json") -> Response:
    fmt = _check_format(format)
    cube = get_cube()
    ind = cube.catalogue.get(indicator_id)
    level = parse_level(ind, cube, niva)
    year = cube.year_of(ind, ar)
    key = ("data", ind.id, level, str(year), fmt)
    cache = _responses()
    body = cache.get(key)
    if body is None:
        payload = _envelope(
            cube, set(cube.indicator_imports.get(ind.id, [])),
            indikator={"id": ind.id, "navn": ind.name_nb, "enhet": ind.unit},
            niva=level, ar=year, verdier=data_rows(cube, ind, level, year),
        )
        body = _respond(fmt, payload, "verdier", DATA_COLUMNS).body
        cache[key] = body
    return Response(body, media_type="text/csv; charset=utf-8" if fmt == "csv"
                    else "application/json")


PROFILE_COLUMNS = ["region", "id", "tema", "navn", "ar", "verdi", "nedre", "ovre",
                   "verdi_tekst", "enhet", "status", "arsak", "teller", "nevner",
                   "sammenligning", "sammenligning_verdi", "sammenligning_tekst", "rang",
                   "rang_tekst", "endring", "endring_fra_ar"]


def profile_payload(cube: Cube, code: str, from_year: int | None = None,
                    group: PeerGroup | None = None) -> dict[str, Any]:
    profile = build_profile(cube, code, from_year, group=group)
    if group is not None:
        profile["sammenligningsgruppe"] = group_payload(cube, group)
    imports = {p["import_id"] for p in profile.pop("proveniens")}
    return _envelope(cube, imports, **profile)


def _profile_csv_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per indicator and comparison (the comparison named as on the page)."""
    rows = []
    for item in profile["indikatorer"]:
        base = {k: item[k] for k in ("id", "tema", "navn", "ar", "verdi", "nedre", "ovre",
                                     "verdi_tekst", "status", "arsak", "teller", "nevner",
                                     "enhet")}
        base["region"] = profile["region"]["kode"]
        if item["utvikling"]:
            base["endring"] = item["utvikling"]["endring"]
            base["endring_fra_ar"] = item["utvikling"]["fra_ar"]
        comps = item["sammenligning"] or [None]
        for c in comps:
            row = dict(base)
            if c is not None:
                row.update(sammenligning=c["etikett"], sammenligning_verdi=c["verdi"],
                           sammenligning_tekst=c["verdi_tekst"], rang=c["rang"],
                           rang_tekst=c["rang_tekst"])
            rows.append(row)
    return rows


def parse_from_year(fra: str | None) -> int | None:
    if fra in (None, ""):
        return None
    try:
        return int(fra)
    except ValueError:
        raise InvalidParameter(f"ugyldig fra-år {fra!r}: forventet et årstall, f.eks. 2022"
                               ) from None


@router.get("/profil/{code}", summary="Profil for en kommune eller et fylke")
async def profile(code: str, request: Request, format: str = "json",
                  fra: str | None = Query(None, description="basisår for endringer")
                  ) -> Response:
    """With the comparison group's parameters (``g_antall``, ``g_vekt_…``,
    ``g_samme_kostra``, ``g_samme_fylke`` or ``g_kommuner``, as on
    ``/api/sammenligningsgruppe/{code}``), each indicator also gets the group's median and
    rank (``median_gruppe``) and the payload the group's members."""
    fmt = _check_format(format)
    from_year = parse_from_year(fra)
    group_params = tuple(sorted((k, v) for k, v in request.query_params.items()
                                if k.startswith("g_")))
    key = ("profil", code, fmt, str(from_year), group_params)
    cache = _responses()
    body = cache.get(key)
    if body is None:
        cube = get_cube()
        group = group_from_params(cube, code, dict(group_params))
        payload = profile_payload(cube, code, from_year, group)
        if fmt == "csv":
            payload["rader"] = _profile_csv_rows(payload)
            body = _respond(fmt, payload, "rader", PROFILE_COLUMNS).body
        else:
            body = _json(payload)
        cache[key] = body
    return Response(body, media_type="text/csv; charset=utf-8" if fmt == "csv"
                    else "application/json")


def _warm_cube() -> None:
    """Build the cube when the server starts, so the first request is not slow."""
    try:
        get_cube()
    except UserError:
        pass  # no database yet: requests answer with a clear 503 until there is one


router.add_event_handler("startup", _warm_cube)


@router.get("/sammenligningsgruppe/{code}",
            summary="Sammenligningsgruppe: de mest like kommunene, eller valgte kommuner")
def comparison_group(code: str, request: Request,
                     indikator: str | None = Query(None, description="indikator-id")
                     ) -> Response:
    """Parameters: ``g_vekt_sentralitet``, ``g_vekt_folketall``, ``g_vekt_innvandrerandel``
    (0–3), ``g_antall`` (3–50), ``g_samme_kostra``/``g_samme_fylke`` (1), or
    ``g_kommuner=4602,4640``. With ``indikator``: the group median and rank."""
    definition = parse_definition(request.query_params)
    cube = get_cube()
    group = build_group(cube, code, definition)
    payload = group_payload(cube, group)
    if indikator is not None:
        ind = cube.catalogue.get(indikator)
        comp = group_comparison(cube, group, ind, cube.year_of(ind, None))
        payload["sammenligning"] = None if comp is None else {
            k: v for k, v in asdict(comp).items() if k != "cell"}
    return Response(_json(payload), media_type="application/json")
