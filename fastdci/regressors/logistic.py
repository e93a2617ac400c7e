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

__all__ = ["MultinomialLogistic"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class MultinomialLogistic(BatchedClassifier):
    """L2-penalised multinomial logistic regression, one per factor, all fitted together.

    Every factor column of ``Y`` gets its own softmax over its classes; the inputs are shared,
    so all factors' logits come from one matrix product and one pass over the rows per
    iteration. Each factor runs its own L-BFGS (own history, own step length, own stopping
    test), so a well-conditioned factor stops early and never waits for a hard one.

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
        Most L-BFGS iterations per factor.
    history : int, default 10
        L-BFGS memory (pairs kept).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the fit. float32 is faster (and the natural choice on a GPU) but cannot
        reach ``tol`` below about 1e-5.
    chunk_rows : int, default 262144
        Rows per block when evaluating the loss (bounds memory at ``chunk_rows * n_classes``).
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
        L-BFGS iterations per factor on all rows (after any warm-start stages).
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

    References
    ----------
    Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4 (L-BFGS two-loop
    recursion) and 3.1 (backtracking).

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
        history: int = 10,
        dtype: str = "float64",
        chunk_rows: int = 262144,
        warm_start_rows: int | None = None,
        device: str = "auto",
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
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
        if self.dtype not in _DTYPES:
            raise InvalidInputError(f"dtype must be 'float64' or 'float32'; got {self.dtype!r}.")
        if self.warm_start_rows is not None and not (
            isinstance(self.warm_start_rows, (int, np.integer)) and self.warm_start_rows >= 1
        ):
            raise InvalidInputError(
                f"warm_start_rows must be a positive integer or None; got {self.warm_start_rows!r}."
            )
        if not (isinstance(self.chunk_rows, (int, np.integer)) and self.chunk_rows >= 1):
            raise InvalidInputError(f"chunk_rows must be a positive integer; got {self.chunk_rows!r}.")

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

        theta, n_iter, converged = _fit_lbfgs(
            X1,
            codes_t,
            enc.n_classes,
            C=float(self.C),
            fit_intercept=bool(self.fit_intercept),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            history=int(self.history),
            chunk=int(self.chunk_rows),
            warm_rows=self.warm_start_rows,
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
        return self

    # ------------------------------------------------------------------ predict
    def _proba_torch(self, Xt: torch.Tensor) -> list[torch.Tensor]:
        Xs = self._scaler.transform(Xt, self._dtype)
        outs: list[list[torch.Tensor]] = [[] for _ in self._theta]
        L = self.n_features_in_
        for start in range(0, Xs.shape[0], int(self.chunk_rows)):
            xb = Xs[start : start + int(self.chunk_rows)]
            for k, th in enumerate(self._theta):
                z = xb @ th[:L]
                if self.fit_intercept:
                    z = z + th[L]
                outs[k].append(torch.softmax(z, dim=1))
        return [torch.cat(o, dim=0) for o in outs]


# ---------------------------------------------------------------------- the solver


def _fit_lbfgs(
    X1: torch.Tensor,
    codes: torch.Tensor,
    n_classes: tuple[int, ...],
    *,
    C: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
    history: int,
    chunk: int,
    warm_rows: int | None,
):
    """Fit on nested row subsets first (each 8x larger), then on all rows.

    A subset's mean loss estimates the full mean loss, so its optimum (same penalty) is a
    close starting point, and its L-BFGS pairs are a fair curvature estimate to start from;
    the last stage always runs on every row, to ``tol``, so the answer is the full-data fit.
    """
    N = X1.shape[0]
    sizes = [N]
    if warm_rows:
        while sizes[0] >= 8 * warm_rows:
            sizes.insert(0, sizes[0] // 8)
    theta = None
    mem = None
    if len(sizes) > 1:
        gen = torch.Generator(device="cpu").manual_seed(0)
        perm = torch.randperm(N, generator=gen).to(X1.device)
    for n in sizes:
        if n < N:
            idx = perm[:n]
            Xn, cn = X1[idx], codes[idx]
        else:
            Xn, cn = X1, codes
        stage_tol = tol if n == N else max(tol, 1e-5)
        theta, n_iter, converged, mem = _lbfgs_stage(
            Xn, cn, n_classes, n_full=N, C=C, fit_intercept=fit_intercept, tol=stage_tol,
            max_iter=max_iter, history=history, chunk=chunk, theta0=theta, mem=mem,
        )
    return [t.to(X1.dtype) for t in theta], n_iter, converged


def _lbfgs_stage(
    X1: torch.Tensor,
    codes: torch.Tensor,
    n_classes: tuple[int, ...],
    *,
    n_full: int,
    C: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
    history: int,
    chunk: int,
    theta0=None,
    mem=None,
):
    """Per-factor L-BFGS with per-factor backtracking, all factors evaluated in one pass.

    Each factor is a small state machine: every batched evaluation returns its objective and
    gradient at its current trial point; the factor then accepts (Armijo) and proposes the next
    L-BFGS step, or backtracks. Returns the parameters (list of (P, C_k) float64 tensors, the
    last row the intercept when fitted), the iteration counts, the convergence flags and the
    L-BFGS memory.
    """
    N, P = X1.shape
    K = len(n_classes)
    dtype, device = X1.dtype, X1.device
    L = P - 1 if fit_intercept else P
    # penalty per factor on the scaled objective; binary factors use sklearn's binomial form
    lam = [(2.0 if c == 2 else 1.0) / (C * n_full) for c in n_classes]
    pen_mask = torch.ones((P, 1), dtype=dtype, device=device)
    if fit_intercept:
        pen_mask[L] = 0.0

    # class sums of the inputs: sum_i x_i [y_i = c], constant over iterations
    S = []
    for k, c in enumerate(n_classes):
        s = torch.zeros((c, P), dtype=torch.float64, device=device)
        s.index_add_(0, codes[:, k], X1.to(torch.float64))
        S.append(s.T.contiguous().to(dtype))  # (P, C_k)

    def evaluate(thetas: list[torch.Tensor], ks: list[int]):
        """Objective and gradient of factors ``ks`` at ``thetas`` (scaled objective)."""
        lse_sum = [torch.zeros((), dtype=torch.float64, device=device) for _ in ks]
        G = [torch.zeros(t.shape, dtype=torch.float64, device=device) for t in thetas]
        for start in range(0, N, chunk):
            xb = X1[start : start + chunk]
            for j, th in enumerate(thetas):
                z = xb @ th  # (n, C_k), contiguous
                m = z.amax(dim=1, keepdim=True)
                z.sub_(m).exp_()
                tot = z.sum(dim=1, keepdim=True)
                lse_sum[j] += (m + torch.log(tot)).sum(dtype=torch.float64)
                z.div_(tot)
                G[j] += (xb.T @ z).to(torch.float64)
        fs, gs = [], []
        for j, k in enumerate(ks):
            th = thetas[j].to(torch.float64)
            Sk = S[k].to(torch.float64)
            reg = pen_mask.to(torch.float64) * th
            f = (lse_sum[j] - (Sk * th).sum()) / N + 0.5 * lam[k] * (reg * th).sum()
            g = (G[j] - Sk) / N + lam[k] * reg
            fs.append(float(f))
            gs.append(g)
        return fs, gs

    if theta0 is None:
        theta = [torch.zeros((P, c), dtype=torch.float64, device=device) for c in n_classes]
    else:
        theta = [t.clone() for t in theta0]
    fs, gs = evaluate([t.to(dtype) for t in theta], list(range(K)))
    f = list(fs)
    g = list(gs)
    if mem is None:
        mem_s: list[list[torch.Tensor]] = [[] for _ in range(K)]
        mem_y: list[list[torch.Tensor]] = [[] for _ in range(K)]
    else:
        mem_s, mem_y = mem
    n_iter = [0] * K
    converged = [float(gk.abs().max()) <= tol for gk in g]
    direction: list[torch.Tensor | None] = [None] * K
    step = [1.0] * K
    gd = [0.0] * K
    n_back = [0] * K
    active = [k for k in range(K) if not converged[k]]

    def new_direction(k: int) -> None:
        q = -g[k].clone()
        alphas = []
        for s, y in zip(reversed(mem_s[k]), reversed(mem_y[k])):
            rho = 1.0 / float((y * s).sum())
            a = rho * float((s * q).sum())
            alphas.append((a, rho))
            q -= a * y
        if mem_s[k]:
            s, y = mem_s[k][-1], mem_y[k][-1]
            q *= float((s * y).sum()) / float((y * y).sum())
            first = 1.0
        else:
            # first step: a gradient step of unit length in the max norm at most
            first = min(1.0, 1.0 / max(float(q.abs().max()), 1e-300))
        for (a, rho), s, y in zip(reversed(alphas), mem_s[k], mem_y[k]):
            b = rho * float((y * q).sum())
            q += (a - b) * s
        dd = float((q * g[k]).sum())
        if not dd < 0:  # not a descent direction: restart from the gradient
            mem_s[k].clear()
            mem_y[k].clear()
            q = -g[k].clone()
            first = min(1.0, 1.0 / max(float(q.abs().max()), 1e-300))
            dd = float((q * g[k]).sum())
        direction[k] = q
        step[k] = first
        gd[k] = dd
        n_back[k] = 0

    for k in active:
        new_direction(k)

    c1 = 1e-4
    ftol = 64 * np.finfo(np.float64).eps
    while active:
        trial = [(theta[k] + step[k] * direction[k]).to(dtype) for k in active]
        fs, gs = evaluate(trial, active)
        still = []
        for j, k in enumerate(active):
            fn, gn = fs[j], gs[j]
            if np.isfinite(fn) and fn <= f[k] + c1 * step[k] * gd[k]:
                s = step[k] * direction[k]
                y = gn - g[k]
                sy = float((s * y).sum())
                f_old = f[k]
                theta[k] = theta[k] + s
                f[k], g[k] = fn, gn
                n_iter[k] += 1
                if sy > 1e-12 * float((y * y).sum()) ** 0.5 * float((s * s).sum()) ** 0.5:
                    mem_s[k].append(s)
                    mem_y[k].append(y)
                    if len(mem_s[k]) > history:
                        mem_s[k].pop(0)
                        mem_y[k].pop(0)
                gmax = float(gn.abs().max())
                if gmax <= tol:
                    converged[k] = True
                    continue
                if (f_old - fn) <= ftol * max(abs(f_old), abs(fn), 1.0):
                    converged[k] = True  # no relative progress left at float64 (scipy's factr)
                    continue
                if n_iter[k] >= max_iter:
                    continue
                new_direction(k)
                still.append(k)
            else:
                n_back[k] += 1
                if n_back[k] > 40:  # no decrease possible at this precision
                    continue
                # safeguarded quadratic interpolation of the step
                denom = 2.0 * (fn - f[k] - step[k] * gd[k]) if np.isfinite(fn) else np.inf
                t_new = -gd[k] * step[k] ** 2 / denom if denom > 0 else 0.5 * step[k]
                step[k] = float(min(max(t_new, 0.1 * step[k]), 0.5 * step[k]))
                still.append(k)
        active = still

    return theta, n_iter, converged, (mem_s, mem_y)
