"""Capacity by the cohort's share, rules that hold or speak, wishes, profiles."""

from __future__ import annotations

import numpy as np
import pytest
from settlement_checker import (
    independent_check,  # noqa: F401  (autouse fixture)
    problem_violations,
)

from bliatlas.errors import InputError
from bliatlas.settlement.capacity import capacities, capacity_use, concentration
from bliatlas.settlement.problem import MatchProblem
from bliatlas.settlement.profiles import read_profile
from bliatlas.settlement.rules import (
    PREFERENCE_BONUS,
    SOFT_TIE_BONUS,
    apply_tie_rules,
    preference_bonuses,
    preference_report,
)
from bliatlas.settlement.solvers import solve


def test_default_capacity_is_each_decision_scaled_to_the_cohorts_share():
    dec = np.array([100.0, 40.0, 10.0, np.nan, 0.0])
    cap = capacities(dec, np.array([5, 0, 1, np.nan, 0]), np.array([120, 40, 10, 5, 3]),
                     persons=30, minors=2, mode="andel", margin=0.1)
    # share = 30 / 150 = 0.2; target = ceil(decision × 0.2 × 1.1), never above the decision
    assert cap.share == pytest.approx(0.2)
    assert cap.share_target.tolist() == [22, 9, 3, 0, 0]
    assert cap.persons.tolist() == [100, 40, 10, 0, 0]  # the hard limit: the decisions
    assert cap.minors.tolist() == [5, 0, 1, 0, 0]
    assert cap.request.tolist() == pytest.approx([24, 8, 2, 1, 0.6])
    whole = capacities(dec, np.zeros(5), np.zeros(5), persons=300, minors=0, mode="andel",
                       margin=0.1)
    assert whole.share_target.tolist() == [100, 40, 10, 0, 0]  # never above the decision
    assert whole.notes and "aldri over" in whole.notes[0]


def test_the_share_is_exceeded_only_to_fit_whole_households():
    # municipality 0 is best for everyone; shares 3 and 3; one household of 5 must go over
    scores = np.vstack([np.full((5, 2), [0.9, 0.5]), np.full((1, 2), [0.9, 0.5])])
    p = MatchProblem(scores, [[0, 1, 2, 3, 4], [5]], np.array([10, 10]),
                     target=np.array([3.0, 3.0]), target_weight=2.0)
    r = solve(p, mip_gap=0)
    used = np.bincount(r.assignment, weights=p.sizes, minlength=2)
    assert sorted(used.tolist()) == [1, 5]  # over a share by 2, not 3 (the single goes apart)
    rows = capacity_use(["1", "2"], ["A", "B"], np.array([10, 10]), p.capacity, p.sizes,
                        r.assignment, target=p.target)
    assert {x.status for x in rows} == {"over andelen", "delvis"}
    assert sum(x.over for x in rows) == 2


def test_a_hard_tie_gives_way_to_ema_support_forbids_and_locks_and_says_so():
    scores = np.full((6, 3), 0.5)
    p = MatchProblem(scores, [[0], [1], [2], [3], [4], [5]], np.array([3, 3, 3]),
                     household_ids=["ema", "stotte", "forbudt", "last", "ok", "over"],
                     muni_codes=["9001", "9002", "9003"],
                     unaccompanied=np.array([1, 0, 0, 0, 0, 0]),
                     minor_capacity=np.array([0, 1, 1]),
                     support_needs=np.array([False, True, False, False, False, False]),
                     can_support=np.array([False, True, True]),
                     hard_ties={0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 5: 2},
                     forbids={(2, 1)}, locks={3: 0})
    conflicts = apply_tie_rules(p, decision=np.array([3, 3, 3]))
    by = {c.household_id: c for c in conflicts}
    assert set(by) == {"ema", "stotte", "forbudt", "last"}
    assert "EMA-vedtak 0" in by["ema"].reasons[0]
    assert "oppfølgingsbehovet" in by["stotte"].reasons[0]
    assert "forbudt" in by["forbudt"].reasons[0]
    assert "låst den til 9001" in by["last"].reasons[0]
    assert p.hard_ties == {4: 2, 5: 2}  # only the ties that hold are forced
    assert p.soft_ties[(0, 0)] == pytest.approx(SOFT_TIE_BONUS)  # the others count as wishes
    r = solve(p, mip_gap=0)
    assert problem_violations(p, r.assignment) == []
    assert r.assignment[0] != 0 and r.assignment[1] != 0 and r.assignment[3] == 0


def test_an_override_is_the_planners_explicit_choice():
    scores = np.full((2, 2), 0.5)
    p = MatchProblem(scores, [[0], [1]], np.array([2, 2]), household_ids=["ema", "x"],
                     unaccompanied=np.array([1, 0]), minor_capacity=np.array([0, 1]),
                     hard_ties={0: 0})
    conflicts = apply_tie_rules(p, overrides={0})
    assert conflicts[0].overridden and "overstyrt av planleggeren" in conflicts[0].resolution
    assert p.hard_ties == {0: 0} and p.minor_capacity.tolist() == [1, 1]
    assert solve(p).assignment[0] == 0


def test_tied_households_fit_within_the_decision_or_are_reported():
    p = MatchProblem(np.full((7, 2), 0.5), [[0, 1, 2], [3, 4, 5], [6]], np.array([4, 10]),
                     household_ids=["a", "b", "c"], hard_ties={0: 0, 1: 0})
    conflicts = apply_tie_rules(p, decision=np.array([5, 10]))
    # the first household of 3 fits in 4; the second would need 6, above the decision (5)
    assert p.capacity.tolist() == [4, 10]
    assert len(conflicts) == 1 and "kapasiteten (4 personer, vedtak 5)" in conflicts[0].reasons[0]
    assert len(p.hard_ties) == 1
    q = MatchProblem(np.full((3, 2), 0.5), [[0, 1, 2]], np.array([2, 10]), hard_ties={0: 0})
    assert apply_tie_rules(q, decision=np.array([5, 10])) == []
    assert q.capacity.tolist() == [3, 10]  # raised for the household, within the decision


def test_wishes_add_a_bonus_per_person_by_rank_and_are_reported():
    wishes = [("9002", "46"), (), ("0301",)]
    sizes = np.array([2, 1, 3])
    codes = ["9001", "9002", "9003"]
    counties = ["46", "46", "50"]
    bonus = preference_bonuses(wishes, sizes, codes, counties, weight=2.0)
    assert bonus[(0, 1)] == pytest.approx(2.0 * PREFERENCE_BONUS[0] * 2)
    assert bonus[(0, 0)] == pytest.approx(2.0 * PREFERENCE_BONUS[1] * 2)  # the county wish
    assert (0, 2) not in bonus and not any(h == 2 for h, _ in bonus)
    rep = preference_report(wishes, codes, counties, np.array([0, 2, 1]))
    assert rep.with_wishes == 2 and rep.got == [0, 1, 0] and rep.none_in_scope == 1
    assert rep.rank_of == {0: 2, 2: 0}
    assert "2 husholdninger oppga ønsker; 1 fikk ett av dem" in rep.text()


def test_concentration_is_explained_in_plain_words():
    rows = capacity_use(["1", "2", "3", "4"], ["A", "B", "C", "D"], np.array([10, 10, 10, 10]),
                        np.array([10, 10, 10, 10]), np.array([5, 5, 5, 4]),
                        np.array([0, 0, 1, 1]), target=np.array([6, 6, 6, 6]))
    c = concentration(rows, np.array([0.8, 0.78, 0.6, 0.6]))
    assert c.concentrated and c.empty == ["C", "D"]
    assert "2 av 4 kommuner med kapasitet fikk personer" in c.text
    assert "prosentpoeng høyere" in c.text and "gulv" in c.text
    assert "bruk kapasitet etter kohortens andel" in c.text
    # with capacity already by the cohort's share, that is not offered as the remedy
    shared = concentration(rows, np.array([0.8, 0.78, 0.6, 0.6]), by_share=True)
    assert "gulv" in shared.text and "kohortens andel" not in shared.text


def test_profile_files_are_checked_and_become_limits(tmp_path):
    codes = ["4601", "4602"]
    good = tmp_path / "p.csv"
    good.write_text("kommune;vgs_plasser;store_boliger;spesialisthelse\n4601;2;;1\n4602;0;1;0\n",
                    encoding="utf-8")
    prof = read_profile(good, codes)
    assert prof.upper_secondary.tolist() == [2, 0]
    assert prof.large_dwellings[0] > 10**8 and prof.large_dwellings[1] == 1
    assert prof.can_support.tolist() == [True, False]
    for text, words in (("kommune;vgs_plasser\n9999;1\n", ["rad 2", "ukjent kommunenummer"]),
                        ("kommune;religion\n4601;1\n", ["religion"]),
                        ("kapasitet\n3\n", ["mangler kolonnen 'kommune'"]),
                        ("kommune;store_boliger\n4601;-1\n", ["rad 2", "store_boliger"])):
        bad = tmp_path / "b.csv"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises((InputError, Exception)) as info:
            read_profile(bad, codes)
        for w in words:
            assert w in str(info.value)
