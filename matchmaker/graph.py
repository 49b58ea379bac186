"""Industrial-chain graph and personalised PageRank.

Nodes: ``chain:<链>``, ``seg:<链>/<环节>``, ``term:<术语>``, ``firm:<信用代码>``. Firms hang
off the chains and segments they declare and the taxonomy terms found in their text; firm-firm
relations add weighted edges (竞争 is not an endorsement and adds none). A demand is not a
node: it is a restart distribution over its leader, its chains, the segments and terms its
text evokes, so a demand posted a second ago is ranked without touching the graph.

The chain -> segment -> term skeleton (a few thousand nodes) is a networkx graph; the firms'
edges (millions at 200k firms: one networkx ``add_edge`` each took 30 s) go straight into
COO arrays. Both are turned ONCE into one row-normalised scipy CSR matrix, and PageRank is run
by our own power iteration on it: ``nx.pagerank`` per request would rebuild that matrix every
time (seconds at 100k nodes). Firms added after fitting are kept beside it (``extra_``) and
scored from their neighbours until the next fit.
"""
from __future__ import annotations

import concurrent.futures
import weakref
from array import array
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .records import Keys, with_positions
from .workers import per_process, run

__all__ = ["RELATION_WEIGHTS", "personalized_pagerank", "transition_matrix", "ChainGraph"]


def _coo_tocsr_numpy(n_row, n_col, nnz, rows, cols, data, indptr, indices, out):
    """scipy's coo_tocsr in public numpy: entries put in row order, keeping their order
    within a row (a stable sort), repeats not summed."""
    order = np.argsort(rows[:nnz], kind="stable")
    indices[:] = cols[order]
    out[:] = data[order]
    indptr[0] = 0
    np.cumsum(np.bincount(rows[:nnz], minlength=n_row), out=indptr[1:])


def _csr_tocsc_numpy(n_row, n_col, indptr, indices, data, ptr_t, rows_t, out):
    """scipy's csr_tocsc in public numpy: each column's entries in row order."""
    order = np.argsort(indices, kind="stable")
    rows_t[:] = np.repeat(np.arange(n_row, dtype=rows_t.dtype), np.diff(indptr))[order]
    out[:] = data[order]
    ptr_t[0] = 0
    np.cumsum(np.bincount(indices, minlength=n_col), out=ptr_t[1:])


try:  # scipy's C kernels, private: they need no int64 sort index over every edge, as numpy does
    from scipy.sparse._sparsetools import coo_tocsr as _coo_tocsr
    from scipy.sparse._sparsetools import csr_tocsc as _csr_tocsc
except ImportError:  # pragma: no cover - a scipy that moved them: the same result in numpy
    _coo_tocsr, _csr_tocsc = _coo_tocsr_numpy, _csr_tocsc_numpy

# How much a past relation says that two firms work in the same business.
RELATION_WEIGHTS = {"供应": 1.0, "签约": 1.0, "合作研发": 0.8, "对接意向": 0.5, "控股": 0.4,
                    "投资": 0.3, "竞争": 0.0}


def transition_matrix(graph: nx.Graph, nodelist: Sequence, weight: str = "weight"):
    """Row-stochastic CSR matrix of ``graph`` and the mask of dangling rows."""
    adj = nx.to_scipy_sparse_array(graph, nodelist=nodelist, weight=weight, format="csr",
                                   dtype=np.float64)
    return _row_stochastic(sp.csr_matrix(adj))


def _inverse_out_degree(adj: sp.csr_matrix) -> np.ndarray:
    out = np.asarray(adj.sum(axis=1)).ravel()
    dangling = out == 0
    return np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out))


def _row_stochastic(adj: sp.csr_matrix):
    inv = _inverse_out_degree(adj)
    return sp.csr_matrix(sp.diags(inv) @ adj), inv == 0


def _symmetric_adjacency(edges: list, n: int) -> sp.csr_matrix:
    """The n x n CSR matrix of undirected edges ``edges`` = [us, vs, ws] (int32 and float64
    buffers, taken out of the list and freed as they are used): each edge both ways, repeated
    edges summed. Equal to the bit to ``csr_matrix((ws + ws, (us + vs, vs + us)))`` (then
    ``sum_duplicates``), without its float64 copies: the edges are put in row order by
    scipy's coo_tocsr, as that constructor does, carrying one-byte codes of the few distinct
    weights, which are looked up afterwards (1 GiB less at the fit's peak at 1M firms)."""
    us, vs, ws = edges
    edges.clear()
    m = len(us)
    if m == 0:
        return sp.csr_matrix((n, n), dtype=np.float64)
    idx_t = np.int32 if 2 * m < 2 ** 31 and n < 2 ** 31 else np.int64
    rows = np.concatenate([np.frombuffer(us, dtype=np.int32), np.frombuffer(vs, dtype=np.int32)]).astype(idx_t, copy=False)
    us = vs = None
    cols = np.concatenate([rows[m:], rows[:m]])
    w = np.frombuffer(ws, dtype=np.float64)
    piece = 1 << 22
    vals = np.unique(np.concatenate([np.unique(w[lo:lo + piece]) for lo in range(0, m, piece)]))
    if len(vals) <= 256:
        code = np.empty(2 * m, dtype=np.uint8)
        for lo in range(0, m, piece):
            hi = min(m, lo + piece)
            code[lo:hi] = np.searchsorted(vals, w[lo:hi])
        code[m:] = code[:m]
    else:
        code, vals = np.concatenate([w, w]), None
    w = ws = None
    indptr = np.empty(n + 1, dtype=idx_t)
    indices = np.empty(2 * m, dtype=idx_t)
    placed = np.empty(2 * m, dtype=code.dtype)
    _coo_tocsr(n, n, 2 * m, rows, cols, code, indptr, indices, placed)
    del rows, cols, code
    data = vals[placed] if vals is not None else placed
    del placed
    adj = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    del data, indices, indptr
    # sorted, then the repeats summed in place: what the constructor does after coo_tocsr
    adj.sum_duplicates()
    return adj


def _transposed_stochastic(adj: sp.csr_matrix, inv: np.ndarray) -> sp.csr_matrix:
    """``(diag(inv) @ adj).T`` as CSR for a structurally symmetric ``adj`` (each edge stored
    both ways), equal to the bit: entry (j, i) is ``inv[i] * adj[i, j]``, the one product the
    sparse product makes. Its indices and indptr are ``adj``'s own (shared, not copied), and
    neither the product nor a transposed copy is built (at 1M firms each was 0.36 GiB on top
    of everything else, the fit's peak). Where adj[i, j] sits is read from a transposition of
    entry numbers (int32)."""
    n, nnz = adj.shape[0], adj.nnz
    idx_t = adj.indices.dtype
    # partner[k]: the position of entry (i, j) for the entry k at (j, i) (CSC order of
    # adj = CSR order of adj.T, which has adj's structure)
    ptr_t = np.empty(n + 1, dtype=idx_t)
    rows_t = np.empty(nnz, dtype=idx_t)
    partner = np.empty(nnz, dtype=idx_t)
    _csr_tocsc(n, n, adj.indptr.astype(idx_t, copy=False), adj.indices, np.arange(nnz, dtype=idx_t),
               ptr_t, rows_t, partner)
    if not (np.array_equal(ptr_t, adj.indptr) and np.array_equal(rows_t, adj.indices)):
        # not symmetric in structure: the product and its transpose
        P = sp.csr_matrix(sp.diags(inv) @ adj)
        return sp.csr_matrix(P.T)
    del ptr_t, rows_t
    data = np.empty(nnz, dtype=np.float64)
    for lo in range(0, nnz, 1 << 22):
        hi = min(nnz, lo + (1 << 22))
        np.multiply(inv[adj.indices[lo:hi]], adj.data[partner[lo:hi]], out=data[lo:hi])
    del partner
    out = sp.csr_matrix(adj.shape, dtype=np.float64)
    out.data, out.indices, out.indptr = data, adj.indices, adj.indptr
    out.has_sorted_indices = True
    return out


# A step from a vector whose nonzeros' out-edges are fewer than this share of the matrix
# gathers those edges instead of a pass over the whole matrix (gathering costs ~9x more per
# edge than the CSR product: measured on the 200k-firm graph, 6.3M edges).
_GATHER_SHARE = 0.1


# A product over the whole graph (6.3M edges at 200k firms, ~4 ms) is computed as two row
# blocks at once, one on a helper thread when there is a second core: each row's sum is the
# same, in the same order. One helper per process (a forked child has none of its parent's
# threads); its jobs wait for nothing, so callers waiting for them cannot deadlock.
_SPLIT_NNZ = 1 << 20
_HELPER: list = [None, None]  # [pid, executor]


def _helper() -> concurrent.futures.ThreadPoolExecutor | None:
    return per_process(_HELPER, 1, "pagerank")


class RowSplit:
    """``mat @ x`` for the first ``rows`` rows of a CSR matrix (all by default), computed as
    two row blocks of about half its entries each (views of its arrays), the first on the
    helper thread. Equal to the bit to the one product: a row's sum does not depend on which
    thread adds it."""

    def __init__(self, mat: sp.csr_matrix, rows: int | None = None):
        rows = mat.shape[0] if rows is None else rows
        ptr = mat.indptr
        mid = int(np.searchsorted(ptr[:rows + 1], ptr[rows] // 2))
        self.blocks = []
        for lo, hi in ((0, mid), (mid, rows)):
            a, b = int(ptr[lo]), int(ptr[hi])
            blk = sp.csr_matrix((hi - lo, mat.shape[1]), dtype=mat.dtype)
            # arrays set directly: views, never a copy of the graph's edges
            blk.data, blk.indices = mat.data[a:b], mat.indices[a:b]
            blk.indptr = (ptr[lo:hi + 1] - ptr[lo]).astype(ptr.dtype, copy=False)
            self.blocks.append(blk)
        self.whole = mat if rows == mat.shape[0] else None
        self.split = ptr[rows] >= _SPLIT_NNZ

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        pool = _helper() if self.split else None
        if pool is None:
            return self.whole @ x if self.whole is not None else np.concatenate([b @ x for b in self.blocks])
        first = run(pool, self.blocks[0].__matmul__, x)
        second = self.blocks[1] @ x
        return np.concatenate([first.result(), second])


def _step(P_T: sp.csr_matrix, x: np.ndarray, out_edges, full=None) -> np.ndarray:
    """``P_T @ x``, the same to the last bit. With ``out_edges`` = (adj, inv) (P = diag(inv)
    @ adj, so P_T[i, j] = inv[j] * adj[j, i]) and few nonzeros in ``x``, only the edges of
    those nonzeros are read: a restart vector of a few seeds, or one step from them, touches
    a small part of a 200k-node graph. Each product is the one P_T holds, and np.bincount adds
    them into each row in the order of j, from 0.0, as the CSR product does."""
    if out_edges is not None:
        adj, inv = out_edges
        nz = np.flatnonzero(x)
        counts = adj.indptr[nz + 1] - adj.indptr[nz]
        if int(counts.sum()) <= _GATHER_SHARE * P_T.nnz:
            sub = adj[nz]                                   # rows in ascending order
            w = sub.data * np.repeat(inv[nz], counts)       # = P_T[i, j], as stored
            w *= np.repeat(x[nz], counts)
            return np.bincount(sub.indices, weights=w, minlength=len(x))
    return (P_T if full is None else full) @ x


def personalized_pagerank(P_T: sp.csr_matrix, dangling: np.ndarray, seed: np.ndarray,
                          alpha: float = 0.85, tol: float = 1e-6, max_iter: int = 100,
                          out_edges=None, rows: int | None = None, split=None) -> np.ndarray:
    """Power iteration of PageRank with restart distribution ``seed``.

    ``P_T`` is the TRANSPOSE of the row-stochastic transition matrix (so one step is a plain
    matrix-vector product). Dangling nodes jump back to the seed, as networkx does, so the
    result equals ``nx.pagerank(G, alpha, personalization=seed)`` up to ``tol``.

    Two shortcuts give the same numbers: ``out_edges`` (see ``_step``) lets the first steps
    from a sparse seed read only the edges they use; ``rows`` asks for the first ``rows``
    entries only (the firms, which come first in a ChainGraph), and then the last step is
    computed for those rows alone. The last step is known in advance: a step shrinks the L1
    change by at least ``alpha`` (P_T is column-stochastic, dangling mass goes to the seed),
    so once ``alpha`` times the last change is under the tolerance, the next step stops.
    ``split``: a function giving the :class:`RowSplit` of ``P_T``'s first ``rows`` rows (of
    all rows for None), by which the products over the whole graph are computed (the same
    numbers, on two threads).
    """
    n = P_T.shape[0]
    s = np.asarray(seed, dtype=np.float64)
    total = s.sum()
    if total <= 0:
        return np.zeros(n if rows is None else rows)
    s = s / total
    x = s.copy()
    has_dangling = bool(dangling.any())
    limit = n * tol
    # rounding in the sums of the changes is far below this margin
    sure = limit * (1.0 - 1e-9) - 1e-12
    change = None
    for it in range(max_iter):
        last = x
        if rows is not None and (it == max_iter - 1 or (change is not None and alpha * change < sure)):
            if split is not None:
                x = split(rows) @ last
            else:
                head = sp.csr_matrix((P_T.data[:P_T.indptr[rows]], P_T.indices[:P_T.indptr[rows]],
                                      P_T.indptr[:rows + 1]), shape=(rows, n), copy=False)
                x = head @ last
            if has_dangling:
                x = x + last[dangling].sum() * s[:rows]
            return alpha * x + (1.0 - alpha) * s[:rows]
        x = _step(P_T, last, out_edges, None if split is None else split(None))
        if has_dangling:
            x = x + last[dangling].sum() * s
        x = alpha * x + (1.0 - alpha) * s
        change = np.abs(x - last).sum()
        if change < limit:
            break
    return x if rows is None else x[:rows]


def _node_firm(code: str) -> str:
    return f"firm:{code}"


class ChainGraph:
    """The chain -> segment -> term -> firm graph with firm-firm relations.

    ``firm_terms`` gives, per firm, the taxonomy terms found in its text (the Matcher finds
    them with its tokenizer); ``taxonomy`` is anything with ``.chains`` /``segments_for_term``
    (see matchmaker.taxonomy) or None.
    """

    # tol: the iteration stops once the L1 change would fall under n_nodes * tol (networkx's
    # rule). 3e-6 rather than networkx's 1e-6: from ~170k nodes on (alpha 0.5) that is two
    # products, the seeds' step and the firms' rows, instead of three; a graph of 1M firms
    # stopped there already at 1e-6. The third product (~11 ms of CPU at 200k firms, most of
    # a first ranking's PageRank) moved 0.1 % of the top 20 (300 demands at 200k firms); a
    # small graph stops one or two steps earlier at alpha 0.5 (the judged sets' nDCG@10 the
    # same; see docs/benchmarks.md).
    def __init__(self, alpha: float = 0.85, tol: float = 3e-6, max_iter: int = 50,
                 relation_weights: Mapping[str, float] | None = None):
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.relation_weights = dict(relation_weights or RELATION_WEIGHTS)

    # -- building ------------------------------------------------------------------------
    def fit(self, firms: Sequence[dict], relations: Sequence[dict],
            firm_terms: Sequence[Iterable[str]] | None = None,
            term_segments: Mapping[str, Iterable[tuple[str, str]]] | None = None,
            firm_segments: Sequence[Iterable[tuple[str, str]]] | None = None,
            codes: Sequence[str] | None = None) -> "ChainGraph":
        """``codes``: the firms' credit codes in order, when the caller has them (else read
        from ``firms``)."""
        # Node ids in order of first appearance (firms first), as networkx would list them.
        # The firm nodes are 0 .. n_firm_nodes_ - 1 (node_mask skips them), found through
        # their codes (records.Keys: no Python string or dict entry per firm); ``index`` holds
        # the other nodes (chains, segments, terms: a few thousand).
        if codes is None:
            codes = [f["credit_code"] for f in firms]
        self._codes = codes = Keys(codes)
        first = codes.first_positions()
        is_first = first == np.arange(len(codes))
        node_of = np.cumsum(is_first) - 1
        idx_t = np.int32 if len(codes) < 2 ** 31 else np.int64
        self._firm_node = node_of[first].astype(idx_t)        # firm position -> node
        self._node_firm = np.flatnonzero(is_first).astype(idx_t)  # firm node -> position
        del first, is_first, node_of
        n_firm = self.n_firm_nodes_ = len(self._node_firm)
        firm_node = self._firm_node.tolist()
        index: dict[str, int] = {}
        skeleton = nx.Graph()
        # int32 ids, float64 weights (as the adjacency holds them)
        us, vs, ws = array("i"), array("i"), array("d")

        def nid(name):
            i = index.get(name)
            if i is None:
                i = index[name] = n_firm + len(index)
            return i

        def add_firm_edge(fi, v, w):
            # v is a chain, segment or term node, never the firm itself
            us.append(fi)
            vs.append(nid(v))
            ws.append(w)

        def add_skeleton_edge(u, v, w):
            nid(u)
            nid(v)
            if skeleton.has_edge(u, v):
                skeleton[u][v]["weight"] += w
            else:
                skeleton.add_edge(u, v, weight=w)

        for i, f in enumerate(firms):
            fi = firm_node[i]
            chains = f.get("chains") or []
            for ch in chains:
                add_firm_edge(fi, f"chain:{ch}", 1.0)
                for seg in f.get("segments") or []:
                    add_firm_edge(fi, f"seg:{ch}/{seg}", 1.0)
                    add_skeleton_edge(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
            if firm_segments is not None:
                # the taxonomy segments that the firm's own labels name
                for ch, seg in firm_segments[i]:
                    add_firm_edge(fi, f"seg:{ch}/{seg}", 1.0)
                    add_skeleton_edge(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
            if firm_terms is not None:
                for t in firm_terms[i]:
                    add_firm_edge(fi, f"term:{t}", 0.5)
        del firm_node
        if term_segments:
            for t, segs in term_segments.items():
                if f"term:{t}" not in index:
                    continue
                for ch, seg in segs:
                    add_skeleton_edge(f"term:{t}", f"seg:{ch}/{seg}", 0.5)
                    add_skeleton_edge(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
        def first_of(keys):
            return codes.find_many(keys, first=True)
        for _, r, a, b in with_positions(relations, first_of, ("firm_a", "firm_b")):
            if a >= 0 and b >= 0:
                a, b = int(self._firm_node[a]), int(self._firm_node[b])
                if a != b:
                    w = self.relation_weights.get(r.get("relation", ""), 0.3)
                    if w > 0:
                        us.append(a)
                        vs.append(b)
                        ws.append(w)
        for u, v, w in skeleton.edges(data="weight"):  # no self-loops: seg-chain, term-seg
            us.append(index[u])
            vs.append(index[v])
            ws.append(w)
        self._names = list(index)  # the nodes after the firms, in id order
        self.nodes_ = _Nodes(self)
        self.node_index_ = _NodeIndex(self, index)
        n = n_firm + len(index)
        # undirected: each edge both ways; repeated edges add up, as their weights did. The
        # builders' buffers are released as soon as copied: at 1M firms these temporaries
        # were the fit's peak.
        edges = [us, vs, ws]
        us = vs = ws = None  # (the edge helpers above still name them; the list is left the only holder)
        self._compile(_symmetric_adjacency(edges, n))
        return self

    def _compile(self, adj: sp.csr_matrix) -> None:
        self.adj_ = adj
        self.degree_ = np.asarray(adj.sum(axis=1)).ravel()
        # P = diag(inv) @ adj: the out-edges of a node, which a step from a sparse vector reads
        self.inv_out_ = inv = _inverse_out_degree(adj)
        self.dangling_ = inv == 0
        self.P_T_ = _transposed_stochastic(adj, inv)
        self.extra_: dict[str, dict[str, float]] = {}
        self.extra_degree_: dict[str, float] = {}

    def add_firm(self, firm: dict, terms: Iterable[str] = ()) -> None:
        """Attach a new firm. The compiled matrix is not rebuilt: the new node's score is read
        from its neighbours (:meth:`neighbour_score`) until the next fit."""
        fn = _node_firm(firm["credit_code"])
        edges: dict[str, float] = {}
        for ch in firm.get("chains") or []:
            edges[f"chain:{ch}"] = 1.0
            for seg in firm.get("segments") or []:
                edges[f"seg:{ch}/{seg}"] = 1.0
        for t in terms:
            edges[f"term:{t}"] = 0.5
        known = self.extra_.setdefault(fn, {})
        for nb, w in edges.items():
            # an edge added again replaces its weight (as networkx's add_edge does)
            self.extra_degree_[nb] = self.extra_degree_.get(nb, 0.0) + w - known.get(nb, 0.0)
            known[nb] = w

    def node_mask(self, prefixes: tuple[str, ...]) -> np.ndarray:
        """Boolean mask of the compiled nodes whose name starts with one of ``prefixes``
        ("seg:", "term:"...), kept. Only the nodes after the firms are read unless "firm:" is
        asked for: a few thousand names instead of 200k."""
        masks = self.__dict__.setdefault("_masks", {})
        mask = masks.get(prefixes)
        if mask is None:
            start = 0 if any(p.startswith("firm") for p in prefixes) else self.n_firm_nodes_
            mask = np.zeros(len(self.nodes_), dtype=bool)
            mask[start:] = [n.startswith(prefixes) for n in self.nodes_[start:]]
            masks[prefixes] = mask
        return mask

    def neighbours(self, node: str) -> dict[str, float]:
        """Neighbour -> edge weight, later-added firms included."""
        out: dict[str, float] = {}
        i = self.node_index_.get(node)
        if i is not None:
            lo, hi = self.adj_.indptr[i], self.adj_.indptr[i + 1]
            for j, w in zip(self.adj_.indices[lo:hi].tolist(), self.adj_.data[lo:hi].tolist()):
                out[self.nodes_[j]] = w
        for fn, edges in self.extra_.items():
            if fn == node:
                out.update(edges)
            elif node in edges:
                out[fn] = edges[node]
        return out

    def has_edge(self, u: str, v: str) -> bool:
        i, j = self.node_index_.get(u), self.node_index_.get(v)
        if i is not None and j is not None:
            row = self.adj_.indices[self.adj_.indptr[i]:self.adj_.indptr[i + 1]]  # sorted
            k = int(np.searchsorted(row, j))
            if k < len(row) and row[k] == j:
                return True
        return v in self.extra_.get(u, {}) or u in self.extra_.get(v, {})

    @property
    def graph_(self) -> "_GraphView":
        """Read-only networkx-like view (``node in g``, ``g[node]`` -> {neighbour: {"weight": w}},
        ``g.has_edge``) for code that walks a firm's neighbourhood."""
        return _GraphView(self)

    def __contains__(self, node: str) -> bool:
        return node in self.node_index_ or node in self.extra_ or node in self.extra_degree_

    # -- querying ------------------------------------------------------------------------
    def seed_vector(self, seeds: Mapping[str, float]) -> np.ndarray:
        s = np.zeros(len(self.nodes_))
        for node, w in seeds.items():
            i = self.node_index_.get(node)
            if i is not None:
                s[i] += w
        return s

    def pagerank(self, seeds: Mapping[str, float], rows: int | None = None) -> np.ndarray:
        """PageRank from the seeds over every compiled node, or over the first ``rows`` nodes
        only (the same values; the firms known at fit come first, see ``firm_index_array``)."""
        return personalized_pagerank(self.P_T_, self.dangling_, self.seed_vector(seeds),
                                     self.alpha, self.tol, self.max_iter, (self.adj_, self.inv_out_), rows,
                                     self._row_split)

    def _row_split(self, rows: int | None) -> RowSplit:
        """The :class:`RowSplit` of ``P_T_`` (its first ``rows`` rows), kept for the matrix
        it was made from (views of its arrays: a few hundred KB of row pointers)."""
        cache = self.__dict__.setdefault("_splits", {})
        hit = cache.get(rows)
        if hit is None or hit[0]() is not self.P_T_:
            hit = cache[rows] = (weakref.ref(self.P_T_), RowSplit(self.P_T_, rows))
        return hit[1]

    def neighbour_score(self, pr: np.ndarray, code: str) -> float:
        """Approximate PPR of a firm added after compiling: one step from its neighbours."""
        fn = _node_firm(code)
        if fn not in self:
            return 0.0
        total = 0.0
        for nb, w in self.neighbours(fn).items():
            j = self.node_index_.get(nb)
            if j is not None:
                deg = (self.degree_[j] + self.extra_degree_.get(nb, 0.0)) or 1.0
                total += self.alpha * pr[j] * w / deg
        return total

    def firm_row(self, code) -> int | None:
        """The compiled node of a firm known at fit (None for a firm added later)."""
        p = self._codes.find(code, first=True) if isinstance(code, str) else None
        return None if p is None else int(self._firm_node[p])

    def firm_scores(self, pr: np.ndarray, codes: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(codes))
        for k, c in enumerate(codes):
            i = self.firm_row(c)
            out[k] = pr[i] if i is not None else self.neighbour_score(pr, c)
        return out

    def firm_index_array(self, codes: Sequence[str]) -> np.ndarray:
        """Row of each firm in the compiled matrix (-1 when added later)."""
        out = np.full(len(codes), -1, dtype=np.int64)
        for lo in range(0, len(codes), 1 << 16):
            pos = self._codes.find_many(codes[lo:lo + (1 << 16)], first=True)
            out[lo:lo + len(pos)] = np.where(pos >= 0, self._firm_node[np.maximum(pos, 0)], -1)
        return out

    def path(self, seeds: Mapping[str, float], code: str, max_len: int = 4) -> list[str]:
        """A shortest path from any seed node to the firm, as node names (breadth-first search
        on the compiled adjacency; a firm added later is reached through its neighbours)."""
        fn = _node_firm(code)
        if fn in self.node_index_:
            targets = {fn: [fn]}
        elif fn in self.extra_:
            targets = {nb: [nb, fn] for nb in self.extra_[fn] if nb in self.node_index_}
        else:
            return []
        best: list[str] | None = None
        for node in seeds:
            if node in self.extra_ and node != fn:
                continue
            if node == fn:
                return [fn]
            s = self.node_index_.get(node)
            if s is None:
                continue
            _, pred = breadth_first_order(self.adj_, s, directed=False, return_predecessors=True)
            for t, tail in targets.items():
                j = self.node_index_[t]
                if j != s and pred[j] < 0:
                    continue
                p = []
                while j != s:
                    p.append(self.nodes_[j])
                    j = pred[j]
                p = [node] + p[::-1] + tail[1:]
                if len(p) <= max_len + 1 and (best is None or len(p) < len(best)):
                    best = p
        return best or []


class _Nodes(Sequence):
    """The compiled nodes' names by id: ``firm:<code>`` for the firm nodes (read from the
    graph's codes when asked), then the other nodes' names."""

    __slots__ = ("g",)

    def __init__(self, g: ChainGraph):
        self.g = g

    def __len__(self) -> int:
        return self.g.n_firm_nodes_ + len(self.g._names)

    def __getitem__(self, j):
        g = self.g
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        if j < 0:
            j += len(self)
        if 0 <= j < g.n_firm_nodes_:
            return _node_firm(g._codes[int(g._node_firm[j])])
        return g._names[j - g.n_firm_nodes_]


class _NodeIndex(Mapping):
    """Node name -> id over the compiled nodes (a firm's through the graph's codes)."""

    __slots__ = ("g", "other")

    def __init__(self, g: ChainGraph, other: dict[str, int]):
        self.g = g
        self.other = other

    def get(self, name, default=None):
        if isinstance(name, str) and name.startswith("firm:"):
            i = self.g.firm_row(name[5:])
            return default if i is None else i
        return self.other.get(name, default)

    def __getitem__(self, name) -> int:
        i = self.get(name)
        if i is None:
            raise KeyError(name)
        return i

    def __contains__(self, name) -> bool:
        return self.get(name) is not None

    def __iter__(self):
        return iter(self.g.nodes_)

    def __len__(self) -> int:
        return len(self.g.nodes_)


class _GraphView:
    __slots__ = ("g",)

    def __init__(self, g: ChainGraph):
        self.g = g

    def __contains__(self, node) -> bool:
        return node in self.g

    def __getitem__(self, node) -> dict[str, dict[str, float]]:
        return {nb: {"weight": w} for nb, w in self.g.neighbours(node).items()}

    def has_edge(self, u, v) -> bool:
        return self.g.has_edge(u, v)

    def has_node(self, node) -> bool:
        return node in self.g
