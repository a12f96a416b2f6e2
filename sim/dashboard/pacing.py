"""Back-pressure between the server's Play loop and the browser.

SolaraViz's Play loop steps and redraws as fast as its interval allows, whatever the browser
can draw. When the browser is slower (a side-by-side race on a school laptop), the updates queue
up in the page: the plots lag further and further behind, and Pause seems to do nothing for
many seconds. So the page acknowledges every frame once it has drawn it (a tiny Vue widget that
answers from ``requestAnimationFrame``), and the race waits for the acknowledgements (at most
:data:`MAX_WAIT` seconds) before the next step: Play then runs as fast as this browser draws,
with at most one frame queued, and Pause is immediate.
"""

from __future__ import annotations

import threading

import ipyvuetify as v
import traitlets

MAX_WAIT = 0.5  # a hidden tab draws no frames: it still steps, twice a second
IN_FLIGHT = 1
STALL_AFTER = 20  # missed frames in a row (10 s): the tab is closed or hidden, Play stops


class FrameAck(v.VuetifyTemplate):
    """Invisible widget: set ``frame`` from Python; the browser echoes it in ``acked`` once the
    frame's updates (sent before this widget's, in render order) have been drawn."""

    template = traitlets.Unicode(
        """
<template><span class="frame-ack" :data-frame="frame" style="display:none"></span></template>
<script>
module.exports = {
  watch: {
    frame(value) {
      window.requestAnimationFrame(() => { this.acked = value; });
    },
  },
};
</script>
"""
    ).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    # Any, not Int: whatever a browser sends reaches Pacer.acknowledge, which checks it (an Int
    # trait would raise on a crafted string before any check of ours)
    acked = traitlets.Any(-1).tag(sync=True)


class Pacer:
    """Counts frames sent and drawn; :meth:`wait` blocks the stepping thread while more than
    :data:`IN_FLIGHT` frames are on their way to the browser (or until :data:`MAX_WAIT`).

    One frame in flight lets the server compute the next week while the browser draws the last
    one; more would only build a queue."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.sent = 0
        self.acked = 0
        self.misses = 0  # waits in a row that timed out

    def next_frame(self) -> int:
        """A new frame number for a redraw that is about to be sent."""
        with self._cond:
            self.sent += 1
            return self.sent

    def acknowledge(self, frame: object) -> bool:
        """Record that the browser drew ``frame``; False (and nothing changed) for anything
        but the number of a frame we sent (a crafted value could otherwise unpace Play)."""
        if isinstance(frame, bool) or not isinstance(frame, int):
            return False
        with self._cond:
            if not 0 <= frame <= self.sent:
                return False
            self.acked = max(self.acked, frame)
            self._cond.notify_all()
            return True

    def wait(self) -> bool:
        """True if the browser kept up, False if we stopped waiting for it."""
        with self._cond:
            kept_up = self._cond.wait_for(lambda: self.sent - self.acked <= IN_FLIGHT, MAX_WAIT)
            self.misses = 0 if kept_up else self.misses + 1
            return kept_up

    @property
    def stalled(self) -> bool:
        """True when nobody has drawn our frames for a while: a closed or hidden tab, whose
        Play loop should stop instead of stepping a model nobody watches."""
        return self.misses >= STALL_AFTER
