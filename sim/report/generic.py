"""The report of any other sweep: cell means of the headline outcomes over the factors."""

from __future__ import annotations

from pathlib import Path

from sim import stats
from sim.report.common import (
    MAIN_OUTCOMES,
    declared_bounds,
    means_table,
    provenance,
    varying_columns,
)
from sim.report.common import label as _label
from sim.report.document import Report, pyplot, save_figure
from sim.report.load import ReportError, Sweep


def report_generic(sweep: Sweep, out: Path) -> Report:
    plt = pyplot()
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
    tidy = (
        stats.cell_means(df, by, ["mean_performance"], bounds=declared_bounds(["mean_performance"]))
        if by
        else None
    )
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
