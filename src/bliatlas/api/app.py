"""The FastAPI application: JSON/CSV API under /api, web pages at /.

Routers are added per layer in ``ROUTER_MODULES``; each module exposes ``router``.
The store is opened read-only once per process from ``$BLI_DATABASE`` (or the default).
"""

from __future__ import annotations

import importlib
import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from bliatlas.errors import UserError

ROUTER_MODULES: list[str] = [
    "bliatlas.knowledge.api",
    "bliatlas.settlement.api",
    "bliatlas.settlement.match_api",
    "bliatlas.indicators.api",
    "bliatlas.web.pages",
    "bliatlas.web.planner",
    "bliatlas.reports.api",
]

SOURCE_NOTE = (
    "Kilde: IMDi, SSB, KOSTRA og Helsedirektoratet via Bli-atlas. Lisens: NLOD 2.0 "
    "(Norsk lisens for offentlige data); kartgrunnlag Kartverket, CC BY 4.0."
)


_EXPECTED = {
    "missing": "mangler",
    "int_parsing": "forventet et heltall",
    "int_type": "forventet et heltall",
    "float_parsing": "forventet et tall",
    "float_type": "forventet et tall",
    "bool_parsing": "forventet ja/nei (true/false)",
    "string_too_long": "teksten er for lang",
    "string_too_short": "teksten er for kort",
    "greater_than_equal": "verdien er for liten",
    "less_than_equal": "verdien er for stor",
    "json_invalid": "ugyldig JSON",
}
_PLACE = {"query": "parameter", "path": "del av adressen", "body": "felt", "header": "header"}


def validation_message(errors: list[dict]) -> str:
    """FastAPI's validation errors as one Norwegian sentence per field."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ())]
        place = _PLACE.get(loc[0], "felt") if loc else "felt"
        field = ".".join(loc[1:]) or (loc[0] if loc else "?")
        expected = _EXPECTED.get(err.get("type", ""))
        if expected is None:
            ctx = err.get("ctx") or {}
            expected = (f"forventet en av {ctx['expected']}" if "expected" in ctx
                        else f"ugyldig verdi ({err.get('msg', '')})")
        given = err.get("input")
        shown = f", fikk {given!r}" if given is not None and err.get("type") != "missing" else ""
        parts.append(f"{place} {field!r}: {expected}{shown}")
    return "Ugyldig forespørsel: " + "; ".join(parts)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """With ``BLI_WARMUP=1`` (set by ``bli serve``), build the store, indicator cube, map
    geometry and knowledge index before the first request instead of during it."""
    if os.environ.get("BLI_WARMUP") == "1":
        try:
            from bliatlas.web.context import get_context

            get_context().knowledge()
        except UserError as exc:  # no database yet: pages answer with the error instead
            logging.getLogger("bliatlas").warning("oppvarming hoppet over: %s", exc)
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="Bli-atlas API",
        description="Integreringsstatistikk, kunnskap og bosetting for norske kommuner og fylker.",
        version="0.1.0",
        lifespan=_lifespan,
    )

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status,
            content={"error": str(exc), "source": SOURCE_NOTE},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"error": validation_message(exc.errors()), "source": SOURCE_NOTE},
        )

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    from bliatlas.web import STATIC_DIR  # web atlas assets (CSS/JS), served locally
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    return app
