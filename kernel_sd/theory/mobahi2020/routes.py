"""[MFB20] independent routes: dense per-round solves and Monte-Carlo risks.

The eigenbasis trace (``kernel_sd.distill``) is recomputed without it: each
round's multiplier by ``scipy.optimize.brentq`` on the dense constraint, each
round's fit by a dense ``numpy.linalg.solve``; and the exact planted risk of the
rounds against the average error of fits to many noisy draws. Notation:
:mod:`kernel_sd.theory.mobahi2020`.
"""

from __future__ import annotations

import math

import numpy as np

import kernel_sd as ksd
from kernel_sd import filters
from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import (
    NOISE_DRAWS,
    DenseRounds,
    PlantedRisk,
    sample_dense_rounds,
    sample_planted_risk,
)

__all__ = ["check_dense_rounds", "check_risk_monte_carlo"]

_EPS = float(np.finfo(np.float64).eps)


def _dense_multiplier(G, y, K, eps, d_min, d_max):
    """The root ``c`` of ``c² ‖(cI + G)^{-1} y‖² = Kε`` by brentq in ``log c``.

    Bracket ``[d_min/(r − 1), d_max/(r − 1)]`` (``r = ‖y‖/√(Kε)``) from the
    eigenvalues, widened by 1e-6 in ``log c``; None if it does not bracket a root.
    """
    I = np.eye(K)
    r = math.sqrt(float(y @ y) / (K * eps))

    def gap(logc):
        c = math.exp(logc)
        res = c * np.linalg.solve(c * I + G, y)
        return math.log(float(res @ res)) - math.log(K * eps)

    lo = math.log(d_min / (r - 1.0)) - 1e-6
    hi = math.log(d_max / (r - 1.0)) + 1e-6
    if gap(lo) > 0 or gap(hi) < 0:
        return None
    import scipy.optimize  # on first use: `import kernel_sd` loads no SciPy

    return math.exp(scipy.optimize.brentq(gap, lo, hi, xtol=1e-15, rtol=4 * _EPS))


@statement(
    "mobahi2020.dense_rounds", paper="MFB20", origin="stated", sample=sample_dense_rounds,
    summary="trace c_t, f_t(X), collapse = dense solves + brentq root of |y_t - f_t|^2 = K eps",
)  # fmt: skip
def check_dense_rounds(inst: DenseRounds) -> list[BoundCheck]:
    """Every round of the trace against one [MFB20] round computed densely.

    [MFB20] round ``t`` fits ``f_t(X) = G (c_t I + G)^{-1} y_t`` with ``c_t`` the root
    of ``(1/K)‖f_t(X) − y_t‖² = c_t² ‖(c_t I + G)^{-1} y_t‖²/K = ε``, then
    ``y_{t+1} = f_t(X)``; the fit is 0 once ``‖y_t‖² <= Kε``. For every round, from
    the trace's own targets ``y_t`` (``y``, then the trace's ``f_{t−1}(X)``), ``c_t``
    is found again by brentq on the dense residual (bracket from the known
    eigenvalues of ``G``, far above its noise floor) and ``f_t(X)`` by a dense
    solve; no eigenbasis is used. Starting each round from the trace's targets
    checks the map of one round without accumulating the rounding of earlier ones.

    Rows per round: ``c_t`` (relative), ``f_t(X)`` (absolute) and the collapse
    (``c_t = +inf`` in the trace exactly when ``‖y_t‖² <= Kε``; rounds within 1e-9
    of that boundary are not judged). Derived tolerances: a dense solve with
    ``c I + G`` has relative error ``~K eps κ_t``, ``κ_t = (c_t + d_max)/c_t``;
    since ``d log φ/d log c >= 2 d_min/(c + d_min)`` the root moves by at most that
    error times ``(c + d_min)/(2 d_min)``; ``‖∂f/∂c‖ <= ‖y_t‖/(4c)``. The constant
    100 is a safety factor on these first-order estimates.
    """
    name = "mobahi2020.dense_rounds"
    tr, G, y, eps = inst.trace, inst.G, inst.y, inst.eps
    K = y.size
    d_min, d_max = float(inst.eigvals[0]), float(inst.eigvals[-1])
    c_tr = np.asarray(tr.c, np.float64)
    f_tr = np.asarray(tr.train_pred, np.float64)
    rows: list[BoundCheck] = []
    for t in range(c_tr.size):
        yt = y if t == 0 else f_tr[t - 1]
        n2 = float(yt @ yt)
        if abs(n2 / (K * eps) - 1.0) < 1e-9:
            continue  # on the collapse boundary: either answer is within round-off
        if n2 <= K * eps:
            rows.append(bound(name, f"collapse at round {t}: c_{t} = inf", 1.0,
                              float(np.isinf(c_tr[t])), 1.0))  # fmt: skip
            break
        c = _dense_multiplier(G, yt, K, eps, d_min, d_max)
        if c is None:
            rows.append(bound(name, f"bracket of c_{t}", 1.0, 0.0, 1.0))
            break
        solve_err = 100.0 * K * _EPS * (c + d_max) / c
        tol_c = solve_err * (c + d_min) / (2.0 * d_min)
        rows.append(bound(name, f"c_{t}", c * (1 - tol_c), c_tr[t], c * (1 + tol_c)))
        f_dense = G @ np.linalg.solve(c * np.eye(K) + G, yt)
        rows.append(bound(name, f"max |f_{t}(X) trace - dense|", -math.inf,
                          float(np.max(np.abs(f_tr[t] - f_dense))),
                          (solve_err + tol_c) * math.sqrt(n2)))  # fmt: skip
    return rows


@statement(
    "mobahi2020.risk_monte_carlo", paper="MFB20", origin="derived",
    sample=sample_planted_risk,
    summary="exact bias^2 + variance of lam rounds = mean error of fits to noisy draws",
)  # fmt: skip
def check_risk_monte_carlo(inst: PlantedRisk) -> list[BoundCheck]:
    """Exact planted risk of penalised rounds against fits to many noisy draws.

    Exact: :func:`kernel_sd.filters.planted_risk` of ``A_t = (d/(lam + d))^{t+1}``,
    ``(1/K)[Σ (1 − A_t)² θ² + σ² Σ A_t²]``. Monte Carlo: ``M =`` NOISE_DRAWS
    draws ``y = f_true(X) + ξ`` fitted at once (one column each) by
    ``ksd.distill_from_spectrum(..., lam=lam)``, the mean of
    ``(1/K)‖f_t(X) − f_true(X)‖²`` over draws. Rows: the exact risk lies within 6
    standard errors of the mean, per round. Derived; [MFB20]'s "a few rounds help,
    more hurt" is this risk curve being U-shaped on noisy data.
    """
    name = "mobahi2020.risk_monte_carlo"
    spec = inst.spectrum
    V = np.asarray(spec.eigvecs, np.float64)
    K = V.shape[0]
    A = np.asarray(inst.shrinkage, np.float64)
    rng = np.random.default_rng(inst.seed)
    Y = inst.f_true[:, None] + inst.sigma * rng.standard_normal((K, NOISE_DRAWS))
    tr = ksd.distill_from_spectrum(spec, Y, lam=inst.lam, rounds=A.shape[0])
    err = np.mean((np.asarray(tr.train_pred) - inst.f_true[None, :, None]) ** 2, axis=1)
    exact = filters.planted_risk(A, V.T @ inst.f_true, sigma=inst.sigma, K=K).risk
    rows = []
    for t in range(A.shape[0]):
        mean = float(err[t].mean())
        se = float(err[t].std(ddof=1)) / math.sqrt(NOISE_DRAWS)
        rows.append(bound(name, f"risk of round {t}", mean - 6 * se,
                          float(exact[t]), mean + 6 * se))  # fmt: skip
    return rows
