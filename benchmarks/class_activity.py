"""A class of thirty racing together (issue 13, "Performance"): what the server and the pages cost.

Issue 13 asks for "a 30-student race of 40 weeks on this 2-core machine: server CPU per week for
all organisations, the leaderboard's update rate, and the time from the teacher's shock to its
mark on every student's page". This script measures exactly that, end to end, with the server
the teacher runs:

* The server is ``orgsim-dashboard --class`` started as its own process (a free loopback port,
  a temporary results folder); the teacher's link is read from its stdout, and its CPU time
  (user + system, with its children, ``psutil``) is read before and after each race.
* The teacher's page (headless Debian Chromium, Playwright, 1366x768) opens the activity through
  its form (40 weeks, no planned shocks); N students join in real pages (small viewports, each
  its own browser context) through the join form and submit designs with the form's selects and
  sliders; the rest of the class (up to 30) are websocket clients speaking the pages' protocol
  (hello, join, design) and recording every message with its arrival time.
* The teacher presses Start, sets the pace, presses Play. Half a week (``--shock-phase``) after
  week 19 reached a websocket client the script clicks "Shock now" (timed inside the teacher's
  page); at week 30 Pause, and Play again 1.5 s later.

Measured, per pace (each pace is its own race of the same thirty designs, same server):

* **server CPU per week** (all thirty organisations stepped, the week message built and sent to
  31 pages) = server CPU while playing / weeks; and its ratio to the **model-only baseline**
  measured in this same run, in this process: the same thirty designs built with
  :class:`sim.classroom.activity.Activity`, the same shock pressed before week 20, stepped 40
  weeks (CPU per week of ``Activity.step`` alone, and with the week message serialised as the
  server does; and the shock week's step alone);
* **weeks per second achieved** against the pace asked (from one websocket client's arrival
  times and from the teacher's week counter, the paused interval left out) and the longest gap
  between two weeks;
* **the leaderboard's update rate**: re-renders of the teacher's leaderboard (MutationObserver
  batches on its rows) per second of play, and per week;
* **shock latency**: from the click on "Shock now" (``performance.timeOrigin + performance.now()``
  in the teacher's page) to the first ``[data-testid=shock-mark]`` in each student page (and the
  teacher's) by a MutationObserver with the same clock (all pages are on this machine, so the
  wall clocks compare), and to the arrival of the week message with ``shock: true`` at each
  websocket client (``time.time()``). A shock lands on the *coming* week (the week after the one
  being stepped, if the click arrives during a step), so this latency includes waiting for that
  week, whose step is longer (every model recomputes its landscape); the part after the week
  left the server (its first arrival anywhere to each page's mark) is reported as well;
* **Pause latency**: from the click on Pause to the Play button coming back (the server's
  answer, in the teacher's page), and whether any week still arrived after the click;
* **page lag**: for every week, each page's week counter update after that week's first
  arrival anywhere (a page or a websocket client; min, median and max over weeks and pages);
* the server's resident memory after each race.

    python benchmarks/class_activity.py                          # 30 students, paces 4, 10, 20
    python benchmarks/class_activity.py --pages 3 --paces 4 --students 30 --weeks 40

Writes nothing but a temporary results folder (removed at the end); prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.sync.client import connect

from sim.classroom.activity import LEVERS, Activity, check_setup
from sim.classroom.server import Classroom, dumps
from sim.dashboard import drive

FORMS = ("bureaucracy", "adhocracy", "self_organisation")
STRATEGIES = ("incremental", "planning", "hybrid")
STUDENT_VIEW = {"width": 480, "height": 800}  # a student's small laptop window or tablet


def design(i: int) -> dict[str, Any]:
    """Student ``i``'s design (levers on the sliders' 0.05 grid): varied, the same every run."""
    return {
        "org": FORMS[i % 3],
        "strategy": STRATEGIES[(i // 3) % 3],
        **{lever: round(((i * 7 + k * 3) % 9) / 10, 2) for k, lever in enumerate(LEVERS)},
    }


# --- the server as its own process ------------------------------------------------------------------
def server_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds user + system, resident MB) of the server process and its children."""
    root = psutil.Process(pid)
    cpu = rss = 0.0
    for p in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
    return cpu, rss / 2**20


@contextlib.contextmanager
def class_server(results_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``orgsim-dashboard --class`` on a free port; yields (process, the teacher's link)."""
    exe = Path(sys.executable).with_name("orgsim-dashboard")
    port = drive.free_port()
    cmd = [str(exe), "--class", "--port", str(port), "--results-dir", str(results_dir)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        link = ""
        seen: list[str] = []
        while not link:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the class server stopped: " + "".join(seen))
            seen.append(line)
            found = re.search(r"http://\S+/teacher\?key=\S+", line)
            link = found.group(0) if found else ""
        out = proc.stdout
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()  # drain
        for _ in range(200):  # the link is printed before uvicorn listens
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            time.sleep(0.05)
        yield proc, link
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- students without a browser ----------------------------------------------------------------------
class Bot:
    """A student's laptop without a browser: joins, designs, records each message's arrival."""

    def __init__(self, base: str, code: str, name: str, i: int) -> None:
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            connect(base.replace("http", "ws", 1) + "/ws", open_timeout=30)
        )
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.week_bytes = 0
        self.last_week = 0
        self.ws.send(json.dumps({"type": "hello", "role": "student", "code": code}))
        self.ws.send(json.dumps({"type": "join", "code": code, "name": name}))
        self.ws.send(json.dumps({"type": "design", "design": design(i)}))
        self.on_week: Any = None  # called (in this bot's thread) with each week number
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self) -> None:
        with contextlib.suppress(Exception):
            for text in self.ws:
                at = time.time()
                msg = json.loads(text)
                self.messages.append((at, msg))
                if msg.get("type") == "week":
                    self.week_bytes = len(text)
                    self.last_week = msg["week"]
                    if self.on_week is not None:
                        self.on_week(msg["week"])

    def of(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in list(self.messages) if m.get("type") == kind]

    def week_times(self) -> dict[int, float]:
        return {m["week"]: t for t, m in self.of("week")}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()


# --- in the pages ------------------------------------------------------------------------------------
#: Installed in every page before the race: timestamps (wall clock, ms, the page's own clock) of
#: each change of the week counter, each re-render of the leaderboard, the Play button's
#: enabled/disabled changes, and the first shock mark drawn (DOM, and the next animation frame).
OBSERVE = """() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = { week: [], board: [], play: [], shock: null, shockFrame: null };
  window.__bench = log;
  const week = document.querySelector('[data-testid=week]');
  new MutationObserver(() => log.week.push([now(), week.textContent]))
    .observe(week, { childList: true, characterData: true, subtree: true });
  const body = document.querySelector('#leader-body');
  if (body) new MutationObserver(() => log.board.push(now()))
    .observe(body, { childList: true, subtree: true });
  const play = document.querySelector('[data-testid=play]');
  if (play && document.body.classList.contains('teacher'))
    new MutationObserver(() => log.play.push([now(), play.disabled]))
      .observe(play, { attributes: true, attributeFilter: ['disabled'] });
  const marks = new MutationObserver(() => {
    if (log.shock === null && document.querySelector('[data-testid=shock-mark]')) {
      log.shock = now();
      requestAnimationFrame(() => { log.shockFrame = now(); });
      marks.disconnect();
    }
  });
  marks.observe(document.body, { childList: true, subtree: true });
}"""

CLICK = """(testid) => {
  const t = performance.timeOrigin + performance.now();
  document.querySelector('[data-testid=' + testid + ']').click();
  return t;
}"""


def week_number(text: str) -> int | None:
    found = re.match(r"Week (\d+) of \d+", text or "")
    return int(found.group(1)) if found else None


def open_page(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.orgsimClass && window.orgsimClass.state()")
    return page


def join_in_page(browser: Any, base: str, code: str, name: str, i: int) -> Any:
    """A student joins through the join form and submits design ``i`` with the design form."""
    page = open_page(browser, f"{base}/join?code={code}", STUDENT_VIEW)
    page.fill("[data-testid=name]", name)
    page.click("[data-testid=join]")
    page.wait_for_selector("[data-testid=org]", state="visible")
    d = design(i)
    page.select_option("[data-testid=org]", d["org"])
    page.select_option("[data-testid=strategy]", d["strategy"])
    for lever in LEVERS:
        page.eval_on_selector(
            f"[data-testid=lever-{lever}]",
            "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }",
            d[lever],
        )
    page.click("[data-testid=submit]")
    page.wait_for_function(
        "() => /Submitted/.test(document.querySelector('[data-testid=status]').textContent)"
    )
    return page


# --- the model-only baseline (this process) -----------------------------------------------------------
def model_baseline(students: int, weeks: int, shock_at: int, repeats: int = 3) -> dict[str, float]:
    """CPU per week of the same race in this process: the same designs, the teacher's shock
    pressed before week ``shock_at`` as the server does (``Activity.shock``), ``Activity.step``
    for all organisations (min over repeats); also with the week message built and serialised
    as the server does, and the shock week's step alone (median over repeats)."""
    step_s: list[float] = []
    message_s: list[float] = []
    shock_week_s: list[float] = []
    for _ in range(repeats):
        activity = Activity(check_setup({"weeks": weeks, "shocks": ""}))
        for i in range(students):
            who = activity.join(f"student {i:02d}")
            activity.submit(who.token, design(i))
        activity.start()
        room = Classroom("http://127.0.0.1")
        room.activity = activity
        stepping = messaging = 0.0
        for week in range(1, weeks + 1):
            t0 = time.process_time()
            if week == shock_at:
                activity.shock()
            activity.step()
            t1 = time.process_time()
            dumps(room.week_message())
            t2 = time.process_time()
            stepping += t1 - t0
            messaging += t2 - t1
            if week == shock_at:
                shock_week_s.append(t1 - t0)
        step_s.append(stepping / weeks)
        message_s.append((stepping + messaging) / weeks)
    return {
        "model_s": min(step_s),
        "model_msg_s": min(message_s),
        "shock_week_s": statistics.median(shock_week_s),
    }


# --- one race -----------------------------------------------------------------------------------------
@dataclass
class Race:
    pace: float
    weeks: int
    figures: dict[str, Any] = field(default_factory=dict)


def stats(values: list[float]) -> tuple[float, float, float]:
    return (min(values), statistics.median(values), max(values)) if values else (0.0, 0.0, 0.0)


def run_race(
    browser: Any,
    pid: int,
    teacher_url: str,
    pace: float,
    students: int,
    pages: int,
    weeks: int,
    shock_at: int,
    pause_at: int,
    shock_phase: float = 0.5,
) -> Race:
    race = Race(pace, weeks)
    base = teacher_url.split("/teacher")[0]
    opened: list[Any] = []
    bots: list[Bot] = []
    try:
        teacher = open_page(browser, teacher_url, {"width": 1366, "height": 768})
        opened.append(teacher)
        if teacher.is_visible("[data-testid=new-activity]"):
            teacher.click("[data-testid=new-activity]")
        old = teacher.evaluate("() => (window.orgsimClass.state().activity || {}).code || ''")
        teacher.fill("[data-testid=weeks]", str(weeks))
        teacher.fill("[data-testid=shocks]", "")
        teacher.click("[data-testid=open]")
        teacher.wait_for_function(
            "(old) => { const e = document.querySelector('[data-testid=code]');"
            " return /^[A-Z2-9]{4}$/.test(e.textContent) && e.textContent !== old; }",
            arg=old,
        )
        code = teacher.text_content("[data-testid=code]") or ""
        for i in range(pages):
            opened.append(join_in_page(browser, base, code, f"page {i}", i))
        bots = [Bot(base, code, f"bot {i:02d}", i) for i in range(pages, students)]
        teacher.wait_for_function(
            "(n) => document.querySelector('[data-testid=ready-count]').textContent"
            " === n + ' of ' + n + ' ready'",
            arg=students,
            timeout=60_000,
        )
        for page in opened:
            page.evaluate(OBSERVE)
        cpu0, _ = server_usage(pid)
        t0 = time.perf_counter()
        teacher.click("[data-testid=start]")
        teacher.wait_for_function(
            "(w) => document.querySelector('[data-testid=week]').textContent === 'Week 0 of ' + w",
            arg=weeks,
            timeout=60_000,
        )
        start_s = time.perf_counter() - t0
        cpu_start = server_usage(pid)[0] - cpu0
        teacher.fill("[data-testid=pace]", f"{pace:g}")
        teacher.locator("[data-testid=pace]").dispatch_event("change")
        teacher.wait_for_function("(p) => window.orgsimClass.state().pace === p", arg=pace)

        # the last week, as the first websocket client receives it: read the server's CPU there
        done = threading.Event()
        at_end: dict[str, float] = {}

        def on_week(week: int) -> None:
            if week >= weeks and not done.is_set():
                at_end["cpu"] = server_usage(pid)[0]
                at_end["t"] = time.time()
                done.set()

        bots[0].on_week = on_week

        def latest_week() -> int:
            return bots[0].last_week

        time.sleep(0.5)
        cpu_a, _ = server_usage(pid)
        teacher.evaluate(CLICK, "play")
        # the shock, at about shock_at (it lands on the coming week)
        while latest_week() < shock_at - 1:
            time.sleep(0.005)
        time.sleep(shock_phase / pace)
        shock_click_week = latest_week()
        shock_click = teacher.evaluate(CLICK, "shock") / 1000
        # Pause at about pause_at, then Play again after a quiet second and a half
        while latest_week() < pause_at:
            time.sleep(0.005)
        pause_click = teacher.evaluate(CLICK, "pause") / 1000
        teacher.wait_for_function("() => !document.querySelector('[data-testid=play]').disabled")
        time.sleep(1.5)
        cpu_b, _ = server_usage(pid)  # includes the quiet 1.5 s: a fixed cost, a few ms
        paused_week = latest_week()
        cpu_c, _ = server_usage(pid)
        play2 = teacher.evaluate(CLICK, "play") / 1000
        if not done.wait(120):
            raise RuntimeError("the race did not reach its last week in two minutes")
        cpu_d = at_end["cpu"]
        deadline = time.monotonic() + 30
        while any(not b.of("debrief") for b in bots) and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu_debrief = server_usage(pid)[0] - cpu_d
        time.sleep(0.5)  # the pages' last redraws
        logs = [page.evaluate("() => window.__bench") for page in opened]
        _, rss = server_usage(pid)
    finally:
        for b in bots:
            b.close()
        for page in opened:
            with contextlib.suppress(Exception):
                page.context.close()

    # --- the figures -------------------------------------------------------------------------
    times = [b.week_times() for b in bots]
    assert all(sorted(t) == list(range(1, weeks + 1)) for t in times), "a client missed weeks"
    shown: list[dict[int, float]] = []  # each page: week -> when its week counter showed it
    for log in logs:
        seen: dict[int, float] = {}
        for t, text in log["week"]:
            w = week_number(text)
            if w and w not in seen:
                seen[w] = t / 1000
        shown.append(seen)
    # when a week left the server, as near as can be seen: its first arrival anywhere
    first = {w: min(t[w] for t in times + shown if w in t) for w in range(1, weeks + 1)}
    spread = [max(t[w] for t in times) - min(t[w] for t in times) for w in range(1, weeks + 1)]
    shock_weeks = {m["week"] for _, m in bots[0].of("week") if m["shock"]}
    assert len(shock_weeks) == 1, shock_weeks
    shock_week = shock_weeks.pop()
    ref = times[0]

    def rate(stamps: dict[int, float]) -> tuple[float, float, int]:
        """(weeks per second, longest gap, intervals) over the two played stretches (weeks 1 to
        the paused week, then the paused week + 1 to the last): the pause is left out."""
        spans = [(1, paused_week), (paused_week + 1, weeks)]
        n = sum(b - a for a, b in spans)
        seconds = sum(stamps[b] - stamps[a] for a, b in spans)
        gaps = [stamps[w] - stamps[w - 1] for a, b in spans for w in range(a + 1, b + 1)]
        return n / seconds, max(gaps), n

    teacher_log, page_logs = logs[0], logs[1:]
    teacher_weeks = shown[0]
    weeks_per_s, longest_gap, _ = rate(ref)
    shown_per_s, _, _ = rate(teacher_weeks)
    # leaderboard re-renders while playing, in the page's own stretches of weeks
    renders = 0
    render_s = 0.0
    for a, b in [(1, paused_week), (paused_week + 1, weeks)]:
        lo, hi = teacher_weeks[a], teacher_weeks[b]
        renders += sum(1 for t in teacher_log["board"] if lo < t / 1000 <= hi)
        render_s += hi - lo
    page_marks = [log["shock"] / 1000 - shock_click for log in page_logs if log["shock"]]
    page_frames = [log["shockFrame"] / 1000 - shock_click for log in page_logs if log["shockFrame"]]
    page_lags = [seen[w] - first[w] for seen in shown for w in seen if w in first]
    bot_lags = [t[w] - first[w] for t in times for w in t if w in first]
    play_back = [t / 1000 for t, disabled in teacher_log["play"] if not disabled]
    pause_back = min((t for t in play_back if t > pause_click), default=float("nan"))
    after_pause = [w for w, t in ref.items() if pause_click < t < play2]
    race.figures = {
        "organisations": students,
        "start_s": start_s,
        "start_cpu_s": cpu_start,
        "weeks_played": weeks,
        "paused_at": paused_week,
        "cpu_s": (cpu_b - cpu_a) + (cpu_d - cpu_c),
        "cpu_per_week_s": ((cpu_b - cpu_a) + (cpu_d - cpu_c)) / weeks,
        "cpu_debrief_s": cpu_debrief,
        "weeks_per_s": weeks_per_s,
        "longest_gap_s": longest_gap,
        "teacher_weeks_per_s": shown_per_s,
        "board_updates_per_s": renders / render_s,
        "board_updates_per_week": renders / (weeks - 2),
        "shock_week": shock_week,
        "shock_click_week": shock_click_week,
        "shock_to_bots_s": stats([t[shock_week] - shock_click for t in times]),
        "shock_to_pages_s": stats(page_marks),
        "shock_to_pages_frame_s": stats(page_frames),
        "shock_to_teacher_mark_s": (teacher_log["shock"] or 0) / 1000 - shock_click,
        "shock_after_send_s": stats(
            [log["shock"] / 1000 - first[shock_week] for log in page_logs if log["shock"]]
        ),
        "pause_to_play_back_s": pause_back - pause_click,
        "weeks_after_pause_click": len(after_pause),
        "fanout_spread_s": stats(spread),
        "page_lag_s": stats(page_lags),
        "bot_lag_s": stats(bot_lags),
        "shock_wait_s": first[shock_week] - shock_click,
        "shock_week_gap_s": first[shock_week] - first[shock_week - 1],
        "typical_gap_s": statistics.median(
            first[w] - first[w - 1] for w in range(2, weeks + 1) if w not in (paused_week + 1,)
        ),
        "week_message_bytes": bots[0].week_bytes,
        "server_mb": rss,
    }
    return race


def show(r: Race, base: dict[str, float]) -> None:
    f = r.figures
    ms = 1000.0

    def trio(v: tuple[float, float, float]) -> str:
        return f"{v[0] * ms:.0f} / {v[1] * ms:.0f} / {v[2] * ms:.0f} ms"

    print(f"\npace {r.pace:g} weeks/s, {f['organisations']} organisations, {r.weeks} weeks:")
    print(f"  Start (builds the models)   {f['start_s']:.2f} s wall, {f['start_cpu_s']:.2f} s CPU")
    print(
        f"  server CPU per week         {f['cpu_per_week_s'] * ms:.1f} ms  "
        f"({f['cpu_per_week_s'] / base['model_s']:.2f}x model-only, "
        f"{f['cpu_per_week_s'] / base['model_msg_s']:.2f}x model+message; "
        f"{f['cpu_per_week_s'] * f['weeks_per_s']:.2f} cores at the pace achieved)"
    )
    print(f"  debrief (once, at the end)  {f['cpu_debrief_s'] * ms:.0f} ms CPU")
    print(
        f"  weeks/s achieved            {f['weeks_per_s']:.2f} (asked {r.pace:g}) at a client, "
        f"{f['teacher_weeks_per_s']:.2f} on the teacher's week counter; "
        f"longest gap {f['longest_gap_s'] * ms:.0f} ms"
    )
    print(
        f"  teacher's leaderboard       {f['board_updates_per_s']:.2f} re-renders/s "
        f"({f['board_updates_per_week']:.2f} per week)"
    )
    print(
        f"  shock (clicked at week {f['shock_click_week']}, "
        f"landed week {f['shock_week']}), min / median / max:"
    )
    print(f"    click -> week message at the websocket students {trio(f['shock_to_bots_s'])}")
    print(f"    click -> shock mark in student pages (DOM)  {trio(f['shock_to_pages_s'])}")
    print(f"    click -> next frame after the mark          {trio(f['shock_to_pages_frame_s'])}")
    print(
        f"    click -> shock mark on the teacher's page   {f['shock_to_teacher_mark_s'] * ms:.0f} ms"
    )
    print(
        f"    of which waiting for the week to be sent    {f['shock_wait_s'] * ms:.0f} ms (1/pace = {ms / r.pace:.0f} ms)"
    )
    print(f"    the week's first arrival -> page mark       {trio(f['shock_after_send_s'])}")
    print(
        f"    the shock week came {f['shock_week_gap_s'] * ms:.0f} ms after the week before "
        f"(median gap {f['typical_gap_s'] * ms:.0f} ms): every model recomputes its landscape"
    )
    print(
        f"  Pause: click -> Play back   {f['pause_to_play_back_s'] * ms:.0f} ms; "
        f"weeks arriving after the click: {f['weeks_after_pause_click']}"
    )
    print(f"  a week's spread over bots   {trio(f['fanout_spread_s'])} (first to last bot)")
    print(f"  page lag after 1st arrival  {trio(f['page_lag_s'])} (every page, every week)")
    print(f"  bot lag after 1st arrival   {trio(f['bot_lag_s'])} (every bot, every week)")
    print(f"  week message                {f['week_message_bytes']} bytes")
    print(f"  server memory               {f['server_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="organisations (default 30)")
    parser.add_argument("--weeks", type=int, default=40)
    parser.add_argument("--pages", type=int, default=3, help="students in real browser pages")
    parser.add_argument(
        "--paces", type=float, nargs="+", default=[4.0, 10.0, 20.0], help="one race per pace"
    )
    parser.add_argument("--shock-at", type=int, default=20, help="the week the shock lands")
    parser.add_argument("--pause-at", type=int, default=30)
    parser.add_argument(
        "--shock-phase",
        type=float,
        default=0.5,
        help="click Shock this fraction of a week after the week before --shock-at arrived",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.pages < args.students:
        parser.error("--pages must be at least 1 and leave at least one websocket student")
    if not 2 <= args.shock_at < args.pause_at < args.weeks:
        parser.error("need 2 <= --shock-at < --pause-at < --weeks")
    cores = os.cpu_count()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}: {platform.processor() or platform.machine()}, "
        f"{cores} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
        f"Python {platform.python_version()}"
    )
    print("command: python benchmarks/class_activity.py " + " ".join(sys.argv[1:]))
    base = model_baseline(args.students, args.weeks, args.shock_at)
    print(
        f"model-only baseline (this process): {base['model_s'] * 1000:.1f} ms CPU per week for "
        f"{args.students} organisations (Activity.step); {base['model_msg_s'] * 1000:.1f} ms "
        f"with the week message serialised; the shock week alone {base['shock_week_s'] * 1000:.0f} "
        "ms"
    )
    races: list[Race] = []
    with (
        tempfile.TemporaryDirectory(prefix="orgsim-class-bench-") as tmp,
        class_server(Path(tmp) / "results") as (proc, link),
        drive.chromium() as browser,
    ):
        for pace in args.paces:
            race = run_race(
                browser,
                proc.pid,
                link,
                pace,
                args.students,
                args.pages,
                args.weeks,
                args.shock_at,
                args.pause_at,
                args.shock_phase,
            )
            races.append(race)
            show(race, base)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "\n| pace asked (weeks/s) | weeks/s achieved | server CPU per week (all organisations) | "
        "x model-only | server cores used | leaderboard re-renders/s | shock: click -> mark in "
        "the student pages, min / median / max | of which after the week was sent (max) | "
        "shock: click -> websocket students, median (max) | Pause -> Play back | server memory |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in races:
        f = r.figures
        p, b, d = f["shock_to_pages_s"], f["shock_to_bots_s"], f["shock_after_send_s"]
        print(
            f"| {r.pace:g} | {f['weeks_per_s']:.2f} | {f['cpu_per_week_s'] * 1000:.1f} ms | "
            f"{f['cpu_per_week_s'] / base['model_s']:.2f} | "
            f"{f['cpu_per_week_s'] * f['weeks_per_s']:.2f} | {f['board_updates_per_s']:.2f} | "
            f"{p[0] * 1000:.0f} / {p[1] * 1000:.0f} / {p[2] * 1000:.0f} ms | "
            f"{d[2] * 1000:.0f} ms | {b[1] * 1000:.0f} ({b[2] * 1000:.0f}) ms | "
            f"{f['pause_to_play_back_s'] * 1000:.0f} ms | {f['server_mb']:.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
