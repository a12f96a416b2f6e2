"""Core speed: cost per agent-step against a minimal Mesa model, landscape tables, scaling.

Run: ``.venv/bin/python benchmarks/core.py [--quick]``. Machines here are noisy, so every number
is printed next to a baseline measured in the same run, as a ratio; nothing is asserted.

- baseline: a Boltzmann-wealth-like Mesa 3 model (each agent gives a unit of wealth to a random
  other agent), the cheapest meaningful agent step Mesa offers;
- orgsim: the default scenario (``sim.compose_config([])``), cost per agent-step where agents
  are all employees, managers and partners; target: at most 10x the baseline;
- ``all_fitness()`` for N = 16 (target: well under 50 ms);
- scaling: 100, 1,000 and 10,000 employees; cost per employee-step should stay about flat.
"""

from __future__ import annotations

import argparse
import statistics
import time

import mesa

import sim
from sim.landscape import NKLandscape


class MoneyAgent(mesa.Agent):
    def __init__(self, model: mesa.Model) -> None:
        super().__init__(model)
        self.wealth = 1

    def exchange(self) -> None:
        if self.wealth > 0:
            other = self.model.agent_list[int(self.model.random.random() * self.model.n)]
            other.wealth += 1
            self.wealth -= 1


class BoltzmannModel(mesa.Model):
    def __init__(self, n: int, seed: int = 0) -> None:
        super().__init__(rng=seed)
        self.n = n
        MoneyAgent.create_agents(self, n)
        self.agent_list = list(self.agents)

    def step(self) -> None:
        self.agents.shuffle_do("exchange")


def best_of(repeats: int, fn) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def per_agent_step_baseline(agents: int, steps: int, repeats: int) -> float:
    def go() -> None:
        m = BoltzmannModel(agents)
        for _ in range(steps):
            m.step()

    return best_of(repeats, go) / (agents * steps)


def per_agent_step_orgsim(overrides: list[str], steps: int, repeats: int) -> tuple[float, int]:
    """Time the steps only: building the organisation (network, partners) is set-up cost."""
    cfg = sim.compose_config([f"steps={steps}", *overrides])
    times = []
    for _ in range(repeats):
        model = sim.InnovationModel(cfg)
        t0 = time.perf_counter()
        model.run()
        times.append(time.perf_counter() - t0)
    agents = len(model.agents)
    return min(times) / (agents * steps), agents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 10,000 scale")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    steps = 100

    base = per_agent_step_baseline(66, steps * 3, repeats)
    ours, agents = per_agent_step_orgsim([], steps, repeats)
    print(f"baseline (Boltzmann, 66 agents): {base * 1e6:.2f} us per agent-step")
    print(f"orgsim default ({agents} agents):  {ours * 1e6:.2f} us per agent-step")
    print(f"ratio orgsim / baseline:          {ours / base:.1f}x  (target <= 10x)")
    t0 = time.perf_counter()
    sim.InnovationModel(sim.compose_config([])).run()
    print(f"default run (100 steps), wall:    {time.perf_counter() - t0:.3f} s")

    land = NKLandscape(16, 5, seed=1)

    def table() -> None:
        land.invalidate()
        land.all_fitness()

    fit = statistics.median(best_of(1, table) for _ in range(repeats * 2))
    print(f"all_fitness() N=16 K=5:           {fit * 1e3:.1f} ms  (target well under 50 ms)")

    print("scaling (cost per employee-step; about flat means linear):")
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000]
    for size in sizes:
        s = max(10, 5000 // size)
        cfg = [f"org.employees={size}", "org=self_organisation"]
        cost, agents = per_agent_step_orgsim(cfg, s, 1 if size >= 10_000 else repeats)
        print(
            f"  {size:>6} employees: {cost * 1e6:7.2f} us per agent-step "
            f"({cost / base:.1f}x baseline)"
        )


if __name__ == "__main__":
    main()
