"""Experiment 1's report: strategy versus wickedness (incremental or planning?)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats as sps

from sim import stats
from sim.report.common import declared_bounds, means_table, provenance
from sim.report.common import label as _label
from sim.report.document import Report, pyplot, save_figure
from sim.report.load import Sweep


def report_strategy(sweep: Sweep, out: Path) -> Report:
    plt = pyplot()
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

    tidy = stats.cell_means(
        df,
        [*by, "strategy.name"],
        ["mean_performance"],
        bounds=declared_bounds(["mean_performance"]),
    )
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
        # the same count with the family of cells controlled: Holm over every cell's paired t test
        holm = stats.adjust(perf["p_value"], "holm") < 0.05
        findings.append(
            f"- With Holm's correction over the {int(perf['p_value'].notna().sum())} cells' "
            f"paired t tests: incremental significantly better in "
            f"**{int((holm & (perf['diff_mean'] > 0)).sum())}**, planning in "
            f"**{int((holm & (perf['diff_mean'] < 0)).sum())}**, within noise in "
            f"**{int((~holm).sum())}** (`orgsim-report SWEEP --compare strategy.name` has every "
            "outcome, d_z and the share of pairs won)."
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
                    # t quantile with n - 1 degrees of freedom (not 1.96: n is small)
                    t = sps.t.ppf(0.975, (n - 1).clip(lower=1))
                    half = t * sd / np.sqrt(n.clip(lower=1))
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
        "Means and 95% CIs per cell (within the outcome's bounds); n = runs behind each row; "
        "time_to_90: runs that reached 90%, Kaplan-Meier median, restricted mean (never = run length)",
    )
    provenance(rep, sweep)
    return rep
