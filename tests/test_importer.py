"""The importer on every encoding, alias and fault kind — with real files."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook

from matchmaker import importer
from matchmaker.importer import ImportFailed, read_files, read_sources
from conftest import BENCH, CODES, need_shared


def _bytes(small_set, name, encoding="utf-8"):
    return small_set[name].read_text(encoding="utf-8").encode(encoding)


def _xlsx(text: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in csv.reader(io.StringIO(text)):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sources(small_set, encoding="utf-8", xlsx=False):
    out = []
    for name in ("relations", "demands", "firms"):  # wrong order on purpose
        text = small_set[name].read_text(encoding="utf-8")
        if xlsx:
            out.append((f"{name}.xlsx", _xlsx(text)))
        elif encoding == "utf-8-sig":
            out.append((f"{name}.csv", b"\xef\xbb\xbf" + text.encode("utf-8")))
        else:
            out.append((f"{name}.csv", text.encode(encoding)))
    return out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_every_encoding_reads_the_same(small_set, encoding):
    result = read_sources(_sources(small_set, encoding))
    assert [f["name"] for f in result.firms][1] == "青岛甲乙膜科技有限公司"
    assert result.firms[1]["tiers"] == ["专精特新“小巨人”"]
    assert result.firms[2]["tiers"] == ["创新型中小企业", "瞪羚企业"]
    assert result.demands[0]["cooperation"] == ["联合开发", "产品采购"]
    assert result.demands[1]["deadline"] == "2027-03-01"
    assert result.demands[1]["leader"] == CODES["leader"]
    assert result.relations[0] == {"firm_a": CODES["sme1"], "firm_b": CODES["leader"],
                                   "relation": "供应", "year": 2023}


def test_xlsx_reads_the_same(small_set):
    result = read_sources(_sources(small_set, xlsx=True))
    assert len(result.firms) == 3 and len(result.demands) == 2 and len(result.relations) == 2
    assert result.firms[0]["role"] == "leader"


def test_english_aliases(small_set):
    text = small_set["firms"].read_text(encoding="utf-8").splitlines()
    text[0] = "name,credit_code,role,tiers,chains,segments,products,technologies,description,district,note"
    result = read_sources([("firms.csv", "\n".join(text).encode())])
    assert result.firms[1]["chains"] == ["智能家电"]
    assert result.firms[1]["extra"] == {"note": "重点培育"}


def test_unknown_columns_are_kept(small_set):
    result = read_files([small_set["firms"]])
    assert result.firms[1]["extra"] == {"备注": "重点培育"}


def _fail(sources, known=None) -> list[importer.Fault]:
    with pytest.raises(ImportFailed) as exc:
        read_sources(sources, known)
    return exc.value.faults


def test_wrong_check_character(small_set):
    text = small_set["firms"].read_text(encoding="utf-8")
    bad = CODES["sme1"][:17] + ("0" if CODES["sme1"][17] != "0" else "1")
    faults = _fail([("firms.csv", text.replace(CODES["sme1"], bad).encode())])
    assert len(faults) == 1
    f = faults[0]
    assert (f.file, f.row, f.column) == ("firms.csv", 3, "统一社会信用代码")
    assert "校验位" in f.message
    assert "firms.csv 第3行 “统一社会信用代码”列" in str(f)


def test_missing_required_column(small_set):
    lines = small_set["demands"].read_text(encoding="utf-8").splitlines()
    cut = [",".join(c for i, c in enumerate(next(csv.reader([line]))) if i != 2) for line in lines]
    faults = _fail([("firms.csv", _bytes(small_set, "firms")), ("demands.csv", "\n".join(cut).encode())])
    assert [(f.row, f.column) for f in faults] == [(1, "需求类型")]
    assert "缺少必填列" in faults[0].message


def test_unknown_leader_and_unknown_kind_are_all_reported(small_set):
    text = small_set["demands"].read_text(encoding="utf-8")
    text = text.replace("青岛示例家电集团有限公司,技术需求", "不存在的集团,技术需求").replace("场景需求", "采购需求")
    faults = _fail([("firms.csv", _bytes(small_set, "firms")), ("demands.csv", text.encode())])
    assert [(f.row, f.column) for f in faults] == [(2, "链主企业"), (3, "需求类型")]
    assert "不在企业名录中" in faults[0].message and "采购需求" in faults[1].message


def test_leader_known_from_the_database(small_set):
    known = {CODES["leader"]: (CODES["leader"], "leader"), "青岛示例家电集团有限公司": (CODES["leader"], "leader")}
    result = read_sources([("demands.csv", _bytes(small_set, "demands"))], known)
    assert len(result.demands) == 2


def test_demand_by_an_sme_is_refused(small_set):
    text = small_set["demands"].read_text(encoding="utf-8").replace(
        "青岛示例家电集团有限公司,技术需求", "青岛甲乙膜科技有限公司,技术需求")
    faults = _fail([("firms.csv", _bytes(small_set, "firms")), ("demands.csv", text.encode())])
    assert "不是链主企业" in faults[0].message


def test_empty_name(small_set):
    text = small_set["firms"].read_text(encoding="utf-8").replace("青岛丙丁电子有限公司", "")
    faults = _fail([("firms.csv", text.encode())])
    assert [(f.row, f.column, f.message) for f in faults] == [(4, "企业名称", "企业名称为空")]


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"%PDF-1.7\n\xff\xfe\x00\x01",
                                  b"PK\x03\x04broken zip", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old xls",
                                  "随便写的一段话，不是表格".encode("gbk"), b""])
def test_bytes_that_are_no_spreadsheet(data):
    faults = _fail([("upload.bin", data)])
    assert len(faults) == 1 and faults[0].file == "upload.bin"


def test_bad_date_and_year(small_set):
    dem = small_set["demands"].read_text(encoding="utf-8").replace("2026-12-31", "明年年底")
    rel = small_set["relations"].read_text(encoding="utf-8").replace("2023", "23年")
    faults = _fail([("firms.csv", _bytes(small_set, "firms")), ("demands.csv", dem.encode()),
                    ("relations.csv", rel.encode())])
    assert {(f.file, f.column) for f in faults} == {("demands.csv", "截止日期"), ("relations.csv", "年份")}


def test_duplicate_code_in_one_load(small_set):
    faults = _fail([("a.csv", _bytes(small_set, "firms")), ("b.csv", _bytes(small_set, "firms"))])
    assert len(faults) == 3 and all("重复" in f.message for f in faults)


def test_every_fault_of_a_file_is_reported(small_set):
    text = small_set["firms"].read_text(encoding="utf-8")
    text = text.replace("中小企业,专精", "大型企业,专精").replace(CODES["sme2"], "123")
    faults = _fail([("firms.csv", text.encode())])
    assert [(f.row, f.column) for f in faults] == [(3, "企业类型"), (4, "统一社会信用代码")]


def test_dates_in_both_styles():
    assert importer.parse_date("2026年7月1日") == "2026-07-01"
    assert importer.parse_date("２０２６－０７－０１") == "2026-07-01"
    assert importer.parse_date("2026/13/01") is None


@pytest.mark.parametrize("name", ["handwritten-dev", "ickg-dev/ickg-industry", "ickg-dev/ickg-supply"])
def test_benchmark_sets_read_unchanged(name):
    folder = need_shared(BENCH / name)
    result = read_files([folder / "relations.csv", folder / "demands.csv", folder / "firms.csv"])
    with open(folder / "firms.csv", encoding="utf-8-sig") as fh:
        assert len(result.firms) == sum(1 for _ in csv.DictReader(fh))
    assert result.demands and result.relations
