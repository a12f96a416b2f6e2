"""The classroom dashboard page (the Solara app file ``orgsim-dashboard`` serves).

Built like Mesa's SolaraViz: the sidebar's model parameters come from :data:`MODEL_PARAMS` (the
spec format of Mesa's ``ModelCreator``/``UserInputs``) and are handed to the model on Reset, and
the controller follows SolaraViz's (Reset, Play/Pause, Step, play interval). The inputs are drawn
by :mod:`sim.dashboard.inputs`, which checks every value that arrives from the browser (Mesa's
and solara's sliders cast a crafted ``"abc"`` with ``float()`` and put a traceback in the tab);
a refused value leaves a message in the page and the previous value in place. The frame around
them is ours, for two measured reasons: SolaraViz's grid re-renders the whole page once per view on every
step (80-150 ms a step, too slow for ten steps a second), and its Play loop pushes frames faster
than a slow browser draws them, so Pause lagged by seconds; here one counter redraws only the
views, and Play is paced by the browser (:mod:`sim.dashboard.pacing`).

The model is a :class:`~sim.dashboard.race.ClassroomRace`, created inside :func:`Page`: every
browser session gets its own organisations, so thirty students never share one. Settings take
effect on Reset (as in SolaraViz); a seed that is not a number or an impossible size is refused
as it is typed, and a settings combination the model rejects (say K >= N) shows a message in the
page instead of building anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import solara

from sim.dashboard.guard import install_in_server
from sim.dashboard.inputs import Field, Inputs, Notice, defaults, guarded
from sim.dashboard.pacing import FrameAck
from sim.dashboard.race import (
    LEVER_PRESETS,
    MAX_SIZE,
    MIN_SIZE,
    MODES,
    ORG_FORMS,
    STRATEGIES,
    ClassroomRace,
    history,
    warm_up,
)
from sim.dashboard.views import (
    COLOURS,
    DASH,
    Chart,
    Series,
    line_chart,
    network_layout,
    network_svg,
    way_of_working_svg,
)

install_in_server()  # 404 for the CDN proxy, status pages to loopback only (sim.dashboard.guard)
warm_up()  # compose the default presets while the server starts, not in the first student's tab

PLAY_INTERVAL_MS = 5  # default pause between steps during Play (the "speed" slider); the
# browser's own drawing speed paces Play (sim.dashboard.pacing)
#: The speed slider, in the same spec format as the model parameters (checked the same way).
INTERVAL = {
    "type": "SliderInt",
    "label": "Play Interval (ms)",
    "value": PLAY_INTERVAL_MS,
    "min": 0,
    "max": 500,
    "step": 5,
}

log = logging.getLogger(__name__)


def _select(label: str, values: tuple[str, ...], value: str) -> dict[str, Any]:
    return {"type": "Select", "label": label, "values": list(values), "value": value}


def _slider(label: str, value: float, lo: float, hi: float, step: float) -> dict[str, Any]:
    kind = "SliderInt" if isinstance(step, int) else "SliderFloat"
    return {"type": kind, "label": label, "value": value, "min": lo, "max": hi, "step": step}


#: The page's controls, in the order they appear; names are ClassroomRace's keyword arguments.
MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "mode": _select("Mode", MODES, "one organisation"),
    "org": _select("Organisation form (A)", ORG_FORMS, "bureaucracy"),
    "strategy": _select("Strategy (A)", STRATEGIES, "incremental"),
    "org_b": _select("Organisation form (B, side by side)", ORG_FORMS, "self_organisation"),
    "strategy_b": _select("Strategy (B, side by side)", STRATEGIES, "incremental"),
    "levers_b": _select("Levers (B, side by side)", LEVER_PRESETS, "same as A"),
    "flexible_organising": _slider("Flexible organising", 0.5, 0.0, 1.0, 0.1),
    "dynamic_managing": _slider("Dynamic managing", 0.5, 0.0, 1.0, 0.1),
    "smarter_working": _slider("Smarter working", 0.5, 0.0, 1.0, 0.1),
    "cocreation": _slider("Co-creation", 0.5, 0.0, 1.0, 0.1),
    "rd_budget": _slider("R&D budget", 0.5, 0.0, 1.0, 0.1),
    "complexity": _slider("Complexity (K)", 5, 0, 11, 1),
    "turbulence": _slider("Turbulence", 0.02, 0.0, 0.2, 0.01),
    "stakeholders": _slider("Stakeholder groups", 2, 1, 5, 1),
    "ambiguity": _slider("Ambiguity", 0.05, 0.0, 0.5, 0.05),
    "size": {
        "type": "InputText",
        "label": f"Organisation size (employees, {MIN_SIZE}-{MAX_SIZE})",
        "value": "48",
    },
    "seed": {"type": "InputText", "label": "Seed", "value": "0"},
}
DEFAULTS = defaults(MODEL_PARAMS)  # what a new tab starts from (checked like any input)


# --- data out of the models ----------------------------------------------------------------------


def _column(race: ClassroomRace, which: str, name: str) -> list[float]:
    """A copy of one collected column of organisation ``which``."""
    return list(history(race.orgs[which]).get(name, ()))


def _markers(race: ClassroomRace) -> tuple[list[int], list[int]]:
    """Steps of the teacher's shocks (shown at once, even before the next step) and of the
    turbulence (requirements drifting by themselves)."""
    pressed = sorted(set(race.shock_steps))
    first = next(iter(race.orgs))
    steps = _column(race, first, "step")
    flags = _column(race, first, "shock")
    drift = [int(s) for s, f in zip(steps, flags, strict=True) if f and int(s) not in pressed]
    return pressed, drift


def _chart(
    race: ClassroomRace,
    title: str,
    columns: list[tuple[str, str, str]],
    css: str,
    ymin: float | None = None,
    ymax: float | None = None,
) -> str:
    """A chart of ``columns`` (name in the data, legend label, colour) for every organisation:
    A solid, B dashed."""
    with race.lock:
        series: list[Series] = []
        for which in race.orgs:
            x = _column(race, which, "step")
            for name, label, colour in columns:
                legend = label if which == "A" else ""  # B: same colours, dashed
                series.append(
                    Series(legend, x, _column(race, which, name), colour, DASH[which], css=which)
                )
        if len(race.orgs) > 1:
            series.append(Series("solid A, dashed B", [], [], "#555", DASH["B"]))
        pressed, drift = _markers(race)
    return line_chart(Chart(title, series, pressed, drift, ymin, ymax, css))


def _html(markup: str, test_id: str) -> None:
    solara.HTML(tag="div", unsafe_innerHTML=markup, attributes={"data-testid": test_id})


def _guard(race: ClassroomRace) -> bool:
    """False (and nothing drawn) when the settings were rejected: the panel shows why."""
    return bool(race.orgs)


# --- views (each re-renders on SolaraViz's update counter) ----------------------------------------


@solara.component
def ClassPanel(
    model: ClassroomRace,
    frame: int,
    on_change: Callable[[], None],
    notice: solara.Reactive[str | None],
) -> None:
    """Readouts per organisation, the Shock button, and any message about bad settings."""
    race = model
    if race.error:
        solara.Error(f"Settings not accepted: {race.error}. Fix the field and press Reset.")
        return

    def shock_now() -> None:
        race.shock()
        on_change()

    shock = guarded(shock_now, notice)

    with race.lock:
        week = race.week
        lines = []
        for which, org in race.orgs.items():
            lines.append(
                f'<div class="readout" data-org="{which}" style="color:{COLOURS[which]}">'
                f"<b>{race.label(which)}</b><br>"
                f'<span data-testid="step-{which}">Step: {org.steps}</span> &middot; '
                f'<span data-testid="performance-{which}">Performance: {org.performance:.3f}</span>'
                f' &middot; <span data-testid="optimum-{which}">'
                f"Optimum: {org.problem.optimum_value:.3f}</span>"
                f' &middot; <span data-testid="ideas-{which}">'
                f"Ideas: {sum(history(org).get('ideas', ()))}</span></div>"
            )
    head = (
        f'<div style="font-size:1.3em"><span data-testid="step">Step: {week}</span> '
        f'&middot; <span data-testid="shocks">Shocks pressed: {len(race.shock_steps)}</span></div>'
    )
    with solara.Column(gap="4px"):
        _html(head + "".join(lines), "readouts")
        solara.Button(
            "Shock: requirements change",
            color="error",
            on_click=shock,
            icon_name="mdi-flash",
        )
        solara.Text(
            "Settings in the sidebar apply on Reset. Shock redraws part of the problem for "
            "every organisation at the same step."
        )


@solara.component
def PerformanceView(model: ClassroomRace, frame: int) -> None:
    """Fitness of each organisation's way of working against the best possible (the optimum,
    grey): a shock moves the optimum, and the plot shows how each design recovers."""
    if not _guard(model):
        return
    with model.lock:
        first = next(iter(model.orgs))
        x = _column(model, first, "step")
        series = [Series("optimum", x, _column(model, first, "optimum"), "#888", "4 3", 1.4)]
        for which in model.orgs:
            label = f"performance {which}" if len(model.orgs) > 1 else "performance"
            y = _column(model, which, "fitness")
            series.append(Series(label, x, y, COLOURS[which], DASH[which], css=which))
        pressed, drift = _markers(model)
    chart = Chart("Performance against the optimum", series, pressed, drift, css="performance")
    _html(line_chart(chart), "performance-chart")


@solara.component
def PeopleView(model: ClassroomRace, frame: int) -> None:
    """Engagement and skill: the HR frame, what the social levers act on."""
    if not _guard(model):
        return
    columns = [("engagement", "engagement", "#7b3294"), ("skill", "skill", "#008837")]
    _html(_chart(model, "Engagement and skill", columns, "people", 0.0, 1.0), "people-chart")


@solara.component
def IdeasView(model: ClassroomRace, frame: int) -> None:
    """Ideas tried, proposals made and changes adopted per week: the innovation funnel."""
    if not _guard(model):
        return
    columns = [
        ("ideas", "ideas", "#9ecae1"),
        ("proposals", "proposals", "#3182bd"),
        ("adoptions", "adoptions", "#e6550d"),
    ]
    _html(
        _chart(model, "Ideas, proposals and adoptions per week", columns, "ideas", 0.0),
        "ideas-chart",
    )


@solara.component
def NetworkView(model: ClassroomRace, frame: int) -> None:
    """The organisation as a network, one drawing per organisation."""
    if not _guard(model):
        return
    with model.lock:
        parts = []
        for which, org in model.orgs.items():
            layout = model.layouts.get(which)
            if layout is None:
                layout = model.layouts[which] = network_layout(org)
            parts.append(network_svg(org, layout, model.label(which)))
    cols = "".join(f'<div style="flex:1;min-width:0;max-width:360px">{p}</div>' for p in parts)
    _html(f'<div style="display:flex;gap:8px">{cols}</div>', "network")


@solara.component
def WayOfWorkingView(model: ClassroomRace, frame: int) -> None:
    """Each organisation's current way of working, choice by choice, against the best one."""
    if not _guard(model):
        return
    with model.lock:
        first = next(iter(model.orgs.values()))
        best = first.problem.optimum_code
        rows: list[tuple[str, int, int | None]] = [("best possible", best, None)]
        for which, org in model.orgs.items():
            rows.append((model.label(which)[:30], org.code, best))
        n = first.problem.n
    _html(way_of_working_svg(rows, n), "way-of-working")
    # the last view in render order: its acknowledgement means the whole frame was drawn
    FrameAck.element(frame=model.pacer.next_frame(), on_acked=model.pacer.acknowledge)


@solara.component
def Dashboard(
    race: ClassroomRace, frame: solara.Reactive[int], notice: solara.Reactive[str | None]
) -> None:
    """All views, redrawn together when ``frame`` changes: one small render pass per step.

    Only this component reads ``frame``, so a step redraws the views and nothing else (not the
    sidebar). SolaraViz's grid instead subscribes every view to a global counter, which costs a
    pass over the whole page per view and per step: 80-150 ms a step here, too slow for ten
    steps a second."""
    now = frame.value

    def redraw() -> None:
        frame.value += 1

    with solara.Columns([1, 1]):
        ClassPanel(race, now, redraw, notice)
        PerformanceView(race, now)
    with solara.Columns([1, 1]):
        PeopleView(race, now)
        IdeasView(race, now)
    with solara.Columns([1, 1]):
        NetworkView(race, now)
        WayOfWorkingView(race, now)


@solara.component
def Controls(
    race: solara.Reactive[ClassroomRace],
    params: solara.Reactive[dict[str, Any]],
    frame: solara.Reactive[int],
    notice: solara.Reactive[str | None],
) -> None:
    """Reset, Play/Pause, Step and the speed, like SolaraViz's controller; Play runs in a thread
    paced by the browser (see :mod:`sim.dashboard.pacing`) and redraws through one counter."""
    playing = solara.use_reactive(False)
    interval = solara.use_reactive(PLAY_INTERVAL_MS)
    revision = solara.use_reactive(0)  # a refused speed redraws the slider with the kept one

    def redraw() -> None:
        frame.value += 1

    def loop() -> None:
        try:
            while playing.value:
                time.sleep(interval.value / 1000)
                if not playing.value:
                    break
                race.value.step()
                redraw()
                if race.value.pacer.stalled:
                    playing.value = False
        except Exception:  # never a traceback in the tab; Reset still works
            log.exception("Play failed")
            playing.value = False
            notice.set("Play stopped: that did not work (see the server log). Press Reset.")

    solara.lab.use_task(loop, dependencies=[playing.value], prefer_threaded=True)

    def step() -> None:
        race.value.step()
        redraw()

    def reset() -> None:
        playing.value = False
        notice.set(None)
        race.value = ClassroomRace(**params.value)
        redraw()

    def refused(message: str) -> None:
        notice.set(message)
        revision.value += 1

    usable = race.value.running
    with solara.Card("Controls"):
        with solara.Column(gap="0px"):
            Field("interval", INTERVAL, interval.value, interval.set, refused).key(
                f"interval-{revision.value}"
            )
        with solara.Row(justify="space-between"):
            solara.Button("Reset", color="primary", on_click=guarded(reset, notice))
            solara.Button(
                "❚❚" if playing.value else "▶",
                color="primary",
                on_click=lambda: playing.set(not playing.value),
                disabled=not usable,
            )
            solara.Button(
                "Step",
                color="primary",
                on_click=guarded(step, notice),
                disabled=playing.value or not usable,
            )


@solara.component
def Page() -> None:
    """One browser session: its own ClassroomRace (created here, not at module level)."""
    first = solara.use_memo(ClassroomRace, [])
    race = solara.use_reactive(first)
    params = solara.use_reactive(DEFAULTS)  # the last valid value of every input
    frame = solara.use_reactive(0)  # read by Dashboard only: a step redraws only the views
    notice = solara.use_reactive(None)  # the message about the last refused value, if any

    with solara.AppBar():
        solara.AppBarTitle("orgsim classroom: innovation in organisations")
    with solara.Sidebar(), solara.Column():
        Notice(notice)
        Controls(race, params, frame, notice)
        with solara.Card("Model Parameters"):
            Inputs(MODEL_PARAMS, params, notice)
    Dashboard(race.value, frame, notice)
