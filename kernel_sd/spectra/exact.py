"""The exact spectrum: one ``eigh`` of ``G = k(X, X)/K``, with a memory guard.

Large n: the exact path peaks at about ``EXACT_PEAK_ARRAYS · n²`` numbers (plus
``m · n`` for ``m`` test points); past ``max_memory_gb`` it refuses and points
to :func:`kernel_sd.nystrom_spectrum` (low rank, ``O(n·m)``) and
:func:`kernel_sd.lanczos_spectrum` (matrix-free top of the spectrum).
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
from kernel_sd.spectra.base import (
    Spectrum,
    check_kernel_values,
    checked,
    clamped,
    input_fingerprint,
    kernel_fingerprint,
)

__all__ = [
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "exact_spectrum",
    "DEFAULT_MAX_MEMORY_GB",
    "EXACT_PEAK_ARRAYS",
    "exact_peak_numbers",
]

DEFAULT_MAX_MEMORY_GB = 8.0
"""Memory the exact path may use (Gram + eigenvectors + LAPACK workspace)."""


@jax.jit
def _eigh_core(K_xx: Array) -> Spectrum:
    """Clamped spectrum of ``G = K_xx / K`` from the unscaled Gram matrix ``K_xx``."""
    G = (0.5 / K_xx.shape[0]) * (K_xx + K_xx.T)
    raw, vecs = jnp.linalg.eigh(G)
    return clamped(raw[::-1], vecs[:, ::-1], complete=True)


EXACT_PEAK_ARRAYS = 4.25
"""Peak memory of the exact path in ``n × n`` arrays: the Gram matrix, its
symmetrised copy, the eigenvectors and the eigensolver's workspace. Measured peak
RSS above the JAX runtime (``resource.getrusage``, float64, one process per
size): 4.92 n² at n = 2000, 4.38 n² at n = 4000, 4.03 n² at n = 8000, 4.0 n² at
n = 20 000 (12.8 GB); ``4.25 n²`` fits within 0.02 GiB (n <= 4000) and above
the measured peak from n = 8000 on."""


def exact_peak_numbers(n: int, m_test: int = 0) -> float:
    """Peak numbers held by the exact path for ``n`` points and ``m_test`` test points.

    ``max(4.25 n², 2 n² + 2 m n + 2048 n)``: the eigendecomposition's peak, or the
    test features' (``V`` and ``V/K``, the ``(m, n)`` features assembled from
    row blocks, which holds them twice, and two ``(1024, n)`` blocks), whichever
    is larger: the features are computed after the Gram matrix is freed.
    Measured (peak RSS above the runtime): 4.52 n² with m = n = 4000 (model
    4.51), 4.08 n² with m = n = 8000 (model 4.26), 43.9 n² with n = 2000,
    m = 40 000 (model 43.0).
    """
    return max(EXACT_PEAK_ARRAYS * n * n, 2.0 * n * n + 2.0 * m_test * n + 2048.0 * n)


def _check_memory(n: int, itemsize: int, max_memory_gb: float, m_test: int = 0) -> None:
    """Refuse before any work when the exact path would need more than ``max_memory_gb``."""
    need_gb = exact_peak_numbers(n, m_test) * itemsize / 2**30
    if need_gb > max_memory_gb:
        test = f" and {m_test} test points" if m_test else ""
        raise ValueError(
            f"The exact spectrum of n={n} points{test} needs about {need_gb:.1f} GiB "
            f"at its peak (~{EXACT_PEAK_ARRAYS:g} {n}x{n} arrays, or the test "
            f"features), over `max_memory_gb`={max_memory_gb:g}. "
            "Use the low-rank path, nystrom_spectrum(kernel, X, m=...) (memory "
            "O(n·m)), the matrix-free top of the spectrum, lanczos_spectrum(kernel, "
            "X, k=...), fewer test points per call, subsample the data, or raise "
            "`max_memory_gb` if the memory is there."
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
    kernel: Kernel,
    X: Array,
    *,
    block_size: int,
    max_memory_gb: float,
    m_test: int = 0,
) -> Spectrum:
    """:func:`spectrum` for validated arguments (the core behind the public checks).

    The kernel values are checked (finite, not underflowing) before ``eigh``.
    """
    _check_memory(X.shape[0], X.dtype.itemsize, max_memory_gb, m_test)
    _warn_if_gathered(X)
    # _eigh_core symmetrises (K + Kᵀ)/2 itself: one pass, not two.
    G, finite, diag_max = kernel_matrix(
        kernel, X, block_size=block_size, symmetrise=False
    )
    check_kernel_values(
        kernel,
        finite,
        diag_max,
        f"The Gram matrix k(X, X) of {type(kernel).__name__}",
        X.dtype,
    )
    spec = _eigh_core(G)
    return checked(
        dataclasses.replace(
            spec,
            fingerprint=input_fingerprint(X),
            kernel_values=kernel_fingerprint(kernel, X),
        )
    )


def spectrum(
    kernel: Kernel,
    X: Array,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Spectrum:
    """Eigendecomposition of ``G = k(X, X)/K`` (the papers' scaling, ``K = n``).

    ``G = V diag(d) Vᵀ`` with ``d`` descending. Eigenvalues at or below the noise
    floor ``K · eps · d_max`` are numerically zero: counted (``n_clamped``) and
    left out of ``rank`` and of the feasibility of ε; negative round-off is set
    to 0, the other values are kept for the filters.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs.
        block_size: rows per block when building the Gram matrix.
        max_memory_gb: refuse (with a clear error) when the exact path would need
            more memory than this; the exact path peaks at ``~4.25 n²`` numbers.

    Returns:
        A :class:`Spectrum` (with the fingerprints of ``X`` and of the kernel).

    Raises:
        ValueError: bad ``kernel``, ``X`` or ``block_size``; too large for
            ``max_memory_gb``; kernel values that are NaN/inf or underflow (checked
            before the eigendecomposition); a Gram matrix that is not positive
            semi-definite beyond round-off.

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
