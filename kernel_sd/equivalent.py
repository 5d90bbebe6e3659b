"""[MFB20] equivalent kernel: round ``t`` of self-distillation is one kernel-ridge fit.

Round ``t`` of self-distillation on ``y`` (``kernel_sd.distill``) predicts
``f_t(X) = V diag(B_t) z`` with ``B_t = Π_{i<=t} d/(c_i + d)`` (the trace's
``shrinkage``) and ``z = Vᵀ y``. The same predictions, at the training points and
at every other point, come from ordinary kernel ridge regression on the
*original* labels ``y`` with a modified kernel ``g†_t`` and ridge ``ĉ``:
:func:`equivalent_kernel` builds ``g†_t``, :func:`complexity` the capacity
quantities of the fits ``f_t`` per round.

This module sits beside ``kernel_sd.distill`` (it reads a trace's spectrum and
multipliers) and below nothing else: the filters ``B_t`` come from the trace, and
new points enter through the features ``g_xᵀ V`` of :func:`kernel_sd.features`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd.fit import Trace
from kernel_sd.spectra.base import Spectrum

__all__ = ["EquivalentKernel", "Complexity", "equivalent_kernel", "complexity"]


class EquivalentKernel(NamedTuple):
    """The kernel ``g†_t`` of one round, in the eigenbasis of ``G = V diag(d) Vᵀ``.

    ``g†_t(x, x')/K = g(x, x')/K + Σ_k (s_k − 1)/d_k · (g_xᵀ v_k)(g_{x'}ᵀ v_k)``
    with ``g_x = k(x, X)/K``; on the training points ``G†_t = V diag(s ⊙ d) Vᵀ``.
    Scaled by ``1/K`` like ``G`` everywhere.
    """

    scale: Array
    """(r,) ``s_k = ĉ B_t[k] / (d_k (1 − B_t[k]))`` (0 where ``d_k = 0`` or ``B_t = 0``)."""
    eigvals: Array
    """(r,) ``d†_k = s_k d_k``: the eigenvalues of ``G†_t = g†_t(X, X)/K``."""
    shrinkage: Array
    """(r,) ``B_t``: the round's filter, ``= d†/(ĉ + d†)``."""
    c_hat: Array
    """() the ridge ``ĉ > 0`` of the equivalent fit."""
    round: int
    """The round ``t``."""
    spectrum: Spectrum
    """The spectrum of ``G`` the trace used."""

    def gram(self) -> Array:
        """``(K, K)`` ``G†_t = g†_t(X, X)/K = V diag(d†) Vᵀ`` (stored eigenvectors only)."""
        V = _stored_eigvecs(self.spectrum)
        return (V * self.eigvals[None, :]) @ V.T

    def cross(self, features: Array) -> Array:
        """``(m, K)`` ``g†_t(x, X)/K = g_xᵀ V diag(s) Vᵀ`` for rows ``g_xᵀ V`` of ``features``.

        ``features`` is ``kernel_sd.features(kernel, X, X_new, spectrum)``.
        """
        V = _stored_eigvecs(self.spectrum)
        return (jnp.asarray(features) * self.scale[None, :]) @ V.T

    def block(self, features_a: Array, features_b: Array, base: Array) -> Array:
        """``g†_t(A, B)/K = k(A, B)/K + W_A diag((s − 1)/d) W_Bᵀ`` between new points.

        Args:
            features_a, features_b: rows ``g_xᵀ V`` of the two point sets.
            base: ``(m_A, m_B)`` ``k(A, B)/K`` of the original kernel.
        """
        d = self.spectrum.eigvals
        w = jnp.where(d > 0, (self.scale - 1.0) / jnp.where(d > 0, d, 1.0), 0.0)
        return (
            jnp.asarray(base)
            + (jnp.asarray(features_a) * w[None, :]) @ jnp.asarray(features_b).T
        )


class Complexity(NamedTuple):
    """Capacity of the fits ``f_t`` per round (leading axis: rounds)."""

    effective_dimension: Array
    """(T,) ``Σ_k B_t[k] = tr G†_t (ĉ I + G†_t)^{-1}`` (independent of ``ĉ``)."""
    norm2: Array
    """(T,) ``‖f_t‖²`` in the RKHS of ``g†_t``: ``(1/(ĉK)) Σ_k B_t(1 − B_t) z_k²``."""
    trace: Array
    """(T,) ``tr G†_t = Σ_k ĉ B_t/(1 − B_t)``."""
    rademacher: Array
    """(T,) ``‖f_t‖_{g†_t} · sqrt(Σ_i g†_t(x_i, x_i))/K = sqrt(norm2 · trace / K)``."""
    rkhs_norm2: Array
    """(T,) ``R(f_t) = (1/K) Σ_k B_t² z_k² / d_k``: the norm in the original RKHS."""


def _stored_eigvecs(spec: Spectrum) -> Array:
    if not isinstance(spec.eigvecs, (np.ndarray, jnp.ndarray)):
        raise ValueError(
            "the equivalent kernel's Gram blocks need stored eigenvectors; this "
            "spectrum keeps them implicit (Nyström with vectors='implicit'). Use a "
            "spectrum with stored eigenvectors (vectors='stored' or ksd.spectrum)."
        )
    return jnp.asarray(spec.eigvecs)


def _multipliers(trace) -> Array:
    if not isinstance(trace, Trace) or trace.c is None or trace.spectrum is None:
        raise ValueError(
            "`trace` must be a self-distillation trace (ksd.self_distill or "
            "distill_from_spectrum), with multipliers `c` and its spectrum."
        )
    c = jnp.asarray(trace.c)
    if c.ndim != 1:
        raise ValueError(
            f"`trace` must be a single trace (c of shape (T,)), got c of shape "
            f"{c.shape}; index a sweep first (e.g. jax.tree.map(lambda a: a[i], sweep))."
        )
    return c


@jax.jit
def _rounds(d: Array, c: Array, chat: Array):
    """``B_t``, ``1 − B_t`` and ``s_t`` of every round (one compilation per shape).

    ``log B_t = −Σ_{i<=t} log(1 + c_i/d)`` (``−inf`` off the range of ``G``);
    ``1 − B_t = −expm1(log B_t)`` keeps full accuracy when ``B_t`` is close to 1.
    """
    pos = d > 0
    safe_d = jnp.where(pos, d, 1.0)
    # c_i = +inf (collapsed round) gives log1p(inf) = inf, so B_t = 0 from then on.
    steps = jnp.log1p(c[:, None] / safe_d[None, :])
    logB = jnp.where(pos[None, :], -jnp.cumsum(steps, axis=0), -jnp.inf)
    B = jnp.exp(logB)
    one_minus_B = -jnp.expm1(logB)
    ok = pos[None, :] & (B > 0)
    s = jnp.where(
        ok, chat * B / (safe_d[None, :] * jnp.where(ok, one_minus_B, 1.0)), 0.0
    )
    return B, one_minus_B, s


@jax.jit
def _row(d: Array, c: Array, chat: Array, t: Array):
    """``B_t`` and ``s_t`` of round ``t`` (a traced index: one compilation for all rounds)."""
    B, _, s = _rounds(d, c, chat)
    return B[t], s[t]


def _c_hat(c: Array, c_hat) -> Array:
    if c_hat is None:
        value = float(c[0])
        if not (np.isfinite(value) and value > 0):
            raise ValueError(
                f"the default `c_hat` is the trace's c_0 = {value!r}, which is not a "
                "finite positive ridge (a penalised trace with lam = 0, or a fit that "
                "collapsed at round 0); pass c_hat > 0 explicitly."
            )
        return jnp.asarray(value, c.dtype)
    try:
        value = float(c_hat)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(
            f"`c_hat` must be a finite ridge > 0 (default: the trace's c_0), got {c_hat!r}."
        )
    return jnp.asarray(value, c.dtype)


def equivalent_kernel(trace: Trace, round: int, *, c_hat=None) -> EquivalentKernel:
    """The kernel ``g†_t`` whose ridge fit on the original labels is round ``t``  [MFB20].

    With ``B_t = Π_{i<=t} d/(c_i + d)`` and any ridge ``ĉ > 0``, scale eigendirection
    ``k`` by ``s_k = ĉ B_t[k] / (d_k (1 − B_t[k]))``:

        ``g†_t(x, x')/K = g(x, x')/K + Σ_k (s_k − 1)/d_k (g_xᵀ v_k)(g_{x'}ᵀ v_k)``,
        ``G†_t = g†_t(X, X)/K = V diag(s ⊙ d) Vᵀ``,
        ``f_t(x) = g†_t(x, X)/K · (ĉ I + G†_t)^{-1} y``  for every ``x``,

    where ``f_t`` is round ``t`` of self-distillation on ``y`` and ``g_x = k(x, X)/K``.
    The predictions do not depend on ``ĉ`` (the kernel does); the default
    ``ĉ = c_0`` makes ``s = 1`` at round 0, i.e. ``g†_0 = g``, so the kernels of
    successive rounds are comparable. [MFB20] state that round ``t`` is a kernel
    ridge fit with a kernel ``g†`` built from the same quantities; its exact
    normalisation was not checked against the paper, the form here is derived.

    Derived: the ridge fit with ``G†`` has training filter
    ``d†/(ĉ + d†) = B_t`` (solve for ``d† = ĉ B_t/(1 − B_t)``) and coefficients
    ``α† = V diag((1 − B_t)/ĉ) z``; at a new point ``g†(x, X)/K = g_xᵀ V diag(s) Vᵀ``
    (use ``g_{x_j}ᵀ v_k = d_k V_{jk}`` and ``g_x = V Vᵀ g_x`` on the range), so
    ``f(x) = Σ_k (g_xᵀ v_k) s_k (1 − B_t[k]) z_k/ĉ = Σ_k (g_xᵀ v_k) B_t[k] z_k/d_k``,
    which is round ``t``'s prediction (its coefficients are ``B_t/d ⊙ z``). The
    kernel is ``g`` minus its Nyström projection on ``X`` (a Schur complement,
    positive semi-definite) plus ``Σ_k s_k/d_k (g_xᵀ v_k)(g_{x'}ᵀ v_k)`` (``s >= 0``):
    a valid kernel on the whole input space, equal to ``g`` away from the span of
    the training functions. ``1 − B_t`` is evaluated as ``−expm1(log B_t)``.

    Args:
        trace: a single self-distillation trace (constrained or penalised).
        round: the round ``t``, ``0 <= t < trace.rounds``. A collapsed round has
            ``B_t = 0``: ``s = 0`` and the fit is 0.
        c_hat: the ridge ``ĉ > 0`` of the equivalent fit (default: ``c_0``).

    Returns:
        An :class:`EquivalentKernel` (Gram blocks via ``gram``, ``cross``, ``block``).

    Raises:
        ValueError: not a single self-distillation trace; ``round`` out of range;
            ``c_hat`` not a finite positive number (or ``c_0`` unusable as default).
    """
    c = _multipliers(trace)
    T = int(c.shape[0])
    if (
        isinstance(round, bool)
        or not isinstance(round, (int, np.integer))
        or not (0 <= round < T)
    ):
        raise ValueError(f"`round` must be an integer in [0, {T}), got {round!r}.")
    chat = _c_hat(c, c_hat)
    d = trace.spectrum.eigvals
    B, s = _row(d, c, chat, jnp.asarray(round))
    return EquivalentKernel(
        scale=s,
        eigvals=s * d,
        shrinkage=B,
        c_hat=chat,
        round=int(round),
        spectrum=trace.spectrum,
    )


def complexity(trace: Trace, *, c_hat=None) -> Complexity:
    """Capacity of each round's fit, through its equivalent kernel ``g†_t``  [MFB20].

    Per round ``t`` (``z = Vᵀ y``, summed over output columns):

    - ``Σ_k B_t[k]``, the effective number of basis functions;
    - ``‖f_t‖²_{g†_t} = α†ᵀ G†_t α† / K = (1/(ĉK)) Σ_k B_t(1 − B_t) z_k²``;
    - ``tr G†_t = Σ_k ĉ B_t/(1 − B_t)``;
    - ``‖f_t‖_{g†_t} · sqrt(Σ_i g†_t(x_i, x_i))/K = sqrt(‖f_t‖² tr G†_t / K)``: the
      empirical Rademacher complexity bound of the smallest ball of the RKHS of
      ``g†_t`` that contains ``f_t`` (Bartlett & Mendelson 2002), which enters
      kernel-ridge generalisation bounds;
    - ``R(f_t) = (1/K) Σ_k B_t² z_k²/d_k``, the norm in the original RKHS.

    All but ``norm2`` and ``trace`` are independent of ``ĉ``; [MFB20] apply kernel
    generalisation bounds to ``g†_t``, but which quantity of this list their
    discussion uses was not checked against the paper. Derived: insert
    ``α† = V diag((1 − B_t)/ĉ) z`` and ``d† = ĉ B_t/(1 − B_t)``.

    Args:
        trace: a single self-distillation trace.
        c_hat: the ridge ``ĉ > 0`` of the equivalent fits (default: ``c_0``).
    """
    c = _multipliers(trace)
    chat = _c_hat(c, c_hat)
    d = trace.spectrum.eigvals
    z = jnp.asarray(trace.z0)
    z2 = z * z if z.ndim == 1 else jnp.sum(z * z, axis=1)
    K = trace.spectrum.n_train
    B, one_minus_B, s = _rounds(d, c, chat)
    pos = (d > 0)[None, :]
    safe_d = jnp.where(d > 0, d, 1.0)[None, :]
    norm2 = jnp.sum(B * one_minus_B * z2[None, :], axis=1) / (chat * K)
    tr = jnp.sum(s * d[None, :], axis=1)
    rkhs = jnp.sum(jnp.where(pos, B * B * z2[None, :] / safe_d, 0.0), axis=1) / K
    return Complexity(
        effective_dimension=jnp.sum(B, axis=1),
        norm2=norm2,
        trace=tr,
        rademacher=jnp.sqrt(norm2 * tr / K),
        rkhs_norm2=rkhs,
    )
