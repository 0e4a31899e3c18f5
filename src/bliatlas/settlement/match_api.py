"""HTTP for matching runs: ``POST /api/bosetting/match`` and the downloads.

The service is :mod:`~.runs` (building, solving and evaluating a run) and the store
:mod:`~.run_store` (memory only, short-lived). What this module adds is the HTTP side:

* the request body is read with a hard limit and parsed **in memory** — the multipart
  parser never spools the file to disk, the cohort reader takes the bytes, and no path
  appears in any message (the uploaded file's name is reduced to a safe base name);
* every response that carries cohort data (results, CSVs, error messages that may quote a
  cell) is sent with ``Cache-Control: no-store``;
* :func:`run_heavy` is the single place where a run's work is started off the event loop
  (new runs and re-solves, from the API and the planner pages); the run itself waits its
  turn in the matching queue (:mod:`bliatlas.jobs`: 429 with ``Retry-After`` when full,
  413 when its memory estimate is above the ceiling);
* downloads go through :mod:`bliatlas.export` (``?stil=maskin`` or ``excel``, text cells
  neutralised against formulas).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from bliatlas.errors import UserError
from bliatlas.settlement import run_store, runs
from bliatlas.settlement.capacity import CAPACITY_MODES
from bliatlas.settlement.cohort import Cohort, read_cohort
from bliatlas.settlement.runs import (
    MAX_PERSONS,
    SUPPORT_MODES,
    MatchRun,
    Settings,
    TooLargeError,
    UnprocessableError,
)

router = APIRouter(prefix="/api/bosetting", tags=["bosetting"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 256 * 1024  # the file plus the other fields and framing
MAX_NAME = 100
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM_FIELDS = ("kilde", "personer", "fro", "fylke", "kapasitet", "margin", "oppfolging",
               "minsteandel", "gulv", "spredning", "likhetsvekt", "vekt_arbeid",
               "vekt_bofast", "onskevekt")
T = TypeVar("T")

__all__ = ["MAX_PERSONS", "TooLargeError", "UnprocessableError", "router"]


async def run_heavy(work: Callable[[], T]) -> T:
    """Run ``work`` (a matching run or re-solve) off the event loop. The one call site for
    heavy settlement work; the queue is entered inside (:func:`~.runs.start_run`)."""
    return await run_in_threadpool(work)


def safe_name(filename: str | None, default: str = "kohort.csv") -> str:
    """The uploaded file's base name, fit to show in a message: no directories, no control
    or unusual characters, at most :data:`MAX_NAME` characters (extension kept)."""
    name = (filename or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[^\w.\- ]+", "_", name, flags=re.UNICODE).strip(" .")
    if not name or set(name) <= {".", "_", " "}:
        return default
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot else ""
        name = (stem if dot else name)[:MAX_NAME - len(ext) - 1] + ("." + ext if ext else "")
    return name


def cohort_from_upload(filename: str | None, data: bytes) -> Cohort:
    """Read an uploaded cohort (CSV or xlsx) from memory; errors name the uploaded file's
    (safe) name, row and column."""
    name = safe_name(filename)
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLargeError(
            f"{name}: filen er større enn {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
            f"del kohorten i flere filer (høyst {MAX_PERSONS} personer)")
    cohort = read_cohort(name, data)
    if len(cohort) > runs.MAX_PERSONS:
        raise TooLargeError(
            f"{name}: {len(cohort)} personer; høyst {runs.MAX_PERSONS} personer per kjøring")
    return cohort


def profile_from_upload(filename: str | None, data: bytes, codes: list[str]):
    from bliatlas.settlement.profiles import read_profile

    name = safe_name(filename, "kommuneprofil.csv")
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLargeError(f"{name}: filen er større enn "
                            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    return read_profile(name, codes, data)


def _parser_class():
    from starlette.formparsers import MultiPartParser

    class InMemoryParser(MultiPartParser):
        """Keeps every uploaded part in memory (the body is already bounded)."""

        spool_max_size = MAX_BODY_BYTES + 1

    return InMemoryParser


async def read_form(request: Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """The posted form's text fields and uploaded files (field → (file name, bytes)),
    reading at most :data:`MAX_BODY_BYTES` of the request body (never more, whatever the
    client sends) and keeping all of it in memory."""
    from starlette.datastructures import UploadFile as StarletteUpload
    from starlette.formparsers import FormParser, MultiPartException

    declared = request.headers.get("content-length", "")
    limit_text = (f"forespørselen er større enn {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                  f"del kohorten i flere filer (høyst {MAX_PERSONS} personer)")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLargeError(limit_text)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLargeError(limit_text)

    async def replay():
        yield bytes(body)

    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            form = await _parser_class()(request.headers, replay(), max_files=2,
                                         max_fields=len(FORM_FIELDS) + 5,
                                         max_part_size=MAX_BODY_BYTES).parse()
        elif ctype.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(request.headers, replay()).parse()
        else:
            raise UserError("forventet et skjema (multipart/form-data) med kohortfilen")
    except MultiPartException as exc:
        raise UserError(f"ugyldig skjema ({exc.message})") from None
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    files: dict[str, tuple[str, bytes]] = {}
    for key in ("kohort", "profil"):
        item = form.get(key)
        if isinstance(item, StarletteUpload) and item.filename:
            files[key] = (item.filename, await item.read())
    await form.close()
    return fields, files


def _number(fields: dict[str, str], name: str, label: str, default: float, lo: float,
            hi: float, scale: float = 1.0) -> float:
    text = fields.get(name, "").strip().replace(" ", "").replace(",", ".")
    if not text:
        return default
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"{label} ({name}): forventet et tall, fikk {text[:30]!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise UserError(f"{label} ({name}): forventet et tall fra {lo:g} til {hi:g}, "
                        f"fikk {text[:30]!r}")
    return v * scale


def settings_from_form(fields: dict[str, str], percent: bool = False) -> Settings:
    """:class:`~.runs.Settings` from form fields. ``percent``: shares are written in % (the
    planner page), else as fractions (the API)."""
    k = 100.0 if percent else 1.0
    weights = {"arbeid": _number(fields, "vekt_arbeid", "Vekt for arbeid eller utdanning", 1.0,
                                 0, 100),
               "bofast": _number(fields, "vekt_bofast", "Vekt for å bli boende i fylket", 0.0,
                                 0, 100)}
    seed_text = fields.get("fro", "").strip() or "1"
    if not re.fullmatch(r"\d{1,9}", seed_text):
        raise UserError(f"Frø (fro): forventet et heltall, fikk {seed_text[:20]!r}")
    settings = Settings(
        county=(fields.get("fylke") or "").strip() or None,
        capacity_mode=(fields.get("kapasitet") or "andel").strip(),
        margin=_number(fields, "margin", "Margin", 0.15 * k, 0, 5 * k) / k,
        support_mode=(fields.get("oppfolging") or "alle").strip(),
        seed=int(seed_text),
        min_fill=_number(fields, "minsteandel", "Minsteandel av anmodningen", 0.0, 0, k) / k,
        floor_share=_number(fields, "gulv", "Gulv (andel av kapasiteten)", 0.0, 0, k) / k,
        spread_weight=_number(fields, "spredning", "Spredningsvekt", 0.0, 0, 10),
        equity_weight=_number(fields, "likhetsvekt", "Vekt for likhet mellom grupper", 0.0, 0,
                              10),
        weights=weights,
        preference_weight=_number(fields, "onskevekt", "Vekt for ønsker", 1.0, 0, 10),
    )
    if settings.county is not None and not re.fullmatch(r"\d{1,2}", settings.county):
        raise UserError(f"Kommuner (fylke): forventet et fylkesnummer, fikk "
                        f"{settings.county[:10]!r}")
    settings.check()
    return settings


def private_json(content: Any, status: int = 200, headers: dict[str, str] | None = None
                 ) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers={**NO_STORE, **(headers or {})})


def _finite(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def summary(run: MatchRun) -> dict[str, Any]:
    """The run as JSON (the API's answer)."""
    assert run.result is not None
    from bliatlas.settlement.runs import municipality_totals

    def ev(e) -> list[dict[str, Any]]:
        return [{"regel": r.rule, "personer": r.persons,
                 "uplasserte_husholdninger": r.unplaced_households,
                 "predikert_andel": r.predicted_rate,
                 "predikert_gevinst": r.predicted_gain,
                 "predikert_gevinst_ki95": r.predicted_gain_ci,
                 "realisert_andel_syntetisk": r.realised_rate,
                 "realisert_gevinst_syntetisk": r.realised_gain,
                 "realisert_gevinst_ki95": r.realised_gain_ci} for r in e.rules]

    return {
        "id": run.id,
        "syntetisk": run.synthetic,
        "modell": run.model_label,
        "personer": len(run.cohort),
        "husholdninger": run.cohort.n_households,
        "omfang": f"fylke {run.settings.county}" if run.settings.county else "hele landet",
        "kapasitet": CAPACITY_MODES.get(run.settings.capacity_mode,
                                        run.settings.capacity_mode),
        "forventet_skaar": run.result.expected_outcome,
        "ovre_grense": _finite(run.result.bound),
        "gap": _finite(run.result.gap),
        "evaluering": {o: ev(e) for o, e in run.evaluations.items()},
        "tilbaketest": (run.backtest or {}).get("summary"),
        "konflikter": [{"husholdning": c.household_id, "kommune": c.code,
                        "grunner": c.reasons, "loesning": c.resolution, "valg": c.choices}
                       for c in run.conflicts],
        "fordeling": run.concentration.text if run.concentration else None,
        "onsker": run.preferences.text() if run.preferences else None,
        "rettferdighet": [{"dimensjon": g.dimension, "gruppe": g.group, "personer": g.persons,
                           "prikket": g.suppressed, "utfall": g.outcome}
                          for g in run.fairness],
        "kommuner": [t for t in municipality_totals(run) if t["persons"] or t["capacity"]],
    }


CAPACITY_COLUMNS = ("kommunenummer", "kommune", "vedtak", "kapasitet", "gulv", "personer",
                    "husholdninger", "andel_av_kapasiteten", "andel_av_vedtaket", "status",
                    "syntetisk")


def capacity_rows(run: MatchRun) -> list[list[Any]]:
    """The capacity-use view as rows (:data:`CAPACITY_COLUMNS`)."""
    return [[u.code, u.name, u.decision, u.capacity, u.floor, u.persons, u.households,
             None if u.share_of_capacity is None else round(u.share_of_capacity, 3),
             None if u.share_of_decision is None else round(u.share_of_decision, 3),
             u.status, int(run.synthetic)] for u in run.use]


def download(run: MatchRun, columns: Sequence[str], rows: list[list[Any]], what: str,
             stil: str | None = None) -> Response:
    """A run's table as CSV in the style ``stil`` (:mod:`bliatlas.export`: ``maskin`` or
    ``excel``, text cells neutralised), never cached."""
    from bliatlas import export

    csv_style = export.style(stil)
    name = f"bli-atlas-{what}{'-syntetisk' if run.synthetic else ''}-{run.id}.csv"
    return export.csv_download(columns, rows, name, csv_style, **NO_STORE)


@router.post(
    "/match",
    summary="Match en kohort (CSV eller xlsx) til kommunene innenfor kapasiteten",
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["kohort"], "properties": {
            "kohort": {"type": "string", "format": "binary",
                       "description": "kohort (CSV eller xlsx; kolonner: se kohortmalen)"},
            "profil": {"type": "string", "format": "binary",
                       "description": "kommuneprofil (valgfri; se docs/settlement.md)"},
            "fylke": {"type": "string", "description": "fylkesnummer; tomt = hele landet"},
            "kapasitet": {"type": "string", "enum": list(CAPACITY_MODES)},
            "margin": {"type": "number", "description": "margin ved andel (0–5)"},
            "oppfolging": {"type": "string", "enum": list(SUPPORT_MODES)},
            "minsteandel": {"type": "number", "description": "andel av anmodningen (0–1)"},
            "gulv": {"type": "number", "description": "andel av kapasiteten (0–1)"},
            "spredning": {"type": "number", "description": "spredningsvekt (0–10)"},
            "likhetsvekt": {"type": "number", "description": "vekt for likhet (0–10)"},
            "vekt_arbeid": {"type": "number"}, "vekt_bofast": {"type": "number"},
            "onskevekt": {"type": "number"},
        }}}}}},
)
async def match(request: Request) -> Response:
    fields, files = await read_form(request)
    if "kohort" not in files:
        raise UserError("kohort: mangler kohortfilen (multipart-feltet kohort)")
    settings = settings_from_form(fields)

    def work() -> dict[str, Any]:
        cohort = cohort_from_upload(*files["kohort"])
        profile = None
        if "profil" in files:
            munis = runs.municipalities()
            if settings.county:
                munis = munis.in_county(settings.county.zfill(2))
            profile = profile_from_upload(*files["profil"], [str(c) for c in munis.codes])
        return summary(run_store.keep(runs.start_run(cohort, settings, profile)))

    return private_json(await run_heavy(work))


@router.get("/match/{run_id}.csv", summary="Tildelingen per person som CSV")
def match_csv(run_id: str, stil: str = "maskin") -> Response:
    from bliatlas.settlement.runs import ASSIGNMENT_COLUMNS, assignment_rows

    run = run_store.get_run(run_id)
    return download(run, ASSIGNMENT_COLUMNS, assignment_rows(run), "tildeling", stil)


@router.get("/match/{run_id}/kapasitet.csv", summary="Kapasitetsbruk per kommune som CSV")
def match_capacity_csv(run_id: str, stil: str = "maskin") -> Response:
    run = run_store.get_run(run_id)
    return download(run, CAPACITY_COLUMNS, capacity_rows(run), "kapasitetsbruk", stil)
