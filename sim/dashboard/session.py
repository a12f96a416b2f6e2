"""One student's (or teacher's) run, kept on the server across page reloads, and driven at a
classroom pace.

Why here and not in the page: a page reload used to lose the run, because the run lived in the
page's components. Solara gives every browser a session cookie that survives a reload; the run
is kept per session (the most recent :data:`MAX_SESSIONS`), so a reloaded page finds it again.
Two tabs of the same browser therefore show the same run.

Pace: Play steps at a set number of weeks per second (a few by default), not as fast as the
machine can, so a class can follow; "run to week N" stops exactly at N and "shock at week N"
lands the shock at week N, whether the weeks are played or stepped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sim.config import ConfigError
from sim.dashboard.feed import Feed
from sim.dashboard.lessons import LESSONS
from sim.dashboard.live import LiveBoard
from sim.dashboard.race import ClassroomRace, shown

PACE = 4.0  # weeks per second by default: "press Shock at week 20" can be followed by eye
PACE_RANGE = (0.5, 30.0)
MAX_WEEK = 5000  # "run to week" and "shock at week" limits (the charts thin long runs)
STALL_AFTER = 120.0  # s without a drawn frame: Play pauses with a message (a closed tab)
MAX_SESSIONS = 300  # runs kept for reloads; the oldest is dropped beyond this
EXTRAS = ("run_to", "shock_at", "pace", "lesson")


def check_week(value: Any, what: str) -> int | None:
    """A week number typed into a field (or a link): None for blank, else 1..MAX_WEEK."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    problem = f"{what} must be a whole number from 1 to {MAX_WEEK} (got {shown(value)})"
    if isinstance(value, bool):
        raise ConfigError(problem)
    if isinstance(value, str):
        raw = value.strip()
        if len(raw) > 6 or not raw.isdigit():
            raise ConfigError(problem)
        value = int(raw)
    if not isinstance(value, int) or not 1 <= value <= MAX_WEEK:
        raise ConfigError(problem)
    return value


def check_pace(value: Any) -> float:
    """Weeks per second, a number in :data:`PACE_RANGE`."""
    lo, hi = PACE_RANGE
    problem = (
        f"Pace must be a number of weeks per second from {lo:g} to {hi:g} (got {shown(value)})"
    )
    if isinstance(value, str):
        if len(value) > 8:
            raise ConfigError(problem)
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(problem) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(problem)  # NaN fails the range test too
    return float(value)


class Session:
    """A run and what drives it: the settings it was built from, the page's pending settings,
    the schedule (run to / shock at), the pace, and the stream to the page's board."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.params = dict(params)  # the inputs as the page shows them
        self.applied = dict(params)  # what the current run was built from
        self.run_to: int | None = None
        self.shock_at: int | None = None
        self.pace = PACE
        self.race = ClassroomRace(**params)
        self.feed = Feed(self.race)
        self.board: LiveBoard | None = None
        self.owner = 0  # the page (mount) that may play; a reload takes over
        self.query = ""  # the link query this run was started from (a reload keeps the run)
        self.wake = threading.Event()  # Pause wakes the sleeping Play loop at once

    # --- the page's board ----------------------------------------------------------------------
    def attach(self, board: LiveBoard | None) -> int:
        """A (re)loaded page's board: it gets the whole run; returns the page's owner token."""
        with self.lock:
            self.owner += 1
            self.board = board
            self.feed.resend_all()
            if board is not None:
                board.spec = self.feed.spec()
            self.push(force=True)  # may arrive before the page listens: "ready" asks again
            self.wake.set()  # an older page's Play loop notices it lost the run
            return self.owner

    def push(self, force: bool = False) -> None:
        """Send the page what it has not drawn yet (or nothing while it is still drawing)."""
        board = self.board
        if board is None:
            return
        frame = self.feed.frame(force)
        if frame is not None:
            board.show(frame)

    def acknowledge(self, ack: object) -> None:
        self.feed.acknowledge(ack)

    def ready(self) -> None:
        """The page's board (re)mounted and holds nothing: send it the whole run."""
        with self.lock:
            self.feed.resend_all()
            self.push(force=True)

    # --- the run -------------------------------------------------------------------------------
    def reset(self, params: dict[str, Any] | None = None) -> None:
        """Build a new run from ``params`` (default: the page's current inputs)."""
        with self.lock:
            if params is not None:
                self.params = dict(params)
            self.applied = dict(self.params)
            self.race = ClassroomRace(**self.applied)
            self.feed = Feed(self.race)
            if self.board is not None:
                self.board.spec = self.feed.spec()
            self.push(force=True)

    @property
    def pending(self) -> list[str]:
        """Names of the settings changed since the last Reset (they apply on Reset)."""
        return [k for k, v in self.params.items() if self.applied.get(k) != v]

    @property
    def week(self) -> int:
        return self.race.week

    def step(self, force_draw: bool = True) -> None:
        """One week; a shock scheduled for the coming week is applied first, so it lands on it."""
        with self.lock:
            race = self.race
            if not race.running:
                return
            coming = race.week + 1
            if self.shock_at == coming and coming not in race.shock_steps:
                race.shock()
            race.step()
        self.push(force=force_draw)

    def at_target(self) -> bool:
        return self.run_to is not None and self.week >= self.run_to

    def play(self, token: int, keep_going: Callable[[], bool]) -> str | None:
        """Step at :attr:`pace` while ``keep_going()`` and this page owns the run; stop exactly
        at :attr:`run_to`. Returns why Play stopped by itself (a message for the page) or None."""
        next_at = time.monotonic()
        while keep_going() and self.owner == token:
            if self.at_target():
                return f"Stopped at week {self.week}, as set in Run to week."
            if not self.race.running:
                return None
            self.feed.window = max(4, round(3 * self.pace))  # about 3 s of frames in flight
            self.step(force_draw=False)
            if self.feed.silent_for() > STALL_AFTER:
                return "Play paused: this page has not drawn the run for two minutes."
            next_at += 1.0 / self.pace
            now = time.monotonic()
            if next_at < now - 1.0:  # far behind (a busy server): do not rush to catch up
                next_at = now
            self.wake.clear()
            if next_at > now:
                self.wake.wait(next_at - now)
        self.push(force=True)  # the last weeks, drawn even if the page was busy
        return None


# --- sessions by browser (reload keeps the run) --------------------------------------------------

_SESSIONS: OrderedDict[str, Session] = OrderedDict()
_SESSIONS_LOCK = threading.Lock()


def session_for(key: str | None, make: Callable[[], Session]) -> tuple[Session, bool]:
    """The session kept for browser ``key`` (True), or a new one from ``make`` (False)."""
    with _SESSIONS_LOCK:
        if key is not None and key in _SESSIONS:
            _SESSIONS.move_to_end(key)
            return _SESSIONS[key], True
    session = make()
    if key is not None:
        with _SESSIONS_LOCK:
            _SESSIONS[key] = session
            while len(_SESSIONS) > MAX_SESSIONS:
                _SESSIONS.popitem(last=False)
    return session, False


def forget(key: str) -> None:
    with _SESSIONS_LOCK:
        _SESSIONS.pop(key, None)


# --- the scenario as a link ----------------------------------------------------------------------


def link_query(session: Session, defaults: dict[str, Any]) -> str:
    """The applied settings that differ from the defaults, and the schedule, as a URL query."""
    items: list[tuple[str, str]] = []
    for name, value in session.applied.items():
        if defaults.get(name) != value:
            items.append((name, str(value)))
    if session.run_to is not None:
        items.append(("run_to", str(session.run_to)))
    if session.shock_at is not None:
        items.append(("shock_at", str(session.shock_at)))
    if session.pace != PACE:
        items.append(("pace", f"{session.pace:g}"))
    return urlencode(items)


def parse_query(
    search: str | None,
    defaults: dict[str, Any],
    check: Callable[[str, Any], Any],
    slider: Callable[[str], bool],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Settings and schedule from a link's query: ``(params, extras, problems)``.

    Every value is checked like a value typed into the page (``check``); a value or name that is
    not understood is left at its default and named in ``problems`` (shown in the page), so a
    mangled link never breaks the page. ``lesson=<key>`` starts from that lesson's preset."""
    params = dict(defaults)
    extras: dict[str, Any] = {}
    problems: list[str] = []
    if not search:
        return params, extras, problems
    if len(search) > 2000:
        return params, extras, ["the link is too long"]
    pairs = parse_qsl(search.lstrip("?"), keep_blank_values=True)
    for name, raw in pairs:
        if name == "lesson":
            lesson = LESSONS.get(raw)
            if lesson is None:
                problems.append(f"lesson {shown(raw)} is not one of {sorted(LESSONS)}")
                continue
            params.update(lesson.settings)
            extras.setdefault("run_to", lesson.run_to)
            if lesson.shock_at is not None:
                extras.setdefault("shock_at", lesson.shock_at)
    for name, raw in pairs:
        try:
            if name == "lesson":
                continue
            if name in ("run_to", "shock_at"):
                extras[name] = check_week(raw, name.replace("_", " "))
            elif name == "pace":
                extras[name] = check_pace(raw)
            elif name in defaults:
                value: Any = raw
                if slider(name):
                    if len(raw) > 12:
                        raise ConfigError(f"{name}: {shown(raw)} is not a number")
                    try:
                        value = float(raw)
                    except ValueError:
                        raise ConfigError(f"{name}: {shown(raw)} is not a number") from None
                    if (
                        math.isfinite(value)
                        and value == int(value)
                        and isinstance(defaults[name], int)
                    ):
                        value = int(value)
                params[name] = check(name, value)
            else:
                problems.append(f"{shown(name)} is not a setting")
        except ConfigError as exc:
            problems.append(str(exc))
    return params, extras, problems
