"""Scenario discovery (sim/discovery.py): PRIM recovers a planted box, the robustness metrics
match hand computations, and the quick experiment runs and reports through the command line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.commands import console_script

from sim import discovery

ORGS = ("bureaucracy", "adhocracy")


def synthetic_table(n: int = 800, seed: int = 0) -> pd.DataFrame:
    """A results table in the store's format (sample, x.*, settings, strategy.name, org.name,
    mean_performance, status): planning beats incremental exactly when
    ``problem.ambiguity <= 0.1`` and ``levers.cocreation >= 0.6``; three other factors do not
    matter, and neither does the organisation form."""
    rng = np.random.default_rng(seed)
    bounds = {
        "problem.ambiguity": (0.0, 0.3),
        "levers.cocreation": (0.0, 1.0),
        "problem.turbulence": (0.0, 0.2),
        "levers.rd_budget": (0.0, 1.0),
    }
    x = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in bounds.items()}
    x["problem.k"] = rng.uniform(0, 12, n)  # an integer factor: sampled raw, floored as run
    inside = (x["problem.ambiguity"] <= 0.1) & (x["levers.cocreation"] >= 0.6)
    rows = []
    for i in range(n):
        base = {f"x.{k}": v[i] for k, v in x.items()}
        settings = {k: v[i] for k, v in x.items() if k != "problem.k"}
        settings["problem.k"] = int(np.floor(x["problem.k"][i]))
        for org in ORGS:
            noise = rng.uniform(-0.02, 0.02)
            for strategy, perf in (
                ("incremental", 0.8 + noise),
                ("planning", 0.8 + noise + (0.1 if inside[i] else -0.1)),
            ):
                rows.append(
                    {
                        "design": "lhs",
                        "sample": i,
                        **base,
                        **settings,
                        "strategy.name": strategy,
                        "org.name": org,
                        "replication": 0,
                        "mean_performance": perf,
                        "status": "ok",
                    }
                )
    return pd.DataFrame(rows)


def test_paired_scenarios_pairs_by_sample_and_form() -> None:
    runs = synthetic_table(n=20)
    pairs = discovery.paired_scenarios(runs)
    assert len(pairs) == 20 * len(ORGS)
    assert set(pairs["org"]) == set(ORGS)
    np.testing.assert_allclose(pairs["diff"], pairs["planning"] - pairs["incremental"])
    assert set(np.round(pairs["diff"].abs(), 9)) == {0.1}
    # integer factors are the values the model saw (floored), as integers
    assert pairs["problem.k"].dtype == np.int64
    raw = runs.drop_duplicates("sample").set_index("sample")["x.problem.k"]
    assert (pairs["problem.k"] == pairs["sample"].map(np.floor(raw).astype(int))).all()
    x = discovery.inputs_of(pairs)
    assert set(x.columns) == {
        "problem.ambiguity",
        "levers.cocreation",
        "problem.turbulence",
        "levers.rd_budget",
        "problem.k",
        "org",
    }


def test_paired_scenarios_drops_failed_runs_and_needs_a_sample() -> None:
    runs = synthetic_table(n=10)
    failed = (runs["sample"] == 3) & (runs["strategy.name"] == "planning")
    runs.loc[failed, "status"] = "failed"
    runs.loc[failed, "mean_performance"] = np.nan
    pairs = discovery.paired_scenarios(runs)
    assert 3 not in set(pairs["sample"]) and len(pairs) == 9 * len(ORGS)
    with pytest.raises(discovery.DiscoveryError, match="sampled"):
        discovery.paired_scenarios(runs.drop(columns=["sample"]))


def test_prim_recovers_a_planted_box() -> None:
    pairs = discovery.paired_scenarios(synthetic_table())
    x = discovery.inputs_of(pairs)
    y = (pairs["diff"] > 0).to_numpy()
    result = discovery.prim_box(x, y)
    lim = result.limits.set_index("factor")
    assert set(lim.index) == {"problem.ambiguity", "levers.cocreation"}, lim
    assert float(lim.loc["problem.ambiguity", "max"]) == pytest.approx(0.1, abs=0.015)
    assert float(lim.loc["levers.cocreation", "min"]) == pytest.approx(0.6, abs=0.05)
    assert result.box["coverage"] >= 0.9
    assert result.box["density"] >= 0.9
    # both restrictions are significant; the unrestricted sides have no quasi-p-value
    assert lim.loc["problem.ambiguity", "qp_max"] < 1e-3
    assert lim.loc["levers.cocreation", "qp_min"] < 1e-3
    assert np.isnan(lim.loc["problem.ambiguity", "qp_min"])
    # the trajectory starts from the whole data and only gets denser
    traj = result.trajectory
    assert traj.loc[0, "coverage"] == 1.0
    assert traj.loc[0, "density"] == pytest.approx(y.mean())
    assert result.base_rate == pytest.approx(y.mean())


def test_cart_and_feature_scores_find_the_same_factors() -> None:
    pairs = discovery.paired_scenarios(synthetic_table())
    x = discovery.inputs_of(pairs)
    y = (pairs["diff"] > 0).to_numpy()
    cart = discovery.cart_rules(x, y)
    top = cart.leaves.iloc[0]
    assert top["density"] >= 0.9 and top["coverage"] >= 0.8
    assert "problem.ambiguity" in top["rule"] and "levers.cocreation" in top["rule"]
    assert "problem.ambiguity" in cart.text
    scores = discovery.feature_scores(x, {"wins": y, "difference": pairs["diff"].to_numpy()})
    assert set(scores["factor"].head(2)) == {"problem.ambiguity", "levers.cocreation"}
    assert scores["wins"].sum() == pytest.approx(1.0)


def test_robustness_by_hand() -> None:
    # three scenarios, two strategies x one form; replication 1 of scenario 2 averages in
    perf = {
        ("incremental", 0): [0.9],
        ("planning", 0): [0.7],
        ("incremental", 1): [0.8],
        ("planning", 1): [0.95],
        ("incremental", 2): [0.6, 0.8],  # mean 0.7
        ("planning", 2): [0.5],
    }
    rows = [
        {
            "sample": s,
            "x.problem.k": 1.0,
            "strategy.name": strat,
            "org.name": "adhocracy",
            "replication": r,
            "mean_performance": v,
            "status": "ok",
        }
        for (strat, s), values in perf.items()
        for r, v in enumerate(values)
    ]
    rows.append({**rows[0], "sample": 3, "status": "failed", "mean_performance": np.nan})
    wide = discovery.policy_outcomes(pd.DataFrame(rows))
    assert list(wide.columns) == ["incremental / adhocracy", "planning / adhocracy"]
    assert list(wide.index) == [0, 1, 2]  # scenario 3 lacks a policy: left out
    rob = discovery.robustness(wide, threshold=0.9).set_index("policy")
    inc, plan = rob.loc["incremental / adhocracy"], rob.loc["planning / adhocracy"]
    assert inc["mean"] == pytest.approx((0.9 + 0.8 + 0.7) / 3)
    assert plan["mean"] == pytest.approx((0.7 + 0.95 + 0.5) / 3)
    assert inc["p10"] == pytest.approx(np.percentile([0.9, 0.8, 0.7], 10))  # 0.72
    assert inc["p10"] == pytest.approx(0.72)
    # regrets: incremental 0, 0.15, 0; planning 0.2, 0, 0.2
    assert inc["max_regret"] == pytest.approx(0.15)
    assert inc["mean_regret"] == pytest.approx(0.05)
    assert plan["max_regret"] == pytest.approx(0.2)
    assert plan["mean_regret"] == pytest.approx(0.4 / 3)
    assert inc["share_best"] == pytest.approx(2 / 3)
    assert plan["share_best"] == pytest.approx(1 / 3)
    assert inc["share_ge_0.9"] == pytest.approx(1 / 3)
    assert plan["share_ge_0.9"] == pytest.approx(1 / 3)
    assert rob.index[0] == "incremental / adhocracy"  # minimax regret first
    assert (rob["scenarios"] == 3).all()


@pytest.mark.slow
def test_quick_experiment_runs_and_reports(tmp_path: Path, quick: bool) -> None:
    """`orgsim -m experiment=where_planning_wins_quick` then `orgsim-report` (about 20 s);
    with --full, the quick design at the full experiment's run length."""
    argv = [
        console_script("orgsim"),
        "-m",
        "experiment=where_planning_wins_quick",
        f"results_dir={tmp_path}",
    ]
    if not quick:
        argv.append("steps=60")
    run = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    match = re.search(r"orgsim: sweep of (\d+) runs \(.*\): (\S+)", run.stderr)
    assert match, run.stderr[:2000]
    assert int(match[1]) == 24 * 6
    sweep_dir = Path(match[2])
    table = pd.read_parquet(sweep_dir / "table.parquet")
    assert (table["status"] == "ok").all()
    assert table["org.employees"].between(12, 24).all()
    report = subprocess.run(
        [console_script("orgsim-report"), str(sweep_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    folder = sweep_dir / "report"
    text = (folder / "report.md").read_text()
    assert text.startswith("# Where planning wins")
    for section in ("What the model found", "PRIM", "CART", "feature scores", "Robustness"):
        assert section in text, section
    assert "Provenance" in text and "quasi-p-value" in text
    for stem in ("prim_trajectory", "feature_scores", "robustness"):
        assert (folder / "figures" / f"{stem}.png").is_file(), stem
    rob = pd.read_csv(folder / "robustness.csv")
    assert len(rob) == 6 and (rob["scenarios"] == 24).all()
    assert (folder / "report.html").is_file()
