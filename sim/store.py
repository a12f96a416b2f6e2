"""The results store: content-addressed run folders, sweep pointers, and one table per sweep.

Table columns (what :func:`collect` returns; other tools read this section)
---------------------------------------------------------------------------
One row per run of a sweep, in job order, each run at most once (deduplicated by ``run_id``):

* ``run_id`` -- the run's content address (see below); ``job`` -- Hydra's job number in the
  sweep; ``status`` -- ``ok``, ``failed`` (the run raised) or ``missing`` (its folder is absent,
  partial or corrupt, so its results are NOT read); ``error`` -- one line for failed/missing
  runs, ``""`` otherwise.
* run-level keys: ``experiment``, ``replications``, ``replication``.
* every setting of the model's config, flattened with dots: ``problem.name``, ``problem.n``,
  ``problem.k``, ..., ``org.name``, ``org.employees``, ..., ``levers.cocreation``, ...,
  ``strategy.name``, ..., ``steps``, ``seed``, ``problem_seed``, ``agent_seed`` (the two seeds
  as actually used: derived from ``seed`` and ``replication`` unless given). Lists (e.g.
  ``problem.shock_at``) are JSON strings.
* every final outcome of :data:`sim.metrics.SUMMARY_FIELDS` (``mean_performance``,
  ``final_performance``, ``time_to_90``, ..., ``mean_satisfaction_g0``, ...): NaN for runs that
  are not ``ok``.
* provenance, prefixed ``meta.``: ``meta.reused`` (this sweep found the run already in the
  store), ``meta.duration_s``, ``meta.host``, ``meta.finished_at``, ``meta.slurm_job_id``
  (empty outside Slurm), ``meta.orgsim_version``. Drop ``meta.*`` to compare two sweeps.

:func:`collect_timeseries` returns the timeseries of all ``ok`` runs as one table: ``run_id``,
the run-level and flattened config columns above, then :data:`sim.metrics.TIMESERIES_COLUMNS`.

Layout on disk
--------------
::

    <results_dir>/runs/<run_id>/            one folder per run, shared by every sweep
        config.yaml   the resolved model config (the run's identity)
        timeseries.parquet, summary.json, meta.json, performance.png
        COMPLETE.json the completion marker, written last: sizes and sha256 of the files
    <results_dir>/runs/.tmp-<run_id>-<random>/   a run being written (never read)
    <results_dir>/sweeps/<experiment>/<time>/    one folder per sweep (hydra.sweep.dir)
        <job>/orgsim_run.json   pointer: run_id, status, error, run-level keys, config
        table.parquet, table.csv, timeseries.parquet   built by :func:`write_tables`

Why content-addressed: a run's id is a hash of its resolved model config (seeds included) and
the orgsim version, so the same configuration is computed once, a second identical sweep reuses
every run, and an interrupted sweep is finished by running it again. A run folder is written
under a temporary name, its marker written last, then renamed into place in one step, so a
folder at ``runs/<run_id>/`` is either complete or absent; the marker's checksums also catch
later corruption. Failed runs are not stored as runs (running again retries them); their error
is in the sweep's pointer and so in the table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.config import OrgsimConfig

RUNS = "runs"
MARKER = "COMPLETE.json"
POINTER = "orgsim_run.json"
TABLE = "table.parquet"
TIMESERIES = "timeseries.parquet"
RUN_FILES = ("config.yaml", "timeseries.parquet", "summary.json", "meta.json")
RUN_LEVEL_KEYS = ("experiment", "replications", "replication")


def orgsim_version() -> str:
    """The installed orgsim version: part of a run's id, so a new release recomputes."""
    try:
        return metadata.version("orgsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def config_dict(cfg: OrgsimConfig) -> dict[str, Any]:
    """The model's config as a plain nested dict (only the model's fields, no run-level keys)."""
    names = [f.name for f in dataclasses.fields(OrgsimConfig)]
    full = dataclasses.asdict(cfg)
    return {name: full[name] for name in names}


def run_id(cfg: OrgsimConfig) -> str:
    """Content address of a run: sha256 of the canonical JSON of its model config + version."""
    payload = json.dumps(
        {"config": config_dict(cfg), "orgsim": orgsim_version()}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"problem": {"k": 3}}`` -> ``{"problem.k": 3}``; lists become JSON strings."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(list(value))
        else:
            out[name] = value
    return out


def runs_dir(results_dir: str | os.PathLike[str]) -> Path:
    """The store of run folders under ``results_dir``."""
    return Path(results_dir) / RUNS


def run_path(results_dir: str | os.PathLike[str], rid: str) -> Path:
    """Where run ``rid`` lives (whether or not it exists yet)."""
    return runs_dir(results_dir) / rid


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_complete(path: str | os.PathLike[str], verify: bool = True) -> bool:
    """Whether a run folder is complete: marker present and every file the size (and, with
    ``verify``, the sha256) the marker records. Partial or corrupt folders are never read."""
    folder = Path(path)
    try:
        marker = json.loads((folder / MARKER).read_text())
        for name, info in marker["files"].items():
            file = folder / name
            if file.stat().st_size != info["size"]:
                return False
            if verify and _sha256(file) != info["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def write_run(
    results_dir: str | os.PathLike[str],
    cfg: OrgsimConfig,
    timeseries: pd.DataFrame,
    summary: dict[str, float],
    meta: dict[str, Any],
    plot: bool = True,
) -> Path:
    """Write a run folder atomically and return its final path.

    Everything goes into ``runs/.tmp-<id>-<random>/``; the marker is written last; the folder is
    then renamed to ``runs/<id>/``. If another process finished the same run first, its folder
    wins and ours is discarded (same config, same results).
    """
    rid = run_id(cfg)
    final = run_path(results_dir, rid)
    tmp = runs_dir(results_dir) / f".tmp-{rid}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        (tmp / "config.yaml").write_text(yaml.safe_dump(config_dict(cfg), sort_keys=False))
        timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
        (tmp / "meta.json").write_text(json.dumps({"run_id": rid, **meta}, indent=1))
        names = list(RUN_FILES)
        if plot:
            plot_performance(timeseries, tmp / "performance.png", title=f"run {rid}")
            names.append("performance.png")
        files = {n: {"size": (tmp / n).stat().st_size, "sha256": _sha256(tmp / n)} for n in names}
        (tmp / MARKER).write_text(json.dumps({"run_id": rid, "files": files}, indent=1))
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_complete(final):
                # a partial folder under the final name (copied by hand?): replace it
                shutil.rmtree(final, ignore_errors=True)
                os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def plot_performance(ts: pd.DataFrame, path: Path, title: str = "") -> None:
    """A small performance-over-time plot, shocks marked. Drawn on a bare Agg ``Figure`` (no
    pyplot, no layout engine): headless, thread-safe, and a few ms instead of ~100 ms."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3), dpi=80)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.9)
    ax = fig.add_subplot()
    ax.plot(ts["step"], ts["performance"], lw=1.5)
    for step in ts.loc[ts["shock"] == 1, "step"]:
        ax.axvline(step, color="tab:red", lw=0.6, alpha=0.5)
    ax.set(xlabel="step (week)", ylabel="performance", ylim=(0, 1.02), title=title)
    fig.savefig(path)


def load_run(path: str | os.PathLike[str], verify: bool = True) -> dict[str, Any] | None:
    """Config, summary and meta of a complete run folder, or None if it is not complete."""
    folder = Path(path)
    if not is_complete(folder, verify=verify):
        return None
    return {
        "config": yaml.safe_load((folder / "config.yaml").read_text()),
        "summary": json.loads((folder / "summary.json").read_text()),
        "meta": json.loads((folder / "meta.json").read_text()),
    }


def load_timeseries(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The timeseries of a complete run folder, or None if it is not complete."""
    folder = Path(path)
    if not is_complete(folder):
        return None
    return pd.read_parquet(folder / "timeseries.parquet")


def pointer_name(index: int = 0) -> str:
    """A job's pointer file: ``orgsim_run.json`` for its first run, ``orgsim_run.<i>.json`` for
    the i-th run of a job that runs a batch of replications."""
    return POINTER if index == 0 else POINTER.replace(".json", f".{index}.json")


def write_pointer(job_dir: str | os.PathLike[str], record: dict[str, Any], index: int = 0) -> Path:
    """Write a sweep job's pointer (``orgsim_run.json``, or its ``index``-th) atomically."""
    path = Path(job_dir) / pointer_name(index)
    tmp = path.with_name(f".{POINTER}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)
    return path


def read_pointers(sweep_dir: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """``(job number, pointer)`` for every run of every job folder of a sweep, in job order
    (and, within a job that ran a batch of replications, in replication order)."""
    out = []
    for path in Path(sweep_dir).glob("*/" + POINTER.replace(".json", "*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        job = int(path.parent.name) if path.parent.name.isdigit() else -1
        index = path.name.removeprefix(POINTER.removesuffix(".json")).strip(".").split(".")[0]
        out.append((job, int(index) if index.isdigit() else 0, record))
    return [(job, record) for job, _, record in sorted(out, key=lambda item: item[:2])]


def _unique(pointers: Iterable[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    seen: set[str] = set()
    out = []
    for job, rec in pointers:
        if rec.get("run_id") in seen:
            continue
        seen.add(rec.get("run_id", ""))
        out.append((job, rec))
    return out


def _row(job: int, rec: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """One table row from a pointer; the run folder is read only if complete."""
    row: dict[str, Any] = {
        "run_id": rec["run_id"],
        "job": job,
        "status": rec.get("status", "missing"),
        "error": rec.get("error") or "",
    }
    row.update({k: rec.get("run", {}).get(k) for k in RUN_LEVEL_KEYS})
    row.update(flatten(rec.get("config", {})))
    folder = Path(rec["run_dir"]) if rec.get("run_dir") else None
    if row["status"] != "ok":
        return row, None
    run = load_run(folder) if folder is not None else None
    if run is None:
        row["status"] = "missing"
        row["error"] = f"run folder {folder} is missing, partial or corrupt: run the sweep again"
        return row, None
    row.update(flatten(run["config"]))
    row.update(run["summary"])
    meta = run["meta"]
    row.update(
        {
            "meta.reused": bool(rec.get("reused", False)),
            "meta.duration_s": meta.get("duration_s"),
            "meta.host": meta.get("host", ""),
            "meta.finished_at": meta.get("finished_at", ""),
            "meta.slurm_job_id": meta.get("slurm_job_id") or "",
            "meta.orgsim_version": meta.get("orgsim_version", ""),
        }
    )
    return row, folder


def _rows(sweep_dir: str | os.PathLike[str]) -> list[tuple[dict[str, Any], Path | None]]:
    return [_row(job, rec) for job, rec in _unique(read_pointers(sweep_dir))]


def _table(rows: list[tuple[dict[str, Any], Path | None]]) -> pd.DataFrame:
    df = pd.DataFrame([row for row, _ in rows])
    if df.empty:
        return df
    meta = [c for c in df.columns if c.startswith("meta.")]
    return df[[c for c in df.columns if c not in meta] + meta].reset_index(drop=True)


def _timeseries(rows: list[tuple[dict[str, Any], Path | None]]) -> pd.DataFrame:
    frames = []
    for row, folder in rows:
        ts = load_timeseries(folder) if folder is not None else None
        if ts is None:
            continue
        keys = {
            k: v
            for k, v in row.items()
            if (k in ("run_id", *RUN_LEVEL_KEYS) or "." in k) and not k.startswith("meta.")
        }
        frames.append(pd.concat([pd.DataFrame([keys] * len(ts)), ts], axis=1))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def collect(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The sweep's table: one row per run (see the module docstring for the columns)."""
    return _table(_rows(sweep_dir))


def collect_timeseries(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The timeseries of every ``ok`` run of a sweep as one table (run and config columns
    first, then the timeseries columns)."""
    return _timeseries(_rows(sweep_dir))


def write_tables(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Build and write ``table.parquet`` (+ ``table.csv``) and ``timeseries.parquet`` into the
    sweep folder (each run folder read once); return the table."""
    folder = Path(sweep_dir)
    rows = _rows(folder)
    table = _table(rows)
    table.to_parquet(folder / TABLE, index=False)
    table.to_csv(folder / "table.csv", index=False)
    _timeseries(rows).to_parquet(folder / TIMESERIES, index=False)
    return table
