"""Template pieces (matchmaker/web/views.py filters and web/templates/macros.html) rendered
with the app's own Jinja2 environment."""
from __future__ import annotations

from matchmaker.web.app import _templates
from matchmaker.web.views import highlight


def render_reasons(reasons: dict) -> str:
    env = _templates().env
    macro = env.get_template("macros.html").module.reasons_block
    return str(macro(reasons))


def test_highlight_marks_longest_terms_case_insensitively_and_escapes():
    out = str(highlight("小型plc（可编程）<b>与伺服电机", ["小型PLC", "电机", "伺服电机"]))
    assert '<mark class="term">小型plc</mark>' in out
    assert '<mark class="term">伺服电机</mark>' in out and "伺服<mark" not in out
    assert "&lt;b&gt;" in out and "<b>" not in out


def test_reasons_block_shows_terms_related_words_path_and_relations():
    html = render_reasons({
        "terms": ["反渗透膜", "净水机"],
        "related": ["水处理滤材与膜 → 纳滤膜"],
        "path": ["净水机出水衰减", "智能家电", "净水与空气处理电器", "青岛渗源膜科技有限公司"],
        "relations": ["供应：澜庭智能家电集团股份有限公司（2023年）"],
        "tier": "专精特新“小巨人”", "parts": {"text": 1.0, "graph": 0.2, "prior": 0.0}})
    assert '<mark class="term">反渗透膜</mark>' in html
    assert 'data-testid="related-terms"' in html and "水处理滤材与膜 → 纳滤膜" in html
    assert html.count('class="step"') == 4 and 'data-testid="chain-path"' in html
    assert "供应：澜庭智能家电集团股份有限公司（2023年）" in html


def test_reasons_block_escapes_and_omits_empty_parts():
    html = render_reasons({"terms": ["<script>x</script>"], "related": [], "path": [], "relations": []})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "相关表述" not in html and "产业链路径" not in html and "合作关系" not in html
