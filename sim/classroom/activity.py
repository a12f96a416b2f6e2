"""The class activity: the teacher's problem, the students' designs, the race and the debrief.

Plain Python (no web, no widgets), so that every rule is tested without a browser. Two locks,
because the server's pace loop, the teacher and thirty students touch it at once: ``lock``
guards the lobby and the race's record and is only ever held for moments (so the server's event
loop may take it), ``race_lock`` serialises what changes the organisations themselves (a week's
step, a shock, building them at the start), which takes tens of milliseconds to a second and is
done off the event loop.

The rules, in the order a class meets them:

1. The teacher opens an activity (:class:`Setup`: a problem preset or the wickedness knobs, the
   number of weeks, the planned shocks, an optional lever budget). It gets a short join code.
2. Students join with a name (:func:`check_name`: free text, 1-24 characters, no control
   characters, unique in the class; the page shows it as text, never as markup) and submit a
   design (:class:`Design`: organisation form, strategy, five levers; the levers' sum within the
   budget if one is set). They may change it until the race starts.
3. The race: every organisation is an :class:`~sim.InnovationModel` built from the same seed, so
   all meet the same landscape, the same turbulence and the same shocks (common random numbers:
   a difference between two students is their design's, not their luck's draw of problem). The
   server steps them together, one week at a time. A shock the teacher presses lands on the
   coming week for everyone: it is added to every model's planned shocks (``problem.shock_at``),
   so the race is exactly the run the engine makes with those shocks (replication 0 of
   :mod:`sim.classroom.replay`).
4. The debrief (:meth:`Activity.results`, :func:`debrief`): one row per organisation, and
   summaries by organisation form, strategy and lever.

Late joiners watch (they have no organisation); a student who reloads rejoins with the token the
page kept; the teacher can remove a name; an activity has a participant limit and ends cleanly.
"""

from __future__ import annotations

import functools
import math
import secrets
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.dashboard.labels import display
from sim.dashboard.race import (
    LEVERS,
    ORG_FORMS,
    STRATEGIES,
    check_number,
    model_from,
    preset_config,
    shown,
)
from sim.model import InnovationModel

PROBLEMS = ("tame", "complicated", "complex", "wicked")
PHASES = ("lobby", "racing", "finished", "ended")
NAME_MAX = 24
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud from a projector
CODE_LENGTH = 4
MAX_SHOCKS = 10
WEEKS_RANGE = (5, 500)
SIZE_RANGE = (6, 120)  # thirty organisations of 120 people step in ~0.1 s a week on one core
PARTICIPANTS_RANGE = (1, 60)
LEVER_SUM_MAX = float(len(LEVERS))  # every lever at 1


def _whole(value: Any, what: str, lo: int, hi: int) -> int:
    """A whole number from a form (a JSON number or digits), or a one-line ConfigError."""
    problem = f"{what} must be a whole number from {lo} to {hi} (got {shown(value)})"
    if isinstance(value, str):
        raw = value.strip()
        if not raw.isdigit() or len(raw) > 10:
            raise ConfigError(problem)
        value = int(raw)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(problem)
    return value


def _number(value: Any, what: str, lo: float, hi: float) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip()) if len(value) <= 12 else None
        except ValueError:
            value = None
    return float(check_number(value, what, lo, hi, whole=False))


def _choice(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        names = ", ".join(display(a) for a in allowed)
        raise ConfigError(f"{what} must be one of: {names} (got {shown(value)})")
    return value


@functools.lru_cache(maxsize=4)
def preset_knobs(problem: str) -> dict[str, float]:
    """The wickedness knobs of a problem preset (the values the teacher's form starts from)."""
    p = preset_config("bureaucracy", "incremental", "", problem).problem
    return {
        "complexity": int(p.k),
        "turbulence": float(p.turbulence),
        "stakeholders": int(p.stakeholders),
        "ambiguity": float(p.ambiguity),
    }


# --- the teacher's settings ------------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    """The problem every organisation meets, the race's length and shocks, and the class rules."""

    problem: str = "complex"
    complexity: int = 5
    turbulence: float = 0.02
    stakeholders: int = 2
    ambiguity: float = 0.05
    weeks: int = 40
    shocks: tuple[int, ...] = (20,)
    budget: float | None = None  # the most the five levers may add up to; None: no limit
    size: int = 48
    seed: int = 0
    max_participants: int = 40

    def overrides(self) -> list[str]:
        """The problem and the race as model settings (the same for every organisation)."""
        return [
            f"problem.k={self.complexity}",
            f"problem.turbulence={self.turbulence}",
            f"problem.stakeholders={self.stakeholders}",
            f"problem.ambiguity={self.ambiguity}",
            f"problem.shock_at=[{','.join(str(w) for w in self.shocks)}]",
            f"org.employees={self.size}",
            f"steps={self.weeks}",
            f"seed={self.seed}",
        ]

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "shocks": list(self.shocks)}


def _shock_plan(value: Any, weeks: int) -> tuple[int, ...]:
    """Planned shock weeks: a list of week numbers or text like "20, 35"; blank for none."""
    what = f"Planned shocks must be up to {MAX_SHOCKS} week numbers from 1 to {weeks}"
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        if len(value) > 80:
            raise ConfigError(f"{what} (got {shown(value)})")
        value = [v for v in value.replace(";", ",").replace(" ", ",").split(",") if v]
    if not isinstance(value, (list, tuple)) or len(value) > MAX_SHOCKS:
        raise ConfigError(f"{what} (got {shown(value)})")
    try:
        weeks_list = sorted({_whole(v, "A shock week", 1, weeks) for v in value})
    except ConfigError:
        raise ConfigError(f"{what} (got {shown(value)})") from None
    return tuple(weeks_list)


def check_setup(raw: Mapping[str, Any]) -> Setup:
    """The teacher's form as a :class:`Setup`, or a one-line ConfigError naming the setting.

    Knobs left out take the chosen preset's values; so do they when the preset changed."""
    if not isinstance(raw, Mapping):
        raise ConfigError("the activity's settings must be a set of named values")
    unknown = sorted(set(raw) - set(Setup.__dataclass_fields__), key=str)
    if unknown:
        raise ConfigError(f"{shown(unknown[0])} is not a setting of a class activity")
    problem = _choice(raw.get("problem", "complex"), "Problem", PROBLEMS)
    knobs = {**preset_knobs(problem), **{k: raw[k] for k in preset_knobs(problem) if k in raw}}
    weeks = _whole(raw.get("weeks", 40), "Weeks", *WEEKS_RANGE)
    budget = raw.get("budget")
    if budget is not None and budget != "":
        budget = _number(
            budget, "Lever budget (the most the five levers may add up to)", 0.0, LEVER_SUM_MAX
        )
    else:
        budget = None
    setup = Setup(
        problem=problem,
        complexity=_whole(knobs["complexity"], "Complexity (K)", 0, 11),
        turbulence=_number(knobs["turbulence"], "Turbulence (per week)", 0.0, 0.5),
        stakeholders=_whole(knobs["stakeholders"], "Stakeholder groups", 1, 10),
        ambiguity=_number(knobs["ambiguity"], "Ambiguity", 0.0, 0.5),
        weeks=weeks,
        shocks=_shock_plan(raw.get("shocks", (20,) if weeks >= 20 else ()), weeks),
        budget=budget,
        size=_whole(raw.get("size", 48), "Organisation size (people)", *SIZE_RANGE),
        seed=_whole(raw.get("seed", 0), "Seed", 0, 2**32 - 1),
        max_participants=_whole(
            raw.get("max_participants", 40), "Most participants", *PARTICIPANTS_RANGE
        ),
    )
    # the model's own checks (K < N and the rest), once, with a default organisation
    _build(setup, Design())
    return setup


# --- a student's design ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """What a student chooses: the organisation form, the strategy and the five levers."""

    org: str = "bureaucracy"
    strategy: str = "incremental"
    flexible_organising: float = 0.5
    dynamic_managing: float = 0.5
    smarter_working: float = 0.5
    cocreation: float = 0.5
    rd_budget: float = 0.5

    @property
    def lever_sum(self) -> float:
        return round(sum(getattr(self, lever) for lever in LEVERS), 4)

    def overrides(self) -> list[str]:
        return [f"levers.{lever}={getattr(self, lever)}" for lever in LEVERS]

    def label(self) -> str:
        levers = "/".join(f"{getattr(self, lever):g}" for lever in LEVERS)
        return f"{display(self.org)}, {display(self.strategy)}, levers {levers}"


def check_design(raw: Any, budget: float | None) -> Design:
    """A student's form as a :class:`Design`, or a one-line ConfigError the page shows."""
    if not isinstance(raw, Mapping):
        raise ConfigError("a design must be a set of named choices")
    unknown = sorted(set(raw) - set(Design.__dataclass_fields__), key=str)
    if unknown:
        raise ConfigError(f"{shown(unknown[0])} is not part of a design")
    missing = [k for k in Design.__dataclass_fields__ if k not in raw]
    if missing:
        raise ConfigError(f"the design has no {display(missing[0])}")
    levers = {
        lever: round(_number(raw[lever], display(lever).capitalize(), 0.0, 1.0), 2)
        for lever in LEVERS
    }
    design = Design(
        org=_choice(raw["org"], "Organisation form", ORG_FORMS),
        strategy=_choice(raw["strategy"], "Strategy", STRATEGIES),
        **levers,
    )
    if budget is not None and design.lever_sum > budget + 1e-9:
        raise ConfigError(
            f"the five levers add up to {design.lever_sum:g}; this class's budget is {budget:g}: "
            "lower some levers"
        )
    return design


def check_name(raw: Any, taken: set[str]) -> str:
    """A participant's name: free text, trimmed, 1-24 characters, no control characters, not
    already in the class (ignoring case). Shown as text by the pages, so markup is harmless."""
    if not isinstance(raw, str):
        raise ConfigError("a name must be text")
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise ConfigError("type a name (or a team name) to join")
    if len(name) > NAME_MAX:
        raise ConfigError(f"a name has at most {NAME_MAX} characters (this one has {len(name)})")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise ConfigError("a name cannot contain control or invisible characters")
    if name.casefold() in taken:
        raise ConfigError(f"the name {name!r} is taken in this class: choose another")
    return name


def _build(setup: Setup, design: Design) -> InnovationModel:
    """One organisation: the presets composed once (and cached), the problem and the design on
    top."""
    base = preset_config(design.org, design.strategy, "", setup.problem)
    return model_from(base, setup.overrides() + design.overrides())


# --- the participants ------------------------------------------------------------------------------
@dataclass
class Participant:
    """A student or a team. ``token`` is their secret (the page keeps it to rejoin after a
    reload); ``pid`` is public (the teacher's list, the leaderboard)."""

    pid: str
    name: str
    token: str = field(repr=False)
    design: Design | None = None
    model: InnovationModel | None = field(default=None, repr=False)
    watcher: bool = False  # joined after the race began: watches, has no organisation

    @property
    def racing(self) -> bool:
        return self.model is not None

    def public(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "ready": self.design is not None,
            "watcher": self.watcher,
            "org": self.design.org if self.design else None,
            "strategy": self.design.strategy if self.design else None,
        }


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Activity:
    """One class activity, from the lobby to the debrief. Thread-safe: every method takes
    :attr:`lock`. Raises ConfigError (one line, for the page) on anything a user got wrong."""

    def __init__(self, setup: Setup, code: str | None = None) -> None:
        self.setup = setup
        self.code = code or _new_code()
        self.phase = "lobby"
        self.lock = threading.RLock()  # held for moments: the lobby, the history, the week
        self.race_lock = threading.Lock()  # held while the organisations step, shock or are built
        self._starting = False
        self.participants: dict[str, Participant] = {}  # by pid, in joining order
        self._by_token: dict[str, str] = {}
        self._pids = 0
        self.shock_weeks: list[int] = list(setup.shocks)  # planned, then pressed
        self.week = 0
        self.history: dict[str, list[float]] = {}  # pid -> performance by week (1..week)

    # --- lobby -------------------------------------------------------------------------------------
    def join(self, name: Any) -> Participant:
        """A new participant; after the race began, a watcher. Raises ConfigError."""
        with self.lock:
            if self.phase == "ended":
                raise ConfigError("this activity has ended")
            if len(self.participants) >= self.setup.max_participants:
                raise ConfigError(
                    f"this class is full ({self.setup.max_participants} participants)"
                )
            taken = {p.name.casefold() for p in self.participants.values()}
            clean = check_name(name, taken)
            self._pids += 1
            pid = f"p{self._pids}"
            token = secrets.token_urlsafe(16)
            who = Participant(pid, clean, token, watcher=self.phase != "lobby")
            self.participants[pid] = who
            self._by_token[token] = pid
            return who

    def rejoin(self, token: Any) -> Participant | None:
        """The participant a page's kept token belongs to (None if unknown or removed)."""
        if not isinstance(token, str) or len(token) > 64:
            return None
        with self.lock:
            pid = self._by_token.get(token)
            return self.participants.get(pid) if pid else None

    def submit(self, token: str, raw: Any) -> Design:
        """A participant's design (again, until the race starts). Raises ConfigError."""
        with self.lock:
            who = self.rejoin(token)
            if who is None:
                raise ConfigError("you are not in this class (removed, or the activity changed)")
            if self.phase != "lobby" or who.watcher or self._starting:
                raise ConfigError("the race has started: designs can no longer change")
            who.design = check_design(raw, self.setup.budget)
            return who.design

    def remove(self, pid: Any) -> Participant:
        """The teacher removes a name (and its organisation, during a race)."""
        with self.lock:
            who = self.participants.pop(pid, None) if isinstance(pid, str) else None
            if who is None:
                raise ConfigError(f"no participant {shown(pid)}")
            self._by_token.pop(who.token, None)
            self.history.pop(who.pid, None)
            return who

    # --- race --------------------------------------------------------------------------------------
    @property
    def racers(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.racing]

    def start(self) -> int:
        """Build every submitted design's organisation and open the race; participants without
        a design watch. Returns the number of organisations. Raises ConfigError.

        The organisations are built (about a second for thirty) without holding :attr:`lock`,
        so pages can still be answered meanwhile; designs are frozen from the first moment."""
        with self.race_lock:
            with self.lock:
                if self.phase != "lobby" or self._starting:
                    raise ConfigError("the race has already started")
                designs = {
                    p.pid: p.design for p in self.participants.values() if p.design is not None
                }
                if not designs:
                    raise ConfigError("nobody has submitted a design yet")
                self._starting = True
            try:
                models = {pid: _build(self.setup, design) for pid, design in designs.items()}
            except BaseException:
                with self.lock:
                    self._starting = False
                raise
            with self.lock:
                for p in self.participants.values():  # a name removed meanwhile is not here
                    if p.pid in models:
                        p.model = models[p.pid]
                        self.history[p.pid] = []
                    else:
                        p.watcher = True
                self.phase, self._starting = "racing", False
                return len(self.history)

    def step(self) -> int:
        """Every organisation one week on, together; returns the week. The race finishes at
        the setup's last week. The models step outside :attr:`lock`; the week's values are
        recorded at once, so a reader sees every organisation at the same week."""
        with self.race_lock:
            with self.lock:
                if self.phase != "racing":
                    return self.week
                racers = self.racers
            values = {}
            for p in racers:
                assert p.model is not None
                p.model.step()
                values[p.pid] = _performance(p.model)
            with self.lock:
                for pid, value in values.items():
                    if pid in self.history:  # not removed meanwhile
                        self.history[pid].append(value)
                self.week += 1
                if self.week >= self.setup.weeks:
                    self.phase = "finished"
                return self.week

    def shock(self) -> int:
        """The teacher's shock for everyone: it lands on the coming week. Returns that week.
        Waits for a week being stepped, so that every organisation meets the shock at the
        same week."""
        with self.race_lock, self.lock:
            if self.phase != "racing":
                raise ConfigError("a shock can be given during the race only")
            coming = self.week + 1
            if coming in self.shock_weeks:
                return coming
            for p in self.racers:
                assert p.model is not None
                planned = p.model.problem.cfg.shock_at  # the model checks it every week
                planned.append(coming)
            self.shock_weeks = sorted({*self.shock_weeks, coming})
            return coming

    def end(self) -> None:
        with self.lock:
            self.phase = "ended"

    # --- readouts ----------------------------------------------------------------------------------
    def standings(self) -> list[dict[str, Any]]:
        """The leaderboard now: best performance first; equal performances share a rank
        (1, 2, 2, 4), ties listed in joining order."""
        with self.lock:
            rows = [
                {
                    "pid": p.pid,
                    "name": p.name,
                    "org": p.design.org if p.design else None,
                    "strategy": p.design.strategy if p.design else None,
                    "performance": self.history[p.pid][-1] if self.history.get(p.pid) else None,
                }
                for p in self.racers
            ]
        rows.sort(key=lambda r: -(r["performance"] if r["performance"] is not None else -1.0))
        rank = 0
        for i, row in enumerate(rows):
            if i == 0 or row["performance"] != rows[i - 1]["performance"]:
                rank = i + 1
            row["rank"] = rank
        return rows

    def public(self) -> dict[str, Any]:
        """What every page may know about the activity."""
        with self.lock:
            return {
                "code": self.code,
                "phase": self.phase,
                "week": self.week,
                "setup": self.setup.public(),
                "shocks": list(self.shock_weeks),
                "participants": [p.public() for p in self.participants.values()],
            }

    def results(self) -> pd.DataFrame:
        """One row per organisation: the design, the final and mean performance, the mean
        performance before and after the first shock, and the final rank."""
        with self.lock:
            first_shock = min(self.shock_weeks) if self.shock_weeks else None
            ranks = {r["pid"]: r["rank"] for r in self.standings()}
            rows = []
            for p in self.racers:
                assert p.design is not None
                perf = np.asarray(self.history[p.pid], dtype=float)
                row: dict[str, Any] = {
                    "rank": ranks.get(p.pid),
                    "name": p.name,
                    "org_form": display(p.design.org),
                    "strategy": display(p.design.strategy),
                    **{lever: getattr(p.design, lever) for lever in LEVERS},
                    "lever_sum": p.design.lever_sum,
                    "weeks": len(perf),
                    "final_performance": float(perf[-1]) if perf.size else math.nan,
                    "mean_performance": float(perf.mean()) if perf.size else math.nan,
                }
                if first_shock is not None:
                    before, after = perf[: first_shock - 1], perf[first_shock - 1 :]
                    row["mean_before_shock"] = float(before.mean()) if before.size else math.nan
                    row["mean_after_shock"] = float(after.mean()) if after.size else math.nan
                rows.append(row)
        table = pd.DataFrame(rows)
        if len(table):
            table = table.sort_values(["rank", "name"], kind="stable").reset_index(drop=True)
        return table

    def csv(self) -> str:
        """The class's results as CSV (what the debrief shows), with the problem in a header."""
        s = self.setup
        head = (
            f"# orgsim class activity {self.code}: problem {s.problem} (K={s.complexity}, "
            f"turbulence {s.turbulence}, {s.stakeholders} stakeholder groups, ambiguity "
            f"{s.ambiguity}), {s.size} people, seed {s.seed}, week {self.week} of {s.weeks}, "
            f"shocks at weeks {', '.join(map(str, self.shock_weeks)) or 'none'}\n"
        )
        table = self.results()
        # names are free text: a leading = + - @ would be a formula in a spreadsheet
        if len(table):
            table["name"] = table["name"].map(
                lambda n: "'" + n if n[:1] in ("=", "+", "-", "@") else n
            )
        return head + table.to_csv(index=False, float_format="%.4f")


def _performance(model: InnovationModel) -> float:
    """This week's performance (fitness / best possible now), the readout's and the chart's."""
    row = model.datacollector.tables["timeseries"]
    return round(float(row["performance"][-1]), 4)


def debrief(results: pd.DataFrame) -> dict[str, Any]:
    """Which choices did well on this problem: mean final performance (and after the first
    shock) by organisation form and by strategy, with n; each lever's rank correlation with the
    final performance. One run per design, so these are descriptions of this race, not effects:
    the replay says which differences were luck."""
    if results.empty:
        return {"by_form": [], "by_strategy": [], "levers": [], "n": 0}
    outcomes = [c for c in ("final_performance", "mean_after_shock") if c in results]

    def by(column: str) -> list[dict[str, Any]]:
        grouped = results.groupby(column)[outcomes]
        table = grouped.mean().round(4)
        table["n"] = grouped.size()
        table = table.sort_values("final_performance", ascending=False)
        return [{column: k, **v} for k, v in table.to_dict("index").items()]

    levers = []
    for lever in LEVERS:
        x = results[lever].to_numpy(dtype=float)
        y = results["final_performance"].to_numpy(dtype=float)
        rho = None
        if len(results) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            rho = round(float(pd.Series(x).corr(pd.Series(y), method="spearman")), 2)
        levers.append({"lever": display(lever), "spearman": rho})
    return {
        "by_form": by("org_form"),
        "by_strategy": by("strategy"),
        "levers": levers,
        "n": len(results),
    }
