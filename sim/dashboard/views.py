"""Where each person of an organisation sits in the network drawing.

The drawing itself is made in the browser (:mod:`sim.dashboard.live`); the layout is computed
here once per run, on the server, because it needs the model's teams and hierarchy and stays put
while the colours change (so the eye can follow a team).
"""

from __future__ import annotations

import math

from sim.model import InnovationModel


def network_layout(model: InnovationModel) -> dict[object, tuple[float, float]]:
    """Teams on a circle, each team's members in a ring around its team lead, managers higher
    up nearer the centre; computed once per model (a student moved to another team keeps her
    place), so the eye can follow a team while colours change. A force layout squeezed the dense
    teams of an adhocracy into single dots; this one is readable at every form and size."""
    org = model.organisation
    teams = sorted({e.team for e in model.employees})
    centre: dict[int, tuple[float, float]] = {}
    pos: dict[object, tuple[float, float]] = {}
    for k, team in enumerate(teams):
        ang = 2 * math.pi * k / max(1, len(teams))
        centre[team] = (0.68 * math.cos(ang), 0.68 * math.sin(ang))
    spread = min(0.28, 2.6 / max(1, len(teams)))
    for team in teams:
        members = [e for e in model.employees if e.team == team]
        cx, cy = centre[team]
        for j, e in enumerate(members):
            a = 2 * math.pi * j / max(1, len(members))
            pos[e.node] = (cx + spread * 0.55 * math.cos(a), cy + spread * 0.55 * math.sin(a))
    for m in org.managers:
        own = [centre[t] for t in m.teams if t in centre]
        if not own:
            continue
        mx = sum(p[0] for p in own) / len(own)
        my = sum(p[1] for p in own) / len(own)
        shrink = 1.0 if m.level == 1 else 0.55 ** (m.level - 1)
        pos[f"m{m.unique_id}"] = (mx * shrink, my * shrink)
    return pos
