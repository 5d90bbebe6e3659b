"""The problem options of ``kernel-sd distill`` and ``spectrum``: data, kernel, spectrum path.

Options that would be silently ignored (``--test-fraction`` without ``--input``,
``--data``/``--n``/``--noise`` with ``--input``, ``--lengthscale`` for a kernel
without one, ...) are errors, and a user's file is checked (it exists, is a file,
is readable, is an ``.npz`` archive or a CSV table with what the command needs)
before anything is computed. Every mistake is a :class:`UsageError` that names the
option.
"""

from __future__ import annotations

import argparse
import pathlib
import warnings
import zipfile

from kernel_sd import kernels

__all__ = ["UsageError", "add_arguments", "resolve", "load", "kernel", "spectrum"]

DEFAULTS = {"data": "sinusoid", "test_fraction": 0.0, "n": 40, "noise": 0.4,
            "lengthscale": 0.08}  # fmt: skip
"""Defaults of the options whose use is checked against the others."""
MIN_TRAIN = 2
"""Fewest training points a held-out split may leave."""


class UsageError(Exception):
    """A user mistake: reported as one line, without a traceback, exit code 2."""


def _number(kind, check, what):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not check(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    return parse


positive_float = _number(float, lambda v: 0 < v < float("inf"), "a finite number > 0")
nonneg_float = _number(float, lambda v: 0 <= v < float("inf"), "a finite number >= 0")
fraction = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``problem`` and ``spectrum of G`` option groups."""
    g = p.add_argument_group("problem")
    g.add_argument("--data", choices=("sinusoid", "toy"), default=None,
                   help="built-in problem: noisy sin(2πx) samples (default) or the "
                        "11 points of Mobahi et al. 2020")  # fmt: skip
    g.add_argument("--input", metavar="FILE",
                   help="your own data instead: .npz with arrays X (n, p) and y (n,), or "
                        ".csv with inputs in the leading columns and the target last")  # fmt: skip
    g.add_argument("--test-fraction", type=fraction, default=None,
                   help="with --input: share of rows held out as a test set (default 0)")  # fmt: skip
    g.add_argument("--n", type=positive_int, default=None,
                   help="training points for --data sinusoid (default 40)")  # fmt: skip
    g.add_argument("--noise", type=nonneg_float, default=None,
                   help="label noise std for --data sinusoid (default 0.4)")  # fmt: skip
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument(
        "--kernel", choices=kernels.NAMES, default="rbf", help="kernel (default rbf)"
    )
    g.add_argument("--lengthscale", type=positive_float, default=None,
                   help="kernel lengthscale, for kernels that have one (default 0.08, "
                        "i.e. exp(-78 |x-z|^2) for rbf)")  # fmt: skip
    g = p.add_argument_group("spectrum of G (large n)")
    g.add_argument("--method", choices=("exact", "nystrom", "lanczos"), default="exact",
                   help="exact eigh (default); Nystrom with --rank landmarks (memory "
                        "O(n·rank)); or the matrix-free top --rank eigenpairs (Lanczos)")  # fmt: skip
    g.add_argument("--rank", type=positive_int, default=None,
                   help="landmarks m (nystrom) or eigenpairs k (lanczos); default "
                        "min(n, 1000) and min(n - 10, 100)")  # fmt: skip


def resolve(args, *, needs_targets: bool) -> None:
    """Refuse options that would be ignored, then fill in the defaults."""
    given = {k for k in DEFAULTS if getattr(args, k) is not None}
    if args.input is not None and (bad := sorted(given & {"data", "n", "noise"})):
        raise UsageError(
            f"--{bad[0]} does not apply with --input (your file is the data)."
        )
    if args.input is None and "test_fraction" in given:
        raise UsageError("--test-fraction applies to --input only; the built-in "
                         "problems have their own test points.")  # fmt: skip
    if args.data == "toy" and (bad := sorted(given & {"n", "noise"})):
        raise UsageError(f"--{bad[0]} applies to --data sinusoid, not to --data toy.")
    if "lengthscale" in given and not hasattr(kernel(args), "lengthscale"):
        raise UsageError(f"--lengthscale does not apply to --kernel {args.kernel}, "
                         "which has no lengthscale.")  # fmt: skip
    if args.method == "exact" and args.rank is not None:
        raise UsageError("--rank applies to --method nystrom or lanczos only.")
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def kernel(args):
    """The kernel named by ``--kernel`` (``--lengthscale`` where it has one)."""
    return kernels.from_name(args.kernel, lengthscale=args.lengthscale or 1.0)


def describe_kernel(args, k) -> str:
    if hasattr(k, "lengthscale"):
        return f"kernel {args.kernel} (lengthscale {args.lengthscale:g})"
    return f"kernel {args.kernel}"


def _check_file(path: pathlib.Path, needs_targets: bool) -> None:
    name = f"--input {str(path)!r}"
    if not path.exists():
        raise UsageError(f"{name} does not exist.")
    if path.is_dir():
        raise UsageError(f"{name} is a directory; give a .csv or .npz file in it.")
    if not path.is_file():
        raise UsageError(f"{name} is not a regular file; give a .csv or .npz file.")
    if path.suffix not in (".csv", ".npz"):
        raise UsageError(f"{name}: expected a .csv or .npz file, got {path.name!r}.")
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except OSError as err:
        raise UsageError(f"{name} cannot be read: {err.strerror}.") from None
    if empty:
        raise UsageError(f"{name} is empty.")
    if path.suffix == ".npz":
        import numpy as np

        if not zipfile.is_zipfile(path):
            raise UsageError(f"{name} is not an .npz archive (np.savez writes one).")
        try:
            with np.load(path, allow_pickle=False) as f:
                names = list(f.files)
        except Exception as err:  # noqa: BLE001  (any failure: the file is damaged)
            raise UsageError(
                f"{name} is not a readable .npz archive ({err})."
            ) from None
        if "X" not in names:
            raise UsageError(f"{name} has no array named 'X' (found {names}).")
        if needs_targets and "y" not in names:
            raise UsageError(f"{name} has no array named 'y': distill needs targets "
                             f"(found {names}).")  # fmt: skip


def _read(path, test_fraction, seed):
    """The file's data set; any failure (damaged file, odd content) is the file's."""
    from kernel_sd import data

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. a CSV with a header and no rows
            return data.load_file(path, test_fraction=test_fraction, seed=seed)
    except ValueError as err:  # the library's reason (shape, NaN, text cells, ...)
        raise UsageError(f"--input {str(path)!r}: {err}") from None
    except Exception as err:  # noqa: BLE001  (a damaged file: reported in one line)
        raise UsageError(
            f"--input {str(path)!r} cannot be read, the file looks damaged "
            f"({type(err).__name__}: {err})."
        ) from None


def load(args, *, needs_targets: bool):
    """The data set of ``--input`` (checked first) or of ``--data``."""
    from kernel_sd import data

    if args.input is None:
        if args.data == "toy":
            return data.mobahi_toy()
        return data.sinusoid(args.n, noise=args.noise, seed=args.seed)
    if args.input == "":
        raise UsageError("--input is an empty path; give a .csv or .npz file.")
    path = pathlib.Path(args.input)
    _check_file(path, needs_targets)
    if args.test_fraction > 0:
        n = _read(path, 0.0, args.seed).X.shape[0]
        n_test = int(round(args.test_fraction * n))
        if n_test < 1 or n - n_test < MIN_TRAIN:
            raise UsageError(
                f"--test-fraction {args.test_fraction:g} holds out {n_test} of the {n} "
                f"rows of {path.name}, leaving {n - n_test} to train; choose a fraction "
                f"that keeps at least 1 test and {MIN_TRAIN} training rows."
            )
    ds = _read(path, args.test_fraction, args.seed)
    if ds.X.shape[0] < MIN_TRAIN:
        raise UsageError(f"--input {str(path)!r} has {ds.X.shape[0]} row(s); "
                         f"need at least {MIN_TRAIN}.")  # fmt: skip
    return ds


def spectrum(args, k, X):
    """The spectrum of ``k(X, X)/K`` by ``--method`` (with ``--rank``)."""
    import kernel_sd as ksd

    n = X.shape[0]
    if args.method == "exact":
        return ksd.spectrum(k, X)
    if args.method == "nystrom":
        m = min(n, 1000) if args.rank is None else args.rank
        if m > n:
            raise UsageError(f"--rank {m} landmarks but only n = {n} points.")
        return ksd.nystrom_spectrum(k, X, m=m)
    rank = min(n - 10, 100) if args.rank is None else args.rank
    if rank < 1 or rank + 10 > n:
        raise UsageError(
            f"--method lanczos needs --rank <= n - 10 = {n - 10}; use --method exact."
        )
    return ksd.lanczos_spectrum(k, X, k=rank)


def params(args) -> dict:
    """The options that determine a result (stored in its record)."""
    keys = ("input", "test_fraction", "data", "n", "noise", "seed", "kernel",
            "lengthscale", "method", "rank")  # fmt: skip
    return {k: getattr(args, k) for k in keys}
