"""``fastdci.evaluate(path, "all")`` at two revisions of fastdci, in the same run.

Checks out ``--before`` (a git revision) in a temporary worktree, then times
``evaluate(FILE, "all")`` in fresh subprocesses, alternating the two trees (a warm-up run of
each first, so Numba's caches are built), and counts the elements read from
``/latents/mean`` and ``/factors/classes``. Prints one table (wall seconds per round, median,
reads as multiples of the dataset size) and whether every score and count of the older
revision is unchanged.

    python benchmarks/before_after_evaluate.py --before REV latents.h5 [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import h5py, numpy as np
counts = {}
original = h5py.Dataset.__getitem__
def counting(ds, key):
    out = original(ds, key)
    counts[ds.name] = counts.get(ds.name, 0) + int(np.size(out))
    return out
h5py.Dataset.__getitem__ = counting
import fastdci
path = sys.argv[1]
with h5py.File(path, "r") as f:
    sizes = {n: int(np.prod(f[n].shape)) for n in ("/latents/mean", "/factors/classes")}
counts.clear()
t = time.perf_counter()
report = fastdci.evaluate(path, "all", backend="cpu", random_state=0)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "reads": {n: counts.get(n, 0) / s for n, s in sizes.items()},
                  "scores": {m: {**r.scores(), **(r.counts() if hasattr(r, "counts") else {})}
                             for m, r in report.items()},
                  "skipped": sorted(report.skipped), "failed": report.failed}))
"""


def run(tree: Path, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True,
                         cwd=tree, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--before", required=True, help="git revision to compare with the working tree")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), args.before],
                       check=True, capture_output=True)
        try:
            trees = {"before": old, "after": REPO}
            for name, tree in trees.items():  # warm-up: Numba caches, imports
                print(f"warm-up {name} ...", file=sys.stderr)
                run(tree, args.file)
            rows = {name: [] for name in trees}
            for r in range(args.rounds):
                for name, tree in trees.items():
                    rows[name].append(run(tree, args.file))
                    print(f"round {r + 1} {name}: {rows[name][-1]['seconds']:.2f} s", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)
    print(f"| tree | wall s per round | median | /latents/mean reads | /factors/classes reads |")
    print("|---|---|---|---|---|")
    for name, rs in rows.items():
        secs = [x["seconds"] for x in rs]
        reads = rs[0]["reads"]
        print(f"| {name} | {', '.join(f'{s:.2f}' for s in secs)} | {statistics.median(secs):.2f} | "
              f"{reads['/latents/mean']:.2f} | {reads['/factors/classes']:.2f} |")
    before, after = rows["before"][0], rows["after"][0]
    print(f"\nmedian ratio before / after: "
          f"{statistics.median(x['seconds'] for x in rows['before']) / statistics.median(x['seconds'] for x in rows['after']):.2f}")
    print(f"skipped before {before['skipped']} after {after['skipped']}; failed before {before['failed']} "
          f"after {after['failed']}")
    diffs = {f"{m}.{k}": (v, after["scores"].get(m, {}).get(k)) for m, sc in before["scores"].items()
             for k, v in sc.items() if after["scores"].get(m, {}).get(k) != v}
    print("scores identical" if not diffs else f"scores that differ: {diffs}")


if __name__ == "__main__":
    main()
