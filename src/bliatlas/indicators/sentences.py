"""Short factual Norwegian sentences generated from cube values.

Every number in a sentence is read from the cube (a stored or computed value); nothing
is written by hand per municipality. Numbers are formatted the Norwegian way (space as
thousands separator, decimal comma). A suppressed value is never written as a number:
counts the publisher hid are worded "færre enn 5 (skjermet)", other hidden values
"skjermet".
"""

from __future__ import annotations

import math
from typing import Any

from bliatlas.indicators.catalogue import Indicator
from bliatlas.indicators.engine import PEER_GROUP_NAMES_NB, Cube

SUPPRESSED_COUNT_NB = "færre enn 5 (skjermet)"
SUPPRESSED_NB = "skjermet"
MISSING_NB = "mangler"


def format_number(value: float, decimals: int = 0) -> str:
    """``12345.678, 1`` → ``'12 345,7'`` (space thousands separator, decimal comma)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_NB
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    text = f"{abs(rounded):,.{decimals}f}".replace(",", " ").replace(".", ",")
    return ("−" if rounded < 0 else "") + text


def format_signed(value: float, decimals: int = 0) -> str:
    text = format_number(value, decimals)
    return text if text.startswith("−") or round(value, decimals) == 0 else "+" + text


def is_primary_count_suppression(cell: dict[str, Any], indicator: Indicator) -> bool:
    """A hidden count that is one published cell (so "færre enn 5" is true); a sum over
    several cells of which one is hidden (e.g. immigrants over all countries) is not."""
    single = len(indicator.numerator) == 1 and all(
        len(sel.dims_strings()) == 1 for sel in indicator.numerator[0].any_of)
    return (
        cell["status"] == "suppressed"
        and indicator.kind == "count"
        and single
        and cell["level"] == "kommune"
        and (cell["reason"] or "").startswith("Skjermet: bygger på")
    )


def format_cell(cell: dict[str, Any] | None, indicator: Indicator) -> str:
    """The value of a cell as text, with suppression and missing values worded."""
    if cell is None or cell["status"] == "missing":
        return MISSING_NB
    if cell["status"] == "suppressed":
        return SUPPRESSED_COUNT_NB if is_primary_count_suppression(cell, indicator) else SUPPRESSED_NB
    return format_number(cell["value"], indicator.decimals)


def format_with_unit(cell: dict[str, Any] | None, indicator: Indicator) -> str:
    text = format_cell(cell, indicator)
    if cell is None or cell["status"] != "ok":
        return text
    return f"{text} {indicator.unit}"


class _Facts:
    """Cells of one region, looked up by indicator and year."""

    def __init__(self, cube: Cube, level: str, code: str) -> None:
        self.cube = cube
        self.level = level
        self.code = code
        self.by_key = {(c["indicator"], c["year"]): c for c in cube.cells_for(level, code)}

    def latest(self, indicator: str) -> int | None:
        years = [y for (i, y), c in self.by_key.items() if i == indicator and c["status"] != "missing"]
        return max(years) if years else None

    def cell(self, indicator: str, year: int | None) -> dict[str, Any] | None:
        return None if year is None else self.by_key.get((indicator, year))

    def ok(self, indicator: str, year: int | None) -> bool:
        cell = self.cell(indicator, year)
        return cell is not None and cell["status"] == "ok"

    def text(self, indicator: str, year: int | None) -> str:
        return format_cell(self.cell(indicator, year), self.cube.catalogue.get(indicator))


def _year_text(year: int) -> str:
    return f"i {year}" if year else "(referanseår ikke oppgitt i kilden)"


def region_sentences(cube: Cube, level: str, code: str) -> list[str]:
    """Factual sentences about one municipality or county, newest data first."""
    region = cube.group(level, code)
    name = region["short_name"]
    county = level != "kommune"
    subject = f"Kommunene i {name}" if county else name
    f = _Facts(cube, level, code)
    out: list[str] = []

    def hidden(indicator: str, year: int, what: str) -> str:
        cell = f.cell(indicator, year)
        if cell is not None and is_primary_count_suppression(cell, cube.catalogue.get(indicator)):
            return f"{what} {_year_text(year)} var {SUPPRESSED_COUNT_NB}."
        if cell is not None and cell["status"] == "suppressed":
            return (
                f"{what} {_year_text(year)} er skjermet fordi tallet ville avsløre "
                "kommuner med færre enn 5."
            )
        return f"{what} {_year_text(year)} mangler."

    year = f.latest("bosatte_flyktninger")
    if year is not None:
        if f.ok("bosatte_flyktninger", year):
            s = f"{subject} bosatte {f.text('bosatte_flyktninger', year)} flyktninger {_year_text(year)}"
            if f.ok("bosatte_per_1000", year):
                s += f", {f.text('bosatte_per_1000', year)} per 1 000 innbyggere"
            s += "."
            if f.ok("ukrainere_andel", year):
                s += f" {f.text('ukrainere_andel', year)} prosent av dem kom fra Ukraina."
        else:
            s = hidden("bosatte_flyktninger", year, f"Antall bosatte flyktninger i {name}")
        out.append(s)

    year = f.latest("anmodning")
    if year is not None and f.ok("anmodning", year):
        whom = f"kommunene i {name}" if county else "kommunen"
        s = (
            f"IMDi anmodet {whom} om å bosette {f.text('anmodning', year)} flyktninger "
            f"{_year_text(year)}"
        )
        if f.ok("vedtak", year):
            s += f", og {'kommunene' if county else 'kommunen'} vedtok å bosette "
            s += f"{f.text('vedtak', year)}."
        else:
            s += "."
        if f.ok("bosatt_etter_anmodning", year):
            s += f" {f.text('bosatt_etter_anmodning', year)} ble bosatt"
            if f.ok("bosatt_andel_av_vedtak", year):
                s += f", {f.text('bosatt_andel_av_vedtak', year)} prosent av vedtaket"
            s += "."
        elif f.cell("bosatt_etter_anmodning", year) is not None:
            s += " " + hidden("bosatt_etter_anmodning", year, "Antall bosatt mot anmodningen")
        out.append(s)

    year = f.latest("enslige_mindreaarige")
    if year is not None:
        if f.ok("enslige_mindreaarige", year):
            out.append(
                f"{subject} bosatte {f.text('enslige_mindreaarige', year)} enslige mindreårige "
                f"flyktninger {_year_text(year)}."
            )
        else:
            out.append(
                hidden("enslige_mindreaarige", year, f"Antall enslige mindreårige bosatt i {name}")
            )

    year = f.latest("fastlege_venteliste_per_1000")
    if year is not None and f.ok("fastlege_venteliste_per_1000", year):
        cell = f.cell("fastlege_venteliste_per_1000", year)
        if cell["numerator"] == 0:
            s = f"Ingen i {name} sto på venteliste til fastlege {_year_text(year)}"
        else:
            s = (
                f"{format_number(cell['numerator'])} personer i {name} sto på venteliste til "
                f"fastlege {_year_text(year)}, "
                f"{f.text('fastlege_venteliste_per_1000', year)} per 1 000 innbyggere"
            )
        if f.ok("fastlege_reservekapasitet", year):
            s += f", og reservekapasiteten var {f.text('fastlege_reservekapasitet', year)} prosent"
        out.append(s + ".")

    year = f.latest("robek")
    if year is not None and f.ok("robek", year):
        cell = f.cell("robek", year)
        if not county:
            on = cell["numerator"] == 1
            out.append(f"{name} {'var' if on else 'var ikke'} i ROBEK-registeret {_year_text(year)}.")
        else:
            out.append(
                f"{format_number(cell['numerator'])} av {format_number(cell['denominator'])} "
                f"kommuner i {name} var i ROBEK-registeret {_year_text(year)}."
            )

    year = f.latest("tilskudd_per_innbygger")
    if year is not None and f.ok("tilskudd_per_innbygger", year):
        cell = f.cell("tilskudd_per_innbygger", year)
        whom = f"kommunene i {name}" if county else name
        s = (
            f"IMDi utbetalte {format_number(cell['numerator'])} kroner i tilskudd til {whom} "
            f"{_year_text(year)}, {f.text('tilskudd_per_innbygger', year)} kroner per innbygger"
        )
        if f.ok("tilskudd_per_bosatt", year):
            s += f" og {f.text('tilskudd_per_bosatt', year)} kroner per flyktning bosatt samme år"
        out.append(s + ".")

    year = f.latest("innvandrere_flukt_andel")
    if year is not None:
        parts = [
            ("innvandrere_flukt_andel", "som flyktninger eller familie til flyktninger"),
            ("innvandrere_arbeid_andel", "som arbeidsinnvandrere"),
            ("innvandrere_familie_andel", "som familieinnvandrede"),
        ]
        listed = [
            f"{f.text(i, year)} prosent {what}" if f.ok(i, year)
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

    if not county:
        out.extend(_peer_sentences(cube, code, name))
    return out


def _peer_sentences(cube: Cube, code: str, name: str) -> list[str]:
    out = []
    indicator = "bosatte_per_1000"
    rows = [
        r for r in cube.peers_for(code)
        if r["indicator"] == indicator and r["peer_group"] == "sentralitet"
    ]
    if rows:
        r = rows[0]
        ind = cube.catalogue.get(indicator)
        out.append(
            f"Blant de {r['n']} kommunene i {PEER_GROUP_NAMES_NB['sentralitet']} "
            f"({r['peer_code']}) hadde {name} nr. {r['rank']} på bosatte flyktninger per 1 000 "
            f"innbyggere i {r['year']}; medianen var {format_number(r['median'], ind.decimals)}."
        )
    return out
