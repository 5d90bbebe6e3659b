"""Benchmark and launcher: one Nyström trace on N local processes joined by ``jax.distributed``.

``kernel-sd bench distributed --processes N`` starts N Python processes on this
machine, joins them into one JAX runtime (``jax.distributed.initialize`` with a
coordinator on a free local port, gloo collectives on CPU), and runs the
10-round constrained trace of ``bench_scale.py`` (p = 10, Matérn 3/2, ℓ = 1,
ε = 0.05·‖y‖²/n) on a global array whose rows are split over the processes:
each process generates and holds only its own ``n/N`` rows. Several counts
(``--processes 1 2``) run one after the other, and the first is the reference
of the speed-up.

    kernel-sd bench distributed --processes 1 2 --pin --n 200000 --out figures
    kernel-sd bench distributed --processes 4 --quick       # seconds

``--pin`` puts process i on core i (``taskset``) with one BLAS thread. Each
process reports, for a first call (compilation included) and a warm second call,
the wall and CPU seconds of the spectrum and of the rounds, the bytes of the
array shards it holds (``X``, ``y``, the training predictions) and its peak
resident memory. Records ``bench_distributed.json``.

The worker (``--worker``, started by the launcher) is also the template for a
user's own script: see README.md, "Many processes", for the same run on several
hosts or GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from experiments.benchmarks import Option, benchmark
from kernel_sd.spectra import LANDMARK_METHODS

CHUNK = 10_000  # rows per seeded chunk: the global data do not depend on N
P = 10
ROUNDS = 10
NOISE = 0.1
EPS_FRACTION = 0.05  # ε = 0.05·‖y‖²/n, or EPS_MARGIN × the energy outside span V
EPS_MARGIN = 1.5
QUICK = {"n": 4000, "m": 100}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_rows(lo: int, hi: int, seed: int):
    """Rows ``lo:hi`` of the global problem, generated chunk by chunk."""
    Xs, ys = [], []
    for c in range(lo // CHUNK, -(-hi // CHUNK)):
        rng = np.random.default_rng([seed, c])
        X = rng.uniform(-1.0, 1.0, size=(CHUNK, P))
        y = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2] + NOISE * rng.standard_normal(CHUNK)
        a, b = max(lo - c * CHUNK, 0), min(hi - c * CHUNK, CHUNK)
        Xs.append(X[a:b])
        ys.append(y[a:b])
    return np.concatenate(Xs), np.concatenate(ys)


def worker(args) -> int:
    """One process of the run: join, build the global arrays, time the trace."""
    import jax

    if os.environ.get("JAX_PLATFORMS", "cpu") == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.worker,
    )
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as PS

    import kernel_sd as ksd

    pid, count = jax.process_index(), jax.process_count()
    n = args.n - args.n % jax.device_count()  # rows split evenly over the devices
    per = n // count
    X_local, y_local = local_rows(pid * per, (pid + 1) * per, args.seed)
    rows = NamedSharding(Mesh(np.asarray(jax.devices()), ("rows",)), PS("rows"))
    X = jax.make_array_from_process_local_data(rows, X_local, (n, P))
    y = jax.make_array_from_process_local_data(rows, y_local, (n,))
    yy = float(multihost_utils.process_allgather(np.array([y_local @ y_local])).sum())
    eps = EPS_FRACTION * yy / n
    kernel = ksd.kernels.Matern(nu=1.5, lengthscale=1.0)

    def timed(fn):
        multihost_utils.sync_global_devices("start")
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        jax.block_until_ready(jax.tree.leaves(out))
        return out, time.perf_counter() - wall, time.process_time() - cpu

    res = {"process": pid, "processes": count, "n": n, "m": args.m,
           "landmarks": args.landmarks}
    for call in ("first", "warm"):
        spec, w_s, c_s = timed(lambda: ksd.nystrom_spectrum(
            kernel, X, m=args.m, landmarks=args.landmarks, vectors="implicit"))
        if call == "first":  # untimed: ε above the targets' energy outside span V
            outside = (yy - float(np.sum(np.asarray(spec.eigvecs.T @ y) ** 2))) / n
            eps = max(eps, EPS_MARGIN * outside)
        trace, w_r, c_r = timed(lambda s=spec, e=eps: ksd.self_distill(
            kernel, X, y, eps=e, rounds=ROUNDS, spectrum=s))
        res[call] = {"spectrum_wall_s": w_s, "spectrum_cpu_s": c_s, "rounds_wall_s": w_r,
                     "rounds_cpu_s": c_r, "total_wall_s": w_s + w_r,
                     "total_cpu_s": c_s + c_r}  # fmt: skip
    shards = [s for a in (X, y, trace.train_pred) for s in a.addressable_shards]
    res.update(
        held_mib=sum(s.data.nbytes for s in shards) / 2**20,
        peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        rows_held=int(sum(s.data.shape[0] for s in X.addressable_shards)),
        c=np.asarray(trace.c).tolist(), eps=eps, collapse_round=trace.collapse_round,
        truncation=float(spec.truncation), m_used=int(spec.landmarks.shape[0]),
    )  # fmt: skip
    print("RESULT " + json.dumps(res), flush=True)
    multihost_utils.sync_global_devices("done")
    return 0


def launch(count: int, args) -> list[dict]:
    """Start ``count`` workers joined through a local coordinator; their results."""
    address = f"127.0.0.1:{_free_port()}"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    procs = []
    for i in range(count):
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        env.pop("XLA_FLAGS", None)  # one CPU device per process
        cmd = [sys.executable, "-m", "experiments.benchmarks", "distributed",
               "--worker", str(i), "--num-processes", str(count), "--coordinator",
               address, "--n", str(args.n), "--m", str(args.m), "--seed",
               str(args.seed), "--landmarks", args.landmarks, "--out", args.out]  # fmt: skip
        if args.pin:
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            if shutil.which("taskset"):
                cmd = ["taskset", "-c", str(i % os.cpu_count()), *cmd]
        procs.append(subprocess.Popen(cmd, env=env, cwd=root, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
    found: list[dict] = []
    tails: list[list[str]] = [[] for _ in procs]

    def pump(i, proc):
        for line in proc.stdout:
            if line.startswith("RESULT "):
                found.append(json.loads(line[len("RESULT "):]))
            else:
                tails[i] = (tails[i] + [line.rstrip()])[-20:]

    threads = [threading.Thread(target=pump, args=(i, p)) for i, p in enumerate(procs)]
    for t in threads:
        t.start()
    codes = [p.wait() for p in procs]
    for t in threads:
        t.join()
    if any(codes) or len(found) != count:
        bad = next((i for i, c in enumerate(codes) if c), 0)
        raise RuntimeError(f"process {bad} of {count} failed:\n" + "\n".join(tails[bad]))
    return sorted(found, key=lambda r: r["process"])


def summary(runs: dict[int, list[dict]]) -> list[dict]:
    """One row per process count: the slowest process's time, CPU per process."""
    rows, ref = [], None
    for count, procs in runs.items():
        row = {"processes": count, "n": procs[0]["n"], "m": procs[0]["m"]}
        for call in ("first", "warm"):
            row[f"{call}_wall_s"] = max(p[call]["total_wall_s"] for p in procs)
            row[f"{call}_cpu_s_per_process"] = [p[call]["total_cpu_s"] for p in procs]
        row["held_mib_per_process"] = [p["held_mib"] for p in procs]
        row["peak_rss_gib_per_process"] = [p["peak_rss_gib"] for p in procs]
        row["max_rel_dc_vs_first"] = None
        if ref is None:
            ref = (row, np.asarray(procs[0]["c"]))
        else:
            c, c_ref = np.asarray(procs[0]["c"]), ref[1]
            live = np.isfinite(c_ref)
            row["max_rel_dc_vs_first"] = float(np.max(np.abs(c[live] - c_ref[live])
                                                      / c_ref[live]))  # fmt: skip
        row["warm_speedup"] = ref[0]["warm_wall_s"] / row["warm_wall_s"]
        row["warm_cpu_ratio"] = max(ref[0]["warm_cpu_s_per_process"]) / max(
            row["warm_cpu_s_per_process"])
        rows.append(row)
    return rows


def table(rows) -> str:
    out = [f"{'processes':>9} {'n':>8} {'m':>5} {'first s':>8} {'warm s':>7} "
           f"{'speed-up':>8} {'cpu s/process (warm)':>22} {'MiB held/process':>17} "
           f"{'peak GiB':>9} {'max dc/c':>9}"]  # fmt: skip
    for r in rows:
        cpu = "/".join(f"{c:.1f}" for c in r["warm_cpu_s_per_process"])
        held = "/".join(f"{h:.1f}" for h in r["held_mib_per_process"])
        dc = "" if r["max_rel_dc_vs_first"] is None else f"{r['max_rel_dc_vs_first']:.1e}"
        out.append(f"{r['processes']:>9} {r['n']:>8} {r['m']:>5} {r['first_wall_s']:>8.1f} "
                   f"{r['warm_wall_s']:>7.1f} {r['warm_speedup']:>7.2f}x {cpu:>22} "
                   f"{held:>17} {max(r['peak_rss_gib_per_process']):>9.2f} {dc:>9}")  # fmt: skip
    return "\n".join(out)


@benchmark(
    "distributed",
    help="one Nyström trace on N local processes joined by jax.distributed (gloo): "
    "time, CPU and bytes per process, speed-up over the first count "
    "(bench_distributed.py)",
    options=[
        Option("--processes", (1, 2), {"type": int, "nargs": "+",
               "help": "process counts to run, one after the other"}),
        Option("--pin", False, {"action": "store_true",
               "help": "process i on core i (taskset), one BLAS thread each"}),
        Option("--n", 200_000, {"type": int, "help": "training points"}),
        Option("--m", 500, {"type": int, "help": "Nyström landmarks"}),
        Option("--landmarks", "rpcholesky", {"choices": LANDMARK_METHODS,
               "help": "landmark choice"}),
        Option("--seed", 0, {"type": int, "help": "random seed"}),
        Option("--worker", None, {"type": int, "help": argparse.SUPPRESS}),
        Option("--num-processes", None, {"type": int, "help": argparse.SUPPRESS}),
        Option("--coordinator", None, {"help": argparse.SUPPRESS}),
    ],
)  # fmt: skip
def run(args) -> int:
    if args.worker is not None:
        return worker(args)
    if args.quick:
        args.n, args.m = (min(args.n, QUICK["n"]) if "n" in args.given else QUICK["n"],
                          min(args.m, QUICK["m"]) if "m" in args.given else QUICK["m"])  # fmt: skip
    runs = {}
    for count in args.processes:
        print(f"# {count} process(es), n = {args.n}, m = {args.m}"
              f"{', pinned' if args.pin else ''} ...", flush=True)  # fmt: skip
        runs[count] = launch(count, args)
    rows = summary(runs)
    print(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; warm = second call; "
          f"speed-up = warm wall time of the first count / this count's")  # fmt: skip
    print(table(rows))
    from kernel_sd import results

    results.write(args.out, "bench_distributed",
                  params={"n": args.n, "m": args.m, "pin": args.pin,
                          "landmarks": args.landmarks,
                          "processes": list(args.processes)},
                  numbers={"rows": rows, "runs": {str(k): v for k, v in runs.items()},
                           "load_average": os.getloadavg()[0]},
                  seed=args.seed)  # fmt: skip
    return 0
