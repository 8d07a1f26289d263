"""Langevin (batch size 1) speed of two revisions of relu1d, timed alternately.

``bench_train.py`` times the Langevin rows against the engine with numpy noise *as it
runs today* (today's noiseless kernels, numpy's ``standard_normal`` per chunk). This
script instead times the real code of an older revision beside the working tree's, so
that "× faster than before" means what it says: each revision runs in its own
interpreter (``git archive REV src`` unpacked into a temporary folder, put first on
``PYTHONPATH``), in rounds that alternate old and new, and the rate of each is the best
over the rounds. The default revision, 609648a, is the last one before the counter-based
noise: the engine issue 15 measured.

Usage::

    python benchmarks/bench_revisions.py                 # about 1-2 min (+ the old
                                                         # revision's first compilation)
    python benchmarks/bench_revisions.py --rev HEAD~3 --m 1000 --rounds 5

Needs git and the repository's history (a clone, not an sdist). Times CPU seconds of
``relu1d.train`` in steps of doubling length until one takes ``--seconds``/4, then the
best of two such runs; T = 10⁻⁴, lr = 1/λ_max(NTK₀) as in ``bench_train.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# runs inside each revision's interpreter: only public names that every revision has
_WORKER = r"""
import json, sys, time
import relu1d as r1
m, lr, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
net = r1.init_network(m, seed=0)
data = r1.datasets.sinusoid(10, seed=0)
kw = dict(method="langevin", batch_size=1, temperature=1e-4, seed=0)
def run(n):
    return r1.train(net, data, lr=lr, steps=n, record_every=n, progress=False, **kw)
run(10)  # load (or compile) the kernels
n = 200
while True:
    t = time.process_time(); run(n); dt = time.process_time() - t
    if dt > seconds / 4:
        break
    n *= 2
best = 0.0
for _ in range(2):
    t = time.process_time(); traj = run(n); dt = time.process_time() - t
    best = max(best, n * m / dt)
print(json.dumps({"rate": best, "final_loss": float(traj.loss[-1]), "module": r1.__file__}))
"""


def _lr(m: int) -> float:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import relu1d as r1
    from bench_train import ntk_lambda_max

    return 1.0 / ntk_lambda_max(r1.init_network(m, seed=0), r1.datasets.sinusoid(10, seed=0))


def _rate(src: Path, m: int, lr: float, seconds: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", _WORKER, str(m), repr(lr), str(seconds)],
                          env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"the run in {src} failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["module"].startswith(str(src)):
        raise SystemExit(f"imported {out['module']}, not the code in {src}")
    return out


def _unpack(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {rev} failed: {archive.stderr.decode().strip()} "
                         "(this script needs the repository's history)")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="609648a",
                        help="the older revision (default: the engine before the "
                             "counter-based noise)")
    parser.add_argument("--m", type=int, action="append",
                        help="widths (repeatable; default 10³ and 10⁴)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="target CPU seconds per timing (default 1)")
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be >= 1 and --seconds > 0")
    widths = args.m or [10**3, 10**4]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="relu1d-rev-") as tmp:
        old = _unpack(args.rev, Path(tmp))
        new = ROOT / "src"
        print(f"{args.rev} (in {old}) against the working tree ({new}); Langevin, batch 1, "
              f"T = 1e-4, s = 10, lr = 1/λ_max(NTK₀); {args.rounds} alternating rounds",
              flush=True)
        for m in widths:
            lr = _lr(m)
            rates: dict[str, list[float]] = {"old": [], "new": []}
            for r in range(args.rounds):
                for name, src in (("old", old), ("new", new)):
                    rates[name].append(_rate(src, m, lr, args.seconds)["rate"])
                print(f"  m = {m}, round {r + 1}: old {rates['old'][-1]:.3g}, "
                      f"new {rates['new'][-1]:.3g} neuron-steps/s "
                      f"(× {rates['new'][-1] / rates['old'][-1]:.2f})", flush=True)
            best_old, best_new = max(rates["old"]), max(rates["new"])
            per_round = [n / o for o, n in zip(rates["old"], rates["new"])]
            print(f"m = {m}: {args.rev} {best_old:.3g} → working tree {best_new:.3g} "
                  f"neuron-steps/s: × {best_new / best_old:.2f} (best against best; per round "
                  f"× {min(per_round):.2f}–{max(per_round):.2f})", flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
