"""The lessons of docs/classroom.md as data: one-click presets, shareable links, the in-page
"about" panel, the screenshots and the tests all read them from here.

Why: a lesson written as prose ("press Shock around week 20") cannot be done exactly by hand,
and a preset restated in three places drifts. A :class:`Lesson` names its settings, the week of
its shock and the week it runs to, so the page, a shared link and the docs reproduce the same
numbers (the docs quote seed 0's performance at the last week; a test checks them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Lesson:
    """A lesson's settings (ClassroomRace keywords, the rest default), its schedule and text."""

    key: str
    title: str
    settings: dict[str, Any]
    shock_at: int | None = 20
    run_to: int = 40
    notice: str = ""
    try_: tuple[str, ...] = field(default_factory=tuple)


LESSONS: dict[str, Lesson] = {
    "stale-plan": Lesson(
        "stale-plan",
        "1. Why the plan went stale",
        {
            "mode": "side by side",
            "org": "bureaucracy",
            "strategy": "planning",
            "org_b": "bureaucracy",
            "strategy_b": "incremental",
            "turbulence": 0.05,
        },
        notice="The planners analyse first (no change at all), then jump; the incremental "
        "organisation creeps up. After the shock at week 20 the plan is built on a problem "
        "that no longer exists.",
        try_=("Set turbulence to 0 and complexity to 2, Reset: when does planning win?",),
    ),
    "tangled-problem": Lesson(
        "tangled-problem",
        "2. Bureaucracy vs self-organisation on a tangled problem",
        {
            "mode": "side by side",
            "org": "bureaucracy",
            "strategy": "incremental",
            "org_b": "self_organisation",
            "strategy_b": "incremental",
            "complexity": 9,
        },
        notice="Self-organised teams are more engaged and decide on the spot; with every "
        "choice tangled up with nine others, one team's improvement can break another's work.",
        try_=("Set complexity to 1 and compare again.",),
    ),
    "cocreation": Lesson(
        "cocreation",
        "3. What co-creation buys, and what it does not",
        {
            "mode": "side by side",
            "org": "adhocracy",
            "strategy": "incremental",
            "org_b": "adhocracy",
            "strategy_b": "incremental",
            "levers_b": "A + full co-creation",
            "cocreation": 0.0,
            "stakeholders": 3,
            "ambiguity": 0.2,
        },
        shock_at=None,
        notice="Partners (diamonds, black when they met this week) bring outside knowledge: "
        "a slightly faster start, not a higher end point.",
        try_=("Give B the social lever preset: what does giving up R&D budget cost?",),
    ),
}
