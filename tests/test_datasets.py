"""The demo Qingdao dataset: reproducible, complete, valid and varied."""

import csv
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from matchmaker.creditcode import is_valid
from matchmaker.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "datasets" / "qingdao"
FILES = ("firms.csv", "demands.csv", "relations.csv")
QINGDAO_REGIONS = {"370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"}
REAL_NAMES = ["海尔", "海信", "中车", "澳柯玛", "青岛啤酒", "青啤", "双星", "赛轮", "软控", "特锐德", "京东方", "歌尔", "芯恩"]


def read(name):
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def firms():
    return read("firms.csv")


@pytest.fixture(scope="module")
def demands():
    return read("demands.csv")


@pytest.fixture(scope="module")
def relations():
    return read("relations.csv")


def load_generator():
    spec = importlib.util.spec_from_file_location("qingdao_generate", ROOT / "datasets" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_generator_reproduces_the_committed_files(tmp_path):
    gen = load_generator()
    counts = gen.generate(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"{name} differs: rerun python datasets/generate.py"
    assert counts["firms"] == len(read("firms.csv"))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_generator_runs_with_other_seeds(tmp_path, seed):
    counts = load_generator().generate(tmp_path, seed=seed, n_smes=300)
    assert counts["firms"] == 300 + 19 and counts["demands"] >= 150
    rows = list(csv.DictReader(open(tmp_path / "firms.csv", encoding="utf-8")))
    assert all(is_valid(r["统一社会信用代码"]) for r in rows)


def test_a_quarter_of_smes_use_words_of_a_capability_they_lack():
    gen = load_generator()
    from matchmaker.taxonomy import load_taxonomy as lt
    g = gen.Gen(lt(), gen.SEED, 1000)
    g.run()
    smes = [f for f in g.firms if f.role == "中小企业"]
    decoys = [f for f in smes if f.decoy]
    assert 0.2 <= len(decoys) / len(smes) <= 0.3
    for f in decoys:
        seg = g.tx.segments[f.decoy]
        assert seg.id != f.segment.id
        assert any(t in f.description for t in seg.terms), f.name


def test_org_code_check_digit_function():
    gen = load_generator()
    # worked example from GB 11714: 12345678 -> check 8 (sum 3+14+27+40+25+48+28+16=201, 11-201%11=8)
    assert gen.gb11714_check("12345678") == "8"
    # the generator's own GB 32100 function agrees with the package's
    import random
    from matchmaker.creditcode import CHARSET, check_char
    rng = random.Random(7)
    for _ in range(200):
        first17 = "".join(rng.choice(CHARSET) for _ in range(17))
        assert gen.gb32100_check(first17) == check_char(first17)


def test_counts_meet_the_minimums(firms, demands, relations):
    roles = Counter(f["企业类型"] for f in firms)
    assert roles["链主企业"] >= 12
    assert roles["中小企业"] >= 3000
    assert len(demands) >= 150
    assert len(relations) >= 2000
    kinds = Counter(d["需求类型"] for d in demands)
    assert set(kinds) == {"技术需求", "场景需求"} and kinds["场景需求"] >= 15


def test_credit_codes_verify_and_are_unique(firms):
    gen = load_generator()
    codes = [f["统一社会信用代码"] for f in firms]
    assert len(set(codes)) == len(codes)
    for c in codes:
        assert is_valid(c), c
        assert c.startswith("91")
        assert gen.gb11714_check(c[8:16]) == c[16], c
    qingdao = [c for c in codes if c[2:8] in QINGDAO_REGIONS]
    assert len(qingdao) / len(codes) > 0.9


def test_names_unique_and_fictional(firms):
    names = [f["企业名称"] for f in firms]
    assert len(set(names)) == len(names)
    for n in names:
        assert not any(r in n for r in REAL_NAMES), n


def test_every_demand_leader_exists(firms, demands):
    leaders = {f["企业名称"] for f in firms if f["企业类型"] == "链主企业"}
    leaders |= {f["统一社会信用代码"] for f in firms if f["企业类型"] == "链主企业"}
    for d in demands:
        assert d["链主企业"] in leaders, d["需求编号"]
    posting = Counter(d["链主企业"] for d in demands)
    assert len(posting) >= 12


def test_demand_fields(demands):
    ids = [d["需求编号"] for d in demands]
    assert len(set(ids)) == len(ids)
    for d in demands:
        assert re.fullmatch(r"QD-202[67]-\d{4}", d["需求编号"])
        m = re.fullmatch(r"(\d{4})(?:-(\d{2})-(\d{2})|年(\d{1,2})月(\d{1,2})日)", d["截止日期"])
        assert m and m.group(1) in ("2026", "2027"), d["截止日期"]
        assert re.search(r"\d", d["技术指标"]), d["需求编号"]
        assert d["需求描述"] and d["需求名称"] and d["合作方式"] and d["所属产业链"]


def test_relations_refer_to_firms(firms, relations):
    known = {f["企业名称"] for f in firms} | {f["统一社会信用代码"] for f in firms}
    kinds = Counter(r["关系类型"] for r in relations)
    assert set(kinds) == {"供应", "合作研发", "投资", "控股", "竞争", "对接意向", "签约"}
    for r in relations:
        assert r["企业A"] in known and r["企业B"] in known
        assert r["年份"] == "" or 2000 <= int(r["年份"]) <= 2026


def test_tier_mix_is_realistic(firms):
    smes = [f for f in firms if f["企业类型"] == "中小企业"]
    tiers = Counter(t for f in smes for t in f["资质"].split("；") if t)
    n = len(smes)
    assert tiers["创新型中小企业"] > tiers["专精特新中小企业"] > tiers["专精特新“小巨人”"]
    assert 0.06 <= tiers["专精特新“小巨人”"] / n <= 0.10
    assert tiers["瞪羚企业"] > 0 and tiers["雏鹰企业"] > 0


def test_districts_cover_qingdao_and_beyond(firms):
    districts = Counter(f["所在区市"] for f in firms)
    for d in ["市南区", "市北区", "李沧区", "崂山区", "城阳区", "西海岸新区", "即墨区", "胶州市", "平度市", "莱西市"]:
        assert districts[d] >= 50, d
    outside = [d for d in districts if not d.endswith(("区", "市")) or d.startswith(("北京", "上海", "深圳", "苏州", "济南"))]
    assert outside


def test_chains_and_segments_come_from_the_taxonomy(firms):
    tx = load_taxonomy()
    names = {c.name for c in tx.chains}
    labelled = resolved = 0
    for f in firms:
        chains = [c for c in f["所属产业链"].split("；") if c]
        assert chains and set(chains) <= names, f["企业名称"]
        for label in filter(None, f["产业链环节"].split("；")):
            labelled += 1
            resolved += bool(tx.find_segments(chains[0], label))
    assert resolved / labelled > 0.85


def distinct(texts, prefix=None):
    keys = [t[:prefix] if prefix else t for t in texts]
    return len(set(keys)) / len(keys)


def test_texts_are_varied(firms, demands):
    smes = [f for f in firms if f["企业类型"] == "中小企业"]
    for texts in ([f["企业简介"] for f in smes], [d["需求描述"] for d in demands]):
        assert distinct(texts) > 0.95
        assert distinct(texts, 12) > 0.90
    assert distinct([d["需求名称"] for d in demands]) > 0.9
    # every writing style shows up
    desc = [f["企业简介"] for f in smes]
    assert sum("一般项目：" in t for t in desc) > 300           # 经营范围
    assert sum(bool(re.search(r"[≥≤±]", t)) for t in desc) > 300  # specification figures
    assert sum(len(t) < 60 for t in desc) > 150                 # terse product lists
    assert sum("成立于" in t or "创立于" in t or "创办" in t for t in desc) > 300  # prose


def test_demands_mix_solution_synonym_and_problem_wording(demands):
    tx = load_taxonomy()
    problems = {p for s in tx.segments.values() for p in s.problems}
    abbreviations = {t for g in tx.synonyms for t in g if re.fullmatch(r"[A-Za-z0-9\-+ ]{2,}", t)}
    text = [d["需求名称"] + d["需求描述"] for d in demands]
    with_problem = sum(any(p in t for p in problems) for t in text)
    with_abbr = sum(any(a in t for a in abbreviations) for t in text)
    assert with_problem >= 40 and with_abbr >= 20


def test_files_load_through_the_importer(tmp_path):
    importer = pytest.importorskip("matchmaker.importer")
    loaded = importer.read_files([DATA / n for n in FILES])
    assert len(loaded.firms) == len(read("firms.csv"))
    assert len(loaded.demands) == len(read("demands.csv"))
    assert len(loaded.relations) == len(read("relations.csv"))
