"""The `orgsim` command line on the one experiment engine: the README's main job and its sample
output, single runs against the Python API, sweeps through the API and through `orgsim -m`
(joblib and basic launchers), precedence of experiment files, failed runs, reuse of the store,
a killed sweep, and validation at the door.

Every test works in its own tmp folder (``results_dir`` is relative to the working directory,
so running there keeps the repo's results/ untouched). Runs are tiny (10 steps, a dozen
employees): the time goes to starting processes, not to the model.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from support.commands import orgsim_command

import sim
from sim import cli, store
from sim.config import ConfigError
from sim.design import expand

REPO = Path(__file__).resolve().parent.parent
SMALL = ["steps=10", "org.employees=12", "org.partners=2"]
#: where the launcher is not what a test is about, the in-process basic launcher: the joblib
#: launcher starts its worker processes first, which costs seconds of start-up per command
BASIC = "hydra/launcher=basic"
#: the first line a sweep prints on stderr
HEADER = re.compile(
    r"orgsim: sweep of (?P<total>\d+) runs \((?P<reused>\d+) already in the store, "
    r"(?P<todo>\d+) to run in (?P<jobs>\d+) jobs?, about \d+(\.\d+)? (s|min|h) of model time\): "
    r"(?P<dir>\S+)"
)
#: the README marker that names the command whose output the next fenced block shows
SAMPLE_MARKER = re.compile(r"<!--\s*sample-output:\s*(?P<command>.+?)\s*-->")


# --- helpers ------------------------------------------------------------------------------------
def orgsim(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `orgsim ARGS` in ``cwd`` as a user would."""
    return subprocess.run(
        [*orgsim_command(), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def header(result: subprocess.CompletedProcess[str]) -> re.Match[str]:
    """The sweep's header: it must be the first line on stderr."""
    first = result.stderr.splitlines()[0] if result.stderr else ""
    match = HEADER.fullmatch(first)
    assert match, f"stderr's first line is not the sweep header: {result.stderr[:2000]!r}"
    return match


def sweep_table(result: subprocess.CompletedProcess[str]) -> pd.DataFrame:
    """The table of the sweep a command ran (its folder is named in the header)."""
    folder = Path(header(result)["dir"])
    assert f"sweep table: {folder / store.TABLE}" in result.stdout.splitlines()
    return pd.read_parquet(folder / store.TABLE)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A sweep table without provenance (meta.*), for comparing two sweeps' results."""
    return table.drop(columns=[c for c in table.columns if c.startswith("meta.")])


def same_number(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# --- the README's main job --------------------------------------------------------------------
def readme() -> str:
    return (REPO / "README.md").read_text()


def readme_main_job() -> list[str]:
    """The orgsim arguments of the README's main-job command (the install line with `orgsim`)."""
    lines = [
        line.strip().removeprefix("$ ")
        for line in readme().splitlines()
        if "-m venv" in line and "bin/orgsim" in line
    ]
    assert len(lines) == 1, f"README must have exactly one main-job command, found {lines}"
    words = shlex.split(lines[0].split("&&")[-1])
    assert words[0].endswith("orgsim"), words
    return words[1:]


def readme_sample() -> tuple[list[str], list[str]]:
    """The README's sample output: the command named by the marker line
    ``<!-- sample-output: orgsim -m ... -->`` and the lines of the fenced block after it."""
    text = readme()
    match = SAMPLE_MARKER.search(text)
    assert match, (
        "README.md has no sample-output marker: put the line "
        "`<!-- sample-output: orgsim -m <the main job's arguments> -->` right before the "
        "fenced block that shows what the main job prints"
    )
    words = shlex.split(match["command"])
    assert words and words[0].endswith("orgsim"), match["command"]
    rest = text[match.end() :].lstrip("\n")
    fence = re.match(r"(```+)[^\n]*\n(.*?)\n\1", rest, re.S)
    assert fence, "the sample-output marker must be followed by a fenced block (```)"
    return words[1:], fence.group(2).splitlines()


NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan)(?![\w.])")


def normalise(line: str) -> str:
    """A printed line modulo numbers and paths: paths -> <path>, numbers (and `m ± sd`) -> #."""
    words = ["<path>" if "/" in w else w for w in line.split()]
    text = NUMBER.sub("#", " ".join(words))
    return re.sub(r"# ± #", "#", text)


def is_row(line: str) -> bool:
    """A data row of the comparison (numbers, no `key: value`), as opposed to a structure line."""
    return bool(NUMBER.search(" ".join(w for w in line.split() if "/" not in w))) and (
        ":" not in line
    )


def terminal_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a user sees, without the progress bar: orgsim's stderr lines, then stdout."""
    err = [
        part
        for line in result.stderr.splitlines()
        for part in line.split("\r")
        if part.startswith("orgsim:")
    ]
    return err + result.stdout.splitlines()


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The README's main job, run once for the tests below."""
    return orgsim(readme_main_job(), tmp_path_factory.mktemp("main_job"))


def test_readme_main_job_prints_a_readable_comparison(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    """The main job succeeds; the terminal shows the run count, then a comparison with n per
    arm, and no per-job Hydra lines (`[HYDRA]`, `#0 : ...`)."""
    assert main_job.returncode == 0, main_job.stderr[-3000:]
    args = readme_main_job()
    replications = int(next(a.split("=", 1)[1] for a in args if a.startswith("replications=")))
    arms = 1
    for a in args:
        if "," in a:
            arms *= len(a.split("=", 1)[1].split(","))
    head = header(main_job)
    assert int(head["total"]) == arms * replications == int(head["todo"])
    for stream in (main_job.stdout, main_job.stderr):
        assert "[HYDRA]" not in stream and not re.search(r"#\d+ : ", stream), stream[-2000:]
        assert "Traceback" not in stream
    out = main_job.stdout.splitlines()
    assert out[0].startswith(f"{arms * replications} runs: {arms * replications} ok")
    columns = next(i for i, line in enumerate(out) if "mean_performance" in line)
    assert out[columns].split()[0] == "n"  # n per arm, first column
    end = next(i for i, line in enumerate(out) if line.startswith("sweep table: "))
    rows = [line for line in out[columns + 1 : end] if is_row(line)]
    assert len(rows) == arms
    first_numbers = [
        NUMBER.findall(" ".join(w for w in r.split() if "/" not in w))[0] for r in rows
    ]
    assert first_numbers == [str(replications)] * arms
    table = sweep_table(main_job)
    assert len(table) == arms * replications and (table["status"] == "ok").all()
    assert set(table["strategy.name"]) == {"incremental", "planning"}


def test_readme_sample_output_is_what_the_main_job_prints(
    main_job: subprocess.CompletedProcess[str],
) -> None:
    """README's sample output (the fenced block after the marker line
    ``<!-- sample-output: orgsim -m ... -->``) is what the main job prints today, modulo
    numbers and paths. The block shows stdout, optionally after the header line from stderr; it
    may elide lines with a line `...` and start with a `$ ...` command line; rows of the
    comparison may be in any order (best first moves with the numbers)."""
    command, block = readme_sample()
    assert command == readme_main_job(), "the sample must be of the README's main job"
    assert main_job.returncode == 0, main_job.stderr[-3000:]
    lines = [ln for ln in block if ln.strip() and not ln.lstrip().startswith("$ ")]
    elided = any(ln.strip() in ("...", "…") for ln in lines)
    lines = [ln for ln in lines if ln.strip() not in ("...", "…")]
    shown = terminal_lines(main_job)
    want_structure = [normalise(ln) for ln in lines if not is_row(ln)]
    have_structure = [normalise(ln) for ln in shown if not is_row(ln)]
    # the structure lines appear in this order (all of them unless the block elides some)
    missing, at = [], 0
    for line in want_structure:
        if line in have_structure[at:]:
            at = have_structure.index(line, at) + 1
        else:
            missing.append(line)
    assert not missing, (
        f"README sample lines not printed (in order, modulo numbers and paths): {missing}; "
        f"the command printed: {have_structure}"
    )
    if not elided:  # every line, the stderr header optional
        stdout_only = [normalise(ln) for ln in main_job.stdout.splitlines() if not is_row(ln)]
        assert want_structure in (have_structure, stdout_only), (want_structure, have_structure)
    assert normalise(main_job.stdout.splitlines()[0]) in want_structure, "show the summary line"
    assert any("mean_performance" in ln for ln in lines), "show the comparison's columns"
    # rows: the same labels and the same number of numeric columns
    want_rows = [normalise(ln).split() for ln in lines if is_row(ln)]
    have_rows = [normalise(ln).split() for ln in shown if is_row(ln)]
    have_labels = {w for row in have_rows for w in row if w != "#"}
    have_widths = {row.count("#") for row in have_rows}
    assert want_rows, "show at least one row of the comparison"
    for row in want_rows:
        assert {w for w in row if w != "#"} <= have_labels, (row, have_labels)
        assert row.count("#") in have_widths, (row, have_widths)
    assert len(want_rows) <= len(have_rows)
    if not elided:
        assert len(want_rows) == len(have_rows)


# --- single runs and the Python API ---------------------------------------------------------------
def run_summary(result: subprocess.CompletedProcess[str], results: Path) -> dict[str, Any]:
    """A single run's summary from its readable folder (named by the printed run id)."""
    assert result.returncode == 0, result.stderr[-3000:]
    rid = re.search(r"^orgsim run (\w+)$", result.stdout, re.M)
    assert rid, result.stdout
    return json.loads((results / "runs" / rid[1] / "summary.json").read_text())


def printed_summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(
        line.split(None, 1)
        for line in result.stdout.splitlines()
        if line.startswith("  ") and len(line.split()) == 2
    )


def test_single_run_equals_the_api_and_replications_are_distinct_runs(tmp_path: Path) -> None:
    """`orgsim seed=7` stores and prints what the API computes for the same config;
    replication 1 is another run, the same one through both; a second `orgsim seed=7` reuses
    the stored run; nothing but results/ is written."""
    api = {
        r: sim.InnovationModel(sim.compose_config(["seed=7", f"replication={r}"])).run().summary()
        for r in (0, 1)
    }
    assert api[0]["mean_performance"] != api[1]["mean_performance"]
    assert api[0] != api[1]
    plain = sim.InnovationModel(sim.compose_config(["seed=7"])).run().summary()
    assert all(same_number(plain[k], api[0][k]) for k in plain)  # replication 0 is the default

    results = tmp_path / "results"
    first = orgsim(["seed=7", "progress=false"], tmp_path)
    second = orgsim(["seed=7", "replication=1", "progress=false"], tmp_path)
    for result, expected in ((first, plain), (second, api[1])):
        stored = run_summary(result, results)
        assert set(expected) <= set(stored)
        assert all(same_number(stored[k], expected[k]) for k in expected), (stored, expected)
        printed = printed_summary(result)
        assert printed["mean_performance"] == f"{expected['mean_performance']:.4g}"
    assert "computed" in first.stdout and "replication=0" in first.stdout
    run_dir = results / "runs" / re.search(r"^orgsim run (\w+)$", first.stdout, re.M)[1]
    assert {p.name for p in run_dir.iterdir()} == {
        "config.yaml",
        "summary.json",
        "timeseries.csv",
        "performance.png",
    }
    assert (
        len(pd.read_csv(run_dir / "timeseries.csv"))
        == yaml.safe_load((REPO / "conf" / "config.yaml").read_text())["steps"]
    )
    again = orgsim(["seed=7", "progress=false"], tmp_path)
    assert "reused from the store" in again.stdout
    assert run_summary(again, results) == run_summary(first, results)
    # nothing but results/: no outputs/, multirun/, .hydra/ or log files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert sorted(p.name for p in results.iterdir()) == ["runs", "store"]
    assert not list(tmp_path.rglob(".hydra")) and not list(tmp_path.rglob("*.log"))


# --- sweeps ------------------------------------------------------------------------------------
DESIGN = ["strategy=incremental,planning,hybrid", "replications=2", *SMALL]


def test_api_and_command_line_give_the_same_table(tmp_path: Path) -> None:
    """One design through `sim.sweep`, `orgsim -m` (forked joblib workers, 3 chunks), `orgsim -m
    hydra/launcher=joblib` (loky's workers) and `orgsim -m hydra/launcher=basic`: the same run
    ids and values, in the same (design) order."""
    api = sim.sweep(DESIGN, results_dir=tmp_path / "api")
    assert api.exit_code == 0
    par = orgsim(["-m", *DESIGN, "chunk_size=2", "results_dir=par"], tmp_path)
    loky = orgsim(
        ["-m", *DESIGN, "chunk_size=2", "hydra/launcher=joblib", "results_dir=lk"], tmp_path
    )
    ser = orgsim(["-m", *DESIGN, "hydra/launcher=basic", "results_dir=ser"], tmp_path)
    assert par.returncode == 0, par.stderr[-3000:]
    assert loky.returncode == 0, loky.stderr[-3000:]
    assert ser.returncode == 0, ser.stderr[-3000:]
    assert header(loky).group("total", "reused", "todo", "jobs") == ("6", "0", "6", "3")
    assert header(par).group("total", "reused", "todo", "jobs") == ("6", "0", "6", "3")
    assert header(ser).group("total", "reused", "todo") == ("6", "0", "6")
    t_api = pd.read_parquet(api.sweep_dir / store.TABLE)
    t_par, t_loky, t_ser = sweep_table(par), sweep_table(loky), sweep_table(ser)
    assert len(t_api) == 6 and t_api["run_id"].is_unique and (t_api["status"] == "ok").all()
    assert list(t_api["strategy.name"]) == ["incremental"] * 2 + ["planning"] * 2 + ["hybrid"] * 2
    assert list(t_api["replication"]) == [0, 1] * 3
    for other in (t_api, t_par, t_loky, t_ser):
        assert not other["meta.reused"].any()  # computed four times, independently
        assert list(other["run_id"]) == list(t_api["run_id"])
        pd.testing.assert_frame_equal(comparable(other), comparable(t_api))
    assert json.loads((Path(header(par)["dir"]) / store.SWEEP_FILE).read_text())["launcher"] == (
        "orgsim_joblib"  # the default: Hydra's joblib launcher with forked workers
    )
    assert json.loads((Path(header(ser)["dir"]) / store.SWEEP_FILE).read_text())["launcher"] == (
        "basic"
    )
    # the timeseries of all runs as one dataset
    ts = pd.read_parquet(Path(header(par)["dir"]) / store.TIMESERIES)
    assert len(ts) == 6 * 10 and set(ts["run_id"]) == set(t_par["run_id"])


def test_failed_runs_are_recorded_retried_and_reused(tmp_path: Path) -> None:
    """A run that raises (test hook ORGSIM_FAIL_ON_SEED) is a failed row and the exit code is 1,
    the others finish; the same command again retries only it; a third time reuses all."""
    args = ["-m", "seed=0,1,2", *SMALL]
    first = orgsim(args, tmp_path, env={"ORGSIM_FAIL_ON_SEED": "1"})
    assert first.returncode == 1, first.stderr[-3000:]
    assert "1 failed and 0 missing of 3 runs" in first.stderr
    assert "Traceback" not in first.stderr
    table = sweep_table(first)
    assert list(table["seed"]) == [0, 1, 2]
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert "failed on purpose" in table.loc[1, "error"]
    assert table.loc[1, "mean_performance"] != table.loc[1, "mean_performance"]  # NaN
    assert table.loc[[0, 2], "mean_performance"].notna().all()
    assert "1 of 3 runs failed" in first.stdout

    retry = orgsim([*args, BASIC], tmp_path)  # (the launcher is not the subject here)
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert header(retry).group("reused", "todo") == ("2", "1")
    t_retry = sweep_table(retry)
    assert (t_retry["status"] == "ok").all()
    assert list(t_retry["meta.reused"]) == [True, False, True]
    assert list(t_retry["run_id"]) == list(table["run_id"])

    again = orgsim([*args, BASIC], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert header(again).group("total", "reused", "todo", "jobs") == ("3", "3", "0", "0")
    assert "3 already in the store, 0 to run" in again.stderr
    t_again = sweep_table(again)
    assert t_again["meta.reused"].all()
    pd.testing.assert_frame_equal(comparable(t_again), comparable(t_retry))
    assert header(again)["dir"] != header(retry)["dir"]  # every sweep its own folder


def test_killed_sweep_is_finished_by_running_it_again(tmp_path: Path) -> None:
    """SIGKILL to the whole sweep midway, then the same command: the committed chunks are
    reused, the rest computed, and no run is computed twice."""
    args = ["-m", "seed=range(0,8)", "steps=800", "chunk_size=1", "progress=false"]
    parts = tmp_path / "results" / "store" / "parts"
    proc = subprocess.Popen(
        [*orgsim_command(), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches joblib's workers
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("[!.]*.json"))) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = len(list(parts.glob("[!.]*.json")))
    assert 2 <= committed < 8, "the sweep must be killed midway"
    killed = next((tmp_path / "results" / "sweeps" / "none").iterdir())
    assert not (killed / store.TABLE).exists()

    again = orgsim([*args, BASIC], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert int(header(again)["reused"]) >= committed
    table = sweep_table(again)
    assert len(table) == 8 and table["run_id"].is_unique and (table["status"] == "ok").all()
    assert list(table["seed"]) == list(range(8))
    assert table["meta.reused"].sum() >= committed
    stored = [
        rid
        for manifest in parts.glob("[!.]*.json")
        for rid in json.loads(manifest.read_text())["runs"]
    ]
    assert sorted(stored) == sorted(table["run_id"])  # every run computed exactly once


# --- experiment files and the command line ------------------------------------------------------
def experiment_yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "conf" / "experiment" / f"{name}.yaml").read_text())


def test_experiment_file_wins_over_config_and_command_line_wins_over_both(tmp_path: Path) -> None:
    """conf/config.yaml < conf/experiment/NAME.yaml < the command line (for settings and for
    swept keys)."""
    name = "strategy_vs_wickedness_quick"
    shown = orgsim(["--cfg", "job", f"experiment={name}"], tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    job = yaml.safe_load(shown.stdout)
    spec = experiment_yaml(name)
    config = yaml.safe_load((REPO / "conf" / "config.yaml").read_text())
    assert spec["steps"] != config["steps"]
    assert job["steps"] == spec["steps"] and job["experiment"] == name
    assert job["org"]["employees"] == spec["org"]["employees"]
    assert list(tmp_path.iterdir()) == []  # --cfg only shows

    name = "org_forms_vs_turbulence_quick"
    spec = experiment_yaml(name)
    assert spec["steps"] != 7 and spec["replications"] > 1
    swept = spec["hydra"]["sweeper"]["params"]
    result = orgsim(
        ["-m", f"experiment={name}", "steps=7", "replications=1", "problem.k=8",
         "org=adhocracy,bureaucracy", "results_dir=res", BASIC],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = sweep_table(result)
    turbulence = [float(v) for v in str(swept["problem.turbulence"]).split(",")]
    assert len(table) == 2 * len(turbulence)
    assert (table["steps"] == 7).all() and (table["problem.k"] == 8).all()
    assert set(table["org.name"]) == {"adhocracy", "bureaucracy"}
    assert sorted(set(table["problem.turbulence"])) == sorted(turbulence)
    assert (table["org.employees"] == spec["org"]["employees"]).all()  # file over the preset
    assert (table["problem.shock_at"] == json.dumps(spec["problem"]["shock_at"])).all()
    assert (table["experiment"] == name).all() and (table["replication"] == 0).all()
    assert Path(header(result)["dir"]).parent == tmp_path / "res" / "sweeps" / name


# --- validation at the door -------------------------------------------------------------------
BAD_INPUTS = [
    (["problem.k=12"], "problem.k=12 must be less than problem.n=12 (allowed: 0..n-1)"),
    (["problem.k=abc"], "problem.k='abc' must be an integer"),
    (["-m", "steps=abc", "seed=0,1"], "steps='abc' must be an integer"),
    (["org=matrix"], "org=matrix is not a known preset (allowed: adhocracy, bureaucracy"),
    (["problem=nasty"], "problem=nasty is not a known preset"),
    (["problem.foo=1"], "problem.foo is not a known setting"),
    (["colour=red"], "colour is not a known setting"),
    (["+problem.foo=1"], "settings cannot be added (+) or deleted (~)"),
    (["levers.cocreation=1.5"], "levers.cocreation=1.5 is out of range"),
    (["strategy.name=chaos"], "strategy.name='chaos' is not allowed: use one of incremental"),
    (["steps=0"], "steps=0 is out of range: use an integer in [1, 100000]"),
    (["seed=-1"], "seed=-1 is out of range"),
    (["-m", "seed=0,-1", BASIC], "seed=-1 is out of range"),
    (["replication=-1"], "replication=-1 is out of range: use an integer in [0, 99999]"),
    (["strategy.undo_failed=maybe"], "strategy.undo_failed='maybe' must be true or false"),
    (["org.team_size=100"], "org.team_size=100 exceeds org.employees=48"),
    (["problem.k=3,4"], "is a sweep: add -m (--multirun)"),
    (["-m", "problem.k=3,12", BASIC], "problem.k=12 must be less than problem.n=12"),
    (["replications=0"], "replications=0 is out of range"),
    (["-m", "seed=0,1", "replications=0"], "replications=0 is out of range"),
    (["-m", "replications=2,3"], "replications cannot be swept"),
    (["chunk_size=-1"], "chunk_size=-1 is out of range: use an integer in [0, 1000000]"),
    (["-m", "seed=0,1", "chunk_size=-1"], "chunk_size=-1 is out of range"),
    (["-m", "seed=0,1", "chunk_size=1,2"], "chunk_size cannot be swept"),
    (["results_dir="], "results_dir is empty"),
    (["-m", "seed=0,1", "results_dir="], "results_dir is empty"),
    (["chunk=x.json"], "chunk cannot be set from the command line"),
    (["hydra.sweep.dir=x"], "hydra.sweep.dir cannot be set from the command line"),
    (["hydra/launcher=nope"], "hydra/launcher=nope is not a known preset (allowed: orgsim_joblib, joblib"),
    (["hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs='abc' must be an integer"),
    (["org._target_=os.system"], "org._target_ cannot be set from the command line"),
    (["problem.k=[1"], "could not parse an override"),
    (["--bogus"], "unknown option --bogus"),
    (["experiment=nope"], "experiment=nope is not a known preset"),
    (["-m", "experiment=nope"], "experiment=nope is not a known preset"),
    # sampled designs: the sample spec overridden on the command line
    (
        ["-m", "experiment=levers_sensitivity_quick", BASIC,
         "hydra.sweeper.sample.methods=[{method:fast,n:8}]"],
        "is not a sampler (allowed: sobol, morris, lhs)",
    ),
    (
        ["-m", "experiment=levers_sensitivity_quick", BASIC,
         "+hydra.sweeper.sample.factors.bogus={bounds:[0,1]}"],
        "sample factor bogus is not a setting that can be sampled",
    ),
    (
        ["-m", "experiment=levers_sensitivity_quick", BASIC,
         "hydra.sweeper.sample.factors={levers.cocreation:{bounds:[0.5,0.5]}}"],
        "sample factor levers.cocreation: empty range [0.5, 0.5]",
    ),
    (
        ["-m", "experiment=levers_sensitivity_quick", BASIC,
         "hydra.sweeper.sample.factors={problem.k:{bounds:[0,25],type:int}}"],
        "sample factor problem.k: range [0, 25] is outside the allowed values",
    ),
]  # fmt: skip


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
    factor = "+hydra.sweeper.sample.factors.x={bounds:[0,1]}"
    sampled = orgsim(["-m", "experiment=levers_sensitivity_quick", factor], tmp_path)
    assert sampled.returncode == 2
    assert sampled.stderr.strip().splitlines() == [
        "orgsim: error: sample factor x is not a setting that can be sampled "
        "(see docs/ODD.md for the settings)"
    ]
    assert list(tmp_path.iterdir()) == []


FACTORS = {
    "levers.cocreation": {"bounds": [0.0, 1.0]},
    "problem.k": {"bounds": [0, 5], "type": "int"},
}
BAD_SAMPLES = [
    ({"levers.colour": {"bounds": [0.0, 1.0]}}, None, "sample factor levers.colour is not"),
    ({"seed": {"bounds": [0, 10]}}, None, "sample factor seed is not a setting that can be"),
    ({"org.name": {"bounds": [0, 1]}}, None, "sample factor org.name: only numeric settings"),
    ({"levers.cocreation": {"bounds": [0.4, 0.4]}}, None, "levers.cocreation: empty range"),
    ({"problem.k": {"bounds": [5, 2], "type": "int"}}, None, "problem.k: empty range [5, 2]"),
    ({"levers.rd_budget": {"bounds": [-0.5, 1.0]}}, None, "levers.rd_budget: range [-0.5, 1]"),
    ({"problem.turbulence": {"bounds": [0.0, 3.0]}}, None, "problem.turbulence: range [0, 3] is"),
    ({"levers.cocreation": {}}, None, "sample factor levers.cocreation: give bounds"),
    (FACTORS, [{"method": "fast", "n": 8}], "is not a sampler (allowed: sobol, morris, lhs)"),
    (FACTORS, [], "name at least one of sobol, morris, lhs"),
    ({}, None, "declare at least one factor"),
]


@pytest.mark.parametrize(("factors", "methods", "expected"), BAD_SAMPLES)
def test_bad_sample_spec_is_a_one_line_config_error(
    factors: dict[str, Any], methods: list[dict[str, Any]] | None, expected: str
) -> None:
    """`sim.design.expand` rejects a bad sampled design before anything runs, naming the factor."""
    sample = {
        "seed": 0,
        "factors": factors,
        "methods": [{"method": "lhs", "n": 4}] if methods is None else methods,
    }
    with pytest.raises(ConfigError) as info:
        expand([*SMALL], {}, sample)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_sampled_design_expands_integer_factors_within_their_range() -> None:
    """A good sample: every run valid, integer factors floored into [lo, hi], labels kept."""
    sample = {"seed": 0, "factors": FACTORS, "methods": [{"method": "lhs", "n": 12}]}
    design = expand([*SMALL, "replications=2"], {}, sample)
    assert len(design) == 24
    ks = [
        r.settings.get("problem.k", design.run_settings["base"]["problem.k"]) for r in design.runs
    ]
    assert set(ks) <= set(range(6)) and len(set(ks)) > 1
    assert {r.labels["design"] for r in design.runs} == {"lhs"}
    assert all(0.0 <= r.labels["x.problem.k"] < 6.0 for r in design.runs)


# --- the design cache (sim/design_cache.py) and the reused sweep without Hydra ---------------------
CACHED = ["-m", "strategy=incremental,planning", "replications=2", *SMALL, BASIC, "progress=false"]


def sweep_folder_contents(folder: Path) -> dict[str, Any]:
    """A sweep folder's files as comparable content: tables, timeseries, sweep.json (without
    its clock readings)."""
    record = json.loads((folder / store.SWEEP_FILE).read_text())
    for clock in ("started_at", "finished_at", "wall_time_s"):
        record.pop(clock)
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "table": pd.read_parquet(folder / store.TABLE),
        "csv": (folder / store.TABLE_CSV).read_text(),
        "timeseries": pd.read_parquet(folder / store.TIMESERIES),
        "sweep.json": record,
    }


def test_a_reused_sweep_without_hydra_writes_and_prints_what_hydra_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once a command's design is cached and every run is in the store, the sweep is finished
    without Hydra (no composition, no sweeper): same files, same content, same terminal lines,
    same exit code as the same command through Hydra (cache off)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORGSIM_CACHE_DIR", str(tmp_path / "cache"))
    code, _ = run_main(CACHED, capsys)
    assert code == 0 and len(list((tmp_path / "cache").glob("*.pickle"))) == 1

    def no_hydra(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the reused sweep entered Hydra")

    with monkeypatch.context() as m:
        m.setattr(cli, "_hydra_app", no_hydra)
        fast_code, fast = run_main(CACHED, capsys, out=True)
    monkeypatch.setenv("ORGSIM_CACHE_DIR", "off")
    slow_code, slow = run_main(CACHED, capsys, out=True)
    assert fast_code == slow_code == 0
    fast_dir, slow_dir = (Path(HEADER.match(err)["dir"]) for err in (fast[1], slow[1]))
    assert fast_dir != slow_dir
    a, b = sweep_folder_contents(fast_dir), sweep_folder_contents(slow_dir)
    assert a["files"] == b["files"] and a["csv"] == b["csv"]
    assert a["sweep.json"] == b["sweep.json"]
    pd.testing.assert_frame_equal(a["table"], b["table"])
    pd.testing.assert_frame_equal(a["timeseries"], b["timeseries"])
    assert a["table"]["meta.reused"].all() and len(a["table"]) == 4
    assert [s.replace(str(fast_dir), "DIR") for s in fast] == [
        s.replace(str(slow_dir), "DIR") for s in slow
    ]


def run_main(
    args: list[str], capsys: pytest.CaptureFixture[str], out: bool = False
) -> tuple[int, Any]:
    """``cli.main(args)`` in this process: its exit code and its stderr (or (stdout, stderr))."""
    try:
        cli.main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, (captured.out, captured.err) if out else captured.err


def test_a_cached_design_is_used_and_a_missing_run_still_goes_through_hydra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache hit skips the door check's composition and the expansion; with a run missing
    from the store (its part removed) the sweep goes through Hydra with the cached design and
    recomputes just that part's runs, under the same ids."""
    from sim import design, engine

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORGSIM_CACHE_DIR", str(tmp_path / "cache"))
    code, err = run_main(CACHED, capsys)
    assert code == 0, err
    first = pd.read_parquet(Path(HEADER.match(err)["dir"]) / store.TABLE)
    for part in (tmp_path / "results" / store.STORE / store.PARTS).iterdir():
        part.unlink()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("composed or expanded again")

    with monkeypatch.context() as m:
        m.setattr(cli, "prepare", refuse)
        m.setattr(engine, "expand", refuse)
        m.setattr(design, "compose", refuse)
        code, err = run_main(CACHED, capsys)
    assert code == 0, err
    assert HEADER.match(err).group("reused", "todo") == ("0", "4")
    again = pd.read_parquet(Path(HEADER.match(err)["dir"]) / store.TABLE)
    assert list(again["run_id"]) == list(first["run_id"])
    pd.testing.assert_frame_equal(comparable(again), comparable(first))


def test_the_design_cache_key_changes_with_conf_code_command_and_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale design cannot be served: editing (or adding) any file under conf/, any module of
    the package, the command line, the folder or an ORGSIM_* variable gives another key."""
    import shutil

    from sim import design_cache

    conf, package = tmp_path / "conf", tmp_path / "sim"
    shutil.copytree(design_cache.CONF_DIR, conf)
    shutil.copytree(design_cache.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("*.pyc"))
    monkeypatch.setattr(design_cache, "CONF_DIR", conf)
    monkeypatch.setattr(design_cache, "PACKAGE_DIR", package)
    monkeypatch.delenv("ORGSIM_FAIL_ON_SEED", raising=False)
    argv = ["-m", "strategy=incremental,planning", "replications=50"]
    base = design_cache.key(argv)
    assert design_cache.key(list(argv)) == base  # the same inputs: the same key
    keys = {base}

    def changed() -> str:
        new = design_cache.key(argv)
        assert new not in keys
        keys.add(new)
        return new

    strategy = conf / "strategy" / "planning.yaml"
    strategy.write_text(strategy.read_text() + "\n# a comment is a change\n")
    changed()
    (conf / "experiment" / "new_one.yaml").write_text("# @package _global_\n")
    changed()
    model = package / "model.py"
    model.write_text(model.read_text() + "\n")
    changed()
    design_module = package / "design.py"
    design_module.write_text(design_module.read_text().replace("99_999", "99_998"))
    changed()
    argv = [*argv, "steps=10"]
    changed()
    monkeypatch.chdir(tmp_path)
    changed()
    monkeypatch.setenv("ORGSIM_FAIL_ON_SEED", "3")
    changed()
    # a resolver whose value may change between two runs of a command: never cached
    assert design_cache.key([*argv, "results_dir=out/${now:%H-%M-%S}"]) is None


def test_an_unreadable_cache_entry_is_a_miss_and_mistakes_are_never_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A truncated or foreign entry is ignored (the command composes as without a cache); a
    command that fails the door check or the design check writes no entry and fails the same
    way every time."""
    from sim import design_cache

    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("ORGSIM_CACHE_DIR", str(cache))
    bad = ["-m", "strategy=incremental,planning", "problem.k=12", BASIC]
    factor = "+hydra.sweeper.sample.factors.x={bounds:[0,1]}"
    sampled = ["-m", "experiment=levers_sensitivity_quick", factor, BASIC]
    for args in (bad, bad, sampled, sampled):
        code, err = run_main(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert not cache.exists() or not list(cache.glob("*.pickle"))

    code, err = run_main(CACHED, capsys)
    assert code == 0, err
    (entry,) = cache.glob("*.pickle")
    assert entry.stem == design_cache.key(CACHED)
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    code, err = run_main(CACHED, capsys)
    assert code == 0 and HEADER.match(err).group("reused", "todo") == ("4", "0"), err
    # the miss composed and expanded again, and wrote a good entry in place of the broken one
    assert design_cache.load(entry.stem) is not None
    import pickle

    foreign = pickle.loads(entry.read_bytes())
    foreign.key = "0" * 64
    entry.write_bytes(pickle.dumps(foreign))
    assert design_cache.load(entry.stem) is None  # an entry filed under another key
    code, err = run_main(CACHED, capsys)
    assert code == 0 and HEADER.match(err).group("reused", "todo") == ("4", "0"), err


def test_the_door_check_finds_the_mode_hydra_would() -> None:
    """`_hydra_app` hands Hydra the door check's ``hydra.mode`` instead of letting
    ``Hydra.get_mode`` compose the config once more: the two must agree."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.config import CONF_DIR, register_schema

    register_schema()
    for args in (
        ["-m", "strategy=incremental,planning", "replications=3"],
        ["steps=5"],
        ["hydra.mode=MULTIRUN", "steps=5"],
        ["-m", "experiment=strategy_vs_wickedness_quick"],
    ):
        prepared = cli.prepare(args)
        overrides = [a for a in prepared.argv if not a.startswith("-")]
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                hydra_mode = GlobalHydra.instance().hydra.get_mode("config", overrides)
        finally:
            GlobalHydra.instance().clear()
        assert prepared.checked
        assert prepared.mode == (hydra_mode.name if hydra_mode is not None else None), args
    assert cli.prepare(["hydra.mode=MULTIRUN"]).mode == "MULTIRUN"
