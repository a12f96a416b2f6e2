"""The InnovationModel: one organisation working on one wicked problem (a Mesa 3 model).

Data flows one way: problem -> people -> organisation -> strategy -> model. The model knows no
screen and no file: it is built from a config, stepped, and read as a table.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim.agents import Employee, ExternalPartner, Manager
from sim.config import OrgsimConfig, to_config
from sim.levers import mechanism_parameters
from sim.metrics import Metrics, new_tally, summarise
from sim.organisation import Organisation
from sim.problem import WickedProblem
from sim.search import steepest_ascent_walk
from sim.strategies import STRATEGIES


def seed_streams(cfg: OrgsimConfig) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The problem's and the people's seed sequences: the one seed derivation of orgsim.

    Replication 0 of master seed ``s`` uses the two children of ``SeedSequence(s)`` (problem,
    people); replication ``r > 0`` uses the r-th child of each of them. The streams depend on
    the seed and the replication only, never on the organisation, the levers or the strategy,
    so replication r of every arm of a comparison meets the same landscape and the same shocks
    (common random numbers). Every interface (the API, ``orgsim``, sweeps, the dashboard,
    ``orgsim-compare``) builds its model here, so ``seed=7 replication=1`` is the same run
    everywhere.

    An explicit ``problem_seed`` or ``agent_seed`` replaces its stream, so that the landscape can
    be held fixed while the people change (and vice versa).
    """
    tail = (cfg.replication,) if cfg.replication else ()
    problem = np.random.SeedSequence(cfg.seed, spawn_key=(0, *tail))
    people = np.random.SeedSequence(cfg.seed, spawn_key=(1, *tail))
    if cfg.problem_seed is not None:
        problem = np.random.SeedSequence(cfg.problem_seed)
    if cfg.agent_seed is not None:
        people = np.random.SeedSequence(cfg.agent_seed)
    return problem, people


class InnovationModel(mesa.Model):
    """Employees, managers and external partners innovating on a wicked problem.

    ``config`` is a composed config (see :func:`sim.compose_config`), a plain dict of the same
    shape, or an :class:`~sim.config.OrgsimConfig`; it is validated here too.
    """

    def __init__(self, config: OrgsimConfig | DictConfig | dict[str, Any] | None = None) -> None:
        cfg = to_config(config if config is not None else OrgsimConfig())
        problem_seed, people_seed = seed_streams(cfg)
        super().__init__(rng=np.random.default_rng(people_seed))
        self.cfg = cfg
        self.problem = WickedProblem(cfg.problem, problem_seed)
        self.code = self.problem.start_code  # the organisation's current way of working
        self.params = mechanism_parameters(cfg.levers, cfg.org)
        self.max_change_size = cfg.strategy.max_change_size  # read in every idea: cached
        self.see_problem()
        self.tally = new_tally()
        self.organisation = Organisation(self)
        self.employees: list[Employee] = self.organisation.employees
        self.partners = [self._recruit_partner(i) for i in range(cfg.org.partners)]
        self.strategy = STRATEGIES[cfg.strategy.name](self)
        self.metrics = Metrics(self)
        # one table row per step (Mesa's DataCollector tables: rows are stored as given,
        # without a deep copy per reporter per step)
        self.datacollector = mesa.DataCollector(
            tables={"timeseries": list(self.metrics.measure(shock=False))}
        )
        self._shock_pending = False

    def _recruit_partner(self, index: int) -> ExternalPartner:
        """A partner of stakeholder group ``index % S``, expert on its group's landscape: it
        starts from a random way of working and climbs its group's landscape to a local peak."""
        group = index % self.problem.stakeholder.shape[0]
        start = int(self.rng.integers(2**self.problem.n))
        table = self.problem.stakeholder[group]
        belief, _ = steepest_ascent_walk(table, start, self.problem.n)
        return ExternalPartner(self, group, belief)

    def see_problem(self) -> None:
        """The people's value table for the landscape as it stands (changes only with a shock)."""
        self.view = self.problem.view(self.params.stakeholder_involvement)

    # --- one step (a week) ----------------------------------------------------------------------
    def step(self) -> None:
        """environment -> learning and knowledge sharing -> idea generation -> decisions along
        the organisation form -> implementation -> feedback -> data collection."""
        self.tally = new_tally()
        shocked = self.problem.advance(self.steps) or self._shock_pending
        self._shock_pending = False
        self.see_problem()
        employees = self.agents_by_type[Employee]
        employees.shuffle_do("share_knowledge")
        if ExternalPartner in self.agents_by_type:
            self.agents_by_type[ExternalPartner].shuffle_do("cocreate")
        employees.shuffle_do("generate_ideas")
        adopted = self.organisation.decide()
        self.strategy.implement(adopted)
        self.strategy.feedback()
        self.organisation.reorganise()
        employees.do("develop")
        self.datacollector.add_table_row("timeseries", self.metrics.measure(shocked))

    def shock(self, share: float | None = None) -> None:
        """Trigger a shock now (the teacher's button): the requirements change at once and the
        next collected step is marked as shocked."""
        if self.problem.shock(self.steps, share).size:
            self._shock_pending = True
            self.see_problem()

    # --- API ------------------------------------------------------------------------------------
    def run(self, steps: int | None = None, progress: Any = None) -> InnovationModel:
        """Run the configured number of steps (or ``steps``); ``progress`` is an optional
        callable called after each step (e.g. a tqdm bar's update)."""
        for _ in range(self.cfg.steps if steps is None else steps):
            self.step()
            if progress is not None:
                progress()
        return self

    def timeseries(self) -> pd.DataFrame:
        """One row per step; columns documented in :data:`sim.metrics.TIMESERIES_COLUMNS`."""
        return self.datacollector.get_table_dataframe("timeseries")

    def summary(self) -> dict[str, float]:
        """Final outcomes (documented in :data:`sim.metrics.SUMMARY_FIELDS`)."""
        ts = self.timeseries()
        if ts.empty:
            raise RuntimeError("the model has not been stepped yet: call run() first")
        return summarise(ts)

    @property
    def managers(self) -> list[Manager]:
        return self.organisation.managers

    @property
    def performance(self) -> float:
        return self.problem.performance(self.code)
