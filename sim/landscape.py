"""Kauffman's NK fitness landscape, the technical core of the wicked problem.

A way of working is a string ``x`` of ``n`` binary choices. Choice ``i`` contributes
``c_i(x_i, x_dep(i))``, one fresh U(0, 1) value per pattern of its ``k + 1`` bits, and the
fitness is the mean of the contributions (Kauffman & Levin 1987; Kauffman 1993, ch. 2).

Strings are also addressed by integer code: the code of ``x`` is ``sum_i x[i] << i``. The whole
landscape (all ``2**n`` fitness values, in code order) is computed vectorised and cached, so
that every agent's look-up during a run is a table index, and the global optimum is exact.
The cache is dropped whenever the landscape changes (turbulence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTERACTIONS = ("random", "adjacent", "modular")
MAX_N = 20  # 2**20 strings (8 MB of float64) is the largest exhaustive table we keep


def codes_to_bits(codes: np.ndarray | int, n: int) -> np.ndarray:
    """Integer codes -> 0/1 array of shape (..., n); bit i of the code is choice i."""
    codes = np.asarray(codes, dtype=np.int64)
    return ((codes[..., None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.int8)


def bits_to_codes(x: np.ndarray) -> np.ndarray:
    """0/1 array of shape (..., n) -> integer codes (bit i of the code is choice i)."""
    x = np.asarray(x, dtype=np.int64)
    return (x << np.arange(x.shape[-1], dtype=np.int64)).sum(axis=-1)


def dependency_matrix(n: int, k: int, interaction: str, rng: np.random.Generator) -> np.ndarray:
    """Return an (n, k+1) matrix: row i lists choice i first, then the k choices it depends on.

    - ``random``: k others drawn without replacement (Kauffman's random interaction);
    - ``adjacent``: i+1 .. i+k, cyclic (Kauffman's nearest-neighbour interaction);
    - ``modular``: blocks of k+1 consecutive choices depend on each other (Rivkin & Siggelkow's
      block-diagonal pattern: decomposable problems). A final, shorter block borrows its missing
      dependencies from the choices just before it, so that every choice has exactly k.
    """
    if interaction not in INTERACTIONS:
        raise ValueError(f"interaction must be one of {INTERACTIONS}, got {interaction!r}")
    if not 0 <= k < n:
        raise ValueError(f"k must be in 0..n-1 (n={n}), got {k}")
    deps = np.empty((n, k + 1), dtype=np.int64)
    for i in range(n):
        if interaction == "random":
            others = rng.choice(np.delete(np.arange(n), i), size=k, replace=False)
        elif interaction == "adjacent":
            others = (i + np.arange(1, k + 1)) % n
        else:
            start = (i // (k + 1)) * (k + 1)
            block = [j for j in range(start, min(start + k + 1, n)) if j != i]
            borrow = start - 1
            while len(block) < k:  # short last block: borrow the preceding choices
                block.append(borrow % n)
                borrow -= 1
            others = np.array(block, dtype=np.int64)
        deps[i, 0] = i
        deps[i, 1:] = np.sort(others)
    return deps


@dataclass(frozen=True)
class Optimum:
    """The global optimum of a landscape: its fitness, integer code and bit string."""

    fitness: float
    code: int
    x: np.ndarray


class NKLandscape:
    """An NK landscape with a cached exhaustive fitness table.

    Parameters
    ----------
    n, k:
        number of choices and the number of other choices each one depends on (0 <= k < n).
    interaction:
        ``"random"``, ``"adjacent"`` or ``"modular"`` (see :func:`dependency_matrix`).
    seed:
        an int, a ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``. The landscape
        keeps its own generator, which is also used by :meth:`redraw` (turbulence), so a problem
        and its shocks replay exactly from the seed.
    """

    def __init__(
        self,
        n: int,
        k: int,
        interaction: str = "random",
        seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    ) -> None:
        if not isinstance(n, int | np.integer) or not 1 <= n <= MAX_N:
            raise ValueError(f"n must be an integer in 1..{MAX_N}, got {n!r}")
        if not isinstance(k, int | np.integer) or not 0 <= k < n:
            raise ValueError(f"k must be an integer in 0..n-1 (n={n}), got {k!r}")
        self.n = int(n)
        self.k = int(k)
        self.interaction = interaction
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.deps = dependency_matrix(self.n, self.k, interaction, self.rng)
        # float64 tables: float32 creates ties between neighbours (classics.md pitfall)
        self.tables = self.rng.random((self.n, 2 ** (self.k + 1)))
        self._weights = 1 << np.arange(self.k + 1, dtype=np.int64)
        self._all: np.ndarray | None = None
        self._optimum: Optimum | None = None
        self.version = 0  # bumped on every change, so that callers can cache derived tables

    @classmethod
    def from_tables(
        cls, deps: np.ndarray, tables: np.ndarray, interaction: str = "random"
    ) -> NKLandscape:
        """A landscape with given dependencies and contribution tables (e.g. a stakeholder's
        view of the same problem: same structure, different values)."""
        obj = cls.__new__(cls)
        obj.n, obj.k = int(deps.shape[0]), int(deps.shape[1] - 1)
        obj.interaction = interaction
        obj.rng = np.random.default_rng(0)  # unused: a derived landscape is changed by its owner
        obj.deps = deps
        obj.tables = tables
        obj._weights = 1 << np.arange(obj.k + 1, dtype=np.int64)
        obj._all = None
        obj._optimum = None
        obj.version = 0
        return obj

    # --- evaluation -------------------------------------------------------------------------
    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-choice contributions c_i, shape (..., n), for 0/1 strings of shape (..., n)."""
        x = np.asarray(x, dtype=np.int64)
        if x.shape[-1] != self.n:
            raise ValueError(f"strings must have {self.n} choices, got shape {x.shape}")
        patterns = (x[..., self.deps] * self._weights).sum(axis=-1)  # (..., n)
        return self.tables[np.arange(self.n), patterns]

    def fitness(self, x: np.ndarray) -> np.ndarray | float:
        """Fitness F(x) = mean_i c_i, vectorised over strings of shape (..., n)."""
        f = self.contributions(x).mean(axis=-1)
        return float(f) if np.ndim(f) == 0 else f

    def all_fitness(self) -> np.ndarray:
        """Fitness of all 2**n strings, indexed by integer code (bit i of the code is x[i]).

        Computed one choice at a time over all codes (memory O(2**n), no (2**n, n) int64
        temporaries), cached until the landscape changes.
        """
        if self._all is None:
            codes = np.arange(2**self.n, dtype=np.int64)
            total = np.zeros(codes.shape, dtype=np.float64)
            for i in range(self.n):
                pattern = np.zeros(codes.shape, dtype=np.int64)
                for j, d in enumerate(self.deps[i]):
                    pattern |= ((codes >> d) & 1) << j
                total += self.tables[i, pattern]
            total /= self.n
            total.flags.writeable = False
            self._all = total
        return self._all

    @property
    def optimum(self) -> Optimum:
        """The global optimum, found exactly over all 2**n strings; cached."""
        if self._optimum is None:
            table = self.all_fitness()
            code = int(np.argmax(table))
            self._optimum = Optimum(float(table[code]), code, codes_to_bits(code, self.n))
        return self._optimum

    # --- change -----------------------------------------------------------------------------
    def redraw(self, share: float, rng: np.random.Generator | None = None) -> np.ndarray:
        """Redraw the contribution tables of a share of the choices (requirements change).

        At least one choice is redrawn when ``share > 0``. Returns the redrawn choices.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be in [0, 1], got {share}")
        if share == 0:
            return np.empty(0, dtype=np.int64)
        rng = self.rng if rng is None else rng
        count = max(1, int(round(share * self.n)))
        loci = np.sort(rng.choice(self.n, size=count, replace=False))
        self.tables[loci] = rng.random((count, self.tables.shape[1]))
        self.invalidate()
        return loci

    def invalidate(self) -> None:
        """Drop cached tables after the contribution tables were changed in place."""
        self._all = None
        self._optimum = None
        self.version += 1

    # --- structure --------------------------------------------------------------------------
    def local_optima(self) -> np.ndarray:
        """Codes of all strict local optima: no one-bit neighbour is strictly better."""
        table = self.all_fitness()
        codes = np.arange(table.size, dtype=np.int64)
        is_opt = np.ones(table.size, dtype=bool)
        for i in range(self.n):
            is_opt &= table >= table[codes ^ (1 << i)]
        return codes[is_opt]

    def __repr__(self) -> str:
        return f"NKLandscape(n={self.n}, k={self.k}, interaction={self.interaction!r})"
