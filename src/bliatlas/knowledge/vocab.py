"""Controlled vocabularies of the knowledge content, with the Norwegian labels users see.

The single place these lists live; ``docs/content-model.md`` documents them for authors.
"""

from __future__ import annotations

from dataclasses import dataclass

# Entry type -> (folder under content/, Norwegian label)
TYPES: dict[str, tuple[str, str]] = {
    "praksis": ("praksis", "Praksis / tiltak"),
    "funn": ("funn", "Forskningsfunn"),
    "kunnskapsbehov": ("kunnskapsbehov", "Kunnskapsbehov"),
    "rad": ("rad", "Råd og gode grep"),
    "tilskudd": ("tilskudd", "Tilskuddsordning"),
    "aktor": ("aktorer", "Aktør og ansvar"),
    "plan": ("planer", "Plantype"),
    "nettverk": ("nettverk", "Nettverk og forum"),
}

THEMES: dict[str, str] = {
    "arbeid": "Arbeid og sysselsetting",
    "sprak": "Språk og norskopplæring",
    "bolig": "Bolig",
    "kvalifisering": "Kvalifisering og godkjenning av utdanning",
    "frivillighet": "Frivillighet og møteplasser",
    "velkomst": "Velkomst og tilflytting",
    "mentor": "Mentorordninger",
    "grunder": "Gründerskap og næringsutvikling",
    "samarbeid": "Samarbeid på tvers av sektorer",
    "rekruttering": "Rekruttering",
    "bosetting": "Bosetting av flyktninger",
    "barn_unge": "Barn og unge",
    "planlegging": "Planlegging og kunnskapsgrunnlag",
    "finansiering": "Finansiering og tilskudd",
}

TARGET_GROUPS: dict[str, str] = {
    "flyktninger": "Flyktninger",
    "arbeidsinnvandrere": "Arbeidsinnvandrere",
    "familieinnvandrere": "Familieinnvandrere",
    "ungdom": "Ungdom",
    "kvinner": "Kvinner",
    "alle": "Alle innbyggere",
}

ACTORS: dict[str, str] = {
    "kommune": "Kommune",
    "fylkeskommune": "Fylkeskommune",
    "nav": "NAV",
    "imdi": "IMDi",
    "statsforvalter": "Statsforvalteren",
    "arbeidsgiver": "Arbeidsgiver",
    "frivillighet": "Frivillige organisasjoner",
    "skole": "Skole",
    "voksenopplaering": "Voksenopplæring",
    "helse": "Helsetjenesten",
    "innvandrerorganisasjon": "Innvandrerorganisasjon",
    "distriktssenteret": "Distriktssenteret",
    "husbanken": "Husbanken",
    "forskning": "Forskning",
    "bibliotek": "Bibliotek",
    "naeringsliv": "Næringsliv",
    "bufdir": "Bufdir og Bufetat",
    "innovasjon_norge": "Innovasjon Norge",
    "kdd": "Kommunal- og distriktsdepartementet",
    "karrieresenter": "Karrieresentre",
    "opplaeringskontor": "Opplæringskontor",
    "ks": "KS",
    "rvts": "RVTS og NKVTS",
    "udi": "UDI",
}

# Named organisations a query can ask for by name; the actor entry (type aktor) describing
# them is boosted. Generic actors (kommune, arbeidsgiver, skole …) are left out on purpose:
# nearly every entry concerns them. Forms are written as users type them.
ACTOR_NAMES: dict[str, tuple[str, ...]] = {
    "nav": ("nav", "navs"),
    "imdi": ("imdi", "imdis", "integrerings- og mangfoldsdirektoratet"),
    "statsforvalter": ("statsforvalteren", "statsforvalterens", "statsforvalter", "fylkesmannen"),
    "husbanken": ("husbanken", "husbankens"),
    "ks": ("ks",),
    "udi": ("udi", "udis"),
    "bufdir": ("bufdir", "bufetat", "bufdirs"),
    "rvts": ("rvts", "nkvts"),
    "innovasjon_norge": ("innovasjon norge",),
    "kdd": ("kdd", "kommunal- og distriktsdepartementet"),
    "distriktssenteret": ("distriktssenteret", "distriktssenterets"),
    "karrieresenter": ("karrieresenter", "karrieresenteret", "karrieresentrene", "karrieresentre"),
    "opplaeringskontor": ("opplæringskontor", "opplæringskontoret", "opplæringskontorene"),
}

FINDING_KINDS: dict[str, str] = {
    "forskning": "Forskning",
    "evaluering": "Evaluering",
    "statistikk": "Statistikk",
}



@dataclass(frozen=True)
class Document:
    """A source document entries may cite, as users see it: title, publisher, year."""

    key: str
    title: str
    publisher: str
    year: int

    def reference(self) -> str:
        return f"{self.title} ({self.publisher}, {self.year})"


# The documents the knowledge base is written from, by the key entries cite them with.
DOCUMENTS: dict[str, Document] = {d.key: d for d in (
    Document("arbeidsverksted-2023",
             "Sammenstilling av resultat fra arbeidsverksted om inkludering av innbyggere med "
             "innvandrerbakgrunn", "Distriktssenteret", 2023),
    Document("temahefte-2019",
             "Innvandring, inkludering, sysselsetting og lokal utvikling. Temahefte, revidert "
             "utgave", "Distriktssenteret og IMDi", 2019),
    Document("nibr-casestudie-2015",
             "Sysselsetting av innvandrere – regionale muligheter og barrierer for inkludering "
             "(omtale av NIBR-rapport 2015:20)", "NIBR for Distriktssenteret og IMDi", 2015),
    Document("fylkeskommunene-2025",
             "Kartlegging og analyse av fylkeskommunens praksis på inkluderings- og "
             "integreringsfeltet", "ideas2evidence for Distriktssenteret", 2025),
    Document("nibr-kunnskapsoppsummering-2015",
             "Innvandrere og sysselsetting i et regionalt perspektiv. En kunnskapsoppsummering",
             "NIBR for Distriktssenteret og IMDi", 2015),
)}

# What a field says when the source does not give the information.
NOT_GIVEN = "ikke oppgitt i kilden"

# How well a practice is documented, from the strongest: id -> (label, what it means).
EVIDENCE_LEVELS: dict[str, tuple[str, str]] = {
    "effekt_dokumentert": ("Effekt dokumentert",
                           ("forskning eller evaluering i kilden har målt virkningen mot et "
                           "sammenligningsgrunnlag")),
    "evaluert": ("Evaluert",
                 "praksisen er evaluert eller fulgt av forskere, men uten målt virkning"),
    "erfaringsbasert": ("Erfaringsbasert",
                        "kilden bygger på erfaringene og tallene til dem som driver praksisen"),
    "ikke_dokumentert": ("Ikke dokumentert",
                         ("kilden beskriver praksisen, men oppgir ingen resultater, eller sier "
                         "at resultatene ikke er kjent")),
}

STATUS_VALUES: dict[str, str] = {
    "aktiv": "I drift da kilden ble skrevet",
    "avsluttet": "Avsluttet",
    "ukjent": "Ukjent",
}

# Facet values for what the source says about cost and funding.
COST_CLASSES: dict[str, str] = {
    "belop_oppgitt": "Beløp oppgitt i kilden",
    "finansiering_beskrevet": "Kostnad eller finansiering beskrevet, uten beløp",
    "ikke_oppgitt": "Ikke oppgitt i kilden",
}

# When a knowledge need points at a municipality: its value among the highest or lowest
# quarter of all municipalities on the indicator.
INDICATOR_WHEN: dict[str, str] = {
    "hoy": "blant de 25 prosent høyeste",
    "lav": "blant de 25 prosent laveste",
}

# The 15 county codes of the 2024 regional structure.
COUNTY_CODES_2024: dict[str, str] = {
    "03": "Oslo",
    "11": "Rogaland",
    "15": "Møre og Romsdal",
    "18": "Nordland",
    "31": "Østfold",
    "32": "Akershus",
    "33": "Buskerud",
    "34": "Innlandet",
    "39": "Vestfold",
    "40": "Telemark",
    "42": "Agder",
    "46": "Vestland",
    "50": "Trøndelag",
    "55": "Troms",
    "56": "Finnmark",
}

# Facets a search can count and filter on: facet key -> Norwegian heading.
FACETS: dict[str, str] = {
    "type": "Type",
    "tema": "Tema",
    "malgruppe": "Målgruppe",
    "aktor": "Aktør",
    "fylke": "Fylke",
    "sentralitet": "Sentralitet",
    "evidens": "Evidens (praksiser)",
    "kostnad": "Kostnad og finansiering (praksiser)",
}

CENTRALITY_LABELS: dict[str, str] = {
    "1": "Sentralitet 1 (mest sentral)",
    "2": "Sentralitet 2",
    "3": "Sentralitet 3",
    "4": "Sentralitet 4",
    "5": "Sentralitet 5 (distriktskommune)",
    "6": "Sentralitet 6 (minst sentral, distriktskommune)",
}


def type_label(type_id: str) -> str:
    return TYPES[type_id][1] if type_id in TYPES else type_id
