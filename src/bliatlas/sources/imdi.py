"""IMDi statistics (imdi.no/tall-og-statistikk) in the two shapes IMDi serves them.

Both are ``;``-separated and ISO-8859-1 (UTF-8 accepted).

**Wide export** (the files in ``../shared/data/imdi``): a first header row
``Region;Navn;<Dimension: value>…`` followed by more header rows ``;;<Dimension: value>…``,
then one data row per region: ``K3801;Horten;…``. Every value column is described by one
cell per header row; ``År`` gives the year and ``Enhet`` the unit (persons or percent side
by side).

**Long table** (what the download service behind "Tall og statistikk" answers today,
``download_csv/k/<table>`` and ``download_csv/f/<table>``, as county statistics teams'
scheduled scripts read it): one header row naming the columns, then one row per cell:
``Kommunenummer;Kommune;<dimension columns>;År;Enhet;Antall`` (per county ``Fylkesnummer;
Fylke;…``). The order of the dimension columns does not matter; rows repeated verbatim
(the service repeats some) count once; leading zeros of region numbers may be missing.

Cells: empty is missing, ``.`` is "no value", ``:`` and ``<5`` are suppressed. In the
country-background export (``Landbakgrunn``) ``.`` stands for *no persons*: the same
export writes ``0`` in exactly those cells for 2014 and 2016 (about 80 000 a year) and
``.`` in every other year. There a ``.`` cell, and an empty one (a municipality code not
in use that year: then every country is empty), is not stored at all: the catalogue's
total over countries counts a country without a row as 0 (``absent_is_zero``). That
leaves about 0,3 of the export's 2 million cells to store.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bliatlas import settings
from bliatlas.errors import InputError
from bliatlas.regions.names import fold
from bliatlas.sources.records import (
    MISSING,
    OK,
    SUPPRESSED,
    CellGrid,
    Observation,
    ParsedSource,
    classify_cell,
)

PUBLISHER = "IMDi"
SKIP = "skip"           # a cell that is not stored (see the country-background export)
LICENCE = "NLOD 2.0"
FORMAT_WIDE = "imdi-csv"
FORMAT_LONG = "imdi-csv-lang"


@dataclass(frozen=True)
class ImdiTable:
    """A table of IMDi's download service, as `bli sync imdi` knows it."""

    name: str           # the service's table id, e.g. "intro_status_arbutd_avslutta"
    title: str          # Norwegian title, as on imdi.no
    dataset: str
    measure: str


# The tables county teams and Bli-atlas fetch (from the scripts that run against the
# service); the dataset name is the same as for a downloaded file of the same table.
TABLES: dict[str, ImdiTable] = {t.name: t for t in (
    ImdiTable("bosatt_anmodede", "Anmodning, vedtak og bosetting av flyktninger",
              "imdi_bosetting", "bosetting"),
    ImdiTable("befolkning_innvandringsgrunn", "Innvandrere etter innvandringsgrunn",
              "imdi_innvandringsgrunn", "innvandrere"),
    ImdiTable("befolkning_botid", "Innvandrere etter botid og verdensregion",
              "imdi_botid_verdensregion", "innvandrere"),
    ImdiTable("flyktning_botid_flytting", "Flyktninger etter botid og sekundærflytting",
              "imdi_sekundaerflytting", "flyktninger"),
    ImdiTable("enslige_mindrearige", "Bosatte enslige mindreårige flyktninger",
              "imdi_enslige_mindrearige", "bosatte"),
    ImdiTable("intro_deltakere", "Deltakere i introduksjonsprogrammet",
              "imdi_intro_deltakere", "deltakere"),
    ImdiTable("intro_status_arbutd_avslutta",
              "I arbeid eller utdanning etter avsluttet introduksjonsprogram",
              "imdi_intro_status", "tidligere_deltakere"),
    ImdiTable("sysselsatte_botid_land", "Sysselsatte innvandrere etter botid og landbakgrunn",
              "imdi_sysselsatte_botid_land", "sysselsatte"),
    ImdiTable("utdanningsniva", "Utdanningsnivå etter innvandringsbakgrunn",
              "imdi_utdanningsniva", "befolkning"),
    ImdiTable("vedvarende_lavinntekt", "Vedvarende lavinntekt etter innvandringsbakgrunn",
              "imdi_vedvarende_lavinntekt", "personer"),
    ImdiTable("barnehagedeltakelse_spraak",
              "Barnehagedeltakelse for minoritetsspråklige og øvrige barn",
              "imdi_barnehagedeltakelse", "barn"),
)}

# Downloaded files: the set of dimension names → (dataset, measure).
KNOWN_EXPORTS: dict[frozenset[str], tuple[str, str]] = {
    frozenset({"innvandringsgrunn", "kjonn"}): ("imdi_innvandringsgrunn", "innvandrere"),
    frozenset({"bosetting"}): ("imdi_bosetting", "bosetting"),
    frozenset({"botid", "sekundaerflytting"}): ("imdi_sekundaerflytting", "flyktninger"),
    frozenset({"botid", "verdensregion"}): ("imdi_botid_verdensregion", "innvandrere"),
    frozenset({"utdanningsniva", "bakgrunn", "kjonn"}): ("imdi_utdanningsniva", "befolkning"),
    frozenset({"landbakgrunn"}): ("imdi_landbakgrunn", "innvandrere"),
}
# Dimension sets several tables share: the file name decides (keyword → dataset, measure).
AMBIGUOUS_EXPORTS: dict[frozenset[str], dict[str, tuple[str, str]]] = {
    frozenset({"bakgrunn", "kjonn"}): {
        "videregaende": ("imdi_videregaende_fullfort", "fullfort"),
    },
}
INF_NOTE = ("«Inf» i IMDis eksport: prosenten er ikke definert (den er regnet av null, "
            "f.eks. vedtak når anmodningen var 0)")
LANDBAKGRUNN_DOT_NOTE = ("«.» i IMDis eksport betyr ingen personer med denne landbakgrunnen "
                         "(eksporten skriver 0 i de samme cellene for 2014 og 2016); slike "
                         "celler og tomme celler (kommunenummer ikke i bruk det året) er ikke "
                         "lagret, og summer over land regner et land uten rad som 0")

UNITS = {"personer": "personer", "prosent": "prosent", "kroner": "kroner", "antall": "antall"}
_REGION = re.compile(r"^[KF]-?\d{2,4}$|^\d{1,4}$")
_YEAR = re.compile(r"^(\d{4})(?:-\d{2}-\d{2})?$")
LONG_CODE_COLUMNS = {"kommunenummer": "kommune", "fylkesnummer": "fylke", "region": None}
LONG_NAME_COLUMNS = ("kommune", "fylke", "navn", "region_navn", "kommunenavn", "fylkesnavn")


# Column names shortened to the dimension they are (as the wide export's headers name them).
DIMENSION_ALIASES = {
    "botid_i_norge": "botid",
    "avslutningsar_for_introduksjonsprogrammet": "avslutningsar",
    "arbeidssituasjon_etter_avsluttet_avbrutt_introduksjonsprogram": "arbeidssituasjon",
}


def dimension_key(name: str) -> str:
    key = fold(name).replace(" ", "_")
    return DIMENSION_ALIASES.get(key, key)


def decode(data: bytes, path: str) -> str:
    """Decode an export: UTF-8 if it is valid UTF-8, else ISO-8859-1; reject UTF-16/mojibake."""
    if not data.strip():
        raise InputError(path, "filen er tom; forventet en IMDi-eksport med overskriftsrader")
    if b"\x00" in data:
        raise InputError(
            path, "filen inneholder NUL-byte (UTF-16 eller binær?); forventet ISO-8859-1 "
            "eller UTF-8"
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
    """The wide export (``Region;Navn;…``)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return first.startswith(("Region;Navn;", '"Region";"Navn";'))


def _long_header(text: str) -> list[str] | None:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if ";" not in first:
        return None
    cols = [c.strip().strip('"') for c in first.split(";")]
    keys = {fold(c) for c in cols}
    if keys & set(LONG_CODE_COLUMNS) and "antall" in keys and "ar" in keys:
        return cols
    return None


def looks_like_imdi_long(text: str) -> bool:
    """The download service's long table (``Kommunenummer;…;År;Enhet;Antall``)."""
    return _long_header(text) is not None


TESTDATA_MARK = "(TESTDATA)"


def refuse_test_data(text: str, path: str) -> None:
    """The project's own IMDi fixtures carry "(TESTDATA)" in their region names; like the
    JSON-stat fixtures they are refused unless ``BLI_ALLOW_TEST_DATA=1`` (the tests)."""
    if TESTDATA_MARK in text and not settings.get().allow_test_data:
        raise InputError(path, "dette er testdata skrevet av Bli-atlas (regionnavn merket "
                         "«(TESTDATA)»), ikke tall fra IMDi, og de skal ikke inn i en ekte "
                         "database")


def parse_imdi(data: bytes, path: str, table: str | None = None) -> ParsedSource:
    """Either shape; ``table`` (the service's table id) names the dataset when known."""
    text = decode(data, path)
    refuse_test_data(text, path)
    if looks_like_imdi(text):
        return parse_imdi_csv(data, path, table=table, text=text)
    if looks_like_imdi_long(text):
        return parse_imdi_long_csv(data, path, table=table, text=text)
    first = text.lstrip("\ufeff").split("\n", 1)[0][:120]
    raise InputError(
        path, "ukjent IMDi-format: forventet en eksport som begynner med 'Region;Navn;' eller "
        f"en tabell med kolonnene Kommunenummer/Fylkesnummer, År, Enhet og Antall; første "
        f"rad er {first!r}", row=1)


def _dataset(dim_names: set[str], path: str, table: str | None) -> tuple[str, str]:
    if table is not None:
        t = TABLES.get(table)
        if t is not None:
            return t.dataset, t.measure
        return "imdi_" + re.sub(r"[^a-z0-9_]", "_", table.lower()), "antall"
    key = frozenset(dim_names)
    if key in KNOWN_EXPORTS:
        return KNOWN_EXPORTS[key]
    stem = fold(path.rsplit("/", 1)[-1])
    for word, found in AMBIGUOUS_EXPORTS.get(key, {}).items():
        if word in stem:
            return found
    return "imdi_" + "_".join(sorted(dim_names)), "antall"


class _Cells:
    """classify_cell with a memo: exports repeat the same few thousand texts."""

    def __init__(self, path: str, dot_is_zero: bool, percent: bool = False) -> None:
        self.path = path
        self.memo: dict[str, tuple[float | None, str, str | None]] = {}
        if dot_is_zero:                         # not stored: see the module docstring
            self.memo["."] = self.memo[""] = (None, SKIP, None)
        if percent:
            # IMDi writes R's "Inf" where a percentage divides by zero; only there is
            # it a known marker (in a count, or as 'nan'/'inf' anywhere else, it is refused).
            for text in ("Inf", "inf", "-Inf"):
                self.memo[text] = (None, MISSING, INF_NOTE)

    def __call__(self, text: str, row: int, column: str) -> tuple[float | None, str, str | None]:
        hit = self.memo.get(text)
        if hit is not None:
            return hit
        try:
            hit = classify_cell(text)
        except ValueError as exc:
            raise InputError(self.path, str(exc), row=row, column=column) from None
        if len(self.memo) < 100_000:
            self.memo[text] = hit
        return hit


def parse_imdi_csv(data: bytes, path: str, table: str | None = None,
                   text: str | None = None) -> ParsedSource:
    """The wide export (see the module docstring)."""
    if text is None:
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
    dataset, measure = _dataset(dim_names, path, table)
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
        parsed_cols.append((year, unit, dims, f"kolonne {c}"))

    if data_start >= len(rows):
        raise InputError(path, "ingen datarader etter overskriftene", row=data_start + 1)

    out = ParsedSource(PUBLISHER, dataset, path.rsplit("/", 1)[-1], FORMAT_WIDE, LICENCE)
    dot_is_zero = dim_names == {"landbakgrunn"}
    if dot_is_zero:
        out.notes.append(LANDBAKGRUNN_DOT_NOTE)

    # The data rows' own checks; the first bad row is raised after the cells before it,
    # which are checked first as a row-by-row reader would.
    data_rows: list[list[str]] = []
    rownums: list[int] = []
    row_error: InputError | None = None
    for r in range(data_start, len(rows)):
        row = rows[r]
        rownum = r + 1
        if len(row) != width:
            if not any(c.strip() for c in row):
                continue
            row_error = InputError(
                path, f"raden har {len(row)} celler, forventet {width} (avkortet fil?)", row=rownum
            )
            break
        code = row[0].strip()
        if not _REGION.match(code):
            row_error = InputError(path, f"forventet en regionkode som 'K3801', fant {code!r}",
                                   row=rownum, column="Region")
            break
        data_rows.append(row)
        rownums.append(rownum)
    out.grid = _grid(data_rows, rownums, parsed_cols, dataset, measure, path, dot_is_zero)
    if row_error is not None:
        raise row_error
    return out


_STATUS_CODE = {OK: 0, SUPPRESSED: 1, MISSING: 2, SKIP: 3}


def _grid(data_rows: list[list[str]], rownums: list[int], parsed_cols: list[tuple],
          dataset: str, measure: str, path: str, dot_is_zero: bool) -> CellGrid:
    """Classify a wide export's cells column-wise: each distinct text once (a few thousand
    for two million cells), every cell by its index into them."""
    n_cols = len(parsed_cols)
    flat = pa.array([text for row in data_rows for text in row[2:]], pa.string())
    encoded = flat.dictionary_encode()
    texts = encoded.dictionary.to_pylist()
    index = encoded.indices.to_numpy(zero_copy_only=False)      # int32
    percent = np.array([unit == "prosent" for _, unit, _, _ in parsed_cols], dtype=bool)
    # Per distinct text and kind of column (count 0, percent 1): value, status, note, error.
    n_texts = len(texts)
    values = np.full((n_texts, 2), np.nan)
    statuses = np.zeros((n_texts, 2), dtype=np.int8)
    note_ids = np.full((n_texts, 2), -1, dtype=np.int32)
    errors: dict[tuple[int, int], str] = {}
    notes: list[str] = []
    note_index: dict[str, int] = {}
    for kind, cells in enumerate((_Cells(path, dot_is_zero), _Cells(path, dot_is_zero, True))):
        if not (percent == bool(kind)).any():
            continue                        # no column of this kind
        for i, text in enumerate(texts):
            hit = cells.memo.get(text)
            if hit is None:
                try:
                    hit = classify_cell(text)
                except ValueError as exc:
                    errors[(i, kind)] = str(exc)
                    continue
            value, status, note = hit
            if value is not None:
                values[i, kind] = value
            statuses[i, kind] = _STATUS_CODE[status]
            if note is not None:
                if note not in note_index:
                    note_index[note] = len(notes)
                    notes.append(note)
                note_ids[i, kind] = note_index[note]
    # Each cell's entry in the tables above: text index × 2 + kind of its column.
    entry = index * np.int32(2)
    if percent.any():
        entry += np.tile(percent.astype(np.int32), len(data_rows))
    if errors:
        bad = np.zeros(n_texts * 2, dtype=bool)
        for i, kind in errors:
            bad[i * 2 + kind] = True
        failing = np.flatnonzero(bad[entry])
        if len(failing):
            p = int(failing[0])
            r, c = divmod(p, n_cols)
            raise InputError(path, errors[divmod(int(entry[p]), 2)], row=rownums[r],
                             column=parsed_cols[c][3])
    status = statuses.ravel()[entry]
    kept = np.flatnonzero(status != _STATUS_CODE[SKIP])
    entry = entry[kept]
    return CellGrid(
        dataset=dataset, measure=measure,
        codes=[row[0].strip() for row in data_rows], names=[row[1].strip() for row in data_rows],
        rownums=rownums, years=np.array([y for y, _, _, _ in parsed_cols], dtype=np.int64),
        units=[u for _, u, _, _ in parsed_cols], dims=[d for _, _, d, _ in parsed_cols],
        colnames=[c for _, _, _, c in parsed_cols],
        row=kept // n_cols, col=kept % n_cols,
        value=values.ravel()[entry], status=status[kept], note=note_ids.ravel()[entry],
        notes=notes)


def parse_imdi_long_csv(data: bytes, path: str, table: str | None = None,
                        text: str | None = None) -> ParsedSource:
    """The download service's long table (see the module docstring)."""
    if text is None:
        text = decode(data, path)
    header = _long_header(text)
    if header is None:
        raise InputError(path, "forventet en overskriftsrad med Kommunenummer eller "
                         "Fylkesnummer, År, Enhet og Antall", row=1)
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")
    next(rows)
    keys = [fold(c) for c in header]
    if len(set(keys)) != len(keys):
        raise InputError(path, "samme kolonnenavn står flere ganger i overskriften", row=1)
    code_i = next(i for i, k in enumerate(keys) if k in LONG_CODE_COLUMNS)
    level = LONG_CODE_COLUMNS[keys[code_i]]
    name_i = next((i for i, k in enumerate(keys) if k in LONG_NAME_COLUMNS and i != code_i),
                  None)
    year_i = keys.index("ar")
    value_i = keys.index("antall")
    if "enhet" not in keys:
        raise InputError(path, "mangler kolonnen Enhet (Personer/Prosent)", row=1,
                         column="Enhet")
    unit_i = keys.index("enhet")
    fixed = {code_i, year_i, value_i, unit_i} | ({name_i} if name_i is not None else set())
    dim_cols = [(i, dimension_key(header[i])) for i in range(len(header)) if i not in fixed]
    if not dim_cols and table is None:
        raise InputError(path, "ingen dimensjonskolonner mellom region, År, Enhet og Antall",
                         row=1)
    dim_names = {k for _, k in dim_cols}
    dataset, measure = _dataset(dim_names, path, table)
    width = len(header)
    out = ParsedSource(PUBLISHER, dataset, path.rsplit("/", 1)[-1], FORMAT_LONG, LICENCE)
    cells = {False: _Cells(path, dim_names == {"landbakgrunn"}),
             True: _Cells(path, dim_names == {"landbakgrunn"}, percent=True)}
    seen: set[tuple[str, ...]] = set()
    dims_memo: dict[tuple[str, ...], dict[str, str]] = {}
    pad = 4 if level == "kommune" else 2
    for rownum, row in enumerate(rows, start=2):
        if len(row) != width:
            if not any(c.strip() for c in row):
                continue
            raise InputError(path, f"raden har {len(row)} celler, forventet {width} "
                             "(avkortet fil eller nytt format?)", row=rownum)
        key = tuple(row)
        if key in seen:
            continue                          # verbatim repeats count once
        seen.add(key)
        code = row[code_i].strip()
        if level is not None and code.isdigit():
            code = code.zfill(pad)
        if not _REGION.match(code):
            raise InputError(path, f"forventet et regionnummer, fant {code!r}", row=rownum,
                             column=header[code_i])
        m = _YEAR.match(row[year_i].strip())
        if not m:
            raise InputError(path, f"forventet et årstall (2023), fant {row[year_i]!r}",
                             row=rownum, column=header[year_i])
        unit = UNITS.get(fold(row[unit_i].strip()))
        if unit is None:
            raise InputError(path, f"ukjent enhet {row[unit_i]!r}; forventet Personer, "
                             "Prosent eller Kroner", row=rownum, column=header[unit_i])
        dkey = tuple(row[i].strip() for i, _ in dim_cols)
        dims = dims_memo.get(dkey)
        if dims is None:
            dims = dims_memo[dkey] = {k: v for (_, k), v in zip(dim_cols, dkey, strict=True)}
        value, status, note = cells[unit == "prosent"](row[value_i].strip(), rownum,
                                                       header[value_i])
        if status is SKIP:
            continue
        name = row[name_i].strip() if name_i is not None else ""
        out.observations.append(Observation(dataset, measure, code, name, int(m.group(1)),
                                            dims, unit, value, status, note, rownum))
    if not out.observations:
        raise InputError(path, "ingen datarader etter overskriften", row=2)
    return out
