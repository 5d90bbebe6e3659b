"""Benchmark: landmark choices at equal time, against exact kernel ridge on subsamples.

For inputs in 3 and 10 dimensions (``X`` uniform on ``[−1, 1]^p``, ``y = sin(2x₁) +
x₂x₃ + 0.1·noise``, Matérn 3/2 or RBF with ℓ = 1), each landmark choice of
``nystrom_spectrum`` (``rpcholesky``, ``uniform``, ``pivoted``) and each m:

- time: CPU seconds of this process (selection + spectrum + fit; on a shared
  machine the steadier number) and wall seconds; first calls after an untimed
  warm-up at the same (n, m), so compilation is not counted;
- ``1 − δ``: the captured share of ``tr G``;
- test MSE against the noise-free target on held-out points, for the penalised
  fit ``f = g̃_xᵀ V (λ I + D)^{-1} Vᵀ y`` with λ chosen on a validation set
  (15 values from 1e-8 to 1e-1);
- ``dev. exact``: the relative RMS difference of those test predictions from exact
  kernel ridge on a 20 000-point subsample (the largest exact solution here);
- ``KRR same time``: the test MSE of exact kernel ridge on a subsample that costs
  the same CPU time, interpolated (log-log, in time) along a ladder of exact fits
  on 1000 … 20 000 points (λ chosen on the validation set for each).

Usage::

    kernel-sd bench landmarks --out figures           # n = 50 000, p = 3 and 10
    kernel-sd bench landmarks --quick --out /tmp/x    # n = 1500, seconds
    kernel-sd bench landmarks --dims 10 --ms 1000 2000 --methods uniform rpcholesky

Records ``bench_landmarks.json`` (every row) and prints one table per dimension
plus an equal-time summary: for each CPU budget of the KRR ladder, the best test
MSE and the captured share reached by each method within that budget.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from kernel_sd import results

NOISE = 0.1  # label noise std
LAMS = np.logspace(-8, -1, 15)  # penalties λ tried on the validation set
N_VAL, N_TEST = 2000, 5000  # validation and test points
FULL = {"n": 50_000, "ms": (500, 1000, 2000, 4000, 8000),
        "krr": (1000, 2000, 5000, 10_000, 20_000)}  # fmt: skip
QUICK = {"n": 1500, "ms": (40, 120), "krr": (200, 500, 1000)}
PIVOTED_MAX_M = 1000  # greedy pivots are m sequential steps over all n rows
KERNELS = {"matern32": lambda: ksd.kernels.Matern(nu=1.5, lengthscale=1.0),
           "rbf": lambda: ksd.kernels.RBF(lengthscale=1.0)}  # fmt: skip


def problem(n: int, p: int, seed: int):
    """``X`` uniform on ``[−1, 1]^p``, the noise-free target ``f`` and ``y = f + noise``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, p))
    f = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2]
    return X, f, f + NOISE * rng.standard_normal(n)


class Clock:
    """Wall and process-CPU seconds since creation."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def nystrom_fit(kernel, X, y, method, m, seed, Xv, fv, Xt):
    """Spectrum + λ on the validation set; returns (spec, test predictions, λ)."""
    spec = ksd.nystrom_spectrum(kernel, X, m=m, landmarks=method, seed=seed,
                                vectors="implicit")  # fmt: skip
    z = np.asarray(spec.eigvecs.T @ jnp.asarray(y))
    d = np.asarray(spec.eigvals)
    Fv = np.asarray(ksd.features(kernel, X, Xv, spec))
    Ft = np.asarray(ksd.features(kernel, X, Xt, spec))
    coef = z[None, :] / (LAMS[:, None] + d[None, :])  # (λ, r): (λ I + D)^{-1} Vᵀ y
    best = int(np.argmin(np.mean((Fv @ coef.T - fv[:, None]) ** 2, axis=0)))
    return spec, Ft @ coef[best], float(LAMS[best])


def krr_fit(kernel, X, y, size, seed, Xv, fv, Xt, lams):
    """Exact kernel ridge on a uniform subsample: λ from ``lams`` on the validation set.

    ``(K + size·λ I) α = y`` by Cholesky for each λ (the paper's scaling,
    ``KernelRidge(alpha=K·λ)``); predictions ``k(x, X_s) α``.
    """
    idx = np.random.default_rng(seed + 1).choice(X.shape[0], size, replace=False)
    ys = y[idx]
    K, Kv, Kt = _krr_grams(kernel, X[idx], Xv, Xt)
    best = None
    for lam in lams:
        A = K + size * lam * np.eye(size)
        alpha = sla.cho_solve(sla.cho_factor(A, lower=True, overwrite_a=True,
                                             check_finite=False), ys)  # fmt: skip
        val = float(np.mean((Kv @ alpha - fv) ** 2))
        if best is None or val < best[0]:
            best = (val, lam, Kt @ alpha)
    return best[2], best[1]


def _krr_grams(kernel, Xs, Xv, Xt):
    """``k(X_s, X_s)``, ``k(X_val, X_s)`` and ``k(X_test, X_s)`` as NumPy arrays."""
    Xs = jnp.asarray(Xs)
    return tuple(np.asarray(ksd.gram(kernel, A, None if A is Xs else Xs))
                 for A in (Xs, jnp.asarray(Xv), jnp.asarray(Xt)))  # fmt: skip


def krr_ladder(kernel, X, y, sizes, seed, Xv, fv, Xt, ft):
    """Exact kernel ridge at each subsample size: time, λ, test MSE and predictions."""
    rows, lams = [], LAMS
    for size in sizes:
        _krr_grams(kernel, X[:size], Xv, Xt)  # compile the kernel programs, untimed
        clock = Clock()
        pred, lam = krr_fit(kernel, X, y, size, seed, Xv, fv, Xt, lams)
        wall, cpu = clock.read()
        rows.append({"method": "exact KRR", "size": size, "wall_s": wall, "cpu_s": cpu,
                     "lam": lam, "test_mse": float(np.mean((pred - ft) ** 2)),
                     "pred": pred})  # fmt: skip
        # Larger subsamples: λ near the previous best (λ falls slowly with n).
        i = int(np.argmin(np.abs(LAMS - lam)))
        lams = LAMS[max(i - 2, 0) : i + 1]
    return rows


def at_equal_time(ladder, cpu_s: float) -> float | None:
    """Test MSE of exact KRR interpolated at ``cpu_s`` along the ladder (log-log).

    None outside the ladder's time range (no extrapolation).
    """
    t = np.log([r["cpu_s"] for r in ladder])
    e = np.log([r["test_mse"] for r in ladder])
    order = np.argsort(t)
    t, e = t[order], e[order]
    if not t[0] <= np.log(cpu_s) <= t[-1]:
        return None
    return float(np.exp(np.interp(np.log(cpu_s), t, e)))


def _mse(value) -> str:
    return "outside" if value is None else f"{value:.2e}"


def run_dimension(args, p: int, sizes: dict) -> list[dict]:
    kernel = KERNELS[args.kernel]()
    n = sizes["n"]
    X, _, y = problem(n, p, args.seed)
    Xv, fv, _ = problem(sizes["n_val"], p, 1000 + args.seed)
    Xt, ft, _ = problem(sizes["n_test"], p, 2000 + args.seed)
    Xj = jnp.asarray(X)
    print(f"# p = {p}, n = {n}, {args.kernel}: exact kernel ridge ladder ...", flush=True)
    ladder = krr_ladder(kernel, X, y, [s for s in sizes["krr"] if s <= n], args.seed,
                        Xv, fv, Xt, ft)  # fmt: skip
    reference = ladder[-1]["pred"]
    ref_norm = float(np.sqrt(np.mean(reference**2)))
    rows = []
    for r in ladder:
        rows.append({k: v for k, v in r.items() if k != "pred"} | {"p": p, "n": n})
        print(f"  exact KRR on {r['size']:>6} points: cpu {r['cpu_s']:7.1f} s, "
              f"test MSE {r['test_mse']:.2e}", flush=True)  # fmt: skip
    for m in sizes["ms"]:
        if m > n:
            continue
        nystrom_fit(kernel, Xj, y, "uniform", m, args.seed, Xv, fv, Xt)  # compile
        for method in args.methods:
            if method == "pivoted" and m > sizes["pivoted_max_m"]:
                continue
            clock = Clock()
            spec, pred, lam = nystrom_fit(kernel, Xj, y, method, m, args.seed, Xv, fv, Xt)
            wall, cpu = clock.read()
            row = {"method": method, "p": p, "n": n, "m": m,
                   "m_used": int(spec.landmarks.shape[0]), "wall_s": wall, "cpu_s": cpu,
                   "captured": 1.0 - float(spec.truncation), "lam": lam,
                   "test_mse": float(np.mean((pred - ft) ** 2)),
                   "dev_exact": float(np.sqrt(np.mean((pred - reference) ** 2)) / ref_norm),
                   "krr_same_time_mse": at_equal_time(ladder, cpu)}  # fmt: skip
            rows.append(row)
            print(f"  {method:>10} m = {m:>5}: cpu {cpu:7.1f} s (wall {wall:6.1f}), "
                  f"1-δ {row['captured']:.4f}, test MSE {row['test_mse']:.2e}, "
                  f"dev. exact {row['dev_exact']:.3f}, KRR same time "
                  f"{_mse(row['krr_same_time_mse'])}", flush=True)  # fmt: skip
    return rows


def table(rows, reference_size: int) -> str:
    out = []
    for p in sorted({r["p"] for r in rows}):
        out.append(f"p = {p}")
        out.append(f"{'method':>10} {'m/size':>7} {'cpu s':>8} {'wall s':>7} {'1-δ':>7} "
                   f"{'test MSE':>9} {'dev. exact':>10} {'KRR same time':>13}")  # fmt: skip
        for r in (r for r in rows if r["p"] == p):
            if r["method"] == "exact KRR":
                out.append(f"{'exact KRR':>10} {r['size']:>7} {r['cpu_s']:>8.1f} "
                           f"{r['wall_s']:>7.1f} {'':>7} {r['test_mse']:>9.2e}")  # fmt: skip
            else:
                out.append(f"{r['method']:>10} {r['m']:>7} {r['cpu_s']:>8.1f} "
                           f"{r['wall_s']:>7.1f} {r['captured']:>7.4f} "
                           f"{r['test_mse']:>9.2e} {r['dev_exact']:>10.3f} "
                           f"{_mse(r['krr_same_time_mse']):>13}")  # fmt: skip
        out.append(f"(dev. exact: relative RMS difference of the test predictions from "
                   f"exact kernel ridge on {reference_size} points; KRR same time: "
                   f"'outside' the ladder's time range)")  # fmt: skip
    return "\n".join(out)


def equal_time_summary(rows) -> str:
    """For each CPU budget of the ladder: per method, the best fit within it."""
    out = ["equal time: best test MSE (and 1-δ) within each CPU budget"]
    for p in sorted({r["p"] for r in rows}):
        ladder = [r for r in rows if r["p"] == p and r["method"] == "exact KRR"]
        methods = sorted({r["method"] for r in rows if r["p"] == p} - {"exact KRR"})
        out.append(f"p = {p}: " + " | ".join(f"{m:>22}" for m in ["budget"] + methods))
        for k in ladder:
            cells = []
            for method in methods:
                fits = [r for r in rows if r["p"] == p and r["method"] == method
                        and r["cpu_s"] <= k["cpu_s"]]  # fmt: skip
                if fits:
                    b = min(fits, key=lambda r: r["test_mse"])
                    cells.append(f"{b['test_mse']:.2e} ({b['captured']:.3f}, m={b['m']})")
                else:
                    cells.append("-")
            budget = f"{k['cpu_s']:.1f} s (KRR {k['size']}: {k['test_mse']:.1e})"
            out.append(" " * 7 + " | ".join(f"{c:>22}" for c in [budget] + cells))
    return "\n".join(out)


@benchmark(
    "landmarks",
    help="landmark choices at equal time: captured trace, test MSE, exact kernel "
    "ridge on subsamples beside each result, p = 3 and 10 (bench_landmarks.py)",
    options=[
        Option("--n", None, {"type": int, "help": "training points"}),
        Option("--dims", (3, 10), {"type": int, "nargs": "+", "help": "input dimensions"}),
        Option("--ms", None, {"type": int, "nargs": "+", "help": "landmark counts"}),
        Option("--methods", ("rpcholesky", "uniform", "pivoted"),
               {"nargs": "+", "choices": ksd.spectra.LANDMARK_METHODS,
                "help": "landmark choices"}),
        Option("--kernel", "matern32", {"choices": tuple(KERNELS), "help": "kernel (ℓ = 1)"}),
        Option("--krr-sizes", None, {"type": int, "nargs": "+",
               "help": "exact kernel ridge subsample sizes (the largest is the reference)"}),
        Option("--seed", 0, {"type": int, "help": "random seed"}),
    ],
)  # fmt: skip
def run(args) -> int:
    base = dict(QUICK if args.quick else FULL)
    sizes = {
        "n": args.n or base["n"],
        "ms": tuple(args.ms or base["ms"]),
        "krr": tuple(sorted(args.krr_sizes or base["krr"])),
        "n_val": 300 if args.quick else N_VAL,
        "n_test": 500 if args.quick else N_TEST,
        "pivoted_max_m": PIVOTED_MAX_M,
    }
    print(f"# machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; jax "
          f"{jax.__version__} on {jax.devices()[0].device_kind}; float64", flush=True)  # fmt: skip
    rows = []
    for p in args.dims:
        rows += run_dimension(args, p, sizes)
    reference = max(r["size"] for r in rows if r["method"] == "exact KRR")
    print(table(rows, reference))
    print(equal_time_summary(rows))
    results.write(args.out, "bench_landmarks",
                  params={"kernel": args.kernel, "dims": list(args.dims),
                          "methods": list(args.methods), **sizes, "lams": LAMS.tolist(),
                          "noise": NOISE},
                  numbers={"rows": rows, "load_average": os.getloadavg()[0]},
                  seed=args.seed)  # fmt: skip
    return 0
