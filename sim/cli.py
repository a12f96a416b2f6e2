"""``orgsim``: the command line, a thin Hydra app over ``conf/``.

``orgsim [overrides]`` runs one composed config; ``orgsim -m [sweep overrides]`` runs a sweep
(joblib launcher by default, ``hydra/launcher=orgsim_slurm`` on a cluster) and builds one table.

Why :func:`main` is more than ``@hydra.main``: Hydra creates its output folders before it
composes the job's config, so a user's mistake would leave folders behind and print Hydra's
multi-line error. :func:`main` therefore composes and validates *every* job of the command line
first (sweeps expanded exactly as Hydra's basic sweeper will), prints one line and exits 2 on a
mistake, and only then hands the same command line to the Hydra app. It also makes
``results_dir`` absolute (Slurm jobs run elsewhere) and turns ``replications=R`` into a sweep
over ``replication=range(0,R)``.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.config import CONF_DIR, ConfigError, friendly_error, register_schema

PROG = "orgsim"
#: flags that only show information: Hydra handles them, nothing runs, nothing is written
INFO_FLAGS = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-c", "--cfg"}
VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-i", "--info"}
KNOWN_FLAGS = INFO_FLAGS | VALUE_FLAGS | {"-m", "--multirun", "--resolve"}
LAUNCHERS = ("joblib", "basic", "orgsim_slurm", "submitit_slurm", "submitit_local")
#: sweeps larger than this are validated per distinct group choice (see _validate_jobs)
GROUPS = {p.name for p in CONF_DIR.iterdir() if p.is_dir()} if CONF_DIR.is_dir() else set()


class _Prepared:
    """What :func:`prepare` hands to Hydra: the argv and whether it is a multirun."""

    def __init__(self, argv: list[str], multirun: bool, jobs: int) -> None:
        self.argv, self.multirun, self.jobs = argv, multirun, jobs


def _split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra's flags (with their values) from overrides."""
    flags: list[str] = []
    overrides: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg.startswith("-") and "=" not in arg.split("-", 2)[-1][:1]:
            name = arg.split("=", 1)[0]
            if name not in KNOWN_FLAGS:
                raise ConfigError(
                    f"unknown option {arg} (allowed: -m/--multirun, --help, --cfg job, --info)"
                )
            flags.append(arg)
            if name in VALUE_FLAGS and "=" not in arg:
                value = next(it, None)
                if value is not None:
                    flags.append(value)
        else:
            overrides.append(arg)
    return flags, overrides


def _is_group(key: str) -> bool:
    return "." not in key and key.split("/")[0] in GROUPS


def _parse(overrides: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None


def _compose(overrides: list[str], with_hydra: bool) -> DictConfig:
    from hydra import compose

    try:
        return compose(config_name="config", overrides=overrides, return_hydra_config=with_hydra)
    except Exception as exc:
        message = friendly_error(exc)
        if message.startswith("hydra/launcher="):  # presets also come from plugins
            message = message.split(" (allowed", 1)[0] + f" (allowed: {', '.join(LAUNCHERS)})"
        raise ConfigError(message) from None


def _check_run(cfg: DictConfig) -> Any:
    """Validate a composed config (without its hydra node) as a RunConfig."""
    from sim.sweep import to_run_config

    try:
        return to_run_config(cfg)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None


def _validate_jobs(jobs: list[list[str]]) -> None:
    """Compose and validate every job of a sweep.

    A full Hydra composition costs ~0.2 s, so jobs are composed once per distinct set of group
    choices (``strategy=planning``, ``org=adhocracy``, ...) and their value overrides are
    applied to a copy with Hydra's own override code: same semantics and errors, ~100x faster.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    bases: dict[tuple[str, ...], DictConfig] = {}
    last_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
    # `seed` and `replication` enter only range checks and replication < replications (which
    # cannot be swept), so a job that differs from a validated one only in values of those two
    # already seen is valid too: 2160 jobs of 72 cells x 30 replications need 72 + 30 checks
    done: set[tuple[str, ...]] = set()
    seen: set[str] = set()
    for job in jobs:
        free = [a for a in job if a.split("=", 1)[0] in ("seed", "replication")]
        rest = tuple(a for a in job if a not in free)
        if rest in done and all(a in seen for a in free):
            continue
        done.add(rest)
        seen.update(free)
        parsed = _parse(job)
        groups = tuple(o.input_line for o in parsed if _is_group(o.key_or_group))
        values = [
            o
            for o in parsed
            if not _is_group(o.key_or_group) and not o.key_or_group.startswith("hydra")
        ]
        if any(o.is_add() or o.is_delete() or o.is_force_add() for o in values):
            cfg = _compose(job, with_hydra=False)
        else:
            if groups not in bases:
                bases[groups] = _compose(list(groups), with_hydra=False)
            # every job of a basic sweep sets the same keys, so each overwrites the previous
            # job's values and the base can be reused without a (slow) copy
            value_keys = tuple(o.key_or_group for o in values)
            if last_keys.setdefault(groups, value_keys) == value_keys:
                cfg = bases[groups]
            else:
                cfg = copy.deepcopy(bases[groups])
            try:
                ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
            except Exception as exc:
                raise ConfigError(friendly_error(exc)) from None
        _check_run(cfg)


def prepare(argv: Sequence[str]) -> _Prepared:
    """Validate a command line completely; return the argv to hand to the Hydra app.

    Raises :class:`ConfigError` (one line) for any user mistake; writes nothing.
    """
    from hydra import initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra

    flags, overrides = _split_args(argv)
    if any(f.split("=", 1)[0] in INFO_FLAGS for f in flags):
        return _Prepared(list(argv), multirun=False, jobs=0)
    register_schema()
    parsed = _parse(overrides)
    for o in parsed:
        if (o.is_add() or o.is_force_add() or o.is_delete()) and not (
            _is_group(o.key_or_group) or o.key_or_group.startswith("hydra")
        ):
            raise ConfigError(
                f"{o.input_line}: settings cannot be added (+) or deleted (~); "
                f"set an existing one as {o.key_or_group}=VALUE (see docs/ODD.md)"
            )
        if "_target_" in o.key_or_group or (
            o.key_or_group.startswith("hydra.callbacks") or o.key_or_group == "hydra"
        ):
            raise ConfigError(f"{o.key_or_group} cannot be set from the command line")
    multirun = any(f in ("-m", "--multirun") for f in flags)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    if sweeps and not multirun:
        o = sweeps[0]
        raise ConfigError(
            f"{o.input_line} is a sweep: add -m (--multirun) to run one job per value"
        )
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        base = _compose(plain, with_hydra=True)
        if str(base.hydra.mode) == "RunMode.MULTIRUN" or base.hydra.mode == "MULTIRUN":
            multirun = True
        keys = {o.key_or_group for o in parsed}
        final = list(overrides)
        if "results_dir" in {o.key_or_group for o in sweeps}:
            raise ConfigError("results_dir cannot be swept: one sweep writes to one results_dir")
        if "replications" in {o.key_or_group for o in sweeps}:
            raise ConfigError("replications cannot be swept: sweep replication=... instead")
        if "batch" in {o.key_or_group for o in sweeps}:
            raise ConfigError("batch cannot be swept: it only groups replications into jobs")
        # the settings that shape the sweep (replications, batch) must be valid before use
        _check_run(OmegaConf.masked_copy(base, [k for k in base if k != "hydra"]))
        results_dir = Path(str(base.results_dir)).expanduser().resolve()
        final = [a for a in final if not a.lstrip("+").startswith("results_dir=")]
        final.append(f"results_dir={results_dir}")
        replications, batch = int(base.replications), int(base.batch)
        if replications > 1 and "replication" not in keys:
            # one job per batch of replications: job r runs replications r .. r+batch-1
            final.append(f"replication=range(0,{replications},{batch})")
            multirun = True
        if multirun:
            params = base.hydra.sweeper.get("params") or {}
            sweep_args = [f"{k}={v}" for k, v in params.items() if k not in keys]
            job_args = sweep_args + final
            jobs = BasicSweeper.split_arguments(_parse(job_args), max_batch_size=None)[0]
            _validate_jobs([list(j) for j in jobs])
            if not jobs:
                raise ConfigError("the sweep has no jobs")
        else:
            jobs = [final]
            _check_run(_compose(final, with_hydra=False))
    GlobalHydra.instance().clear()
    out_flags = [f for f in flags if f not in ("-m", "--multirun")]
    if multirun:
        out_flags.insert(0, "--multirun")
    return _Prepared(out_flags + final, multirun=multirun, jobs=len(jobs))


def _task(cfg: DictConfig) -> dict[str, Any]:
    """The Hydra job: one run through the store (see :func:`sim.sweep.run_job`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sim.sweep import run_job

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    return run_job(cfg, job_dir=hc.runtime.output_dir, multirun=multirun)


def _skip_sweeper_revalidation() -> None:
    """Hydra's basic sweeper composes every job of a batch once more, serially in this process,
    before it launches any (``validate_batch_is_legal``): ~0.2 s per job, which made a sweep
    of 200 short runs spend most of its time before the first run started. :func:`prepare` has
    already composed and validated every job, so here that second pass is switched off (this
    process only; the launcher still composes each job's config as usual)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    BasicSweeper.validate_batch_is_legal = lambda self, batch: None  # type: ignore[method-assign]


def _hydra_app() -> None:
    import hydra

    register_schema()
    app = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_task)
    app()


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``orgsim``: validate at the door, then run the Hydra app."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        prepared = prepare(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if prepared.multirun:
        print(f"{PROG}: sweep of {prepared.jobs} runs", file=sys.stderr, flush=True)
    if prepared.multirun:
        _skip_sweeper_revalidation()
    sys.argv = [sys.argv[0] if sys.argv else PROG, *prepared.argv]
    _hydra_app()


if __name__ == "__main__":  # pragma: no cover
    main()
