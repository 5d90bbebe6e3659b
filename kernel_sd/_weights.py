"""Sample weights as a change of variables: a weighted fit is an unweighted one.

With weights ``w_i >= 0``, ``S = Σ_i w_i`` and ``W = diag(w)``, the weighted forms are

    penalised:    min_f  Σ_i w_i (f(x_i) − y_i)² + S · lam · ‖f‖²_H,
    constrained:  min_f ‖f‖²_H  subject to  (1/S) Σ_i w_i (f(x_i) − y_i)² <= ε,

so ``w = 1`` is the unweighted fit (``S = K``), integer weights are repeated rows
(a row repeated ``w_i`` times, ``S`` rows in all) and only ratios of weights
matter. Rows with ``w_i = 0`` do not enter either form and are dropped first.

Derived: with ``f = Σ_j α_j k(·, x_j)`` the stationarity condition of the
penalised form is ``W (y − k(X, X) α) = S lam α``; writing ``α = W^{1/2} β / S``
and ``G_w = W^{1/2} k(X, X) W^{1/2} / S`` it reads ``(G_w + lam I) β = W^{1/2} y``,
and ``W^{1/2} f(X) = G_w (G_w + lam I)^{-1} W^{1/2} y``: the unweighted fit with
``G → G_w`` and ``y → ỹ = W^{1/2} y``. The constraint is ``(1/S)‖W^{1/2} f(X) − ỹ‖² <= ε``,
so the multiplier solves ``Σ_k (c z_k/(c + d_k))² = S ε`` with
``G_w = V diag(d) Vᵀ`` and ``z = Vᵀ ỹ``. Self-distillation feeds ``f_t(X)`` back,
i.e. ``W^{1/2} f_t(X)`` in the new variables: every round is the same filter.
New points: ``f_t(x) = k(x, X) W^{1/2} V diag(g_t) z / S``.

The engine works with ``K = n`` rows, so the weights are normalised to
``w' = n w / S`` (same fit, ``Σ w' = n``): then ``G_w = W'^{1/2} k(X, X) W'^{1/2} / n``
and ``(1/n) Σ w'_i (f(x_i) − y_i)² <= ε`` are exactly the unweighted formulas.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from kernel_sd.spectra.base import Spectrum, checked
from kernel_sd.spectra.exact import _eigh_core  # the one eigh of every exact spectrum

__all__ = ["kept_rows", "scaled_sqrt", "weighted_spectrum", "feature_spectrum"]


def kept_rows(w: np.ndarray) -> np.ndarray:
    """Indices of the rows with a positive weight (the only ones that enter a fit)."""
    return np.flatnonzero(w > 0)


def scaled_sqrt(w: np.ndarray) -> np.ndarray:
    """``sqrt(w')`` with ``w' = n w / Σ w`` for positive weights ``w`` ``(n,)``."""
    return np.sqrt(w.size * (w / w.sum()))


def weighted_spectrum(K_xx, sqrt_w: np.ndarray | None) -> Spectrum:
    """Spectrum of ``G_w = W'^{1/2} k(X, X) W'^{1/2} / n`` (``G`` when ``sqrt_w`` is None).

    ``K_xx`` is the unscaled, symmetric ``(n, n)`` Gram matrix of the rows that
    are kept (trusted: built by ``kernel_sd.gram``). The weighting is done on the
    host, so the only compiled step is the ``eigh`` every exact spectrum shares.
    """
    K_xx = np.asarray(K_xx)
    if sqrt_w is not None:
        s = np.asarray(sqrt_w, K_xx.dtype)
        K_xx = (s[:, None] * K_xx) * s[None, :]  # symmetric: the products commute
    return checked(_eigh_core(jnp.asarray(K_xx)))


def feature_spectrum(spec: Spectrum, sqrt_w: np.ndarray | None) -> Spectrum:
    """``spec`` with eigenvectors ``W'^{1/2} V``, so that ``features`` gives ``k(x, X) W'^{1/2} V / n``.

    Only for the new points' features (``f(x) = features @ coef``); the
    columns are no longer orthonormal, so never for anything else.
    """
    if sqrt_w is None:
        return spec
    s = jnp.asarray(sqrt_w, spec.eigvecs.dtype)
    return dataclasses.replace(spec, eigvecs=s[:, None] * spec.eigvecs)
