"""[MFB20] on the paper's toy: fits per round, multipliers and collapse, shrinkage."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.mobahi2020 import EXPERIMENT
from experiments.mobahi2020._common import median_lengthscale, mse, toy
from kernel_sd import filters, plotting
from kernel_sd.plotting import OKABE_ITO, new_figure, round_colors, style
from kernel_sd.theory import mobahi2020 as theory


@EXPERIMENT.compute("mobahi2020_toy_fits")
def toy_fits(cfg: Config, seed: int) -> Result:
    """Test error to sin(2πx) per round and the collapse round."""
    ds, _, tr = toy(cfg)
    test = mse(np.asarray(tr.test_pred), ds.y_test)
    numbers = {
        "collapse_round": tr.collapse_round,
        "c": np.asarray(tr.c),
        "test_mse_to_sin": test,
        "best_round": int(np.argmin(test)),
    }
    arrays = {"test_pred": np.asarray(tr.test_pred), "X": ds.X, "y": ds.y,
              "X_test": ds.X_test, "y_test": ds.y_test}  # fmt: skip
    return Result(numbers, arrays)


@EXPERIMENT.plot("mobahi2020_toy_fits")
def plot_toy_fits(res: Result, cfg: Config):
    a = res.arrays
    return plotting.plot_fit_curves(
        a["test_pred"], res.numbers["collapse_round"], a["X"], a["y"], a["X_test"],
        a["y_test"], title=f"[MFB20] toy: RBF γ=80, ε={cfg.toy_eps}: fit after each round",
    )  # fmt: skip


@EXPERIMENT.compute("mobahi2020_multipliers")
def multipliers(cfg: Config, seed: int) -> Result:
    """``c_t`` against its bounds, ``r_t``, and the collapse round over an ε grid."""
    ds, k, tr = toy(cfg)
    a = theory.trace_arrays(tr)
    ts = a.t_star
    lo, up = theory.multiplier_interval(a.d, a.norm2[:ts], a.K, a.eps)
    r = np.sqrt(a.norm2 / (a.K * a.eps))
    energy = float(ds.y @ ds.y) / a.K
    eps_grid = energy * np.geomspace(*cfg.collapse_eps, cfg.collapse_grid)
    sw = ksd.self_distill_sweep(
        k,
        ds.X,
        ds.y,
        eps=eps_grid,
        rounds=cfg.collapse_max_rounds,
        spectrum=tr.spectrum,
    )
    observed = np.asarray(sw.collapse_round)
    kappa = float(tr.spectrum.condition_number)
    r0 = np.sqrt(float(ds.y @ ds.y) / (a.K * eps_grid))
    pred_lo, pred_up = theory.collapse_interval(r0, kappa)
    # Near interpolation: log-log slope of t* against ε over the smaller ε values
    # (−1/2 would be t* ∝ 1/√ε).
    small = eps_grid < 1e-2 * energy
    slope = float(np.polyfit(np.log(eps_grid[small]), np.log(observed[small]), 1)[0])
    inside = (observed >= pred_lo) & (observed <= pred_up)
    numbers = {
        "c": a.c[:ts], "c_lower": lo, "c_upper": up, "r": r[: ts + 1],
        "kappa": kappa, "eps_grid": eps_grid, "collapse_observed": observed,
        "collapse_lower": pred_lo, "collapse_upper": pred_up,
        "collapse_inside_bounds": int(inside.sum()), "small_eps_slope": slope,
        "collapse_report": _collapse_report(cfg),
    }  # fmt: skip
    return Result(numbers)


def _report_problems(cfg: Config):
    """Kernels of the collapse report: the toy, and median-lengthscale RBFs on real data."""
    ds = ksd.data.mobahi_toy()
    yield "toy", ksd.kernels.RBF(lengthscale=cfg.toy_lengthscale), ds.X, ds.y
    if len(cfg.report_problems) == 1:
        return
    n = cfg.report_n
    dia = ksd.data.diabetes(n, seed=0)
    yield (
        "diabetes",
        ksd.kernels.RBF(lengthscale=median_lengthscale(dia.X)),
        dia.X,
        dia.y,
    )
    fr = ksd.data.friedman1(n, seed=0, n_test=1)
    X = (fr.X - fr.X.mean(0)) / fr.X.std(0)
    y = (fr.y - fr.y.mean()) / fr.y.std()
    yield "friedman1", ksd.kernels.RBF(lengthscale=median_lengthscale(X)), X, y
    dg = ksd.data.digits(n, seed=0)
    y = np.where(dg.y == 3, 1.0, -1.0)  # one digit against the rest, ±1
    yield (
        "digits_3_vs_rest",
        ksd.kernels.RBF(lengthscale=median_lengthscale(dg.X)),
        dg.X,
        y,
    )


def _collapse_report(cfg: Config) -> dict:
    """Observed ``t*`` and ``t*/r_0`` beside ``(r_0 − 1)/κ <= t* <= κ(r_0 − 1) + 1``.

    ε runs over fractions of the targets' energy on the range of ``G`` (plus the
    null-space energy, which no fit can remove); ``r_0 = ‖y‖/√(Kε)``, and the
    bounds use ``r_0`` on the range (``‖y‖² − s_0`` over ``Kε − s_0``).
    """
    out = {}
    for name, kernel, X, y in _report_problems(cfg):
        if name not in cfg.report_problems:
            continue
        spec = ksd.spectrum(kernel, X)
        z = np.asarray(spec.eigvecs).T @ y
        d = np.asarray(spec.eigvals)
        K, total = y.size, float(y @ y)
        null = total - float(np.sum(z[d > 0] ** 2))
        fracs = np.geomspace(*cfg.report_eps_fractions, cfg.report_grid)
        eps = (null + fracs * (total - null)) / K
        sw = ksd.self_distill_sweep(kernel, X, y, eps=eps, rounds=cfg.collapse_max_rounds,
                                    spectrum=spec)  # fmt: skip
        t_star = np.asarray(sw.collapse_round)
        kappa = float(spec.condition_number)
        r0 = np.sqrt(total / (K * eps))
        lo, up = theory.collapse_interval(
            np.sqrt((total - null) / (K * eps - null)), kappa
        )
        out[name] = {
            "K": K, "kappa": kappa, "eps_fraction": fracs, "r0": r0, "t_star": t_star,
            "t_star_over_r0": t_star / r0, "lower": lo, "upper": up,
            "inside": bool(np.all((t_star >= lo) & (t_star <= up) & (t_star > 0))),
        }  # fmt: skip
    return out


@EXPERIMENT.plot("mobahi2020_multipliers")
def plot_multipliers(res: Result, cfg: Config):
    n = res.numbers
    c, lo, up, r = n["c"], n["c_lower"], n["c_upper"], n["r"]
    ts = len(c)
    eps_grid, observed = n["eps_grid"], n["collapse_observed"]
    fig, axes = new_figure(4, 1, width=3.6, height=3.0)
    t = np.arange(ts)
    with style():
        ax = axes[0, 3]
        for i, (name, rep) in enumerate(n["collapse_report"].items()):
            color = OKABE_ITO[i % len(OKABE_ITO)]
            ax.fill_between(rep["r0"], np.maximum(rep["lower"], 1e-9), rep["upper"],
                            color=color, alpha=0.08)  # fmt: skip
            ax.loglog(rep["r0"], rep["upper"], ":", lw=1, color=color)
            ax.loglog(rep["r0"], rep["t_star"], "o-", ms=3, color=color,
                      label=f"{name}: κ = {rep['kappa']:.1e}")  # fmt: skip
        r0_all = np.sort(
            np.concatenate([rep["r0"] for rep in n["collapse_report"].values()])
        )
        ax.loglog(r0_all, r0_all, "--", color="0.4", lw=1, label="t* = r_0")
        ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ax.set(xlabel="r_0 = ‖y‖/√(Kε)", ylabel="rounds before collapse t*",
               title="Real kernels: observed t* ≈ r_0 inside\nvacuous bounds [(r_0−1)/κ, κ(r_0−1)+1]")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 0]
        ax.fill_between(
            t, lo, up, color=OKABE_ITO[5], alpha=0.3, label="bounds d/(r_t−1)"
        )
        ax.plot(t, up, "--", color=OKABE_ITO[0], lw=1, label="upper d_max/(r_t−1)")
        ax.plot(t, lo, ":", color=OKABE_ITO[0], lw=1, label="lower d_min/(r_t−1)")
        ax.plot(t, c, "o-", color=OKABE_ITO[3], label="c_t (observed)")
        ax.set_yscale("log")
        ax.set(xlabel="round t", ylabel="multiplier c_t", title="Multiplier per round")
        ax.legend(frameon=False, loc="upper left")
        ax = axes[0, 1]
        tt = np.arange(len(r))
        ax.plot(tt, r, "o-", color=OKABE_ITO[2], label="r_t = ‖y_t‖/√(Kε)")
        ax.axhline(1.0, color="0.4", ls="--", lw=1, label="r = 1: collapse")
        ax.set(xlabel="round t", ylabel="r_t",
               title=f"Target norm ratio (collapse at t={ts})")  # fmt: skip
        ax.legend(frameon=False)
        ax = axes[0, 2]
        ax.fill_between(
            eps_grid, np.maximum(n["collapse_lower"], 0.1), n["collapse_upper"],
            color=OKABE_ITO[5], alpha=0.3, label=f"bounds (κ = {n['kappa']:.1f})",
        )  # fmt: skip
        ax.plot(eps_grid, observed, "o-", ms=3, color=OKABE_ITO[3],
                label=f"observed t* (slope {n['small_eps_slope']:.2f} for small ε)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(
            xlabel="ε", ylabel="rounds before collapse t*",
            title="Collapse round vs ε: predicted and observed",
        )  # fmt: skip
        ax.legend(frameon=False)
    return fig


@EXPERIMENT.compute("mobahi2020_shrinkage")
def shrinkage(cfg: Config, seed: int) -> Result:
    """``A_t`` per eigendirection, normalised, and the effective number of basis functions."""
    _, _, tr = toy(cfg)
    a = theory.trace_arrays(tr)
    A = a.A[: a.t_star]
    norm = A / np.linalg.norm(A, axis=1, keepdims=True)
    eff = np.asarray(filters.effective_dimension(A))
    pr = np.asarray(filters.participation_ratio(A))
    numbers = {"sum_A": eff, "participation_ratio": pr, "top_share": norm[:, 0]}
    return Result(numbers, {"shrinkage": A, "normalised": norm})


@EXPERIMENT.plot("mobahi2020_shrinkage")
def plot_shrinkage(res: Result, cfg: Config):
    A, norm = res.arrays["shrinkage"], res.arrays["normalised"]
    ts = A.shape[0]
    colors = round_colors(ts)
    idx = np.arange(A.shape[1]) + 1
    fig, axes = new_figure(3, 1, width=3.6, height=3.0)
    with style():
        for t in range(ts):
            axes[0, 0].semilogy(idx, A[t], "o-", ms=3, color=colors[t], label=f"t={t}")
            axes[0, 1].semilogy(
                idx, norm[t], "o-", ms=3, color=colors[t], label=f"t={t}"
            )
        axes[0, 0].set(
            xlabel="eigen-index k (d_k descending)", ylabel="A_t[k]",
            title="Shrinkage per eigendirection",
        )  # fmt: skip
        axes[0, 1].set(
            xlabel="eigen-index k (d_k descending)", ylabel="A_t[k] / ‖A_t‖",
            title="Normalised: mass moves to top directions",
        )  # fmt: skip
        axes[0, 1].legend(frameon=False, ncol=2, fontsize=7)
        ax = axes[0, 2]
        ax.plot(np.arange(ts), res.numbers["sum_A"], "o-", label="Σ_k A_t[k]")
        ax.plot(np.arange(ts), res.numbers["participation_ratio"], "s-",
                label="participation ratio")  # fmt: skip
        ax.set(
            xlabel="round t", ylabel="number of basis functions",
            title="Effective number of basis functions",
        )  # fmt: skip
        ax.set_ylim(0, None)
        ax.legend(frameon=False)
    return fig
