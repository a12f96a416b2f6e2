""" "Replay with more runs": every design of the class over many replications, through the engine.

Why: a race is one draw. Thirty organisations on one landscape rank partly by luck (where the
organisation started, who met whom), so the debrief's "self-organisation won" may not survive a
second race. The replay runs each submitted design R times on the class's problem (replication
0 is the race itself, exactly: same seed, same shocks; replications 1..R-1 are new draws of the
landscape and the people, the same draws for every design), as one engine sweep
(:func:`sim.engine.run_design`): same run ids and store as ``orgsim -m``, so a replay that was
run before is reused, and the sweep's folder can be opened with ``orgsim-report``.

The summary gives, per design and per organisation form and strategy, the mean final
performance with a 95% t interval over replications, and how often the design's race result
was beaten by its own replications (how lucky the race was).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.classroom.activity import Activity, Design
from sim.config import ConfigError
from sim.dashboard.labels import display
from sim.design import Design as EngineDesign
from sim.design import Run, expand
from sim.outcomes import lookup
from sim.provenance import code_fingerprint
from sim.stats import bounded_ci

REPLICATIONS_RANGE = (2, 200)
EXPERIMENT = "class_replay"


def check_replications(value: Any) -> int:
    """The replications asked for: a whole number in :data:`REPLICATIONS_RANGE`, or ConfigError."""
    lo, hi = REPLICATIONS_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"Replications must be a whole number from {lo} to {hi}")
    return value


def design_overrides(activity: Activity, design: Design, replications: int) -> list[str]:
    """One class design as engine overrides: the presets, the class's problem with every shock
    of the race (planned and pressed), the levers, R replications of the class's seed."""
    setup = activity.setup
    shocks = ",".join(str(w) for w in activity.shock_weeks)
    problem = [o for o in setup.overrides() if not o.startswith("problem.shock_at=")]
    return [
        f"problem={setup.problem}",
        f"org={design.org}",
        f"strategy={design.strategy}",
        *problem,
        f"problem.shock_at=[{shocks}]",
        *design.overrides(),
        f"replications={replications}",
    ]


def replay_design(activity: Activity, replications: int) -> tuple[EngineDesign, dict[str, str]]:
    """One engine design holding every distinct class design x R replications, labelled by
    ``class_design`` (a readable description); returns it and each participant's label."""
    check_replications(replications)
    with activity.lock:
        designs = {p.pid: p.design for p in activity.racers if p.design is not None}
    if not designs:
        raise ConfigError("no organisation raced: nothing to replay")
    fingerprint = code_fingerprint()
    labels = {pid: d.label() for pid, d in designs.items()}
    runs: list[Run] = []
    base: dict[str, Any] | None = None
    first: EngineDesign | None = None
    for design in dict.fromkeys(designs.values()):  # distinct designs, in joining order
        part = expand(design_overrides(activity, design, replications), fingerprint=fingerprint)
        own_base = part.run_settings["base"]
        if first is None:
            first, base = part, own_base
        assert base is not None
        for run in part.runs:
            full = {**own_base, **run.settings}
            settings = {k: v for k, v in full.items() if base.get(k) != v}
            runs.append(
                Run(
                    run.run_id,
                    {**run.labels, "experiment": EXPERIMENT, "class_design": design.label()},
                    settings,
                )
            )
    assert first is not None
    combined = EngineDesign(
        experiment=EXPERIMENT,
        runs=runs,
        fingerprint=fingerprint,
        base=[f"class activity {activity.code}"],
        replications=replications,
        run_settings=first.run_settings,
    )
    return combined, labels


def run_replay(
    activity: Activity,
    replications: int = 20,
    results_dir: str | os.PathLike[str] = "results",
    jobs: int = 1,
) -> tuple[Path, pd.DataFrame, dict[str, Any]]:
    """Run the replay (reusing what the store has); returns the sweep folder, the run table and
    the summary (:func:`summarise`)."""
    from sim.engine import run_design

    design, labels = replay_design(activity, replications)
    result = run_design(
        design,
        results_dir,
        jobs,
        progress=False,
        timeseries=False,
        command=f"orgsim class activity {activity.code}: replay x{replications}",
    )
    return result.sweep_dir, result.table, summarise(activity, result.table, labels)


def _interval(values: np.ndarray) -> dict[str, Any]:
    """Mean with its 95% t interval, kept inside the outcome's declared bounds (performance: [0, 1]) where the plain
    one would leave them (:func:`sim.stats.bounded_ci`); None ends with fewer than 2 values."""
    declared = lookup("final_performance")
    ci = bounded_ci(values, declared.bounds if declared else (None, None))
    ends = (round(ci.lo, 4), round(ci.hi, 4)) if ci.n >= 2 else (None, None)
    return {"n": ci.n, "mean": round(ci.mean, 4), "low": ends[0], "high": ends[1]}


def summarise(activity: Activity, table: pd.DataFrame, labels: dict[str, str]) -> dict[str, Any]:
    """Per design (with the participants who chose it), per organisation form and per strategy:
    mean final performance over replications with a 95% t interval; per design, the share of its
    replications that did better than its race (0.5 is an average-luck race)."""
    ok = table[table["status"] == "ok"]
    failed = int((table["status"] != "ok").sum())
    race = {pid: activity.history[pid][-1] for pid in labels if activity.history.get(pid)}
    names = {p.pid: p.name for p in activity.racers}
    designs = []
    for label, runs in ok.groupby("class_design", sort=False):
        who = [pid for pid, lab in labels.items() if lab == label]
        finals = runs["final_performance"].to_numpy(dtype=float)
        race_values = [race[pid] for pid in who if pid in race]
        luck = (
            round(float(np.mean(finals > np.mean(race_values) + 1e-9)), 2) if race_values else None
        )
        designs.append(
            {
                "design": label,
                "names": [names[pid] for pid in who if pid in names],
                **_interval(finals),
                "race": round(float(np.mean(race_values)), 4) if race_values else None,
                "share_better_than_race": luck,
            }
        )
    designs.sort(key=lambda d: -d["mean"])
    grouped = {}
    for column, key in (("org.name", "by_form"), ("strategy.name", "by_strategy")):
        rows = []
        for value, runs in ok.groupby(column):
            rows.append(
                {
                    "choice": display(str(value)),
                    **_interval(runs["final_performance"].to_numpy(float)),
                }
            )
        rows.sort(key=lambda r: -r["mean"])
        grouped[key] = rows
    return {
        "replications": int(ok["replication"].nunique()) if len(ok) else 0,
        "runs": len(table),
        "failed": failed,
        "designs": designs,
        **grouped,
    }


def replay_in_background(
    activity: Activity,
    replications: int,
    results_dir: str | os.PathLike[str],
    jobs: int,
    done: Callable[[dict[str, Any]], None],
) -> None:
    """Run :func:`run_replay` and hand ``done`` the summary (or ``{"error": ...}``): the server
    calls this in a thread so the class's pages stay live meanwhile."""
    try:
        sweep_dir, _, summary = run_replay(activity, replications, results_dir, jobs)
        done({**summary, "sweep_dir": str(sweep_dir)})
    except ConfigError as exc:
        done({"error": str(exc)})
    except Exception as exc:  # never a traceback on the projector
        done({"error": f"the replay failed: {type(exc).__name__} (see the server's terminal)"})
        raise
