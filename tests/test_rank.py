import json
from pathlib import Path

import pytest

from matchmaker.rank import Match, Matcher
from matchmaker.service import build_matcher, format_trec, load_dir, rank_all, rank_all_firms

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV = SHARED / "bench" / "handwritten-dev"


def firm(code, name, role="sme", chains=("智能家电",), segments=("核心零部件",), products="",
         technologies="", description="", tiers=(), district="崂山区"):
    return {"credit_code": code, "name": name, "role": role, "chains": list(chains),
            "segments": list(segments), "products": products, "technologies": technologies,
            "description": description, "tiers": list(tiers), "district": district, "extra": {}}


FIRMS = [
    firm("L1", "澜庭智能家电集团", role="leader", segments=("整机制造",), products="冰箱、空调、净水机"),
    firm("S1", "青岛渗源膜科技有限公司", products="家用反渗透（RO）膜元件；纳滤膜", technologies="抗污染复合膜",
         tiers=("专精特新“小巨人”",)),
    firm("S2", "青岛声澜智能科技有限公司", products="远场语音交互SDK；麦克风阵列", technologies="波束形成、回声消除"),
    firm("S3", "青岛冠力压缩机股份有限公司", products="变频压缩机", technologies="高效压缩机电机"),
    firm("S4", "青岛滤清环保材料有限公司", products="活性炭滤芯、PP棉滤芯", district="上海市"),
    firm("S5", "青岛晶湃半导体有限公司", chains=("集成电路",), segments=("芯片设计",), products="电源管理芯片"),
]
DEMANDS = [
    {"demand_id": "D1", "leader": "L1", "kind": "技术需求", "title": "净水机反渗透膜元件寿命提升",
     "description": "高硬度水质地区净水机出水变小，需要抗污堵的反渗透膜元件。", "specs": "寿命≥24个月",
     "chains": ["智能家电"], "cooperation": [], "deadline": None, "status": "open", "extra": {}},
    {"demand_id": "D2", "leader": "L1", "kind": "技术需求", "title": "电视远场语音唤醒",
     "description": "5米距离语音唤醒率低，需要麦克风阵列与远场语音算法。", "specs": "唤醒率≥95%",
     "chains": ["智能家电"], "cooperation": [], "deadline": None, "status": "open", "extra": {}},
]
RELATIONS = [{"firm_a": "S3", "firm_b": "L1", "relation": "供应", "year": 2021}]


@pytest.fixture(scope="module")
def matcher():
    return Matcher().fit(FIRMS, DEMANDS, RELATIONS, taxonomy=None)


def test_ranks_the_capable_sme_first_and_never_a_leader(matcher):
    res = matcher.rank_smes("D1", top=10)
    assert res[0].credit_code == "S1"
    assert all(m.credit_code != "L1" for m in res)
    assert [m.score for m in res] == sorted((m.score for m in res), reverse=True)
    assert matcher.rank_smes("D2", top=3)[0].credit_code == "S2"


def test_reasons_name_terms_and_a_path_and_serialise(matcher):
    m = matcher.rank_smes("D1", top=1)[0]
    r = m.reasons
    assert any("反渗透" in t or "膜" in t for t in r["terms"])
    assert r["path"][0] == "净水机反渗透膜元件寿命提升" and r["path"][-1] == "青岛渗源膜科技有限公司"
    assert "智能家电" in r["path"]
    assert r["tier"] == "专精特新“小巨人”"
    assert set(r["parts"]) == {"text", "graph", "prior"}
    json.dumps(m.to_dict(), ensure_ascii=False)
    supplier = next(x for x in matcher.rank_smes("D1", top=10) if x.credit_code == "S3")
    assert any("供应" in s for s in supplier.reasons["relations"])


def test_incremental_firm_and_demand_without_refit():
    m = Matcher().fit(FIRMS, DEMANDS, RELATIONS)
    vocab = dict(m.index_.vectorizers_["all"].vocabulary_)
    m.update_firm(firm("S9", "青岛新膜科技有限公司", products="反渗透膜元件、纳滤膜元件", technologies="抗污堵膜"))
    assert m.index_.vectorizers_["all"].vocabulary_ == vocab  # transformed, not refitted
    top = [x.credit_code for x in m.rank_smes("D1", top=3)]
    assert "S9" in top
    m.update_demand({**DEMANDS[0], "demand_id": "D3", "title": "电源管理芯片国产化",
                     "description": "需要电源管理芯片供应", "chains": ["集成电路"]})
    assert m.rank_smes("D3", top=1)[0].credit_code == "S5"
    # an unseen record is ranked as it is
    rec = {**DEMANDS[1], "demand_id": "X"}
    assert m.rank_smes(rec, top=1)[0].credit_code == "S2"
    # edit a firm in place: its new text counts at once
    m.update_firm(firm("S4", "青岛滤清环保材料有限公司", products="电源管理芯片", chains=("集成电路",)))
    assert "S4" in [x.credit_code for x in m.rank_smes("D3", top=2)]


def test_rank_demands_for_an_sme(matcher):
    res = matcher.rank_demands("S2", top=5)
    assert res[0].demand_id == "D2" and res[0].credit_code is None
    assert matcher.rank_demands("青岛渗源膜科技有限公司", top=1)[0].demand_id == "D1"
    with pytest.raises(KeyError):
        matcher.rank_demands("nobody")


def _per_pair_features(m, fi):
    import numpy as np
    return np.vstack([m._features(m._state(k), np.array([fi]))[0] for k in range(len(m.demands_))])


def test_firm_direction_scores_every_demand_as_the_pair_features_do():
    """rank_demands stacks the demands to score one firm against all at once
    (Matcher._firm_features); it must give exactly the per-pair features of _features.
    If this fails after a feature change, mirror the change in _firm_features."""
    import numpy as np
    m = Matcher().fit(FIRMS, DEMANDS, RELATIONS)
    for code in ("S1", "S2", "S3", "S5"):
        fi = m.firm_pos_[code]
        assert np.allclose(m._firm_features(fi), _per_pair_features(m, fi), atol=1e-6)
    # edits after the stack was built: a new demand, a new firm in a chain nobody had
    m.rank_demands("S1")
    m.update_demand({**DEMANDS[0], "demand_id": "D3", "title": "电源管理芯片国产化",
                     "description": "需要电源管理芯片供应", "chains": ["集成电路"]})
    m.update_firm(firm("S8", "青岛轨芯科技有限公司", chains=("轨道交通",), products="电源管理芯片"))
    for code in ("S5", "S8"):
        fi = m.firm_pos_[code]
        assert np.allclose(m._firm_features(fi), _per_pair_features(m, fi), atol=1e-6)
    assert m.rank_demands("S8", top=1)[0].demand_id == "D3"


def test_presence_features_tell_a_firm_with_every_part_of_a_field_from_one_with_a_part():
    """t_cover / t_allwords: a short call naming a field (3D打印医疗器械) is met by a firm whose
    profile has both parts, not by one that repeats one part; g_reldeg counts relations."""
    import numpy as np
    from matchmaker.rank import FEATURES
    firms = FIRMS + [
        firm("P1", "青岛骨科科技有限公司", products="3D打印钛合金椎间融合器（医疗器械）"),
        firm("P2", "青岛康械医疗器械有限公司", products="医疗器械；一次性医疗器械；医疗器械包装"),
    ]
    demand = {**DEMANDS[0], "demand_id": "F1", "title": "3D打印医疗器械领域合作企业征集",
              "description": "", "specs": "", "chains": []}
    rels = RELATIONS + [{"firm_a": "P1", "firm_b": "S1", "relation": "合作研发", "year": None}]
    m = Matcher().fit(firms, DEMANDS + [demand], rels)
    codes = ["P1", "P2", "S2"]
    X = m._features(m._state(m.demand_pos_["F1"]), np.array([m.firm_pos_[c] for c in codes]))
    cover, allw, reldeg = (X[:, FEATURES.index(f)] for f in ("t_cover", "t_allwords", "g_reldeg"))
    assert cover[0] > cover[1] > cover[2] == 0.0
    assert list(allw) == [1.0, 0.0, 0.0]
    assert reldeg[0] > 0 and reldeg[1] == reldeg[2] == 0.0
    fi = m.firm_pos_["P1"]
    assert np.allclose(m._firm_features(fi), _per_pair_features(m, fi), atol=1e-6)


def test_t_both_is_the_product_of_the_relative_text_scores_in_both_directions(matcher):
    """t_both = t_all_rel * t_prf_rel, per pair and in the firm direction: at most 1, 0 when
    the firm shares no word with the demand."""
    import numpy as np
    from matchmaker.rank import FEATURES
    both, a, p = (FEATURES.index(f) for f in ("t_both", "t_all_rel", "t_prf_rel"))
    did = matcher.demand_ids()[0]
    st = matcher._state(matcher.demand_pos_[did])
    fis = np.arange(len(matcher.firms_))
    X = matcher._features(st, fis)
    assert np.allclose(X[:, both], X[:, a] * X[:, p])
    assert X[:, both].max() <= 1.0 + 1e-9 and X[:, both].max() > 0.0
    assert (X[X[:, a] == 0.0, both] == 0.0).all()
    for fi in fis[matcher.is_sme_]:
        col = matcher._firm_features(int(fi))[matcher.demand_pos_[did], both]
        assert np.isclose(col, X[fi, both], atol=1e-6)


def test_t_concept_is_the_concept_cosine_with_the_feedback_query_and_follows_new_firms():
    """(Q6) t_concept: the int8 concept vectors' cosine (matchmaker/concepts.py) of each firm
    with the demand's feedback query, the same in both directions; a firm added later is
    projected into the fitted space (not refitted): a copy of a profile lands where it is."""
    import numpy as np
    from matchmaker.concepts import cosines
    from matchmaker.rank import FEATURES
    c = FEATURES.index("t_concept")
    m = Matcher().fit(FIRMS, DEMANDS, RELATIONS)
    assert m.firm_concepts_.dtype == np.int8
    assert m.firm_concepts_.shape == (len(m.firms_), m.concepts_.components_.shape[0]) and m.firm_concepts_.shape[1] > 0
    st = m._state(m.demand_pos_["D1"])
    fis = np.arange(len(m.firms_))
    X = m._features(st, fis)
    assert np.array_equal(X[:, c], cosines(m.firm_concepts_, st["concept"]))
    assert np.abs(X[:, c]).max() <= 1.05 and X[:, c].max() > 0.5
    fi = m.firm_pos_["S1"]
    assert np.array_equal(m._firm_features(fi)[:, c], _per_pair_features(m, fi)[:, c])
    src = dict(next(f for f in FIRMS if f["credit_code"] == "S1"))
    m.update_firm({**src, "credit_code": "S9", "name": "青岛另一家膜科技有限公司"})
    s9 = m.firm_pos_["S9"]
    assert m.firm_concepts_.shape[0] == len(m.firms_)
    assert cosines(m.firm_concepts_[[s9]], m.firm_concepts_[fi])[0] > 0.9
    assert np.array_equal(m._firm_features(s9)[:, c], _per_pair_features(m, s9)[:, c])


def test_explain_one_pair_as_ranked(matcher):
    ranked = {x.credit_code: x for x in matcher.rank_smes("D1", top=10)}
    e = matcher.explain("D1", "S1")
    assert e.credit_code == "S1" and e.demand_id == "D1"
    assert abs(e.score - ranked["S1"].score) < 1e-9
    assert e.reasons["terms"] == ranked["S1"].reasons["terms"]
    by_demand = {x.demand_id: x for x in matcher.rank_demands("S1", top=5)}
    assert abs(by_demand["D1"].score - e.score) < 1e-6
    assert matcher.explain("nope", "S1") is None and matcher.explain("D1", "nobody") is None


def test_match_to_dict():
    assert Match(credit_code="A", score=0.5).to_dict()["credit_code"] == "A"
    assert Match(demand_id="D", score=0.5).to_dict()["demand_id"] == "D"


def _ndcg(run_text, qrels_lines, difficulty=None, swap=False):
    import ir_measures
    from ir_measures import nDCG
    qrels = [ir_measures.Qrel(*((l[2], l[0]) if swap else (l[0], l[2])), int(l[3])) for l in qrels_lines]
    run = list(ir_measures.read_trec_run(run_text))
    per = {m.query_id: m.value for m in ir_measures.iter_calc([nDCG @ 10], qrels, run)}
    return per


@pytest.mark.skipif(not (DEV / "qrels.txt").exists(),
                    reason=f"handwritten-dev benchmark not found at {DEV} (../shared absent)")
def test_handwritten_dev_quality_floor():
    """Guards against regressions: floors sit a little below what the fitted blend reaches
    (see bench/fit_weights.py for the cross-validated figures)."""
    firms, demands, relations = load_dir(DEV)
    m = build_matcher(firms, demands, relations)
    qrels_lines = [l.split() for l in (DEV / "qrels.txt").read_text().splitlines() if l.strip()]
    difficulty = dict(l.split() for l in (DEV / "difficulty.tsv").read_text().splitlines() if l.strip())
    leaders = {f["credit_code"] for f in firms if f["role"] == "leader"}
    results = rank_all(m, top=100)
    assert not any(x.credit_code in leaders for _, ms in results for x in ms)
    per = _ndcg(format_trec(results), qrels_lines)
    overall = sum(per.values()) / len(per)
    hard = [per.get(q, 0.0) for q, lvl in difficulty.items() if lvl == "hard"]
    # in-sample at the feedback-terms-per-kind refit (Q7): 0.922 / hard 0.873 (t_concept refit:
    # 0.918 / 0.865; t_both refit: 0.905 / 0.834)
    assert overall >= 0.90, overall
    assert sum(hard) / len(hard) >= 0.84, sum(hard) / len(hard)
    judged_firms = sorted({l[2] for l in qrels_lines})
    per_f = _ndcg(format_trec(rank_all_firms(m, top=100, credit_codes=judged_firms)), qrels_lines, swap=True)
    assert sum(per_f.values()) / len(per_f) >= 0.95, sum(per_f.values()) / len(per_f)


INDUSTRY = SHARED / "bench" / "ickg-dev" / "ickg-industry"


@pytest.mark.skipif(not (INDUSTRY / "qrels.txt").exists(),
                    reason=f"ickg-industry benchmark not found at {INDUSTRY} (../shared absent)")
def test_ickg_industry_quality_floor():
    """(Q5) Brief field calls over 15k real firms: a floor a little below the fitted blend's
    in-sample nDCG@10 (0.556 at the g_relnb refit; 0.554 cross-validated, bench/fit_weights.py),
    which needs the relation pool and g_relnb (0.535 without them)."""
    firms, demands, relations = load_dir(INDUSTRY)
    m = build_matcher(firms, demands, relations)
    qrels_lines = [l.split() for l in (INDUSTRY / "qrels.txt").read_text().splitlines() if l.strip()]
    per = _ndcg(format_trec(rank_all(m, top=100)), qrels_lines)
    judged = {l[0] for l in qrels_lines}
    mean = sum(per.get(q, 0.0) for q in judged) / len(judged)
    assert mean >= 0.545, mean


@pytest.mark.skipif(not (DEV / "qrels.txt").exists(),
                    reason=f"handwritten-dev benchmark not found at {DEV} (../shared absent)")
def test_reasons_on_handwritten_dev_are_whole_shared_phrases_of_the_demand():
    """Every shown term is the demand's own wording (as written), occurs in the firm's text,
    is not a piece of a longer phrase both texts share, and expansions are shown apart."""
    import rjieba

    from matchmaker.text import STOP_WORDS, is_cjk, normalize

    firms, demands, relations = load_dir(DEV)
    m = build_matcher(firms, demands, relations)
    by_code = {f["credit_code"]: f for f in firms}
    checked = 0
    for d in demands[:30]:
        raw = "\n".join(d.get(k) or "" for k in ("title", "description", "specs"))
        text = normalize(raw)
        word_ending, word_starting, span_of, pos = {}, {}, [], 0
        for w in rjieba.cut(text):
            word_starting[pos] = w
            span_of += [(pos, pos + len(w))] * len(w)
            pos += len(w)
            word_ending[pos] = w

        def content(w):
            return bool(w) and len(w) >= 2 and all(is_cjk(c) for c in w) and w not in STOP_WORDS
        for match in m.rank_smes(d["demand_id"], top=10):
            r = match.reasons
            f = by_code[match.credit_code]
            ftext = normalize(" ".join([f["name"], f["products"], f["technologies"], f["description"],
                                        *f["chains"], *f["segments"]]))
            json.dumps(match.to_dict(), ensure_ascii=False)
            assert r["path"][0] == d["title"] and r["path"][-1] == f["name"]
            assert isinstance(r["related"], list) and all(" → " in x or x for x in r["related"])
            terms = [normalize(t) for t in r["terms"]]
            for shown, t in zip(r["terms"], terms):
                checked += 1
                assert shown in raw, (shown, d["demand_id"])          # as the demand writes it
                assert t in text and t in ftext, (t, d["demand_id"], f["name"])
                assert len(t) >= 2 and t not in STOP_WORDS
                assert not any(t != o and t in o for o in terms), (t, terms)
                # where the term meets a whole content word of the demand, term + word is not
                # a phrase the firm shares: the longer phrase would have been shown
                p = text.find(t)
                while p >= 0:
                    before, after = word_ending.get(p), word_starting.get(p + len(t))
                    # nor is it a piece of the demand words it lies in (制器 of 控制器)
                    whole = text[span_of[p][0]:span_of[p + len(t) - 1][1]]
                    assert whole == t or whole not in ftext, (t, whole, d["demand_id"], f["name"])
                    for ext in ((before + t) if content(before) else None, (t + after) if content(after) else None):
                        assert ext is None or ext not in ftext, (t, ext, d["demand_id"], f["name"])
                    p = text.find(t, p + 1)
    assert checked > 100


def test_ablations_use_one_side_only():
    full = Matcher().fit(FIRMS, DEMANDS, RELATIONS)
    text = Matcher(use_graph=False).fit(FIRMS, DEMANDS, RELATIONS)
    graph = Matcher(use_text=False).fit(FIRMS, DEMANDS, RELATIONS)
    assert text.ablation_name() == "text_only" and graph.ablation_name() == "graph_only"
    assert full.ablation_name() == ""
    from matchmaker.rank import FEATURES, GRAPH_FEATURES, TEXT_FEATURES
    g_cols = [FEATURES.index(f) for f in GRAPH_FEATURES]
    t_cols = [FEATURES.index(f) for f in TEXT_FEATURES]
    for m, off in ((text, g_cols), (graph, t_cols)):
        codes, X = m.training_pairs("D1")
        assert len(codes) and not X[:, off].any()            # the other side reads 0
        for model in m.models_.values():
            assert not model["coef"][off].any()             # and weighs nothing
    # text alone still finds the membrane maker; the graph alone still ranks (and never a leader)
    assert text.rank_smes("D1", top=1)[0].credit_code == "S1"
    ranked = graph.rank_smes("D1", top=10)
    assert ranked and all(x.credit_code != "L1" for x in ranked)
    assert full.rank_smes("D1", top=1)[0].score != graph.rank_smes("D1", top=1)[0].score


_REASONS_DUMP = """
import json, sys
from matchmaker.service import build_matcher, load_dir
firms, demands, relations = load_dir(sys.argv[1])
m = build_matcher(firms, demands, relations)
out = {d["demand_id"]: [x.to_dict() for x in m.rank_smes(d["demand_id"], top=10)] for d in demands}
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


@pytest.mark.skipif(not (DEV / "qrels.txt").exists(),
                    reason=f"handwritten-dev benchmark not found at {DEV} (../shared absent)")
def test_rankings_and_reasons_do_not_follow_the_string_hash_seed():
    """Two processes with different PYTHONHASHSEED give the same rankings and reasons (the chain
    path once followed set order, so a demand's reasons changed between server restarts)."""
    import os
    import subprocess
    import sys

    dumps = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", _REASONS_DUMP, str(DEV)], env=env,
                              capture_output=True, text=True, timeout=300, check=True)
        dumps.append(json.loads(proc.stdout))
    assert len(dumps[0]) >= 30 and all(dumps[0].values())
    assert dumps[0] == dumps[1]


def test_first_ranking_shortcuts_equal_the_dense_computations():
    """The shortcuts of a demand's first ranking give what the dense computations gave, to the
    last bit: the best SMEs of a score vector (ties at the cut included), a weighted sum of
    rows over the columns they use, and the top terms of a centroid as a sparse row."""
    import numpy as np
    import scipy.sparse as sp

    from matchmaker.rank import _column_sums, _top_row

    rng = np.random.default_rng(7)
    m = Matcher()
    m.is_sme_ = rng.random(5000) > 0.1
    for _ in range(20):
        # coarse scores: many ties, some at the cut
        s = np.round(rng.random(5000) * rng.integers(3, 400), 0).astype(np.float32) / 7
        s[rng.random(5000) > 0.6] = 0
        for k in (1, 50, 200, 4000):
            dense = np.where(m.is_sme_, s, -1.0)
            top = np.argpartition(-dense, k - 1)[:k]
            assert sorted(m._best_smes(s, k).tolist()) == sorted(top[dense[top] > 0].tolist())
    mat = sp.random(40, 3000, density=0.05, format="csr", dtype=np.float32, random_state=3)
    for rows, w in ((rng.permutation(40)[:5], rng.random(5).astype(np.float32)),
                    (np.arange(40), np.ones(40, dtype=np.float32)), (np.arange(3), rng.random(3))):
        sub = mat[rows]
        cols, sums = _column_sums(sub, w)
        dense = np.asarray(sub.multiply(np.asarray(w)[:, None]).sum(axis=0)).ravel()
        assert np.array_equal(cols, np.unique(sub.indices)) and np.array_equal(sums, dense[cols])
        for k in (3, 30, 10_000):
            ref = dense.copy()
            nz = np.flatnonzero(ref)
            if k < len(nz):
                ref[nz[ref[nz] < np.partition(ref[nz], -k)[-k]]] = 0.0
            ref = sp.csr_matrix(ref.astype(np.float32).reshape(1, -1))
            got = _top_row(cols, sums, k, 3000)
            assert got.shape == ref.shape and np.array_equal(got.indices, ref.indices)
            assert np.array_equal(got.data, ref.data) and got.data.dtype == np.float32


def test_text_features_equal_the_sparse_products(matcher):
    """_features multiplies candidates' rows by the dense query: the same numbers, to the
    last bit, as the sparse x sparse products it replaced."""
    import numpy as np

    for did in ("D1", "D2"):
        d, st = matcher._resolve_demand(did)
        cand = matcher._candidates(st)
        X = matcher._features(st, cand)
        idx = matcher.index_
        rows = {"all": idx.rows("all", cand)}
        rows.update(idx.derived_rows("all", cand, base=rows["all"]))
        for col, (qname, fld) in enumerate((("all", "all"), ("words", "words"), ("bigrams", "bigrams"),
                                            ("pt", "pt"), ("desc", "desc"), ("seg", "seg"), ("name", "name"),
                                            ("title", "all"), ("syn", "all"), ("prf", "all"))):
            m = rows[fld] if fld in rows else idx.rows(fld, cand)
            ref = np.asarray((m @ st["q"][qname].T).todense()).ravel()
            assert np.array_equal(X[:, col], ref), (did, qname)
        assert X[:, 0].max() > 0


def _shared_spans_before(a, b):
    # _shared_spans as it was before it read the demand's bigram positions (the reference):
    # runs found from every position of a; the trimming of runs into spans is shared
    from matchmaker.rank import _trim_runs

    if len(b) < 2:
        return []
    pairs = {b[i:i + 2] for i in range(len(b) - 1)}
    runs, n, prev_end = [], len(a), -1
    for i in range(n - 1):
        if a[i:i + 2] not in pairs:
            continue
        length = max(2, prev_end - i)
        while i + length < n and a[i:i + length + 1] in b:
            length += 1
        if i + length > prev_end:
            runs.append((i, i + length))
            prev_end = i + length
    return _trim_runs(a, runs)


def test_shared_spans_as_before():
    import random

    from matchmaker.rank import _shared_spans

    rng = random.Random(3)
    alphabet = "膜元件反渗透抗污堵寿命的和PLC8K-./ ;,ab"
    for _ in range(3000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert _shared_spans(a, b) == _shared_spans_before(a, b), (a, b)
    a = "高硬度水质地区净水机出水变小，需要抗污堵的反渗透膜元件。寿命≥24个月"
    assert _shared_spans(a, "家用反渗透（RO）膜元件；抗污堵复合膜") == _shared_spans_before(a, "家用反渗透（RO）膜元件；抗污堵复合膜")


def test_rank_smes_among_keeps_the_order_and_scores_of_the_full_ranking(matcher):
    full = matcher.rank_smes("D1", top=10)
    among = {full[-1].credit_code, full[0].credit_code, "no-such-firm"}
    some = matcher.rank_smes("D1", top=10, among=among)
    assert [m.to_dict() for m in some] == [m.to_dict() for m in full if m.credit_code in among]
    assert matcher.rank_smes("D1", top=10, among=set()) == []


def test_leader_part_is_shared_by_its_demands_and_recomputed_after_a_firm_changes(monkeypatch):
    import os

    import numpy as np

    from matchmaker import rank as R

    def same(x, y):
        return np.array_equal(x.idx, y.idx) and x.val.tobytes() == y.val.tobytes()

    m = Matcher().fit(FIRMS, DEMANDS, RELATIONS)
    a, b = m._state(0), m._state(1)  # both demands of L1
    assert a["cf"] is b["cf"] and a["supsim"] is b["supsim"] and a["supsim"].max > 0
    # S3 supplies L1: once its text changes, a new demand of L1 sees the new text
    s3 = firm("S3", "青岛冠力压缩机股份有限公司", products="变频压缩机；反渗透膜元件", technologies="高效压缩机电机")
    m.update_firm(s3)
    d4 = {**DEMANDS[0], "demand_id": "D4"}
    m.update_demand(d4)
    c = m._state(m.demand_pos_["D4"])
    assert c["supsim"] is not a["supsim"]
    m._leader_cache.clear()
    m.update_demand({**d4, "demand_id": "D5"})
    want = m._state(m.demand_pos_["D5"])
    for key in ("cf", "two_hop", "supsim", "rel", "ppr"):
        assert same(c[key], want[key]), key
    assert not same(a["supsim"], want["supsim"])
    # the state computed on the worker threads equals the one computed in line (threads
    # forced: on a one-core machine _pool() would compute both in line)
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        monkeypatch.setattr(R, "_POOL", [os.getpid(), pool])
        fresh = Matcher().fit([s3 if f["credit_code"] == "S3" else f for f in FIRMS], DEMANDS + [d4], RELATIONS)
        want = fresh._state(fresh.demand_pos_["D4"])
        fresh_top = [x.to_dict() for x in fresh.rank_smes("D4", top=5)]
    monkeypatch.setattr(R, "_POOL", [os.getpid(), None])
    inline = Matcher().fit([s3 if f["credit_code"] == "S3" else f for f in FIRMS], DEMANDS + [d4], RELATIONS)
    got = inline._state(inline.demand_pos_["D4"])
    for key in ("cf", "two_hop", "supsim", "rel", "ppr"):
        assert same(got[key], want[key]), key
    assert np.array_equal(got["prof"], want["prof"]) and got["max_bm25"] == want["max_bm25"]
    assert [x.to_dict() for x in inline.rank_smes("D4", top=5)] == fresh_top
    # at interpreter exit concurrent.futures shuts the pool down while a daemon thread (the
    # web app's warm-up) may still rank: the work then runs in line, with the same result
    closed = concurrent.futures.ThreadPoolExecutor(max_workers=3)
    closed.shutdown()
    monkeypatch.setattr(R, "_POOL", [os.getpid(), closed])
    late = Matcher().fit([s3 if f["credit_code"] == "S3" else f for f in FIRMS], DEMANDS + [d4], RELATIONS)
    assert [x.to_dict() for x in late.rank_smes("D4", top=5)] == fresh_top


def test_relation_pool_and_g_relnb_reach_a_related_firm_for_a_brief_call():
    """(Q5) A brief field call also draws the SMEs related to the firms its feedback terms
    find (Matcher._relation_pool; rivals count): a group whose profile names only products is
    found through its rival's profile; g_relnb reads how well its related SMEs match, in both
    directions, for brief calls only."""
    import numpy as np
    from matchmaker.rank import FEATURES
    firms = FIRMS + [
        firm("R1", "青岛储能电池科技有限公司", products="储能电池；储能变流器；储能系统集成"),
        firm("R2", "青岛海拓集团有限公司", products="X9系列；Q5型号"),
    ]
    brief = {**DEMANDS[0], "demand_id": "B1", "title": "储能领域合作企业征集", "description": "",
             "specs": "", "chains": [], "leader": None}
    rels = RELATIONS + [{"firm_a": "R1", "firm_b": "R2", "relation": "竞争", "year": None}]
    m = Matcher().fit(firms, DEMANDS + [brief], rels)
    r1, r2 = m.firm_pos_["R1"], m.firm_pos_["R2"]
    st = m._state(m.demand_pos_["B1"])
    assert st["kind"] == "brief"
    related = [p.related for p in st["_text_pools"] if getattr(p, "related", None) is not None]
    assert len(related) == 1 and r2 in related[0]
    assert r2 in m._candidates(st)
    g, t_all = FEATURES.index("g_relnb"), FEATURES.index("t_all")
    X = m._features(st, np.array([r1, r2]))
    assert X[1, g] > 0 and X[1, t_all] == 0.0
    for fi in (r1, r2):
        assert np.allclose(m._firm_features(fi), _per_pair_features(m, fi), atol=1e-6)
    # a detailed demand does not read it
    X = m._features(m._state(m.demand_pos_["D1"]), np.array([r1, r2]))
    assert (X[:, g] == 0.0).all()
    # without the relation the group reads 0
    m0 = Matcher().fit(firms, DEMANDS + [brief], RELATIONS)
    X = m0._features(m0._state(m0.demand_pos_["B1"]), np.array([r1, r2]))
    assert (X[:, g] == 0.0).all()



@pytest.mark.skipif(not (DEV / "qrels.txt").exists(),
                    reason=f"handwritten-dev benchmark not found at {DEV} (../shared absent)")
def test_feedback_terms_per_demand_kind_come_from_the_weights_unless_given():
    """(Q7) Matcher(prf_terms=None) keeps as many feedback terms as weights.json's
    ``prf_terms`` names for the demand's kind (detailed: specs given; network: a short call by
    a leader with known suppliers; brief: a short call without), PRF_TERMS for a kind it does
    not name; an explicit prf_terms holds for every kind."""
    import numpy as np
    from matchmaker.rank import _DEFAULT_WEIGHTS
    firms, demands, relations = load_dir(DEV)
    leader = next(d["leader"] for d in demands if any(r["relation"] == "供应" and d["leader"] in
                                                      (r["firm_a"], r["firm_b"]) for r in relations))
    short = {**demands[0], "description": "", "specs": "", "chains": [], "title": "净水机滤芯 膜元件 配套合作"}
    demands = demands[:1] + [{**short, "demand_id": "N1", "leader": leader},
                             {**short, "demand_id": "B1", "leader": None}]

    def prf(m, did):
        st = m._state(m.demand_pos_[did])
        return st["kind"], st["q"]["prf"]

    def fitted(**kw):
        return Matcher(**kw).fit(firms, demands, relations)

    plain = fitted(weights=_DEFAULT_WEIGHTS)
    assert plain.prf_by_kind_ == {}

    def explicit(k, did):  # the plain matcher's query with prf_terms=k (its state redone)
        plain.prf_terms, pos = k, plain.demand_pos_[did]
        plain._dstate[pos] = None
        return prf(plain, did)[1]

    sized = dict(_DEFAULT_WEIGHTS, prf_terms={"detailed": 3, "network": 5, "brief": 7})
    m = fitted(weights=sized)
    for did, kind, k in ((demands[0]["demand_id"], "detailed", 3), ("N1", "network", 5), ("B1", "brief", 7)):
        got_kind, q = prf(m, did)
        assert got_kind == kind and 0 < q.nnz <= k + 2 and (q != explicit(k, did)).nnz == 0, (did, q.nnz)
    # PRF_TERMS where the weights name none; an explicit number holds for every kind
    unsized = explicit(None, "B1")
    assert (unsized != explicit(Matcher.PRF_TERMS, "B1")).nnz == 0 and unsized.nnz > 7
    m3 = fitted(weights=sized, prf_terms=3)
    assert all((prf(m3, d)[1] != explicit(3, d)).nnz == 0 for d in ("N1", "B1"))
    # the firm direction reads the same feedback queries
    fi = m.firm_pos_[firms[-1]["credit_code"]]
    assert np.allclose(m._firm_features(fi), _per_pair_features(m, fi), atol=1e-6)


def test_term_weights_and_reasons_of_the_shown_rows_equal_each_firms_own(matcher):
    # rank_smes reads the shown firms' term weights at once (_term_weights_of, _reasons_of):
    # each firm's must be what _term_weights and _reasons give it alone
    import numpy as np

    for did in ("D1", "D2"):
        d, st = matcher._resolve_demand(did)
        cand = [int(c) for c in matcher._candidates(st)]
        assert len(cand) > 1
        many = matcher._term_weights_of(st, cand)
        assert many == [matcher._term_weights(st, fi) for fi in cand]
        assert any(own for own, _ in many)
        X = matcher._features(st, np.asarray(cand))
        assert matcher._reasons_of(d, st, cand, X) == [matcher._reasons(d, st, fi, x) for fi, x in zip(cand, X)]
