"""The results store (sim.store) and run identity (sim.design, sim.provenance), in-process.

What is shown here: run ids are content addresses of a run's settings and of the model's code;
the fingerprint covers the model's modules (and only them); a stored part changed on disk, even
without changing its size, is never served and its runs are recomputed; a broken manifest or
part loses no row; a full disk leaves no half-written table and no temporary files; a moved or
copied results folder reads its own runs; stale temporary files are removed by the next sweep.

Sweeps are tiny (a dozen employees, 10 steps) and run in this process (``jobs=1``).
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim import engine, store
from sim.design import expand, run_id
from sim.provenance import code_fingerprint, model_modules

REPO = Path(__file__).resolve().parent.parent
SMALL = ["steps=10", "org.employees=12", "org.partners=2"]
#: 4 runs in 2 parts of 2 runs
FOUR = [*SMALL, "strategy=incremental,planning", "seed=0,1"]


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A table without provenance (meta.*), for comparing results of two sweeps."""
    return table.drop(columns=[c for c in table.columns if store.is_meta(c)])


def parts_of(results: Path) -> list[dict[str, Any]]:
    """Every manifest under the store (readable ones only)."""
    return [json.loads(p.read_text()) for p in sorted(results.glob("store/parts/[!.]*.json"))]


def tmp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".tmp-*"))


@dataclass
class Stored:
    """A results folder holding one sweep of FOUR (4 runs in 2 parts): its table as written."""

    results: Path
    sweep_dir: Path
    table: pd.DataFrame


@pytest.fixture(scope="module")
def stored_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("stored") / "results"
    first = engine.sweep(FOUR, results_dir=results, chunk_size=2)
    assert first.exit_code == 0 and first.computed == 4 and len(parts_of(results)) == 2
    return results


@pytest.fixture
def stored(stored_once: Path, tmp_path: Path) -> Stored:
    """A private copy of the module's results folder (copying one is supported, see below)."""
    results = tmp_path / "results"
    shutil.copytree(stored_once, results)
    (sweep_dir,) = results.glob("sweeps/*/*/")
    return Stored(results, sweep_dir, pd.read_parquet(sweep_dir / store.TABLE))


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# --- run ids ----------------------------------------------------------------------------------
def other_value(value: Any) -> Any:
    """A different value of the same kind (validity does not matter for an id)."""
    if isinstance(value, bool):
        return not value
    if value is None:
        return 7
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.125
    if isinstance(value, list):
        return [*value, 3]
    return f"{value}-other"


def test_run_id_is_a_content_address_of_every_setting() -> None:
    """Same settings -> same id (key order and 1 vs 1.0 aside); changing any one setting,
    seed or replication included, or the code fingerprint, gives another id."""
    flat = expand(SMALL).run_settings["base"]
    fp = "0123456789abcdef"
    rid = run_id(flat, fp)
    assert rid == run_id(dict(reversed(list(flat.items()))), fp)
    assert {"seed", "replication", "problem_seed", "agent_seed", "steps"} <= set(flat)
    ids = {rid}
    for key, value in flat.items():
        changed = run_id({**flat, key: other_value(value)}, fp)
        assert changed != rid, f"changing {key} kept the run id"
        ids.add(changed)
    assert len(ids) == len(flat) + 1  # every change gives its own id
    floats = [k for k, v in flat.items() if isinstance(v, float) and not isinstance(v, bool)]
    assert run_id({**flat, floats[0]: 1}, fp) == run_id({**flat, floats[0]: 1.0}, fp)
    assert run_id(flat, "fedcba9876543210") != rid


def test_design_run_ids_depend_on_settings_not_on_how_the_design_is_written() -> None:
    grid = expand([*SMALL, "replications=3"], {"strategy": "incremental,planning"})
    ids = [r.run_id for r in grid.runs]
    assert len(ids) == len(set(ids)) == 6
    # the same runs written another way (one arm fixed) have the same ids
    planning = expand([*SMALL, "strategy=planning", "replications=3"])
    assert {r.run_id for r in planning.runs} < set(ids)
    # run-level keys (where results go, chunking, what is stored) are not part of an id
    elsewhere = expand(
        [*SMALL, "replications=3", "results_dir=/elsewhere", "chunk_size=5", "plot=false"],
        {"strategy": "incremental,planning"},
    )
    assert [r.run_id for r in elsewhere.runs] == ids
    # seeds and replications give distinct ids (seed 0, replication 0 is shared)
    seeds = expand(SMALL, {"seed": "0,1,2"})
    reps = expand([*SMALL, "replications=3"])
    assert len({r.run_id for r in seeds.runs} | {r.run_id for r in reps.runs}) == 5
    # another code fingerprint: the same design has no id in common
    other = expand([*SMALL, "replications=3"], {"strategy": "incremental,planning"}, None, "x")
    assert other.fingerprint == "x" and not set(ids) & {r.run_id for r in other.runs}
    assert grid.fingerprint == code_fingerprint()


def test_fingerprint_covers_the_model_modules_and_only_them() -> None:
    modules = model_modules()
    model = ("model", "agents", "levers", "strategies", "organisation", "problem", "landscape")
    for name in (*model, "metrics"):
        assert f"sim.{name}" in modules, f"sim.{name} is not in the fingerprint"
    for name in ("report", "cli", "compare", "engine", "store", "stats"):
        assert f"sim.{name}" not in modules
    assert not [m for m in modules if m.startswith("sim.dashboard")]
    assert all(path.is_file() for path in modules.values())
    # the static closure covers every module of the package a model actually loads and runs
    probe = (
        "import sys\n"
        "from sim.config import OrgsimConfig\n"
        "from sim.model import InnovationModel\n"
        "cfg = OrgsimConfig(steps=3)\n"
        "cfg.org.employees, cfg.org.partners = 12, 2\n"
        "InnovationModel(cfg).run().summary()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('sim.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert {"sim.model", "sim.levers", "sim.strategies"} <= loaded
    assert loaded <= set(modules), loaded - set(modules)


# --- parts changed on disk ----------------------------------------------------------------------
def tamper_same_size(path: Path, how: str) -> None:
    """Change a part's summary without changing its size: a valid parquet with another value
    of the first run's mean_performance, or bytes flipped in the middle."""
    size = path.stat().st_size
    if how == "flip":
        data = bytearray(path.read_bytes())
        for i in range(size // 2, size // 2 + 8):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        df = pd.read_parquet(path)
        for delta in (0.01, -0.01, 0.1, -0.1, 0.003, -0.003):
            changed = df.copy()
            changed.loc[0, "mean_performance"] += delta
            buf = io.BytesIO()
            changed.to_parquet(buf, index=False)
            if len(buf.getvalue()) == size:
                path.write_bytes(buf.getvalue())
                assert (
                    pd.read_parquet(path).loc[0, "mean_performance"]
                    != df.loc[0, "mean_performance"]
                )
                break
        else:
            pytest.fail("could not rewrite the part at the same size")
    assert path.stat().st_size == size


@pytest.mark.parametrize("how", ["rewrite", "flip"])
def test_part_changed_on_disk_is_never_served(stored: Stored, how: str) -> None:
    results, first = stored.results, stored
    part = parts_of(results)[0]
    victims = set(part["runs"])
    assert len(victims) == 2
    tamper_same_size(results / "store/parts" / f"{part['part']}.summary.parquet", how)

    ids = list(first.table["run_id"])
    the_store = store.Store(results)
    assert the_store.done(ids) == set(ids) - victims
    assert set(the_store.records(ids)["run_id"]) == set(ids) - victims
    # the old sweep's table, rebuilt from the store, still has every row: the victims missing
    rebuilt = store.collect(first.sweep_dir)
    assert list(rebuilt["run_id"]) == ids
    assert set(rebuilt.loc[rebuilt["status"] == "missing", "run_id"]) == victims

    again = engine.sweep(FOUR, results_dir=results, chunk_size=2)
    assert (again.computed, again.reused) == (2, 2)
    table = again.table
    assert list(table["run_id"]) == ids and (table["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(table), comparable(first.table))
    # equal to a fresh computation of each recomputed run
    design = store.read_design(again.sweep_dir)
    for entry in design["runs"]:
        if entry["run_id"] not in victims:
            continue
        row, _ = engine.compute(entry["run_id"], {**design["base_settings"], **entry["settings"]})
        stored = table.set_index("run_id").loc[entry["run_id"]]
        for name in store.outcome_columns(table):
            assert same_value(float(stored[name]), float(row[name])), name


BREAKS = {
    "manifest truncated": lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),
    "manifest not a manifest": lambda p: p.write_text("[1, 2]"),
    "summary truncated": lambda p: os.truncate(
        p.with_name(p.stem + ".summary.parquet"),
        p.with_name(p.stem + ".summary.parquet").stat().st_size // 2,
    ),
    "timeseries deleted": lambda p: p.with_name(p.stem + ".timeseries.parquet").unlink(),
}


@pytest.mark.parametrize("damage", list(BREAKS))
def test_broken_manifest_or_part_is_recomputed_and_loses_no_row(
    stored: Stored, damage: str
) -> None:
    results, first = stored.results, stored
    ids = list(first.table["run_id"])
    manifest = sorted((results / "store/parts").glob("[!.]*.json"))[0]
    victims = set(json.loads(manifest.read_text())["runs"])
    BREAKS[damage](manifest)

    rebuilt = store.collect(first.sweep_dir)
    assert list(rebuilt["run_id"]) == ids
    lost = rebuilt[rebuilt["status"] == "missing"]
    assert set(lost["run_id"]) == victims
    assert lost["error"].str.len().gt(0).all()
    assert (rebuilt.loc[rebuilt["status"] == "missing", "strategy.name"].notna()).all()
    # the sweep's own table.parquet is intact and still read
    assert (store.read_table(first.sweep_dir)["status"] == "ok").all()

    again = engine.sweep(FOUR, results_dir=results, chunk_size=2)
    assert (again.computed, again.reused, again.exit_code) == (2, 2, 0)
    assert list(again.table["run_id"]) == ids
    pd.testing.assert_frame_equal(comparable(again.table), comparable(first.table))
    ts = store.read_timeseries(again.sweep_dir)
    assert ts is not None and set(ts["run_id"]) == set(ids)


def test_unreadable_table_is_rebuilt_from_the_store(stored: Stored) -> None:
    first = stored
    (first.sweep_dir / store.TABLE).write_bytes(b"PAR1 not really")
    table = store.read_table(first.sweep_dir)
    pd.testing.assert_frame_equal(comparable(table), comparable(first.table))


# --- a full disk ---------------------------------------------------------------------------------
def fill_disk(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Make every parquet write fail with ENOSPC: after writing some bytes (monkeypatched
    writer), or for real (the temporary file is a symlink to /dev/full)."""
    if how == "partial write":

        def to_parquet(self: pd.DataFrame, path: Any, *args: Any, **kwargs: Any) -> None:
            with open(path, "wb") as fh:
                fh.write(b"PAR1" + b"\0" * 4096)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    else:
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full here")
        tmp_name = store._tmp_name

        def full_tmp(path: Path) -> Path:
            tmp = tmp_name(path)
            if path.suffix == ".parquet":
                tmp.symlink_to("/dev/full")
            return tmp

        monkeypatch.setattr(store, "_tmp_name", full_tmp)


@pytest.mark.parametrize("how", ["partial write", "/dev/full"])
@pytest.mark.parametrize("previous", [False, True])
def test_full_disk_leaves_no_unreadable_table(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, how: str, previous: bool
) -> None:
    first = stored
    folder = first.sweep_dir
    if not previous:
        (folder / store.TABLE).unlink()
    before = (folder / store.TABLE).read_bytes() if previous else None
    fill_disk(monkeypatch, how)
    with pytest.raises(store.StoreError) as caught:
        store.write_tables(folder)
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message, message
    monkeypatch.undo()
    assert not tmp_files(folder)
    if previous:
        assert (folder / store.TABLE).read_bytes() == before
        pd.testing.assert_frame_equal(pd.read_parquet(folder / store.TABLE), first.table)
    else:
        assert not (folder / store.TABLE).exists()
    # and the table can still be had: rebuilt from the store
    assert (store.read_table(folder)["status"] == "ok").all()


def test_full_disk_while_committing_a_part_commits_nothing(
    stored: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, first = stored.results, stored
    before = sorted(p.name for p in (results / "store/parts").iterdir())
    rows = [{"run_id": "x" * 20, "status": "ok", "error": "", "mean_performance": 0.5}]
    fill_disk(monkeypatch, "partial write")
    with pytest.raises(store.StoreError):
        store.Store(results).write_part(rows, None)
    monkeypatch.undo()
    assert sorted(p.name for p in (results / "store/parts").iterdir()) == before
    assert store.Store(results).done(list(first.table["run_id"])) == set(first.table["run_id"])


# --- moved and copied results folders ---------------------------------------------------------
def test_moved_or_copied_results_folder_reads_its_own_runs(tmp_path: Path) -> None:
    original = tmp_path / "a" / "results"
    first = engine.sweep(FOUR, results_dir=original, chunk_size=2)
    relative = first.sweep_dir.relative_to(original.resolve())
    table = store.collect(first.sweep_dir)
    ts = store.collect_timeseries(first.sweep_dir)
    assert (table["status"] == "ok").all() and len(table) == 4

    moved = tmp_path / "b" / "moved"
    moved.parent.mkdir()
    shutil.move(original, moved)
    pd.testing.assert_frame_equal(store.collect(moved / relative), table)
    pd.testing.assert_frame_equal(store.collect_timeseries(moved / relative), ts)
    pd.testing.assert_frame_equal(store.read_table(moved / relative), first.table)

    copied = tmp_path / "c" / "copied"
    shutil.copytree(moved, copied)
    shutil.rmtree(moved)
    pd.testing.assert_frame_equal(store.collect(copied / relative), table)
    pd.testing.assert_frame_equal(store.collect_timeseries(copied / relative), ts)
    # a sweep into the copy finds every run in the copy's store
    again = engine.sweep(FOUR, results_dir=copied, chunk_size=2)
    assert (again.reused, again.computed) == (4, 0)
    pd.testing.assert_frame_equal(comparable(again.table), comparable(first.table))


# --- stale temporary files -----------------------------------------------------------------------
def test_stale_temporary_files_are_removed_by_the_next_sweep(stored: Stored) -> None:
    results = stored.results
    parts, runs = results / "store/parts", results / "runs"
    runs.mkdir(exist_ok=True)
    old = time.time() - 2 * store.STALE_TMP_S
    stale = [parts / ".tmp-x.summary.parquet-dead", runs / ".tmp-abc-dead"]
    fresh = [parts / ".tmp-y.summary.parquet-live", runs / ".tmp-def-live"]
    for path in (stale[0], fresh[0]):
        path.write_bytes(b"half a parquet")
    for path in (stale[1], fresh[1]):
        path.mkdir()
        (path / "summary.json").write_text("{")
    for path in stale:
        os.utime(path, (old, old))
    # just under the threshold is fresh, not stale
    young = time.time() - 0.5 * store.STALE_TMP_S
    os.utime(fresh[0], (young, young))

    again = engine.sweep(FOUR, results_dir=results, chunk_size=2)
    assert again.reused == 4
    for path in stale:
        assert not path.exists(), f"{path.name} (stale) was not removed"
    for path in fresh:
        assert path.exists(), f"{path.name} (fresh) was removed"
    # a committed part is never taken for a temporary file
    assert len(parts_of(results)) == 2
    assert store.Store(results).clean_stale(max_age_s=0.0) == 2
    assert not tmp_files(results / "store") and not tmp_files(runs)
