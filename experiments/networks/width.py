"""Width convergence: trained finite networks approach the NTK closed-form filter.

On ``K`` digits (one-hot targets ``Y``, pixels centred), for each depth, width and
seed a network ``f(θ; x)`` (``nets.MLP``, 10 outputs) is trained by full-batch
gradient descent on ``(1/2K)‖f(X) − Y‖²`` with step ``lr`` for ``N`` steps. Its infinite-width counterpart from the *same* initial function ``f₀`` is the
closed-form gradient-descent filter of the NTK ``G = NTK(X, X)/K = V diag(d) Vᵀ``::

    f_N(x) = f₀(x) + g_xᵀ V diag((1 − (1 − lr d)^N)/d) Vᵀ (Y − f₀(X))

(the filter ``ksd.filters.gradient_descent`` on the targets ``Y − f₀(X)``, applied by
``ksd.fit.apply``; each output on its own, as the limit's kernel is ``Θ ⊗ I``).
``f₀`` is a draw of the NNGP whose size does not shrink with the width, so it is
taken from the network itself; the error measured is
``‖(f_net − f₀) − (f_N − f₀)‖_F / ‖f_N − f₀‖_F`` on the test and training digits,
and ``‖Θ̂ − Θ‖_F/‖Θ‖_F`` for the kernel at initialisation (``Θ̂`` averaged over the
outputs, ``nets.empirical_ntk``).

Expected slope −1/2 on log-log axes: the empirical kernel at initialisation is an
average over the ``n`` hidden units of i.i.d. terms, so ``Θ̂ − Θ`` is ``O(1/√n)``
(central limit theorem); during training each weight moves by ``O(1/√n)``, so the
kernel changes by ``O(1/√n)`` as well (Jacot et al. 2018; Lee et al. 2019, "Wide
neural networks of any depth evolve as linear models under gradient descent"). The
trained predictions are a smooth function of the kernel along the path, hence an
``O(1/√n)`` error.
"""

from __future__ import annotations

import jax
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.networks import EXPERIMENT
from experiments.networks._common import digits, gd_filter, host
from kernel_sd import nets, plotting

KEYS = ("test", "train", "kernel")
"""The errors measured per width: test and training predictions, kernel at init."""


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _slope(widths, errors) -> tuple[float, float | None]:
    """Least-squares slope of ``log(mean error)`` on ``log(width)``, and its standard
    error from the residuals (None with fewer than 3 widths)."""
    x, y = np.log(widths), np.log(np.mean(errors, axis=1))
    slope, intercept = np.polyfit(x, y, 1)
    if len(x) < 3:
        return float(slope), None
    resid = y - (slope * x + intercept)
    se = np.sqrt(resid @ resid / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    return float(slope), float(se)


@EXPERIMENT.compute("networks_width")
def width_convergence(cfg: Config, seed: int) -> Result:
    """Errors of trained networks against the NTK filter, per depth and width."""
    ds = digits(cfg.width_n, seed)
    X, X_test, y = ds.X, ds.X_test, ksd.data.one_hot(ds.y, 10)
    numbers = {"expected_slope": -0.5, "depths": {}}
    arrays = {}
    for depth, widths in zip(cfg.width_depths, cfg.width_widths, strict=True):
        kernel = nets.MLP(depth=depth).ntk()
        spec = ksd.spectrum(kernel, X)
        feats = ksd.features(kernel, X, X_test, spec)
        (d,) = host(spec.eigvals)
        lr = cfg.width_lr / float(d[0])  # lr·d_max = width_lr < 2: stable
        Theta = np.asarray(ksd.gram(kernel, X))
        h = np.asarray(gd_filter(d, lr, cfg.width_steps))[None, :]
        errors = np.zeros((len(KEYS), len(widths), cfg.width_seeds))
        for i, width in enumerate(widths):
            net = nets.MLP(depth=depth, width=width, outputs=10)
            for s in range(cfg.width_seeds):
                params = net.init(jax.random.key(10_000 * seed + 100 * depth + s),
                                  inputs=X.shape[1])  # fmt: skip
                run = nets.train(net, params, X, y, lr=lr, steps=cfg.width_steps,
                                 record_every=cfg.width_steps, X_test=X_test)  # fmt: skip
                F, F_test = host(run.train_pred, run.test_pred)
                f0, f0_test = F[0], F_test[0]
                limit = ksd.fit.apply(
                    spec, y - f0, h, feats
                )  # f_N − f₀, infinite width
                L, L_test = host(limit.train_pred, limit.test_pred)
                errors[0, i, s] = _rel(F_test[-1] - f0_test, L_test[0])
                errors[1, i, s] = _rel(F[-1] - f0, L[0])
                errors[2, i, s] = _rel(np.asarray(nets.empirical_ntk(net, params, X)),
                                       Theta)  # fmt: skip
        numbers["depths"][str(depth)] = {
            "widths": list(widths),
            "lr": lr,
            "d_max": float(d[0]),
            **{f"{key}_error_mean": errors[k].mean(axis=1) for k, key in enumerate(KEYS)},
            **{f"{key}_error_sd": errors[k].std(axis=1) for k, key in enumerate(KEYS)},
            **{f"slope_{key}": _slope(widths, errors[k])[0] for k, key in enumerate(KEYS)},
            **{f"slope_{key}_se": _slope(widths, errors[k])[1] for k, key in enumerate(KEYS)},
        }  # fmt: skip
        arrays[f"depth{depth}_errors"] = errors  # (test/train/kernel, width, seed)
    return Result(numbers, arrays)


@EXPERIMENT.plot("networks_width")
def plot_width(res: Result, cfg: Config):
    fig, axes = plotting.new_figure(2, 1, width=3.6, height=3.0)
    titles = {
        "test": "Trained networks vs NTK filter (test points)",
        "kernel": "Kernel at initialisation: ‖Θ̂ − Θ‖/‖Θ‖",
    }
    with plotting.style():
        for ax, key in zip(axes[0], titles, strict=True):
            for j, (depth, d) in enumerate(res.numbers["depths"].items()):
                w = np.asarray(d["widths"], dtype=float)
                mean = np.asarray(d[f"{key}_error_mean"])
                sd = np.asarray(d[f"{key}_error_sd"])
                color = plotting.OKABE_ITO[j]
                ax.errorbar(w, mean, yerr=sd, fmt="o", ms=3, capsize=2, color=color,
                            label=f"depth {depth}: slope {d[f'slope_{key}']:.2f}")  # fmt: skip
                a, b = np.polyfit(np.log(w), np.log(mean), 1)
                ax.plot(w, np.exp(b) * w**a, color=color, lw=1)
                if j == 0:  # the expected rate, through the first depth's first point
                    ax.plot(w, mean[0] * (w / w[0]) ** -0.5, "k--", lw=0.8,
                            label="slope −1/2")  # fmt: skip
            ax.set(xscale="log", yscale="log", xlabel="width n", title=titles[key],
                   ylabel="relative error")  # fmt: skip
            ax.set_xscale("log", base=2)
            ax.legend(frameon=False)
    return fig
