"""Multinomial logistic regression for every factor at once, in torch (CPU or CUDA)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..backend import to_numpy
from ..errors import InvalidInputError
from ._base import (
    BatchedClassifier,
    Standardizer,
    check_device,
    check_XY,
    encode_classes,
    to_device_tensor,
)
from ._logistic_solvers import solve

__all__ = ["MultinomialLogistic"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class MultinomialLogistic(BatchedClassifier):
    """L2-penalised multinomial logistic regression, one per factor, all fitted together.

    Every factor column of ``Y`` gets its own softmax over its classes; the inputs are shared,
    so all factors' logits come from one matrix product and one pass over the rows per
    iteration. Each factor runs its own optimiser (own direction, own step length, own stopping
    test), so a well-conditioned factor stops early and never waits for a hard one.

    Two optimisers, chosen per factor (``solver="auto"``): L-BFGS, and a Newton method whose
    Hessian comes from a fixed random subset of ``hessian_rows`` rows (all rows when there are
    fewer) while the objective and gradient always use every row. The subset Hessian costs
    ``hessian_rows x (n_classes x P)^2`` per iteration whatever the row count, and Newton needs
    far fewer iterations than L-BFGS, so it pays on many rows; "auto" picks it for a
    factor when its estimated cost is lower (``N > min(N, hessian_rows) * n_classes * P / 200``
    with ``P`` the inputs plus intercept, and ``n_classes * P <= 2048``: with fewer rows than
    ``hessian_rows`` that is exact Newton for small models only). Both stop by the same test
    at the same optimum.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength, as in scikit-learn.
    fit_intercept : bool, default True
        Fit an unpenalised intercept per class.
    standardize : bool, default True
        Fit on inputs scaled to zero mean and unit (population) variance; constant columns
        keep scale 1. The penalty then acts on the standardised weights.
    tol : float, default 1e-6
        Stop a factor when the largest absolute gradient entry of its scaled objective
        (below) is at most ``tol``. scikit-learn's default is 1e-4.
    max_iter : int, default 1000
        Most iterations per factor.
    solver : {"auto", "newton", "lbfgs"}, default "auto"
        The optimiser per factor (see above); "newton" and "lbfgs" force one for all factors.
        A forced "newton" ignores the size cap: its Hessian takes ``(n_classes * P)**2``
        float64 values and its products ``hessian_rows * n_classes * P`` more.
    hessian_rows : int, default 16384
        Rows of the fixed random subset (seeded) on which the Newton solver forms its Hessian.
    history : int, default 10
        L-BFGS memory (pairs kept).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the fit. float32 cannot reach ``tol`` below about 1e-5; it is the
        natural choice on a GPU. On the CPU the float64 fit evaluates the loss with fused
        Numba kernels (float32 with torch's operations), so float64 is the faster there.
    chunk_rows : int or None, default None
        Rows per block when evaluating the loss with torch's operations (bounds memory at
        ``chunk_rows * n_classes``; the CPU's float64 kernel for a factor of 16 classes or
        more takes its own blocks of rows).
        ``None``: 16,384 on the CPU, so that a block stays in the caches, and 262,144 on CUDA,
        where each block costs kernel launches.
    warm_start_rows : int or None, default None
        With at least 8x this many rows, first fit on nested random row subsets (each 8x
        larger, the smallest at least this size, with the full data's penalty), then on all
        rows from there. The final stage runs on every row to ``tol``, so this changes the
        path, not the answer; ``None`` fits on all rows from zero.
    device : {"auto", "cpu", "cuda"}, default "auto"

    Attributes
    ----------
    classes_ : list of K int64 arrays
        Sorted class labels of each factor.
    coef_ : list of K float64 arrays (n_classes_k, L)
        Weights on the *original* input scale: logits are ``X @ coef_[k].T + intercept_[k]``.
    intercept_ : list of K float64 arrays (n_classes_k,)
        Intercepts (summing to zero over classes).
    feature_importances_ : float64 array (L, K)
        ``sum_c |w_c|`` over factor k's classes, with ``w`` the weights on standardised inputs.
    n_iter_ : int64 array (K,)
        Iterations per factor on all rows (after any warm-start stages).
    solver_ : list of K str
        The optimiser each factor used ("newton" or "lbfgs").
    converged_ : bool array (K,)
        Whether each factor met ``tol`` (or stopped decreasing its objective at float64
        precision, scipy's ``factr`` test) within ``max_iter``.

    Notes
    -----
    Factor k minimises scikit-learn's objective for
    ``LogisticRegression(C=C)`` (lbfgs, multinomial):

    .. math:: C \\sum_i -\\log p_{i, y_i} + \\tfrac12 \\lVert W_k \\rVert_F^2,

    with :math:`p_i = \\mathrm{softmax}(W_k x_i + b_k)` and the intercept unpenalised. It is
    evaluated in scikit-learn's scaled form (divided by :math:`C N`), to which ``tol``
    applies. A factor with two classes uses scikit-learn's binary (logistic) objective
    instead: its two weight rows are ``-w/2`` and ``w/2`` with ``w`` scikit-learn's
    ``coef_[0]``. Because all row sums of the softmax gradient vanish, the weights of a
    multi-class factor sum to zero over classes, as scikit-learn's do.

    The cross-entropy is summed per row as ``log-sum-exp - true logit`` and the gradient as
    ``X^T (softmax - onehot)``, so neither is a difference of two large sums: near-separable
    factors (objective near zero) keep full precision.

    References
    ----------
    Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4 (L-BFGS two-loop
    recursion) and 3.1 (backtracking). Byrd, Chin, Neveitt & Nocedal (2011), "On the use of
    stochastic Hessian information in optimization methods for machine learning", SIAM J.
    Optim. 21(3) (Newton steps from a subsampled Hessian with full gradients).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.regressors import MultinomialLogistic
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = np.stack([(X[:, 0] > 0).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])], axis=1)
    >>> model = MultinomialLogistic(device="cpu").fit(X, Y)
    >>> model.feature_importances_.shape
    (3, 2)
    >>> bool((model.score(X, Y) > 0.8).all())
    True
    """

    def __init__(
        self,
        C: float = 1.0,
        fit_intercept: bool = True,
        standardize: bool = True,
        tol: float = 1e-6,
        max_iter: int = 1000,
        solver: str = "auto",
        hessian_rows: int = 16384,
        history: int = 10,
        dtype: str = "float64",
        chunk_rows: int | None = None,
        warm_start_rows: int | None = None,
        device: str = "auto",
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.hessian_rows = hessian_rows
        self.history = history
        self.dtype = dtype
        self.chunk_rows = chunk_rows
        self.warm_start_rows = warm_start_rows
        self.device = device

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if not (isinstance(self.C, (int, float)) and self.C > 0 and np.isfinite(self.C)):
            raise InvalidInputError(f"C must be a positive finite number; got {self.C!r}.")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise InvalidInputError(f"tol must be a positive number; got {self.tol!r}.")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise InvalidInputError(f"max_iter must be a positive integer; got {self.max_iter!r}.")
        if not (isinstance(self.history, (int, np.integer)) and self.history >= 1):
            raise InvalidInputError(f"history must be a positive integer; got {self.history!r}.")
        if self.solver not in ("auto", "newton", "lbfgs"):
            raise InvalidInputError(
                f"solver must be 'auto', 'newton' or 'lbfgs'; got {self.solver!r}."
            )
        if not (isinstance(self.hessian_rows, (int, np.integer)) and self.hessian_rows >= 1):
            raise InvalidInputError(
                f"hessian_rows must be a positive integer; got {self.hessian_rows!r}."
            )
        if self.dtype not in _DTYPES:
            raise InvalidInputError(f"dtype must be 'float64' or 'float32'; got {self.dtype!r}.")
        if self.warm_start_rows is not None and not (
            isinstance(self.warm_start_rows, (int, np.integer)) and self.warm_start_rows >= 1
        ):
            raise InvalidInputError(
                f"warm_start_rows must be a positive integer or None; got {self.warm_start_rows!r}."
            )
        if self.chunk_rows is not None and not (
            isinstance(self.chunk_rows, (int, np.integer)) and self.chunk_rows >= 1
        ):
            raise InvalidInputError(
                f"chunk_rows must be a positive integer or None; got {self.chunk_rows!r}."
            )

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, Y: Any) -> "MultinomialLogistic":
        """Fit one multinomial model per factor column of ``Y``.

        Parameters
        ----------
        X : array (N, L) float
            Inputs (latents); numpy, torch or CuPy.
        Y : array (N, K) int, or (N,) for one factor
            Class labels per factor; each factor needs at least two classes.

        Returns
        -------
        self
        """
        self._check_params()
        X, Y = check_XY(X, Y, min_classes=2)
        device = check_device(self.device, X)
        dtype = _DTYPES[self.dtype]
        enc, codes = encode_classes(Y)
        Xt = to_device_tensor(X, device, torch.float64)
        scaler = Standardizer.fit(Xt, self.standardize)
        Xs = scaler.transform(Xt, dtype)
        del Xt
        N, L = Xs.shape
        ones = torch.ones((N, 1), dtype=dtype, device=device)
        X1 = torch.cat([Xs, ones], dim=1) if self.fit_intercept else Xs
        del Xs
        codes_t = torch.from_numpy(codes).to(device)

        theta, n_iter, converged, solvers = solve(
            X1,
            codes_t,
            enc.n_classes,
            C=float(self.C),
            fit_intercept=bool(self.fit_intercept),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            history=int(self.history),
            chunk=self._chunk(device),
            warm_rows=self.warm_start_rows,
            solver=self.solver,
            hessian_rows=int(self.hessian_rows),
        )

        self.classes_ = list(enc.classes)
        self.n_features_in_ = L
        self.device_ = device
        self._dtype = dtype
        self._scaler = scaler
        self._theta = theta  # list of (L(+1), n_classes_k) tensors in the fit dtype
        mean = to_numpy(scaler.mean)
        scale = to_numpy(scaler.scale)
        self.coef_, self.intercept_ = [], []
        importances = np.zeros((L, len(theta)), dtype=np.float64)
        for k, th in enumerate(theta):
            t = to_numpy(th).astype(np.float64)
            w_std = t[:L]  # (L, C_k) on standardised inputs
            b_std = t[L] if self.fit_intercept else np.zeros(t.shape[1])
            self.coef_.append((w_std / scale[:, None]).T.copy())
            self.intercept_.append(b_std - (mean / scale) @ w_std)
            importances[:, k] = np.abs(w_std).sum(axis=1)
        self.feature_importances_ = importances
        self.n_iter_ = np.asarray(n_iter, dtype=np.int64)
        self.converged_ = np.asarray(converged, dtype=bool)
        self.solver_ = list(solvers)
        return self

    def _chunk(self, device: torch.device) -> int:
        if self.chunk_rows is not None:
            return int(self.chunk_rows)
        return 16384 if device.type == "cpu" else 262144

    # ------------------------------------------------------------------ predict
    def _proba_torch(self, Xt: torch.Tensor) -> list[torch.Tensor]:
        Xs = self._scaler.transform(Xt, self._dtype)
        outs: list[list[torch.Tensor]] = [[] for _ in self._theta]
        L = self.n_features_in_
        chunk = self._chunk(Xs.device)
        for start in range(0, Xs.shape[0], chunk):
            xb = Xs[start : start + chunk]
            for k, th in enumerate(self._theta):
                z = xb @ th[:L]
                if self.fit_intercept:
                    z = z + th[L]
                outs[k].append(torch.softmax(z, dim=1))
        return [torch.cat(o, dim=0) for o in outs]
