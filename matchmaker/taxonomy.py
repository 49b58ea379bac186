"""Industrial-chain taxonomy (datasets/taxonomy.json).

A chain (智能家电, 集成电路 …) has segments at 上游 / 中游 / 下游; a segment may refine a broader
one (``parent``), names the products and technologies that belong there (``terms``) and the
phrases a demand uses when it describes a problem instead of a solution (``problems``).
Synonym groups tie abbreviations to their full names (IGBT / 绝缘栅双极型晶体管), and supply
edges say which segment sells to which, within and across chains.

Lookups are normalised (NFKC, case-folded, spaces dropped) so that "ＩＧＢＴ", "igbt" and
"IGBT" are one term, and "Mini LED" matches "MiniLED". The file is validated on load and a
broken file raises :class:`TaxonomyError` naming what is wrong.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

from .errors import UserError

STAGES = ("上游", "中游", "下游")
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "datasets" / "taxonomy.json"
# Separators firms use inside one 产业链环节 cell, e.g. "核心零部件/压缩机" or "电控（IGBT）".
# A problem phrase never spans two clauses.
_CLAUSE_END = re.compile(r"[,.;:!?。、；：！？，]")
_LABEL_SPLIT = re.compile(r"[；;、，,|/／\s（）()]+")


class TaxonomyError(UserError, ValueError):
    """The taxonomy file is unreadable or inconsistent."""


def norm(text: str) -> str:
    """Lookup key: full-width to half-width, case-folded, without whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).casefold()


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    chain: str          # chain name, e.g. "智能家电" (what firms and demands write)
    chain_id: str
    stage: str
    parent: str | None
    aliases: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chain:
    id: str
    name: str
    aliases: tuple[str, ...]
    gbt4754: tuple[str, ...]
    sei2018: tuple[str, ...]
    segment_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Taxonomy:
    chains: tuple[Chain, ...]
    segments: Mapping[str, Segment]
    synonyms: tuple[tuple[str, ...], ...]
    supply_edges: tuple[tuple[str, str], ...]
    version: int = 1
    # Derived indexes, built once in __post_init__.
    _chain_by_key: dict = field(default_factory=dict, repr=False, compare=False)
    _syn_by_key: dict = field(default_factory=dict, repr=False, compare=False)
    _segs_by_term: dict = field(default_factory=dict, repr=False, compare=False)
    _segs_by_label: dict = field(default_factory=dict, repr=False, compare=False)
    _problem_keys: tuple = field(default=(), repr=False, compare=False)
    _problem_df: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for c in self.chains:
            for key in (c.id, c.name, *c.aliases):
                self._chain_by_key.setdefault(norm(key), c)
        for group in self.synonyms:
            for t in group:
                # A term in two groups gets the union: both readings are legitimate expansions.
                cur = self._syn_by_key.get(norm(t), ())
                self._syn_by_key[norm(t)] = tuple(dict.fromkeys(cur + group))
        problems = []
        for s in self.segments.values():
            for t in s.terms:
                self._add(self._segs_by_term, t, s.id)
            for t in (s.name, *s.aliases):
                self._add(self._segs_by_label, t, s.id)
            for p in s.problems:
                problems.append((norm(p), s.id))
                self._problem_df[norm(p)] = self._problem_df.get(norm(p), 0) + 1
        object.__setattr__(self, "_problem_keys", tuple(problems))

    @staticmethod
    def _add(index: dict, term: str, seg_id: str) -> None:
        ids = index.setdefault(norm(term), [])
        if seg_id not in ids:
            ids.append(seg_id)

    # -- chains -------------------------------------------------------------------------
    def chain(self, name: str) -> Chain | None:
        """A chain by id, name or alias ("家电" -> 智能家电)."""
        return self._chain_by_key.get(norm(name))

    def chain_of(self, segment_id: str) -> Chain:
        seg = self.segments.get(segment_id)
        if seg is None:
            raise KeyError(segment_id)
        return self.chain(seg.chain_id)

    def children(self, segment_id: str) -> list[Segment]:
        return [s for s in self.segments.values() if s.parent == segment_id]

    # -- terms --------------------------------------------------------------------------
    def terms(self) -> list[str]:
        """Every term, synonym, alias, segment and chain name and problem word: the user
        dictionary for a word segmenter."""
        out: dict[str, None] = {}
        for c in self.chains:
            out.update(dict.fromkeys((c.name, *c.aliases)))
        for s in self.segments.values():
            out.update(dict.fromkeys((s.name, *s.aliases, *s.terms, *s.problems)))
        for g in self.synonyms:
            out.update(dict.fromkeys(g))
        return [t for t in out if t.strip()]

    def synonyms_of(self, term: str) -> list[str]:
        """The whole synonym group of ``term`` (itself included), or [] if it has none."""
        return list(self._syn_by_key.get(norm(term), ()))

    def segments_for_term(self, term: str) -> list[Segment]:
        """Segments that list ``term`` or one of its synonyms as a product/technology, or
        whose name or alias it is; failing those, segments where it is a problem word."""
        ids: list[str] = []
        for t in [term, *self.synonyms_of(term)]:
            k = norm(t)
            for sid in self._segs_by_term.get(k, []) + self._segs_by_label.get(k, []):
                if sid not in ids:
                    ids.append(sid)
        if not ids:
            k = norm(term)
            ids = list(dict.fromkeys(sid for p, sid in self._problem_keys if p == k))
        return [self.segments[i] for i in ids]

    # -- matching free labels and texts ---------------------------------------------------
    def find_segments(self, chain_name: str | None, segment_name: str | None = None) -> list[Segment]:
        """Segments meant by a firm's free 产业链环节 label ("核心零部件", "压缩机", "电控").

        With two arguments, ``chain_name`` (may be None or unknown) narrows the search to one
        chain when that chain has a match. With one argument the call reads a free text (a
        demand) and returns the segments its problem words and segment names point to,
        best first (see :meth:`segments_for_text`).
        """
        if segment_name is None:
            return self.segments_for_text(chain_name or "")
        chain = self.chain(chain_name) if chain_name else None
        stages = self._label_stages(segment_name)
        if not any(stages):
            # several labels in one cell ("封装测试/晶圆制造"): the union of what each names
            parts = [p for p in _LABEL_SPLIT.split(segment_name) if p]
            if len(parts) > 1:
                merged: list[list[str]] = [[], [], []]
                for p in parts:
                    for m, st in zip(merged, self._label_stages(p)):
                        m += [i for i in st if i not in m]
                stages = merged
        # The first kind of match that lands in the firm's chain wins; failing that, the
        # first kind of match anywhere (a firm may name a segment of another chain).
        if chain is not None:
            for st in stages:
                inside = [i for i in st if self.segments[i].chain_id == chain.id]
                if inside:
                    return [self.segments[i] for i in inside]
            # "上游配套", "中游制造": the chain's top-level segments at that stage
            stage = next((st for st in STAGES if st in segment_name), None)
            if stage:
                return [self.segments[i] for i in chain.segment_ids
                        if self.segments[i].stage == stage and self.segments[i].parent is None]
            stages = stages[:2]  # a partial match in another chain is a coincidence
        for st in stages:
            if st:
                return [self.segments[i] for i in st]
        return []

    def _label_stages(self, label: str) -> list[list[str]]:
        """Segment ids a label names, by strength of match: exact segment name or alias,
        product term (or a synonym of one), partial name or alias."""
        k = norm(label)
        if not k:
            return [[], [], []]
        exact = list(self._segs_by_label.get(k, []))
        terms: list[str] = []
        for t in [label, *self.synonyms_of(label)]:
            terms += [i for i in self._segs_by_term.get(norm(t), []) if i not in terms]
        partial: list[str] = []
        if len(k) >= 2:
            for key, sids in self._segs_by_label.items():
                if len(key) >= 2 and (key in k or k in key):
                    partial += [i for i in sids if i not in partial]
        return [exact, terms, partial]

    def segments_for_text(self, text: str, top: int = 5) -> list[Segment]:
        """Segments a free text points to through problem words and segment names (not
        through every product term: those the text index sees already)."""
        k = norm(text)
        if not k:
            return []
        hits: dict[str, float] = {}
        heads, names = self._text_index()
        # (speed, same result) a problem phrase, written whole or gapped, starts with its first
        # two characters: only the phrases whose first two occur in the text are tried, in
        # their order (a demand's first ranking waited ~1 ms on the ~1,700 phrases)
        tried = sorted({i for j in range(len(k) - 1) for i in heads.get(k[j:j + 2], ())})
        keys = self._problem_keys
        for p, sid in (keys[i] for i in tried):
            if p in k:
                w = 1.0
            elif _gapped(p, k):
                w = 0.7  # "出水变小" written as "出水明显变小"
            else:
                continue
            # A generic complaint (寿命短) names many segments; a specific one (叫不醒) few.
            hits[sid] = hits.get(sid, 0.0) + w / self._problem_df[p]
        for sid, name in names:
            if name in k:
                hits[sid] = hits.get(sid, 0.0) + 0.5
        if not hits:
            return []
        best = max(hits.values())
        order = sorted((i for i in hits if hits[i] >= 0.5 * best), key=lambda i: (-hits[i], i))
        return [self.segments[i] for i in order[:top]]

    def _text_index(self) -> tuple[dict, tuple]:
        """For :meth:`segments_for_text`, made on first use: the positions in
        ``_problem_keys`` of the phrases (two characters or more) by their first two
        characters, and the (id, normalised name) of the segments named by three or more."""
        got = self.__dict__.get("_text_idx")
        if got is None:
            heads: dict[str, list[int]] = {}
            for i, (p, _) in enumerate(self._problem_keys):
                if len(p) >= 2:
                    heads.setdefault(p[:2], []).append(i)
            names = tuple((s.id, norm(s.name)) for s in self.segments.values() if len(s.name) >= 3)
            got = (heads, names)
            object.__setattr__(self, "_text_idx", got)
        return got

    # -- supply -------------------------------------------------------------------------
    def suppliers_of(self, segment_id: str) -> list[str]:
        return [a for a, b in self.supply_edges if b == segment_id]

    def customers_of(self, segment_id: str) -> list[str]:
        return [b for a, b in self.supply_edges if a == segment_id]


def _gapped(phrase: str, text: str, gap: int = 6) -> bool:
    """Whether a problem phrase of four or more characters occurs in ``text`` with a few
    characters inserted between its halves (出水变小 in 出水明显变小, 唤醒率低 in 唤醒率明显偏低)."""
    if len(phrase) < 4:
        return False
    head, tail = phrase[:2], phrase[2:]
    start = text.find(head)
    while start >= 0:
        window = _CLAUSE_END.split(text[start + 2:start + 2 + len(tail) + gap], 1)[0]
        if tail in window:
            return True
        start = text.find(head, start + 1)
    return False


def _strings(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaxonomyError(f"产业链图谱格式错误：{where} 应为字符串列表")
    return tuple(v.strip() for v in value if v.strip())


def from_dict(doc: Mapping) -> Taxonomy:
    """Build and validate a Taxonomy from the parsed JSON document."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("chains"), list):
        raise TaxonomyError("产业链图谱格式错误：缺少 chains 列表")
    chains: list[Chain] = []
    segments: dict[str, Segment] = {}
    chain_keys: set[str] = set()
    for ci, c in enumerate(doc["chains"]):
        cid, cname = c.get("id"), c.get("name")
        if not cid or not cname:
            raise TaxonomyError(f"产业链图谱格式错误：第{ci + 1}条产业链缺少 id 或 name")
        for key in (cid, cname):
            if norm(key) in chain_keys:
                raise TaxonomyError(f"产业链图谱错误：产业链“{key}”重复")
            chain_keys.add(norm(key))
        seg_ids = []
        for si, s in enumerate(c.get("segments") or []):
            sid, sname, stage = s.get("id"), s.get("name"), s.get("stage")
            where = f"产业链“{cname}”第{si + 1}个环节"
            if not sid or not sname:
                raise TaxonomyError(f"产业链图谱格式错误：{where}缺少 id 或 name")
            if sid in segments:
                raise TaxonomyError(f"产业链图谱错误：环节编号“{sid}”重复")
            if stage not in STAGES:
                raise TaxonomyError(f"产业链图谱错误：环节“{sid}”的阶段“{stage}”不是上游、中游或下游")
            segments[sid] = Segment(
                id=sid, name=sname.strip(), chain=cname, chain_id=cid, stage=stage,
                parent=s.get("parent") or None,
                aliases=_strings(s.get("aliases"), f"环节“{sid}”的 aliases"),
                terms=_strings(s.get("terms"), f"环节“{sid}”的 terms"),
                problems=_strings(s.get("problems"), f"环节“{sid}”的 problems"))
            seg_ids.append(sid)
        chains.append(Chain(id=cid, name=cname, aliases=_strings(c.get("aliases"), f"产业链“{cname}”的 aliases"),
                            gbt4754=_strings(c.get("gbt4754"), f"产业链“{cname}”的 gbt4754"),
                            sei2018=_strings(c.get("sei2018"), f"产业链“{cname}”的 sei2018"),
                            segment_ids=tuple(seg_ids)))
    for s in segments.values():
        if s.parent is not None:
            p = segments.get(s.parent)
            if p is None:
                raise TaxonomyError(f"产业链图谱错误：环节“{s.id}”的上级环节“{s.parent}”不存在")
            if p.chain_id != s.chain_id:
                raise TaxonomyError(f"产业链图谱错误：环节“{s.id}”的上级环节“{s.parent}”属于另一条产业链")
    synonyms = []
    for gi, g in enumerate(doc.get("synonyms") or []):
        group = _strings(g, f"第{gi + 1}个同义词组")
        if len(group) < 2:
            raise TaxonomyError(f"产业链图谱错误：第{gi + 1}个同义词组至少需要两个词")
        synonyms.append(group)
    edges = []
    for ei, e in enumerate(doc.get("supplies") or []):
        if not (isinstance(e, list) and len(e) == 2):
            raise TaxonomyError(f"产业链图谱格式错误：第{ei + 1}条供应关系应为 [供方环节, 需方环节]")
        for end in e:
            if end not in segments:
                raise TaxonomyError(f"产业链图谱错误：第{ei + 1}条供应关系引用了不存在的环节“{end}”")
        edges.append((e[0], e[1]))
    return Taxonomy(chains=tuple(chains), segments=MappingProxyType(segments), synonyms=tuple(synonyms),
                    supply_edges=tuple(dict.fromkeys(edges)), version=int(doc.get("version", 1)))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate the taxonomy (default: the packaged datasets/taxonomy.json)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"找不到产业链图谱文件：{p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TaxonomyError(f"产业链图谱文件 {p} 不是有效的 JSON：{e}") from None
    return from_dict(doc)


def iter_segments(tx: Taxonomy, chain: str | None = None, stage: str | None = None) -> Iterable[Segment]:
    """Segments of one chain and/or stage, in file order."""
    c = tx.chain(chain) if chain else None
    for s in tx.segments.values():
        if (c is None or s.chain_id == c.id) and (stage is None or s.stage == stage):
            yield s
