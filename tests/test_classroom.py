"""The class activity (issue 13) without a browser: the rules (sim.classroom.activity), the replay
through the engine, and the real server (uvicorn on a loopback port) spoken to by websocket
clients, as a student's or the teacher's page would."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
websockets_client = pytest.importorskip("websockets.sync.client")

from support.classroom import running_class_server  # noqa: E402
from support.commands import console_script  # noqa: E402

from sim.classroom.activity import (  # noqa: E402
    LEVERS,
    NAME_MAX,
    Activity,
    Design,
    check_design,
    check_name,
    check_setup,
    debrief,
)
from sim.classroom.replay import run_replay  # noqa: E402
from sim.classroom.server import MAX_MESSAGE  # noqa: E402
from sim.config import ConfigError  # noqa: E402

FORMS = ("bureaucracy", "adhocracy", "self_organisation")
STRATEGIES = ("incremental", "planning", "hybrid")


def design(i: int) -> dict[str, Any]:
    """A varied but valid design for student ``i``."""
    return {
        "org": FORMS[i % 3],
        "strategy": STRATEGIES[(i // 3) % 3],
        **{lever: round(((i * 7 + k * 3) % 11) / 10, 2) for k, lever in enumerate(LEVERS)},
    }


def small_class(n: int = 6, **setup: Any) -> tuple[Activity, list[Any]]:
    activity = Activity(check_setup({"weeks": 30, "shocks": "10", "size": 24, **setup}))
    people = []
    for i in range(n):
        who = activity.join(f"student {i}")
        activity.submit(who.token, design(i))
        people.append(who)
    return activity, people


# --- the rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "type a name"),
        ("   ", "type a name"),
        ("x" * (NAME_MAX + 1), f"at most {NAME_MAX} characters"),
        ("bad\x00name", "control or invisible"),
        ("zero\u200bwidth", "control or invisible"),
        (42, "must be text"),
        (None, "must be text"),
        ("Ada", "taken"),
        ("  ADA ", "taken"),
    ],
)
def test_bad_names_are_refused_with_one_line(raw: Any, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as err:
        check_name(raw, {"ada"})
    assert "\n" not in str(err.value)


def test_names_are_trimmed_and_markup_is_kept_as_text() -> None:
    assert check_name("  Lena   &  Mo ", set()) == "Lena & Mo"
    assert check_name("<b>x</b>", set()) == "<b>x</b>"  # the pages show it as text


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"org": "anarchy"}, "Organisation form must be one of"),
        ({"strategy": None}, "Strategy must be one of"),
        ({"cocreation": 1.5}, "from 0 to 1"),
        ({"cocreation": "abc"}, "must be a number"),
        ({"cocreation": float("nan")}, "must be a number"),
        ({"rd_budget": True}, "must be a number"),
        ({"colour": "red"}, "not part of a design"),
    ],
)
def test_bad_designs_are_refused(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        check_design({**design(0), **change}, budget=None)


def test_the_lever_budget_holds() -> None:
    full = {**design(0), **{lever: 1.0 for lever in LEVERS}}
    with pytest.raises(ConfigError, match="add up to 5; this class's budget is 2.5"):
        check_design(full, budget=2.5)
    ok = check_design({**full, **{lever: 0.5 for lever in LEVERS}}, budget=2.5)
    assert ok.lever_sum == 2.5
    assert check_design(full, budget=None).lever_sum == 5.0


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"problem": "chaotic"}, "Problem must be one of"),
        ({"weeks": 2}, "Weeks must be a whole number from 5"),
        ({"weeks": 40, "shocks": "20, 41"}, "Planned shocks"),
        ({"shocks": "soon"}, "Planned shocks"),
        ({"complexity": 12}, "Complexity"),
        ({"budget": 7}, "Lever budget"),
        ({"size": 100000}, "Organisation size"),
        ({"max_participants": 0}, "Most participants"),
        ({"colour": 1}, "not a setting of a class activity"),
    ],
)
def test_bad_setups_are_refused(raw: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        check_setup(raw)


def test_a_preset_fills_the_knobs_and_the_teacher_may_change_them() -> None:
    wicked = check_setup({"problem": "wicked"})
    assert (wicked.complexity, wicked.stakeholders) == (8, 3)
    assert check_setup({"problem": "wicked", "complexity": 2}).complexity == 2


def test_organisations_step_together_on_common_random_numbers() -> None:
    """Everyone meets the same problem: two students with the same design have the same
    curve; the teacher's shock lands on the coming week for every organisation."""
    activity = Activity(check_setup({"weeks": 25, "shocks": "", "size": 24, "turbulence": 0}))
    twins = [activity.join(n) for n in ("twin a", "twin b")]
    other = activity.join("other")
    for who in twins:
        activity.submit(who.token, design(4))
    activity.submit(other.token, design(2))
    activity.start()
    for _ in range(11):
        activity.step()
    assert activity.shock() == 12
    while activity.phase == "racing":
        activity.step()
    assert activity.week == 25 and activity.phase == "finished"
    assert activity.history[twins[0].pid] == activity.history[twins[1].pid]
    assert activity.history[twins[0].pid] != activity.history[other.pid]
    for who in (*twins, other):
        table = who.model.timeseries()
        assert table.loc[table["shock"] > 0, "step"].tolist() == [12]
        assert len(activity.history[who.pid]) == 25


def test_ranks_follow_performance_and_the_csv_says_what_the_board_says() -> None:
    activity, _ = small_class(8)
    activity.start()
    for _ in range(30):
        activity.step()
    board = activity.standings()
    perfs = [row["performance"] for row in board]
    assert perfs == sorted(perfs, reverse=True)
    for i, row in enumerate(board):  # competition ranking: ties share the better rank
        higher = sum(p > row["performance"] for p in perfs)
        assert row["rank"] == higher + 1, (i, row)
    import io

    import pandas as pd

    csv = pd.read_csv(io.StringIO(activity.csv()), comment="#")
    assert list(csv["name"]) == [r["name"] for r in board] or sorted(csv["name"]) == sorted(
        r["name"] for r in board
    )
    by_name = {r["name"]: r for r in board}
    for _, row in csv.iterrows():
        assert row["rank"] == by_name[row["name"]]["rank"]
        assert row["final_performance"] == pytest.approx(by_name[row["name"]]["performance"])
    summary = debrief(activity.results())
    assert sum(g["n"] for g in summary["by_form"]) == 8
    assert {g["org_form"] for g in summary["by_form"]} <= {
        "bureaucracy",
        "adhocracy",
        "self-organisation",
    }


def test_csv_names_cannot_become_spreadsheet_formulas() -> None:
    activity = Activity(check_setup({"weeks": 5, "size": 12, "shocks": ""}))
    who = activity.join("=HYPERLINK(1)")
    activity.submit(who.token, design(0))
    activity.start()
    activity.step()
    assert "\n1,'=HYPERLINK(1)," in activity.csv()


def test_lobby_rules_late_joiners_removal_limit_and_the_end() -> None:
    activity, people = small_class(3, max_participants=5)
    unready = activity.join("no design")
    assert activity.rejoin(people[0].token) is people[0]
    assert activity.rejoin("forged") is None
    activity.remove(people[2].pid)
    assert activity.rejoin(people[2].token) is None
    with pytest.raises(ConfigError, match="not in this class"):
        activity.submit(people[2].token, design(1))
    assert activity.start() == 2
    assert unready.watcher and not unready.racing
    late = activity.join("late")
    assert late.watcher
    activity.join("fifth")  # the removed name freed its place
    with pytest.raises(ConfigError, match="this class is full"):
        activity.join("one too many")
    with pytest.raises(ConfigError, match="can no longer change"):
        activity.submit(people[0].token, design(5))
    with pytest.raises(ConfigError, match="already started"):
        activity.start()
    activity.end()
    with pytest.raises(ConfigError, match="ended"):
        activity.join("after the end")


def test_nobody_ready_cannot_start() -> None:
    activity = Activity(check_setup({}))
    activity.join("alone")
    with pytest.raises(ConfigError, match="nobody has submitted"):
        activity.start()


def test_replay_reproduces_the_race_and_adds_replications(tmp_path) -> None:
    """Replication 0 of the replay is the race itself (same seed, the pressed shock included);
    the engine's table carries the class design as a label; a second replay is reused."""
    activity, people = small_class(4)
    activity.submit(people[3].token, design(0))  # two students share a design
    activity.start()
    for _ in range(14):
        activity.step()
    activity.shock()
    while activity.phase == "racing":
        activity.step()
    sweep_dir, table, summary = run_replay(activity, 3, tmp_path / "results")
    assert len(table) == 3 * 3 and (table["status"] == "ok").all()
    race = activity.results().set_index("name")["final_performance"]
    first = table[table["replication"] == 0].set_index("class_design")["final_performance"]
    for who in people:
        assert first[Design(**who.design.__dict__).label()] == pytest.approx(
            race[who.name], abs=1e-4
        )
    shared = next(d for d in summary["designs"] if len(d["names"]) == 2)
    assert sorted(shared["names"]) == ["student 0", "student 3"]
    assert all(d["n"] == 3 and d["low"] <= d["mean"] <= d["high"] for d in summary["designs"])
    assert (sweep_dir / "table.parquet").exists()
    again = run_replay(activity, 3, tmp_path / "results")[1]
    assert again["meta.reused"].all()


# --- the real server, spoken to over websockets --------------------------------------------------
@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Any]]:
    with running_class_server(tmp_path / "results", key="k3y") as running:
        yield running


class Client:
    """A page's websocket: send a message, read until a message of a given type."""

    def __init__(self, host: str) -> None:
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            websockets_client.connect(f"ws://{host}/ws", open_timeout=10)
        )

    def send(self, message: dict[str, Any] | str) -> None:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def until(self, kind: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind!r} message"
            message = json.loads(self.ws.recv(timeout=left))
            if message["type"] == kind:
                return message

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()


def teacher(host: str, **setup: Any) -> Client:
    t = Client(host)
    t.send({"type": "hello", "role": "teacher", "key": "k3y"})
    assert "presets" in t.until("welcome")
    t.send({"type": "setup", "setup": {"weeks": 12, "shocks": "", "size": 12, **setup}})
    return t


def student(host: str, code: str, name: str, i: int) -> tuple[Client, dict[str, Any]]:
    s = Client(host)
    s.send({"type": "hello", "role": "student", "code": code, "token": None})
    s.until("welcome")
    s.send({"type": "join", "code": code, "name": name})
    you = s.until("welcome")["you"]
    s.send({"type": "design", "design": design(i)})
    assert s.until("welcome")["you"]["design"]["org"] == design(i)["org"]
    return s, you


def test_server_race_rejoin_and_refusals(server) -> None:
    host, classroom = server
    t = teacher(host)
    code = t.until("state")["activity"]["code"]
    # a page without the code learns that an activity is open, not its code or its people
    stranger = Client(host)
    stranger.send({"type": "hello", "role": "student", "code": None, "token": None})
    seen = stranger.until("welcome")
    assert seen["activity"] == {"phase": "lobby", "admitted": False} and seen["race"] == {}
    a, you_a = student(host, code, "Ada", 0)
    b, _ = student(host, code, "Bo", 1)
    # refusals: one line to the sender, nothing changes for the others
    for bad, says in [
        ("not json", "not JSON"),
        ("x" * (MAX_MESSAGE + 1), "too long"),
        ({"type": "start"}, "not something this page can do"),
        ({"type": "design", "design": {**design(0), "cocreation": 9}}, "from 0 to 1"),
        ({"type": "join", "code": code, "name": "again"}, "already joined"),
    ]:
        b.send(bad)
        assert says in b.until("error")["message"]
    stranger.send({"type": "join", "code": "ZZZZ", "name": "Eve"})
    assert "not this class's" in stranger.until("error")["message"]
    forged = Client(host)
    forged.send({"type": "hello", "role": "teacher", "key": "guess"})
    assert "not the teacher's link" in forged.until("error")["message"]
    # the race: every week reaches every page with every organisation's performance
    t.send({"type": "start"})
    t.until("state")
    for _ in range(3):
        t.send({"type": "step"})
    t.send({"type": "shock"})
    assert t.until("shock_planned")["week"] == 4
    t.send({"type": "pace", "pace": 20})
    t.send({"type": "play"})
    weeks = {name: [] for name in ("a", "b")}
    for name, page in (("a", a), ("b", b)):
        while not weeks[name] or weeks[name][-1]["week"] < 12:
            weeks[name].append(page.until("week"))
    assert [w["week"] for w in weeks["a"]] == list(range(1, 13)) == [w["week"] for w in weeks["b"]]
    assert weeks["a"] == weeks["b"]
    assert [w["week"] for w in weeks["a"] if w["shock"]] == [4]
    for w in weeks["a"]:
        assert len(w["perf"]) == 2
        best = max(w["perf"].values())
        assert all((w["ranks"][p] == 1) == (v == best) for p, v in w["perf"].items())
    debrief_message = a.until("debrief")
    assert {r["name"] for r in debrief_message["results"]} == {"Ada", "Bo"}
    # a reloaded page (a new socket with the kept token) gets its organisation and race back
    a.close()
    again = Client(host)
    again.send({"type": "hello", "role": "student", "code": code, "token": you_a["token"]})
    back = again.until("welcome")
    assert back["you"]["pid"] == you_a["pid"] and back["you"]["design"] == design(0)
    assert back["race"]["week"] == 12 and len(back["race"]["history"][you_a["pid"]]) == 12
    assert back["debrief"]["summary"]["n"] == 2
    # the CSV is the teacher's
    url = f"http://{host}/results.csv"
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url + "?key=nope", timeout=10)
    assert denied.value.code == 403
    csv = urllib.request.urlopen(url + "?key=k3y", timeout=10).read().decode()
    assert csv.startswith(f"# orgsim class activity {code}") and "Ada" in csv
    qr = urllib.request.urlopen(f"http://{host}/qr.svg", timeout=10).read().decode()
    assert 'xmlns="http://www.w3.org/2000/svg"' in qr
    for page in (t, b, stranger, forged, again):
        page.close()


def test_removed_student_and_new_activity(server) -> None:
    host, _ = server
    t = teacher(host)
    code = t.until("state")["activity"]["code"]
    s, you = student(host, code, "Mallory", 2)
    t.send({"type": "remove", "pid": you["pid"]})
    assert "removed" in s.until("removed")["message"]
    s.send({"type": "design", "design": design(2)})
    assert "join the class first" in s.until("error")["message"]
    t.send({"type": "setup", "setup": {"weeks": 10}})
    assert s.until("ended")["type"] == "ended"
    new_code = t.until("state")["activity"]["code"]
    s.send({"type": "join", "code": code, "name": "Mallory"})  # the old code no longer works
    assert new_code == code or "not this class's" in s.until("error")["message"]
    for page in (t, s):
        page.close()


# --- the command ---------------------------------------------------------------------------------
def test_the_command_serves_the_class_and_prints_the_teachers_link(tmp_path) -> None:
    """`orgsim-dashboard --class` as a teacher starts it: a link with the key on stdout, the
    teacher's page and the students' page served from it, nothing fetched from elsewhere."""
    import re
    import socket
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(console_script("orgsim-dashboard"))  # this venv's, PATH or not
    assert exe.exists(), f"orgsim-dashboard is not installed beside {sys.executable}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(exe), "--class", "--port", str(port), "--results-dir", str(tmp_path / "results")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        link = ""
        deadline = time.monotonic() + 30
        while not link and time.monotonic() < deadline:
            found = re.search(r"(http://\S+/teacher\?key=\S+)", server.stdout.readline())
            link = found.group(1) if found else ""
        assert link.startswith(f"http://127.0.0.1:{port}/teacher?key="), link
        for _ in range(100):
            with contextlib.suppress(OSError):
                page = urllib.request.urlopen(link, timeout=5).read().decode()
                break
            time.sleep(0.1)
        assert "orgsim class activity" in page and "/static/class.js" in page
        student = urllib.request.urlopen(f"http://127.0.0.1:{port}/join", timeout=5).read()
        assert b'data-testid="join"' in student
        assert b"http" not in student.replace(b"http-equiv", b"")  # no file from elsewhere
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "0"], "--port 0: use a port number from 1 to 65535"),
        (["--jobs", "0"], "--jobs 0: use 1 or more"),
        (["--host", "10.255.255.254"], "cannot listen there"),
        (["--public-url", "class.local"], "starting with http:// or https://"),
        (["--results-dir", "/proc/orgsim"], "is not writable"),
    ],
)
def test_the_command_refuses_bad_input_with_one_line(args, says, capsys) -> None:
    from sim.dashboard.serve import main

    assert main(["--class", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1


def test_replay_over_the_protocol_and_a_new_activity_meanwhile(server) -> None:
    """The teacher's replay reaches every page of the class; a replay still running when the
    teacher opens a new activity never shows up in the new one."""
    host, classroom = server
    t = teacher(host, weeks=6)
    code = t.until("state")["activity"]["code"]
    s, _ = student(host, code, "Ada", 0)
    t.send({"type": "replay", "replications": 3})
    assert "when the race is over" in t.until("error")["message"]
    t.send({"type": "start"})
    t.until("state")
    t.send({"type": "pace", "pace": 20})
    t.send({"type": "play"})
    s.until("debrief")
    for bad in (1, 1000, "20", True):
        t.send({"type": "replay", "replications": bad})
        assert "Replications must be a whole number from 2" in t.until("error")["message"]
    t.send({"type": "replay", "replications": 3})
    assert s.until("replay")["status"] == "running"
    done = s.until("replay", timeout=120)
    assert done["status"] == "done" and done["designs"][0]["names"] == ["Ada"]
    assert done["designs"][0]["n"] == 3
    # again, and a new activity before it ends
    t.send({"type": "replay", "replications": 4})
    t.until("replay")
    t.send({"type": "setup", "setup": {"weeks": 10}})
    t.until("state")
    for thread in threading.enumerate():
        if thread.name == "orgsim-replay":
            thread.join(120)
    time.sleep(0.5)  # the finished replay's answer, had it been sent, would be here by now
    assert classroom.replay is None
    for page in (t, s):
        page.close()
