"""The optimisers behind :class:`fastdci.regressors.MultinomialLogistic`: the batched objective
and gradient of every factor in one pass over the rows, per-factor L-BFGS and subset-Hessian
Newton steps with per-factor backtracking, the warm start on nested row subsets, and the rule
by which ``solver="auto"`` picks Newton or L-BFGS for each factor. Everything here works on
standardised inputs (with the intercept column appended when fitted) and class codes, and
returns the parameters on that scale; the estimator maps them back to the input scale.
"""

from __future__ import annotations

import numpy as np
import torch

from ..kernels.logistic_objective import logistic_objective
from ..kernels.softmax_residual import softmax_residual

__all__ = ["SubsetHessian", "choose_solvers", "newton_direction", "solve", "solve_stage"]

# "auto" picks Newton for a factor when N > min(N, hessian_rows) * C * P / NEWTON_BREAK_EVEN
# and C * P <= NEWTON_MAX_PARAMS. Per iteration Newton costs one pass over all rows plus the
# subset Hessian, a GEMM whose cost per subset row grows with C * P; it needs far fewer
# iterations than L-BFGS, so it pays once the rows outweigh the subset. The constant is the
# break-even of benchmarks/test_30_predictors.py, group "logistic-solver" (figures in
# benchmarks/results/predictors.md).
NEWTON_BREAK_EVEN = 200.0
NEWTON_MAX_PARAMS = 2048
# float64 on the CPU, a factor with at least this many classes is evaluated by one fused Numba
# kernel over all rows (scores, softmax and gradient per row); with fewer, its per-row loops are
# too short and torch's matrix products do better
FUSED_MIN_CLASSES = 16


def choose_solvers(solver: str, n_rows: int, n_params_row: int, n_classes, hessian_rows: int):
    """The optimiser of every factor: ``solver`` itself unless it is "auto", else "newton" where
    the rule above holds for the factor's ``n_classes`` and ``n_params_row`` (inputs plus
    intercept), "lbfgs" elsewhere."""
    if solver != "auto":
        return [solver] * len(n_classes)
    m = min(n_rows, hessian_rows)
    out = []
    for c in n_classes:
        cp = c * n_params_row
        newton = cp <= NEWTON_MAX_PARAMS and n_rows * NEWTON_BREAK_EVEN > m * cp
        out.append("newton" if newton else "lbfgs")
    return out


def solve(
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
    Returns the parameters of every factor (``(P, C_k)`` in the dtype of ``X1``), the iteration
    counts and convergence flags of the last stage, and the solver each factor used.
    """
    N, P = X1.shape
    solvers = choose_solvers(solver, N, P, n_classes, hessian_rows)
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
        theta, n_iter, converged, mem = solve_stage(
            Xn, cn, n_classes, n_full=N, C=C, fit_intercept=fit_intercept, tol=stage_tol,
            max_iter=max_iter, history=history, chunk=chunk, theta0=theta, mem=mem,
            solvers=solvers, hessian_rows=hessian_rows,
        )
    return [t.to(X1.dtype) for t in theta], n_iter, converged, solvers


class SubsetHessian:
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


def newton_direction(H: torch.Tensor, g: torch.Tensor, lam: float, pen_mask: torch.Tensor,
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


def solve_stage(
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

    # float64 on the CPU: Numba kernels, the whole objective and gradient of a factor with at
    # least FUSED_MIN_CLASSES classes, else the softmax between torch's matrix products
    fused = device.type == "cpu" and dtype == torch.float64
    if fused:
        codes = codes.to(torch.int64).contiguous()
        X_np, codes_np = X1.contiguous().numpy(), codes.numpy()

    def evaluate(thetas: list[torch.Tensor], ks: list[int]):
        """Objective and gradient of factors ``ks`` at ``thetas`` (scaled objective).

        Per row, the cross-entropy is ``log(sum exp(z - max)) + (max - z_true)`` and the
        gradient contribution ``x (softmax - onehot)``: no difference of large totals.
        """
        ce_sum = [torch.zeros((), dtype=torch.float64, device=device) for _ in ks]
        G = [torch.zeros(t.shape, dtype=torch.float64, device=device) for t in thetas]
        chunked = []
        for j, (th, k) in enumerate(zip(thetas, ks)):
            if fused and th.shape[1] >= FUSED_MIN_CLASSES:
                ce_sum[j] += logistic_objective(X_np, codes_np, k, th.contiguous().numpy(), G[j].numpy())
            else:
                chunked.append(j)
        for start in range(0, N, chunk) if chunked else ():
            xb = X1[start : start + chunk]
            cb = codes[start : start + chunk]
            for j in chunked:
                th, k = thetas[j], ks[j]
                z = xb @ th  # (n, C_k), contiguous
                if fused:  # the same quantities in one Numba pass over the rows
                    ce_sum[j] += softmax_residual(z.numpy(), cb.numpy(), k)
                    G[j] += xb.T @ z
                    continue
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

    hessian = SubsetHessian(X1, hessian_rows) if "newton" in solvers else None

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
            q = newton_direction(hessian(theta[k]), g[k], lam[k], pen64, fit_intercept)
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
