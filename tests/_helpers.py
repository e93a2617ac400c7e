"""Assertion helpers for tests."""

from __future__ import annotations

import numpy as np

from fastdci.backend import array_namespace, to_numpy


def assert_close(actual, desired, *, rtol=1e-7, atol=0.0, check_dtype=True, err_msg=""):
    """Compare arrays: same library, device, dtype and shape first, then values."""
    ns_a, ns_d = array_namespace(actual), array_namespace(desired)
    assert ns_a == ns_d, f"array library differs: {ns_a} vs {ns_d}. {err_msg}"
    if ns_a == "torch":
        assert actual.device == desired.device, f"device differs: {actual.device} vs {desired.device}"
    a, d = to_numpy(actual), to_numpy(desired)
    if check_dtype:
        assert a.dtype == d.dtype, f"dtype differs: {a.dtype} vs {d.dtype}. {err_msg}"
    assert a.shape == d.shape, f"shape differs: {a.shape} vs {d.shape}. {err_msg}"
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)


class Interrupting:
    """A dataset that raises KeyboardInterrupt when asked for its ``after``-th batch of images."""

    def __init__(self, ds, after):
        self._ds, self._after, self._calls = ds, after, 0

    def __getattr__(self, name):
        return getattr(self._ds, name)

    def __len__(self):
        return len(self._ds)

    def images_torch(self, idx, device="cpu"):
        self._calls += 1
        if self._calls == self._after:
            raise KeyboardInterrupt
        return self._ds.images_torch(idx, device)
