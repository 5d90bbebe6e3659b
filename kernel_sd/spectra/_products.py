"""Kernel blocks times matrices: the one place that multiplies ``k(A, B)`` by anything.

Every pass over the training points that is a product with kernel entries goes
through :func:`kernel_matmul`: the test-point features ``k(X_new, X) V/K`` and
``k(X_new, Z) P``, the implicit Nyström eigenvectors ``k(X, Z) M A`` and
``k(Z, X) y``, the Nyström accumulation ``k(X_b, Z) L`` and the Lanczos
products ``k(X_b, X) Q``. How a kernel block meets the following matrix product
(fused by XLA or not, in column chunks or not) is therefore decided here, once.
The row-block functions below are what :func:`kernel_sd._blocks.row_map` and
``row_sum`` sweep over ``X`` (hashable, module level).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd._blocks import row_map

__all__ = [
    "kernel_matmul",
    "cross_rows",
    "cross_rows_transposed",
    "kernel_diagonal",
    "kernel_trace",
    "kernel_matrix",
]


def kernel_matmul(kernel, A: Array, B: Array, M: Array, *, transpose: bool = False):
    """``k(A, B) @ M``, or ``k(A, B)ᵀ @ M`` with ``transpose``.

    ``A`` ``(a, p)`` and ``B`` ``(b, p)`` inputs; ``M`` ``(b, q)`` (``(a, q)``
    with ``transpose``).
    """
    block = kernel(A, B)
    return (block.T if transpose else block) @ M


def cross_rows(rows, shared):
    """Rows ``k(X_b, Z) A`` of ``k(X, Z) A`` (a :func:`row_map` block function)."""
    (Xb,), (kernel, Z, A) = rows, shared
    return kernel_matmul(kernel, Xb, Z, A)


def cross_rows_transposed(rows, w, shared):
    """``k(X_b, Z)ᵀ y_b``, one term of ``k(Z, X) y`` (a ``row_sum`` block function)."""
    (Xb, yb), (kernel, Z) = rows, shared
    return kernel_matmul(kernel, Xb, Z, yb * w[:, None], transpose=True)


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


def kernel_matrix(kernel, X: Array, *, block_size: int):
    """``k(X, X)`` built in row blocks and symmetrised, for trusted arguments.

    The same computation as :func:`kernel_sd.gram` with ``Z = None``, without
    its argument checks (done once by the public caller). Returns the matrix,
    whether its entries are finite and its largest diagonal magnitude (for
    :func:`kernel_sd.spectra.base.check_kernel_values`).
    """
    return _symmetrised(row_map(_kernel_rows, (X,), (kernel, X), block_size=block_size))
