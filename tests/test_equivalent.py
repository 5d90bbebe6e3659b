"""[MFB20] equivalent kernel: one dense kernel-ridge fit with g†_t against dense rounds.

Reference route: the rounds recomputed with dense ``np.linalg.solve`` on ``G`` and the
cross-Gram ``k(X_test, X)/K`` (``y_{t+1} = G (c_t I + G)^{-1} y_t``,
``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t``), never through the eigenbasis. Negative
controls: the round-0 kernel, and a scale without its ``1 − B_t`` factor, must not
reproduce round 1.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import equivalent


def _problem(kind):
    if kind == "toy":
        ds = ksd.data.mobahi_toy(n_test=41)
        k = ksd.kernels.RBF(lengthscale=float(np.sqrt(1 / 160)))
        return k, ds.X, ds.y, ds.X_test, 0.01
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (16, 3))
    Xt = rng.uniform(0, 1, (10, 3))
    Y = np.stack([np.sin(4 * X[:, 0]) + 0.3 * rng.standard_normal(16), X[:, 1] ** 2], 1)
    k = ksd.kernels.RBF(lengthscale=0.3)
    return k, X, Y, Xt, 0.02 * float(np.sum(Y * Y)) / 16


@pytest.fixture(scope="module", params=["toy", "rbf3d"])
def setting(request):
    k, X, y, Xt, eps = _problem(request.param)
    K = X.shape[0]
    tr = ksd.self_distill(k, X, y, eps=eps, rounds=32, X_test=Xt)
    G = np.asarray(ksd.gram(k, jnp.asarray(X))) / K
    Gx = np.asarray(ksd.gram(k, jnp.asarray(Xt), jnp.asarray(X))) / K
    Gtt = np.asarray(ksd.gram(k, jnp.asarray(Xt))) / K
    W = ksd.features(k, X, Xt, tr.spectrum)
    # Independent route: dense rounds with the trace's multipliers.
    c = np.asarray(tr.c)
    yt, train, test = np.array(y, float), [], []
    for ct in c:
        if not np.isfinite(ct):
            break
        a = np.linalg.solve(ct * np.eye(K) + G, yt)
        test.append(Gx @ a)
        yt = G @ a
        train.append(yt)
    return dict(tr=tr, G=G, Gx=Gx, Gtt=Gtt, W=W, y=np.asarray(y, float), X=X, k=k,
                train=train, test=test)  # fmt: skip


def _krr(Gd, cross, y, c_hat):
    a = np.linalg.solve(c_hat * np.eye(Gd.shape[0]) + Gd, y)
    return Gd @ a, cross @ a, a


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_ridge_with_the_equivalent_kernel_is_round_t(setting):
    s = setting
    c0 = float(s["tr"].c[0])
    rounds = len(s["train"])
    assert rounds >= 3
    for t in range(rounds):
        for factor in (1.0, 1e-3, 10.0):
            ek = ksd.equivalent_kernel(s["tr"], t, c_hat=factor * c0)
            ptr, pte, _ = _krr(np.asarray(ek.gram()), np.asarray(ek.cross(s["W"])),
                               s["y"], factor * c0)  # fmt: skip
            # A few ulps times the condition number of c_hat I + G† (<= 1e5 here).
            assert _rel(ptr, s["train"][t]) < 1e-9, (t, factor)
            assert _rel(pte, s["test"][t]) < 1e-9, (t, factor)
    # Default c_hat = c_0: the round-0 kernel is the original kernel.
    ek0 = ksd.equivalent_kernel(s["tr"], 0)
    np.testing.assert_allclose(np.asarray(ek0.scale), 1.0, rtol=1e-10)
    np.testing.assert_allclose(
        np.asarray(ek0.gram()), s["G"], atol=1e-12 * s["G"].max()
    )


def test_negative_controls_do_not_reproduce_round_one(setting):
    s = setting
    c0 = float(s["tr"].c[0])
    ek0 = ksd.equivalent_kernel(s["tr"], 0)
    _, pte, _ = _krr(s["G"], s["Gx"], s["y"], c0)  # the original kernel
    assert _rel(pte, s["test"][1]) > 1e-2
    ek1 = ksd.equivalent_kernel(s["tr"], 1)
    d = np.asarray(ek1.spectrum.eigvals)
    V = np.asarray(ek1.spectrum.eigvecs)
    wrong = c0 * np.asarray(ek1.shrinkage) / d  # forgets the 1/(1 − B_t) factor
    _, pte, _ = _krr(
        (V * wrong * d) @ V.T, (np.asarray(s["W"]) * wrong) @ V.T, s["y"], c0
    )
    assert _rel(pte, s["test"][1]) > 1e-2
    assert ek0.round == 0


def test_the_kernel_is_positive_semidefinite_and_consistent_at_the_data(setting):
    s = setting
    ek = ksd.equivalent_kernel(s["tr"], 2)
    Gd = np.asarray(ek.gram())
    cross = np.asarray(ek.cross(s["W"]))
    tt = np.asarray(ek.block(s["W"], s["W"], s["Gtt"]))
    full = np.block([[Gd, cross.T], [cross, tt]])
    np.testing.assert_allclose(full, full.T, atol=1e-12 * np.abs(full).max())
    assert np.linalg.eigvalsh(full).min() >= -1e-10 * np.abs(full).max()
    # The new-point formula, evaluated at the training points, gives the train block.
    WX = ksd.features(s["k"], s["X"], s["X"], ek.spectrum)
    np.testing.assert_allclose(np.asarray(ek.block(WX, WX, s["G"])), Gd,
                               atol=1e-10 * np.abs(Gd).max())  # fmt: skip


def test_complexity_against_dense_quantities(setting):
    s = setting
    tr = s["tr"]
    K = s["G"].shape[0]
    c = np.asarray(tr.c)
    for factor in (1.0, 1e-2):
        chat = factor * float(c[0])
        cx = equivalent.complexity(tr, c_hat=chat)
        yt = s["y"]
        for t in range(len(s["train"])):
            ek = ksd.equivalent_kernel(tr, t, c_hat=chat)
            Gd = np.asarray(ek.gram())
            _, _, a = _krr(Gd, Gd, s["y"], chat)
            norm2 = float(np.sum(a * (Gd @ a))) / K
            trace = float(np.trace(Gd))
            df = float(np.trace(np.linalg.solve(chat * np.eye(K) + Gd, Gd)))
            b = np.linalg.solve(c[t] * np.eye(K) + s["G"], yt)
            R = float(np.sum(b * (s["G"] @ b))) / K  # ‖f_t‖² in the original RKHS
            yt = s["G"] @ b
            np.testing.assert_allclose(float(cx.norm2[t]), norm2, rtol=1e-8)
            np.testing.assert_allclose(float(cx.trace[t]), trace, rtol=1e-8)
            np.testing.assert_allclose(float(cx.effective_dimension[t]), df, rtol=1e-8)
            np.testing.assert_allclose(float(cx.rkhs_norm2[t]), R, rtol=1e-8)
            np.testing.assert_allclose(float(cx.rademacher[t]),
                                       np.sqrt(norm2 * trace / K), rtol=1e-8)  # fmt: skip
    # Scale-free quantities do not depend on c_hat; the norm alone does.
    a, b = (
        equivalent.complexity(tr),
        equivalent.complexity(tr, c_hat=1e-2 * float(c[0])),
    )
    np.testing.assert_allclose(
        np.asarray(a.rademacher), np.asarray(b.rademacher), rtol=1e-9
    )
    assert not np.allclose(np.asarray(a.norm2), np.asarray(b.norm2), rtol=1e-3)


def test_bad_arguments_are_refused(setting):
    tr = setting["tr"]
    with pytest.raises(ValueError, match="`round`"):
        ksd.equivalent_kernel(tr, 32)
    with pytest.raises(ValueError, match="`c_hat`"):
        ksd.equivalent_kernel(tr, 0, c_hat=0.0)
    sweep = dataclasses.replace(tr, c=jnp.stack([tr.c, tr.c]))  # a 2-value sweep
    with pytest.raises(ValueError, match="single trace"):
        ksd.equivalent_kernel(sweep, 0)
    fit = dataclasses.replace(tr, c=None)  # a gradient-method fit has no multipliers
    with pytest.raises(ValueError, match="self-distillation trace"):
        ksd.equivalent_kernel(fit, 0)
    zero_c = dataclasses.replace(tr, c=jnp.zeros_like(tr.c))  # e.g. lam = 0
    with pytest.raises(ValueError, match="c_hat"):
        ksd.equivalent_kernel(zero_c, 0)
