"""Prove that the test infrastructure is real: a real Slurm, a real Chromium, an honest CI script.

These tests are cheap (about 15 s together, mostly Slurm's own polling) and guard the fixtures
that the slow orgsim tests build on: if they fail, fix the infrastructure before anything else.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import in_ci, require
from support.slurm import SlurmCluster

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parent.parent

#: The one test command; README.md and .ci/run must both carry it verbatim.
TEST_COMMAND = (
    "python3.12 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
)


@pytest.mark.slurm
def test_sbatch_job_really_runs_under_slurm(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    """A batch job writes its own SLURM_JOB_ID, which only a real slurmd can give it."""
    out = tmp_path / "job_id.txt"
    result = slurm_cluster.run(
        "sbatch",
        "--wait",
        f"--output={tmp_path / 'slurm-%j.out'}",
        "--wrap",
        f"echo $SLURM_JOB_ID > {out}",
        timeout=120,
    )
    submitted = result.stdout.split()[-1]
    assert out.read_text().strip() == submitted
    assert submitted.isdigit()


@pytest.mark.slurm
def test_accounting_records_the_job(slurm_cluster: SlurmCluster) -> None:
    """sacct must know finished jobs: submitit relies on it to notice jobs Slurm killed."""
    job = slurm_cluster.run("srun", "--job-name=acct-probe", "sh", "-c", "echo $SLURM_JOB_ID")
    job_id = job.stdout.strip()
    assert job_id.isdigit()

    def state() -> str:
        sacct = slurm_cluster.run("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id)
        return sacct.stdout.strip()

    deadline = time.monotonic() + 20  # slurmctld hands records to slurmdbd asynchronously
    while state() != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state() == "COMPLETED"


@pytest.mark.browser
def test_chromium_renders_a_page(chromium_browser: Browser) -> None:
    """Debian's Chromium, driven by Playwright, loads a page and reports its title."""
    page = chromium_browser.new_page()
    try:
        page.goto("data:text/html,<title>orgsim infra</title><h1 id=h>ready</h1>")
        assert page.title() == "orgsim infra"
        assert page.inner_text("#h") == "ready"
    finally:
        page.close()


def test_ci_script_runs_the_test_command() -> None:
    """.ci/run must run exactly the documented command, so CI tests what users run."""
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text()


def test_readme_test_command_matches_ci() -> None:
    """Every venv+pytest command line in README.md must appear verbatim in .ci/run."""
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("README.md does not exist yet (another engineer writes it)")
    commands = [
        line.strip().removeprefix("$ ").strip()
        for line in readme.read_text().splitlines()
        if "-m venv" in line and "pytest" in line
    ]
    if not commands:
        pytest.skip("README.md has no `python3.12 -m venv ... pytest` line yet")
    ci_script = (REPO / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci_script, f"README command not in .ci/run: {command}"


def test_require_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule that keeps CI from silently skipping the real parts."""
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    with pytest.raises(pytest.fail.Exception):
        require(False, "a tool")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require(False, "a tool")
    require(True, "a tool")  # present: nothing happens
