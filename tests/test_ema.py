"""sim.ema: orgsim as an EMA Workbench model, its parameters read from the config schema and
its outcomes' kinds from the declared outcomes; a few real runs through the workbench."""

from __future__ import annotations

import math

import pytest

from sim import ema
from sim.config import ConfigError

BASE = ["steps=8", "org.employees=12", "org.partners=2"]


def test_parameters_and_outcomes_come_from_the_declarations() -> None:
    wb = ema._ema()
    model = ema.orgsim_model(
        {"problem.k": None, "problem.turbulence": (0.0, 0.2)},
        {"strategy": ["incremental", "planning"]},
        ["mean_performance", "time_to_90", "centralisation"],
        BASE,
    )
    k = model.uncertainties["problem__k"]
    assert isinstance(k, wb.IntegerParameter) and (k.lower_bound, k.upper_bound) == (0, 19)
    turb = model.uncertainties["problem__turbulence"]
    assert isinstance(turb, wb.RealParameter) and turb.upper_bound == 0.2
    assert isinstance(model.levers["strategy"], wb.CategoricalParameter)
    kinds = {o.name: o.kind for o in model.outcomes}
    assert kinds == {
        "mean_performance": wb.ScalarOutcome.MAXIMIZE,
        "time_to_90": wb.ScalarOutcome.MINIMIZE,
        "centralisation": wb.ScalarOutcome.INFO,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (({"problem.colour": None},), "problem.colour: only numeric settings take a range"),
        (({"problem.k": (0, 40)},), "problem.k: (0, 40) is outside its allowed range (0, 19)"),
        (({"problem.k": None}, None, ["speed"]), "outcomes speed: not declared"),
    ],
)
def test_mistakes_say_what_is_wrong(args: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        ema.orgsim_model(*args)


def test_experiments_through_the_workbench_are_orgsim_runs() -> None:
    wb = ema._ema()
    model = ema.orgsim_model(
        {"problem.k": (0, 6)},
        {"strategy": ["incremental", "planning"]},
        ["mean_performance", "time_to_90"],
        BASE,
    )
    with wb.SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=2, policies=2)
    assert len(experiments) == 4 and len(outcomes["mean_performance"]) == 4
    assert all(0 <= v <= 1 for v in outcomes["mean_performance"])
    first = experiments.iloc[0]
    direct = ema.run_orgsim(
        tuple(BASE),
        ("mean_performance",),
        **{"problem.k": int(first["problem__k"]), "strategy": first["strategy"]},
    )
    assert math.isclose(direct["mean_performance"], outcomes["mean_performance"][0])
