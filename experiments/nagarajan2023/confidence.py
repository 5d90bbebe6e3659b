"""[NMBMK23] confidence exaggeration with kernel models: train and test slopes,
quintile deviations, eigenband energies and a student/teacher budget sweep.

Models. Kernel gradient descent from zero, step ``lr = 1/d_max`` on ``G = k(X, X)/K``.
A teacher trains ``T`` steps on the (possibly flipped) labels; a student trains
``S = r·T`` steps from zero on the teacher's training outputs. Two losses:

- *squared loss*: one-hot regression; closed forms of ``kernel_sd.dynamics``
  (teacher filter ``1 − (1 − lr d)^T``, student ``(1 − (1 − lr d)^S)`` times it);
- *cross-entropy*: softmax kernel classifiers simulated step by step
  (``kernel_sd.dynamics.simulate_classifier``); the student's targets are the
  teacher's softmax probabilities (temperature 1).

Confidence. For every point, ``c(x)`` is the teacher's top class (argmax of its
outputs). Cross-entropy: the log-odds of that class,
``log(p_c/(1 − p_c)) = l_c − log Σ_{j≠c} e^{l_j}``, for teacher and student (the
paper's logit transform of the top-class probability). Squared loss: the margin
``f_c − max_{j≠c} f_j`` of the raw outputs. Raw outputs play the role of logits
(there is no link function), the margin is defined at every point (a log of the
margin would drop every point where the student's margin is not positive) and
it is the hard-max version of ``l_c − log Σ_{j≠c} e^{l_j}``.

Slope. The least-squares slope of the student's confidence on the teacher's,
over the points of a split, *with an intercept* (the centred slope
``cov(x_T, x_S)/var(x_T)``). It measures how much the student spreads its
confidences relative to the teacher's: above 1 the student is even less sure
where the teacher is unsure and surer where it is sure (exaggeration). The
intercept absorbs a uniform shift: a student trained for less time is less
confident everywhere, which a slope through the origin would mix in. The
intercepts are stored beside the slopes. Both splits are reported: the training
points (where the student was trained on the teacher's outputs) and held-out
test points.

Quintiles. Mean student − teacher confidence in each quintile of the teacher's
confidence: the claim "even lower confidence where the teacher is unsure" is a
more negative deviation in the low quintiles.

Eigenbands. Energy of the class-centred training outputs of student and teacher
per band of eigen-indices of ``G`` (``band_energy``); their ratio shows where the
student lags its teacher.

Numbers: ``squared_loss`` and ``cross_entropy`` (digits, ``T`` = the longest
teacher, ``S = T``, clean labels; mean and sd over seeds), the same for blobs
(``*_blobs``), and ``budget_sweep``: one record per (data set, loss, ``S/T``,
``T``, label noise) with the mean, sd and per-seed train and test slopes.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.nagarajan2023 import EXPERIMENT
from experiments.nagarajan2023._common import (
    band_energy,
    blobs,
    centred_slope,
    gram,
    log_odds_on,
    margin_on,
    quintiles,
)
from kernel_sd import dynamics, plotting

LOSSES = ("squared_loss", "cross_entropy")


def _problem(cfg: Config, name: str, seed: int, noise: float):
    if name == "digits":
        ds = ksd.data.digits(cfg.conf_n, seed=seed)
        X, lab, Xt, labt = (
            ds.X,
            ds.y,
            ds.X_test[: cfg.conf_n_test],
            ds.y_test[: cfg.conf_n_test],
        )
        kernel, C = ksd.kernels.RBF(lengthscale=cfg.digits_lengthscale), 10
    else:
        X, lab, Xt, labt = blobs(cfg.conf_n, seed, cfg.conf_n_test)
        kernel, C = ksd.kernels.RBF(lengthscale=cfg.blobs_lengthscale), 3
    if noise > 0:
        lab, _ = ksd.data.flip_labels(lab, noise, classes=C, seed=seed)
    return X, lab, Xt, labt, kernel, C


def _confidence(loss, F, top):
    return log_odds_on(F, top) if loss == "cross_entropy" else margin_on(F, top)


def _run(cfg: Config, name: str, loss: str, T: int, noise: float, seed: int) -> dict:
    """Teacher (``T`` steps) and its students (``r·T`` steps) on one problem and seed."""
    X, lab, Xt, labt, kernel, C = _problem(cfg, name, seed, noise)
    spec = ksd.spectrum(kernel, jnp.asarray(X))
    d, V = np.asarray(spec.eigvals), np.asarray(spec.eigvecs)
    lr = cfg.cls_lr / d[0]
    steps = [max(1, int(round(r * T))) for r in cfg.conf_ratios]
    if loss == "squared_loss":
        W = ksd.features(kernel, X, Xt, spec)
        Y = ksd.data.one_hot(lab, C)
        te = dynamics.teacher_descent(spec, Y, lr=lr, steps=T, test_features=W)
        st = dynamics.student_descent(spec, Y, lr=lr, teacher_steps=T, steps=steps,
                                      test_features=W)  # fmt: skip
        T_tr, T_te = np.asarray(te.train_pred[0]), np.asarray(te.test_pred[0])
        S_tr, S_te = np.asarray(st.train_pred), np.asarray(st.test_pred)
    else:
        G, Gt = gram(kernel, X), gram(kernel, X, Xt)
        te = dynamics.simulate_classifier(G, lab, lr=lr, steps=T, classes=C, G_test=Gt)
        T_tr, T_te = np.asarray(te.train_pred[-1]), np.asarray(te.test_pred[-1])
        st = dynamics.simulate_classifier(G, lab, lr=lr, steps=max(steps), classes=C,
                                          G_test=Gt, teacher_logits=T_tr)  # fmt: skip
        idx = np.asarray(steps)
        S_tr, S_te = np.asarray(st.train_pred)[idx], np.asarray(st.test_pred)[idx]
        del st
    top, topt = T_tr.argmax(1), T_te.argmax(1)
    xt, xtt = _confidence(loss, T_tr, top), _confidence(loss, T_te, topt)
    edges = [e for e in cfg.conf_bands if e < d.size] + [d.size]
    e_teacher = band_energy(V, T_tr, edges)
    rows = []
    for i, r in enumerate(cfg.conf_ratios):
        ys, yst = _confidence(loss, S_tr[i], top), _confidence(loss, S_te[i], topt)
        sl_tr, ic_tr = centred_slope(xt, ys)
        sl_te, ic_te = centred_slope(xtt, yst)
        rows.append({
            "ratio": r, "slope_train": sl_tr, "intercept_train": ic_tr,
            "slope_test": sl_te, "intercept_test": ic_te,
            "quintile_deviation_train": quintiles(xt, ys)["deviation"],
            "quintile_deviation_test": quintiles(xtt, yst)["deviation"],
            "band_energy_ratio": band_energy(V, S_tr[i], edges) / e_teacher,
            "student_test_acc": float(np.mean(S_te[i].argmax(1) == labt)),
            "conf_train": ys, "conf_test": yst,
        })  # fmt: skip
    return {
        "edges": edges, "rows": rows, "teacher_conf_train": xt, "teacher_conf_test": xtt,
        "teacher_train_acc": float(np.mean(top == lab)),
        "teacher_test_acc": float(np.mean(topt == labt)),
    }  # fmt: skip


def _mean_sd(values):
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1)) if v.shape[0] > 1 else 0.0


@EXPERIMENT.compute("nagarajan2023_confidence")
def confidence(cfg: Config, seed: int) -> Result:
    """Slopes (train and test) over the budget sweep; headline blocks; scatter arrays."""
    seeds = [seed + i for i in range(cfg.conf_seeds)]
    T_head = max(cfg.conf_teacher_steps)
    i_head = list(cfg.conf_ratios).index(1.0)
    sweep, numbers, arrays = [], {}, {}
    for name in cfg.conf_datasets:
        for loss in LOSSES:
            for T in cfg.conf_teacher_steps:
                for noise in cfg.conf_noises:
                    runs = [_run(cfg, name, loss, T, noise, s) for s in seeds]
                    for i, r in enumerate(cfg.conf_ratios):
                        tr = [run["rows"][i]["slope_train"] for run in runs]
                        te = [run["rows"][i]["slope_test"] for run in runs]
                        (m_tr, s_tr), (m_te, s_te) = _mean_sd(tr), _mean_sd(te)
                        sweep.append({
                            "dataset": name, "loss": loss, "student_over_teacher": r,
                            "teacher_steps": T, "label_noise": noise,
                            "slope_train": m_tr, "slope_train_sd": s_tr,
                            "slope_test": m_te, "slope_test_sd": s_te,
                            "slope_train_per_seed": tr, "slope_test_per_seed": te,
                        })  # fmt: skip
                    if T != T_head or noise != 0.0:
                        continue
                    key = loss if name == "digits" else f"{loss}_{name}"
                    numbers[key] = _headline(cfg, runs, i_head)
                    head = runs[0]
                    arrays[f"{key}_teacher_train"] = head["teacher_conf_train"]
                    arrays[f"{key}_teacher_test"] = head["teacher_conf_test"]
                    arrays[f"{key}_student_train"] = head["rows"][i_head]["conf_train"]
                    arrays[f"{key}_student_test"] = head["rows"][i_head]["conf_test"]
    numbers["budget_sweep"] = sweep
    numbers["setting"] = {
        "headline": f"digits, T = {T_head} steps, S = T, clean labels",
        "n_train": cfg.conf_n, "n_test": cfg.conf_n_test, "seeds": seeds,
        "lr": f"{cfg.cls_lr:g}/d_max", "band_edges": numbers["squared_loss"]["band_edges"],
    }  # fmt: skip
    return Result(numbers, arrays)


def _headline(cfg: Config, runs: list[dict], i_head: int) -> dict:
    """Mean ± sd over seeds of the ``S = T`` student; band energies at ``S/T`` = ¼, 1, 4."""
    rows = [run["rows"][i_head] for run in runs]
    out = {}
    for key in ("slope_train", "slope_test", "intercept_train", "intercept_test"):
        vals = [r[key] for r in rows]
        out[key], out[f"{key}_sd"] = _mean_sd(vals)
        out[f"{key}_per_seed"] = vals
    for split in ("train", "test"):
        dev = np.array([r[f"quintile_deviation_{split}"] for r in rows])
        out[f"quintile_deviation_{split}"] = dev.mean(0)
        out[f"quintile_deviation_{split}_sd"] = (
            dev.std(0, ddof=1) if len(rows) > 1 else 0 * dev[0]
        )
    out["band_edges"] = runs[0]["edges"]
    out["band_energy_ratio"] = {
        f"{r:g}": np.mean([run["rows"][i]["band_energy_ratio"] for run in runs], 0)
        for i, r in enumerate(cfg.conf_ratios) if r in (0.25, 1.0, 4.0)
    }  # fmt: skip
    for key in ("teacher_train_acc", "teacher_test_acc"):
        out[key] = float(np.mean([run[key] for run in runs]))
    out["student_test_acc"] = float(np.mean([r["student_test_acc"] for r in rows]))
    return out


# ---------------------------------------------------------------------------- figure


def _scatter(ax, a, key, unit, title):
    for split, color in (
        ("train", plotting.OKABE_ITO[0]),
        ("test", plotting.OKABE_ITO[1]),
    ):
        x, y = a[f"{key}_teacher_{split}"], a[f"{key}_student_{split}"]
        slope, icpt = centred_slope(x, y)
        ax.scatter(
            x, y, s=4, alpha=0.3, color=color, label=f"{split}: slope {slope:.2f}"
        )
        lim = np.array([x.min(), x.max()])
        ax.plot(lim, slope * lim + icpt, color=color, lw=1.2)
    lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
    hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([lo, hi], [lo, hi], color="0.4", ls="--", lw=0.8, label="y = x")
    ax.set(
        title=title, xlabel=f"teacher {unit} (its top class)", ylabel=f"student {unit}"
    )
    ax.legend(frameon=False, fontsize=7)


def _heat(fig, ax, sweep, cfg, name, loss, noise, split):
    Ts = list(cfg.conf_teacher_steps)
    M = np.array([[next(r[f"slope_{split}"] for r in sweep if r["dataset"] == name
                        and r["loss"] == loss and r["label_noise"] == noise
                        and r["teacher_steps"] == T and r["student_over_teacher"] == q)
                   for q in cfg.conf_ratios] for T in Ts])  # fmt: skip
    lim = 1.0  # one colour scale for every map: slopes from 1/2 to 2
    L = np.log2(M)
    im = ax.imshow(np.clip(L, -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto",
                   origin="lower")  # fmt: skip
    for a in range(M.shape[0]):
        for b in range(M.shape[1]):
            ax.text(b, a, f"{M[a, b]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(L[a, b]) > 0.6 * lim else "black")  # fmt: skip
    ax.grid(False)
    ax.set_xticks(range(len(cfg.conf_ratios)), [f"{q:g}" for q in cfg.conf_ratios])
    ax.set_yticks(range(len(Ts)), Ts)
    ax.set(title=f"{name}, {loss.replace('_', ' ')}, {100 * noise:g} % flips: {split}",
           xlabel="student steps / teacher steps", ylabel="teacher steps T")  # fmt: skip
    fig.colorbar(im, ax=ax, label="log2 slope (clipped at ±1)")


@EXPERIMENT.plot("nagarajan2023_confidence")
def plot_confidence(res: Result, cfg: Config):
    n, a = res.numbers, res.arrays
    fig, axes = plotting.new_figure(
        4, 2 + 2 * len(cfg.conf_datasets), width=3.6, height=3.1
    )
    with plotting.style():
        for col, (key, unit, title) in enumerate([
            ("squared_loss", "margin", "digits, squared loss"),
            ("cross_entropy", "log-odds", "digits, cross-entropy"),
            ("squared_loss_blobs", "margin", "blobs, squared loss"),
            ("cross_entropy_blobs", "log-odds", "blobs, cross-entropy"),
        ]):  # fmt: skip
            if f"{key}_teacher_train" in a:
                _scatter(axes[0, col], a, key, unit, f"{title} (S = T, seed 0)")
        q = np.arange(1, 6)
        for col, loss in enumerate(LOSSES):
            b = n[loss]
            ax = axes[1, col]
            ax.errorbar(q, b["quintile_deviation_train"], yerr=b["quintile_deviation_train_sd"],
                        fmt="o-", capsize=2, label="train")  # fmt: skip
            ax.errorbar(q, b["quintile_deviation_test"], yerr=b["quintile_deviation_test_sd"],
                        fmt="s-", capsize=2, label="test")  # fmt: skip
            ax.axhline(0, color="0.4", lw=0.8)
            ax.set_xticks(q)
            ax.set(title=f"digits, {loss.replace('_', ' ')}: student − teacher",
                   xlabel="quintile of the teacher's confidence", ylabel="mean deviation")  # fmt: skip
            ax.legend(frameon=False, fontsize=7)
            ax = axes[1, 2 + col]
            edges = b["band_edges"]
            labels = [
                f"{lo + 1}–{hi}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            ]
            for r, ratio in b["band_energy_ratio"].items():
                ax.semilogy(range(len(labels)), ratio, "o-", label=f"S = {r}·T")
            ax.axhline(1, color="0.4", lw=0.8)
            ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30)
            ax.set(title=f"digits, {loss.replace('_', ' ')}: student/teacher energy",
                   xlabel="band of eigen-indices of G", ylabel="energy ratio (train)")  # fmt: skip
            ax.legend(frameon=False, fontsize=7)
        for block, name in enumerate(cfg.conf_datasets):
            for i, loss in enumerate(LOSSES):
                for j, noise in enumerate(cfg.conf_noises[:2]):
                    for k, split in enumerate(("train", "test")):
                        ax = axes[2 + 2 * block + i, 2 * j + k]
                        _heat(fig, ax, n["budget_sweep"], cfg, name, loss, noise, split)
        for ax in axes.ravel():
            if not ax.has_data() and not ax.images:
                ax.set_axis_off()
        fig.suptitle(
            "Confidence exaggeration: slope of student on teacher confidence (with "
            f"intercept; > 1 = exaggeration), mean over {cfg.conf_seeds} seeds",
            fontsize=11,
        )
    return fig
