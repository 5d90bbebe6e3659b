"""[NMBMK23] statements against independent slow paths, with negative controls.

Slow paths: gradient flow as ``(I − expm(−t G)) y`` with scipy's matrix exponential on
the dense ``G = V diag(d) Vᵀ``; ridge rounds as dense ``np.linalg.solve``; noise
energies by Monte Carlo. Negative controls push a deliberately wrong bound through
the same checker (``theory.bound``) and require it to fail.
"""

import math

import numpy as np
import pytest
import scipy.linalg

import kernel_sd as ksd
from kernel_sd import theory
from kernel_sd.theory import nagarajan2023 as nag
from tests.conftest import planted_spectrum
from tests.theory.conftest import ROUTES

TESTED = {
    "nagarajan2023.ratio": "test_student_teacher_ratio",
    "nagarajan2023.filter_monotonicity": "test_filter_monotonicity",
    "nagarajan2023.single_crossing": "test_single_crossing",
    "nagarajan2023.top_heavy": "test_top_heavy",
    "nagarajan2023.ridge_two_rounds": "test_ridge_two_rounds",
    "nagarajan2023.equivalent_penalty": "test_equivalent_penalty",
    "nagarajan2023.gradient_denoising": "test_gradient_denoising",
    "nagarajan2023.descent_vs_simulation": "test_descent_vs_simulation",
    "nagarajan2023.flow_vs_simulation": "test_flow_vs_simulation",
    "nagarajan2023.denoising_monte_carlo": "test_denoising_monte_carlo",
}


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(11)
    d, V = planted_spectrum(rng, 16, 1e3)
    G = V @ np.diag(d) @ V.T
    return ksd.spectrum_from_eigen(d, V), d, V, G


def _flow(G, y, t):
    """Slow path: gradient flow from zero for time t, (I − e^{−tG}) y."""
    return y - scipy.linalg.expm(-t * G) @ y


def _all_hold(rows):
    return rows and all(r.holds for r in rows)


def test_every_statement_is_tested():
    names = {s.name for s in theory.statements("NMBMK23")}
    assert names == set(TESTED)
    for fn in TESTED.values():
        assert fn in globals()


@pytest.mark.parametrize("name", sorted(TESTED))
def test_registry_instances_have_no_violations(name, request):
    if name in ROUTES:
        request.getfixturevalue("one_size")
    (row,) = theory.verify(6, seed=3, names=[name])
    assert row.checks > 0 and row.violations == 0


def test_student_teacher_ratio(planted, rng):
    """[NMBMK23] f_S/f_T = 1 − e^{−T' d_k} per direction, against expm training."""
    spec, d, V, G = planted
    y = rng.standard_normal(16)
    T, Tp = 5.0 / d[0], 50.0 / d[0]
    teacher = _flow(G, y, T)
    student = _flow(G, teacher, Tp)
    ratio = (V.T @ student) / (V.T @ teacher)
    # rtol 1e-7: expm's own error (~1e-15 absolute) divided by bottom teacher
    # coordinates of size ~T d_min |z| ~ 5e-3 |z| leaves ~1e-12..1e-8 relative.
    np.testing.assert_allclose(ratio, -np.expm1(-Tp * d), rtol=1e-7)
    assert _all_hold(nag.student_teacher_ratio(spec, teacher_t=T, t=[Tp]))
    # Negative control: the teacher's own progress is not the ratio.
    wrong = [
        theory.bound("ctrl", "ratio", w, r, w)
        for w, r in zip(-np.expm1(-T * d), ratio, strict=True)
    ]
    assert not all(r.holds for r in wrong)


def test_filter_monotonicity(planted, rng):
    """[NMBMK23] the student's relative progress falls down the spectrum."""
    spec, d, V, G = planted
    y = rng.standard_normal(16)
    T, Tp = 2.0 / d[0], 3.0 / d[0]
    teacher = V.T @ _flow(G, y, T)
    student = V.T @ _flow(G, _flow(G, y, T), Tp)
    ratio = student / teacher
    assert np.all(np.diff(ratio) < 0)
    assert _all_hold(nag.filter_monotonicity(spec, teacher_t=T, t=[Tp, 10 * Tp]))
    with pytest.warns(DeprecationWarning, match="filter_monotonicity"):
        old = nag.exaggeration(spec, teacher_t=T, t=[Tp])
    assert [r.observed for r in old] == [
        r.observed for r in nag.filter_monotonicity(spec, teacher_t=T, t=[Tp])
    ]
    # Negative control: the reverse ordering is violated.
    rows = [
        theory.bound("ctrl", "up", ratio[k - 1], ratio[k], math.inf)
        for k in range(1, 16)
    ]
    assert not any(r.holds for r in rows)


def test_single_crossing(planted):
    """[NMBMK23] matched along j, the student crosses the label model once, at j."""
    spec, d, V, G = planted
    T, Tp, j = 4.0 / d[0], 1.0 / d[0], 6
    # Independent: filters from expm on the unit vectors of the eigenbasis.
    hS = np.array([(V[:, k] @ _flow(G, _flow(G, V[:, k], T), Tp)) for k in range(16)])
    t_star = -np.log1p(-hS[j]) / d[j]
    hL = np.array([(V[:, k] @ _flow(G, V[:, k], t_star)) for k in range(16)])
    # atol 1e-12: expm's absolute error on these O(1) filters.
    assert np.all(hS[j + 1 :] < hL[j + 1 :] + 1e-12)
    assert np.all(hS[:j] > hL[:j] - 1e-12)
    assert _all_hold(nag.single_crossing(spec, teacher_t=T, t=Tp, j=j))
    # Negative control: claiming the opposite side below j fails.
    rows = [
        theory.bound("ctrl", "x", -math.inf, hS[k], hL[k]) for k in range(j + 1, 16)
    ]
    rows_wrong = [
        theory.bound("ctrl", "x", hL[k], hS[k], math.inf) for k in range(j + 1, 16)
    ]
    assert all(r.holds for r in rows) and not any(r.holds for r in rows_wrong)


def test_top_heavy(planted):
    """[NMBMK23] matched along the top direction, the student is below elsewhere."""
    spec, d, V, G = planted
    rows = nag.top_heavy(
        spec, teacher_t=3.0 / d[0], t=np.array([0.1, 1.0, 10.0]) / d[0]
    )
    assert _all_hold(rows) and len(rows) == 3 * 16


def test_ridge_two_rounds(planted, rng):
    """Two ridge rounds = one ridge fit with penalty c₁ + c₂ + c₁c₂/d (dense solves)."""
    spec, d, V, G = planted
    y = rng.standard_normal(16)
    c1, c2 = 0.3 * d[2], 0.05 * d[0]
    two = G @ np.linalg.solve(
        c2 * np.eye(16) + G, G @ np.linalg.solve(c1 * np.eye(16) + G, y)
    )
    pen = c1 + c2 + c1 * c2 / d
    M = V @ np.diag(d / (pen + d)) @ V.T  # ridge with an eigenvalue-dependent penalty
    np.testing.assert_allclose(two, M @ y, rtol=0, atol=1e-12)
    assert _all_hold(nag.ridge_two_rounds(spec, c=(c1, c2)))
    # Negative control: the naive penalty c₁ + c₂ is wrong.
    naive = d / (c1 + c2 + d)
    rows = [
        theory.bound("ctrl", "h", w, o, w)
        for w, o in zip(naive, d / (pen + d), strict=True)
    ]
    assert not all(r.holds for r in rows)


def test_equivalent_penalty(planted):
    """The student's equivalent ridge penalty exceeds the teacher's, growing downwards."""
    spec, d, V, G = planted
    T, Tp = 2.0 / d[0], 5.0 / d[0]
    hT = -np.expm1(-T * d)
    hS = -np.expm1(-Tp * d) * hT
    lam_S = nag.equivalent_penalty(d, hS)
    np.testing.assert_allclose(d / (lam_S + d), hS, rtol=1e-12)
    assert np.all(np.diff(lam_S) > 0)
    assert np.all(lam_S >= nag.equivalent_penalty(d, hT))
    assert _all_hold(nag.penalty_growth(spec, teacher_t=T, t=[Tp]))


def test_gradient_denoising(planted, rng):
    """Noise in the gradient: per direction vs explicit gradients, energy by Monte Carlo."""
    spec, d, V, G = planted
    K, T, s = 16, 3.0 / d[0], 0.5 / d[0]
    sigma = 0.3
    xi = sigma * rng.standard_normal(K)
    f_true = np.sin(np.linspace(0, 3, K))
    y = f_true + xi
    # Explicit gradients at time s (G · residual), noisy minus clean data.
    g_lab = G @ (_flow(G, y, s) - y) - G @ (_flow(G, f_true, s) - f_true)
    tch, tch0 = _flow(G, y, T), _flow(G, f_true, T)
    g_dis = G @ (_flow(G, tch, s) - tch) - G @ (_flow(G, tch0, s) - tch0)
    gn = nag.gradient_noise(spec, xi, teacher_t=T, t=[s])
    np.testing.assert_allclose(gn.label[0], V.T @ g_lab, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gn.distill[0], V.T @ g_dis, rtol=0, atol=1e-12)
    assert _all_hold(
        nag.gradient_denoising(spec, xi, teacher_t=T, t=[0.0, s], sigma=sigma)
    )
    # Monte Carlo of the energies at s = 0 against σ²/K Σ d and σ²/K Σ d h_T².
    draws = 4000
    XI = sigma * np.random.default_rng(2).standard_normal((draws, K))
    Z = XI @ V
    hT = -np.expm1(-T * d)
    e_lab = np.mean(np.sum(d * Z**2, axis=1)) / K
    e_dis = np.mean(np.sum(d * (hT * Z) ** 2, axis=1)) / K
    want_lab, want_dis = nag.expected_noise_energy(d, sigma=sigma, teacher_t=T, t=[0.0])
    np.testing.assert_allclose(want_lab[0], sigma**2 * d.sum() / K, rtol=1e-13)
    # rtol 0.05: Monte-Carlo error of 4000 draws of a sum of ~16 weighted χ²₁ terms
    # is ~ sqrt(2/4000 / K_eff) ≈ 1-3 %.
    np.testing.assert_allclose(e_lab, want_lab[0], rtol=0.05)
    np.testing.assert_allclose(e_dis, want_dis[0], rtol=0.05)
    assert want_dis[0] < want_lab[0]
    # Negative control: "distillation adds noise" is violated.
    assert not theory.bound("ctrl", "E", -math.inf, want_lab[0], want_dis[0]).holds


def test_planted_risk_monte_carlo(planted):
    spec, d, V, G = planted
    sigma, K = 0.5, 16
    f_true = np.cos(np.linspace(0, 4, K))
    h = -np.expm1(-2.0 / d[0] * d)
    want = float(ksd.filters.planted_risk(h, V.T @ f_true, sigma=sigma, K=d.size).risk)
    M = V @ np.diag(h) @ V.T
    noise = sigma * np.random.default_rng(4).standard_normal((5000, K))
    fits = (f_true[None, :] + noise) @ M.T
    got = np.mean(np.sum((fits - f_true) ** 2, axis=1)) / K
    # rtol 0.05: Monte-Carlo error of 5000 draws.
    np.testing.assert_allclose(got, want, rtol=0.05)


def test_student_of_overfitted_teacher_has_lower_clean_risk(planted):
    """An over-fitted teacher on noisy data: some finite student time is strictly better."""
    spec, d, V, G = planted
    f_true = np.sin(np.linspace(0, 6, 16))
    phi = V.T @ f_true
    teacher_t = 50.0 / d[-1]
    hT = np.asarray(ksd.filters.gradient_flow(d, teacher_t))
    times = np.geomspace(0.01 / d[0], 100.0 / d[-1], 40)
    hS = hT[None, :] * np.asarray(ksd.filters.gradient_flow(d[None, :], times[:, None]))
    risk_T = ksd.filters.planted_risk(hT, phi, sigma=1.0, K=d.size).risk
    risk_S = ksd.filters.planted_risk(hS, phi, sigma=1.0, K=d.size).risk
    assert np.min(risk_S) < risk_T * (1 - 1e-3)


def test_negative_control_wrong_statement_is_caught():
    """A deliberately wrong 'student progresses more than its teacher' is caught."""
    rng = np.random.default_rng(0)
    inst = nag.sample_instance(rng)
    hT = np.asarray(
        ksd.dynamics.teacher_flow(
            inst.spec, np.zeros(inst.spec.n_train), t=inst.teacher_t
        ).filter
    )[0]
    hS = np.asarray(
        ksd.dynamics.student_flow(
            inst.spec, np.zeros(inst.spec.n_train), teacher_t=inst.teacher_t, t=inst.t
        ).filter
    )
    rows = [
        theory.bound("ctrl", "h_S >= h_T", hT[k], hS[0, k], math.inf)
        for k in range(hT.size)
    ]
    assert not any(r.holds for r in rows if r.lower > 0)


def _violated(rows):
    return any(not r.holds for r in rows)


def test_descent_vs_simulation(one_size):
    """Closed-form GD = simulated GD; a 0.1 % error in G is caught."""
    rng = np.random.default_rng(5)
    for _ in range(3):
        inst = theory.samplers.sample_descent(rng)
        assert _all_hold(nag.descent_vs_simulation(inst))
        # Negative control: the simulation runs on a slightly different G.
        assert _violated(nag.descent_vs_simulation(inst._replace(G=1.001 * inst.G)))


def test_flow_vs_simulation(one_size):
    """Flow closed forms = tiny-step GD within the derived allowance; 5 % off G is caught."""
    rng = np.random.default_rng(6)
    for _ in range(3):
        inst = theory.samplers.sample_flow(rng)
        rows = nag.flow_vs_simulation(inst)
        assert _all_hold(rows) and max(r.observed for r in rows) < 1.0
        assert _violated(nag.flow_vs_simulation(inst._replace(G=1.05 * inst.G)))


def test_denoising_monte_carlo(one_size):
    """Expected noise energies inside 6 standard errors of 2000 draws."""
    rng = np.random.default_rng(7)
    for _ in range(2):
        rows = nag.denoising_monte_carlo(theory.samplers.sample_noise(rng))
        assert _all_hold(rows)

        def shifted(factor, rows=rows):
            return [theory.bound("ctrl", r.quantity, r.lower, factor * r.observed,
                                 r.upper) for r in rows]  # fmt: skip

        # Negative control: 50 % off fails every row; the 6-SE bands are narrow.
        assert not any(r.holds for r in shifted(1.5))
        assert all(r.upper - r.lower < 0.6 * r.observed for r in rows)
