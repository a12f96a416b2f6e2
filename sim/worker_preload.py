"""What the fork server imports once for every sweep worker (:data:`sim.workers.PRELOAD`).

Importing this module *is* the preload: the model (Mesa, with pandas, scipy and networkx), the
store (pyarrow) and the parts of Hydra a job uses. The garbage collector is paused meanwhile:
the imports leave over a hundred thousand long-lived objects and little garbage, and the
collector's repeated passes over the growing heap are a noticeable part of the preload (see
``benchmarks/README.md``). The result is frozen (``gc.freeze``), so that neither the server nor
its workers walk it again.
"""

import gc

gc.disable()
try:
    import hydra.core.override_parser.overrides_parser  # noqa: F401
    import hydra.core.utils  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import sim.engine  # noqa: F401
    import sim.model  # noqa: F401
finally:
    gc.enable()
gc.freeze()
