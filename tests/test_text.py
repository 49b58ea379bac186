from matchmaker.text import BIGRAM_PREFIX, Tokenizer, normalize


def test_normalize_fullwidth_case_and_spaces():
    assert normalize("ＩＧＢＴ　模块（８Ｋ）") == "igbt 模块(8k)"
    assert normalize("  反渗透   膜  ") == "反渗透膜"  # a space between CJK characters is noise
    assert normalize("V-by-One  HS") == "v-by-one hs"
    assert normalize(None) == ""


def test_normalize_traditional_to_simplified_and_punctuation():
    assert normalize("電視語音識別") == "电视语音识别"
    assert normalize("“叫不醒”、断崖") == '"叫不醒",断崖'


def test_taxonomy_terms_kept_whole():
    plain = Tokenizer()
    taught = Tokenizer(["沸石转轮浓缩"])
    assert "沸石转轮浓缩" not in plain.words("沸石转轮浓缩+RTO焚烧")
    words = taught.words("沸石转轮浓缩+RTO焚烧")
    assert "沸石转轮浓缩" in words and "rto" in words


def test_bigrams_fused_with_words():
    toks = Tokenizer().tokenize("反渗透膜元件")
    assert BIGRAM_PREFIX + "渗透" in toks and BIGRAM_PREFIX + "膜元" in toks
    assert any(not t.startswith(BIGRAM_PREFIX) for t in toks)
    assert not any(t.startswith(BIGRAM_PREFIX) for t in Tokenizer(bigrams=False).tokenize("反渗透膜元件"))


def test_ascii_model_numbers_kept_stop_words_and_bare_numbers_dropped():
    toks = Tokenizer().words("支持8K、IGBT模块与V-by-One接口，公司成立于2015年")
    assert {"8k", "igbt", "v-by-one"} <= set(toks)
    assert "公司" not in toks and "2015" not in toks


def test_tokenizer_pickles_with_its_terms():
    import pickle
    tok = pickle.loads(pickle.dumps(Tokenizer(["沸石转轮浓缩"])))
    assert "沸石转轮浓缩" in tok.words("沸石转轮浓缩工艺")


def _whole_text_tokens(tok, text):
    # the definition: words of the normalised text, then its CJK bigrams
    norm = normalize(text)
    words = tok.words(norm, normalized=True)
    import re
    bigrams = [BIGRAM_PREFIX + run[i:i + 2] for run in re.findall(r"[\u4e00-\u9fff]+", norm)
               for i in range(len(run) - 1) if run[i:i + 2] not in tok.stop_words]
    return words + bigrams


def test_clause_memoised_tokens_equal_whole_text_tokens():
    tok = Tokenizer(["沸石转轮浓缩", "反渗透膜"])
    texts = ["沸石转轮浓缩，RTO焚烧；反渗透膜、纳滤膜：净水", "ＩＧＢＴ，８Ｋ；V-by-One:HS", "3，5；1.5mm、2。5",
             "中 ，国", "电视，語音識別", "a,b;c", "", "无分隔的一整句反渗透膜元件", "组件，\u0301国",
             "组件\ue000，国 ", "﹐小逗号，全角", " ， ，  "]
    for _ in range(2):  # the second pass reads the clause cache
        for text in texts:
            assert tok.tokenize(text) == _whole_text_tokens(tok, text), text
    assert tok.tokenize(None) == [] and tok.tokenize(12) == []
    parts = tok.clauses("主营：反渗透膜，纳滤膜")
    assert parts == ["主营", "反渗透膜", "纳滤膜"]
    tok.tokenize("主营：反渗透膜，纳滤膜")
    assert "主营" in tok._cache and len(tok.tokenize_clauses(["反渗透膜", "", "8K"])) == 3
