"""Networks: forward pass, empirical NTK, training, linearisation, distillation.

Independent references: a NumPy forward pass and loss, ``jax.jacrev`` Jacobians,
NumPy ``eigh`` of the empirical kernel (the closed form of kernel gradient
descent), finite differences, and the explicit wide networks of
``tests/wide_networks.py``.
"""

import math

import jax
import jax.flatten_util
import numpy as np
import pytest
from scipy.special import erf, log_softmax

from kernel_sd import kernels, nets
from tests import wide_networks as wide

STEPS, EVERY = 40, 10  # shared by most runs: one compilation per model
NET = nets.MLP(depth=2, width=32, b_std=0.2)  # one output (squared loss)
CLF = nets.MLP(depth=2, width=32, outputs=3, b_std=0.2)  # three classes


@pytest.fixture(scope="module")
def problem():
    g = np.random.default_rng(3)
    X = g.standard_normal((12, 3))
    X_test = g.standard_normal((5, 3))
    y = np.sin(X @ np.array([1.0, -0.5, 0.3]))
    labels = g.integers(0, 3, size=12)
    return X, X_test, y, labels


def _np_forward(net, params, X):
    """The parameterisation of kernel_sd.kernels.network, in NumPy."""
    phi = (lambda h: np.maximum(h, 0.0)) if net.activation == "relu" else erf
    a = X
    for W, b in params[:-1]:
        W, b = np.asarray(W), np.asarray(b)
        a = phi(net.w_std * a @ W.T / math.sqrt(W.shape[1]) + net.b_std * b)
    V, c = (np.asarray(t) for t in params[-1])
    return a @ V.T / math.sqrt(V.shape[1]) + net.b_std * c


def _jacobian_ntk(net, params, X, Z):
    """``(1/q) Σ_c J_c(X) J_c(Z)ᵀ`` from ``jax.jacrev`` over every parameter.

    One Jacobian of the stacked rows of ``X`` and ``Z`` (one compilation).
    """
    A = np.vstack([X, Z])
    J = jax.jit(jax.jacrev(net.apply))(params, A)  # leaves (n, q, *shape)
    n, q = A.shape[0], net.outputs
    flat = np.concatenate(
        [np.asarray(leaf).reshape(n, q, -1) for leaf in jax.tree.leaves(J)], axis=2
    )
    JX, JZ = flat[: len(X)], flat[len(X) :]
    return np.einsum("icp,jcp->ij", JX, JZ) / net.outputs


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_forward_and_empirical_ntk(activation, problem):
    """The forward pass equals NumPy's; ``empirical_ntk`` equals ``(1/q) Σ_c J_c J_cᵀ``."""
    X, X_test = problem[0], problem[1]
    net = nets.MLP(
        depth=3, width=16, outputs=3, activation=activation, w_std=1.3, b_std=0.4
    )
    params = net.init(jax.random.key(0), inputs=3)
    np.testing.assert_allclose(
        net.apply(params, X), _np_forward(net, params, X), rtol=1e-13, atol=1e-14
    )
    np.testing.assert_allclose(
        nets.empirical_ntk(net, params, X, X_test),
        _jacobian_ntk(net, params, X, X_test),
        rtol=1e-12,
        atol=1e-13,
    )


def test_wide_empirical_ntk_matches_the_limit():
    """Width 4096: the mean of the empirical NTK over seeds ≈ ``net.ntk()``.

    Depth 1 (no (width, width) matrix: cheap). The hidden-layer scaling of deeper
    nets equals the NumPy networks' (test_forward_and_empirical_ntk), whose kernels
    are compared with the limit at depth 2 in test_kernels_network.py.
    """
    X = np.random.default_rng(7).standard_normal((5, 3))
    net = nets.MLP(depth=1, width=wide.WIDTH, outputs=2, b_std=0.3)
    samples = np.array(
        [
            nets.empirical_ntk(net, net.init(jax.random.key(s), 3), X)
            for s in range(wide.SEEDS)
        ]
    )
    limit = np.asarray(net.ntk()(X, X))
    assert np.abs(wide.t_stats(samples, limit)).max() < wide.T_MAX
    wrong = np.asarray(nets.MLP(depth=2, b_std=0.3).ntk()(X, X))  # negative control
    assert np.abs(wide.t_stats(samples, wrong)).max() > wide.T_MAX


def _kernel_gd(Theta, Theta_test, f0, f0_test, y, lr, steps):
    """Kernel gradient descent in closed form from ``f0`` with kernel ``Θ/K``.

    ``f_N(X) = f0 + V (1 − (1 − lr d)^N) Vᵀ (y − f0)`` with ``Θ/K = V diag(d) Vᵀ``;
    at new points ``f_N(x) = f0(x) + Θ(x, X) V diag(h/(K d)) Vᵀ (y − f0)``.
    """
    K = Theta.shape[0]
    d, V = np.linalg.eigh(Theta / K)
    assert lr * d.max() < 2 and d.min() > 1e-6 * d.max()  # stable, well conditioned
    z = V.T @ (y - f0)
    train, test = [], []
    for n in steps:
        h = 1.0 - (1.0 - lr * d) ** n
        train.append(f0 + V @ (h * z))
        test.append(f0_test + Theta_test @ V @ (h / (K * d) * z))
    return np.array(train), np.array(test)


def test_linearised_network_is_kernel_gradient_descent(problem):
    X, X_test, y, _ = problem
    p0 = NET.init(jax.random.key(2), inputs=3)
    lr = 0.5
    lin = nets.linearize(NET, p0)
    run = nets.train(
        lin, p0, X, y, lr=lr, steps=STEPS, record_every=EVERY, X_test=X_test
    )
    both = np.vstack([X, X_test])
    Theta = _jacobian_ntk(NET, p0, both, X)
    f0 = _np_forward(NET, p0, both)[:, 0]
    train, test = _kernel_gd(
        Theta[:12], Theta[12:], f0[:12], f0[12:], y, lr, np.asarray(run.step)
    )
    # 1e-10: 40 steps of round-off against one eigh of a well-conditioned Θ.
    np.testing.assert_allclose(run.train_pred, train, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.test_pred, test, rtol=1e-10, atol=1e-12)
    # Negative control: the network itself (width 32) leaves the closed form.
    net_run = nets.train(
        NET, p0, X, y, lr=lr, steps=STEPS, record_every=EVERY, X_test=X_test
    )
    assert np.abs(np.asarray(net_run.train_pred) - train).max() > 1e-4


def test_wide_network_stays_close_to_its_linearisation(problem):
    """max_s |f_s − f_s^lin| shrinks with the width: O(1/√width) (Lee et al. 2019).

    ``f^lin`` is kernel gradient descent with the empirical NTK at init, which
    equals the trained linearised network (test above).
    """
    X, _, y, _ = problem
    gaps = {}
    for width in (64, 4096):
        net = nets.MLP(depth=1, width=width, b_std=0.2)
        gap = []
        for seed in range(3):
            p0 = net.init(jax.random.key(10 + seed), inputs=3)
            run = nets.train(net, p0, X, y, lr=0.5, steps=STEPS, record_every=EVERY)
            Theta = np.asarray(nets.empirical_ntk(net, p0, X))
            f0 = np.asarray(run.train_pred[0])
            f_lin, _ = _kernel_gd(Theta, Theta, f0, f0, y, 0.5, np.asarray(run.step))
            gap.append(
                np.abs(np.asarray(run.train_pred) - f_lin).max() / np.abs(y).max()
            )
        gaps[width] = np.mean(gap)
    # 64x the width: the O(1/√width) bound predicts at most 1/8 of the gap (measured
    # ~0.13 over 4 seeds in development); require at least a halving.
    assert gaps[4096] < 0.5 * gaps[64], gaps
    assert gaps[4096] < 0.05, gaps


def _np_ce_loss(net, params, X, labels, teacher, alpha, tau):
    """α CE(e_y, softmax f) + (1 − α) τ² CE(softmax(T/τ), softmax(f/τ)), in NumPy."""
    f = _np_forward(net, params, X)
    K = f.shape[0]
    hard = -log_softmax(f, axis=1)[np.arange(K), labels].mean()
    p_t = np.exp(log_softmax(teacher / tau, axis=1))
    soft = -(p_t * log_softmax(f / tau, axis=1)).sum(axis=1).mean()
    return alpha * hard + (1 - alpha) * tau**2 * soft


@pytest.mark.parametrize("switch_step", [0, 1])
def test_cross_entropy_step_matches_finite_differences(switch_step, problem):
    X, _, _, labels = problem
    p0 = CLF.init(jax.random.key(4), inputs=3)
    teacher = np.random.default_rng(5).standard_normal((12, 3)) * 2.0
    alpha, tau, lr = 0.3, 2.0, 0.1
    run = nets.train(
        CLF, p0, X, labels, loss="cross_entropy", lr=lr, steps=1,
        teacher=teacher, alpha=alpha, temperature=tau, switch_step=switch_step,
    )  # fmt: skip
    a = alpha if switch_step == 0 else 1.0  # before the switch: labels only
    ref_loss = _np_ce_loss(CLF, p0, X, labels, teacher, a, tau)
    np.testing.assert_allclose(run.loss[0], ref_loss, rtol=1e-13)
    f0 = CLF.apply(p0, X)
    mixed = dict(teacher=teacher, alpha=alpha, temperature=tau)
    value = nets.loss_value(f0, labels, loss="cross_entropy", **mixed)
    np.testing.assert_allclose(
        value, _np_ce_loss(CLF, p0, X, labels, teacher, alpha, tau), rtol=1e-13
    )
    flat0, unflatten = jax.flatten_util.ravel_pytree(p0)
    flat1, _ = jax.flatten_util.ravel_pytree(run.params)
    step_grad = (np.asarray(flat0) - np.asarray(flat1)) / lr
    h = 1e-6
    for i in np.random.default_rng(6).choice(flat0.size, 8, replace=False):
        e = np.zeros(flat0.size)
        e[i] = h
        up = _np_ce_loss(CLF, unflatten(flat0 + e), X, labels, teacher, a, tau)
        down = _np_ce_loss(CLF, unflatten(flat0 - e), X, labels, teacher, a, tau)
        # 1e-6 (abs 1e-9): central differences, O(h²) truncation and eps/h round-off.
        np.testing.assert_allclose(
            step_grad[i], (up - down) / (2 * h), rtol=1e-6, atol=1e-9
        )


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_alpha_one_and_late_switch_are_label_training(loss, problem):
    X, X_test, y, labels = problem
    net, target = (NET, y) if loss == "squared" else (CLF, labels)
    p0 = net.init(jax.random.key(7), inputs=3)
    teacher = np.random.default_rng(8).standard_normal((12, net.outputs))
    if loss == "squared":
        teacher = teacher[:, 0]
    kw = dict(lr=0.5, steps=STEPS, record_every=EVERY, X_test=X_test, loss=loss)
    labels_only = nets.train(net, p0, X, target, **kw)
    mixed = nets.train(net, p0, X, target, teacher=teacher, alpha=1.0, **kw)
    late = nets.train(net, p0, X, target, teacher=teacher, switch_step=STEPS, **kw)
    for run in (mixed, late):
        np.testing.assert_allclose(
            run.train_pred, labels_only.train_pred, rtol=1e-13, atol=1e-14
        )
        np.testing.assert_allclose(
            run.test_pred, labels_only.test_pred, rtol=1e-13, atol=1e-14
        )
    # A switch at step 20: identical records up to step 20, different after.
    mid = nets.train(net, p0, X, target, teacher=teacher, switch_step=20, **kw)
    f_mid, f_lab = np.asarray(mid.train_pred), np.asarray(labels_only.train_pred)
    np.testing.assert_allclose(f_mid[:3], f_lab[:3], rtol=1e-13, atol=1e-14)
    assert np.abs(f_mid[3:] - f_lab[3:]).min() > 0


def test_squared_distillation_trains_on_mixed_targets(problem):
    X, X_test, y, _ = problem
    p0 = NET.init(jax.random.key(9), inputs=3)
    teacher = np.random.default_rng(10).standard_normal(12)
    kw = dict(lr=0.5, steps=STEPS, record_every=EVERY, X_test=X_test)
    run = nets.train(NET, p0, X, y, teacher=teacher, alpha=0.3, **kw)
    ref = nets.train(NET, p0, X, 0.3 * y + 0.7 * teacher, **kw)
    np.testing.assert_allclose(run.train_pred, ref.train_pred, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(run.loss, ref.loss, rtol=1e-13)


def test_self_distillation_reinitialises_every_round(problem):
    X, X_test, y, _ = problem
    key = jax.random.key(11)
    rounds = nets.self_distill(
        NET, key, X, y, rounds=2, lr=0.5, steps=STEPS, X_test=X_test
    )
    kw = dict(lr=0.5, steps=STEPS, record_every=STEPS, X_test=X_test)
    r0 = nets.train(NET, NET.init(jax.random.fold_in(key, 0), 3), X, y, **kw)
    r1 = nets.train(
        NET, NET.init(jax.random.fold_in(key, 1), 3), X, r0.train_pred[-1], **kw
    )
    for t, ref in enumerate((r0, r1)):
        np.testing.assert_allclose(rounds.train_pred[t], ref.train_pred[-1], rtol=1e-13)
        np.testing.assert_allclose(rounds.test_pred[t], ref.test_pred[-1], rtol=1e-13)
    kw = dict(lr=0.5, record_every=EVERY, X_test=X_test)
    teacher, student = nets.teacher_student(
        NET, key, X, y, teacher_steps=STEPS, steps=STEPS, **kw
    )
    k_t, k_s = jax.random.split(key)
    teacher_ref = nets.train(NET, NET.init(k_t, 3), X, y, steps=STEPS, **kw)
    ref = nets.train(
        NET,
        NET.init(k_s, 3),
        X,
        y,
        steps=STEPS,
        teacher=teacher_ref.train_pred[-1],
        **kw,
    )
    np.testing.assert_allclose(student.train_pred, ref.train_pred, rtol=1e-13)


def test_divergence_is_an_error(problem):
    """A linear model with lr·d_max ~ 1e6 overflows within 40 steps: NaN/inf is an error."""
    X, X_test, y, _ = problem
    p0 = NET.init(jax.random.key(2), inputs=3)
    lin = nets.linearize(NET, p0)
    with pytest.raises(ValueError, match="lr"):
        nets.train(
            lin, p0, X, y, lr=1e6, steps=STEPS, record_every=EVERY, X_test=X_test
        )


def test_float32_parameters_keep_float32(problem):
    """Traced abstractly (``jax.eval_shape``): dtypes propagate, nothing compiles."""
    X = problem[0].astype(np.float32)
    p32 = jax.eval_shape(
        lambda k: NET.init(k, inputs=3, dtype=np.float32), jax.random.key(0)
    )
    assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(p32))
    assert jax.eval_shape(NET.apply, p32, X).dtype == np.float32


def test_architecture_kernels():
    net = nets.MLP(depth=3, activation="erf", w_std=1.2, b_std=0.1)
    assert net.ntk() == kernels.NTK(depth=3, activation="erf", w_std=1.2, b_std=0.1)
    assert net.nngp() == kernels.NNGP(depth=3, activation="erf", w_std=1.2, b_std=0.1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda P, p: nets.MLP(depth=0), "depth"),
        (lambda P, p: nets.MLP(width=2.5), "width"),
        (lambda P, p: nets.MLP(activation="tanh"), "activation"),
        (lambda P, p: nets.MLP(w_std=-1.0), "w_std"),
        (lambda P, p: NET.init(0, inputs=3), "key"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.0, steps=10), "lr"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=0), "steps"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, record_every=3), "record_every"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, loss="hinge"), "loss"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, temperature=2.0), "temperature"),
        (lambda P, p: nets.train(NET, p, P[0], P[2][:5], lr=0.5, steps=10), "y"),
        (lambda P, p: nets.train(NET, p, P[0][:, :2], P[2], lr=0.5, steps=10), "params"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, teacher=np.ones(5)), "teacher"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, teacher=P[2], alpha=2.0), "alpha"),
        (lambda P, p: nets.train(NET, p, P[0], P[2], lr=0.5, steps=10, teacher=P[2], switch_step=-1), "switch_step"),
        (lambda P, p: nets.train(CLF, p, P[0], P[3], lr=0.5, steps=10, loss="cross_entropy"), "params"),
        (lambda P, p: nets.train(NET, p, P[0], P[3], lr=0.5, steps=10, loss="cross_entropy"), "y"),
        (lambda P, p: nets.train(NET, p, P[0], P[3] * 0.5, lr=0.5, steps=10, loss="cross_entropy"), "y"),
        (lambda P, p: nets.train(lambda x: x, p, P[0], P[2], lr=0.5, steps=10), "model"),
        (lambda P, p: nets.empirical_ntk(NET, p, P[0], P[1][:, :2]), "Z"),
        (lambda P, p: nets.self_distill(NET, jax.random.key(0), P[0], P[2], rounds=0, lr=0.5, steps=10), "rounds"),
    ],
)  # fmt: skip
def test_bad_arguments(call, match, problem):
    p0 = NET.init(jax.random.key(0), inputs=3)
    with pytest.raises(ValueError, match=match):
        call(problem, p0)
