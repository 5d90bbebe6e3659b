"""Kernels of inner products and angles: Polynomial, Linear, ArcCosine."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd.kernels.base import (
    Kernel,
    _check_nonnegative,
    _check_positive,
    _norms_and_angles,
    _pytree,
)

__all__ = ["Polynomial", "Linear", "ArcCosine"]


@_pytree(data=("gamma", "coef0"), meta=("degree",))
class Polynomial(Kernel):
    """Polynomial kernel ``k(x, z) = (γ x·z + c₀)^degree``.

    Args:
        degree: positive integer (static).
        gamma: ``γ > 0``.
        coef0: ``c₀ >= 0`` (``c₀ >= 0`` keeps the kernel positive semi-definite).
    """

    degree: int = 2
    gamma: float | Array = 1.0
    coef0: float | Array = 1.0
    name: ClassVar[str] = "Polynomial"

    def __post_init__(self):
        if isinstance(self.degree, bool) or not (
            isinstance(self.degree, (int, np.integer)) and self.degree >= 1
        ):
            raise ValueError(
                f"Polynomial: `degree` must be a positive integer, got {self.degree!r}."
            )
        _check_positive("gamma", self.gamma, self.name)
        _check_nonnegative("coef0", self.coef0, self.name)

    def _eval(self, X, Z):
        g = jnp.asarray(self.gamma, X.dtype)
        c0 = jnp.asarray(self.coef0, X.dtype)
        return (g * (X @ Z.T) + c0) ** self.degree


@_pytree(data=("scale",))
class Linear(Kernel):
    """Linear kernel ``k(x, z) = s · x·z``.

    Args:
        scale: ``s > 0``.
    """

    scale: float | Array = 1.0
    name: ClassVar[str] = "Linear"

    def __post_init__(self):
        _check_positive("scale", self.scale, self.name)

    def _eval(self, X, Z):
        return jnp.asarray(self.scale, X.dtype) * (X @ Z.T)


@_pytree(data=(), meta=("order",))
class ArcCosine(Kernel):
    """Arc-cosine kernel of Cho & Saul (2009): the infinite-width one-hidden-layer network.

    With ``θ`` the angle between ``x`` and ``z``:

    - order 0 (step activation): ``k(x, z) = 1 − θ/π``;
    - order 1 (ReLU): ``k(x, z) = (1/π) ‖x‖ ‖z‖ (sin θ + (π − θ) cos θ)``.

    A zero vector has no direction; we take ``cos θ = 0`` for it, which makes
    order 0 equal to 1/2 and order 1 equal to 0 (its limit). Append a constant
    feature to ``X`` (a bias) when inputs can be zero. The multi-layer,
    scaled versions of these kernels are :class:`NNGP` and :class:`NTK`.

    Args:
        order: 0 or 1 (static).

    References:
        Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009.
    """

    order: int = 1
    name: ClassVar[str] = "ArcCosine"

    def __post_init__(self):
        if self.order not in (0, 1):
            raise ValueError(f"ArcCosine: `order` must be 0 or 1, got {self.order!r}.")

    def _eval(self, X, Z):
        nx, nz, theta = _norms_and_angles(X, Z)
        if self.order == 0:
            return 1.0 - theta / jnp.pi
        prod = nx[:, None] * nz[None, :]
        return prod * (jnp.sin(theta) + (jnp.pi - theta) * jnp.cos(theta)) / jnp.pi
