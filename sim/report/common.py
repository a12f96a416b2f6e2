"""Pieces every report shares: which columns are settings and factors, the provenance section
(the config behind the numbers), and the table of cell means with their intervals and n."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim import outcomes, paired, stats, store
from sim.report.document import Report
from sim.report.load import Sweep

#: the outcomes a report shows by default: the headline ones declared in sim.metrics.OUTCOMES
MAIN_OUTCOMES = outcomes.headline()


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
    """Wide display table: one row per cell, one column per outcome, and n (runs per cell).

    Each outcome is summarised by its declared kind (:func:`sim.paired.summarise`): 'mean [lo,
    hi]' with an interval that stays within the outcome's bounds, or for a censored outcome
    (``time_to_90``) how many runs reached it, the Kaplan-Meier median and the restricted mean
    time, so the runs that never reached it are not silently dropped. An outcome defined in
    fewer runs than the cell has (e.g. ``recovery_time`` without a recovered shock) says its own
    n."""
    rows = []
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        for outcome in outcomes:
            summary = paired.summarise(sub, outcome)
            text = paired.describe(summary, digits)
            if "reached" not in summary and summary["n"] != len(sub):
                text += f" (n={summary['n']})"
            row[outcome] = text
        row["n"] = len(sub)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*by, *outcomes, "n"])


def label(v: Any) -> str:
    """A factor's value as a short label (floats without trailing zeros)."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def restricted_view(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with each censored outcome (``time_to_90``) replaced by its restricted
    time min(T, run length): a run that never reached it counts as taking the whole run. Means
    of this view are restricted mean times; plain means would keep only the runs that reached
    it (the fast ones)."""
    out = df.copy()
    for name in outcomes.in_table(df.columns):
        o = outcomes.lookup(name)
        if o is not None and o.censored and "steps" in df:
            out[name] = stats.restricted(df[name], df["steps"])
    return out


def declared_bounds(names: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """The declared bounds of the outcomes among ``names`` (for :func:`sim.stats.cell_means`),
    so that a figure's intervals stay within them too."""
    out = {}
    for name in names:
        o = outcomes.lookup(name)
        if o is not None and o.bounds != (None, None):
            out[name] = o.bounds
    return out
