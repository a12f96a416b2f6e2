"""Running one configured run through the store, and what a sweep prints at its end.

The Hydra entry point (:mod:`sim.cli`) is thin: every job calls :func:`run_job`, which derives
the run's seeds, computes its id, reuses the run folder if the store has it, and otherwise runs
the model and writes the folder. Nothing here knows about launchers, so a job behaves the same
under the basic, joblib and Slurm launchers.

Test hook (not a setting, not in any config): when the environment variable
``ORGSIM_FAIL_ON_SEED`` holds an integer, a run whose ``seed`` equals it raises a RuntimeError
before the model starts. The tests use it to prove that a failed run is recorded and does not
stop the others.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim import store
from sim.config import OrgsimConfig, RunConfig, validate_run

FAIL_HOOK = "ORGSIM_FAIL_ON_SEED"
SEED_COLUMNS = ("seed", "problem_seed", "agent_seed", "replication")
SHOWN_OUTCOMES = ("mean_performance", "final_performance", "time_to_90", "total_adoptions")


def derive_seeds(seed: int, replication: int) -> tuple[int, int]:
    """``(problem_seed, agent_seed)`` of replication ``replication`` of master seed ``seed``.

    ``SeedSequence(seed).spawn(replication + 1)[replication]`` is the replication's sequence;
    its two children seed the problem and the people. Replication r therefore meets the same
    landscape in every arm of a comparison (common random numbers), and the people's stream is
    independent of the problem's.
    """
    rep = np.random.SeedSequence(seed).spawn(replication + 1)[replication]
    problem, people = rep.spawn(2)

    def as_int(seq: np.random.SeedSequence) -> int:
        return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))  # 63 bits: in range

    return as_int(problem), as_int(people)


def to_run_config(cfg: DictConfig | RunConfig) -> RunConfig:
    """A composed (Hydra) config as a validated RunConfig; the ``hydra`` node is dropped."""
    if isinstance(cfg, RunConfig):
        return validate_run(cfg)
    if OmegaConf.get_type(cfg) is RunConfig and "hydra" not in cfg:
        obj = OmegaConf.to_object(cfg)  # already typed by the schema: fast path (~1 ms)
        assert isinstance(obj, RunConfig)
        return validate_run(obj)
    names = {f.name for f in dataclasses.fields(RunConfig)}
    plain = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k in names}
    merged = OmegaConf.merge(OmegaConf.structured(RunConfig), plain)
    obj = OmegaConf.to_object(merged)
    assert isinstance(obj, RunConfig)
    return validate_run(obj)


def model_config(run: RunConfig) -> OrgsimConfig:
    """The model's config of a run: its seeds as actually used (explicit ones are kept)."""
    problem_seed, agent_seed = derive_seeds(run.seed, run.replication)
    fields = {f.name: getattr(run, f.name) for f in dataclasses.fields(OrgsimConfig)}
    if fields["problem_seed"] is None:
        fields["problem_seed"] = problem_seed
    if fields["agent_seed"] is None:
        fields["agent_seed"] = agent_seed
    return OrgsimConfig(**fields)


def _test_hook(cfg: OrgsimConfig) -> None:
    value = os.environ.get(FAIL_HOOK, "").strip()
    if value and int(value) == cfg.seed:
        raise RuntimeError(f"failed on purpose: {FAIL_HOOK}={value} (test hook)")


def execute(
    cfg: OrgsimConfig,
    results_dir: str | os.PathLike[str],
    plot: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Run ``cfg`` unless the store already has it; never raises for a failing model.

    Returns a record: ``run_id``, ``status`` (ok/failed), ``error``, ``traceback``, ``reused``,
    ``run_dir``, ``summary`` (for ok runs).
    """
    rid = store.run_id(cfg)
    folder = store.run_path(results_dir, rid)
    record: dict[str, Any] = {
        "run_id": rid,
        "run_dir": str(Path(folder).resolve()),
        "status": "ok",
        "error": "",
        "reused": False,
        "config": store.config_dict(cfg),
    }
    existing = store.load_run(folder, verify=False)
    if existing is not None:
        record.update(reused=True, summary=existing["summary"])
        return record
    started = time.perf_counter()
    try:
        _test_hook(cfg)
        from sim.model import InnovationModel

        model = InnovationModel(cfg)
        if progress:
            from tqdm import tqdm

            with tqdm(total=cfg.steps, desc=f"run {rid[:8]}", unit="step", file=sys.stderr) as bar:
                model.run(progress=bar.update)
        else:
            model.run()
        ts, summary = model.timeseries(), model.summary()
        meta = {
            "duration_s": round(time.perf_counter() - started, 4),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
            "slurm_array_task_id": os.environ.get("SLURM_ARRAY_TASK_ID", ""),
            "orgsim_version": store.orgsim_version(),
        }
        store.write_run(results_dir, cfg, ts, summary, meta, plot=plot)
        record["summary"] = summary
    except Exception as exc:  # a failing run is recorded; the sweep goes on
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}".splitlines()[0],
            traceback=traceback.format_exc(),
        )
    return record


def run_job(cfg: DictConfig, job_dir: str | None = None, multirun: bool = False) -> dict[str, Any]:
    """One Hydra job: resolve seeds, execute (or reuse), point the sweep at the run, report.

    In a sweep with ``batch=B``, the job whose ``replication`` is r runs replications
    r .. r+B-1 (up to ``replications``) one after another, each its own content-addressed run
    with its own pointer, so that resuming and the table work exactly as with one job per run.
    """
    run = to_run_config(cfg)
    last = min(run.replication + run.batch, run.replications) if multirun else 0
    batch = [run] + [
        dataclasses.replace(run, replication=r) for r in range(run.replication + 1, last)
    ]
    records = []
    for index, member in enumerate(batch):
        record = execute(
            model_config(member),
            member.results_dir,
            plot=member.plot,
            progress=member.progress and not multirun,
        )
        record["run"] = {k: getattr(member, k) for k in store.RUN_LEVEL_KEYS}
        if multirun and job_dir is not None:
            store.write_pointer(job_dir, record, index)
        else:
            print(single_run_report(record), flush=True)
        record.pop("traceback", None)
        records.append(record)
    return records[0] if len(records) == 1 else {"runs": records}


def single_run_report(record: dict[str, Any]) -> str:
    """The short table printed at the end of a single run."""
    lines = [f"orgsim run {record['run_id']}"]
    if record["status"] != "ok":
        lines.append(f"  FAILED: {record['error']}")
        return "\n".join(lines)
    how = "reused from the store (not recomputed)" if record["reused"] else "computed"
    lines.append(f"  {how}: {record['run_dir']}")
    cfg = record["config"]
    lines.append(
        f"  problem={cfg['problem']['name']} org={cfg['org']['name']} "
        f"strategy={cfg['strategy']['name']} levers={cfg['levers']['name']} "
        f"steps={cfg['steps']} seed={cfg['seed']}"
    )
    summary = record.get("summary", {})
    width = max(len(k) for k in summary) if summary else 0
    for key, value in summary.items():
        lines.append(f"  {key:<{width}}  {value:.4g}")
    return "\n".join(lines)


def comparison(table: pd.DataFrame) -> str:
    """A readable comparison of a sweep's arms: the settings that vary across runs (seeds and
    replications aside), with mean and standard deviation of the main outcomes per arm."""
    if table.empty:
        return "no runs"
    ok = table[table["status"] == "ok"]
    counts = table["status"].value_counts().to_dict()
    head = f"{len(table)} runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    if "meta.reused" in table:
        head += f" ({int(table['meta.reused'].fillna(False).astype(bool).sum())} reused)"
    if ok.empty:
        return head
    config_cols = [c for c in ok.columns if "." in c and not c.startswith("meta.")]
    arms = [
        c
        for c in config_cols
        if c not in SEED_COLUMNS and ok[c].astype(str).nunique() > 1 and not c.endswith("_seed")
    ]
    # name columns first (strategy.name says more than its twenty settings)
    named = [c for c in arms if c.endswith(".name")]
    shown = named + [c for c in arms if c not in named and c.split(".")[0] + ".name" not in named]
    outcomes = [c for c in SHOWN_OUTCOMES if c in ok.columns]
    if not shown:
        grouped = ok[outcomes].agg(["mean", "std"]).T
        return f"{head}\n{grouped.to_string(float_format=lambda x: f'{x:.3f}')}"
    groups = ok.groupby(shown, dropna=False)
    agg = pd.DataFrame({"runs": groups.size()})
    for col in outcomes:
        mean, sd = groups[col].mean(), groups[col].std()
        agg[col] = [
            f"{m:.3f} ± {d:.3f}" if d == d else f"{m:.3f}" for m, d in zip(mean, sd, strict=True)
        ]
    agg = agg.loc[groups["mean_performance"].mean().sort_values(ascending=False).index]
    note = "(mean ± sd over runs; best first)"
    return f"{head} {note}\n{agg.to_string()}"
