"""Questions for discussion in the plan work, generated from where a municipality stands.

Each :class:`Rule` is documented by its ``condition`` (shown in the report's appendix,
so a reader can see why a question was asked) and evaluated on the indicator cube only.
A rule fires on published values; a suppressed or missing value never triggers a rule
and is never used to word a question. Thresholds are named constants below.

The rules follow the kinds of questions county guides put to municipal plans (the county
evaluation «Kartlegging og analyse av fylkeskommunens praksis …», ideas2evidence 2025,
chapter 4, fact box on Møre og Romsdal's guide for including immigrants in municipal
plans: indicators per theme followed by questions the municipality can discuss) and the
workshop's call to put retaining immigrants on the agenda («Sammenstilling av resultat fra
arbeidsverksted …», Distriktssenteret 2023).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bliatlas.indicators.compare import comparisons, rank_text
from bliatlas.indicators.engine import Cube
from bliatlas.published import Cell
from bliatlas.reports.values import Num, Provenance, cell_num

# Thresholds (documented in each rule's condition text).
DECISION_SHARE_OF_REQUEST_BELOW = 100.0  # vedtak as % of anmodning
SETTLED_SHARE_OF_DECISION_BELOW = 90.0  # bosatt as % of vedtak
GP_SPARE_CAPACITY_BELOW = 100.0  # fastlege reservekapasitet, % (100 = no spare places)
HIGH_SETTLEMENT_PERCENTILE = 75.0  # percentile among municipalities of the same centrality


Finding = tuple[Markup, list[Num]]  # question text and the numbers it cites


@dataclass
class Question:
    rule: str
    title: str
    text: Markup
    evidence: list[Num] = field(default_factory=list)
    knowledge_query: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    condition: str  # Norwegian: when the rule fires
    knowledge_query: str | None
    evaluate: Callable[[Cube, Provenance, str], Finding | None]


def _latest_ok(cube: Cube, indicator: str, code: str) -> Cell | None:
    cells = [c for c in cube.cells_for("kommune", code)
             if c.indicator == indicator and c.status == "ok"]
    return max(cells, key=lambda c: c.year) if cells else None


def _num(cube: Cube, prov: Provenance, indicator: str, code: str, cell: Cell) -> Num:
    return cell_num(cube, prov, cube.catalogue.get(indicator), "kommune", code, cell.year,
                    cell)


def _peer(cube: Cube, indicator: str, code: str, year: int, group: str) -> dict[str, Any] | None:
    for r in cube.peers_for(code):
        if r["indicator"] == indicator and r["year"] == year and r["peer_group"] == group:
            return r
    return None


def _decision_below_request(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    share = _latest_ok(cube, "vedtak_andel_av_anmodning", code)
    if share is None or share.value >= DECISION_SHARE_OF_REQUEST_BELOW:
        return None
    year = share.year
    request = cube.cell("anmodning", "kommune", code, year)
    decision = cube.cell("vedtak", "kommune", code, year)
    nums = [_num(cube, prov, "vedtak", code, decision), _num(cube, prov, "anmodning", code, request),
            _num(cube, prov, "vedtak_andel_av_anmodning", code, share)]
    text = Markup(
        "Kommunen vedtok å bosette {} flyktninger i {}, mot {} som IMDi anmodet om ({} prosent). "
        "Hva avgjør hvor mange kommunen kan si ja til – boliger, kapasitet i skole, barnehage "
        "og helsetjenester, eller introduksjonsprogrammet – og hva skal til for å kunne ta "
        "imot flere?"
    ).format(nums[0], year, nums[1], nums[2])
    return text, nums


def _gp_capacity(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    spare = _latest_ok(cube, "fastlege_reservekapasitet", code)
    waiting = _latest_ok(cube, "fastlege_venteliste_per_1000", code)
    low_spare = spare is not None and spare.value < GP_SPARE_CAPACITY_BELOW
    has_waiting = waiting is not None and (waiting.numerator or 0) > 0
    if not (low_spare or has_waiting):
        return None
    nums: list[Num] = []
    parts = []
    if has_waiting:
        n = _num(cube, prov, "fastlege_venteliste_per_1000", code, waiting)
        nums.append(n)
        parts.append(Markup("{} per 1 000 innbyggere sto på venteliste til fastlege i {}")
                     .format(n, waiting.year))
    if low_spare:
        n = _num(cube, prov, "fastlege_reservekapasitet", code, spare)
        nums.append(n)
        parts.append(Markup("fastlegenes reservekapasitet var {} prosent i {}")
                     .format(n, spare.year))
    joined = Markup(", og ").join(parts)
    text = Markup(
        "{}. Hvordan sikrer kommunen at nyankomne flyktninger får fastlege og helsetjenester, "
        "og bør legekapasiteten inngå i vurderingen av hvor mange kommunen kan bosette?"
    ).format(Markup(joined[:1].upper()) + joined[1:])
    return text, nums


def _district_retention(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    reg = cube.group("kommune", code)
    if reg["centrality"] is None or reg["centrality"] < 5:
        return None
    stay = _latest_ok(cube, "bosatt_forste_kommune_andel", code)
    nums: list[Num] = []
    extra = Markup("")
    if stay is not None:
        n = _num(cube, prov, "bosatt_forste_kommune_andel", code, stay)
        nums.append(n)
        extra = Markup(" {} prosent av flyktningene som er bosatt her, bodde fortsatt i "
                       "kommunen i {}.").format(n, stay.year)
    text = Markup(
        "Som distriktskommune (sentralitetsklasse {}) er kommunen avhengig av at nye "
        "innbyggere blir boende.{} Hva får flyktninger og arbeidsinnvandrere til å bli – "
        "arbeid, bolig, nettverk – og hvordan kan planen bidra til det?"
    ).format(reg["centrality"], extra)
    return text, nums


def _low_retention(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    stay = _latest_ok(cube, "bosatt_forste_kommune_andel", code)
    if stay is None:
        return None
    ind = cube.catalogue.get("bosatt_forste_kommune_andel")
    county = next((c for c in comparisons(cube, "kommune", code, ind, stay.year)
                   if c.key == "fylke_samlet" and c.value is not None), None)
    if county is None or stay.value >= county.value:
        return None
    n = _num(cube, prov, "bosatt_forste_kommune_andel", code, stay)
    pooled = cell_num(cube, prov, ind, county.cell.level, county.cell.code, stay.year,
                      county.cell)
    text = Markup(
        "Andelen flyktninger som fortsatt bor i kommunen ({} prosent i {}) er lavere enn for "
        "{} ({} prosent). Hvor flytter de, og hva kan kommunen gjøre for at flere blir?"
    ).format(n, stay.year, county.label, pooled)
    return text, [n, pooled]


def _labour_migrants(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    share = _latest_ok(cube, "innvandrere_arbeid_andel", code)
    if share is None:
        return None
    national = cube.cell("innvandrere_arbeid_andel", "nasjonal", "NO", share.year)
    if national is None or national.status != "ok" or share.value <= national.value:
        return None
    n = _num(cube, prov, "innvandrere_arbeid_andel", code, share)
    ind = cube.catalogue.get("innvandrere_arbeid_andel")
    nat = cell_num(cube, prov, ind, "nasjonal", "NO", share.year, national)
    text = Markup(
        "Arbeidsinnvandrere utgjorde {} prosent av innvandrerne i kommunen i {}, mer enn for "
        "hele landet samlet ({} prosent). Arbeidsinnvandrere har ikke rett til "
        "introduksjonsprogram; hvordan når kommunen og arbeidsgiverne dem med norskopplæring, "
        "informasjon og møteplasser?"
    ).format(n, share.year, nat)
    return text, [n, nat]


def _high_settlement(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    cell = _latest_ok(cube, "bosatte_per_1000", code)
    if cell is None:
        return None
    peer = _peer(cube, "bosatte_per_1000", code, cell.year, "sentralitet")
    if peer is None or peer["percentile"] is None or peer["percentile"] < HIGH_SETTLEMENT_PERCENTILE:
        return None
    n = _num(cube, prov, "bosatte_per_1000", code, cell)
    ind = cube.catalogue.get("bosatte_per_1000")
    comp = next(c for c in comparisons(cube, "kommune", code, ind, cell.year)
                if c.key == "median_sentralitet")
    text = Markup(
        "Kommunen bosatte {} flyktninger per 1 000 innbyggere i {}, blant den fjerdedelen av "
        "kommunene i samme sentralitetsklasse som bosatte flest ({}). Hvordan "
        "dimensjoneres introduksjonsprogram, voksenopplæring og kvalifisering for de neste "
        "årene?"
    ).format(n, cell.year, rank_text(comp))
    return text, [n]


def _plan_goals(cube: Cube, prov: Provenance, code: str) -> Finding | None:
    text = Markup(
        "Hvilke mål for inkludering skal kommuneplanens samfunnsdel ha, og hvilke av "
        "indikatorene i denne rapporten vil kommunen følge med på fra år til år?"
    )
    return text, []


def _single_figure(indicator: str, fires: Callable[[Cell], bool], template: str
                   ) -> Callable[[Cube, Provenance, str], Finding | None]:
    """A rule that reads one figure: the indicator's latest exact value fires the rule when
    ``fires(cell)``; ``template`` cites it as ``{n}`` and its year as ``{year}``."""
    def evaluate(cube: Cube, prov: Provenance, code: str) -> Finding | None:
        cell = _latest_ok(cube, indicator, code)
        if cell is None or not fires(cell):
            return None
        n = _num(cube, prov, indicator, code, cell)
        return Markup(template).format(n=n, year=cell.year), [n]
    return evaluate


_settled_below_decision = _single_figure(
    "bosatt_andel_av_vedtak", lambda c: c.value < SETTLED_SHARE_OF_DECISION_BELOW,
    "Kommunen bosatte {n} prosent av det den selv vedtok i {year}. Var det boliger nok av "
    "riktig størrelse og pris, og hvordan kan boligplanleggingen ta høyde for bosettingen?")

_robek = _single_figure(
    "robek", lambda c: c.numerator == 1,
    "Kommunen stod i ROBEK-registeret i {year} (verdi {n} prosent av kommunene). Hvordan "
    "planlegges integreringsarbeidet slik at tilskuddene fra IMDi og egne midler gir "
    "langsiktig effekt, og hvilke samarbeid med nabokommuner og fylkeskommunen kan "
    "avlaste økonomien?")

_unaccompanied_minors = _single_figure(
    "enslige_mindreaarige", lambda c: bool(c.value),
    "Kommunen bosatte {n} enslige mindreårige flyktninger i {year}. Har kommunen botilbud "
    "med oppfølging, og samarbeider barnevern, skole og fritid om dem?")


RULES: tuple[Rule, ...] = (
    Rule("vedtak_under_anmodning", "Vedtak under anmodningen",
         "Kommunens vedtak var under "
         f"{DECISION_SHARE_OF_REQUEST_BELOW:.0f} prosent av IMDis anmodning (siste år med tall).",
         "bosetting bolig kapasitet", _decision_below_request),
    Rule("bosatt_under_vedtak", "Bosatt færre enn vedtatt",
         f"Bosatte flyktninger var under {SETTLED_SHARE_OF_DECISION_BELOW:.0f} prosent av "
         "kommunens eget vedtak (siste år med tall).",
         "bolig boligbygging bosetting", _settled_below_decision),
    Rule("fastlegekapasitet", "Kapasitet hos fastlegene",
         "Noen sto på venteliste til fastlege, eller fastlegenes reservekapasitet var under "
         f"{GP_SPARE_CAPACITY_BELOW:.0f} prosent (siste år med tall).",
         "helse fastlege kapasitet tjenester", _gp_capacity),
    Rule("robek", "Økonomisk handlingsrom (ROBEK)",
         "Kommunen stod i ROBEK-registeret siste år med tall.",
         "interkommunalt samarbeid fylkeskommune", _robek),
    Rule("distrikt_bli_boende", "Få nye innbyggere til å bli boende",
         "Kommunen er distriktskommune (sentralitetsklasse 5 eller 6).",
         "bli boende tilflytting beholde", _district_retention),
    Rule("lav_bofasthet", "Sekundærflytting",
         "Andelen flyktninger som bor i første bosettingskommune er lavere enn for fylket "
         "samlet (der tallene finnes).",
         "bli boende sekundærflytting", _low_retention),
    Rule("arbeidsinnvandrere", "Arbeidsinnvandrere som målgruppe",
         "Arbeidsinnvandreres andel av innvandrerne er høyere enn for hele landet samlet "
         "(siste år med tall).",
         "arbeidsinnvandrere norskopplæring arbeidsgivere", _labour_migrants),
    Rule("enslige_mindreaarige", "Enslige mindreårige",
         "Kommunen bosatte minst én enslig mindreårig flyktning siste år (skjermede tall "
         "utløser ikke regelen).",
         "enslige mindreårige ungdom", _unaccompanied_minors),
    Rule("hoy_bosetting", "Mange bosatte per innbygger",
         "Bosatte flyktninger per 1 000 innbyggere er i øverste fjerdedel "
         f"(persentil ≥ {HIGH_SETTLEMENT_PERCENTILE:.0f}) blant kommunene i samme "
         "sentralitetsklasse.",
         "kvalifisering introduksjonsprogram arbeid", _high_settlement),
    Rule("mal_i_planen", "Mål og indikatorer i planen",
         "Stilles alltid: hver plan bør ha egne mål og indikatorer for inkludering.",
         "planlegging kommuneplan integrering", _plan_goals),
)


def questions_for(cube: Cube, prov: Provenance, code: str) -> list[Question]:
    """The questions whose rules fire for a municipality, in rule order."""
    out = []
    for rule in RULES:
        found = rule.evaluate(cube, prov, code)
        if found is not None:
            text, nums = found
            out.append(Question(rule.id, rule.title, text, nums, rule.knowledge_query))
    return out
