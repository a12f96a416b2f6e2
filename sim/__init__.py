"""orgsim: an agent-based simulator of innovation in organisations.

The Python API that every interface calls::

    import sim
    cfg = sim.compose_config(["org=adhocracy", "strategy=planning", "problem=wicked"])
    model = sim.InnovationModel(cfg).run()
    model.timeseries()   # one row per step
    model.summary()      # final outcomes

    result = sim.sweep(["strategy=incremental,planning", "replications=10"], jobs=2)
    result.table         # the sweep's results table, exactly as `orgsim -m ...` writes it

Names are imported on first use, so that the command line and the sweep's parent process do
not pay for importing the model (Mesa, networkx) when they only plan and tabulate.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ConfigError": "sim.config",
    "OrgsimConfig": "sim.config",
    "compose_config": "sim.config",
    "to_config": "sim.config",
    "NKLandscape": "sim.landscape",
    "InnovationModel": "sim.model",
    "sweep": "sim.engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
