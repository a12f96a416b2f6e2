"""The wicked problem: a shared NK landscape plus turbulence, plurality and ambiguity.

Rittel & Webber's wicked problems are hard to define, incomplete, contradictory and shifting.
The four knobs, each zero for a tame problem:

- complexity ``k``: interdependence of the choices (the NK landscape's ruggedness);
- turbulence ``tau``: each step, with probability tau, a share of the contribution tables is
  redrawn (requirements change; plans go stale); shocks can also be scheduled or triggered;
- plurality: ``S`` stakeholder groups, each with its own landscape whose contributions are
  correlated ``rho`` with the shared ones; the organisation is judged by a power-weighted mix of
  the groups' landscapes (Karre: social innovation is not apolitical);
- ambiguity ``sigma``: agents see values only through Gaussian noise (see :mod:`sim.agents`).

All of the problem's randomness (the landscape, the starting way of working, the timing and
content of shocks) comes from its own generator, apart from the people's, so that designs
compared on the same problem seed meet the very same problem (common random numbers).
"""

from __future__ import annotations

import numpy as np

from sim.config import ProblemConfig
from sim.landscape import NKLandscape


def power_weights(groups: int, concentration: float) -> np.ndarray:
    """Power of the stakeholder groups: equal at 0, all with the first group at 1."""
    equal = np.full(groups, 1.0 / groups)
    dominant = np.zeros(groups)
    dominant[0] = 1.0
    return (1.0 - concentration) * equal + concentration * dominant


class WickedProblem:
    """The problem the organisation works on, with exhaustive value tables over all strings.

    Tables (all indexed by integer code of a way of working, recomputed only after a shock):

    - ``shared``: the shared (technical) landscape's fitness;
    - ``stakeholder``: shape (S, 2**n), each group's fitness;
    - ``objective``: the power-weighted mix by which the organisation is judged.
    """

    def __init__(self, cfg: ProblemConfig, seed: int | np.random.SeedSequence) -> None:
        self.cfg = cfg
        self.n = cfg.n
        self.rng = np.random.default_rng(seed)
        self.landscape = NKLandscape(cfg.n, cfg.k, cfg.interaction, seed=self.rng)
        rho = cfg.stakeholder_correlation
        self._rho, self._rho_c = rho, float(np.sqrt(max(0.0, 1.0 - rho * rho)))
        # each group's own, independent component; its view mixes it with the shared tables
        self._own = self.rng.random((cfg.stakeholders, *self.landscape.tables.shape))
        self.power = power_weights(cfg.stakeholders, cfg.power_concentration)
        self.start_code = int(self.rng.integers(2**cfg.n))
        self.shocks: list[int] = []  # steps at which the landscape changed
        self._refresh()

    # --- tables -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        shared = self.landscape.all_fitness()
        views = []
        for own in self._own:
            tables = self._rho * self.landscape.tables + self._rho_c * own
            views.append(NKLandscape.from_tables(self.landscape.deps, tables).all_fitness())
        self.shared = shared
        self.stakeholder = np.vstack(views)
        self.stakeholder_best = self.stakeholder.max(axis=1)
        self.objective = self.power @ self.stakeholder
        self.optimum_code = int(np.argmax(self.objective))
        self.optimum_value = float(self.objective[self.optimum_code])
        self.version = self.landscape.version
        self._views: dict[float, list[float]] = {}

    def view(self, involvement: float) -> list[float]:
        """Values as the organisation's people weigh them: the shared landscape mixed with the
        stakeholders' objective by their involvement. A plain list, since agents look values up
        one at a time (a list index is several times cheaper than a numpy scalar index)."""
        table = self._views.get(involvement)
        if table is None:
            mixed = (1.0 - involvement) * self.shared + involvement * self.objective
            table = self._views[involvement] = mixed.tolist()
        return table

    # --- outcomes -----------------------------------------------------------------------------
    def performance(self, code: int) -> float:
        """Objective fitness of a way of working, normalised by the current global optimum."""
        return float(self.objective[code] / self.optimum_value)

    def satisfaction(self, code: int) -> np.ndarray:
        """Each stakeholder group's fitness at ``code``, normalised by that group's optimum."""
        return self.stakeholder[:, code] / self.stakeholder_best

    # --- change -------------------------------------------------------------------------------
    def shock(self, step: int, share: float | None = None) -> np.ndarray:
        """Requirements change: redraw a share of the choices' tables, for every group alike."""
        share = self.cfg.shock_share if share is None else share
        loci = self.landscape.redraw(share, self.rng)
        if loci.size:
            self._own[:, loci] = self.rng.random(
                (self._own.shape[0], loci.size, self._own.shape[2])
            )
            self._refresh()
            self.shocks.append(step)
        return loci

    def advance(self, step: int) -> bool:
        """The environment's move at the start of a step: scheduled shocks and turbulence.

        The turbulence draw is made every step whatever happens, so that the problem's stream,
        and therefore every later shock, is the same for every design that meets this problem.
        """
        turbulent = self.rng.random() < self.cfg.turbulence
        if turbulent or step in self.cfg.shock_at:
            return self.shock(step).size > 0
        return False
