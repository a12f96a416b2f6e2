"""Check records and the statistics every classic check shares.

Why one record type: the validation report puts every check in one table (check, source, what
the paper reports, what orgsim got with a 95% interval, tolerance, pass/fail), so each module
returns the same record and the report never needs to know which model produced it.

Tolerances are fixed here, before any run, and never tuned to make a check pass:

- an *equality* with a theoretical value passes when the theory lies within ``Z_TOL = 3``
  standard errors of our estimate (a 99.7% band: with some twenty checks in the suite, a 95%
  band would fail about one correct check per run by chance alone);
- a *direction* ("A beats B", "X falls as Y rises") passes when the 95% interval of the
  difference lies entirely on the claimed side of zero (a significant difference, not just the
  right sign);
- a comparison with values *read off a published figure* passes when the gap is at most the
  reading error stated with the figure values plus ``Z_TOL`` standard errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile: the interval reported for every value
Z_TOL = 3.0  # standard errors allowed around a theoretical value (see module docstring)

Plot = Callable[..., None]  # draws on a matplotlib Axes


@dataclass
class CheckResult:
    """One row of the validation table.

    ``value``/``lo``/``hi`` are orgsim's statistic and its 95% interval; ``passed`` is decided by
    the rule described in ``tolerance``; ``figure`` names the PNG (in the report's figure folder)
    that shows the evidence.
    """

    name: str
    source: str
    paper: str
    value: float
    lo: float
    hi: float
    tolerance: str
    passed: bool
    note: str = ""
    figure: str | None = None

    def orgsim(self, digits: int = 3) -> str:
        """'value [lo, hi]' for the table."""
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


@dataclass
class Outcome:
    """What a classic module returns: its check records and the figures that back them.

    ``figures`` maps a PNG file name to a function drawing on one matplotlib Axes; the figures
    are drawn by :mod:`sim.classics.validate` so that the models never import a plotting backend.
    """

    records: list[CheckResult]
    figures: dict[str, Plot] = field(default_factory=dict)


# --- statistics -------------------------------------------------------------------------------
def mean_se(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of independent replicate values (one per run or landscape)."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def ci(mean: float, se: float) -> tuple[float, float]:
    """Normal 95% interval."""
    return mean - Z95 * se, mean + Z95 * se


def equality_check(
    name: str,
    source: str,
    paper: str,
    theory: float,
    samples: np.ndarray | None = None,
    *,
    mean: float | None = None,
    se: float | None = None,
    note: str = "",
    figure: str | None = None,
) -> CheckResult:
    """Pass when the theoretical value lies within Z_TOL standard errors of the estimate."""
    if samples is not None:
        mean, se = mean_se(samples)
    assert mean is not None and se is not None
    lo, hi = ci(mean, se)
    tol = Z_TOL * se
    return CheckResult(
        name=name,
        source=source,
        paper=paper,
        value=mean,
        lo=lo,
        hi=hi,
        tolerance=f"|orgsim - {theory:.4g}| <= 3 SE = {tol:.3g}",
        passed=bool(abs(mean - theory) <= tol),
        note=note,
        figure=figure,
    )


def greater_check(
    name: str,
    source: str,
    paper: str,
    diffs: np.ndarray | None = None,
    *,
    mean: float | None = None,
    se: float | None = None,
    what: str = "difference",
    note: str = "",
    figure: str | None = None,
    threshold: float = 0.0,
) -> CheckResult:
    """Pass when the 95% interval of a difference (claimed positive) lies above zero, or above
    ``threshold`` (a minimal effect fixed before running), not just above zero.

    ``diffs`` are replicate differences (paired where the arms share random numbers), or give
    ``mean`` and ``se`` of an unpaired difference directly.
    """
    if diffs is not None:
        mean, se = mean_se(diffs)
    assert mean is not None and se is not None
    lo, hi = ci(mean, se)
    return CheckResult(
        name=name,
        source=source,
        paper=paper,
        value=mean,
        lo=lo,
        hi=hi,
        tolerance=(
            f"{what} > 0 with 95% CI above 0"
            if threshold == 0
            else f"{what} >= {threshold:g} with 95% CI above {threshold:g}"
        ),
        passed=bool(lo > threshold),
        note=note,
        figure=figure,
    )


def unpaired_diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of mean(a) - mean(b) for independent samples."""
    ma, sa = mean_se(a)
    mb, sb = mean_se(b)
    return ma - mb, float(np.hypot(sa, sb))


def spawn(seed: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """Independent child seeds: one stream per arm, landscape or replicate."""
    return list(seed.spawn(n))
