"""Server cost of the classroom dashboard with 1, 10 and 30 pages playing (issue 12).

Starts the dashboard server exactly as ``orgsim-dashboard`` does (offline assets), opens N pages
in Debian's headless Chromium (each its own browser context: its own session and run), presses
Play in all of them at the default pace, and measures over a window:

* server CPU per drawn step: the server process's CPU time (with its children) divided by the
  weeks the pages show as drawn (each page's own week counter, read at both ends of the window);
* the pages' steps per second (mean, min);
* Pause latency: from the click on Pause to the page showing Play again (timed in the page),
  and the week counter then staying put (five pages, while the others keep playing);
* the server's memory (resident set, with children) at the end.

    python benchmarks/dashboard_speed.py                      # 1, 10 and 30 pages, 20 s each
    python benchmarks/dashboard_speed.py --pages 1 --seconds 10
    python benchmarks/dashboard_speed.py --pages 30 --nice-others

``--nice-others`` emulates the students' browsers running on their own laptops: the pages that
only play (all but the five that time Pause) run in a second Chromium at the lowest CPU priority
(its own scheduler autogroup set to nice 19, and each process niced 19), so they take only the
CPU the server and the five timing pages leave. Their steps per second are reported separately:
if they were starved the server's load would fall and flatter it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from sim.dashboard import assets, drive


def server_usage(pid: int | None) -> tuple[float, float]:
    """(CPU seconds, resident MB) of process ``pid`` (the server, a browser) and its children."""
    if pid is None:
        return 0.0, 0.0
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    cpu = rss = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return cpu, rss / 2**20


PAUSE_IN_PAGE = """async () => {
  const find = (word) => [...document.querySelectorAll("button")].find((b) => b.textContent.includes(word));
  const t0 = performance.now();
  find("Pause").click();
  return await new Promise((resolve) => {
    const check = () => (find("Play") ? resolve(performance.now() - t0) : setTimeout(check, 5));
    check();
  });
}"""


#: Each page logs (wall-clock ms, week shown) every 200 ms, so the rate comes from the page's own
#: timestamps: reading thirty starved pages one after another takes minutes, which would distort
#: a rate read from outside.
WEEK_LOG = """() => {
  window.__weeks = [];
  setInterval(() => {
    const e = document.querySelector("[data-testid=week]");
    const board = document.querySelector(".orgsim-live");
    const week = document.hidden
      ? parseInt(board.getAttribute("data-received-week") || "0", 10)
      : parseInt(e.textContent.split(":")[1], 10);
    window.__weeks.push([Date.now(), week]);
  }, 200);
}"""
#: Makes a page hidden, as a background tab is: the board keeps taking (and acknowledging) the
#: weeks but draws nothing, so the server's load is the same and the test browser's is not.
HIDE = """() => {
  Object.defineProperty(document, "hidden", { value: true, configurable: true });
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def rate_between(log: list[list[float]], t0: float, t1: float) -> float:
    """Weeks per second shown by a page between wall-clock times ``t0`` and ``t1`` (s), from its
    log's samples nearest inside the window."""
    inside = [(t / 1000, w) for t, w in log if t0 <= t / 1000 <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def pause_latency(tab: drive.Tab) -> float:
    """Seconds from the click on Pause until the page shows Play, timed inside the page (so a
    starved test browser's own click handling is not counted); then the week must stay put."""
    latency = float(tab.page.evaluate(PAUSE_IN_PAGE)) / 1000
    shown = tab.step()
    tab.page.wait_for_timeout(600)
    assert tab.step() == shown, "the run moved after Pause"
    return latency


#: Chromium started through this script: it records its process id (``exec`` keeps it), and for
#: the load browser lowers its priority. Playwright starts the browser in a new session, and so in
#: a new scheduler autogroup (``/proc/sys/kernel/sched_autogroup_enabled``): between autogroups
#: the CPU is shared by the group's nice value, not the processes', so ``nice`` alone would not
#: yield the CPU to the server (which runs in its own session too); the group's nice is set first.
WRAPPER = """#!/bin/sh
echo $$ > "{pid_file}"
{lower}
exec /usr/bin/env {nice} "{chromium}" "$@"
"""
LOWER = "echo 19 > /proc/self/autogroup 2>/dev/null || true"


@dataclass
class Browser:
    """A Chromium launched through :data:`WRAPPER`: the Playwright handle and its process id."""

    handle: Any
    pid_file: Path
    nice: bool

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def priorities(self) -> str:
        """The autogroups and nice values of its processes (proof the priority took)."""
        pid = self.pid
        if pid is None:
            return "?"
        seen: dict[str, int] = {}
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                group = Path(f"/proc/{p.pid}/autogroup").read_text().strip()
                key = f"{group}, process nice {p.nice()}"
            except (OSError, psutil.NoSuchProcess):
                continue
            seen[key] = seen.get(key, 0) + 1
        return "; ".join(f"{n} x {k}" for k, n in seen.items())


@contextlib.contextmanager
def browsers(nice_others: bool) -> Iterator[tuple[Browser, Browser]]:
    """(load browser, timing browser): the same normal Chromium, or with ``nice_others`` a
    lowest-priority one for the pages that only play and a normal one for the timing pages."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="orgsim-bench-") as tmp, sync_playwright() as pw:
        launched: list[Browser] = []

        def launch(name: str, nice: bool) -> Browser:
            script = Path(tmp) / f"{name}.sh"
            pid_file = Path(tmp) / f"{name}.pid"
            script.write_text(
                WRAPPER.format(
                    pid_file=pid_file,
                    lower=LOWER if nice else "",
                    nice="nice -n 19" if nice else "",
                    chromium=drive.CHROMIUM,
                )
            )
            script.chmod(script.stat().st_mode | stat.S_IXUSR)
            handle = pw.chromium.launch(
                executable_path=str(script), headless=True, args=drive.CHROMIUM_ARGS
            )
            launched.append(Browser(handle, pid_file, nice))
            return launched[-1]

        try:
            timing = launch("timing", nice=False)
            load = launch("load", nice=True) if nice_others else timing
            yield load, timing
        finally:
            for b in launched:
                b.handle.close()


def measure(
    load: Browser,
    timing: Browser,
    url: str,
    pid: int,
    pages: int,
    seconds: float,
    hidden: int = 0,
) -> dict[str, float]:
    """One row of the table; ``hidden`` of the pages play as background tabs (they take every
    week but draw none): the server's load is the same, the test browser's far lower. The last
    ``min(5, pages)`` pages (those that time Pause) are opened in ``timing``, the others in
    ``load`` (the same browser unless ``--nice-others``)."""
    timed = min(5, pages)
    tabs = [drive.open_tab(load.handle, url, drive.SCREEN) for _ in range(pages - timed)]
    tabs += [drive.open_tab(timing.handle, url, drive.SCREEN) for _ in range(timed)]
    for tab in tabs[:hidden]:
        tab.page.evaluate(HIDE)
    for tab in tabs:
        tab.button("▶ Play").dispatch_event("click")
    for tab in tabs:
        tab.button("❚❚ Pause").wait_for(timeout=120_000)
    for tab in tabs:
        tab.page.evaluate(WEEK_LOG)
    time.sleep(2.0)  # every page playing
    separate = load is not timing
    cpu0, _ = server_usage(pid)
    load0, _ = server_usage(load.pid) if separate else (0.0, 0.0)
    timing0, _ = server_usage(timing.pid)
    t0 = time.time()
    time.sleep(seconds)
    cpu1, rss = server_usage(pid)
    load1, _ = server_usage(load.pid) if separate else (0.0, 0.0)
    timing1, _ = server_usage(timing.pid)
    t1 = time.time()
    loadavg = os.getloadavg()[0]
    rates = [rate_between(tab.page.evaluate("window.__weeks"), t0, t1) for tab in tabs]
    steps = sum(rates) * (t1 - t0)
    loaders = rates[: pages - timed] or [0.0]
    result = {
        "pages": pages,
        "cpu_ms_per_step": 1000 * (cpu1 - cpu0) / max(1.0, steps),
        "server_cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "steps_per_s_mean": sum(rates) / len(rates),
        "steps_per_s_min": min(rates),
        "steps_per_s_total": sum(rates),
        "load_pages_steps_per_s_mean": sum(loaders) / len(loaders),
        "load_pages_steps_per_s_min": min(loaders),
        "timing_pages_steps_per_s_mean": sum(rates[pages - timed :]) / timed,
        "load_browser_cpu_share": (load1 - load0) / (t1 - t0),
        "timing_browser_cpu_share": (timing1 - timing0) / (t1 - t0),
        "load_average_1min": loadavg,
        "server_mb": rss,
    }
    print(f"  {pages} pages: {result}", flush=True)
    if separate:
        print(f"  load browser: {load.priorities()}", flush=True)
        print(f"  timing browser: {timing.priorities()}", flush=True)
    # Pause under load: the other pages keep playing while a sample of pages pauses
    latencies = [pause_latency(tab) for tab in tabs[-timed:]]
    print(f"  Pause latencies (s): {[round(x, 3) for x in latencies]}", flush=True)
    result["pause_s_max"] = max(latencies)
    for tab in tabs:
        assert not tab.outside, tab.outside
        tab.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[1, 10, 30])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window")
    parser.add_argument(
        "--hidden", type=int, default=0, help="pages (of each N) playing as background tabs"
    )
    parser.add_argument(
        "--nice-others",
        action="store_true",
        help="run the pages that only play in a second Chromium at the lowest CPU priority "
        "(as if on the students' own laptops); the five that time Pause stay at normal priority",
    )
    args = parser.parse_args(argv)
    cache = assets.fetch()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print("pages | server CPU ms/drawn step | server CPU (cores) | steps/s per page mean (min) "
          "| Pause max s | server MB")  # fmt: skip
    if args.nice_others:
        print("pages that only play: a second Chromium at the lowest CPU priority (nice 19)")
    with drive.running_server(cache) as url, browsers(args.nice_others) as (load, timing):
        pid = drive.last_server_pid()
        for n in args.pages:
            hidden = min(args.hidden, max(0, n - 5))
            r = measure(load, timing, url, pid, n, args.seconds, hidden)
            print(
                f"{n:5d} | {r['cpu_ms_per_step']:6.2f} | {r['server_cpu_share']:5.2f} | "
                f"{r['steps_per_s_mean']:5.2f} ({r['steps_per_s_min']:.2f}) | "
                f"{r['pause_s_max']:5.2f} | {r['server_mb']:6.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
