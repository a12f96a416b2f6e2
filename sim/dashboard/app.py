"""The classroom dashboard page (the Solara app file ``orgsim-dashboard`` serves).

The page is two columns that fit a 1366x768 projector: on the left the controls (Reset, Play,
Step, Shock, the pace in weeks per second, "run to week" and "shock at week"), the lesson
presets, the shareable link and the settings (every slider shows its value; a setting changed
since the last Reset is marked until Reset applies it); on the right the live board.

Why it is built this way (issue 12):

* The live board (:mod:`sim.dashboard.live`) draws in the browser from streamed rows
  (:mod:`sim.dashboard.feed`): re-rendering views on the server cost 22-25 ms of server CPU per
  drawn step, too much for thirty students on one laptop. A step during Play touches no Solara
  component at all.
* The run lives in a :class:`~sim.dashboard.session.Session` kept per browser session, so a page
  reload finds it again; Play runs at a classroom pace, stops exactly at "run to week" and lands
  "shock at week" on its week.
* Inputs are drawn by :mod:`sim.dashboard.inputs`, which checks every value that arrives from the
  browser (and from a shared link): a refused value leaves a message in the page, never a
  traceback.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from html import escape
from typing import Any

import reacton.ipyvuetify as rv
import solara

from sim.dashboard.guard import install_in_server
from sim.dashboard.inputs import Field, Inputs, Notice, check, defaults, guarded, shown_value
from sim.dashboard.labels import DISPLAY, PERFORMANCE_MEANING, UNITS
from sim.dashboard.lessons import LESSONS
from sim.dashboard.live import LiveBoard, ShareLink, attach
from sim.dashboard.race import (
    LEVER_PRESETS,
    MAX_SIZE,
    MIN_SIZE,
    MODES,
    ORG_FORMS,
    STRATEGIES,
    warm_up,
)
from sim.dashboard.session import (
    PACE,
    PACE_RANGE,
    Session,
    check_pace,
    check_week,
    link_query,
    parse_query,
    session_for,
)

# solara warns once per server (14 lines) that a plain-http cookie cannot be samesite=none; on a
# classroom LAN that is expected, and it buried the address the teacher needs
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
install_in_server()  # 404 for the CDN proxy, status pages to loopback only (sim.dashboard.guard)
warm_up()  # compose the default presets while the server starts, not in the first student's tab

log = logging.getLogger(__name__)


def _select(label: str, values: tuple[str, ...], value: str) -> dict[str, Any]:
    return {"type": "Select", "label": label, "values": list(values), "value": value,
            "display": DISPLAY}  # fmt: skip


def _slider(
    name: str, label: str, value: float, lo: float, hi: float, step: float
) -> dict[str, Any]:
    kind = "SliderInt" if isinstance(step, int) else "SliderFloat"
    return {"type": kind, "label": label, "value": value, "min": lo, "max": hi, "step": step,
            "unit": UNITS.get(name, "")}  # fmt: skip


#: The settings, in the order they appear; names are ClassroomRace's keyword arguments.
MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "mode": _select("Mode", MODES, "one organisation"),
    "org": _select("A: organisation form", ORG_FORMS, "bureaucracy"),
    "strategy": _select("A: strategy", STRATEGIES, "incremental"),
    "org_b": _select("B: organisation form", ORG_FORMS, "self_organisation"),
    "strategy_b": _select("B: strategy", STRATEGIES, "incremental"),
    "levers_b": _select("B: levers", LEVER_PRESETS, "same as A"),
    "flexible_organising": _slider(
        "flexible_organising", "Flexible organising", 0.5, 0.0, 1.0, 0.1
    ),
    "dynamic_managing": _slider("dynamic_managing", "Dynamic managing", 0.5, 0.0, 1.0, 0.1),
    "smarter_working": _slider("smarter_working", "Smarter working", 0.5, 0.0, 1.0, 0.1),
    "cocreation": _slider("cocreation", "Co-creation", 0.5, 0.0, 1.0, 0.1),
    "rd_budget": _slider("rd_budget", "R&D budget", 0.5, 0.0, 1.0, 0.1),
    "complexity": _slider("complexity", "Complexity K", 5, 0, 11, 1),
    "turbulence": _slider("turbulence", "Turbulence", 0.02, 0.0, 0.2, 0.01),
    "stakeholders": _slider("stakeholders", "Stakeholders", 2, 1, 5, 1),
    "ambiguity": _slider("ambiguity", "Ambiguity", 0.05, 0.0, 0.5, 0.05),
    "size": {"type": "InputText", "label": f"Employees ({MIN_SIZE}-{MAX_SIZE})", "value": "48"},
    "seed": {"type": "InputText", "label": "Seed", "value": "0"},
}
B_ONLY = ("org_b", "strategy_b", "levers_b")  # shown in side-by-side mode only
DEFAULTS = defaults(MODEL_PARAMS)  # what a new session starts from (checked like any input)

#: The schedule and the pace, checked the same way as the settings.
PACE_SPEC: dict[str, Any] = {
    "type": "SliderFloat",
    "label": "Pace",
    "value": PACE,
    "min": PACE_RANGE[0],
    "max": PACE_RANGE[1],
    "step": 0.5,
    "unit": "weeks/s",
}
RUN_TO_SPEC: dict[str, Any] = {
    "type": "InputText",
    "label": "Run to week",
    "value": "",
    "parse": lambda v: check_week(v, "Run to week"),
}
SHOCK_AT_SPEC: dict[str, Any] = {
    "type": "InputText",
    "label": "Shock at week",
    "value": "",
    "parse": lambda v: check_week(v, "Shock at week"),
}
CONTROL_SPECS = {"pace": PACE_SPEC, "run_to": RUN_TO_SPEC, "shock_at": SHOCK_AT_SPEC}

CSS = """
.orgsim-page { display: flex; gap: 12px; align-items: flex-start; }
.orgsim-left { width: 372px; flex: none; font-size: 13px; }
.orgsim-main { flex: 1; min-width: 0; }
.orgsim-title { font-size: 15px; font-weight: bold; display: flex; align-items: center; gap: 8px; }
.orgsim-row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 3px 0; }
.orgsim-inputs { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; }
.orgsim-field { padding-left: 4px; border-left: 3px solid transparent; min-width: 0; }
.orgsim-field.orgsim-changed { border-left: 3px dashed #000; background: #f3f3f3; }
.orgsim-slider-head { display: flex; justify-content: space-between; font-size: 12px;
  white-space: nowrap; gap: 4px; }
.orgsim-slider-head .orgsim-label { overflow: hidden; text-overflow: clip; }
.orgsim-field .v-input__slot { min-height: 0 !important; }
.orgsim-field .v-slider { margin: 0; }
.orgsim-field .v-select__selection, .orgsim-field input { font-size: 13px; }
.orgsim-field .v-label { font-size: 13px; }
.orgsim-pending { font-size: 12px; background: #f3f3f3; border-left: 3px dashed #000;
  padding: 2px 6px; margin: 2px 0; }
.orgsim-status { font-size: 12px; }
.orgsim-controls .orgsim-field { flex: 1; }
.orgsim-about { font-size: 14px; max-height: 640px; overflow: auto; }
.v-main__wrap > .container, .solara-content-main { padding-top: 6px !important; }
"""


def _label(name: str) -> str:
    spec = MODEL_PARAMS.get(name) or CONTROL_SPECS.get(name) or {"label": name}
    return str(spec["label"])


def about_html() -> str:
    """The in-page "about this model / what to notice / things to try" panel (NetLogo's Info
    tab), built from the lessons so the panel and the presets say the same thing. Plain HTML:
    solara's Markdown would fetch a diagram library from the CDN, which a classroom lacks."""
    parts = [
        "<h3>About this model</h3>",
        "<p>Each organisation is a network of employees (in teams), managers and outside partners "
        "working on a <i>wicked problem</i>: N = 12 connected choices (its way of working) whose "
        "value depends on each other (complexity K) and drifts over time (turbulence). Each "
        "week people share knowledge, try ideas, propose changes, and the organisation decides "
        "along its form (bureaucracy: managers approve; adhocracy: teams and experts; "
        "self-organisation: consent in the team).</p>",
        f"<p><b>Performance</b> is the {escape(PERFORMANCE_MEANING)}; the readout and the chart "
        "show the same number. A <b>shock</b> redraws part of the problem for every "
        "organisation at once.</p>",
        "<h3>What to notice</h3><ul>",
        "<li>Who recovers after a shock (black line), and how fast?</li>",
        "<li>Engagement (light to dark purple in the network) against performance: not the "
        "same thing.</li>",
        "<li>Rings in the network: a team's change approved (green) or its proposal blocked "
        "(pink) this week.</li></ul>",
        "<h3>Things to try (one click: the lesson buttons)</h3><ul>",
    ]
    for lesson in LESSONS.values():
        shock = f", shock at week {lesson.shock_at}" if lesson.shock_at else ""
        tries = " ".join(escape(t) for t in lesson.try_)
        parts.append(
            f"<li><b>{escape(lesson.title)}</b> (run to week {lesson.run_to}{shock}). "
            f"{escape(lesson.notice)} <i>Try:</i> {tries}</li>"
        )
    parts.append(
        "</ul><p>Settings apply on <b>Reset</b>; a changed setting is marked until then. The "
        "link next to the lesson buttons hands the current scenario to the class.</p>"
    )
    return "".join(parts)


def _session_key() -> str | None:
    try:
        return solara.get_session_id()
    except Exception:  # rendered outside a server (tests): no reload to survive
        return None


def _slider_names() -> set[str]:
    return {n for n, s in MODEL_PARAMS.items() if s["type"] in ("SliderInt", "SliderFloat")}


def load(search: str | None, key: str | None) -> tuple[Session, list[str]]:
    """The session for this browser: kept across reloads; a link with another scenario in its
    query starts that scenario instead. Returns the session and the link's problems."""
    sliders = _slider_names()
    params, extras, problems = parse_query(
        search, DEFAULTS, lambda n, v: check(n, MODEL_PARAMS[n], v), sliders.__contains__
    )

    def make() -> Session:
        return Session(params)

    session, kept = session_for(key, make)
    query = search or ""
    if kept and session.query == query:
        return session, []  # a reload: the same run
    if kept:
        session.reset(params)
    session.query = query
    session.run_to = extras.get("run_to")
    session.shock_at = extras.get("shock_at")
    session.pace = extras.get("pace", PACE)
    return session, problems


# --- the page ------------------------------------------------------------------------------------


@solara.component
def Controls(
    session: Session,
    playing: solara.Reactive[bool],
    refresh: Callable[[], None],
    notice: solara.Reactive[str | None],
    status: solara.Reactive[str | None],
    token: Any,
) -> None:
    """Reset, Play/Pause, Step, Shock; the pace; run to / shock at week N. ``token`` (a ref)
    holds this page's ownership of the run (see :meth:`Session.attach`)."""
    revision = solara.use_reactive(0)  # a refused value redraws its field with the kept one

    def loop() -> None:
        if not playing.value:
            return
        try:
            reason = session.play(token.current, lambda: playing.value)
        except Exception:  # never a traceback in the tab; Reset still works
            log.exception("Play failed")
            reason = None
            notice.set("Play stopped: that did not work (see the server log). Press Reset.")
        if playing.value:
            playing.set(False)
        if reason:
            status.set(reason)
            refresh()

    # Play lives here, not in the page: Pause then redraws these few buttons, not every input
    # of the page (which, on a server busy with thirty runs, made Pause take seconds)
    solara.lab.use_task(loop, dependencies=[playing.value], prefer_threaded=True)

    def reset() -> None:
        playing.set(False)
        session.wake.set()
        notice.set(None)
        status.set(None)
        session.reset()
        refresh()

    def step() -> None:
        session.step()  # the board shows it; nothing else on the page changes

    def shock() -> None:
        with session.lock:
            session.race.shock()
        session.push(force=True)

    def toggle() -> None:
        if not playing.value and session.at_target():
            status.set(f"Already at week {session.week}: change Run to week, or Reset.")
            return
        status.set(None)
        playing.set(not playing.value)
        session.wake.set()

    def refused(message: str) -> None:
        notice.set(message)
        revision.value += 1

    def set_pace(value: float) -> None:
        session.pace = check_pace(value)
        refresh()

    def set_week(name: str) -> Callable[[Any], None]:
        def setter(value: Any) -> None:
            setattr(session, name, value)
            notice.set(None)
            refresh()

        return setter

    usable = session.race.running
    with rv.Html(tag="div", class_="orgsim-controls"):
        with rv.Html(tag="div", class_="orgsim-row"):
            solara.Button("Reset", color="primary", on_click=guarded(reset, notice), small=True)
            solara.Button(
                "❚❚ Pause" if playing.value else "▶ Play",
                color="primary",
                on_click=guarded(toggle, notice),
                disabled=not usable,
                small=True,
            )
            solara.Button(
                "Step",
                color="primary",
                on_click=guarded(step, notice),
                disabled=playing.value or not usable,
                small=True,
            )
            solara.Button(
                "Shock now",
                icon_name="mdi-flash",
                on_click=guarded(shock, notice),
                disabled=not usable,
                small=True,
                outlined=True,
            )
        Field("pace", PACE_SPEC, session.pace, set_pace, refused).key(f"pace-{revision.value}")
        with rv.Html(tag="div", class_="orgsim-row"):
            Field("run_to", RUN_TO_SPEC, session.run_to, set_week("run_to"), refused).key(
                f"run_to-{revision.value}"
            )
            Field("shock_at", SHOCK_AT_SPEC, session.shock_at, set_week("shock_at"), refused).key(
                f"shock_at-{revision.value}"
            )


@solara.component
def Presets(
    session: Session,
    params: solara.Reactive[dict[str, Any]],
    playing: solara.Reactive[bool],
    refresh: Callable[[], None],
    notice: solara.Reactive[str | None],
    query: str,
) -> None:
    """One click per lesson of docs/classroom.md: its settings, its schedule, Reset; and the
    current scenario as a link (``query``: the applied settings and the schedule)."""

    def choose(key: str) -> Callable[[], None]:
        def apply() -> None:
            lesson = LESSONS[key]
            playing.set(False)
            session.wake.set()
            new = {**DEFAULTS, **lesson.settings}
            params.set(new)
            session.run_to = lesson.run_to
            session.shock_at = lesson.shock_at
            session.reset(new)
            notice.set(None)
            refresh()

        return guarded(apply, notice)

    with rv.Html(tag="div", class_="orgsim-row", attributes={"data-testid": "presets"}):
        solara.Text("Lessons:")
        for i, key in enumerate(LESSONS, 1):
            solara.Button(f"{i}", on_click=choose(key), small=True, outlined=True).key(key)
        ShareLink.element(query=query)


@solara.component
def Board(session: Session, token: Any) -> None:
    """The live board; its widget is handed to the session, which streams the run into it.
    ``token`` (a ref) receives the page's ownership of the run: a reloaded page takes over."""
    board = LiveBoard.element()

    def connect() -> Callable[[], None]:
        widget = solara.get_widget(board)
        detach = attach(widget, session.acknowledge, session.ready)
        token.current = session.attach(widget)

        def disconnect() -> None:
            detach()
            if session.board is widget:
                session.board = None

        return disconnect

    solara.use_effect(connect, [session])


@solara.component
def Page() -> None:
    """One browser session's page; the run survives a reload (see :func:`load`)."""
    router = solara.use_router()
    key = _session_key()
    session, problems = solara.use_memo(lambda: load(router.search, key), [])
    params = solara.use_reactive(dict(session.params))
    notice = solara.use_reactive("; ".join(problems) and f"Link not fully understood: "
                                 f"{'; '.join(problems)}. Those settings stay at their defaults.")  # fmt: skip
    status = solara.use_reactive(None)  # why Play stopped by itself, if it did
    playing = solara.use_reactive(False)
    version = solara.use_reactive(0)  # re-renders the controls after a change of the run
    about = solara.use_reactive(False)
    token = solara.use_ref(0)

    def refresh() -> None:
        version.set(version.value + 1)

    _ = version.value  # read, so that a refresh re-renders the page (link, changed marks)

    def on_change(new: dict[str, Any]) -> None:
        session.params = dict(new)

    solara.Style(CSS)
    shown = {k: v for k, v in MODEL_PARAMS.items() if k not in B_ONLY}
    if params.value.get("mode") == "side by side":
        shown = MODEL_PARAMS
    with rv.Html(tag="div", class_="orgsim-page"):
        with rv.Html(tag="div", class_="orgsim-left"):
            with rv.Html(tag="div", class_="orgsim-title"):
                solara.Text("orgsim classroom")
                solara.Button(
                    "About this model" if not about.value else "Close about",
                    small=True,
                    text=True,
                    on_click=lambda: about.set(not about.value),
                )
            Notice(notice)
            # every block is always there (maybe empty): a block that comes and goes would shift
            # its siblings, and the framework would rebuild them (a slider being dragged, the
            # live board) instead of updating them
            rv.Html(
                tag="div",
                class_="orgsim-status",
                children=[status.value] if status.value else [],
                attributes={"data-testid": "status"} if status.value else {},
            )
            Controls(session, playing, refresh, notice, status, token)
            Presets(session, params, playing, refresh, notice, link_query(session, DEFAULTS))
            pending = [k for k in params.value if session.applied.get(k) != params.value[k]]
            names = ", ".join(_label(k) for k in pending)
            rv.Html(
                tag="div",
                class_="orgsim-pending" if pending else "",
                children=[f"\u270e Changed: {names}. Changes apply on Reset."] if pending else [],
                attributes={"data-testid": "pending"} if pending else {},
            )
            Inputs(shown, params, notice, applied=session.applied, on_change=on_change)
        with rv.Html(tag="div", class_="orgsim-main"):
            with rv.Html(
                tag="div",
                class_="orgsim-about" if about.value else "",
                attributes={"data-testid": "about"} if about.value else {},
            ):
                if about.value:
                    solara.HTML(tag="div", unsafe_innerHTML=about_html())
            with rv.Html(tag="div"):
                if session.race.error:
                    solara.Error(
                        f"Settings not accepted: {session.race.error}. Fix the field and press "
                        "Reset."
                    )
            Board(session, token)


__all__ = ["DEFAULTS", "MODEL_PARAMS", "Page", "about_html", "shown_value"]
