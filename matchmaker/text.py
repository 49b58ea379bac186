"""Normalisation and tokenisation of industrial Chinese text.

Tokens are segmenter words (rjieba, taught the taxonomy's terms so that a term such as
沸石转轮 stays whole) fused with character bigrams of every CJK run (prefixed with ``#`` so
that they live in their own feature space: they recover terms the segmenter cuts differently,
e.g. 反渗透膜 vs 反渗透 + 膜). ASCII tokens and model numbers (IGBT, 8K, V-by-One) are kept as
they are, lower-cased.
"""
from __future__ import annotations

import itertools
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence

import rjieba

__all__ = ["normalize", "Tokenizer", "STOP_WORDS", "BIGRAM_PREFIX", "is_cjk"]

BIGRAM_PREFIX = "#"

# Punctuation that NFKC leaves alone but that carries no meaning for matching.
_PUNCT_MAP = str.maketrans({
    "“": '"', "”": '"', "‘": "'", "’": "'", "、": ",", "。": ".", "《": "<", "》": ">",
    "【": "[", "】": "]", "「": '"', "」": '"', "『": '"', "』": '"', "—": "-", "–": "-",
    "～": "~", "·": " ", "•": " ", "…": " ", "│": "|",
})
_SPACES = re.compile(r"\s+")
# A space between two CJK characters is an artefact of copying from PDFs or spreadsheets.
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_ASCII_TOKEN = re.compile(r"[a-z0-9][a-z0-9.+\-/]*[a-z0-9+]|[a-z0-9]")
_ONLY_NUMBER = re.compile(r"^[0-9.\-/+]+$")
# Raw characters that no segmenter block, CJK run or ASCII token spans, before or after
# normalisation (NFKC maps the full-width ones to ASCII punctuation, never to a letter), so a
# text's tokens are the concatenation of its clauses' tokens. 。 is not one of them: it becomes
# "." which the segmenter keeps inside a block (3。5 -> 3.5).
_CLAUSE_SEP = re.compile(r"[，,；;、：:]")
# A combining mark right after a separator would compose with it under NFKC: such a text is
# tokenised whole.
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a]")
# Clauses memoised per tokenizer: firm texts repeat clauses (经营范围 boilerplate, product
# lists). The clauses of a text not seen yet are normalised and segmented together, joined by a
# private-use character (a segmenter piece of its own, never a token), so that a text without
# repeats costs one segmenter call as before, not one per clause.
CLAUSE_CACHE_SIZE = 1 << 18
_JOIN = "\ue000"

# Words that occur in nearly every firm profile or demand and say nothing about a capability.
# Kept short on purpose: TF-IDF already discounts frequent words; these are the ones that would
# otherwise dominate short texts (titles, product lists) or that appear in reasons shown to users.
STOP_WORDS = frozenset("""
的 了 和 与 及 以及 或 等 在 是 为 对 将 把 被 从 向 由 于 其 之 该 本 各 每 可 能 也 都 并 而 且 又 但 则 就 还 更
有 无 不 没有 已 已经 正在 进行 实现 开展 提供 提升 提高 降低 减少 具备 具有 拥有 包括 覆盖 面向 基于 通过
用于 以及 相关 主要 重点 核心 关键 先进 领先 自主 一体化 全面 多种 各类 一系列 系列 专业 专注 致力 致力于
公司 企业 集团 有限公司 有限 责任 股份 股份有限公司 科技 技术 产品 服务 业务 需求 问题 方案 解决 解决方案
合作 伙伴 合作伙伴 希望 寻求 征集 需要 要求 计划 拟 目前 现有 能力 领域 行业 方面 方向 平台 体系 项目 工作
国内 国外 国际 全国 我们 我司 本公司 客户 用户 市场 发展 研发 生产 制造 销售 应用 以上 以下 左右 不少 超过
一 二 三 两 个 种 项 家 年 月 日 万 亿 余 多 及其 其中 以及 如 如何 如下 例如 比如 同时 此外 另外 并且
""".split())


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


_T2S: dict[int, str] | None = None


def _t2s_table() -> dict[int, str]:
    """Character table traditional -> simplified from zhconv's own dictionaries.
    zhconv.convert scans phrase tables and costs ~50 µs per short text; per-character
    translation is what matters for matching and is ~100x faster."""
    global _T2S
    if _T2S is None:
        from zhconv import zhconv as _z
        _z.convert("電", "zh-cn")  # loads the dictionaries
        table: dict[int, str] = {}
        for name in ("zh2Hans", "zh2CN"):
            for k, v in (_z.zhcdicts or {}).get(name, {}).items():
                if len(k) == 1 and len(v) == 1:
                    table[ord(k)] = v
        _T2S = table
    return _T2S


def normalize(text: object) -> str:
    """NFKC (full-width -> half-width), traditional -> simplified, lower case, unified
    punctuation, collapsed spaces."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_t2s_table())
    text = text.translate(_PUNCT_MAP).lower()
    text = _CJK_SPACE.sub("", text)
    return _SPACES.sub(" ", text).strip()


class Tokenizer:
    """Words + character bigrams for industrial Chinese.

    ``terms`` (e.g. the taxonomy's terms and synonyms) are added to the segmenter's
    dictionary so that they come out whole. Each instance owns its own rjieba dictionary,
    so two tokenizers with different vocabularies do not interfere.
    """

    def __init__(self, terms: Iterable[str] = (), bigrams: bool = True,
                 stop_words: frozenset[str] = STOP_WORDS):
        self.bigrams = bigrams
        self.stop_words = stop_words
        self._jieba = rjieba.Jieba()
        self._lock = threading.Lock()
        self.terms: set[str] = set()
        self._cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.add_terms(terms)

    def add_terms(self, terms: Iterable[str]) -> None:
        for term in terms:
            term = normalize(term)
            if not term or term in self.terms:
                continue
            self.terms.add(term)
            # rjieba splits on spaces and ASCII runs by itself; only CJK-bearing terms need it.
            if " " not in term and any(is_cjk(c) for c in term):
                with self._lock:
                    self._jieba.add_word(term, None, None)
                    self._cache.clear()  # a new word may cut a cached clause differently

    def words(self, text: str, normalized: bool = False) -> list[str]:
        """Segmenter words (normalised, stop words and punctuation dropped)."""
        if not normalized:
            text = normalize(text)
        if not text:
            return []
        parts = self._segment(text)
        return parts[0] if len(parts) == 1 else [w for part in parts for w in part]

    def _segment(self, text: str) -> list[list[str]]:
        """Words of each ``_JOIN``-separated part of a normalised text."""
        out: list[str] = []
        parts = [out]
        for piece in self._jieba.cut(text):
            if piece == _JOIN:
                out = []
                parts.append(out)
                continue
            piece = piece.strip()
            if not piece or piece in self.stop_words:
                continue
            if is_cjk(piece[0]):
                if len(piece) == 1 and piece in self.stop_words:
                    continue
                out.append(piece)
            else:
                for tok in _ASCII_TOKEN.findall(piece):
                    # Bare numbers (years, quantities) match everything and nothing.
                    if _ONLY_NUMBER.match(tok) and not tok.endswith(("k", "g")):
                        continue
                    out.append(tok)
        return parts

    def _bigrams(self, text: str) -> list[str]:
        out = []
        if self.bigrams:
            for run in _CJK_RUN.findall(text):
                for i in range(len(run) - 1):
                    bg = run[i:i + 2]
                    if bg in self.stop_words:
                        continue
                    out.append(BIGRAM_PREFIX + bg)
        return out

    def tokenize_clauses(self, clauses: Sequence[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(words, bigrams) of each clause (as :meth:`clauses` gives them), tokens interned;
        one normalisation and one segmenter call for all of them."""
        if not clauses:
            return []
        text = normalize(_JOIN.join(clauses))
        word_parts = self._segment(text) if text else [[]]
        text_parts = text.split(_JOIN)
        if not (len(word_parts) == len(text_parts) == len(clauses)):  # cannot happen; be safe
            return [self._tokenize_whole(c) for c in clauses]
        intern = sys.intern
        return [(tuple(map(intern, w)), tuple(map(intern, self._bigrams(t))))
                for w, t in zip(word_parts, text_parts)]

    def _tokenize_whole(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        text = normalize(text)
        return tuple(self.words(text, normalized=True)), tuple(self._bigrams(text))

    @staticmethod
    def clauses(text) -> list[str] | None:
        """The raw clauses whose tokens, concatenated (all words, then all bigrams), are the
        text's tokens; None when the text must be tokenised whole."""
        if text is None:
            return []
        if not isinstance(text, str):
            text = str(text)
        if _JOIN in text or _COMBINING.search(text):
            return None
        return [c for c in _CLAUSE_SEP.split(text) if c]

    def _remember(self, fresh: dict) -> None:
        cache = self._cache
        if len(cache) + len(fresh) > CLAUSE_CACHE_SIZE:
            with self._lock:
                try:  # the oldest quarter goes (dicts keep insertion order)
                    for key in list(itertools.islice(cache, CLAUSE_CACHE_SIZE // 4)):
                        cache.pop(key, None)
                except RuntimeError:  # changed by another thread meanwhile
                    cache.clear()
        cache.update(fresh)

    def tokenize(self, text: str) -> list[str]:
        """Words of the whole text, then its character bigrams (each prefixed with ``#``)."""
        parts = self.clauses(text)
        if parts is None:
            words, bigrams = self._tokenize_whole(text)
            return [*words, *bigrams]
        cache = self._cache
        got = [cache.get(c) for c in parts]
        if any(g is None for g in got):
            missing = list(dict.fromkeys(c for c, g in zip(parts, got) if g is None))
            fresh = dict(zip(missing, self.tokenize_clauses(missing)))
            self._remember(fresh)
            got = [g if g is not None else fresh[c] for c, g in zip(parts, got)]
        words: list[str] = []
        bigrams: list[str] = []
        for w, b in got:
            words += w
            bigrams += b
        words += bigrams
        return words

    __call__ = tokenize

    # A Tokenizer is stored inside a fitted Matcher; the rjieba handle is not picklable.
    def __getstate__(self):
        return {"bigrams": self.bigrams, "stop_words": self.stop_words, "terms": sorted(self.terms)}

    def __setstate__(self, state):
        self.__init__(state["terms"], state["bigrams"], state["stop_words"])
