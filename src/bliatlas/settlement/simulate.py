"""What comparable systems report, quoted beside the tool's own (honestly measured) figures.

Evaluation of placements — predicted beside realised, with intervals — is in
:mod:`~.evaluation`; the figures below are from the papers, not computed here.
"""

from __future__ import annotations

#: What comparable systems report (quoted from the papers, in Norwegian for output).
LITERATURE = (
    "Til sammenligning: GeoMatch (Bansak mfl., Science 2018) anslo omtrent 40–70 % høyere "
    "sysselsetting ved algoritmisk plassering av flyktninger i USA og Sveits, målt i "
    "tilbaketest på registerdata, og Annie MOORE (Ahani mfl., Operations Research 2021) anslo "
    "omtrent 22–37 % økning i forventet sysselsetting for HIAS i USA. Tallene her er beregnet "
    "på en annen modell og andre (syntetiske) data og kan ikke sammenlignes direkte."
)
