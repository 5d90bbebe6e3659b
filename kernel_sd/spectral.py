"""Eigendecomposition of the scaled Gram matrix, with its noise floor and rank.

Every procedure in kernel-sd is a spectral filter (see ``filters``), so the one
factorisation it needs is ``G = k(X, X)/K = V diag(d) Vᵀ`` with ``K = n``.
:func:`spectrum` computes it once; every round, ε, ``lam`` and time reuses it.

Numerical rules (design notes, "Numerical rules"):

- eigenvalues below the noise floor ``K · eps_machine · d_max`` are numerically
  zero: they are set to exactly 0 and counted in ``Spectrum.n_clamped``;
- a raw eigenvalue below ``−floor`` means the matrix is not positive
  semi-definite beyond round-off, and is an error;
- float32 with an ill-conditioned spectrum triggers a warning to enable x64.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel, gram

__all__ = [
    "Spectrum",
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "features",
    "DEFAULT_MAX_MEMORY_GB",
]

DEFAULT_MAX_MEMORY_GB = 8.0
"""Memory the exact path may use (Gram + eigenvectors + LAPACK workspace)."""

_FLOAT32_MAX_CONDITION = 1e4
"""Condition number past which float32 loses more than ~3 of its 7 digits."""


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["eigvals", "eigvecs", "noise_floor", "n_clamped", "min_raw_eigval"],
    meta_fields=["complete"],
)
@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigendecomposition ``G = k(X, X)/K = V diag(d) Vᵀ`` (descending ``d``)."""

    eigvals: Array
    """(r,) eigenvalues ``d_k`` of ``G``, descending; those below the floor are 0."""
    eigvecs: Array
    """(K, r) orthonormal eigenvectors ``V`` (columns), ordered like ``eigvals``."""
    noise_floor: Array
    """() ``K · eps_machine · d_max``: eigenvalues below it are numerically zero."""
    n_clamped: Array
    """() number of eigenvalues set to 0 because they were below the floor."""
    min_raw_eigval: Array
    """() smallest eigenvalue returned by ``eigh`` before clamping."""
    complete: bool = True
    """Static: ``V`` spans all of ``R^K`` (exact path); False for low-rank spectra."""

    @property
    def n_train(self) -> int:
        """``K``, the number of training points."""
        return self.eigvecs.shape[0]

    @property
    def rank(self) -> Array:
        """Numerical rank: the number of eigenvalues above the noise floor."""
        return jnp.sum(self.eigvals > 0)

    @property
    def condition_number(self) -> Array:
        """``κ = d_max / d_min`` over the numerical range of ``G``."""
        d = self.eigvals
        d_min = jnp.min(jnp.where(d > 0, d, jnp.inf))
        return d[0] / d_min


@jax.jit
def _eigh_core(G: Array) -> Spectrum:
    n = G.shape[0]
    raw, vecs = jnp.linalg.eigh(0.5 * (G + G.T))
    raw, vecs = raw[::-1], vecs[:, ::-1]
    floor = n * jnp.finfo(G.dtype).eps * jnp.maximum(raw[0], 0.0)
    keep = raw > floor
    return Spectrum(
        eigvals=jnp.where(keep, raw, 0.0),
        eigvecs=vecs,
        noise_floor=floor,
        n_clamped=jnp.sum(~keep),
        min_raw_eigval=raw[-1],
        complete=True,
    )


def _check_memory(n: int, itemsize: int, max_memory_gb: float) -> None:
    # Gram, eigenvectors and the eigensolver's workspace: about three n x n arrays.
    need_gb = 3.0 * n * n * itemsize / 2**30
    if need_gb > max_memory_gb:
        raise ValueError(
            f"The exact spectrum of n={n} points needs about {need_gb:.1f} GiB "
            f"(three {n}x{n} arrays), over `max_memory_gb`={max_memory_gb:g}. "
            "Subsample the data, or raise `max_memory_gb` if the memory is there."
        )


def _finish(spec: Spectrum) -> Spectrum:
    """Host-side checks on a freshly computed spectrum: PSD and float32 conditioning."""
    if not bool(jnp.all(jnp.isfinite(spec.eigvals))):
        raise ValueError(
            "The eigendecomposition produced NaN/inf; the Gram matrix has "
            "non-finite entries (check the kernel's hyper-parameters and inputs)."
        )
    if float(spec.min_raw_eigval) < -float(spec.noise_floor):
        raise ValueError(
            f"The Gram matrix is not positive semi-definite beyond round-off: "
            f"smallest eigenvalue {float(spec.min_raw_eigval):.3e} < "
            f"-{float(spec.noise_floor):.3e} (the noise floor). Check that the "
            "kernel is positive definite for these hyper-parameters (e.g. "
            "Polynomial needs coef0 >= 0), or pass a corrected matrix."
        )
    if spec.eigvals.dtype == jnp.float32:
        kappa = float(spec.condition_number)
        if int(spec.n_clamped) > 0 or kappa > _FLOAT32_MAX_CONDITION:
            warnings.warn(
                f"float32 spectrum is ill-conditioned (condition number {kappa:.2e}, "
                f"{int(spec.n_clamped)} eigenvalues below the noise floor); results "
                "may lose most of their digits. Enable x64: "
                "jax.config.update('jax_enable_x64', True).",
                stacklevel=3,
            )
    return spec


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
        A :class:`Spectrum`.

    Raises:
        ValueError: bad ``X``; too large for ``max_memory_gb``; a Gram matrix
            that is not positive semi-definite beyond round-off.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 5)[:, None]
        >>> spec = ksd.spectrum(ksd.kernels.Linear(), X)
        >>> int(spec.rank)  # x·z on 1-D inputs has rank 1
        1
    """
    X = _validate.inputs("X", X)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    _check_memory(X.shape[0], X.dtype.itemsize, max_memory_gb)
    G = gram(kernel, X, block_size=block_size)
    return _finish(_eigh_core(G / X.shape[0]))


def spectrum_from_gram(
    G: Array, *, max_memory_gb: float = DEFAULT_MAX_MEMORY_GB
) -> Spectrum:
    """Spectrum of a user-supplied unscaled Gram matrix ``k(X, X)`` (divided by ``K``).

    Args:
        G: ``(K, K)`` symmetric positive semi-definite matrix ``k(x_i, x_j)``.
        max_memory_gb: as in :func:`spectrum`.

    Raises:
        ValueError: not square, not finite, not symmetric or not PSD beyond
            round-off.
    """
    G = _validate.square_matrix("G", G)
    n = G.shape[0]
    scale = float(jnp.max(jnp.abs(G)))
    asym = float(jnp.max(jnp.abs(G - G.T)))
    if asym > 100 * n * float(jnp.finfo(G.dtype).eps) * max(scale, 1e-300):
        raise ValueError(
            f"`G` is not symmetric beyond round-off (max |G - G^T| = {asym:.3e}); "
            "pass (G + G.T) / 2 if the asymmetry is expected."
        )
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    _check_memory(n, G.dtype.itemsize, max_memory_gb)
    return _finish(_eigh_core(G / n))


def features(
    kernel: Kernel,
    X: Array,
    X_new: Array,
    spec: Spectrum,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Array:
    """New points in the eigenbasis: row ``i`` is ``g_{x_i}ᵀ V`` with ``g_x = k(x, X)/K``.

    Any spectral fit predicts at new points as ``f(x) = g_xᵀ V diag(1/(c + d)) Vᵀ y``,
    so this ``(m, r)`` matrix, computed once, serves every round and
    hyper-parameter.

    Args:
        kernel: the kernel the spectrum was computed with.
        X: ``(K, p)`` training inputs of ``spec``.
        X_new: ``(m, p)`` new inputs.
        spec: the spectrum of ``k(X, X)/K``.
        block_size: rows of ``X_new`` per block of the cross-Gram matrix.
    """
    X_new = _validate.inputs("X_test", X_new)
    if X_new.shape[1] != X.shape[1]:
        raise ValueError(
            f"`X_test` has {X_new.shape[1]} features but `X` has {X.shape[1]}."
        )
    cross = gram(kernel, X_new.astype(X.dtype), X, block_size=block_size)
    return (cross / X.shape[0]) @ spec.eigvecs


def spectrum_from_eigen(eigvals: Array, eigvecs: Array) -> Spectrum:
    """A :class:`Spectrum` from a given eigendecomposition of ``G = k(X, X)/K``.

    Useful for planted problems (a chosen spectrum and eigenbasis) and for
    factorisations computed elsewhere. Eigenpairs are sorted descending, the
    noise floor ``K · eps · d_max`` is applied as in :func:`spectrum`, and the
    spectrum is *complete* when ``eigvecs`` is square.

    Args:
        eigvals: ``(r,)`` eigenvalues, ``>= −floor``.
        eigvecs: ``(K, r)`` matrix with orthonormal columns.
    """
    d = jnp.asarray(eigvals)
    V = jnp.asarray(eigvecs)
    if (
        d.ndim != 1
        or V.ndim != 2
        or V.shape[1] != d.shape[0]
        or V.shape[0] < d.shape[0]
    ):
        raise ValueError(
            f"`eigvals` (r,) and `eigvecs` (K, r) with K >= r are required, got "
            f"shapes {d.shape} and {V.shape}."
        )
    if not (bool(jnp.all(jnp.isfinite(d))) and bool(jnp.all(jnp.isfinite(V)))):
        raise ValueError("`eigvals` / `eigvecs` contain NaN or inf.")
    dtype = jnp.result_type(d.dtype, V.dtype, jnp.float32)
    d, V = d.astype(dtype), V.astype(dtype)
    order = jnp.argsort(-d)
    d, V = d[order], V[:, order]
    gram_err = float(jnp.max(jnp.abs(V.T @ V - jnp.eye(V.shape[1], dtype=dtype))))
    if gram_err > 1e3 * V.shape[0] * float(jnp.finfo(dtype).eps):
        raise ValueError(
            f"`eigvecs` columns are not orthonormal (max |VᵀV − I| = {gram_err:.2e}); "
            "orthonormalise them, e.g. with jnp.linalg.qr."
        )
    floor = V.shape[0] * jnp.finfo(dtype).eps * jnp.maximum(d[0], 0.0)
    keep = d > floor
    return _finish(
        Spectrum(
            eigvals=jnp.where(keep, d, 0.0),
            eigvecs=V,
            noise_floor=floor,
            n_clamped=jnp.sum(~keep),
            min_raw_eigval=d[-1],
            complete=V.shape[0] == V.shape[1],
        )
    )
