"""Baselines, the quality harness and the set grower (bench/)."""

import csv
import sys
from pathlib import Path

import ir_measures
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEV = SHARED / "bench" / "handwritten-dev"
sys.path.insert(0, str(ROOT / "bench"))

import grow  # noqa: E402
import quality  # noqa: E402

from matchmaker import baselines as B  # noqa: E402
from matchmaker.creditcode import is_valid  # noqa: E402

needs_shared = pytest.mark.skipif(not (DEV / "qrels.txt").exists(),
                                  reason=f"benchmark sets not found at {SHARED / 'bench'} (../shared is absent)")

FIRMS = [  # name, role, chains, products, technologies, description
    ("青岛澜庭家电集团有限公司", "链主企业", "智能家电", "冰箱、洗衣机", "变频控制", "整机制造集团"),
    ("青岛天曜面板股份有限公司", "链主企业", "新型显示", "液晶面板", "氧化物背板", "面板制造"),
    ("青岛冠力压缩机有限公司", "中小企业", "智能家电", "变频压缩机", "转子压缩机设计", "为冰箱空调配套压缩机"),
    ("青岛净源膜科技有限公司", "中小企业", "智能家电", "反渗透膜元件", "抗污堵膜材料", "净水机滤芯与反渗透膜"),
    ("青岛声远智能科技有限公司", "中小企业", "新型显示", "远场语音模组", "麦克风阵列降噪", "电视远场语音唤醒"),
    ("青岛芯控电子有限公司", "中小企业", "新型显示", "时序控制芯片", "背光调光算法", "显示驱动芯片设计"),
    ("青岛鲜冷科技有限公司", "中小企业", "智能家电", "保鲜模块", "精控保鲜", "冰箱保鲜技术"),
    ("青岛云答软件有限公司", "中小企业", "人工智能", "知识库问答系统", "大模型检索增强", "售后知识库问答"),
]
DEMANDS = [  # id, leader index, title, description, chains
    ("T-1", 0, "净水机滤芯寿命", "高硬度水质地区反渗透膜元件易污堵，寻求抗污堵膜材料", "智能家电"),
    ("T-2", 1, "电视远场语音唤醒", "沙发距离说话电视没反应，需要麦克风阵列降噪方案", "新型显示"),
    ("T-3", 1, "时序控制芯片国产化", "8K电视时序控制芯片替代，集成背光调光", "新型显示"),
]
QRELS = [("T-1", 3, 2), ("T-1", 6, 1), ("T-2", 4, 2), ("T-3", 5, 2), ("T-3", 4, 0)]


def code(i: int) -> str:
    return grow.credit_code(i, "370212")


def write_tiny(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "firms.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["企业名称", "统一社会信用代码", "企业类型", "所属产业链", "主营产品", "核心技术", "企业简介"])
        for i, (name, role, chain, prod, tech, desc) in enumerate(FIRMS):
            w.writerow([name, code(i), role, chain, prod, tech, desc])
    with open(folder / "demands.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["需求编号", "链主企业", "需求类型", "需求名称", "需求描述", "所属产业链"])
        for did, leader, title, desc, chain in DEMANDS:
            w.writerow([did, FIRMS[leader][0], "技术需求", title, desc, chain])
    with open(folder / "relations.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["企业A", "企业B", "关系类型", "年份"])
        w.writerow([FIRMS[2][0], FIRMS[0][0], "供应", "2023"])
    (folder / "qrels.txt").write_text("".join(f"{d} 0 {code(i)} {g}\n" for d, i, g in QRELS), encoding="utf-8")
    (folder / "difficulty.tsv").write_text("T-1\teasy\nT-2\tmedium\nT-3\thard\n", encoding="utf-8")
    return folder


@pytest.fixture
def tiny(tmp_path):
    return write_tiny(tmp_path / "tiny")


def check_trec(path: Path, queries: set[str], docs: set[str]):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, "empty run"
    by_query: dict[str, list[tuple[int, float]]] = {}
    for line in lines:
        parts = line.split()
        assert len(parts) == 6 and parts[1] == "Q0", line
        assert parts[0] in queries and parts[2] in docs, line
        by_query.setdefault(parts[0], []).append((int(parts[3]), float(parts[4])))
    for ranks in by_query.values():
        assert [r for r, _ in ranks] == list(range(1, len(ranks) + 1))
        assert all(a[1] >= b[1] for a, b in zip(ranks, ranks[1:]))
    parsed = list(ir_measures.read_trec_run(str(path)))
    assert len(parsed) == len(lines)


@pytest.mark.parametrize("cls", B.BASELINES, ids=lambda c: c.name)
def test_baselines_write_valid_trec_runs_in_both_directions(tiny, tmp_path, cls):
    bench = B.read_set(tiny)
    smes = {f["credit_code"] for f in bench.smes}
    leaders = {f["credit_code"] for f in bench.firms} - smes
    assert len(leaders) == 2

    run = B.rank_smes(cls(), bench, k=100)
    B.write_trec(run, tmp_path / "smes.trec", cls.name.replace(" ", "_"))
    check_trec(tmp_path / "smes.trec", {d["demand_id"] for d in bench.demands}, smes)
    # the obvious match comes first
    assert max(run["T-1"], key=run["T-1"].get) == code(3)

    run = B.rank_demands(cls(), bench, k=100)
    B.write_trec(run, tmp_path / "demands.trec")
    check_trec(tmp_path / "demands.trec", smes, {d["demand_id"] for d in bench.demands})
    assert max(run[code(4)], key=run[code(4)].get) == "T-2"


def test_firm_qrels_swap_and_keep_only_firms_with_a_relevant_demand(tiny):
    fq = B.read_set(tiny).firm_qrels()
    assert fq[code(3)] == {"T-1": 2}
    assert fq[code(4)] == {"T-2": 2, "T-3": 0}
    assert code(0) not in fq


@needs_shared
def test_bm25_on_handwritten_dev_is_in_the_published_band():
    bench = B.read_set(DEV)
    scores = {cls.name: quality.evaluate(bench.qrels, B.rank_smes(cls(), bench, 100)) for cls in B.BASELINES}
    # the benchmark's README: the best baseline reaches about 0.845 nDCG@10
    assert 0.72 <= scores["BM25"]["nDCG@10"] <= 0.92
    best = max(s["nDCG@10"] for s in scores.values())
    assert 0.80 <= best <= 0.90


def test_unanswered_queries_count_zero():
    qrels = {"q1": {"d1": 2}, "q2": {"d2": 2}}
    full = quality.evaluate(qrels, {"q1": {"d1": 1.0}, "q2": {"d2": 1.0}})
    half = quality.evaluate(qrels, {"q1": {"d1": 1.0}})
    assert full["nDCG@10"] == pytest.approx(1.0)
    assert half["nDCG@10"] == pytest.approx(0.5)
    assert quality.shortfall(0.9, 0.8) == pytest.approx(0.5)


def test_quality_script_runs_end_to_end_on_a_tiny_set(tiny, tmp_path, capsys):
    standin = tmp_path / "standin.trec"
    standin.write_text(f"T-1 Q0 {code(3)} 1 2.0 standin\nT-2 Q0 {code(4)} 1 1.0 standin\n", encoding="utf-8")
    assert quality.main(["--bench", str(tiny.parent), "--ours-run", str(standin),
                         "--json", str(tmp_path / "rows.json")]) == 0
    out = capsys.readouterr().out
    for name in ["matchmaker", "BM25", "TF-IDF char 1-3", "TF-IDF words"]:
        assert f"| tiny | demands | all | 3 | {name} |" in out
    assert "| tiny | demands | hard | 1 | matchmaker | 0.000 |" in out   # T-3 unanswered
    assert "| tiny | firms | all |" in out


def test_quality_runs_our_ranker_through_the_cli(tiny):
    logged = []
    rows = quality.run_quality([tiny], log=logged.append)
    systems = {r["system"] for r in rows if r["direction"] == "demands" and r["slice"] == "all"}
    assert {"BM25", "TF-IDF char 1-3", "TF-IDF words"} <= systems
    assert "matchmaker" in systems, logged
    ours = next(r for r in rows if r["system"] == "matchmaker" and r["slice"] == "all")
    assert set(ours["shortfall"]) == set(quality.MEASURE_NAMES)


def test_grow_firms_yields_n_smes_with_unique_names_and_valid_codes(tiny):
    rows = list(grow.grow_firms(tiny / "firms.csv", 500, seed=3))
    smes = [r for r in rows if r["企业类型"] == "中小企业"]
    assert len(smes) == 500 and len(rows) == 502
    assert len({r["企业名称"] for r in rows}) == len(rows)
    assert len({r["统一社会信用代码"] for r in rows}) == len(rows)
    assert all(is_valid(r["统一社会信用代码"]) for r in rows)
    assert list(rows[0]) == grow.FIRM_COLUMNS
    assert rows == list(grow.grow_firms(tiny / "firms.csv", 500, seed=3))   # reproducible


def test_grown_set_loads_through_the_importer(tiny, tmp_path):
    from matchmaker.importer import read_files

    out = tmp_path / "grown"
    assert grow.main(["--n", "300", "--out", str(out), "--src", str(tiny), "--demands", "20"]) == 0
    loaded = read_files([out / "firms.csv", out / "demands.csv", out / "relations.csv"])
    assert len([f for f in loaded.firms if f["role"] == "sme"]) == 300
    assert len(loaded.demands) == 20
    assert (out / "qrels.txt").read_text(encoding="utf-8") == (tiny / "qrels.txt").read_text(encoding="utf-8")
