"""A fake of IMDi's statistics download service for tests (httpx.MockTransport, no network).

``GET /download_csv/k/<table>`` and ``/download_csv/f/<table>`` answer with the bytes given
for that (level letter, table): the real exports in ``../shared/data/imdi`` (the format
IMDi serves) or the long-table fixtures in ``tests/fixtures/imdi``. Unknown tables answer
404 as an empty Azure error; ``script`` holds canned replies sent first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

SHARED_IMDI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdi"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imdi"

# The shared exports, by the service table and level they are a download of.
SHARED_TABLES: dict[tuple[str, str], str] = {
    ("k", "utdanningsniva"): "utdanningsniva_kommuner_2011-2020.csv",
    ("f", "utdanningsniva"): "utdanningsniva_fylker_2009-2020.csv",
    ("k", "befolkning_innvandringsgrunn"): "innvandringsgrunn_kommuner_2006-2021.csv",
    ("k", "bosatt_anmodede"): "bosatt_anmodede_2014-2021_utvalg.csv",
    ("k", "befolkning_botid"): "befolkning_botid_verdensregion_vestfold-telemark.csv",
    ("k", "flyktning_botid_flytting"): "flyktning_botid_sekundaerflytting_vestfold-telemark.csv",
}
# Our long-table fixtures (TESTDATA; see tests/fixtures/imdi/README.md).
FIXTURE_TABLES: dict[tuple[str, str], str] = {
    ("f", "intro_status_arbutd_avslutta"): "intro_status_arbutd_avslutta_f.csv",
    ("k", "intro_status_arbutd_avslutta"): "intro_status_arbutd_avslutta_k.csv",
    ("f", "intro_deltakere"): "intro_deltakere_f.csv",
    ("k", "intro_deltakere"): "intro_deltakere_k.csv",
    ("k", "sysselsatte_botid_land"): "sysselsatte_botid_land_k.csv",
    ("k", "vedvarende_lavinntekt"): "vedvarende_lavinntekt_k.csv",
    ("k", "barnehagedeltakelse_spraak"): "barnehagedeltakelse_spraak_k.csv",
    ("k", "enslige_mindrearige"): "enslige_mindrearige_k.csv",
}


def standard_files() -> dict[tuple[str, str], bytes]:
    out = {key: (SHARED_IMDI / name).read_bytes() for key, name in SHARED_TABLES.items()}
    out.update({key: (FIXTURES / name).read_bytes() for key, name in FIXTURE_TABLES.items()})
    return out


class FakeImdi:
    def __init__(self, files: dict[tuple[str, str], bytes] | None = None,
                 script: list[int | Exception | tuple[int, bytes]] | None = None) -> None:
        self.files = standard_files() if files is None else files
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            if isinstance(step, tuple):
                return httpx.Response(step[0], content=step[1])
            return httpx.Response(step, text=f"canned {step}")
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 3 and parts[0] == "download_csv":
            data = self.files.get((parts[1], parts[2]))
            if data is not None:
                return httpx.Response(200, content=data,
                                      headers={"Content-Type": "text/csv; charset=ISO-8859-1"})
        return httpx.Response(404, content=b"")

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def factory(self) -> Callable[[], httpx.BaseTransport]:
        return lambda: self.transport
