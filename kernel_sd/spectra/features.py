"""New points in the eigenbasis: the features ``g_xᵀ V`` that give test predictions.

Any spectral fit predicts at a new point as ``f(x) = g_xᵀ V α`` with
``g_x = k(x, X)/K`` and eigen-coordinates ``α`` (``kernel_sd.fit``), so the
``(m, r)`` matrix of rows ``g_xᵀ V``, computed once, serves every round, time
and hyper-parameter.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import row_map
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import cross_rows
from kernel_sd.spectra.base import Spectrum

__all__ = ["features", "point_features"]


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
    if spec.landmarks is not None:
        # Nyström spectrum: g̃_x = k(x, Z) K_mm^+ K_mn / K, so g̃_xᵀ V = k(x, Z) P
        # (see nystrom_spectrum); never k(x, X), which belongs to the exact G.
        shared = (kernel, spec.landmarks, spec.landmark_map)
    else:
        shared = (kernel, jnp.asarray(X, spec.eigvals.dtype), spec.eigvecs / X.shape[0])
    # Row blocks of X_new: the (m, K) cross-Gram matrix is never stored.
    W = row_map(cross_rows, (X_new,), shared, block_size=block_size)
    if not _validate.all_finite(W):
        raise ValueError(
            f"The kernel values at `{name}` are NaN/inf: {type(kernel).__name__} "
            f"overflows or divides 0/0 between `{name}` and the training points. "
            f"Rescale `{name}` like `X`, or choose hyper-parameters of the data's scale."
        )
    return W


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
