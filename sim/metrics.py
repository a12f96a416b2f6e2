"""Outcomes, after Production of Welfare: inputs, intermediate (non-economic) outputs, final
outcomes, and the four-frame diagnostics. Where a result is measured (not where it is written:
the model knows no file).

``TIMESERIES_COLUMNS`` and ``SUMMARY_FIELDS`` are the documentation of every column: the ODD and
the tests read them from here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from sim.landscape import codes_to_bits

if TYPE_CHECKING:
    from sim.model import InnovationModel

RECOVERY_TOLERANCE = 0.99  # recovered once performance is back to 99% of its pre-shock level
TARGET_SHARE = 0.9  # "time to 90% of the optimum"

TIMESERIES_COLUMNS: dict[str, str] = {
    "step": "step (week) number, 1-based",
    "performance": "final: objective fitness of the way of working / current global optimum, in [0, 1]",
    "fitness": "final: objective (power-weighted stakeholder mix) fitness of the way of working",
    "optimum": "the current global optimum of the objective (changes only with a shock)",
    "distance_to_optimum": "choices in which the way of working differs from the optimum, / n",
    "shock": "1 if the landscape changed at this step (turbulence, scheduled or triggered)",
    "phase": "strategy phase: sprint, analysis, execution or adapt",
    "ideas": "intermediate: ideas tried this step",
    "proposals": "intermediate: ideas proposed this step",
    "adoptions": "intermediate: proposals that became changes this step",
    "rejections": "intermediate: proposals rejected this step",
    "undone": "intermediate: changes (or plans) undone at a review this step",
    "plan_changes": "intermediate: choices changed by executing a plan this step",
    "adoption_rate": "intermediate: adoptions / proposals, cumulative, in [0, 1]",
    "decision_latency": "input: mean steps from proposal to adoption, cumulative",
    "backlog": "intermediate: proposals waiting (decision queues and planning backlog)",
    "engagement": "HR frame: mean employee engagement, in [0, 1]",
    "skill": "HR frame: mean employee skill, in [0, 1]",
    "knowledge_diversity": "intermediate: mean pairwise belief distance / n, in [0, 1]",
    "network_cohesion": "intermediate: mean clustering of the communication network, in [0, 1]",
    "coordination_cost": "input: judgements, reviews and planning meetings this step",
    "analysis_time": "input: steps spent in analysis so far (cumulative)",
    "rd_effort": "input: search effort this step (ideas tried, the R&D lever's cost)",
    "partner_interactions": "input: co-creation meetings with external partners this step",
    "centralisation": "structural frame: share of judgements made above team level, cumulative",
    "power_concentration": "political frame: Herfindahl index of stakeholder power, in [1/S, 1]",
    "stakeholder_conflict": "political frame: max - min satisfaction over stakeholder groups",
    "vision_alignment": "symbolic frame: mean agreement of beliefs with the direction, in [0, 1]",
    "satisfaction_g{i}": "final: group i's fitness of the way of working / its optimum, in [0, 1]",
}


@dataclass(frozen=True)
class Outcome:
    """What a final outcome means, declared once next to its description. Reports, ``orgsim-
    compare`` and the end-of-sweep summary read this (why: a new outcome then appears everywhere,
    with the right direction, bounds and treatment, by being added here and in
    :func:`summarise`).

    ``better``: ``"higher"``, ``"lower"`` or ``None`` (a description or a cost, not an
    achievement). ``bounds``: the values it can take (``None``: unbounded on that side); an
    interval for it stays inside them. ``censored``: NaN means *not reached by the end of the
    run*, so the run's length (``steps``) is a right-censoring time, not a missing value.
    ``headline``: shown by default. ``kind``: its place in Production of Welfare (final,
    intermediate, input) or the frame it diagnoses; ``problem`` describes the environment.
    """

    description: str
    label: str
    better: Literal["higher", "lower"] | None = "higher"
    bounds: tuple[float | None, float | None] = (None, None)
    censored: bool = False
    headline: bool = False
    kind: str = "final"


UNIT = (0.0, 1.0)
COUNT = (0.0, None)
OUTCOMES: dict[str, Outcome] = {
    "mean_performance": Outcome("mean of performance over all steps", "mean performance",
                                bounds=UNIT, headline=True),
    "final_performance": Outcome("performance at the last step", "final performance",
                                 bounds=UNIT, headline=True),
    "time_to_90": Outcome("first step with performance >= 0.9 (NaN if never)",
                          "steps to 90% of the optimum", "lower", (1.0, None), censored=True,
                          headline=True),
    "shocks": Outcome("number of landscape shocks", "shocks", None, COUNT, kind="problem"),
    "recovery_time": Outcome("mean steps from a shock until performance is back to 99% of its "
                             "pre-shock level (NaN if no shock recovered)",
                             "recovery after a shock (steps)", "lower", COUNT),
    "unrecovered_shocks": Outcome("shocks after which performance was not back before the next "
                                  "shock or the end", "unrecovered shocks", "lower", COUNT),
    "total_ideas": Outcome("ideas tried over the run", "ideas", None, COUNT, kind="intermediate"),
    "total_proposals": Outcome("ideas proposed over the run", "proposals", None, COUNT,
                               kind="intermediate"),
    "total_adoptions": Outcome("proposals adopted over the run", "adoptions", "higher", COUNT,
                               kind="intermediate"),
    "adoption_rate": Outcome("total adoptions / total proposals", "adoption rate", "higher", UNIT,
                             kind="intermediate"),
    "total_undone": Outcome("changes or plans undone at reviews", "changes undone", None, COUNT,
                            kind="intermediate"),
    "decision_latency": Outcome("mean steps from proposal to adoption (NaN if nothing was "
                                "adopted)", "decision latency (steps)", "lower", COUNT,
                                kind="input"),
    "mean_engagement": Outcome("mean of engagement over the run", "engagement", "higher", UNIT,
                               headline=True, kind="human resources"),
    "final_engagement": Outcome("engagement at the last step", "final engagement", "higher",
                                UNIT, kind="human resources"),
    "final_skill": Outcome("skill at the last step", "skill", "higher", UNIT,
                           kind="human resources"),
    "mean_knowledge_diversity": Outcome("mean of knowledge diversity over the run",
                                        "knowledge diversity", None, UNIT, kind="intermediate"),
    "total_coordination_cost": Outcome("judgements, reviews and planning meetings over the run",
                                       "coordination cost", "lower", COUNT, kind="input"),
    "analysis_time": Outcome("steps spent in analysis", "analysis time (steps)", "lower", COUNT,
                             kind="input"),
    "total_rd_effort": Outcome("ideas tried over the run (search effort)", "R&D effort", None,
                               COUNT, kind="input"),
    "total_partner_interactions": Outcome("co-creation meetings over the run",
                                          "partner interactions", None, COUNT, kind="input"),
    "centralisation": Outcome("share of judgements above team level over the run",
                              "centralisation", None, UNIT, kind="structural"),
    "power_concentration": Outcome("Herfindahl index of stakeholder power",
                                   "power concentration", None, UNIT, kind="political"),
    "mean_stakeholder_conflict": Outcome("mean of stakeholder conflict over the run",
                                         "stakeholder conflict", "lower", UNIT, kind="political"),
    "mean_vision_alignment": Outcome("mean of vision alignment over the run", "vision alignment",
                                     "higher", UNIT, kind="symbolic"),
    "mean_satisfaction_g{i}": Outcome("mean satisfaction of stakeholder group i over the run",
                                      "satisfaction of group {i}", "higher", UNIT),
}  # fmt: skip

#: name -> description of every final outcome (the documentation the ODD and tests read)
SUMMARY_FIELDS: dict[str, str] = {name: o.description for name, o in OUTCOMES.items()}

TALLY_KEYS = (
    "ideas", "proposals", "adoptions", "rejections", "undone", "reviews", "expired",
    "judgements", "judgements_above_team", "partner_interactions", "mutual_adjustments",
    "analysis", "plans", "plan_changes", "latency",
)  # fmt: skip


def new_tally() -> Counter[str]:
    return Counter({key: 0 for key in TALLY_KEYS})


def belief_shares(beliefs: np.ndarray, n: int) -> np.ndarray:
    """Per choice, the share of belief strings that set it to 1 (both belief metrics use it)."""
    return codes_to_bits(beliefs, n).mean(axis=0) if len(beliefs) else np.zeros(n)


def knowledge_diversity(share: np.ndarray, m: int) -> float:
    """Mean pairwise Hamming distance of m belief strings, / n, from their per-choice shares:
    O(agents * n), no pairs."""
    if m < 2:
        return 0.0
    return float((2.0 * share * (1.0 - share)).sum() * m / (m - 1) / share.size)


def alignment(share: np.ndarray, direction: int) -> float:
    """Mean share of choices on which the beliefs agree with the direction."""
    wanted = codes_to_bits(np.int64(direction), share.size)
    return float(np.where(wanted == 1, share, 1.0 - share).mean())


class Metrics:
    """Measures a model's state once per step, into a flat dict the DataCollector reads."""

    def __init__(self, model: InnovationModel) -> None:
        self.model = model
        self.current: dict[str, Any] = {}
        self.cumulative = new_tally()
        groups = model.problem.stakeholder.shape[0]
        self.satisfaction_columns = [f"satisfaction_g{i}" for i in range(groups)]
        self.power_concentration = float((model.problem.power**2).sum())

    def measure(self, shock: bool) -> dict[str, Any]:
        model = self.model
        problem, tally, n = model.problem, model.tally, model.problem.n
        self.cumulative.update(tally)
        cum = self.cumulative
        beliefs = np.fromiter((e.belief for e in model.employees), dtype=np.int64)
        share = belief_shares(beliefs, n)
        satisfaction = problem.satisfaction(model.code)
        row: dict[str, Any] = {
            "step": model.steps,
            "performance": problem.performance(model.code),
            "fitness": float(problem.objective[model.code]),
            "optimum": problem.optimum_value,
            "distance_to_optimum": (model.code ^ problem.optimum_code).bit_count() / n,
            "shock": int(shock),
            "phase": model.strategy.phase,
            "ideas": tally["ideas"],
            "proposals": tally["proposals"],
            "adoptions": tally["adoptions"],
            "rejections": tally["rejections"],
            "undone": tally["undone"],
            "plan_changes": tally["plan_changes"],
            "adoption_rate": cum["adoptions"] / cum["proposals"] if cum["proposals"] else 0.0,
            "decision_latency": cum["latency"] / cum["adoptions"] if cum["adoptions"] else 0.0,
            "backlog": model.organisation.backlog_size() + model.strategy.backlog_size(),
            "engagement": sum(e.engagement for e in model.employees) / len(model.employees),
            "skill": sum(e.skill for e in model.employees) / len(model.employees),
            "knowledge_diversity": knowledge_diversity(share, len(beliefs)),
            "network_cohesion": model.organisation.cohesion(),
            "coordination_cost": tally["judgements"]
            + tally["reviews"]
            + tally["mutual_adjustments"],
            "analysis_time": cum["analysis"],
            "rd_effort": tally["ideas"],
            "partner_interactions": tally["partner_interactions"],
            "centralisation": cum["judgements_above_team"] / cum["judgements"]
            if cum["judgements"]
            else 0.0,
            "power_concentration": self.power_concentration,
            "stakeholder_conflict": float(satisfaction.max() - satisfaction.min()),
            "vision_alignment": alignment(share, model.strategy.direction),
        }
        row.update(zip(self.satisfaction_columns, map(float, satisfaction), strict=True))
        self.current = row
        return row


def recovery(performance: np.ndarray, shock_steps: list[int]) -> tuple[list[int], int]:
    """Recovery times after each shock and the number of shocks not recovered.

    ``performance[t - 1]`` is the performance at step t. A shock at step t is recovered at the
    first step s >= t whose performance is back to ``RECOVERY_TOLERANCE`` x the performance at
    step t - 1, before the next shock; otherwise it counts as unrecovered (censored).
    """
    times, unrecovered = [], 0
    ends = [*shock_steps[1:], len(performance) + 1][: len(shock_steps)]
    for t, end in zip(shock_steps, ends, strict=True):
        if t < 2:
            continue
        before = performance[t - 2]
        window = performance[t - 1 : end - 1]
        hits = np.flatnonzero(window >= RECOVERY_TOLERANCE * before)
        if hits.size:
            times.append(int(hits[0]))
        else:
            unrecovered += 1
    return times, unrecovered


def summarise(ts: pd.DataFrame) -> dict[str, float]:
    """Final outcomes of a run from its timeseries."""
    perf = ts["performance"].to_numpy()
    above = np.flatnonzero(perf >= TARGET_SHARE)
    shock_steps = ts.loc[ts["shock"] == 1, "step"].astype(int).tolist()
    times, unrecovered = recovery(perf, shock_steps)
    proposals = float(ts["proposals"].sum())
    out: dict[str, float] = {
        "mean_performance": float(perf.mean()),
        "final_performance": float(perf[-1]),
        "time_to_90": float(ts["step"].iloc[above[0]]) if above.size else float("nan"),
        "shocks": float(len(shock_steps)),
        "recovery_time": float(np.mean(times)) if times else float("nan"),
        "unrecovered_shocks": float(unrecovered),
        "total_ideas": float(ts["ideas"].sum()),
        "total_proposals": proposals,
        "total_adoptions": float(ts["adoptions"].sum()),
        "adoption_rate": float(ts["adoptions"].sum() / proposals) if proposals else 0.0,
        "total_undone": float(ts["undone"].sum()),
        "decision_latency": float(ts["decision_latency"].iloc[-1])
        if ts["adoptions"].sum()
        else float("nan"),
        "mean_engagement": float(ts["engagement"].mean()),
        "final_engagement": float(ts["engagement"].iloc[-1]),
        "final_skill": float(ts["skill"].iloc[-1]),
        "mean_knowledge_diversity": float(ts["knowledge_diversity"].mean()),
        "total_coordination_cost": float(ts["coordination_cost"].sum()),
        "analysis_time": float(ts["analysis_time"].iloc[-1]),
        "total_rd_effort": float(ts["rd_effort"].sum()),
        "total_partner_interactions": float(ts["partner_interactions"].sum()),
        "centralisation": float(ts["centralisation"].iloc[-1]),
        "power_concentration": float(ts["power_concentration"].iloc[-1]),
        "mean_stakeholder_conflict": float(ts["stakeholder_conflict"].mean()),
        "mean_vision_alignment": float(ts["vision_alignment"].mean()),
    }
    for col in ts.columns:
        if col.startswith("satisfaction_g"):
            out[f"mean_{col}"] = float(ts[col].mean())
    return out
