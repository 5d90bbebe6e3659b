"""Benchmark: kernel-sd against what a user would pick instead, side by side.

Every table compares functions timed in one run, interleaved (one call of each in
turn, repeated), and reports ratios of their medians: ratios measured side by side
survive a busy machine far better than absolute times. Each table also checks that
the predictions agree.

1. Penalised form (RBF, ℓ = 0.5, λ = 1e-3, p = 3, 1000 test points, one output),
   relative to one scikit-learn ``KernelRidge(alpha=nλ)`` fit + predict:
   ``SelfDistillationRegressor(lam=λ, rounds=T)`` fit + predict for T = 1, 3, 10
   (goal ≤ 1.5: the estimators use one Cholesky of G + λI for all rounds),
   ``self_distill(..., lam=λ)`` on the eigenbasis (T = 10), a plain NumPy/SciPy
   Cholesky-once and eigh-once implementation of the same 10 rounds, and himalaya's
   ``KernelRidge(solver="eigenvalues")`` when it is installed.
2. Constrained form (Matérn 3/2, ℓ = 0.5, ε = 0.01, T = 10, n test points),
   relative to the NumPy eigh-once floor (NumPy Gram + ``numpy.linalg.eigh`` + a
   brentq root per round on the eigenvalues + one product for the test points):
   ``self_distill(..., eps=ε, X_test=...)`` (goal ≤ 1.2). Also (a) the trace
   without test points ÷ (Gram + one ``eigh``), (c) a 64-value ε sweep ÷ one trace
   (goal ≤ 1.3), and (b) the per-round refit baseline (brentq on φ(c) with a
   Cholesky solve of cI + G per evaluation, relative accuracy 1e-12) ÷ one trace
   (goal ≥ 15; run for n ≤ ``--refit-max``).
3. Features ``k(X_test, X) V / n`` with n test points, Matérn and RBF, relative to
   a NumPy kernel block (SciPy ``cdist``) times the BLAS matmul (goal ≤ 1.2).

Clocks: ``--clock wall`` (default) or ``--clock cpu`` (process CPU time, the
stable measure on a shared machine when the process is pinned to one core with
one BLAS thread: ``OPENBLAS_NUM_THREADS=1 taskset -c 1 python ...``). Both are
recorded in the JSON file.

Usage:
    kernel-sd bench distill                # n = 1000, 3000, 6000 (or: python -m experiments.benchmarks)
    kernel-sd bench distill --quick        # n = 200, seconds
    kernel-sd bench distill --sizes 1000 3000 --clock cpu --skip-baseline

Machine and recorded tables: experiments/benchmarks/README.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.spatial.distance import cdist

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from kernel_sd import results

P = 3  # input dimension
NOISE = 0.3  # label noise std
ROUNDS = 10  # T of the constrained traces and of the 10-round penalised fits
EPS = 0.01  # constraint level: all 10 rounds stay active at these n
MATERN = ksd.kernels.Matern(nu=1.5, lengthscale=0.5)
ELL = 0.5  # RBF lengthscale of the penalised comparison
RBF = ksd.kernels.RBF(lengthscale=ELL)
LAM = 1e-3  # penalty λ (KernelRidge alpha = n λ)
PENALISED_ROUNDS = (1, 3, 10)
M_TEST = 1000  # test points of the penalised comparison
N_SWEEP = 64  # ε values in (c)
MIN_SECONDS = 2.0
"""Interleaved rounds continue past ``--repeats`` until they add up to this many seconds."""
AGREE = 1e-8
"""Largest relative difference of predictions accepted as agreement."""


def problem(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) * np.cos(X[:, 1]) + NOISE * rng.standard_normal(n)
    X_test = rng.uniform(-1.0, 1.0, size=(m, P))
    return X, y, X_test


# ------------------------------------------------------------------------------
# timing


def _clock():
    return time.perf_counter(), time.process_time()


def interleaved(fns: dict, repeats: int, min_seconds: float) -> dict:
    """``{name: {"first": s, "wall": median s, "cpu": median s}}`` of ``fns``.

    One compiling call each, then rounds calling every function once in turn,
    at least ``repeats`` rounds and more until the rounds add up to ``min_seconds``.
    """
    out = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        out[name] = {"first": time.perf_counter() - t0, "wall": [], "cpu": []}
    spent, rounds = 0.0, 0
    while rounds < repeats or spent < min_seconds:
        for name, fn in fns.items():
            w0, c0 = _clock()
            jax.block_until_ready(fn())
            w1, c1 = _clock()
            out[name]["wall"].append(w1 - w0)
            out[name]["cpu"].append(c1 - c0)
            spent += w1 - w0
        rounds += 1
    for rec in out.values():
        rec["runs"] = len(rec["wall"])
        rec["wall"] = statistics.median(rec["wall"])
        rec["cpu"] = statistics.median(rec["cpu"])
    return out


def rel_diff(a, b) -> float:
    """``max |a − b| / max |b|``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def print_table(title: str, timings: dict, base: str, clock: str, checks: dict):
    """Ratios to ``base`` (and the base's absolute time), with the agreement checks."""
    print(f"\n{title}")
    width = max(len(k) for k in timings)
    header = f"  {'':<{width}}  {'ratio':>8}  {'median s':>9}  {'runs':>4}  agreement"
    print(header)
    print("  " + "-" * (len(header) - 2))
    b = timings[base][clock]
    for name, rec in timings.items():
        check = checks.get(name, "")
        print(
            f"  {name:<{width}}  {rec[clock] / b:>8.3f}  {rec[clock]:>9.4f}  "
            f"{rec['runs']:>4}  {check}"
        )
    sys.stdout.flush()


def agreement(label: str, d: float) -> str:
    return f"{label} {d:.1e}" + ("" if d <= AGREE else "  DISAGREES")


# ------------------------------------------------------------------------------
# NumPy / SciPy / scikit-learn references


def np_rbf(A, B):
    return np.exp(-cdist(A, B, "sqeuclidean") / (2.0 * ELL * ELL))


def np_matern(A, B):
    s = np.sqrt(3.0) * cdist(A, B) / MATERN.lengthscale
    return (1.0 + s) * np.exp(-s)


def np_cholesky_rounds(X, y, X_test, rounds):
    """Penalised rounds by one Cholesky of G + λI (SciPy), predictions at X_test."""
    n = X.shape[0]
    G = np_rbf(X, X) / n
    A = G.copy()
    A.flat[:: n + 1] += LAM
    factor = scipy.linalg.cho_factor(
        A, lower=True, overwrite_a=True, check_finite=False
    )
    y_t, coefs = y, []
    for _ in range(rounds):
        a = scipy.linalg.cho_solve(factor, y_t, check_finite=False)
        y_t = G @ a
        coefs.append(a)
    return np_rbf(X_test, X) @ np.stack(coefs, axis=1) / n  # (m, T)


def np_eigh_rounds(X, y, X_test, rounds):
    """Penalised rounds on one eigendecomposition (NumPy), predictions at X_test."""
    n = X.shape[0]
    d, V = np.linalg.eigh(np_rbf(X, X) / n)
    z, coefs = V.T @ y, []
    for _ in range(rounds):
        coefs.append(z / (LAM + d))
        z = d * coefs[-1]
    return np_rbf(X_test, X) @ (V @ np.stack(coefs, axis=1)) / n  # (m, T)


def np_constrained_floor(X, y, X_test, eps, rounds):
    """The NumPy eigh-once floor of a constrained trace with test predictions.

    Gram + eigh, per round a brentq root of φ(c) = nε on the eigenvalues (O(n)
    per evaluation), training predictions and one product for the test points.
    """
    n = X.shape[0]
    d, V = np.linalg.eigh(np_matern(X, X) / n)
    d = np.maximum(d, 0.0)
    z = V.T @ y
    cs, coefs = [], []
    for _ in range(rounds):
        s = z * z
        if s.sum() <= n * eps:
            cs.append(np.inf)
            coefs.append(np.zeros(n))
            z = np.zeros(n)
            continue
        c = scipy.optimize.brentq(
            lambda c, s=s: np.sum((c / (c + d)) ** 2 * s) - n * eps,
            1e-14, 1e6, xtol=1e-300, rtol=1e-13,
        )  # fmt: skip
        cs.append(c)
        coefs.append(z / (c + d))
        z = d * coefs[-1]
    C = np.stack(coefs, axis=1)  # (n, T) eigen-coefficients
    train = V @ (d[:, None] * C)
    test = np_matern(X_test, X) @ (V @ C) / n
    return np.array(cs), train.T, test.T


def cholesky_once(G: np.ndarray):
    """One factorisation of ``cI + G``: the unit of work of the refit baseline."""
    return scipy.linalg.cho_factor(1e-3 * np.eye(G.shape[0]) + G, check_finite=False)


def refit_baseline(G: np.ndarray, y: np.ndarray, eps: float, rounds: int):
    """Per-round refits with Cholesky solves inside brentq (no eigenbasis reuse).

    Returns the multipliers, the last targets and the number of factorisations.
    """
    n = G.shape[0]
    eye = np.eye(n)
    cs, yt = [], y.copy()
    count = [0]
    for _ in range(rounds):
        if yt @ yt <= n * eps:
            cs.append(np.inf)
            yt = np.zeros_like(yt)
            continue

        def residual(c, yt=yt):
            # y − f = c (cI + G)^{-1} y
            count[0] += 1
            return c * scipy.linalg.cho_solve(scipy.linalg.cho_factor(c * eye + G), yt)

        def phi(c, residual=residual):
            r = residual(c)
            return r @ r - n * eps

        # Same accuracy as kernel-sd: relative 1e-12 (brentq's default absolute
        # xtol=2e-12 would stop at ~1e-7 relative error for c ~ 1e-5).
        c = scipy.optimize.brentq(phi, 1e-10, 1e6, xtol=1e-300, rtol=1e-12)
        cs.append(c)
        yt = yt - residual(c)
    return np.array(cs), yt, count[0]


def _kernel_ridge():
    try:
        from sklearn.kernel_ridge import KernelRidge
    except ImportError:  # pragma: no cover - scikit-learn is a test dependency
        return None
    return KernelRidge


def _himalaya_ridge():
    try:
        from himalaya.kernel_ridge import KernelRidge
    except ImportError:
        return None
    return KernelRidge


# ------------------------------------------------------------------------------
# the three tables


def penalised(n, m, repeats, min_seconds, clock):
    from kernel_sd.sklearn import SelfDistillationRegressor

    X, y, Xt = problem(n, m)
    gamma = 1.0 / (2.0 * ELL * ELL)
    KernelRidge, Himalaya = _kernel_ridge(), _himalaya_ridge()

    def krr():
        return (
            KernelRidge(alpha=n * LAM, kernel="rbf", gamma=gamma).fit(X, y).predict(Xt)
        )

    def estimator(T):
        model = SelfDistillationRegressor("rbf", lengthscale=ELL, lam=LAM, rounds=T)
        return model.fit(X, y).predict(Xt)

    def eigenbasis():
        Xj, yj, Xtj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xt)
        return ksd.self_distill(
            RBF, Xj, yj, lam=LAM, rounds=ROUNDS, X_test=Xtj
        ).test_pred

    fns = {"KernelRidge fit+predict": krr}
    for T in PENALISED_ROUNDS:
        fns[f"kernel-sd estimator, T={T}"] = partial(estimator, T)
    fns[f"kernel-sd self_distill eigh, T={ROUNDS}"] = eigenbasis
    fns[f"NumPy Cholesky-once, T={ROUNDS}"] = partial(
        np_cholesky_rounds, X, y, Xt, ROUNDS
    )
    fns[f"NumPy eigh-once, T={ROUNDS}"] = partial(np_eigh_rounds, X, y, Xt, ROUNDS)
    if Himalaya is not None:

        def himalaya():
            model = Himalaya(alpha=n * LAM, kernel="rbf", kernel_params={"gamma": gamma},
                             solver="eigenvalues")  # fmt: skip
            return model.fit(X, y).predict(Xt)

        fns['himalaya KernelRidge("eigenvalues")'] = himalaya
    timings = interleaved(fns, repeats, min_seconds)

    ref0, ref = krr(), np_cholesky_rounds(X, y, Xt, ROUNDS)
    checks = {
        "kernel-sd estimator, T=1": agreement(
            "vs KernelRidge", rel_diff(estimator(1), ref0)
        ),
        f"kernel-sd estimator, T={ROUNDS}": agreement(
            "vs NumPy Cholesky", rel_diff(estimator(ROUNDS), ref[:, -1])
        ),
        f"kernel-sd self_distill eigh, T={ROUNDS}": agreement(
            "vs NumPy Cholesky", rel_diff(np.asarray(eigenbasis()).T, ref)
        ),
        f"NumPy Cholesky-once, T={ROUNDS}": agreement(
            "round 0 vs KernelRidge", rel_diff(ref[:, 0], ref0)
        ),  # fmt: skip
        f"NumPy eigh-once, T={ROUNDS}": agreement(
            "vs NumPy Cholesky", rel_diff(np_eigh_rounds(X, y, Xt, ROUNDS), ref)
        ),
    }
    if Himalaya is not None:
        checks['himalaya KernelRidge("eigenvalues")'] = agreement(
            "vs KernelRidge",
            rel_diff(fns['himalaya KernelRidge("eigenvalues")'](), ref0),
        )
    title = (f"penalised form, n = {n}: RBF l={ELL}, lam={LAM}, m = {m} test points; "
             "ratio to one KernelRidge fit+predict (goal: estimator <= 1.5)")  # fmt: skip
    print_table(title, timings, "KernelRidge fit+predict", clock, checks)
    return {"timings": timings, "checks": checks}


def constrained(n, repeats, min_seconds, clock, refit: bool):
    X, y, Xt = problem(n, n)
    Xj, yj, Xtj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xt)
    eps_grid = np.geomspace(EPS, 0.5 * float(y @ y) / n, N_SWEEP)

    def trace_test():
        return ksd.self_distill(MATERN, Xj, yj, eps=EPS, rounds=ROUNDS, X_test=Xtj)

    def trace():
        return ksd.self_distill(MATERN, Xj, yj, eps=EPS, rounds=ROUNDS).train_pred

    def gram_eigh():
        return jnp.linalg.eigh(ksd.gram(MATERN, Xj) / n)

    def sweep():
        return ksd.self_distill_sweep(
            MATERN, Xj, yj, eps=eps_grid, rounds=ROUNDS
        ).train_pred

    fns = {
        "NumPy eigh-once floor (+test)": partial(
            np_constrained_floor, X, y, Xt, EPS, ROUNDS
        ),
        "kernel-sd trace (+test)": lambda: trace_test().test_pred,
        "kernel-sd trace": trace,
        "Gram + one eigh": gram_eigh,
        f"kernel-sd sweep, {N_SWEEP} eps": sweep,
        "SciPy Cholesky of cI + G": partial(
            cholesky_once, np.asarray(ksd.gram(MATERN, Xj)) / n
        ),
    }
    timings = interleaved(fns, repeats, min_seconds)
    c_np, train_np, test_np = np_constrained_floor(X, y, Xt, EPS, ROUNDS)
    tr = trace_test()
    ok = np.isfinite(c_np)
    dc = float(np.max(np.abs(np.asarray(tr.c)[ok] - c_np[ok]) / c_np[ok]))
    checks = {
        "kernel-sd trace (+test)": agreement("test", rel_diff(tr.test_pred, test_np))
        + f", train {rel_diff(tr.train_pred, train_np):.1e}, c {dc:.1e}"
    }
    title = (f"constrained form, n = {n}: Matern 3/2 l={MATERN.lengthscale}, eps={EPS}, "
             f"T = {ROUNDS}, m = n test points; ratio to the NumPy eigh-once floor "
             "(goal: trace (+test) <= 1.2)")  # fmt: skip
    print_table(title, timings, "NumPy eigh-once floor (+test)", clock, checks)
    t = {k: v[clock] for k, v in timings.items()}
    row = {
        "n": n,
        "trace_test_vs_floor": t["kernel-sd trace (+test)"] / t["NumPy eigh-once floor (+test)"],
        "ratio_a": t["kernel-sd trace"] / t["Gram + one eigh"],
        "ratio_c": t[f"kernel-sd sweep, {N_SWEEP} eps"] / t["kernel-sd trace"],
        "speedup_b": float("nan"),
        "max_rel_dc": dc,
        "active_rounds": tr.collapse_round if tr.collapse_round >= 0 else ROUNDS,
        "compile_s": (timings["kernel-sd trace"]["first"]
                      - timings["kernel-sd trace"]["wall"]),
        "eigh_over_cholesky": t["Gram + one eigh"] / t["SciPy Cholesky of cI + G"],
    }  # fmt: skip
    if refit:
        G = np.asarray(ksd.gram(MATERN, Xj)) / n
        w0, c0 = _clock()
        c_ref, _, factorisations = refit_baseline(G, y, EPS, ROUNDS)
        w1, c1 = _clock()
        row["refit_s"] = {"wall": w1 - w0, "cpu": c1 - c0}[clock]
        row["speedup_b"] = row["refit_s"] / t["kernel-sd trace"]
        row["refit_factorisations"] = factorisations
        # any route computing the full eigendecomposition is capped near this:
        row["speedup_cap"] = factorisations / row["eigh_over_cholesky"]
        ok = np.isfinite(c_ref)
        row["max_rel_dc_refit"] = float(
            np.max(np.abs(np.asarray(tr.c)[ok] - c_ref[ok]) / c_ref[ok])
        )
    print(
        f"  {'n':>6} {'(a) ratio':>10} {'(b) speed-up':>13} {'(c) ratio':>10} "
        f"{'trace+test/floor':>17} {'compile s':>10} {'rounds':>7} {'max |dc|/c':>11}"
    )
    print(
        f"  {n:>6} {row['ratio_a']:>10.3f} {row['speedup_b']:>12.1f}x "
        f"{row['ratio_c']:>10.3f} {row['trace_test_vs_floor']:>17.3f} "
        f"{row['compile_s']:>10.2f} {row['active_rounds']:>7d} {dc:>11.1e}"
    )
    print("  (a) trace / (Gram + eigh), goal <= 1.15; (b) per-round refits / trace, "
          "goal >= 15; (c) 64-eps sweep / trace, goal <= 1.3")  # fmt: skip
    if "refit_factorisations" in row:
        print(f"  (b): the refits factorise cI + G {row['refit_factorisations']} times; "
              f"Gram + eigh costs {row['eigh_over_cholesky']:.1f} factorisations, so an "
              f"eigh-once method is capped near {row['speedup_cap']:.1f}x")  # fmt: skip
    return {"timings": timings, "checks": checks, "row": row}


def features(n, repeats, min_seconds, clock):
    X, _, Xt = problem(n, n)
    Xj, Xtj = jnp.asarray(X), jnp.asarray(Xt)
    fns, refs = {}, {}
    for name, kernel, np_kernel in (
        ("Matern 3/2", MATERN, np_matern),
        ("RBF", RBF, np_rbf),
    ):
        spec = ksd.spectrum(kernel, Xj)  # features need the kernel's own spectrum
        V = np.asarray(spec.eigvecs)
        fns[f"NumPy block + matmul, {name}"] = partial(
            lambda np_kernel, V: np_kernel(Xt, X) @ (V / n), np_kernel, V
        )
        fns[f"kernel-sd features, {name}"] = partial(
            ksd.features, kernel, Xj, Xtj, spec
        )
        refs[name] = (kernel, np_kernel, spec, V)
    timings = interleaved(fns, repeats, min_seconds)
    checks, rows = {}, {}
    for name, (kernel, np_kernel, spec, V) in refs.items():
        d = rel_diff(ksd.features(kernel, Xj, Xtj, spec), np_kernel(Xt, X) @ (V / n))
        checks[f"kernel-sd features, {name}"] = agreement("vs NumPy", d)
        rows[name] = (timings[f"kernel-sd features, {name}"][clock]
                      / timings[f"NumPy block + matmul, {name}"][clock])  # fmt: skip
    title = (f"features k(X_test, X) V / n, n = m = {n} (r = n); ratio to the Matern "
             "NumPy block + BLAS matmul (goal: each kernel <= 1.2 x its NumPy row)")  # fmt: skip
    print_table(title, timings, "NumPy block + matmul, Matern 3/2", clock, checks)
    print("  kernel-sd / NumPy: " + ", ".join(f"{k} {v:.3f}" for k, v in rows.items()))
    return {"timings": timings, "checks": checks, "ratios": rows}


@benchmark(
    "distill",
    help="side by side with scikit-learn's KernelRidge, himalaya (if installed) and "
    "NumPy eigh-once / Cholesky-once references: penalised fits, constrained traces "
    "(also against Gram + eigh, per-round refits and 64-value eps sweeps) and "
    "features (bench_distill.py)",
    options=[
        Option("--sizes", [1000, 3000, 6000], {"type": int, "nargs": "+",
               "help": "n values"}),
        Option("--repeats", 3, {"type": int, "help": "warm runs at least"}),
        Option("--tables", ["penalised", "constrained", "features"], {
            "nargs": "+", "choices": ["penalised", "constrained", "features"],
            "help": "which tables to run"}),
        Option("--clock", "wall", {"choices": ["wall", "cpu"],
               "help": "ratios of wall time or of process CPU time"}),
        Option("--skip-baseline", False, {"action": "store_true",
               "help": "skip (b), the slow refits"}),
        Option("--refit-max", 3000, {"type": int,
               "help": "largest n at which (b), the per-round refit baseline, runs"}),
    ],
)  # fmt: skip
def run(args) -> int:
    if args.quick and {"sizes", "repeats"} & args.given:
        raise ValueError("--quick runs n = 200 once; give --quick or --sizes/--repeats.")
    sizes = [200] if args.quick else args.sizes
    repeats = 1 if args.quick else args.repeats
    min_seconds = 0.0 if args.quick else MIN_SECONDS
    m_test = 50 if args.quick else M_TEST

    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"{platform.system()}")  # fmt: skip
    print(
        f"# machine: {machine}; jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"python {platform.python_version()}; float64; clock: {args.clock}; "
        f"medians of >= {repeats} interleaved runs filling >= {min_seconds:g} s"
    )
    if _kernel_ridge() is None:
        args.tables = [t for t in args.tables if t != "penalised"]
        print("# scikit-learn not installed: the penalised table is skipped")
    if _himalaya_ridge() is None:
        print("# himalaya not installed (pip install himalaya): its row is skipped")
    record, failed = {}, False
    for n in sizes:
        rec = {}
        if "penalised" in args.tables:
            rec["penalised"] = penalised(n, m_test, repeats, min_seconds, args.clock)
        if "constrained" in args.tables:
            refit = not args.skip_baseline and n <= args.refit_max
            rec["constrained"] = constrained(n, repeats, min_seconds, args.clock, refit)
        if "features" in args.tables:
            rec["features"] = features(n, repeats, min_seconds, args.clock)
        failed |= any(
            "DISAGREES" in c for r in rec.values() for c in r["checks"].values()
        )
        record[str(n)] = rec
    if args.out:
        params = {"sizes": sizes, "repeats": repeats, "min_seconds": min_seconds,
                  "clock": args.clock, "tables": args.tables, "rounds": ROUNDS,
                  "eps": EPS, "lam": LAM, "m_test": m_test,
                  "skip_baseline": args.skip_baseline, "refit_max": args.refit_max}  # fmt: skip
        meta = {"machine": machine, "device": str(jax.devices()[0]),
                "rows": [r["constrained"]["row"] for r in record.values()
                         if "constrained" in r]}  # fmt: skip
        path = results.write(args.out, "bench_distill", params=params,
                             numbers={"sizes": record, **meta})  # fmt: skip
        print(f"wrote: {path}")
    if failed:
        print(f"predictions disagree beyond {AGREE:g} (see DISAGREES above)")
    return 1 if failed else 0

