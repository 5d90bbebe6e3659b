"""Stationary kernels ``k(x, z) = κ(‖x − z‖)``: RBF, Laplace, Matérn."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jax import Array

from kernel_sd.kernels.base import Kernel, _check_positive, _dists, _pytree, _sq_dists

__all__ = ["RBF", "Laplace", "Matern"]


@_pytree(data=("lengthscale",))
class RBF(Kernel):
    """Gaussian (squared-exponential) kernel ``k(x, z) = exp(−‖x − z‖² / (2 ℓ²))``.

    Args:
        lengthscale: ``ℓ > 0``. The ``γ`` of ``exp(−γ‖x − z‖²)`` is ``1/(2ℓ²)``.
    """

    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "RBF"

    def __post_init__(self):
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        return jnp.exp(-_sq_dists(X, Z) / (2.0 * ell * ell))


@_pytree(data=("lengthscale",))
class Laplace(Kernel):
    """Laplace (exponential) kernel ``k(x, z) = exp(−‖x − z‖ / ℓ)``.

    Args:
        lengthscale: ``ℓ > 0``.
    """

    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "Laplace"

    def __post_init__(self):
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        return jnp.exp(-_dists(X, Z) / ell)


@_pytree(data=("lengthscale",), meta=("nu",))
class Matern(Kernel):
    """Matérn kernel for half-integer smoothness ``ν ∈ {1/2, 3/2, 5/2}``.

    With ``r = ‖x − z‖ / ℓ``:

    - ``ν = 1/2``: ``exp(−r)`` (the Laplace kernel);
    - ``ν = 3/2``: ``(1 + √3 r) exp(−√3 r)``;
    - ``ν = 5/2``: ``(1 + √5 r + 5r²/3) exp(−√5 r)``.

    Args:
        nu: smoothness ``ν`` (static): 0.5, 1.5 or 2.5.
        lengthscale: ``ℓ > 0``.
    """

    nu: float = 1.5
    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "Matern"

    def __post_init__(self):
        if self.nu not in (0.5, 1.5, 2.5):
            raise ValueError(
                f"Matern: `nu` must be one of 0.5, 1.5, 2.5 (closed forms), got "
                f"{self.nu!r}; use RBF for the nu -> infinity limit."
            )
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        r = _dists(X, Z) / ell
        if self.nu == 0.5:
            return jnp.exp(-r)
        if self.nu == 1.5:
            s = math.sqrt(3.0) * r
            return (1.0 + s) * jnp.exp(-s)
        s = math.sqrt(5.0) * r
        return (1.0 + s + s * s / 3.0) * jnp.exp(-s)
