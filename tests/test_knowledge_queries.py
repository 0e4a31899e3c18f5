"""Search quality: Norwegian queries as users type them, each with the entry expected in the
top 3 of `KnowledgeIndex.search` over the real content.

HELD_OUT was written from the list of entry titles *before* the search had been run on any
of these queries, and has not been used to tune the ranking. On its first run 11 of 12 hit
the top 3 (second set, written later: 10 of 12); the misses are kept below as strict
xfails (a strict xfail fails the suite if it starts passing, so the record stays true).
QUERIES were written afterwards while developing; a few whose expectation the content did
not support were dropped rather than forced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bliatlas.knowledge.loader import load_entries
from bliatlas.knowledge.search import KnowledgeIndex

CONTENT = Path(__file__).resolve().parents[1] / "content"

MENTOR_ENTRIES = (
    "tilskudd-mentor-og-traineeordninger",
    "praksis-heroy-mentor-til-fast-jobb",
    "praksis-tromso-mentor-global-future-noda",
    "funn-mentorordninger-gir-nettverk-og-karriere",
    "rad-slik-lager-kommunen-en-mentorordning",
)

HELD_OUT: list[tuple[str, tuple[str, ...]]] = [
    ("godkjenning av utdanning uten papirer", ("praksis-ytre-helgeland-karrieresenter-uvd",)),
    ("turgruppe innvandrere", ("praksis-drammen-turgrupper-brobygging",)),
    ("bibliotek som møteplass", ("praksis-berg-folkebibliotek-inkluderingsnav",)),
    ("integreringstilskudd", ("tilskudd-integreringstilskudd",)),
    ("statsforvalterens rolle tilsyn", ("aktor-statsforvalteren",)),
    ("regional planstrategi kunnskapsgrunnlag", ("plan-kunnskapsgrunnlag",)),
    ("helsefagarbeider utdanning flyktninger", ("praksis-gloppen-helsefag-praksis-for-teori",)),
    ("mentorordning for kvinner", ("praksis-heroy-mentor-til-fast-jobb",)),
    ("boligbygging gir arbeidsplasser", ("praksis-tranoy-boligbygging-entreprenor",)),
    ("etablereropplering", ("tilskudd-etablereropplaering-innvandrere",)),  # typo
    ("naeringslivsuppropet malmo", ("praksis-malmo-naringslivsuppropet",)),
]
HELD_OUT_MISSES: list[tuple[str, tuple[str, ...]]] = [
    ("hvordan få flyktninger i jobb raskt etter bosetting",
     ("praksis-naroysund-tidlig-avklaring-kvalifisering",)),
]

# Second held-out set, written the same way once the content had grown to 219 entries
# (seeds 000 and 003 added); first run: 10 of 12 in the top 3.
HELD_OUT += [
    ("kollektivtransport for flyktninger",
     ("funn-kollektivtransport-for-bosatte-flyktninger",)),
    ("eldre innvandrere aldring", ("kunnskapsbehov-eldre-innvandrere",)),
    ("sesongarbeid i landbruket",
     ("kunnskapsbehov-sesongarbeidere-og-usynlige-arbeidsinnvandrere",)),
    ("hjelp til å skrive søknader om tilskudd for små kommuner",
     ("praksis-sokerkurs-for-sma-kommuner",)),
    ("sertifisering inkluderende arbeidsplass", ("praksis-likestilt-arbeidsliv-agder",)),
    ("helsetilstand flyktninger", ("kunnskapsbehov-helse-i-flyktningbefolkningen",)),
    ("norske venner gir jobb", ("funn-nettverk-gir-hoyere-sysselsetting",)),
    ("ukrainakrigen og fylkeskommunen", ("funn-ukraina-befestet-fylkeskommunens-rolle",)),
    ("mottakssystem for arbeidsinnvandrere nordland", ("praksis-ny-i-nordland",)),
    ("integreringsarbeid er underfinansiert",
     ("funn-integreringsfeltet-underfinansiert",)),
]
# The two misses of this second set pass since the ranking of issue 14 (an entry must
# match 60 % of the query words and an unknown word no longer counts; entries rewritten
# from the sources). Neither query was used to tune anything, so they moved here as
# they stand.
HELD_OUT += [
    ("unge innvandrere flytter fra bygda", ("funn-unge-innvandrere-flytter-oftere",)),
    ("opplæring av nytilsatte i flyktningtjenesten",
     ("praksis-opplaering-av-nyansatte-i-flyktningetjenesten",)),
]

QUERIES: list[tuple[str, tuple[str, ...]]] = [
    # the issue's own example, and its spellings without æ/ø/å
    ("språkopplæring for arbeidsinnvandrere", ("funn-sprakopplaering-arbeidsinnvandrere",)),
    ("sprakopplaering arbeidsinnvandrere", ("funn-sprakopplaering-arbeidsinnvandrere",)),
    ("spraakopplaering for arbeidsinnvandrerne", ("funn-sprakopplaering-arbeidsinnvandrere",)),
    # inflections and compounds
    ("norskkurs og fagbrev verft", ("praksis-haram-sprakkurs-og-fagbrev",)),
    ("fagbrev for arbeidsinnvandrer", ("praksis-haram-sprakkurs-og-fagbrev",)),
    ("frivilligsentralen", ("praksis-heroy-frivilligsentral-nettverk",)),
    ("frivilligsentral i herøy", ("praksis-heroy-frivilligsentral-nettverk",)),
    ("heroy frivillighet bosetting", ("praksis-heroy-frivilligsentral-nettverk",)),
    ("kultursenter alta", ("praksis-alta-sisa-flerkulturell-moteplass",)),
    ("folkebiblioteket", ("praksis-berg-folkebibliotek-inkluderingsnav",)),
    ("tilflyttere som blir boende i fjellregionen",
     ("praksis-fjellregionen-regionrad-tilflyttere-blir",)),
    ("regionråd tilflytting", ("praksis-fjellregionen-regionrad-tilflyttere-blir",)),
    ("froya arbeidsinnvandring bolig", ("praksis-froya-fast-arbeid-norsk-og-bolig",)),
    ("startlån til arbeidsinnvandrere", ("praksis-froya-fast-arbeid-norsk-og-bolig",)),
    ("faste stillinger og tariff", ("praksis-gamvik-faste-stillinger-vekst",)),
    ("praksis før teori helsefag", ("praksis-gloppen-helsefag-praksis-for-teori",)),
    ("karriereplan for hver innvandrer", ("praksis-lindesnesregionen-ressursgrupper",)),
    ("ressursgruppe lindesnes", ("praksis-lindesnesregionen-ressursgrupper",)),
    ("rekruttering fra utlandet nordland", ("praksis-nordland-tilflyttingsprosjekt",)),
    ("jamtland flyktninger arbeidsgivere", ("praksis-jamtland-beholde-flyktninger",)),
    ("hele kommuneorganisasjonen", ("praksis-fjell-hele-kommuneorganisasjonen",)),
    ("velkomsttilbud arbeidsinnvandrere tilskudd", ("tilskudd-imdi-velkomsttilbud",)),
    ("bedriftsintern opplæring", ("tilskudd-bedriftsintern-opplaering-bio",)),
    ("BIO-midler", ("tilskudd-bedriftsintern-opplaering-bio",)),
    ("60-posten regionale utviklingsmidler", ("tilskudd-regionale-utviklingsmidler-60-posten",)),
    ("naeringshage inkubator", ("tilskudd-naeringshage-og-inkubatorprogram",)),
    ("studiesenter", ("tilskudd-studiesentre",)),
    ("bygdevekstavtale", ("tilskudd-bygdevekst",)),
    ("fylkeskommunens ansvar integreringsloven", ("aktor-fylkeskommune",)),
    ("hvem har ansvar for integrering i fylket", ("aktor-fylkeskommune",)),
    ("navs rolle i kvalifisering", ("aktor-nav",)),
    ("IMDi", ("aktor-imdi",)),
    ("negativ sosial kontroll", ("aktor-rvts-nkvts",)),
    ("overkvalifiserte innvandrere", ("funn-innvandrere-overkvalifisert",)),
    ("introduksjonsprogrammet er ikke arbeidsrettet nok",
     ("funn-introduksjonsprogram-og-regional-bosetting",)),
    ("toppledelse forankring", ("funn-forankring-i-toppledelsen",)),
    ("innvandrerforeldre og fritidsaktiviteter for barn",
     ("kunnskapsbehov-foreldre-og-organisert-barndom",)),
    ("medforskning", ("kunnskapsbehov-medforskning-med-innvandrere",)),
    ("temaplan integrering trøndelag", ("plan-temaplan-for-integrering",)),
    ("entreprenør boligbygging flyktninger", ("praksis-tranoy-boligbygging-entreprenor",)),
    ("sysselsettingsvekst innvandring", ("funn-innvandring-og-sysselsettingsvekst",)),
    ("voksenopplæring og nav samarbeid om norsk i bedrift",
     ("praksis-naroysund-tidlig-avklaring-kvalifisering",)),
    ("tilskot til frivillige lag i vestland", ("tilskudd-vestland-inkludering-og-integrering",)),
    # paraphrases that avoid the titles' words
    ("jobbtrening og referanser for innvandrere", ("praksis-alta-sisa-flerkulturell-moteplass",)),
    ("gå på tur sammen med nordmenn", ("praksis-drammen-turgrupper-brobygging",)),
    ("kvalifisering uten verifiserbare dokumenter",
     ("praksis-ytre-helgeland-karrieresenter-uvd",)),
    ("gründerhus for innvandrere", ("praksis-alta-sisa-flerkulturell-moteplass",)),
    ("barnehageplass og startlån for tilflyttere", ("praksis-froya-fast-arbeid-norsk-og-bolig",)),
    ("hvem gir penger til frivillige lag som inkluderer innvandrere i troms",
     ("tilskudd-troms-frivillighet-inkludering",)),
    ("desentralisert utdanning i distriktene",
     ("tilskudd-kompetanse-og-arbeidskraft-i-distriktene",)),
    ("arbeidsinnvandrere som buffer i arbeidsmarkedet",
     ("kunnskapsbehov-arbeidsinnvandrere-som-buffer",)),
    ("høyt utdannede innvandrere bor på bygda",
     ("funn-hoyt-utdannede-innvandrere-utenfor-byene",)),
    # typos
    ("folkebibliotk", ("praksis-berg-folkebibliotek-inkluderingsnav",)),
    ("flyktnnger som bli boende i sverige", ("praksis-jamtland-beholde-flyktninger",)),
    # English-influenced
    ("mentoring for innvandrerkvinner", ("praksis-heroy-mentor-til-fast-jobb",)),
    ("volunteering and meeting places library", ("praksis-berg-folkebibliotek-inkluderingsnav",)),
    ("mentoring program for immigrants", MENTOR_ENTRIES),
    ("grants for startups immigrants", ("tilskudd-etablereropplaering-innvandrere",)),
]


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(load_entries(CONTENT))


def test_suite_is_large_enough() -> None:
    assert len(QUERIES) + len(HELD_OUT) >= 30
    assert len({q for q, _ in QUERIES + HELD_OUT + HELD_OUT_MISSES}) == (
        len(QUERIES) + len(HELD_OUT) + len(HELD_OUT_MISSES))


def _top3(index: KnowledgeIndex, query: str) -> list[str]:
    return [h.entry.id for h in index.search(query, limit=3).hits]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_query_finds_expected_entry_in_top_3(index: KnowledgeIndex, query: str,
                                            expected: tuple[str, ...]) -> None:
    for entry_id in expected:
        index.get(entry_id)  # the expected entry exists
    top = _top3(index, query)
    assert set(top) & set(expected), f"{query!r}: fikk {top}"


@pytest.mark.parametrize(("query", "expected"), HELD_OUT, ids=[q for q, _ in HELD_OUT])
def test_held_out_query(index: KnowledgeIndex, query: str, expected: tuple[str, ...]) -> None:
    top = _top3(index, query)
    assert set(top) & set(expected), f"{query!r}: fikk {top}"


@pytest.mark.xfail(strict=True, reason="held-out miss on first run (ranking not tuned to it)")
@pytest.mark.parametrize(("query", "expected"), HELD_OUT_MISSES,
                         ids=[q for q, _ in HELD_OUT_MISSES])
def test_held_out_known_miss(index: KnowledgeIndex, query: str,
                             expected: tuple[str, ...]) -> None:
    top = _top3(index, query)
    assert set(top) & set(expected), f"{query!r}: fikk {top}"
