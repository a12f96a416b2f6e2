"""What the page draws, as data: the run's static description once, then each step's new values.

Why: re-rendering the views on the server cost 22-25 ms of server CPU per drawn step (building
SVG, diffing the page, sending kilobytes of markup), so one process served about 40 drawn steps
a second in total: not thirty students. Here the server only sends the rows a page has not got
yet (a few hundred bytes a week) and the browser draws them (:mod:`sim.dashboard.live`).

Back-pressure: the page acknowledges the frames it has drawn (at most a few times a second: each
incoming message costs the server more than an outgoing one). While :attr:`Feed.window` frames
are unacknowledged no new one is sent; the model keeps stepping, and the next frame carries
every row not sent yet, so a slow page skips drawings (drops frames) but never falls behind in
data and never stops Play. Frames travel in order over one websocket, so rows are sent once.

Everything here is plain Python (no widget), so it is tested without a browser.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from typing import Any

from sim.dashboard.labels import CHARTS, COLUMNS, ORG_COLOURS
from sim.dashboard.race import ClassroomRace, history
from sim.dashboard.views import network_layout

EDGES_EVERY = 4  # frames between looks at the ties (copying the graph is a third of a frame)
WINDOW = 4  # frames in flight before frames are dropped (Session widens it with the pace)
_runs = itertools.count(1)


def _round(value: Any) -> Any:
    """A value for the page: floats to 4 decimals (the readout shows 3), ints as they are."""
    if isinstance(value, float):
        return round(value, 4)
    if hasattr(value, "item"):  # numpy scalars
        return _round(value.item())
    return value


def rows_of(race: ClassroomRace, which: str, start: int) -> list[list[Any]]:
    """Rows ``start``.. of organisation ``which``'s history, in :data:`COLUMNS` order."""
    table = history(race.orgs[which])
    cols = [table.get(name, ()) for name in COLUMNS]
    length = len(cols[0])
    return [[_round(col[i]) for col in cols] for i in range(start, length)]


def network_spec(race: ClassroomRace, which: str) -> dict[str, Any]:
    """The organisation's drawing that stays put during a run: where each person sits."""
    org = race.orgs[which]
    layout = race.layouts.get(which)
    if layout is None:
        layout = race.layouts[which] = network_layout(org)
    nodes: list[list[Any]] = []
    for e in org.employees:
        x, y = layout.get(e.node, (0.0, 0.0))
        nodes.append([round(x, 3), round(y, 3), "e", 0])
    for m in org.managers:
        x, y = layout.get(f"m{m.unique_id}", (0.0, 0.0))
        nodes.append([round(x, 3), round(y, 3), "m", int(m.level)])
    return {"nodes": nodes, "partners": len(org.partners)}


def _node_index(race: ClassroomRace, which: str) -> dict[object, int]:
    org = race.orgs[which]
    index: dict[object, int] = {e.node: i for i, e in enumerate(org.employees)}
    base = len(org.employees)
    for j, m in enumerate(org.managers):
        index[f"m{m.unique_id}"] = base + j
    return index


def spec_of(race: ClassroomRace, run: int) -> dict[str, Any]:
    """The static description of a run: organisations, charts, columns, the networks' layout."""
    if not race.orgs:
        return {"run": run, "orgs": [], "error": race.error or "no organisation"}
    orgs = [
        {"id": which, "label": race.label(which), "colour": ORG_COLOURS[which]}
        for which in race.orgs
    ]
    first = next(iter(race.orgs.values()))
    return {
        "run": run,
        "orgs": orgs,
        "columns": list(COLUMNS),
        "charts": CHARTS,
        "n": int(first.problem.n),
        "network": {which: network_spec(race, which) for which in race.orgs},
    }


class Feed:
    """One page's stream of frames for one run (see the module docstring).

    :meth:`frame` returns the next frame to send, or None while the last one is unacknowledged
    (a dropped frame); :meth:`acknowledge` records what the page holds."""

    def __init__(self, race: ClassroomRace) -> None:
        self.race = race
        self.run = next(_runs)
        self.lock = threading.Lock()
        self.seq = 0  # frames sent
        self.acked = 0  # last frame the page drew
        self.held = 0  # rows (weeks) the page holds, per its last acknowledgement
        self.sent_rows = 0  # rows (weeks) sent so far
        self.window = WINDOW
        self.last_ack = time.monotonic()
        self.dropped = 0  # frames not sent because the page was still drawing
        self._edges: dict[str, list[list[int]]] = {}
        self._index: dict[str, dict[object, int]] = {}

    def spec(self) -> dict[str, Any]:
        with self.race.lock:
            return spec_of(self.race, self.run)

    def frame(self, force: bool = False) -> dict[str, Any] | None:
        """The next frame (rows not sent yet and the current state), or None (a dropped frame)
        while :attr:`window` frames are unacknowledged and ``force`` is false."""
        race = self.race
        with self.lock, race.lock:
            if self.seq - self.acked >= self.window and not force:
                self.dropped += 1
                return None
            self.seq += 1
            seq, start = self.seq, self.sent_rows
            if not race.orgs:
                return {"run": self.run, "seq": seq, "start": 0, "rows": {}, "live": None}
            rows = {which: rows_of(race, which, start) for which in race.orgs}
            self.sent_rows = start + len(next(iter(rows.values())))
            live = self._live(force or seq % EDGES_EVERY == 1)
        return {"run": self.run, "seq": seq, "start": start, "rows": rows, "live": live}

    def _live(self, edges: bool = True) -> dict[str, Any]:
        """What is drawn as it is now, not as a history: network colours, ways of working."""
        race = self.race
        first = next(iter(race.orgs.values()))
        out: dict[str, Any] = {
            "week": race.week,
            "shocks": sorted(set(race.shock_steps)),
            "best": int(first.problem.optimum_code),
            "optimum": round(float(first.problem.optimum_value), 4),
            "orgs": {},
        }
        for which, org in race.orgs.items():
            index = self._index.get(which)
            if index is None:
                index = self._index[which] = _node_index(race, which)
            teams = {e.team for e in org.employees}
            signal = {t: org.organisation.team_signal(t) for t in teams}
            entry: dict[str, Any] = {
                "code": int(org.code),
                "eng": [round(float(e.engagement), 2) for e in org.employees],
                "sig": [(signal[e.team] > 0) - (signal[e.team] < 0) for e in org.employees],
                "approved": sum(1 for v in signal.values() if v > 0),
                "blocked": sum(1 for v in signal.values() if v < 0),
                "teams": len(teams),
            }
            if edges or which not in self._edges:
                ties = self._ties(org, index)
                if self._edges.get(which) != ties:
                    entry["edges"] = ties  # only when the ties changed: most weeks they do not
                    self._edges[which] = ties
            out["orgs"][which] = entry
        return out

    @staticmethod
    def _ties(org: Any, index: dict[object, int]) -> list[list[int]]:
        graph = org.organisation.display_graph()
        return sorted(
            [index[a], index[b]] if index[a] < index[b] else [index[b], index[a]]
            for a, b in graph.edges()
            if a in index and b in index
        )

    def resend_all(self) -> None:
        """A new page (or a reloaded one) holds nothing: the next frame starts from week 1."""
        with self.lock:
            self.held = self.sent_rows = 0
            self.acked = self.seq
            self._edges = {}

    def acknowledge(self, ack: object) -> bool:
        """Record ``[run, seq, rows held]`` from the page; False (nothing changed) for anything
        else, so a crafted message cannot unpace the stream."""
        if not isinstance(ack, Sequence) or isinstance(ack, str) or len(ack) != 3:
            return False
        run, seq, held = ack
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (run, seq, held)):
            return False
        with self.lock:
            if run != self.run or not 0 < seq <= self.seq or not 0 <= held <= self.race.week:
                return False
            if seq >= self.acked:
                self.acked = seq
                self.held = held
            self.last_ack = time.monotonic()
            return True

    def silent_for(self) -> float:
        """Seconds since the page last acknowledged a frame."""
        return time.monotonic() - self.last_ack


def column(rows: Sequence[Sequence[Any]], name: str) -> list[Any]:
    """One column of rows in :data:`COLUMNS` order (for tests and exports)."""
    i = COLUMNS.index(name)
    return [r[i] for r in rows]
