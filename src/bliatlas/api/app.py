"""The FastAPI application: JSON/CSV API under /api, web pages at /.

Routers are added per layer in ``ROUTER_MODULES``; each module exposes ``router``.
The store is opened read-only once per process from ``$BLI_DATABASE`` (or the default).
"""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from bliatlas import settings
from bliatlas.api import deps, middleware
from bliatlas.errors import UserError

ROUTER_MODULES: list[str] = [
    "bliatlas.knowledge.api",
    "bliatlas.settlement.api",
    "bliatlas.settlement.match_api",
    "bliatlas.indicators.api",
    "bliatlas.web.pages",
    "bliatlas.web.planner",
    "bliatlas.reports.api",
    "bliatlas.api.auth",
    "bliatlas.api.status",
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


HTTP_MESSAGES = {
    400: "Ugyldig forespørsel",
    401: "Innlogging kreves",
    403: "Ingen tilgang",
    404: "Fant ikke adressen {path}",
    405: "Metoden {method} er ikke tillatt for {path}",
    406: "Kan ikke svare i formatet som ble bedt om",
    413: "Forespørselen er for stor",
    415: "Ukjent innholdstype",
    429: "For mange forespørsler; prøv igjen senere",
}


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """With ``BLI_WARMUP=1`` (set by ``bli serve``), build the store, indicator cube, map
    geometry and knowledge index before the first request instead of during it; the same
    warm-up runs for each new database state an import switches to (``deps``)."""
    from bliatlas.web.context import warm

    deps.add_warmer(warm)
    if settings.get().warmup:
        try:
            warm()
        except UserError as exc:  # no database yet: pages answer with the error instead
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
        from bliatlas.web.pages import templates

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

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)  # a full job queue (bliatlas.jobs.Busy)
        return JSONResponse(
            status_code=exc.http_status,
            content={"error": str(exc), "source": SOURCE_NOTE},
            headers={"Retry-After": str(retry)} if retry else None,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        template = HTTP_MESSAGES.get(exc.status_code)
        if template is None:
            message = str(exc.detail)
        else:
            message = template.format(path=request.url.path, method=request.method)
        return _error(request, exc.status_code, message, getattr(exc, "headers", None))

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    from bliatlas.web import STATIC_DIR  # web atlas assets (CSS/JS), served locally
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


def _error(request: Request, status: int, message: str,
           headers: dict[str, str] | None = None) -> Response:
    """JSON for the API and scripts, the Norwegian error page for a browser on a page."""
    if not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
            "accept", ""):
        from bliatlas.web.pages import templates

        return templates.TemplateResponse(request, "error.html",
                                          {"message": message, "title": "Feil"},
                                          status_code=status, headers=headers)
    return JSONResponse(status_code=status, content={"error": message, "source": SOURCE_NOTE},
                        headers=headers)
