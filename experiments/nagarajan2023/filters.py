"""Both papers' distillation as multiplicative filters: ridge rounds vs gradient-flow rounds."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import sin_problem
from kernel_sd import dynamics, plotting


@EXPERIMENT.compute("nagarajan2023_filters")
def filters(cfg: Config, seed: int) -> Result:
    """Ridge-round filters (a self_distill trace) vs gradient-flow filters, same spectrum."""
    data, kernel, spec = sin_problem(cfg, seed)
    d = np.asarray(spec.eigvals)
    tr = ksd.self_distill(kernel, jnp.asarray(data.X), data.y, lam=cfg.ridge_lam,
                          rounds=cfg.rounds, spectrum=spec)  # fmt: skip
    A = np.asarray(tr.shrinkage)
    t = 1.0 / cfg.ridge_lam  # flow time with the same half-way eigenvalue as d/(c + d)
    flow = np.asarray(dynamics.distill_rounds(spec, data.y, t=[t] * cfg.rounds).filter)
    numbers = {
        "ridge_effective_dim": [float(v) for v in A.sum(axis=1)],
        "flow_effective_dim": [float(v) for v in flow.sum(axis=1)],
        "max_abs_difference": [
            float(np.max(np.abs(A[r] - flow[r]))) for r in range(cfg.rounds)
        ],
    }
    return Result(numbers, {"d": d, "ridge": A, "flow": flow})


@EXPERIMENT.plot("nagarajan2023_filters")
def plot_filters(res: Result, cfg: Config):
    d, A = res.arrays["d"], res.arrays["ridge"]
    pos = d > 0
    c = cfg.ridge_lam
    colors = plotting.round_colors(cfg.rounds)
    grid = jnp.asarray(np.geomspace(d[pos].min(), d[0], 300))
    fig, axes = plotting.new_figure(2, 1, width=3.8, height=3.2)
    with plotting.style():
        ax = axes[0, 0]
        for r in range(cfg.rounds):
            ridge_r = np.asarray(ksd.filters.ridge(grid, c)) ** (r + 1)
            flow_r = np.asarray(ksd.filters.gradient_flow(grid, 1.0 / c)) ** (r + 1)
            ax.semilogx(grid, ridge_r, "-", color=colors[r], lw=1.2,
                        label=f"ridge, {r + 1} round(s)")  # fmt: skip
            ax.semilogx(grid, flow_r, "--", color=colors[r], lw=1.2,
                        label=f"flow, {r + 1} round(s)")  # fmt: skip
            ax.plot(d[pos], A[r, pos], "o", ms=2.5, color=colors[r])
        ax.plot([], [], "o", ms=3, color="0.3", label="self_distill trace A_t[k]")
        ax.axvline(c, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="eigenvalue d_k of G", ylabel="filter h(d_k)",
               title=f"Π d/(c + d) vs Π (1 − exp(−d/c)), c = {c:g}")  # fmt: skip
        ax.legend(frameon=False, fontsize=6.5, loc="upper left")
        ax = axes[0, 1]
        rounds = np.arange(1, cfg.rounds + 1)
        ax.set_xticks(rounds)
        ax.plot(rounds, res.numbers["ridge_effective_dim"], "o-",
                label="ridge rounds (self_distill)")  # fmt: skip
        ax.plot(rounds, res.numbers["flow_effective_dim"], "s--",
                label="gradient-flow rounds, t = 1/c")  # fmt: skip
        ax.set(xlabel="number of rounds", ylabel="effective dimension Σ_k h(d_k)",
               title=f"Effective number of basis functions (K = {d.size})")  # fmt: skip
        ax.legend(frameon=False)
        fig.suptitle(
            "Both papers' distillation as a multiplicative spectral filter", fontsize=10
        )
    return fig
