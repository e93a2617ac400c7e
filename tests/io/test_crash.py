"""Crash safety: SIGKILL a writer mid-write, then read, refuse, and resume the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastdci.errors import IncompleteFileError
from fastdci.io import open_latents

CHILD = Path(__file__).with_name("_crash_child.py")
N_ROWS, BATCH, CHUNK = 400_000, 5_000, 8_192


def _run(path, *extra):
    return subprocess.run([sys.executable, str(CHILD), str(path), str(N_ROWS), str(BATCH), str(CHUNK), *extra],
                          check=True, capture_output=True, text=True)


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_killed_writer_leaves_a_resumable_file(tmp_path):
    killed = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, str(CHILD), str(killed), str(N_ROWS), str(BATCH), str(CHUNK)],
                            stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stdout:  # kill it while it is writing, a third of the way in
        seen = int(line)
        if seen >= N_ROWS // 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it could be killed"
    assert 0 < seen < N_ROWS

    with pytest.raises(IncompleteFileError, match="incomplete.*--resume"):
        open_latents(killed)
    with open_latents(killed, allow_incomplete=True) as r:
        assert not r.complete
        written = r.n_rows
        assert seen <= written < N_ROWS  # nothing reported as written was lost
        part = r.read()
        assert len(part) == written

    _run(killed, "resume")
    whole = tmp_path / "whole.h5"
    _run(whole)
    with open_latents(killed) as a, open_latents(whole) as b:
        assert a.complete and a.n_rows == b.n_rows == N_ROWS
        ra, rb = a.read(), b.read()
        for field in ("mean", "logvar", "classes", "index"):
            np.testing.assert_array_equal(getattr(ra, field), getattr(rb, field), err_msg=field)
        # rows the killed run had written are unchanged by the resume
        np.testing.assert_array_equal(ra.mean[:written], part.mean)
