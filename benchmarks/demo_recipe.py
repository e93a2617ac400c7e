"""Search for the CPU demo's training recipe: train, encode the demo's lattice, score MIG.

Each recipe trains on rendered dSprites, encodes the demo's 92,160-image lattice and
computes MIG and DCI (stumps) on it; one line per recipe goes to a JSONL file with the wall
time of each step. Run on an idle machine; the demo's budget is 10 minutes end to end.

    python benchmarks/demo_recipe.py OUTDIR NAME key=value ... [NAME key=value ...]

``RECIPE_THREADS`` sets torch's thread count (default 2; 1 on a machine shared with other work).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def parse(argv):
    recipes, cur = [], None
    for a in argv:
        if "=" not in a:
            cur = {"name": a, "settings": {}}
            recipes.append(cur)
        else:
            k, v = a.split("=", 1)
            for cast in (int, float):
                try:
                    v = cast(v)
                    break
                except ValueError:
                    pass
            cur["settings"][k] = v
    return recipes


def main(out, argv):
    import os

    import torch

    import fastdci

    torch.set_num_threads(int(os.environ.get("RECIPE_THREADS", "2")))
    from fastdci.cli._demo import lattice_rows
    from fastdci.encode import encode
    from fastdci.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for r in parse(argv):
        run = out / r["name"]
        t0 = time.perf_counter()
        res = train(out=str(run / "run"), device="cpu", overwrite=True, progress=False, **r["settings"])
        t1 = time.perf_counter()
        encode(run / "run", run / "latents.h5", rows=lattice_rows(), device="cpu", overwrite=True, progress=False)
        t2 = time.perf_counter()
        rep = fastdci.evaluate(run / "latents.h5", "mig,dci", dci={"regressor": "stumps"})
        t3 = time.perf_counter()
        line = {"name": r["name"], **r["settings"], "mig": rep["mig"].score,
                "mig_per_factor": [round(float(x), 3) for x in rep["mig"].gap_per_factor],
                "dci_d": rep["dci"].disentanglement, "train_s": round(t1 - t0, 1),
                "encode_s": round(t2 - t1, 1), "eval_s": round(t3 - t2, 1), "last": res.last}
        print(json.dumps(line), flush=True)
        with open(out / "recipes.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
