"""[MFB20] statements as pure functions of a self-distillation trace.

Notation (design notes): ``K`` training points, ``G = k(X, X)/K = V D Vᵀ``,
``z_t = Vᵀ y_t`` the round-``t`` targets in the eigenbasis, ``c_t`` the round-``t``
multiplier of the constrained fit ``(1/K)‖f_t(X) − y_t‖² <= ε``,
``A_t = Π_{i<=t} D (c_i I + D)^{-1}`` (so ``z_{t+1} = A_t z_0``),
``r_t = ‖z_t‖ / √(Kε)``, ``κ = d_max/d_min`` over the numerical range of ``G``,
and ``t*`` the number of rounds before the collapse (``‖z_{t*}‖² <= Kε``).

Every ``check_*`` function takes a constrained :class:`~kernel_sd.DistillTrace`
with one output column (or, for the last two, an instance of a planted problem)
and returns :class:`~kernel_sd.theory.BoundCheck` rows
``lower <= observed <= upper`` with the registry's relative slack. The
statements are registered under ``mobahi2020.*`` for ``kernel-sd verify``.

Statements marked ``Derived:`` were re-derived from the setting of [MFB20]
(the paper states results of this kind; constants were not checked against its
text) and are verified numerically by the tests and ``kernel-sd verify``.

Assumption shared by the collapse-round bounds: the targets have no energy on the
numerical null space of ``G`` (``y`` lies in the range of ``G``). The random
samplers project ``y`` onto the range so that every statement applies.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from kernel_sd import filters, kernels
from kernel_sd.distill import DistillTrace, distill_from_spectrum
from kernel_sd.spectral import Spectrum, spectrum, spectrum_from_eigen
from kernel_sd.theory.registry import BoundCheck, Statement, bound, register

__all__ = [
    "TraceArrays",
    "trace_arrays",
    "multiplier_interval",
    "collapse_interval",
    "capacity",
    "check_multiplier_bounds",
    "check_multiplier_increasing",
    "check_target_norm_decreasing",
    "check_collapse_round_bounds",
    "check_shrinkage_ratio_bounds",
    "check_shrinkage_ratio_increasing",
    "check_effective_basis_decreasing",
    "check_capacity_decreasing",
    "check_risk_decomposition",
    "check_gradient_flow_ratio",
    "PlantedRisk",
    "GradientFlowInstance",
    "ROUNDS",
    "SIZES",
    "sample_spectrum",
    "sample_trace",
    "sample_planted_risk",
    "sample_gradient_flow",
]

ROUNDS = 32
"""Rounds of every sampled trace (a fixed count, so JAX compiles once per size)."""
SIZES = (8, 16, 32, 64)
"""Training-set sizes ``K`` the samplers draw from (a small set, for the same reason)."""
_TINY = 1e-250
"""Shrinkage values below this are too close to underflow for accurate ratios."""


class TraceArrays(NamedTuple):
    """The float64 NumPy arrays of a single-output constrained trace."""

    c: np.ndarray
    """(T,) multipliers ``c_t`` (``+inf`` from the collapse on)."""
    A: np.ndarray
    """(T, r) shrinkage ``A_t``."""
    norm2: np.ndarray
    """(T,) ``‖z_t‖² = ‖y_t‖²``."""
    d: np.ndarray
    """(r,) eigenvalues, descending (0 on the numerical null space)."""
    z0: np.ndarray
    """(r,) ``z_0 = Vᵀ y``."""
    K: int
    """Number of training points."""
    eps: float
    """Constraint level ε."""
    t_star: int
    """Number of non-collapsed rounds (``T`` when none collapsed within the trace)."""


def trace_arrays(trace: DistillTrace) -> TraceArrays:
    """Extract the arrays the checks need; ``ValueError`` for traces they do not cover."""
    if trace.eps is None:
        raise ValueError(
            "the [MFB20] checks need a constrained trace (run with `eps`)."
        )
    if np.ndim(trace.z0) != 1 or np.ndim(trace.c) != 1:
        raise ValueError("the [MFB20] checks take one single-output trace (no sweep).")
    c = np.asarray(trace.c, np.float64)
    cr = trace.collapse_round
    return TraceArrays(
        c=c,
        A=np.asarray(trace.shrinkage, np.float64),
        norm2=np.asarray(trace.target_norm2, np.float64),
        d=np.asarray(trace.spectrum.eigvals, np.float64),
        z0=np.asarray(trace.z0, np.float64),
        K=trace.spectrum.n_train,
        eps=float(trace.eps),
        t_star=c.size if cr < 0 else cr,
    )


def multiplier_interval(d, norm2, K: int, eps: float, null_energy=0.0):
    """Bounds ``d_min/(r' − 1) <= c <= d_max/(r − 1)`` on the multiplier.

    ``r = ‖z‖/√(Kε)`` and ``r' = √((‖z‖² − s_0)/(Kε − s_0))`` with ``s_0`` the
    target energy on the null space of ``G`` (``r' = r`` when ``s_0 = 0``, the
    paper's form).

    Derived: ``φ(c) = Σ_k (c/(c + d_k))² z_k² = Kε`` and
    ``c/(c + d_max) <= c/(c + d_k) <= c/(c + d_min)`` on the range give
    ``(c/(c + d_max))² ‖z‖² <= Kε <= (c/(c + d_min))² (‖z‖² − s_0) + s_0``.

    Args:
        d: (r,) eigenvalues (zeros are the null space).
        norm2: ``‖z‖²`` (scalar or array of rounds).
        K: number of training points; eps: the constraint level ε.
        null_energy: ``s_0``, the energy of ``z`` on the null space.

    Returns:
        ``(lower, upper)`` arrays shaped like ``norm2``.
    """
    d = np.asarray(d, np.float64)
    pos = d[d > 0]
    norm2 = np.asarray(norm2, np.float64)
    r = np.sqrt(norm2 / (K * eps))
    r_range = np.sqrt((norm2 - null_energy) / (K * eps - null_energy))
    upper = pos.max() / (r - 1.0)  # [MFB20] c_t <= d_max / (r_t − 1)
    lower = pos.min() / (r_range - 1.0)  # [MFB20] c_t >= d_min / (r_t − 1)
    return lower, upper


def collapse_interval(r0: float, kappa: float) -> tuple[float, float]:
    """Bounds ``(r_0 − 1)/κ <= t* <= κ (r_0 − 1) + 1`` on the non-collapsed rounds.

    Derived: with no target energy on the null space, the multiplier bounds give
    ``r_t/(1 + κ(r_t − 1)) <= r_t − r_{t+1} <= κ r_t/(κ + r_t − 1)``, so every
    non-collapsed round lowers ``r`` by at least ``1/κ`` and at most ``κ``; the
    collapse is the first round with ``r_t <= 1``. The paper states bounds of
    this kind; these constants are ours.
    """
    return (r0 - 1.0) / kappa, kappa * (r0 - 1.0) + 1.0


def capacity(trace: DistillTrace) -> np.ndarray:
    """``R(f_t) = (1/K) Σ_k A_t[k]² z_0[k]² / d_k`` for every round (RKHS norm²).

    Derived: ``f_t = Σ_i g(·, x_i) α_i / K`` with ``α = (c_t I + G)^{-1} y_t``, so
    ``R(f_t) = αᵀ G α / K = (1/K) Σ_k d_k z_t[k]² / (c_t + d_k)²`` and
    ``z_t[k] d_k/(c_t + d_k) = A_t[k] z_0[k]``. Null-space terms are 0.
    """
    a = trace_arrays(trace)
    d = a.d[None, :]
    safe = np.where(d > 0, d, 1.0)
    terms = np.where(d > 0, (a.A * a.z0[None, :]) ** 2 / safe, 0.0)
    return terms.sum(axis=1) / a.K  # [MFB20] R(f_t) = (1/K) Σ A_t² z_0² / d


# --------------------------------------------------------------------------- checks


def check_multiplier_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``d_min/(r_t − 1) <= c_t <= d_max/(r_t − 1)`` for every non-collapsed round.

    Round 0 uses ``r'`` on the range of ``G`` for the lower bound when the targets
    have null-space energy (see :func:`multiplier_interval`). Derived.
    """
    a = trace_arrays(trace)
    null0 = float(np.sum(np.where(a.d > 0, 0.0, a.z0**2)))
    rows = []
    for t in range(a.t_star):
        lo, up = multiplier_interval(
            a.d, a.norm2[t], a.K, a.eps, null0 if t == 0 else 0
        )
        rows.append(bound("mobahi2020.multiplier_bounds", f"c_{t}", lo, a.c[t], up))
    return rows


def check_multiplier_increasing(trace: DistillTrace) -> list[BoundCheck]:
    """``c_t > c_{t−1}`` while not collapsed (``‖z_t‖² > Kε``).

    Derived: ``φ_t(c_{t−1}) < φ_{t−1}(c_{t−1}) = Kε`` because each factor
    ``d/(c + d) < 1`` shrinks the targets, and ``φ_t`` increases in ``c``. Rows
    hold when ``c_t >= c_{t−1}`` within the relative slack and ``c_t != c_{t−1}``.
    """
    a = trace_arrays(trace)
    rows = []
    for t in range(1, a.t_star):
        row = bound(
            "mobahi2020.multiplier_increasing", f"c_{t}", a.c[t - 1], a.c[t], np.inf
        )
        rows.append(row._replace(holds=row.holds and a.c[t] != a.c[t - 1]))
    return rows


def check_target_norm_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``‖z_{t+1}‖ < ‖z_t‖`` up to the collapse round (then the targets are 0).

    ``z_{t+1} = D (c_t I + D)^{-1} z_t`` multiplies each coordinate by ``d/(c + d) < 1``.
    """
    a = trace_arrays(trace)
    rows = []
    for t in range(1, min(a.t_star + 1, a.norm2.size)):
        row = bound(
            "mobahi2020.target_norm_decreasing",
            f"|z_{t}|^2",
            -np.inf,
            a.norm2[t],
            a.norm2[t - 1],
        )
        rows.append(row._replace(holds=row.holds and a.norm2[t] < a.norm2[t - 1]))
    return rows


def check_collapse_round_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``(r_0 − 1)/κ <= t* <= κ (r_0 − 1) + 1``, and the per-round decrease of ``r_t``.

    Rows: for each non-collapsed round ``t`` with ``r_{t+1}`` recorded,
    ``r_t/(1 + κ(r_t − 1)) <= r_t − r_{t+1} <= κ r_t/(κ + r_t − 1)``; then ``t*``
    against its interval (only ``κ (r_0 − 1) + 1 >= T`` when the trace ends
    before collapsing). Derived (see :func:`collapse_interval`); the derivation
    assumes no target energy on the null space of ``G``. When ``y`` has some, the
    rows start at round 1 (``z_1`` lies in the range): ``t* − 1`` is checked
    against the interval from ``r_1``.
    """
    a = trace_arrays(trace)
    null0 = float(np.sum(np.where(a.d > 0, 0.0, a.z0**2)))
    # Round 1 on, the targets lie in the range of G; start there if y does not.
    # Null-space energy at round-off level (relative 1e-24, i.e. components of
    # relative size 1e-12, a projected y's residue) does not move the bounds.
    s = 1 if null0 > 1e-24 * float(np.sum(a.z0**2)) else 0
    pos = a.d[a.d > 0]
    kappa = float(pos.max() / pos.min())
    r = np.sqrt(a.norm2 / (a.K * a.eps))
    name = "mobahi2020.collapse_round_bounds"
    rows = []
    for t in range(s, min(a.t_star, r.size - 1)):
        lo = r[t] / (1.0 + kappa * (r[t] - 1.0))
        up = kappa * r[t] / (kappa + r[t] - 1.0)
        rows.append(bound(name, f"r_{t} - r_{t + 1}", lo, r[t] - r[t + 1], up))
    if a.t_star <= s:
        return rows
    lo, up = collapse_interval(float(r[s]), kappa)
    if a.t_star < a.c.size:
        rows.append(bound(name, f"t* - {s}", lo, a.t_star - s, up))
    else:  # no collapse within the trace: only t* >= T is known
        rows.append(bound(name, f"T - {s} <= t* - {s}", -np.inf, a.t_star - s, up))
    return rows


def _pair_ratios(d):
    """All index pairs ``k < j`` with ``d_k > d_j > 0``."""
    keep = d > 0
    k_idx, j_idx = np.nonzero(np.triu(keep[:, None] & keep[None, :], 1))
    strict = d[k_idx] > d[j_idx]
    return k_idx[strict], j_idx[strict]


def _worst(name, quantities, lo, ob, up):
    """The row of the pair with the smallest relative slack (violations first)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo = np.where(
            np.isfinite(lo), (ob - lo) / np.maximum(np.abs(lo), np.abs(ob)), np.inf
        )
        s_up = np.where(
            np.isfinite(up), (up - ob) / np.maximum(np.abs(up), np.abs(ob)), np.inf
        )
    i = int(np.argmin(np.minimum(s_lo, s_up)))
    return bound(name, quantities(i), lo[i], ob[i], up[i])


def check_shrinkage_ratio_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``[(d_k/d_j)(c_0 + d_j)/(c_0 + d_k)]^{t+1} <= A_t[k]/A_t[j] <= (d_k/d_j)^{t+1}``.

    For ``d_k > d_j > 0``; the lower bound exceeds 1, so the ratio is > 1. One
    row per non-collapsed round: the pair with the least slack among all pairs
    whose ``A_t[j]`` is far from underflow (``> 1e-250``) and whose bounds are finite.

    Derived: ``A_t[k]/A_t[j] = Π_{i<=t} (d_k/d_j)(c_i + d_j)/(c_i + d_k)``; each
    factor increases in ``c_i`` towards ``d_k/d_j`` and ``c_i >= c_0``.
    """
    a = trace_arrays(trace)
    k, j = _pair_ratios(a.d)
    q = a.d[k] / a.d[j]
    f0 = q * (a.c[0] + a.d[j]) / (a.c[0] + a.d[k])
    rows = []
    for t in range(a.t_star):
        with np.errstate(over="ignore"):
            lo = f0 ** (t + 1)  # [MFB20] lower bound on B_t[k]/B_t[j]
            up = q ** (t + 1)  # [MFB20] upper bound on B_t[k]/B_t[j]
        ok = (a.A[t, j] > _TINY) & np.isfinite(up)
        if not ok.any():
            continue
        kk, jj = k[ok], j[ok]
        ob = a.A[t, kk] / a.A[t, jj]
        rows.append(
            _worst(
                "mobahi2020.shrinkage_ratio_bounds",
                lambda i, t=t, kk=kk, jj=jj: f"A_{t}[{kk[i]}]/A_{t}[{jj[i]}]",
                lo[ok],
                ob,
                up[ok],
            )
        )
    return rows


def check_shrinkage_ratio_increasing(trace: DistillTrace) -> list[BoundCheck]:
    """``A_t[k]/A_t[j] > A_{t−1}[k]/A_{t−1}[j] > ... > 1`` for ``d_k > d_j > 0``.

    Observed: the growth factor ``(A_t[k]/A_t[j]) / (A_{t−1}[k]/A_{t−1}[j])``
    (with ``A_{−1} = 1``), worst pair per non-collapsed round, bounded below by 1.
    The "power iteration" of [MFB20]: ``A_t/‖A_t‖`` concentrates on the top
    eigendirections.
    """
    a = trace_arrays(trace)
    k, j = _pair_ratios(a.d)
    rows = []
    prev = np.ones(k.size)
    for t in range(a.t_star):
        ok = a.A[t, j] > _TINY
        ratio = np.where(ok, a.A[t, k] / np.where(ok, a.A[t, j], 1.0), np.nan)
        growth = ratio / prev
        good = ok & np.isfinite(growth)
        if good.any():
            kk, jj = k[good], j[good]
            rows.append(
                _worst(
                    "mobahi2020.shrinkage_ratio_increasing",
                    lambda i, t=t, kk=kk, jj=jj: (
                        f"growth A_{t}[{kk[i]}]/A_{t}[{jj[i]}]"
                    ),
                    np.ones(kk.size),
                    growth[good],
                    np.full(kk.size, np.inf),
                )
            )
        prev = ratio
    return rows


def check_effective_basis_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``Σ_k A_t[k]`` and the participation ratio ``(Σ A_t)²/Σ A_t²`` decrease in ``t``.

    Derived: each factor ``d/(c + d) < 1`` lowers the sum; the factor increases
    with ``d`` like ``A_t`` itself, so ``A_{t+1}/Σ A_{t+1}`` majorises
    ``A_t/Σ A_t`` and the participation ratio ``1/Σ p_k²`` (Schur-concave) can only
    fall. Rows per round ``1 <= t < t*``.
    """
    a = trace_arrays(trace)
    s = filters.effective_dimension(a.A)
    pr = np.asarray(filters.participation_ratio(a.A))
    rows = []
    for t in range(1, a.t_star):
        rows.append(
            bound(
                "mobahi2020.effective_basis_decreasing",
                f"sum A_{t}",
                -np.inf,
                s[t],
                s[t - 1],
            )
        )
        rows.append(
            bound(
                "mobahi2020.effective_basis_decreasing",
                f"PR(A_{t})",
                1.0,
                pr[t],
                pr[t - 1],
            )
        )
    return rows


def check_capacity_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``R(f_t) < R(f_{t−1})`` while not collapsed (amplified regularisation).

    ``R(f_t) = (1/K) Σ_k A_t[k]² z_0[k]²/d_k`` (:func:`capacity`); each ``A_t[k]²``
    decreases in ``t``. Derived.
    """
    a = trace_arrays(trace)
    R = capacity(trace)
    rows = []
    for t in range(1, a.t_star):
        row = bound("mobahi2020.capacity_decreasing", f"R(f_{t})", 0.0, R[t], R[t - 1])
        rows.append(row._replace(holds=row.holds and R[t] < R[t - 1]))
    return rows


class PlantedRisk(NamedTuple):
    """A planted problem ``y = f_true(X) + ξ`` with penalised rounds (``c_t = lam``)."""

    spectrum: Spectrum
    """Spectrum of ``G``."""
    f_true: np.ndarray
    """(K,) the clean target at the training points."""
    sigma: float
    """Noise standard deviation σ."""
    shrinkage: np.ndarray
    """(T, K) filters ``A_t`` of the rounds."""


def check_risk_decomposition(inst: PlantedRisk) -> list[BoundCheck]:
    """Eigenbasis bias² / variance of each round against the dense-matrix expectation.

    Observed: :func:`filter_risk` in the eigenbasis. Reference: with
    ``H_t = V diag(A_t) Vᵀ``, ``bias² = ‖(H_t − I) f‖²/K`` and
    ``variance = σ² ‖H_t‖_F²/K`` (``E‖H ξ‖² = σ² tr(HᵀH)``), computed with dense
    matrices. Derived (see :func:`filter_risk`).
    """
    V = np.asarray(inst.spectrum.eigvecs, np.float64)
    K = V.shape[0]
    A = np.asarray(inst.shrinkage, np.float64)
    theta = V.T @ inst.f_true
    risk = filters.planted_risk(A, theta, sigma=inst.sigma, K=K)
    name = "mobahi2020.risk_decomposition"
    rows = []
    for t in range(A.shape[0]):
        H = (V * A[t][None, :]) @ V.T
        b2 = np.sum((H @ inst.f_true - inst.f_true) ** 2) / K
        var = inst.sigma**2 * np.sum(H * H) / K
        rows.append(bound(name, f"bias2_{t}", b2, risk.bias2[t], b2))
        rows.append(bound(name, f"variance_{t}", var, risk.variance[t], var))
    return rows


class GradientFlowInstance(NamedTuple):
    """A spectrum and gradient-flow times."""

    d: np.ndarray
    """(r,) eigenvalues, descending and positive."""
    times: np.ndarray
    """(m,) times ``t > 0``."""


def check_gradient_flow_ratio(inst: GradientFlowInstance) -> list[BoundCheck]:
    """Early stopping's ratio stays in ``[1, d_k/d_j]``: ``h(d_k)/h(d_j)``, ``h = 1 − e^{−t d}``.

    For ``d_k > d_j > 0`` and every ``t > 0`` (worst pair per time), in contrast
    with self-distillation's ``A_t[k]/A_t[j]``, which grows like ``(d_k/d_j)^{t+1}``.
    Derived: ``(1 − e^{−x})/x`` decreases in ``x``, so
    ``h(d_k)/d_k <= h(d_j)/d_j``; and ``h`` increases in ``d``.
    """
    d = np.asarray(inst.d, np.float64)
    k, j = np.nonzero(np.triu(np.ones((d.size, d.size), bool), 1))
    strict = d[k] > d[j]
    k, j = k[strict], j[strict]
    rows = []
    for t in inst.times:
        h = np.asarray(filters.gradient_flow(d, t))
        ob = h[k] / h[j]
        rows.append(
            _worst(
                "mobahi2020.gradient_flow_ratio",
                lambda i, t=t: f"h_t[{k[i]}]/h_t[{j[i]}] (t={t:.3g})",
                np.ones(k.size),
                ob,
                d[k] / d[j],  # early stopping's ratio <= d_k/d_j
            )
        )
    return rows


# ------------------------------------------------------------------------- samplers


def _planted_eigvals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Eigenvalues with condition number ``10^U(0, 8)``, log-spaced or random in log."""
    kappa = 10.0 ** rng.uniform(0.0, 8.0)
    if rng.random() < 0.5:
        logs = np.linspace(0.0, -np.log10(kappa), n)
    else:
        inner = rng.uniform(-np.log10(kappa), 0.0, n - 2)
        logs = np.sort(np.concatenate([[0.0, -np.log10(kappa)], inner]))[::-1]
    return 10.0**logs / n


def _random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))[None, :]


def _kernel_spectrum(rng: np.random.Generator, n: int) -> Spectrum:
    """Spectrum of a random RBF / Laplace / Matérn kernel on random inputs."""
    p = int(rng.choice([1, 2, 5]))
    X = rng.uniform(0.0, 1.0, (n, p))
    ell = 10.0 ** rng.uniform(-1.3, 0.3) * np.sqrt(p)
    kind = int(rng.integers(4))
    if kind == 0:
        k = kernels.RBF(lengthscale=ell)
    elif kind == 1:
        k = kernels.Laplace(lengthscale=ell)
    else:
        k = kernels.Matern(nu=(1.5, 2.5)[kind - 2], lengthscale=ell)
    return spectrum(k, X)


def sample_spectrum(rng: np.random.Generator) -> Spectrum:
    """A random spectrum: half planted (κ up to 1e8), half from random kernels."""
    n = int(rng.choice(SIZES))
    if rng.random() < 0.5:
        return spectrum_from_eigen(_planted_eigvals(rng, n), _random_orthogonal(rng, n))
    return _kernel_spectrum(rng, n)


def sample_trace(rng: np.random.Generator) -> DistillTrace:
    """A random constrained trace of :data:`ROUNDS` rounds.

    Targets: Gaussian coordinates whose scale decays like ``d^{a/2}`` for a random
    ``a ∈ [0, 1]`` (smooth to rough), projected onto the range of ``G``. ε is a
    log-uniform fraction ``10^U(−3, −0.05)`` of ``‖y‖²/K`` (so round 0 is never
    collapsed). Draws whose multipliers fall under the eigenvalue noise floor are
    redrawn (their fits are round-off).
    """
    while True:
        spec = sample_spectrum(rng)
        d = np.asarray(spec.eigvals)
        V = np.asarray(spec.eigvecs)
        power = rng.uniform(0.0, 1.0)
        scale = np.where(d > spec.noise_floor, (d / d[0]) ** (power / 2), 0.0)
        z = scale * rng.standard_normal(d.size)
        y = V @ z  # in the range of G: no null-space energy
        K = d.size
        eps = 10.0 ** rng.uniform(-3.0, -0.05) * float(z @ z) / K
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return distill_from_spectrum(spec, y, eps=eps, rounds=ROUNDS)
            except UserWarning:
                continue


def sample_planted_risk(rng: np.random.Generator) -> PlantedRisk:
    """A planted problem: random spectrum, ``f_true`` with decaying coordinates, lam rounds."""
    spec = sample_spectrum(rng)
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    theta = (d / d[0]) ** rng.uniform(0.0, 1.0) * rng.standard_normal(d.size)
    f_true = V @ theta
    lam = 10.0 ** rng.uniform(-3.0, 0.0) * float(d[0])
    tr = distill_from_spectrum(spec, f_true, lam=lam, rounds=8)
    return PlantedRisk(
        spec, f_true, float(10.0 ** rng.uniform(-2, 0)), np.asarray(tr.shrinkage)
    )


def sample_gradient_flow(rng: np.random.Generator) -> GradientFlowInstance:
    """Planted eigenvalues and log-uniform times spanning ``1/d_max`` to ``100/d_min``."""
    n = int(rng.choice(SIZES))
    d = _planted_eigvals(rng, n)
    times = np.sort(
        10.0 ** rng.uniform(np.log10(0.1 / d[0]), np.log10(100.0 / d[-1]), 8)
    )
    return GradientFlowInstance(d, times)


def _register() -> None:
    trace_statements = [
        ("multiplier_bounds", check_multiplier_bounds,
         "d_min/(r_t-1) <= c_t <= d_max/(r_t-1), r_t = |z_t|/sqrt(K eps)"),
        ("multiplier_increasing", check_multiplier_increasing,
         "c_t > c_{t-1} while |z_t|^2 > K eps"),
        ("target_norm_decreasing", check_target_norm_decreasing,
         "|z_{t+1}| < |z_t| until collapse"),
        ("collapse_round_bounds", check_collapse_round_bounds,
         "(r_0-1)/kappa <= t* <= kappa (r_0-1) + 1 (y in range of G)"),
        ("shrinkage_ratio_bounds", check_shrinkage_ratio_bounds,
         "[(d_k/d_j)(c_0+d_j)/(c_0+d_k)]^{t+1} <= A_t[k]/A_t[j] <= (d_k/d_j)^{t+1}"),
        ("shrinkage_ratio_increasing", check_shrinkage_ratio_increasing,
         "A_t[k]/A_t[j] > 1 grows with t for d_k > d_j"),
        ("effective_basis_decreasing", check_effective_basis_decreasing,
         "sum_k A_t[k] and participation ratio of A_t decrease in t"),
        ("capacity_decreasing", check_capacity_decreasing,
         "R(f_t) = (1/K) sum A_t^2 z_0^2 / d strictly decreases"),
    ]  # fmt: skip
    for name, fn, summary in trace_statements:
        register(
            Statement(
                f"mobahi2020.{name}", "MFB20", summary, sample_trace, fn, on_trace=True
            )
        )
    register(
        Statement(
            "mobahi2020.risk_decomposition",
            "MFB20",
            "E risk of any filter = (1/K)[sum (1-h)^2 theta^2 + sigma^2 sum h^2]",
            sample_planted_risk,
            check_risk_decomposition,
        )
    )
    register(
        Statement(
            "mobahi2020.gradient_flow_ratio",
            "MFB20",
            "early stopping: 1 <= h_t(d_k)/h_t(d_j) <= d_k/d_j for d_k > d_j",
            sample_gradient_flow,
            check_gradient_flow_ratio,
        )
    )


_register()
