"""Hydra callbacks: build the sweep's one table when a multirun ends.

Registered in ``conf/config.yaml`` under ``hydra.callbacks``; it runs in the launching process
after every job of the sweep has finished (under any launcher, Slurm included), so the table is
built from the pointers and run folders on disk, never from in-memory return values.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim import store
from sim.sweep import comparison


class SweepTable(Callback):
    """On multirun end: write table.parquet/table.csv/timeseries.parquet, print a comparison."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = str(config.hydra.sweep.dir)
        table = store.write_tables(sweep_dir)
        print(comparison(table), flush=True)
        print(f"sweep table: {sweep_dir}/{store.TABLE}", flush=True)
        print(f"all timeseries: {sweep_dir}/{store.TIMESERIES}", flush=True)
        failed = table[table["status"] != "ok"] if not table.empty else table
        for _, row in failed.iterrows():
            print(f"run {row['run_id']} {row['status']}: {row['error']}", file=sys.stderr)
