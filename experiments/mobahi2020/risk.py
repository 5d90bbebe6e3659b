"""[MFB20] on a planted problem: exact risk per round, and self-distillation vs early stopping."""

from __future__ import annotations

import numpy as np
import scipy.optimize

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.mobahi2020 import EXPERIMENT
from experiments.mobahi2020._common import planted
from kernel_sd import filters
from kernel_sd.plotting import OKABE_ITO, new_figure, style
from kernel_sd.theory import mobahi2020 as theory


@EXPERIMENT.compute("mobahi2020_risk")
def risk(cfg: Config, seed: int) -> Result:
    """Exact bias² + variance of penalised rounds against their Monte-Carlo risk."""
    rng, X, f, spec = planted(cfg, seed)
    K = f.size
    V = np.asarray(spec.eigvecs)
    noise = cfg.planted_sigma * rng.standard_normal((K, cfg.mc_draws))
    Y = f[:, None] + noise
    tr = ksd.distill_from_spectrum(
        spec, Y, lam=cfg.planted_lam, rounds=cfg.planted_rounds
    )
    measured_all = np.mean((np.asarray(tr.train_pred) - f[None, :, None]) ** 2, axis=1)
    measured = measured_all.mean(-1)
    se = measured_all.std(-1) / np.sqrt(cfg.mc_draws)
    pred = ksd.filters.planted_risk(
        np.asarray(tr.shrinkage), V.T @ f, sigma=cfg.planted_sigma, K=K
    )
    z = (measured - pred.risk) / se
    numbers = {
        "predicted_best_round": int(np.argmin(pred.risk)),
        "measured_best_round": int(np.argmin(measured)),
        "predicted_risk": pred.risk, "measured_risk": measured, "measured_se": se,
        "bias2": pred.bias2, "variance": pred.variance,
        "max_abs_z": float(np.max(np.abs(z))), "K": K,
    }  # fmt: skip
    return Result(numbers, {"measured_per_draw": measured_all})


@EXPERIMENT.plot("mobahi2020_risk")
def plot_risk(res: Result, cfg: Config):
    n = res.numbers
    t = np.arange(cfg.planted_rounds)
    best = n["predicted_best_round"]
    fig, axes = new_figure(1, 1, width=5.2, height=3.4)
    with style():
        ax = axes[0, 0]
        ax.plot(t, n["bias2"], "--", color=OKABE_ITO[0], label="bias² (exact)")
        ax.plot(t, n["variance"], ":", color=OKABE_ITO[2], label="variance (exact)")
        ax.plot(t, n["predicted_risk"], "-", color=OKABE_ITO[3],
                label="risk = bias² + variance")  # fmt: skip
        ax.errorbar(
            t, n["measured_risk"], yerr=2 * n["measured_se"], fmt="o", ms=3, color="k",
            capsize=2, label=f"Monte Carlo ({cfg.mc_draws} noise draws, ±2 se)",
        )  # fmt: skip
        ax.axvline(best, color=OKABE_ITO[3], ls="-.", lw=1,
                   label=f"predicted best round ({best})")  # fmt: skip
        ax.set_yscale("log")
        ax.set(
            xlabel="round t", ylabel="training-set risk (1/K)‖f_t(X) − f_true(X)‖²",
            title=f"Planted sin(2πx), σ={cfg.planted_sigma}, K={n['K']}, "
            f"c_t = {cfg.planted_lam:g}",
        )  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
    return fig


def _gf_time_for(d, target):
    """Gradient-flow time t with Σ_k (1 − e^{−t d_k}) = target (monotone in t)."""
    pos = d[d > 0]

    def g(log_t):
        return float(np.sum(-np.expm1(-np.exp(log_t) * pos))) - target

    return float(np.exp(scipy.optimize.brentq(g, -60.0, 80.0, xtol=1e-14)))


@EXPERIMENT.compute("mobahi2020_vs_early_stopping")
def vs_early_stopping(cfg: Config, seed: int) -> Result:
    """Constrained rounds against gradient flow at the same effective dimension."""
    _, _, f, spec = planted(cfg, seed)
    K = f.size
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    theta = V.T @ f
    y = f + cfg.planted_sigma * np.random.default_rng(seed + 1).standard_normal(K)
    # The paper's constrained rounds on one noisy draw.
    z = V.T @ y
    null = float(np.sum(z[d <= float(spec.noise_floor)] ** 2))  # numerical null space
    eps = (null + cfg.vs_gf_fraction * (float(y @ y) - null)) / K
    tr = ksd.distill_from_spectrum(spec, y, eps=eps, rounds=cfg.planted_rounds)
    ts = theory.trace_arrays(tr).t_star
    A = np.asarray(tr.shrinkage)[:ts]
    eff = A.sum(1)
    times = np.array([_gf_time_for(d, e) for e in eff])
    H = np.asarray(filters.gradient_flow(d[None, :], times[:, None]))
    j = int(np.sum(d > 0)) // 4  # a lower direction to compare with the top one
    sigma = cfg.planted_sigma
    risk_sd = ksd.filters.planted_risk(A, theta, sigma=sigma, K=K).risk
    risk_gf = ksd.filters.planted_risk(H, theta, sigma=sigma, K=K).risk
    fine_t = np.geomspace(times.min() / 10, times.max() * 10, 200)
    Hf = np.asarray(filters.gradient_flow(d[None, :], fine_t[:, None]))
    numbers = {
        "j": j + 1, "d_ratio": d[0] / d[j], "sd_ratio": A[:, 0] / A[:, j],
        "gf_ratio": H[:, 0] / H[:, j], "effective_dimension": eff, "gf_times": times,
        "risk_sd": risk_sd, "risk_gf_matched": risk_gf, "eps": eps,
    }  # fmt: skip
    arrays = {
        "sd_filters": A, "gf_filters": H,
        "gf_curve_dimension": Hf.sum(1),
        "gf_curve_risk": ksd.filters.planted_risk(Hf, theta, sigma=sigma, K=K).risk,
    }  # fmt: skip
    return Result(numbers, {k: np.asarray(v) for k, v in arrays.items()})


@EXPERIMENT.plot("mobahi2020_vs_early_stopping")
def plot_vs_early_stopping(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    A, H, eff = a["sd_filters"], a["gf_filters"], n["effective_dimension"]
    ts, j = A.shape[0], n["j"]
    fig, axes = new_figure(3, 1, width=3.6, height=3.1)
    idx = np.arange(A.shape[1]) + 1
    show = sorted({0, ts // 2, ts - 1})
    with style():
        ax = axes[0, 0]
        for i, t in enumerate(show):
            col = OKABE_ITO[i]
            ax.semilogy(
                idx, A[t], "-", color=col, label=f"SD round {t} (Σh={eff[t]:.1f})"
            )
            ax.semilogy(idx, H[t], "--", color=col, label="GF, same Σh")
        ax.set_ylim(1e-12, 2)
        ax.set(
            xlabel="eigen-index k", ylabel="filter h(d_k)",
            title="Shrinkage at matched effective dimension",
        )  # fmt: skip
        ax.legend(frameon=False, fontsize=6.5)
        ax = axes[0, 1]
        rounds = np.arange(ts)
        ax.semilogy(rounds, n["sd_ratio"], "o-", ms=3,
                    label="self-distillation A_t[1]/A_t[j]")  # fmt: skip
        ax.semilogy(rounds, n["gf_ratio"], "s-", ms=3, label="gradient flow h[1]/h[j]")
        ax.axhline(n["d_ratio"], color="0.3", ls="--", lw=1, label=f"d_1/d_j (j={j})")
        ax.set(
            xlabel="SD round t (GF at matched Σh)", ylabel="top / lower ratio",
            title="Top-to-lower shrinkage ratio",
        )  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 2]
        ax.plot(a["gf_curve_dimension"], a["gf_curve_risk"], "-", color=OKABE_ITO[1],
                label="gradient flow (all t)")  # fmt: skip
        ax.plot(eff, n["risk_sd"], "o", ms=3, color=OKABE_ITO[0],
                label="self-distillation rounds")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(
            xlabel="effective dimension Σ_k h(d_k)",
            ylabel="expected risk of the filter (exact)",
            title="Risk vs effective dimension",
        )  # fmt: skip
        ax.legend(frameon=False)
        fig.suptitle(
            f"Self-distillation (ε = {n['eps']:.3g}, {ts} rounds before collapse) "
            "vs early stopping (gradient flow), planted sin(2πx) + noise"
        )
    return fig
