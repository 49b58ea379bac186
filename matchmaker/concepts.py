"""Latent concepts of the firms' profiles (LSA): a truncated SVD of the whole-profile TF-IDF.

A capability written in other words shares few tokens with the demand but many co-occurring
ones with the firms that use the demand's words: in the SVD's few dimensions the two land near
each other. The Matcher keeps one small int8 vector per firm (``dims`` bytes) and compares it
with the demand's feedback query (feature ``t_concept``); products of int8 vectors are exact
integers, so the per-pair and the per-firm paths (rank_smes / rank_demands) agree to the bit.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

# int8 scale of a unit vector's components (|x| <= 1): a cosine is then dot / SCALE**2
SCALE = 127


class ConceptSpace:
    """Truncated SVD of TF-IDF rows, scikit-learn style.

    n_components: dimensions kept. max_terms: the sample's most frequent terms kept (the
    components are dense over them: n_components x max_terms float32; on a large corpus this
    drops the rare terms first). min_df: a term must occur in this many sampled rows (on
    handwritten-dev, 1 measured better than 2: a firm's own rare terms still shape its vector).
    Learned: ``columns_`` (the term columns kept, ascending), ``components_`` (n_components x
    len(columns_), float32).
    """

    def __init__(self, n_components: int = 32, max_terms: int = 50000, min_df: int = 1):
        self.n_components = n_components
        self.max_terms = max_terms
        self.min_df = min_df

    def fit(self, X: sp.spmatrix) -> "ConceptSpace":
        """X: (documents, terms) TF-IDF rows (a sample of the corpus is enough)."""
        X = sp.csr_matrix(X)
        df = np.bincount(X.indices, minlength=X.shape[1])
        cols = np.flatnonzero(df >= self.min_df)
        if len(cols) > self.max_terms:
            # the most frequent terms (ties: lower column first), kept in column order
            cols = np.sort(cols[np.argsort(-df[cols], kind="stable")[:self.max_terms]])
        self.columns_ = cols.astype(np.int64)
        S = X[:, self.columns_].astype(np.float64)
        k = min(self.n_components, min(S.shape) - 1)
        if k < 1 or not S.nnz:
            self.components_ = np.zeros((0, len(self.columns_)), dtype=np.float32)
            return self
        # a fixed start vector: the same corpus gives the same space (ARPACK is otherwise seeded
        # at random); the subspace is exact, so cosines do not depend on the solver's rotation
        n0 = min(S.shape)
        _, s, vt = svds(S, k=k, v0=np.full(n0, 1.0 / math.sqrt(n0)))
        order = np.argsort(-s, kind="stable")
        self.components_ = np.asfortranarray(vt[order], dtype=np.float32)
        return self

    def transform(self, X: sp.spmatrix) -> np.ndarray:
        """(rows, n_components) int8: each row's unit concept vector times SCALE (0 for a row
        with none of the kept terms). Columns beyond the fitted vocabulary are ignored."""
        X = sp.csr_matrix(X)
        k = self.components_.shape[0]
        if not k:
            return np.zeros((X.shape[0], 0), dtype=np.int8)
        # the rows' entries in kept columns, renumbered as positions in columns_ (a lookup
        # among the sorted kept columns: no column slicing of a vocabulary-wide matrix, which
        # would cost more than the rest for a one-row query)
        cols = self.columns_
        pos = np.minimum(np.searchsorted(cols, X.indices), max(len(cols) - 1, 0))
        hit = cols[pos] == X.indices if len(cols) else np.zeros(len(X.indices), dtype=bool)
        if X.shape[0] == 1:  # a query (or one edited firm): a gather of its few columns
            Z = (self.components_[:, pos[hit]] @ X.data[hit].astype(np.float32))[None, :].astype(np.float64)
        else:
            rid = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            M = sp.csr_matrix((X.data[hit].astype(np.float32), (rid[hit], pos[hit])), shape=(X.shape[0], len(cols)))
            # (components_ is kept in Fortran order: its transpose is C-contiguous, which
            # the sparse product would otherwise copy, ~3 ms at 50k terms)
            Z = np.asarray(M @ self.components_.T, dtype=np.float64)
        norm = np.linalg.norm(Z, axis=1, keepdims=True)
        Z = np.divide(Z, norm, out=np.zeros_like(Z), where=norm > 0)
        return np.rint(Z * SCALE).astype(np.int8)


def cosines(firms: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosines of int8 concept vectors (rows of ``firms``) with one int8 ``query``: an exact
    integer product, so the result does not depend on the order it is computed in."""
    if not firms.shape[-1]:
        return np.zeros(firms.shape[0] if firms.ndim > 1 else 1)
    return (firms.astype(np.int32) @ query.astype(np.int32)) / float(SCALE * SCALE)
