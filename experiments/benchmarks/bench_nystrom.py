"""Benchmark: a constrained self-distillation trace on the Nyström (low-rank) path.

Times the Nyström spectrum (pivoted landmarks) and the rounds separately for one
problem size and reports the process's peak resident memory, so the same script
measures any point of a time/memory-vs-n curve:

    python experiments/benchmarks/bench_nystrom.py --n 100000 --m 1000
    python experiments/benchmarks/bench_nystrom.py --quick          # n = 5000, m = 200

First-call timings include JIT compilation (one call per size is what a user runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import kernel_sd as ksd  # noqa: E402
from kernel_sd import results  # noqa: E402

P = 10  # input dimension
ROUNDS = 10  # T
NOISE = 0.1  # label noise std
EPS_FRACTION = (
    0.2  # eps = EPS_FRACTION · ‖y‖²/n (must exceed the energy outside the span)
)
KERNEL = ksd.kernels.Matern(nu=1.5, lengthscale=1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="n = 5000, m = 200")
    parser.add_argument(
        "--out", default=None, help="write bench_nystrom_n<N>.json here"
    )
    args = parser.parse_args(argv)
    n, m = (5000, 200) if args.quick else (args.n, args.m)

    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2] + NOISE * rng.standard_normal(n)
    eps = EPS_FRACTION * float(y @ y) / n

    t0 = time.perf_counter()
    spec = ksd.nystrom_spectrum(KERNEL, X, m=m)
    jax.block_until_ready(spec.eigvecs)
    t_spec = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=ROUNDS, spectrum=spec)
    jax.block_until_ready(tr.train_pred)
    t_rounds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux

    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__} "
          f"on {jax.devices()[0].platform}; float64")  # fmt: skip
    print(f"# Matern(nu=1.5, lengthscale=1.0), p = {P}, pivoted landmarks, T = {ROUNDS}, "
          f"eps = {EPS_FRACTION}·|y|^2/n")  # fmt: skip
    print(f"{'n':>9} {'m':>6} {'spectrum s':>11} {'rounds s':>9} {'total s':>8} "
          f"{'peak GiB':>9} {'rank':>6} {'collapse':>9}")  # fmt: skip
    print(f"{n:>9} {m:>6} {t_spec:>11.1f} {t_rounds:>9.1f} {t_spec + t_rounds:>8.1f} "
          f"{peak_gb:>9.2f} {int(spec.rank):>6} {tr.collapse_round:>9}")  # fmt: skip
    if args.out:
        results.write(
            args.out, f"bench_nystrom_n{n}",
            params={"n": n, "m": m, "p": P, "rounds": ROUNDS, "eps_fraction": EPS_FRACTION},
            numbers={"spectrum_s": t_spec, "rounds_s": t_rounds, "peak_gib": peak_gb,
                     "rank": spec.rank, "collapse_round": tr.collapse_round},
            seed=args.seed,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
