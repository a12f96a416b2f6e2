"""Experiment 2's report: organisation forms versus turbulence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim import paired, stats
from sim.outcomes import label as outcome_label
from sim.report.common import declared_bounds, means_table, provenance, restricted_view
from sim.report.common import label as _label
from sim.report.document import Report, pyplot, save_figure
from sim.report.load import Sweep

ORG_OUTCOMES = [
    "mean_performance",
    "time_to_90",
    "recovery_time",
    "mean_engagement",
    "total_coordination_cost",
]


def report_org_forms(sweep: Sweep, out: Path) -> Report:
    plt = pyplot()
    df = sweep.ok.copy()
    rep = Report("Organisation forms versus turbulence")
    rep.p(
        "Question: how do bureaucracy, adhocracy and self-organisation compare as the problem "
        "gets more turbulent and more complex, on performance, adaptation speed (steps to 90% of "
        "the optimum), recovery after shocks, engagement and coordination cost? Means with 95% t "
        "intervals; forms are compared on paired replications (same landscapes and shocks). Steps "
        "to 90% is censored (a run may never get there): shown as restricted mean times, a run "
        "that never reached 90% counting as the whole run."
    )
    orgs = list(dict.fromkeys(df["org.name"]))
    ks = sorted(df["problem.k"].unique())
    taus = sorted(df["problem.turbulence"].unique())
    by = ["problem.k", "problem.turbulence"]
    outcomes = [o for o in ORG_OUTCOMES if o in df]
    # censored outcomes (time_to_90) as restricted times: a run that never got there counts
    # as taking the whole run, instead of being dropped
    restricted = restricted_view(df)
    tidy = stats.cell_means(
        restricted, [*by, "org.name"], outcomes, bounds=declared_bounds(outcomes)
    )
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
                ax.set_ylabel(outcome_label(outcome), fontsize=8)
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
        holm = stats.adjust(pt["p_value"], "holm") < 0.05
        holm_better = int((holm & (pt["diff_mean"] > 0)).sum())
        holm_worse = int((holm & (pt["diff_mean"] < 0)).sum())
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
            f"better in {better} of {len(pt)} cells, worse in {worse} (with Holm's correction "
            f"over the cells: better in {holm_better}, worse in {holm_worse})."
        )
    for outcome in outcomes[1:]:
        per_form = []
        for o, sub in df.groupby("org.name", sort=False):
            summary = paired.summarise(sub, outcome)  # bounded, or censored: runs that reached it
            n = "" if "reached" in summary else f" (n={summary['n']})"
            per_form.append(f"{o} {paired.describe(summary)}{n}")
        findings.append(f"- {outcome_label(outcome)}: " + "; ".join(per_form))
    rep.h("What the model found")
    rep.p("\n".join(findings))
    rep.h("Tables")
    wide = means_table(df, [*by, "org.name"], outcomes)
    wide.to_csv(out / "cell_means.csv", index=False)
    rep.table(
        wide,
        "Means and 95% CIs per cell (within the outcome's bounds); n = runs per row; steps to 90%: "
        "runs that reached it, Kaplan-Meier median and restricted mean (never = the run length); "
        "recovery over the runs with a recovered shock (its own n)",
    )
    provenance(rep, sweep)
    return rep
