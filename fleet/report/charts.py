"""Inline SVG charts of the weekly report (no JavaScript, no external file); texts through `esc`."""

from __future__ import annotations

from collections.abc import Sequence

from fleet.svg_charts import AXIS_COLOR, NOT_READY_COLOR, READY_COLOR, esc

NO_DATA_COLOR = "#bdbdbd"
REASON_COLOR = "#ef6c00"


def availability_bars(rows: Sequence[tuple[str, str, float | None]], title: str, width: int = 760) -> str:
    """One horizontal bar per row (key, name, availability 0..1): green for the available
    share, red for the rest, grey when there is no figure."""
    bar_h, gap, left, top = 18, 6, 190, 8
    plot_w = width - left - 60
    height = top + len(rows) * (bar_h + gap) + 20
    out = [f'<svg class="chart availability" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>']
    for i, (key, name, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{esc(name)}</text>')
        if value is None:
            out.append(f'<rect class="no-data" data-key="{esc(key)}" x="{left}" y="{y}" width="{plot_w}" '
                       f'height="{bar_h}" fill="{NO_DATA_COLOR}"/>')
            continue
        w = plot_w * max(0.0, min(1.0, value))
        out.append(f'<rect class="available" data-key="{esc(key)}" x="{left}" y="{y}" width="{w:.1f}" '
                   f'height="{bar_h}" fill="{READY_COLOR}"><title>{esc(name)}: {value * 100:.1f}%</title></rect>')
        if plot_w - w > 0.05:
            out.append(f'<rect class="unavailable" x="{left + w:.1f}" y="{y}" width="{plot_w - w:.1f}" '
                       f'height="{bar_h}" fill="{NOT_READY_COLOR}"/>')
        out.append(f'<text x="{left + plot_w + 4}" y="{y + 13}" font-size="11" fill="#424242">'
                   f'{value * 100:.1f}%</text>')
    y = top + len(rows) * (bar_h + gap)
    for frac in (0, 0.5, 1):
        x = left + plot_w * frac
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y}" stroke="{AXIS_COLOR}" stroke-width="0.5"/>'
                   f'<text x="{x:.1f}" y="{y + 12}" font-size="10" text-anchor="middle">{int(frac * 100)}%</text>')
    out.append("</svg>")
    return "".join(out)


def minute_bars(rows: Sequence[tuple[str, str, float]], title: str, width: int = 760) -> str:
    """One horizontal bar per row (key, label, minutes), scaled to the largest."""
    bar_h, gap, left, top = 18, 6, 260, 8
    plot_w = width - left - 80
    top_value = max((v for _, _, v in rows), default=0) or 1
    height = top + len(rows) * (bar_h + gap) + 4
    out = [f'<svg class="chart reasons" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>']
    for i, (key, label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = plot_w * value / top_value
        out.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{esc(label)}</text>'
                   f'<rect class="reason" data-key="{esc(key)}" x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                   f'fill="{REASON_COLOR}"/><text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">'
                   f'{value:g}</text>')
    out.append("</svg>")
    return "".join(out)


def day_strip(days: Sequence[tuple[str, float | None, bool]], width: int = 140, height: int = 16) -> str:
    """A cell per day (label, availability, office day): green to red by availability,
    grey without a figure, white outside office days."""
    n = max(1, len(days))
    w = width / n
    out = [f'<svg class="chart days" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">']
    for i, (label, value, office) in enumerate(days):
        if not office:
            color = "#ffffff"
        elif value is None:
            color = NO_DATA_COLOR
        else:
            color = READY_COLOR if value >= 0.999 else "#f9a825" if value >= 0.9 else NOT_READY_COLOR
        text = label if value is None or not office else f"{label}: {value * 100:.1f}%"
        out.append(f'<rect x="{i * w + 1:.1f}" y="1" width="{w - 2:.1f}" height="{height - 2}" fill="{color}" '
                   f'stroke="{AXIS_COLOR}" stroke-width="0.5"><title>{esc(text)}</title></rect>')
    out.append("</svg>")
    return "".join(out)
