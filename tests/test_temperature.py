"""One temperature convention for cross-entropy distillation, kernel and network students.

Independent references for ``kernel_sd.simulate``'s hand-written gradient: the two
losses written out below, differentiated by ``jax.grad`` in weight space for a
linear model on explicit features ``Φ`` (``G = Φ Φᵀ/K``), where gradient descent
on the weights is kernel gradient descent with ``G``; and the gradient in function
space of the networks' loss (``nets.loss_value``), which must give the kernel
student the same steps.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernel_sd import dynamics, nets

K, C, P, STEPS, SWITCH = 24, 3, 10, 6, 2
ALPHA, TAU = 0.3, 3.0
# The module (the package re-exports its function `train` under the same name).
net_training = importlib.import_module("kernel_sd.nets.train")


@pytest.fixture(scope="module")
def problem():
    g = np.random.default_rng(17)
    Phi, Phi_test = g.standard_normal((K, P)), g.standard_normal((5, P))
    labels = g.integers(0, C, K)
    teacher = 2.0 * g.standard_normal((K, C))
    return Phi, Phi_test, labels, teacher


def _kernel_run(problem, **kw):
    """``simulate_classifier`` on ``G = ΦΦᵀ/K`` (one compiled shape for the module)."""
    Phi, Phi_test, labels, teacher = problem
    G = Phi @ Phi.T / K
    return dynamics.simulate_classifier(
        G, labels, lr=1.0 / np.linalg.eigvalsh(G)[-1], steps=STEPS, classes=C,
        teacher_logits=teacher, alpha=ALPHA, switch_step=SWITCH,
        G_test=Phi_test @ Phi.T / K, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(problem):
    """Kernel students of both conventions at ``τ = 1`` and ``τ = TAU``."""
    return {
        (conv, tau): _kernel_run(problem, temperature=tau, convention=conv)
        for conv in ("hinton", "soft_targets")
        for tau in (1.0, TAU)
    }


def _ce(p, logits):
    """``(1/K) Σ_i CE(p_i, softmax(logits_i))``."""
    return -jnp.mean(jnp.sum(p * jax.nn.log_softmax(logits, axis=1), axis=1))


def _reference_loss(convention, f, onehot, teacher, alpha, tau):
    """The distillation loss of each convention, written out independently."""
    p_t = jax.nn.softmax(teacher / tau, axis=1)
    if convention == "hinton":  # Hinton, Vinyals & Dean (2015)
        return alpha * _ce(onehot, f) + (1 - alpha) * tau**2 * _ce(p_t, f / tau)
    return _ce(alpha * onehot + (1 - alpha) * p_t, f)  # teacher softened only


def _feature_descent(convention, Phi, Phi_test, labels, teacher, lr):
    """Gradient descent on ``W`` for ``f = Φ W`` from ``W = 0``, ``jax.grad`` gradients."""
    onehot = jnp.eye(C)[labels]

    @jax.jit
    def value_and_grad(w, late):
        def loss(w):
            f = jnp.asarray(Phi) @ w
            distill = _reference_loss(convention, f, onehot, teacher, ALPHA, TAU)
            return jnp.where(late, distill, _ce(onehot, f))

        return jax.value_and_grad(loss)(w)

    W = jnp.zeros((P, C))
    train, test, losses = [], [], []
    for s in range(STEPS + 1):
        value, grad = value_and_grad(W, s >= SWITCH)
        train.append(Phi @ W)
        test.append(Phi_test @ W)
        losses.append(value)
        W = W - lr * grad
    return np.array(train), np.array(test), np.array(losses)


@pytest.mark.parametrize("convention", ["hinton", "soft_targets"])
def test_kernel_student_is_feature_gradient_descent(convention, problem, runs):
    """``f ← f − lr G ∂ℓ/∂f`` with ``G = ΦΦᵀ/K`` is GD on ``W`` with step ``lr``.

    (The weight gradient of ``(1/K) Σ ℓ`` is ``Φᵀ ∂ℓ/∂f / K``, so ``Φ W`` moves by
    ``−lr (ΦΦᵀ/K) ∂ℓ/∂f``.) Labels before step ``SWITCH``, the teacher after.
    """
    Phi, Phi_test, labels, teacher = problem
    run = runs[convention, TAU]
    lr = 1.0 / np.linalg.eigvalsh(Phi @ Phi.T / K)[-1]
    train, test, losses = _feature_descent(
        convention, Phi, Phi_test, labels, teacher, lr
    )
    # 1e-12: a few steps of O(1) logits; round-off of two summation orders.
    np.testing.assert_allclose(run.train_pred, train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.test_pred, test, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.loss, losses, rtol=1e-12)


def test_conventions_agree_at_unit_temperature_only(runs):
    np.testing.assert_allclose(
        runs["hinton", 1.0].train_pred,
        runs["soft_targets", 1.0].train_pred,
        rtol=1e-13,
        atol=1e-14,
    )
    # Negative control: at τ = 3 the student's temperature and τ² matter.
    hinton = np.asarray(runs["hinton", TAU].train_pred)
    gap = np.abs(hinton - runs["soft_targets", TAU].train_pred).max()
    assert gap > 0.1 * np.abs(hinton).max()


@pytest.mark.parametrize("convention", ["hinton", "soft_targets"])
def test_network_loss_drives_the_same_kernel_steps(convention, problem, runs):
    """The networks' loss is the kernel student's loss: its function-space gradient
    (``jax.grad``, times ``K``) gives ``simulate_classifier``'s steps and losses."""
    Phi, _, labels, teacher = problem
    G = Phi @ Phi.T / K
    lr = 1.0 / np.linalg.eigvalsh(G)[-1]
    run = runs[convention, TAU]
    # The targets as nets.train builds them, and the loss its loop differentiates
    # (nets.loss_value validates the teacher, which a jit trace cannot).
    first, second, a, tau_s, _ = net_training._targets(
        "cross_entropy", labels, K, C, np.float64, teacher, ALPHA, TAU, SWITCH,
        STEPS, convention,
    )  # fmt: skip

    @jax.jit
    def value_and_grad(f, late):
        return jax.value_and_grad(
            lambda f: net_training._loss(
                "cross_entropy", f, first, second, late, a, tau_s
            )
        )(f)

    f = np.zeros((K, C))
    onehot = jnp.eye(C)[labels]
    for s in range(STEPS + 1):
        np.testing.assert_allclose(run.train_pred[s], f, rtol=1e-12, atol=1e-12)
        value, grad = value_and_grad(jnp.asarray(f), s >= SWITCH)
        np.testing.assert_allclose(run.loss[s], value, rtol=1e-12)
        f = f - lr * G @ (K * np.asarray(grad))
    # The public loss of the networks, against the formula written out above.
    ref = _reference_loss(convention, f, onehot, teacher, ALPHA, TAU)
    mixed = dict(loss="cross_entropy", teacher=teacher, alpha=ALPHA,
                 temperature=TAU, convention=convention)  # fmt: skip
    np.testing.assert_allclose(nets.loss_value(f, labels, **mixed), ref, rtol=1e-13)


def test_missing_convention_warns_where_it_matters(problem, runs):
    with pytest.warns(FutureWarning, match="convention='hinton'"):
        old = _kernel_run(problem, temperature=TAU)
    np.testing.assert_array_equal(old.train_pred, runs["soft_targets", TAU].train_pred)
    _kernel_run(problem)  # τ = 1: no warning (warnings are errors)


def test_bad_convention_is_refused(problem):
    _, _, labels, teacher = problem
    with pytest.raises(ValueError, match="`convention`"):
        _kernel_run(problem, convention="Hinton")
    with pytest.raises(ValueError, match="`convention`"):
        nets.loss_value(
            np.zeros((K, C)), labels, loss="cross_entropy", teacher=teacher,
            convention="both",
        )  # fmt: skip
    with pytest.raises(ValueError, match="`convention`.*squared"):
        nets.loss_value(np.zeros(K), np.zeros(K), convention="soft_targets")
