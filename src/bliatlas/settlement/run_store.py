"""The in-memory store of matching runs: never on disk, kept only for a short time.

Runs carry personal data (the uploaded cohort), so they live in process memory only, under a
random id, and are dropped when they are older than :func:`ttl_seconds` (the setting
``BLI_MATCH_TTL`` of :mod:`bliatlas.settings`, seconds; default 1,800 = 30 minutes), when more than :data:`MAX_RUNS` are
kept, or when their score matrices together pass :data:`MAX_SCORE_BYTES` (oldest first).
A dropped run answers 404 with a Norwegian message.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from bliatlas.errors import NotFound
from bliatlas.settlement.runs import MatchRun

MAX_RUNS = 16
MAX_SCORE_BYTES = 600 * 1024 * 1024

_runs: OrderedDict[str, MatchRun] = OrderedDict()
_lock = threading.Lock()


def ttl_seconds() -> float:
    """How long a run is kept (the setting ``BLI_MATCH_TTL``, seconds, 10–86,400)."""
    from bliatlas import settings

    return settings.get().match_ttl


def _expire(now: float) -> None:
    ttl = ttl_seconds()
    for key in [k for k, r in _runs.items() if now - r.created > ttl]:
        del _runs[key]


def keep(run: MatchRun) -> MatchRun:
    with _lock:
        now = time.monotonic()
        _expire(now)
        _runs[run.id] = run
        while len(_runs) > MAX_RUNS or (
            len(_runs) > 1 and sum(r.nbytes for r in _runs.values()) > MAX_SCORE_BYTES
        ):
            _runs.popitem(last=False)
    return run


def get_run(run_id: str) -> MatchRun:
    with _lock:
        _expire(time.monotonic())
        run = _runs.get(run_id)
        if run is None:
            raise NotFound("kjøringen finnes ikke (lenger); resultater holdes bare en kort stund "
                           "i minnet og aldri på disk. Last opp kohorten på nytt.")
        _runs.move_to_end(run_id)
        return run


def count() -> int:
    with _lock:
        _expire(time.monotonic())
        return len(_runs)


def clear() -> None:
    with _lock:
        _runs.clear()
