"""Bounded heavy work: matching runs and PDF renders go through a queue per kind.

* At most ``BLI_MATCHING_JOBS`` matching runs and ``BLI_RENDER_JOBS`` PDF renders run at
  once in a server process; up to ``BLI_QUEUE_LENGTH`` more of a kind wait (at most
  ``BLI_QUEUE_WAIT`` seconds). Past that a request gets :class:`Busy` — HTTP 429 with
  ``Retry-After`` estimated from the recent durations — instead of more memory and CPU.
* Identical concurrent requests (same key, e.g. the same report PDF) share one run
  (single-flight): the first one renders, the others wait for its result.
* Each job states its memory need before it starts (:func:`matching_memory`); a job above
  the ceiling ``BLI_JOB_MEMORY_MB`` is refused (413) before it allocates anything.
* :func:`status` tells what runs and waits (``GET /api/jobber``; shown on the matching
  page), so waiting is visible.

Jobs run in the calling thread (FastAPI's thread pool), so the bound on running jobs is
also a bound on the threads they hold.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bliatlas import settings
from bliatlas.errors import Busy, TooHeavy, UserError  # noqa: F401 (Busy, TooHeavy re-exported)
from bliatlas.format import fmt_int

T = TypeVar("T")

#: Bytes per (person × municipality) cell of a matching run at its peak: the float32 score
#: matrix, the float64 copy the solver's problem holds while it solves, the model's feature
#: blocks and the HiGHS model. benchmarks/bench_jobs.py measures the server's RSS growth over
#: five queued national 25 000-person runs (the earlier, finished runs kept in memory
#: included) and checks it stays below this estimate (``estimate_holds``): 181.9 bytes per
#: cell when a finished run still held its float64 and second float32 copy, 132.5 since it
#: keeps one float32 matrix (peak 2.01 GiB, was 2.54). 184 keeps the margin.
MATCHING_BYTES_PER_CELL = 184
MATCHING_BASE_BYTES = 150 * 1024 * 1024
RENDER_BYTES = 400 * 1024 * 1024  # one PDF render (WeasyPrint) at its peak, measured


@dataclass
class _Flight:
    future: Future = field(default_factory=Future)


class JobQueue:
    """A bounded queue for one kind of heavy work (see the module docstring)."""

    def __init__(self, kind: str, label: str, slots: Callable[[], int]) -> None:
        self.kind = kind
        self.label = label  # Norwegian, plural: "matchinger", "PDF-rapporter"
        self._slots = slots
        self._cond = threading.Condition()
        self.running = 0
        self.waiting = 0
        self.done = 0
        self.refused = 0
        self.shared = 0
        self._durations: list[float] = []
        self._flights: dict[Any, _Flight] = {}
        self._started: list[float] = []

    @property
    def slots(self) -> int:
        return self._slots()

    def typical_seconds(self) -> float:
        recent = self._durations[-20:]
        return sum(recent) / len(recent) if recent else 30.0

    def _retry_after(self) -> int:
        ahead = self.running + self.waiting
        return max(1, math.ceil(self.typical_seconds() * ahead / max(self.slots, 1)))

    def run(self, work: Callable[[], T], key: Any = None, memory: int = 0) -> T:
        """``work()`` within the bounds; the same ``key`` in flight shares one result."""
        s = settings.get()
        ceiling = s.job_memory_mb * 1024 * 1024
        if memory > ceiling:
            raise TooHeavy(
                f"jobben trenger anslagsvis {fmt_int(memory / 2**20)} MB minne, mer enn taket "
                f"på {fmt_int(s.job_memory_mb)} MB per jobb (BLI_JOB_MEMORY_MB); del den opp "
                "(færre personer eller ett fylke)")
        flight = None
        if key is not None:
            with self._cond:
                flight = self._flights.get(key)
                if flight is not None:
                    self.shared += 1
                else:
                    self._flights[key] = _Flight()
            if flight is not None:  # the same job is queued or running: share its result
                try:
                    return flight.future.result(timeout=s.queue_wait + self.typical_seconds())
                except TimeoutError:
                    raise Busy(f"{self.label}: venter fortsatt på samme jobb; prøv igjen",
                               self._retry_after()) from None
            flight = self._flights[key]
        try:
            self._admit(s.queue_length, s.queue_wait)
        except BaseException as exc:
            if flight is not None:
                with self._cond:
                    self._flights.pop(key, None)
                flight.future.set_exception(exc)
            raise
        started = time.monotonic()
        try:
            result = work()
        except BaseException as exc:
            if flight is not None:
                flight.future.set_exception(exc)
            raise
        else:
            if flight is not None:
                flight.future.set_result(result)
            return result
        finally:
            with self._cond:
                self.running -= 1
                self.done += 1
                self._durations.append(time.monotonic() - started)
                del self._durations[:-50]
                if key is not None:
                    self._flights.pop(key, None)
                self._cond.notify()

    def _admit(self, queue_length: int, wait: float) -> None:
        with self._cond:
            if self.running < self.slots and self.waiting == 0:
                self.running += 1
                return
            if self.waiting >= queue_length:
                self.refused += 1
                raise Busy(f"{self.label}: {self.running} kjører og {self.waiting} venter "
                           "allerede; prøv igjen om litt", self._retry_after())
            self.waiting += 1
            deadline = time.monotonic() + wait
            try:
                while self.running >= self.slots:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.refused += 1
                        raise Busy(f"{self.label}: ventet {wait:g} s uten ledig plass; prøv "
                                   "igjen om litt", self._retry_after())
                    self._cond.wait(left)
            finally:
                self.waiting -= 1
            self.running += 1

    def status(self) -> dict[str, Any]:
        with self._cond:
            return {"jobb": self.kind, "navn": self.label, "plasser": self.slots,
                    "kjorer": self.running, "venter": self.waiting,
                    "ko_lengde": settings.get().queue_length,
                    "ferdige": self.done, "avvist": self.refused, "delt": self.shared,
                    "typisk_sekunder": round(self.typical_seconds(), 1)}


_matching = JobQueue("matching", "Matching", lambda: settings.get().matching_jobs)
_render = JobQueue("pdf", "PDF-rapporter", lambda: settings.get().render_jobs)


def matching() -> JobQueue:
    return _matching


def renders() -> JobQueue:
    return _render


def matching_memory(persons: int, municipalities: int) -> int:
    """Estimated peak memory of one matching run of ``persons`` over ``municipalities``."""
    return MATCHING_BASE_BYTES + MATCHING_BYTES_PER_CELL * persons * municipalities


def status() -> list[dict[str, Any]]:
    return [_matching.status(), _render.status()]
