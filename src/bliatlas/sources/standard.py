"""The standard set of tables behind a kunnskapsgrunnlag, which `bli sync standard`
(:mod:`bliatlas.sync`, resumable, with progress and a summary of what changed) fetches.

What a municipality's or county's knowledge base needs beyond the files in
``../shared/data``: IMDi's tables (settlement, reasons for immigration, years of
residence, secondary migration, unaccompanied minors, the introduction programme and what
participants do a year after, employment by years of residence and world region,
education level, persistent low income, kindergarten attendance) and SSB's employment of
immigrants (11607), immigrants and Norwegian-born to immigrant parents (09817),
population (07459), completion of upper-secondary education (13628) and the introduction
scheme's costs in KOSTRA (12268) — the introduction-programme and education tables IMDi's
pages do not cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bliatlas.sources.imdi import TABLES

DEFAULT_STATE = Path("var/cache/sync-standard.json")
HINT = "hentes med kommandoen «bli sync standard»"


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


