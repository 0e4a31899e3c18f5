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
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from bliatlas.errors import UserError

ROUTER_MODULES: list[str] = [
    "bliatlas.knowledge.api",
    "bliatlas.settlement.api",
    "bliatlas.indicators.api",
    "bliatlas.web.pages",
    "bliatlas.reports.api",
]

SOURCE_NOTE = (
    "Kilde: IMDi, SSB, KOSTRA og Helsedirektoratet via Bli-atlas. Lisens: NLOD 2.0 "
    "(Norsk lisens for offentlige data); kartgrunnlag Kartverket, CC BY 4.0."
)


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

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    from bliatlas.web import STATIC_DIR  # web atlas assets (CSS/JS), served locally
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    return app
