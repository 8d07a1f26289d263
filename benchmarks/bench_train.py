"""Speed of the training engine: full-batch GD on m neurons × s samples, float64.

Prints, for m ∈ {10³, 10⁴, 10⁵} × s ∈ {10, 100}: steps/s and neuron-steps/s of the
compiled engine (``relu1d.train``, one core), and its speed relative to the numpy
reference (``backend="numpy"``, run for fewer steps), to a plain PyTorch autograd loop
and to a JAX jit + lax.scan loop when those are installed (skipped otherwise). Then the
speed-up of ``train_many`` over training the same networks one by one.

Every library is limited to one thread, so the ratios compare single-core code, and
rates are per CPU-second of this process; the machine's load average is printed, since
a shared machine still makes timings noisy.

Run: ``python benchmarks/bench_train.py [--quick] [--seconds T]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(_var, "1" if _var != "XLA_FLAGS" else
                          "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import relu1d as r1  # noqa: E402


def _rate(run, steps_hint: int, seconds: float) -> float:
    """Steps per CPU-second of ``run(n)`` (process time, so that other processes on a
    shared machine distort it less than wall time would): calibrate on a short run, then
    the best of two timings of ~``seconds``."""
    run(2)  # warm-up (compilation, caches)
    n = max(2, steps_hint)
    start = time.process_time()
    run(n)
    elapsed = time.process_time() - start
    n = max(2, int(n * seconds / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        run(n)
        best = min(best, time.process_time() - start)
    return n / best


def relu1d_runner(net, data, backend):
    def run(n):
        r1.train(net, data, lr=1e-5, steps=n, record_every=max(n, 1), progress=False, backend=backend)
    return run


def torch_runner(net, data):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x = torch.tensor(data.x, dtype=torch.float64)[:, None]
    y = torch.tensor(data.y, dtype=torch.float64)

    def run(n):
        a, b, c = (torch.tensor(np.array(p), dtype=torch.float64, requires_grad=True) for p in (net.a, net.b, net.c))
        for _ in range(n):
            loss = 0.5 * ((torch.relu(x * a - b) @ c / net.alpha - y) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p in (a, b, c):
                    p -= 1e-5 * p.grad
                    p.grad = None
    return run


def jax_runner(net, data):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x, y, alpha = jnp.asarray(data.x)[:, None], jnp.asarray(data.y), net.alpha

    def loss(params):
        a, b, c = params
        return 0.5 * jnp.sum((jax.nn.relu(x * a - b) @ c / alpha - y) ** 2)

    grad = jax.grad(loss)
    compiled = {}

    def run(n):
        if n not in compiled:
            def body(params, _):
                g = grad(params)
                return tuple(p - 1e-5 * gp for p, gp in zip(params, g)), None
            compiled[n] = jax.jit(lambda params: jax.lax.scan(body, params, None, length=n)[0])
            jax.block_until_ready(compiled[n]((jnp.asarray(net.a), jnp.asarray(net.b), jnp.asarray(net.c))))
        out = compiled[n]((jnp.asarray(net.a), jnp.asarray(net.b), jnp.asarray(net.c)))
        jax.block_until_ready(out)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m ∈ {10³, 10⁴} only, shorter timings")
    parser.add_argument("--seconds", type=float, default=1.0, help="target seconds per timing (default 1)")
    args = parser.parse_args()
    seconds = args.seconds / (3 if args.quick else 1)
    widths = (10**3, 10**4) if args.quick else (10**3, 10**4, 10**5)

    print(f"CPUs: {os.cpu_count()}, load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    header = (f"{'m':>7} {'s':>4} {'steps/s':>10} {'neuron-steps/s':>15} {'× numpy':>8} "
              f"{'× torch':>8} {'× jax':>8}")
    print(header)
    print("-" * len(header))
    for m in widths:
        for s in (10, 100):
            net = r1.init_network(m, seed=0)
            data = r1.datasets.sinusoid(s, seed=0)
            fast = _rate(relu1d_runner(net, data, "numba"), 200, seconds)
            ref = _rate(relu1d_runner(net, data, "numpy"), 5, seconds / 2)
            others = []
            for make in (torch_runner, jax_runner):
                run = make(net, data)
                others.append(f"{fast / _rate(run, 5, seconds / 2):8.1f}" if run is not None else f"{'n/a':>8}")
            print(f"{m:>7} {s:>4} {fast:>10.4g} {fast * m:>15.3g} {fast / ref:>8.1f} {others[0]} {others[1]}",
                  flush=True)

    m, s, k = 10**4, 10, 4
    nets = [r1.init_network(m, seed=i) for i in range(k)]
    data = r1.datasets.sinusoid(s)
    steps = max(500, int(10_000 * seconds))
    kw = dict(lr=1e-5, steps=steps, record_every=steps)
    r1.train_many(nets[:2], data, **{**kw, "steps": 10})  # warm-up
    one_by_one = many = float("inf")
    for _ in range(2):  # wall time (that is what parallelism saves): best of two
        start = time.perf_counter()
        for net in nets:
            r1.train(net, data, progress=False, **kw)
        one_by_one = min(one_by_one, time.perf_counter() - start)
        start = time.perf_counter()
        r1.train_many(nets, data, **kw)
        many = min(many, time.perf_counter() - start)
    print(f"\ntrain_many: {k} networks, m={m}, s={s}, {steps} steps: one by one {one_by_one:.2f} s, "
          f"train_many {many:.2f} s (× {one_by_one / many:.2f} on {os.cpu_count()} CPUs)")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
