"""Benchmark on one accelerator: exact path to the largest n that fits, and the Nyström path.

One script, one call, on any JAX backend (NVIDIA GPU with ``jax[cuda]``, TPU):

    kernel-sd bench gpu --out figures --budget-s 420
    kernel-sd bench gpu --quick --out /tmp/x          # tiny sizes, any machine (tests)

From a checkout without installing (jax with CUDA already there)::

    XLA_PYTHON_CLIENT_MEM_FRACTION=0.92 PYTHONPATH=. \\
        python3 -m experiments.benchmarks gpu --out results --budget-s 420

It writes ``bench_gpu_<device>.json`` after EVERY point, so a run stopped by a time
limit keeps what it measured:

0. **check** (accelerators; with ``--quick`` also on a CPU, where it only runs
   the code path): a 10-round constrained trace at n = 1024 on the
   exact path, and a Nyström spectrum (n = 4096, m = 256, uniform landmarks,
   ``"gram"`` and ``"factor"``) with its trace, on the accelerator and on the CPU
   in float64: ``max |Δc|/c`` and ``max |Δf|/max|f|`` must be at most 1e-10, else
   the script stops (a wrong fast result is worse than none).
1. **exact, float64** then **float32**: Gram + ``eigh`` + 10 rounds for n = 2048,
   4096, … while ~4 n² numbers fit in the device memory
   (``memory_stats()["bytes_limit"]``) and the predicted time (previous × 8:
   ``eigh`` is O(n³)) fits in what is left of ``--budget-s``. Each point is a
   first call (compilation included), plus a warm call when that is cheap (under 5 %
   of the budget). float32 points report ``max |Δc|/c`` against float64.
2. **Nyström**, float64, m = 4000, implicit eigenvectors, at n = 10⁵ and 10⁶ (the
   larger only if predicted, linearly in n, to fit): the default route
   (randomly pivoted landmarks, ``accumulate="auto"``), and uniform landmarks with
   ``"gram"`` and with ``"factor"``, whose ``c_t`` are compared.

The problem is the one of ``bench_scale.py`` (p = 10, Matérn 3/2, ℓ = 1,
ε = 0.05·‖y‖²/n). On a CPU, without ``--quick``, the sizes are accelerator sizes
(hours here): the script refuses unless ``--allow-cpu`` is given.
"""

from __future__ import annotations

import contextlib
import re
import time
import warnings

import jax
import numpy as np

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from experiments.benchmarks.bench_scale import EPS_FRACTION, ROUNDS, kernel, problem
from kernel_sd import results

CHECK_TOL = 1e-10
CHECK_N, CHECK_NYSTROM = 1024, (4096, 256)  # exact n; Nyström (n, m)
QUICK_CHECK_N, QUICK_CHECK_NYSTROM = 128, (600, 400)  # the --quick sizes below
LOW_RANK_EPS_MARGIN = 1.5
WARM_FRACTION = 0.05  # a warm second call when the first took under this share of the budget


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0


def _trace(spec, X, y, eps):
    return ksd.self_distill(kernel(), X, y, eps=eps, rounds=ROUNDS, spectrum=spec)


def _device_bytes(device) -> float | None:
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - some backends do not implement it
        return None
    return stats.get("bytes_limit")


def _feasible_eps(spec, y, eps: float) -> float:
    """``ε``, raised to 1.5 × the targets' energy outside ``span V`` when below it.

    A low-rank spectrum leaves ``(1/K)‖y − V Vᵀ y‖²`` that no multiplier can
    fit; the constrained form needs ``ε`` above it (as the Lanczos points of
    ``bench_scale.py``). One pass over ``X`` for implicit eigenvectors.
    """
    y_h = np.asarray(y)
    outside = (float(y_h @ y_h) - float(np.sum(np.asarray(spec.eigvecs.T @ y) ** 2)))
    return max(eps, LOW_RANK_EPS_MARGIN * outside / y_h.shape[0])


def _rel_dc(c_a, c_b) -> float:
    """Largest relative difference of two multiplier sequences (inf where they collapse)."""
    c_a, c_b = np.asarray(c_a, np.float64), np.asarray(c_b, np.float64)
    if not np.array_equal(np.isfinite(c_a), np.isfinite(c_b)):
        return float("inf")
    live = np.isfinite(c_b)
    return float(np.max(np.abs(c_a[live] - c_b[live]) / c_b[live])) if live.any() else 0.0


def _rel_df(f_a, f_b) -> float:
    f_a, f_b = np.asarray(f_a), np.asarray(f_b)
    return float(np.max(np.abs(f_a - f_b)) / max(np.max(np.abs(f_b)), 1e-300))


def check_point(device, seed: int, n_exact: int = CHECK_N,
                nystrom: tuple[int, int] = CHECK_NYSTROM) -> dict:  # fmt: skip
    """The same float64 traces on ``device`` and on the CPU (exact and Nyström)."""
    cpu = jax.devices("cpu")[0]
    runs: dict[str, dict] = {}
    for name, dev in (("device", device), ("cpu", cpu)):
        # Programs compiled under a default-device context are not reused outside
        # it: only the CPU run on an accelerator machine needs one.
        default = dev == jax.devices()[0]
        with contextlib.nullcontext() if default else jax.default_device(dev):
            X, y, eps = problem(n_exact, seed)
            X, y = jax.device_put(X, dev), jax.device_put(y, dev)
            tr = _trace(ksd.spectrum(kernel(), X), X, y, eps)
            runs[name] = {"exact": (np.asarray(tr.c), np.asarray(tr.train_pred))}
            n, m = nystrom
            X, y, eps = problem(n, seed)
            X, y = jax.device_put(X, dev), jax.device_put(y, dev)
            for acc in ("gram", "factor"):
                spec = ksd.nystrom_spectrum(kernel(), X, m=m, landmarks="uniform",
                                            accumulate=acc, vectors="implicit",
                                            seed=seed)  # fmt: skip
                if acc == "gram":  # the same ε for both routes and both devices
                    eps = _feasible_eps(spec, y, eps)
                tr = _trace(spec, X, y, eps)
                runs[name][acc] = (np.asarray(tr.c), np.asarray(tr.train_pred))
    dc = max(_rel_dc(runs["device"][k][0], runs["cpu"][k][0]) for k in runs["cpu"])
    df = max(_rel_df(runs["device"][k][1], runs["cpu"][k][1]) for k in runs["cpu"])
    return {"path": "check", "device": f"{device.platform}:{device.device_kind}",
            "n": n_exact, "nystrom": list(nystrom), "max_rel_dc": dc, "max_rel_dpred": df,
            "ok": bool(dc <= CHECK_TOL and df <= CHECK_TOL)}  # fmt: skip


def exact_point(n: int, dtype, seed: int, warm: bool) -> dict:
    X, y, eps = problem(n, seed)
    X = jax.device_put(X.astype(dtype))
    y = jax.device_put(y.astype(dtype))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec, t_spec = _timed(lambda: ksd.spectrum(kernel(), X, max_memory_gb=1e6))
        tr, t_rounds = _timed(lambda: _trace(spec, X, y, eps))
        rec = {"path": "exact", "dtype": np.dtype(dtype).name, "n": n,
               "spectrum_s": t_spec, "rounds_s": t_rounds, "total_s": t_spec + t_rounds}  # fmt: skip
        if warm:
            del spec, tr
            spec, w_spec = _timed(lambda: ksd.spectrum(kernel(), X, max_memory_gb=1e6))
            tr, w_rounds = _timed(lambda: _trace(spec, X, y, eps))
            rec.update(warm_spectrum_s=w_spec, warm_rounds_s=w_rounds)
    rec.update(rank=int(spec.rank), c=np.asarray(tr.c, np.float64).tolist(),
               warnings=sorted({str(w.message).split(";")[0] for w in caught}))  # fmt: skip
    return rec


def nystrom_point(n: int, m: int, route: tuple[str, str], seed: int) -> dict:
    landmarks, accumulate = route
    X, y, eps = problem(n, seed)
    X, y = jax.device_put(X), jax.device_put(y)
    spec, t_spec = _timed(lambda: ksd.nystrom_spectrum(
        kernel(), X, m=m, landmarks=landmarks, accumulate=accumulate,
        vectors="implicit", seed=seed))  # fmt: skip
    eps = _feasible_eps(spec, y, eps)  # untimed
    tr, t_rounds = _timed(lambda: _trace(spec, X, y, eps))
    return {"path": "nystrom", "dtype": "float64", "n": n, "m": m,
            "landmarks": landmarks, "accumulate": accumulate,
            "spectrum_s": t_spec, "rounds_s": t_rounds, "total_s": t_spec + t_rounds,
            "rank": int(spec.rank), "truncation": float(spec.truncation),
            "noise_floor_rel": float(spec.noise_floor / spec.eigvals[0]),
            "c": np.asarray(tr.c).tolist(), "eps": eps, "warnings": []}  # fmt: skip


def _row(p) -> str:
    if p["path"] == "check":
        return (f"   check  {p['device']} vs CPU, float64: max |dc|/c {p['max_rel_dc']:.1e}, "
                f"max |df|/|f| {p['max_rel_dpred']:.1e}  {'ok' if p['ok'] else 'FAILED'}")  # fmt: skip
    if p["path"] == "exact":
        warm = (f"  warm {p['warm_spectrum_s']:.2f} + {p['warm_rounds_s']:.2f} s"
                if "warm_spectrum_s" in p else "")  # fmt: skip
        extra = (f"  |dc|/c vs float64 {p['max_rel_dc_vs_float64']:.1e}"
                 if "max_rel_dc_vs_float64" in p else "")  # fmt: skip
        return (f"   exact {p['dtype']:>8} n = {p['n']:>7}  first {p['spectrum_s']:8.2f} + "
                f"{p['rounds_s']:.2f} s{warm}  rank {p['rank']}{extra}"
                + (f"  [{'; '.join(p['warnings'])}]" if p["warnings"] else ""))  # fmt: skip
    extra = (f"  |dc|/c vs the other route {p['max_rel_dc_vs_other_route']:.1e}"
             if "max_rel_dc_vs_other_route" in p else "")  # fmt: skip
    return (f" nystrom  float64 n = {p['n']:>7} m = {p['m']} {p['landmarks']:>10}/"
            f"{p['accumulate']:<6}  spectrum {p['spectrum_s']:7.2f} s  rounds "
            f"{p['rounds_s']:6.2f} s  truncation {p['truncation']:.3f}{extra}")  # fmt: skip


@benchmark(
    "gpu",
    help="on one accelerator: a CPU cross-check, the exact path (float64, float32) to "
    "the largest n that fits the memory and --budget-s, and the Nyström path at "
    "n = 10^5, 10^6 (bench_gpu.py)",
    options=[
        Option("--max-n", 1 << 17, {"type": int, "help": "cap of the exact n"}),
        Option("--m", 4000, {"type": int, "help": "Nyström landmarks"}),
        Option("--seed", 0, {"type": int, "help": "random seed"}),
        Option("--budget-s", 420.0, {"type": float,
               "help": "wall-clock budget; sizes predicted to overrun it are skipped"}),
        Option("--allow-cpu", False, {"action": "store_true",
               "help": "run the accelerator sizes on a CPU"}),
    ],
)  # fmt: skip
def run(args) -> int:
    start = time.perf_counter()

    def left() -> float:
        return args.budget_s - (time.perf_counter() - start)

    device = jax.devices()[0]
    name = f"{device.platform}:{device.device_kind}"
    if device.platform == "cpu" and not (args.quick or args.allow_cpu):
        raise ValueError(
            "the default JAX device is the CPU: this benchmark's sizes are for an "
            "accelerator and would take hours here. Use --quick (seconds), or "
            "--allow-cpu with --budget-s."
        )
    limit = _device_bytes(device)
    print(f"# device: {name}, {len(jax.devices())} device(s), memory "
          f"{'unknown' if limit is None else f'{limit / 2**30:.1f} GiB'}; jax "
          f"{jax.__version__}; budget {args.budget_s:.0f} s", flush=True)  # fmt: skip
    sizes = [128] if args.quick else [2048 * 2**i for i in range(8)]
    lowrank = [600] if args.quick else [100_000, 1_000_000]
    m = 400 if args.quick else args.m
    routes = ([("uniform", "gram"), ("uniform", "factor")] if args.quick else
              [("rpcholesky", "auto"), ("uniform", "gram"), ("uniform", "factor")])  # fmt: skip
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    points: list[dict] = []

    def record(p):
        points.append(p)
        print(_row(p), flush=True)
        results.write(
            args.out, f"bench_gpu_{slug}",
            params={"sizes": sizes, "lowrank": lowrank, "m": m, "routes": routes,
                    "max_n": args.max_n, "budget_s": args.budget_s,
                    "eps_fraction": EPS_FRACTION, "rounds": ROUNDS, "quick": args.quick},
            numbers={"device": name, "device_count": len(jax.devices()),
                     "memory_bytes": limit, "points": points},
            seed=args.seed,
        )  # fmt: skip

    if device.platform != "cpu" or args.quick:  # on a CPU: the code path only
        sizes_check = (QUICK_CHECK_N, QUICK_CHECK_NYSTROM) if args.quick else ()
        chk = check_point(device, args.seed, *sizes_check)
        record(chk)
        if not chk["ok"]:
            print("accelerator results differ from the CPU's beyond 1e-10: stopping.")
            return 1

    for dtype in (np.float64, np.float32):
        last = None  # (n, seconds) of the previous size
        for n in sizes:
            need = 4.0 * n * n * np.dtype(dtype).itemsize  # Gram, vectors, workspace
            if n > args.max_n or (limit is not None and need > limit):
                break
            predicted = 0.0 if last is None else last[1] * (n / last[0]) ** 3
            if predicted > left():
                print(f"   exact {np.dtype(dtype).name} n = {n}: predicted {predicted:.0f} s "
                      f"> {left():.0f} s left; stopping this sweep", flush=True)  # fmt: skip
                break
            try:
                p = exact_point(n, dtype, args.seed,
                                warm=predicted < WARM_FRACTION * args.budget_s)  # fmt: skip
            except Exception as err:  # noqa: BLE001 - out of device memory ends the sweep
                if "RESOURCE_EXHAUSTED" not in str(err) and "memory" not in str(err).lower():
                    raise
                print(f"   exact {np.dtype(dtype).name} n = {n}: out of memory; stopping",
                      flush=True)  # fmt: skip
                break
            ref = next((q for q in points if q["path"] == "exact" and q["n"] == n
                        and q["dtype"] == "float64"), None)  # fmt: skip
            if dtype == np.float32 and ref is not None:
                p["max_rel_dc_vs_float64"] = _rel_dc(p["c"], ref["c"])
            record(p)
            last = (n, p["total_s"])

    per_point = 0.0  # seconds per row of the slowest Nyström point so far
    for n in lowrank:
        for route in routes:
            predicted = per_point * n
            if predicted > left():
                print(f" nystrom n = {n} {'/'.join(route)}: predicted {predicted:.0f} s > "
                      f"{left():.0f} s left; skipped", flush=True)  # fmt: skip
                continue
            p = nystrom_point(n, min(m, n), route, args.seed)
            other = next((q for q in points if q["path"] == "nystrom" and q["n"] == n
                          and q["landmarks"] == "uniform" and route[0] == "uniform"
                          and q["accumulate"] != route[1]), None)  # fmt: skip
            if other is not None:
                p["max_rel_dc_vs_other_route"] = _rel_dc(p["c"], other["c"])
            record(p)
            per_point = max(per_point, p["total_s"] / n)
    print(f"# done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0
