"""[NMBMK23] "does it pay to disobey?": students against a tuned label-only baseline.

Every model is tuned as hard as the method: the label-only baseline is the best
early-stopped model over its number of steps, students are searched over a
(teacher steps ``T``, student steps ``S``) grid, late-switching students over
(``T``, switch step, ``S``).

Regression (closed forms, ``kernel_sd.dynamics`` and ``kernel_sd.filters``):
``y = sin(2πx) + N(0, σ²)`` at ``K`` points ``x ~ U[0, 1]``, Laplace kernel, gradient
descent with ``lr = 1/d_max``. Error: the mean squared distance of the fit to the
clean ``sin(2πx)`` on a 201-point grid (the true risk of the fit, so selecting
on it adds no selection noise; every model is selected the same way).
Denoising at each model's best step: the noise passed into the fit
``(1/K)‖h ⊙ Vᵀξ‖²``, the bias ``(1/K)‖(1 − h) ⊙ Vᵀf_true‖²`` and the energy of the
noise part of the training gradient at that step, ``(1/K) Σ_k d_k (q_k^s g_k ξ̃_k)²``
(``q = 1 − lr d``; ``g = 1`` for the labels, ``h_T`` for a student).

Digits (softmax cross-entropy, simulated step by step): train / validation /
test splits, labels of train and validation flipped (test clean). The label-only
model's own run gives the teachers; students of teachers ``T`` in a small set are
trained up to the same number of steps. Selection on the validation error
(ties go to the later step), reported on the test set.

``gain_per_seed`` is ``(label_only_best − best_student)/label_only_best`` per
seed: positive when disobeying the labels (distilling) pays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import gram
from kernel_sd import dynamics, filters, plotting


def _grid(cfg: Config) -> np.ndarray:
    """Step counts: every step up to ``late_dense``, then geometric to ``late_max``."""
    geo = np.geomspace(cfg.late_dense, cfg.late_max, cfg.late_geometric)
    return np.unique(np.concatenate([np.arange(1, cfg.late_dense + 1), np.round(geo)])
                     ).astype(int)  # fmt: skip


@jax.jit
def _filter_grids(d, lr, grid, coarse, switches, inter):
    """Filters of every model of the search, in one compiled call.

    Label-only ``h_N = 1 − (1 − lr d)^N`` for ``N`` in ``grid``; students
    ``h_S h_T`` on the (``T``, ``S``) grid; late switches on the (``T``, switch,
    ``S``) grid of ``coarse`` × ``switches`` × ``coarse``; students of an
    interpolating teacher (``inter`` steps) on ``grid``.
    """
    K = d.shape[0]

    def gd(steps):  # (..., K) filters for step counts (...,)
        steps = steps[..., None]
        return filters.gradient_descent(
            jnp.broadcast_to(d, steps.shape[:-1] + (K,)), lr, steps
        )

    h_lab = gd(grid)
    h_st = filters.student(h_lab[None, :, :], h_lab[:, None, :])
    h_late = filters.late_switch(d.reshape(1, 1, 1, K), lr, coarse[None, None, :, None],
                                 switches[None, :, None, None], gd(coarse)[:, None, None, :])  # fmt: skip
    h_inter = filters.student(h_lab, gd(inter)[0][None, :])
    return h_lab, h_st, h_late, h_inter


def _regression_seed(cfg: Config, seed: int, n: int, sigma: float) -> dict:
    data = ksd.data.sinusoid(n, noise=sigma, seed=seed)
    kernel = ksd.kernels.Laplace(lengthscale=cfg.sin_lengthscale)
    spec = ksd.spectrum(kernel, jnp.asarray(data.X))
    d, V = np.asarray(spec.eigvals), np.asarray(spec.eigvecs)
    K = d.size
    W = ksd.features(kernel, data.X, data.X_test, spec)
    lr = cfg.gd_lr / d[0]
    f_true = np.sin(2 * np.pi * data.X[:, 0])
    xi, theta = V.T @ (data.y - f_true), V.T @ f_true
    grid = _grid(cfg)
    dd = jnp.asarray(d)

    def test_mse(fit):
        pred = np.asarray(fit.test_pred)
        return np.mean((pred - data.y_test) ** 2, axis=-1)

    coarse = np.unique(np.round(np.geomspace(1, cfg.late_max, cfg.late_coarse))).astype(
        int
    )
    switches = np.concatenate([[0], np.unique(np.round(
        np.geomspace(1, cfg.late_max, cfg.late_switches))).astype(int)])  # fmt: skip
    H_lab, H_st, H_late, h_inter = (
        np.asarray(h)
        for h in _filter_grids(dd, lr, *(jnp.asarray(v, dd.dtype) for v in (
            grid, coarse, switches, [1000 * cfg.late_max])))
    )  # fmt: skip
    y = jnp.asarray(data.y)
    e_lab = test_mse(ksd.fit.apply(spec, y, jnp.asarray(H_lab), W))
    E = test_mse(ksd.fit.apply(spec, y, jnp.asarray(H_st), W))
    iN = int(np.argmin(e_lab))
    iT, iS = np.unravel_index(int(np.argmin(E)), E.shape)
    # [NMBMK23] limit: a student of an interpolating teacher is a label-only model.
    e_inter = test_mse(ksd.fit.apply(spec, y, jnp.asarray(h_inter), W))
    L = test_mse(ksd.fit.apply(spec, y, jnp.asarray(H_late), W))
    lT, lw, lS = np.unravel_index(int(np.argmin(L)), L.shape)

    def denoise(h, steps, teacher=None):
        g = (1 - lr * d) ** steps * (1.0 if teacher is None else teacher)
        fit = V @ (h * (V.T @ data.y))
        return {
            "noise_in_fit": float(np.sum((h * xi) ** 2) / K),
            "bias2": float(np.sum(((1 - h) * theta) ** 2) / K),
            "train_distance_to_f_true": float(np.mean((fit - f_true) ** 2)),
            "gradient_noise_energy": float(np.sum(d * (g * xi) ** 2) / K),
            "effective_dimension": float(h.sum()),
        }

    # The configuration this figure used before: teacher 200 steps, student and
    # label-only model 20 000 steps each (the label-only model is over-trained).
    q = 1.0 - lr * d
    old_h = np.stack([(1 - q**20000) * (1 - q**200), 1 - q**20000])
    old, old_lab = test_mse(ksd.fit.apply(spec, y, jnp.asarray(old_h), W))
    return {
        "label_only_best": float(e_lab[iN]), "label_only_best_step": int(grid[iN]),
        "best_student": float(E[iT, iS]), "best_student_T": int(grid[iT]),
        "best_student_S": int(grid[iS]),
        "student_converged_at_best_T": float(E[iT, -1]),
        "interpolating_teacher_gap": float(np.max(np.abs(e_inter - e_lab))),
        "best_late": float(L[lT, lw, lS]), "best_late_T": int(coarse[lT]),
        "best_late_switch": int(switches[lw]), "best_late_S": int(coarse[lS]),
        "best_from_start_coarse": float(L[:, 0].min()),
        "denoise_label_at_best": denoise(H_lab[iN], grid[iN]),
        "denoise_student_at_best": denoise(H_st[iT, iS], grid[iS], H_lab[iT]),
        "previous_config": {"student_T200_S20000": float(old),
                            "label_only_20000": float(old_lab)},
        "label_curve": e_lab, "student_curve_at_best_T": E[iT], "student_grid": E,
        "grid": grid,
    }  # fmt: skip


def _summary(runs: list[dict]) -> dict:
    lb = np.array([r["label_only_best"] for r in runs])
    bs = np.array([r["best_student"] for r in runs])
    sd = (lambda v: float(v.std(ddof=1))) if len(runs) > 1 else (lambda v: 0.0)
    return {
        "label_only_best": float(lb.mean()), "label_only_best_sd": sd(lb),
        "best_student": float(bs.mean()), "best_student_sd": sd(bs),
        "gain_per_seed": ((lb - bs) / lb).tolist(),
        "label_only_best_per_seed": lb.tolist(), "best_student_per_seed": bs.tolist(),
    }  # fmt: skip


def _digits_seed(cfg: Config, seed: int, noise: float) -> dict:
    ds = ksd.data.digits(None, seed=seed)
    n, nv = cfg.late_digits_n, cfg.late_digits_val
    X, lab = ds.X[:n], ds.y[:n]
    Xv, labv = ds.X[n : n + nv], ds.y[n : n + nv]
    if noise > 0:
        lab, _ = ksd.data.flip_labels(lab, noise, classes=10, seed=seed)
        labv, _ = ksd.data.flip_labels(labv, noise, classes=10, seed=seed + 1000)
    kernel = ksd.kernels.RBF(lengthscale=cfg.digits_lengthscale)
    G = gram(kernel, X)
    X_test, y_test = (
        ds.X_test[: cfg.late_digits_test],
        ds.y_test[: cfg.late_digits_test],
    )
    Ga = gram(kernel, X, np.concatenate([Xv, X_test]))
    lr = cfg.cls_lr / float(np.linalg.eigvalsh(G)[-1])
    N = cfg.late_digits_steps

    def errors(run):
        P = np.asarray(run.test_pred).argmax(-1)
        return np.mean(P[:, :nv] != labv[None], 1), np.mean(
            P[:, nv:] != y_test[None], 1
        )

    base = dynamics.simulate_classifier(G, lab, lr=lr, steps=N, classes=10, G_test=Ga)
    bv, bt = errors(base)
    logits = np.asarray(base.train_pred)
    iN = N - int(np.argmin(bv[1:][::-1]))  # best validation step >= 1, latest on ties
    SV = np.full((len(cfg.late_digits_teachers), N + 1), np.inf)
    ST = np.full_like(SV, np.inf)
    for i, T in enumerate(cfg.late_digits_teachers):
        st = dynamics.simulate_classifier(G, lab, lr=lr, steps=N, classes=10, G_test=Ga,
                                          teacher_logits=logits[T])  # fmt: skip
        SV[i], ST[i] = errors(st)
    SV[:, 0] = np.inf
    i, s = np.unravel_index(int(np.argmin(SV[::-1, ::-1])), SV.shape)  # latest on ties
    i, s = SV.shape[0] - 1 - i, SV.shape[1] - 1 - s
    return {
        "label_only_best": float(bt[iN]), "label_only_best_step": iN,
        "label_only_final": float(bt[-1]), "label_only_oracle": float(bt[1:].min()),
        "best_student": float(ST[i, s]), "best_student_T": int(cfg.late_digits_teachers[i]),
        "best_student_S": int(s), "best_student_oracle": float(ST[:, 1:].min()),
    }  # fmt: skip


@EXPERIMENT.compute("nagarajan2023_late")
def late(cfg: Config, seed: int) -> Result:
    """Tuned label-only baseline vs the best student, per seed; late switch; denoising."""
    seeds = [seed + i for i in range(cfg.late_seeds)]
    runs = [_regression_seed(cfg, s, cfg.sin_n, cfg.sin_noise) for s in seeds]
    numbers = _summary(runs)
    numbers["setting"] = {
        "K": cfg.sin_n, "sigma": cfg.sin_noise, "seeds": seeds, "lr": f"{cfg.gd_lr:g}/d_max",
        "kernel": f"Laplace, lengthscale {cfg.sin_lengthscale:g}",
        "steps": f"1..{cfg.late_dense}, then {cfg.late_geometric} geometric to {cfg.late_max}",
        "selection": "test MSE to the clean sin(2πx) (the true risk), the same for every model",
    }  # fmt: skip
    keep = ("label_only_best_step", "best_student_T", "best_student_S", "best_late",
            "best_late_T", "best_late_switch", "best_late_S", "best_from_start_coarse",
            "student_converged_at_best_T", "interpolating_teacher_gap", "denoise_label_at_best",
            "denoise_student_at_best", "previous_config")  # fmt: skip
    numbers["per_seed"] = [{k: r[k] for k in keep} for r in runs]
    bl = np.array([r["best_late"] for r in runs])
    lb = np.array(numbers["label_only_best_per_seed"])
    numbers["late_gain_per_seed"] = ((lb - bl) / lb).tolist()
    for n_big, sigma in cfg.late_more:
        more = [
            _regression_seed(cfg, s, n_big, sigma) for s in seeds[: cfg.late_more_seeds]
        ]
        numbers[f"regression_K{n_big}_sigma{sigma:g}"] = _summary(more)
    numbers["digits"] = {}
    for noise in cfg.late_digits_noises:
        dig = [_digits_seed(cfg, s, noise) for s in seeds[: cfg.late_digits_seeds]]
        block = _summary(dig)
        block["per_seed"] = dig
        numbers["digits"][f"flip{100 * noise:g}"] = block
    r0 = runs[0]
    arrays = {"grid": r0["grid"], "label_curve": r0["label_curve"],
              "student_curve": r0["student_curve_at_best_T"], "student_grid": r0["student_grid"]}  # fmt: skip
    return Result(numbers, arrays)


@EXPERIMENT.plot("nagarajan2023_late")
def plot_late(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    r0 = n["per_seed"][0]
    grid = a["grid"]
    fig, axes = plotting.new_figure(5, 1, width=3.6, height=3.2)
    with plotting.style():
        ax = axes[0, 0]
        lg = np.log10(grid)
        im = ax.pcolormesh(lg, lg, np.log10(a["student_grid"]), shading="auto",
                           cmap="viridis")  # fmt: skip
        ax.plot(np.log10(r0["best_student_S"]), np.log10(r0["best_student_T"]), "r*", ms=10,
                label="best (T, S)")  # fmt: skip
        fig.colorbar(im, ax=ax, label="log10 test MSE")
        ax.set(xlabel="log10 student steps S", ylabel="log10 teacher steps T",
               title="Student test MSE, seed 0")  # fmt: skip
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        ax = axes[0, 1]
        ax.loglog(
            grid, a["label_curve"], color=plotting.OKABE_ITO[3], label="labels only"
        )
        ax.loglog(grid, a["student_curve"], color=plotting.OKABE_ITO[0],
                  label=f"student of the best teacher (T = {r0['best_student_T']})")  # fmt: skip
        ax.set(
            xlabel="steps",
            ylabel="test MSE to sin(2πx)",
            title="Seed 0: along training",
        )
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 2]
        x = np.arange(len(n["gain_per_seed"]))
        ax.bar(x - 0.2, n["label_only_best_per_seed"], 0.4, color=plotting.OKABE_ITO[3],
               label="best early-stopped label-only")  # fmt: skip
        ax.bar(x + 0.2, n["best_student_per_seed"], 0.4, color=plotting.OKABE_ITO[0],
               label="best student over (T, S)")  # fmt: skip
        for i, g in enumerate(n["gain_per_seed"]):
            ax.text(i, max(n["label_only_best_per_seed"][i], n["best_student_per_seed"][i]),
                    f"{100 * g:+.0f}%", ha="center", va="bottom", fontsize=7)  # fmt: skip
        ax.set(
            xlabel="seed",
            ylabel="test MSE",
            title="Does it pay to disobey? (regression)",
        )
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 3]
        keys = ("noise_in_fit", "bias2", "gradient_noise_energy")
        lab = [
            np.mean([r["denoise_label_at_best"][k] for r in n["per_seed"]])
            for k in keys
        ]
        stu = [
            np.mean([r["denoise_student_at_best"][k] for r in n["per_seed"]])
            for k in keys
        ]
        xx = np.arange(len(keys))
        ax.bar(
            xx - 0.2, lab, 0.4, color=plotting.OKABE_ITO[3], label="labels, best step"
        )
        ax.bar(
            xx + 0.2,
            stu,
            0.4,
            color=plotting.OKABE_ITO[0],
            label="student, best (T, S)",
        )
        ax.set_yscale("log")
        ax.set_xticks(xx, ["noise in fit", "bias²", "gradient noise"], fontsize=8)
        ax.set(title="Denoising at each model's best step")
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 4]
        blocks = n["digits"]
        xx = np.arange(len(blocks))
        for off, key, color, label in ((-0.2, "label_only_best", 3, "label-only, best step"),
                                       (0.2, "best_student", 0, "best student (T, S)")):  # fmt: skip
            ax.bar(xx + off, [100 * b[key] for b in blocks.values()], 0.4,
                   yerr=[100 * b[f"{key}_sd"] for b in blocks.values()], capsize=3,
                   color=plotting.OKABE_ITO[color], label=label)  # fmt: skip
        ax.set_xticks(xx, [f"{k.removeprefix('flip')} % flips" for k in blocks])
        ax.set(
            ylabel="test error (%)",
            title="Digits, softmax classifiers (validation-selected)",
        )
        ax.legend(frameon=False, fontsize=7)
        fig.suptitle(
            f"Students vs a tuned early-stopped label-only model: sin(2πx) + N(0, "
            f"{cfg.sin_noise:g}²), K = {cfg.sin_n}",
            fontsize=10,
        )
    return fig
