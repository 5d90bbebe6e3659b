"""[NMBMK23] figures: confidence exaggeration, eigenspace ratios, late distillation,
gradient denoising, and ridge rounds vs gradient flow.

Run ``kernel-sd reproduce nagarajan2023`` (or ``python experiments/nagarajan2023/run.py``).
Every part prints the numbers it shows, stores them next to its figure with
``kernel_sd.results`` and is skipped when already done with the same parameters.
"""

from __future__ import annotations

import argparse
import pathlib

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import kernel_sd as ksd  # noqa: E402
from kernel_sd import dynamics, plotting, results  # noqa: E402
from kernel_sd._progress import progress  # noqa: E402
from kernel_sd.theory import nagarajan2023 as nag  # noqa: E402

# ---------------------------------------------------------------------------
# constants (full run / --quick)
DIGITS_N = (600, 150)  # digits training points (full, quick)
DIGITS_LENGTHSCALE = 1.5  # RBF lengthscale on 64 pixels in [0, 1] (typical distance ~4)
CLS_STEPS = (400, 60)  # gradient steps of the kernel classifiers (teacher and student)
CLS_LR = 1.0  # step size in units of 1/d_max
BLOBS_N = (300, 90)  # synthetic 3-class problem: points
BLOBS_LENGTHSCALE = 1.0  # RBF lengthscale on the 2-D blobs
SIN_N = (64, 32)  # sinusoid regression problem: points
SIN_NOISE = 0.5  # its label-noise standard deviation σ
SIN_LENGTHSCALE = 0.2  # Laplace-kernel lengthscale on [0, 1] (condition ~3e4 at K=64)
GD_LR = 1.0  # regression step size in units of 1/d_max
TEACHER_STEPS = 200  # regression teacher (early-stopped; does not interpolate)
STUDENT_STEPS = (25, 100, 400, 1600)  # student steps shown in the ratio figure
LATE_TOTAL = 20000  # student steps in the late-distillation sweep
LATE_SWITCHES = 25  # switch steps sampled (log-spaced, plus 0 and the end)
LATE_CLS_SWITCHES = (8, 4)  # switch steps for the digits late-distillation panel
RIDGE_LAM = 1e-3  # ridge rounds' penalty c for the filters figure
ROUNDS = 4  # ridge rounds / flow rounds in the filters figure


def _idx(quick: bool) -> int:
    return 1 if quick else 0


def _gram(kernel, X, Z=None):
    X = jnp.asarray(X)
    n = X.shape[0]
    return np.asarray(ksd.gram(kernel, X if Z is None else jnp.asarray(Z), X)) / n


def log_odds_on(logits: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """``log(p/(1 − p))`` of class ``cls`` under ``softmax(logits)``, computed stably.

    ``log p_c = l_c − LSE(l)`` and ``log(1 − p_c) = LSE(l_{j≠c}) − LSE(l)``.
    """
    rows = np.arange(logits.shape[0])
    others = logits.copy()
    others[rows, cls] = -np.inf
    return logits[rows, cls] - logsumexp(others, axis=1)


def _slope_and_bins(x, y, bins=12):
    slope, intercept = np.polyfit(x, y, 1)
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    bx = np.array([x[which == b].mean() for b in range(bins) if np.any(which == b)])
    by = np.array([y[which == b].mean() for b in range(bins) if np.any(which == b)])
    return float(slope), float(intercept), bx, by


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [2.0, 0.5], [1.0, 2.0]])
    lab = rng.integers(0, 3, 2 * n)
    X = centers[lab] + 0.9 * rng.standard_normal((2 * n, 2))
    return X[:n], lab[:n], X[n:], lab[n:]


def _classifier_pair(X, lab, Xt, kernel, steps):
    """Teacher on labels and student on the teacher's probabilities (τ = 1)."""
    G = _gram(kernel, X)
    Gt = _gram(kernel, X, Xt)
    lr = CLS_LR / float(np.linalg.eigvalsh(G)[-1])
    C = int(lab.max()) + 1
    teacher = dynamics.simulate_classifier(
        G, lab, lr=lr, steps=steps, classes=C, G_test=Gt
    )
    student = dynamics.simulate_classifier(
        G, lab, lr=lr, steps=steps, classes=C, G_test=Gt,
        teacher_logits=teacher.train_pred[-1],
    )  # fmt: skip
    return teacher, student, lr


def part_confidence(out, quick, seed):
    """Teacher vs student confidence (log-odds on the teacher's top-1 class)."""
    i = _idx(quick)
    data = ksd.data.digits(DIGITS_N[i], seed=seed)
    Xb, lb, Xbt, lbt = _blobs(BLOBS_N[i], seed)
    problems = [
        ("digits", data.X, data.y, data.X_test, ksd.kernels.RBF(lengthscale=DIGITS_LENGTHSCALE)),
        ("3 Gaussian blobs", Xb, lb, Xbt, ksd.kernels.RBF(lengthscale=BLOBS_LENGTHSCALE)),
    ]  # fmt: skip
    numbers, arrays = {}, {}
    fig, axes = plotting.new_figure(3, 1, width=3.4, height=3.2)
    for col, (label, X, lab, Xt, kernel) in enumerate(problems):
        teacher, student, lr = _classifier_pair(X, lab, Xt, kernel, CLS_STEPS[i])
        lt, ls = np.asarray(teacher.test_pred[-1]), np.asarray(student.test_pred[-1])
        top = lt.argmax(axis=1)
        xt, xs = log_odds_on(lt, top), log_odds_on(ls, top)
        slope, icpt, bx, by = _slope_and_bins(xt, xs)
        tr_t, tr_s = (
            np.asarray(teacher.train_pred[-1]),
            np.asarray(student.train_pred[-1]),
        )
        top_tr = tr_t.argmax(axis=1)
        slope_tr = float(
            np.polyfit(log_odds_on(tr_t, top_tr), log_odds_on(tr_s, top_tr), 1)[0]
        )
        key = "digits" if col == 0 else "blobs"
        numbers[key] = {
            "slope_test": slope, "intercept_test": float(icpt), "slope_train": slope_tr,
            "teacher_train_acc": float(np.mean(tr_t.argmax(1) == lab)),
            "student_train_acc": float(np.mean(tr_s.argmax(1) == lab)),
            "teacher_final_loss": float(teacher.loss[-1]),
            "student_final_loss": float(student.loss[-1]), "lr": lr,
        }  # fmt: skip
        arrays[f"{key}_teacher_logodds"], arrays[f"{key}_student_logodds"] = xt, xs
        ax = axes[0, col]
        with plotting.style():
            ax.scatter(
                xt, xs, s=5, alpha=0.35, color=plotting.OKABE_ITO[0], label="test point"
            )
            lim = [min(xt.min(), xs.min()), max(xt.max(), xs.max())]
            ax.plot(lim, lim, color="0.4", ls="--", lw=1, label="y = x")
            ax.plot(
                bx, by, "o-", color=plotting.OKABE_ITO[3], ms=3, label="binned mean"
            )
            ax.plot(lim, [slope * v + icpt for v in lim], color=plotting.OKABE_ITO[2],
                    lw=1.2, label=f"fit: slope {slope:.2f}")  # fmt: skip
            ax.set(
                xlabel="teacher log-odds on its top-1 class",
                ylabel="student log-odds on that class",
                title=f"Softmax kernel classifier: {label}",
            )
            ax.legend(frameon=False, loc="upper left")
    # Regression terms: squared-loss kernel regression on one-hot digits targets.
    kernel = problems[0][4]
    spec = ksd.spectrum(kernel, jnp.asarray(data.X))
    W = ksd.features(kernel, jnp.asarray(data.X), jnp.asarray(data.X_test), spec)
    Y = ksd.data.one_hot(data.y, 10)
    lr = GD_LR / float(spec.eigvals[0])
    steps = CLS_STEPS[i]
    ft = np.asarray(
        dynamics.teacher_descent(
            spec, Y, lr=lr, steps=steps, test_features=W
        ).test_pred[0]
    )
    fs = np.asarray(
        dynamics.student_descent(spec, Y, lr=lr, teacher_steps=steps, steps=steps, test_features=W).test_pred[0]
    )  # fmt: skip
    srt = np.sort(ft, axis=1)
    top = ft.argmax(axis=1)
    mt = srt[:, -1] - srt[:, -2]
    others = fs.copy()
    others[np.arange(fs.shape[0]), top] = -np.inf
    ms = fs[np.arange(fs.shape[0]), top] - others.max(axis=1)
    keep = (mt > 0) & (ms > 0)
    lx, ly = np.log(mt[keep]), np.log(ms[keep])
    slope_r, icpt_r, bx, by = _slope_and_bins(lx, ly)
    numbers["digits_regression"] = {
        "slope_log_margin": slope_r, "intercept": icpt_r,
        "kept_points": int(keep.sum()), "points": int(keep.size),
    }  # fmt: skip
    ax = axes[0, 2]
    with plotting.style():
        ax.scatter(
            lx, ly, s=5, alpha=0.35, color=plotting.OKABE_ITO[0], label="test point"
        )
        lim = [min(lx.min(), ly.min()), max(lx.max(), ly.max())]
        ax.plot(lim, lim, color="0.4", ls="--", lw=1, label="y = x")
        ax.plot(bx, by, "o-", color=plotting.OKABE_ITO[3], ms=3, label="binned mean")
        ax.plot(lim, [slope_r * v + icpt_r for v in lim], color=plotting.OKABE_ITO[2],
                lw=1.2, label=f"fit: slope {slope_r:.2f}")  # fmt: skip
        ax.set(
            xlabel="log teacher margin (top − runner-up)",
            ylabel="log student margin (teacher's top class)",
            title="Squared-loss kernel regression: digits",
        )
        ax.legend(frameon=False, loc="upper left")
        fig.suptitle(
            "Confidence exaggeration: slope > 1 means the student exaggerates the "
            "teacher's (un)certainty",
            fontsize=10,
        )
    return fig, numbers, arrays


def _sin_problem(quick, seed):
    i = _idx(quick)
    data = ksd.data.sinusoid(SIN_N[i], noise=SIN_NOISE, seed=seed)
    kernel = ksd.kernels.Laplace(lengthscale=SIN_LENGTHSCALE)
    X = jnp.asarray(data.X)
    spec = ksd.spectrum(kernel, X)
    return data, kernel, spec


def part_ratio(out, quick, seed):
    """Per-eigendirection student/teacher ratio from simulated GD vs the formula."""
    data, kernel, spec = _sin_problem(quick, seed)
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    G = _gram(kernel, data.X)
    lr = GD_LR / d[0]
    teacher = dynamics.simulate_regression(G, data.y, lr=lr, steps=TEACHER_STEPS)
    fT = np.asarray(teacher.train_pred[-1])
    zT = V.T @ fT
    # Directions where the teacher's coordinate is far above the round-off of the
    # simulated predictions (~1e-16 of the largest), so the ratio keeps ~10 digits.
    ok = (d > 0) & (np.abs(zT) > 1e-6 * np.abs(zT).max())
    fig, axes = plotting.new_figure(1, 1, width=5.4, height=3.6)
    ax = axes[0, 0]
    colors = plotting.round_colors(len(STUDENT_STEPS))
    numbers = {"max_abs_error": {}, "directions_shown": int(ok.sum())}
    arrays = {"d": d, "ok": ok}
    dd = np.geomspace(d[ok].min(), d[0], 200)
    with plotting.style():
        for c, n in zip(colors, STUDENT_STEPS, strict=True):
            st = dynamics.simulate_regression(G, data.y, lr=lr, steps=n, teacher=fT)
            ratio = (V.T @ np.asarray(st.train_pred[-1]))[ok] / zT[ok]
            theory = 1.0 - (1.0 - lr * d[ok]) ** n  # [NMBMK23] (1 − η d)^N' form
            err = float(np.max(np.abs(ratio - theory)))
            numbers["max_abs_error"][str(n)] = err
            arrays[f"ratio_{n}"] = ratio
            ax.semilogx(d[ok], ratio, "o", ms=4, color=c, label=f"simulated, N' = {n}")
            ax.semilogx(dd, -np.expm1(-lr * n * dd), "-", lw=1, color=c)
        ax.plot([], [], "-", color="0.3", lw=1, label="theory 1 − exp(−η N' d)")
        worst = max(numbers["max_abs_error"].values())
        ax.text(0.98, 0.04, f"points vs 1 − (1 − ηd)^N': max |error| {worst:.1e}",
                transform=ax.transAxes, ha="right", fontsize=7)  # fmt: skip
        ax.set(
            xlabel="eigenvalue d_k of G",
            ylabel="student / teacher along direction k",
            title="Student keeps 1 − (1 − ηd)^N' of its teacher per eigendirection",
            ylim=(-0.05, 1.08),
        )
        ax.legend(frameon=False, loc="upper left", fontsize=7)
    return fig, numbers, arrays


def part_late(out, quick, seed):
    """Test error vs the step at which training switches to the distillation loss."""
    data, kernel, spec = _sin_problem(quick, seed)
    d = np.asarray(spec.eigvals)
    W = ksd.features(kernel, jnp.asarray(data.X), jnp.asarray(data.X_test), spec)
    lr = GD_LR / d[0]
    total = LATE_TOTAL // (10 if quick else 1)
    switches = np.unique(
        np.concatenate([[0], np.geomspace(1, total, LATE_SWITCHES).astype(int)])
    )
    teachers = {
        f"early-stopped teacher ({TEACHER_STEPS} steps)": TEACHER_STEPS,
        f"interpolating teacher ({100 * total} steps)": 100 * total,
    }
    numbers, arrays = {}, {"switches": switches}
    fig, axes = plotting.new_figure(3, 1, width=3.5, height=3.0)

    def mse(pred):
        return float(np.mean((np.asarray(pred) - data.y_test) ** 2))

    lab_only = mse(
        dynamics.teacher_descent(
            spec, data.y, lr=lr, steps=total, test_features=W
        ).test_pred[0]
    )
    for col, (name, nt) in enumerate(teachers.items()):
        tfit = dynamics.teacher_descent(spec, data.y, lr=lr, steps=nt, test_features=W)
        train_mse = float(np.mean((np.asarray(tfit.train_pred[0]) - data.y) ** 2))
        errs = np.array([
            mse(dynamics.student_descent(spec, data.y, lr=lr, teacher_steps=nt, steps=total,
                                         switch_step=int(s), test_features=W).test_pred[0])
            for s in switches
        ])  # fmt: skip
        key = "early" if col == 0 else "interpolating"
        numbers[key] = {
            "teacher_steps": nt, "teacher_train_mse": train_mse,
            "teacher_test_mse": mse(tfit.test_pred[0]),
            "distill_from_start": float(errs[0]), "label_only": lab_only,
            "best_switch": int(switches[np.argmin(errs)]), "best": float(errs.min()),
        }  # fmt: skip
        arrays[f"{key}_errors"] = errs
        ax = axes[0, col]
        with plotting.style():
            ax.semilogx(
                np.maximum(switches, 0.5), errs, "o-", ms=3, label="switch at step s"
            )
            ax.axhline(
                lab_only,
                color=plotting.OKABE_ITO[3],
                ls="--",
                lw=1,
                label="labels only",
            )
            ax.axhline(errs[0], color=plotting.OKABE_ITO[2], ls=":", lw=1.5,
                       label="distill from start")  # fmt: skip
            ax.set(
                xlabel="switch step s (labels before, teacher after)",
                ylabel="test MSE to sin(2πx)",
                title=f"{name}\nteacher train MSE {train_mse:.3g}",
            )
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.legend(frameon=False, fontsize=7)
    lo = min(a.get_ylim()[0] for a in axes[0, :2])
    hi = max(a.get_ylim()[1] for a in axes[0, :2])
    for a in axes[0, :2]:
        a.set_ylim(lo, hi)  # same scale: the interpolating teacher's curve is flat
    # Digits: kernel softmax classifiers, switch from labels to the teacher.
    i = _idx(quick)
    dg = ksd.data.digits(DIGITS_N[i], seed=seed)
    kern = ksd.kernels.RBF(lengthscale=DIGITS_LENGTHSCALE)
    G, Gt = _gram(kern, dg.X), _gram(kern, dg.X, dg.X_test)
    lrc = CLS_LR / float(np.linalg.eigvalsh(G)[-1])
    steps = CLS_STEPS[i]
    teacher = dynamics.simulate_classifier(
        G, dg.y, lr=lrc, steps=steps, classes=10, G_test=Gt
    )
    tl = np.asarray(teacher.train_pred[-1])
    sw = np.linspace(0, steps, LATE_CLS_SWITCHES[i]).astype(int)
    cerr = []
    for s in sw:
        st = dynamics.simulate_classifier(G, dg.y, lr=lrc, steps=steps, classes=10, G_test=Gt,
                                          teacher_logits=tl, switch_step=int(s))  # fmt: skip
        cerr.append(float(np.mean(np.asarray(st.test_pred[-1]).argmax(1) != dg.y_test)))
    cerr = np.array(cerr)
    numbers["digits"] = {
        "teacher_train_acc": float(np.mean(tl.argmax(1) == dg.y)),
        "teacher_test_err": float(np.mean(np.asarray(teacher.test_pred[-1]).argmax(1) != dg.y_test)),
        "switch_steps": sw, "student_test_err": cerr,
    }  # fmt: skip
    arrays["digits_switch"], arrays["digits_err"] = sw, cerr
    ax = axes[0, 2]
    with plotting.style():
        ax.plot(sw, 100 * cerr, "o-", ms=3, label="switch at step s")
        ax.axhline(
            100 * cerr[-1],
            color=plotting.OKABE_ITO[3],
            ls="--",
            lw=1,
            label="labels only",
        )
        ax.axhline(
            100 * cerr[0],
            color=plotting.OKABE_ITO[2],
            ls=":",
            lw=1.5,
            label="distill from start",
        )
        acc = numbers["digits"]["teacher_train_acc"]
        ax.set(
            xlabel="switch step s",
            ylabel="student test error (%)",
            title=f"Digits, softmax kernel classifier\nteacher train accuracy {100 * acc:.1f}%",
        )
        ax.legend(frameon=False, fontsize=7)
        fig.suptitle(
            "Late distillation: train on labels, then switch to the teacher",
            fontsize=10,
        )
    return fig, numbers, arrays


def part_denoise(out, quick, seed):
    """Gradient noise along training (label vs distillation loss); error to f_true."""
    data, kernel, spec = _sin_problem(quick, seed)
    d = np.asarray(spec.eigvals)
    K = d.size
    G = _gram(kernel, data.X)
    f_true = np.sin(2 * np.pi * data.X[:, 0])
    xi = data.y - f_true
    lr = GD_LR / d[0]
    steps = LATE_TOTAL // (10 if quick else 1)
    nt = TEACHER_STEPS
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
    sigma = SIN_NOISE
    # Expected energies for a gradient-descent schedule: e^{−s d} -> (1 − lr d)^s.
    q = (1 - lr * d)[None, :] ** s_idx[:, None]
    hT = 1 - (1 - lr * d) ** nt
    exp_lab = sigma**2 * np.sum(d * q**2, axis=1) / K
    exp_dis = sigma**2 * np.sum(d * q**2 * hT**2, axis=1) / K
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
    }  # fmt: skip
    arrays = {"steps": s_idx, **{f"energy_{k}": v for k, v in energy.items()},
              **{f"dist_{k}": v for k, v in dist.items()}}  # fmt: skip
    fig, axes = plotting.new_figure(3, 1, width=3.5, height=3.0)
    x = np.maximum(s_idx, 0.5)
    with plotting.style():
        ax = axes[0, 0]
        ax.loglog(
            x,
            energy["label"],
            color=plotting.OKABE_ITO[3],
            label="label loss (measured)",
        )
        ax.loglog(
            x,
            energy["distill"],
            color=plotting.OKABE_ITO[0],
            label="distillation (measured)",
        )
        ax.loglog(
            x,
            exp_lab,
            "--",
            color=plotting.OKABE_ITO[3],
            lw=1,
            label="label (expected)",
        )
        ax.loglog(
            x,
            exp_dis,
            "--",
            color=plotting.OKABE_ITO[0],
            lw=1,
            label="distillation (expected)",
        )
        ax.set(xlabel="gradient step s", ylabel="(1/K) rᵀ G r of the noise part",
               title="Noise energy of the gradient")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 1]
        pos = d > 1e-12 * d[0]
        ax.loglog(d[pos], np.abs(gn.label[0][pos]), "o", ms=3, color=plotting.OKABE_ITO[3],
                  label="label loss")  # fmt: skip
        ax.loglog(d[pos], np.abs(gn.distill[0][pos]), "s", ms=3, color=plotting.OKABE_ITO[0],
                  label="distillation")  # fmt: skip
        ax.set(xlabel="eigenvalue d_k", ylabel="|noise part of gradient|_k at s = 0",
               title="Per direction: shrunk by 1 − (1 − ηd_k)^N")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        ax = axes[0, 2]
        ax.semilogx(
            x, dist["label"], color=plotting.OKABE_ITO[3], label="trained on labels"
        )
        ax.semilogx(
            x, dist["distill"], color=plotting.OKABE_ITO[0], label="student of teacher"
        )
        ax.axhline(float(np.mean((np.asarray(teach) - f_true) ** 2)), color="0.5", ls=":",
                   label=f"teacher ({nt} steps)")  # fmt: skip
        ax.set(xlabel="gradient step s", ylabel="(1/K)‖f_s(X) − f_true(X)‖²",
               title="Distance to the clean target")  # fmt: skip
        ax.legend(frameon=False, fontsize=7)
        fig.suptitle(
            f"Gradient denoising on sin(2πx) + N(0, {sigma:g}²), K = {K}", fontsize=10
        )
    return fig, numbers, arrays


def part_filters(out, quick, seed):
    """Ridge-round filters (a self_distill trace) vs gradient-flow filters, same spectrum."""
    data, kernel, spec = _sin_problem(quick, seed)
    d = np.asarray(spec.eigvals)
    pos = d > 0
    tr = ksd.self_distill(kernel, jnp.asarray(data.X), data.y, lam=RIDGE_LAM,
                          rounds=ROUNDS, spectrum=spec)  # fmt: skip
    A = np.asarray(tr.shrinkage)
    t = 1.0 / RIDGE_LAM  # flow time with the same half-way eigenvalue as d/(c + d)
    flow = np.asarray(dynamics.distill_rounds(spec, data.y, t=[t] * ROUNDS).filter)
    colors = plotting.round_colors(ROUNDS)
    grid = np.geomspace(d[pos].min(), d[0], 300)
    fig, axes = plotting.new_figure(2, 1, width=3.8, height=3.2)
    with plotting.style():
        ax = axes[0, 0]
        for r in range(ROUNDS):
            ridge_r = np.asarray(ksd.filters.ridge(jnp.asarray(grid), RIDGE_LAM)) ** (
                r + 1
            )
            flow_r = np.asarray(ksd.filters.gradient_flow(jnp.asarray(grid), t)) ** (
                r + 1
            )
            ax.semilogx(grid, ridge_r, "-", color=colors[r], lw=1.2,
                        label=f"ridge, {r + 1} round(s)")  # fmt: skip
            ax.semilogx(grid, flow_r, "--", color=colors[r], lw=1.2,
                        label=f"flow, {r + 1} round(s)")  # fmt: skip
            ax.plot(d[pos], A[r, pos], "o", ms=2.5, color=colors[r])
        ax.plot([], [], "o", ms=3, color="0.3", label="self_distill trace A_t[k]")
        ax.axvline(RIDGE_LAM, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="eigenvalue d_k of G", ylabel="filter h(d_k)",
               title=f"Π d/(c + d) vs Π (1 − exp(−d/c)), c = {RIDGE_LAM:g}")  # fmt: skip
        ax.legend(frameon=False, fontsize=6.5, loc="upper left")
        ax = axes[0, 1]
        rounds = np.arange(1, ROUNDS + 1)
        ax.set_xticks(rounds)
        ax.plot(rounds, A.sum(axis=1), "o-", label="ridge rounds (self_distill)")
        ax.plot(rounds, flow.sum(axis=1), "s--", label="gradient-flow rounds, t = 1/c")
        ax.set(xlabel="number of rounds", ylabel="effective dimension Σ_k h(d_k)",
               title=f"Effective number of basis functions (K = {d.size})")  # fmt: skip
        ax.legend(frameon=False)
        fig.suptitle(
            "Both papers' distillation as a multiplicative spectral filter", fontsize=10
        )
    half = {
        "ridge_effective_dim": [float(v) for v in A.sum(axis=1)],
        "flow_effective_dim": [float(v) for v in flow.sum(axis=1)],
        "max_abs_difference": [
            float(np.max(np.abs(A[r] - flow[r]))) for r in range(ROUNDS)
        ],
    }
    return fig, half, {"d": d, "ridge": A, "flow": flow}


PARTS = {
    "nagarajan2023_confidence": part_confidence,
    "nagarajan2023_ratio": part_ratio,
    "nagarajan2023_late": part_late,
    "nagarajan2023_denoise": part_denoise,
    "nagarajan2023_filters": part_filters,
}


def _print(name, numbers, prefix="  "):
    for k, v in numbers.items():
        if isinstance(v, dict):
            print(f"{prefix}{k}:")
            _print(name, v, prefix + "  ")
        else:
            arr = np.asarray(v)
            text = np.array2string(arr, precision=4) if arr.ndim else (
                f"{v:.4g}" if isinstance(v, float) else str(v))  # fmt: skip
            print(f"{prefix}{k}: {text}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="figures", help="output folder")
    parser.add_argument(
        "--quick", action="store_true", help="tiny version (< 1 minute)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    for name in progress(list(PARTS), total=len(PARTS), desc="nagarajan2023"):
        params = {"quick": args.quick, "seed": args.seed, "part": name,
                  "code": results.source_fingerprint(__file__)}  # fmt: skip

        def make(name=name):
            fig, numbers, arrays = PARTS[name](out, args.quick, args.seed)
            _print(name, numbers)
            return fig, numbers, arrays

        results.run_part(out, name, params, make, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
