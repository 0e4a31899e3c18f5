"""Region codes publishers print besides municipality and county numbers.

SSB's statistics bank answers with its own grouping and residual codes next to the
municipalities, and KOSTRA tables (region variable ``KOKkommuneregion0000``) use a code
system of their own. :func:`ssb_region` tells a reader, for one published code, either
the code to hand to the crosswalk (a municipality, county or the whole country) or why
the value belongs outside the municipality structure and is kept aside, never failing
the import:

==============  ==============================================  ======================
published       meaning                                          placed as
==============  ==============================================  ======================
``4650``,       municipality (with SSB's grouping prefix)        the crosswalk decides
``K-4650``
``46``, ``F-46`` county                                          the crosswalk decides
``0``, ``EAK``  the whole country (KOSTRA: "Landet")             national
``EKA46``       KOSTRA: the municipalities of county 46           county 46
``EKG13``       KOSTRA group 13 (registry's ``EKG13``)            aside: Bli-atlas computes
                                                                 group figures from the
                                                                 municipalities itself
``EAKUO``       KOSTRA: the country without Oslo                 aside
``K-21-22``,    SSB: Svalbard and Jan Mayen, continental shelf,  aside
``K-23``,       residual/unknown municipality
``K-Rest``
other letters   any other grouping code in an SSB table          aside (named)
==============  ==============================================  ======================
"""

from __future__ import annotations

import re

_SSB_SPECIAL = {
    "21-22": "Svalbard og Jan Mayen",
    "21": "Svalbard",
    "22": "Jan Mayen",
    "23": "Kontinentalsokkelen",
    "2100": "Svalbard",
    "2111": "Longyearbyen arealplanområde",
    "2211": "Jan Mayen",
    "2311": "Sokkelen sør for 62 grader N",
    "REST": "SSBs restkategori (uoppgitt eller delt kommune)",
    "99": "Uoppgitt fylke",
    "9999": "Uoppgitt kommune",
}
_KOSTRA_NATIONAL = {"EAK"}
_KOSTRA_ASIDE = {
    "EAKUO": "Landet uten Oslo",
    "EAFK": "Fylkeskommunene i alt",
    "EAFKUO": "Fylkeskommunene uten Oslo",
}
_PREFIX = re.compile(r"^[KF]-(.+)$", re.IGNORECASE)


def ssb_region(code: str, label: str = "") -> tuple[str, str | None]:
    """(code for the crosswalk, None) or (published code, reason it is kept aside)."""
    raw = str(code).strip()
    up = raw.upper()
    named = f"{label} ({raw})" if label and label != raw else raw
    if up in _KOSTRA_NATIONAL:
        return "0", None
    m = re.fullmatch(r"EKA(\d{2})", up)
    if m:
        return m.group(1), None
    m = re.fullmatch(r"EKG(\d{2})", up)
    if m:
        return raw, (
            f"{named} er KOSTRA-gruppe {int(m.group(1))} (registerets KOSTRA-gruppe {up}); "
            "Bli-atlas regner tall for KOSTRA-grupper fra kommunene, så SSBs gruppetall "
            "holdes utenfor"
        )
    if up in _KOSTRA_ASIDE:
        return raw, (f"{named} er KOSTRAs aggregat «{_KOSTRA_ASIDE[up]}», som ikke er en "
                     "region i Bli-atlas; holdt utenfor")
    m = _PREFIX.match(raw)
    rest = m.group(1) if m else raw
    if rest.upper() in _SSB_SPECIAL:
        return raw, (f"{named}: {_SSB_SPECIAL[rest.upper()]} ligger utenfor kommune- og "
                     "fylkesinndelingen; holdt utenfor")
    if rest.isdigit():
        return raw, None
    return raw, (f"{named} er en gruppering i SSBs tabell, ikke en kommune, et fylke eller "
                 "hele landet; holdt utenfor")
