"""Products with the eigenvectors ``V``, stored or implicit.

The rounds need two products with ``V`` and nothing else: ``Vᵀ y`` (the targets
in the eigenbasis, :func:`targets_in_eigenbasis`) and ``V A`` (predictions from
eigen-coordinates, :func:`expand`). Both work for a stored ``(K, r)`` array and
for :class:`KernelEigvecs`, the implicit Nyström eigenvectors ``V = k(X, Z) M``
that are never stored.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd._pytree import dataclass_pytree
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import kernel_matmul, kernel_rmatmul

__all__ = ["KernelEigvecs", "expand", "targets_in_eigenbasis"]


@dataclass_pytree(
    data_fields=["kernel", "X", "landmarks", "coef"],
    meta_fields=["block_size", "devices"],
)
@dataclasses.dataclass(frozen=True)
class KernelEigvecs:
    """A matrix ``k(X, Z) M`` that is never stored: implicit Nyström eigenvectors.

    The eigenvectors ``V = k(X, Z) M`` of a Nyström spectrum as a ``(K, r)``
    matrix would need ``K · r`` numbers (32 GB at ``K = 10⁶``, ``r = 4000`` in
    float64); this stands in for it with the two products the rounds need, each
    one pass over ``X`` in row blocks (the same type holds the features of new
    points, ``W = k(X_new, B) P``, when only a few products ``W α`` are wanted):

    - ``V @ A = k(X, Z) (M A)``, for ``(r,)`` or ``(r, q)`` ``A``;
    - ``V.T @ y = Mᵀ k(Z, X) y``, for ``(K,)`` or ``(K, q)`` ``y``.

    :meth:`materialize` builds the array when it is wanted.
    """

    kernel: Kernel
    X: Array
    """(K, p) training inputs."""
    landmarks: Array
    """(m, p) landmarks ``Z``."""
    coef: Array
    """(m, r) ``M``."""
    block_size: int = DEFAULT_BLOCK_SIZE
    """Static: rows of ``X`` per block of each pass."""
    devices: tuple | None = None
    """Static: devices the row blocks are split over; None for one device."""

    @property
    def shape(self) -> tuple[int, int]:
        return (self.X.shape[0], self.coef.shape[1])

    @property
    def dtype(self):
        return self.coef.dtype

    @property
    def ndim(self) -> int:
        return 2

    @property
    def T(self) -> _TransposedEigvecs:
        return _TransposedEigvecs(self)

    def __matmul__(self, A) -> Array:
        A = jnp.asarray(A, self.dtype)
        vec = A.ndim == 1
        out = self._times(self.coef @ (A[:, None] if vec else A))
        return out[:, 0] if vec else out

    def _times(self, MA: Array) -> Array:
        """``k(X, Z) (M A)``, one pass over the rows of ``X``."""
        return kernel_matmul(
            self.kernel,
            self.X,
            self.landmarks,
            MA,
            block_size=self.block_size,
            devices=self.devices,
        )

    def materialize(self) -> Array:
        """The ``(K, r)`` array ``V`` (memory ``K · r`` numbers)."""
        return self._times(self.coef)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "These Nyström eigenvectors are implicit (V = k(X, Z) M, never stored); "
            "call .materialize() for the (K, r) array, or use `V @ A` / `V.T @ y`."
        )


@dataclasses.dataclass(frozen=True)
class _TransposedEigvecs:
    """``Vᵀ`` of :class:`KernelEigvecs`: supports ``Vᵀ @ y`` only."""

    V: KernelEigvecs

    def __matmul__(self, y) -> Array:
        V = self.V
        y = jnp.asarray(y, V.dtype)
        vec = y.ndim == 1
        Ky = kernel_rmatmul(
            V.kernel,
            V.X,
            V.landmarks,
            y[:, None] if vec else y,
            block_size=V.block_size,
            devices=V.devices,
        )
        out = V.coef.T @ Ky
        return out[:, 0] if vec else out


def expand(V, coords: Array) -> Array:
    """``V`` applied to the eigen-coordinates ``coords`` of shape ``(..., r, q)``.

    Returns ``(..., K, q)``: the function values ``V a`` for every leading index,
    in one product (one pass over ``X`` for implicit :class:`KernelEigvecs`).
    """
    if isinstance(V, KernelEigvecs):
        return _expand(V, coords)
    return _expand_array(V, coords)


def _expand(V, coords: Array) -> Array:
    *lead, r, q = coords.shape
    flat = jnp.moveaxis(coords.reshape(-1, r, q), 1, 0).reshape(r, -1)
    out = (V @ flat).reshape(V.shape[0], -1, q)
    return jnp.moveaxis(out, 1, 0).reshape(*lead, V.shape[0], q)


@jax.jit
def _expand_array(V: Array, coords: Array) -> Array:
    """:func:`expand` for a stored ``V``: one GEMM ``(L·q, r) × (r, K)`` whose rows
    are already the ``(..., q, K)`` output (no transposition of the result when
    ``q = 1``)."""
    *lead, r, q = coords.shape
    rows = jnp.swapaxes(coords, -1, -2).reshape(-1, r)
    out = (rows @ V.T).reshape(*lead, q, V.shape[0])
    return jnp.swapaxes(out, -1, -2)


def targets_in_eigenbasis(spec, y: Array) -> tuple[Array, Array]:
    """``z = Vᵀ y`` and ``s_⊥ = ‖y‖² − ‖z‖²``, the energy outside ``span V``.

    ``s_⊥ = 0`` when ``V`` spans ``R^K`` (``spec.complete``); for low-rank
    spectra it is the targets' energy on the null space of the approximation.
    One pass over ``X`` for implicit eigenvectors.
    """
    if isinstance(spec.eigvecs, jax.Array):
        return _targets_in_eigenbasis_array(spec, y)
    return _targets_in_eigenbasis(spec, y)


def _targets_in_eigenbasis(spec, y: Array) -> tuple[Array, Array]:
    z = spec.eigvecs.T @ y
    if spec.complete:
        return z, jnp.zeros((), y.dtype)
    return z, jnp.maximum(jnp.sum(y * y) - jnp.sum(z * z), 0.0)


_targets_in_eigenbasis_array = jax.jit(_targets_in_eigenbasis)
