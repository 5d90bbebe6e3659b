"""Benchmark: what ``import kernel_sd`` costs beyond ``import jax``.

Each import runs in a fresh Python process (nothing cached in memory), the two
alternating, ``--repeats`` times each; the process times its own import with
``time.process_time`` (CPU) and ``time.perf_counter`` (wall), so interpreter
start-up is not counted. Reports the medians, their difference, and which of the
heavy optional modules (matplotlib, scikit-learn, SciPy) ``import kernel_sd``
loaded (none should be: each is imported where first used).

Usage:
    kernel-sd bench import                 # 15 processes each
    kernel-sd bench import --out figures   # the recorded run (figures/bench_import.json)
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from experiments.benchmarks import Option, benchmark
from kernel_sd import results

MODULES = ("jax", "kernel_sd")
HEAVY = ("matplotlib", "sklearn", "scipy")

_TIMED = (
    "import sys, time\n"
    "c, w = time.process_time(), time.perf_counter()\n"
    "import {module}\n"
    "c, w = time.process_time() - c, time.perf_counter() - w\n"
    "print(c, w, ' '.join(m for m in {heavy!r} if m in sys.modules))\n"
)


def timed_import(module: str) -> tuple[float, float, list[str]]:
    """``(cpu s, wall s, heavy modules loaded)`` of ``import module`` in a fresh process."""
    code = _TIMED.format(module=module, heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    cpu, wall, *loaded = proc.stdout.split()
    return float(cpu), float(wall), loaded


@benchmark(
    "import",
    help="CPU and wall time of `import kernel_sd` against `import jax`, fresh "
    "processes, interleaved (bench_import.py)",
    options=[Option("--repeats", 15, {"type": int, "help": "processes per import"})],
)
def run(args) -> int:
    repeats = 1 if args.quick else args.repeats
    times = {m: {"cpu": [], "wall": []} for m in MODULES}
    loaded: set[str] = set()
    for _ in range(repeats):
        for module in MODULES:
            cpu, wall, heavy = timed_import(module)
            times[module]["cpu"].append(cpu)
            times[module]["wall"].append(wall)
            if module == "kernel_sd":
                loaded.update(heavy)
    med = {m: {k: statistics.median(v) for k, v in t.items()} for m, t in times.items()}
    extra = {k: med["kernel_sd"][k] - med["jax"][k] for k in ("cpu", "wall")}
    print(f"import, medians of {repeats} fresh processes each (interleaved):")
    for m in MODULES:
        print(f"  {m:>10}: CPU {med[m]['cpu']:.3f} s, wall {med[m]['wall']:.3f} s")
    print(f"  kernel_sd - jax: CPU {extra['cpu']:+.3f} s, wall {extra['wall']:+.3f} s")
    print(f"  heavy modules loaded by import kernel_sd: {sorted(loaded) or 'none'}")
    if args.out:
        path = results.write(
            args.out,
            "bench_import",
            params={"repeats": repeats},
            numbers={"median": med, "kernel_sd_minus_jax": extra,
                     "heavy_loaded": sorted(loaded), "runs": times},
        )  # fmt: skip
        print(f"wrote: {path}")
    return 0
