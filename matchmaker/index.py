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

import math
from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from .text import BIGRAM_PREFIX

__all__ = ["FieldIndex", "TokenIds", "count_matrix", "keep_columns", "only_columns", "stack_rows", "identity",
           "split_words_bigrams", "release_free_heap"]


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


_BLOCK = 1 << 16  # rows per block where a whole-matrix temporary would cost GiBs at 1M firms
_PIECE = 1 << 22  # entries per piece of an elementwise pass over a matrix's data


def keep_columns(mat: sp.csr_matrix, new_col: np.ndarray, n_cols: int, inplace: bool = False) -> sp.csr_matrix:
    """Columns renumbered by ``new_col`` (old -> new, -1 drops the column), rows kept, indices
    sorted again. Works through blocks of rows: besides the result, only a mask as long as
    the matrix is allocated (not the int64 copies of its indices a one-shot version makes).
    ``inplace``: the result is written over ``mat``'s own arrays (block by block, never ahead
    of what is still to be read), which the caller then gives up."""
    new_col = np.asarray(new_col).astype(np.int32 if n_cols < 2 ** 31 else np.int64)
    if inplace and mat.indices.dtype != new_col.dtype:
        inplace = False
    n, ptr = mat.shape[0], mat.indptr
    keep = np.empty(mat.nnz, dtype=bool)
    indptr = np.zeros(n + 1, dtype=np.int64)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        a, b = ptr[lo], ptr[hi]
        k = keep[a:b]
        np.greater_equal(new_col[mat.indices[a:b]], 0, out=k)
        kept_before = np.concatenate([[0], np.cumsum(k, dtype=np.int64)])
        indptr[lo + 1:hi + 1] = indptr[lo] + kept_before[ptr[lo + 1:hi + 1] - a]
    total = int(indptr[-1])
    if inplace:
        indices, data = mat.indices, mat.data
    else:
        indices = np.empty(total, dtype=new_col.dtype)
        data = np.empty(total, dtype=mat.data.dtype)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        a, b = ptr[lo], ptr[hi]
        k = keep[a:b]
        indices[indptr[lo]:indptr[hi]] = new_col[mat.indices[a:b][k]]
        data[indptr[lo]:indptr[hi]] = mat.data[a:b][k]
    del keep
    # arrays set directly: the constructor may copy them, which inplace is there to avoid
    out = sp.csr_matrix((n, n_cols), dtype=data.dtype)
    out.data, out.indices = data[:total], indices[:total]
    out.indptr = indptr.astype(indices.dtype) if total < 2 ** 31 else indptr
    out.has_sorted_indices = False
    out.sort_indices()
    return out


def stack_rows(blocks: list, n_cols: int) -> sp.csr_matrix:
    """The CSR blocks one under the other (as ``sp.vstack``), consuming ``blocks``: the result
    is allocated untouched and each block is freed once copied, so the blocks and the whole
    result are not both resident (1 GiB for "all" at 1M firms)."""
    nnz = sum(m.nnz for m in blocks)
    n = sum(m.shape[0] for m in blocks)
    idx_dtype = np.int32 if max(nnz, n_cols) < 2 ** 31 else np.int64
    # (blocks of small counts may differ in type: the widest holds them all)
    data = np.empty(nnz, dtype=np.result_type(*[m.data.dtype for m in blocks]) if blocks else np.float32)
    indices = np.empty(nnz, dtype=idx_dtype)
    indptr = np.zeros(n + 1, dtype=idx_dtype)
    o = r = 0
    while blocks:
        m = blocks.pop(0)
        k, rows = m.nnz, m.shape[0]
        data[o:o + k] = m.data
        indices[o:o + k] = m.indices
        indptr[r + 1:r + rows + 1] = m.indptr[1:] + o
        o, r = o + k, r + rows
        del m
    return sp.csr_matrix((data, indices, indptr), shape=(n, n_cols))


def _postings_scores(queries: sp.csr_matrix, post: sp.csr_matrix) -> np.ndarray:
    """Dense (n_queries, n_docs) float32 ``queries @ post`` for a term x doc ``post``: the
    query terms' postings sliced out and summed by one sparse-transpose x dense product (a
    sparse x sparse product builds a sparse 200k-wide result first, 5x slower; the sums are
    the same, in the same order)."""
    queries = sp.csr_matrix(queries)
    out = np.zeros((queries.shape[0], post.shape[1]), dtype=np.float32)
    # (L4) in place: scipy's own CSC kernel run on each query term's postings where they lie
    # (views, one term at a time, in the query's order), adding into the row as the product
    # of the sliced copy adds (the same sums in the same order, without copying the postings
    # out: a supplier profile's 100 common terms touch ~2M entries at 200k firms)
    inplace = (_csc_matvec is not None and queries.dtype == post.dtype == np.float32
               and post.indptr.dtype == post.indices.dtype)
    for r in range(queries.shape[0]):
        lo, hi = queries.indptr[r], queries.indptr[r + 1]
        if hi > lo and inplace:
            row, ptr, data = out[r], post.indptr, queries.data
            for k, j in zip(range(lo, hi), queries.indices[lo:hi].tolist()):
                _csc_matvec(post.shape[1], 1, ptr[j:j + 2], post.indices, post.data, data[k:k + 1], row)
        elif hi > lo:
            out[r] = post[queries.indices[lo:hi]].T @ queries.data[lo:hi]
    return out


try:  # scipy's kernel of ``csc @ vector`` (y += A x), private: without it the copy is made
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
except ImportError:  # pragma: no cover
    _csc_matvec = None


def _row_norms(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Row l2 norms computed as sklearn's ``normalize`` computes them for a float32 CSR matrix
    (float32 squares summed in double, in index order, then sqrt), so that dividing by them
    gives its rows bit for bit. Vectorised over rows: step k adds every row's k-th entry."""
    sq = np.square(data).astype(np.float64)
    lens = np.diff(indptr).astype(np.int64)
    order = np.argsort(-lens, kind="stable")
    starts = indptr[:-1].astype(np.int64)[order]
    lens_sorted = lens[order]
    acc = np.zeros(len(lens))
    # rows still active at step k are a prefix of ``order`` (longest first)
    active = np.searchsorted(-lens_sorted, -np.arange(1, int(lens.max(initial=0)) + 1), side="right")
    for k, m in enumerate(active.tolist()):
        acc[:m] += sq[starts[:m] + k]
    out = np.empty(len(lens))
    out[order] = np.sqrt(acc)
    return out


def _small_counts(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Term counts in the smallest unsigned type that holds them (one byte nearly always),
    sharing the matrix's index arrays."""
    counts = sp.csr_matrix(counts)
    top = counts.data.max(initial=0)
    dtype = np.uint8 if top < 2 ** 8 else np.uint16 if top < 2 ** 16 else np.float32
    out = sp.csr_matrix(counts.shape, dtype=dtype)
    out.data, out.indices, out.indptr = counts.data.astype(dtype), counts.indices, counts.indptr
    return out


def only_columns(mat: sp.csr_matrix, cols: np.ndarray) -> sp.csr_matrix:
    """``mat`` with only its entries in the columns ``cols``, in the same order."""
    mask = np.zeros(mat.shape[1], dtype=bool)
    mask[cols] = True
    # the positions of the entries kept (a few thousand of ~100k for a ranking's candidates):
    # gathered, and each row's start found among them, instead of a running count over all
    at = np.flatnonzero(mask[mat.indices])
    indptr = np.searchsorted(at, mat.indptr)
    return sp.csr_matrix((mat.data[at], mat.indices[at], indptr), shape=mat.shape)


def _l2_row(vals: np.ndarray) -> np.ndarray:
    """float32 ``vals`` l2-normalised as sklearn's ``normalize`` does one CSR row: float32
    squares added in double in column order (sequential, as its Cython loop adds them), each
    value divided in double by the root, then rounded to float32."""
    total = 0.0
    for v in (vals * vals).tolist():
        total += v
    return (vals.astype(np.float64) / math.sqrt(total)).astype(np.float32) if total != 0.0 else vals


def _in_sorted(values: np.ndarray, sorted_cols: np.ndarray) -> np.ndarray:
    """Mask of the ``values`` found in the ascending array ``sorted_cols``."""
    if not len(sorted_cols):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_cols, values), len(sorted_cols) - 1)
    return sorted_cols[pos] == values


def _one_row(vals: np.ndarray, cols: np.ndarray, width: int) -> sp.csr_matrix:
    """A 1 x ``width`` float32 CSR row from ascending int32 columns (canonical: no
    constructor checks, which cost more than the row at a vocabulary of ~1M)."""
    out = sp.csr_matrix((1, width), dtype=np.float32)
    out.data, out.indices = vals.astype(np.float32, copy=False), cols.astype(np.int32, copy=False)
    out.indptr = np.array([0, len(cols)], dtype=np.int32)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def _replace_row(mat: sp.csr_matrix, row: int, new: sp.csr_matrix) -> sp.csr_matrix:
    """``mat`` with row ``row`` replaced by the 1-row ``new`` (arrays spliced: a LIL
    round trip holds a Python list per row, GiBs at 1M documents)."""
    ptr = mat.indptr
    a, b = int(ptr[row]), int(ptr[row + 1])
    dtype = np.result_type(mat.data.dtype, new.data.dtype)
    data = np.concatenate([mat.data[:a], new.data.astype(dtype), mat.data[b:]])
    indices = np.concatenate([mat.indices[:a], new.indices.astype(mat.indices.dtype), mat.indices[b:]])
    indptr = np.array(ptr, dtype=np.int64)
    indptr[row + 1:] += new.nnz - (b - a)
    return sp.csr_matrix((data, indices, indptr), shape=mat.shape)


def release_free_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). Fitting at 1M firms frees GiBs of small buffers (token-id arrays, clause
    memo, count blocks) scattered among objects that stay: glibc keeps those pages, 0.85 GiB
    of resident memory after the counts at 1M firms, until asked."""
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def _row_ids(mat: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr))


def _vectorizer(min_df=1, max_df=1.0) -> TfidfVectorizer:
    # analyzer=identity: documents arrive as token lists, nothing is re-tokenised.
    return TfidfVectorizer(analyzer=identity, lowercase=False, sublinear_tf=True,
                           min_df=min_df, max_df=max_df, dtype=np.float32)


class FieldIndex:
    """Per-field TF-IDF matrices over a growing set of documents.

    ``docs`` are dicts field -> token list. ``fit`` learns vocabularies and idf; ``append``
    and ``replace`` transform new documents with the fitted vectorizers (no refit).

    ``row_only`` fields are only ever read by :meth:`rows` (a candidate's pt/desc cosine, never a
    whole-corpus score): they keep their term counts (one byte each when they fit) and the row
    norms, and their TF-IDF rows are computed when read, equal to the stored ones.

    With ``split_from`` set, the fields ``words`` and ``bigrams`` are not stored: they are the
    word and the bigram columns of that field. Over the same documents a token's document
    frequency, hence its idf and the ``max_df`` rule, is the same in the slice as in the whole
    field, so a document's ``words`` vector is its ``split_from`` row restricted to word
    columns and normalised again. :meth:`rows` builds those rows when asked, from the stored
    row, its norm and the norm of the slice (one float per document and slice), and they equal
    what a vectorizer fitted on the slice gives, in ``split_from``'s columns. Queries of a
    derived field (:meth:`transform`) are in those columns too.

    BM25 (``bm25_fields``, which are also given postings) keeps no doc x term matrix and no
    index arrays of its own: its weights have the TF-IDF matrix's sparsity, and a term count
    is recovered from a TF-IDF weight (sublinear tf times idf over the row norm, one float per
    document). Its postings are one float array beside the TF-IDF postings (sharing their
    indices), its rows for some documents are computed from their TF-IDF rows.
    """

    SPLITS = {"words": False, "bigrams": True}  # derived field -> takes the bigram columns

    def __init__(self, fields: Sequence[str], max_df: float = 1.0, bm25_fields: Sequence[str] = (),
                 k1: float = 1.2, b: float = 0.75, dense_query_share: float = 0.25,
                 split_from: str | None = None, row_only: Sequence[str] = ()):
        self.fields = list(fields)
        self.row_only = list(row_only)
        self.dense_query_share = dense_query_share
        self.max_df = max_df
        self.bm25_fields = list(bm25_fields)
        self.k1 = k1
        self.b = b
        self.split_from = split_from

    # ------------------------------------------------------------------ fitting
    def _derived(self) -> dict[str, str]:
        """derived field -> the stored field it is a slice of."""
        if not self.split_from:
            return {}
        return {f: self.split_from for f in self.fields if f in self.SPLITS}

    def _stored(self) -> list[str]:
        derived = self._derived()
        return [f for f in self.fields if f not in derived]

    def _with_stats(self) -> list[str]:
        """Stored fields whose per-document norms are kept (BM25 and split sources)."""
        out = list(dict.fromkeys(self.bm25_fields + ([self.split_from] if self._derived() else [])
                                 + self.row_only))
        return [f for f in out if f in self._stored()]

    def fit(self, docs: Sequence[dict[str, list[str]]]) -> "FieldIndex":
        ids = TokenIds()
        counts = {}
        for field in self._stored():
            flat, lengths = ids.encode(d.get(field, []) for d in docs)
            counts[field] = flat, lengths
        counts = {f: count_matrix(flat, lengths, len(ids.tokens)) for f, (flat, lengths) in counts.items()}
        return self.fit_counts(counts, ids.tokens)

    def fit_counts(self, counts: dict[str, sp.csr_matrix], tokens: Sequence[str],
                   consume: bool = False) -> "FieldIndex":
        """Fit from per-field count matrices over one shared vocabulary (column j counts
        ``tokens[j]``; canonical CSR as :func:`count_matrix` gives). Derived fields take no
        counts. With ``consume`` each field's counts are taken out of ``counts`` and turned
        into its weights in place, so that the counts and the weighted matrices of all fields
        are never held at once (peak memory at 200k firms)."""
        self.vectorizers_: dict[str, TfidfVectorizer] = {}
        self.matrices_: dict[str, sp.csr_matrix] = {}
        self.row_norm_: dict[str, np.ndarray] = {}
        self.split_norm_: dict[str, np.ndarray] = {}
        self.is_bigram_: dict[str, np.ndarray] = {}
        self._bm25_stats: dict[str, tuple[np.ndarray, float]] = {}
        self.bm25_norm_: dict[str, np.ndarray] = {}
        self.counts_: dict[str, sp.csr_matrix] = {}
        with_stats = self._with_stats()
        weights: dict[str, sp.csr_matrix] = {}
        n_docs = counts[self._stored()[0]].shape[0]
        for field in self._stored():
            X = counts.pop(field) if consume else counts[field]
            df = np.bincount(X.indices, minlength=X.shape[1])
            present = df > 0
            if not present.any():
                # sklearn refuses an empty vocabulary; a field nobody fills scores 0.
                vec = _vectorizer()
                mat = vec.fit_transform([[] for _ in range(n_docs)] + [["\x00empty"]])[:-1]
                self.vectorizers_[field] = vec
                if field in self.row_only:
                    self.counts_[field] = sp.csr_matrix(mat.shape, dtype=np.uint8)
                else:
                    self.matrices_[field] = sp.csr_matrix(mat, dtype=np.float32)
                if field in with_stats:
                    self._doc_stats(field, sp.csr_matrix(mat.shape, dtype=np.float32), fitting=True)
                    self._take_norms(field, sp.csr_matrix(mat.shape, dtype=np.float32), fitting=True)
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
            # consumed counts are renumbered in their own arrays (no second copy of "all"),
            # then made float32 beside the same index arrays
            X = keep_columns(X, new_col, len(kept), inplace=consume)
            Xf = sp.csr_matrix(X.shape, dtype=np.float32)
            Xf.data = X.data.astype(np.float32, copy=False)
            Xf.indices, Xf.indptr = X.indices, X.indptr
            Xf.has_sorted_indices = X.has_sorted_indices
            vec.vocabulary_ = {tokens[kept[k]]: r for r, k in enumerate(order)}
            vec.fixed_vocabulary_ = False
            vec._tfidf = TfidfTransformer(norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf,
                                          sublinear_tf=vec.sublinear_tf).fit(Xf)
            del X
            self.vectorizers_[field] = vec
            if field in with_stats:
                # TfidfTransformer.transform's steps, with the norms taken on the way
                self._doc_stats(field, Xf, fitting=True)
                # kept as counts (sharing Xf's indices): the weights are a function of the
                # count, the term's idf and the row norm, recomputed for the rows read
                self.counts_[field] = _small_counts(Xf)
                self._sublinear_idf(field, Xf.data, Xf.indices, out=Xf.data)
                self._take_norms(field, Xf, fitting=True)
                if field not in self.row_only:
                    # its postings are built from these weights, which are then dropped
                    weights[field] = sp.csr_matrix(l2_normalize(Xf, copy=False), dtype=np.float32)
            else:
                self.matrices_[field] = sp.csr_matrix(vec._tfidf.transform(Xf, copy=False), dtype=np.float32)
            del Xf
        self._build_postings(weights)
        return self

    def _sublinear_idf(self, field: str, tf: np.ndarray, cols: np.ndarray, out=None) -> np.ndarray:
        """float32 ``(1 + ln tf) * idf`` as TfidfTransformer computes it (same operations, by
        pieces of 4M entries: the gathered idf is never a copy as long as the whole matrix)."""
        u = np.log(tf, out=out)
        u += 1.0
        idf = self.vectorizers_[field].idf_
        for lo in range(0, len(u), _PIECE):
            u[lo:lo + _PIECE] *= idf[cols[lo:lo + _PIECE]]
        return u

    def _doc_stats(self, field: str, counts: sp.csr_matrix, fitting: bool = False) -> None:
        """Per-document BM25 length norms from counts (``fitting``: also the BM25 idf)."""
        if field not in self.bm25_fields:
            return
        counts = sp.csr_matrix(counts, dtype=np.float32)
        if fitting:
            n = counts.shape[0]
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
            dl = np.asarray(counts.sum(axis=1)).ravel()
            avgdl = float(dl.mean()) if n and dl.mean() > 0 else 1.0
            self._bm25_stats[field] = (idf, avgdl)
        norm = self._bm25_length_norm(field, counts)
        old = self.bm25_norm_.get(field)
        self.bm25_norm_[field] = norm if fitting or old is None else np.concatenate([old, norm])

    def _bm25_length_norm(self, field: str, counts: sp.csr_matrix) -> np.ndarray:
        _, avgdl = self._bm25_stats[field]
        dl = np.asarray(counts.sum(axis=1)).ravel()
        return self.k1 * (1 - self.b + self.b * dl / avgdl)

    def _take_norms(self, field: str, weights: sp.csr_matrix, fitting: bool = False) -> None:
        """Row norms of un-normalised TF-IDF rows, and of their word / bigram slices (by
        blocks of rows: no mask or copy as long as the whole matrix)."""
        if field not in self._with_stats():
            return
        derived = [f for f, src in self._derived().items() if src == field]
        if derived and (fitting or field not in self.is_bigram_):
            names = self.feature_names(field)
            self.is_bigram_[field] = np.fromiter((t.startswith(BIGRAM_PREFIX) for t in names),
                                                 dtype=bool, count=len(names))
        parts: dict[str, list[np.ndarray]] = {name: [] for name in [field] + derived}
        n = weights.shape[0]
        for lo in range(0, n, _BLOCK):
            hi = min(n, lo + _BLOCK)
            a, b = weights.indptr[lo], weights.indptr[hi]
            data, ptr = weights.data[a:b], weights.indptr[lo:hi + 1] - a
            parts[field].append(_row_norms(data, ptr))
            for d in derived:
                mask = self.is_bigram_[field][weights.indices[a:b]] == self.SPLITS[d]
                sub_ptr = np.concatenate([[0], np.cumsum(mask)])[ptr]
                parts[d].append(_row_norms(data[mask], sub_ptr))
        for name, chunks in parts.items():
            v = np.concatenate(chunks) if chunks else np.zeros(0)
            store = self.row_norm_ if name == field else self.split_norm_
            old = store.get(name)
            store[name] = v if fitting or old is None else np.concatenate([old, v])

    def _weights(self, field: str) -> sp.csr_matrix:
        """The whole TF-IDF matrix of a field (of a counted one: computed by blocks of rows)."""
        if field in self.matrices_:
            return self.matrices_[field]
        n, width = self.counts_[field].shape
        return stack_rows([self.rows(field, np.arange(lo, min(n, lo + _BLOCK))) for lo in range(0, n, _BLOCK)],
                          width)

    def _build_postings(self, weights: dict[str, sp.csr_matrix] | None = None) -> None:
        # Inverted copies (term x doc) of the matrices scored against every document: a query
        # then touches only the postings of its own terms, instead of the whole matrix that
        # ``q @ X.T`` would transpose on each call. A counted field's weights (``weights``:
        # fit's, else recomputed) are dropped once transposed: its doc x term side is counts.
        weights = weights if weights is not None else {}
        fields = [f for f in dict.fromkeys(["all"] + self.bm25_fields)
                  if f in self.matrices_ or (f in self.counts_ and f not in self.row_only)]
        self.postings_ = {}
        for f in fields:
            w = weights.pop(f, None)
            self.postings_[f] = sp.csr_matrix((w if w is not None else self._weights(f)).T)
            del w
        # BM25 postings: the TF-IDF postings' indices and indptr (shared, not copied) with the
        # term counts as data (one byte each; 4 for a float weight was 0.5 GiB at 1M firms):
        # the weights of the postings a query reads are computed when read (bm25_scores).
        self.bm25_postings_ = {}
        for f in self.bm25_fields:
            post = self.postings_[f]
            data = np.empty(post.nnz, dtype=self.counts_[f].dtype if f in self.counts_ else np.float32)
            n_terms, ptr = post.shape[0], post.indptr
            lo = 0
            while lo < n_terms:  # blocks of about 4M entries: bounded float64 temporaries
                hi = max(lo + 1, int(np.searchsorted(ptr, ptr[lo] + _PIECE, side="right")) - 1)
                hi = min(hi, n_terms)
                a, b = ptr[lo], ptr[hi]
                terms = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(ptr[lo:hi + 1]))
                docs = post.indices[a:b]
                data[a:b] = self._tf(f, post.data[a:b], docs, terms)
                lo = hi
            bm = sp.csr_matrix(post.shape, dtype=data.dtype)
            bm.data, bm.indices, bm.indptr = data, post.indices, post.indptr
            self.bm25_postings_[f] = bm

    # ------------------------------------------------------------------ derived weights
    def _tf(self, field: str, weights: np.ndarray, docs: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Term counts (float32) behind normalised TF-IDF weights: w * norm / idf = 1 + ln tf.
        Counts are small integers and the weights exact to float32, so rounding recovers them."""
        idf = self.vectorizers_[field].idf_
        lt = weights.astype(np.float64) * self.row_norm_[field][docs] / idf[cols]
        return np.rint(np.exp(lt - 1.0)).astype(np.float32)

    def _bm25_weights(self, field: str, tf: np.ndarray, docs: np.ndarray, cols: np.ndarray) -> np.ndarray:
        idf, _ = self._bm25_stats[field]
        return (idf[cols] * tf * (self.k1 + 1) / (tf + self.bm25_norm_[field][docs])).astype(np.float32)

    def rows(self, field: str, docs, cols: np.ndarray | None = None) -> sp.csr_matrix:
        """TF-IDF rows of some documents (a derived field's in its source field's columns).
        ``cols`` (optional): only the entries in these columns, left out of a counted field
        before its weights are computed (a ranking reads its candidates' rows in the query's
        columns only: a few thousand of their ~300k entries at 200k firms; the entries kept
        are the same to the bit, each weight being computed on its own)."""
        if field in self.counts_:
            docs = np.atleast_1d(np.asarray(docs, dtype=np.int64))
            mat = self.counts_[field][docs]
            if cols is not None:
                mat = only_columns(mat, cols)
            d = docs[_row_ids(mat)]
            u = self._sublinear_idf(field, mat.data.astype(np.float32), mat.indices)
            vals = (u.astype(np.float64) / self.row_norm_[field][d]).astype(np.float32)
            return sp.csr_matrix((vals, mat.indices, mat.indptr), shape=mat.shape)
        src = self._derived().get(field)
        out = self.matrices_[field][docs] if src is None else self.derived_rows(src, docs)[field]
        return out if cols is None else only_columns(out, cols)

    def rows_and_derived(self, field: str, docs, cols: np.ndarray | None = None) -> dict[str, sp.csr_matrix]:
        """``{field: rows(field, docs, cols=cols), **derived_rows(field, docs, base=that)}``, the
        same matrices, from one read of the stored counts: the counts are taken as stored
        instead of recovered from the weights, and each entry's ``(1 + ln tf) * idf`` is
        computed once for the field and its derived fields."""
        docs = np.atleast_1d(np.asarray(docs, dtype=np.int64))
        if field not in self.counts_:
            base = self.rows(field, docs, cols=cols)
            return {field: base, **self.derived_rows(field, docs, base=base)}
        mat = self.counts_[field][docs]
        if cols is not None:
            mat = only_columns(mat, cols)
        r = _row_ids(mat)
        d = docs[r]
        idx = mat.indices
        tf = mat.data.astype(np.float32)
        u = self._sublinear_idf(field, tf, idx)  # (a new array: tf is kept)
        vals = (u.astype(np.float64) / self.row_norm_[field][d]).astype(np.float32)
        out = {field: sp.csr_matrix((vals, idx, mat.indptr), shape=mat.shape)}
        if field in self.bm25_fields:
            out["bm25"] = sp.csr_matrix((self._bm25_weights(field, tf, d, idx), idx, mat.indptr), shape=mat.shape)
        derived = [f for f, src in self._derived().items() if src == field]
        if derived:
            big = self.is_bigram_[field][idx]
            for name in derived:
                keep = big == self.SPLITS[name]
                v = (u[keep].astype(np.float64) / self.split_norm_[name][d[keep]]).astype(np.float32)
                indptr = np.concatenate([[0], np.cumsum(np.bincount(r[keep], minlength=len(docs)))])
                out[name] = sp.csr_matrix((v, idx[keep], indptr), shape=mat.shape)
        return out

    def row_entries(self, field: str, doc: int, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(columns, float32 weights) of one document's TF-IDF row, as :meth:`rows` gives
        them, without building a matrix (read for each firm whose reasons are shown).
        ``only``: sorted columns; the entries in them alone (their weights are computed
        entry by entry: the same numbers)."""
        if field not in self.counts_:
            mat = self.rows(field, [doc])
            cols, vals = mat.indices, mat.data
            if only is not None:
                keep = _in_sorted(cols, only)
                cols, vals = cols[keep], vals[keep]
            return cols, vals
        mat = self.counts_[field]
        lo, hi = mat.indptr[doc], mat.indptr[doc + 1]
        cols, tf = mat.indices[lo:hi], mat.data[lo:hi]
        if only is not None:
            keep = _in_sorted(cols, only)
            cols, tf = cols[keep], tf[keep]
        u = self._sublinear_idf(field, tf.astype(np.float32), cols)
        return cols, (u.astype(np.float64) / self.row_norm_[field][doc]).astype(np.float32)

    def bm25_rows(self, field: str, docs) -> sp.csr_matrix:
        """BM25 document weights of some documents (rows of the former doc x term matrix)."""
        return self.derived_rows(field, docs)["bm25"]

    def derived_rows(self, field: str, docs, base: sp.csr_matrix | None = None) -> dict[str, sp.csr_matrix]:
        """The rows computed from a stored field's rows (``base``: ``rows(field, docs)`` when
        the caller has them): its derived fields' and, for a BM25 field, "bm25". The term
        counts are recovered once for all of them."""
        docs = np.atleast_1d(np.asarray(docs, dtype=np.int64))
        if base is None and field in self.counts_:
            # the stored counts (in the rows' own column order) instead of recovered ones
            mat = self.counts_[field][docs]
            r = _row_ids(mat)
            d = docs[r]
            cols = mat.indices
            tf = mat.data.astype(np.float32)
        else:
            mat = self.matrices_[field][docs] if base is None else base
            r = _row_ids(mat)
            d = docs[r]
            cols = mat.indices
            tf = self._tf(field, mat.data, d, cols)
        out = {}
        if field in self.bm25_fields:
            out["bm25"] = sp.csr_matrix((self._bm25_weights(field, tf, d, cols), cols, mat.indptr), shape=mat.shape)
        derived = [f for f, src in self._derived().items() if src == field]
        if derived:
            u = self._sublinear_idf(field, tf, cols)
            big = self.is_bigram_[field][cols]
            for name in derived:
                keep = big == self.SPLITS[name]
                vals = (u[keep].astype(np.float64) / self.split_norm_[name][d[keep]]).astype(np.float32)
                indptr = np.concatenate([[0], np.cumsum(np.bincount(r[keep], minlength=len(docs)))])
                out[name] = sp.csr_matrix((vals, cols[keep], indptr), shape=mat.shape)
        return out

    def bm25_query(self, field: str, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        if len(token_lists) == 1:
            cols, _ = self._query_counts(field, token_lists[0])
            return _one_row(np.ones(len(cols), dtype=np.float32), cols, len(self.vectorizers_[field].vocabulary_))
        q = self._counts(field, token_lists)
        q.data[:] = 1.0
        return q

    def bm25_scores(self, field: str, queries: sp.csr_matrix) -> np.ndarray:
        """Dense (n_queries, n_docs) BM25 scores: the query terms' postings (counts) sliced
        out, weighted as the stored weights were (:meth:`_bm25_weights`) and summed in the
        same order as :func:`_postings_scores`."""
        post = self.bm25_postings_[field]
        queries = sp.csr_matrix(queries)
        out = np.zeros((queries.shape[0], post.shape[1]), dtype=np.float32)
        for r in range(queries.shape[0]):
            lo, hi = queries.indptr[r], queries.indptr[r + 1]
            if hi > lo:
                terms = queries.indices[lo:hi]
                sub = post[terms]
                cols = np.repeat(terms.astype(np.int64), np.diff(sub.indptr))
                w = self._bm25_weights(field, sub.data.astype(np.float32), sub.indices, cols)
                sub = sp.csr_matrix((w, sub.indices, sub.indptr), shape=sub.shape)
                out[r] = sub.T @ queries.data[lo:hi]
        return out

    @property
    def n_docs(self) -> int:
        field = self._stored()[0]
        return (self.counts_ if field in self.counts_ else self.matrices_)[field].shape[0]

    def _counts(self, field: str, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        """float32 term counts over a stored field's vocabulary (the vectorizer's own counting,
        without a second copy of its vocabulary)."""
        return sp.csr_matrix(CountVectorizer.transform(self.vectorizers_[field], token_lists), dtype=np.float32)

    def _query_counts(self, field: str, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """One document's (columns ascending, float32 counts) over a stored field's
        vocabulary: what CountVectorizer.transform gives for it, out-of-vocabulary tokens
        dropped."""
        vocab = self.vectorizers_[field].vocabulary_
        counts: dict[int, int] = {}
        for t in tokens:
            j = vocab.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts, dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        order = np.argsort(cols, kind="stable")
        return cols[order], tf[order]

    def query_row(self, field: str, tokens: Sequence[str]) -> sp.csr_matrix:
        """``transform(field, [tokens])`` equal to the bit, without scikit-learn: a demand's
        query rows were 8 ``transform`` calls of ~1.2 ms each at 200k firms, nearly all
        parameter validation and sparse-matrix construction for one short row. The steps are
        TfidfTransformer's on float32 (``log``, ``+ 1``, ``* idf``) and sklearn's l2
        normalisation (float32 squares added in double in column order, each weight divided
        in double by the root, then rounded to float32); tests/test_index.py compares them
        with TfidfVectorizer.transform."""
        src = self._derived().get(field)
        cols, tf = self._query_counts(src or field, tokens)
        if src is not None:
            keep = self.is_bigram_[src][cols] == self.SPLITS[field]
            cols, tf = cols[keep], tf[keep]
        if len(cols):
            self._sublinear_idf(src or field, tf, cols, out=tf)
            tf = _l2_row(tf)
        return _one_row(tf, cols, len(self.vectorizers_[src or field].vocabulary_))

    def query_family(self, field: str, tokens: Sequence[str]) -> dict[str, sp.csr_matrix]:
        """``transform(field, [tokens])``, ``transform(f, [its tokens])`` for each field ``f``
        derived from ``field`` (its words or its bigrams: ``split_words_bigrams(tokens)``) and
        ``bm25_query(field, [tokens])`` under the key "bm25": the same rows from one count
        of ``tokens`` (a derived field's tokens are counted in its own columns only)."""
        cols, tf = self._query_counts(field, tokens)
        width = len(self.vectorizers_[field].vocabulary_)
        out = {"bm25": _one_row(np.ones(len(cols), dtype=np.float32), cols, width)}
        for name, src in self._derived().items():
            if src == field:
                keep = self.is_bigram_[field][cols] == self.SPLITS[name]
                out[name] = self._tfidf_row(field, cols[keep], tf[keep], width)
        out[field] = self._tfidf_row(field, cols, tf, width)
        return out

    def _tfidf_row(self, field: str, cols: np.ndarray, tf: np.ndarray, width: int) -> sp.csr_matrix:
        """:meth:`query_row`'s steps from a query's counts (``tf``, float32, overwritten)."""
        if len(cols):
            self._sublinear_idf(field, tf, cols, out=tf)
            tf = _l2_row(tf)
        return _one_row(tf, cols, width)

    def transform(self, field: str, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        if len(token_lists) == 1:
            return self.query_row(field, token_lists[0])
        src = self._derived().get(field)
        if src is None:
            return sp.csr_matrix(self.vectorizers_[field].transform(token_lists), dtype=np.float32)
        # what a vectorizer fitted on the slice gives (same idf), in the source's columns
        counts = self._counts(src, token_lists)
        keep = np.where(self.is_bigram_[src] == self.SPLITS[field], np.arange(counts.shape[1]), -1)
        counts = keep_columns(counts, keep, counts.shape[1])
        self._sublinear_idf(src, counts.data, counts.indices, out=counts.data)
        return sp.csr_matrix(l2_normalize(counts, copy=False), dtype=np.float32)

    def transform_weighted(self, field: str, weighted: Sequence[dict[str, float]]) -> sp.csr_matrix:
        """Query vectors from {token: weight} maps (e.g. synonyms weighted below exact terms):
        idf-weighted, l2-normalised, unknown tokens dropped."""
        if len(weighted) == 1:
            return self._weighted_row(field, weighted[0])
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

    def _weighted_row(self, field: str, bag: dict[str, float]) -> sp.csr_matrix:
        """``transform_weighted(field, [bag])`` equal to the bit, without building a COO
        matrix and without scikit-learn's ``normalize`` (~0.7 ms for one row): the weights
        rounded to float32 as the float32 matrix takes them, in column order, normalised as
        :meth:`query_row` normalises (:func:`_l2_row`)."""
        vec = self.vectorizers_[field]
        vocab, idf = vec.vocabulary_, vec.idf_
        got: dict[int, float] = {}
        for tok, w in bag.items():
            j = vocab.get(tok)
            if j is not None and w > 0:
                got[j] = w * idf[j]
        cols = np.fromiter(got, dtype=np.int32, count=len(got))
        vals = np.array(list(got.values()), dtype=np.float64).astype(np.float32)
        order = np.argsort(cols, kind="stable")
        return _one_row(_l2_row(vals[order]), cols[order], len(vocab))

    def _add_stats(self, field: str, token_lists: Sequence[list[str]]) -> None:
        counts = self._counts(field, token_lists)
        self._doc_stats(field, counts)
        self._sublinear_idf(field, counts.data, counts.indices, out=counts.data)
        self._take_norms(field, counts)

    def append(self, docs: Sequence[dict[str, list[str]]]) -> None:
        for field in self._stored():
            if field in self.counts_:
                new = _small_counts(self._counts(field, [d.get(field, []) for d in docs]))
                self.counts_[field] = _small_counts(sp.vstack([self.counts_[field], new], format="csr"))
                continue
            new = self.transform(field, [d.get(field, []) for d in docs])
            self.matrices_[field] = sp.vstack([self.matrices_[field], new], format="csr")
        for field in self._with_stats():
            self._add_stats(field, [d.get(field, []) for d in docs])
        self._build_postings()

    def replace(self, row: int, doc: dict[str, list[str]]) -> None:
        for field in self._stored():
            if field in self.counts_:
                new = _small_counts(self._counts(field, [doc.get(field, [])]))
                self.counts_[field] = _small_counts(_replace_row(self.counts_[field], row, new))
                continue
            self.matrices_[field] = _replace_row(self.matrices_[field], row,
                                                 self.transform(field, [doc.get(field, [])]))
        for field in self._with_stats():
            # the new row's norms, appended, then moved into place
            self._add_stats(field, [doc.get(field, [])])
            for store in (self.row_norm_, self.split_norm_, self.bm25_norm_):
                for name in [n for n in store if n == field or self._derived().get(n) == field]:
                    store[name][row] = store[name][-1]
                    store[name] = store[name][:-1]
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
            # profiles): one pass over all postings with a dense query (each document's sum
            # taken in column order, as a doc x term product adds it) is cheaper than
            # copying those postings out (35 vs 90 ms at 200k).
            mat = post.T
            return np.vstack([mat @ queries[r].toarray().ravel() for r in range(queries.shape[0])]
                             ).astype(np.float32, copy=False)
        if field in self._derived() or field in self.counts_:
            return np.asarray((queries @ self.rows(field, np.arange(self.n_docs)).T).todense(), dtype=np.float32)
        return np.asarray((queries @ self.matrices_[field].T).todense(), dtype=np.float32)

    def feature_names(self, field: str) -> np.ndarray:
        # get_feature_names_out rebuilds the array on every call: keep it
        cache = self.__dict__.setdefault("_names", {})
        names = cache.get(field)
        if names is None or len(names) != len(self.vectorizers_[field].vocabulary_):
            names = cache[field] = self.vectorizers_[field].get_feature_names_out()
        return names
