"""One runner for every experiment: arguments, output folder, seeds, records, resume.

An experiment is a package of ``experiments/`` that creates an :class:`Experiment`
(its constants and their ``--quick`` overrides) and registers its parts, each a
*compute* function that returns numbers and a *plot* function that draws them::

    EXPERIMENT = Experiment("mobahi2020", CONFIG, quick=QUICK)

    @EXPERIMENT.compute("mobahi2020_toy_fits")
    def toy_fits(cfg: Config, seed: int) -> Result:   # numbers only
        ...

    @EXPERIMENT.plot("mobahi2020_toy_fits")
    def plot_toy_fits(res: Result, cfg: Config) -> Figure:  # no computation
        ...

For each part the runner builds the parameters (the experiment's constants, the
seed and a fingerprint of the source files the part depends on), skips the part
when a record with the same parameters and intact files exists in the output
folder, and otherwise computes, plots and stores ``<name>.png``, ``<name>.pdf``,
``<name>.npz`` and, last, ``<name>.json`` (``kernel_sd.results``).

``kernel-sd reproduce NAME|all`` and ``python -m experiments NAME|all`` both end
in :func:`run`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import pathlib
import pkgutil
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from kernel_sd import results
from kernel_sd._progress import progress

__all__ = [
    "Config",
    "Result",
    "Part",
    "Experiment",
    "experiments",
    "add_arguments",
    "run",
    "run_args",
    "main",
]

ROOT = pathlib.Path(__file__).resolve().parent
"""The ``experiments/`` folder."""


class Config(dict):
    """An experiment's constants, read as attributes (``cfg.toy_eps``)."""

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Result(NamedTuple):
    """What a compute function returns: the numbers a part records and plots."""

    numbers: dict[str, Any]
    """Scalars, small arrays and nested dicts (stored in the part's JSON)."""
    arrays: Mapping[str, np.ndarray] = types.MappingProxyType({})
    """Larger arrays (stored in the part's npz); none by default."""


@dataclasses.dataclass
class Part:
    """One figure of an experiment: its record name, compute and plot functions."""

    name: str
    compute: Callable[[Config, int], Result]
    plot: Callable[[Result, Config], Any] | None = None

    def sources(self) -> list[pathlib.Path]:
        """Files whose text determines the part's numbers and figure.

        Its functions' modules, and the ``__init__.py`` (constants) and private
        ``_*.py`` helpers of the package they live in.
        """
        files = {pathlib.Path(inspect.getsourcefile(self.compute)).resolve()}
        if self.plot is not None:
            files.add(pathlib.Path(inspect.getsourcefile(self.plot)).resolve())
        folder = next(iter(files)).parent
        files.update(p.resolve() for p in folder.glob("_*.py"))
        return sorted(files)


class Experiment:
    """A named group of parts sharing constants (``config``) and ``--quick`` overrides."""

    def __init__(
        self, name: str, config: Mapping[str, Any], *, quick: Mapping[str, Any] = ()
    ):
        unknown = set(dict(quick)) - set(config)
        if unknown:
            raise ValueError(f"{name}: --quick overrides unknown constants {unknown}")
        self.name = name
        self.config = dict(config)
        self.quick = dict(quick)
        self.parts: dict[str, Part] = {}
        _REGISTRY[name] = self

    def settings(self, quick: bool) -> Config:
        """The constants of a full run, or of a ``--quick`` one."""
        return Config(self.config, **(self.quick if quick else {}))

    def compute(self, name: str):
        """Decorator: register the compute function of part ``name``."""

        def decorate(fn):
            if name in self.parts:
                raise ValueError(f"part {name!r} is already registered")
            self.parts[name] = Part(name, fn)
            return fn

        return decorate

    def plot(self, name: str):
        """Decorator: register the plot function of the (already registered) part ``name``."""

        def decorate(fn):
            if name not in self.parts:
                raise ValueError(f"register the compute function of {name!r} first")
            self.parts[name].plot = fn
            return fn

        return decorate


_REGISTRY: dict[str, Experiment] = {}


def experiments() -> dict[str, Experiment]:
    """Every experiment of ``experiments/``, by name (imports each package once)."""
    for info in pkgutil.iter_modules([str(ROOT)]):
        if info.ispkg and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")
    return dict(sorted(_REGISTRY.items()))


def _select(
    names: Sequence[str], only: Sequence[str]
) -> list[tuple[Experiment, list[Part]]]:
    available = experiments()
    chosen = list(available) if "all" in names else list(dict.fromkeys(names))
    for name in chosen:
        if name not in available:
            raise ValueError(
                f"unknown experiment {name!r}; choose from: all, {', '.join(available)}"
            )
    plan = []
    for name in chosen:
        exp = available[name]
        parts = [
            p for p in exp.parts.values()
            if not only or p.name in only or p.name.removeprefix(f"{name}_") in only
        ]  # fmt: skip
        if parts:
            plan.append((exp, parts))
    if not plan:
        every = [p for n in chosen for p in available[n].parts]
        raise ValueError(f"--only {' '.join(only)} names no part of {', '.join(chosen)}; "
                         f"parts: {', '.join(every)}")  # fmt: skip
    return plan


def _summary(numbers: Mapping[str, Any], indent: str = "  ") -> list[str]:
    """The numbers a part computed, one line each (long lists abbreviated)."""
    lines = []
    for key, value in numbers.items():
        if isinstance(value, Mapping):
            lines += [f"{indent}{key}:", *_summary(value, indent + "  ")]
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            lines.append(f"{indent}{key}: {len(value)} rows")
        else:
            arr = np.asarray(value)
            text = (
                np.array2string(arr, precision=4, threshold=12, max_line_width=10**6)
                if arr.ndim
                else (f"{value:.4g}" if isinstance(value, float) else str(value))
            )
            lines.append(f"{indent}{key}: {text}")
    return lines


def _make(part: Part, cfg: Config, seed: int):
    res = part.compute(cfg, seed)
    print("\n".join([f"{part.name}:", *_summary(res.numbers)]))
    if part.plot is None:
        raise ValueError(f"part {part.name!r} has no plot function")
    return part.plot(res, cfg), res.numbers, dict(res.arrays) or None


def run(
    names: Sequence[str],
    *,
    out,
    quick: bool = False,
    seed: int = 0,
    only: Sequence[str] = (),
) -> int:
    """Run the parts of the named experiments (``"all"`` for every one) into ``out``.

    Parts already stored in ``out`` with the same parameters are skipped. Returns
    the exit code (0). Raises ``ValueError`` for an unknown experiment or part, or
    an output folder that cannot be written, before any computation.
    """
    import jax

    jax.config.update("jax_enable_x64", True)
    plan = _select(names, only)
    try:
        out = results.prepare_dir(out)
    except ValueError as err:
        raise ValueError(f"--out: {err}") from None
    for exp, parts in plan:
        cfg = exp.settings(quick)
        start = time.perf_counter()
        for part in progress(parts, desc=exp.name):
            code = results.source_fingerprint(*part.sources())
            params = {"config": cfg, "seed": seed, "code": code}
            results.run_part(
                out,
                part.name,
                params,
                lambda p=part, c=cfg: _make(p, c, seed),
                seed=seed,
            )
        print(
            f"{exp.name}: done in {time.perf_counter() - start:.1f}s, figures in {out}"
        )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The runner's arguments (shared by ``kernel-sd reproduce`` and ``python -m experiments``)."""
    parser.add_argument("name", nargs="+", metavar="NAME",
                        help="experiment (a package of experiments/) or 'all'")  # fmt: skip
    parser.add_argument(
        "--out", default="figures", help="output folder (default figures/)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="base random seed (default 0)"
    )
    parser.add_argument("--quick", action="store_true",
                        help="small, fast version (seconds; for smoke tests)")  # fmt: skip
    parser.add_argument("--only", action="append", default=[], metavar="PART",
                        help="run only this part (repeatable), e.g. toy_fits")  # fmt: skip


def run_args(args: argparse.Namespace) -> int:
    """:func:`run` with parsed :func:`add_arguments` arguments."""
    return run(
        args.name, out=args.out, quick=args.quick, seed=args.seed, only=args.only
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m experiments NAME|all [--quick] [--out DIR] [--seed S] [--only PART]``."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments", description="Regenerate the papers' figures."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_args(args)
    except ValueError as err:
        parser.error(str(err))
