"""``orgsim-report SWEEP_DIR``: figures and a Markdown + self-contained HTML report of a sweep.

Why it reads only the sweep folder: a report must be rebuildable by anyone from the data it
summarises, so everything it says (means, intervals, the number of runs behind each number, the
config that produced them, the wall time) comes from the sweep's table and its metadata. Each
research experiment has its own analysis (chosen by the experiment's name); any other sweep gets
a generic table of cell means.

A report is a list of blocks (headings, paragraphs, tables, figures) rendered twice: to Markdown
(figures linked as files) and to HTML (figures embedded as base64, so one file can be mailed).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import stats, store

MAIN_OUTCOMES = ["mean_performance", "final_performance", "mean_engagement"]


class ReportError(RuntimeError):
    """A sweep that cannot be reported on (missing folder, empty table): one clear line."""


# --- loading ----------------------------------------------------------------------------------
@dataclass
class Sweep:
    """A sweep's runs table, its timeseries (if stored) and what produced it."""

    path: Path
    runs: pd.DataFrame
    timeseries: pd.DataFrame | None
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.meta.get("experiment") or "sweep")

    @property
    def ok(self) -> pd.DataFrame:
        if "status" not in self.runs:
            return self.runs
        return self.runs[self.runs["status"] == "ok"]


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """Load a sweep folder written by the engine (``orgsim -m`` or ``sim.sweep``) through the
    store's table format (:mod:`sim.store`); this module imports nothing that runs a model.

    Raises :class:`ReportError` for a missing folder, a folder without a table, an unreadable
    table or an empty one, so the command line can print one line instead of a traceback.
    """
    path = Path(sweep_dir)
    if not path.is_dir():
        raise ReportError(f"no sweep folder at {path}")
    if not (path / store.SWEEP_FILE).is_file() and not (path / store.TABLE).is_file():
        raise ReportError(
            f"{path} is not a sweep folder (no {store.SWEEP_FILE} or {store.TABLE}): give the "
            "folder that `orgsim -m` printed, e.g. results/sweeps/NAME/TIME"
        )
    try:
        runs = store.read_table(path)
        meta = store.read_design(path) if (path / store.SWEEP_FILE).is_file() else {}
    except store.StoreError as exc:
        raise ReportError(str(exc)) from None
    try:
        timeseries = store.read_timeseries(path)
    except store.StoreError as exc:  # the report goes on without the time plots, and says so
        timeseries = None
        meta["timeseries_problem"] = str(exc)
    if runs.empty:
        raise ReportError(f"the results table in {path} has no runs")
    meta = {k: v for k, v in meta.items() if k not in ("runs", "base_settings")}
    if "status" not in runs:
        raise ReportError(
            f"the table in {path} has no status column: not a table written by orgsim "
            "(see the table format in sim/store.py)"
        )
    unnamed = not meta.get("name") or meta.get("name") == "none"
    if unnamed and "experiment" in runs and runs["experiment"].nunique() == 1:
        meta["name"] = str(runs["experiment"].iloc[0])
    if not meta.get("name") or meta.get("name") == "none":
        meta["name"] = "sweep"
    return Sweep(path, runs, timeseries, meta)


# --- report blocks and rendering ----------------------------------------------------------------
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
    import re

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


# --- shared pieces ------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def config_columns(runs: pd.DataFrame) -> list[str]:
    """Columns that are settings of the model (see :func:`sim.store.setting_columns`)."""
    return store.setting_columns(runs)


def varying_columns(runs: pd.DataFrame) -> list[str]:
    """Settings that differ between runs (seeds excluded): the sweep's factors. Never ``job``,
    ids, labels or ``meta.*`` (see :func:`sim.store.factor_columns`)."""
    return store.factor_columns(runs)


def provenance(report: Report, sweep: Sweep) -> None:
    """The config that produced the numbers: fixed settings, swept settings, runs and time."""
    runs = sweep.runs
    report.h("Provenance: the config behind these numbers")
    meta = sweep.meta
    n_ok = len(sweep.ok)
    failed = len(runs) - n_ok
    counts = runs["status"].value_counts()
    lines = [
        f"- sweep folder: `{sweep.path.name}`; runs in the design: {len(runs)} ({n_ok} ok, "
        f"{int(counts.get('failed', 0))} failed, {int(counts.get('missing', 0))} missing: "
        "never computed, e.g. an interrupted sweep; run the same command again to finish it)",
    ]
    if "wall_time_s" in meta:
        lines.append(
            f"- wall time: {meta['wall_time_s']} s with {meta.get('workers', '?')} worker(s) "
            f"of launcher `{meta.get('launcher', '?')}` ({meta.get('cpu_count', '?')} cores), "
            f"runner `{meta.get('runner', '?')}`"
        )
    if meta.get("command"):
        lines.append(f"- command: `{meta['command']}`")
    if meta.get("code_fingerprint"):
        commit = str(meta.get("git_commit") or "")[:12] or "not a git checkout"
        dirty = " (with uncommitted changes)" if meta.get("git_dirty") else ""
        lines.append(
            f"- model code fingerprint `{meta['code_fingerprint']}`, git commit `{commit}`{dirty}"
        )
    if meta.get("base"):
        lines.append(f"- fixed overrides: `{' '.join(meta['base'])}`")
    if meta.get("extra"):
        lines.append(f"- extra overrides: `{' '.join(meta['extra'])}`")
    if meta.get("params"):
        swept = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in meta["params"].items())
        lines.append(f"- swept: {swept}")
    if "replication" in runs:
        per = sweep.ok.groupby(varying_columns(runs) or ["replication"]).size()
        lines.append(
            f"- replications per cell: {int(per.min())}-{int(per.max())}; replication r of every "
            "cell has the same seed (common random numbers)"
        )
    report.p("\n".join(lines))
    fixed = {}
    for c in config_columns(runs):
        values = runs[c].dropna().astype(str).unique()
        if len(values) == 1 and c not in ("seed",):
            fixed[c] = values[0]
    if fixed:
        report.p("Settings common to every run:")
        report.code("\n".join(f"{k}: {v}" for k, v in sorted(fixed.items())))
    if failed:
        errs = runs.loc[runs["status"] != "ok", "error"].value_counts().head(5)
        report.p(
            "Runs without results (first errors): "
            + "; ".join(f"{e} (x{n})" for e, n in errs.items())
        )
    if meta.get("timeseries_problem"):
        report.p(
            f"The timeseries could not be read, so no plot over time: {meta['timeseries_problem']}"
        )


def means_table(
    df: pd.DataFrame, by: list[str], outcomes: list[str], digits: int = 3
) -> pd.DataFrame:
    """Wide display table: one row per cell, 'mean [lo, hi]' per outcome, and n."""
    tidy = stats.cell_means(df, by, outcomes)
    tidy["value"] = [
        stats.fmt_ci(m, lo, hi, digits)
        for m, lo, hi in zip(tidy["mean"], tidy["lo"], tidy["hi"], strict=True)
    ]
    wide = tidy.pivot_table(index=by, columns="outcome", values="value", aggfunc="first")[outcomes]
    n = tidy[tidy["outcome"] == outcomes[0]].set_index(by)["n"]
    wide["n"] = n
    return wide.reset_index()


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# --- experiment 1: strategy vs wickedness ---------------------------------------------------
def report_strategy(sweep: Sweep, out: Path) -> Report:
    plt = _plt()
    df = sweep.ok.copy()
    rep = Report("Strategy versus wickedness: incremental or planning?")
    rep.p(
        "Question: does an incremental (experiential, sprint-and-review) strategy innovate better "
        "than planning (analyse, long jump, execute) as the problem gets more complex (K) and more "
        "turbulent, and does the answer depend on the organisation form? Every number below is a "
        "mean over independent replications with its 95% t interval; strategies are compared on "
        "paired replications that met the same landscapes and shocks."
    )
    orgs = list(dict.fromkeys(df["org.name"]))
    ks = sorted(df["problem.k"].unique())
    taus = sorted(df["problem.turbulence"].unique())
    strategies = list(dict.fromkeys(df["strategy.name"]))
    by = ["org.name", "problem.k", "problem.turbulence"]

    tidy = stats.cell_means(df, [*by, "strategy.name"], ["mean_performance"])
    fig, axes = plt.subplots(
        len(taus), len(orgs), figsize=(3.6 * len(orgs), 2.8 * len(taus)), sharey=True, squeeze=False
    )
    colors = {"incremental": "tab:blue", "planning": "tab:orange", "hybrid": "tab:green"}
    for i, tau in enumerate(taus):
        for j, org in enumerate(orgs):
            ax = axes[i][j]
            for s_i, s in enumerate(strategies):
                sub = tidy[
                    (tidy["org.name"] == org)
                    & (tidy["problem.turbulence"] == tau)
                    & (tidy["strategy.name"] == s)
                ]
                x = (
                    sub["problem.k"].to_numpy(dtype=float)
                    + (s_i - (len(strategies) - 1) / 2) * 0.15
                )
                ax.errorbar(
                    x, sub["mean"], yerr=[sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]],
                    marker="o", ms=3, capsize=2, label=s, color=colors.get(s),
                )  # fmt: skip
            ax.set_title(f"{org}, turbulence {tau:g}", fontsize=9)
            ax.set_xticks(ks)
            if i == len(taus) - 1:
                ax.set_xlabel("complexity K")
            if j == 0:
                ax.set_ylabel("mean performance")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    n_per = int(df.groupby([*by, "strategy.name"]).size().min())
    save_figure(fig, rep, out, "performance_by_cell",
                f"Mean performance over the run, 95% CI, per cell (>= {n_per} runs per point)")  # fmt: skip

    findings: list[str] = []
    if {"incremental", "planning"} <= set(strategies):
        pt = stats.paired_table(
            df,
            "strategy.name",
            "planning",
            "incremental",
            by,
            ["mean_performance", "final_performance"],
        )
        perf = pt[pt["outcome"] == "mean_performance"]
        vmax = float(np.nanmax(np.abs(perf["diff_mean"]))) or 1.0
        fig, axes = plt.subplots(1, len(orgs), figsize=(4.4 * len(orgs), 3.6), squeeze=False)
        for j, org in enumerate(orgs):
            ax = axes[0][j]
            sub = perf[perf["org.name"] == org]
            grid = sub.pivot(
                index="problem.turbulence", columns="problem.k", values="diff_mean"
            ).loc[taus, ks]
            lo = sub.pivot(index="problem.turbulence", columns="problem.k", values="diff_lo").loc[
                taus, ks
            ]
            hi = sub.pivot(index="problem.turbulence", columns="problem.k", values="diff_hi").loc[
                taus, ks
            ]
            im = ax.imshow(
                grid.to_numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, origin="lower", aspect="auto"
            )
            for a in range(len(taus)):
                for b in range(len(ks)):
                    m, l_, h_ = grid.iat[a, b], lo.iat[a, b], hi.iat[a, b]
                    sig = not (l_ <= 0 <= h_)
                    label = f"{m:+.3f}\n±{(h_ - l_) / 2:.3f}" + ("" if sig else "\nn.s.")
                    dark = abs(m) > 0.6 * vmax
                    ax.text(b, a, label, ha="center", va="center", fontsize=7,
                            color="white" if dark else "black", alpha=1.0 if sig else 0.6)  # fmt: skip
            ax.set_xticks(range(len(ks)), [_label(k) for k in ks])
            ax.set_yticks(range(len(taus)), [_label(t) for t in taus])
            ax.set_xlabel("complexity K")
            if j == 0:
                ax.set_ylabel("turbulence")
            ax.set_title(org, fontsize=10)
        fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label="incremental - planning")
        save_figure(fig, rep, out, "paired_difference_heatmap",
                    "Paired difference in mean performance, incremental minus planning, mean and 95% CI "
                    "per cell (red: incremental better; n.s.: the interval contains 0)")  # fmt: skip

        inc = perf[(perf["diff_lo"] > 0)]
        pln = perf[(perf["diff_hi"] < 0)]
        noise = perf[(perf["diff_lo"] <= 0) & (perf["diff_hi"] >= 0)]
        findings.append(
            f"- Of {len(perf)} cells (org x K x turbulence), incremental did significantly better "
            f"in **{len(inc)}**, planning in **{len(pln)}**, and in **{len(noise)}** the paired "
            "difference is within noise (95% CI contains 0)."
        )
        for dim, name in (
            ("problem.k", "complexity K"),
            ("problem.turbulence", "turbulence"),
            ("org.name", "organisation form"),
        ):
            parts = []
            d = df.pivot_table(
                index=[*by, "replication"], columns="strategy.name", values="mean_performance"
            )
            d = (d["incremental"] - d["planning"]).rename("diff").reset_index()
            for v in perf[dim].drop_duplicates():
                # average over the other factors within each replication first: the cells of
                # one replication share seeds, so replications (not cells) are independent
                per_rep = d[d[dim] == v].groupby("replication")["diff"].mean()
                ci = stats.mean_ci(per_rep)
                parts.append(f"{_label(v)}: {stats.fmt_ci(ci.mean, ci.lo, ci.hi, 3, signed=True)}")
            findings.append(
                f"- Incremental minus planning by {name} (averaged over the other factors, 95% CI over replications): "
                + "; ".join(parts)
                + "."
            )
        for org in orgs:
            sub = perf[perf["org.name"] == org]
            best = sub.loc[sub["diff_mean"].idxmax()]
            worst = sub.loc[sub["diff_mean"].idxmin()]
            findings.append(
                f"- {org}: largest incremental advantage at K={_label(best['problem.k'])}, "
                f"turbulence {_label(best['problem.turbulence'])} "
                f"({stats.fmt_ci(best['diff_mean'], best['diff_lo'], best['diff_hi'], 3, True)}, "
                f"incremental better in {best['share_b_better']:.0%} of pairs); largest planning "
                f"advantage (or smallest incremental one) at K={_label(worst['problem.k'])}, "
                f"turbulence {_label(worst['problem.turbulence'])} "
                f"({stats.fmt_ci(worst['diff_mean'], worst['diff_lo'], worst['diff_hi'], 3, True)})."
            )
        table = perf[[*by, "diff_mean", "diff_lo", "diff_hi", "share_b_better", "diff_n", "p_value"]].rename(
            columns={"diff_mean": "incr-plan", "diff_lo": "lo", "diff_hi": "hi",
                     "share_b_better": "share incr better", "diff_n": "pairs"})  # fmt: skip
        pt.to_csv(out / "paired_differences.csv", index=False)
    rep.h("What the model found")
    rep.p(
        "\n".join(findings)
        if findings
        else "Only one strategy in this sweep: no paired comparison."
    )
    notes = out / "notes.md"
    if notes.is_file():
        rep.h("Interpretation")
        rep.p(notes.read_text().strip())

    if sweep.timeseries is not None and not sweep.timeseries.empty:
        corners = [(ks[0], taus[0]), (ks[-1], taus[0]), (ks[0], taus[-1]), (ks[-1], taus[-1])]
        corners = list(dict.fromkeys(corners))
        ts = sweep.timeseries.merge(df[["run_id", *by, "strategy.name"]], on="run_id")
        fig, axes = plt.subplots(
            len(orgs),
            len(corners),
            figsize=(3.4 * len(corners), 2.6 * len(orgs)),
            sharey=True,
            squeeze=False,
        )
        for i, org in enumerate(orgs):
            for j, (k, tau) in enumerate(corners):
                ax = axes[i][j]
                cell = ts[
                    (ts["org.name"] == org)
                    & (ts["problem.k"] == k)
                    & (ts["problem.turbulence"] == tau)
                ]
                for s in strategies:
                    g = cell[cell["strategy.name"] == s].groupby("step")["performance"]
                    m, sd, n = g.mean(), g.std(), g.count()
                    half = 1.96 * sd / np.sqrt(n.clip(lower=1))
                    ax.plot(m.index, m, label=s, color=colors.get(s), lw=1.2)
                    ax.fill_between(m.index, m - half, m + half, color=colors.get(s), alpha=0.2)
                ax.set_title(f"{org}: K={_label(k)}, turb. {_label(tau)}", fontsize=8.5)
                ax.grid(alpha=0.3)
                if i == len(orgs) - 1:
                    ax.set_xlabel("step (week)")
                if j == 0:
                    ax.set_ylabel("performance")
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        save_figure(fig, rep, out, "performance_over_time",
                    "Performance over time in the corner cells (lowest/highest K and turbulence): mean "
                    "over replications with a 95% band")  # fmt: skip

    rep.h("Tables")
    if findings:
        rep.table(table, "Paired difference in mean performance, incremental minus planning, per cell "
                  "(95% t interval over pairs; share of pairs in which incremental did better)")  # fmt: skip
    wide = means_table(
        df, [*by, "strategy.name"], ["mean_performance", "final_performance", "time_to_90"]
    )
    wide.to_csv(out / "cell_means.csv", index=False)
    rep.table(
        wide,
        "Means and 95% CIs per cell; n = runs behind each row (time_to_90 over runs that reached 90%)",
    )
    provenance(rep, sweep)
    return rep


# --- experiment 2: organisation forms vs turbulence -------------------------------------------
ORG_OUTCOMES = {
    "mean_performance": "mean performance",
    "time_to_90": "adaptation speed: steps to 90% of optimum",
    "recovery_time": "recovery after a shock (steps)",
    "mean_engagement": "engagement",
    "total_coordination_cost": "coordination cost",
}


def report_org_forms(sweep: Sweep, out: Path) -> Report:
    plt = _plt()
    df = sweep.ok.copy()
    rep = Report("Organisation forms versus turbulence")
    rep.p(
        "Question: how do bureaucracy, adhocracy and self-organisation compare as the problem "
        "gets more turbulent and more complex, on performance, adaptation speed (steps to 90% of "
        "the optimum), recovery after shocks, engagement and coordination cost? Means with 95% t "
        "intervals; forms are compared on paired replications (same landscapes and shocks)."
    )
    orgs = list(dict.fromkeys(df["org.name"]))
    ks = sorted(df["problem.k"].unique())
    taus = sorted(df["problem.turbulence"].unique())
    by = ["problem.k", "problem.turbulence"]
    outcomes = [o for o in ORG_OUTCOMES if o in df]
    tidy = stats.cell_means(df, [*by, "org.name"], outcomes)
    fig, axes = plt.subplots(
        len(outcomes),
        len(ks),
        figsize=(3.4 * len(ks), 2.5 * len(outcomes)),
        squeeze=False,
        sharex=True,
    )
    for i, outcome in enumerate(outcomes):
        for j, k in enumerate(ks):
            ax = axes[i][j]
            for o_i, org in enumerate(orgs):
                sub = tidy[
                    (tidy["outcome"] == outcome)
                    & (tidy["problem.k"] == k)
                    & (tidy["org.name"] == org)
                ]
                x = np.arange(len(sub)) + (o_i - 1) * 0.08
                ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]],
                            marker="o", ms=3, capsize=2, label=org)  # fmt: skip
            ax.set_xticks(range(len(taus)), [_label(t) for t in taus])
            if i == 0:
                ax.set_title(f"K = {_label(k)}", fontsize=9)
            if j == 0:
                ax.set_ylabel(ORG_OUTCOMES[outcome], fontsize=8)
            if i == len(outcomes) - 1:
                ax.set_xlabel("turbulence")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(
        fig,
        rep,
        out,
        "org_forms_outcomes",
        "Outcomes per organisation form over turbulence, one column per K (mean, 95% CI)",
    )

    findings = []
    ref = orgs[0]
    for other in orgs[1:]:
        pt = stats.paired_table(df, "org.name", ref, other, by, ["mean_performance"])
        better = (pt["diff_lo"] > 0).sum()
        worse = (pt["diff_hi"] < 0).sum()
        d = df.pivot_table(
            index=[*by, "replication"], columns="org.name", values="mean_performance"
        )
        pooled = stats.paired_difference(d[ref], d[other])
        # cells of one replication share seeds: average within a replication, then the interval
        per_rep = stats.mean_ci((d[other] - d[ref]).groupby(level="replication").mean())
        findings.append(
            f"- {other} minus {ref}, mean performance averaged over all cells (95% CI over "
            f"replications): {stats.fmt_ci(per_rep.mean, per_rep.lo, per_rep.hi, 3, True)} "
            f"({other} better in {pooled.share_b_better:.0%} of {pooled.n} pairs); significantly "
            f"better in {better} of {len(pt)} cells, worse in {worse}."
        )
    for outcome in outcomes[1:]:
        overall = stats.cell_means(df, ["org.name"], [outcome]).set_index("org.name")
        findings.append(
            f"- {ORG_OUTCOMES[outcome]}: "
            + "; ".join(
                f"{o} {stats.fmt_ci(r['mean'], r['lo'], r['hi'], 3)} (n={int(r['n'])})"
                for o, r in overall.iterrows()
            )
        )
    rep.h("What the model found")
    rep.p("\n".join(findings))
    rep.h("Tables")
    wide = means_table(df, [*by, "org.name"], outcomes)
    wide.to_csv(out / "cell_means.csv", index=False)
    rep.table(
        wide,
        "Means and 95% CIs per cell; n = runs per row (time and recovery over the runs where defined)",
    )
    provenance(rep, sweep)
    return rep


# --- experiment 3: levers sensitivity (SALib) -----------------------------------------------
SOCIAL_LEVERS = (
    "levers.flexible_organising",
    "levers.dynamic_managing",
    "levers.smarter_working",
    "levers.cocreation",
)


def _morris_levels(salib: dict[str, Any]) -> int:
    for spec in salib.get("methods", []):
        if spec.get("method") == "morris":
            return int(spec.get("levels", 4))
    return int(salib.get("morris_levels", 4))


def sensitivity_indices(sweep: Sweep, outcome: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Morris (mu*, sigma) and Sobol (S1, ST with CIs) of ``outcome``; replications of a
    sample point are averaged first, so the indices describe the expected outcome."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    problem = sweep.meta["salib"]["problem"]
    problem = {**problem, "bounds": [list(b) for b in problem["bounds"]]}
    names = problem["names"]
    df = sweep.runs
    xcols = [f"x.{n}" for n in names]
    out = []
    for method in ("morris", "sobol"):
        sub = df[df["design"] == method]
        pts = sub.groupby("sample")[[outcome, *xcols]].mean().sort_index()
        y = pts[outcome].to_numpy()
        if np.isnan(y).any():
            y = np.where(np.isnan(y), np.nanmean(y), y)
        if method == "morris":
            res = morris_analyze.analyze(
                problem,
                pts[xcols].to_numpy(),
                y,
                num_levels=_morris_levels(sweep.meta["salib"]),
                seed=0,
            )
            out.append(
                pd.DataFrame(
                    {
                        "factor": names,
                        "mu_star": res["mu_star"],
                        "mu_star_conf": res["mu_star_conf"],
                        "sigma": res["sigma"],
                    }
                )
            )
        else:
            res = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=0)
            out.append(
                pd.DataFrame(
                    {
                        "factor": names,
                        "S1": res["S1"],
                        "S1_conf": res["S1_conf"],
                        "ST": res["ST"],
                        "ST_conf": res["ST_conf"],
                    }
                )
            )
    return out[0], out[1]


def report_sensitivity(sweep: Sweep, out: Path) -> Report:
    plt = _plt()
    rep = Report("Levers sensitivity: what drives innovation in the model?")
    salib = sweep.meta["salib"]
    problem = salib["problem"]
    rep.p(
        "Question: how much of the variation in performance and engagement is due to the R&D "
        "budget, how much to the four social-innovation levers (flexible organising, dynamic "
        "managing, smarter working, co-creation), and how much to the wickedness of the problem? "
        "Design: Morris elementary-effects screening, then Sobol first-order (S1) and total (ST) "
        "indices from a Saltelli sample (SALib), every sample point run "
        f"{sweep.meta.get('replications', 1)} time(s) on common seeds and averaged. Factors: "
        + ", ".join(
            f"`{n}` in [{b[0]:g}, {b[1]:g}]"
            for n, b in (
                (n, salib.get("factors", {}).get(n, {}).get("bounds", b))
                for n, b in zip(problem["names"], problem["bounds"], strict=True)
            )
        )
        + " (integer factors are drawn on [low, high + 1) and floored, so every level is "
        "equally likely)."
    )
    findings = []
    for outcome in ("mean_performance", "mean_engagement"):
        mo, so = sensitivity_indices(sweep, outcome)
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        ax = axes[0]
        ax.barh(mo["factor"], mo["mu_star"], xerr=mo["mu_star_conf"], color="tab:gray")
        ax.set_xlabel("Morris mu* (mean |elementary effect|)")
        ax.invert_yaxis()
        ax = axes[1]
        y = np.arange(len(so))
        ax.barh(y - 0.2, so["S1"], 0.4, xerr=so["S1_conf"], label="S1 (first order)")
        ax.barh(y + 0.2, so["ST"], 0.4, xerr=so["ST_conf"], label="ST (total)")
        ax.set_yticks(y, so["factor"])
        ax.invert_yaxis()
        ax.set_xlabel("Sobol index (share of variance)")
        ax.legend(fontsize=8)
        fig.suptitle(outcome)
        fig.tight_layout()
        save_figure(
            fig,
            rep,
            out,
            f"sensitivity_{outcome}",
            f"Morris screening and Sobol indices for {outcome} (95% bootstrap CIs)",
        )
        table = mo.merge(so, on="factor")
        table.to_csv(out / f"sensitivity_{outcome}.csv", index=False)
        rep.table(table, f"Sensitivity indices for {outcome}")
        s = so.set_index("factor")
        rd = s.loc["levers.rd_budget"] if "levers.rd_budget" in s.index else None
        social = s.loc[[f for f in SOCIAL_LEVERS if f in s.index]]
        wicked = s.loc[[f for f in s.index if f.startswith("problem.")]]
        if rd is not None:
            m = mo.set_index("factor")
            levers_mu = m.loc[["levers.rd_budget", *social.index], "mu_star"]
            levers_st = s.loc[["levers.rd_budget", *social.index], "ST"].clip(lower=0)
            noisy = [f for f in s.index if abs(s.loc[f, "S1"]) <= s.loc[f, "S1_conf"]]
            findings.append(
                f"- **{outcome}**: `rd_budget` Sobol S1 = {rd['S1']:.3f} ± {rd['S1_conf']:.3f}, "
                f"ST = {rd['ST']:.3f} ± {rd['ST_conf']:.3f}; the four social levers together "
                f"S1 = {social['S1'].sum():.3f}, ST = {social['ST'].sum():.3f}; the problem's "
                f"knobs S1 = {wicked['S1'].sum():.3f}, ST = {wicked['ST'].sum():.3f}. All "
                f"first-order effects together: {s['S1'].sum():.0%} of the variance (the rest is "
                f"interactions and run-to-run noise). {len(noisy)} of {len(s)} S1 intervals "
                "contain zero"
                + (
                    ": the first-order split is not resolved by this sample."
                    if len(noisy) > len(s) / 2
                    else "."
                )
                + f" R&D's share among the five levers: {levers_mu['levers.rd_budget'] / levers_mu.sum():.0%} "
                f"by Morris mu*, {levers_st['levers.rd_budget'] / max(1e-12, levers_st.sum()):.0%} "
                "by Sobol ST."
            )
    rep.h("What the model found")
    rep.p("\n".join(findings))
    rep.p(
        "Volberda's survey attributes about 25% of innovation success to R&D and the rest to "
        "social innovation; the shares above are the model's own answer under these ranges, "
        "which depend on the ranges chosen (a factor's share grows with its range)."
    )
    provenance(rep, sweep)
    return rep


# --- any other sweep ----------------------------------------------------------------------------
def report_generic(sweep: Sweep, out: Path) -> Report:
    plt = _plt()
    df = sweep.ok
    rep = Report(f"Sweep report: {sweep.name}")
    by = varying_columns(df)
    outcomes = [o for o in MAIN_OUTCOMES if o in df]
    if not outcomes:
        raise ReportError(
            f"the table in {sweep.path} has none of the outcomes {', '.join(MAIN_OUTCOMES)}: "
            "not a table written by orgsim (see the table format in sim/store.py)"
        )
    wide = (
        means_table(df, by, outcomes)
        if by
        else means_table(df.assign(all="all"), ["all"], outcomes)
    )
    tidy = stats.cell_means(df, by, ["mean_performance"]) if by else None
    if tidy is not None and len(tidy) <= 60:
        labels = [", ".join(_label(v) for v in row) for row in tidy[by].itertuples(index=False)]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(tidy) + 1.2))
        ax.errorbar(
            tidy["mean"],
            range(len(tidy)),
            xerr=[tidy["mean"] - tidy["lo"], tidy["hi"] - tidy["mean"]],
            fmt="o",
            capsize=2,
        )
        ax.set_yticks(range(len(tidy)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("mean performance (95% CI)")
        ax.set_title(" x ".join(by), fontsize=9)
        fig.tight_layout()
        save_figure(fig, rep, out, "mean_performance", "Mean performance per cell with 95% CI")
    rep.table(wide, "Means and 95% CIs per cell; n = runs per row")
    wide.to_csv(out / "cell_means.csv", index=False)
    provenance(rep, sweep)
    return rep


def _report_where_planning_wins(sweep: Sweep, out: Path) -> Report:
    from sim.discovery import report_where_planning_wins

    return report_where_planning_wins(sweep, out)


BUILDERS = {
    "strategy_vs_wickedness": report_strategy,
    "org_forms_vs_turbulence": report_org_forms,
    "levers_sensitivity": report_sensitivity,
    "where_planning_wins": _report_where_planning_wins,
}


def build_report(
    sweep_dir: str | Path, out_dir: str | Path | None = None, notes: str | Path | None = None
) -> Path:
    """Build the report of a sweep folder; returns the Markdown file's path.

    The report goes to ``SWEEP_DIR/report/`` unless ``out_dir`` is given; ``notes`` (a Markdown
    file of a researcher's interpretation) is copied in and shown under "Interpretation".
    """
    sweep = load_sweep(sweep_dir)
    if sweep.ok.empty:
        raise ReportError(f"every run in {sweep.path} failed: nothing to report")
    out = Path(out_dir) if out_dir else sweep.path / "report"
    builder = BUILDERS.get(sweep.name.removesuffix("_quick"), report_generic)
    if builder is report_sensitivity and "salib" not in sweep.meta:
        builder = report_generic
    # everything is written into a temporary folder first: a report that fails half-way
    # leaves no half-written folder behind, and an older report stays as it was
    import shutil
    import tempfile

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-report-", dir=out.parent))
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    try:
        if notes:
            (tmp / "notes.md").write_text(Path(notes).read_text())
        report = builder(sweep, tmp)
        (tmp / "sweep.json").write_text(
            json.dumps({k: v for k, v in sweep.meta.items() if k != "salib"}, default=str, indent=1)
        )
        written = write_report(report, tmp)
        shutil.copytree(tmp, out, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / written.relative_to(tmp)


def main(argv: list[str] | None = None) -> int:
    """``orgsim-report SWEEP_DIR [--out DIR] [--notes FILE]``."""
    ap = argparse.ArgumentParser(
        prog="orgsim-report",
        description="Figures and a report (Markdown + HTML) of a sweep folder.",
    )
    ap.add_argument(
        "sweep_dir", help="a sweep folder (printed by `orgsim -m`, or sim.sweep(...).sweep_dir)"
    )
    ap.add_argument("--out", help="where to write the report (default SWEEP_DIR/report)")
    ap.add_argument(
        "--notes", help="a Markdown file with the researcher's interpretation to include"
    )
    args = ap.parse_args(argv)
    try:
        path = build_report(args.sweep_dir, args.out, args.notes)
    except (ReportError, FileNotFoundError) as exc:
        print(f"orgsim-report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
