"""Child process for the crash-safety test: writes deterministic rows, printing progress.

Usage: python _crash_child.py PATH N_ROWS BATCH CHUNK_ROWS [resume]
Row r holds values computed from r alone, so any run (interrupted, resumed or not) must
produce the same file row for row.
"""

import sys

import numpy as np

from fastdci.io import LatentsWriter

L, SIZES, NAMES = 10, (3, 6, 40, 32, 32), ("shape", "scale", "orientation", "posX", "posY")


def rows(start: int, stop: int):
    r = np.arange(start, stop, dtype=np.int64)
    j = np.arange(L)
    mean = np.sin(r[:, None] * 0.001 + j[None, :]).astype(np.float32)
    logvar = np.cos(r[:, None] * 0.002 - j[None, :]).astype(np.float32)
    classes = np.stack([(r // (7 + k)) % s for k, s in enumerate(SIZES)], axis=1)
    return mean, logvar, classes, r


def main() -> None:
    path, n, batch, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    resume = len(sys.argv) > 5 and sys.argv[5] == "resume"
    with LatentsWriter(path, latent_dim=L, factor_names=NAMES, factor_sizes=SIZES, chunk_rows=chunk,
                       resume=resume, dataset={"name": "crash-test"}) as w:
        start = w.rows_written
        for s in range(start, n, batch):
            e = min(s + batch, n)
            mean, logvar, classes, index = rows(s, e)
            w.append(mean, logvar=logvar, classes=classes, index=index)
            print(w.rows_written, flush=True)


if __name__ == "__main__":
    main()
