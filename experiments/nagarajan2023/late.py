"""[NMBMK23] late distillation: train on labels, then switch to the teacher."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import gram, sin_problem
from kernel_sd import dynamics, plotting

TEACHERS = ("early", "interpolating")
"""Record keys of the regression teachers: early-stopped, then interpolating."""


def _regression(cfg: Config, seed: int) -> tuple[dict, dict]:
    """Test MSE of a gradient-descent student against the step it switches at."""
    data, kernel, spec = sin_problem(cfg, seed)
    d = np.asarray(spec.eigvals)
    W = ksd.features(kernel, jnp.asarray(data.X), jnp.asarray(data.X_test), spec)
    lr = cfg.gd_lr / d[0]
    total = cfg.late_total
    switches = np.unique(
        np.concatenate([[0], np.geomspace(1, total, cfg.late_switches).astype(int)])
    )

    def mse(pred):
        return float(np.mean((np.asarray(pred) - data.y_test) ** 2))

    def fit(steps):
        return dynamics.teacher_descent(
            spec, data.y, lr=lr, steps=steps, test_features=W
        )

    lab_only = mse(fit(total).test_pred[0])
    numbers, arrays = {}, {"switches": switches}
    for key, nt in zip(TEACHERS, (cfg.teacher_steps, 100 * total), strict=True):
        tfit = fit(nt)
        errs = np.array([
            mse(dynamics.student_descent(spec, data.y, lr=lr, teacher_steps=nt, steps=total,
                                         switch_step=int(s), test_features=W).test_pred[0])
            for s in switches
        ])  # fmt: skip
        numbers[key] = {
            "teacher_steps": nt,
            "teacher_train_mse": float(np.mean((np.asarray(tfit.train_pred[0]) - data.y) ** 2)),
            "teacher_test_mse": mse(tfit.test_pred[0]),
            "distill_from_start": float(errs[0]), "label_only": lab_only,
            "best_switch": int(switches[np.argmin(errs)]), "best": float(errs.min()),
        }  # fmt: skip
        arrays[f"{key}_errors"] = errs
    return numbers, arrays


def _classifier(cfg: Config, seed: int) -> tuple[dict, dict]:
    """Digits, kernel softmax classifiers: test error against the switch step."""
    dg = ksd.data.digits(cfg.digits_n, seed=seed)
    kern = ksd.kernels.RBF(lengthscale=cfg.digits_lengthscale)
    G, Gt = gram(kern, dg.X), gram(kern, dg.X, dg.X_test)
    lrc = cfg.cls_lr / float(np.linalg.eigvalsh(G)[-1])
    steps = cfg.cls_steps
    teacher = dynamics.simulate_classifier(
        G, dg.y, lr=lrc, steps=steps, classes=10, G_test=Gt
    )
    tl = np.asarray(teacher.train_pred[-1])
    sw = np.linspace(0, steps, cfg.late_cls_switches).astype(int)
    cerr = []
    for s in sw:
        st = dynamics.simulate_classifier(G, dg.y, lr=lrc, steps=steps, classes=10, G_test=Gt,
                                          teacher_logits=tl, switch_step=int(s))  # fmt: skip
        cerr.append(float(np.mean(np.asarray(st.test_pred[-1]).argmax(1) != dg.y_test)))
    cerr = np.array(cerr)
    numbers = {
        "teacher_train_acc": float(np.mean(tl.argmax(1) == dg.y)),
        "teacher_test_err": float(np.mean(np.asarray(teacher.test_pred[-1]).argmax(1) != dg.y_test)),
        "switch_steps": sw, "student_test_err": cerr,
    }  # fmt: skip
    return numbers, {"digits_switch": sw, "digits_err": cerr}


@EXPERIMENT.compute("nagarajan2023_late")
def late(cfg: Config, seed: int) -> Result:
    """Test error vs the step at which training switches to the distillation loss."""
    numbers, arrays = _regression(cfg, seed)
    numbers["digits"], more = _classifier(cfg, seed)
    return Result(numbers, {**arrays, **more})


def _switch_panel(ax, x, errs, labels_only, **labels):
    ax.plot(x, errs, "o-", ms=3, label="switch at step s")
    ax.axhline(
        labels_only, color=plotting.OKABE_ITO[3], ls="--", lw=1, label="labels only"
    )
    ax.axhline(errs[0], color=plotting.OKABE_ITO[2], ls=":", lw=1.5,
               label="distill from start")  # fmt: skip
    ax.set(**labels)
    ax.legend(frameon=False, fontsize=7)


@EXPERIMENT.plot("nagarajan2023_late")
def plot_late(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    names = {
        "early": f"early-stopped teacher ({cfg.teacher_steps} steps)",
        "interpolating": f"interpolating teacher ({100 * cfg.late_total} steps)",
    }
    fig, axes = plotting.new_figure(3, 1, width=3.5, height=3.0)
    with plotting.style():
        for col, key in enumerate(TEACHERS):
            ax = axes[0, col]
            ax.set_xscale("log")
            _switch_panel(
                ax, np.maximum(a["switches"], 0.5), a[f"{key}_errors"],
                n[key]["label_only"],
                xlabel="switch step s (labels before, teacher after)",
                ylabel="test MSE to sin(2πx)",
                title=f"{names[key]}\nteacher train MSE {n[key]['teacher_train_mse']:.3g}",
            )  # fmt: skip
            ax.ticklabel_format(axis="y", useOffset=False)
        lo = min(ax.get_ylim()[0] for ax in axes[0, :2])
        hi = max(ax.get_ylim()[1] for ax in axes[0, :2])
        for ax in axes[0, :2]:
            ax.set_ylim(lo, hi)  # same scale: the interpolating teacher's curve is flat
        err = a["digits_err"]
        acc = n["digits"]["teacher_train_acc"]
        _switch_panel(
            axes[0, 2], a["digits_switch"], 100 * err, 100 * err[-1],
            xlabel="switch step s", ylabel="student test error (%)",
            title=f"Digits, softmax kernel classifier\nteacher train accuracy {100 * acc:.1f}%",
        )  # fmt: skip
        fig.suptitle(
            "Late distillation: train on labels, then switch to the teacher",
            fontsize=10,
        )
    return fig
