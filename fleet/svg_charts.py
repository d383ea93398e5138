"""Inline SVG charts for the offline HTML report: no JavaScript, no external file.

Every text put in an SVG goes through `esc` (names come from the inventory).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

READY_COLOR = "#2e7d32"
NOT_READY_COLOR = "#c62828"
LINE_COLOR = "#1565c0"
LOSS_COLOR = "#ef6c00"
AXIS_COLOR = "#9e9e9e"


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def stacked_bars(rows: Sequence[tuple[str, int, int]], labels: tuple[str, str], title: str,
                 width: int = 760) -> str:
    """Horizontal bars, one per row (name, ready, not ready): green then red, counts inside."""
    bar_h, gap, left, legend_h = 18, 6, 190, 26
    total_max = max((r + n for _, r, n in rows), default=0) or 1
    plot_w = width - left - 50
    height = legend_h + len(rows) * (bar_h + gap) + 8
    out = [f'<svg class="chart bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<rect x="{left}" y="4" width="12" height="12" fill="{READY_COLOR}"/>'
           f'<text x="{left + 16}" y="14" font-size="12">{esc(labels[0])}</text>',
           f'<rect x="{left + 140}" y="4" width="12" height="12" fill="{NOT_READY_COLOR}"/>'
           f'<text x="{left + 156}" y="14" font-size="12">{esc(labels[1])}</text>']
    for i, (name, ready, not_ready) in enumerate(rows):
        y = legend_h + i * (bar_h + gap)
        out.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{esc(name)}</text>')
        x = float(left)
        for value, color, cls in ((ready, READY_COLOR, "ready"), (not_ready, NOT_READY_COLOR, "not-ready")):
            if value <= 0:
                continue
            w = plot_w * value / total_max
            out.append(f'<rect class="{cls}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                       f'<title>{esc(name)}: {value}</title></rect>')
            if w >= 16:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + 13}" font-size="11" fill="#fff" '
                           f'text-anchor="middle">{value}</text>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="11" fill="#424242">{ready}/{ready + not_ready}'
                   f'</text>')
    out.append("</svg>")
    return "".join(out)


def sparkline(points: Sequence[tuple[float, float]], start: float, end: float, *, color: str = LINE_COLOR,
              width: int = 160, height: int = 34, y_max: float | None = None, title: str = "",
              gap: float | None = None) -> str:
    """A small line chart of (time, value) over [start, end]; breaks where samples are
    more than `gap` seconds apart; the y axis from 0 to the max (or y_max)."""
    pad = 2
    out = [f'<svg class="chart spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="{AXIS_COLOR}" '
           f'stroke-width="1"/>']
    pts = [(t, v) for t, v in points if math.isfinite(v)]
    if pts and end > start:
        top = y_max if y_max is not None else max(v for _, v in pts)
        top = top if top > 0 else 1.0
        span = end - start

        def xy(t: float, v: float) -> str:
            x = pad + (width - 2 * pad) * (t - start) / span
            y = height - pad - (height - 2 * pad) * min(v, top) / top
            return f"{x:.1f} {y:.1f}"

        gap = gap if gap is not None else span / 50
        d = []
        prev = None
        for t, v in pts:
            d.append(("L" if prev is not None and t - prev <= gap else "M") + xy(t, v))
            prev = t
        if len(pts) == 1:  # one sample: a dot
            t, v = pts[0]
            x, y = xy(t, v).split()
            out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{color}"/>')
        out.append(f'<path d="{"".join(d)}" fill="none" stroke="{color}" stroke-width="1.5" '
                   f'stroke-linejoin="round"/>')
    out.append("</svg>")
    return "".join(out)
