"""``orgsim-compare``: the strategist's what-if, as-is design versus to-be design.

Why paired runs: a strategist asks "would *we* do better as an adhocracy?", not "is the average
adhocracy better than the average bureaucracy?". So both designs meet the very same problems:
replication r of every problem condition gets the same problem seed and the same people seed in
both designs (common random numbers), and every outcome's difference is estimated on those pairs,
with a t interval and the share of pairs in which the to-be design did better. The verdict says
how sure we are, in plain words, and says "no clear difference" when the interval contains zero.

The statistics are those of ``orgsim-report SWEEP --compare FACTOR`` (:func:`sim.paired.analyse`):
the headline outcome (the first declared headline one in :data:`sim.metrics.OUTCOMES`) is the
primary outcome and its verdict uses its unadjusted 95% t interval; the per-condition claims
are Holm-adjusted over the problem conditions and the table of every outcome over the outcomes.
Pooled over conditions, a replication's differences are averaged first (the conditions of one
replication share seeds), so n counts replications. Bounded outcomes keep their intervals in
their bounds, and ``time_to_90`` (censored: a run may never get there) is compared on restricted
times with how many runs reached it. Which outcomes exist, which direction is better and which
frame each diagnoses all come from the outcomes' declaration.

Usage::

    orgsim-compare --as-is org=bureaucracy --to-be org=adhocracy levers.cocreation=0.8
    orgsim-compare --as-is as_is.yaml --to-be to_be.yaml --problems complex wicked -R 30

A design file is YAML: a list of overrides (``["org=adhocracy", "levers.cocreation=0.8"]``) or
a mapping (``{org: adhocracy, levers: {cocreation: 0.8}}``). Bad input (an unknown setting or
preset, a broken file) prints one line on stderr and exits 2 before anything runs or is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import outcomes as meta
from sim import paired, stats
from sim.config import ConfigError
from sim.design import GROUPS, Design
from sim.paired import PairedAnalysis
from sim.report.document import Report, save_figure, write_report

DEFAULT_PROBLEMS = ("tame", "complicated", "complex", "wicked")
#: the four frames (Bolman & Deal) and the outcomes that diagnose each (their declared kind)
FRAMES = {
    frame: [name for name, o in meta.OUTCOMES.items() if o.kind == frame and "{" not in name]
    for frame in ("structural", "human resources", "political", "symbolic")
}
#: the primary outcome of the verdict
HEADLINE = meta.headline()[0]


def outcome_names(columns: Any) -> list[str]:
    """The outcomes compared, in Production-of-Welfare order (final, intermediate, inputs,
    then the frames' diagnostics): every declared outcome in the table except those that
    describe the problem (the same in both designs)."""
    return [o for o in meta.in_table(columns, order="kind") if meta.lookup(o).kind != "problem"]  # type: ignore[union-attr]


def _flatten_overrides(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        out: list[str] = []
        for k, v in node.items():
            key = f"{prefix}{k}"
            if key in GROUPS and not isinstance(v, dict):
                out.append(f"{key}={v}")  # a preset choice
            else:
                out += _flatten_overrides(v, key + ".")
        return out
    value = "[" + ",".join(map(str, node)) + "]" if isinstance(node, list) else node
    return [f"{prefix[:-1]}={value}"]


def parse_design(items: list[str] | None) -> list[str]:
    """A design from the command line: overrides, or one YAML file (list or mapping)."""
    items = list(items or [])
    if len(items) == 1 and (items[0].endswith((".yaml", ".yml")) or Path(items[0]).is_file()):
        import yaml

        path = Path(items[0])
        if not path.is_file():
            raise ConfigError(f"design file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"design file {path} is not valid YAML: {first}") from None
        if data is None:
            return []
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            return data
        if isinstance(data, dict):
            return _flatten_overrides(data)
        raise ConfigError(
            f"design file {path} must hold a list of overrides or a mapping of settings"
        )
    for item in items:
        if "=" not in item:
            raise ConfigError(f"could not parse override {item!r}: use key=value")
    return items


@dataclass
class Comparison:
    """The runs of a comparison and what produced them."""

    runs: pd.DataFrame
    as_is: list[str]
    to_be: list[str]
    problems: list[str]
    replications: int
    steps: int | None
    seed: int
    wall_time_s: float

    def pairs(self, outcome: str) -> tuple[np.ndarray, np.ndarray]:
        """As-is and to-be values of ``outcome`` matched by (problem, replication)."""
        ok = self.runs[self.runs["status"] == "ok"]
        wide = ok.pivot_table(index=["problem", "replication"], columns="design", values=outcome)
        wide = wide.reindex(columns=["as_is", "to_be"])
        return wide["as_is"].to_numpy(), wide["to_be"].to_numpy()


def arm_overrides(
    overrides: list[str],
    problems: list[str],
    replications: int,
    steps: int | None = None,
    seed: int = 0,
) -> list[str]:
    """One arm of the comparison as an engine sweep: the design's overrides under every problem
    condition, ``replications`` replications of master seed ``seed`` (the same seeds in both
    arms: common random numbers, paired by problem and replication)."""
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if key == "problem" or key.startswith("problem."):
            raise ConfigError(
                f"{item}: a design describes the organisation, not the problem; "
                "choose the problems with --problems"
            )
        if key in ("seed", "replication", "replications", "steps", "experiment", "results_dir"):
            raise ConfigError(
                f"{item}: set {key} for both designs at once (--seed, --replications, --steps)"
            )
    extra = [f"steps={steps}"] if steps else []
    return [
        *overrides,
        *extra,
        f"problem={','.join(problems)}",
        f"replications={replications}",
        f"seed={seed}",
    ]


def prepare_arms(
    as_is: list[str],
    to_be: list[str],
    problems: list[str],
    replications: int,
    steps: int | None = None,
    seed: int = 0,
) -> dict[str, tuple[list[str], Design]]:
    """Validate both designs under every problem condition (nothing runs, nothing is written);
    return each arm's engine overrides and expanded design. Raises :class:`ConfigError`."""
    from sim.engine import design_from_overrides

    if replications < 2:
        raise ConfigError(f"replications={replications} must be at least 2 (for an interval)")
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps {steps} must be at least 1")
    if seed < 0:
        raise ConfigError(f"--seed {seed} must be an integer >= 0")
    if not problems:
        raise ConfigError("--problems: name at least one problem preset")
    arms = {}
    for name, overrides in (("as_is", as_is), ("to_be", to_be)):
        arm = arm_overrides(overrides, problems, replications, steps, seed)
        arms[name] = (arm, design_from_overrides(arm))
    return arms


def run_comparison(
    as_is: list[str],
    to_be: list[str],
    problems: list[str] | tuple[str, ...] = DEFAULT_PROBLEMS,
    replications: int = 20,
    steps: int | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    progress: bool = True,
    results_dir: str | Path = "results",
) -> Comparison:
    """Run both designs over the problem conditions, R paired replications each, through the
    experiment engine (runs already in the store are reused). Both designs are validated before
    anything runs: a mistake raises :class:`ConfigError`."""
    import os

    from sim.engine import run_design

    arms = prepare_arms(as_is, to_be, list(problems), replications, steps, seed)
    start = time.perf_counter()
    jobs = n_jobs or os.cpu_count() or 1
    tables = []
    for name, (overrides, design) in arms.items():
        result = run_design(
            design,
            results_dir,
            jobs,
            progress,
            timeseries=False,
            command=f"orgsim-compare ({name}): {' '.join(overrides)}",
        )
        table = result.table.copy()
        table["design"] = name
        table["problem"] = table["problem.name"]
        tables.append(table)
    runs = pd.concat(tables, ignore_index=True)
    return Comparison(
        runs, as_is, to_be, list(problems), replications, steps, seed, time.perf_counter() - start
    )


def analysis(
    comp: Comparison, outcomes: list[str] | None = None, by_problem: bool = False
) -> PairedAnalysis:
    """The paired analysis of to-be against as-is (:func:`sim.paired.analyse`), pairs matched
    by problem condition and replication; per problem condition when ``by_problem``."""
    return paired.analyse(
        comp.runs,
        "design",
        outcomes or outcome_names(comp.runs.columns),
        "as_is",
        by=["problem"] if by_problem else [],
        pair_on=["problem", "replication"],
    )


def differences(comp: Comparison) -> pd.DataFrame:
    """Every outcome's paired difference (to-be minus as-is), pooled over problem conditions:
    ``diff_mean``, ``diff_lo``, ``diff_hi``, ``diff_n`` (replications behind the interval),
    ``pairs``, ``d_z``, ``share_b_better`` (to-be higher), ``share_b_wins`` (to-be better in
    the outcome's direction), ``p_value`` and ``p_adj`` (Holm over the outcomes)."""
    pooled = analysis(comp).pooled
    if pooled.empty:
        return pd.DataFrame(columns=["outcome", "diff_mean", "diff_lo", "diff_hi", "diff_n"])
    return pooled.drop(columns="arm").assign(diff_n=pooled["units"]).reset_index(drop=True)


def per_problem(comp: Comparison, outcome: str = HEADLINE) -> pd.DataFrame:
    """``outcome``'s paired difference per problem condition (Holm over the conditions)."""
    cells = analysis(comp, [outcome], by_problem=True).per_cell
    return cells.set_index("problem").loc[comp.problems].reset_index()


def verdict(comp: Comparison, diffs: pd.DataFrame | None = None) -> str:
    """The plain-language verdict on the headline outcome, with its uncertainty."""
    diffs = differences(comp) if diffs is None else diffs
    row = diffs.set_index("outcome").loc[HEADLINE]
    n = int(row["pairs"]) if "pairs" in row else int(row["diff_n"])
    units = int(row["diff_n"])
    ci = f"95% CI {row['diff_lo']:+.3f} to {row['diff_hi']:+.3f}" + (
        f" over {units} replications" if units != n else ""
    )
    name = meta.label(HEADLINE)
    share = f"{row['share_b_better']:.0%}"
    if n and row["share_ties"] == 1.0:
        return (
            f"No difference: the two designs gave identical {name} in all {n} paired runs "
            f"(mean difference {row['diff_mean']:+.3f}, {ci})."
        )
    if row["diff_lo"] <= 0 <= row["diff_hi"]:
        head = (
            f"No clear difference: the to-be design did better in {share} of {n} paired runs; "
            f"{name} {row['diff_mean']:+.3f}, {ci}, an interval that contains zero, "
            "so the difference is within the noise of these runs."
        )
    else:
        word = "better" if row["diff_mean"] > 0 else "worse"
        head = (
            f"The to-be design did {word}: it did better in {share} of {n} paired runs; "
            f"{name} {row['diff_mean']:+.3f}, {ci}."
        )
    pp = per_problem(comp)
    sig = [f"{r['problem']} {r['diff_mean']:+.3f}" for _, r in pp.iterrows() if r["significant"]]
    noise = [r["problem"] for _, r in pp.iterrows() if not r["significant"]]
    tail = []
    if sig:
        tail.append(
            "Clear per-condition differences (Holm-adjusted over the conditions): "
            + ", ".join(sig)
            + "."
        )
    if noise:
        tail.append("Within noise under: " + ", ".join(noise) + ".")
    eng = (
        diffs.set_index("outcome").loc["mean_engagement"]
        if "mean_engagement" in set(diffs["outcome"])
        else None
    )
    if eng is not None:
        within = eng["diff_lo"] <= 0 <= eng["diff_hi"]
        tail.append(
            f"Engagement {eng['diff_mean']:+.3f} (95% CI {eng['diff_lo']:+.3f} to {eng['diff_hi']:+.3f}"
            + (", within noise)." if within else ").")
        )
    return " ".join([head, *tail])


def build_compare_report(comp: Comparison, out_dir: str | Path, write_data: bool = True) -> Path:
    """The one-page report: verdict, per-condition figure, four frames, every outcome's difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (comp.runs["status"] == "ok").sum() == 0:
        first = comp.runs["error"].iloc[0] if len(comp.runs) else "no runs"
        raise RuntimeError(f"every run failed ({first}): nothing to compare")
    diffs = differences(comp)
    text = verdict(comp, diffs)
    rep = Report("What if: as-is versus to-be")
    rep.p(f"**Verdict.** {text}")
    rep.p(
        f"- as-is: `{' '.join(comp.as_is) or '(defaults)'}`\n- to-be: `{' '.join(comp.to_be) or '(defaults)'}`\n"
        f"- problem conditions: {', '.join(comp.problems)}; {comp.replications} paired replications "
        f"each (same problem and people seeds for both designs), master seed {comp.seed}"
        + (f", {comp.steps} steps" if comp.steps else "")
        + f"; {len(comp.runs)} runs in {comp.wall_time_s:.0f} s"
    )
    ok = comp.runs[comp.runs["status"] == "ok"]
    fig = plt.figure(figsize=(12, 6.4))
    gs = fig.add_gridspec(2, 4, height_ratios=[1.15, 1])
    ax = fig.add_subplot(gs[0, :2])
    tidy = paired.arm_means(ok, "design", [HEADLINE], ["problem"]).rename(columns={"arm": "design"})
    x = np.arange(len(comp.problems))
    for off, d, color in ((-0.12, "as_is", "tab:gray"), (0.12, "to_be", "tab:blue")):
        sub = tidy[tidy["design"] == d].set_index("problem").loc[comp.problems]
        ax.errorbar(x + off, sub["mean"], yerr=[sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]],
                    fmt="o", capsize=3, color=color, label=d.replace("_", "-"))  # fmt: skip
    ax.set_xticks(x, comp.problems)
    ax.set_ylabel(f"{meta.label(HEADLINE)} (95% CI)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(gs[0, 2:])
    pp = per_problem(comp)
    ax.errorbar(x, pp["diff_mean"], yerr=[pp["diff_mean"] - pp["diff_lo"], pp["diff_hi"] - pp["diff_mean"]],
                fmt="s", capsize=3, color="tab:blue")  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    for xi, share in zip(x, pp["share_b_better"], strict=True):
        ax.annotate(
            f"{share:.0%}",
            (xi, 0),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(x, comp.problems)
    ax.set_ylabel(f"to-be minus as-is, {meta.label(HEADLINE)}\n(paired, 95% CI)")
    ax.set_title("labels: share of pairs where to-be did better", fontsize=8)
    ax.grid(alpha=0.3)
    for j, (frame, outcomes) in enumerate(FRAMES.items()):
        ax = fig.add_subplot(gs[1, j])
        outcomes = [o for o in outcomes if o in ok]
        t = paired.arm_means(ok, "design", outcomes, []).rename(columns={"arm": "design"})
        for k, o in enumerate(outcomes):
            for off, d, color in ((-0.15, "as_is", "tab:gray"), (0.15, "to_be", "tab:blue")):
                r = t[(t["design"] == d) & (t["outcome"] == o)].iloc[0]
                ax.bar(
                    k + off,
                    r["mean"],
                    0.3,
                    yerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]],
                    color=color,
                    capsize=2,
                )
        ax.set_xticks(
            range(len(outcomes)),
            [o.replace("mean_", "").replace("_", "\n") for o in outcomes],
            fontsize=7,
        )
        ax.set_title(f"{frame} frame", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("as-is (grey) vs to-be (blue)", fontsize=10)
    fig.tight_layout()
    save_figure(
        fig,
        rep,
        out,
        "compare",
        "Top: performance per problem condition and the paired difference. Bottom: the four frames (means, 95% CI, pooled over conditions).",
    )
    import shutil

    shutil.copy(out / "figures" / "compare.png", out / "compare.png")
    table = pd.DataFrame(
        {
            "outcome": diffs["outcome"],
            "as-is": diffs["mean_a"],
            "to-be": diffs["mean_b"],
            "to-be - as-is [95% CI]": [
                stats.fmt_ci(m, lo, hi, 3, True)
                for m, lo, hi in zip(
                    diffs["diff_mean"], diffs["diff_lo"], diffs["diff_hi"], strict=True
                )
            ],
            "d_z": diffs["d_z"],
            "share to-be better": [
                "-" if pd.isna(w) else f"{w:.0%}" for w in diffs["share_b_wins"]
            ],
            "better is": [meta.lookup(o).better or "-" for o in diffs["outcome"]],  # type: ignore[union-attr]
            "n": diffs["diff_n"],
            "pairs": diffs["pairs"],
            "p (Holm)": diffs["p_adj"],
            "significant": np.where(diffs["significant"], "yes", "no"),
        }
    )
    censored = (
        diffs["reached_a"].notna() if "reached_a" in diffs else pd.Series(False, index=diffs.index)
    )
    for idx in diffs.index[censored]:
        r = diffs.loc[idx]
        table.loc[idx, "outcome"] = (
            f"{r['outcome']} (restricted; reached {int(r['reached_a'])} as-is, "
            f"{int(r['reached_b'])} to-be of {int(r['pairs'])})"
        )
    rep.table(
        table,
        "Every outcome: paired difference to-be minus as-is, 95% t interval over replications "
        "(n; a replication's conditions averaged first), pooled over problem conditions; d_z = "
        "mean difference / sd; significance Holm-adjusted over the outcomes; intervals of "
        "bounded outcomes within their range; a censored outcome on restricted times "
        "(never reached = the run length)",
    )
    diffs.to_csv(out / "differences.csv", index=False)
    failed = int((comp.runs["status"] != "ok").sum())
    if failed:
        rep.p(f"{failed} runs failed and are left out of the pairs.")
    if write_data:
        comp.runs.to_parquet(out / "runs.parquet", index=False)
    write_report(rep, out, "compare")
    return out / "compare.md"


def main(argv: list[str] | None = None) -> int:
    """Thin entry point: parse, validate everything, run with a progress bar, write the report."""
    ap = argparse.ArgumentParser(
        prog="orgsim-compare", description="Compare an as-is and a to-be design over paired runs."
    )
    ap.add_argument(
        "--as-is",
        nargs="*",
        default=[],
        metavar="OVERRIDE",
        help="overrides of the current design, or a YAML file",
    )
    ap.add_argument(
        "--to-be",
        nargs="*",
        default=[],
        metavar="OVERRIDE",
        help="overrides of the proposed design, or a YAML file",
    )
    ap.add_argument(
        "--problems",
        nargs="+",
        default=list(DEFAULT_PROBLEMS),
        help="problem presets to evaluate under",
    )
    ap.add_argument(
        "-R",
        "--replications",
        type=int,
        default=20,
        help="paired replications per problem condition",
    )
    ap.add_argument("--steps", type=int, default=None, help="steps per run (default: the config's)")
    ap.add_argument("--seed", type=int, default=0, help="master seed of the replications")
    ap.add_argument("--jobs", type=int, default=None, help="parallel workers (default: all cores)")
    ap.add_argument(
        "--results-dir",
        default="results",
        help="the run store and default report location (default ./results)",
    )
    ap.add_argument("--out", default=None, help="report folder (default RESULTS_DIR/compare/TIME)")
    ap.add_argument("--no-data", action="store_true", help="do not write the per-run table")
    args = ap.parse_args(argv)
    try:  # both designs are validated before anything runs
        as_is, to_be = parse_design(args.as_is), parse_design(args.to_be)
        comp = run_comparison(
            as_is,
            to_be,
            args.problems,
            args.replications,
            args.steps,
            args.seed,
            args.jobs,
            results_dir=args.results_dir,
        )
    except ConfigError as exc:
        print(f"orgsim-compare: {exc}", file=sys.stderr)
        return 2
    if comp.runs["status"].ne("ok").all():
        print(
            f"orgsim-compare: every run failed; first error: {comp.runs['error'].iloc[0]}",
            file=sys.stderr,
        )
        return 1
    out = (
        Path(args.out)
        if args.out
        else Path(args.results_dir) / "compare" / time.strftime("%Y%m%d-%H%M%S")
    )
    path = build_compare_report(comp, out, write_data=not args.no_data)
    print(verdict(comp))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
