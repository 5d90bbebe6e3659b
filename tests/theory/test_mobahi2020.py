"""[MFB20] statements: fast-path checks against independent slow paths, with negative controls.

Slow path (``_slow_rounds``): per round, ``scipy.optimize.brentq`` for ``c_t`` on
``φ(c) = Σ (c z_k/(c + d_k))² − Kε`` and a dense ``np.linalg.solve`` of
``(c_t I + G) α = y_t`` with ``G = V diag(d) Vᵀ``; shrinkage, ratios and norms by
explicit loops. Negative controls apply a deliberately wrong bound through the
same checker (``theory.bound``) and require it to fail on some instance.
"""

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import kernel_sd as ksd
from kernel_sd import theory
from kernel_sd.theory import mobahi2020 as m
from tests.conftest import planted_spectrum
from tests.theory.conftest import ROUTES

# Solving (cI + G) α = y_t with κ(G) up to 1e8 carries ~κ·1e-16 relative error into
# the slow path's targets, so fast and slow quantities agree to 1e-7, not 1e-12.
SLOW_RTOL = 1e-7


def _slow_rounds(trace):
    """Independent rounds: brentq for c on the eigenbasis of y_t, dense solves for y_{t+1}."""
    d = np.asarray(trace.spectrum.eigvals)
    V = np.asarray(trace.spectrum.eigvecs)
    K = V.shape[0]
    G = (V * d[None, :]) @ V.T
    y = V @ np.asarray(trace.z0)
    keps = K * float(trace.eps)
    cs, norms, caps = [], [], []
    for _ in range(trace.rounds):
        norms.append(float(y @ y))
        if y @ y <= keps:
            cs.append(math.inf)
            caps.append(0.0)
            y = np.zeros_like(y)
            continue
        z2 = (V.T @ y) ** 2
        c = scipy.optimize.brentq(
            lambda c, z2=z2: np.sum((c / (c + d)) ** 2 * z2) - keps,
            1e-300,
            1e300,
            xtol=1e-300,
            rtol=1e-15,
            maxiter=2000,
        )
        alpha = np.linalg.solve(c * np.eye(K) + G, y)
        cs.append(c)
        # f = Σ_i k(·, x_i) α_i / K, so R(f) = αᵀ k(X, X) α / K² = αᵀ G α / K
        caps.append(float(alpha @ G @ alpha) / K)
        y = G @ alpha
    cs = np.array(cs)
    A = np.ones((trace.rounds, d.size))
    run = np.ones(d.size)
    for t, c in enumerate(cs):
        for k in range(d.size):
            run[k] *= 0.0 if (math.isinf(c) or d[k] == 0) else d[k] / (c + d[k])
        A[t] = run
    return cs, np.array(norms), np.array(caps), A, d


@pytest.fixture(scope="module")
def traces():
    """Random traces from the registry's sampler (planted κ up to 1e8 and kernels)."""
    rng = np.random.default_rng(2020)
    return [m.sample_trace(rng) for _ in range(8)]


@pytest.fixture(scope="module")
def slow(traces):
    return [_slow_rounds(tr) for tr in traces]


def _t_star(c):
    inf = np.isinf(c)
    return int(np.argmax(inf)) if inf.any() else c.size


def test_slow_path_agrees_with_traces(traces, slow):
    for tr, (c, norms, *_) in zip(traces, slow, strict=True):
        np.testing.assert_array_equal(np.isinf(np.asarray(tr.c)), np.isinf(c))
        fin = np.isfinite(c)
        np.testing.assert_allclose(np.asarray(tr.c)[fin], c[fin], rtol=SLOW_RTOL)
        np.testing.assert_allclose(tr.target_norm2, norms, rtol=SLOW_RTOL, atol=0)
    assert any(_t_star(s[0]) < m.ROUNDS for s in slow)  # some traces collapse


def test_check_multiplier_bounds(traces, slow):
    """[MFB20] d_min/(r_t − 1) <= c_t <= d_max/(r_t − 1) (derived)."""
    mutated = []
    for tr, (c, norms, _, _, d) in zip(traces, slow, strict=True):
        rows = m.check_multiplier_bounds(tr)
        assert rows and all(r.holds for r in rows)
        pos = d[d > 0]
        K, eps = tr.spectrum.n_train, float(tr.eps)
        for t in range(_t_star(c)):
            r = math.sqrt(norms[t] / (K * eps))
            assert (
                pos.min() / (r - 1) * (1 - 1e-9)
                <= c[t]
                <= pos.max() / (r - 1) * (1 + 1e-9)
            )
        mutated += [
            theory.bound(r.name, "", r.lower, r.observed, r.upper / 2) for r in rows
        ]
    assert not all(r.holds for r in mutated)  # upper bound / 2 is caught
    # The lower bound is tight when the energy sits on the bottom direction
    # (one direction: c/(c + d) = 1/r exactly), so there lower bound × 2 is caught.
    rng = np.random.default_rng(1)
    d, V = planted_spectrum(rng, 8, 1e3)
    z = np.full(8, 1e-6)
    z[-1] = 1.0
    tr = ksd.distill_from_spectrum(
        ksd.spectrum_from_eigen(d, V), V @ z, eps=0.1 / 8, rounds=m.ROUNDS
    )
    rows = m.check_multiplier_bounds(tr)
    assert all(r.holds for r in rows)
    assert not all(
        theory.bound(r.name, "", 2 * r.lower, r.observed, r.upper).holds for r in rows
    )


def test_check_multiplier_increasing(traces, slow):
    """[MFB20] c_t strictly increases while not collapsed (derived)."""
    for tr, (c, *_) in zip(traces, slow, strict=True):
        ts = _t_star(c)
        assert np.all(np.diff(c[:ts]) > 0)
        rows = m.check_multiplier_increasing(tr)
        assert len(rows) == max(ts - 1, 0) and all(r.holds for r in rows)
        # negative control: the reversed claim c_t <= c_{t-1} fails on every row
        assert not any(
            theory.bound(r.name, "", -np.inf, r.observed, r.lower).holds for r in rows
        )


def test_check_target_norm_decreasing(traces, slow):
    """[MFB20] ‖z_{t+1}‖ < ‖z_t‖ until collapse."""
    for tr, (c, norms, *_) in zip(traces, slow, strict=True):
        ts = _t_star(c)
        assert np.all(np.diff(norms[: min(ts + 1, norms.size)]) < 0)
        rows = m.check_target_norm_decreasing(tr)
        assert rows and all(r.holds for r in rows)
        assert not any(
            theory.bound(r.name, "", r.upper, r.observed, np.inf).holds for r in rows
        )


def test_check_collapse_round_bounds(traces, slow):
    """[MFB20] (r_0 − 1)/κ <= t* <= κ (r_0 − 1) + 1 for y in the range of G (derived)."""
    tight = []
    for tr, (c, norms, _, _, d) in zip(traces, slow, strict=True):
        rows = m.check_collapse_round_bounds(tr)
        assert rows and all(r.holds for r in rows)
        ts = _t_star(c)
        pos = d[d > 0]
        kappa = pos.max() / pos.min()
        r0 = math.sqrt(norms[0] / (tr.spectrum.n_train * float(tr.eps)))
        if ts < c.size:
            assert (r0 - 1) / kappa <= ts <= kappa * (r0 - 1) + 1
            last = rows[-1]
            assert last.quantity == "t* - 0" and last.observed == ts
            # negative control: an upper bound lowered by a lot (to the lower bound)
            tight.append(theory.bound(last.name, "", last.lower, ts, last.lower).holds)
    assert tight and not all(tight)


def test_collapse_round_bounds_with_null_space_energy():
    """y with energy on the null space: the rows start at round 1 and still hold."""
    X = np.linspace(0.0, 1.0, 16)[:, None]
    spec = ksd.spectrum(ksd.kernels.RBF(lengthscale=1.0), X)  # many eigenvalues clamped
    assert int(spec.n_clamped) > 0
    y = np.sin(2 * np.pi * X[:, 0]) + np.cos(7 * X[:, 0])
    null = np.sum((np.asarray(spec.eigvecs).T @ y)[np.asarray(spec.eigvals) == 0] ** 2)
    tr = ksd.distill_from_spectrum(
        spec, y, eps=(null + 0.3 * (y @ y)) / 16, rounds=m.ROUNDS
    )
    rows = m.check_collapse_round_bounds(tr)
    assert rows[0].quantity == "r_1 - r_2" and all(r.holds for r in rows)


def test_check_shrinkage_ratio_bounds(traces, slow):
    """[MFB20] [(d_k/d_j)(c_0+d_j)/(c_0+d_k)]^{t+1} <= A_t[k]/A_t[j] <= (d_k/d_j)^{t+1}."""
    caught = []
    for tr, (c, _, _, A, d) in zip(traces, slow, strict=True):
        rows = m.check_shrinkage_ratio_bounds(tr)
        assert rows and all(r.holds for r in rows)
        pos = np.flatnonzero(d > 0)
        pairs = [(pos[0], pos[-1]), (pos[0], pos[1]), (pos[len(pos) // 2], pos[-1])]
        for t in range(min(_t_star(c), 6)):
            for k, j in pairs:
                ratio = A[t, k] / A[t, j]
                q = d[k] / d[j]
                lo = (q * (c[0] + d[j]) / (c[0] + d[k])) ** (t + 1)
                assert 1 < lo * (1 - 1e-9) <= ratio <= q ** (t + 1) * (1 + 1e-9)
        # negative control: exponent t instead of t + 1 in the upper bound
        for r in rows[1:]:
            k, j = (int(s.split("[")[1].split("]")[0]) for s in r.quantity.split("/"))
            caught.append(
                theory.bound(
                    r.name, "", r.lower, r.observed, r.upper / (d[k] / d[j])
                ).holds
            )
    assert not all(caught)


def test_check_shrinkage_ratio_increasing(traces, slow):
    """[MFB20] A_t[k]/A_t[j] > 1 and grows with t for d_k > d_j (power iteration)."""
    caught = []
    for tr, (c, _, _, A, d) in zip(traces, slow, strict=True):
        rows = m.check_shrinkage_ratio_increasing(tr)
        assert rows and all(r.holds for r in rows)
        k, j = 0, int(np.flatnonzero(d > 0)[-1])
        ratios = [A[t, k] / A[t, j] for t in range(min(_t_star(c), 6))]
        assert all(b > a for a, b in zip([1.0, *ratios], ratios, strict=False))
        # negative control: claiming each round multiplies the ratio by >= d_k/d_j
        # (only the limit of the factor as c -> inf)
        for r in rows:
            k, j = (int(s.split("[")[1].split("]")[0]) for s in r.quantity.split("/"))
            caught.append(
                theory.bound(r.name, "", d[k] / d[j], r.observed, np.inf).holds
            )
    assert not all(caught)


def test_check_effective_basis_decreasing(traces, slow):
    """[MFB20] Σ_k A_t[k] and the participation ratio of A_t decrease (derived)."""
    for tr, (c, _, _, A, _) in zip(traces, slow, strict=True):
        ts = _t_star(c)
        sums = [sum(A[t]) for t in range(ts)]
        prs = [sum(A[t]) ** 2 / sum(a * a for a in A[t]) for t in range(ts)]
        assert all(b < a for a, b in zip(sums, sums[1:], strict=False))
        assert all(b <= a * (1 + 1e-12) for a, b in zip(prs, prs[1:], strict=False))
        np.testing.assert_allclose(tr.effective_dimension[:ts], sums, rtol=SLOW_RTOL)
        rows = m.check_effective_basis_decreasing(tr)
        assert all(r.holds for r in rows)
        assert not any(
            theory.bound(r.name, "", r.upper * (1 + 1e-6), r.observed, np.inf).holds
            for r in rows
        )


def test_check_capacity_decreasing(traces, slow):
    """[MFB20] R(f_t) = (1/K) Σ A_t² z_0²/d strictly decreases (amplified regularisation)."""
    for tr, (c, _, caps, _, _) in zip(traces, slow, strict=True):
        ts = _t_star(c)
        np.testing.assert_allclose(m.capacity(tr)[:ts], caps[:ts], rtol=SLOW_RTOL)
        assert np.all(np.diff(caps[:ts]) < 0)
        rows = m.check_capacity_decreasing(tr)
        assert all(r.holds for r in rows)
        assert not any(
            theory.bound(r.name, "", r.upper, r.observed, np.inf).holds for r in rows
        )


def test_check_risk_decomposition():
    """[MFB20] exact bias² + variance of a filter vs Monte Carlo over noise draws."""
    rng = np.random.default_rng(3)
    inst = m.sample_planted_risk(rng)
    rows = m.check_risk_decomposition(inst)
    assert all(r.holds for r in rows)
    # not vacuous: the checked identity is tight (1% off is caught)
    assert not any(
        theory.bound(r.name, "", r.lower * 1.01, r.observed, r.upper * 1.01).holds
        for r in rows
    )
    V = np.asarray(inst.spectrum.eigvecs)
    K = V.shape[0]
    theta = V.T @ inst.f_true
    pred = ksd.filters.planted_risk(inst.shrinkage, theta, sigma=inst.sigma, K=K)
    draws = 4000
    noise = inst.sigma * rng.standard_normal((draws, K))
    for t in (0, inst.shrinkage.shape[0] - 1):
        H = (V * inst.shrinkage[t][None, :]) @ V.T
        err = ((inst.f_true[None, :] + noise) @ H.T - inst.f_true[None, :]) ** 2
        per_draw = err.mean(axis=1)
        # Monte Carlo: agreement within 5 standard errors (a statistical tolerance)
        se = per_draw.std() / math.sqrt(draws)
        assert abs(per_draw.mean() - pred.risk[t]) <= 5 * se + 1e-15


def test_check_gradient_flow_ratio():
    """[MFB20] early stopping's ratio h_t(d_k)/h_t(d_j) stays in [1, d_k/d_j]."""
    rng = np.random.default_rng(5)
    d, V = planted_spectrum(rng, 8, 1e4)
    times = np.array([0.1, 10.0, 1e3, 1e5]) / d[0]
    inst = m.GradientFlowInstance(d, times)
    rows = m.check_gradient_flow_ratio(inst)
    assert len(rows) == times.size and all(r.holds for r in rows)
    G = (V * d[None, :]) @ V.T
    for t in times:
        H = np.eye(8) - scipy.linalg.expm(
            -t * G
        )  # gradient flow from 0: f = (I − e^{−tG}) y
        h = np.einsum("ki,kl,li->i", V, H, V)
        for k in range(7):
            assert 1 - 1e-9 <= h[k] / h[k + 1] <= d[k] / d[k + 1] * (1 + 1e-9)
    # negative control: sqrt(d_k/d_j) as upper bound is violated for small t
    assert not all(
        theory.bound(r.name, "", r.lower, r.observed, math.sqrt(r.upper)).holds
        for r in rows
    )


@pytest.mark.filterwarnings("ignore:The smallest multiplier:UserWarning")  # tiny ε
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.sampled_from([8, 16]),
    log_cond=st.floats(0.0, 8.0),
    frac=st.floats(1e-3, 0.9),
)
def test_trace_checks_hold_on_planted_spectra(seed, n, log_cond, frac):
    """Every [MFB20] trace statement on planted spectra of controlled condition number."""
    rng = np.random.default_rng(seed)
    d, V = planted_spectrum(rng, n, 10.0**log_cond)
    y = V @ rng.standard_normal(n)
    spec = ksd.spectrum_from_eigen(d, V)
    tr = ksd.distill_from_spectrum(spec, y, eps=frac * (y @ y) / n, rounds=m.ROUNDS)
    rows = [r for r in theory.check(tr) if r.name.startswith("mobahi2020.")]
    assert rows and all(r.holds for r in rows), [r for r in rows if not r.holds][:3]


def test_check_dense_rounds(one_size):
    """Dense per-round solves agree with the trace; perturbed c_t or f_t(X) are caught."""
    rng = np.random.default_rng(8)
    for _ in range(4):
        inst = theory.samplers.sample_dense_rounds(rng)
        rows = m.check_dense_rounds(inst)
        assert rows and all(r.holds for r in rows)
        c = np.asarray(inst.trace.c)
        bad_c = dataclasses.replace(inst.trace, c=jnp.asarray(c * (1 + 1e-4)))
        assert any(
            not r.holds for r in m.check_dense_rounds(inst._replace(trace=bad_c))
        )
        f = np.asarray(inst.trace.train_pred)
        bad_f = dataclasses.replace(inst.trace, train_pred=jnp.asarray(f * (1 + 1e-4)))
        assert any(
            not r.holds for r in m.check_dense_rounds(inst._replace(trace=bad_f))
        )


def test_check_risk_monte_carlo(one_size):
    """Exact planted risk inside 6 standard errors of fits to 2000 draws."""
    rng = np.random.default_rng(9)
    for _ in range(2):
        rows = m.check_risk_monte_carlo(m.sample_planted_risk(rng))
        assert rows and all(r.holds for r in rows)

        def shifted(factor, rows=rows):
            return [theory.bound("ctrl", r.quantity, r.lower, factor * r.observed,
                                 r.upper) for r in rows]  # fmt: skip

        # Negative control: 50 % off fails every row; the 6-SE bands are narrow.
        assert not any(r.holds for r in shifted(1.5))
        assert all(r.upper - r.lower < 0.6 * r.observed for r in rows)


def test_every_statement_has_a_test():
    names = [s.name for s in theory.statements("MFB20")]
    assert len(names) >= 10
    for name in names:
        assert f"test_check_{name.split('.', 1)[1]}" in globals(), name


def test_verify_has_no_violations():
    names = [s.name for s in theory.statements("MFB20") if s.name not in ROUTES]
    rows = theory.verify(4, seed=11, names=names)
    assert all(r.checks > 0 and r.violations == 0 for r in rows)


def test_verify_routes_have_no_violations(one_size):
    names = [s.name for s in theory.statements("MFB20") if s.name in ROUTES]
    rows = theory.verify(4, seed=11, names=names)
    assert len(rows) == 2 and all(r.checks > 0 and r.violations == 0 for r in rows)
