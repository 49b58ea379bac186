import numpy as np

from matchmaker.index import FieldIndex, split_words_bigrams
from matchmaker.text import BIGRAM_PREFIX, Tokenizer

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
        # "pt" (BM25) is kept as counts: its rows and postings are sklearn's weights, to the bit
        got = idx.rows(field, np.arange(len(docs))) if field == "pt" else idx.matrices_[field]
        assert (field == "pt") == (field not in idx.matrices_)
        mat = sp.csr_matrix(mat)
        mat.sort_indices()
        assert np.array_equal(got.indptr, mat.indptr) and np.array_equal(got.indices, mat.indices)
        assert got.data.tobytes() == mat.data.tobytes()
        if field == "pt":
            post = sp.csr_matrix(mat.T)
            assert np.array_equal(idx.postings_["pt"].indices, post.indices)
            assert idx.postings_["pt"].data.tobytes() == post.data.tobytes()
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


def _corpus(n=80):
    import random
    phrases = ["反渗透膜元件", "纳滤膜", "净水设备", "远场语音交互", "麦克风阵列", "碳化硅衬底", "外延片",
               "变频压缩机", "活性炭滤芯", "电源管理芯片", "工业互联网平台", "激光焊接"]
    rng = random.Random(7)
    docs = []
    for _ in range(n):
        pt = TOK("；".join(rng.sample(phrases, 2)))
        desc = TOK("，".join(rng.sample(phrases, rng.randint(0, 3))))
        docs.append({"pt": pt, "all": pt + pt + desc})  # repeated tokens: counts above 1
    return docs


def _in_columns(mat, vocab_from, vocab_to):
    """``mat`` (columns of vocab_from) with its columns renamed into vocab_to's."""
    import scipy.sparse as sp
    inv = {j: t for t, j in vocab_from.items()}
    col = np.array([vocab_to[inv[j]] for j in range(len(inv))], dtype=np.int64)
    mat = sp.csr_matrix(mat)
    return sp.csr_matrix((mat.data, col[mat.indices], mat.indptr), shape=(mat.shape[0], len(vocab_to)))


def test_word_and_bigram_fields_derived_from_all_equal_fields_fitted_on_their_own_tokens():
    # Same documents, so a token's df, idf and max_df cut are the same in the slice as in
    # "all": the derived rows and queries must be what vectorizers fitted on the slices give.
    docs = _corpus()
    split = [{**d, "words": split_words_bigrams(d["all"])[0], "bigrams": split_words_bigrams(d["all"])[1]}
             for d in docs]
    fields = ["pt", "all", "words", "bigrams"]
    ref = FieldIndex(fields, max_df=0.5).fit(split)
    idx = FieldIndex(fields, max_df=0.5, split_from="all").fit(docs)
    assert "words" not in idx.matrices_ and "bigrams" not in idx.matrices_
    all_vocab = idx.vectorizers_["all"].vocabulary_
    assert all_vocab == ref.vectorizers_["all"].vocabulary_
    n = len(docs)
    q_tokens = TOK("反渗透膜元件与麦克风阵列；碳化硅外延片") * 2
    for field, tokens in zip(("words", "bigrams"), split_words_bigrams(q_tokens)):
        vocab = ref.vectorizers_[field].vocabulary_
        assert set(vocab) == {t for t in all_vocab if t.startswith(BIGRAM_PREFIX) == (field == "bigrams")}
        want = _in_columns(ref.matrices_[field], vocab, all_vocab)
        got = idx.rows(field, np.arange(n))
        assert np.array_equal(got.toarray(), want.toarray())
        assert np.array_equal(idx.rows(field, [5, 2]).toarray(), want[[5, 2]].toarray())
        q_want = _in_columns(ref.transform(field, [tokens]), vocab, all_vocab)
        q_got = idx.transform(field, [tokens])
        assert q_got.nnz and np.array_equal(q_got.toarray(), q_want.toarray())
        assert np.array_equal((got @ q_got.T).toarray(), (ref.matrices_[field] @ ref.transform(field, [tokens]).T).toarray())


def _bm25_reference(idx, field, token_lists, fit_docs):
    """BM25 document weights as the index once stored them (counts over the kept vocabulary)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from matchmaker.index import identity
    cv = CountVectorizer(analyzer=identity, lowercase=False, vocabulary=idx.vectorizers_[field].vocabulary_,
                         dtype=np.float32)
    fitted = cv.transform(fit_docs)
    n = fitted.shape[0]
    df = np.bincount(fitted.indices, minlength=fitted.shape[1])
    bidf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    avgdl = float(np.asarray(fitted.sum(axis=1)).ravel().mean())
    counts = cv.transform(token_lists)
    dl = np.asarray(counts.sum(axis=1)).ravel()
    norm = idx.k1 * (1 - idx.b + idx.b * dl / avgdl)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    tf = counts.data
    counts.data = (bidf[counts.indices] * tf * (idx.k1 + 1) / (tf + norm[rows])).astype(np.float32)
    return counts


def test_bm25_from_the_tfidf_matrix_equals_stored_bm25_weights():
    import scipy.sparse as sp

    from matchmaker.index import _postings_scores
    docs = _corpus()
    idx = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, bm25_fields=["all"], split_from="all").fit(docs)
    n = len(docs)
    want = _bm25_reference(idx, "all", [d["all"] for d in docs], [d["all"] for d in docs])
    assert want.data.max() > 0 and (want.data != want.data.astype(np.int32)).any()
    assert np.array_equal(idx.bm25_rows("all", np.arange(n)).toarray(), want.toarray())
    q = idx.bm25_query("all", [TOK("反渗透膜元件 麦克风阵列"), [], TOK("激光焊接设备")])
    assert np.array_equal(idx.bm25_scores("all", q), _postings_scores(q, sp.csr_matrix(want.T)))
    # the postings keep one-byte counts, weighted when read
    assert idx.bm25_postings_["all"].data.dtype == np.uint8
    # a new and an edited document: weights of their own counts, the fitted statistics kept
    new = {"pt": TOK("激光焊接"), "all": TOK("激光焊接") * 3 + TOK("碳化硅衬底")}
    idx.append([new])
    idx.replace(3, docs[0])
    got = idx.bm25_rows("all", [n, 3]).toarray()
    ref = _bm25_reference(idx, "all", [new["all"], docs[0]["all"]], [d["all"] for d in docs]).toarray()
    assert np.array_equal(got, ref)
    fresh = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, split_from="all").fit(docs)
    words = split_words_bigrams(new["all"])[0]
    q = idx.transform("words", [words])
    assert np.array_equal(idx.rows("words", [n, 3]).toarray(),
                          np.vstack([fresh.transform("words", [words]).toarray(),
                                     fresh.rows("words", [0]).toarray()]))
    assert (idx.rows("words", [n]) @ q.T).toarray()[0, 0] > 0.999


def test_keep_columns_by_blocks_equals_the_one_shot_renumbering(monkeypatch):
    import scipy.sparse as sp

    import matchmaker.index as index
    monkeypatch.setattr(index, "_BLOCK", 7)  # many blocks, some rows empty
    rng = np.random.default_rng(0)
    for trial in range(20):
        m = sp.random(50, 40, density=rng.uniform(0, 0.5), format="csr", dtype=np.float32, random_state=trial)
        m = sp.csr_matrix(m.multiply((np.arange(50) % 5 != 0)[:, None]))
        m.eliminate_zeros()
        new_col = np.where(rng.random(40) < 0.5, -1, rng.permutation(40))
        got = index.keep_columns(m, new_col, 40)
        dense = np.zeros((50, 40), dtype=np.float32)
        kept = np.flatnonzero(new_col >= 0)
        dense[:, new_col[kept]] = m.toarray()[:, kept]
        assert got.has_sorted_indices and np.array_equal(got.toarray(), dense)
        assert got.nnz == int((m.toarray()[:, kept] != 0).sum())
        mine = sp.csr_matrix(m, copy=True)
        over = index.keep_columns(mine, new_col, 40, inplace=True)  # written over mine's arrays
        assert np.shares_memory(over.data, mine.data) and np.array_equal(over.toarray(), dense)


def test_row_only_fields_keep_counts_and_give_the_stored_rows():
    docs = _corpus()
    ref = FieldIndex(["pt", "all"], max_df=0.5).fit(docs)
    idx = FieldIndex(["pt", "all"], max_df=0.5, row_only=["pt"]).fit(docs)
    assert "pt" not in idx.matrices_ and idx.counts_["pt"].dtype == np.uint8
    n = len(docs)
    assert idx.n_docs == n
    assert np.array_equal(idx.rows("pt", np.arange(n)).toarray(), ref.matrices_["pt"].toarray())
    assert np.array_equal(idx.rows("pt", 4).toarray(), ref.matrices_["pt"][4].toarray())
    q = idx.transform("pt", [TOK("反渗透膜元件")])
    assert np.array_equal(idx.scores("pt", q), ref.scores("pt", q))
    new = {"pt": TOK("激光焊接；激光焊接设备"), "all": TOK("激光焊接")}
    for index in (ref, idx):
        index.append([new])
        index.replace(2, docs[5])
    assert np.array_equal(idx.rows("pt", [n, 2, 5]).toarray(), ref.matrices_["pt"][[n, 2, 5]].toarray())


def test_stack_rows_equals_vstack_and_consumes_the_blocks():
    import scipy.sparse as sp

    from matchmaker.index import stack_rows
    blocks = [sp.random(r, 30, density=0.2, format="csr", dtype=np.float32, random_state=r) for r in (5, 0, 7, 3)]
    want = sp.vstack([sp.csr_matrix(b) for b in blocks], format="csr")
    got = stack_rows(blocks, 30)
    assert blocks == [] and got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)


def test_one_row_queries_equal_the_vectorizers_transform_to_the_bit():
    # A demand's query rows skip scikit-learn (query_row); they must be its rows exactly:
    # same columns, same float32 weights, for stored and derived fields and BM25 queries.
    import random

    import scipy.sparse as sp
    docs = _corpus(120)
    idx = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, split_from="all",
                     bm25_fields=["all"]).fit(docs)
    pool = sorted({t for d in docs for t in d["all"]}) + ["未登录词", BIGRAM_PREFIX + "未登"]
    rng = random.Random(11)
    lists = [[], ["未登录词"], pool[:1]] + [
        [rng.choice(pool) for _ in range(rng.randint(1, 400))] for _ in range(200)]
    for field in ("pt", "all", "words", "bigrams"):
        many = sp.csr_matrix(idx.transform(field, lists + [[]]))  # several rows: sklearn's path
        if field in ("pt", "all"):
            ref = sp.csr_matrix(idx.vectorizers_[field].transform(lists), dtype=np.float32)
            assert np.array_equal(ref.indptr, many.indptr[:-1]) and np.array_equal(ref.indices, many.indices)
            assert ref.data.tobytes() == many.data.tobytes()
        for i, toks in enumerate(lists):
            got = idx.transform(field, [toks])
            want = many[i]
            assert got.dtype == np.float32 and got.shape == want.shape
            assert np.array_equal(got.indices, want.indices)
            assert got.data.tobytes() == want.data.tobytes()
    assert any(idx.transform("all", [t]).nnz > 50 for t in lists)
    bm_many = idx.bm25_query("all", lists + [[]])
    for i, toks in enumerate(lists):
        got = idx.bm25_query("all", [toks])
        assert np.array_equal(got.indices, bm_many[i].indices)
        assert got.data.tobytes() == bm_many[i].data.tobytes()
        assert np.array_equal(idx.bm25_scores("all", got), idx.bm25_scores("all", bm_many[i]))


def test_counted_field_gives_the_plain_index_rows_postings_and_scores_to_the_bit():
    # "all" (BM25, split source) keeps counts, not weights, on its doc x term side: its rows,
    # its postings and every score must be those of an index that stores the weights.
    import scipy.sparse as sp
    docs = _corpus()
    plain = FieldIndex(["pt", "all"], max_df=0.5).fit(docs)
    idx = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, bm25_fields=["all"], split_from="all").fit(docs)
    assert "all" not in idx.matrices_ and idx.counts_["all"].dtype == np.uint8
    n = len(docs)

    def same(a, b):
        a, b = sp.csr_matrix(a), sp.csr_matrix(b)
        return (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
                and a.data.tobytes() == b.data.tobytes())
    want = plain.matrices_["all"]
    assert same(idx.rows("all", np.arange(n)), want) and same(idx.rows("all", [9, 2]), want[[9, 2]])
    cols, vals = idx.row_entries("all", 7)
    assert np.array_equal(cols, want[7].indices) and vals.tobytes() == want[7].data.tobytes()
    # some columns only (reasons read a firm's entries in the demand's query columns)
    only = np.array(sorted(set(cols[::2].tolist()) | {0, want.shape[1] - 1}), dtype=np.int32)
    for index in (idx, plain):
        c, v = index.row_entries("all", 7, only=only)
        keep = np.isin(want[7].indices, only)
        assert np.array_equal(c, want[7].indices[keep]) and v.tobytes() == want[7].data[keep].tobytes()
        assert len(index.row_entries("all", 7, only=only[:0])[0]) == 0
    assert same(idx.postings_["all"], plain.postings_["all"])
    q = idx.transform("all", [TOK("反渗透膜元件与麦克风阵列"), [], TOK("激光焊接")])
    assert idx.scores("all", q).tobytes() == plain.scores("all", q).tobytes()
    # a centroid touching every posting takes the dense path: each document's sum in column
    # order, as the doc x term product adds it
    cent = sp.csr_matrix(np.asarray(want.sum(axis=0)), dtype=np.float32)
    assert idx.scores("all", cent).ravel().tobytes() == (want @ cent.toarray().ravel()).tobytes()
    new = {"pt": TOK("激光焊接"), "all": TOK("激光焊接") * 3 + TOK("碳化硅衬底")}
    for index in (plain, idx):
        index.append([new])
        index.replace(2, docs[5])
    assert same(idx.rows("all", np.arange(n + 1)), plain.matrices_["all"])
    assert same(idx.postings_["all"], plain.postings_["all"])


def test_one_row_weighted_queries_and_rows_cut_to_columns_equal_the_general_path_to_the_bit():
    # transform_weighted of one bag skips the COO matrix and scikit-learn's normalize;
    # rows(..., cols=) computes only the entries in those columns. Both must give exactly
    # what the general path gives.
    import random

    import scipy.sparse as sp
    docs = _corpus(120)
    idx = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, split_from="all", bm25_fields=["all"],
                     row_only=["pt"]).fit(docs)
    vocab = sorted(idx.vectorizers_["all"].vocabulary_) + ["未登录词"]
    rng = random.Random(5)
    bags = [{}, {"未登录词": 1.0}] + [{rng.choice(vocab): rng.choice([0.5, 0.7, 1.0, 0.0])
                                       for _ in range(rng.randint(1, 60))} for _ in range(100)]
    many = sp.csr_matrix(idx.transform_weighted("all", bags + [{}]))
    for i, bag in enumerate(bags):
        got = idx.transform_weighted("all", [bag])
        assert got.dtype == np.float32 and got.shape == many[i].shape
        assert np.array_equal(got.indices, many[i].indices) and got.data.tobytes() == many[i].data.tobytes()
    docs_at = np.array([7, 3, 50, 3, 119])
    for field in ("pt", "all", "words", "bigrams"):
        full = idx.rows(field, docs_at)
        width = full.shape[1]
        cols = np.unique(np.array([rng.randrange(width) for _ in range(width // 3)], dtype=np.int32))
        got = idx.rows(field, docs_at, cols=cols)
        keep = np.isin(full.indices, cols)
        want = sp.csr_matrix((full.data[keep], full.indices[keep],
                              np.concatenate([[0], np.cumsum(keep)])[full.indptr]), shape=full.shape)
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert got.data.tobytes() == want.data.tobytes() and got.nnz > 0


def test_query_family_and_rows_and_derived_equal_the_separate_calls_to_the_bit():
    # A demand's whole-profile, words, bigrams and BM25 query rows come from one count of its
    # tokens (query_family), and a ranking's candidate rows with their derived rows from one
    # read of the stored counts (rows_and_derived): both must be what the separate calls give.
    import random
    docs = _corpus(120)
    idx = FieldIndex(["pt", "all", "words", "bigrams"], max_df=0.5, split_from="all",
                     bm25_fields=["all"]).fit(docs)
    pool = sorted({t for d in docs for t in d["all"]}) + ["未登录词", BIGRAM_PREFIX + "未登"]
    rng = random.Random(3)
    for toks in [[], ["未登录词"]] + [[rng.choice(pool) for _ in range(rng.randint(1, 300))] for _ in range(60)]:
        fam = idx.query_family("all", toks)
        words, bigrams = split_words_bigrams(toks)
        want = {"all": idx.transform("all", [toks]), "words": idx.transform("words", [words]),
                "bigrams": idx.transform("bigrams", [bigrams]), "bm25": idx.bm25_query("all", [toks])}
        assert set(fam) == set(want)
        for k, w in want.items():
            assert fam[k].shape == w.shape and fam[k].dtype == w.dtype
            assert np.array_equal(fam[k].indices, w.indices) and fam[k].data.tobytes() == w.data.tobytes(), k
    docs_at = np.array([7, 3, 50, 3, 119, 0])
    width = idx.rows("all", docs_at).shape[1]
    some = np.unique(np.array([rng.randrange(width) for _ in range(width // 3)], dtype=np.int32))
    for cols in (None, some):
        got = idx.rows_and_derived("all", docs_at, cols=cols)
        base = idx.rows("all", docs_at, cols=cols)
        want = {"all": base, **idx.derived_rows("all", docs_at, base=base)}
        assert set(got) == set(want) == {"all", "words", "bigrams", "bm25"}
        for k, w in want.items():
            assert np.array_equal(got[k].indptr, w.indptr) and np.array_equal(got[k].indices, w.indices), k
            assert got[k].data.tobytes() == w.data.tobytes() and got[k].nnz > 0, k
