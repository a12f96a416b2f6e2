"""In-process experiment runner: sweep grid x replications -> one tidy table, in parallel.

Why it exists next to the Hydra CLI: the research experiments (``conf/experiment/NAME.yaml``)
are Hydra sweep configs, meant to be run as ``orgsim -m experiment=NAME``. This module reads the
very same files and runs them without a Hydra launcher, for three reasons: notebooks and tests
need a sweep without a subprocess; the SALib design of ``levers_sensitivity`` is a sample, not a
Cartesian grid, so a Hydra sweeper cannot express it; and ``orgsim-compare`` needs many paired
runs in one process. Everything here goes through :func:`sim.compose_config` and
:class:`sim.InnovationModel`, so a run here and a run from the CLI with the same config and seed
are the same run.

Common random numbers: replication ``r`` of every cell gets the same master ``seed`` (derived
from the experiment's base seed and ``r`` only, never from the cell), so every arm meets the same
landscapes, the same shocks and the same people streams, replication by replication.

The sweep folder it writes (``runs.parquet``, ``timeseries.parquet``, ``experiment.yaml``) has the
shape of the store's table (one row per run: flattened config with dots, ``replication``,
``run_id``, ``status``, ``error`` and every summary field), so ``orgsim-report`` reads it the same
way as a CLI sweep.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import CONF_DIR, ConfigError, friendly_error, model_part, to_config

GROUPS = ("problem", "org", "strategy", "levers")
RUN_LEVEL_KEYS = (
    "replications",
    "replication",
    "experiment",
    "results_dir",
    "plot",
    "progress",
    "hydra",
    "defaults",
)
TS_COLUMNS = (
    "step",
    "performance",
    "engagement",
    "skill",
    "coordination_cost",
    "shock",
    "knowledge_diversity",
)
RUNS_FILE = "table.parquet"  # the store's sweep table name (sim.store.TABLE)
TIMESERIES_FILE = "timeseries.parquet"
META_FILE = "experiment.yaml"
REPO_ROOT = CONF_DIR.parent
RESULTS_DIR = REPO_ROOT / "results"


# --- seeds ------------------------------------------------------------------------------------
def replication_seeds(seed: int, replication: int) -> tuple[int, int]:
    """``(problem_seed, agent_seed)`` of replication ``r``: the CLI's own derivation
    (:func:`sim.sweep.derive_seeds`), so a run here and the same run from ``orgsim -m`` have the
    same seeds and the same id. It depends on the master seed and ``r`` only, never on the cell:
    replication r of every arm meets the same problem (common random numbers)."""
    from sim.sweep import derive_seeds

    return derive_seeds(int(seed), int(replication))


# --- experiment specs ---------------------------------------------------------------------------
@dataclass
class ExperimentSpec:
    """An experiment as read from ``conf/experiment/NAME.yaml``.

    ``base`` are the fixed overrides (the file's ``defaults`` overrides and its top-level
    settings); ``params`` the swept settings, each with its values as override strings.
    """

    name: str
    base: list[str] = field(default_factory=list)
    params: dict[str, list[str]] = field(default_factory=dict)
    replications: int = 1
    seed: int = 0

    def cells(self) -> list[dict[str, str]]:
        """The Cartesian product of the swept values, in the file's order."""
        keys = list(self.params)
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*self.params.values())
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": list(self.base),
            "params": {k: list(v) for k, v in self.params.items()},
            "replications": self.replications,
            "seed": self.seed,
        }


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def _sweep_values(key: str, value: Any) -> list[str]:
    """Expand one ``hydra.sweeper.params`` entry with Hydra's own override parser, so that
    ``a,b,c``, ``range(0,10,3)`` and ``choice(...)`` mean here what they mean to the sweeper."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    text = value if isinstance(value, str) else str(value)
    override = OverridesParser.create().parse_override(f"{key}={text}")
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_string_iterator()]
    return [override.get_value_element_as_str()]


def experiment_path(name: str, conf_dir: Path = CONF_DIR) -> Path:
    return conf_dir / "experiment" / f"{name}.yaml"


def load_experiment(name: str, conf_dir: Path = CONF_DIR) -> ExperimentSpec:
    """Read ``conf/experiment/NAME.yaml`` (a Hydra ``_global_`` sweep config) into a spec."""
    path = experiment_path(name, conf_dir)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml") if p.stem != "none")
        raise ConfigError(
            f"experiment={name} is not a known experiment (allowed: {', '.join(known)})"
        )
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert isinstance(raw, dict)
    base: list[str] = []
    for entry in raw.get("defaults", []) or []:
        if isinstance(entry, dict):
            for k, v in entry.items():
                group = str(k).replace("override", "").strip().lstrip("/")
                if group in GROUPS:
                    base.append(f"{group}={v}")
    for key, value in _flatten({k: v for k, v in raw.items() if k not in RUN_LEVEL_KEYS}).items():
        base.append(f"{key}={json.dumps(value) if isinstance(value, list) else value}")
    params_raw = ((raw.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    params = {str(k): _sweep_values(str(k), v) for k, v in params_raw.items()}
    return ExperimentSpec(
        name=name,
        base=base,
        params=params,
        replications=int(raw.get("replications", 1)),
        seed=int(raw.get("seed", 0)),
    )


# --- configs ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _compose_groups(group_overrides: tuple[str, ...]) -> DictConfig:
    from sim.config import compose_config

    return compose_config(list(group_overrides))


def build_config(overrides: Sequence[str]) -> dict[str, Any]:
    """Compose a validated config as a plain dict.

    Preset choices (``org=adhocracy``) go through Hydra's composition (cached: it is the slow
    part); settings (``problem.k=5``) are merged onto the result with OmegaConf, which checks
    their keys and types against the schema just as a Hydra override would, and the result is
    validated (ranges, ``k < n``). Raises :class:`ConfigError` with one line.
    """
    groups = tuple(o for o in overrides if "=" in o and o.split("=", 1)[0].strip() in GROUPS)
    rest = [o for o in overrides if o not in groups]
    for o in rest:
        if "=" not in o:
            raise ConfigError(f"could not parse override {o!r}: use key=value")
    cfg = _compose_groups(groups)
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(rest))
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None
    container = OmegaConf.to_container(model_part(cfg), resolve=True)
    assert isinstance(container, dict)
    to_config(container)  # validation: ranges and cross-field rules
    return container


def flat_config(container: dict[str, Any]) -> dict[str, Any]:
    """A config flattened with dots; lists become their JSON text (one parquet type per column)."""
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in _flatten(container).items()}


def run_id(container: dict[str, Any]) -> str:
    """Content address of a run: the store's id (hash of the resolved config and version)."""
    from sim import store

    return store.run_id(to_config(container))


def param_column(key: str) -> str:
    """The table column that a sweep key lands in: a preset choice ``org`` is ``org.name``."""
    return f"{key}.name" if key in GROUPS else key


# --- running ------------------------------------------------------------------------------------
@dataclass
class RunTask:
    """One run: a validated config (plain dict), its replication and any extra label columns."""

    config: dict[str, Any]
    replication: int
    labels: dict[str, Any] = field(default_factory=dict)


def _run_one(
    task: RunTask, ts_columns: Sequence[str]
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    from sim.model import InnovationModel

    logging.getLogger("MESA").setLevel(logging.WARNING)
    rid = run_id(task.config)
    row: dict[str, Any] = {
        **flat_config(task.config),
        **task.labels,
        "replication": task.replication,
        "run_id": rid,
        "status": "ok",
        "error": "",
    }
    row.setdefault("experiment", "none")
    try:
        model = InnovationModel(task.config).run()
        row.update(model.summary())
        if not ts_columns:
            return row, None
        ts = model.timeseries()
        cols = [c for c in ts_columns if c in ts.columns]
        ts = ts[cols].astype("float32").assign(run_id=rid)
        if "step" in ts:
            ts["step"] = ts["step"].astype("int32")
        return row, ts
    except Exception as exc:  # one failed run must not sink a sweep: it is recorded instead
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        return row, None


def _run_chunk(
    tasks: list[RunTask], ts_columns: Sequence[str]
) -> list[tuple[dict[str, Any], pd.DataFrame | None]]:
    return [_run_one(t, ts_columns) for t in tasks]


def _run_indexed(
    index: int, tasks: list[RunTask], ts_columns: Sequence[str]
) -> tuple[int, list[tuple[dict[str, Any], pd.DataFrame | None]]]:
    return index, _run_chunk(tasks, ts_columns)


def run_tasks(
    tasks: Sequence[RunTask],
    n_jobs: int | None = None,
    progress: bool | str = True,
    ts_columns: Sequence[str] = TS_COLUMNS,
    chunk: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every task (in parallel with joblib) and return (runs table, timeseries table).

    Runs are batched into chunks so that process overhead stays small against 0.1-0.5 s runs;
    the result order is the task order whatever the order of completion.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n_jobs = n_jobs or int(os.environ.get("ORGSIM_JOBS", 0)) or (os.cpu_count() or 1)
    chunk = chunk or max(1, min(16, math.ceil(len(tasks) / (4 * n_jobs))))
    chunks = [list(tasks[i : i + chunk]) for i in range(0, len(tasks), chunk)]
    bar = tqdm(
        total=len(tasks),
        desc=progress if isinstance(progress, str) else "runs",
        disable=not progress,
        unit="run",
        file=sys.stderr,
    )
    results: list[list[tuple[dict[str, Any], pd.DataFrame | None]]] = [[] for _ in chunks]
    if n_jobs == 1 or len(chunks) == 1:
        for i, c in enumerate(chunks):
            results[i] = _run_chunk(c, ts_columns)
            bar.update(len(c))
    else:
        par = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        indexed = par(delayed(_run_indexed)(i, c, ts_columns) for i, c in enumerate(chunks))
        for i, out in indexed:
            results[i] = out
            bar.update(len(out))
    bar.close()
    flat = [r for chunk_out in results for r in chunk_out]
    runs = pd.DataFrame([r for r, _ in flat])
    series = [ts for _, ts in flat if ts is not None]
    timeseries = pd.concat(series, ignore_index=True) if series else pd.DataFrame()
    return runs, timeseries


def grid_tasks(
    spec: ExperimentSpec, replications: int | None = None, extra: Iterable[str] = ()
) -> list[RunTask]:
    """Cells x replications -> tasks; every cell's replication r shares the same seed."""
    reps = spec.replications if replications is None else replications
    tasks = []
    for cell in spec.cells():
        overrides = [*spec.base, *extra, *(f"{k}={v}" for k, v in cell.items())]
        cfg = build_config(overrides)
        for r in range(reps):
            problem_seed, agent_seed = replication_seeds(spec.seed, r)
            run_cfg = {
                **cfg,
                "seed": spec.seed,
                "problem_seed": problem_seed,
                "agent_seed": agent_seed,
            }
            labels = {"experiment": spec.name, "replications": reps}
            tasks.append(RunTask(run_cfg, r, labels))
    return tasks


def write_sweep(
    out_dir: Path, runs: pd.DataFrame, timeseries: pd.DataFrame, meta: dict[str, Any]
) -> Path:
    """Write a sweep folder: the runs table, the timeseries and what produced them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs.to_parquet(out_dir / RUNS_FILE, index=False)
    if not timeseries.empty:
        timeseries.to_parquet(out_dir / TIMESERIES_FILE, index=False)
    (out_dir / META_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(meta)))
    return out_dir


def default_out_dir(name: str) -> Path:
    return RESULTS_DIR / "sweeps" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_experiment(
    name: str,
    out_dir: str | os.PathLike[str] | None = None,
    n_jobs: int | None = None,
    replications: int | None = None,
    extra: Sequence[str] = (),
    progress: bool = True,
) -> Path:
    """Run experiment ``name`` from its config file and write its sweep folder.

    ``levers_sensitivity`` goes to the SALib design (:func:`run_sensitivity`); every other
    experiment is a grid. ``extra`` overrides apply to every run (e.g. ``steps=30``).
    """
    if name.removesuffix("_quick") == "levers_sensitivity":
        return run_sensitivity(name, out_dir, n_jobs, extra=extra, progress=progress)
    spec = load_experiment(name)
    out = Path(out_dir) if out_dir else default_out_dir(name)
    tasks = grid_tasks(spec, replications, extra)
    start = time.perf_counter()
    runs, ts = run_tasks(tasks, n_jobs, progress=name if progress else False)
    wall = time.perf_counter() - start
    meta = {
        **spec.to_dict(),
        "kind": "grid",
        "extra": list(extra),
        "replications": replications or spec.replications,
        "runs": len(runs),
        "wall_time_s": round(wall, 1),
        "n_jobs": n_jobs or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "runner": "sim.experiment",
    }
    return write_sweep(out, runs, ts, meta)


# --- SALib global sensitivity -----------------------------------------------------------------
def load_factors(name: str) -> dict[str, Any]:
    """The SALib design of a sensitivity experiment: ``experiments/<base>/factors.yaml``,
    with a ``quick`` section overriding sizes for the quick variant."""
    base = name.removesuffix("_quick")
    path = REPO_ROOT / "experiments" / base / "factors.yaml"
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(raw, dict)
    if name.endswith("_quick"):
        raw.update(raw.pop("quick", {}) or {})
    raw.pop("quick", None)
    return raw


def factor_value(spec: dict[str, Any], u: float) -> Any:
    """Map a SALib sample value to a config value: integers are floored into their range."""
    if spec.get("type") == "int":
        lo, hi = spec["bounds"]
        return int(min(hi, max(lo, math.floor(u))))
    return float(u)


def salib_problem(factors: dict[str, Any]) -> dict[str, Any]:
    names = list(factors["factors"])
    bounds = []
    for name in names:
        f = factors["factors"][name]
        lo, hi = f["bounds"]
        # integers: sample [lo, hi + 1) and floor, so every level gets the same share
        bounds.append([lo, hi + 1 - 1e-9] if f.get("type") == "int" else [lo, hi])
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def run_sensitivity(
    name: str,
    out_dir: str | os.PathLike[str] | None = None,
    n_jobs: int | None = None,
    extra: Sequence[str] = (),
    progress: bool = True,
) -> Path:
    """Morris screening and a Saltelli/Sobol sample, each point run ``replications`` times on
    common seeds; the analysis (in :mod:`sim.report`) averages the replications per point.

    The fixed settings come from ``conf/experiment/NAME.yaml`` (its base overrides), the
    factors and sample sizes from ``experiments/levers_sensitivity/factors.yaml``.
    """
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    spec = load_experiment(name)
    factors = load_factors(name)
    problem = salib_problem(factors)
    seed = int(factors.get("seed", 0))
    reps = int(factors.get("replications", 1))
    designs = {
        "morris": morris_sample.sample(
            problem,
            int(factors["morris_trajectories"]),
            num_levels=int(factors.get("morris_levels", 4)),
            seed=seed,
        ),
        "sobol": sobol_sample.sample(
            problem, int(factors["sobol_n"]), calc_second_order=False, seed=seed
        ),
    }
    base_cfg = build_config([*spec.base, *extra])
    tasks: list[RunTask] = []
    for method, sample in designs.items():
        for i, point in enumerate(sample):
            dots = {
                key: factor_value(factors["factors"][key], float(u))
                for key, u in zip(problem["names"], point, strict=True)
            }
            cfg = json.loads(json.dumps(base_cfg))
            for key, value in dots.items():
                node = cfg
                *parents, leaf = key.split(".")
                for p in parents:
                    node = node[p]
                node[leaf] = value
            to_config(cfg)
            for r in range(reps):
                problem_seed, agent_seed = replication_seeds(seed, r)
                run_cfg = {
                    **cfg,
                    "seed": seed,
                    "problem_seed": problem_seed,
                    "agent_seed": agent_seed,
                }
                labels = {"experiment": name, "replications": reps, "design": method, "sample": i}
                labels.update(
                    {f"x.{k}": float(u) for k, u in zip(problem["names"], point, strict=True)}
                )
                tasks.append(RunTask(run_cfg, r, labels))
    out = Path(out_dir) if out_dir else default_out_dir(name)
    start = time.perf_counter()
    runs, _ = run_tasks(tasks, n_jobs, progress=name if progress else False, ts_columns=())
    wall = time.perf_counter() - start
    meta = {
        **spec.to_dict(),
        "kind": "salib",
        "extra": list(extra),
        "salib": {**factors, "problem": problem},
        "runs": len(runs),
        "wall_time_s": round(wall, 1),
        "n_jobs": n_jobs or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "runner": "sim.experiment",
    }
    return write_sweep(out, runs, pd.DataFrame(), meta)


# --- command line -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m sim.experiment NAME [--out DIR] [--jobs N] [--replications R] [--report]``."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.experiment", description=__doc__.split("\n")[0]
    )
    ap.add_argument("name", help="experiment name: a file in conf/experiment/")
    ap.add_argument("overrides", nargs="*", help="extra overrides for every run (e.g. steps=50)")
    ap.add_argument("--out", help="sweep folder to write (default results/sweeps/NAME-TIME)")
    ap.add_argument("--jobs", type=int, default=None, help="parallel workers (default: all cores)")
    ap.add_argument("--replications", type=int, default=None)
    ap.add_argument("--report", action="store_true", help="build the report when done")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        out = run_experiment(
            args.name, args.out, args.jobs, args.replications, args.overrides, not args.no_progress
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    if args.report:
        from sim.report import build_report

        print(build_report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
