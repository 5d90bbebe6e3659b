"""The README's headline figure: ``kernel-sd distill --rounds 8`` as a reproducible part.

40 noisy samples of sin(2πx), RBF kernel with lengthscale 0.08, ε = 0.1, eight
constrained rounds (the defaults of ``kernel-sd distill``): the fit after each
round until the collapse, against the clean sine.
"""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Experiment, Result
from kernel_sd import plotting

CONFIG = {
    "n": 40,  # training points
    "noise": 0.4,  # label-noise standard deviation
    "lengthscale": 0.08,  # RBF lengthscale: exp(−78 (x − x')²)
    "eps": 0.1,  # constraint level ε: (1/K)‖f_t(X) − y_t‖² <= ε
    "rounds": 8,
}

EXPERIMENT = Experiment("distill", CONFIG)


@EXPERIMENT.compute("distill_fits")
def fits(cfg: Config, seed: int) -> Result:
    """Multipliers, errors and predictions of every round."""
    ds = ksd.data.sinusoid(cfg.n, noise=cfg.noise, seed=seed)
    kernel = ksd.kernels.RBF(lengthscale=cfg.lengthscale)
    tr = ksd.self_distill(
        kernel, ds.X, ds.y, eps=cfg.eps, rounds=cfg.rounds, X_test=ds.X_test
    )
    train_mse = np.mean((np.asarray(tr.train_pred) - ds.y[None, :]) ** 2, axis=1)
    test_mse = np.mean((np.asarray(tr.test_pred) - ds.y_test[None, :]) ** 2, axis=1)
    numbers = {
        "c": tr.c, "train_mse": train_mse, "test_mse": test_mse,
        "effective_dimension": tr.effective_dimension,
        "collapse_round": tr.collapse_round, "best_round": int(np.argmin(test_mse)),
    }  # fmt: skip
    arrays = {"test_pred": tr.test_pred, "X": ds.X, "y": ds.y, "X_test": ds.X_test,
              "y_test": ds.y_test}  # fmt: skip
    return Result(numbers, {k: np.asarray(v) for k, v in arrays.items()})


@EXPERIMENT.plot("distill_fits")
def plot_fits(res: Result, cfg: Config):
    a = res.arrays
    return plotting.plot_fit_curves(
        a["test_pred"], res.numbers["collapse_round"], a["X"], a["y"], a["X_test"],
        a["y_test"], title=f"Self-distillation rounds (rbf, eps = {cfg.eps:g})",
    )  # fmt: skip
