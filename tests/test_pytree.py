"""Pytree registration: tree structures name their class, so jit never confuses two.

``jax.tree_util.register_dataclass`` gives two classes with the same number of
leaves and equal static fields tree structures that compare equal (jaxlib
0.10.2); jit then served ``Linear(2.0)`` the compiled program of ``RBF(2.0)``
now and then, depending on hashes and on test order.
"""

import dataclasses
import itertools
from typing import ClassVar

import jax
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels
from kernel_sd._pytree import structure_names_class
from kernel_sd.spectra import KernelEigvecs, Spectrum

ONE_OF_EACH = [
    kernels.RBF(lengthscale=2.0),
    kernels.Laplace(lengthscale=2.0),
    kernels.Matern(nu=1.5, lengthscale=2.0),
    kernels.Polynomial(degree=2, gamma=2.0, coef0=1.0),
    kernels.Linear(scale=2.0),
    kernels.ArcCosine(order=1),
]


def test_kernel_classes_never_share_a_tree_structure():
    for a, b in itertools.combinations(ONE_OF_EACH, 2):
        assert jax.tree.structure(a) != jax.tree.structure(b), (a, b)
    # Negative control: one class with other hyper-parameter values shares it.
    assert jax.tree.structure(kernels.RBF(0.7)) == jax.tree.structure(kernels.RBF(2.0))


def test_library_pytrees_name_their_class():
    """Spectrum, traces and implicit eigenvectors, against register_dataclass look-alikes."""
    d, V = np.ones(2), np.eye(2)
    spec = Spectrum(
        eigvals=d, eigvecs=V, noise_floor=0.0, n_clamped=0, min_raw_eigval=1.0
    )
    implicit = KernelEigvecs(
        kernel=kernels.RBF(), X=V, landmarks=V[:1], coef=np.ones((1, 2))
    )
    trace = ksd.Trace(
        filter=d, train_pred=d, test_pred=None, coef=d, z0=d, spectrum=spec
    )
    for obj in [*ONE_OF_EACH, spec, implicit, trace]:
        assert structure_names_class(obj), type(obj).__name__

    # Negative control: the same check flags a register_dataclass class.
    @dataclasses.dataclass(frozen=True)
    class Plain:
        x: float = 1.0

    jax.tree_util.register_dataclass(Plain, data_fields=["x"], meta_fields=[])
    assert not structure_names_class(Plain())


def test_jit_never_runs_the_program_of_another_class():
    """64 one-leaf kernel classes traced by one jitted function, same shapes.

    With ``register_dataclass`` 6 to 10 of the 64 traces were another class's
    program (6 of 6 runs). Tracing only (no compilation) keeps this fast; jit
    calls go through the same caches.
    """
    X = np.arange(6.0).reshape(3, 2)
    classes = []
    for i in range(64):

        @kernels.base._pytree(data=("scale",))  # the library's kernel registration
        class Scaled(kernels.Kernel):
            scale: float = 1.0
            factor: ClassVar[float] = float(i + 1)

            def _eval(self, X, Z):
                return self.factor * self.scale * (X @ Z.T)

        classes.append(Scaled)
    f = jax.jit(lambda k, X: k(X, X))
    wrong = []
    for cls in classes:
        closed = f.trace(cls(1.0), X).jaxpr
        (out,) = jax.core.eval_jaxpr(closed.jaxpr, closed.consts, 1.0, X)
        if not np.allclose(out, cls.factor * (X @ X.T)):
            wrong.append(cls.factor)
    assert wrong == []


def test_kernel_registered_with_register_dataclass_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Scaled(kernels.Kernel):
        scale: float = 1.0

        def _eval(self, X, Z):
            return self.scale * (X @ Z.T)

    jax.tree_util.register_dataclass(Scaled, data_fields=["scale"], meta_fields=[])
    X = np.eye(3)
    with pytest.raises(ValueError, match="dataclass_pytree"):
        ksd.gram(Scaled(2.0), X)
    with pytest.raises(ValueError, match="dataclass_pytree"):
        ksd.spectrum(Scaled(2.0), X)

    # The same class registered through the library's helper is accepted.
    @ksd.dataclass_pytree(data_fields=["scale"])
    @dataclasses.dataclass(frozen=True)
    class Good(kernels.Kernel):
        scale: float = 1.0

        def _eval(self, X, Z):
            return self.scale * (X @ Z.T)

    np.testing.assert_array_equal(np.asarray(ksd.gram(Good(2.0), X)), 2.0 * X)
