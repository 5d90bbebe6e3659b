"""``kernel-sd``: the command-line entry point.

Subcommands:

- ``distill``: self-distillation on a built-in problem or a user's file; per-round
  table, figure and results on disk.
- ``spectrum``: eigenvalues of ``k(X, X)/K``: table, figure and results on disk.
  Both take ``--method exact|nystrom|lanczos`` (with ``--rank``) for large n.
- ``verify``: check every registered statement on many random instances.
- ``reproduce``: regenerate a paper's figures with the experiments' runner.
- ``bench``: the registered benchmark suites of ``experiments/benchmarks/``.

Papers, statements, experiments and benchmark suites are discovered from their
registries (``kernel_sd.theory``, ``experiments._runner``,
``experiments.benchmarks``); the last two live in the source checkout.

Ad-hoc commands write into ``kernel-sd-results/`` by default (git-ignored), so
running them inside the checkout never changes tracked files; ``figures/`` is
``reproduce``'s folder. The CLI enables float64 (``jax_enable_x64``) before any
computation. User mistakes (bad or conflicting options, an output folder that
cannot be written, unreadable input files, infeasible ε) are reported in one line
with exit code 2, no traceback, before any long computation.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import pathlib
import sys
from collections.abc import Sequence

from kernel_sd import _cli_problem as problem
from kernel_sd._cli_problem import UsageError

__all__ = ["main", "build_parser", "experiments_dir", "DEFAULT_OUT"]

DEFAULT_OUT = "kernel-sd-results"
"""Output folder of the ad-hoc commands (``distill``, ``spectrum``, ``verify``)."""


def _output(args) -> pathlib.Path:
    """The ``--out`` folder, created and checked for writing before any computation."""
    from kernel_sd import results

    try:
        return results.prepare_dir(args.out)
    except ValueError as err:
        raise UsageError(f"--out: {err}") from None


def _cmd_distill(args) -> int:
    import numpy as np

    import kernel_sd as ksd
    from kernel_sd import plotting, results

    problem.resolve(args, needs_targets=True)
    if args.eps is None and args.lam is None:
        args.eps = 0.1
    out = _output(args)
    ds = problem.load(args, needs_targets=True)
    kernel = problem.kernel(args)
    has_test = ds.X_test.shape[0] > 0
    trace = ksd.self_distill(
        kernel, ds.X, ds.y, eps=args.eps, lam=args.lam, rounds=args.rounds,
        X_test=ds.X_test if has_test else None,
        spectrum=problem.spectrum(args, kernel, ds.X),
    )  # fmt: skip
    form = f"eps = {args.eps:g}" if args.eps is not None else f"lam = {args.lam:g}"
    print(f"{ds.name}; {problem.describe_kernel(args, kernel)}; {form}")
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
    header = (f"{'round':>5}  {'c_t':>12}  {'train MSE':>10}  {'test MSE':>10}  "
              f"{'sum_k A_t[k]':>12}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for t in range(trace.rounds):
        c = float(trace.c[t])
        c_txt = "inf (f = 0)" if not np.isfinite(c) else f"{c:.6g}"
        print(f"{t:>5}  {c_txt:>12}  {train_mse[t]:>10.5f}  {test_mse[t]:>10.5f}  "
              f"{eff[t]:>12.4f}")  # fmt: skip
    best = int(np.argmin(test_mse)) if has_test else -1
    if has_test:
        target = "the clean target" if not args.input else "held-out targets"
        print(f"best round by test MSE (to {target}): {best} ({test_mse[best]:.5f})")
    cr = trace.collapse_round
    print(f"collapse round: {cr if cr >= 0 else f'none within {trace.rounds} rounds'}")

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
    params = {**problem.params(args), "eps": args.eps, "lam": args.lam,
              "rounds": args.rounds}  # fmt: skip
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

    problem.resolve(args, needs_targets=False)
    out = _output(args)
    ds = problem.load(args, needs_targets=False)
    kernel = problem.kernel(args)
    spec = problem.spectrum(args, kernel, ds.X)
    d = np.asarray(spec.eigvals)
    print(f"{ds.name}; {problem.describe_kernel(args, kernel)}")
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
    written = (
        []
        if args.no_figure
        else plotting.save(plotting.plot_spectrum(spec), out / "spectrum.png")
    )
    path = results.write(
        out, "spectrum", params=problem.params(args),
        numbers={"rank": spec.rank, "noise_floor": spec.noise_floor,
                 "n_clamped": spec.n_clamped, "condition_number": spec.condition_number},
        arrays={"eigvals": spec.eigvals}, seed=args.seed,
    )  # fmt: skip
    print("wrote: " + ", ".join([*written, str(path), str(path.with_suffix(".npz"))]))
    return 0


def _cmd_verify(args) -> int:
    from kernel_sd import results, theory
    from kernel_sd._progress import progress

    if args.quick and args.instances is not None:
        raise UsageError("--quick runs 50 instances; give --quick or --instances.")
    if args.paper and args.statement:
        raise UsageError("give --paper or --statement, not both.")
    names = args.statement or None
    if args.paper:
        names = [s.name for s in theory.statements(args.paper)]
    if names:  # unknown names: one line with the known ones; former names map
        names = [theory.get(name).name for name in names]
    instances = 50 if args.quick else (args.instances or 1000)
    out = _output(args)
    rows = theory.verify(
        instances,
        seed=args.seed,
        names=names,
        progress=None
        if args.no_progress
        else (lambda it, n, d: progress(it, total=n, desc=d)),
    )
    width = max(len(r.name) for r in rows)
    header = (f"{'statement':<{width}}  {'paper':<8}  {'origin':<7}  {'instances':>9}  "
              f"{'checks':>8}  {'violations':>10}  {'worst slack':>11}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.name:<{width}}  {r.paper:<8}  {r.origin:<7}  {r.instances:>9}  "
              f"{r.checks:>8}  {r.violations:>10}  {r.worst_slack:>11.3e}")  # fmt: skip
    bad = sum(r.violations for r in rows)
    print(f"{len(rows)} statements, {sum(r.checks for r in rows)} checks, {bad} violations "
          f"(relative slack {theory.RTOL:g} allowed)")  # fmt: skip
    path = results.write(
        out, "verify",
        params={"instances": instances, "seed": args.seed, "names": names},
        numbers={"statements": [r._asdict() for r in rows], "violations": bad},
        seed=args.seed,
    )  # fmt: skip
    print(f"wrote: {path}")
    return 1 if bad else 0


def experiments_dir() -> pathlib.Path:
    """The ``experiments/`` folder of the source checkout kernel-sd runs from."""
    return pathlib.Path(__file__).resolve().parents[1] / "experiments"


def _experiments_module(name: str):
    """``experiments.<name>`` of the source checkout, or None without a checkout."""
    root = experiments_dir()
    pkg = sys.modules.get("experiments")
    if pkg is None:
        init = root / "__init__.py"
        if not init.is_file():
            return None
        spec = importlib.util.spec_from_file_location(
            "experiments", init, submodule_search_locations=[str(root)]
        )
        pkg = importlib.util.module_from_spec(spec)
        sys.modules["experiments"] = pkg
        try:
            spec.loader.exec_module(pkg)
        except BaseException:
            del sys.modules["experiments"]
            raise
    elif pathlib.Path(getattr(pkg, "__file__", None) or "").parent.resolve() != root:
        return None  # an unrelated package called `experiments` is loaded
    return importlib.import_module(f"experiments.{name}")


def _no_checkout(args) -> int:
    raise UsageError(
        f"`{args.command}` runs from a source checkout installed with `pip install -e .` "
        f"(no experiments found under {experiments_dir()})."
    )


def _sub(sub, name, help, description, examples):
    return sub.add_parser(
        name, help=help, description=description,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def _add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT}/, not tracked by git)")  # fmt: skip


def _add_registered(sub, name, module, help, description, examples) -> None:
    """A subcommand whose arguments and run function come from ``experiments.<module>``."""
    p = _sub(sub, name, help, description, examples)
    mod = _experiments_module(module)
    if mod is None:
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        p.set_defaults(func=_no_checkout)
        return
    mod.add_arguments(p)
    p.set_defaults(func=mod.run_args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kernel-sd`` (exposed for documentation and tests)."""
    from kernel_sd import __version__, theory

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
    problem.add_arguments(p)
    form = p.add_mutually_exclusive_group()
    form.add_argument("--eps", type=problem.positive_float, default=None,
                      help="constraint level: (1/K)|f(X) - y|^2 <= eps (default 0.1)")  # fmt: skip
    form.add_argument("--lam", type=problem.nonneg_float, default=None,
                      help="fixed penalty c_t = lam every round (penalised form)")  # fmt: skip
    p.add_argument("--rounds", type=problem.positive_int, default=8,
                   help="rounds T (default 8)")  # fmt: skip
    _add_out(p)
    p.add_argument("--no-figure", action="store_true", help="skip the figures")
    p.set_defaults(func=_cmd_distill)

    p = _sub(
        sub, "spectrum", "eigenvalues of k(X, X)/K: table, figure, results",
        "Print the top eigenvalues of G = k(X, X)/K with the noise floor, numerical rank "
        "and condition number; write spectrum.png and spectrum.json/.npz into --out.",
        ["kernel-sd spectrum --kernel laplace --lengthscale 0.2",
         "kernel-sd spectrum --input mydata.npz --kernel rbf --lengthscale 2 --top 30"],
    )  # fmt: skip
    problem.add_arguments(p)
    p.add_argument("--top", type=problem.positive_int, default=15,
                   help="eigenvalues to list")  # fmt: skip
    _add_out(p)
    p.add_argument("--no-figure", action="store_true", help="skip the figure")
    p.set_defaults(func=_cmd_spectrum)

    p = _sub(
        sub, "verify", "check every registered theorem on random instances",
        "Draw random problems (kernels, bandwidths, data, eps, spectra of controlled "
        "condition), check every registered statement, and print statement / "
        "instances / violations / worst slack; write verify.json into --out. "
        "Exits 1 on any violation.",
        ["kernel-sd verify", "kernel-sd verify --quick",
         f"kernel-sd verify --instances 100 --paper {theory.papers()[0]}"],
    )  # fmt: skip
    p.add_argument("--instances", type=problem.positive_int, default=None,
                   help="random instances per statement (default 1000)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="50 instances per statement")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--paper", choices=theory.papers(), help="only this paper's statements"
    )
    p.add_argument("--statement", action="append",
                   help="only this statement (repeatable)")  # fmt: skip
    _add_out(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_verify)

    _add_registered(
        sub, "reproduce", "_runner", "regenerate a paper's figures into figures/",
        "Run the parts of the named experiments (packages of experiments/, from a "
        "source checkout) and write their figures (PNG and PDF) and numbers (JSON, "
        "npz) into --out; parts already stored with unchanged parameters and source "
        "are skipped.",
        ["kernel-sd reproduce all", "kernel-sd reproduce mobahi2020 --quick --out /tmp/figs",
         "kernel-sd reproduce mobahi2020 --only risk"],
    )  # fmt: skip
    _add_registered(
        sub, "bench", "benchmarks", "benchmark suites: timings, memory, accelerators",
        "Run a registered benchmark suite of experiments/benchmarks/ (see its README): "
        "tables are printed and results written into --out.",
        ["kernel-sd bench --quick", "kernel-sd bench --sizes 1000 2000",
         "kernel-sd bench scale", "kernel-sd bench million", "kernel-sd bench gpu"],
    )  # fmt: skip
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
