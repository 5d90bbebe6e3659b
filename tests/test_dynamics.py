"""Gradient dynamics: closed forms in the eigenbasis against explicit NumPy training loops.

Slow path: ``_numpy_gd`` runs kernel gradient descent step by step on the dense
``G = V diag(d) Vᵀ`` (``f ← f − lr G (f − target)``), with its own target switch,
independent of ``kernel_sd.dynamics``. Classification is checked against one
hand-written softmax step.
"""

import jax
import numpy as np
import pytest
import scipy.linalg

import kernel_sd as ksd
from kernel_sd import dynamics, simulate
from tests.conftest import planted_spectrum

N = 16


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    d, V = planted_spectrum(rng, N, 1e3)
    spec = ksd.spectrum_from_eigen(d, V)
    G = V @ np.diag(d) @ V.T
    y = rng.standard_normal(N)
    Gt = rng.standard_normal((5, N)) / N  # any cross-Gram rows k(x, X)/K
    W = Gt @ V  # features g_xᵀ V of those rows
    return spec, G, y, Gt, W, d, V


def _numpy_gd(G, y, lr, steps, target=None, switch=0):
    """Kernel GD on (1/2K)‖f − target‖² in the original basis; all iterates (steps+1, K)."""
    f = np.zeros_like(y)
    out = [f.copy()]
    for s in range(steps):
        tgt = y if (target is None or s < switch) else target
        f = f - lr * G @ (f - tgt)
        out.append(f.copy())
    return np.array(out)


def test_closed_form_descent_matches_simulation_and_numpy(problem):
    spec, G, y, Gt, W, d, V = problem
    lr, steps = 0.9 / d[0], 60
    fit = dynamics.teacher_descent(
        spec, y, lr=lr, steps=np.arange(steps + 1), test_features=W
    )
    sim = dynamics.simulate_regression(G, y, lr=lr, steps=steps, G_test=Gt)
    ref = _numpy_gd(G, y, lr, steps)
    np.testing.assert_allclose(fit.train_pred, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sim.train_pred, ref, rtol=0, atol=1e-10)
    # Test predictions: closed form through the features, simulation through Gt a.
    np.testing.assert_allclose(fit.test_pred, sim.test_pred, rtol=0, atol=1e-10)
    # Training loss recorded by the simulation is (1/2K)‖f − y‖² of the same iterate.
    np.testing.assert_allclose(
        sim.loss, 0.5 * np.sum((ref - y) ** 2, axis=1) / N, rtol=1e-10
    )


def test_gradient_flow_is_the_small_step_limit(problem):
    spec, G, y, Gt, W, d, V = problem
    t = 3.0 / d[3]
    flow = dynamics.teacher_flow(spec, y, t=t).train_pred[0]
    errors = []
    for k in (100, 1000, 10000):
        gd = dynamics.teacher_descent(spec, y, lr=t / k, steps=k).train_pred[0]
        errors.append(np.max(np.abs(gd - flow)))
    # O(lr) convergence: each tenfold smaller step cuts the error about tenfold.
    assert errors[0] > errors[1] > errors[2]
    assert 5 < errors[0] / errors[1] < 20 and 5 < errors[1] / errors[2] < 20
    # Independent slow path: scipy's matrix exponential, f_t = (I − e^{−tG}) y.
    ref = y - scipy.linalg.expm(-t * G) @ y
    np.testing.assert_allclose(flow, ref, rtol=0, atol=1e-10)


def test_flow_limits(problem):
    spec, G, y, Gt, W, d, V = problem
    fit = dynamics.teacher_flow(spec, y, t=[0.0, 1e3 / d[-1]])
    np.testing.assert_array_equal(fit.train_pred[0], 0.0)
    np.testing.assert_allclose(fit.train_pred[1], y, rtol=0, atol=1e-10)


def test_student_matches_explicit_student_training(problem):
    spec, G, y, Gt, W, d, V = problem
    lr, nt, ns = 0.5 / d[0], 40, 25
    teacher = _numpy_gd(G, y, lr, nt)[-1]
    ref = _numpy_gd(G, teacher, lr, ns)  # a student trained from zero on f_T(X)
    fit = dynamics.student_descent(
        spec, y, lr=lr, teacher_steps=nt, steps=np.arange(ns + 1)
    )
    np.testing.assert_allclose(fit.train_pred, ref, rtol=0, atol=1e-10)
    # Per-eigendirection ratio to the teacher: 1 − (1 − lr d)^N' (formula by hand).
    z_s, z_t = V.T @ ref[-1], V.T @ teacher
    np.testing.assert_allclose(z_s / z_t, 1 - (1 - lr * d) ** ns, rtol=1e-8)
    # rtol 1e-8: z_t is a difference of iterates; the bottom coordinates of a
    # 40-step teacher are ~1e-4 of the top ones, so ~1e-12 absolute error becomes
    # ~1e-8 relative in the ratio.


def test_student_flow_formula(problem):
    spec, G, y, Gt, W, d, V = problem
    T, Tp = 2.0 / d[2], 0.5 / d[5]
    fit = dynamics.student_flow(spec, y, teacher_t=T, t=Tp)
    h = (1 - np.exp(-Tp * d)) * (1 - np.exp(-T * d))  # [NMBMK23], by hand
    np.testing.assert_allclose(fit.filter[0], h, rtol=1e-12)
    np.testing.assert_allclose(
        fit.train_pred[0], V @ (h * (V.T @ y)), rtol=0, atol=1e-12
    )


def test_late_switch_limits_and_simulation(problem):
    spec, G, y, Gt, W, d, V = problem
    lr, nt, ns = 0.5 / d[0], 30, 50
    kw = dict(lr=lr, teacher_steps=nt, steps=ns)
    teacher = dynamics.teacher_descent(spec, y, lr=lr, steps=nt).train_pred[0]
    start = dynamics.student_descent(spec, y, switch_step=0, **kw).train_pred[0]
    late_end = dynamics.student_descent(spec, y, switch_step=ns, **kw).train_pred[0]
    labels = dynamics.teacher_descent(spec, y, lr=lr, steps=ns).train_pred[0]
    plain = dynamics.student_descent(spec, y, lr=lr, teacher_steps=nt, steps=ns)
    np.testing.assert_allclose(start, plain.train_pred[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(late_end, labels, rtol=0, atol=1e-12)
    for s in (0, 17, ns):
        fit = dynamics.student_descent(
            spec,
            y,
            switch_step=s,
            alpha=0.3,
            steps=np.arange(ns + 1),
            lr=lr,
            teacher_steps=nt,
        )
        ref = _numpy_gd(G, y, lr, ns, target=0.3 * y + 0.7 * teacher, switch=s)
        sim = dynamics.simulate_regression(
            G, y, lr=lr, steps=ns, teacher=teacher, alpha=0.3, switch_step=s
        )
        np.testing.assert_allclose(fit.train_pred, ref, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sim.train_pred, ref, rtol=0, atol=1e-10)


def test_mix_alpha_one_is_label_training(problem):
    spec, G, y, Gt, W, d, V = problem
    lr = 0.5 / d[0]
    mix = dynamics.student_descent(spec, y, lr=lr, teacher_steps=7, steps=20, alpha=1.0)
    lab = dynamics.teacher_descent(spec, y, lr=lr, steps=20)
    np.testing.assert_allclose(mix.train_pred, lab.train_pred, rtol=0, atol=1e-14)
    fl = dynamics.student_flow(spec, y, teacher_t=1.0, t=[3.0], alpha=1.0)
    np.testing.assert_allclose(
        fl.train_pred,
        dynamics.teacher_flow(spec, y, t=3.0).train_pred,
        rtol=0,
        atol=1e-14,
    )


def test_distill_rounds_match_loop(problem):
    spec, G, y, Gt, W, d, V = problem
    t = np.array([1.0, 2.0, 0.5]) / d[4]
    fit = dynamics.distill_rounds(spec, y, t=t, alpha=0.2, test_features=W)
    target, preds = y, []
    for ti in t:  # each round: exact flow via scipy's expm on its targets
        f = target - scipy.linalg.expm(-ti * G) @ target
        preds.append(f)
        target = 0.2 * y + 0.8 * f
    np.testing.assert_allclose(fit.train_pred, np.array(preds), rtol=0, atol=1e-10)
    # Test predictions through the coefficients: f(x) = g_xᵀ V β.
    np.testing.assert_allclose(fit.test_pred, np.asarray(fit.coef) @ W.T, rtol=1e-12)


def test_multi_output_and_vectorised_times(problem):
    spec, G, y, Gt, W, d, V = problem
    Y = np.stack([y, -2 * y], axis=1)
    ts = np.array([0.1, 1.0, 10.0]) / d[0]
    fit = dynamics.teacher_flow(spec, Y, t=ts, test_features=W)
    assert fit.train_pred.shape == (3, N, 2) and fit.test_pred.shape == (3, 5, 2)
    for i, ti in enumerate(ts):
        one = dynamics.teacher_flow(spec, y, t=ti, test_features=W)
        np.testing.assert_allclose(
            fit.train_pred[i, :, 0], one.train_pred[0], rtol=1e-13
        )
        np.testing.assert_allclose(
            fit.test_pred[i, :, 1], -2 * one.test_pred[0], rtol=1e-13
        )


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_classifier_step_matches_numpy_and_loss_decreases(problem):
    spec, G, y, Gt, W, d, V = problem
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, N)
    lr = 2.0 / d[0]
    run = dynamics.simulate_classifier(G, labels, lr=lr, steps=200, classes=3)
    # One reference step from a = 0: a_1 = −lr (softmax(0) − onehot), f_1 = G a_1.
    a1 = -lr * (np.full((N, 3), 1 / 3) - np.eye(3)[labels])
    np.testing.assert_allclose(run.train_pred[1], G @ a1, rtol=1e-12)
    np.testing.assert_allclose(run.loss[0], np.log(3.0), rtol=1e-14)
    loss = np.asarray(run.loss)
    assert np.all(np.diff(loss) <= 1e-15) and loss[-1] < 0.8 * loss[0]
    # A distillation step with a temperature, teacher softened only: targets
    # softmax(f_T / τ) (Hinton's convention: tests/test_temperature.py).
    TL = rng.standard_normal((N, 3))
    st = dynamics.simulate_classifier(
        G, labels, lr=lr, steps=3, classes=3, teacher_logits=TL, temperature=2.0,
        convention="soft_targets",
    )  # fmt: skip
    b1 = -lr * (np.full((N, 3), 1 / 3) - _softmax(TL / 2.0))
    np.testing.assert_allclose(st.train_pred[1], G @ b1, rtol=1e-12)
    p1 = _softmax(G @ b1)
    b2 = b1 - lr * (p1 - _softmax(TL / 2.0))
    np.testing.assert_allclose(st.train_pred[2], G @ b2, rtol=1e-12)


def test_classifier_switch_limits(problem):
    spec, G, y, Gt, W, d, V = problem
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 3, N)
    TL = rng.standard_normal((N, 3))
    kw = dict(lr=1.0 / d[0], steps=30, classes=3)
    lab = dynamics.simulate_classifier(G, labels, **kw)
    end = dynamics.simulate_classifier(
        G, labels, teacher_logits=TL, switch_step=30, **kw
    )
    mix1 = dynamics.simulate_classifier(G, labels, teacher_logits=TL, alpha=1.0, **kw)
    np.testing.assert_array_equal(end.train_pred, lab.train_pred)
    np.testing.assert_allclose(mix1.train_pred, lab.train_pred, rtol=0, atol=1e-14)


def test_jit_compatible_simulation(problem):
    spec, G, y, Gt, W, d, V = problem
    f = jax.jit(
        lambda yy: simulate._simulate_core(G, None, yy, yy, 0, 0.1, 5, False)[0]
    )
    np.testing.assert_allclose(f(y), _numpy_gd(G, y, 0.1, 5), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s, y, G: dynamics.teacher_flow(s, y, t=-1.0), "`t`"),
        (lambda s, y, G: dynamics.teacher_flow(s, y[:3], t=1.0), "`y`"),
        (lambda s, y, G: dynamics.teacher_flow("spec", y, t=1.0), "`spec`"),
        (lambda s, y, G: dynamics.teacher_descent(s, y, lr=1e9, steps=3), "`lr`"),
        (lambda s, y, G: dynamics.teacher_descent(s, y, lr=0.1, steps=1.5), "`steps`"),
        (lambda s, y, G: dynamics.student_flow(s, y, teacher_t=-2, t=1.0), "`teacher_t`"),
        (lambda s, y, G: dynamics.student_flow(s, y, teacher_t=1, t=1.0, alpha=1.5), "`alpha`"),
        (lambda s, y, G: dynamics.student_descent(s, y, lr=0.1, teacher_steps=3, steps=4, switch_step=-1), "`switch_step`"),
        (lambda s, y, G: dynamics.student_descent(s, y, lr=0.1, teacher_steps=-3, steps=4), "`teacher_steps`"),
        (lambda s, y, G: dynamics.teacher_flow(s, y, t=1.0, test_features=np.ones((2, 3))), "`test_features`"),
        (lambda s, y, G: dynamics.simulate_regression(G[:3], y, lr=0.1, steps=3), "`G`"),
        (lambda s, y, G: dynamics.simulate_regression(G, y, lr=0.1, steps=0), "`steps`"),
        (lambda s, y, G: dynamics.simulate_regression(G, y, lr=0.1, steps=3, teacher=y[:2]), "`teacher`"),
        (lambda s, y, G: dynamics.simulate_regression(G, y, lr=0.1, steps=3, G_test=np.ones((2, 3))), "`G_test`"),
        (lambda s, y, G: dynamics.simulate_classifier(G, y, lr=0.1, steps=3), "`labels`"),
        (lambda s, y, G: dynamics.simulate_classifier(G, np.zeros(N, int), lr=0.1, steps=3, teacher_logits=np.ones((N, 1)), temperature=0.0), "`temperature`"),
        (lambda s, y, G: dynamics.simulate_classifier(G, np.zeros(N, int), lr=0.1, steps=3, teacher_logits=np.ones((N, 2))), "`teacher_logits`"),
    ],
)  # fmt: skip
def test_bad_inputs_name_the_argument(problem, call, match):
    spec, G, y, Gt, W, d, V = problem
    with pytest.raises(ValueError, match=match):
        call(spec, y, G)


def test_float32_keeps_float32():
    rng = np.random.default_rng(1)
    d, V = planted_spectrum(rng, 8, 10.0)
    spec = ksd.spectrum_from_eigen(d.astype(np.float32), V.astype(np.float32))
    fit = dynamics.teacher_flow(spec, np.ones(8, np.float32), t=1.0)
    assert fit.train_pred.dtype == np.float32
