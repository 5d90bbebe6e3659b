"""The exact spectrum: one ``eigh`` of ``G = k(X, X)/K``, with a memory guard.

Large n: the exact path needs ``~3 n²`` numbers; past ``max_memory_gb`` it
refuses and points to :func:`kernel_sd.nystrom_spectrum` (low rank, ``O(n·m)``)
and :func:`kernel_sd.lanczos_spectrum` (matrix-free top of the spectrum).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd._warn import warn
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import kernel_matrix
from kernel_sd.spectra.base import Spectrum, checked, clamped, input_fingerprint

__all__ = [
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "exact_spectrum",
    "DEFAULT_MAX_MEMORY_GB",
]

DEFAULT_MAX_MEMORY_GB = 8.0
"""Memory the exact path may use (Gram + eigenvectors + LAPACK workspace)."""


@jax.jit
def _eigh_core(K_xx: Array) -> Spectrum:
    """Clamped spectrum of ``G = K_xx / K`` from the unscaled Gram matrix ``K_xx``."""
    G = (0.5 / K_xx.shape[0]) * (K_xx + K_xx.T)
    raw, vecs = jnp.linalg.eigh(G)
    return clamped(raw[::-1], vecs[:, ::-1], complete=True)


def _check_memory(n: int, itemsize: int, max_memory_gb: float) -> None:
    # Gram, eigenvectors and the eigensolver's workspace: about three n x n arrays.
    need_gb = 3.0 * n * n * itemsize / 2**30
    if need_gb > max_memory_gb:
        raise ValueError(
            f"The exact spectrum of n={n} points needs about {need_gb:.1f} GiB "
            f"(three {n}x{n} arrays), over `max_memory_gb`={max_memory_gb:g}. "
            "Use the low-rank path, nystrom_spectrum(kernel, X, m=...) (memory "
            "O(n·m)), the matrix-free top of the spectrum, lanczos_spectrum(kernel, "
            "X, k=...), subsample the data, or raise `max_memory_gb` if the memory "
            "is there."
        )


def _warn_if_gathered(X: Array) -> None:
    """Warn that a global array over several processes gets no split of the work."""
    if isinstance(X, jax.Array) and not X.is_fully_addressable:
        n = X.shape[0]
        gib = n * n * X.dtype.itemsize / 2**30
        warn(
            f"X is a global array over {jax.process_count()} processes, but JAX has "
            f"no distributed eigh: every process builds the {n}x{n} Gram matrix "
            f"({gib:.2g} GiB each) and computes the same eigendecomposition, with no "
            "speed-up. For work split over the processes use "
            "nystrom_spectrum(kernel, X, m=...) or lanczos_spectrum(kernel, X, k=...)."
        )


def exact_spectrum(
    kernel: Kernel, X: Array, *, block_size: int, max_memory_gb: float
) -> Spectrum:
    """:func:`spectrum` for validated arguments (the core behind the public checks)."""
    _check_memory(X.shape[0], X.dtype.itemsize, max_memory_gb)
    _warn_if_gathered(X)
    spec = _eigh_core(kernel_matrix(kernel, X, block_size=block_size))
    return checked(dataclasses.replace(spec, fingerprint=input_fingerprint(X)))


def spectrum(
    kernel: Kernel,
    X: Array,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Spectrum:
    """Eigendecomposition of ``G = k(X, X)/K`` (the papers' scaling, ``K = n``).

    ``G = V diag(d) Vᵀ`` with ``d`` descending. Eigenvalues below the noise floor
    ``K · eps · d_max`` are set to 0 and counted (``n_clamped``).

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs.
        block_size: rows per block when building the Gram matrix.
        max_memory_gb: refuse (with a clear error) when the exact path would need
            more memory than this; the exact path needs ``~3 n²`` numbers.

    Returns:
        A :class:`Spectrum` (with the fingerprint of ``X``).

    Raises:
        ValueError: bad ``kernel``, ``X`` or ``block_size``; too large for
            ``max_memory_gb``; a Gram matrix that is not positive semi-definite
            beyond round-off.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 5)[:, None]
        >>> spec = ksd.spectrum(ksd.kernels.Linear(), X)
        >>> int(spec.rank)  # x·z on 1-D inputs has rank 1
        1
    """
    X = _validate.kernel_inputs(kernel, X)
    block_size = _validate.integer("block_size", block_size, minimum=1)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    return exact_spectrum(kernel, X, block_size=block_size, max_memory_gb=max_memory_gb)


def spectrum_from_gram(
    G: Array, *, max_memory_gb: float = DEFAULT_MAX_MEMORY_GB
) -> Spectrum:
    """Spectrum of a user-supplied unscaled Gram matrix ``k(X, X)`` (divided by ``K``).

    Args:
        G: ``(K, K)`` symmetric positive semi-definite matrix ``k(x_i, x_j)``.
        max_memory_gb: as in :func:`spectrum`.

    Returns:
        A :class:`Spectrum` without input fingerprint (the inputs are unknown).

    Raises:
        ValueError: not square, not finite, not symmetric or not PSD beyond
            round-off.
    """
    G = _validate.symmetric_matrix("G", G)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    _check_memory(G.shape[0], G.dtype.itemsize, max_memory_gb)
    return checked(_eigh_core(G))


def spectrum_from_eigen(eigvals: Array, eigvecs: Array) -> Spectrum:
    """A :class:`Spectrum` from a given eigendecomposition of ``G = k(X, X)/K``.

    Useful for planted problems (a chosen spectrum and eigenbasis) and for
    factorisations computed elsewhere. Eigenpairs are sorted descending, the
    noise floor ``K · eps · d_max`` is applied as in :func:`spectrum`, and the
    spectrum is *complete* when ``eigvecs`` is square.

    Args:
        eigvals: ``(r,)`` eigenvalues, ``>= −floor``.
        eigvecs: ``(K, r)`` matrix with orthonormal columns.

    Raises:
        ValueError: mismatched shapes, NaN/inf, columns that are not
            orthonormal, or eigenvalues below ``−floor``.
    """
    d, V = _validate.eigenpairs(eigvals, eigvecs)
    dtype = jnp.result_type(d.dtype, V.dtype, jnp.float32)
    spec, gram_err = _sorted_eigen(
        d.astype(dtype), V.astype(dtype), complete=V.shape[0] == V.shape[1]
    )
    gram_err = float(gram_err)
    if gram_err > 1e3 * V.shape[0] * float(jnp.finfo(dtype).eps):
        raise ValueError(
            f"`eigvecs` columns are not orthonormal (max |VᵀV − I| = {gram_err:.2e}); "
            "orthonormalise them, e.g. with jnp.linalg.qr."
        )
    return checked(spec)


@partial(jax.jit, static_argnames="complete")
def _sorted_eigen(d: Array, V: Array, *, complete: bool) -> tuple[Spectrum, Array]:
    """Eigenpairs sorted descending and clamped, with ``max |VᵀV − I|``."""
    order = jnp.argsort(-d)
    d, V = d[order], V[:, order]
    gram_err = jnp.max(jnp.abs(V.T @ V - jnp.eye(V.shape[1], dtype=V.dtype)))
    return clamped(d, V, complete=complete), gram_err
