"""Figure functions: traces in, ``matplotlib.figure.Figure`` out.

No pyplot state is touched: figures are created with ``Figure()`` directly, so
these functions work headless and never change the user's backend. All share
one style (:data:`STYLE`, colour-blind-safe Okabe–Ito colours, sized for a
paper column at 150 dpi).
"""

from __future__ import annotations

import contextlib
import pathlib
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from kernel_sd import DistillTrace

__all__ = [
    "STYLE",
    "OKABE_ITO",
    "style",
    "new_figure",
    "round_colors",
    "plot_fits",
    "plot_fit_curves",
    "plot_rounds",
    "plot_spectrum",
    "save",
]

OKABE_ITO = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
]  # fmt: skip
"""Okabe & Ito's palette, distinguishable under the common colour-vision deficiencies."""

STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "lines.linewidth": 1.5,
}


@contextlib.contextmanager
def style():
    """Context manager applying :data:`STYLE` (used by every figure function)."""
    with mpl.rc_context(STYLE):
        yield


def new_figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 3.4, height: float = 2.6
):
    """A styled ``Figure`` with a grid of axes; ``width``/``height`` are per panel (inches)."""
    with style():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def round_colors(n: int):
    """``n`` colours along the perceptually uniform ``viridis`` map (round 0 dark)."""
    return mpl.colormaps["viridis"](np.linspace(0.0, 0.9, max(n, 1)))


def plot_fits(
    trace: DistillTrace,
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_true: np.ndarray | None = None,
    *,
    title: str = "Self-distillation: fit after each round",
) -> Figure:
    """1-D fits ``f_t`` of every non-collapsed round over the training data.

    Args:
        trace: a trace with ``test_pred`` (run with ``X_test``).
        X, y: ``(K, 1)`` training inputs and ``(K,)`` targets.
        X_test: ``(m, 1)`` sorted grid the trace predicted on.
        y_true: optional ``(m,)`` clean target on the grid.
    """
    if trace.test_pred is None:
        raise ValueError(
            "`trace` has no test predictions; run self_distill with X_test."
        )
    return plot_fit_curves(
        np.asarray(trace.test_pred), trace.collapse_round, X, y, X_test, y_true,
        title=title,
    )  # fmt: skip


def plot_fit_curves(
    test_pred: np.ndarray,
    collapse_round: int,
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_true: np.ndarray | None = None,
    *,
    title: str = "Self-distillation: fit after each round",
) -> Figure:
    """:func:`plot_fits` from stored numbers: ``test_pred`` (T, m) and the collapse round.

    ``collapse_round`` is the first round with ``f = 0`` (``-1`` when none).
    """
    if np.asarray(X).shape[1] != 1:
        raise ValueError("plot_fits draws 1-D problems; `X` must have one column.")
    rounds = len(test_pred)
    last = collapse_round if collapse_round >= 0 else rounds
    colors = round_colors(max(last, 1))
    fig, axes = new_figure(width=5.0, height=3.2)
    ax = axes[0, 0]
    with style():
        grid = np.asarray(X_test)[:, 0]
        if y_true is not None:
            ax.plot(grid, y_true, color="0.3", ls="--", lw=1.2, label="clean target")
        for t in range(last):
            ax.plot(grid, np.asarray(test_pred[t]), color=colors[t], label=f"round {t}")
        if last < rounds:
            ax.plot(grid, np.zeros_like(grid), color="0.6", lw=1.0,
                    label=f"round {last}+ (collapsed: f = 0)")  # fmt: skip
        ax.scatter(
            np.asarray(X)[:, 0], y, color="k", s=14, zorder=5, label="training data"
        )
        # Over-fitted early rounds can swing far outside the data; keep the data
        # range in view (curves leaving the frame are the over-fitting).
        lo, hi = float(np.min(y)), float(np.max(y))
        pad = 0.5 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set(xlabel="x", ylabel="f_t(x)", title=title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def save(fig: Figure, path, *, pdf: bool = False) -> list[str]:
    """Save ``fig`` as PNG at ``path`` (and a PDF beside it); return the paths written.

    Each file is written to a temporary file in the same folder and renamed, so an
    interrupted save leaves the previous figure in place, never a truncated one.
    """
    from kernel_sd.results import write_atomic

    paths = [pathlib.Path(path)]
    if pdf:
        paths.append(paths[0].with_suffix(".pdf"))
    with style():
        for p in paths:
            fmt = p.suffix.lstrip(".").lower() or "png"
            write_atomic(p, lambda f, fmt=fmt: fig.savefig(f, format=fmt))
    return [str(p) for p in paths]


def plot_rounds(
    trace: DistillTrace,
    train_error: np.ndarray,
    test_error: np.ndarray | None = None,
    *,
    error_label: str = "MSE",
    title: str = "Self-distillation: error and complexity per round",
) -> Figure:
    """Errors per round (left) and the effective number of basis functions (right).

    Args:
        trace: a :class:`DistillTrace`.
        train_error: ``(T,)`` training error per round.
        test_error: optional ``(T,)`` test error per round.
        error_label: y-axis label of the left panel.
    """
    rounds = np.arange(trace.rounds)
    fig, axes = new_figure(2, 1)
    with style():
        ax = axes[0, 0]
        ax.plot(rounds, train_error, "o-", label="train")
        if test_error is not None and np.size(test_error):
            ax.plot(rounds, test_error, "s-", label="test")
            best = int(np.argmin(test_error))
            ax.axvline(best, color="0.5", ls=":", lw=1, label=f"best round ({best})")
        cr = trace.collapse_round
        if cr >= 0:
            ax.axvspan(
                cr - 0.5, trace.rounds - 0.5, color="0.9", label="collapsed (f = 0)"
            )
        errs = np.concatenate(
            [
                np.ravel(train_error),
                np.ravel(test_error if test_error is not None else []),
            ]
        )
        errs = errs[np.isfinite(errs) & (errs > 0)]
        if errs.size and errs.max() > 10 * errs.min():
            ax.set_yscale("log")  # over-fitted early rounds would flatten the rest
        ax.set(xlabel="round t", ylabel=error_label, title=title)
        ax.legend(frameon=False)
        ax = axes[0, 1]
        ax.plot(rounds, np.asarray(trace.effective_dimension), "o-", color=OKABE_ITO[2])
        ax.set(
            xlabel="round t",
            ylabel="Σ_k A_t[k]",
            title="Effective number of basis functions",
        )
    return fig


def plot_spectrum(spec, *, title: str = "Eigenvalues of G = k(X, X)/K") -> Figure:
    """Eigenvalues ``d_k`` (log scale) with the noise floor, and their cumulative share."""
    d = np.asarray(spec.eigvals)
    k = np.arange(d.size)
    fig, axes = new_figure(2, 1)
    with style():
        ax = axes[0, 0]
        pos = d > 0
        ax.semilogy(k[pos], d[pos], ".", ms=3, label="d_k")
        ax.axhline(
            float(spec.noise_floor),
            color=OKABE_ITO[3],
            ls="--",
            lw=1,
            label=f"noise floor ({int(spec.n_clamped)} at or below)",
        )
        ax.set(xlabel="eigen-index k (descending)", ylabel="d_k", title=title)
        ax.legend(frameon=False)
        ax = axes[0, 1]
        ax.plot(k, np.cumsum(d) / d.sum())
        ax.set(
            xlabel="number of top eigendirections",
            ylabel="share of trace(G)",
            title="Cumulative share of the spectrum",
            ylim=(0, 1.02),
        )
    return fig
