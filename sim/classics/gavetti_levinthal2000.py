"""Gavetti & Levinthal (2000): cognitive (forward-looking) vs experiential (backward-looking) search.

Why: orgsim's *planning* strategy is G&L's cognitive search and its *incremental* strategy is
their experiential search, so their headline results are the baseline the project's question
(planning vs incrementalism) must be able to reproduce.

Setup: N = 10, an organisation attends to N1 = 4 randomly chosen choices. Its representation
is :func:`sim.search.cognitive_map` (a pattern on the attended choices is valued at the true
fitness averaged over the unattended ones). Three arms share their random numbers (common
random numbers: same landscape, start, attended choices and local-search stream):

- experiential: local search (:func:`sim.search.local_search_step`) from the random start;
- cognitive: jump to the map's best pattern (:func:`sim.search.apply_pattern`, the other choices
  kept), then experiential local search;
- locked-in cognitive: jump, then stay (no later experiential search).

Performance is fitness / global optimum. "Early" is t = 5 periods after the start (the jump
counts as the first position); "later" is t = 100. Both were fixed before running the checks.
"""

from __future__ import annotations

import numpy as np

from sim.classics.checks import (
    Z95,
    CheckResult,
    Outcome,
    greater_check,
    mean_se,
    spawn,
)
from sim.landscape import NKLandscape
from sim.search import apply_pattern, cognitive_map, local_search_step

SOURCE = "Gavetti & Levinthal 2000, ASQ 45(1)"
N = 10
N1 = 4
KS = (0, 2, 5, 9)
PERIODS = 100
EARLY = 5
AHEAD_KS = (0, 2, 5)  # "ahead early" is checked where the map carries information (K < N-1)


def landscape_paths(
    k: int, seed: np.random.SeedSequence, orgs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean normalised performance paths (experiential, cognitive, locked-in) on one landscape."""
    rng = np.random.default_rng(seed)
    land = NKLandscape(N, k, "random", seed=rng)
    table = land.all_fitness() / land.optimum.fitness
    exp = np.empty((orgs, PERIODS + 1))
    cog = np.empty((orgs, PERIODS + 1))
    lock = np.empty((orgs, PERIODS + 1))
    for o, child in enumerate(spawn(seed, orgs)):
        org_rng = np.random.default_rng(child)
        start = int(org_rng.integers(0, 2**N))
        attended = org_rng.choice(N, size=N1, replace=False)
        jump = apply_pattern(start, attended, int(np.argmax(cognitive_map(table, N, attended))))
        stream = int(org_rng.integers(0, 2**63))
        r_exp, r_cog = np.random.default_rng(stream), np.random.default_rng(stream)
        e, c = start, jump
        exp[o, 0], cog[o, 0] = table[e], table[c]
        for t in range(PERIODS):
            e = local_search_step(table, e, N, r_exp)
            c = local_search_step(table, c, N, r_cog)
            exp[o, t + 1], cog[o, t + 1] = table[e], table[c]
        lock[o] = table[jump]
    return exp.mean(axis=0), cog.mean(axis=0), lock.mean(axis=0)


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """OLS slope of y on x and its standard error."""
    xc = x - x.mean()
    b = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    resid = y - y.mean() - b * xc
    se = float(np.sqrt((resid**2).sum() / (x.size - 2) / (xc**2).sum()))
    return b, se


def run(seed: np.random.SeedSequence, quick: bool) -> Outcome:
    """Cognitive vs experiential vs locked-in, over independent landscapes per K."""
    landscapes = 30 if quick else 300
    orgs = 20 if quick else 50
    paths: dict[int, np.ndarray] = {}  # (landscapes, 3, PERIODS+1)
    for k, s in zip(KS, spawn(seed, len(KS)), strict=True):
        paths[k] = np.array([landscape_paths(k, c, orgs) for c in spawn(s, landscapes)])
    adv_early = {k: paths[k][:, 1, EARLY] - paths[k][:, 0, EARLY] for k in KS}
    lag_late = {k: paths[k][:, 0, PERIODS] - paths[k][:, 2, PERIODS] for k in KS}
    recs: list[CheckResult] = []
    stats = {k: mean_se(adv_early[k]) for k in AHEAD_KS}
    worst = min(AHEAD_KS, key=lambda k: stats[k][0] - Z95 * stats[k][1])
    recs.append(
        greater_check(
            "G&L: cognitive search ahead early",
            SOURCE,
            "a crude representation is a powerful guide to initial search",
            adv_early[worst],
            what=f"cognitive - experiential at t={EARLY} (weakest K={worst})",
            note="mean advantage: "
            + ", ".join(f"K={k}: {mean_se(adv_early[k])[0]:.3f}" for k in KS)
            + f"; N1={N1}, {landscapes} landscapes x {orgs} orgs",
            figure="gl_paths.png",
        )
    )
    x = np.concatenate([np.full(landscapes, k, dtype=float) for k in KS])
    y = np.concatenate([adv_early[k] for k in KS])
    b, se = _slope(x, y)
    recs.append(
        greater_check(
            "G&L: cognitive advantage shrinks as K rises",
            SOURCE,
            "the value of the representation falls as the landscape gets more rugged",
            mean=-b,
            se=se,
            what=f"minus the slope of the t={EARLY} advantage on K",
            note=f"K in {KS}; OLS over landscape means",
            figure="gl_advantage.png",
        )
    )
    lstats = {k: mean_se(lag_late[k]) for k in KS}
    worst = min(KS, key=lambda k: lstats[k][0] - Z95 * lstats[k][1])
    recs.append(
        greater_check(
            "G&L: locked-in cognitive search falls behind later",
            SOURCE,
            "locking search into the plan gains fast and loses in the long run",
            lag_late[worst],
            what=f"experiential - locked-in at t={PERIODS} (weakest K={worst})",
            note="mean lag: " + ", ".join(f"K={k}: {lstats[k][0]:.3f}" for k in KS),
            figure="gl_paths.png",
        )
    )

    def plot_paths(ax) -> None:
        t = np.arange(PERIODS + 1)
        for k, col in zip(KS, ("C0", "C1", "C2", "C3"), strict=True):
            m = paths[k].mean(axis=0)
            ax.plot(t, m[0], "-", color=col, label=f"K={k} experiential")
            ax.plot(t, m[1], "--", color=col, label=f"K={k} cognitive+experiential")
            ax.plot(t, m[2], ":", color=col, label=f"K={k} locked-in cognitive")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("period")
        ax.set_ylabel("fitness / global optimum")
        ax.set_title(f"Gavetti & Levinthal (2000): N=10, N1={N1}")
        ax.legend(fontsize=6, ncol=2)

    def plot_adv(ax) -> None:
        ms = [mean_se(adv_early[k]) for k in KS]
        ax.errorbar(KS, [a for a, _ in ms], yerr=[Z95 * s for _, s in ms], fmt="o-")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("K")
        ax.set_ylabel(f"cognitive - experiential at t={EARLY}")
        ax.set_title("G&L (2000): early advantage of cognition vs K")

    return Outcome(recs, {"gl_paths.png": plot_paths, "gl_advantage.png": plot_adv})
