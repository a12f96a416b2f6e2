"""The classroom dashboard: a Mesa SolaraViz app in the browser (``orgsim-dashboard``).

* :mod:`sim.dashboard.race` holds the per-session state: one or two organisations racing on the
  same problem, built from the teacher's settings, with a shared shock button.
* :mod:`sim.dashboard.views` draws the views as light inline SVG (fast enough to redraw every step).
* :mod:`sim.dashboard.app` is the Solara page (the app file that ``solara run`` serves).
* :mod:`sim.dashboard.serve` is the command line; :mod:`sim.dashboard.assets` fetches the
  front-end files once so that the page works without a CDN.
"""
