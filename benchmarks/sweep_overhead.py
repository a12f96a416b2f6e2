"""Sweep overhead: how much of the machine a Hydra joblib sweep really uses.

Runs the same N short runs twice, in the same process run of this script:

1. a plain Python loop (``InnovationModel(cfg).run()``, no Hydra, no files), whose time divided
   by the number of workers is the ideal parallel time;
2. ``orgsim -m seed=range(0,N) ...`` through the joblib launcher (all cores), wall time from
   command start to the finished sweep table, validation at the door and table building
   included.

Parallel efficiency = ideal / actual (1.0 is perfect; the target is >= 0.85). It then measures
the two per-run costs that a sweep adds, in-process: Hydra composition of one job's config
(what each joblib job does) and writing a run folder (parquet, json, plot, checksums).

Each Hydra job costs a fixed ~0.1-0.3 s (composition, process hand-over); ``batch=B`` runs B
replications per job to amortise it, which is what makes short runs efficient.

Usage: ``.venv/bin/python benchmarks/sweep_overhead.py [--runs 200] [--steps 60] [--batch 25]``
(not a test: about three minutes on two cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--batch", type=int, default=25, help="replications per sweep job (1: a job per run)"
    )
    parser.add_argument("--plot", action="store_true", help="write a plot per run (slower)")
    args = parser.parse_args()

    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    from hydra import compose, initialize_config_dir

    from sim import store
    from sim.config import CONF_DIR, RunConfig, register_schema
    from sim.model import InnovationModel
    from sim.sweep import model_config

    n, steps, workers, batch = args.runs, args.steps, args.workers, args.batch
    overrides = [f"steps={steps}"]
    print(
        f"sweep overhead: {n} runs of {steps} steps, {workers} workers (cores: {os.cpu_count()}),"
        f" batch={batch}, plot={'true' if args.plot else 'false'}"
    )

    # 1. the plain loop: the model's work alone (the very runs the sweep makes)
    t0 = time.perf_counter()
    for r in range(n):
        run = RunConfig(steps=steps, replications=n, replication=r)
        InnovationModel(model_config(run)).run().summary()
    loop = time.perf_counter() - t0
    ideal = loop / workers

    # 2. the same runs through `orgsim -m` and the joblib launcher
    work = Path(tempfile.mkdtemp(prefix="orgsim-bench-"))
    exe = Path(sys.executable).parent / "orgsim"
    cmd = [
        str(exe), "-m", f"replications={n}", f"batch={batch}", *overrides,
        f"plot={'true' if args.plot else 'false'}", f"hydra.launcher.n_jobs={workers}",
    ]  # fmt: skip
    t0 = time.perf_counter()
    result = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    parallel = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"orgsim failed:\n{result.stderr[-3000:]}")
    table = pd.read_parquet(next(work.glob("results/sweeps/*/*/table.parquet")))
    assert len(table) == n and (table["status"] == "ok").all()
    model_time = table["meta.duration_s"].sum()

    # 3. per-run costs, in-process: composing one job's config, writing one run folder
    register_schema()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        compose(config_name="config", overrides=overrides)
        t0 = time.perf_counter()
        for seed in range(20):
            compose(config_name="config", overrides=[*overrides, f"seed={seed}"])
        t_compose = (time.perf_counter() - t0) / 20
    model = InnovationModel(model_config(RunConfig(seed=0, steps=steps))).run()
    ts, summary, out = model.timeseries(), model.summary(), work / "write"
    t0 = time.perf_counter()
    for seed in range(20):
        cfg = model_config(RunConfig(seed=10_000 + seed, steps=steps))
        store.write_run(out, cfg, ts, summary, {"duration_s": 0.0}, plot=True)
    t_write = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    for seed in range(20):
        cfg = model_config(RunConfig(seed=20_000 + seed, steps=steps))
        store.write_run(out, cfg, ts, summary, {"duration_s": 0.0}, plot=False)
    t_write_noplot = (time.perf_counter() - t0) / 20
    shutil.rmtree(work, ignore_errors=True)

    per_run_model = loop / n
    overhead = (parallel * workers - loop) / n
    print(f"plain loop:            {loop:8.1f} s  ({per_run_model * 1000:.0f} ms per run)")
    print(f"ideal parallel:        {ideal:8.1f} s  (loop / {workers} workers)")
    print(f"orgsim -m (joblib):    {parallel:8.1f} s  (command start to sweep table)")
    print(f"parallel efficiency:   {ideal / parallel:8.2f}    (target >= 0.85)")
    print(f"model time in jobs:    {model_time:8.1f} s  (sum of meta.duration_s)")
    print(f"total overhead/run:    {overhead * 1000:8.0f} ms (workers x wall - loop, per run)")
    print(f"  Hydra composition:   {t_compose * 1000:8.0f} ms per job")
    print(f"  result writing:      {t_write * 1000:8.0f} ms per run with plot "
          f"({t_write_noplot * 1000:.0f} ms without: plot=false)")  # fmt: skip
    load = os.getloadavg()
    print(f"load average at end:   {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
