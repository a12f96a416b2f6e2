"""orgsim's default launcher (``hydra/launcher=orgsim_joblib``): Hydra's joblib launcher with
forked workers.

Hydra's joblib launcher always uses joblib's loky backend: every worker is a fresh interpreter
that spends about a second of CPU importing Python, Hydra, Mesa, pandas and pyarrow before its
first job. For a sweep of a hundred short runs that is a core's worth of the whole sweep. This
launcher is the same launcher (same config, same jobs: Hydra's own ``execute_job``) with joblib's
multiprocessing backend on a *fork* context, so a worker starts in milliseconds with the
sweep's imports. ``hydra/launcher=joblib`` keeps loky.

Forking a process that runs threads can deadlock a child that inherits a lock held: the sweep's
only other thread, the progress bar's, is paused around every fork (``sim.engine._DRAWING``),
and a worker exits when the sweep's main process is gone (``sim.engine._watch_parent``).
"""

import multiprocessing
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


class OrgsimJoblibLauncher(JoblibLauncher):
    """Hydra's joblib launcher, with ``backend: fork`` honoured (see the module's docstring)."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
        from joblib import Parallel, delayed

        from sim import engine

        if self.joblib.get("backend") != "fork" or multiprocessing.get_start_method(
            allow_none=True
        ) not in (None, "fork"):
            return super().launch(job_overrides, initial_job_idx)
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        joblib_cfg: dict[str, Any] = dict(self.joblib)
        joblib_cfg["backend"] = multiprocessing.get_context("fork")
        process_joblib_cfg(joblib_cfg)
        # what every job shares is set before the workers fork: they inherit it rather than
        # receive it pickled (Hydra's singletons hold OmegaConf resolvers that pickle cannot
        # carry); it lives in sim.engine, a module that Hydra's plugin scan never re-imports
        engine.FORKED_JOB_CONTEXT = (
            self.hydra_context,
            self.config,
            self.task_function,
            Singleton.get_state(),
        )
        try:
            runs = Parallel(**joblib_cfg)(
                delayed(engine.run_forked_job)(initial_job_idx + idx, list(overrides))
                for idx, overrides in enumerate(job_overrides)
            )
        finally:
            engine.FORKED_JOB_CONTEXT = ()
        return list(runs)
