"""How many steps per second Play keeps in a real browser (issue 5: at least 10 with defaults).

Starts the dashboard server exactly as ``orgsim-dashboard`` does (offline assets), opens it in
Debian's headless Chromium, presses Play and reads the page's own "Step: N" readout at the start
and the end of each measuring window, so the number counts steps that were drawn in the browser,
not steps the server computed. Every view is redrawn on every step (render interval 1).

    python benchmarks/dashboard_speed.py                 # 10 s per mode, both modes
    python benchmarks/dashboard_speed.py --seconds 30 --size 100
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from sim.dashboard import assets, drive


def measure(tab: drive.Tab, seconds: float, warmup: float = 1.0) -> float:
    """Steps per second drawn during Play, after ``warmup`` seconds."""
    tab.play()
    tab.page.wait_for_timeout(warmup * 1000)
    s0, t0 = tab.step(), time.perf_counter()
    tab.page.wait_for_timeout(seconds * 1000)
    s1, t1 = tab.step(), time.perf_counter()
    tab.pause()
    return (s1 - s0) / (t1 - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per mode")
    parser.add_argument("--size", type=int, default=48, help="employees per organisation")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    cache = assets.fetch()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; viewport {drive.VIEWPORT}"
    )
    with drive.running_server(cache) as url, drive.chromium() as browser:
        tab = drive.open_tab(browser, url)
        for mode in ("one organisation", "side by side"):
            tab.apply({"mode": mode, "size": args.size})
            for _ in range(args.repeats):
                rate = measure(tab, args.seconds)
                print(f"{mode:>17}, {args.size} employees: {rate:5.1f} steps/s drawn")
        assert not tab.outside, tab.outside
        tab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
