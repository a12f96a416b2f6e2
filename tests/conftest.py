"""Shared test fixtures: quick/full variants, real external parts (Slurm, Chromium), quiet Mesa.

Rules every test module can rely on:

* ``pytest`` runs everything, including tests marked ``slow``, ``browser`` and ``slurm``; slow
  tests take the ``quick`` fixture and run a small variant unless ``--full`` is given. CI runs the
  quick variants, so a slow test must still prove something real in its quick form.
* Real external parts are never faked. When one is missing, :func:`require` skips the test on a
  developer's machine but FAILS under CI (env var ``CI`` set), because a skipped browser or Slurm
  test in CI would look green while proving nothing. ``.ci/run`` installs them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# `support` is imported as a top-level package from this folder, whatever pytest's import mode
# and whether or not tests/ becomes a package later (pyproject.toml sets no pythonpath).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from support.slurm import SlurmCluster, missing_binaries  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run the full (slow) variant of tests that take the `quick` fixture",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Mesa logs every step at INFO under "MESA"; that floods captured logs on failures.
    logging.getLogger("MESA").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def quick(request: pytest.FixtureRequest) -> bool:
    """True unless ``--full``: slow tests pick their small (CI) variant from this."""
    return not request.config.getoption("--full")


def in_ci() -> bool:
    """CI sets ``CI`` (to ``true``); any non-empty value other than 0/false counts."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(tool_ok: bool, what: str) -> None:
    """Skip locally, fail in CI, when a real external part is missing.

    Call it at the top of a test or fixture: ``require(shutil.which("x") is not None, "x")``.
    """
    if tool_ok:
        return
    if in_ci():
        pytest.fail(f"{what} is missing in CI: .ci/run must install it", pytrace=False)
    pytest.skip(f"{what} is not available here (CI installs it; see .ci/run)")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A real single-node Slurm with accounting for the whole session (a few seconds to start).

    While it is up, ``SLURM_CONF`` is set in ``os.environ``; pass ``cluster.env`` to
    subprocesses. The work dir is absolute, which Hydra sweep dirs under it need to be.
    """
    missing = missing_binaries(accounting=True)
    require(not missing, f"Slurm ({', '.join(missing)})")
    require(os.geteuid() == 0, "root (the Slurm daemons run as SlurmUser=root)")
    with SlurmCluster(Path(tmp_path_factory.mktemp("slurm"))) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright (never `playwright install`)."""
    require(os.access(CHROMIUM, os.X_OK), CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the `test` extra installs it
        require(False, "the playwright Python package (pip install -e '.[test]')")
        raise
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
