"""The experiment engine (sim.engine): run identity across code changes, failures, concurrent
and killed sweeps, workers dying with their sweep, chunking, and the Python API against the
command line.

Sweeps in this process use ``engine.sweep`` (``jobs=1`` unless said); the command line is run as
a user would (``orgsim -m ...`` in a subprocess). Runs are tiny (a dozen employees, few steps).
Processes a test starts are killed by their id in ``finally`` blocks, never by name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from support.commands import orgsim_command

from sim import engine, provenance, store
from sim.provenance import code_fingerprint

REPO = Path(__file__).resolve().parent.parent
SMALL = ["steps=10", "org.employees=12", "org.partners=2"]
SWEEP_LINE = re.compile(
    r"orgsim: sweep of (\d+) runs \((\d+) already in the store, (\d+) to run in \d+ jobs?, about [^)]* of model time\): (\S+)"
)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A table without provenance (meta.*), for comparing results of two sweeps."""
    return table.drop(columns=[c for c in table.columns if store.is_meta(c)])


def ids_of(overrides: list[str]) -> list[str]:
    """The run ids of a command line's design, in design order (expanded in this process)."""
    return [r.run_id for r in engine.design_from_overrides(overrides).runs]


def manifests(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("store/parts/[!.]*.json"))]


def committed(results: Path) -> Counter[str]:
    """How many committed parts hold each run id."""
    return Counter(rid for m in manifests(results) for rid in m["runs"])


def orgsim_cmd(args: list[str]) -> list[str]:
    """The venv's console script (else the module), as a user runs it."""
    return [*orgsim_command(), *args]


def cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != engine.FAIL_HOOK}
    env.update(extra)
    return env


def sweep_line(stderr: str) -> tuple[int, int, int, Path]:
    """(runs, already in the store, to run, sweep folder) from the sweep's first line."""
    match = SWEEP_LINE.search(stderr)
    assert match, stderr
    return int(match[1]), int(match[2]), int(match[3]), Path(match[4])


# --- process trees --------------------------------------------------------------------------------
def living(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def group(pgid: int) -> list[psutil.Process]:
    """Living processes of a process group (the sweep runs in its own session)."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def wait_gone(procs: list[psutil.Process], pgid: int, timeout: float) -> list[psutil.Process]:
    """Poll until these processes and the group are gone; return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {p.pid: p for p in living(procs) + group(pgid)}
        if not alive or time.monotonic() > deadline:
            return list(alive.values())
        time.sleep(0.2)


@contextmanager
def background_sweep(
    args: list[str], stderr: Path
) -> Iterator[tuple[subprocess.Popen[bytes], list[psutil.Process]]]:
    """``orgsim -m ARGS`` in its own session; yields the process and a list that collects its
    descendants (call :func:`watch`). Everything it started is killed (by pid) on exit."""
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            orgsim_cmd(["-m", *args]),
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            start_new_session=True,
        )
    seen: list[psutil.Process] = []
    try:
        yield proc, seen
    finally:
        leftovers = living(seen) + group(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in leftovers:
            with suppress(psutil.NoSuchProcess):
                p.kill()


def watch(proc: subprocess.Popen[bytes], seen: list[psutil.Process]) -> None:
    """Add the process's current descendants to ``seen``."""
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return
    pids = {p.pid for p in seen}
    seen.extend(k for k in kids if k.pid not in pids)


def wait_for(
    proc: subprocess.Popen[bytes], seen: list[psutil.Process], ready: Any, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the sweep ended (rc {proc.returncode}) before the kill"
        assert time.monotonic() < deadline, "the sweep did not get going in time"
        watch(proc, seen)
        time.sleep(0.02)
    watch(proc, seen)


# --- 1. run ids and the code fingerprint -------------------------------------------------------------
def test_another_code_fingerprint_gives_other_ids_and_reuses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    overrides = [*SMALL, "strategy=incremental,planning"]
    first = engine.sweep(overrides, results_dir=results)
    assert (first.computed, first.reused) == (2, 0)
    same = engine.sweep(overrides, results_dir=results)
    assert (same.computed, same.reused) == (0, 2)
    assert list(same.table["run_id"]) == list(first.table["run_id"])

    # expand() looks the fingerprint up in sim.provenance; the engine imported it by name
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "feedfacefeedface")
    monkeypatch.setattr(engine, "code_fingerprint", lambda: "feedfacefeedface")
    changed = engine.sweep(overrides, results_dir=results)
    assert (changed.computed, changed.reused) == (2, 0)
    assert not set(changed.table["run_id"]) & set(first.table["run_id"])
    assert (changed.table["meta.code_fingerprint"] == "feedfacefeedface").all()
    assert not changed.table["meta.reused"].any()
    # the model itself did not change: same numbers under other ids
    outcomes = store.outcome_columns(first.table)
    pd.testing.assert_frame_equal(changed.table[outcomes], first.table[outcomes])
    chunk = json.loads(next((changed.sweep_dir / store.CHUNKS).glob("*.json")).read_text())

    monkeypatch.undo()
    back = engine.sweep(overrides, results_dir=results)
    assert (back.computed, back.reused) == (0, 2)
    assert list(back.table["run_id"]) == list(first.table["run_id"])
    # a chunk planned under one fingerprint is not run by other code
    with pytest.raises(RuntimeError, match="code changed"):
        engine.run_chunk(chunk)


def test_editing_the_model_code_changes_ids_and_reuses_nothing(tmp_path: Path) -> None:
    """A copy of the package with one constant of sim/levers.py changed, run as a user would
    (``python -m sim.cli -m ...``) into the same results folder: other ids, all computed."""
    results = tmp_path / "results"
    overrides = [*SMALL, "strategy=incremental,planning"]
    first = engine.sweep(overrides, results_dir=results)
    copy = tmp_path / "copy"
    for name in ("sim", "conf", "hydra_plugins"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", copy / "pyproject.toml")
    levers = copy / "sim" / "levers.py"
    text = levers.read_text()
    assert text.count("ideas_per_step=0.5 + 2.5 * rd") == 1, "the constant moved: update the test"
    levers.write_text(
        text.replace("ideas_per_step=0.5 + 2.5 * rd", "ideas_per_step=0.5 + 1.5 * rd")
    )

    out = subprocess.run(
        [sys.executable, "-m", "sim.cli", "-m", *overrides, f"results_dir={results}"]
        + ["hydra/launcher=basic", "progress=false"],
        cwd=copy,
        env=clean_env(PYTHONPATH=str(copy)),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    total, reused, to_run, sweep_dir = sweep_line(out.stderr)
    assert (total, reused, to_run) == (2, 0, 2)
    assert sweep_dir.parent.parent.parent == results.resolve()
    table = store.read_table(sweep_dir)
    assert (table["status"] == "ok").all()
    assert not set(table["run_id"]) & set(first.table["run_id"])
    fingerprints = set(table["meta.code_fingerprint"])
    assert len(fingerprints) == 1 and code_fingerprint() not in fingerprints
    # the copy's code computed them: fewer ideas per step of R&D
    assert table["total_ideas"].sum() < first.table["total_ideas"].sum()
    # and the original code is still served its own runs
    again = engine.sweep(overrides, results_dir=results)
    assert (again.reused, again.computed) == (2, 0)
    pd.testing.assert_frame_equal(comparable(again.table), comparable(first.table))


# --- 4. failures ----------------------------------------------------------------------------------
def test_a_failing_run_is_recorded_the_others_finish_and_it_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    overrides = [*SMALL, "strategy=incremental,planning", "seed=0,1"]
    monkeypatch.setenv(engine.FAIL_HOOK, "1")
    first = engine.sweep(overrides, results_dir=results, chunk_size=2)
    table = first.table
    assert len(table) == 4 and first.exit_code == 1
    assert (first.failed, first.missing) == (2, 0)
    failed = table[table["status"] == "failed"]
    assert (failed["seed"] == 1).all()
    assert failed["error"].str.contains("failed on purpose").all()
    assert failed["mean_performance"].isna().all()
    ok = table[table["status"] == "ok"]
    assert (ok["seed"] == 0).all() and ok["mean_performance"].notna().all()
    assert any("2 of 4 runs failed" in line for line in engine.report_lines(first))
    # the failure is stored (with its traceback) and is not taken for a result
    assert store.Store(results).done(list(table["run_id"])) == set(ok["run_id"])

    again = engine.sweep(overrides, results_dir=results, chunk_size=2)
    assert (again.computed, again.reused, again.failed) == (2, 2, 2)  # retried, failed again

    monkeypatch.delenv(engine.FAIL_HOOK)
    fixed = engine.sweep(overrides, results_dir=results, chunk_size=2)
    assert (fixed.computed, fixed.reused, fixed.exit_code) == (2, 2, 0)
    assert (fixed.table["status"] == "ok").all()
    assert list(fixed.table["run_id"]) == list(table["run_id"])
    assert (fixed.table["error"] == "").all()


# --- 5. concurrent sweeps -------------------------------------------------------------------------
def test_two_overlapping_sweeps_started_together_each_get_a_complete_table(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    designs = [
        [*SMALL, "strategy=incremental,planning", "seed=0,1,2"],
        [*SMALL, "strategy=planning,hybrid", "seed=1,2,3"],
    ]
    expected = [ids_of(d) for d in designs]
    assert len(set(expected[0]) & set(expected[1])) == 2  # planning with seeds 1 and 2
    procs = [
        subprocess.Popen(
            orgsim_cmd(["-m", *d, f"results_dir={results}", "chunk_size=2", "progress=false"])
            + ["hydra/launcher=basic"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            text=True,
        )
        for d in designs
    ]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    folders = []
    tables = []
    for proc, (_, err), ids in zip(procs, outs, expected, strict=True):
        assert proc.returncode == 0, err
        total, _, _, folder = sweep_line(err)
        assert total == 6
        folders.append(folder)
        table = store.read_table(folder)
        assert list(table["run_id"]) == ids  # exactly its own design, in design order
        assert (table["status"] == "ok").all()
        ts = store.read_timeseries(folder)
        assert ts is not None and set(ts["run_id"]) == set(ids)
        tables.append(table.set_index("run_id"))
    assert folders[0] != folders[1]
    shared = sorted(set(expected[0]) & set(expected[1]))
    outcomes = store.outcome_columns(tables[0])
    pd.testing.assert_frame_equal(tables[0].loc[shared, outcomes], tables[1].loc[shared, outcomes])


# --- 9, 10. a killed sweep: its workers die with it, and it resumes ---------------------------------
def is_worker(p: psutil.Process, launcher: str) -> bool:
    """A joblib worker: loky's are fresh interpreters (``--pipe``); the default launcher's are
    forked from the sweep's fork server (sim/workers.py): its children, its command line."""
    if launcher == "joblib":
        return "--pipe" in cmdline(p)
    try:
        server = psutil.Process(p.ppid())
        return "multiprocessing.forkserver" in cmdline(p) and cmdline(server) == cmdline(p)
    except psutil.Error:
        return False


def sweep_workers(
    proc: subprocess.Popen[bytes], seen: list[psutil.Process], launcher: str
) -> list[psutil.Process]:
    """The sweep's living joblib workers, among the processes seen so far."""
    return [p for p in living(seen) if p.pid != proc.pid and is_worker(p, launcher)]


@pytest.mark.parametrize("launcher", ["orgsim_joblib", "joblib"])
def test_a_killed_sweeps_workers_die_and_it_resumes_computing_every_run_once(
    tmp_path: Path, launcher: str
) -> None:
    """``orgsim -m`` of 40 runs (joblib workers, forked (the default) or loky's, one run per
    chunk), in its own session; once the first part is committed, SIGKILL the main process
    only. Its workers and every other process it started are gone within 15 s; the killed
    sweep's table loses no row; the same design run again computes only what is missing, so
    that every run is computed exactly once, and its table equals an uninterrupted sweep's."""
    results = tmp_path / "results"
    overrides = ["steps=100", "org.employees=12", "org.partners=2", "seed=range(0,40)"]
    design = ids_of(overrides)
    assert len(design) == len(set(design)) == 40
    args = [*overrides, f"results_dir={results}", "chunk_size=1", "progress=false"]
    args.append(f"hydra/launcher={launcher}")
    with background_sweep(args, tmp_path / "killed.err") as (proc, seen):
        wait_for(proc, seen, lambda: bool(manifests(results)))
        workers = sweep_workers(proc, seen, launcher)
        assert workers, f"no joblib worker was computing: {[cmdline(p) for p in seen]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        leftovers = [(p.pid, cmdline(p)[-70:]) for p in wait_gone(seen, proc.pid, timeout=15)]
    # (any leftovers are killed on leaving the block; asserted at the end)
    done_before = committed(results)
    assert 0 < len(done_before) < 40, "the sweep was not killed mid-way"
    assert set(done_before) <= set(design)
    _, _, _, killed_dir = sweep_line((tmp_path / "killed.err").read_text())
    assert not (killed_dir / store.TABLE).exists()
    # the killed sweep's table, rebuilt, has every row: what ran is ok, the rest missing
    partial = store.collect(killed_dir)
    assert list(partial["run_id"]) == design
    assert set(partial.loc[partial["status"] == "ok", "run_id"]) == set(done_before)
    missing = partial[partial["status"] == "missing"]
    assert set(missing["run_id"]) == set(design) - set(done_before)
    assert missing["error"].str.len().gt(0).all()

    resumed = engine.sweep(overrides, results_dir=results, jobs=2, chunk_size=5)
    assert resumed.reused == len(done_before)
    assert resumed.computed == 40 - len(done_before)
    assert resumed.exit_code == 0
    counts = committed(results)
    assert set(counts) == set(design)
    assert set(counts.values()) == {1}, {r: n for r, n in counts.items() if n != 1}

    fresh = engine.sweep(overrides, results_dir=tmp_path / "fresh", jobs=2)
    pd.testing.assert_frame_equal(
        comparable(store.read_table(resumed.sweep_dir)),
        comparable(store.read_table(fresh.sweep_dir)),
    )
    assert not leftovers, f"processes outlived the killed sweep by 15 s: {leftovers}"


@pytest.mark.parametrize("launcher", ["orgsim_joblib", "joblib"])
def test_a_killed_worker_ends_the_sweep_with_its_chunks_missing(
    tmp_path: Path, launcher: str
) -> None:
    """A worker killed mid-sweep (the out-of-memory killer, a crash) must not hang the sweep:
    it ends, writes its table with what was computed, reports the lost runs as missing with
    the job's error, and exits 1; running the same command again completes it."""
    results = tmp_path / "results"
    overrides = ["steps=300", "org.employees=12", "org.partners=2", "seed=range(0,40)"]
    args = [*overrides, f"results_dir={results}", "chunk_size=4", "progress=false"]
    args.append(f"hydra/launcher={launcher}")
    with background_sweep(args, tmp_path / "err") as (proc, seen):
        wait_for(proc, seen, lambda: bool(manifests(results)))
        workers = sweep_workers(proc, seen, launcher)
        assert workers, f"no worker was computing: {[cmdline(p) for p in seen]}"
        workers[0].kill()
        assert proc.wait(timeout=120) == 1, "the sweep did not end with exit 1"
    err = (tmp_path / "err").read_text()
    _, _, _, folder = sweep_line(err)
    table = store.read_table(folder)
    assert len(table) == 40 and (table["status"] == "missing").any()
    assert set(table["status"]) <= {"ok", "missing"}
    assert "missing" in err and "a sweep job failed" in err
    again = subprocess.run(
        orgsim_cmd(["-m", *args]), capture_output=True, text=True, env=clean_env(), timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert (store.read_table(sweep_line(again.stderr)[3])["status"] == "ok").all()


def test_warm_workers_die_with_a_main_process_killed_before_the_first_chunk(
    tmp_path: Path,
) -> None:
    """loky's joblib workers (``hydra/launcher=joblib``) are started early (WarmPool) while the
    parent expands the design; a parent killed then must not leave them behind either.

    The kill comes once the workers have had time to start their warm-up task (which starts the
    parent watch). A worker that has not yet received any task from loky when its parent dies
    runs none of our code: it idles until loky's idle timeout (300 s), computing nothing. That
    window (a worker's first ~1 s) is loky's and is documented in README.md (Sweeps)."""
    results = tmp_path / "results"
    # 36 distinct group choices: Hydra composes each (~0.2 s), a window of seconds
    args = [*SMALL, "problem=tame,complicated,complex,wicked"]
    args += ["org=bureaucracy,adhocracy,self_organisation", "strategy=incremental,planning,hybrid"]
    args += [f"results_dir={results}", "progress=false", "hydra/launcher=joblib"]

    with background_sweep(args, tmp_path / "err") as (proc, seen):
        wait_for(proc, seen, lambda: any("--pipe" in cmdline(p) for p in living(seen)))
        time.sleep(3.0)  # the workers import and start their warm-up task (not an assertion)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # killed before the plan: no chunk was written, so none was sent to a worker
        assert not list(results.glob("sweeps/*/*/chunks")), "killed too late: no warm window"
        leftovers = wait_gone(seen, proc.pid, timeout=15)
        assert not leftovers, f"{len(leftovers)} processes outlived the killed sweep"


def test_ctrl_c_stops_a_sweep_with_one_line_and_the_same_command_finishes_it(
    tmp_path: Path,
) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) during ``orgsim -m``: one line naming
    what to do, exit 130, no traceback, no process left; what was committed stays in the store,
    and the same command again computes only the rest."""
    results = tmp_path / "results"
    overrides = ["steps=300", "org.employees=12", "org.partners=2", "seed=range(0,30)"]
    args = [*overrides, f"results_dir={results}", "chunk_size=1", "progress=false"]
    with background_sweep(args, tmp_path / "err") as (proc, seen):
        wait_for(proc, seen, lambda: bool(manifests(results)))
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        leftovers = wait_gone(seen, proc.pid, timeout=15)
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("orgsim: interrupted;"), err[-500:]
    assert not leftovers, f"processes outlived the interrupted sweep: {leftovers}"
    done_before = set(committed(results))
    again = subprocess.run(
        orgsim_cmd(["-m", *args]), capture_output=True, text=True, env=clean_env(), timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    total, reused, _, folder = sweep_line(again.stderr)
    assert total == 30 and reused >= len(done_before) > 0
    assert set(committed(results).values()) == {1}  # every run computed exactly once
    assert (store.read_table(folder)["status"] == "ok").all()


# --- 11. chunks -----------------------------------------------------------------------------------
def check_cover(chunks: list[list[int]], n: int) -> None:
    flat = [i for c in chunks for i in c]
    assert sorted(flat) == list(range(n)), "every run in exactly one chunk"
    assert all(c == sorted(c) and c for c in chunks)


@pytest.mark.parametrize("seed", range(5))
def test_split_balances_and_covers_every_run_once(seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    costs = list(rng.choice([0.01, 0.05, 0.4], size=n) * rng.uniform(0.5, 2.0, size=n))
    for workers in (1, 2, 3, 8):
        chunks = engine.split(costs, workers)
        check_cover(chunks, n)
        loads = [sum(costs[i] for i in c) for c in chunks]
        assert max(loads) - min(loads) <= max(costs) + 1e-9  # balanced to within one run
        assert max(loads) <= engine.CHUNK_TARGET_S + max(costs)
        if len(chunks) > workers > 1:
            assert len(chunks) % workers == 0  # whole rounds: no worker idles at the end
        if sum(costs) >= engine.CHUNKS_PER_WORKER * workers * engine.CHUNK_MIN_S:
            assert len(chunks) >= engine.CHUNKS_PER_WORKER * workers
    for chunk_size in (1, 7, 50, n, n + 5):
        chunks = engine.split(costs, 2, chunk_size)
        check_cover(chunks, n)
        assert all(len(c) <= chunk_size for c in chunks)
        assert len(chunks) == -(-n // chunk_size)


def test_split_sizes_chunks_from_seconds_to_half_a_minute() -> None:
    # a long design on 4 workers: several chunks per worker, whole rounds, none over ~30 s
    long = [0.5] * 10_000
    chunks = engine.split(long, 4)
    check_cover(chunks, 10_000)
    assert len(chunks) >= 4 * engine.CHUNKS_PER_WORKER and len(chunks) % 4 == 0
    sizes = [len(c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) * 0.5 <= engine.CHUNK_TARGET_S
    # a short design is one chunk (a job costs more than its runs); a tiny one too
    assert len(engine.split([0.01] * 100, 4)) == 1
    assert engine.split([0.2], 8) == [[0]]
    assert engine.split([], 4) == []
    # a medium design: one round of several chunks per worker, each a few seconds at least
    medium = engine.split([0.1] * 1000, 2)  # 100 s of work
    assert len(medium) >= 2 * engine.CHUNKS_PER_WORKER and len(medium) % 2 == 0
    assert min(len(c) for c in medium) * 0.1 >= engine.CHUNK_MIN_S
    # costly runs are spread over the chunks, not bunched
    mixed = [5.0] * 8 + [0.05] * 800
    chunks = engine.split(mixed, 2)
    assert (
        max(sum(1 for i in c if i < 8) for c in chunks)
        - min(sum(1 for i in c if i < 8) for c in chunks)
        <= 1
    )


# --- 12. the Python API -------------------------------------------------------------------------
def test_api_in_process_equals_api_on_a_pool(tmp_path: Path) -> None:
    overrides = [*SMALL, "strategy=incremental,planning,hybrid", "seed=0,1"]
    serial = engine.sweep(overrides, results_dir=tmp_path / "serial", jobs=1, chunk_size=2)
    pooled = engine.sweep(overrides, results_dir=tmp_path / "pooled", jobs=2, chunk_size=2)
    assert serial.exit_code == pooled.exit_code == 0
    assert serial.computed == pooled.computed == 6
    assert len(manifests(tmp_path / "pooled")) == 3
    assert list(serial.table["run_id"]) == ids_of(overrides)
    pd.testing.assert_frame_equal(comparable(serial.table), comparable(pooled.table))
    series = [store.read_timeseries(r.sweep_dir) for r in (serial, pooled)]
    # (rows come part by part, in no set order: compare them sorted)
    series = [ts.sort_values(["run_id", "step"]).reset_index(drop=True) for ts in series]
    pd.testing.assert_frame_equal(series[0], series[1])
    # the pool's runs ran in other processes
    assert set(pooled.table["meta.pid"]) != {os.getpid()}
    assert set(serial.table["meta.pid"]) == {os.getpid()}


def test_a_chunk_job_uses_every_cpu_of_its_slurm_allocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Slurm a chunk job runs as many of its runs at once as its allocation has CPUs
    (SLURM_CPUS_PER_TASK); the part it commits is the same as a serial job's."""
    design = engine.design_from_overrides([*SMALL, "seed=0,1,2"])
    chunks = {}
    for name, cpus in (("serial", "1"), ("two", "2")):
        monkeypatch.setenv("SLURM_CPUS_PER_TASK", cpus)
        plan = engine.plan(design, tmp_path / name, chunk_size=3)
        (chunk_file,) = plan.chunks
        chunk = json.loads(chunk_file.read_text())
        assert engine.run_chunk(chunk) == {"runs": 3, "failed": 0}
        chunks[name] = store.Store(tmp_path / name).records([r.run_id for r in design.runs])
    pids = set(chunks["two"]["meta.pid"])
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes did the runs
    values = [c for c in chunks["serial"].columns if not c.startswith("meta.")]
    pd.testing.assert_frame_equal(
        chunks["serial"][values].sort_values("run_id").reset_index(drop=True),
        chunks["two"][values].sort_values("run_id").reset_index(drop=True),
    )
