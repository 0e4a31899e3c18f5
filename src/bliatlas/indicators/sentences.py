"""Short factual Norwegian sentences generated from cube values.

Every number in a sentence is read from the cube (a stored or computed value); nothing
is written by hand per municipality. Numbers are formatted the Norwegian way (space as
thousands separator, decimal comma). A suppressed value is never written as a number:
counts the publisher hid are worded "færre enn 5 (skjermet)", other hidden values
"skjermet". A total with suppressed members is an interval and is worded as one: "mellom
2 890 og 2 906; 4 kommuner er skjermet" (the lower bound rounded down, the upper up).
"""

from __future__ import annotations

import math
from typing import Any

from bliatlas.format import fmt_num, fmt_signed
from bliatlas.indicators.catalogue import Catalogue, Indicator
from bliatlas.indicators.compare import Comparison, rank_text
from bliatlas.indicators.engine import RegionFacts
from bliatlas.privacy import SUPPRESSION_NOTE  # noqa: F401 (re-exported; defined there)
from bliatlas.published import INTERVAL, MISSING, OK, SUPPRESSED, Cell

SUPPRESSED_COUNT_NB = "færre enn 5 (skjermet)"
SUPPRESSED_NB = "skjermet"
MISSING_NB = "mangler"
# What the two counts of settled refugees count (the panel has both for 2024).
SETTLED_NB = "flyktninger bosatt i kommunen i løpet av året"
SETTLED_AGAINST_REQUEST_NB = ("IMDis opptelling av bosatte mot årets anmodning og vedtak, "
                              "som kan avvike fra antall bosatte i året")


def format_number(value: float, decimals: int = 0) -> str:
    """``12345.678, 1`` → ``'12 345,7'`` (space thousands separator, decimal comma); a
    missing value is "mangler" in a sentence."""
    return fmt_num(value, decimals, missing=MISSING_NB)


def format_signed(value: float, decimals: int = 0) -> str:
    return fmt_signed(value, decimals, missing=MISSING_NB)


def _down(value: float, decimals: int) -> float:
    return math.floor(value * 10 ** decimals + 1e-9) / 10 ** decimals


def _up(value: float, decimals: int) -> float:
    return math.ceil(value * 10 ** decimals - 1e-9) / 10 ** decimals


def interval_bounds_text(cell: Cell, decimals: int) -> tuple[str, str | None]:
    """The bounds as shown: lower rounded down, upper rounded up (never narrower)."""
    lo = format_number(_down(cell.lower, decimals), decimals)
    hi = None if cell.upper is None else format_number(_up(cell.upper, decimals), decimals)
    return lo, hi


def is_primary_count_suppression(cell: Cell, indicator: Indicator) -> bool:
    """A hidden count that is one published cell (so "færre enn 5" is true); a sum over
    several cells of which one is hidden (e.g. immigrants over all countries) is not."""
    return (
        cell.status == SUPPRESSED
        and indicator.kind == "count"
        and cell.level == "kommune"
        and (cell.reason or "").startswith("Skjermet: bygger på")
        and len(indicator.numerator) == 1
        and all(len(sel.dims_strings()) == 1 for sel in indicator.numerator[0].any_of)
    )


def format_cell(cell: Cell | None, indicator: Indicator) -> str:
    """The value of a cell as text for a table: a number, an interval ``2 890–2 906`` (or
    ``minst 1 234``), or the suppression or missing value worded."""
    if cell is None or cell.status == MISSING:
        return MISSING_NB
    if cell.status == INTERVAL:
        lo, hi = interval_bounds_text(cell, indicator.decimals)
        return f"{lo}–{hi}" if hi is not None else f"minst {lo}"
    if cell.status == SUPPRESSED:
        return SUPPRESSED_COUNT_NB if is_primary_count_suppression(cell, indicator) else SUPPRESSED_NB
    return format_number(cell.value, indicator.decimals)


def interval_phrase(cell: Cell, indicator: Indicator) -> str:
    """``'mellom 2 890 og 2 906; 4 kommuner er skjermet'``."""
    lo, hi = interval_bounds_text(cell, indicator.decimals)
    what = f"mellom {lo} og {hi}" if hi is not None else f"minst {lo}"
    n = cell.n_suppressed
    return f"{what}; {n} {'kommune er' if n == 1 else 'kommuner er'} skjermet"


def format_with_unit(cell: Cell | None, indicator: Indicator) -> str:
    text = format_cell(cell, indicator)
    if cell is None or cell.status not in (OK, INTERVAL):
        return text
    return f"{text} {indicator.unit}"


class _Facts:
    """A region's cells (:class:`RegionFacts`, fetched once by the caller) as the sentences
    read them: by indicator and year, formatted, with the pending interval clauses."""

    def __init__(self, facts: RegionFacts, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.by_key = facts.by_key
        self.pending: list[str] = []

    def latest(self, indicator: str) -> int | None:
        years = [y for (i, y), c in self.by_key.items() if i == indicator and c.status != MISSING]
        return max(years) if years else None

    def cell(self, indicator: str, year: int | None) -> Cell | None:
        return None if year is None else self.by_key.get((indicator, year))

    def ok(self, indicator: str, year: int | None) -> bool:
        cell = self.cell(indicator, year)
        return cell is not None and cell.status == OK

    def known(self, indicator: str, year: int | None) -> bool:
        """Exact, or an interval: a number can be said."""
        cell = self.cell(indicator, year)
        return cell is not None and cell.has_value

    def text(self, indicator: str, year: int | None) -> str:
        return format_cell(self.cell(indicator, year), self.catalogue.get(indicator))

    def amount(self, indicator: str, year: int | None, unit: str = "") -> str:
        """An exact value, or the interval worded for a sentence (``mellom 2 890 og 2 906``);
        how many are suppressed is said at the end of the sentence (:meth:`end`)."""
        cell = self.cell(indicator, year)
        ind = self.catalogue.get(indicator)
        unit_text = f" {unit}" if unit else ""
        if cell is not None and cell.status == INTERVAL:
            lo, hi = interval_bounds_text(cell, ind.decimals)
            n = cell.n_suppressed
            clause = f"{n} {'kommune er' if n == 1 else 'kommuner er'} skjermet"
            if clause not in self.pending:
                self.pending.append(clause)
            return (f"mellom {lo} og {hi}" if hi is not None else f"minst {lo}") + unit_text
        return format_cell(cell, ind) + unit_text

    def end(self, sentence: str) -> str:
        """Close a sentence, with the suppressed members its intervals leave out."""
        clauses, self.pending = self.pending, []
        return sentence + "".join(f"; {c}" for c in clauses) + "."


def _year_text(year: int) -> str:
    return f"i {year}" if year else "(referanseår ikke oppgitt i kilden)"


def region_sentences(facts: RegionFacts, catalogue: Catalogue,
                     peer: tuple[Cell, list[Comparison]] | None = None) -> list[str]:
    """Factual sentences about one municipality or county, newest data first, from the
    region's cells (``facts``) and, for a municipality, its latest settled-per-1 000 cell
    with that cell's comparisons (``peer``; :func:`bliatlas.indicators.profile.sentences_for`
    gathers both)."""
    name = facts.name
    county = facts.level != "kommune"
    subject = f"Kommunene i {name}" if county else name
    f = _Facts(facts, catalogue)
    out: list[str] = []

    def hidden(indicator: str, year: int, what: str) -> str:
        cell = f.cell(indicator, year)
        if cell is not None and is_primary_count_suppression(cell, catalogue.get(indicator)):
            return f"{what} {_year_text(year)} var {SUPPRESSED_COUNT_NB}."
        if cell is not None and cell.status == SUPPRESSED:
            return (
                f"{what} {_year_text(year)} er skjermet fordi tallet ville avsløre "
                "et skjermet tall."
            )
        return f"{what} {_year_text(year)} mangler."

    pop = "folkemengde_1_januar"
    year = f.latest(pop)
    if year is not None and f.ok(pop, year):
        s = f"{name} hadde {f.text(pop, year)} innbyggere 1. januar {year}."
        # the change within the latest figure's own source (not across a join of sources)
        source = f.cell(pop, year).source
        first = min((y for (i, y), c in f.by_key.items()
                     if i == pop and c.ok and c.source == source), default=None)
        if first is not None and first < year:
            change = f.cell(pop, year).value - f.cell(pop, first).value
            s = s[:-1] + f" ({format_signed(change)} siden {first})."
        out.append(s)

    settled_year = f.latest("bosatte_flyktninger")
    if settled_year is not None:
        year = settled_year
        if f.known("bosatte_flyktninger", year):
            s = (f"{subject} bosatte {f.amount('bosatte_flyktninger', year, 'flyktninger')} "
                 f"{_year_text(year)} ({SETTLED_NB})")
            if f.ok("bosatte_per_1000", year):
                s += f", {f.text('bosatte_per_1000', year)} per 1 000 innbyggere"
            s = f.end(s)
            if f.ok("ukrainere_andel", year):
                s += f" {f.text('ukrainere_andel', year)} prosent av dem kom fra Ukraina."
        else:
            s = hidden("bosatte_flyktninger", year, f"Antall bosatte flyktninger i {name}")
        out.append(s)

    year = f.latest("anmodning")
    if year is not None and f.known("anmodning", year):
        whom = f"kommunene i {name}" if county else "kommunen"
        s = (
            f"IMDi anmodet {whom} om å bosette {f.amount('anmodning', year)} flyktninger "
            f"{_year_text(year)}"
        )
        if f.known("vedtak", year):
            s += f", og {'kommunene' if county else 'kommunen'} vedtok å bosette "
            s += f"{f.amount('vedtak', year)}"
        s = f.end(s)
        if f.known("bosatt_etter_anmodning", year):
            t = f" Bosatt mot anmodningen: {f.amount('bosatt_etter_anmodning', year)}"
            if f.ok("bosatt_andel_av_vedtak", year):
                t += f", {f.text('bosatt_andel_av_vedtak', year)} prosent av vedtaket"
            s += f.end(t)
            if year == settled_year and f.known("bosatte_flyktninger", year):
                s += f" Dette er {SETTLED_AGAINST_REQUEST_NB}."
        elif f.cell("bosatt_etter_anmodning", year) is not None:
            s += " " + hidden("bosatt_etter_anmodning", year, "Antall bosatt mot anmodningen")
        out.append(s)

    year = f.latest("enslige_mindreaarige")
    if year is not None:
        if f.known("enslige_mindreaarige", year):
            out.append(f.end(
                f"{subject} bosatte {f.amount('enslige_mindreaarige', year)} enslige mindreårige "
                f"flyktninger {_year_text(year)}"
            ))
        else:
            out.append(
                hidden("enslige_mindreaarige", year, f"Antall enslige mindreårige bosatt i {name}")
            )

    year = f.latest("fastlege_venteliste_per_1000")
    if year is not None and f.ok("fastlege_venteliste_per_1000", year):
        cell = f.cell("fastlege_venteliste_per_1000", year)
        if cell.numerator == 0:
            s = f"Ingen i {name} sto på venteliste til fastlege {_year_text(year)}"
        else:
            s = (
                f"{format_number(cell.numerator)} personer i {name} sto på venteliste til "
                f"fastlege {_year_text(year)}, "
                f"{f.text('fastlege_venteliste_per_1000', year)} per 1 000 innbyggere"
            )
        if f.ok("fastlege_reservekapasitet", year):
            s += f", og reservekapasiteten var {f.text('fastlege_reservekapasitet', year)} prosent"
        out.append(s + " (Helsedirektoratets tall for året).")

    year = f.latest("robek")
    if year is not None and f.ok("robek", year):
        cell = f.cell("robek", year)
        if not county:
            on = cell.numerator == 1
            out.append(f"{name} {'var' if on else 'var ikke'} i ROBEK-registeret {_year_text(year)}.")
        else:
            out.append(
                f"{format_number(cell.numerator)} av {format_number(cell.denominator)} "
                f"kommuner i {name} var i ROBEK-registeret {_year_text(year)}."
            )

    year = f.latest("tilskudd_per_innbygger")
    if year is not None and f.known("tilskudd_per_innbygger", year):
        cell = f.cell("tilskudd_per_innbygger", year)
        whom = f"kommunene i {name}" if county else name
        if cell.ok:
            s = (f"IMDi utbetalte {format_number(cell.numerator)} kroner i tilskudd til {whom} "
                 f"{_year_text(year)}, {f.text('tilskudd_per_innbygger', year)} kroner per "
                 "innbygger")
            if f.ok("tilskudd_per_bosatt", year):
                s += (f" og {f.text('tilskudd_per_bosatt', year)} kroner per flyktning bosatt "
                      "samme år")
        else:
            s = (f"IMDi utbetalte {f.amount('tilskudd_per_innbygger', year, 'kroner')} per "
                 f"innbygger i tilskudd til {whom} {_year_text(year)}")
        out.append(f.end(s))

    year = f.latest("innvandrere_flukt_andel")
    if year is not None:
        parts = [
            ("innvandrere_flukt_andel", "som flyktninger eller familie til flyktninger"),
            ("innvandrere_arbeid_andel", "som arbeidsinnvandrere"),
            ("innvandrere_familie_andel", "som familieinnvandrede"),
        ]
        listed = [
            f"{f.text(i, year)} prosent {what}" if f.known(i, year)
            else f"{what} ({f.text(i, year)})"
            for i, what in parts
        ]
        out.append(
            f"Av innvandrerne i {name} {_year_text(year)} kom {listed[0]}, {listed[1]} og "
            f"{listed[2]}."
        )

    year = f.latest("bosatt_forste_kommune_andel")
    if year is not None and f.ok("bosatt_forste_kommune_andel", year):
        out.append(
            f"{f.text('bosatt_forste_kommune_andel', year)} prosent av flyktningene som ble "
            f"bosatt i {name}, bodde fortsatt i bosettingskommunen {_year_text(year)}."
        )

    year = f.latest("bofasthet_fylke")
    if year is not None and f.ok("bofasthet_fylke", year):
        out.append(
            f"{f.text('bofasthet_fylke', year)} prosent av flyktningene i {name} bodde i sin "
            f"første bostedskommune {_year_text(year)}."
        )

    if not county and peer is not None:
        out.extend(_peer_sentences(catalogue.get(PEER_SENTENCE_INDICATOR), name, *peer))
    return out


PEER_SENTENCE_INDICATOR = "bosatte_per_1000"


def _peer_sentences(ind: Indicator, name: str, latest: Cell, comps: list[Comparison]
                    ) -> list[str]:
    """The municipality against its centrality class, worded with the comparison's own
    definition (the same label as on the page, in the report and in the CSV)."""
    out: list[str] = []
    for comp in comps:
        if comp.key != "median_sentralitet" or comp.value is None:
            continue
        out.append(
            f"{name} hadde {format_number(latest.value, ind.decimals)} bosatte flyktninger "
            f"per 1 000 innbyggere i {latest.year}, {rank_text(comp)} blant kommunene i "
            f"sentralitetsklassen; {comp.label} var {comp.text}."
        )
    return out


def cell_dict(cell: Cell | None, indicator: Indicator) -> dict[str, Any]:
    """A cell in the API's Norwegian field names (``verdi``, ``nedre``, ``ovre``, ...)."""
    if cell is None:
        return {"verdi": None, "nedre": None, "ovre": None, "verdi_tekst": MISSING_NB,
                "status": MISSING, "arsak": "Mangler: ingen tall for dette året"}
    return {
        "verdi": cell.value,
        "nedre": cell.lower if cell.status in (INTERVAL, SUPPRESSED) else cell.value,
        "ovre": cell.upper if cell.status in (INTERVAL, SUPPRESSED) else cell.value,
        "verdi_tekst": format_cell(cell, indicator),
        "status": cell.status,
        "arsak": cell.note_text() or None,
    }
