"""``kernel-sd``: the command-line entry point.

Subcommands:

- ``distill``: self-distillation on a built-in problem; per-round table + figure.
- ``spectrum``: eigenvalues of ``k(X, X)/K`` for a kernel on a built-in problem.
- ``verify``: check every registered theorem on many random instances.
- ``reproduce``: regenerate a paper's figures (runs ``experiments/<name>/run.py``).

The CLI enables float64 (``jax_enable_x64``) before any computation: every
number it prints is a float64 result.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "make_kernel", "KERNEL_NAMES"]

KERNEL_NAMES = (
    "rbf", "laplace", "matern12", "matern32", "matern52", "poly", "linear",
    "arccos0", "arccos1",
)  # fmt: skip


class UsageError(Exception):
    """A user mistake: reported as one line, without a traceback, exit code 2."""


def make_kernel(name: str, lengthscale: float):
    """A kernel from its CLI name (``lengthscale`` where the kernel has one)."""
    from kernel_sd import kernels

    makers = {
        "rbf": lambda: kernels.RBF(lengthscale=lengthscale),
        "laplace": lambda: kernels.Laplace(lengthscale=lengthscale),
        "matern12": lambda: kernels.Matern(nu=0.5, lengthscale=lengthscale),
        "matern32": lambda: kernels.Matern(nu=1.5, lengthscale=lengthscale),
        "matern52": lambda: kernels.Matern(nu=2.5, lengthscale=lengthscale),
        "poly": lambda: kernels.Polynomial(degree=3, gamma=1.0, coef0=1.0),
        "linear": lambda: kernels.Linear(),
        "arccos0": lambda: kernels.ArcCosine(order=0),
        "arccos1": lambda: kernels.ArcCosine(order=1),
    }
    return makers[name]()


def _problem(args):
    from kernel_sd import data

    if args.data == "toy":
        return data.mobahi_toy()
    return data.sinusoid(args.n, noise=args.noise, seed=args.seed)


def _cmd_distill(args) -> int:
    import numpy as np

    import kernel_sd as ksd
    from kernel_sd import plotting

    if (args.eps is None) == (args.lam is None):
        args.eps = 0.05
    ds = _problem(args)
    kernel = make_kernel(args.kernel, args.lengthscale)
    trace = ksd.self_distill(
        kernel,
        ds.X,
        ds.y,
        eps=args.eps,
        lam=args.lam,
        rounds=args.rounds,
        X_test=ds.X_test,
    )
    form = f"eps = {args.eps:g}" if args.eps is not None else f"lam = {args.lam:g}"
    print(f"{ds.name}; kernel {args.kernel} (lengthscale {args.lengthscale:g}); {form}")
    spec = trace.spectrum
    print(
        f"spectrum: d_max = {float(spec.eigvals[0]):.4g}, numerical rank "
        f"{int(spec.rank)}/{spec.n_train}, noise floor {float(spec.noise_floor):.2e}"
    )
    train = np.asarray(trace.train_pred)
    test = np.asarray(trace.test_pred)
    train_mse = np.mean((train - ds.y) ** 2, axis=1)
    test_mse = np.mean((test - ds.y_test) ** 2, axis=1)
    eff = np.asarray(trace.effective_dimension)
    header = f"{'round':>5}  {'c_t':>12}  {'train MSE':>10}  {'test MSE':>10}  {'sum_k A_t[k]':>12}"
    print(header)
    print("-" * len(header))
    for t in range(trace.rounds):
        c = float(trace.c[t])
        c_txt = "inf (f = 0)" if not np.isfinite(c) else f"{c:.6g}"
        print(
            f"{t:>5}  {c_txt:>12}  {train_mse[t]:>10.5f}  {test_mse[t]:>10.5f}  {eff[t]:>12.4f}"
        )
    best = int(np.argmin(test_mse))
    print(
        f"best round by test MSE (to the clean target): {best} ({test_mse[best]:.5f})"
    )
    cr = trace.collapse_round
    print(
        f"collapse round: {cr if cr >= 0 else 'none within ' + str(trace.rounds) + ' rounds'}"
    )
    if not args.no_figure:
        fig = plotting.plot_fits(
            trace,
            ds.X,
            ds.y,
            ds.X_test,
            ds.y_test,
            title=f"Self-distillation rounds ({args.kernel}, {form})",
        )
        out = pathlib.Path(args.out) / "distill_fits.png"
        plotting.save(fig, out)
        print(f"figure: {out}")
    return 0


def _cmd_spectrum(args) -> int:
    import numpy as np

    import kernel_sd as ksd

    ds = _problem(args)
    spec = ksd.spectrum(make_kernel(args.kernel, args.lengthscale), ds.X)
    d = np.asarray(spec.eigvals)
    print(f"{ds.name}; kernel {args.kernel} (lengthscale {args.lengthscale:g})")
    print(
        f"K = {spec.n_train}, numerical rank {int(spec.rank)}, noise floor "
        f"{float(spec.noise_floor):.3e}, clamped {int(spec.n_clamped)}, "
        f"condition number (numerical range) {float(spec.condition_number):.3e}"
    )
    print(f"{'k':>5}  {'d_k':>12}  {'cumulative share':>16}")
    share = np.cumsum(d) / d.sum()
    for i in range(min(args.top, d.size)):
        print(f"{i:>5}  {d[i]:>12.6e}  {share[i]:>16.6f}")
    return 0


def _cmd_verify(args) -> int:
    from kernel_sd import theory
    from kernel_sd._progress import progress

    names = args.statement or None
    if args.paper:
        names = [s.name for s in theory.statements(args.paper)]
    if not theory.statements():
        raise UsageError("no statements are registered")
    rows = theory.verify(
        args.instances,
        seed=args.seed,
        names=names,
        progress=None
        if args.no_progress
        else (lambda it, n, d: progress(it, total=n, desc=d)),
    )
    width = max(len(r.name) for r in rows)
    header = (
        f"{'statement':<{width}}  {'paper':<8}  {'instances':>9}  {'checks':>8}  "
        f"{'violations':>10}  {'worst slack':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.name:<{width}}  {r.paper:<8}  {r.instances:>9}  {r.checks:>8}  "
            f"{r.violations:>10}  {r.worst_slack:>11.3e}"
        )
    bad = sum(r.violations for r in rows)
    print(
        f"{len(rows)} statements, {sum(r.checks for r in rows)} checks, {bad} violations "
        f"(relative slack {theory.RTOL:g} allowed)"
    )
    return 1 if bad else 0


def experiments_dir() -> pathlib.Path:
    """The ``experiments/`` folder of the source checkout kernel-sd runs from."""
    return pathlib.Path(__file__).resolve().parents[1] / "experiments"


def _cmd_reproduce(args) -> int:
    import runpy

    root = experiments_dir()
    available = (
        sorted(p.parent.name for p in root.glob("*/run.py")) if root.is_dir() else []
    )
    if not available:
        raise UsageError(
            f"no experiments found under {root}; `reproduce` runs from a source "
            "checkout installed with `pip install -e .`"
        )
    names = available if args.name == "all" else [args.name]
    for name in names:
        if name not in available:
            raise UsageError(
                f"unknown experiment {name!r}; choose from: all, {', '.join(available)}"
            )
    for name in names:
        main_fn = runpy.run_path(
            str(root / name / "run.py"), run_name=f"experiments.{name}"
        )["main"]
        argv = ["--out", args.out] + (["--quick"] if args.quick else [])
        code = int(main_fn(argv) or 0)
        if code:
            return code
    return 0


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return v


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def _add_problem_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        choices=("sinusoid", "toy"),
        default="sinusoid",
        help="built-in problem: noisy sin(2πx) samples (default) or the "
        "11 points of Mobahi et al. 2020",
    )
    p.add_argument(
        "--n",
        type=_positive_int,
        default=40,
        help="training points for --data sinusoid (default 40)",
    )
    p.add_argument(
        "--noise",
        type=_nonneg_float,
        default=0.4,
        help="label noise std for --data sinusoid (default 0.4)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--kernel", choices=KERNEL_NAMES, default="rbf", help="kernel (default rbf)"
    )
    p.add_argument(
        "--lengthscale",
        type=_positive_float,
        default=0.08,
        help="kernel lengthscale (default 0.08, i.e. exp(-78 |x-z|^2) for rbf)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kernel-sd`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="kernel-sd",
        description="Kernel self-distillation as spectral filters (float64 throughout).",
        epilog="Examples:\n  kernel-sd distill --rounds 8\n"
        "  kernel-sd distill --data toy --eps 0.01 --rounds 10\n"
        "  kernel-sd spectrum --kernel laplace --lengthscale 0.2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "distill",
        help="self-distillation rounds on a built-in problem: table + figure",
        description="Run self-distillation rounds (constrained form with --eps, or "
        "penalised with --lam), print c_t, train/test MSE and the effective "
        "number of basis functions per round, and save the fits per round.",
        epilog="Examples:\n  kernel-sd distill --rounds 8\n"
        "  kernel-sd distill --data toy --eps 0.01 --rounds 10\n"
        "  kernel-sd distill --lam 1e-3 --kernel matern32 --lengthscale 0.2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_problem_args(p)
    form = p.add_mutually_exclusive_group()
    form.add_argument(
        "--eps",
        type=_positive_float,
        default=None,
        help="constraint level: (1/K)|f(X) - y|^2 <= eps (default 0.05)",
    )
    form.add_argument(
        "--lam",
        type=_nonneg_float,
        default=None,
        help="fixed penalty c_t = lam every round (penalised form)",
    )
    p.add_argument(
        "--rounds", type=_positive_int, default=8, help="rounds T (default 8)"
    )
    p.add_argument(
        "--out", default="figures", help="folder for the figure (default figures/)"
    )
    p.add_argument("--no-figure", action="store_true", help="print the table only")
    p.set_defaults(func=_cmd_distill)

    p = sub.add_parser(
        "spectrum",
        help="eigenvalues of k(X, X)/K on a built-in problem",
        description="Print the top eigenvalues of G = k(X, X)/K with the noise floor, "
        "numerical rank and condition number.",
    )
    _add_problem_args(p)
    p.add_argument("--top", type=_positive_int, default=15, help="eigenvalues to list")
    p.set_defaults(func=_cmd_spectrum)

    p = sub.add_parser(
        "verify",
        help="check every registered theorem on random instances",
        description="Draw random problems (kernels, bandwidths, data, eps, spectra of "
        "controlled condition), check every registered statement of the two "
        "papers, and print statement / instances / violations / worst slack. "
        "Exits 1 on any violation.",
        epilog="Examples:\n  kernel-sd verify\n  kernel-sd verify --instances 100 --paper MFB20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--instances",
        type=_positive_int,
        default=1000,
        help="random instances per statement (default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--paper", choices=("MFB20", "NMBMK23"), help="only this paper's statements"
    )
    p.add_argument(
        "--statement", action="append", help="only this statement (repeatable)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser(
        "reproduce",
        help="regenerate a paper's figures into figures/",
        description="Run experiments/<name>/run.py (from a source checkout) and write its "
        "figures (PNG and PDF) into --out.",
        epilog="Examples:\n  kernel-sd reproduce all\n  kernel-sd reproduce mobahi2020 --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="experiment name (a folder of experiments/) or 'all'")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument(
        "--quick", action="store_true", help="small, fast version (smoke test)"
    )
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kernel-sd`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    import jax

    jax.config.update("jax_enable_x64", True)
    try:
        return int(args.func(args))
    except (ValueError, UsageError) as err:
        print(f"kernel-sd {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
