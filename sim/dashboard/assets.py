"""Offline front-end assets for the dashboard.

Solara's page loads its JavaScript, CSS and fonts from a public CDN. A classroom with poor wifi
(or these build machines, which reach no CDN) then gets a blank page. The files are ordinary npm
packages, so ``npm pack`` fetches them once from the npm registry (or a local mirror) into a cache
directory; solara then serves them itself as static files when ``SOLARA_ASSETS_EXTRA_LOCATIONS``
names that directory and the page's CDN address (``SOLARA_ASSETS_CDN``) is :data:`STATIC_URL`.
(Not through solara's CDN proxy, ``SOLARA_ASSETS_PROXY_CACHE_DIR``: that proxy fetches any missing
path from the public CDN for whoever asks; see :mod:`sim.dashboard.guard`.)

The package versions are hard-coded in solara's page template per release: they are pinned here
for solara 1.64.1 with ipyvue/ipyvuetify 1.x, and :func:`check_versions` compares them with the
installed template so that a solara upgrade fails loudly instead of rendering a blank page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

#: npm packages the page of solara 1.64.1 (ipywidgets 7, Vuetify 2) loads from its CDN.
PACKAGES: tuple[str, ...] = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
    "requirejs@2.3.6",
    "font-awesome@4.5.0",
)

#: A file per package whose presence proves the package was unpacked completely.
_MARKERS: dict[str, str] = {
    "@widgetti/solara-vuetify-app@10.1.1": "dist/solara-vuetify-app8.min.js",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2": "package.json",
    "requirejs@2.3.6": "require.js",
    "font-awesome@4.5.0": "css/font-awesome.min.css",
}

ENV_VAR = "SOLARA_ASSETS_PROXY_CACHE_DIR"  # solara's CDN proxy cache: not used (proxy off)
LOCATIONS_VAR = "SOLARA_ASSETS_EXTRA_LOCATIONS"  # extra folders solara serves at /static/assets
STATIC_URL = "/static/assets"  # where the page then finds the packages (no trailing slash)


def default_cache_dir() -> Path:
    """Where the assets live unless told otherwise: ``$ORGSIM_ASSETS_DIR`` or the user's cache
    (``$XDG_CACHE_HOME/orgsim/solara-assets``), so one setup serves every later class."""
    explicit = os.environ.get("ORGSIM_ASSETS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "orgsim" / "solara-assets"


def is_complete(cache_dir: Path) -> bool:
    """True if every pinned package is unpacked in ``cache_dir``."""
    return all((cache_dir / pkg / marker).is_file() for pkg, marker in _MARKERS.items())


def check_versions() -> list[str]:
    """Pinned packages that the installed solara template no longer names (empty if in step).

    Solara names its asset versions in its page template and grid-layout widget; a mismatch means
    ``PACKAGES`` must be updated together with the solara pin."""
    import solara

    root = Path(solara.__file__).parent
    names = ("server/templates/solara.html.j2", "widgets/vue/gridlayout.vue")
    text = "".join((root / n).read_text(encoding="utf-8") for n in names if (root / n).is_file())
    try:
        from solara.server import settings

        text += settings.assets.fontawesome_path
    except Exception:  # pragma: no cover - settings always import with solara installed
        pass
    return [pkg for pkg in PACKAGES if pkg not in text]


def _unpack(tarball: Path, dest: Path) -> None:
    """Unpack an npm tarball into ``dest``, stripping its top folder (``package/``)."""
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) < 2 or ".." in parts:
                continue
            member.name = str(Path(*parts[1:]))
            tar.extract(member, tmp, filter="data")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)  # complete or absent: an interrupted setup is simply redone


def fetch(cache_dir: Path | None = None, *, force: bool = False, quiet: bool = True) -> Path:
    """Fetch the pinned packages with ``npm pack`` into ``cache_dir`` (once) and return it.

    Needs ``npm`` and the npm registry (or a mirror configured for npm) once, before class; an
    already complete cache is left alone unless ``force``.
    """
    cache_dir = (cache_dir or default_cache_dir()).expanduser().resolve()
    if is_complete(cache_dir) and not force:
        return cache_dir
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed once to fetch the offline assets (install Node.js)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orgsim-npm-") as work:
        for pkg in PACKAGES:
            dest = cache_dir / pkg
            if (dest / _MARKERS[pkg]).is_file() and not force:
                continue
            result = subprocess.run(
                [npm, "pack", pkg, "--silent", "--pack-destination", work],
                cwd=work,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"npm pack {pkg} failed: {result.stderr.strip()[-500:]}")
            name = result.stdout.strip().splitlines()[-1]
            tarball = Path(work) / name
            if not tarball.is_file():  # older npm prints the name differently
                found = sorted(Path(work).glob("*.tgz"), key=lambda p: p.stat().st_mtime)
                tarball = found[-1]
            dest.parent.mkdir(parents=True, exist_ok=True)
            _unpack(tarball, dest)
            tarball.unlink()
            if not quiet:
                print(f"  {pkg} -> {dest}")
    if not is_complete(cache_dir):
        raise RuntimeError(f"offline assets incomplete in {cache_dir}")
    return cache_dir
