"""Matcher: ranks SMEs for a demand and demands for an SME.

Two stages. Candidate generation takes the union of the best firms by whole-profile TF-IDF,
by the expanded queries (taxonomy synonyms and problem words, pseudo-relevance feedback) and
by personalised PageRank on the chain graph. The candidates are then scored by a linear
model over pair features (per-field TF-IDF cosines, graph scores, priors) whose weights were
FITTED on judged benchmark sets (``bench/fit_weights.py`` -> ``matchmaker/model/weights.json``).

The score of a pair (demand, firm) depends on the pair only, so the same numbers rank SMEs
for a demand and demands for an SME (``rank_demands``).
"""
from __future__ import annotations

import bisect
import concurrent.futures
import functools
import json
import math
import re
import weakref
from array import array
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rjieba
import scipy.sparse as sp

from .concepts import ConceptSpace
from .concepts import cosines as concept_cosines
from .graph import RELATION_WEIGHTS, ChainGraph
from .index import (FieldIndex, TokenIds, _small_counts, count_matrix, keep_columns, release_free_heap,
                    split_words_bigrams, stack_rows)
from .records import Grouped, KeyMap, Keys, Records, with_positions
from .text import BIGRAM_PREFIX, STOP_WORDS, Tokenizer, is_cjk, normalize
from .workers import per_process, run

__all__ = ["Match", "Matcher", "FEATURES", "load_weights", "WEIGHTS_PATH"]

WEIGHTS_PATH = Path(__file__).resolve().parent / "model" / "weights.json"

TIER_RANK = {"专精特新“小巨人”": 1.0, "专精特新\"小巨人\"": 1.0, "专精特新小巨人": 1.0, "小巨人": 1.0,
             "独角兽企业": 0.9, "瞪羚企业": 0.8, "专精特新中小企业": 0.7, "雏鹰企业": 0.5,
             "创新型中小企业": 0.4}
# Qingdao's districts and county-level cities: an SME nearby is a (weak) preference.
QINGDAO = ("市南", "市北", "李沧", "崂山", "城阳", "黄岛", "西海岸", "即墨", "胶州", "平度", "莱西",
           "高新区", "青岛")

# Order matters: it is the column order of the fitted weights.
FEATURES = (
    "t_all", "t_words", "t_bigrams", "t_pt", "t_desc", "t_seg", "t_name", "t_title",
    "t_syn", "t_prf", "t_all_rel", "t_prf_rel",
    "g_ppr", "g_cf", "g_rel", "g_deg",
    "chain", "chain_prof", "tier", "local",
    # what kind of demand this is (constant within a demand: they let the model weigh text
    # against graph differently for a detailed technical demand and a bare supplier call)
    "q_len", "q_sup", "q_maxall",
    "t_bm25_rel", "g_2hop",
    # how much the firm reads like the buyer's known suppliers (link prediction by content)
    "g_supsim",
    # a short call naming a field (3D打印医疗器械): does the firm's profile contain all of it,
    # not just its most frequent part (idf share of the demand's bigrams present; every
    # demand word present); and how much the firm is spoken of among partners (relation
    # degree: a well-known group whose profile lists product names rather than the field)
    "t_cover", "t_allwords", "g_reldeg",
    # (Q3) t_all_rel * t_prf_rel: lets the blend add the two relative text scores other
    # than linearly. Its fitted weight is negative: being at the top by the demand's own
    # words or by its feedback terms counts, both at once adds less than the sum, so a firm
    # found by the feedback terms alone (a capability in other words) is not buried under
    # firms that repeat the demand's surface words (measured: bench/fit_weights.py)
    "t_both",
    # (Q5) how strongly the firm's relations (partners, rivals, holdings) match the demand:
    # the summed whole-profile cosines of its related SMEs, relative to the best firm's (a
    # group whose profile lists product names is known by the company it keeps)
    "g_relnb",
    # (Q6) cosine of the firm with the demand's feedback query in the profiles' latent
    # concepts (LSA, matchmaker/concepts.py): a capability written in other words sits near
    # the demand's words there (grade-1 tails, and the asked capability against decoys)
    "t_concept",
)
# The two sides of the blend, for ablations (Matcher(use_text=False) / (use_graph=False)):
# what the texts say, and where the firm sits in the chain graph and among partners.
# Priors (declared chain, tier, locality) belong to neither.
TEXT_FEATURES = tuple(f for f in FEATURES if f.startswith("t_")) + ("q_len", "q_maxall")
GRAPH_FEATURES = tuple(f for f in FEATURES if f.startswith("g_")) + ("q_sup",)
# Columns summed into reasons["parts"] (the q_* columns are constant within a demand: no part).
_TEXT_PART = np.array([f.startswith("t_") for f in FEATURES])
_GRAPH_PART = np.array([f.startswith("g_") for f in FEATURES])
_PRIOR_PART = np.array([f in ("chain", "chain_prof", "tier", "local") for f in FEATURES])
# Columns of Matcher._presence_cols, in its order.
_PRESENCE_COLS = [FEATURES.index(f) for f in ("t_cover", "t_allwords", "g_reldeg")]
_BOTH = FEATURES.index("t_both")
_RELNB = FEATURES.index("g_relnb")
_CONCEPT = FEATURES.index("t_concept")

# Firm fields and how they are put together into the whole profile (repetition = weight:
# what a firm makes and masters counts above its marketing prose).
_FIELDS = ("pt", "desc", "seg", "name", "all", "words", "bigrams")
_NAME_NOISE = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|股份|公司|\(.*?\)|（.*?）)")


@dataclass
class Match:
    """One ranked item: ``credit_code`` for SMEs ranked for a demand, ``demand_id`` for
    demands ranked for an SME."""
    credit_code: str | None = None
    score: float = 0.0
    reasons: dict = field(default_factory=dict)
    demand_id: str | None = None

    @property
    def id(self) -> str:
        return self.credit_code if self.credit_code is not None else self.demand_id

    def to_dict(self) -> dict:
        out = {"score": round(float(self.score), 6), "reasons": self.reasons}
        if self.credit_code is not None:
            out = {"credit_code": self.credit_code, **out}
        else:
            out = {"demand_id": self.demand_id, **out}
        return out


# A demand's graph scores are computed beside its text scores when there is a second core
# (three workers: PageRank, the leader's part and the BM25 scores of one demand; jobs never
# wait for each other, so concurrent requests only queue). One pool per process: a forked
# child has none of its parent's threads.
_POOL: list = [None, None]  # [pid, executor]


def _pool() -> concurrent.futures.ThreadPoolExecutor | None:
    return per_process(_POOL, 3, "matcher")


class _TextPool(np.ndarray):
    """(Q5) A text candidate pool (firm positions) that also carries, in ``related``, the
    SMEs of the relation pool drawn beside it (Matcher._relation_pool), which only brief
    demands use: their kind is decided after the pools are drawn. Stays a plain ndarray of
    positions for every other reader."""

    related = None


class TopVec:
    """The largest entries of a per-firm score vector (the rest read as 0): a demand keeps
    its graph scores in a few KB instead of one dense array per firm."""

    __slots__ = ("idx", "val", "max")

    def __init__(self, arr: np.ndarray, keep: int):
        nz = np.flatnonzero(arr > 0)
        if len(nz) > keep:
            vals = arr[nz]
            # the keep-th largest value by a partition of the values (cheaper than
            # argpartition's index array); when exactly ``keep`` values reach it they are the
            # set argpartition gives (no tie at the cut: nearly always), else it decides
            kth = np.partition(vals, len(vals) - keep)[len(vals) - keep] if keep > 0 else np.inf
            top = vals >= kth
            if np.count_nonzero(top) == keep:
                nz = nz[top]
            else:
                nz = nz[np.argpartition(-vals, keep - 1)[:keep]] if keep > 0 else nz[:0]
        nz = np.sort(nz)
        self.idx = nz.astype(np.int64)
        self.val = arr[nz].astype(np.float32)
        self.max = float(self.val.max()) if len(self.val) else 0.0

    def __getitem__(self, firm_idx) -> np.ndarray:
        firm_idx = np.atleast_1d(np.asarray(firm_idx, dtype=np.int64))
        out = np.zeros(len(firm_idx), dtype=np.float64)
        if len(self.idx):
            pos = np.searchsorted(self.idx, firm_idx)
            pos = np.minimum(pos, len(self.idx) - 1)
            hit = self.idx[pos] == firm_idx
            out[hit] = self.val[pos[hit]]
        return out

    def set(self, i: int, value: float) -> None:
        pos = int(np.searchsorted(self.idx, i))
        if pos < len(self.idx) and self.idx[pos] == i:
            self.val[pos] = value
        elif value > 0:
            self.idx = np.insert(self.idx, pos, i)
            self.val = np.insert(self.val, pos, np.float32(value))
        self.max = float(self.val.max()) if len(self.val) else 0.0

    def top(self, k: int, allowed: np.ndarray) -> np.ndarray:
        ok = allowed[self.idx] if len(self.idx) else np.zeros(0, dtype=bool)
        idx, val = self.idx[ok], self.val[ok]
        if len(idx) > k:
            idx = idx[np.argpartition(-val, k - 1)[:k]]
        return idx


class TreeEnsemble:
    """Prediction of a gradient-boosted tree ensemble stored as plain JSON (exported from
    scikit-learn's HistGradientBoostingClassifier by bench/fit_weights.py), so that the
    package ships numbers, not a pickle."""

    def __init__(self, spec: dict):
        self.baseline = float(spec["baseline"])
        self.trees = [{k: np.asarray(v) for k, v in t.items()} for t in spec["trees"]]

    def decision(self, X: np.ndarray) -> np.ndarray:
        out = np.full(len(X), self.baseline)
        rows = np.arange(len(X))
        for t in self.trees:
            node = np.zeros(len(X), dtype=np.int64)
            leaf = t["is_leaf"].astype(bool)
            while True:
                active = ~leaf[node]
                if not active.any():
                    break
                nd = node[active]
                x = X[rows[active], t["feature"][nd]]
                go_left = np.where(np.isnan(x), t["missing_left"][nd].astype(bool), x <= t["threshold"][nd])
                node[active] = np.where(go_left, t["left"][nd], t["right"][nd])
            out += t["value"][node]
        return out

    @staticmethod
    def export(model) -> dict:
        trees = []
        for per_class in model._predictors:
            nodes = per_class[0].nodes
            trees.append({"feature": nodes["feature_idx"].tolist(),
                          "threshold": nodes["num_threshold"].tolist(),
                          "left": nodes["left"].tolist(), "right": nodes["right"].tolist(),
                          "is_leaf": nodes["is_leaf"].astype(int).tolist(),
                          "missing_left": nodes["missing_go_to_left"].astype(int).tolist(),
                          "value": nodes["value"].tolist()})
        return {"baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees}


def load_weights(path: Path | str = WEIGHTS_PATH) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# Used when no fitted weights are packaged (fresh checkout before bench/fit_weights.py ran).
_DEFAULT_WEIGHTS = {
    "features": list(FEATURES),
    "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES),
    "coef": [3.0, 1.0, 1.0, 1.0, 0.3, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 0.5,
             1.0, 1.0, 0.3, 0.1, 0.3, 0.3, 0.1, 0.05, 0.0, 0.0, 0.0, 1.0, 0.3,
             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # one per FEATURES column (g_supsim, t_cover, t_allwords, g_reldeg, t_both, g_relnb, t_concept)
    "intercept": -3.0,
}


class _TaxonomyView:
    """What the Matcher needs from matchmaker.taxonomy, tolerant of a missing taxonomy or a
    chain it does not know."""

    def __init__(self, taxonomy):
        self.tx = taxonomy

    def _call(self, name, *args, default=None):
        fn = getattr(self.tx, name, None)
        if fn is None:
            return default
        try:
            return fn(*args) if callable(fn) else fn
        except LookupError:
            # an unknown chain or segment reads as none; any other error is a bug in the
            # taxonomy and must surface, not show up as quietly weaker rankings
            return default

    def terms(self) -> list[str]:
        if self.tx is None:
            return []
        return [t for t in (self._call("terms", default=[]) or []) if isinstance(t, str)]

    def synonyms(self, term: str) -> list[str]:
        if self.tx is None:
            return []
        return [s for s in (self._call("synonyms_of", term, default=[]) or []) if isinstance(s, str)]

    def segments_for_term(self, term: str) -> list[tuple[str, str]]:
        if self.tx is None:
            return []
        out = []
        for s in self._call("segments_for_term", term, default=[]) or []:
            pair = _segment_pair(s)
            if pair:
                out.append(pair)
        return out

    def find_segments(self, text: str) -> list:
        """Segments that a free text (a problem description included) evokes."""
        if self.tx is None:
            return []
        # a demand's expansions and its graph seeds ask for the same text one after the other
        # (~3 ms each at 16 chains): the last answer is kept (one tuple, replaced atomically)
        last = getattr(self, "_last_found", None)
        if last is not None and last[0] == text:
            return list(last[1])
        if hasattr(self.tx, "segments_for_text"):
            found = list(self._call("segments_for_text", text, 5, default=[]) or [])
        else:
            found = list(self._call("find_segments", text, default=[]) or [])
        self._last_found = (text, tuple(found))
        return found

    def label_segments(self, chain: str, label: str) -> list[tuple[str, str]]:
        """Taxonomy segments that a firm's own 产业链环节 label names."""
        if self.tx is None or not hasattr(self.tx, "segments_for_text"):
            return []
        out = []
        for s in self._call("find_segments", chain, label, default=[]) or []:
            pair = _segment_pair(s)
            if pair:
                out.append(pair)
        return out

    def segment_terms(self, seg) -> list[str]:
        """Terms that name what a segment makes (used to expand problem descriptions)."""
        if isinstance(seg, Mapping):
            out = []
            for key in ("name", "aliases", "terms", "products", "keywords", "technologies"):
                v = seg.get(key)
                if isinstance(v, str):
                    out.append(v)
                elif v:
                    out.extend(t for t in v if isinstance(t, str))
            return out
        out = []
        for key in ("name", "aliases", "terms"):
            v = getattr(seg, key, None)
            if isinstance(v, str):
                out.append(v)
            elif v:
                out.extend(t for t in v if isinstance(t, str))
        return out


def _segment_pair(s) -> tuple[str, str] | None:
    if isinstance(s, (tuple, list)) and len(s) >= 2:
        return str(s[0]), str(s[1])
    if isinstance(s, Mapping):
        ch = s.get("chain") or s.get("chain_name")
        seg = s.get("segment") or s.get("name")
        if ch and seg:
            return str(ch), str(seg)
    ch, seg = getattr(s, "chain", None), getattr(s, "name", None) or getattr(s, "segment", None)
    if ch and seg:
        return str(ch), str(seg)
    return None


class _FirmDoc(dict):
    """A firm's token lists per field. Only the base fields are stored (tokens interned);
    the whole-profile fields are put together when asked for, so 200k firms do not hold
    three more copies of their tokens."""

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key == "all":
            pt = self["pt"]
            return self["name"] + pt + pt + self["seg"] + self["desc"]
        if key == "words":
            return [t for t in self.get("all") if not t.startswith(BIGRAM_PREFIX)]
        if key == "bigrams":
            return [t for t in self.get("all") if t.startswith(BIGRAM_PREFIX)]
        return default

    __getitem__ = get


# Normalised punctuation that never sits inside a phrase shown as a reason.
_PHRASE_SEP = frozenset(" ,;:!?\"'<>[]()|~{}=≤≥±")
# Characters that, standing alone at the edge of a shared span, are grammar, not capability.
_FUNCTION_CHARS = frozenset("的了和与及或等在是为对将把被从向由于其之该本各每可也都并而且又但则就还更已用以")
_NORM_CHAR: dict[str, str] = {}
# the same, as a str.translate table, and the characters whose form is not one character
_NORM_TABLE: dict[int, str] = {}
_NORM_WIDE: set[str] = set()


@functools.lru_cache(maxsize=4096)
def _norm_chars(text: str) -> tuple[str, Sequence[int], str]:
    """(normalised text, index in ``text`` of each normalised character, text): normalised one
    character at a time, so that a phrase found in normalised text can be shown as written."""
    # one translate when every character stays one character (nearly always): each firm's
    # text is normalised when it is first shown with reasons, 20 firms per first ranking
    chars = set(text)
    for ch in chars.difference(_NORM_CHAR):
        n = _NORM_CHAR[ch] = (normalize(ch) or " ") if not ch.isspace() else " "
        _NORM_TABLE[ord(ch)] = n
        if len(n) != 1:
            _NORM_WIDE.add(ch)
    if _NORM_WIDE.isdisjoint(chars):
        # (positions unchanged: a range, not a tuple of every index, 20 firm texts a ranking)
        return text.translate(_NORM_TABLE), range(len(text)), text
    out, pos = [], []
    for i, ch in enumerate(text):
        n = _NORM_CHAR.get(ch)
        if n is None:
            n = _NORM_CHAR[ch] = (normalize(ch) or " ") if not ch.isspace() else " "
        out.append(n)
        pos.extend([i] * len(n))
    return "".join(out), tuple(pos), text


def _demand_chars(d: dict) -> tuple[str, str, Sequence[int]]:
    text = "\n".join(d.get(k) or "" for k in ("title", "description", "specs"))
    norm, pos, _ = _norm_chars(text)
    return text, norm, pos


def _word_bounds(text: str) -> frozenset:
    """Positions in ``text`` where a segmenter word starts or ends."""
    out, pos = {0}, 0
    for w in rjieba.cut(text):
        pos += len(w)
        out.add(pos)
    return frozenset(out)


def _firm_text(f: dict) -> str:
    return " ; ".join([f.get("name") or "", f.get("products") or "", f.get("technologies") or "",
                       f.get("description") or "", *(f.get("chains") or []), *(f.get("segments") or [])])


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@functools.lru_cache(maxsize=256)
def _bigram_starts(a: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Each distinct two-character piece of ``a`` with the positions where it starts."""
    starts: dict[str, list[int]] = defaultdict(list)
    for i in range(len(a) - 1):
        starts[a[i:i + 2]].append(i)
    return tuple((bg, tuple(p)) for bg, p in starts.items())


def _shared_spans(a: str, b: str) -> list[tuple[int, int]]:
    """Maximal substrings of ``a`` (at least two characters) that also occur in ``b``, as
    (start, end) in ``a``, cut at punctuation and never splitting an ASCII word (PLC, 8K)."""
    if len(b) < 2:
        return []
    # where a shared span can start: the positions of the demand's (``a``, the same for every
    # firm) two-character pieces that the firm's text contains
    hits = sorted([i for bg, pos in _bigram_starts(a) if bg in b for i in pos])
    runs = []
    n, prev_end = len(a), -1
    for i in hits:
        # a[i:prev_end] lies inside the previous run, so it occurs in b already
        length = max(2, prev_end - i)
        while i + length < n and a[i:i + length + 1] in b:
            length += 1
        if i + length > prev_end:
            runs.append((i, i + length))
            prev_end = i + length
    return _trim_runs(a, runs)


@functools.lru_cache(maxsize=256)
def _separators(a: str) -> tuple[tuple[int, ...], dict]:
    """Positions of the phrase separators in ``a`` (a demand's text, the same for every firm),
    and a memo of its runs' pieces (the same runs come back firm after firm)."""
    return tuple(k for k, ch in enumerate(a) if ch in _PHRASE_SEP), {}


def _trim_runs(a: str, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Shared runs of ``a`` cut at phrase separators, with partial ASCII words and edge
    punctuation trimmed off; pieces of at least two characters."""
    seps, memo = _separators(a)
    out = []
    for run in runs:
        got = memo.get(run)
        if got is None:
            got = memo[run] = _trim_run(a, run, seps)
        out.extend(got)
    return out


def _trim_run(a: str, run: tuple[int, int], seps: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """The pieces of one run (see :func:`_trim_runs`)."""
    n = len(a)
    out = []
    s, e = run
    start = s
    # the run's separators, then its end (looked up, not a scan of every character)
    lo_k = bisect.bisect_left(seps, s)
    hi_k = bisect.bisect_left(seps, e, lo_k)
    for k in (*seps[lo_k:hi_k], e):
        lo, hi = start, k
        start = k + 1
        if lo > 0 and _is_word_char(a[lo - 1]):
            while lo < hi and _is_word_char(a[lo]):
                lo += 1
        if hi < n and _is_word_char(a[hi]):
            while hi > lo and _is_word_char(a[hi - 1]):
                hi -= 1
        while lo < hi and a[lo] in "-./+#":
            lo += 1
        while hi > lo and a[hi - 1] in "-./+#":
            hi -= 1
        if hi - lo >= 2:
            out.append((lo, hi))
    return tuple(out)


def _top_row(cols: np.ndarray, vals: np.ndarray, k: int, width: int) -> sp.csr_matrix:
    """A 1 x ``width`` float32 CSR row of the entries ``vals`` at ``cols`` (ascending) that are
    not below the k-th largest nonzero one (ties kept): the heaviest terms of a centroid,
    built from its nonzeros only (a vocabulary-wide dense row costs more than the rest)."""
    keep = vals != 0
    cols, vals = cols[keep], vals[keep]
    if k < len(vals):
        keep = vals >= np.partition(vals, -k)[-k]
        cols, vals = cols[keep], vals[keep]
    vals = vals.astype(np.float32)
    keep = vals != 0
    return sp.csr_matrix((vals[keep], cols[keep].astype(np.int32), np.array([0, int(keep.sum())], dtype=np.int32)),
                         shape=(1, width))


def _in_positions(rows: sp.csr_matrix, cols: np.ndarray) -> sp.csr_matrix:
    """``rows`` with each column renumbered as its position in the ascending ``cols`` (every
    column of ``rows`` must be among them): the rows cut to a query's columns
    (``FieldIndex.rows(..., cols=)``) times the query as a dense vector over those columns is
    the CSR product over the rows' entries in their order, equal to the bit to the product
    with the whole query (the entries cut would each add +0.0 to a sum of non-negative
    products), with nothing vocabulary-wide allocated."""
    return sp.csr_matrix((rows.data, np.searchsorted(cols, rows.indices), rows.indptr),
                         shape=(rows.shape[0], len(cols)))


try:  # scipy's kernel of ``csr @ vector``, private: without it the matrix is built
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover
    _csr_matvec = None


def _csr_dot(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``csr_matrix((data, indices, indptr)) @ v``: the kernel that scipy's product calls, with
    the same arguments and output type, without building and validating the matrix (which
    costs more than the product over a ranking's few thousand entries)."""
    n = len(indptr) - 1
    if _csr_matvec is None:
        return sp.csr_matrix((data, indices, indptr), shape=(n, len(v))) @ v
    out = np.zeros(n, dtype=np.result_type(data.dtype, v.dtype))
    _csr_matvec(n, len(v), indptr, indices.astype(indptr.dtype, copy=False), data, v, out)
    return out


def _unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-D array (its distinct values, ascending, same dtype) by a sort:
    numpy 2's hash-based ``np.unique`` costs 4-8x more on a ranking's few hundred to few
    thousand firm positions or columns (~1 ms a first ranking in all)."""
    a = np.sort(a, kind="quicksort")
    if len(a) > 1:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


def _column_sums(mat: sp.csr_matrix, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns present in ``mat``, ascending; their sums in ``weights @ mat``), in the dtype
    of the products. Each column is summed from 0 in row order, as scipy's products and
    ``sum(axis=0)`` add them, so the sums are the same to the last bit; nothing
    vocabulary-wide is allocated."""
    dtype = np.result_type(mat.data.dtype, np.asarray(weights).dtype)
    vals = mat.data.astype(dtype) * np.repeat(np.asarray(weights, dtype=dtype), np.diff(mat.indptr))
    cols, where = np.unique(mat.indices, return_inverse=True)
    sums = np.zeros(len(cols), dtype=dtype)
    np.add.at(sums, where, vals)
    return cols, sums


def _tier_value(tiers: Iterable[str]) -> float:
    best = 0.0
    for t in tiers or []:
        t = t.strip()
        v = TIER_RANK.get(t)
        if v is None and "小巨人" in t:
            v = 1.0
        best = max(best, v or 0.0)
    return best


def _best_tier(tiers: Iterable[str]) -> str:
    best, label = -1.0, ""
    for t in tiers or []:
        v = _tier_value([t])
        if v > best:
            best, label = v, t
    return label


class _RowItems(Sequence):
    """Row i of a CSR matrix as ``kind(items[c] for c in row i)``, made when read: a firm's
    taxonomy terms or segments without a Python container per firm held through the fit.
    The items come in the row's stored order, as a list or set built from them would."""

    def __init__(self, mat: sp.csr_matrix, items: Sequence, kind):
        self.mat, self.items, self.kind = mat, items, kind

    def __len__(self) -> int:
        return self.mat.shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        ptr, items = self.mat.indptr, self.items
        return self.kind(items[c] for c in self.mat.indices[ptr[i]:ptr[i + 1]].tolist())


class Matcher:
    """Ranks SMEs for demands and demands for SMEs (docs/design.md, "Ranking contract").

    Parameters
    ----------
    weights: fitted blend (dict as in ``model/weights.json``), a path, or None for the packaged one.
    candidates: how many firms each generator contributes to the rerank stage.
    prf_docs, prf_terms: pseudo-relevance feedback (top documents read, terms kept);
    ``prf_terms`` None: the number fitted per demand kind (``prf_terms`` in weights.json,
    chosen by bench/fit_weights.py), PRF_TERMS for a kind it does not name.
    syn_weight: weight of synonym / problem-word expansions relative to exact terms.
    use_bigrams: fuse character bigrams with segmenter words.
    alpha: PageRank damping.
    use_text, use_graph: ablations. With one of them False the other side's features read 0
    and its candidate pools are not drawn; the blend used is the one fitted for that ablation
    (``ablations`` in weights.json, see bench/fit_weights.py), else the full blend with the
    other side's weights dropped. Priors (chain, tier, locality) stay in both.
    supplier_terms: terms kept from the leader's known suppliers' profiles (feature g_supsim).
    concept_dims, concept_docs: dimensions of the profiles' latent concept space (feature
    t_concept; one int8 per dimension and firm) and the most firms its SVD is fitted on.
    """

    def __init__(self, weights=None, candidates: int = 200, prf_docs: int = 5, prf_terms: int | None = None,
                 syn_weight: float = 0.5, use_bigrams: bool = True, alpha: float = 0.5,
                 graph_keep: int = 5000, template_df: float = 0.3, use_text: bool = True,
                 use_graph: bool = True, supplier_terms: int = 100, concept_dims: int = 32,
                 concept_docs: int = 20000):
        self.weights = weights
        self.use_text = use_text
        self.use_graph = use_graph
        self.supplier_terms = supplier_terms
        self.candidates = candidates
        self.prf_docs = prf_docs
        self.prf_terms = prf_terms
        self.syn_weight = syn_weight
        self.use_bigrams = use_bigrams
        self.alpha = alpha
        self.graph_keep = graph_keep
        self.template_df = template_df
        self.concept_dims = concept_dims
        self.concept_docs = concept_docs

    # ------------------------------------------------------------------ fitting
    def fit(self, firms: Sequence[dict], demands: Sequence[dict], relations: Sequence[dict] = (),
            taxonomy=None) -> "Matcher":
        self.taxonomy_ = _TaxonomyView(taxonomy)
        self._load_model()
        terms = self.taxonomy_.terms()
        self.tokenizer_ = Tokenizer(terms, bigrams=self.use_bigrams)
        self._term_set = {normalize(t) for t in terms}
        self._syn_cache: dict[str, list[str]] = {}

        # Kept compact (pickled, decoded when read); a Records given is used as is. The
        # passes below read the caller's records when they are plain dicts (no decoding).
        self.firms_ = Records.of(firms)
        if not isinstance(firms, Records) and not isinstance(firms, list):
            firms = list(firms)
        self.chain_pos_: dict[str, int] = {}
        # codes by position and the lookups code -> position, name -> code as records.Keys
        # (no Python string or dict entry per firm: ~0.5 GiB at 1M firms as dicts)
        codes, names = [], []
        for f in firms:
            codes.append(f["credit_code"])
            names.append(f.get("name", ""))
        self.codes_ = Keys(codes)
        self.firm_pos_ = self.codes_.positions()
        self.name_to_code_ = KeyMap(Keys(names), self.codes_)
        del codes, names
        counts, tokens = self._firm_counts(firms)
        # taxonomy terms among each firm's words, read off the count matrix
        term_col = np.full(len(tokens), -1, dtype=np.int64)
        term_ids = [j for j, t in enumerate(tokens) if t in self._term_set and not t.startswith(BIGRAM_PREFIX)]
        term_col[term_ids] = np.arange(len(term_ids))
        found = keep_columns(counts["all"], term_col, len(term_ids))
        # each firm's set made when read (a million Python sets were ~0.5 GiB through the fit)
        firm_terms = _RowItems(found, [tokens[j] for j in term_ids], set)
        del found
        # pt/desc/seg/name are read only as candidates' rows: kept as counts (row_only)
        self.index_ = FieldIndex(_FIELDS, max_df=0.5, bm25_fields=("all",), split_from="all",
                                 row_only=self._BASE_FIELDS).fit_counts(counts, tokens, consume=True)
        del counts
        self._refresh_firm_arrays(firms)
        self._fit_concepts()

        # kept compact, as the firms; the passes below read the caller's dicts
        self.relations_ = Records.of(relations)
        if not isinstance(relations, (list, Records)):
            relations = list(relations)
        self._index_relations(relations)
        term_segments = {}
        found_terms: set[str] = set()
        for row in firm_terms:  # as set().union(*firm_terms), without a tuple of them all
            found_terms.update(row)
        for t in found_terms:
            segs = self.taxonomy_.segments_for_term(t)
            if segs:
                term_segments[t] = segs
        label_cache: dict = {}
        seg_id: dict = {}
        seg_ids, seg_len = array("i"), array("q")
        for f in firms:
            before = len(seg_ids)
            for ch in f.get("chains") or []:
                for lab in f.get("segments") or []:
                    key = (ch, lab)
                    if key not in label_cache:
                        label_cache[key] = [seg_id.setdefault(s, len(seg_id))
                                            for s in self.taxonomy_.label_segments(ch, lab)]
                    seg_ids.extend(label_cache[key])
            seg_len.append(len(seg_ids) - before)
        # each firm's list of (chain, segment) made when read, as firm_terms
        firm_segments = _RowItems(sp.csr_matrix(
            (np.ones(len(seg_ids), dtype=np.int8), np.frombuffer(seg_ids, dtype=np.int32),
             np.concatenate([[0], np.cumsum(np.frombuffer(seg_len, dtype=np.int64))])),
            shape=(len(seg_len), max(1, len(seg_id)))), list(seg_id), list)
        del seg_ids, seg_len, label_cache
        self.graph_ = ChainGraph(alpha=self.alpha).fit(firms, relations, firm_terms,
                                                       term_segments, firm_segments, codes=self.codes_)
        self.firm_graph_rows_ = self.graph_.firm_index_array(self.codes_)

        # Words that most demands share are the template of the call, not what is asked
        # (面向…征集…开展技术攻关与配套合作): dropped from queries.
        self.template_words_: set[str] = set()
        if len(demands) >= 10:
            df: Counter = Counter()
            for d in demands:
                title, body = self._demand_text(d)
                df.update(set(title + body))
            self.template_words_ = {t for t, c in df.items() if c / len(demands) > self.template_df}
        self.demands_: list[dict] = []
        self.demand_pos_: dict[str, int] = {}
        self._dstate: list[dict] = []
        # a demand's state (query vectors, PageRank) is computed when first ranked
        for d in demands:
            self._add_demand(d, lazy=True)
        self._warm_leaders()  # (L4) the leaders' graph parts, which their demands share
        release_free_heap()  # the fit's freed temporaries (graph edges, firm passes)
        return self

    def _state(self, pos: int) -> dict:
        st = self._dstate[pos]
        if st is None:
            st = self._dstate[pos] = self._demand_state(self.demands_[pos])
        return st

    def _load_model(self):
        w = self.weights
        if w is None:
            w = load_weights() or _DEFAULT_WEIGHTS
        elif isinstance(w, (str, Path)):
            w = load_weights(w) or _DEFAULT_WEIGHTS
        off = self._ablated_columns()
        # (Q7) feedback terms per demand kind, fitted with the blends (the ablations share them)
        self.prf_by_kind_ = {str(k): int(v) for k, v in (w.get("prf_terms") or {}).items()}
        abl = self.ablation_name()
        if abl and (w.get("ablations") or {}).get(abl):
            w = w["ablations"][abl]
        self.models_ = {"default": self._linear(w, off)}
        for kind, spec in (w.get("profiles") or {}).items():
            self.models_[kind] = self._linear(spec, off)

    def ablation_name(self) -> str:
        """Key of the blend fitted for this ablation in weights.json ("" for the full one)."""
        if not self.use_text and not self.use_graph:
            return "priors_only"
        return "" if self.use_text and self.use_graph else ("graph_only" if self.use_text is False else "text_only")

    def _ablated_columns(self) -> np.ndarray:
        off = set()
        if not self.use_text:
            off.update(TEXT_FEATURES)
        if not self.use_graph:
            off.update(GRAPH_FEATURES)
        return np.array([i for i, f in enumerate(FEATURES) if f in off], dtype=np.int64)

    @staticmethod
    def _linear(w: dict, off: np.ndarray | None = None) -> dict:
        cols = [w["features"].index(f) if f in w["features"] else -1 for f in FEATURES]

        def pick(vec, fill):
            return np.array([vec[c] if c >= 0 else fill for c in cols], dtype=np.float64)
        trees = None
        if w.get("trees") and w.get("tree_features") == list(FEATURES) and (off is None or not len(off)):
            trees = TreeEnsemble(w["trees"])
        coef = pick(w["coef"], 0.0)
        if off is not None and len(off):
            coef[off] = 0.0  # an ablated side says nothing, whatever the blend it came from
        return {"coef": coef,
                "mean": pick(w.get("mean", [0.0] * len(w["features"])), 0.0),
                "scale": pick(w.get("scale", [1.0] * len(w["features"])), 1.0),
                "intercept": float(w.get("intercept", 0.0)), "trees": trees}

    def _model(self, st: dict) -> dict:
        return self.models_.get(st.get("kind"), self.models_["default"])

    # ------------------------------------------------------------------ documents
    _BASE_FIELDS = ("pt", "desc", "seg", "name")

    @staticmethod
    def _firm_texts(f: dict) -> tuple[str, str, str, str]:
        """The texts of a firm's base fields, in ``_BASE_FIELDS`` order."""
        name = _NAME_NOISE.sub(" ", normalize(f.get("name", ""))).replace("青岛", " ")
        return (f"{f.get('products', '')} ; {f.get('technologies', '')}",
                f.get("description", ""),
                " ; ".join(list(f.get("chains") or []) + list(f.get("segments") or [])),
                name)

    def _firm_doc(self, f: dict) -> _FirmDoc:
        tok = self.tokenizer_.tokenize  # tokens come interned
        return _FirmDoc(zip(self._BASE_FIELDS, map(tok, self._firm_texts(f))))

    _COUNT_BLOCK = 1 << 16   # firms per block of counts
    _CLAUSE_MEMO = 1 << 21   # distinct clauses remembered at most (about 0.5 GiB)

    def _firm_counts(self, firms: Sequence[dict]) -> tuple[dict[str, sp.csr_matrix], list[str]]:
        """Count matrices of every field over one vocabulary, without keeping token lists:
        tokens become integer ids as they come out of the tokenizer, and the whole-profile
        field is a sum of the base ones (all = name + 2 pt + seg + desc; "words" and "bigrams"
        are its column slices, derived by the index). Built by blocks of firms: the token ids
        of one block become CSR blocks at once, so neither every token id of the corpus nor
        the sum's intermediates are held (GiBs at 1M firms)."""
        ids = TokenIds()
        tk = self.tokenizer_
        flat = {b: array("i") for b in self._BASE_FIELDS}
        lengths = {b: array("q") for b in self._BASE_FIELDS}
        blocks: dict[str, list[sp.csr_matrix]] = {b: [] for b in self._BASE_FIELDS + ("all",)}
        get = ids.__getitem__

        def flush():
            V = len(ids.tokens)
            part = {}
            for b in self._BASE_FIELDS:
                part[b] = count_matrix(flat[b], lengths[b], V)
                flat[b], lengths[b] = array("i"), array("q")
            part["all"] = sp.csr_matrix(part["name"] + 2 * part["pt"] + part["seg"] + part["desc"])
            for b, m in part.items():
                # one byte a count (as the index keeps them) instead of a float32: the blocks
                # of every field are held until the end of the pass (0.8 GiB less at 1M firms)
                blocks[b].append(_small_counts(m))

        # Counts do not depend on token order, and a text's tokens are its clauses' tokens:
        # each distinct clause is tokenised and mapped to ids once (fit-time cache).
        clause_ids: dict[str, array] = {}
        k = -1
        for k, f in enumerate(firms):
            for b, text in zip(self._BASE_FIELDS, self._firm_texts(f)):
                out = flat[b]
                before = len(out)
                parts = tk.clauses(text)
                if parts is None:
                    out.extend(map(get, tk.tokenize(text)))
                else:
                    missing = [c for c in parts if c not in clause_ids]
                    if missing:
                        if len(clause_ids) > self._CLAUSE_MEMO:
                            clause_ids.clear()
                        # a text's new clauses go through the segmenter together
                        missing = list(dict.fromkeys(missing))
                        for c, (w, bg) in zip(missing, tk.tokenize_clauses(missing)):
                            clause_ids[c] = array("i", map(get, w + bg))
                    for c in parts:
                        out += clause_ids[c]
                lengths[b].append(len(out) - before)
            if (k + 1) % self._COUNT_BLOCK == 0:
                flush()
        if (k + 1) % self._COUNT_BLOCK or k < 0:
            flush()
        del clause_ids
        V = len(ids.tokens)
        counts = {}
        for b in list(blocks):
            counts[b] = stack_rows(blocks.pop(b), V)
        release_free_heap()
        return counts, ids.tokens

    def _refresh_firm_arrays(self, firms: Sequence[dict] | None = None):
        """Per-firm arrays (role, tier, locality, chains; the codes are fit's ``codes_``) in one
        pass over the records (``firms``: the records of ``firms_`` as plain dicts, when the
        caller has them)."""
        sme, tier, local, chain_lists = [], [], [], []
        for f in (self.firms_ if firms is None else firms):
            sme.append(f.get("role") != "leader")
            tier.append(_tier_value(f.get("tiers")))
            local.append(1.0 if any(q in (f.get("district") or "") for q in QINGDAO) else 0.0)
            chain_lists.append(list(f.get("chains") or []))
        self.is_sme_ = np.array(sme, dtype=bool)
        self.tier_ = np.array(tier, dtype=np.float64)
        self.local_ = np.array(local, dtype=np.float64)
        # Positions stay stable across incremental updates (new chains go to the end), so the
        # chain vectors already cached in demand states stay valid; _chain_vec pads them.
        pos = dict(getattr(self, "chain_pos_", None) or {})
        for c in sorted({c for cs in chain_lists for c in cs} - pos.keys()):
            pos[c] = len(pos)
        self.chain_pos_ = pos
        rows, cols = [], []
        for i, cs in enumerate(chain_lists):
            for c in cs:
                rows.append(i)
                cols.append(pos[c])
        self._set_firm_chains(rows, cols)

    def _set_firm_chains(self, rows, cols):
        self.firm_chains_ = sp.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                          shape=(len(self.codes_), max(1, len(self.chain_pos_))))
        norm = np.sqrt(np.asarray(self.firm_chains_.sum(axis=1)).ravel())
        self.chain_norm_ = np.where(norm == 0, 1.0, norm)

    def _update_firm_arrays(self, pos: int, f: dict) -> None:
        """The per-firm arrays after firm ``pos`` was added (pos == old length) or edited:
        what ``_refresh_firm_arrays`` gives, without reading every record again."""
        vals = (f.get("role") != "leader", _tier_value(f.get("tiers")),
                1.0 if any(q in (f.get("district") or "") for q in QINGDAO) else 0.0)
        if pos == len(self.codes_):
            self.codes_.append(f["credit_code"])
            self.is_sme_ = np.append(self.is_sme_, vals[0])
            self.tier_ = np.append(self.tier_, vals[1])
            self.local_ = np.append(self.local_, vals[2])
        else:
            self.codes_[pos] = f["credit_code"]
            self.is_sme_[pos], self.tier_[pos], self.local_[pos] = vals
        chains = list(f.get("chains") or [])
        for c in sorted(set(chains) - self.chain_pos_.keys()):
            self.chain_pos_[c] = len(self.chain_pos_)
        fc = self.firm_chains_.tocoo()
        keep = fc.row != pos
        rows = np.concatenate([fc.row[keep], np.full(len(chains), pos)])
        cols = np.concatenate([fc.col[keep], [self.chain_pos_[c] for c in chains]]).astype(np.int64)
        self._set_firm_chains(rows, cols)

    def _fit_concepts(self) -> None:
        """(Q6) The latent concept space of the whole profiles, fitted on an evenly spaced
        sample of at most ``concept_docs`` firms, and every firm's int8 concept vector
        (``concept_dims`` bytes per firm), projected block by block (no whole weighted
        matrix at once)."""
        idx = self.index_
        n = len(self.firms_)
        sample = np.unique(np.linspace(0, n - 1, min(n, self.concept_docs)).astype(np.int64)) if n else np.zeros(0, np.int64)
        self.concepts_ = ConceptSpace(self.concept_dims).fit(idx.rows("all", sample))
        block = 20000
        self.firm_concepts_ = np.vstack(
            [self.concepts_.transform(idx.rows("all", np.arange(a, min(a + block, n)))) for a in range(0, n, block)]
            or [np.zeros((0, self.concepts_.components_.shape[0]), dtype=np.int8)])

    def _chain_vec(self, v: np.ndarray) -> np.ndarray:
        """A demand's cached chain vector, padded to chains added since it was computed."""
        width = self.firm_chains_.shape[1]
        return v if len(v) == width else np.pad(v, (0, width - len(v)))

    def _found_terms(self, doc: dict[str, list[str]]) -> set[str]:
        if not self._term_set:
            return set()
        return {t for t in doc.get("words") if t in self._term_set}

    def _index_relations(self, relations: Sequence[dict] | None = None):
        """Sparse supply matrix (supplier x buyer) and all endorsing relations (symmetric);
        each firm's relations for reasons (``rel_by_firm_``: record indices per firm, the
        records in ``relations_``). ``relations``: those records as plain dicts, when the
        caller has them."""
        n = len(self.firms_)
        sr, sc, rr, rc, rv = array("q"), array("q"), array("q"), array("q"), array("d")
        by_pos, by_rec = array("q"), array("q")
        kr = array("q")  # (Q5) rivals (竞争), both ends, pairwise
        rels = self.relations_ if relations is None else relations
        for k, r, a, b in with_positions(rels, self.firm_pos_.find_many, ("firm_a", "firm_b")):
            if a < 0 or b < 0:
                continue
            by_pos.extend((a, b))
            by_rec.extend((k, k))
            w = RELATION_WEIGHTS.get(r.get("relation", ""), 0.3)
            if r.get("relation") == "供应":
                sr.append(a)
                sc.append(b)
            elif r.get("relation") == "竞争":
                kr.extend((a, b))
            if w > 0:
                rr.extend((a, b))
                rc.extend((b, a))
                rv.extend((w, w))
        self.rel_by_firm_ = Grouped(self.relations_, self.firm_pos_, by_pos, by_rec)
        sr, sc, rr, rc, rv = (np.frombuffer(x, dtype=np.int64 if x.typecode == "q" else np.float64)
                              for x in (sr, sc, rr, rc, rv))
        # Sources do not agree on the direction of 供应 (who buys from whom), so supply
        # links are used both ways; the degree says how established a supplier is.
        sup = sp.csr_matrix((np.ones(len(sr)), (sr, sc)), shape=(n, n))
        self.supply_ = sp.csr_matrix(sup + sup.T)
        self.supply_.data[:] = 1.0
        deg = np.log1p(np.asarray(sup.sum(axis=1)).ravel())
        self.supply_deg_ = deg / deg.max() if deg.max() > 0 else deg
        self.rel_ = sp.csr_matrix((rv, (rr, rc)), shape=(n, n))
        self.rel_deg_ = np.asarray((self.rel_ > 0).sum(axis=1)).ravel().astype(np.float64)
        # (Q5) rivals work in the same field (they say nothing of who supplies whom: weight 0
        # in rel_); read with rel_ by the relation pool and g_relnb (_field_relations)
        kr = np.frombuffer(kr, dtype=np.int64).reshape(-1, 2)
        self.rivals_ = sp.csr_matrix((np.ones(2 * len(kr)), (np.r_[kr[:, 0], kr[:, 1]], np.r_[kr[:, 1], kr[:, 0]])),
                                     shape=(n, n))

    # ------------------------------------------------------------------ demands
    def _demand_text(self, d: dict) -> tuple[list[str], list[str]]:
        tok = self.tokenizer_.tokenize
        title = tok(d.get("title", ""))
        body = tok(f"{d.get('description', '')} ; {d.get('specs', '')}")
        tw = getattr(self, "template_words_", None)
        if tw:
            title = [t for t in title if t not in tw]
            body = [t for t in body if t not in tw]
        return title, body

    def _expansions(self, d: dict, tokens: list[str], src: dict | None = None) -> dict[str, float]:
        """Synonyms of the terms in the demand and the terms of the segments its problem
        words evoke, weighted below exact terms. ``src`` receives, per expansion word, the
        demand term or the segment it came from (shown in reasons["related"])."""
        bag: dict[str, float] = {}
        src = {} if src is None else src
        tx = self.taxonomy_
        if tx.tx is None:
            return bag
        present = set(tokens)
        for t in sorted({t for t in tokens if t in self._term_set}):
            syns = self._syn_cache.get(t)
            if syns is None:
                syns = [normalize(s) for s in tx.synonyms(t)]
                self._syn_cache[t] = syns
            for s in syns:
                for w in self.tokenizer_.tokenize(s):
                    if w not in present:
                        bag[w] = max(bag.get(w, 0.0), 1.0)
                        src.setdefault(w, t)
        text = f"{d.get('title', '')} {d.get('description', '')}"
        for seg in tx.find_segments(text):
            for term in tx.segment_terms(seg):
                for w in self.tokenizer_.tokenize(term):
                    if w not in present:
                        bag[w] = max(bag.get(w, 0.0), 0.7)
                        pair = _segment_pair(seg)
                        if pair:
                            src.setdefault(w, pair[1])
        return bag

    def _demand_chains(self, d: dict) -> list[str]:
        chains = list(d.get("chains") or [])
        if not chains:
            leader = self.firm_pos_.get(d.get("leader"))
            if leader is not None:
                chains = list(self.firms_[leader].get("chains") or [])
        return chains

    def _presence_queries(self, words: list[str], bigrams: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Query rows over the whole-profile vocabulary that, multiplied with a firm's 0/1 row,
        give the idf share of the demand's bigrams the firm contains (t_cover) and the share
        of its words (t_allwords is 1 when that share is whole): a bag-of-words cosine does not
        say whether a firm has 医疗器械 and 3D打印 or only one of them many times."""
        vec = self.index_.vectorizers_["all"]
        vocab, idf = vec.vocabulary_, vec.idf_
        out = []
        for toks, uniform in ((bigrams, False), (words, True)):
            # sorted columns: _presence_share looks them up by bisection
            cols = np.array(sorted({vocab[t] for t in toks if t in vocab}), dtype=np.int32)
            data = np.ones(len(cols)) if uniform else idf[cols].astype(np.float64)
            if len(cols):
                data /= data.sum()
            out.append(sp.csr_matrix((data, cols, np.array([0, len(cols)])), shape=(1, len(vocab))))
        return out[0], out[1]

    def _seeds(self, d: dict, title: list[str], body: list[str]) -> dict[str, float]:
        """Restart distribution of the demand's PageRank: the leader, then its chains, the
        terms it names and the segments its problem words evoke, each group sharing a fixed
        mass so that a demand listing many chains does not drown its leader."""
        groups: list[tuple[float, list[str]]] = []
        if d.get("leader") in self.firm_pos_:
            groups.append((1.0, [f"firm:{d['leader']}"]))
        groups.append((0.5, [f"chain:{ch}" for ch in self._demand_chains(d)]))
        groups.append((0.5, [f"term:{t}" for t in sorted(set(title + body)) if t in self._term_set]))
        segs = []
        for seg in self.taxonomy_.find_segments(f"{d.get('title', '')} {d.get('description', '')}"):
            pair = _segment_pair(seg)
            if pair:
                segs.append(f"seg:{pair[0]}/{pair[1]}")
        groups.append((0.5, segs))
        seeds: dict[str, float] = {}
        for mass, nodes in groups:
            nodes = [n for n in nodes if n in self.graph_.node_index_]
            for n in nodes:
                seeds[n] = seeds.get(n, 0.0) + mass / len(nodes)
        return seeds

    def _pagerank(self, seeds: Mapping[str, float]) -> np.ndarray:
        rows = self.firm_graph_rows_
        # (per firm-row array, computed once: whether every firm is compiled, and in order)
        info = getattr(self, "_graph_rows_info", None)
        if info is None or info[0] is not rows:
            ok = rows >= 0
            info = self._graph_rows_info = (rows, ok, bool(len(rows)) and bool(ok.all()),
                                            np.array_equal(rows, np.arange(len(rows))))
        if not seeds:
            return np.zeros(len(self.graph_.nodes_))
        # only the firms' scores are read unless a firm added since fit needs its neighbours'
        return self.graph_.pagerank(seeds, int(rows.max()) + 1 if info[2] else None)

    def _graph_state(self, d: dict, seeds: Mapping[str, float]) -> dict:
        """The demand's PageRank from its seeds over the firms."""
        g: dict = {}
        pr = self._pagerank(seeds)
        rows, ok, _, in_order = self._graph_rows_info
        if in_order:
            ppr = np.array(pr[:len(rows)], dtype=np.float64)  # firm i is graph node i (fit adds firms first)
        else:
            ppr = np.zeros(len(self.firms_))
            ppr[ok] = pr[rows[ok]]
            for i in np.flatnonzero(~ok):
                ppr[i] = self.graph_.neighbour_score(pr, self.codes_[i])
        leader = self.firm_pos_.get(d.get("leader"))
        if leader is not None:
            ppr[leader] = 0.0
        # what PageRank gives a firm just for being a hub is not evidence
        g["max_ppr"] = float(np.where(self.is_sme_, ppr, 0.0).max()) if len(ppr) else 0.0
        g["ppr"] = TopVec(ppr, self.graph_keep)
        return g

    def _chain_state(self, d: dict) -> dict:
        """The demand's chains, as names and as a 0/1 vector over the chain positions."""
        chains = self._demand_chains(d)
        cvec = np.zeros(self.firm_chains_.shape[1])
        for c in chains:
            if c in self.chain_pos_:
                cvec[self.chain_pos_[c]] = 1.0
        return {"cvec": cvec, "chains": chains}

    def _with_leader(self, st: dict, lead: dict) -> None:
        """The leader's part into a demand's state: its partners' industries and the
        demand's own chains make the demand's chain profile."""
        lead = dict(lead)
        prof = lead.pop("prof").copy()
        prof += st["cvec"]
        norm = np.linalg.norm(prof)
        if norm > 0:
            st["prof"] = prof / norm
        else:
            st["prof"] = np.zeros(self.firm_chains_.shape[1])
        st.update(lead)

    def _leader_state(self, leader: int | None) -> dict:
        """The graph scores that depend on the demand's leader only (its suppliers' other
        suppliers, partners of partners, firms written like its suppliers, its partners'
        industries): ~20 ms at 200k firms, where a leader has thousands of suppliers. Kept per
        leader for the leader's other demands, until a firm or relation changes (every
        update_firm replaces firm_chains_; a fit, every array). Read only: the demand states
        share these score vectors."""
        idx = self.index_
        arrays = (self.supply_, self.rel_, self.rel_deg_, self.firm_chains_)
        cache = self.__dict__.setdefault("_leader_cache", {})
        hit = cache.get(leader)
        # weak references: a stale entry never keeps replaced matrices alive
        if hit is not None and hit[1] == len(self.firms_) and all(r() is a for r, a in zip(hit[0], arrays)):
            return hit[2]
        g: dict = {}
        cf = np.zeros(len(self.firms_))
        rel = np.zeros(len(self.firms_))
        a_l = np.zeros(0)
        if leader is not None:
            # suppliers of the leader (supply_ is symmetric: a row slice, not a column scan)
            a_l = self.supply_[leader].toarray().ravel()
            if a_l.any():
                buyers = self.supply_ @ a_l                             # buyers sharing them
                buyers[leader] = 0.0
                cf = self.supply_ @ buyers                              # their other suppliers
                # co-relations of the known suppliers (partners, investors, same group)
                cf = cf + 0.5 * (self.rel_ @ a_l)
            rel = self.rel_[leader].toarray().ravel()
            # Adamic-Adar over endorsing relations: partners of partners, hubs discounted
            # (the degree discount is the same for every demand: computed once per array)
            damp = getattr(self, "_rel_damp", None)
            if damp is None or damp[0] is not self.rel_deg_:
                damp = self._rel_damp = (self.rel_deg_, np.log(2.0 + self.rel_deg_))
            two = self.rel_ @ (rel / damp[1])
            two[leader] = 0.0
            g["two_hop"] = two
        g["cf"] = TopVec(np.asarray(cf, dtype=np.float64), self.graph_keep)
        g["two_hop"] = TopVec(g.get("two_hop", np.zeros(len(self.firms_))), self.graph_keep)
        g["max_2hop"] = g["two_hop"].max
        # a firm whose profile reads like the leader's known suppliers is a likely next one:
        # cosine with the sum of their whole-profile vectors
        sup_sim = np.zeros(len(self.firms_))
        if a_l.any():
            # (thousands of suppliers at 200k firms: one sparse product, kept sparse)
            # (the suppliers' rows only, as the index keeps "all" as counts: same product,
            # the same sums in the same order)
            sup = self.supply_[leader].astype(np.float32)
            cent = (sp.csr_matrix((sup.data, np.arange(sup.nnz), [0, sup.nnz]), shape=(1, sup.nnz))
                    @ idx.rows("all", sup.indices))
            order = np.argsort(cent.indices, kind="stable")
            # their shared vocabulary, not every word any of them uses: the heaviest terms
            # (as pseudo-relevance feedback keeps its top terms), which also keeps the query sparse
            q_sup = _top_row(cent.indices[order], cent.data[order], self.supplier_terms,
                             len(idx.vectorizers_["all"].vocabulary_))
            sup_sim = np.asarray(idx.scores("all", q_sup), dtype=np.float64).ravel()
            sup_sim[leader] = 0.0
        g["supsim"] = TopVec(sup_sim, self.graph_keep)
        g["max_supsim"] = g["supsim"].max
        g["n_partners"] = float(a_l.sum())
        g["q_sup"] = math.log1p(float(a_l.sum())) if leader is not None else 0.0
        g["max_cf"] = g["cf"].max
        g["rel"] = TopVec(rel, self.graph_keep)
        # industries of the leader and of its partners: where its next supplier likely works
        prof = np.zeros(self.firm_chains_.shape[1])
        if leader is not None:
            prof += np.asarray(self.firm_chains_[leader].todense()).ravel()
            partners = (self.rel_[leader] + self.supply_[leader]).tocsr()
            if partners.nnz:
                prof += np.asarray((partners @ self.firm_chains_).todense()).ravel()
        g["prof"] = prof  # the demand's own chains are added to it
        cache[leader] = (tuple(weakref.ref(a) for a in arrays), len(self.firms_), g)
        return g

    def _warm_leaders(self) -> None:
        """The graph part of each leader that has demands, computed at fit (on the worker
        threads): it depends on the leader and the relations only, and a leader with
        thousands of suppliers takes ~20 ms at 200k firms, which a first ranking would
        otherwise spend beside its own state. Kept as _leader_state keeps it (recomputed
        after update_firm); a leader that posts its first demand later is computed then."""
        leaders = {self.firm_pos_.get(d.get("leader")) for d in self.demands_}
        jobs = [self._submit(self._leader_state, leader)
                for leader in sorted(leaders, key=lambda p: -1 if p is None else p)]
        for job in jobs:
            job.result()

    def _submit(self, fn, *args):
        """``fn(*args)`` on the worker threads when there is a second core, else now (a future)."""
        return run(_pool(), fn, *args)

    def _demand_state(self, d: dict) -> dict:
        """Everything about a demand that does not depend on a particular firm."""
        title, body = self._demand_text(d)
        q_tokens = title + title + body
        idx = self.index_
        st: dict = {"title": title, "tokens": q_tokens}
        # the graph part (PageRank ~11 ms at 200k firms, the leader's neighbourhood ~20 ms when
        # not kept yet; most of it in numpy / scipy, which release the GIL) runs on worker
        # threads while the text part below is computed (no job waits for another job)
        seeds = self._seeds(d, title, body)
        lead = self._submit(self._leader_state, self.firm_pos_.get(d.get("leader")))
        graph = self._submit(self._graph_state, d, seeds)
        # the whole-profile, words, bigrams and BM25 query rows from one count of the tokens
        qv = idx.query_family("all", q_tokens)
        words, bigrams = split_words_bigrams(q_tokens)
        if "words" not in qv:
            qv["words"] = idx.transform("words", [words])
        if "bigrams" not in qv:
            qv["bigrams"] = idx.transform("bigrams", [bigrams])
        # (and the whole-corpus BM25 scores, which need nothing else of the state)
        bm25 = self._submit(self._scored_pool, "bm25", qv["bm25"])
        # (the whole-profile scores on a worker thread while the other queries are made)
        all_scores = self._submit(idx.scores, "all", qv["all"])
        for fld in ("pt", "desc", "seg", "name"):
            qv[fld] = idx.transform(fld, [q_tokens])
        qv["title"] = idx.transform("all", [title + title])
        src: dict[str, str] = {}
        exp = self._expansions(d, q_tokens, src)
        st["_text"] = _demand_chars(d)
        # the demand term as the demand writes it (case, width), else the segment name
        st["expansion_src"] = {w: self._shown_word(st, {}, t) for w, t in src.items()}
        qv["syn"] = idx.transform_weighted("all", [exp]) if exp else sp.csr_matrix((1, qv["all"].shape[1]), dtype=np.float32)
        st["expansion"] = exp
        # (its whole-corpus scores and candidate pool, beside the rest)
        syn = self._submit(self._scored_pool, "syn", qv["syn"]) if self.use_text else None
        # pseudo-relevance feedback: the terms that the best text matches share
        base = all_scores.result().ravel()
        # each whole-corpus score vector is computed once: the text candidate pools are
        # drawn here from the vectors the state needs anyway (200k floats each, not kept)
        # (the whole-profile pool on a worker thread while the feedback query is made)
        all_pool = self._submit(self._best_smes, base, min(self.candidates, len(self.firms_))) if self.use_text else None
        base_sme = np.where(self.is_sme_, base, 0.0)
        k = min(self.prf_docs, len(base_sme))
        qv["prf"] = sp.csr_matrix((1, qv["all"].shape[1]), dtype=np.float32)
        if k and base_sme.max() > 0:
            top = np.argpartition(-base_sme, k - 1)[:k]
            top = top[base_sme[top] > 0]
            if len(top):
                # the top documents' rows summed, weighted by their scores (over the columns
                # they use: the vocabulary is ~1M wide at 200k firms)
                cols, cent = _column_sums(idx.rows("all", top), base_sme[top])
                v = _top_row(cols, cent, self._prf_terms_for(d, q_tokens, lead), qv["all"].shape[1])  # (Q7)
                norm = math.sqrt(float(v.multiply(v).sum())) or 1.0
                qv["prf"] = v / norm
        st["q"] = qv
        # the relation pool serves brief demands only: not drawn (a sparse product and a
        # top-k over every firm, ~10 ms CPU at 1M) for one that demand_kind will call detailed
        # whatever its leader's partners
        detailed = bool((d.get("specs") or "").strip()) or self._n_words(q_tokens) >= 25
        prf = self._submit(self._scored_pool, "prf", qv["prf"], not detailed)
        st["concept"] = self.concepts_.transform(qv["prf"])[0]  # (Q6) t_concept
        # (Q) presence queries for t_cover / t_allwords: read against a firm's 0/1 "all" row
        qv["cover"], qv["allwords"] = self._presence_queries(words, bigrams)
        st["max_all"] = float(base_sme.max()) if len(base_sme) else 0.0
        del base, base_sme
        # what reasons read of the demand whatever the firm, while the text pools' jobs run
        self._reason_state(st, seeds)
        # each whole-corpus score vector is computed once, with its text candidate pool
        # (200k floats each, not kept)
        st["max_bm25"], bm25_pool = bm25.result()
        st["max_prf"], prf_pool = prf.result()
        st["_text_pools"] = ([all_pool.result(), syn.result()[1], prf_pool, bm25_pool]
                             if self.use_text else [])
        st["seeds"] = seeds
        # the leader's part (kept per leader: usually ready) and the chain-profile pool while
        # the PageRank job runs (the critical path of a first ranking on two cores)
        st.update(self._chain_state(d))
        self._with_leader(st, lead.result())
        self._chain_pool(st)
        if not graph.done() and self.use_text:
            # the text values of every candidate known before PageRank's pool (text and chain
            # pools, the leader's graph pools: ~90 % of the candidates at 200k firms) while
            # the main thread would wait (read once by _features, which computes the rest)
            known = st["_text_pools"] + [st["_chain_pool"][1]]
            if self.use_graph:
                k = min(self.candidates, len(self.firms_))
                known += [st[v].top(k, self.is_sme_) for v in ("cf", "two_hop", "supsim")]
            pre = _unique(np.concatenate(known))
            pre = pre[self.is_sme_[pre]]
            if len(pre):
                st["_prefetch"] = (pre, self._text_values(st, pre))
        st.update(graph.result())
        st["n_words"] = self._n_words(q_tokens)
        st["kind"] = self.demand_kind(d, st)
        st["q_len"] = math.log1p(len(set(q_tokens)))
        return st

    @staticmethod
    def _n_words(q_tokens: list[str]) -> int:
        """Distinct words (not character pairs) of a demand's query tokens (demand_kind)."""
        return len({t for t in q_tokens if not t.startswith(BIGRAM_PREFIX)})

    def _add_demand(self, d: dict, lazy: bool = False) -> int:
        d = dict(d)
        self._bank = None  # the firm direction's stacked demands
        st = None if lazy else self._demand_state(d)
        pos = self.demand_pos_.get(d["demand_id"])
        if pos is None:
            pos = len(self.demands_)
            self.demands_.append(d)
            self._dstate.append(st)
            self.demand_pos_[d["demand_id"]] = pos
        else:
            self.demands_[pos] = d
            self._dstate[pos] = st
        return pos

    # ------------------------------------------------------------------ features
    def _text_values(self, st: dict, firm_idx: np.ndarray) -> dict[str, np.ndarray]:
        """What ``_features`` reads of the firms' texts, one value per firm of ``firm_idx``,
        each computed from that firm's rows alone: the cosines of the "all" family ("all",
        "words", "bigrams", "title", "syn", "prf") and of the own fields ("pt", "desc", "seg",
        "name"), the BM25 score ("bm25") and the presence shares ("cover", "allwords")."""
        idx = self.index_
        q = st["q"]
        n = len(firm_idx)

        def own(field):
            qf = q[field] if q[field].has_sorted_indices else q[field].sorted_indices()
            if not qf.nnz:
                return np.zeros(n, dtype=np.float32)
            # only the query's columns of the rows are computed: the same sums (_in_positions)
            r = idx.rows(field, firm_idx, cols=qf.indices)
            return _csr_dot(r.indptr, np.searchsorted(qf.indices, r.indices), r.data, qf.data)
        # the fields scored over their own vocabularies (rows computed when read, mostly
        # numpy) on a worker thread beside the "all" family below
        fields = ("pt", "desc", "seg", "name")
        by_field = self._submit(lambda: [own(f) for f in fields])

        # the "all" rows once, cut to the columns of the queries over its vocabulary: every
        # product and presence share below reads only those (the cut entries would add 0),
        # and "words", "bigrams" and BM25, computed entry by entry from them, then cost a
        # few thousand entries instead of the ~300k of ~700 whole profiles
        cols = self._all_cols(st)
        rows = idx.rows_and_derived("all", firm_idx, cols=cols)
        base = rows["all"]
        # each query as a dense vector over ``cols`` and each row set with its columns as
        # positions in ``cols``: one CSR product per feature over a few thousand entries. The
        # row entries outside a query's columns add +0.0 to a sum of non-negative products,
        # which leaves it equal to the bit (_in_positions). The positions are searched once:
        # BM25's entries are the "all" rows' own, in order, and "words" / "bigrams" split
        # them by the bigram flag, in order (index.derived_rows)
        pos = np.searchsorted(cols, base.indices)
        at = {"all": pos}
        if "bm25" in rows and rows["bm25"].nnz == base.nnz:
            at["bm25"] = pos
        big = None
        for name, flag in idx.SPLITS.items():
            if name in rows and idx._derived().get(name) == "all":
                big = idx.is_bigram_["all"][base.indices] if big is None else big
                sub = pos[big == flag]
                if len(sub) == rows[name].nnz:
                    at[name] = sub

        def cos(qname, field):
            p = at.get(field)
            if p is None:
                p = at[field] = np.searchsorted(cols, rows[field].indices)
            qv = q[qname]
            v = np.zeros(len(cols), dtype=qv.dtype)
            v[np.searchsorted(cols, qv.indices)] = qv.data
            return _csr_dot(rows[field].indptr, p, rows[field].data, v)
        # (Q) presence of the demand's words in the firm's profile: _presence_share's sums
        # (each row's weights added in entry order from 0; the entries outside the query's
        # columns add +0.0), read through the positions above
        rid = np.repeat(np.arange(n), np.diff(base.indptr))

        def share(qname):
            qq = q[qname]
            if not len(qq.indices) or not base.nnz:
                return np.zeros(n)
            w = np.zeros(len(cols), dtype=np.result_type(qq.data.dtype, np.float64))
            w[np.searchsorted(cols, qq.indices)] = qq.data
            return np.bincount(rid, weights=w[pos], minlength=n)
        out = {"all": cos("all", "all"), "words": cos("words", "words"), "bigrams": cos("bigrams", "bigrams"),
               "title": cos("title", "all"), "syn": cos("syn", "all"), "prf": cos("prf", "all"),
               "bm25": cos("bm25", "bm25"), "cover": share("cover"), "allwords": share("allwords")}
        out.update(zip(fields, by_field.result()))
        return out

    def _all_cols(self, st: dict) -> np.ndarray:
        """The columns of the demand's queries over the whole-profile vocabulary."""
        cols = st.get("_all_cols")
        if cols is None:
            idx = self.index_
            other = set(idx.fields) - {"all", *idx.SPLITS}
            cols = st["_all_cols"] = _unique(np.concatenate(
                [np.zeros(0, dtype=np.int32)] + [v.indices for k, v in st["q"].items() if k not in other]))
        return cols

    def _text_values_of(self, st: dict, firm_idx: np.ndarray) -> dict[str, np.ndarray]:
        """``_text_values(st, firm_idx)``, taking the values of the firms prefetched while
        the demand's PageRank ran (``st["_prefetch"]``, used once) and computing the others
        (each firm's values are its own: the same numbers either way)."""
        pre = st.pop("_prefetch", None)
        if pre is None or not len(firm_idx):
            return self._text_values(st, firm_idx)
        known, vals = pre
        pos = np.minimum(np.searchsorted(known, firm_idx), max(len(known) - 1, 0))
        hit = known[pos] == firm_idx if len(known) else np.zeros(len(firm_idx), dtype=bool)
        rest = self._text_values(st, firm_idx[~hit]) if not hit.all() else None
        out = {}
        for key, v in vals.items():
            arr = np.empty(len(firm_idx), dtype=v.dtype if rest is None else np.result_type(v, rest[key]))
            arr[hit] = v[pos[hit]]
            if rest is not None:
                arr[~hit] = rest[key]
            out[key] = arr
        return out

    def _features(self, st: dict, firm_idx: np.ndarray) -> np.ndarray:
        """(len(firm_idx), len(FEATURES)) pair features of one demand with some firms."""
        n = len(firm_idx)
        X = np.zeros((n, len(FEATURES)))
        q = st["q"]
        tv = self._text_values_of(st, firm_idx)
        X[:, 0] = tv["all"]
        X[:, 1] = tv["words"]
        X[:, 2] = tv["bigrams"]
        X[:, 3:7] = np.column_stack([tv["pt"], tv["desc"], tv["seg"], tv["name"]])
        X[:, 7] = tv["title"]
        X[:, 8] = tv["syn"]
        X[:, 9] = tv["prf"]
        X[:, 10] = X[:, 0] / st["max_all"] if st["max_all"] > 0 else 0.0
        X[:, 11] = X[:, 9] / st["max_prf"] if st["max_prf"] > 0 else 0.0
        X[:, 12] = st["ppr"][firm_idx] / st["max_ppr"] if st["max_ppr"] > 0 else 0.0
        X[:, 13] = st["cf"][firm_idx] / st["max_cf"] if st["max_cf"] > 0 else 0.0
        X[:, 14] = np.minimum(st["rel"][firm_idx], 1.0)
        X[:, 15] = self.supply_deg_[firm_idx]
        fc = self.firm_chains_[firm_idx]
        X[:, 16] = np.minimum(fc @ self._chain_vec(st["cvec"]), 1.0)
        X[:, 17] = (fc @ self._chain_vec(st["prof"])) / self.chain_norm_[firm_idx]
        X[:, 18] = self.tier_[firm_idx]
        X[:, 19] = self.local_[firm_idx]
        X[:, 20] = st["q_len"]
        X[:, 21] = st["q_sup"]
        X[:, 22] = st["max_all"]
        if st["max_bm25"] > 0:
            X[:, 23] = tv["bm25"] / st["max_bm25"]
        X[:, 24] = st["two_hop"][firm_idx] / st["max_2hop"] if st["max_2hop"] > 0 else 0.0
        X[:, 25] = st["supsim"][firm_idx] / st["max_supsim"] if st["max_supsim"] > 0 else 0.0
        # (Q) presence of the demand's words in the firm's profile, and its relation degree
        X[:, _PRESENCE_COLS] = self._presence_cols(tv["cover"], tv["allwords"], q["allwords"].nnz > 0,
                                                   self.rel_deg_[firm_idx])
        X[:, _BOTH] = X[:, 10] * X[:, 11]  # (Q3) t_both
        if st.get("kind") == "brief":  # (Q5) g_relnb, read for brief calls only
            X[:, _RELNB] = self._relation_text(firm_idx, q["all"], st["max_all"], self._all_cols(st))
        X[:, _CONCEPT] = concept_cosines(self.firm_concepts_[firm_idx], st["concept"])  # (Q6)
        X[:, self._ablated_columns()] = 0.0
        return X

    def _relation_text(self, firm_idx, query: sp.csr_matrix, top, cols=None) -> np.ndarray:
        """(Q5) g_relnb (read for brief demands only): the relation-weighted sum (rel_, and the
        rivals_ at weight 1) of the related SMEs' whole-profile cosines
        with the demand's query, over the best SME's cosine ``top``. Per firm of
        ``firm_idx`` under one demand (``query`` one row, ``top`` a number), or for one firm
        under every demand (``query`` one row per demand, ``top`` an array). Only firms with
        relations read anything: the rows of their related firms' profiles (``cols``: the
        query's columns, enough for the products)."""
        firm_idx = np.atleast_1d(np.asarray(firm_idx, dtype=np.int64))
        per_demand = np.ndim(top) > 0
        out = np.zeros(query.shape[0] if per_demand else len(firm_idx))
        if not (self.use_text and self.use_graph) or not (self.rel_.nnz or self.rivals_.nnz):
            return out
        R = sp.csr_matrix(self.rel_[firm_idx] + self.rivals_[firm_idx])
        nb = _unique(R.indices)
        nb = nb[self.is_sme_[nb]]
        if not len(nb):
            return out
        prof = self.index_.rows("all", nb) if cols is None else self.index_.rows("all", nb, cols=cols)
        sims = (prof @ query.T).toarray()  # (related firms, query rows)
        v = np.asarray(R[:, nb] @ sims)  # (firms, query rows)
        if per_demand:
            top = np.asarray(top, dtype=np.float64)
            return np.divide(v[0], top, out=out, where=top > 0)
        return v[:, 0] / top if top > 0 else out

    @staticmethod
    def _presence_share(q: sp.csr_matrix, rows: sp.csr_matrix) -> np.ndarray:
        """Per firm row, the sum of the query's weights over the columns the row has (0/1
        presence): a lookup of the rows' columns among the query's few sorted ones, instead
        of a sparse product that transposes the rows (a fifth of the time)."""
        n = rows.shape[0]
        qc, qd = q.indices, q.data
        if not len(qc) or not rows.nnz:
            return np.zeros(n)
        pos = np.minimum(np.searchsorted(qc, rows.indices), len(qc) - 1)
        hit = qc[pos] == rows.indices
        rid = np.repeat(np.arange(n), np.diff(rows.indptr))
        return np.bincount(rid[hit], weights=qd[pos[hit]], minlength=n)

    @staticmethod
    def _presence_cols(cover: np.ndarray, word_share: np.ndarray, has_words, rel_deg) -> np.ndarray:
        """t_cover, t_allwords, g_reldeg columns, from the presence shares (one value per pair)
        and the firms' relation degrees; shared by _features and _firm_features."""
        full = ((word_share >= 1.0 - 1e-6) & has_words).astype(np.float64)
        reldeg = np.broadcast_to(np.log1p(rel_deg), cover.shape)
        return np.column_stack([cover, full, reldeg])

    def _score(self, X: np.ndarray, st: dict) -> np.ndarray:
        m = self._model(st)
        if m["trees"] is not None:
            z = m["trees"].decision(X)
        else:
            z = ((X - m["mean"]) / m["scale"]) @ m["coef"] + m["intercept"]
        return 1.0 / (1.0 + np.exp(-z))

    @staticmethod
    def demand_kind(d: dict, st: dict) -> str:
        """The kind of demand, which decides the blend used for it:
        ``detailed`` — a technical or scenario demand written out (技术指标 given, or a
        long description): text carries it; ``network`` — a bare call for more suppliers by a
        buyer whose suppliers are known: the graph carries it; ``brief`` — a short call
        naming a field or industry."""
        if (d.get("specs") or "").strip() or st["n_words"] >= 25:
            return "detailed"
        if st["n_partners"] > 0:
            return "network"
        return "brief"

    # (Q7) feedback terms kept when neither the Matcher nor weights.json says otherwise
    PRF_TERMS = 30

    def _prf_terms_for(self, d: dict, q_tokens: list[str], lead) -> int:
        """(Q7) How many feedback terms a demand's query keeps: ``prf_terms`` when given, else
        the number fitted for its kind (bench/fit_weights.py chooses it per kind by
        cross-validation). ``lead``: the future of the leader's graph part, read only when the
        brief and network kinds keep different numbers (the kind of a demand without specs
        and with few words depends on its leader's known suppliers)."""
        if self.prf_terms is not None:
            return int(self.prf_terms)
        by_kind = getattr(self, "prf_by_kind_", None) or {}
        if not by_kind:
            return self.PRF_TERMS
        n_words = self._n_words(q_tokens)
        if (d.get("specs") or "").strip() or n_words >= 25:
            return by_kind.get("detailed", self.PRF_TERMS)
        brief, network = by_kind.get("brief", self.PRF_TERMS), by_kind.get("network", self.PRF_TERMS)
        if brief == network:
            return brief
        kind = self.demand_kind(d, {"n_words": n_words, "n_partners": lead.result()["n_partners"]})
        return by_kind.get(kind, self.PRF_TERMS)

    def _text_pools(self, st: dict) -> list[np.ndarray]:
        """The best SMEs by each whole-corpus text score (whole profile, expansions, feedback,
        BM25), stored in the state (``_demand_state`` draws them from the vectors it computes;
        this recomputes them once ``update_firm`` dropped them)."""
        pools = [self._scored_pool(qname, st["q"][qname])[1]
                 for qname in (("all", "syn", "prf", "bm25") if self.use_text else ())]
        st["_text_pools"] = pools
        return pools

    def _scored_pool(self, qname: str, q: sp.csr_matrix, related: bool = True) -> tuple[float, np.ndarray | None]:
        """(the best SME's score, the text candidate pool) of a query's whole-corpus scores
        ("bm25": BM25, else cosines over "all"), computed on a worker thread beside the rest
        of a demand's state. ``related``: also draw the relation pool from the feedback
        scores (False when the demand cannot be a brief one)."""
        idx = self.index_
        s = (idx.bm25_scores("all", q) if qname == "bm25" else idx.scores("all", q)).ravel()
        top = float(np.where(self.is_sme_, s, 0.0).max()) if len(s) else 0.0
        if not self.use_text:
            return top, None
        pool = self._best_smes(s, min(self.candidates, len(self.firms_)))
        if qname == "prf" and related and self.use_graph and (self.rel_.nnz or self.rivals_.nnz):
            # drawn here from the scores at hand; used by _candidates for brief demands only
            # (the kind is known later)
            pool = pool.view(_TextPool)
            pool.related = self._relation_pool(s)
        return top, pool

    # (Q5) how many firms the relation pool adds at most
    RELATION_POOL = 50

    def _relation_pool(self, s: np.ndarray) -> np.ndarray:
        """The SMEs most related to the firms that a whole-corpus text score finds: a field
        call (储能, 3C数码) is answered by well-known groups whose profiles list product names
        and patents, not the field, while their partners' and rivals' profiles (relations.csv:
        supply, competition, holdings from the news) do name it: the sum of the related firms'
        scores, over the weighted relations (rel_) and the rivals (rivals_, weight 1). Measured
        on ickg-industry (bench/fit_weights.py and a scratch recall count): spread from the
        feedback scores it brings ~330 judged firms into the candidates (~33 more per demand),
        spread from the whole-profile or BM25 scores fewer."""
        s = np.where(self.is_sme_, s, 0.0).astype(np.float64)
        spread = self.rel_ @ s + self.rivals_ @ s
        return self._best_smes(spread, min(self.RELATION_POOL, len(self.firms_)))

    def _best_smes(self, s: np.ndarray, k: int) -> np.ndarray:
        """The SMEs with a positive score among the ``k`` best by ``s``: the set that
        ``np.argpartition`` over every firm gives, found among the positive scores only; when
        the k-th best score is tied with the next one, the partition over every firm decides
        which of them are in, so it is then run as before."""
        pos = np.flatnonzero((s > 0) & self.is_sme_)
        if len(pos) <= k:
            return pos
        if k <= 0:
            return pos[:0]
        vals = s[pos]
        # the k-th largest value by a partition of the values (no index array: a third of
        # argpartition's time over ~100k positive scores); when exactly k values reach it,
        # they are the set argpartition gives (the callers read the pool as a set)
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        top = vals >= kth
        if np.count_nonzero(top) == k:
            return pos[top]
        s = np.where(self.is_sme_, s, -1.0)
        top = np.argpartition(-s, k - 1)[:k]
        return top[s[top] > 0]

    def _chain_pool(self, st: dict) -> np.ndarray:
        """The best SMEs by the demand's chain profile, kept in the state for the firms'
        chains it was computed from (update_firm replaces ``firm_chains_``)."""
        kept = st.get("_chain_pool")
        if kept is not None and kept[0]() is self.firm_chains_:
            return kept[1]
        k = min(self.candidates, len(self.firms_))
        top = np.zeros(0, dtype=np.int64)
        if st["prof"].any():
            s = np.where(self.is_sme_, (self.firm_chains_ @ self._chain_vec(st["prof"])) / self.chain_norm_, -1.0)
            top = np.argpartition(-s, k - 1)[:k]
            top = top[s[top] > 0]
        st["_chain_pool"] = (weakref.ref(self.firm_chains_), top)
        return top

    def _candidates(self, st: dict) -> np.ndarray:
        n = len(self.firms_)
        k = min(self.candidates, n)
        pools = []
        # the text pools depend on the demand and the index only: kept in the state until
        # update_firm changes the index
        text_pools = st.get("_text_pools")
        if text_pools is None:
            text_pools = self._text_pools(st)
        pools.extend(text_pools)
        if st.get("kind") == "brief":  # (Q5) the relation pool (_scored_pool, _relation_pool)
            pools.extend(p.related for p in text_pools if getattr(p, "related", None) is not None)
        for vec in (st["ppr"], st["cf"], st["two_hop"], st["supsim"]) if self.use_graph else ():
            pools.append(vec.top(k, self.is_sme_))
        pools.append(self._chain_pool(st))
        # (L6: _unique is np.unique by a sort, 4-8x cheaper here)
        cand = _unique(np.concatenate(pools)) if pools else np.arange(0)
        if len(cand) == 0:
            cand = np.flatnonzero(self.is_sme_)[:k]
        return cand[self.is_sme_[cand]]

    # ------------------------------------------------------------------ public API
    def demand_ids(self) -> list[str]:
        return [d["demand_id"] for d in self.demands_]

    def sme_codes(self) -> list[str]:
        return [c for c, s in zip(self.codes_, self.is_sme_) if s]

    def _resolve_demand(self, demand) -> tuple[dict, dict]:
        if isinstance(demand, Mapping):
            pos = self.demand_pos_.get(demand.get("demand_id"))
            if pos is not None and self.demands_[pos] == dict(demand):
                return self.demands_[pos], self._state(pos)
            d = dict(demand)
            d.setdefault("demand_id", "")
            return d, self._demand_state(d)
        pos = self.demand_pos_.get(demand)
        if pos is None:
            raise KeyError(f"未知的需求编号：{demand}")
        return self.demands_[pos], self._state(pos)

    def rank_smes(self, demand, top: int = 50, among: Collection[str] | None = None) -> list[Match]:
        """The ``top`` SMEs for a demand, best first, with reasons. With ``among`` (credit
        codes), only those of the ``top`` that are in ``among``, in the same order with the same
        scores: an event's pairing looks 500 deep for its invited firms, and reasons are the
        costly part, so they are built for the invited ones only."""
        d, st = self._resolve_demand(demand)
        cand = self._candidates(st)
        if len(cand) == 0:
            return []
        X = self._features(st, cand)
        s = self._score(X, st)
        order = np.argsort(-s, kind="stable")[:top]
        if among is not None:
            order = [i for i in order if self.codes_[cand[i]] in among]
        reasons = self._reasons_of(d, st, [int(cand[i]) for i in order], X[order])
        return [Match(credit_code=self.codes_[cand[i]], score=float(s[i]), reasons=r)
                for i, r in zip(order, reasons)]

    def _firm_index(self, firm) -> int:
        if isinstance(firm, Mapping):
            code = firm["credit_code"]
            if code not in self.firm_pos_ or self.firms_[self.firm_pos_[code]] != dict(firm):
                self.update_firm(firm)
        else:
            code = firm if firm in self.firm_pos_ else self.name_to_code_.get(firm, firm)
        fi = self.firm_pos_.get(code)
        if fi is None:
            raise KeyError(f"未知的企业：{firm}")
        return fi

    def rank_demands(self, firm, top: int = 50) -> list[Match]:
        fi = self._firm_index(firm)
        if not self.demands_:
            return []
        X = self._firm_features(fi)
        bank = self._demand_bank()
        s = np.empty(len(X))
        for kind, rows in bank["kinds"].items():
            s[rows] = self._score(X[rows], {"kind": kind})
        s = np.where(bank["open"], s, s - 1.0)  # closed and draft demands after the open ones
        order = np.argsort(-s, kind="stable")[:top]
        return [Match(demand_id=self.demands_[i]["demand_id"], score=float(max(s[i], 0.0)),
                      reasons=self._reasons(self.demands_[i], self._state(i), fi, X[i]))
                for i in order]

    def explain(self, demand, firm) -> Match | None:
        """Score and reasons of one (demand, firm) pair, without ranking anything (a page
        that shows one demand to one SME). None when either is unknown."""
        try:
            d, st = self._resolve_demand(demand)
            fi = self._firm_index(firm)
        except KeyError:
            return None
        x = self._features(st, np.array([fi]))
        s = float(self._score(x, st)[0])
        return Match(credit_code=self.codes_[fi], demand_id=d.get("demand_id"), score=s,
                     reasons=self._reasons(d, st, fi, x[0]))

    # The firm direction scores one firm against every demand. Per demand that is a handful
    # of sparse dot products; 200 demands one by one cost ~100 ms of Python overhead, so the
    # demands' query side is stacked once (rebuilt after any edit) and each feature becomes
    # one product over all demands. _firm_features must compute exactly what _features does
    # (tests/test_rank.py compares them).
    _BANK_QUERIES = ("all", "words", "bigrams", "pt", "desc", "seg", "name", "title", "syn", "prf")

    def _demand_bank(self) -> dict:
        bank = getattr(self, "_bank", None)
        if bank is not None:
            return bank
        states = [self._state(k) for k in range(len(self.demands_))]
        n = len(self.firms_)

        def stack(name):
            return sp.csr_matrix(sp.vstack([st["q"][name] for st in states]))

        def graph_cols(name):
            # per-demand TopVec entries as one (firms x demands) matrix: a firm's row is then
            # its value under every demand
            rows, cols, vals = [], [], []
            for k, st in enumerate(states):
                tv = st[name]
                rows.append(tv.idx)
                cols.append(np.full(len(tv.idx), k))
                vals.append(tv.val)
            return sp.csr_matrix((np.concatenate(vals).astype(np.float64),
                                  (np.concatenate(rows), np.concatenate(cols))), shape=(n, len(states)))

        def scalar(key):
            return np.array([float(st[key]) for st in states])

        kinds: dict[str, list[int]] = defaultdict(list)
        for k, st in enumerate(states):
            kinds[st.get("kind")].append(k)
        bank = {
            "q": {name: stack(name) for name in self._BANK_QUERIES},
            "bm25": stack("bm25"),
            # (Q) presence queries of t_cover / t_allwords
            "presence": (stack("cover"), stack("allwords")),
            "graph": {name: graph_cols(name) for name in ("ppr", "cf", "rel", "two_hop", "supsim")},
            "cvec": np.vstack([self._chain_vec(st["cvec"]) for st in states]),
            "prof": np.vstack([self._chain_vec(st["prof"]) for st in states]),
            "concept": np.vstack([st["concept"] for st in states]),  # (Q6) t_concept
            "kinds": {kind: np.array(rows) for kind, rows in kinds.items()},
            "open": np.array([(d.get("status") or "open") == "open" for d in self.demands_]),
        }
        for key in ("max_all", "max_prf", "max_ppr", "max_cf", "max_2hop", "max_supsim", "max_bm25",
                    "q_len", "q_sup"):
            bank[key] = scalar(key)
        self._bank = bank
        return bank

    def _firm_features(self, fi: int) -> np.ndarray:
        """(n_demands, len(FEATURES)): what ``_features`` gives for firm ``fi`` under each demand."""
        bank = self._demand_bank()
        idx = self.index_
        Q = bank["q"]
        D = len(self.demands_)
        X = np.zeros((D, len(FEATURES)))
        rows = {"all": idx.rows("all", [fi])}
        rows.update(idx.derived_rows("all", [fi], base=rows["all"]))

        def cos(qname, field):
            row = rows[field] if field in rows else idx.rows(field, fi)
            return np.asarray((Q[qname] @ row.T).todense()).ravel()

        def rel(v, m):
            return np.divide(v, m, out=np.zeros(D), where=m > 0)

        def graph(name):
            return bank["graph"][name][fi].toarray().ravel()

        for col, (qname, fld) in enumerate((("all", "all"), ("words", "words"), ("bigrams", "bigrams"),
                                            ("pt", "pt"), ("desc", "desc"), ("seg", "seg"),
                                            ("name", "name"), ("title", "all"), ("syn", "all"),
                                            ("prf", "all"))):
            X[:, col] = cos(qname, fld)
        X[:, 10] = rel(X[:, 0], bank["max_all"])
        X[:, 11] = rel(X[:, 9], bank["max_prf"])
        X[:, 12] = rel(graph("ppr"), bank["max_ppr"])
        X[:, 13] = rel(graph("cf"), bank["max_cf"])
        X[:, 14] = np.minimum(graph("rel"), 1.0)
        X[:, 15] = self.supply_deg_[fi]
        fc = self.firm_chains_[fi].toarray().ravel()
        width = len(fc)
        cvec, prof = bank["cvec"], bank["prof"]
        if cvec.shape[1] < width:  # chains added since the bank was built
            cvec = np.pad(cvec, ((0, 0), (0, width - cvec.shape[1])))
            prof = np.pad(prof, ((0, 0), (0, width - prof.shape[1])))
        X[:, 16] = np.minimum(cvec @ fc, 1.0)
        X[:, 17] = (prof @ fc) / self.chain_norm_[fi]
        X[:, 18] = self.tier_[fi]
        X[:, 19] = self.local_[fi]
        X[:, 20] = bank["q_len"]
        X[:, 21] = bank["q_sup"]
        X[:, 22] = bank["max_all"]
        bm = np.asarray((bank["bm25"] @ rows["bm25"].T).todense()).ravel()
        X[:, 23] = rel(bm, bank["max_bm25"])
        X[:, 24] = rel(graph("two_hop"), bank["max_2hop"])
        X[:, 25] = rel(graph("supsim"), bank["max_supsim"])
        # (Q) as in _features
        present = rows["all"].copy()
        present.data[:] = 1.0
        cover, allwords = bank["presence"]
        X[:, _PRESENCE_COLS] = self._presence_cols(
            np.asarray((cover @ present.T).todense()).ravel(), np.asarray((allwords @ present.T).todense()).ravel(),
            np.diff(allwords.indptr) > 0, self.rel_deg_[fi])
        X[:, _BOTH] = X[:, 10] * X[:, 11]  # (Q3) t_both, as in _features
        brief = bank["kinds"].get("brief")
        if brief is not None and len(brief):  # (Q5) g_relnb, as in _features (brief calls only)
            X[brief, _RELNB] = self._relation_text(fi, Q["all"][brief], bank["max_all"][brief])
        X[:, _CONCEPT] = concept_cosines(bank["concept"], self.firm_concepts_[fi])  # (Q6), exact integers
        X[:, self._ablated_columns()] = 0.0
        return X

    def update_demand(self, record: dict) -> None:
        """Add or edit a demand; rankable at once (nothing else is refitted)."""
        self._add_demand(record)

    def update_firm(self, record: dict) -> None:
        """Add or edit a firm: transformed with the fitted vectorizers, appended to the
        matrices and attached to the graph; the demands' cached scores are refreshed."""
        rec = dict(record)
        doc = self._firm_doc(rec)
        self._bank = None  # a new firm's graph scores are written into the demand states
        pos = self.firm_pos_.get(rec["credit_code"])
        if pos is None:
            pos = len(self.firms_)
            self.firms_.append(rec)
            self.firm_pos_[rec["credit_code"]] = pos
            self.index_.append([doc])
            self.firm_graph_rows_ = np.append(self.firm_graph_rows_, -1)
            self.graph_.add_firm(rec, self._found_terms(doc))
            grow = 1
        else:
            self.firms_[pos] = rec
            self.index_.replace(pos, doc)
            grow = 0
        self.name_to_code_[rec.get("name", "")] = rec["credit_code"]
        self._update_firm_arrays(pos, rec)
        # (Q6) the firm's concept vector (the concept space itself is not refitted)
        vec = self.concepts_.transform(self.index_.rows("all", [pos]))
        if pos == len(self.firm_concepts_):
            self.firm_concepts_ = np.vstack([self.firm_concepts_, vec])
        else:
            self.firm_concepts_[pos] = vec[0]
        for st in self._dstate:
            if st is not None:
                st.pop("_text_pools", None)  # candidates by text change with the index
                st.pop("_prefetch", None)  # (L4) so do the text values of prefetched firms
        if grow:
            n = len(self.firms_)
            self.supply_ = sp.csr_matrix(sp.vstack([sp.hstack([self.supply_, sp.csr_matrix((n - 1, 1))]),
                                                    sp.csr_matrix((1, n))]))
            self.rel_ = sp.csr_matrix(sp.vstack([sp.hstack([self.rel_, sp.csr_matrix((n - 1, 1))]),
                                                 sp.csr_matrix((1, n))]))
            self.rivals_ = sp.csr_matrix(sp.vstack([sp.hstack([self.rivals_, sp.csr_matrix((n - 1, 1))]),
                                                    sp.csr_matrix((1, n))]))  # (Q5)
            self.supply_deg_ = np.append(self.supply_deg_, 0.0)
            self.rel_deg_ = np.append(self.rel_deg_, 0.0)
        # graph score of a new firm from its neighbours (the compiled matrix is not rebuilt)
        if grow:
            for st in self._dstate:
                if st is not None and st["seeds"]:
                    pr = self.graph_.pagerank(st["seeds"])
                    st["ppr"].set(pos, self.graph_.neighbour_score(pr, rec["credit_code"]))

    # ------------------------------------------------------------------ reasons
    def _reason_state(self, st: dict, seeds: Mapping[str, float]) -> None:
        """What the reasons of any firm read of a demand, made once per demand (else by its
        first row): the demand text's word bounds, two-character pieces and separators, its
        queries' sorted columns, its seeds' graph rows and their segment / term neighbours.
        ``_demand_state`` makes them while the main thread would wait on its jobs, so that a
        first ranking's reasons start with the firms' own work (the same values either way)."""
        dnorm = st["_text"][1]
        if "_bounds" not in st:
            st["_bounds"] = _word_bounds(dnorm)
        _bigram_starts(dnorm)
        _separators(dnorm)
        self._query_cols(st)
        g = self.graph_
        if not g.extra_:
            self._seed_rows(st, seeds)
            if "_via_rows" not in st:
                st["_via_rows"] = self._seed_neighbours(seeds, by_row=True)

    def _seed_rows(self, st: dict, seeds: Mapping[str, float]) -> dict:
        """The demand's seeds by graph row: {row: (seed name, weight)} (kept in the state)."""
        seed_rows = st.get("_seed_rows")
        if seed_rows is None:
            g = self.graph_
            seed_rows = st["_seed_rows"] = {g.node_index_[s]: (s, w) for s, w in seeds.items()
                                            if s in g.node_index_}
        return seed_rows

    @staticmethod
    def _query_cols(st: dict) -> tuple[list, np.ndarray]:
        """([(sorted columns, their weights) of the "all" and "syn" queries], the union of
        their columns), kept in the state: a lookup per firm, not a set intersection."""
        qs = st.get("_qcols")
        if qs is None:
            qs = []
            for qname in ("all", "syn"):
                q = st["q"][qname]
                order = np.argsort(q.indices, kind="stable")
                qs.append((q.indices[order], q.data[order]))
            st["_qcols"] = qs
        any_cols = st.get("_qcols_any")
        if any_cols is None:
            any_cols = st["_qcols_any"] = _unique(np.concatenate([qs[0][0], qs[1][0]]))
        return qs, any_cols

    def _term_weights(self, st: dict, fi: int) -> tuple[dict[str, float], dict[str, float]]:
        """What each shared token adds to the pair's whole-profile cosine: tokens of the demand
        itself, and tokens the firm shares only with the demand's expansions."""
        idx = self.index_
        names = idx.feature_names("all")
        qs, any_cols = self._query_cols(st)
        # (M3: "all" is kept as counts) only the entries in the queries' columns are
        # weighted: a few dozen of the firm's hundreds, the same values
        cols, vals = idx.row_entries("all", fi, only=any_cols)
        o = np.argsort(cols, kind="stable")
        cols, vals = cols[o], vals[o]
        out = []
        for qi, qd in qs:
            got: dict[str, float] = {}
            if len(qi) and len(cols):
                at = np.minimum(np.searchsorted(qi, cols), len(qi) - 1)
                hit = qi[at] == cols
                for j, v in zip(cols[hit].tolist(), (qd[at[hit]] * vals[hit]).tolist()):
                    got[names[j]] = v
            out.append(got)
        return out[0], out[1]

    def _term_weights_of(self, st: dict, fis: Sequence[int]) -> list[tuple[dict[str, float], dict[str, float]]]:
        """:meth:`_term_weights` of several firms under one demand (the rows a ranking shows),
        from one read of their rows and one lookup per query for all of them (the same
        values, entry by entry: tests/test_rank.py compares them)."""
        n = len(fis)
        if n < 2:
            return [self._term_weights(st, fi) for fi in fis]
        idx = self.index_
        names = idx.feature_names("all")
        qs, any_cols = self._query_cols(st)
        # (M3: "all" is kept as counts) only the entries in the queries' columns are
        # weighted: a few dozen of each firm's hundreds, the same values entry by entry
        mat = idx.rows("all", np.asarray(fis, dtype=np.int64), cols=any_cols)
        rid = np.repeat(np.arange(n), np.diff(mat.indptr))
        o = np.lexsort((mat.indices, rid))  # each firm's entries by column
        cols, vals, rid = mat.indices[o], mat.data[o], rid[o]
        per_query = []
        for qi, qd in qs:
            if not len(qi) or not len(cols):
                per_query.append(None)
                continue
            at = np.minimum(np.searchsorted(qi, cols), len(qi) - 1)
            hit = qi[at] == cols
            bounds = np.searchsorted(rid[hit], np.arange(n + 1)).tolist()
            per_query.append((cols[hit].tolist(), (qd[at[hit]] * vals[hit]).tolist(), bounds))
        out = []
        for k in range(n):
            pair = []
            for got_q in per_query:
                got: dict[str, float] = {}
                if got_q is not None:
                    hc, hv, b = got_q
                    for j, v in zip(hc[b[k]:b[k + 1]], hv[b[k]:b[k + 1]]):
                        got[names[j]] = v
                pair.append(got)
            out.append((pair[0], pair[1]))
        return out

    def _matched_terms(self, st: dict, fi: int, limit: int = 8) -> list[str]:
        return self._shared_terms(st, fi, limit)[0]

    def _shared_terms(self, st: dict, fi: int, limit: int = 8, f: dict | None = None,
                      weights: tuple[dict, dict] | None = None) -> tuple[list[str], list[str]]:
        """(terms, related). terms: the longest phrases of the demand's own text (as written:
        case and width kept) that the firm's text also contains, best first; a phrase counts
        when it holds a token that weighs in the match. related: "demand word → firm word"
        for what the firm shares only with the demand's synonyms and problem-word expansions."""
        own, syn = self._term_weights(st, fi) if weights is None else weights
        f = self.firms_[fi] if f is None else f  # (a record is decoded when read)
        dtext, dnorm, dpos = st["_text"]
        fnorm, fpos, ftext = _norm_chars(_firm_text(f))
        scored: dict[str, tuple[float, str]] = {}
        bounds = st.get("_bounds")
        if bounds is None:
            bounds = st["_bounds"] = _word_bounds(dnorm)
        # the same spans of the demand come back firm after firm: trimmed and tokenised once
        trims = st.setdefault("_trims", {})
        phrase_tokens = st.setdefault("_phrase_tokens", {})
        if own:
            for span in _shared_spans(dnorm, fnorm):
                se = trims.get(span)
                if se is None:
                    se = trims[span] = self._trim_phrase(dnorm, span[0], span[1], bounds)
                s, e = se
                phrase = dnorm[s:e]
                # per phrase, once per demand: whether it can be shown, and its tokens
                toks = phrase_tokens.get(phrase)
                if toks is None:
                    ok = not (e - s < 2 or phrase in STOP_WORDS or not any(is_cjk(c) or c.isalpha() for c in phrase))
                    toks = phrase_tokens[phrase] = set(self.tokenizer_.tokenize(phrase)) if ok else False
                if toks is False:
                    continue
                w = sum(own.get(t, 0.0) for t in toks)
                if w <= 0:
                    continue
                shown = dtext[dpos[s]:dpos[e - 1] + 1]
                if phrase not in scored or scored[phrase][0] < w:
                    scored[phrase] = (w, shown)
        top_w = max((w for w, _ in scored.values()), default=0.0)
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1][0], -len(kv[0])))
        terms: list[str] = []
        kept: list[str] = []
        for phrase, (w, shown) in ranked:
            # a phrase inside a longer shared one adds nothing for the reader; one that
            # weighs next to nothing in the match (帮助, 成本) is not why the firm is here
            if w < 0.15 * top_w or any(phrase != k and phrase in k for k in scored):
                continue
            kept.append(phrase)
            terms.append(shown)
            if len(terms) >= limit:
                break
        related: list[str] = []
        src = st.get("expansion_src") or {}
        for tok, _ in sorted(syn.items(), key=lambda kv: -kv[1]):
            if tok.startswith(BIGRAM_PREFIX) or tok in own or len(tok) < 2 or any(tok in k for k in kept):
                continue
            pos = fnorm.find(tok)
            firm_word = ftext[fpos[pos]:fpos[pos + len(tok) - 1] + 1] if pos >= 0 else tok
            origin = src.get(tok, "")
            related.append(f"{origin} → {firm_word}" if origin else firm_word)
            if len(related) >= 5:
                break
        return terms, related

    def _trim_phrase(self, text: str, s: int, e: int, bounds: frozenset = frozenset()) -> tuple[int, int]:
        """Drop leading and trailing function words (的, 在, 能力…) and stray symbols from a
        shared span, by the segmenter's words so that 不锈钢 keeps its 不."""
        while s < e and not (is_cjk(text[s]) or text[s].isalnum()):
            s += 1
        while e > s and not (is_cjk(text[e - 1]) or text[e - 1].isalnum()):
            e -= 1
        # no single character torn off a demand word (温度均匀性 shares 度均匀性 with 厚度均匀性:
        # show 均匀性); a longer piece stays (酒酵母菌种 when the segmenter reads 啤酒酵母)
        if bounds:
            if s not in bounds and s + 1 in bounds and e - s > 2:
                s += 1
            if e not in bounds and e - 1 in bounds and e - s > 2:
                e -= 1
        words = [w for w in rjieba.cut(text[s:e]) if w.strip()]
        for w in words:
            if (w in STOP_WORDS or w in _FUNCTION_CHARS) and text.startswith(w, s):
                s += len(w)
            else:
                break
        for w in reversed(words):
            if e - len(w) >= s and (w in STOP_WORDS or w in _FUNCTION_CHARS) and text.endswith(w, s, e):
                e -= len(w)
            else:
                break
        return s, e

    def _chain_path(self, d: dict, st: dict, fi: int, f: dict | None = None) -> list[str]:
        """demand → the seed the demand's PageRank started from (segment, taxonomy term,
        leader or chain) → the node between it and the firm, if any → firm: the way through
        the chain graph that actually links them, shortest and most specific first."""
        f = self.firms_[fi] if f is None else f
        g = self.graph_
        fn = f"firm:{f['credit_code']}"
        seeds = st.get("seeds") or {}
        rank_of = {"seg": 0, "term": 1, "firm": 2, "chain": 3}

        def best(cands):
            # ties broken by node name: the same data gives the same path in every process
            return min(cands, key=lambda t: (t[0], -t[1], t[2], t[3] or "")) if cands else None
        hops = None
        i = None if g.extra_ else g.node_index_.get(fn)
        if i is not None:
            # (no firm added since fit: the firm's compiled row read by node ids, names
            # looked up for the hits only; the same tuples as below)
            adj = g.adj_
            lo, hi = adj.indptr[i], adj.indptr[i + 1]
            js, ws = adj.indices[lo:hi].tolist(), adj.data[lo:hi].tolist()
            seed_rows = self._seed_rows(st, seeds)
            direct = []
            for j, ew in zip(js, ws):
                hit = seed_rows.get(j)
                if hit is not None:
                    direct.append((rank_of.get(hit[0].split(":", 1)[0], 4), hit[1] * ew, hit[0], None))
            hops = best(direct)
            if hops is None or hops[0] >= 2:
                via = st.get("_via_rows")
                if via is None:
                    via = st["_via_rows"] = self._seed_neighbours(seeds, by_row=True)
                two = []
                for j, wnb in zip(js, ws):
                    hit = via.get(j)
                    if hit is not None:
                        s, w = hit
                        two.append((rank_of.get(s.split(":", 1)[0], 4) + 0.5, w * wnb, s, g.nodes_[j]))
                alt = best(two)
                if alt is not None and (hops is None or alt[0] < hops[0]):
                    hops = alt
        elif fn in g:
            nbrs = g.neighbours(fn)
            direct = [(rank_of.get(s.split(":", 1)[0], 4), w * nbrs[s], s, None)
                      for s, w in seeds.items() if s in nbrs]
            hops = best(direct)
            if hops is None or hops[0] >= 2:
                # two steps: seed -> segment / term -> firm
                via = st.get("_via")
                if via is None:
                    via = st["_via"] = self._seed_neighbours(seeds)
                two = []
                for nb, wnb in nbrs.items():
                    hit = via.get(nb)
                    if hit is not None:
                        s, w = hit
                        two.append((rank_of.get(s.split(":", 1)[0], 4) + 0.5, w * wnb, s, nb))
                alt = best(two)
                if alt is not None and (hops is None or alt[0] < hops[0]):
                    hops = alt
        chains = [c for c in (f.get("chains") or []) if c in st["chains"]] or list(f.get("chains") or [])[:1]
        if not hops:
            return [p for p in [d.get("title", "")] + chains[:1] + list(f.get("segments") or [])[:1]
                    + [f.get("name", "")] if p]
        steps: list[str] = []
        for node in (hops[2], hops[3]):
            if node is None:
                continue
            kind, _, label = node.partition(":")
            if kind == "seg":
                ch, _, seg = label.partition("/")
                steps += [ch, seg]
            elif kind == "term":
                if not steps and hops[3] is None:
                    # (the same seed term comes back firm after firm: looked up once per demand)
                    by_term = st.setdefault("_term_segs", {})
                    got = by_term.get(label)
                    if got is None:
                        got = by_term[label] = self.taxonomy_.segments_for_term(label)
                    segs = [s for s in got if s[0] in st["chains"]]
                    steps += list(segs[0]) if segs else chains[:1]
                steps.append(self._shown_word(st, f, label))
            elif kind == "firm":
                pos = self.firm_pos_.get(label)
                steps.append(self.firms_[pos].get("name", label) if pos is not None else label)
            elif kind == "chain":
                steps.append(label)
                segs = list(f.get("segments") or [])[:1]
                steps += segs
        out = [d.get("title", "")]
        for s in steps + [f.get("name", "")]:
            if s and s not in out:
                out.append(s)
        return out

    def _seed_neighbours(self, seeds: Mapping[str, float], by_row: bool = False) -> dict:
        """Segment and term nodes next to a (non-chain) seed of the demand, each with its
        strongest seed: computed once per demand, so that a firm's two-step path is a lookup
        (a term or segment seed may have thousands of firm neighbours, skipped here). Keyed
        by node name, or by node id (``by_row``)."""
        g = self.graph_
        adj = g.adj_
        out: dict = {}
        mask = g.node_mask(("seg:", "term:"))
        for s, w in seeds.items():
            if s.startswith("chain:") or s not in g.node_index_:
                continue
            i = g.node_index_[s]
            row = adj.indices[adj.indptr[i]:adj.indptr[i + 1]]
            vals = adj.data[adj.indptr[i]:adj.indptr[i + 1]]
            keep = mask[row]
            keys = row[keep].tolist()
            if by_row:
                me = i
            else:
                keys, me = [g.nodes_[j] for j in keys], s
            for node, ew in zip(keys, vals[keep].tolist()):
                if node != me and (node not in out or out[node][1] < w * ew):
                    out[node] = (s, w * ew)
        return out

    @staticmethod
    def _shown_word(st: dict, f: dict, word: str) -> str:
        """A normalised word as the demand (else the firm) writes it."""
        dtext, dnorm, dpos = st["_text"]
        pos = dnorm.find(word)
        if pos >= 0:
            return dtext[dpos[pos]:dpos[pos + len(word) - 1] + 1]
        fnorm, fpos, ftext = _norm_chars(_firm_text(f))
        pos = fnorm.find(word)
        return ftext[fpos[pos]:fpos[pos + len(word) - 1] + 1] if pos >= 0 else word

    def _reasons_of(self, d: dict, st: dict, fis: Sequence[int], X: np.ndarray) -> list[dict]:
        """The reasons of the firms ``fis`` (rows of ``X``) ranked for one demand: their term
        weights read from one read of their rows, then each firm's reasons."""
        return [self._reasons(d, st, fi, x, w) for fi, x, w in zip(fis, X, self._term_weights_of(st, fis))]

    def _reasons(self, d: dict, st: dict, fi: int, x: np.ndarray, weights: tuple[dict, dict] | None = None) -> dict:
        """Why firm ``fi`` is ranked for the demand (see the ranking contract in docs/design.md).
        ``weights``: its :meth:`_term_weights`, when the caller read them for several firms."""
        f = self.firms_[fi]
        if "_text" not in st:
            st["_text"] = _demand_chars(d)
        leader = d.get("leader")
        rels = []
        cf = None
        for r in self.rel_by_firm_.get(f["credit_code"], []):
            other = r["firm_b"] if r["firm_a"] == f["credit_code"] else r["firm_a"]
            if RELATION_WEIGHTS.get(r.get("relation", ""), 0.3) <= 0:
                continue
            if cf is None and other != leader:
                cf = st["cf"][fi][0] > 0
            if other == leader or cf:
                op = self.firm_pos_.get(other)
                oname = self.firms_[op].get("name", other) if op is not None else other
                year = f"（{r['year']}年）" if r.get("year") else ""
                rels.append(f"{r.get('relation', '')}：{oname}{year}")
        m = self._model(st)
        contrib = (x - m["mean"]) / m["scale"] * m["coef"]
        text = float(contrib[_TEXT_PART].sum())
        graph = float(contrib[_GRAPH_PART].sum())
        prior = float(contrib[_PRIOR_PART].sum())
        terms, related = self._shared_terms(st, fi, f=f, weights=weights)
        return {
            "terms": terms,
            "related": related,
            "path": self._chain_path(d, st, fi, f),
            "relations": rels[:5],
            "tier": _best_tier(f.get("tiers")),
            "parts": {"text": round(text, 4), "graph": round(graph, 4), "prior": round(prior, 4)},
            "kind": st.get("kind", ""),
        }
    # ------------------------------------------------------------------ training support
    def training_pairs(self, demand_id: str, extra_codes: Iterable[str] = ()) -> tuple[list[str], np.ndarray]:
        """Candidate firms (plus the given judged ones) and their features for one demand:
        what bench/fit_weights.py learns the blend from."""
        d, st = self._resolve_demand(demand_id)
        cand = set(self._candidates(st).tolist())
        for c in extra_codes:
            i = self.firm_pos_.get(c)
            if i is not None and self.is_sme_[i]:
                cand.add(i)
        cand_arr = np.array(sorted(cand), dtype=np.int64)
        return [self.codes_[i] for i in cand_arr], self._features(st, cand_arr)

    def demand_kind_of(self, demand_id: str) -> str:
        return self._state(self.demand_pos_[demand_id])["kind"]

    def firm_features(self, credit_code: str) -> tuple[list[str], np.ndarray]:
        return self.demand_ids(), self._firm_features(self.firm_pos_[credit_code])
