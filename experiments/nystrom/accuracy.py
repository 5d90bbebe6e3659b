"""Low-rank vs exact traces: errors of ``c_t`` and ``f_t(X)`` against the rank m."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nystrom import EXPERIMENT
from kernel_sd.plotting import OKABE_ITO, new_figure, style

LABELS = {
    "pivoted": ("Nyström, pivoted", OKABE_ITO[0], "o"),
    "uniform": ("Nyström, uniform (worst of seeds)", OKABE_ITO[3], "s"),
    "lanczos": ("Lanczos, top m of exact G", OKABE_ITO[2], "^"),
}
"""Legend label, colour and marker of each method."""


def _problem(cfg: Config, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(cfg.n, cfg.p))
    f = np.sin(2.0 * np.pi * X[:, 0]) + X[:, 1] * X[:, 2]
    return X, f + cfg.noise * rng.standard_normal(cfg.n)


def _compare(exact, approx) -> dict:
    """Relative errors of ``c_t`` and ``f_t(X)`` and the collapse rounds."""
    c, ca = np.asarray(exact.c), np.asarray(approx.c)
    both = np.isfinite(c) & np.isfinite(ca)
    c_err = float(np.max(np.abs(ca[both] - c[both]) / c[both])) if both.any() else 0.0
    f, fa = np.asarray(exact.train_pred), np.asarray(approx.train_pred)
    live = np.isfinite(c)  # rounds before the exact collapse: f_t != 0
    num = np.linalg.norm(fa[live] - f[live], axis=1)
    pred_err = float(np.max(num / np.linalg.norm(f[live], axis=1)))
    return {
        "c_rel_error": c_err,
        "pred_rel_error": pred_err,
        "collapse_round": int(approx.collapse_round),
        "collapse_matches": int(approx.collapse_round) == int(exact.collapse_round),
    }


def _trace_errors(exact, kernel, X, y, eps, spec, rounds) -> dict:
    """Errors of the low-rank trace; infeasible when no ``c_0 > 0`` exists."""
    try:
        tr = ksd.self_distill(kernel, X, y, eps=eps, rounds=rounds, spectrum=spec)
    except ValueError as err:
        if "infeasible" not in str(err):
            raise
        # y's energy outside span V alone exceeds Kε: the constraint cannot be met.
        return {"c_rel_error": np.inf, "pred_rel_error": np.inf, "collapse_round": None,
                "collapse_matches": False, "feasible": False}  # fmt: skip
    return dict(_compare(exact, tr), feasible=True)


def _low_rank(method: str, kernel, X, m: int, cfg: Config, seed: int, draw: int):
    if method == "lanczos":
        return ksd.lanczos_spectrum(
            kernel, X, k=m, oversample=cfg.lanczos_oversample, seed=seed
        )
    return ksd.nystrom_spectrum(
        kernel, X, m=m, landmarks=method, seed=seed * 1000 + draw
    )


def _row(method, m, draws) -> dict:
    """The worst landmark draw of one (method, m)."""
    worst = {
        key: max(d[key] for d in draws)
        for key in ("c_rel_error", "pred_rel_error", "delta", "seconds")
    }
    worst["feasible"] = all(d["feasible"] for d in draws)
    worst["all_collapse_match"] = all(d["collapse_matches"] for d in draws)
    worst["collapse_rounds"] = [d["collapse_round"] for d in draws]
    worst["error_over_delta"] = (
        max(worst["c_rel_error"], worst["pred_rel_error"]) / worst["delta"]
    )
    worst.update(method=method, m=m)
    verdict = ("infeasible" if not worst["feasible"]
               else "same" if worst["all_collapse_match"] else "DIFFERS")  # fmt: skip
    print(f"{method:>9} {m:>5} {worst['delta']:9.2e} {worst['c_rel_error']:10.2e} "
          f"{worst['pred_rel_error']:12.2e} {worst['error_over_delta']:6.2f} {verdict:>10} "
          f"{worst['seconds']:5.1f}s")  # fmt: skip
    return worst


def default_m_rule(rows: list[dict], target: float) -> dict:
    """Smallest pivoted m meeting ``target``, its δ(m), and error / δ(m) ratios."""
    piv = [r for r in rows if r["method"] == "pivoted" and r["feasible"]]
    # How closely the errors track the trace residual where a stopping rule acts:
    # max of error / δ(m) over the m with δ(m) <= 2 · target (coarser m do worse).
    ratio = max(
        (max(r["c_rel_error"], r["pred_rel_error"]) / r["delta"]
         for r in piv if r["delta"] <= 2 * target),
        default=None,
    )  # fmt: skip
    ok = [
        r for r in piv
        if r["c_rel_error"] <= target and r["pred_rel_error"] <= target
        and r["all_collapse_match"]
    ]  # fmt: skip
    if not ok:
        return {"m": None, "delta": None, "error_over_delta": ratio}
    best = min(ok, key=lambda r: r["m"])
    return {"m": best["m"], "delta": best["delta"], "error_over_delta": ratio}


@EXPERIMENT.compute("nystrom_accuracy")
def accuracy(cfg: Config, seed: int) -> Result:
    """Errors of every low-rank trace against the exact one, per method and rank m."""
    X, y = _problem(cfg, seed)
    n = cfg.n
    kernel = ksd.kernels.Matern(nu=1.5, lengthscale=cfg.lengthscale)
    eps = cfg.eps_fraction * float(y @ y) / n
    exact = ksd.self_distill(kernel, X, y, eps=eps, rounds=cfg.rounds,
                             spectrum=ksd.spectrum(kernel, X))  # fmt: skip
    # tr G = (1/K) Σ k(x_i, x_i): known without any factorisation
    diag = jax.vmap(lambda x: kernel(x[None, :], x[None, :])[0, 0])(jnp.asarray(X))
    trace_G = float(jnp.mean(diag))
    print(f"{'landmarks':>9} {'m':>5} {'δ(m)':>9} {'rel err c':>10} "
          f"{'rel err f(X)':>12} {'err/δ':>6} {'collapse':>10} {'time':>6}")  # fmt: skip
    rows = []
    for method in cfg.methods:
        draws_per_m = range(cfg.uniform_seeds) if method == "uniform" else [0]
        for m in cfg.m_grid:
            if method == "lanczos" and m + cfg.lanczos_oversample > n:
                continue  # the Krylov block needs k + oversample <= n columns
            draws = []
            for draw in draws_per_m:
                t0 = time.perf_counter()
                spec = _low_rank(method, kernel, X, m, cfg, seed, draw)
                draws.append(_trace_errors(exact, kernel, X, y, eps, spec, cfg.rounds))
                draws[-1]["delta"] = 1.0 - float(np.sum(spec.eigvals)) / trace_G
                draws[-1]["seconds"] = time.perf_counter() - t0
            rows.append(_row(method, m, draws))
    rule = default_m_rule(rows, cfg.target_rel_error)
    numbers = {
        "eps": eps,
        "exact_collapse_round": exact.collapse_round,
        "exact_c": np.asarray(exact.c),
        "rows": rows,
        "default_m": rule["m"],
        "default_m_delta": rule["delta"],
        "error_over_delta": rule["error_over_delta"],
    }
    return Result(numbers)


@EXPERIMENT.plot("nystrom_accuracy")
def plot_accuracy(res: Result, cfg: Config):
    rows, target = res.numbers["rows"], cfg.target_rel_error
    fig, axes = new_figure(3, 1, width=3.4, height=2.9)
    panels = [
        ("c_rel_error", "relative error, max over rounds",
         "(a) multipliers: |c̃_t − c_t| / c_t"),
        ("pred_rel_error", "relative error, max over rounds",
         "(b) train predictions: ‖f̃_t − f_t‖ / ‖f_t‖"),
        ("delta", "δ(m) = tr(G − G̃) / tr(G)", "(c) relative trace-norm residual"),
    ]  # fmt: skip
    with style():
        for ax, (key, ylabel, title) in zip(axes[0], panels, strict=True):
            for method, (label, color, marker) in LABELS.items():
                sel = [r for r in rows if r["method"] == method]
                if key != "delta":  # no trace to compare where ε is infeasible
                    sel = [r for r in sel if r["feasible"]]
                m = np.array([r["m"] for r in sel])
                v = np.array([r[key] for r in sel])
                if key == "delta":
                    good = np.array([r["feasible"] for r in sel], dtype=bool)
                    hollow = "x"
                else:
                    good = np.array([r["all_collapse_match"] for r in sel], dtype=bool)
                    hollow = marker
                ax.plot(m, v, color=color, label=label)
                ax.plot(m[good], v[good], marker, color=color, ms=4, ls="none")
                ax.plot(m[~good], v[~good], hollow, color=color, ms=6, ls="none",
                        mfc="white")  # fmt: skip
            ax.axhline(target, color="0.5", ls=":", lw=1,
                       label=f"target {target:g}" if key != "delta"
                       else f"δ = {target:g}")  # fmt: skip
            if not any(r["feasible"] or key == "delta" for r in rows):
                ax.set_ylim(target / 10, target * 10)  # nothing to draw but the target
            ax.set(xscale="log", yscale="log", xlabel="rank m (landmarks or eigenpairs)",
                   ylabel=ylabel, title=title)  # fmt: skip
        axes[0, 0].plot([], [], "o", color="0.3", mfc="white", ls="none",
                        label="collapse round differs")  # fmt: skip
        axes[0, 0].legend(loc="lower left", frameon=False)
        axes[0, 2].plot([], [], "x", color="0.3", ls="none",
                        label="ε infeasible (no c_0 > 0)")  # fmt: skip
        axes[0, 2].legend(loc="lower left", frameon=False)
        fig.suptitle(
            f"Low-rank vs exact self-distillation: n = {cfg.n}, p = {cfg.p}, Matérn 3/2, "
            f"{cfg.rounds} constrained rounds (exact collapse at round "
            f"{res.numbers['exact_collapse_round']})"
        )
    return fig
