"""[MFB20] self-distillation rounds with networks on digits, next to NTK-kernel rounds.

Every round trains a freshly initialised network (``nets.self_distill``: ℓ2 loss on
one-hot targets, full-batch gradient descent, ``N`` steps of step ``lr``) on the
previous round's training predictions; round 0 on the (possibly noisy) labels. With
the NTK of the same architecture (``G = NTK(X, X)/K = V diag(d) Vᵀ``):

- ``ntk_gd``: the infinite-width mean of the same procedure, kernel gradient descent
  from zero for ``N`` steps every round: round ``t`` is the filter
  ``h(d)^{t+1}``, ``h = 1 − (1 − lr d)^N`` (``ksd.filters.gradient_descent``, applied
  by ``ksd.fit.apply``);
- ``ntk_gd_init``: the infinite-width network itself, with a fresh random initial
  function every round, ``f₀ ~ GP(0, NNGP)`` (its law at initialisation):
  ``f_t = f₀ + [kernel GD from zero on y_t − f₀(X)]``;
- ``ntk_ridge``: [MFB20]'s own model, constrained ridge rounds (``ksd.self_distill``)
  with ``ε`` the round-0 training residual ``(1/K)‖Y − f_0(X)‖²`` of ``ntk_gd``.

Per round: test classification error (argmax), training error against the labels
used and against the clean labels, mean and standard deviation over seeds (each seed
its own split, label-noise draw and network initialisations).
"""

from __future__ import annotations

import jax
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.networks import EXPERIMENT
from experiments.networks._common import (
    digits,
    error,
    gd_filter,
    host,
    mean_sd,
    noisy_labels,
)
from kernel_sd import nets, plotting

MODELS = {
    "net": "network rounds",
    "ntk_gd_init": "NTK GD, random f₀ each round",
    "ntk_gd": "NTK GD from zero (mean)",
    "ntk_ridge": "NTK ridge rounds [MFB20]",
}
"""Record key and legend of each model."""
METRICS = ("test_err", "train_err_used", "train_err_clean")


def _one_seed(cfg: Config, seed: int, noise: float):
    """Every model's metrics ``(rounds, 3)`` for one split / noise draw / init, and the
    ridge rounds' ε and the step ``lr``."""
    ds = digits(cfg.rounds_n_train, seed)
    rng = np.random.default_rng([seed, 1])  # the label-noise draw
    lab = noisy_labels(ds.y, noise, rng) if noise > 0 else ds.y
    Y = ksd.data.one_hot(lab, 10)
    K, R, N = Y.shape[0], cfg.rounds_count, cfg.rounds_steps
    net = nets.MLP(depth=cfg.rounds_depth, width=cfg.rounds_width, outputs=10)
    kernel = net.ntk()
    spec = ksd.spectrum(kernel, ds.X)
    feats = ksd.features(kernel, ds.X, ds.X_test, spec)
    (d,) = host(spec.eigvals)
    lr = cfg.rounds_lr / float(d[0])

    def metrics(F, F_test):
        return [error(F_test, ds.y_test), error(F, lab), error(F, ds.y)]

    out = {}
    run = nets.self_distill(net, jax.random.key(seed), ds.X, Y, rounds=R, lr=lr,
                            steps=N, X_test=ds.X_test)  # fmt: skip
    F, F_test = host(run.train_pred, run.test_pred)
    out["net"] = [metrics(F[t], F_test[t]) for t in range(R)]
    h = np.asarray(gd_filter(d, lr, N))[None, :]  # 1 − (1 − lr d)^N

    def gd_round(target):  # kernel GD from zero on `target`: one filter h, one engine
        fit = ksd.fit.apply(spec, target, h, feats)
        F, F_test = host(fit.train_pred, fit.test_pred)
        return F[0], F_test[0]

    target, rows = Y, []
    for _ in range(R):  # from zero every round: round t applies h^{t+1} to Y
        F, F_test = gd_round(target)
        rows.append(metrics(F, F_test))
        target = F
    out["ntk_gd"] = rows
    # The infinite-width network: f₀ ~ GP(0, NNGP) on train ∪ test, fresh each round.
    both = np.vstack([ds.X, ds.X_test])
    C = np.asarray(ksd.gram(net.nngp(), both))
    L = np.linalg.cholesky(C + 1e-10 * np.trace(C) / C.shape[0] * np.eye(C.shape[0]))
    g0 = np.random.default_rng([seed, 2])  # the initial functions
    target, rows = Y, []
    for _ in range(R):
        f0 = L @ g0.standard_normal((L.shape[0], 10))
        F, F_test = gd_round(target - f0[:K])
        F, F_test = f0[:K] + F, f0[K:] + F_test
        rows.append(metrics(F, F_test))
        target = F
    out["ntk_gd_init"] = rows
    eps = float(np.sum((Y - gd_round(Y)[0]) ** 2) / K)
    tr = ksd.self_distill(kernel, ds.X, Y, eps=eps, rounds=R, X_test=ds.X_test)
    F, F_test = host(tr.train_pred, tr.test_pred)
    out["ntk_ridge"] = [metrics(F[t], F_test[t]) for t in range(R)]
    return {key: np.asarray(v) for key, v in out.items()}, eps, lr


@EXPERIMENT.compute("networks_rounds")
def network_rounds(cfg: Config, seed: int) -> Result:
    """Per noise level and model: errors per round, mean ± sd over seeds."""
    numbers, arrays = {"noise": {}}, {}
    for noise in cfg.rounds_noise:
        runs = [_one_seed(cfg, seed + s, noise) for s in range(cfg.rounds_seeds)]
        level = {"eps": [r[1] for r in runs], "lr": [r[2] for r in runs]}
        for model in MODELS:
            a = np.stack([r[0][model] for r in runs])  # (seeds, rounds, metric)
            arrays[f"noise{noise:g}_{model}"] = a
            level[model] = {m: mean_sd(a[:, :, i]) for i, m in enumerate(METRICS)}
            level[model]["best_round"] = int(np.argmin(a[:, :, 0].mean(axis=0)))
        numbers["noise"][f"{noise:g}"] = level
    return Result(numbers, arrays)


@EXPERIMENT.plot("networks_rounds")
def plot_rounds(res: Result, cfg: Config):
    levels = res.numbers["noise"]
    fig, axes = plotting.new_figure(len(levels), 2, width=3.6, height=2.7)
    markers = dict(zip(MODELS, "os^d", strict=True))
    with plotting.style():
        for col, (noise, level) in enumerate(levels.items()):
            for row, metric in enumerate(("test_err", "train_err_used")):
                ax = axes[row, col]
                for j, (model, label) in enumerate(MODELS.items()):
                    m = level[model][metric]
                    r = np.arange(len(m["mean"]))
                    ax.errorbar(r + 0.06 * (j - 1.5), m["mean"], yerr=m["sd"],
                                fmt=markers[model] + "-", ms=3, capsize=2,
                                color=plotting.OKABE_ITO[j], label=label)  # fmt: skip
                what = "test error" if metric == "test_err" else "training error"
                ax.set(xlabel="round t", ylabel=what + (" (labels used)" if row else ""),
                       xticks=np.arange(len(m["mean"])))  # fmt: skip
                if row == 0:  # log scale: the ridge rounds' collapse (error 0.9) fits
                    ax.set(
                        yscale="log", title=f"digits, {float(noise):.0%} label noise"
                    )
                if row == 1 and col == 0:  # the emptiest panel
                    ax.legend(frameon=False, loc="upper left")
    return fig
