"""Benchmarks: pytest-benchmark, each group pairing fastdci with the reference a user would run.

Run with ``python -m pytest benchmarks/ --benchmark-only`` (sizes are named constants at the top
of each file; override the big ones with environment variables where a file says so).
"""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def scaled(name: str, default: int) -> int:
    """A size constant that an environment variable (FASTDCI_BENCH_<NAME>) may override."""
    return int(os.environ.get(f"FASTDCI_BENCH_{name}", default))


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    """FASTDCI_BENCH_THREADS=N runs torch on N threads (1 is steadier on a crowded machine)."""
    threads = int(os.environ.get("FASTDCI_BENCH_THREADS", "0"))
    if not threads:
        yield
        return
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    yield
    torch.set_num_threads(n)
