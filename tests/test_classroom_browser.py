"""The class activity (issue 13) in a real headless Chromium: a teacher's page, students' pages,
and websocket clients speaking the pages' protocol for the rest of a class of thirty.

The server is the one ``orgsim-dashboard --class`` runs (uvicorn on a free loopback port). Every
request off the machine is refused and recorded, and must not happen: the pages work offline.
Console errors and dialogs (an injected ``alert``) fail the test.

With ``ORGSIM_DOCS_IMG=1`` the screenshots are written to docs/img/ (the lesson plan's pictures
in docs/classroom.md come from here); otherwise to pytest's tmp dir.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
websockets_client = pytest.importorskip("websockets.sync.client")
from playwright.sync_api import Page, expect  # noqa: E402
from support.classroom import running_class_server  # noqa: E402

from sim.classroom.activity import LEVERS  # noqa: E402

browser = pytest.mark.browser
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
FORMS = ("bureaucracy", "adhocracy", "self_organisation")
STRATEGIES = ("incremental", "planning", "hybrid")
KEY = "teacher-key"


def design(i: int) -> dict[str, Any]:
    return {
        "org": FORMS[i % 3],
        "strategy": STRATEGIES[(i // 3) % 3],
        **{lever: round(((i * 7 + k * 3) % 9) / 10, 2) for k, lever in enumerate(LEVERS)},
    }


@pytest.fixture
def class_server(tmp_path: Path) -> Iterator[str]:
    with running_class_server(tmp_path / "results", key=KEY) as (address, _):
        yield f"http://{address}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("ORGSIM_DOCS_IMG") else tmp_path


class Pages:
    """Open pages, each in its own browser context (its own storage, like its own laptop), with
    every off-machine request refused and every console error, page error and dialog kept."""

    def __init__(self, chromium: Any) -> None:
        self.chromium = chromium
        self.contexts: list[Any] = []
        self.problems: list[str] = []

    def open(self, url: str, width: int = 1280, height: int = 720) -> Page:
        context = self.chromium.new_context(viewport={"width": width, "height": height})
        self.contexts.append(context)

        def guard(route: Any) -> None:
            if re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", route.request.url):
                route.continue_()
            else:
                self.problems.append(f"request off the machine: {route.request.url}")
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )

        def dialog(d: Any) -> None:
            self.problems.append(f"dialog: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)
        page.goto(url)
        page.wait_for_function("() => window.orgsimClass && window.orgsimClass.state()")
        return page

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


@pytest.fixture
def pages(chromium_browser: Any) -> Iterator[Pages]:
    opened = Pages(chromium_browser)
    yield opened
    opened.close()


class Bot:
    """A student's laptop without a browser: joins, designs, and records every message."""

    def __init__(self, base: str, code: str, name: str, i: int) -> None:
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            websockets_client.connect(base.replace("http", "ws") + "/ws", open_timeout=20)
        )
        self.messages: list[dict[str, Any]] = []
        self.ws.send(json.dumps({"type": "hello", "role": "student", "code": code}))
        self.ws.send(json.dumps({"type": "join", "code": code, "name": name}))
        self.ws.send(json.dumps({"type": "design", "design": design(i)}))
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self) -> None:
        with contextlib.suppress(Exception):
            for text in self.ws:
                self.messages.append(json.loads(text))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m.get("type") == kind]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()


def open_activity(pages: Pages, base: str, **fields: str) -> tuple[Page, str]:
    """The teacher's page, an activity opened through its form; returns the page and code."""
    teacher = pages.open(f"{base}/teacher?key={KEY}", 1366, 768)
    for name, value in fields.items():
        teacher.fill(f"[data-testid={name}]", value)
    teacher.click("[data-testid=open]")
    expect(teacher.get_by_test_id("code")).to_have_text(re.compile(r"^[A-Z2-9]{4}$"))
    return teacher, teacher.text_content("[data-testid=code]") or ""


def join_in_page(pages: Pages, base: str, code: str, name: str, size=(1280, 720)) -> Page:
    student = pages.open(f"{base}/join?code={code}", *size)
    student.fill("[data-testid=name]", name)
    student.click("[data-testid=join]")
    expect(student.get_by_test_id("org")).to_be_visible()
    return student


def set_lever(page: Page, lever: str, value: float) -> None:
    """Move a slider as a hand does (the input event the browser fires)."""
    page.eval_on_selector(
        f"[data-testid=lever-{lever}]",
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def week_of(page: Page) -> int:
    text = page.text_content("[data-testid=week]") or ""
    found = re.match(r"Week (\d+) of \d+", text)
    assert found, text
    return int(found.group(1))


def leaderboard(teacher: Page) -> list[tuple[int, str, float]]:
    rows = teacher.locator("[data-testid=leader-row]")
    out = []
    for row in rows.all():
        rank = int(row.locator("[data-testid=rank]").text_content() or "0")
        perf = float(row.locator("[data-testid=perf]").text_content() or "nan")
        name = row.locator("td").nth(1).text_content() or ""
        out.append((rank, name.strip(), perf))
    return out


@browser
def test_a_class_of_thirty_races_together(class_server: str, pages: Pages, shots: Path) -> None:
    """Thirty organisations (three students in Chromium, twenty-seven websocket clients) step
    together; ranks agree with performances; the teacher's shock reaches every page at the same
    week; the CSV says what the leaderboard showed; the projector page fits 1366x768."""
    base = class_server
    teacher, code = open_activity(pages, base, weeks="40", shocks="", seed="3")
    expect(teacher.get_by_test_id("join-link")).to_contain_text(f"/join?code={code}")
    assert teacher.evaluate("() => document.querySelector('[data-testid=qr]').naturalWidth") > 0, (
        "the QR code does not show"
    )
    students = [join_in_page(pages, base, code, n) for n in ("Amira", "Ben", "Chloé")]
    for i, student in enumerate(students):
        student.select_option("[data-testid=org]", FORMS[i])
        set_lever(student, "cocreation", 0.8 - 0.3 * i)
        student.click("[data-testid=submit]")
        expect(student.get_by_test_id("status")).to_contain_text("Submitted")
    names = [f"team {i:02d}" for i in range(26)] + ["the longest name here 24"]
    bots = [Bot(base, code, name, i) for i, name in enumerate(names)]
    try:
        expect(teacher.get_by_test_id("ready-count")).to_have_text("30 of 30 ready", timeout=30_000)
        shot = teacher.screenshot(path=str(shots / "class-lobby.png"))
        assert shot
        teacher.click("[data-testid=start]")
        expect(teacher.get_by_test_id("week")).to_have_text("Week 0 of 40", timeout=30_000)
        teacher.fill("[data-testid=pace]", "10")
        teacher.locator("[data-testid=pace]").dispatch_event("change")
        teacher.click("[data-testid=play]")
        expect(teacher.get_by_test_id("week")).to_have_text(
            re.compile(r"Week (1[2-9]|2\d) of 40"), timeout=30_000
        )
        teacher.click("[data-testid=pause]")
        time.sleep(0.5)
        paused_at = week_of(teacher)
        time.sleep(0.5)
        assert week_of(teacher) == paused_at, "Pause did not stop the race"
        # the projector's view of the race fits 1366x768: chart, leaderboard and controls
        assert teacher.evaluate("() => document.scrollingElement.scrollHeight <= innerHeight"), (
            "the teacher's page does not fit 1366x768 during the race"
        )
        cut = teacher.evaluate(
            """() => [...document.querySelectorAll('[data-testid=leaderboard] th, '
                + '[data-testid=leaderboard] td')]
                .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent)"""
        )
        assert cut == [], f"cut-off text on the leaderboard: {sorted(set(cut))}"
        teacher.screenshot(path=str(shots / "class-race.png"))
        teacher.click("[data-testid=shock]")
        expect(teacher.get_by_test_id("shock-notice")).to_contain_text(f"week {paused_at + 1}")
        teacher.click("[data-testid=play]")
        expect(teacher.get_by_test_id("week")).to_have_text("Week 40 of 40", timeout=60_000)
        expect(teacher.get_by_test_id("debrief")).to_be_visible(timeout=30_000)
        shock_week = paused_at + 1

        # every client received every week once, in order, with all thirty organisations
        deadline = time.monotonic() + 20
        while any(not b.of("debrief") for b in bots) and time.monotonic() < deadline:
            time.sleep(0.2)
        streams = [
            [(m["week"], m["perf"], m["ranks"], m["shock"]) for m in b.of("week")] for b in bots
        ]
        assert [w for w, *_ in streams[0]] == list(range(1, 41))
        assert all(s == streams[0] for s in streams), "the organisations did not step together"
        for week, perf, ranks, shock in streams[0]:
            assert len(perf) == 30 and shock == (week == shock_week)
            for pid, value in perf.items():  # rank = 1 + how many did better
                assert ranks[pid] == 1 + sum(v > value for v in perf.values())
        # the shock mark is at the same week on every page
        for page in (teacher, *students):
            marks = page.locator("[data-testid=shock-mark]")
            assert {m.get_attribute("data-week") for m in marks.all()} == {str(shock_week)}

        # the leaderboard: sorted, ranks agree with performances, and it shows the last week
        board = leaderboard(teacher)
        assert len(board) == 30
        perfs = [p for _, _, p in board]
        assert perfs == sorted(perfs, reverse=True)
        assert [r for r, _, _ in board] == [1 + sum(q > p for q in perfs) for p in perfs]
        last = streams[0][-1][1]
        assert sorted(perfs) == sorted(round(v, 3) for v in last.values())
        # each student's page shows its own performance and rank as the board does
        by_name = {name: (rank, perf) for rank, name, perf in board}
        for name, student in zip(("Amira", "Ben", "Chloé"), students, strict=True):
            rank, perf = by_name[name]
            assert float(student.text_content("[data-testid=my-perf]") or "nan") == perf
            assert (student.text_content("[data-testid=my-rank]") or "").startswith(f"{rank} of 30")
        # the CSV holds what the leaderboard showed
        href = teacher.get_attribute("[data-testid=csv]", "href") or ""
        text = urllib.request.urlopen(base + href, timeout=20).read().decode()
        rows = list(csv.DictReader(io.StringIO("".join(text.splitlines(True)[1:]))))
        assert sorted(
            (int(r["rank"]), r["name"], round(float(r["final_performance"]), 3)) for r in rows
        ) == sorted(board)
        # was it luck? every design again over replications, through the engine
        teacher.fill("[data-testid=replications]", "3")
        teacher.click("[data-testid=replay]")
        expect(teacher.get_by_test_id("replay-status")).to_contain_text("done", timeout=180_000)
        distinct = {json.dumps(design(i), sort_keys=True) for i in range(27)}
        replayed = teacher.locator("[data-testid=replay-table] tbody tr")
        assert replayed.count() >= len(distinct)  # the three students' designs may add rows
        expect(students[0].locator("[data-testid=replay-table]").first).to_be_visible()
        teacher.screenshot(path=str(shots / "class-debrief.png"), full_page=True)
        students[0].screenshot(path=str(shots / "class-student.png"))
        assert pages.problems == [], pages.problems[:5]
    finally:
        for b in bots:
            b.close()


@browser
def test_rejoin_bad_names_and_bad_levers_in_the_page(
    class_server: str, pages: Pages, shots: Path
) -> None:
    base = class_server
    teacher, code = open_activity(pages, base, weeks="30", shocks="10", budget="2.5")
    first = join_in_page(pages, base, code, "Ada")
    # bad names: a taken one, a blank one, one too long (sent past the field's own limit)
    other = pages.open(f"{base}/join?code={code}")
    other.fill("[data-testid=name]", "ADA")
    other.click("[data-testid=join]")
    expect(other.get_by_test_id("message")).to_contain_text("taken")
    other.fill("[data-testid=name]", "   ")
    other.click("[data-testid=join]")
    expect(other.get_by_test_id("message")).to_contain_text("type a name")
    other.evaluate(
        "(c) => window.orgsimClass.send({type: 'join', code: c, name: 'y'.repeat(25)})", code
    )
    expect(other.get_by_test_id("message")).to_contain_text("at most 24 characters")
    # markup in a name is shown as text, on the teacher's page too
    other.fill("[data-testid=name]", "<img src=x onerror=alert(1)>"[:24])
    other.click("[data-testid=join]")
    expect(other.get_by_test_id("org")).to_be_visible()
    expect(teacher.locator("[data-testid=participant]")).to_have_count(2)
    assert teacher.locator("[data-testid=participants] img").count() == 0
    expect(teacher.get_by_test_id("participants")).to_contain_text("<img src=x")
    # bad levers: over the class's budget, and a value no slider can make
    for lever in LEVERS:
        set_lever(first, lever, 1)
    expect(first.get_by_test_id("budget")).to_contain_text("5.00 of 2.50")
    first.click("[data-testid=submit]")
    expect(first.get_by_test_id("message")).to_contain_text("budget is 2.5")
    first.evaluate(
        "(d) => window.orgsimClass.send({type: 'design', design: d})",
        {**design(0), "cocreation": 7},
    )
    expect(first.get_by_test_id("message")).to_contain_text("from 0 to 1")
    first.screenshot(path=str(shots / "class-design.png"))
    for lever, value in zip(LEVERS, (0.8, 0.3, 0.5, 0.6, 0.25), strict=True):
        set_lever(first, lever, value)
    first.click("[data-testid=submit]")
    expect(first.get_by_test_id("status")).to_have_text("Submitted: waiting for the race to start")
    for lever in LEVERS:
        set_lever(other, lever, 0.4)
    other.click("[data-testid=submit]")
    expect(other.get_by_test_id("status")).to_contain_text("Submitted")
    # reload in the lobby keeps the design
    first.reload()
    expect(first.get_by_test_id("status")).to_contain_text("Submitted")
    assert first.input_value("[data-testid=lever-flexible_organising]") == "0.8"
    # race a few weeks, then reload mid-race: the organisation, its curve and rank come back
    teacher.click("[data-testid=start]")
    expect(teacher.get_by_test_id("week")).to_have_text("Week 0 of 30")
    for _ in range(6):
        teacher.click("[data-testid=step]")
    expect(first.get_by_test_id("week")).to_have_text("Week 6 of 30")
    before = (
        first.text_content("[data-testid=my-perf]"),
        first.text_content("[data-testid=my-rank]"),
        first.get_attribute("[data-testid=my-chart] path.mine", "d"),
    )
    assert before[2], "no curve of the student's own organisation"
    first.reload()
    expect(first.get_by_test_id("week")).to_have_text("Week 6 of 30")
    after = (
        first.text_content("[data-testid=my-perf]"),
        first.text_content("[data-testid=my-rank]"),
        first.get_attribute("[data-testid=my-chart] path.mine", "d"),
    )
    assert after == before
    # a late joiner watches
    late = pages.open(f"{base}/join?code={code}")
    late.fill("[data-testid=name]", "Late Lou")
    late.click("[data-testid=join]")
    expect(late.get_by_test_id("watching")).to_be_visible()
    assert pages.problems == [], pages.problems[:5]
