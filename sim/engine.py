"""The experiment engine: one way to run any design, from the command line or from Python.

::

    design (sim.design)  ->  plan: skip what the store has, group the rest into chunks
                         ->  launch: one job per chunk (a Hydra launcher, or in-process)
                         ->  each job runs its chunk in-process and commits one store part
                         ->  finish: the sweep's table, a comparison, an honest exit code

``orgsim -m ...`` reaches :func:`hydra_sweep` through the orgsim Hydra sweeper (the default
sweeper, ``hydra_plugins/orgsim_sweeper``): the launcher is whatever Hydra is configured with
(joblib on a laptop, submitit on Slurm), and a job is one chunk, never one run. The Python API,
:func:`sweep`, expands the very same overrides with the very same code and runs the chunks in
this process (``jobs=1``) or on a joblib pool: same seeds, same run ids, same store, same table.
``orgsim`` without ``-m`` runs one design of one run (:func:`run_single`).

Why chunks: a Hydra job costs a composition (~0.2 s) and a process hop, more than a short run,
so one job per run spent most of a sweep's time on overhead. A chunk is sized to take seconds to
a minute, with several chunks per worker so that the workers finish together.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim import design_cache, store, workers
from sim import outcomes as meta
from sim.config import config_of, nested
from sim.design import Design, expand
from sim.provenance import code_fingerprint, git_state, orgsim_version

FAIL_HOOK = "ORGSIM_FAIL_ON_SEED"
#: estimated seconds per run: a fixed part plus a part per agent-step (measured on this machine
#: kind; only the chunks' relative sizes depend on it)
RUN_FIXED_S, AGENT_STEP_S = 0.008, 0.5e-5
#: per communication tie beyond two per employee, per step, and per table entry recomputed at a
#: shock (measured: 20,000 employees in teams of 1,000 took 156 s a step; n=20 with 10 groups
#: ~27 s a shock; the default scenario ~0.6 ms a step)
TIE_STEP_S, LANDSCAPE_S = 1.5e-5, 1.2e-7
CHUNK_TARGET_S, CHUNK_MIN_S, CHUNKS_PER_WORKER = 30.0, 4.0, 3


# --- planning -----------------------------------------------------------------------------------
@dataclass
class Plan:
    """A sweep ready to launch: its folder, its design, what the store has, the chunk files."""

    sweep_dir: Path
    design: Design
    results_dir: Path
    reused: set[str]
    chunks: list[Path]
    pending: int
    timeseries: bool = True
    estimated_s: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)  # what sweep.json holds
    started: float = field(default_factory=time.perf_counter)

    @property
    def total(self) -> int:
        return len(self.design.runs)


def estimate_step_s(settings: dict[str, Any]) -> float:
    """A rough time per step of a run (seconds on this project's machines): the agents, their
    communication ties (knowledge sharing walks them), and the landscape tables recomputed at
    every shock (2**n ways of working, n choices, each stakeholder group's view)."""
    employees = settings["org.employees"]
    agents = employees + settings["org.partners"]
    if settings["org.network"] == "teams_bridged":
        ties = employees * (min(settings["org.team_size"], employees) - 1) / 2
    else:
        ties = employees * settings["org.network_degree"] / 2
    n, groups = settings["problem.n"], settings["problem.stakeholders"]
    shocks_per_step = settings["problem.turbulence"] + len(
        settings["problem.shock_at"] or []
    ) / max(1, settings["steps"])
    landscape = LANDSCAPE_S * 2**n * n * (groups + 1) * shocks_per_step
    return AGENT_STEP_S * agents + TIE_STEP_S * max(0.0, ties - 2 * employees) + landscape


def estimate_s(settings: dict[str, Any]) -> float:
    """A run's estimated cost, for sizing chunks and telling the user what to expect."""
    return RUN_FIXED_S + settings["steps"] * estimate_step_s(settings)


def describe_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def split(
    costs: Sequence[float], workers: int, chunk_size: int = 0, cpus_per_job: int = 1
) -> list[list[int]]:
    """Group runs (by index) into chunks: ``chunk_size`` runs each, or (0) sized by estimated
    cost so that each takes from a few seconds to ~30 s and the workers get whole rounds.

    Runs are dealt out by estimated cost, largest first, each to the chunk with the least work
    so far: chunks come out balanced, and runs of different cost (planning and incremental,
    small and large organisations) are mixed in every chunk even where the estimate is off.
    """
    n = len(costs)
    if n == 0:
        return []
    if chunk_size:
        wanted = math.ceil(n / chunk_size)
    else:
        total = float(sum(costs)) / max(1, cpus_per_job)  # a job runs cpus_per_job at once
        wanted = max(
            math.ceil(total / CHUNK_TARGET_S),
            min(CHUNKS_PER_WORKER * max(1, workers), math.ceil(total / CHUNK_MIN_S)),
        )
        if wanted > workers > 1:  # whole rounds: no worker idles during a last chunk
            wanted = math.ceil(wanted / workers) * workers
    wanted = max(1, min(n, wanted))
    import heapq

    heap = [(0.0, i) for i in range(wanted)]
    members: list[list[int]] = [[] for _ in range(wanted)]
    for index in sorted(range(n), key=lambda i: (-costs[i], i)):
        load, chunk = heapq.heappop(heap)
        if chunk_size and len(members[chunk]) >= chunk_size:  # full: next least-loaded
            spare = [(ld, c) for ld, c in heap if len(members[c]) < chunk_size]
            heapq.heappush(heap, (load, chunk))
            load, chunk = min(spare)
            heap.remove((load, chunk))
            heapq.heapify(heap)
        members[chunk].append(index)
        heapq.heappush(heap, (load + costs[index], chunk))
    return [sorted(m) for m in members if m]


def plan(
    design: Design,
    results_dir: str | os.PathLike[str],
    workers: int = 1,
    chunk_size: int = 0,
    timeseries: bool = True,
    launcher: str = "in-process",
    command: str = "",
    cpus_per_job: int = 1,
    known: store.Store | None = None,
) -> Plan:
    """Create the sweep folder, record the design, find what the store already has, and write
    one chunk file per job for the rest. ``known``: a store of ``results_dir`` already read
    (its verified parts are used as they are, so that the plan agrees with the caller's look)."""
    results = Path(results_dir).resolve()
    the_store = known if known is not None else store.Store(results)
    the_store.clean_stale()
    rids = [r.run_id for r in design.runs]
    reused = the_store.done(rids, need_timeseries=timeseries)
    sweep_dir = store.new_sweep_dir(results, design.experiment)
    base = design.run_settings["base"]
    describe = design.describe()
    describe.update(
        runner="orgsim engine",
        launcher=launcher,
        workers=workers,
        cpu_count=os.cpu_count(),
        command=command,
        orgsim_version=orgsim_version(),
        timeseries=timeseries,
        **git_state(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    record = {
        **describe,
        "store": os.path.relpath(results, sweep_dir),
        "base_settings": base,
        "runs": [{"run_id": r.run_id, **r.labels, "settings": r.settings} for r in design.runs],
    }
    store.write_json(sweep_dir / store.SWEEP_FILE, record, compact=True)
    todo, seen = [], set()
    for run in design.runs:
        if run.run_id not in reused and run.run_id not in seen:
            seen.add(run.run_id)
            todo.append(run)
    costs = [estimate_s({**base, **r.settings}) for r in todo]
    chunk_dir = sweep_dir / store.CHUNKS
    chunks = []
    if todo:
        chunk_dir.mkdir()
    for index, members in enumerate(split(costs, workers, chunk_size, cpus_per_job)):
        path = chunk_dir / f"chunk-{index:05d}.json"
        store.write_json(
            path,
            compact=True,
            data={
                "results_dir": str(results),
                "fingerprint": design.fingerprint,
                "timeseries": timeseries,
                "parent_pid": os.getpid(),
                "base": base,
                "runs": [{"run_id": todo[i].run_id, "settings": todo[i].settings} for i in members],
            },
        )
        chunks.append(path)
    return Plan(
        sweep_dir, design, results, reused, chunks, len(todo), timeseries, sum(costs), record
    )


# --- running ------------------------------------------------------------------------------------
def _test_hook(flat: dict[str, Any]) -> None:
    """Test hook, not a setting: ``ORGSIM_FAIL_ON_SEED=S`` makes runs with seed S raise."""
    value = os.environ.get(FAIL_HOOK, "").strip()
    if value and int(value) == flat["seed"]:
        raise RuntimeError(f"failed on purpose: {FAIL_HOOK}={value} (test hook)")


def compute(
    rid: str,
    flat: dict[str, Any],
    timeseries: bool = True,
    progress: Callable[[], Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Run one model; never raises for a failing model. Returns its store row and timeseries."""
    import logging

    from sim.metrics import summarise
    from sim.model import InnovationModel

    logging.getLogger("MESA").setLevel(logging.WARNING)
    started = time.perf_counter()
    row: dict[str, Any] = {"run_id": rid, "status": "ok", "error": ""}
    row.update(store.flatten(nested(flat)))
    ts = None
    try:
        _test_hook(flat)
        model = InnovationModel(config_of(flat)).run(progress=progress)
        frame = model.timeseries()  # built once: the summary is computed from it
        row.update(summarise(frame))
        if timeseries:
            ts = frame
            ts.insert(0, "run_id", rid)
    except Exception as exc:  # a failing run is recorded; the others go on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        row["meta.traceback"] = traceback.format_exc()[-4000:]
    row.update(
        {
            "meta.duration_s": round(time.perf_counter() - started, 4),
            "meta.finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "meta.host": socket.gethostname(),
            "meta.pid": os.getpid(),
            "meta.slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
            "meta.code_fingerprint": code_fingerprint(),
            "meta.orgsim_version": orgsim_version(),
            **{f"meta.{k}": v for k, v in git_state().items()},
        }
    )
    return row, ts


def _cpus() -> int:
    """CPUs a chunk job may use: its Slurm allocation's; else one (the launcher parallelises)."""
    try:
        return max(1, int(os.environ.get("SLURM_CPUS_PER_TASK", "1")))
    except ValueError:
        return 1


def _compute_many(
    runs: list[tuple[str, dict[str, Any]]], timeseries: bool
) -> list[tuple[dict[str, Any], pd.DataFrame | None]]:
    return [compute(rid, flat, timeseries) for rid, flat in runs]


def run_chunk(chunk: dict[str, Any]) -> dict[str, int]:
    """Run a chunk in this process (on every CPU of a Slurm allocation) and commit one part."""
    if chunk["fingerprint"] != code_fingerprint():
        raise RuntimeError(
            "the model's code changed after the sweep was planned: run the sweep again"
        )
    runs = [(r["run_id"], {**chunk["base"], **r["settings"]}) for r in chunk["runs"]]
    cpus = min(_cpus(), len(runs))
    if cpus > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        parts = [runs[i::cpus] for i in range(cpus)]
        # spawn, not fork: the job process has threads (Hydra, the parent watch)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(cpus, mp_context=context) as pool:
            outs = list(pool.map(_compute_many, parts, [chunk["timeseries"]] * cpus))
        order = {rid: i for i, (rid, _) in enumerate(runs)}
        results = sorted((r for out in outs for r in out), key=lambda r: order[r[0]["run_id"]])
    else:
        results = _compute_many(runs, chunk["timeseries"])
    rows = [row for row, _ in results]
    series = [ts for _, ts in results if ts is not None]
    ts = pd.concat(series, ignore_index=True) if series else None
    store.Store(chunk["results_dir"]).write_part(rows, ts)
    failed = sum(row["status"] != "ok" for row in rows)
    return {"runs": len(rows), "failed": failed}


def run_chunk_file(path: str | os.PathLike[str]) -> dict[str, int]:
    """A sweep job: read its chunk file and run it (in a worker, die with the sweep)."""
    chunk = json.loads(Path(path).read_text())
    parent = chunk.get("parent_pid")
    if parent not in (None, os.getpid()) and not os.environ.get("SLURM_JOB_ID"):
        workers.watch(parent)  # a joblib worker: die with the sweep's main process
    return run_chunk(chunk)


# --- progress -----------------------------------------------------------------------------------
class Progress:
    """One bar for the sweep (runs done of total, failures, ETA), fed by the store: a thread
    watches the parts the jobs commit, so it works under any launcher, Slurm included."""

    def __init__(self, plan: Plan, enabled: bool = True) -> None:
        from tqdm import tqdm

        self.plan = plan
        self.wanted = {r.run_id for r in plan.design.runs} - plan.reused
        # parts committed before the sweep: a listing, not a second read of every manifest
        self.parts_dir = store.Store(plan.results_dir).parts_dir
        self.seen_parts = {p.stem for p in self.parts_dir.glob("[!.]*.json")}
        self.failed = 0
        self.bar = tqdm(
            total=plan.total,
            initial=plan.total - len(self.wanted) if self.wanted else plan.total,
            unit="run",
            desc=plan.design.experiment if plan.design.experiment != "none" else "sweep",
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()
        self.bar.close()

    def poll(self) -> None:
        for path in self.parts_dir.glob("[!.]*.json"):
            if path.stem in self.seen_parts:
                continue
            self.seen_parts.add(path.stem)
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            runs = manifest.get("runs") if isinstance(manifest, dict) else None
            if not isinstance(runs, dict):
                continue  # not a part (the store ignores it too)
            mine = [r for r in runs if r in self.wanted]
            self.wanted.difference_update(mine)
            self.failed += sum(runs[r][0] != "ok" for r in mine)
            if mine:
                self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
                self.bar.update(len(mine))

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self.poll()


# --- finishing ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What a sweep produced: its folder, its table, and how many runs did not succeed."""

    sweep_dir: Path
    table: pd.DataFrame
    reused: int
    computed: int
    wall_s: float

    @property
    def failed(self) -> int:
        return int((self.table["status"] == "failed").sum()) if len(self.table) else 0

    @property
    def missing(self) -> int:
        return int((self.table["status"] == "missing").sum()) if len(self.table) else 0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.missing else 0


def finish(the_plan: Plan, why_missing: str = "") -> SweepResult:
    """Write the sweep's tables (atomically) and its wall time; return the result."""
    wall = time.perf_counter() - the_plan.started
    table = store.write_tables(
        the_plan.sweep_dir, the_plan.reused, the_plan.timeseries, why_missing
    )
    record = the_plan.record  # kept from the plan: a large design is not read back from disk
    record.update(
        wall_time_s=round(wall, 2), finished_at=datetime.now(UTC).isoformat(timespec="seconds")
    )
    store.write_json(the_plan.sweep_dir / store.SWEEP_FILE, record, compact=True)
    return SweepResult(the_plan.sweep_dir, table, len(the_plan.reused), the_plan.pending, wall)


def comparison(table: pd.DataFrame) -> str:
    """A readable comparison of a sweep's arms: the settings that vary (seeds and
    replications aside), with n per arm and the headline outcomes declared in
    sim.metrics.OUTCOMES: mean ± sd, or for a censored outcome (time_to_90) how many runs
    reached it and the restricted mean time (never reached = the run length)."""
    if table.empty:
        return "no runs"
    counts = table["status"].value_counts().to_dict()
    head = f"{len(table)} runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    if "meta.reused" in table:
        head += f" ({int(table['meta.reused'].fillna(False).astype(bool).sum())} reused)"
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return head
    shown = [c for c in store.factor_columns(ok) if not c.startswith("x.")]
    outcomes = [c for c in meta.headline() if c in ok.columns]
    ok = ok.copy()
    censored = [c for c in outcomes if meta.lookup(c).censored and "steps" in ok]
    # restricted time: a run that never got there counts as the whole run (sim.stats.restricted,
    # written out here: sim.stats imports scipy, 0.6 s that every sweep's last line would pay)
    for c in censored:
        ok[f"{c}.reached"] = ok[c].notna()
        ok[c] = ok[c].fillna(ok["steps"]).clip(upper=ok["steps"])
    if not shown or len(ok.groupby(shown, dropna=False)) > 40:
        agg = ok[outcomes].agg(["mean", "std"]).T
        for c in censored:
            agg.loc[c, "reached"] = f"{int(ok[f'{c}.reached'].sum())}/{len(ok)}"
        return f"{head}\n{agg.to_string(float_format=lambda x: f'{x:.3f}')}"
    groups = ok.groupby(shown, dropna=False)
    agg = pd.DataFrame({"n": groups.size()})
    for col in outcomes:
        mean, sd = groups[col].mean(), groups[col].std()
        if col in censored:
            reached = groups[f"{col}.reached"].sum()
            agg[col] = [f"{int(r)}/{n} reached, rmean {m:.1f}"
                        for r, n, m in zip(reached, agg["n"], mean, strict=True)]  # fmt: skip
        else:
            agg[col] = [
                f"{m:.3f} ± {d:.3f}" if d == d else f"{m:.3f}"
                for m, d in zip(mean, sd, strict=True)
            ]
    first = outcomes[0]
    agg = agg.loc[
        groups[first].mean().sort_values(ascending=meta.lookup(first).better == "lower").index
    ]
    return f"{head} (mean ± sd over runs; {meta.label(first)}, best first)\n{agg.to_string()}"


def report_lines(result: SweepResult) -> list[str]:
    """What the end of a sweep prints: the comparison, where the table is, what went wrong."""
    lines = [comparison(result.table), f"sweep table: {result.sweep_dir / store.TABLE}"]
    if (result.sweep_dir / store.TIMESERIES).is_file():
        lines.append(f"all timeseries: {result.sweep_dir / store.TIMESERIES}")
    bad = result.table[result.table["status"] != "ok"]
    for status in ("failed", "missing"):
        sub = bad[bad["status"] == status]
        if len(sub):
            first = sub["error"].iloc[0]
            lines.append(f"{len(sub)} of {len(result.table)} runs {status} (first: {first})")
    return lines


# --- the Python API -------------------------------------------------------------------------------
def design_from_overrides(overrides: Sequence[str]) -> Design:
    """The design a command line asks for: sweeps (``a,b``, ``range``) in ``overrides`` and
    the experiment's own ``hydra.sweeper.params`` and ``hydra.sweeper.sample``."""
    from omegaconf import OmegaConf

    from sim.design import compose, split_command_line

    base, _, _ = split_command_line(overrides)
    head = compose(base, with_hydra=True)
    sweeper = head.hydra.sweeper
    base, grid, sample = split_command_line(overrides, sweeper.get("params"), sweeper.get("sample"))
    # this composition is the design's base, as the Hydra app's own is for `orgsim -m`
    primary = OmegaConf.masked_copy(head, [k for k in head if k != "hydra"])
    return expand(base, grid, sample, primary=(primary, dict(head.hydra.runtime.choices)))


def sweep(
    overrides: Sequence[str] = (),
    results_dir: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    progress: bool = False,
    chunk_size: int | None = None,
    timeseries: bool | None = None,
) -> SweepResult:
    """Run a sweep from Python, exactly as ``orgsim -m *overrides`` would (same design, seeds,
    run ids, store and table); chunks run in this process (``jobs=1``) or on a joblib pool.

    ``overrides`` use the command line's syntax: ``["experiment=strategy_vs_wickedness_quick"]``,
    ``["strategy=incremental,planning", "replications=5"]``. Raises :class:`ConfigError`.
    """
    return run_design(
        design_from_overrides(overrides),
        results_dir,
        jobs,
        progress,
        chunk_size,
        timeseries,
        command=f"sim.sweep({list(overrides)!r}, jobs={jobs})",
    )


def run_design(
    design: Design,
    results_dir: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    progress: bool = False,
    chunk_size: int | None = None,
    timeseries: bool | None = None,
    command: str = "",
) -> SweepResult:
    """Run an expanded design in this process (``jobs=1``) or on a joblib pool: the one call
    behind :func:`sweep` and ``orgsim-compare`` (which validates its designs first)."""
    settings = design.run_settings
    the_plan = plan(
        design,
        results_dir or settings["results_dir"],
        workers=jobs,
        chunk_size=settings["chunk_size"] if chunk_size is None else chunk_size,
        timeseries=settings["timeseries"] if timeseries is None else timeseries,
        launcher="in-process" if jobs == 1 else "joblib (sim.sweep)",
        command=command,
    )
    with Progress(the_plan, enabled=progress):
        if jobs == 1 or len(the_plan.chunks) <= 1:
            for path in the_plan.chunks:
                run_chunk(json.loads(path.read_text()))
        else:
            from joblib import Parallel, delayed

            chunks = [json.loads(p.read_text()) for p in the_plan.chunks]
            Parallel(n_jobs=jobs)(delayed(run_chunk)(c) for c in chunks)
    return finish(the_plan)


def run_single(
    flat: dict[str, Any],
    results_dir: str | os.PathLike[str],
    plot: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """One run (``orgsim`` without ``-m``): reuse it from the store or compute it, commit it,
    and write its readable folder. Returns a record for :func:`single_run_report`."""
    from sim.design import run_id

    fingerprint = code_fingerprint()
    rid = run_id(flat, fingerprint)
    the_store = store.Store(results_dir)
    reused = rid in the_store.done([rid], need_timeseries=True)
    if reused:
        row = the_store.records([rid]).iloc[0].to_dict()
        ts = the_store.timeseries([rid]).drop(columns="run_id")
    else:
        per_step = estimate_step_s(flat)
        if per_step * flat["steps"] > 60:
            print(
                f"orgsim: this run will take about {describe_duration(per_step * flat['steps'])} "
                f"({describe_duration(per_step)} a step; estimate)",
                file=sys.stderr,
                flush=True,
            )
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=flat["steps"], desc=f"run {rid[:8]}", unit="step", file=sys.stderr)
        try:
            row, ts_full = compute(rid, flat, True, bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
        the_store.write_part([row], ts_full)
        ts = ts_full.drop(columns="run_id") if ts_full is not None else None
    record = {
        "run_id": rid,
        "status": row["status"],
        "error": row.get("error") or "",
        "reused": reused,
        "config": nested(flat),
        "run_dir": "",
    }
    if row["status"] == "ok" and ts is not None:
        from sim.metrics import SUMMARY_FIELDS

        summary = {k: row[k] for k in SUMMARY_FIELDS if k in row}
        summary.update({k: row[k] for k in row if str(k).startswith("mean_satisfaction_g")})
        record["summary"] = summary
        folder = store.write_run_folder(results_dir, rid, nested(flat), summary, ts, plot=plot)
        record["run_dir"] = str(folder)
    return record


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
        f"steps={cfg['steps']} seed={cfg['seed']} replication={cfg['replication']}"
    )
    summary = record.get("summary", {})
    width = max(len(k) for k in summary) if summary else 0
    for key, value in summary.items():
        lines.append(f"  {key:<{width}}  {value:.4g}")
    return "\n".join(lines)


# --- the command line (through the orgsim Hydra sweeper) -------------------------------------------
def _workers(launcher_cfg: Any) -> int:
    target = str(launcher_cfg.get("_target_", ""))
    if "joblib" in target.lower():
        from joblib import effective_n_jobs

        return effective_n_jobs(int(launcher_cfg.get("n_jobs", -1) or -1))
    if "submitit" in target.lower():
        return int(launcher_cfg.get("array_parallelism", 0) or 0) or (os.cpu_count() or 1)
    return 1


def _warm_worker(parent: int) -> int:
    """Import what a chunk job needs, in a joblib worker, while the parent expands the design."""
    import hydra.core.utils  # noqa: F401

    import sim.model  # noqa: F401

    workers.watch(parent)  # a warm worker dies with the sweep, even before any chunk
    code_fingerprint()
    git_state()
    return os.getpid()


class WarmPool:
    """Start the joblib launcher's worker processes early (loky reuses them), so that their
    start-up (Python, Mesa, Hydra: ~1 s) overlaps the parent's expansion of the design."""

    def __init__(self, launcher: Any, launcher_cfg: Any) -> None:
        self.thread: threading.Thread | None = None
        target = str(launcher_cfg.get("_target_", "")).lower()
        self.workers = _workers(launcher_cfg) if "joblib" in target else 1
        self.joblib_cfg = dict(getattr(launcher, "joblib", None) or {})
        # only loky's workers are worth warming: forked ones (orgsim_joblib) start in milliseconds
        loky = self.joblib_cfg.get("backend") in (None, "loky")
        if self.workers > 1 and self.joblib_cfg and loky:
            self.thread = threading.Thread(target=self._warm, daemon=True)
            self.thread.start()

    def _warm(self) -> None:
        from joblib import Parallel, delayed

        try:  # the launcher's own joblib settings, so that loky reuses these very workers
            from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

            cfg = {**self.joblib_cfg, "backend": "loky"}
            process_joblib_cfg(cfg)
            parent = os.getpid()
            Parallel(**cfg)(delayed(_warm_worker)(parent) for _ in range(self.workers))
        except Exception:  # a failed warm-up only costs the time it would have saved
            pass

    def ready(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def discard(self) -> None:
        """Nothing to launch (or a mistake): stop the warm workers at once, without waiting
        for their warm-up to finish."""
        if self.thread is None:
            return
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is not None:
            executor.shutdown(wait=False, kill_workers=True)


def start_workers(launcher: Any, launcher_cfg: Any) -> Any:
    """Start the launcher's workers before they are needed: the default launcher's fork server
    imports the model (``prestart``; ``orgsim`` has usually started it already), loky's are warmed (:class:`WarmPool`). Returns what to ``ready()`` before
    the launch and to ``discard()`` when nothing is launched."""
    prestart = getattr(launcher, "prestart", None)
    started = prestart() if callable(prestart) else None
    return started if started is not None else WarmPool(launcher, launcher_cfg)


def hydra_sweep(sweeper: Any, arguments: list[str]) -> SweepResult:
    """The orgsim sweeper's body: expand and validate the design here, in the parent, then
    launch one Hydra job per chunk; every job runs :func:`run_chunk_file`."""
    from omegaconf import OmegaConf, open_dict

    from sim.design import run_config, split_command_line

    config = sweeper.config
    base, params, sample = split_command_line(arguments, sweeper.params, sweeper.sample)
    primary = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
    run = run_config(primary)
    # an empty store means every run is to be computed: start the workers now, so that their
    # start-up overlaps the expansion (with runs in the store, only once the plan says so)
    fresh = not store.Store(run.results_dir).parts_dir.is_dir()
    warm = start_workers(sweeper.launcher, config.hydra.launcher) if fresh else None
    try:
        cached = design_cache.cached_design(arguments)
        if cached is not None:  # this very command, conf/ and code expanded it before
            design = cached.design
        else:
            choices = dict(config.hydra.runtime.choices)
            design = expand(base, params, sample, primary=(primary, choices))
            design_cache.remember(sweep_entry(arguments, design, config))
        the_plan = plan(
            design,
            run.results_dir,
            workers=_workers(config.hydra.launcher),
            chunk_size=run.chunk_size,
            timeseries=run.timeseries,
            launcher=str(config.hydra.runtime.choices.get("hydra/launcher", "?")),
            cpus_per_job=int(config.hydra.launcher.get("cpus_per_task", 1) or 1),
            command=" ".join(["orgsim", "-m", *arguments]),
        )
    except BaseException:
        if warm is not None:
            warm.discard()
        raise
    if warm is None and the_plan.chunks:
        warm = start_workers(sweeper.launcher, config.hydra.launcher)
    announce(the_plan)
    with open_dict(config):
        config.hydra.sweep.dir = str(the_plan.sweep_dir)
        config.hydra.sweep.subdir = "."
    params = getattr(sweeper.launcher, "params", None)
    if isinstance(params, dict) and "submitit_folder" in params:
        # submitit resolved its folder from the old sweep dir when it was set up
        params["submitit_folder"] = str(the_plan.sweep_dir / ".submitit" / "%j")
    # a job composes the same fixed overrides as this process (so that the experiment and any
    # hydra.sweeper.* override compose there too), plus its chunk; it reads its runs from there
    jobs = [
        [*base, f"chunk={path}", f"hydra.sweep.dir={the_plan.sweep_dir}"]
        for path in the_plan.chunks
    ]
    launch_error = ""
    if not jobs and warm is not None:
        warm.discard()
    elif warm is not None:
        warm.ready()
    if jobs:
        with Progress(the_plan, enabled=run.progress):
            try:
                returns = sweeper.launcher.launch(jobs, initial_job_idx=0)
                for r in returns:
                    try:
                        _ = r.return_value
                    except Exception as exc:  # a job that died: its runs are missing
                        launch_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            except Exception as exc:
                launch_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if warm is not None:
            warm.discard()  # every job is done: end the workers now, not at the process's exit
    return conclude(the_plan, launch_error)


def announce(the_plan: Plan) -> None:
    """The sweep's header (stderr's first line): its size, what the store has, its folder."""
    print(
        f"orgsim: sweep of {the_plan.total} runs ({len(the_plan.reused)} already in the store, "
        f"{the_plan.pending} to run in {len(the_plan.chunks)} "
        f"job{'s' if len(the_plan.chunks) != 1 else ''}, about "
        f"{describe_duration(the_plan.estimated_s)} of model time): {the_plan.sweep_dir}",
        file=sys.stderr,
        flush=True,
    )


def conclude(the_plan: Plan, launch_error: str = "") -> SweepResult:
    """Write the sweep's tables and print its end: the comparison, what went wrong."""
    result = finish(the_plan, f"a sweep job failed ({launch_error})" if launch_error else "")
    for line in report_lines(result):
        print(line, flush=True)
    if launch_error:
        print(f"orgsim: a sweep job failed: {launch_error}", file=sys.stderr)
    if result.exit_code:
        print(
            f"orgsim: {result.failed} failed and {result.missing} missing of "
            f"{len(result.table)} runs; run the same command again to retry them",
            file=sys.stderr,
        )
    return result


def sweep_entry(arguments: Sequence[str], design: Design, config: Any) -> design_cache.SweepEntry:
    """What the design cache keeps of a sweep: its design and what ``sweep.json`` records of
    the Hydra config; ``hydra_idle`` when a sweep with nothing to run would do nothing in Hydra
    that shows (no callbacks, not verbose, this project's sweeper)."""
    from omegaconf import OmegaConf

    choices = config.hydra.runtime.choices
    try:
        launcher_cfg = OmegaConf.to_container(config.hydra.launcher, resolve=True)
        idle = (
            not config.hydra.get("callbacks")
            and not config.hydra.get("verbose")
            and str(choices.get("hydra/sweeper")) == "orgsim"
        )
    except Exception:  # an interpolation that does not resolve here: never skip Hydra
        launcher_cfg, idle = {}, False
    assert isinstance(launcher_cfg, dict)
    return design_cache.SweepEntry(
        arguments=list(arguments),
        design=design,
        launcher=str(choices.get("hydra/launcher", "?")),
        launcher_cfg=launcher_cfg,
        cpus_per_job=int(config.hydra.launcher.get("cpus_per_task", 1) or 1),
        hydra_idle=bool(idle),
    )


def reuse_sweep(cached: design_cache.SweepEntry) -> SweepResult | None:
    """A sweep whose every run the store has (``ok``, verified), finished without Hydra.

    Only for a cached design (:mod:`sim.design_cache`: the same command, conf/ and code) whose
    Hydra config does nothing that shows when there is nothing to launch (``hydra_idle``).
    Then Hydra would compose the config twice, start the sweeper and the launcher, and call
    :func:`hydra_sweep`, which plans no job; this makes the very same plan (same folder layout,
    ``sweep.json``, tables, terminal lines, exit code) from the cached design. None, having
    written nothing, when a run is missing from the store: the caller runs Hydra as usual.
    """
    if not cached.hydra_idle:
        return None
    design = cached.design
    settings = design.run_settings
    results = Path(str(settings["results_dir"])).resolve()
    the_store = store.Store(results)
    if not the_store.parts_dir.is_dir():
        return None
    wanted = {r.run_id for r in design.runs}
    if the_store.done(wanted, need_timeseries=settings["timeseries"]) != wanted:
        return None
    the_plan = plan(
        design,
        results,
        workers=_workers(cached.launcher_cfg),
        chunk_size=settings["chunk_size"],
        timeseries=settings["timeseries"],
        launcher=cached.launcher,
        cpus_per_job=cached.cpus_per_job,
        command=" ".join(["orgsim", "-m", *cached.arguments]),
        known=the_store,
    )
    assert not the_plan.chunks, "a verified store had every run"
    announce(the_plan)
    return conclude(the_plan)
