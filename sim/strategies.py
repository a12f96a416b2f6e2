"""Strategies: where an adopted idea becomes a change, and where planning is decided.

Both strategies share the organisation's capacity for change: at most ``implementation_rate``
choices change per step, whether they come from adopted ideas or from a plan (an organisation
cannot absorb more change because its search is parallel).

- :class:`Incremental` (experiential, backward-looking; Lindblom, Quinn, Scrum): adopted changes
  are made as capacity allows, first adopted first; every ``sprint_length`` steps a review measures realised, noisy performance
  with and without each change of the sprint and undoes the ones that did not help. The review
  always measures the landscape as it is now, so a shock is noticed at the next review.
- :class:`Planning` (cognitive, forward-looking; Gavetti & Levinthal 2000): an analysis phase in
  which nothing changes; top management attends to a subset of the choices (more with higher
  absorptive capacity and stakeholder input; first the choices employees' waiting ideas point
  at) and values each pattern on them by the fitness averaged over the unattended choices, as
  the landscape stands at the analysis; the best pattern is the plan (a long jump), rolled out
  down the hierarchy and implemented ``implementation_rate`` choices per step; at the end of the
  horizon the result is evaluated (undone if worse) and the cycle starts again. Employees' ideas
  outside the plan wait in a backlog for the next planning round.
- :class:`Hybrid`: a planning cycle whose execution, once the plan is in place, continues with
  incremental sprints until the horizon ends.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import TYPE_CHECKING

import numpy as np

from sim.agents import Proposal
from sim.organisation import expired
from sim.search import apply_pattern, cognitive_map

if TYPE_CHECKING:
    from sim.model import InnovationModel


class Strategy:
    """Receives proposals, turns adopted ones into changes, and reviews the result."""

    name = "strategy"

    def __init__(self, model: InnovationModel) -> None:
        self.model = model
        self.cfg = model.cfg.strategy
        self.direction = model.code  # the strategic direction managers' vision pulls toward
        self.phase = "sprint"
        self.sprint_log: list[tuple[Proposal, int]] = []  # (proposal, bits its mask replaced)
        self.to_implement: deque[Proposal] = deque()  # adopted, waiting for capacity

    # --- shared mechanics ---------------------------------------------------------------------
    def measure_gain(self, before: int, after: int) -> float:
        """Realised performance of ``after`` minus ``before``, as a review measures it: the
        stakeholders' judgement (the objective) through noise that data research reduces."""
        model = self.model
        sigma = model.problem.cfg.ambiguity * (1.0 - model.params.data_research)
        obj = model.problem.objective
        noise = model.random.gauss(0.0, sigma * math.sqrt(2.0)) if sigma > 0 else 0.0
        return float(obj[after] - obj[before]) + noise

    def make_change(self, proposal: Proposal) -> None:
        """An adopted idea becomes a change of the organisation's way of working."""
        model = self.model
        before = model.code
        after = proposal.change.apply(before)
        if after == before:
            return
        model.code = after
        model.tally["adoptions"] += 1
        model.tally["latency"] += model.steps - proposal.created
        proposal.proposer.recognise(1.0)
        self.sprint_log.append((proposal, before & proposal.change.mask))

    def review(self) -> None:
        """Sprint review: keep what improved, undo what did not (latest change first).

        Adopted changes the sprint had no capacity for go back to their proposers (Scrum:
        unfinished items leave the sprint): implemented later, they would rest on a judgement
        of a way of working that has since changed."""
        model = self.model
        for proposal in self.to_implement:
            model.tally["expired"] += 1
            proposal.proposer.recognise(-0.25)
        self.to_implement.clear()
        for proposal, previous in reversed(self.sprint_log):
            current = model.code
            mask = proposal.change.mask
            without = (current & ~mask) | previous
            if without == current:
                continue
            model.tally["reviews"] += 1
            if self.cfg.undo_failed and self.measure_gain(without, current) < 0:
                model.code = without
                model.tally["undone"] += 1
                proposal.proposer.recognise(-1.0)
            else:
                proposal.proposer.recognise(0.5)
        self.sprint_log.clear()
        self.direction = model.code

    # --- interface used by the model ----------------------------------------------------------
    def receive(self, proposal: Proposal) -> None:
        self.model.organisation.submit(proposal)

    def implement(self, adopted: list[Proposal]) -> None:
        """Make adopted changes, first adopted first, within the capacity for change; what does
        not fit waits for the next step (and is dropped once it is older than its shelf life)."""
        model = self.model
        self.to_implement.extend(adopted)
        capacity = self.cfg.implementation_rate
        while self.to_implement:
            proposal = self.to_implement[0]
            size = (proposal.change.apply(model.code) ^ model.code).bit_count()
            if size > capacity:
                break  # the change waits for the next step's capacity
            self.to_implement.popleft()
            if expired(model, proposal):
                continue
            if size:
                self.make_change(proposal)
                capacity -= size
            if capacity <= 0:
                break

    def feedback(self) -> None:
        pass

    def backlog_size(self) -> int:
        return len(self.to_implement)


class Incremental(Strategy):
    """Short sprints of small changes, each sprint closed by a review on realised performance."""

    name = "incremental"

    def feedback(self) -> None:
        if self.model.steps % self.cfg.sprint_length == 0:
            self.review()


class Planning(Strategy):
    """Analyse, plan a long jump on a simplified map, execute, evaluate, replan."""

    name = "planning"

    def __init__(self, model: InnovationModel) -> None:
        super().__init__(model)
        self.backlog: list[Proposal] = []
        self.plan: list[int] = []  # choices still to change
        self.target = model.code
        self.baseline = model.code
        self.attended: list[int] = []
        self.plans_made = 0
        self.start_analysis()

    # --- phases -------------------------------------------------------------------------------
    def start_analysis(self) -> None:
        self.phase = "analysis"
        self.phase_left = self.cfg.analysis_steps
        if self.phase_left == 0:
            self.make_plan()

    def planners_capacity(self) -> float:
        """Top management's absorptive capacity; without managers, the teams' mean skill."""
        top = self.model.organisation.top
        if top:
            return float(np.mean([m.absorptive_capacity for m in top]))
        return float(np.mean([e.skill for e in self.model.employees]))

    def attention_span(self) -> int:
        """How many choices the analysis attends to: a base, widened by absorptive capacity and
        by stakeholder input (co-creation)."""
        params = self.model.params
        extra = round(2 * self.planners_capacity()) + round(2 * params.stakeholder_involvement)
        return min(self.model.problem.n, self.cfg.attention + extra)

    def choose_attended(self, span: int) -> list[int]:
        """The choices the map covers: first those that waiting ideas point at (bottom-up input,
        most-proposed first, at most half the span), then others at random."""
        model, n = self.model, self.model.problem.n
        counts: Counter[int] = Counter()
        for proposal in self.backlog:
            mask = proposal.change.mask
            counts.update(c for c in range(n) if (mask >> c) & 1)
        bottom_up = [c for c, _ in counts.most_common(span // 2)]
        rest = [c for c in range(n) if c not in bottom_up]
        order = model.rng.permutation(len(rest))
        return bottom_up + [rest[i] for i in order[: span - len(bottom_up)]]

    def make_plan(self) -> None:
        """Build the simplified map, pick its best pattern, and set out the plan."""
        model = self.model
        problem, params = model.problem, model.params
        span = self.attention_span()
        self.attended = self.choose_attended(span)
        # the map values patterns as the people weigh them (shared landscape and stakeholders)
        view = np.asarray(problem.view(params.stakeholder_involvement))
        values = cognitive_map(view, problem.n, self.attended)
        sigma = problem.cfg.ambiguity * (1.25 - self.planners_capacity())
        if sigma > 0:
            values = values + model.rng.normal(0.0, sigma, size=values.size)
        best = int(np.argmax(values))
        self.baseline = model.code
        self.target = apply_pattern(model.code, self.attended, best)
        plan = [c for c in self.attended if ((self.target ^ model.code) >> c) & 1]
        self.plan = [plan[i] for i in model.rng.permutation(len(plan))]
        self.direction = self.target
        # ideas that the plan took up are recognised; the others' wait is over, unheard
        for proposal in self.backlog:
            agrees = (proposal.change.values ^ self.target) & proposal.change.mask == 0
            proposal.proposer.recognise(0.5 if agrees else -0.25)
        self.backlog.clear()
        self.plans_made += 1
        model.tally["plans"] += 1
        # the plan is rolled out down the hierarchy before work on it can start
        levels = max(1, model.params.decision_levels)
        self.rollout_left = levels * model.cfg.org.approval_delay
        self.count_decisions(levels * max(1, len(self.plan)))
        self.phase = "execution"
        self.horizon_left = self.cfg.horizon

    def evaluate(self) -> None:
        """End of the horizon: measure the result against the way of working before the plan;
        undo the plan if it made things worse."""
        model = self.model
        if model.code != self.baseline:
            model.tally["reviews"] += 1
            if self.cfg.undo_failed and self.measure_gain(self.baseline, model.code) < 0:
                model.code = self.baseline
                model.tally["undone"] += 1
        self.sprint_log.clear()
        self.direction = model.code

    def count_decisions(self, count: int) -> None:
        """Planning meetings and plan roll-out are decisions of top management: above team
        level wherever the top is above the team leads (the structural frame's centralisation)."""
        tally = self.model.tally
        tally["judgements"] += count
        top = self.model.organisation.top
        if top and top[0].level >= 2:
            tally["judgements_above_team"] += count

    # --- interface ----------------------------------------------------------------------------
    def receive(self, proposal: Proposal) -> None:
        """Ideas outside the plan wait in the backlog for the next planning round."""
        self.model.tally["proposals"] += 1
        self.backlog.append(proposal)

    def implement(self, adopted: list[Proposal]) -> None:
        self.backlog.extend(adopted)  # approvals that arrive outside an adapt phase wait too
        if self.phase != "execution":
            return
        if self.rollout_left > 0:
            self.rollout_left -= 1
            return
        model = self.model
        for _ in range(min(self.cfg.implementation_rate, len(self.plan))):
            choice = self.plan.pop()
            bit = (self.target >> choice) & 1
            model.code = (model.code & ~(1 << choice)) | (bit << choice)
            model.tally["plan_changes"] += 1

    def feedback(self) -> None:
        model = self.model
        if self.phase == "analysis":
            model.tally["analysis"] += 1
            self.count_decisions(max(1, len(model.organisation.top)))
            self.phase_left -= 1
            if self.phase_left <= 0:
                self.make_plan()
            return
        self.horizon_left -= 1
        if self.horizon_left <= 0:
            self.evaluate()
            self.start_analysis()

    def backlog_size(self) -> int:
        return len(self.backlog) + len(self.to_implement)


class Hybrid(Planning):
    """Plan, then adapt: once the plan is in place, incremental sprints until the horizon ends."""

    name = "hybrid"

    def receive(self, proposal: Proposal) -> None:
        if self.phase == "adapt":
            self.model.organisation.submit(proposal)
        else:
            super().receive(proposal)

    def feedback(self) -> None:
        if self.phase == "execution" and not self.plan and self.rollout_left == 0:
            self.phase = "adapt"
        if self.phase == "adapt" and self.model.steps % self.cfg.sprint_length == 0:
            self.review()
        super().feedback()

    def implement(self, adopted: list[Proposal]) -> None:
        if self.phase == "adapt":
            Strategy.implement(self, adopted)
        else:
            super().implement(adopted)


STRATEGIES: dict[str, type[Strategy]] = {
    "incremental": Incremental,
    "planning": Planning,
    "hybrid": Hybrid,
}
