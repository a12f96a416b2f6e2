"""The class activity's web side: a teacher page, a student page, one websocket each.

    orgsim-dashboard --class                      # this laptop only: http://127.0.0.1:8766
    orgsim-dashboard --class --host 0.0.0.0       # students' laptops on the classroom network

Why not the Solara dashboard's machinery: there every browser tab is its own world (a virtual
kernel with widgets, re-created per session), which is right for a student exploring alone and
wrong for a class racing together: here one server holds one :class:`~sim.classroom.activity.
Activity`, steps every organisation once a week and sends the same small JSON message (a few
hundred bytes) to every page; the pages (``static/``, plain JavaScript and SVG, no files from
the internet) draw it. A student's laptop only needs a browser.

The protocol (JSON text messages on ``/ws``):

* page -> server: ``hello`` (``role``: teacher with ``key``, or student with ``code`` and the
  ``token`` it kept), then a student's ``join`` (``name``) and ``design`` (``design``), or the
  teacher's ``setup`` (``setup``), ``start``, ``play``, ``pause``, ``step``, ``shock``,
  ``pace`` (``pace``), ``remove`` (``pid``), ``end``, ``replay`` (``replications``).
* server -> page: ``welcome`` (who you are, the activity, the race so far), ``state`` (the
  lobby changed), ``week`` (one week of every organisation: performance and rank; ``shock``),
  ``debrief`` (the results by design choice), ``replay`` (progress or result), ``error``
  (one line, shown in the page; only to the page that caused it), ``removed``, ``ended``.

Only the page opened with the teacher's key (printed in the terminal) may run the activity. A
message that is not well-formed JSON, too long, of an unknown type, or from the wrong role gets
an ``error`` line back and changes nothing; nothing a student sends reaches another page except
their name (shown as text) and their design.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import os
import secrets
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from sim.classroom.activity import (
    LEVERS,
    ORG_FORMS,
    PROBLEMS,
    STRATEGIES,
    Activity,
    check_setup,
    debrief,
    preset_knobs,
)
from sim.config import ConfigError
from sim.dashboard.labels import display

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

MAX_MESSAGE = 4096  # bytes; the largest real message (a teacher's setup) is a few hundred
PACE = 4.0  # weeks per second, as the single dashboard's default
PACE_RANGE = (0.5, 20.0)
SEND_TIMEOUT = 5.0  # s: a page that takes longer to receive a week is dropped (it reconnects)
ORG_COLOURS = {"bureaucracy": "#0072B2", "adhocracy": "#E69F00", "self_organisation": "#009E73"}
STRATEGY_COLOURS = {"incremental": "#56B4E9", "planning": "#D55E00", "hybrid": "#CC79A7"}


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN; browsers refuse it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(message: dict[str, Any]) -> str:
    """A message as strict JSON (a mean over no weeks is null, not NaN)."""
    return json.dumps(_finite(message), allow_nan=False)


@dataclass
class Page:
    """One open page: a teacher's, or a student's (``pid`` once joined)."""

    role: str = ""
    pid: str | None = None
    admitted: bool = False  # a student page that showed this activity's code (or the teacher)


def lan_address() -> str:
    """This machine's address on the classroom network (no packet is sent), else loopback."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


class Classroom:
    """The server's state: the current activity, who is connected, and the race's pace loop."""

    def __init__(
        self,
        base_url: str,
        results_dir: str | os.PathLike[str] = "results",
        jobs: int = 1,
        key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.results_dir = Path(results_dir)
        self.jobs = jobs
        self.key = key or secrets.token_urlsafe(12)
        self.activity: Activity | None = None
        self.pages: dict[WebSocket, Page] = {}
        self.pace = PACE
        self.playing = False
        self.wake = asyncio.Event()
        self.player: asyncio.Task[None] | None = None
        self.replay: dict[str, Any] | None = None
        self.busy = asyncio.Lock()  # one teacher command at a time (start builds 30 models)

    # --- links ---------------------------------------------------------------------------------------
    @property
    def teacher_url(self) -> str:
        return f"{self.base_url}/teacher?key={self.key}"

    def join_url(self) -> str:
        code = self.activity.code if self.activity else ""
        return f"{self.base_url}/join?code={code}" if code else f"{self.base_url}/join"

    # --- messages --------------------------------------------------------------------------------------
    def state(self, page: Page | None = None) -> dict[str, Any]:
        """The lobby as a page may see it: a student page that has not shown this activity's
        code learns only that an activity is open (not its code, not who joined)."""
        a = self.activity
        activity: dict[str, Any] | None = None
        if a is not None:
            may_see = page is None or page.admitted
            activity = a.public() if may_see else {"phase": a.phase, "admitted": False}
        return {
            "type": "state",
            "activity": activity,
            "join_url": self.join_url(),
            "pace": self.pace,
            "playing": self.playing,
            "replay": self.replay,
        }

    def race_so_far(self) -> dict[str, Any]:
        a = self.activity
        if a is None:
            return {}
        with a.lock:
            return {
                "week": a.week,
                "history": {pid: list(v) for pid, v in a.history.items()},
                "ranks": {r["pid"]: r["rank"] for r in a.standings()},
            }

    def week_message(self) -> dict[str, Any]:
        a = self.activity
        assert a is not None
        with a.lock:
            standings = a.standings()
            return {
                "type": "week",
                "week": a.week,
                "phase": a.phase,
                "shock": a.week in a.shock_weeks,
                "shocks": list(a.shock_weeks),
                "perf": {r["pid"]: r["performance"] for r in standings},
                "ranks": {r["pid"]: r["rank"] for r in standings},
            }

    def debrief_message(self) -> dict[str, Any]:
        a = self.activity
        assert a is not None
        results = a.results()
        return {
            "type": "debrief",
            "summary": debrief(results),
            "results": json.loads(results.to_json(orient="records")),
        }

    async def send(self, ws: WebSocket, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else dumps(message)
        try:
            await asyncio.wait_for(ws.send_text(text), SEND_TIMEOUT)
        except Exception:  # gone or stuck: forget it; a live page reconnects and is welcomed
            self.pages.pop(ws, None)
            with contextlib.suppress(Exception):
                await ws.close()

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` to the teacher and every student page of this activity."""
        text = dumps(message)
        to = [ws for ws, page in list(self.pages.items()) if page.admitted]
        await asyncio.gather(*(self.send(ws, text) for ws in to))

    async def broadcast_state(self, **extra: Any) -> None:
        """The lobby's state to every page: in full to this activity's pages, the bare
        "an activity is open" to student pages that have not shown its code."""
        full = dumps({**self.state(), **extra})
        bare = dumps({**self.state(Page()), **extra})
        pages = list(self.pages.items())
        await asyncio.gather(
            *(self.send(ws, full if page.admitted else bare) for ws, page in pages if page.role)
        )

    async def error(self, ws: WebSocket, message: str) -> None:
        await self.send(ws, {"type": "error", "message": message})

    # --- the conversation with one page ----------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        self.pages[ws] = Page()
        try:
            while True:
                text = await ws.receive_text()
                await self.handle(ws, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.pages.pop(ws, None)

    async def handle(self, ws: WebSocket, text: str) -> None:
        """One message from a page; a user's mistake becomes an ``error`` line for that page."""
        page = self.pages.get(ws)
        if page is None:
            return
        try:
            if len(text) > MAX_MESSAGE:
                raise ConfigError(f"message too long (at most {MAX_MESSAGE} characters)")
            try:
                message = json.loads(text)
            except ValueError:
                raise ConfigError("message not understood (not JSON)") from None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise ConfigError("message not understood (no type)")
            kind = message["type"]
            if kind == "hello":
                await self.hello(ws, page, message)
            elif page.role == "student" and kind in ("join", "design"):
                await self.student(ws, page, kind, message)
            elif page.role == "teacher" and kind in TEACHER_COMMANDS:
                async with self.busy:
                    await self.teacher(ws, kind, message)
            else:
                raise ConfigError(f"{kind!r} is not something this page can do")
        except ConfigError as exc:
            await self.error(ws, str(exc))

    async def hello(self, ws: WebSocket, page: Page, message: dict[str, Any]) -> None:
        role = message.get("role")
        if role == "teacher":
            key = message.get("key")
            if not isinstance(key, str) or not secrets.compare_digest(key, self.key):
                raise ConfigError("this is not the teacher's link (see the server's terminal)")
            page.role, page.admitted = "teacher", True
            await self.send(ws, {**self.welcome(page), "presets": self.presets()})
            return
        if role != "student":
            raise ConfigError("message not understood (role)")
        page.role = "student"
        a = self.activity
        code = message.get("code")
        if a is not None and isinstance(code, str) and code.strip().upper() == a.code:
            page.admitted = True
            who = a.rejoin(message.get("token"))
            page.pid = who.pid if who else None
        await self.send(ws, self.welcome(page))

    def welcome(self, page: Page) -> dict[str, Any]:
        a = self.activity
        you = None
        if a is not None and page.pid is not None:
            who = a.participants.get(page.pid)
            if who is not None:
                you = {
                    **who.public(),
                    "token": who.token,
                    "design": dict(vars(who.design)) if who.design else None,
                }
        out = {
            **self.state(page),
            "type": "welcome",
            "role": page.role,
            "you": you,
            "race": self.race_so_far() if page.admitted else {},
            "choices": {
                "org": [[o, display(o)] for o in ORG_FORMS],
                "strategy": [[s, display(s)] for s in STRATEGIES],
                "levers": [[lever, display(lever)] for lever in LEVERS],
                "colours": {"org": ORG_COLOURS, "strategy": STRATEGY_COLOURS},
            },
        }
        if page.admitted and a is not None and a.phase in ("finished", "ended") and a.racers:
            out["debrief"] = self.debrief_message()
        return out

    @staticmethod
    def presets() -> dict[str, Any]:
        return {name: preset_knobs(name) for name in PROBLEMS}

    async def student(self, ws: WebSocket, page: Page, kind: str, message: dict[str, Any]) -> None:
        a = self.activity
        if a is None or a.phase == "ended":
            raise ConfigError("there is no class activity open right now: ask your teacher")
        if kind == "join":
            if page.pid is not None and page.pid in a.participants:
                raise ConfigError("you have already joined")
            code = message.get("code")
            if not isinstance(code, str) or code.strip().upper() != a.code:
                raise ConfigError(
                    "that join code is not this class's: check the code on the screen"
                )
            who = a.join(message.get("name"))
            page.pid, page.admitted = who.pid, True
            await self.send(ws, self.welcome(page))
        else:
            who = a.participants.get(page.pid) if page.pid else None
            if who is None:
                raise ConfigError("join the class first")
            a.submit(who.token, message.get("design"))
            await self.send(ws, self.welcome(page))
        await self.broadcast_state()

    # --- the teacher's commands --------------------------------------------------------------------
    async def teacher(self, ws: WebSocket, kind: str, message: dict[str, Any]) -> None:
        if kind == "setup":
            setup = await asyncio.to_thread(check_setup, message.get("setup") or {})
            await self.stop_playing()
            old = self.activity
            self.activity, self.replay = Activity(setup), None
            if old is not None:
                old.end()
                for other, p in list(self.pages.items()):
                    if p.role == "student":
                        p.pid, p.admitted = None, False
                        await self.send(
                            other,
                            {
                                "type": "ended",
                                "message": "a new activity began: join it with the new code",
                            },
                        )
            await self.broadcast_state()
            return
        if kind == "pace":
            lo, hi = PACE_RANGE
            pace = message.get("pace")
            if isinstance(pace, bool) or not isinstance(pace, (int, float)) or not lo <= pace <= hi:
                raise ConfigError(
                    f"Pace must be a number of weeks per second from {lo:g} to {hi:g}"
                )
            self.pace = float(pace)
            self.wake.set()
            await self.broadcast_state()
            return
        a = self.activity
        if a is None:
            raise ConfigError("open an activity first")
        if kind == "remove":
            who = a.remove(message.get("pid"))
            for other, p in list(self.pages.items()):
                if p.pid == who.pid:
                    p.pid = None
                    await self.send(
                        other,
                        {
                            "type": "removed",
                            "message": "the teacher removed your name from the class",
                        },
                    )
            await self.broadcast_state()
        elif kind == "start":
            await asyncio.to_thread(a.start)
            await self.broadcast_state(race=self.race_so_far())
        elif kind == "play":
            if a.phase != "racing":
                raise ConfigError(
                    "start the race first" if a.phase == "lobby" else "the race is over"
                )
            if self.player is None or self.player.done():
                self.playing = True
                self.player = asyncio.create_task(self.play())
            await self.broadcast_state()
        elif kind == "pause":
            await self.stop_playing()
            await self.broadcast_state()
        elif kind == "step":
            if a.phase != "racing":
                raise ConfigError(
                    "start the race first" if a.phase == "lobby" else "the race is over"
                )
            await self.stop_playing()
            await self.advance()
        elif kind == "shock":
            week = await asyncio.to_thread(a.shock)  # waits for a week being stepped
            await self.broadcast_state(type="shock_planned", week=week)
        elif kind == "end":
            await self.stop_playing()
            a.end()
            await self.broadcast_state(type="ended", message="the activity has ended")
            if a.racers and a.week > 0:  # ended mid-race: the debrief of the weeks raced
                await self.broadcast(self.debrief_message())
        elif kind == "replay":
            await self.start_replay(message.get("replications", 20))

    async def advance(self) -> None:
        """One week for every organisation (in a thread: the pages stay served meanwhile)."""
        a = self.activity
        assert a is not None
        await asyncio.to_thread(a.step)
        await self.broadcast(self.week_message())
        if a.phase == "finished":
            self.playing = False
            await self.broadcast_state()
            await self.broadcast(self.debrief_message())

    async def play(self) -> None:
        """Step at :attr:`pace` weeks per second until paused or the race is over. A slow week
        (more organisations than the machine can step at this pace) delays the next one; it is
        never skipped, so every page sees every week."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.playing and self.activity is not None and self.activity.phase == "racing":
            await self.advance()
            next_at = max(next_at + 1.0 / self.pace, loop.time())
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), max(0.0, next_at - loop.time()))
        self.playing = False

    async def stop_playing(self) -> None:
        self.playing = False
        self.wake.set()
        if self.player is not None:
            with contextlib.suppress(Exception):
                await self.player
            self.player = None

    async def start_replay(self, replications: Any) -> None:
        from sim.classroom.replay import check_replications, replay_in_background

        a = self.activity
        assert a is not None
        if a.phase not in ("finished", "ended"):
            raise ConfigError("replay when the race is over")
        if self.replay is not None and self.replay.get("status") == "running":
            raise ConfigError("a replay is already running")
        replications = check_replications(replications)  # refused now, not in the thread
        loop = asyncio.get_running_loop()
        self.replay = {"status": "running", "replications": replications}
        await self.broadcast({"type": "replay", **self.replay})

        def done(summary: dict[str, Any]) -> None:  # called in the replay's thread
            asyncio.run_coroutine_threadsafe(self.replayed(a, replications, summary), loop)

        threading.Thread(
            target=replay_in_background,
            args=(a, replications, self.results_dir, self.jobs, done),
            name="orgsim-replay",
            daemon=True,
        ).start()

    async def replayed(self, a: Activity, replications: int, summary: dict[str, Any]) -> None:
        """A replay finished: its result for the pages, unless another activity began since."""
        if a is not self.activity:
            return
        status = "error" if "error" in summary else "done"
        self.replay = {"status": status, "replications": replications, **summary}
        await self.broadcast({"type": "replay", **self.replay})


TEACHER_COMMANDS = (
    "setup",
    "start",
    "play",
    "pause",
    "step",
    "shock",
    "pace",
    "remove",
    "end",
    "replay",
)


# --- the app ----------------------------------------------------------------------------------------
def create_app(classroom: Classroom) -> Starlette:
    """The Starlette app: pages, static files, the websocket, the QR code and the CSV."""

    async def teacher_page(request: Request) -> Response:
        return FileResponse(STATIC / "teacher.html")

    async def student_page(request: Request) -> Response:
        return FileResponse(STATIC / "student.html")

    async def qr(request: Request) -> Response:
        import segno

        buffer = io.BytesIO()  # a standalone SVG (with its namespace), so <img> can show it
        segno.make(classroom.join_url(), error="m").save(buffer, kind="svg", scale=6, border=2)
        return Response(buffer.getvalue(), media_type="image/svg+xml")

    async def results_csv(request: Request) -> Response:
        key = request.query_params.get("key", "")
        if not secrets.compare_digest(key, classroom.key):
            return PlainTextResponse("the results are for the teacher's page", status_code=403)
        a = classroom.activity
        if a is None or not a.racers:
            return PlainTextResponse("no race yet", status_code=404)
        return Response(
            a.csv(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="orgsim-class-{a.code}.csv"'},
        )

    async def socket_endpoint(ws: WebSocket) -> None:
        await classroom.serve(ws)

    return Starlette(
        routes=[
            Route("/", student_page),
            Route("/join", student_page),
            Route("/teacher", teacher_page),
            Route("/qr.svg", qr),
            Route("/results.csv", results_csv),
            WebSocketRoute("/ws", socket_endpoint),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (one line), or None if it can."""
    if not 1 <= port <= 65535:
        return f"--port {port}: use a port number from 1 to 65535"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"--host {host}: not an address of this machine"
    family, _, _, _, address = infos[0]
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(address)
    except OSError as exc:
        return f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
    finally:
        probe.close()
    return None


def make_server(
    host: str,
    port: int,
    results_dir: str | os.PathLike[str] = "results",
    jobs: int = 1,
    public_url: str | None = None,
    key: str | None = None,
) -> tuple[Any, Classroom]:
    """A uvicorn server for the class activity, not started (tests start it in a thread)."""
    import uvicorn

    shown_host = lan_address() if host in ("0.0.0.0", "::") else host
    classroom = Classroom(public_url or f"http://{shown_host}:{port}", results_dir, jobs, key)
    config = uvicorn.Config(
        create_app(classroom),
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=MAX_MESSAGE * 4,
        ws_ping_interval=10,
        ws_ping_timeout=20,
    )
    return uvicorn.Server(config), classroom


def serve(
    host: str,
    port: int,
    results_dir: str | os.PathLike[str] = "results",
    jobs: int = 1,
    public_url: str | None = None,
) -> int:
    """Run the class server until Ctrl-C; print the teacher's link. Exit 2 if it cannot listen."""
    problem = port_problem(host, port)
    if problem:
        print(f"orgsim-dashboard: {problem}", file=sys.stderr)
        return 2
    server, classroom = make_server(host, port, results_dir, jobs, public_url)
    print(
        "orgsim class activity: open the teacher's page (keep this link to yourself):\n"
        f"  {classroom.teacher_url}"
    )
    if host in ("127.0.0.1", "localhost"):
        print("  (this laptop only: use --host 0.0.0.0 to let students' laptops join)")
    print("Ctrl-C ends the activity.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0
