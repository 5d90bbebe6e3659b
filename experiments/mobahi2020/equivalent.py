"""[MFB20] equivalent kernel: round t is one kernel-ridge fit with the kernel g†_t.

For the toy, diabetes and one-hot digits: kernel ridge regression on the original
labels with ``g†_t`` (``ksd.equivalent_kernel``, dense ``np.linalg.solve`` on its
Gram blocks) against the trace and against rounds recomputed with dense solves,
at training and test points, for three ridges ``ĉ``; a negative control (the
original kernel does not give round 1); ``g†_t(x, 0.5)`` and the spectrum of
``G†_t`` per round on the toy; the capacity of each round's fit
(``ksd.equivalent.complexity``).
"""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.mobahi2020 import EXPERIMENT
from experiments.mobahi2020._common import median_lengthscale
from kernel_sd.plotting import OKABE_ITO, new_figure, round_colors, style

C_HAT_FACTORS = (1.0, 1e-3, 10.0)
"""Ridges ``ĉ`` of the equivalent fits, in units of ``c_0``."""


def _problems(cfg: Config):
    ds = ksd.data.mobahi_toy()
    yield (
        "toy",
        ksd.kernels.RBF(lengthscale=cfg.toy_lengthscale),
        ds.X,
        ds.y,
        ds.X_test,
        cfg.toy_eps,
    )
    dia = ksd.data.diabetes(cfg.equiv_diabetes_n, seed=0)
    eps = cfg.equiv_diabetes_eps_fraction * float(dia.y @ dia.y) / dia.y.size
    k = ksd.kernels.RBF(lengthscale=median_lengthscale(dia.X))
    yield "diabetes", k, dia.X, dia.y, dia.X_test, eps
    dg = ksd.data.digits(cfg.equiv_digits_n, seed=0)
    Y = ksd.data.one_hot(dg.y, 10)
    eps = cfg.equiv_digits_eps_fraction * float(np.sum(Y * Y)) / Y.shape[0]
    k = ksd.kernels.RBF(lengthscale=median_lengthscale(dg.X))
    yield "digits", k, dg.X, Y, dg.X_test[:200], eps


def _dense_rounds(G, Gx, y, c):
    """``y_{t+1} = G (c_t I + G)^{-1} y_t`` and ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t``."""
    yt, train, test = np.array(y, float), [], []
    for ct in c:
        a = np.linalg.solve(ct * np.eye(G.shape[0]) + G, yt)
        test.append(Gx @ a)
        yt = G @ a
        train.append(yt)
    return train, test


def _krr(Gd, cross, y, c_hat):
    a = np.linalg.solve(c_hat * np.eye(Gd.shape[0]) + Gd, y)
    return Gd @ a, cross @ a


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _check(cfg: Config, kernel, X, y, X_test, eps) -> dict:
    K = X.shape[0]
    tr = ksd.self_distill(kernel, X, y, eps=eps, rounds=cfg.equiv_rounds, X_test=X_test)
    W = ksd.features(kernel, X, X_test, tr.spectrum)
    G = np.asarray(ksd.gram(kernel, X)) / K
    Gx = np.asarray(ksd.gram(kernel, X_test, X)) / K
    c = np.asarray(tr.c)
    t_star = int(np.sum(np.isfinite(c)))
    d_train, d_test = _dense_rounds(G, Gx, y, c[:t_star])
    worst = dict.fromkeys(("train_vs_dense", "test_vs_dense", "train_vs_trace",
                           "test_vs_trace"), 0.0)  # fmt: skip
    for t in range(t_star):
        for f in C_HAT_FACTORS:
            ek = ksd.equivalent_kernel(tr, t, c_hat=f * c[0])
            p_tr, p_te = _krr(
                np.asarray(ek.gram()), np.asarray(ek.cross(W)), y, f * c[0]
            )
            for key, val in (("train_vs_dense", _rel(p_tr, d_train[t])),
                             ("test_vs_dense", _rel(p_te, d_test[t])),
                             ("train_vs_trace", _rel(p_tr, np.asarray(tr.train_pred[t]))),
                             ("test_vs_trace", _rel(p_te, np.asarray(tr.test_pred[t])))):  # fmt: skip
                worst[key] = max(worst[key], val)
    control = _rel(_krr(G, Gx, y, c[0])[1], d_test[1]) if t_star > 1 else float("nan")
    cx = ksd.equivalent.complexity(tr)
    return {
        "K": K, "kappa": float(tr.spectrum.condition_number), "t_star": t_star,
        "c": c[:t_star], "worst_relative_difference": worst,
        "negative_control_round1_with_g": control,
        "effective_dimension": np.asarray(cx.effective_dimension)[:t_star],
        "rademacher": np.asarray(cx.rademacher)[:t_star],
        "rkhs_norm2_original": np.asarray(cx.rkhs_norm2)[:t_star],
        "rkhs_norm2_equivalent": np.asarray(cx.norm2)[:t_star],
        "trace_equivalent": np.asarray(cx.trace)[:t_star],
    }, tr, W  # fmt: skip


@EXPERIMENT.compute("mobahi2020_equivalent_kernel")
def equivalent_kernel(cfg: Config, seed: int) -> Result:
    """Ridge with ``g†_t`` vs the rounds; ``g†_t`` and its spectrum per round; capacity."""
    numbers, arrays = {}, {}
    for name, kernel, X, y, X_test, eps in _problems(cfg):
        if name not in cfg.equiv_problems:
            continue
        numbers[name], tr, W = _check(cfg, kernel, X, y, X_test, eps)
        if name != "toy":
            continue
        centre = int(np.argmin(np.abs(X[:, 0] - 0.5)))  # the training point x = 0.5
        t_star = numbers[name]["t_star"]
        eks = [ksd.equivalent_kernel(tr, t) for t in range(t_star)]
        arrays["x"] = X_test[:, 0]
        arrays["g_dagger"] = np.array([X.shape[0] * np.asarray(ek.cross(W))[:, centre]
                                       for ek in eks])  # fmt: skip
        arrays["spectra"] = np.array(
            [np.sort(np.asarray(ek.eigvals))[::-1] for ek in eks]
        )
        arrays["d"] = np.asarray(tr.spectrum.eigvals)
        numbers["toy_peak"] = arrays["g_dagger"].max(axis=1)
    numbers["c_hat_factors"] = C_HAT_FACTORS
    return Result(numbers, arrays)


@EXPERIMENT.plot("mobahi2020_equivalent_kernel")
def plot_equivalent_kernel(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    g, spectra = a["g_dagger"], a["spectra"]
    colors = round_colors(g.shape[0])
    fig, axes = new_figure(4, 1, width=3.6, height=3.1)
    with style():
        ax = axes[0, 0]
        for t in range(g.shape[0]):
            ax.plot(a["x"], g[t] / g[t].max(), color=colors[t],
                    label=f"t = {t} (peak {g[t].max():.2g})")  # fmt: skip
        ax.set(xlabel="x", ylabel="g†_t(x, 0.5) / its peak",
               title="Toy: equivalent kernel per round (ĉ = c_0)")  # fmt: skip
        ax.legend(frameon=False, fontsize=6)
        ax = axes[0, 1]
        k = np.arange(1, spectra.shape[1] + 1)
        for t in range(spectra.shape[0]):
            ax.semilogy(k, np.maximum(spectra[t], 1e-300), "o-", ms=3, color=colors[t])
        ax.semilogy(k, a["d"], "k--", lw=1, label="d (the original G)")
        pos = spectra[spectra > 0]
        ax.set_ylim(pos.min() / 10, 10 * pos.max())
        ax.set(xlabel="index k", ylabel="eigenvalues d†_t of G†_t",
               title="Toy: spectrum of G†_t per round")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        names = [k for k in ("toy", "diabetes", "digits") if k in n]
        for i, name in enumerate(names):
            p = n[name]
            t = np.arange(p["t_star"])
            axes[0, 2].semilogy(t, p["effective_dimension"], "o-", color=OKABE_ITO[i],
                                label=f"{name} (K = {p['K']})")  # fmt: skip
            axes[0, 3].semilogy(t, p["rademacher"], "o-", color=OKABE_ITO[i],
                                label=f"{name}: ‖f_t‖_g† √(tr g†)/K")  # fmt: skip
            axes[0, 3].semilogy(t, p["rkhs_norm2_original"], "s--", color=OKABE_ITO[i],
                                label=f"{name}: R(f_t) in the RKHS of g")  # fmt: skip
        axes[0, 2].set(xlabel="round t", ylabel="Σ_k B_t[k] = tr G†(ĉ + G†)^{-1}",
                       title="Effective dimension per round")  # fmt: skip
        axes[0, 3].set(xlabel="round t", ylabel="capacity", title="Capacity per round")
        for ax in axes[0, 2:]:
            ax.legend(frameon=False, fontsize=6)
        worst = max(max(n[k]["worst_relative_difference"].values()) for k in names)
        fig.suptitle(
            "Round t of self-distillation = ridge regression on y with kernel g†_t "
            f"(largest relative difference {worst:.1e}, train and test points)",
            fontsize=10,
        )
    return fig
