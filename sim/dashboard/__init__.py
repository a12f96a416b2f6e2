"""The classroom dashboard: a Solara app in the browser (``orgsim-dashboard``).

* :mod:`sim.dashboard.race` holds a run: one or two organisations racing on the same problem,
  built from the teacher's settings, with a shared shock button.
* :mod:`sim.dashboard.session` keeps a run per browser session (a reload keeps it), plays it at a
  classroom pace (run to / shock at week N) and reads scenarios from links.
* :mod:`sim.dashboard.feed` turns a run into frames of new values; :mod:`sim.dashboard.live` is
  the browser-side board that draws them (the server does not re-render views per step).
* :mod:`sim.dashboard.app` is the Solara page (the app file that ``solara run`` serves);
  :mod:`sim.dashboard.labels` and :mod:`sim.dashboard.lessons` hold its words and lessons.
* :mod:`sim.dashboard.serve` is the command line; :mod:`sim.dashboard.assets` fetches the
  front-end files once so that the page works without a CDN; :mod:`sim.dashboard.guard` keeps the
  server's side doors shut and shows a message when the front-end files are missing.
"""
