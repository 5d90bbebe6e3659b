"""Built-in problems: the [MFB20] toy points, noisy sinusoids and two real data sets.

Every loader is deterministic given its ``seed`` and returns a :class:`Dataset`
of NumPy arrays (convert with ``jnp.asarray``). The real data sets are bundled
with the package (no download, no scikit-learn needed at run time):

- ``digits``: 1797 8×8 handwritten digits (UCI "Optical Recognition of
  Handwritten Digits", as distributed by scikit-learn's ``load_digits``);
- ``diabetes``: 442 patients, 10 baseline variables, disease progression after
  one year (Efron et al. 2004, as distributed by scikit-learn's ``load_diabetes``).

``friedman1`` draws Friedman's (1991) first synthetic regression problem (the one
scikit-learn calls ``make_friedman1``, reimplemented here with NumPy's generator),
and ``flip_labels`` makes a classification problem noisy.
"""

from __future__ import annotations

import functools
import pathlib
from typing import NamedTuple

import numpy as np

from kernel_sd import _validate

__all__ = [
    "Dataset",
    "mobahi_toy",
    "sinusoid",
    "digits",
    "diabetes",
    "friedman1",
    "one_hot",
    "flip_labels",
    "load_file",
    "MOBAHI_TOY_X",
    "MOBAHI_TOY_Y",
]

_DATA_DIR = pathlib.Path(__file__).resolve().parent / "_data"

# The 11 toy points of [MFB20], as published with a third-party reimplementation
# (Borup & Andersen, `self_distillation`, toy_example.ipynb) that states they are
# the paper's exact values: x = 0, 0.1, ..., 1 and y = sin(2πx) + noise.
MOBAHI_TOY_X = np.linspace(0.0, 1.0, 11)
MOBAHI_TOY_Y = np.array(
    [
        0.38476636465198066, 1.2333967683416893, 1.33232242218057,
        0.6920159488889518, -0.29756145531871736, -0.24189291901377769,
        -0.7964485769175675, -0.9616480167034174, -0.49672509509916934,
        -0.3469066003991437, 0.5589512650600734,
    ]
)  # fmt: skip


class Dataset(NamedTuple):
    """A train/test problem."""

    X: np.ndarray
    """(n, p) training inputs."""
    y: np.ndarray
    """(n,) training targets (noisy values, or integer class labels)."""
    X_test: np.ndarray
    """(m, p) test inputs (a dense grid for 1-D problems)."""
    y_test: np.ndarray
    """(m,) test targets: the clean function for synthetic problems, labels for digits."""
    name: str
    """Short description for titles and tables."""


def _sin2pi(x: np.ndarray) -> np.ndarray:
    return np.sin(2.0 * np.pi * x)


def mobahi_toy(n_test: int = 201) -> Dataset:
    """The [MFB20] toy problem: 11 noisy samples of ``sin(2πx)`` on ``[0, 1]``.

    ``(1/K)‖y‖² = 0.5735``, so the constrained fit is 0 from the start iff
    ``ε >= 0.5735``. The clean target ``sin(2πx)`` is given on ``n_test`` grid points.
    """
    n_test = _validate.positive_int("n_test", n_test)
    grid = np.linspace(0.0, 1.0, n_test)
    return Dataset(
        X=MOBAHI_TOY_X[:, None].copy(),
        y=MOBAHI_TOY_Y.copy(),
        X_test=grid[:, None],
        y_test=_sin2pi(grid),
        name="[MFB20] toy: 11 noisy samples of sin(2πx)",
    )


def sinusoid(
    n: int = 40, *, noise: float = 0.4, seed: int = 0, n_test: int = 201
) -> Dataset:
    """``n`` points ``x ~ U[0, 1]`` (sorted), ``y = sin(2πx) + noise · N(0, 1)``.

    Args:
        n: number of training points ``K``.
        noise: standard deviation of the Gaussian label noise (>= 0).
        seed: seed of ``numpy.random.default_rng``.
        n_test: size of the clean test grid on ``[0, 1]``.
    """
    n = _validate.positive_int("n", n)
    n_test = _validate.positive_int("n_test", n_test)
    noise = _validate.positive_scalar("noise", noise, allow_zero=True)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    y = _sin2pi(x) + noise * rng.standard_normal(n)
    grid = np.linspace(0.0, 1.0, n_test)
    return Dataset(
        X=x[:, None],
        y=y,
        X_test=grid[:, None],
        y_test=_sin2pi(grid),
        name=f"sin(2πx) + N(0, {noise:g}²), n = {n}, seed {seed}",
    )


@functools.cache
def _load(name: str) -> dict[str, np.ndarray]:
    with np.load(_DATA_DIR / f"{name}.npz") as f:
        return {k: f[k] for k in f.files}


def _split(n_total: int, n_train: int | None, test_fraction: float, seed: int):
    """Shuffled train/test indices (test = the last ``test_fraction`` of a permutation)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction!r}.")
    perm = np.random.default_rng(seed).permutation(n_total)
    n_test = int(round(test_fraction * n_total))
    train, test = perm[: n_total - n_test], perm[n_total - n_test :]
    if n_train is not None:
        n_train = _validate.positive_int("n_train", n_train)
        if n_train > train.size:
            raise ValueError(
                f"`n_train`={n_train} exceeds the {train.size} training points available "
                f"with test_fraction={test_fraction}."
            )
        train = train[:n_train]
    return train, test


def digits(
    n_train: int | None = None, *, seed: int = 0, test_fraction: float = 0.3
) -> Dataset:
    """Handwritten digits 0–9: ``X`` (n, 64) pixel intensities scaled to [0, 1], ``y`` labels.

    Args:
        n_train: use only this many training points (default: all ~1258).
        seed: seed of the shuffled train/test split.
        test_fraction: share of the 1797 images held out for testing.

    Returns:
        A :class:`Dataset` with integer labels in ``y``/``y_test``; use
        :func:`one_hot` for ℓ2-regression targets.
    """
    raw = _load("digits")
    X = raw["images"].astype(np.float64) / 16.0
    labels = raw["target"].astype(np.int64)
    train, test = _split(X.shape[0], n_train, test_fraction, seed)
    return Dataset(
        X=X[train], y=labels[train], X_test=X[test], y_test=labels[test],
        name=f"digits (8x8), {train.size} train / {test.size} test, seed {seed}",
    )  # fmt: skip


def diabetes(
    n_train: int | None = None, *, seed: int = 0, test_fraction: float = 0.3
) -> Dataset:
    """Diabetes progression regression: 10 standardised features, standardised target.

    Features and target are standardised with the training split's mean and
    standard deviation (so the test split sees no test statistics).
    """
    raw = _load("diabetes")
    X, y = raw["data"], raw["target"]
    train, test = _split(X.shape[0], n_train, test_fraction, seed)
    mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
    ym, ys = y[train].mean(), y[train].std()
    return Dataset(
        X=(X[train] - mu) / sd, y=(y[train] - ym) / ys,
        X_test=(X[test] - mu) / sd, y_test=(y[test] - ym) / ys,
        name=f"diabetes, {train.size} train / {test.size} test, seed {seed}",
    )  # fmt: skip


def _friedman1_target(X: np.ndarray) -> np.ndarray:
    """``10 sin(π x_1 x_2) + 20 (x_3 − 1/2)² + 10 x_4 + 5 x_5`` (Friedman 1991)."""
    return (
        10.0 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20.0 * (X[:, 2] - 0.5) ** 2
        + 10.0 * X[:, 3]
        + 5.0 * X[:, 4]
    )


def friedman1(
    n: int = 200, *, noise: float = 1.0, seed: int = 0, n_test: int = 500, p: int = 10
) -> Dataset:
    """Friedman's regression problem #1: ``x ~ U[0, 1]^p``, five informative inputs.

    ``y = 10 sin(π x_1 x_2) + 20 (x_3 − 1/2)² + 10 x_4 + 5 x_5 + noise · N(0, 1)``;
    inputs ``x_6 .. x_p`` do not enter the target. This is the problem of
    scikit-learn's ``make_friedman1`` (same formula, not the same random stream).

    Args:
        n: number of training points.
        noise: standard deviation of the Gaussian noise on the training targets (>= 0).
        seed: seed of ``numpy.random.default_rng``.
        n_test: number of test points; their targets are the clean function.
        p: number of input dimensions (>= 5).
    """
    n = _validate.positive_int("n", n)
    n_test = _validate.positive_int("n_test", n_test)
    noise = _validate.positive_scalar("noise", noise, allow_zero=True)
    p = _validate.integer(
        "p", p, minimum=5, what="input dimensions; five enter the target"
    )
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, (n + n_test, p))
    f = _friedman1_target(X)
    y = f[:n] + noise * rng.standard_normal(n)
    return Dataset(
        X=X[:n], y=y, X_test=X[n:], y_test=f[n:],
        name=f"Friedman #1, n = {n}, noise {noise:g}, seed {seed}",
    )  # fmt: skip


def flip_labels(
    labels: np.ndarray, fraction: float, *, classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Replace a share ``fraction`` of the labels by a uniformly drawn *other* class.

    Exactly ``round(fraction · n)`` points, drawn without replacement, change class.

    Args:
        labels: ``(n,)`` integer labels in ``[0, classes)``.
        fraction: share of labels to flip, in ``[0, 1]``.
        classes: number of classes (>= 2).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``(noisy labels, mask of the flipped points)``.
    """
    labels = np.asarray(labels)
    classes = _validate.integer("classes", classes, minimum=2)
    if (
        labels.ndim != 1
        or labels.size == 0
        or not np.issubdtype(labels.dtype, np.integer)
    ):
        raise ValueError(
            f"`labels` must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}."
        )
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(
            f"`labels` must lie in [0, {classes}); pass the right `classes`."
        )
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        fraction = float("nan")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"`fraction` must be a share in [0, 1], got {fraction!r}.")
    rng = np.random.default_rng(seed)
    idx = rng.choice(labels.size, int(round(fraction * labels.size)), replace=False)
    noisy = labels.copy()
    noisy[idx] = (noisy[idx] + rng.integers(1, classes, idx.size)) % classes
    mask = np.zeros(labels.size, bool)
    mask[idx] = True
    return noisy, mask


def one_hot(labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """``(n,)`` integer labels -> ``(n, classes)`` float64 one-hot rows."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"`labels` must be 1-D integers in [0, {classes}).")
    return np.eye(classes)[labels]


def load_file(path, *, test_fraction: float = 0.0, seed: int = 0) -> Dataset:
    """A user's data set from ``.npz`` (arrays ``X`` and, optionally, ``y``) or ``.csv``.

    A CSV file has one row per point, the inputs in the leading columns and the
    target in the last column (a first line that is not numeric is taken as a
    header). With ``test_fraction > 0`` a shuffled share of the rows is held out.
    Files without a target (``.npz`` without ``y``) get ``y = 0`` (enough for
    spectra).

    Raises:
        ValueError: unreadable file, wrong suffix, non-numeric or non-finite values.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"`path`: file {str(path)!r} does not exist.")
    if path.suffix == ".npz":
        with np.load(path) as f:
            if "X" not in f.files:
                raise ValueError(f"{path} has no array named 'X' (found {f.files}).")
            X = np.asarray(f["X"], dtype=np.float64)
            y = (
                np.asarray(f["y"], dtype=np.float64)
                if "y" in f.files
                else np.zeros(len(X))
            )
    elif path.suffix == ".csv":
        text = path.read_text().splitlines()
        try:
            float(text[0].split(",")[0])
            skip = 0
        except (ValueError, IndexError):
            skip = 1
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
        except ValueError as err:
            raise ValueError(f"{path}: not a numeric CSV table ({err}).") from None
        if table.shape[1] < 2:
            raise ValueError(f"{path}: need input column(s) and a last target column.")
        X, y = table[:, :-1], table[:, -1]
    else:
        raise ValueError(f"`path` must be a .npz or .csv file, got {path.name!r}.")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(
            f"{path}: X must be (n, p) and y (n,), got {X.shape} and {y.shape}."
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"{path} contains NaN or inf.")
    if test_fraction > 0:
        train, test = _split(X.shape[0], None, test_fraction, seed)
    else:
        train, test = np.arange(X.shape[0]), np.arange(0)
    return Dataset(
        X=X[train], y=y[train], X_test=X[test], y_test=y[test],
        name=f"{path.name}: {train.size} train / {test.size} test",
    )  # fmt: skip
