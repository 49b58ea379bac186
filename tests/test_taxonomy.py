import csv
import json
from pathlib import Path

import pytest

from matchmaker.taxonomy import STAGES, DEFAULT_PATH, TaxonomyError, load_taxonomy, norm

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REQUIRED_CHAINS = ["智能家电", "新型显示", "集成电路", "人工智能", "新能源汽车", "氢能与储能", "智能制造装备",
                   "人形机器人", "生物医药", "新材料与精细化工", "食品饮料", "精密仪器仪表", "轨道交通装备"]


@pytest.fixture(scope="module")
def tx():
    return load_taxonomy()


def write(tmp_path, doc) -> Path:
    p = tmp_path / "taxonomy.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p


def small_doc():
    return {"version": 1, "chains": [{"id": "a", "name": "甲链", "segments": [
        {"id": "a/x", "name": "零件", "stage": "上游", "parent": None, "terms": ["齿轮", "轴承"], "problems": ["磨损快"]},
        {"id": "a/y", "name": "整机", "stage": "中游", "parent": None, "terms": ["减速机"], "problems": []}]}],
        "synonyms": [["RV减速器", "减速机"]], "supplies": [["a/x", "a/y"]]}


def test_default_path_is_the_packaged_file():
    assert DEFAULT_PATH == Path(__file__).resolve().parents[1] / "datasets" / "taxonomy.json"
    assert DEFAULT_PATH.is_file()


def test_required_chains_with_all_three_stages(tx):
    names = [c.name for c in tx.chains]
    for name in REQUIRED_CHAINS:
        assert name in names
        chain = tx.chain(name)
        stages = {tx.segments[s].stage for s in chain.segment_ids}
        assert stages == set(STAGES), name


def test_leaf_segments_have_enough_terms(tx):
    for s in tx.segments.values():
        assert s.stage in STAGES
        if not tx.children(s.id):
            assert 20 <= len(s.terms) <= 60, (s.id, len(s.terms))
            assert len(set(s.terms)) == len(s.terms), s.id


def test_most_segments_have_problem_words(tx):
    leaves = [s for s in tx.segments.values() if not tx.children(s.id)]
    with_problems = [s for s in leaves if len(s.problems) >= 4]
    assert len(with_problems) / len(leaves) > 0.9


def test_synonyms_case_and_width_insensitive(tx):
    group = tx.synonyms_of("IGBT")
    assert "绝缘栅双极型晶体管" in group and "功率器件" in group
    assert tx.synonyms_of("ｉｇｂｔ") == group
    assert "反渗透膜" in tx.synonyms_of("ro膜")
    assert "可编程逻辑控制器" in tx.synonyms_of("PLC")
    assert "电池管理系统" in tx.synonyms_of("bms")
    assert "自动光学检测" in tx.synonyms_of("AOI")
    assert tx.synonyms_of("完全不存在的词") == []


def test_terms_cover_synonyms_problems_and_names(tx):
    terms = set(tx.terms())
    for t in ["绝缘栅双极型晶体管", "叫不醒", "压缩机与电机", "智能家电", "MES", "制造执行系统"]:
        assert t in terms
    assert len(terms) > 3000


def test_segments_for_term_follows_synonyms(tx):
    ids = {s.id for s in tx.segments_for_term("绝缘栅双极型晶体管")}
    assert "ic/power-device" in ids and "nev/e-drive" in ids
    assert [s.id for s in tx.segments_for_term("叫不醒")][0] in {"home-appliance/voice-interaction", "ai/speech"}
    seg = tx.segments_for_term("RO膜")[0]
    assert seg.id == "home-appliance/water-filter"
    assert seg.chain == "智能家电" and seg.stage == "上游"
    assert tx.segments_for_term("这不是术语") == []


def test_find_segments_for_free_firm_labels(tx):
    assert [s.id for s in tx.find_segments("智能家电", "核心零部件")] == ["home-appliance/core-parts"]
    assert [s.id for s in tx.find_segments("智能家电", "压缩机")] == ["home-appliance/compressor-motor"]
    assert [s.id for s in tx.find_segments("新能源汽车", "电控")] == ["nev/e-drive"]
    assert [s.id for s in tx.find_segments("家电", "水处理滤材与膜")] == ["home-appliance/water-filter"]
    # chain unknown or without a match: the label alone decides
    assert "industrial-internet/industrial-software" in {s.id for s in tx.find_segments("人工智能", "工业软件")}
    assert "industrial-internet/production-control" in {s.id for s in tx.find_segments(None, "MES")}
    # several labels in one cell
    ids = {s.id for s in tx.find_segments("集成电路", "封装测试/晶圆制造")}
    assert ids == {"ic/packaging-test", "ic/wafer-fab"}
    assert tx.find_segments("智能家电", "") == []
    # the same word means the chain's own segment
    assert [s.id for s in tx.find_segments("新能源汽车", "核心零部件")] == ["nev/core-parts"]
    # a stage word names the chain's top-level segments at that stage
    ids = [s.id for s in tx.find_segments("海洋装备", "上游配套")]
    assert ids and all(tx.segments[i].stage == "上游" and tx.segments[i].chain_id == "marine" for i in ids)
    assert [s.id for s in tx.find_segments("新能源汽车", "中游制造")] == ["nev/vehicle"]


def test_find_segments_for_a_problem_text(tx):
    text = "用户反映净水机用了几个月出水变小、废水变多，换芯太频繁"
    assert tx.find_segments(text)[0].id == "home-appliance/water-filter"
    assert tx.find_segments("产线人工目检，漏检和误检都多")[0].id in {"smart-equipment/vision-inspection", "ai/ai-industry"}
    assert tx.find_segments("") == []


def test_problem_phrases_match_with_words_inserted(tx):
    from matchmaker.taxonomy import _gapped
    assert _gapped("出水变小", "用了三个月出水明显变小")
    assert not _gapped("出水变小", "出水口很小，变小的是压力")
    assert not _gapped("叫不醒", "叫了半天不醒")  # short phrases only match as written
    assert tx.find_segments("电池包冬天续航明显缩水")[0].id == "nev/battery-system"


def test_terms_order_is_stable(tx):
    assert tx.terms() == load_taxonomy().terms()


def test_supply_edges_and_chain_of(tx):
    assert ("ic/power-device", "nev/e-drive") in tx.supply_edges
    assert ("materials/electronic-chemicals", "ic/wafer-fab") in tx.supply_edges
    for a, b in tx.supply_edges:
        assert a in tx.segments and b in tx.segments
    assert tx.chain_of("nev/e-drive").name == "新能源汽车"
    assert "ic/power-device" in tx.suppliers_of("nev/e-drive")
    cross = [(a, b) for a, b in tx.supply_edges if tx.segments[a].chain_id != tx.segments[b].chain_id]
    assert len(cross) > 50


def test_codes_exist_in_reference_tables(tx):
    if not SHARED.is_dir():
        pytest.skip(f"shared reference tables not found at {SHARED}")
    gbt = {r["code"] for r in csv.DictReader(open(SHARED / "reference" / "gbt4754_2017.csv", encoding="utf-8"))}
    sei = {r["code"] for r in csv.DictReader(open(SHARED / "reference" / "sei2018_top2.csv", encoding="utf-8"))}
    for c in tx.chains:
        assert c.gbt4754 and set(c.gbt4754) <= gbt, c.name
        assert c.sei2018 and set(c.sei2018) <= sei, c.name


def test_norm():
    assert norm("Ｍｉｎｉ ＬＥＤ") == norm("MiniLED") == "miniled"


def test_small_file_loads(tmp_path):
    tx = load_taxonomy(write(tmp_path, small_doc()))
    assert [s.id for s in tx.segments_for_term("RV减速器")] == ["a/y"]
    assert tx.supply_edges == (("a/x", "a/y"),)


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["chains"][0]["segments"].append(dict(d["chains"][0]["segments"][0])), "重复"),
    (lambda d: d["chains"][0]["segments"][0].update(stage="上中游"), "上游、中游或下游"),
    (lambda d: d["supplies"].append(["a/x", "a/nowhere"]), "a/nowhere"),
    (lambda d: d["chains"][0]["segments"][1].update(parent="a/none"), "上级环节"),
    (lambda d: d["synonyms"].append(["孤词"]), "同义词组"),
    (lambda d: d["chains"][0]["segments"][0].update(terms="齿轮"), "字符串列表"),
    (lambda d: d.pop("chains"), "chains"),
])
def test_broken_files_are_refused_clearly(tmp_path, breakage, message):
    doc = small_doc()
    breakage(doc)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(write(tmp_path, doc))


def test_unreadable_files(tmp_path):
    with pytest.raises(TaxonomyError, match="找不到"):
        load_taxonomy(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="JSON"):
        load_taxonomy(bad)
