import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from matchmaker.graph import (ChainGraph, _inverse_out_degree, _row_stochastic, personalized_pagerank,
                              transition_matrix)


@pytest.mark.parametrize("seed_nodes", [[0], [3, 7], [5]])
def test_ppr_matches_networkx(seed_nodes):
    g = nx.gnm_random_graph(40, 90, seed=3)
    for u, v in g.edges:
        g[u][v]["weight"] = 1.0 + (u * v) % 5
    g.add_node(40)  # a dangling node
    nodes = list(g.nodes)
    P, dangling = transition_matrix(g, nodes)
    seed = np.zeros(len(nodes))
    seed[seed_nodes] = 1.0
    ours = personalized_pagerank(P.T.tocsr(), dangling, seed, alpha=0.85, tol=1e-12, max_iter=1000)
    ref = nx.pagerank(g, alpha=0.85, personalization={n: 1.0 for n in seed_nodes}, tol=1e-12,
                      max_iter=1000, weight="weight")
    assert np.allclose(ours, [ref[n] for n in nodes], atol=1e-6)


def test_ppr_shortcuts_give_the_same_numbers():
    # gathering the out-edges of a sparse vector, and the last step for the first rows only,
    # must change nothing, to the last bit (rankings print scores that depend on them)
    g = nx.gnm_random_graph(3000, 9000, seed=5)
    for u, v in g.edges:
        g[u][v]["weight"] = 0.5 + (u + 3 * v) % 4
    g.add_node(3000)  # dangling
    nodes = list(g.nodes)
    adj = sp.csr_matrix(nx.to_scipy_sparse_array(g, nodelist=nodes, weight="weight", format="csr",
                                                 dtype=np.float64))
    P, dangling = _row_stochastic(adj)
    P_T = sp.csr_matrix(P.T)
    out_edges = (adj, _inverse_out_degree(adj))
    # one low-degree seed (steps gathered), a few, and many (plain CSR products)
    for seed_nodes in ([0], [1, 2, 3000], list(range(0, 3000, 7))):
        seed = np.zeros(len(nodes))
        seed[seed_nodes] = 1.0
        for alpha, tol, max_iter in ((0.5, 1e-6, 100), (0.85, 1e-9, 5), (0.85, 1e-12, 1000)):
            plain = personalized_pagerank(P_T, dangling, seed, alpha, tol, max_iter)
            fast = personalized_pagerank(P_T, dangling, seed, alpha, tol, max_iter, out_edges)
            head = personalized_pagerank(P_T, dangling, seed, alpha, tol, max_iter, out_edges, rows=2000)
            assert np.array_equal(plain, fast)
            assert np.array_equal(plain[:2000], head)


def test_chain_graph_pagerank_of_the_firm_rows_only():
    rels = [{"firm_a": "A", "firm_b": "L", "relation": "供应"}]
    g = ChainGraph(alpha=0.5).fit(_firms(), rels, [{"压缩机"}, set(), {"压缩机"}, set()])
    seeds = {"firm:L": 1.0, "chain:智能家电": 0.5, "term:压缩机": 0.5}
    full = g.pagerank(seeds)
    rows = g.firm_index_array(list("LABC"))
    assert np.array_equal(g.pagerank(seeds, rows=int(rows.max()) + 1), full[:rows.max() + 1])
    assert full[rows].min() >= 0 and full[rows[1]] > full[rows[2]] > 0


def _firms():
    return [
        {"credit_code": "L", "role": "leader", "chains": ["智能家电"], "segments": ["整机制造"]},
        {"credit_code": "A", "role": "sme", "chains": ["智能家电"], "segments": ["核心零部件"]},
        {"credit_code": "B", "role": "sme", "chains": ["智能家电"], "segments": ["核心零部件"]},
        {"credit_code": "C", "role": "sme", "chains": ["生物医药"], "segments": ["原料药"]},
    ]


def test_pagerank_stops_within_its_tolerance_of_the_converged_scores():
    # the stopping rule (n_nodes * tol on the L1 change, tol 3e-6 by default) against the
    # converged iteration: a step shrinks the change by alpha, so what is left after the last
    # step is under alpha / (1 - alpha) * n * tol in L1; a large tol stops after the seeds'
    # step and the firms' rows, as a graph of 200k firms does at the default
    rng = np.random.default_rng(11)
    firms = [{"credit_code": f"F{i}", "chains": [f"链{i % 4}"], "segments": [f"环节{i % 7}"]} for i in range(400)]
    rels = [{"firm_a": f"F{rng.integers(0, 400)}", "firm_b": f"F{rng.integers(0, 400)}", "relation": "供应"}
            for _ in range(1500)]
    terms = [{f"术语{(i * 5 + k) % 30}" for k in range(i % 3)} for i in range(len(firms))]
    seeds = {"firm:F3": 1.0, "chain:链1": 0.5, "term:术语4": 0.5}
    for alpha in (0.5, 0.85):
        g = ChainGraph(alpha=alpha).fit(firms, rels, terms)
        assert g.tol == 3e-6
        exact = personalized_pagerank(g.P_T_, g.dangling_, g.seed_vector(seeds), alpha, 1e-15, 10000)
        n = len(g.nodes_)
        for tol in (g.tol, 1e-3, 0.5 / n):
            g.tol = tol
            pr = g.pagerank(seeds)
            assert np.abs(pr - exact).sum() < alpha / (1 - alpha) * n * tol
            assert np.isclose(pr.sum(), 1.0) and pr.min() >= 0


def test_chain_graph_relations_carry_rank_and_competition_does_not():
    rels = [{"firm_a": "A", "firm_b": "L", "relation": "供应"},
            {"firm_a": "C", "firm_b": "L", "relation": "竞争"}]
    g = ChainGraph(alpha=0.85).fit(_firms(), rels)
    pr = g.pagerank({"firm:L": 1.0})
    s = dict(zip("LABC", g.firm_scores(pr, list("LABC"))))
    assert s["A"] > s["B"] > s["C"]
    assert s["C"] == 0.0  # 竞争 adds no edge, and 生物医药 is not reachable
    assert not g.has_edge("firm:C", "firm:L") and g.has_edge("firm:A", "firm:L")


def test_new_firm_scored_from_neighbours_and_path():
    g = ChainGraph().fit(_firms(), [])
    g.add_firm({"credit_code": "N", "chains": ["智能家电"], "segments": ["核心零部件"]})
    pr = g.pagerank({"chain:智能家电": 1.0})
    assert g.firm_scores(pr, ["N"])[0] > 0
    assert g.path({"chain:智能家电": 1.0}, "A") == ["chain:智能家电", "firm:A"]


def test_compiled_graph_equals_the_networkx_graph_it_replaces():
    firms = _firms() + [{"credit_code": "D", "role": "sme", "chains": ["智能家电", "智能家电"],
                         "segments": ["核心零部件", "整机制造"]}]
    rels = [{"firm_a": "A", "firm_b": "L", "relation": "供应"}, {"firm_a": "L", "firm_b": "A", "relation": "投资"},
            {"firm_a": "B", "firm_b": "X", "relation": "供应"}, {"firm_a": "C", "firm_b": "L", "relation": "竞争"}]
    terms = [{"压缩机"}, {"压缩机", "电机"}, set(), {"原料药"}, {"电机"}]
    term_segs = {"压缩机": [("智能家电", "核心零部件")], "原料药": [("生物医药", "原料药")], "无人用": [("x", "y")]}
    g = ChainGraph().fit(firms, rels, terms, term_segs, [[("智能家电", "核心零部件")], [], [], [], []])
    # the graph as it was built before: one networkx edge per link, repeated links adding up
    ref = nx.Graph()
    ref.add_nodes_from(f"firm:{f['credit_code']}" for f in firms)

    def add(u, v, w):
        if w > 0 and u != v:
            if ref.has_edge(u, v):
                ref[u][v]["weight"] += w
            else:
                ref.add_edge(u, v, weight=w)
    for i, f in enumerate(firms):
        fn = f"firm:{f['credit_code']}"
        for ch in f["chains"]:
            add(fn, f"chain:{ch}", 1.0)
            for seg in f["segments"]:
                add(fn, f"seg:{ch}/{seg}", 1.0)
                add(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
        if i == 0:
            add(fn, "seg:智能家电/核心零部件", 1.0)
            add("seg:智能家电/核心零部件", "chain:智能家电", 1.0)
        for t in terms[i]:
            add(fn, f"term:{t}", 0.5)
    for t, segs in term_segs.items():
        if ref.has_node(f"term:{t}"):
            for ch, seg in segs:
                add(f"term:{t}", f"seg:{ch}/{seg}", 0.5)
                add(f"seg:{ch}/{seg}", f"chain:{ch}", 1.0)
    add("firm:A", "firm:L", 1.0)
    add("firm:L", "firm:A", 0.3)
    assert set(g.nodes_) == set(ref.nodes)
    P, dangling = transition_matrix(ref, g.nodes_)
    assert abs(P.T.tocsr() - g.P_T_).max() < 1e-12 and np.array_equal(dangling, g.dangling_)
    assert g.has_edge("firm:A", "firm:L") and not g.has_edge("firm:C", "firm:L")
    assert g.graph_["firm:A"]["firm:L"]["weight"] == 1.3


def test_added_firm_path_and_degree_as_networkx():
    g = ChainGraph().fit(_firms(), [])
    g.add_firm({"credit_code": "N", "chains": ["智能家电"], "segments": ["核心零部件"]})
    assert "firm:N" in g.graph_ and g.has_edge("firm:N", "chain:智能家电")
    assert g.path({"chain:智能家电": 1.0}, "N") == ["chain:智能家电", "firm:N"]
    p = g.path({"firm:L": 1.0}, "N")
    assert p[0] == "firm:L" and p[-1] == "firm:N" and len(p) == 3
    # one step from the neighbours, their degree counting the new edge as networkx did
    pr = g.pagerank({"chain:智能家电": 1.0})
    j = g.node_index_["chain:智能家电"]
    deg_chain = 3.0 + 1.0 + 1.0 + 1.0 + 1.0  # L, A, B, the two segments, N
    j2 = g.node_index_["seg:智能家电/核心零部件"]
    deg_seg = 2.0 + 2.0 + 1.0  # A, B, chain (twice), N
    expect = g.alpha * (pr[j] / deg_chain + pr[j2] / deg_seg)
    assert np.isclose(g.neighbour_score(pr, "N"), expect)


def test_node_mask_reads_the_names_after_the_firms():
    rels = [{"firm_a": "A", "firm_b": "L", "relation": "供应"}]
    g = ChainGraph().fit(_firms(), rels, [{"压缩机"}, set(), {"压缩机"}, set()], {"压缩机": [("智能家电", "核心零部件")]})
    for prefixes in (("seg:", "term:"), ("chain:",), ("firm:",)):
        assert g.node_mask(prefixes).tolist() == [n.startswith(prefixes) for n in g.nodes_]
    assert g.node_mask(("term:",)).sum() == 1 and g.n_firm_nodes_ == 4


def test_compiled_matrices_equal_the_scipy_product_and_its_transpose_to_the_bit():
    # repeated relations between the same firms (sums of 0.3, 0.8, 0.4, 1.0 in some order), a
    # firm listed twice (its edges go to its first node), firms unknown to the relations
    from matchmaker.graph import _transposed_stochastic
    rng = np.random.default_rng(7)
    firms = [{"credit_code": f"F{i}", "chains": [f"链{i % 3}"], "segments": [f"环节{i % 5}"]} for i in range(300)]
    firms.append(dict(firms[4], chains=["链9"]))
    kinds = ["供应", "合作研发", "控股", "投资", "签约", "竞争", "对接意向"]
    rels = [{"firm_a": f"F{rng.integers(0, 320)}", "firm_b": f"F{rng.integers(0, 320)}",
             "relation": kinds[rng.integers(0, len(kinds))]} for _ in range(3000)]
    terms = [{f"术语{(i * 7 + k) % 40}" for k in range(i % 4)} for i in range(len(firms))]
    g = ChainGraph().fit(firms, rels, terms, {f"术语{k}": [("链0", f"环节{k % 5}")] for k in range(0, 40, 3)})
    assert g.n_firm_nodes_ == 300 and g.node_index_["firm:F4"] == 4 and g.nodes_[4] == "firm:F4"
    assert g.firm_index_array(["F4", "F299", "F300", "X"]).tolist() == [4, 299, -1, -1]
    assert "firm:F300" not in g.node_index_ and g.neighbours("firm:F4").get("chain:链9") == 1.0
    P, dangling = _row_stochastic(g.adj_)
    want = sp.csr_matrix(P.T)
    assert np.array_equal(want.indptr, g.P_T_.indptr) and np.array_equal(want.indices, g.P_T_.indices)
    assert np.array_equal(want.data, g.P_T_.data) and np.array_equal(dangling, g.dangling_)
    assert g.P_T_.indices is g.adj_.indices  # shared, not copied
    nodes = list(g.nodes_)
    assert len(set(nodes)) == len(nodes) and [g.node_index_[n] for n in nodes] == list(range(len(nodes)))
    # a structurally asymmetric matrix takes the product
    a = sp.csr_matrix(np.array([[0, 1.0, 0], [0, 0, 2.0], [0.5, 0, 0]]))
    inv = _inverse_out_degree(a)
    assert np.array_equal(_transposed_stochastic(a, inv).toarray(), sp.csr_matrix(_row_stochastic(a)[0].T).toarray())


@pytest.mark.parametrize("n_weights", [6, 300])
def test_symmetric_adjacency_equals_the_coo_constructor_to_the_bit(n_weights):
    # repeated edges with weights whose sums depend on their order; over 256 distinct weights
    # the float64 weights are carried instead of codes
    from array import array

    from matchmaker.graph import _symmetric_adjacency
    rng = np.random.default_rng(n_weights)
    n, m = 400, 30000
    us, vs = rng.integers(0, n, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    ws = rng.choice(rng.random(n_weights) * 2, m)
    want = sp.csr_matrix((np.concatenate([ws, ws]), (np.concatenate([us, vs]), np.concatenate([vs, us]))),
                         shape=(n, n))
    want.sum_duplicates()
    edges = [array("i", us.tobytes()), array("i", vs.tobytes()), array("d", ws.tobytes())]
    got = _symmetric_adjacency(edges, n)
    assert not edges
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data) and got.data.dtype == np.float64
    assert _symmetric_adjacency([array("i"), array("i"), array("d")], 3).shape == (3, 3)


def test_numpy_fallbacks_equal_scipys_private_kernels():
    # graph.py uses scipy.sparse._sparsetools' coo_tocsr / csr_tocsc when scipy has them and
    # these numpy versions otherwise: both must give the same arrays
    from scipy.sparse._sparsetools import coo_tocsr, csr_tocsc

    from matchmaker.graph import _coo_tocsr_numpy, _csr_tocsc_numpy
    rng = np.random.default_rng(7)
    n, m = 300, 5000
    rows, cols = rng.integers(0, n, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    data = rng.integers(0, 255, m).astype(np.uint8)
    got, want = [], []
    for kernel, out in ((_coo_tocsr_numpy, got), (coo_tocsr, want)):
        arrays = (np.empty(n + 1, np.int32), np.empty(m, np.int32), np.empty(m, np.uint8))
        kernel(n, n, m, rows, cols, data, *arrays)
        out.extend(arrays)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    indptr, indices = got[0], got[1]
    got, want = [], []
    for kernel, out in ((_csr_tocsc_numpy, got), (csr_tocsc, want)):
        arrays = (np.empty(n + 1, np.int32), np.empty(m, np.int32), np.empty(m, np.int32))
        kernel(n, n, indptr, indices, np.arange(m, dtype=np.int32), *arrays)
        out.extend(arrays)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
