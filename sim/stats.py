"""Statistics for sweeps and comparisons: t-based means with intervals and paired differences.

Why these and no more: the runs of one cell are independent replications, so a t interval on
their mean is the honest summary (reviewers expect one per number, with the number of runs
behind it). Compared arms meet the same problems replication by replication (common random
numbers), so a difference is estimated on the *pairs*: the paired interval is much narrower than
the difference of two independent intervals, and the share of pairs in which B beats A is the
plain-language version of the same fact.

NaNs (e.g. ``time_to_90`` when 90% was never reached) are dropped, never imputed; the ``n`` that
goes with every number says how many runs are left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean with its t-based confidence interval and the number of values behind it."""

    mean: float
    lo: float
    hi: float
    n: int
    sd: float

    def contains(self, value: float) -> bool:
        return bool(self.lo <= value <= self.hi)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def _clean(values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[~np.isnan(arr)]


def mean_ci(values: Sequence[float] | np.ndarray | pd.Series, level: float = LEVEL) -> Interval:
    """Mean and t-based ``level`` interval: mean +- t_{n-1} * sd / sqrt(n).

    One value gives an unbounded interval (NaN ends) rather than a falsely exact one; zero
    variance gives a zero-width interval.
    """
    x = _clean(values)
    n = int(x.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, float("nan"))
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1, float("nan"))
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd)


@dataclass(frozen=True)
class PairedDifference:
    """B - A over paired runs: the mean difference with its interval, and who won how often."""

    diff: Interval
    share_b_better: float  # share of pairs with B > A (ties count for neither side)
    share_ties: float
    p_value: float  # paired t-test, two-sided; NaN when undefined
    mean_a: float
    mean_b: float

    @property
    def n(self) -> int:
        return self.diff.n

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        return bool(self.diff.n > 1 and not self.diff.contains(0.0))

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = self.diff.as_dict("diff_")
        out.update(
            share_b_better=self.share_b_better,
            share_ties=self.share_ties,
            p_value=self.p_value,
            mean_a=self.mean_a,
            mean_b=self.mean_b,
        )
        return out


def paired_difference(
    a: Sequence[float] | np.ndarray | pd.Series,
    b: Sequence[float] | np.ndarray | pd.Series,
    level: float = LEVEL,
    tie_tol: float = 1e-12,
) -> PairedDifference:
    """Paired difference B - A; ``a[i]`` and ``b[i]`` must come from the same replication.

    Pairs where either side is NaN are dropped together, so both arms always rest on the same
    problems.
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape:
        raise ValueError(f"paired arms differ in length: {xa.size} vs {xb.size}")
    keep = ~(np.isnan(xa) | np.isnan(xb))
    xa, xb = xa[keep], xb[keep]
    d = xb - xa
    n = d.size
    if n == 0:
        nan = float("nan")
        return PairedDifference(mean_ci(d, level), nan, nan, nan, nan, nan)
    better = float(np.mean(d > tie_tol))
    ties = float(np.mean(np.abs(d) <= tie_tol))
    if n > 1 and d.std(ddof=1) > 0:
        p = float(sps.ttest_rel(xb, xa).pvalue)
    else:
        p = float("nan") if n < 2 else (1.0 if np.all(np.abs(d) <= tie_tol) else 0.0)
    return PairedDifference(mean_ci(d, level), better, ties, p, float(xa.mean()), float(xb.mean()))


def cell_means(
    df: pd.DataFrame, by: list[str], outcomes: list[str], level: float = LEVEL
) -> pd.DataFrame:
    """Tidy table: one row per cell and outcome with mean, lo, hi, n, sd."""
    rows = []
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        for outcome in outcomes:
            ci = mean_ci(sub[outcome], level)
            rows.append({**dict(zip(by, key, strict=True)), "outcome": outcome, **ci.as_dict()})
    return pd.DataFrame(rows)


def paired_table(
    df: pd.DataFrame,
    arm: str,
    a: object,
    b: object,
    by: list[str],
    outcomes: list[str],
    pair_on: str = "replication",
    level: float = LEVEL,
) -> pd.DataFrame:
    """Paired differences B - A of column ``arm`` within each cell of ``by``, matched on
    ``pair_on`` (the replication index, which carries the common problem seed)."""
    rows = []
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        sa = sub[sub[arm] == a].set_index(pair_on)
        sb = sub[sub[arm] == b].set_index(pair_on)
        common = sa.index.intersection(sb.index)
        for outcome in outcomes:
            pdiff = paired_difference(
                sa.loc[common, outcome].to_numpy(), sb.loc[common, outcome].to_numpy(), level
            )
            rows.append({**dict(zip(by, key, strict=True)), "outcome": outcome, **pdiff.as_dict()})
    return pd.DataFrame(rows)


def fmt_ci(mean: float, lo: float, hi: float, digits: int = 3, signed: bool = False) -> str:
    """'0.812 [0.805, 0.819]' (or with signs for differences); NaN ends print as 'n/a'."""
    f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"

    def one(v: float) -> str:
        return "n/a" if v is None or np.isnan(v) else f.format(v)

    return f"{one(mean)} [{one(lo)}, {one(hi)}]"
