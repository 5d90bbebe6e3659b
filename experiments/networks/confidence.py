"""[NMBMK23] confidence exaggeration and first-layer weights with network teachers and students.

Networks (``nets.teacher_student``): a teacher MLP trained by full-batch gradient
descent on softmax cross-entropy with the labels for ``N_T`` steps; a freshly
initialised student trained for ``N_S`` steps on the teacher's soft targets with
Hinton's loss ``τ² CE(softmax(f_T/τ), softmax(f_S/τ))``. Kernel model
(``ksd.dynamics.simulate_classifier`` with ``convention="hinton"``): kernel gradient
descent in function space from zero with ``G = NTK(X, X)/K``, the same ``lr``,
steps and loss: the infinite-width counterpart of the same two trainings (up to the
networks' random initial function).

Confidence (``networks_confidence``): per example, ``u`` = the teacher's log-odds of
its top class and ``v`` the student's log-odds of that class; the least-squares slope
of ``v`` on ``u`` with intercept (slope > 1: the student exaggerates the teacher's
confidence), on training and test points, and the mean deviation ``v − u`` in
quintile bins of ``u`` — the definitions of ``experiments/nagarajan2023``.

Weights (``networks_weights``): the change of the first-layer weights
``ΔW₁ = W₁(end) − W₁(init)`` of teacher and student, projected on the eigenvectors
``u_k`` of the input covariance ``Σ = XᵀX/K`` (descending ``λ_k``):
``e_k = ‖ΔW₁ u_k‖² / ‖ΔW₁‖²_F``, the share of the top ``k`` directions and its
student − teacher difference per seed (> 0: the student's change is more
concentrated on the top directions, [NMBMK23]'s exaggerated bias). The same
for a linear softmax model ``f(x) = Wᵀx`` trained from zero with the same losses
(kernel ``x·z``, ``W = Xᵀ a / K``): the setting of [NMBMK23]'s eigenspace theory.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.networks import EXPERIMENT
from experiments.networks._common import digits, error, exaggeration, host, mean_sd
from kernel_sd import dynamics, nets, plotting


def setting_name(tau: float, factor: int) -> str:
    """Record key of a (temperature, student steps / teacher steps) setting."""
    return f"tau{tau:g}_steps{factor}x"


def _kernel_student(G, G_test, labels, teacher, lr, steps, tau):
    """Kernel student on the kernel teacher's training logits (Hinton's loss)."""
    return dynamics.simulate_classifier(
        G, labels, lr=lr, steps=steps, classes=10, G_test=G_test,
        teacher_logits=host(teacher.train_pred)[0][-1], temperature=tau,
        convention="hinton",
    )  # fmt: skip


def _shares(dW: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``e_k = ‖ΔW u_k‖² / ‖ΔW‖²_F`` for the columns ``u_k`` of ``U`` (ΔW: (out, p))."""
    return np.sum((dW @ U) ** 2, axis=0) / np.sum(dW * dW)


def _final(run, split: str) -> np.ndarray:
    return host(run.train_pred if split == "train" else run.test_pred)[0][-1]


def _one_seed(cfg: dict, seed: int) -> dict:
    """One split: a teacher of each model, then a student per setting."""
    ds = digits(cfg["conf_n_train"], seed)
    K, N_T = ds.X.shape[0], cfg["conf_teacher_steps"]
    net = nets.MLP(depth=cfg["conf_depth"], width=cfg["conf_width"], outputs=10)
    kernel = net.ntk()
    G = np.asarray(ksd.gram(kernel, ds.X)) / K
    G_test = np.asarray(ksd.gram(kernel, ds.X_test, ds.X)) / K
    lr = cfg["conf_lr"] / float(np.linalg.eigvalsh(G)[-1])
    # nets.teacher_student, with the teacher trained once for every setting: the
    # same split of the key, the same initialisations and losses.
    k_t, k_s = jax.random.split(jax.random.key(seed))
    p_t, p_s = net.init(k_t, ds.X.shape[1]), net.init(k_s, ds.X.shape[1])
    common = dict(loss="cross_entropy", lr=lr, record_every=N_T, X_test=ds.X_test)
    teacher = nets.train(net, p_t, ds.X, ds.y, steps=N_T, **common)
    # Kernel models: the NTK's, and the linear model f(x) = Wᵀx (kernel x·z,
    # W = Xᵀ a / K), each with its own step 1/d_max.
    G_lin, G_lin_test = ds.X @ ds.X.T / K, ds.X_test @ ds.X.T / K
    lr_lin = cfg["conf_lr"] / float(np.linalg.eigvalsh(G_lin)[-1])
    kw = dict(classes=10, steps=N_T)
    k_teacher = dynamics.simulate_classifier(G, ds.y, lr=lr, G_test=G_test, **kw)
    l_teacher = dynamics.simulate_classifier(
        G_lin, ds.y, lr=lr_lin, G_test=G_lin_test, **kw
    )
    lam, U = np.linalg.eigh(ds.X.T @ ds.X / K)
    lam, U = lam[::-1], U[:, ::-1]
    rows = {}
    for tau, factor in cfg["conf_settings"]:
        student = nets.train(
            net, p_s, ds.X, ds.y, steps=factor * N_T, temperature=tau,
            teacher=host(teacher.train_pred)[0][-1], **common,
        )  # fmt: skip
        k_student = _kernel_student(G, G_test, ds.y, k_teacher, lr, factor * N_T, tau)
        l_student = _kernel_student(
            G_lin, G_lin_test, ds.y, l_teacher, lr_lin, factor * N_T, tau
        )
        rows[setting_name(tau, factor)] = {
            "y": ds.y, "y_test": ds.y_test, "lr": lr,
            "net": {s: (_final(teacher, s), _final(student, s)) for s in ("train", "test")},
            "ntk": {s: (_final(k_teacher, s), _final(k_student, s))
                    for s in ("train", "test")},
            "input_share": lam / lam.sum(),
            "net_teacher_share": _shares(np.subtract(*host(teacher.params[0].W, p_t[0].W)), U),
            "net_student_share": _shares(np.subtract(*host(student.params[0].W, p_s[0].W)), U),
            "linear_teacher_share": _shares((ds.X.T @ np.asarray(l_teacher.coef)).T, U),
            "linear_student_share": _shares((ds.X.T @ np.asarray(l_student.coef)).T, U),
        }  # fmt: skip
    return rows


@functools.lru_cache(maxsize=2)
def _pairs(key: tuple, seed: int) -> dict:
    """``{setting: [per-seed outputs]}``: teacher/student logits and first-layer shares.

    Shared by the confidence and weights parts (one training per run); ``key`` is
    the sorted tuple of the ``conf_*`` constants (hashable, :func:`_key`).
    """
    cfg = dict(key)
    per_seed = [_one_seed(cfg, seed + s) for s in range(cfg["conf_seeds"])]
    return {name: [rows[name] for rows in per_seed] for name in per_seed[0]}


def _key(cfg: Config) -> tuple:
    return tuple(sorted((k, v) for k, v in cfg.items() if k.startswith("conf_")))


@EXPERIMENT.compute("networks_confidence")
def confidence(cfg: Config, seed: int) -> Result:
    """Slopes and binned deviations, network and NTK model, per setting."""
    numbers, arrays = {"settings": {}}, {}
    for name, rows in _pairs(_key(cfg), seed).items():
        entry = {"lr": [r["lr"] for r in rows]}
        for model in ("net", "ntk"):
            m = {}
            for split in ("train", "test"):
                ex = [exaggeration(*r[model][split], cfg.conf_bins) for r in rows]
                labels = [r["y" if split == "train" else "y_test"] for r in rows]
                m[split] = {
                    "slope": mean_sd([e["slope"] for e in ex]),
                    "intercept": mean_sd([e["intercept"] for e in ex]),
                    "bin_u": mean_sd([e["bin_u"] for e in ex]),
                    "bin_dev": mean_sd([e["bin_dev"] for e in ex]),
                    "teacher_error": mean_sd([error(r[model][split][0], y)
                                              for r, y in zip(rows, labels, strict=True)]),
                    "student_error": mean_sd([error(r[model][split][1], y)
                                              for r, y in zip(rows, labels, strict=True)]),
                }  # fmt: skip
                arrays[f"{name}_{model}_{split}_slopes"] = np.array(
                    [e["slope"] for e in ex]
                )
            entry[model] = m
        numbers["settings"][name] = entry
    return Result(numbers, arrays)


@EXPERIMENT.plot("networks_confidence")
def plot_confidence(res: Result, cfg: Config):
    settings = res.numbers["settings"]
    fig, axes = plotting.new_figure(len(settings), 1, width=3.4, height=3.0)
    with plotting.style():
        for ax, (name, entry) in zip(axes[0], settings.items(), strict=True):
            for j, (model, label) in enumerate(
                (("net", "network"), ("ntk", "NTK model"))
            ):
                for split, fmt in (("test", "o-"), ("train", "s--")):
                    m = entry[model][split]
                    ax.errorbar(m["bin_u"]["mean"], m["bin_dev"]["mean"],
                                yerr=m["bin_dev"]["sd"], fmt=fmt, ms=3, capsize=2,
                                color=plotting.OKABE_ITO[j],
                                label=f"{label}, {split}: slope "
                                      f"{m['slope']['mean']:.2f}")  # fmt: skip
            ax.axhline(0.0, color="0.4", lw=0.8)
            tau, factor = name.removeprefix("tau").split("_steps")
            ax.set(xlabel="teacher log-odds of its top class (quintile means)",
                   ylabel="student − teacher log-odds",
                   title=f"τ = {tau}, student steps = {factor.rstrip('x')} × teacher's")  # fmt: skip
            ax.legend(frameon=False, fontsize=7)
        fig.suptitle("Confidence exaggeration on digits: slope > 1 means the student "
                     "exaggerates the teacher's (un)certainty", fontsize=10)  # fmt: skip
    return fig


SHARES = ("net_teacher", "net_student", "linear_teacher", "linear_student")


@EXPERIMENT.compute("networks_weights")
def weights(cfg: Config, seed: int) -> Result:
    """Shares of the first-layer change on the input covariance's eigendirections."""
    numbers, arrays = {"topk": list(cfg.weights_topk), "settings": {}}, {}
    for name, rows in _pairs(_key(cfg), seed).items():
        entry = {}
        for who in ("input", *SHARES):
            e = np.stack([r[f"{who}_share"] for r in rows])  # (seeds, p)
            arrays[f"{name}_{who}"] = e
            entry[who] = {
                "top": {str(k): mean_sd(e[:, :k].sum(axis=1)) for k in cfg.weights_topk},
                "participation": mean_sd(1.0 / np.sum(e * e, axis=1)),
            }  # fmt: skip
        for model in ("net", "linear"):  # paired by seed: same split, same teacher
            diff = arrays[f"{name}_{model}_student"] - arrays[f"{name}_{model}_teacher"]
            entry[f"{model}_student_minus_teacher"] = {
                str(k): mean_sd(diff[:, :k].sum(axis=1)) for k in cfg.weights_topk
            }
        numbers["settings"][name] = entry
    return Result(numbers, arrays)


@EXPERIMENT.plot("networks_weights")
def plot_weights(res: Result, cfg: Config):
    settings = res.numbers["settings"]
    fig, axes = plotting.new_figure(len(settings), 2, width=3.4, height=2.8)
    styles = {"input": ("input covariance λ_k/Σλ", "0.5", ":"),
              "net_teacher": ("network teacher ΔW₁", plotting.OKABE_ITO[0], "-"),
              "net_student": ("network student ΔW₁", plotting.OKABE_ITO[1], "-"),
              "linear_teacher": ("linear teacher W", plotting.OKABE_ITO[0], "--"),
              "linear_student": ("linear student W", plotting.OKABE_ITO[1], "--")}  # fmt: skip
    with plotting.style():
        for col, name in enumerate(settings):
            for who, (label, color, ls) in styles.items():
                e = res.arrays[f"{name}_{who}"].mean(axis=0)
                k = np.arange(1, e.size + 1)
                axes[0, col].plot(k, e, ls, color=color, lw=1.2, label=label)
                axes[1, col].plot(k, np.cumsum(e), ls, color=color, lw=1.2, label=label)
            tau, factor = name.removeprefix("tau").split("_steps")
            axes[0, col].set(yscale="log", ylim=(1e-6, 1.0), xlabel="eigendirection k",
                             ylabel="share e_k",
                             title=f"τ = {tau}, student steps = "
                                   f"{factor.rstrip('x')} × teacher's")  # fmt: skip
            axes[1, col].set(xscale="log", xlabel="top k directions",
                             ylabel="cumulative share")  # fmt: skip
        axes[1, 0].legend(frameon=False, fontsize=7)
    return fig
