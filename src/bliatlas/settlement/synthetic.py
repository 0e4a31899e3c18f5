"""Synthetic cohorts and training extracts, calibrated to published aggregates.

No register extract with outcomes is available to this project, so the outcome model
is developed on synthetic data. Everything here is SYNTETISK and labelled so in every
file (column ``syntetisk`` = 1) and printout. What is calibrated, and to what:

============================  ===========================================================
quantity                      source (real, published)
============================  ===========================================================
share Ukrainian refugees      store: ``kommuner_bosetting``/``bosatte_flyktninger``,
                              ``gruppe=ukrainere`` vs total (IMDi, 2022–2024 panel)
share women, share over 55    store: ``kommuner_bosetting_kjonn_alder`` (IMDi panel;
                              suppressed cells left out, never filled)
share unaccompanied minors    store: ``enslige_mindreaarige_bosatt`` / ``bosatte_flyktninger``
where households are settled  store: municipalities' decisions (``vedtak``, 2024), or the
                              mean number settled 2022–2024 where no decision is stored
employment by years of        store: ``sysselsatte_botid`` (``telemark/sysselsatte_etter_botid_telemark.csv``): % employed
residence and country group   by botid band (0–4, 5–9, 10+ years) for SSB's country group 1
                              (EU/EEA, incl. Ukraine) and group 2 (Asia, Africa …), 2025.
                              The intercept of each (group, band) cell is solved so that the
                              expected rate of the simulated persons equals the published %.
retention (bofasthet)         ``telemark/bofasthet_fylker.csv`` via the store: % of refugees
                              still living in the first municipality, per county; the county
                              intercept is solved so the expected retention equals it.
============================  ===========================================================

The *shape* of the model (which person and municipality traits matter, in which
direction) follows the seeds: NIBR (seed 004, "Innvandrere og sysselsetting i et
regionalt perspektiv", bullet list under "To tredjedeler av sysselsettingsveksten")
finds that refugees settled in regions with a good labour market stay more and earn
more over time — hence a municipality effect from centrality and size (the labour
market proxies the store has) on both employment and retention. Seed 004 (list under
"For dårlig samstyring …") adds that more is gained by choosing the region than the
single municipality when settling refugees, and NIBR's case study (seed 002, main
findings under "Regional samhandling …") treats the regional labour market as the
frame — hence effects on regional traits only, no municipality-specific noise. Seed 003 (section on county plan
strategies, "Integreringsplaner …", footnote on IMDi figures) reports 78 % employment
for labour immigrants, the same as the population: used as the upper bound the
simulated rates must stay below. The sizes of the person effects (education, Norwegian
level, sex, age, support need) are *not* published in the shared data; they are stated
as assumptions in :data:`ASSUMED_EFFECTS` and only move persons relative to each other
inside a calibrated cell — the calibrated aggregates do not depend on them.

The landbakgrunn series (``sysselsatte_etter_landbakgrunn_telemark.csv``) covers all
immigrants (labour immigrants included), not refugees; it is read as a check of the
ordering (group 1 above group 2) and reported, not used as a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bliatlas.errors import UserError
from bliatlas.settlement.cohort import (
    COUNTRY_GROUPS,
    EDUCATION_LEVELS,
    NORWEGIAN_LEVELS,
    SSB_COUNTRY_GROUP,
    Cohort,
    TrainingExtract,
    _assemble,
)
from bliatlas.settlement.features import MunicipalityTable

SYNTHETIC_NOTE = (
    "SYNTETISKE DATA: laget av Bli-atlas sin generator, kalibrert til publiserte tall "
    "(IMDi, SSB via Telemark fylkeskommune). Ikke ekte personer."
)

#: Botid bands as published in sysselsatte_etter_botid_telemark.csv.
BOTID_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-4 år", 0, 4),
    ("5-9 år", 5, 9),
    ("10+ år", 10, 99),
)
#: Employment statistics cover ages 15–74 (SSB register-based employment); training
#: extracts give an outcome for persons in that range at measurement, else empty.
OUTCOME_AGE = (15, 74)
#: Upper bound for any simulated employment rate: labour immigrants' and the general
#: population's employment rate, 78 % (seed 003, plan-strategy section, IMDi figure).
EMPLOYMENT_CEILING = 0.78

#: Assumed effects (log-odds) — not published in the shared data; directions follow
#: the literature the seeds summarise. They shift persons within calibrated cells.
ASSUMED_EFFECTS: dict[str, float] = {
    "utdanning_grunnskole": 0.3,
    "utdanning_videregaende": 0.6,
    "utdanning_hoyere": 0.9,
    "norsk_A1": 0.1,
    "norsk_A2": 0.3,
    "norsk_B1": 0.6,
    "norsk_B2": 0.9,
    "kvinne": -0.4,
    "kvinne_med_barn": -0.3,
    "alder_15_24": 0.2,  # many in education (the outcome counts education)
    "alder_45_54": -0.3,
    "alder_55_plus": -1.0,
    "oppfolgingsbehov": -1.0,
    # within SSB group 2 (relative to 'annet')
    "land_syria": -0.1,
    "land_afghanistan": 0.0,
    "land_eritrea": 0.3,
    "land_somalia": -0.3,
    "land_kongo": -0.1,
    # municipality: labour-market proxies (seed 004 direction), per standard deviation
    "kommune_sentral": 0.20,  # minus standardised centrality class (1 = most central)
    "kommune_storrelse": 0.15,  # standardised log population
    # person x municipality interactions (what makes matching worthwhile)
    "hoyere_x_sentral": 0.30,  # higher education pays off in central labour markets
    "lav_utdanning_x_distrikt": 0.25,  # primary-industry/care jobs in district municipalities
    "oppfolging_x_fastlege": 0.20,  # support needs x spare GP capacity (standardised)
    "norsk_B_x_distrikt": 0.15,  # good Norwegian matters more in small labour markets
    "ung_x_sentral": 0.15,  # 15–24-year-olds: education places are mostly central
    # co-national network: log(1 + refugees of the same group settled per 1,000 inhabitants
    # per year), standardised. Direction from Martén, Hainmueller & Hangartner (PNAS 2019):
    # a larger co-national network raised refugees' employment in Switzerland.
    "nettverk": 0.10,
    # local labour markets the store's traits do not capture: a fixed deviation per county
    # and per municipality, drawn once per world (standard deviations, log-odds). Seed 004
    # ("For dårlig samstyring …") says the region matters more than the single municipality.
    "lokal_fylke_sd": 0.12,
    "lokal_kommune_sd": 0.08,
    # retention (bofasthet): labour-market effect on staying (seed 004 direction)
    "bofast_sentral": 0.15,
    "bofast_storrelse": 0.10,
    "bofast_nettverk": 0.15,  # assumed: households stay where co-nationals live
}
#: Seed of the fixed local deviations (the "world"): the same for every extract and cohort,
#: so a model trained on one synthetic year can be scored on the next year's truth.
WORLD_SEED = 2024

#: Household composition (assumed; no published distribution in the shared data).
HOUSEHOLD_TYPES: dict[str, float] = {
    "enslig": 0.40,
    "par": 0.10,
    "enslig_forsorger": 0.22,
    "par_med_barn": 0.28,
}
#: Country mix among the non-Ukrainian refugees (assumed: the largest nationalities
#: settled 2015–2024 in IMDi's statistics, in rough order).
OTHER_COUNTRY_WEIGHTS: dict[str, float] = {
    "syria": 0.35,
    "afghanistan": 0.22,
    "eritrea": 0.13,
    "somalia": 0.07,
    "kongo": 0.08,
    "annet": 0.15,
}
#: Education at arrival by country group (assumed shares ingen, grunnskole, vgs, høyere).
EDUCATION_MIX: dict[str, tuple[float, float, float, float]] = {
    "ukraina": (0.02, 0.10, 0.38, 0.50),
    "syria": (0.15, 0.35, 0.30, 0.20),
    "afghanistan": (0.30, 0.35, 0.25, 0.10),
    "eritrea": (0.20, 0.45, 0.28, 0.07),
    "somalia": (0.40, 0.35, 0.20, 0.05),
    "kongo": (0.25, 0.35, 0.28, 0.12),
    "annet": (0.15, 0.30, 0.30, 0.25),
}
#: Norwegian level at settlement (assumed: most have none or A1 at arrival).
NORWEGIAN_MIX: tuple[float, ...] = (0.55, 0.25, 0.12, 0.06, 0.02)
SUPPORT_NEED_SHARE = 0.08  # assumed
TIE_SHARE = {"soft": 0.07, "hard": 0.03}  # assumed


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _solve_shift(z: np.ndarray, target: float) -> float:
    """The constant c with mean(sigmoid(z + c)) == target (bisection, to 1e-9)."""
    lo, hi = -20.0, 20.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if _sigmoid(z + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class CalibrationTargets:
    """The published figures the generator reproduces (fractions, not %)."""

    employment: dict[tuple[int, str], float]  # (SSB group, botid band) -> rate
    employment_by_group: dict[int, float]  # latest year, all immigrants (check only)
    employment_by_group_year: int
    retention: dict[str, float]  # county code -> share still in first municipality
    #: county code -> share still in the county (first municipality + moved within the
    #: county), from the same table
    retention_county: dict[str, float]
    ukrainian_share: float
    female_share: float
    over55_share: float
    minor_share: float
    sources: dict[str, str]

    @classmethod
    def load(cls, store: Any, munis: MunicipalityTable) -> CalibrationTargets:
        """Read the targets from the store (``bli import ../shared/data`` fills it)."""
        employment: dict[tuple[int, str], float] = {}
        rows = store.query(
            "SELECT dims, value, year FROM observation WHERE dataset = 'sysselsatte_botid' "
            "AND measure = 'sysselsatte_andel' AND unit = 'prosent' AND status = 'ok' "
            "ORDER BY year"
        )
        bands = {b for b, _, _ in BOTID_BANDS}
        for row in rows:  # latest year wins
            d = _dims(row["dims"])
            group = _ssb_group(d.get("landbakgrunn", ""))
            if group and d.get("botid") in bands:
                employment[(group, d["botid"])] = float(row["value"]) / 100
        if len(employment) != 2 * len(BOTID_BANDS):
            raise UserError(
                "databasen mangler sysselsetting etter botid og landgruppe "
                "(sysselsatte_botid, fra sysselsatte_etter_botid_telemark.csv); "
                "kjør `bli import ../shared/data`"
            )
        rows = store.query(
            "SELECT dims, value, year FROM observation "
            "WHERE dataset = 'sysselsatte_landbakgrunn' AND measure = 'sysselsatte_andel' "
            "AND status = 'ok' AND year = (SELECT max(year) FROM observation "
            "WHERE dataset = 'sysselsatte_landbakgrunn')"
        )
        by_group: dict[int, float] = {}
        last_year = 0
        for row in rows:
            group = _ssb_group(_dims(row["dims"]).get("landbakgrunn", ""))
            if group:
                by_group[group] = float(row["value"]) / 100
                last_year = int(row["year"])
        retention = {}
        for c, v in zip(munis.county.tolist(), munis.county_retention.tolist()):
            if not np.isnan(v):
                retention[c] = v / 100
        moved = {r["region_code"]: float(r["value"]) / 100 for r in store.query(
            "SELECT region_code, value FROM observation WHERE dataset = 'bofasthet_fylker' "
            "AND measure = 'bofasthet' AND status = 'ok' "
            "AND dims = 'status=Flyttet til annen kommune i fylket' ORDER BY year")}
        retention_county = {c: v + moved[c] for c, v in retention.items() if c in moved}
        if not retention:
            raise UserError(
                "databasen mangler bofasthet per fylke (bofasthet_fylker); "
                "kjør `bli import ../shared/data`"
            )
        ukr_share = _ratio(
            store,
            "measure = 'bosatte_flyktninger' AND dataset = 'kommuner_bosetting' "
            "AND dims = 'gruppe=ukrainere'",
            "measure = 'bosatte_flyktninger' AND dataset = 'kommuner_bosetting' AND dims = ''",
        )
        kj = "dataset = 'kommuner_bosetting_kjonn_alder' AND measure = 'bosatte_flyktninger'"
        female = _ratio(store, kj + " AND dims LIKE '%kjonn=Kvinner%'", kj)
        over55 = _ratio(store, kj + " AND dims LIKE '%aldersgruppe=Over 55%'", kj)
        minors = _ratio(
            store,
            "measure = 'enslige_mindreaarige_bosatt' AND dataset = 'kommuner_bosetting'",
            "measure = 'bosatte_flyktninger' AND dataset = 'kommuner_bosetting' AND dims = ''",
        )
        return cls(
            employment=employment,
            employment_by_group=by_group,
            employment_by_group_year=last_year,
            retention=retention,
            retention_county=retention_county,
            ukrainian_share=ukr_share,
            female_share=female,
            over55_share=over55,
            minor_share=minors,
            sources={
                "employment": "store: sysselsatte_botid (sysselsatte_etter_botid_telemark.csv)",
                "employment_by_group": "store: sysselsatte_landbakgrunn "
                "(sysselsatte_etter_landbakgrunn_telemark.csv)",
                "retention": "store: bofasthet_fylker/bofasthet",
                "shares": "store: kommuner_bosetting, kommuner_bosetting_kjonn_alder",
            },
        )


def _dims(text: str) -> dict[str, str]:
    out = {}
    for part in text.split("|"):
        key, _, value = part.partition("=")
        if key:
            out[key] = value
    return out


def _ssb_group(label: str) -> int:
    """SSB's country group from a label such as 'Gruppe 2-land (Asia, Afrika …)'."""
    if label.startswith("Gruppe 1"):
        return 1
    if label.startswith("Gruppe 2"):
        return 2
    return 0


def _ratio(store: Any, num_where: str, den_where: str) -> float:
    """Sum of ok values matching ``num_where`` over those matching ``den_where``, over
    the years both have. Suppressed cells are left out of both, never filled in."""
    sql = (
        "SELECT sum(value) AS v FROM observation WHERE status = 'ok' AND {w} "
        "AND year IN (SELECT year FROM observation WHERE {n}) "
        "AND year IN (SELECT year FROM observation WHERE {d})"
    )
    num = store.query(sql.format(w=num_where, n=num_where, d=den_where))[0]["v"]
    den = store.query(sql.format(w=den_where, n=num_where, d=den_where))[0]["v"]
    if not den or num is None:
        raise UserError(
            "databasen mangler bosettingstall til kalibreringen; kjør `bli import ../shared/data`"
        )
    return float(num) / float(den)


# -- municipality effects ----------------------------------------------------------
def _std(x: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(x), np.nanmean(x), x)
    sd = filled.std()
    return (filled - filled.mean()) / (sd if sd > 0 else 1.0)


@dataclass
class MunicipalitySignals:
    central: np.ndarray  # minus standardised centrality (higher = more central)
    size: np.ndarray  # standardised log population
    district: np.ndarray  # 1 for centrality 5–6
    gp: np.ndarray  # standardised spare GP capacity
    network_ukraina: np.ndarray  # standardised log(1 + Ukrainians settled per 1,000 per year)
    network_other: np.ndarray  # the same for the other refugees


def network_per_1000(munis: MunicipalityTable, group: str) -> np.ndarray:
    """Refugees of the person's group (``ukrainere`` or ``ovrige``) settled per 1,000
    inhabitants per year (2022–2024 mean); nan where suppressed or missing."""
    settled = munis.settled_by_group.get(group)
    if settled is None:
        return np.full(len(munis), np.nan)
    with np.errstate(all="ignore"):
        return settled / munis.population * 1000.0


def municipality_signals(munis: MunicipalityTable) -> MunicipalitySignals:
    return MunicipalitySignals(
        central=-_std(munis.centrality),
        size=_std(np.log(munis.population)),
        district=(np.nan_to_num(munis.centrality) >= 5).astype(float),
        gp=_std(munis.gp_spare_capacity),
        network_ukraina=_std(np.log1p(network_per_1000(munis, "ukrainere"))),
        network_other=_std(np.log1p(network_per_1000(munis, "ovrige"))),
    )


def settlement_weights(munis: MunicipalityTable) -> np.ndarray:
    """Where households are settled: the 2024 decision (vedtak), else the mean settled."""
    w = np.where(np.isnan(munis.vedtak), munis.settled_refugees_mean, munis.vedtak)
    w = np.nan_to_num(w, nan=0.0)
    if w.sum() <= 0:
        raise UserError("databasen har verken vedtak eller bosettingstall per kommune")
    return w / w.sum()


# -- persons --------------------------------------------------------------------------
def generate_cohort(
    n_persons: int, targets: CalibrationTargets, munis: MunicipalityTable, seed: int = 1
) -> Cohort:
    """About ``n_persons`` persons in households (the last household may overshoot)."""
    if n_persons < 1:
        raise UserError("antall personer må være minst 1")
    rng = np.random.default_rng(seed)
    settle_w = settlement_weights(munis)
    types = list(HOUSEHOLD_TYPES)
    type_p = np.array(list(HOUSEHOLD_TYPES.values()))
    other = list(OTHER_COUNTRY_WEIGHTS)
    other_p = np.array(list(OTHER_COUNTRY_WEIGHTS.values()))
    other_p /= other_p.sum()
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "household_id",
            "age",
            "role",
            "country_group",
            "tie_municipality",
            "tie_kind",
            "unaccompanied_minor",
        )
    }
    n = 0
    h = 0
    while n < n_persons:
        h += 1
        hid = f"S{seed}-H{h:06d}"
        if rng.random() < targets.minor_share:
            members = [("ema", int(rng.integers(13, 18)))]
        else:
            kind = types[rng.choice(len(types), p=type_p)]
            adults = 2 if kind.startswith("par") else 1
            members = [("voksen", 0) for _ in range(adults)]
            if kind in ("enslig_forsorger", "par_med_barn"):
                members += [("barn", int(rng.integers(0, 18))) for _ in range(1 + rng.poisson(1.2))]
        group = (
            "ukraina"
            if rng.random() < targets.ukrainian_share
            else other[rng.choice(len(other), p=other_p)]
        )
        tie_code, tie_kind = "", ""
        u = rng.random()
        if u < TIE_SHARE["hard"]:
            tie_kind = "hard"
        elif u < TIE_SHARE["hard"] + TIE_SHARE["soft"]:
            tie_kind = "soft"
        if tie_kind:
            tie_code = str(munis.codes[rng.choice(len(munis), p=settle_w)])
        for role, age in members:
            rows["household_id"].append(hid)
            rows["age"].append(age)
            rows["role"].append(role)
            rows["country_group"].append(group)
            rows["tie_municipality"].append(tie_code)
            rows["tie_kind"].append(tie_kind)
            rows["unaccompanied_minor"].append(role == "ema")
        n += len(members)
    role = np.array(rows["role"], dtype=object)
    total = len(role)
    adult = role == "voksen"
    # Share over 55 among all persons = published share -> probability for adults.
    p_old = min(1.0, targets.over55_share * total / max(adult.sum(), 1))
    old = adult & (rng.random(total) < p_old)
    age = np.array(rows["age"], dtype=np.int64)
    age[adult] = rng.integers(18, 56, adult.sum())
    age[old] = rng.integers(56, 76, old.sum())
    # Sex: couples are one woman, one man; everyone else drawn so the total share of
    # women equals the published share.
    hh = np.array(rows["household_id"], dtype=object)
    sex = np.where(rng.random(total) < 0.5, "K", "M").astype(object)
    first_adult = np.zeros(total, dtype=bool)
    second_adult = np.zeros(total, dtype=bool)
    prev = None
    count = 0
    for i in range(total):
        if hh[i] != prev:
            prev, count = hh[i], 0
        if adult[i]:
            count += 1
            first_adult[i] = count == 1
            second_adult[i] = count == 2
    couple_second = second_adult
    couple_first = first_adult & np.isin(hh, hh[couple_second])
    sex[couple_first] = "K"
    sex[couple_second] = "M"
    free = ~(couple_first | couple_second)
    women_fixed = couple_first.sum()
    p_f = (targets.female_share * total - women_fixed) / max(free.sum(), 1)
    sex[free] = np.where(rng.random(free.sum()) < np.clip(p_f, 0, 1), "K", "M")
    groups = np.array(rows["country_group"], dtype=object)
    education = np.empty(total, dtype=object)
    for g in COUNTRY_GROUPS:
        sel = groups == g
        education[sel] = rng.choice(EDUCATION_LEVELS, size=sel.sum(), p=EDUCATION_MIX[g])
    young = age < 16
    education[young] = np.where(age[young] < 7, "ingen", "grunnskole")
    norwegian = rng.choice(NORWEGIAN_LEVELS, size=total, p=NORWEGIAN_MIX).astype(object)
    support = rng.random(total) < SUPPORT_NEED_SHARE
    cols = {
        "person_id": np.array([f"S{seed}-P{i + 1:06d}" for i in range(total)], dtype=object),
        "household_id": hh,
        "age": age.astype(np.int16),
        "sex": sex,
        "education": education,
        "norwegian_level": norwegian,
        "country_group": groups,
        "unaccompanied_minor": np.array(rows["unaccompanied_minor"], dtype=bool),
        "support_need": support,
        "tie_municipality": np.array(rows["tie_municipality"], dtype=object),
        "tie_kind": np.array(rows["tie_kind"], dtype=object),
    }
    return _assemble(cols, synthetic=True, source=f"syntetisk (frø {seed})")


# -- outcomes ---------------------------------------------------------------------------
def _band(years: np.ndarray) -> np.ndarray:
    out = np.empty(years.shape, dtype=object)
    for name, lo, hi in BOTID_BANDS:
        out[(years >= lo) & (years <= hi)] = name
    return out


def in_outcome_scope(cohort: Cohort, years: np.ndarray | int) -> np.ndarray:
    """Persons whose age at measurement (age + years) is within 15–74, the range the
    employment statistics (and so the outcome) cover."""
    age_now = cohort.age.astype(np.int64) + np.asarray(years, dtype=np.int64)
    return (age_now >= OUTCOME_AGE[0]) & (age_now <= OUTCOME_AGE[1])


def _children_in_household(cohort: Cohort) -> np.ndarray:
    children = np.zeros(len(cohort), dtype=bool)
    for rows in cohort.households:
        minors = cohort.age[rows] < 18
        children[rows] = (minors.sum() - minors) > 0
    return children


class SyntheticWorld:
    """The synthetic truth: how likely a person is to be in work or education after a
    number of years in a municipality, and how likely a household is to stay, for *any*
    placement. Fixed once: the assumed effects (:data:`ASSUMED_EFFECTS`), the local
    deviations per county and municipality (drawn with :data:`WORLD_SEED`), and the
    intercepts, solved on a calibration extract so that its expected rates equal the
    published ones. A model trained on one extract can then be scored on another cohort's
    true outcomes under the placement it proposes (:mod:`bliatlas.settlement.backtest`).

    Municipality signals are standardised over the whole table given here (all 357), so the
    truth of a municipality does not depend on which others are in a run.
    """

    def __init__(self, targets: CalibrationTargets, munis: MunicipalityTable,
                 world_seed: int = WORLD_SEED) -> None:
        self.targets = targets
        self.munis = munis
        self.sig = municipality_signals(munis)
        self._pos = {c: j for j, c in enumerate(munis.codes.tolist())}
        rng = np.random.default_rng(world_seed)
        e = ASSUMED_EFFECTS
        counties = sorted(set(munis.county.tolist()))
        county_dev = dict(zip(counties, rng.normal(0, e["lokal_fylke_sd"], len(counties)),
                              strict=True))
        self.local = (np.array([county_dev[c] for c in munis.county.tolist()])
                      + rng.normal(0, e["lokal_kommune_sd"], len(munis)))
        self.employment_shift: dict[tuple[int, str], float] = {}
        self.stay_shift: dict[str, float] = {}  # still in the first municipality
        self.county_shift: dict[str, float] = {}  # still in the county
        self.stay_default = 0.0
        self.county_default = 0.0

    # -- the uncalibrated parts ---------------------------------------------------------
    def index(self, codes: np.ndarray) -> np.ndarray:
        return np.array([self._pos[c] for c in np.asarray(codes).tolist()], dtype=np.int64)

    def _person_logit(self, cohort: Cohort, years: np.ndarray) -> np.ndarray:
        e = ASSUMED_EFFECTS
        age_now = cohort.age.astype(np.int64) + years
        z = np.zeros(len(cohort))
        for level in EDUCATION_LEVELS[1:]:
            z += e[f"utdanning_{level}"] * (cohort.education == level)
        for level in NORWEGIAN_LEVELS[1:]:
            z += e[f"norsk_{level}"] * (cohort.norwegian_level == level)
        female = cohort.sex == "K"
        z += e["kvinne"] * female + e["kvinne_med_barn"] * (female & _children_in_household(
            cohort))
        z += e["alder_15_24"] * (age_now <= 24)
        z += e["alder_45_54"] * ((age_now >= 45) & (age_now <= 54)) + e["alder_55_plus"] * (
            age_now >= 55)
        z += e["oppfolgingsbehov"] * cohort.support_need
        for g in COUNTRY_GROUPS:
            key = f"land_{g}"
            if key in e:
                z += e[key] * (cohort.country_group == g)
        return z

    def _network(self, cohort: Cohort, muni_index: np.ndarray) -> np.ndarray:
        ukr = cohort.country_group == "ukraina"
        return np.where(ukr, self.sig.network_ukraina[muni_index],
                        self.sig.network_other[muni_index])

    def relative_logit(self, cohort: Cohort, muni_index: np.ndarray,
                       years: np.ndarray) -> np.ndarray:
        """The uncalibrated part of the employment log-odds per person in the municipality
        ``muni_index`` (index into this world's table) after ``years`` years."""
        e = ASSUMED_EFFECTS
        sig = self.sig
        years = np.broadcast_to(np.asarray(years, dtype=np.int64), (len(cohort),))
        z = self._person_logit(cohort, years)
        c, s, d, gp = (sig.central[muni_index], sig.size[muni_index],
                       sig.district[muni_index], sig.gp[muni_index])
        z += e["kommune_sentral"] * c + e["kommune_storrelse"] * s + self.local[muni_index]
        z += e["hoyere_x_sentral"] * (cohort.education == "hoyere") * c
        low = np.isin(cohort.education, ("ingen", "grunnskole"))
        z += e["lav_utdanning_x_distrikt"] * low * d
        z += e["oppfolging_x_fastlege"] * cohort.support_need * gp
        z += e["norsk_B_x_distrikt"] * np.isin(cohort.norwegian_level, ("B1", "B2")) * d
        z += e["ung_x_sentral"] * ((cohort.age.astype(np.int64) + years) <= 24) * c
        z += e["nettverk"] * self._network(cohort, muni_index)
        return z

    def _stay_logit(self, cohort: Cohort, hh_first: np.ndarray,
                    hh_muni: np.ndarray) -> np.ndarray:
        """Uncalibrated retention log-odds per household (``hh_first``: its first person)."""
        e = ASSUMED_EFFECTS
        sig = self.sig
        net = np.where(cohort.country_group[hh_first] == "ukraina",
                       sig.network_ukraina[hh_muni], sig.network_other[hh_muni])
        return (e["bofast_sentral"] * sig.central[hh_muni]
                + e["bofast_storrelse"] * sig.size[hh_muni] + e["bofast_nettverk"] * net)

    # -- calibration --------------------------------------------------------------------
    def calibrate(self, cohort: Cohort, muni_index: np.ndarray, years: np.ndarray) -> None:
        """Solve the intercepts on a calibration population (persons at ``muni_index``
        after ``years``): per (SSB group, botid band) cell for employment, per county for
        retention in the first municipality and in the county."""
        z = self.relative_logit(cohort, muni_index, years)
        scope = in_outcome_scope(cohort, years)
        ssb = np.array([SSB_COUNTRY_GROUP[g] for g in cohort.country_group.tolist()])
        band = _band(np.asarray(years))
        for (g, b), target in self.targets.employment.items():
            cell = scope & (ssb == g) & (band == b)
            if cell.any():
                self.employment_shift[(g, b)] = _solve_shift(z[cell], target)
        first = np.array([rows[0] for rows in cohort.households], dtype=np.int64)
        hh_muni = muni_index[first]
        zr = self._stay_logit(cohort, first, hh_muni)
        hh_county = self.munis.county[hh_muni]
        for county, share in self.targets.retention.items():
            sel = hh_county == county
            if sel.any():
                self.stay_shift[county] = _solve_shift(zr[sel], share)
                within = self.targets.retention_county.get(county, share)
                self.county_shift[county] = _solve_shift(zr[sel], within)
        mean_share = float(np.mean(list(self.targets.retention.values())))
        mean_county = float(np.mean(list(self.targets.retention_county.values()))) \
            if self.targets.retention_county else mean_share
        self.stay_default = _solve_shift(zr, mean_share)
        self.county_default = _solve_shift(zr, mean_county)

    # -- truth ------------------------------------------------------------------------------
    def employment_probability(self, cohort: Cohort, muni_index: np.ndarray,
                               years: np.ndarray | int) -> np.ndarray:
        """P(in work or education) per person at ``muni_index`` after ``years``; nan outside
        the outcome's age range (15–74 at measurement)."""
        years = np.broadcast_to(np.asarray(years, dtype=np.int64), (len(cohort),))
        z = self.relative_logit(cohort, muni_index, years)
        scope = in_outcome_scope(cohort, years)
        ssb = np.array([SSB_COUNTRY_GROUP[g] for g in cohort.country_group.tolist()])
        band = _band(years)
        p = np.full(len(cohort), np.nan)
        for (g, b), shift in self.employment_shift.items():
            cell = scope & (ssb == g) & (band == b)
            p[cell] = _sigmoid(z[cell] + shift)
        return p

    def employment_matrix(self, cohort: Cohort, codes: np.ndarray, years: int) -> np.ndarray:
        """(persons, municipalities in ``codes``) true P(in work or education) after
        ``years`` years; nan rows outside the age range. The same terms as
        :meth:`relative_logit`, as outer products."""
        e = ASSUMED_EFFECTS
        idx = self.index(codes)
        sig = self.sig
        n = len(cohort)
        yrs = np.full(n, int(years), dtype=np.int64)
        person = self._person_logit(cohort, yrs)
        c, s_, d, gp = sig.central[idx], sig.size[idx], sig.district[idx], sig.gp[idx]
        z = person[:, None] + (e["kommune_sentral"] * c + e["kommune_storrelse"] * s_
                               + self.local[idx])[None, :]
        hoyere = (cohort.education == "hoyere").astype(float)
        low = np.isin(cohort.education, ("ingen", "grunnskole")).astype(float)
        norsk_b = np.isin(cohort.norwegian_level, ("B1", "B2")).astype(float)
        young = ((cohort.age.astype(np.int64) + yrs) <= 24).astype(float)
        support = cohort.support_need.astype(float)
        z += np.outer(e["hoyere_x_sentral"] * hoyere + e["ung_x_sentral"] * young, c)
        z += np.outer(e["lav_utdanning_x_distrikt"] * low + e["norsk_B_x_distrikt"] * norsk_b, d)
        z += np.outer(e["oppfolging_x_fastlege"] * support, gp)
        ukr = cohort.country_group == "ukraina"
        z += e["nettverk"] * np.where(ukr[:, None], sig.network_ukraina[idx][None, :],
                                      sig.network_other[idx][None, :])
        scope = in_outcome_scope(cohort, yrs)
        ssb = np.array([SSB_COUNTRY_GROUP[g] for g in cohort.country_group.tolist()])
        band = _band(yrs)
        shift = np.full(n, np.nan)
        for (g, b), v in self.employment_shift.items():
            shift[scope & (ssb == g) & (band == b)] = v
        return _sigmoid(z + shift[:, None])

    def stay_matrix(self, cohort: Cohort, codes: np.ndarray, county: bool = True) -> np.ndarray:
        """(persons, municipalities) true P(the household still lives in the county —
        or, with ``county=False``, in the first municipality) after the years of the
        published retention figures."""
        e = ASSUMED_EFFECTS
        idx = self.index(codes)
        sig = self.sig
        shifts = self.county_shift if county else self.stay_shift
        default = self.county_default if county else self.stay_default
        base = (e["bofast_sentral"] * sig.central[idx] + e["bofast_storrelse"] * sig.size[idx]
                + np.array([shifts.get(str(self.munis.county[j]), default) for j in idx]))
        ukr = cohort.country_group == "ukraina"
        net = np.where(ukr[:, None], sig.network_ukraina[idx][None, :],
                       sig.network_other[idx][None, :])
        return _sigmoid(base[None, :] + e["bofast_nettverk"] * net)


def generate_world(n_persons: int, targets: CalibrationTargets, munis: MunicipalityTable,
                   seed: int = 1, max_years: int = 12, world_seed: int = WORLD_SEED
                   ) -> tuple[SyntheticWorld, TrainingExtract, np.ndarray, np.ndarray,
                              np.ndarray]:
    """A synthetic historical extract and the world calibrated on it.

    Households are settled in proportion to the municipalities' decisions (a hard tie is
    honoured, a soft tie with probability 1/2); years of residence are drawn uniformly
    1..``max_years`` per household (a sample design, not a published figure). The world's
    intercepts are solved on this extract, so its expected rates equal the published ones.
    Returns (world, extract, bofast, bofast_fylke, p): retention flags per person (still in
    the first municipality; still in the county) and the calibrated probabilities.
    """
    cohort = generate_cohort(n_persons, targets, munis, seed)
    rng = np.random.default_rng(seed + 1_000_003)
    hh_of = cohort.household_of_person()
    settle_w = settlement_weights(munis)
    hh_muni = rng.choice(len(munis), size=cohort.n_households, p=settle_w)
    for k, rows in enumerate(cohort.households):
        kind = cohort.tie_kind[rows[0]]
        if kind == "hard" or (kind == "soft" and rng.random() < 0.5):
            hh_muni[k] = munis.index(cohort.tie_municipality[rows[0]])
    hh_years = rng.integers(1, max_years + 1, size=cohort.n_households)
    muni_index = hh_muni[hh_of]
    years = hh_years[hh_of].astype(np.int16)
    world = SyntheticWorld(targets, munis, world_seed)
    world.calibrate(cohort, muni_index, years.astype(np.int64))
    p = world.employment_probability(cohort, muni_index, years.astype(np.int64))
    outcome = np.where(np.isnan(p), -1, rng.random(len(cohort)) < np.nan_to_num(p)).astype(np.int8)
    # Retention per household: one uniform draw, so staying in the first municipality
    # implies staying in the county.
    first = np.array([rows[0] for rows in cohort.households], dtype=np.int64)
    zr = world._stay_logit(cohort, first, hh_muni)
    county = munis.county[hh_muni]
    p_stay = _sigmoid(zr + np.array([world.stay_shift.get(c, world.stay_default)
                                     for c in county.tolist()]))
    p_county = _sigmoid(zr + np.array([world.county_shift.get(c, world.county_default)
                                       for c in county.tolist()]))
    u = rng.random(cohort.n_households)
    stay, in_county = u < p_stay, u < p_county
    stay_p, county_p = stay[hh_of].astype(np.int8), in_county[hh_of].astype(np.int8)
    extract = TrainingExtract(cohort, munis.codes[muni_index], years, outcome, stay_p, county_p)
    return world, extract, stay_p, county_p, p


def generate_extract(
    n_persons: int,
    targets: CalibrationTargets,
    munis: MunicipalityTable,
    seed: int = 1,
    max_years: int = 12,
) -> tuple[TrainingExtract, np.ndarray, np.ndarray]:
    """A synthetic historical extract (see :func:`generate_world`): the extract, the
    retention flag per person (bofast, 1 = still in the first municipality) and the
    calibrated probabilities."""
    _, extract, stay, _, p = generate_world(n_persons, targets, munis, seed, max_years)
    return extract, stay, p


# -- checks ----------------------------------------------------------------------------------
def calibration_check(
    extract: TrainingExtract,
    targets: CalibrationTargets,
    munis: MunicipalityTable,
    bofast: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Simulated vs published rates for every calibrated cell."""
    cohort = extract.cohort
    scope = extract.outcome >= 0
    ssb = np.array([SSB_COUNTRY_GROUP[g] for g in cohort.country_group.tolist()])
    band = _band(extract.years.astype(np.int64))
    out: list[dict[str, Any]] = []
    for (g, b), target in sorted(targets.employment.items()):
        cell = scope & (ssb == g) & (band == b)
        out.append(
            {
                "mål": "sysselsatt",
                "gruppe": f"Gruppe {g}-land",
                "botid": b,
                "publisert": target,
                "simulert": float(extract.outcome[cell].mean()) if cell.any() else float("nan"),
                "antall": int(cell.sum()),
            }
        )
    if bofast is not None:
        pos = {c: j for j, c in enumerate(munis.codes.tolist())}
        county = munis.county[[pos[c] for c in extract.municipality.tolist()]]
        firsts = np.array([rows[0] for rows in cohort.households])
        for c, target in sorted(targets.retention.items()):
            sel = firsts[county[firsts] == c]
            out.append(
                {
                    "mål": "bofast",
                    "gruppe": f"fylke {c}",
                    "botid": "",
                    "publisert": target,
                    "simulert": float(bofast[sel].mean()) if sel.size else float("nan"),
                    "antall": int(sel.size),
                }
            )
    return out


def write_extract(extract: TrainingExtract, bofast: np.ndarray, path: str | Path,
                  bofast_fylke: np.ndarray | None = None) -> None:
    from bliatlas.settlement.cohort import write_cohort

    outcome = np.where(extract.outcome < 0, "", extract.outcome.astype(str)).astype(object)
    extra = {"kommune": extract.municipality, "botid": extract.years, "utfall": outcome,
             "bofast": bofast}
    if bofast_fylke is not None:
        extra["bofast_fylke"] = bofast_fylke
    write_cohort(extract.cohort, path, extra=extra)
