"""Each experiment's quick variant runs end to end through the command line, with the
experiment's own settings, and `orgsim-report` builds that experiment's report from its folder.

The quick variants (every ``conf/experiment/*_quick.yaml``) run as a researcher runs them,
``orgsim -m experiment=NAME_quick results_dir=DIR`` then ``orgsim-report SWEEP_DIR``, all at
once in one module fixture (their start-up overlaps). What each table must hold is read from
the experiment's yaml file, never hard-coded here.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from support.commands import console_script

from sim import store
from sim.engine import design_from_overrides

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "conf" / "experiment"
QUICK = sorted(p.stem for p in EXPERIMENTS.glob("*_quick.yaml"))
HEADER = re.compile(r"orgsim: sweep of (\d+) runs \(.*\): (?P<dir>\S+)")


def experiment_file(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text()) or {}


def parents(name: str) -> list[str]:
    """The experiment files an experiment file builds on (its own `defaults` entries)."""
    entries = experiment_file(name).get("defaults") or []
    return [e for e in entries if isinstance(e, str) and e != "_self_"]


def setting(name: str, dotted: str) -> Any:
    """A setting as the experiment's files give it (the file, then the files it builds on);
    ``None`` when none of them sets it."""
    node: Any = experiment_file(name)
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        return node
    for parent in parents(name):
        value = setting(parent, dotted)
        if value is not None:
            return value
    return None


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def sweeper(name: str, key: str) -> Any:
    """``hydra.sweeper.<key>`` of an experiment: its own, else that of a file it builds on;
    a ``sample`` is merged key by key like Hydra does."""
    own = ((experiment_file(name).get("hydra") or {}).get("sweeper") or {}).get(key)
    inherited = [sweeper(p, key) for p in parents(name)]
    if key == "sample":  # mappings merge key by key, all the way down; lists are replaced
        merged: dict[str, Any] = {}
        for spec in [*inherited, own]:
            merged = deep_merge(merged, spec or {})
        return merged or None
    return own if own is not None else next((v for v in inherited if v is not None), None)


def column(key: str) -> str:
    """The table column of a swept key: a group's preset shows as its name."""
    return f"{key}.name" if "." not in key else key


@dataclass
class Outcome:
    """One quick experiment: its orgsim process, its sweep folder, its orgsim-report process."""

    run: subprocess.CompletedProcess[str]
    sweep_dir: Path | None
    report: subprocess.CompletedProcess[str] | None


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every quick experiment through `orgsim -m`, then `orgsim-report`, concurrently."""
    root = tmp_path_factory.mktemp("quick")

    def start(name: str, argv: list[str]) -> tuple[subprocess.Popen[str], Path, Path]:
        out, err = root / f"{name}.{argv[0][-6:]}.out", root / f"{name}.{argv[0][-6:]}.err"
        with out.open("w") as o, err.open("w") as e:
            proc = subprocess.Popen(argv, cwd=root, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        return proc, out, err

    def finish(started: tuple[subprocess.Popen[str], Path, Path]) -> subprocess.CompletedProcess:
        proc, out, err = started
        proc.wait(timeout=600)
        return subprocess.CompletedProcess(
            proc.args, proc.returncode, out.read_text(), err.read_text()
        )

    runs = {
        name: start(
            name,
            [console_script("orgsim"), "-m", f"experiment={name}", f"results_dir={root / name}"],
        )
        for name in QUICK
    }
    reports: dict[str, Any] = {}
    outcomes: dict[str, Outcome] = {}
    for name in QUICK:
        run = finish(runs[name])
        lines = run.stderr.splitlines()
        match = HEADER.fullmatch(lines[0]) if lines else None
        sweep_dir = Path(match["dir"]) if match else None
        outcomes[name] = Outcome(run, sweep_dir, None)
        if sweep_dir is not None and run.returncode == 0:
            reports[name] = start(name, [console_script("orgsim-report"), str(sweep_dir)])
    for name, started in reports.items():
        outcomes[name].report = finish(started)
    return outcomes


def test_there_are_quick_variants() -> None:
    assert len(QUICK) >= 3
    for name in QUICK:  # each has its full experiment
        assert (EXPERIMENTS / f"{name.removesuffix('_quick')}.yaml").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_variant_runs_with_its_own_settings(
    name: str, quick_runs: dict[str, Outcome]
) -> None:
    """The table holds every run of the experiment's design, with the experiment's settings."""
    outcome = quick_runs[name]
    assert outcome.run.returncode == 0, outcome.run.stderr[-3000:]
    assert outcome.sweep_dir is not None, outcome.run.stderr[:2000]
    assert outcome.sweep_dir.parent.name == name
    table = pd.read_parquet(outcome.sweep_dir / store.TABLE)
    assert (table["status"] == "ok").all(), table["error"].unique()
    assert (table["experiment"] == name).all()
    steps = setting(name, "steps")
    assert steps is not None, f"{name}.yaml sets no steps"
    assert (table["steps"] == steps).all()
    for dotted in ("org.employees", "problem.stakeholders"):
        value = setting(name, dotted)
        if value is not None:
            assert (table[dotted] == value).all(), dotted
    replications = setting(name, "replications") or 1
    assert (table["replications"] == replications).all()
    assert sorted(set(table["replication"])) == list(range(replications))
    assert (outcome.sweep_dir / store.TIMESERIES).is_file() == bool(
        setting(name, "timeseries") is not False
    )

    sample = sweeper(name, "sample")
    params = sweeper(name, "params") or {}
    cells = 1
    for key, values in params.items():
        wanted = [yaml.safe_load(v) for v in str(values).split(",")]
        assert sorted(set(table[column(key)]), key=str) == sorted(set(wanted), key=str), key
        cells *= len(wanted)
    if sample:
        factors = sample["factors"]
        points = 0
        for spec in sample["methods"]:
            if spec["method"] == "morris":
                points += spec["trajectories"] * (len(factors) + 1)
            elif spec["method"] == "sobol":
                points += spec["n"] * (len(factors) + 2)
            else:
                points += spec["n"]
        cells *= points
        assert set(table["design"]) == {spec["method"] for spec in sample["methods"]}
        assert table["sample"].notna().all()
        for factor, spec in factors.items():
            raw = table[f"x.{factor}"]
            lo, hi = spec["bounds"]
            is_int = spec.get("type") == "int"
            assert raw.between(lo, hi + 1 if is_int else hi).all(), factor
            if is_int:  # floored into its range
                assert (table[factor] == raw.map(math.floor).clip(lo, hi)).all(), factor
            else:
                assert (table[factor] == raw).all(), factor
    assert len(table) == cells * replications


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_variant_report(name: str, quick_runs: dict[str, Outcome]) -> None:
    """`orgsim-report SWEEP_DIR` builds the experiment's own report (not the generic one)."""
    outcome = quick_runs[name]
    assert outcome.run.returncode == 0, outcome.run.stderr[-3000:]
    assert outcome.report is not None and outcome.sweep_dir is not None
    assert outcome.report.returncode == 0, outcome.report.stderr[-3000:]
    folder = outcome.sweep_dir / "report"
    assert outcome.report.stdout.strip() == str(folder / "report.md")
    text = (folder / "report.md").read_text()
    assert (folder / "report.html").is_file()
    assert "Provenance" in text
    assert not text.startswith("# Sweep report"), text[:200]
    assert "What the model found" in text
    assert list((folder / "figures").glob("*.png")), "at least one figure"
    assert list((folder / "figures").glob("*.svg"))
    if sweeper(name, "sample"):
        factors = sweeper(name, "sample")["factors"]
        assert all(f in text for f in factors)
        if name.startswith("levers_sensitivity"):
            assert "S1" in text and "mu_star" in text
        if name.startswith("where_planning_wins"):
            assert "PRIM" in text and "regret" in text


def test_full_experiments_expand_to_their_declared_designs() -> None:
    """The full designs (not run here): the grid of the yaml file x replications, the same
    seed in every cell of a replication (common random numbers)."""
    for name in (n.removesuffix("_quick") for n in QUICK):
        params = sweeper(name, "params")
        if not params:
            continue
        design = design_from_overrides([f"experiment={name}"])
        replications = setting(name, "replications")
        sample = sweeper(name, "sample")
        points = sum(m["n"] for m in sample["methods"]) if sample else 1  # lhs: n points
        # a grid needs replications for its intervals; a sampled design spreads its runs
        assert design.replications == replications and (sample or replications >= 20)
        assert set(design.grid) == set(params)
        cells = math.prod(len(str(v).split(",")) for v in params.values())
        assert len(design) == cells * points * replications
        assert len({r.run_id for r in design.runs}) == len(design)
        base = design.run_settings["base"]
        by_replication: dict[int, set[Any]] = {}
        for run in design.runs:
            flat = {**base, **run.settings}
            by_replication.setdefault(flat["replication"], set()).add(flat["seed"])
        assert sorted(by_replication) == list(range(replications))
        assert all(len(seeds) == 1 for seeds in by_replication.values())
