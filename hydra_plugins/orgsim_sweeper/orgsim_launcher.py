"""orgsim's default launcher (``hydra/launcher=orgsim_joblib``): Hydra's joblib launcher with
forked workers.

Hydra's joblib launcher always uses joblib's loky backend: every worker is a fresh interpreter
that spends about a second of CPU importing Python, Hydra, Mesa, pandas and pyarrow before its
first job. For a sweep of a hundred short runs that is a core's worth of the whole sweep. This
launcher is the same launcher (same config and ``n_jobs``, same jobs: Hydra's own
``execute_job``) whose workers are *forked* (``backend: fork``), so a worker starts in
milliseconds with the sweep's imports. ``hydra/launcher=joblib`` keeps loky.

Forking a process that runs threads can deadlock a child that inherits a lock held: the sweep
forks its workers (:meth:`OrgsimJoblibLauncher.prestart`) before it starts its one other thread,
the progress bar's. A worker exits when the sweep's main process is gone
(``sim.engine.watch_parent``).
"""

import multiprocessing
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, setup_globals
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher


@dataclass
class OrgsimJobLibLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.orgsim_sweeper.orgsim_launcher.OrgsimJoblibLauncher"
    #: joblib's backend: "fork" (forked workers, the default) or "loky" (as hydra/launcher=joblib)
    backend: str | None = "fork"


ConfigStore.instance().store(
    group="hydra/launcher", name="orgsim_joblib", node=OrgsimJobLibLauncherConf
)


def _pool_size(n_jobs: Any, jobs: int | None = None) -> int:
    """joblib's meaning of ``n_jobs`` (-1: every CPU, -2: all but one, ...), at most ``jobs``."""
    from joblib import effective_n_jobs

    size = effective_n_jobs(int(n_jobs or -1))
    return max(1, size if jobs is None else min(size, jobs))


class OrgsimJoblibLauncher(JoblibLauncher):
    """Hydra's joblib launcher, with ``backend: fork`` honoured (see the module's docstring).

    The forked workers are run by the standard library's ProcessPoolExecutor rather than
    joblib's multiprocessing backend: when a worker dies (the out-of-memory killer, a crash),
    the executor says so and the sweep ends with the chunks it lost reported missing, where a
    multiprocessing pool waits for the lost chunk forever. Every worker watches the sweep's
    main process from its start and exits when it is gone.
    """

    _pool: Any = None

    def _forks(self) -> bool:
        """Fork where it is the platform's way (Linux), unless a start method was chosen."""
        return (
            self.joblib.get("backend") == "fork"
            and sys.platform.startswith("linux")
            and multiprocessing.get_start_method(allow_none=True) in (None, "fork")
        )

    def _share_context(self) -> None:
        """What every job shares, set before the workers fork: they inherit it rather than
        receive it pickled (Hydra's singletons hold OmegaConf resolvers that pickle cannot
        carry); it lives in sim.engine, a module that Hydra's plugin scan never re-imports."""
        from sim import engine

        engine.FORKED_JOB_CONTEXT = (
            self.hydra_context,
            self.config,
            self.task_function,
            Singleton.get_state(),
        )

    def _new_pool(self, size: int) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        from sim import engine

        self._share_context()
        pool = ProcessPoolExecutor(
            size,
            mp_context=multiprocessing.get_context("fork"),
            initializer=engine.prepare_forked_worker,
            initargs=(os.getpid(),),
        )
        # a fork-context executor forks all its workers at the first task
        pool.submit(engine.forked_worker_ready)
        return pool

    def prestart(self) -> "OrgsimJoblibLauncher | None":
        """Fork the workers now: the sweep calls this before it expands the design, so that
        the workers import the model (Mesa, networkx, scipy: ~0.4 s each) on the other cores
        while the sweep's main process expands and plans. None where this launcher will not
        fork (then the sweep may warm loky's workers instead)."""
        if not self._forks():
            return None
        self._pool = self._new_pool(_pool_size(self.joblib.get("n_jobs")))
        return self

    def ready(self) -> None:
        """(The forked workers need no waiting: a job queues until its worker is ready.)"""

    def discard(self) -> None:
        """Nothing to launch, or a mistake: let the started workers go."""
        from sim import engine

        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            engine.FORKED_JOB_CONTEXT = ()

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from sim import engine

        if self._pool is None and not self._forks():
            return super().launch(job_overrides, initial_job_idx)  # loky
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        pool = self._pool or self._new_pool(
            _pool_size(self.joblib.get("n_jobs"), len(job_overrides))
        )
        self._pool = None
        try:
            with pool:
                futures = [
                    pool.submit(engine.run_forked_job, initial_job_idx + idx, list(overrides))
                    for idx, overrides in enumerate(job_overrides)
                ]
                return [f.result() for f in futures]  # a dead worker: BrokenProcessPool
        finally:
            engine.FORKED_JOB_CONTEXT = ()
