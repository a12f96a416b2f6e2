"""``orgsim-report SWEEP --compare FACTOR``: the paired comparison of a factor's arms in any
sweep, as a document (the numbers come from :func:`sim.paired.analyse`, which ``orgsim-compare``
uses too).

Why its own document: an experiment's report answers that experiment's question; a researcher's
own sweep asks "does B beat A, where, and by how much?", which needs the same careful answer
whatever the sweep: pairs on the common random numbers, an effect size, the share of pairs won,
a correction for testing many cells and outcomes at once, bounded and censored outcomes treated
as what they are, and n next to every number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import outcomes as meta
from sim import stats
from sim.paired import PairedAnalysis, describe
from sim.report.common import label, provenance
from sim.report.document import Report, pyplot, save_figure
from sim.report.load import Sweep

#: how a correction is named in a sentence, and in a table's column
SHORT_NAMES = {"holm": "Holm", "fdr": "BH", "none": "unadjusted"}
CORRECTION_NAMES = {
    "holm": "Holm (family-wise error)",
    "fdr": "Benjamini-Hochberg (false discovery rate)",
    "none": "no correction",
}


def file_stem(factor: str) -> str:
    """The report's file names: ``comparison_<factor>``, so that it sits next to the sweep's
    own report in the same folder without replacing it."""
    return "comparison_" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in factor)


def _direction(outcome: str) -> str:
    o = meta.lookup(outcome)
    better = o.better if o else "higher"
    return {"higher": "higher is better", "lower": "lower is better"}.get(
        better or "", "no better direction"
    )


def _p(v: float) -> str:
    return "n/a" if pd.isna(v) else ("<0.001" if v < 0.001 else f"{v:.3f}")


def _wins(row: pd.Series, arm: str) -> str:
    if pd.isna(row.get("share_b_wins")):
        return f"{arm} higher in {row['share_b_better']:.0%}"
    return f"{arm} better in {row['share_b_wins']:.0%}"


def display(rows: pd.DataFrame, cells: list[str], correction: str) -> pd.DataFrame:
    """The differences as a table to read: one row per (cell,) arm and outcome."""
    out = []
    for _, r in rows.iterrows():
        arm = label(r["arm"])
        censored = "reached_a" in r and not pd.isna(r.get("reached_a"))
        item: dict[str, Any] = {c: label(r[c]) for c in cells}
        item.update(
            {
                "arm": arm,
                "outcome": meta.label(r["outcome"]) + (" (restricted)" if censored else ""),
                "pairs": int(r["pairs"]),
                "n": int(r.get("units", r["pairs"])),
                "A": r["mean_a"],
                "B": r["mean_b"],
                "B - A [95% CI]": stats.fmt_ci(r["diff_mean"], r["diff_lo"], r["diff_hi"], 3, True),
                "d_z": r["d_z"],
                "pairs won": _wins(r, arm),
                "reached A / B": (
                    f"{int(r['reached_a'])} / {int(r['reached_b'])} of {int(r['pairs'])}"
                    if censored
                    else "-"
                ),
                "p": _p(r["p_value"]),
                f"p ({SHORT_NAMES[correction]})": _p(r["p_adj"]),
                "significant": "yes" if r["significant"] else "no",
            }
        )
        out.append(item)
    return pd.DataFrame(out)


def _finding(an: PairedAnalysis, row: pd.Series) -> str:
    arm, ref = label(row["arm"]), label(an.reference)
    outcome = row["outcome"]
    censored = "reached_a" in row and not pd.isna(row.get("reached_a"))
    units = int(row.get("units", row["pairs"]))
    over = (
        f"{units} replications ({int(row['pairs'])} pairs)"
        if units != int(row["pairs"])
        else f"{int(row['pairs'])} pairs"
    )
    text = f"- **{arm} vs {ref}**, {meta.label(outcome)} ({_direction(outcome)}): "
    if censored:
        text += (
            f"reached in {int(row['reached_b'])} of {int(row['pairs'])} runs of {arm} and "
            f"{int(row['reached_a'])} of {ref}; restricted mean time (never reached = "
            f"{row['horizon']:g} steps) "
        )
    text += (
        f"difference {stats.fmt_ci(row['diff_mean'], row['diff_lo'], row['diff_hi'], 3, True)} "
        f"over {over}, d_z = {row['d_z']:.2f}, {_wins(row, arm)} of the pairs; "
        f"p = {_p(row['p_value'])}, {SHORT_NAMES[an.correction]}-adjusted {_p(row['p_adj'])}"
    )
    cell = an.per_cell
    if not cell.empty:
        sub = cell[(cell["arm"] == row["arm"]) & (cell["outcome"] == outcome)]
        sig = sub[sub["significant"]]
        o = meta.lookup(outcome)
        sign = -1 if o is not None and o.better == "lower" else 1
        better = int((sign * sig["diff_mean"] > 0).sum())
        worse = int((sign * sig["diff_mean"] < 0).sum())
        word = ("higher", "lower") if o is not None and o.better is None else ("better", "worse")
        text += (
            f". Per cell ({', '.join(an.cells)}): {arm} significantly {word[0]} in {better} "
            f"and {word[1]} in {worse} of {len(sub)} cells ({SHORT_NAMES[an.correction]} over all "
            f"{len(cell)} tests)"
        )
    return text + "."


def _forest(an: PairedAnalysis, rep: Report, out: Path, stem: str) -> None:
    """Per-cell paired differences with their intervals, one panel per outcome."""
    cell = an.per_cell
    if cell.empty or cell.groupby(["arm", "outcome"]).size().max() > 60:
        return
    plt = pyplot()
    n_cells = int(cell.groupby(["arm", "outcome"]).size().max())
    fig, axes = plt.subplots(
        1,
        len(an.outcomes),
        figsize=(3.8 * len(an.outcomes), 0.28 * n_cells * len(an.arms) + 1.6),
        squeeze=False,
    )
    for j, outcome in enumerate(an.outcomes):
        ax = axes[0][j]
        sub = cell[cell["outcome"] == outcome].reset_index(drop=True)
        y = np.arange(len(sub))
        colors = np.where(sub["significant"], "tab:red", "tab:gray")
        for yi, r, c in zip(y, sub.itertuples(index=False), colors, strict=True):
            ax.errorbar(
                r.diff_mean,
                yi,
                xerr=[[r.diff_mean - r.diff_lo], [r.diff_hi - r.diff_mean]],
                fmt="o",
                ms=3,
                capsize=2,
                color=c,
            )
        ax.axvline(0, color="k", lw=0.8)
        if j == 0:
            labels = [
                ", ".join(label(r[c]) for c in an.cells)
                + (f" [{label(r['arm'])}]" if len(an.arms) > 1 else "")
                for _, r in sub.iterrows()
            ]
            ax.set_yticks(y, labels, fontsize=7)
            ax.set_ylabel(", ".join(an.cells) + (" [arm]" if len(an.arms) > 1 else ""), fontsize=8)
        else:
            ax.set_yticks(y, [""] * len(y))
        ax.invert_yaxis()
        ax.set_title(meta.label(outcome), fontsize=9)
        ax.set_xlabel("B - A (paired, 95% CI)", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"{an.factor}: each arm minus {label(an.reference)}; red: significant after "
        f"{SHORT_NAMES[an.correction]}",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(
        fig,
        rep,
        out,
        stem,
        f"Paired difference per cell ({', '.join(an.cells)}), arm minus {label(an.reference)}, "
        f"95% t interval; red where significant after {CORRECTION_NAMES[an.correction]}",
    )


def report_comparison(sweep: Sweep, out: Path, an: PairedAnalysis) -> Report:
    """The comparison document of ``an`` on ``sweep``; tables also written as CSV."""
    stem = file_stem(an.factor)
    arms = ", ".join(label(a) for a in an.arms)
    rep = Report(f"Paired comparison of {an.factor}: {arms} vs {label(an.reference)}")
    group = an.factor.rsplit(".", 1)[0]
    preset = (
        f" (and the other `{group}.*` settings of its preset)"
        if an.factor.endswith(".name")
        else ""
    )
    rep.p(
        f"Sweep `{sweep.name}`. Every other value of `{an.factor}` ({arms}) is compared with "
        f"`{an.factor}={label(an.reference)}` (A) on pairs of runs with the same settings "
        f"except `{an.factor}`"
        + preset
        + " and the same seed and replication: common random numbers, so both arms met the "
        "same problems and people. B - A is the mean paired difference with its 95% t interval "
        "(t with n - 1 degrees of freedom; n is shown everywhere); d_z = mean difference / sd "
        "of the differences; 'pairs won' is the share of pairs in which B did better in the "
        "outcome's declared direction (ties count for neither). p is the paired t test's, "
        f"adjusted with {CORRECTION_NAMES[an.correction]} over every test of a table (the "
        "per-cell table's family is every cell x arm x outcome; the pooled table's every arm x "
        "outcome); 'significant' uses the adjusted p, the intervals are unadjusted. Pooled over "
        "cells, the differences of a replication are averaged first (cells of one replication "
        "share seeds), so n counts replications. Bounded outcomes keep their intervals within "
        "their bounds; a censored outcome (one a run may never reach, such as `time_to_90`) is "
        "compared on restricted times min(T, run length), with how many runs reached it."
    )
    findings_at = len(rep.blocks)
    rep.h("Pooled over all cells")
    pooled = an.pooled
    if pooled.empty:
        rep.p("No pairs: " + "; ".join(an.notes))
    else:
        rep.table(
            display(pooled, [], an.correction),
            "Pooled paired differences: A and B are the arms' means over the pairs (restricted "
            "means for a censored outcome); pairs = pairs of runs, n = independent units behind "
            "the interval",
        )
    if not an.per_cell.empty:
        rep.h(f"Per cell ({', '.join(an.cells)})")
        _forest(an, rep, out, stem)
        rep.table(
            display(an.per_cell, an.cells, an.correction),
            "Paired differences per cell: pairs = n behind each interval",
        )
    for note in an.notes:
        rep.p(f"Note: {note}.")
    rep.h("Each arm on its own")
    arm_table = an.arm_means.copy()
    shown = arm_table[[*an.cells, "arm", "outcome", "n"]].copy()
    shown["outcome"] = [meta.label(o) for o in arm_table["outcome"]]
    shown.insert(
        len(an.cells) + 2,
        "value",
        [describe(r) for _, r in arm_table.iterrows()],
    )
    for c in [*an.cells, "arm"]:
        shown[c] = [label(v) for v in shown[c]]
    rep.table(
        shown,
        "Per cell and arm: mean [95% CI] (within the outcome's bounds), or for a censored "
        "outcome the runs that reached it, the Kaplan-Meier median and the restricted mean; "
        "n = runs",
    )
    if not pooled.empty:
        findings = [_finding(an, r) for _, r in pooled.iterrows()]
        rep.blocks[findings_at:findings_at] = [
            ("h", 2, "What the comparison found"),
            ("p", "\n".join(findings)),
        ]
    frames = [df.assign(level="pooled") for df in (an.pooled,) if not df.empty]
    frames += [df.assign(level="cell") for df in (an.per_cell,) if not df.empty]
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(out / f"{stem}_pairs.csv", index=False)
    arm_table.to_csv(out / f"{stem}_arms.csv", index=False)
    provenance(rep, sweep)
    return rep
