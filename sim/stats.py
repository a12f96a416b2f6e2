"""Statistics for sweeps and comparisons: t-based means with intervals and paired differences.

Why these and no more: the runs of one cell are independent replications, so a t interval on
their mean is the honest summary (reviewers expect one per number, with the number of runs
behind it). Compared arms meet the same problems replication by replication (common random
numbers), so a difference is estimated on the *pairs*: the paired interval is much narrower than
the difference of two independent intervals, and the share of pairs in which B beats A is the
plain-language version of the same fact.

NaNs are dropped, never imputed; the ``n`` that goes with every number says how many runs are
left. Two kinds of outcome need more than a t interval (their kind is declared once, in
:data:`sim.metrics.OUTCOMES`):

* bounded ones (performance and shares in [0, 1], counts >= 0): :func:`bounded_ci` is the t
  interval computed on a logit (or log) scale of the mean and mapped back, so it stays inside
  the bounds however few runs or how close to a bound the mean is, and is close to the plain
  t interval away from the bounds;
* censored ones (``time_to_90``: NaN means *not reached by the end of the run*): dropping the
  NaNs would keep only the fast runs. :func:`survival` reports how many runs reached it, the
  Kaplan-Meier median and the restricted mean time (the area under the Kaplan-Meier curve up
  to the run length), and paired comparisons use the restricted times ``min(T, run length)``.

Many tests at once (cells x outcomes) are adjusted with Holm (default) or Benjamini-Hochberg
(:func:`adjust`, statsmodels' ``multipletests``); a paired difference carries its standardised
size ``d_z`` = mean difference / sd of the differences.
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

    @property
    def d_z(self) -> float:
        """Standardised paired effect: mean difference / sd of the differences (Cohen's d_z);
        NaN with fewer than two pairs or differences that do not vary."""
        sd = self.diff.sd
        if self.diff.n < 2 or not sd > 0:
            return float("nan")
        return float(self.diff.mean / sd)

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = self.diff.as_dict("diff_")
        out.update(
            share_b_better=self.share_b_better,
            share_ties=self.share_ties,
            p_value=self.p_value,
            mean_a=self.mean_a,
            mean_b=self.mean_b,
            d_z=self.d_z,
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
    df: pd.DataFrame,
    by: list[str],
    outcomes: list[str],
    level: float = LEVEL,
    bounds: dict[str, tuple[float | None, float | None]] | None = None,
) -> pd.DataFrame:
    """Tidy table: one row per cell and outcome with mean, lo, hi, n, sd; an outcome with
    ``bounds`` gets :func:`bounded_ci`."""
    rows = []
    bounds = bounds or {}
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        for outcome in outcomes:
            if outcome in bounds:
                ci = bounded_ci(sub[outcome], bounds[outcome], level)
            else:
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


# --- bounded outcomes ---------------------------------------------------------------------------
Bounds = tuple[float | None, float | None]


def bounded_ci(
    values: Sequence[float] | np.ndarray | pd.Series,
    bounds: Bounds = (None, None),
    level: float = LEVEL,
) -> Interval:
    """The mean's t interval (:func:`mean_ci`) when it lies within ``bounds``; otherwise the
    same t interval computed on a scale on which it cannot leave them, mapped back.

    With both bounds ``(a, b)``: p = (mean - a) / (b - a) and the interval is
    ``expit(logit(p) +- t_{n-1} * se_p / (p (1 - p)))`` on [a, b] (the delta method's standard
    error of logit(p)); with one bound it is the log of the distance to it. Why: a t interval
    on a mean near 1 (performance) or near 0 (a rare count) runs past the bound, which no
    mean can; a transformed interval stays inside, is asymmetric where it should be, and keeps
    the t quantile (so few runs still widen it). Where the plain t interval is inside the
    bounds it is kept, so most numbers read as the familiar mean +- t * se. A mean *on* a bound
    (every value there) gets a zero-width interval, as it does without bounds.
    """
    lo_b, hi_b = bounds
    plain = mean_ci(values, level)
    if (lo_b is None and hi_b is None) or plain.n < 2 or not np.isfinite(plain.lo):
        return plain
    if (lo_b is None or plain.lo >= lo_b) and (hi_b is None or plain.hi <= hi_b):
        return plain
    m, n, sd = plain.mean, plain.n, plain.sd
    t = float(sps.t.ppf(0.5 + level / 2, n - 1))
    se = sd / np.sqrt(n)
    if lo_b is not None and hi_b is not None:
        width = hi_b - lo_b
        p = (m - lo_b) / width
        if not 0 < p < 1 or se == 0:
            return Interval(m, m, m, n, sd)
        half = t * (se / width) / (p * (1 - p))
        centre = np.log(p / (1 - p))
        lo, hi = (lo_b + width * float(sps.logistic.cdf(centre + s)) for s in (-half, half))
    elif lo_b is not None:
        q = m - lo_b
        if not q > 0 or se == 0:
            return Interval(m, m, m, n, sd)
        lo, hi = (lo_b + q * float(np.exp(s * t * se / q)) for s in (-1, 1))
    else:
        assert hi_b is not None
        q = hi_b - m
        if not q > 0 or se == 0:
            return Interval(m, m, m, n, sd)
        lo, hi = (hi_b - q * float(np.exp(s * t * se / q)) for s in (1, -1))
    # the transforms are monotone, so the ends are inside the bounds up to rounding
    lo = lo if lo_b is None else max(lo, lo_b)
    hi = hi if hi_b is None else min(hi, hi_b)
    return Interval(m, lo, hi, n, sd)


def difference_bounds(bounds: Bounds) -> Bounds:
    """The range of a difference of two values within ``bounds``: [a - b, b - a]."""
    lo_b, hi_b = bounds
    if lo_b is None or hi_b is None:
        return (None, None)
    return (lo_b - hi_b, hi_b - lo_b)


def clip_interval(ci: Interval, bounds: Bounds) -> Interval:
    """A difference's t interval kept within the range a difference can take (it leaves that
    range only with very few, very spread pairs; clipping loses no coverage, since the true
    difference is inside the range)."""
    lo_b, hi_b = bounds
    lo = ci.lo if lo_b is None or np.isnan(ci.lo) else max(ci.lo, lo_b)
    hi = ci.hi if hi_b is None or np.isnan(ci.hi) else min(ci.hi, hi_b)
    return Interval(ci.mean, lo, hi, ci.n, ci.sd)


# --- censored outcomes (time to an event that may not happen within the run) ----------------
@dataclass(frozen=True)
class Survival:
    """A time-to-event outcome over a group of runs, each observed up to its run length.

    ``reached``/``n``: runs in which the event happened, with a Wilson interval on the share
    (which stays in [0, 1]); ``median``: the Kaplan-Meier median, the first time at which the
    estimated share not yet reached is <= 1/2 (NaN: fewer than half reached it: the median is
    beyond the run); ``rmst``: the restricted mean time, the area under the Kaplan-Meier curve
    up to ``horizon`` (the shortest run length in the group): a mean that counts a run which
    never reached the event as taking the whole run, so it never drops the slow runs.
    """

    n: int
    reached: int
    share: float
    share_lo: float
    share_hi: float
    median: float
    rmst: float
    horizon: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def survival(
    times: Sequence[float] | np.ndarray | pd.Series,
    horizons: float | Sequence[float] | np.ndarray | pd.Series,
    level: float = LEVEL,
) -> Survival:
    """Kaplan-Meier summary of ``times`` (NaN: not reached), each run censored at its
    ``horizons`` (its run length; one number for all). Uses statsmodels' ``SurvfuncRight``."""
    from statsmodels.duration.survfunc import SurvfuncRight
    from statsmodels.stats.proportion import proportion_confint

    t = np.asarray(times, dtype=float)
    h = np.broadcast_to(np.asarray(horizons, dtype=float), t.shape).astype(float)
    keep = ~np.isnan(h)
    t, h = t[keep], h[keep]
    n = int(t.size)
    nan = float("nan")
    if n == 0:
        return Survival(0, 0, nan, nan, nan, nan, nan, nan)
    event = ~np.isnan(t) & (t <= h)
    duration = np.where(event, t, h)
    reached = int(event.sum())
    share_lo, share_hi = proportion_confint(reached, n, alpha=1 - level, method="wilson")
    horizon = float(h.min())
    if reached == 0:
        return Survival(n, 0, 0.0, float(share_lo), float(share_hi), nan, horizon, horizon)
    sf = SurvfuncRight(duration, event.astype(int))
    st, sp = np.asarray(sf.surv_times, float), np.asarray(sf.surv_prob, float)
    below = np.flatnonzero(sp <= 0.5 + 1e-12)  # products of fractions: 0.5 up to rounding
    median = float(st[below[0]]) if below.size else nan
    # area under the step function S(t) (1 before the first event) from 0 to the horizon
    edges = np.concatenate([[0.0], st[st < horizon], [horizon]])
    heights = np.concatenate([[1.0], sp[st < horizon]])
    rmst = float(np.sum(heights * np.diff(edges)))
    return Survival(
        n, reached, reached / n, float(share_lo), float(share_hi), median, rmst, horizon
    )


def restricted(
    times: Sequence[float] | np.ndarray | pd.Series,
    horizons: float | Sequence[float] | np.ndarray | pd.Series,
) -> np.ndarray:
    """``min(T, horizon)`` per run, with a run that never reached the event at its horizon:
    the values whose mean is the restricted mean time (when every run has the same horizon)
    and whose paired differences compare two arms without dropping the slow runs."""
    t = np.asarray(times, dtype=float)
    h = np.broadcast_to(np.asarray(horizons, dtype=float), t.shape)
    return np.where(np.isnan(t), h, np.minimum(t, h))


# --- many tests at once -------------------------------------------------------------------------
CORRECTIONS = {"holm": "holm", "fdr": "fdr_bh", "none": None}


def adjust(p_values: Sequence[float] | np.ndarray | pd.Series, method: str = "holm") -> np.ndarray:
    """p-values adjusted for the family they are given in: ``holm`` (family-wise error,
    the default), ``fdr`` (Benjamini-Hochberg false discovery rate) or ``none``. NaN p-values
    (tests that could not be made) stay NaN and do not count in the family."""
    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise ValueError(f"correction={method}: use one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if not ok.any():
        return out
    if CORRECTIONS[method] is None:
        out[ok] = p[ok]
    else:
        out[ok] = multipletests(p[ok], method=CORRECTIONS[method])[1]
    return out
