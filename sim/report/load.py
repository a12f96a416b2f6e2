"""Loading a sweep folder for a report: its table, timeseries and design, through the store's
format (:mod:`sim.store`). Why a module of its own: every analysis starts here, and nothing here
runs a model, so a report can be rebuilt by anyone from the folder alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim import store


class ReportError(RuntimeError):
    """A sweep that cannot be reported on (missing folder, empty table): one clear line."""


@dataclass
class Sweep:
    """A sweep's runs table, its timeseries (if stored) and what produced it."""

    path: Path
    runs: pd.DataFrame
    timeseries: pd.DataFrame | None
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.meta.get("experiment") or "sweep")

    @property
    def ok(self) -> pd.DataFrame:
        if "status" not in self.runs:
            return self.runs
        return self.runs[self.runs["status"] == "ok"]


def load_sweep(sweep_dir: str | Path) -> Sweep:
    """Load a sweep folder written by the engine (``orgsim -m`` or ``sim.sweep``) through the
    store's table format (:mod:`sim.store`); this module imports nothing that runs a model.

    Raises :class:`ReportError` for a missing folder, a folder without a table, an unreadable
    table or an empty one, so the command line can print one line instead of a traceback.
    """
    path = Path(sweep_dir)
    if not path.is_dir():
        raise ReportError(f"no sweep folder at {path}")
    if not (path / store.SWEEP_FILE).is_file() and not (path / store.TABLE).is_file():
        raise ReportError(
            f"{path} is not a sweep folder (no {store.SWEEP_FILE} or {store.TABLE}): give the "
            "folder that `orgsim -m` printed, e.g. results/sweeps/NAME/TIME"
        )
    try:
        runs = store.read_table(path)
        meta = store.read_design(path) if (path / store.SWEEP_FILE).is_file() else {}
    except store.StoreError as exc:
        raise ReportError(str(exc)) from None
    try:
        timeseries = store.read_timeseries(path)
    except store.StoreError as exc:  # the report goes on without the time plots, and says so
        timeseries = None
        meta["timeseries_problem"] = str(exc)
    if runs.empty:
        raise ReportError(f"the results table in {path} has no runs")
    meta = {k: v for k, v in meta.items() if k not in ("runs", "base_settings")}
    if "status" not in runs:
        raise ReportError(
            f"the table in {path} has no status column: not a table written by orgsim "
            "(see the table format in sim/store.py)"
        )
    unnamed = not meta.get("name") or meta.get("name") == "none"
    if unnamed and "experiment" in runs and runs["experiment"].nunique() == 1:
        meta["name"] = str(runs["experiment"].iloc[0])
    if not meta.get("name") or meta.get("name") == "none":
        meta["name"] = "sweep"
    return Sweep(path, runs, timeseries, meta)
