"""Search on a landscape table: the building blocks shared by the model and the classic models.

Everything here works on an exhaustive fitness table indexed by integer code (see
:mod:`sim.landscape`), so a step of search is an index, not a landscape evaluation.

- experiential (backward-looking) search: try a change near the current string, keep it if it is
  better (Levinthal 1997; Gavetti & Levinthal 2000);
- cognitive (forward-looking) search: value patterns on an attended subset of the choices by the
  true fitness averaged over the unattended ones, and jump to the best pattern (Gavetti &
  Levinthal 2000).
"""

from __future__ import annotations

import numpy as np


def flip(code: int, choices: np.ndarray | list[int] | tuple[int, ...]) -> int:
    """The code of the string with the given choices flipped."""
    mask = 0
    for c in choices:
        mask |= 1 << int(c)
    return code ^ mask


def hamming(a: int, b: int) -> int:
    """Number of choices on which two strings differ."""
    return (int(a) ^ int(b)).bit_count()


def local_search_step(table: np.ndarray, code: int, n: int, rng: np.random.Generator) -> int:
    """One step of Levinthal's local search: flip one random choice, keep it if strictly better."""
    candidate = code ^ (1 << int(rng.integers(n)))
    return candidate if table[candidate] > table[code] else code


def is_local_optimum(table: np.ndarray, code: int, n: int) -> bool:
    """True when no one-bit neighbour is strictly better."""
    value = table[code]
    return all(table[code ^ (1 << i)] <= value for i in range(n))


def steepest_ascent_walk(table: np.ndarray, code: int, n: int) -> tuple[int, int]:
    """Walk to the best one-bit neighbour while it is strictly better.

    Returns (final code, number of steps taken): the adaptive walk length of NK theory.
    """
    neighbours = 1 << np.arange(n, dtype=np.int64)
    steps = 0
    while True:
        cand = code ^ neighbours
        best = int(cand[np.argmax(table[cand])])
        if table[best] <= table[code]:
            return code, steps
        code, steps = best, steps + 1


def cognitive_map(table: np.ndarray, n: int, attended: np.ndarray | list[int]) -> np.ndarray:
    """Gavetti & Levinthal's simplified representation of a landscape.

    Returns an array of length ``2**len(attended)``: entry ``p`` is the fitness of the pattern
    whose bit j is the value of choice ``attended[j]``, averaged over all values of the
    unattended choices. Computed by reshaping the exhaustive table into one axis per choice and
    averaging the unattended axes: no loop over strings.
    """
    attended = [int(a) for a in attended]
    if len(set(attended)) != len(attended) or any(not 0 <= a < n for a in attended):
        raise ValueError(f"attended choices must be distinct and in 0..{n - 1}, got {attended}")
    # code bit i is choice i; in C order the last axis varies fastest, so axis (n-1-i) is choice i
    cube = np.asarray(table).reshape((2,) * n)
    unattended_axes = tuple(n - 1 - i for i in range(n) if i not in attended)
    reduced = cube.mean(axis=unattended_axes) if unattended_axes else cube
    # remaining axes are the attended choices in decreasing choice order; reorder so that
    # pattern bit j is attended[j]
    remaining = sorted(attended, reverse=True)
    order = [remaining.index(a) for a in reversed(attended)]
    reduced = np.transpose(reduced, order) if order else reduced
    return np.asarray(reduced).reshape(-1)


def apply_pattern(code: int, attended: np.ndarray | list[int], pattern: int) -> int:
    """Set the attended choices of ``code`` to ``pattern`` (bit j -> choice attended[j])."""
    for j, choice in enumerate(attended):
        bit = (pattern >> j) & 1
        code = (code & ~(1 << int(choice))) | (bit << int(choice))
    return code
