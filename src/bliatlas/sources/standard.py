"""`bli sync standard`: the standard set of tables behind a kunnskapsgrunnlag.

One command fetches what a municipality's or county's knowledge base needs beyond the
files in ``../shared/data``: IMDi's tables (settlement, reasons for immigration, years
of residence, secondary migration, unaccompanied minors, the introduction programme and
what participants do a year after, employment by years of residence and world region,
education level, persistent low income, kindergarten attendance) and SSB's employment of
immigrants (11607), immigrants and Norwegian-born to immigrant parents (09817),
population (07459), completion of upper-secondary education (13628) and the introduction
scheme's costs in KOSTRA (12268) — the introduction-programme and education tables IMDi's
pages do not cover.

* **Resumable**: after every table the state file (``--state``, default
  ``var/cache/sync-standard.json``) records it as done; a run that stopped (no network,
  Ctrl-C, a table that failed) continues with the tables not yet done. ``--restart``
  starts over; a completed run starts over the next time. Answers are cached, so a table
  fetched again within ``--max-age`` costs no request.
* **Progress** on standard error (a bar on a terminal, one line per table otherwise).
* **What changed since the last sync**, per table: new years, new values and revised
  values (values that differ from the stored ones; the old ones are kept in
  ``observation_history``), with a few revised cells named.

Each table is loaded in its own transaction; a table that fails leaves nothing behind.
With no network the run stops at once with the service named (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bliatlas.errors import UserError
from bliatlas.format import fmt_int, fmt_num, table
from bliatlas.sources.http import Offline
from bliatlas.sources.imdi import TABLES

DEFAULT_STATE = Path("var/cache/sync-standard.json")
HINT = "hentes med `bli sync standard`"


@dataclass(frozen=True)
class Job:
    key: str
    publisher: str          # "IMDi" | "SSB"
    title: str
    dataset: str
    imdi_table: str | None = None
    level: str = "kommune"
    ssb_table: str | None = None
    regions: tuple[str, ...] = ()
    select: tuple[str, ...] = ()


def _imdi(name: str, level: str = "kommune") -> Job:
    t = TABLES[name]
    return Job(f"imdi:{name}:{level}", "IMDi", f"{t.title} ({level})", t.dataset,
               imdi_table=name, level=level)


def _ssb(table_id: str, title: str, regions: tuple[str, ...] = (
        "alle-kommuner", "alle-fylker", "landet"), select: tuple[str, ...] = ()) -> Job:
    return Job(f"ssb:{table_id}", "SSB", f"{title} (tabell {table_id})", f"ssb_{table_id}",
               ssb_table=table_id, regions=regions, select=select)


STANDARD_JOBS: list[Job] = [
    *(_imdi(name) for name in TABLES),
    _imdi("intro_deltakere", "fylke"),
    _imdi("intro_status_arbutd_avslutta", "fylke"),
    _ssb("11607", "Sysselsatte innvandrere etter landbakgrunn"),
    _ssb("09817", "Innvandrere og norskfødte med innvandrerforeldre"),
    _ssb("07459", "Befolkning"),
    _ssb("13628", "Gjennomføring i videregående opplæring etter innvandringskategori"),
    _ssb("12268", "Introduksjonsordningen, driftsutgifter (KOSTRA)"),
]


def standard_datasets() -> set[str]:
    """The datasets `bli sync standard` brings in (for "hentes med …" in profiles)."""
    return {job.dataset for job in STANDARD_JOBS}


def fetch_hint(datasets: set[str]) -> str | None:
    """How to get an indicator's data when the store has none of it, or None."""
    return HINT if datasets and datasets <= standard_datasets() else None


# -- state -----------------------------------------------------------------------------


@dataclass
class State:
    path: Path
    database: str
    started: str
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    complete: bool = False

    @classmethod
    def load(cls, path: Path, database: str, restart: bool) -> State:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if not restart and path.exists():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = None
            if (isinstance(doc, dict) and doc.get("database") == database
                    and not doc.get("complete")):
                return cls(path, database, str(doc.get("started", now)),
                           dict(doc.get("done") or {}), dict(doc.get("failed") or {}))
        return cls(path, database, now)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({
            "database": self.database, "started": self.started, "done": self.done,
            "failed": self.failed, "complete": self.complete,
        }, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(self.path)


# -- progress ----------------------------------------------------------------------------


class Progress:
    """A progress bar on a terminal, one line per step otherwise (both on stderr)."""

    def __init__(self, total: int, out: TextIO | None = None, width: int = 24) -> None:
        self.total = total
        self.out = out or sys.stderr
        self.width = width
        self.tty = hasattr(out, "isatty") and out.isatty()

    def step(self, i: int, text: str) -> None:
        done = int(self.width * i / max(1, self.total))
        bar = "#" * done + "." * (self.width - done)
        if self.tty:
            self.out.write(f"\r[{bar}] {i}/{self.total} {text[:60]:<60}")
        else:
            self.out.write(f"[{bar}] {i}/{self.total} {text}\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


# -- running -----------------------------------------------------------------------------


@dataclass
class Change:
    job: Job
    status: str                     # "hentet" | "uendret" | "feilet" | "hoppet over"
    new_years: list[int] = field(default_factory=list)
    n_new: int = 0
    n_changed: int = 0
    examples: list[str] = field(default_factory=list)
    message: str = ""


def _years(database: str | None, dataset: str) -> set[int]:
    from bliatlas.store import database_path, open_store

    if not database_path(database).exists():
        return set()
    store = open_store(database, read_only=True)
    try:
        return {int(r["year"]) for r in store.query(
            "SELECT DISTINCT year FROM observation_source WHERE dataset = ?", [dataset])}
    finally:
        store.close()


def _revised_examples(database: str | None, import_id: int | None, limit: int = 3) -> list[str]:
    from bliatlas.store import open_store

    if import_id is None:
        return []
    store = open_store(database, read_only=True)
    try:
        rows = store.query(
            "SELECT h.region_code, h.year, h.measure, h.dims, h.value AS old, o.value AS new "
            "FROM observation_history h JOIN observation o USING (dataset, measure, "
            "region_code, year, dims, unit) WHERE h.replaced_by_import = ? AND h.status = "
            "'ok' AND o.status = 'ok' ORDER BY h.year DESC, h.region_code LIMIT ?",
            [import_id, limit])
    finally:
        store.close()
    return [f"{r['region_code']} {r['year']}: {fmt_num(r['old'], 1)} → {fmt_num(r['new'], 1)}"
            for r in rows]


def run_job(job: Job, args: argparse.Namespace, current: dict[str, set[str]],
            clients: dict[str, Any]) -> Change:
    from bliatlas.sources.imdi_client import parse_fetched
    from bliatlas.sources.ssb_cli import SsbSpec, fetch_ssb, plan_ssb, store_parsed

    before = _years(args.database, job.dataset)
    if job.imdi_table:
        fetched = clients["imdi"].fetch(job.imdi_table, job.level)
        parsed = parse_fetched(fetched)
        digest = fetched.content_sha256
    else:
        spec = SsbSpec(table=job.ssb_table or "", regions=list(job.regions),
                       select=list(job.select),
                       sub_annual_hint=f"hent tabellen med `bli sync ssb {job.ssb_table} "
                                       "--region … --sub-annual keep`")
        plan = plan_ssb(clients["ssb"], spec, current)
        got = fetch_ssb(clients["ssb"], spec, plan)
        parsed, digest = got.parsed, got.content_sha256
    result = store_parsed(args.database, parsed, digest)
    if result.status == "uendret":
        return Change(job, "uendret")
    after = _years(args.database, job.dataset)
    return Change(job, "hentet", sorted(after - before), result.n_new, result.n_changed,
                  _revised_examples(args.database, result.import_id) if result.n_changed else [])


def add_command(ssub: argparse._SubParsersAction) -> None:
    from bliatlas.sources.ssb_cli import add_cache_arguments

    q = ssub.add_parser(
        "standard",
        help="hent standardsettet for et kunnskapsgrunnlag fra IMDi og SSB",
        description=(
            "Henter IMDis tabeller og SSBs tabeller 11607, 09817, 07459, 13628 og 12268 i én "
            "kjøring, med fremdriftsvisning. Kan avbrytes og kjøres igjen: tabeller som er "
            "ferdige hoppes over. Til slutt vises hva som er nytt siden forrige henting (nye "
            "år, reviderte verdier)."
        ),
    )
    add_cache_arguments(q, "ssb")
    q.add_argument("--imdi-cache-dir", metavar="MAPPE",
                   help="hurtigbuffer for IMDi-svar (standard: $BLI_IMDI_CACHE eller "
                   "var/cache/imdi)")
    q.add_argument("--state", type=Path, default=DEFAULT_STATE, metavar="FIL",
                   help=f"fil som husker hvor langt kjøringen kom (standard {DEFAULT_STATE})")
    q.add_argument("--restart", action="store_true",
                   help="begynn på nytt selv om en tidligere kjøring ikke ble ferdig")
    q.add_argument("--only", action="append", default=[], metavar="NØKKEL",
                   help="bare disse tabellene (f.eks. ssb:11607, imdi:utdanningsniva:kommune)")
    q.add_argument("--list", action="store_true", help="list tabellene i standardsettet")
    q.set_defaults(func=cmd_sync_standard)


def cmd_sync_standard(args: argparse.Namespace) -> int:
    from bliatlas.sources.imdi_client import ImdiClient
    from bliatlas.sources.ssb import SsbClient
    from bliatlas.sources.ssb_cli import check_max_age, current_regions
    from bliatlas.store import database_path

    if args.list:
        print(table(["nøkkel", "utgiver", "tabell", "datasett"],
                    [[j.key, j.publisher, j.title, j.dataset] for j in STANDARD_JOBS],
                    align="llll"))
        return 0
    jobs = STANDARD_JOBS
    if args.only:
        known = {j.key for j in STANDARD_JOBS}
        unknown = [k for k in args.only if k not in known]
        if unknown:
            raise UserError(f"ukjent tabell i --only: {', '.join(unknown)}; se "
                            "`bli sync standard --list`")
        jobs = [j for j in STANDARD_JOBS if j.key in args.only]
    max_age = check_max_age(args.max_age)
    database = str(database_path(args.database).resolve())
    state = State.load(args.state, database, args.restart)
    resumed = bool(state.done)
    current = current_regions(args.database)
    changes: list[Change] = []
    progress = Progress(len(jobs))
    started = time.perf_counter()
    with SsbClient(cache_dir=args.cache_dir, max_age=max_age) as ssb, \
            ImdiClient(cache_dir=args.imdi_cache_dir, max_age=max_age) as imdi:
        clients = {"ssb": ssb, "imdi": imdi}
        for i, job in enumerate(jobs, start=1):
            progress.step(i - 1, f"{job.publisher}: {job.title}")
            if job.key in state.done:
                changes.append(Change(job, "hoppet over", message="ferdig i forrige kjøring"))
                continue
            try:
                change = run_job(job, args, current, clients)
            except Offline as exc:
                progress.finish()
                state.failed[job.key] = str(exc)
                state.save()
                print(f"bli: feil: {exc}", file=sys.stderr)
                print(f"Stoppet ved {job.key}; {len(state.done)} av {len(jobs)} tabeller er "
                      "ferdige. Kjør `bli sync standard` igjen når nettet er tilbake, så "
                      "fortsetter den der den slapp.", file=sys.stderr)
                return 2
            except UserError as exc:
                change = Change(job, "feilet", message=str(exc))
                state.failed[job.key] = str(exc)
            else:
                state.failed.pop(job.key, None)
                state.done[job.key] = {"status": change.status, "nye_ar": change.new_years,
                                       "nye": change.n_new, "endrede": change.n_changed,
                                       "ferdig": datetime.now(UTC).isoformat(timespec="seconds")}
            changes.append(change)
            state.save()
        progress.step(len(jobs), "ferdig")
        progress.finish()
    failed = [c for c in changes if c.status == "feilet"]
    state.complete = not failed and len(state.done) >= len(jobs)
    state.save()
    print_summary(changes, resumed, time.perf_counter() - started)
    return 2 if failed else 0


def print_summary(changes: list[Change], resumed: bool, seconds: float) -> None:
    print("Standardsettet for kunnskapsgrunnlaget"
          + (" (fortsatt fra en avbrutt kjøring)" if resumed else "")
          + f": {len(changes)} tabeller på {fmt_num(seconds, 1)} s.")
    rows = []
    for c in changes:
        years = ", ".join(map(str, c.new_years)) if c.new_years else "–"
        rows.append([c.job.key, c.status, years, fmt_int(c.n_new), fmt_int(c.n_changed)])
    print(table(["tabell", "status", "nye år", "nye verdier", "reviderte verdier"], rows,
                align="lllrr"))
    for c in changes:
        if c.examples:
            print(f"Reviderte verdier i {c.job.key}, f.eks. " + "; ".join(c.examples))
    for c in changes:
        if c.status == "feilet":
            print(f"feilet: {c.job.key}: {c.message}", file=sys.stderr)
    if any(c.status == "feilet" for c in changes):
        print("Kjør `bli sync standard` igjen for å hente tabellene som feilet; de ferdige "
              "hoppes over.", file=sys.stderr)
    print("Kilder: IMDi (NLOD 2.0) og Statistisk sentralbyrå (CC BY 4.0).")
