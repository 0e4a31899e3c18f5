"""IMDi statistics exports (imdi.no/tall-og-statistikk), as users download them.

Format: ``;``-separated, ISO-8859-1 (UTF-8 accepted), a first header row
``Region;Navn;<Dimension: value>…`` followed by more header rows ``;;<Dimension: value>…``,
then one data row per region: ``K3801;Horten;…``. Every value column is described by one
cell per header row; ``År`` gives the year and ``Enhet`` the unit (persons or percent side
by side). Empty cells are missing, ``.`` is "no value", ``:`` and ``<5`` are suppressed.
"""

from __future__ import annotations

import csv
import io
import re

from bliatlas.errors import InputError
from bliatlas.regions.names import fold
from bliatlas.sources.records import Observation, ParsedSource, classify_cell

PUBLISHER = "IMDi"
LICENCE = "NLOD 2.0"

# Known exports: the set of dimension names → (dataset, measure).
KNOWN_EXPORTS: dict[frozenset[str], tuple[str, str]] = {
    frozenset({"innvandringsgrunn", "kjonn"}): ("imdi_innvandringsgrunn", "innvandrere"),
    frozenset({"bosetting"}): ("imdi_bosetting", "bosetting"),
    frozenset({"botid", "sekundaerflytting"}): ("imdi_sekundaerflytting", "flyktninger"),
    frozenset({"botid", "verdensregion"}): ("imdi_botid_verdensregion", "innvandrere"),
}
UNITS = {"personer": "personer", "prosent": "prosent", "kroner": "kroner", "antall": "antall"}
_REGION = re.compile(r"^[KF]-?\d{2,4}$|^\d{1,4}$")


def dimension_key(name: str) -> str:
    key = fold(name).replace(" ", "_")
    return {"botid_i_norge": "botid", "ar": "ar", "kjonn": "kjonn"}.get(key, key)


def decode(data: bytes, path: str) -> str:
    """Decode an export: UTF-8 if it is valid UTF-8, else ISO-8859-1; reject UTF-16/mojibake."""
    if not data.strip():
        raise InputError(path, "filen er tom; forventet en IMDi-eksport med overskriftsrader")
    if b"\x00" in data[:4096]:
        raise InputError(
            path, "filen inneholder NUL-byte (UTF-16?); forventet ISO-8859-1 eller UTF-8"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    if "Ã¥" in text or "Ã¸" in text or "Ã¦" in text or "\ufffd" in text:
        raise InputError(
            path,
            "teksten ser dobbelt- eller feilkodet ut (fant 'Ã¥'/'Ã¸' eller erstatningstegn); "
            "forventet ISO-8859-1 slik IMDi leverer den",
        )
    return text


def looks_like_imdi(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return first.startswith(("Region;Navn;", '"Region";"Navn";'))


def parse_imdi_csv(data: bytes, path: str) -> ParsedSource:
    text = decode(data, path)
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows or not looks_like_imdi(text):
        raise InputError(path, "første rad må begynne med 'Region;Navn;' (IMDi-eksport)", row=1)
    width = len(rows[0])
    if width < 3:
        raise InputError(path, "ingen verdikolonner etter Region og Navn", row=1)

    header_rows: list[list[str]] = [rows[0]]
    i = 1
    while i < len(rows) and rows[i][:1] == [""] and (len(rows[i]) < 2 or rows[i][1] == ""):
        header_rows.append(rows[i])
        i += 1
    data_start = i

    # Describe every value column by its header cells.
    columns: list[dict[str, str]] = []
    for c in range(2, width):
        desc: dict[str, str] = {}
        for r, hrow in enumerate(header_rows):
            if len(hrow) != width:
                raise InputError(
                    path, f"overskriftsraden har {len(hrow)} celler, forventet {width}", row=r + 1
                )
            cell = hrow[c].strip()
            if ":" not in cell:
                raise InputError(
                    path, f"forventet 'Dimensjon: verdi' i overskriften, fant {cell!r}",
                    row=r + 1, column=f"kolonne {c + 1}",
                )
            dim, value = cell.split(":", 1)
            desc[dimension_key(dim)] = value.strip()
        columns.append(desc)

    dim_names = {k for col in columns for k in col} - {"ar", "enhet"}
    if not any("ar" in col for col in columns):
        raise InputError(path, "ingen overskriftsrad med 'År: …'; forventet år for hver kolonne",
                         row=len(header_rows))
    dataset, measure = KNOWN_EXPORTS.get(
        frozenset(dim_names), ("imdi_" + "_".join(sorted(dim_names)), "antall")
    )
    parsed_cols = []
    for c, desc in enumerate(columns, start=3):
        try:
            year = int(desc.get("ar", ""))
        except ValueError:
            raise InputError(path, f"forventet et årstall i 'År: …', fant {desc.get('ar')!r}",
                             row=len(header_rows), column=f"kolonne {c}") from None
        unit_text = fold(desc.get("enhet", "personer"))
        unit = UNITS.get(unit_text)
        if unit is None:
            raise InputError(path, f"ukjent enhet {desc.get('enhet')!r}; forventet Personer, "
                             "Prosent eller Kroner", column=f"kolonne {c}")
        dims = {k: v for k, v in desc.items() if k not in ("ar", "enhet")}
        parsed_cols.append((year, unit, dims))

    if data_start >= len(rows):
        raise InputError(path, "ingen datarader etter overskriftene", row=data_start + 1)

    out = ParsedSource(PUBLISHER, dataset, path.rsplit("/", 1)[-1], "imdi-csv", LICENCE)
    for r in range(data_start, len(rows)):
        row = rows[r]
        rownum = r + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise InputError(
                path, f"raden har {len(row)} celler, forventet {width} (avkortet fil?)", row=rownum
            )
        code, name = row[0].strip(), row[1].strip()
        if not _REGION.match(code):
            raise InputError(path, f"forventet en regionkode som 'K3801', fant {code!r}",
                             row=rownum, column="Region")
        for c, (year, unit, dims) in enumerate(parsed_cols):
            try:
                value, status, note = classify_cell(row[c + 2])
            except ValueError as exc:
                raise InputError(path, str(exc), row=rownum, column=f"kolonne {c + 3}") from None
            out.observations.append(Observation(
                dataset, measure, code, name, year, dims, unit, value, status, note, rownum
            ))
    return out
