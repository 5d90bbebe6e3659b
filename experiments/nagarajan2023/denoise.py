"""[NMBMK23] gradient denoising: the noise carried by label vs distillation gradients."""

from __future__ import annotations

import numpy as np

from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import gram, sin_problem
from kernel_sd import dynamics, plotting
from kernel_sd.theory import nagarajan2023 as nag

RUNS = ("label", "distill")
"""Training on the labels, and a student trained on its teacher."""


@EXPERIMENT.compute("nagarajan2023_denoise")
def denoise(cfg: Config, seed: int) -> Result:
    """Gradient noise along training (label vs distillation loss); error to f_true."""
    data, kernel, spec = sin_problem(cfg, seed)
    d = np.asarray(spec.eigvals)
    K = d.size
    G = gram(kernel, data.X)
    f_true = np.sin(2 * np.pi * data.X[:, 0])
    xi = data.y - f_true
    lr = cfg.gd_lr / d[0]
    steps = cfg.late_total
    nt = cfg.teacher_steps
    teach = dynamics.simulate_regression(G, data.y, lr=lr, steps=nt).train_pred[-1]
    teach0 = dynamics.simulate_regression(G, f_true, lr=lr, steps=nt).train_pred[-1]
    runs = {
        "label": (dynamics.simulate_regression(G, data.y, lr=lr, steps=steps),
                  dynamics.simulate_regression(G, f_true, lr=lr, steps=steps), data.y, f_true),
        "distill": (dynamics.simulate_regression(G, data.y, lr=lr, steps=steps, teacher=teach),
                    dynamics.simulate_regression(G, f_true, lr=lr, steps=steps, teacher=teach0),
                    np.asarray(teach), np.asarray(teach0)),
    }  # fmt: skip
    s_idx = np.unique(np.geomspace(1, steps, 60).astype(int))
    s_idx = np.concatenate([[0], s_idx])
    energy, dist = {}, {}
    for key, (noisy, clean, tgt, tgt0) in runs.items():
        fn = np.asarray(noisy.train_pred)[s_idx]
        fc = np.asarray(clean.train_pred)[s_idx]
        r = (fn - tgt[None, :]) - (fc - tgt0[None, :])  # noise part of the residual
        energy[key] = np.einsum("sk,kl,sl->s", r, G, r) / K  # (1/K) rᵀ G r
        dist[key] = np.mean((fn - f_true[None, :]) ** 2, axis=1)
    sigma = cfg.sin_noise
    # Expected energies for a gradient-descent schedule: e^{−s d} -> (1 − lr d)^s.
    q = (1 - lr * d)[None, :] ** s_idx[:, None]
    hT = 1 - (1 - lr * d) ** nt
    flow_lab, flow_dis = nag.expected_noise_energy(
        d, sigma=sigma, teacher_t=lr * nt, t=[0.0]
    )
    gn = nag.gradient_noise(spec, xi, teacher_t=lr * nt, t=[0.0])
    numbers = {
        "energy_s0": {"label": float(energy["label"][0]), "distill": float(energy["distill"][0])},
        "expected_s0": {"label": float(flow_lab[0]), "distill": float(flow_dis[0])},
        "best_clean_mse": {k: float(v.min()) for k, v in dist.items()},
        "best_step": {k: int(s_idx[np.argmin(v)]) for k, v in dist.items()},
        "final_clean_mse": {k: float(v[-1]) for k, v in dist.items()},
        "sigma": sigma, "teacher_steps": nt,
        "teacher_clean_mse": float(np.mean((np.asarray(teach) - f_true) ** 2)), "K": K,
    }  # fmt: skip
    arrays = {
        "steps": s_idx, **{f"energy_{k}": v for k, v in energy.items()},
        **{f"dist_{k}": v for k, v in dist.items()},
        "expected_label": sigma**2 * np.sum(d * q**2, axis=1) / K,
        "expected_distill": sigma**2 * np.sum(d * q**2 * hT**2, axis=1) / K,
        "d": d, "gradient_label_s0": gn.label[0], "gradient_distill_s0": gn.distill[0],
    }  # fmt: skip
    return Result(numbers, arrays)


@EXPERIMENT.plot("nagarajan2023_denoise")
def plot_denoise(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    colors = {"label": plotting.OKABE_ITO[3], "distill": plotting.OKABE_ITO[0]}
    names = {"label": "label loss", "distill": "distillation"}
    fig, axes = plotting.new_figure(3, 1, width=3.5, height=3.0)
    x = np.maximum(a["steps"], 0.5)
    d = a["d"]
    with plotting.style():
        ax = axes[0, 0]
        for key in RUNS:
            ax.loglog(x, a[f"energy_{key}"], color=colors[key],
                      label=f"{names[key]} (measured)")  # fmt: skip
        for key, label in zip(RUNS, ("label", "distillation"), strict=True):
            ax.loglog(x, a[f"expected_{key}"], "--", color=colors[key], lw=1,
                      label=f"{label} (expected)")  # fmt: skip
        ax.set(xlabel="gradient step s", ylabel="(1/K) rᵀ G r of the noise part",
               title="Noise energy of the gradient")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 1]
        pos = d > 1e-12 * d[0]
        for key, marker in zip(RUNS, "os", strict=True):
            ax.loglog(d[pos], np.abs(a[f"gradient_{key}_s0"][pos]), marker, ms=3,
                      color=colors[key], label=names[key])  # fmt: skip
        ax.set(xlabel="eigenvalue d_k", ylabel="|noise part of gradient|_k at s = 0",
               title="Per direction: shrunk by 1 − (1 − ηd_k)^N")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 2]
        for key, label in zip(RUNS, ("trained on labels", "student of teacher"),
                              strict=True):  # fmt: skip
            ax.semilogx(x, a[f"dist_{key}"], color=colors[key], label=label)
        ax.axhline(n["teacher_clean_mse"], color="0.5", ls=":",
                   label=f"teacher ({n['teacher_steps']} steps)")  # fmt: skip
        ax.set(xlabel="gradient step s", ylabel="(1/K)‖f_s(X) − f_true(X)‖²",
               title="Distance to the clean target")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        fig.suptitle(
            f"Gradient denoising on sin(2πx) + N(0, {n['sigma']:g}²), K = {n['K']}",
            fontsize=10,
        )
    return fig
