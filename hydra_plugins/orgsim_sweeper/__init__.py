"""orgsim's Hydra sweeper: every ``orgsim -m`` sweep goes through the orgsim experiment engine.

It lives in the ``hydra_plugins`` namespace because Hydra only instantiates plugins found there;
the engine itself is :mod:`sim.engine`.
"""
