import json
from pathlib import Path

import pytest

from matchmaker.rank import Match
from matchmaker.service import (build_matcher, format_json, format_table, format_trec, load_dir,
                                rank_all, rank_all_firms)

from test_rank import DEMANDS, FIRMS, RELATIONS

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="module")
def matcher():
    return build_matcher(FIRMS, DEMANDS, RELATIONS, taxonomy=None)


def test_trec_lines_both_directions(matcher):
    lines = format_trec(rank_all(matcher, top=3)).splitlines()
    assert len(lines) == 6
    q, q0, doc, rank, score, tag = lines[0].split()
    assert (q, q0, rank, tag) == ("D1", "Q0", "1", "matchmaker") and doc == "S1"
    float(score)
    firm_lines = format_trec(rank_all_firms(matcher, top=2)).splitlines()
    assert firm_lines and all(l.split()[0].startswith("S") and l.split()[2].startswith("D") for l in firm_lines)
    assert "L1" not in format_trec(rank_all_firms(matcher))  # leaders are not SMEs browsing


def test_json_carries_reasons_and_names(matcher):
    names = {f["credit_code"]: f["name"] for f in FIRMS}
    out = json.loads(format_json(rank_all(matcher, top=2), names))
    first = out[0]["matches"][0]
    assert out[0]["demand_id"] == "D1" and first["name"] == "青岛渗源膜科技有限公司"
    assert {"terms", "path", "relations", "tier", "parts"} <= set(first["reasons"])
    outf = json.loads(format_json(rank_all_firms(matcher, top=1, credit_codes=["S2"]), direction="firm"))
    assert outf[0]["credit_code"] == "S2" and outf[0]["matches"][0]["demand_id"] == "D2"


def test_table_aligns_chinese(matcher):
    names = {f["credit_code"]: f["name"] for f in FIRMS}
    titles = {d["demand_id"]: d["title"] for d in DEMANDS}
    text = format_table(rank_all(matcher, top=2), names=names, titles=titles)
    assert "需求 D1：净水机反渗透膜元件寿命提升" in text and "青岛渗源膜科技有限公司" in text
    assert "（没有匹配结果）" in format_table([("D9", [])])
    long = format_table([("D1", [Match(credit_code="S1", score=0.5, reasons={"terms": ["膜"]})])],
                        names={"S1": "很长的企业名称" * 10})
    assert "…" in long


@pytest.mark.skipif(not (SHARED / "bench" / "handwritten-dev" / "firms.csv").exists(),
                    reason="../shared/bench/handwritten-dev absent")
def test_load_dir_reads_the_interchange_files():
    firms, demands, relations = load_dir(SHARED / "bench" / "handwritten-dev")
    codes = {f["credit_code"] for f in firms}
    assert len(firms) > 400 and demands and relations
    assert all(d["leader"] in codes for d in demands)
    assert all(r["firm_a"] in codes and r["firm_b"] in codes for r in relations)
