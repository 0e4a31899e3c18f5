"""Tidy CSV files that counties' statistics teams produce from SSB and IMDi sources
(e.g. Telemark's), UTF-8, ``,`` or ``;`` separated, decimal point or comma.

Each known shape is recognised by its header. Files whose rows carry no region (wide
county tables) take the county from the file name (``..._telemark.csv``) or from the
``region`` argument; files without a reference year are stored with ``year = 0``
("referanseår ikke oppgitt"), never with a guessed year.
"""

from __future__ import annotations

import csv
import io
import re

from bliatlas.errors import InputError
from bliatlas.regions.crosswalk import COUNTY_NAMES
from bliatlas.regions.names import fold
from bliatlas.sources.records import Observation, ParsedSource, classify_cell

LICENCE = "NLOD 2.0"
PUBLISHER = "Fylkeskommunens statistikk (fra SSB og IMDi)"
UNKNOWN_YEAR = 0
UNKNOWN_YEAR_NOTE = "referanseår ikke oppgitt i kilden"



def _decode(data: bytes, path: str) -> str:
    if not data.strip():
        raise InputError(path, "filen er tom; forventet en CSV med overskriftsrad")
    if b"\x00" in data[:4096]:
        raise InputError(path, "filen inneholder NUL-byte (UTF-16?); forventet UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"ikke gyldig UTF-8 ved byte {exc.start}; forventet UTF-8 (fylkets CSV-filer)"
        ) from None


def read_rows(data: bytes, path: str) -> list[list[str]]:
    text = _decode(data, path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter,
                                         skipinitialspace=True)]
    rows = [[c.strip() for c in r] for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(path, "ingen datarader etter overskriften", row=2)
    width = len(rows[0])
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            raise InputError(path, f"raden har {len(r)} celler, forventet {width} (avkortet fil?)",
                             row=i)
    return rows


SHAPES = {
    "telemark_innvandringsgrunn": {"Kommunenummer", "Kommune", "Kjønn", "År", "Innvandringsgrunn",
                                   "Enhet", "Antall"},
    "telemark_sekundaerflytting": {"År", "Sekundærflytting", "Botid i Norge", "Kommunenummer",
                                   "Kommune", "Antall"},
    "bofasthet_fylker": {"Fylke", "Bosatt i første bostedskommune"},
    "sysselsatte_landbakgrunn": {"År", "Befolkningen eksklusive innvandrere"},
}


def detect_shape(header: list[str]) -> str | None:
    cols = set(header)
    for name, required in SHAPES.items():
        if required <= cols:
            return name
    if header and re.match(r"Botid i Norge \(\d{4}\)", header[0]):
        return "sysselsatte_botid"
    return None


def county_from_filename(path: str) -> str | None:
    stem = fold(path.rsplit("/", 1)[-1].rsplit(".", 1)[0]).replace(" ", "_")
    hits = {code for name, code in COUNTY_NAMES.items() if name.replace(" ", "_") in stem}
    return hits.pop() if len(hits) == 1 else None


def _value(cell: str, path: str, row: int, col: str):
    try:
        return classify_cell(cell)
    except ValueError as exc:
        raise InputError(path, str(exc), row=row, column=col) from None


def _year(cell: str, path: str, row: int, col: str) -> int:
    m = re.fullmatch(r"(\d{4})(?:-\d{2}-\d{2})?", cell)
    if not m:
        raise InputError(path, f"forventet et år (2023) eller en dato (2023-01-01), fant {cell!r}",
                         row=row, column=col)
    return int(m.group(1))


def parse_tidy_csv(data: bytes, path: str, region: str | None = None) -> ParsedSource:
    rows = read_rows(data, path)
    header = rows[0]
    shape = detect_shape(header)
    if shape is None:
        raise InputError(path, "ukjent CSV-format: overskriften " + ", ".join(header[:6])
                         + " passer ikke med noen kjent tabell", row=1)
    name = path.rsplit("/", 1)[-1]
    out = ParsedSource(PUBLISHER, shape, name, "tidy-csv", LICENCE)
    idx = {h: i for i, h in enumerate(header)}
    obs = out.observations

    def code_of(r: list[str], rownum: int) -> str:
        code = r[idx["Kommunenummer"]]
        if not re.fullmatch(r"\d{4}", code):
            raise InputError(path, f"forventet et 4-sifret kommunenummer, fant {code!r}",
                             row=rownum, column="Kommunenummer")
        return code

    if shape == "telemark_innvandringsgrunn":
        for rownum, r in enumerate(rows[1:], start=2):
            unit = fold(r[idx["Enhet"]])
            if unit not in ("personer", "prosent"):
                raise InputError(path, f"forventet enhet Personer eller Prosent, fant "
                                 f"{r[idx['Enhet']]!r}", row=rownum, column="Enhet")
            v, s, n = _value(r[idx["Antall"]], path, rownum, "Antall")
            obs.append(Observation(shape, "innvandrere", code_of(r, rownum), r[idx["Kommune"]],
                                   _year(r[idx["År"]], path, rownum, "År"),
                                   {"innvandringsgrunn": r[idx["Innvandringsgrunn"]],
                                    "kjonn": r[idx["Kjønn"]]}, unit, v, s, n, rownum))
    elif shape == "telemark_sekundaerflytting":
        for rownum, r in enumerate(rows[1:], start=2):
            v, s, n = _value(r[idx["Antall"]], path, rownum, "Antall")
            obs.append(Observation(shape, "flyktninger", code_of(r, rownum), r[idx["Kommune"]],
                                   _year(r[idx["År"]], path, rownum, "År"),
                                   {"sekundaerflytting": r[idx["Sekundærflytting"]],
                                    "botid": r[idx["Botid i Norge"]]}, "personer", v, s, n,
                                   rownum))
    elif shape == "bofasthet_fylker":
        out.notes.append(UNKNOWN_YEAR_NOTE)
        for rownum, r in enumerate(rows[1:], start=2):
            county = r[idx["Fylke"]]
            for col in header[1:]:
                v, s, n = _value(r[idx[col]], path, rownum, col)
                obs.append(Observation(shape, "bofasthet", "", county, UNKNOWN_YEAR,
                                       {"status": col}, "prosent", v, s, n or UNKNOWN_YEAR_NOTE,
                                       rownum))
    else:
        county = region or county_from_filename(path)
        if county is None:
            raise InputError(path, "tabellen sier ikke hvilket fylke den gjelder; gi fylket i "
                             "filnavnet (…_telemark.csv) eller med --region")
        if shape == "sysselsatte_landbakgrunn":
            for rownum, r in enumerate(rows[1:], start=2):
                year = _year(r[idx["År"]], path, rownum, "År")
                for col in header[1:]:
                    v, s, n = _value(r[idx[col]], path, rownum, col)
                    obs.append(Observation(shape, "sysselsatte_andel", county, "", year,
                                           {"landbakgrunn": col}, "prosent", v, s, n, rownum))
        else:  # sysselsatte_botid: rows = years of residence, columns = country groups
            year = int(re.search(r"\((\d{4})\)", header[0]).group(1))
            for rownum, r in enumerate(rows[1:], start=2):
                for col in header[1:]:
                    v, s, n = _value(r[idx[col]], path, rownum, col)
                    obs.append(Observation(shape, "sysselsatte_andel", county, "", year,
                                           {"botid": r[0], "landbakgrunn": col}, "prosent",
                                           v, s, n, rownum))
    return out
