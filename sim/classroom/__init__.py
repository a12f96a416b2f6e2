"""A class activity (NetLogo's HubNet for orgsim): every student designs an organisation, all of
them race on the same wicked problem, the teacher's screen shows them all.

* :mod:`sim.classroom.activity` -- the activity itself, plain Python: who joined, their
  designs, the race (every organisation stepped together on common random numbers), shocks,
  ranks, the results table and the debrief. Where the rules of the game live.
* :mod:`sim.classroom.replay` -- "replay with more runs": every submitted design over many
  replications through the experiment engine (:func:`sim.engine.run_design`).
* :mod:`sim.classroom.server` -- the web side: a small Starlette app (teacher page, student
  page, one websocket each, the join QR code, the CSV), started by ``orgsim-dashboard --class``.
"""
