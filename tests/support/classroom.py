"""The class activity's server (sim.classroom.server) on a free loopback port, in a thread: the
real uvicorn app ``orgsim-dashboard --class`` runs, for tests that speak to it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.classroom.server import Classroom, make_server


@contextmanager
def running_class_server(results_dir: Path, key: str) -> Iterator[tuple[str, Classroom]]:
    """Yield ``("127.0.0.1:PORT", classroom)`` while the server runs; stop it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, classroom = make_server("127.0.0.1", port, results_dir, key=key)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the class server did not start")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}", classroom
    finally:
        server.should_exit = True
        thread.join(10)
