"""Drive the dashboard in a real browser: the one place that knows how to click it.

The browser tests, the speed benchmark and the screenshots in ``docs/classroom.md`` all use
these helpers, so a documented screenshot is made by exactly the code the tests run::

    python -m sim.dashboard.drive --docs docs/img     # regenerate the lesson screenshots

Only Playwright's sync API is used, against Debian's Chromium (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.dashboard import assets
from sim.dashboard.app import CONTROL_SPECS, MODEL_PARAMS
from sim.dashboard.labels import display
from sim.dashboard.lessons import LESSONS
from sim.dashboard.serve import server_command, server_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREEN = {"width": 1366, "height": 768}  # a school projector: everything must fit
VIEWPORT = SCREEN
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SERVERS: list[int] = []


def last_server_pid() -> int:
    """The process id of the server :func:`running_server` started last (for the benchmark)."""
    return _SERVERS[-1]


@contextlib.contextmanager
def running_server(
    assets_dir: Path | None, port: int | None = None, log: Path | None = None
) -> Iterator[str]:
    """Start ``orgsim-dashboard``'s server on a free loopback port; yield its URL; stop it.

    The server runs in its own process group so that stopping it stops solara's workers too."""
    port = port or free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        server_command("127.0.0.1", port),
        env=server_env(assets_dir),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    _SERVERS.append(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dashboard server exited with {proc.returncode} (log: {log})")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dashboard server not up after 60 s (log: {log})")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if out is not subprocess.DEVNULL:
            out.close()


# --- one browser tab ----------------------------------------------------------------------------


@dataclass
class Tab:
    """A dashboard page in its own browser context, recording what must not happen: requests
    to any host but the loopback one (blocked: proof of offline operation) and console errors."""

    page: Page
    context: BrowserContext
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    # readouts -----------------------------------------------------------------------------------
    def text(self, test_id: str) -> str:
        return self.page.get_by_test_id(test_id).first.inner_text(timeout=15_000)

    def number(self, test_id: str) -> float:
        """The number in a readout such as ``Week: 12`` or ``Performance: 0.734``."""
        return float(self.text(test_id).split(":")[1])

    def step(self) -> int:
        """The week counter."""
        return int(self.number("week"))

    def wait_step(self, n: int, timeout: float = 20_000) -> None:
        self.page.get_by_test_id("week").filter(has_text=re.compile(rf"^Week: {n}$")).wait_for(
            timeout=timeout
        )

    def last_point(self, chart: str, org: str = "A", column: str | None = None) -> float:
        """The last value drawn in ``chart``'s line of organisation ``org``."""
        sel = f"[data-testid={chart}-chart] polyline[data-org={org}]"
        if column:
            sel += f"[data-col={column}]"
        return float(self.page.locator(sel).first.get_attribute("data-last") or "nan")

    # controls -----------------------------------------------------------------------------------
    def button(self, name: str) -> Any:
        return self.page.get_by_role("button", name=name, exact=True)

    def click_step(self, times: int = 1) -> int:
        """Press Step ``times`` times, each time waiting for the week counter to move."""
        n = self.step()
        for _ in range(times):
            self.button("Step").click()
            n += 1
            self.wait_step(n)
        return n

    def play(self) -> None:
        self.button("▶ Play").click()
        self.button("❚❚ Pause").wait_for(timeout=10_000)

    def pause(self) -> None:
        self.button("❚❚ Pause").click()
        self.button("▶ Play").wait_for(timeout=10_000)

    def wait_paused(self, timeout: float = 60_000) -> None:
        """Wait until Play has stopped (by itself, at "run to week")."""
        self.button("▶ Play").wait_for(timeout=timeout)

    def reset(self) -> None:
        """Press Reset: the settings take effect and the run restarts at week 0."""
        self.button("Reset").click()
        self.page.wait_for_timeout(300)

    def shock(self) -> None:
        self.button("Shock now").click()

    def preset(self, key: str) -> None:
        """Click the one-click preset of lesson ``key`` (see :mod:`sim.dashboard.lessons`)."""
        number = list(LESSONS).index(key) + 1
        self.page.get_by_test_id("presets").get_by_role("button", name=str(number)).click()
        self.wait_step(0)

    def field(self, name: str) -> Any:
        """The input (its box: label, value, widget) of setting or control ``name``."""
        return self.page.get_by_test_id(f"field-{name}")

    def select(self, name: str, value: str) -> None:
        """Choose ``value`` (a config name) in the drop-down of model parameter ``name``."""
        self.field(name).locator(".v-select__slot").click()
        menu = self.page.locator(".menuable__content__active")
        menu.get_by_role("option", name=display(value), exact=True).click()
        menu.wait_for(state="hidden", timeout=5_000)

    def slide(self, name: str, value: float) -> None:
        """Move the slider of ``name`` to ``value`` with the keyboard, as a student could
        (Home, then one arrow press per slider step)."""
        spec = {**MODEL_PARAMS, **CONTROL_SPECS}[name]
        thumb = self.field(name).get_by_role("slider")
        thumb.focus()
        if value == spec["max"]:
            thumb.press("End")
            return
        thumb.press("Home")
        for _ in range(round((value - spec["min"]) / spec["step"])):
            thumb.press("ArrowRight")

    def type_in(self, name: str, text: str) -> None:
        """Type ``text`` into the text field of ``name`` and confirm it."""
        box = self.field(name).locator("input")
        box.fill(text)
        box.press("Enter")

    def value(self, name: str) -> str:
        """The text shown in the text field of ``name``."""
        return self.field(name).locator("input").input_value()

    def wait_value(self, name: str, text: str, timeout: float = 10_000) -> str:
        """The text field of ``name`` once it shows ``text`` (or what it shows at the timeout)."""
        box = self.field(name).locator("input")
        deadline = time.monotonic() + timeout / 1000
        while box.input_value() != text and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
        return str(box.input_value())

    def shown(self, name: str) -> str:
        """The value a slider shows next to its label."""
        return self.page.get_by_test_id(f"value-{name}").inner_text()

    def wait_shown(self, name: str, text: str, timeout: float = 10_000) -> None:
        """Wait until the slider of ``name`` shows ``text`` (the server has taken the value)."""
        value = self.page.get_by_test_id(f"value-{name}")
        value.filter(has_text=re.compile(rf"^{re.escape(text)}$")).wait_for(timeout=timeout)

    def apply(self, settings: dict[str, Any]) -> None:
        """Set several parameters (by ClassroomRace keyword) and press Reset."""
        if settings.get("mode") == "side by side":  # B's fields appear in this mode only
            self.select("mode", "side by side")
        for name, value in settings.items():
            kind = MODEL_PARAMS[name]["type"]
            if kind == "Select":
                self.select(name, str(value))
            elif kind == "InputText":
                self.type_in(name, str(value))
            else:
                self.slide(name, value)
        self.reset()
        self.wait_step(0)

    def close(self) -> None:
        self.context.close()


def open_tab(browser: Browser, url: str, viewport: dict[str, int] | None = None) -> Tab:
    """Open the dashboard in a fresh browser context (its own cookies: its own session)."""
    context = browser.new_context(viewport=viewport or VIEWPORT)
    tab = Tab(page=context.new_page(), context=context)

    def gate(route: Any) -> None:
        if LOOPBACK.match(route.request.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            tab.outside.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    tab.page.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.page.goto(url)
    tab.wait_step(0, timeout=60_000)
    return tab


# --- lesson scenarios and their screenshots -----------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A screenshot of the docs: a lesson's preset run to its last week (its shock scheduled),
    or plain settings with ``before`` steps, a shock and ``after`` steps."""

    name: str
    lesson: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    before: int = 15
    after: int = 10


SCENARIOS: dict[str, Scenario] = {
    **{key: Scenario(key, lesson=key) for key in LESSONS},
    "one-organisation": Scenario("one-organisation", settings={"org": "adhocracy"}),
}


def run_lesson(tab: Tab, key: str, fast: bool = True) -> None:
    """One click on the lesson's preset, then Play to its last week (at the fastest pace if
    ``fast``); the shock lands on its scheduled week."""
    tab.preset(key)
    if fast:
        tab.slide("pace", CONTROL_SPECS["pace"]["max"])
    tab.play()
    tab.wait_paused()
    tab.wait_step(LESSONS[key].run_to)


def run_scenario(tab: Tab, scenario: Scenario) -> None:
    """Run a scenario in ``tab`` (deterministic: presets and steps, the same seed)."""
    if scenario.lesson:
        run_lesson(tab, scenario.lesson)
        return
    tab.apply(scenario.settings)
    tab.click_step(scenario.before)
    tab.shock()
    tab.page.get_by_test_id("shocks").filter(has_text="Shocks: 1").wait_for()
    tab.click_step(scenario.after)


def capture(tab: Tab, scenario: Scenario, path: Path) -> Path:
    """Run ``scenario`` in ``tab`` and save a screenshot of the page (1366x768) to ``path``."""
    run_scenario(tab, scenario)
    tab.page.wait_for_timeout(400)  # let the last redraw land
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(path))
    return path


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the dashboard screenshots of the docs.")
    parser.add_argument("--docs", type=Path, default=Path("docs/img"), help="output folder")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args(argv)
    cache = assets.fetch()
    with running_server(cache) as url, chromium() as browser:
        for name in args.scenarios:
            tab = open_tab(browser, url)
            path = capture(tab, SCENARIOS[name], args.docs / f"classroom-{name}.png")
            tab.close()
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
