"""Where a :class:`fastdci.regressors.GradientBoostedStumps` CPU fit spends its time, kernel by
kernel, and a record/check of fitted trees for kernel changes that must not move the numbers.

- ``python -m benchmarks.profile_gbt profile --rows 10000 --depth 3``: wall seconds summed per
  Numba kernel over one fit (each call timed around the compiled call; the kernels run one after
  another, so the sum is the fit's kernel time), plus the fit's total wall and process CPU time.
  ``--code aligned`` (default) reads disentanglement_lib's reference "aligned" code when
  ``../shared/reference`` has it and tiles it to ``--rows``; ``--code synthetic`` builds the
  benchmarks' dSprites-like code of that size. ``--factors 2`` keeps shape and scale only.
- ``python -m benchmarks.profile_gbt contention --depth 3``: the fit alone, then beside
  ``--busy`` busy-looping processes that this script starts (and stops), each with the pool
  sized to the free cores (the default, :mod:`fastdci._threads`) and with every Numba thread
  forced; wall and CPU seconds and their ratio.
- ``python -m benchmarks.profile_gbt drift --depth 1``: the same fit ``--before`` times, then
  after ``--pause`` seconds of sleep ``--after`` times, each with its CPU and wall seconds, and
  the guest's steal time over it all (``/proc/stat``): how the machine's speed moves.
- ``python -m benchmarks.profile_gbt ab --rev ec4ba0b --depth 3``: the booster's kernel modules
  and engine (``boost_numba``) as they were at a git revision and the working tree's, fit in
  turn ``--pairs`` times in one process (so both see the same machine speed; who goes first
  alternates), each pair's CPU ratio and their median;
  ``--predict`` times ten predictions of the rows by one fitted model instead of the fit.
- ``python -m benchmarks.profile_gbt record trees.npz`` / ``check trees.npz``: fit a fixed set
  of cases (depths 1-3, both criteria, a binary and a one-class factor, several row counts) and
  store, or compare bit for bit with the stored, ``feat``, ``thr``, ``gain``, ``values``,
  ``init`` and ``feature_importances_``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

FACTOR_SIZES = np.array([3, 6, 40, 32, 32])
REFERENCE = Path(os.environ.get("FASTDCI_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "reference"
_KERNELS = {
    "boosting": ("apply_bins", "softmax_gradients", "build_level_weights", "histogram", "level_histogram",
                 "sibling_subtract"),
    "boosting_trees": ("find_splits", "update_nodes", "leaf_update", "leaf_update_gradients"),
}


def synthetic(n: int, seed: int = 0):
    """The benchmarks' dSprites-like code: each factor in its own latent plus noise, 5 noise latents."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in FACTOR_SIZES], axis=1)
    z = factors / (FACTOR_SIZES - 1) + 0.05 * rng.normal(size=factors.shape)
    latents = np.concatenate([z, rng.normal(size=(n, 5))], axis=1)
    return latents.astype(np.float32), factors


def reference_code(name: str, n: int):
    """disentanglement_lib's reference code ``name`` tiled (with small noise past 10k) to ``n`` rows."""
    path = REFERENCE / f"{name}.npz"
    if not path.exists():
        return synthetic(n)
    z = np.load(path)
    X, Y = z["latents_train"], z["factors_train"]
    if n <= X.shape[0]:
        return X[:n], Y[:n]
    reps = -(-n // X.shape[0])
    rng = np.random.default_rng(1)
    Xt = np.tile(X, (reps, 1))[:n]
    Xt = Xt + rng.normal(scale=1e-3, size=Xt.shape).astype(np.float32)
    return Xt, np.tile(Y, (reps, 1))[:n]


def _timed_kernels():
    """Wrap every kernel the engine calls with a wall-clock accumulator; returns (totals, undo)."""
    from fastdci.kernels import boosting, boosting_trees

    totals: dict[str, float] = {}
    undo = []
    for mod in (boosting, boosting_trees):
        for name in _KERNELS[mod.__name__.rsplit(".", 1)[1]]:
            fn = getattr(mod, name, None)
            if fn is None:
                continue

            def wrapped(*a, _fn=fn, _name=name):
                t = time.perf_counter()
                out = _fn(*a)
                totals[_name] = totals.get(_name, 0.0) + time.perf_counter() - t
                return out

            setattr(mod, name, wrapped)
            undo.append((mod, name, fn))
    return totals, undo


def profile(args) -> None:
    from fastdci.regressors import GradientBoostedStumps

    X, Y = (synthetic(args.rows) if args.code == "synthetic" else reference_code(args.code, args.rows))
    if args.factors == 2:
        Y = Y[:, :2]
    kw = dict(n_rounds=args.rounds, max_depth=args.depth, criterion=args.criterion, device="cpu")
    GradientBoostedStumps(**{**kw, "n_rounds": 2}).fit(X[:500], Y[:500])  # compile
    totals, undo = _timed_kernels()
    t0, c0 = time.perf_counter(), time.process_time()
    GradientBoostedStumps(**kw).fit(X, Y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for mod, name, fn in undo:
        setattr(mod, name, fn)
    print(f"rows {args.rows}, latents {X.shape[1]}, classes {sum(len(np.unique(y)) for y in Y.T)}, "
          f"depth {args.depth}, rounds {args.rounds}, {args.criterion}: wall {wall:.3f} s, CPU {cpu:.3f} s")
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    ks = sum(totals.values())
    for name, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {name:22s} {t:8.3f} s  {100 * t / wall:5.1f} %")
    print(f"  {'(outside the kernels)':22s} {wall - ks:8.3f} s  {100 * (wall - ks) / wall:5.1f} %")


def contention(args) -> None:
    import subprocess

    import numba

    from fastdci import _threads
    from fastdci.regressors import GradientBoostedStumps

    X, Y = reference_code(args.code, args.rows)
    kw = dict(n_rounds=args.rounds, max_depth=args.depth, device="cpu")
    GradientBoostedStumps(**{**kw, "n_rounds": 2}).fit(X[:500], Y[:500])  # compile
    adaptive = _threads.free_cpus
    cpus = len(os.sched_getaffinity(0))
    print(f"rows {args.rows}, depth {args.depth}, rounds {args.rounds}; {cpus} CPUs, "
          f"{numba.config.NUMBA_NUM_THREADS} Numba threads")
    for busy in (0, args.busy):
        procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.5 if busy else 0.0)
            for pool in ("free cores", "all threads"):
                _threads.free_cpus = adaptive if pool == "free cores" else (lambda: cpus)
                load = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                GradientBoostedStumps(**kw).fit(X, Y)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                print(f"  busy processes {busy}, pool {pool:11s}: wall {wall:6.2f} s, CPU {cpu:6.2f} s, "
                      f"CPU/wall {cpu / wall:4.2f}, load before {load:.2f}")
        finally:
            _threads.free_cpus = adaptive
            for p in procs:
                p.kill()
                p.wait()


def _steal_ticks() -> int | None:
    """The guest's stolen CPU time so far (``/proc/stat``'s eighth ``cpu`` field, clock ticks)."""
    try:
        with open("/proc/stat") as fh:
            return int(fh.readline().split()[8])
    except (OSError, ValueError, IndexError):
        return None


def drift(args) -> None:
    from fastdci.regressors import GradientBoostedStumps

    X, Y = reference_code(args.code, args.rows)
    kw = dict(n_rounds=args.rounds, max_depth=args.depth, device="cpu")
    GradientBoostedStumps(**kw).fit(X, Y)  # compile and warm up

    def fits(n):
        out = []
        for _ in range(n):
            t0, c0 = time.perf_counter(), time.process_time()
            GradientBoostedStumps(**kw).fit(X, Y)
            out.append(f"{time.process_time() - c0:.2f}/{time.perf_counter() - t0:.2f}")
        return " ".join(out)

    print(f"rows {args.rows}, depth {args.depth}, rounds {args.rounds}; CPU/wall s per fit")
    steal = _steal_ticks()
    print(f"  back to back:            {fits(args.before)}")
    time.sleep(args.pause)
    print(f"  after {args.pause:g} s of sleep:   {fits(args.after)}")
    if steal is not None:
        print(f"  steal time meanwhile: {(_steal_ticks() - steal) / os.sysconf('SC_CLK_TCK'):.2f} s")


def _cases():
    Xa, Ya = reference_code("aligned", 10_000)
    Xm, Ym = reference_code("mixed", 10_000)
    Xs, Ys = synthetic(40_000, seed=5)
    rng = np.random.default_rng(7)
    Xb = rng.normal(size=(3_001, 4))
    Yb = np.stack([(Xb[:, 0] > 0).astype(int), np.zeros(3_001, int), np.digitize(Xb[:, 1], [-1, 0, 1])], 1)
    Xq = np.round(rng.normal(size=(2_000, 3)), 1)  # few distinct values: exact bins, many ties
    Yq = np.digitize(Xq[:, :2] + 0.3 * rng.normal(size=(2_000, 2)), [-0.5, 0.5])
    yield "aligned-d1", Xa, Ya, dict(max_depth=1, n_rounds=40)
    yield "aligned-d2", Xa, Ya, dict(max_depth=2, n_rounds=20)
    yield "aligned-d3", Xa, Ya, dict(max_depth=3, n_rounds=40)
    yield "aligned-d3-newton", Xa, Ya, dict(max_depth=3, n_rounds=20, criterion="newton")
    yield "mixed2-d3", Xm, Ym[:, :2], dict(max_depth=3, n_rounds=100)
    yield "mixed2-d1", Xm, Ym[:, :2], dict(max_depth=1, n_rounds=100)
    yield "synthetic40k-d3", Xs, Ys, dict(max_depth=3, n_rounds=8)
    yield "synthetic40k-d1-newton", Xs, Ys, dict(max_depth=1, n_rounds=8, criterion="newton")
    yield "binary-oneclass-d2", Xb, Yb, dict(max_depth=2, n_rounds=30, max_bins=16)
    yield "ties-d3", Xq, Yq, dict(max_depth=3, n_rounds=30, random_state=3)


def _kernels_at(rev: str, tmp: Path):
    """The booster's modules as they were at git revision ``rev``, imported from copies in
    ``tmp`` (their relative imports made absolute: the helpers come from the working tree):
    ``boosting``, ``boosting_trees``, the module that held ``predict_raw`` and
    ``argmax_classes`` then (``boosting_predict``, or ``boosting_trees`` before it existed),
    and the engine's ``boost_numba`` (``regressors/_stumps_engines.py``, calling those
    kernels)."""
    import importlib.util
    import subprocess

    mods = {}
    files = {"boosting": "kernels/boosting", "boosting_trees": "kernels/boosting_trees",
             "boosting_predict": "kernels/boosting_predict", "engines": "regressors/_stumps_engines"}
    for name, file in files.items():
        got = subprocess.run(["git", "show", f"{rev}:fastdci/{file}.py"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parents[1])
        if got.returncode != 0 and name == "boosting_predict":
            mods[name] = mods["boosting_trees"]
            continue
        got.check_returncode()
        package = "fastdci." + file.split("/")[0]
        text = got.stdout.replace("from ..", "from fastdci.").replace("from .", f"from {package}.")  # absolute
        path = tmp / f"at_{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"at_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods[name] = mod
    eng = mods["engines"]
    eng.kb, eng.kt = mods["boosting"], mods["boosting_trees"]
    return mods["boosting"], mods["boosting_trees"], mods["boosting_predict"], eng.boost_numba


def ab(args) -> None:
    import tempfile

    import fastdci.regressors._stumps_engines as eng
    import fastdci.regressors.stumps as st
    from fastdci.regressors import GradientBoostedStumps

    X, Y = (synthetic(args.rows) if args.code == "synthetic" else reference_code(args.code, args.rows))
    Y = Y[:, : args.factors]
    kw = dict(n_rounds=args.rounds, max_depth=args.depth, device="cpu")
    now = (eng.kb, eng.kt, st.kp, st.boost_numba)
    model = GradientBoostedStumps(**kw).fit(X, Y) if args.predict else None

    def run():  # one fit, or ten predictions of the rows by the fitted model
        if model is None:
            GradientBoostedStumps(**kw).fit(X, Y)
        else:
            for _ in range(10):
                model.predict(X)

    with tempfile.TemporaryDirectory() as tmp:
        then = _kernels_at(args.rev, Path(tmp))
        try:
            for mods in (then, now):  # compile both
                eng.kb, eng.kt, st.kp, st.boost_numba = mods
                GradientBoostedStumps(**{**kw, "n_rounds": 2}).fit(X[:500], Y[:500]).predict(X[:500])
            ratios = []
            print(f"rows {args.rows}, classes {sum(len(np.unique(y)) for y in Y.T)}, depth {args.depth}, "
                  f"{'ten predictions' if model else 'fit'}: CPU / wall s, kernels and engine at {args.rev}, "
                  f"the working tree's (in turn, who goes first alternating)")
            for i in range(args.pairs):
                cpu = {}
                for which in ((0, 1) if i % 2 == 0 else (1, 0)):  # who goes first alternates
                    eng.kb, eng.kt, st.kp, st.boost_numba = (then, now)[which]
                    t0, c0 = time.perf_counter(), time.process_time()
                    run()
                    cpu[which] = (time.process_time() - c0, time.perf_counter() - t0)
                ratios.append(cpu[0][0] / cpu[1][0])
                print(f"  {cpu[0][0]:.2f} / {cpu[0][1]:.2f}   {cpu[1][0]:.2f} / {cpu[1][1]:.2f}   "
                      f"ratio {ratios[-1]:.2f}")
            print(f"median CPU ratio (then / now): {np.median(ratios):.3f}")
        finally:
            eng.kb, eng.kt, st.kp, st.boost_numba = now


def _fit_arrays():
    from fastdci.regressors import GradientBoostedStumps

    out = {}
    for name, X, Y, kw in _cases():
        m = GradientBoostedStumps(device="cpu", **kw).fit(X, Y)
        t = m.trees_
        for field in ("feat", "thr", "gain", "values", "init"):
            out[f"{name}/{field}"] = getattr(t, field)
        out[f"{name}/importances"] = m.feature_importances_
    return out


def record(path: str) -> None:
    np.savez(path, **_fit_arrays())
    print(f"recorded {path}")


def check(path: str) -> int:
    ref = np.load(path)
    new = _fit_arrays()
    bad = 0
    for key in ref.files:
        a, b = ref[key], new[key]
        same = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        if not same:
            bad += 1
            diff = np.max(np.abs(a - b)) if a.shape == b.shape else "shape"
            print(f"DIFFERS {key}: max abs diff {diff}")
    print(f"{len(ref.files) - bad} of {len(ref.files)} arrays bit-identical")
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("profile")
    pp.add_argument("--rows", type=int, default=10_000)
    pp.add_argument("--rounds", type=int, default=100)
    pp.add_argument("--depth", type=int, default=3)
    pp.add_argument("--criterion", default="friedman_mse")
    pp.add_argument("--code", default="aligned")
    pp.add_argument("--factors", type=int, default=5)
    pc = sub.add_parser("contention")
    pc.add_argument("--rows", type=int, default=10_000)
    pc.add_argument("--rounds", type=int, default=100)
    pc.add_argument("--depth", type=int, default=3)
    pc.add_argument("--code", default="aligned")
    pc.add_argument("--busy", type=int, default=1)
    pd = sub.add_parser("drift")
    pd.add_argument("--rows", type=int, default=10_000)
    pd.add_argument("--rounds", type=int, default=100)
    pd.add_argument("--depth", type=int, default=1)
    pd.add_argument("--code", default="aligned")
    pd.add_argument("--before", type=int, default=3)
    pd.add_argument("--after", type=int, default=8)
    pd.add_argument("--pause", type=float, default=2.0)
    pa = sub.add_parser("ab")
    pa.add_argument("--rev", required=True)
    pa.add_argument("--rows", type=int, default=10_000)
    pa.add_argument("--rounds", type=int, default=100)
    pa.add_argument("--depth", type=int, default=3)
    pa.add_argument("--code", default="aligned")
    pa.add_argument("--factors", type=int, default=5)
    pa.add_argument("--pairs", type=int, default=5)
    pa.add_argument("--predict", action="store_true", help="time predictions of the rows, not fits")
    for name in ("record", "check"):
        sub.add_parser(name).add_argument("path")
    args = p.parse_args(argv)
    if args.cmd == "profile":
        profile(args)
        return 0
    if args.cmd == "contention":
        contention(args)
        return 0
    if args.cmd == "drift":
        drift(args)
        return 0
    if args.cmd == "ab":
        ab(args)
        return 0
    if args.cmd == "record":
        record(args.path)
        return 0
    return check(args.path)


if __name__ == "__main__":
    sys.exit(main())
