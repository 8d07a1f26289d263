"""relu1d.train: compiled kernels against the numpy reference, randomness, recording,
faults, Shevchenko et al.'s update, and every bad input."""

import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relu1d as r1
from relu1d.train import _api, _kernels, langevin_noise

FULL_SUBSETS = ["a", "b", "c", "ab", "ac", "bc", "abc"]
CANONICAL_SUBSETS = ["r", "t", "rt"]


def small_problem(m=40, s=10, seed=0):
    return r1.init_network(m, seed=seed), r1.datasets.square_wave(s, seed=seed)


def assert_same_run(t1, t2, tol):
    np.testing.assert_array_equal(t1.steps, t2.steps)
    np.testing.assert_allclose(t1.loss, t2.loss, rtol=tol, atol=tol)
    for name in "abc":
        np.testing.assert_allclose(
            getattr(t1.snapshots, name), getattr(t2.snapshots, name), rtol=0, atol=tol
        )
    if t1.snapshots.r is not None:
        np.testing.assert_allclose(t1.snapshots.r, t2.snapshots.r, rtol=0, atol=tol)


# ------------------------------------------------------------------ compiled == reference
METHOD_SETTINGS = {
    "gd": dict(lr=1e-2),
    "sgd": dict(lr=1e-2, batch_size=3, weight_decay=0.05),
    "langevin": dict(lr=1e-2, batch_size=4, temperature=1e-3, weight_decay=0.1, loss="mean"),
}


@pytest.mark.parametrize("path", ["dense", "sorted"])
@pytest.mark.parametrize("method", ["gd", "sgd", "langevin"])
@pytest.mark.parametrize("parameterization", ["full", "canonical"])
def test_compiled_equals_reference_over_hundreds_of_steps(
    method, parameterization, path, monkeypatch
):
    """Both compiled paths (dense blocks for small batches, sorted samples + prefix sums for
    large ones) against the numpy reference, every trainable subset, to 1e-10."""
    if path == "sorted":
        monkeypatch.setattr(_kernels, "_DENSE_MAX", 0)
    net, data = small_problem(m=60, s=30)
    subsets = FULL_SUBSETS if parameterization == "full" else CANONICAL_SUBSETS
    extra = dict(tv_penalty=0.5) if parameterization == "canonical" else {}
    for trainable in subsets:
        kwargs = dict(
            method=method,
            steps=300,
            record_every=30,
            trainable=trainable,
            seed=5,
            progress=False,
            parameterization=parameterization,
            **METHOD_SETTINGS[method],
            **extra,
        )
        ref = r1.train(net, data, backend="numpy", **kwargs)
        fast = r1.train(net, data, backend="numba", **kwargs)
        assert_same_run(ref, fast, 1e-10)
        assert ref.loss[-1] != ref.loss[0]  # the run moved


@pytest.mark.parametrize(
    "parameterization, subsets", [("full", FULL_SUBSETS), ("canonical", CANONICAL_SUBSETS)]
)
def test_grouped_path_equals_reference_with_knots_crossing(parameterization, subsets, monkeypatch):
    """The grouped-by-knot-interval path (full batch, no noise) against the reference,
    forced on a small problem whose knots cross samples, every trainable subset."""
    calls = []
    monkeypatch.setattr(_kernels, "_use_segments", lambda m, size: calls.append(m) or True)
    net, data = small_problem(m=80, s=10, seed=2)
    for trainable in subsets:
        kwargs = dict(
            method="gd",
            lr=3e-2,
            steps=400,
            record_every=40,
            trainable=trainable,
            progress=False,
            parameterization=parameterization,
            weight_decay=0.01,
        )
        ref = r1.train(net, data, backend="numpy", **kwargs)
        fast = r1.train(net, data, backend="numba", **kwargs)
        assert_same_run(ref, fast, 1e-10)
        knots0, knots1 = ref.snapshots.network(0).knots, ref.network.knots
        crossed = np.searchsorted(data.x, knots0) != np.searchsorted(data.x, knots1)
        assert "a" not in trainable and "b" not in trainable or np.any(crossed)
    assert calls


def test_grouped_path_is_chosen_at_large_width_and_bits_do_not_depend_on_record_every():
    assert _kernels._use_segments(10_000, 10)
    net, data = small_problem(m=2000, s=10, seed=4)
    kwargs = dict(method="gd", lr=1e-2, steps=600, progress=False, max_snapshots=None)
    every_step = r1.train(net, data, record_every=1, **kwargs)
    at_end = r1.train(net, data, record_every=600, **kwargs)
    for name in "abc":
        np.testing.assert_array_equal(
            getattr(every_step.network, name), getattr(at_end.network, name)
        )
    ref = r1.train(net, data, record_every=600, backend="numpy", **kwargs)
    assert_same_run(ref, at_end, 1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(1, 30),
    s=st.integers(1, 120),
    seed=st.integers(0, 10**6),
    method=st.sampled_from(["gd", "sgd", "langevin"]),
    parameterization=st.sampled_from(["full", "canonical"]),
    zero_a=st.booleans(),
)
def test_compiled_equals_reference_on_random_shapes(m, s, seed, method, parameterization, zero_a):
    """Random widths, sample counts (both sides of the dense/sorted threshold), batch
    sizes, and neurons with a = 0 (no knot)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, m))
    if zero_a:
        a[: (m + 1) // 2] = 0.0
    net = r1.Network(a, b, c, alpha=float(np.sqrt(m)))
    data = r1.Dataset(rng.uniform(-2, 2, s), rng.normal(size=s))
    # the sum loss's curvature grows like s: keep lr·s bounded so no example diverges
    kwargs = dict(
        method=method,
        lr=1e-2 * min(1.0, 10.0 / s),
        steps=120,
        record_every=40,
        seed=seed,
        progress=False,
        parameterization=parameterization,
    )
    if method != "gd":
        kwargs["batch_size"] = int(rng.integers(1, data.s + 1))
    if method == "langevin":
        kwargs["temperature"] = 1e-3
    ref = r1.train(net, data, backend="numpy", **kwargs)
    fast = r1.train(net, data, **kwargs)
    scale = 1 + np.max(np.abs(ref.snapshots.c))
    assert_same_run(ref, fast, 1e-10 * scale)


def test_compiled_equals_reference_with_knots_exactly_on_data_points(monkeypatch):
    data = r1.datasets.sinusoid(12, seed=3)
    k = np.arange(12)
    net = r1.Network(np.where(k % 2, 1.0, -2.0), np.where(k % 2, 1.0, -2.0) * data.x, 0.3 + 0.1 * k)
    for dense_max in (48, 0):
        monkeypatch.setattr(_kernels, "_DENSE_MAX", dense_max)
        kwargs = dict(lr=1e-3, steps=200, record_every=20, progress=False, trainable="c")
        assert_same_run(
            r1.train(net, data, backend="numpy", **kwargs), r1.train(net, data, **kwargs), 1e-12
        )


def test_compiled_equals_reference_with_width_scaling_and_uneven_batches():
    net, data = small_problem(m=30, s=11)
    kwargs = dict(
        method="sgd",
        lr=1e-3,
        steps=200,
        batch_size=4,
        lr_scale="width",
        loss="mean",
        seed=2,
        progress=False,
        record_every=20,
    )
    assert_same_run(
        r1.train(net, data, backend="numpy", **kwargs), r1.train(net, data, **kwargs), 1e-10
    )


# ----------------------------------------------------------------------------- randomness
def test_langevin_at_zero_temperature_and_decay_is_sgd_bit_for_bit():
    net, data = small_problem()
    for backend in ("numba", "numpy"):
        kw = dict(
            lr=1e-2,
            steps=200,
            batch_size=3,
            seed=4,
            progress=False,
            record_every=10,
            backend=backend,
        )
        sgd = r1.train(net, data, method="sgd", **kw)
        lan = r1.train(net, data, method="langevin", temperature=0.0, weight_decay=0.0, **kw)
        np.testing.assert_array_equal(sgd.loss, lan.loss)
        np.testing.assert_array_equal(sgd.snapshots.c, lan.snapshots.c)


def test_same_seed_same_bits_and_different_seed_different_noise_and_batches():
    net, data = small_problem()
    kw = dict(lr=1e-2, steps=100, batch_size=2, progress=False)
    for method, extra in (("sgd", {}), ("langevin", dict(temperature=1e-2))):
        one = r1.train(net, data, method=method, seed=7, **kw, **extra)
        two = r1.train(net, data, method=method, seed=7, **kw, **extra)
        other = r1.train(net, data, method=method, seed=8, **kw, **extra)
        gen = r1.train(net, data, method=method, seed=np.random.default_rng(7), **kw, **extra)
        np.testing.assert_array_equal(one.network.a, two.network.a)
        np.testing.assert_array_equal(one.network.a, gen.network.a)
        assert not np.array_equal(one.network.a, other.network.a)


def test_each_epoch_uses_every_sample_once():
    batches = _api._Batches(7, 3, np.random.default_rng(0))
    idx, lens = batches.take(3 * 4)  # four epochs of ⌈7/3⌉ = 3 steps
    assert list(lens) == [3, 3, 1] * 4
    for epoch in range(4):
        seen = np.concatenate([idx[k, :lens[k]] for k in range(3 * epoch, 3 * epoch + 3)])
        assert sorted(seen) == list(range(7))
        assert all(np.all(np.diff(idx[k, :lens[k]]) > 0) for k in range(3 * epoch, 3 * epoch + 3))
    # drawing in chunks gives the same stream as drawing at once
    again = _api._Batches(7, 3, np.random.default_rng(0))
    parts = [again.take(n) for n in (1, 5, 6)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), idx)


def test_full_batch_sgd_is_gd():
    net, data = small_problem()
    kw = dict(lr=1e-2, steps=100, progress=False)
    gd = r1.train(net, data, method="gd", **kw)
    sgd = r1.train(net, data, method="sgd", batch_size=data.s, **kw)
    np.testing.assert_array_equal(gd.network.c, sgd.network.c)


def test_langevin_noise_has_the_documented_variance():
    """With no gradient (every neuron inactive on the data) and λ = 0, c performs a
    random walk: c_T − c_0 = √(2·lr_eff·T)·Σ ξ, variance 2·lr_eff·T·steps."""
    m, steps, lr, temp = 4000, 50, 1e-2, 0.5
    net = r1.Network(np.zeros(m), np.ones(m), np.zeros(m))  # [0·x − 1]₊ = 0 everywhere
    data = r1.datasets.sinusoid(5)
    for scale, lr_eff in (("none", lr), ("width", lr * m)):
        traj = r1.train(
            net,
            data,
            method="langevin",
            lr=lr,
            steps=steps,
            trainable="c",
            temperature=temp,
            lr_scale=scale,
            seed=1,
            progress=False,
        )
        moved = traj.network.c / np.sqrt(2 * lr_eff * temp * steps)
        # sample variance of m standard normals: standard error √(2/m) ≈ 0.022
        assert abs(np.var(moved) - 1) < 5 * np.sqrt(2 / m)
        assert abs(np.mean(moved)) < 5 / np.sqrt(m)


def test_shevchenko_update_written_literally_matches_mapped_options():
    """Shevchenko et al.'s noisy SGD, particle by particle in their variables, against
    train(method="langevin", batch_size=1, lr=2s, lr_scale="width", weight_decay=λ/N,
    temperature=1/(2Nβ)) with α = N, with the same samples and the same noise."""
    n_particles, step, lam, beta, seed, n_steps = 7, 0.05, 0.3, 20.0, 11, 25
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, n_particles))
    data = r1.Dataset([-1.0, -0.3, 0.2, 0.9, 1.4], [0.5, -0.2, 0.1, 0.7, -0.4])
    net = r1.Network(a, b, c, alpha=n_particles)
    traj = r1.train(
        net,
        data,
        method="langevin",
        batch_size=1,
        lr=2 * step,
        lr_scale="width",
        weight_decay=lam / n_particles,
        temperature=1 / (2 * n_particles * beta),
        steps=n_steps,
        seed=seed,
        record_every=1,
        progress=False,
    )

    # their particles θᵢ = (aᵢ, wᵢ, bᵢ) = our (cᵢ, aᵢ, −bᵢ); samples and noise from the
    # documented streams
    theta = np.column_stack((c, a, -b))
    batch_rng, _ = np.random.default_rng(seed).spawn(2)
    order = []
    while len(order) < n_steps:
        order.extend(batch_rng.permutation(data.s))
    for t in range(n_steps):
        xi = langevin_noise(seed, n_particles, rows=3, start=t)[0]   # rows: our a, b, c
        g = np.column_stack((xi[2], xi[0], -xi[1]))               # their (a, w, b)
        xj, yj = data.x[order[t]], data.y[order[t]]
        y_hat = sum(p[0] * max(p[1] * xj + p[2], 0.0) for p in theta) / n_particles
        new = np.empty_like(theta)
        for i, (ai, wi, bi) in enumerate(theta):
            on = 1.0 if wi * xj + bi > 0 else 0.0
            grad_sigma = np.array([max(wi * xj + bi, 0.0), ai * xj * on, ai * on])
            new[i] = (1 - 2 * lam * step) * theta[i] + 2 * step * (yj - y_hat) * grad_sigma \
                + np.sqrt(2 * step / beta) * g[i]
        theta = new
        np.testing.assert_allclose(traj.snapshots.c[t + 1], theta[:, 0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(traj.snapshots.a[t + 1], theta[:, 1], rtol=0, atol=1e-10)
        np.testing.assert_allclose(traj.snapshots.b[t + 1], -theta[:, 2], rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- options
def test_mean_loss_is_sum_loss_with_lr_divided_by_s():
    net, data = small_problem(s=8)
    summed = r1.train(net, data, lr=1e-2, steps=200, progress=False)
    mean = r1.train(net, data, lr=1e-2 * 8, steps=200, loss="mean", progress=False)
    np.testing.assert_allclose(mean.network.a, summed.network.a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mean.loss * 8, summed.loss, rtol=1e-12)


def test_width_scaling_multiplies_the_step_by_m():
    net, data = small_problem(m=40)
    scaled = r1.train(net, data, lr=1e-4, steps=100, lr_scale="width", progress=False)
    plain = r1.train(net, data, lr=1e-4 * 40, steps=100, progress=False)
    np.testing.assert_array_equal(scaled.network.c, plain.network.c)
    np.testing.assert_allclose(scaled.times, 1e-4 * scaled.steps)


def test_weight_decay_is_in_the_update_and_the_recorded_loss():
    net, data = small_problem()
    traj = r1.train(net, data, lr=1e-2, steps=50, weight_decay=0.2, trainable="bc", progress=False,
                    backend="numpy")
    final = traj.network
    data_term = 0.5 * np.sum((final(data.x) - data.y) ** 2)
    np.testing.assert_allclose(traj.data_loss[-1], data_term, rtol=1e-12)
    np.testing.assert_allclose(
        traj.loss[-1], data_term + 0.1 * (final.b @ final.b + final.c @ final.c), rtol=1e-12
    )
    np.testing.assert_array_equal(final.a, net.a)  # a was not trained


def test_canonical_runs_keep_the_initial_invariants_and_store_r_theta():
    net, data = small_problem(m=30)
    traj = r1.train(
        net, data, lr=1e-2, steps=200, parameterization="canonical", progress=False, record_every=50
    )
    for k in range(len(traj.snapshots)):
        snap = traj.snapshots.network(k)
        np.testing.assert_allclose(snap.invariants(), net.invariants(), atol=1e-12)
        r, theta = snap.canonical()
        np.testing.assert_allclose(r, traj.snapshots.r[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.cos(theta), np.cos(traj.snapshots.theta[k]), atol=1e-10)
    np.testing.assert_allclose(traj.delta, net.invariants())
    # the function is that of the canonical point: f̃ = f
    r, theta = traj.snapshots.r[-1], traj.snapshots.theta[-1]
    f_tilde = np.maximum(np.multiply.outer(data.x, np.cos(theta)) + np.sin(theta), 0) @ r / net.m
    np.testing.assert_allclose(traj.network(data.x), f_tilde, atol=1e-12)
    np.testing.assert_allclose(
        traj.data_loss[-1], 0.5 * np.sum((f_tilde - data.y) ** 2), rtol=1e-10
    )


def test_tv_penalty_is_a_proximal_step_that_zeroes_small_r():
    net, data = small_problem(m=50)
    traj = r1.train(net, data, lr=1e-2, steps=300, parameterization="canonical", tv_penalty=20.0,
                    progress=False)
    r = traj.snapshots.r[-1]
    assert 0 < np.sum(r == 0.0) < r.size
    np.testing.assert_allclose(traj.loss[-1] - traj.data_loss[-1], 20.0 * np.sum(np.abs(r)) / 50)
    # one step is the soft threshold of the gradient step: r ← sign(z)·max(|z| − lr·κ/m, 0)
    from relu1d.train._reference import canonical_loss_and_grad

    tiny = r1.Network.from_canonical([1e-6, 2.0], [0.3, 1.0], -0.5, alpha=1.0)
    r0, theta0 = tiny.canonical()
    _, grad_r, _ = canonical_loss_and_grad(r0, theta0, data.x, data.y)
    z = r0 - 1e-3 * grad_r
    expected = np.sign(z) * np.maximum(np.abs(z) - 1e-3 * 100.0 / 2, 0.0)
    for backend in ("numba", "numpy"):
        one = r1.train(tiny, data, lr=1e-3, steps=1, parameterization="canonical", tv_penalty=100.0,
                       trainable="r", progress=False, backend=backend)
        np.testing.assert_allclose(one.snapshots.r[-1], expected, rtol=1e-12)
        assert one.snapshots.r[-1][0] == 0.0 and one.snapshots.r[-1][1] != 0.0


# ----------------------------------------------------------------------------- recording
def test_record_plans_and_snapshot_thinning():
    net, data = small_problem(m=5)
    traj = r1.train(net, data, steps=1005, record_every=100, progress=False)
    assert list(traj.steps) == list(range(0, 1001, 100)) + [1005]
    logt = r1.train(net, data, steps=10_000, record="log", progress=False, max_snapshots=None)
    assert logt.steps[0] == 0 and logt.steps[-1] == 10_000 and np.all(np.diff(logt.steps) > 0)
    late = logt.steps[logt.steps >= 100].astype(float)
    np.testing.assert_allclose(late[1:] / late[:-1], 10 ** (1 / 20), rtol=0.01)  # 20 per decade
    assert set(range(11)) <= set(logt.steps)  # early on, every step
    explicit = r1.train(net, data, steps=50, record=[3, 7, 7, 20], progress=False)
    assert list(explicit.steps) == [0, 3, 7, 20, 50]
    thin = r1.train(net, data, steps=1000, record_every=1, max_snapshots=10, progress=False)
    assert thin.loss.size == 1001
    expected = np.unique(np.round(np.linspace(0, 1000, 10)).astype(int))
    np.testing.assert_array_equal(thin.snapshots.steps, expected)
    every = r1.train(net, data, steps=1000, record_every=1, max_snapshots=None, progress=False)
    np.testing.assert_array_equal(thin.snapshots.c, every.snapshots.c[expected])
    np.testing.assert_array_equal(thin.network.c, every.network.c)
    zero = r1.train(net, data, steps=0, progress=False)
    assert list(zero.steps) == [0] and np.array_equal(zero.network.a, net.a)


def test_recorded_loss_is_the_loss_of_the_snapshot():
    net, data = small_problem()
    traj = r1.train(net, data, lr=1e-2, steps=100, record_every=25, progress=False)
    for k in range(len(traj.snapshots)):
        f = traj.snapshots.network(k)(data.x)
        np.testing.assert_allclose(traj.loss[k], 0.5 * np.sum((f - data.y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(traj.times, 1e-2 * traj.steps)


def test_save_load_round_trip_and_xarray_layout(tmp_path):
    net, data = small_problem(m=12)
    for param in ("full", "canonical"):
        traj = r1.train(
            net,
            data,
            lr=1e-2,
            steps=40,
            record_every=10,
            progress=False,
            parameterization=param,
            method="langevin",
            temperature=1e-4,
            batch_size=3,
        )
        ds = traj.to_xarray()
        assert ds["a"].dims == ("step", "neuron") and ds["a"].shape == (5, 12)
        assert ds["loss"].dims == ("record_step",)
        path = traj.save(tmp_path / f"{param}.nc")
        assert not (tmp_path / f"{param}.nc.tmp").exists()
        back = r1.Trajectory.load(path)
        assert_same_run(traj, back, 0.0)
        np.testing.assert_array_equal(back.network.b, traj.network.b)
        assert back.options == traj.options and back.method == "langevin"
        assert back.parameterization == param
    with pytest.raises(ValueError, match="not a file"):
        r1.Trajectory.load(tmp_path / "missing.nc")


# ----------------------------------------------------------------------------- faults
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_divergence_raises_with_the_partial_trajectory(backend):
    net, data = small_problem(m=20)
    with pytest.raises(r1.TrainingDiverged) as info:
        # only c trains: the loss is quadratic and GD with too large a step grows geometrically
        r1.train(
            net,
            data,
            lr=5.0,
            steps=1000,
            trainable="c",
            record_every=7,
            progress=False,
            backend=backend,
        )
    err = info.value
    assert isinstance(err, RuntimeError)
    assert "step" in str(err) and "lr = 5" in str(err) and "smaller lr" in str(err)
    assert err.lr == 5.0 and np.isfinite(err.last_loss) and err.step == 205
    traj = err.trajectory
    assert traj.steps[-1] == 203 and np.all(np.isfinite(traj.loss))
    assert np.all(np.isfinite(traj.snapshots.c)) and np.array_equal(
        traj.network.c, traj.snapshots.c[-1]
    )


def test_keyboard_interrupt_returns_the_partial_trajectory(monkeypatch):
    net, data = small_problem(m=10)
    calls = {"n": 0}
    original = _api._Engine.advance

    def interrupt_on_third(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(_api._Engine, "advance", interrupt_on_third)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        traj = r1.train(
            net, data, lr=1e-2, steps=100, record_every=10, progress=False, max_snapshots=3
        )
    assert traj.interrupted and list(traj.steps) == [0, 10, 20]
    assert traj.snapshots.steps[-1] == 20
    np.testing.assert_array_equal(traj.network.c, traj.snapshots.c[-1])


def test_progress_bar_runs_and_stays_off_without_a_terminal(capsys):
    net, data = small_problem(m=5)
    r1.train(net, data, steps=20, progress=True)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- flow glue
def test_flow_calls_integrate_flow_at_the_gd_record_times(monkeypatch):
    net, data = small_problem(m=6)
    seen = {}

    def integrate_flow(
        net_,
        data_,
        record_times,
        *,
        trainable,
        weight_decay,
        rtol,
        atol,
        parameterization,
        progress,
    ):
        seen.update(times=np.array(record_times), trainable=trainable, rtol=rtol)
        n = len(record_times)
        scale = 1 + np.arange(n)[:, None] * 1e-3
        return types.SimpleNamespace(
            a=net_.a * scale,
            b=np.tile(net_.b, (n, 1)),
            c=np.tile(net_.c, (n, 1)),
            loss=np.zeros(n),
            stats={"evaluations": 7},
        )

    fake = types.ModuleType("relu1d.train._flow")
    fake.integrate_flow = integrate_flow
    monkeypatch.setitem(sys.modules, "relu1d.train._flow", fake)
    traj = r1.train(
        net,
        data,
        method="flow",
        lr=0.01,
        steps=250,
        record_every=100,
        trainable="ab",
        rtol=1e-6,
        progress=False,
    )
    np.testing.assert_allclose(seen["times"], [0, 1.0, 2.0, 2.5])
    assert seen["trainable"] == "ab" and seen["rtol"] == 1e-6
    np.testing.assert_allclose(traj.network.a, net.a * (1 + 3e-3))
    assert traj.stats == {"evaluations": 7}
    f = traj.network(data.x)
    np.testing.assert_allclose(traj.data_loss[-1], 0.5 * np.sum((f - data.y) ** 2))


def test_flow_without_its_module_raises_not_implemented(monkeypatch):
    monkeypatch.setitem(sys.modules, "relu1d.train._flow", None)  # import fails
    net, data = small_problem(m=4)
    with pytest.raises(NotImplementedError, match="integrate_flow"):
        r1.train(net, data, method="flow", steps=10, progress=False)


# ----------------------------------------------------------------------------- train_many
def test_train_many_equals_one_by_one():
    data = r1.datasets.sinusoid(10)
    nets = [r1.init_network(50, seed=k) for k in range(3)]
    kw = dict(method="langevin", lr=1e-2, steps=200, batch_size=4, temperature=1e-3)
    many = r1.train_many(nets, data, seed=[1, 2, 3], **kw)
    for net, sd, traj in zip(nets, [1, 2, 3], many):
        alone = r1.train(net, data, seed=sd, progress=False, **kw)
        np.testing.assert_array_equal(traj.loss, alone.loss)
        np.testing.assert_array_equal(traj.network.a, alone.network.a)
    with pytest.raises(ValueError, match="one per network"):
        r1.train_many(nets, data, seed=[1, 2])
    with pytest.raises(ValueError, match="at least one"):
        r1.train_many([], data)


# ----------------------------------------------------------------------------- bad input
BAD_INPUTS = [
    (dict(method="adam"), ValueError, "'gd', 'flow', 'sgd', 'langevin'"),
    (dict(lr=0.0), ValueError, "lr must be > 0"),
    (dict(lr=-1), ValueError, "lr must be > 0"),
    (dict(lr=float("nan")), ValueError, "lr must be finite"),
    (dict(lr="big"), TypeError, "lr must be a real number"),
    (dict(steps=-1), ValueError, "steps must be >= 0"),
    (dict(steps=2.5), TypeError, "steps must be an integer"),
    (dict(trainable=""), ValueError, "non-empty subset of 'abc'"),
    (dict(trainable="abd"), ValueError, "non-empty subset of 'abc'"),
    (dict(trainable="aa"), ValueError, "without repeats"),
    (dict(trainable=["a"]), TypeError, "trainable must be a string"),
    (dict(trainable="a", parameterization="canonical"), ValueError, "subset of 'rt'"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (dict(temperature=-1.0, method="langevin"), ValueError, "temperature must be >= 0"),
    (dict(temperature=0.1, method="sgd"), ValueError, "needs method='langevin'"),
    (dict(batch_size=0, method="sgd"), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=11, method="sgd"), ValueError, "between 1 and the number of samples s = 10"),
    (dict(batch_size=3, method="gd"), ValueError, "needs method='sgd' or 'langevin'"),
    (dict(record_every=0), ValueError, "record_every must be >= 1"),
    (dict(record="linear"), ValueError, "record must be one of 'log'"),
    (dict(record=[5, 200]), ValueError, "integer steps in"),
    (dict(seed=-1), ValueError, "seed must be a non-negative int"),
    (dict(seed="x"), TypeError, "seed must be an int"),
    (dict(progress="yes"), TypeError, "progress must be True or False"),
    (dict(parameterization="polar"), ValueError, "'full', 'canonical'"),
    (dict(rtol=0.0, method="flow"), ValueError, "rtol must be > 0"),
    (dict(atol=-1.0, method="flow"), ValueError, "atol must be > 0"),
    (dict(rtol=1e-6), ValueError, "rtol=1e-06 is an error tolerance of method='flow'"),
    (dict(atol=1e-6, method="sgd"), ValueError, "method='sgd' takes none: leave atol out"),
    (dict(method=1), TypeError,
     "method must be one of 'gd', 'flow', 'sgd', 'langevin' or a method object"),
    (dict(method=r1.GD(), temperature=0.1), ValueError, "GD has no temperature"),
    (dict(method=r1.SGD(3), batch_size=3), ValueError,
     "set it in the object: method=SGD(..., batch_size=3)"),
    (dict(method=r1.Langevin(0.1), rtol=1e-6), ValueError, "Langevin has no rtol"),
    (dict(method=r1.SGD(11)), ValueError,
     "SGD.batch_size must be between 1 and the number of samples s = 10"),
    (dict(method=r1.Flow(), loss="mean"), ValueError, "not supported with method='flow'"),
    (dict(max_snapshots="some"), ValueError,
     "max_snapshots must be an integer >= 2, 'all' or None"),
    (dict(loss="max"), ValueError, "'sum', 'mean'"),
    (dict(lr_scale="depth"), ValueError, "'none', 'width'"),
    (dict(tv_penalty=1.0), ValueError, "tv_penalty needs parameterization='canonical'"),
    (dict(tv_penalty=-1.0, parameterization="canonical"), ValueError, "tv_penalty must be >= 0"),
    (dict(method="flow", loss="mean"), ValueError, "not supported with method='flow'"),
    (dict(method="flow", lr_scale="width"), ValueError, "not supported with method='flow'"),
    (dict(max_snapshots=1), ValueError, "max_snapshots must be >= 2"),
    (dict(backend="torch"), ValueError, "'numba', 'numpy'"),
]


@pytest.mark.parametrize("kwargs, exc, message", BAD_INPUTS)
def test_bad_input_is_refused_with_a_clear_message(kwargs, exc, message):
    net, data = small_problem(m=5)
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        r1.train(
            net,
            data,
            steps=kwargs.pop("steps", 100),
            progress=kwargs.pop("progress", False),
            **kwargs,
        )


def test_an_infinite_initial_loss_is_refused():
    net = r1.init_network(5, seed=0)
    huge = r1.Dataset([0.0, 0.5, 1.0], [1e200, -1e200, 1e200])
    with pytest.raises(ValueError, match="initial network on the data is not finite"):
        r1.train(net, huge, steps=10, progress=False)


def test_bad_network_or_data_type():
    net, data = small_problem(m=5)
    with pytest.raises(TypeError, match="net must be a relu1d.Network"):
        r1.train((net.a, net.b, net.c), data)
    with pytest.raises(TypeError, match="data must be a relu1d.Dataset"):
        r1.train(net, (data.x, data.y))


def test_segment_path_applies_the_tv_soft_threshold(monkeypatch):
    """The grouped-by-knot-interval path, forced, with ``tv_penalty``: against the numpy reference
    (every canonical subset), and a run long enough that the threshold zeroes some r exactly."""
    calls = []
    monkeypatch.setattr(_kernels, "_use_segments", lambda m, size: calls.append(m) or True)
    net, data = small_problem(m=60, s=10, seed=3)
    for trainable in CANONICAL_SUBSETS:
        kwargs = dict(
            method="gd",
            lr=1e-2,
            steps=300,
            record_every=30,
            trainable=trainable,
            progress=False,
            parameterization="canonical",
            tv_penalty=20.0,
        )
        ref = r1.train(net, data, backend="numpy", **kwargs)
        fast = r1.train(net, data, backend="numba", **kwargs)
        assert_same_run(ref, fast, 1e-10)
        zeros = int(np.sum(fast.snapshots.r[-1] == 0.0))
        assert ("r" in trainable) == (zeros > 0), (trainable, zeros)
    assert calls


# ----------------------------------------------------------------------------- method objects
@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("shorthand, method", [
    (dict(method="gd"), r1.GD()),
    (dict(method="sgd", batch_size=3), r1.SGD(batch_size=3)),
    (dict(method="sgd"), r1.SGD()),
    (dict(method="langevin", temperature=1e-3, batch_size=4),
     r1.Langevin(temperature=1e-3, batch_size=4)),
    (dict(method="langevin", temperature=1e-3), r1.Langevin(1e-3)),
    (dict(method="flow", rtol=1e-7, atol=1e-9), r1.Flow(rtol=1e-7, atol=1e-9)),
])
def test_a_method_object_is_its_shorthand_bit_for_bit(shorthand, method, backend):
    net, data = small_problem(m=12)
    kw = dict(lr=1e-2, steps=60, record_every=20, seed=3, progress=False, weight_decay=0.01,
              backend=backend)
    by_name = r1.train(net, data, **shorthand, **kw)
    by_object = r1.train(net, data, method=method, **kw)
    np.testing.assert_array_equal(by_name.loss, by_object.loss)
    for name in "abc":
        np.testing.assert_array_equal(getattr(by_name.snapshots, name),
                                      getattr(by_object.snapshots, name))
    assert by_object.options == by_name.options and by_object.method == method.kind
    assert by_name.loss[-1] != by_name.loss[0]  # the run moved


def test_method_objects_are_validated_at_construction():
    for make, message in [(lambda: r1.Flow(rtol=0.0), "Flow.rtol must be > 0"),
                          (lambda: r1.Flow(atol="x"), "Flow.atol must be a real number"),
                          (lambda: r1.SGD(batch_size=0), "SGD.batch_size must be >= 1"),
                          (lambda: r1.Langevin(temperature=-1.0),
                           "Langevin.temperature must be >= 0"),
                          (lambda: r1.Langevin(1e-3, batch_size=2.5),
                           "Langevin.batch_size must be an integer")]:
        with pytest.raises((ValueError, TypeError), match=message):
            make()
    assert r1.Langevin(1e-3, 2) == r1.Langevin(temperature=1e-3, batch_size=2.0)
    with pytest.raises(AttributeError):
        r1.Flow().rtol = 1.0  # frozen
    assert {"GD", "Flow", "SGD", "Langevin"} <= set(r1.__all__)
    from relu1d.train import Method

    assert all(issubclass(cls, Method) for cls in (r1.GD, r1.Flow, r1.SGD, r1.Langevin))


def test_everything_after_data_is_keyword_only():
    net, data = small_problem(m=4)
    with pytest.raises(TypeError, match="positional"):
        r1.train(net, data, "gd")
    import inspect

    params = list(inspect.signature(r1.train).parameters.values())
    assert [p.name for p in params[:2]] == ["net", "data"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:])


def test_max_snapshots_all_keeps_every_record_point():
    net, data = small_problem(m=4)
    kw = dict(lr=1e-2, steps=300, record_every=1, progress=False)
    every = r1.train(net, data, max_snapshots="all", **kw)
    assert len(every.snapshots) == 301 and every.options["max_snapshots"] is None
    none = r1.train(net, data, max_snapshots=None, **kw)
    np.testing.assert_array_equal(every.snapshots.c, none.snapshots.c)


def test_train_many_takes_method_objects():
    data = r1.datasets.sinusoid(8)
    nets = [r1.init_network(10, seed=k) for k in range(2)]
    many = r1.train_many(nets, data, method=r1.Langevin(1e-3, 2), lr=1e-2, steps=40, seed=[1, 2])
    for net, sd, traj in zip(nets, [1, 2], many):
        alone = r1.train(net, data, method="langevin", temperature=1e-3, batch_size=2, lr=1e-2,
                         steps=40, seed=sd, progress=False)
        np.testing.assert_array_equal(traj.network.a, alone.network.a)

