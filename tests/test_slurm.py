"""A sweep through a real single-node Slurm (fixture ``slurm_cluster``) with orgsim's launcher
preset: the chunks really ran as Slurm jobs (each run records its SLURM_JOB_ID), one Slurm job
per chunk (not per run), and the table equals the one the Python API computes locally."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from support.commands import orgsim_command
from support.slurm import SlurmCluster

import sim
from sim import store

#: 4 runs in 2 chunks of 2 runs
SWEEP = ["strategy=incremental,planning", "replications=2", "steps=10", "org.employees=12"]
HEADER = re.compile(
    r"orgsim: sweep of (\d+) runs \((\d+) already in the store, (\d+) to run in (\d+) jobs?, about [^)]* of model time\): "
    r"(?P<dir>\S+)"
)


def _orgsim(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*orgsim_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in table.columns if c.startswith("meta.")])


@pytest.mark.slurm
def test_sweep_on_slurm_runs_one_job_per_chunk_and_equals_the_api(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    on_slurm = _orgsim(
        [
            "-m",
            *SWEEP,
            "chunk_size=2",
            "hydra/launcher=orgsim_slurm",
            "hydra.launcher.timeout_min=10",
            # the test node has RealMemory=2000 (MB), below the preset's mem_gb=2
            "hydra.launcher.mem_gb=1",
            f"hydra.launcher.partition={slurm_cluster.partition}",
            "results_dir=on_slurm",
        ],
        tmp_path,
        slurm_cluster.env,
    )
    assert on_slurm.returncode == 0, f"{on_slurm.stderr[-4000:]}\n{slurm_cluster.logs()}"
    head = HEADER.fullmatch(on_slurm.stderr.splitlines()[0])
    assert head, on_slurm.stderr[:2000]
    assert head.group(1, 2, 3, 4) == ("4", "0", "4", "2")
    sweep_dir = Path(head["dir"])
    assert sweep_dir.parent == tmp_path / "on_slurm" / "sweeps" / "none"
    chunks = sorted((sweep_dir / store.CHUNKS).glob("*.json"))
    assert len(chunks) == 2
    t_slurm = pd.read_parquet(sweep_dir / store.TABLE)
    assert len(t_slurm) == 4 and (t_slurm["status"] == "ok").all()
    # every run was computed by a Slurm job (not reused, not silently run locally) ...
    job_ids = t_slurm["meta.slurm_job_id"].astype(str)
    assert job_ids.str.fullmatch(r"\d+").all(), list(job_ids)
    assert not t_slurm["meta.reused"].any()
    # ... and there was one Slurm job per chunk, not one per run
    assert job_ids.nunique() == len(chunks)
    assert (t_slurm.groupby("meta.slurm_job_id").size() == 2).all()

    local = sim.sweep(SWEEP, results_dir=tmp_path / "local")
    t_local = pd.read_parquet(local.sweep_dir / store.TABLE)
    if not os.environ.get("SLURM_JOB_ID"):  # (pytest itself may run inside a Slurm job)
        assert (t_local["meta.slurm_job_id"] == "").all()
    assert list(t_slurm["run_id"]) == list(t_local["run_id"])
    pd.testing.assert_frame_equal(comparable(t_slurm), comparable(t_local))
    # submitit's logs (one folder per task) are in this sweep's own folder (docs/cluster.md)
    assert (sweep_dir / ".submitit").is_dir()
