"""[NMBMK23] confidence: teacher vs student log-odds, classifiers and regression."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import (
    blobs,
    classifier_pair,
    log_odds_on,
    slope_and_bins,
)
from kernel_sd import dynamics, plotting

PROBLEMS = {"digits": "digits", "blobs": "3 Gaussian blobs"}
"""Record key and panel title of each classification problem."""


def _classifiers(cfg: Config, seed: int, data):
    """Log-odds of student vs teacher on the teacher's top class, both problems."""
    Xb, lb, Xbt, _ = blobs(cfg.blobs_n, seed)
    problems = {
        "digits": (data.X, data.y, data.X_test,
                   ksd.kernels.RBF(lengthscale=cfg.digits_lengthscale)),
        "blobs": (Xb, lb, Xbt, ksd.kernels.RBF(lengthscale=cfg.blobs_lengthscale)),
    }  # fmt: skip
    numbers, arrays = {}, {}
    for key, (X, lab, Xt, kernel) in problems.items():
        teacher, student, lr = classifier_pair(X, lab, Xt, kernel, cfg.cls_steps,
                                               cfg.cls_lr)  # fmt: skip
        lt, ls = np.asarray(teacher.test_pred[-1]), np.asarray(student.test_pred[-1])
        top = lt.argmax(axis=1)
        xt, xs = log_odds_on(lt, top), log_odds_on(ls, top)
        slope, icpt, bx, by = slope_and_bins(xt, xs)
        tr_t = np.asarray(teacher.train_pred[-1])
        tr_s = np.asarray(student.train_pred[-1])
        top_tr = tr_t.argmax(axis=1)
        slope_tr = float(
            np.polyfit(log_odds_on(tr_t, top_tr), log_odds_on(tr_s, top_tr), 1)[0]
        )
        numbers[key] = {
            "slope_test": slope, "intercept_test": float(icpt), "slope_train": slope_tr,
            "teacher_train_acc": float(np.mean(tr_t.argmax(1) == lab)),
            "student_train_acc": float(np.mean(tr_s.argmax(1) == lab)),
            "teacher_final_loss": float(teacher.loss[-1]),
            "student_final_loss": float(student.loss[-1]), "lr": lr,
        }  # fmt: skip
        arrays[f"{key}_teacher_logodds"], arrays[f"{key}_student_logodds"] = xt, xs
        arrays[f"{key}_binned_teacher"], arrays[f"{key}_binned_student"] = bx, by
    return numbers, arrays


def _regression(cfg: Config, data):
    """Squared-loss kernel regression on one-hot digits: log margins, student vs teacher."""
    kernel = ksd.kernels.RBF(lengthscale=cfg.digits_lengthscale)
    spec = ksd.spectrum(kernel, jnp.asarray(data.X))
    W = ksd.features(kernel, jnp.asarray(data.X), jnp.asarray(data.X_test), spec)
    Y = ksd.data.one_hot(data.y, 10)
    lr = cfg.gd_lr / float(spec.eigvals[0])
    steps = cfg.cls_steps
    ft = np.asarray(
        dynamics.teacher_descent(
            spec, Y, lr=lr, steps=steps, test_features=W
        ).test_pred[0]
    )
    fs = np.asarray(
        dynamics.student_descent(spec, Y, lr=lr, teacher_steps=steps, steps=steps,
                                 test_features=W).test_pred[0]
    )  # fmt: skip
    srt = np.sort(ft, axis=1)
    top = ft.argmax(axis=1)
    mt = srt[:, -1] - srt[:, -2]
    others = fs.copy()
    others[np.arange(fs.shape[0]), top] = -np.inf
    ms = fs[np.arange(fs.shape[0]), top] - others.max(axis=1)
    keep = (mt > 0) & (ms > 0)
    lx, ly = np.log(mt[keep]), np.log(ms[keep])
    slope, icpt, bx, by = slope_and_bins(lx, ly)
    numbers = {"slope_log_margin": slope, "intercept": icpt,
               "kept_points": int(keep.sum()), "points": int(keep.size)}  # fmt: skip
    arrays = {"regression_log_teacher_margin": lx, "regression_log_student_margin": ly,
              "regression_binned_teacher": bx, "regression_binned_student": by}  # fmt: skip
    return numbers, arrays


@EXPERIMENT.compute("nagarajan2023_confidence")
def confidence(cfg: Config, seed: int) -> Result:
    """Teacher vs student confidence (log-odds on the teacher's top-1 class)."""
    data = ksd.data.digits(cfg.digits_n, seed=seed)
    numbers, arrays = _classifiers(cfg, seed, data)
    numbers["digits_regression"], more = _regression(cfg, data)
    return Result(numbers, {**arrays, **more})


def _scatter(ax, x, y, bx, by, slope, icpt, **labels):
    ax.scatter(x, y, s=5, alpha=0.35, color=plotting.OKABE_ITO[0], label="test point")
    lim = [min(x.min(), y.min()), max(x.max(), y.max())]
    ax.plot(lim, lim, color="0.4", ls="--", lw=1, label="y = x")
    ax.plot(bx, by, "o-", color=plotting.OKABE_ITO[3], ms=3, label="binned mean")
    ax.plot(lim, [slope * v + icpt for v in lim], color=plotting.OKABE_ITO[2],
            lw=1.2, label=f"fit: slope {slope:.2f}")  # fmt: skip
    ax.set(**labels)
    ax.legend(frameon=False, loc="upper left")


@EXPERIMENT.plot("nagarajan2023_confidence")
def plot_confidence(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    fig, axes = plotting.new_figure(3, 1, width=3.4, height=3.2)
    with plotting.style():
        for col, (key, label) in enumerate(PROBLEMS.items()):
            _scatter(
                axes[0, col], a[f"{key}_teacher_logodds"], a[f"{key}_student_logodds"],
                a[f"{key}_binned_teacher"], a[f"{key}_binned_student"],
                n[key]["slope_test"], n[key]["intercept_test"],
                xlabel="teacher log-odds on its top-1 class",
                ylabel="student log-odds on that class",
                title=f"Softmax kernel classifier: {label}",
            )  # fmt: skip
        r = n["digits_regression"]
        _scatter(
            axes[0, 2], a["regression_log_teacher_margin"],
            a["regression_log_student_margin"], a["regression_binned_teacher"],
            a["regression_binned_student"], r["slope_log_margin"], r["intercept"],
            xlabel="log teacher margin (top − runner-up)",
            ylabel="log student margin (teacher's top class)",
            title="Squared-loss kernel regression: digits",
        )  # fmt: skip
        fig.suptitle(
            "Confidence exaggeration: slope > 1 means the student exaggerates the "
            "teacher's (un)certainty",
            fontsize=10,
        )
    return fig
