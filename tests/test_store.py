"""The results store, in-process and fast: content addresses, seeds (common random numbers),
atomic complete-or-absent run folders, and the sweep table's handling of partial, corrupt,
failed and duplicate runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim import store
from sim.config import OrgsimConfig, RunConfig
from sim.sweep import derive_seeds, execute, model_config

SMALL = {"steps": 10}


def small_run(**kwargs: object) -> RunConfig:
    cfg = RunConfig(**{**SMALL, **kwargs})  # type: ignore[arg-type]
    cfg.org.employees = 12
    cfg.org.partners = 2
    return cfg


def test_replication_seeds_are_common_random_numbers() -> None:
    """Replication r gets the same problem seed in every arm, different ones per replication,
    and a people's seed apart from the problem's."""
    a = model_config(small_run(replication=1, replications=3))
    b_run = small_run(replication=1, replications=3)
    b_run.strategy.name = "planning"
    b = model_config(b_run)
    assert a.problem_seed == b.problem_seed and a.agent_seed == b.agent_seed
    seeds = {derive_seeds(0, r) for r in range(5)}
    assert len(seeds) == 5
    assert all(p != q for p, q in seeds)
    assert all(0 <= s < 2**63 for pair in seeds for s in pair)
    # explicit seeds win: hold the landscape fixed while the people change
    fixed = model_config(small_run(problem_seed=42, replication=2, replications=3))
    assert fixed.problem_seed == 42 and fixed.agent_seed == derive_seeds(0, 2)[1]


def test_run_id_is_a_content_address() -> None:
    """Same model config -> same id; any setting or seed changes it; run-level keys do not."""
    base = model_config(small_run())
    assert store.run_id(base) == store.run_id(model_config(small_run()))
    assert store.run_id(base) != store.run_id(model_config(small_run(seed=1)))
    other = small_run()
    other.problem.k = 4
    assert store.run_id(base) != store.run_id(model_config(other))
    elsewhere = small_run(results_dir="/elsewhere", experiment="x", plot=False)
    assert store.run_id(base) == store.run_id(model_config(elsewhere))
    assert isinstance(base, OrgsimConfig) and not isinstance(base, RunConfig)


def test_execute_writes_once_then_reuses(tmp_path: Path) -> None:
    cfg = model_config(small_run())
    first = execute(cfg, tmp_path)
    assert first["status"] == "ok" and not first["reused"]
    folder = Path(first["run_dir"])
    assert store.is_complete(folder)
    mtime = (folder / "timeseries.parquet").stat().st_mtime_ns
    second = execute(cfg, tmp_path)
    assert second["reused"]
    assert pd.Series(second["summary"]).equals(pd.Series(first["summary"]))  # NaN == NaN
    assert (folder / "timeseries.parquet").stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [folder.name]  # no tmp left


def test_failing_run_is_a_record_not_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORGSIM_FAIL_ON_SEED", "3")
    rec = execute(model_config(small_run(seed=3)), tmp_path)
    assert rec["status"] == "failed" and "failed on purpose" in rec["error"]
    assert "Traceback" in rec["traceback"]
    assert not any((tmp_path / "runs").glob("[0-9a-f]*"))


def _sweep(tmp_path: Path, seeds: list[int]) -> Path:
    """A hand-made sweep folder: one job per seed, as the Hydra jobs would write it."""
    sweep = tmp_path / "sweep"
    for job, seed in enumerate(seeds):
        rec = execute(model_config(small_run(seed=seed)), tmp_path / "results")
        rec["run"] = {"experiment": "none", "replications": 1, "replication": 0}
        (sweep / str(job)).mkdir(parents=True)
        store.write_pointer(sweep / str(job), rec)
    return sweep


def test_collect_one_row_per_run_with_flat_columns(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, [0, 1, 0])  # job 2 repeats job 0's run
    table = store.collect(sweep)
    assert list(table["seed"]) == [0, 1] and table["run_id"].is_unique
    for col in ["run_id", "job", "status", "error", "experiment", "replication", "problem.k",
                "org.name", "strategy.name", "levers.cocreation", "steps", "problem_seed",
                "agent_seed", "mean_performance", "final_performance", "meta.slurm_job_id"]:  # fmt: skip
        assert col in table.columns, col
    assert table["problem.shock_at"].iloc[0] == "[]"
    ts = store.collect_timeseries(sweep)
    assert len(ts) == 2 * 10 and {"run_id", "problem.k", "performance"} <= set(ts.columns)
    written = store.write_tables(sweep)
    pd.testing.assert_frame_equal(pd.read_parquet(sweep / store.TABLE), table)
    pd.testing.assert_frame_equal(written, table)
    assert (sweep / store.TIMESERIES).exists()


def test_partial_or_corrupt_run_folders_are_never_read(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, [0, 1, 2])
    runs = store.collect(sweep)
    corrupt = Path(json.loads((sweep / "1" / store.POINTER).read_text())["run_dir"])
    partial = Path(json.loads((sweep / "2" / store.POINTER).read_text())["run_dir"])
    (corrupt / "summary.json").write_text('{"mean_performance": 1.0, "final_performance": 1.0}')
    (partial / store.MARKER).unlink()  # as if killed before the marker
    table = store.collect(sweep)
    assert list(table["status"]) == ["ok", "missing", "missing"]
    assert table["mean_performance"].iloc[1:].isna().all()
    assert "run the sweep again" in table["error"].iloc[1]
    assert table["mean_performance"].iloc[0] == runs["mean_performance"].iloc[0]
    assert not store.is_complete(corrupt) and not store.is_complete(partial)
    # running again repairs both: the store recomputes what is not complete
    again = execute(model_config(small_run(seed=2)), tmp_path / "results")
    assert not again["reused"] and store.is_complete(partial)


def test_a_temporary_folder_is_not_a_run(tmp_path: Path) -> None:
    cfg = model_config(small_run())
    rid = store.run_id(cfg)
    tmp = store.runs_dir(tmp_path) / f".tmp-{rid}-deadbeef"
    tmp.mkdir(parents=True)
    (tmp / "config.yaml").write_text("half")
    assert store.load_run(store.run_path(tmp_path, rid)) is None
    assert not execute(cfg, tmp_path)["reused"]
