"""``kernel-sd``: the command-line entry point.

Subcommands:

- ``distill``: self-distillation on a built-in problem or a user's file; per-round
  table, figure and results on disk.
- ``spectrum``: eigenvalues of ``k(X, X)/K``: table, figure and results on disk.

Both take ``--method exact|nystrom|lanczos`` (with ``--rank``) for large n.
- ``verify``: check every registered theorem on many random instances.
- ``reproduce``: regenerate a paper's figures (runs ``experiments/<name>/run.py``).
- ``bench``: the benchmarks of ``experiments/benchmarks/`` (exact path, time and
  memory vs n, the n = 10⁶ trace, accelerators).

The CLI enables float64 (``jax_enable_x64``) before any computation: every
number it prints is a float64 result. User mistakes (bad arguments, infeasible
ε, unreadable files) are reported in one line with exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from kernel_sd import kernels

__all__ = ["main", "build_parser", "experiments_dir"]


class UsageError(Exception):
    """A user mistake: reported as one line, without a traceback, exit code 2."""


def _problem(args):
    from kernel_sd import data

    if args.input:
        return data.load_file(
            args.input, test_fraction=args.test_fraction, seed=args.seed
        )
    if args.data == "toy":
        return data.mobahi_toy()
    return data.sinusoid(args.n, noise=args.noise, seed=args.seed)


def _problem_params(args) -> dict:
    keys = (
        "input",
        "test_fraction",
        "data",
        "n",
        "noise",
        "seed",
        "kernel",
        "lengthscale",
        "method",
        "rank",
    )
    return {k: getattr(args, k) for k in keys}


def _spectrum(args, kernel, X):
    """The spectrum of ``k(X, X)/K`` by ``--method`` (with ``--rank``)."""
    import kernel_sd as ksd

    n = X.shape[0]
    if args.method == "exact":
        if args.rank is not None:
            raise UsageError("--rank applies to --method nystrom or lanczos only.")
        return ksd.spectrum(kernel, X)
    if args.method == "nystrom":
        m = min(n, 1000) if args.rank is None else args.rank
        if m > n:
            raise UsageError(f"--rank {m} landmarks but only n = {n} points.")
        return ksd.nystrom_spectrum(kernel, X, m=m)
    k = min(n - 10, 100) if args.rank is None else args.rank
    if k < 1 or k + 10 > n:
        raise UsageError(
            f"--method lanczos needs --rank <= n - 10 = {n - 10}; use --method exact."
        )
    return ksd.lanczos_spectrum(kernel, X, k=k)


def _cmd_distill(args) -> int:
    import numpy as np

    import kernel_sd as ksd
    from kernel_sd import plotting, results

    if args.eps is None and args.lam is None:
        args.eps = 0.05
    ds = _problem(args)
    kernel = kernels.from_name(args.kernel, lengthscale=args.lengthscale)
    has_test = ds.X_test.shape[0] > 0
    trace = ksd.self_distill(
        kernel, ds.X, ds.y, eps=args.eps, lam=args.lam, rounds=args.rounds,
        X_test=ds.X_test if has_test else None, spectrum=_spectrum(args, kernel, ds.X),
    )  # fmt: skip
    form = f"eps = {args.eps:g}" if args.eps is not None else f"lam = {args.lam:g}"
    print(f"{ds.name}; kernel {args.kernel} (lengthscale {args.lengthscale:g}); {form}")
    spec = trace.spectrum
    print(
        f"spectrum: d_max = {float(spec.eigvals[0]):.4g}, numerical rank "
        f"{int(spec.rank)}/{spec.n_train}, noise floor {float(spec.noise_floor):.2e}"
    )
    train_mse = np.mean((np.asarray(trace.train_pred) - ds.y[None, :]) ** 2, axis=1)
    test_mse = (
        np.mean((np.asarray(trace.test_pred) - ds.y_test[None, :]) ** 2, axis=1)
        if has_test
        else np.full(trace.rounds, np.nan)
    )
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
    best = int(np.argmin(test_mse)) if has_test else -1
    if has_test:
        target = "the clean target" if not args.input else "held-out targets"
        print(f"best round by test MSE (to {target}): {best} ({test_mse[best]:.5f})")
    cr = trace.collapse_round
    print(f"collapse round: {cr if cr >= 0 else f'none within {trace.rounds} rounds'}")

    out = pathlib.Path(args.out)
    figures = []
    if not args.no_figure:
        if ds.X.shape[1] == 1 and has_test and not args.input:
            fig = plotting.plot_fits(
                trace, ds.X, ds.y, ds.X_test, ds.y_test,
                title=f"Self-distillation rounds ({args.kernel}, {form})",
            )  # fmt: skip
            figures += plotting.save(fig, out / "distill_fits.png")
        fig = plotting.plot_rounds(trace, train_mse, test_mse if has_test else None)
        figures += plotting.save(fig, out / "distill_rounds.png")
    params = {
        **_problem_params(args),
        "eps": args.eps,
        "lam": args.lam,
        "rounds": args.rounds,
    }
    numbers = {
        "c": trace.c, "train_mse": train_mse, "test_mse": test_mse,
        "effective_dimension": eff, "collapse_round": cr, "best_round": best,
    }  # fmt: skip
    arrays = {"c": trace.c, "train_pred": trace.train_pred, "shrinkage": trace.shrinkage,
              "eigvals": spec.eigvals}  # fmt: skip
    if has_test:
        arrays["test_pred"] = trace.test_pred
    path = results.write(out, "distill", params=params, numbers=numbers, arrays=arrays,
                         seed=args.seed)  # fmt: skip
    print("wrote: " + ", ".join([*figures, str(path), str(path.with_suffix(".npz"))]))
    return 0


def _cmd_spectrum(args) -> int:
    import numpy as np

    from kernel_sd import plotting, results

    ds = _problem(args)
    kernel = kernels.from_name(args.kernel, lengthscale=args.lengthscale)
    spec = _spectrum(args, kernel, ds.X)
    d = np.asarray(spec.eigvals)
    print(f"{ds.name}; kernel {args.kernel} (lengthscale {args.lengthscale:g})")
    print(
        f"K = {spec.n_train}, numerical rank {int(spec.rank)}, noise floor "
        f"{float(spec.noise_floor):.3e}, clamped {int(spec.n_clamped)}, "
        f"condition number (numerical range) {float(spec.condition_number):.3e}"
    )
    if spec.truncation is not None:
        print(
            f"low-rank ({args.method}): {d.size} eigenpairs hold "
            f"{1 - float(spec.truncation):.6f} of tr G = {float(spec.kernel_trace):.6g}"
        )
    total = d.sum() if spec.kernel_trace is None else float(spec.kernel_trace)
    print(f"{'k':>5}  {'d_k':>12}  {'share of tr G':>16}")
    share = np.cumsum(d) / total
    for i in range(min(args.top, d.size)):
        print(f"{i:>5}  {d[i]:>12.6e}  {share[i]:>16.6f}")
    out = pathlib.Path(args.out)
    written = (
        []
        if args.no_figure
        else plotting.save(plotting.plot_spectrum(spec), out / "spectrum.png")
    )
    path = results.write(
        out, "spectrum", params=_problem_params(args),
        numbers={"rank": spec.rank, "noise_floor": spec.noise_floor,
                 "n_clamped": spec.n_clamped, "condition_number": spec.condition_number},
        arrays={"eigvals": spec.eigvals}, seed=args.seed,
    )  # fmt: skip
    print("wrote: " + ", ".join([*written, str(path)]))
    return 0


def _cmd_verify(args) -> int:
    from kernel_sd import results, theory
    from kernel_sd._progress import progress

    if not theory.statements():
        raise UsageError("no statements are registered")
    names = args.statement or None
    if args.paper:
        names = [s.name for s in theory.statements(args.paper)]
    instances = 50 if args.quick else args.instances
    rows = theory.verify(
        instances,
        seed=args.seed,
        names=names,
        progress=None
        if args.no_progress
        else (lambda it, n, d: progress(it, total=n, desc=d)),
    )
    width = max(len(r.name) for r in rows)
    header = (f"{'statement':<{width}}  {'paper':<8}  {'instances':>9}  {'checks':>8}  "
              f"{'violations':>10}  {'worst slack':>11}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.name:<{width}}  {r.paper:<8}  {r.instances:>9}  {r.checks:>8}  "
              f"{r.violations:>10}  {r.worst_slack:>11.3e}")  # fmt: skip
    bad = sum(r.violations for r in rows)
    print(f"{len(rows)} statements, {sum(r.checks for r in rows)} checks, {bad} violations "
          f"(relative slack {theory.RTOL:g} allowed)")  # fmt: skip
    path = results.write(
        args.out, "verify",
        params={"instances": instances, "seed": args.seed, "names": names},
        numbers={"statements": [r._asdict() for r in rows], "violations": bad},
        seed=args.seed,
    )  # fmt: skip
    print(f"wrote: {path}")
    return 1 if bad else 0


def experiments_dir() -> pathlib.Path:
    """The ``experiments/`` folder of the source checkout kernel-sd runs from."""
    return pathlib.Path(__file__).resolve().parents[1] / "experiments"


def _run_script(path: pathlib.Path, argv: list[str]) -> int:
    import runpy

    main_fn = runpy.run_path(
        str(path), run_name=f"kernel_sd_script_{path.parent.name}"
    )["main"]
    return int(main_fn(argv) or 0)


def _cmd_reproduce(args) -> int:
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
        argv = ["--out", args.out, "--seed", str(args.seed)] + (
            ["--quick"] if args.quick else []
        )
        code = _run_script(root / name / "run.py", argv)
        if code:
            return code
    return 0


def _cmd_bench(args) -> int:
    name = {
        "distill": "bench_distill.py",
        "gpu": "bench_gpu.py",
        "shapes": "bench_shapes.py",
    }.get(args.suite, "bench_scale.py")
    script = experiments_dir() / "benchmarks" / name
    if not script.is_file():
        raise UsageError(f"{script} not found; `bench` runs from a source checkout.")
    argv = ["--out", args.out] + (["--quick"] if args.quick else [])
    if args.suite in ("scale", "million"):
        argv = ["curve" if args.suite == "scale" else "million", *argv]
    elif args.sizes or args.skip_baseline:
        if args.suite != "distill":
            raise UsageError("--sizes and --skip-baseline apply to `bench distill`.")
        if args.sizes:
            argv += ["--sizes", *map(str, args.sizes)]
        if args.skip_baseline:
            argv.append("--skip-baseline")
    return _run_script(script, argv)


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


_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a finite number > 0")
_nonneg_float = _number(float, lambda v: 0 <= v < float("inf"), "a finite number >= 0")
_fraction = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
_positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")


def _add_problem_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--data", choices=("sinusoid", "toy"), default="sinusoid",
                   help="built-in problem: noisy sin(2πx) samples (default) or the "
                        "11 points of Mobahi et al. 2020")  # fmt: skip
    g.add_argument("--input", metavar="FILE",
                   help="your own data instead: .npz with arrays X (n, p) and y (n,), or "
                        ".csv with inputs in the leading columns and the target last")  # fmt: skip
    g.add_argument("--test-fraction", type=_fraction, default=0.0,
                   help="with --input: share of rows held out as a test set (default 0)")  # fmt: skip
    g.add_argument(
        "--n",
        type=_positive_int,
        default=40,
        help="training points for --data sinusoid (default 40)",
    )
    g.add_argument(
        "--noise",
        type=_nonneg_float,
        default=0.4,
        help="label noise std for --data sinusoid (default 0.4)",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument(
        "--kernel", choices=kernels.NAMES, default="rbf", help="kernel (default rbf)"
    )
    g.add_argument("--lengthscale", type=_positive_float, default=0.08,
                   help="kernel lengthscale (default 0.08, i.e. exp(-78 |x-z|^2) for rbf)")  # fmt: skip
    g = p.add_argument_group("spectrum of G (large n)")
    g.add_argument("--method", choices=("exact", "nystrom", "lanczos"), default="exact",
                   help="exact eigh (default); Nystrom with --rank landmarks (memory "
                        "O(n·rank)); or the matrix-free top --rank eigenpairs (Lanczos)")  # fmt: skip
    g.add_argument("--rank", type=_positive_int, default=None,
                   help="landmarks m (nystrom) or eigenpairs k (lanczos); default "
                        "min(n, 1000) and min(n - 10, 100)")  # fmt: skip


def _sub(sub, name, help, description, examples):
    return sub.add_parser(
        name, help=help, description=description,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kernel-sd`` (exposed for documentation and tests)."""
    from kernel_sd import __version__

    parser = argparse.ArgumentParser(
        prog="kernel-sd",
        description="Kernel self-distillation as spectral filters (float64 throughout).",
        epilog="examples:\n  kernel-sd distill --rounds 8\n  kernel-sd verify --quick\n"
               "  kernel-sd reproduce all\n\nRun 'kernel-sd COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--version", action="version", version=f"kernel-sd {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _sub(
        sub, "distill", "self-distillation rounds: table, figures, results",
        "Run self-distillation rounds (constrained form with --eps, or penalised with "
        "--lam), print c_t, train/test MSE and the effective number of basis functions "
        "per round, and write the figures and the numbers (distill.json, distill.npz) "
        "into --out.",
        ["kernel-sd distill --rounds 8",
         "kernel-sd distill --data toy --eps 0.01 --rounds 10",
         "kernel-sd distill --lam 1e-3 --kernel matern32 --lengthscale 0.2",
         "kernel-sd distill --input mydata.csv --test-fraction 0.2 --kernel laplace --lengthscale 1"],
    )  # fmt: skip
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
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--no-figure", action="store_true", help="skip the figures")
    p.set_defaults(func=_cmd_distill)

    p = _sub(
        sub, "spectrum", "eigenvalues of k(X, X)/K: table, figure, results",
        "Print the top eigenvalues of G = k(X, X)/K with the noise floor, numerical rank "
        "and condition number; write spectrum.png and spectrum.json/.npz into --out.",
        ["kernel-sd spectrum --kernel laplace --lengthscale 0.2",
         "kernel-sd spectrum --input mydata.npz --kernel rbf --lengthscale 2 --top 30"],
    )  # fmt: skip
    _add_problem_args(p)
    p.add_argument("--top", type=_positive_int, default=15, help="eigenvalues to list")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--no-figure", action="store_true", help="skip the figure")
    p.set_defaults(func=_cmd_spectrum)

    p = _sub(
        sub, "verify", "check every registered theorem on random instances",
        "Draw random problems (kernels, bandwidths, data, eps, spectra of controlled "
        "condition), check every registered statement of the two papers, and print "
        "statement / instances / violations / worst slack; write verify.json into --out. "
        "Exits 1 on any violation.",
        ["kernel-sd verify", "kernel-sd verify --quick",
         "kernel-sd verify --instances 100 --paper MFB20"],
    )  # fmt: skip
    p.add_argument(
        "--instances",
        type=_positive_int,
        default=1000,
        help="random instances per statement (default 1000)",
    )
    p.add_argument("--quick", action="store_true", help="50 instances per statement")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--paper", choices=("MFB20", "NMBMK23"), help="only this paper's statements"
    )
    p.add_argument(
        "--statement", action="append", help="only this statement (repeatable)"
    )
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_verify)

    p = _sub(
        sub, "reproduce", "regenerate a paper's figures into figures/",
        "Run experiments/<name>/run.py (from a source checkout) and write its figures "
        "(PNG and PDF) and numbers (JSON, npz) into --out; finished parts are skipped "
        "when their parameters are unchanged.",
        ["kernel-sd reproduce all", "kernel-sd reproduce mobahi2020 --quick --out /tmp/figs"],
    )  # fmt: skip
    p.add_argument("name", help="experiment name (a folder of experiments/) or 'all'")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--quick", action="store_true", help="small, fast version (under a minute)"
    )
    p.set_defaults(func=_cmd_reproduce)

    p = _sub(
        sub, "bench", "benchmarks: exact path, time/memory vs n, n = 10^6, accelerators",
        "distill (default): side by side with scikit-learn's KernelRidge, himalaya "
        "(if installed) and NumPy eigh-once / Cholesky-once references: penalised "
        "fits, constrained traces (also against Gram + eigh, per-round refits and "
        "64-value eps sweeps) and features (bench_distill.py). scale: time and peak memory of a "
        "10-round trace from n = 10^3 to 10^6, exact, Nystrom and Lanczos paths, with "
        "a figure (bench_scale.py curve). million: the n = 10^6, m = 4000 trace "
        "(bench_scale.py million). gpu: exact eigh to the largest n that fits, float64 "
        "and float32, and the low-rank path, on whatever device JAX has (bench_gpu.py). "
        "shapes: every kernel-block product (features, Nystrom, Lanczos) at shapes "
        "around 1000 against NumPy (bench_shapes.py). "
        "Tables are printed and results written into --out.",
        ["kernel-sd bench --quick", "kernel-sd bench --sizes 1000 3000",
         "kernel-sd bench scale", "kernel-sd bench million", "kernel-sd bench gpu",
         "kernel-sd bench shapes"],
    )  # fmt: skip
    p.add_argument("suite", nargs="?", default="distill",
                   choices=("distill", "scale", "million", "gpu", "shapes"),
                   help="which benchmark (default distill)")  # fmt: skip
    p.add_argument(
        "--sizes",
        type=_positive_int,
        nargs="+",
        help="n values (default 1000 3000 6000)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument(
        "--skip-baseline", action="store_true", help="skip the slow refit baseline"
    )
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.set_defaults(func=_cmd_bench)
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
    except KeyboardInterrupt:
        print(f"kernel-sd {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
