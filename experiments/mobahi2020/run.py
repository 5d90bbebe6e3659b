"""Reproduce [MFB20] (Mobahi, Farajtabar & Bartlett, NeurIPS 2020) with kernel-sd.

Six figures, each with its numbers stored beside it (``kernel_sd.results``):

1. ``mobahi2020_toy_fits``      the paper's toy: fit after each round until collapse;
2. ``mobahi2020_multipliers``   c_t with its bounds, r_t, predicted vs observed collapse;
3. ``mobahi2020_shrinkage``     A_t per eigendirection, A_t/‖A_t‖, effective basis size;
4. ``mobahi2020_rounds_error``  train/test error vs round: toy, digits, diabetes;
5. ``mobahi2020_risk``          exact bias² + variance vs Monte-Carlo risk per round;
6. ``mobahi2020_vs_early_stopping``  self-distillation vs gradient flow.

Run ``kernel-sd reproduce mobahi2020`` (or ``python experiments/mobahi2020/run.py``);
``--quick`` uses tiny sizes. Finished parts with the same parameters are skipped.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import numpy as np
import scipy.optimize

jax.config.update("jax_enable_x64", True)

import kernel_sd as ksd  # noqa: E402  (after x64 is enabled)
from kernel_sd import filters, plotting, results  # noqa: E402
from kernel_sd._progress import progress  # noqa: E402
from kernel_sd.plotting import OKABE_ITO, new_figure, round_colors, style  # noqa: E402
from kernel_sd.theory import mobahi2020 as theory  # noqa: E402

# --- the toy of [MFB20] -------------------------------------------------------------
# The paper's kernel, bandwidth and ε are not recovered; we use an RBF with
# γ = 80 in exp(−γ (x − x')²), i.e. lengthscale sqrt(1/160), and ε = 0.01 (the
# training MSE allowed per round; (1/K)‖y‖² = 0.5735 on these points).
TOY_LENGTHSCALE = float(np.sqrt(1.0 / 160.0))
TOY_EPS = 0.01
TOY_ROUNDS = 12
# ε grid for predicted vs observed collapse rounds (fractions of (1/K)‖y‖²).
COLLAPSE_EPS = (1e-4, 0.5)
COLLAPSE_GRID = 40
COLLAPSE_MAX_ROUNDS = 400

# --- real data: ε as a fraction of the training energy (1/K)‖Y‖²; RBF with the
# median pairwise distance of the training inputs as lengthscale (median heuristic).
DIGITS_N_TRAIN = 600
DIGITS_EPS_FRACTION = 0.05
DIABETES_EPS_FRACTION = 0.1
REAL_ROUNDS = 15
SEEDS = 5  # random train subsets / splits per data set

# --- planted problem for the risk and early-stopping figures -----------------------
# x ~ U[0, 1], f_true = sin(2πx), Gaussian noise σ; Laplace kernel with lengthscale
# 0.2 (full rank on these points, so noise can be over-fitted); penalised rounds
# c_t = lam in the risk figure (the filter does not depend on the noise draw, so
# the exact bias² + variance is the expected risk).
PLANTED_N = 100
PLANTED_SIGMA = 0.5
PLANTED_LENGTHSCALE = 0.2
PLANTED_LAM = 1e-3
PLANTED_ROUNDS = 30
MC_DRAWS = 2000
# Self-distillation vs early stopping: constrained rounds on one noisy draw of the
# planted problem, ε = (null-space energy + VS_GF_FRACTION × the rest of ‖y‖²)/K
# (the part of y outside the range of G cannot be fitted); risks are those of
# each filter held fixed (exact bias² + variance).
VS_GF_FRACTION = 0.03

QUICK = {
    "DIGITS_N_TRAIN": 120,
    "SEEDS": 2,
    "PLANTED_N": 40,
    "MC_DRAWS": 200,
    "COLLAPSE_GRID": 10,
    "REAL_ROUNDS": 8,
}


def _settings(quick: bool) -> dict:
    s = {
        "DIGITS_N_TRAIN": DIGITS_N_TRAIN,
        "SEEDS": SEEDS,
        "PLANTED_N": PLANTED_N,
        "MC_DRAWS": MC_DRAWS,
        "COLLAPSE_GRID": COLLAPSE_GRID,
        "REAL_ROUNDS": REAL_ROUNDS,
    }
    if quick:
        s.update(QUICK)
    return s


def _toy():
    ds = ksd.data.mobahi_toy()
    k = ksd.kernels.RBF(lengthscale=TOY_LENGTHSCALE)
    tr = ksd.self_distill(
        k, ds.X, ds.y, eps=TOY_EPS, rounds=TOY_ROUNDS, X_test=ds.X_test
    )
    return ds, k, tr


def _mse(pred, target):
    """Mean over points (and outputs) of the squared error, per round."""
    axes = tuple(range(1, pred.ndim))
    return np.mean((pred - target[None]) ** 2, axis=axes)


# ------------------------------------------------------------------------- parts


def part_toy_fits(out, s, seed):
    ds, _, tr = _toy()
    test = _mse(np.asarray(tr.test_pred), ds.y_test)
    fig = plotting.plot_fits(
        tr,
        ds.X,
        ds.y,
        ds.X_test,
        ds.y_test,
        title=f"[MFB20] toy: RBF γ=80, ε={TOY_EPS}: fit after each round",
    )
    numbers = {
        "collapse_round": tr.collapse_round,
        "c": np.asarray(tr.c),
        "test_mse_to_sin": test,
        "best_round": int(np.argmin(test)),
    }
    print(
        f"  toy: collapse at round {tr.collapse_round}; test MSE to sin(2πx) per round "
        + " ".join(f"{v:.4f}" for v in test[: tr.collapse_round + 1])
    )
    return fig, numbers, {"test_pred": np.asarray(tr.test_pred)}


def part_multipliers(out, s, seed):
    ds, k, tr = _toy()
    a = theory.trace_arrays(tr)
    ts = a.t_star
    lo, up = theory.multiplier_interval(a.d, a.norm2[:ts], a.K, a.eps)
    r = np.sqrt(a.norm2 / (a.K * a.eps))
    energy = float(ds.y @ ds.y) / a.K
    eps_grid = energy * np.geomspace(*COLLAPSE_EPS, s["COLLAPSE_GRID"])
    sw = ksd.self_distill_sweep(
        k, ds.X, ds.y, eps=eps_grid, rounds=COLLAPSE_MAX_ROUNDS, spectrum=tr.spectrum
    )
    observed = np.asarray(sw.collapse_round)
    kappa = float(tr.spectrum.condition_number)
    r0 = np.sqrt(float(ds.y @ ds.y) / (a.K * eps_grid))
    pred_lo, pred_up = theory.collapse_interval(r0, kappa)
    # Near interpolation: log-log slope of t* against ε over the smaller ε values
    # (−1/2 would be t* ∝ 1/√ε).
    small = eps_grid < 1e-2 * energy
    slope = float(np.polyfit(np.log(eps_grid[small]), np.log(observed[small]), 1)[0])

    fig, axes = new_figure(3, 1, width=3.6, height=3.0)
    t = np.arange(ts)
    with style():
        ax = axes[0, 0]
        ax.fill_between(
            t, lo, up, color=OKABE_ITO[5], alpha=0.3, label="bounds d/(r_t−1)"
        )
        ax.plot(t, up, "--", color=OKABE_ITO[0], lw=1, label="upper d_max/(r_t−1)")
        ax.plot(t, lo, ":", color=OKABE_ITO[0], lw=1, label="lower d_min/(r_t−1)")
        ax.plot(t, a.c[:ts], "o-", color=OKABE_ITO[3], label="c_t (observed)")
        ax.set_yscale("log")
        ax.set(xlabel="round t", ylabel="multiplier c_t", title="Multiplier per round")
        ax.legend(frameon=False, loc="upper left")
        ax = axes[0, 1]
        tt = np.arange(min(ts + 1, r.size))
        ax.plot(tt, r[tt], "o-", color=OKABE_ITO[2], label="r_t = ‖y_t‖/√(Kε)")
        ax.axhline(1.0, color="0.4", ls="--", lw=1, label="r = 1: collapse")
        ax.set(
            xlabel="round t",
            ylabel="r_t",
            title=f"Target norm ratio (collapse at t={ts})",
        )
        ax.legend(frameon=False)
        ax = axes[0, 2]
        ax.fill_between(
            eps_grid, np.maximum(pred_lo, 0.1), pred_up, color=OKABE_ITO[5], alpha=0.3,
            label=f"bounds (κ = {kappa:.1f})",
        )  # fmt: skip
        ax.plot(
            eps_grid,
            observed,
            "o-",
            ms=3,
            color=OKABE_ITO[3],
            label=f"observed t* (slope {slope:.2f} for small ε)",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(
            xlabel="ε", ylabel="rounds before collapse t*",
            title="Collapse round vs ε: predicted and observed",
        )  # fmt: skip
        ax.legend(frameon=False)
    inside = (observed >= pred_lo) & (observed <= pred_up)
    print(f"  multipliers: c_t = {np.array2string(a.c[:ts], precision=4)}")
    print(f"  lower bounds  {np.array2string(lo, precision=4)}")
    print(f"  upper bounds  {np.array2string(up, precision=4)}")
    print(
        f"  collapse over {eps_grid.size} ε values: t* from {observed.min()} to "
        f"{observed.max()}, inside the bounds for {int(inside.sum())}/{inside.size}; "
        f"log-log slope of t* vs ε for small ε: {slope:.3f}"
    )
    numbers = {
        "c": a.c[:ts], "c_lower": lo, "c_upper": up, "r": r[: ts + 1],
        "kappa": kappa, "eps_grid": eps_grid, "collapse_observed": observed,
        "collapse_lower": pred_lo, "collapse_upper": pred_up,
        "collapse_inside_bounds": int(inside.sum()), "small_eps_slope": slope,
    }  # fmt: skip
    return fig, numbers, {}


def part_shrinkage(out, s, seed):
    _, _, tr = _toy()
    a = theory.trace_arrays(tr)
    ts = a.t_star
    A = a.A[:ts]
    norm = A / np.linalg.norm(A, axis=1, keepdims=True)
    eff = np.asarray(filters.effective_dimension(A))
    pr = np.asarray(filters.participation_ratio(A))
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
        ax.plot(np.arange(ts), eff, "o-", label="Σ_k A_t[k]")
        ax.plot(np.arange(ts), pr, "s-", label="participation ratio")
        ax.set(
            xlabel="round t", ylabel="number of basis functions",
            title="Effective number of basis functions",
        )  # fmt: skip
        ax.set_ylim(0, None)
        ax.legend(frameon=False)
    print(f"  shrinkage: Σ A_t = {np.array2string(eff, precision=3)}")
    print(f"  participation ratio = {np.array2string(pr, precision=3)}")
    print(f"  top share A_t[0]/‖A_t‖ = {np.array2string(norm[:, 0], precision=3)}")
    numbers = {"sum_A": eff, "participation_ratio": pr, "top_share": norm[:, 0]}
    return fig, numbers, {"shrinkage": A}


def _median_lengthscale(X):
    diff = X[:, None, :] - X[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    return float(np.median(dist[np.triu_indices(X.shape[0], 1)]))


def _real_runs(s, seed):
    """Per seed: toy-free real data runs; returns arrays (seeds, rounds)."""
    rounds = s["REAL_ROUNDS"]
    dig = {"train_mse": [], "test_mse": [], "train_acc": [], "test_acc": []}
    dia = {"train_mse": [], "test_mse": []}
    for i in range(s["SEEDS"]):
        ds = ksd.data.digits(s["DIGITS_N_TRAIN"], seed=seed + i)
        Y = ksd.data.one_hot(ds.y, 10)
        k = ksd.kernels.RBF(lengthscale=_median_lengthscale(ds.X))
        eps = DIGITS_EPS_FRACTION * float(np.sum(Y * Y)) / Y.shape[0]
        tr = ksd.self_distill(k, ds.X, Y, eps=eps, rounds=rounds, X_test=ds.X_test)
        tp, te = np.asarray(tr.train_pred), np.asarray(tr.test_pred)
        dig["train_mse"].append(_mse(tp, Y) * 10)  # per point: sum over 10 outputs
        dig["test_mse"].append(_mse(te, ksd.data.one_hot(ds.y_test, 10)) * 10)
        dig["train_acc"].append(np.mean(tp.argmax(-1) == ds.y[None], axis=1))
        dig["test_acc"].append(np.mean(te.argmax(-1) == ds.y_test[None], axis=1))
        ds = ksd.data.diabetes(seed=seed + i)
        k = ksd.kernels.RBF(lengthscale=_median_lengthscale(ds.X))
        eps = DIABETES_EPS_FRACTION * float(ds.y @ ds.y) / ds.y.size
        tr = ksd.self_distill(k, ds.X, ds.y, eps=eps, rounds=rounds, X_test=ds.X_test)
        dia["train_mse"].append(_mse(np.asarray(tr.train_pred), ds.y))
        dia["test_mse"].append(_mse(np.asarray(tr.test_pred), ds.y_test))
    return (
        {k: np.array(v) for k, v in dig.items()},
        {k: np.array(v) for k, v in dia.items()},
    )


def _band(ax, x, runs, label, color, marker):
    mean, sd = runs.mean(0), runs.std(0)
    ax.errorbar(
        x, mean, yerr=sd, fmt=marker + "-", ms=3, capsize=2, color=color, label=label
    )


def part_rounds_error(out, s, seed):
    ds, _, tr = _toy()
    toy_train = _mse(np.asarray(tr.train_pred), ds.y)
    toy_test = _mse(np.asarray(tr.test_pred), ds.y_test)
    dig, dia = _real_runs(s, seed)
    fig, axes = new_figure(4, 1, width=3.3, height=3.0)
    with style():
        ax = axes[0, 0]
        t = np.arange(toy_train.size)
        ax.plot(t, toy_train, "o-", ms=3, label="train (noisy y)")
        ax.plot(t, toy_test, "s-", ms=3, label="test (clean sin 2πx)")
        ax.axvline(
            int(np.argmin(toy_test)), color="0.5", ls=":", lw=1, label="best test"
        )
        ax.axvspan(tr.collapse_round - 0.5, t[-1] + 0.5, color="0.9", label="collapsed")
        ax.set(xlabel="round t", ylabel="MSE", title=f"Toy (11 points), ε={TOY_EPS:g}")
        ax.legend(frameon=False, fontsize=7)
        t = np.arange(dig["train_mse"].shape[1])
        ax = axes[0, 1]
        _band(ax, t, dig["train_mse"], "train", OKABE_ITO[0], "o")
        _band(ax, t, dig["test_mse"], "test", OKABE_ITO[1], "s")
        ax.set(
            xlabel="round t", ylabel="squared error (sum of 10 outputs)",
            title=f"Digits, ℓ2 on one-hot, n={s['DIGITS_N_TRAIN']}, "
            f"ε={DIGITS_EPS_FRACTION:g}·‖Y‖²/K",
        )  # fmt: skip
        ax.legend(frameon=False)
        ax = axes[0, 2]
        _band(ax, t, 100 * dig["train_acc"], "train", OKABE_ITO[0], "o")
        _band(ax, t, 100 * dig["test_acc"], "test", OKABE_ITO[1], "s")
        ax.set(xlabel="round t", ylabel="accuracy (%)", title="Digits accuracy")
        ax.legend(frameon=False)
        ax = axes[0, 3]
        _band(ax, t, dia["train_mse"], "train", OKABE_ITO[0], "o")
        _band(ax, t, dia["test_mse"], "test", OKABE_ITO[1], "s")
        ax.set(
            xlabel="round t",
            ylabel="MSE (standardised target)",
            title=f"Diabetes, ε={DIABETES_EPS_FRACTION:g}·‖y‖²/K",
        )
        ax.legend(frameon=False)
        fig.suptitle(
            f"Error vs self-distillation round (mean ± sd over {s['SEEDS']} splits)"
        )

    def fmt(v):
        return " ".join(f"{x:.3f}" for x in v)

    print(f"  toy test MSE      {fmt(toy_test)}")
    print(f"  digits test acc   {fmt(dig['test_acc'].mean(0))}")
    print(f"  digits train acc  {fmt(dig['train_acc'].mean(0))}")
    print(f"  digits test err   {fmt(dig['test_mse'].mean(0))}")
    print(f"  diabetes test MSE {fmt(dia['test_mse'].mean(0))}")
    print(f"  diabetes train MSE {fmt(dia['train_mse'].mean(0))}")
    numbers = {
        "toy_train_mse": toy_train, "toy_test_mse": toy_test,
        "digits_test_acc_mean": dig["test_acc"].mean(0),
        "digits_test_acc_best_round": int(np.argmax(dig["test_acc"].mean(0))),
        "digits_test_mse_mean": dig["test_mse"].mean(0),
        "diabetes_test_mse_mean": dia["test_mse"].mean(0),
        "diabetes_test_best_round": int(np.argmin(dia["test_mse"].mean(0))),
    }  # fmt: skip
    arrays = {f"digits_{k}": v for k, v in dig.items()}
    arrays.update({f"diabetes_{k}": v for k, v in dia.items()})
    return fig, numbers, arrays


def _planted(s, seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, s["PLANTED_N"]))
    X = x[:, None]
    f = np.sin(2 * np.pi * x)
    spec = ksd.spectrum(ksd.kernels.Laplace(lengthscale=PLANTED_LENGTHSCALE), X)
    return rng, X, f, spec


def part_risk(out, s, seed):
    rng, X, f, spec = _planted(s, seed)
    K = f.size
    V = np.asarray(spec.eigvecs)
    noise = PLANTED_SIGMA * rng.standard_normal((K, s["MC_DRAWS"]))
    Y = f[:, None] + noise
    tr = ksd.distill_from_spectrum(spec, Y, lam=PLANTED_LAM, rounds=PLANTED_ROUNDS)
    measured_all = np.mean((np.asarray(tr.train_pred) - f[None, :, None]) ** 2, axis=1)
    measured = measured_all.mean(-1)
    se = measured_all.std(-1) / np.sqrt(s["MC_DRAWS"])
    pred = ksd.filters.planted_risk(
        np.asarray(tr.shrinkage), V.T @ f, sigma=PLANTED_SIGMA, K=K
    )
    best_pred, best_meas = int(np.argmin(pred.risk)), int(np.argmin(measured))
    t = np.arange(PLANTED_ROUNDS)
    fig, axes = new_figure(1, 1, width=5.2, height=3.4)
    with style():
        ax = axes[0, 0]
        ax.plot(t, pred.bias2, "--", color=OKABE_ITO[0], label="bias² (exact)")
        ax.plot(t, pred.variance, ":", color=OKABE_ITO[2], label="variance (exact)")
        ax.plot(t, pred.risk, "-", color=OKABE_ITO[3], label="risk = bias² + variance")
        ax.errorbar(
            t, measured, yerr=2 * se, fmt="o", ms=3, color="k", capsize=2,
            label=f"Monte Carlo ({s['MC_DRAWS']} noise draws, ±2 se)",
        )  # fmt: skip
        ax.axvline(best_pred, color=OKABE_ITO[3], ls="-.", lw=1,
                   label=f"predicted best round ({best_pred})")  # fmt: skip
        ax.set_yscale("log")
        ax.set(
            xlabel="round t", ylabel="training-set risk (1/K)‖f_t(X) − f_true(X)‖²",
            title=f"Planted sin(2πx), σ={PLANTED_SIGMA}, K={K}, c_t = {PLANTED_LAM:g}",
        )  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
    z = (measured - pred.risk) / se
    print(f"  risk: predicted best round {best_pred}, measured best {best_meas}")
    print(f"  predicted risk {np.array2string(pred.risk[:8], precision=4)} ...")
    print(f"  measured  risk {np.array2string(measured[:8], precision=4)} ...")
    print(f"  max |measured − predicted| / se = {np.max(np.abs(z)):.2f}")
    numbers = {
        "predicted_best_round": best_pred, "measured_best_round": best_meas,
        "predicted_risk": pred.risk, "measured_risk": measured, "bias2": pred.bias2,
        "variance": pred.variance, "max_abs_z": float(np.max(np.abs(z))),
    }  # fmt: skip
    return fig, numbers, {"measured_per_draw": measured_all}


def _gf_time_for(d, target):
    """Gradient-flow time t with Σ_k (1 − e^{−t d_k}) = target (monotone in t)."""
    pos = d[d > 0]

    def g(log_t):
        return float(np.sum(-np.expm1(-np.exp(log_t) * pos))) - target

    return float(np.exp(scipy.optimize.brentq(g, -60.0, 80.0, xtol=1e-14)))


def part_vs_early_stopping(out, s, seed):
    _, _, f, spec = _planted(s, seed)
    K = f.size
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    theta = V.T @ f
    y = f + PLANTED_SIGMA * np.random.default_rng(seed + 1).standard_normal(K)
    # The paper's constrained rounds on one noisy draw.
    z = V.T @ y
    null = float(np.sum(z[d == 0] ** 2))
    eps = (null + VS_GF_FRACTION * (float(y @ y) - null)) / K
    tr = ksd.distill_from_spectrum(spec, y, eps=eps, rounds=PLANTED_ROUNDS)
    ts = theory.trace_arrays(tr).t_star
    A = np.asarray(tr.shrinkage)[:ts]
    eff = A.sum(1)
    times = np.array([_gf_time_for(d, e) for e in eff])
    H = np.asarray(filters.gradient_flow(d[None, :], times[:, None]))
    j = int(np.sum(d > 0)) // 4  # a lower direction to compare with the top one
    sd_ratio = A[:, 0] / A[:, j]
    gf_ratio = H[:, 0] / H[:, j]
    risk_sd = ksd.filters.planted_risk(A, theta, sigma=PLANTED_SIGMA, K=K).risk
    risk_gf = ksd.filters.planted_risk(H, theta, sigma=PLANTED_SIGMA, K=K).risk
    fine_t = np.geomspace(times.min() / 10, times.max() * 10, 200)
    Hf = np.asarray(filters.gradient_flow(d[None, :], fine_t[:, None]))
    fig, axes = new_figure(3, 1, width=3.6, height=3.1)
    idx = np.arange(d.size) + 1
    show = sorted({0, ts // 2, ts - 1})
    with style():
        ax = axes[0, 0]
        for n, t in enumerate(show):
            col = OKABE_ITO[n]
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
        ax.semilogy(
            np.arange(ts),
            sd_ratio,
            "o-",
            ms=3,
            label="self-distillation A_t[1]/A_t[j]",
        )
        ax.semilogy(
            np.arange(ts),
            gf_ratio,
            "s-",
            ms=3,
            label="gradient flow h[1]/h[j]",
        )
        ax.axhline(
            d[0] / d[j], color="0.3", ls="--", lw=1, label=f"d_1/d_j (j={j + 1})"
        )
        ax.set(
            xlabel="SD round t (GF at matched Σh)", ylabel="top / lower ratio",
            title="Top-to-lower shrinkage ratio",
        )  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 2]
        ax.plot(Hf.sum(1), ksd.filters.planted_risk(Hf, theta, sigma=PLANTED_SIGMA, K=K).risk, "-",
                color=OKABE_ITO[1], label="gradient flow (all t)")  # fmt: skip
        ax.plot(
            eff,
            risk_sd,
            "o",
            ms=3,
            color=OKABE_ITO[0],
            label="self-distillation rounds",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(
            xlabel="effective dimension Σ_k h(d_k)",
            ylabel="expected risk of the filter (exact)",
            title="Risk vs effective dimension",
        )  # fmt: skip
        ax.legend(frameon=False)
        fig.suptitle(
            f"Self-distillation (ε = {eps:.3g}, {ts} rounds before collapse) "
            "vs early stopping (gradient flow), planted sin(2πx) + noise"
        )
    print(
        f"  vs GF: SD ratio A_t[1]/A_t[{j + 1}] from {sd_ratio[0]:.3g} to {sd_ratio[-1]:.3g}"
    )
    print(
        f"  GF ratio at matched Σh from {gf_ratio[0]:.3g} to {gf_ratio[-1]:.3g}; d_1/d_j = {d[0] / d[j]:.3g}"
    )
    print(f"  best risk: SD {risk_sd.min():.4g} (round {int(np.argmin(risk_sd))}), "
          f"GF at matched Σh {risk_gf.min():.4g}")  # fmt: skip
    numbers = {
        "j": j + 1, "d_ratio": d[0] / d[j], "sd_ratio": sd_ratio, "gf_ratio": gf_ratio,
        "effective_dimension": eff, "gf_times": times, "risk_sd": risk_sd,
        "risk_gf_matched": risk_gf, "eps": eps,
    }  # fmt: skip
    return fig, numbers, {}


def _constants() -> dict:
    """The module's constants: a change to any of them reruns every part."""
    return {
        k: v
        for k, v in globals().items()
        if k.isupper() and isinstance(v, (int, float, tuple))
    }


PARTS = {
    "mobahi2020_toy_fits": part_toy_fits,
    "mobahi2020_multipliers": part_multipliers,
    "mobahi2020_shrinkage": part_shrinkage,
    "mobahi2020_rounds_error": part_rounds_error,
    "mobahi2020_risk": part_risk,
    "mobahi2020_vs_early_stopping": part_vs_early_stopping,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="figures", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    s = _settings(args.quick)
    start = time.perf_counter()
    for name in progress(PARTS, total=len(PARTS), desc="mobahi2020"):
        params = {"settings": s, "seed": args.seed, "constants": _constants(),
                  "code": results.source_fingerprint(__file__)}  # fmt: skip
        results.run_part(
            out,
            name,
            params,
            lambda n=name: PARTS[n](out, s, args.seed),
            seed=args.seed,
        )
    print(f"mobahi2020: done in {time.perf_counter() - start:.1f}s, figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
