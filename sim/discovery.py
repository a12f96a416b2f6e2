"""Scenario discovery: in which scenarios does planning beat incremental search?

Analysis only: everything here reads a sweep's results table (:mod:`sim.store`); nothing runs a
model. The design it expects (``conf/experiment/where_planning_wins.yaml``) crosses a sampled
set of *scenarios* (the uncertainties: the problem, the strategy's parameters, the
organisation's size, the levers; ``x.<setting>`` columns, one ``sample`` index per scenario)
with a grid of *policies* (``strategy.name`` x ``org.name``). Every policy meets every scenario on
the same random streams, so planning and incremental are compared per scenario, in pairs:

* :func:`paired_scenarios` -- one row per (scenario, organisation form): the scenario's settings
  and the difference planning - incremental in an outcome (``mean_performance``).
* :func:`prim_box` -- PRIM (the EMA workbench) on "planning beats incremental": the peeling
  trajectory (coverage vs density) and one chosen box with its limits and quasi-p-values.
* :func:`cart_rules` -- CART as a second view: the tree and its leaves.
* :func:`feature_scores` -- extra-trees feature scores of what drives the difference.
* :func:`robustness` -- every policy across scenarios: mean, 10th percentile, regret against the
  best policy of each scenario, and the share of scenarios meeting a threshold.

Its report (``orgsim-report SWEEP_DIR``) is :mod:`sim.report.scenarios`, which imports this
module; this module imports nothing from the reports.

The factors given to PRIM and CART are the values the model saw: a sampled integer factor
(``problem.k``) is its floored setting column, not the sampler's raw ``x.`` value, so a box
limit such as ``problem.k <= 4`` reads as it is.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

OUTCOME = "mean_performance"
STRATEGY = "strategy.name"
ORG = "org.name"
#: the organisation form as a (categorical) input of PRIM, CART and the feature scores
ORG_FACTOR = "org"
#: "meets the threshold" in the robustness table (cf. sim.metrics.TARGET_SHARE)
THRESHOLD = 0.9


class DiscoveryError(ValueError):
    """A table that this analysis cannot use (no sampled scenarios, no pairs): one clear line."""


@contextlib.contextmanager
def _quiet() -> Any:
    """The workbench warns on import (optional parallel back-ends) and logs every PRIM step."""
    logging.getLogger("EMA").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _workbench() -> tuple[Any, Any, Any, Any]:
    with _quiet():
        from ema_workbench.analysis import cart, feature_scoring, prim
        from ema_workbench.analysis import scenario_discovery_util as sdutil
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim, cart, feature_scoring, sdutil


# --- the paired table ---------------------------------------------------------------------------
def factor_names(runs: pd.DataFrame) -> list[str]:
    """The sampled factors (the uncertainties), from the table's ``x.<setting>`` columns."""
    return [c.removeprefix("x.") for c in runs.columns if c.startswith("x.")]


def scenario_factors(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario (``sample``): the value of every factor the model saw.

    A factor's setting column is used where the table has it (integer factors floored, as run);
    the sampler's raw ``x.`` value otherwise. Integer settings stay integers, so PRIM peels them
    as discrete variables."""
    names = factor_names(runs)
    if "sample" not in runs or not names:
        raise DiscoveryError(
            "the table has no sampled scenarios (no `sample` and `x.*` columns): scenario "
            "discovery needs a sampled design such as experiment=where_planning_wins"
        )
    cols = {n: (n if n in runs else f"x.{n}") for n in names}
    first = runs.drop_duplicates("sample").set_index("sample").sort_index()
    out = pd.DataFrame({n: first[c] for n, c in cols.items()}, index=first.index)
    for n in names:
        if n in runs and pd.api.types.is_integer_dtype(runs[n]):
            out[n] = out[n].astype("int64")
        else:
            out[n] = out[n].astype(float)
    return out


def paired_scenarios(
    runs: pd.DataFrame,
    outcome: str = OUTCOME,
    a: str = "incremental",
    b: str = "planning",
) -> pd.DataFrame:
    """One row per (scenario, organisation form) in which both strategies ran ok.

    Columns: ``sample``, ``org`` (the form), every factor (:func:`scenario_factors`), ``a`` and
    ``b`` (the outcome of each strategy, averaged over replications) and ``diff`` = b - a.
    Pairs share the scenario, the form and the random streams (common random numbers)."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    for col in (STRATEGY, ORG, outcome):
        if col not in runs:
            raise DiscoveryError(f"the table has no `{col}` column")
    factors = scenario_factors(runs)
    cell = ok.groupby(["sample", ORG, STRATEGY])[outcome].mean().unstack(STRATEGY)
    missing = [s for s in (a, b) if s not in cell]
    if missing:
        raise DiscoveryError(
            f"no ok runs of strategy {', '.join(missing)}: the design must cross "
            f"strategy={a},{b} with the scenarios"
        )
    pairs = cell[[a, b]].dropna().reset_index().rename(columns={ORG: ORG_FACTOR})
    if pairs.empty:
        raise DiscoveryError(f"no scenario in which both {a} and {b} ran ok")
    pairs["diff"] = pairs[b] - pairs[a]
    pairs = pairs.join(factors, on="sample")
    return pairs[["sample", ORG_FACTOR, *factors.columns, a, b, "diff"]]


def inputs_of(pairs: pd.DataFrame) -> pd.DataFrame:
    """The inputs of PRIM/CART/feature scoring: the factors, plus the form as a category when
    the pairs span more than one form."""
    names = [c for c in pairs.columns if c not in ("sample", ORG_FACTOR, "diff")]
    names = [c for c in names if "." in c]  # settings; the strategies' outcome columns have none
    x = pairs[names].reset_index(drop=True).copy()
    if ORG_FACTOR in pairs and pairs[ORG_FACTOR].nunique() > 1:
        x[ORG_FACTOR] = pd.Categorical(pairs[ORG_FACTOR].astype(str).to_numpy())
    return x


def _floats(x: pd.DataFrame) -> pd.DataFrame:
    """Integer factors as floats: the workbench writes limits such as 3.5 into a copy of the
    input's columns (PRIM's pasting, CART's boxes), which pandas >= 2 refuses for an integer
    column (ema_workbench 3.0). The limits of an integer factor may so fall between levels."""
    x = x.reset_index(drop=True).copy()
    for c in x.columns:
        if pd.api.types.is_integer_dtype(x[c]):
            x[c] = x[c].astype(float)
    return x


# --- PRIM ---------------------------------------------------------------------------------------
@dataclass
class PrimResult:
    """PRIM's peeling trajectory and the chosen box."""

    trajectory: pd.DataFrame  # id, coverage, density, mass, res_dim, n, k; one row per box
    chosen: int  # the trajectory row of the chosen box
    limits: pd.DataFrame  # factor, min, max, full_min, full_max, qp_min, qp_max
    base_rate: float  # share of cases of interest in all the data

    @property
    def box(self) -> pd.Series:
        return self.trajectory.loc[self.chosen]


def _fmt_lim(v: Any) -> Any:
    if isinstance(v, set | frozenset):
        return ", ".join(sorted(map(str, v)))
    return v


def prim_box(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    mass_min: float = 0.05,
    peel_alpha: float = 0.05,
    min_density: float | None = None,
) -> PrimResult:
    """PRIM on a boolean outcome ``y`` (True: a case of interest) over the inputs ``x``.

    The box is chosen from the peeling trajectory: the one with the largest F1 score (harmonic
    mean of coverage and density), among the boxes with ``density >= min_density`` if given.
    Quasi-p-values are the workbench's one-sided binomial tests of each restriction
    (Bryant & Lempert 2010); NaN for a side that is not restricted."""
    prim, _, _, sdutil = _workbench()
    y = np.asarray(y, dtype=bool)
    if y.shape[0] != len(x):
        raise DiscoveryError(f"{len(x)} input rows but {y.shape[0]} outcomes")
    if not y.any():
        raise DiscoveryError("no case of interest (planning never wins): PRIM has nothing to find")
    x = _floats(x)
    with _quiet():
        alg = prim.Prim(
            x,
            y.astype(int),
            peel_alpha=peel_alpha,
            mass_min=mass_min,
        )
        box = alg.find_box()
    traj = box.peeling_trajectory.copy()
    traj = traj[["id", "coverage", "density", "mass", "res_dim", "n", "k"]].astype(
        {"id": int, "res_dim": int, "n": int, "k": int}
    )
    cov, den = traj["coverage"].to_numpy(float), traj["density"].to_numpy(float)
    f1 = np.where(cov + den > 0, 2 * cov * den / np.maximum(cov + den, 1e-12), 0.0)
    eligible = np.ones(len(traj), bool) if min_density is None else den >= min_density
    if not eligible.any():
        eligible = np.ones(len(traj), bool)
    chosen = int(np.flatnonzero(eligible)[np.argmax(f1[eligible])])
    lims = box.box_lims[chosen]
    init = alg.box_init
    restricted = sdutil._determine_restricted_dims(lims, init)
    qps = box.p_values[chosen]
    rows = []
    for name in restricted:
        qp = [np.nan if v == -1 else float(v) for v in qps.get(name, [-1, -1])]
        rows.append(
            {
                "factor": name,
                "min": _fmt_lim(lims.loc[0, name]),
                "max": _fmt_lim(lims.loc[1, name]),
                "full_min": _fmt_lim(init.loc[0, name]),
                "full_max": _fmt_lim(init.loc[1, name]),
                "qp_min": qp[0],
                "qp_max": qp[1],
            }
        )
    limits = pd.DataFrame(
        rows, columns=["factor", "min", "max", "full_min", "full_max", "qp_min", "qp_max"]
    )
    return PrimResult(traj.reset_index(drop=True), chosen, limits, float(y.mean()))


# --- CART and feature scores --------------------------------------------------------------------
@dataclass
class CartResult:
    text: str  # the tree as indented rules (sklearn's export_text)
    leaves: pd.DataFrame  # one row per leaf: rule, coverage, density, mass, res_dim


def cart_rules(
    x: pd.DataFrame, y: np.ndarray, *, mass_min: float = 0.05, max_depth: int = 4
) -> CartResult:
    """CART (the workbench's wrapper of scikit-learn's tree) on the boolean outcome ``y``."""
    _, cart, _, sdutil = _workbench()
    from sklearn.tree import export_text

    y = np.asarray(y, dtype=bool)
    with _quiet():
        model = cart.CART(_floats(x), y, mass_min=mass_min)
        model.build_tree()
        stats = model.stats
        boxes = model.boxes
    init = sdutil._make_box(model.x)
    rows = []
    for box, st in zip(boxes, stats, strict=True):
        restricted = sdutil._determine_restricted_dims(box, init)
        parts = []
        for name in restricted:
            lo, hi = box.loc[0, name], box.loc[1, name]
            if isinstance(lo, set | frozenset):
                parts.append(f"{name} in {{{_fmt_lim(lo)}}}")
                continue
            if lo != init.loc[0, name]:
                parts.append(f"{name} >= {lo:.4g}")
            if hi != init.loc[1, name]:
                parts.append(f"{name} <= {hi:.4g}")
        rows.append(
            {
                "rule": " and ".join(parts) or "(everything)",
                "coverage": float(st["coverage"]),
                "density": float(st["density"]),
                "mass": float(st["mass"]),
                "res_dim": int(st["res dim"]),
            }
        )
    leaves = pd.DataFrame(rows).sort_values("density", ascending=False).reset_index(drop=True)
    text = export_text(model.clf, feature_names=list(model.feature_names), max_depth=max_depth)
    return CartResult(text.replace(model.sep, "="), leaves)


def feature_scores(x: pd.DataFrame, y: dict[str, np.ndarray], seed: int = 0) -> pd.DataFrame:
    """Extra-trees feature scores (the workbench's default global scoring) of each outcome in
    ``y``: a boolean outcome is scored as a classification, a float one as a regression.
    One row per input, one column per outcome, sorted by the first outcome."""
    _, _, fs, sdutil = _workbench()
    cols = []
    with _quiet():
        for name, values in y.items():
            values = np.asarray(values)
            mode = (
                sdutil.RuleInductionType.CLASSIFICATION
                if values.dtype == bool
                else sdutil.RuleInductionType.REGRESSION
            )
            scores, _ = fs.get_ex_feature_scores(
                x.reset_index(drop=True),
                values.astype(int) if values.dtype == bool else values.astype(float),
                mode=mode,
                random_state=seed,
            )
            cols.append(scores.rename(columns={1: name}))
    out = pd.concat(cols, axis=1)
    out.index.name = "factor"
    return out.sort_values(next(iter(y)), ascending=False).reset_index()


# --- robustness ---------------------------------------------------------------------------------
def policy_outcomes(runs: pd.DataFrame, outcome: str = OUTCOME) -> pd.DataFrame:
    """Scenarios x policies: the outcome of every policy (``strategy / org``) in every scenario,
    averaged over replications; only scenarios in which every policy ran ok."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    wide = ok.groupby(["sample", STRATEGY, ORG])[outcome].mean().unstack([STRATEGY, ORG])
    wide.columns = [f"{s} / {o}" for s, o in wide.columns]
    return wide.dropna().sort_index(axis=1)


def robustness(wide: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Robustness of every policy (a column of ``wide``) across the scenarios (its rows).

    ``mean``, ``p10`` (10th percentile), ``min``; ``mean_regret`` and ``max_regret``: the
    shortfall against the best policy of the same scenario; ``share_best``: share of scenarios
    in which the policy is (one of) the best; ``share_ok``: share with outcome >= threshold.
    Sorted by maximum regret (the minimax-regret policy first)."""
    if wide.empty:
        raise DiscoveryError("no scenario in which every policy ran ok")
    values = wide.to_numpy(float)
    best = values.max(axis=1, keepdims=True)
    regret = best - values
    out = pd.DataFrame(
        {
            "policy": wide.columns,
            "mean": values.mean(axis=0),
            "p10": np.percentile(values, 10, axis=0),
            "min": values.min(axis=0),
            "mean_regret": regret.mean(axis=0),
            "max_regret": regret.max(axis=0),
            "share_best": (regret <= 1e-12).mean(axis=0),
            f"share_ge_{threshold:g}": (values >= threshold).mean(axis=0),
            "scenarios": len(wide),
        }
    )
    return out.sort_values(["max_regret", "mean"], ascending=[True, False]).reset_index(drop=True)
