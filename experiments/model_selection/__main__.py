"""``python -m experiments.model_selection [--quick] [--out DIR] [--seed S]``.

A stand-in until the shared runner (``experiments/_runner.py``) is on this
branch: compute, print the numbers, plot, store PNG/PDF + JSON/npz.
"""

import argparse
import pathlib
import sys

import jax

jax.config.update("jax_enable_x64", True)

from experiments.model_selection import CONFIG, QUICK, Config, surface  # noqa: E402
from kernel_sd import plotting, results  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.model_selection")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    cfg = Config(CONFIG, **(QUICK if args.quick else {}))
    res = surface.surface(cfg, args.seed)
    for key, value in res.numbers.items():
        print(f"{key}: {value}")
    out = pathlib.Path(args.out)
    plotting.save(surface.plot_surface(res, cfg), out / f"{surface.NAME}.png", pdf=True)
    params = {"config": dict(cfg), "seed": args.seed}
    results.write(out, surface.NAME, params=params, numbers=res.numbers,
                  arrays=res.arrays, seed=args.seed)  # fmt: skip
    print(f"wrote {out / surface.NAME}.png/.pdf/.json/.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
