"""Grow a benchmark set to N SMEs for load and speed measurements.

    python bench/grow.py --n 200000 --out DIR [--src SET_DIR ...] [--demands 300] [--seed 0]

writes DIR/firms.csv, DIR/demands.csv, DIR/relations.csv in the interchange format (and copies
qrels.txt / difficulty.tsv of the first source, whose firms and demands keep their ids).

Every source firm is kept; new SMEs recombine the texts of source SMEs of the same chain (the
products of one, the technologies of another, the description sentences of both shuffled), so
that the vocabulary and the posting-list lengths grow like a real registry's rather than
repeating one document. Names get a unique three-character brand, credit codes a unique
organisation code with a valid GB 32100 check character. The new firms are distractors: their
relevance is unjudged, so quality measured on a grown set is a lower bound.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matchmaker import baselines as B  # noqa: E402

try:
    from matchmaker.creditcode import CHARSET, check_char
except ImportError:  # the harness predates matchmaker.creditcode on some branches
    CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    _W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

    def check_char(first17: str) -> str:
        return CHARSET[(31 - sum(CHARSET.index(c) * w for c, w in zip(first17, _W)) % 31) % 31]

SHARED_DEV = ROOT.parent / "shared" / "bench" / "handwritten-dev"
FIRM_COLUMNS = list(B.FIRM_HEADERS)          # Chinese headers, interchange order
DEMAND_COLUMNS = list(B.DEMAND_HEADERS)
RELATION_COLUMNS = list(B.RELATION_HEADERS)
SEP = "；"

# Characters for brand names (no 青, so a brand never reads as the city prefix "青岛").
BRAND_CHARS = ("安百宝博昌晨诚达德鼎东恩丰峰福富广海汉浩和恒宏鸿华辉佳嘉健金锦京晶景九俊凯康科克坤朗"
               "力立利联良林凌隆龙茂美铭明南能鹏普奇启骐强擎庆瑞润森晟盛世舒顺思泰腾天通同拓威维伟文"
               "翔祥鑫信兴旭轩亚扬耀一亿益英盈永优友宇禹元源远跃云泽展兆正之志智中众卓宸昊弘煜瀚曜璟琨"
               "澜川驰微擎芯岳峻澄澈汇融睿哲钧铂铠锐霖")
_SENT = re.compile(r"(?<=[。！？；])")


def _permute(i: int, space: int, seed: int) -> int:
    """A seed-dependent bijection of range(space): consecutive i look unrelated."""
    a = 2_654_435_761 + 2 * (seed % 1000)   # odd (Knuth multiplicative hash); gcd checked below
    while _gcd(a, space) != 1:
        a += 2
    return (a * i + seed * 7919) % space


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _digits(value: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        value, r = divmod(value, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


def brand(i: int, seed: int = 0) -> str:
    pool = "".join(dict.fromkeys(BRAND_CHARS))
    width = 3 if i < len(pool) ** 3 else 4
    return _digits(_permute(i, len(pool) ** width, seed), pool, width)


def credit_code(i: int, division: str = "370200", seed: int = 0) -> str:
    """A valid 18-character code whose organisation code encodes i (unique for each i)."""
    org = _digits(_permute(i, 31 ** 9, seed), CHARSET, 9)
    first17 = "91" + division + org
    return first17 + check_char(first17)


def _as_firm_records(src) -> list[dict]:
    if isinstance(src, (str, Path)):
        p = Path(src)
        return B.read_table(p / "firms.csv" if p.is_dir() else p, B.FIRM_HEADERS)
    records = []
    for r in src:
        records.append({B.FIRM_HEADERS.get(k, k): v for k, v in r.items()})
    return records


def _cell(value) -> str:
    if isinstance(value, list):
        return SEP.join(value)
    return "" if value is None else str(value)


def _row(record: dict, columns: list[str], headers: dict[str, str]) -> dict[str, str]:
    return {h: _cell(record.get(headers[h], "")) for h in columns}


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT.split(text or "") if s.strip()]


def _chain_groups(smes: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for f in smes:
        groups.setdefault((f.get("chains") or [""])[0], []).append(f)
    return groups


def _synth_firm(i: int, rng: random.Random, smes, groups, districts, seed) -> dict:
    base = rng.choice(smes)
    donor = rng.choice(groups[(base.get("chains") or [""])[0]])
    name = base["name"]
    prefix, rest = (name[:2], name[4:]) if len(name) >= 6 else ("青岛", name)
    code = base.get("credit_code") or ""
    division = code[2:8] if len(code) == 18 and code[2:8].isdigit() else "370200"
    text = _sentences(base.get("description", "")) + _sentences(donor.get("description", ""))[:1]
    rng.shuffle(text)
    products = base.get("products", "") if rng.random() < 0.7 else donor.get("products", "")
    return {
        "name": prefix + brand(i, seed) + rest,
        "credit_code": credit_code(i, division, seed),
        "role": "中小企业",
        "tiers": base.get("tiers") or [],
        "chains": base.get("chains") or [],
        "segments": base.get("segments") or [],
        "products": products,
        "technologies": donor.get("technologies", ""),
        "description": "".join(text),
        "district": rng.choice(districts) if districts else "",
    }


def _synth_records(src, n: int, seed: int):
    """(source firms to keep, iterator of new SME records) for a set grown to n SMEs."""
    firms = _as_firm_records(src)
    leaders = [f for f in firms if f.get("role") == B.LEADER]
    smes = [f for f in firms if f.get("role") != B.LEADER]
    if not smes:
        raise ValueError("no SMEs to grow from")
    groups = _chain_groups(smes)
    districts = sorted({f.get("district") for f in smes if f.get("district")})
    names = {f["name"] for f in firms}
    codes = {f["credit_code"] for f in firms}
    kept = leaders + smes[:n]

    def new() -> Iterator[dict]:
        rng = random.Random(seed)
        i = made = 0
        while made < n - len(smes):
            rec = _synth_firm(i, rng, smes, groups, districts, seed)
            i += 1
            if rec["name"] in names or rec["credit_code"] in codes:
                continue
            made += 1
            yield rec

    return kept, new()


def grow_firms(src_firms_csv_or_records, n: int, seed: int = 0) -> Iterator[dict[str, str]]:
    """Firm rows (Chinese interchange headers -> cell text) of a set grown to n SMEs.

    The source's chain leaders and SMEs come first, unchanged (only the first n SMEs when the
    source has more), then new SMEs up to n.
    """
    kept, new = _synth_records(src_firms_csv_or_records, n, seed)
    for rec in kept:
        yield _row(rec, FIRM_COLUMNS, B.FIRM_HEADERS)
    for rec in new:
        yield _row(rec, FIRM_COLUMNS, B.FIRM_HEADERS)


def grow_demands(demands: list[dict], m: int, seed: int = 0) -> Iterator[dict[str, str]]:
    """The source demands, then recombined ones (ids G000001...) of the same leaders up to m."""
    rng = random.Random(seed + 1)
    for d in demands:
        yield _row(d, DEMAND_COLUMNS, B.DEMAND_HEADERS)
    taken = {d["demand_id"] for d in demands}
    j = 0
    for k in range(max(0, m - len(demands))):
        base, donor = rng.choice(demands), rng.choice(demands)
        while True:
            j += 1
            did = f"G{j:06d}"
            if did not in taken:
                break
        text = _sentences(base.get("description", "")) + _sentences(donor.get("description", ""))[:1]
        rng.shuffle(text)
        rec = dict(base, demand_id=did, title=base.get("title", "") + f"（{k + 1}）",
                   description="".join(text) or base.get("description", ""))
        yield _row(rec, DEMAND_COLUMNS, B.DEMAND_HEADERS)


def _write(path: Path, columns: list[str], rows: Iterable[dict]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow(row)
            count += 1
    return count


def grow_set(src_dirs: list[Path], n: int, out: Path, seed: int = 0, n_demands: int = 300,
             relation_rate: float | None = None) -> dict[str, int]:
    """Write a grown set to out/; returns the row counts."""
    out.mkdir(parents=True, exist_ok=True)
    firms, demands, relations = [], [], []
    for d in src_dirs:
        s = B.read_set(d)
        firms += s.firms
        demands += s.demands
        relations += s.relations
    kept, new = _synth_records(firms, n, seed)
    smes = [f for f in kept if f.get("role") != B.LEADER]
    leaders_by_chain: dict[str, list[str]] = {}
    for f in kept:
        if f.get("role") == B.LEADER:
            for c in f.get("chains") or [""]:
                leaders_by_chain.setdefault(c, []).append(f["credit_code"])
    if relation_rate is None:   # as many related SMEs, in proportion, as in the source
        related = {r["firm_a"] for r in relations} | {r["firm_b"] for r in relations}
        relation_rate = len([f for f in smes if f["name"] in related or f["credit_code"] in related]) / max(1, len(smes))
    kinds = [r["relation"] for r in relations if r.get("relation")] or ["供应"]
    rng = random.Random(seed + 2)
    new_relations: list[dict] = []

    def firm_rows():
        for rec in kept:
            yield _row(rec, FIRM_COLUMNS, B.FIRM_HEADERS)
        for rec in new:
            chain = (rec["chains"] or [""])[0]
            if rng.random() < relation_rate and leaders_by_chain.get(chain):
                new_relations.append({"firm_a": rec["credit_code"], "firm_b": rng.choice(leaders_by_chain[chain]),
                                      "relation": rng.choice(kinds), "year": str(rng.randint(2018, 2025))})
            yield _row(rec, FIRM_COLUMNS, B.FIRM_HEADERS)

    # a source firm left out (n below the source's SMEs) takes its relations with it
    kept_keys = {f["name"] for f in kept} | {f["credit_code"] for f in kept}
    relations = [r for r in relations if r.get("firm_a") in kept_keys and r.get("firm_b") in kept_keys]
    counts = {"firms": _write(out / "firms.csv", FIRM_COLUMNS, firm_rows())}
    counts["demands"] = _write(out / "demands.csv", DEMAND_COLUMNS, grow_demands(demands, n_demands, seed))
    counts["relations"] = _write(out / "relations.csv", RELATION_COLUMNS,
                                 (_row(r, RELATION_COLUMNS, B.RELATION_HEADERS) for r in relations + new_relations))
    for extra in ("qrels.txt", "difficulty.tsv"):
        if src_dirs and (Path(src_dirs[0]) / extra).exists():
            shutil.copyfile(Path(src_dirs[0]) / extra, out / extra)
    return counts


def default_sources() -> list[Path]:
    """handwritten-dev, and the demo dataset of datasets/ when it is there."""
    srcs = [SHARED_DEV] if (SHARED_DEV / "firms.csv").exists() else []
    for firms in sorted((ROOT / "datasets").rglob("firms*.csv")):
        if (firms.parent / "demands.csv").exists() and firms.name == "firms.csv":
            srcs.append(firms.parent)
    return srcs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Grow a benchmark set to N SMEs (interchange CSVs).")
    ap.add_argument("--n", type=int, required=True, help="number of SMEs in the grown set")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--src", nargs="+", help="source set folders (default: ../shared/bench/handwritten-dev + datasets demo)")
    ap.add_argument("--demands", type=int, default=300, help="number of demands (source ones + recombined)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    srcs = [Path(s) for s in args.src] if args.src else default_sources()
    if not srcs:
        print("no source set: give --src (../shared/bench/handwritten-dev is absent)", file=sys.stderr)
        return 2
    counts = grow_set(srcs, args.n, Path(args.out), args.seed, args.demands)
    print(f"{args.out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
