"""Event pairing: which SMEs meet which chain leaders, in which slot, at which table.

Pure functions over dataclasses (no database, no web): :func:`solve` turns a :class:`Problem`
into a :class:`Schedule`, :func:`repair` refills the slots freed on the day without moving
anyone else's meeting.

Objective, lexicographic (a higher stage is never traded for a lower one):

1. accepted requests and the organizer's must-meet pairs placed;
2. fairness: the number of SMEs with at least one meeting (every invited SME with a relevant
   demand gets one meeting before anyone gets a second);
3. total match score.

Constraints: a firm has at most one meeting per slot (a leader with several tables — several
对接人 — one per table); a table hosts one meeting per slot; a leader keeps its tables all day;
an SME has at most K meetings; nobody meets in a slot they blocked; a pair meets once; locked
meetings stay where they are. Below the relevance floor no meeting is made (accepted requests
and must-meets excepted: a person decided those), and the free cell stays open for walk-ins.

Method. A pair meets at most once, so each (leader, SME) pair is one candidate carrying its
best demand. Without blocked slots and locked meetings, any selection in which every leader
has at most ``slots × tables`` meetings and every SME at most ``min(K, slots)`` can be
timetabled (König: a bipartite multigraph's edges can be coloured with Δ colours; split each
leader into its tables first). So the selection is an exact min-cost flow with integer costs
that encode the three stages (solved by HiGHS's dual simplex on the network LP, whose vertices
are integral; networkx's network simplex is the fallback and the reference in tests and
bench), and the timetable a bipartite edge colouring. With blocked slots or locked meetings
the same flow (capacities counted over each firm's free slots) is a relaxation: if its
selection can be placed in slots (a feasibility ILP, fast), it is optimal; otherwise an exact
ILP over (pair, slot) variables is solved with HiGHS (``scipy.optimize.milp``) in two stages:
stages 1–2 together (integer objective), then the score with stages 1–2 held. Every path is
deterministic: same input, same schedule.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = [
    "Candidate", "Meeting", "Problem", "Schedule", "Unplaced", "solve", "repair",
    "DEFAULT_RELEVANCE_FLOOR", "REASONS",
]

# The ranker's scores are in [0, 1]. On the judged handwritten-dev set (bench/pairing.py
# --dev, docs/benchmarks.md "Pairing"): of the ranked pairs below 0.1 only 0.4 % are relevant,
# between 0.1 and 0.2 about 28 %, and above 0.2 64 %, while 97 % of the grade-2 pairs score
# above 0.2. So 0.2 keeps the tables free of meetings nobody would want; an organizer who
# prefers fuller tables to open walk-in cells lowers it per event.
DEFAULT_RELEVANCE_FLOOR = 0.2

# Integer scale of scores in the flow costs: differences of 1e-4 still count, and the
# stage weights stay far below 2**53 so the LP's arithmetic on them is exact.
_SCALE = 10_000

# Why a requested meeting was not placed, worded for the organizer.
REASONS = {
    "sme_absent": "该企业未受邀参会或已缺席",
    "leader_absent": "该链主企业未参会或已缺席",
    "declined": "链主企业已婉拒该对接请求",
    "below_floor": "低于相关度下限",
    "sme_quota": "该企业已达每家最多 {k} 场的上限",
    "sme_full": "该企业在可用时段均已排满",
    "leader_full": "该链主企业各桌在可用时段均已排满",
    "no_common_slot": "双方没有共同的空闲时段",
    "outranked": "名额已优先安排给必见、已接受或尚未安排对接的企业",
}


@dataclass(frozen=True)
class Candidate:
    """A possible meeting: an SME for one of the leader's demands, with the ranker's score."""
    leader: str
    sme: str
    demand_id: str | None
    score: float
    reasons: dict | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Meeting:
    """A placed meeting. ``kind``: why it is there — ``locked`` (kept as it was), ``request``
    (an accepted request), ``must`` (the organizer's must-meet), ``pairing`` (chosen by
    score), ``repair`` (filled on the day into a freed cell)."""
    slot: int
    table: int
    leader: str
    sme: str
    demand_id: str | None
    score: float
    kind: str = "pairing"
    reasons: dict | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Unplaced:
    """A requested (or must-meet) pair that is not in the schedule, and why (zh-CN)."""
    leader: str
    sme: str
    demand_id: str | None
    kind: str          # request (accepted) | must | pending
    reason: str


@dataclass
class Problem:
    """Everything the pairing needs.

    slots: slots are numbered 1..slots (breaks only shift clock times, see events.py).
    leader_tables: leader credit code -> its table numbers (one or more; kept all day).
    smes: the invited SMEs.
    candidates: (leader, SME, demand, score) from the ranker; several per pair allowed — the
        best one above the floor is used.
    accepted / must_meet: (leader, sme, demand_id or None) pairs to place first.
    pending: requests not yet answered — only scored as candidates, explained if unplaced.
    excluded: (leader, sme) pairs never to pair (declined requests).
    unavailable: firm -> slots it blocked.
    locked: meetings that stay exactly where they are.
    """
    slots: int
    leader_tables: Mapping[str, Sequence[int]]
    smes: Sequence[str]
    candidates: Sequence[Candidate] = ()
    accepted: Sequence[tuple] = ()
    must_meet: Sequence[tuple] = ()
    pending: Sequence[tuple] = ()
    excluded: Collection[tuple] = ()
    unavailable: Mapping[str, Collection[int]] = field(default_factory=dict)
    max_per_sme: int = 3
    relevance_floor: float = DEFAULT_RELEVANCE_FLOOR
    locked: Sequence[Meeting] = ()


@dataclass
class Schedule:
    """The result. ``open_cells``: (slot, table, leader) with no meeting — open for walk-ins.
    ``unmatched``: invited SMEs without a meeting; ``waitlist``: those of them with a relevant
    demand (above the floor), best first — who to call when a cell frees up."""
    meetings: list[Meeting]
    open_cells: list[tuple[int, int, str]]
    unplaced: list[Unplaced]
    unmatched: list[str]
    waitlist: list[str]
    stats: dict


# --------------------------------------------------------------------------- preparation

@dataclass
class _Pair:
    leader: str
    sme: str
    demand_id: str | None
    score: float
    priority: str | None        # "request" | "must" | None
    reasons: dict | None


def _norm_triple(t) -> tuple[str, str, str | None]:
    if isinstance(t, Mapping):
        return t["leader"], t["sme"], t.get("demand_id")
    t = tuple(t)
    return t[0], t[1], (t[2] if len(t) > 2 else None)


def _check(problem: Problem) -> None:
    if problem.slots < 1:
        raise ValueError("slots must be >= 1")
    if problem.max_per_sme < 1:
        raise ValueError("max_per_sme must be >= 1")
    seen: dict[int, str] = {}
    for leader, tables in problem.leader_tables.items():
        if not tables:
            raise ValueError(f"leader {leader} has no table")
        for t in tables:
            if t in seen and seen[t] != leader:
                raise ValueError(f"table {t} given to two leaders")
            seen[t] = leader
    for m in problem.locked:
        if m.table not in problem.leader_tables.get(m.leader, ()):
            raise ValueError(f"locked meeting at table {m.table} which is not {m.leader}'s")


def _pairs(problem: Problem) -> tuple[dict[tuple[str, str], _Pair], list[Unplaced]]:
    """One candidate per (leader, SME) pair: priority pairs first, then the best-scoring
    demand above the floor. Pairs already met in a locked meeting are left out."""
    leaders = problem.leader_tables
    smes = set(problem.smes)
    met = {(m.leader, m.sme) for m in problem.locked}
    excluded = {tuple(p)[:2] for p in problem.excluded}
    best: dict[tuple[str, str], Candidate] = {}
    by_demand: dict[tuple[str, str, str | None], Candidate] = {}
    for c in problem.candidates:
        key = (c.leader, c.sme)
        by_demand[(c.leader, c.sme, c.demand_id)] = c
        b = best.get(key)
        if b is None or (c.score, str(c.demand_id)) > (b.score, str(b.demand_id)):
            best[key] = c
    pairs: dict[tuple[str, str], _Pair] = {}
    unplaced: list[Unplaced] = []
    for kind, triples in (("must", problem.must_meet), ("request", problem.accepted)):
        for t in triples:
            leader, sme, demand = _norm_triple(t)
            key = (leader, sme)
            if key in met or key in pairs:
                continue
            if leader not in leaders:
                unplaced.append(Unplaced(leader, sme, demand, kind, REASONS["leader_absent"]))
                continue
            if sme not in smes:
                unplaced.append(Unplaced(leader, sme, demand, kind, REASONS["sme_absent"]))
                continue
            c = by_demand.get((leader, sme, demand)) if demand is not None else None
            c = c or best.get(key)
            pairs[key] = _Pair(leader, sme, demand if demand is not None else (c.demand_id if c else None),
                               max(0.0, c.score) if c else 0.0, kind, c.reasons if c else None)
    for key, c in best.items():
        if key in pairs or key in met or key in excluded:
            continue
        if c.leader not in leaders or c.sme not in smes or c.score < problem.relevance_floor:
            continue
        pairs[key] = _Pair(c.leader, c.sme, c.demand_id, c.score, None, c.reasons)
    return dict(sorted(pairs.items())), unplaced


# --------------------------------------------------------------------------- flow + colouring

def _capacities(problem: Problem) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """Per-firm meeting capacities that any timetable must respect: a leader's free
    (slot, table) cells in its available slots, an SME's free available slots (at most K
    with its locked meetings counted). Also the SMEs a locked meeting already covers."""
    slots = range(1, problem.slots + 1)
    blocked = {f: set(v) for f, v in problem.unavailable.items()}
    taken: dict[tuple[str, int], int] = defaultdict(int)
    sme_busy: dict[str, set[int]] = defaultdict(set)
    for m in problem.locked:
        taken[(m.leader, m.slot)] += 1
        sme_busy[m.sme].add(m.slot)
    leader_cap = {L: sum(max(0, len(t) - taken[(L, s)]) for s in slots
                         if s not in blocked.get(L, ()))
                  for L, t in problem.leader_tables.items()}
    sme_cap = {}
    for sme in problem.smes:
        free = sum(1 for s in slots if s not in blocked.get(sme, ()) and s not in sme_busy[sme])
        sme_cap[sme] = max(0, min(free, problem.max_per_sme - len(sme_busy[sme])))
    return leader_cap, sme_cap, {m.sme for m in problem.locked}


def _select_flow(problem: Problem, pairs: dict[tuple[str, str], _Pair], engine: str = "highs"
                 ) -> tuple[list[_Pair], tuple[int, int, float]]:
    """Exact lexicographic selection as a min-cost flow under the capacities of
    :func:`_capacities`. Exact for the whole problem when nothing is blocked or locked;
    otherwise a relaxation whose value bounds every schedule. Returns the chosen pairs and
    the value (priority pairs, newly covered SMEs, score).

    The network: source → leader (capacity) → SME (one arc per pair, capacity 1) → sink,
    where an SME's first unit of flow earns the coverage weight and the rest earn nothing.
    Costs are integers that encode the three stages (priority ≫ coverage ≫ score).
    ``engine``: ``highs`` solves the flow as a linear programme with HiGHS's dual simplex —
    the constraint matrix is a network matrix, so the vertex it returns is integral — and
    falls back to ``networkx`` (pure-Python network simplex, same optimum, slower) if not.
    """
    leader_cap, sme_cap, covered = _capacities(problem)
    keys = list(pairs)
    smes = sorted({k[1] for k in keys})
    int_score = {key: int(round(max(0.0, p.score) * _SCALE)) for key, p in pairs.items()}
    max_meetings = min(sum(leader_cap.values()), sum(sme_cap.get(s, 0) for s in smes))
    w_cover = max(int_score.values(), default=0) * max_meetings + 1
    w_priority = w_cover * (len(smes) + 1)
    first = {s: 1 if sme_cap.get(s, 0) >= 1 and s not in covered else 0 for s in smes}
    chosen_keys = None
    if engine == "highs" and keys:
        chosen_keys = _flow_highs(keys, pairs, smes, leader_cap, sme_cap, first, int_score,
                                  w_cover, w_priority)
    if chosen_keys is None:
        chosen_keys = _flow_networkx(keys, pairs, smes, leader_cap, sme_cap, first, int_score,
                                     w_cover, w_priority, max_meetings + 1)
    chosen = [pairs[k] for k in chosen_keys]
    value = (sum(1 for p in chosen if p.priority), len({p.sme for p in chosen} - covered),
             round(sum(p.score for p in chosen), 9))
    return chosen, value


def _flow_highs(keys, pairs, smes, leader_cap, sme_cap, first, int_score, w_cover, w_priority):
    """Variables: x per pair, then per SME y (first unit) and z (the rest). Rows: leader
    capacity (sum x <= cap) and SME conservation (-sum x + y + z = 0)."""
    leaders = sorted({k[0] for k in keys})
    lpos = {L: i for i, L in enumerate(leaders)}
    spos = {s: i for i, s in enumerate(smes)}
    n, m = len(keys), len(smes)
    cost = np.empty(n + 2 * m)
    cost[:n] = [-(int_score[k] + (w_priority if pairs[k].priority else 0)) for k in keys]
    cost[n:n + m] = -w_cover
    cost[n + m:] = 0.0
    upper = np.empty(n + 2 * m)
    upper[:n] = 1.0
    upper[n:n + m] = [first[s] for s in smes]
    upper[n + m:] = [max(0, sme_cap.get(s, 0) - first[s]) for s in smes]
    xi = np.arange(n)
    lead_rows = np.array([lpos[k[0]] for k in keys])
    sme_rows = np.array([spos[k[1]] for k in keys])
    a_ub = sp.csr_array((np.ones(n), (lead_rows, xi)), shape=(len(leaders), n + 2 * m))
    rows = np.r_[sme_rows, np.arange(m), np.arange(m)]
    cols = np.r_[xi, n + np.arange(m), n + m + np.arange(m)]
    vals = np.r_[-np.ones(n), np.ones(2 * m)]
    a_eq = sp.csr_array((vals, (rows, cols)), shape=(m, n + 2 * m))
    res = linprog(cost, A_ub=a_ub, b_ub=np.array([leader_cap[L] for L in leaders], float),
                  A_eq=a_eq, b_eq=np.zeros(m), bounds=np.c_[np.zeros(n + 2 * m), upper],
                  method="highs-ds")
    if res.status != 0 or res.x is None:
        return None
    x = res.x[:n]
    if np.any(np.abs(x - np.round(x)) > 1e-6):
        return None
    return [k for i, k in enumerate(keys) if x[i] > 0.5]


def _flow_networkx(keys, pairs, smes, leader_cap, sme_cap, first, int_score, w_cover,
                   w_priority, total):
    g = nx.DiGraph()
    g.add_node("src", demand=-total)
    g.add_node("snk", demand=total)
    g.add_edge("src", "snk", capacity=total, weight=0)
    for leader in sorted({k[0] for k in keys}):
        g.add_edge("src", ("L", leader), capacity=leader_cap[leader], weight=0)
    for key in keys:
        p = pairs[key]
        w = int_score[key] + (w_priority if p.priority else 0)
        g.add_edge(("L", p.leader), ("S", p.sme), capacity=1, weight=-w)
    for sme in smes:
        k = sme_cap.get(sme, 0)
        if first[sme]:
            g.add_edge(("S", sme), ("F", sme), capacity=1, weight=-w_cover)
            g.add_edge(("F", sme), "snk", capacity=1, weight=0)
        if k - first[sme] > 0:
            g.add_edge(("S", sme), "snk", capacity=k - first[sme], weight=0)
    _, flow = nx.network_simplex(g)
    return [k for k in keys if flow[("L", k[0])].get(("S", k[1]), 0) > 0]


def _colour(edges: list[tuple], colours: int) -> dict[int, int]:
    """Proper edge colouring of a bipartite graph with max degree <= colours (König), by
    alternating-path swaps. ``edges``: (u, v) with u, v on different sides, no repeats.
    Returns edge index -> colour in 1..colours."""
    at: dict = defaultdict(dict)          # node -> colour -> (other node, edge index)
    result: dict[int, int] = {}
    for i, (u, v) in enumerate(edges):
        a = next(c for c in range(1, colours + 1) if c not in at[u])
        b = next(c for c in range(1, colours + 1) if c not in at[v])
        if a in at[v]:
            # Walk the a/b path from v and swap its colours; bipartite parity keeps u off it.
            path = []
            node, c = v, a
            while c in at[node]:
                nxt, j = at[node][c]
                path.append((node, nxt, j, c))
                node, c = nxt, (b if c == a else a)
            for x, y, j, c in path:
                del at[x][c]
                del at[y][c]
            for x, y, j, c in path:
                d = b if c == a else a
                at[x][d] = (y, j)
                at[y][d] = (x, j)
                result[j] = d
        at[u][a] = (v, i)
        at[v][a] = (u, i)
        result[i] = a
    return result


def _timetable_colouring(problem: Problem, chosen: list[_Pair]) -> list[tuple[_Pair, int, int]]:
    """Slots and tables for a selection that respects the degree bounds."""
    by_leader: dict[str, list[_Pair]] = defaultdict(list)
    for p in chosen:
        by_leader[p.leader].append(p)
    edges, owners = [], []
    for leader in sorted(by_leader):
        tables = sorted(problem.leader_tables[leader])
        # Priority and best meetings first so they are coloured first (earlier slots).
        ps = sorted(by_leader[leader], key=lambda p: (p.priority is None, -p.score, p.sme))
        for i, p in enumerate(ps):
            edges.append((("T", tables[i % len(tables)]), ("S", p.sme)))
            owners.append(p)
    colour = _colour(edges, problem.slots)
    return [(owners[i], colour[i], edges[i][0][1]) for i in range(len(edges))]


# --------------------------------------------------------------------------- ILP

def _ilp(problem: Problem, pairs: dict[tuple[str, str], _Pair], time_limit: float | None,
         place_all: bool = False, gap: float = 0.0) -> tuple[list[tuple[_Pair, int]] | None, dict]:
    """ILP over (pair, slot) variables.

    place_all: only find slots for exactly these pairs (a feasibility problem; None if there
    is no such timetable). Otherwise two lexicographic stages: priority pairs and covered
    SMEs (one integer objective), then the score with that value held; ``gap`` is the
    relative MIP gap allowed in the score stage."""
    slots = range(1, problem.slots + 1)
    blocked = {f: set(s) for f, s in problem.unavailable.items()}
    locked_cells: dict[tuple[str, int], int] = defaultdict(int)
    sme_busy: set[tuple[str, int]] = set()
    sme_count: dict[str, int] = defaultdict(int)
    for m in problem.locked:
        locked_cells[(m.leader, m.slot)] += 1
        sme_busy.add((m.sme, m.slot))
        sme_count[m.sme] += 1
    cap = {(L, s): len(t) - locked_cells[(L, s)]
           for L, t in problem.leader_tables.items() for s in slots}

    var_pair: list[tuple[str, str]] = []
    var_slot: list[int] = []
    for key, p in pairs.items():
        for s in slots:
            if (s in blocked.get(p.leader, ()) or s in blocked.get(p.sme, ())
                    or cap[(p.leader, s)] <= 0 or (p.sme, s) in sme_busy):
                continue
            var_pair.append(key)
            var_slot.append(s)
    nx_ = len(var_pair)
    if place_all and len(set(var_pair)) < len(pairs):
        return None, {}
    if nx_ == 0:
        return [], {"optimal": True, "bound": 0.0}
    cover_smes = [] if place_all else sorted({k[1] for k in var_pair} - set(sme_count))
    ny = len(cover_smes)
    n = nx_ + ny
    ypos = {s: nx_ + i for i, s in enumerate(cover_smes)}

    rows, cols, vals, lb, ub = [], [], [], [], []

    def add_row(entries, lower, upper):
        r = len(ub)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lb.append(lower)
        ub.append(upper)

    by_pair, by_leader_slot, by_sme_slot, by_sme = (defaultdict(list) for _ in range(4))
    for i, (key, s) in enumerate(zip(var_pair, var_slot)):
        by_pair[key].append(i)
        by_leader_slot[(key[0], s)].append(i)
        by_sme_slot[(key[1], s)].append(i)
        by_sme[key[1]].append(i)
    for idx in by_pair.values():
        add_row([(i, 1) for i in idx], 1 if place_all else -np.inf, 1)
    for ls, idx in sorted(by_leader_slot.items()):
        if len(idx) > cap[ls]:
            add_row([(i, 1) for i in idx], -np.inf, cap[ls])
    for idx in by_sme_slot.values():
        if len(idx) > 1:
            add_row([(i, 1) for i in idx], -np.inf, 1)
    for sme, idx in sorted(by_sme.items()):
        add_row([(i, 1) for i in idx], -np.inf, max(problem.max_per_sme - sme_count[sme], 0))
        if sme in ypos:
            add_row([(ypos[sme], 1)] + [(i, -1) for i in idx], -np.inf, 0)
    a = sp.csr_array((vals, (rows, cols)), shape=(len(ub), n))
    cons = [LinearConstraint(a, np.array(lb, dtype=float), np.array(ub, dtype=float))]
    integrality = np.r_[np.ones(nx_), np.zeros(ny)]
    bounds = Bounds(np.zeros(n), np.ones(n))
    started = time.perf_counter()
    opts = {"disp": False, "mip_rel_gap": 0.0}
    if time_limit:
        opts["time_limit"] = time_limit

    def chosen_of(x):
        return [(pairs[var_pair[i]], var_slot[i]) for i in range(nx_) if x[i] > 0.5]

    if place_all:
        r = milp(np.zeros(n), constraints=cons, integrality=integrality, bounds=bounds,
                 options=opts)
        if r.x is None:
            return None, {"optimal": r.status == 2}
        return chosen_of(r.x), {"optimal": True}

    w_cover = len(cover_smes) + 1
    c1 = np.zeros(n)
    for i, key in enumerate(var_pair):
        if pairs[key].priority:
            c1[i] = w_cover
    c1[nx_:] = 1.0
    r1 = milp(-c1, constraints=cons, integrality=integrality, bounds=bounds, options=opts)
    if r1.x is None:
        raise RuntimeError(f"pairing ILP failed: {r1.message}")
    stage12 = round(float(c1 @ r1.x))
    c2 = np.zeros(n)
    for i, key in enumerate(var_pair):
        c2[i] = max(0.0, pairs[key].score)
    cons2 = cons + [LinearConstraint(sp.csr_array(c1.reshape(1, -1)), stage12 - 0.5, np.inf)]
    if time_limit:
        opts["time_limit"] = max(1.0, time_limit - (time.perf_counter() - started))
    opts["mip_rel_gap"] = gap
    r2 = milp(-c2, constraints=cons2, integrality=integrality, bounds=bounds, options=opts)
    x = r2.x if r2.x is not None else r1.x
    # Proven optimal when HiGHS closed the gap entirely (it often does even when allowed not to).
    optimal = (r1.status == 0 and r2.status == 0
               and (gap == 0.0 or (getattr(r2, "mip_gap", None) or 0.0) <= 1e-9))
    bound = getattr(r2, "mip_dual_bound", None)
    info = {"optimal": optimal}
    if bound is not None and np.isfinite(bound):
        info["bound"] = round(-float(bound), 6)
    return chosen_of(x), info


def _assign_tables(problem: Problem, placed: list[tuple[_Pair, int]]
                   ) -> list[tuple[_Pair, int, int]]:
    """Within a slot a leader's tables are interchangeable: give each meeting a table its
    leader does not already use (locked meetings keep theirs)."""
    used = {(m.slot, m.table) for m in problem.locked}
    out = []
    for p, s in sorted(placed, key=lambda ps: (ps[1], ps[0].leader, ps[0].priority is None,
                                               -ps[0].score, ps[0].sme)):
        table = next(t for t in sorted(problem.leader_tables[p.leader]) if (s, t) not in used)
        used.add((s, table))
        out.append((p, s, table))
    return out


# --------------------------------------------------------------------------- solve

def solve(problem: Problem, method: str = "auto", time_limit: float | None = 60.0,
          gap: float = 0.0) -> Schedule:
    """The best schedule for ``problem`` (see the module docstring for the objective).

    method: ``auto``/``flow`` — min-cost flow selection; when nothing is blocked or locked it
    is timetabled by edge colouring (exact); otherwise it is a relaxation, and if its
    selection fits the blocked slots (a small feasibility ILP) it is optimal, else the full
    ILP runs. ``ilp`` — the full two-stage ILP directly. ``time_limit`` (seconds) bounds each
    ILP; ``gap`` is the relative MIP gap allowed in the ILP's score stage. If the ILP stops
    early the best schedule found is returned with ``stats["optimal"] = False``.
    """
    started = time.perf_counter()
    _check(problem)
    pairs, unplaced = _pairs(problem)
    involved = {p.leader for p in pairs.values()} | {p.sme for p in pairs.values()}
    constrained = bool(problem.locked) or any(
        problem.unavailable.get(f) for f in involved)
    info: dict = {}
    if method == "auto":
        method = "flow"
    if method == "flow":
        chosen, value = _select_flow(problem, pairs)
        info = {"bound": value[2]}
        if not constrained:
            placed = _timetable_colouring(problem, chosen)
            info["optimal"] = True
        else:
            # The flow ignores which slots are blocked, so its value bounds every schedule:
            # if its selection can be timetabled, that timetable is optimal.
            chosen_slots, _ = _ilp(problem, {(p.leader, p.sme): p for p in chosen},
                                   time_limit, place_all=True)
            if chosen_slots is None:
                method = "ilp"
                # The full ILP proves slowly (slots are symmetric); 0.1 % of the score is
                # far below what a ranker can tell apart.
                gap = max(gap, 1e-3)
            else:
                placed = _assign_tables(problem, chosen_slots)
                info["optimal"] = True
                method = "flow+timetable"
    if method == "ilp":
        relaxed = info.get("bound")
        chosen_slots, info = _ilp(problem, pairs, time_limit, gap=gap)
        if relaxed is not None:
            info["flow_bound"] = relaxed
        placed = _assign_tables(problem, chosen_slots)
    elif method not in ("flow", "flow+timetable"):
        raise ValueError(f"unknown method {method!r}")
    meetings = list(problem.locked) + [
        Meeting(s, t, p.leader, p.sme, p.demand_id, p.score, p.priority or "pairing", p.reasons)
        for p, s, t in placed]
    sched = _finish(problem, pairs, meetings, unplaced)
    sched.stats.update(info)
    sched.stats["method"] = method
    sched.stats["seconds"] = round(time.perf_counter() - started, 4)
    return sched


def objective(problem: Problem, meetings: Sequence[Meeting]) -> tuple[int, int, float]:
    """(priority pairs met, SMEs with a meeting, total score) — the lexicographic objective
    of a set of meetings, for comparison and reporting."""
    prio = {_norm_triple(t)[:2] for t in list(problem.must_meet) + list(problem.accepted)}
    pairs = {(m.leader, m.sme) for m in meetings}
    return (len(prio & pairs), len({m.sme for m in meetings}),
            round(sum(m.score for m in meetings), 9))


def _finish(problem: Problem, pairs: dict[tuple[str, str], _Pair], meetings: list[Meeting],
            unplaced: list[Unplaced]) -> Schedule:
    meetings.sort(key=lambda m: (m.slot, m.table))
    busy_cells = {(m.slot, m.table) for m in meetings}
    open_cells = [(s, t, L) for s in range(1, problem.slots + 1)
                  for L, tables in sorted(problem.leader_tables.items()) for t in sorted(tables)
                  if (s, t) not in busy_cells and s not in problem.unavailable.get(L, ())]
    open_cells.sort()
    met = {(m.leader, m.sme) for m in meetings}
    sme_slots: dict[str, set[int]] = defaultdict(set)
    leader_slots: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for m in meetings:
        sme_slots[m.sme].add(m.slot)
        leader_slots[m.leader][m.slot] += 1
    all_slots = set(range(1, problem.slots + 1))
    k = problem.max_per_sme

    def why(leader: str, sme: str) -> str:
        if leader not in problem.leader_tables:
            return REASONS["leader_absent"]
        if sme not in set(problem.smes):
            return REASONS["sme_absent"]
        if len(sme_slots[sme]) >= k:
            return REASONS["sme_quota"].format(k=k)
        sme_free = all_slots - set(problem.unavailable.get(sme, ())) - sme_slots[sme]
        if not sme_free:
            return REASONS["sme_full"]
        n_tables = len(problem.leader_tables[leader])
        leader_free = {s for s in all_slots - set(problem.unavailable.get(leader, ()))
                       if leader_slots[leader][s] < n_tables}
        if not leader_free:
            return REASONS["leader_full"]
        if not sme_free & leader_free:
            return REASONS["no_common_slot"]
        return REASONS["outranked"]

    excluded = {tuple(p)[:2] for p in problem.excluded}
    for key, p in pairs.items():
        if p.priority and key not in met:
            unplaced.append(Unplaced(p.leader, p.sme, p.demand_id, p.priority,
                                     why(p.leader, p.sme)))
    for t in problem.pending:
        leader, sme, demand = _norm_triple(t)
        if (leader, sme) in met:
            continue
        if (leader, sme) in excluded:
            reason = REASONS["declined"]
        elif (leader, sme) not in pairs and leader in problem.leader_tables and sme in set(problem.smes):
            reason = REASONS["below_floor"]
        else:
            reason = why(leader, sme)
        unplaced.append(Unplaced(leader, sme, demand, "pending", reason))

    matched = {m.sme for m in meetings}
    unmatched = sorted(s for s in set(problem.smes) if s not in matched)
    best: dict[str, float] = {}
    for p in pairs.values():
        if p.sme not in matched:
            best[p.sme] = max(best.get(p.sme, -math.inf), p.score)
    waitlist = sorted(best, key=lambda s: (-best[s], s))
    prio, covered, total = objective(problem, meetings)
    stats = {
        "meetings": len(meetings),
        "priority_placed": prio,
        "priority_total": sum(1 for p in pairs.values() if p.priority) + sum(
            1 for u in unplaced if u.kind != "pending" and (u.leader, u.sme) not in pairs),
        "smes_met": covered,
        "smes_relevant": len({p.sme for p in pairs.values()} | {m.sme for m in problem.locked}),
        "total_score": round(total, 6),
        "open_cells": len(open_cells),
    }
    return Schedule(meetings, open_cells, unplaced, unmatched, waitlist, stats)


# --------------------------------------------------------------------------- on the day

def repair(problem: Problem, schedule: Schedule, absent: Collection[str] = (),
           from_slot: int = 1, present: Collection[str] | None = None,
           time_limit: float | None = 30.0) -> tuple[Schedule, list[Meeting]]:
    """Re-pair the cells freed on the day, moving nobody else.

    absent: firms marked no-show; their meetings from ``from_slot`` on are cancelled (and
    returned as the second element). Every other meeting of ``schedule`` stays exactly where
    it is, as do all meetings before ``from_slot`` (they are past). Freed and still-open cells
    from ``from_slot`` on are filled from the waitlist — SMEs not yet met by that leader,
    above the floor, within K — unmet SMEs first (the same objective as :func:`solve`).
    present: if given, only these SMEs (checked in) get new meetings.
    Returns (new schedule, cancelled meetings); new meetings have kind ``repair``.
    """
    absent = set(absent)
    cancelled = [m for m in schedule.meetings
                 if m.slot >= from_slot and (m.leader in absent or m.sme in absent)]
    gone = set(cancelled)
    kept = [m for m in schedule.meetings if m not in gone]
    kept_kind = {(m.slot, m.table): m.kind for m in kept}
    past = set(range(1, min(from_slot, problem.slots + 1)))
    everyone = set(range(1, problem.slots + 1))
    unavailable = {f: set(problem.unavailable.get(f, ())) | past
                   for f in set(problem.leader_tables) | set(problem.smes)}
    for f in absent:
        unavailable[f] = everyone
    if present is not None:
        for s in problem.smes:
            if s not in present:
                unavailable[s] = everyone
    sub = replace(problem, locked=[replace(m, kind="locked") for m in kept],
                  unavailable=unavailable)
    fixed = solve(sub, method="ilp", time_limit=time_limit)
    # Kept meetings keep their original kind; the rest are new.
    fixed.meetings = [replace(m, kind=kept_kind.get((m.slot, m.table), "repair"))
                      for m in fixed.meetings]
    fixed.stats["cancelled"] = len(cancelled)
    fixed.stats["repaired"] = len(fixed.meetings) - len(kept)
    return fixed, cancelled
