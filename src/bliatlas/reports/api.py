"""Reports over HTTP: ``GET /api/rapport/kommune/{code}.html|.pdf`` and
``GET /api/rapport/fylke/{code}.html|.pdf`` (download buttons in the web atlas); ``?kort=1``
gives the short report (2–4 pages).

Rendered from the web atlas's shared context, so a report shows the same cube values as
the atlas pages and ``/api/profil/{code}``. Rendered documents are cached per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fastapi import APIRouter, Query, Request, Response

from bliatlas import jobs
from bliatlas import serving as deps
from bliatlas.errors import InputError, NotFound
from bliatlas.reports.cli import default_filename

router = APIRouter(prefix="/api/rapport", tags=["rapport"])

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
CACHE_SIZE = 32
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_lock = threading.Lock()
_cache: OrderedDict[tuple, bytes] = OrderedDict()
KORT = Query(None, description="1: kort rapport (2–4 sider); 0 eller utelatt: hele rapporten")


def _parse(filename: str) -> tuple[str, str]:
    code, dot, fmt = filename.rpartition(".")
    if not dot or fmt not in MEDIA_TYPES:
        raise InputError("filnavn", f"forventet KODE.html eller KODE.pdf, fikk {filename!r}")
    return code, fmt


def _short(kort: str | None) -> bool:
    if kort in (None, "", "0"):
        return False
    if kort == "1":
        return True
    raise InputError("kort", f"forventet 1 (kort rapport) eller 0, fikk {kort!r}")


def report_response(kind: str, filename: str, kort: str | None = None,
                    group: dict[str, str] | None = None) -> Response:
    """``group``: the comparison group's ``g_…`` parameters (as on the municipality page)."""
    from bliatlas.reports.context import shared_report_context
    from bliatlas.reports.render import render

    code, fmt = _parse(filename)
    short = _short(kort)
    ctx = shared_report_context()
    region = ctx.cube.region(code)
    if region["level"] != kind:
        other = region["level"]
        article = "et" if other == "fylke" else "en"
        raise NotFound(f"{code} er {article} {other}; bruk /api/rapport/{other}/{code}.{fmt}")
    group = group or None
    key = ((deps.current().token, kind, code, fmt, short)  # one database state
           + ((tuple(sorted(group.items())),) if group else ()))
    with _lock:
        body = _cache.get(key)
    if body is None:
        if fmt == "pdf":  # heavy: bounded, and one render for identical concurrent requests
            body = jobs.renders().run(
                lambda: render(ctx, kind, code, fmt, short=short, group=group),
                key=key, memory=jobs.RENDER_BYTES)
        else:
            body = render(ctx, kind, code, fmt, short=short, group=group)
        with _lock:
            _cache[key] = body
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    name = default_filename(code, region["short_name"], fmt, short=short)
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{name}"'}
    if fmt == "html":  # the report carries its own stylesheet inline and no script
        headers["Content-Security-Policy"] = REPORT_CSP
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _group_params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k.startswith("g_")}


@router.get("/kommune/{filename}", summary="Kunnskapsgrunnlag for en kommune (HTML eller PDF)")
def municipality_report(filename: str, request: Request, kort: str | None = KORT) -> Response:
    """With the municipality page's ``g_…`` parameters (``g_antall=8&g_samme_fylke=1``,
    ``g_kommuner=4602,4640``): the comparison group's definition, members and median."""
    return report_response("kommune", filename, kort, _group_params(request))


@router.get("/fylke/{filename}", summary="Kunnskapsgrunnlag for et fylke (HTML eller PDF)")
def county_report(filename: str, request: Request, kort: str | None = KORT) -> Response:
    return report_response("fylke", filename, kort, _group_params(request))
