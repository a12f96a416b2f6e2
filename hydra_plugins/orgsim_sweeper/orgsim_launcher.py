"""orgsim's default launcher (``hydra/launcher=orgsim_joblib``): Hydra's joblib launcher with
forked workers.

Hydra's joblib launcher always uses joblib's loky backend: every worker is a fresh interpreter
that spends about a second of CPU importing Python, Hydra, Mesa, pandas and pyarrow before its
first job. For a sweep of a hundred short runs that is a core's worth of the whole sweep. This
launcher is the same launcher (same config and ``n_jobs``, the same Hydra job around each
chunk) whose workers are *forked* (``backend: fork``) from orgsim's fork server
(:mod:`sim.workers`), which imported the model once, on another core, while the sweep's main
process composed and expanded the design: a worker starts in milliseconds with everything
imported. ``hydra/launcher=joblib`` keeps loky.

The fork server is a single-threaded process of its own, so no worker inherits a lock held by
a thread of the sweep's. A worker exits when the sweep's main process is gone
(:func:`sim.workers.watch`).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, setup_globals
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher


@dataclass
class OrgsimJobLibLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.orgsim_sweeper.orgsim_launcher.OrgsimJoblibLauncher"
    #: joblib's backend: "fork" (workers forked from orgsim's fork server, the default) or
    #: "loky" (as hydra/launcher=joblib)
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

    def _forks(self) -> bool:
        """Fork where it is the platform's way (Linux), unless a start method was chosen."""
        from sim import workers

        return self.joblib.get("backend") == "fork" and workers.can_fork_server()

    def _new_pool(self, size: int, job_overrides: Sequence[Sequence[str]]) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        from sim import workers

        payload = workers.job_payload(
            self.hydra_context, self.config, self.task_function, job_overrides
        )
        return ProcessPoolExecutor(
            size,
            mp_context=workers.context(),
            initializer=workers.prepare,
            initargs=(os.getpid(), payload, dict(os.environ), os.getcwd()),
        )

    def prestart(self) -> "OrgsimJoblibLauncher | None":
        """Start the fork server now (``orgsim`` started it already when it saw a sweep): it
        imports the model on another core while the sweep's main process expands and plans.
        None where this launcher will not fork (then the sweep may warm loky's workers)."""
        if not self._forks():
            return None
        from sim import workers

        workers.start_fork_server()
        return self

    def ready(self) -> None:
        """(Nothing to wait for: a job queues until its worker is forked and ready.)"""

    def discard(self) -> None:
        """(Nothing to stop: the fork server ends with the sweep's main process.)"""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from sim import workers

        if not self._forks():
            return super().launch(job_overrides, initial_job_idx)  # loky
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        pool = self._new_pool(
            _pool_size(self.joblib.get("n_jobs"), len(job_overrides)), job_overrides
        )
        with pool:
            futures = [
                pool.submit(workers.run_job, initial_job_idx + idx, list(overrides))
                for idx, overrides in enumerate(job_overrides)
            ]
            return [f.result() for f in futures]  # a dead worker: BrokenProcessPool
