"""Cross-validated self-distillation estimators (public names in ``kernel_sd.sklearn``).

``SelfDistillationRegressorCV`` and ``SelfDistillationClassifierCV`` score every
(``eps`` or ``lam``, round) of a grid with ``kernel_sd.selection``: one Gram
matrix, one factorisation per fold (or the full-data factorisation alone for
``cv="gcv"``), every round and grid value a filter on it. They refit on all
data at the best grid value and predict with the best round by default.
"""

from __future__ import annotations

import numbers

import jax.numpy as jnp
import numpy as np
from sklearn.base import RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from kernel_sd import _validate
from kernel_sd._weights import kept_rows, scaled_sqrt, weighted_spectrum
from kernel_sd.distill import distill_from_spectrum
from kernel_sd.kernels import gram
from kernel_sd.selection._gcv import gcv_from_spectrum
from kernel_sd.selection._holdout import _splits, cv_from_gram
from kernel_sd.sklearn import SelfDistillationClassifier, _SelfDistillationBase

__all__ = ["SelfDistillationRegressorCV", "SelfDistillationClassifierCV", "LAM_GRID"]

LAM_GRID = tuple(10.0**k for k in range(-6, 1))
"""Penalties searched when neither ``eps`` nor ``lam`` is given: 1e-6 ... 1."""


class _CVSearch:
    """The search shared by the regressor and the classifier (mixed into both)."""

    def _search(self, X, Y, labels, sample_weight, groups, *, classifier, scoring):
        """Score the grid, choose the best (value, round), refit; set the attributes.

        ``Y`` is ``(n, q)``; ``labels`` the targets the splitter sees (``y``).
        """
        n = X.shape[0]
        w = _validate.sample_weight(sample_weight, n)
        rounds = _validate.positive_int("rounds", self.rounds)
        lam = LAM_GRID if self.eps is None and self.lam is None else self.lam
        constrained, eps, lam = _validate.penalty(self.eps, lam, batched=True)
        values = eps if constrained else lam
        kernel = self._kernel()
        cv = self.cv
        gcv = isinstance(cv, str)
        if gcv and cv != "gcv":
            raise ValueError(
                f"`cv` must be an int, a scikit-learn splitter, an iterable of "
                f"(train, validation) splits or 'gcv', got {cv!r}."
            )
        if gcv and scoring == "accuracy":
            raise ValueError(
                "cv='gcv' estimates the squared error of the one-hot targets, not the "
                "accuracy: use scoring='mse' with it, or an int / splitter `cv`."
            )
        keep = np.arange(n) if w is None else kept_rows(w)
        opts = dict(constrained=constrained, values=values, rounds=rounds)
        accuracy = None
        if gcv:
            X_all, Y_all, w_all = X[keep], Y[keep], None if w is None else w[keep]
            K_xx = gram(kernel, X_all)
            keep_all = np.arange(keep.size)
            res = gcv_from_spectrum(
                *self._weighted(K_xx, Y_all, w_all, keep_all), **opts
            )
            self.fold_mse_, self.n_splits_, self.df_ = None, None, np.asarray(res.df)
            self.fold_accuracy_ = None
            mse = np.asarray(res.score)
        else:
            if isinstance(cv, numbers.Integral) or hasattr(cv, "split"):
                # Split the rows that count: a zero weight is a removed row.
                X_all, Y_all = X[keep], Y[keep]
                w_all = None if w is None else w[keep]
                splitter = check_cv(cv, labels[keep], classifier=classifier)
                g = None if groups is None else np.asarray(groups)[keep]
                pairs = list(splitter.split(X_all, labels[keep], g))
            else:  # an iterable of splits indexes every row
                X_all, Y_all, w_all = X, Y, w
                pairs = list(check_cv(cv).split(X))
            pairs = _splits(pairs, X_all.shape[0])
            K_xx = gram(kernel, X_all)
            res = cv_from_gram(
                K_xx, Y_all, w_all, pairs, accuracy=classifier, **opts
            )
            self.fold_mse_ = np.asarray(res.mse)
            self.n_splits_, self.df_ = len(pairs), None
            mse = self.fold_mse_.mean(axis=0)
            if classifier:
                self.fold_accuracy_ = np.asarray(res.accuracy)
                accuracy = self.fold_accuracy_.mean(axis=0)
            keep_all = np.arange(X_all.shape[0]) if w_all is None else kept_rows(w_all)
        self.mse_ = mse
        if classifier:
            self.accuracy_ = accuracy
        e, t = self._best(mse, accuracy if scoring == "accuracy" else None, values)
        self.best_index_, self.best_round_ = int(e), int(t)
        self.best_eps_ = float(values[e]) if constrained else None
        self.best_lam_ = None if constrained else float(values[e])
        self.best_score_ = (
            float(accuracy[e, t]) if scoring == "accuracy" else -float(mse[e, t])
        )
        self.grid_ = np.asarray(values)
        # Refit on every row of positive weight, from the Gram matrix already built.
        spec, Y_fit = self._weighted(K_xx, Y_all, w_all, keep_all)
        if labels.ndim == 1 and not classifier:
            Y_fit = Y_fit[:, 0]  # 1-D targets give 1-D predictions
        self.kernel_ = kernel
        self.X_fit_ = X_all[keep_all]
        self._sqrt_w = None if w_all is None else scaled_sqrt(w_all[keep_all])
        best = {"eps": self.best_eps_} if constrained else {"lam": self.best_lam_}
        self.trace_ = distill_from_spectrum(spec, Y_fit, rounds=rounds, **best)
        return self

    @staticmethod
    def _weighted(K_xx, Y, w, keep):
        """Spectrum of (weighted) ``G`` on the rows ``keep`` and the matching targets."""
        K_xx = np.asarray(K_xx)[np.ix_(keep, keep)]
        if w is None:
            return weighted_spectrum(K_xx, None), jnp.asarray(Y[keep])
        sqrt_w = scaled_sqrt(w[keep])
        return weighted_spectrum(K_xx, sqrt_w), jnp.asarray(Y[keep] * sqrt_w[:, None])

    @staticmethod
    def _best(mse, accuracy, values):
        """``(e, t)`` of the lowest MSE, or of the best accuracy (ties: lowest MSE)."""
        if not np.isfinite(mse).any():
            raise ValueError(
                "Every grid value is infeasible on some fold (see the warning): "
                "search larger `eps` values, or use a smoother or wider kernel."
            )
        if accuracy is None:
            return np.unravel_index(int(np.argmin(mse)), mse.shape)
        # lexsort: last key first; row-major order breaks remaining ties
        order = np.lexsort((mse.ravel(), -accuracy.ravel()))
        return np.unravel_index(int(order[0]), mse.shape)


_COMMON_DOC = """
    Every round ``t < rounds`` at every grid value is a filter on one
    eigenbasis, so each fold costs one factorisation of its training block
    (``kernel_sd.selection.cross_validation_errors``) and ``cv="gcv"`` only the
    full-data one (``kernel_sd.selection.gcv``). The fit at the best point is
    refitted on all rows with ``rounds`` rounds, so ``predict(X, round=t)``
    gives any round; the default is ``best_round_``.

    A grid value that is infeasible on a fold (``eps`` below the targets' energy
    on the numerical null space of that fold's ``G``) scores ``+inf`` with one
    warning for the whole search; constrained rounds after the collapse predict
    0 and are scored like any other.

    ``cv="gcv"``: generalised cross-validation from the full-data factorisation,
    ``GCV_t = (1/N) ‖y − f_t(X)‖² / (1 − df_t/N)²`` with ``N = n q``. Penalised
    form: ``df_t = q tr(H_t)`` for the linear smoother
    ``H_t = V diag((d/(lam + d))^{t+1}) Vᵀ``. Constrained form: ``c_t`` depends
    on ``y``, so the fit is not a linear smoother; ``df_t`` is its divergence
    ``tr(∂f_t(X)/∂y)`` (which is ``q tr(H_t)`` for a linear smoother),
    computed exactly by differentiating the constraint through the rounds:
    it counts the freedom the fit gains from choosing ``c_t``, which
    ``tr(H_t)`` at the fitted ``c_t`` misses. ``mse_`` then holds the GCV scores.

    Sample weights: each training set is fitted in the weighted form of
    :class:`SelfDistillationRegressor` and the validation error is weighted,
    ``Σ_i w_i Σ_j (f(x_i)_j − y_ij)² / (q Σ_i w_i)`` over the held-out rows. For
    an int or splitter ``cv`` the rows of weight 0 are removed before splitting
    (a zero weight is a removed row); an iterable of splits indexes all rows,
    and rows of weight 0 then count in neither training nor validation. For
    ``cv="gcv"`` the GCV is that of the weighted problem (``n`` rows of positive
    weight). Integer weights are not repeated rows here: repeats change the folds.
"""

_ARGS_DOC = """
        kernel: a name from ``kernel_sd.kernels.NAMES`` or a ``kernel_sd`` kernel.
        lengthscale: ``ℓ`` for named kernels that have one.
        eps: grid of constraint levels ε (constrained form); exclusive with ``lam``.
        lam: grid of penalties (penalised form); when both are None,
            ``lam = LAM_GRID`` (1e-6, 1e-5, ..., 1).
        rounds: number of rounds ``T`` searched (``t = 0 .. T − 1``).
        cv: an int (``KFold``, or ``StratifiedKFold`` for the classifier, as
            ``GridSearchCV`` uses), a scikit-learn splitter, an iterable of
            ``(train, validation)`` index arrays, or ``"gcv"``.
"""

_ATTRS_DOC = """
        mse_: ``(E, T)`` mean over folds of the validation MSE of round ``t`` at
            grid value ``e`` (GCV scores for ``cv="gcv"``); ``+inf`` where infeasible.
        fold_mse_: ``(F, E, T)`` the same per fold; None for ``cv="gcv"``.
        df_: ``(E, T)`` degrees of freedom for ``cv="gcv"``; None otherwise.
        grid_: ``(E,)`` the grid values searched.
        best_index_, best_round_: grid index and round of the best point.
        best_eps_, best_lam_: the best grid value (the other one is None).
        n_splits_: number of folds (None for ``cv="gcv"``).
        trace_: the :class:`kernel_sd.DistillTrace` of the refit at the best value.
"""


class SelfDistillationRegressorCV(_CVSearch, RegressorMixin, _SelfDistillationBase):
    __doc__ = (
        """Self-distillation with ``eps`` (or ``lam``) and the round chosen by cross-validation.

    ``mse_[e, t]`` is the validation MSE of round ``t`` at grid value ``e``, as
    ``GridSearchCV(SelfDistillationRegressor(), {"eps": grid, "rounds": 1..T})``
    would score it with ``neg_mean_squared_error`` (the last round of each fit)
    over the same folds, at the cost of one factorisation per fold.
"""
        + _COMMON_DOC
        + """
    Args:"""
        + _ARGS_DOC
        + """
    Attributes:"""
        + _ATTRS_DOC
        + """        best_score_: ``−mse_`` at the best point (higher is better, as
            scikit-learn's ``RidgeCV``).

    Examples:
        >>> import numpy as np
        >>> from kernel_sd.sklearn import SelfDistillationRegressorCV
        >>> X = np.linspace(0, 1, 40)[:, None]; y = np.sin(6 * X[:, 0])
        >>> model = SelfDistillationRegressorCV(lengthscale=0.2, lam=[1e-4, 1e-2],
        ...                                     rounds=3, cv=4).fit(X, y)
        >>> model.mse_.shape, model.predict(X[:2]).shape
        ((2, 3), (2,))
    """
    )

    def __init__(
        self,
        kernel="rbf",
        *,
        lengthscale: float = 1.0,
        eps=None,
        lam=None,
        rounds: int = 10,
        cv=5,
    ):
        super().__init__(
            kernel, lengthscale=lengthscale, eps=eps, lam=lam, rounds=rounds
        )
        self.cv = cv

    def fit(self, X, y, sample_weight=None, groups=None):
        """Search the grid on ``X`` (n, p), ``y`` (n,) or (n, q), then refit at the best point.

        ``sample_weight``: optional ``(n,)`` weights ``>= 0``; ``groups``: group
        labels for group splitters (e.g. ``GroupKFold``).
        """
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
        )
        Y = y[:, None] if y.ndim == 1 else y
        return self._search(
            X, Y, y, sample_weight, groups, classifier=False, scoring="mse"
        )

    def predict(self, X, round: int | None = None):
        """Predictions ``f_t(X)`` of round ``round`` (default: ``best_round_``)."""
        check_is_fitted(self, "trace_")
        return self._scores(X, self.best_round_ if round is None else round)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class SelfDistillationClassifierCV(_CVSearch, SelfDistillationClassifier):
    __doc__ = (
        """One-hot ℓ2 self-distillation with ``eps`` (or ``lam``) and the round chosen by CV.

    The model is :class:`SelfDistillationClassifier`'s: each class indicator is
    a regression output (two columns for two classes), all outputs share one
    constraint, the prediction is the arg-max. ``scoring`` chooses what is
    maximised over the grid: ``"accuracy"`` (default, the mean over folds of
    the validation accuracy, as ``GridSearchCV`` scores a classifier; ties go to
    the lower MSE) or ``"mse"`` (the squared error of the one-hot targets, mean
    over columns, which ``cv="gcv"`` requires). Both are recorded.
"""
        + _COMMON_DOC
        + """
    Args:"""
        + _ARGS_DOC
        + """        scoring: ``"accuracy"`` or ``"mse"``.

    Attributes:"""
        + _ATTRS_DOC
        + """        accuracy_: ``(E, T)`` mean validation accuracy (None for ``cv="gcv"``);
            ``−inf`` where infeasible.
        fold_accuracy_: ``(F, E, T)`` the same per fold.
        best_score_: the accuracy at the best point, or ``−mse_`` there for
            ``scoring="mse"`` (higher is better).
        classes_: the class labels, in the column order of ``decision_function``.
    """
    )

    def __init__(
        self,
        kernel="rbf",
        *,
        lengthscale: float = 1.0,
        eps=None,
        lam=None,
        rounds: int = 10,
        cv=5,
        scoring: str = "accuracy",
    ):
        super().__init__(
            kernel, lengthscale=lengthscale, eps=eps, lam=lam, rounds=rounds
        )
        self.cv = cv
        self.scoring = scoring

    def fit(self, X, y, sample_weight=None, groups=None):
        """Search the grid on ``X`` (n, p) and class labels ``y`` (n,), then refit."""
        scoring = _validate.choice("scoring", self.scoring, ("accuracy", "mse"))
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self._binarizer = LabelBinarizer().fit(y)
        self.classes_ = self._binarizer.classes_
        Y = self._binarizer.transform(y).astype(np.float64)
        if Y.shape[1] == 1:  # LabelBinarizer gives one column for two classes
            Y = np.hstack([1.0 - Y, Y])
        return self._search(
            X, Y, y, sample_weight, groups, classifier=True, scoring=scoring
        )

    def decision_function(self, X, round: int | None = None):
        """Class scores at round ``round`` (default: ``best_round_``)."""
        check_is_fitted(self, "trace_")
        return super().decision_function(
            X, self.best_round_ if round is None else round
        )

    def predict(self, X, round: int | None = None):
        """The class with the largest score at round ``round`` (default: ``best_round_``)."""
        check_is_fitted(self, "trace_")
        return super().predict(X, self.best_round_ if round is None else round)
