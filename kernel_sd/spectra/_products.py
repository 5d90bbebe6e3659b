"""Kernel blocks times matrices: the one place that multiplies ``k(A, B)`` by anything.

Every product with kernel entries goes through this module: the test-point
features ``k(X_new, X) V/K`` and ``k(X_new, Z) P`` and the predictions
``k(X_new, X) α`` (:func:`kernel_matmul`), the implicit Nyström eigenvectors
``k(X, Z) M A`` (:func:`kernel_matmul`) and ``k(Z, X) y`` (:func:`kernel_rmatmul`),
the Nyström accumulations ``Σ_b term(k(X_b, Z))`` (:func:`kernel_sum`) and the
Lanczos products ``k(X_b, X) Q``.
On a CPU the Nyström sum ``Σ_b W_bᵀ W_b`` runs on the host BLAS instead
(:func:`kernel_gram_host`: kernel tiles from their own program, ``syrk`` updates).

The rule, decided here once: a kernel tile is always the output of its own
compiled program and the product that consumes it is another program
(``kernel_sd._blocks.tile_map`` / ``tile_sum``). Compiled together, XLA-CPU
fuses the kernel evaluation into the GEMM and, for square output blocks,
re-evaluates it per output tile (a 10–15x "shape cliff", e.g. RBF at
1000 × 1000 × 1000). Separate programs cannot be fused, whatever the shape, the
kernel or the XLA version. These functions run on the host (a Python loop over
row tiles, dispatched asynchronously); called under a user's ``jit`` they still
give the right numbers, but XLA may then fuse the programs again.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._blocks import evaluate, row_map, tile_map, tile_sum

__all__ = [
    "kernel_matmul",
    "kernel_rmatmul",
    "kernel_sum",
    "kernel_diagonal",
    "kernel_trace",
    "kernel_matrix",
    "DEFAULT_TILE_ROWS",
    "kernel_gram_host",
]

DEFAULT_TILE_ROWS = 1024
"""Rows of ``A`` per tile ``k(A_b, B)`` (fewer when a tile would exceed ``MAX_TILE``)."""

MAX_TILE = 1 << 25
"""Entries of one tile (256 MiB in float64): rows per tile shrink as ``B`` grows."""


def tile_rows(n_cols: int, block_size: int = DEFAULT_TILE_ROWS) -> int:
    """Rows per tile: at most ``block_size``, and at most ``MAX_TILE`` entries."""
    return max(1, min(block_size, MAX_TILE // max(n_cols, 1)))


def _times(K, w, rows, shared):
    """``K M``: the rows of one tile of ``k(A, B) M``."""
    return K @ shared


def _transposed_times(K, w, rows, shared):
    """``(K_bᵀ Y_b)ᵀ = Y_bᵀ K_b``: one term of ``(k(A, B)ᵀ Y)ᵀ``.

    A plain product ``(q, b) · (b, m)``: no transposed operand and no transposed
    tile (measured at b = 1024, m = 4000, q = 1 on this 2-core CPU: 2.3 s per
    2·10⁵ rows against 3.7 s from the transposed tile ``K_bᵀ`` times ``Y_b``).
    """
    return (rows[0] * w[:, None]).T @ K  # padding rows weighted 0


def kernel_matmul(
    kernel,
    A: Array,
    B: Array,
    M: Array,
    *,
    block_size: int = DEFAULT_TILE_ROWS,
    devices=None,
) -> Array:
    """``k(A, B) @ M`` in row tiles of ``A``: ``(a, p), (b, p), (b, q) -> (a, q)``.

    Memory: one ``(block_size, b)`` tile (a few in flight) and the output.
    ``devices``: None (or one device) runs the tiles on the default device;
    several split the row tiles over them.
    """
    rows = tile_rows(B.shape[0], block_size)
    return tile_map(kernel, A, B, _times, shared=M, block_size=rows, devices=devices)


def kernel_rmatmul(
    kernel,
    A: Array,
    B: Array,
    Y: Array,
    *,
    block_size: int = DEFAULT_TILE_ROWS,
    devices=None,
) -> Array:
    """``k(A, B)ᵀ @ Y = Σ_b k(A_b, B)ᵀ Y_b``: ``(a, p), (b, p), (a, q) -> (b, q)``."""
    rows = tile_rows(B.shape[0], block_size)
    return _transposed_jit(
        tile_sum(
            kernel, A, B, _transposed_times, rows=(Y,), block_size=rows, devices=devices
        )
    )


_transposed_jit = jax.jit(jnp.transpose)


def kernel_sum(
    kernel,
    A: Array,
    B: Array,
    term,
    shared=(),
    *,
    block_size: int = DEFAULT_TILE_ROWS,
    devices=None,
    transpose: bool = False,
):
    """``Σ_b term(k(A_b, B), w_b, (), shared)`` over row tiles ``A_b`` of ``A``.

    ``term`` must be hashable (module level), weight the rows of its tile by the
    0/1 mask ``w_b`` (padding rows have weight 0) and return a pytree of fixed
    shapes. With ``transpose`` it receives ``k(A_b, B)ᵀ`` instead (sums of
    ``Kᵀ X`` products are then plain GEMMs).
    """
    rows = tile_rows(B.shape[0], block_size)
    return tile_sum(
        kernel,
        A,
        B,
        term,
        shared=shared,
        block_size=rows,
        devices=devices,
        transpose=transpose,
    )


def kernel_diagonal(kernel, X: Array) -> Array:
    """``(n,)`` the diagonal ``k(x_i, x_i)``, one point at a time (never ``n × n``)."""
    return jax.vmap(lambda x: kernel(x[None, :], x[None, :])[0, 0])(X)


@jax.jit
def kernel_trace(kernel, X: Array) -> Array:
    """``tr G = Σ_i k(x_i, x_i) / K`` without forming ``G``."""
    return jnp.sum(kernel_diagonal(kernel, X)) / X.shape[0]


def _kernel_rows(rows, shared):
    """Rows ``k(X_b, X)`` of one block."""
    (Xb,), (kernel, X) = rows, shared
    return kernel(Xb, X)


@jax.jit
def _symmetrised(G: Array) -> tuple[Array, Array, Array]:
    """``(G + Gᵀ)/2`` (exactly symmetric whatever the round-off of the blocks), whether
    every entry of ``G`` is finite, and ``max_i |G_ii|``."""
    return 0.5 * (G + G.T), jnp.all(jnp.isfinite(G)), jnp.max(jnp.abs(jnp.diag(G)))


def kernel_matrix(
    kernel, X: Array, *, block_size: int, symmetrise: bool = True
) -> tuple[Array, Array, Array]:
    """``k(X, X)`` built in row blocks and symmetrised, for trusted arguments.

    The same computation as :func:`kernel_sd.gram` with ``Z = None``, without
    its argument checks (done once by the public caller). Returns the matrix,
    whether its entries are finite and its largest diagonal magnitude (for
    :func:`kernel_sd.spectra.base.check_kernel_values`). ``symmetrise=False``
    skips the ``(K + Kᵀ)/2`` pass (20 % of the time) for callers that read one
    triangle only or do not need exact symmetry (a Cholesky factorisation).
    """
    K = row_map(_kernel_rows, (X,), (kernel, X), block_size=block_size)
    return _symmetrised(K) if symmetrise else _summary(K)


@jax.jit
def _summary(G: Array) -> tuple[Array, Array, Array]:
    """``G`` unchanged, whether every entry is finite, and ``max_i |G_ii|``."""
    return G, jnp.all(jnp.isfinite(G)), jnp.max(jnp.abs(jnp.diag(G)))


def kernel_gram_host(
    kernel, A: np.ndarray, B: np.ndarray, R: np.ndarray | None = None, *, block_size: int
) -> np.ndarray:
    """``Σ_b W_bᵀ W_b`` over row tiles ``A_b`` of ``A``, ``W_b = k(A_b, B)`` or ``k(A_b, B) R``.

    The symmetric ``(w, w)`` result (``w = |B|``, or ``R``'s columns) as a NumPy
    array, summed on the host by BLAS ``syrk``. Each kernel tile is one compiled
    program; the next tile is dispatched before the symmetric rank-``b`` update
    of the current one, so XLA evaluates kernel entries while the BLAS adds
    products into the upper triangle, in place: half the flops of a general
    product, at the BLAS's speed (measured at b = 1024, m = 4000 on one core:
    81–99 GFLOP/s for ``dsyrk`` against 27–32 for XLA-CPU's float64 dot).
    ``A`` and ``B`` are host arrays of the rows this process sums.
    """
    import scipy.linalg as sla  # on first use: `import kernel_sd` loads no SciPy

    w = B.shape[0] if R is None else R.shape[1]
    S = np.zeros((w, w), dtype=A.dtype, order="F")
    syrk = sla.get_blas_funcs("syrk", (S,))
    n = A.shape[0]
    block = min(block_size, n)
    B_dev = jnp.asarray(B)

    def launch(i):
        tile = A[i : i + block]
        if tile.shape[0] < block:  # one compiled shape: pad, drop below
            tile = np.concatenate([tile, np.repeat(tile[:1], block - tile.shape[0], 0)])
        return evaluate(kernel, tile, B_dev)

    pending = launch(0)
    for i in range(0, n, block):
        current = pending
        if i + block < n:
            pending = launch(i + block)  # dispatched: runs during the update below
        K = np.asarray(current)[: min(block, n - i)]
        W = K if R is None else K @ R
        # W is C-ordered (b, w): W.T is an F-ordered (w, b) view, and
        # syrk(trans=0) adds W.T @ W to the upper triangle of S.
        S = syrk(1.0, W.T, beta=1.0, c=S, trans=0, lower=0, overwrite_c=1)
    upper = np.triu_indices(w, 1)
    S[upper[::-1]] = S[upper]
    return S
