"""Pairing sheets for the organizer: master grid (slot × table), a sheet per chain leader, an
agenda per SME, table cards (桌签) — as XLSX, CSV, print-ready HTML (A4) and PDF.

Everything renders from one plain *context* dict (see :func:`context_from_result`), built
either from the ``pair --format json`` object alone or, richer (names, demand titles, firm
profiles, match reasons), from the database by ``matchmaker.events.sheet_context``.

Spreadsheet safety: any exported text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading apostrophe, in XLSX and CSV alike, so a firm name cannot
become a formula in the organizer's Excel (CSV injection).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path

__all__ = ["write", "render", "render_event", "context_from_result", "slot_times",
           "neutralise", "FORMATS", "CHROMIUM"]

FORMATS = ("table", "json", "csv", "xlsx", "html", "pdf")
CHROMIUM = os.environ.get("MATCHMAKER_CHROMIUM", "/usr/bin/chromium")
TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates" / "sheets"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell value that spreadsheet programs will not evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --------------------------------------------------------------------------- context

def slot_times(start: str, slot_minutes: int, slots: int, breaks=None) -> list[dict]:
    """Clock times of slots 1..slots. ``breaks``: [{"after": slot, "minutes": m}, ...] — a
    pause (tea, a speech) after that slot shifts every later slot."""
    h, m = (int(x) for x in str(start or "09:00").split(":")[:2])
    pause = defaultdict(int)
    for b in breaks or []:
        try:
            pause[int(b["after"])] += int(b["minutes"])
        except (KeyError, TypeError, ValueError):
            continue
    t = h * 60 + m
    out = []
    for s in range(1, int(slots) + 1):
        out.append({"slot": s, "start": _hhmm(t), "end": _hhmm(t + int(slot_minutes))})
        t += int(slot_minutes) + pause[s]
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def context_from_result(result: dict) -> dict:
    """The sheet context from a ``pair --format json`` object (names fall back to codes)."""
    if "grid" in result and "leaders" in result:
        return result  # already a context
    ev = dict(result.get("event") or {})
    slots = int(ev.get("slots") or max((m["slot"] for m in result.get("meetings", [])), default=0))
    times = slot_times(ev.get("start") or "09:00", ev.get("slot_minutes") or 20, slots,
                       ev.get("breaks"))
    firms = dict(result.get("firms") or {})
    for m in result.get("meetings", []):
        firms.setdefault(m["leader"], {"name": m.get("leader_name") or m["leader"]})
        firms.setdefault(m["sme"], {"name": m.get("sme_name") or m["sme"]})
    table_leader = dict(result.get("table_leaders") or {})
    for m in result.get("meetings", []):
        table_leader.setdefault(str(m["table"]), m["leader"])
    return build_context(ev, times, result.get("meetings", []), firms, table_leader,
                         result.get("unmatched_smes", []), result.get("demands") or {},
                         result.get("unplaced") or [], result.get("waitlist") or [])


def build_context(event: dict, times: list[dict], meetings: list[dict], firms: dict,
                  table_leader: dict, unmatched: list[str], demands: dict,
                  unplaced: list[dict] | None = None, waitlist: list[str] = ()) -> dict:
    """Assemble the context every format renders from.

    event: id, name, date, venue, start, slots, slot_minutes, tables, breaks.
    meetings: dicts with slot, table, leader, sme, demand_id, score, optional reasons/status.
    firms: credit code -> firm record (name, tiers, district, products, technologies, ...).
    table_leader: table number (str or int) -> leader credit code.
    demands: demand_id -> demand record (title, kind, ...).
    waitlist: unmatched SMEs with a relevant demand, best first (numbered on the sheets).
    """
    def name(code):
        return (firms.get(code) or {}).get("name") or code

    by_slot = {t["slot"]: t for t in times}
    wait = {c: i for i, c in enumerate((w for w in waitlist if w in set(unmatched)), start=1)}
    rows = []
    for m in sorted(meetings, key=lambda m: (m["slot"], m["table"])):
        t = by_slot.get(m["slot"], {"start": "", "end": ""})
        d = demands.get(m.get("demand_id")) or {}
        reasons = m.get("reasons") or {}
        if isinstance(reasons, str):
            try:
                reasons = json.loads(reasons)
            except ValueError:
                reasons = {}
        rows.append({
            "slot": m["slot"], "start": m.get("start") or t["start"], "end": m.get("end") or t["end"],
            "table": m["table"], "leader": m["leader"], "leader_name": name(m["leader"]),
            "sme": m["sme"], "sme_name": name(m["sme"]), "demand_id": m.get("demand_id") or "",
            "demand_title": m.get("demand_title") or d.get("title") or "",
            "score": m.get("score"), "why": reason_text(reasons),
            "profile": profile_text(firms.get(m["sme"]) or {}),
            "status": m.get("status") or "scheduled", "kind": m.get("kind") or m.get("source") or "",
        })
    tables = sorted({int(t) for t in table_leader} | {r["table"] for r in rows})
    n_tables = int(event.get("tables") or 0)
    if n_tables:
        tables = sorted(set(tables) | set(range(1, n_tables + 1)))
    leader_of = {int(t): code for t, code in table_leader.items()}
    grid = {(r["slot"], r["table"]): r for r in rows}
    leaders = []
    for code in dict.fromkeys(leader_of[t] for t in tables if t in leader_of):
        own = [t for t in tables if leader_of.get(t) == code]
        leaders.append({"code": code, "name": name(code), "tables": own,
                        "meetings": [r for r in rows if r["leader"] == code],
                        "open": [(s["slot"], s["start"], s["end"], t) for s in times for t in own
                                 if (s["slot"], t) not in grid]})
    smes = []
    for code in dict.fromkeys(r["sme"] for r in sorted(rows, key=lambda r: r["sme_name"])):
        smes.append({"code": code, "name": name(code),
                     "meetings": [r for r in rows if r["sme"] == code]})
    return {
        "event": event, "times": times, "tables": tables,
        "table_leader": {t: {"code": leader_of[t], "name": name(leader_of[t])}
                         for t in tables if t in leader_of},
        "grid": grid, "meetings": rows, "leaders": leaders, "smes": smes,
        "unmatched": sorted(({"code": c, "name": name(c), "wait": wait.get(c),
                              "profile": profile_text(firms.get(c) or {})} for c in unmatched),
                            key=lambda u: (u["wait"] is None, u["wait"] or 0, u["name"])),
        "unplaced": [dict(u, leader_name=name(u.get("leader")), sme_name=name(u.get("sme")))
                     for u in (unplaced or [])],
    }


def profile_text(firm: dict, limit: int = 60) -> str:
    """One line about an SME for the leader's sheet: tier, district, what it makes."""
    parts = []
    tiers = firm.get("tiers") or []
    if isinstance(tiers, str):
        tiers = [tiers]
    if tiers:
        parts.append("、".join(tiers))
    if firm.get("district"):
        parts.append(firm["district"])
    what = firm.get("products") or firm.get("technologies") or firm.get("description") or ""
    if what:
        parts.append("主营：" + _clip(what, limit))
    return "；".join(parts)


def reason_text(reasons: dict, limit: int = 5) -> str:
    """The ranker's reasons in one line: matched terms, chain path, relations."""
    if not reasons:
        return ""
    parts = []
    terms = [t for t in reasons.get("terms") or [] if t]
    if terms:
        parts.append("匹配词：" + "、".join(terms[:limit]))
    path = [p for p in reasons.get("path") or [] if p]
    if len(path) > 2:
        parts.append("链上位置：" + " › ".join(path[1:-1]))
    rel = reasons.get("relations") or []
    if rel:
        parts.append("已有往来：" + "；".join(rel[:2]))
    return "；".join(parts)


def _clip(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- table / json / csv

def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    s = str(s)
    while _width(s) > width:
        s = s[:-2] + "…"
    return s + " " * (width - _width(s))


def render_table(ctx: dict) -> str:
    ev = ctx["event"]
    head = f"{ev.get('name', '')}  {ev.get('date', '')}  {ev.get('venue') or ''}".strip()
    cols = [("轮次", 4), ("时间", 11), ("桌号", 4), ("链主企业", 26), ("中小企业", 30),
            ("需求", 28), ("匹配度", 6)]
    lines = [head, "  ".join(_pad(c, w) for c, w in cols)]
    for r in ctx["meetings"]:
        score = "" if r["score"] is None else f"{float(r['score']):.2f}"
        vals = [r["slot"], f"{r['start']}-{r['end']}", r["table"], r["leader_name"],
                r["sme_name"], r["demand_title"] or r["demand_id"], score]
        lines.append("  ".join(_pad(v, w) for v, (_, w) in zip(vals, cols)).rstrip())
    lines.append(f"共 {len(ctx['meetings'])} 场洽谈；{len(ctx['smes'])} 家中小企业获得洽谈，"
                 f"{len(ctx['unmatched'])} 家未安排。")
    return "\n".join(lines) + "\n"


def render_json(ctx_or_result: dict) -> str:
    if "grid" not in ctx_or_result:
        return json.dumps(ctx_or_result, ensure_ascii=False, indent=2) + "\n"
    ctx = ctx_or_result
    out = {"event": ctx["event"],
           "meetings": [{"slot": r["slot"], "start": r["start"], "end": r["end"],
                         "table": r["table"], "leader": r["leader"], "sme": r["sme"],
                         "demand_id": r["demand_id"], "score": r["score"]}
                        for r in ctx["meetings"]],
           "unmatched_smes": [u["code"] for u in ctx["unmatched"]]}
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


LIST_HEADERS = ["轮次", "开始", "结束", "桌号", "链主企业", "链主统一社会信用代码", "中小企业",
                "中小企业统一社会信用代码", "需求编号", "需求名称", "匹配度", "匹配理由", "企业概况"]


def _list_rows(ctx: dict) -> list[list]:
    return [[r["slot"], r["start"], r["end"], r["table"], r["leader_name"], r["leader"],
             r["sme_name"], r["sme"], r["demand_id"], r["demand_title"],
             None if r["score"] is None else round(float(r["score"]), 3), r["why"], r["profile"]]
            for r in ctx["meetings"]]


def render_csv(ctx: dict) -> str:
    """The meeting list as CSV, UTF-8 with BOM (Excel then reads the Chinese right)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(LIST_HEADERS)
    for row in _list_rows(ctx):
        w.writerow([neutralise(v) for v in row])
    return "\ufeff" + buf.getvalue()


# --------------------------------------------------------------------------- xlsx

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(name: str, used: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("", name).strip("'") or "Sheet"
    base = base[:28]
    title, n = base, 2
    while title.lower() in used:
        title = f"{base[:26]}({n})"
        n += 1
    used.add(title.lower())
    return title


def render_xlsx(ctx: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    used: set[str] = set()
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    ev = ctx["event"]

    def sheet(title, headers, rows, widths, first=False):
        ws = wb.active if first else wb.create_sheet()
        ws.title = _sheet_title(title, used)
        ws.append([neutralise(h) for h in headers])
        for c in ws[1]:
            c.font = bold
            c.fill = head_fill
            c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            c.border = box
        for row in rows:
            ws.append([neutralise(v) for v in row])
        for row in ws.iter_rows(min_row=2):
            for c in row:
                c.alignment = wrap
                c.border = box
                if isinstance(c.value, float):
                    c.number_format = "0.00"
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = "B2" if title == "总表" else "A2"
        ws.print_options.gridLines = False
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.print_title_rows = "1:1"
        return ws

    # Master grid: one row per slot, one column per table.
    heads = ["时间"] + [f"{t}号桌\n{ctx['table_leader'].get(t, {}).get('name', '')}"
                       for t in ctx["tables"]]
    grid_rows = []
    for s in ctx["times"]:
        row = [f"第{s['slot']}轮\n{s['start']}-{s['end']}"]
        for t in ctx["tables"]:
            r = ctx["grid"].get((s["slot"], t))
            row.append(r["sme_name"] if r else ("开放现场对接" if t in ctx["table_leader"] else ""))
        grid_rows.append(row)
    ws = sheet("总表", heads, grid_rows, [14] + [22] * len(ctx["tables"]), first=True)
    ws.row_dimensions[1].height = 45
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    sheet("洽谈清单", LIST_HEADERS, _list_rows(ctx),
          [6, 7, 7, 6, 26, 21, 28, 21, 10, 30, 8, 40, 40])

    for L in ctx["leaders"]:
        rows = [[r["slot"], f"{r['start']}-{r['end']}", r["table"], r["sme_name"], r["sme"],
                 r["demand_title"] or r["demand_id"],
                 None if r["score"] is None else round(float(r["score"]), 3),
                 r["why"], r["profile"], ""] for r in L["meetings"]]
        rows += [[s, f"{a}-{b}", t, "（开放现场对接）", "", "", None, "", "", ""]
                 for s, a, b, t in L["open"]]
        rows.sort(key=lambda r: (r[0], r[2]))
        sheet(L["name"], ["轮次", "时间", "桌号", "中小企业", "统一社会信用代码", "对接需求",
                          "匹配度", "匹配理由", "企业概况", "洽谈记录"],
              rows, [6, 14, 6, 28, 21, 28, 8, 40, 40, 24])

    agenda = []
    for s in ctx["smes"]:
        for r in s["meetings"]:
            agenda.append([s["name"], s["code"], r["slot"], f"{r['start']}-{r['end']}", r["table"],
                           r["leader_name"], r["demand_title"] or r["demand_id"]])
    sheet("中小企业日程", ["中小企业", "统一社会信用代码", "轮次", "时间", "桌号", "洽谈链主",
                           "对接需求"], agenda, [28, 21, 6, 14, 6, 28, 30])

    cards = [[t, ctx["table_leader"][t]["name"], ev.get("name", "")]
             for t in ctx["tables"] if t in ctx["table_leader"]]
    sheet("桌签", ["桌号", "链主企业", "活动"], cards, [8, 36, 36])

    if ctx["unmatched"] or ctx["unplaced"]:
        rows = [[u["name"], u["code"], f"候补第{u['wait']}位" if u["wait"] else "暂无相关需求",
                 u["profile"]] for u in ctx["unmatched"]]
        rows += [[u["sme_name"], u["sme"], f"未能安排与{u['leader_name']}的洽谈：{u['reason']}", ""]
                 for u in ctx["unplaced"]]
        sheet("未安排", ["中小企业", "统一社会信用代码", "说明", "企业概况"], rows, [28, 21, 50, 40])

    wb.properties.title = f"{ev.get('name', '')} 对接表"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- html / pdf

def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["score"] = lambda v: "" if v is None else f"{float(v):.2f}"
    return env


def render_html(ctx: dict) -> str:
    return _env().get_template("sheets.html").render(**ctx)


def html_to_pdf(html: str, timeout: float = 120.0) -> bytes:
    """Print HTML to PDF with the system Chromium (Debian package; never downloaded)."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        from .errors import UserError
        raise UserError("未找到 Chromium，无法生成 PDF；请改用 html 或 xlsx 格式。")
    with tempfile.TemporaryDirectory(prefix="mm-pdf-") as tmp:
        src = Path(tmp) / "sheets.html"
        out = Path(tmp) / "sheets.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={Path(tmp) / 'profile'}",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
               f"--print-to-pdf={out}", src.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if not out.exists() or out.stat().st_size == 0:
            from .errors import UserError
            raise UserError("PDF 生成失败：" + proc.stderr.decode("utf-8", "replace")[-200:])
        return out.read_bytes()


# --------------------------------------------------------------------------- entry points

def render(ctx_or_result: dict, fmt: str) -> str | bytes:
    """Render a context (or a ``pair`` result) in one of FORMATS: str for text formats,
    bytes for xlsx and pdf."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "json":
        return render_json(ctx_or_result)
    ctx = context_from_result(ctx_or_result)
    if fmt == "table":
        return render_table(ctx)
    if fmt == "csv":
        return render_csv(ctx)
    if fmt == "xlsx":
        return render_xlsx(ctx)
    html = render_html(ctx)
    return html if fmt == "html" else html_to_pdf(html)


def render_event(db, event_id: int, fmt: str) -> str | bytes:
    """The sheets of a stored event (names, demand titles, profiles and reasons from the
    database). Used by the web app's download links."""
    from . import events  # lazy: the core stays free of the database layer

    ctx = events.sheet_context(db, event_id)
    if fmt == "json":
        return render_json(events.pairing_result(db, event_id))
    return render(ctx, fmt)


def write(result: dict, fmt: str, out: str | os.PathLike | None = None, db=None) -> None:
    """Write ``result`` (a ``pair`` result or a context) as ``fmt`` to ``out`` or stdout.

    With ``db`` the sheets are built from the stored event (richer: names, titles,
    profiles). Binary formats go to stdout as bytes when ``out`` is None."""
    if db is not None and fmt != "json" and (result.get("event") or {}).get("id") is not None:
        from . import events

        data = render(events.sheet_context(db, result["event"]["id"]), fmt)
    else:
        data = render(result, fmt)
    if out is None:
        if isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
        return
    path = Path(out)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        # utf-8-sig for CSV is already in the text (BOM); write plain UTF-8.
        path.write_text(data, encoding="utf-8", newline="")
