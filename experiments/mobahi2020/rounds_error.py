"""[MFB20] "a few rounds help, more hurt": error per round, and the honest gain of
self-distillation over a tuned single fit.

Toy: train and test error per round at the paper's ε (the U-shape at fixed ε).

Real and synthetic data (digits with 20 % and 40 % of the labels flipped,
diabetes, Friedman #1), per data set and seed:

- a train / validation / test split; RBF kernel with lengthscale ``ℓ`` in
  ``rounds_ls_factors`` × the median pairwise distance of the training inputs;
- constrained rounds for ``ε = frac · (1/K)‖y‖²`` over a log grid of ``frac``,
  rounds ``t = 0 .. rounds_T − 1``, all from one spectrum per ``ℓ``
  (``ksd.selection.validation_errors`` with ``spectrum=``: the held-out
  predictions of the whole ``(ε, t)`` grid from one factorisation);
- the baseline is the best ``(ℓ, ε)`` at round 0, the method the best
  ``(ℓ, ε, t)``, both selected on the validation error (ties go to the earlier
  round) and reported on the test set; the test-selected (oracle) values beside;
- selection noise: the same selection repeated on the two interleaved halves of
  the ε grid (``half_grids``), which moves both the baseline and the method.

Digits: ℓ2 regression on one-hot labels, training and validation labels flipped,
test labels clean; error = test 0-1 error of the argmax. Diabetes: MSE to the
(standardised) test target. Friedman #1: inputs and targets standardised with
the training split; MSE to the clean function on the test points.
"""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config, Result
from experiments.mobahi2020 import EXPERIMENT
from experiments.mobahi2020._common import median_lengthscale, mse, toy
from kernel_sd.plotting import OKABE_ITO, new_figure, style

DATASETS = ("digits_flip20", "digits_flip40", "diabetes", "friedman1")


def _split(cfg: Config, name: str, seed: int):
    """``(X, y, X_val, val_target, X_test, test_target, kind)`` for one seed."""
    if name.startswith("digits"):
        flip = {"digits_flip20": 0.2, "digits_flip40": 0.4}[name]
        ds = ksd.data.digits(None, seed=seed)
        n, nv = cfg.rounds_digits_n, cfg.rounds_digits_val
        lab, _ = ksd.data.flip_labels(ds.y[:n], flip, classes=10, seed=seed)
        labv, _ = ksd.data.flip_labels(
            ds.y[n : n + nv], flip, classes=10, seed=seed + 1
        )
        X_test, y_test = (
            ds.X_test[: cfg.rounds_test_max],
            ds.y_test[: cfg.rounds_test_max],
        )
        return (ds.X[:n], ksd.data.one_hot(lab, 10), ds.X[n : n + nv], labv, X_test,
                y_test, "class")  # fmt: skip
    if name == "diabetes":
        ds = ksd.data.diabetes(None, seed=seed)
        n = cfg.rounds_diabetes_n
        return ds.X[:n], ds.y[:n], ds.X[n:], ds.y[n:], ds.X_test, ds.y_test, "reg"
    n, nv, nt = cfg.rounds_friedman_n, cfg.rounds_friedman_val, cfg.rounds_friedman_test
    ds = ksd.data.friedman1(n, noise=1.0, seed=seed, n_test=nv + nt)
    rng = np.random.default_rng([seed, 1991])
    y_val = ds.y_test[:nv] + rng.standard_normal(nv)  # noisy validation targets
    mu, sd = ds.X.mean(0), ds.X.std(0)
    ym, ys = ds.y.mean(), ds.y.std()

    def xs(X):
        return (X - mu) / sd

    return (xs(ds.X), (ds.y - ym) / ys, xs(ds.X_test[:nv]), (y_val - ym) / ys,
            xs(ds.X_test[nv:]), (ds.y_test[nv:] - ym) / ys, "reg")  # fmt: skip


def _errors(pred, target, kind):
    """Predictions ``(E, T, m[, q])`` -> error ``(E, T)``."""
    if kind == "class":
        return np.mean(pred.argmax(-1) != target[None, None], axis=-1)
    return np.mean((pred - target[None, None]) ** 2, axis=-1)


def _pick(err):
    """``(t, l, e)`` of the smallest error ``err[l, e, t]``; ties: earliest round."""
    sub = np.transpose(err, (2, 0, 1))
    return tuple(int(i) for i in np.unravel_index(int(np.argmin(sub)), sub.shape))


def _dataset_seed(cfg: Config, name: str, seed: int) -> dict:
    X, y, Xv, tv, Xt, tt, kind = _split(cfg, name, seed)
    med = median_lengthscale(X)
    fracs = np.geomspace(*cfg.rounds_eps_fractions, cfg.rounds_eps_grid)
    eps = fracs * float(np.sum(y * y)) / X.shape[0]
    Xall = np.concatenate([Xv, Xt])
    targets = np.concatenate([tv, tt])
    y_all = ksd.data.one_hot(targets, y.shape[1]) if kind == "class" else targets
    ev, et = [], []
    for f in cfg.rounds_ls_factors:
        kernel = ksd.kernels.RBF(lengthscale=f * med)
        spec = ksd.spectrum(kernel, X)
        held = ksd.selection.validation_errors(
            kernel, X, y, Xall, y_all, eps=eps, rounds=cfg.rounds_T, spectrum=spec,
            predictions=True,
        )
        P = np.asarray(held.pred)  # (E, T, m[, q])
        ev.append(_errors(P[:, :, : len(Xv)], tv, kind))
        et.append(_errors(P[:, :, len(Xv) :], tt, kind))
    ev, et = np.array(ev), np.array(et)  # (L, E, T)
    # Selection noise: the same selection on the two interleaved halves of the ε grid.
    halves = {}
    for half, sub in (("even", slice(0, None, 2)), ("odd", slice(1, None, 2))):
        _, a, b = _pick(ev[:, sub, :1])
        t, c, e = _pick(ev[:, sub])
        halves[half] = (float(et[a, sub][b, 0]), float(et[c, sub][e, t]))
    _, l0, e0 = _pick(ev[:, :, :1])
    tb, lb, eb = _pick(ev)
    _, lo0, eo0 = _pick(et[:, :, :1])
    tob, lob, eob = _pick(et)
    return {
        "best_round0_error": float(et[l0, e0, 0]), "best_error": float(et[lb, eb, tb]),
        "best_round": tb, "best_eps_fraction": float(fracs[eb]),
        "best_ls_factor": float(cfg.rounds_ls_factors[lb]),
        "round0_eps_fraction": float(fracs[e0]),
        "round0_ls_factor": float(cfg.rounds_ls_factors[l0]),
        "round0_interior": bool(0 < int(np.argmin(ev[l0, :, 0])) < fracs.size - 1),
        "oracle_round0_error": float(et[lo0, eo0, 0]),
        "oracle_best_error": float(et[lob, eob, tob]), "oracle_best_round": tob,
        "test_curve_at_best": et[lb, eb], "test_curve_at_round0_choice": et[l0, e0],
        "oracle_per_round": et.min(axis=(0, 1)),
        "halves": halves,
    }  # fmt: skip


def _dataset(cfg: Config, name: str, seeds: list[int]) -> dict:
    runs = [_dataset_seed(cfg, name, s) for s in seeds]
    out = {}
    for key in (
        "best_round0_error",
        "best_error",
        "oracle_round0_error",
        "oracle_best_error",
    ):
        v = np.array([r[key] for r in runs])
        out[key] = float(v.mean())
        out[f"{key}_sd"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
        out[f"{key}_per_seed"] = v.tolist()
    for key in ("best_round", "oracle_best_round", "best_eps_fraction", "round0_eps_fraction",
                "best_ls_factor", "round0_ls_factor", "round0_interior"):  # fmt: skip
        out[key] = [r[key] for r in runs]
    b0 = np.array(out["best_round0_error_per_seed"])
    bb = np.array(out["best_error_per_seed"])
    out["gain_per_seed"] = (b0 - bb).tolist()
    out["relative_gain_per_seed"] = ((b0 - bb) / b0).tolist()
    for key in (
        "test_curve_at_best",
        "test_curve_at_round0_choice",
        "oracle_per_round",
    ):
        out[f"{key}_mean"] = np.mean([r[key] for r in runs], axis=0)
    out["half_grids"] = {
        half: {
            "best_round0_error_per_seed": [r["halves"][half][0] for r in runs],
            "best_error_per_seed": [r["halves"][half][1] for r in runs],
            "gain_per_seed": [
                r["halves"][half][0] - r["halves"][half][1] for r in runs
            ],
        }
        for half in ("even", "odd")
    }
    return out


@EXPERIMENT.compute("mobahi2020_rounds_error")
def rounds_error(cfg: Config, seed: int) -> Result:
    """Toy errors per round; per data set, best (ε, round) against the best round-0 fit."""
    ds, _, tr = toy(cfg)
    seeds = [seed + i for i in range(cfg.seeds)]
    numbers = {
        "toy_train_mse": mse(np.asarray(tr.train_pred), ds.y),
        "toy_test_mse": mse(np.asarray(tr.test_pred), ds.y_test),
        "toy_collapse_round": tr.collapse_round,
        "datasets": {name: _dataset(cfg, name, seeds) for name in DATASETS},
        "setting": {
            "seeds": seeds, "rounds": cfg.rounds_T,
            "eps_fractions": f"{cfg.rounds_eps_grid} values from {cfg.rounds_eps_fractions[0]:g} "
                             f"to {cfg.rounds_eps_fractions[1]:g} of (1/K)|y|^2",
            "lengthscale_factors": cfg.rounds_ls_factors,
            "selection": "validation (ties: earlier round); reported on test",
        },
    }  # fmt: skip
    return Result(numbers)


@EXPERIMENT.plot("mobahi2020_rounds_error")
def plot_rounds_error(res: Result, cfg: Config):
    n = res.numbers
    fig, axes = new_figure(5, 1, width=3.3, height=3.0)
    with style():
        ax = axes[0, 0]
        toy_train, toy_test = n["toy_train_mse"], n["toy_test_mse"]
        t = np.arange(toy_train.size)
        ax.plot(t, toy_train, "o-", ms=3, label="train (noisy y)")
        ax.plot(t, toy_test, "s-", ms=3, label="test (clean sin 2πx)")
        ax.axvspan(
            n["toy_collapse_round"] - 0.5, t[-1] + 0.5, color="0.9", label="collapsed"
        )
        ax.set(
            xlabel="round t",
            ylabel="MSE",
            title=f"Toy (11 points), ε = {cfg.toy_eps:g}",
        )
        ax.legend(frameon=False, fontsize=7)
        titles = {"digits_flip20": "digits, 20 % flips", "digits_flip40": "digits, 40 % flips",
                  "diabetes": "diabetes", "friedman1": "Friedman #1"}  # fmt: skip
        for ax, name in zip(axes[0, 1:], DATASETS, strict=True):
            d = n["datasets"][name]
            scale = 100.0 if name.startswith("digits") else 1.0
            t = np.arange(len(d["oracle_per_round_mean"]))
            ax.plot(t, scale * d["oracle_per_round_mean"], "o-", ms=3, color=OKABE_ITO[0],
                    label="best (ℓ, ε) per round, on test")  # fmt: skip
            ax.plot(t, scale * d["test_curve_at_best_mean"], "s-", ms=3, color=OKABE_ITO[2],
                    label="at the selected (ℓ, ε)")  # fmt: skip
            ax.plot(t, scale * d["test_curve_at_round0_choice_mean"], "^-", ms=3,
                    color=OKABE_ITO[1], label="at the tuned round-0 (ℓ, ε)")  # fmt: skip
            ax.axhline(scale * d["best_round0_error"], color=OKABE_ITO[3], ls="--", lw=1,
                       label="tuned round 0 (validation-selected)")  # fmt: skip
            ax.axhline(scale * d["best_error"], color=OKABE_ITO[2], ls=":", lw=1.5,
                       label="tuned (ε, round) (validation-selected)")  # fmt: skip
            lo = min(
                scale * np.min(d["oracle_per_round_mean"]), scale * d["best_error"]
            )
            ax.set_ylim(0.9 * lo, 2.5 * scale * d["best_round0_error"])
            ax.set(title=titles[name], xlabel="round t",
                   ylabel="test error (%)" if scale > 1 else "test MSE")  # fmt: skip
            ax.legend(frameon=False, fontsize=6)
        fig.suptitle(
            f"Error vs self-distillation round; data sets: mean over {cfg.seeds} seeds",
            fontsize=10,
        )
    return fig
