"""scikit-learn estimators wrapping :func:`kernel_sd.self_distill`.

``SelfDistillationRegressor`` and ``SelfDistillationClassifier`` (ℓ2 regression
on one-hot targets, prediction by arg-max) follow the estimator contract
(``fit``/``predict``/``score``, ``get_params``/``set_params``, cloneable), so they
work in ``Pipeline`` and ``GridSearchCV``. ``predict(X, round=t)`` gives any
round; ``trace_`` holds the full :class:`kernel_sd.DistillTrace` after ``fit``.
``fit`` accepts ``sample_weight`` (see ``SelfDistillationRegressor``).
``SelfDistillationRegressorCV`` and ``SelfDistillationClassifierCV`` choose
``eps`` (or ``lam``) and the round by cross-validation over the whole grid, one
factorisation per fold (module ``kernel_sd._sklearn_cv``).

Routes: ``fit`` and ``predict`` ask for predictions only, so the penalised form
(``lam``) is fitted by one Cholesky factorisation of ``G + lam·I``
(``self_distill(..., method="cholesky")``) and the eigendecomposition behind
``trace_`` is computed on first access of ``trace_``. The constrained form
(``eps``) needs the eigenbasis and fits it in ``fit``. Both predict through
dual coefficients, ``f_t(x) = k(x, X_fit) dual_coef_[t]`` (``O(m·n)``).

scikit-learn is an optional dependency: ``import kernel_sd`` never imports this
module; ``import kernel_sd.sklearn`` needs scikit-learn installed
(``pip install scikit-learn``). Enable float64 (``jax_enable_x64``) for fits on
ill-conditioned kernels; the estimators never change JAX's configuration.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "kernel_sd.sklearn needs scikit-learn: pip install scikit-learn "
        "(or pip install 'kernel-sd[test]')."
    ) from err

from kernel_sd import _validate
from kernel_sd import kernels as _kernels
from kernel_sd._weights import (
    kept_rows,
    scaled_sqrt,
    weighted_spectrum,
)
from kernel_sd.distill import DistillTrace, distill_from_spectrum, self_distill
from kernel_sd.spectra import expand
from kernel_sd.spectra._products import kernel_matmul

__all__ = [
    "SelfDistillationRegressor",
    "SelfDistillationClassifier",
    "SelfDistillationRegressorCV",  # noqa: F822 (module __getattr__ below)
    "SelfDistillationClassifierCV",  # noqa: F822
]

_CV_ESTIMATORS = ("SelfDistillationRegressorCV", "SelfDistillationClassifierCV")


def __getattr__(name: str):
    # The CV estimators subclass the ones above, so their module imports this
    # one: importing it here on first use (not at the top) avoids the cycle.
    if name in _CV_ESTIMATORS:
        from kernel_sd import _sklearn_cv

        return getattr(_sklearn_cv, name)
    raise AttributeError(f"module 'kernel_sd.sklearn' has no attribute {name!r}")


class _SelfDistillationBase(BaseEstimator):
    """Shared fitting logic; subclasses set how targets are encoded and decoded."""

    def __init__(
        self,
        kernel="rbf",
        *,
        lengthscale: float = 1.0,
        eps: float | None = None,
        lam: float | None = None,
        rounds: int = 2,
    ):
        self.kernel = kernel
        self.lengthscale = lengthscale
        self.eps = eps
        self.lam = lam
        self.rounds = rounds

    def _kernel(self):
        if isinstance(self.kernel, _kernels.Kernel):
            return self.kernel
        return _kernels.from_name(self.kernel, lengthscale=self.lengthscale)

    def _penalty(self):
        if self.eps is None and self.lam is None:
            return 1e-3  # default: the penalised form, well posed for any data
        return self.lam

    def _fit_targets(self, X, Y, sample_weight=None):
        self.kernel_ = self._kernel()
        w = _validate.sample_weight(sample_weight, X.shape[0])
        self._sqrt_w = None
        self._trace = None
        if w is None:
            self.X_fit_ = X
            self._targets = Y
            if self.eps is None:
                self._fit_penalised(X, Y)
            else:
                self.trace_ = self_distill(self.kernel_, X, Y, eps=self.eps, rounds=self.rounds)
            return self
        # Weighted form: the unweighted rounds on G_w and W'^{1/2} y (kernel_sd._weights).
        keep = kept_rows(w)
        self.X_fit_, self._sqrt_w = X[keep], scaled_sqrt(w[keep])
        spec = weighted_spectrum(_kernels.gram(self.kernel_, self.X_fit_), self._sqrt_w)
        scale = self._sqrt_w if Y.ndim == 1 else self._sqrt_w[:, None]
        self.trace_ = distill_from_spectrum(
            spec, Y[keep] * scale, eps=self.eps, lam=self._penalty(), rounds=self.rounds
        )
        return self

    def _fit_penalised(self, X, Y):
        """Predictions only: one Cholesky of ``G + lam·I``; ``trace_`` on demand."""
        tr = self_distill(
            self.kernel_,
            X,
            Y,
            lam=self._penalty(),
            rounds=self.rounds,
            method="cholesky",
        )
        self._trace = None
        # f_t(x) = g_xᵀ a_t = k(x, X) a_t / K: scikit-learn's dual_coef_ convention
        self.dual_coef_ = np.asarray(tr.dual_coef) / X.shape[0]


    @property
    def trace_(self) -> DistillTrace:
        """The :class:`kernel_sd.DistillTrace` of the fit (eigenbasis route).

        Computed on first access after an unweighted penalised fit (one
        eigendecomposition); its predictions equal those of ``predict`` to
        round-off.
        """
        check_is_fitted(self, "dual_coef_")
        if self._trace is None:
            self._trace = self_distill(
                self.kernel_,
                self.X_fit_,
                self._targets,
                lam=self._penalty(),
                rounds=self.rounds,
            )
        return self._trace

    @trace_.setter
    def trace_(self, tr: DistillTrace) -> None:
        """Store an eigenbasis trace and the dual coefficients it predicts with.

        ``f_t(x) = k(x, X_fit) W'^{1/2} V α_t / K`` (``W'^{1/2} = 1`` unweighted),
        so ``dual_coef_[t] = W'^{1/2} V α_t / K``.
        """
        self._trace = tr
        coef = tr.coefficients
        one = coef.ndim == 2
        a = np.asarray(expand(tr.spectrum.eigvecs, coef if not one else coef[..., None]))
        sqrt_w = getattr(self, "_sqrt_w", None)
        if sqrt_w is not None:
            a = np.asarray(sqrt_w)[:, None] * a
        a = a / self.X_fit_.shape[0]
        self.dual_coef_ = a[..., 0] if one else a

    def _scores(self, X, round):
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False)
        t = self.rounds - 1 if round is None else round
        if not (isinstance(t, (int, np.integer)) and -self.rounds <= t < self.rounds):
            raise ValueError(
                f"`round` must be an integer in [0, {self.rounds}), got {round!r}."
            )
        a = self.dual_coef_[t]
        X = np.asarray(X, dtype=self.X_fit_.dtype)
        # f_t(X) = k(X, X_fit) a_t: one pass over X in kernel tiles, O(m·n)
        out = kernel_matmul(
            self.kernel_,
            jnp.asarray(X),
            jnp.asarray(self.X_fit_),
            jnp.asarray(a[:, None] if a.ndim == 1 else a),
        )
        out = np.asarray(out)
        return out[:, 0] if a.ndim == 1 else out


class SelfDistillationRegressor(RegressorMixin, _SelfDistillationBase):
    """Kernel regression refined by self-distillation rounds  [MFB20].

    Round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with ``y_0 = y`` and
    ``y_{t+1} = f_t(X)``; ``predict`` uses the last round unless ``round`` is given.

    Sample weights ``w_i >= 0`` (``fit(X, y, sample_weight=w)``) weigh the squared
    errors, with ``S = Σ_i w_i``:

        penalised:    min_f Σ_i w_i (f(x_i) − y_i)² + S · lam · ‖f‖²_H
                      (= ``KernelRidge(alpha=S * lam).fit(X, y, sample_weight=w)``),
        constrained:  min_f ‖f‖²_H  s.t.  (1/S) Σ_i w_i (f(x_i) − y_i)² <= ε,

    so unit weights give the unweighted fit, integer weights equal repeated rows,
    only ratios of weights matter, and a row of weight 0 is dropped. Derived:
    every round is the unweighted round on ``G_w = W^{1/2} k(X, X) W^{1/2} / S``
    (``W = diag(w)``) with targets ``W^{1/2} y``; the multiplier solves
    ``Σ_k (c z_k/(c + d_k))² = S ε`` for ``G_w = V diag(d) Vᵀ``, ``z = Vᵀ W^{1/2} y``,
    and ``f_t(x) = k(x, X) W^{1/2} V diag(g_t) z / S`` (``kernel_sd._weights``).
    The ``trace_`` of a weighted fit is that of this problem: its ``train_pred``
    is ``W'^{1/2} f_t(X)`` over the rows of positive weight, ``w' = K w / S``.

    Args:
        kernel: a name from ``kernel_sd.kernels.NAMES`` (``"rbf"``, ``"laplace"``,
            ``"matern32"``, ...; see ``kernels.from_name``) or a ``kernel_sd`` kernel.
        lengthscale: ``ℓ`` for named kernels that have one.
        eps: constraint level ε (constrained form), exclusive with ``lam``.
        lam: penalty (penalised form, ``KernelRidge(alpha=K·lam)`` per round);
            when both are None, ``lam = 1e-3``.
        rounds: number of rounds ``T >= 1`` (1 = ordinary kernel ridge).

    Attributes:
        dual_coef_: ``(rounds, n)`` or ``(rounds, n, q)`` coefficients with
            ``f_t(x) = k(x, X_fit) dual_coef_[t]`` (scikit-learn's convention).
        trace_: the :class:`kernel_sd.DistillTrace` of the fit (computed on
            first access after a penalised fit).
        n_features_in_: number of input features.

    Examples:
        >>> import numpy as np
        >>> from kernel_sd.sklearn import SelfDistillationRegressor
        >>> X = np.linspace(0, 1, 30)[:, None]; y = np.sin(6 * X[:, 0])
        >>> model = SelfDistillationRegressor(lengthscale=0.2, lam=1e-4, rounds=3).fit(X, y)
        >>> model.predict(X[:2], round=0).shape
        (2,)
    """

    def fit(self, X, y, sample_weight=None):
        """Fit ``rounds`` rounds on ``X`` (n, p) and ``y`` (n,) or (n, q).

        ``sample_weight``: optional ``(n,)`` weights ``>= 0`` (see the class docstring).
        """
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
        )
        return self._fit_targets(X, y, sample_weight)

    def predict(self, X, round: int | None = None):
        """Predictions ``f_t(X)`` of round ``round`` (default: the last)."""
        return self._scores(X, round)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class SelfDistillationClassifier(ClassifierMixin, _SelfDistillationBase):
    """Self-distillation on one-hot targets with the ℓ2 loss; predicts the arg-max class.

    The [MFB20] setting for classification: each class indicator is a regression
    output, all outputs share one constraint ``(1/K) Σ ‖f(x_k) − y_k‖² <= ε``.
    Arguments are those of :class:`SelfDistillationRegressor`.

    Attributes:
        classes_: the class labels, in the column order of ``decision_function``.
        trace_: the :class:`kernel_sd.DistillTrace` of the fit (one column per class).
    """

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n, p) and class labels ``y`` (n,), optionally weighted.

        ``sample_weight`` weighs the squared errors of the one-hot targets as in
        :class:`SelfDistillationRegressor`.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self._binarizer = LabelBinarizer().fit(y)
        self.classes_ = self._binarizer.classes_
        Y = self._binarizer.transform(y).astype(np.float64)
        if Y.shape[1] == 1:  # LabelBinarizer gives one column for two classes
            Y = np.hstack([1.0 - Y, Y])
        return self._fit_targets(X, Y, sample_weight)

    def decision_function(self, X, round: int | None = None):
        """Class scores ``f_t(X)`` at round ``round`` (default: the last).

        Shape ``(m, n_classes)``; for two classes, scikit-learn's convention of one
        score per row, ``f_t(X)[:, 1] − f_t(X)[:, 0]`` (positive means ``classes_[1]``).
        """
        scores = self._scores(X, round)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X, round: int | None = None):
        """The class with the largest score at round ``round``."""
        scores = self.decision_function(X, round)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
