"""Industrial-chain graph and personalised PageRank.

Nodes: ``chain:<链>``, ``seg:<链>/<环节>``, ``term:<术语>``, ``firm:<信用代码>``. Firms hang
off the chains and segments they declare and the taxonomy terms found in their text; firm-firm
relations add weighted edges (竞争 is not an endorsement and adds none). A demand is not a
node: it is a restart distribution over its leader, its chains, the segments and terms its
text evokes, so a demand posted a second ago is ranked without touching the graph.

The graph is built with networkx (readable, testable), turned ONCE into a row-normalised
scipy CSR matrix, and PageRank is run by our own power iteration on it: ``nx.pagerank`` per
request would rebuild that matrix every time (seconds at 100k nodes).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp

__all__ = ["RELATION_WEIGHTS", "personalized_pagerank", "transition_matrix", "ChainGraph"]

# How much a past relation says that two firms work in the same business.
RELATION_WEIGHTS = {"供应": 1.0, "签约": 1.0, "合作研发": 0.8, "对接意向": 0.5, "控股": 0.4,
                    "投资": 0.3, "竞争": 0.0}


def transition_matrix(graph: nx.Graph, nodelist: Sequence, weight: str = "weight"):
    """Row-stochastic CSR matrix of ``graph`` and the mask of dangling rows."""
    adj = nx.to_scipy_sparse_array(graph, nodelist=nodelist, weight=weight, format="csr",
                                   dtype=np.float64)
    adj = sp.csr_matrix(adj)
    out = np.asarray(adj.sum(axis=1)).ravel()
    dangling = out == 0
    inv = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out))
    return sp.csr_matrix(sp.diags(inv) @ adj), dangling


def personalized_pagerank(P_T: sp.csr_matrix, dangling: np.ndarray, seed: np.ndarray,
                          alpha: float = 0.85, tol: float = 1e-6, max_iter: int = 100) -> np.ndarray:
    """Power iteration of PageRank with restart distribution ``seed``.

    ``P_T`` is the TRANSPOSE of the row-stochastic transition matrix (so one step is a plain
    matrix-vector product). Dangling nodes jump back to the seed, as networkx does, so the
    result equals ``nx.pagerank(G, alpha, personalization=seed)`` up to ``tol``.
    """
    n = P_T.shape[0]
    s = np.asarray(seed, dtype=np.float64)
    total = s.sum()
    if total <= 0:
        return np.zeros(n)
    s = s / total
    x = s.copy()
    has_dangling = bool(dangling.any())
    for _ in range(max_iter):
        last = x
        x = P_T @ last
        if has_dangling:
            x = x + last[dangling].sum() * s
        x = alpha * x + (1.0 - alpha) * s
        if np.abs(x - last).sum() < n * tol:
            break
    return x


def _node_firm(code: str) -> str:
    return f"firm:{code}"


class ChainGraph:
    """The chain -> segment -> term -> firm graph with firm-firm relations.

    ``firm_terms`` gives, per firm, the taxonomy terms found in its text (the Matcher finds
    them with its tokenizer); ``taxonomy`` is anything with ``.chains`` /``segments_for_term``
    (see matchmaker.taxonomy) or None.
    """

    def __init__(self, alpha: float = 0.85, tol: float = 1e-6, max_iter: int = 50,
                 relation_weights: Mapping[str, float] | None = None):
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.relation_weights = dict(relation_weights or RELATION_WEIGHTS)

    # -- building ------------------------------------------------------------------------
    def fit(self, firms: Sequence[dict], relations: Sequence[dict],
            firm_terms: Sequence[Iterable[str]] | None = None,
            term_segments: Mapping[str, Iterable[tuple[str, str]]] | None = None,
            firm_segments: Sequence[Iterable[tuple[str, str]]] | None = None) -> "ChainGraph":
        g = nx.Graph()
        codes = [f["credit_code"] for f in firms]
        known = set(codes)
        g.add_nodes_from(_node_firm(c) for c in codes)

        def add(u, v, w):
            if w <= 0 or u == v:
                return
            if g.has_edge(u, v):
                g[u][v]["weight"] += w
            else:
                g.add_edge(u, v, weight=w)

        for i, f in enumerate(firms):
            fn = _node_firm(f["credit_code"])
            chains = f.get("chains") or []
            for ch in chains:
                add(fn, f"chain:{ch}", 1.0)
                for seg in f.get("segments") or []:
                    add(fn, f"seg:{ch}/{seg}", 1.0)
                    add(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
            if firm_segments is not None:
                # the taxonomy segments that the firm's own labels name
                for ch, seg in firm_segments[i]:
                    add(fn, f"seg:{ch}/{seg}", 1.0)
                    add(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
            if firm_terms is not None:
                for t in firm_terms[i]:
                    add(fn, f"term:{t}", 0.5)
        if term_segments:
            for t, segs in term_segments.items():
                if not g.has_node(f"term:{t}"):
                    continue
                for ch, seg in segs:
                    add(f"term:{t}", f"seg:{ch}/{seg}", 0.5)
                    add(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
        for r in relations:
            a, b = r.get("firm_a"), r.get("firm_b")
            if a in known and b in known:
                add(_node_firm(a), _node_firm(b), self.relation_weights.get(r.get("relation", ""), 0.3))
        self.graph_ = g
        self._compile()
        return self

    def _compile(self) -> None:
        self.nodes_ = list(self.graph_.nodes)
        self.node_index_ = {n: i for i, n in enumerate(self.nodes_)}
        P, self.dangling_ = transition_matrix(self.graph_, self.nodes_)
        self.P_T_ = sp.csr_matrix(P.T)
        self.firm_rows_ = {n[5:]: i for i, n in enumerate(self.nodes_) if n.startswith("firm:")}

    def add_firm(self, firm: dict, terms: Iterable[str] = ()) -> None:
        """Attach a new firm. The compiled matrix is not rebuilt: the new node's score is read
        from its neighbours (:meth:`neighbour_score`) until the next fit."""
        fn = _node_firm(firm["credit_code"])
        self.graph_.add_node(fn)
        for ch in firm.get("chains") or []:
            self.graph_.add_edge(fn, f"chain:{ch}", weight=1.0)
            for seg in firm.get("segments") or []:
                self.graph_.add_edge(fn, f"seg:{ch}/{seg}", weight=1.0)
        for t in terms:
            self.graph_.add_edge(fn, f"term:{t}", weight=0.5)

    # -- querying ------------------------------------------------------------------------
    def seed_vector(self, seeds: Mapping[str, float]) -> np.ndarray:
        s = np.zeros(len(self.nodes_))
        for node, w in seeds.items():
            i = self.node_index_.get(node)
            if i is not None:
                s[i] += w
        return s

    def pagerank(self, seeds: Mapping[str, float]) -> np.ndarray:
        return personalized_pagerank(self.P_T_, self.dangling_, self.seed_vector(seeds),
                                     self.alpha, self.tol, self.max_iter)

    def neighbour_score(self, pr: np.ndarray, code: str) -> float:
        """Approximate PPR of a firm added after compiling: one step from its neighbours."""
        fn = _node_firm(code)
        if fn not in self.graph_:
            return 0.0
        total = 0.0
        for nb, data in self.graph_[fn].items():
            j = self.node_index_.get(nb)
            if j is not None:
                deg = self.graph_.degree(nb, weight="weight") or 1.0
                total += self.alpha * pr[j] * data.get("weight", 1.0) / deg
        return total

    def firm_scores(self, pr: np.ndarray, codes: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(codes))
        for k, c in enumerate(codes):
            i = self.firm_rows_.get(c)
            out[k] = pr[i] if i is not None else self.neighbour_score(pr, c)
        return out

    def firm_index_array(self, codes: Sequence[str]) -> np.ndarray:
        """Row of each firm in the compiled matrix (-1 when added later)."""
        return np.array([self.firm_rows_.get(c, -1) for c in codes], dtype=np.int64)

    def path(self, seeds: Mapping[str, float], code: str, max_len: int = 4) -> list[str]:
        """Shortest path from any seed node to the firm, as node names."""
        fn = _node_firm(code)
        best: list[str] | None = None
        for node in seeds:
            if node not in self.graph_ or fn not in self.graph_:
                continue
            try:
                p = nx.shortest_path(self.graph_, node, fn)
            except nx.NetworkXNoPath:
                continue
            if len(p) <= max_len + 1 and (best is None or len(p) < len(best)):
                best = p
        return best or []
