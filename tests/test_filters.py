"""Filters: closed forms, limits, edge conventions and the GD product formula."""

import jax.numpy as jnp
import numpy as np

from kernel_sd import filters


def test_ridge_limits_and_edges():
    d = jnp.array([2.0, 1.0, 0.0])
    np.testing.assert_allclose(filters.ridge(d, 0.5), [0.8, 2 / 3, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(filters.ridge(d, jnp.inf), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(filters.ridge(d, 0.0), [1.0, 1.0, 0.0])


def test_gradient_flow_limits_and_small_t():
    d = jnp.array([1.0, 1e-3])
    np.testing.assert_array_equal(filters.gradient_flow(d, 0.0), [0.0, 0.0])
    np.testing.assert_allclose(filters.gradient_flow(d, 1e6), [1.0, 1.0])
    # expm1 keeps relative accuracy where 1 - exp(-x) would cancel
    np.testing.assert_allclose(
        filters.gradient_flow(jnp.array([1e-12]), 1.0), [1e-12 - 5e-25], rtol=1e-15
    )


def test_gradient_descent_equals_explicit_iteration():
    rng = np.random.default_rng(0)
    d = rng.uniform(0.0, 1.0, 7)
    lr, steps = 0.7, 23
    f = np.zeros(7)  # f ← f + lr d (1 − f) in each eigen-coordinate (unit target)
    for _ in range(steps):
        f = f + lr * d * (1.0 - f)
    np.testing.assert_allclose(filters.gradient_descent(d, lr, steps), f, rtol=1e-13)


def test_gradient_descent_tends_to_flow():
    d = jnp.linspace(0.0, 2.0, 9)
    t = 1.5
    gd = filters.gradient_descent(d, t / 100_000, 100_000)
    np.testing.assert_allclose(gd, filters.gradient_flow(d, t), atol=1e-5)


def test_compose_effective_dimension_participation():
    h1 = jnp.array([0.5, 0.5, 0.0])
    h2 = jnp.array([1.0, 0.5, 1.0])
    h = filters.compose(h1, h2)
    np.testing.assert_allclose(h, [0.5, 0.25, 0.0])
    assert float(filters.effective_dimension(h)) == 0.75
    assert float(filters.participation_ratio(jnp.array([1.0, 1.0, 1.0]))) == 3.0
    assert float(filters.participation_ratio(jnp.zeros(3))) == 0.0


def test_resolvent_edges_and_ridge_identity():
    d = jnp.array([2.0, 1.0, 0.0])
    np.testing.assert_allclose(
        filters.resolvent(d, 0.5), [0.4, 1 / 1.5, 2.0], rtol=1e-15
    )
    np.testing.assert_array_equal(filters.resolvent(d, jnp.inf), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(filters.resolvent(d, 0.0), [0.5, 1.0, 0.0])
    for c in (0.0, 0.3, jnp.inf):
        np.testing.assert_allclose(
            d * filters.resolvent(d, c), filters.ridge(d, c), rtol=1e-15, atol=0
        )
