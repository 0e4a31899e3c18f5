"""The indicator catalogue: indicators defined as data (``catalogue.yaml``), validated here.

An indicator is a numerator and (optionally) a denominator over stored measures. Each
side is a list of *terms* that are added; a term is a list of alternative *selectors*
tried in priority order (the first source that has the region and year wins), so one
indicator can join series from several publishers without double counting. A selector
names ``dataset``, ``measure``, ``unit`` and the full set of ``dims`` (every dimension key
the measure carries; a list of values means "add these cells").

Kinds:

* ``count``  — the numerator alone (persons, NOK); aggregates are sums.
* ``ratio``  — ``multiplier * numerator / denominator``; aggregates are recomputed from
  summed numerators and denominators, never by averaging rates.
* ``published`` — a rate the publisher computed (e.g. a county's employment rate) that
  cannot be re-aggregated; shown only at the level it was published for.
* ``difference`` — ``multiplier * (A − B)`` of two other indicators (``difference_of:
  [A, B]``) for the same region, level and year, e.g. the gap in percentage points between
  two shares. It exists wherever both do (at every level if they aggregate), is
  suppressed where either is, and adds nothing a user could not already subtract.

Years available are not typed here: the engine reports the years the store holds.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bliatlas.errors import InputError, NotFound

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")

Direction = Literal["higher_better", "lower_better", "neutral"]


class Selector(BaseModel):
    """One stored series: ``observation`` rows matching all fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    measure: str
    unit: str
    dims: dict[str, str | list[str]] = Field(default_factory=dict)
    count: bool = False  # count the 'ok' cells instead of adding their values
    # A part of a sum the publisher leaves out counts as 0 (only where the source says an
    # absent cell means none, e.g. IMDi's country export, whose '.' is "no persons" and is
    # not stored). Without it a sum with a part absent is missing.
    absent_is_zero: bool = False

    def dims_strings(self) -> list[str]:
        """The canonical ``dims`` strings this selector adds up (``k=v|k=v`` sorted)."""
        combos: list[list[tuple[str, str]]] = [[]]
        for key in sorted(self.dims):
            values = self.dims[key]
            values = [values] if isinstance(values, str) else values
            combos = [c + [(key, v)] for c in combos for v in values]
        return ["|".join(f"{k}={v}" for k, v in c) for c in combos]

    def describe(self) -> str:
        def shown(v: str | list[str]) -> str:
            if isinstance(v, str):
                return v
            if len(v) > 6:                  # e.g. 195 countries: name the first few
                return f"{len(v)} verdier ({', '.join(v[:3])} …)"
            return "+".join(v)

        dims = ", ".join(f"{k}={shown(v)}" for k, v in sorted(self.dims.items()))
        return f"{self.dataset}/{self.measure} ({self.unit}{'; ' + dims if dims else ''})"


class Term(BaseModel):
    """Alternative sources for one addend, in priority order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    any_of: list[Selector] = Field(min_length=1)


def _as_terms(value: Any) -> Any:
    """Accept a selector, a term, or a list of either, and return a list of terms."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and "any_of" not in item:
            out.append({"any_of": [item]})
        else:
            out.append(item)
    return out


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    topic: str
    name_nb: str
    name_en: str
    definition: str
    kind: Literal["count", "ratio", "published", "difference"]
    numerator: list[Term] = Field(default_factory=list)
    denominator: list[Term] | None = None
    difference_of: list[str] | None = Field(default=None, min_length=2, max_length=2)
    multiplier: float = 1.0
    unit: str  # Norwegian, as shown to users: "per 1 000 innbyggere", "prosent", ...
    change_unit: str | None = None  # unit of a change over time; "prosentpoeng" for shares
    decimals: int = Field(default=1, ge=0, le=3)
    direction: Direction
    base_level: Literal["kommune", "fylke"] = "kommune"
    aggregation: Literal["sum", "none"] = "sum"
    min_coverage: float = Field(default=0.8, ge=0, le=1)
    sources: list[str] = Field(min_length=1)
    caveats: list[str] = Field(default_factory=list)

    _normalise_num = field_validator("numerator", mode="before")(_as_terms)
    _normalise_den = field_validator("denominator", mode="before")(_as_terms)

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.kind == "difference":
            if not self.difference_of or self.numerator or self.denominator:
                raise ValueError("kind 'difference' takes difference_of: [A, B] and no "
                                 "numerator or denominator")
            return self
        if self.difference_of:
            raise ValueError("difference_of is only for kind 'difference'")
        if not self.numerator:
            raise ValueError(f"kind {self.kind!r} needs a numerator")
        if self.kind == "ratio" and not self.denominator:
            raise ValueError("kind 'ratio' needs a denominator")
        if self.kind in ("count", "published") and self.denominator:
            raise ValueError(f"kind {self.kind!r} takes no denominator")
        if self.kind == "published" and self.aggregation != "none":
            raise ValueError("kind 'published' cannot be aggregated (aggregation: none)")
        return self

    @property
    def change_unit_nb(self) -> str:
        return self.change_unit or self.unit


class Partition(BaseModel):
    """Indicators whose numerators add up to their common denominator (the total).

    Used for secondary suppression: if exactly one member is suppressed where the total
    is published, a second member must be suppressed, or the first could be recovered
    as total minus the rest.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    members: list[str] = Field(min_length=2)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    indicators: list[Indicator] = Field(min_length=1)
    partitions: list[Partition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_and_known(self) -> Catalogue:
        seen: set[str] = set()
        for ind in self.indicators:
            if ind.id in seen:
                raise ValueError(f"indicator id {ind.id!r} appears twice")
            seen.add(ind.id)
        for ind in self.indicators:
            for part in ind.difference_of or []:
                if part not in seen or part == ind.id:
                    raise ValueError(f"indicator {ind.id!r}: difference_of names unknown "
                                     f"indicator {part!r}")
                if self.get(part).kind == "difference":
                    raise ValueError(f"indicator {ind.id!r}: difference_of {part!r} is itself "
                                     "a difference")
        for part in self.partitions:
            for member in part.members:
                if member not in seen:
                    raise ValueError(f"partition {part.id!r}: unknown indicator {member!r}")
            dens = {
                json.dumps([t.model_dump() for t in self.get(m).denominator or []])
                for m in part.members
            }
            if len(dens) != 1 or dens == {"[]"}:
                raise ValueError(f"partition {part.id!r}: members must share one denominator")
        return self

    def get(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise NotFound(f"ukjent indikator {indicator_id!r}; se `bli indicators list`")

    @property
    def ids(self) -> list[str]:
        return [ind.id for ind in self.indicators]


def parse_catalogue(data: Any, path: str | Path = "catalogue.yaml") -> Catalogue:
    """Validate catalogue data; errors name the file, the indicator and the field."""
    if not isinstance(data, dict):
        raise InputError(str(path), "forventet en YAML-tabell med nøkkelen 'indicators'")
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(x) for x in loc)
            if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int):
                items = data.get("indicators") or []
                if loc[1] < len(items) and isinstance(items[loc[1]], dict):
                    where = f"indikator {items[loc[1]].get('id', loc[1])!r}, felt " + ".".join(
                        str(x) for x in loc[2:]
                    )
            problems.append(f"{where}: {err['msg']}")
        raise InputError(str(path), "ugyldig katalog: " + "; ".join(problems)) from None


def load_catalogue_file(path: str | Path) -> Catalogue:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"ikke gyldig YAML: {exc}") from None
    return parse_catalogue(data, path)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The packaged catalogue."""
    return load_catalogue_file(CATALOGUE_PATH)
