"""Sweep overhead: how close ``orgsim -m`` comes to the ideal parallel time, and what reuse costs.

Every figure is a whole process timed from outside (``subprocess`` + ``time.perf_counter``),
repeated, and printed as min / median next to a baseline measured in the same invocation:

1. **baseline**: a plain loop of the same runs in one process (``python -c``: import ``sim``,
   build each strategy's config once with ``sim.design``/``sim.config``, then
   ``InnovationModel(dataclasses.replace(cfg, replication=r)).run().summary()``), timed as a
   whole process and, inside it, its compute alone; ideal = loop / cores (``os.cpu_count()``).
   Also ``cores`` such loops at once, each on its share of the runs: the best any sweep on
   that many workers can do on this machine at that moment (the runs slow each other down:
   shared caches and memory bandwidth, and the other work on the machine).
2. ``orgsim -m strategy=incremental,planning replications=50 results_dir=<fresh>`` (no tuning
   flags): wall time; efficiency = ideal / wall, with the whole-process loop and with the
   compute-only loop (target: at least 0.75).
3. the same command again (every run reused from the store): wall time and its ratio to the
   first sweep's (target: at most 0.15). It finds its design in the design cache
   (``sim/design_cache.py``; this script gives every invocation an empty one of its own, so
   the first sweep never does) and, every run being in the store, finishes without Hydra.
4. a 1,000-run sweep (``replications=500 steps=50``) against its own loop, for efficiency on a
   longer sweep.
5. a large sampled design of short runs (LHS, 100,000 points by default; ``--skip-large`` skips
   it): wall time, start-up before the first job, peak memory, files written.

Repeats are paired (loop, loops at once, sweep, sweep again; loop, ...) and ratios are taken
pair by pair, so that a machine whose load drifts still gives comparable ratios. The loop and the sweep
compute the very same runs: the script checks that the sum of ``mean_performance`` agrees.

Then one more fresh 100-run sweep, and the same command again (all reused), are **traced**: a
``sitecustomize`` module on ``PYTHONPATH`` (written to a temporary folder; nothing in the
project changes) logs the wall clock and the process's CPU time when the parent and each joblib
worker start and when key functions start and end (door check, Hydra app start, design
expansion, planning, warm-up of the workers, each job's Hydra composition, each chunk, part
writing, table writing, ``main()``). Its breakdown says where the time goes; its wall time is
not used for the headline figures.

Large design: ``orgsim -m experiment=levers_sensitivity_quick
'hydra.sweeper.sample.methods=[{method:lhs,n:N}]' steps=1 org.employees=2 org.team_size=2
org.partners=0 timeseries=false progress=false`` (``levers_sensitivity``'s nine factors, three
stakeholder groups; ``problem.n`` stays 12 because ``problem.k`` is a sampled factor in
[0, 11]), traced as above. ``--large-startup-only`` stops it (SIGTERM to its process group)
once its first job has started: start-up and memory up to then, nothing extrapolated.

Peak memory: the operating system's maximum resident set size of the largest single process
of the tree (``wait4``), and, sampled every 0.5 s from ``/proc``, the parent's RSS and the sum
of RSS and of PSS over the whole process tree (PSS shares shared pages out between processes).

Usage::

    .venv/bin/python benchmarks/sweep_overhead.py [--repeats 3] [--skip-large] [--skip-long]
        [--no-trace] [--only-large] [--large-n 100000] [--large-startup-only]

Not a test: about six minutes on two cores without the large design (three repeats); the full
100,000-run design adds about ten minutes there, more when the machine is busy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON = Path(sys.executable)
ORGSIM = PYTHON.parent / "orgsim"
CORES = os.cpu_count() or 1
HEADER = re.compile(r"^orgsim: sweep of (\d+) runs \((\d+) already in the store, (\d+) to run")
BAR = re.compile(r"^\S+:\s+\d+%\|")
#: the large design's runs: as short as valid settings allow (problem.k is a sampled factor in
#: [0, 11], so problem.n stays 12)
LARGE_SETTINGS = [
    "steps=1",
    "org.employees=2",
    "org.team_size=2",
    "org.partners=0",
    "timeseries=false",
    "progress=false",
]

#: the baseline: the sweep's runs as a plain loop in one process (argv[1]: a JSON spec)
LOOP = textwrap.dedent(
    """
    import dataclasses, json, logging, sys, time
    t0 = time.perf_counter()
    from sim.design import compose, run_config
    try:
        from sim.config import config_of, flat_of
    except ImportError:
        from sim.design import config_of, flat_of
    from sim.model import InnovationModel
    logging.getLogger("MESA").setLevel(logging.WARNING)
    spec = json.loads(sys.argv[1])
    cfgs = [
        config_of(flat_of(run_config(compose([f"strategy={s}", *spec["overrides"]]))))
        for s in spec["strategies"]
    ]
    t1 = time.perf_counter()
    total = 0.0
    for cfg in cfgs:
        for r in range(*spec["replications"]):
            model = InnovationModel(dataclasses.replace(cfg, replication=r)).run()
            total += model.summary()["mean_performance"]
    t2 = time.perf_counter()
    print(json.dumps({"setup_s": t1 - t0, "compute_s": t2 - t1, "check": total}))
    """
)

#: the tracer: logs when processes start and when some functions start and end (epoch seconds)
TRACER = textwrap.dedent(
    '''
    """Benchmark tracer (benchmarks/sweep_overhead.py): timestamps, nothing else."""
    import atexit, functools, importlib.abc, importlib.util, json, os, sys, time

    _LOG = os.environ.get("ORGSIM_BENCH_TRACE", "")
    _TARGETS = {
        "sim.cli": ["prepare", "main", "_task"],
        "sim.design": ["expand"],
        "sim.engine": ["hydra_sweep", "plan", "_warm_worker", "run_chunk", "finish"],
        "sim.store": ["write_tables", "Store.write_part"],
        "hydra_plugins.hydra_joblib_launcher._core": ["launch", "execute_job"],
        "hydra_plugins.orgsim_sweeper.orgsim_launcher": ["OrgsimJoblibLauncher.launch"],
        "sim.workers": ["prepare", "run_job"],
    }


    def _log(event):
        if _LOG:
            now = {"t": time.time(), "c": time.process_time()}
            line = json.dumps({**now, "pid": os.getpid(), "ppid": os.getppid(), "ev": event})
            with open(_LOG, "a") as fh:
                fh.write(line + "\\n")


    def _wrap(owner, attr, label):
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def traced(*args, **kwargs):
            _log(label + ":start")
            try:
                return inner(*args, **kwargs)
            finally:
                _log(label + ":end")

        setattr(owner, attr, traced)


    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname not in _TARGETS:
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(fullname)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            execute = spec.loader.exec_module

            def exec_module(module):
                execute(module)
                for name in _TARGETS[fullname]:
                    owner, attr = module, name
                    if "." in name:
                        cls, attr = name.split(".")
                        owner = getattr(module, cls, None)
                    if callable(getattr(owner, attr, None)):  # renamed: not traced
                        _wrap(owner, attr, fullname.rsplit(".", 1)[-1] + "." + name)

            spec.loader.exec_module = exec_module
            return spec


    if _LOG:
        _log("start")
        os.register_at_fork(after_in_child=lambda: _log("start"))  # forked workers
        atexit.register(_log, "atexit")  # registered first: runs last
        sys.meta_path.insert(0, _Finder())
    '''
)


#: a job's start in a worker: Hydra's execute_job (loky, basic) or the default launcher's
JOB_STARTS = ("_core.execute_job:start", "workers.run_job:start")


# --- running a whole process ----------------------------------------------------------------------
@dataclass
class Proc:
    """A finished (or stopped) process: wall time, output, marks, memory."""

    cmd: list[str]
    wall: float
    code: int
    stdout: str
    stderr: str
    start_epoch: float
    marks: dict[str, float] = field(default_factory=dict)  # s from start of stderr lines
    maxrss_mb: float = 0.0  # wait4: largest single process among those reaped
    cpu_s: float = 0.0  # wait4: user + system seconds of the process and what it reaped
    memory: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    samples: list[tuple[float, float, float, float]] = field(default_factory=list)


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_pss_mb(pid: int) -> tuple[float, float]:
    rss = pss = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


class MemorySampler(threading.Thread):
    """Peaks of the parent's RSS and of the tree's summed RSS and PSS, every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.done = threading.Event()
        self.peak = {"parent_rss_mb": 0.0, "tree_rss_mb": 0.0, "tree_pss_mb": 0.0, "procs": 0}
        #: (epoch, parent RSS, tree RSS, tree PSS) in MB
        self.samples: list[tuple[float, float, float, float]] = []

    def run(self) -> None:
        while not self.done.wait(self.interval):
            pids = _tree(self.pid)
            sizes = {pid: _rss_pss_mb(pid) for pid in pids}
            if not sizes.get(self.pid, (0.0, 0.0))[0]:
                continue  # the parent is gone (being reaped)
            self.samples.append(
                (
                    time.time(),
                    sizes[self.pid][0],
                    sum(r for r, _ in sizes.values()),
                    sum(p for _, p in sizes.values()),
                )
            )
            self.peak["parent_rss_mb"] = max(self.peak["parent_rss_mb"], sizes[self.pid][0])
            self.peak["tree_rss_mb"] = max(
                self.peak["tree_rss_mb"], sum(r for r, _ in sizes.values())
            )
            self.peak["tree_pss_mb"] = max(
                self.peak["tree_pss_mb"], sum(p for _, p in sizes.values())
            )
            self.peak["procs"] = max(self.peak["procs"], len(pids))


def become_subreaper() -> bool:
    """Adopt the orphans of the commands this script runs (Linux ``PR_SET_CHILD_SUBREAPER``):
    the default launcher's fork server outlives ``orgsim`` by a moment, and its workers' CPU
    reaches us only when we reap it (:func:`_reap_orphans`)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(pids: set[int], timeout: float = 10.0) -> list[Any]:
    """Reap the processes among ``pids`` that became ours when their parent exited (this
    script is a subreaper); their ``wait4`` usage includes the children they reaped."""
    usages = []
    deadline = time.perf_counter() + timeout
    for pid in sorted(pids):
        while True:
            try:
                got, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:  # not ours: reaped by its own parent, or gone
                break
            if got:
                usages.append(usage)
                break
            if time.perf_counter() > deadline:
                break
            time.sleep(0.01)
    return usages


def run(
    cmd: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    memory: bool = False,
    stop: Callable[[Proc, float], bool] | None = None,
) -> Proc:
    """Run ``cmd`` as a whole process; time it from start to reaping. Stderr lines are
    timestamped as they come (``marks``: the first header line and the first progress bar).
    ``stop(proc_so_far, elapsed)`` may end it early (its process group gets SIGTERM)."""
    out: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    marks: dict[str, float] = {}
    start_epoch = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: a stop ends it and its workers
    )

    def read(name: str, fd: int) -> None:
        pending = b""
        while chunk := os.read(fd, 65536):
            now = time.perf_counter() - t0
            out[name].append(chunk)
            if name != "stderr":
                continue
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            # a progress bar's line is only ended by its next update: look at the rest too
            for raw in [*lines, pending]:
                line = raw.decode(errors="replace")
                if "header" not in marks and HEADER.match(line):
                    marks["header"] = now
                if "bar" not in marks and BAR.match(line):
                    marks["bar"] = now

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=read, args=(n, s.fileno()), daemon=True)
        for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    sampler = MemorySampler(proc.pid) if memory else None
    if sampler is not None:
        sampler.start()
    stopped = False
    descendants: set[int] = set()
    scanned = -1.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.perf_counter() - t0
        if elapsed - scanned > 0.2:  # the fork server and its workers, for their CPU
            descendants.update(_tree(proc.pid)[1:])
            scanned = elapsed
        partial = Proc(list(cmd), elapsed, -1, "", "", start_epoch, dict(marks))
        if stop is not None and not stopped and stop(partial, elapsed):
            stopped = True
            os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_s, maxrss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    for orphan_usage in _reap_orphans(descendants):
        cpu_s += orphan_usage.ru_utime + orphan_usage.ru_stime
        maxrss_mb = max(maxrss_mb, orphan_usage.ru_maxrss / 1024)
    if sampler is not None:
        sampler.done.set()
        sampler.join()
    if stopped:  # the workers of a stopped sweep: only those of this process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for reader in readers:
        reader.join(timeout=5)  # a worker that outlives its parent may hold the pipes
    return Proc(
        list(cmd),
        wall,
        proc.returncode,
        b"".join(out["stdout"]).decode(errors="replace"),
        b"".join(out["stderr"]).decode(errors="replace"),
        start_epoch,
        marks,
        maxrss_mb,
        cpu_s,
        dict(sampler.peak) if sampler is not None else {},
        stopped,
        sampler.samples if sampler is not None else [],
    )


def check(proc: Proc) -> Proc:
    if proc.code != 0 and not proc.stopped:
        raise SystemExit(
            f"failed ({proc.code}): {' '.join(proc.cmd)}\n{proc.stderr[-3000:]}{proc.stdout[-2000:]}"
        )
    return proc


# --- the measurements -----------------------------------------------------------------------------
def loop(
    work: Path,
    strategies: Sequence[str],
    replications: int,
    overrides: Sequence[str],
    part: tuple[int, int] = (0, 1),
) -> tuple[Proc, dict[str, float]]:
    """The plain loop as a whole process; ``part=(i, k)``: only the i-th of k slices of the
    replications."""
    i, k = part
    spec = {
        "strategies": list(strategies),
        "replications": [replications * i // k, replications * (i + 1) // k],
        "overrides": list(overrides),
    }
    proc = check(run([str(PYTHON), "-c", LOOP, json.dumps(spec)], cwd=work))
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    return proc, inner


def parallel_loops(
    work: Path, strategies: Sequence[str], replications: int, overrides: Sequence[str]
) -> float:
    """``CORES`` plain loops at once, each on a slice of the runs: wall time until all end
    (the best any sweep on ``CORES`` workers can do on this machine, at this moment)."""
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            loop(work, strategies, replications, overrides, (i, CORES))
        except BaseException as exc:  # SystemExit from check(): raised again below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CORES)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall


def sweep_dir_of(proc: Proc) -> Path:
    for line in proc.stderr.splitlines():
        if HEADER.match(line):
            return Path(line.rsplit(": ", 1)[1].strip())
    raise SystemExit(f"no sweep header in the output of {' '.join(proc.cmd)}")


def sweep_facts(proc: Proc) -> dict[str, Any]:
    """What a finished sweep's folder says: runs, statuses, model time in the jobs, jobs,
    when its parts were committed (s from the command's start)."""
    import pandas as pd

    folder = sweep_dir_of(proc)
    table = pd.read_parquet(folder / "table.parquet")
    parts = sorted((folder.parent.parent.parent / "store" / "parts").glob("[!.]*.json"))
    commits = sorted(p.stat().st_mtime - proc.start_epoch for p in parts)
    return {
        "runs": len(table),
        "ok": int((table["status"] == "ok").sum()),
        "reused": int(table.get("meta.reused", pd.Series(dtype=bool)).fillna(False).sum()),
        "model_s": float(table["meta.duration_s"].sum()),
        "check": float(table["mean_performance"].sum()),
        "jobs": len(list((folder / "chunks").glob("*.json"))),
        "first_commit": commits[0] if commits else float("nan"),
        "last_commit": commits[-1] if commits else float("nan"),
    }


def orgsim(args: Sequence[str], work: Path, **kwargs: Any) -> Proc:
    return check(run([str(ORGSIM), "-m", *args], cwd=work, **kwargs))


def tracing_env(folder: Path) -> tuple[dict[str, str], Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(TRACER)
    log = folder / "trace.jsonl"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH", "")]))
    env["ORGSIM_BENCH_TRACE"] = str(log)
    return env, log


def read_trace(log: Path) -> list[dict[str, Any]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@dataclass
class Span:
    """One traced call: its process, wall clock (epoch s) and the process's CPU seconds."""

    pid: int
    t0: float
    t1: float
    c0: float
    c1: float

    @property
    def wall(self) -> float:
        return self.t1 - self.t0

    @property
    def cpu(self) -> float:
        return self.c1 - self.c0


def spans(events: list[dict[str, Any]], label: str, pid: int | None = None) -> list[Span]:
    """Every call of ``label`` (of process ``pid``, or of any)."""
    open_: dict[int, list[dict[str, Any]]] = {}
    out = []
    for e in events:
        if pid is not None and e["pid"] != pid:
            continue
        if e["ev"] == f"{label}:start":
            open_.setdefault(e["pid"], []).append(e)
        elif e["ev"] == f"{label}:end" and open_.get(e["pid"]):
            start = open_[e["pid"]].pop()
            out.append(Span(e["pid"], start["t"], e["t"], start["c"], e["c"]))
    return out


def first(events: list[dict[str, Any]], ev: str, pid: int | None = None) -> float:
    for e in events:
        if e["ev"] == ev and (pid is None or e["pid"] == pid):
            return e["t"]
    return float("nan")


# --- printing ---------------------------------------------------------------------------------------
def mm(values: Sequence[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def row(label: str, values: Sequence[float], unit: str = "s", note: str = "") -> None:
    lo, med = mm(values)
    fmt = "{:9.1f} s" if unit == "s" else "{:9.2f}  "
    print(f"  {label:<44}{fmt.format(lo)}{fmt.format(med)}  {note}".rstrip())


def ratio_row(label: str, values: Sequence[float], note: str = "") -> None:
    lo, med = mm(values)
    each = " ".join(f"{v:.2f}" for v in values)
    print(f"  {label:<44}{lo:9.2f}  {med:9.2f}    {note} (each: {each})".rstrip())


def breakdown(proc: Proc, events: list[dict[str, Any]], loop_compute: float) -> None:
    """Where the traced sweep's time went: wall seconds from the command's start, and the CPU
    seconds of the process concerned (load-independent, unlike the wall)."""
    nan = float("nan")
    facts = sweep_facts(proc)
    s0 = proc.start_epoch
    parent = next((e["pid"] for e in events if e["ev"] == "cli.main:start"), None)
    if parent is None:
        print("  (no trace: was the tracer imported?)")
        return

    def one(label: str) -> Span:
        found = spans(events, label, parent)
        return found[0] if found else Span(parent, nan, nan, nan, nan)

    main, prepare, sweep_ = one("cli.main"), one("cli.prepare"), one("engine.hydra_sweep")
    expand, plan_, launch = one("design.expand"), one("engine.plan"), one("_core.launch")
    if launch.t0 != launch.t0:  # the default launcher (forked workers)
        launch = one("orgsim_launcher.OrgsimJoblibLauncher.launch")
    finish, tables = one("engine.finish"), one("store.write_tables")
    # a job: Hydra's execute_job (loky, basic) or the default launcher's (sim.workers.run_job)
    jobs = spans(events, "_core.execute_job") or spans(events, "workers.run_job")
    tasks = spans(events, "cli._task")
    chunks = spans(events, "engine.run_chunk")
    writes = spans(events, "store.Store.write_part")
    warm = spans(events, "engine._warm_worker")
    workers = sorted({j.pid for j in jobs})
    boot = {pid: first(events, "start", pid) for pid in workers}
    # the default launcher's workers are forked by its fork server: their parent
    servers = {e.get("ppid") for e in events if e["pid"] in workers} - {parent}
    server_up = min((first(events, "start", pid) for pid in servers), default=nan)
    composing = [  # a job's start to its task's start: Hydra's composition, run_job set-up
        Span(j.pid, j.t0, t.t0, j.c0, t.c0)
        for j in jobs
        for t in tasks
        if t.pid == j.pid and j.t0 <= t.t0 <= j.t1
    ]
    job_start = min((j.t0 for j in jobs), default=nan) - s0
    job_end = max((j.t1 for j in jobs), default=nan) - s0

    def mean(values: list[float]) -> float:
        return statistics.mean(values) if values else nan

    lines: list[tuple[str, float, float]] = [
        ("parent: interpreter and imports, to the door check", prepare.t0 - s0, prepare.c0),
        ("parent: door check (sim.cli.prepare, one composition)", prepare.wall, prepare.cpu),
        ("parent: Hydra app start (composition, plugins)", sweep_.t0 - prepare.t1,
         sweep_.c0 - prepare.c1),
        ("parent: design expansion (sim.design.expand)", expand.wall, expand.cpu),
        ("parent: plan (store check, sweep.json, chunk files)", plan_.wall, plan_.cpu),
        ("parent: plan to launch (loky: waiting for warm workers)",
         launch.t0 - plan_.t1, launch.c0 - plan_.c1),
        *([("  fork server: up (it then imports the model), after the parent's start",
            server_up - s0, nan)] if servers else []),
        ("  workers: up (started or forked), after the parent's start",
         min(boot.values(), default=nan) - s0, nan),
        *([
            ("  workers: loky start-up to the warm-up call (each)",
             mean([w.t0 - boot.get(w.pid, nan) for w in warm]), mean([w.c0 for w in warm])),
            ("  workers: warm-up imports (each)", mean([w.wall for w in warm]),
             mean([w.cpu for w in warm])),
            ("  workers: warm, after the parent's start",
             max((w.t1 for w in warm), default=nan) - s0, nan),
        ] if warm else []),
        ("launch: to the first job's start in a worker", job_start - (launch.t0 - s0), nan),
        ("jobs: first job start to last job end", job_end - job_start, nan),
        (f"  per job: its Hydra config + run_job set-up (x{len(composing)})",
         mean([c.wall for c in composing]), mean([c.cpu for c in composing])),
        (f"  per job: run_chunk (x{len(chunks)})", mean([c.wall for c in chunks]),
         mean([c.cpu for c in chunks])),
        ("  per job: of which writing the store part", mean([w.wall for w in writes]),
         mean([w.cpu for w in writes])),
        ("finish: tables and sweep.json (engine.finish)", finish.wall, finish.cpu),
        ("  of which store.write_tables", tables.wall, tables.cpu),
        ("parent: main() returned to exit", proc.wall - (main.t1 - s0),
         nan),
    ]  # fmt: skip
    print(f"  traced fresh sweep: {proc.wall:.1f} s wall, {facts['jobs']} jobs on "
          f"{len(workers)} workers; CPU {proc.cpu_s:.1f} s (whole tree)")  # fmt: skip
    print(f"  {'':<60}{'wall':>7}  {'CPU':>7}")
    for label, wall, cpu in lines:
        cpu_text = f"{cpu:7.2f} s" if cpu == cpu else ""
        print(f"  {label:<60}{wall:7.2f} s{cpu_text}")
    # the core-seconds lost against the compute-only loop: cores x wall - loop
    busy = sum(j.wall for j in jobs)
    lost = CORES * proc.wall - loop_compute
    budget = [
        ("serial start (cores x time before the first job)", CORES * job_start),
        ("serial end (cores x time after the last job)", CORES * (proc.wall - job_end)),
        ("runs slower in the sweep than in the loop (model time)", facts["model_s"] - loop_compute),
        ("per-job cost in the workers (job time - model time)", busy - facts["model_s"]),
        ("workers idle while jobs run (imbalance, dispatch)",
         CORES * (job_end - job_start) - busy),
    ]  # fmt: skip
    print(f"  core-seconds lost: {CORES} x {proc.wall:.1f} s - {loop_compute:.1f} s "
          f"(compute-only loop, median) = {lost:.1f}:")  # fmt: skip
    for label, value in budget:
        print(f"    {label:<60}{value:7.1f}  ({value / lost:4.0%})")


def breakdown_reused(proc: Proc, events: list[dict[str, Any]]) -> None:
    """Where a sweep that computes nothing spends its time (wall and CPU seconds)."""
    parent = next((e["pid"] for e in events if e["ev"] == "cli.main:start"), None)
    if parent is None:
        print("  (no trace)")
        return
    s0, nan = proc.start_epoch, float("nan")

    def one(label: str) -> Span:
        found = spans(events, label, parent)
        return found[0] if found else Span(parent, nan, nan, nan, nan)

    main, prepare, sweep_ = one("cli.main"), one("cli.prepare"), one("engine.hydra_sweep")
    expand, plan_, finish = one("design.expand"), one("engine.plan"), one("engine.finish")
    lines = [
        ("interpreter and imports, to the door check", prepare.t0 - s0, prepare.c0),
        ("door check (sim.cli.prepare)", prepare.wall, prepare.cpu),
        ("Hydra app start", sweep_.t0 - prepare.t1, sweep_.c0 - prepare.c1),
        ("design expansion", expand.wall, expand.cpu),
        ("plan (the store's checksums, sweep.json)", plan_.wall, plan_.cpu),
        ("finish (tables, sweep.json)", finish.wall, finish.cpu),
        ("main() returned to exit", proc.wall - (main.t1 - s0), nan),
    ]
    print(f"  {proc.wall:.2f} s wall, CPU {proc.cpu_s:.2f} s")
    for label, wall, cpu in lines:
        cpu_text = f"{cpu:7.2f} s" if cpu == cpu else ""
        print(f"  {label:<58}{wall:7.2f} s{cpu_text}")


def large(work: Path, n: int, startup_only: bool) -> None:
    results = work / "large"
    env, log = tracing_env(work / "trace-large")

    last = {"checked": 0.0}

    def first_job(_: Proc, elapsed: float) -> bool:
        if not startup_only or elapsed - last["checked"] < 0.5 or not log.is_file():
            return False
        last["checked"] = elapsed
        return any(e["ev"] in JOB_STARTS for e in read_trace(log))

    args = [
        "experiment=levers_sensitivity_quick",
        f"hydra.sweeper.sample.methods=[{{method:lhs,n:{n}}}]",
        *LARGE_SETTINGS,
    ]
    print(f"\n5. sampled design: LHS of {n:,} points x 1 replication (traced; memory sampled)")
    print(f"   orgsim -m {' '.join(args)} results_dir=<fresh>")
    proc = orgsim([*args, f"results_dir={results}"], work, env=env, memory=True, stop=first_job)
    events = read_trace(log)
    s0 = proc.start_epoch
    parent = next((e["pid"] for e in events if e["ev"] == "cli.main:start"), None)
    expand = spans(events, "design.expand", parent)
    plan_ = spans(events, "engine.plan", parent)
    job0 = min(
        (t for t in (first(events, ev) for ev in JOB_STARTS) if t == t), default=float("nan")
    )
    launch_end = first(events, "_core.launch:end", parent)
    if launch_end != launch_end:  # the default launcher
        launch_end = first(events, "orgsim_launcher.OrgsimJoblibLauncher.launch:end", parent)
    files = [p for p in results.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    parts = [p for p in files if p.parent.name == "parts"]
    chunk_files = [p for p in files if p.parent.name == "chunks"]
    design_file = [p for p in files if p.name == "sweep.json"]
    state = "STOPPED once the first job had started" if proc.stopped else "finished"
    print(f"   {state}; exit code {proc.code}")
    print(f"   wall time:                         {proc.wall:9.1f} s")
    print(f"   sweep header (expansion done):     {proc.marks.get('header', float('nan')):9.1f} s")
    if expand:
        print(f"     of which expansion:              {expand[0].wall:9.1f} s")
    if plan_:
        print(f"     then planning (sweep.json, chunks): {plan_[0].wall:6.1f} s")
    print(f"   first job starts in a worker:      {job0 - s0:9.1f} s")
    finish = spans(events, "engine.finish", parent)
    if finish:
        print(f"   finish (tables, sweep.json):       {finish[0].wall:9.1f} s")
    m = proc.memory
    print(f"   peak RSS, largest single process:  {proc.maxrss_mb:9.0f} MB  (wait4)")
    print(f"   peak RSS of the parent (sampled):  {m.get('parent_rss_mb', 0):9.0f} MB")
    print(f"   peak sum over the process tree:    {m.get('tree_rss_mb', 0):9.0f} MB RSS, "
          f"{m.get('tree_pss_mb', 0):.0f} MB PSS ({m.get('procs', 0)} processes)")  # fmt: skip
    for label, lo, hi in (
        ("before the first job", 0.0, job0),
        ("while the jobs run", job0, launch_end),
        ("after the jobs (tables)", launch_end, float("inf")),
    ):
        window = [x for x in proc.samples if lo <= x[0] < hi]
        if window:
            print(f"     {label + ':':<32}parent {max(x[1] for x in window):6.0f} MB RSS, "
                  f"tree {max(x[2] for x in window):6.0f} MB RSS "
                  f"{max(x[3] for x in window):6.0f} MB PSS")  # fmt: skip
    print(f"   files under results_dir:           {len(files):9d}  ({size / 1e6:.1f} MB)")
    print(f"     store parts: {len(parts)} files ({sum(p.stat().st_size for p in parts) / 1e6:.1f}"
          f" MB); chunk files: {len(chunk_files)} "
          f"({sum(p.stat().st_size for p in chunk_files) / 1e6:.1f} MB); sweep.json "
          f"{sum(p.stat().st_size for p in design_file) / 1e6:.1f} MB")  # fmt: skip
    if not proc.stopped:
        facts = sweep_facts(proc)
        print(f"   runs ok / total:                   {facts['ok']:>9} / {facts['runs']}, "
              f"{facts['jobs']} jobs, model time in the jobs {facts['model_s']:.0f} s "
              f"({facts['model_s'] / facts['runs'] * 1000:.1f} ms per run)")  # fmt: skip
        print(f"   efficiency vs model time alone:    {facts['model_s'] / CORES / proc.wall:9.2f}"
              "    (sum of meta.duration_s / cores / wall; no separate loop)")  # fmt: skip


def paired(
    work: Path,
    repeats: int,
    strategies: Sequence[str],
    replications: int,
    overrides: list[str],
    sweep_args: list[str],
    again: bool = False,
) -> dict[str, list[float]]:
    """``repeats`` x (the loop, the sweep on a fresh store[, the same sweep again]); ratios
    pair by pair. Checks that the sweep computed the loop's runs (same outcomes)."""
    out: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        out.setdefault(key, []).append(value)

    n = len(strategies) * replications

    def fingerprint(proc: Proc) -> str:
        return json.loads((sweep_dir_of(proc) / "sweep.json").read_text())["code_fingerprint"]

    done = retries = 0
    while done < repeats:
        results = work / f"results-{n}-{done}-{retries}"
        lp, inner = loop(work, strategies, replications, overrides)
        side = parallel_loops(work, strategies, replications, overrides)
        one = orgsim([*sweep_args, f"results_dir={results}"], work)
        two = orgsim([*sweep_args, f"results_dir={results}"], work) if again else None
        fact = sweep_facts(one)
        if two is not None and sweep_facts(two)["reused"] != n:
            if fingerprint(one) != fingerprint(two) and retries < 3:  # code edited meanwhile
                print(f"  (repeat {done + 1}: the model's code changed between the two sweeps;"
                      " measured again)")  # fmt: skip
                retries += 1
                shutil.rmtree(results, ignore_errors=True)
                continue
            raise SystemExit("the second sweep did not reuse every run")
        if abs(fact["check"] - inner["check"]) > 1e-9 or fact["ok"] != n:
            raise SystemExit(f"the sweep and the loop disagree: {fact} vs {inner}")
        add("loop", lp.wall)
        add("compute", inner["compute_s"])
        add("loop_cpu", lp.cpu_s)
        add("wall", one.wall)
        add("header", one.marks.get("header", float("nan")))
        add("bar", one.marks.get("bar", float("nan")))
        add("last_commit", fact["last_commit"])
        add("model", fact["model_s"])
        add("cpu", one.cpu_s)
        add("jobs", fact["jobs"])
        add("side", side)
        add("eff_side", side / one.wall)
        add("eff_whole", lp.wall / CORES / one.wall)
        add("eff_compute", inner["compute_s"] / CORES / one.wall)
        add("cpu_ratio", one.cpu_s / lp.cpu_s)
        if two is not None:
            add("again", two.wall)
            add("again_header", two.marks.get("header", float("nan")))
            add("reuse", two.wall / one.wall)
        shutil.rmtree(results, ignore_errors=True)
        done += 1
    return out


def sweep_rows(m: dict[str, list[float]]) -> None:
    row("wall time, whole process", m["wall"])
    row("  sweep header printed (expansion done)", m["header"])
    row("  progress bar shown (jobs launched)", m["bar"])
    row("  last store part committed", m["last_commit"])
    row("  model time in the jobs (sum of run times)", m["model"])
    row("  CPU of the process tree (user + system)", m["cpu"])
    print(f"  jobs: {', '.join(str(int(j)) for j in m['jobs'])}")
    ratio_row("efficiency = ideal / wall (whole-process loop)", m["eff_whole"], "target >= 0.75")
    ratio_row("efficiency = ideal / wall (compute-only loop)", m["eff_compute"], "target >= 0.75")
    ratio_row("CPU: sweep / whole-process loop", m["cpu_ratio"])
    ratio_row(f"{CORES} plain loops at once / sweep wall", m["eff_side"], "orgsim's own share")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="paired repeats (default 3)")
    parser.add_argument("--skip-large", action="store_true", help="skip the sampled design")
    parser.add_argument("--large-n", type=int, default=100_000, help="LHS points (100,000)")
    parser.add_argument(
        "--large-startup-only",
        action="store_true",
        help="stop the sampled design once its first job has started",
    )
    parser.add_argument("--skip-long", action="store_true", help="skip the 1,000-run sweep")
    parser.add_argument("--no-trace", action="store_true", help="skip the traced sweep")
    parser.add_argument(
        "--only-large", action="store_true", help="only the sampled design (section 5)"
    )
    args = parser.parse_args()

    from sim.provenance import code_fingerprint, git_state

    work = Path(tempfile.mkdtemp(prefix="orgsim-sweep-bench-"))
    # a design cache of this invocation's own (sim/design_cache.py), empty at its start: a first
    # sweep (a fresh results_dir: another command line) always misses it and composes; the same
    # command again hits it, as a user's would. The user's own cache is left alone.
    os.environ["ORGSIM_CACHE_DIR"] = str(work / "design-cache")
    git = git_state()
    if not become_subreaper():
        print("(not a subreaper here: the CPU of the fork server's workers is not counted)")
    print(
        f"sweep overhead: {CORES} cores, Python {sys.version.split()[0]}, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {args.repeats} repeats; "
        f"code {str(git['git_commit'])[:7]}{' (changed)' if git['git_dirty'] else ''}, "
        f"model fingerprint {code_fingerprint()}"
    )
    print(f"  {'':<44}{'min':>9}  {'median':>9}")
    try:
        strategies = ("incremental", "planning")
        sweep_args = ["strategy=incremental,planning", "replications=50"]
        if not args.only_large:
            short = paired(work, args.repeats, strategies, 50, [], sweep_args, again=True)
            print("1. baseline: 100 default runs (incremental, planning x replication 0..49)")
            row("plain loop, whole process", short["loop"])
            row("plain loop, compute only (in-process)", short["compute"])
            row(f"ideal = whole-process loop / {CORES} cores", [x / CORES for x in short["loop"]])
            row("plain loop, CPU (user + system)", short["loop_cpu"])
            row(f"{CORES} plain loops at once, 1/{CORES} of the runs each", short["side"])
            print("2. orgsim -m strategy=incremental,planning replications=50 (fresh store)")
            sweep_rows(short)
            print("3. the same command again (all 100 runs reused)")
            row("wall time, whole process", short["again"])
            row("  sweep header printed (store checked)", short["again_header"])
            ratio_row("reuse / first sweep", short["reuse"], "target <= 0.15")

        if not args.only_large and not args.skip_long:
            long_args = ["strategy=incremental,planning", "replications=500", "steps=50"]
            long = paired(work, args.repeats, strategies, 500, ["steps=50"], long_args)
            print("4. 1,000 runs: strategy=incremental,planning replications=500 steps=50")
            row("plain loop, whole process", long["loop"])
            row("plain loop, compute only (in-process)", long["compute"])
            row("plain loop, CPU (user + system)", long["loop_cpu"])
            row(f"{CORES} plain loops at once, 1/{CORES} of the runs each", long["side"])
            sweep_rows(long)

        if not args.only_large and not args.no_trace:
            env, log = tracing_env(work / "trace")
            traced = orgsim([*sweep_args, f"results_dir={work / 'traced'}"], work, env=env)
            print("\nwhere the time goes: one more fresh 100-run sweep, traced (s from its start)")
            breakdown(traced, read_trace(log), statistics.median(short["compute"]))
            log.unlink()
            again = orgsim([*sweep_args, f"results_dir={work / 'traced'}"], work, env=env)
            print("the same command again (all reused), traced:")
            breakdown_reused(again, read_trace(log))

        if not args.skip_large:
            large(work, args.large_n, args.large_startup_only)
        load = os.getloadavg()
        print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
