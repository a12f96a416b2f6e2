"""One or two organisations racing on the same wicked problem: the state behind one browser tab.

SolaraViz re-creates its model from keyword parameters on Reset, so the teacher's settings are
the keyword arguments of :class:`ClassroomRace`. The race holds one :class:`~sim.InnovationModel`
per organisation; both are built with the same seed, so they meet the same problem stream (same
landscape, same turbulence), and a shock pressed in the page is applied to both at the same step.

Bad input (a seed that is not a number, an impossible size, a string where a slider's number
belongs, NaN, None, ...) must not crash a class: every setting is checked for type and range
(:func:`check_value`); the race then holds no organisation and an ``error`` line that the page
shows, and Play/Step are disabled. The page itself refuses a bad value as it arrives
(:mod:`sim.dashboard.inputs`), so this is the second line of defence.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mesa
from omegaconf import DictConfig, OmegaConf

from sim.config import FIELD_TYPES, ConfigError, compose_config, model_part
from sim.dashboard.labels import display
from sim.design import schema_range
from sim.model import InnovationModel

logging.getLogger("MESA").setLevel(logging.WARNING)  # one INFO line per step is just noise here
log = logging.getLogger(__name__)

ORG_FORMS = ("bureaucracy", "adhocracy", "self_organisation")
STRATEGIES = ("incremental", "planning", "hybrid")
LEVERS = ("flexible_organising", "dynamic_managing", "smarter_working", "cocreation", "rd_budget")
COCREATION_ON = "A + full co-creation"  # isolates one lever: A's sliders, co-creation at 1
LEVER_PRESETS = ("same as A", COCREATION_ON, "none", "balanced", "social", "technological")
MODES = ("one organisation", "side by side")
MIN_SIZE, MAX_SIZE = 6, 500  # a team at least; the network view stays readable up to a few hundred
BASE_PROBLEM = "complex"

# Hydra's global state is not thread-safe and every browser session composes configs (the
# class activity too: sim.classroom.activity).
COMPOSE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Settings:
    """The teacher's settings, already parsed: what both organisations are built from."""

    mode: str = "one organisation"
    org: str = "bureaucracy"
    strategy: str = "incremental"
    org_b: str = "self_organisation"
    strategy_b: str = "incremental"
    levers_b: str = "same as A"
    flexible_organising: float = 0.5
    dynamic_managing: float = 0.5
    smarter_working: float = 0.5
    cocreation: float = 0.5
    rd_budget: float = 0.5
    complexity: int = 5
    turbulence: float = 0.02
    stakeholders: int = 2
    ambiguity: float = 0.05
    size: int = 48
    seed: int = 0

    @property
    def side_by_side(self) -> bool:
        return self.mode == "side by side"

    def presets(self, which: str = "A") -> tuple[str, str, str]:
        """Organisation ``which``'s presets: (org form, strategy, lever preset or "")."""
        if which == "B":
            own = self.levers_b not in ("same as A", COCREATION_ON)
            return self.org_b, self.strategy_b, self.levers_b if own else ""
        return self.org, self.strategy, ""

    def overrides(self, which: str = "A") -> list[str]:
        """Dotted settings on top of the presets: the same problem and seed for both
        organisations, and A's lever sliders unless B has a lever preset of its own."""
        out = [
            f"problem.k={self.complexity}",
            f"problem.turbulence={self.turbulence}",
            f"problem.stakeholders={self.stakeholders}",
            f"problem.ambiguity={self.ambiguity}",
            f"org.employees={self.size}",
            f"seed={self.seed}",
        ]
        if not self.presets(which)[2]:
            out += [f"levers.{name}={getattr(self, name)}" for name in LEVERS]
            if which == "B" and self.levers_b == COCREATION_ON:
                out.append("levers.cocreation=1.0")
        return out


@functools.lru_cache(maxsize=64)
def preset_config(org: str, strategy: str, levers: str, problem: str = BASE_PROBLEM) -> DictConfig:
    """The composed presets (Hydra), cached: composing takes about half a second, too slow to
    repeat on every Reset of every student's tab (or for every organisation of a class
    activity); the sliders are merged on top of it. ``levers`` "" keeps the default levers."""
    overrides = [f"problem={problem}", f"org={org}", f"strategy={strategy}"]
    if levers:
        overrides.append(f"levers={levers}")
    with COMPOSE_LOCK:
        cfg = model_part(compose_config(overrides))
    OmegaConf.set_readonly(cfg, True)  # shared by every session: never mutated
    return cfg


def model_from(base: DictConfig, overrides: list[str]) -> InnovationModel:
    """A model from cached presets plus dotted settings, validated by the model (a bad
    combination raises ConfigError with one line)."""
    cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(overrides))
    OmegaConf.set_readonly(cfg, False)
    return InnovationModel(cfg)


def build_model(settings: Settings, which: str = "A") -> InnovationModel:
    """Build organisation ``which``: cached presets plus the page's settings."""
    return model_from(preset_config(*settings.presets(which)), settings.overrides(which))


def warm_up() -> None:
    """Compose the default presets once, so the first browser session starts quickly."""
    defaults = Settings()
    preset_config(*defaults.presets("A"))
    preset_config(*defaults.presets("B"))


def history(model: InnovationModel) -> Mapping[str, Sequence[Any]]:
    """The model's time series as columns, without building a DataFrame on every redraw.

    ``model.timeseries()`` is the public API but builds a DataFrame (milliseconds per call, and
    the page reads it several times a step); the columns Mesa's DataCollector already holds are
    read directly when they are where the core keeps them today (a table named "timeseries", or
    model reporters), and the DataFrame is the fallback if the core changes how it collects."""
    dc = model.datacollector
    table = getattr(dc, "tables", {}).get("timeseries")
    if table:
        return table
    if getattr(dc, "model_vars", None):
        return dc.model_vars
    return model.timeseries().to_dict("list")


#: The settings that name a preset, and the presets each may take.
CHOICES: dict[str, tuple[str, ...]] = {
    "mode": MODES,
    "org": ORG_FORMS,
    "strategy": STRATEGIES,
    "org_b": ORG_FORMS,
    "strategy_b": STRATEGIES,
    "levers_b": LEVER_PRESETS,
}


def _schema_range(setting: str) -> tuple[float, float, bool]:
    """(lowest, highest, whole numbers only) of a dotted setting, from sim.config's schema."""
    limits = schema_range(setting)
    assert limits is not None, setting
    return limits[0], limits[1], FIELD_TYPES[setting].startswith("int")


#: The numeric settings: (lowest, highest, whole numbers only), the model's own ranges read from
#: its schema (the page's sliders are narrower). Complexity is also checked by the model against
#: the problem's size (K < N).
NUMBERS: dict[str, tuple[float, float, bool]] = {
    **{lever: _schema_range(f"levers.{lever}") for lever in LEVERS},
    "turbulence": _schema_range("problem.turbulence"),
    "ambiguity": _schema_range("problem.ambiguity"),
    "complexity": _schema_range("problem.k"),
    "stakeholders": _schema_range("problem.stakeholders"),
}
#: The settings typed into text fields: (what the message calls it, lowest, highest).
TYPED: dict[str, tuple[str, int, int]] = {
    "size": ("Organisation size", MIN_SIZE, MAX_SIZE),
    "seed": ("Seed", 0, 2**32 - 1),
}
_MAX_DIGITS = 12  # longer "numbers" are refused before parsing (no 4300-digit ints)


def shown(value: Any, limit: int = 40) -> str:
    """A short repr of a value someone sent, for a message (never the whole of a huge one)."""
    try:
        text = repr(value)
    except Exception:  # a value from the browser is JSON, but be safe with anything
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _whole_number(text: Any, what: str, lo: int, hi: int) -> int:
    """Parse a whole number typed into a field, or raise ConfigError with a line for the page."""
    problem = f"{what} must be a whole number from {lo} to {hi}"
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ConfigError(f"{problem} (got {shown(text)})")
    raw = str(text).strip()
    if len(raw) > _MAX_DIGITS:
        raise ConfigError(f"{problem} (got {shown(raw)})")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{problem} (got {shown(raw)})") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{problem} (got {value})")
    return value


def check_number(value: Any, what: str, lo: float, hi: float, whole: bool) -> float | int:
    """``value`` as a finite number from ``lo`` to ``hi`` (a whole one if ``whole``), or a
    one-line ConfigError: strings, None, NaN, infinities and booleans are refused."""
    kind = "a whole number" if whole else "a number"
    problem = f"{what} must be {kind} from {lo:g} to {hi:g} (got {shown(value)})"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(problem)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(problem)
    if whole and value != int(value):
        raise ConfigError(problem)
    if not lo <= value <= hi:
        raise ConfigError(problem)
    return int(value) if whole else round(float(value), 4)


def check_value(name: str, value: Any) -> Any:
    """One setting, checked for type and range: the parsed value, or a one-line ConfigError.

    Everything that reaches :class:`ClassroomRace` goes through here, so a value the page's
    widgets could never send (a crafted websocket message) is refused with a message too."""
    if name in CHOICES:
        allowed = CHOICES[name]
        if not isinstance(value, str) or value not in allowed:
            raise ConfigError(f"{name}={shown(value)} is not allowed: use one of {allowed}")
        return value
    if name in TYPED:
        what, lo, hi = TYPED[name]
        return _whole_number(value, what, lo, hi)
    if name in NUMBERS:
        lo, hi, whole = NUMBERS[name]
        return check_number(value, name, lo, hi, whole)
    raise ConfigError(f"{shown(name)} is not a setting of the dashboard")


def parse_settings(**params: Any) -> Settings:
    """Turn the page's raw inputs into :class:`Settings`; one-line ConfigError on bad input
    (the first bad setting, in the page's order)."""
    defaults = Settings()
    unknown = sorted(set(params) - set(Settings.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{shown(unknown[0])} is not a setting of the dashboard")
    values: dict[str, Any] = {}
    for name in Settings.__dataclass_fields__:
        values[name] = check_value(name, params.get(name, getattr(defaults, name)))
    return Settings(**values)


def shock_share(share: Any) -> float | None:
    """The share of the problem a shock redraws: None (the model's own) or a number in [0, 1]."""
    if share is None:
        return None
    return float(check_number(share, "shock share", 0.0, 1.0, whole=False))


class ClassroomRace(mesa.Model):
    """One organisation, or two side by side, on the same problem; the model SolaraViz drives.

    The keyword arguments are the page's controls (see :class:`Settings`); numbers typed into
    text fields arrive as strings and are parsed here, so that a typo becomes a message.
    """

    def __init__(
        self,
        mode: str = "one organisation",
        org: str = "bureaucracy",
        strategy: str = "incremental",
        org_b: str = "self_organisation",
        strategy_b: str = "incremental",
        levers_b: str = "same as A",
        flexible_organising: float = 0.5,
        dynamic_managing: float = 0.5,
        smarter_working: float = 0.5,
        cocreation: float = 0.5,
        rd_budget: float = 0.5,
        complexity: int = 5,
        turbulence: float = 0.02,
        stakeholders: int = 2,
        ambiguity: float = 0.05,
        size: Any = "48",
        seed: Any = "0",
        rng: Any = None,
    ) -> None:
        super().__init__(rng=0)  # the wrapper draws nothing; the organisations have their seeds
        params = {k: v for k, v in locals().items() if k in Settings.__dataclass_fields__}
        self.lock = threading.Lock()  # Play steps in a thread while the Shock button may fire
        self.error: str | None = None
        self.settings: Settings | None = None
        self.orgs: dict[str, InnovationModel] = {}
        self.shock_steps: list[int] = []
        self.layouts: dict[str, dict[object, tuple[float, float]]] = {}  # network view cache
        try:
            self.settings = parse_settings(**params)
            self.orgs["A"] = build_model(self.settings, "A")
            if self.settings.side_by_side:
                self.orgs["B"] = build_model(self.settings, "B")
        except ConfigError as exc:
            self.error = str(exc)
            self.orgs = {}
        except Exception:  # never a traceback (with server paths) in a student's tab
            log.exception("building the dashboard's model failed")
            self.error = "the model could not be built with these settings (see the server log)"
            self.orgs = {}
        self.running = not self.error

    # --- stepping -------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance every organisation by one week, in lockstep (the page's pace and drawing are
        :mod:`sim.dashboard.session`'s and :mod:`sim.dashboard.feed`'s business)."""
        with self.lock:
            for model in self.orgs.values():
                model.step()

    def shock(self, share: float | None = None) -> None:
        """The teacher's button: the requirements change now, for every organisation at once.

        The organisations share the problem seed and the step, so the redraw is the same for
        both; the next collected step is marked as a shock on every plot. A ``share`` that is
        not a number in [0, 1] raises ConfigError and changes nothing."""
        share = shock_share(share)
        with self.lock:
            for model in self.orgs.values():
                model.shock(share)
            if self.orgs:
                self.shock_steps.append(self.week + 1)

    # --- readouts -------------------------------------------------------------------------------
    @property
    def week(self) -> int:
        """Weeks simulated so far (the organisations step together)."""
        first = next(iter(self.orgs.values()), None)
        return int(first.steps) if first is not None else 0

    def label(self, which: str) -> str:
        """A short name of organisation ``which`` for legends and readouts."""
        s = self.settings
        if s is None:
            return which
        if which == "B":
            levers = "" if s.levers_b == "same as A" else f", levers {display(s.levers_b)}"
            return f"B: {display(s.org_b)} / {display(s.strategy_b)}{levers}"
        return f"A: {display(s.org)} / {display(s.strategy)}"
