"""Benchmark: every kernel-block product across shapes, against NumPy, side by side.

Scans the shapes where one compiled program ``k(A, B) @ M`` falls off a cliff on
XLA-CPU (square output blocks: 1000 × 1000 × 1000 runs at ~1 GFLOP/s, 10–15x
slower than its neighbours 1008 × 1000 × 1000) for every product the library
computes with kernel tiles:

- ``features``: ``k(X_test, X) V / n``, ``(m, n) × (n, n)``;
- ``nystrom_vectors``: ``k(X, Z) M``, ``(n, m) × (m, m)``;
- ``nystrom_factor``: ``Σ_b (k(X_b, Z) L)ᵀ (k(X_b, Z) L)``;
- ``nystrom_gram``: ``Σ_b k(X_b, Z)ᵀ k(X_b, Z)``;
- ``lanczos``: ``k(X, X) Q / n``, ``(n, n) × (n, b)``.

Each row is the median of interleaved runs of kernel-sd's product
(``kernel_sd.spectra._products``: kernel tile and product as separate programs) and
of NumPy on the same row tiles (SciPy ``cdist`` + ``exp``, OpenBLAS matmul), as
the ratio kernel-sd / NumPy; ``--fused`` adds the one-program ``jit(k(A, B) @ M)``
that the library avoids (slow on the cliff: timed once there).

Usage:
    kernel-sd bench shapes            # shapes around 1000 (or: python -m experiments.benchmarks shapes)
    kernel-sd bench shapes --full     # 960..1040 step 8, 2000, 4000
    kernel-sd bench shapes --ops features lanczos --fused
    kernel-sd bench shapes --quick    # small shapes, seconds
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.distance import cdist

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from kernel_sd import results
from kernel_sd.spectra._nystrom_factor import _factor_term, _gram_term, _sym_assemble
from kernel_sd.spectra._products import (
    DEFAULT_TILE_ROWS,
    kernel_matmul,
    kernel_sum,
    tile_rows,
)

P = 3  # input dimension
ELL = 1.0
OPS = ("features", "nystrom_vectors", "nystrom_factor", "nystrom_gram", "lanczos")
SLOW = 1.5
"""A fused run slower than this many seconds is timed once (it is on the cliff)."""


def kernels(name: str):
    if name == "rbf":
        return ksd.kernels.RBF(lengthscale=ELL), lambda A, B: np.exp(
            -cdist(A, B, "sqeuclidean") / (2 * ELL * ELL)
        )

    def matern(A, B):
        s = np.sqrt(3.0) * cdist(A, B) / ELL
        return (1.0 + s) * np.exp(-s)

    return ksd.kernels.Matern(nu=1.5, lengthscale=ELL), matern


def np_tiles(np_kernel, A, B, fn, rows):
    """``fn(k(A_b, B))`` over the same row tiles as kernel-sd."""
    return [fn(np_kernel(A[s : s + rows], B)) for s in range(0, A.shape[0], rows)]


_fused = jax.jit(lambda k, A, B, M: k(A, B) @ M)
J = jnp.asarray


def cases(ops, full: bool, quick: bool, kernel, np_kernel):
    rng = np.random.default_rng(0)

    def U(r, c):
        return rng.uniform(-1, 1, (r, c))

    def G(r, c):
        return rng.standard_normal((r, c))

    if quick:
        around, big, lanczos = [120, 128], [256], [(256, 16), (256, 128)]
    elif full:
        around, big = list(range(960, 1041, 8)), [2000, 4000]
        lanczos = [(2000, 64), (2000, 1000), (2000, 1024), (4000, 64), (8000, 64)]
    else:
        around, big = [992, 1000, 1008, 1024], [2000, 4000]
        lanczos = [(2000, 64), (2000, 1000), (2000, 1024), (4000, 64)]
    block = DEFAULT_TILE_ROWS
    if "features" in ops:
        for n in around + big[:1]:
            for m in around + big:
                X, Xt, V = U(n, P), U(m, P), G(n, n) / n
                jX, jXt, jV = J(X), J(Xt), J(V)
                rows = tile_rows(n, block)
                yield dict(
                    op="features", shape=f"m={m} n={n} r={n}", flops=2 * m * n * n,
                    ksd=lambda Xt=jXt, X=jX, V=jV: kernel_matmul(kernel, Xt, X, V),
                    numpy=lambda Xt=Xt, X=X, V=V, rows=rows: np.concatenate(
                        np_tiles(np_kernel, Xt, X, lambda K, V=V: K @ V, rows)),
                    fused=lambda Xt=jXt, X=jX, V=jV: _fused(kernel, Xt, X, V),
                )  # fmt: skip
    for n in big[:1] if quick else big:
        for m in around:
            X, Z = U(n, P), U(m, P)
            L, M = G(m, m) / m, G(m, m) / m
            jX, jZ, jL, jM = J(X), J(Z), J(L), J(M)
            rows = tile_rows(m, block)
            if "nystrom_vectors" in ops:
                yield dict(
                    op="nystrom_vectors", shape=f"n={n} m={m}", flops=2 * n * m * m,
                    ksd=lambda X=jX, Z=jZ, M=jM: kernel_matmul(kernel, X, Z, M),
                    numpy=lambda X=X, Z=Z, M=M, rows=rows: np.concatenate(
                        np_tiles(np_kernel, X, Z, lambda K, M=M: K @ M, rows)),
                    fused=lambda X=jX, Z=jZ, M=jM: _fused(kernel, X, Z, M),
                )  # fmt: skip
            if "nystrom_factor" in ops:
                yield dict(
                    op="nystrom_factor", shape=f"n={n} m={m}", flops=3 * n * m * m,
                    ksd=lambda X=jX, Z=jZ, L=jL, m=m: _sym_assemble(
                        kernel_sum(kernel, X, Z, _factor_term, L.T, transpose=True), m),
                    numpy=lambda X=X, Z=Z, L=L, rows=rows: sum(
                        B.T @ B for B in np_tiles(np_kernel, X, Z, lambda K, L=L: K @ L,
                                                  rows)),
                )  # fmt: skip
            if "nystrom_gram" in ops:
                yield dict(
                    op="nystrom_gram", shape=f"n={n} m={m}", flops=n * m * m,
                    ksd=lambda X=jX, Z=jZ, m=m: _sym_assemble(
                        kernel_sum(kernel, X, Z, _gram_term, transpose=True), m),
                    numpy=lambda X=X, Z=Z, rows=rows: sum(
                        K.T @ K for K in np_tiles(np_kernel, X, Z, lambda K: K, rows)),
                )  # fmt: skip
    if "lanczos" in ops:
        for n, b in lanczos:
            X, Q = U(n, P), G(n, b) / n
            jX, jQ = J(X), J(Q)
            rows = tile_rows(n, block)
            yield dict(
                op="lanczos", shape=f"n={n} b={b}", flops=2 * n * n * b,
                ksd=lambda X=jX, Q=jQ: kernel_matmul(kernel, X, X, Q),
                numpy=lambda X=X, Q=Q, rows=rows: np.concatenate(
                    np_tiles(np_kernel, X, X, lambda K, Q=Q: K @ Q, rows)),
                fused=lambda X=jX, Q=jQ: _fused(kernel, X, X, Q),
            )  # fmt: skip


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(fn, clock: str) -> float:
    now = CLOCKS[clock]
    t0 = now()
    jax.block_until_ready(fn())
    return now() - t0


@benchmark(
    "shapes",
    help="every kernel-block product (features, Nystrom, Lanczos) at shapes around "
    "1000 against NumPy (bench_shapes.py)",
    options=[
        Option("--full", False, {"action": "store_true",
               "help": "960..1040 step 8 and more"}),
        Option("--repeats", 3, {"type": int, "help": "warm runs at least"}),
        Option("--ops", list(OPS), {"nargs": "+", "choices": OPS,
               "help": "which products"}),
        Option("--kernel", "rbf", {"choices": ("rbf", "matern"), "help": "kernel"}),
        Option("--fused", False, {"action": "store_true",
               "help": "also time jit(k(A, B) @ M), one program"}),
        Option("--clock", "wall", {"choices": ["wall", "cpu"],
               "help": "ratios of wall time or of process CPU time"}),
    ],
)  # fmt: skip
def run(args) -> int:
    repeats = 1 if args.quick else args.repeats
    kernel, np_kernel = kernels(args.kernel)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"{platform.system()}")  # fmt: skip
    print(
        f"# machine: {machine}; jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"{args.kernel} (l={ELL}), p = {P}, float64, tiles of {DEFAULT_TILE_ROWS} rows; "
        f"clock: {args.clock}; "
        f"ratio = time / NumPy (cdist + exp, OpenBLAS) on the same tiles, median of "
        f"{repeats} interleaved runs"
    )
    fused_col = f" {'fused x':>8}" if args.fused else ""
    header = (f"{'op':>16} {'shape':>20} {'NumPy ms':>9} {'kernel-sd x':>11}{fused_col} "
              f"{'GFLOP/s':>8} {'max rel diff':>12}")  # fmt: skip
    print(header)
    print("-" * len(header))
    rows = []
    for case in cases(args.ops, args.full, args.quick, kernel, np_kernel):
        names = ["ksd", "numpy"] + (["fused"] if args.fused and "fused" in case else [])
        ref = np.asarray(case["numpy"]())
        out = np.asarray(jax.block_until_ready(case["ksd"]()))  # compiles
        diff = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
        if "fused" in names:
            jax.block_until_ready(case["fused"]())
        t = {k: [] for k in names}
        for rep in range(repeats):
            for k in names:
                if k == "fused" and rep > 0 and t["fused"][0] > SLOW:
                    continue  # on the cliff: once is enough
                t[k].append(timed(case[k], args.clock))
        med = {k: statistics.median(v) for k, v in t.items()}
        row = {"op": case["op"], "shape": case["shape"], "numpy_s": med["numpy"],
               "ratio": med["ksd"] / med["numpy"],
               "gflops": case["flops"] / med["ksd"] / 1e9, "max_rel_diff": diff}  # fmt: skip
        fused = ""
        if "fused" in med:
            row["fused_ratio"] = med["fused"] / med["numpy"]
            fused = f" {row['fused_ratio']:>8.2f}"
        rows.append(row)
        print(
            f"{row['op']:>16} {row['shape']:>20} {med['numpy'] * 1e3:>9.1f} "
            f"{row['ratio']:>11.2f}{fused} {row['gflops']:>8.1f} {diff:>12.1e}",
            flush=True,
        )
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"largest kernel-sd / NumPy ratio: {worst['ratio']:.2f} ({worst['op']}, "
          f"{worst['shape']})")  # fmt: skip
    if args.out:
        params = {"ops": args.ops, "full": args.full, "quick": args.quick,
                  "repeats": repeats, "kernel": args.kernel, "fused": args.fused,
                  "clock": args.clock}  # fmt: skip
        path = results.write(args.out, "bench_shapes", params=params,
                             numbers={"rows": rows, "machine": machine})  # fmt: skip
        print(f"wrote: {path}")
    return 0

