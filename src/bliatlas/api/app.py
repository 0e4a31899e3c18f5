"""The FastAPI application: JSON/CSV API under /api, web pages at /.

The top of the import graph: it imports every router (``ROUTERS``) and hands the web
layer's error page to the shared error handlers (:mod:`bliatlas.serving`, where the store
dependency and the source note live too). The store is opened read-only once per process
from ``$BLI_DATABASE`` (or the default).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from bliatlas import serving, settings
from bliatlas.api import auth, middleware, status
from bliatlas.errors import BliError
from bliatlas.indicators import api as indicators_api
from bliatlas.knowledge import api as knowledge_api
from bliatlas.render.context import warm
from bliatlas.reports import api as reports_api
from bliatlas.serving import SOURCE_NOTE, validation_message  # noqa: F401 (re-exported)
from bliatlas.settlement import api as settlement_api
from bliatlas.settlement import match_api
from bliatlas.web import STATIC_DIR, freshness, pages, planner
from bliatlas.web.templating import error_page, templates

# One router per module, in the order their paths are matched.
ROUTERS = [knowledge_api.router, settlement_api.router, match_api.router,
           indicators_api.router, pages.router, planner.router,
           freshness.router, reports_api.router,
           auth.router, status.router]


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """With ``BLI_WARMUP=1`` (set by ``bli serve``), build the store, indicator cube, map
    geometry and knowledge index before the first request instead of during it; the same
    warm-up runs for each new database state an import switches to (``deps``)."""
    serving.add_warmer(warm)
    if settings.get().warmup:
        try:
            warm()
        except BliError as exc:  # no database yet: pages answer with the error instead
            logging.getLogger("bliatlas").warning("oppvarming hoppet over: %s", exc)
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="Bli-atlas API",
        description="Integreringsstatistikk, kunnskap og bosetting for norske kommuner og fylker.",
        version="0.1.0",
        lifespan=_lifespan,
        docs_url=None,  # Swagger UI loads from a CDN and runs inline script: see /docs below
        redoc_url=None,
    )

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        """The API's operations from the OpenAPI schema as a plain page (no script, no CDN)."""
        operations = [
            {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
             "tag": (op.get("tags") or ["annet"])[0],
             "params": [(p["name"], p.get("in", ""), p.get("required", False),
                         (p.get("schema") or {}).get("description") or p.get("description", ""))
                        for p in op.get("parameters", [])],
             "codes": sorted(op.get("responses", {}))}
            for path, item in app.openapi()["paths"].items() for method, op in item.items()]
        return templates.TemplateResponse(request, "api_docs.html",
                                          {"title": "API", "operations": operations})

    serving.install_error_handlers(app, page=error_page)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # outermost last: headers on everything, then hosts, one database state per request,
    # the page cache, access to personal-data surfaces, and CSRF next to the routes
    app.add_middleware(middleware.Csrf)
    app.add_middleware(middleware.Access)
    app.add_middleware(middleware.PageCache)
    app.add_middleware(middleware.PinGeneration)
    app.add_middleware(middleware.TrustedHosts)
    app.add_middleware(middleware.SecurityHeaders)
    _document_responses(app)
    return app


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "description": "feilmelding på norsk"},
                   "source": {"type": "string"}},
}
ERROR_RESPONSES = {
    "400": "Ugyldig forespørsel (feltet og hva som var forventet står i meldingen)",
    "401": "Innlogging eller API-nøkkel kreves (bare med BLI_PUBLIC for matching)",
    "403": "Avvist: forespørsel fra et annet nettsted eller uten CSRF-nøkkel",
    "404": "Fant ikke regionen, indikatoren, året, oppføringen eller kjøringen",
    "413": "For stor forespørsel eller jobb",
    "422": "Gyldig form, men verdiene kan ikke brukes (feltet står i meldingen)",
    "429": "Køen for tungt arbeid er full; prøv igjen etter Retry-After sekunder",
    "503": "Databasen finnes ikke ennå eller kan ikke åpnes",
}
BODY_SCHEMAS = {
    "application/json": {"type": "object"},
    "text/csv": {"type": "string"},
    "text/html": {"type": "string"},
    "application/pdf": {"type": "string", "format": "binary"},
}


def _document_responses(app: FastAPI) -> None:
    """Every operation in the OpenAPI schema documents its error answers (400, 404, 422,
    429, 503 … with the ``{"error": …}`` body) and a schema for each success body."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        schema.setdefault("components", {}).setdefault("schemas", {})["Feil"] = ERROR_SCHEMA
        for path, path_item in schema.get("paths", {}).items():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                ok = responses.setdefault("200", {"description": "OK"})
                names = {p.get("name") for p in operation.get("parameters", [])}
                if path.endswith(".csv"):
                    ok["content"] = {"text/csv": {}}
                elif path.startswith("/api/rapport/"):
                    ok["content"] = {"text/html": {}, "application/pdf": {}}
                elif "format" in names:  # ?format=csv
                    ok.setdefault("content", {"application/json": {}})["text/csv"] = {}
                for code, text in ERROR_RESPONSES.items():
                    responses[code] = {"description": text, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Feil"}}}}
                for code, response in responses.items():
                    if not code.startswith("2"):
                        continue
                    content = response.setdefault("content", {"application/json": {}})
                    for media, body in content.items():
                        if not body.get("schema"):
                            body["schema"] = BODY_SCHEMAS.get(media, {"type": "string"})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

