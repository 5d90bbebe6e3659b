"""The network experiments at larger sizes, for an accelerator.

    python -m experiments.networks.large [--quick] [--out DIR] [--only PART] [--seed S]

Runs the parts of ``experiments/networks`` (``kernel-sd reproduce networks``) with
the constants :data:`LARGE` in place of the defaults: wider networks, all digits,
more rounds and seeds. Records are stored like the runner's (``kernel_sd.results``:
``<part>.json`` with the constants, seed, source fingerprint and devices, ``.npz``,
PNG and PDF) in ``--out`` (default ``kernel-sd-results/networks-large``, not
``figures/``), and a part already stored with the same parameters is skipped. JAX
runs on its default device; float64 throughout. ``--quick`` runs the tiny
``--quick`` sizes of the runner on any machine (CPU included).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from experiments.networks import EXPERIMENT

_POW2 = tuple(2**k for k in range(6, 16))  # widths 64 .. 32768

LARGE = {
    "width_n": 128,
    "width_depths": (1, 2, 3),
    "width_widths": (_POW2, _POW2[:8], _POW2[:7]),  # to 32768, 8192 and 4096
    "width_seeds": 10,
    "rounds_n_train": 1200,
    "rounds_width": 2048,
    "rounds_count": 8,
    "rounds_steps": 1000,
    "rounds_noise": (0.0, 0.1, 0.3, 0.5),
    "rounds_seeds": 5,
    "conf_n_train": 1200,
    "conf_width": 2048,
    "conf_teacher_steps": 1000,
    "conf_settings": ((1.0, 1), (1.0, 3), (1.0, 10), (4.0, 1)),
    "conf_seeds": 5,
}
"""Constants replacing :data:`experiments.networks.CONFIG`'s in a large run."""


def run(*, out: str, quick: bool = False, seed: int = 0, only: Sequence[str] = ()):
    """Run the chosen parts (all by default) at the large sizes (tiny with ``quick``)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from experiments._runner import Config
    from kernel_sd import results

    cfg = EXPERIMENT.settings(True) if quick else Config(EXPERIMENT.config, **LARGE)
    parts = [
        p for name, p in EXPERIMENT.parts.items()
        if not only or name in only or name.removeprefix("networks_") in only
    ]  # fmt: skip
    if not parts:
        raise ValueError(f"--only names no part; parts: {', '.join(EXPERIMENT.parts)}")
    out = results.prepare_dir(out)
    devices = [str(d) for d in jax.devices()]
    for part in parts:
        start = time.perf_counter()
        params = {
            "config": cfg,
            "seed": seed,
            "code": results.source_fingerprint(*part.sources()),
            "devices": devices,
        }

        def make(part=part):
            res = part.compute(cfg, seed)
            return part.plot(res, cfg), res.numbers, dict(res.arrays) or None

        results.run_part(out, part.name, params, make, seed=seed)
        print(f"{part.name}: {time.perf_counter() - start:.1f}s on {devices}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.networks.large", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default="kernel-sd-results/networks-large")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (any CPU)")
    parser.add_argument("--only", action="append", default=[], metavar="PART")
    args = parser.parse_args(argv)
    try:
        return run(out=args.out, quick=args.quick, seed=args.seed, only=args.only)
    except ValueError as err:
        parser.error(str(err))


if __name__ == "__main__":
    sys.exit(main())
