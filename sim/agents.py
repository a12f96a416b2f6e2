"""The people: employees, managers and external partners (Mesa 3 agents).

Ways of working are integer codes (bit i is choice i, see :mod:`sim.landscape`); a *change*
sets some choices to given values. Agents see values only through noise (ambiguity), which
skill (employees), absorptive capacity (managers) and data research (reviews) reduce.

Scalar draws use ``model.random`` and vector draws ``model.rng``: both are the model's seeded
people stream, so every run replays exactly from its seed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mesa

from sim.search import steepest_ascent_walk

if TYPE_CHECKING:
    from sim.model import InnovationModel


@dataclass(slots=True)
class Change:
    """A change of the way of working: set the choices in ``mask`` to the bits in ``values``."""

    mask: int
    values: int

    def apply(self, code: int) -> int:
        return (code & ~self.mask) | self.values

    @property
    def size(self) -> int:
        return self.mask.bit_count()


@dataclass(slots=True)
class Proposal:
    """An idea proposed for adoption, on its way through the organisation's decision route."""

    proposer: Employee
    change: Change
    created: int
    team: int = -1  # the proposer's team when it proposed (teams can be re-formed meanwhile)
    ready: int = 0  # step from which the current decider can look at it
    level: int = 1  # decision level it has reached
    pending: list[int] = field(default_factory=list)  # teams still to agree (mutual adjustment)


def perceived_gain(model: InnovationModel, before: int, after: int, sigma: float) -> float:
    """Value of ``after`` minus value of ``before`` as an agent sees it.

    Agents value a way of working by the shared (technical) landscape, mixed with the
    stakeholders' judgement in proportion to their involvement (co-creation): the model's
    ``view`` table. They see the difference through Gaussian noise of standard deviation
    ``sigma``.
    """
    view = model.view
    gain = view[after] - view[before]
    return gain + model.random.gauss(0.0, sigma) if sigma > 0 else gain


def pick(items: list[int], count: int, rnd) -> list[int]:  # noqa: ANN001 - random.Random
    """``count`` distinct items drawn at random (a cheap ``random.sample`` for short lists)."""
    if count == 1:
        return [items[int(rnd.random() * len(items))]]
    pool = list(items)
    for i in range(count):
        j = i + int(rnd.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:count]


def random_mask(items: list[int], count: int, rnd) -> int:  # noqa: ANN001 - random.Random
    """The mask of ``count`` distinct items drawn at random."""
    if count == 1:
        return 1 << items[int(rnd.random() * len(items))]
    return to_mask(pick(items, count, rnd))


def bits_of(mask: int, among: list[int]) -> list[int]:
    """The choices in ``among`` whose bit is set in ``mask``."""
    return [c for c in among if (mask >> c) & 1]


def to_mask(choices: list[int]) -> int:
    mask = 0
    for c in choices:
        mask |= 1 << c
    return mask


class Employee(mesa.Agent):
    """Works on the choices in its domain: shares knowledge, generates, judges and proposes ideas.

    State: team, domain (choices it can change), skill, engagement, exploration propensity,
    beliefs (the way of working it thinks is good, as a code) and its ties (network node).
    """

    def __init__(
        self,
        model: InnovationModel,
        team: int,
        domain: list[int],
        skill: float,
        engagement: float,
        exploration: float,
        belief: int,
    ) -> None:
        super().__init__(model)
        self.team = team
        self.domain = domain  # also sets domain_mask
        self.skill = skill
        self.engagement = engagement
        self.exploration = exploration
        self.belief = belief
        self.recognition = 0.5
        self.reward_signal = 0.0  # this step's outcomes of own proposals (+ adopted, - rejected)
        self.suggestions: list[Change] = []  # ideas brought by external partners
        self.ideas_tried = 0

    @property
    def domain(self) -> list[int]:
        return self._domain

    @domain.setter
    def domain(self, choices: list[int]) -> None:
        self._domain = list(choices)
        self.domain_mask = to_mask(self._domain)

    # --- perception ---------------------------------------------------------------------------
    @property
    def noise(self) -> float:
        """Ambiguity seen through skill: a skilled employee sees values more clearly."""
        return self.model.problem.cfg.ambiguity * (1.25 - self.skill)

    def judge(self, before: int, after: int) -> float:
        return perceived_gain(self.model, before, after, self.noise)

    # --- step phases --------------------------------------------------------------------------
    def share_knowledge(self) -> None:
        """Socialisation: copy a neighbour's belief on one choice of the domain where they differ;
        the manager's vision pulls beliefs toward the strategic direction."""
        model = self.model
        rnd = model.random
        if rnd.random() < 0.5 * self.engagement:
            neighbours = model.organisation.neighbours(self)
            if neighbours:
                other = neighbours[int(rnd.random() * len(neighbours))]
                differ = (self.belief ^ other.belief) & self.domain_mask
                if differ:
                    self.belief ^= 1 << pick(bits_of(differ, self.domain), 1, rnd)[0]
        if rnd.random() < model.organisation.vision_of(self):
            c = self.domain[int(rnd.random() * len(self.domain))]
            bit = (model.strategy.direction >> c) & 1
            self.belief = (self.belief & ~(1 << c)) | (bit << c)

    def generate_ideas(self) -> None:
        """Try ideas within the domain (effort set by the R&D budget and engagement), judge
        them through a noisy view, update beliefs, and propose the best one if it looks better."""
        model = self.model
        rnd = model.random
        effort = model.params.ideas_per_step * self.engagement
        count = int(effort) + (1 if rnd.random() < effort - int(effort) else 0)
        count += len(self.suggestions)
        self.ideas_tried = count
        if count == 0:
            return
        current = model.code
        sigma = self.noise  # once per step: skill changes only in develop()
        best, best_gain = None, 0.0
        for _ in range(count):
            change = self.suggestions.pop() if self.suggestions else self.invent(current)
            if change is None:
                continue
            after = change.apply(current)
            if after == current:
                continue
            gain = perceived_gain(model, current, after, sigma)
            if gain > 0:  # experience: what looked better is now believed to be better
                self.belief = (self.belief & ~change.mask) | change.values
            if gain > best_gain:
                best, best_gain = change, gain
        model.tally["ideas"] += count
        if best is not None:
            model.strategy.receive(Proposal(self, best, created=model.steps, team=self.team))

    def invent(self, current: int) -> Change | None:
        """One idea: exploit a belief that differs from practice, or explore a random change."""
        rnd = self.model.random
        size = 1 + int(rnd.random() * self.model.max_change_size)
        differ = (self.belief ^ current) & self.domain_mask
        if differ and rnd.random() >= self.exploration:
            differing = bits_of(differ, self._domain)
            mask = random_mask(differing, min(size, len(differing)), rnd)
            return Change(mask, self.belief & mask)
        mask = random_mask(self._domain, min(size, len(self._domain)), rnd)
        return Change(mask, ~current & mask)

    def develop(self) -> None:
        """Feedback: skill grows with practice (talent development); engagement follows autonomy
        and recognition, where recognition mixes own and team outcomes as rewards prescribe."""
        model = self.model
        params = model.params
        if self.ideas_tried:
            self.skill += params.talent_development * (1.0 - self.skill)
        w = params.team_reward_share
        signal = (1.0 - w) * self.reward_signal + w * model.organisation.team_signal(self.team)
        target = 0.5 + 0.5 * _squash(signal)
        self.recognition += 0.2 * (target - self.recognition)
        wanted = 0.15 + 0.35 * params.autonomy + 0.5 * self.recognition
        self.engagement += 0.1 * (wanted - self.engagement)
        self.reward_signal = 0.0

    def recognise(self, amount: float) -> None:
        """Record an outcome of one of this employee's proposals (used by develop())."""
        self.reward_signal += amount
        self.model.organisation.add_team_signal(self.team, amount)


def _squash(x: float) -> float:
    """A smooth map of a reward signal to (-1, 1)."""
    return x / (1.0 + abs(x))


class Manager(mesa.Agent):
    """Judges proposals for its unit; at the top, makes the plan (under planning).

    State: hierarchy level (1 = team lead), the teams of its unit, its superior, absorptive
    capacity (how well it judges ideas and how much of the problem it can attend to) and vision
    (how much it aligns its unit's search with the strategic direction).
    """

    def __init__(
        self,
        model: InnovationModel,
        level: int,
        teams: list[int],
        absorptive_capacity: float,
        vision: float,
    ) -> None:
        super().__init__(model)
        self.level = level
        self.teams = teams
        self.superior: Manager | None = None
        self.absorptive_capacity = absorptive_capacity
        self.vision = vision
        self.queue: deque[Proposal] = deque()
        self.judged = 0

    @property
    def noise(self) -> float:
        """Ambiguity seen through absorptive capacity; each level further from the work adds
        a quarter (managers higher up know the details of the work less well)."""
        sigma = self.model.problem.cfg.ambiguity * (1.25 - self.absorptive_capacity)
        return sigma * (1.0 + 0.25 * (self.level - 1))

    def judge(self, change: Change) -> bool:
        """Approve if the change looks better, leaning toward changes that follow the direction."""
        model = self.model
        current = model.code
        gain = perceived_gain(model, current, change.apply(current), self.noise)
        direction = model.strategy.direction
        toward = ((change.values ^ direction) & change.mask).bit_count()
        alignment = 1.0 - 2.0 * toward / max(1, change.size)  # +1 all toward, -1 all away
        self.judged += 1
        model.tally["judgements"] += 1
        if self.level >= 2:
            model.tally["judgements_above_team"] += 1
        return gain + self.vision * alignment * 0.01 > 0.0


class ExternalPartner(mesa.Agent):
    """A customer, supplier, knowledge institute or citizens' group: outside knowledge (a way of
    working that is good for its stakeholder group) brought to employees at the co-creation rate.
    """

    def __init__(self, model: InnovationModel, group: int, belief: int) -> None:
        super().__init__(model)
        self.group = group
        self.belief = belief
        self.known_version = model.problem.version
        self.interactions = 0

    def refresh_knowledge(self) -> None:
        """Partners live their group's reality: after a shock they climb their own landscape."""
        problem = self.model.problem
        if self.known_version != problem.version:
            table = problem.stakeholder[self.group]
            self.belief, _ = steepest_ascent_walk(table, self.belief, problem.n)
            self.known_version = problem.version

    def cocreate(self) -> None:
        """Meet a random employee (co-creation): suggest a bigger jump toward the partner's own
        knowledge, anywhere on the problem (a 360-degree view, not bound to the domain)."""
        model = self.model
        rnd = model.random
        if rnd.random() >= model.params.partner_interaction:
            return
        self.refresh_knowledge()
        employees = model.employees
        employee = employees[int(rnd.random() * len(employees))]
        differ = self.belief ^ model.code
        if not differ:
            return
        differing = bits_of(differ, list(range(model.problem.n)))
        # a bigger jump than an employee's own idea, but one the organisation can absorb
        strategy = model.cfg.strategy
        size = min(len(differing), strategy.max_change_size + 2, strategy.implementation_rate)
        mask = random_mask(differing, size, rnd)
        employee.suggestions.append(Change(mask, self.belief & mask))
        self.interactions += 1
        model.tally["partner_interactions"] += 1
