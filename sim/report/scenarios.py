"""The where_planning_wins report: scenario discovery (PRIM, CART, feature scores) and the
robustness of each policy, from the analyses of :mod:`sim.discovery` (which imports nothing
from the reports: data flows from the store's table to the analysis to this document)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import stats
from sim.discovery import (
    ORG_FACTOR,
    OUTCOME,
    THRESHOLD,
    DiscoveryError,
    cart_rules,
    factor_names,
    feature_scores,
    inputs_of,
    paired_scenarios,
    policy_outcomes,
    prim_box,
    robustness,
)
from sim.report.common import provenance
from sim.report.document import Report, pyplot, save_figure
from sim.report.load import Sweep


def _describe_limits(limits: pd.DataFrame) -> str:
    parts = []
    for r in limits.itertuples(index=False):
        if isinstance(r.min, str):
            parts.append(f"`{r.factor}` in {{{r.min}}}")
            continue
        lo = "" if r.min == r.full_min else f"{r.min:.3g} <= "
        hi = "" if r.max == r.full_max else f" <= {r.max:.3g}"
        parts.append(f"{lo}`{r.factor}`{hi}")
    return " and ".join(parts) or "no restriction"


def report_where_planning_wins(sweep: Sweep, out: Path) -> Report:
    """The scenario-discovery report of a where_planning_wins sweep."""
    plt = pyplot()
    rep = Report("Where planning wins: scenario discovery")
    runs = sweep.runs
    pairs = paired_scenarios(runs)
    x = inputs_of(pairs)
    wins = (pairs["diff"] > 0).to_numpy()
    names = factor_names(runs)
    salib = sweep.meta.get("salib") or {}
    bounds = {n: spec.get("bounds") for n, spec in (salib.get("factors") or {}).items()}
    n_scen = pairs["sample"].nunique()
    rep.p(
        "Question: in which scenarios does a planning strategy beat an incremental one, and "
        "which policy (strategy x organisation form) is robust across all of them? Design: "
        f"{n_scen} scenarios drawn by a Latin hypercube over {len(names)} uncertainties ("
        + ", ".join(
            f"`{n}`" + (f" in [{bounds[n][0]:g}, {bounds[n][1]:g}]" if bounds.get(n) else "")
            for n in names
        )
        + "), every scenario run under every policy on the same random streams (common random "
        "numbers), "
        f"{sweep.meta.get('replications', 1)} replication(s). Planning and incremental are "
        f"compared in pairs: the same scenario and organisation form ({len(pairs)} pairs). "
        f"Outcome: `{OUTCOME}`; a pair counts as *planning wins* when planning's is higher."
    )

    findings_at = len(rep.blocks)  # "What the model found" goes here once everything is known
    findings: list[str] = []
    rep.h("At a glance")
    rows = []
    for form, sub in [("all forms", pairs), *pairs.groupby(ORG_FACTOR)]:
        d = stats.paired_difference(sub["incremental"], sub["planning"])
        rows.append(
            {
                "org": form,
                "pairs": d.n,
                "planning wins": f"{d.share_b_better:.0%}",
                "mean difference (planning - incremental)": stats.fmt_ci(
                    d.diff.mean, d.diff.lo, d.diff.hi, signed=True
                ),
            }
        )
    rep.table(pd.DataFrame(rows), "Planning vs incremental per form, paired over scenarios")
    findings.append(
        f"- Planning beats incremental in {rows[0]['planning wins']} of the {len(pairs)} "
        f"(scenario, form) pairs; mean difference in `{OUTCOME}` "
        f"{rows[0]['mean difference (planning - incremental)']} (95% CI, paired)."
    )
    pairs.to_csv(out / "pairs.csv", index=False)

    rep.h("PRIM: the scenarios in which planning wins")
    try:
        pr = prim_box(x, wins)
    except DiscoveryError as exc:
        rep.p(f"PRIM found no box: {exc}")
        pr = None
    if pr is not None:
        traj = pr.trajectory
        fig, ax = plt.subplots(figsize=(6, 4.2))
        sc = ax.scatter(traj["coverage"], traj["density"], c=traj["res_dim"], cmap="viridis")
        ax.plot(traj["coverage"], traj["density"], color="lightgray", zorder=0)
        b = pr.box
        ax.scatter([b["coverage"]], [b["density"]], s=160, facecolors="none", edgecolors="red")
        ax.annotate(f"chosen box {pr.chosen}", (b["coverage"], b["density"]), fontsize=8)
        ax.axhline(pr.base_rate, ls=":", color="gray", lw=1)
        ax.set_xlabel("coverage (share of all planning wins inside the box)")
        ax.set_ylabel("density (share of planning wins inside the box)")
        fig.colorbar(sc, ax=ax, label="restricted dimensions")
        fig.tight_layout()
        save_figure(
            fig,
            rep,
            out,
            "prim_trajectory",
            "PRIM peeling trajectory: coverage vs density of each box as PRIM peels; the dotted "
            "line is the share of planning wins in all pairs; red: the chosen box",
        )
        traj.to_csv(out / "prim_trajectory.csv", index=False)
        rep.p(
            f"Chosen box (largest F1 of coverage and density on the trajectory): "
            f"{_describe_limits(pr.limits)}. Coverage {b['coverage']:.0%} (of all planning wins, "
            f"this share lies in the box), density {b['density']:.0%} (of the pairs in the box, "
            f"planning wins in this share; {pr.base_rate:.0%} over all pairs), mass "
            f"{b['mass']:.0%} of the pairs ({int(b['n'])})."
        )
        findings.append(
            f"- PRIM's box: {_describe_limits(pr.limits)}. Inside it planning wins in "
            f"{b['density']:.0%} of the pairs ({pr.base_rate:.0%} over all pairs), and it holds "
            f"{b['coverage']:.0%} of all planning wins; the quasi-p-values in the box table say "
            "which restrictions are more than chance."
        )
        rep.table(
            pr.limits,
            "The chosen box: each restricted factor's limits, its full range, and the "
            "quasi-p-value of each restricted side (one-sided binomial test of the restriction; "
            "small is significant; n/a: that side is not restricted)",
        )
        pr.limits.to_csv(out / "prim_box.csv", index=False)
        numeric = [r.factor for r in pr.limits.itertuples() if not isinstance(r.min, str)]
        if numeric:
            fig, ax = plt.subplots(figsize=(6, 0.45 * len(numeric) + 1.2))
            for i, r in enumerate(pr.limits[pr.limits["factor"].isin(numeric)].itertuples()):
                span = float(r.full_max) - float(r.full_min) or 1.0
                lo = (float(r.min) - float(r.full_min)) / span
                hi = (float(r.max) - float(r.full_min)) / span
                ax.plot([0, 1], [i, i], color="lightgray", lw=6)
                ax.plot([lo, hi], [i, i], color="tab:red", lw=6)
                ax.text(lo, i + 0.25, f"{float(r.min):.3g}", fontsize=7, ha="center")
                ax.text(hi, i + 0.25, f"{float(r.max):.3g}", fontsize=7, ha="center")
            ax.set_yticks(range(len(numeric)), numeric)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.6, len(numeric) - 0.3)
            ax.invert_yaxis()
            ax.set_xlabel("share of the factor's sampled range")
            fig.tight_layout()
            save_figure(
                fig, rep, out, "prim_box", "The chosen box (red) within each factor's range (gray)"
            )

    rep.h("CART: a second view")
    cr = cart_rules(x, wins)
    rep.p(
        "A classification tree on the same outcome (leaves of at least 5% of the pairs). Its "
        "leaves are boxes too; those where planning mostly wins:"
    )
    leaves = cr.leaves
    rep.table(
        leaves[leaves["density"] >= 0.5] if (leaves["density"] >= 0.5).any() else leaves.head(3),
        "CART leaves with density >= 50% (or the three densest): rule, coverage, density, mass",
    )
    rep.code(cr.text)
    leaves.to_csv(out / "cart_leaves.csv", index=False)

    rep.h("What drives the difference")
    scores = feature_scores(x, {"planning wins": wins, "difference": pairs["diff"].to_numpy(float)})
    rep.table(
        scores,
        "Extra-trees feature scores (share of the trees' impurity decrease; each column sums to "
        "1): 'planning wins' as a classification, 'difference' (planning - incremental) as a "
        "regression",
    )
    scores.to_csv(out / "feature_scores.csv", index=False)
    findings.append(
        "- The inputs that most drive the difference (extra-trees feature scores): "
        + ", ".join(
            f"`{r.factor}` ({r.difference:.2f})"
            for r in scores.sort_values("difference", ascending=False).head(3).itertuples()
        )
        + f"; an input with no influence would score about {1 / len(scores):.2f}."
    )
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(scores) + 1.2))
    ypos = np.arange(len(scores))
    ax.barh(ypos - 0.2, scores["planning wins"], 0.4, label="planning wins")
    ax.barh(ypos + 0.2, scores["difference"], 0.4, label="difference")
    ax.set_yticks(ypos, scores["factor"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("feature score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, rep, out, "feature_scores", "Feature scores of what drives the difference")

    rep.h("Robustness of each policy across scenarios")
    wide = policy_outcomes(runs)
    rob = robustness(wide)
    rep.table(
        rob,
        f"Per policy over {len(wide)} scenarios: mean and 10th percentile of `{OUTCOME}`, "
        "regret against the best policy of each scenario (mean and maximum), share of "
        f"scenarios in which it is best, share reaching {THRESHOLD:g}; minimax regret first",
    )
    rob.to_csv(out / "robustness.csv", index=False)
    best_mean = rob.sort_values("mean", ascending=False).iloc[0]
    findings.append(
        f"- Robustness: `{rob.iloc[0]['policy']}` has the smallest maximum regret "
        f"({rob.iloc[0]['max_regret']:.3f}); `{best_mean['policy']}` the highest mean "
        f"({best_mean['mean']:.3f}); it is the best policy in {best_mean['share_best']:.0%} of "
        "the scenarios."
    )
    order = list(rob["policy"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(order) + 1.5), sharey=True)
    ax = axes[0]
    ax.boxplot([wide[p] for p in order], vert=False, whis=(10, 90), showfliers=False)
    ax.set_yticks(range(1, len(order) + 1), order, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{OUTCOME} across scenarios (whiskers: 10th-90th percentile)")
    ax = axes[1]
    regret = wide.max(axis=1).to_numpy()[:, None] - wide[order].to_numpy()
    ypos = np.arange(1, len(order) + 1)
    ax.barh(ypos, regret.mean(axis=0), 0.6, color="tab:gray", label="mean regret")
    ax.scatter(regret.max(axis=0), ypos, color="tab:red", marker="|", s=200, label="max regret")
    ax.set_xlabel("regret against the best policy of the scenario")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(
        fig,
        rep,
        out,
        "robustness",
        "Robustness at a glance: each policy's outcomes across scenarios and its regret",
    )
    rep.blocks[findings_at:findings_at] = [
        ("h", 2, "What the model found"),
        ("p", "\n".join(findings)),
    ]
    provenance(rep, sweep)
    return rep
