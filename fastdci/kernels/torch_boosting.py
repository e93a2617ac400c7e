"""Torch twins of the batched booster's Numba kernels (:mod:`fastdci.kernels.boosting` and
:mod:`fastdci.kernels.boosting_trees`), run on the data's device: CUDA, and the CPU for the
parity tests. Same layouts, same arithmetic, same candidate-split order; the histogram is a
one-hot matrix product, ``onehot(bins)^T @ W``, with exact 0/1 entries, so only the summation
order differs from the Numba loop. Where a Numba kernel writes into an output argument, its twin
returns the result instead.
"""

from __future__ import annotations

import numpy as np
import torch

from .binning import _quantile_positions

__all__ = [
    "TorchOneHot",
    "bin_thresholds",
    "find_splits",
    "gather_rows",
    "leaf_update",
    "level_weights",
    "predict_raw",
    "sibling_subtract",
    "softmax_gradients",
    "update_nodes",
]


def bin_thresholds(column, max_bins: int):
    """:func:`.binning.bin_thresholds` on a torch tensor (same edges, computed on its device)."""
    col = torch.sort(column.to(torch.float64)).values
    distinct = torch.unique_consecutive(col)
    if distinct.numel() <= max_bins:
        return (distinct[:-1] + distinct[1:]) * 0.5
    lo, hi, t = _quantile_positions(col.numel(), max_bins)
    a = col[torch.as_tensor(lo, device=col.device)]
    b = col[torch.as_tensor(hi, device=col.device)]
    return b - (b - a) * (1.0 - torch.as_tensor(t, device=col.device))


class TorchOneHot:
    """Histograms as one-hot matrix products: ``hist[l, b, :] = sum_n [bins[n, l] == b] W[n, :]``.

    ``bins`` (N, L) uint8 tensor; the one-hot matrix (rows, L * B), in the weights' dtype
    (float32, as the Numba histograms), is built chunk by chunk (at most ``chunk_bytes`` at a
    time) and multiplied with the weights: one GEMM per chunk instead of N * L scattered
    atomic adds. The products are exact (0/1 factors); only the summation order differs from
    the Numba loop. TF32 must stay off (torch's default for float32 matmul).
    """

    def __init__(self, bins, n_bins: int, chunk_bytes: int = 1 << 28):
        self.bins = bins
        self.B = int(n_bins)
        N, L = bins.shape
        self.L = L
        self.chunk = max(1, int(chunk_bytes // (4 * L * self.B)))
        self.shift = (torch.arange(L, device=bins.device) * self.B)[None, :]

    def histogram(self, W):
        """``W`` (N, S, ch, C) float32 -> (L, B, S, ch, C) float32."""
        N = W.shape[0]
        flat = W.reshape(N, -1)
        out = torch.zeros((self.L * self.B, flat.shape[1]), dtype=W.dtype, device=W.device)
        for a in range(0, N, self.chunk):
            b = min(N, a + self.chunk)
            idx = self.bins[a:b].long() + self.shift
            oh = torch.zeros((b - a, self.L * self.B), dtype=W.dtype, device=W.device)
            oh.scatter_(1, idx, 1.0)
            out.addmm_(oh.T, flat[a:b])
        return out.reshape((self.L, self.B) + tuple(W.shape[1:]))


def softmax_gradients(F, Y, offsets):
    """Torch twin of :func:`.boosting.softmax_gradients`: float32 ``(G, H)`` (N, C) from float64 raw
    scores ``F`` and stacked one-hot float32 targets ``Y``."""
    P = torch.empty(F.shape, dtype=torch.float32, device=F.device)
    for k in range(len(offsets) - 1):
        a, b = int(offsets[k]), int(offsets[k + 1])
        seg = F[:, a:b]
        e = torch.exp((seg - seg.max(dim=1, keepdim=True).values).to(torch.float32))
        P[:, a:b] = e * (1.0 / e.sum(dim=1, keepdim=True))
    return P - Y, P * (1.0 - P)


def level_weights(G, Wt, node, side, level: int, n_ch: int):
    """Torch twin of :func:`.boosting.build_level_weights`: (N, S, n_ch, C) weights."""
    N, C = G.shape
    S = side.shape[0] if level > 0 else 1
    chans = [G, Wt] + ([torch.ones_like(G)] if n_ch == 3 else [])
    vals = torch.stack(chans, dim=1)  # (N, ch, C)
    if level == 0:
        return vals[:, None]
    p = node >> 1
    mask = ((node & 1) == torch.gather(side, 0, p)).to(vals.dtype)
    out = torch.zeros((N, S, n_ch, C), dtype=vals.dtype, device=vals.device)
    out.scatter_(1, p[:, None, None, :].expand(N, 1, n_ch, C), (vals * mask[:, None, :])[:, None])
    return out


def sibling_subtract(built, parent, side):
    """Torch twin of :func:`.boosting.sibling_subtract`: (L, B, 2S, ch, C)."""
    L, B, S, ch, C = built.shape
    sibling = parent - built
    sm = side.bool()[None, None, :, None, :]
    left = torch.where(sm, sibling, built)
    right = torch.where(sm, built, sibling)
    return torch.stack([left, right], dim=3).reshape(L, B, 2 * S, ch, C)


def find_splits(hist, wch: int, cch: int, n_bins, rank):
    """Torch twin of :func:`.boosting_trees.find_splits` (``rank`` a (J, C, L) integer tensor).

    Returns ``(feat, thr, gain, n_left, n_right)``, each (J, C) (feat/thr int64).
    """
    L, B, J, _, C = hist.shape
    cum = torch.cumsum(hist.to(torch.float64), dim=1)
    tot = cum[:, -1:]  # (L, 1, J, ch, C)
    GL, WL, NL = cum[:, :, :, 0], cum[:, :, :, wch], cum[:, :, :, cch]
    Gt, Wt, Nt = tot[:, :, :, 0], tot[:, :, :, wch], tot[:, :, :, cch]
    GR, WR, NR = Gt - GL, Wt - WL, Nt - NL
    tpos = torch.arange(B, device=hist.device)[None, :, None, None]
    valid = (NL >= 0.5) & (NR >= 0.5) & (WL > 0) & (WR > 0) & (tpos < (n_bins[:, None, None, None] - 1))
    one = torch.ones_like(WL)
    gain = (
        GL * GL / torch.where(valid, WL, one)
        + GR * GR / torch.where(valid, WR, one)
        - Gt * Gt / torch.where(valid, Wt.expand_as(WL), one)
    )
    gain = torch.where(valid, gain, torch.full_like(gain, -float("inf")))
    per_latent = gain.permute(2, 3, 0, 1)  # (J, C, L, B)
    arg_b = torch.argmax(per_latent, dim=3)  # first maximum over the bins
    best_l = torch.gather(per_latent, 3, arg_b[..., None])[..., 0]  # (J, C, L)
    best = best_l.max(dim=2).values
    # of the latents with exactly the best gain, the one of lowest rank
    tied = best_l == best[..., None]
    key = torch.where(tied, rank.to(torch.int64), torch.full_like(arg_b, L + 1))
    bf = torch.argmin(key, dim=2)
    bt = torch.gather(arg_b, 2, bf[..., None])[..., 0]
    jj = torch.arange(J, device=hist.device)[:, None].expand(J, C)
    cc = torch.arange(C, device=hist.device)[None, :].expand(J, C)
    wt_best = Wt[bf, 0, jj, cc]
    nt_best = Nt[bf, 0, jj, cc]
    nl_best = NL[bf, bt, jj, cc]
    ok = torch.isfinite(best) & (best > 1e-12 * wt_best)
    feat = torch.where(ok, bf, torch.full_like(bf, -1))
    thr = torch.where(ok, bt, torch.zeros_like(bt))
    gain_out = torch.where(ok, best, torch.zeros_like(best))
    n_left = torch.where(ok, nl_best, Nt[0, 0])
    n_right = torch.where(ok, nt_best - nl_best, torch.zeros_like(nl_best))
    return feat, thr, gain_out, n_left, n_right


def update_nodes(bins, feat, thr, node):
    """Torch twin of :func:`.boosting_trees.update_nodes`; returns the new (N, C) int64 nodes."""
    fj = gather_rows(feat, node)
    tj = gather_rows(thr, node)
    b = bins.long().gather(1, fj.clamp(min=0))
    right = (fj >= 0) & (b > tj)
    return 2 * node + right.long()


def gather_rows(table, node):
    """``table[node[n, c], c]`` for a (J, C) table and (N, C) node indices."""
    return torch.gather(table, 0, node)


def leaf_update(G, H, node, scale, learning_rate: float, n_leaves: int, F):
    """Torch twin of :func:`.boosting_trees.leaf_update`.

    Returns ``(values (J, C), F + lr * values[node])``.
    """
    N, C = G.shape
    idx = (node * C + torch.arange(C, device=G.device)[None, :]).reshape(-1)
    zeros = torch.zeros(n_leaves * C, dtype=torch.float64, device=G.device)
    sg = zeros.index_add(0, idx, G.reshape(-1).to(torch.float64))
    sh = zeros.index_add(0, idx, H.reshape(-1).to(torch.float64))
    sg, sh = sg.reshape(n_leaves, C), sh.reshape(n_leaves, C)
    safe = torch.where(sh.abs() < 1e-150, torch.ones_like(sh), sh)
    values = torch.where(sh.abs() < 1e-150, torch.zeros_like(sh), -scale[None, :] * sg / safe)
    return values, F + learning_rate * values.reshape(-1)[idx].reshape(N, C)


def predict_raw(bins, trees, learning_rate: float):
    """Torch twin of :func:`.boosting_predict.predict_raw` for a fitted ensemble.

    ``trees`` holds numpy arrays.
    """
    dev = bins.device
    feat = torch.as_tensor(trees.feat, device=dev).long()
    thr = torch.as_tensor(trees.thr, device=dev).long()
    values = torch.as_tensor(trees.values, device=dev)
    R, I, C = feat.shape
    depth = int(np.log2(I + 1))
    N = bins.shape[0]
    F = torch.as_tensor(trees.init, device=dev).expand(N, C).clone()
    for r in range(R):
        node = torch.zeros((N, C), dtype=torch.long, device=dev)
        for d in range(depth):
            a = 2**d - 1
            node = update_nodes(bins, feat[r, a : a + 2**d], thr[r, a : a + 2**d], node)
        F += learning_rate * torch.gather(values[r], 0, node)
    return F
