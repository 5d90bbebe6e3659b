"""Benchmark: time and peak memory of a 10-round constrained trace, from n = 10³ to 10⁶.

One *point* is one problem size on one path, run in its own process so that its
peak resident memory is its own:

- ``exact``: ``spectrum`` (Gram matrix + ``eigh``) and the rounds;
- ``nystrom``: ``nystrom_spectrum`` with ``m`` landmarks and the rounds;
- ``lanczos``: ``lanczos_spectrum`` (matrix-free top-``k``) and the rounds.

Usage::

    python experiments/benchmarks/bench_scale.py million --out figures
    python experiments/benchmarks/bench_scale.py curve --out figures
    python experiments/benchmarks/bench_scale.py point --path nystrom --n 100000 --m 1000
    python experiments/benchmarks/bench_scale.py curve --quick --out /tmp/x   # seconds
    python experiments/benchmarks/bench_scale.py plot --out figures  # redraw, table

``million`` is the 10⁶-point trace (p = 10, m = 4000 uniform landmarks, the
``"gram"`` accumulation, implicit eigenvectors); ``curve`` runs every point of
the n grid in a subprocess, writes ``bench_scale.json`` and draws
``bench_scale.png`` (with the ``million`` point when its JSON is in ``--out``).

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

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import kernel_sd as ksd  # noqa: E402
from kernel_sd import plotting, results  # noqa: E402

P = 10  # input dimension
ROUNDS = 10  # T
NOISE = 0.1  # label noise std
EPS_FRACTION = 0.05  # ε = EPS_FRACTION · ‖y‖²/n: rounds stay active to ~round 5
KERNEL = ksd.kernels.Matern(nu=1.5, lengthscale=1.0)
GOAL_SECONDS, GOAL_GIB = 600.0, 6.0  # the 10⁶-point goal: 10 minutes, 6 GiB

EXACT_N = (1000, 2000, 4000, 8000)
NYSTROM_N = (1000, 10_000, 100_000, 1_000_000)
LANCZOS_N = (1000, 4000, 16_000, 32_000)
CURVE_M, CURVE_K = 1000, 50  # landmarks and Lanczos eigenpairs along the curve
LANCZOS_EPS_MARGIN = 1.5  # Lanczos points: ε at least 1.5 × the energy outside span V_k
MILLION = {"path": "nystrom", "n": 1_000_000, "m": 4000, "landmarks": "uniform",
           "accumulate": "gram"}  # fmt: skip


def problem(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, P))
    y = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2] + NOISE * rng.standard_normal(n)
    return X, y, EPS_FRACTION * float(y @ y) / n


def run_point(path: str, n: int, *, m: int, k: int, landmarks: str, accumulate: str,
              seed: int) -> dict:  # fmt: skip
    """Time one trace in this process; return its numbers (peak memory included)."""
    X, y, eps = problem(n, seed)
    t0 = time.perf_counter()
    if path == "exact":
        spec = ksd.spectrum(KERNEL, X, max_memory_gb=64.0)
    elif path == "nystrom":
        spec = ksd.nystrom_spectrum(
            KERNEL, X, m=min(m, n), landmarks=landmarks, accumulate=accumulate,
            seed=seed,
        )  # fmt: skip
    else:
        spec = ksd.lanczos_spectrum(KERNEL, X, k=k, seed=seed)
    jax.block_until_ready(spec.eigvals)
    t_spec = time.perf_counter() - t0
    if path == "lanczos":
        # The top k of G leaves (1/K)‖y − V Vᵀy‖² outside its span: ε must exceed it.
        outside = float(y @ y - np.sum(np.asarray(spec.eigvecs.T @ y) ** 2)) / n
        eps = max(eps, LANCZOS_EPS_MARGIN * outside)
    t0 = time.perf_counter()
    tr = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=ROUNDS, spectrum=spec)
    jax.block_until_ready(tr.train_pred)
    t_rounds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return {
        "path": path, "n": n, "m": min(m, n) if path == "nystrom" else None,
        "k": k if path == "lanczos" else None,
        "landmarks": landmarks if path == "nystrom" else None,
        "accumulate": accumulate if path == "nystrom" else None,
        "spectrum_s": t_spec, "rounds_s": t_rounds, "total_s": t_spec + t_rounds,
        "peak_gib": peak, "rank": int(spec.rank),
        "noise_floor_rel": float(spec.noise_floor / spec.eigvals[0]),
        "truncation": None if spec.truncation is None else float(spec.truncation),
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
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "point.json"
        cmd = [sys.executable, __file__, "point", "--path", path, "--n", str(n),
               "--m", str(args.m), "--k", str(args.k), "--seed", str(args.seed),
               "--json", str(out)]  # fmt: skip
        proc = subprocess.run(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if proc.returncode:
            print(f"  failed: {proc.stderr.strip().splitlines()[-1]}")
            return None
        return json.loads(out.read_text())


def figure(points, million):
    from matplotlib.ticker import FormatStrFormatter

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
                    label=f"Nyström, m = {million['m']} ('gram')")  # fmt: skip
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("point", "curve", "million", "plot"))
    parser.add_argument(
        "--path", choices=("exact", "nystrom", "lanczos"), default="nystrom"
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=CURVE_M, help="Nyström landmarks")
    parser.add_argument("--k", type=int, default=CURVE_K, help="Lanczos eigenpairs")
    parser.add_argument(
        "--landmarks", choices=ksd.spectral.LANDMARK_METHODS, default="uniform"
    )
    parser.add_argument("--accumulate", choices=ksd.spectral.ACCUMULATE_METHODS,
                        default="factor")  # fmt: skip
    parser.add_argument("--paths", nargs="+", choices=("exact", "nystrom", "lanczos"),
                        help="curve: run only these paths (others kept from --out)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="write results (and figure) here")
    args = parser.parse_args(argv)

    if args.what in ("point", "million"):
        kw = dict(path=args.path, n=args.n, landmarks=args.landmarks,
                  accumulate=args.accumulate)  # fmt: skip
        if args.what == "million":
            kw = dict(MILLION, n=20_000, m=500) if args.quick else dict(MILLION)
        m = kw.pop("m", args.m)
        res = run_point(m=m, k=args.k, seed=args.seed, **kw)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(res))
            return 0
        print(header())
        print(table([res]))
        if args.out:
            name = (
                "bench_million"
                if args.what == "million"
                else f"bench_{res['path']}_n{res['n']}"
            )
            results.write(args.out, name, params=kw | {"m": m, "k": args.k}, numbers=res,
                          seed=args.seed)  # fmt: skip
        return 0

    if args.what == "plot":  # redraw from the stored results
        out = pathlib.Path(args.out or "figures")
        stored, million = (
            results.load(out, "bench_scale"),
            results.load(out, "bench_million"),
        )
        fig = figure(stored.numbers["points"], million and million.numbers)
        plotting.save(fig, out / "bench_scale.png", pdf=True)
        print(header())
        print(table(stored.numbers["points"] + ([million.numbers] if million else [])))
        return 0

    grids = {"exact": EXACT_N, "nystrom": NYSTROM_N, "lanczos": LANCZOS_N}
    if args.quick:
        grids = {"exact": (300, 600), "nystrom": (300, 3000), "lanczos": (300, 600)}
        args.m, args.k = min(args.m, 100), min(args.k, 10)
    if args.paths:
        grids = {p: grids[p] for p in args.paths}
    out = None if args.out is None else pathlib.Path(args.out)
    stored = None if out is None else results.load(out, "bench_scale")
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
    print(header())
    print(table(points))
    if out is not None:
        million = results.load(out, "bench_million")
        million = None if million is None else million.numbers
        results.write(out, "bench_scale", params={"m": args.m, "k": args.k},
                      numbers={"points": points}, seed=args.seed)  # fmt: skip
        plotting.save(figure(points, million), out / "bench_scale.png", pdf=True)
        print(f"wrote {out / 'bench_scale.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
