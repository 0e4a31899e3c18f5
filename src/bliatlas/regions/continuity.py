"""A continuity check over the whole change table: does the territory add up across a reform?

A merger moves whole municipalities, so in a *stock* series (people living somewhere on
1 January) the predecessors' sum in the last year before the merger must be close to the
successor's value in its first year. Where a predecessor was split (Tysfjord, Snillfjord,
the 2020–2023 Ålesund), each successor must lie between "none of the split territory" and
"all of it", and all successors together must add up to all predecessors together.

The check is run on the raw series as published (old and new codes side by side, before
anything is summed), for every successor in :mod:`bliatlas.regions.crosswalk`'s change
table and every reform year the series covers. A failing pair names the codes and years,
e.g. ``K1227 Jondal + K4622 Kvam 2019: 945 → K4622 Kvam 2020: 870``. This is how the
Jondal → Kvam error (it went to Ullensvang) shows itself: Kvam's adult population falls by
11 % and Ullensvang's grows by 9 % in one year.

The expected change is the series' own national change that year (the sum over all codes),
so growth is not mistaken for a wrong mapping; the tolerance is stated per series in
:data:`STOCK_SERIES`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bliatlas.format import fmt_int, fmt_num
from bliatlas.regions.crosswalk import Crosswalk, clean_code


@dataclass(frozen=True)
class StockSeries:
    """A stored series that is a stock (so continuous across a reform) and its tolerance."""

    dataset: str
    measure: str
    unit: str
    dims: Mapping[str, str]
    tolerance: float  # relative deviation from the national change that year
    label: str


# The adult population of the education statistics moves by at most a few per cent a year
# in a municipality; immigrant counts move more (reception centres open and close).
STOCK_SERIES: tuple[StockSeries, ...] = (
    StockSeries("imdi_utdanningsniva", "befolkning", "personer",
                {"bakgrunn": "Hele befolkningen", "kjonn": "Alle", "utdanningsniva": "alle"},
                0.05, "befolkningen i utdanningsstatistikken"),
    StockSeries("imdi_innvandringsgrunn", "innvandrere", "personer",
                {"innvandringsgrunn": "Alle", "kjonn": "Alle"}, 0.10, "innvandrere"),
)

Series = Mapping[tuple[str, str], Mapping[int, float]]  # (published code, name) -> year -> value


@dataclass(frozen=True)
class Continuity:
    """One reform step checked: the territory of ``target`` before and after ``year``."""

    target: str                      # 2024 code (or '+'-joined codes for a split as a whole)
    target_name: str
    year: int                        # last year before the change
    before: tuple[tuple[str, float], ...]    # (published code and name, value in ``year``)
    split_before: tuple[tuple[str, float], ...]  # split predecessors (part may belong here)
    after: tuple[tuple[str, float], ...]     # (published code and name, value in year + 1)
    expected_low: float
    expected_high: float
    observed: float
    deviation: float                 # 0 inside the expected range, else relative distance
    tolerance: float
    series: str

    @property
    def passed(self) -> bool:
        return abs(self.deviation) <= self.tolerance

    def message(self) -> str:
        """Norwegian, naming the codes and years: what was expected and what was found."""
        before = " + ".join(c for c, _ in self.before)
        parts = f"{before}: {fmt_int(sum(v for _, v in self.before))}"
        if self.split_before:
            parts += " (+ delt: " + ", ".join(f"{c} {fmt_int(v)}" for c, v in self.split_before)
            parts += ")"
        after = " + ".join(c for c, _ in self.after)
        return (
            f"{self.series}, {self.target_name} ({self.target}): {parts} i {self.year} → "
            f"{after}: {fmt_int(self.observed)} i {self.year + 1}; forventet "
            f"{fmt_int(self.expected_low)}"
            + (f"–{fmt_int(self.expected_high)}" if self.expected_high != self.expected_low
               else "")
            + f" etter landets endring, avvik {fmt_num(100 * self.deviation, 1)} % "
            f"(toleranse ±{fmt_num(100 * self.tolerance, 0)} %)"
        )


def _label(code: str, name: str) -> str:
    return f"{code} {name}".strip()


def check_continuity(series: Series, crosswalk: Crosswalk, tolerance: float,
                     label: str = "serien") -> list[Continuity]:
    """Every reform step the series can show, for every successor in the change table.

    ``series`` is keyed by the code and name as published (``('K1227', 'Jondal (t.o.m.
    2019)')``). Steps where the series has no value on one side are skipped: a check needs
    a series that has both.
    """
    changes = crosswalk.changes
    assigned: dict[str, list[tuple[str, str]]] = defaultdict(list)
    splits: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, name in series:
        res = crosswalk.resolve(code, name)
        if res.assigned and res.kind in ("current", "renumbered", "merged"):
            assigned[res.targets[0]].append((code, name))
        elif res.kind == "split":
            for successor in res.successors:
                splits[successor].append((code, name))
    totals: dict[int, float] = defaultdict(float)
    for key, values in series.items():
        res = crosswalk.resolve(*key)
        if res.assigned or res.kind == "split":
            for year, value in values.items():
                totals[year] += value

    def value(key: tuple[str, str], year: int) -> float | None:
        return series[key].get(year)

    def growth(year: int) -> float:
        return totals[year + 1] / totals[year] if totals.get(year) and totals.get(year + 1) \
            else 1.0

    def change_year(key: tuple[str, str]) -> int | None:
        change = changes.get(clean_code(key[0]))
        return change.last_year if change is not None else None

    out: list[Continuity] = []

    def judge(target: str, name: str, year: int, before: list, split_before: list,
              after: list) -> None:
        if not after or not (before or split_before):
            return
        g = growth(year)
        low = sum(v for _, v in before) * g
        high = low + sum(v for _, v in split_before) * g
        observed = sum(v for _, v in after)
        if observed < low:
            dev = observed / low - 1 if low else 1.0
        elif observed > high:
            dev = observed / high - 1 if high else 1.0
        else:
            dev = 0.0
        out.append(Continuity(target, name, year, tuple(before), tuple(split_before),
                              tuple(after), low, high, observed, dev, tolerance, label))

    for target in sorted(set(assigned) | set(splits)):
        codes = assigned.get(target, [])
        years = {change_year(k) for k in codes} | {change_year(k) for k in splits.get(target, [])}
        for year in sorted(y for y in years if y is not None):
            before = [(_label(*k), v) for k in codes
                      if (change_year(k) or year) >= year and (v := value(k, year)) is not None]
            split_before = [(_label(*k), v) for k in splits.get(target, [])
                            if change_year(k) == year and (v := value(k, year)) is not None]
            # Codes that continue or start after the change; a predecessor with a value
            # after its last year would be a back-cast and is not counted twice.
            after = [(_label(*k), v) for k in codes
                     if (change_year(k) or year + 1) > year
                     and (v := value(k, year + 1)) is not None]
            target_name = crosswalk.registry.municipalities[target].name \
                if target in crosswalk.registry.municipalities else target
            judge(target, target_name, year, before, split_before, after)

    # A split as a whole: all its successors together against all their predecessors.
    for split_key in {k for keys in splits.values() for k in keys}:
        year = change_year(split_key)
        if year is None:
            continue
        res = crosswalk.resolve(*split_key)
        members = sorted({k for s in res.successors for k in assigned.get(s, [])})
        others = sorted({k for s in res.successors for k in splits.get(s, [])
                         if change_year(k) == year})
        before = [(_label(*k), v) for k in [*members, *others]
                  if (change_year(k) is None or change_year(k) >= year)
                  and (v := value(k, year)) is not None]
        after = [(_label(*k), v) for k in members
                 if (change_year(k) is None or change_year(k) > year)
                 and (v := value(k, year + 1)) is not None]
        names = " + ".join(crosswalk.registry.municipalities[s].name for s in res.successors)
        judge("+".join(res.successors), names, year, before, [], after)
    return out


def series_from_observations(observations: Iterable, stock: StockSeries) -> dict:
    """The raw ``(code, name) → year → value`` series of one stock from parsed observations."""
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for o in observations:
        if (o.measure == stock.measure and o.unit == stock.unit and o.value is not None
                and o.status == "ok" and o.dims == stock.dims):
            out[(o.region_code, o.region_name)][o.year] = float(o.value)
    return out


def failures(results: Iterable[Continuity]) -> list[Continuity]:
    return [r for r in results if not r.passed]
