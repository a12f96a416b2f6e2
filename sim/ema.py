"""orgsim as an EMA Workbench model, so that EMA users can apply the rest of their toolbox
(sampling designs, optimisation of levers, their own scenario discovery) to it.

Why an adapter and no more: orgsim's own experiments run through its engine (``orgsim -m``:
the store, the run ids, common random numbers, restarts). The workbench asks for a function
of named parameters that returns named outcomes; this module builds that function and the
workbench's parameter and outcome objects from what orgsim already declares, so nothing is
restated by hand:

* a numeric setting's range is the config schema's (:func:`sim.design.schema_range`), an
  integer setting becomes an ``IntegerParameter``; a preset group (``strategy``, ``org``,
  ``problem``, ``levers``) or a text setting becomes a ``CategoricalParameter`` of its values;
* each outcome's kind (maximise, minimise, or information only) is its declared direction
  (:data:`sim.metrics.OUTCOMES`).

The workbench wants parameter names that are Python identifiers, so a dotted setting is named
with a double underscore (``problem.k`` -> ``problem__k``, :func:`ema_name`); the runs turn it
back.

Example::

    from ema_workbench import SequentialEvaluator
    from sim.ema import orgsim_model

    model = orgsim_model(
        uncertainties={"problem.k": None, "problem.turbulence": (0.0, 0.2)},
        levers={"strategy": ["incremental", "planning"], "levers.cocreation": None},
        outcomes=["mean_performance", "time_to_90"],
        base=["steps=60"],
    )
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=100, policies=4)

Every experiment runs with the same seed (``base`` may set ``seed=``): scenarios meet the same
random streams, as in orgsim's own designs. Use the workbench's ``ReplicatorModel`` pattern
(varying ``seed``) for replications.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from sim import outcomes as meta
from sim.config import ConfigError
from sim.design import FIELD_TYPES, GROUPS, schema_range

#: what a parameter may be given as: None (the schema's range), a (low, high) tuple, or a list
#: of values (categorical)
Spec = tuple[float, float] | list[Any] | None


def _ema() -> Any:
    logging.getLogger("EMA").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ema_workbench
    return ema_workbench


def ema_name(key: str) -> str:
    """``problem.k`` -> ``problem__k``: the workbench's name of an orgsim setting."""
    return key.replace(".", "__")


def parameter(key: str, spec: Spec = None) -> Any:
    """The workbench parameter of one orgsim setting (or preset group). Raises
    :class:`sim.config.ConfigError` with one line for a setting that does not exist or cannot
    be varied that way."""
    ema = _ema()
    if isinstance(spec, list):  # a list of values; a tuple is a (low, high) range
        if key not in GROUPS and key not in FIELD_TYPES:
            raise ConfigError(f"{key}: not a setting or preset group of orgsim")
        return ema.CategoricalParameter(ema_name(key), list(spec))
    kind = FIELD_TYPES.get(key)
    if kind not in ("int", "float"):
        raise ConfigError(
            f"{key}: only numeric settings take a range (give a list of values for a preset "
            "group or a text setting)"
        )
    allowed = schema_range(key)
    lo, hi = spec if spec is not None else (allowed or (None, None))
    if lo is None or hi is None:
        raise ConfigError(f"{key}: the schema gives no range; give (low, high)")
    if allowed is not None and not (allowed[0] <= lo <= hi <= allowed[1]):
        raise ConfigError(f"{key}: ({lo}, {hi}) is outside its allowed range {tuple(allowed)}")
    if kind == "int":
        return ema.IntegerParameter(ema_name(key), int(lo), int(hi))
    return ema.RealParameter(ema_name(key), float(lo), float(hi))


def run_orgsim(base: tuple[str, ...], outcomes: tuple[str, ...], **settings: Any) -> dict:
    """One orgsim run with ``base`` overrides plus the experiment's ``settings`` (named as
    :func:`ema_name` names them, or dotted); its declared
    ``outcomes`` (NaN where undefined, e.g. ``time_to_90`` never reached)."""
    from sim.config import compose_config
    from sim.model import InnovationModel

    overrides = [*base, *(f"{k.replace('__', '.')}={v}" for k, v in settings.items())]
    summary = InnovationModel(compose_config(overrides)).run().summary()
    return {name: float(summary.get(name, float("nan"))) for name in outcomes}


def orgsim_model(
    uncertainties: Mapping[str, Spec],
    levers: Mapping[str, Spec] | None = None,
    outcomes: Sequence[str] | None = None,
    base: Sequence[str] = (),
    name: str = "orgsim",
) -> Any:
    """An ``ema_workbench.Model`` running orgsim: ``uncertainties`` and ``levers`` map settings
    (or preset groups) to a range, a list of values, or None (the schema's range);
    ``outcomes`` default to the headline ones; ``base`` are fixed overrides (``steps=60``)."""
    ema = _ema()
    chosen = list(outcomes or meta.headline())
    unknown = [o for o in chosen if meta.lookup(o) is None]
    if unknown:
        raise ConfigError(
            f"outcomes {', '.join(unknown)}: not declared; the outcomes: {', '.join(meta.names())}"
        )
    kinds = {"higher": ema.ScalarOutcome.MAXIMIZE, "lower": ema.ScalarOutcome.MINIMIZE}
    function = functools.partial(run_orgsim, tuple(base), tuple(chosen))
    with contextlib.suppress(AttributeError):
        functools.update_wrapper(function, run_orgsim)
    model = ema.Model(name, function=function)
    model.uncertainties = [parameter(k, s) for k, s in uncertainties.items()]
    model.levers = [parameter(k, s) for k, s in (levers or {}).items()]
    model.outcomes = [
        ema.ScalarOutcome(o, kind=kinds.get(meta.lookup(o).better or "", ema.ScalarOutcome.INFO))  # type: ignore[union-attr]
        for o in chosen
    ]
    return model
