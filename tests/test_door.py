"""The door refuses what the model cannot run: combinations, ranges, sizes, names.

Each case: one line naming the setting and what is allowed, exit code 2, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim import cli
from sim.config import ConfigError, check_resources, estimate_memory, to_config


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    return int(info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["org=adhocracy", "org.hierarchy_levels=0"], "project leads"),
        (["org.decision_rule=hierarchy", "org.hierarchy_levels=0"], "managers to approve"),
        (["problem.stakeholder_correlation=-1"], "problem.stakeholder_correlation"),
        (["experiment=../../x"], "experiment"),
    ],
)
def test_a_combination_the_model_cannot_run_is_refused(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code, err = run_cli([*args, "steps=2", f"results_dir={results}"], capsys)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not results.exists()


def test_the_project_lead_rule_runs_with_its_leads() -> None:
    cfg = sim.compose_config(["org=adhocracy", "org.hierarchy_levels=1", "steps=3"])
    ts = sim.InnovationModel(cfg).run().timeseries()
    assert ts["performance"].between(0, 1).all()


def test_an_experiment_name_cannot_leave_results_dir() -> None:
    from sim.config import RunConfig, validate_run

    for name in ("../x", "a/b", "..", "/abs", ""):
        with pytest.raises(ConfigError, match="experiment="):
            validate_run(RunConfig(experiment=name))
    validate_run(RunConfig(experiment="my_study-2.v1"))


def test_memory_estimate_follows_the_sizes_that_drive_it() -> None:
    def need(*overrides: str) -> dict[str, float]:
        return estimate_memory(to_config(sim.compose_config(list(overrides))))

    small = need()
    assert sum(small.values()) < 50e6
    # landscapes grow as 2**k and with the stakeholders; people with team size squared
    assert need("problem.n=20", "problem.k=19")["landscape"] > 100 * small["landscape"]
    big_teams = need("org=adhocracy", "org.employees=20000", "org.team_size=1000")
    assert big_teams["people"] > 1e9 > big_teams["landscape"]


def test_a_size_the_machine_cannot_hold_is_refused_at_the_door(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = to_config(
        sim.compose_config(["org=adhocracy", "org.employees=20000", "org.team_size=1000"])
    )
    with pytest.raises(ConfigError, match="org.employees=20000, org.team_size=1000"):
        check_resources(cfg, available=1e9)
    check_resources(cfg, available=64e9)  # a bigger machine holds it

    monkeypatch.setattr("sim.config.available_memory", lambda: 2e9)
    results = tmp_path / "results"
    args = [
        "problem.n=20",
        "problem.k=19",
        "problem.stakeholders=10",
        "steps=1",
        f"results_dir={results}",
    ]
    code, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "problem.n=20, problem.k=19, problem.stakeholders=10" in err and "GB" in err
    assert not results.exists()
    # the same refusal for a sweep, before anything is written
    code, err = run_cli(
        ["-m", "hydra/launcher=basic", "problem.k=3,19", *args[:1], *args[2:]], capsys
    )
    assert code == 2 and "problem.k=19" in err
    assert not results.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["seed=null"], "seed=null is not allowed"),
        (["problem.shock_at=5"], "problem.shock_at must be a list"),
        (["org.name=é"], "quote values"),
        (["--cfg", "job", "problem.n=99"], "problem.n=99 is out of range"),
    ],
)
def test_messages_that_help(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code, err = run_cli([*args, f"results_dir={results}"], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not results.exists()


def test_a_broken_experiment_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.config import CONF_DIR

    broken = CONF_DIR / "experiment" / "zz_test_broken.yaml"
    broken.write_text("# @package _global_\nexperiment: broken\nsteps: [1\n")
    try:
        code, err = run_cli(["-m", "experiment=zz_test_broken"], capsys)
    finally:
        broken.unlink()
    assert code == 2 and "zz_test_broken.yaml line 4 is not valid YAML" in err


def test_report_refuses_tables_it_cannot_read_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from sim import report

    cases = {
        "no_status": lambda p: pd.DataFrame({"x": [1]}).to_parquet(p),
        "no_outcomes": lambda p: pd.DataFrame({"status": ["ok"], "x": [1]}).to_parquet(p),
        "garbage": lambda p: p.write_bytes(b"PAR1 not parquet"),
    }
    for name, write in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        write(folder / "table.parquet")
        assert report.main([str(folder)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(folder) in err
        assert not (folder / "report").exists()  # nothing half-written


def test_a_job_that_dies_leaves_missing_runs_that_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim import engine, store

    def die(chunk: dict) -> dict:
        raise MemoryError("the node ran out of memory")

    monkeypatch.setattr(engine, "run_chunk", die)
    results = tmp_path / "results"
    code, err = run_cli(
        [
            "-m",
            "hydra/launcher=basic",
            "seed=0,1",
            "steps=3",
            f"results_dir={results}",
            "progress=false",
        ],
        capsys,
    )
    assert code == 1
    assert "2 missing of 2 runs" in err and "MemoryError" in err
    (sweep_dir,) = list(results.glob("sweeps/none/*"))
    table = store.read_table(sweep_dir)
    assert list(table["status"]) == ["missing", "missing"]
    assert table["error"].str.contains("the node ran out of memory").all()


def test_a_rough_time_per_step_follows_what_drives_it() -> None:
    """The door's time estimate (shown in a sweep's header, and before a single run that will
    take over a minute) grows with the agents, dense teams' ties and the landscape's recomputing
    at shocks, and is of the order measured on this project's machines."""
    from sim.config import flat_of
    from sim.engine import describe_duration, estimate_step_s

    def per_step(*overrides: str) -> float:
        return estimate_step_s(flat_of(to_config(sim.compose_config(list(overrides)))))

    default = per_step()
    assert 1e-4 < default < 5e-3  # measured: ~0.6 ms a step
    assert per_step("org=adhocracy", "org.employees=20000", "org.team_size=1000") > 60
    assert (
        per_step("problem.n=20", "problem.k=19", "problem.stakeholders=10", "problem.turbulence=1")
        > 10
    )
    assert per_step("org.employees=480") > 3 * default  # the landscape part stays
    assert describe_duration(30) == "30 s" and describe_duration(600) == "10 min"
    assert describe_duration(7200) == "2.0 h"
