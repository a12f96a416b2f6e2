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
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import psutil

from sim.dashboard import assets, drive


def server_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, resident MB) of the server process and its children."""
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


def measure(
    browser, url: str, pid: int, pages: int, seconds: float, hidden: int = 0
) -> dict[str, float]:
    """One row of the table; ``hidden`` of the pages play as background tabs (they take every
    week but draw none): the server's load is the same, the test browser's far lower."""
    tabs = [drive.open_tab(browser, url, drive.SCREEN) for _ in range(pages)]
    for tab in tabs[:hidden]:
        tab.page.evaluate(HIDE)
    for tab in tabs:
        tab.button("▶ Play").dispatch_event("click")
    for tab in tabs:
        tab.button("❚❚ Pause").wait_for(timeout=120_000)
    for tab in tabs:
        tab.page.evaluate(WEEK_LOG)
    time.sleep(2.0)  # every page playing
    cpu0, _ = server_usage(pid)
    t0 = time.time()
    time.sleep(seconds)
    cpu1, rss = server_usage(pid)
    t1 = time.time()
    rates = [rate_between(tab.page.evaluate("window.__weeks"), t0, t1) for tab in tabs]
    steps = sum(rates) * (t1 - t0)
    result = {
        "pages": pages,
        "cpu_ms_per_step": 1000 * (cpu1 - cpu0) / max(1.0, steps),
        "server_cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "steps_per_s_mean": sum(rates) / len(rates),
        "steps_per_s_min": min(rates),
        "server_mb": rss,
    }
    print(f"  {pages} pages: {result}", flush=True)
    # Pause under load: the other pages keep playing while a sample of pages pauses
    latencies = [pause_latency(tab) for tab in tabs[-min(5, pages) :]]
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
    args = parser.parse_args(argv)
    cache = assets.fetch()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print("pages | server CPU ms/drawn step | server CPU (cores) | steps/s per page mean (min) "
          "| Pause max s | server MB")  # fmt: skip
    with drive.running_server(cache) as url, drive.chromium() as browser:
        pid = drive.last_server_pid()
        for n in args.pages:
            r = measure(browser, url, pid, n, args.seconds, min(args.hidden, max(0, n - 5)))
            print(
                f"{n:5d} | {r['cpu_ms_per_step']:6.2f} | {r['server_cpu_share']:5.2f} | "
                f"{r['steps_per_s_mean']:5.2f} ({r['steps_per_s_min']:.2f}) | "
                f"{r['pause_s_max']:5.2f} | {r['server_mb']:6.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
