"""Two processes joined by ``jax.distributed`` (gloo on CPU) give one process's results.

Each worker holds half of the rows of ``X`` and ``y`` in global arrays
(``jax.make_array_from_process_local_data``) and runs the public functions on
them; process 0 gathers the results into a file. This process computes the same
quantities on the whole data with its own single device, independently.
"""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels

N, P_DIM, M, ROUNDS, K_TOP, POOL = 120, 2, 40, 5, 4, 101
KERNEL = kernels.Laplace(lengthscale=0.5)

WORKER = textwrap.dedent(
    """
    import sys, warnings
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    pid = int(sys.argv[1])
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2,
                               process_id=pid)
    import numpy as np
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import kernel_sd as ksd
    from kernel_sd import kernels

    N, P_DIM, M, ROUNDS, K_TOP, POOL = {consts}
    rng = np.random.default_rng(7)
    X = rng.uniform(size=(N, P_DIM))
    y = np.sin(3.0 * X[:, 0]) + np.cos(2.0 * X[:, 1]) + 0.3 * rng.standard_normal(N)
    Xt = rng.uniform(size=(15, P_DIM))
    k = kernels.Laplace(lengthscale=0.5)
    eps = 0.25 * float(y @ y) / N
    rows = NamedSharding(Mesh(np.asarray(jax.devices()), ("rows",)), P("rows"))
    mine = slice(pid * N // 2, (pid + 1) * N // 2)
    Xg = jax.make_array_from_process_local_data(rows, X[mine], (N, P_DIM))
    yg = jax.make_array_from_process_local_data(rows, y[mine], (N,))
    assert [s.data.shape for s in Xg.addressable_shards] == [(N // 2, P_DIM)]

    def host(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return np.asarray(a)

    out = {{}}
    out["gram"] = host(ksd.gram_sharded(k, Xg, Xt))
    spec = ksd.nystrom_spectrum(k, Xg, m=M)
    lm = ksd.select_landmarks(k, Xg, m=M, pool=POOL, seed=1)  # rows split 50 / 51
    out.update(lm_indices=lm.indices, lm_chol=host(lm.chol), lm_counts=lm.counts,
               lm_residual=lm.residual)
    V = host(spec.eigvecs)
    out.update(ny_eigvals=host(spec.eigvals), ny_landmarks=host(spec.landmarks),
               ny_projector=V @ V.T, ny_floor=host(spec.noise_floor))
    W = host(ksd.features(k, Xg, Xt, spec))
    out["features_gram"] = W @ np.diag(host(spec.eigvals)) @ W.T
    tr = ksd.self_distill(k, Xg, yg, eps=eps, rounds=ROUNDS, spectrum=spec, X_test=Xt)
    out.update(c=host(tr.c), train=host(tr.train_pred), test=host(tr.test_pred))
    top = ksd.lanczos_spectrum(k, Xg, k=K_TOP, seed=0)
    U = host(top.eigvecs)
    out.update(lz_eigvals=host(top.eigvals), lz_projector=U @ U.T)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ex = ksd.self_distill(k, Xg, yg, eps=eps, rounds=ROUNDS)
    out.update(ex_c=host(ex.c), ex_train=host(ex.train_pred),
               ex_warning=np.array([str(w.message) for w in caught]))
    if pid == 0:
        np.savez(sys.argv[3], **out)
    multihost_utils.sync_global_devices("done")
    print("worker", pid, "ok")
    """
).format(consts=(N, P_DIM, M, ROUNDS, K_TOP, POOL))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed") / "results.npz"
    env = dict(os.environ, JAX_PLATFORMS="cpu", OPENBLAS_NUM_THREADS="1")
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), address, str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    logs = [p.communicate(timeout=300) for p in procs]
    for i, (p, (stdout, stderr)) in enumerate(zip(procs, logs, strict=True)):
        assert p.returncode == 0 and f"worker {i} ok" in stdout, stderr[-3000:]
    return dict(np.load(out))


@pytest.fixture(scope="module")
def one_process():
    rng = np.random.default_rng(7)
    X = rng.uniform(size=(N, P_DIM))
    y = np.sin(3.0 * X[:, 0]) + np.cos(2.0 * X[:, 1]) + 0.3 * rng.standard_normal(N)
    return X, y, rng.uniform(size=(15, P_DIM)), 0.25 * float(y @ y) / N


def test_gram_tiles_and_nystrom_spectrum(two_processes, one_process):
    got = two_processes
    X, _, Xt, _ = one_process
    np.testing.assert_allclose(got["gram"], np.asarray(ksd.gram(KERNEL, X, Xt)),
                               rtol=1e-12)  # fmt: skip
    spec = ksd.nystrom_spectrum(KERNEL, X, m=M)
    # Same seeded landmarks; spectra agree to round-off of the sums (the default
    # 'auto' route is 'gram' here: accurate to its floor, ~1e-12 of d_max).
    np.testing.assert_array_equal(got["ny_landmarks"], np.asarray(spec.landmarks))
    np.testing.assert_allclose(got["ny_eigvals"], spec.eigvals, rtol=1e-10)
    np.testing.assert_allclose(got["ny_floor"], spec.noise_floor, rtol=1e-10)
    V = np.asarray(spec.eigvecs)
    np.testing.assert_allclose(got["ny_projector"], V @ V.T, atol=1e-10)
    W = np.asarray(ksd.features(KERNEL, X, Xt, spec))
    np.testing.assert_allclose(got["features_gram"], W @ np.diag(spec.eigvals) @ W.T,
                               rtol=1e-10, atol=1e-14)  # fmt: skip


def test_rpcholesky_split_over_processes_picks_the_same_pivots(two_processes, one_process):
    """Each process factors its own rows of the pool (here 50 and 51 of 101):
    the same pivots, rounds and Cholesky factor of K_mm as one process."""
    got = two_processes
    X = one_process[0]
    lm = ksd.select_landmarks(KERNEL, X, m=M, pool=POOL, seed=1)
    assert lm.counts.size > 1  # several rounds: rows of F gathered from their owners
    np.testing.assert_array_equal(got["lm_indices"], lm.indices)
    np.testing.assert_array_equal(got["lm_counts"], lm.counts)
    np.testing.assert_allclose(got["lm_residual"], lm.residual, rtol=1e-10)
    np.testing.assert_allclose(got["lm_chol"], np.asarray(lm.chol), rtol=1e-10, atol=1e-12)


def test_self_distillation_trace_and_lanczos(two_processes, one_process):
    got = two_processes
    X, y, Xt, eps = one_process
    spec = ksd.nystrom_spectrum(KERNEL, X, m=M)
    tr = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=ROUNDS, spectrum=spec, X_test=Xt)
    assert 1 < tr.collapse_round < ROUNDS  # active rounds, then the collapse
    np.testing.assert_array_equal(np.isinf(got["c"]), np.isinf(tr.c))
    live = np.isfinite(got["c"])
    np.testing.assert_allclose(got["c"][live], np.asarray(tr.c)[live], rtol=1e-10)
    scale = np.abs(y).max()
    np.testing.assert_allclose(got["train"], tr.train_pred, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(got["test"], tr.test_pred, rtol=1e-10, atol=1e-10 * scale)
    top = ksd.lanczos_spectrum(KERNEL, X, k=K_TOP, seed=0)
    np.testing.assert_allclose(got["lz_eigvals"], top.eigvals, rtol=1e-10)
    U = np.asarray(top.eigvecs)
    np.testing.assert_allclose(got["lz_projector"], U @ U.T, atol=1e-10)


def test_exact_path_gathers_with_a_warning(two_processes, one_process):
    got = two_processes
    X, y, _, eps = one_process
    (message,) = got["ex_warning"]
    assert "no distributed eigh" in message and "nystrom_spectrum" in message
    ex = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=ROUNDS)
    live = np.isfinite(ex.c)
    np.testing.assert_array_equal(np.isfinite(got["ex_c"]), live)
    np.testing.assert_allclose(got["ex_c"][live], np.asarray(ex.c)[live], rtol=1e-10)
    np.testing.assert_allclose(got["ex_train"], ex.train_pred, atol=1e-10 * np.abs(y).max())


def test_launcher_rows_do_not_depend_on_the_process_count():
    """`bench distributed`: each process generates only its rows, chunk by chunk;
    any split of the rows concatenates to the same global data."""
    from experiments.benchmarks.bench_distributed import local_rows

    n = 25_000  # three seeded chunks of 10 000 rows
    X1, y1 = local_rows(0, n, seed=3)
    parts = [local_rows(lo, hi, seed=3) for lo, hi in ((0, 8333), (8333, 16666), (16666, n))]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), X1)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y1)
    assert X1.shape == (n, 10) and not np.array_equal(X1[:10_000], X1[10_000:20_000])
