"""A design is expanded and validated once, the same way for the command line and the API.

These tests drive :func:`sim.design.expand` directly (no runs): the grid, the sampled designs,
replications and seeds, precedence of the command line over an experiment, and the one-line
errors of a design that cannot run.
"""

from __future__ import annotations

import pytest

from sim import ConfigError
from sim.design import config_of, expand, run_id
from sim.engine import design_from_overrides

FACTORS = {
    "levers.cocreation": {"bounds": [0.0, 1.0]},
    "problem.k": {"bounds": [0, 5], "type": "int"},
}


def _flat(design, run):  # noqa: ANN001, ANN202 - test helper
    return {**design.run_settings["base"], **run.settings}


def test_grid_times_replications_with_common_seeds() -> None:
    design = expand(["steps=5"], {"strategy": "incremental,planning", "problem.k": "0,4"})
    assert len(design) == 4  # replications=1 by default
    design = expand(["steps=5", "replications=3"], {"strategy": "incremental,planning"})
    assert len(design) == 6
    flats = [_flat(design, r) for r in design.runs]
    assert [f["replication"] for f in flats] == [0, 1, 2, 0, 1, 2]
    assert {f["strategy.name"] for f in flats} == {"incremental", "planning"}
    # replication r of every arm has the same seed and replication: the same random streams
    assert {(f["seed"], f["replication"]) for f in flats[:3]} == {
        (f["seed"], f["replication"]) for f in flats[3:]
    }
    assert len({r.run_id for r in design.runs}) == 6


def test_run_ids_are_the_ids_of_the_runs_settings() -> None:
    design = expand(["steps=5", "replications=2"], {"org": "adhocracy,bureaucracy"})
    for run in design.runs:
        flat = _flat(design, run)
        assert run_id(flat, design.fingerprint) == run.run_id
        config_of(flat)  # every run is a valid config
    other = expand(["steps=5", "replications=2"], {"org": "adhocracy,bureaucracy"}, fingerprint="x")
    assert not {r.run_id for r in design.runs} & {r.run_id for r in other.runs}


def test_seed_and_replication_sweeps_need_no_composition_per_value() -> None:
    design = expand(["steps=1"], {"seed": "range(0,2000)"})
    assert len(design) == 2000
    assert len({r.run_id for r in design.runs}) == 2000
    with pytest.raises(ConfigError, match="replication"):
        expand(["steps=1", "replication=-1"])


def test_experiment_settings_win_over_config_and_command_line_wins_over_both() -> None:
    design = design_from_overrides(["experiment=strategy_vs_wickedness_quick"])
    flats = [_flat(design, r) for r in design.runs]
    assert {f["steps"] for f in flats} == {30}  # the experiment's own value, not config.yaml's
    assert {f["org.employees"] for f in flats} == {12}
    assert len(design) == 3 * 2 * 2 * 2 * 3
    design = design_from_overrides(
        ["experiment=strategy_vs_wickedness_quick", "steps=7", "strategy=planning"]
    )
    flats = [_flat(design, r) for r in design.runs]
    assert {f["steps"] for f in flats} == {7}
    assert {f["strategy.name"] for f in flats} == {"planning"}  # a fixed value beats the sweep
    assert len(design) == 3 * 2 * 2 * 3


def test_sampled_design_sizes_and_integer_factors() -> None:
    sample = {
        "seed": 1,
        "factors": FACTORS,
        "methods": [
            {"method": "morris", "trajectories": 3, "levels": 4},
            {"method": "sobol", "n": 8},
            {"method": "lhs", "n": 10},
        ],
    }
    design = expand(["steps=2", "replications=2"], None, sample)
    labels = [r.labels for r in design.runs]
    count = {m: sum(lab["design"] == m for lab in labels) for m in ("morris", "sobol", "lhs")}
    assert count == {"morris": 3 * 3 * 2, "sobol": 8 * 4 * 2, "lhs": 10 * 2}
    for run in design.runs:
        flat = _flat(design, run)
        assert isinstance(flat["problem.k"], int) and 0 <= flat["problem.k"] <= 5
        assert flat["problem.k"] == min(5, int(run.labels["x.problem.k"]))
        assert 0.0 <= flat["levers.cocreation"] <= 1.0
    again = expand(["steps=2", "replications=2"], None, sample)
    assert [r.run_id for r in again.runs] == [r.run_id for r in design.runs]


def test_sample_crossed_with_a_grid() -> None:
    sample = {"factors": FACTORS, "methods": [{"method": "lhs", "n": 5}]}
    design = expand(["steps=2"], {"strategy": "incremental,planning"}, sample)
    assert len(design) == 10
    by_strategy: dict[str, list[float]] = {}
    for run in design.runs:
        flat = _flat(design, run)
        by_strategy.setdefault(flat["strategy.name"], []).append(flat["levers.cocreation"])
    assert by_strategy["incremental"] == by_strategy["planning"]  # every policy meets every point


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (
            {"factors": {"levers.nope": {"bounds": [0, 1]}}, "methods": [{"method": "lhs"}]},
            "levers.nope",
        ),
        (
            {
                "factors": {"levers.cocreation": {"bounds": [0.5, 0.5]}},
                "methods": [{"method": "lhs"}],
            },
            "empty range",
        ),
        (
            {
                "factors": {"levers.cocreation": {"bounds": [0.0, 2.0]}},
                "methods": [{"method": "lhs"}],
            },
            "outside the allowed values",
        ),
        (
            {
                "factors": {"problem.k": {"bounds": [0, 30], "type": "int"}},
                "methods": [{"method": "lhs"}],
            },
            "outside the allowed values",
        ),
        ({"factors": FACTORS, "methods": [{"method": "grid"}]}, "not a sampler"),
        ({"factors": {"org.name": {"bounds": [0, 1]}}, "methods": [{"method": "lhs"}]}, "numeric"),
        ({"factors": {}, "methods": [{"method": "lhs"}]}, "at least one factor"),
    ],
)
def test_a_design_that_cannot_run_is_one_line(sample: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        expand(["steps=2"], None, sample)
    assert "\n" not in str(info.value)


def test_a_sampled_point_that_breaks_a_rule_is_refused_before_anything_runs() -> None:
    sample = {
        "factors": {"problem.k": {"bounds": [0, 11], "type": "int"}},
        "methods": [{"method": "lhs", "n": 20}],
    }
    with pytest.raises(ConfigError, match="problem.k"):
        expand(["steps=2", "problem.n=6"], None, sample)
