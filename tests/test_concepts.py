import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matchmaker.concepts import SCALE, ConceptSpace, cosines

# Two topics whose documents share words in pairs: "冷链" and "液氮" never meet in one
# document, but both meet "运输" and "温控"; welding firms use another vocabulary.
DOCS = [
    "冷链 运输 温控", "液氮 运输 温控 追溯", "冷链 温控 追溯", "液氮 运输 追溯",
    "冷链 运输 仓储", "液氮 温控 仓储",
    "焊接 机器人 焊缝", "激光 焊接 焊缝 检测", "机器人 激光 焊接", "焊缝 检测 机器人",
]


def _tfidf():
    vec = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)
    return vec, vec.fit_transform(DOCS)


def test_words_that_never_meet_land_near_each_other_and_far_from_another_topic():
    vec, X = _tfidf()
    cs = ConceptSpace(n_components=2).fit(X)
    assert cs.components_.shape == (2, len(cs.columns_))
    Z = cs.transform(X)
    assert Z.dtype == np.int8 and Z.shape == (len(DOCS), 2)
    # a query naming 冷链 only is close to a profile naming 液氮 (no shared word) ...
    q = cs.transform(vec.transform(["冷链"]))[0]
    sims = cosines(Z, q)
    assert sims[3] > 0.8  # "液氮 运输 追溯": not one word in common with the query
    # ... and not to the welding firms, which share none of its co-occurring words either
    assert sims[3] > sims[6:].max() + 0.5
    # one row alone (a query, an edited firm) lands where it lands in a block, to the int8 step
    assert all(np.abs(cs.transform(X[i]).astype(int) - Z[i]).max() <= 1 for i in range(len(DOCS)))
    # unit vectors: a vector's cosine with itself is 1 up to the int8 rounding
    assert np.allclose(cosines(Z, Z[0])[0], 1.0, atol=2 * np.sqrt(2) / SCALE)


def test_fit_is_deterministic_and_rows_without_kept_terms_are_zero():
    vec, X = _tfidf()
    a = ConceptSpace(n_components=3).fit(X).transform(X)
    b = ConceptSpace(n_components=3).fit(X).transform(X)
    assert np.array_equal(a, b)
    cs = ConceptSpace(n_components=3, min_df=2).fit(X)
    empty = sp.csr_matrix((1, X.shape[1]))
    assert not cs.transform(empty).any()
    # a wider matrix (vocabulary grown since the fit): the new columns are ignored
    wide = sp.hstack([X[:2], sp.csr_matrix(np.ones((2, 5)))]).tocsr()
    assert np.array_equal(cs.transform(wide), cs.transform(X[:2]))


def test_max_terms_keeps_the_most_frequent_columns():
    vec, X = _tfidf()
    cs = ConceptSpace(n_components=2, max_terms=4).fit(X)
    df = np.bincount(X.indices, minlength=X.shape[1])
    assert len(cs.columns_) == 4 and list(cs.columns_) == sorted(cs.columns_)
    assert df[cs.columns_].min() >= np.sort(df)[-4]


def test_cosines_are_exact_integers_in_either_order():
    rng = np.random.default_rng(0)
    Z = rng.integers(-127, 128, size=(50, 32)).astype(np.int8)
    q = rng.integers(-127, 128, size=32).astype(np.int8)
    # firms x query and demands x firm give the same numbers (the firm direction's path)
    assert np.array_equal(cosines(Z, q), np.array([cosines(q[None, :], z)[0] for z in Z]))
    assert cosines(np.zeros((3, 0), dtype=np.int8), np.zeros(0, dtype=np.int8)).shape == (3,)
