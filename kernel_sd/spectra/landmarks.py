"""Landmarks ``Z ⊂ X`` for Nyström spectra: randomly pivoted Cholesky, uniform, greedy.

:func:`select_landmarks` chooses the ``m`` rows of ``X`` whose kernel columns
span the Nyström approximation ``G̃ = K_nm K_mm⁺ K_mn / K``:

- ``"rpcholesky"`` (default of :func:`kernel_sd.nystrom_spectrum`): randomly
  pivoted Cholesky on a uniform pool of rows; each pivot is drawn with
  probability proportional to its residual variance ``k(x, x) − k̃(x, x)``.
  It returns the Cholesky factor of ``K_mm`` (no eigendecomposition of ``K_mm``
  is needed) and, after each block of pivots, the share of the pool's kernel
  trace left uncaptured: an estimate of ``δ(m) = tr(G − G̃)/tr G`` known before
  any pass over ``X``, which ``m="auto"`` uses to stop;
- ``"uniform"``: ``m`` distinct rows drawn uniformly (the cheapest);
- ``"pivoted"``: greedy diagonal-pivoted Cholesky over all of ``X`` (the row of
  largest residual variance at each step; ``O(n·m)`` memory, ``m`` sequential
  steps).

Measured on ``X`` uniform in ``[−1, 1]^p``, n = 50 000 (RBF and Matérn 3/2,
ℓ = 1): in 10 dimensions uniform, randomly pivoted and ridge-leverage landmarks
captured the same share of ``tr G`` at equal m (within 0.006) and greedy
pivoting captured the least (0.675 against 0.774 at m = 1000, RBF) at 4–6x the
time; in 3 dimensions randomly pivoted Cholesky on a pool captured the most at
equal time. See ``experiments/benchmarks/README.md`` (``bench landmarks``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import evaluate
from kernel_sd._warn import warn
from kernel_sd.kernels import Kernel
from kernel_sd.spectra._landmarks_split import PoolRows, host_rows
from kernel_sd.spectra._products import kernel_diagonal
from kernel_sd.spectra.base import check_kernel_values
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB

__all__ = [
    "Landmarks",
    "select_landmarks",
    "LANDMARK_METHODS",
    "AUTO_MAX_LANDMARKS",
    "AUTO_TRUNCATION",
]

LANDMARK_METHODS = ("rpcholesky", "uniform", "pivoted")
"""Landmark choices of :func:`select_landmarks` and :func:`kernel_sd.nystrom_spectrum`."""

AUTO_MAX_LANDMARKS = 4000
"""``m="auto"`` adds landmarks up to this many (fewer when ``n`` is smaller)."""

AUTO_TRUNCATION = 0.01
"""``m="auto"`` stops once the estimated ``δ(m)`` is at most this (unless told)."""

_POOL_MIN = 20_000
_POOL_PER_LANDMARK = 10
"""Default pool: ``min(n, max(20 000, 10 m))`` rows drawn uniformly from ``X``.

Measured (n = 50 000, p = 3, Matérn 3/2): RPCholesky on a 10 000-row pool left
δ = 0.0149 / 0.0033 uncaptured at m = 250 / 1000 against 0.0155 / 0.0034 on all
rows, and the pool's residual trace matched the full-data δ within 0.004
absolute in every run (p = 3 and 10, m = 250–2000).
"""


class Landmarks(NamedTuple):
    """Landmarks chosen by :func:`select_landmarks`."""

    indices: np.ndarray
    """(m,) rows of ``X`` chosen, in the order they were chosen."""
    points: Array
    """(m, p) the landmarks ``Z = X[indices]``."""
    chol: Array | None
    """(m, m) lower-triangular ``R`` with ``k(Z, Z) = R Rᵀ`` (``"rpcholesky"``), else None."""
    counts: np.ndarray
    """(s,) landmarks chosen after each block of pivots (``"rpcholesky"``; empty otherwise)."""
    residual: np.ndarray
    """(s,) estimated ``δ`` after each block: uncaptured share of the pool's ``tr k``."""


def select_landmarks(
    kernel: Kernel,
    X: Array,
    *,
    m: int | str,
    method: str = "rpcholesky",
    seed: int = 0,
    pool: int | None = None,
    truncation: float | None = None,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Landmarks:
    """Choose ``m`` landmarks ``Z ⊂ X`` for the Nyström approximation of ``G = k(X, X)/K``.

    ``"rpcholesky"``: randomly pivoted Cholesky (Chen, Epperly, Tropp & Webber)
    on a pool ``P`` of rows of ``X`` drawn uniformly (all of ``X`` when
    ``n <= pool``). With the residual ``E = K_PP − F Fᵀ`` of the partial
    factor ``F`` (``(|P|, j)``), each pivot ``i`` is drawn with probability
    ``E_ii / tr E`` and ``F`` grows by the column ``E[:, i] / √E_ii``. Pivots
    are drawn in blocks of ``b`` candidates accepted by rejection sampling
    (Epperly, Tropp & Webber), which gives the law of the one-at-a-time
    algorithm with one ``(|P|, b)`` kernel evaluation and one matrix product per
    block. Then ``F[pivots] = R`` is the Cholesky factor of ``K_mm`` and
    ``tr E / tr K_PP`` estimates ``δ(m) = tr(G − G̃)/tr G`` on the pool
    (``residual``). Memory ``|P| · m`` numbers, work ``|P| · m²/2``
    multiply-adds and ``|P| · m`` kernel entries, whatever ``n``.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs (a global array sharded by rows is fine:
            the pool's rows are gathered; with several processes each factors
            its own share of the pool rows and all use process 0's landmarks).
        m: number of landmarks (``1 <= m <= n``), or ``"auto"``: up to
            ``min(n, AUTO_MAX_LANDMARKS)``, stopping at ``truncation``
            (``AUTO_TRUNCATION`` unless given); ``"rpcholesky"`` only.
        method: ``"rpcholesky"``, ``"uniform"`` or ``"pivoted"``.
        seed: seed of the random draws (ignored by ``"pivoted"``).
        pool: rows in the ``"rpcholesky"`` pool; default
            ``min(n, max(20 000, 10 m))``.
        truncation: ``"rpcholesky"`` only: stop as soon as the estimated ``δ``
            is at most this (then fewer than ``m`` landmarks are returned). A
            kernel matrix of numerical rank below ``m`` on the pool also stops
            the selection early.
        max_memory_gb: refuse a ``"rpcholesky"`` pool factor (``|P| · m``
            numbers) or a ``"pivoted"`` factor (``m · n``) larger than this.

    Returns:
        :class:`Landmarks`.

    Raises:
        ValueError: bad ``X``, ``m``, ``method``, ``seed``, ``pool`` or
            ``truncation``; a factor over ``max_memory_gb``.

    References:
        Chen, Epperly, Tropp & Webber, "Randomly pivoted Cholesky: practical
        approximation of a kernel matrix with few entry evaluations", Comm. Pure
        Appl. Math. 2024. Epperly, Tropp & Webber, "Embrace rejection: kernel
        matrix approximation by accelerated randomly pivoted Cholesky", 2024.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 200)[:, None]
        >>> lm = ksd.select_landmarks(ksd.kernels.RBF(lengthscale=0.2), X, m=30)
        >>> lm.points.shape[0] <= 30, bool(lm.residual[-1] < 1e-6)
        (True, True)
    """
    X = _validate.kernel_inputs(kernel, X)
    method = _validate.choice("method", method, LANDMARK_METHODS)
    m, truncation = _landmark_count(X.shape[0], m, truncation, method, "method")
    seed = _validate.integer("seed", seed, minimum=0, what="of the random draws")
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    pool = _pool_size(X, m, pool, method, max_memory_gb)
    return _select(kernel, X, m, method, seed, pool, truncation)


# ----------------------------------------------------------------------------
# argument checks shared with nystrom_spectrum


def _landmark_count(n: int, m, truncation, method: str, method_arg: str):
    """``m`` as an integer and the ``truncation`` target (``m="auto"`` resolved)."""
    if truncation is not None:
        truncation = _validate.positive_scalar("truncation", truncation)
        if not truncation < 1.0:
            raise ValueError(
                f"`truncation` (the share of tr G left uncaptured) must be in "
                f"(0, 1), got {truncation!r}; e.g. truncation=0.01."
            )
    if isinstance(m, str) and m == "auto":
        m = min(n, AUTO_MAX_LANDMARKS)
        truncation = AUTO_TRUNCATION if truncation is None else truncation
    else:
        m = _validate.integer(
            "m",
            m,
            minimum=1,
            maximum=n,
            what="number of landmarks, or 'auto'",
            hint="m = n reproduces the exact spectrum, use spectrum() for that.",
        )
    if truncation is not None and method != "rpcholesky":
        raise ValueError(
            f"m='auto' and `truncation` stop on the residual trace that "
            f"{method_arg}='rpcholesky' tracks; {method_arg}={method!r} needs an "
            "integer m and no truncation."
        )
    return m, truncation


def _pool_size(X: Array, m: int, pool, method: str, max_memory_gb: float) -> int:
    """Rows of the ``"rpcholesky"`` pool; memory guards of both Cholesky methods."""
    n, itemsize = X.shape[0], X.dtype.itemsize
    if method == "pivoted":
        factor_gb = m * n * itemsize / 2**30
        if factor_gb > max_memory_gb:
            raise ValueError(
                f"Pivoted landmarks keep an ({m}, {n}) Cholesky factor, about "
                f"{factor_gb:.1f} GiB, over `max_memory_gb`={max_memory_gb:g}. Use "
                "landmarks='rpcholesky' (a factor on a pool of rows) or 'uniform' "
                "(no factor), fewer landmarks `m`, or raise `max_memory_gb` if the "
                "memory is there."
            )
        return n
    if pool is None:
        pool = min(n, max(_POOL_MIN, _POOL_PER_LANDMARK * m))
    else:
        pool = min(n, _validate.integer("pool", pool, minimum=1, what="rows"))
        if pool < m:
            raise ValueError(
                f"`pool` ({pool} rows) must hold at least the m = {m} landmarks; "
                f"leave pool=None for min(n, max({_POOL_MIN}, {_POOL_PER_LANDMARK} m))."
            )
    factor_gb = pool * m * itemsize / 2**30
    if method == "rpcholesky" and factor_gb > max_memory_gb:
        raise ValueError(
            f"Randomly pivoted Cholesky keeps a ({pool}, {m}) factor on its pool, "
            f"about {factor_gb:.1f} GiB, over `max_memory_gb`={max_memory_gb:g}. "
            "Pass a smaller `pool` (at least m rows), fewer landmarks `m`, "
            "landmarks='uniform' (no factor), or raise `max_memory_gb`."
        )
    return pool


# ----------------------------------------------------------------------------
# the three methods


def _select(kernel, X, m, method, seed, pool, truncation) -> Landmarks:
    empty = np.zeros((0,))
    if method == "uniform":
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], m, replace=False))
        return Landmarks(idx, _take_rows(X, idx), None, empty.astype(int), empty)
    if method == "pivoted":
        idx = np.asarray(_pivoted_cholesky_pivots(kernel, X, m))
        return Landmarks(idx, _take_rows(X, idx), None, empty.astype(int), empty)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    pool_idx = np.arange(n) if pool >= n else np.sort(rng.choice(n, pool, replace=False))
    Xp = host_rows(X, pool_idx)
    piv, R, counts, residual = _agreed(
        _rpcholesky(kernel, Xp, m, rng, truncation), m, len(pool_idx)
    )
    idx = pool_idx[piv]
    if truncation is not None and residual.size and residual[-1] > truncation:
        warn(
            f"Landmarks: stopped at m = {idx.size} with an estimated truncation "
            f"δ = {residual[-1]:.3g} above the target {truncation:g}; a larger m "
            "(or a smoother / wider kernel) captures more of tr G."
        )
    return Landmarks(idx, _take_rows(X, idx), jnp.asarray(R, X.dtype), counts, residual)


def _take_rows(X: Array, idx: np.ndarray) -> Array:
    """``X[idx]`` as an array of the same kind as ``X`` (global arrays stay global)."""
    return jnp.take(X, jnp.asarray(idx), axis=0)


def _agreed(result, m: int, pool: int):
    """The selection of process 0 in every process (identical when all agree).

    Each process draws the same seeded candidates from the same gathered
    residual diagonal, but the accept/reject comparisons could round differently
    on different hardware; broadcasting process 0's pivots keeps the landmarks
    of all processes equal.
    """
    if jax.process_count() == 1:
        return result
    from jax.experimental import multihost_utils

    piv, R, counts, residual = result
    j, s = piv.size, counts.size
    padded = (
        np.array([j, s]),
        np.pad(piv, (0, m - j)),
        np.pad(R, ((0, m - j), (0, m - j))),
        np.pad(counts, (0, m - s)),
        np.pad(residual, (0, m - s)),
    )
    (j, s), piv, R, counts, residual = jax.tree.map(
        np.asarray, multihost_utils.broadcast_one_to_all(padded)
    )
    return piv[:j], R[:j, :j], counts[:s], residual[:s]


def _rpcholesky_block(m: int) -> int:
    """Candidates per round: ~m/8 (16 to 256) keeps rounds few and rejections rare."""
    return max(16, min(256, -(-m // 8)))


_pool_diagonal = jax.jit(kernel_diagonal)


def _rpcholesky(kernel, Xp: np.ndarray, m: int, rng, truncation):
    """Blocked randomly pivoted Cholesky with rejection on the rows ``Xp``.

    Returns ``(pivots, R, counts, residual)``: pivots into ``Xp`` in the order
    chosen, ``R = F[pivots]`` (lower triangular, ``R Rᵀ = K_mm``), and after each
    round the number of pivots and the relative residual trace ``tr E / tr K_PP``.
    With several processes each computes ``k(X_P, X_T)``, ``F`` and ``d`` on its
    own rows only (:class:`PoolRows`); all draw the same candidates.
    """
    import scipy.linalg as sla  # on first use: `import kernel_sd` loads no SciPy

    N, dtype = Xp.shape[0], Xp.dtype
    own = PoolRows(N)
    diag = np.asarray(_pool_diagonal(kernel, jnp.asarray(Xp)), dtype=np.float64)
    total = float(diag.sum())
    # Residual variances under this are round-off, not information: never pivots.
    tiny = N * np.finfo(dtype).eps * float(diag.max())
    d = np.where(diag > tiny, diag, 0.0)
    X_own = jnp.asarray(Xp[own.lo : own.hi])  # the rows this process factors
    F = np.zeros((own.hi - own.lo, m), dtype=np.float64, order="F")
    b = _rpcholesky_block(m)
    pivots: list[int] = []
    counts: list[int] = []
    residual: list[float] = []
    j, empty_rounds = 0, 0
    while j < m and empty_rounds < 8:
        left = float(d.sum())
        if left <= 0.0 or (truncation is not None and left <= truncation * total):
            break
        cand = rng.choice(N, size=b, p=d / left)
        # Residual among the candidates: H = K_ss − F_s F_sᵀ.
        Xs = Xp[cand]
        H = np.array(evaluate(kernel, Xs, Xs), dtype=np.float64)
        check_kernel_values(kernel, np.isfinite(H).all(), 1.0, _POOL_VALUES, dtype)
        F_s = own.rows(F, cand, j)
        H -= F_s @ F_s.T
        H = 0.5 * (H + H.T)
        accepted, R_T = _accept(H, d[cand], rng.random(b), tiny, m - j)
        if not accepted:
            empty_rounds += 1
            continue
        empty_rounds = 0
        T = cand[accepted]
        t = T.size
        T_pad = np.concatenate([T, np.full(b - t, T[0])])  # one compiled shape
        G = np.array(evaluate(kernel, X_own, Xp[T_pad]), dtype=np.float64)[:, :t]
        finite = np.isfinite(G).all()
        if j:
            G -= F[:, :j] @ F_s[accepted].T
        F_new = sla.solve_triangular(R_T, G.T, lower=True, check_finite=False).T
        # Rows of the pivots are R: exactly triangular (round-off would leave
        # ~1e-16 above the diagonal for earlier pivots).
        mine, T_own = own.own(T)
        F_new[T_own] = R_T[mine]
        F_new[own.own(pivots)[1]] = 0.0
        F[:, j : j + t] = F_new
        d_own = np.maximum(d[own.lo : own.hi] - np.einsum("ij,ij->i", F_new, F_new), 0.0)
        d_own[T_own] = 0.0
        d_own[d_own <= tiny] = 0.0
        d, finite = own.diagonal(d_own, finite)
        check_kernel_values(kernel, finite, 1.0, _POOL_VALUES, dtype)
        pivots.extend(T.tolist())
        j += t
        counts.append(j)
        residual.append(float(d.sum()) / total)
    piv = np.asarray(pivots, dtype=np.int64)
    return piv, own.rows(F, piv, j), np.asarray(counts, dtype=np.int64), np.asarray(residual)


_POOL_VALUES = "The kernel values k(x_i, x_j) of the landmark pool"


def _accept(H: np.ndarray, drawn: np.ndarray, u: np.ndarray, tiny: float, room: int):
    """Rejection step of one round: which candidates become pivots, and their factor.

    ``H`` ``(b, b)`` is the residual among the candidates, ``drawn`` the residual
    variances they were drawn with. Candidate ``i`` is accepted with probability
    ``H_ii / drawn_i`` (``H_ii`` after eliminating the pivots accepted before it),
    which makes the accepted sequence a draw of sequential RPCholesky; at most
    ``room`` are accepted. Returns the accepted positions and the lower-triangular
    Cholesky factor of ``H`` on them (the elimination already computed it).
    """
    H = H.copy()
    accepted, cols = [], []
    for i in range(H.shape[0]):
        h = H[i, i]
        if h > tiny and u[i] * drawn[i] < h:
            col = H[:, i] / math.sqrt(h)
            accepted.append(i)
            cols.append(col)
            if len(accepted) == room:
                break
            H -= np.outer(col, col)
    if not accepted:
        return accepted, None
    return accepted, np.tril(np.stack(cols, axis=1)[accepted])


@partial(jax.jit, static_argnames=("m",))
def _pivoted_cholesky_pivots(kernel: Kernel, X: Array, m: int) -> Array:
    """Pivots of the greedy diagonal-pivoted partial Cholesky of ``k(X, X)``.

    Step ``j`` picks ``i = argmax diag(R_j)`` of the residual ``R_j = k(X, X) − Fᵀ F``
    and appends the row ``f = (k(x_i, X) − F[:, i]ᵀ F) / sqrt(R_j[i, i])``. Only the
    ``(m, n)`` factor ``F`` and the residual diagonal are stored: ``O(n·m)`` memory,
    ``O(n·m²)`` work, one kernel row ``k(x_i, X)`` per step.
    """
    n = X.shape[0]
    dtype = X.dtype
    diag = kernel_diagonal(kernel, X)
    # A residual pivot under the noise floor carries no information, only round-off:
    # it is still taken as a landmark (K_mm's clamp handles it) but adds no row.
    tiny = n * jnp.finfo(dtype).eps * jnp.max(diag)

    def step(j, state):
        F, d, piv = state
        i = jnp.argmax(d)
        x_i = jax.lax.dynamic_slice_in_dim(X, i, 1, axis=0)
        row = kernel(x_i, X)[0] - F[:, i] @ F  # rows >= j of F are still zero
        d_i = d[i]
        ok = d_i > tiny
        f = jnp.where(ok, row / jnp.sqrt(jnp.where(ok, d_i, 1.0)), 0.0)
        F = F.at[j].set(f)
        d = (d - f * f).at[i].set(-jnp.inf)  # never pick a pivot twice
        return F, d, piv.at[j].set(i.astype(jnp.int32))

    F0 = jnp.zeros((m, n), dtype)
    piv0 = jnp.zeros((m,), jnp.int32)
    _, _, piv = jax.lax.fori_loop(0, m, step, (F0, diag, piv0))
    return piv
