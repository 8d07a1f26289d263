"""Speed of the training engine at a realistic step size, float64, one thread.

Every row trains from the same initial network (``init_network(m, seed=0)``) on
``datasets.sinusoid(s, seed=0)`` at the step size lr = 1/λ_max(NTK₀), λ_max the
largest eigenvalue of the neural tangent kernel at initialisation, K = J Jᵀ with J
the (s × 3m) Jacobian of ``relu1d.hessian.jacobian``. The loss is ½Σ(f − y)², whose
Hessian near initialisation is ≈ JᵀJ (same non-zero spectrum as K), so GD at 1/λ_max
is stable and the knots move as they do in real training (a tiny lr would keep every
neuron in its initial group and flatter the grouped path).

Rows:

* GD, m ∈ {10³, 10⁴, 10⁵} × s ∈ {10, 100} (``--quick``: m ≤ 10⁴);
* SGD and Langevin (``method="sgd"`` / ``"langevin"``, batch_size = 1, temperature
  T = 10⁻⁴), m ∈ {10³, 10⁴}. Langevin rows also time the engine as it was before the
  noise moved into the kernels ("before": the same steps without noise plus numpy's
  ``standard_normal`` drawing the same number of Gaussians in the same chunks, which is
  what the old engine did; neither its ``_add_noise`` loop nor its slower batch-size-1
  steps (a table gather per neuron, ~0.8 ns more per neuron-step) are counted, so
  "before" is flattered), and print the speed-up after/before measured in this run;
* the exact gradient flow (``method="flow"``) at m = 100, s = 10 up to time 5·lr,
  against scipy's DOP853 on the reference gradient at the same tolerances (a longer
  time is out of the reference's reach: once a knot slides along a sample (Filippov
  sliding) DOP853 chatters across the kink and stalls, so its run is cut after a CPU
  budget and the ratio then printed as a lower bound ">");
* ``train_many`` (4 networks, all CPUs) against training them one by one, in wall
  seconds, next to the speed-up two threads of a pure compiled loop get at that moment
  (:func:`parallel_ceiling`): ``train_many`` can only gain what the machine grants.

For each row: steps per CPU-second of ``relu1d.train`` (the compiled engine), the
same for the plain numpy reference (``backend="numpy"``, ``relu1d.train._reference``,
same process, fewer steps), their ratio, and the ratio to a PyTorch eager loop and a
JAX ``jit`` + ``fori_loop`` loop when those are importable ("not installed"
otherwise; ``pip install -e .[bench]`` brings JAX). Each row also checks that relu1d
and the reference give the same losses (the largest relative difference over the
recorded losses of a run of the reference's length; the JAX GD loss likewise).

Rates are per CPU-second of this process (``time.process_time``), best of two
timings, so other work on a shared machine distorts them less than wall time; the
load average is printed before and after. ``train_many`` is timed in wall seconds,
since that is what threads save. The last lines are a markdown table for the README.

Run: ``python benchmarks/bench_train.py [--quick] [--seconds T] [--only GROUP ...]`` (groups:
gd, sgd, langevin, flow, many).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

import relu1d as r1  # noqa: E402
from relu1d.hessian import jacobian  # noqa: E402
from relu1d.train import _reference  # noqa: E402

TEMPERATURE = 1e-4
FLOW_M, FLOW_S, FLOW_STEPS = 100, 10, 5
GROUPS = ("gd", "sgd", "langevin", "flow", "many")
MANY = 4


# ----------------------------------------------------------------------------- helpers
def ntk_lambda_max(net, data, chunk: int = 20_000) -> float:
    """Largest eigenvalue of K = J Jᵀ (s × s), summed over blocks of neurons (J's
    columns split by neuron, so K = Σ_blocks J_b J_bᵀ exactly) to bound memory."""
    kernel = np.zeros((data.s, data.s))
    for i in range(0, net.m, chunk):
        sl = slice(i, i + chunk)
        jac = jacobian(r1.Network(net.a[sl], net.b[sl], net.c[sl], alpha=net.alpha), data)
        kernel += jac @ jac.T
    return float(np.linalg.eigvalsh(kernel)[-1])


def _rate(run, steps_hint: int, seconds: float) -> tuple[float, int]:
    """(steps per CPU-second, steps per timing) of ``run(n)``: warm up, calibrate on
    ``steps_hint`` steps, then the best of two timings of about ``seconds``."""
    run(2)
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
    return n / best, n


def _sci(v: float) -> str:
    """3 significant digits, powers of ten as ·10ⁿ (markdown-friendly)."""
    if not np.isfinite(v):
        return "—"
    if 100 <= abs(v) < 1e4:
        return f"{v:.0f}"
    if 1e-2 <= abs(v) < 100:
        return f"{v:.3g}"
    mant, exp = f"{v:.2e}".split("e")
    sup = str(int(exp)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mant}·10{sup}"


def _pow10(m: int) -> str:
    e = int(round(np.log10(m)))
    return (
        f"10{str(e).translate(str.maketrans('0123456789', '⁰¹²³⁴⁵⁶⁷⁸⁹'))}" if 10**e == m else str(m)
    )


def _max_rel(u, v) -> float:
    u, v = np.asarray(u, float), np.asarray(v, float)
    return float(np.max(np.abs(u - v) / np.maximum(np.abs(v), 1e-300)))


@dataclass
class Row:
    run: str
    m: int
    s: int
    lr: float
    steps: int = 0           # steps per relu1d timing
    steps_ref: int = 0       # steps per reference timing
    rate: float = np.nan     # relu1d steps / CPU-s
    ref_rate: float = np.nan
    peers: dict = field(default_factory=dict)   # name -> relu1d rate / peer rate, or None
    loss_diff: float = np.nan
    peer_diff: dict = field(default_factory=dict)
    ref_bound: bool = False  # the reference hit its budget: ref_rate is an upper bound
    before_rate: float = np.nan  # Langevin: the engine with numpy noise (see numpy_noise_runner)


# ----------------------------------------------------------------------------- runners
def relu1d_runner(net, data, lr, backend, **kw):
    def run(n, record_every=None):
        return r1.train(
            net,
            data,
            lr=lr,
            steps=n,
            record_every=record_every or max(n, 1),
            progress=False,
            backend=backend,
            **kw,
        )
    return run


def torch_runner(net, data, lr, method):
    """Eager PyTorch GD (autograd) on the same loss; None when torch is missing or the
    method has no PyTorch loop here."""
    if method != "gd":
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x = torch.tensor(data.x, dtype=torch.float64)[:, None]
    y = torch.tensor(data.y, dtype=torch.float64)

    def run(n):
        a, b, c = (
            torch.tensor(np.array(p), dtype=torch.float64, requires_grad=True)
            for p in (net.a, net.b, net.c)
        )
        for _ in range(n):
            loss = 0.5 * ((torch.relu(x * a - b) @ c / net.alpha - y) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p in (a, b, c):
                    p -= lr * p.grad
                    p.grad = None
        with torch.no_grad():
            return float(0.5 * ((torch.relu(x * a - b) @ c / net.alpha - y) ** 2).sum())
    return run


def jax_runner(net, data, lr, method):
    """JAX ``jit`` of a ``fori_loop`` (the step count is a traced argument, so one
    compilation serves every n). GD: the full-batch loss; SGD: one sample drawn
    uniformly per step (with replacement); Langevin: the same plus N(0, 2·lr·T) noise on
    every parameter. Returns the final data loss. None when JAX is missing."""
    if method not in ("gd", "sgd", "langevin"):
        return None
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x, y, alpha = jnp.asarray(data.x), jnp.asarray(data.y), net.alpha
    params0 = (jnp.asarray(net.a), jnp.asarray(net.b), jnp.asarray(net.c))

    def loss(params, xb, yb):
        a, b, c = params
        return 0.5 * jnp.sum((jax.nn.relu(xb[:, None] * a - b) @ c / alpha - yb) ** 2)

    grad = jax.grad(loss)
    scale = float(np.sqrt(2 * lr * TEMPERATURE))

    if method == "gd":
        @jax.jit
        def steps(params, n):
            def body(_, p):
                return tuple(q - lr * g for q, g in zip(p, grad(p, x, y)))
            p = jax.lax.fori_loop(0, n, body, params)
            return loss(p, x, y)
    elif method == "sgd":
        @jax.jit
        def steps(params, n):
            def body(_, carry):
                p, key = carry
                key, kj = jax.random.split(key)
                j = jax.random.randint(kj, (1,), 0, x.shape[0])
                g = grad(p, x[j], y[j])
                return tuple(q - lr * gq for q, gq in zip(p, g)), key
            p, _ = jax.lax.fori_loop(0, n, body, (params, jax.random.PRNGKey(0)))
            return loss(p, x, y)
    else:
        @jax.jit
        def steps(params, n):
            def body(_, carry):
                p, key = carry
                key, kj, ka, kb, kc = jax.random.split(key, 5)
                j = jax.random.randint(kj, (1,), 0, x.shape[0])
                g = grad(p, x[j], y[j])
                p = tuple(q - lr * gq + scale * jax.random.normal(k, q.shape, q.dtype)
                          for q, gq, k in zip(p, g, (ka, kb, kc)))
                return p, key
            p, _ = jax.lax.fori_loop(0, n, body, (params, jax.random.PRNGKey(0)))
            return loss(p, x, y)

    def run(n):
        return float(jax.block_until_ready(steps(params0, n)))
    return run


PEERS = {"PyTorch": torch_runner, "JAX": jax_runner}


def numpy_noise_runner(net, data, lr, chunk_numbers: int = 1 << 20, **kw):
    """The Langevin engine as it was: the same steps without noise (``temperature=0``:
    bit for bit the sgd path) plus numpy drawing the noise, ``standard_normal((n, 3, m))``
    in chunks of at most ``chunk_numbers`` numbers, as ``_run_steps`` did before the
    noise moved into the kernels."""
    quiet = relu1d_runner(net, data, lr, "numba", **{**kw, "temperature": 0.0})
    rng = np.random.default_rng(0)
    cap = max(1, chunk_numbers // (3 * net.m))

    def run(n):
        quiet(n)
        left = n
        while left > 0:
            k = min(left, cap)
            rng.standard_normal((k, 3, net.m))
            left -= k
    return run


def peer_status() -> dict:
    status = {}
    for name, module in (("PyTorch", "torch"), ("JAX", "jax")):
        try:
            __import__(module)
            status[name] = True
        except ImportError:
            status[name] = False
    return status


# ----------------------------------------------------------------------------- rows
def bench_row(run_name: str, m: int, s: int, seconds: float, method: str = "gd") -> Row:
    net = r1.init_network(m, seed=0)
    data = r1.datasets.sinusoid(s, seed=0)
    lr = 1.0 / ntk_lambda_max(net, data)
    kw = {
        "gd": {},
        "sgd": dict(method="sgd", batch_size=1, seed=0),
        "langevin": dict(method="langevin", batch_size=1, temperature=TEMPERATURE, seed=0),
    }[method]
    row = Row(run_name, m, s, lr)
    fast = relu1d_runner(net, data, lr, "numba", **kw)
    ref = relu1d_runner(net, data, lr, "numpy", **kw)
    row.rate, row.steps = _rate(fast, 500, seconds)
    if method == "langevin":
        row.before_rate, _ = _rate(numpy_noise_runner(net, data, lr, **kw), 100, seconds)
    row.ref_rate, row.steps_ref = _rate(ref, 5, seconds / 2)
    # losses of a run of the reference's length, recorded ~10 times, on both backends
    every = max(1, row.steps_ref // 10)
    tf, tr = fast(row.steps_ref, every), ref(row.steps_ref, every)
    row.loss_diff = _max_rel(tf.data_loss, tr.data_loss)
    for name, make in PEERS.items():
        run = make(net, data, lr, method)
        if run is None:
            row.peers[name] = None
            continue
        peer_rate, _ = _rate(run, 5, seconds / 2)
        row.peers[name] = row.rate / peer_rate
        if method == "gd":  # same arithmetic up to rounding: the losses must agree
            row.peer_diff[name] = _max_rel(run(row.steps_ref), tf.data_loss[-1])
    return row


def bench_flow(seconds: float) -> Row:
    """The exact flow (events at kinks) to time T = FLOW_STEPS·lr against scipy's
    DOP853 on the dense reference gradient, same rtol/atol (the reference steps
    through the kinks, so the two agree to the tolerance, not to rounding)."""
    from scipy.integrate import solve_ivp

    net = r1.init_network(FLOW_M, seed=0)
    data = r1.datasets.sinusoid(FLOW_S, seed=0)
    lr = 1.0 / ntk_lambda_max(net, data)
    rtol, atol = 1e-8, 1e-10
    m, alpha = net.m, net.alpha
    t_end = FLOW_STEPS * lr

    def rhs(_t, z):
        _, ga, gb, gc = _reference.loss_and_grad(
            z[:m], z[m : 2 * m], z[2 * m :], alpha, data.x, data.y
        )
        return -np.concatenate((ga, gb, gc))

    out = {}

    def fast(_n):
        out["fast"] = r1.train(
            net,
            data,
            method="flow",
            lr=lr,
            steps=FLOW_STEPS,
            record_every=FLOW_STEPS,
            rtol=rtol,
            atol=atol,
            progress=False,
        ).data_loss[-1]

    class _OverBudget(Exception):
        pass

    budget = 10 * seconds

    def ref(_n):
        start = time.process_time()

        def field_(_t, z):
            if time.process_time() - start > budget:
                raise _OverBudget
            return rhs(_t, z)

        try:
            z = solve_ivp(
                field_,
                (0, t_end),
                np.concatenate((net.a, net.b, net.c)),
                method="DOP853",
                rtol=rtol,
                atol=atol,
            ).y[:, -1]
        except _OverBudget:
            out["ref"], out["over"] = np.nan, True
            return
        out["ref"] = _reference.data_loss(
            z[:m], z[m : 2 * m], z[2 * m :], alpha, data.x, data.y, False
        )

    def timed(fn, repeats=1):
        """Best of two timings of ``repeats`` calls, per call (CPU seconds)."""
        fn(0)
        best = float("inf")
        for _ in range(2):
            start = time.process_time()
            for _ in range(repeats):
                fn(0)
            best = min(best, (time.process_time() - start) / repeats)
        return best

    row = Row("flow", m, data.s, lr, steps=FLOW_STEPS, steps_ref=FLOW_STEPS)
    row.rate, row.ref_rate = FLOW_STEPS / timed(fast, repeats=20), FLOW_STEPS / timed(ref)
    row.loss_diff = _max_rel(out["fast"], out["ref"])
    row.ref_bound = out.get("over", False)
    row.peers = {name: None for name in PEERS}
    return row


def parallel_ceiling(seconds: float = 0.5) -> float:
    """Speed-up of two threads running a pure compiled loop (numba, GIL released) over
    one: what the machine grants this process right now, the ceiling of any thread
    parallelism including ``train_many``'s (≈ 2 with an idle second core, ≈ 1 when other
    work holds the cores or a CPU quota caps the process)."""
    import threading

    from numba import njit

    @njit(nogil=True, cache=False)
    def burn(n):
        acc = 0.0
        for i in range(n):
            acc += np.sqrt(i + acc * 1e-300)
        return acc

    burn(10)
    n = 10_000_000
    start = time.perf_counter()
    burn(n)
    n = max(n, int(n * seconds / max(time.perf_counter() - start, 1e-9)))
    start = time.perf_counter()
    burn(n)
    one = time.perf_counter() - start
    threads = [threading.Thread(target=burn, args=(n,)) for _ in range(2)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return 2 * one / (time.perf_counter() - start)


def bench_many(m: int, s: int, seconds: float) -> dict:
    """Wall seconds for MANY networks one by one vs ``train_many`` (all CPUs)."""
    nets = [r1.init_network(m, seed=i) for i in range(MANY)]
    data = r1.datasets.sinusoid(s, seed=0)
    lr = 1.0 / ntk_lambda_max(nets[0], data)
    start = time.perf_counter()
    r1.train(nets[0], data, lr=lr, steps=200, record_every=200, progress=False)
    per_step = (time.perf_counter() - start) / 200
    steps = max(200, int(seconds / MANY / per_step))
    kw = dict(lr=lr, steps=steps, record_every=steps)
    r1.train_many(nets[:2], data, **{**kw, "steps": 10})  # warm-up
    load = os.getloadavg()[0]
    ceiling = parallel_ceiling()
    seq = many = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        for net in nets:
            r1.train(net, data, progress=False, **kw)
        seq = min(seq, time.perf_counter() - start)
        start, cpu = time.perf_counter(), time.process_time()
        r1.train_many(nets, data, **kw)
        wall = time.perf_counter() - start
        if wall < many:
            many, busy = wall, (time.process_time() - cpu) / wall
    return dict(m=m, s=s, steps=steps, seq=seq, many=many, load=load, ceiling=ceiling, busy=busy)


# ----------------------------------------------------------------------------- output
def markdown(rows: list[Row], peers_ok: dict) -> str:
    head = (
        "| run | m | s | lr = 1/λ_max | steps timed (relu1d / numpy) | relu1d steps/s | "
        "neuron-steps/s "
        "| × numpy reference | × PyTorch | × JAX | max rel. loss diff vs reference |"
    )
    lines = [head, "|" + "---|" * 3 + "---:|" * 8]
    for r in rows:
        peers = []
        for name in PEERS:
            v = r.peers.get(name)
            peers.append(
                f"{v:.1f}" if v is not None else ("not installed" if not peers_ok[name] else "—")
            )
        lines.append(
            f"| {r.run} | {_pow10(r.m)} | {r.s} | {r.lr:.3g} | {_sci(r.steps)} / "
            f"{_sci(r.steps_ref)} "
            f"| {_sci(r.rate)} | {_sci(r.rate * r.m)} | "
            f"{'> ' if r.ref_bound else ''}{r.rate / r.ref_rate:.0f} "
            f"| {peers[0]} | {peers[1]} | {r.loss_diff:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m ≤ 10⁴ only, shorter timings")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="target CPU seconds per timing (default 1)"
    )
    parser.add_argument("--only", action="append", choices=GROUPS,
                        help="run only these groups of rows (repeatable; default all)")
    args = parser.parse_args()
    if not args.seconds > 0:
        parser.error("--seconds must be > 0")
    groups = set(args.only or GROUPS)
    seconds = args.seconds / (3 if args.quick else 1)
    widths = (10**3, 10**4) if args.quick else (10**3, 10**4, 10**5)
    peers_ok = peer_status()
    t0 = time.perf_counter()

    print(
        f"CPUs: {os.cpu_count()}, load average before: "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(
        "peers: "
        + ", ".join(f"{k} {'installed' if v else 'not installed'}" for k, v in peers_ok.items())
    )
    rows = []
    for m in widths if "gd" in groups else ():
        for s in (10, 100):
            rows.append(bench_row("GD", m, s, seconds))
            print(f"  GD m={m} s={s} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    for m in (10**3, 10**4) if "sgd" in groups else ():
        rows.append(bench_row("SGD, batch 1", m, 10, seconds, method="sgd"))
        print(f"  SGD m={m} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    for m in (10**3, 10**4) if "langevin" in groups else ():
        rows.append(bench_row("Langevin, batch 1", m, 10, seconds, method="langevin"))
        print(f"  Langevin m={m} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    if "flow" in groups:
        rows.append(bench_flow(seconds))
        print(f"  flow done ({time.perf_counter() - t0:.0f} s)", flush=True)

    many = [bench_many(10**4, 10, 4 * seconds)] if "many" in groups else []
    if many and not args.quick:
        many.append(bench_many(10**5, 100, 4 * seconds))

    print(
        f"\nlr = 1/λ_max(NTK at init); Langevin T = {TEMPERATURE:g}; flow to t = {FLOW_STEPS}·lr "
        f"(\"steps/s\" = lr-units of flow time per CPU-second; "
        "reference: scipy DOP853, same rtol/atol)"
    )
    for r in rows:
        extra = "".join(f", vs {k} {v:.1e}" for k, v in r.peer_diff.items())
        print(
            f"  {r.run:>18} m={r.m:<6} s={r.s:<4} max rel. loss diff vs reference "
            f"{r.loss_diff:.1e}{extra}"
        )
    print()
    print(markdown(rows, peers_ok))
    print()
    for r in rows:
        if np.isfinite(r.before_rate):
            print(
                f"Langevin m = {_pow10(r.m)}, batch 1: before (numpy noise) "
                f"{_sci(r.before_rate * r.m)} → after "
                f"(in-kernel counter-based noise) {_sci(r.rate * r.m)} neuron-steps/s: × "
                f"{r.rate / r.before_rate:.2f}"
            )
    print()
    for d in many:
        print(
            f"train_many: {MANY} networks, m = {_pow10(d['m'])}, s = {d['s']}, {d['steps']} GD "
            "steps each: "
            f"one by one {d['seq']:.2f} s, train_many {d['many']:.2f} s wall "
            f"(× {d['seq'] / d['many']:.2f} on {os.cpu_count()} CPUs, using {d['busy']:.2f} cores "
            "on average; "
            f"load average {d['load']:.2f}; two threads of a pure compiled loop got × "
            f"{d['ceiling']:.2f})"
        )
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"total {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
