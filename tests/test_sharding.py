"""Sharded Gram tiles and Nyström blocks: 4 forced CPU devices give the single-device results.

The device count is fixed when JAX initialises its backend, so the check runs in
a fresh interpreter with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels
from kernel_sd.kernels import gram_sharded

SCRIPT = textwrap.dedent(
    """
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import kernel_sd as ksd
    from kernel_sd import kernels
    from kernel_sd.kernels import gram_sharded

    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((203, 3))  # 203 rows: padding on the last device
    Z = rng.standard_normal((37, 3))
    for k in (kernels.RBF(lengthscale=0.7), kernels.Matern(nu=1.5, lengthscale=0.5)):
        for block in (16, 1024):
            for other in (None, Z):
                a = np.asarray(ksd.gram(k, X, other, block_size=block))
                b = np.asarray(gram_sharded(k, X, other, block_size=block))
                np.testing.assert_array_equal(a, b)
    # Nyström blocks: the m x m sums are split over the 4 devices (psum) and agree
    # with one device to round-off; the implicit eigenvector products too.
    y = np.sin(X[:, 0]) + X[:, 1]
    k = kernels.Matern(nu=1.5, lengthscale=0.8)
    one = jax.devices()[:1]
    for accumulate in ("factor", "gram"):
        for landmarks in ("rpcholesky", "uniform"):
            kw = dict(m=40, landmarks=landmarks, accumulate=accumulate, block_size=16)
            s4 = ksd.nystrom_spectrum(k, X, vectors="implicit", **kw)
            s1 = ksd.nystrom_spectrum(k, X, vectors="implicit", devices=one, **kw)
            assert s4.eigvecs.devices is not None and s1.eigvecs.devices is None
            np.testing.assert_allclose(s4.eigvals, s1.eigvals, rtol=1e-12)
            V4, V1 = np.asarray(s4.eigvecs.materialize()), np.asarray(s1.eigvecs.materialize())
            np.testing.assert_allclose(V4 @ V4.T, V1 @ V1.T, atol=1e-10)
            np.testing.assert_allclose(s4.eigvecs.T @ y, V4.T @ y, atol=1e-11)
            e4 = 0.3 * float(y @ y) / len(y)
            t4 = ksd.self_distill(k, X, y, eps=e4, rounds=4, spectrum=s4)
            t1 = ksd.self_distill(k, X, y, eps=e4, rounds=4, spectrum=s1)
            np.testing.assert_allclose(t4.c, t1.c, rtol=1e-10)
            np.testing.assert_allclose(t4.train_pred, t1.train_pred, atol=1e-10)
    print("devices", len(jax.devices()), "ok")
    """
)


def test_sharded_gram_on_four_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "devices 4 ok" in proc.stdout


def test_sharded_gram_in_process_equals_gram():
    """Whatever devices this process has (often one): same numbers as gram."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 2))
    k = kernels.Laplace(lengthscale=0.8)
    np.testing.assert_array_equal(
        np.asarray(gram_sharded(k, X, block_size=8)),
        np.asarray(ksd.gram(k, X, block_size=8)),
    )
    np.testing.assert_array_equal(
        np.asarray(gram_sharded(k, X, X[:7], devices=jax.devices()[:1])),
        np.asarray(ksd.gram(k, X, X[:7])),
    )


def test_sharded_gram_bad_arguments():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="devices"):
        gram_sharded(kernels.RBF(), X, devices=[])
    with pytest.raises(ValueError, match="block_size"):
        gram_sharded(kernels.RBF(), X, block_size=0)
    with pytest.raises(ValueError, match="features"):
        gram_sharded(kernels.RBF(), X, np.zeros((3, 1)))
