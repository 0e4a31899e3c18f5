"""Suppression that outlives every output: secondary suppression of published tables.

Publishers hide small counts (primary suppression). A hidden cell can still be recovered
when a published total and its other parts are both shown: total − parts = hidden cell.
IMDi's own grant file does exactly that (``Totalt`` beside the anonymised grant types).
This module finds such cells after every import and lists them in
``observation_secondary``; the store's ``observation`` view (what every layer reads)
shows them as suppressed, value NULL, with the reason. The raw values stay in
``observation_source`` and are never read by an output.

Rules (each a *partition*: parts that add up to a total in the same region and year):

* ``grants`` — IMDi grants by type add up to ``Totalt``. If any type is suppressed, the
  total is suppressed too (with one or more hidden types, total minus the published types
  reveals the hidden amount).
* ``complement`` — the refugees settled split into Ukrainians and others
  (``kommuner_bosetting``), and by sex × age within each group
  (``kommuner_bosetting_kjonn_alder``, whose group totals are in ``kommuner_bosetting``).
  If exactly one part is suppressed while the total is published, the smallest other
  published part is suppressed as well, so no part can be recovered alone.

Aggregates across regions (county, centrality class, national) are handled by the
indicator engine: every published aggregate is a sum of published municipal cells only.
"""

from __future__ import annotations

from bliatlas.store import Store

GRANT_REASON = ("sekundærskjermet: totalen ville avslørt skjermede tilskuddstyper ved "
                "subtraksjon")
COMPLEMENT_REASON = ("sekundærskjermet: ville ellers avslørt et skjermet tall ved subtraksjon "
                     "fra totalen")

_KEYS = "dataset, measure, region_code, year, dims, unit"


def _grants(store: Store) -> None:
    store.execute(f"""
        INSERT INTO observation_secondary ({_KEYS}, reason)
        SELECT t.dataset, t.measure, t.region_code, t.year, t.dims, t.unit, ?
        FROM observation_source t
        WHERE t.dataset = 'imdi_tilskudd' AND t.measure = 'tilskudd'
          AND t.dims = 'tilskuddstype=Totalt' AND t.status = 'ok'
          AND EXISTS (
            SELECT 1 FROM observation_source p
            WHERE p.dataset = t.dataset AND p.measure = t.measure
              AND p.region_code = t.region_code AND p.year = t.year AND p.unit = t.unit
              AND p.dims <> t.dims AND p.status = 'suppressed')
        ON CONFLICT DO NOTHING""", [GRANT_REASON])


# (parts dataset, parts measure, SQL expression giving the group key of a part's dims,
#  total dataset, total measure, SQL expression giving the total's dims from the group key)
COMPLEMENT_PARTITIONS = [
    ("kommuner_bosetting", "bosatte_flyktninger",
     "CASE WHEN dims IN ('gruppe=ukrainere', 'gruppe=ovrige') THEN '' END",
     "kommuner_bosetting", "bosatte_flyktninger", "grp"),
    ("kommuner_bosetting_kjonn_alder", "bosatte_flyktninger",
     "regexp_extract(dims, '(?:^|\\|)(gruppe=[^|]+)', 1)",
     "kommuner_bosetting", "bosatte_flyktninger", "grp"),
]


def _complement(store: Store) -> None:
    for p_ds, p_measure, group_expr, t_ds, t_measure, total_dims in COMPLEMENT_PARTITIONS:
        store.execute(f"""
            INSERT INTO observation_secondary ({_KEYS}, reason)
            WITH parts AS (
                SELECT *, {group_expr} AS grp FROM observation_source
                WHERE dataset = ? AND measure = ?
            ),
            candidates AS (
                SELECT p.*, count(*) FILTER (WHERE p.status = 'suppressed')
                         OVER (PARTITION BY p.region_code, p.year, p.unit, p.grp) AS n_sup,
                       row_number() OVER (PARTITION BY p.region_code, p.year, p.unit, p.grp
                                          ORDER BY p.status <> 'ok', p.value, p.dims) AS rn
                FROM parts p
                WHERE p.grp IS NOT NULL
            )
            SELECT c.dataset, c.measure, c.region_code, c.year, c.dims, c.unit, ?
            FROM candidates c
            JOIN observation_source t
              ON t.dataset = ? AND t.measure = ? AND t.region_code = c.region_code
             AND t.year = c.year AND t.unit = c.unit AND t.dims = {total_dims.replace('grp',
                                                                                      'c.grp')}
            WHERE c.n_sup = 1 AND c.rn = 1 AND c.status = 'ok' AND t.status = 'ok'
            ON CONFLICT DO NOTHING""", [p_ds, p_measure, COMPLEMENT_REASON, t_ds, t_measure])


def apply_secondary_suppression(store: Store) -> int:
    """Recompute ``observation_secondary`` from the raw values; returns the number of cells."""
    store.execute("DELETE FROM observation_secondary")
    _grants(store)
    _complement(store)
    return int(store.query("SELECT count(*) AS n FROM observation_secondary")[0]["n"])
