"""Benchmark: cross-validating the whole (ε or lam, round) grid from one factorisation per fold.

For E = 16 grid values × T = 8 rounds × F = 5 folds at n = 2000 (RBF, p = 5),
measures in one run, interleaved (each repeat times every contender in turn):

(A) kernel-sd ``SelfDistillationRegressorCV(eps=grid, rounds=T, cv=KFold(F))``:
    one Gram matrix, F fold ``eigh`` + the full-data ``eigh`` of the refit;
(B) ``GridSearchCV(SelfDistillationRegressor(), {"eps": grid, "rounds": 1..T},
    cv=KFold(F))``: E·T·F = 640 fits, each with its own factorisation, + refit.
    Goal: B / A >= 50. ``--baseline-grid E_b`` times (B) on E_b of the E grid
    values (evenly spaced), scales its time by E / E_b and adds one timed refit on
    all n: each candidate fit is one Gram matrix and one ``eigh`` of the fold's
    size whatever ε is.
(C) himalaya's ``KernelRidgeCV(alphas=K·lam, kernel="rbf", cv=KFold(F))`` (one
    round, penalised; skipped when himalaya is not installed) against
(D) ``SelfDistillationRegressorCV(lam=grid, rounds=1, cv=KFold(F))``. Goal: C / D > 1.

Both kernel-sd contenders are timed warm (after one compiling call, whose
time is reported), GridSearchCV after one warm fit per round count. Each
ratio is computed within a repeat and the median over repeats is reported;
GridSearchCV (minutes per run) is timed in the first ``--baseline-repeats``
repeats only, and its ratio uses the kernel-sd run of the same repeat.

Usage:
    kernel-sd bench cv --out figures        # the table above
    kernel-sd bench cv --quick              # n = 200, E = 4, T = 3, F = 3, seconds
    kernel-sd bench cv --n 1000 --skip-baseline

scikit-learn is needed (the estimators and GridSearchCV); himalaya is optional.

Machine of the recorded table: see experiments/benchmarks/README.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import jax
import numpy as np

from experiments.benchmarks import Option, benchmark
from kernel_sd import results

P = 5  # input dimension
NOISE = 0.5  # label noise std (signal variance ~0.5)
LENGTHSCALE = 1.0  # RBF lengthscale on inputs in [-1, 1]^P


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) * np.cos(X[:, 1]) + X[:, 2] * X[:, 3]
    return X, y + NOISE * rng.standard_normal(n)


def grids(y: np.ndarray, E: int):
    """ε grid: fractions 0.05 ... 0.9 of (1/n)‖y‖² (feasible and mostly active on
    every fold); lam grid: 1e-6 ... 1e-1."""
    energy = float(y @ y) / y.size
    return np.geomspace(0.05, 0.9, E) * energy, np.geomspace(1e-6, 1e-1, E)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@benchmark(
    "cv",
    help="cross-validation of an (eps, round) grid from one factorisation per fold, "
    "against GridSearchCV and himalaya's KernelRidgeCV (bench_cv.py)",
    options=[
        Option("--n", 2000, {"type": int, "help": "training points"}),
        Option("--grid", 16, {"type": int, "help": "grid values E"}),
        Option("--rounds", 8, {"type": int, "help": "rounds T"}),
        Option("--folds", 5, {"type": int, "help": "folds F"}),
        Option("--repeats", 3, {"type": int, "help": "warm runs at least"}),
        Option("--baseline-repeats", 1, {"type": int,
               "help": "repeats that also time the slow baseline"}),
        Option("--baseline-grid", 0, {"type": int,
               "help": "time (b) on this many of the E grid values (evenly spaced) "
                       "and scale its time by E / this; 0: all E"}),
        Option("--skip-baseline", False, {"action": "store_true",
               "help": "skip (b), the slow refits"}),
    ],
)  # fmt: skip
def run(args) -> int:
    from sklearn.model_selection import GridSearchCV, KFold

    from kernel_sd.sklearn import SelfDistillationRegressor, SelfDistillationRegressorCV

    if args.quick:
        sizes = {"n", "grid", "rounds", "folds", "repeats"}
        if sizes & args.given:
            raise ValueError(
                "--quick runs n = 200, E = 4, T = 3, F = 3 once; give --quick or "
                "the sizes."
            )
        args.n, args.grid, args.rounds, args.folds, args.repeats = 200, 4, 3, 3, 1
    n, E, T, F = args.n, args.grid, args.rounds, args.folds
    try:
        import himalaya
        from himalaya.kernel_ridge import KernelRidgeCV
    except ImportError:
        himalaya = KernelRidgeCV = None

    X, y = problem(n)
    eps_grid, lam_grid = grids(y, E)
    cv = KFold(F)
    n_fold = n - n // F

    def ksd_cv():
        return SelfDistillationRegressorCV(
            lengthscale=LENGTHSCALE, eps=eps_grid, rounds=T, cv=cv
        ).fit(X, y)

    # (b) on a subset of the eps grid: every candidate fit costs one Gram matrix
    # and one eigh of the same size whatever eps is, so its time scales by E / E_b.
    E_b = E if args.baseline_grid <= 0 else min(args.baseline_grid, E)
    b_grid = eps_grid[np.unique(np.round(np.linspace(0, E - 1, E_b)).astype(int))]
    b_scale = E / b_grid.size

    def gridsearch():
        return GridSearchCV(
            SelfDistillationRegressor(lengthscale=LENGTHSCALE),
            {"eps": list(b_grid), "rounds": list(range(1, T + 1))},
            cv=cv,
            scoring="neg_mean_squared_error",
            refit=b_scale == 1,  # a scaled subset adds one refit, timed once
        ).fit(X, y)

    def refit_once():
        SelfDistillationRegressor(
            lengthscale=LENGTHSCALE, eps=float(b_grid[0]), rounds=T
        ).fit(X, y)

    def ksd_ridge():
        return SelfDistillationRegressorCV(
            lengthscale=LENGTHSCALE, lam=lam_grid, rounds=1, cv=cv
        ).fit(X, y)

    def himalaya_ridge():
        # KernelRidge's alpha is K·lam (K = the fit's rows); himalaya keeps one alpha
        # for every fold and the refit, so use the fold size.
        return KernelRidgeCV(
            alphas=n_fold * lam_grid, kernel="rbf",
            kernel_params={"gamma": 0.5 / LENGTHSCALE**2}, cv=cv,
        ).fit(X, y)  # fmt: skip

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"cores, {platform.system()}; jax {jax.__version__} on "
        f"{jax.devices()[0].platform}; python {platform.python_version()}"
        + (f"; himalaya {himalaya.__version__}" if himalaya else "; himalaya absent")
    )
    print(
        f"# n = {n}, p = {P}, RBF(lengthscale={LENGTHSCALE}), E = {E} grid values, "
        f"T = {T} rounds, F = {F} folds (training folds of {n_fold}), float64"
    )
    compile_a = timed(ksd_cv)  # first calls: compilation included
    compile_d = timed(ksd_ridge)
    if not args.skip_baseline:  # one compiling fit per round count at the fold size
        for t in range(1, T + 1):
            SelfDistillationRegressor(
                lengthscale=LENGTHSCALE, eps=float(eps_grid[-1]), rounds=t
            ).fit(X[:n_fold], y[:n_fold]).predict(X[n_fold:])
    runs = []
    for r in range(args.repeats):
        row = {"a_s": timed(ksd_cv)}
        if not args.skip_baseline and r < args.baseline_repeats:
            row["b_s"] = timed(gridsearch)
            if b_scale != 1:  # E·T·F fits from E_b·T·F, plus the one refit
                row["b_s"] = row["b_s"] * b_scale + timed(refit_once)
            row["b_over_a"] = row["b_s"] / row["a_s"]
        row["d_s"] = timed(ksd_ridge)
        if KernelRidgeCV is not None:
            row["c_s"] = timed(himalaya_ridge)
            row["c_over_d"] = row["c_s"] / row["d_s"]
        runs.append(row)
        print(f"# repeat {r}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
        sys.stdout.flush()

    def median(key):
        vals = [row[key] for row in runs if key in row]
        return statistics.median(vals) if vals else float("nan")

    model, ridge = ksd_cv(), ksd_ridge()
    summary = {
        "ksd_cv_s": median("a_s"), "gridsearch_s": median("b_s"),
        "gridsearch_over_ksd": median("b_over_a"), "ksd_ridge_cv_s": median("d_s"),
        "himalaya_s": median("c_s"), "himalaya_over_ksd": median("c_over_d"),
        "ksd_cv_first_call_s": compile_a, "ksd_ridge_first_call_s": compile_d,
        "best_eps": model.best_eps_, "best_round": model.best_round_,
        "best_mse": -model.best_score_, "best_lam_one_round": ridge.best_lam_,
    }  # fmt: skip
    header = f"{'contender':<58} {'seconds':>9} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    lines = [
        (f"(A) kernel-sd CV, eps grid x {T} rounds ({F} + 1 eigh)", "ksd_cv_s", None),
        (
            f"(B) GridSearchCV, {E * T * F} fits (+ refit)"
            + (f", from {b_grid.size * T * F} x {b_scale:g}" if b_scale != 1 else ""),
            "gridsearch_s",
            "gridsearch_over_ksd",
        ),  # noqa: E501
        ("(D) kernel-sd CV, lam grid, 1 round", "ksd_ridge_cv_s", None),
        ("(C) himalaya KernelRidgeCV, same alphas", "himalaya_s", "himalaya_over_ksd"),
    ]
    for label, key, ratio in lines:
        val = summary[key]
        rat = f"{summary[ratio]:>7.1f}x" if ratio else ""
        print(f"{label:<58} {val:>9.3f} {rat:>8}")
    print(
        f"first calls (compile included): (A) {compile_a:.2f} s, (D) {compile_d:.2f} s; "
        f"best eps {model.best_eps_:.4g} at round {model.best_round_} "
        f"(CV MSE {-model.best_score_:.4f})"
    )
    if args.out:
        params = {"n": n, "p": P, "grid": E, "rounds": T, "folds": F,
                  "repeats": args.repeats, "baseline_repeats": args.baseline_repeats,
                  "skip_baseline": args.skip_baseline, "noise": NOISE,
                  "baseline_grid": int(b_grid.size),
                  "lengthscale": LENGTHSCALE}  # fmt: skip
        meta = {
            "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores",
            "device": str(jax.devices()[0]),
            "himalaya": himalaya.__version__ if himalaya else None,
        }
        path = results.write(
            args.out, "bench_cv", params=params,
            numbers={**summary, "runs": runs, **meta},
        )  # fmt: skip
        print(f"wrote: {path}")
    return 0
