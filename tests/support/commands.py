"""How the tests start orgsim's console scripts, as a user runs them.

CI runs ``.venv/bin/python -m pytest`` without the venv on PATH, so a script is found beside
this interpreter, not by name.
"""

from __future__ import annotations

import sys
from pathlib import Path


def console_script(name: str) -> str:
    """The console script ``name`` installed beside this interpreter (the venv's)."""
    return str(Path(sys.executable).parent / name)


def orgsim_command() -> list[str]:
    """``orgsim`` as a user runs it: the console script, else the module (no script here)."""
    exe = Path(console_script("orgsim"))
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sim.cli"]
