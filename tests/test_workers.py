"""The default launcher's workers (sim/workers.py): forked from a fork server that imported the
model, each given the sweep's job context, environment and folder."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf
from support.commands import orgsim_command

from sim import workers
from sim.config import CONF_DIR, register_schema

pytestmark = pytest.mark.skipif(not workers.can_fork_server(), reason="fork server: Linux only")


def _hydra_context() -> tuple[Any, Any, Any, Any]:
    """Hydra's config loader, context and a multirun's master config, as ``orgsim -m`` has
    them when its launcher starts."""
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext, RunMode

    from sim.cli import _task

    register_schema()
    setup_globals()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))
    master = loader.load_configuration(
        "config",
        overrides=["strategy=incremental,planning", "steps=7", "hydra/launcher=orgsim_joblib"],
        run_mode=RunMode.MULTIRUN,
    )
    context = HydraContext(config_loader=loader, callbacks=Callbacks())
    return loader, context, master, _task


def test_a_jobs_config_equals_hydras_own_composition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each job's config, made from the first job's by its chunk, is exactly the config Hydra's
    ``load_sweep_config`` composes for that job (values, recorded overrides, override_dirname);
    a job whose overrides differ in more than its chunk is composed afresh, also equal."""
    loader, context, master, task = _hydra_context()
    sweep = tmp_path / "sweep"
    base = ["steps=7", "org.employees=12"]
    jobs = [
        [*base, f"chunk={sweep}/chunks/chunk-{i:05d}.json", f"hydra.sweep.dir={sweep}"]
        for i in range(3)
    ]
    payload = workers.job_payload(context, master, task, jobs)
    monkeypatch.setattr(workers, "JOB_CONTEXT", pickle.loads(payload))
    other = ["steps=9", "org.employees=12", f"chunk={sweep}/x.json", f"hydra.sweep.dir={sweep}"]
    for overrides in [*jobs, other]:
        made = workers.job_config(overrides)
        composed = loader.load_sweep_config(master, list(overrides))
        assert OmegaConf.to_yaml(made) == OmegaConf.to_yaml(composed)
        assert made.chunk == overrides[2].split("=", 1)[1]
    assert workers.job_config(other).steps == 9
    assert workers.job_config(jobs[1]).hydra.overrides.task[-1].endswith("chunk-00001.json")


def _seen() -> tuple[str | None, str, int]:
    return os.environ.get("ORGSIM_WORKER_PROBE"), os.getcwd(), os.getppid()


def test_workers_get_the_sweeps_environment_and_folder_not_the_fork_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork server is started once per process (``orgsim`` starts it before composing); a
    later sweep in the same process (a notebook, a test) may have another environment or
    working folder, and its workers must see that one."""
    workers.start_fork_server()
    monkeypatch.setenv("ORGSIM_WORKER_PROBE", "after the server started")
    monkeypatch.chdir(tmp_path)
    _, context, master, task = _hydra_context()
    payload = workers.job_payload(context, master, task, [])
    with ProcessPoolExecutor(
        1,
        mp_context=workers.context(),
        initializer=workers.prepare,
        initargs=(os.getpid(), payload, dict(os.environ), os.getcwd()),
    ) as pool:
        probe, cwd, parent = pool.submit(_seen).result(timeout=120)
    assert probe == "after the server started"
    assert Path(cwd) == tmp_path
    assert parent != os.getpid()  # forked by the fork server, not by this process


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (["-m", "strategy=incremental,planning"], True),
        (["--multirun", "hydra/launcher=orgsim_joblib", "seed=1,2"], True),
        (["strategy=planning"], False),  # one run: no workers
        (["-m", "hydra/launcher=orgsim_slurm", "seed=1,2"], False),  # workers on the cluster
        (["-m", "hydra/launcher=joblib", "seed=1,2"], False),  # loky's own workers
        (["-m", "hydra/launcher=basic", "seed=1,2"], False),  # jobs in the main process
    ],
)
def test_orgsim_starts_the_fork_server_only_for_a_sweep_on_the_default_launcher(
    args: list[str], starts: bool
) -> None:
    from sim.cli import _forks_workers

    assert _forks_workers(args) is starts


def test_a_sim_folder_in_the_working_folder_does_not_shadow_the_installed_package(
    tmp_path: Path,
) -> None:
    """``orgsim -m`` run from a folder that holds another ``sim/`` (an old checkout, a user's
    own module): the fork server must import the package ``orgsim`` itself imports, not the
    working folder's (a ``python -c`` interpreter puts the working folder first on its path,
    and Python 3.12's fork server ignores the path it is handed)."""
    import subprocess

    from sim import store

    decoy = tmp_path / "sim"
    decoy.mkdir()
    (decoy / "__init__.py").write_text(
        '"""Not orgsim: a folder that happens to be called sim."""\n'
    )
    for module in ("cli", "engine", "model"):  # as in an older checkout of orgsim
        (decoy / f"{module}.py").write_text("raise ImportError('the decoy was imported')\n")
    results = tmp_path / "results"
    done = subprocess.run(
        [*orgsim_command(), "-m", "seed=1,2,3", "steps=5", "org.employees=8", "chunk_size=1"]
        + [f"results_dir={results}", "progress=false"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "decoy" not in done.stderr
    (table_path,) = results.glob("sweeps/*/*/table.parquet")
    table = store.read_table(table_path.parent)
    assert len(table) == 3 and (table["status"] == "ok").all()
