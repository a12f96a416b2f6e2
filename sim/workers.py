"""The worker processes of the default launcher (``hydra/launcher=orgsim_joblib``).

A sweep's worker needs the model's imports (Mesa, which imports pandas, scipy and networkx;
pyarrow for the store): about a second of CPU. Forked from the sweep's main process, every
worker paid that second on its own, at the moment the main process was expanding the design,
so on a laptop the workers and the main process fought over the cores just before the first
job. Here the workers come from a *fork server* (the standard library's
``multiprocessing.forkserver``), started by ``orgsim`` the moment it sees a sweep: one fresh
interpreter that imports the model once, on an otherwise idle core, while the main process
checks the command line and composes the design; each worker is then a fork of it that starts
in milliseconds with everything imported.

A fork server's workers do not inherit the sweep's state, so the launcher sends each worker
what a job needs (:func:`prepare`): Hydra's context, config, task and singletons (with cloudpickle,
as Hydra's joblib launcher sends them to loky's workers), the environment and the
working folder. A worker exits when the sweep's main process is gone (:func:`watch`).

This module is imported by ``orgsim`` before anything heavy: it imports only the standard
library at module level.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: what the fork server imports once, for every worker it forks (see that module)
PRELOAD = ["sim.worker_preload"]


@dataclass
class JobContext:
    """What every job of a sweep shares, sent once to each worker (:func:`job_payload`)."""

    hydra_context: Any
    config: Any  # the sweep's (multirun) config, from which Hydra composes a job's
    task_function: Any
    singletons: dict[Any, Any]  # Hydra's Singleton state
    first_overrides: list[str]  # the first job's overrides ...
    first_config: Any  # ... and its composed config (None: no job)


#: the sweep's shared job context, in a worker (set by :func:`prepare`)
JOB_CONTEXT: JobContext | None = None


def can_fork_server() -> bool:
    """A fork server is the way on Linux, unless the program chose another start method."""
    return sys.platform.startswith("linux") and multiprocessing.get_start_method(
        allow_none=True
    ) in (None, "fork", "forkserver")


def start_fork_server() -> bool:
    """Start the fork server (it imports :data:`PRELOAD` in the background) unless it runs
    already; returns at once. False where workers are not forked this way."""
    if not can_fork_server():
        return False
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    # The fork server is a fresh `python -c` interpreter: it puts the working folder first on
    # its sys.path, and Python 3.12's fork server ignores the sys.path it is handed, so a
    # folder in the working folder named like a package (another checkout's `sim/`, say)
    # would be imported in place of ours. It is given this process's sys.path instead.
    saved = {name: os.environ.get(name) for name in ("PYTHONSAFEPATH", "PYTHONPATH")}
    os.environ["PYTHONSAFEPATH"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if os.path.isabs(p))
    try:
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return True


def context() -> Any:
    """The multiprocessing context that forks workers from the fork server."""
    start_fork_server()
    return multiprocessing.get_context("forkserver")


def job_payload(
    hydra_context: Any, config: Any, task_function: Any, job_overrides: Sequence[Sequence[str]]
) -> bytes:
    """What every job of the sweep shares, as bytes for :func:`prepare`: Hydra's context, task
    and singletons, and the first job's composed config with its overrides.

    Hydra's joblib launcher composes every job's config in its worker (``load_sweep_config``,
    ~0.1 s), when the worker is ready and the job could start. A sweep's jobs differ only in
    their chunk (``chunk=PATH``), so here the first job's config is composed once, in the main
    process, while the fork server is still importing; each job's config is made from it by
    :func:`job_config`."""
    import cloudpickle
    from hydra.core.singleton import Singleton

    first = list(job_overrides[0]) if job_overrides else []
    template = hydra_context.config_loader.load_sweep_config(config, first) if first else None
    return cloudpickle.dumps(
        JobContext(hydra_context, config, task_function, Singleton.get_state(), first, template)
    )


def prepare(main_pid: int, payload: bytes, environ: dict[str, str], cwd: str) -> None:
    """A worker's start: the sweep's environment and folder, its shared job context, and a
    watch on the sweep's main process. What the fork server imported is frozen out of the
    garbage collector's sight (``gc.freeze``): its collections during the runs then walk
    only the runs' own objects."""
    import gc
    import pickle

    global JOB_CONTEXT
    watch(main_pid)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    JOB_CONTEXT = pickle.loads(payload)
    gc.freeze()


def job_config(overrides: Sequence[str]) -> Any:
    """A job's config, as Hydra's ``load_sweep_config`` composes it: the first job's config
    with this job's chunk (its ``chunk`` value, the task overrides Hydra records and the
    ``override_dirname`` made from them); composed afresh if its overrides differ from the
    first job's in anything else. (A test holds the two ways equal.)"""
    import copy

    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict

    shared = JOB_CONTEXT
    assert shared is not None, "not in a worker prepared by sim.workers.prepare"
    first, overrides = shared.first_overrides, list(overrides)
    same_but_chunk = shared.first_config is not None and len(overrides) == len(first)
    same_but_chunk = same_but_chunk and all(
        a == b or (a.startswith("chunk=") and b.startswith("chunk="))
        for a, b in zip(first, overrides, strict=False)
    )
    if not same_but_chunk:
        return shared.hydra_context.config_loader.load_sweep_config(shared.config, overrides)
    cfg = copy.deepcopy(shared.first_config)
    parsed = OverridesParser.create().parse_overrides(overrides)
    task = [o for o in parsed if not o.is_hydra_override()]
    dirname = cfg.hydra.job.config.override_dirname
    with open_dict(cfg):
        for o in task:
            if o.key_or_group == "chunk":
                cfg.chunk = o.value()
        cfg.hydra.overrides.task = [o.input_line for o in task]
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task,
            kv_sep=dirname.kv_sep,
            item_sep=dirname.item_sep,
            exclude_keys=dirname.exclude_keys,
        )
    return cfg


def run_job(idx: int, overrides: list[str]) -> Any:
    """One Hydra job in a worker: what Hydra's joblib launcher does for a job (its
    ``execute_job``), with the job's config from :func:`job_config`."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job as hydra_run_job
    from hydra.core.utils import setup_globals
    from omegaconf import open_dict

    shared = JOB_CONTEXT
    assert shared is not None, "not in a worker prepared by sim.workers.prepare"
    setup_globals()
    Singleton.set_state(shared.singletons)
    cfg = job_config(overrides)
    with open_dict(cfg):
        cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
        cfg.hydra.job.num = idx
    HydraConfig.instance().set_config(cfg)
    ret = hydra_run_job(
        hydra_context=shared.hydra_context,
        config=cfg,
        task_function=shared.task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    # the composed configs stay here: the sweep reads only the status and the return value
    ret.cfg = ret.hydra_cfg = None
    return ret


_WATCHING: set[int] = set()


def watch(main_pid: int) -> None:
    """In a worker process: exit when the sweep's main process is gone, so that killing a
    sweep's main process does not leave its workers computing for minutes."""
    if main_pid in _WATCHING or main_pid == os.getpid():
        return
    _WATCHING.add(main_pid)
    try:
        handle = os.pidfd_open(main_pid)
    except (AttributeError, OSError):  # no pidfd (old kernel) or already gone
        handle = -1

    def wait_then_exit() -> None:
        if handle >= 0:
            import select

            select.select([handle], [], [])
        else:
            while _alive(main_pid):
                time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=wait_then_exit, name="orgsim-main-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
