"""[MFB20] train and test error per round: the toy, digits (one-hot ℓ2) and diabetes."""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.mobahi2020 import EXPERIMENT
from experiments.mobahi2020._common import mse, toy
from kernel_sd.plotting import OKABE_ITO, new_figure, style


def _median_lengthscale(X):
    diff = X[:, None, :] - X[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    return float(np.median(dist[np.triu_indices(X.shape[0], 1)]))


def _real_runs(cfg: Config, seed: int):
    """Per seed: digits and diabetes runs; returns arrays (seeds, rounds)."""
    rounds = cfg.real_rounds
    dig = {"train_mse": [], "test_mse": [], "train_acc": [], "test_acc": []}
    dia = {"train_mse": [], "test_mse": []}
    for i in range(cfg.seeds):
        ds = ksd.data.digits(cfg.digits_n_train, seed=seed + i)
        Y = ksd.data.one_hot(ds.y, 10)
        k = ksd.kernels.RBF(lengthscale=_median_lengthscale(ds.X))
        eps = cfg.digits_eps_fraction * float(np.sum(Y * Y)) / Y.shape[0]
        tr = ksd.self_distill(k, ds.X, Y, eps=eps, rounds=rounds, X_test=ds.X_test)
        tp, te = np.asarray(tr.train_pred), np.asarray(tr.test_pred)
        dig["train_mse"].append(mse(tp, Y) * 10)  # per point: sum over 10 outputs
        dig["test_mse"].append(mse(te, ksd.data.one_hot(ds.y_test, 10)) * 10)
        dig["train_acc"].append(np.mean(tp.argmax(-1) == ds.y[None], axis=1))
        dig["test_acc"].append(np.mean(te.argmax(-1) == ds.y_test[None], axis=1))
        ds = ksd.data.diabetes(seed=seed + i)
        k = ksd.kernels.RBF(lengthscale=_median_lengthscale(ds.X))
        eps = cfg.diabetes_eps_fraction * float(ds.y @ ds.y) / ds.y.size
        tr = ksd.self_distill(k, ds.X, ds.y, eps=eps, rounds=rounds, X_test=ds.X_test)
        dia["train_mse"].append(mse(np.asarray(tr.train_pred), ds.y))
        dia["test_mse"].append(mse(np.asarray(tr.test_pred), ds.y_test))
    return (
        {k: np.array(v) for k, v in dig.items()},
        {k: np.array(v) for k, v in dia.items()},
    )


@EXPERIMENT.compute("mobahi2020_rounds_error")
def rounds_error(cfg: Config, seed: int) -> Result:
    """Errors per round on the toy and, over ``seeds`` splits, on digits and diabetes."""
    ds, _, tr = toy(cfg)
    toy_train = mse(np.asarray(tr.train_pred), ds.y)
    toy_test = mse(np.asarray(tr.test_pred), ds.y_test)
    dig, dia = _real_runs(cfg, seed)
    numbers = {
        "toy_train_mse": toy_train, "toy_test_mse": toy_test,
        "toy_collapse_round": tr.collapse_round,
        "digits_test_acc_mean": dig["test_acc"].mean(0),
        "digits_test_acc_best_round": int(np.argmax(dig["test_acc"].mean(0))),
        "digits_test_mse_mean": dig["test_mse"].mean(0),
        "diabetes_test_mse_mean": dia["test_mse"].mean(0),
        "diabetes_test_best_round": int(np.argmin(dia["test_mse"].mean(0))),
    }  # fmt: skip
    arrays = {f"digits_{k}": v for k, v in dig.items()}
    arrays.update({f"diabetes_{k}": v for k, v in dia.items()})
    return Result(numbers, arrays)


def _band(ax, x, runs, label, color, marker):
    mean, sd = runs.mean(0), runs.std(0)
    ax.errorbar(
        x, mean, yerr=sd, fmt=marker + "-", ms=3, capsize=2, color=color, label=label
    )


@EXPERIMENT.plot("mobahi2020_rounds_error")
def plot_rounds_error(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    toy_train, toy_test = n["toy_train_mse"], n["toy_test_mse"]
    fig, axes = new_figure(4, 1, width=3.3, height=3.0)
    with style():
        ax = axes[0, 0]
        t = np.arange(toy_train.size)
        ax.plot(t, toy_train, "o-", ms=3, label="train (noisy y)")
        ax.plot(t, toy_test, "s-", ms=3, label="test (clean sin 2πx)")
        ax.axvline(
            int(np.argmin(toy_test)), color="0.5", ls=":", lw=1, label="best test"
        )
        ax.axvspan(n["toy_collapse_round"] - 0.5, t[-1] + 0.5, color="0.9",
                   label="collapsed")  # fmt: skip
        ax.set(
            xlabel="round t", ylabel="MSE", title=f"Toy (11 points), ε={cfg.toy_eps:g}"
        )
        ax.legend(frameon=False, fontsize=7)
        t = np.arange(a["digits_train_mse"].shape[1])
        ax = axes[0, 1]
        _band(ax, t, a["digits_train_mse"], "train", OKABE_ITO[0], "o")
        _band(ax, t, a["digits_test_mse"], "test", OKABE_ITO[1], "s")
        ax.set(
            xlabel="round t", ylabel="squared error (sum of 10 outputs)",
            title=f"Digits, ℓ2 on one-hot, n={cfg.digits_n_train}, "
            f"ε={cfg.digits_eps_fraction:g}·‖Y‖²/K",
        )  # fmt: skip
        ax.legend(frameon=False)
        ax = axes[0, 2]
        _band(ax, t, 100 * a["digits_train_acc"], "train", OKABE_ITO[0], "o")
        _band(ax, t, 100 * a["digits_test_acc"], "test", OKABE_ITO[1], "s")
        ax.set(xlabel="round t", ylabel="accuracy (%)", title="Digits accuracy")
        ax.legend(frameon=False)
        ax = axes[0, 3]
        _band(ax, t, a["diabetes_train_mse"], "train", OKABE_ITO[0], "o")
        _band(ax, t, a["diabetes_test_mse"], "test", OKABE_ITO[1], "s")
        ax.set(
            xlabel="round t",
            ylabel="MSE (standardised target)",
            title=f"Diabetes, ε={cfg.diabetes_eps_fraction:g}·‖y‖²/K",
        )
        ax.legend(frameon=False)
        fig.suptitle(
            f"Error vs self-distillation round (mean ± sd over {cfg.seeds} splits)"
        )
    return fig
