"""Generalised cross-validation of the whole (ε or lam, round) grid from the full-data spectrum."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd._weights import kept_rows, scaled_sqrt, weighted_spectrum
from kernel_sd.distill import rounds_grid
from kernel_sd.filters import resolvent, ridge
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel, gram
from kernel_sd.selection._common import (
    GCVScores,
    _as_columns,
    _failed,
    _grid,
    _null_energy,
    _report,
)
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB, exact_spectrum


def _divergence_correction(d: Array, s: Array, c: Array) -> Array:
    """(T,) ``q Σ_k A_t[k] − tr(∂u_t/∂z)`` for constrained rounds with multipliers ``c``.

    Derived: round ``i`` keeps ``φ_i = Σ_k a_i² A_{i−1}² s_k (+ s_⊥ at i = 0) = Kε``
    with ``a_i = c_i/(c_i + d)``, ``s_k = ‖z_k‖²``. Implicit differentiation gives
    ``dc_i/dz_kj = γ_i[k] z_kj`` with
    ``γ_i = −(2 a_i² A_{i−1}² + Σ_{m<i} P_{im} γ_m) / Q_i``,
    ``P_{im} = ∂φ_i/∂c_m = −2 Σ_k a_i² A_{i−1}² s_k / (c_m + d_k)``,
    ``Q_i = ∂φ_i/∂c_i = 2 Σ_k a_i b_i A_{i−1}² s_k / (c_i + d_k)`` (``b = 1 − a``),
    and since ``∂A_t/∂c_i = −A_t/(c_i + d)`` for ``i <= t``,
    ``tr(∂u_t/∂z) = q Σ_k A_t[k] − Σ_k A_t[k] Σ_{i<=t} γ_i[k] s_k / (c_i + d_k)``.
    A collapsed round (``c_i = +inf``) is locally constant: ``γ_i = 0``.
    """
    T = c.shape[0]
    b = ridge(d[None, :], c[:, None])  # (T, r) d/(c_i + d), 0 after collapse
    R = resolvent(d[None, :], c[:, None])  # (T, r) 1/(c_i + d), 0 after collapse
    a = 1.0 - b
    A = jnp.cumprod(b, axis=0)
    A_prev = jnp.concatenate([jnp.ones_like(A[:1]), A[:-1]], axis=0)
    rounds = jnp.arange(T)

    def step(gammas, i):
        base = (a[i] * A_prev[i]) ** 2
        P = jnp.where(rounds < i, -2.0 * (R @ (base * s)), 0.0)
        Q = 2.0 * jnp.sum(a[i] * b[i] * A_prev[i] ** 2 * s * R[i])
        num = 2.0 * base + P @ gammas
        gamma = jnp.where(Q > 0, -num / jnp.where(Q > 0, Q, 1.0), 0.0)
        return gammas.at[i].set(gamma), None

    gammas, _ = jax.lax.scan(step, jnp.zeros_like(A), rounds)
    cumulative = jnp.cumsum(R * gammas * s[None, :], axis=0)  # Σ_{i<=t}
    return jnp.sum(A * cumulative, axis=1)


@partial(jax.jit, static_argnames=("rounds", "constrained"))
def _gcv_core(d, z0, s_perp0, floor, hyper, n, *, rounds, constrained):
    """GCV score, training MSE, degrees of freedom, ``c`` and status of the grid."""
    c, status, _, filt = rounds_grid(
        d, z0, s_perp0, floor, hyper, rounds=rounds, constrained=constrained
    )
    h = filt.h  # (E, T, r)
    s = jnp.sum(z0 * z0, axis=1)
    q = z0.shape[1]
    miss = 1.0 - h
    rss = jnp.sum(miss * miss * s[None, None], axis=-1) + s_perp0  # ‖y − f_t(X)‖²
    df = q * jnp.sum(h, axis=-1)  # q tr(H_t), H_t = V diag(h_t) Vᵀ
    if constrained:
        df = df - jax.vmap(partial(_divergence_correction, d, s))(c)
    N = n * q
    denom = 1.0 - df / N
    score = jnp.where(
        denom > 0, (rss / N) / jnp.where(denom > 0, denom, 1.0) ** 2, jnp.inf
    )
    score = jnp.where(_failed(status), jnp.inf, score)
    return score, rss / N, df, c, status, _null_energy(d, z0, s_perp0, floor)


def gcv_from_spectrum(spec: Spectrum, Y: Array, *, constrained, values, rounds):
    """:func:`gcv` for trusted arguments: ``spec`` of (weighted) ``G``, ``Y`` ``(n, q)``
    the (weighted) targets ``W'^{1/2} y``."""
    n = spec.n_train
    dtype = spec.eigvals.dtype
    z0, s_perp0 = targets_in_eigenbasis(spec, Y)
    hyper = jnp.asarray(n * values if constrained else values, dtype)
    out = _gcv_core(
        spec.eigvals, z0, s_perp0, spec.noise_floor, hyper, jnp.asarray(n, dtype),
        rounds=rounds, constrained=constrained,
    )  # fmt: skip
    score, mse, df, c, status, null = out
    _report(
        values, constrained, status[None], c[None], [float(spec.noise_floor)],
        [float(null) / n], "on the data",
    )  # fmt: skip
    return GCVScores(score, mse, df, c, status)


def gcv(
    kernel: Kernel,
    X: Array,
    y: Array,
    *,
    eps: Array | None = None,
    lam: Array | None = None,
    rounds: int = 10,
    spectrum: Spectrum | None = None,
    sample_weight=None,
) -> GCVScores:
    """Generalised cross-validation of every (``eps`` or ``lam``, round) from one spectrum.

    With ``N = n q`` (``n`` rows, ``q`` columns of ``y``),

        GCV_t = (1/N) ‖y − f_t(X)‖² / (1 − df_t / N)².

    Penalised form: ``f_t(X) = H_t y`` with the linear smoother
    ``H_t = V diag(h_t) Vᵀ``, ``h_t = (d/(lam + d))^{t+1}``, and
    ``df_t = q tr(H_t) = q Σ_k h_t(d_k)`` (Craven & Wahba's GCV), all from the
    spectrum of the full data: ``‖y − f_t(X)‖² = Σ_k (1 − h_t[k])² ‖z_k‖²`` (+ the
    energy outside ``span V``).

    Constrained form: ``c_t`` depends on ``y``, so ``f_t`` is not a linear
    smoother and ``tr(H_t)`` would under-count the fit's freedom. We use the
    degrees of freedom of the actual fit, its divergence
    ``df_t = tr(∂f_t(X)/∂y)`` (Stein's; it equals ``q tr(H_t)`` for a fixed
    smoother), computed exactly by differentiating ``φ(c_t) = Kε`` through the
    rounds. Derived: see ``_divergence_correction``;
    ``df_t = q Σ_k A_t[k] + Σ_k A_t[k] Σ_{i<=t} |γ_i[k]| ‖z_k‖² / (c_i + d_k)``
    exceeds ``q tr(H_t)`` because ``c_t`` shrinks as the targets grow. After the
    collapse ``f_t = 0`` and ``df_t = 0``.

    An infeasible value, or ``df_t >= N`` (an interpolating fit, e.g. ``lam = 0``
    on a full-rank ``G``), scores ``+inf``. With ``sample_weight`` the fit is the
    weighted one (``kernel_sd._weights``) and the formula applies to
    ``W'^{1/2} y`` with ``n`` the number of rows of positive weight and
    ``w' = n w / Σ w``, so ``‖·‖²/N`` is the weighted mean squared error.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` inputs.
        y: ``(n,)`` or ``(n, q)`` targets.
        eps, lam: ``(E,)`` grid of the constrained or the penalised form.
        rounds: number of rounds ``T >= 1``.
        spectrum: a spectrum of ``k(X, X)/K`` to reuse (not with ``sample_weight``).
        sample_weight: optional ``(n,)`` weights ``>= 0``.

    Returns:
        A :class:`GCVScores` with fields of shape ``(E, T)``.

    Raises:
        ValueError: bad arguments (named in the message).

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 30)[:, None]
        >>> y = jnp.sin(6.0 * X[:, 0])
        >>> g = ksd.selection.gcv(ksd.kernels.RBF(lengthscale=0.2), X, y,
        ...                       lam=[1e-4, 1e-2], rounds=2)
        >>> g.score.shape, bool(jnp.all(g.df > 0))
        ((2, 2), True)
    """
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    if spectrum is not None:
        spectrum = _validate.spectrum_of_inputs("spectrum", spectrum, X)
    dtype = X.dtype if spectrum is None else spectrum.eigvals.dtype
    y = _validate.targets("y", y, n, dtype)
    rounds = _validate.positive_int("rounds", rounds)
    constrained, values = _grid(eps, lam)
    w = _validate.sample_weight(sample_weight, n)
    if w is not None and spectrum is not None:
        raise ValueError(
            "`spectrum` and `sample_weight` cannot be combined: the weighted fit "
            "needs the spectrum of W^{1/2} k(X, X) W^{1/2}; pass one of them."
        )
    Y = _as_columns(y)
    if w is None:
        if spectrum is None:
            spectrum = exact_spectrum(
                kernel,
                X,
                block_size=DEFAULT_BLOCK_SIZE,
                max_memory_gb=DEFAULT_MAX_MEMORY_GB,
            )
    else:
        keep = kept_rows(w)
        sqrt_w = scaled_sqrt(w[keep])
        spectrum = weighted_spectrum(gram(kernel, X[keep]), sqrt_w)
        Y = Y[keep] * jnp.asarray(sqrt_w, dtype)[:, None]
    return gcv_from_spectrum(
        spectrum, Y, constrained=constrained, values=values, rounds=rounds
    )
