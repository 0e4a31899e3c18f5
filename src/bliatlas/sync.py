"""`bli sync …`: fetch tables from the publishers and store them.

The orchestration above both the source clients (:mod:`bliatlas.sources.ssb_cli` plans and
fetches SSB selections, :mod:`bliatlas.sources.imdi_client` IMDi tables,
:mod:`bliatlas.sources.standard` names the standard set) and the import
(:func:`bliatlas.ingest.load_parsed` into the store), so that no source module imports
the store or the import. Commands:

* `bli sync ssb TABLE [--region ...] [--year ... | --latest N] [--dry-run]` — one SSB
  table (``docs/ssb.md``); the same answer twice changes nothing.
* `bli sync imdi TABLE [--level kommune|fylke]` / `--list` — one IMDi table, parsed with
  the IMDi reader and loaded in one transaction (dataset as for a downloaded file of the
  same table, publisher IMDi, licence NLOD 2.0, content hash of the answer)
  (``docs/imdi.md``).
* `bli sync standard` — the standard set behind a kunnskapsgrunnlag, resumable: after
  every table the state file (``--state``, default ``var/cache/sync-standard.json``)
  records it as done; a run that stopped (no network, Ctrl-C, a table that failed)
  continues with the tables not yet done. Progress on standard error; at the end, per
  table, new years, new values and revised values (the old ones are kept in
  ``observation_history``), with a few revised cells named. Each table is loaded in its
  own transaction; a table that fails leaves nothing behind. With no network the run
  stops at once with the service named (exit code 3, a source error).

Tests replace the network with ``transport_factory`` of :mod:`bliatlas.sources.ssb` and
:mod:`bliatlas.sources.imdi_client`.
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

from bliatlas.errors import BliError, Offline, UserError
from bliatlas.export import write_file
from bliatlas.format import fmt_int, fmt_num, table
from bliatlas.ingest import RefreshEntry, load_parsed, log_refresh
from bliatlas.regions.registry import Registry
from bliatlas.sources.imdi import TABLES
from bliatlas.sources.imdi_client import (
    LEVEL_NAMES,
    LEVELS,
    RATE_LIMIT,
    RATE_PERIOD,
    ImdiClient,
    parse_fetched,
)
from bliatlas.sources.records import ParsedSource
from bliatlas.sources.ssb import RATE_LIMIT as SSB_RATE_LIMIT
from bliatlas.sources.ssb import RATE_PERIOD as SSB_RATE_PERIOD
from bliatlas.sources.ssb import REGION_GROUPS, SsbClient
from bliatlas.sources.ssb_cli import (
    SsbSpec,
    add_cache_arguments,
    check_max_age,
    fetch_ssb,
    plan_ssb,
    print_plan,
    split_codes,
)
from bliatlas.sources.standard import DEFAULT_STATE, STANDARD_JOBS, Job
from bliatlas.store import database_path, open_store, writing


# -- the command group and `bli sync ssb` -------------------------------------------------
def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="hent statistikk direkte fra utgiveren (SSB, IMDi)")
    ssub = p.add_subparsers(dest="sync_command", metavar="KILDE")
    ssub.required = True
    q = ssub.add_parser(
        "ssb",
        help="hent en tabell fra SSBs statistikkbank (PxWebApi, JSON-stat 2.0)",
        description=(
            "Henter et utvalg fra en tabell i SSBs statistikkbank og lagrer det i databasen. "
            f"SSB tillater {SSB_RATE_LIMIT} spørringer per {SSB_RATE_PERIOD:.0f} sekunder og 800 000 "
            "celler per uttrekk; større utvalg deles opp automatisk. Svar lagres i en "
            "hurtigbuffer på disk."
        ),
    )
    q.add_argument("table", metavar="TABELL", help="tabellnummer, f.eks. 11607")
    q.add_argument(
        "--region", action="append", default=[], metavar="KODE",
        help="regionkode (4650, 46, 0), mønster (46* = fylket og kommunene), kode i en av "
        "tabellens grupperinger (K-4001) eller et navngitt utvalg: "
        + ", ".join(f"{k} ({v[1]})" for k, v in REGION_GROUPS.items())
        + "; kan gjentas eller kommaskilles. Utelates for landstabeller uten regionvariabel",
    )
    q.add_argument(
        "--year", action="append", metavar="ÅR",
        help="tidskode (2023, 2017-2023) eller mønster (20*); kan gjentas; uten: alle år",
    )
    q.add_argument("--latest", type=int, metavar="N",
                   help="bare de N siste periodene i tabellen (SSBs «top», i stedet for --year)")
    q.add_argument(
        "--select", action="append", default=[], metavar="VARIABEL=KODER",
        help="velg koder for en annen variabel, f.eks. Kjonn=1,2 (uten: alle, eller SSBs sum "
        "der tabellen tillater det)",
    )
    q.add_argument("--api", choices=["v0", "v2"], default="v0",
                   help="v0 = PxWebApi v1 (/api/v0/, standard) eller v2 (/api/pxwebapi/v2/)")
    add_cache_arguments(q, "ssb")
    q.add_argument(
        "--sub-annual", choices=["error", "keep"], default="error",
        help="kvartals- og månedstall: avvis (standard) eller behold med perioden som egen "
        "dimensjon",
    )
    q.add_argument("--dry-run", action="store_true",
                   help="vis de eksakte forespørslene uten å sende noen dataspørring")
    q.set_defaults(func=cmd_sync_ssb)
    add_imdi_command(ssub)
    add_standard_command(ssub)


def current_regions(database: str | None) -> dict[str, set[str]]:
    """Today's municipality and county codes from the registry in the store (empty if the
    store does not exist yet)."""

    if not database_path(database).exists():
        return {}
    store = open_store(database, read_only=True)
    try:
        reg = Registry.from_store(store)
    finally:
        store.close()
    return {"kommune": set(reg.municipalities), "fylke": set(reg.counties)}



def store_parsed(database: str | None, parsed: ParsedSource, digest: str):

    # on a copy beside the database, renamed over it when done (see store.writing): a
    # running server keeps answering from the old file; a second writer waits its turn
    with writing(database, on_wait=lambda m: print(m, file=sys.stderr)) as store:
        return load_parsed(store, parsed, content_sha256=digest, source_path=None)


def report_load(result, parsed: ParsedSource, source_text: str) -> None:
    for warning in result.warnings:
        print(f"advarsel: {warning}", file=sys.stderr)
    if result.status == "uendret":
        print(f"Ingen endringer: det samme svaret er allerede lagret som {parsed.dataset}.")
    else:
        print(
            f"Lagret som {parsed.dataset}: {fmt_int(result.n_new)} nye og "
            f"{fmt_int(result.n_changed)} endrede verdier; {fmt_int(result.n_unassigned)} "
            "kan ikke plasseres på 2024-inndelingen og er holdt utenfor med begrunnelse "
            "(delte kommuner, grupperingskoder; se tabellen observation_unassigned)."
        )
    print(f"Kilde: {source_text}, lisens {parsed.licence}.")


def cmd_sync_ssb(args: argparse.Namespace) -> int:
    max_age = check_max_age(args.max_age)
    spec = SsbSpec(table=args.table, regions=args.region, years=split_codes(args.year),
                   latest=args.latest, select=args.select, sub_annual=args.sub_annual)
    current = current_regions(args.database)
    with SsbClient(api=args.api, cache_dir=args.cache_dir, max_age=max_age) as client:
        plan = plan_ssb(client, spec, current)
        if args.dry_run:
            print_plan(plan, client)
            return 0
        fetched = fetch_ssb(client, spec, plan)
        n_requests, n_cached, cache_dir = client.requests, client.cache_hits, client.cache_dir
    parsed = fetched.parsed
    print(
        f"SSB-tabell {plan.meta.table_id}: {len(parsed.observations) + len(parsed.aside)} "
        f"verdier hentet i {fetched.n_queries} spørring(er) ({n_requests} forespørsler til "
        f"SSB, {n_cached} svar fra hurtigbufferen {cache_dir})."
    )
    for note in plan.notes:
        print(note)
    result = store_parsed(args.database, parsed, fetched.content_sha256)
    report_load(result, parsed, f"Statistisk sentralbyrå (SSB), tabell {plan.meta.table_id}")
    return 0


# -- bli sync imdi ------------------------------------------------------------------------
def add_imdi_command(ssub: argparse._SubParsersAction) -> None:
    q = ssub.add_parser(
        "imdi",
        help="hent en tabell fra IMDis statistikk (imdi.no «Tall og statistikk»)",
        description=(
            "Henter en tabell fra tjenesten bak imdi.no «Tall og statistikk» (download_csv/k/ "
            "per kommune, download_csv/f/ per fylke) og lagrer den i databasen. Svar lagres "
            f"i en hurtigbuffer; klienten holder seg under {RATE_LIMIT} forespørsler per "
            f"{RATE_PERIOD:.0f} sekunder. `--list` viser tabellene Bli-atlas kjenner."
        ),
    )
    q.add_argument("table", nargs="?", metavar="TABELL",
                   help="tabellnavn, f.eks. intro_status_arbutd_avslutta")
    q.add_argument("--level", choices=list(LEVELS), default="kommune",
                   help="kommune (standard) eller fylke")
    q.add_argument("--list", action="store_true", help="list tabellene med norske titler")
    q.add_argument("--dry-run", action="store_true",
                   help="vis forespørselen uten å sende den")
    add_cache_arguments(q, "imdi")
    q.set_defaults(func=cmd_sync_imdi)


def print_tables() -> None:
    print("Tabeller i IMDis statistikktjeneste som Bli-atlas kjenner:")
    print(table(["tabell", "tittel", "datasett"],
                [[t.name, t.title, t.dataset] for t in TABLES.values()], align="lll"))
    print("Hentes med `bli sync imdi TABELL [--level kommune|fylke]`; alle med "
          "`bli sync standard`. Kilde: IMDi, lisens NLOD 2.0.")


def cmd_sync_imdi(args: argparse.Namespace) -> int:
    if args.list:
        print_tables()
        return 0
    if not args.table:
        raise UserError("oppgi en tabell, f.eks. `bli sync imdi intro_status_arbutd_avslutta`, "
                        "eller se `bli sync imdi --list`")
    max_age = check_max_age(args.max_age)
    with ImdiClient(cache_dir=args.cache_dir, max_age=max_age) as client:
        if args.dry_run:
            req = client.request(args.table, args.level)
            print("Tørrkjøring: ingen forespørsel er sendt til IMDi.")
            print(req.describe())
            return 0
        if args.table not in TABLES:
            print(f"merk: {args.table} er ikke blant tabellene Bli-atlas kjenner (se --list); "
                  f"den lagres som imdi_{args.table}")
        fetched = client.fetch(args.table, args.level)
        how = "fra hurtigbufferen" if fetched.from_cache else f"{client.requests} forespørsel(er)"
    parsed = parse_fetched(fetched)
    print(f"IMDi-tabell {args.table} ({LEVEL_NAMES[args.level]}): "
          f"{fmt_int(parsed.n_cells)} verdier hentet ({how}, {fetched.url}).")
    result = store_parsed(args.database, parsed, fetched.content_sha256)
    report_load(result, parsed, f"Integrerings- og mangfoldsdirektoratet (IMDi), tabell "
                f"{args.table}")
    return 0


# -- bli sync standard --------------------------------------------------------------------
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
        write_file(self.path, json.dumps({
            "database": self.database, "started": self.started, "done": self.done,
            "failed": self.failed, "complete": self.complete,
        }, ensure_ascii=False, indent=2))


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
    exit_code: int = 0              # of the error a failed table ended with


def _years(database: str | None, dataset: str) -> set[int]:

    if not database_path(database).exists():
        return set()
    store = open_store(database, read_only=True)
    try:
        return {int(r["year"]) for r in store.query(
            "SELECT DISTINCT year FROM observation_source WHERE dataset = ?", [dataset])}
    finally:
        store.close()


def _revised_examples(database: str | None, import_id: int | None, limit: int = 3) -> list[str]:

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


def add_standard_command(ssub: argparse._SubParsersAction) -> None:
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
                return exc.exit_code
            except BliError as exc:
                change = Change(job, "feilet", message=str(exc), exit_code=exc.exit_code)
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
    record_changes(args.database, changes)
    print_summary(changes, resumed, time.perf_counter() - started)
    return max((c.exit_code for c in failed), default=0)


def record_changes(database: str | None, changes: list[Change]) -> None:
    """Keep the run's summary in the store (``refresh_log``) for "sist oppdatert" and the
    web atlas' list of what changed (/oppdateringer)."""
    with writing(database, on_wait=lambda m: print(m, file=sys.stderr)) as store:
        log_refresh(store, "sync standard", [
            RefreshEntry(c.job.key, c.status, c.job.publisher, c.job.dataset, c.new_years,
                         c.n_new, c.n_changed, c.examples, c.message) for c in changes])


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
