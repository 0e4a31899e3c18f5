"""Capacity a municipality would accept, and how a placement uses it.

Default capacity (``andel``): each municipality's decision (vedtak) scaled to the cohort's
share of the year — the cohort's persons over the decisions in scope — plus a margin,
rounded up, never above the decision. A cohort that is a tenth of the year asks a tenth of
each decision, so the placement follows the municipalities' own numbers instead of filling
the few with the best predicted outcomes. Households are whole, and a share of 0.4 persons
cannot take a family of five, so the share is a *soft* capacity: the decision itself stays the
hard limit, and every person placed above a municipality's share costs more in the objective
than any difference in predicted outcome can gain (:func:`overflow_penalty`) — the solver
goes above a share only where households would not fit otherwise, and the capacity-use view
shows it. EMA places (unaccompanied minors) are the EMA decisions as they are. ``vedtak``
takes the decisions as they are, as the hard capacity and nothing softer (for a cohort that
is the whole year).

:func:`capacity_use` is the capacity-use view (per municipality: decision, capacity, placed,
share used, floor), :func:`concentration` a plain explanation of how concentrated a
placement is and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bliatlas.errors import UserError
from bliatlas.format import fmt_count, fmt_share

CAPACITY_MODES: dict[str, str] = {
    "andel": "vedtakene skalert til kohortens andel av året (pluss margin), aldri over vedtaket",
    "vedtak": "kommunenes vedtak (personer) slik de er",
}
DEFAULT_MODE = "andel"
DEFAULT_MARGIN = 0.15


@dataclass
class Capacity:
    persons: np.ndarray  # (M,) hard capacity in persons (the decisions)
    minors: np.ndarray  # (M,) EMA places
    request: np.ndarray  # (M,) the request (anmodning) on the same scale, for min_fill
    decision: np.ndarray  # (M,) the decisions (0 where none)
    minor_decision: np.ndarray  # (M,) EMA decisions
    share: float  # the cohort's share of the decisions (1 for 'vedtak')
    mode: str
    margin: float
    notes: list[str] = field(default_factory=list)
    share_target: np.ndarray | None = None  # (M,) the soft capacity (``andel``)


def scaled_to_share(decisions: np.ndarray, share: float, margin: float) -> np.ndarray:
    """⌈decision × share × (1 + margin)⌉, at most the decision."""
    dec = np.nan_to_num(np.asarray(decisions, dtype=float), nan=0.0)
    return np.minimum(dec, np.ceil(dec * share * (1 + margin) - 1e-9)).astype(np.int64)


def capacities(decision: np.ndarray, minor_decision: np.ndarray, request: np.ndarray,
               persons: int, minors: int, mode: str = DEFAULT_MODE,
               margin: float = DEFAULT_MARGIN) -> Capacity:
    """Capacity per municipality for a cohort of ``persons`` (``minors`` unaccompanied)."""
    if mode not in CAPACITY_MODES:
        raise UserError(f"kapasitet: forventet {' eller '.join(CAPACITY_MODES)}, fikk {mode!r}")
    if not (math.isfinite(margin) and 0 <= margin <= 5):
        raise UserError("margin: forventet en andel mellom 0 og 5 (f.eks. 0,15 for 15 %)")
    dec = np.nan_to_num(np.asarray(decision, dtype=float), nan=0.0)
    ema = np.nan_to_num(np.asarray(minor_decision, dtype=float), nan=0.0)
    req = np.nan_to_num(np.asarray(request, dtype=float), nan=0.0)
    notes: list[str] = []
    if mode == "vedtak":
        return Capacity(dec.astype(np.int64), ema.astype(np.int64), req, dec, ema, 1.0, mode,
                        0.0, notes)
    if dec.sum() <= 0:
        raise UserError("ingen kommuner i utvalget har vedtak; kan ikke fordele etter vedtakene")
    share = persons / dec.sum()
    if share * (1 + margin) >= 1:
        notes.append(
            f"Kohorten ({persons} personer) er {_pct(share)} av vedtakene i utvalget; med "
            "margin blir andelen lik vedtakene (aldri over).")
    return Capacity(dec.astype(np.int64), ema.astype(np.int64), req * min(share, 1.0), dec,
                    ema, share, mode, margin, notes, scaled_to_share(dec, share, margin))


def overflow_penalty(scores: np.ndarray, bonus_per_person: float) -> float:
    """Cost per person placed above a municipality's share: more than any person can gain
    by moving (the widest spread of a person's scores across municipalities, plus the
    largest bonus per person), so the solver only goes above a share to fit households."""
    s = np.asarray(scores, dtype=float)
    spread = float((s.max(axis=1) - s.min(axis=1)).max()) if s.size else 0.0
    return 1.0 + spread + float(bonus_per_person)


# -- the capacity-use view -------------------------------------------------------------------
@dataclass
class UseRow:
    code: str
    name: str
    decision: int
    capacity: int  # the cohort's share (soft capacity) when there is one, else the hard one
    persons: int
    households: int
    floor: int
    share_of_capacity: float | None  # persons / capacity
    share_of_decision: float | None  # persons / decision
    hard: int = 0  # the hard limit (the decision or a profile's capacity)

    @property
    def over(self) -> int:
        """Persons above the share (only where whole households needed it)."""
        return max(0, self.persons - self.capacity)

    @property
    def status(self) -> str:
        if self.capacity <= 0 and self.persons == 0:
            return "ingen kapasitet"
        if self.persons == 0:
            return "tom"
        if self.persons > self.capacity:
            return "over andelen"
        if self.persons == self.capacity:
            return "full"
        return "delvis"


def capacity_use(codes: list[str], names: list[str], decision: np.ndarray, capacity: np.ndarray,
                 sizes: np.ndarray, assignment: np.ndarray, floor: np.ndarray | None = None,
                 target: np.ndarray | None = None) -> list[UseRow]:
    """Per municipality: decision, capacity (the soft share ``target`` when given), floor,
    persons and households placed, shares used."""
    a = np.asarray(assignment, dtype=np.int64)
    placed = a >= 0
    m = len(codes)
    persons = np.bincount(a[placed], weights=sizes[placed], minlength=m).astype(np.int64)
    households = np.bincount(a[placed], minlength=m)
    out = []
    for j in range(m):
        hard = int(capacity[j])
        cap = hard if target is None else int(min(np.floor(target[j] + 1e-9), hard))
        dec = int(np.nan_to_num(decision[j]))
        out.append(UseRow(codes[j], names[j], dec, cap, int(persons[j]), int(households[j]),
                          0 if floor is None else int(floor[j]),
                          persons[j] / cap if cap > 0 else None,
                          persons[j] / dec if dec > 0 else None, hard))
    return out


@dataclass
class Concentration:
    concentrated: bool
    text: str
    top_share: float  # share of the persons in the 3 fullest municipalities
    top_capacity_share: float  # their share of the capacity
    empty: list[str]  # names of municipalities with capacity that got nobody
    with_capacity: int


def concentration(rows: list[UseRow], mean_outcome: np.ndarray | None = None,
                  top: int = 3, by_share: bool = False) -> Concentration:
    """How concentrated the placement is, in plain Norwegian, and why.

    Concentrated when the ``top`` municipalities with most persons hold at least 10
    percentage points more of the persons than of the capacity, or when more than a quarter
    of the municipalities with capacity got nobody. ``mean_outcome`` (the model's mean
    predicted outcome for the cohort per municipality) says whether the model's predictions
    are what pulls the persons there. ``by_share``: the capacity is already each decision
    scaled to the cohort's share (then that is not suggested as a remedy)."""
    with_cap = [r for r in rows if r.capacity > 0]
    total_p = sum(r.persons for r in rows)
    total_c = sum(r.capacity for r in with_cap)
    if not with_cap or total_p == 0:
        return Concentration(False, "Ingen er plassert.", 0.0, 0.0, [], len(with_cap))
    order = sorted(range(len(rows)), key=lambda j: -rows[j].persons)[:top]
    top_share = sum(rows[j].persons for j in order) / total_p
    top_cap = sum(rows[j].capacity for j in order) / total_c
    empty = [r.name for r in with_cap if r.persons == 0]
    full = [r.name for r in with_cap if r.persons >= r.capacity]
    over = [r for r in rows if r.over]
    concentrated = top_share - top_cap >= 0.10 or len(empty) > 0.25 * len(with_cap)
    names = ", ".join(rows[j].name for j in order)
    used = sum(1 for r in with_cap if r.persons > 0)
    text = (f"{used} av {len(with_cap)} kommuner med kapasitet fikk personer. De {len(order)} "
            f"som fikk flest ({names}) fikk {_pct(top_share)} av personene, mot "
            f"{_pct(top_cap)} av kapasiteten.")
    if empty:
        text += (f" {fmt_count(len(empty), 'kommune', 'kommuner')} med kapasitet fikk ingen"
                 + (f" ({', '.join(empty[:8])}{' …' if len(empty) > 8 else ''})" if empty else "")
                 + ".")
    if over:
        text += (f" {fmt_count(len(over), 'kommune', 'kommuner')} fikk litt over sin andel for å få plass til hele "
                 f"husholdninger ({', '.join(f'{r.name} +{r.over}' for r in over[:6])}"
                 f"{' …' if len(over) > 6 else ''}), innenfor vedtaket.")
    if concentrated:
        why = []
        if mean_outcome is not None:
            idx_used = [j for j, r in enumerate(rows) if r.capacity > 0 and r.persons > 0]
            idx_empty = [j for j, r in enumerate(rows) if r.capacity > 0 and r.persons == 0]
            if idx_used and idx_empty:
                diff = float(np.mean(mean_outcome[idx_used]) - np.mean(mean_outcome[idx_empty]))
                why.append(f"modellen forventer i snitt {_pp(diff)} prosentpoeng høyere andel i "
                           "arbeid eller utdanning for kohorten i kommunene som fikk personer "
                           "enn i dem som står tomme")
        if full:
            why.append(f"{fmt_count(len(full), 'kommune', 'kommuner')} er fylt helt opp ({', '.join(full[:6])}"
                       f"{' …' if len(full) > 6 else ''})")
        text = ("Plasseringen er samlet på få kommuner. " + text
                + (" Grunnen: " + "; ".join(why) + "." if why else "")
                + " Vil du fordele jevnere, sett et gulv (minste andel av kapasiteten hver "
                "kommune skal få) eller en spredningsvekt"
                + ("." if by_share else ", eller bruk kapasitet etter kohortens andel av "
                   "vedtakene."))
    else:
        text = "Plasseringen følger kapasiteten. " + text
    return Concentration(concentrated, text, top_share, top_cap, empty, len(with_cap))


def _pct(x: float) -> str:
    return fmt_share(x, 0)


def _pp(x: float) -> str:
    return fmt_share(x, 1, unit="")
