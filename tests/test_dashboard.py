"""The classroom dashboard in a real headless Chromium (issue 5).

The server is the one ``orgsim-dashboard`` starts (``solara run`` on sim/dashboard/app.py), on a
free loopback port, with the offline front-end files fetched once per test session. Every
request to a host other than the loopback one is blocked and recorded, and every tab must end
with none: that is the proof that the page works without a CDN. Console errors fail a test too.

Screenshots of both modes are saved to ``$ORGSIM_ARTIFACTS/dashboard`` (or pytest's tmp dir) by
:func:`sim.dashboard.drive.capture`, the same function that makes docs/img/classroom-*.png.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard") / "server.log"


@pytest.fixture(scope="module")
def dashboard_url(offline_assets: Path, server_log: Path) -> Iterator[str]:
    with drive.running_server(offline_assets, log=server_log) as url:
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
    tab.page.get_by_text("Seed must be a whole number").wait_for(timeout=10_000)
    assert tab.value("seed") == "0", "the refused seed is still shown"
    tab.type_in("size", "1")
    tab.page.get_by_text("Organisation size must be a whole number").wait_for(timeout=10_000)
    assert tab.value("size") == "48"
    tab.type_in("size", "60")
    tab.page.get_by_text("Not accepted").wait_for(state="detached", timeout=10_000)
    tab.apply({"complexity": 11})
    assert tab.click_step(2) == 2  # the server survived and the valid settings run
    tab.play()
    tab.page.wait_for_timeout(600)
    tab.pause()
    assert tab.step() > 2, "Play did not run after the refused values"
    assert open_tab().step() == 0  # and it still serves new sessions


@browser
def test_cdn_proxy_is_closed(dashboard_url: str, offline_assets: Path, server_log: Path) -> None:
    """With the offline assets, /_solara/cdn/<path> is 404 for any path (a pinned one too: the
    files come from /static/assets) and the server fetches nothing: the proxy is off
    (SOLARA_ASSETS_PROXY=False), no file appears in the asset folder, the log shows no fetch."""
    before = sorted(str(p) for p in offline_assets.rglob("*"))
    for path in (
        "_solara/cdn/left-pad@1.3.0/index.js",
        "_solara/cdn/@widgetti/solara-vuetify-app@10.1.1/dist/not-there.js",
        "_solara/cdn/requirejs@2.3.6/require.js",
        "_solara/cdn/..%2F..%2Fetc/passwd",
    ):
        assert _status(dashboard_url + path) == 404, path
    assert _status(dashboard_url + "static/assets/requirejs@2.3.6/require.js") == 200
    assert sorted(str(p) for p in offline_assets.rglob("*")) == before
    log = server_log.read_text(encoding="utf-8")
    assert "Could not load URL" not in log and "Writing cache file" not in log
    env = drive.server_env(offline_assets, base={})
    assert env["SOLARA_ASSETS_PROXY"] == "False" and "SOLARA_ASSETS_PROXY_CACHE_DIR" not in env
    assert drive.server_env(None, base={})["SOLARA_ASSETS_PROXY"] == "False"  # online too
    assert _status(dashboard_url + "resourcez") == 200  # from loopback: still there


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


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


# --- malformed values, refused with a message (issue 10) -----------------------------------------

_BAD_ANY = ["abc", None, math.nan, math.inf, -math.inf, [1], {"a": 1}, True]
_BAD_NUMBER = [*_BAD_ANY, -1, -0.5, 10**12, 1e300, "0.5"]
_BAD_TYPED = [*_BAD_ANY, -1, 10**12, "1" * 5000, 48.5, "4 8", ""]
_BAD_CHOICE = [*_BAD_ANY, 1, "Bureaucracy", ["bureaucracy"]]


def _malformed() -> list[tuple[str, object]]:
    from sim.dashboard.race import CHOICES, NUMBERS, TYPED

    cases = [(name, bad) for name in NUMBERS for bad in _BAD_NUMBER]
    cases += [(name, bad) for name in TYPED for bad in _BAD_TYPED]
    cases += [(name, bad) for name in CHOICES for bad in _BAD_CHOICE]
    return cases


@pytest.mark.parametrize(("field", "value"), _malformed())
def test_race_refuses_malformed_values(field: str, value: object) -> None:
    race = ClassroomRace(**{field: value})
    assert race.error and "Traceback" not in race.error and len(race.error) < 200
    assert not race.orgs and not race.running
    race.step()  # harmless


def test_race_shock_and_pacer_refuse_malformed_values() -> None:
    from sim.config import ConfigError

    race = ClassroomRace()
    race.step()
    optimum = race.orgs["A"].problem.optimum_value
    for bad in ["abc", math.nan, math.inf, -0.1, 2, True, [0.5]]:
        with pytest.raises(ConfigError, match="shock share must be a number"):
            race.shock(bad)  # type: ignore[arg-type]
    assert race.shock_steps == [] and race.orgs["A"].problem.optimum_value == optimum
    race.pacer.next_frame()
    for bad in ["abc", None, -1, 10**9, 1.0, True]:
        assert race.pacer.acknowledge(bad) is False
    assert race.pacer.acked == 0 and race.pacer.acknowledge(1) and race.pacer.acked == 1


def test_page_inputs_refuse_malformed_values_and_keep_the_last_valid_one() -> None:
    """Every input of the page (model parameters and the speed), fed what only a crafted
    websocket message could send: a message, the previous value kept and shown again."""
    import ipyvuetify as v
    import solara

    from sim.dashboard.app import DEFAULTS, INTERVAL, MODEL_PARAMS
    from sim.dashboard.inputs import Inputs

    specs = {**MODEL_PARAMS, "interval": INTERVAL}
    values = solara.reactive({**DEFAULTS, "interval": INTERVAL["value"]})
    notice: solara.Reactive[str | None] = solara.reactive(None)

    @solara.component
    def Sidebar() -> None:
        Inputs(specs, values, notice)

    _box, rc = solara.render(Sidebar(), handle_error=False)
    kinds = {"SliderInt": v.Slider, "SliderFloat": v.Slider, "Select": v.Select}
    for name, spec in specs.items():
        kind = kinds.get(spec["type"], v.TextField)
        bad_values = {v.Slider: _BAD_NUMBER, v.Select: _BAD_CHOICE}.get(kind, _BAD_TYPED)
        if kind is v.Slider:
            bad_values = [*bad_values, spec["max"] + spec["step"], spec["min"] - spec["step"]]
        for bad in bad_values:
            kept = dict(values.value)
            widget = rc.find(kind, label=spec["label"]).widget
            widget.v_model = bad
            if kind is v.TextField:
                widget.fire_event("keyup.enter", None)
            assert notice.value and notice.value.startswith("Not accepted"), (name, bad)
            assert spec["label"] in notice.value and "Traceback" not in notice.value
            assert values.value == kept, (name, bad)
            shown = rc.find(kind, label=spec["label"]).widget.v_model
            assert shown == (str(kept[name]) if kind is v.TextField else kept[name]), (name, bad)
            notice.set(None)
    good = rc.find(v.Slider, label=MODEL_PARAMS["turbulence"]["label"]).widget
    good.v_model = 0.1
    assert values.value["turbulence"] == 0.1 and notice.value is None
    rc.close()


def _asgi(app, path: str, client: tuple[str, int] | None) -> tuple[int, bytes]:
    """One GET through ASGI ``app`` from ``client``: the status and the body."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "client": client}
    with ThreadPoolExecutor(1) as pool:  # own thread: Playwright's loop may run in this one
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return sent[0]["status"], sent[1].get("body", b"")


def test_guard_refuses_cdn_paths_and_status_pages_off_loopback() -> None:
    from sim.dashboard.guard import Guard, install, is_loopback

    asked: list[str] = []

    async def inner(scope, receive, send) -> None:  # stands for solara's app (and its proxy)
        asked.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    for proxy_on in (False, True):  # offline/online as served, and solara's proxy left on
        guard = Guard(inner, proxy_on=lambda on=proxy_on: on)
        for path in (
            "/_solara/cdn/left-pad@1.3.0/index.js",
            "/_solara/cdn/requirejs@2.3.6/../../etc/passwd",
            "/_solara/cdn/requirejs@2.3.6x/require.js",
            "/_solara/cdn/",
            "/_solara/cdn",
        ):
            assert _asgi(guard, path, ("127.0.0.1", 5000))[0] == 404, (path, proxy_on)
        pinned = "/_solara/cdn/requirejs@2.3.6/require.js"
        assert _asgi(guard, pinned, ("127.0.0.1", 5000))[0] == (200 if proxy_on else 404)
    assert asked == ["/_solara/cdn/requirejs@2.3.6/require.js"]  # nothing else got through

    asked.clear()
    guard = Guard(inner, proxy_on=lambda: False)
    for client in [("10.1.2.3", 5000), ("192.168.0.7", 1), ("::ffff:10.0.0.1", 2), None]:
        for path in ("/resourcez", "/readyz", "/resourcez/"):
            assert _asgi(guard, path, client)[0] == 404, (client, path)
        assert _asgi(guard, "/", client)[0] == 200  # the page itself is for everyone
    for client in [("127.0.0.1", 5000), ("::1", 5000), ("::ffff:127.0.0.1", 1)]:
        assert is_loopback(client)
        assert _asgi(guard, "/resourcez", client)[0] == 200
    assert not is_loopback(("0.0.0.0", 1)) and not is_loopback(("example.org", 1))

    class App:  # a started Starlette app: the built middleware stack gets wrapped, once
        def __init__(self) -> None:
            self.middleware_stack = inner

    app = App()
    assert install(app) and not install(app)
    assert isinstance(app.middleware_stack, Guard) and app.middleware_stack.app is inner
