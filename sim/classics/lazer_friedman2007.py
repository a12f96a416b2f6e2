"""Lazer & Friedman (2007): network structure and parallel problem solving.

Why: orgsim's organisation forms differ in their communication networks (hierarchy, dense
teams, small worlds). L&F's result, that efficient (fully connected) networks win the short run
and lose the long run because they drive out diversity, is the mechanism those forms rely on.

Setup as in the paper: 100 agents, one NK landscape (N = 20, K = 5, random interaction),
random starting strings. Each round, synchronously, an agent copies the string of its
best-performing neighbour if that neighbour is strictly better; otherwise it flips one random
bit and keeps the change if strictly better. Networks (networkx): linear (a ring: each agent
has two neighbours), fully connected, and, for the figure only, a random graph and a
small-world graph of mean degree 4. All networks on one landscape start from the same strings
(common random numbers). Performance is the mean of fitness / global optimum over agents (L&F
plot a monotone transform of it; the ordering of networks is what the claim is about).

Vectorised over agents and replicate runs: neighbour lists are a padded index array, and the
best neighbour is an argmax over it.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from sim.classics.checks import Z95, CheckResult, Outcome, greater_check, mean_se, spawn
from sim.landscape import NKLandscape

SOURCE = "Lazer & Friedman 2007, ASQ 52(4)"
N, K = 20, 5
AGENTS = 100
ROUNDS = 200
SHORT = 5  # the short run: rounds at which information spread has not yet run its course
LONG = ROUNDS  # the long run: the end of the horizon


def networks(seed: int) -> dict[str, nx.Graph]:
    """The networks compared; random and small-world graphs are drawn from ``seed``."""
    nets = {"linear": nx.cycle_graph(AGENTS), "full": nx.complete_graph(AGENTS)}
    nets["random"] = nx.connected_watts_strogatz_graph(AGENTS, 4, 1.0, seed=seed)
    nets["small-world"] = nx.connected_watts_strogatz_graph(AGENTS, 4, 0.1, seed=seed + 1)
    return nets


def neighbour_array(graph: nx.Graph) -> np.ndarray:
    """(agents, max degree) neighbour indices, padded with the agent itself.

    Padding with self is harmless: the agent is never strictly better than itself.
    """
    deg = max(d for _, d in graph.degree())
    out = np.repeat(np.arange(AGENTS)[:, None], deg, axis=1)
    for i in range(AGENTS):
        nb = sorted(graph.neighbors(i))
        out[i, : len(nb)] = nb
    return out


def simulate(
    table: np.ndarray, nbrs: np.ndarray, starts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Run replicate populations; returns mean normalised fitness per round, (runs, ROUNDS+1).

    ``table`` is the normalised fitness table, ``starts`` (runs, agents) integer codes.
    """
    codes = starts.copy()
    runs = codes.shape[0]
    path = np.empty((runs, ROUNDS + 1))
    fit = table[codes]
    path[:, 0] = fit.mean(axis=1)
    rows = np.arange(runs)[:, None]
    for t in range(ROUNDS):
        nb_fit = fit[:, nbrs]  # (runs, agents, deg)
        best = np.argmax(nb_fit, axis=2)
        best_agent = np.take_along_axis(nbrs[None, :, :], best[:, :, None], axis=2)[..., 0]
        best_fit = fit[rows, best_agent]
        copy = best_fit > fit
        trial = codes ^ (1 << rng.integers(0, N, size=codes.shape))
        explore = np.where(table[trial] > fit, trial, codes)
        codes = np.where(copy, codes[rows, best_agent], explore)  # synchronous update
        fit = table[codes]
        path[:, t + 1] = fit.mean(axis=1)
    return path


def run(seed: np.random.SeedSequence, quick: bool) -> Outcome:
    """Linear vs fully connected networks, paired on landscape and starting strings."""
    landscapes = 6 if quick else 100
    runs = 5 if quick else 10
    curves: dict[str, list[np.ndarray]] = {}
    for child in spawn(seed, landscapes):
        rng = np.random.default_rng(child)
        land = NKLandscape(N, K, "random", seed=rng)
        table = land.all_fitness() / land.optimum.fitness
        starts = rng.integers(0, 2**N, size=(runs, AGENTS))
        nets = networks(int(rng.integers(0, 2**31)))
        stream = int(rng.integers(0, 2**63))
        for name, g in nets.items():
            path = simulate(table, neighbour_array(g), starts, np.random.default_rng(stream))
            curves.setdefault(name, []).append(path.mean(axis=0))  # landscape mean
    c = {k: np.array(v) for k, v in curves.items()}  # (landscapes, ROUNDS+1)
    short = c["full"][:, SHORT] - c["linear"][:, SHORT]
    long = c["linear"][:, LONG] - c["full"][:, LONG]
    cross = np.flatnonzero(c["linear"].mean(axis=0) > c["full"].mean(axis=0))
    cross_note = f"linear first ahead at round {int(cross[0]) if cross.size else 'never'}"
    recs: list[CheckResult] = [
        greater_check(
            "L&F: fully connected ahead in the short run",
            SOURCE,
            "efficient networks do better in the short run",
            short,
            what=f"full - linear at round {SHORT}",
            note=f"N={N}, K={K}, {AGENTS} agents; {landscapes} landscapes x {runs} runs (paired)",
            figure="lf_networks.png",
        ),
        greater_check(
            "L&F: linear ahead in the long run",
            SOURCE,
            "inefficient (linear) networks preserve diversity and end higher",
            long,
            what=f"linear - full at round {LONG}",
            note=cross_note,
            figure="lf_networks.png",
        ),
    ]

    def plot(ax) -> None:
        t = np.arange(ROUNDS + 1)
        for name, arr in c.items():
            m = arr.mean(axis=0)
            se = arr.std(axis=0, ddof=1) / np.sqrt(arr.shape[0])
            ax.plot(t, m, label=name)
            ax.fill_between(t, m - Z95 * se, m + Z95 * se, alpha=0.2)
        ax.axvline(SHORT, color="grey", ls=":", lw=0.8)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("round")
        ax.set_ylabel("mean fitness / global optimum")
        ax.set_title(f"Lazer & Friedman (2007): N={N}, K={K}, {AGENTS} agents")
        ax.legend()

    return Outcome(recs, {"lf_networks.png": plot})


__all__ = ["run", "simulate", "neighbour_array", "networks", "mean_se"]
