"""The full where_planning_wins experiment: its wall time through ``orgsim -m`` against a plain
loop over the same runs divided by the cores, and the time of its analysis (issue 11,
Performance).

    nice -n 10 .venv/bin/python benchmarks/where_planning_wins.py SWEEP_DIR [--sample 300]

``SWEEP_DIR`` is a stored sweep of ``orgsim -m experiment=where_planning_wins`` (default: the
newest under ``/work/runs/sweeps/where_planning_wins/``). What it reports, and how far to trust
each figure:

* **The sweep's wall time** is the ``wall_time_s`` that ``orgsim -m`` recorded in the sweep's
  ``sweep.json`` (from the command's start to the table written), with the number of runs and
  of cores it recorded (``cpu_count``, ``workers``). It was measured when the sweep ran (the
  dates are printed); the machine's load at that time is unknown (this is a 2-core machine
  shared by several people), so it is one observation, not a controlled measurement. Should a
  sweep.json hold no wall time, the span between the first and the last ``meta.finished_at``
  of the table is used instead (it misses the start-up before the first run and the time of
  the first run itself), and the output says so.
* **The plain loop** runs a uniform random subsample of the sweep's runs (``--sample``,
  seeded) one after the other in this one process, each through the engine's own function
  (``sim.engine.compute``: ``nested``/``config_of`` of the run's settings, the model, its
  summary; no timeseries kept, as in the sweep), its settings read from the sweep's table
  (``sim.store.setting_columns``). It checks that each run reproduces the stored outcomes
  (the model code's fingerprint may have changed since the sweep ran; the outcomes must not).
  The loop's time is then **extrapolated** to all runs (mean per run x number of runs; runs
  differ in cost, e.g. with ``org.employees``, so the uniform sample gives an estimate with
  the printed 95% interval, not the loop's measured time) and divided by the cores. The
  ratio ``(loop / cores) / sweep wall`` is the share of the ideal speed-up the sweep reached
  (1.0: as fast as a perfect split of a plain loop over the cores). The loop's wall time
  depends on the load of the machine now (printed: load average before and after) and this
  script is meant to be run under ``nice``; its CPU time is printed too, and a ratio from it.
* **The analysis**: ``orgsim-report SWEEP`` as a whole process (Python start-up, imports, the
  table read, every analysis, the figures, the Markdown and HTML), ``--repeats`` times into a
  temporary folder that is deleted afterwards, the median reported; then, in this process,
  the parts of it that are scenario discovery (``sim.discovery``: the pairing, PRIM, CART,
  the feature scores, the robustness table), each the median of ``--repeats``.

``(loop / cores)`` assumes that a run costs as much when every core is busy as when one is.
On a virtual machine whose two vCPUs may share a physical core, or with neighbours' jobs, that
need not hold; so the same subsample is also run as one plain loop per core at the same time
(spawned processes, each warmed up, started together), and that per-run time extrapolated
the same way (``--no-concurrent`` skips it).

Before the timed loop, one run outside the sample runs untimed (the model's lazy imports are a
once-per-process cost, which a sweep's worker pays once too). For comparison the output also
gives the runs' own times recorded in the sweep (``meta.duration_s``: wall time of each run in
its worker, while the two workers shared the two cores), summed, divided by the cores and by
the sweep's wall time: how busy the workers kept the cores with model work.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim import store

DEFAULT_GLOB = "/work/runs/sweeps/where_planning_wins/*"


def _sweep_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    found = sorted(glob.glob(DEFAULT_GLOB))
    if not found:
        sys.exit(f"no sweep under {DEFAULT_GLOB}: give the sweep folder")
    return Path(found[-1])


def sweep_wall(meta: dict[str, Any], table: Any) -> tuple[float, str]:
    """The sweep's wall time and where it comes from."""
    if meta.get("wall_time_s"):
        return float(meta["wall_time_s"]), (
            f"sweep.json wall_time_s (started {meta.get('started_at')}, "
            f"finished {meta.get('finished_at')})"
        )
    done = table["meta.finished_at"].map(datetime.fromisoformat)
    span = (done.max() - done.min()).total_seconds()
    return span, (
        "NO wall time in sweep.json: first to last meta.finished_at of the table "
        f"({done.min().isoformat()} .. {done.max().isoformat()}; misses the start-up and the "
        "first run)"
    )


def plain_loop(table: Any, sample: int, seed: int) -> dict[str, Any]:
    """Run ``sample`` runs of the table, uniformly drawn, one after the other in this process."""
    from sim.engine import compute
    from sim.provenance import code_fingerprint, git_state

    code_fingerprint(), git_state()  # once per process, as in a sweep's worker
    ok = table[table["status"] == "ok"]
    picked = ok.sample(n=min(sample, len(ok)), random_state=seed)
    settings = store.setting_columns(table)
    outcomes = store.outcome_columns(table)
    flats = picked[settings].to_dict("records")
    # one untimed run outside the sample: the model's lazy imports are paid once per process
    spare = ok.drop(picked.index)
    if len(spare):
        compute("warm-up", spare[settings].iloc[:1].to_dict("records")[0], timeseries=False)
    times, worst, mismatched = [], 0.0, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for (_, stored), flat in zip(picked.iterrows(), flats, strict=True):
        t0 = time.perf_counter()
        row, _ = compute(stored["run_id"], flat, timeseries=False)
        times.append(time.perf_counter() - t0)
        if row["status"] != "ok":
            mismatched += 1
            continue
        for c in outcomes:
            a, b = row.get(c), stored[c]
            if a is None or (isinstance(a, float) and math.isnan(a)):
                same = b is None or (isinstance(b, float) and math.isnan(b))
            else:
                same = abs(float(a) - float(b)) <= 1e-12
                worst = max(worst, abs(float(a) - float(b)))
            mismatched += not same
    return {
        "n": len(times),
        "wall": time.perf_counter() - wall0,
        "cpu": time.process_time() - cpu0,
        "times": np.array(times),
        "stored": picked["meta.duration_s"].to_numpy(float),
        "mismatched": mismatched,
        "values": len(times) * len(outcomes),
        "worst": worst,
    }


def _timed_half(flats: list[dict[str, Any]], start_at: float) -> tuple[float, float, int]:
    """In a worker: one untimed warm-up run, wait for the common start, then the loop."""
    from sim.engine import compute

    compute("warm-up", flats[0], timeseries=False)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for flat in flats:
        compute("check", flat, timeseries=False)
    return time.perf_counter() - wall0, time.process_time() - cpu0, len(flats)


def concurrent_loops(table: Any, sample: int, seed: int, cores: int) -> dict[str, float]:
    """The same subsample split over ``cores`` plain loops running at the same time (one
    process each): does a run cost the same when every core is busy?"""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ok = table[table["status"] == "ok"]
    picked = ok.sample(n=min(sample, len(ok)), random_state=seed)
    flats = picked[store.setting_columns(table)].to_dict("records")
    parts = [flats[i::cores] for i in range(cores)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(cores, mp_context=context) as pool:
        start_at = time.time() + 8.0  # after every worker has imported and warmed up
        outs = list(pool.map(_timed_half, parts, [start_at] * cores))
    runs = sum(n for _, _, n in outs)
    return {
        "per_run": sum(w for w, _, _ in outs) / runs,  # wall seconds per run, in each loop
        "cpu_per_run": sum(c for _, c, _ in outs) / runs,
        "span": max(w for w, _, _ in outs),
    }


def time_report(sweep: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``orgsim-report SWEEP`` as a whole process, ``repeats`` times."""
    exe = Path(sys.executable).with_name("orgsim-report")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "sim.report"]
    walls, cpus = [], []
    for _ in range(repeats):
        out = tempfile.mkdtemp(prefix="wpw-report-")
        try:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([*cmd, str(sweep), "--out", out], check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return walls, cpus


def time_discovery(sweep: Path, repeats: int) -> dict[str, float]:
    """Median seconds of each scenario-discovery step, in this process (warm imports)."""
    from sim import discovery as d
    from sim.report.load import load_sweep

    d._workbench()  # the EMA workbench's import (about a second) is not part of a step
    steps: dict[str, list[float]] = {}

    def timed(name: str, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        value = fn(*args)
        steps.setdefault(name, []).append(time.perf_counter() - t0)
        return value

    for _ in range(repeats):
        runs = timed("load the sweep (table, sweep.json)", load_sweep, sweep).runs
        pairs = timed("pair the scenarios", d.paired_scenarios, runs)
        x = d.inputs_of(pairs)
        wins = (pairs["diff"] > 0).to_numpy()
        timed("PRIM", d.prim_box, x, wins)
        timed("CART", d.cart_rules, x, wins)
        y = {"planning wins": wins, "difference": pairs["diff"].to_numpy(float)}
        timed("feature scores", d.feature_scores, x, y)
        wide = d.policy_outcomes(runs)
        timed("robustness", d.robustness, wide)
    return {k: statistics.median(v) for k, v in steps.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", nargs="?", help=f"the stored sweep (default: {DEFAULT_GLOB})")
    ap.add_argument("--sample", type=int, default=300, help="runs in the plain loop")
    ap.add_argument("--seed", type=int, default=0, help="seed of the subsample")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the analysis timings")
    ap.add_argument(
        "--no-concurrent", action="store_true", help="skip the loops-on-every-core check"
    )
    args = ap.parse_args(argv)

    sweep = _sweep_dir(args.sweep_dir)
    meta = json.loads((sweep / store.SWEEP_FILE).read_text())
    table = store.read_table(sweep)
    n_runs = int((table["status"] == "ok").sum())
    cores = int(meta.get("cpu_count") or os.cpu_count() or 1)
    wall, source = sweep_wall(meta, table)
    print(f"sweep: {sweep}")
    print(f"  command: {meta.get('command')}")
    print(
        f"  {len(table)} runs ({n_runs} ok), {meta.get('workers')} workers on {cores} cores, "
        f"launcher {meta.get('launcher')}, code fingerprint {meta.get('code_fingerprint')}"
    )
    print(f"  wall time {wall:.1f} s: {source}")
    own = table["meta.duration_s"].sum()
    print(
        f"  the runs' own time as recorded in the sweep (sum of meta.duration_s, wall time in "
        f"the workers): {own:.0f} s; / {cores} cores / sweep wall = {own / cores / wall:.2f}"
    )

    load0 = os.getloadavg()[0]
    loop = plain_loop(table, args.sample, args.seed)
    load1 = os.getloadavg()[0]
    t = loop["times"]
    per_run = t.mean()
    half = 1.96 * t.std(ddof=1) / math.sqrt(len(t))
    est, lo, hi = per_run * n_runs, (per_run - half) * n_runs, (per_run + half) * n_runs
    cpu_est = loop["cpu"] / loop["n"] * n_runs
    print(
        f"plain loop, one process: {loop['n']} runs drawn uniformly (seed {args.seed}) in "
        f"{loop['wall']:.1f} s wall, {loop['cpu']:.1f} s CPU (load average {load0:.1f} before, "
        f"{load1:.1f} after)"
    )
    print(
        f"  {per_run * 1000:.0f} ms per run (the same runs took {loop['stored'].mean() * 1000:.0f}"
        f" ms each inside the sweep); outcomes reproduced: {loop['values'] - loop['mismatched']}"
        f" of {loop['values']} values (max |diff| {loop['worst']:.1e})"
    )
    print(
        f"  CPU / wall of the loop {loop['cpu'] / loop['wall']:.2f} (1.00: it had a core to "
        "itself; lower: other processes took some of it)"
    )
    print(
        f"  extrapolated to {n_runs} runs: {est:.0f} s (95% interval {lo:.0f}..{hi:.0f} s; "
        f"from CPU time {cpu_est:.0f} s); / {cores} cores = {est / cores:.0f} s"
    )
    print(
        f"ratio (loop / cores) / sweep wall = {est / cores / wall:.2f} "
        f"(interval {lo / cores / wall:.2f}..{hi / cores / wall:.2f}; "
        f"from the loop's CPU time {cpu_est / cores / wall:.2f})"
    )
    if cores > 1 and not args.no_concurrent:
        both = concurrent_loops(table, args.sample, args.seed, cores)
        par = both["per_run"] * n_runs / cores
        print(
            f"check of '/ cores': the same {loop['n']} runs as {cores} plain loops at once (one "
            f"process each, spawned, warmed up): {both['per_run'] * 1000:.0f} ms per run in "
            f"each loop ({both['cpu_per_run'] * 1000:.0f} ms CPU), {both['span']:.1f} s for all; "
            f"extrapolated, {par:.0f} s for {n_runs} runs; / sweep wall = {par / wall:.2f}"
        )

    walls, cpus = time_report(sweep, args.repeats)
    print(
        f"orgsim-report SWEEP (whole process, {args.repeats} repeats): median "
        f"{statistics.median(walls):.1f} s wall (runs: {', '.join(f'{w:.1f}' for w in walls)}), "
        f"median {statistics.median(cpus):.1f} s CPU"
    )
    parts = time_discovery(sweep, args.repeats)
    print(f"  of which, in-process (median of {args.repeats}):")
    for name, sec in parts.items():
        print(f"    {name:<36} {sec:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
