"""``orgsim``: the command line, a thin Hydra app over ``conf/`` and the experiment engine.

``orgsim [overrides]`` runs one composed config; ``orgsim -m [overrides]`` runs a sweep through
the orgsim sweeper (:mod:`sim.engine`): grids, sampled designs and replications, one launcher
job per chunk of runs (joblib by default, ``hydra/launcher=orgsim_slurm`` on a cluster).

Why :func:`main` is more than ``@hydra.main``: Hydra creates folders and prints multi-line
errors for mistakes it finds while composing. :func:`main` therefore parses the command line
and composes its fixed part first, prints one line and exits 2 on a mistake, and only then
hands the command line to the Hydra app; the sweeper validates the whole design before it
writes anything. It also makes ``results_dir`` absolute (Slurm jobs run elsewhere) and turns
``replications=R`` into a sweep.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sim import design_cache, workers
from sim.config import CONF_DIR, ConfigError, register_schema
from sim.design import compose, is_group, parse_overrides, run_config

PROG = "orgsim"
#: flags that only show information: Hydra handles them, nothing runs, nothing is written
INFO_FLAGS = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-c", "--cfg"}
VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-i", "--info"}
KNOWN_FLAGS = INFO_FLAGS | VALUE_FLAGS | {"-m", "--multirun", "--resolve"}
LAUNCHERS = ("orgsim_joblib", "joblib", "basic", "orgsim_slurm", "submitit_slurm", "submitit_local")


class _Prepared:
    """What :func:`prepare` hands to Hydra: the argv and whether it is a multirun; for a checked
    command (not ``--help``/``--cfg``/``--info``) also the config's ``hydra.mode`` (a RunMode's
    name or None: what Hydra's ``get_mode`` would find) and the resolved ``results_dir``."""

    def __init__(
        self,
        argv: list[str],
        multirun: bool,
        jobs: int,
        mode: str | None = None,
        results_dir: str = "",
        checked: bool = False,
    ) -> None:
        self.argv, self.multirun, self.jobs = argv, multirun, jobs
        self.mode, self.results_dir, self.checked = mode, results_dir, checked


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


def _compose(overrides: list[str], with_hydra: bool) -> DictConfig:
    """:func:`sim.design.compose`, naming the launchers (their presets come from plugins)."""
    try:
        return compose(overrides, with_hydra=with_hydra)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith("hydra/launcher="):
            message = message.split(" (allowed", 1)[0] + f" (allowed: {', '.join(LAUNCHERS)})"
        raise ConfigError(message) from None


def _check_shown_config(overrides: list[str]) -> None:
    """``--cfg job`` prints a composed config: it must be one that would run."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    plain = [o.input_line for o in parse_overrides(overrides) if not o.is_sweep_override()]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            base = _compose(plain, with_hydra=False)
            run_config(base)
    finally:
        GlobalHydra.instance().clear()


def prepare(argv: Sequence[str]) -> _Prepared:
    """Check a command line; return the argv to hand to the Hydra app.

    Raises :class:`ConfigError` (one line) for any user mistake; writes nothing.
    """
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    flags, overrides = _split_args(argv)
    if any(f.split("=", 1)[0] in INFO_FLAGS for f in flags):
        if any(f.split("=", 1)[0] in ("-c", "--cfg") for f in flags):
            _check_shown_config(overrides)  # never print an invalid config as if it were fine
        return _Prepared(list(argv), multirun=False, jobs=0)
    register_schema()
    parsed = parse_overrides(overrides)
    for o in parsed:
        if (o.is_add() or o.is_force_add() or o.is_delete()) and not (
            is_group(o.key_or_group) or o.key_or_group.startswith("hydra")
        ):
            raise ConfigError(
                f"{o.input_line}: settings cannot be added (+) or deleted (~); "
                f"set an existing one as {o.key_or_group}=VALUE (see docs/ODD.md)"
            )
        if (
            "_target_" in o.key_or_group
            or o.key_or_group in ("hydra", "chunk")
            or (o.key_or_group.startswith(("hydra.callbacks", "hydra.sweep.")))
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
    for key in ("results_dir", "replications", "chunk_size", "experiment"):
        if key in {o.key_or_group for o in sweeps}:
            raise ConfigError(f"{key} cannot be swept: one sweep has one {key}")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            base = _compose(plain, with_hydra=True)
            mode = _mode_name(base.hydra.mode)
            if mode == "MULTIRUN":
                multirun = True
            run = run_config(OmegaConf.masked_copy(base, [k for k in base if k != "hydra"]))
    finally:
        GlobalHydra.instance().clear()
    results_dir = Path(str(run.results_dir)).expanduser().resolve()
    check_writable(results_dir)
    final = [a for a in overrides if not a.lstrip("+").startswith("results_dir=")]
    final.append(f"results_dir={results_dir}")
    keys = {o.key_or_group for o in parsed}
    sweeper_design = base.hydra.sweeper.get("params") or base.hydra.sweeper.get("sample")
    if not multirun and ((run.replications > 1 and "replication" not in keys) or sweeper_design):
        multirun = True  # replications=R, or an experiment that declares a design
    out_flags = [f for f in flags if f not in ("-m", "--multirun")]
    if multirun:
        out_flags.insert(0, "--multirun")
    return _Prepared(
        out_flags + final,
        multirun=multirun,
        jobs=0,
        mode=mode,
        results_dir=str(results_dir),
        checked=True,
    )


def _mode_name(mode: object) -> str | None:
    """A composed ``hydra.mode`` (a RunMode, its name, or None) as the RunMode's name."""
    if mode is None:
        return None
    return str(getattr(mode, "name", mode)).removeprefix("RunMode.")


def check_writable(folder: Path) -> None:
    """``results_dir`` must be a folder we can write into (or create): checked by creating and
    removing a temporary file in it or its nearest existing parent, so nothing is left."""
    import tempfile

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = ""
    if not probe.is_dir():
        problem = f"{probe} is not a folder"
    else:
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as exc:
            problem = f"{probe} is not writable ({exc.strerror or exc})"
    if problem:
        raise ConfigError(f"results_dir={folder}: {problem}; choose a writable folder")


#: the exit code of the last command (set by the task or the sweeper's result)
_EXIT = {"code": 0}


def _task(cfg: DictConfig) -> None:
    """The Hydra job: a chunk of a sweep, or one single run."""
    from sim import engine

    if cfg.get("chunk"):
        engine.run_chunk_file(str(cfg.chunk))
        return
    from sim.config import flat_of

    run = run_config(cfg)
    record = engine.run_single(flat_of(run), run.results_dir, plot=run.plot, progress=run.progress)
    print(engine.single_run_report(record), flush=True)
    if record["status"] != "ok":
        _EXIT["code"] = 1


def _hydra_app(prepared: _Prepared | None = None) -> None:
    """Run the Hydra app on ``sys.argv``.

    Hydra's ``_run_hydra`` first composes the whole config only to read ``hydra.mode``
    (``Hydra.get_mode``), then composes it again to run. The door check composed the same
    config already (the same fixed overrides: Hydra's defaults list skips sweeps, and a
    composition that succeeds for a run succeeds for a multirun), so a checked command hands
    Hydra the mode it found instead of a third composition (~0.07 s)."""
    import hydra
    from hydra._internal.hydra import Hydra
    from hydra.types import RunMode

    register_schema()
    app = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_task)
    if prepared is None or not prepared.checked:
        app()
        return
    known = RunMode[prepared.mode] if prepared.mode else None
    original = Hydra.get_mode
    Hydra.get_mode = lambda self, config_name, overrides: known  # type: ignore[method-assign]
    try:
        app()
    finally:
        Hydra.get_mode = original  # type: ignore[method-assign]


def _from_cache(args: list[str]) -> tuple[_Prepared | None, design_cache.Entry | None]:
    """The door check's answer for a command seen before (see :mod:`sim.design_cache`), with
    the part that depends on the disk done again: ``results_dir`` must still resolve to the
    same folder and be writable. (None, None) when the command must be checked afresh."""
    entry = design_cache.begin(args)
    if entry is None:
        return None, None
    if entry.sweep is None and entry.multirun:
        return None, None  # its sweep never got as far as an expanded design
    folder = Path(entry.results_dir)
    if str(folder.resolve()) != entry.results_dir:  # a symlink on the way changed
        return None, None
    check_writable(folder)
    prepared = _Prepared(
        list(entry.argv),
        multirun=entry.multirun,
        jobs=0,
        mode=entry.mode,
        results_dir=entry.results_dir,
        checked=True,
    )
    return prepared, entry


def _forks_workers(args: Sequence[str]) -> bool:
    """A sweep on the default launcher (as far as the command line says): its workers will
    come from the fork server. (Another launcher chosen in an experiment file only costs the
    fork server's imports on an otherwise idle core.)"""
    launchers = [a.split("=", 1)[1] for a in args if a.startswith("hydra/launcher=")]
    return bool({"-m", "--multirun"} & set(args)) and launchers in ([], ["orgsim_joblib"])


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``orgsim``: check at the door, then run the Hydra app.

    A command run before with the same conf/, code and libraries skips the door check's
    composition and the sweep's expansion (:mod:`sim.design_cache`); a sweep whose every run
    the store has is then finished without Hydra (:func:`sim.engine.reuse_sweep`).

    A sweep's workers come from a fork server (:mod:`sim.workers`), started as soon as the
    command asks for a sweep (before this process imports pandas and composes), so that it
    imports the model on another core meanwhile."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            prepared, entry = _from_cache(args)
            if prepared is None:
                if _forks_workers(args):
                    workers.start_fork_server()  # it imports the model while we compose
                prepared = prepare(args)
                if prepared.checked:
                    design_cache.checked(
                        prepared.argv, prepared.multirun, prepared.mode, prepared.results_dir
                    )
        except ConfigError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        _EXIT["code"] = 0
        try:
            if entry is not None and entry.multirun and entry.sweep is not None:
                from sim.engine import reuse_sweep

                result = reuse_sweep(entry.sweep)
                if result is not None:
                    if result.exit_code:
                        raise SystemExit(result.exit_code)
                    return
            if prepared.checked and _forks_workers(prepared.argv):
                workers.start_fork_server()  # e.g. replications=R without -m (idempotent)
            sys.argv = [sys.argv[0] if sys.argv else PROG, *prepared.argv]
            _hydra_app(prepared)
        except Exception as exc:
            from sim.store import StoreError

            if not isinstance(exc, StoreError):
                raise
            # the disk failed (full, removed): not the user's typing
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
    finally:
        design_cache.end()
    if _EXIT["code"]:
        raise SystemExit(_EXIT["code"])


def console() -> None:
    """The ``orgsim`` console script: :func:`main`, then a quick exit (Ctrl-C: one line, exit
    130).

    At exit the interpreter tears down the ~1,300 modules a sweep imports (Mesa, pandas,
    scipy, Hydra) and its garbage collector walks every object they made: 0.1-0.2 s, a fifth
    of a reused sweep's time. Freezing the collector's objects first (``gc.freeze``) leaves
    their memory to the operating system; every exit handler still runs (logging flushes its
    files, the workers are joined)."""
    import gc

    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback; the store keeps its parts
        print(
            f"{PROG}: interrupted; the runs already stored are kept: run the same command "
            "again to finish",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    console()
