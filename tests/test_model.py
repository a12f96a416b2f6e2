"""The model as a whole: reproducibility, common random numbers, every design runs in range."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import sim
from sim.metrics import SUMMARY_FIELDS, TIMESERIES_COLUMNS


def run(overrides: list[str], steps: int = 40) -> sim.InnovationModel:
    return sim.InnovationModel(sim.compose_config([f"steps={steps}", *overrides])).run()


def test_same_config_and_seed_give_identical_timeseries() -> None:
    a = run(["problem=wicked", "seed=5"]).timeseries()
    b = run(["problem=wicked", "seed=5"]).timeseries()
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_give_different_runs() -> None:
    a = run(["problem=wicked", "seed=5"]).timeseries()
    b = run(["problem=wicked", "seed=6"]).timeseries()
    assert not a["performance"].equals(b["performance"])


def test_problem_held_fixed_while_the_people_change() -> None:
    """Common random numbers: same problem seed, other agent seed -> same landscape and shocks."""
    base = ["problem=wicked", "problem.turbulence=0.2", "problem_seed=11"]
    a = run([*base, "agent_seed=1"])
    b = run([*base, "agent_seed=2"])
    ta, tb = a.timeseries(), b.timeseries()
    assert ta["optimum"].equals(tb["optimum"])
    assert ta["shock"].equals(tb["shock"])
    assert ta["shock"].sum() > 0
    assert a.problem.start_code == b.problem.start_code
    assert not ta["ideas"].equals(tb["ideas"])


def test_compared_designs_meet_the_same_problem() -> None:
    base = ["problem=wicked", "problem.turbulence=0.2", "seed=3"]
    a = run([*base, "strategy=incremental", "org=bureaucracy"]).timeseries()
    b = run([*base, "strategy=planning", "org=self_organisation"]).timeseries()
    assert a["optimum"].equals(b["optimum"])


DESIGNS = list(
    itertools.product(
        ["bureaucracy", "adhocracy", "self_organisation"],
        ["incremental", "planning", "hybrid"],
        ["tame", "complicated", "complex", "wicked"],
    )
)


@pytest.mark.parametrize(("org", "strategy", "problem"), DESIGNS)
def test_every_design_runs_with_outputs_in_range(org: str, strategy: str, problem: str) -> None:
    model = run([f"org={org}", f"strategy={strategy}", f"problem={problem}"], steps=30)
    ts = model.timeseries()
    assert len(ts) == 30
    assert ts["step"].tolist() == list(range(1, 31))
    assert set(TIMESERIES_COLUMNS) - {"satisfaction_g{i}"} <= set(ts.columns)
    for col in [
        "performance",
        "engagement",
        "skill",
        "knowledge_diversity",
        "adoption_rate",
        "centralisation",
        "vision_alignment",
        "network_cohesion",
        "stakeholder_conflict",
        "distance_to_optimum",
    ]:
        assert ts[col].between(0.0, 1.0).all(), col
    sat = [c for c in ts.columns if c.startswith("satisfaction_g")]
    assert len(sat) == model.cfg.problem.stakeholders
    assert ts[sat].ge(0).all().all() and ts[sat].le(1 + 1e-12).all().all()
    for col in [
        "ideas",
        "proposals",
        "adoptions",
        "rejections",
        "undone",
        "backlog",
        "coordination_cost",
        "rd_effort",
        "partner_interactions",
    ]:
        assert (ts[col] >= 0).all(), col
    summary = model.summary()
    assert set(SUMMARY_FIELDS) - {"mean_satisfaction_g{i}"} <= set(summary)
    assert 0.0 < summary["mean_performance"] <= 1.0
    assert ts["performance"].iloc[-1] == pytest.approx(summary["final_performance"])


def test_performance_is_normalised_by_the_current_optimum() -> None:
    model = run(["problem=complex"], steps=5)
    p = model.problem
    assert model.performance == pytest.approx(p.objective[model.code] / p.objective.max())
    assert p.objective[p.optimum_code] == pytest.approx(p.optimum_value)


def test_summary_before_running_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="run"):
        sim.InnovationModel(sim.compose_config([])).summary()


def test_run_accepts_a_step_count_and_a_progress_callback() -> None:
    ticks: list[int] = []
    model = sim.InnovationModel(sim.compose_config(["steps=100"]))
    model.run(7, progress=lambda: ticks.append(1))
    assert model.steps == 7 and len(ticks) == 7 and len(model.timeseries()) == 7


def test_agents_are_mesa_agents_of_three_kinds() -> None:
    from sim.agents import Employee, ExternalPartner, Manager

    model = sim.InnovationModel(sim.compose_config([]))
    kinds = {type(a) for a in model.agents}
    assert kinds == {Employee, Manager, ExternalPartner}
    assert len(model.agents_by_type[Employee]) == model.cfg.org.employees
    assert isinstance(model.rng, np.random.Generator)
