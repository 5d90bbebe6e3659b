"""Benchmark: time and peak memory of a 10-round constrained trace, from n = 10³ to 10⁶.

One *point* is one problem size on one path, run in its own process so that its
peak resident memory is its own:

- ``exact``: ``spectrum`` (Gram matrix + ``eigh``) and the rounds;
- ``nystrom``: ``nystrom_spectrum`` with ``m`` landmarks and the rounds;
- ``lanczos``: ``lanczos_spectrum`` (matrix-free top-``k``) and the rounds.

Usage::

    kernel-sd bench million --out figures
    kernel-sd bench scale --out figures
    kernel-sd bench point --path nystrom --n 100000 --m 1000
    kernel-sd bench scale --quick --out /tmp/x       # seconds
    kernel-sd bench scale --redraw --out figures     # redraw the figure, print the table

(``python -m experiments.benchmarks`` is the same program.) ``million`` is the
10⁶-point trace (p = 10, m = 4000, the default route: randomly pivoted
landmarks, ``accumulate="auto"``, implicit eigenvectors; ``--m 8000`` writes
``bench_million_m8000.json``); ``scale`` runs every point of the n grid in a subprocess,
writes ``bench_scale.json`` and draws ``bench_scale.png`` (with the ``million``
point when its JSON is in ``--out``).

The problem: ``X`` uniform on ``[−1, 1]^10``, ``y = sin(2 x₁) + x₂ x₃ + 0.1·noise``,
Matérn 3/2 kernel with ℓ = 1, ``ε = 0.05 · ‖y‖²/n``, T = 10 rounds. Timings are
first calls (compilation included), as a user runs them; float64 throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

import kernel_sd as ksd
from experiments.benchmarks import Option, benchmark
from kernel_sd import results

P = 10  # input dimension
ROUNDS = 10  # T
NOISE = 0.1  # label noise std
EPS_FRACTION = 0.05  # ε = EPS_FRACTION · ‖y‖²/n: rounds stay active to ~round 5
NU, LENGTHSCALE = 1.5, 1.0  # Matérn kernel
GOAL_SECONDS, GOAL_GIB = 600.0, 6.0  # the 10⁶-point goal: 10 minutes, 6 GiB

EXACT_N = (1000, 2000, 4000, 8000)
NYSTROM_N = (1000, 10_000, 100_000, 1_000_000)
LANCZOS_N = (1000, 4000, 16_000, 32_000)
CURVE_M, CURVE_K = 1000, 50  # landmarks and Lanczos eigenpairs along the curve
LANCZOS_EPS_MARGIN = 1.5  # Lanczos points: ε at least 1.5 × the energy outside span V_k
MILLION = {"path": "nystrom", "n": 1_000_000, "m": 4000, "landmarks": "rpcholesky",
           "accumulate": "auto"}  # fmt: skip  # the defaults of nystrom_spectrum


def kernel():
    return ksd.kernels.Matern(nu=NU, lengthscale=LENGTHSCALE)


def problem(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2] + NOISE * rng.standard_normal(n)
    return X, y, EPS_FRACTION * float(y @ y) / n


def run_point(path: str, n: int, *, m: int, k: int, landmarks: str, accumulate: str,
              seed: int) -> dict:  # fmt: skip
    """Time one trace in this process; return its numbers (peak memory included)."""
    X, y, eps = problem(n, seed)
    kern = kernel()
    load = os.getloadavg()[0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    if path == "exact":
        spec = ksd.spectrum(kern, X, max_memory_gb=64.0)
    elif path == "nystrom":
        spec = ksd.nystrom_spectrum(
            kern, X, m=min(m, n), landmarks=landmarks, accumulate=accumulate,
            seed=seed,
        )  # fmt: skip
    else:
        spec = ksd.lanczos_spectrum(kern, X, k=k, seed=seed)
    jax.block_until_ready(spec.eigvals)
    t_spec = time.perf_counter() - t0
    if path == "lanczos":
        # The top k of G leaves (1/K)‖y − V Vᵀy‖² outside its span: ε must exceed it.
        outside = float(y @ y - np.sum(np.asarray(spec.eigvecs.T @ y) ** 2)) / n
        eps = max(eps, LANCZOS_EPS_MARGIN * outside)
    t0 = time.perf_counter()
    tr = ksd.self_distill(kern, X, y, eps=eps, rounds=ROUNDS, spectrum=spec)
    jax.block_until_ready(tr.train_pred)
    t_rounds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    cpu_s = time.process_time() - c0
    truncation = None if spec.truncation is None else float(spec.truncation)
    return {
        "path": path, "n": n, "m": min(m, n) if path == "nystrom" else None,
        "k": k if path == "lanczos" else None,
        "landmarks": landmarks if path == "nystrom" else None,
        "accumulate": accumulate if path == "nystrom" else None,
        "spectrum_s": t_spec, "rounds_s": t_rounds, "total_s": t_spec + t_rounds,
        "peak_gib": peak, "rank": int(spec.rank),
        "noise_floor_rel": float(spec.noise_floor / spec.eigvals[0]),
        "truncation": truncation,
        "captured": None if truncation is None else 1.0 - truncation,
        "cpu_s": cpu_s, "load_average": [load, os.getloadavg()[0]],
        "collapse_round": tr.collapse_round, "c": np.asarray(tr.c).tolist(), "eps": eps,
        "implicit_vectors": not isinstance(spec.eigvecs, jax.Array),
    }  # fmt: skip


def header() -> str:
    return (f"# machine: {platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__} "
            f"on {jax.devices()[0].device_kind}; float64\n"
            f"# Matern(nu=1.5, lengthscale=1.0), p = {P}, T = {ROUNDS}, "
            f"eps = {EPS_FRACTION}·|y|^2/n")  # fmt: skip


def table(points) -> str:
    rows = [f"{'path':>8} {'n':>9} {'m/k':>6} {'spectrum s':>11} {'rounds s':>9} "
            f"{'total s':>8} {'peak GiB':>9} {'rank':>6} {'collapse':>9}"]  # fmt: skip
    for p in points:
        size = p["m"] or p["k"] or ""
        rows.append(f"{p['path']:>8} {p['n']:>9} {size:>6} {p['spectrum_s']:>11.1f} "
                    f"{p['rounds_s']:>9.1f} {p['total_s']:>8.1f} {p['peak_gib']:>9.2f} "
                    f"{p['rank']:>6} {p['collapse_round']:>9}")  # fmt: skip
    return "\n".join(rows)


def point_in_subprocess(path: str, n: int, args) -> dict:
    """Run one point in a fresh interpreter (its own peak memory)."""
    root = str(pathlib.Path(__file__).resolve().parents[2])  # holds experiments/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "point.json"
        cmd = [sys.executable, "-m", "experiments.benchmarks", "point", "--path", path,
               "--n", str(n), "--m", str(args.m), "--k", str(args.k), "--seed",
               str(args.seed), "--json", str(out), "--out", tmp]  # fmt: skip
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=root)  # fmt: skip
        if proc.returncode:
            print(f"  failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            return None
        return json.loads(out.read_text())


def figure(points, million):
    from matplotlib.ticker import FormatStrFormatter

    from kernel_sd import plotting

    fig, axes = plotting.new_figure(2, 1, width=3.6, height=2.9)
    labels = {"exact": "exact (Gram + eigh)",
              "nystrom": f"Nyström, m = {CURVE_M}",
              "lanczos": f"Lanczos, top k = {CURVE_K}"}  # fmt: skip
    markers = {"exact": "o", "nystrom": "s", "lanczos": "^"}
    panels = ((axes[0, 0], "total_s", "time (s)", "wall time, first call"),
              (axes[0, 1], "peak_gib", "peak memory (GiB)", "peak resident memory"))  # fmt: skip
    for ax, key, unit, title in panels:
        for path in ("exact", "nystrom", "lanczos"):
            pts = [p for p in points if p["path"] == path]
            if pts:
                ax.plot([p["n"] for p in pts], [p[key] for p in pts],
                        marker=markers[path], label=labels[path])  # fmt: skip
        if million is not None:
            ax.plot([million["n"]], [million[key]], marker="*", markersize=11,
                    linestyle="none", color="black",
                    label=f"Nyström, m = {million['m']} (default route)")  # fmt: skip
        goal = GOAL_SECONDS if key == "total_s" else GOAL_GIB
        ax.axhline(goal, color="0.5", linestyle=":", linewidth=1)
        ax.annotate("goal at n = 10⁶", (1.0, goal), xycoords=("axes fraction", "data"),
                    xytext=(-2, -3), textcoords="offset points", ha="right", va="top",
                    fontsize=7, color="0.4")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="n (training points)", ylabel=unit)
        ax.set_title(title, fontsize=9)
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter(""))
    axes[0, 1].set_yticks([0.5, 1, 2, 3, 6])
    big = [p for p in points if p["path"] == "nystrom" and p["implicit_vectors"]]
    if big:
        axes[0, 1].annotate("eigenvectors implicit\n(V stored up to 1 GiB)",
                            (big[0]["n"], big[0]["peak_gib"]), xytext=(-4, -22),
                            textcoords="offset points", ha="right", fontsize=7,
                            color="0.3")  # fmt: skip
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"10-round constrained trace, p = {P}, Matérn 3/2 (2-core CPU, float64)",
                 fontsize=10)  # fmt: skip
    return fig


_SEED = Option("--seed", 0, {"type": int, "help": "random seed"})
_M = Option("--m", CURVE_M, {"type": int, "help": "Nyström landmarks"})
_K = Option("--k", CURVE_K, {"type": int, "help": "Lanczos eigenpairs"})


@benchmark(
    "point",
    help="one problem size on one path, in this process (bench_scale.py)",
    options=[
        Option("--path", "nystrom", {"choices": ("exact", "nystrom", "lanczos"),
               "help": "spectrum path"}),
        Option("--n", 100_000, {"type": int, "help": "training points"}),
        _M, _K, _SEED,
        Option("--landmarks", "uniform", {"choices": ksd.spectra.LANDMARK_METHODS,
               "help": "landmark choice"}),
        Option("--accumulate", "factor", {"choices": ksd.spectra.ACCUMULATE_METHODS,
               "help": "Nyström accumulation"}),
        Option("--json", None, {"help": argparse.SUPPRESS}),
    ],
)  # fmt: skip
def point(args) -> int:
    kw = dict(path=args.path, n=args.n, landmarks=args.landmarks,
              accumulate=args.accumulate)  # fmt: skip
    res = run_point(m=args.m, k=args.k, seed=args.seed, **kw)
    if args.json:  # a point of the `scale` curve, run in its own process
        pathlib.Path(args.json).write_text(json.dumps(res))
        return 0
    print(header())
    print(table([res]))
    results.write(args.out, f"bench_{res['path']}_n{res['n']}",
                  params=kw | {"m": args.m, "k": args.k}, numbers=res, seed=args.seed)  # fmt: skip
    return 0


@benchmark("million", help="the n = 10^6, m = 4000 trace on the default route "
           "(bench_scale.py)",
           options=[_SEED, Option("--m", MILLION["m"], {"type": int,
                    "help": "landmarks (other than 4000: bench_million_m<m>.json)"})])  # fmt: skip
def million(args) -> int:
    kw = dict(MILLION, n=20_000, m=1000) if args.quick else dict(MILLION, m=args.m)
    m = kw.pop("m")
    res = run_point(m=m, k=CURVE_K, seed=args.seed, **kw)
    print(header())
    print(table([res]))
    print(f"captured share of tr G: {res['captured']:.3f}; CPU {res['cpu_s']:.0f} s; "
          f"load average {res['load_average'][0]:.1f} -> {res['load_average'][1]:.1f}")
    name = "bench_million" if m == MILLION["m"] or args.quick else f"bench_million_m{m}"
    results.write(args.out, name, params=kw | {"m": m, "k": CURVE_K},
                  numbers=res, seed=args.seed)  # fmt: skip
    return 0


@benchmark(
    "scale",
    help="time and peak memory of a 10-round trace from n = 10^3 to 10^6, exact, "
    "Nyström and Lanczos paths, with a figure (bench_scale.py)",
    options=[
        _M, _K, _SEED,
        Option("--paths", None, {"nargs": "+", "choices": ("exact", "nystrom", "lanczos"),
               "help": "run only these paths (the others are kept from --out)"}),
        Option("--redraw", False, {"action": "store_true",
               "help": "only redraw the figure and print the table from --out"}),
    ],
)  # fmt: skip
def scale(args) -> int:
    out = pathlib.Path(args.out)
    million = results.load(out, "bench_million")
    million = None if million is None else million.numbers
    if args.redraw:
        stored = results.load(out, "bench_scale")
        if stored is None:
            raise ValueError(f"--redraw: no bench_scale record in {out}; run it first.")
        _draw(out, stored.numbers["points"], million)
        return 0
    grids = {"exact": EXACT_N, "nystrom": NYSTROM_N, "lanczos": LANCZOS_N}
    if args.quick:
        grids = {"exact": (300, 600), "nystrom": (300, 3000), "lanczos": (300, 600)}
        args.m, args.k = min(args.m, 100), min(args.k, 10)
    if args.paths:
        grids = {p: grids[p] for p in args.paths}
    stored = results.load(out, "bench_scale")
    # Points of paths not run now are kept from the stored curve.
    points = [] if stored is None else [
        p for p in stored.numbers["points"] if p["path"] not in grids]  # fmt: skip
    for path, sizes in grids.items():
        for n in sizes:
            print(f"{path} n = {n} ...", flush=True)
            res = point_in_subprocess(path, n, args)
            if res is not None:
                points.append(res)
    points.sort(
        key=lambda p: (("exact", "nystrom", "lanczos").index(p["path"]), p["n"])
    )
    results.write(out, "bench_scale", params={"m": args.m, "k": args.k},
                  numbers={"points": points}, seed=args.seed)  # fmt: skip
    _draw(out, points, million)
    return 0


def _draw(out: pathlib.Path, points, million) -> None:
    from kernel_sd import plotting

    plotting.save(figure(points, million), out / "bench_scale.png", pdf=True)
    print(header())
    print(table(points + ([million] if million else [])))
    print(f"wrote {out / 'bench_scale.png'}")
