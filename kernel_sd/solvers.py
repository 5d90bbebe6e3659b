"""The Lagrange multiplier ``c`` of the constrained fit, from the constraint level ε.

[MFB20] fit ``f`` in the RKHS of ``k`` subject to ``(1/K) Σ_k (f(x_k) − y_k)² <= ε``.
The solution is ``f(X) = G (cI + G)^{-1} y`` with ``c > 0`` the root of

    φ(c) = Σ_k (c / (c + d_k))² s_k + s_⊥ = Kε,        s_k = ‖z_k‖², z = Vᵀ y,

where ``s_⊥`` is the energy of ``y`` outside the span of ``V`` (0 on the exact
path). ``φ`` increases from the null-space energy ``φ(0+)`` to ``‖y‖²``, so:

- ``‖y‖² <= Kε`` (to a relative 16 ulps): the fit is ``f = 0`` (*collapse*,
  ``c = +inf``);
- the energy on the numerical null space (eigenvalues at or below the noise
  floor ``K · eps · d_max``) ``>= Kε``: no multiplier above the round-off of
  ``G`` satisfies the constraint (*infeasible*; ``φ(0+)``, the energy on exact
  zeros, is at most that energy);
- otherwise a unique root exists.

The root finder is safeguarded Newton in ``u = log c`` inside a guaranteed
bracket (derived bounds ``d_min/(r' − 1) <= c <= d_max/(r' − 1)``), jittable
and vmappable over ε, with a status code instead of exceptions.

The penalised form (``c_t = λ``) needs no root and no eigenbasis:
:func:`penalised_rounds` runs its rounds from one Cholesky factorisation of
``G + λI``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis

__all__ = [
    "MultiplierResult",
    "multiplier",
    "multiplier_core",
    "targets_in_eigenbasis",  # kept here for compatibility; defined in spectra.eigvecs
    "raise_for_status",
    "STATUS_OK",
    "STATUS_COLLAPSED",
    "STATUS_INFEASIBLE",
    "STATUS_NOT_CONVERGED",
    "MAX_ITERATIONS",
    "penalised_rounds",
]

STATUS_OK = 0
STATUS_COLLAPSED = 1
STATUS_INFEASIBLE = 2
STATUS_NOT_CONVERGED = 3

MAX_ITERATIONS = 100
"""Newton/bisection steps before giving up (bisection alone needs ~60 in float64)."""


class MultiplierResult(NamedTuple):
    """Root of ``φ(c) = Kε`` and how it was found."""

    c: Array
    """() multiplier ``c``; ``+inf`` on collapse, 0 when infeasible (never NaN)."""
    status: Array
    """() int: 0 ok, 1 collapsed (``‖y‖² <= Kε``), 2 infeasible, 3 not converged."""
    iterations: Array
    """() Newton/bisection steps taken."""
    null_energy: Array
    """() ``φ(0+)``: energy of the targets on the numerical null space of ``G``."""


def _level_terms(d: Array, s: Array, s_perp: Array, c: Array, use_phi: Array):
    """``(φ(c), w(c))`` when ``use_phi``, else ``(ψ(c), w(c))``, cancellation-free.

    With ``a = c/(c + d)`` and ``b = d/(c + d)`` (so ``a + b = 1``):
    ``φ = s_⊥ + Σ s a²``, ``ψ = ‖y‖² − φ = Σ s b (1 + a)``, ``w = dφ/d(log c) =
    2 Σ s a² b``. The root finder's inner loop: one division per term and two
    sums (the one of ``φ``, ``ψ`` it uses, and ``w``).
    """
    inv = 1.0 / (c + d)
    a = c * inv
    b = d * inv
    sa2 = s * a * a
    level = jnp.sum(jnp.where(use_phi, sa2, s * b * (1.0 + a)))
    w = 2.0 * jnp.sum(sa2 * b)
    return jnp.where(use_phi, s_perp + level, level), w


@jax.jit
def multiplier_core(
    d: Array,
    s: Array,
    s_perp: Array,
    keps: Array,
    floor: Array = 0.0,
    c_start: Array | None = None,
) -> MultiplierResult:
    """Solve ``φ(c) = keps`` for eigenvalues ``d >= 0`` and energies ``s >= 0``.

    The jittable, vmappable core behind :func:`multiplier` and the rounds of
    ``kernel_sd.distill``: arguments are trusted, failures come back as ``status``.

    ``φ`` uses every ``d_k``, those under the noise floor included; the
    feasibility test uses the energy on the numerical null space ``d_k <= floor``
    (``floor``: the spectrum's ``noise_floor``; 0 treats only ``d_k = 0`` as null).
    That energy is at least ``φ(0+)``, the energy on ``d_k = 0``, so a problem
    declared feasible has a root. ``c_start``: where Newton starts (clipped into
    the bracket; default its midpoint in ``log c``), e.g. the previous round's
    multiplier, which is close below the next one (``c_t`` increases with ``t``).
    """
    dtype = d.dtype
    eps = jnp.finfo(dtype).eps
    tiny = jnp.finfo(dtype).tiny
    keps = jnp.asarray(keps, dtype)
    s_perp = jnp.asarray(s_perp, dtype)

    total = s_perp + jnp.sum(s)
    on_range = (d > 0) & (s > 0)
    null_exact = total - jnp.sum(jnp.where(on_range, s, 0.0))  # φ(0+)
    null = total - jnp.sum(jnp.where((d > floor) & (s > 0), s, 0.0))
    # ‖y‖² is known to a few ulps only (it is computed as ‖Vᵀ y‖²): at the boundary
    # ‖y‖² ≈ Kε the root would be ~1/eps_machine times d_max, i.e. a fit of round-off.
    collapsed = total <= keps * (1.0 + 16.0 * eps)
    infeasible = (~collapsed) & (null >= keps)
    active = ~(collapsed | infeasible)

    # Bracket: (c/(c+d_max))² R <= Kε − φ(0+) <= (c/(c+d_min))² R, R = energy on d > 0.
    r_prime = jnp.sqrt(
        jnp.maximum(total - null_exact, tiny) / jnp.maximum(keps - null_exact, tiny)
    )
    gap = jnp.maximum(r_prime - 1.0, tiny)
    d_lo = jnp.min(jnp.where(on_range, d, jnp.inf))
    d_hi = jnp.max(jnp.where(on_range, d, 0.0))
    # On inactive problems substitute a harmless bracket so the loop stays finite.
    # Logs of each factor: d_lo/gap may underflow for sub-floor d_lo and large gap.
    log_gap = jnp.log(gap)
    lo = jnp.where(active, jnp.log(jnp.where(active, d_lo, 1.0)) - log_gap, 0.0)
    hi = jnp.where(active, jnp.log(jnp.where(active, d_hi, 1.0)) - log_gap, 0.0)

    # Newton on log φ when Kε is the smaller half of ‖y‖², else on −log ψ: both are
    # nearly linear in log c at the ends of the bracket, and neither cancels.
    use_phi = keps <= 0.5 * total
    log_target = jnp.where(
        use_phi, jnp.log(keps), jnp.log(jnp.maximum(total - keps, tiny))
    )
    tol = 64.0 * eps

    def F(u):
        # log φ − log Kε, or log(‖y‖² − Kε) − log ψ, and its derivative in u.
        level, w = _level_terms(d, s, s_perp, jnp.exp(u), use_phi)
        val = jnp.where(use_phi, jnp.log(level) - log_target, log_target - jnp.log(level))
        return val, w / level

    def cond(state):
        _, _, _, it, done = state
        return (~done) & (it < MAX_ITERATIONS)

    def body(state):
        u, lo, hi, it, _ = state
        f, df = F(u)
        at_root = jnp.abs(f) <= 4.0 * eps  # F is at round-off: u is as good as it gets
        lo = jnp.where(f < 0, u, lo)
        hi = jnp.where(f > 0, u, hi)
        newton = u - f / df
        inside = jnp.isfinite(newton) & (newton >= lo) & (newton <= hi)
        u_new = jnp.where(at_root, u, jnp.where(inside, newton, 0.5 * (lo + hi)))
        scale = jnp.maximum(1.0, jnp.abs(u))
        done = at_root | (jnp.abs(u_new - u) <= tol * scale) | (hi - lo <= tol * scale)
        return u_new, lo, hi, it + 1, done

    u0 = 0.5 * (lo + hi)
    if c_start is not None:
        start = jnp.log(jnp.asarray(c_start, dtype))
        u0 = jnp.where(jnp.isfinite(start), jnp.clip(start, lo, hi), u0)
    state = (u0, lo, hi, jnp.asarray(0), ~active | (hi - lo <= tol))
    u, _, _, iters, done = jax.lax.while_loop(cond, body, state)

    c = jnp.where(collapsed, jnp.inf, jnp.where(infeasible, 0.0, jnp.exp(u)))
    status = jnp.where(
        collapsed,
        STATUS_COLLAPSED,
        jnp.where(
            infeasible,
            STATUS_INFEASIBLE,
            jnp.where(done, STATUS_OK, STATUS_NOT_CONVERGED),
        ),
    )
    return MultiplierResult(c=c, status=status, iterations=iters, null_energy=null)


_multiplier_core = multiplier_core  # the name this function had before


def _rank_advice(kernel) -> str:
    """How to shrink the numerical null space of ``G`` with this kind of kernel.

    Measured on 40 points of [0, 1] with random targets: RBF lengthscales 2, 0.5,
    0.1, 0.03 give numerical ranks 7, 12, 31, 40 (a wider, smoother kernel has
    more eigenvalues under the noise floor, not fewer); Laplace and Matérn 3/2
    have full rank; Polynomial(3) rank 4; Linear and ArcCosine(1) rank 1.
    """
    name = type(kernel).__name__ if kernel is not None else ""
    if hasattr(kernel, "lengthscale"):
        fix = (
            f"a shorter lengthscale or a rougher kernel ({name} with a wide "
            "lengthscale has many eigenvalues under the noise floor; Laplace or "
            "Matern(nu=0.5) have fewer)"
        )
    elif name == "Polynomial":
        fix = (
            "a higher `degree` (Polynomial has rank at most C(p + degree, degree) "
            "on p features) or a full-rank kernel such as Laplace or RBF"
        )
    elif name == "Linear":
        fix = (
            "more input features or a nonlinear full-rank kernel such as Laplace "
            "or RBF (Linear has rank at most p, the number of features)"
        )
    elif name == "ArcCosine":
        fix = (
            "a constant bias column in X or a full-rank kernel such as Laplace or "
            "RBF (ArcCosine has low rank on low-dimensional inputs)"
        )
    else:
        fix = (
            "a kernel with fewer eigenvalues under the noise floor (a shorter "
            "lengthscale or a rougher kernel such as Laplace; for Linear or "
            "Polynomial, more features or a higher degree)"
        )
    return fix + ", or remove duplicated inputs (or add jitter to them)"


def raise_for_status(
    status: int,
    null_energy: float,
    n: int,
    eps: float,
    *,
    low_rank: bool = False,
    kernel=None,
) -> None:
    """Turn a failure status of the root finder into an exception that says the fix.

    ``low_rank``: the spectrum is incomplete (Nyström), so its null space also
    holds everything outside the landmarks' span, and more landmarks help.
    ``kernel``: the kernel of the spectrum when known, to fit the advice to it.
    """
    if status == STATUS_INFEASIBLE:
        floor_eps = null_energy / n
        more = (
            " For a low-rank (Nyström) spectrum, more landmarks `m` shrink the null "
            "space."
            if low_rank
            else ""
        )
        raise ValueError(
            f"`eps`={eps:g} is infeasible: the targets' energy on the numerical null "
            "space of G (eigenvalues at or below the noise floor) alone gives "
            f"(1/K)·residual = {floor_eps:.6g} >= eps, so no multiplier c above the "
            f"round-off of G satisfies the constraint. Use eps > {floor_eps:.6g}, "
            + _rank_advice(kernel)
            + "."
            + more
        )
    if status == STATUS_NOT_CONVERGED:
        raise RuntimeError(
            f"The multiplier search did not converge in {MAX_ITERATIONS} steps "
            f"(eps={eps:g}); please report this problem with its data."
        )


def multiplier(spec: Spectrum, y: Array, *, eps: float) -> MultiplierResult:
    """Multiplier ``c`` of the fit ``min R(f) s.t. (1/K)‖f(X) − y‖² <= ε``  [MFB20].

    Solves ``φ(c) = Σ_k (c z_k / (c + d_k))² = Kε`` with ``z = Vᵀ y`` (summing
    over columns for multi-output ``y``) to relative accuracy ~1e-13 in float64.

    Args:
        spec: spectrum of ``G = k(X, X)/K`` from :func:`kernel_sd.spectrum`.
        y: ``(K,)`` or ``(K, q)`` targets.
        eps: the constraint level ``ε > 0``.

    Returns:
        A :class:`MultiplierResult`; ``c = +inf`` when ``‖y‖² <= Kε`` (the fit is 0).

    Raises:
        ValueError: bad arguments, or ε infeasible (the null-space residual alone
            exceeds ``Kε``).

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 8)[:, None]
        >>> spec = ksd.spectrum(ksd.kernels.RBF(lengthscale=0.3), X)
        >>> res = ksd.multiplier(spec, jnp.sin(6.0 * X[:, 0]), eps=0.01)
        >>> int(res.status), bool(res.c > 0)
        (0, True)
    """
    spec = _validate.spectrum("spec", spec)
    n = spec.n_train
    y = _validate.targets("y", y, n, spec.eigvals.dtype)
    eps = _validate.positive_scalar("eps", eps)
    _validate.target_energy("y", y)
    z, s_perp = targets_in_eigenbasis(spec, y)
    s = z * z if z.ndim == 1 else jnp.sum(z * z, axis=1)
    res = multiplier_core(spec.eigvals, s, s_perp, n * eps, spec.noise_floor)
    raise_for_status(
        int(res.status), float(res.null_energy), n, eps, low_rank=not spec.complete
    )
    return res


# ----------------------------------------------------------------------------
# The penalised form without an eigenbasis: one Cholesky of G + λI


def penalised_rounds(K_xx: Array, y: Array, lam: float, rounds: int):
    """Rounds of the penalised form from one Cholesky factorisation of ``G + λI``.

    Round ``t`` fits ``a_t = (λI + G)^{-1} y_t`` and ``y_{t+1} = f_t(X) = G a_t``
    with ``G = K_xx / K``, so all rounds share the factor ``LLᵀ = G + λI``:
    ``T`` pairs of triangular solves and ``T`` products ``G a_t``, ``O(K²)``
    each, after one ``O(K³/3)`` factorisation (``eigh`` costs ~10–15 of them).
    ``G a_t`` is computed as a product, not as ``y_t − λ a_t``, which cancels
    when ``λ ≫ d_k``.

    On the CPU the factorisation and the solves are SciPy's LAPACK calls on the
    host (nothing to compile, the Gram matrix read in place); on other backends
    one compiled program (``jax.scipy.linalg``) per shape.

    Args:
        K_xx: ``(K, K)`` unscaled symmetric Gram matrix ``k(X, X)``.
        y: ``(K, q)`` targets.
        lam: the penalty ``λ > 0``.
        rounds: ``T >= 1``.

    Returns:
        ``(a, f)``: ``(T, K, q)`` dual coefficients ``a_t`` and training
        predictions ``f_t(X)``, as arrays of the dtype of ``K_xx``.

    Raises:
        ValueError: ``G + λI`` is not numerically positive definite (``lam``
            below the round-off of ``G``, or a kernel that is not PSD).
    """
    platform = next(iter(K_xx.devices())).platform
    run = _penalised_rounds_host if platform == "cpu" else _penalised_rounds_device
    a, f, ok = run(K_xx, y, lam, rounds)
    if not ok:
        raise ValueError(
            f"`lam`={lam:g}: G + lam·I is not numerically positive definite, so its "
            "Cholesky factorisation failed (lam is below the round-off of G, or the "
            "kernel matrix is not positive semi-definite). Use a larger `lam`, or "
            "method='eigh', which clamps eigenvalues under the noise floor."
        )
    return a, f


def _penalised_rounds_host(K_xx, y, lam, rounds):
    """:func:`penalised_rounds` with SciPy on the host (CPU arrays, no copy of ``K_xx``)."""
    import scipy.linalg

    K = np.asarray(K_xx)  # a read-only view of the CPU buffer
    n = K.shape[0]
    A = K / n  # the one n x n copy: factorised in place
    A.flat[:: n + 1] += lam
    try:
        factor = scipy.linalg.cho_factor(
            A, lower=True, overwrite_a=True, check_finite=False
        )
    except np.linalg.LinAlgError:
        return None, None, False
    y_t = np.asarray(y, K.dtype)
    a = np.empty((rounds,) + y_t.shape, K.dtype)
    f = np.empty_like(a)
    for t in range(rounds):
        a[t] = scipy.linalg.cho_solve(factor, y_t, check_finite=False)
        y_t = f[t] = (K @ a[t]) / n  # [MFB20] y_{t+1} = f_t(X) = G a_t
    ok = bool(np.isfinite(f[-1]).all())
    return jnp.asarray(a), jnp.asarray(f), ok


@partial(jax.jit, static_argnames="rounds")
def _penalised_rounds_device(K_xx, y, lam, rounds):
    """:func:`penalised_rounds` as one compiled program (accelerators)."""
    n = K_xx.shape[0]
    G = K_xx / n
    L = jnp.linalg.cholesky(G + lam * jnp.eye(n, dtype=G.dtype))

    def step(y_t, _):
        a = jax.scipy.linalg.cho_solve((L, True), y_t)
        f = G @ a  # [MFB20] y_{t+1} = f_t(X) = G a_t
        return f, (a, f)

    _, (a, f) = jax.lax.scan(step, y.astype(G.dtype), None, length=rounds)
    return a, f, jnp.all(jnp.isfinite(L))
