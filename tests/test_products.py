"""Kernel blocks times matrices: values against NumPy, and no kernel evaluation inside a GEMM.

The second part is structural (no timing): every product program that the
library's kernel-block products dispatch is compiled and its HLO text searched
for the operations a kernel evaluation needs. A negative control checks that the
same search finds them in a program that computes ``k(A, B) @ M`` in one jit.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import kernel_sd as ksd
from kernel_sd import _blocks
from kernel_sd.spectra._products import kernel_matmul, kernel_rmatmul, kernel_sum

RBF = ksd.kernels.RBF(lengthscale=0.7)
MATERN = ksd.kernels.Matern(nu=1.5, lengthscale=0.5)

# Element-wise operations a kernel evaluation uses (RBF: exp; Matérn, Laplace:
# sqrt, exp; arc-cosine: atan2, cos, sin; NTK/NNGP: sqrt, atan2, cos, sin, power).
_KERNEL_OPS = re.compile(
    r"\b(exponential|exponential-minus-one|sqrt|rsqrt|cbrt|atan2|cosine|sine|"
    r"tan|tanh|log|log-plus-one|power|erf|logistic)\("
)


def kernel_ops(hlo_text: str) -> set[str]:
    """The kernel-type element-wise operations that occur in a compiled HLO module."""
    return set(_KERNEL_OPS.findall(hlo_text))


def np_rbf(A, B, ell=0.7):
    # independent evaluation: SciPy distances, NumPy exp
    return np.exp(-cdist(A, B, "sqeuclidean") / (2 * ell * ell))


@pytest.mark.parametrize("m, block", [(50, 64), (50, 50), (50, 16), (37, 8)])
def test_products_equal_numpy(rng, m, block):
    """One tile (m <= block: no padding, the term reads the tile) and several."""
    A = rng.uniform(-1, 1, (m, 3))
    B = rng.uniform(-1, 1, (23, 3))
    M = rng.standard_normal((23, 4))
    Y = rng.standard_normal((m, 2))
    K = np_rbf(A, B)
    out = kernel_matmul(
        RBF, jnp.asarray(A), jnp.asarray(B), jnp.asarray(M), block_size=block
    )
    np.testing.assert_allclose(out, K @ M, rtol=1e-12, atol=1e-13)
    vec = kernel_matmul(
        RBF, jnp.asarray(A), jnp.asarray(B), jnp.asarray(M[:, 0]), block_size=block
    )
    np.testing.assert_allclose(vec, K @ M[:, 0], rtol=1e-12, atol=1e-13)
    out = kernel_rmatmul(
        RBF, jnp.asarray(A), jnp.asarray(B), jnp.asarray(Y), block_size=block
    )
    np.testing.assert_allclose(out, K.T @ Y, rtol=1e-12, atol=1e-13)
    gram = kernel_sum(
        RBF, jnp.asarray(A), jnp.asarray(B), _masked_gram, block_size=block
    )
    np.testing.assert_allclose(gram, K.T @ K, rtol=1e-12, atol=1e-13)


def _masked_gram(K, w, rows, shared):
    Kw = K * w[:, None]
    return Kw.T @ Kw


@pytest.fixture
def product_programs(monkeypatch):
    """Names of the product programs dispatched, each checked once on its compiled text."""
    seen, checked_terms = [], set()
    original = _blocks._tile_programs

    def spy(term, reduce, devices, transpose=False):
        mesh, tile, consume, term_jit = original(term, reduce, devices, transpose)

        def checked(program):
            """``program`` (consuming a tile: a sweep's step, or the term of a
            single-tile sweep) checked on its compiled text, and recorded."""

            def call(*args):
                if (term, program) not in checked_terms:
                    text = program.lower(*args).compile().as_text()
                    assert " dot(" in text or "custom-call" in text  # a product
                    assert kernel_ops(text) == set(), (term.__name__, kernel_ops(text))
                    checked_terms.add((term, program))
                seen.append(term.__name__)
                return program(*args)

            call.eval_shape = program.eval_shape
            return call

        return mesh, tile, checked(consume), checked(term_jit)

    monkeypatch.setattr(_blocks, "_tile_programs", spy)
    return seen


def test_no_kernel_evaluation_in_any_product_program(rng, product_programs):
    """Every kernel-block product of the library (features, the trace's test
    predictions, Nyström accumulations and eigenvectors, Lanczos products) goes
    through a product program that receives the kernel tile as an input."""
    X = jnp.asarray(rng.uniform(size=(120, 2)))  # the shapes of test_nystrom.py
    Xt = jnp.asarray(rng.uniform(size=(15, 2)))
    y = jnp.asarray(np.sin(3 * np.asarray(X[:, 0])))
    kernel = ksd.kernels.Laplace(lengthscale=0.5)
    exact = ksd.spectrum(kernel, X)

    def terms(call):
        product_programs.clear()
        call()
        return set(product_programs)

    assert terms(lambda: ksd.features(kernel, X, Xt, exact)) == {"_times"}
    assert "_times" in terms(
        lambda: ksd.self_distill(kernel, X, y, lam=1e-3, rounds=2, X_test=Xt)
    )
    # On one CPU device the Nyström sums run on the host BLAS (kernel tiles from
    # their own program, _blocks.evaluate); the row-block engine, used
    # with several devices, is checked here by taking that route on one.
    from kernel_sd.spectra import _nystrom_factor as nystrom

    for host in (True, False):
        for accumulate, term in (("factor", "_factor_term"), ("gram", "_gram_term")):
            with pytest.MonkeyPatch.context() as mp:
                if not host:
                    mp.setattr(nystrom, "_host_rows", lambda X, devices: None)
                product_programs.clear()
                spec = ksd.nystrom_spectrum(
                    kernel, X, m=12, landmarks="uniform", accumulate=accumulate,
                    vectors="implicit",
                )  # fmt: skip
            assert product_programs.count(term) == (0 if host else 1)
    text = _blocks.evaluate.lower(kernel, X, X[:12]).compile().as_text()
    assert " dot(" not in text  # the host route's tile program has no product
    assert terms(lambda: spec.eigvecs.T @ y) == {"_transposed_times"}
    assert terms(lambda: spec.eigvecs @ jnp.ones(spec.eigvals.shape[0])) == {"_times"}
    assert terms(spec.eigvecs.materialize) == {"_times"}
    assert terms(lambda: ksd.features(kernel, X, Xt, spec)) == {"_times"}
    assert terms(
        lambda: ksd.lanczos_spectrum(kernel, X, k=3, max_iterations=1, tol=10.0)
    ) == {"_times"}


def test_negative_control_kernel_and_product_in_one_program():
    """The search finds the kernel in a program that computes k(A, B) @ M itself
    (where XLA is free to fuse the kernel into the GEMM)."""
    A, M = jnp.zeros((8, 3)), jnp.zeros((8, 5))
    for kernel, op in ((RBF, "exponential"), (MATERN, "sqrt")):
        fused = jax.jit(lambda k, A, B, M: k(A, B) @ M)
        text = fused.lower(kernel, A, A, M).compile().as_text()
        assert op in kernel_ops(text) and " dot(" in text
        # ... and the tile program alone does evaluate the kernel
        _, tile, _, _ = _blocks._tile_programs(_masked_gram, True, None)
        text = tile.lower(kernel, A[None], A, 0).compile().as_text()
        assert op in kernel_ops(text)
