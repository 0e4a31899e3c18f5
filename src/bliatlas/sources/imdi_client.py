"""A client for IMDi's statistics download service (the backend of imdi.no "Tall og
statistikk").

Every table of IMDi's statistics pages is served as a ``;``-separated ISO-8859-1 file:

* per municipality: ``GET https://app-simapi-prod.azurewebsites.net/download_csv/k/<table>``
* per county: ``GET https://app-simapi-prod.azurewebsites.net/download_csv/f/<table>``

(the address the statistics pages call; county statistics teams fetch it on a schedule,
e.g. ``intro_status_arbutd_avslutta``, ``befolkning_innvandringsgrunn``). The answer is
read by :func:`bliatlas.sources.imdi.parse_imdi`, which takes both the wide export and the
long table the service answers with today. The transport is the SSB client's
(:mod:`bliatlas.sources.http`): disk cache (``$BLI_IMDI_CACHE`` or ``var/cache/imdi``),
retries with backoff, and a rate limit — IMDi documents none, so the client holds itself
to SSB's 30 requests per minute. Licence: NLOD 2.0.

A table whose columns changed (a renamed dimension, a new header row) is refused with the
table and the field named, before anything is stored: for the tables whose dimensions
are known (:data:`EXPECTED_DIMENSIONS`) the answer must have exactly those.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bliatlas import settings
from bliatlas.errors import ImdiApiError, InputError, NotFound, UserError
from bliatlas.sources.http import (
    PlannedRequest,
    PublisherClient,
    PublisherError,
    client_wiring,
    error_detail,
)
from bliatlas.sources.imdi import TABLES, decode, looks_like_imdi, looks_like_imdi_long, parse_imdi
from bliatlas.sources.records import ParsedSource

BASE_URL = "https://app-simapi-prod.azurewebsites.net"
LEVELS = {"kommune": "k", "fylke": "f"}
LEVEL_NAMES = {"kommune": "per kommune", "fylke": "per fylke"}
DEFAULT_CACHE_DIR = Path("var/cache/imdi")
RATE_LIMIT = 30
RATE_PERIOD = 60.0
SERVICE = "IMDis statistikktjeneste"
OFFLINE_HINT = ("Last ned tabellen fra imdi.no/tall-og-statistikk («Last ned») på en maskin "
                "med nett, og importer filen med `bli import FIL.csv`.")
USER_AGENT = "bliatlas/0.1 (Bli-atlas; IMDi statistikk-klient)"

# The dimensions each known table has (keys as the reader folds them). An answer with
# other dimensions means IMDi changed the table: refused, naming the field.
EXPECTED_DIMENSIONS: dict[str, frozenset[str]] = {
    "befolkning_innvandringsgrunn": frozenset({"innvandringsgrunn", "kjonn"}),
    "bosatt_anmodede": frozenset({"bosetting"}),
    "befolkning_botid": frozenset({"botid", "verdensregion"}),
    "flyktning_botid_flytting": frozenset({"botid", "sekundaerflytting"}),
    "utdanningsniva": frozenset({"utdanningsniva", "bakgrunn", "kjonn"}),
    "intro_status_arbutd_avslutta": frozenset({"kjonn", "avslutningsar", "arbeidssituasjon"}),
    "barnehagedeltakelse_spraak": frozenset({"sprak", "alder"}),
    "sysselsatte_botid_land": frozenset({"botid", "verdensregion"}),
    "intro_deltakere": frozenset({"kjonn"}),
    "vedvarende_lavinntekt": frozenset({"bakgrunn", "verdensregion"}),
}

transport_factory: Callable[[], httpx.BaseTransport] | None = None
default_clock: Callable[[], float] = time.monotonic
default_sleep: Callable[[float], None] = time.sleep

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,80}$")


@dataclass
class ImdiFetch:
    table: str
    level: str
    url: str
    data: bytes
    from_cache: bool

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_table(table: str) -> str:
    table = str(table).strip()
    if not _TABLE_NAME.match(table):
        raise UserError(f"ugyldig IMDi-tabell {table!r}; forventet et navn som "
                        "intro_status_arbutd_avslutta (se `bli sync imdi --list`)")
    return table


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise UserError(f"ukjent nivå {level!r}; velg {' eller '.join(LEVELS)}")
    return level


class ImdiClient(PublisherClient):
    """Fetch tables from IMDi's download service (cached, retried, rate-limited).

    ``http_options`` go to :class:`~bliatlas.sources.http.CachedHttp` (``max_age``,
    ``timeout``, ``max_retries``, ``backoff``, ``max_backoff``, ``rate_limit``,
    ``rate_period``, ``now``).
    """

    def __init__(
        self,
        *,
        base_url: str = BASE_URL,
        cache_dir: str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        **http_options: Any,
    ) -> None:
        http_options.setdefault("timeout", 120.0)   # whole-country tables are large
        super().__init__(
            service=SERVICE, base_url=base_url,
            cache_dir=cache_dir or settings.get().imdi_cache or DEFAULT_CACHE_DIR,
            user_agent=USER_AGENT, accept="text/csv, */*", offline_hint=OFFLINE_HINT,
            **client_wiring(sys.modules[__name__], transport, clock, sleep, http_options,
                            RATE_LIMIT, RATE_PERIOD))

    def url(self, table: str, level: str = "kommune") -> str:
        return f"{self.base_url}/download_csv/{LEVELS[check_level(level)]}/{check_table(table)}"

    def request(self, table: str, level: str = "kommune") -> PlannedRequest:
        return PlannedRequest("GET", self.url(table, level))

    def fetch(self, table: str, level: str = "kommune") -> ImdiFetch:
        table, level = check_table(table), check_level(level)
        label = f"IMDi-tabell {table} ({level})"
        request = self.request(table, level)

        def refusal(response: httpx.Response) -> Exception:
            detail = error_detail(response)
            if response.status_code == 404:
                return NotFound(f"{label}: IMDi kjenner ikke tabellen (HTTP 404); se "
                                    "`bli sync imdi --list`" + (f". {detail}" if detail else ""))
            return ImdiApiError(f"{label}: IMDi avviste forespørselen (HTTP "
                                f"{response.status_code})" + (f". {detail}" if detail else ""))

        def check(data: bytes) -> None:
            try:
                text = decode(data, label)
            except InputError as exc:
                raise ImdiApiError(f"{label}: svaret er ikke en IMDi-tabell ({exc})") from None
            head = text[:4000]
            if not (looks_like_imdi(head) or looks_like_imdi_long(head)):
                first = head.split("\n", 1)[0][:100]
                raise ImdiApiError(
                    f"{label}: svaret er ikke en IMDi-tabell (første linje {first!r}); "
                    "forventet 'Region;Navn;…' eller 'Kommunenummer/Fylkesnummer;…;Antall'"
                )

        hits = self.http.cache_hits
        try:
            data, _ = self.http.fetch(request, prefix=f"{table}-{LEVELS[level]}", kind="data",
                                      ext="csv", refusal=refusal, check=check, label=label)
        except PublisherError as exc:
            if type(exc) is PublisherError:
                raise ImdiApiError(str(exc)) from None
            raise
        return ImdiFetch(table, level, request.url, data, self.http.cache_hits > hits)


def parse_fetched(fetched: ImdiFetch) -> ParsedSource:
    """Parse a fetched table and check its shape against what the table is known to have."""
    source = f"IMDi-tabell {fetched.table} ({fetched.level})"
    parsed = parse_imdi(fetched.data, source, table=fetched.table)
    check_dimensions(parsed, fetched.table, source)
    meta = TABLES.get(fetched.table)
    title = f"«{meta.title}», " if meta else ""
    parsed.notes.append(f"{title}hentet fra {fetched.url}")
    return parsed


def check_dimensions(parsed: ParsedSource, table: str, source: str) -> None:
    expected = EXPECTED_DIMENSIONS.get(table)
    cells = parsed.cells()  # a wide export keeps its cells in a grid
    if expected is None or not cells:
        return
    got = set(cells[0].dims)
    if got == expected:
        return
    new = sorted(got - expected)
    gone = sorted(expected - got)
    parts = []
    if new:
        parts.append("ny dimensjon " + ", ".join(repr(n) for n in new))
    if gone:
        parts.append("mangler " + ", ".join(repr(g) for g in gone))
    raise InputError(
        source,
        f"{'; '.join(parts)}; forventet dimensjonene {', '.join(sorted(expected))}. IMDi har "
        "endret tabellen, så ingenting er lagret",
        column=(new or gone)[0],
    )
