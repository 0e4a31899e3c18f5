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
MAX_AGE = 110

#: Extra columns a training extract carries (historical register data with outcomes).
#: ``utfall`` is 1 (in work or education), 0, or empty for persons outside the age range
#: the outcome is measured for (they still count for household composition).
TRAINING_COLUMNS: tuple[str, ...] = ("kommune", "botid", "utfall")
#: Optional in a training extract: ``bofast`` (1 = still lives in the first municipality).
TRAINING_OPTIONAL: tuple[str, ...] = ("bofast",)
OPTIONAL_COLUMNS: tuple[str, ...] = ("syntetisk",)

_CODE = re.compile(r"^\d{4}$")


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
        return _assemble(cols, synthetic=self.synthetic, source=self.source)


def _assemble(cols: dict[str, np.ndarray], synthetic: bool, source: str) -> Cohort:
    hh = cols["household_id"]
    order: dict[str, list[int]] = {}
    for i, h in enumerate(hh.tolist()):
        order.setdefault(h, []).append(i)
    households = [np.array(v, dtype=np.int64) for v in order.values()]
    return Cohort(**cols, households=households, synthetic=synthetic, source=source)


def _decode(path: Path, data: bytes) -> str:
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


def _read_rows(path: Path, allowed_extra: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "filen finnes ikke") from None
    except OSError as exc:
        raise InputError(path, f"kan ikke lese filen ({exc.strerror})") from None
    text = _decode(path, data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(path, f"ugyldig CSV ({exc})", row=reader.line_num) from None
    header = [h.strip() for h in rows[0]]
    # Forbidden columns first: they must be named as such, not as merely unknown.
    check_columns(header, str(path))
    missing = [c for c in COHORT_COLUMNS if c not in header]
    if missing:
        raise InputError(
            path,
            "mangler kolonne(r) "
            + ", ".join(repr(m) for m in missing)
            + "; forventet kolonnene "
            + ", ".join(COHORT_COLUMNS),
            row=1,
        )
    known = set(COHORT_COLUMNS) | set(OPTIONAL_COLUMNS) | set(allowed_extra)
    for name in header:
        if name not in known:
            raise InputError(
                path,
                "ukjent kolonne; tillatt er " + ", ".join(sorted(known)),
                row=1,
                column=name,
            )
    dupes = {h for h in header if header.count(h) > 1}
    if dupes:
        raise InputError(path, "kolonnen står flere ganger", row=1, column=min(dupes))
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if not body:
        raise InputError(path, "filen har ingen personer (bare overskriftsraden)", row=2)
    return header, body


def _parse(
    path: Path, header: list[str], body: list[list[str]], extra: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], bool]:
    idx = {name: header.index(name) for name in header}
    n = len(body)
    raw: dict[str, list[str]] = {name: [""] * n for name in header}
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

    def fail(r: int, col: str, expected: str) -> InputError:
        return InputError(
            path, f"ugyldig verdi {raw[col][r]!r}; forventet {expected}", row=r + 2, column=col
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
                column="person_id",
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
                column=col,
            )
        if cols["unaccompanied_minor"][r] and ages[r] >= 18:
            raise InputError(
                path,
                f"enslig mindreårig med alder {ages[r]}; forventet alder under 18",
                row=r + 2,
                column="unaccompanied_minor",
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
                    f"{raw[col][r]!r} her); forventet samme {col} for hele husholdningen",
                    row=r + 2,
                    column=col,
                )
    synthetic = False
    if "syntetisk" in idx:
        synthetic = bool(flag("syntetisk").any())
    extras = {name: raw[name] for name in extra if name in raw}
    return cols, extras, synthetic


def read_cohort(path: str | Path) -> Cohort:
    """Read and validate a cohort CSV; raise :class:`InputError` naming row and column."""
    path = Path(path)
    header, body = _read_rows(path, ())
    cols, _, synthetic = _parse(path, header, body, ())
    return _assemble(cols, synthetic=synthetic, source=str(path))


@dataclass
class TrainingExtract:
    """A historical extract: the cohort columns plus where each person was settled,
    years of residence (botid) and the outcome (1 = in work or education)."""

    cohort: Cohort
    municipality: np.ndarray  # 4-digit code per person
    years: np.ndarray  # int
    outcome: np.ndarray  # int8 1/0, -1 = not measured (outside the age range)

    def as_columns(self) -> dict[str, np.ndarray]:
        cols = dict(self.cohort.columns())
        cols["kommune"] = self.municipality
        cols["botid"] = self.years
        cols["utfall"] = self.outcome
        return cols


def read_training(path: str | Path) -> TrainingExtract:
    """Read a training extract: cohort columns + ``kommune``, ``botid``, ``utfall``."""
    path = Path(path)
    header, body = _read_rows(path, TRAINING_COLUMNS + TRAINING_OPTIONAL)
    missing = [c for c in TRAINING_COLUMNS if c not in header]
    if missing:
        raise InputError(
            path,
            "mangler kolonne(r) "
            + ", ".join(repr(m) for m in missing)
            + " som et treningsuttrekk må ha",
            row=1,
        )
    cols, extras, synthetic = _parse(path, header, body, TRAINING_COLUMNS)
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
    cohort = _assemble(cols, synthetic=synthetic, source=str(path))
    return TrainingExtract(cohort, np.array(muni, dtype=object), years, outcome)


def write_cohort(
    cohort: Cohort, path: str | Path, extra: dict[str, np.ndarray] | None = None
) -> None:
    """Write a cohort (plus ``extra`` columns) as UTF-8 CSV; ``syntetisk`` when synthetic.

    Written to a temporary file first, so a failed write leaves nothing half-written.
    """
    path = Path(path)
    cols = dict(cohort.columns())
    for name in ("unaccompanied_minor", "support_need"):
        cols[name] = cols[name].astype(np.int8)
    if extra:
        cols.update(extra)
    if cohort.synthetic:
        cols["syntetisk"] = np.ones(len(cohort), dtype=np.int8)
    names = list(cols)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows(zip(*(cols[n].tolist() for n in names)))
    tmp.replace(path)
