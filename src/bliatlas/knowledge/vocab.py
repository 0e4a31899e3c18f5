"""Controlled vocabularies of the knowledge content, with the Norwegian labels users see.

The single place these lists live; ``docs/content-model.md`` documents them for authors.
"""

from __future__ import annotations

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
}

FINDING_KINDS: dict[str, str] = {
    "forskning": "Forskning",
    "evaluering": "Evaluering",
    "statistikk": "Statistikk",
}

# Seed documents that sources may cite (prefix of the file in ../shared/seeds/).
SEED_DOCUMENTS: tuple[str, ...] = ("000", "001", "002", "003", "004")

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
