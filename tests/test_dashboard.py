"""The classroom dashboard in a real headless Chromium (issue 5).

The server is the one ``orgsim-dashboard`` starts (``solara run`` on sim/dashboard/app.py), on a
free loopback port, with the offline front-end files fetched once per test session. Every
request to a host other than the loopback one is blocked and recorded, and every tab must end
with none: that is the proof that the page works without a CDN. Console errors fail a test too.

Screenshots of both modes are saved to ``$ORGSIM_ARTIFACTS/dashboard`` (or pytest's tmp dir) by
:func:`sim.dashboard.drive.capture`, the same function that makes docs/img/classroom-*.png.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import require

drive = pytest.importorskip("sim.dashboard.drive")
from sim.dashboard import assets  # noqa: E402
from sim.dashboard.race import ClassroomRace, history  # noqa: E402

browser = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@pytest.fixture(scope="session")
def offline_assets() -> Path:
    """The solara front-end files, fetched once (npm pack) into the user's cache."""
    cache = assets.default_cache_dir()
    if not assets.is_complete(cache):
        require(shutil.which("npm") is not None, "npm (to fetch the dashboard's offline assets)")
        assets.fetch(cache)
    return cache


@pytest.fixture(scope="module")
def dashboard_url(offline_assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    with drive.running_server(offline_assets, log=log) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("ORGSIM_ARTIFACTS")
    folder = Path(base) / "dashboard" if base else tmp_path_factory.mktemp("dashboard-shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_tab(chromium_browser, dashboard_url: str) -> Iterator[Callable[[], drive.Tab]]:
    """Open dashboard tabs (each in its own browser context); on teardown every tab must have
    made no request off the machine and logged no console error."""
    tabs: list[drive.Tab] = []

    def opener() -> drive.Tab:
        tab = drive.open_tab(chromium_browser, dashboard_url)
        tabs.append(tab)
        return tab

    yield opener
    try:
        for tab in tabs:
            assert tab.outside == [], f"requests left the machine: {tab.outside[:5]}"
            assert tab.errors == [], f"console errors: {tab.errors[:5]}"
    finally:
        for tab in tabs:
            tab.close()


@browser
def test_page_loads_step_play_pause(open_tab: Callable[[], drive.Tab]) -> None:
    tab = open_tab()
    assert tab.step() == 0
    assert tab.click_step(3) == 3
    assert tab.number("step-A") == 3
    tab.play()
    tab.page.wait_for_timeout(1500)
    tab.pause()
    tab.page.wait_for_timeout(300)  # a step in flight lands
    paused_at = tab.step()
    assert paused_at > 3 + 5, f"Play advanced only to {paused_at}"
    tab.page.wait_for_timeout(800)
    assert tab.step() == paused_at, "the run moved while paused"


@browser
def test_lever_and_org_form_change_the_run(open_tab: Callable[[], drive.Tab]) -> None:
    tab = open_tab()

    def fingerprint() -> tuple[float, float]:
        tab.click_step(6)
        return tab.number("ideas-A"), tab.number("performance-A")

    baseline = fingerprint()
    tab.apply({})  # Reset with the same settings: the same run (same seed)
    assert fingerprint() == baseline
    tab.apply({"rd_budget": 1.0})
    more_search = fingerprint()
    assert more_search[0] > baseline[0], "a bigger R&D budget should try more ideas"
    tab.apply({"rd_budget": 0.5, "org": "self_organisation"})
    assert "self_organisation" in tab.text("readouts")
    assert fingerprint() != baseline


@browser
def test_shock_moves_optimum_and_is_marked(open_tab: Callable[[], drive.Tab], shots: Path) -> None:
    tab = open_tab()
    scenario = drive.SCENARIOS["one-organisation"]
    tab.apply(scenario.settings)
    tab.click_step(scenario.before)
    markers = tab.page.get_by_test_id("performance-chart").locator(".shock-marker")
    assert markers.count() == 0
    before = tab.number("optimum-A")
    tab.shock()
    tab.page.get_by_test_id("shocks").filter(has_text="Shocks pressed: 1").wait_for()
    assert tab.number("optimum-A") != before, "the shock did not move the optimum"
    assert markers.count() == 1, "the shock is not marked on the performance plot"
    tab.click_step(scenario.after)
    assert markers.count() == 1
    assert tab.page.locator("[data-testid=people-chart] .shock-marker").count() == 1
    tab.page.screenshot(path=str(shots / "classroom-one-organisation.png"))


@browser
def test_side_by_side_same_landscape(open_tab: Callable[[], drive.Tab], shots: Path) -> None:
    tab = open_tab()
    path = drive.capture(tab, drive.SCENARIOS["stale-plan"], shots / "classroom-stale-plan.png")
    assert path.stat().st_size > 10_000
    text = tab.text("readouts")
    assert "A: bureaucracy / planning" in text and "B: bureaucracy / incremental" in text
    assert tab.number("step-A") == tab.number("step-B") == tab.step()
    assert tab.text("optimum-A") == tab.text("optimum-B"), "not the same landscape"
    assert tab.page.locator("[data-testid=network] svg.network").count() == 2
    assert tab.page.locator("[data-testid=performance-chart] polyline.B").count() == 1


@browser
def test_two_sessions_are_independent(open_tab: Callable[[], drive.Tab]) -> None:
    first, second = open_tab(), open_tab()
    first.click_step(3)
    second.page.wait_for_timeout(500)
    assert second.step() == 0, "stepping one browser session moved another"
    second.click_step(1)
    assert first.step() == 3


@browser
def test_bad_input_gives_a_message(open_tab: Callable[[], drive.Tab]) -> None:
    tab = open_tab()
    tab.type_in("seed", "abc")
    tab.reset()
    message = tab.page.get_by_text("Seed must be a whole number")
    message.wait_for(timeout=10_000)
    assert tab.button("Step").is_disabled() and tab.button("▶").is_disabled()
    tab.type_in("seed", "3")
    tab.type_in("size", "1")
    tab.reset()
    tab.page.get_by_text("Organisation size must be a whole number").wait_for(timeout=10_000)
    tab.type_in("size", "60")
    tab.reset()
    tab.wait_step(0)
    assert tab.click_step(2) == 2  # the server survived and the fixed settings run
    assert open_tab().step() == 0  # and it still serves new sessions


def test_docs_screenshots_come_from_the_scenarios() -> None:
    """docs/classroom.md shows one screenshot per lesson scenario, made by drive.capture
    (``python -m sim.dashboard.drive --docs docs/img``)."""
    guide = (DOCS_IMG.parent / "classroom.md").read_text(encoding="utf-8")
    for name in ("stale-plan", "tangled-problem", "cocreation"):
        assert name in drive.SCENARIOS
        assert f"img/classroom-{name}.png" in guide
        assert (DOCS_IMG / f"classroom-{name}.png").stat().st_size > 10_000


# --- without a browser: the per-session model behind the page ---------------------------------


def test_race_meets_one_problem_and_one_shock() -> None:
    race = ClassroomRace(mode="side by side", org="bureaucracy", org_b="self_organisation")
    a, b = race.orgs["A"], race.orgs["B"]
    for _ in range(5):
        race.step()
    race.shock()
    assert race.shock_steps == [6]
    race.step()
    assert a.problem.optimum_code == b.problem.optimum_code
    assert a.problem.optimum_value == b.problem.optimum_value
    assert history(a)["shock"][-1] == history(b)["shock"][-1] == 1
    assert a.code != b.code or history(a)["ideas"] != history(b)["ideas"]  # designs differ


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", "abc", "Seed must be a whole number"),
        ("seed", "-1", "Seed must be a whole number"),
        ("size", "1", "Organisation size must be a whole number"),
        ("size", "1e9", "Organisation size must be a whole number"),
        ("complexity", 12, "problem.k=12 must be less than problem.n=12"),
    ],
)
def test_race_turns_bad_input_into_a_message(field: str, value: object, message: str) -> None:
    race = ClassroomRace(**{field: value})
    assert race.error is not None and message in race.error
    assert not race.orgs and not race.running
    race.step()  # harmless


def test_offline_asset_versions_match_installed_solara() -> None:
    assert assets.check_versions() == []


def test_pacer_waits_for_the_browser_and_gives_up_on_a_closed_tab(monkeypatch) -> None:
    from sim.dashboard import pacing

    monkeypatch.setattr(pacing, "MAX_WAIT", 0.01)
    pacer = pacing.Pacer()
    pacer.next_frame()
    assert pacer.wait()  # one frame in flight is allowed
    pacer.next_frame()
    assert not pacer.wait()  # two are not: wait for the browser
    pacer.acknowledge(2)
    assert pacer.wait() and pacer.misses == 0
    for _ in range(pacing.STALL_AFTER):
        pacer.next_frame()
        pacer.next_frame()
        pacer.wait()
    assert pacer.stalled


def test_setup_offline_with_a_complete_cache_needs_no_network(offline_assets: Path) -> None:
    from sim.dashboard.serve import main

    assert main(["--setup-offline", "--assets-dir", str(offline_assets)]) == 0
