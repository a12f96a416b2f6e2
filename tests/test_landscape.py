"""The NK landscape agrees with NK theory (Kauffman 1993, ch. 2).

Tolerances are four standard errors of the ensemble mean over the landscapes used, computed
from the sample itself: never hand-picked.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.landscape import NKLandscape, bits_to_codes, codes_to_bits, dependency_matrix
from sim.search import cognitive_map


def ensemble(n: int, k: int, count: int, interaction: str = "random") -> list[NKLandscape]:
    seeds = np.random.SeedSequence(1234 + 31 * k + n).spawn(count)
    return [NKLandscape(n, k, interaction, seed=s) for s in seeds]


def within(sample: np.ndarray, expected: float, ses: float = 4.0) -> bool:
    se = sample.std(ddof=1) / np.sqrt(sample.size)
    return abs(sample.mean() - expected) <= ses * se


def test_all_fitness_matches_pointwise_fitness_in_code_order() -> None:
    land = NKLandscape(8, 3, seed=7)
    codes = np.arange(2**8)
    assert np.allclose(land.all_fitness(), land.fitness(codes_to_bits(codes, 8)))
    assert np.array_equal(bits_to_codes(codes_to_bits(codes, 8)), codes)
    # bit i of the code is choice i
    assert codes_to_bits(np.int64(0b101), 3).tolist() == [1, 0, 1]


def test_k0_has_exactly_one_local_optimum_and_mean_max_two_thirds() -> None:
    lands = ensemble(10, 0, 200)
    assert all(len(land.local_optima()) == 1 for land in lands)
    maxima = np.array([land.optimum.fitness for land in lands])
    assert within(maxima, 2.0 / 3.0)


def test_k_n_minus_1_has_about_2n_over_n_plus_1_optima() -> None:
    n = 10
    counts = np.array([len(land.local_optima()) for land in ensemble(n, n - 1, 120)])
    assert within(counts, 2**n / (n + 1))


@pytest.mark.parametrize("k", [0, 2, 5, 9])
def test_one_mutant_correlation_is_1_minus_k_plus_1_over_n(k: int) -> None:
    """The theory's correlation is over the ensemble of landscapes: each landscape gives an
    unbiased estimate using the ensemble's known mean (1/2) and variance (1/(12 n)) of F."""
    n = 10
    codes = np.arange(2**n)
    estimates = []
    for land in ensemble(n, k, 60):
        table = land.all_fitness() - 0.5
        neighbours = table[codes[:, None] ^ (1 << np.arange(n))]
        estimates.append((table[:, None] * neighbours).mean() * 12 * n)
    assert within(np.array(estimates), 1.0 - (k + 1) / n)


def test_optimum_is_cached_and_recomputed_after_redraw() -> None:
    land = NKLandscape(10, 4, seed=3)
    first = land.optimum
    assert land.optimum is first  # cached
    table_before = land.all_fitness().copy()
    loci = land.redraw(0.5)
    assert loci.size == 5
    assert not np.array_equal(land.all_fitness(), table_before)
    assert land.optimum.fitness == pytest.approx(land.all_fitness().max())


@pytest.mark.parametrize("interaction", ["random", "adjacent", "modular"])
def test_dependency_patterns(interaction: str) -> None:
    deps = dependency_matrix(12, 3, interaction, np.random.default_rng(0))
    assert deps.shape == (12, 4)
    assert all(deps[i, 0] == i and i not in deps[i, 1:] for i in range(12))
    assert all(len(set(row)) == 4 for row in deps)
    if interaction == "adjacent":
        assert deps[11, 1:].tolist() == [0, 1, 2]
    if interaction == "modular":  # blocks of k+1 = 4 choices depend only on each other
        assert sorted(deps[5].tolist()) == [4, 5, 6, 7]


def test_bad_landscape_arguments_name_the_setting() -> None:
    with pytest.raises(ValueError, match="k must be"):
        NKLandscape(5, 5)
    with pytest.raises(ValueError, match="n must be"):
        NKLandscape(25, 2)
    with pytest.raises(ValueError, match="interaction"):
        NKLandscape(5, 2, "ring")


def test_cognitive_map_averages_over_unattended_choices() -> None:
    land = NKLandscape(6, 2, seed=1)
    table = land.all_fitness()
    attended = [4, 1, 3]
    values = cognitive_map(table, 6, attended)
    bits = codes_to_bits(np.arange(64), 6)
    for pattern in range(8):
        rows = np.all([bits[:, a] == (pattern >> j) & 1 for j, a in enumerate(attended)], axis=0)
        assert values[pattern] == pytest.approx(table[rows].mean())
