"""The dashboard's views, drawn as small inline SVG strings.

Why SVG by hand and not matplotlib or Vega: Play must keep at least ten steps a second with
every plot redrawn each step. A matplotlib figure costs tens of milliseconds to rasterise and a
Vega chart ships its whole spec; an SVG polyline of a few hundred points is built in well under
a millisecond, is a few kilobytes on the wire, scales with the browser window, and carries
stable class names (``shock-marker``, ``series-A``) that the browser tests can read.

Every function here is pure: data in, markup out; :mod:`sim.dashboard.app` puts the markup on
the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from sim.model import InnovationModel

COLOURS = {"A": "#1f77b4", "B": "#d62728"}
DASH = {"A": "", "B": "6 3"}
MAX_POINTS = 300  # longer histories are thinned so a long Play stays light
W, H = 420, 220  # chart coordinate system (the SVG scales to its box)
PAD_L, PAD_R, PAD_T, PAD_B = 44, 10, 30, 24


@dataclass
class Series:
    """One line of a chart: y values at x = steps."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    colour: str
    dash: str = ""
    width: float = 1.8
    css: str = ""


@dataclass
class Chart:
    """A line chart with shock markers: what every time plot of the dashboard is."""

    title: str
    series: list[Series]
    shocks: list[int] = field(default_factory=list)  # steps where the teacher pressed Shock
    turbulence: list[int] = field(default_factory=list)  # steps where requirements drifted
    ymin: float | None = None
    ymax: float | None = None
    css: str = ""


def _thin(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float]]:
    n = len(x)
    if n <= MAX_POINTS:
        return list(x), list(y)
    stride = math.ceil(n / MAX_POINTS)
    idx = list(range(0, n, stride))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return [x[i] for i in idx], [y[i] for i in idx]


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


def line_chart(chart: Chart) -> str:
    """Render a :class:`Chart` as an SVG string (responsive: width 100%)."""
    xs = [v for s in chart.series for v in s.x]
    ys = [v for s in chart.series for v in s.y if v == v]  # drop NaN
    x0, x1 = 1.0, max([*xs, *chart.shocks, 10.0])
    y0 = chart.ymin if chart.ymin is not None else min(ys, default=0.0)
    y1 = chart.ymax if chart.ymax is not None else max(ys, default=1.0)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.05 * (y1 - y0)
    if chart.ymin is None:
        y0 -= pad
    if chart.ymax is None:
        y1 += pad
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(v: float) -> float:
        return PAD_L + (v - x0) / max(x1 - x0, 1e-9) * pw

    def py(v: float) -> float:
        return PAD_T + (1.0 - (v - y0) / (y1 - y0)) * ph

    out = [
        f'<svg class="chart {chart.css}" viewBox="0 0 {W} {H}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" '
        f'style="font: 11px sans-serif">',
        f'<text x="{PAD_L}" y="12" font-weight="bold">{escape(chart.title)}</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for t in _ticks(y0, y1):
        y = py(t)
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1, 5):
        x = px(t)
        out.append(f'<text x="{x:.1f}" y="{H - 8}" text-anchor="middle">{_fmt(t)}</text>')
    for step in chart.turbulence:
        x = px(step)
        out.append(
            f'<line class="turbulence-marker" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" '
            f'y2="{PAD_T + ph}" stroke="#f0a030" stroke-dasharray="2 3"/>'
        )
    for step in chart.shocks:
        x = px(step)
        out.append(
            f'<g class="shock-marker"><line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" '
            f'y2="{PAD_T + ph}" stroke="#e00" stroke-width="2"/>'
            f'<text x="{x + 2:.1f}" y="{PAD_T + 10}" fill="#e00">shock</text></g>'
        )
    legend_x = PAD_L + 4
    for s in chart.series:
        x, y = _thin(s.x, s.y)
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y, strict=True) if b == b)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(
            f'<polyline class="series {s.css}" fill="none" stroke="{s.colour}" '
            f'stroke-width="{s.width}"{dash} points="{pts}"/>'
        )
        if s.name:  # unnamed series (B's copies of A's measures) share A's legend entry
            out.append(
                f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="22" y2="22" stroke="{s.colour}" '
                f'stroke-width="2"{dash}/><text x="{legend_x + 17}" y="25">{escape(s.name)}</text>'
            )
            legend_x += 30 + 6.2 * len(s.name)
    out.append("</svg>")
    return "".join(out)


# --- the organisation as a network -------------------------------------------------------------


def engagement_colour(value: float) -> str:
    """Low engagement red, middling yellow, high blue: readable on a projector."""
    v = min(1.0, max(0.0, value))
    stops = [(0.0, (215, 48, 39)), (0.5, (254, 224, 144)), (1.0, (49, 130, 189))]
    for (a, ca), (b, cb) in zip(stops, stops[1:], strict=False):
        if v <= b:
            t = (v - a) / (b - a)
            r, g, bl = (round(ca[i] + t * (cb[i] - ca[i])) for i in range(3))
            return f"#{r:02x}{g:02x}{bl:02x}"
    return "#3182bd"


def network_layout(model: InnovationModel) -> dict[object, tuple[float, float]]:
    """Teams on a circle, each team's members in a ring around its team lead, managers higher
    up nearer the centre; computed once per model (a student moved to another team keeps her
    place), so the eye can follow a team while colours change. A force layout squeezed the dense
    teams of an adhocracy into single dots; this one is readable at every form and size."""
    org = model.organisation
    teams = sorted({e.team for e in model.employees})
    centre: dict[int, tuple[float, float]] = {}
    pos: dict[object, tuple[float, float]] = {}
    for k, team in enumerate(teams):
        ang = 2 * math.pi * k / max(1, len(teams))
        centre[team] = (0.68 * math.cos(ang), 0.68 * math.sin(ang))
    spread = min(0.28, 2.6 / max(1, len(teams)))
    for team in teams:
        members = [e for e in model.employees if e.team == team]
        cx, cy = centre[team]
        for j, e in enumerate(members):
            a = 2 * math.pi * j / max(1, len(members))
            pos[e.node] = (cx + spread * 0.55 * math.cos(a), cy + spread * 0.55 * math.sin(a))
    for m in org.managers:
        own = [centre[t] for t in m.teams if t in centre]
        if not own:
            continue
        mx = sum(p[0] for p in own) / len(own)
        my = sum(p[1] for p in own) / len(own)
        shrink = 1.0 if m.level == 1 else 0.55 ** (m.level - 1)
        pos[f"m{m.unique_id}"] = (mx * shrink, my * shrink)
    return pos


def network_svg(
    model: InnovationModel, layout: dict[object, tuple[float, float]], title: str
) -> str:
    """Employees (circles, coloured by engagement), managers (dark squares), partners (orange
    diamonds on the rim); a green ring marks a team whose change was approved this week, a red
    ring one whose proposal was blocked."""
    size = 300
    margin = 34

    def place(p: tuple[float, float]) -> tuple[float, float]:
        return (
            margin + (p[0] + 1) / 2 * (size - 2 * margin),
            margin + 8 + (p[1] + 1) / 2 * (size - 2 * margin),
        )

    g = model.organisation.display_graph()
    org = model.organisation
    out = [
        f'<svg class="network" viewBox="0 0 {size} {size + 30}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" style="font: 10px sans-serif">',
        f'<text x="4" y="12" font-weight="bold">{escape(title)}</text>',
    ]
    for a, b in g.edges():
        if a in layout and b in layout:
            (x1, y1), (x2, y2) = place(layout[a]), place(layout[b])
            out.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                'stroke="#bbb" stroke-width="0.6"/>'
            )
    approved = blocked = 0
    for e in model.employees:
        if e.node not in layout:
            continue
        x, y = place(layout[e.node])
        signal = org.team_signal(e.team)
        ring = ""
        if signal > 0:
            ring, approved = ' stroke="#1a9850" stroke-width="2.2"', approved + 1
        elif signal < 0:
            ring, blocked = ' stroke="#d73027" stroke-width="2.2"', blocked + 1
        else:
            ring = ' stroke="#666" stroke-width="0.5"'
        out.append(
            f'<circle class="employee" cx="{x:.1f}" cy="{y:.1f}" r="5" '
            f'fill="{engagement_colour(e.engagement)}"{ring}/>'
        )
    for m in model.managers:
        key = f"m{m.unique_id}"
        if key not in layout:
            continue
        x, y = place(layout[key])
        s = 4 + 1.5 * m.level
        out.append(
            f'<rect class="manager" x="{x - s / 2:.1f}" y="{y - s / 2:.1f}" width="{s:.1f}" '
            f'height="{s:.1f}" fill="#333"/>'
        )
    n = max(1, len(model.partners))
    cx, cy, r = size / 2, size / 2 + 8, size / 2 - 10
    for i, p in enumerate(model.partners):
        ang = 2 * math.pi * i / n - math.pi / 2
        x, y = cx + r * math.cos(ang), cy + r * math.sin(ang)
        out.append(
            f'<polygon class="partner" points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} '
            f'{x:.1f},{y + 6:.1f} {x - 6:.1f},{y:.1f}" fill="#ff7f0e" stroke="#a04000">'
            f"<title>partner, stakeholder group {p.group + 1}</title></polygon>"
        )
    out.append(
        f'<text x="4" y="{size + 14}">● employee (colour: engagement) ■ manager ◆ partner</text>'
        f'<text x="4" y="{size + 27}">team ring: change approved ({approved}) / '
        f"blocked ({blocked}) this week</text>"
    )
    out.append("</svg>")
    return "".join(out)


# --- the way of working against the best one ---------------------------------------------------


def way_of_working_svg(rows: list[tuple[str, int, int | None]], n: int) -> str:
    """One row of ``n`` choices per way of working (a filled cell is choice = 1); a row given a
    reference code gets a red frame on each choice where it differs from the best."""
    cell, label_w = 22, 190
    h = 26 + 30 * len(rows)
    out = [
        f'<svg class="way-of-working" viewBox="0 0 {label_w + n * cell + 70} {h}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" style="font: 11px sans-serif">',
        '<text x="0" y="12" font-weight="bold">Way of working (choices 1..N) against the best</text>',
    ]
    for r, (name, code, best) in enumerate(rows):
        y = 22 + 30 * r
        out.append(f'<text x="0" y="{y + 15}">{escape(name)}</text>')
        differ = 0
        for i in range(n):
            bit = (code >> i) & 1
            wrong = best is not None and bit != ((best >> i) & 1)
            differ += wrong
            stroke = ' stroke="#e00" stroke-width="2.5"' if wrong else ' stroke="#888"'
            out.append(
                f'<rect x="{label_w + i * cell}" y="{y}" width="{cell - 3}" height="{cell - 3}" '
                f'fill="{"#2b5d8c" if bit else "#e8eef4"}"{stroke}/>'
            )
        if best is not None:
            out.append(
                f'<text class="differ" x="{label_w + n * cell + 4}" y="{y + 15}">'
                f"{differ} differ</text>"
            )
    out.append("</svg>")
    return "".join(out)
