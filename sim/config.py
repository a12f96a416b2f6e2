"""The configuration schema, its validation, and composition of `conf/` into a validated config.

The schema is a tree of dataclasses registered in Hydra's ConfigStore, so OmegaConf checks types
and rejects unknown keys when a preset or an override is merged. Ranges and allowed values are
declared once, as field metadata next to each setting, and checked by :func:`validate`, which
also checks the cross-field rules (``k < n``, team size against organisation size, ...).

Every user mistake surfaces as a :class:`ConfigError` whose message is one line naming the
setting and what is allowed; the command line prints it without a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


class ConfigError(ValueError):
    """A user's configuration mistake: one line naming the setting and what is allowed."""


def _num(default: Any, lo: float, hi: float, help: str) -> Any:
    return field(default=default, metadata={"range": (lo, hi), "help": help})


def _choice(default: str, choices: tuple[str, ...], help: str) -> Any:
    return field(default=default, metadata={"choices": choices, "help": help})


@dataclass
class ProblemConfig:
    """The wicked problem: an NK landscape plus turbulence, plurality and ambiguity."""

    name: str = "custom"
    n: int = _num(12, 2, 20, "number of choices in a way of working (N)")
    k: int = _num(3, 0, 19, "complexity: choices each choice depends on (K), 0..n-1")
    interaction: str = _choice(
        "random", ("random", "adjacent", "modular"), "dependency pattern of the choices"
    )
    turbulence: float = _num(0.0, 0.0, 1.0, "probability per step that requirements change (tau)")
    shock_share: float = _num(0.25, 0.0, 1.0, "share of the choices whose tables a shock redraws")
    shock_at: list[int] = field(
        default_factory=list, metadata={"help": "steps at which a scheduled shock happens"}
    )
    stakeholders: int = _num(1, 1, 10, "number of stakeholder groups (S)")
    stakeholder_correlation: float = _num(
        1.0,
        0.0,
        1.0,
        "correlation of each group's landscape with the shared one (rho); not negative: a "
        "group's values mix the shared tables with its own, and a negative weight would take "
        "fitness (and so performance) out of [0, 1]",
    )
    power_concentration: float = _num(
        0.0, 0.0, 1.0, "0: equal power of the groups; 1: the first group decides alone"
    )
    ambiguity: float = _num(0.0, 0.0, 1.0, "noise (sigma) through which fitness is seen")


@dataclass
class OrgConfig:
    """The organisation form: structural settings, each overridable on its own."""

    name: str = "custom"
    employees: int = _num(48, 2, 100_000, "number of employees")
    team_size: int = _num(6, 2, 1000, "employees per team")
    hierarchy_levels: int = _num(
        3, 0, 10, "manager levels above the teams (0: no hierarchy, teams decide)"
    )
    span_of_control: int = _num(3, 1, 100, "units a manager above team level oversees")
    decision_rule: str = _choice(
        "hierarchy",
        ("hierarchy", "project_lead", "team_consent"),
        "who decides on a change: up the chain, the team's lead, or the team by consent",
    )
    approval_delay: int = _num(1, 0, 52, "steps (weeks) a proposal waits at each decision level")
    manager_attention: int = _num(
        4, 1, 1000, "proposals a manager can judge per step (bounded attention)"
    )
    domain_breadth: int = _num(2, 1, 20, "choices an employee can work on (at most n)")
    cross_functional: float = _num(
        0.0, 0.0, 1.0, "share of an employee's domain outside the team's own choices"
    )
    team_fluidity: float = _num(
        0.0, 0.0, 1.0, "probability per step that an employee moves to another team"
    )
    network: str = _choice(
        "hierarchy",
        ("hierarchy", "teams_bridged", "small_world"),
        "communication network: along the hierarchy, dense teams with bridges, or small world",
    )
    network_degree: int = _num(4, 2, 100, "ties per employee (ring/small-world lattice degree)")
    bridges: float = _num(0.1, 0.0, 1.0, "share of employees with a tie into another team")
    rewiring: float = _num(0.0, 0.0, 1.0, "share of ties rewired per step (network fluidity)")
    rewards: str = _choice("individual", ("individual", "team"), "what rewards are based on")
    formalisation: float = _num(0.5, 0.0, 1.0, "rule-boundness: how far rules damp exploration")
    partners: int = _num(6, 0, 10_000, "external partners (customers, suppliers, institutes)")


@dataclass
class LeversConfig:
    """Volberda's social-innovation levers and the R&D budget, each an intensity in [0, 1]."""

    name: str = "custom"
    flexible_organising: float = _num(0.5, 0.0, 1.0, "decision rights pushed down, fluidity")
    dynamic_managing: float = _num(0.5, 0.0, 1.0, "absorptive capacity and visionary alignment")
    smarter_working: float = _num(0.5, 0.0, 1.0, "talent development, team rewards, autonomy")
    cocreation: float = _num(0.5, 0.0, 1.0, "partner interaction and stakeholder involvement")
    rd_budget: float = _num(0.5, 0.0, 1.0, "search effort: ideas tried per step, and its cost")


@dataclass
class StrategyConfig:
    """Incremental (experiential), planning (cognitive) or hybrid (plan, then adapt)."""

    name: str = _choice(
        "incremental", ("incremental", "planning", "hybrid"), "how the organisation searches"
    )
    sprint_length: int = _num(2, 1, 52, "incremental: steps per sprint before a review")
    max_change_size: int = _num(2, 1, 20, "largest number of choices one idea changes")
    analysis_steps: int = _num(4, 0, 104, "planning: steps of analysis before a plan exists")
    horizon: int = _num(16, 1, 520, "planning: steps a plan is executed before evaluation")
    attention: int = _num(6, 1, 20, "planning: choices top management attends to, at base")
    implementation_rate: int = _num(
        3, 1, 20, "choices the organisation can change per step (either strategy)"
    )
    undo_failed: bool = field(
        default=True, metadata={"help": "undo changes (or a plan) that the review finds worse"}
    )


@dataclass
class OrgsimConfig:
    """One simulation: a problem, an organisation, levers, a strategy, a length and seeds."""

    problem: ProblemConfig = field(default_factory=ProblemConfig)
    org: OrgConfig = field(default_factory=OrgConfig)
    levers: LeversConfig = field(default_factory=LeversConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    steps: int = _num(100, 1, 100_000, "steps (weeks) to simulate")
    seed: int = _num(0, 0, 2**63 - 1, "master seed: problem and people streams derive from it")
    replication: int = _num(
        0,
        0,
        99_999,
        "which replication of the master seed (0, 1, ...): each gives its own problem and "
        "people streams, the same in every arm of a comparison (common random numbers)",
    )
    problem_seed: int | None = field(
        default=None,
        metadata={
            "range": (0, 2**63 - 1),
            "help": "seed of the problem stream (landscape, shocks); default derived from seed",
        },
    )
    agent_seed: int | None = field(
        default=None,
        metadata={
            "range": (0, 2**63 - 1),
            "help": "seed of the people stream (agents, activation); default derived from seed",
        },
    )


@dataclass
class RunConfig(OrgsimConfig):
    """A run on the command line: the model's config plus run-level bookkeeping.

    These keys never reach the model and are not part of a run's id (see ``sim.store``): where
    results go, how many replications, which experiment a sweep belongs to. Experiments
    (``conf/experiment/*.yaml``) may set any of them.
    """

    replications: int = _num(
        1, 1, 100_000, "replications per configuration: replication=0..R-1 (a seed sweep)"
    )
    results_dir: str = field(
        default="results", metadata={"help": "folder of the run store and the sweep tables"}
    )
    experiment: str = field(
        default="none", metadata={"help": "name of the experiment a run or sweep belongs to"}
    )
    chunk_size: int = _num(
        0,
        0,
        1_000_000,
        "runs per sweep job (0: automatic, a few chunks per worker of seconds to a minute each)",
    )
    chunk: str = field(
        default="",
        metadata={"help": "internal: the chunk file a sweep job runs (set by the engine)"},
    )
    allow_large: bool = field(
        default=False,
        metadata={"help": "run even when the memory estimate exceeds what the machine has"},
    )
    timeseries: bool = field(
        default=True,
        metadata={"help": "store every run's timeseries in a sweep (false: summaries only)"},
    )
    plot: bool = field(default=True, metadata={"help": "write a performance plot per run"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar in a single run"})


def register_schema() -> None:
    """Register the schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="orgsim_schema", node=OrgsimConfig)
    cs.store(name="orgsim_run_schema", node=RunConfig)


# --- validation -----------------------------------------------------------------------------


def _describe(meta: dict[str, Any], typ: Any) -> str:
    if "choices" in meta:
        return "one of " + ", ".join(meta["choices"])
    if "range" in meta:
        lo, hi = meta["range"]
        kind = "an integer" if typ in (int, "int", "int | None") else "a number"
        return f"{kind} in [{lo}, {hi}]"
    return str(typ)


def _check_fields(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            _check_fields(value, key + ".")
            continue
        meta = f.metadata
        if value is None:
            continue
        if "choices" in meta and value not in meta["choices"]:
            raise ConfigError(f"{key}={value!r} is not allowed: use {_describe(meta, f.type)}")
        if "range" in meta:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{key}={value!r} must be {_describe(meta, f.type)}")
            lo, hi = meta["range"]
            if not lo <= value <= hi:
                raise ConfigError(f"{key}={value!r} is out of range: use {_describe(meta, f.type)}")


def validate(cfg: OrgsimConfig) -> OrgsimConfig:
    """Check every range and the cross-field rules; raise ConfigError with one clear line."""
    _check_fields(cfg, "")
    p, o, s = cfg.problem, cfg.org, cfg.strategy
    if p.k >= p.n:
        raise ConfigError(f"problem.k={p.k} must be less than problem.n={p.n} (allowed: 0..n-1)")
    if o.domain_breadth > p.n:
        raise ConfigError(
            f"org.domain_breadth={o.domain_breadth} exceeds problem.n={p.n} (allowed: 1..n)"
        )
    if o.team_size > o.employees:
        raise ConfigError(
            f"org.team_size={o.team_size} exceeds org.employees={o.employees} "
            "(allowed: 2..employees)"
        )
    if s.max_change_size > p.n:
        raise ConfigError(
            f"strategy.max_change_size={s.max_change_size} exceeds problem.n={p.n} (allowed: 1..n)"
        )
    if s.max_change_size > s.implementation_rate:
        raise ConfigError(
            f"strategy.max_change_size={s.max_change_size} exceeds "
            f"strategy.implementation_rate={s.implementation_rate} (an idea must fit the "
            "capacity for change; allowed: 1..implementation_rate)"
        )
    if s.attention > p.n:
        raise ConfigError(
            f"strategy.attention={s.attention} exceeds problem.n={p.n} (allowed: 1..n)"
        )
    bad = [t for t in p.shock_at if not isinstance(t, int) or t < 1]
    if bad:
        raise ConfigError(f"problem.shock_at={list(p.shock_at)} must list steps >= 1")
    if o.decision_rule in ("hierarchy", "project_lead") and o.hierarchy_levels == 0:
        who = "managers to approve" if o.decision_rule == "hierarchy" else "project leads"
        raise ConfigError(
            f"org.decision_rule={o.decision_rule} needs org.hierarchy_levels >= 1 (its {who}); "
            "or use org.decision_rule=team_consent"
        )
    return cfg


# --- what a run needs ----------------------------------------------------------------------------
#: bytes per communication tie in networkx (both directions, attribute dicts), measured
BYTES_PER_TIE = 200
BYTES_PER_EMPLOYEE = 4_000


def estimate_memory(cfg: OrgsimConfig) -> dict[str, float]:
    """A model's memory, in bytes, by what needs it: the landscapes (the shared NK tables, each
    stakeholder group's own and mixed tables, and value tables over all 2**n ways of working)
    and the people (agents and their communication ties). A rough upper estimate, measured on
    this project's machines: its purpose is to refuse at the door what cannot fit."""
    p, o = cfg.problem, cfg.org
    tables = 8.0 * p.n * 2 ** (p.k + 1) * (2 * p.stakeholders + 2)
    values = 8.0 * 2**p.n * (2 * p.stakeholders + 6)
    if o.network == "teams_bridged":
        ties = o.employees * (min(o.team_size, o.employees) - 1) / 2
    else:
        ties = o.employees * o.network_degree / 2
    people = o.employees * BYTES_PER_EMPLOYEE + (ties + o.employees * o.bridges) * BYTES_PER_TIE
    return {"landscape": tables + values, "people": people}


def available_memory() -> float:
    """Bytes this process may still use: the smaller of what the system has available and what
    the cgroup (container) limit leaves."""
    available = float("inf")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit.isdigit():
            available = min(available, float(limit) - float(used))
    except OSError:
        pass
    if available == float("inf"):
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        available = float(pages * size)
    return available


def check_resources(cfg: OrgsimConfig, available: float | None = None) -> None:
    """Refuse a run that cannot fit in memory, naming the settings responsible."""
    need = estimate_memory(cfg)
    total = sum(need.values())
    room = 0.8 * (available_memory() if available is None else available)
    if total <= room:
        return
    p, o = cfg.problem, cfg.org
    if need["landscape"] >= need["people"]:
        culprits = f"problem.n={p.n}, problem.k={p.k}, problem.stakeholders={p.stakeholders}"
        hint = "lower problem.n or problem.k (tables grow as 2**n and 2**k) or stakeholders"
    else:
        culprits = f"org.employees={o.employees}, org.team_size={o.team_size}"
        hint = "fewer employees or smaller teams (ties inside a team grow with its size squared)"
    raise ConfigError(
        f"{culprits} need about {total / 1e9:.1f} GB of memory; this machine has "
        f"{room / 0.8 / 1e9:.1f} GB available: {hint} (or allow_large=true to try anyway)"
    )


def validate_run(cfg: RunConfig) -> RunConfig:
    """:func:`validate` plus the run-level settings: names, and whether the run fits."""
    validate(cfg)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", str(cfg.experiment)) or ".." in str(
        cfg.experiment
    ):
        raise ConfigError(
            f"experiment={cfg.experiment!r} is not allowed: use letters, digits, '_', '-' and "
            "'.' (it names a folder under results_dir)"
        )
    if not cfg.allow_large:
        check_resources(cfg)
    if not str(cfg.results_dir).strip():
        raise ConfigError("results_dir is empty: give a folder, e.g. results_dir=results")
    return cfg


def to_config(config: OrgsimConfig | DictConfig | dict[str, Any]) -> OrgsimConfig:
    """Turn a DictConfig, a plain dict or an OrgsimConfig into a validated OrgsimConfig."""
    if isinstance(config, OrgsimConfig):
        return validate(config)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(OrgsimConfig), config)
        obj = OmegaConf.to_object(merged)
    except Exception as exc:  # omegaconf validation errors -> one line
        raise ConfigError(friendly_error(exc)) from None
    assert isinstance(obj, OrgsimConfig)
    return validate(obj)


# --- settings as flat dicts (the engine's form of a run) ---------------------------------------
# A run travels from the design to a sweep job as flat settings (``{"problem.k": 3, ...}``); these
# turn them into the model's config. They live here, in the model's own schema module, so that
# the code fingerprint of a run (sim/provenance.py) covers them.
MODEL_GROUPS: dict[str, type] = {
    "problem": ProblemConfig,
    "org": OrgConfig,
    "levers": LeversConfig,
    "strategy": StrategyConfig,
}
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(OrgsimConfig))


def _field_types() -> dict[str, str]:
    types: dict[str, str] = {}
    for f in dataclasses.fields(OrgsimConfig):
        if f.name in MODEL_GROUPS:
            for g in dataclasses.fields(MODEL_GROUPS[f.name]):
                types[f"{f.name}.{g.name}"] = str(g.type)
        else:
            types[f.name] = str(f.type)
    return types


FIELD_TYPES = _field_types()


def _coerce(key: str, value: Any) -> Any:
    """A value as its schema type, so ``1`` and ``1.0`` give the same run id."""
    kind = FIELD_TYPES.get(key)
    if kind is None:
        raise ConfigError(f"{key} is not a known setting (see `orgsim --help` or docs/ODD.md)")
    if value is None:
        if "None" in kind:
            return None
        raise ConfigError(f"{key}=null is not allowed: give a value")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}={value!r} must be a number")
        return float(value)
    if kind.startswith("int"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r} must be an integer")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} must be true or false")
        return value
    if kind.startswith("list"):
        items = json.loads(value) if isinstance(value, str) else list(value)
        return [int(v) if isinstance(v, float) and v.is_integer() else v for v in items]
    return str(value)


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """A flat model config (dotted keys) as the nested dict a model is built from."""
    out: dict[str, Any] = {g: {} for g in MODEL_GROUPS}
    for key, value in flat.items():
        value = _coerce(key, value)
        if "." in key:
            group, name = key.split(".", 1)
            out[group][name] = value
        else:
            out[key] = value
    return out


def config_of(flat: dict[str, Any]) -> OrgsimConfig:
    """A validated model config from its flat settings (one clear line for a mistake)."""
    tree = nested(flat)
    groups = {g: MODEL_GROUPS[g](**tree.pop(g)) for g in MODEL_GROUPS}
    cfg = OrgsimConfig(**groups, **tree)
    return validate(cfg)


def flat_of(cfg: OrgsimConfig) -> dict[str, Any]:
    """A model config's settings, flattened with dots, lists kept as lists."""
    out: dict[str, Any] = {}
    for name in MODEL_FIELDS:
        value = getattr(cfg, name)
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                item = getattr(value, f.name)
                out[f"{name}.{f.name}"] = list(item) if isinstance(item, list) else item
        else:
            out[name] = value
    return out


# --- composition ----------------------------------------------------------------------------


def _available(group: str, conf_dir: Path) -> list[str]:
    folder = conf_dir / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _broken_yaml(conf_dir: Path) -> str:
    """Which config file does not parse, and where (YAML's own errors name no file)."""
    import yaml

    for path in sorted(conf_dir.rglob("*.yaml")):
        try:
            yaml.safe_load(path.read_text())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" line {mark.line + 1}" if mark is not None else ""
            return f"{path}{where} is not valid YAML: {exc.problem or exc.context}"
        except (OSError, yaml.YAMLError):
            continue
    return ""


def friendly_error(exc: BaseException, conf_dir: Path | None = None) -> str:
    """Turn a Hydra/OmegaConf exception into one line naming the setting and what is allowed."""
    conf_dir = conf_dir or CONF_DIR
    text = str(exc)
    if exc.__cause__ is not None:  # Hydra wraps OmegaConf's precise message
        text = f"{text}\n{exc.__cause__}"
    m = re.search(r"Could not find '([^']+)/([^'/]*)'", text)
    if m:
        group, name = m.group(1), m.group(2)
        first, _, rest = m.group(1).partition("/")
        if (conf_dir / first).is_dir() and first != "hydra":  # experiment=../../x
            group, name = first, f"{rest}/{m.group(2)}" if rest else m.group(2)
        options = _available(group, conf_dir)
        return f"{group}={name} is not a known preset (allowed: {', '.join(options)})"
    m = re.search(r"Key '([^']+)' not in '(\w+)'", text) or re.search(
        r"Could not override '([^']+)'", text
    )
    key_match = re.search(r"full_key: ([\w.\[\]]+)", text)
    if m and ("not in" in text or "Could not override" in text):
        key = key_match.group(1) if key_match else m.group(1)
        return f"{key} is not a known setting (see `orgsim --help` or docs/ODD.md)"
    m = re.search(r"Value '([^']*)' (?:of type '\w+' )?could not be converted to (\w+)", text)
    if m and key_match:
        kind = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false"}.get(
            m.group(2), m.group(2)
        )
        return f"{key_match.group(1)}={m.group(1)!r} must be {kind}"
    m = re.search(r"Value '([^']*)' is not a valid bool", text)
    if m and key_match:
        return f"{key_match.group(1)}={m.group(1)!r} must be true or false"
    m = re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]", text)
    if m and key_match:
        return f"{key_match.group(1)}={m.group(1)!r} is not allowed: use one of {m.group(2)}"
    if "while parsing" in text or "while scanning" in text or "mapping values" in text:
        broken = _broken_yaml(conf_dir)
        if broken:
            return broken
    m = re.search(r"field '([\w.]+)' is not Optional", text)
    if m:
        key = key_match.group(1) if key_match else m.group(1)
        return f"{key}=null is not allowed: give a value (see `orgsim --cfg job` for the default)"
    m = re.search(r"Invalid value assigned: (\w+) is not a ListConfig", text)
    if m and key_match:
        return f"{key_match.group(1)} must be a list, e.g. {key_match.group(1)}=[50,80]"
    m = re.search(r"LexerNoViableAltException: (.*)", text)
    if m:
        return (
            f"could not read the override {m.group(1).strip()!r}: quote values with spaces or "
            "special characters, e.g. org.name='my org'"
        )
    if "mismatched input" in text or "extraneous input" in text or "no viable alternative" in text:
        return f"could not parse an override: {text.splitlines()[0]}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first


def model_part(cfg: DictConfig) -> DictConfig:
    """The keys of a composed config that the model's schema describes (run-level keys such
    as ``hydra`` or an experiment's bookkeeping are dropped)."""
    names = {f.name for f in dataclasses.fields(OrgsimConfig)}
    return OmegaConf.create({k: v for k, v in cfg.items() if k in names})


def compose_config(
    overrides: list[str] | None = None, config_dir: str | os.PathLike[str] | None = None
) -> DictConfig:
    """Compose `conf/` with Hydra and the given overrides; return the validated config.

    Raises :class:`ConfigError` (one line naming the setting and what is allowed) for an unknown
    preset, an unknown key, a wrong type, a value out of range or ``k >= n``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    conf_dir = Path(config_dir) if config_dir else CONF_DIR
    if GlobalHydra.instance().is_initialized():
        raise RuntimeError("compose_config() cannot run inside a Hydra app: use to_config(cfg)")
    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            cfg = compose(config_name="config", overrides=list(overrides or []))
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(friendly_error(exc, conf_dir)) from None
    # run-level keys (hydra, experiment bookkeeping) are not part of the model's schema
    to_config(model_part(cfg))
    return cfg
