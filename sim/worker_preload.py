"""What the fork server imports once for every sweep worker (:data:`sim.workers.PRELOAD`).

Importing this module *is* the preload: the model (Mesa, with pandas, scipy and networkx), the
store (pyarrow) and the parts of Hydra a job uses. The garbage collector is paused meanwhile:
the imports create about a million objects and never any garbage, yet the collector's full
passes over them cost an eighth of the preload's second. The result is frozen (``gc.freeze``),
so that neither the server nor its workers walk it again.
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
