"""Freshness: when each source was last brought up to date, and what the last run changed.

Read from the store's ``import`` table (one row per file or publisher answer that brought
something new) and ``refresh_log`` (every ``bli import`` and ``bli sync standard`` run,
one row per file or table, also when nothing was new). Nothing is estimated: a source the
store has no record for is not listed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bliatlas.format import fmt_datetime_nb, fmt_int
from bliatlas.render.context import get_context
from bliatlas.web.pages import _page

router = APIRouter(include_in_schema=False)

STATUS_NB = {"importert": "nye eller endrede tall", "hentet": "nye eller endrede tall",
             "uendret": "ingen endringer", "feilet": "feilet", "hoppet over": "hoppet over"}
COMMAND_NB = {"import": "import av filer (bli import)",
              "sync standard": "henting fra IMDi og SSB (bli sync standard)"}


def sources_freshness(store) -> list[dict[str, Any]]:
    """Per source (file or publisher table): publisher, last change, last check."""
    changed = store.query(
        "SELECT publisher, source, arg_max(dataset, import_id) AS dataset, "
        "max(imported_at) AS changed_at, arg_max(n_values, import_id) AS n_values "
        "FROM import GROUP BY publisher, source")
    # a run checked a source when it read it ('hoppet over' = done by an earlier run)
    logged = store.query(
        "SELECT source, dataset, max(run_at) AS checked_at FROM refresh_log "
        "WHERE status NOT IN ('feilet', 'hoppet over') GROUP BY source, dataset")
    by_source = {r["source"]: r["checked_at"] for r in logged}
    by_dataset: dict[str, Any] = {}
    for r in logged:
        if r["dataset"] and (r["dataset"] not in by_dataset
                             or by_dataset[r["dataset"]] < r["checked_at"]):
            by_dataset[r["dataset"]] = r["checked_at"]
    rows = []
    for r in changed:
        last_check = by_source.get(r["source"]) or by_dataset.get(r["dataset"])
        rows.append({
            "publisher": r["publisher"], "source": r["source"],
            "changed": fmt_datetime_nb(r["changed_at"]),
            "checked": fmt_datetime_nb(last_check) if last_check else "–",
            "n_values": fmt_int(r["n_values"]), "sort": r["changed_at"],
        })
    rows.sort(key=lambda r: (r["sort"], r["source"]), reverse=True)
    return rows


def last_run(store) -> dict[str, Any] | None:
    """What the most recent import or sync run did, file by file (table by table)."""
    latest = store.query("SELECT max(run_at) AS at FROM refresh_log")[0]["at"]
    if latest is None:
        return None
    entries = store.query(
        "SELECT command, source, publisher, status, new_years, n_new, n_changed, examples, "
        "message FROM refresh_log WHERE run_at = ? ORDER BY source", [latest])
    return {
        "at": fmt_datetime_nb(latest), "command": COMMAND_NB.get(entries[0]["command"],
                                                                 entries[0]["command"]),
        "entries": [{**e, "status_nb": STATUS_NB.get(e["status"], e["status"]),
                     "n_new": fmt_int(e["n_new"]), "n_changed": fmt_int(e["n_changed"])}
                    for e in entries],
        "n_changed_sources": sum(e["status"] in ("importert", "hentet") for e in entries),
    }


@router.get("/oppdateringer", response_class=HTMLResponse)
def updates_view(request: Request) -> HTMLResponse:
    def build() -> dict[str, Any]:
        store = get_context().store
        return {"title": "Oppdateringer: sist oppdatert og hva som er endret",
                "sources": sources_freshness(store), "run": last_run(store)}
    return _page(request, "oppdateringer.html", build)
