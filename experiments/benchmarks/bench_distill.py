"""Benchmark: exact self-distillation traces against their natural baselines.

For n in {1000, 2000, 4000} and T = 10 rounds of the constrained form, measures

(a) full trace (Gram + eigh + all rounds + predictions) / (Gram + one LAPACK eigh);
(b) per-round refit baseline / kernel-sd, where the baseline is what a user
    without the eigenbasis writes: for each round, brentq on φ(c) with a
    Cholesky solve of (cI + G) at every evaluation, then one more solve to fit;
(c) a 64-value ε sweep (one compiled call) / a single trace.

Timings are warm (after one compiling call), the median of ``--repeats`` runs or of
as many as fill 2 s, whichever is more; the compile time of the first call is
reported separately.

Usage:
    kernel-sd bench distill            # full table (or: python -m experiments.benchmarks)
    kernel-sd bench distill --quick    # n = 300, seconds

Machine of the recorded table: see experiments/benchmarks/README.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.optimize

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from kernel_sd import results

ROUNDS = 10  # T
P = 3  # input dimension
NOISE = 0.3  # label noise std
EPS = 0.01  # constraint level: all T = 10 rounds stay active (no collapse) at these n
NU, LENGTHSCALE = 1.5, 0.5  # Matérn kernel
N_SWEEP = 64  # ε values in (c)


def kernel():
    return ksd.kernels.Matern(nu=NU, lengthscale=LENGTHSCALE)


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) * np.cos(X[:, 1]) + NOISE * rng.standard_normal(n)
    return jnp.asarray(X), jnp.asarray(y)


MIN_SECONDS = 2.0
"""Warm runs continue past ``--repeats`` until they add up to this many seconds."""


def timed(fn, repeats: int, min_seconds: float = MIN_SECONDS) -> tuple[float, float]:
    """(first-call seconds, median warm seconds) of ``fn()`` (blocks on the result).

    At least ``repeats`` warm runs, and more until they total ``min_seconds``:
    a 0.1 s call is then the median of ~20 runs instead of 3 noisy ones.
    """
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    runs = []
    while len(runs) < repeats or sum(runs) < min_seconds:
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs)


def refit_baseline(G: np.ndarray, y: np.ndarray, eps: float, rounds: int):
    """Per-round refits with Cholesky solves inside brentq (no eigenbasis reuse)."""
    n = G.shape[0]
    eye = np.eye(n)
    cs, yt = [], y.copy()
    for _ in range(rounds):
        if yt @ yt <= n * eps:
            cs.append(np.inf)
            yt = np.zeros_like(yt)
            continue

        def residual(c, yt=yt):
            # y − f = c (cI + G)^{-1} y
            return c * scipy.linalg.cho_solve(scipy.linalg.cho_factor(c * eye + G), yt)

        def phi(c, residual=residual):
            r = residual(c)
            return r @ r - n * eps

        # Same accuracy as kernel-sd: relative 1e-12 (brentq's default absolute
        # xtol=2e-12 would stop at ~1e-7 relative error for c ~ 1e-5).
        c = scipy.optimize.brentq(phi, 1e-10, 1e6, xtol=1e-300, rtol=1e-12)
        cs.append(c)
        yt = yt - residual(c)
    return np.array(cs), yt


@benchmark(
    "distill",
    help="full traces against Gram + eigh, per-round Cholesky refits and 64-value "
    "eps sweeps (bench_distill.py)",
    options=[
        Option("--sizes", [1000, 2000, 4000], {"type": int, "nargs": "+",
               "help": "n values"}),
        Option("--repeats", 3, {"type": int, "help": "warm runs at least"}),
        Option("--skip-baseline", False, {"action": "store_true",
               "help": "skip (b), the slow refits"}),
    ],
)  # fmt: skip
def run(args) -> int:
    if args.quick and {"sizes", "repeats"} & args.given:
        raise ValueError(
            "--quick runs n = 300 once; give --quick or --sizes/--repeats."
        )
    kern = kernel()
    sizes = [300] if args.quick else args.sizes
    repeats = 1 if args.quick else args.repeats
    min_seconds = 0.0 if args.quick else MIN_SECONDS

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()}; jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"python {platform.python_version()}"
    )
    print(
        f"# kernel {type(kern).__name__}(nu={kern.nu}, lengthscale={kern.lengthscale}), "
        f"p = {P}, T = {ROUNDS}, eps = {EPS}, float64, "
        f"warm median of >= {repeats} runs filling >= {min_seconds:g} s"
    )
    header = (
        f"{'n':>6} {'gram+eigh s':>12} {'trace s':>9} {'(a) ratio':>10} "
        f"{'refit s':>9} {'(b) speed-up':>13} {'sweep64 s':>10} {'(c) ratio':>10} "
        f"{'compile s':>10} {'rounds':>7} {'max |dc|/c':>11}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for n in sizes:
        X, y = problem(n)

        def gram_eigh(X=X):
            G = ksd.gram(kern, X) / X.shape[0]
            return jnp.linalg.eigh(G)

        def trace(X=X, y=y):
            return ksd.self_distill(kern, X, y, eps=EPS, rounds=ROUNDS).train_pred

        eps_grid = np.geomspace(EPS, 0.5 * float(y @ y) / n, N_SWEEP)

        def sweep(X=X, y=y, eps_grid=eps_grid):
            return ksd.self_distill_sweep(
                kern, X, y, eps=eps_grid, rounds=ROUNDS
            ).train_pred

        _, t_base = timed(gram_eigh, repeats, min_seconds)
        first, t_trace = timed(trace, repeats, min_seconds)
        _, t_sweep = timed(sweep, repeats, min_seconds)
        tr = ksd.self_distill(kern, X, y, eps=EPS, rounds=ROUNDS)
        active = tr.collapse_round if tr.collapse_round >= 0 else ROUNDS
        if args.skip_baseline:
            t_refit, speedup, dc = float("nan"), float("nan"), float("nan")
        else:
            G = np.asarray(ksd.gram(kern, X)) / n
            t0 = time.perf_counter()
            c_ref, _ = refit_baseline(G, np.asarray(y), EPS, ROUNDS)
            t_refit = time.perf_counter() - t0
            speedup = t_refit / t_trace
            ok = np.isfinite(c_ref)
            dc = float(np.max(np.abs(np.asarray(tr.c)[ok] - c_ref[ok]) / c_ref[ok]))
        print(
            f"{n:>6} {t_base:>12.3f} {t_trace:>9.3f} {t_trace / t_base:>10.3f} "
            f"{t_refit:>9.2f} {speedup:>12.1f}x {t_sweep:>10.3f} {t_sweep / t_trace:>10.3f} "
            f"{first - t_trace:>10.2f} {active:>7d} {dc:>11.1e}"
        )
        sys.stdout.flush()
        rows.append({
            "n": n, "gram_eigh_s": t_base, "trace_s": t_trace, "ratio_a": t_trace / t_base,
            "refit_s": t_refit, "speedup_b": speedup, "sweep64_s": t_sweep,
            "ratio_c": t_sweep / t_trace, "compile_s": first - t_trace,
            "active_rounds": active, "max_rel_dc": dc,
        })  # fmt: skip
    if args.out:
        params = {"sizes": sizes, "repeats": repeats, "min_seconds": min_seconds,
                  "rounds": ROUNDS, "eps": EPS,
                  "skip_baseline": args.skip_baseline}  # fmt: skip
        meta = {"machine": f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} cores", "device": str(jax.devices()[0])}  # fmt: skip
        path = results.write(args.out, "bench_distill", params=params,
                             numbers={"rows": rows, **meta})  # fmt: skip
        print(f"wrote: {path}")
    return 0
