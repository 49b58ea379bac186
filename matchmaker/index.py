"""TF-IDF over firm fields on pre-tokenised documents.

One scikit-learn ``TfidfVectorizer`` per field (sublinear tf, l2 rows) so that the blend can
weigh a hit in 主营产品/核心技术 above a hit in marketing prose, plus one vectorizer over the
whole profile. Documents are token lists produced once by :class:`matchmaker.text.Tokenizer`;
refitting never re-tokenises. Queries (demands) are transformed with the fitted vectorizers,
so ``query_matrix @ doc_matrix.T`` gives cosine scores in either direction.

Fitting does not go through the vectorizers' own counting (a Python loop per token, 40 s at
200k firms): tokens are mapped to integer ids once (:class:`TokenIds`), each field's counts are
a CSR matrix built by numpy (:func:`count_matrix`), and :meth:`FieldIndex.fit_counts` applies
the vectorizer's vocabulary rules (sorted features, ``max_df``) and scikit-learn's
``TfidfTransformer`` to them. The fitted vectorizers are ordinary ``TfidfVectorizer`` objects
(queries and later documents go through their ``transform``) and the matrices equal what
``fit_transform`` gives on the token lists.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from .text import BIGRAM_PREFIX

__all__ = ["FieldIndex", "TokenIds", "count_matrix", "keep_columns", "identity", "split_words_bigrams"]


def identity(tokens):
    return tokens


def split_words_bigrams(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    words = [t for t in tokens if not t.startswith(BIGRAM_PREFIX)]
    bigrams = [t for t in tokens if t.startswith(BIGRAM_PREFIX)]
    return words, bigrams


class TokenIds(dict):
    """token -> integer id, a new id for each unseen token (``ids[token]`` never fails)."""

    def __init__(self):
        super().__init__()
        self.tokens: list[str] = []

    def __missing__(self, token: str) -> int:
        i = self[token] = len(self.tokens)
        self.tokens.append(token)
        return i

    def encode(self, token_lists: Iterable[Sequence[str]]) -> tuple[array, array]:
        """All ids in one flat array, and the number of tokens per document."""
        ids, lengths = array("i"), array("q")
        for toks in token_lists:
            lengths.append(len(toks))
            ids.extend(map(self.__getitem__, toks))
        return ids, lengths


def count_matrix(ids, lengths, n_features: int) -> sp.csr_matrix:
    """(n_docs, n_features) float32 term counts from flat ids and per-document lengths, in
    canonical form (sorted indices, no duplicates) as CountVectorizer gives them."""
    ids = np.frombuffer(ids, dtype=np.int32) if isinstance(ids, array) else np.asarray(ids, dtype=np.int32)
    lengths = np.frombuffer(lengths, dtype=np.int64) if isinstance(lengths, array) else np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    rows = np.repeat(np.arange(n, dtype=np.int32), lengths)
    mat = sp.csr_matrix((np.ones(len(ids), dtype=np.float32), (rows, ids)), shape=(n, n_features))
    mat.sum_duplicates()
    return mat


def keep_columns(mat: sp.csr_matrix, new_col: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Columns renumbered by ``new_col`` (old -> new, -1 drops the column), rows kept, indices
    sorted again."""
    new = new_col[mat.indices]
    keep = new >= 0
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    indptr = kept_before[mat.indptr]
    out = sp.csr_matrix((mat.data[keep], new[keep].astype(mat.indices.dtype), indptr),
                        shape=(mat.shape[0], n_cols))
    out.has_sorted_indices = False
    out.sort_indices()
    return out


def _postings_scores(queries: sp.csr_matrix, post: sp.csr_matrix) -> np.ndarray:
    """Dense (n_queries, n_docs) float32 ``queries @ post`` for a term x doc ``post``: the
    query terms' postings sliced out and summed by one sparse-transpose x dense product (a
    sparse x sparse product builds a sparse 200k-wide result first, 5x slower; the sums are
    the same, in the same order)."""
    queries = sp.csr_matrix(queries)
    out = np.zeros((queries.shape[0], post.shape[1]), dtype=np.float32)
    for r in range(queries.shape[0]):
        lo, hi = queries.indptr[r], queries.indptr[r + 1]
        if hi > lo:
            out[r] = post[queries.indices[lo:hi]].T @ queries.data[lo:hi]
    return out


def _vectorizer(min_df=1, max_df=1.0) -> TfidfVectorizer:
    # analyzer=identity: documents arrive as token lists, nothing is re-tokenised.
    return TfidfVectorizer(analyzer=identity, lowercase=False, sublinear_tf=True,
                           min_df=min_df, max_df=max_df, dtype=np.float32)


class FieldIndex:
    """Per-field TF-IDF matrices over a growing set of documents.

    ``docs`` are dicts field -> token list. ``fit`` learns vocabularies and idf; ``append``
    and ``replace`` transform new documents with the fitted vectorizers (no refit).
    """

    def __init__(self, fields: Sequence[str], max_df: float = 1.0, bm25_fields: Sequence[str] = (),
                 k1: float = 1.2, b: float = 0.75, dense_query_share: float = 0.25):
        self.fields = list(fields)
        self.dense_query_share = dense_query_share
        self.max_df = max_df
        self.bm25_fields = list(bm25_fields)
        self.k1 = k1
        self.b = b

    def fit(self, docs: Sequence[dict[str, list[str]]]) -> "FieldIndex":
        ids = TokenIds()
        counts = {}
        for field in self.fields:
            flat, lengths = ids.encode(d.get(field, []) for d in docs)
            counts[field] = flat, lengths
        counts = {f: count_matrix(flat, lengths, len(ids.tokens)) for f, (flat, lengths) in counts.items()}
        return self.fit_counts(counts, ids.tokens)

    def fit_counts(self, counts: dict[str, sp.csr_matrix], tokens: Sequence[str],
                   consume: bool = False) -> "FieldIndex":
        """Fit from per-field count matrices over one shared vocabulary (column j counts
        ``tokens[j]``; canonical CSR as :func:`count_matrix` gives). With ``consume`` each
        field's counts are taken out of ``counts`` once fitted, so that the counts and the
        weighted matrices of all fields are never held at once (peak memory at 200k firms)."""
        self.vectorizers_: dict[str, TfidfVectorizer] = {}
        self.matrices_: dict[str, sp.csr_matrix] = {}
        field_counts: dict[str, sp.csr_matrix] = {}
        n_docs = counts[self.fields[0]].shape[0]
        for field in self.fields:
            X = counts.pop(field) if consume else counts[field]
            df = np.bincount(X.indices, minlength=X.shape[1])
            present = df > 0
            if not present.any():
                # sklearn refuses an empty vocabulary; a field nobody fills scores 0.
                vec = _vectorizer()
                mat = vec.fit_transform([[] for _ in range(n_docs)] + [["\x00empty"]])[:-1]
                self.vectorizers_[field] = vec
                self.matrices_[field] = sp.csr_matrix(mat, dtype=np.float32)
                if field in self.bm25_fields:
                    field_counts[field] = sp.csr_matrix((n_docs, 1), dtype=np.float32)
                continue
            max_df = self.max_df if n_docs > 50 else 1.0
            vec = _vectorizer(max_df=max_df)
            # CountVectorizer's rules: features sorted, then those in more than max_df of
            # the documents dropped (all kept again if that leaves none, as fit did).
            keep = present & (df <= max_df * n_docs)
            if not keep.any():
                vec = _vectorizer()
                keep = present
            kept = np.flatnonzero(keep)
            order = sorted(range(len(kept)), key=lambda k: tokens[kept[k]])
            new_col = np.full(X.shape[1], -1, dtype=np.int64)
            new_col[kept[order]] = np.arange(len(kept))
            Xf = keep_columns(X, new_col, len(kept))
            vec.vocabulary_ = {tokens[kept[k]]: r for r, k in enumerate(order)}
            vec.fixed_vocabulary_ = False
            vec._tfidf = TfidfTransformer(norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf,
                                          sublinear_tf=vec.sublinear_tf).fit(Xf)
            del X
            self.vectorizers_[field] = vec
            if field in self.bm25_fields:
                field_counts[field] = Xf
            self.matrices_[field] = sp.csr_matrix(vec._tfidf.transform(Xf, copy=field in self.bm25_fields),
                                                  dtype=np.float32)
            del Xf
        # BM25 over the same vocabulary: document weights precomputed, so a query is one
        # sparse product as for TF-IDF.
        self.counters_: dict[str, CountVectorizer] = {}
        self.bm25_: dict[str, sp.csr_matrix] = {}
        self._bm25_stats: dict[str, tuple[np.ndarray, float]] = {}
        for field in self.bm25_fields:
            cv = CountVectorizer(analyzer=identity, lowercase=False,
                                 vocabulary=self.vectorizers_[field].vocabulary_, dtype=np.float32)
            counts_f = field_counts[field]
            n = counts_f.shape[0]
            df = np.bincount(counts_f.indices, minlength=counts_f.shape[1])
            idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
            dl = np.asarray(counts_f.sum(axis=1)).ravel()
            avgdl = float(dl.mean()) if n and dl.mean() > 0 else 1.0
            self.counters_[field] = cv
            self._bm25_stats[field] = (idf, avgdl)
            self.bm25_[field] = self._bm25_weights(field, counts_f)
            del field_counts[field], counts_f
        self._build_postings()
        return self

    def _build_postings(self) -> None:
        # Inverted copies (term x doc) of the matrices scored against every document: a query
        # then touches only the postings of its own terms, instead of the whole matrix that
        # ``q @ X.T`` would transpose on each call.
        self.postings_ = {f: sp.csr_matrix(self.matrices_[f].T) for f in ("all",) if f in self.matrices_}
        self.bm25_postings_ = {f: sp.csr_matrix(m.T) for f, m in self.bm25_.items()}

    def _bm25_weights(self, field: str, counts: sp.csr_matrix) -> sp.csr_matrix:
        idf, avgdl = self._bm25_stats[field]
        counts = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        dl = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * dl / avgdl)
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        tf = counts.data
        counts.data = (idf[counts.indices] * tf * (self.k1 + 1) / (tf + norm[rows])).astype(np.float32)
        return counts

    def bm25_query(self, field: str, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        q = sp.csr_matrix(self.counters_[field].transform(token_lists), dtype=np.float32)
        q.data[:] = 1.0
        return q

    def bm25_scores(self, field: str, queries: sp.csr_matrix) -> np.ndarray:
        return _postings_scores(queries, self.bm25_postings_[field])

    @property
    def n_docs(self) -> int:
        return self.matrices_[self.fields[0]].shape[0]

    def transform(self, field: str, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        return sp.csr_matrix(self.vectorizers_[field].transform(token_lists), dtype=np.float32)

    def transform_weighted(self, field: str, weighted: Sequence[dict[str, float]]) -> sp.csr_matrix:
        """Query vectors from {token: weight} maps (e.g. synonyms weighted below exact terms):
        idf-weighted, l2-normalised, unknown tokens dropped."""
        vec = self.vectorizers_[field]
        vocab = vec.vocabulary_
        idf = vec.idf_
        rows, cols, vals = [], [], []
        for i, bag in enumerate(weighted):
            for tok, w in bag.items():
                j = vocab.get(tok)
                if j is not None and w > 0:
                    rows.append(i)
                    cols.append(j)
                    vals.append(w * idf[j])
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(len(weighted), len(vocab)), dtype=np.float32)
        return l2_normalize(mat)

    def append(self, docs: Sequence[dict[str, list[str]]]) -> None:
        for field in self.fields:
            new = self.transform(field, [d.get(field, []) for d in docs])
            self.matrices_[field] = sp.vstack([self.matrices_[field], new], format="csr")
        for field in self.bm25_fields:
            counts = self.counters_[field].transform([d.get(field, []) for d in docs])
            self.bm25_[field] = sp.vstack([self.bm25_[field], self._bm25_weights(field, counts)],
                                          format="csr")
        self._build_postings()

    def replace(self, row: int, doc: dict[str, list[str]]) -> None:
        for field in self.fields:
            mat = self.matrices_[field].tolil()
            mat[row] = self.transform(field, [doc.get(field, [])])
            self.matrices_[field] = mat.tocsr()
        for field in self.bm25_fields:
            mat = self.bm25_[field].tolil()
            mat[row] = self._bm25_weights(field, self.counters_[field].transform([doc.get(field, [])]))
            self.bm25_[field] = mat.tocsr()
        self._build_postings()

    def scores(self, field: str, queries: sp.csr_matrix) -> np.ndarray:
        """Dense (n_queries, n_docs) cosine scores."""
        post = self.postings_.get(field)
        if post is not None:
            queries = sp.csr_matrix(queries, dtype=np.float32)
            terms = queries.indices
            touched = int((post.indptr[terms + 1] - post.indptr[terms]).sum())
            # (no query rows touch nothing, so they always take the postings path)
            if touched <= self.dense_query_share * post.nnz:
                return _postings_scores(queries, post)
            # A query whose terms' postings cover much of the corpus (a centroid of many
            # profiles): one pass over the doc x term matrix with a dense query is cheaper than
            # copying those postings out (35 vs 90 ms at 200k). Same sums, another order.
            mat = self.matrices_[field]
            return np.vstack([mat @ queries[r].toarray().ravel() for r in range(queries.shape[0])]
                             ).astype(np.float32, copy=False)
        return np.asarray((queries @ self.matrices_[field].T).todense(), dtype=np.float32)

    def feature_names(self, field: str) -> np.ndarray:
        # get_feature_names_out rebuilds the array on every call: keep it
        cache = self.__dict__.setdefault("_names", {})
        names = cache.get(field)
        if names is None or len(names) != len(self.vectorizers_[field].vocabulary_):
            names = cache[field] = self.vectorizers_[field].get_feature_names_out()
        return names
