"""The empirical tangent kernel of an MLP, and its linearisation around a point.

``Θ̂(x, z) = (1/q) Σ_c Σ_θ ∂f_c(x)/∂θ · ∂f_c(z)/∂θ`` over every weight and bias
(the raw ``N(0, 1)`` parameters of :class:`~kernel_sd.nets.MLP`): for one output
it is ``J Jᵀ``, with the scaling of ``kernel_sd.kernels.NTK``, its limit as the
width grows. Gradient descent with step ``lr`` on ``(1/2K)‖f(X) − y‖²`` moves the
training predictions of the linearised network by the kernel step
``f ← f − lr (Θ̂(X, X)/K)(f − y)``, exactly (one output).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd._pytree import dataclass_pytree
from kernel_sd.nets.mlp import MLP, Params, check_params

__all__ = ["empirical_ntk", "Linearized", "linearize"]


@jax.jit
def _empirical_ntk_core(net: MLP, params: Params, X: Array, Z: Array) -> Array:
    """Layer-by-layer ``Σ_c J_c Jᵀ_c / q`` without forming the Jacobian.

    For ``h_l = σ_w W_l a_{l−1}/√n_{l−1} + σ_b b_l`` the weight block of layer ``l``
    is ``(σ_w²/n_{l−1}) (δ_l(x)·δ_l(z)) (a_{l−1}(x)·a_{l−1}(z))`` and the bias block
    ``σ_b² δ_l(x)·δ_l(z)``, with ``δ_l^c = ∂f_c/∂h_l`` from backpropagation; the
    readout gives ``q (a_L(x)·a_L(z)/n + σ_b²)``. Memory ``O((n + m) q n_width)``.
    """
    pre_x, acts_x = net.layers(params, X)
    pre_z, acts_z = net.layers(params, Z)
    V = params[-1]
    q, width = V.W.shape
    b2 = net.b_std**2
    w2 = net.w_std**2
    total = q * (acts_x[-1] @ acts_z[-1].T / width + b2)  # readout weights and biases
    dx = net._dphi(pre_x[-1])[:, None, :] * V.W[None] / math.sqrt(width)
    dz = net._dphi(pre_z[-1])[:, None, :] * V.W[None] / math.sqrt(width)
    for layer in range(len(params) - 2, -1, -1):
        dense = params[layer]
        dd = jnp.einsum("icw,jcw->ij", dx, dz)  # Σ_c δ^c_l(x)·δ^c_l(z)
        fan_in = dense.W.shape[1]
        total = total + w2 / fan_in * dd * (acts_x[layer] @ acts_z[layer].T) + b2 * dd
        if layer > 0:
            scale = net.w_std / math.sqrt(fan_in)  # ∂h_{l+1}/∂a_l = σ_w W_{l+1}/√n
            dx = net._dphi(pre_x[layer - 1])[:, None, :] * (scale * (dx @ dense.W))
            dz = net._dphi(pre_z[layer - 1])[:, None, :] * (scale * (dz @ dense.W))
    return total / q


def empirical_ntk(net: MLP, params: Params, X: Array, Z: Array | None = None) -> Array:
    """The empirical neural tangent kernel ``Θ̂(X, Z)`` of ``net`` at ``params``.

    ``Θ̂(x, z) = (1/q) Σ_c Σ_θ ∂f_c(x)/∂θ · ∂f_c(z)/∂θ``, summed over every raw
    parameter (weights and biases, module docstring), averaged over the ``q``
    outputs (for ``q = 1`` exactly ``J Jᵀ``). Unscaled, like ``kernel(X, Z)``:
    the kernel gradient step uses ``Θ̂/K``. At initialisation it tends to
    ``net.ntk()(X, Z)`` as the width grows, with ``O(1/√width)`` fluctuations.
    For the kernel at step ``s`` of training, pass the parameters after ``s``
    steps (``train(..., steps=s).params``).

    Args:
        net: the :class:`~kernel_sd.nets.MLP`.
        params: its parameters (``net.init`` or trained).
        X: ``(n, p)`` inputs.
        Z: ``(m, p)`` inputs (default ``X``).

    Returns:
        ``(n, m)`` array ``Θ̂(x_i, z_j)``.

    Raises:
        ValueError: ``net`` not an MLP, ``params`` not of its shape, bad inputs.
    """
    if not isinstance(net, MLP):
        raise ValueError(
            f"`net` must be a kernel_sd.nets.MLP, got {type(net).__name__}."
        )
    X = _validate.inputs("X", X)
    params = check_params(net, params, X.shape[1])
    Z = X if Z is None else _validate.inputs("Z", Z)
    if Z.shape[1] != X.shape[1]:
        raise ValueError(
            f"`Z` has {Z.shape[1]} features but `X` has {X.shape[1]}; pass inputs "
            "with the same columns."
        )
    dtype = params[0].W.dtype
    return _empirical_ntk_core(net, params, X.astype(dtype), Z.astype(dtype))


@dataclass_pytree(data_fields=["params0"], meta_fields=["net"])
@dataclasses.dataclass(frozen=True, eq=False)
class Linearized:
    """First-order Taylor expansion of ``net`` around ``params0``.

    ``f_lin(θ; x) = f(θ₀; x) + J(θ₀; x)(θ − θ₀)``, evaluated with one
    Jacobian-vector product (``jax.jvp``). Its tangent kernel is constant,
    ``empirical_ntk(net, params0)``, so gradient descent on the squared loss is
    kernel gradient descent with that kernel. Train it with
    ``kernel_sd.nets.train(lin, lin.params0, ...)``.
    """

    net: MLP
    """The network being linearised (static)."""
    params0: Params
    """The expansion point ``θ₀`` (usually the initialisation)."""

    def apply(self, params: Params, X: Array) -> Array:
        """``f(θ₀; X) + J(θ₀; X)(θ − θ₀)``, shape ``(n, q)``."""
        delta = jax.tree.map(jnp.subtract, params, self.params0)
        f0, df = jax.jvp(lambda p: self.net.apply(p, X), (self.params0,), (delta,))
        return f0 + df


def linearize(net: MLP, params0: Params) -> Linearized:
    """The linearised network of ``net`` around ``params0`` (see :class:`Linearized`).

    Raises:
        ValueError: ``net`` not an MLP or ``params0`` not of its shape.
    """
    if not isinstance(net, MLP):
        raise ValueError(
            f"`net` must be a kernel_sd.nets.MLP, got {type(net).__name__}."
        )
    params0 = check_params(net, params0, None, name="params0")
    return Linearized(net=net, params0=params0)
