"""The pool rows of randomly pivoted Cholesky split over the processes.

With ``P = jax.process_count()`` processes, process ``i`` owns the contiguous
rows ``lo:hi`` of the ``N``-row pool, ``lo = ⌊iN/P⌋``, ``hi = ⌊(i+1)N/P⌋``: it
evaluates the kernel block, updates and solves only for those rows of the
factor ``F`` and of the residual diagonal ``d``. What every process needs whole
(``d`` to draw the candidates, ``F`` on the candidates and on the pivots) is
assembled by one gather across the processes. With one process the owner holds
all rows and each gather returns its argument: the computation is the
single-process one, operation for operation.
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


def host_rows(X: Array, idx: np.ndarray) -> np.ndarray:
    """``X[idx]`` as a NumPy array in every process (gathered from a global array)."""
    if isinstance(X, jax.Array) and not X.is_fully_addressable:
        from jax.experimental import multihost_utils

        sharding = X.sharding
        if isinstance(sharding, jax.sharding.NamedSharding):
            return np.asarray(_replicated_take(sharding.mesh)(X, jnp.asarray(idx)))
        return np.asarray(multihost_utils.process_allgather(X, tiled=True))[idx]
    return np.asarray(X)[idx]


@lru_cache(maxsize=8)
def _replicated_take(mesh):
    """``(A, i) ↦ A[i]`` replicated over ``mesh``: compiled once per mesh and shapes."""
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return jax.jit(lambda a, i: a[i], out_shardings=replicated)


class PoolRows:
    """The rows ``lo:hi`` of an ``N``-row pool that this process owns."""

    def __init__(self, N: int):
        P, i = jax.process_count(), jax.process_index()
        self.bounds = [(k * N // P, (k + 1) * N // P) for k in range(P)]
        self.lo, self.hi = self.bounds[i]
        self.split = P > 1

    def own(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mask, local)``: which of the pool rows ``idx`` are owned, and their local rows."""
        idx = np.asarray(idx, dtype=np.int64)
        mask = (idx >= self.lo) & (idx < self.hi)
        return mask, idx[mask] - self.lo

    def rows(self, F: np.ndarray, idx: np.ndarray, j: int) -> np.ndarray:
        """``F[idx, :j]`` of the whole pool from the owners' rows ``F`` (local).

        Each process fills the rows it owns and zeros elsewhere; the sum over the
        processes is exact (every entry is one owner's value plus zeros).
        """
        if not self.split:
            return F[idx, :j]
        mask, local = self.own(idx)
        part = np.zeros((len(idx), j), dtype=F.dtype)
        if j == 0 or len(idx) == 0:
            return part
        part[mask] = F[local, :j]
        return _allgather(part).sum(axis=0)

    def diagonal(self, d_own: np.ndarray, finite: bool) -> tuple[np.ndarray, bool]:
        """``(d, finite)``: the owners' slices ``d[lo:hi]`` in process order, and
        whether the kernel values were finite in every process."""
        if not self.split:
            return d_own, finite
        width = max(hi - lo for lo, hi in self.bounds)
        part = np.zeros(width + 1, dtype=d_own.dtype)
        part[: d_own.size] = d_own
        part[-1] = float(finite)
        parts = _allgather(part)
        d = np.concatenate([p[: hi - lo] for p, (lo, hi) in zip(parts, self.bounds, strict=True)])
        return d, bool(parts[:, -1].all())


def _allgather(a: np.ndarray) -> np.ndarray:
    """``(P, *a.shape)``: the array ``a`` of every process, stacked in process order."""
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a))
