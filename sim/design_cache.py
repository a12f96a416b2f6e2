"""A cache of checked command lines and their expanded designs, for commands run again.

Why: running the same ``orgsim -m ...`` again (to finish an interrupted sweep, to rebuild its
table, in a script) composed the same configs again: the door check (:func:`sim.cli.prepare`)
and the design's expansion (:func:`sim.design.expand`) each cost a Hydra composition (~0.1 s
each) and the expansion validates every cell. Their results depend only on what is hashed into
the cache key, so a command seen before is answered from here: the argv the door check handed
to Hydra, Hydra's run mode, and (for a sweep) the expanded :class:`~sim.design.Design` with
what ``sweep.json`` records about the launcher.

The key (:func:`key`) is a sha256 of everything the answer depends on:

* the command line exactly as typed, the working folder, ``HOME`` (``~`` in ``results_dir``),
  every environment variable named ``ORGSIM_*`` or read by the configs (``oc.env:NAME``);
* the name and contents of every file under ``conf/``;
* the source of every module of the ``sim`` package and of every ``hydra_plugins`` package
  on the path (this project's sweeper and launcher, Hydra's installed launchers);
* the name and version of every installed distribution (``*.dist-info`` in site-packages:
  hydra-core, omegaconf, SALib, numpy, Mesa, ... and the fingerprint's libraries), the
  interpreter, and this module's format version.

So a changed config file, module or library is a miss, never a stale design. An entry is
only written after the door check and the expansion succeeded (a mistake is never cached;
it is found again and reported as before), atomically, one file per key. Any problem
reading an entry (missing, truncated, another format, another key) is a miss: the caller
composes as if there were no cache. Entries are pickles written by this user into this user's
cache folder (``$ORGSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/orgsim/designs``, else
``~/.cache/orgsim/designs``); ``ORGSIM_CACHE_DIR=off`` turns the cache off. At most
:data:`MAX_ENTRIES` are kept (the least recently used go), and designs of more than
:data:`MAX_RUNS` runs are not cached (their pickles would be large; their runs dwarf the
expansion anyway).

Within one process, :func:`begin` records the key of the command being run and any entry
found; the sweeper asks :func:`cached_design` for the design and gives a newly expanded one
to :func:`remember`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config import CONF_DIR

#: bump when the entry's layout or the meaning of its fields changes
FORMAT = 1
CACHE_ENV = "ORGSIM_CACHE_DIR"
MAX_ENTRIES = 64
MAX_RUNS = 50_000
PACKAGE_DIR = Path(__file__).resolve().parent
_ENV_IN_CONF = re.compile(r"oc\.env\s*:\s*([A-Za-z_][A-Za-z0-9_]*)")
_RESOLVER = re.compile(r"\$\{\s*([A-Za-z_][\w.]*)\s*:")
#: resolvers whose value the key covers (the environment, the working folder) or that only
#: rearrange the config; any other (``${now:...}``, a custom one) may change from one run of a
#: command to the next, so a command whose configs use one is never cached
PURE_RESOLVERS = {
    "oc.env",
    "oc.select",
    "oc.decode",
    "oc.create",
    "oc.dict.keys",
    "oc.dict.values",
    "hydra",
}


@dataclass
class SweepEntry:
    """A sweep's expanded design and what the sweeper records about its Hydra config."""

    arguments: list[str]  # the task overrides Hydra handed the sweeper
    design: Any  # sim.design.Design
    launcher: str  # hydra/launcher choice, as sweep.json records it
    launcher_cfg: dict[str, Any]  # hydra.launcher, resolved (for the workers' count)
    cpus_per_job: int
    #: no Hydra callbacks, not verbose, the orgsim sweeper: a sweep with nothing to run does
    #: nothing in Hydra that shows (see sim.engine.reuse_sweep)
    hydra_idle: bool


@dataclass
class Entry:
    """What the door check and (for a sweep) the expansion answered for one key."""

    key: str
    argv: list[str]
    multirun: bool
    mode: str | None  # hydra.mode of the composed config (a RunMode's name), as get_mode gives
    results_dir: str
    sweep: SweepEntry | None = None
    format: int = FORMAT


@dataclass
class _Current:
    """The command being run in this process: its key and the entry found for it (if any)."""

    key: str | None = None
    entry: Entry | None = None
    pending: dict[str, Any] = field(default_factory=dict)


_CURRENT = _Current()


# --- where, and the key ---------------------------------------------------------------------------
def cache_dir() -> Path | None:
    """The cache's folder, or None when the cache is off (``ORGSIM_CACHE_DIR=off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "0", "off", "false", "no") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "orgsim" / "designs"


def _hash_tree(digest: Any, root: Path, suffixes: tuple[str, ...] | None) -> None:
    """Every file under ``root`` (those with ``suffixes``; all if None): relative name and bytes."""
    if not root.is_dir():
        digest.update(f"absent:{root}\0".encode())
        return
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if suffixes is not None and path.suffix not in suffixes:
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")


def _plugin_dirs() -> list[Path]:
    """Every folder of the ``hydra_plugins`` namespace package (found, not imported)."""
    try:
        spec = importlib.util.find_spec("hydra_plugins")
    except (ImportError, ValueError):
        return []
    return sorted(Path(p) for p in (spec.submodule_search_locations or [])) if spec else []


def _distributions() -> list[str]:
    """Every installed distribution's name and version (the ``*.dist-info`` folders' names)."""
    names = []
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            try:
                listing = os.listdir(entry)
            except OSError:
                continue
            names += [f"{entry}/{n}" for n in sorted(listing) if n.endswith(".dist-info")]
    return names


def key(argv: Sequence[str]) -> str | None:
    """The cache key of a command line run here and now (see the module's docstring); None
    when the command cannot be cached (its configs call a resolver outside
    :data:`PURE_RESOLVERS`)."""
    digest = hashlib.sha256()
    conf_text = ""
    if CONF_DIR.is_dir():
        conf_text = "\n".join(
            p.read_text(errors="replace") for p in sorted(CONF_DIR.rglob("*.yaml"))
        )
    if set(_RESOLVER.findall(conf_text + "\n".join(argv))) - PURE_RESOLVERS:
        return None
    env_names = sorted(
        {n for n in os.environ if n.startswith("ORGSIM_") and n != CACHE_ENV}
        | set(_ENV_IN_CONF.findall(conf_text))
        | {"HOME"}
    )
    head = {
        "format": FORMAT,
        "argv": list(argv),
        "cwd": os.getcwd(),
        "env": {n: os.environ.get(n) for n in env_names},
        "python": [sys.executable, sys.version],
        "package": str(PACKAGE_DIR),
        "conf": str(CONF_DIR),
        "distributions": _distributions(),
    }
    digest.update(json.dumps(head, sort_keys=True).encode() + b"\0")
    _hash_tree(digest, CONF_DIR, None)
    _hash_tree(digest, PACKAGE_DIR, (".py",))
    for folder in _plugin_dirs():
        digest.update(f"plugins:{folder}\0".encode())
        _hash_tree(digest, folder, (".py",))
    return digest.hexdigest()


# --- reading and writing --------------------------------------------------------------------------
def load(cache_key: str) -> Entry | None:
    """The entry for ``cache_key``; None when there is none or it cannot be used."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{cache_key}.pickle"
    try:
        with path.open("rb") as fh:
            entry = pickle.load(fh)
    except Exception:  # missing, truncated, unpicklable (changed classes): a miss
        return None
    if not isinstance(entry, Entry) or entry.format != FORMAT or entry.key != cache_key:
        return None
    if entry.sweep is not None and not isinstance(entry.sweep, SweepEntry):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # least recently used go first
    return entry


def store(entry: Entry) -> None:
    """Write an entry (atomically); a cache that cannot be written is no cache, not an error."""
    folder = cache_dir()
    if folder is None:
        return
    if entry.sweep is not None and len(entry.sweep.design.runs) > MAX_RUNS:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / f"{entry.key}.pickle")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except Exception:
        return


def _prune(folder: Path) -> None:
    """Keep the :data:`MAX_ENTRIES` most recently used entries."""
    entries = []
    for path in folder.glob("*.pickle"):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[MAX_ENTRIES:]:
        path.unlink(missing_ok=True)


# --- the command being run in this process ------------------------------------------------------
def begin(argv: Sequence[str]) -> Entry | None:
    """Start a command: compute its key and return its entry, if a usable one exists."""
    global _CURRENT
    _CURRENT = _Current()
    if cache_dir() is None:
        return None
    try:
        cache_key = key(argv)
    except OSError:
        return None
    if cache_key is None:
        return None
    _CURRENT = _Current(key=cache_key, entry=load(cache_key))
    return _CURRENT.entry


def checked(argv: list[str], multirun: bool, mode: str | None, results_dir: str) -> None:
    """The door check passed for the current command: keep its answer. A single run's entry is
    written now; a sweep's only once its design has been expanded (:func:`remember`)."""
    if _CURRENT.key is None:
        return
    _CURRENT.pending = {
        "argv": list(argv),
        "multirun": multirun,
        "mode": mode,
        "results_dir": results_dir,
    }
    if not multirun:
        store(Entry(key=_CURRENT.key, **_CURRENT.pending))


def cached_design(arguments: Sequence[str]) -> SweepEntry | None:
    """The current command's cached sweep, if its sweeper was handed these very arguments."""
    entry = _CURRENT.entry
    if entry is None or entry.sweep is None or entry.sweep.arguments != list(arguments):
        return None
    return entry.sweep


def remember(sweep: SweepEntry) -> None:
    """A sweep's design was expanded and validated: write the current command's entry."""
    if _CURRENT.key is None or not _CURRENT.pending or _CURRENT.entry is not None:
        return
    store(Entry(key=_CURRENT.key, sweep=sweep, **_CURRENT.pending))


def end() -> None:
    """Forget the current command (the next :func:`begin` starts afresh)."""
    global _CURRENT
    _CURRENT = _Current()
