"""sim.stats against hand computations on small known tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import stats

T4 = 2.7764451051977987  # t_{0.975, 4}
T3 = 3.182446305284263  # t_{0.975, 3}


def test_mean_ci_by_hand() -> None:
    ci = stats.mean_ci([1, 2, 3, 4, 5])
    sd = math.sqrt(2.5)
    half = T4 * sd / math.sqrt(5)
    assert ci.n == 5
    assert ci.mean == pytest.approx(3.0)
    assert ci.sd == pytest.approx(sd)
    assert (ci.lo, ci.hi) == pytest.approx((3 - half, 3 + half))
    assert (ci.lo, ci.hi) == pytest.approx((1.0368, 4.9632), abs=1e-4)


def test_mean_ci_drops_nan_and_handles_tiny_samples() -> None:
    assert stats.mean_ci([1, 2, 3, 4, 5, np.nan]).n == 5
    one = stats.mean_ci([0.7])
    assert one.n == 1 and one.mean == 0.7 and math.isnan(one.lo)
    assert stats.mean_ci([]).n == 0
    flat = stats.mean_ci([0.5, 0.5, 0.5])
    assert (flat.lo, flat.hi) == (0.5, 0.5)


def test_paired_difference_by_hand() -> None:
    a, b = [1, 2, 3, 4], [2, 2, 5, 5]  # d = 1, 0, 2, 1
    pd_ = stats.paired_difference(a, b)
    sd = math.sqrt(2 / 3)
    half = T3 * sd / 2
    assert pd_.n == 4
    assert pd_.diff.mean == pytest.approx(1.0)
    assert (pd_.diff.lo, pd_.diff.hi) == pytest.approx((1 - half, 1 + half))
    assert pd_.share_b_better == pytest.approx(0.75)
    assert pd_.share_ties == pytest.approx(0.25)
    assert not pd_.significant  # lo = -0.299 < 0
    assert pd_.mean_a == pytest.approx(2.5) and pd_.mean_b == pytest.approx(3.5)


def test_paired_is_narrower_than_unpaired_under_common_random_numbers() -> None:
    rng = np.random.default_rng(1)
    problem = rng.normal(0, 1, 30)  # shared by both arms
    a, b = problem, problem + 0.1 + rng.normal(0, 0.01, 30)
    paired = stats.paired_difference(a, b)
    assert paired.significant and paired.share_b_better == 1.0
    unpaired = stats.mean_ci(b).lo - stats.mean_ci(a).hi
    assert unpaired < 0  # the independent intervals overlap; the paired one does not


def test_identical_arms_and_nan_pairs() -> None:
    same = stats.paired_difference([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert same.diff.contains(0.0) and same.share_ties == 1.0 and not same.significant
    dropped = stats.paired_difference([1, np.nan, 3], [2, 5, np.nan])
    assert dropped.n == 1 and dropped.diff.mean == 1.0
    with pytest.raises(ValueError):
        stats.paired_difference([1, 2], [1, 2, 3])


def test_tables_on_a_known_table() -> None:
    df = pd.DataFrame(
        {
            "cell": ["x"] * 8,
            "arm": ["A", "B"] * 4,
            "replication": [0, 0, 1, 1, 2, 2, 3, 3],
            "y": [1, 2, 2, 2, 3, 5, 4, 5],
        }
    )
    means = stats.cell_means(df, ["arm"], ["y"]).set_index("arm")
    assert means.loc["A", "mean"] == pytest.approx(2.5) and means.loc["A", "n"] == 4
    pt = stats.paired_table(df, "arm", "A", "B", ["cell"], ["y"]).iloc[0]
    assert pt["diff_mean"] == pytest.approx(1.0)
    assert pt["diff_hi"] == pytest.approx(1 + T3 * math.sqrt(2 / 3) / 2)
    assert pt["share_b_better"] == pytest.approx(0.75) and pt["diff_n"] == 4
    # pairing is by replication, not by row order
    shuffled = df.sample(frac=1, random_state=3)
    pt2 = stats.paired_table(shuffled, "arm", "A", "B", ["cell"], ["y"]).iloc[0]
    assert pt2["diff_mean"] == pytest.approx(1.0) and pt2["diff_lo"] == pytest.approx(pt["diff_lo"])


def test_fmt_ci() -> None:
    assert stats.fmt_ci(0.06, 0.04, 0.08, 2, signed=True) == "+0.06 [+0.04, +0.08]"
    assert stats.fmt_ci(0.5, float("nan"), float("nan")) == "0.500 [n/a, n/a]"
