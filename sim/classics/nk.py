"""NK theory checks on orgsim's landscape and search primitives.

Why: every other classic (and the model itself) stands on :class:`sim.landscape.NKLandscape`
and :mod:`sim.search`. If the landscape's statistics disagree with Kauffman's theory, nothing
built on it can be trusted, so these checks come first. All use N = 10 with random interaction
(Kauffman & Levin 1987; Kauffman 1993, ch. 2) and the exhaustive fitness table.

Checks
------
- K = 0: exactly one local optimum on every landscape; E[max F] = 2/3 (each locus contributes
  the larger of two U(0,1) draws, whose mean is 2/3).
- K = N-1: fitness values are iid across strings, so a string is a local optimum with
  probability 1/(N+1): E[#optima] = 2^N/(N+1).
- the number of optima grows with K;
- one-mutant fitness correlation, pooled over the ensemble, equals 1-(K+1)/N (a flip of one
  choice changes on average K+1 of the N contributions);
- steepest-ascent adaptive walks from random strings get shorter as K rises.
"""

from __future__ import annotations

import numpy as np

from sim.classics.checks import (
    Z95,
    CheckResult,
    Outcome,
    ci,
    equality_check,
    greater_check,
    mean_se,
    spawn,
)
from sim.landscape import NKLandscape
from sim.search import steepest_ascent_walk

SOURCE = "Kauffman & Levin 1987; Kauffman 1993 ch. 2"
N = 10
KS = (0, 2, 5, 9)


def landscape_stats(
    k: int, landscapes: int, starts: int, seed: np.random.SeedSequence
) -> dict[str, np.ndarray]:
    """Per-landscape statistics for one K: optima count, global max, walk length, pair sums.

    Pair sums are the five sufficient statistics (sum f, sum g, sum f^2, sum g^2, sum fg) of all
    one-mutant pairs (f = F(x), g = F(x with choice j flipped), every x and j) and their count,
    so that the ensemble correlation and its bootstrap need no second pass.
    """
    optima = np.empty(landscapes)
    gmax = np.empty(landscapes)
    walk = np.empty(landscapes)
    sums = np.empty((landscapes, 5))
    codes = np.arange(2**N, dtype=np.int64)
    for li, child in enumerate(spawn(seed, landscapes)):
        rng = np.random.default_rng(child)
        land = NKLandscape(N, k, "random", seed=rng)
        table = land.all_fitness()
        optima[li] = land.local_optima().size
        gmax[li] = land.optimum.fitness
        starts_codes = rng.integers(0, 2**N, size=starts)
        walk[li] = np.mean([steepest_ascent_walk(table, int(c), N)[1] for c in starts_codes])
        f = np.repeat(table, N)
        g = table[(codes[:, None] ^ (1 << np.arange(N))).reshape(-1)]
        sums[li] = (f.sum(), g.sum(), (f * f).sum(), (g * g).sum(), (f * g).sum())
    return {"optima": optima, "gmax": gmax, "walk": walk, "sums": sums, "pairs": 2**N * N}


def pooled_corr(sums: np.ndarray, pairs: int) -> float:
    """Correlation of F(x) and F(x') pooled over all landscapes (the ensemble correlation)."""
    s = sums.sum(axis=0)
    cnt = pairs * sums.shape[0]
    mf, mg = s[0] / cnt, s[1] / cnt
    cov = s[4] / cnt - mf * mg
    vf = s[2] / cnt - mf * mf
    vg = s[3] / cnt - mg * mg
    return float(cov / np.sqrt(vf * vg))


def corr_with_se(
    sums: np.ndarray, pairs: int, rng: np.random.Generator, boot: int = 1000
) -> tuple[float, float]:
    """Ensemble correlation and its bootstrap standard error (landscapes resampled)."""
    r = pooled_corr(sums, pairs)
    L = sums.shape[0]
    w = rng.multinomial(L, np.full(L, 1.0 / L), size=boot)  # (boot, L) resampling weights
    s = w @ sums  # (boot, 5)
    cnt = pairs * L
    mf, mg = s[:, 0] / cnt, s[:, 1] / cnt
    rb = (s[:, 4] / cnt - mf * mg) / np.sqrt((s[:, 2] / cnt - mf * mf) * (s[:, 3] / cnt - mg * mg))
    return r, float(rb.std(ddof=1))


def run(seed: np.random.SeedSequence, quick: bool) -> Outcome:
    """All NK checks. Quick: 150 landscapes per K; full: 2000."""
    landscapes = 150 if quick else 2000
    starts = 10 if quick else 20
    seeds = spawn(seed, len(KS) + 1)
    stats = {k: landscape_stats(k, landscapes, starts, s) for k, s in zip(KS, seeds, strict=False)}
    boot_rng = np.random.default_rng(seeds[-1])
    recs: list[CheckResult] = []

    s0 = stats[0]
    n_bad = int((s0["optima"] != 1).sum())
    recs.append(
        CheckResult(
            name="NK K=0: one optimum on every landscape",
            source=SOURCE,
            paper="exactly 1 local optimum",
            value=float(s0["optima"].mean()),
            lo=float(s0["optima"].min()),
            hi=float(s0["optima"].max()),
            tolerance="every landscape has exactly 1 (interval = min, max)",
            passed=n_bad == 0,
            note=f"{landscapes} landscapes, {n_bad} with a count other than 1",
            figure="nk_optima.png",
        )
    )
    recs.append(
        equality_check(
            "NK K=0: E[max F] = 2/3",
            SOURCE,
            "2/3 = 0.667",
            2 / 3,
            s0["gmax"],
            note=f"{landscapes} landscapes, N={N}",
            figure="nk_optima.png",
        )
    )
    expected = 2**N / (N + 1)
    recs.append(
        equality_check(
            "NK K=N-1: E[#optima] = 2^N/(N+1)",
            SOURCE,
            f"{expected:.2f} (N={N})",
            expected,
            stats[N - 1]["optima"],
            note=f"{landscapes} landscapes",
            figure="nk_optima.png",
        )
    )
    # optima grow with K: the smallest consecutive increase must be significant
    incs = []
    for a, b in zip(KS[:-1], KS[1:], strict=True):
        ma, sa = mean_se(stats[a]["optima"])
        mb, sb = mean_se(stats[b]["optima"])
        incs.append((mb - ma, float(np.hypot(sa, sb)), a, b))
    worst = min(incs, key=lambda t: t[0] - Z95 * t[1])
    recs.append(
        greater_check(
            "NK: #optima grows with K",
            SOURCE,
            "number of optima grows steeply with K",
            mean=worst[0],
            se=worst[1],
            what=f"smallest step (K={worst[2]}->{worst[3]})",
            note="means: " + ", ".join(f"K={k}: {stats[k]['optima'].mean():.1f}" for k in KS),
            figure="nk_optima.png",
        )
    )

    corr = {}
    for k in KS:
        r, se = corr_with_se(stats[k]["sums"], stats[k]["pairs"], boot_rng)
        corr[k] = (r, se)
        theory = 1 - (k + 1) / N
        recs.append(
            equality_check(
                f"NK one-mutant correlation K={k}",
                SOURCE,
                f"1-(K+1)/N = {theory:.2f}",
                theory,
                mean=r,
                se=se,
                note="pooled over landscapes, all x and all one-bit flips; bootstrap SE",
                figure="nk_correlation.png",
            )
        )

    walks = {k: mean_se(stats[k]["walk"]) for k in KS}
    steps = []
    for a, b in zip(KS[:-1], KS[1:], strict=True):
        d = walks[a][0] - walks[b][0]
        steps.append((d, float(np.hypot(walks[a][1], walks[b][1])), a, b))
    worst = min(steps, key=lambda t: t[0] - Z95 * t[1])
    recs.append(
        greater_check(
            "NK: steepest-ascent walks shorten with K",
            SOURCE,
            "adaptive walks get shorter as K rises",
            mean=worst[0],
            se=worst[1],
            what=f"smallest decrease (K={worst[2]}->{worst[3]})",
            note="mean steps: " + ", ".join(f"K={k}: {walks[k][0]:.2f}" for k in KS),
            figure="nk_walks.png",
        )
    )

    def plot_optima(ax) -> None:
        m = [mean_se(stats[k]["optima"]) for k in KS]
        ax.errorbar(KS, [x[0] for x in m], yerr=[Z95 * x[1] for x in m], fmt="o-", label="orgsim")
        ax.plot([0, N - 1], [1, expected], "r*", ms=12, label="theory (K=0: 1; K=N-1: 2^N/(N+1))")
        ax.set_yscale("log")
        ax.set_xlabel("K")
        ax.set_ylabel("mean number of local optima (N=10)")
        ax.legend()
        ax.set_title("NK: local optima vs K")

    def plot_corr(ax) -> None:
        ks = np.array(KS)
        ax.errorbar(
            ks,
            [corr[k][0] for k in KS],
            yerr=[Z95 * corr[k][1] for k in KS],
            fmt="o",
            label="orgsim",
        )
        grid = np.linspace(0, N - 1, 50)
        ax.plot(grid, 1 - (grid + 1) / N, "r-", label="theory 1-(K+1)/N")
        ax.set_xlabel("K")
        ax.set_ylabel("one-mutant fitness correlation")
        ax.legend()
        ax.set_title("NK: one-mutant correlation")

    def plot_walks(ax) -> None:
        ax.errorbar(KS, [walks[k][0] for k in KS], yerr=[Z95 * walks[k][1] for k in KS], fmt="o-")
        ax.set_xlabel("K")
        ax.set_ylabel("steepest-ascent walk length (steps)")
        ax.set_title("NK: adaptive walk length vs K (N=10)")

    return Outcome(
        recs,
        {"nk_optima.png": plot_optima, "nk_correlation.png": plot_corr, "nk_walks.png": plot_walks},
    )


__all__ = ["run", "landscape_stats", "pooled_corr", "corr_with_se", "ci"]
