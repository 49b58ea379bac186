"""Reading the spreadsheets organizers and chain leaders already keep.

CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 as Excel's "Unicode text") or XLSX (first
sheet). The kind of file — firms, demands or relations — is recognised from its header row,
Chinese or English. Every fault is collected (file, spreadsheet row, column, reason, in
Chinese) and the whole set is refused if there is any: half a directory is worse than none.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable

from . import creditcode
from .errors import UserError

# canonical key -> (Chinese header, English alias, required)
FIRM_COLUMNS = {
    "name": ("企业名称", True),
    "credit_code": ("统一社会信用代码", True),
    "role": ("企业类型", True),
    "tiers": ("资质", False),
    "chains": ("所属产业链", False),
    "segments": ("产业链环节", False),
    "products": ("主营产品", False),
    "technologies": ("核心技术", False),
    "description": ("企业简介", False),
    "district": ("所在区市", False),
}
DEMAND_COLUMNS = {
    "demand_id": ("需求编号", True),
    "leader": ("链主企业", True),
    "kind": ("需求类型", True),
    "title": ("需求名称", True),
    "description": ("需求描述", True),
    "specs": ("技术指标", False),
    "chains": ("所属产业链", False),
    "cooperation": ("合作方式", False),
    "deadline": ("截止日期", False),
}
RELATION_COLUMNS = {
    "firm_a": ("企业A", True),
    "firm_b": ("企业B", True),
    "relation": ("关系类型", True),
    "year": ("年份", False),
}
KINDS = {"firms": FIRM_COLUMNS, "demands": DEMAND_COLUMNS, "relations": RELATION_COLUMNS}
KIND_NAMES = {"firms": "企业名录", "demands": "需求清单", "relations": "合作关系表"}
# The header that tells a file's kind even when other required columns are missing.
KIND_MARKERS = {"demands": ("demand_id", "leader", "kind"), "relations": ("firm_a", "firm_b"),
                "firms": ("credit_code", "name", "role")}

LIST_FIELDS = {"tiers", "chains", "segments", "cooperation"}
SPLIT = re.compile(r"[；;、，,|｜\n]+")

ROLES = {"链主企业": "leader", "链主": "leader", "leader": "leader", "chain leader": "leader",
         "中小企业": "sme", "sme": "sme", "专精特新企业": "sme", "专精特新中小企业": "sme"}
DEMAND_KINDS = {"技术需求": "技术需求", "技术": "技术需求", "technology": "技术需求",
                "tech": "技术需求", "场景需求": "场景需求", "场景": "场景需求",
                "应用场景需求": "场景需求", "scenario": "场景需求"}
RELATIONS = {"供应": "供应", "supply": "供应", "supplies": "供应", "合作研发": "合作研发",
             "cooperation": "合作研发", "r&d": "合作研发", "投资": "投资", "invest": "投资",
             "investment": "投资", "控股": "控股", "holding": "控股", "竞争": "竞争",
             "competition": "竞争", "对接意向": "对接意向", "intent": "对接意向", "签约": "签约",
             "contract": "签约"}
TIERS = ["创新型中小企业", "专精特新中小企业", "专精特新“小巨人”", "雏鹰企业", "瞪羚企业",
         "独角兽企业"]
_TIER_KEY = {re.sub(r"[\"“”'‘’「」『』]", "", t): t for t in TIERS}


@dataclass
class Fault:
    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第{self.row}行"
        if self.column:
            where += f" “{self.column}”列"
        return f"{where}：{self.message}"


class ImportFailed(UserError):
    """The files were refused; `faults` lists every reason, nothing was written."""

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        n = len(faults)
        super().__init__(f"导入失败：共{n}处错误，数据库未作任何修改。首个错误：{faults[0]}")


@dataclass
class LoadSet:
    firms: list[dict] = field(default_factory=list)
    demands: list[dict] = field(default_factory=list)
    relations: list[dict] = field(default_factory=list)
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (file, kind, rows)

    def __len__(self) -> int:
        return len(self.firms) + len(self.demands) + len(self.relations)


@dataclass
class Table:
    file: str
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


# --- reading bytes into a table ---------------------------------------------------------


def norm_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def decode_text(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise ImportFailed([Fault(name, None, None, "不是表格文件（含二进制内容），请上传 CSV 或 XLSX")])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailed([Fault(name, None, None, "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")])


def read_table(name: str, data: bytes) -> Table:
    """Bytes of a CSV or XLSX file -> header and numbered rows, or ImportFailed."""
    if not data.strip():
        raise ImportFailed([Fault(name, None, None, "文件为空")])
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(name, data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFailed([Fault(name, None, None, "旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传")])
    text = decode_text(name, data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        lines = list(reader)
    except csv.Error as exc:
        raise ImportFailed([Fault(name, None, None, f"CSV 格式错误：{exc}")]) from None
    if not lines:
        raise ImportFailed([Fault(name, None, None, "文件为空")])
    header = [norm_cell(h) for h in lines[0]]
    rows = [(i, [c.strip() for c in cells]) for i, cells in enumerate(lines[1:], start=2)]
    return Table(name, header, rows)


def _read_xlsx(name: str, data: bytes) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFailed([Fault(name, None, None, f"无法读取 XLSX 文件：{type(exc).__name__}")]) from None
    try:
        ws = wb.worksheets[0]
        rows = []
        header: list[str] | None = None
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [norm_cell(v) for v in values]
            if header is None:
                if not any(cells):
                    continue
                header = cells
                continue
            rows.append((i, cells))
    finally:
        wb.close()
    if header is None:
        raise ImportFailed([Fault(name, None, None, "工作表为空")])
    while header and not header[-1]:
        header.pop()
    return Table(name, header, rows)


# --- recognising the header -------------------------------------------------------------


def _hkey(header: str) -> str:
    h = unicodedata.normalize("NFKC", header).strip().lower()
    h = re.sub(r"[\s*＊]|[（(](必填|选填|可选)[)）]", "", h)
    return h


_HEADER_INDEX: dict[str, dict[str, str]] = {}
for _kind, _cols in KINDS.items():
    _HEADER_INDEX[_kind] = {}
    for _key, (_zh, _req) in _cols.items():
        _HEADER_INDEX[_kind][_hkey(_zh)] = _key
        _HEADER_INDEX[_kind][_hkey(_key)] = _key
        _HEADER_INDEX[_kind][_hkey(_key.replace("_", " "))] = _key


def recognise(table: Table) -> tuple[str, dict[int, str], list[Fault]]:
    """-> (kind, {column index: canonical key}, faults about the header)."""
    keys = {_hkey(h) for h in table.header}
    kind = None
    for candidate in ("demands", "relations", "firms"):
        markers = KIND_MARKERS[candidate]
        index = _HEADER_INDEX[candidate]
        present = {index[k] for k in keys if k in index}
        if sum(m in present for m in markers) >= (1 if candidate != "firms" else 2):
            kind = candidate
            break
    if kind is None:
        shown = "、".join(h for h in table.header[:8] if h) or "（空）"
        return "", {}, [Fault(table.file, 1, None,
                              f"无法识别表头（{shown}）：不是企业名录、需求清单或合作关系表")]
    index = _HEADER_INDEX[kind]
    mapping: dict[int, str] = {}
    faults = []
    seen: dict[str, int] = {}
    for i, h in enumerate(table.header):
        key = index.get(_hkey(h))
        if key is None:
            continue
        if key in seen:
            faults.append(Fault(table.file, 1, h, f"列重复（与第{seen[key] + 1}列相同）"))
            continue
        seen[key] = i
        mapping[i] = key
    for key, (zh, required) in KINDS[kind].items():
        if required and key not in seen:
            faults.append(Fault(table.file, 1, zh, f"{KIND_NAMES[kind]}缺少必填列“{zh}”"))
    return kind, mapping, faults


# --- rows -> records --------------------------------------------------------------------


def split_list(value: str) -> list[str]:
    out = []
    for part in SPLIT.split(value or ""):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


def parse_date(value: str) -> str | None:
    """YYYY-MM-DD, YYYY/M/D, YYYY.M.D or YYYY年M月D日 -> ISO date; None if it is none of them."""
    v = unicodedata.normalize("NFKC", value).strip()
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(:00)?)?", v)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def normalise_tier(value: str) -> str:
    key = re.sub(r"[\"“”'‘’「」『』\s]", "", unicodedata.normalize("NFKC", value))
    return _TIER_KEY.get(key, value)


def _row_dict(table: Table, mapping: dict[int, str], cells: list[str]) -> tuple[dict, dict]:
    values, extra = {}, {}
    for i, cell in enumerate(cells):
        if i in mapping:
            values[mapping[i]] = cell
        elif i < len(table.header) and table.header[i] and cell:
            extra[table.header[i]] = cell
    return values, extra


class _Resolver:
    """Firm references (name or credit code) across the files of one load and the database."""

    def __init__(self, known: dict[str, tuple[str, str]] | None):
        self.known = dict(known or {})

    def add(self, rec: dict) -> None:
        self.known[rec["credit_code"]] = (rec["credit_code"], rec["role"])
        self.known[rec["name"]] = (rec["credit_code"], rec["role"])

    def get(self, ref: str) -> tuple[str, str] | None:
        ref = ref.strip()
        found = self.known.get(ref)
        if found is None:
            found = self.known.get(creditcode.normalize(ref))
        return found


def _firms(table: Table, mapping, resolver: _Resolver, seen_codes: dict, seen_names: dict,
           faults: list[Fault]) -> list[dict]:
    out = []
    col = {k: zh for k, (zh, _r) in FIRM_COLUMNS.items()}
    for rownum, cells in table.rows:
        if not any(cells):
            continue
        v, extra = _row_dict(table, mapping, cells)
        f = lambda key, msg: faults.append(Fault(table.file, rownum, col[key], msg))  # noqa: E731
        name = v.get("name", "").strip()
        code = creditcode.normalize(v.get("credit_code", ""))
        role = ROLES.get(v.get("role", "").strip().lower()) or ROLES.get(v.get("role", "").strip())
        ok = True
        if not name:
            f("name", "企业名称为空"); ok = False
        if not code:
            f("credit_code", "统一社会信用代码为空"); ok = False
        elif (why := creditcode.problem(code)):
            f("credit_code", why); ok = False
        if role is None:
            f("role", f"企业类型“{v.get('role', '')}”无效，应为“链主企业”或“中小企业”"); ok = False
        if not ok:
            continue
        where = f"{table.file} 第{rownum}行"
        if code in seen_codes:
            f("credit_code", f"统一社会信用代码与{seen_codes[code]}重复"); continue
        if name in seen_names:
            f("name", f"企业名称与{seen_names[name]}重复"); continue
        existing = resolver.known.get(name)
        if existing and existing[0] != code:
            f("name", f"企业名称已被统一社会信用代码为 {existing[0]} 的企业使用"); continue
        seen_codes[code] = where
        seen_names[name] = where
        rec = {
            "name": name,
            "credit_code": code,
            "role": role,
            "tiers": [normalise_tier(t) for t in split_list(v.get("tiers", ""))],
            "chains": split_list(v.get("chains", "")),
            "segments": split_list(v.get("segments", "")),
            "products": v.get("products", ""),
            "technologies": v.get("technologies", ""),
            "description": v.get("description", ""),
            "district": v.get("district", ""),
            "extra": extra,
        }
        out.append(rec)
    return out


def _demands(table: Table, mapping, resolver: _Resolver, seen_ids: dict,
             faults: list[Fault]) -> list[dict]:
    out = []
    col = {k: zh for k, (zh, _r) in DEMAND_COLUMNS.items()}
    for rownum, cells in table.rows:
        if not any(cells):
            continue
        v, extra = _row_dict(table, mapping, cells)
        f = lambda key, msg: faults.append(Fault(table.file, rownum, col[key], msg))  # noqa: E731
        ok = True
        did = unicodedata.normalize("NFKC", v.get("demand_id", "")).strip()
        if not did:
            f("demand_id", "需求编号为空"); ok = False
        elif did in seen_ids:
            f("demand_id", f"需求编号与{seen_ids[did]}重复"); ok = False
        leader_ref = v.get("leader", "").strip()
        leader = resolver.get(leader_ref) if leader_ref else None
        if not leader_ref:
            f("leader", "链主企业为空"); ok = False
        elif leader is None:
            f("leader", f"链主企业“{leader_ref}”不在企业名录中（请先导入该企业，或核对名称/信用代码）"); ok = False
        elif leader[1] != "leader":
            f("leader", f"“{leader_ref}”在企业名录中不是链主企业"); ok = False
        raw_kind = v.get("kind", "").strip()
        kind = DEMAND_KINDS.get(raw_kind) or DEMAND_KINDS.get(raw_kind.lower())
        if kind is None:
            f("kind", f"需求类型“{raw_kind}”无效，应为“技术需求”或“场景需求”"); ok = False
        title = v.get("title", "").strip()
        if not title:
            f("title", "需求名称为空"); ok = False
        if not v.get("description", "").strip():
            f("description", "需求描述为空"); ok = False
        deadline = None
        if v.get("deadline"):
            deadline = parse_date(v["deadline"])
            if deadline is None:
                f("deadline", f"截止日期“{v['deadline']}”无法识别，应为 YYYY-MM-DD 或 YYYY年M月D日"); ok = False
        if not ok:
            continue
        seen_ids[did] = f"{table.file} 第{rownum}行"
        out.append({
            "demand_id": did,
            "leader": leader[0],
            "kind": kind,
            "title": title,
            "description": v.get("description", "").strip(),
            "specs": v.get("specs", ""),
            "chains": split_list(v.get("chains", "")),
            "cooperation": split_list(v.get("cooperation", "")),
            "deadline": deadline,
            "status": "open",
            "extra": extra,
        })
    return out


def _relations(table: Table, mapping, resolver: _Resolver, faults: list[Fault]) -> list[dict]:
    out = []
    col = {k: zh for k, (zh, _r) in RELATION_COLUMNS.items()}
    seen = set()
    for rownum, cells in table.rows:
        if not any(cells):
            continue
        v, _extra = _row_dict(table, mapping, cells)
        f = lambda key, msg: faults.append(Fault(table.file, rownum, col[key], msg))  # noqa: E731
        ok = True
        ends = []
        for key in ("firm_a", "firm_b"):
            ref = v.get(key, "").strip()
            found = resolver.get(ref) if ref else None
            if not ref:
                f(key, f"{col[key]}为空"); ok = False
            elif found is None:
                f(key, f"企业“{ref}”不在企业名录中"); ok = False
            ends.append(found[0] if found else None)
        raw = v.get("relation", "").strip()
        rel = RELATIONS.get(raw) or RELATIONS.get(raw.lower())
        if rel is None:
            f("relation", f"关系类型“{raw}”无效，应为 供应、合作研发、投资、控股、竞争、对接意向 或 签约"); ok = False
        year = None
        if v.get("year"):
            y = unicodedata.normalize("NFKC", v["year"]).strip().removesuffix("年")
            if re.fullmatch(r"\d{4}", y):
                year = int(y)
            else:
                f("year", f"年份“{v['year']}”应为四位数字"); ok = False
        if not ok:
            continue
        if ends[0] == ends[1]:
            continue  # news-derived graphs name a group and itself; such a loop says nothing
        key = (ends[0], ends[1], rel)
        if key in seen:
            continue  # the same fact twice is not an error
        seen.add(key)
        out.append({"firm_a": ends[0], "firm_b": ends[1], "relation": rel, "year": year})
    return out


def read_sources(sources: Iterable[tuple[str, bytes]],
                 known: dict[str, tuple[str, str]] | None = None) -> LoadSet:
    """Read (file name, bytes) pairs as one load: firms first, then demands, then relations,
    whatever order they come in. `known` maps names and credit codes of firms already in
    the database to (credit code, role). Raises ImportFailed with every fault."""
    faults: list[Fault] = []
    tables: dict[str, list[tuple[Table, dict]]] = {"firms": [], "demands": [], "relations": []}
    for name, data in sources:
        try:
            table = read_table(name, data)
        except ImportFailed as exc:
            faults.extend(exc.faults)
            continue
        kind, mapping, header_faults = recognise(table)
        faults.extend(header_faults)
        if kind and not header_faults:
            tables[kind].append((table, mapping))
    resolver = _Resolver(known)
    result = LoadSet()
    seen_codes: dict = {}
    seen_names: dict = {}
    for table, mapping in tables["firms"]:
        recs = _firms(table, mapping, resolver, seen_codes, seen_names, faults)
        result.firms.extend(recs)
        result.files.append((table.file, "firms", len(recs)))
    for rec in result.firms:
        resolver.add(rec)
    seen_ids: dict = {}
    for table, mapping in tables["demands"]:
        recs = _demands(table, mapping, resolver, seen_ids, faults)
        result.demands.extend(recs)
        result.files.append((table.file, "demands", len(recs)))
    for table, mapping in tables["relations"]:
        recs = _relations(table, mapping, resolver, faults)
        result.relations.extend(recs)
        result.files.append((table.file, "relations", len(recs)))
    if faults:
        raise ImportFailed(faults)
    return result


def read_files(paths: Iterable[str | Path], known: dict[str, tuple[str, str]] | None = None) -> LoadSet:
    sources = []
    faults = []
    for p in paths:
        p = Path(p)
        try:
            sources.append((str(p), p.read_bytes()))
        except OSError as exc:
            faults.append(Fault(str(p), None, None, f"无法读取文件：{exc.strerror or exc}"))
    if faults:
        raise ImportFailed(faults)
    return read_sources(sources, known)


def read_upload(filename: str, data: bytes, known: dict[str, tuple[str, str]] | None = None) -> LoadSet:
    return read_sources([(filename, data)], known)
