"""Paired comparison of the arms of one factor in a results table: the analysis behind
``orgsim-report SWEEP --compare FACTOR`` and ``orgsim-compare``.

Why paired: the engine gives replication r of every cell the same seeds (common random
numbers), so two arms of a factor that differ in nothing else met the same problems and the same
people. A *pair* is two runs with the same settings except the compared factor (and the
settings of its preset) and the same seed and replication; every difference is estimated on
pairs, which is far more precise than comparing two independent means.

What a row says (every number with the ``n`` behind it):

* ``diff_mean``, ``diff_lo``, ``diff_hi``: B - A with its t interval (level 95%), kept within
  the range a difference can take for a bounded outcome;
* ``d_z``: mean difference / sd of the differences (a standardised effect);
* ``share_b_better`` (B higher) and ``share_b_wins`` (B better in the outcome's declared
  direction; NaN for an outcome with no better direction), ``share_ties``;
* ``p_value`` (paired t test) and ``p_adj``: adjusted with Holm (or Benjamini-Hochberg) over
  the family of every cell x arm x outcome tested together; ``significant`` uses ``p_adj``;
* a censored outcome (``time_to_90``) is compared on restricted times min(T, run length), so
  a run that never reached 90% counts as taking the whole run instead of being dropped;
  ``reached_a`` / ``reached_b`` say in how many of the pairs' runs it was reached.

Everything here reads a table in the store's format (:mod:`sim.store`) and the outcomes'
declared meaning (:mod:`sim.outcomes`); nothing runs a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import outcomes as meta
from sim import stats, store

#: the columns whose runs share seeds across cells: a pooled difference averages over cells
#: within each of them first, so that its interval counts independent units
CLUSTER = ("seed", "replication")
#: per-cell tests need at least this many pairs per cell, and at most this many cells
MIN_PAIRS = 2
MAX_CELLS = 200


class AnalysisError(ValueError):
    """A comparison that cannot be made as asked (unknown factor or outcome, a factor with one
    value): one line that names the setting and what is allowed."""


@dataclass
class PairedAnalysis:
    """The comparison of ``arms`` against ``reference`` on the values of ``factor``."""

    factor: str
    reference: Any
    arms: list[Any]
    outcomes: list[str]
    cells: list[str]
    pair_on: list[str]
    correction: str
    per_cell: pd.DataFrame  # cells..., arm, outcome, pairs, diff_*, d_z, share_*, p_value, p_adj
    pooled: pd.DataFrame  # arm, outcome, pairs, units, diff_*, ...: over every cell
    arm_means: pd.DataFrame  # cells..., arm, outcome: n, mean, lo, hi (+ censored summary)
    notes: list[str] = field(default_factory=list)


# --- what can be compared -----------------------------------------------------------------------
def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"] if "status" in table else table


def preset_group(factor: str) -> str | None:
    """``strategy`` for ``strategy.name``: a preset's settings change with its name."""
    return factor.rsplit(".", 1)[0] if factor.endswith(".name") else None


def comparable(table: pd.DataFrame) -> list[str]:
    """The settings that vary in the table: what ``--compare`` can name."""
    return [c for c in store.factor_columns(_ok(table)) if not c.startswith("x.")]


def pair_columns(table: pd.DataFrame, factor: str) -> list[str]:
    """The columns two runs must share to be a pair: every setting (seeds included) except
    the factor and, for a preset's name, the preset's own settings."""
    group = preset_group(factor)
    return [
        c
        for c in store.setting_columns(table)
        if c != factor and not (group and c.startswith(group + "."))
    ]


def _arm_list(values: pd.Series) -> list[Any]:
    return list(dict.fromkeys(values.dropna().tolist()))


def check_request(
    table: pd.DataFrame,
    factor: str,
    outcomes: list[str] | None = None,
    reference: str | None = None,
    by: list[str] | None = None,
) -> tuple[list[str], Any, list[str]]:
    """Validate a comparison before anything is computed or written; return the outcomes, the
    reference arm and the cells. Raises :class:`AnalysisError` with one line."""
    allowed = comparable(table)
    shown = ", ".join(allowed) or "none (every run has the same settings)"
    if factor in store.SEED_COLUMNS:
        raise AnalysisError(
            f"--compare {factor}: seeds and replications are what pairs share, not a factor; "
            f"the settings that vary: {shown}"
        )
    if factor not in table.columns or factor not in store.setting_columns(table):
        raise AnalysisError(
            f"--compare {factor}: not a setting of this sweep; the settings that vary: {shown}"
        )
    ok = _ok(table)
    arms = _arm_list(ok[factor])
    if len(arms) < 2:
        raise AnalysisError(
            f"--compare {factor}: it does not vary in this sweep (every ok run has "
            f"{factor}={arms[0] if arms else 'nothing'}); the settings that vary: {shown}"
        )
    present = meta.in_table(table.columns)
    if outcomes is None:
        chosen = [o for o in meta.headline() if o in present]
    else:
        unknown = [o for o in outcomes if o not in present]
        if unknown:
            raise AnalysisError(
                f"--outcomes {','.join(unknown)}: not an outcome of this table; the outcomes: "
                + ", ".join(present)
            )
        chosen = list(dict.fromkeys(outcomes))
    if not chosen:
        raise AnalysisError(
            "--outcomes: this table has no declared outcome (see sim.metrics.OUTCOMES)"
        )
    ref: Any = arms[0]
    if reference is not None:
        match = [a for a in arms if str(a) == str(reference)]
        if not match:
            raise AnalysisError(
                f"--reference {reference}: not a value of {factor} in this sweep; its values: "
                + ", ".join(map(str, arms))
            )
        ref = match[0]
    group = preset_group(factor)
    others = [c for c in allowed if c != factor and not (group and c.startswith(group + "."))]
    if by is None:
        cells = others
    else:
        bad = [c for c in by if c not in others]
        if bad:
            raise AnalysisError(
                f"--by {','.join(bad)}: not another setting that varies in this sweep; "
                f"allowed: {', '.join(others) or 'none'}"
            )
        cells = list(dict.fromkeys(by))
    return chosen, ref, cells


# --- pairs --------------------------------------------------------------------------------------
def _keyed(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    if not keys:
        return pd.Series("", index=df.index)
    # str of every value (NaN and None included), joined: equal settings give equal keys
    # whatever the column's dtype
    parts = [df[k].map(str) for k in keys]
    return pd.Series(["\x1f".join(t) for t in zip(*parts, strict=True)], index=df.index)


def pairs(
    table: pd.DataFrame,
    factor: str,
    a: Any,
    b: Any,
    outcomes: list[str],
    pair_on: list[str],
    cells: list[str],
) -> pd.DataFrame:
    """One row per pair: the cells' values, ``<outcome>_a``, ``<outcome>_b`` and, for a censored
    outcome, ``<outcome>_horizon`` (the shorter run length of the pair)."""
    ok = _ok(table)
    carry = list(dict.fromkeys([*cells, *(c for c in CLUSTER if c in pair_on)]))
    keep = list(dict.fromkeys([*carry, *pair_on, *outcomes]))
    sides = []
    for arm, tag in ((a, "_a"), (b, "_b")):
        side = ok.loc[ok[factor] == arm, [c for c in keep if c in ok]].copy()
        side["_key"] = _keyed(side, pair_on)
        side[f"_steps{tag}"] = ok.loc[side.index, "steps"] if "steps" in ok else np.nan
        side = side.rename(columns={o: f"{o}{tag}" for o in outcomes})
        value_cols = [f"{o}{tag}" for o in outcomes] + [f"_steps{tag}"]
        grouped = side.groupby("_key", sort=False)
        first = grouped[[c for c in carry if c in side]].first()
        sides.append(first.join(grouped[value_cols].mean()))
    both = sides[0].join(sides[1][[c for c in sides[1].columns if c not in carry]], how="inner")
    for o in outcomes:
        o_meta = meta.lookup(o)
        if o_meta is not None and o_meta.censored:
            horizon = pd.Series(np.fmin(both["_steps_a"], both["_steps_b"]), index=both.index)
            if horizon.isna().all():  # no run length in the table: the longest time observed
                longest = np.nanmax(both[[f"{o}_a", f"{o}_b"]].to_numpy(float))
                horizon = pd.Series(longest, index=both.index)
            both[f"{o}_horizon"] = horizon.astype(float)
    return both.reset_index(drop=True)


def _row(
    a: np.ndarray, b: np.ndarray, outcome: str, level: float, horizon: float | None = None
) -> dict[str, float]:
    """One paired difference with the outcome's declared direction and bounds (a censored
    outcome's restricted times lie within [its lower bound, ``horizon``])."""
    o = meta.lookup(outcome)
    pdiff = stats.paired_difference(a, b, level)
    row = pdiff.as_dict()
    if o is not None:
        bounds = o.bounds
        if o.censored and horizon is not None:
            bounds = (o.bounds[0] if o.bounds[0] is not None else 0.0, horizon)
        ci = stats.clip_interval(pdiff.diff, stats.difference_bounds(bounds))
        row.update(diff_lo=ci.lo, diff_hi=ci.hi)
    d = b - a
    d = d[~np.isnan(d)]
    better = o.better if o is not None else "higher"
    if better == "higher":
        row["share_b_wins"] = pdiff.share_b_better
    elif better == "lower":
        row["share_b_wins"] = float(np.mean(d < -1e-12)) if d.size else float("nan")
    else:
        row["share_b_wins"] = float("nan")
    row["pairs"] = pdiff.n
    return row


def _censored_extra(p: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Restricted times of both sides and how many of the pairs' runs reached the event."""
    h = p[f"{outcome}_horizon"].to_numpy(float)
    ta, tb = p[f"{outcome}_a"].to_numpy(float), p[f"{outcome}_b"].to_numpy(float)
    extra = {
        "reached_a": int(np.sum(~np.isnan(ta) & (ta <= h))),
        "reached_b": int(np.sum(~np.isnan(tb) & (tb <= h))),
        "horizon": float(np.min(h)) if h.size else float("nan"),
    }
    return stats.restricted(ta, h), stats.restricted(tb, h), extra


def _values(p: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray, dict]:
    o = meta.lookup(outcome)
    if o is not None and o.censored:
        return _censored_extra(p, outcome)
    return p[f"{outcome}_a"].to_numpy(float), p[f"{outcome}_b"].to_numpy(float), {}


def _pooled_row(
    p: pd.DataFrame, outcome: str, cluster: list[str], level: float
) -> dict[str, float]:
    """Over every pair; when cells share seeds (``cluster``), the differences are averaged
    within each cluster first and the interval, p and d_z are over clusters (``units``)."""
    a, b, extra = _values(p, outcome)
    horizon = extra.get("horizon")
    row = _row(a, b, outcome, level, horizon)
    units = row["pairs"]
    keys = [c for c in cluster if c in p]
    if keys:
        frame = pd.DataFrame({"a": a, "b": b, "_c": _keyed(p, keys).to_numpy()}).dropna()
        grouped = frame.groupby("_c")[["a", "b"]].mean()
        if 2 <= len(grouped) < len(frame):
            shares = {k: row[k] for k in ("share_b_better", "share_b_wins", "share_ties")}
            row = _row(grouped["a"].to_numpy(), grouped["b"].to_numpy(), outcome, level, horizon)
            row.update(shares, pairs=len(frame))
            units = len(grouped)
    row["units"] = units
    row.update(extra)
    return row


def analyse(
    table: pd.DataFrame,
    factor: str,
    outcomes: list[str] | None = None,
    reference: Any = None,
    *,
    by: list[str] | None = None,
    pair_on: list[str] | None = None,
    cluster: list[str] | tuple[str, ...] = CLUSTER,
    correction: str = "holm",
    level: float = stats.LEVEL,
) -> PairedAnalysis:
    """Compare every other value of ``factor`` with ``reference`` (default: the first value in
    the table), on ``outcomes`` (default: the headline outcomes), per cell of ``by`` (default:
    the other settings that vary) and pooled over cells. Pairs match on ``pair_on`` (default
    :func:`pair_columns`). Raises :class:`AnalysisError` for a request that cannot be made."""
    if correction not in stats.CORRECTIONS:
        raise AnalysisError(f"--correction {correction}: use one of {', '.join(stats.CORRECTIONS)}")
    if pair_on is None:
        chosen, ref, cells = check_request(table, factor, outcomes, reference, by)
        pair_on = pair_columns(table, factor)
    else:  # an explicit design (orgsim-compare): arms, cells and pairing keys are given
        chosen = list(outcomes or [o for o in meta.headline() if o in table])
        cells = list(by or [])
        arms_all = _arm_list(_ok(table)[factor])
        ref = reference if reference is not None else arms_all[0]
    arms = [x for x in _arm_list(_ok(table)[factor]) if x != ref]
    notes: list[str] = []
    cell_rows: list[dict[str, Any]] = []
    pooled_rows: list[dict[str, Any]] = []
    for arm in arms:
        p = pairs(table, factor, ref, arm, chosen, pair_on, cells)
        if p.empty:
            notes.append(f"{factor}={arm} has no run paired with {factor}={ref}")
            continue
        for outcome in chosen:
            pooled_rows.append(
                {"arm": arm, "outcome": outcome, **_pooled_row(p, outcome, list(cluster), level)}
            )
        if not cells:
            continue
        groups = p.groupby(cells, sort=True, dropna=False)
        if len(groups) > MAX_CELLS or groups.size().median() < MIN_PAIRS:
            notes.append(
                f"{factor}={arm}: {len(groups)} cells with a median of "
                f"{groups.size().median():g} pair(s) each: per-cell tests left out (at most "
                f"{MAX_CELLS} cells of at least {MIN_PAIRS} pairs); choose fewer cells with --by"
            )
            continue
        for key, sub in groups:
            key = key if isinstance(key, tuple) else (key,)
            for outcome in chosen:
                a, b, extra = _values(sub, outcome)
                cell_rows.append(
                    {
                        **dict(zip(cells, key, strict=True)),
                        "arm": arm,
                        "outcome": outcome,
                        **_row(a, b, outcome, level, extra.get("horizon")),
                        **extra,
                    }
                )
    per_cell = pd.DataFrame(cell_rows)
    pooled = pd.DataFrame(pooled_rows)
    for df in (per_cell, pooled):
        if not df.empty:
            df["p_adj"] = stats.adjust(df["p_value"], correction)
            df["significant"] = df["p_adj"] < 1 - level
    return PairedAnalysis(
        factor,
        ref,
        arms,
        chosen,
        cells,
        list(pair_on),
        correction,
        per_cell,
        pooled,
        arm_means(table, factor, chosen, cells, level),
        notes,
    )


# --- each arm on its own ------------------------------------------------------------------------
def arm_means(
    table: pd.DataFrame,
    factor: str,
    outcomes: list[str],
    cells: list[str],
    level: float = stats.LEVEL,
) -> pd.DataFrame:
    """Per cell and arm: every outcome's mean with an interval that respects its bounds
    (:func:`sim.stats.bounded_ci`) and n; a censored outcome's share reached (k of n), its
    Kaplan-Meier median and restricted mean time instead (:func:`sim.stats.survival`)."""
    ok = _ok(table)
    rows = []
    for key, sub in ok.groupby([*cells, factor], sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip([*cells, "arm"], key, strict=True))
        for outcome in outcomes:
            rows.append({**labels, "outcome": outcome, **summarise(sub, outcome, level)})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, outcome: str, level: float = stats.LEVEL) -> dict[str, Any]:
    """One group of runs' summary of ``outcome`` by its declared kind (``n`` always)."""
    o = meta.lookup(outcome)
    if o is not None and o.censored:
        horizon = runs["steps"] if "steps" in runs else np.nanmax(runs[outcome].to_numpy(float))
        s = stats.survival(runs[outcome], horizon, level)
        return {
            "n": s.n,
            "mean": s.rmst,
            "lo": float("nan"),
            "hi": float("nan"),
            "reached": s.reached,
            "share_reached": s.share,
            "share_lo": s.share_lo,
            "share_hi": s.share_hi,
            "km_median": s.median,
            "rmst": s.rmst,
            "horizon": s.horizon,
        }
    ci = stats.bounded_ci(runs[outcome], o.bounds if o else (None, None), level)
    return {"n": ci.n, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi}


def describe(row: pd.Series | dict[str, Any], digits: int = 3) -> str:
    """A summary row as text: 'mean [lo, hi]', or for a censored outcome 'reached 7/10, KM
    median 23, restricted mean 31.2 (of 60)'."""
    if "reached" in row and not pd.isna(row.get("reached")):
        median = row["km_median"]
        med = "beyond the run" if pd.isna(median) else f"{median:g}"
        return (
            f"reached {int(row['reached'])}/{int(row['n'])}, KM median {med}, restricted mean "
            f"{row['rmst']:.{max(digits - 2, 1)}f} (of {row['horizon']:g})"
        )
    return stats.fmt_ci(row["mean"], row["lo"], row["hi"], digits)
