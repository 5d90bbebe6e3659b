"""Benchmark on an accelerator: exact eigh path to the largest n that fits, and the low-rank path.

Runs unchanged on any JAX backend (NVIDIA GPU with ``jax[cuda]``, TPU, or CPU):

    kernel-sd bench gpu --out figures
    kernel-sd bench gpu --quick          # tiny sizes, any machine

1. **Exact path**, float64 and float32: the Gram matrix, ``eigh`` and a 10-round
   constrained trace for n = 2048, 4096, 8192, ... until the next size would not
   fit in the device's memory (from ``device.memory_stats()``; ``--max-n`` caps
   it) or the device runs out of memory. Each size is timed twice; the second,
   warm call is reported (compilation is reported separately).
2. **Low-rank path**, float64: ``nystrom_spectrum`` (uniform landmarks, the
   ``"gram"`` accumulation) and the trace at n = 10⁵ and 10⁶, m = 4000.

The table is printed and written to ``<out>/bench_gpu_<device>.json``
with the device name. The problem is the one of ``bench_scale.py`` (p = 10,
Matérn 3/2, ε = 0.05·‖y‖²/n). float32 is safe for the trace when the spectrum's
condition number over the eigenvalues the multipliers resolve stays under ~10⁴
(kernel-sd warns otherwise); the table reports the float32 − float64 difference
in ``c_t`` so the reader can judge.
"""

from __future__ import annotations

import re
import time
import warnings

import jax
import numpy as np

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from experiments.benchmarks.bench_scale import EPS_FRACTION, ROUNDS, kernel, problem
from kernel_sd import results


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


def exact_point(n: int, dtype, seed: int) -> dict:
    X, y, eps = problem(n, seed)
    X = jax.device_put(X.astype(dtype))
    y = jax.device_put(y.astype(dtype))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec, cold = _timed(lambda: ksd.spectrum(kernel(), X, max_memory_gb=1e6))
        spec, t_spec = _timed(lambda: ksd.spectrum(kernel(), X, max_memory_gb=1e6))
        _trace(spec, X, y, eps)  # compile
        tr, t_rounds = _timed(lambda: _trace(spec, X, y, eps))
    return {
        "path": "exact", "dtype": np.dtype(dtype).name, "n": n,
        "spectrum_s": t_spec, "rounds_s": t_rounds, "compile_s": max(cold - t_spec, 0.0),
        "rank": int(spec.rank), "c": np.asarray(tr.c, np.float64).tolist(),
        "warnings": sorted({str(w.message).split(";")[0] for w in caught}),
    }  # fmt: skip


def lowrank_point(n: int, m: int, seed: int) -> dict:
    X, y, eps = problem(n, seed)

    def spectrum():
        return ksd.nystrom_spectrum(
            kernel(), X, m=m, landmarks="uniform", accumulate="gram", seed=seed
        )

    spec, t_spec = _timed(spectrum)
    tr, t_rounds = _timed(lambda: _trace(spec, X, y, eps))
    return {
        "path": "nystrom", "dtype": "float64", "n": n, "m": m,
        "spectrum_s": t_spec, "rounds_s": t_rounds, "compile_s": None,
        "rank": int(spec.rank), "c": np.asarray(tr.c).tolist(), "warnings": [],
    }  # fmt: skip


@benchmark(
    "gpu",
    help="exact eigh to the largest n that fits, float64 and float32, and the "
    "low-rank path, on whatever device JAX has (bench_gpu.py)",
    options=[
        Option("--max-n", 1 << 17, {"type": int, "help": "cap of the exact n"}),
        Option("--m", 4000, {"type": int, "help": "Nyström landmarks"}),
        Option("--seed", 0, {"type": int, "help": "random seed"}),
    ],
)  # fmt: skip
def run(args) -> int:
    device = jax.devices()[0]
    name = f"{device.platform}:{device.device_kind}"
    limit = _device_bytes(device)
    print(f"# device: {name}, {len(jax.devices())} device(s), memory "
          f"{'unknown' if limit is None else f'{limit / 2**30:.1f} GiB'}; jax {jax.__version__}")  # fmt: skip
    sizes = [128] if args.quick else [2048 * 2**i for i in range(8)]
    lowrank = [(600, 400)] if args.quick else [(100_000, args.m), (1_000_000, args.m)]

    points = []
    for dtype in (np.float64, np.float32):
        for n in sizes:
            need = 4.0 * n * n * np.dtype(dtype).itemsize  # Gram, vectors, workspace
            if n > args.max_n or (limit is not None and need > limit):
                break
            try:
                points.append(exact_point(n, dtype, args.seed))
            except Exception as err:  # noqa: BLE001 - out of device memory ends the sweep
                if (
                    "RESOURCE_EXHAUSTED" not in str(err)
                    and "memory" not in str(err).lower()
                ):
                    raise
                print(f"exact n = {n} {np.dtype(dtype).name}: out of memory, stopping")
                break
            print(_row(points[-1]), flush=True)
    for n, m in lowrank:
        points.append(lowrank_point(n, m, args.seed))
        print(_row(points[-1]), flush=True)

    by = {(p["n"], p["dtype"]): p for p in points if p["path"] == "exact"}
    for p in points:
        ref = by.get((p["n"], "float64"))
        if p["dtype"] == "float32" and ref is not None:
            c32, c64 = np.asarray(p["c"]), np.asarray(ref["c"])
            live = np.isfinite(c64) & np.isfinite(c32)
            p["max_rel_dc_vs_float64"] = float(
                np.max(np.abs(c32[live] - c64[live]) / c64[live])) if live.any() else None  # fmt: skip
            print(
                f"float32 vs float64 at n = {p['n']}: max |dc|/c = {p['max_rel_dc_vs_float64']}"
            )
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    results.write(
        args.out, f"bench_gpu_{slug}",
        params={"sizes": sizes, "lowrank": lowrank, "max_n": args.max_n,
                "eps_fraction": EPS_FRACTION, "rounds": ROUNDS},
        numbers={"device": name, "device_count": len(jax.devices()),
                 "memory_bytes": limit, "points": points},
        seed=args.seed,
    )  # fmt: skip
    return 0


def _row(p) -> str:
    size = f"m = {p['m']}" if p["path"] == "nystrom" else ""
    return (f"{p['path']:>8} {p['dtype']:>8} n = {p['n']:>8} {size:>9}  spectrum "
            f"{p['spectrum_s']:8.2f} s  rounds {p['rounds_s']:6.2f} s  rank {p['rank']}"
            + (f"  [{'; '.join(p['warnings'])}]" if p["warnings"] else ""))  # fmt: skip
