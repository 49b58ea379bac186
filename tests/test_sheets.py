"""Pairing sheets: formats, Chinese headers, formula neutralisation, escaping, PDF fonts."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from matchmaker import db as store
from matchmaker import events, sheets
from matchmaker.creditcode import check_char

EVIL = "=HYPERLINK(\"http://x\",\"点我\")"


def result() -> dict:
    """A `pair` result as the CLI gets it, with hostile names in it."""
    firms = {
        "L1": {"name": "澜庭智能家电集团股份有限公司", "role": "leader"},
        "L2": {"name": "鸿视数字科技集团有限公司", "role": "leader"},
        "S1": {"name": "青岛渗源膜科技有限公司", "tiers": ["专精特新“小巨人”"], "district": "黄岛区",
               "products": "家用反渗透（RO）膜元件"},
        "S2": {"name": EVIL, "products": "+SUM(A1:A9)"},
        "S3": {"name": "<script>alert(1)</script>有限公司", "products": "@cmd|' /C calc'!A0"},
        "S4": {"name": "青岛等候科技有限公司"},
    }
    meetings = [
        {"slot": 1, "table": 1, "leader": "L1", "sme": "S1", "demand_id": "A-005", "score": 0.92,
         "reasons": {"terms": ["膜元件", "脱盐率"], "path": ["需求", "智能家电", "上游原材料", "S1"]}},
        {"slot": 2, "table": 1, "leader": "L1", "sme": "S2", "demand_id": "A-005", "score": 0.5},
        {"slot": 1, "table": 2, "leader": "L2", "sme": "S3", "demand_id": "-B-1", "score": 0.4},
    ]
    return {"event": {"id": 7, "name": "崂山区融链固链对接会", "date": "2026-12-03", "venue": "科技城",
                      "start": "09:00", "slots": 3, "slot_minutes": 20, "tables": 2,
                      "breaks": [{"after": 1, "minutes": 10}]},
            "meetings": meetings, "unmatched_smes": ["S4"], "firms": firms,
            "table_leaders": {"1": "L1", "2": "L2"}, "waitlist": ["S4"],
            "demands": {"A-005": {"title": "高硬度水质地区净水机出水衰减问题"}},
            "unplaced": [{"leader": "L2", "sme": "S4", "demand_id": None, "kind": "pending",
                          "reason": "低于相关度下限"}]}


def test_slot_times_with_breaks():
    times = sheets.slot_times("09:00", 20, 4, [{"after": 2, "minutes": 15}])
    assert [(t["start"], t["end"]) for t in times] == [
        ("09:00", "09:20"), ("09:20", "09:40"), ("09:55", "10:15"), ("10:15", "10:35")]


def test_neutralise():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert sheets.neutralise(bad) == "'" + bad
    assert sheets.neutralise("青岛") == "青岛"
    assert sheets.neutralise(-1) == -1  # numbers stay numbers


def test_csv_has_bom_chinese_headers_and_no_formulas():
    text = sheets.render(result(), "csv")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["轮次", "开始", "结束", "桌号", "链主企业"]
    assert len(rows) == 4
    cells = [c for r in rows[1:] for c in r]
    assert "'" + EVIL in cells
    assert "'-B-1" in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert rows[3][1] == "09:30"  # the break after slot 1 shifts slot 2


def test_xlsx_sheets_headers_frozen_and_no_formulas(tmp_path):
    out = tmp_path / "s.xlsx"
    sheets.write(result(), "xlsx", out)
    wb = load_workbook(out)
    assert wb.sheetnames[:2] == ["总表", "洽谈清单"]
    assert "澜庭智能家电集团股份有限公司" in wb.sheetnames
    assert {"中小企业日程", "桌签", "未安排"} <= set(wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.freeze_panes in ("A2", "B2")
        assert ws.column_dimensions["A"].width > 5
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"formula in {ws.title}!{c.coordinate}"
                if isinstance(c.value, str):
                    assert not c.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    grid = wb["总表"]
    assert grid["B1"].value.startswith("1号桌")
    assert grid["B2"].value == "青岛渗源膜科技有限公司"
    assert grid["C3"].value == "开放现场对接"
    listing = [c.value for c in wb["洽谈清单"][4]]
    assert "'" + EVIL in listing


def test_html_escapes_and_prints_on_a4():
    html = sheets.render(result(), "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "@media print" in html and "size: A4" in html
    assert '"Noto Sans CJK SC"' in html
    assert html.count('class="page leader"') == 2
    assert "开放现场对接" in html and "低于相关度下限" in html
    assert "候补顺序" in html


def test_table_and_json(capsys):
    sheets.write(result(), "table", None)
    out = capsys.readouterr().out
    assert "青岛渗源膜科技有限公司" in out and "共 3 场洽谈" in out
    sheets.write(result(), "json", None)
    data = json.loads(capsys.readouterr().out)
    assert data["meetings"][0]["sme"] == "S1" and data["unmatched_smes"] == ["S4"]


def test_binary_to_stdout(capsysbinary):
    sheets.write(result(), "xlsx", None)
    assert capsysbinary.readouterr().out[:2] == b"PK"


@pytest.mark.skipif(not Path(sheets.CHROMIUM).exists() or not shutil.which("pdffonts"),
                    reason="Chromium or poppler-utils not installed")
def test_pdf_embeds_chinese_fonts(tmp_path):
    out = tmp_path / "s.pdf"
    sheets.write(result(), "pdf", out)
    assert out.read_bytes()[:5] == b"%PDF-"
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(r.split()[-5] == "yes" for r in rows), fonts  # every font embedded
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "澜庭智能家电集团股份有限公司" in text and "洽谈总表" in text
    pages = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    # grid + 2 leaders + agendas + unplaced + 2 table cards
    assert "Pages:          7" in pages or "Pages:           7" in pages, pages


def code(n: int) -> str:
    first = f"91370212MA{n:07d}"
    return first + check_char(first)


def test_render_event_from_the_database(tmp_path):
    """The web's download path: names, demand titles and profiles come from the database."""
    db = store.open_db(tmp_path / "t.db")
    leader, smes = code(1), [code(i) for i in range(2, 5)]
    store.upsert_firms(db, [{"credit_code": leader, "name": "琅泉啤酒集团股份有限公司", "role": "leader"}] + [
        {"credit_code": c, "name": f"青岛第{i}号科技有限公司", "role": "sme", "products": "发酵罐"}
        for i, c in enumerate(smes)])
    store.upsert_demands(db, [{"demand_id": "B-1", "leader": leader, "kind": "技术需求",
                               "title": "发酵罐在线监测", "description": "在线监测"}])
    eid = events.create_event(db, name="啤酒产业链对接会", date="2026-12-03", start="09:00",
                              slots=2, slot_minutes=20, tables=1)
    events.invite(db, eid, [leader] + smes)
    events.add_must_meet(db, eid, leader, smes[0], "B-1")
    events.add_must_meet(db, eid, leader, smes[1], "B-1")
    res = events.run_pairing(db, eid, matcher=None)
    assert len(res["meetings"]) == 2
    html = sheets.render_event(db, eid, "html")
    assert "发酵罐在线监测" in html and "青岛第0号科技有限公司" in html
    assert "主营：发酵罐" in html
    data = json.loads(sheets.render_event(db, eid, "json"))
    assert data["unmatched_smes"] == [smes[2]]
    assert sheets.render_event(db, eid, "xlsx")[:2] == b"PK"
