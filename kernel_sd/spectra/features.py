"""New points in the eigenbasis: the features ``g_xᵀ V`` that give test predictions.

Any spectral fit predicts at a new point as ``f(x) = g_xᵀ V α`` with
``g_x = k(x, X)/K`` and eigen-coordinates ``α`` (``kernel_sd.fit``), so the
``(m, r)`` matrix of rows ``g_xᵀ V``, computed once, serves every round, time
and hyper-parameter.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import kernel_matmul
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import KernelEigvecs

__all__ = [
    "features",
    "point_features",
    "implicit_features",
    "prediction_features",
    "dual_predictions",
    "check_finite_at",
]


def _feature_map(X: Array, spec: Spectrum) -> tuple[Array, Array]:
    """``(B, P)`` with ``g_xᵀ V = k(x, B) P`` for the spectrum's kernel."""
    if spec.landmarks is not None:
        # Nyström spectrum: g̃_x = k(x, Z) K_mm^+ K_mn / K, so g̃_xᵀ V = k(x, Z) P
        # (see nystrom_spectrum); never k(x, X), which belongs to the exact G.
        return spec.landmarks, spec.landmark_map
    return jnp.asarray(X, spec.eigvals.dtype), _scaled(spec.eigvecs, X.shape[0])


@partial(jax.jit, static_argnums=1)
def _scaled(V: Array, n: int) -> Array:
    return V / n


def point_features(
    kernel: Kernel,
    X: Array,
    X_new: Array,
    spec: Spectrum,
    *,
    block_size: int,
    name: str = "X_new",
) -> Array:
    """:func:`features` for validated arguments (``X_new`` already in the dtype of ``X``).

    Raises:
        ValueError: features over ``MAX_OUTPUT_GB`` (before any work); NaN/inf
            features (kernel values at the new points ``name`` that overflow).
    """
    m, r = X_new.shape[0], spec.eigvals.shape[0]
    _validate.output_size(
        name,
        f"({m}, {X_new.shape[1]})",
        2 * m * r,  # assembled from row blocks: held twice at the peak
        X_new.dtype.itemsize,
        what=f"({m}, {r}) features",
        fix=f"Pass `{name}` in chunks of rows.",
    )
    B, P = _feature_map(X, spec)
    # Row tiles of X_new: the (m, K) cross-Gram matrix is never stored.
    W = kernel_matmul(kernel, X_new, B, P, block_size=block_size)
    check_finite_at(kernel, W, name)
    return W


def check_finite_at(kernel: Kernel, values: Array, name: str) -> None:
    """Refuse NaN/inf features or predictions at the new points ``name``.

    Raises:
        ValueError: some of ``values`` are NaN/inf (kernel values that overflow).
    """
    if not _validate.all_finite(values):
        raise ValueError(
            f"The kernel values at `{name}` are NaN/inf: {type(kernel).__name__} "
            f"overflows or divides 0/0 between `{name}` and the training points. "
            f"Rescale `{name}` like `X`, or choose hyper-parameters of the data's scale."
        )


def implicit_features(
    kernel: Kernel, X: Array, X_new: Array, spec: Spectrum, *, block_size: int
) -> KernelEigvecs:
    """The features ``W = k(X_new, B) P`` of :func:`features`, never stored.

    ``W @ α = k(X_new, B) (P α)`` costs ``m·|B|`` multiply-adds per column of
    ``α`` (plus ``|B|·r`` for ``P α``), where the stored ``W`` costs ``m·|B|·r``
    to build: cheaper whenever fewer than ``r`` columns are wanted, e.g. the
    ``T`` rounds of a trace (``B = X``, ``P = V/K`` on the exact path: the
    predictions ``k(X_new, X) (V α)/K`` through the dual coefficients ``V α``).
    Nothing is evaluated here: the caller checks the products with
    :func:`check_finite_at`.
    """
    B, P = _feature_map(X, spec)
    return KernelEigvecs(
        kernel=kernel, X=X_new, landmarks=B, coef=P, block_size=block_size
    )


def prediction_features(
    kernel: Kernel,
    X: Array,
    X_new: Array,
    spec: Spectrum,
    *,
    columns: int,
    block_size: int,
    name: str = "X_new",
):
    """Features of ``X_new`` for ``columns`` products ``W α``: whichever costs less.

    Stored ``(m, r)`` features when ``columns >= r`` (``W`` is then reused by
    every column; checked finite), else :func:`implicit_features` (the caller
    checks the predictions with :func:`check_finite_at`). Both give the same
    predictions to round-off.
    """
    if columns >= spec.eigvals.shape[0]:
        return point_features(
            kernel, X, X_new, spec, block_size=block_size, name=name
        )
    return implicit_features(kernel, X, X_new, spec, block_size=block_size)


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
        spec: the spectrum of ``k(X, X)/K``. For a Nyström spectrum (from
            :func:`kernel_sd.nystrom_spectrum`) the rows are ``g̃_xᵀ V`` with the
            Nyström kernel ``g̃_x = k(x, Z) K_mm^+ K_mn / K``, computed as
            ``k(x, Z) P``. For a Lanczos spectrum (top ``k`` of the exact ``G``)
            they are ``g_xᵀ V_k``: the new-point predictions of the rank-``k``
            fit, equal to its training predictions at the training points
            (``G V_k = V_k D_k`` up to ``residuals``).
        block_size: rows of ``X_new`` per block of the cross-Gram matrix
            (memory ``O(block_size · K)``, the ``(m, K)`` matrix is never stored).

    Returns:
        ``(m, r)`` rows ``g_xᵀ V`` in the dtype of ``X``.

    Raises:
        ValueError: bad ``kernel``, ``X``, ``X_new`` or ``block_size``; a
            ``spec`` computed from other points than ``X`` or with another
            kernel; kernel values at ``X_new`` that are NaN/inf.
    """
    X = _validate.kernel_inputs(kernel, X)
    X_new = _validate.same_features("X_new", X_new, X)
    spec = _validate.spectrum_of_inputs("spec", spec, X, kernel)
    block_size = _validate.integer("block_size", block_size, minimum=1)
    return point_features(kernel, X, X_new, spec, block_size=block_size)


def dual_predictions(
    kernel: Kernel, X: Array, X_new: Array, a: Array, *, block_size: int
) -> Array:
    """``f(x) = g_xᵀ a = k(x, X) a / K`` at new points, for stacked coefficients.

    ``a`` ``(..., K, q)`` (e.g. the dual coefficients of every round) becomes
    ``(..., m, q)`` in one pass over ``X_new``: ``m·K`` multiply-adds per column.
    """
    lead, q = a.shape[:-2], a.shape[-1]
    cols = _columns(a)
    out = kernel_matmul(kernel, X_new, X, cols, block_size=block_size)
    return _uncolumns(out, lead, q)


@jax.jit
def _columns(a: Array) -> Array:
    """``(..., K, q)`` -> ``(K, L·q)`` divided by ``K``."""
    K, q = a.shape[-2:]
    return jnp.moveaxis(a.reshape(-1, K, q), 1, 0).reshape(K, -1) / K


@partial(jax.jit, static_argnums=(1, 2))
def _uncolumns(out: Array, lead: tuple, q: int) -> Array:
    """``(m, L·q)`` -> ``(..., m, q)``."""
    m = out.shape[0]
    return jnp.moveaxis(out.reshape(m, -1, q), 1, 0).reshape(*lead, m, q)
