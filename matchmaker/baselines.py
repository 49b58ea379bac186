"""Reference rankers for the benchmarks: BM25 (bm25s) and TF-IDF (character n-grams, words).

They read a benchmark set on their own (``read_set``) so that they measure the same inputs as
the ranker without depending on it, and they rank in both directions: SMEs for a demand, and
demands for an SME. Chain leaders are never ranked as SMEs, as in the ranker.

Runs are ``{query_id: {doc_id: score}}`` dicts, which ir-measures accepts as they are.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEADER = "链主企业"

# Interchange headers (Chinese) -> aliases; English aliases map to themselves.
FIRM_HEADERS = {
    "企业名称": "name", "统一社会信用代码": "credit_code", "企业类型": "role", "资质": "tiers",
    "所属产业链": "chains", "产业链环节": "segments", "主营产品": "products",
    "核心技术": "technologies", "企业简介": "description", "所在区市": "district",
}
DEMAND_HEADERS = {
    "需求编号": "demand_id", "链主企业": "leader", "需求类型": "kind", "需求名称": "title",
    "需求描述": "description", "技术指标": "specs", "所属产业链": "chains",
    "合作方式": "cooperation", "截止日期": "deadline",
}
RELATION_HEADERS = {"企业A": "firm_a", "企业B": "firm_b", "关系类型": "relation", "年份": "year"}
MULTI = {"tiers", "chains", "segments", "cooperation"}
_SPLIT = re.compile(r"[；;、，,|]")

FIRM_TEXT_FIELDS = ("name", "chains", "segments", "products", "technologies", "description")
DEMAND_TEXT_FIELDS = ("title", "description", "specs", "chains")


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError("neither UTF-8 nor GB18030")


def read_table(path, headers: dict[str, str]) -> list[dict]:
    """Rows of an interchange CSV as alias-keyed dicts (multi-valued cells as lists)."""
    text = _decode(Path(path).read_bytes())
    reader = csv.reader(io.StringIO(text))
    head = next(reader, [])
    aliases = set(headers.values())
    keys = [headers.get(h.strip(), h.strip() if h.strip() in aliases else None) for h in head]
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        row = {}
        for key, cell in zip(keys, cells):
            if key is None:
                continue
            cell = cell.strip()
            row[key] = [p.strip() for p in _SPLIT.split(cell) if p.strip()] if key in MULTI else cell
        rows.append(row)
    return rows


@dataclass
class BenchSet:
    """A benchmark folder: firms, demands, relations, qrels and optional difficulty labels."""

    path: Path
    firms: list[dict]
    demands: list[dict]
    relations: list[dict]
    qrels: dict[str, dict[str, int]]
    difficulty: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def smes(self) -> list[dict]:
        return [f for f in self.firms if f.get("role") != LEADER]

    def firm_qrels(self) -> dict[str, dict[str, int]]:
        """Judgments with the firm as query and the demand as document.

        Firms with no positive judgment are left out: they have nothing to find, and every
        measure would score them 0 whatever the ranking.
        """
        swapped: dict[str, dict[str, int]] = {}
        for qid, docs in self.qrels.items():
            for doc, grade in docs.items():
                swapped.setdefault(doc, {})[qid] = grade
        return {q: d for q, d in swapped.items() if any(g > 0 for g in d.values())}


def read_qrels(path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def read_set(path) -> BenchSet:
    path = Path(path)
    relations = read_table(path / "relations.csv", RELATION_HEADERS) if (path / "relations.csv").exists() else []
    difficulty = {}
    if (path / "difficulty.tsv").exists():
        for line in (path / "difficulty.tsv").read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                difficulty[parts[0]] = parts[1]
    qrels = read_qrels(path / "qrels.txt") if (path / "qrels.txt").exists() else {}
    return BenchSet(path, read_table(path / "firms.csv", FIRM_HEADERS),
                    read_table(path / "demands.csv", DEMAND_HEADERS), relations, qrels, difficulty)


def record_text(record: dict, fields) -> str:
    parts = []
    for f in fields:
        value = record.get(f) or ""
        parts.append(" ".join(value) if isinstance(value, list) else value)
    return "\n".join(p for p in parts if p)


_PUNCT = re.compile(r"^[\W_]+$")


def _fallback_tokenize(text: str) -> list[str]:
    import jieba
    jieba.setLogLevel(60)
    return [t for t in jieba.lcut(text.lower()) if t.strip() and not _PUNCT.match(t)]


_TOKENIZERS: dict[bool, object] = {}


def tokenizer(bigrams: bool = True):
    """The ranker's tokeniser (matchmaker.text: words, plus character bigrams unless told
    otherwise) without the taxonomy's dictionary, which is the ranker's own knowledge; jieba
    words when matchmaker.text is absent."""
    try:
        from matchmaker.text import Tokenizer
    except ImportError:
        return _fallback_tokenize
    if bigrams not in _TOKENIZERS:
        tok = Tokenizer(bigrams=bigrams)
        _TOKENIZERS[bigrams] = tok.tokenize if bigrams else tok.words
    return _TOKENIZERS[bigrams]


def _top(scores: np.ndarray, ids: list[str], k: int) -> dict[str, float]:
    k = min(k, scores.shape[0])
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return {ids[i]: float(scores[i]) for i in idx if scores[i] > 0}


class Baseline:
    """A lexical ranker: fit on documents, score query texts. Subclasses fill ``_fit``/``_scores``."""

    name = "baseline"

    def fit(self, doc_ids: list[str], doc_texts: list[str]) -> "Baseline":
        self.doc_ids_ = list(doc_ids)
        self._fit(doc_texts)
        return self

    def rank(self, query_texts: dict[str, str], k: int = 100) -> dict[str, dict[str, float]]:
        qids = list(query_texts)
        run = {}
        for start in range(0, len(qids), 256):
            chunk = qids[start:start + 256]
            scores = self._scores([query_texts[q] for q in chunk])
            for row, qid in enumerate(chunk):
                run[qid] = _top(np.asarray(scores[row]).ravel(), self.doc_ids_, k)
        return run


class BM25(Baseline):
    """Okapi BM25 (bm25s) over the ranker's tokens: words and character bigrams."""

    name = "BM25"

    def __init__(self, k1: float = 1.5, b: float = 0.75, tokenize=None):
        self.k1 = k1
        self.b = b
        self.tokenize = tokenize

    def _tok(self):
        return self.tokenize or tokenizer()

    def _fit(self, texts):
        import bm25s
        tok = self._tok()
        self.model_ = bm25s.BM25(k1=self.k1, b=self.b)
        self.model_.index([tok(t) or [""] for t in texts], show_progress=False)

    def _scores(self, texts):
        tok = self._tok()
        return np.vstack([self.model_.get_scores(tok(t)) for t in texts])

    def rank(self, query_texts, k=100):
        # bm25s' own top-k retrieval is its fast path; use it rather than full score rows
        tok = self._tok()
        qids = list(query_texts)
        k = min(k, len(self.doc_ids_))
        docs, scores = self.model_.retrieve([tok(query_texts[q]) or [""] for q in qids], k=k,
                                            show_progress=False)
        return {q: {self.doc_ids_[d]: float(s) for d, s in zip(docs[i], scores[i]) if s > 0}
                for i, q in enumerate(qids)}


class CharTfidf(Baseline):
    """Cosine over sublinear TF-IDF of character 1-3-grams: no segmenter, robust to wording."""

    name = "TF-IDF char 1-3"

    def _fit(self, texts):
        from sklearn.feature_extraction.text import TfidfVectorizer
        self.vec_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.X_ = self.vec_.fit_transform(texts).T.tocsr()

    def _scores(self, texts):
        return (self.vec_.transform(texts) @ self.X_).toarray()


class WordTfidf(Baseline):
    """Cosine over sublinear TF-IDF of segmenter words (no bigrams)."""

    name = "TF-IDF words"

    def __init__(self, tokenize=None):
        self.tokenize = tokenize

    def _fit(self, texts):
        from sklearn.feature_extraction.text import TfidfVectorizer
        tok = self.tokenize or tokenizer(bigrams=False)
        self.vec_ = TfidfVectorizer(analyzer=tok, sublinear_tf=True)
        self.X_ = self.vec_.fit_transform(texts).T.tocsr()

    def _scores(self, texts):
        return (self.vec_.transform(texts) @ self.X_).toarray()


BASELINES = (BM25, CharTfidf, WordTfidf)


def rank_smes(model: Baseline, bench: BenchSet, k: int = 100, demand_ids=None):
    """Run of SMEs for each demand (demand = query, credit code = document)."""
    smes = bench.smes
    model.fit([f["credit_code"] for f in smes], [record_text(f, FIRM_TEXT_FIELDS) for f in smes])
    wanted = set(demand_ids) if demand_ids is not None else None
    queries = {d["demand_id"]: record_text(d, DEMAND_TEXT_FIELDS) for d in bench.demands
               if wanted is None or d["demand_id"] in wanted}
    return model.rank(queries, k)


def rank_demands(model: Baseline, bench: BenchSet, k: int = 100, firm_ids=None):
    """Run of demands for each SME (credit code = query, demand = document)."""
    model.fit([d["demand_id"] for d in bench.demands],
              [record_text(d, DEMAND_TEXT_FIELDS) for d in bench.demands])
    wanted = set(firm_ids) if firm_ids is not None else None
    queries = {f["credit_code"]: record_text(f, FIRM_TEXT_FIELDS) for f in bench.smes
               if wanted is None or f["credit_code"] in wanted}
    return model.rank(queries, k)


def write_trec(run: dict[str, dict[str, float]], path_or_file, tag: str = "baseline") -> None:
    """Write a run in the TREC format of the interchange contract, best first, ranks from 1."""
    own = isinstance(path_or_file, (str, Path))
    fh = open(path_or_file, "w", encoding="utf-8") if own else path_or_file
    try:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
            for rank, (doc, score) in enumerate(ranked, 1):
                fh.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")
    finally:
        if own:
            fh.close()


def read_trec(path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 5:
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run
