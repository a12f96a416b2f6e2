"""The `orgsim` command line: the README's main job, single runs, sweeps, resuming, failures,
and validation at the door.

Every test works in its own tmp folder (``results_dir`` is relative to the working directory,
so running there keeps the repo's results/ untouched). Runs are short (``steps=20``, a dozen
employees) so the whole file takes about a minute on two cores.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import cli, store

REPO = Path(__file__).resolve().parent.parent
SMALL = ["steps=20", "org.employees=12", "org.partners=2"]


def orgsim_exe() -> list[str]:
    """The installed console script next to this interpreter (the venv's), else the module."""
    exe = Path(sys.executable).parent / "orgsim"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.cli"]


def orgsim(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `orgsim ARGS` in ``cwd`` as a user would."""
    return subprocess.run(
        [*orgsim_exe(), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def only_sweep(results: Path) -> Path:
    """The one sweep folder under ``results/sweeps/``."""
    sweeps = [p.parent for p in results.glob("sweeps/*/*/multirun.yaml")]
    assert len(sweeps) == 1, sweeps
    return sweeps[0]


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A sweep table without provenance (meta.*), for comparing two sweeps' results."""
    return table.drop(columns=[c for c in table.columns if c.startswith("meta.")])


def readme_main_job() -> list[str]:
    """The orgsim arguments of the README's main-job command (the line with `orgsim -m`)."""
    lines = [
        line.strip().removeprefix("$ ")
        for line in (REPO / "README.md").read_text().splitlines()
        if "-m venv" in line and "bin/orgsim" in line
    ]
    assert len(lines) == 1, f"README must have exactly one main-job command, found {lines}"
    words = shlex.split(lines[0].split("&&")[-1])
    assert words[0].endswith("orgsim"), words
    return words[1:]


def test_readme_main_job_prints_a_comparison(tmp_path: Path) -> None:
    """The README's main job (its orgsim part) succeeds well within a minute and compares."""
    started = time.monotonic()
    result = orgsim(readme_main_job(), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # README promises well under a minute on an idle 2-core machine (about 15 s); this is a
    # backstop that survives a busy CI machine, not a benchmark
    assert time.monotonic() - started < 240
    out = result.stdout
    assert "strategy.name" in out and "incremental" in out and "planning" in out
    assert "mean_performance" in out and "ok" in out
    table = pd.read_parquet(only_sweep(tmp_path / "results") / "table.parquet")
    assert (table["status"] == "ok").all()
    assert set(table["strategy.name"]) == {"incremental", "planning"}


def test_single_run_writes_a_complete_folder_and_is_reused(tmp_path: Path) -> None:
    """One run writes config, timeseries, summary, meta, plot and the marker; running the very
    same command again reuses the folder without writing it again."""
    first = orgsim(SMALL, tmp_path)
    assert first.returncode == 0, first.stderr
    runs = [p for p in (tmp_path / "results" / "runs").iterdir()]
    assert len(runs) == 1
    run = runs[0]
    names = {p.name for p in run.iterdir()}
    assert names == {
        "config.yaml",
        "timeseries.parquet",
        "summary.json",
        "meta.json",
        "performance.png",
        "COMPLETE.json",
    }
    assert store.is_complete(run)
    assert "computed" in first.stdout and "mean_performance" in first.stdout
    ts = pd.read_parquet(run / "timeseries.parquet")
    assert len(ts) == 20
    mtimes = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    second = orgsim(SMALL, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "reused from the store" in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == mtimes
    # nothing but the store was written: no outputs/, multirun/, .hydra/ or logs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["runs"]
    assert not list(tmp_path.rglob(".hydra")) and not list(tmp_path.rglob("*.log"))


def test_multirun_joblib_equals_serial_basic_launcher(tmp_path: Path) -> None:
    """3 configs x 2 replications: the parallel (joblib) table equals the serial one, and
    replication r meets the same landscape (problem seed) in every arm."""
    sweep = ["-m", "strategy=incremental,planning,hybrid", "replications=2", *SMALL]
    par = orgsim([*sweep, "results_dir=par"], tmp_path)
    ser = orgsim([*sweep, "results_dir=ser", "hydra/launcher=basic"], tmp_path)
    assert par.returncode == 0, par.stderr[-3000:]
    assert ser.returncode == 0, ser.stderr[-3000:]
    assert "Joblib.Parallel" in par.stderr
    t_par = pd.read_parquet(only_sweep(tmp_path / "par") / "table.parquet")
    t_ser = pd.read_parquet(only_sweep(tmp_path / "ser") / "table.parquet")
    assert len(t_par) == 6 and t_par["run_id"].is_unique
    assert (t_par["status"] == "ok").all()
    assert not t_par["meta.reused"].any()  # computed twice, independently
    pd.testing.assert_frame_equal(comparable(t_par), comparable(t_ser))
    # common random numbers: per replication one problem seed across the three arms
    seeds = t_par.groupby("replication")["problem_seed"].nunique()
    assert (seeds == 1).all() and t_par["problem_seed"].nunique() == 2
    assert t_par.groupby("replication")["agent_seed"].nunique().eq(1).all()
    # the timeseries of all runs as one dataset
    ts = pd.read_parquet(only_sweep(tmp_path / "par") / "timeseries.parquet")
    assert len(ts) == 6 * 20 and set(ts["run_id"]) == set(t_par["run_id"])


def test_batched_replications_give_the_same_table(tmp_path: Path) -> None:
    """batch=B runs B replications per job (fewer jobs, less launcher overhead) and gives
    exactly the table of one job per replication."""
    sweep = ["-m", "strategy=incremental,planning", "replications=5", *SMALL]
    one = orgsim([*sweep, "results_dir=one"], tmp_path)
    batched = orgsim([*sweep, "results_dir=batched", "batch=3"], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    assert batched.returncode == 0, batched.stderr[-3000:]
    assert "launching 10 jobs" in one.stderr and "launching 4 jobs" in batched.stderr
    t_one = pd.read_parquet(only_sweep(tmp_path / "one") / "table.parquet")
    t_bat = pd.read_parquet(only_sweep(tmp_path / "batched") / "table.parquet")
    assert len(t_bat) == 10 and t_bat["run_id"].is_unique
    assert sorted(t_bat["replication"]) == sorted(list(range(5)) * 2)
    key = ["strategy.name", "replication"]
    pd.testing.assert_frame_equal(
        comparable(t_one).drop(columns="job").sort_values(key).reset_index(drop=True),
        comparable(t_bat).drop(columns="job").sort_values(key).reset_index(drop=True),
    )


def test_failed_run_is_recorded_and_the_others_complete(tmp_path: Path) -> None:
    """A run that raises (test hook ORGSIM_FAIL_ON_SEED) is a failed row with its error."""
    result = orgsim(["-m", "seed=0,1,2", *SMALL], tmp_path, env={"ORGSIM_FAIL_ON_SEED": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    table = store.collect(only_sweep(tmp_path / "results"))
    assert len(table) == 3
    failed = table[table["status"] == "failed"]
    assert list(failed["seed"]) == [1]
    assert "failed on purpose" in failed["error"].iloc[0]
    assert failed["mean_performance"].isna().all()
    ok = table[table["status"] == "ok"]
    assert sorted(ok["seed"]) == [0, 2] and ok["mean_performance"].notna().all()
    # the failed run is not in the store, so running again retries it
    assert len(list((tmp_path / "results" / "runs").glob("[0-9a-f]*"))) == 2


def test_killed_sweep_is_finished_by_running_it_again(tmp_path: Path) -> None:
    """SIGKILL to the whole sweep midway, then the same command: every run exactly once."""
    sweep_dir = tmp_path / "sweep"
    args = [
        "-m",
        "seed=range(0,10)",
        "steps=80",
        "org.employees=24",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    runs = tmp_path / "results" / "runs"
    proc = subprocess.Popen(
        [*orgsim_exe(), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches joblib's workers
    )
    deadline = time.monotonic() + 120
    done: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in runs.glob("[0-9a-f]*") if store.is_complete(p)] if runs.exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    complete_before = len([p for p in runs.glob("[0-9a-f]*") if store.is_complete(p)])
    assert 2 <= complete_before < 10, "the sweep must be killed midway"
    assert not (sweep_dir / "table.parquet").exists()

    again = orgsim(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    table = pd.read_parquet(sweep_dir / "table.parquet")
    assert len(table) == 10 and table["run_id"].is_unique
    assert (table["status"] == "ok").all()
    assert sorted(table["seed"]) == list(range(10))
    assert table["meta.reused"].sum() >= complete_before  # resumed, not recomputed
    complete = [p for p in runs.glob("[0-9a-f]*") if store.is_complete(p)]
    assert sorted(p.name for p in complete) == sorted(table["run_id"])


# --- validation at the door -------------------------------------------------------------------

BAD_INPUTS = [
    (["replications=2", "batch=0"], "batch=0 is out of range: use an integer in [1, 100000]"),
    (["-m", "replications=2", "batch=1,2"], "batch cannot be swept"),
    (["problem.k=12"], "problem.k=12 must be less than problem.n=12 (allowed: 0..n-1)"),
    (["problem.k=abc"], "problem.k='abc' must be an integer"),
    (["org=matrix"], "org=matrix is not a known preset (allowed: adhocracy, bureaucracy"),
    (["problem=nasty"], "problem=nasty is not a known preset"),
    (["problem.foo=1"], "problem.foo is not a known setting"),
    (["colour=red"], "colour is not a known setting"),
    (["+problem.foo=1"], "settings cannot be added (+) or deleted (~)"),
    (["levers.cocreation=1.5"], "levers.cocreation=1.5 is out of range"),
    (["strategy.name=chaos"], "strategy.name='chaos' is not allowed: use one of incremental"),
    (["steps=0"], "steps=0 is out of range: use an integer in [1, 100000]"),
    (["seed=-1"], "seed=-1 is out of range"),
    (["strategy.undo_failed=maybe"], "strategy.undo_failed='maybe' must be true or false"),
    (["org.team_size=100"], "org.team_size=100 exceeds org.employees=48"),
    (["problem.k=3,4"], "is a sweep: add -m (--multirun)"),
    (["-m", "problem.k=3,12"], "problem.k=12 must be less than problem.n=12"),
    (["replications=0"], "replications=0 is out of range"),
    (["replication=5"], "replication=5 must be less than replications=1"),
    (["hydra/launcher=nope"], "hydra/launcher=nope is not a known preset (allowed: joblib"),
    (["hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs='abc' must be an integer"),
    (["org._target_=os.system"], "org._target_ cannot be set from the command line"),
    (["problem.k=[1"], "could not parse an override"),
    (["--bogus"], "unknown option --bogus"),
    (["experiment=nope"], "experiment=nope is not a known preset"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_clear_line_and_writes_nothing(
    args: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In-process (fast): exit 2, one line on stderr naming the setting, no folder at all."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("orgsim: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_input_through_the_console_script(tmp_path: Path) -> None:
    """The same, as a user sees it: a real process, no traceback, exit 2, nothing written."""
    result = orgsim(["-m", "strategy=incremental,planning", "problem.k=12"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "orgsim: error: problem.k=12 must be less than problem.n=12 (allowed: 0..n-1)"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []
