"""Training procedures as spectral filters ``h(d)`` on the eigenvalues of ``G``.

In the eigenbasis of ``G = k(X, X)/K = V diag(d) Vᵀ`` with targets ``z = Vᵀ y``,
each procedure studied here returns training predictions ``V diag(h(d)) z``:

==============================================  ==================================
ridge / constrained fit with multiplier c       ``d / (c + d)``  (:func:`ridge`)
gradient flow for time t                        ``1 − exp(−t d)``
gradient descent, step lr, N steps              ``1 − (1 − lr d)^N``
self-distillation rounds 0..t                   ``Π_{i<=t} d / (c_i + d)``
student on a teacher's predictions              student filter × teacher filter
labels mixed with a teacher, weight α           ``α + (1 − α) h_T(d)`` on the targets
switch from labels to a teacher at step s       :func:`late_switch`
rounds of gradient-flow distillation            :func:`flow_rounds`
==============================================  ==================================

A :class:`Filter` pairs the filter ``h`` with its *coefficient filter* ``g``
(``f(x) = g_xᵀ V diag(g) z`` at new points); :func:`kernel_sd.fit.apply` turns
either into predictions. All functions are pure, broadcast over their
arguments and are jit/vmap safe.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

__all__ = [
    "Filter",
    "ridge",
    "resolvent",
    "gradient_flow",
    "gradient_descent",
    "compose",
    "label_mixing",
    "student",
    "late_switch",
    "flow_rounds",
    "ridge_rounds",
    "pseudo_inverse",
    "effective_dimension",
    "participation_ratio",
    "Risk",
    "planted_risk",
]


class Filter(NamedTuple):
    """A procedure on the eigenbasis: its filter ``h`` and its coefficient filter ``g``.

    Training predictions are ``f(X) = V diag(h) z`` and the coefficients
    ``α = diag(g) z`` give every other point, ``f(x) = g_xᵀ V α`` with
    ``g_x = k(x, X)/K``; so ``h = d · g`` on the range of ``G``. ``g = None``
    means ``g = h / d`` there and 0 on the null space (:func:`pseudo_inverse`).
    A procedure that also fits the null space, like ridge with ``c > 0``
    (``g = 1/(c + d)`` is ``1/c`` at ``d = 0``), gives ``g`` explicitly.
    """

    h: Array
    """(..., r) filter on the training predictions (leading axes: rounds, times, grid)."""
    g: Array | None = None
    """(..., r) coefficient filter, or None for ``h / d`` (0 where ``d = 0``)."""


def ridge(d: Array, c: Array) -> Array:
    """Ridge filter ``h(d) = d / (c + d)``  [MFB20]: ``f(X) = G (cI + G)^{-1} y``.

    Conventions at the edges, so the filter never returns NaN:
    ``c = +inf`` (a collapsed round) gives 0; ``d = 0`` gives 0 for every ``c``
    (including ``c = 0``, the pseudo-inverse limit).

    Args:
        d: eigenvalues ``d_k >= 0``.
        c: multiplier ``c >= 0`` (may be ``+inf``); broadcasts against ``d``.
    """
    d = jnp.asarray(d)
    c = jnp.asarray(c, d.dtype)
    denom = c + d
    safe = jnp.where((denom > 0) & jnp.isfinite(denom), denom, 1.0)
    return jnp.where((d > 0) & jnp.isfinite(c), d / safe, 0.0)


def resolvent(d: Array, c: Array) -> Array:
    """Diagonal of ``(cI + D)^{-1}``: ``1 / (c + d)``, with the edge conventions of :func:`ridge`.

    ``c = +inf`` (a collapsed round) gives 0; ``c + d = 0`` (``c = 0`` on a null
    direction) gives 0, the pseudo-inverse. ``ridge(d, c) = d · resolvent(d, c)``
    up to rounding.
    """
    d = jnp.asarray(d)
    c = jnp.asarray(c, d.dtype)
    denom = c + d
    safe = jnp.where(denom > 0, denom, 1.0)
    return jnp.where(jnp.isfinite(c) & (denom > 0), 1.0 / safe, 0.0)


def gradient_flow(d: Array, t: Array) -> Array:
    """Gradient-flow filter ``h(d) = 1 − exp(−t d)``  [NMBMK23].

    Gradient flow from zero on ``(1/2K)‖f(X) − y‖²`` for time ``t``. Computed as
    ``−expm1(−t d)``, which keeps full relative accuracy when ``t d`` is small.
    """
    d = jnp.asarray(d)
    return -jnp.expm1(-jnp.asarray(t, d.dtype) * d)


def gradient_descent(d: Array, lr: Array, steps: Array) -> Array:
    """Gradient-descent filter ``h(d) = 1 − (1 − lr d)^N`` for ``N = steps``  [NMBMK23].

    For ``0 <= lr d < 1`` it is evaluated as ``−expm1(N log1p(−lr d))`` (accurate
    for small ``lr d``); otherwise (oscillating or divergent steps) as the power.
    """
    d = jnp.asarray(d)
    x = jnp.asarray(lr, d.dtype) * d
    n = jnp.asarray(steps, d.dtype)
    stable = (x >= 0) & (x < 1)
    smooth = -jnp.expm1(n * jnp.log1p(-jnp.where(stable, x, 0.0)))
    return jnp.where(stable, smooth, 1.0 - (1.0 - x) ** n)


def compose(*filters: Array) -> Array:
    """Filter of procedures applied in sequence: the product ``Π_i h_i(d)``.

    A student trained on a teacher's predictions has filter
    ``h_student(d) · h_teacher(d)``; ``t + 1`` self-distillation rounds have
    ``Π_{i<=t} d / (c_i + d)``.
    """
    out = jnp.asarray(filters[0])
    for h in filters[1:]:
        out = out * h
    return out


def label_mixing(h_teacher: Array, alpha) -> Array:
    """Filter of the targets ``α·y + (1 − α)·f_T(X)``: ``α + (1 − α) h_T(d)``  [NMBMK23].

    ``α = 0`` is pure distillation (the teacher's predictions), ``α = 1`` the labels.
    """
    h_teacher = jnp.asarray(h_teacher)
    return alpha + (1.0 - alpha) * h_teacher


def student(h_student: Array, h_teacher: Array, alpha=0.0) -> Array:
    """Filter of a student trained on ``α·y + (1 − α)·f_T(X)``: ``h_S · (α + (1 − α) h_T)``.

    Derived: the student's procedure is linear in its targets, whose coordinates
    are ``(α + (1 − α) h_T(d)) z``. ``α = 0`` gives ``h_S h_T`` [NMBMK23].
    """
    return compose(h_student, label_mixing(h_teacher, alpha))


def late_switch(d: Array, lr, steps: Array, switch_step, target: Array) -> Array:
    """Gradient descent on the labels for ``s`` steps, then on targets with filter ``m``.

    With ``q = 1 − lr d``, ``s = switch_step`` and ``m = target`` (e.g.
    :func:`label_mixing` of a teacher), the filter after ``N = steps`` steps is

        ``1 − q^N``                          for ``N <= s``,
        ``m − q^{N−s} (m − (1 − q^s))``      for ``N > s``.

    Derived: each step maps the coordinate ``u`` to ``target + q (u − target)``.
    ``s = 0`` is ``(1 − q^N) m``; ``s >= N`` is label-only training.
    """
    before = gradient_descent(d, lr, steps)
    after_s = gradient_descent(d, lr, switch_step)
    decay = 1.0 - gradient_descent(d, lr, jnp.maximum(steps - switch_step, 0.0))
    return jnp.where(steps <= switch_step, before, target - decay * (target - after_s))


def flow_rounds(d: Array, t: Array, alpha=0.0) -> Array:
    """``(R, r)`` filters of multi-round gradient-flow distillation.

    Round 0 trains on ``y`` for time ``t[0]``; round ``i >= 1`` trains from zero
    for time ``t[i]`` on ``α·y + (1 − α)·f_{i−1}(X)``:
    ``H_0 = h(t_0)``, ``H_i = h(t_i) (α + (1 − α) H_{i−1})``, ``h(t) = 1 − e^{−t d}``.
    """

    def step(prev, ti):
        h = gradient_flow(d, ti) * (
            alpha + (1.0 - alpha) * prev
        )  # [NMBMK23] student × target
        return h, h

    # Round 0 sees the labels: α + (1 − α)·1 = 1, so the scan starts from ones.
    _, H = jax.lax.scan(step, jnp.ones_like(d), t)
    return H


def ridge_rounds(d: Array, c: Array) -> Filter:
    """Self-distillation rounds with multipliers ``c`` ``(..., T)``  [MFB20].

    ``h_t = A_t = Π_{i<=t} d/(c_i + d)`` and ``g_t = A_{t−1} / (c_t + d)``
    (``A_{−1} = 1``): round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with
    ``Vᵀ y_t = A_{t−1} z``. Both ``(..., T, r)``; ``c_t = +inf`` (collapse) gives 0.
    """
    c = c[..., None]
    d = d.reshape((1,) * (c.ndim - 1) + (-1,))  # explicit broadcasting over rounds
    h = ridge(d, c)
    shrinkage = jnp.cumprod(h, axis=-2)  # [MFB20] A_t = Π_{i<=t} D (c_i I + D)^{-1}
    ones = jnp.ones_like(shrinkage[..., :1, :])
    prev = jnp.concatenate([ones, shrinkage[..., :-1, :]], axis=-2)  # A_{t-1}
    return Filter(h=shrinkage, g=prev * resolvent(d, c))


def pseudo_inverse(d: Array) -> Array:
    """``1/d`` on the range (``d > 0``) and 0 on the null space: the default ``g = h · d⁺``."""
    d = jnp.asarray(d)
    return jnp.where(d > 0, 1.0 / jnp.where(d > 0, d, 1.0), 0.0)


def effective_dimension(h: Array, axis: int = -1) -> Array:
    """Effective number of basis functions ``Σ_k h(d_k)`` (the degrees of freedom)."""
    return jnp.sum(h, axis=axis)


def participation_ratio(h: Array, axis: int = -1) -> Array:
    """Participation ratio ``(Σ_k h_k)² / Σ_k h_k²`` of a filter (0 for ``h = 0``).

    Between 1 (all weight on one direction) and the number of directions (equal
    weights); unlike ``Σ h`` it ignores the overall scale of ``h``.
    """
    s1 = jnp.sum(h, axis=axis)
    s2 = jnp.sum(h * h, axis=axis)
    return jnp.where(s2 > 0, s1 * s1 / jnp.where(s2 > 0, s2, 1.0), 0.0)


class Risk(NamedTuple):
    """Expected training-set risk of a filter under a planted target, split in two."""

    bias2: Array
    """``(1/K) Σ_k (1 − h_k)² θ_k²``: the part of the clean target the fit misses."""
    variance: Array
    """``(σ²/K) Σ_k h_k²``: the noise the fit passes through."""
    risk: Array
    """``bias2 + variance = E (1/K) ‖f(X) − f_true(X)‖²``."""


def planted_risk(h: Array, theta: Array, *, sigma: float, K: int) -> Risk:
    """Exact risk of the fit ``V diag(h) Vᵀ y`` for ``y = f_true(X) + ξ``, ``ξ ~ N(0, σ² I)``.

    ``θ = Vᵀ f_true(X)`` is the clean target in the eigenbasis; ``h`` must not
    depend on the noise (a penalised ridge, gradient flow for a fixed time,
    ...) and may carry leading axes (rounds, times). Entries of ``θ`` beyond
    ``h``'s length (directions outside ``V``) are not fitted.

    Derived: ``Vᵀ(V diag(h) Vᵀ y − f) = (h − 1) θ + h ⊙ Vᵀξ`` with ``Vᵀξ ~ N(0, σ² I)``;
    the cross term has mean 0.
    """
    h = jnp.asarray(h)
    theta = jnp.asarray(theta, h.dtype)
    lead = (1,) * (h.ndim - 1)  # explicit broadcasting over leading axes
    miss = 1.0 - h
    bias2 = jnp.sum(miss * miss * theta.reshape(lead + theta.shape) ** 2, axis=-1) / K
    variance = sigma**2 * jnp.sum(h * h, axis=-1) / K
    return Risk(bias2, variance, bias2 + variance)
