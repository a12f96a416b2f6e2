"""``orgsim-dashboard``: serve the classroom dashboard, offline once set up.

    orgsim-dashboard --setup-offline     # once, with internet: fetch the front-end files
    orgsim-dashboard                     # in class: http://127.0.0.1:8765, no CDN needed
    orgsim-dashboard --host 0.0.0.0 --port 8080   # let students' laptops in
    orgsim-dashboard --class --host 0.0.0.0       # a class activity: everyone races together

The server is ``solara run`` on :mod:`sim.dashboard.app`; with the offline assets in place it
serves them itself as static files (``SOLARA_ASSETS_EXTRA_LOCATIONS``, page links under
``/static/assets``), so the page never waits on a CDN. Without them the browser loads its files
from the internet (fine at home, a blank page on poor classroom wifi): we say so loudly instead of
failing. Solara's CDN proxy (``/_solara/cdn``, which fetches any path from the public CDN for
whoever asks) is off in both cases (``SOLARA_ASSETS_PROXY=False``): the server itself never
fetches anything for a browser (see :mod:`sim.dashboard.guard`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from sim.dashboard import assets

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8765
CLASS_PORT = 8766  # the class activity (sim.classroom.server)


def server_command(host: str, port: int) -> list[str]:
    """The ``solara run`` command line that serves the app (production mode: no auto-reload,
    no source watching, smaller pages)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--host",
        host,
        "--port",
        str(port),
        "--no-open",
        "--production",
    ]


def server_env(assets_dir: Path | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the server: offline assets, no CDN proxy, no telemetry (which would
    phone home)."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    env.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    # never an open fetch proxy: the page's files come from assets_dir or, online, the browser
    # loads them from the CDN itself
    env["SOLARA_ASSETS_PROXY"] = "False"
    env.pop(assets.ENV_VAR, None)
    if assets_dir is None:
        env.pop("SOLARA_ASSETS_CDN", None)
        env.pop(assets.LOCATIONS_VAR, None)
    else:
        env[assets.LOCATIONS_VAR] = str(assets_dir)  # served under /static/assets
        env["SOLARA_ASSETS_CDN"] = assets.STATIC_URL  # the page's links point there
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="orgsim-dashboard",
        description="Classroom dashboard: organisations innovating on a wicked problem, in the "
        "browser (Mesa SolaraViz).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 lets other machines in)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default: {DEFAULT_PORT}; {CLASS_PORT} with --class)",
    )
    parser.add_argument(
        "--class",
        dest="class_activity",
        action="store_true",
        help="run a class activity instead: students join with a code, design an organisation "
        "each, and race on the same problem while the teacher's page shows them all "
        "(docs/classroom.md)",
    )
    parser.add_argument(
        "--results-dir",
        default="results",
        help="with --class: where 'replay with more runs' stores its runs (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="with --class: processes for 'replay with more runs' (default: %(default)s)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="with --class: the address students type, if not this machine's own "
        "(e.g. behind a proxy)",
    )
    parser.add_argument(
        "--assets-dir",
        type=Path,
        default=None,
        help="where the offline front-end files live (default: $ORGSIM_ASSETS_DIR or "
        "~/.cache/orgsim/solara-assets)",
    )
    parser.add_argument(
        "--setup-offline",
        action="store_true",
        help="fetch the front-end files once (npm pack, needs the npm registry) and exit",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="serve without the offline files (the browser then loads them from a CDN)",
    )
    return parser.parse_args(argv)


def class_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the class activity's options (one line), or None."""
    from sim.cli import check_writable
    from sim.config import ConfigError

    if args.jobs < 1:
        return f"--jobs {args.jobs}: use 1 or more"
    if args.public_url is not None and not args.public_url.startswith(("http://", "https://")):
        return f"--public-url {args.public_url}: give an address starting with http:// or https://"
    try:
        check_writable(Path(args.results_dir).expanduser().resolve())
    except ConfigError as exc:
        return "--results-dir: " + str(exc).split(": ", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.class_activity:
        from sim.classroom.server import serve

        problem = class_problem(args)
        if problem:
            print(f"orgsim-dashboard: {problem}", file=sys.stderr)
            return 2
        return serve(
            args.host,
            CLASS_PORT if args.port is None else args.port,
            args.results_dir,
            args.jobs,
            args.public_url,
        )
    args.port = DEFAULT_PORT if args.port is None else args.port
    cache = (args.assets_dir or assets.default_cache_dir()).expanduser().resolve()
    stale = assets.check_versions()
    if stale:
        print(
            "orgsim-dashboard: the installed solara no longer names "
            + ", ".join(stale)
            + "; update sim.dashboard.assets.PACKAGES with the solara pin",
            file=sys.stderr,
        )
    if args.setup_offline:
        try:
            path = assets.fetch(cache, quiet=False)
        except RuntimeError as exc:
            print(f"orgsim-dashboard: {exc}", file=sys.stderr)
            return 1
        print(f"offline assets ready in {path}")
        return 0
    assets_dir: Path | None = None
    if not args.online:
        if assets.is_complete(cache):
            assets_dir = cache
        else:
            print(
                f"orgsim-dashboard: no offline assets in {cache}; the page will load them from "
                "a CDN. Run `orgsim-dashboard --setup-offline` once (with internet) before class.",
                file=sys.stderr,
            )
    print(f"orgsim classroom dashboard on http://{args.host}:{args.port}  (Ctrl-C stops it)")
    try:
        return subprocess.call(server_command(args.host, args.port), env=server_env(assets_dir))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
