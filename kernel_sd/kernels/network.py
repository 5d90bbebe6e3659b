"""Infinite-width kernels of fully connected networks: NNGP and NTK.

The network, in the NTK parameterisation (every weight and bias ``N(0, 1)``,
``p`` inputs, hidden width ``n``, ``L = depth`` hidden layers, activation ``φ``)::

    h_1     = σ_w W_1 x / √p + σ_b b_1
    h_{l+1} = σ_w W_{l+1} φ(h_l) / √n + σ_b b_{l+1}        l = 1 .. L−1
    f(x)    = v · φ(h_L) / √n + σ_b b_{L+1}                 (readout std 1)

As ``n → ∞`` the pre-activations are Gaussian processes with covariances ``Σ_l``
and the tangent kernel ``J Jᵀ`` (all weights and biases) tends to ``Θ``::

    Σ_1(x, z) = σ_w² x·z / p + σ_b²,   Θ_1 = Σ_1
    Σ_{l+1}   = σ_w² E[φ(u) φ(v)] + σ_b²,   Σ̇_{l+1} = σ_w² E[φ'(u) φ'(v)]
    Θ_{l+1}   = Σ_{l+1} + Θ_l · Σ̇_{l+1}
    (u, v) ~ N(0, [[Σ_l(x, x), Σ_l(x, z)], [Σ_l(x, z), Σ_l(z, z)]])

and ``NNGP = Σ_{L+1}``, ``NTK = Θ_{L+1}`` with ``σ_w`` replaced by the readout's
std 1 in the last step. The Gaussian expectations are closed forms: for ReLU, with
``cos θ = Σ_l(x, z)/√(Σ_l(x, x) Σ_l(z, z))`` (Cho & Saul 2009),

    E[φ(u) φ(v)]   = √(Σ_l(x, x) Σ_l(z, z)) (sin θ + (π − θ) cos θ) / (2π)
    E[φ'(u) φ'(v)] = (π − θ) / (2π)

and for erf (Williams 1997), with ``a_x = 1 + 2Σ_l(x, x)``, ``a_z = 1 + 2Σ_l(z, z)``,

    E[φ(u) φ(v)]   = (2/π) arcsin(2Σ_l(x, z) / √(a_x a_z))
    E[φ'(u) φ'(v)] = (4/π) / √(a_x a_z − 4Σ_l(x, z)²).

Numerics (ReLU). The layers carry the angle ``θ_l`` rather than the correlation:
``arccos`` of a correlation near 1 loses half the digits (``θ`` off by ~1e-8,
and ``Σ̇`` is linear in ``θ``). Derived: with ``C = σ_w²/2``, ``β = σ_b²``,
``a = √Σ_l(x, x)``, ``c = √Σ_l(z, z)`` and ``P = √(Σ_{l+1}(x, x) Σ_{l+1}(z, z))``,

    P − Σ_{l+1}(x, z) = C β (a − c)² / (P + C a c + β) + (σ_w²/2π) a c (π − J(θ))
    π − J(θ) = (π − θ) · 2 sin²(θ/2) + (θ − sin θ)        (J = sin θ + (π − θ) cos θ)

(square ``P`` and expand; ``J' = −(π − θ) sin θ``). Every term is ``>= 0`` and
free of cancellation (``θ − sin θ`` by its Taylor series below 1), so
``1 − cos θ_{l+1} = (P − Σ_{l+1})/P`` is exact to round-off and
``θ_{l+1} = 2 atan2(√(1 − cos), √(1 + cos))``. The first layer's angle is the
angle between the augmented inputs ``(σ_w x/√p, σ_b)``, from the same atan2
formula. A zero augmented input has no direction (angle ``π/2`` by convention);
its kernel values are 0, the limit, and what the network gives.
"""

from __future__ import annotations

import math
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd.kernels.base import (
    Kernel,
    _check_int,
    _check_nonnegative,
    _check_positive,
    _norms_and_angles,
    _pytree,
    _round_off_to_zero,
    _safe_sqrt,
)

__all__ = ["NNGP", "NTK", "ACTIVATIONS"]

ACTIVATIONS = ("relu", "erf")
"""Activations with closed-form Gaussian expectations."""

_SQRT2 = math.sqrt(2.0)

# Taylor coefficients of (θ − sin θ)/θ³ = Σ_k (−1)^k θ^{2k} / (2k + 3)!, k = 0..8.
# Below θ = 1 the first omitted term is < 2e-20 relative: exact in float64.
_THETA_MINUS_SIN = tuple((-1) ** k / math.factorial(2 * k + 3) for k in range(9))


def _theta_minus_sin(theta: Array) -> Array:
    """``θ − sin θ`` without the cancellation of the direct difference near 0."""
    t2 = theta * theta
    series = jnp.zeros_like(theta)
    for coef in reversed(_THETA_MINUS_SIN):
        series = series * t2 + coef
    return jnp.where(theta < 1.0, theta * t2 * series, theta - jnp.sin(theta))


def _first_layer(X, Z, w2, b2):
    """``Σ_1`` on the diagonals and across, plus the angles of the augmented inputs."""
    p = X.shape[1]
    scale = jnp.sqrt(w2 / p)
    b = jnp.sqrt(b2)
    Xa = jnp.concatenate([scale * X, jnp.broadcast_to(b, (X.shape[0], 1))], axis=1)
    Za = jnp.concatenate([scale * Z, jnp.broadcast_to(b, (Z.shape[0], 1))], axis=1)
    qx = jnp.sum(Xa * Xa, axis=-1)
    qz = jnp.sum(Za * Za, axis=-1)
    _, _, theta = _norms_and_angles(Xa, Za)
    return qx, qz, Xa @ Za.T, theta


def _relu_layer(qx, qz, theta, w2, b2):
    """One ReLU layer: ``(Σ(x,x), Σ(z,z), θ) -> (Σ', Σ̇', Σ'(x,x), Σ'(z,z), θ')``."""
    a, c = _safe_sqrt(qx), _safe_sqrt(qz)
    ac = a[:, None] * c[None, :]
    J = jnp.sin(theta) + (jnp.pi - theta) * jnp.cos(theta)
    s_new = w2 / (2.0 * jnp.pi) * ac * J + b2  # Cho & Saul, order 1
    sdot = w2 * (jnp.pi - theta) / (2.0 * jnp.pi)  # Cho & Saul, order 0
    qx_new, qz_new = 0.5 * w2 * qx + b2, 0.5 * w2 * qz + b2
    P = _safe_sqrt(qx_new[:, None] * qz_new[None, :])
    half_sin = jnp.sin(0.5 * theta)
    pi_minus_J = (jnp.pi - theta) * 2.0 * half_sin * half_sin + _theta_minus_sin(theta)
    diff = a[:, None] - c[None, :]
    # Derived (module docstring): P − Σ' as a sum of non-negative terms.
    gap = (
        0.5 * w2 * b2 * diff * diff / jnp.where(P > 0, P + 0.5 * w2 * ac + b2, 1.0)
        + w2 / (2.0 * jnp.pi) * ac * pi_minus_J
    )
    one_minus_cos = _round_off_to_zero(
        jnp.clip(gap / jnp.where(P > 0, P, 1.0), 0.0, 2.0)
    )
    theta_new = 2.0 * jnp.arctan2(
        _safe_sqrt(one_minus_cos), _safe_sqrt(2.0 - one_minus_cos)
    )
    theta_new = jnp.where(P > 0, theta_new, 0.5 * jnp.pi)
    return s_new, sdot, qx_new, qz_new, theta_new


def _erf_layer(qx, qz, s, w2, b2):
    """One erf layer: ``(Σ(x,x), Σ(z,z), Σ(x,z)) -> (Σ', Σ̇', Σ'(x,x), Σ'(z,z))``."""
    ax, az = 1.0 + 2.0 * qx, 1.0 + 2.0 * qz
    axz = ax[:, None] * az[None, :]
    corr = jnp.clip(2.0 * s / jnp.sqrt(axz), -1.0, 1.0)
    s_new = w2 * (2.0 / jnp.pi) * jnp.arcsin(corr) + b2  # Williams 1997
    qx_new = w2 * (2.0 / jnp.pi) * jnp.arcsin(2.0 * qx / ax) + b2
    qz_new = w2 * (2.0 / jnp.pi) * jnp.arcsin(2.0 * qz / az) + b2
    # a_x a_z − 4Σ_xz² = 1 + 2Σ_xx + 2Σ_zz + 4(Σ_xx Σ_zz − Σ_xz²) >= 1 (Cauchy-Schwarz).
    det = (
        1.0
        + 2.0 * (qx[:, None] + qz[None, :])
        + 4.0 * jnp.maximum(qx[:, None] * qz[None, :] - s * s, 0.0)
    )
    sdot = w2 * (4.0 / jnp.pi) / jnp.sqrt(det)
    return s_new, sdot, qx_new, qz_new


@partial(jax.jit, static_argnames=("depth", "activation"))
def _network_kernels(X, Z, w_std, b_std, *, depth, activation):
    """``(NNGP, NTK)`` of the network for the rows of ``X`` and ``Z``.

    Jitted: one compilation per shape, depth and activation (instead of one
    dispatch per elementwise operation of every layer).
    """
    w2 = jnp.asarray(w_std, X.dtype) ** 2
    b2 = jnp.asarray(b_std, X.dtype) ** 2
    one = jnp.ones((), X.dtype)
    qx, qz, s, theta = _first_layer(X, Z, w2, b2)
    ntk = s  # Θ_1 = Σ_1
    # Layers 2..L use σ_w; the readout (step L + 1) has weight std 1.
    for weight2 in [w2] * (depth - 1) + [one]:
        if activation == "relu":
            s, sdot, qx, qz, theta = _relu_layer(qx, qz, theta, weight2, b2)
        else:
            s, sdot, qx, qz = _erf_layer(qx, qz, s, weight2, b2)
        ntk = s + ntk * sdot  # Θ_{l+1} = Σ_{l+1} + Θ_l Σ̇_{l+1}
    return s, ntk


class _FullyConnected(Kernel):
    """Shared validation of :class:`NNGP` and :class:`NTK`."""

    def __post_init__(self):
        _check_int("depth", self.depth, self.name, low=1)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"{self.name}: `activation` must be one of {ACTIVATIONS} (closed-form "
                f"Gaussian expectations), got {self.activation!r}."
            )
        _check_positive("w_std", self.w_std, self.name)
        _check_nonnegative("b_std", self.b_std, self.name)


@_pytree(data=("w_std", "b_std"), meta=("depth", "activation"))
class NNGP(_FullyConnected):
    """Covariance of an infinitely wide fully connected network's output at init.

    ``k(x, z) = Σ_{L+1}(x, z)`` of the recursion in this module's docstring
    (``kernel_sd.kernels.network``): ``depth = L`` hidden layers of activation
    ``φ``, hidden weights ``σ_w = w_std``, readout weights std 1, biases
    ``σ_b = b_std``, in the NTK parameterisation. The default (ReLU,
    ``σ_w = √2``, no bias) keeps ``Σ_l(x, x) = 2‖x‖²/p`` in every layer and gives
    ``k(x, x) = ‖x‖²/p``; for ``depth = 1`` it is ``ArcCosine(order=1)(x, z)/p``.

    Args:
        depth: number of hidden layers ``L >= 1`` (static).
        activation: ``"relu"`` or ``"erf"`` (static).
        w_std: hidden-layer weight std ``σ_w > 0`` (default ``√2``).
        b_std: bias std ``σ_b >= 0`` (default 0: no biases).

    References:
        Lee, Bahri, Novak, Schoenholz, Pennington & Sohl-Dickstein, "Deep neural
        networks as Gaussian processes", ICLR 2018. Cho & Saul, "Kernel methods
        for deep learning", NeurIPS 2009. Williams, "Computing with infinite
        networks", NeurIPS 1997.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> ksd.kernels.NNGP(depth=1)(X, X).round(4).tolist()  # 1/(2π) off-diagonal
        [[0.5, 0.1592], [0.1592, 0.5]]
    """

    depth: int = 2
    activation: str = "relu"
    w_std: float | Array = _SQRT2
    b_std: float | Array = 0.0
    name: ClassVar[str] = "NNGP"

    def _eval(self, X, Z):
        nngp, _ = _network_kernels(
            X, Z, self.w_std, self.b_std, depth=self.depth, activation=self.activation
        )
        return nngp


@_pytree(data=("w_std", "b_std"), meta=("depth", "activation"))
class NTK(_FullyConnected):
    """Neural tangent kernel of an infinitely wide fully connected network.

    ``k(x, z) = Θ_{L+1}(x, z)`` of the recursion in this module's docstring
    (``kernel_sd.kernels.network``): the limit of ``Σ_θ ∂f(x)/∂θ · ∂f(z)/∂θ``
    over every weight and bias at initialisation, for ``depth = L`` hidden layers
    in the NTK parameterisation (hidden weights ``σ_w = w_std``, readout std 1,
    biases ``σ_b = b_std``). Gradient descent on ``(1/2K)‖f(X) − y‖²`` with step
    ``lr`` moves the infinitely wide network's training predictions by the
    kernel step ``f ← f − lr G (f − y)`` with ``G = NTK(X, X)/K``. The default
    (ReLU, ``σ_w = √2``, no bias) gives ``k(x, x) = (L + 1)‖x‖²/p``; for
    ``depth = 1`` it is ``(ArcCosine(1)(x, z) + x·z ArcCosine(0)(x, z))/p``.

    Args:
        depth: number of hidden layers ``L >= 1`` (static).
        activation: ``"relu"`` or ``"erf"`` (static).
        w_std: hidden-layer weight std ``σ_w > 0`` (default ``√2``).
        b_std: bias std ``σ_b >= 0`` (default 0: no biases).

    References:
        Jacot, Gabriel & Hongler, "Neural tangent kernel: convergence and
        generalization in neural networks", NeurIPS 2018. Arora, Du, Hu, Li,
        Salakhutdinov & Wang, "On exact computation with an infinitely wide
        neural net", NeurIPS 2019.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> ksd.kernels.NTK(depth=1)(X, X).round(4).tolist()  # (L + 1)/p diagonal
        [[1.0, 0.1592], [0.1592, 1.0]]
    """

    depth: int = 2
    activation: str = "relu"
    w_std: float | Array = _SQRT2
    b_std: float | Array = 0.0
    name: ClassVar[str] = "NTK"

    def _eval(self, X, Z):
        _, ntk = _network_kernels(
            X, Z, self.w_std, self.b_std, depth=self.depth, activation=self.activation
        )
        return ntk
