"""sim.stats against hand computations on small known tables: intervals, paired differences,
d_z, bounded intervals (which never leave their bounds), censored times and Holm/FDR."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- effect size, bounded and censored outcomes, many tests (issue 11) --------------------------
def test_d_z_by_hand() -> None:
    pd_ = stats.paired_difference([1, 2, 3, 4], [2, 2, 5, 5])  # d = 1, 0, 2, 1
    assert pd_.d_z == pytest.approx(1.0 / math.sqrt(2 / 3))
    assert pd_.as_dict()["d_z"] == pytest.approx(1.2247449)
    assert math.isnan(stats.paired_difference([1, 2], [2, 3]).d_z)  # differences do not vary
    assert math.isnan(stats.paired_difference([1], [2]).d_z)


def test_bounded_ci_by_hand() -> None:
    x = [0.9, 0.95, 1.0, 0.98]
    m, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    se = sd / 2
    plain = stats.mean_ci(x)
    assert plain.hi > 1  # the plain t interval runs past the bound
    logit = math.log(m / (1 - m))
    half = T3 * se / (m * (1 - m))
    expect = [1 / (1 + math.exp(-(logit + s * half))) for s in (-1, 1)]
    ci = stats.bounded_ci(x, (0.0, 1.0))
    assert (ci.lo, ci.hi) == pytest.approx(expect)
    assert ci.mean == pytest.approx(m) and ci.n == 4 and ci.lo < m < ci.hi < 1
    # one bound: the log of the distance to it
    counts = [0, 0, 1, 3]
    c = stats.bounded_ci(counts, (0.0, None))
    q, se_c = 1.0, float(np.std(counts, ddof=1)) / 2
    assert (c.lo, c.hi) == pytest.approx([q * math.exp(-T3 * se_c / q), q * math.exp(T3 * se_c)])
    assert stats.mean_ci(counts).lo < 0 < c.lo
    # a t interval within the bounds is kept as it is
    inside = [0.4, 0.5, 0.6]
    assert stats.bounded_ci(inside, (0.0, 1.0)) == stats.mean_ci(inside)
    # every value on a bound: a zero-width interval; no bounds: the t interval
    assert stats.bounded_ci([1.0, 1.0, 1.0], (0.0, 1.0)).hi == 1.0
    assert stats.bounded_ci(x) == plain


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=30),
    st.sampled_from([(0.0, 1.0), (0.0, None), (None, 1.0)]),
)
def test_bounded_interval_never_leaves_its_bounds(values: list[float], bounds: tuple) -> None:
    ci = stats.bounded_ci(values, bounds)
    lo_b, hi_b = bounds
    assert ci.n == len(values)
    assert ci.lo <= ci.mean + 1e-12 and ci.mean <= ci.hi + 1e-12
    if lo_b is not None:
        assert ci.lo >= lo_b
    if hi_b is not None:
        assert ci.hi <= hi_b


def test_survival_by_hand() -> None:
    s = stats.survival([3, 5, np.nan, 8, np.nan], 10)
    # KM: S(3) = 4/5, S(5) = 4/5 * 3/4 = 0.6, S(8) = 0.6 * 2/3 = 0.4 -> median 8
    assert (s.n, s.reached, s.share) == (5, 3, pytest.approx(0.6))
    assert s.median == 8
    # RMST = 3 * 1 + 2 * 0.8 + 3 * 0.6 + 2 * 0.4 = mean(min(T, 10)) = 36 / 5
    assert s.rmst == pytest.approx(7.2)
    assert s.rmst == pytest.approx(np.mean(stats.restricted([3, 5, np.nan, 8, np.nan], 10)))
    z, p, n = 1.959963984540054, 0.6, 5
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (s.share_lo, s.share_hi) == pytest.approx((centre - half, centre + half))


def test_survival_with_runs_of_different_length() -> None:
    # censored at 4 (a short run) and at 10: KM S(2) = 3/4, S(6) = 3/4 * 1/2; median 6;
    # the restriction is the shortest run: RMST to 4 = 2 * 1 + 2 * 0.75
    s = stats.survival([2, np.nan, 6, np.nan], [10, 4, 10, 10])
    assert (s.reached, s.median, s.horizon) == (2, 6, 4)
    assert s.rmst == pytest.approx(3.5)
    never = stats.survival([np.nan, np.nan], 20)
    assert (never.reached, never.rmst) == (0, 20) and math.isnan(never.median)
    assert never.share_lo == 0 and 0 < never.share_hi < 1


def test_holm_and_fdr_by_hand() -> None:
    p = [0.01, 0.04, 0.03, np.nan]
    # Holm: sorted 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> max so far 0.06
    assert stats.adjust(p, "holm")[:3] == pytest.approx([0.03, 0.06, 0.06])
    # BH: 0.01 x 3/1 = 0.03, 0.03 x 3/2 = 0.045, 0.04 x 3/3 = 0.04 -> min from the top
    assert stats.adjust(p, "fdr")[:3] == pytest.approx([0.03, 0.04, 0.04])
    assert math.isnan(stats.adjust(p)[3])  # a test that could not be made stays out
    assert stats.adjust(p, "none")[:3] == pytest.approx(p[:3])
    with pytest.raises(ValueError, match="holm, fdr, none"):
        stats.adjust(p, "bonferroni")
