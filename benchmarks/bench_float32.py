"""Is a float32 path worth it for full-batch GD at m >= 10⁵? (issue 15, item 7)

The prototype is the library's own segment kernel (``_kernels._advance_segments``, the
path every full-batch GD step at these widths takes) compiled a second time for float32
parameters: the module's source is re-executed with ``cache=False`` (so nothing is
written to the library's numba cache) and called with float32 arrays for the state
(a, b, c and their grouped copies), while every accumulator (the segments' sums Σwp,
Σwq, the residuals and their prefix sums, the per-segment (P⁰, P¹)) stays float64, as do
the data and the arithmetic of each update (float32 loads are widened, the result
rounded to float32 on store). One change is made to the clone: the test whether a
neuron leaves its segment reads the stored (rounded) parameters, so that the grouping
stays exact in float32 (for float64 the two are the same numbers), and the swap buffer
of the canonical path takes the state's dtype.

For each (m, s): CPU time per step of the library's float64 kernel, of the clone in
float64 (same code, to show the clone is the library) and in float32; the speed-up
float64/float32; and the accuracy lost after ``--steps`` steps: the relative
difference of the final loss and the largest parameter difference relative to the
largest parameter, float32 against float64.

The step size is 1/λ_max of the NTK at initialisation, as in ``bench_train.py``; with
``init_network``'s α = √m the NTK K = J Jᵀ is an average over neurons, so λ_max is
computed on the first 10⁴ neurons and scaled by m/10⁴ (the sum of K over blocks of
neurons) instead of forming J for 10⁶ neurons.

Run: ``python benchmarks/bench_float32.py [--quick] [--seconds T] [--steps N]``.

Measured (issue 15, item 7; 2 cores shared with other work, load 3–9; two runs):
float64/float32 time = 0.62–1.17 at m = 10⁵ and 0.85–1.36 at m = 10⁶ over s = 10, 100,
1000, i.e. no gain beyond the noise of the machine, while float32 storage moves the
parameters by ≈ 5·10⁻⁶ of their size and the loss by 10⁻⁹–10⁻⁸ (relative) within 200
steps. Why: the segment step costs 2.5–3.6 ns per neuron (6–9 cycles) and its hot data
(the grouped a, b, c: 24 MB at m = 10⁶) stays in the 32 MB L3, so it is bound by the
per-neuron arithmetic (the update and the exact test whether the knot left its
interval), not by memory traffic; halving the bytes buys nothing and the float32 ↔
float64 conversions cost a little. The library therefore stays float64; a kernel doing
its arithmetic in float32 (8 lanes) might be faster but would lose accuracy that float64
accumulators do not restore, and was not built.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import inspect  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

import relu1d as r1  # noqa: E402
from bench_train import ntk_lambda_max  # noqa: E402
from relu1d.train import _kernels  # noqa: E402

_STAYS_OLD = "flag = 0 if _stays(na, nbias, positive, has_l, xl, has_r, xr) else 1"
_STAYS_NEW = "flag = 0 if _stays(a[i], b[i], positive, has_l, xl, has_r, xr) else 1"
_Z4_OLD = "z4 = np.empty(m)  # nothing to carry"
_Z4_NEW = "z4 = np.empty_like(zu)  # nothing to carry"


def clone_kernels() -> types.ModuleType:
    """A private copy of ``relu1d.train._kernels``: same source, no disk cache, the
    segment-leaving test on the stored parameters (see the module notes)."""
    source = inspect.getsource(_kernels)
    if source.count(_STAYS_OLD) != 1 or source.count(_Z4_OLD) != 1:
        raise RuntimeError(
            "relu1d.train._kernels changed: update bench_float32's patches of the segment path"
        )
    source = (
        source.replace("cache=True", "cache=False")
        .replace(_STAYS_OLD, _STAYS_NEW)
        .replace(_Z4_OLD, _Z4_NEW)
    )
    source = source.replace(
        "from ._compile_notice import", "from relu1d.train._compile_notice import"
    )
    module = types.ModuleType("relu1d_bench_float32_kernels")
    module.__dict__["__name__"] = module.__name__
    exec(compile(source, "<bench_float32 clone of relu1d.train._kernels>", "exec"), module.__dict__)
    return module


class Segments:
    """A full-batch GD run on the segment layout, the state in ``dtype``."""

    def __init__(self, kernels, net, data, lr, dtype):
        self.k, self.lr = kernels, lr
        self.x, self.y = np.array(data.x), np.array(data.y)
        self.state = [np.array(p, dtype=dtype) for p in (net.a, net.b, net.c)]
        m, nkeys = net.m, 2 * data.s + 2
        self.layout = (
            np.empty(m, dtype=np.int64),
            np.zeros(nkeys + 1, dtype=np.int64),
            np.empty(m, dtype=dtype),
            np.empty(m, dtype=dtype),
            np.empty(m, dtype=dtype),
            np.empty(nkeys),
            np.empty(nkeys),
        )
        self.scale = 1.0 / net.alpha
        self.reuse = False

    def run(self, n: int) -> float:
        bad, last = self.k._advance_segments(
            False,
            *self.state,
            self.scale,
            self.x,
            self.y,
            True,
            True,
            True,
            0.0,
            self.lr,
            0.0,
            False,
            n,
            *self.layout,
            self.reuse,
        )
        self.reuse = True
        if bad >= 0:
            raise FloatingPointError(f"diverged at step {bad}")
        return float(last)

    def loss(self) -> float:
        a, b, c = (p.astype(np.float64) for p in self.state)
        return float(_kernels._loss(a, b, c, self.scale, self.x, self.y, False))


def per_step(run, seconds: float) -> float:
    """CPU seconds per step of ``run(n)``: calibrate, then the best of two timings."""
    n = 5
    start = time.process_time()
    run(n)
    elapsed = time.process_time() - start
    n = max(5, int(n * seconds / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        run(n)
        best = min(best, time.process_time() - start)
    return best / n


def bench(clone, m: int, s: int, seconds: float, steps: int) -> dict:
    net = r1.init_network(m, seed=0)
    data = r1.datasets.sinusoid(s, seed=0)
    sub = min(m, 10**4)
    head = r1.Network(net.a[:sub], net.b[:sub], net.c[:sub], alpha=net.alpha)
    lr = 1.0 / (ntk_lambda_max(head, data) * m / sub)
    out = dict(m=m, s=s, lr=lr)
    for name, kernels, dtype in (("lib64", _kernels, np.float64), ("clone64", clone, np.float64),
                                 ("clone32", clone, np.float32)):
        run = Segments(kernels, net, data, lr, dtype)
        run.run(1)  # compile, lay out
        out[name] = per_step(run.run, seconds)
    # accuracy: the same number of steps from the same start
    ref, low = (
        Segments(_kernels, net, data, lr, np.float64),
        Segments(clone, net, data, lr, np.float32),
    )
    ref.run(steps)
    low.run(steps)
    out["loss0"] = Segments(_kernels, net, data, lr, np.float64).loss()
    out["loss64"], out["loss32"] = ref.loss(), low.loss()
    big = max(float(np.max(np.abs(p))) for p in ref.state)
    out["param_diff"] = (
        max(float(np.max(np.abs(p - q.astype(np.float64)))) for p, q in zip(ref.state, low.state))
        / big
    )
    out["loss_diff"] = abs(out["loss32"] - out["loss64"]) / out["loss64"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m = 10⁵ only, s ∈ {10, 1000}")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="target CPU seconds per timing (default 1)"
    )
    parser.add_argument(
        "--steps", type=int, default=200, help="steps of the accuracy comparison (default 200)"
    )
    args = parser.parse_args()
    if not args.seconds > 0 or args.steps < 1:
        parser.error("--seconds must be > 0 and --steps >= 1")
    grid = (
        [(10**5, s) for s in (10, 1000)]
        if args.quick
        else [(m, s) for m in (10**5, 10**6) for s in (10, 100, 1000)]
    )
    print(
        f"CPUs: {os.cpu_count()}, load average before: "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    t0 = time.perf_counter()
    clone = clone_kernels()
    rows = []
    for m, s in grid:
        rows.append(bench(clone, m, s, args.seconds, args.steps))
        print(f"  m={m} s={s} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(
        f"\nfull-batch GD, segment kernel, lr = 1/λ_max(NTK₀); accuracy after {args.steps} steps, "
        "float32 vs float64"
    )
    print(
        "| m | s | ns/neuron-step float64 (library) | float64 (clone) | float32 state | float64 / "
        "float32 "
        "| loss₀ → loss (float64) | rel. loss diff | max param diff / max param |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for d in rows:
        ns = [d[k] / d["m"] * 1e9 for k in ("lib64", "clone64", "clone32")]
        print(
            f"| {d['m']:.0e} | {d['s']} | {ns[0]:.2f} | {ns[1]:.2f} | {ns[2]:.2f} "
            f"| {d['clone64'] / d['clone32']:.2f} | {d['loss0']:.4g} → {d['loss64']:.4g} | "
            f"{d['loss_diff']:.1e} "
            f"| {d['param_diff']:.1e} |"
        )
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"total {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
