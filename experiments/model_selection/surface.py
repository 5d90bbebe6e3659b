"""The cross-validated error over (ε, round) on digits with noisy labels and on diabetes."""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.model_selection import EXPERIMENT
from kernel_sd import selection

NAME = "model_selection_surface"
DATASETS = ("digits", "diabetes")


def _median_lengthscale(X: np.ndarray) -> float:
    diff = X[:, None, :] - X[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    return float(np.median(dist[np.triu_indices(X.shape[0], 1)]))


def _flip(labels: np.ndarray, fraction: float, rng, classes: int = 10) -> np.ndarray:
    """``labels`` with a ``fraction`` of them replaced by a uniformly drawn other class."""
    out = labels.copy()
    idx = rng.choice(
        labels.size, size=int(round(fraction * labels.size)), replace=False
    )
    out[idx] = (labels[idx] + rng.integers(1, classes, idx.size)) % classes
    return out


def _data(name: str, cfg: Config, seed: int):
    """``(X, Y, X_test, Y_test, eps grid, classification)`` of one data set."""
    if name == "digits":
        ds = ksd.data.digits(cfg.digits_n_train, seed=seed)
        noisy = _flip(ds.y, cfg.flip_fraction, np.random.default_rng(seed))
        Y, Y_test = ksd.data.one_hot(noisy, 10), ksd.data.one_hot(ds.y_test, 10)
        lo, hi = cfg.digits_eps
    else:
        ds = ksd.data.diabetes(cfg.diabetes_n_train, seed=seed)
        Y, Y_test = ds.y, ds.y_test
        lo, hi = cfg.diabetes_eps
    energy = float(np.sum(Y * Y)) / Y.shape[0]  # (1/K)‖Y‖²: 1 for both here
    grid = np.geomspace(lo, hi, cfg.grid) * energy
    return ds.X, Y, ds.X_test, Y_test, grid, name == "digits"


def _best(err: np.ndarray, mse: np.ndarray) -> tuple[int, int]:
    """``(e, t)`` of the lowest error, ties to the lowest MSE, then row-major order."""
    order = np.lexsort((mse.ravel(), err.ravel()))
    e, t = np.unravel_index(int(order[0]), err.shape)
    return int(e), int(t)


@EXPERIMENT.compute(NAME)
def surface(cfg: Config, seed: int) -> Result:
    """CV and test error of every (ε, round) on digits (noisy labels) and diabetes."""
    numbers, arrays = {}, {}
    for name in DATASETS:
        X, Y, X_test, Y_test, grid, classify = _data(name, cfg, seed)
        kernel = ksd.kernels.RBF(lengthscale=_median_lengthscale(X))
        cv = selection.cross_validation_errors(
            kernel, X, Y, cfg.folds, eps=grid, rounds=cfg.rounds, accuracy=classify
        )
        mse = np.asarray(cv.mse).mean(axis=0)
        err = 1.0 - np.asarray(cv.accuracy).mean(axis=0) if classify else mse
        e, t = _best(err, mse)
        e0, _ = _best(err[:, :1], mse[:, :1])  # the best ε when only round 0 is fitted
        # test error of every refit on all training rows: the same grid on one split
        held = selection.validation_errors(
            kernel, X, Y, X_test, Y_test, eps=grid, rounds=cfg.rounds,
            accuracy=classify,
        )  # fmt: skip
        test = 1.0 - np.asarray(held.accuracy) if classify else np.asarray(held.mse)
        collapsed = np.isinf(np.asarray(held.c))
        collapse = np.where(collapsed.any(axis=1), collapsed.argmax(axis=1), -1)
        arrays.update({f"{name}_eps": grid, f"{name}_cv_error": err,
                       f"{name}_cv_mse": mse, f"{name}_test_error": test,
                       f"{name}_collapse_round": collapse})  # fmt: skip
        numbers[name] = {
            "metric": "error rate" if classify else "MSE",
            "n_train": int(X.shape[0]), "lengthscale": kernel.lengthscale,
            "best_eps": float(grid[e]), "best_round": t,
            "best_cv_error": float(err[e, t]), "best_test_error": float(test[e, t]),
            "round0_eps": float(grid[e0]), "round0_cv_error": float(err[e0, 0]),
            "round0_test_error": float(test[e0, 0]),
            "oracle_test_error": float(test.min()),
        }  # fmt: skip
    return Result(numbers, arrays)


@EXPERIMENT.plot(NAME)
def plot_surface(res: Result, cfg: Config):
    """Heat maps of the CV error over (ε, round), and error vs round at the two ε."""
    from kernel_sd.plotting import OKABE_ITO, new_figure, style

    fig, axes = new_figure(2, 2, width=3.6, height=2.9)
    with style():
        for col, name in enumerate(DATASETS):
            n, a = res.numbers[name], res.arrays
            grid, err, test = (
                a[f"{name}_eps"],
                a[f"{name}_cv_error"],
                a[f"{name}_test_error"],
            )  # noqa: E501
            scale = 100.0 if n["metric"] == "error rate" else 1.0
            unit = " (%)" if scale == 100.0 else ""
            e = int(np.argmin(np.abs(grid - n["best_eps"])))
            e0 = int(np.argmin(np.abs(grid - n["round0_eps"])))
            t, T = n["best_round"], err.shape[1]
            ax = axes[0, col]
            # colours span the low errors; collapsed fits (f = 0) saturate
            top = scale * min(float(err[np.isfinite(err)].max()), 1.6 * err.min())
            im = ax.imshow(scale * err, origin="lower", aspect="auto", cmap="viridis",
                           vmax=top, extent=(-0.5, T - 0.5, -0.5, len(grid) - 0.5))  # fmt: skip
            ax.grid(False)
            fig.colorbar(im, ax=ax, label=f"CV {n['metric']}{unit}", extend="max")
            ax.plot(t, e, "*", ms=13, mfc="white", mec="black", label="best (ε, t)")
            ax.plot(0, e0, "o", ms=8, mfc="none", mec="white", mew=1.8,
                    label="best ε at round 0")  # fmt: skip
            ticks = np.linspace(0, len(grid) - 1, min(5, len(grid))).round().astype(int)
            ax.set_yticks(ticks, [f"{grid[i]:.3g}" for i in ticks])
            title = (
                f"digits, {100 * cfg.flip_fraction:.0f} % labels flipped"
                if name == "digits"
                else "diabetes"
            )
            ax.set(xlabel="round t", ylabel="ε", title=f"{title} (n = {n['n_train']})")
            ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
            ax = axes[1, col]
            rounds = np.arange(T)
            for row, label, color in ((e, "best", OKABE_ITO[0]),
                                      (e0, "round-0 best", OKABE_ITO[1])):  # fmt: skip
                ax.plot(rounds, scale * err[row], "o-", ms=3, color=color,
                        label=f"ε = {grid[row]:.3g} ({label}): CV")  # fmt: skip
                ax.plot(rounds, scale * test[row], "s--", ms=3, color=color, alpha=0.7,
                        label=f"ε = {grid[row]:.3g}: test")  # fmt: skip
            ax.set_xticks(rounds)
            labels = (
                "\n(CV labels noisy, test labels clean)" if name == "digits" else ""
            )
            ax.set(xlabel="round t", ylabel=f"{n['metric']}{unit}",
                   title=f"best: CV {scale * n['best_cv_error']:.3g}, test "
                   f"{scale * n['best_test_error']:.3g}; round 0: CV "
                   f"{scale * n['round0_cv_error']:.3g}, test "
                   f"{scale * n['round0_test_error']:.3g}{labels}")  # fmt: skip
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7, framealpha=0.9,
                      loc="center right" if name == "digits" else "upper right")  # fmt: skip
        fig.suptitle(
            f"Self-distillation: {cfg.folds}-fold CV error over (ε, round), one "
            "factorisation per fold"
        )
    return fig
