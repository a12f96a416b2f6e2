"""Volberda's levers mapped to mechanism parameters: the one place where this mapping lives.

Each lever is an intensity in [0, 1]. A lever never touches an outcome (performance,
engagement, ...): it sets the parameters of mechanisms, and outcomes emerge from those.
The numbers below are modelling assumptions, listed in docs/ODD.md (submodel "levers"):

| lever | mechanism parameters |
| --- | --- |
| flexible_organising | decision level pushed down the hierarchy; the form's team fluidity and network rewiring amplified (x0.5 at 0 to x1.5 at 1); autonomy |
| dynamic_managing | managers' absorptive capacity (how well they judge) and vision (alignment pull) |
| smarter_working | talent development (skill growth), team share of rewards, autonomy |
| cocreation | rate of partner interactions; stakeholder involvement in judging and reviews |
| rd_budget | ideas tried per employee per step (search effort), each at a cost |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.config import LeversConfig, OrgConfig

# Autonomy that each decision rule gives a team over its own proposals (a structural fact:
# the share of the decision taken inside the team), before levers.
RULE_AUTONOMY = {"hierarchy": 0.0, "project_lead": 0.5, "team_consent": 1.0}


@dataclass(frozen=True)
class MechanismParameters:
    """The mechanism parameters that levers and the organisation form jointly set."""

    decision_levels: int  # hierarchy levels a proposal climbs before it is decided
    team_fluidity: float  # probability per step that an employee moves team
    rewiring: float  # share of ties rewired per step
    autonomy: float  # share of decisions on their own work that teams take (engagement driver)
    absorptive_capacity: float  # managers' judging quality: shrinks their noise, widens attention
    vision: float  # managers' pull of their units' beliefs toward the strategic direction
    talent_development: float  # skill growth rate per step of work
    team_reward_share: float  # weight of the team's outcomes in an employee's recognition
    partner_interaction: float  # probability per step that a partner meets an employee
    stakeholder_involvement: float  # weight of the stakeholders' mix in judging ideas
    data_research: float  # share of measurement noise removed at reviews (360-degree view)
    ideas_per_step: float  # ideas an engaged employee tries per step (search effort)


def mechanism_parameters(levers: LeversConfig, org: OrgConfig) -> MechanismParameters:
    """Map lever intensities and the organisation form to mechanism parameters."""
    flex, dyn, smart = levers.flexible_organising, levers.dynamic_managing, levers.smarter_working
    cocreation, rd = levers.cocreation, levers.rd_budget
    levels = org.hierarchy_levels
    # flexible organising pushes decision rights down: at 1 a decision is taken one level above
    # the team, at 0 at the level the form prescribes
    decision_levels = max(1, math.ceil(levels * (1.0 - 0.67 * flex))) if levels else 0
    base_autonomy = RULE_AUTONOMY[org.decision_rule]
    autonomy = base_autonomy + (1.0 - base_autonomy) * (0.3 * flex + 0.3 * smart)
    team_share = 0.8 if org.rewards == "team" else 0.0
    return MechanismParameters(
        decision_levels=decision_levels,
        team_fluidity=min(1.0, org.team_fluidity * (0.5 + flex)),
        rewiring=min(1.0, org.rewiring * (0.5 + flex)),
        autonomy=min(1.0, autonomy),
        absorptive_capacity=0.2 + 0.7 * dyn,
        vision=0.05 + 0.25 * dyn,
        talent_development=0.001 + 0.01 * smart,
        team_reward_share=team_share + (1.0 - team_share) * 0.5 * smart,
        partner_interaction=0.15 * cocreation,
        stakeholder_involvement=cocreation,
        data_research=0.5 * cocreation,
        ideas_per_step=0.5 + 2.5 * rd,
    )
