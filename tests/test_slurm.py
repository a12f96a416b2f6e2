"""A sweep through a real single-node Slurm (fixture ``slurm_cluster``) with orgsim's launcher
preset: the jobs really ran under Slurm (each run records its SLURM_JOB_ID) and the table equals
the one from the same sweep run locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.slurm import SlurmCluster

SWEEP = [
    "-m",
    "strategy=incremental,planning",
    "replications=2",
    "steps=20",
    "org.employees=12",
    "org.partners=2",
]


def _orgsim(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "orgsim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.cli"]
    return subprocess.run(
        [*cmd, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slurm
def test_sweep_on_slurm_equals_local_sweep(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    slurm_dir = tmp_path / "slurm_sweep"
    on_slurm = _orgsim(
        [
            *SWEEP,
            "hydra/launcher=orgsim_slurm",
            "hydra.launcher.timeout_min=10",
            f"hydra.launcher.partition={slurm_cluster.partition}",
            f"hydra.sweep.dir={slurm_dir}",
            "results_dir=on_slurm",
        ],
        tmp_path,
        slurm_cluster.env,
    )
    assert on_slurm.returncode == 0, f"{on_slurm.stderr[-4000:]}\n{slurm_cluster.logs()}"
    local = _orgsim(
        [*SWEEP, f"hydra.sweep.dir={tmp_path / 'local_sweep'}", "results_dir=local"],
        tmp_path,
        {k: v for k, v in os.environ.items() if not k.startswith("SLURM")},
    )
    assert local.returncode == 0, local.stderr[-4000:]

    t_slurm = pd.read_parquet(slurm_dir / "table.parquet")
    t_local = pd.read_parquet(tmp_path / "local_sweep" / "table.parquet")
    assert len(t_slurm) == 4 and (t_slurm["status"] == "ok").all()
    # every run was computed by a Slurm job (not reused, not silently run locally)
    job_ids = t_slurm["meta.slurm_job_id"]
    assert job_ids.str.fullmatch(r"\d+").all(), list(job_ids)
    assert not t_slurm["meta.reused"].any()
    assert (t_local["meta.slurm_job_id"] == "").all()
    assert (slurm_dir / ".submitit").is_dir()
    meta = [c for c in t_slurm.columns if c.startswith("meta.")]
    pd.testing.assert_frame_equal(t_slurm.drop(columns=meta), t_local.drop(columns=meta))
