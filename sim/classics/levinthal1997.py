"""Levinthal (1997), adaptation on rugged landscapes: local search and the diversity of forms.

Why: orgsim's experiential (incremental) search is Levinthal's local search. His headline is
that on a smooth landscape (K = 0) a population of organisations converges to one form, while on
rugged landscapes local search leaves many distinct forms: outcomes are path dependent.

Setup as in the paper: N = 10, K in {0, 1, 5}, 100 organisations start at random forms on one
landscape, and each period every organisation takes one step of local search
(:func:`sim.search.local_search_step`: try one random one-bit change, keep it if strictly
better). Long jumps and the later redraw of the landscape are not part of this check.
"""

from __future__ import annotations

import numpy as np

from sim.classics.checks import Z95, CheckResult, Outcome, greater_check, mean_se, spawn
from sim.landscape import NKLandscape
from sim.search import local_search_step

SOURCE = "Levinthal 1997, Management Science 43(7)"
N = 10
KS = (0, 1, 5)
ORGS = 100
PERIODS = 200  # K=0: P(some org never tried a wrong bit) ~ 100 * 5 * 0.9^200 < 1e-6


def population(
    k: int, seed: np.random.SeedSequence, orgs: int = ORGS, periods: int = PERIODS
) -> tuple[np.ndarray, float]:
    """Distinct forms per period (length periods+1) and the final share on the global peak."""
    rng = np.random.default_rng(seed)
    land = NKLandscape(N, k, "random", seed=rng)
    table = land.all_fitness()
    forms = [int(c) for c in rng.integers(0, 2**N, size=orgs)]
    distinct = np.empty(periods + 1)
    distinct[0] = len(set(forms))
    for t in range(periods):
        forms = [local_search_step(table, c, N, rng) for c in forms]
        distinct[t + 1] = len(set(forms))
    on_peak = float(np.mean(np.array(forms) == land.optimum.code))
    return distinct, on_peak


def run(seed: np.random.SeedSequence, quick: bool) -> Outcome:
    """Distinct forms after PERIODS periods, per K, over independent landscapes."""
    landscapes = 30 if quick else 300
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, s in zip(KS, spawn(seed, len(KS)), strict=True):
        res = [population(k, c) for c in spawn(s, landscapes)]
        out[k] = (np.array([r[0] for r in res]), np.array([r[1] for r in res]))
    final = {k: out[k][0][:, -1] for k in KS}
    peak = {k: out[k][1] for k in KS}
    recs: list[CheckResult] = []
    bad = int((final[0] != 1).sum())
    recs.append(
        CheckResult(
            name="Levinthal: K=0 converges to one form",
            source=SOURCE,
            paper="with K=0 the population converges to a single form",
            value=float(final[0].mean()),
            lo=float(final[0].min()),
            hi=float(final[0].max()),
            tolerance="1 distinct form on every landscape (interval = min, max)",
            passed=bad == 0,
            note=f"{landscapes} landscapes x {ORGS} organisations, t={PERIODS}; "
            f"share on global peak {peak[0].mean():.2f}",
            figure="levinthal_forms.png",
        )
    )
    for a, b in zip(KS[:-1], KS[1:], strict=True):
        ma, sa = mean_se(final[a])
        mb, sb = mean_se(final[b])
        recs.append(
            greater_check(
                f"Levinthal: distinct forms rise with K ({a}->{b})",
                SOURCE,
                "more distinct forms survive local search on more rugged landscapes",
                mean=mb - ma,
                se=float(np.hypot(sa, sb)),
                what=f"forms(K={b}) - forms(K={a})",
                note=f"mean forms at t={PERIODS}: K={a}: {ma:.1f}, K={b}: {mb:.1f}; "
                f"share on global peak K={b}: {peak[b].mean():.2f}",
                figure="levinthal_forms.png",
            )
        )

    def plot(ax) -> None:
        t = np.arange(PERIODS + 1)
        for k in KS:
            m = out[k][0].mean(axis=0)
            se = out[k][0].std(axis=0, ddof=1) / np.sqrt(landscapes)
            ax.plot(t, m, label=f"K={k}")
            ax.fill_between(t, m - Z95 * se, m + Z95 * se, alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("period")
        ax.set_ylabel(f"distinct forms among {ORGS} organisations")
        ax.set_title("Levinthal (1997): local search, N=10")
        ax.legend()

    return Outcome(recs, {"levinthal_forms.png": plot})
