"""The report document: a list of blocks (headings, paragraphs, tables, figures) rendered twice,
to Markdown (figures linked as files) and to self-contained HTML (figures embedded as base64,
so one file can be mailed). Why separate from the analyses: ``orgsim-report`` and
``orgsim-compare`` write the same kind of document, and neither should know how."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Report:
    """Blocks: ("h", level, text), ("p", text), ("table", DataFrame, caption),
    ("fig", stem, caption), ("code", text)."""

    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, df: pd.DataFrame, caption: str = "") -> None:
        self.blocks.append(("table", df, caption))

    def fig(self, stem: str, caption: str) -> None:
        self.blocks.append(("fig", stem, caption))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if np.isnan(v) else f"{v:.4g}"
    return str(v)


def to_markdown(report: Report) -> str:
    out = [f"# {report.title}", ""]
    for block in report.blocks:
        kind = block[0]
        if kind == "h":
            out += ["#" * block[1] + " " + block[2], ""]
        elif kind == "p":
            out += [block[1], ""]
        elif kind == "code":
            out += ["```", block[1].rstrip(), "```", ""]
        elif kind == "table":
            df, caption = block[1], block[2]
            if caption:
                out += [f"*{caption}*", ""]
            out.append("| " + " | ".join(map(str, df.columns)) + " |")
            out.append("| " + " | ".join("---" for _ in df.columns) + " |")
            for row in df.itertuples(index=False):
                out.append("| " + " | ".join(_cell(v) for v in row) + " |")
            out.append("")
        elif kind == "fig":
            stem, caption = block[1], block[2]
            out += [
                f"![{caption}](figures/{stem}.png)",
                "",
                f"*{caption}* ([SVG](figures/{stem}.svg))",
                "",
            ]
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then the little Markdown the report uses: **bold** and `code`."""
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    return t


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}
img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.85em}
figcaption{font-style:italic;font-size:.9em}"""


def to_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    for block in report.blocks:
        kind = block[0]
        if kind == "h":
            parts.append(f"<h{block[1]}>{_inline(block[2])}</h{block[1]}>")
        elif kind == "p":
            for para in block[1].split("\n\n"):
                lines = para.splitlines()
                if lines and all(line.startswith("- ") for line in lines):
                    items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
                    parts.append(f"<ul>{items}</ul>")
                else:
                    parts.append(f"<p>{_inline(para)}</p>")
        elif kind == "code":
            parts.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "table":
            df, caption = block[1], block[2]
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                for row in df.itertuples(index=False)
            )
            cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
            parts.append(f"<table>{cap}<tr>{head}</tr>{body}</table>")
        elif kind == "fig":
            png = report.figures[block[1]]
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(
                f"<figure><img alt='{html.escape(block[2])}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_inline(block[2])}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def save_figure(fig: Any, report: Report, out_dir: Path, stem: str, caption: str) -> None:
    """Save a matplotlib figure as PNG and SVG and add it to the report."""
    import matplotlib.pyplot as plt

    figdir = out_dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    fig.savefig(figdir / f"{stem}.png", dpi=110, bbox_inches="tight")
    fig.savefig(figdir / f"{stem}.svg", bbox_inches="tight")
    plt.close(fig)
    report.figures[stem] = figdir / f"{stem}.png"
    report.fig(stem, caption)


def write_report(report: Report, out_dir: Path, stem: str = "report") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(to_markdown(report))
    (out_dir / f"{stem}.html").write_text(to_html(report))
    return out_dir / f"{stem}.md"


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg back-end (reports are written without a screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
