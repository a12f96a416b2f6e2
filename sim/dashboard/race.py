"""One or two organisations racing on the same wicked problem: the state behind one browser tab.

SolaraViz re-creates its model from keyword parameters on Reset, so the teacher's settings are
the keyword arguments of :class:`ClassroomRace`. The race holds one :class:`~sim.InnovationModel`
per organisation; both are built with the same seed, so they meet the same problem stream (same
landscape, same turbulence), and a shock pressed in the page is applied to both at the same step.

Bad input (a seed that is not a number, an impossible size) must not crash a class: the race then
holds no organisation and an ``error`` line that the page shows, and Play/Step are disabled.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mesa
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, compose_config, model_part
from sim.dashboard.pacing import Pacer
from sim.model import InnovationModel

logging.getLogger("MESA").setLevel(logging.WARNING)  # one INFO line per step is just noise here

ORG_FORMS = ("bureaucracy", "adhocracy", "self_organisation")
STRATEGIES = ("incremental", "planning", "hybrid")
LEVERS = ("flexible_organising", "dynamic_managing", "smarter_working", "cocreation", "rd_budget")
COCREATION_ON = "A + full co-creation"  # isolates one lever: A's sliders, co-creation at 1
LEVER_PRESETS = ("same as A", COCREATION_ON, "none", "balanced", "social", "technological")
MODES = ("one organisation", "side by side")
MIN_SIZE, MAX_SIZE = 6, 500  # a team at least; the network view stays readable up to a few hundred
BASE_PROBLEM = "complex"

# Hydra's global state is not thread-safe and every browser session composes configs.
_COMPOSE_LOCK = threading.Lock()


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
def preset_config(org: str, strategy: str, levers: str) -> DictConfig:
    """The composed presets (Hydra), cached: composing takes about half a second, too slow to
    repeat on every Reset of every student's tab; the sliders are merged on top of it."""
    overrides = [f"problem={BASE_PROBLEM}", f"org={org}", f"strategy={strategy}"]
    if levers:
        overrides.append(f"levers={levers}")
    with _COMPOSE_LOCK:
        cfg = model_part(compose_config(overrides))
    OmegaConf.set_readonly(cfg, True)  # shared by every session: never mutated
    return cfg


def build_model(settings: Settings, which: str = "A") -> InnovationModel:
    """Build organisation ``which``: cached presets plus the page's settings, validated by the
    model (a bad combination raises ConfigError with one line)."""
    base = preset_config(*settings.presets(which))
    cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(settings.overrides(which)))
    OmegaConf.set_readonly(cfg, False)
    return InnovationModel(cfg)


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


def _whole_number(text: Any, what: str, lo: int, hi: int) -> int:
    """Parse a whole number typed into a field, or raise ConfigError with a line for the page."""
    raw = str(text).strip()
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{what} must be a whole number from {lo} to {hi} (got {raw!r})"
        ) from None
    if not lo <= value <= hi:
        raise ConfigError(f"{what} must be a whole number from {lo} to {hi} (got {value})")
    return value


def parse_settings(**params: Any) -> Settings:
    """Turn the page's raw inputs into :class:`Settings`; one-line ConfigError on bad input."""
    defaults = Settings()
    values: dict[str, Any] = {}
    for name in Settings.__dataclass_fields__:
        values[name] = params.get(name, getattr(defaults, name))
    values["size"] = _whole_number(values["size"], "Organisation size", MIN_SIZE, MAX_SIZE)
    values["seed"] = _whole_number(values["seed"], "Seed", 0, 2**32 - 1)
    for name, allowed in (
        ("mode", MODES),
        ("org", ORG_FORMS),
        ("org_b", ORG_FORMS),
        ("strategy", STRATEGIES),
        ("strategy_b", STRATEGIES),
        ("levers_b", LEVER_PRESETS),
    ):
        if values[name] not in allowed:
            raise ConfigError(f"{name}={values[name]!r} is not allowed: use one of {allowed}")
    for name in (*LEVERS, "turbulence", "ambiguity"):
        values[name] = round(float(values[name]), 4)
    for name in ("complexity", "stakeholders"):
        values[name] = int(values[name])
    return Settings(**values)


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
        self.pacer = Pacer()  # Play waits for the browser to draw each frame
        try:
            self.settings = parse_settings(**params)
            self.orgs["A"] = build_model(self.settings, "A")
            if self.settings.side_by_side:
                self.orgs["B"] = build_model(self.settings, "B")
        except ConfigError as exc:
            self.error = str(exc)
            self.orgs = {}
        self.running = not self.error

    # --- stepping -------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance every organisation by one week, in lockstep, once the browser has drawn the
        previous week (see :mod:`sim.dashboard.pacing`)."""
        self.pacer.wait()
        with self.lock:
            for model in self.orgs.values():
                model.step()

    def shock(self, share: float | None = None) -> None:
        """The teacher's button: the requirements change now, for every organisation at once.

        The organisations share the problem seed and the step, so the redraw is the same for
        both; the next collected step is marked as a shock on every plot."""
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
            levers = "" if s.levers_b == "same as A" else f", {s.levers_b} levers"
            return f"B: {s.org_b} / {s.strategy_b}{levers}"
        return f"A: {s.org} / {s.strategy}"
