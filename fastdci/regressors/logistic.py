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
    iteration. Each factor runs its own optimiser (own direction, own step length, own stopping
    test), so a well-conditioned factor stops early and never waits for a hard one.

    Two optimisers, chosen per factor (``solver="auto"``): L-BFGS, and a Newton method whose
    Hessian comes from a fixed random subset of ``hessian_rows`` rows (all rows when there are
    fewer) while the objective and gradient always use every row. The subset Hessian costs
    ``hessian_rows x (n_classes x P)^2`` per iteration whatever the row count, and Newton needs
    about 10 iterations where L-BFGS needs 40-170, so it pays on many rows; "auto" picks it for a
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
        Precision of the fit. float32 is faster (and the natural choice on a GPU) but cannot
        reach ``tol`` below about 1e-5.
    chunk_rows : int or None, default None
        Rows per block when evaluating the loss (bounds memory at ``chunk_rows * n_classes``).
        ``None``: 16,384 on the CPU, where blocks that stay in the caches are twice as fast as
        large ones, and 262,144 on CUDA, where each block costs kernel launches.
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

        theta, n_iter, converged, solvers = _fit(
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


# ---------------------------------------------------------------------- the solver

# "auto" picks Newton for a factor when N > min(N, hessian_rows) * C * P / _NEWTON_BREAK_EVEN.
# Per iteration Newton costs one pass over all rows plus the subset Hessian, which per row
# costs about C * P / 20 passes (a GEMM); it needs about 10 iterations where L-BFGS needs
# 120-170 at tol 1e-6 on dSprites-like codes. benchmarks/test_30_predictors.py, group
# "logistic-solver" (10 latents, factors of 3-40 classes): at 10,000 rows L-BFGS is faster for
# the 32- and 40-class factors, from about 46,000 rows Newton is faster for all of them.
_NEWTON_BREAK_EVEN = 200.0
_NEWTON_MAX_PARAMS = 2048


def _choose_solvers(solver: str, n_rows: int, n_params_row: int, n_classes, hessian_rows: int):
    if solver != "auto":
        return [solver] * len(n_classes)
    m = min(n_rows, hessian_rows)
    out = []
    for c in n_classes:
        cp = c * n_params_row
        newton = cp <= _NEWTON_MAX_PARAMS and n_rows * _NEWTON_BREAK_EVEN > m * cp
        out.append("newton" if newton else "lbfgs")
    return out


def _fit(
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
    solver: str,
    hessian_rows: int,
):
    """Fit on nested row subsets first (each 8x larger), then on all rows.

    A subset's mean loss estimates the full mean loss, so its optimum (same penalty) is a
    close starting point, and its L-BFGS pairs are a fair curvature estimate to start from;
    the last stage always runs on every row, to ``tol``, so the answer is the full-data fit.
    """
    N, P = X1.shape
    solvers = _choose_solvers(solver, N, P, n_classes, hessian_rows)
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
        theta, n_iter, converged, mem = _solve_stage(
            Xn, cn, n_classes, n_full=N, C=C, fit_intercept=fit_intercept, tol=stage_tol,
            max_iter=max_iter, history=history, chunk=chunk, theta0=theta, mem=mem,
            solvers=solvers, hessian_rows=hessian_rows,
        )
    return [t.to(X1.dtype) for t in theta], n_iter, converged, solvers


class _SubsetHessian:
    """Hessians of the mean cross-entropy on a fixed random subset of rows, in float64.

    For one factor with C classes and P inputs (intercept included), the Hessian of the mean
    cross-entropy is ``mean_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T``, a (P*C, P*C) matrix in the
    (input, class) order of the flattened parameters: ``X^T diag(p_c) X`` on the class
    diagonal minus the Gram matrix of the rows ``x_i (x) p_i``. Formed in float64: in float32
    the two terms cancel to noise where the probabilities saturate.
    """

    def __init__(self, X1: torch.Tensor, rows: int):
        N = X1.shape[0]
        if N > rows:
            gen = torch.Generator(device="cpu").manual_seed(12345)
            idx = torch.randperm(N, generator=gen)[:rows].to(X1.device)
            self.X = X1[idx].to(torch.float64)
        else:
            self.X = X1.to(torch.float64)

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        X = self.X
        m, P = X.shape
        C = theta.shape[1]
        p = torch.softmax(X @ theta, dim=1)
        B = (X[:, :, None] * p[:, None, :]).reshape(m, P * C)
        H = B.T @ B
        H.neg_()
        M = (X.T @ B).reshape(P, P, C)  # [q, p, c] = sum_i x_iq x_ip p_ic
        diag = torch.arange(C, device=X.device)
        Hv = H.view(P, C, P, C)
        Hv[:, diag, :, diag] += M.permute(2, 1, 0)
        H /= m
        return H


def _newton_direction(H: torch.Tensor, g: torch.Tensor, lam: float, pen_mask: torch.Tensor,
                      fit_intercept: bool) -> torch.Tensor | None:
    """Solve ``(H + lam * penalty) d = -g``, overwriting ``H``; None when the system cannot
    be factorised.

    The softmax is unchanged by adding one constant to every class's intercept and the
    intercept is not penalised, so that direction has zero curvature; the gradient has no
    component along it, and adding its projector to the matrix (a Hessian-free direction)
    makes the system definite without changing the solution.
    """
    P, C = g.shape
    diag = H.diagonal()
    diag.add_((lam * pen_mask.to(torch.float64)).expand(P, C).reshape(-1))
    scale = float(diag.abs().max())
    if fit_intercept:  # + scale * v v^T with v = 1/sqrt(C) on every class's intercept
        H.view(P, C, P, C)[P - 1, :, P - 1, :] += scale / C
    rhs = -g.reshape(-1, 1)
    added = 0.0
    for jitter in (0.0, 1e-12, 1e-9, 1e-6):
        if jitter:
            diag.add_((jitter - added) * scale)
            added = jitter
        Lc, info = torch.linalg.cholesky_ex(H)
        if int(info) == 0:
            d = torch.cholesky_solve(rhs, Lc).reshape(P, C)
            if fit_intercept:
                d[P - 1] -= d[P - 1].mean()
            if bool(torch.isfinite(d).all()):
                return d
    return None


def _solve_stage(
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
    solvers=None,
    hessian_rows: int = 16384,
):
    """Per-factor Newton or L-BFGS with per-factor backtracking, all factors evaluated in one pass.

    Each factor is a small state machine: every batched evaluation returns its objective and
    gradient at its current trial point; the factor then accepts (Armijo) and proposes the next
    step (Newton on a subset Hessian, or L-BFGS), or backtracks. Returns the parameters (list of
    (P, C_k) float64 tensors, the last row the intercept when fitted), the iteration counts, the
    convergence flags and the L-BFGS memory.
    """
    N, P = X1.shape
    K = len(n_classes)
    dtype, device = X1.dtype, X1.device
    L = P - 1 if fit_intercept else P
    if solvers is None:
        solvers = ["lbfgs"] * K
    # penalty per factor on the scaled objective; binary factors use sklearn's binomial form
    lam = [(2.0 if c == 2 else 1.0) / (C * n_full) for c in n_classes]
    pen_mask = torch.ones((P, 1), dtype=dtype, device=device)
    if fit_intercept:
        pen_mask[L] = 0.0
    pen64 = pen_mask.to(torch.float64)

    def evaluate(thetas: list[torch.Tensor], ks: list[int]):
        """Objective and gradient of factors ``ks`` at ``thetas`` (scaled objective).

        Per row, the cross-entropy is ``log(sum exp(z - max)) + (max - z_true)`` and the
        gradient contribution ``x (softmax - onehot)``: no difference of large totals.
        """
        ce_sum = [torch.zeros((), dtype=torch.float64, device=device) for _ in ks]
        G = [torch.zeros(t.shape, dtype=torch.float64, device=device) for t in thetas]
        for start in range(0, N, chunk):
            xb = X1[start : start + chunk]
            cb = codes[start : start + chunk]
            for j, (th, k) in enumerate(zip(thetas, ks)):
                z = xb @ th  # (n, C_k), contiguous
                yk = cb[:, k : k + 1]
                m = z.amax(dim=1, keepdim=True)
                zy = z.gather(1, yk)
                z.sub_(m).exp_()
                tot = z.sum(dim=1, keepdim=True)
                ce_sum[j] += (torch.log(tot) + (m - zy)).sum(dtype=torch.float64)
                z.div_(tot)
                z.scatter_add_(1, yk, torch.full_like(zy, -1.0))
                G[j] += (xb.T @ z).to(torch.float64)
        fs, gs = [], []
        for j, k in enumerate(ks):
            th = thetas[j].to(torch.float64)
            reg = pen64 * th
            f = ce_sum[j] / N + 0.5 * lam[k] * (reg * th).sum()
            g = G[j] / N + lam[k] * reg
            fs.append(float(f))
            gs.append(g)
        return fs, gs

    hessian = _SubsetHessian(X1, hessian_rows) if "newton" in solvers else None

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

    def lbfgs_direction(k: int) -> tuple[torch.Tensor, float]:
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
        return q, first

    def new_direction(k: int) -> None:
        q = None
        first = 1.0
        if solvers[k] == "newton":
            q = _newton_direction(hessian(theta[k]), g[k], lam[k], pen64, fit_intercept)
        if q is None:
            q, first = lbfgs_direction(k)
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
