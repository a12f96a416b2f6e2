"""orgsim: an agent-based simulator of innovation in organisations.

The Python API that every interface calls::

    import sim
    cfg = sim.compose_config(["org=adhocracy", "strategy=planning", "problem=wicked"])
    model = sim.InnovationModel(cfg).run()
    model.timeseries()   # one row per step
    model.summary()      # final outcomes
"""

from sim.config import ConfigError, OrgsimConfig, compose_config, to_config
from sim.landscape import NKLandscape
from sim.model import InnovationModel

__all__ = [
    "ConfigError",
    "InnovationModel",
    "NKLandscape",
    "OrgsimConfig",
    "compose_config",
    "to_config",
]
