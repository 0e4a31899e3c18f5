"""County recommendation: constraints hold, the optimum is optimal, totals add up."""

from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pytest
from conftest import bli_on

from bliatlas.errors import UserError
from bliatlas.settlement.plan import PlanParameters, make_plan, parse_scenario, parse_weights


def test_features_read_from_store(munis):
    assert len(munis) == 357
    assert munis.codes.tolist() == sorted(munis.codes.tolist())
    j = munis.index("4650")
    assert munis.names[j] == "Gloppen"
    assert munis.county[j] == "46"
    assert munis.centrality[j] == 5
    # suppressed/missing values stay nan with their status, never 0
    missing = np.isnan(munis.vedtak)
    assert missing.sum() == 6
    assert set(munis.status["vedtak"][missing]) <= {"missing", "suppressed"}
    assert (munis.status["vedtak"][~missing] == "ok").all()
    assert not np.isnan(munis.county_retention[j])
    assert munis.county_retention[j] == 84.0  # Vestland in bofasthet_fylker.csv


def test_national_plan_respects_every_constraint(munis):
    params = PlanParameters(
        total=20000, max_per_1000=25, min_per_1000=None, min_group=10, district_priority=0.25
    )
    plan = make_plan(munis, params)
    x = np.array([r.persons for r in plan.rows])
    assert x.sum() == 20000 == plan.total
    decided = ~np.isnan(munis.vedtak)
    assert (x[decided] <= munis.vedtak[decided]).all()
    assert (x <= np.floor(25 * munis.population / 1000 + 1e-9)).all()
    assert ((x == 0) | (x >= 10)).all()
    district = munis.centrality >= 5
    assert x[district].sum() >= math.ceil(0.25 * 20000)
    assert plan.district_total == x[district].sum()


def test_floor_per_1000_is_respected(munis):
    county = munis.in_county("46")
    plan = make_plan(county, PlanParameters(total=1500, min_per_1000=1.0, use_decision=False))
    x = np.array([r.persons for r in plan.rows])
    assert x.sum() == 1500
    assert (x >= np.ceil(county.population / 1000 - 1e-9)).all()


def _brute_force(sub, params):
    """Enumerate every integer distribution and score it by the documented objective."""
    w = params.weights
    pop = sub.population
    exp = sub.settled_refugees_mean / pop * 1000

    def scaled(v):
        v = np.where(np.isnan(v), np.nan, v)
        ok = ~np.isnan(v)
        lo, hi = v[ok].min(), v[ok].max()
        return np.where(ok, (v - lo) / (hi - lo) if hi > lo else 1.0, 0.0)

    score = w["fastlege"] * scaled(sub.gp_spare_capacity) + w["erfaring"] * scaled(exp)
    target = params.total * sub.anmodning / sub.anmodning.sum()
    upper = np.minimum(sub.vedtak, params.total).astype(int)
    best = -np.inf
    best_x = None
    for combo in itertools.product(*(range(u + 1) for u in upper[:-1])):
        last = params.total - sum(combo)
        if last < 0 or last > upper[-1]:
            continue
        x = np.array([*combo, last])
        if params.min_group and np.any((x > 0) & (x < params.min_group)):
            continue
        if params.district_priority and x[sub.centrality >= 5].sum() < math.ceil(
            params.district_priority * params.total
        ):
            continue
        value = (score * x).sum() - w["anmodning"] * (np.abs(x - target) / (target + 10)).sum()
        if value > best + 1e-12:
            best, best_x = value, x
    return best, best_x


@pytest.mark.parametrize(
    ("codes", "params"),
    [
        (
            ["4650", "4651", "4647", "4640"],
            PlanParameters(total=40, min_group=6, weights=parse_weights("anmodning=1,fastlege=2")),
        ),
        (
            ["4650", "4602", "4638", "4601"],
            PlanParameters(total=35, min_group=5, district_priority=0.5),
        ),
    ],
)
def test_optimum_matches_brute_force_on_tiny_instance(munis, codes, params):
    sub = munis.subset(np.array([munis.index(c) for c in codes]))
    # keep the enumeration small: decisions capped at the total
    plan = make_plan(sub, params)
    best, best_x = _brute_force(sub, plan.parameters)
    assert best_x is not None
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.total == params.total


def test_infeasible_plan_names_the_binding_constraint(munis):
    county = munis.in_county("46")
    cap = int(np.nansum(county.vedtak))
    with pytest.raises(UserError) as info:
        make_plan(county, PlanParameters(total=cap - 100, max_per_1000=2))
    message = str(info.value)
    assert "ingen løsning" in message
    ceiling = np.minimum(county.vedtak, np.floor(2 * county.population / 1000 + 1e-9))
    assert f"summen av øvre grenser er {int(np.nansum(ceiling)):,}".replace(",", " ") in message
    assert "taket per 1 000 innbyggere" in message
    with pytest.raises(UserError) as info:
        make_plan(county, PlanParameters(total=1000, district_priority=1.0, max_per_1000=5))
    assert "distriktsprioriteten" in str(info.value)


def test_total_above_the_decisions_says_so_and_shows_where_the_excess_would_go(munis):
    decided = int(np.nansum(munis.vedtak))
    assert decided == 28327
    with pytest.raises(UserError) as info:
        make_plan(munis, PlanParameters(total=30000))
    message = str(info.value)
    assert f"Totalen 30 000 er {30000 - decided:,} personer over det kommunene har vedtatt "\
           f"({decided:,} plasser)".replace(",", " ") in message
    assert "Oslo +" in message and "--allow-excess" in message
    plan = make_plan(munis, PlanParameters(total=30000, allow_excess=True))
    x = {r.code: r for r in plan.rows}
    assert plan.total == 30000
    assert plan.warnings and plan.warnings[0] in message
    # municipalities without a decision get nothing (Utsira, 215 inhabitants, among them)
    undecided = np.isnan(munis.vedtak)
    assert undecided.sum() == 6 and x["1151"].persons == 0
    assert all(x[c].persons == 0 for c in munis.codes[undecided])
    # the excess is bounded by the decisions scaled to the total, and shown per row
    scale = 30000 / decided
    for r in plan.rows:
        if not math.isnan(r.decision):
            assert r.persons <= math.ceil(r.decision * scale - 1e-9)
            assert r.excess == max(0, r.persons - int(r.decision))
            if r.excess:
                shown = f"{r.excess:,} over vedtaket på {int(r.decision):,}".replace(",", " ")
                assert shown in r.reason
    assert plan.excess == sum(r.excess for r in plan.rows) > 0


def test_municipalities_without_a_decision_get_only_what_the_planner_allows(munis):
    plan = make_plan(munis, PlanParameters(total=28327, undecided_per_1000=2.0))
    for r in plan.rows:
        if math.isnan(r.decision):
            assert r.persons <= math.floor(2.0 * r.population / 1000 + 1e-9)
        else:
            assert r.persons <= r.decision
    assert sum(r.persons for r in plan.rows if math.isnan(r.decision)) > 0
    assert "Kommuner uten vedtak: høyst 2,0 per 1 000 innbyggere" in \
        "\n".join(__import__("bliatlas.settlement.plan", fromlist=["x"]).parameter_lines(plan))


@pytest.mark.parametrize("params, message", [
    (PlanParameters(total=100, max_per_1000=1e308), "--max-per-1000 må være et tall mellom 0"),
    (PlanParameters(total=100, min_per_1000=float("inf")), "--min-per-1000"),
    (PlanParameters(total=100, undecided_per_1000=-1), "--undecided-per-1000"),
    (PlanParameters(total=10**9), "total må være et heltall mellom 0 og 1 000 000"),
])
def test_out_of_range_parameters_are_refused(munis, params, message):
    with pytest.raises(UserError, match=message):
        make_plan(munis.in_county("46"), params)


def test_reasons_are_plain_norwegian(munis):
    county = munis.in_county("46")
    plan = make_plan(county, PlanParameters(total=1200, min_group=10, district_priority=0.2))
    row = next(r for r in plan.rows if r.code == "4650")
    assert row.reason.startswith(f"Gloppen: {row.persons} personer — ")
    assert f"vedtaket på {int(row.decision)}" in row.reason
    assert "sentralitet 5 (distriktsprioritet)" in row.reason
    assert "fastlege" in row.reason


def test_scenario_and_weight_parsing_errors():
    base = PlanParameters(total=100)
    p = parse_scenario("distrikt=district_priority:0,4;min_group:5;utfall:2", base)
    assert (p.name, p.district_priority, p.min_group, p.weights["utfall"]) == (
        "distrikt",
        0.4,
        5,
        2.0,
    )
    assert base.district_priority == 0.0 and base.weights["utfall"] == 1.0
    with pytest.raises(UserError, match="ukjent nøkkel 'foo'"):
        parse_scenario("x=foo:1", base)
    with pytest.raises(UserError, match="ikke et tall"):
        parse_weights("utfall=mye")
    with pytest.raises(UserError, match="mellom 0 og 1000"):
        parse_scenario("x=max_per_1000:1e308", base)
    for bad in ("x" * 61, "a\tb", "linje\nskift", "Kommune"):
        with pytest.raises(UserError, match="scenarionavnet"):
            parse_scenario(f"{bad}=total:100", base)


def test_cli_plan_writes_csv_and_xlsx_with_scenarios(imported_db, tmp_path, capsys):
    from openpyxl import load_workbook

    out = tmp_path / "plan.xlsx"
    code = bli_on(
        imported_db,
        "settlement",
        "plan",
        "--county",
        "46",
        "--total",
        "1200",
        "--min-group",
        "10",
        "--district-priority",
        "0.2",
        "--scenario",
        "distrikt=district_priority:0.5",
        "--out",
        str(out),
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Scenario «distrikt»" in text
    assert "Kilde:" in text
    wb = load_workbook(out)
    assert wb.sheetnames == ["Sammenligning", "grunnlag", "distrikt", "Om"]
    rows = list(wb["Sammenligning"].iter_rows(values_only=True))
    assert rows[0] == ("kommunenummer", "kommune", "grunnlag", "distrikt")
    assert sum(r[2] for r in rows[1:]) == 1200
    assert sum(r[3] for r in rows[1:]) == 1200
    csv_out = tmp_path / "plan.csv"
    assert (
        bli_on(
            imported_db,
            "settlement",
            "plan",
            "--county",
            "46",
            "--total",
            "300",
            "--out",
            str(csv_out),
        )
        == 0
    )
    with open(csv_out, encoding="utf-8") as fh:
        recs = list(csv.DictReader(fh))
    assert len(recs) == 43
    assert sum(int(r["personer"]) for r in recs) == 300
    assert all(r["begrunnelse"].startswith(r["kommune"] + ":") for r in recs)


def test_cli_plan_infeasible_exits_2_and_writes_nothing(imported_db, tmp_path, capsys):
    out = tmp_path / "plan.csv"
    code = bli_on(
        imported_db, "settlement", "plan", "--county", "46", "--total", "100000", "--out", str(out)
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "personer over det kommunene har vedtatt" in err and "Bergen +" in err
    assert not out.exists()
    code = bli_on(imported_db, "settlement", "plan", "--county", "46", "--total", "4000",
                  "--allow-excess", "--out", str(out))
    assert code == 0
    text = capsys.readouterr().out
    assert "ADVARSEL" in text and "over det kommunene har vedtatt" in text
    with open(out, encoding="utf-8") as fh:
        recs = list(csv.DictReader(fh))
    assert sum(int(r["personer"]) for r in recs) == 4000
    assert sum(int(r["over_vedtak"]) for r in recs) > 0


def test_api_plan_endpoint(db_env):
    from fastapi.testclient import TestClient

    from bliatlas.api.app import create_app

    client = TestClient(create_app())
    resp = client.post(
        "/api/bosetting/plan",
        json={
            "county": "46",
            "total": 800,
            "min_group": 10,
            "district_priority": 0.2,
            "scenarios": {"tak": {"max_per_1000": 8}},
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [p["scenario"] for p in body["planer"]] == ["grunnlag", "tak"]
    for p in body["planer"]:
        assert p["sum"] == 800
        assert sum(k["personer"] for k in p["kommuner"]) == 800
        assert all(k["personer"] == 0 or k["personer"] >= 10 for k in p["kommuner"])
    tak = body["planer"][1]["kommuner"]
    assert all(k["personer"] <= 8 * k["folketall"] / 1000 for k in tak)
    assert len(body["sammenligning"]) == 43
    assert "Kilde:" in body["kilde"]
    bad = client.post("/api/bosetting/plan", json={"county": "46", "total": 100000})
    assert bad.status_code == 400
    assert "over det kommunene har vedtatt" in bad.json()["error"]
    over = client.post("/api/bosetting/plan", json={"county": "46", "total": 4000,
                                                    "allow_excess": True}).json()
    assert over["planer"][0]["advarsler"] and over["planer"][0]["over_vedtak"] > 0
    for body in ({"total": 10, "max_per_1000": 1e308},
                 {"total": 10, "scenarios": {"a\tb": {"total": 5}}},
                 {"total": 10, "scenarios": {"x": {"max_per_1000": 1e308}}}):
        r = client.post("/api/bosetting/plan", json=body)
        assert r.status_code in (400, 422), body
    assert client.post("/api/bosetting/plan", json={"county": "99", "total": 10}).status_code == 404
    assert client.post("/api/bosetting/plan", json={"total": -1}).status_code == 422
    resp = client.post("/api/bosetting/plan", json={"total": 10, "weights": {"religion": 1}})
    assert resp.status_code == 400
    assert "ukjente vekter" in resp.json()["error"]
