"""The national municipality panel (xlsx, one sheet), compiled from IMDi, SSB, KOSTRA and
Helsedirektoratet. Each workbook is recognised by its header row, not its file name."""

from __future__ import annotations

import io
import re

from python_calamine import CalamineWorkbook

from bliatlas.errors import InputError
from bliatlas.sources.records import (
    MISSING,
    OK,
    SUPPRESSED,
    Observation,
    ParsedSource,
    classify_cell,
)

LICENCE = "NLOD 2.0"
# Region codes publishers use for what lies outside the municipality structure.
OUTSIDE_CODES = {"21-22", "21", "22", "23", "2100", "2111", "2121", "2131", "2211", "2311",
                 "Rest", "9999", "99"}
PUBLISHER = "IMDi, SSB, KOSTRA og Helsedirektoratet (kommunepanel)"

# (measure, dims, unit, value column, suppression-flag column or None)
BOSETTING_COLUMNS = [
    ("folkemengde", {}, "personer", "pop", None),
    ("bosatte_flyktninger", {}, "personer", "innvandr", None),
    ("bosatte_flyktninger", {"gruppe": "ukrainere"}, "personer", "ukrainere", "ukr_prikket"),
    ("bosatte_flyktninger", {"gruppe": "ovrige"}, "personer", "ovrige", "ovr_prikket"),
    ("enslige_mindreaarige_bosatt", {}, "personer", "ema", "ema_prikket"),
    ("fastlege_venteliste", {}, "personer", "legeliste_n", None),
    ("fastlege_venteliste_andel", {}, "prosent", "legeliste_pct", None),
    ("fastlege_reservekapasitet", {}, "prosent", "lege_reservekapasitet", None),
    ("anmodning", {}, "personer", "innvandr_anmodet", None),
    ("vedtak", {}, "personer", "innvandr_vedtak", "innvandr_vedtak_string"),
    ("bosatt", {}, "personer", "innvandr_bosatt", None),
    ("bosatt", {"gruppe": "ukrainere"}, "personer", "ukr_bosatt", None),
    ("avtalt_bosatt", {}, "personer", "innvandr_avtalt_bosatt", None),
    ("avtalt_bosatt", {"gruppe": "ukrainere"}, "personer", "ukr_avtalt_bosatt", None),
    ("ema_anmodning", {}, "personer", "ema_anmodet_2024", None),
    ("ema_vedtak", {}, "personer", "ema_vedtak_2024", "ema_vedtak_2024_string"),
]
ONLY_2024 = {"anmodning", "vedtak", "bosatt", "avtalt_bosatt", "ema_anmodning", "ema_vedtak"}
# GP (fastlege) figures from Helsedirektoratet: the panel files them under its own year,
# while `lege_category` says which year they are ("... på venteliste hos fastlegen i 2023").
GP_MEASURES = {"fastlege_venteliste", "fastlege_venteliste_andel", "fastlege_reservekapasitet"}
_STATED_YEAR = re.compile(r"\bi (\d{4})\b")

SHAPES: dict[str, set[str]] = {
    "kommuner_bosetting": {"year", "Kommunenummer", "Kommune", "Fylke", "Fylkenummer",
                           "sentralitet", "kostranr", "robek", "pop", "innvandr"},
    "kommuner_bosetting_kjonn_alder": {"År", "Kommunenummer", "Kommune", "Kjønn", "Aldersgruppe",
                                       "ukrainere", "ukr_prikket", "ovrige", "ovr_prikket"},
    "enslige_mindreaarige": {"year", "Kommunenummer", "Kommunenavn", "ema", "ema_string",
                             "prikket"},
    "imdi_tilskudd": {"Enhet", "År", "Tilskuddstype", "Kommune", "Antall", "Kommunenummer",
                      "Kommentar"},
    "kostra_grupper": {"kostragruppe", "folkemengde", "bundekostnader",
                       "frie_disponible_inntekter", "antall_kommuner"},
}


def read_sheet(data: bytes, path: str) -> tuple[list[str], list[tuple]]:
    """The first sheet as a header and rows; empty cells are ``None``.

    Read with calamine (Rust), about 20 times faster than openpyxl on these panels.
    """
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for damaged files
        raise InputError(path, f"kan ikke lese xlsx-filen ({exc}); forventet en Excel-arbeidsbok"
                         ) from None
    rows = [tuple(None if c == "" else c for c in r) for r in rows]
    while rows and all(c is None for c in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(path, "arket er tomt; forventet en overskriftsrad og datarader")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return header, rows[1:]


def detect_shape(header: list[str], path: str) -> str:
    cols = set(header)
    for name, required in SHAPES.items():
        if required <= cols:
            return name
    best = max(SHAPES.items(), key=lambda kv: len(kv[1] & cols))
    missing = sorted(best[1] - cols)
    raise InputError(
        path,
        f"ukjent arbeidsbok: ligner mest på '{best[0]}', men mangler kolonnene "
        f"{', '.join(missing)}",
        row=1,
    )


class _Rows:
    """Row access by column name, with errors naming file, row and column."""

    def __init__(self, header: list[str], path: str) -> None:
        self.index = {h: i for i, h in enumerate(header) if h}
        self.path = path

    def get(self, row: tuple, col: str):
        i = self.index[col]
        return row[i] if i < len(row) else None

    def code(self, row: tuple, col: str, rownum: int, digits: int = 4) -> str:
        raw = self.get(row, col)
        text = str(raw).strip() if raw is not None else ""
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            text = str(int(raw)).zfill(digits)
        if text in OUTSIDE_CODES:
            return text
        if not re.fullmatch(rf"\d{{{digits}}}", text):
            raise InputError(self.path, f"forventet et {digits}-sifret nummer, fant {raw!r}",
                             row=rownum, column=col)
        return text

    def year(self, row: tuple, col: str, rownum: int) -> int:
        raw = self.get(row, col)
        try:
            year = int(raw)
        except (TypeError, ValueError):
            raise InputError(self.path, f"forventet et årstall, fant {raw!r}", row=rownum,
                             column=col) from None
        if not 1900 <= year <= 2100:
            raise InputError(self.path, f"urimelig årstall {year}", row=rownum, column=col)
        return year

    def cell(self, row: tuple, col: str, rownum: int, flag_col: str | None = None):
        raw = self.get(row, col)
        flag = self.get(row, flag_col) if flag_col else None
        try:
            value, status, note = classify_cell(raw)
        except ValueError as exc:
            if flag_col and flag_col.endswith("_string") and isinstance(raw, str):
                # a state in words where the number is not decided yet ('avventer vedtak')
                return None, MISSING, raw.strip()
            raise InputError(self.path, str(exc), row=rownum, column=col) from None
        flag_text = str(flag).strip() if flag not in (None, "") else ""
        if flag_text:
            low = flag_text.lower()
            if value is None and low.startswith(("prikket", "<", "anonym")):
                return None, SUPPRESSED, flag_text
            if value is None and status == MISSING and flag_col and flag_col.endswith("_string"):
                # a sentence instead of a number (e.g. 'Kommunen har ikke fattet vedtak')
                return None, MISSING, flag_text
            if value is not None and flag_col and not flag_col.endswith("_string"):
                return value, OK, flag_text
        return value, status, note


def parse_panel_xlsx(data: bytes, path: str) -> ParsedSource:
    header, rows = read_sheet(data, path)
    shape = detect_shape(header, path)
    name = path.rsplit("/", 1)[-1]
    out = ParsedSource(PUBLISHER, shape, name, "panel-xlsx", LICENCE)
    acc = _Rows(header, path)

    def add(measure, dims, unit, code, year, cell, rownum, region_name=""):
        value, status, note = cell
        out.observations.append(Observation(shape, measure, code, region_name, year, dims, unit,
                                            value, status, note, rownum))

    if shape == "kostra_grupper":
        groups = []
        for rownum, row in enumerate(rows, start=2):
            label = acc.get(row, "kostragruppe")
            if label in (None, ""):
                continue
            m = re.search(r"(\d+)\s*$", str(label))
            if not m:
                raise InputError(path, f"forventet 'KOSTRA-gruppe N', fant {label!r}",
                                 row=rownum, column="kostragruppe")
            n = acc.get(row, "antall_kommuner")
            groups.append({
                "code": f"EKG{int(m.group(1)):02d}", "name": str(label).strip(),
                "population_band": acc.get(row, "folkemengde"),
                "bound_costs": acc.get(row, "bundekostnader"),
                "free_income": acc.get(row, "frie_disponible_inntekter"),
                "n_municipalities": int(n) if isinstance(n, (int, float)) else None,
            })
        out.reference["kostra_groups"] = groups
        return out

    gp_year = _gp_reference_years(acc, rows) if shape == "kommuner_bosetting" else {}
    gp_values: dict[tuple[str, int], tuple] = {}
    names: dict[str, str] = {}
    placeholders: set[tuple[str, int]] = set()
    for rownum, row in enumerate(rows, start=2):
        if all(v in (None, "") for v in row):
            continue
        code = acc.code(row, "Kommunenummer", rownum)
        name_col = {"enslige_mindreaarige": "Kommunenavn"}.get(shape, "Kommune")
        if name_col in acc.index and acc.get(row, name_col):
            names.setdefault(code, str(acc.get(row, name_col)).replace("\xa0", " ").strip())
        if shape == "kommuner_bosetting":
            year = acc.year(row, "year", rownum)
            kname = str(acc.get(row, "Kommune") or "").replace("\xa0", " ").strip()
            if acc.get(row, "pop") == 0:
                placeholders.add((code, year))  # no municipality has 0 inhabitants
            gp = tuple(acc.get(row, c) for c in ("legeliste_n", "legeliste_pct",
                                                  "lege_reservekapasitet"))
            gp_values[(code, year)] = gp
            for measure, dims, unit, col, flag in BOSETTING_COLUMNS:
                if col not in acc.index:
                    continue
                if measure in ONLY_2024 and year != 2024:
                    continue
                cell = acc.cell(row, col, rownum, flag)
                obs_year = year
                if measure in GP_MEASURES and gp_year.get(year, year) != year:
                    obs_year = gp_year[year]
                    if gp_values.get((code, obs_year), gp) == gp and \
                            (code, obs_year) in gp_values:
                        continue  # the same figures, filed again under the next year
                    cell = (cell[0], cell[1], _join_notes(
                        cell[2], f"Helsedirektoratets tall for {obs_year} (panelet fører dem "
                        f"under {year})"))
                add(measure, dims, unit, code, obs_year, cell, rownum, kname)
            robek = str(acc.get(row, "robek") or "").strip().lower()
            if robek not in ("robek", "ikke robek"):
                raise InputError(path, f"forventet 'robek' eller 'ikke robek', fant {robek!r}",
                                 row=rownum, column="robek")
            add("robek", {}, "flagg", code, year, (1.0 if robek == "robek" else 0.0, OK, None),
                rownum, kname)
            _registry_row(out, acc, row, rownum, code, year, kname)
        elif shape == "kommuner_bosetting_kjonn_alder":
            year = acc.year(row, "År", rownum)
            dims_base = {"kjonn": str(acc.get(row, "Kjønn")).strip(),
                         "aldersgruppe": str(acc.get(row, "Aldersgruppe")).strip()}
            for group, col, flag in (("ukrainere", "ukrainere", "ukr_prikket"),
                                     ("ovrige", "ovrige", "ovr_prikket")):
                cell = acc.cell(row, col, rownum, flag)
                if cell[0] is None and cell[1] == MISSING:
                    # the number is sometimes only in the text column ('0')
                    cell = acc.cell(row, f"{col}_string", rownum, flag)
                add("bosatte_flyktninger", {**dims_base, "gruppe": group}, "personer", code,
                    year, cell, rownum)
        elif shape == "enslige_mindreaarige":
            year = acc.year(row, "year", rownum)
            value, status, note = acc.cell(row, "ema", rownum, "prikket")
            if value is None and status == MISSING:
                value, status, note = acc.cell(row, "ema_string", rownum)
            add("enslige_mindreaarige_bosatt", {}, "personer", code, year,
                (value, status, note), rownum)
        elif shape == "imdi_tilskudd":
            year = acc.year(row, "År", rownum)
            unit = str(acc.get(row, "Enhet") or "").strip().lower()
            if unit != "kroner" and not (unit == "" and acc.get(row, "Antall") is None):
                raise InputError(path, f"forventet enheten 'Kroner', fant {unit!r}", row=rownum,
                                 column="Enhet")
            kind = str(acc.get(row, "Tilskuddstype") or "").strip()
            if not kind:
                raise InputError(path, "tilskuddstype mangler", row=rownum,
                                 column="Tilskuddstype")
            value, status, note = acc.cell(row, "Antall", rownum, "Kommentar")
            comment = str(acc.get(row, "Kommentar") or "").strip()
            if value is None and comment.lower().startswith("anonym"):
                status, note = SUPPRESSED, comment
            elif value is None and comment:
                status, note = MISSING, comment
            add("tilskudd", {"tilskuddstype": kind}, "kroner", code, year,
                (value, status, note), rownum)
    _split_era_placeholders(out, shape, names, placeholders)
    if shape == "kommuner_bosetting":
        regs = out.reference.get("regions", [])
        latest = max((r["year"] for r in regs), default=None)
        out.reference["regions"] = [r for r in regs if r["year"] == latest]
        out.reference["counties"] = list({
            r["county_code"]: {"code": r["county_code"], "name": r["county_name"]}
            for r in out.reference["regions"]
        }.values())
    return out


def _registry_row(out, acc, row, rownum, code, year, kname) -> None:
    centrality = acc.get(row, "sentralitet")
    if not isinstance(centrality, (int, float)) or not 1 <= int(centrality) <= 6:
        raise InputError(acc.path, f"forventet sentralitetsklasse 1–6, fant {centrality!r}",
                         row=rownum, column="sentralitet")
    kostra = str(acc.get(row, "kostranr") or "").strip()
    if kostra and not re.fullmatch(r"EKG\d{2}", kostra):
        raise InputError(acc.path, f"forventet KOSTRA-gruppe som 'EKG07', fant {kostra!r}",
                         row=rownum, column="kostranr")
    out.reference.setdefault("regions", []).append({
        "year": year, "code": code, "name": kname,
        "county_code": acc.code(row, "Fylkenummer", rownum, digits=2),
        "county_name": str(acc.get(row, "Fylke") or "").replace("\xa0", " ").strip(),
        "centrality": int(centrality), "kostra_group": kostra or None,
        "robek": str(acc.get(row, "robek")).strip().lower() == "robek",
    })


def _join_notes(*notes: str | None) -> str | None:
    joined = "; ".join(n for n in notes if n)
    return joined or None


def _gp_reference_years(acc: _Rows, rows: list[tuple]) -> dict[int, int]:
    """Panel year → the year its GP figures are from, where ``lege_category`` says so for
    every row that says anything (the 2024 rows carry Helsedirektoratet's 2023 figures)."""
    stated: dict[int, set[int]] = {}
    if "lege_category" not in acc.index:
        return {}
    for rownum, row in enumerate(rows, start=2):
        if all(v in (None, "") for v in row):
            continue
        m = _STATED_YEAR.search(str(acc.get(row, "lege_category") or ""))
        if m:
            stated.setdefault(acc.year(row, "year", rownum), set()).add(int(m.group(1)))
    return {year: next(iter(ys)) for year, ys in stated.items() if len(ys) == 1}


def _is_zero(value: object) -> bool:
    return value in (None, 0, 0.0)


def _split_era_placeholders(out: ParsedSource, shape: str, names: dict[str, str],
                            placeholders: set[tuple[str, int]]) -> None:
    """Rows the panel carries for a municipality in years it was part of another.

    The panel is filed on 2024 codes for every year. Haram (1580) was part of Ålesund from
    2020 to 2023 (code 1507, split again in 2024); for 2022–2023 the panel puts the whole
    of that Ålesund on 1508 and gives Haram a row of zeros (population 0). Those zeros are
    not data: the values become missing ("inngår i Ålesund"), the host's values are noted
    as including the other municipality, and ``reference["included_in"]`` tells the engine
    that the host covers it (so county totals are complete).

    The split and its years come from the change table; a successor row that is not a
    placeholder (real values, e.g. a series back-cast on today's borders) is kept as it is.
    """
    from bliatlas.regions.crosswalk import load_changes
    from bliatlas.regions.names import fold, strip_markers

    by_name = {fold(strip_markers(n)): c for c, n in names.items()}
    by_key: dict[tuple[str, int], list[Observation]] = {}
    for o in out.observations:
        by_key.setdefault((o.region_code, o.year), []).append(o)
    years = sorted({o.year for o in out.observations})
    included: list[dict] = []
    for change in load_changes().values():
        if change.kind != "split":
            continue
        host = by_name.get(fold(change.old_name))
        if host is None or fold(change.old_name) not in {fold(n) for n in
                                                         change.successor.split("+")}:
            continue
        for other_name in change.successor.split("+"):
            other = by_name.get(fold(other_name))  # None: the file has no row for it at all
            if other == host or fold(other_name) == fold(change.old_name):
                continue
            for year in (y for y in years if y <= change.last_year):
                rows = by_key.get((other, year), []) if other else []
                if shape == "kommuner_bosetting" and rows:
                    placeholder = (other, year) in placeholders
                else:
                    placeholder = all(_is_zero(o.value) for o in rows)
                if not placeholder or not by_key.get((host, year)):
                    continue
                note_other = (f"Inngår i {change.old_name} ({host}): {other_name} var en del av "
                              f"{change.old_name} til og med {change.last_year}, og kilden fører "
                              f"hele kommunen på {change.old_name}")
                note_host = (f"Omfatter også {other_name}{f' ({other})' if other else ''}, som "
                             f"var en del av {change.old_name} til og med {change.last_year}")
                for o in rows:
                    o.value, o.status, o.status_note = None, MISSING, note_other
                for o in by_key[(host, year)]:
                    o.status_note = _join_notes(o.status_note, note_host)
                included.append({"code": other, "name": other_name, "year": year,
                                 "host": host, "note": note_other})
    if included:
        out.reference["included_in"] = included
