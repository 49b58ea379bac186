"""Server-drawn SVG: horizontal bar charts for the dashboard and the chain map.

Drawn as strings with every text escaped, so pages need no charting script and print as
they look on screen.
"""

from __future__ import annotations

from markupsafe import Markup, escape

BLUE = "#1f4e8c"
RED = "#c0392b"
GREY = "#8a94a6"
LIGHT = "#eef3fa"
FONT = "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif"


def _t(text) -> str:
    return str(escape(str(text)))


def _text_width(text: str, size: int = 14) -> int:
    """Rough drawn width: CJK and full-width characters one em, others about half."""
    return sum(size if ord(ch) > 0x2E7F or ch in "“”‘’" else size * 0.55 for ch in text).__ceil__()


def bar_chart(items: list[tuple[str, float]], *, title: str, unit: str = "", color: str = BLUE,
              width: int = 380, testid: str = "chart") -> Markup:
    """Horizontal bars, label left, value right; an empty chart says so.

    Drawn narrow (380 units) with 14-unit text so that on a phone, where it is shrunk to the
    card's width, the text stays at about 12 px; the page caps it at 440 px on a wide screen."""
    bar_h, gap, top = 22, 8, 34
    names = [label if len(label) <= 9 else label[:8] + "…" for label, _ in items]
    # the label column as wide as the longest label needs (full-width characters are 14 units)
    label_w = min(150, max([60] + [_text_width(n) + 12 for n in names]))
    height = top + max(1, len(items)) * (bar_h + gap) + 6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_t(title)}" data-testid="{_t(testid)}" class="chart" '
           f'font-family="{FONT}" font-size="14">',
           f'<title>{_t(title)}</title>',
           f'<text x="0" y="18" font-size="15" font-weight="600" fill="#1d2b3a">{_t(title)}</text>']
    if not items:
        out.append(f'<text x="0" y="{top + 16}" fill="{GREY}">暂无数据</text>')
    peak = max((v for _, v in items), default=0) or 1
    span = width - label_w - 60
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(2, span * (value / peak)) if value else 0
        shown = f"{value:g}{unit}"
        name = names[i]
        out.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="#1d2b3a">'
                   f'<title>{_t(label)}</title>{_t(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{span}" height="{bar_h}" fill="{LIGHT}" rx="3"/>')
        if w:
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="3"/>')
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" fill="#1d2b3a">{_t(shown)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


STAGES = ("上游", "中游", "下游")


def chain_map(chain: str, columns: dict[str, list[dict]], edges: list[tuple[str, str]] = (),
              gap_rule: str = "有需求但本地企业不足") -> Markup:
    """The chain as three columns of segment boxes (上游 → 中游 → 下游).

    Each segment dict: name, demands (count of leaders' demands touching it), smes (local SMEs),
    leaders (names), gap (bool: the local supply does not cover the demand, a 补链/招商 target),
    drawn in red with a dashed border; `gap_rule` says in the legend what a gap is.
    """
    col_w, box_w, box_h, vgap, top, left = 320, 270, 74, 14, 70, 20
    stages = [s for s in STAGES if columns.get(s)] + [s for s in columns if s not in STAGES and columns[s]]
    if not stages:
        stages = list(STAGES)
    rows_n = max((len(columns.get(s, [])) for s in stages), default=1) or 1
    width = left * 2 + col_w * len(stages)
    height = top + rows_n * (box_h + vgap) + 60
    pos: dict[str, tuple[float, float]] = {}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_t(chain)}产业链图谱" data-testid="chain-map" class="chain-map" '
           f'font-family="{FONT}" font-size="14">',
           f'<title>{_t(chain)}产业链图谱</title>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{GREY}"/>'
           '</marker></defs>']
    for ci, stage in enumerate(stages):
        x = left + ci * col_w
        out.append(f'<rect x="{x}" y="10" width="{box_w}" height="36" rx="4" fill="{BLUE}"/>')
        out.append(f'<text x="{x + box_w / 2}" y="34" text-anchor="middle" fill="#fff" '
                   f'font-size="16" font-weight="600">{_t(stage)}</text>')
        if ci < len(stages) - 1:
            out.append(f'<line x1="{x + box_w + 4}" y1="28" x2="{x + col_w - 6}" y2="28" '
                       f'stroke="{GREY}" stroke-width="2" marker-end="url(#arrow)"/>')
        for ri, seg in enumerate(columns.get(stage, [])):
            y = top + ri * (box_h + vgap)
            pos[seg["name"]] = (x, y)
    # supply edges into and out of segments with demand, drawn under the boxes (all 400
    # edges of a chain would hide the picture)
    wanted = {seg["name"] for col in columns.values() for seg in col if seg["demands"] > 0}
    for a, b in edges or ():
        if a in pos and b in pos and pos[a][0] != pos[b][0] and (a in wanted or b in wanted):
            (xa, ya), (xb, yb) = pos[a], pos[b]
            x1, x2 = (xa + box_w, xb) if xa < xb else (xa, xb + box_w)
            out.append(f'<path d="M{x1},{ya + box_h / 2} C{(x1 + x2) / 2},{ya + box_h / 2} '
                       f'{(x1 + x2) / 2},{yb + box_h / 2} {x2},{yb + box_h / 2}" fill="none" '
                       f'stroke="#c5cfdd" stroke-width="1.5" marker-end="url(#arrow)"/>')
    for stage in stages:
        for seg in columns.get(stage, []):
            x, y = pos[seg["name"]]
            gap = bool(seg.get("gap"))
            stroke = RED if gap else "#b8c4d6"
            fill = "#fdf0ef" if gap else "#fff"
            dash = ' stroke-dasharray="6 4"' if gap else ""
            label = seg["name"] if len(seg["name"]) <= 14 else seg["name"][:13] + "…"
            tip = (f'{seg["name"]}：链主需求 {seg["demands"]} 项，本地中小企业 {seg["smes"]} 家'
                   + ("（缺链环节，建议补链招商）" if gap else ""))
            out.append(f'<g class="segment{" gap" if gap else ""}" data-testid="segment" '
                       f'data-segment="{_t(seg["name"])}" data-gap="{1 if gap else 0}">')
            out.append(f'<title>{_t(tip)}</title>')
            out.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="{2 if gap else 1}"{dash}/>')
            out.append(f'<text x="{x + 12}" y="{y + 22}" font-size="14" font-weight="600" '
                       f'fill="#1d2b3a">{_t(label)}</text>')
            # demand (red) and local supply (blue) as two short bars
            dmax, smax = 10, 30
            dw = min(1.0, seg["demands"] / dmax) * 150
            sw = min(1.0, seg["smes"] / smax) * 150
            out.append(f'<text x="{x + 12}" y="{y + 44}" fill="{GREY}" font-size="12">需求</text>')
            out.append(f'<rect x="{x + 48}" y="{y + 34}" width="150" height="10" fill="{LIGHT}" rx="2"/>')
            if dw:
                out.append(f'<rect x="{x + 48}" y="{y + 34}" width="{dw:.1f}" height="10" fill="{RED}" rx="2"/>')
            out.append(f'<text x="{x + 206}" y="{y + 44}" font-size="12" fill="#1d2b3a">{seg["demands"]} 项</text>')
            out.append(f'<text x="{x + 12}" y="{y + 62}" fill="{GREY}" font-size="12">企业</text>')
            out.append(f'<rect x="{x + 48}" y="{y + 52}" width="150" height="10" fill="{LIGHT}" rx="2"/>')
            if sw:
                out.append(f'<rect x="{x + 48}" y="{y + 52}" width="{sw:.1f}" height="10" fill="{BLUE}" rx="2"/>')
            out.append(f'<text x="{x + 206}" y="{y + 62}" font-size="12" fill="#1d2b3a">{seg["smes"]} 家</text>')
            if gap:
                out.append(f'<text x="{x + box_w - 10}" y="{y + 22}" text-anchor="end" font-size="12" '
                           f'fill="{RED}" font-weight="600">缺链</text>')
            out.append("</g>")
    ly = height - 26
    out.append(f'<rect x="{left}" y="{ly - 10}" width="14" height="10" fill="{RED}"/>'
               f'<text x="{left + 20}" y="{ly}" font-size="12" fill="#1d2b3a">链主需求数</text>'
               f'<rect x="{left + 110}" y="{ly - 10}" width="14" height="10" fill="{BLUE}"/>'
               f'<text x="{left + 130}" y="{ly}" font-size="12" fill="#1d2b3a">本地中小企业数</text>'
               f'<rect x="{left + 250}" y="{ly - 11}" width="22" height="12" fill="#fdf0ef" stroke="{RED}" '
               f'stroke-dasharray="4 3"/><text x="{left + 280}" y="{ly}" font-size="12" fill="#1d2b3a">'
               f'缺链环节：{_t(gap_rule)}（补链、招商方向）</text>')
    out.append("</svg>")
    return Markup("".join(out))
