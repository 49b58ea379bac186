"""Pairing: every constraint checked by an independent validator, optimality against
exhaustive search and the exact ILP, reasons for unplaced requests, repair on the day."""
from __future__ import annotations

import itertools
import random
import time
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaker.pairing import (REASONS, Candidate, Meeting, Problem, objective, repair,
                                solve)


# --------------------------------------------------------------------------- validator

def validate(problem: Problem, sched) -> None:
    """Checks a schedule against the rules as an organizer states them, without using any
    of pairing.py's internals."""
    prio = {tuple(t)[:2] for t in list(problem.must_meet) + list(problem.accepted)}
    locked = set(problem.locked)
    best: dict[tuple, float] = {}
    for c in problem.candidates:
        best[(c.leader, c.sme)] = max(best.get((c.leader, c.sme), -1.0), c.score)
    cells, firm_slots, pairs = set(), set(), set()
    per_sme = Counter()
    for m in sched.meetings:
        assert 1 <= m.slot <= problem.slots, m
        assert m.table in problem.leader_tables[m.leader], f"{m} not at the leader's table"
        assert m.sme in set(problem.smes), m
        assert (m.slot, m.table) not in cells, f"two meetings at table {m.table} slot {m.slot}"
        cells.add((m.slot, m.table))
        assert (m.sme, m.slot) not in firm_slots, f"{m.sme} twice in slot {m.slot}"
        firm_slots.add((m.sme, m.slot))
        assert (m.leader, m.sme) not in pairs, f"pair {m.leader}/{m.sme} twice"
        pairs.add((m.leader, m.sme))
        per_sme[m.sme] += 1
        if m not in locked:
            for firm in (m.leader, m.sme):
                assert m.slot not in problem.unavailable.get(firm, ()), f"{firm} blocked {m}"
            if (m.leader, m.sme) not in prio:
                assert best.get((m.leader, m.sme), -1) >= problem.relevance_floor, m
                assert (m.leader, m.sme) not in {tuple(p)[:2] for p in problem.excluded}
    # a leader's meetings in one slot never exceed its tables (one per 对接人)
    per_leader_slot = Counter((m.leader, m.slot) for m in sched.meetings)
    for (leader, _), n in per_leader_slot.items():
        assert n <= len(problem.leader_tables[leader])
    assert all(n <= problem.max_per_sme for sme, n in per_sme.items()
               if not any(l.sme == sme for l in locked))
    for m in locked:
        assert m in set(sched.meetings), f"locked meeting moved: {m}"
    table_owner = {t: L for L, ts in problem.leader_tables.items() for t in ts}
    expected_open = {(s, t, table_owner[t]) for s in range(1, problem.slots + 1)
                     for t in table_owner if (s, t) not in cells
                     and s not in problem.unavailable.get(table_owner[t], ())}
    assert set(sched.open_cells) == expected_open
    met = {m.sme for m in sched.meetings}
    assert set(sched.unmatched) == set(problem.smes) - met


# --------------------------------------------------------------------------- instances

def random_problem(rng: random.Random, n_leaders=3, n_smes=6, slots=3, k=2, tables=1,
                   density=0.6, blocked=0.0, n_prio=0, floor=0.2) -> Problem:
    leaders = {f"L{i}": [i * tables + j + 1 for j in range(tables)] for i in range(n_leaders)}
    smes = [f"S{i:02d}" for i in range(n_smes)]
    cands = []
    for L in leaders:
        for s in smes:
            for d in range(2):
                if rng.random() < density:
                    cands.append(Candidate(L, s, f"{L}-D{d}", round(rng.random(), 3)))
    unavailable = defaultdict(set)
    for f in list(leaders) + smes:
        for s in range(1, slots + 1):
            if rng.random() < blocked:
                unavailable[f].add(s)
    prio = [(rng.choice(list(leaders)), rng.choice(smes), None) for _ in range(n_prio)]
    return Problem(slots, leaders, smes, cands, accepted=prio[: n_prio // 2],
                   must_meet=prio[n_prio // 2:], unavailable=dict(unavailable),
                   max_per_sme=k, relevance_floor=floor)


def brute_force(problem: Problem) -> tuple[int, int, float]:
    """The best objective over every assignment of every allowed pair to a slot or to none."""
    prio = {tuple(t)[:2] for t in list(problem.must_meet) + list(problem.accepted)}
    best: dict[tuple, float] = {}
    for c in problem.candidates:
        best[(c.leader, c.sme)] = max(best.get((c.leader, c.sme), 0.0), c.score)
    allowed = sorted(k for k, v in best.items() if v >= problem.relevance_floor) + sorted(
        p for p in prio if p not in best or best[p] < problem.relevance_floor)
    allowed = list(dict.fromkeys(allowed))
    top = (-1, -1, -1.0)
    for choice in itertools.product(range(problem.slots + 1), repeat=len(allowed)):
        used = [(p, s) for p, s in zip(allowed, choice) if s]
        if Counter((p[1], s) for p, s in used).most_common(1)[0:1] and \
                Counter((p[1], s) for p, s in used).most_common(1)[0][1] > 1:
            continue
        lead = Counter((p[0], s) for p, s in used)
        if any(n > len(problem.leader_tables[L]) for (L, _), n in lead.items()):
            continue
        if any(n > problem.max_per_sme for n in Counter(p[1] for p, _ in used).values()):
            continue
        if any(s in problem.unavailable.get(p[0], ()) or s in problem.unavailable.get(p[1], ())
               for p, s in used):
            continue
        val = (sum(1 for p, _ in used if p in prio), len({p[1] for p, _ in used}),
               round(sum(best.get(p, 0.0) for p, _ in used), 9))
        top = max(top, val)
    return top


def same(a, b):
    return a[:2] == b[:2] and abs(a[2] - b[2]) < 1e-6


# --------------------------------------------------------------------------- optimality

@pytest.mark.parametrize("seed", range(12))
def test_optimal_against_exhaustive_search(seed):
    rng = random.Random(seed)
    p = random_problem(rng, n_leaders=2, n_smes=4, slots=2, k=rng.choice([1, 2]),
                       tables=rng.choice([1, 2]), density=0.5,
                       blocked=0.25 if seed % 2 else 0.0, n_prio=seed % 3)
    n_pairs = len({(c.leader, c.sme) for c in p.candidates})
    assert n_pairs <= 9  # keeps the search to 3**9 assignments at most
    sched = solve(p)
    validate(p, sched)
    assert same(objective(p, sched.meetings), brute_force(p))
    assert sched.stats["optimal"]


@pytest.mark.parametrize("seed", range(8))
def test_flow_equals_exact_ilp(seed):
    rng = random.Random(100 + seed)
    p = random_problem(rng, n_leaders=4, n_smes=14, slots=4, k=2, tables=1 + seed % 2,
                       density=0.3, blocked=0.15 if seed >= 4 else 0.0, n_prio=3)
    fast = solve(p)
    exact = solve(p, method="ilp")
    validate(p, fast)
    validate(p, exact)
    assert exact.stats["optimal"]
    assert same(objective(p, fast.meetings), objective(p, exact.meetings))


@pytest.mark.parametrize("seed", range(6))
def test_highs_flow_equals_networkx_flow(seed):
    from matchmaker.pairing import _pairs, _select_flow

    rng = random.Random(200 + seed)
    p = random_problem(rng, n_leaders=8, n_smes=60, slots=6, k=1 + seed % 3,
                       tables=1 + seed % 2, density=0.2, n_prio=6)
    pairs, _ = _pairs(p)
    fast = _select_flow(p, pairs, engine="highs")[1]
    ref = _select_flow(p, pairs, engine="networkx")[1]
    assert same(fast, ref)


def test_fairness_before_score():
    # One leader, two slots: S1 scores best with both demands but only one of its meetings
    # may come before S2 gets any.
    p = Problem(2, {"L": [1]}, ["S1", "S2"],
                [Candidate("L", "S1", "D1", 0.9), Candidate("L", "S2", "D1", 0.3)],
                max_per_sme=2)
    sched = solve(p)
    assert {m.sme for m in sched.meetings} == {"S1", "S2"}
    # ...and a pair meets once, for its best demand.
    p2 = Problem(2, {"L": [1]}, ["S1"], [Candidate("L", "S1", "D1", 0.9),
                                         Candidate("L", "S1", "D2", 0.95)], max_per_sme=2)
    sched2 = solve(p2)
    assert [(m.sme, m.demand_id) for m in sched2.meetings] == [("S1", "D2")]
    assert sched2.open_cells == [(2, 1, "L")]


def test_accepted_requests_beat_fairness_and_floor():
    p = Problem(1, {"L": [1]}, ["S1", "S2"],
                [Candidate("L", "S1", "D1", 0.9), Candidate("L", "S2", "D1", 0.05)],
                accepted=[("L", "S2", "D1")])
    sched = solve(p)
    assert [(m.sme, m.kind) for m in sched.meetings] == [("S2", "request")]
    validate(p, sched)


def test_relevance_floor_leaves_cells_open():
    p = Problem(3, {"L": [1]}, ["S1", "S2"],
                [Candidate("L", "S1", "D1", 0.5), Candidate("L", "S2", "D1", 0.1)],
                pending=[("L", "S2", "D1")])
    sched = solve(p)
    assert [m.sme for m in sched.meetings] == ["S1"]
    assert len(sched.open_cells) == 2
    assert sched.unplaced[0].reason == REASONS["below_floor"]
    assert sched.waitlist == []  # S2 is below the floor, so it is not on the waitlist
    assert sched.unmatched == ["S2"]


def test_reasons_in_chinese():
    # S1 blocked every slot but one, which L1 already fills with a must-meet.
    p = Problem(2, {"L1": [1], "L2": [2]}, ["S1", "S2"],
                [Candidate("L1", "S2", "D1", 0.9), Candidate("L2", "S1", "D2", 0.8)],
                must_meet=[("L1", "S1", None)], pending=[("L2", "S1", "D2")],
                excluded=[("L1", "S2")], unavailable={"S1": {2}})
    sched = solve(p)
    validate(p, sched)
    why = {(u.leader, u.sme): u.reason for u in sched.unplaced}
    assert why[("L2", "S1")] == "该企业在可用时段均已排满"
    assert ("L1", "S2") not in {(m.leader, m.sme) for m in sched.meetings}
    p_quota = Problem(3, {"L1": [1], "L2": [2]}, ["S1"],
                      [Candidate("L1", "S1", "D1", 0.9), Candidate("L2", "S1", "D2", 0.8)],
                      accepted=[("L2", "S1", "D2")], pending=[("L1", "S1", "D1")],
                      max_per_sme=1)
    sched = solve(p_quota)
    assert sched.unplaced[0].reason == "该企业已达每家最多 1 场的上限"
    p_absent = Problem(2, {"L1": [1]}, ["S1"], [], must_meet=[("L1", "S9", None)])
    assert solve(p_absent).unplaced[0].reason == REASONS["sme_absent"]


def test_timetable_relaxation_fallback_stays_optimal():
    # Flow capacities allow S to meet both leaders, but both are only there in slot 1.
    p = Problem(2, {"L1": [1], "L2": [2]}, ["S", "T"],
                [Candidate("L1", "S", "D1", 0.9), Candidate("L2", "S", "D2", 0.9),
                 Candidate("L2", "T", "D2", 0.3)],
                unavailable={"L1": {2}, "L2": {2}}, max_per_sme=2)
    sched = solve(p)
    validate(p, sched)
    assert same(objective(p, sched.meetings), brute_force(p))


def test_several_tables_per_leader():
    p = Problem(2, {"L": [1, 2], "M": [3]}, [f"S{i}" for i in range(6)],
                [Candidate("L", f"S{i}", "D", 0.5 + i / 100) for i in range(6)]
                + [Candidate("M", f"S{i}", "E", 0.4) for i in range(6)], max_per_sme=1)
    sched = solve(p)
    validate(p, sched)
    assert Counter(m.leader for m in sched.meetings) == {"L": 4, "M": 2}
    assert {m.table for m in sched.meetings if m.leader == "L"} == {1, 2}


def test_locked_meetings_stay():
    rng = random.Random(7)
    p = random_problem(rng, n_leaders=3, n_smes=10, slots=4, k=2, density=0.5)
    first = solve(p)
    lock = first.meetings[::3]
    p.locked = [Meeting(m.slot, m.table, m.leader, m.sme, m.demand_id, m.score, "locked")
                for m in lock]
    again = solve(p)
    validate(p, again)
    for m in p.locked:
        assert m in again.meetings


def test_deterministic():
    rng = random.Random(3)
    p = random_problem(rng, n_leaders=5, n_smes=30, slots=6, k=3, density=0.3, n_prio=4)
    a, b = solve(p), solve(p)
    assert [(m.slot, m.table, m.sme) for m in a.meetings] == \
           [(m.slot, m.table, m.sme) for m in b.meetings]
    shuffled = Problem(p.slots, dict(reversed(list(p.leader_tables.items()))),
                       list(reversed(p.smes)), list(reversed(p.candidates)),
                       accepted=p.accepted, must_meet=p.must_meet, max_per_sme=3)
    c = solve(shuffled)
    assert [(m.slot, m.table, m.sme) for m in a.meetings] == \
           [(m.slot, m.table, m.sme) for m in c.meetings]


def test_six_leaders_sixty_smes_under_a_second():
    rng = random.Random(11)
    p = random_problem(rng, n_leaders=6, n_smes=60, slots=8, k=3, density=0.25)
    p.unavailable = {f"S{i:02d}": {1 + i % 8} for i in range(0, 60, 4)}
    started = time.perf_counter()
    sched = solve(p)
    assert time.perf_counter() - started < 1.0
    validate(p, sched)
    assert sched.stats["optimal"]
    assert len(sched.meetings) == 48


# --------------------------------------------------------------------------- property tests

@st.composite
def problems(draw):
    seed = draw(st.integers(0, 10_000))
    rng = random.Random(seed)
    p = random_problem(rng, n_leaders=draw(st.integers(1, 4)), n_smes=draw(st.integers(1, 12)),
                       slots=draw(st.integers(1, 5)), k=draw(st.integers(1, 3)),
                       tables=draw(st.integers(1, 2)), density=draw(st.floats(0.0, 0.8)),
                       blocked=draw(st.sampled_from([0.0, 0.0, 0.2, 0.5])),
                       n_prio=draw(st.integers(0, 4)), floor=draw(st.sampled_from([0.0, 0.2, 0.6])))
    if draw(st.booleans()):
        p.excluded = [(c.leader, c.sme) for c in p.candidates[::5]]
    if draw(st.booleans()):
        # Lock a few meetings of an earlier run: the organizer fixed them by hand.
        first = solve(Problem(p.slots, p.leader_tables, p.smes, p.candidates,
                              max_per_sme=p.max_per_sme, relevance_floor=p.relevance_floor))
        p.locked = [Meeting(m.slot, m.table, m.leader, m.sme, m.demand_id, m.score, "locked")
                    for m in first.meetings[::2]]
    return p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_schedules_break_no_constraint(p):
    sched = solve(p)
    validate(p, sched)
    placed = {(m.leader, m.sme) for m in sched.meetings}
    for t in list(p.accepted) + list(p.must_meet):
        assert tuple(t)[:2] in placed or any(
            (u.leader, u.sme) == tuple(t)[:2] for u in sched.unplaced)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.data())
def test_repair_moves_nobody_else(p, data):
    sched = solve(p)
    firms = sorted({m.sme for m in sched.meetings} | {m.leader for m in sched.meetings})
    if not firms:
        return
    absent = set(data.draw(st.lists(st.sampled_from(firms), max_size=2)))
    from_slot = data.draw(st.integers(1, p.slots))
    fixed, cancelled = repair(p, sched, absent=absent, from_slot=from_slot)
    kept = [m for m in sched.meetings if m not in set(cancelled)]
    for m in kept:
        assert m in fixed.meetings, f"{m} was moved"
    for m in cancelled:
        assert m.slot >= from_slot and (m.leader in absent or m.sme in absent)
    new = [m for m in fixed.meetings if m.kind == "repair"]
    for m in new:
        assert m.slot >= from_slot
        assert m.leader not in absent and m.sme not in absent
    # On the day past slots are gone and absent firms are away all day.
    day = {f: set(p.unavailable.get(f, ())) | set(range(1, from_slot))
           for f in list(p.leader_tables) + list(p.smes)}
    for f in absent:
        day[f] = set(range(1, p.slots + 1))
    validate_p = Problem(p.slots, p.leader_tables, p.smes, p.candidates,
                         accepted=p.accepted, must_meet=p.must_meet, excluded=p.excluded,
                         unavailable=day, max_per_sme=p.max_per_sme,
                         relevance_floor=p.relevance_floor,
                         locked=[m for m in kept])
    validate(validate_p, fixed)


def test_repair_fills_a_no_show_from_the_waitlist():
    # L has 2 slots, three relevant SMEs, K = 1: S3 waits. S1 does not come.
    p = Problem(2, {"L": [1]}, ["S1", "S2", "S3"],
                [Candidate("L", "S1", "D", 0.9), Candidate("L", "S2", "D", 0.8),
                 Candidate("L", "S3", "D", 0.7)], max_per_sme=1)
    sched = solve(p)
    assert sched.waitlist == ["S3"]
    no_show = next(m for m in sched.meetings if m.sme == "S1")
    fixed, cancelled = repair(p, sched, absent={"S1"}, from_slot=no_show.slot)
    assert cancelled == [no_show]
    new = [m for m in fixed.meetings if m.kind == "repair"]
    assert [(m.slot, m.table, m.sme) for m in new] == [(no_show.slot, 1, "S3")]
    other = next(m for m in sched.meetings if m.sme == "S2")
    assert other in fixed.meetings
    # Only checked-in SMEs are called in.
    fixed2, _ = repair(p, sched, absent={"S1"}, from_slot=no_show.slot, present={"S2"})
    assert not [m for m in fixed2.meetings if m.kind == "repair"]
