"""The one way the settlement layer calls the HiGHS solver (through ``highspy``).

Both the matching solvers (:mod:`bliatlas.settlement.solvers`, :mod:`~.online`) and the
county recommendation (:mod:`bliatlas.settlement.plan`) build their programs with
:class:`Model`: rows and columns added in blocks from numpy arrays, integrality, warm
starts, time limits, and what a proof needs (dual values, the dual ray of an infeasible
LP). :func:`solve_milp` is the one-call form for a small dense-or-sparse integer program.

HiGHS prints a banner on standard output the first time a solver object is made in a
process; that would end up in the middle of `bli` output, so the first construction
happens with standard output pointed at ``/dev/null``.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import highspy
import numpy as np

INF = highspy.kHighsInf
Status = highspy.HighsModelStatus

_banner_lock = threading.Lock()
_banner_done = False


def _new_highs() -> highspy.Highs:
    global _banner_done
    if _banner_done:
        h = highspy.Highs()
    else:
        with _banner_lock:
            if _banner_done:
                h = highspy.Highs()
            else:
                saved = os.dup(1)
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, 1)
                    h = highspy.Highs()
                finally:
                    os.dup2(saved, 1)
                    os.close(saved)
                    os.close(null)
                _banner_done = True
    h.setOptionValue("output_flag", False)
    return h


class Model:
    """A HiGHS model (minimisation), built block by block.

    Row and column indices are handed out in the order blocks are added; callers keep
    them to read values and duals back.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.h = _new_highs()
        if threads:
            self.h.setOptionValue("threads", int(threads))
        self.n_rows = 0
        self.n_cols = 0

    # -- building ------------------------------------------------------------------
    def add_rows(self, lower: np.ndarray, upper: np.ndarray) -> int:
        """Empty rows with bounds ``lower ≤ row ≤ upper``; returns the first row index."""
        lo = np.asarray(lower, dtype=float)
        up = np.asarray(upper, dtype=float)
        first = self.n_rows
        if len(lo):
            self.h.addRows(len(lo), lo, up, 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
                           np.zeros(0))
            self.n_rows += len(lo)
        return first

    def add_columns(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    starts: np.ndarray, index: np.ndarray, value: np.ndarray) -> int:
        """Columns in compressed form (``starts`` per column into ``index``/``value``);
        returns the first column index."""
        n = len(cost)
        first = self.n_cols
        if n:
            self.h.addCols(n, np.asarray(cost, dtype=float), np.asarray(lower, dtype=float),
                           np.asarray(upper, dtype=float), len(index),
                           np.asarray(starts, dtype=np.int32), np.asarray(index, dtype=np.int32),
                           np.asarray(value, dtype=float))
            self.n_cols += n
        return first

    def add_columns_dense_rows(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                               rows: np.ndarray, values: np.ndarray) -> int:
        """Columns given as (n, k) arrays of row indices and coefficients; zero
        coefficients are left out."""
        rows = np.asarray(rows)
        values = np.asarray(values, dtype=float)
        keep = values != 0
        starts = np.concatenate([[0], np.cumsum(keep.sum(axis=1))[:-1]]) if len(rows) else \
            np.zeros(0)
        return self.add_columns(cost, lower, upper, starts, rows[keep], values[keep])

    def set_integer(self, first: int, count: int) -> None:
        if count:
            idx = np.arange(first, first + count, dtype=np.int32)
            self.h.changeColsIntegrality(count, idx, np.ones(count, dtype=np.uint8))

    def set_continuous(self, first: int, count: int) -> None:
        if count:
            idx = np.arange(first, first + count, dtype=np.int32)
            self.h.changeColsIntegrality(count, idx, np.zeros(count, dtype=np.uint8))

    def set_bounds(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        index = np.asarray(index, dtype=np.int32)
        if len(index):
            self.h.changeColsBounds(len(index), index, np.asarray(lower, dtype=float),
                                    np.asarray(upper, dtype=float))

    def set_costs(self, index: np.ndarray, cost: np.ndarray) -> None:
        index = np.asarray(index, dtype=np.int32)
        if len(index):
            self.h.changeColsCost(len(index), index, np.asarray(cost, dtype=float))

    def set_row_bounds(self, index: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        index = np.asarray(index, dtype=np.int32)
        if len(index):
            self.h.changeRowsBounds(len(index), index, np.asarray(lower, dtype=float),
                                    np.asarray(upper, dtype=float))

    def set_start(self, values: np.ndarray) -> None:
        """A complete primal solution to start the MIP from."""
        v = np.asarray(values, dtype=float)
        self.h.setSolution(len(v), np.arange(len(v), dtype=np.int32), v)

    def option(self, name: str, value: object) -> None:
        self.h.setOptionValue(name, value)

    # -- solving -------------------------------------------------------------------
    def run(self, time_limit: float | None = None, mip_gap: float | None = None,
            mip_abs_gap: float | None = None) -> Status:
        """Solve; ``time_limit`` is seconds from now (HiGHS counts from the model's first
        run, so the limit is set relative to its clock)."""
        if mip_gap is not None:
            self.h.setOptionValue("mip_rel_gap", float(mip_gap))
        if mip_abs_gap is not None:
            self.h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
        if time_limit is not None:
            self.h.setOptionValue("time_limit",
                                  float(self.h.getRunTime() + max(time_limit, 0.01)))
        else:
            self.h.setOptionValue("time_limit", INF)
        self.h.run()
        return self.h.getModelStatus()

    @property
    def status(self) -> Status:
        return self.h.getModelStatus()

    @property
    def status_text(self) -> str:
        return self.h.modelStatusToString(self.h.getModelStatus())

    @property
    def optimal(self) -> bool:
        return self.h.getModelStatus() == Status.kOptimal

    @property
    def infeasible(self) -> bool:
        return self.h.getModelStatus() == Status.kInfeasible

    @property
    def has_solution(self) -> bool:
        return self.h.getInfo().primal_solution_status == 2

    @property
    def objective(self) -> float:
        return float(self.h.getInfo().objective_function_value)

    @property
    def dual_bound(self) -> float:
        """The MIP's dual bound (minimisation: a lower bound); nan when none."""
        b = float(self.h.getInfo().mip_dual_bound)
        return b if math.isfinite(b) else math.nan

    @property
    def nodes(self) -> int:
        return int(self.h.getInfo().mip_node_count)

    def values(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value)

    def row_duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().row_dual)

    def runtime(self) -> float:
        return float(self.h.getRunTime())


@dataclass
class MilpResult:
    status: str
    x: np.ndarray | None
    objective: float  # minimisation objective; nan without a solution
    optimal: bool
    infeasible: bool


def solve_milp(cost: np.ndarray, matrix, row_lower: np.ndarray, row_upper: np.ndarray,
               lower: np.ndarray, upper: np.ndarray, integer: np.ndarray,
               mip_gap: float = 1e-9, time_limit: float | None = None) -> MilpResult:
    """Minimise ``cost · x`` subject to ``row_lower ≤ matrix x ≤ row_upper``,
    ``lower ≤ x ≤ upper`` and ``x[integer]`` integral. ``matrix`` is a scipy sparse matrix
    (any format) or a dense array."""
    from scipy.sparse import csc_matrix

    a = csc_matrix(matrix)
    model = Model()
    model.add_rows(row_lower, row_upper)
    model.add_columns(cost, np.where(np.isfinite(lower), lower, -INF),
                      np.where(np.isfinite(upper), upper, INF), a.indptr[:-1], a.indices,
                      a.data)
    idx = np.flatnonzero(np.asarray(integer, dtype=bool)).astype(np.int32)
    if len(idx):
        model.h.changeColsIntegrality(len(idx), idx, np.ones(len(idx), dtype=np.uint8))
    model.run(time_limit=time_limit, mip_gap=mip_gap)
    if not model.has_solution:
        return MilpResult(model.status_text, None, math.nan, False, model.infeasible)
    return MilpResult(model.status_text, model.values(), model.objective, model.optimal, False)
