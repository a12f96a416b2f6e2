"""The results store: its layout on disk and the format of the one results table.

Every tool that writes results (the engine) or reads them (reports, compare, scenario
discovery, the dashboard's replay, notebooks) goes through this module; analysis code imports
the format from here and never the code that runs the model.

Layout on disk
--------------
::

    <results_dir>/store/parts/<part>.json                 manifest of one chunk, written LAST:
                                                          its files' sizes and sha256, its runs
    <results_dir>/store/parts/<part>.summary.parquet      one row per run of the chunk
    <results_dir>/store/parts/<part>.timeseries.parquet   run_id + one row per step (ok runs)
    <results_dir>/store/parts/.tmp-*                      being written (never read; stale ones
                                                          are removed)
    <results_dir>/sweeps/<experiment>/<time>-<random>/    one folder per sweep, never shared
        sweep.json        the design: every run's id and labels, in design order; what ran it
        chunks/           the chunk files the sweep's jobs ran
        table.parquet, table.csv, timeseries.parquet      written atomically at the end
    <results_dir>/runs/<run_id>/                          a single run (``orgsim`` without -m),
        config.yaml, summary.json, timeseries.csv, performance.png    readable copies

Why parts: files grow with chunks, not runs (a 100,000-run design writes a few hundred files),
and a part is committed by writing its manifest last with an atomic rename, so a part is either
complete or invisible. Before a stored run is reused or read into a table, its part's files
are checked against the manifest's sha256: a part changed on disk (even without changing
size) is ignored, and its runs are recomputed. Sweep folders refer to runs by id only and find
the store relative to themselves, so a moved or copied results folder reads its own runs.

The results table (``table.parquet``; :func:`collect` builds it)
-----------------------------------------------------------------
One row per run of the sweep's design, in design order:

* ``run_id`` -- the run's content address: a hash of its resolved model config (seeds
  included) and of the fingerprint of the model's code (:mod:`sim.provenance`).
* ``status`` -- ``ok``, ``failed`` (the run raised; ``error`` says why) or ``missing`` (never
  computed, e.g. an interrupted sweep, or its part failed verification); ``error``.
* design labels: ``experiment``, ``replications``; for sampled designs ``design`` (the
  sampler: sobol, morris, lhs), ``sample`` (the point's index) and ``x.<setting>`` (the
  sampler's raw value of each factor, before integer factors are floored).
* every setting of the model's config, flattened with dots (``problem.k``, ``org.name``,
  ``levers.cocreation``, ``strategy.name``, ``steps``, ``seed``, ``replication``,
  ``problem_seed``, ``agent_seed`` -- the last two empty unless set explicitly). Lists (e.g.
  ``problem.shock_at``) are JSON strings.
* every final outcome of :data:`sim.metrics.SUMMARY_FIELDS` (NaN unless ``ok``).
* provenance, prefixed ``meta.``: ``meta.reused`` (found in the store, not computed by this
  sweep), ``meta.duration_s``, ``meta.host``, ``meta.pid``, ``meta.finished_at``,
  ``meta.slurm_job_id``, ``meta.code_fingerprint``, ``meta.git_commit``, ``meta.git_dirty``,
  ``meta.orgsim_version``. Drop ``meta.*`` to compare two sweeps.

``timeseries.parquet``: ``run_id`` then :data:`sim.metrics.TIMESERIES_COLUMNS`, one row per
step of every ``ok`` run; join it with the table on ``run_id``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

STORE = "store"
PARTS = "parts"
SWEEPS = "sweeps"
RUNS = "runs"
SWEEP_FILE = "sweep.json"
CHUNKS = "chunks"
TABLE = "table.parquet"
TABLE_CSV = "table.csv"
TIMESERIES = "timeseries.parquet"
STATUSES = ("ok", "failed", "missing")
#: columns that identify a run and its design point; never factors of an analysis
ID_COLUMNS = ("run_id", "status", "error")
LABEL_COLUMNS = ("experiment", "replications", "design", "sample")
SEED_COLUMNS = ("seed", "replication", "problem_seed", "agent_seed")
#: a temporary file older than this is a leftover of a killed job and is removed
STALE_TMP_S = 3600.0


class StoreError(RuntimeError):
    """The store cannot do what was asked (unwritable folder, full disk): one clear line."""


# --- names and flat configs ---------------------------------------------------------------------
def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"problem": {"k": 3}}`` -> ``{"problem.k": 3}``; lists become JSON strings."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(list(value))
        else:
            out[name] = value
    return out


def run_id(config: dict[str, Any], fingerprint: str) -> str:
    """Content address of a run: sha256 of its resolved model config and the code fingerprint."""
    payload = json.dumps({"config": config, "code": fingerprint}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def is_meta(column: str) -> bool:
    return column.startswith("meta.")


def is_label(column: str) -> bool:
    return column in LABEL_COLUMNS or column.startswith("x.")


def outcome_columns(table: pd.DataFrame) -> list[str]:
    """The outcome columns of a table (final outcomes of :data:`sim.metrics.SUMMARY_FIELDS`)."""
    from sim.metrics import SUMMARY_FIELDS

    names = set(SUMMARY_FIELDS)
    return [c for c in table.columns if c in names or c.startswith("mean_satisfaction_g")]


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns that are settings of the model (not ids, labels, outcomes or provenance)."""
    outcomes = set(outcome_columns(table))
    return [
        c
        for c in table.columns
        if c not in ID_COLUMNS and c not in outcomes and not is_meta(c) and not is_label(c)
    ]


def factor_columns(table: pd.DataFrame) -> list[str]:
    """The settings that vary across the runs of a table (seeds and replications aside): the
    sweep's factors. A preset's name moves with its settings, so only the name is kept."""
    cols = [c for c in setting_columns(table) if c not in SEED_COLUMNS]
    varying = [c for c in cols if table[c].astype(str).nunique() > 1]
    names = {c.split(".")[0] for c in varying if c.endswith(".name")}
    return [c for c in varying if c.endswith(".name") or c.split(".")[0] not in names]


# --- atomic files ---------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, then rename the file into place: the path is either the old
    file, the complete new one, or absent -- never half written (a full disk included)."""
    tmp = _tmp_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any, compact: bool = False) -> None:
    """Write JSON atomically; ``compact`` for the large machine-read files (a sweep's design,
    its chunks), indented otherwise."""
    text = (
        json.dumps(data, separators=(",", ":"), default=str)
        if compact
        else json.dumps(data, indent=1, default=str)
    )
    atomic_write(path, lambda p: p.write_text(text))


# --- the store of parts ---------------------------------------------------------------------------
@dataclass
class Part:
    """One committed chunk: its manifest and where its files are."""

    name: str
    folder: Path
    manifest: dict[str, Any]
    _verified: bool | None = field(default=None, repr=False)

    @property
    def runs(self) -> dict[str, list[Any]]:
        """``run_id -> [status, has_timeseries]``."""
        return self.manifest.get("runs", {})

    def file(self, kind: str) -> Path:
        return self.folder / f"{self.name}.{kind}.parquet"

    def verify(self) -> bool:
        """Whether every file of the part has the size and sha256 its manifest records."""
        if self._verified is None:
            try:
                ok = True
                for name, info in self.manifest["files"].items():
                    path = self.folder / name
                    if path.stat().st_size != info["size"] or _sha256(path) != info["sha256"]:
                        ok = False
                        break
            except (OSError, KeyError, TypeError):
                ok = False
            self._verified = ok
        return self._verified


class Store:
    """The run store under ``<results_dir>/store``: committed parts keyed by run id."""

    def __init__(self, results_dir: str | os.PathLike[str]) -> None:
        self.results_dir = Path(results_dir)
        self.parts_dir = self.results_dir / STORE / PARTS
        self._parts: list[Part] | None = None

    # reading
    def parts(self) -> list[Part]:
        """Every committed part (manifest present and readable), oldest first."""
        if self._parts is None:
            found = []
            if self.parts_dir.is_dir():
                for path in sorted(self.parts_dir.glob("[!.]*.json")):
                    try:
                        manifest = json.loads(path.read_text())
                    except (OSError, ValueError):
                        continue  # a broken manifest hides its part: its runs are recomputed
                    if isinstance(manifest, dict) and isinstance(manifest.get("runs"), dict):
                        found.append(Part(path.stem, self.parts_dir, manifest))
            self._parts = found
        return self._parts

    def refresh(self) -> None:
        self._parts = None

    def locate(self, run_ids: Iterable[str], need_timeseries: bool = False) -> dict[str, Part]:
        """For each wanted run, the verified part holding its best record: an ``ok`` one if any
        (with a timeseries when ``need_timeseries``), else the newest ``failed`` one."""
        wanted = set(run_ids)
        best: dict[str, Part] = {}
        good: set[str] = set()
        for part in reversed(self.parts()):  # newest first
            hits = [r for r in part.runs if r in wanted and r not in good]
            if not hits or not part.verify():
                continue
            for rid in hits:
                status, has_ts = part.runs[rid][0], bool(part.runs[rid][1])
                if status == "ok" and (has_ts or not need_timeseries):
                    best[rid] = part
                    good.add(rid)
                elif rid not in best:
                    best[rid] = part
        return best

    def done(self, run_ids: Iterable[str], need_timeseries: bool = False) -> set[str]:
        """The runs the store has ``ok`` and verified (and so need not be computed again)."""
        located = self.locate(run_ids, need_timeseries)
        return {
            rid
            for rid, part in located.items()
            if part.runs[rid][0] == "ok" and (part.runs[rid][1] or not need_timeseries)
        }

    def records(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """The stored rows of these runs (one per run found; verified parts only)."""
        located = self.locate(run_ids)
        by_part: dict[str, list[str]] = {}
        for rid, part in located.items():
            by_part.setdefault(part.name, []).append(rid)
        parts = {p.name: p for p in self.parts()}
        frames = []
        for name, rids in by_part.items():
            df = pd.read_parquet(parts[name].file("summary"))
            frames.append(df[df["run_id"].isin(set(rids))])
        if not frames:
            return pd.DataFrame(columns=["run_id"])
        return pd.concat(frames, ignore_index=True).drop_duplicates("run_id", keep="first")

    def timeseries(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """The timeseries of these runs (``ok`` runs with a stored timeseries)."""
        located = self.locate(run_ids, need_timeseries=True)
        by_part: dict[str, set[str]] = {}
        for rid, part in located.items():
            if part.runs[rid][0] == "ok" and part.runs[rid][1]:
                by_part.setdefault(part.name, set()).add(rid)
        parts = {p.name: p for p in self.parts()}
        frames = []
        for name, rids in by_part.items():
            df = pd.read_parquet(parts[name].file("timeseries"))
            frames.append(df[df["run_id"].isin(rids)])
        if not frames:
            return pd.DataFrame(columns=["run_id"])
        return pd.concat(frames, ignore_index=True)

    # writing
    def write_part(self, rows: list[dict[str, Any]], timeseries: pd.DataFrame | None) -> Part:
        """Commit one chunk's results: two parquet files, then the manifest (atomic rename)."""
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
        summary_path = self.parts_dir / f"{name}.summary.parquet"
        ts_path = self.parts_dir / f"{name}.timeseries.parquet"
        summary = pd.DataFrame(rows)
        for column in summary.columns:  # one parquet type per column: mixed objects as text
            if summary[column].dtype == object and column not in ("run_id", "status", "error"):
                kinds = {type(v) for v in summary[column].dropna()}
                if len(kinds) > 1:
                    summary[column] = summary[column].map(lambda v: v if v is None else str(v))
        atomic_write(summary_path, lambda p: summary.to_parquet(p, index=False))
        ts = timeseries if timeseries is not None else pd.DataFrame({"run_id": []})
        atomic_write(ts_path, lambda p: ts.to_parquet(p, index=False))
        with_ts = set(ts["run_id"].unique()) if not ts.empty else set()
        manifest = {
            "part": name,
            "written_at": datetime.now().isoformat(timespec="seconds"),
            "files": {
                path.name: {"size": path.stat().st_size, "sha256": _sha256(path)}
                for path in (summary_path, ts_path)
            },
            "runs": {row["run_id"]: [row["status"], row["run_id"] in with_ts] for row in rows},
        }
        write_json(self.parts_dir / f"{name}.json", manifest)
        part = Part(name, self.parts_dir, manifest, _verified=True)
        if self._parts is not None:
            self._parts.append(part)
        return part

    def clean_stale(self, max_age_s: float = STALE_TMP_S) -> int:
        """Remove what killed jobs left behind, once older than ``max_age_s``: temporary files
        (in parts, single runs' folders and sweep folders) and part files whose manifest was
        never written."""
        import shutil

        now = time.time()
        committed = {p.name for p in self.parts()}
        candidates: list[Path] = []
        for folder in (self.parts_dir, self.results_dir / RUNS):
            if folder.is_dir():
                candidates += folder.glob(".tmp-*")
        sweeps = self.results_dir / SWEEPS
        if sweeps.is_dir():
            candidates += sweeps.glob("*/*/.tmp-*")
        if self.parts_dir.is_dir():
            candidates += [
                path
                for path in self.parts_dir.glob("[!.]*.parquet")
                if path.name.split(".", 1)[0] not in committed
                and not (self.parts_dir / f"{path.name.split('.', 1)[0]}.json").exists()
            ]
        removed = 0
        for path in candidates:
            try:
                if now - path.stat().st_mtime <= max_age_s:
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
                removed += 1
            except OSError:
                continue
        return removed


# --- sweep folders ----------------------------------------------------------------------------------
def new_sweep_dir(results_dir: str | os.PathLike[str], experiment: str) -> Path:
    """A new, unique sweep folder: two sweeps started in the same second never share one."""
    base = Path(results_dir) / SWEEPS / experiment
    try:
        base.mkdir(parents=True, exist_ok=True)
        while True:
            path = base / f"{datetime.now():%Y-%m-%d_%H-%M-%S}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise StoreError(
            f"results_dir={results_dir}: cannot create a sweep folder there "
            f"({exc.strerror or exc}); choose a writable folder"
        ) from None


def store_of(sweep_dir: Path) -> Store:
    """The store a sweep folder belongs to: ``<results_dir>`` is three levels up."""
    return Store(Path(sweep_dir).resolve().parent.parent.parent)


def read_design(sweep_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        design = json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{sweep_dir} is not a sweep folder (no {SWEEP_FILE})") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is unreadable or broken: {exc}") from None
    if not isinstance(design, dict) or not isinstance(design.get("runs"), list):
        raise StoreError(f"{path} is not a sweep design (no list of runs)")
    return design


def collect(
    sweep_dir: str | os.PathLike[str], reused: Iterable[str] = (), why_missing: str = ""
) -> pd.DataFrame:
    """The sweep's results table, built from its design and the store (module docstring).
    ``why_missing`` (e.g. a job's error) is the error of the runs the store lacks."""
    folder = Path(sweep_dir)
    design = read_design(folder)
    entries = design["runs"]
    labels = pd.DataFrame([{k: v for k, v in e.items() if k != "settings"} for e in entries])
    if labels.empty:
        return labels
    rids = list(labels["run_id"])
    stored = store_of(folder).records(rids)
    table = labels.merge(stored, on="run_id", how="left", suffixes=("", ".stored"))
    table = table[[c for c in table.columns if not c.endswith(".stored")]]
    if "status" not in table:
        table["status"] = None
    if "error" not in table:
        table["error"] = ""
    missing = table["status"].isna()
    table.loc[missing, "status"] = "missing"
    table["error"] = table["error"].fillna("")
    table.loc[missing, "error"] = (
        f"not computed: {why_missing}"
        if why_missing
        else "not in the store: never computed (run the sweep again)"
    )
    if missing.any():  # the settings of runs the store lacks come from the design
        base = design.get("base_settings") or {}
        for index in table.index[missing]:
            settings = {**base, **(entries[index].get("settings") or {})}
            for key, value in settings.items():
                value = json.dumps(value) if isinstance(value, list) else value  # as flatten()
                if key not in table:
                    table[key] = None
                table.at[index, key] = value
    table["meta.reused"] = table["run_id"].isin(set(reused))
    first = [c for c in (*ID_COLUMNS, *LABEL_COLUMNS) if c in table]
    meta = [c for c in table.columns if is_meta(c)]
    rest = [c for c in table.columns if c not in first and c not in meta]
    return table[first + rest + meta].reset_index(drop=True)


def collect_timeseries(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The timeseries of every ``ok`` run of the sweep (join with the table on ``run_id``)."""
    folder = Path(sweep_dir)
    rids = [r["run_id"] for r in read_design(folder)["runs"]]
    ts = store_of(folder).timeseries(rids)
    if ts.empty:
        return ts
    order = {rid: i for i, rid in reversed(list(enumerate(rids)))}  # first place in the design
    ts = ts.assign(_order=ts["run_id"].map(order))
    sort = ["_order", "step"] if "step" in ts else ["_order"]
    return ts.sort_values(sort, kind="stable").drop(columns="_order").reset_index(drop=True)


def write_tables(
    sweep_dir: str | os.PathLike[str],
    reused: Iterable[str] = (),
    timeseries: bool = True,
    why_missing: str = "",
) -> pd.DataFrame:
    """Build the table and write ``table.parquet``, ``table.csv`` and ``timeseries.parquet``,
    each atomically; return the table."""
    folder = Path(sweep_dir)
    table = collect(folder, reused, why_missing)
    atomic_write(folder / TABLE, lambda p: table.to_parquet(p, index=False))
    atomic_write(folder / TABLE_CSV, lambda p: table.to_csv(p, index=False))
    if timeseries:
        ts = collect_timeseries(folder)
        atomic_write(folder / TIMESERIES, lambda p: ts.to_parquet(p, index=False))
    return table


def _read_or_rebuild(folder: Path, name: str, rebuild: Any) -> pd.DataFrame:
    """A sweep's written table ``name`` when readable; else (missing, truncated, corrupt)
    rebuilt from the design and the store, if the folder has its design."""
    path = folder / name
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception as exc:
            if not (folder / SWEEP_FILE).is_file():
                raise StoreError(f"{path} is unreadable ({type(exc).__name__})") from None
    return rebuild(folder)


def read_table(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """A sweep's table: its ``table.parquet`` when readable, else rebuilt from the store."""
    return _read_or_rebuild(Path(sweep_dir), TABLE, collect)


def read_timeseries(sweep_dir: str | os.PathLike[str]) -> pd.DataFrame | None:
    """A sweep's timeseries table (rebuilt from the store when unreadable), or None when the
    sweep stored none."""
    folder = Path(sweep_dir)
    if not (folder / TIMESERIES).is_file() and not (folder / SWEEP_FILE).is_file():
        return None
    ts = _read_or_rebuild(folder, TIMESERIES, collect_timeseries)
    return None if ts.empty else ts


# --- a single run's readable folder -------------------------------------------------------------------
def write_run_folder(
    results_dir: str | os.PathLike[str],
    rid: str,
    config: dict[str, Any],
    summary: dict[str, Any],
    timeseries: pd.DataFrame,
    plot: bool = True,
) -> Path:
    """``runs/<run_id>/``: readable copies of one run (config, summary, timeseries, a plot),
    written under a temporary name and renamed into place."""
    import shutil

    import yaml

    final = Path(results_dir) / RUNS / rid
    if final.is_dir():
        shutil.rmtree(final, ignore_errors=True)
    tmp = final.with_name(f".tmp-{rid}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir(parents=True)
        (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        timeseries.to_csv(tmp / "timeseries.csv", index=False)
        if plot:
            plot_performance(timeseries, tmp / "performance.png", title=f"run {rid}")
        os.replace(tmp, final)
    except OSError as exc:
        raise StoreError(f"cannot write {final}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def plot_performance(ts: pd.DataFrame, path: Path, title: str = "") -> None:
    """A small performance-over-time plot, shocks marked. Drawn on a bare Agg ``Figure`` (no
    pyplot): headless, thread-safe, and a few ms."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3), dpi=80)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.9)
    ax = fig.add_subplot()
    ax.plot(ts["step"], ts["performance"], lw=1.5)
    for step in ts.loc[ts["shock"] == 1, "step"]:
        ax.axvline(step, color="tab:red", lw=0.6, alpha=0.5)
    ax.set(xlabel="step (week)", ylabel="performance (share of the optimum)", ylim=(0, 1.02))
    ax.set_title(title)
    fig.savefig(path)
