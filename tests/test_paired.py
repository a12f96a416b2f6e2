"""sim.paired (the analysis behind `orgsim-report --compare` and `orgsim-compare`) on a small
table in the store's format, against hand computations: pairs by settings and seed, Holm over
cells x outcomes, d_z, censored outcomes with how many runs reached them, and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sim import outcomes, paired

PERF = {  # (k, replication) -> (incremental, planning) mean_performance
    (0, 0): (0.80, 0.82),
    (0, 1): (0.70, 0.71),
    (0, 2): (0.90, 0.93),
    (8, 0): (0.80, 0.60),
    (8, 1): (0.75, 0.62),
    (8, 2): (0.85, 0.66),
}
T90 = {  # (k, replication) -> (incremental, planning) time_to_90; NaN: never within 10 steps
    (0, 0): (3.0, 4.0),
    (0, 1): (5.0, np.nan),
    (0, 2): (2.0, 6.0),
    (8, 0): (6.0, np.nan),
    (8, 1): (np.nan, np.nan),
    (8, 2): (4.0, 9.0),
}


def table() -> pd.DataFrame:
    rows = []
    for (k, r), perfs in PERF.items():
        for i, strategy in enumerate(("incremental", "planning")):
            rows.append(
                {
                    "run_id": f"{k}{r}{strategy}",
                    "status": "ok",
                    "error": "",
                    "strategy.name": strategy,
                    "strategy.horizon": 0 if strategy == "incremental" else 16,  # its preset
                    "problem.k": k,
                    "steps": 10,
                    "seed": 0,
                    "replication": r,
                    "mean_performance": perfs[i],
                    "time_to_90": T90[(k, r)][i],
                }
            )
    rows.append({**rows[0], "run_id": "failed", "status": "failed", "mean_performance": np.nan})
    return pd.DataFrame(rows).sample(frac=1, random_state=1)  # pairing is not by row order


def test_pairs_match_on_settings_and_seed_not_on_the_preset() -> None:
    t = table()
    assert paired.comparable(t) == ["strategy.name", "problem.k"]
    keys = paired.pair_columns(t, "strategy.name")
    assert "strategy.horizon" not in keys and {"problem.k", "seed", "replication"} <= set(keys)
    p = paired.pairs(
        t, "strategy.name", "incremental", "planning", ["mean_performance"], keys, ["problem.k"]
    )
    assert len(p) == 6
    got = p.set_index(["problem.k", "replication"])
    for (k, r), (a, b) in PERF.items():
        assert got.loc[(k, r), "mean_performance_a"] == a
        assert got.loc[(k, r), "mean_performance_b"] == b


def test_per_cell_differences_holm_and_d_z_by_hand() -> None:
    an = paired.analyse(table(), "strategy.name", ["mean_performance", "time_to_90"])
    assert an.reference in ("incremental", "planning") and an.cells == ["problem.k"]
    an = paired.analyse(table(), "strategy.name", ["mean_performance", "time_to_90"], "incremental")
    assert an.arms == ["planning"]
    cell = an.per_cell.set_index(["problem.k", "outcome"])
    p_raw = []
    for k in (0, 8):
        d = np.array([PERF[(k, r)][1] - PERF[(k, r)][0] for r in range(3)])
        row = cell.loc[(k, "mean_performance")]
        assert row["pairs"] == 3 and row["diff_mean"] == pytest.approx(d.mean())
        assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
        half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
        assert (row["diff_lo"], row["diff_hi"]) == pytest.approx(
            (max(d.mean() - half, -1.0), min(d.mean() + half, 1.0))
        )
        assert row["share_b_wins"] == pytest.approx(np.mean(d > 0))
        assert row["p_value"] == pytest.approx(sps.ttest_1samp(d, 0).pvalue)
        # time_to_90 on restricted times min(T, 10): never reached counts as 10
        ta = np.array([T90[(k, r)][0] for r in range(3)])
        tb = np.array([T90[(k, r)][1] for r in range(3)])
        dt = np.where(np.isnan(tb), 10, tb) - np.where(np.isnan(ta), 10, ta)
        trow = cell.loc[(k, "time_to_90")]
        assert trow["pairs"] == 3 and trow["diff_mean"] == pytest.approx(dt.mean())
        assert trow["reached_a"] == int((~np.isnan(ta)).sum())
        assert trow["reached_b"] == int((~np.isnan(tb)).sum())
        assert trow["share_b_wins"] == pytest.approx(np.mean(dt < 0))  # lower is better
        p_raw += [row["p_value"], trow["p_value"]]
    # Holm over the family of every cell x outcome (4 tests), by hand
    order = np.argsort(p_raw)
    holm = np.empty(4)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (4 - rank) * p_raw[i]))
        holm[i] = running
    got = [cell.loc[(k, o), "p_adj"] for k in (0, 8) for o in ("mean_performance", "time_to_90")]
    assert got == pytest.approx(holm)
    assert (cell["significant"] == (cell["p_adj"] < 0.05)).all()
    fdr = paired.analyse(table(), "strategy.name", ["mean_performance"], correction="fdr")
    assert (fdr.per_cell["p_adj"] <= an.per_cell.iloc[[0, 2]]["p_adj"].to_numpy() + 1e-12).all()


def test_pooled_over_cells_counts_replications() -> None:
    an = paired.analyse(table(), "strategy.name", ["mean_performance"], "incremental")
    row = an.pooled.iloc[0]
    # the two cells of a replication share its seed: average them, then over replications
    per_rep = [np.mean([PERF[(k, r)][1] - PERF[(k, r)][0] for k in (0, 8)]) for r in range(3)]
    assert row["pairs"] == 6 and row["units"] == 3
    assert row["diff_mean"] == pytest.approx(np.mean(per_rep))
    assert row["diff_sd"] == pytest.approx(np.std(per_rep, ddof=1))
    assert row["share_b_wins"] == pytest.approx(3 / 6)  # over pairs


def test_a_censored_outcome_says_how_many_runs_reached_it() -> None:
    an = paired.analyse(table(), "strategy.name", ["time_to_90"], "incremental", by=[])
    assert an.per_cell.empty and an.cells == []
    arms = an.arm_means.set_index("arm")
    inc, plan = arms.loc["incremental"], arms.loc["planning"]
    assert (inc["n"], inc["reached"], plan["n"], plan["reached"]) == (6, 5, 6, 3)
    assert inc["rmst"] == pytest.approx(np.mean([3, 5, 2, 6, 10, 4]))
    # planning: events at 4, 6, 9 (at risk 6, 5, 4): S = 5/6, 5/6 * 4/5, 5/6 * 4/5 * 3/4 = 1/2
    # incremental: events at 2, 3, 4, 5, 6 of 6 runs: S(4) = 3/6
    assert plan["km_median"] == 9 and inc["km_median"] == 4
    assert plan["rmst"] == pytest.approx(np.mean([4, 10, 6, 10, 10, 9]))
    text = paired.describe(inc)
    assert text.startswith("reached 5/6") and "restricted mean" in text
    pooled = an.pooled.iloc[0]
    assert (pooled["reached_a"], pooled["reached_b"], pooled["pairs"]) == (5, 3, 6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": "strategy.colour"}, "--compare strategy.colour: not a setting of this sweep; "
         "the settings that vary: strategy.name, problem.k"),
        ({"factor": "steps"}, "--compare steps: it does not vary in this sweep (every ok run has "
         "steps=10)"),
        ({"factor": "replication"}, "seeds and replications are what pairs share"),
        ({"factor": "strategy.name", "outcomes": ["speed"]}, "--outcomes speed: not an outcome "
         "of this table; the outcomes: mean_performance, time_to_90"),
        ({"factor": "strategy.name", "reference": "hybrid"}, "--reference hybrid: not a value "
         "of strategy.name in this sweep; its values: "),
        ({"factor": "strategy.name", "by": ["strategy.horizon"]}, "--by strategy.horizon: not "
         "another setting that varies"),
    ],
)  # fmt: skip
def test_requests_that_cannot_be_made(kwargs: dict, message: str) -> None:
    factor = kwargs.pop("factor")
    with pytest.raises(paired.AnalysisError) as err:
        paired.analyse(table(), factor, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_every_outcome_of_a_run_is_declared() -> None:
    """A new outcome must be declared (sim.metrics.OUTCOMES) to appear in reports and compare:
    every column a run's summary produces has a declaration, and bounded values are inside."""
    import sim

    cfg = sim.compose_config(["steps=12", "org.employees=12", "org.partners=2", "problem=wicked"])
    summary = sim.InnovationModel(cfg).run().summary()
    for name, value in summary.items():
        o = outcomes.lookup(name)
        assert o is not None, f"{name} is not declared in sim.metrics.OUTCOMES"
        lo, hi = o.bounds
        if value == value:  # not NaN
            assert lo is None or value >= lo, name
            assert hi is None or value <= hi, name
    assert outcomes.lookup("mean_satisfaction_g2").label == "satisfaction of group 2"
    assert outcomes.headline()[0] == "mean_performance"
    assert outcomes.in_table(["time_to_90", "mean_satisfaction_g1", "x", "mean_performance"]) == [
        "mean_performance",
        "time_to_90",
        "mean_satisfaction_g1",
    ]
