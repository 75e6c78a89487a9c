"""Minimal SVG charts for bench/suite.py, written directly (no plotting
package needed): line charts with a linear or logarithmic x axis, and
horizontal bar charts of ratios with a reference line at 1."""
import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
W, H = 880, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 270, 40, 60


def _ticks(lo, hi, log):
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        return [10.0 ** e for e in range(a, b + 1)]
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / 5))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= 6:
            step *= m
            break
    start = math.floor(lo / step) * step
    out, v = [], start
    while v <= hi + step * 1e-9:
        out.append(v)
        v += step
    return out


def _fmt(v):
    if v >= 1e6 and v % 1e6 == 0:
        return f"{v / 1e6:g}M"
    if v >= 1e3 and v % 1e3 == 0:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _text(x, y, s, anchor="middle", size=12, extra=""):
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{escape(s)}</text>'


def line_chart(path, title, xlabel, ylabel, series, xlog=True, ylog=False, note=""):
    """series: [(label, [(x, y), ...]), ...]; points with y None are left out."""
    series = [(l, sorted((x, y) for x, y in pts if y is not None and x is not None)) for l, pts in series]
    series = [(l, p) for l, p in series if p]
    xs = [x for _, p in series for x, _ in p] or [1, 10]
    ys = [y for _, p in series for _, y in p] or [0, 1]
    xlo, xhi = min(xs), max(xs)
    if xlog and xlo == xhi:
        xlo, xhi = xlo / 10, xhi * 10
    ylo, yhi = (min(ys), max(ys)) if ylog else (0, max(ys) * 1.1 or 1)
    xt, yt = _ticks(xlo, xhi, xlog), _ticks(ylo, yhi, ylog)
    xlo, xhi = min(xt[0], xlo), max(xt[-1], xhi)
    ylo, yhi = min(yt[0], ylo), max(yt[-1], yhi)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x):
        if xlog:
            return LEFT + (math.log10(x) - math.log10(xlo)) / ((math.log10(xhi) - math.log10(xlo)) or 1) * pw
        return LEFT + (x - xlo) / ((xhi - xlo) or 1) * pw

    def sy(y):
        if ylog:
            return TOP + ph - (math.log10(y) - math.log10(ylo)) / ((math.log10(yhi) - math.log10(ylo)) or 1) * ph
        return TOP + ph - (y - ylo) / ((yhi - ylo) or 1) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif">', f'<rect width="{W}" height="{H}" fill="white"/>',
           _text(W / 2, 22, title, size=15, extra='font-weight="bold"')]
    for t in xt:
        out.append(f'<line x1="{sx(t):.1f}" y1="{TOP}" x2="{sx(t):.1f}" y2="{TOP + ph}" stroke="#ddd"/>')
        out.append(_text(sx(t), TOP + ph + 18, _fmt(t)))
    for t in yt:
        out.append(f'<line x1="{LEFT}" y1="{sy(t):.1f}" x2="{LEFT + pw}" y2="{sy(t):.1f}" stroke="#ddd"/>')
        out.append(_text(LEFT - 6, sy(t) + 4, _fmt(t), anchor="end"))
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(_text(LEFT + pw / 2, H - 18, xlabel))
    out.append(_text(18, TOP + ph / 2, ylabel, extra=f'transform="rotate(-90 18 {TOP + ph / 2})"'))
    for i, (label, pts) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{c}"/>')
        ly = TOP + 10 + i * 20
        out.append(f'<line x1="{LEFT + pw + 12}" y1="{ly}" x2="{LEFT + pw + 32}" y2="{ly}" stroke="{c}" '
                   'stroke-width="3"/>')
        out.append(_text(LEFT + pw + 38, ly + 4, label, anchor="start", size=11))
    if note:
        out.append(_text(LEFT, H - 4, note, anchor="start", size=10, extra='fill="#555"'))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def ratio_bars(path, title, bars, xlabel="ratio (1 = no overhead)", note="", cap=2.0):
    """bars: [(label, ratio, group), ...]; one colour per group. A ratio
    above cap is drawn to the edge, with its value written beside it."""
    bars = [b for b in bars if b[1] is not None]
    groups = list(dict.fromkeys(g for _, _, g in bars))
    left, right, row = 380, 70, 22
    h = TOP + BOTTOM + row * max(len(bars), 1)
    pw = W - left - right
    hi = min(max([r for _, r, _ in bars] + [1.0]), cap) * 1.08
    lo = min([r for _, r, _ in bars] + [1.0])
    lo = 0 if lo > 0.5 else lo * 0.9

    def sx(v):
        return left + (v - lo) / ((hi - lo) or 1) * pw

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" '
           'font-family="sans-serif">', f'<rect width="{W}" height="{h}" fill="white"/>',
           _text(W / 2, 22, title, size=15, extra='font-weight="bold"')]
    for t in _ticks(lo, hi, False):
        if lo <= t <= hi:
            out.append(f'<line x1="{sx(t):.1f}" y1="{TOP}" x2="{sx(t):.1f}" y2="{h - BOTTOM}" stroke="#ddd"/>')
            out.append(_text(sx(t), h - BOTTOM + 16, f"{t:g}"))
    for i, (label, r, g) in enumerate(bars):
        y = TOP + i * row
        c = COLOURS[groups.index(g) % len(COLOURS)]
        end = sx(min(r, hi))
        out.append(f'<rect x="{sx(lo):.1f}" y="{y + 3}" width="{end - sx(lo):.1f}" height="{row - 6}" fill="{c}"/>')
        out.append(_text(left - 6, y + row / 2 + 4, label, anchor="end", size=11))
        shown = f"{r:.3f}" if r <= hi else f"{r:.3f} (off the scale)"
        out.append(_text(min(end + 4, W - right - 100) if r > hi else end + 4, y + row / 2 + 4, shown,
                         anchor="start", size=10, extra='fill="white"' if r > hi else ""))
    out.append(f'<line x1="{sx(1):.1f}" y1="{TOP - 4}" x2="{sx(1):.1f}" y2="{h - BOTTOM}" stroke="#000" '
               'stroke-dasharray="4 3"/>')
    out.append(_text(left + pw / 2, h - BOTTOM + 36, xlabel))
    for i, g in enumerate(groups):
        out.append(f'<rect x="{10 + i * 180}" y="{h - 18}" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>')
        out.append(_text(26 + i * 180, h - 8, g, anchor="start", size=11))
    if note:
        out.append(_text(W - 6, h - 8, note, anchor="end", size=10, extra='fill="#555"'))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
