"""Benchmarks: timing suites registered by name, run by ``kernel-sd bench SUITE``.

A suite is a function ``run(args) -> exit code`` registered with
:func:`benchmark`, with the options it reads. Every suite gets ``--quick`` (tiny
sizes, seconds) and ``--out`` (where its records and figures go; the default
folder is not tracked by git). An option given to a suite that does not declare it
is an error, not silently ignored. Tables and the machine are documented in
``experiments/benchmarks/README.md``.

``kernel-sd bench SUITE [options]`` and ``python -m experiments.benchmarks SUITE
[options]`` are the same program.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Option",
    "Benchmark",
    "benchmark",
    "suites",
    "add_arguments",
    "run_args",
    "main",
    "DEFAULT_OUT",
    "DEFAULT_SUITE",
]

DEFAULT_SUITE = "distill"
"""The suite ``kernel-sd bench`` runs without a name (modules register in name order)."""

DEFAULT_OUT = "kernel-sd-results"
"""Default output folder (git-ignored; ``--out figures`` updates the recorded tables)."""


@dataclasses.dataclass(frozen=True)
class Option:
    """A command-line option of a suite: argparse ``flag`` and keywords, and its default."""

    flag: str
    default: Any = None
    kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A registered suite."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    options: tuple[Option, ...] = ()


_REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, help: str, options: Sequence[Option] = ()):
    """Decorator: register ``run(args) -> int`` as the suite ``name``."""

    def decorate(fn):
        if name in _REGISTRY:
            raise ValueError(f"benchmark {name!r} is already registered")
        _REGISTRY[name] = Benchmark(name, help, fn, tuple(options))
        return fn

    return decorate


def suites() -> dict[str, Benchmark]:
    """Every registered suite, by name (imports the suite modules once)."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(_REGISTRY)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite name and every suite's options (each checked against its suite later)."""
    available = suites()
    default = DEFAULT_SUITE if DEFAULT_SUITE in available else next(iter(available))
    parser.add_argument("suite", nargs="?", default=default,
                        choices=list(available),
                        help=f"which benchmark (default {default})")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT}/)")  # fmt: skip
    seen: dict[str, list[Option]] = {}
    owners: dict[str, list[str]] = {}
    for bench in available.values():
        for opt in bench.options:
            seen.setdefault(opt.flag, []).append(opt)
            owners.setdefault(opt.flag, []).append(bench.name)
    for flag, opts in seen.items():
        kwargs = dict(opts[0].kwargs)
        if kwargs.get("help") != argparse.SUPPRESS:
            by_default: dict[str, list[str]] = {}
            for opt, name in zip(opts, owners[flag], strict=True):
                by_default.setdefault(repr(opt.default), []).append(name)
            where = "; ".join(
                f"{', '.join(names)}: default {value}"
                if value != "None"
                else ", ".join(names)
                for value, names in by_default.items()
            )
            kwargs["help"] = f"{kwargs.get('help', '')} [{where}]".strip()
        parser.add_argument(flag, default=None, **kwargs)


def run_args(args: argparse.Namespace) -> int:
    """Run ``args.suite`` after refusing the options it does not read."""
    bench = suites()[args.suite]
    own = {opt.dest for opt in bench.options}
    for other in _REGISTRY.values():
        for opt in other.options:
            if opt.dest not in own and getattr(args, opt.dest, None) not in (
                None,
                False,
            ):
                users = [b.name for b in _REGISTRY.values()
                         if opt.flag in {o.flag for o in b.options}]  # fmt: skip
                raise ValueError(
                    f"{opt.flag} applies to `bench {' / '.join(users)}`, "
                    f"not `bench {bench.name}`."
                )
    args.given = {o.dest for o in bench.options if getattr(args, o.dest) is not None}
    for opt in bench.options:
        if getattr(args, opt.dest) is None:
            setattr(args, opt.dest, opt.default)
    from kernel_sd import results

    try:
        results.prepare_dir(args.out)
    except ValueError as err:
        raise ValueError(f"--out: {err}") from None
    import jax

    jax.config.update("jax_enable_x64", True)
    return int(bench.run(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m experiments.benchmarks [SUITE] [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.benchmarks", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_args(args)
    except ValueError as err:
        parser.error(str(err))
