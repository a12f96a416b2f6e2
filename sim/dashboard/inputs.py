"""The dashboard's inputs, which check every value that reaches the server.

A browser sends widget values over the websocket, and nothing stops a crafted message from
putting ``"abc"``, ``null`` or ``1e308`` where a slider's number belongs. Solara's own sliders
cast with ``float(value)`` before any callback of ours runs, so such a value used to replace the
tab with a Python traceback (server paths included) and leave Reset broken. So the page draws its
inputs here, from the same specs Mesa's ``UserInputs`` takes (:data:`sim.dashboard.app.MODEL_PARAMS`),
with the widgets' values passed on uncast: :func:`check` refuses a value of the wrong type or out
of the widget's range with a one-line message, the setting keeps its previous valid value, and
the widget is drawn again with that value. :func:`guarded` keeps any other failure of a button's
handler out of the page too (a message in the page, the traceback in the server log only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import reacton.ipyvuetify as rv
import solara

from sim.config import ConfigError
from sim.dashboard.race import check_number, check_value, shown

log = logging.getLogger(__name__)

SLIDERS = ("SliderInt", "SliderFloat")
KINDS = (*SLIDERS, "Select", "InputText")
COMMIT_EVENTS = ("focusout", "keyup.enter")


def check(name: str, spec: dict[str, Any], value: Any) -> Any:
    """``value`` of input ``name`` (described by ``spec``) if the widget could have sent it,
    parsed; else a one-line ConfigError. Sliders: a finite number in the slider's range (a whole
    one for SliderInt); selects: one of the listed values; text fields: the race's own parsing
    (:func:`sim.dashboard.race.check_value`)."""
    kind = spec.get("type")
    if kind in SLIDERS:
        whole = kind == "SliderInt"
        return check_number(value, spec["label"], spec["min"], spec["max"], whole)
    if kind == "Select":
        if not isinstance(value, str) or value not in spec["values"]:
            raise ConfigError(f"{spec['label']}: {shown(value)} is not one of the choices")
        return value
    if kind == "InputText" and "parse" in spec:
        return spec["parse"](value)
    if kind == "InputText" and name in ("size", "seed"):
        return check_value(name, value)
    if kind == "InputText":
        if not isinstance(value, str) or len(value) > 200:
            raise ConfigError(f"{spec['label']}: {shown(value)} is not a short text")
        return value
    raise ConfigError(f"{shown(name)} is not an input of this page")


def refusal(spec: dict[str, Any], exc: Exception, kept: Any) -> str:
    """The line the page shows for a refused value."""
    return f"Not accepted: {exc}. {spec.get('label', 'The setting')} stays at {shown(kept)}."


def guarded(handler: Callable[[], None], notice: solara.Reactive[str | None]) -> Callable[[], None]:
    """``handler`` for a button: a ConfigError becomes its message in the page, any other
    exception a generic one (the traceback goes to the server log, never to the page)."""

    def run() -> None:
        try:
            handler()
        except ConfigError as exc:
            notice.set(f"Not accepted: {exc}")
        except Exception:
            log.exception("a dashboard control failed")
            notice.set("That did not work; the server log has the details. Press Reset.")

    return run


def _on_commit(element: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback`` with a text field's value on Enter and when it loses focus."""
    latest = solara.use_ref(callback)
    latest.current = callback

    def listen() -> Callable[[], None]:
        widget = solara.get_widget(element)

        def commit(widget: Any, event: str, data: Any) -> None:
            latest.current(widget.v_model)

        for event in COMMIT_EVENTS:
            widget.on_event(event, commit)

        def stop() -> None:
            for event in COMMIT_EVENTS:
                widget.on_event(event, commit, remove=True)

        return stop

    solara.use_effect(listen, [])


def shown_value(spec: dict[str, Any], value: Any) -> str:
    """A slider's value as the page shows it, with its unit or scale."""
    step = spec.get("step", 1)
    if spec.get("type") == "SliderInt" or (isinstance(step, int) and value == int(value)):
        text = f"{int(value)}"
    else:
        decimals = max(1, len(f"{step:g}".split(".")[-1])) if "." in f"{step:g}" else 1
        text = f"{value:.{decimals}f}"
    unit = spec.get("unit")
    return f"{text} {unit}" if unit else text


@solara.component
def Field(
    name: str,
    spec: dict[str, Any],
    value: Any,
    on_value: Callable[[Any], None],
    on_refused: Callable[[str], None],
    changed: bool = False,
) -> None:
    """One input drawn from ``spec`` (Mesa ``UserInputs`` format), showing ``value`` (a
    slider's value and unit always in view, not only while dragged); ``changed`` marks a value
    that differs from the running one until Reset applies it. A value from the browser reaches
    ``on_value`` only once :func:`check` accepted it, otherwise ``on_refused`` gets the message."""

    def changed_to(raw: Any) -> None:
        try:
            good = check(name, spec, raw)
        except ConfigError as exc:
            on_refused(refusal(spec, exc, value))
            return
        except Exception:  # pragma: no cover - check raises ConfigError only
            log.exception("checking %s failed", name)
            on_refused(refusal(spec, ValueError("unreadable value"), value))
            return
        on_value(good)

    kind = spec["type"]
    classes = "orgsim-field" + (" orgsim-changed" if changed else "")
    mark = " \u270e" if changed else ""  # a pencil: changed, applies on Reset
    with rv.Html(tag="div", class_=classes, attributes={"data-testid": f"field-{name}"}):
        if kind in SLIDERS:
            with rv.Html(tag="div", class_="orgsim-slider-head"):
                rv.Html(tag="span", children=[spec["label"] + mark], class_="orgsim-label")
                rv.Html(
                    tag="b",
                    children=[shown_value(spec, value)],
                    attributes={"data-testid": f"value-{name}"},
                )
            rv.Slider(
                v_model=value,
                on_v_model=changed_to,
                min=spec["min"],
                max=spec["max"],
                step=spec["step"],
                dense=True,
                hide_details=True,
                attributes={"aria-label": spec["label"]},
            )
        elif kind == "Select":
            display = spec.get("display", {})
            rv.Select(
                v_model=value,
                on_v_model=changed_to,
                items=[{"text": display.get(x, x), "value": x} for x in spec["values"]],
                label=spec["label"] + mark,
                dense=True,
                hide_details=True,
            )
        elif kind == "InputText":
            # like solara's InputText (which Mesa's UserInputs uses): the text counts on Enter
            # or when the field loses focus; but without solara's own copy of the typed text,
            # which would keep showing a refused value
            field = rv.TextField(
                v_model="" if value is None else str(value),
                label=spec["label"] + mark,
                dense=True,
                hide_details="auto",
            )
            _on_commit(field, changed_to)
        else:
            raise ValueError(f"{kind} is not a supported input type")  # a bug in the specs


@solara.component
def Inputs(
    specs: dict[str, dict[str, Any]],
    values: solara.Reactive[dict[str, Any]],
    notice: solara.Reactive[str | None],
    applied: dict[str, Any] | None = None,
    on_change: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Every input of ``specs``, holding its last valid value in ``values``; one that differs
    from ``applied`` (the running settings) is marked as changed. A refused value sets
    ``notice`` and redraws its widget with the kept value (a new key: a fresh widget, so the
    browser shows the kept value, not the refused one)."""
    revisions = solara.use_reactive({})

    def setter(name: str) -> Callable[[Any], None]:
        def on_value(good: Any) -> None:
            new = {**values.value, name: good}
            values.set(new)
            notice.set(None)
            if on_change is not None:
                on_change(new)

        return on_value

    def refuser(name: str) -> Callable[[str], None]:
        def on_refused(message: str) -> None:
            notice.set(message)
            revisions.set({**revisions.value, name: revisions.value.get(name, 0) + 1})

        return on_refused

    with rv.Html(tag="div", class_="orgsim-inputs"):
        for name, spec in specs.items():
            changed = applied is not None and applied.get(name) != values.value[name]
            Field(name, spec, values.value[name], setter(name), refuser(name), changed).key(
                f"{name}-{revisions.value.get(name, 0)}"
            )


def defaults(specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The specs' initial values, checked like any value from the browser."""
    return {name: check(name, spec, spec["value"]) for name, spec in specs.items()}


@solara.component
def Notice(notice: solara.Reactive[str | None]) -> None:
    """The last refused value's message (text, never HTML), until a valid value or Reset."""
    if notice.value:
        with solara.Column(classes=["input-notice"]):
            solara.Error(notice.value, icon=True)
            solara.Button("Dismiss", text=True, small=True, on_click=lambda: notice.set(None))
