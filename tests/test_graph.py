import networkx as nx
import numpy as np
import pytest

from matchmaker.graph import ChainGraph, personalized_pagerank, transition_matrix


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


def _firms():
    return [
        {"credit_code": "L", "role": "leader", "chains": ["智能家电"], "segments": ["整机制造"]},
        {"credit_code": "A", "role": "sme", "chains": ["智能家电"], "segments": ["核心零部件"]},
        {"credit_code": "B", "role": "sme", "chains": ["智能家电"], "segments": ["核心零部件"]},
        {"credit_code": "C", "role": "sme", "chains": ["生物医药"], "segments": ["原料药"]},
    ]


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
