"""Kernels: closed-form values, symmetry, PSD, blocking, pytree/jit round trips."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels

ALL_KERNELS = [
    kernels.RBF(lengthscale=0.7),
    kernels.Laplace(lengthscale=0.7),
    kernels.Matern(nu=0.5, lengthscale=0.7),
    kernels.Matern(nu=1.5, lengthscale=0.7),
    kernels.Matern(nu=2.5, lengthscale=0.7),
    kernels.Polynomial(degree=3, gamma=0.5, coef0=1.0),
    kernels.Linear(scale=2.0),
    kernels.ArcCosine(order=0),
    kernels.ArcCosine(order=1),
]
# The generic checks below also run on a network kernel (its values are checked
# in test_kernels_network.py).
GENERIC_KERNELS = ALL_KERNELS + [kernels.NTK(depth=3, b_std=0.2)]


def _pair_value(name, x, z):
    """Independent scalar formulas for one pair (math module, no JAX)."""
    r = math.dist(x, z)
    dot = sum(a * b for a, b in zip(x, z, strict=True))
    nx, nz = math.hypot(*x), math.hypot(*z)
    theta = math.acos(max(-1.0, min(1.0, dot / (nx * nz))))
    return {
        "RBF": math.exp(-(r**2) / (2 * 0.7**2)),
        "Laplace": math.exp(-r / 0.7),
        "Matern0.5": math.exp(-r / 0.7),
        "Matern1.5": (1 + math.sqrt(3) * r / 0.7) * math.exp(-math.sqrt(3) * r / 0.7),
        "Matern2.5": (1 + math.sqrt(5) * r / 0.7 + 5 * r**2 / (3 * 0.7**2))
        * math.exp(-math.sqrt(5) * r / 0.7),
        "Polynomial": (0.5 * dot + 1.0) ** 3,
        "Linear": 2.0 * dot,
        "ArcCosine0": 1 - theta / math.pi,
        "ArcCosine1": nx
        * nz
        * (math.sin(theta) + (math.pi - theta) * math.cos(theta))
        / math.pi,
    }[name]


def _key(k):
    if isinstance(k, kernels.Matern):
        return f"Matern{k.nu}"
    if isinstance(k, kernels.ArcCosine):
        return f"ArcCosine{k.order}"
    if isinstance(k, (kernels.NTK, kernels.NNGP)):
        return f"{k.name}-{k.activation}{k.depth}"
    return k.name


@pytest.mark.parametrize("k", ALL_KERNELS, ids=_key)
def test_known_values(k, rng):
    X = rng.standard_normal((5, 3))
    Z = rng.standard_normal((4, 3))
    K = np.asarray(k(X, Z))
    expected = np.array([[_pair_value(_key(k), x, z) for z in Z] for x in X])
    np.testing.assert_allclose(K, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", GENERIC_KERNELS, ids=_key)
def test_symmetric_psd_and_blocked(k, rng):
    X = rng.standard_normal((37, 3))
    G = np.asarray(ksd.gram(k, X))
    np.testing.assert_array_equal(G, G.T)
    d = np.linalg.eigvalsh(G)
    floor = G.shape[0] * np.finfo(float).eps * d.max()
    assert d.min() >= -floor
    # Blocks of 8 rows (with a ragged last block) equal one unblocked evaluation.
    # 1e-14: gram() symmetrises and XLA may fuse/reassociate differently per shape.
    G_blocked = np.asarray(ksd.gram(k, X, block_size=8))
    np.testing.assert_allclose(G_blocked, np.asarray(k(X, X)), rtol=1e-14, atol=1e-14)
    Z = rng.standard_normal((11, 3))
    np.testing.assert_allclose(
        np.asarray(ksd.gram(k, X, Z, block_size=5)),
        np.asarray(k(X, Z)),
        rtol=1e-14,
        atol=1e-14,
    )


@pytest.mark.parametrize("k", GENERIC_KERNELS, ids=_key)
def test_pytree_and_jit_round_trip(k, rng):
    X = rng.standard_normal((6, 2))
    leaves, treedef = jax.tree_util.tree_flatten(k)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt == k
    # 1e-14: under jit XLA fuses the elementwise chain (different rounding order).
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda kk, x: kk(x, x))(k, X)),
        np.asarray(k(X, X)),
        rtol=1e-14,
        atol=1e-14,
    )


def test_vmap_over_lengthscale(rng):
    X = rng.standard_normal((5, 2))
    ells = jnp.array([0.3, 1.0, 2.0])
    batched = jax.vmap(lambda ell: kernels.RBF(lengthscale=ell)(X, X))(ells)
    for i, ell in enumerate(np.asarray(ells)):
        np.testing.assert_allclose(
            batched[i], kernels.RBF(lengthscale=float(ell))(X, X), rtol=1e-15
        )


def test_float32_in_float32_out(rng):
    X = rng.standard_normal((6, 2)).astype(np.float32)
    for k in GENERIC_KERNELS:
        assert ksd.gram(k, X).dtype == jnp.float32


def test_arccosine_zero_vector_convention():
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    K0 = np.asarray(kernels.ArcCosine(order=0)(X, X))
    K1 = np.asarray(kernels.ArcCosine(order=1)(X, X))
    assert K0[0, 1] == 0.5 and K1[0, 0] == 0.0 and K1[0, 1] == 0.0
    assert np.isclose(K1[1, 1], 1.0)  # (1/π)‖x‖² · π at θ = 0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: kernels.RBF(lengthscale=0.0), "lengthscale"),
        (lambda: kernels.RBF(lengthscale=-1.0), "lengthscale"),
        (lambda: kernels.Laplace(lengthscale=float("nan")), "lengthscale"),
        (lambda: kernels.Matern(nu=1.0), "nu"),
        (lambda: kernels.Polynomial(degree=0), "degree"),
        (lambda: kernels.Polynomial(coef0=-1.0), "coef0"),
        (lambda: kernels.Linear(scale=0.0), "scale"),
        (lambda: kernels.ArcCosine(order=2), "order"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs(rng):
    k = kernels.RBF()
    with pytest.raises(ValueError, match="2-D"):
        ksd.gram(k, np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        ksd.gram(k, np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="features"):
        ksd.gram(k, np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel"):
        ksd.gram(lambda x, z: x @ z.T, np.ones((3, 2)))


def test_from_name_builds_every_named_kernel():
    for name in kernels.NAMES:
        assert isinstance(kernels.from_name(name, lengthscale=0.5), kernels.Kernel)
    assert kernels.from_name("matern32", lengthscale=0.5) == kernels.Matern(
        nu=1.5, lengthscale=0.5
    )
    with pytest.raises(ValueError, match="kernel"):
        kernels.from_name("gaussian")


@pytest.mark.parametrize("p", [1, 3, 10, 40])
def test_squared_distances_are_exact_on_dyadic_inputs(p):
    """Coordinates on a 2⁻⁸ grid in [−1, 1]: every difference, square and sum of
    up to 40 of them is a float64 number, so the result must equal the integer
    arithmetic exactly, whichever order the coordinates are added in (p = 40
    takes the ``lax.scan`` branch, the others the unrolled loop)."""
    from kernel_sd.kernels.base import _sq_dists

    rng = np.random.default_rng(p)
    Xi = rng.integers(-256, 257, size=(23, p))
    Zi = rng.integers(-256, 257, size=(17, p))
    exact = ((Xi[:, None, :] - Zi[None, :, :]) ** 2).sum(-1)  # int64, exact
    X, Z = jnp.asarray(Xi / 256.0), jnp.asarray(Zi / 256.0)
    got = np.asarray(jax.jit(_sq_dists)(X, Z))
    np.testing.assert_array_equal(got * 256.0**2, exact.astype(float))
    assert np.all(np.asarray(_sq_dists(X, X)).diagonal() == 0.0)


def test_squared_distances_match_the_direct_formula(rng):
    """Generic float64 inputs: the coordinate loop equals the direct
    Σ_k (x_ik − z_jk)² (math.fsum, correctly rounded) to a few ulps."""
    from kernel_sd.kernels.base import _sq_dists

    X, Z = rng.standard_normal((9, 10)), rng.standard_normal((7, 10))
    ref = np.array([[math.fsum((a - b) ** 2 for a, b in zip(x, z, strict=True))
                     for z in Z] for x in X])  # fmt: skip
    got = np.asarray(jax.jit(_sq_dists)(jnp.asarray(X), jnp.asarray(Z)))
    # each of the 10 squares and additions rounds once: |error| <= 11 eps · value
    np.testing.assert_allclose(got, ref, rtol=11 * np.finfo(float).eps, atol=0)
    # negative control: a 1e-13 relative error (the expansion's size) is caught
    assert np.max(np.abs(got * (1 + 1e-13) - ref) / ref) > 11 * np.finfo(float).eps
