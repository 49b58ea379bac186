"""Shared fixtures: where ../shared is, and small real files in the interchange formats."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MATCHMAKER_SHARED", ROOT.parent / "shared"))
BENCH = SHARED / "bench"
HANDWRITTEN = BENCH / "handwritten-dev"
BIN = Path(sys.executable).parent


def need_shared(path: Path = HANDWRITTEN) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared benchmark sets (../shared/bench) are not checked out beside the repo")
    return path


@pytest.fixture
def handwritten() -> Path:
    return need_shared(HANDWRITTEN)


@pytest.fixture
def matchmaker_cmd() -> list[str]:
    exe = BIN / "matchmaker"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("matchmaker")
    return [found] if found else [sys.executable, "-m", "matchmaker.cli"]


FIRMS_CSV = """企业名称,统一社会信用代码,企业类型,资质,所属产业链,产业链环节,主营产品,核心技术,企业简介,所在区市,备注
青岛示例家电集团有限公司,{leader},链主企业,,智能家电,整机制造,冰箱、空调,变频控制,示例链主,崂山区,
青岛甲乙膜科技有限公司,{sme1},中小企业,专精特新“小巨人”,智能家电,水处理滤材与膜,反渗透膜元件,抗污染RO膜,做膜的,城阳区,重点培育
青岛丙丁电子有限公司,{sme2},中小企业,创新型中小企业；瞪羚企业,集成电路,功率器件,IGBT模块,沟槽栅工艺,做芯片的,西海岸新区,
"""
DEMANDS_CSV = """需求编号,链主企业,需求类型,需求名称,需求描述,技术指标,所属产业链,合作方式,截止日期
T-1,青岛示例家电集团有限公司,技术需求,净水机膜元件,需要抗污堵的反渗透膜,寿命≥24个月,智能家电,联合开发；产品采购,2026-12-31
T-2,{leader},场景需求,功率模块验证场景,开放变频空调功率模块验证场景,,智能家电,场景开放,2027年3月1日
"""
RELATIONS_CSV = """企业A,企业B,关系类型,年份
青岛甲乙膜科技有限公司,青岛示例家电集团有限公司,供应,2023
{sme2},{leader},合作研发,
"""


def make_code(prefix17: str) -> str:
    from matchmaker.creditcode import check_char

    return prefix17 + check_char(prefix17)


CODES = {"leader": make_code("91370212MA3C00001"), "sme1": make_code("91370214MA3C00002"),
         "sme2": make_code("91370211MA3C00003")}


@pytest.fixture
def small_set(tmp_path) -> dict[str, Path]:
    """Three small UTF-8 CSV files (firms, demands, relations) with valid credit codes."""
    out = {}
    for name, text in (("firms", FIRMS_CSV), ("demands", DEMANDS_CSV), ("relations", RELATIONS_CSV)):
        p = tmp_path / f"{name}.csv"
        p.write_text(text.format(**CODES), encoding="utf-8")
        out[name] = p
    return out
