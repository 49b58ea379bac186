import numpy as np

from matchmaker.index import FieldIndex, split_words_bigrams
from matchmaker.text import Tokenizer

TOK = Tokenizer()
DOCS = [{"pt": TOK("家用反渗透膜元件；纳滤膜"), "desc": TOK("专注净水膜材料")},
        {"pt": TOK("远场语音交互SDK；麦克风阵列"), "desc": TOK("语音算法")},
        {"pt": TOK("碳化硅衬底、外延片"), "desc": TOK("")}]


def test_field_scores_rank_the_matching_document_first():
    idx = FieldIndex(["pt", "desc"]).fit(DOCS)
    q = idx.transform("pt", [TOK("净水机反渗透膜寿命")])
    s = idx.scores("pt", q).ravel()
    assert s.argmax() == 0 and s[0] > 0 and s[2] == 0
    # rows are l2-normalised cosine scores
    assert 0 < s[0] <= 1.0 + 1e-6


def test_append_and_replace_use_the_fitted_vocabulary():
    idx = FieldIndex(["pt", "desc"]).fit(DOCS)
    vocab = len(idx.vectorizers_["pt"].vocabulary_)
    idx.append([{"pt": TOK("反渗透膜片"), "desc": []}])
    assert idx.n_docs == 4 and len(idx.vectorizers_["pt"].vocabulary_) == vocab
    idx.replace(1, {"pt": TOK("碳化硅外延片"), "desc": []})
    s = idx.scores("pt", idx.transform("pt", [TOK("碳化硅外延")])).ravel()
    assert s[1] > 0 and s[3] == 0


def test_weighted_query_and_empty_field():
    idx = FieldIndex(["pt", "empty"]).fit([{**d, "empty": []} for d in DOCS])
    assert idx.scores("empty", idx.transform("empty", [["x"]])).sum() == 0
    q = idx.transform_weighted("pt", [{"语音": 1.0, "麦克风": 0.5, "unknown": 1.0}])
    assert np.isclose(np.sqrt(q.multiply(q).sum()), 1.0)
    assert idx.scores("pt", q).ravel().argmax() == 1


def test_split_words_bigrams():
    words, bigrams = split_words_bigrams(TOK("反渗透膜"))
    assert words and bigrams and all(b.startswith("#") for b in bigrams)


def test_fit_counts_equals_tfidf_vectorizer_with_max_df():
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from matchmaker.index import identity
    texts = ["反渗透膜元件", "纳滤膜；净水", "语音识别SDK", "麦克风阵列；语音", "碳化硅衬底"]
    docs = [{"pt": TOK(texts[i % 5] + "；" + texts[(i * 3) % 5]), "desc": TOK(texts[(i + 1) % 5]) if i % 4 else []}
            for i in range(60)]
    idx = FieldIndex(["pt", "desc"], max_df=0.5, bm25_fields=["pt"]).fit(docs)
    for field in ("pt", "desc"):
        ref = TfidfVectorizer(analyzer=identity, lowercase=False, sublinear_tf=True, max_df=0.5,
                              dtype=np.float32)
        try:
            mat = ref.fit_transform([d[field] for d in docs])
        except ValueError:  # every term in more than half of the documents
            ref = TfidfVectorizer(analyzer=identity, lowercase=False, sublinear_tf=True, dtype=np.float32)
            mat = ref.fit_transform([d[field] for d in docs])
        assert idx.vectorizers_[field].vocabulary_ == ref.vocabulary_
        assert abs(sp.csr_matrix(mat) - idx.matrices_[field]).max() == 0
        q = [TOK("反渗透膜语音")]
        assert abs(ref.transform(q) - idx.transform(field, q)).max() == 0


def test_scores_from_postings_equal_the_sparse_product():
    idx = FieldIndex(["pt", "desc", "all"]).fit([{**d, "all": d["pt"] + d["desc"]} for d in DOCS])
    q = idx.transform("all", [TOK("反渗透膜语音算法"), [], TOK("碳化硅")])
    ref = (q @ idx.matrices_["all"].T).toarray()
    assert np.array_equal(idx.scores("all", q), ref.astype(np.float32))


def test_scores_of_a_query_covering_the_corpus_take_the_dense_path_with_the_same_values():
    idx = FieldIndex(["pt", "desc", "all"]).fit([{**d, "all": d["pt"] + d["desc"]} for d in DOCS])
    mat = idx.matrices_["all"]
    cent = np.asarray(mat.sum(axis=0))  # every term: all postings touched
    import scipy.sparse as sp
    q = sp.csr_matrix(np.vstack([cent, cent * 0.5]), dtype=np.float32)
    ref = (q @ mat.T).toarray()
    assert np.allclose(idx.scores("all", q), ref, rtol=1e-6, atol=1e-7)
    assert idx.scores("all", q[:0]).shape == (0, idx.n_docs)
