"""A sweep's design: which runs it asks for, expanded and validated once, before anything runs.

A design is kept apart from its execution (:mod:`sim.engine` runs any design). It is the
product of

* a **grid**: Hydra override sweeps (``strategy=incremental,planning problem.k=0,3,6``), from
  the command line and from an experiment's ``hydra.sweeper.params``; the command line wins
  for a key both set;
* an optional **sample**: points drawn by SALib over declared factors (``hydra.sweeper.sample``
  in an experiment file; samplers ``sobol``, ``morris`` and ``lhs``), each point a set of
  values of dotted settings;
* **replications**: ``replication = 0 .. replications-1`` (unless ``replication`` is set or
  swept), each with the same seed in every cell and point (common random numbers).

Every run is a complete, validated model config and its content address (:func:`run_id`:
config + code fingerprint). Group choices are composed by Hydra once per distinct combination
(the slow part, ~0.2 s); values, sample points, seeds and replications are applied to a copy and
checked against the schema directly, so a 100,000-run design expands in seconds.

Sample spec (``hydra.sweeper.sample``)::

    sample:
      seed: 0                      # the sampler's seed
      factors:                     # dotted settings and their ranges
        levers.cocreation: {bounds: [0.0, 1.0]}
        problem.k: {bounds: [0, 11], type: int}   # sampled on [lo, hi + 1) and floored
      methods:                     # one or more samplers; their points are stacked
        - {method: morris, trajectories: 20, levels: 4}
        - {method: sobol, n: 256}                 # Saltelli: n x (factors + 2) points
        - {method: lhs, n: 2000}                  # Latin hypercube
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.config import (
    CONF_DIR,
    FIELD_TYPES,
    MODEL_GROUPS,
    ConfigError,
    OrgsimConfig,
    RunConfig,
    config_of,
    flat_of,
    friendly_error,
    nested,
    register_schema,
)

GROUPS = {p.name for p in CONF_DIR.iterdir() if p.is_dir()} if CONF_DIR.is_dir() else set()
#: settings applied per run without composing (they only select random streams)
PER_RUN = ("seed", "replication")
SAMPLERS = ("sobol", "morris", "lhs")


@dataclass
class Run:
    """One run of a design: its id, its labels (design point) and its settings, flattened."""

    run_id: str
    labels: dict[str, Any]
    settings: dict[str, Any]


@dataclass
class Design:
    """An expanded design: runs in design order, plus what produced them (for ``sweep.json``)."""

    experiment: str
    runs: list[Run]
    fingerprint: str
    grid: dict[str, list[str]] = field(default_factory=dict)
    sample: dict[str, Any] | None = None
    base: list[str] = field(default_factory=list)
    replications: int = 1
    run_settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.runs)

    def describe(self) -> dict[str, Any]:
        """What produced the design, for the sweep folder and the reports."""
        out: dict[str, Any] = {
            "name": self.experiment,
            "kind": "sample" if self.sample else "grid",
            "base": list(self.base),
            "params": {k: list(v) for k, v in self.grid.items()},
            "replications": self.replications,
            "runs": len(self.runs),
            "code_fingerprint": self.fingerprint,
        }
        if self.sample:
            out["salib"] = self.sample
        return out


def run_id(flat: dict[str, Any], fingerprint: str) -> str:
    """The run's content address (see :func:`sim.store.run_id`) from its flat settings."""
    from sim.store import run_id as content_address

    return content_address(nested(flat), fingerprint)


# --- composing ------------------------------------------------------------------------------------
def parse_overrides(overrides: Sequence[str]) -> list[Any]:
    """Hydra's override parser; a mistake is one line (:class:`ConfigError`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None


def is_group(key: str) -> bool:
    return "." not in key and key.split("/")[0] in GROUPS


def compose(overrides: Sequence[str], with_hydra: bool = False) -> DictConfig:
    """Hydra's composition of ``conf/`` (inside a running Hydra app or not)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    try:
        if GlobalHydra.instance().is_initialized():
            return hydra_compose(
                config_name="config", overrides=list(overrides), return_hydra_config=with_hydra
            )
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(
                config_name="config", overrides=list(overrides), return_hydra_config=with_hydra
            )
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None


def run_config(cfg: DictConfig) -> RunConfig:
    """A composed config (without its hydra node) as a validated RunConfig."""
    from sim.config import validate_run

    try:
        plain = {k: v for k, v in cfg.items() if k != "hydra"}
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), plain)
        obj = OmegaConf.to_object(merged)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None
    assert isinstance(obj, RunConfig)
    return validate_run(obj)


class Composer:
    """Composes cells: Hydra once per distinct set of group choices, values applied to a copy
    with Hydra's own override code (same semantics and errors, ~100x faster)."""

    def __init__(self, primary: tuple[DictConfig, dict[str, str]] | None = None) -> None:
        self._bases: dict[tuple[str, ...], DictConfig] = {}
        self._choices: dict[str, str] = {}
        if primary is not None:  # the running Hydra app's own composition: no need to redo it
            self._bases[()] = primary[0]
            self._choices = {str(k): str(v) for k, v in primary[1].items()}

    def __call__(self, overrides: Sequence[str]) -> RunConfig:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        parsed = parse_overrides(overrides)
        groups = tuple(o.input_line for o in parsed if is_group(o.key_or_group))
        if all(
            self._choices.get(o.key_or_group) == o.get_value_element_as_str()
            for o in parsed
            if is_group(o.key_or_group)
        ):
            groups = ()  # the same choices as the running app's own composition
        values = [
            o
            for o in parsed
            if not is_group(o.key_or_group) and not o.key_or_group.startswith("hydra")
        ]
        if any(o.is_add() or o.is_delete() or o.is_force_add() for o in values):
            return run_config(compose(list(overrides)))
        if groups not in self._bases:
            self._bases[groups] = compose(list(groups))  # every group choice, not only changes
        cfg = copy.deepcopy(self._bases[groups])
        try:
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        except Exception as exc:
            raise ConfigError(friendly_error(exc)) from None
        return run_config(cfg)


# --- sampling ---------------------------------------------------------------------------------------
def schema_range(key: str) -> tuple[float, float] | None:
    """The allowed range of a dotted setting, from the schema's field metadata (None: no range)."""
    group, _, name = key.partition(".")
    fields = (
        {f.name: f for f in dataclasses.fields(MODEL_GROUPS[group] if name else OrgsimConfig)}
        if (group in MODEL_GROUPS or not name)
        else {}
    )
    f = fields.get(name or group)
    return f.metadata.get("range") if f is not None else None


def check_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """Validate a sample spec; return it with a SALib ``problem``. One line per mistake."""
    if not isinstance(sample, dict):
        raise ConfigError("hydra.sweeper.sample must be a mapping with factors and methods")
    factors = sample.get("factors") or {}
    if not isinstance(factors, dict) or not factors:
        raise ConfigError("hydra.sweeper.sample.factors: declare at least one factor")
    names, bounds = [], []
    for key, spec in factors.items():
        key = str(key)
        if key not in FIELD_TYPES or key in ("seed", "replication", "problem_seed", "agent_seed"):
            raise ConfigError(
                f"sample factor {key} is not a setting that can be sampled "
                "(see docs/ODD.md for the settings)"
            )
        allowed = schema_range(key)
        if allowed is None or FIELD_TYPES[key] not in ("float", "int"):
            raise ConfigError(f"sample factor {key}: only numeric settings can be sampled")
        try:
            lo, hi = (float(b) for b in spec["bounds"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"sample factor {key}: give bounds: [low, high]") from None
        if not lo < hi:
            raise ConfigError(
                f"sample factor {key}: empty range [{lo:g}, {hi:g}] (need low < high)"
            )
        if lo < allowed[0] or hi > allowed[1]:
            raise ConfigError(
                f"sample factor {key}: range [{lo:g}, {hi:g}] is outside the allowed values "
                f"[{allowed[0]:g}, {allowed[1]:g}]"
            )
        is_int = spec.get("type", FIELD_TYPES[key]) == "int"
        names.append(key)
        bounds.append([lo, hi + 1 - 1e-9] if is_int else [lo, hi])
    methods = sample.get("methods") or []
    if isinstance(methods, dict):
        methods = [methods]
    if not methods:
        raise ConfigError("hydra.sweeper.sample.methods: name at least one of sobol, morris, lhs")
    for m in methods:
        if not isinstance(m, dict) or m.get("method") not in SAMPLERS:
            raise ConfigError(
                f"hydra.sweeper.sample.methods: {m!r} is not a sampler (allowed: "
                f"{', '.join(SAMPLERS)})"
            )
    out = dict(sample)
    out["methods"] = [dict(m) for m in methods]
    out["factors"] = {str(k): dict(v) for k, v in factors.items()}
    out["problem"] = {"num_vars": len(names), "names": names, "bounds": bounds}
    return out


def sample_points(sample: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, float]]]:
    """``(method, index, {factor: raw value})`` for every point of every sampler."""
    import numpy as np
    from SALib.sample import latin
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = sample["problem"]
    seed = int(sample.get("seed", 0))
    for spec in sample["methods"]:
        method = spec["method"]
        try:
            if method == "sobol":
                points = sobol_sample.sample(
                    problem, int(spec.get("n", 64)), calc_second_order=False, seed=seed
                )
            elif method == "morris":
                points = morris_sample.sample(
                    problem,
                    int(spec.get("trajectories", 10)),
                    num_levels=int(spec.get("levels", 4)),
                    seed=seed,
                )
            else:
                points = latin.sample(problem, int(spec.get("n", 100)), seed=seed)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"hydra.sweeper.sample ({method}): {exc}") from None
        points = np.asarray(points, dtype=float)
        for index, row in enumerate(points):
            yield method, index, dict(zip(problem["names"], map(float, row), strict=True))


def factor_value(sample: dict[str, Any], key: str, raw: float) -> Any:
    """A sampler's raw value as the setting's value: integers floored into their range."""
    if sample["factors"][key].get("type", FIELD_TYPES[key]) == "int":
        lo, hi = (int(b) for b in sample["factors"][key]["bounds"])
        return int(min(hi, max(lo, math.floor(raw))))
    return float(raw)


# --- expansion ----------------------------------------------------------------------------------
def grid_cells(grid: dict[str, str]) -> list[list[str]]:
    """The Cartesian product of the grid's sweeps, as override lists (Hydra's own expansion)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed = parse_overrides([f"{k}={v}" for k, v in grid.items()])
    for o in parsed:
        if o.is_sweep_override() and not o.is_discrete_sweep():
            raise ConfigError(
                f"{o.input_line}: only lists (a,b,c) and range(...) sweeps are supported"
            )
    try:
        return [list(cell) for cell in BasicSweeper.split_arguments(parsed, None)[0]]
    except Exception as exc:
        raise ConfigError(friendly_error(exc)) from None


def split_command_line(
    arguments: Sequence[str], params: Any = None, sample: Any = None
) -> tuple[list[str], dict[str, str], dict[str, Any] | None]:
    """A command line and a sweeper's config as a design's parts: the fixed overrides, the grid
    (the sweeper's ``params`` with the command line's sweeps on top) and the sample spec."""
    parsed = parse_overrides(arguments)
    base = [o.input_line for o in parsed if not o.is_sweep_override()]
    grid = {str(k): str(v) for k, v in (params or {}).items()}
    grid.update(
        {o.key_or_group: o.input_line.split("=", 1)[1] for o in parsed if o.is_sweep_override()}
    )
    if sample is not None and not isinstance(sample, dict):
        sample = OmegaConf.to_container(sample, resolve=True)
    return base, grid, sample or None


def expand(
    base: Sequence[str],
    grid: dict[str, str] | None = None,
    sample: dict[str, Any] | None = None,
    fingerprint: str | None = None,
    primary: tuple[DictConfig, dict[str, str]] | None = None,
) -> Design:
    """Expand and validate a design: ``base`` overrides for every run, a grid (key -> Hydra
    sweep string), an optional sample spec; replications from the composed config."""
    from sim.provenance import code_fingerprint
    from sim.store import run_id as content_address

    fingerprint = fingerprint or code_fingerprint()
    base_parsed = parse_overrides(base)
    fixed = {o.key_or_group for o in base_parsed}
    # a key set on the command line wins over the same key swept by an experiment file
    grid = {k: v for k, v in (grid or {}).items() if k not in fixed}
    per_run = {k: grid.pop(k) for k in PER_RUN if k in grid}
    for o in base_parsed:
        if o.key_or_group in PER_RUN and o.key_or_group not in per_run:
            per_run[o.key_or_group] = o.get_value_element_as_str()
    cell_overrides = [o.input_line for o in base_parsed if o.key_or_group not in PER_RUN]
    composer = Composer(primary)
    cells = grid_cells(grid) if grid else [[]]
    sample = check_sample(sample) if sample else None
    points = list(sample_points(sample)) if sample else [(None, None, {})]
    first = composer(cell_overrides + cells[0])
    seed_values = _per_run_values(per_run.get("seed"), [first.seed])
    replication_values = _per_run_values(
        per_run.get("replication"), list(range(first.replications))
    )
    for key, values in (("seed", seed_values), ("replication", replication_values)):
        top = 2**63 - 1 if key == "seed" else 99_999
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
                raise ConfigError(f"{key}={v!r} is out of range: use an integer in [0, {top}]")
    runs: list[Run] = []
    base_flat = flat_of(first)
    for cell in cells:
        cfg = composer(cell_overrides + cell)
        if cfg.replications != first.replications:
            raise ConfigError("replications cannot be swept: sweep replication=... instead")
        cell_flat = flat_of(cfg)
        labels_cell = {"experiment": cfg.experiment, "replications": len(replication_values)}
        for method, index, raw in points:
            point = dict(cell_flat)
            labels = dict(labels_cell)
            if method is not None:
                assert sample is not None
                point.update({k: factor_value(sample, k, v) for k, v in raw.items()})
                labels.update({"design": method, "sample": index})
                labels.update({f"x.{k}": v for k, v in raw.items()})
                config_of(point)  # a sampled point must be a valid config (e.g. k < n)
            # per run only the seed and the replication change: coerce, nest and diff the
            # point once (the id is the same as run_id(flat) -- a test holds the two equal)
            tree = nested(point)
            diff = {
                k: v
                for k, v in point.items()
                if base_flat.get(k) != v and k not in ("seed", "replication")
            }
            for seed in seed_values:
                for replication in replication_values:
                    tree["seed"], tree["replication"] = seed, replication
                    settings = dict(diff)
                    if base_flat.get("seed") != seed:
                        settings["seed"] = seed
                    if base_flat.get("replication") != replication:
                        settings["replication"] = replication
                    runs.append(Run(content_address(tree, fingerprint), labels, settings))
    if not runs:
        raise ConfigError("the sweep has no runs")
    return Design(
        experiment=first.experiment,
        runs=runs,
        fingerprint=fingerprint,
        grid={k: [str(v) for v in _per_run_values(grid[k], [])] for k in grid}
        | {k: [str(v) for v in _per_run_values(per_run[k], [])] for k in per_run},
        sample=sample,
        base=list(base),
        replications=len(replication_values),
        run_settings={
            "base": base_flat,
            "results_dir": first.results_dir,
            "chunk_size": first.chunk_size,
            "plot": first.plot,
            "progress": first.progress,
            "timeseries": first.timeseries,
        },
    )


def _per_run_values(sweep: str | None, default: list[int]) -> list[Any]:
    """The values of a per-run key (``seed``, ``replication``): a sweep, one value or default."""
    if sweep is None:
        return default
    parsed = parse_overrides([f"x={sweep}"])[0]
    if parsed.is_sweep_override():
        if not parsed.is_discrete_sweep():
            raise ConfigError(f"{sweep}: only lists and range(...) sweeps are supported")
        return [_literal(v) for v in parsed.sweep_string_iterator()]
    return [_literal(parsed.get_value_element_as_str())]


def _literal(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text
