"""Words and colours of the page: display names for config names, units, one colour per meaning.

Why one module: the issue found one word with two numbers ("performance" was fitness / optimum
in the readout and raw fitness in the chart), config names on screen (``self_organisation``) and
red meaning six things. Every name, unit and colour the page shows comes from here, so the
charts, the readouts, the legends and the CSV export cannot drift apart.

Colours are from the Okabe-Ito palette (readable with the common colour-vision deficiencies),
each with one meaning; measures within a chart differ by line style, not colour.
"""

from __future__ import annotations

from typing import Any

#: Organisation A and B, everywhere (readouts, lines, network titles, way-of-working rows).
ORG_COLOURS = {"A": "#0072B2", "B": "#E69F00"}  # blue, orange
#: Other meanings, one colour each (the JavaScript side reads these from the spec).
MARK_COLOURS = {
    "shock": "#000000",  # the teacher's shock: black line
    "drift": "#999999",  # turbulence: grey dotted line
    "approved": "#009E73",  # a team's change approved this week: green ring
    "blocked": "#CC79A7",  # a team's proposal blocked this week: pink ring
}

#: Config names -> what the page says.
DISPLAY = {
    "bureaucracy": "bureaucracy",
    "adhocracy": "adhocracy",
    "self_organisation": "self-organisation",
    "incremental": "incremental",
    "planning": "planning",
    "hybrid": "hybrid",
    "same as A": "same as A",
    "A + full co-creation": "A + full co-creation",
    "none": "none (all levers 0)",
    "balanced": "balanced preset",
    "social": "social preset",
    "technological": "technological preset",
    "one organisation": "one organisation",
    "side by side": "side by side (A and B)",
}


def display(name: str) -> str:
    """The page's word for a config name (the name itself if it reads well already)."""
    return DISPLAY.get(name, name.replace("_", " "))


#: Columns streamed to the page each week (and exported as CSV), in this order.
COLUMNS: tuple[str, ...] = (
    "step",
    "performance",
    "fitness",
    "optimum",
    "engagement",
    "skill",
    "ideas",
    "proposals",
    "adoptions",
    "shock",
    "partner_interactions",
    "coordination_cost",
    "distance_to_optimum",
)

PERFORMANCE_MEANING = "fitness of the way of working as a share of the best possible now (1 = best)"

#: The time charts: column, legend label and line style per measure; units on the axes.
CHARTS: list[dict[str, Any]] = [
    {
        "id": "performance",
        "title": "Performance (share of the best possible)",
        "ylabel": "performance (1 = best)",
        "ymax": 1.0,
        "reference": 1.0,
        "series": [{"col": "performance", "label": "performance", "dash": ""}],
    },
    {
        "id": "people",
        "title": "Engagement and skill (0-1)",
        "ylabel": "mean score (0-1)",
        "ymin": 0.0,
        "ymax": 1.0,
        "series": [
            {"col": "engagement", "label": "engagement", "dash": ""},
            {"col": "skill", "label": "skill", "dash": "2 3"},
        ],
    },
    {
        "id": "ideas",
        "title": "Ideas, proposals, adoptions",
        "ylabel": "count per week",
        "ymin": 0.0,
        "series": [
            {"col": "ideas", "label": "ideas tried", "dash": ""},
            {"col": "proposals", "label": "proposals", "dash": "6 3"},
            {"col": "adoptions", "label": "changes adopted", "dash": "2 3"},
        ],
    },
]

#: Slider units/scales shown next to each value.
UNITS = {
    "flexible_organising": "(0-1)",
    "dynamic_managing": "(0-1)",
    "smarter_working": "(0-1)",
    "cocreation": "(0-1)",
    "rd_budget": "(0-1)",
    "complexity": "(0-11)",
    "turbulence": "per week",
    "stakeholders": "groups",
    "ambiguity": "(0-0.5)",
    "pace": "weeks/s",
}
