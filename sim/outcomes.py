"""Look up the declared meaning of a final outcome (:data:`sim.metrics.OUTCOMES`).

Why a module of its own: the declaration lives next to the code that measures the outcomes
(``sim/metrics.py``, whose source is part of every run's id), while the questions asked of it
(which outcomes a table has, which are headline, is a column per stakeholder group such as
``mean_satisfaction_g3`` an outcome) belong to the code that reads tables: reports,
``orgsim-compare`` and the end-of-sweep summary. It imports the declaration and nothing that
runs a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sim.metrics import OUTCOMES, Outcome

__all__ = ["OUTCOMES", "Outcome", "declared", "headline", "in_table", "label", "lookup", "names"]

#: the order in which kinds are shown: Production of Welfare (final, intermediate, inputs),
#: then the four frames' diagnostics, then the environment
KIND_ORDER = (
    "final",
    "intermediate",
    "input",
    "structural",
    "human resources",
    "political",
    "symbolic",
    "problem",
)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{i}"), r"(\d+)") + r"\Z")


_TEMPLATES = {name: _pattern(name) for name in OUTCOMES if "{i}" in name}


def lookup(name: str) -> Outcome | None:
    """The declaration of ``name`` (a per-group column such as ``mean_satisfaction_g2`` gets
    its template's, with the group number in its label and description); None if undeclared."""
    if name in OUTCOMES:
        return OUTCOMES[name]
    for template, pattern in _TEMPLATES.items():
        match = pattern.match(name)
        if match:
            o = OUTCOMES[template]
            i = match.group(1)
            return Outcome(
                o.description.replace(" i ", f" {i} "),
                o.label.replace("{i}", i),
                o.better,
                o.bounds,
                o.censored,
                o.headline,
                o.kind,
            )
    return None


def declared(name: str) -> bool:
    return lookup(name) is not None


def names() -> list[str]:
    """Every declared outcome name, in declaration order (templates such as
    ``mean_satisfaction_g{i}`` as written)."""
    return list(OUTCOMES)


def headline() -> list[str]:
    """The outcomes shown by default (the end-of-sweep summary, reports, compare's verdict is
    on the first)."""
    return [name for name, o in OUTCOMES.items() if o.headline]


def label(name: str) -> str:
    o = lookup(name)
    return o.label if o else name


def in_table(columns: Iterable[str], order: str = "declared") -> list[str]:
    """The declared outcomes among ``columns``: in declaration order (``order="declared"``) or
    grouped by kind (``order="kind"``, :data:`KIND_ORDER`); per-group columns after their
    template's place."""
    cols = list(columns)
    present = set(cols)
    out: list[str] = []
    for name in OUTCOMES:
        if name in _TEMPLATES:
            out += sorted(
                (c for c in cols if _TEMPLATES[name].match(c)),
                key=lambda c: int(_TEMPLATES[name].match(c).group(1)),  # type: ignore[union-attr]
            )
        elif name in present:
            out.append(name)
    if order == "kind":
        rank = {k: i for i, k in enumerate(KIND_ORDER)}
        out.sort(key=lambda c: rank.get(lookup(c).kind, len(rank)))  # type: ignore[union-attr]
    return out
