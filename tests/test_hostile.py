"""Hostile inputs: each gets a ValueError naming the argument and the way out, raised
before the long computation, or a warning where precision is lost; never a silent
NaN or a silently wrong answer."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels

N = 12
RBF = kernels.RBF(lengthscale=0.5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(N, 2))
    y = np.sin(3.0 * X[:, 0]) + 0.1 * rng.standard_normal(N)
    return X, y, rng.uniform(size=(4, 2))


# --------------------------------------------------------------- kernel values


@pytest.mark.parametrize(
    ("kernel", "scale"),
    [
        (kernels.RBF(lengthscale=1e-160), 1.0),  # 0/0 on the diagonal
        (kernels.Matern(nu=2.5, lengthscale=1e-300), 1.0),  # inf · 0 off the diagonal
        (kernels.RBF(lengthscale=1e200), 1e200),  # inf/inf
        (kernels.Polynomial(degree=3), 1e60),  # (x·z)³ overflows
        (kernels.Polynomial(degree=200), 10.0),
        (kernels.ArcCosine(order=1), 1e200),
    ],
    ids=["rbf-tiny", "matern-tiny", "rbf-huge", "poly-1e60", "poly-deg200", "arccos"],
)
def test_kernel_values_that_are_not_finite_are_refused(data, kernel, scale):
    X, y, _ = data
    for call in (
        lambda: ksd.spectrum(kernel, X * scale),
        lambda: ksd.self_distill(kernel, X * scale, y, lam=1e-3, rounds=1),
    ):
        with pytest.raises(ValueError, match="NaN/inf.*Rescale `X`"):
            call()


def test_kernel_values_are_checked_on_every_path(data):
    X, y, Xt = data
    tiny = kernels.RBF(lengthscale=1e-160)
    with pytest.raises(ValueError, match="NaN/inf"):
        ksd.gram(tiny, X)
    with pytest.raises(ValueError, match="NaN/inf"):
        ksd.nystrom_spectrum(tiny, X, m=4)
    with pytest.raises(ValueError, match="NaN/inf"):
        ksd.lanczos_spectrum(tiny, X, k=2, oversample=2)
    # Test points whose kernel values overflow: named, never NaN predictions.
    poly = kernels.Polynomial(degree=3)
    with pytest.raises(ValueError, match="`X_test` are NaN/inf"):
        ksd.self_distill(poly, X, y, lam=1e-3, rounds=1, X_test=Xt * 1e200)
    # Values that underflow to 0 carry no digits.
    with pytest.raises(ValueError, match="zero or underflows"):
        ksd.self_distill(kernels.Linear(scale=1e-320), X, y, lam=1e-3, rounds=1)
    # Negative control: large but finite values are accepted.
    spec = ksd.spectrum(poly, X * 1e20)
    assert np.isfinite(float(spec.eigvals[0]))


# ------------------------------------------------------------- hyper-parameters


@pytest.mark.parametrize(
    "make",
    [
        lambda: kernels.RBF(lengthscale="1"),
        lambda: kernels.RBF(lengthscale=True),
        lambda: kernels.RBF(lengthscale=1 + 0j),
        lambda: kernels.Laplace(lengthscale=np.complex128(1.0)),
        lambda: kernels.Polynomial(degree=True),
        lambda: kernels.Linear(scale=b"2"),
    ],
    ids=["str", "bool", "complex", "np-complex", "degree-bool", "bytes"],
)
def test_hyperparameters_of_the_wrong_type_are_refused(make):
    with pytest.raises(ValueError, match="must be a"):
        make()


def test_hyperparameters_are_checked_before_use(data):
    X, _, _ = data
    with pytest.raises(ValueError, match="`lengthscale` must be a real number"):
        ksd.spectrum(kernels.RBF(lengthscale=None), X)
    with pytest.raises(ValueError, match="RBF: .*hyper-parameters"):
        ksd.spectrum(kernels.RBF(lengthscale=np.array([0.5, 1.0])), X)
    with pytest.raises(ValueError, match="`lengthscale` must be a scalar, got a list"):
        ksd.spectrum(kernels.RBF(lengthscale=[0.5]), X)
    # Negative control: numpy and 0-d array scalars are fine.
    a = ksd.spectrum(kernels.RBF(lengthscale=np.float32(0.5)), X)
    b = ksd.spectrum(kernels.RBF(lengthscale=jnp.asarray(0.5)), X)
    np.testing.assert_allclose(a.eigvals, b.eigvals, rtol=1e-7)


# ------------------------------------------------------------ arrays of the wrong kind


class _FrameWithText:
    """The parts of a pandas DataFrame the checks see (no pandas needed)."""

    columns = ["a", "name"]

    class _Dtypes(dict):
        pass

    dtypes = _Dtypes(a=np.dtype(float), name=np.dtype(object))

    def __array__(self, dtype=None, copy=None):
        rows = [[0.1 * i, f"secret-{i}"] for i in range(N)]
        return np.array(rows, dtype=object)


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("X", lambda X, y, Xt: {"X": X + 1j}, "`X` is complex"),
        ("y", lambda X, y, Xt: {"y": y + 0j}, "`y` is complex"),
        ("X_test", lambda X, y, Xt: {"X_test": Xt + 1j}, "`X_test` is complex"),
        ("X", lambda X, y, Xt: {"X": X.astype(str)}, "`X` must hold numbers"),
        ("X", lambda X, y, Xt: {"X": X.astype(object)}, "`X` must hold numbers"),
        ("X", lambda X, y, Xt: {"X": X.astype(np.float16)}, "`X` is float16"),
        ("X", lambda X, y, Xt: {"X": [[1.0, 2.0], [3.0]]}, "`X` is not a numeric"),
        ("X", lambda X, y, Xt: {"X": _FrameWithText()}, r"non-numeric column.*'name'"),
        (
            "X",
            lambda X, y, Xt: {"X": np.ma.masked_array(X, mask=X > 0.9)},
            "`X` is a masked array",
        ),
        ("y", lambda X, y, Xt: {"y": y[:, None][:, :0]}, "`y` is empty"),
    ],
    ids=[
        "complex-X",
        "complex-y",
        "complex-Xtest",
        "text-X",
        "object-X",
        "float16-X",
        "ragged-X",
        "frame-text",
        "masked-X",
        "empty-y",
    ],
)
def test_arrays_that_are_not_real_numbers_are_refused(data, name, make, match):
    X, y, Xt = data
    args = {"X": X, "y": y, "X_test": None} | make(X, y, Xt)
    with pytest.raises(ValueError, match=match) as err:
        ksd.self_distill(RBF, args["X"], args["y"], lam=1e-3, X_test=args["X_test"])
    assert "secret" not in str(err.value) and len(str(err.value)) < 400


def test_a_dataframe_with_a_text_column_names_the_column(data):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = pd.DataFrame({"a": X[:, 0], "name": [f"secret-{i}" for i in range(N)]})
    with pytest.raises(ValueError, match="'name'") as err:
        ksd.spectrum(RBF, frame)
    assert "secret" not in str(err.value)
    ksd.spectrum(RBF, pd.DataFrame(X))  # negative control: numbers only


@pytest.mark.parametrize(
    "value", [True, False, "0.1", b"0.1", 1 + 0j, [0.1], None, np.array([0.1])]
)
def test_eps_and_lam_must_be_real_numbers(data, value):
    X, y, _ = data
    for kw in ("eps", "lam"):
        if value is None and kw == "lam":
            continue  # lam=None with eps=None is the "exactly one" error
        with pytest.raises(ValueError, match=f"`{kw}`"):
            ksd.self_distill(RBF, X, y, **{kw: value}, rounds=1)
    with pytest.raises(ValueError, match="`eps`"):
        ksd.self_distill_sweep(RBF, X, y, eps=[True, 0.1], rounds=1)


def test_numpy_scalars_and_zero_d_arrays_are_accepted(data):
    X, y, _ = data
    ref = ksd.self_distill(RBF, X, y, eps=0.05, rounds=2)
    for eps in (np.float32(0.05), np.array(0.05), jnp.asarray(0.05)):
        tr = ksd.self_distill(RBF, X, y, eps=eps, rounds=np.array(2))
        np.testing.assert_allclose(tr.c, ref.c, rtol=1e-6)
    with pytest.warns(UserWarning, match="noise floor"):  # c = 0 interpolates
        tr = ksd.self_distill(RBF, X, y, lam=-0.0, rounds=1)  # -0.0 is 0
    assert float(tr.lam) == 0.0 and not np.signbit(float(tr.lam))


# ---------------------------------------------------------------- spectra reused


def test_spectrum_of_another_kernel_is_refused(data):
    X, y, Xt = data
    spec = ksd.spectrum(RBF, X)
    for other in (kernels.Laplace(lengthscale=0.5), kernels.RBF(lengthscale=0.6)):
        with pytest.raises(ValueError, match="another kernel"):
            ksd.self_distill(other, X, y, lam=1e-3, rounds=1, spectrum=spec)
        with pytest.raises(ValueError, match="another kernel"):
            ksd.features(other, X, Xt, spec)
    swapped = X[[1, 0, *range(2, N)]]  # two rows exchanged
    with pytest.raises(ValueError, match="other inputs"):
        ksd.self_distill(RBF, swapped, y, lam=1e-3, rounds=1, spectrum=spec)
    # Negative control: the same kernel written again, and X as a jax array.
    ksd.self_distill(
        kernels.RBF(0.5), jnp.asarray(X), y, lam=1e-3, rounds=1, spectrum=spec
    )


# ------------------------------------------------------------ sizes and energies


def test_huge_rounds_are_refused_with_the_size(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"`rounds`=100000000 .* GiB"):
        ksd.self_distill(RBF, X, y, lam=1e-3, rounds=10**8)
    with pytest.raises(ValueError, match=r"`rounds`=1000000000 .* GiB"):
        ksd.self_distill_sweep(RBF, X, y, eps=[0.1, 0.2], rounds=10**9)
    with pytest.raises(ValueError, match=r"`steps`=.* GiB"):
        ksd.dynamics.simulate_regression(np.eye(N) / N, y, lr=1.0, steps=10**9)
    spec = ksd.spectrum(RBF, X)
    with pytest.raises(ValueError, match=r"`t`=.* GiB"):  # 2e9 numbers per column
        ksd.dynamics.teacher_flow(spec, np.zeros((N, 10**4)), t=np.zeros(10**4))


def test_memory_guard_counts_the_measured_peak_and_test_points():
    """4.25 n² numbers (the measured peak) and the test-point features, not 3 n²."""
    n = 300
    X = np.linspace(0.0, 1.0, n)[:, None]
    need = 4.25 * n * n * 8 / 2**30  # 2.85e-3 GiB; three n² arrays were 2.01e-3
    with pytest.raises(ValueError, match="max_memory_gb"):
        ksd.spectrum(RBF, X, max_memory_gb=0.9 * need)
    # (m, n) test features: 3.6e6 x 300 numbers are 8.05 GiB, over the default 8.
    m = 3_600_000
    with pytest.raises(ValueError, match=f"{m} test points"):
        ksd.self_distill(RBF, X, np.zeros(n), lam=1e-3, X_test=np.zeros((m, 1)))


def test_targets_whose_energy_overflows_are_refused(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="`y` is too large"):
        ksd.self_distill(RBF, X, y * 1e300, eps=1e-3, rounds=2)
    with pytest.raises(ValueError, match="`y` is too large"):
        ksd.multiplier(ksd.spectrum(RBF, X), y * 1e300, eps=1.0)
    with pytest.raises(ValueError, match="`y` is too small"):
        ksd.self_distill(RBF, X, y * 1e-170, eps=1e-300, rounds=2)
    # The penalised form is linear in y: large targets are fine, results finite.
    tr = ksd.self_distill(RBF, X, y * 1e300, lam=1e-3, rounds=2)
    np.testing.assert_allclose(
        np.asarray(tr.train_pred) / 1e300,
        np.asarray(ksd.self_distill(RBF, X, y, lam=1e-3, rounds=2).train_pred),
        rtol=1e-12,
        atol=1e-14,
    )


# ------------------------------------------------------------------- dtype policy


def test_float64_targets_rounded_to_float32_warn_with_the_loss(data):
    X, y, _ = data
    X32 = X.astype(np.float32)
    k = kernels.RBF(lengthscale=2.0)
    y64 = y + 1e-9  # not representable in float32
    lost = np.max(np.abs(y64 - y64.astype(np.float32).astype(np.float64)))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tr = ksd.self_distill(k, X32, y64, lam=0.1, rounds=1)
    msgs = [
        str(w.message) for w in record if "`y` (float64) is rounded" in str(w.message)
    ]
    assert len(msgs) == 1 and f"{lost:.3g}" in msgs[0], [str(w.message) for w in record]
    assert all(w.filename == __file__ for w in record)
    assert tr.train_pred.dtype == jnp.float32
    # Negative control: float32 targets, or integers float32 holds exactly, are quiet.
    for y_ok in (y64.astype(np.float32), (y > 0).astype(np.int64)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ksd.self_distill(k, X32, y_ok, lam=0.1, rounds=1)
        assert not [w for w in record if "rounded" in str(w.message)]


# -------------------------------------------------------------- infeasibility advice


def test_infeasibility_advice_fits_the_kernel():
    X = np.linspace(0.0, 1.0, 20)[:, None]
    y = np.random.default_rng(0).standard_normal(20)
    with pytest.raises(ValueError, match="more input features") as err:
        ksd.self_distill(kernels.Linear(), X, y, eps=1e-3, rounds=1)
    assert "lengthscale" not in str(err.value)
    with pytest.raises(ValueError, match="higher `degree`"):
        ksd.self_distill(kernels.Polynomial(degree=2), X, y, eps=1e-3, rounds=1)
    # A wide RBF has a large numerical null space: the fix is a shorter lengthscale.
    with pytest.raises(ValueError, match="shorter lengthscale"):
        ksd.self_distill(kernels.RBF(lengthscale=2.0), X, y, eps=1e-3, rounds=1)
