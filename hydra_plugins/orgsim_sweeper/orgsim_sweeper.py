"""The orgsim sweeper (``hydra/sweeper=orgsim``, the default in ``conf/config.yaml``).

Hydra's basic sweeper makes one job per grid point, composes every job twice and knows no
sampled designs. This sweeper hands the command line to the orgsim engine, which expands grids
(``hydra.sweeper.params`` and ``a,b`` overrides) and SALib samples (``hydra.sweeper.sample``) x
replications once in this process, skips what the store already has, and asks the configured
launcher (joblib, basic, submitit) to run one job per chunk of runs.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class OrgsimSweeperConf:
    _target_: str = "hydra_plugins.orgsim_sweeper.orgsim_sweeper.OrgsimSweeper"
    #: grid: setting -> Hydra sweep string (``a,b,c`` or ``range(0,5)``), as the basic sweeper's
    params: Any = None
    #: sampled design (see sim/design.py): factors, methods (sobol, morris, lhs), seed
    sample: Any = None


ConfigStore.instance().store(group="hydra/sweeper", name="orgsim", node=OrgsimSweeperConf)


class OrgsimSweeper(Sweeper):
    """Expands the design and launches one job per chunk through Hydra's launcher."""

    def __init__(self, params: Any = None, sample: Any = None) -> None:
        self.params = dict(params or {})
        self.sample = sample
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.hydra_context: HydraContext | None = None
        self.result: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        import sys

        from sim.config import ConfigError
        from sim.engine import hydra_sweep
        from sim.store import StoreError

        try:
            self.result = hydra_sweep(self, arguments)
        except ConfigError as exc:  # a user's mistake: one line, exit 2, nothing written
            print(f"orgsim: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except StoreError as exc:  # the disk failed (full, removed): one line, exit 1
            print(f"orgsim: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        if self.result.exit_code:
            raise SystemExit(self.result.exit_code)
        return []
