"""The organisation form: structure (teams, domains, hierarchy, network) and decision routes.

Where a proposal becomes a decision. Three routes, one per decision rule:

- ``hierarchy`` (machine bureaucracy): the team's manager, then each level above up to the
  decision level, every level after ``approval_delay`` steps and within its ``manager_attention``
  per step (bounded attention: a queue builds up at the top);
- ``project_lead`` (adhocracy): the team's lead decides; a change that touches another team's
  choices also needs that team's lead (mutual adjustment);
- ``team_consent`` (self-organisation): the team decides in a meeting, by consent: a change
  passes unless a member sees it as clearly harmful.

Decentralised routes judge many changes in parallel, each against the way of working as it
stands, so changes on interdependent choices can interfere (Siggelkow & Rivkin 2005); the
hierarchy sees fewer changes per step and more slowly. Neither is written in as an outcome.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from sim.agents import Employee, Manager, Proposal

if TYPE_CHECKING:
    from sim.model import InnovationModel

PROPOSAL_SHELF_LIFE = 13  # steps (a quarter) after which a waiting proposal is dropped
CONSENT_TOLERANCE = 0.005  # perceived harm a consenting member tolerates before objecting
COHESION_SAMPLE = 200  # nodes over which clustering is averaged (keeps the metric O(1) per step)


def expired(model: InnovationModel, proposal: Proposal) -> bool:
    """True (and recorded: the proposer is discouraged) when a proposal waited past its shelf
    life, in a decision queue or waiting for the capacity to implement it."""
    if model.steps - proposal.created <= PROPOSAL_SHELF_LIFE:
        return False
    model.tally["expired"] += 1
    proposal.proposer.recognise(-0.5)
    return True


class Organisation:
    """Builds and holds the structure; routes proposals to decisions."""

    def __init__(self, model: InnovationModel) -> None:
        self.model = model
        cfg = model.cfg.org
        self.cfg = cfg
        n = model.problem.n
        self.n_teams = math.ceil(cfg.employees / cfg.team_size)
        self.team_blocks = [self._team_block(t, n) for t in range(self.n_teams)]
        self.home_team = self._home_teams(n)
        self.members: list[list[Employee]] = [[] for _ in range(self.n_teams)]
        self.employees = self._hire_employees()
        self.managers = self._build_hierarchy()
        self.leads: dict[int, Manager] = {
            t: m for m in self.managers if m.level == 1 for t in m.teams
        }
        top_level = max((m.level for m in self.managers), default=0)
        self.top = [m for m in self.managers if m.level == top_level]
        self.network = self._build_network()
        self._neighbours: list[list[Employee]] = [[] for _ in self.employees]
        for node in range(len(self.employees)):
            self._refresh_neighbours(node)
        self.network_version = 0
        self._cohesion: tuple[int, float] = (-1, 0.0)
        self._team_signal = np.zeros(self.n_teams)
        self.route = ROUTES[cfg.decision_rule](self)

    # --- structure ----------------------------------------------------------------------------
    def _team_block(self, team: int, n: int) -> list[int]:
        """The choices a team owns: a contiguous (cyclic) block, broad enough for its domains."""
        size = max(math.ceil(n / self.n_teams), self.cfg.domain_breadth)
        start = (team * n) // self.n_teams
        return [(start + j) % n for j in range(min(size, n))]

    def _home_teams(self, n: int) -> list[int]:
        """For each choice, the team that owns it first (its home for mutual adjustment)."""
        home = [-1] * n
        for t, block in enumerate(self.team_blocks):
            for c in block:
                if home[c] == -1:
                    home[c] = t
        return home

    def draw_domain(self, team: int) -> list[int]:
        """An employee's domain: choices from the team's block, a share from outside it."""
        rnd = self.model.random
        n, breadth = self.model.problem.n, self.cfg.domain_breadth
        outside_count = int(round(breadth * self.cfg.cross_functional))
        block = self.team_blocks[team]
        inside = rnd.sample(block, min(len(block), breadth - outside_count))
        others = [c for c in range(n) if c not in inside]
        outside = rnd.sample(others, min(len(others), breadth - len(inside)))
        return sorted(inside + outside)

    def _hire_employees(self) -> list[Employee]:
        model, rnd = self.model, self.model.random
        formalisation = self.cfg.formalisation
        staff = []
        for i in range(self.cfg.employees):
            team = i // self.cfg.team_size
            employee = Employee(
                model,
                team=team,
                domain=self.draw_domain(team),
                skill=0.3 + 0.4 * rnd.random(),
                engagement=0.4 + 0.2 * rnd.random(),
                exploration=(0.1 + 0.4 * rnd.random()) * (1.0 - 0.6 * formalisation),
                belief=int(model.rng.integers(2**model.problem.n)),
            )
            employee.node = i
            self.members[team].append(employee)
            staff.append(employee)
        return staff

    def _build_hierarchy(self) -> list[Manager]:
        """Team leads at level 1; above them, one manager per ``span_of_control`` units, up to a
        single manager at the top level."""
        levels = self.cfg.hierarchy_levels
        if levels == 0:
            return []
        params = self.model.params
        rnd = self.model.random

        def hire(level: int, teams: list[int]) -> Manager:
            capacity = min(1.0, max(0.0, params.absorptive_capacity + 0.1 * (rnd.random() - 0.5)))
            return Manager(self.model, level, teams, capacity, params.vision)

        layer = [hire(1, [t]) for t in range(self.n_teams)]
        managers = list(layer)
        for level in range(2, levels + 1):
            span = len(layer) if level == levels else self.cfg.span_of_control
            above = []
            for start in range(0, len(layer), span):
                group = layer[start : start + span]
                boss = hire(level, [t for m in group for t in m.teams])
                for m in group:
                    m.superior = boss
                above.append(boss)
            managers.extend(above)
            layer = above
        return managers

    def _build_network(self) -> nx.Graph:
        """The employees' communication network (node i is employee i)."""
        cfg, m = self.cfg, len(self.employees)
        seed = int(self.model.rng.integers(2**31))
        g = nx.Graph()
        g.add_nodes_from(range(m))
        if cfg.network == "small_world":
            k = min(cfg.network_degree, m - 1)
            if k >= 2:
                g = nx.connected_watts_strogatz_graph(m, k, 0.1, tries=100, seed=seed)
        else:
            for team in self.members:
                nodes = [e.node for e in team]
                if cfg.network == "teams_bridged":
                    g.add_edges_from((a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :])
                else:  # along the hierarchy: sparse ties inside the department (a ring lattice)
                    k = min(cfg.network_degree, len(nodes) - 1)
                    for i, a in enumerate(nodes):
                        for j in range(1, k // 2 + 1):
                            g.add_edge(a, nodes[(i + j) % len(nodes)])
                    if k == 1 and len(nodes) == 2:
                        g.add_edge(nodes[0], nodes[1])
        rnd = np.random.default_rng(seed)
        bridgers = rnd.random(m) < cfg.bridges
        # at construction team t is the contiguous block of nodes [t*size, t*size + len): the
        # j-th node outside a's team is j, or j + len past the block (no list of all others)
        size = cfg.team_size
        for a in np.flatnonzero(bridgers):
            team = self.employees[a].team
            start, length = team * size, len(self.members[team])
            if m - length:
                j = int(rnd.integers(m - length))
                g.add_edge(int(a), j if j < start else j + length)
        return g

    def _refresh_neighbours(self, node: int) -> None:
        self._neighbours[node] = [self.employees[j] for j in self.network.adj[node]]

    def neighbours(self, employee: Employee) -> list[Employee]:
        return self._neighbours[employee.node]

    def vision_of(self, employee: Employee) -> float:
        """The pull of the employee's lead's vision (none without managers)."""
        lead = self.leads.get(employee.team)
        return lead.vision if lead is not None else 0.0

    # --- change of structure (flexible organising) --------------------------------------------
    def reorganise(self) -> None:
        """Team fluidity (project teams re-formed) and network rewiring, at the lever's rates."""
        params, rng = self.model.params, self.model.rng
        if params.team_fluidity > 0 and self.n_teams > 1:
            for idx in np.flatnonzero(rng.random(len(self.employees)) < params.team_fluidity):
                self._move(self.employees[int(idx)])
        if params.rewiring > 0 and self.network.number_of_edges():
            edges = list(self.network.edges)
            count = rng.binomial(len(edges), params.rewiring)
            for e in rng.choice(len(edges), size=count, replace=False) if count else []:
                self._rewire(*edges[int(e)])

    def _move(self, employee: Employee) -> None:
        rnd = self.model.random
        old = employee.team
        new = int(rnd.random() * (self.n_teams - 1))
        new = new + 1 if new >= old else new
        self.members[old].remove(employee)
        self.members[new].append(employee)
        employee.team = new
        employee.domain = self.draw_domain(new)
        if self.cfg.network != "small_world":
            g, node = self.network, employee.node
            touched = list(g.adj[node])
            g.remove_edges_from([(node, j) for j in touched if self.employees[j].team == old])
            mates = [e.node for e in self.members[new] if e is not employee]
            if self.cfg.network == "hierarchy":
                mates = rnd.sample(mates, min(len(mates), max(1, self.cfg.network_degree // 2)))
            g.add_edges_from((node, j) for j in mates)
            for j in {node, *touched, *mates}:
                self._refresh_neighbours(j)
            self.network_version += 1

    def _rewire(self, u: int, v: int) -> None:
        g = self.network
        if not g.has_edge(u, v):
            return
        w = int(self.model.random.random() * len(self.employees))
        if w in (u, v) or g.has_edge(u, w):
            return
        g.remove_edge(u, v)
        g.add_edge(u, w)
        for j in (u, v, w):
            self._refresh_neighbours(j)
        self.network_version += 1

    # --- decisions ----------------------------------------------------------------------------
    def submit(self, proposal: Proposal) -> None:
        self.model.tally["proposals"] += 1
        self.route.submit(proposal)

    def decide(self) -> list[Proposal]:
        """Run one step of the decision route; return the proposals adopted this step."""
        self._team_signal[:] = 0.0
        return self.route.decide()

    def reject(self, proposal: Proposal) -> None:
        self.model.tally["rejections"] += 1
        proposal.proposer.recognise(-1.0)

    def backlog_size(self) -> int:
        return self.route.backlog_size()

    # --- team rewards -------------------------------------------------------------------------
    def add_team_signal(self, team: int, amount: float) -> None:
        self._team_signal[team] += amount

    def team_signal(self, team: int) -> float:
        """The team's outcomes this step, per member (the basis of team rewards)."""
        size = len(self.members[team])
        return float(self._team_signal[team] / size) if size else 0.0

    # --- diagnostics --------------------------------------------------------------------------
    def cohesion(self) -> float:
        """Network cohesion: mean clustering over a fixed sample of nodes, cached per version."""
        version, value = self._cohesion
        if version != self.network_version:
            m = len(self.employees)
            nodes = range(0, m, max(1, m // COHESION_SAMPLE))
            value = float(nx.average_clustering(self.network, nodes=nodes))
            self._cohesion = (self.network_version, value)
        return value

    def display_graph(self) -> nx.Graph:
        """Employees, managers and their ties, for drawing (managers linked to their teams)."""
        g = self.network.copy()
        for m in self.managers:
            g.add_node(f"m{m.unique_id}")
            if m.superior is not None:
                g.add_edge(f"m{m.unique_id}", f"m{m.superior.unique_id}")
            if m.level == 1:
                for e in self.members[m.teams[0]]:
                    g.add_edge(f"m{m.unique_id}", e.node)
        return g


class Route:
    """A decision route: where proposals wait and who judges them."""

    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.model = org.model
        self.delay = org.cfg.approval_delay
        self.attention = org.cfg.manager_attention

    def submit(self, proposal: Proposal) -> None:
        raise NotImplementedError

    def decide(self) -> list[Proposal]:
        raise NotImplementedError

    def backlog_size(self) -> int:
        raise NotImplementedError

    def take_ready(self, queue: deque[Proposal]) -> list[Proposal]:
        """Up to ``attention`` proposals whose wait is over; stale ones are dropped."""
        step = self.model.steps
        ready: list[Proposal] = []
        while queue and len(ready) < self.attention and queue[0].ready <= step:
            proposal = queue.popleft()
            if expired(self.model, proposal):
                continue
            if proposal.change.apply(self.model.code) == self.model.code:
                continue  # already the way of working: nothing to decide
            ready.append(proposal)
        return ready

    def outside_teams(self, proposal: Proposal) -> list[int]:
        """Teams whose choices the change touches, besides the proposer's (mutual adjustment)."""
        team = proposal.team
        own = self.org.team_blocks[team]
        mask = proposal.change.mask
        teams = {
            self.org.home_team[c]
            for c in range(self.model.problem.n)
            if (mask >> c) & 1 and c not in own
        }
        teams.discard(team)
        return sorted(teams)


class HierarchyRoute(Route):
    """Up the chain: each level judges after a delay, within its attention per step."""

    def __init__(self, org: Organisation) -> None:
        super().__init__(org)
        self.by_level = sorted(org.managers, key=lambda m: m.level)  # team leads judge first

    def submit(self, proposal: Proposal) -> None:
        lead = self.org.leads[proposal.team]
        proposal.ready = self.model.steps + self.delay
        proposal.level = 1
        lead.queue.append(proposal)

    def decide(self) -> list[Proposal]:
        adopted: list[Proposal] = []
        top_level = self.model.params.decision_levels
        for manager in self.by_level:
            for proposal in self.take_ready(manager.queue):
                if not manager.judge(proposal.change):
                    self.org.reject(proposal)
                elif manager.level >= top_level or manager.superior is None:
                    adopted.append(proposal)
                else:
                    proposal.level += 1
                    proposal.ready = self.model.steps + self.delay
                    manager.superior.queue.append(proposal)
        return adopted

    def backlog_size(self) -> int:
        return sum(len(m.queue) for m in self.org.managers)


class ProjectLeadRoute(Route):
    """The project lead decides; other teams' leads agree when their choices are touched."""

    def submit(self, proposal: Proposal) -> None:
        proposal.ready = self.model.steps + self.delay
        proposal.pending = []
        self._queue(proposal.team).append(proposal)

    def _queue(self, team: int) -> deque[Proposal]:
        return self.org.leads[team].queue

    def decide(self) -> list[Proposal]:
        adopted: list[Proposal] = []
        for team in range(self.org.n_teams):
            lead = self.org.leads[team]
            for proposal in self.take_ready(self._queue(team)):
                if not lead.judge(proposal.change):
                    self.org.reject(proposal)
                    continue
                if team == proposal.team:
                    proposal.pending = self.outside_teams(proposal)
                    if proposal.pending:
                        self.model.tally["mutual_adjustments"] += len(proposal.pending)
                else:
                    proposal.pending.remove(team)
                if proposal.pending:  # mutual adjustment: the next team's lead looks next step
                    proposal.ready = self.model.steps + 1
                    self._queue(proposal.pending[0]).append(proposal)
                else:
                    adopted.append(proposal)
        return adopted

    def backlog_size(self) -> int:
        return sum(len(m.queue) for m in self.org.managers)


class TeamConsentRoute(Route):
    """The team decides in its meeting: the change passes unless a member objects."""

    def __init__(self, org: Organisation) -> None:
        super().__init__(org)
        self.queues: list[deque[Proposal]] = [deque() for _ in range(org.n_teams)]

    def submit(self, proposal: Proposal) -> None:
        proposal.ready = self.model.steps + self.delay
        self.queues[proposal.team].append(proposal)

    def decide(self) -> list[Proposal]:
        adopted: list[Proposal] = []
        code, tally = self.model.code, self.model.tally
        for team, queue in enumerate(self.queues):
            members = self.org.members[team]
            for proposal in self.take_ready(queue):
                after = proposal.change.apply(code)
                objection = False
                for member in members:
                    if member is proposal.proposer:
                        continue
                    tally["judgements"] += 1
                    if member.judge(code, after) < -CONSENT_TOLERANCE:
                        objection = True
                        break
                if objection:
                    self.org.reject(proposal)
                else:
                    adopted.append(proposal)
        return adopted

    def backlog_size(self) -> int:
        return sum(len(q) for q in self.queues)


ROUTES: dict[str, type[Route]] = {
    "hierarchy": HierarchyRoute,
    "project_lead": ProjectLeadRoute,
    "team_consent": TeamConsentRoute,
}
