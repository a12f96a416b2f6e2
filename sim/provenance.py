"""Where a result came from: the fingerprint of the code that computes a run, and the git state.

Why a fingerprint and not the package version: a run's id must change whenever the code that
computes it changes, or a store would serve an old result for a new model (it did: editing
``sim/levers.py`` and running the same command again reused the old number). The fingerprint is
a hash of the source of every module of the package that :mod:`sim.model` imports, directly or
through other modules of the package (found by reading their ``import`` statements, so a new
module of the model is covered without being listed anywhere), plus the versions of the
libraries whose numbers the model depends on. Editing a report, the dashboard or the command
line changes no result and so no run id.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGE = "sim"
PACKAGE_DIR = Path(__file__).resolve().parent
ROOT_MODULE = "sim.model"
#: libraries whose versions can change a run's numbers
LIBRARIES = ("numpy", "mesa", "networkx")


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """The modules of the package that ``path`` imports (absolute or relative imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] != PACKAGE:
                continue
            found.add(name)
            # `from sim import store` imports the module sim.store
            found.update(f"{name}.{a.name}" for a in node.names if _module_file(f"{name}.{a.name}"))
    return found


def model_modules(root: str = ROOT_MODULE) -> dict[str, Path]:
    """Every module of the package that the model's code is made of (the import closure)."""
    todo, seen = [root], {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        # the package's own __init__ (the public API) is not followed: it computes nothing
        todo.extend(m for m in _imports(path, name) - set(seen) if m != PACKAGE)
    return dict(sorted(seen.items()))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 (first 16 hex digits) of the model's source files and the library versions."""
    digest = hashlib.sha256()
    for name, path in model_modules().items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for lib in LIBRARIES:
        try:
            version = metadata.version(lib)
        except metadata.PackageNotFoundError:  # pragma: no cover - a dependency of the package
            version = "absent"
        digest.update(f"{lib}=={version}\0".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, str | bool]:
    """The checkout's commit and whether its tree had changes (empty when not a git checkout)."""
    repo = PACKAGE_DIR.parent

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10
        )
        if out.returncode:
            raise OSError(out.stderr)
        return out.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "", "git_dirty": False}
    return {"git_commit": commit, "git_dirty": dirty}


def orgsim_version() -> str:
    """The installed orgsim version (recorded; the fingerprint, not the version, is the id)."""
    try:
        return metadata.version("orgsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0+unknown"
