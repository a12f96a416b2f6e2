"""The page's live board: a browser-side widget that draws the run from streamed rows.

Why a widget of our own: re-rendering the views on the server for every step cost most of the
server's 22-25 ms per drawn step. This widget receives the run's description once (``spec``) and
then each step's new values (``chunk``, see :mod:`sim.dashboard.feed`), and draws the charts,
the readouts, the networks and the ways of working itself (``live.vue``: Vue and hand-written
SVG, no chart library to ship, so it works offline). It acknowledges each drawn frame in
``acked``, which paces the stream.

It is an ipyvue template (the toolkit solara's page already loads, so no extra front-end files)
and knows nothing of the dashboard: any code that can produce a spec and chunks in the
:mod:`sim.dashboard.feed` format (say a class activity) can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipyvuetify as v
import traitlets

TEMPLATE = Path(__file__).with_name("live.vue").read_text(encoding="utf-8")


class LiveBoard(v.VuetifyTemplate):
    """Readouts, time charts (axis titles in weeks, legends), networks and ways of working,
    drawn in the browser; CSV and PNG export of what is shown.

    ``spec`` (a trait) describes the run; frames travel as custom messages (:meth:`show`), not
    as a trait: a trait would be deep-copied and echoed on every step. The page answers each
    drawn frame with an ``ack`` event and says ``ready`` when (re)mounted; both go to the
    callbacks set with :func:`attach`."""

    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    spec = traitlets.Dict({}).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_ack: Callable[[Any], object] | None = None
        self.on_ready: Callable[[], object] | None = None

    def show(self, frame: dict[str, Any]) -> None:
        """Send one frame (see :mod:`sim.dashboard.feed`) to the page."""
        self.send({"method": "frame", "args": [frame]})

    def vue_ack(self, data: Any) -> None:
        if self.on_ack is not None:
            self.on_ack(data)

    def vue_ready(self, data: Any = None) -> None:
        if self.on_ready is not None:
            self.on_ready()


def attach(
    board: LiveBoard, on_ack: Callable[[Any], object], on_ready: Callable[[], object]
) -> Callable[[], None]:
    """Route the page's acknowledgements and "ready" to the callbacks; returns the detach."""
    board.on_ack, board.on_ready = on_ack, on_ready

    def detach() -> None:
        board.on_ack = board.on_ready = None

    return detach


class ShareLink(v.VuetifyTemplate):
    """The current scenario as a link (this page's address with the settings as URL
    parameters) and a Copy button: a teacher hands a scenario to the class."""

    template = traitlets.Unicode(
        """
<template>
  <span class="orgsim-share">
    <input class="orgsim-share-link" data-testid="share-link" readonly :value="href"
      @focus="$event.target.select()" style="width: 150px; font-size: 11px; border: 1px solid #bbb; padding: 1px 3px" />
    <v-btn x-small outlined data-testid="copy-link" @click="copy">{{ copied ? "Copied" : "Copy link" }}</v-btn>
  </span>
</template>
<script>
module.exports = {
  data() { return { copied: false }; },
  computed: {
    href() {
      const base = window.location.origin + window.location.pathname;
      return this.query ? base + "?" + this.query : base;
    },
  },
  methods: {
    copy() {
      const done = () => { this.copied = true; setTimeout(() => { this.copied = false; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(this.href).then(done, () => this.fallback(done));
      } else {
        this.fallback(done);
      }
    },
    fallback(done) {
      const box = this.$el.querySelector("input");
      box.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    },
  },
};
</script>
"""
    ).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)
