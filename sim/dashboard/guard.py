"""Keep the dashboard server's side doors shut (issue 10).

Started with ``--host 0.0.0.0``, the server is reachable by every laptop on the classroom
network, and solara answers more than the page:

* ``/_solara/cdn/<path>`` is solara's CDN proxy: it fetches *any* path from the public CDN and
  caches it, an open fetch proxy. ``orgsim-dashboard`` turns the proxy off with solara's own
  setting (``SOLARA_ASSETS_PROXY=False``, see :func:`sim.dashboard.serve.server_env`): offline,
  the page's files are served from the local asset folder under ``/static/assets``; online, the
  browser loads them from the CDN itself. :class:`Guard` then answers 404 under
  ``/_solara/cdn`` (instead of solara's catch-all page). Should the proxy be on anyway (someone
  runs ``solara run sim/dashboard/app.py`` by hand), only the pinned packages of
  :data:`sim.dashboard.assets.PACKAGES` pass.
* ``/resourcez`` and ``/readyz`` show server statistics: :class:`Guard` answers 404 to every
  client that is not on the loopback interface.

The guard is an ASGI middleware put in front of solara's Starlette app when the app file is
loaded in the server (:func:`install`); solara has no setting to add one.

It also adds a few lines to the page itself (:data:`LOAD_CHECK`): if the page's front-end files
do not load (no offline files and no internet), the browser shows what is wrong and what to do,
instead of a blank page.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sim.dashboard.assets import PACKAGES

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]

CDN_PREFIX = "/_solara/cdn"
STATUS_PATHS = ("/resourcez", "/readyz")


def is_loopback(client: Any) -> bool:
    """True if the ASGI ``client`` (host, port) is on this machine's loopback interface."""
    if not client:
        return False
    host = str(client[0])
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def cdn_allowed(path: str, proxy_on: bool) -> bool:
    """May ``path`` (below ``/_solara/cdn/``) reach solara's CDN proxy? Never when the proxy is
    off; otherwise only a plain path inside a pinned package (no ``..``, no backslash)."""
    if not proxy_on:
        return False
    if "\\" in path or any(part in ("", ".", "..") for part in path.split("/")):
        return False
    return any(path.startswith(pkg + "/") for pkg in PACKAGES)


def _proxy_on() -> bool:
    settings = sys.modules.get("solara.settings")
    return bool(getattr(getattr(settings, "assets", None), "proxy", False))


async def _not_found(send: Callable[[Any], Awaitable[None]]) -> None:
    body = b"Not Found"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


#: Put at the top of every HTML page: a message in the page when a script or style sheet of the
#: page fails to load, or nothing is drawn after 30 s (plain JavaScript: it must work when
#: nothing else loaded).
LOAD_CHECK = b"""<script>(function () {
  var shown = false;
  function show(what) {
    if (shown) return; shown = true;
    var box = document.createElement("div");
    box.id = "orgsim-missing-files"; box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:99999;background:#fff;" +
      "border-bottom:4px solid #000;padding:16px 24px;font:17px/1.4 sans-serif;color:#000";
    box.innerHTML = "<b>The dashboard could not load its front-end files</b> (" +
      String(what).replace(/[<>&]/g, "") + ").<br>This happens without internet when the " +
      "offline files are not set up. On the teacher's computer: stop the server (Ctrl-C), run " +
      "<code>orgsim-dashboard --setup-offline</code> once with internet, then start " +
      "<code>orgsim-dashboard</code> again and reload this page.";
    (document.body || document.documentElement).appendChild(box);
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && (t.tagName === "SCRIPT" || (t.tagName === "LINK" && /stylesheet/.test(t.rel)))) {
      show(t.src || t.href);
    }
  }, true);
  setTimeout(function () {
    if (!document.querySelector(".orgsim-page")) show("nothing was drawn after 30 s");
  }, 30000);
})();</script>"""


def _is_page_request(scope: Scope) -> bool:
    """A browser asking for an HTML page (not a file, not the websocket)."""
    if scope.get("type") != "http" or scope.get("method") != "GET":
        return False
    for key, value in scope.get("headers") or ():
        if key == b"accept":
            return b"text/html" in value
    return False


async def _with_load_check(app: ASGIApp, scope: Scope, receive: Any, send: Any) -> None:
    """Serve ``app``'s page with :data:`LOAD_CHECK` right after ``<head>`` (uncompressed: the
    request's accept-encoding is dropped, so the body can be edited)."""
    headers = [(k, v) for k, v in scope.get("headers") or () if k != b"accept-encoding"]
    scope = {**scope, "headers": headers}
    start: dict[str, Any] = {}
    body: list[bytes] = []

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            kind = dict(message.get("headers") or ()).get(b"content-type", b"")
            if not kind.startswith(b"text/html"):
                start["pass"] = True
                await send(message)
            return
        if start.get("pass"):
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body"):
            return
        page = b"".join(body)
        at = page.find(b"<head>")
        page = page[: at + 6] + LOAD_CHECK + page[at + 6 :] if at >= 0 else LOAD_CHECK + page
        out = [(k, v) for k, v in start.get("headers") or () if k != b"content-length"]
        out.append((b"content-length", str(len(page)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": out})
        await send({"type": "http.response.body", "body": page})

    await app(scope, receive, capture)


class Guard:
    """ASGI middleware: 404 for the CDN proxy's refused paths, and for the status endpoints to
    clients off the loopback interface; everything else goes to ``app`` untouched."""

    def __init__(self, app: ASGIApp, proxy_on: Callable[[], bool] = _proxy_on) -> None:
        self.app = app
        self.proxy_on = proxy_on

    def refuses(self, scope: Scope) -> bool:
        if scope.get("type") not in ("http", "websocket"):
            return False
        path = "/" + str(scope.get("path", "")).lstrip("/")
        root = str(scope.get("root_path", "") or "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        if path == CDN_PREFIX or path.startswith(CDN_PREFIX + "/"):
            return not cdn_allowed(path[len(CDN_PREFIX) + 1 :], self.proxy_on())
        if path.rstrip("/") in STATUS_PATHS:
            return not is_loopback(scope.get("client"))
        return False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.refuses(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _not_found(send)
            return
        if _is_page_request(scope):
            await _with_load_check(self.app, scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: Any) -> bool:
    """Put :class:`Guard` in front of the Starlette ``app`` (once). Before the app has started
    this is Starlette's ``add_middleware``; once started (solara loads the app file during
    startup) the built middleware stack is wrapped, which serves every later request."""
    stack = getattr(app, "middleware_stack", None)
    if isinstance(stack, Guard) or getattr(app, "_orgsim_guard", False):
        return False
    if stack is None:
        app.add_middleware(Guard)
    else:
        app.middleware_stack = Guard(stack)
    app._orgsim_guard = True
    return True


def install_in_server() -> bool:
    """:func:`install` on solara's server app, if this process is a solara server (importing
    the app file elsewhere, e.g. in the tests, changes nothing)."""
    server = sys.modules.get("solara.server.starlette")
    if server is None:
        return False
    installed = install(server.app)
    if installed:
        log.info("orgsim guard installed: CDN proxy refused, status pages loopback-only")
    return installed
