"""Each experiment's quick variant runs end to end and its report is built from its table.

The grid experiments run once through the in-process runner (``sim.experiment``) and once
through the real command line (``orgsim -m experiment=NAME_quick``); the report must be
buildable from either sweep folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import experiment, report

QUICK = [
    "strategy_vs_wickedness_quick",
    "org_forms_vs_turbulence_quick",
    "levers_sensitivity_quick",
]


def test_experiment_files_parse_like_hydra() -> None:
    spec = experiment.load_experiment("strategy_vs_wickedness")
    assert spec.replications >= 30
    assert set(spec.params) == {"org", "strategy", "problem.k", "problem.turbulence"}
    assert "problem=complicated" in spec.base
    quick = experiment.load_experiment("strategy_vs_wickedness_quick")
    assert len(quick.cells()) * quick.replications <= 100


def test_common_random_numbers_across_cells() -> None:
    spec = experiment.load_experiment("strategy_vs_wickedness_quick")
    tasks = experiment.grid_tasks(spec, replications=2)
    by_rep: dict[int, set[tuple[int, int]]] = {}
    for t in tasks:
        by_rep.setdefault(t.replication, set()).add(
            (t.config["problem_seed"], t.config["agent_seed"])
        )
    assert all(len(seeds) == 1 for seeds in by_rep.values())  # same seeds in every cell
    assert by_rep[0] != by_rep[1]  # independent replications


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_variant_end_to_end(name: str, tmp_path: Path) -> None:
    sweep = experiment.run_experiment(name, tmp_path / name, n_jobs=2, progress=False)
    table = pd.read_parquet(sweep / experiment.RUNS_FILE)
    assert (table["status"] == "ok").all(), table["error"].unique()
    md = report.build_report(sweep)
    text = md.read_text()
    assert "What the model found" in text and "Provenance" in text
    assert (md.parent / "report.html").is_file()
    assert list((md.parent / "figures").glob("*.png")) and list(
        (md.parent / "figures").glob("*.svg")
    )
    if name.startswith("levers"):
        assert "rd_budget" in text and "S1" in text


@pytest.mark.slow
def test_cli_sweep_folder_makes_a_report(tmp_path: Path) -> None:
    """`orgsim -m experiment=NAME` is how a researcher runs it; `orgsim-report` reads its folder."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "ORGSIM_QUICK": "1"}
    run = subprocess.run(
        [str(bindir / "orgsim"), "-m", "experiment=org_forms_vs_turbulence_quick", f"results_dir={tmp_path}"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    sweeps = list((tmp_path / "sweeps" / "org_forms_vs_turbulence_quick").iterdir())
    assert len(sweeps) == 1
    rep = subprocess.run(
        [str(bindir / "orgsim-report"), str(sweeps[0])], capture_output=True, text=True
    )
    assert rep.returncode == 0, rep.stderr
    text = (sweeps[0] / "report" / "report.md").read_text()
    assert "Organisation forms versus turbulence" in text
    assert "n=12" in text  # 3 replications x 4 cells per form behind each pooled number


def test_unknown_experiment_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert experiment.main(["no_such_experiment", "--no-progress"]) == 2
    assert "not a known experiment" in capsys.readouterr().err
