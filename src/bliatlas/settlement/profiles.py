"""Municipality profiles: what each municipality can offer, from a planner's file.

A CSV (``;`` or ``,``) or xlsx with one row per municipality and the column ``kommune``
(4-digit 2024 number) plus any of:

==================  ===========================================================================
``kapasitet``       persons (replaces the capacity from the decisions; a municipality not
                    listed then gets 0)
``ema_kapasitet``   places for unaccompanied minors
``kan_oppfolge``    0/1: can follow up households with support needs (alias ``spesialisthelse``:
                    specialist health services within reach)
``vgs_plasser``     upper-secondary places for the cohort's young people aged 16–19
``store_boliger``   dwellings for households of 5 or more
==================  ===========================================================================

Empty cells in the last four mean "no limit given" for that municipality. The limits become
side capacities of the matching problem (:class:`~.problem.Resource`), so they are
respected; the result reports how much of each was used and where it bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bliatlas.errors import InputError
from bliatlas.settlement.problem import Resource

COLUMNS = ("kommune", "kapasitet", "ema_kapasitet", "kan_oppfolge", "spesialisthelse",
           "vgs_plasser", "store_boliger")
UNLIMITED = 10**9
YOUTH_AGES = (16, 19)
LARGE_HOUSEHOLD = 5


@dataclass
class Profile:
    """Per municipality (in the order of ``codes``); None where the file has no column."""

    codes: list[str]
    capacity: np.ndarray | None = None
    minor_capacity: np.ndarray | None = None
    can_support: np.ndarray | None = None
    upper_secondary: np.ndarray | None = None  # UNLIMITED where not given
    large_dwellings: np.ndarray | None = None
    listed: int = 0
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def resources(self, cohort) -> list[Resource]:
        """The side capacities for ``cohort``'s households."""
        out = []
        if self.upper_secondary is not None:
            youth = np.array([int(((cohort.age[h] >= YOUTH_AGES[0])
                                   & (cohort.age[h] <= YOUTH_AGES[1])).sum())
                              for h in cohort.households], dtype=np.int64)
            out.append(Resource("vgs", "plasser i videregående skole (ungdom 16–19 år)", youth,
                                self.upper_secondary))
        if self.large_dwellings is not None:
            large = np.array([int(len(h) >= LARGE_HOUSEHOLD) for h in cohort.households],
                             dtype=np.int64)
            out.append(Resource("store_boliger", "boliger for store husholdninger (5 eller "
                                "flere)", large, self.large_dwellings))
        return out


def _rows(path: str | Path, data: bytes) -> list[list[str]]:
    from bliatlas.settlement.cohort import _sheet_rows, _text_rows, is_spreadsheet

    if not data.strip():
        raise InputError(path, "filen er tom; forventet kolonnen kommune og minst én av "
                         + ", ".join(COLUMNS[1:]))
    return _sheet_rows(path, data) if is_spreadsheet(path, data) else _text_rows(path, data)


def read_profile(path: str | Path, codes: list[str], data: bytes | None = None) -> Profile:
    """Read a profile file (from disk, or ``data`` in memory with ``path`` as its name).
    Errors name the file, row and column and what was expected."""
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError(path, "filen finnes ikke") from None
    rows = _rows(path, data)
    header = [h.strip().lower() for h in rows[0]]
    if "kommune" not in header:
        raise InputError(path, "mangler kolonnen 'kommune'; forventet kommune og minst én av "
                         + ", ".join(COLUMNS[1:]), row=1)
    for h in header:
        if h not in COLUMNS:
            raise InputError(path, "ukjent kolonne; tillatt er " + ", ".join(COLUMNS), row=1,
                             column=h)
    dupes = {h for h in header if header.count(h) > 1}
    if dupes or ("kan_oppfolge" in header and "spesialisthelse" in header):
        raise InputError(path, "kolonnen står flere ganger", row=1,
                         column=min(dupes) if dupes else "spesialisthelse")
    m = len(codes)
    pos = {c: j for j, c in enumerate(codes)}
    prof = Profile(list(codes), source=str(path))
    if "kapasitet" in header:
        prof.capacity = np.zeros(m, dtype=np.int64)
    if "ema_kapasitet" in header:
        prof.minor_capacity = np.zeros(m, dtype=np.int64)
    support_col = "kan_oppfolge" if "kan_oppfolge" in header else (
        "spesialisthelse" if "spesialisthelse" in header else None)
    if support_col:
        prof.can_support = np.ones(m, dtype=bool)
    if "vgs_plasser" in header:
        prof.upper_secondary = np.full(m, UNLIMITED, dtype=np.int64)
    if "store_boliger" in header:
        prof.large_dwellings = np.full(m, UNLIMITED, dtype=np.int64)
    seen: set[str] = set()
    for r, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"har {len(row)} felt, forventet {len(header)}", row=r)
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        code = rec["kommune"]
        if code not in pos:
            raise InputError(path, f"ukjent kommunenummer {code!r}; forventet et 2024-nummer "
                             "blant kommunene det plasseres i", row=r, column="kommune")
        if code in seen:
            raise InputError(path, f"kommune {code} står flere ganger", row=r, column="kommune")
        seen.add(code)
        j = pos[code]
        for col, arr, may_be_empty in (("kapasitet", prof.capacity, False),
                                       ("ema_kapasitet", prof.minor_capacity, False),
                                       ("vgs_plasser", prof.upper_secondary, True),
                                       ("store_boliger", prof.large_dwellings, True)):
            if arr is None:
                continue
            v = rec[col]
            if not v and may_be_empty:
                continue
            if not re.fullmatch(r"\d{1,7}", v):
                raise InputError(path, f"ugyldig verdi {v!r}; forventet et heltall ≥ 0"
                                 + (" eller tom (ingen grense)" if may_be_empty else ""),
                                 row=r, column=col)
            arr[j] = int(v)
        if support_col:
            v = rec[support_col]
            if v not in ("0", "1", "ja", "nei", ""):
                raise InputError(path, f"ugyldig verdi {v!r}; forventet 0 eller 1", row=r,
                                 column=support_col)
            prof.can_support[j] = v in ("1", "ja", "")
    prof.listed = len(seen)
    if prof.capacity is not None and prof.listed < m:
        prof.notes.append(f"{m - prof.listed} kommuner står ikke i profilen og får kapasitet 0.")
    return prof
