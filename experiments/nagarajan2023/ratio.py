"""[NMBMK23] per-eigendirection student/teacher ratio: simulated descent vs the formula."""

from __future__ import annotations

import numpy as np

from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import gram, sin_problem
from kernel_sd import dynamics, plotting


@EXPERIMENT.compute("nagarajan2023_ratio")
def ratio(cfg: Config, seed: int) -> Result:
    """Student/teacher coordinates after ``N'`` simulated steps against ``1 − (1 − ηd)^N'``."""
    data, kernel, spec = sin_problem(cfg, seed)
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    G = gram(kernel, data.X)
    lr = cfg.gd_lr / d[0]
    teacher = dynamics.simulate_regression(G, data.y, lr=lr, steps=cfg.teacher_steps)
    fT = np.asarray(teacher.train_pred[-1])
    zT = V.T @ fT
    # Directions where the teacher's coordinate is far above the round-off of the
    # simulated predictions (~1e-16 of the largest), so the ratio keeps ~10 digits.
    ok = (d > 0) & (np.abs(zT) > 1e-6 * np.abs(zT).max())
    numbers = {"max_abs_error": {}, "directions_shown": int(ok.sum()), "lr": lr}
    arrays = {"d": d, "ok": ok}
    for n in cfg.student_steps:
        st = dynamics.simulate_regression(G, data.y, lr=lr, steps=n, teacher=fT)
        measured = (V.T @ np.asarray(st.train_pred[-1]))[ok] / zT[ok]
        theory = 1.0 - (1.0 - lr * d[ok]) ** n  # [NMBMK23] (1 − η d)^N' form
        numbers["max_abs_error"][str(n)] = float(np.max(np.abs(measured - theory)))
        arrays[f"ratio_{n}"] = measured
    return Result(numbers, arrays)


@EXPERIMENT.plot("nagarajan2023_ratio")
def plot_ratio(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    d, ok, lr = a["d"], a["ok"], n["lr"]
    fig, axes = plotting.new_figure(1, 1, width=5.4, height=3.6)
    ax = axes[0, 0]
    colors = plotting.round_colors(len(cfg.student_steps))
    dd = np.geomspace(d[ok].min(), d[0], 200)
    with plotting.style():
        for c, steps in zip(colors, cfg.student_steps, strict=True):
            ax.semilogx(d[ok], a[f"ratio_{steps}"], "o", ms=4, color=c,
                        label=f"simulated, N' = {steps}")  # fmt: skip
            ax.semilogx(dd, -np.expm1(-lr * steps * dd), "-", lw=1, color=c)
        ax.plot([], [], "-", color="0.3", lw=1, label="theory 1 − exp(−η N' d)")
        worst = max(n["max_abs_error"].values())
        ax.text(0.98, 0.04, f"points vs 1 − (1 − ηd)^N': max |error| {worst:.1e}",
                transform=ax.transAxes, ha="right", fontsize=7)  # fmt: skip
        ax.set(
            xlabel="eigenvalue d_k of G",
            ylabel="student / teacher along direction k",
            title="Student keeps 1 − (1 − ηd)^N' of its teacher per eigendirection",
            ylim=(-0.05, 1.08),
        )
        ax.legend(frameon=False, loc="upper left", fontsize=7)
    return fig
