"""The cohort file: persons to be settled (bosettes), grouped in households.

A cohort is a UTF-8 CSV (comma- or semicolon-separated) with one row per person and
the columns in :data:`COHORT_COLUMNS`. Households are never split, so everything that
decides where a household can go (ties to a municipality) must agree within it.

Optional columns: ``syntetisk`` (0/1, set by the synthetic generator), and for
training extracts (:func:`read_training`) ``kommune``, ``botid`` and ``utfall``
(see :data:`TRAINING_COLUMNS`). Any other column is refused: a column the program
does not know may carry information that must not be used (see
:mod:`bliatlas.settlement.exclusions`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bliatlas.errors import InputError
from bliatlas.settlement.exclusions import check_columns

#: Required columns, in the order the generator writes them.
COHORT_COLUMNS: tuple[str, ...] = (
    "person_id",
    "household_id",
    "age",
    "sex",
    "education",
    "norwegian_level",
    "country_group",
    "unaccompanied_minor",
    "support_need",
    "tie_municipality",
    "tie_kind",
)

SEXES: tuple[str, ...] = ("K", "M")
EDUCATION_LEVELS: tuple[str, ...] = ("ingen", "grunnskole", "videregaende", "hoyere")
NORWEGIAN_LEVELS: tuple[str, ...] = ("ingen", "A1", "A2", "B1", "B2")
#: Coarse country groups (landgrupper). ``annet`` is every other country. The groups
#: follow the largest refugee nationalities settled in Norway 2015–2024 (IMDi); no finer
#: origin is kept (see exclusions).
COUNTRY_GROUPS: tuple[str, ...] = (
    "ukraina",
    "syria",
    "afghanistan",
    "eritrea",
    "somalia",
    "kongo",
    "annet",
)
#: World-region grouping SSB uses for employment statistics: Ukraine is a "Gruppe 1"
#: country (EU/EØS, Europe outside EU, North America, Oceania); the rest "Gruppe 2".
SSB_COUNTRY_GROUP: dict[str, int] = {
    "ukraina": 1,
    "syria": 2,
    "afghanistan": 2,
    "eritrea": 2,
    "somalia": 2,
    "kongo": 2,
    "annet": 2,
}
TIE_KINDS: tuple[str, ...] = ("", "hard", "soft")
#: What users read for the codes of a cohort file (pages and tables; files keep the codes).
LABELS_NB: dict[str, dict[str, str]] = {
    "country_group": {"ukraina": "Ukraina", "syria": "Syria", "afghanistan": "Afghanistan",
                      "eritrea": "Eritrea", "somalia": "Somalia", "kongo": "Kongo",
                      "annet": "andre land"},
    "education": {"ingen": "ingen utdanning", "grunnskole": "grunnskole",
                  "videregaende": "videregående", "hoyere": "høyere utdanning"},
    "tie_kind": {"hard": "fast tilknytning", "soft": "løs tilknytning"},
}


def label_nb(field: str, code: str) -> str:
    """The Norwegian text for a cohort code (``label_nb("education", "hoyere")`` →
    ``'høyere utdanning'``); an unknown code is shown as it is."""
    return LABELS_NB.get(field, {}).get(code, code)
MAX_AGE = 110

#: Extra columns a training extract carries (historical register data with outcomes).
#: ``utfall`` is 1 (in work or education), 0, or empty for persons outside the age range
#: the outcome is measured for (they still count for household composition).
TRAINING_COLUMNS: tuple[str, ...] = ("kommune", "botid", "utfall")
#: Optional in a training extract: ``bofast`` (1 = still lives in the first municipality)
#: and ``bofast_fylke`` (1 = still lives in the county of the first municipality).
TRAINING_OPTIONAL: tuple[str, ...] = ("bofast", "bofast_fylke")
#: Optional: ``syntetisk``, and a household's ranked wishes (municipality or county codes).
WISH_COLUMNS: tuple[str, ...] = ("onske_1", "onske_2", "onske_3")
OPTIONAL_COLUMNS: tuple[str, ...] = ("syntetisk", *WISH_COLUMNS)

#: The cohort template's Norwegian column names (as in IMDi's settlement work: household
#: composition, age, education, Norwegian, support needs, ties, wishes) → the names above.
#: A file may use either form (not both for one column).
NORWEGIAN_COLUMNS: dict[str, str] = {
    "person": "person_id",
    "husholdning": "household_id",
    "alder": "age",
    "kjonn": "sex",
    "kjønn": "sex",
    "utdanning": "education",
    "norskniva": "norwegian_level",
    "norsknivå": "norwegian_level",
    "landgruppe": "country_group",
    "enslig_mindrearig": "unaccompanied_minor",
    "enslig_mindreårig": "unaccompanied_minor",
    "oppfolgingsbehov": "support_need",
    "oppfølgingsbehov": "support_need",
    "tilknytning_kommune": "tie_municipality",
    "tilknytning_type": "tie_kind",
    "ønske_1": "onske_1",
    "ønske_2": "onske_2",
    "ønske_3": "onske_3",
}
#: Norwegian spellings of values, accepted everywhere (the template's own words).
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "education": {"videregående": "videregaende", "høyere": "hoyere"},
    "tie_kind": {"fast": "hard", "løs": "soft", "los": "soft"},
    "unaccompanied_minor": {"ja": "1", "nei": "0"},
    "support_need": {"ja": "1", "nei": "0"},
    "syntetisk": {"ja": "1", "nei": "0"},
}
#: The template's column order (Norwegian names), what each means and what it takes.
TEMPLATE: tuple[tuple[str, str, str], ...] = (
    ("person", "Person-id (unik i filen; ikke fødselsnummer eller navn)", "tekst, påkrevd"),
    ("husholdning", "Husholdnings-id: personer med samme id bosettes sammen", "tekst, påkrevd"),
    ("alder", "Alder ved bosetting", "heltall 0–110"),
    ("kjonn", "Kjønn", "K | M"),
    ("utdanning", "Høyeste fullførte utdanning",
     "ingen | grunnskole | videregående | høyere"),
    ("norskniva", "Norsknivå ved bosetting", "ingen | A1 | A2 | B1 | B2"),
    ("landgruppe", "Grov landgruppe (ikke fødeland eller statsborgerskap)",
     "ukraina | syria | afghanistan | eritrea | somalia | kongo | annet"),
    ("enslig_mindrearig", "Enslig mindreårig (krever alder under 18)", "0 | 1 (eller nei | ja)"),
    ("oppfolgingsbehov", "Behov for helse-/omsorgsoppfølging (bare flagget, ingen diagnose)",
     "0 | 1 (eller nei | ja)"),
    ("tilknytning_kommune", "Kommune der husholdningen har familie (tilknytning)",
     "tom eller firesifret kommunenummer (2024)"),
    ("tilknytning_type", "Fast (familiegjenforening: skal dit) eller løs (ønskelig)",
     "tom | fast | løs"),
    ("onske_1", "Husholdningens første ønske (valgfritt)",
     "tom, kommunenummer (4 sifre) eller fylkesnummer (2 sifre)"),
    ("onske_2", "Andre ønske (valgfritt)", "som onske_1"),
    ("onske_3", "Tredje ønske (valgfritt)", "som onske_1"),
)
#: Uploaded spreadsheets larger than this (declared rows × columns) are refused unread.
MAX_SHEET_ROWS = 60_001
MAX_SHEET_COLUMNS = 64

_CODE = re.compile(r"^\d{4}$")
_WISH = re.compile(r"^(\d{4}|\d{2})$")


@dataclass
class Cohort:
    """Persons as column arrays (row i = person i) and households as row-index arrays."""

    person_id: np.ndarray
    household_id: np.ndarray
    age: np.ndarray  # int16
    sex: np.ndarray  # 'K' | 'M'
    education: np.ndarray
    norwegian_level: np.ndarray
    country_group: np.ndarray
    unaccompanied_minor: np.ndarray  # bool
    support_need: np.ndarray  # bool
    tie_municipality: np.ndarray  # '' or 4-digit code
    tie_kind: np.ndarray  # '' | 'hard' | 'soft'
    households: list[np.ndarray] = field(default_factory=list)
    wishes: np.ndarray | None = None  # (persons, 3) object: ranked codes, '' = none
    synthetic: bool = False
    source: str = ""

    def __len__(self) -> int:
        return int(self.age.shape[0])

    @property
    def n_households(self) -> int:
        return len(self.households)

    def household_sizes(self) -> np.ndarray:
        return np.array([len(h) for h in self.households], dtype=np.int64)

    def household_of_person(self) -> np.ndarray:
        """Index into :attr:`households` for every person."""
        out = np.empty(len(self), dtype=np.int64)
        for k, rows in enumerate(self.households):
            out[rows] = k
        return out

    def columns(self) -> dict[str, np.ndarray]:
        """The cohort columns by name (as in the CSV)."""
        return {name: getattr(self, name) for name in COHORT_COLUMNS}

    def subset(self, rows: np.ndarray) -> Cohort:
        """The persons at ``rows`` (whole households should be passed), re-indexed."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = {name: arr[rows] for name, arr in self.columns().items()}
        out = _assemble(cols, synthetic=self.synthetic, source=self.source)
        if self.wishes is not None:
            out.wishes = self.wishes[rows]
        return out

    def household_wishes(self) -> list[tuple[str, ...]]:
        """Each household's ranked wishes (codes), empty when none."""
        if self.wishes is None:
            return [() for _ in self.households]
        return [tuple(c for c in self.wishes[rows[0]] if c) for rows in self.households]


def _assemble(cols: dict[str, np.ndarray], synthetic: bool, source: str) -> Cohort:
    hh = cols["household_id"]
    order: dict[str, list[int]] = {}
    for i, h in enumerate(hh.tolist()):
        order.setdefault(h, []).append(i)
    households = [np.array(v, dtype=np.int64) for v in order.values()]
    return Cohort(**cols, households=households, synthetic=synthetic, source=source)


def _decode(path: str | Path, data: bytes) -> str:
    if not data.strip():
        raise InputError(
            path,
            "filen er tom; forventet en overskriftsrad med kolonnene " + ", ".join(COHORT_COLUMNS),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            path,
            f"ugyldig tegnkoding (byte {exc.start}); forventet UTF-8. "
            "Lagre filen som UTF-8 (f.eks. «CSV UTF-8» i Excel)",
            row=line,
        ) from None
    return text.lstrip("\ufeff")


def _sheet_rows(path: str | Path, data: bytes) -> list[list[str]]:
    """The first sheet of an xlsx file as text rows, read in memory. The declared size is
    checked before any cell is read, and never more than the limits are read."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 — openpyxl raises many kinds for broken files
        raise InputError(path, f"kan ikke lese regnearket ({type(exc).__name__}); forventet "
                         "en .xlsx-fil lagret fra Excel eller lignende") from None
    try:
        ws = wb.worksheets[0]
        rows_declared = ws.max_row or 0
        cols_declared = ws.max_column or 0
        if rows_declared > MAX_SHEET_ROWS or cols_declared > MAX_SHEET_COLUMNS:
            raise InputError(path, f"regnearket oppgir {rows_declared} rader og "
                             f"{cols_declared} kolonner; høyst {MAX_SHEET_ROWS - 1} personer "
                             f"og {MAX_SHEET_COLUMNS} kolonner")
        out: list[list[str]] = []
        for row in ws.iter_rows(max_row=MAX_SHEET_ROWS + 1, max_col=MAX_SHEET_COLUMNS,
                                values_only=True):
            if len(out) > MAX_SHEET_ROWS:
                raise InputError(path, f"regnearket har flere enn {MAX_SHEET_ROWS - 1} rader")
            out.append(["" if v is None else _cell_text(v) for v in row])
    finally:
        wb.close()
    while out and not any(c.strip() for c in out[-1]):
        out.pop()
    if not out:
        raise InputError(path, "regnearket er tomt; forventet en overskriftsrad med "
                         "kolonnene i malen")
    width = max(len(r) for r in out)
    while width and not any(len(r) >= width and r[width - 1].strip() for r in out):
        width -= 1
    return [(r + [""] * width)[:width] for r in out]


def _cell_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _text_rows(path: str | Path, data: bytes) -> list[list[str]]:
    text = _decode(path, data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error as exc:
        raise InputError(path, f"ugyldig CSV ({exc})", row=reader.line_num) from None


def is_spreadsheet(name: str | Path, data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04" or str(name).lower().endswith(".xlsx")


def _read_rows(path: str | Path, allowed_extra: tuple[str, ...], data: bytes | None = None
               ) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """(canonical header, body rows, canonical name → the file's own column name)."""
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError(path, "filen finnes ikke") from None
        except OSError as exc:
            raise InputError(path, f"kan ikke lese filen ({exc.strerror})") from None
    if not data.strip():
        raise InputError(path, "filen er tom; forventet en overskriftsrad med kolonnene "
                         + ", ".join(COHORT_COLUMNS))
    rows = _sheet_rows(path, data) if is_spreadsheet(path, data) else _text_rows(path, data)
    given = [h.strip() for h in rows[0]]
    # Forbidden columns first: they must be named as such, not as merely unknown.
    check_columns(given, str(path))
    header = [NORWEGIAN_COLUMNS.get(h.lower(), h) for h in given]
    display = {}
    for canon, own in zip(header, given, strict=True):
        if canon in display:
            raise InputError(path, f"kolonnen står flere ganger (som {display[canon]!r} og "
                             f"{own!r})", row=1, column=own)
        display[canon] = own
    missing = [c for c in COHORT_COLUMNS if c not in header]
    if missing:
        norsk = {v: k for k, v in NORWEGIAN_COLUMNS.items() if k.isascii()}
        raise InputError(
            path,
            "mangler kolonne(r) "
            + ", ".join(f"{m!r} ({norsk.get(m, m)!r} i malen)" for m in missing)
            + "; forventet kolonnene "
            + ", ".join(COHORT_COLUMNS),
            row=1,
        )
    known = set(COHORT_COLUMNS) | set(OPTIONAL_COLUMNS) | set(allowed_extra)
    for canon, own in zip(header, given, strict=True):
        if canon not in known:
            raise InputError(
                path,
                "ukjent kolonne; tillatt er " + ", ".join(sorted(known))
                + " (eller de norske navnene i malen)",
                row=1,
                column=own,
            )
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if not body:
        raise InputError(path, "filen har ingen personer (bare overskriftsraden)", row=2)
    return header, body, display


def _parse(
    path: str | Path, header: list[str], body: list[list[str]], extra: tuple[str, ...],
    display: dict[str, str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], bool]:
    display = display or {}
    idx = {name: header.index(name) for name in header}
    n = len(body)
    raw: dict[str, list[str]] = {name: [""] * n for name in header}
    given: dict[str, list[str]] = {}  # values as written, for messages

    def col_name(col: str) -> str:
        return display.get(col, col)

    for r, row in enumerate(body):
        line = r + 2
        if len(row) != len(header):
            raise InputError(
                path,
                f"har {len(row)} felt, forventet {len(header)} (som overskriftsraden)",
                row=line,
            )
        for name, j in idx.items():
            raw[name][r] = row[j].strip()
    for name, aliases in VALUE_ALIASES.items():
        if name in raw:
            given[name] = list(raw[name])
            raw[name] = [aliases.get(v.lower(), v) for v in raw[name]]
    if "sex" in raw:
        raw["sex"] = [v.upper() if v.lower() in ("k", "m") else v for v in raw["sex"]]

    def fail(r: int, col: str, expected: str) -> InputError:
        shown = given[col][r] if col in given else raw[col][r]
        return InputError(
            path, f"ugyldig verdi {shown!r}; forventet {expected}", row=r + 2,
            column=col_name(col)
        )

    def choice(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        allowed_set = set(allowed)
        for r, v in enumerate(raw[col]):
            if v not in allowed_set:
                shown = " | ".join(a if a else "tom" for a in allowed)
                raise fail(r, col, shown)
        return np.array(raw[col], dtype=object)

    def flag(col: str) -> np.ndarray:
        for r, v in enumerate(raw[col]):
            if v not in ("0", "1"):
                raise fail(r, col, "0 eller 1")
        return np.array([v == "1" for v in raw[col]], dtype=bool)

    cols: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for r, v in enumerate(raw["person_id"]):
        if not v:
            raise fail(r, "person_id", "en ikke-tom identifikator")
        if v in seen:
            raise InputError(
                path,
                f"person_id {v!r} står også på rad {seen[v] + 2}; forventet unike person_id",
                row=r + 2,
                column=col_name("person_id"),
            )
        seen[v] = r
    cols["person_id"] = np.array(raw["person_id"], dtype=object)
    for r, v in enumerate(raw["household_id"]):
        if not v:
            raise fail(r, "household_id", "en ikke-tom identifikator")
    cols["household_id"] = np.array(raw["household_id"], dtype=object)
    ages = np.empty(n, dtype=np.int16)
    for r, v in enumerate(raw["age"]):
        if not re.fullmatch(r"\d{1,3}", v) or int(v) > MAX_AGE:
            raise fail(r, "age", f"et heltall 0–{MAX_AGE}")
        ages[r] = int(v)
    cols["age"] = ages
    cols["sex"] = choice("sex", SEXES)
    cols["education"] = choice("education", EDUCATION_LEVELS)
    cols["norwegian_level"] = choice("norwegian_level", NORWEGIAN_LEVELS)
    cols["country_group"] = choice("country_group", COUNTRY_GROUPS)
    cols["unaccompanied_minor"] = flag("unaccompanied_minor")
    cols["support_need"] = flag("support_need")
    for r, v in enumerate(raw["tie_municipality"]):
        if v and not _CODE.fullmatch(v):
            raise fail(r, "tie_municipality", "tom eller et firesifret kommunenummer (2024)")
    cols["tie_municipality"] = np.array(raw["tie_municipality"], dtype=object)
    cols["tie_kind"] = choice("tie_kind", TIE_KINDS)
    for r in range(n):
        has_code = bool(raw["tie_municipality"][r])
        has_kind = bool(raw["tie_kind"][r])
        if has_code != has_kind:
            col = "tie_kind" if has_code else "tie_municipality"
            raise InputError(
                path,
                "tie_municipality og tie_kind må enten begge være tomme eller begge fylt ut",
                row=r + 2,
                column=col_name(col),
            )
        if cols["unaccompanied_minor"][r] and ages[r] >= 18:
            raise InputError(
                path,
                f"enslig mindreårig med alder {ages[r]}; forventet alder under 18",
                row=r + 2,
                column=col_name("unaccompanied_minor"),
            )
    # Households: ties must agree (a household is placed whole).
    first_row: dict[str, int] = {}
    for r, h in enumerate(raw["household_id"]):
        if h not in first_row:
            first_row[h] = r
            continue
        f = first_row[h]
        for col in ("tie_municipality", "tie_kind"):
            if raw[col][r] != raw[col][f]:
                raise InputError(
                    path,
                    f"husholdning {h!r} har ulik tilknytning ({raw[col][f]!r} på rad {f + 2}, "
                    f"{raw[col][r]!r} her); forventet samme {col_name(col)} for hele "
                    "husholdningen",
                    row=r + 2,
                    column=col_name(col),
                )
    synthetic = False
    if "syntetisk" in idx:
        synthetic = bool(flag("syntetisk").any())
    wishes = None
    present = [c for c in WISH_COLUMNS if c in raw]
    if present:
        wishes = np.full((n, len(WISH_COLUMNS)), "", dtype=object)
        for k, col in enumerate(WISH_COLUMNS):
            if col not in raw:
                continue
            for r, v in enumerate(raw[col]):
                if v and not _WISH.fullmatch(v):
                    raise fail(r, col, "tom, et firesifret kommunenummer eller et tosifret "
                               "fylkesnummer (2024)")
                f = first_row[raw["household_id"][r]]
                if raw[col][f] != v:
                    raise InputError(
                        path, f"husholdning {raw['household_id'][r]!r} har ulike ønsker "
                        f"({raw[col][f]!r} på rad {f + 2}, {v!r} her); forventet samme "
                        f"{col_name(col)} for hele husholdningen", row=r + 2,
                        column=col_name(col))
                wishes[r, k] = v
    cols["__wishes__"] = wishes  # type: ignore[assignment]
    extras = {name: raw[name] for name in extra if name in raw}
    return cols, extras, synthetic


def read_cohort(path: str | Path, data: bytes | None = None) -> Cohort:
    """Read and validate a cohort (CSV or xlsx, English or the template's Norwegian column
    names); raise :class:`InputError` naming the file, row and column (as written in the
    file). With ``data`` the bytes are read from memory and ``path`` is only the name used
    in messages — nothing touches the disk."""
    header, body, display = _read_rows(path, (), data)
    cols, _, synthetic = _parse(path, header, body, (), display)
    wishes = cols.pop("__wishes__", None)
    cohort = _assemble(cols, synthetic=synthetic, source=str(path))
    cohort.wishes = wishes
    return cohort


@dataclass
class TrainingExtract:
    """A historical extract: the cohort columns plus where each person was settled,
    years of residence (botid) and the outcome (1 = in work or education)."""

    cohort: Cohort
    municipality: np.ndarray  # 4-digit code per person
    years: np.ndarray  # int
    outcome: np.ndarray  # int8 1/0, -1 = not measured (outside the age range)
    stay: np.ndarray | None = None  # int8 1/0: still in the first municipality
    stay_county: np.ndarray | None = None  # int8 1/0: still in the county

    def subset(self, rows: np.ndarray) -> TrainingExtract:
        """The persons at ``rows`` (whole households), with every column."""
        rows = np.asarray(rows, dtype=np.int64)
        return TrainingExtract(
            self.cohort.subset(rows), self.municipality[rows], self.years[rows],
            self.outcome[rows], None if self.stay is None else self.stay[rows],
            None if self.stay_county is None else self.stay_county[rows])

    def as_columns(self) -> dict[str, np.ndarray]:
        cols = dict(self.cohort.columns())
        cols["kommune"] = self.municipality
        cols["botid"] = self.years
        cols["utfall"] = self.outcome
        return cols


def read_training(path: str | Path) -> TrainingExtract:
    """Read a training extract: cohort columns + ``kommune``, ``botid``, ``utfall``."""
    path = Path(path)
    header, body, display = _read_rows(path, TRAINING_COLUMNS + TRAINING_OPTIONAL)
    missing = [c for c in TRAINING_COLUMNS if c not in header]
    if missing:
        raise InputError(
            path,
            "mangler kolonne(r) "
            + ", ".join(repr(m) for m in missing)
            + " som et treningsuttrekk må ha",
            row=1,
        )
    cols, extras, synthetic = _parse(path, header, body,
                                     TRAINING_COLUMNS + TRAINING_OPTIONAL, display)
    cols.pop("__wishes__", None)
    muni = extras["kommune"]
    for r, v in enumerate(muni):
        if not _CODE.fullmatch(v):
            raise InputError(
                path,
                f"ugyldig verdi {v!r}; forventet et firesifret kommunenummer",
                row=r + 2,
                column="kommune",
            )
    years = np.empty(len(muni), dtype=np.int16)
    for r, v in enumerate(extras["botid"]):
        if not re.fullmatch(r"\d{1,2}", v):
            raise InputError(
                path, f"ugyldig verdi {v!r}; forventet antall år 0–99", row=r + 2, column="botid"
            )
        years[r] = int(v)
    outcome = np.empty(len(muni), dtype=np.int8)
    for r, v in enumerate(extras["utfall"]):
        if v not in ("0", "1", ""):
            raise InputError(
                path,
                f"ugyldig verdi {v!r}; forventet 0, 1 eller tom (utenfor aldersgruppen)",
                row=r + 2,
                column="utfall",
            )
        outcome[r] = int(v) if v else -1
    flags: dict[str, np.ndarray | None] = {}
    for name in TRAINING_OPTIONAL:
        if name not in extras:
            flags[name] = None
            continue
        for r, v in enumerate(extras[name]):
            if v not in ("0", "1"):
                raise InputError(path, f"ugyldig verdi {v!r}; forventet 0 eller 1", row=r + 2,
                                 column=name)
        flags[name] = np.array([v == "1" for v in extras[name]], dtype=np.int8)
    cohort = _assemble(cols, synthetic=synthetic, source=str(path))
    return TrainingExtract(cohort, np.array(muni, dtype=object), years, outcome,
                           flags["bofast"], flags["bofast_fylke"])


def write_cohort(
    cohort: Cohort, path: str | Path, extra: dict[str, np.ndarray] | None = None
) -> None:
    """Write a cohort (plus ``extra`` columns) as UTF-8 CSV; ``syntetisk`` when synthetic.

    Written whole or not at all, text cells neutralised (:mod:`bliatlas.export`).
    """
    path = Path(path)
    cols = dict(cohort.columns())
    for name in ("unaccompanied_minor", "support_need"):
        cols[name] = cols[name].astype(np.int8)
    if cohort.wishes is not None and (cohort.wishes != "").any():
        for k, name in enumerate(WISH_COLUMNS):
            cols[name] = cohort.wishes[:, k]
    if extra:
        cols.update(extra)
    if cohort.synthetic:
        cols["syntetisk"] = np.ones(len(cohort), dtype=np.int8)
    names = list(cols)
    from bliatlas import export

    export.write_file(path, export.csv_bytes(names, zip(*(cols[n].tolist() for n in names))))


def template_csv() -> bytes:
    """The cohort template as CSV: the Norwegian header only (UTF-8 with BOM, ``;`` as in
    Norwegian Excel), so that nothing in it can be taken for a person."""
    from bliatlas import export

    return export.csv_bytes([name for name, _, _ in TEMPLATE], [], export.EXCEL)


def template_xlsx() -> bytes:
    """The cohort template as xlsx: sheet «Kohort» with the header row, sheet «Forklaring»
    with each column's meaning and allowed values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Kohort"
    ws.append([name for name, _, _ in TEMPLATE])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    about = wb.create_sheet("Forklaring")
    about.append(["kolonne", "betyr", "verdier"])
    for row in TEMPLATE:
        about.append(list(row))
    about.append([])
    about.append([("Én rad per person. Ingen andre kolonner er tillatt; kolonner som religion, "
                   "etnisitet, morsmål, fødeland, statsborgerskap, diagnoser, navn eller "
                   "fødselsnummer avvises.")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
