"""Features that must never be used for settlement planning or matching.

This is the one place that lists them. Cohort files and training extracts that carry
such a column are refused when read, and :meth:`OutcomeModel.fit` raises if asked to
use one. The list follows the Norwegian Personal Data Act / GDPR art. 9 (special
categories: religion, ethnic origin, health, sexual orientation, political opinion,
trade-union membership, biometrics) and the Equality and Anti-Discrimination Act
(likestillings- og diskrimineringsloven § 6). The only origin information allowed is
the coarse country group (``country_group``); the only health information allowed is
the binary ``support_need`` flag a municipality needs in order to plan services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bliatlas.errors import UserError

#: Forbidden feature -> why (Norwegian, shown to users). Names are matched after
#: lower-casing and removing separators, so ``Religion``, ``religion_`` and
#: ``tros-samfunn`` are all caught.
FORBIDDEN_FEATURES: dict[str, str] = {
    "religion": "religion (særlig kategori personopplysning)",
    "trossamfunn": "religion (særlig kategori personopplysning)",
    "livssyn": "religion/livssyn (særlig kategori personopplysning)",
    "ethnicity": "etnisitet (særlig kategori; bare grov landgruppe er tillatt)",
    "etnisitet": "etnisitet (særlig kategori; bare grov landgruppe er tillatt)",
    "ethnicgroup": "etnisitet (særlig kategori; bare grov landgruppe er tillatt)",
    "folkegruppe": "etnisitet (særlig kategori; bare grov landgruppe er tillatt)",
    "language": "morsmål (kan avsløre etnisitet; bare norsknivå er tillatt)",
    "morsmaal": "morsmål (kan avsløre etnisitet; bare norsknivå er tillatt)",
    "morsmal": "morsmål (kan avsløre etnisitet; bare norsknivå er tillatt)",
    "countryofbirth": "fødeland (bare grov landgruppe er tillatt)",
    "fodeland": "fødeland (bare grov landgruppe er tillatt)",
    "nationality": "statsborgerskap (bare grov landgruppe er tillatt)",
    "statsborgerskap": "statsborgerskap (bare grov landgruppe er tillatt)",
    "diagnosis": "helsediagnose (bare flagget support_need er tillatt)",
    "diagnose": "helsediagnose (bare flagget support_need er tillatt)",
    "healthcondition": "helseopplysninger (bare flagget support_need er tillatt)",
    "helse": "helseopplysninger (bare flagget support_need er tillatt)",
    "disability": "funksjonsnedsettelse i detalj (bare flagget support_need er tillatt)",
    "funksjonsnedsettelse": "funksjonsnedsettelse i detalj (bare flagget support_need er tillatt)",
    "sexualorientation": "seksuell orientering (særlig kategori)",
    "seksuellorientering": "seksuell orientering (særlig kategori)",
    "genderidentity": "kjønnsidentitet (diskrimineringsgrunnlag)",
    "politicalopinion": "politisk oppfatning (særlig kategori)",
    "politisk": "politisk oppfatning (særlig kategori)",
    "tradeunion": "fagforeningsmedlemskap (særlig kategori)",
    "fagforening": "fagforeningsmedlemskap (særlig kategori)",
    "pregnancy": "graviditet (diskrimineringsgrunnlag)",
    "graviditet": "graviditet (diskrimineringsgrunnlag)",
    "name": "navn (identifiserer personen)",
    "navn": "navn (identifiserer personen)",
    "fodselsnummer": "fødselsnummer (identifiserer personen)",
    "fnr": "fødselsnummer (identifiserer personen)",
}


def _normalise(name: str) -> str:
    return re.sub(
        r"[^a-z0-9]", "", name.lower().replace("ø", "o").replace("å", "a").replace("æ", "ae")
    )


def forbidden_reason(name: str) -> str | None:
    """Why ``name`` must not be used, or ``None`` when it is allowed."""
    return FORBIDDEN_FEATURES.get(_normalise(name))


def check_columns(columns: Iterable[str], where: str) -> None:
    """Raise :class:`UserError` if any column is a forbidden feature."""
    bad = [(c, r) for c in columns if (r := forbidden_reason(c)) is not None]
    if bad:
        listed = "; ".join(f"{c!r}: {r}" for c, r in bad)
        raise UserError(
            f"{where}: kolonner som aldri skal brukes i bosettingsplanlegging: {listed}. "
            "Fjern kolonnene og prøv igjen (se bliatlas.settlement.exclusions)."
        )
