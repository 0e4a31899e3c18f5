"""JSON-stat 2.0 datasets (SSB's ``json-stat2`` responses) → :class:`ParsedSource`.

The reader follows the JSON-stat 2.0 format (https://json-stat.org/format/) as SSB's
PxWebApi delivers it (``response.format = json-stat2`` in PxWebApi v1, served under
``/api/v0/``; ``outputFormat=json-stat2`` in PxWebApi v2):

* ``id`` and ``size`` list the dimensions in row-major order; ``dimension[id]`` holds
  ``category.index`` (a list of codes, or a ``{code: position}`` object) and
  ``category.label`` (``{code: label}``); ``value`` is a dense list or a sparse
  ``{"position": value}`` object; ``status`` is a string (all cells), a list or a
  sparse object.
* Roles: the region dimension is ``role.geo``, the dimension called ``Region`` or a
  KOSTRA region variable (``KOKkommuneregion0000``, ``KOKfylkesregion0000``); the
  time dimension ``role.time`` or ``Tid``; the content dimension ``role.metric`` or
  ``ContentsCode``. Everything else becomes ``dims``: the variable code lower-cased →
  the category *label* (``kjonn`` → ``Begge kjønn``). A table without a region dimension
  (national tables such as 05300) is stored for the whole country (code ``0``).
* Region codes are read with :func:`bliatlas.regions.publisher_codes.ssb_region`: KOSTRA's
  ``EAK`` is the country and ``EKA46`` county 46; SSB's grouping and residual codes
  (``K-21-22``, ``K-23``, ``K-Rest``), KOSTRA groups (``EKG13``) and ``EAKUO`` are kept
  aside (``ParsedSource.aside``) with the reason, never failing the import.
* JSON-stat 1.x (SSB's older ``json-stat`` format: ``{"dataset": {"dimension": {"id",
  "size", "role", …}, "value"}}``) is recognised as such and read through the same
  checks after moving ``id``/``size``/``role`` up, as 2.0 has them.
* The unit of a content comes from ``category.unit[code].base`` (SSB writes e.g.
  ``personer``, ``prosent``, ``kr``); ``kr`` is normalised to ``kroner``, and multiples of a
  krone (KOSTRA's ``1000 kr``, ``mill. kr``) are stored in kroner with the value multiplied.

SSB's cell symbols (``status``; SSB's "standardtegn i tabeller"):

=======  =========================================  =============================
symbol   meaning at SSB                              stored as
=======  =========================================  =============================
``:``    hidden for confidentiality (prikket)        ``suppressed``, value NULL
``.``    cannot occur / not applicable               ``missing``, value NULL
``..``   figure not available                        ``missing``, value NULL
``...``  figure not yet available                    ``missing``, value NULL
``-``    nothing to report (zero)                    ``ok``, value 0
other    e.g. ``*`` provisional, ``r`` revised       ``ok`` with the symbol kept as
                                                     note (value must be present)
=======  =========================================  =============================

A suppressed cell is never turned into a number, even if the file carries one.

The project's own test fixtures carry ``extension.bliatlas.testdata: true`` and are
refused unless the environment sets ``BLI_ALLOW_TEST_DATA=1`` (the tests do).

Time codes: ``2024`` → year 2024. An interval ``2017-2023`` (cohort tables such as
13628, completion of upper-secondary education) → the *end* year, the year the outcome
is measured, with the interval in the cell's note (``periode 2017-2023``), so one
catalogue selector finds the series across years; only if two periods of the table end
in the same year is the interval kept as ``dims['periode']``. Quarterly, monthly, weekly
and half-year codes (``2024K1``, ``2024M01``, ``2024U01``, ``2024H1``) are refused
unless the caller passes ``sub_annual="keep"``: then ``year`` is the calendar year and
the period code is kept in ``dims['periode']`` (nothing is summed or averaged).
"""

from __future__ import annotations

import gc
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bliatlas import settings
from bliatlas.errors import InputError
from bliatlas.regions.publisher_codes import ssb_region
from bliatlas.sources.records import MISSING, OK, SUPPRESSED, Observation, ParsedSource

PUBLISHER = "SSB"
# SSB's API user guide (ssb.no/api, "API mot statistikkbanken – brukerveiledning")
# states that the statistics bank API and its data are published under CC BY 4.0.
LICENCE = "CC BY 4.0"
FORMAT = "json-stat2"
FORMAT_V1 = "json-stat1"
NATIONAL_NOTE = "tabellen har ingen regiondimensjon; tallene gjelder hele landet"

# SSB's standard table symbols for cells without a figure.
SSB_SUPPRESSED = {":": "prikket: vises ikke av konfidensialitetshensyn (:)"}
SSB_MISSING = {
    ".": "lar seg ikke føre opp (.)",
    "..": "tall mangler (..)",
    "...": "tall er ikke tilgjengelig ennå (...)",
}
SSB_ZERO = {"-": "null (-)"}

REGION_NAMES = ("region",)
_KOSTRA_REGION = re.compile(r"^kok\w*region\d*$")
TIME_NAMES = ("tid",)
METRIC_NAMES = ("contentscode",)

UNIT_ALIASES = {"kr": "kroner", "kr.": "kroner", "prosent": "prosent", "%": "prosent"}
# Units SSB publishes in multiples of a krone (KOSTRA: "1000 kr"): stored in kroner, the
# value multiplied, so that a figure reads the same whichever table it came from.
UNIT_SCALES: dict[str, tuple[str, float]] = {
    "1000 kr": ("kroner", 1000.0), "1 000 kr": ("kroner", 1000.0),
    "1000 kroner": ("kroner", 1000.0), "1 000 kroner": ("kroner", 1000.0),
    "mill. kr": ("kroner", 1e6), "mill. kroner": ("kroner", 1e6),
}

_YEAR = re.compile(r"^(\d{4})$")
_INTERVAL = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")
_SUB_ANNUAL = re.compile(r"^(\d{4})([KMUH])(\d{1,2})$")
_TABLE_IN_LABEL = re.compile(r"^\s*(\d{5})\s*:")
_TABLE_ID = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class _Dimension:
    name: str
    codes: list[str]            # in index order
    labels: dict[str, str]
    units: dict[str, str]


def parse_jsonstat(
    doc: dict[str, Any], source: str, *, sub_annual: str = "error",
    sub_annual_hint: str = "--sub-annual keep", region: str = "auto",
) -> ParsedSource:
    """Read one JSON-stat dataset from SSB (2.0, or 1.x) into the tidy form.

    ``source`` names the file or the API table in error messages and provenance.
    ``sub_annual`` is ``"error"`` (default: refuse quarterly/monthly periods) or
    ``"keep"`` (keep them, calendar year in ``year``, period code in ``dims``);
    ``sub_annual_hint`` is the option the refusal recommends, as the calling command
    spells it. ``region`` is ``"required"`` (the table's metadata has a region variable:
    a response without it has changed format), ``"none"`` (a national table) or
    ``"auto"`` (a file: national only if no other dimension looks like regions).
    Raises :class:`InputError` naming the field and what was expected.
    """
    if region not in ("auto", "required", "none"):
        raise ValueError("region must be 'auto', 'required' or 'none'")
    if sub_annual not in ("error", "keep"):
        raise ValueError("sub_annual must be 'error' or 'keep'")
    if not isinstance(doc, Mapping):
        raise InputError(source, "forventet et JSON-objekt (JSON-stat 2.0-datasett)")
    fmt = FORMAT
    if looks_like_jsonstat1(doc):
        doc = jsonstat1_to_2(doc, source)
        fmt = FORMAT_V1
    if str(doc.get("version")) != "2.0":
        raise InputError(
            source,
            f"forventet JSON-stat versjon \"2.0\", fant {doc.get('version')!r}",
            column="version",
        )
    if doc.get("class") != "dataset":
        raise InputError(
            source, f"forventet class \"dataset\", fant {doc.get('class')!r}", column="class"
        )

    ids = doc.get("id")
    sizes = doc.get("size")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InputError(source, "forventet en ikke-tom liste med dimensjonsnavn", column="id")
    if not isinstance(sizes, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes
    ):
        raise InputError(source, "forventet en liste med heltall ≥ 0", column="size")
    if len(ids) != len(sizes):
        raise InputError(
            source,
            f"'id' har {len(ids)} dimensjoner, men 'size' har {len(sizes)} tall",
            column="size",
        )
    if len(set(ids)) != len(ids):
        raise InputError(source, "samme dimensjon står flere ganger", column="id")

    dimensions_doc = doc.get("dimension")
    if not isinstance(dimensions_doc, Mapping):
        raise InputError(source, "forventet et objekt med dimensjonene", column="dimension")
    dims = [
        _read_dimension(source, dimensions_doc, name, size)
        for name, size in zip(ids, sizes, strict=True)
    ]

    n_cells = math.prod(sizes)
    values = _read_values(source, doc.get("value"), n_cells, sizes)
    statuses = _read_status(source, doc.get("status"), n_cells)

    role = doc.get("role") if isinstance(doc.get("role"), Mapping) else {}
    region_i = _find_region(source, ids, role)
    if region_i is not None and region == "none":
        raise InputError(source, f"svaret har en regiondimensjon ({ids[region_i]}), men "
                         "tabellens metadata har ingen; forventet en landstabell",
                         column=f"dimension.{ids[region_i]}")
    time_i = _find_role(source, ids, role, "time", TIME_NAMES, "tidsdimensjon (Tid)")
    metric_i = _find_role(
        source, ids, role, "metric", METRIC_NAMES, "innholdsdimensjon (ContentsCode)"
    )

    table_id = _table_id(doc, source)
    dataset = f"ssb_{table_id}"

    # Pre-compute per-category parts so that the cell loop is cheap.
    time_dim = dims[time_i]
    periods = {code: _period(source, time_dim.name, code, sub_annual, sub_annual_hint)
               for code in time_dim.codes}
    metric_dim = dims[metric_i]
    units = {code: _unit(metric_dim, code) for code in metric_dim.codes}
    other = [i for i in range(len(dims)) if i not in (region_i, time_i, metric_i)]
    if region_i is None and region != "none":
        _refuse_hidden_region(source, [dims[i] for i in other], region)
    for i in other:
        for label in dims[i].labels.values():
            if "|" in label or "=" in label:
                raise InputError(
                    source,
                    f"kategorietiketten {label!r} inneholder '|' eller '=', som ikke kan lagres",
                    column=f"dimension.{dims[i].name}.category.label",
                )
    periode_taken = any(dims[i].name.lower() == "periode" for i in other)

    if periode_taken and any(p is not None for _, p in periods.values()):
        raise InputError(
            source, "kan ikke lagre periodekoden: tabellen har alt en dimensjon 'periode'",
            column=f"dimension.{time_dim.name}",
        )
    # Per position lookups, so that the cell loop does no dict work it can avoid.
    if region_i is None:
        region_codes, region_names, region_aside = ["0"], ["Hele landet"], [None]
    else:
        region_codes, region_aside = [], []
        for c in dims[region_i].codes:
            placed, reason = ssb_region(c, dims[region_i].labels[c])
            region_codes.append(placed)
            region_aside.append(reason)
        region_names = [dims[region_i].labels[c] for c in dims[region_i].codes]
    any_aside = any(r is not None for r in region_aside)
    aside: list[tuple[Observation, str]] = []
    time_parts = [periods[c] for c in time_dim.codes]
    # An interval (a cohort such as 2017-2023) whose end year no other period of the table
    # shares is stored under that year, the interval in the note, so that one selector
    # finds the series across years; only ambiguous periods become a dimension.
    ends = [y for y, p in time_parts]
    period_notes: list[str | None] = [None] * len(time_parts)
    for i, (code, (year, periode)) in enumerate(zip(time_dim.codes, time_parts, strict=True)):
        if periode is not None and _INTERVAL.match(code) and ends.count(year) == 1:
            time_parts[i] = (year, None)
            period_notes[i] = f"periode {code}"
    measures = [c.lower() for c in metric_dim.codes]
    unit_list = [units[c][0] for c in metric_dim.codes]
    scale_list = [units[c][1] for c in metric_dim.codes]
    other_keys = [dims[i].name.lower() for i in other]
    other_labels = [_distinct_labels(dims[i]) for i in other]

    observations: list[Observation] = []
    append = observations.append
    # The loop creates only acyclic objects; pausing the cyclic garbage collector stops
    # it from re-scanning the growing list (about twice as fast on 800,000 cells).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        # itertools.product walks the cube in JSON-stat's row-major order.
        for flat, pos in enumerate(itertools.product(*(range(s) for s in sizes))):
            year, periode = time_parts[pos[time_i]]
            period_note = period_notes[pos[time_i]]
            cell_dims = {
                key: labels[pos[i]] for key, labels, i in zip(other_keys, other_labels, other)
            }
            if periode is not None:
                cell_dims["periode"] = periode
            value = values[flat]
            status_mark = statuses.get(flat)
            if status_mark is None and value is not None:
                value_status_note: tuple[float | None, str, str | None] = (value, OK, None)
            else:
                value_status_note = _classify(source, flat, value, status_mark)
            if period_note is not None:
                note = value_status_note[2]
                value_status_note = (value_status_note[0], value_status_note[1],
                                     f"{note}; {period_note}" if note else period_note)
            r = pos[region_i] if region_i is not None else 0
            m = pos[metric_i]
            if scale_list[m] != 1.0 and value_status_note[0] is not None:
                # rounded back to the publisher's precision (0,377 × 1000 = 377, not …06)
                value_status_note = (round(value_status_note[0] * scale_list[m], 6),
                                     *value_status_note[1:])
            obs = Observation(
                dataset=dataset,
                measure=measures[m],
                region_code=region_codes[r],
                region_name=region_names[r],
                year=year,
                dims=cell_dims,
                unit=unit_list[m],
                value=value_status_note[0],
                status=value_status_note[1],
                status_note=value_status_note[2],
                row=flat + 1,
            )
            if any_aside and region_aside[r] is not None:
                aside.append((obs, region_aside[r]))
            else:
                append(obs)
    finally:
        if gc_was_enabled:
            gc.enable()

    if is_test_data(doc) and not settings.get().allow_test_data:
        raise InputError(
            source,
            "dette er testdata skrevet av Bli-atlas (extension.bliatlas.testdata), ikke tall fra "
            "SSB, og de skal ikke inn i en ekte database",
            column="extension.bliatlas.testdata",
        )
    notes = []
    if doc.get("label"):
        notes.append(str(doc["label"]))
    if doc.get("updated"):
        notes.append(f"oppdatert hos SSB {doc['updated']}")
    if fmt == FORMAT_V1:
        notes.append("JSON-stat 1.x (SSBs eldre «json-stat»-format), lest som 2.0")
    if region_i is None:
        notes.append(NATIONAL_NOTE)
    return ParsedSource(
        publisher=PUBLISHER,
        dataset=dataset,
        source=source,
        format=fmt,
        licence=LICENCE,
        observations=observations,
        notes=notes,
        aside=aside,
    )


def table_id_of(doc: Mapping[str, Any]) -> str | None:
    """The SSB table number a JSON-stat document names, or ``None``."""
    ext = doc.get("extension")
    if isinstance(ext, Mapping):
        px = ext.get("px")
        if isinstance(px, Mapping) and _TABLE_ID.match(str(px.get("tableid", ""))):
            return str(px["tableid"])
    label = doc.get("label")
    if isinstance(label, str):
        m = _TABLE_IN_LABEL.match(label)
        if m:
            return m.group(1)
    return None


def is_test_data(doc: Mapping[str, Any]) -> bool:
    """True for the project's own test fixtures (``extension.bliatlas.testdata``).

    They are refused unless ``BLI_ALLOW_TEST_DATA=1`` (set by the tests), so invented
    numbers never reach a real store.
    """
    ext = doc.get("extension")
    marker = ext.get("bliatlas") if isinstance(ext, Mapping) else None
    return isinstance(marker, Mapping) and marker.get("testdata") is True


def looks_like_jsonstat(doc: object) -> bool:
    """True for a JSON-stat 2.0 dataset or a JSON-stat 1.x response (routes
    ``bli import FILE.json``)."""
    return (
        isinstance(doc, Mapping)
        and doc.get("class") == "dataset"
        and "dimension" in doc
        and "value" in doc
    ) or looks_like_jsonstat1(doc)


def _v1_datasets(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(k): v for k, v in doc.items()
        if isinstance(v, Mapping) and isinstance(v.get("dimension"), Mapping)
        and "id" in v["dimension"] and "size" in v["dimension"]
    }


def looks_like_jsonstat1(doc: object) -> bool:
    """True for JSON-stat 1.x: a bundle ``{"dataset": {"dimension": {"id", "size", …}}}``
    without the 2.0 ``class``/``version`` keys."""
    return (
        isinstance(doc, Mapping)
        and "class" not in doc
        and not str(doc.get("version", "")).startswith("2")
        and bool(_v1_datasets(doc))
    )


def jsonstat1_to_2(doc: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A JSON-stat 1.x bundle with one dataset as a 2.0 dataset (``id``, ``size`` and
    ``role`` move from ``dimension`` to the top; nothing else changes)."""
    datasets = _v1_datasets(doc)
    if len(datasets) != 1:
        raise InputError(
            source,
            f"JSON-stat 1.x-samling med {len(datasets)} datasett ({', '.join(datasets)}); "
            "forventet ett datasett per fil (hent én tabell om gangen, helst som json-stat2)",
            column="dataset",
        )
    (ds,) = datasets.values()
    dim = ds["dimension"]
    out: dict[str, Any] = {k: v for k, v in ds.items() if k != "dimension"}
    out.update(version="2.0", **{"class": "dataset"})
    out["id"] = dim.get("id")
    out["size"] = dim.get("size")
    if isinstance(dim.get("role"), Mapping):
        out["role"] = dim["role"]
    out["dimension"] = {k: v for k, v in dim.items() if k not in ("id", "size", "role")}
    return out


# -- helpers ---------------------------------------------------------------------------


def _table_id(doc: Mapping[str, Any], source: str) -> str:
    found = table_id_of(doc)
    if found:
        return found
    stem = re.sub(r"\.json$", "", str(source).rsplit("/", 1)[-1], flags=re.IGNORECASE)
    m = re.search(r"(?<!\d)(\d{5})(?!\d)", stem)
    if m:
        return m.group(1)
    raise InputError(
        source,
        "fant ikke SSB-tabellnummeret: forventet extension.px.tableid, en etikett som "
        "begynner med '12345:' eller et filnavn med tabellnummeret",
        column="extension.px.tableid",
    )


def _read_dimension(
    source: str, dimensions_doc: Mapping[str, Any], name: str, size: int
) -> _Dimension:
    field = f"dimension.{name}"
    dim = dimensions_doc.get(name)
    if dim is None:
        raise InputError(
            source, f"dimensjonen {name!r} står i 'id', men mangler i 'dimension'", column=field
        )
    if not isinstance(dim, Mapping) or not isinstance(dim.get("category"), Mapping):
        raise InputError(source, "forventet et objekt med 'category'", column=field)
    category = dim["category"]
    index = category.get("index")
    raw_labels = category.get("label")
    labels_in = raw_labels if isinstance(raw_labels, Mapping) else {}
    if raw_labels is not None and not isinstance(raw_labels, Mapping):
        raise InputError(
            source, "forventet et objekt {kode: etikett}", column=f"{field}.category.label"
        )

    if index is None:
        # JSON-stat 2.0 allows a single-category dimension to give only a label.
        if len(labels_in) != 1:
            raise InputError(
                source,
                "forventet 'category.index' (påkrevd når dimensjonen har mer enn én kategori)",
                column=f"{field}.category.index",
            )
        codes = [str(next(iter(labels_in)))]
    elif isinstance(index, list):
        codes = [str(c) for c in index]
        if len(set(codes)) != len(codes):
            raise InputError(source, "samme kategorikode står flere ganger",
                             column=f"{field}.category.index")
    elif isinstance(index, Mapping):
        codes_at: list[str | None] = [None] * len(index)
        for code, pos in index.items():
            if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos < len(index):
                raise InputError(
                    source,
                    f"kategorien {code!r} har posisjon {pos!r}; forventet et heltall fra 0 til "
                    f"{len(index) - 1}",
                    column=f"{field}.category.index",
                )
            if codes_at[pos] is not None:
                raise InputError(
                    source, f"posisjon {pos} er brukt av både {codes_at[pos]!r} og {code!r}",
                    column=f"{field}.category.index",
                )
            codes_at[pos] = str(code)
        codes = [c for c in codes_at if c is not None]
    else:
        raise InputError(source, "forventet en liste eller et objekt",
                         column=f"{field}.category.index")

    if len(codes) != size:
        raise InputError(
            source,
            f"'size' sier {size} kategorier for {name!r}, men 'category.index' har {len(codes)}",
            column=f"{field}.category.index",
        )
    labels = {code: str(labels_in.get(code, code)) for code in codes}
    units: dict[str, str] = {}
    unit_doc = category.get("unit")
    if isinstance(unit_doc, Mapping):
        for code, meta in unit_doc.items():
            if isinstance(meta, Mapping):
                base = meta.get("base") or meta.get("label")
                if base:
                    units[str(code)] = str(base)
    return _Dimension(name=name, codes=codes, labels=labels, units=units)


def _distinct_labels(dim: _Dimension) -> list[str]:
    """Category labels in index order; a label two codes share gets its code appended,
    so that two cells never collapse onto one stored key."""
    labels = [dim.labels[c] for c in dim.codes]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        f"{label} ({code})" if seen[label] > 1 else label
        for code, label in zip(dim.codes, labels, strict=True)
    ]


def _read_values(
    source: str, raw: object, n_cells: int, sizes: Sequence[int]
) -> list[float | None]:
    def check(pos: int, v: object) -> float | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(
                source,
                f"verdi nr. {pos + 1} er {v!r}; forventet et tall eller null",
                column="value",
            )
        return float(v)

    if isinstance(raw, list):
        if len(raw) != n_cells:
            raise InputError(
                source,
                f"'size' {list(sizes)} gir {n_cells} celler, men 'value' har {len(raw)} verdier",
                column="value",
            )
        return [check(i, v) for i, v in enumerate(raw)]
    if isinstance(raw, Mapping):
        out: list[float | None] = [None] * n_cells
        for key, v in raw.items():
            pos = _sparse_position(source, key, n_cells, "value")
            out[pos] = check(pos, v)
        return out
    raise InputError(source, "forventet 'value' som liste eller objekt", column="value")


def _read_status(source: str, raw: object, n_cells: int) -> dict[int, str]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        return dict.fromkeys(range(n_cells), raw)
    if isinstance(raw, list):
        if len(raw) == 1:
            return dict.fromkeys(range(n_cells), str(raw[0])) if raw[0] is not None else {}
        if len(raw) != n_cells:
            raise InputError(
                source,
                f"'status' har {len(raw)} merker; forventet {n_cells} (én per celle) eller 1",
                column="status",
            )
        return {i: str(s) for i, s in enumerate(raw) if s is not None}
    if isinstance(raw, Mapping):
        return {
            _sparse_position(source, key, n_cells, "status"): str(s)
            for key, s in raw.items()
            if s is not None
        }
    raise InputError(source, "forventet 'status' som tekst, liste eller objekt", column="status")


def _sparse_position(source: str, key: object, n_cells: int, field: str) -> int:
    try:
        pos = int(str(key))
    except ValueError:
        raise InputError(
            source, f"nøkkelen {key!r} er ikke et celletall", column=field
        ) from None
    if not 0 <= pos < n_cells:
        raise InputError(
            source, f"celle {pos} finnes ikke; datasettet har celler 0–{n_cells - 1}", column=field
        )
    return pos


def _find_region(source: str, ids: Sequence[str], role: Mapping[str, Any]) -> int | None:
    """The region dimension (role.geo, ``Region`` or a KOSTRA region variable), or None for
    a national table without one."""
    declared = role.get("geo")
    if isinstance(declared, list) and [d for d in declared if d in ids]:
        return _find_role(source, ids, role, "geo", REGION_NAMES, "regiondimensjon (Region)")
    for i, name in enumerate(ids):
        low = name.lower()
        if low in REGION_NAMES or _KOSTRA_REGION.match(low):
            return i
    return None


_REGIONISH_CODE = re.compile(r"^(\d{4}|[KF]-\S+|EAK\w*|EK[AG]\d{2})$")
_REGIONISH_NAME = re.compile(r"region|kommun|fylke|område|omrade", re.IGNORECASE)


def _refuse_hidden_region(source: str, others: Sequence[_Dimension], region: str) -> None:
    """No region dimension: refuse if the table should have one, or if another dimension
    looks like regions (a renamed ``Region``), rather than store it as national."""
    if region == "required":
        raise InputError(
            source, "fant ingen regiondimensjon (Region eller KOKkommuneregion0000), men "
            "tabellens metadata har en; formatet er endret", column="id")
    for dim in others:
        codes = dim.codes
        looks = len(codes) > 1 and sum(bool(_REGIONISH_CODE.match(c)) for c in codes) >= (
            0.8 * len(codes))
        if looks or _REGIONISH_NAME.search(dim.name):
            raise InputError(
                source,
                f"fant ingen regiondimensjon (Region eller KOKkommuneregion0000), men "
                f"dimensjonen {dim.name!r} ser ut som regioner; forventet den under navnet "
                "Region eller som role.geo",
                column="id",
            )


def _find_role(
    source: str,
    ids: Sequence[str],
    role: Mapping[str, Any],
    role_name: str,
    names: Sequence[str],
    what: str,
) -> int:
    declared = role.get(role_name)
    if isinstance(declared, list):
        hits = [d for d in declared if d in ids]
        if len(hits) == 1:
            return ids.index(hits[0])
        if len(hits) > 1:
            raise InputError(
                source, f"role.{role_name} peker på flere dimensjoner {hits}; forventet én",
                column=f"role.{role_name}",
            )
    for i, name in enumerate(ids):
        if name.lower() in names:
            return i
    raise InputError(
        source, f"fant ingen {what}; forventet role.{role_name} eller en dimensjon med det navnet",
        column="id",
    )


def _period(source: str, dim_name: str, code: str, sub_annual: str,
            hint: str = "--sub-annual keep") -> tuple[int, str | None]:
    field = f"dimension.{dim_name}.category.index"
    m = _YEAR.match(code)
    if m:
        return int(m.group(1)), None
    m = _INTERVAL.match(code)
    if m:
        start, end = int(m.group(1)), int(m.group(2))
        if end < start:
            raise InputError(source, f"tidsintervallet {code!r} slutter før det begynner",
                             column=field)
        return end, code
    m = _SUB_ANNUAL.match(code)
    if m:
        if sub_annual == "keep":
            return int(m.group(1)), code
        raise InputError(
            source,
            f"perioden {code!r} er kortere enn et år (kvartal/måned/uke/halvår); Bli-atlas "
            "lagrer årstall. Velg årstall, eller be uttrykkelig om å beholde delperiodene "
            f"({hint}) slik at perioden lagres som egen dimensjon",
            column=field,
        )
    raise InputError(
        source,
        f"ukjent tidskode {code!r}; forventet et årstall (2024), et intervall (2017-2023) "
        "eller en delperiode (2024K1, 2024M01)",
        column=field,
    )


def _unit(metric: _Dimension, code: str) -> tuple[str, float]:
    """The stored unit of a measure and the factor its values are multiplied by."""
    raw = metric.units.get(code)
    if not raw:
        return "ukjent enhet", 1.0
    clean = " ".join(raw.split())
    scaled = UNIT_SCALES.get(clean.lower())
    if scaled is not None:
        return scaled
    return UNIT_ALIASES.get(clean.lower(), clean), 1.0


def _classify(
    source: str, flat: int, value: float | None, status: str | None
) -> tuple[float | None, str, str | None]:
    symbol = status.strip() if status is not None else None
    if symbol in SSB_SUPPRESSED:
        return None, SUPPRESSED, SSB_SUPPRESSED[symbol]
    if symbol in SSB_MISSING:
        return None, MISSING, SSB_MISSING[symbol]
    if symbol in SSB_ZERO:
        if value not in (None, 0.0):
            raise InputError(
                source,
                f"celle {flat + 1} har statusmerket '-' (null), men verdien {value:g}",
                column="status",
            )
        return 0.0, OK, SSB_ZERO[symbol]
    if value is None:
        note = f"ingen verdi (status {symbol!r})" if symbol else None
        return None, MISSING, note
    return value, OK, (f"status {symbol!r}" if symbol else None)
