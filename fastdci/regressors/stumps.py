"""Batched histogram gradient boosting for multinomial targets: every factor at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._threads import free_cpus
from ..backend import to_numpy
from ..errors import InvalidInputError
from ..kernels import boosting as kb
from ..kernels import boosting_predict as kp
from ..kernels import torch_boosting as tb
from ..kernels.binning import bin_thresholds
from ._base import BatchedClassifier, ClassEncoding, check_device, check_XY, encode_classes
from ._stumps_engines import Trees, boost_numba, boost_torch

__all__ = ["GradientBoostedStumps"]

_IMPORTANCE = ("global", "per_tree")
_CRITERIA = ("friedman_mse", "newton")
_MAX_DEPTH = 3


class GradientBoostedStumps(BatchedClassifier):
    """Histogram gradient-boosted trees for every factor at once (multinomial deviance).

    One booster per factor column of ``Y``, all fitted together: per round, every class of
    every factor gets its own regression tree on the softmax gradients (one tree per class
    per round, as scikit-learn's ``GradientBoostingClassifier``), all trees of a round grown
    together from one pass of gradient histograms per (latent, bin, node, class).

    Parameters
    ----------
    n_rounds : int, default 100
        Boosting rounds (scikit-learn's ``n_estimators``).
    learning_rate : float, default 0.1
        Shrinkage of each round's leaf values.
    max_depth : int, default 1
        Depth of each tree, 1 (stumps) to 3. Trees grow level-wise; below the root only the
        smaller child of each split is histogrammed, its sibling is the parent minus it.
        disentanglement_lib's DCI uses depth 3 (scikit-learn's default).
    max_bins : int, default 255
        Quantile bins per latent (2..256), by scikit-learn's HistGradientBoosting rule
        (see :func:`fastdci.kernels.binning.bin_thresholds`); every row is used.
    importance : {"global", "per_tree"}, default "global"
        How split gains become ``feature_importances_`` (see Notes).
    criterion : {"friedman_mse", "newton"}, default "friedman_mse"
        Split gain. ``"friedman_mse"``: the decrease of the squared error of the gradients,
        ``G_L^2/n_L + G_R^2/n_R - G^2/n`` (scikit-learn's ``GradientBoostingClassifier``,
        whose trees fit the gradients with the Friedman MSE criterion). ``"newton"``: the
        second-order gain ``G_L^2/H_L + G_R^2/H_R - G^2/H`` with hessian sums ``H``
        (XGBoost, LightGBM, scikit-learn's HistGradientBoosting with no regularisation).
        Both use the split's gain as its importance.
    device : {"auto", "cpu", "cuda"}, default "auto"
        ``"cpu"`` runs Numba kernels; ``"cuda"`` runs the torch formulation on the GPU;
        ``"auto"`` follows a CUDA torch/CuPy input, else picks CUDA when torch sees one.
    random_state : int or None, default 0
        Seeds the order in which latents win exactly tied split gains (a random permutation
        per node and tree, as scikit-learn's random feature order), so duplicated or
        identically binned latents share the splits and the importance instead of all going
        to the first; within a latent the first bin wins. Untied splits do not depend on it.

    Attributes
    ----------
    classes_ : list of K int64 arrays
        Each factor's sorted distinct labels.
    feature_importances_ : ndarray (L, K) float64
        Column k: importance of every latent for factor k; sums to 1 (see Notes).
    bin_thresholds_ : list of L float64 arrays
        The bin edges of every latent.
    train_accuracy_ : ndarray (K,) float64
        Per-factor accuracy of :meth:`predict` on the rows fitted, from the fit's final raw
        scores: equal to ``score(X, Y)`` on the ``X, Y`` given to ``fit``.
    n_features_in_ : int
    device_ : torch.device

    Notes
    -----
    **Model.** Factor k with ``K_k`` classes gets raw scores ``F_c`` (c one of its classes),
    initialised to the log class priors; class probabilities are the softmax of the factor's
    scores. Each round computes ``g = p - y`` and ``h = p (1 - p)`` per (row, class), grows
    one tree per class on ``g`` to ``max_depth`` choosing at each node the best (latent,
    bin threshold) by ``criterion``, sets each leaf to the Newton step
    ``-(K_k - 1)/K_k * sum(g) / sum(h)`` (Friedman 2001, Algorithm 6, as scikit-learn) and
    adds ``learning_rate`` times it to ``F``. A node splits only when both children get a
    row and the gain is positive.

    **Difference from scikit-learn's GradientBoostingClassifier** (the disentanglement_lib
    recipe): thresholds are the bin edges (up to ``max_bins`` per latent, quantile midpoints)
    instead of midpoints between every pair of consecutive distinct values, so a split can
    land only on a bin edge; with at most ``max_bins`` distinct values per latent the candidate
    splits are identical. Ties between equal gains are broken by the first latent, where
    scikit-learn permutes features at random. A binary factor gets two (mirrored) trees per
    round, as in a 2-class softmax; scikit-learn fits one tree of the binomial deviance.
    A factor with a single class gets trees that never split (zero importance column).

    **Importances.** Let ``gain_t(l)`` be the summed gain of the splits on latent ``l`` in
    tree ``t``, and ``T_k`` the trees of factor k (``n_rounds * K_k`` trees).

    - ``importance="global"`` (scikit-learn >= 0.22):
      ``R[l, k] = sum_{t in T_k} gain_t(l) / sum_{t in T_k} sum_l' gain_t(l')``.
    - ``importance="per_tree"`` (scikit-learn < 0.22, the version the published
      disentanglement_lib study ran): each tree's gains are normalised to sum 1 (a tree
      without split counts as zeros), averaged over the ``K_k`` trees of a round, then over
      the rounds, with no final renormalisation (a column sums to less than 1 when some tree
      never split).

    The rule moves DCI far. On disentanglement_lib's reference "aligned" code (10,000 rows,
    depth 3, 100 rounds) scikit-learn's own trees give D = 0.699 / C = 0.649 under the global
    rule and D = 0.356 / C = 0.316 under the per-tree rule; this class, fitted once, gives
    D = 0.680 / C = 0.631 (global) and D = 0.179 / C = 0.168 (per-tree). The global rule is
    dominated by the large early gains, where binned and exact splits agree (D and C within
    0.02 on all three reference codes). The per-tree rule weighs every late, tiny-gain tree
    as much as the first: there exact thresholds keep separating clean gaps (every split of
    the "shape" trees stays on its latent), while a bin edge rarely falls exactly in a gap, so
    late binned trees fit the few rows of the straddling bin on other latents. With inputs of
    at most ``max_bins`` distinct values per latent the two agree (tested). Depth matters as
    much: stumps concentrate importance on fewer latents than depth-3 trees.

    **Which settings reproduce what.** ``max_depth=3, importance="global"``: DCI of
    disentanglement_lib run with current scikit-learn (within 0.05). ``max_depth=3,
    importance="per_tree"``: the rule behind the published tables of Locatello et al. (2019),
    run with scikit-learn < 0.22; on continuous codes it scores lower than those tables
    (see above), so it reproduces the convention, not their numbers.

    References
    ----------
    J. H. Friedman, "Greedy function approximation: a gradient boosting machine", Annals of
    Statistics 29(5), 2001. G. Ke et al., "LightGBM", NeurIPS 2017 (histograms, sibling
    subtraction). C. Eastwood and C. K. I. Williams, "A framework for the quantitative
    evaluation of disentangled representations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.regressors import GradientBoostedStumps
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> Y = np.stack([(X[:, 0] > 0).astype(int), np.digitize(X[:, 2], [-0.5, 0.5])], axis=1)
    >>> model = GradientBoostedStumps(n_rounds=20, device="cpu").fit(X, Y)
    >>> model.feature_importances_.argmax(axis=0)
    array([0, 2])
    >>> bool((model.score(X, Y) > 0.9).all())
    True
    """

    def __init__(
        self,
        n_rounds: int = 100,
        learning_rate: float = 0.1,
        max_depth: int = 1,
        max_bins: int = 255,
        importance: str = "global",
        criterion: str = "friedman_mse",
        device: str = "auto",
        random_state: int | None = 0,
    ):
        self.n_rounds = n_rounds
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_bins = max_bins
        self.importance = importance
        self.criterion = criterion
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        if not isinstance(self.n_rounds, (int, np.integer)) or self.n_rounds < 1:
            raise InvalidInputError(f"n_rounds must be a positive integer; got {self.n_rounds!r}.")
        lr = self.learning_rate
        if not isinstance(lr, (int, float, np.floating)) or not (lr > 0 and np.isfinite(lr)):
            raise InvalidInputError(f"learning_rate must be a positive number; got {lr!r}.")
        if not isinstance(self.max_depth, (int, np.integer)) or not 1 <= self.max_depth <= _MAX_DEPTH:
            raise InvalidInputError(
                f"max_depth must be 1, 2 or 3; got {self.max_depth!r}. Depth 1 gives stumps; "
                "disentanglement_lib's recipe uses 3."
            )
        if not isinstance(self.max_bins, (int, np.integer)) or not 2 <= self.max_bins <= 256:
            raise InvalidInputError(
                f"max_bins must be an integer in [2, 256] (bins are stored as uint8); got "
                f"{self.max_bins!r}."
            )
        if self.importance not in _IMPORTANCE:
            raise InvalidInputError(
                f"importance must be 'global' (scikit-learn >= 0.22) or 'per_tree' "
                f"(scikit-learn < 0.22, the published disentanglement_lib numbers); got "
                f"{self.importance!r}."
            )
        if self.criterion not in _CRITERIA:
            raise InvalidInputError(
                f"criterion must be 'friedman_mse' (scikit-learn's GradientBoostingClassifier) "
                f"or 'newton' (second-order gain, as LightGBM); got {self.criterion!r}."
            )

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, Y: Any) -> "GradientBoostedStumps":
        """Fit one booster per factor column, all at once.

        Parameters
        ----------
        X : array (N, L) float
            Latents (numpy, torch or CuPy; finite).
        Y : array (N, K) int
            Class labels of every factor (a 1-D array is one factor).

        Returns
        -------
        self
        """
        self._check_params()
        X, Y = check_XY(X, Y)
        self.device_ = check_device(self.device, X)
        enc, codes = encode_classes(Y)
        self.classes_ = list(enc.classes)
        self.n_features_in_ = int(X.shape[1])
        engine = "numba" if self.device_.type == "cpu" else "torch"
        self._fit_engine(X, codes, enc, engine)
        return self

    def _fit_engine(self, X: Any, codes: np.ndarray, enc: ClassEncoding, engine: str) -> None:
        """Bin and boost with ``engine`` ("numba" on CPU, "torch" on any device)."""
        if engine == "numba":
            Xn = np.ascontiguousarray(to_numpy(X), dtype=np.float64)
            self.bin_thresholds_ = _thresholds(Xn, self.max_bins)
            bins = self._bins_numpy(Xn)
            self.trees_, F = boost_numba(bins, codes, enc, self._n_bins(), self._settings())
            F = torch.from_numpy(F)
        else:
            Xt = _to_tensor(X, self.device_)
            self.bin_thresholds_ = [
                to_numpy(tb.bin_thresholds(Xt[:, l], self.max_bins)) for l in range(Xt.shape[1])
            ]
            bins = self._bins_torch(Xt)
            self.trees_, F = boost_torch(bins, codes, enc, self._n_bins(), self._settings())
        self.n_classes_total_ = enc.total
        self._offsets = enc.offsets
        # the fit's final scores are predict_raw's on the training rows, float for float
        self.train_accuracy_ = (self._codes_of(F) == codes).mean(axis=0, dtype=np.float64)
        self.feature_importances_ = _importances(
            self.trees_, enc, self.n_features_in_, self.importance
        )

    def _settings(self) -> dict[str, Any]:
        return {
            "n_rounds": int(self.n_rounds),
            "learning_rate": float(self.learning_rate),
            "max_depth": int(self.max_depth),
            "criterion": self.criterion,
            "random_state": self.random_state,
        }

    def _n_bins(self) -> np.ndarray:
        return np.array([t.size + 1 for t in self.bin_thresholds_], dtype=np.int64)

    def _edges(self) -> tuple[np.ndarray, np.ndarray]:
        edges = np.concatenate([np.asarray(t, dtype=np.float64) for t in self.bin_thresholds_])
        offsets = np.concatenate([[0], np.cumsum([t.size for t in self.bin_thresholds_])])
        return np.ascontiguousarray(edges), offsets.astype(np.int64)

    def _bins_numpy(self, Xn: np.ndarray) -> np.ndarray:
        edges, offs = self._edges()
        out = np.empty(Xn.shape, dtype=np.uint8)
        kb.apply_bins(np.ascontiguousarray(Xn, dtype=np.float64), edges, offs, out)
        return out

    def _bins_torch(self, Xt: torch.Tensor) -> torch.Tensor:
        cols = []
        for l, t in enumerate(self.bin_thresholds_):
            edges = torch.as_tensor(t, dtype=torch.float64, device=Xt.device)
            cols.append(torch.searchsorted(edges, Xt[:, l].contiguous(), right=False))
        return torch.stack(cols, dim=1).to(torch.uint8)

    # ------------------------------------------------------------------ predict
    def decision_function_stacked(self, X: Any) -> np.ndarray:
        """Raw scores (N, C) of every class of every factor, factors side by side."""
        return to_numpy(self._raw_torch(self._input(X)))

    def _raw_torch(self, Xt: torch.Tensor) -> torch.Tensor:
        tr = self.trees_
        if Xt.device.type == "cpu":
            bins = self._bins_numpy(Xt.numpy())
            F = np.empty((bins.shape[0], tr.init.size), dtype=np.float64)
            F[:] = tr.init
            kp.predict_raw(bins, tr.feat, tr.thr, tr.values, float(self.learning_rate), F)
            return torch.from_numpy(F)
        bins = self._bins_torch(Xt)
        return tb.predict_raw(bins, tr, float(self.learning_rate))

    def _proba_torch(self, Xt: torch.Tensor) -> list[torch.Tensor]:
        F = self._raw_torch(Xt)
        o = self._offsets
        return [torch.softmax(F[:, o[k] : o[k + 1]], dim=1) for k in range(len(o) - 1)]

    def _predict_codes(self, Xt: torch.Tensor) -> np.ndarray:
        return self._codes_of(self._raw_torch(Xt))

    def _codes_of(self, F: torch.Tensor) -> np.ndarray:
        """Class positions (N, K) of the highest raw score per factor (the softmax's argmax,
        without the softmax; the first of tied scores)."""
        o = self._offsets
        if F.device.type == "cpu":
            out = np.empty((F.shape[0], len(o) - 1), dtype=np.int64)
            kp.argmax_classes(np.ascontiguousarray(F.numpy(), dtype=np.float64), np.asarray(o, dtype=np.int64), out)
            return out
        return np.stack([to_numpy(torch.argmax(F[:, o[k] : o[k + 1]], dim=1)) for k in range(len(o) - 1)],
                        axis=1)


# ---------------------------------------------------------------------- inputs


def _thresholds(Xn: np.ndarray, max_bins: int) -> list[np.ndarray]:
    """Every latent's bin edges; the latents' sorts on the free cores (NumPy's sort releases
    the GIL) when there are rows enough to pay for the threads."""
    cols = [Xn[:, l] for l in range(Xn.shape[1])]
    workers = min(len(cols), free_cpus()) if Xn.shape[0] >= 100_000 else 1
    if workers <= 1:
        return [bin_thresholds(c, max_bins) for c in cols]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: bin_thresholds(c, max_bins), cols))


def _to_tensor(X: Any, device: torch.device) -> torch.Tensor:
    from ._base import to_device_tensor

    return to_device_tensor(X, device, torch.float64)


# ---------------------------------------------------------------------- importances


def _importances(trees: Trees, enc: ClassEncoding, L: int, rule: str) -> np.ndarray:
    """(L, K) importances from the split gains under ``rule`` ("global" or "per_tree")."""
    R, I, C = trees.feat.shape
    per_tree = np.zeros((R, C, L))  # summed gain per tree and latent
    f = trees.feat
    r_idx, i_idx, c_idx = np.nonzero(f >= 0)
    np.add.at(per_tree, (r_idx, c_idx, f[r_idx, i_idx, c_idx]), trees.gain[r_idx, i_idx, c_idx])
    out = np.zeros((L, enc.n_factors))
    for k, s in enumerate(enc.slices()):
        t = per_tree[:, s, :]  # (R, K_k, L)
        if rule == "global":
            total = t.sum(axis=(0, 1))
            z = total.sum()
            out[:, k] = total / z if z > 0 else 0.0
        else:
            norm = t.sum(axis=2, keepdims=True)
            normed = np.divide(t, norm, out=np.zeros_like(t), where=norm > 0)
            out[:, k] = normed.mean(axis=1).mean(axis=0)
    return out
