"""The classroom dashboard in a real headless Chromium (issues 5, 10 and 12).

The server is the one ``orgsim-dashboard`` starts (``solara run`` on sim/dashboard/app.py), on a
free loopback port, with the offline front-end files fetched once per test session. Every
request to a host other than the loopback one is blocked and recorded, and every tab must end
with none: that is the proof that the page works without a CDN. Console errors fail a test too.

Screenshots of both modes are saved to ``$ORGSIM_ARTIFACTS/dashboard`` (or pytest's tmp dir) by
:func:`sim.dashboard.drive.capture`, the same function that makes docs/img/classroom-*.png.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import require

drive = pytest.importorskip("sim.dashboard.drive")
import re  # noqa: E402

from sim.dashboard import assets  # noqa: E402
from sim.dashboard.lessons import LESSONS  # noqa: E402
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
    assert tab.shown("pace") == "4.0 weeks/s"  # a classroom pace by default
    tab.play()
    tab.page.wait_for_timeout(1500)
    tab.pause()
    tab.page.wait_for_timeout(300)  # a step in flight lands
    paused_at = tab.step()
    assert 3 + 3 <= paused_at <= 3 + 10, f"Play at 4 weeks/s for 1.5 s reached {paused_at}"
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
    assert "A: self-organisation / incremental" in tab.text("readouts")  # display names
    assert "self_organisation" not in tab.page.inner_text("body")
    assert fingerprint() != baseline


@browser
def test_shock_moves_optimum_and_is_marked(open_tab: Callable[[], drive.Tab], shots: Path) -> None:
    tab = open_tab()
    scenario = drive.SCENARIOS["one-organisation"]
    tab.apply(scenario.settings)
    tab.click_step(scenario.before)
    markers = tab.page.get_by_test_id("performance-chart").locator(".shock-marker")
    assert markers.count() == 0
    before = tab.number("optimum")
    tab.shock()
    tab.page.get_by_test_id("shocks").filter(has_text="Shocks: 1").wait_for()
    assert tab.number("optimum") != before, "the shock did not move the optimum"
    assert markers.count() == 1, "the shock is not marked on the performance plot"
    tab.click_step(scenario.after)
    assert markers.count() == 1
    assert markers.first.get_attribute("data-week") == str(scenario.before + 1)
    assert tab.page.locator("[data-testid=people-chart] .shock-marker").count() == 1
    tab.page.screenshot(path=str(shots / "classroom-one-organisation.png"))


@browser
def test_side_by_side_same_landscape(open_tab: Callable[[], drive.Tab]) -> None:
    tab = open_tab()
    tab.apply({"mode": "side by side", "org": "bureaucracy", "org_b": "self_organisation"})
    tab.click_step(4)
    text = tab.text("readouts")
    assert "A: bureaucracy / incremental" in text and "B: self-organisation / incremental" in text
    assert tab.page.locator("[data-testid=network] svg.network").count() == 2
    assert tab.page.locator("[data-testid=performance-chart] polyline.B").count() == 1
    assert tab.page.locator("[data-testid=way-of-working] .differ").count() == 2


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
    assert tab.wait_value("seed", "0") == "0", "the refused seed is still shown"
    tab.type_in("size", "1")
    tab.page.get_by_text("Organisation size must be a whole number").wait_for(timeout=10_000)
    assert tab.wait_value("size", "48") == "48"
    tab.type_in("run_to", "0")
    tab.page.get_by_text("Run to week must be a whole number").wait_for(timeout=10_000)
    tab.type_in("size", "60")
    tab.page.get_by_text("Not accepted").wait_for(state="detached", timeout=10_000)
    tab.apply({"complexity": 11})
    assert tab.click_step(2) == 2  # the server survived and the valid settings run
    tab.play()
    tab.page.wait_for_timeout(800)
    tab.pause()
    assert tab.step() > 2, "Play did not run after the refused values"
    assert open_tab().step() == 0  # and it still serves new sessions


@browser
def test_a_malformed_value_over_the_websocket_gives_a_message(
    chromium_browser, dashboard_url: str
) -> None:
    """Issue 10: what reaches the server is checked, not only what the page's widgets can send.
    A slider's value is replaced by ``"abc"`` in the page's real websocket message (as a crafted
    script could send it); the page shows a message, never a traceback or a server path, the
    setting keeps its value and the tab stays usable."""
    tampered: list[dict] = []
    armed = threading.Event()

    def corrupt(message: str | bytes) -> str | bytes:
        """The first slider update sent while armed, with its value made a string."""
        if not armed.is_set() or not isinstance(message, str):
            return message
        try:
            msg = json.loads(message)
        except ValueError:
            return message
        data = (msg.get("content") or {}).get("data") or {} if isinstance(msg, dict) else {}
        state = data.get("state") if data.get("method") == "update" else None
        if not isinstance(state, dict) or not isinstance(state.get("v_model"), int | float):
            return message
        state["v_model"] = "abc"
        tampered.append(state)
        armed.clear()
        return json.dumps(msg)

    def route(ws) -> None:  # the page's websocket, still connected to the real server
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(corrupt(message)))

    context = chromium_browser.new_context(viewport=drive.VIEWPORT)
    tab = drive.Tab(page=context.new_page(), context=context)
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.page.route_web_socket(re.compile(".*"), route)
    try:
        tab.page.goto(dashboard_url)
        tab.wait_step(0, timeout=60_000)
        before = tab.shown("complexity")
        armed.set()
        tab.field("complexity").get_by_role("slider").focus()
        tab.field("complexity").get_by_role("slider").press("End")
        tab.page.get_by_text("Not accepted").first.wait_for(timeout=15_000)
        assert tampered == [{"v_model": "abc"}], "no slider update went over the websocket"
        shown = tab.page.inner_text("body")  # what the student sees
        assert "Traceback" not in shown and "site-packages" not in shown and ".py" not in shown
        assert tab.shown("complexity") == before, "the refused value was taken"
        # the tab is still usable: a real slider move, Reset and steps
        tab.slide("complexity", 3)
        tab.wait_shown("complexity", "3 (0-11)")
        tab.reset()
        tab.wait_step(0)
        assert tab.click_step(2) == 2
        assert tab.errors == [], f"page errors: {tab.errors[:3]}"
    finally:
        context.close()


# --- issue 12: the dashboard as a teacher meets it -----------------------------------------------


def docs_numbers() -> dict[str, tuple[int, float, float]]:
    """Per lesson: (week, performance A, performance B) as docs/classroom.md quotes them."""
    guide = (DOCS_IMG.parent / "classroom.md").read_text(encoding="utf-8")
    found = re.findall(
        r"`\?lesson=([a-z-]+)`[^`]*?Seed 0, week (\d+):\s+performance A ([0-9]\.[0-9]+), B ([0-9]\.[0-9]+)",
        guide,
    )
    return {key: (int(w), float(a), float(b)) for key, w, a, b in found}


def test_docs_quote_every_lesson_and_the_model_gives_those_numbers() -> None:
    """The numbers in docs/classroom.md are what the lesson's schedule gives (no browser)."""
    from sim.dashboard.app import DEFAULTS
    from sim.dashboard.session import Session

    numbers = docs_numbers()
    assert sorted(numbers) == sorted(LESSONS)
    for key, lesson in LESSONS.items():
        session = Session({**DEFAULTS, **lesson.settings})
        session.shock_at, session.run_to = lesson.shock_at, lesson.run_to
        while not session.at_target():
            session.step()
        week, a, b = numbers[key]
        assert session.week == week == lesson.run_to
        got = (
            round(session.race.orgs["A"].performance, 3),
            round(session.race.orgs["B"].performance, 3),
        )
        assert got == (a, b), key
        expected_shocks = [lesson.shock_at] if lesson.shock_at else []
        assert session.race.shock_steps == expected_shocks


@browser
def test_sliders_show_values_and_changes_are_marked_until_reset(
    open_tab: Callable[[], drive.Tab],
) -> None:
    from sim.dashboard.app import CONTROL_SPECS, MODEL_PARAMS
    from sim.dashboard.inputs import shown_value

    tab = open_tab()
    sliders = {n: s for n, s in {**MODEL_PARAMS, **CONTROL_SPECS}.items() if "Slider" in s["type"]}
    for name, spec in sliders.items():
        assert tab.shown(name) == shown_value(spec, spec["value"]), name
    assert tab.shown("turbulence") == "0.02 per week"
    assert tab.page.get_by_test_id("pending").count() == 0
    tab.click_step(2)
    tab.slide("turbulence", 0.1)
    tab.wait_shown("turbulence", "0.10 per week")
    tab.page.get_by_test_id("pending").filter(has_text="Turbulence").wait_for(timeout=10_000)
    assert "Changes apply on Reset" in tab.text("pending")
    assert "orgsim-changed" in (tab.field("turbulence").get_attribute("class") or "")
    assert tab.click_step(1) == 3  # the run goes on with the old settings
    tab.reset()
    tab.wait_step(0)
    tab.page.get_by_test_id("pending").wait_for(state="detached", timeout=10_000)
    assert "orgsim-changed" not in (tab.field("turbulence").get_attribute("class") or "")
    assert tab.shown("turbulence") == "0.10 per week"


@browser
def test_lesson_preset_and_shared_link_reproduce_the_docs(
    open_tab: Callable[[], drive.Tab], dashboard_url: str, chromium_browser, shots: Path
) -> None:
    """One click on lesson 1, Play: stops at week 40 exactly, the shock lands at week 20, the
    numbers are the docs'; the readout equals the chart's last point; the shared link gives
    the same run in another browser; the page fits 1366x768 without scrolling."""
    numbers = docs_numbers()
    tab = open_tab()
    drive.run_lesson(tab, "stale-plan")  # preset, pace 30 weeks/s, Play until it stops
    tab.page.wait_for_timeout(1200)
    assert tab.step() == 40, "Run to week 40 did not stop at 40"
    week, a, b = numbers["stale-plan"]
    assert (tab.number("performance-A"), tab.number("performance-B")) == (a, b)
    marks = tab.page.locator("[data-testid=performance-chart] .shock-marker")
    assert marks.count() == 1 and marks.first.get_attribute("data-week") == "20"
    for org in ("A", "B"):  # one meaning per number: readout = the chart's last point
        assert round(tab.last_point("performance", org), 3) == tab.number(f"performance-{org}")
        line = tab.page.locator(f"[data-testid=performance-chart] polyline[data-org={org}]")
        assert line.first.get_attribute("data-last-week") == "40"
    _assert_fits(tab)
    tab.page.screenshot(path=str(shots / "classroom-stale-plan.png"))

    link = tab.page.get_by_test_id("share-link").input_value()
    assert "run_to=40" in link and "shock_at=20" in link and "strategy=planning" in link
    other = drive.open_tab(chromium_browser, link, drive.SCREEN)
    try:
        other.play()
        other.wait_paused()
        other.wait_step(40)
        assert (other.number("performance-A"), other.number("performance-B")) == (a, b)
        assert other.outside == [] and other.errors == []
    finally:
        other.close()


def _assert_fits(tab: drive.Tab) -> None:
    """Charts, network, way of working, controls and settings inside 1366x768, no scrolling."""
    size = drive.SCREEN
    ids = ["performance-chart", "people-chart", "ideas-chart", "network", "way-of-working"]
    ids += ["week", "readouts", "presets", "share-link"]
    ids += [f"field-{name}" for name in ("pace", "run_to", "shock_at")]
    ids += [f"field-{name}" for name in drive.MODEL_PARAMS]
    for test_id in ids:
        box = tab.page.get_by_test_id(test_id).first.bounding_box()
        assert box is not None, f"{test_id} not shown"
        assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1, test_id
        assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1, test_id
    for name in ("Reset", "▶ Play", "Step", "Shock now"):
        box = tab.button(name).bounding_box()
        assert box and box["y"] + box["height"] <= size["height"], name
    scroll = tab.page.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")
    assert scroll[0] <= scroll[1], f"the page scrolls: {scroll}"
    clipped = tab.page.evaluate(
        """() => Array.from(document.querySelectorAll('.orgsim-label, .v-label, .v-btn__content'))
             .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)
             .map(e => e.textContent)"""
    )
    assert clipped == [], f"truncated labels: {clipped}"


@browser
def test_reload_keeps_the_run_and_export(open_tab: Callable[[], drive.Tab]) -> None:
    tab = open_tab()
    tab.click_step(5)
    before = tab.text("performance-A")
    tab.page.reload()
    tab.wait_step(5, timeout=30_000)
    assert tab.text("performance-A") == before
    assert tab.click_step(1) == 6
    with tab.page.expect_download() as got:
        tab.page.get_by_test_id("export-csv").click()
    lines = Path(got.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("organisation,label,week,performance")
    assert len(lines) == 1 + 6 and lines[-1].startswith("A,") and ",6," in lines[-1]
    with tab.page.expect_download() as got:
        tab.page.get_by_test_id("export-png").click()
    png = Path(got.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


@browser
def test_about_panel_and_bad_link(open_tab: Callable[[], drive.Tab], dashboard_url: str) -> None:
    tab = open_tab()
    tab.button("About this model").click()
    about = tab.text("about")
    assert "What to notice" in about and "Things to try" in about
    for lesson in LESSONS.values():
        assert lesson.title in about
    bad = drive.open_tab(tab.context.browser, dashboard_url + "?turbulence=abc&nope=1&run_to=-3")
    try:
        text = bad.page.locator(".input-notice").inner_text()
        assert "Link not fully understood" in text and "turbulence" in text and "nope" in text
        assert "Traceback" not in bad.page.inner_text("body")
        assert bad.shown("turbulence") == "0.02 per week" and bad.click_step(1) == 1
    finally:
        bad.close()


@browser
def test_missing_front_end_files_give_a_message(chromium_browser) -> None:
    """Served without the offline files, a browser without internet shows what to do."""
    with drive.running_server(None) as url:
        context = chromium_browser.new_context(viewport=drive.SCREEN)
        try:
            page = context.new_page()
            page.route(
                "**/*",
                lambda r: r.continue_() if drive.LOOPBACK.match(r.request.url) else r.abort(),
            )
            page.goto(url)
            box = page.locator("#orgsim-missing-files")
            box.wait_for(timeout=40_000)
            assert "orgsim-dashboard --setup-offline" in box.inner_text()
        finally:
            context.close()


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
    """docs/classroom.md shows one screenshot per lesson, made at 1366x768 by drive.capture
    (``python -m sim.dashboard.drive --docs docs/img``)."""
    import struct

    guide = (DOCS_IMG.parent / "classroom.md").read_text(encoding="utf-8")
    for name in (*LESSONS, "one-organisation"):
        assert name in drive.SCENARIOS
        assert f"img/classroom-{name}.png" in guide
        path = DOCS_IMG / f"classroom-{name}.png"
        assert path.stat().st_size > 10_000
        width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG's IHDR
        assert (width, height) == (drive.SCREEN["width"], drive.SCREEN["height"]), name


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


def test_feed_sends_each_row_once_and_drops_frames_while_the_page_draws() -> None:
    from sim.dashboard.feed import Feed, column

    race = ClassroomRace()
    feed = Feed(race)
    feed.window = 2
    race.step()
    first = feed.frame()
    assert first and first["start"] == 0 and column(first["rows"]["A"], "step") == [1]
    race.step()
    second = feed.frame()
    assert second and second["start"] == 1 and column(second["rows"]["A"], "step") == [2]
    race.step()
    assert feed.frame() is None and feed.dropped == 1  # two in flight: dropped, not queued
    race.step()
    assert feed.acknowledge([feed.run, 2, 2])
    third = feed.frame()
    assert third and third["start"] == 2 and column(third["rows"]["A"], "step") == [3, 4]
    assert third["live"]["week"] == 4 and "edges" in third["live"]["orgs"]["A"] or True
    feed.resend_all()  # a reloaded page: everything again
    again = feed.frame()
    assert again and again["start"] == 0 and len(again["rows"]["A"]) == 4


def test_session_lands_shock_and_stops_at_the_week_set() -> None:
    from sim.dashboard.app import DEFAULTS
    from sim.dashboard.session import Session

    session = Session(DEFAULTS)
    session.shock_at, session.run_to, session.pace = 5, 9, 30.0
    for _ in range(3):
        session.step()
    assert session.play(session.owner, lambda: True) == "Stopped at week 9, as set in Run to week."
    assert session.week == 9 and session.race.shock_steps == [5]
    assert history(session.race.orgs["A"])["shock"][4] == 1  # row of week 5
    assert session.play(session.owner, lambda: True) and session.week == 9  # stays at 9
    session.params = {**DEFAULTS, "turbulence": 0.1}
    assert session.pending == ["turbulence"]
    session.reset()
    assert session.pending == [] and session.week == 0


def test_links_are_checked_like_inputs() -> None:
    from sim.dashboard.app import DEFAULTS, MODEL_PARAMS
    from sim.dashboard.inputs import check
    from sim.dashboard.session import Session, link_query, parse_query

    sliders = {n for n, s in MODEL_PARAMS.items() if "Slider" in s["type"]}

    def parse(query: str) -> tuple[dict, dict, list[str]]:
        return parse_query(
            query, DEFAULTS, lambda n, v: check(n, MODEL_PARAMS[n], v), sliders.__contains__
        )

    params, extras, problems = parse("lesson=tangled-problem&pace=30")
    assert params["complexity"] == 9 and params["org_b"] == "self_organisation"
    assert extras == {"run_to": 40, "shock_at": 20, "pace": 30.0} and problems == []
    session = Session(params)
    session.run_to, session.shock_at = 40, 20
    again, extras2, _ = parse(link_query(session, DEFAULTS))
    assert again == params and extras2 == {"run_to": 40, "shock_at": 20}
    bad = [
        "turbulence=abc", "turbulence=9", "complexity=1e400", "mode=x", "seed=-1", "size=4.5",
        "run_to=0", "shock_at=abc", "pace=nan", "pace=99", "lesson=nope", "what=1",
        "turbulence=" + "1" * 50, "x" * 3000,
    ]  # fmt: skip
    for query in bad:
        params, _, problems = parse(query)
        assert problems and all("Traceback" not in p and len(p) < 200 for p in problems), query
        assert params == DEFAULTS, query


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


def test_race_shock_and_feed_refuse_malformed_values() -> None:
    from sim.config import ConfigError

    race = ClassroomRace()
    race.step()
    optimum = race.orgs["A"].problem.optimum_value
    for bad in ["abc", math.nan, math.inf, -0.1, 2, True, [0.5]]:
        with pytest.raises(ConfigError, match="shock share must be a number"):
            race.shock(bad)  # type: ignore[arg-type]
    assert race.shock_steps == [] and race.orgs["A"].problem.optimum_value == optimum
    from sim.dashboard.feed import Feed

    feed = Feed(race)
    assert feed.frame() is not None
    run = feed.run
    for bad in ["abc", None, -1, 10**9, 1.0, True, [run, 1], [run, 2, 1], [run, 1, 99],
                [run + 1, 1, 1], [run, True, 1], {"a": 1}, "xyz"]:  # fmt: skip
        assert feed.acknowledge(bad) is False, bad
    assert feed.acked == 0 and feed.acknowledge([run, 1, 1]) and feed.acked == 1


def test_page_inputs_refuse_malformed_values_and_keep_the_last_valid_one() -> None:
    """Every input of the page (model parameters and the speed), fed what only a crafted
    websocket message could send: a message, the previous value kept and shown again."""
    import ipyvuetify as v
    import solara

    from sim.dashboard.app import CONTROL_SPECS, DEFAULTS, MODEL_PARAMS
    from sim.dashboard.inputs import Inputs

    specs = {**MODEL_PARAMS, **CONTROL_SPECS}
    values = solara.reactive({**DEFAULTS, "pace": 4.0, "run_to": None, "shock_at": None})
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
        if name in ("run_to", "shock_at"):  # blank is valid there: no week set
            bad_values = [b for b in bad_values if b not in ("", None)] + [0, "0", 5001]
        find = {"attributes": {"aria-label": spec["label"]}} if kind is v.Slider else {}
        find = find or {"label": spec["label"]}
        for bad in bad_values:
            kept = dict(values.value)
            widget = rc.find(kind, **find).widget
            widget.v_model = bad
            if kind is v.TextField:
                widget.fire_event("keyup.enter", None)
            assert notice.value and notice.value.startswith("Not accepted"), (name, bad)
            assert spec["label"] in notice.value and "Traceback" not in notice.value
            assert values.value == kept, (name, bad)
            shown = rc.find(kind, **find).widget.v_model
            text = "" if kept[name] is None else str(kept[name])
            assert shown == (text if kind is v.TextField else kept[name]), (name, bad)
            notice.set(None)
    good = rc.find(v.Slider, attributes={"aria-label": MODEL_PARAMS["turbulence"]["label"]}).widget
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
