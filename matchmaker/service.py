"""Glue between stored records and the Matcher: build a fitted Matcher, format rankings.

The CLI and the web app fetch records (``matchmaker.db.fetch_*``) and call
:func:`build_matcher`; this module never touches the database itself.
"""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from .rank import Match, Matcher

__all__ = ["build_matcher", "load_dir", "format_trec", "format_json", "format_table",
           "rank_all", "rank_all_firms"]

RUN_TAG = "matchmaker"


def _load_taxonomy():
    try:
        from . import taxonomy as tx
    except ImportError:
        return None
    try:
        return tx.load_taxonomy()
    except Exception:  # a missing or broken taxonomy file must not stop ranking
        return None


def build_matcher(firms: Sequence[dict], demands: Sequence[dict], relations: Sequence[dict] = (),
                  taxonomy=None, **params) -> Matcher:
    """A fitted Matcher over the given canonical records (see docs/design.md).

    ``taxonomy`` defaults to the packaged industrial-chain taxonomy when it is available.
    """
    if taxonomy is None:
        taxonomy = _load_taxonomy()
    # a sequence is passed as it is (list() of compact Records would decode every firm again)
    def seq(x):
        return x if isinstance(x, Sequence) else list(x)
    return Matcher(**params).fit(seq(firms), seq(demands), seq(relations), taxonomy=taxonomy)


# --- reading a folder of interchange CSVs (benchmarks, tests) -----------------------------

_SPLIT = re.compile(r"[；;、，,|]")
_FIRM_KEYS = {"企业名称": "name", "统一社会信用代码": "credit_code", "企业类型": "role", "资质": "tiers",
              "所属产业链": "chains", "产业链环节": "segments", "主营产品": "products",
              "核心技术": "technologies", "企业简介": "description", "所在区市": "district"}
_DEMAND_KEYS = {"需求编号": "demand_id", "链主企业": "leader", "需求类型": "kind", "需求名称": "title",
                "需求描述": "description", "技术指标": "specs", "所属产业链": "chains",
                "合作方式": "cooperation", "截止日期": "deadline"}
_REL_KEYS = {"企业A": "firm_a", "企业B": "firm_b", "关系类型": "relation", "年份": "year"}
_MULTI = {"tiers", "chains", "segments", "cooperation"}


def _split(value: str) -> list[str]:
    return [v.strip() for v in _SPLIT.split(value or "") if v.strip()]


def _rows(path: Path, keys: dict[str, str]) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        out = []
        for row in csv.DictReader(fh):
            rec: dict = {"extra": {}}
            for k, v in row.items():
                if k is None:
                    continue
                key = keys.get(k.strip(), k.strip())
                v = (v or "").strip()
                if key in keys.values():
                    rec[key] = _split(v) if key in _MULTI else v
                else:
                    rec["extra"][key] = v
            out.append(rec)
        return out


def _read_dir_plain(folder: Path):
    firms = _rows(folder / "firms.csv", _FIRM_KEYS)
    for f in firms:
        f["role"] = "leader" if f.get("role") in ("链主企业", "leader") else "sme"
        for k in ("tiers", "chains", "segments"):
            f.setdefault(k, [])
        for k in ("products", "technologies", "description", "district"):
            f.setdefault(k, "")
    by_name = {f["name"]: f["credit_code"] for f in firms}
    demands = _rows(folder / "demands.csv", _DEMAND_KEYS)
    for d in demands:
        d["leader"] = by_name.get(d.get("leader", ""), d.get("leader", ""))
        d.setdefault("specs", "")
        d.setdefault("chains", [])
        d.setdefault("cooperation", [])
        d["deadline"] = d.get("deadline") or None
        d["status"] = "open"
    relations = []
    if (folder / "relations.csv").exists():
        for r in _rows(folder / "relations.csv", _REL_KEYS):
            a = by_name.get(r.get("firm_a", ""), r.get("firm_a", ""))
            b = by_name.get(r.get("firm_b", ""), r.get("firm_b", ""))
            year = r.get("year") or ""
            relations.append({"firm_a": a, "firm_b": b, "relation": r.get("relation", ""),
                              "year": int(year) if year.isdigit() else None})
    return firms, demands, relations


def load_dir(folder: str | Path):
    """(firms, demands, relations) from a folder holding firms.csv, demands.csv and
    optionally relations.csv. Uses the project's importer when it is installed, a plain
    reader of the interchange headers otherwise."""
    folder = Path(folder)
    try:
        from .importer import read_files  # type: ignore
    except ImportError:
        return _read_dir_plain(folder)
    paths = [folder / n for n in ("firms.csv", "demands.csv", "relations.csv") if (folder / n).exists()]
    loaded = read_files([str(p) for p in paths])
    return list(loaded.firms), list(loaded.demands), list(loaded.relations)


# --- ranking every query and formatting ----------------------------------------------------

def rank_all(matcher: Matcher, top: int = 50, demand_ids: Iterable[str] | None = None):
    """[(demand_id, [Match...])] for every demand (or the given ones)."""
    ids = list(demand_ids) if demand_ids is not None else matcher.demand_ids()
    return [(d, matcher.rank_smes(d, top=top)) for d in ids]


def rank_all_firms(matcher: Matcher, top: int = 50, credit_codes: Iterable[str] | None = None):
    """[(credit_code, [Match...])] for every SME (or the given firms)."""
    codes = list(credit_codes) if credit_codes is not None else matcher.sme_codes()
    return [(c, matcher.rank_demands(c, top=top)) for c in codes]


def _match_id(m: Match) -> str:
    return m.credit_code if m.credit_code is not None else m.demand_id


def format_trec(results, tag: str = RUN_TAG) -> str:
    """TREC run lines: ``<query> Q0 <doc> <rank> <score> matchmaker`` (INTERCHANGE.md).

    ``results`` is [(query_id, [Match, ...]), ...] in either direction."""
    lines = []
    for qid, matches in results:
        for rank, m in enumerate(matches, start=1):
            lines.append(f"{qid} Q0 {_match_id(m)} {rank} {m.score:.6f} {tag}")
    return "\n".join(lines) + ("\n" if lines else "")


def _match_obj(m: Match, names: dict[str, str] | None) -> dict:
    obj = m.to_dict()
    if names is not None:
        obj["name"] = names.get(_match_id(m), "")
    return obj


def format_json(results, names: dict[str, str] | None = None, direction: str = "demand") -> str:
    """JSON: a list of {"demand_id"|"credit_code": ..., "matches": [{id, name, score, reasons}]}."""
    key = "demand_id" if direction == "demand" else "credit_code"
    out = [{key: qid, "matches": [_match_obj(m, names) for m in matches]} for qid, matches in results]
    return json.dumps(out, ensure_ascii=False, indent=2)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _fit(s: str, width: int) -> str:
    """Cut/pad to a display width, counting CJK characters as two columns."""
    out, w = [], 0
    for c in s:
        cw = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if w + cw > width:
            if out:
                out[-1] = "…" if _width(out[-1]) == 1 else "… "
            break
        out.append(c)
        w += cw
    return "".join(out) + " " * (width - _width("".join(out)))


def format_table(results, names: dict[str, str] | None = None, titles: dict[str, str] | None = None,
                 direction: str = "demand") -> str:
    """A terminal table per query: 名次, 匹配度, 代码, 名称, 匹配依据."""
    names = names or {}
    titles = titles or {}
    blocks = []
    for qid, matches in results:
        if direction == "demand":
            head = f"需求 {qid}" + (f"：{titles[qid]}" if titles.get(qid) else "")
            cols = ("名次", "匹配度", "统一社会信用代码", "企业名称", "匹配依据")
        else:
            head = f"企业 {qid}" + (f"：{names[qid]}" if names.get(qid) else "")
            cols = ("名次", "匹配度", "需求编号", "需求名称", "匹配依据")
        widths = (4, 6, 20, 30, 40)
        rows = [head, "  ".join(_fit(c, w) for c, w in zip(cols, widths)).rstrip(),
                "  ".join("-" * w for w in widths)]
        if not matches:
            rows.append("（没有匹配结果）")
        for rank, m in enumerate(matches, start=1):
            ident = _match_id(m)
            label = names.get(ident, "") if direction == "demand" else titles.get(ident, "")
            why = "、".join(m.reasons.get("terms", [])[:6])
            rows.append("  ".join(_fit(v, w) for v, w in zip(
                (str(rank), f"{m.score:.3f}", ident, label, why), widths)).rstrip())
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks) + "\n"


def rank_report(firms: Sequence[dict], demands: Sequence[dict], relations: Sequence[dict] = (),
                *, demand_id: str | None = None, all_demands: bool = False,
                firm: str | None = None, all_firms: bool = False, top: int = 20,
                fmt: str = "table") -> str:
    """What `matchmaker rank` prints: fit over the records, rank one or every demand (SMEs
    for it) or one or every SME (demands for it), format as table, json or trec."""
    from .errors import NotFound

    names = {f["credit_code"]: f["name"] for f in firms}
    titles = {d["demand_id"]: d["title"] for d in demands}
    if demand_id is not None and demand_id not in titles:
        raise NotFound(f"需求编号“{demand_id}”不存在")
    code = None
    if firm is not None:
        by_name = {f["name"]: f for f in firms}
        rec = by_name.get(firm) or next((f for f in firms if f["credit_code"] == firm.strip().upper()), None)
        if rec is None:
            raise NotFound(f"企业“{firm}”不在企业名录中")
        if rec["role"] != "sme":
            raise NotFound(f"“{rec['name']}”是链主企业，需求推荐只面向中小企业")
        code = rec["credit_code"]
    matcher = build_matcher(firms, demands, relations)
    if demand_id is not None or all_demands:
        direction = "demand"
        results = rank_all(matcher, top=top, demand_ids=[demand_id] if demand_id else None)
    else:
        direction = "firm"
        results = rank_all_firms(matcher, top=top, credit_codes=[code] if code else None)
    if fmt == "trec":
        return format_trec(results)
    if fmt == "json":
        return format_json(results, names if direction == "demand" else titles, direction=direction)
    return format_table(results, names=names, titles=titles, direction=direction)
