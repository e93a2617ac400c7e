"""The train/test rows of a :class:`~fastdci.io.LatentsSource`: the predictor metrics' split
(computed once per test size and seed), ``max_train``'s subsample, and held-out test rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import device_of, float_dtype, to_numpy, to_torch
from ..errors import InvalidInputError
from .factor_types import split_columns

__all__ = ["SplitMixin"]


def _seed_key(random_state: Any) -> Any:
    """A cache key for a seed: the int itself, or the identity of a Generator."""
    return random_state if random_state is None or isinstance(random_state, int) else ("generator", id(random_state))


class SplitMixin:
    """Train/test methods of :class:`~fastdci.io.LatentsSource` (which supplies ``n_rows``,
    ``factors``, ``test``, ``rows()``, ``factor_values()`` and ``_cache``)."""

    def _check_test(self, latents_test, factors_test):
        from .._validation import check_factors, check_latents

        latents_test = check_latents(latents_test, "latents_test", min_rows=1)
        self._test_values = None
        if self.has_continuous and len(np.shape(factors_test)) == 2 and np.shape(factors_test)[1] == self.n_factors:
            discrete, self._test_values = split_columns(factors_test, self.factor_types, "factors_test")
            classes = np.empty((self._test_values.shape[0], self.n_factors), np.int64)
            classes[:, self.continuous] = self._bins.classes(self._test_values)
            classes[:, ~self.continuous] = check_factors(discrete, "factors_test", n_rows=classes.shape[0])
            factors_test = classes
        factors_test = check_factors(factors_test, "factors_test", n_rows=int(latents_test.shape[0]),
                                     factor_sizes=self.factor_sizes if len(factors_test.shape) == 2 and
                                     factors_test.shape[1] == len(self.factor_sizes) else None,
                                     factor_names=self.factor_names)
        if int(latents_test.shape[1]) != self.n_latents:
            raise InvalidInputError(
                f"latents_test has {int(latents_test.shape[1])} latents but latents has {self.n_latents}; both "
                "must come from the same encoder."
            )
        if factors_test.shape[1] != len(self.factor_sizes):
            raise InvalidInputError(
                f"factors_test has {factors_test.shape[1]} factors but factors has {len(self.factor_sizes)}; "
                "pass the same factor columns."
            )
        host = device_of(latents_test) == "cpu"
        x = np.ascontiguousarray(to_numpy(latents_test), dtype=float_dtype(latents_test)) if host else latents_test
        return x, factors_test

    def train_test_values(self, test_size: float, random_state: Any, max_train: int | None = None):
        """(train factor values, test factor values) (see :meth:`factor_values`) of the rows
        :meth:`train_test` returns for the same arguments."""
        train_idx, test_idx = self._train_idx(test_size, random_state, max_train)
        if test_idx is None:
            test = np.asarray(self.test[1], dtype=np.float64)
            if self._test_values is not None:
                test[:, self.continuous] = self._test_values
        else:
            test = self.factor_values(test_idx)
        return self.factor_values(train_idx), test

    def split(self, test_size: float, random_state: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(train rows, test rows) of the predictor metrics; test is None with held-out data.

        The rows are a seeded permutation: the first ``round(N * test_size)`` are the test rows;
        both index arrays are sorted.
        """
        key = ("split", float(test_size), _seed_key(random_state))
        if key not in self._cache:
            n = self.n_rows
            if self.test is not None:
                self._cache[key] = (np.arange(n), None)
            else:
                n_test = int(round(n * test_size))
                if n_test < 1 or n - n_test < 2:
                    raise InvalidInputError(
                        f"test_size={test_size} leaves {n - n_test} training and {n_test} test rows of {n}; "
                        "give more rows or another test_size."
                    )
                perm = np.random.default_rng(random_state).permutation(n)
                self._cache[key] = (np.sort(perm[n_test:]), np.sort(perm[:n_test]))
        return self._cache[key]

    def train_test(self, test_size: float, random_state: Any, device: str = "cpu", max_train: int | None = None):
        """(train latents, train factors, test latents, test factors) of :meth:`split`, gathered
        once per device (NumPy on the CPU, torch tensors on CUDA) and shared by the predictor
        metrics. ``max_train`` keeps a uniform subsample of the training rows (drawn with the
        seed ``random_state + 1``), chosen before any row is read."""
        key = ("train_test", float(test_size), _seed_key(random_state), device, max_train)
        if key not in self._cache:
            train_idx, test_idx = self._train_idx(test_size, random_state, max_train)
            x_test, y_test = self.test_rows(test_idx, device)
            self._cache[key] = (self.rows(train_idx, device), self.factors[train_idx], x_test, y_test)
        return self._cache[key]

    def _train_idx(self, test_size: float, random_state: Any, max_train: int | None):
        """(train rows after ``max_train``'s subsample, test rows or None), computed once."""
        key = ("train_idx", float(test_size), _seed_key(random_state), max_train)
        if key not in self._cache:
            train_idx, test_idx = self.split(test_size, random_state)
            if max_train is not None and max_train < train_idx.size:
                rng = random_state if isinstance(random_state, np.random.Generator) else \
                    np.random.default_rng(None if random_state is None else random_state + 1)
                train_idx = train_idx[np.sort(rng.choice(train_idx.size, size=int(max_train), replace=False))]
            self._cache[key] = (train_idx, test_idx)
        return self._cache[key]

    def test_rows(self, test_idx: np.ndarray | None, device: str = "cpu"):
        """(latents, factors) of the test rows: held-out data, or rows ``test_idx``."""
        if test_idx is None:
            x, y = self.test
            if device == "cuda":
                x = to_torch(x, device="cuda")
            elif device_of(x) == "cuda":
                x = np.ascontiguousarray(to_numpy(x), dtype=float_dtype(x))
            return x, y
        return self.rows(test_idx, device), self.factors[test_idx]
