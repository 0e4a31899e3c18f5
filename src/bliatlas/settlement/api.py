"""Settlement API: ``POST /api/bosetting/plan`` (county recommendation).

The matching endpoints are added by the matching module to this router (or its own).
Municipality features are read once per database file and process, read-only.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from bliatlas.errors import UserError
from bliatlas.settlement.features import MunicipalityTable, municipality_features
from bliatlas.settlement.plan import (
    DEFAULT_WEIGHTS,
    MAX_PER_1000,
    MAX_TOTAL,
    SCENARIO_KEYS,
    SOURCE_LINE,
    PlanParameters,
    check_scenario_name,
    comparison,
    make_plan,
    parameter_lines,
    plan_records,
)

router = APIRouter(prefix="/api/bosetting", tags=["bosetting"])


@functools.lru_cache(maxsize=4)
def _features_for(path: str, mtime: float) -> MunicipalityTable:
    from bliatlas.store import open_store

    store = open_store(path, read_only=True)
    try:
        return municipality_features(store)
    finally:
        store.close()


def get_municipalities() -> MunicipalityTable:
    from bliatlas.store import database_path

    path = database_path()
    if not Path(path).exists():
        raise UserError(f"{path}: databasen finnes ikke; kjør `bli import ../shared/data` først")
    return _features_for(str(path), Path(path).stat().st_mtime)


MunisDep = Annotated[MunicipalityTable, Depends(get_municipalities)]


class PlanRequest(BaseModel):
    """Parameters of a county recommendation (same meaning as `bli settlement plan`)."""

    county: str | None = Field(None, description="fylkesnummer (2024); tom = hele landet")
    weights: dict[str, float] = Field(
        default_factory=dict, description="vekter: " + ", ".join(DEFAULT_WEIGHTS)
    )
    use_decision: bool = Field(True, description="kommunens vedtak som øvre grense")
    total: int = Field(ge=0, le=MAX_TOTAL, description="antall personer å fordele")
    max_per_1000: float | None = Field(None, ge=0, le=MAX_PER_1000)
    min_per_1000: float | None = Field(None, ge=0, le=MAX_PER_1000)
    min_group: int = Field(0, ge=0, le=MAX_TOTAL)
    district_priority: float = Field(0.0, ge=0, le=1)
    allow_excess: bool = Field(False, description="fordel en total over vedtakene (markert)")
    undecided_per_1000: float | None = Field(
        None, ge=0, le=MAX_PER_1000,
        description="tak per 1 000 innbyggere for kommuner uten vedtak (utelatt = 0)")
    scenarios: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="navngitte scenarier: navn -> {nøkkel: verdi}; nøkler: "
        + ", ".join(SCENARIO_KEYS),
    )


def _scenario(base: PlanParameters, name: str, overrides: dict[str, float]) -> PlanParameters:
    check_scenario_name(name)
    params = PlanParameters(**{**base.__dict__, "weights": dict(base.weights), "name": name})
    for key, value in overrides.items():
        if key not in SCENARIO_KEYS:
            raise UserError(
                f"scenario {name}: ukjent nøkkel {key!r}; tillatt er " + ", ".join(SCENARIO_KEYS)
            )
        if key in DEFAULT_WEIGHTS:
            params.weights[key] = float(value)
        elif key in ("total", "min_group"):
            if not math.isfinite(value) or value != int(value):
                raise UserError(f"scenario {name}: {key} må være et heltall")
            setattr(params, key, int(value))
        elif key in ("use_decision", "allow_excess"):
            setattr(params, key, bool(value))
        else:
            setattr(params, key, float(value))
    try:
        params.check()
    except UserError as exc:
        raise UserError(f"scenario {name}: {exc}") from None
    return params


@router.post("/plan", summary="Fordel et antall personer på kommunene (fylkets anbefaling)")
def plan(request: PlanRequest, munis: MunisDep) -> dict[str, Any]:
    scope = "hele landet"
    if request.county:
        munis = munis.in_county(request.county.zfill(2))
        scope = f"fylke {request.county.zfill(2)}"
    unknown = [k for k in request.weights if k not in DEFAULT_WEIGHTS]
    if unknown:
        raise UserError(
            "ukjente vekter: " + ", ".join(unknown) + "; tillatt er " + ", ".join(DEFAULT_WEIGHTS)
        )
    base = PlanParameters.from_options(request, weights={**DEFAULT_WEIGHTS, **request.weights},
                                       use_decision=request.use_decision)
    if "grunnlag" in request.scenarios:
        raise UserError("scenarionavnet «grunnlag» er brukt av hovedparametrene")
    params = [base] + [_scenario(base, n, o) for n, o in request.scenarios.items()]
    plans = [make_plan(munis, p, scope=scope) for p in params]
    return {
        "omfang": scope,
        "syntetisk": False,
        "planer": [
            {
                "scenario": p.parameters.name,
                "sum": p.total,
                "distriktskommuner": p.district_total,
                "parametre": parameter_lines(p),
                "advarsler": p.warnings,
                "over_vedtak": p.excess,
                "kommuner": plan_records(p),
            }
            for p in plans
        ],
        "sammenligning": comparison(plans) if len(plans) > 1 else [],
        "kilde": SOURCE_LINE,
    }
