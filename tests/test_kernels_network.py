"""Network kernels (NNGP, NTK): closed forms, high-precision recursions, wide networks.

References, all independent of ``kernel_sd.kernels.network``:
- depth 1, ReLU: the arc-cosine kernels of Cho & Saul written with the ``math``
  module (and the package's own ``ArcCosine``, a separate code path);
- depth 1, erf: the Gaussian expectations by Gauss-Hermite quadrature;
- any depth, ReLU: the textbook arccos recursion in 40-digit mpmath;
- any depth: the empirical kernels of explicit width-4096 networks in numpy
  (``tests/wide_networks.py``).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

import kernel_sd as ksd
from kernel_sd import kernels
from tests import wide_networks as wide

SQRT2 = math.sqrt(2.0)


def _cho_saul(x, z, w_std=SQRT2, b_std=0.0):
    """Depth-1 ReLU (NNGP, NTK) for one pair, from the arc-cosine closed forms.

    Augmented inputs ``x̃ = (σ_w x/√p, σ_b)``: ``Σ_1 = x̃·z̃``; the readout (std 1)
    gives ``NNGP = ‖x̃‖‖z̃‖ J(θ)/(2π) + σ_b²``, ``NTK = NNGP + Σ_1 (π − θ)/(2π)``.
    """
    p = len(x)
    xa = [w_std * a / math.sqrt(p) for a in x] + [b_std]
    za = [w_std * a / math.sqrt(p) for a in z] + [b_std]
    s = sum(a * b for a, b in zip(xa, za, strict=True))
    nx, nz = math.hypot(*xa), math.hypot(*za)
    theta = math.acos(max(-1.0, min(1.0, s / (nx * nz))))
    J = math.sin(theta) + (math.pi - theta) * math.cos(theta)
    nngp = nx * nz * J / (2 * math.pi) + b_std**2
    return nngp, nngp + s * (math.pi - theta) / (2 * math.pi)


@pytest.mark.parametrize("b_std", [0.0, 0.4])
def test_depth_one_relu_is_cho_saul(b_std, rng):
    X = rng.standard_normal((5, 3))
    Z = rng.standard_normal((5, 3))
    ref = np.array([[_cho_saul(x, z, b_std=b_std) for z in Z] for x in X])
    nngp = kernels.NNGP(depth=1, b_std=b_std)(X, Z)
    ntk = kernels.NTK(depth=1, b_std=b_std)(X, Z)
    np.testing.assert_allclose(nngp, ref[..., 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ntk, ref[..., 1], rtol=1e-12, atol=1e-14)


def test_depth_one_relu_is_the_arccosine_kernel(rng):
    """Without biases: NNGP = A₁/p and NTK = (A₁ + x·z A₀)/p (package ArcCosine)."""
    X = rng.standard_normal((5, 3))
    A0 = np.asarray(kernels.ArcCosine(order=0)(X, X))
    A1 = np.asarray(kernels.ArcCosine(order=1)(X, X))
    np.testing.assert_allclose(kernels.NNGP(depth=1)(X, X), A1 / 3, rtol=1e-13)
    np.testing.assert_allclose(
        kernels.NTK(depth=1)(X, X), (A1 + (X @ X.T) * A0) / 3, rtol=1e-13, atol=1e-15
    )


def test_depth_one_erf_is_the_gaussian_expectation(rng):
    """E[erf(u) erf(v)] and E[erf'(u) erf'(v)] by 2-D Gauss-Hermite quadrature."""
    w_std, b_std = 1.3, 0.5
    # Pre-activation variances <= ~1: Gauss-Hermite converges fast there (slowly
    # for large variances, where erf(u) approaches a step).
    X = 0.5 * rng.standard_normal((5, 3))
    g, wts = np.polynomial.hermite_e.hermegauss(120)  # nodes for N(0, 1)
    wts = wts / wts.sum()
    G1, G2 = np.meshgrid(g, g, indexing="ij")
    W = np.outer(wts, wts)
    nngp_ref = np.empty((5, 5))
    ntk_ref = np.empty((5, 5))
    derf = lambda h: 2.0 / math.sqrt(math.pi) * np.exp(-h * h)  # noqa: E731
    for i, x in enumerate(X):
        for j, z in enumerate(X):
            qx = w_std**2 * x @ x / 3 + b_std**2
            qz = w_std**2 * z @ z / 3 + b_std**2
            s = w_std**2 * x @ z / 3 + b_std**2
            # (u, v) = L (g1, g2) with L the Cholesky factor of [[qx, s], [s, qz]].
            l11, l21 = math.sqrt(qx), s / math.sqrt(qx)
            l22 = math.sqrt(max(qz - l21 * l21, 0.0))
            u, v = l11 * G1, l21 * G1 + l22 * G2
            nngp_ref[i, j] = np.sum(W * erf(u) * erf(v)) + b_std**2
            ntk_ref[i, j] = nngp_ref[i, j] + s * np.sum(W * derf(u) * derf(v))
    kw = dict(depth=1, activation="erf", w_std=w_std, b_std=b_std)
    # 1e-10: quadrature error of 120 nodes at these variances (< 1e-13 in 1-D checks).
    np.testing.assert_allclose(kernels.NNGP(**kw)(X, X), nngp_ref, rtol=1e-10)
    np.testing.assert_allclose(kernels.NTK(**kw)(X, X), ntk_ref, rtol=1e-10)


def _mp_relu(x, z, depth, w_std, b_std, mp):
    """(NNGP, NTK) by the arccos recursion in mpmath, inputs taken as exact floats."""
    p = len(x)
    w2, b2 = mp.mpf(w_std) ** 2, mp.mpf(b_std) ** 2
    xm, zm = [mp.mpf(a) for a in x], [mp.mpf(a) for a in z]
    qx = w2 * mp.fsum(a * a for a in xm) / p + b2
    qz = w2 * mp.fsum(a * a for a in zm) / p + b2
    s = w2 * mp.fsum(a * b for a, b in zip(xm, zm, strict=True)) / p + b2
    ntk = s
    for layer in range(depth):
        ww = w2 if layer < depth - 1 else mp.mpf(1)
        if qx * qz == 0:
            theta = mp.pi / 2  # a zero vector: its terms vanish whatever the angle
        else:
            theta = mp.acos(max(-1, min(1, s / mp.sqrt(qx * qz))))
        J = mp.sin(theta) + (mp.pi - theta) * mp.cos(theta)
        s = ww / (2 * mp.pi) * mp.sqrt(qx * qz) * J + b2
        ntk = s + ntk * ww * (mp.pi - theta) / (2 * mp.pi)
        qx, qz = ww * qx / 2 + b2, ww * qz / 2 + b2
    return float(s), float(ntk)


def _naive_float64(x, z, depth):
    """The same recursion in float64 with arccos of the correlation (no bias)."""
    p = len(x)
    qx, qz, s = 2 * x @ x / p, 2 * z @ z / p, 2 * x @ z / p
    ntk = s
    for layer in range(depth):
        ww = 2.0 if layer < depth - 1 else 1.0
        theta = math.acos(min(1.0, s / math.sqrt(qx * qz)))
        J = math.sin(theta) + (math.pi - theta) * math.cos(theta)
        s = ww / (2 * math.pi) * math.sqrt(qx * qz) * J
        ntk = s + ntk * ww * (math.pi - theta) / (2 * math.pi)
        qx, qz = ww * qx / 2, ww * qz / 2
    return ntk


@pytest.mark.parametrize("depth, b_std", [(3, 0.0), (4, 0.7)])
def test_relu_recursion_matches_mpmath(depth, b_std, rng):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    X = rng.standard_normal((2, 3))
    # Near-parallel pairs (angles ~1e-7 and ~1e-4) of different norms, a zero row.
    e = rng.standard_normal(3)
    X = np.vstack([X, 1.7 * (X[0] + 1e-7 * e), X[1] + 1e-4 * e, np.zeros(3)])
    ref = np.array([[_mp_relu(x, z, depth, SQRT2, b_std, mp) for z in X] for x in X])
    nngp = np.asarray(kernels.NNGP(depth=depth, b_std=b_std)(X, X))
    ntk = np.asarray(kernels.NTK(depth=depth, b_std=b_std)(X, X))
    np.testing.assert_allclose(nngp, ref[..., 0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ntk, ref[..., 1], rtol=1e-13, atol=1e-15)
    if b_std == 0.0:
        # Negative control: arccos of the correlation loses ~1e-9 in the angle at
        # θ = 1e-7, and the NTK inherits it (the stable angles above do not).
        naive = _naive_float64(X[0], X[2], depth)
        assert abs(naive - ref[0, 2, 1]) > 1e-12 * abs(ref[0, 2, 1])


def test_relu_diagonal_closed_form(rng):
    """Derived: without biases Σ_l(x, x) = 2‖x‖²/p, so NTK(x, x) = (L + 1)‖x‖²/p."""
    X = rng.standard_normal((5, 3))
    sq = np.sum(X * X, axis=1) / 3
    for depth in (1, 2, 3):
        np.testing.assert_allclose(
            np.diag(kernels.NTK(depth=depth)(X, X)), (depth + 1) * sq, rtol=1e-14
        )
        np.testing.assert_allclose(
            np.diag(kernels.NNGP(depth=depth)(X, X)), sq, rtol=1e-14
        )


def test_zero_inputs(rng):
    """A zero input without biases gives 0 (the network's output is 0 too)."""
    X = np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))])
    for k in (kernels.NTK(depth=3), kernels.NNGP(depth=2, activation="erf")):
        G = np.asarray(k(X, X))
        assert np.all(np.isfinite(G)) and np.all(G[0] == 0.0) and np.all(G[:, 0] == 0.0)
    # With a bias, the zero input is the augmented vector (0, σ_b): depth 1 exactly.
    b = 0.5
    ref = _cho_saul([0.0] * 3, X[1], b_std=b)
    G = np.asarray(kernels.NTK(depth=1, b_std=b)(X, X))
    np.testing.assert_allclose(G[0, 1], ref[1], rtol=1e-13)


# ----------------------------------------------------------------------------
# wide networks (tests/wide_networks.py)


@pytest.fixture(scope="module")
def wide_networks():
    return wide.wide_kernels()


@pytest.mark.parametrize("act, b", wide.CONFIGS)
@pytest.mark.parametrize("which", ["nngp", "ntk"])
def test_wide_network_matches_limit(wide_networks, act, b, which):
    X, emp = wide_networks
    w = wide.w_std(act)
    cls = kernels.NNGP if which == "nngp" else kernels.NTK
    idx = 0 if which == "nngp" else 1
    for depth in wide.DEPTHS:
        samples = emp[(act, b, depth)][:, idx]
        limit = np.asarray(cls(depth=depth, activation=act, w_std=w, b_std=b)(X, X))
        t = wide.t_stats(samples, limit)
        assert np.abs(t).max() < wide.T_MAX, (act, b, which, depth, t)
        # Negative control: the limit of a wrong depth is rejected by the same test.
        wrong = np.asarray(cls(depth=depth + 1, activation=act, w_std=w, b_std=b)(X, X))
        assert np.abs(wide.t_stats(samples, wrong)).max() > wide.T_MAX


# ----------------------------------------------------------------------------
# hyper-parameters, autodiff and the spectra


def test_vmap_over_weight_and_bias_std(rng):
    X = rng.standard_normal((5, 3))
    ws = jnp.array([0.8, 1.4, 2.0])
    bs = jnp.array([0.0, 0.3, 1.0])
    f = lambda w, b: kernels.NTK(depth=3, w_std=w, b_std=b)(X, X)  # noqa: E731
    batched = jax.vmap(f)(ws, bs)
    for i in range(3):
        loop = kernels.NTK(depth=3, w_std=float(ws[i]), b_std=float(bs[i]))(X, X)
        np.testing.assert_allclose(batched[i], loop, rtol=1e-14, atol=1e-15)


def test_gradients_are_finite_and_match_differences(rng):
    """Derivatives in the hyper-parameters, diagonal (θ = 0) and zero rows included.

    Under ``jit`` identical rows may round apart (``‖x̂ − ẑ‖² ~ 1e-34``), and the
    square root of that residue once gave diagonal derivatives wrong by 1%.
    """
    X = np.vstack([rng.standard_normal((4, 3)), np.zeros((1, 3))])

    def total(w, b):
        k = kernels.NTK(depth=2, w_std=w, b_std=b)
        return jnp.sum(k(X, X))

    gw, gb = jax.jit(jax.grad(total, argnums=(0, 1)))(1.3, 0.4)
    h = 1e-6
    fw = (total(1.3 + h, 0.4) - total(1.3 - h, 0.4)) / (2 * h)
    fb = (total(1.3, 0.4 + h) - total(1.3, 0.4 - h)) / (2 * h)
    # 1e-7: central differences with h = 1e-6 carry ~1e-9 truncation, 1e-10 round-off.
    np.testing.assert_allclose([gw, gb], [fw, fb], rtol=1e-7)


def test_spectra_accept_network_kernels(rng):
    """An ordinary kernel for the spectra (which only call ``kernel(X, Z)``)."""
    X = rng.standard_normal((40, 3))
    k = kernels.NTK(depth=2)
    d_ref = np.linalg.eigvalsh(np.asarray(ksd.gram(k, X)) / 40)[::-1]
    d_exact = np.asarray(ksd.spectrum(k, X).eigvals)
    np.testing.assert_allclose(d_exact, d_ref, rtol=1e-10, atol=1e-14 * d_ref[0])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: kernels.NTK(depth=0), "depth"),
        (lambda: kernels.NNGP(depth=2.0), "depth"),
        (lambda: kernels.NTK(activation="tanh"), "activation"),
        (lambda: kernels.NTK(w_std=0.0), "w_std"),
        (lambda: kernels.NNGP(b_std=-0.1), "b_std"),
        (lambda: kernels.NNGP(b_std=float("inf")), "b_std"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_from_name_network_kernels():
    kw = dict(depth=kernels.NETWORK_DEPTH, b_std=kernels.NETWORK_BIAS)
    assert kernels.from_name("ntk") == kernels.NTK(**kw)
    assert kernels.from_name("nngp") == kernels.NNGP(**kw)
